/*
 * The KMIP store's version negotiation (spec/keystores-vault-ciphertrust-
 * kmip-pkcs11.md §3.3), on each new connection after its handshake:
 * Discover Versions in a header saying 1.2, listing the versions offered;
 * the first the server returns that is offered is the connection's. A
 * server that refuses that message (Invalid Message, Unsupported Protocol
 * Version, Operation Not Supported) or closes the connection on it gets
 * it again with header 1.1 (on a new connection when it closed), then is
 * spoken KMIP 1.0, which has no Discover Versions, when 1.0 is offered.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/ssl.h>

#include "common/ev.h"
#include "common/log.h"
#include "keystore-agent/kmip_int.h"

static bool
offered(const struct kmip_store *k, int32_t major, int32_t minor)
{
	size_t i;

	for (i = 0; i < k->s.nversions; i++)
		if (k->s.versions[i].major == major &&
		    k->s.versions[i].minor == minor)
			return true;
	return false;
}

/* §3.3: Discover Versions with the versions offered, highest first. */
void
kmip_discover_send(struct kconn *c)
{
	struct kmip_store	*k = c->ep->k;
	struct kmip_hdr		 h;

	memset(&h, 0, sizeof(h));
	h.version.major = 1;
	h.version.minor = c->disc_minor;
	if (k->s.username[0] != '\0') {
		h.username = k->s.username;
		h.password = k->s.password;
	}
	buf_reset(&c->out);
	if (kmip_req_discover_versions(&c->out, &h, k->s.versions,
	    k->s.nversions) == -1) {
		kmip_conn_fail(c, "cannot build Discover Versions");
		return;
	}
	c->writing = true;
	c->hdr_got = 0;
	c->total = 0;
	buf_reset(&c->in);
	kmip_conn_progress(c);
}

void
kmip_discover_done(struct kconn *c, const struct kmip_resp *r)
{
	struct kmip_store	*k = c->ep->k;
	struct kmip_version	 got[KMIP_VERSIONS_MAX];
	const struct kmip_item	*it = &r->items[0];
	const char		*hint;
	size_t			 n;

	switch (kmip_item_outcome(KMIP_OP_DISCOVER_VERSIONS, it)) {
	case KMIP_OUTCOME_OK:
		if (kmip_parse_discover_versions(it, got, KMIP_VERSIONS_MAX,
		    &n) == -1) {
			kmip_conn_fail(c, "a malformed Discover Versions "
			    "answer");
			return;
		}
		if (kmip_version_pick(got, n, k->s.versions, k->s.nversions,
		    &c->v) == -1) {
			kmip_conn_fail(c, "the server speaks none of the KMIP "
			    "versions offered (versions)");
			return;
		}
		kmip_conn_ready(c);
		return;
	case KMIP_OUTCOME_RENEGOTIATE:
		if (c->disc_minor == 2) {
			c->disc_minor = 1;
			kmip_discover_send(c);
			return;
		}
		if (offered(k, 1, 0)) {
			c->v.major = 1;
			c->v.minor = 0;
			kmip_conn_ready(c);
			return;
		}
		kmip_conn_fail(c, "the server refuses Discover Versions (%s) "
		    "and KMIP 1.0 is not offered",
		    kmip_reason_name(it->reason));
		return;
	default:
		hint = kmip_reason_hint(it->reason);
		kmip_conn_fail(c, "Discover Versions: %s: %s%s%s",
		    kmip_reason_name(it->reason), it->msg,
		    hint != NULL ? "; " : "", hint != NULL ? hint : "");
	}
}

/*
 * The server closed c. On Discover Versions (§3.3) that may be a server
 * that knows no header 1.2: once more with header 1.1 on a new
 * connection, then KMIP 1.0 (which has no Discover Versions) when
 * offered.
 */
void
kmip_conn_closed(struct kconn *c, bool middle)
{
	struct kmip_store	*k = c->ep->k;
	int32_t			 was = c->disc_minor;

	if (c->st != KC_DISCOVER) {
		c->lost = true;
		kmip_conn_fail(c, "the server closed the connection%s", middle ?
		    " in the middle of an answer" : "");
		return;
	}
	if (was == 2 || (was == 1 && offered(k, 1, 0))) {
		log_info("kmip: %s: the server closed the connection on "
		    "Discover Versions with header 1.%d; again with %s",
		    c->ep->name, was, was == 2 ? "header 1.1" : "KMIP 1.0");
		c->disc_minor = was - 1;
		if (c->io_on) {
			ev_del(&c->io);
			c->io_on = false;
		}
		SSL_free(c->ssl);
		c->ssl = NULL;
		c->addr_off = 0;
		kmip_conn_connect(c);
		return;
	}
	kmip_conn_fail(c, "the server closed the connection on Discover "
	    "Versions with header 1.2 and with 1.1%s", offered(k, 1, 0) ? "" :
	    ", and KMIP 1.0 is not offered (versions)");
}
