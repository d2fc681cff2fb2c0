/*
 * The Fortanix store's start-up (backend.h): its settings in the agent's
 * slice, tls.ca read and checked before the privilege drop, and the HTTPS
 * client and KES's connect handshake made after it, before the filter.
 *
 * The settings carry the tls.ca path, not its contents: the agent reads
 * it as root in prepare() and hands the PEM to the HTTPS client in
 * memory. As in KES, a tls.ca replaces the system's roots; a file must
 * hold at least one PEM certificate, and every regular file of a
 * directory must (§4.1).
 *
 * The handshake (§4.3): GET /sys/v1/health must answer 204, POST
 * /sys/v1/session/auth with the API key 200 with an access token, and
 * POST /sys/v1/session/terminate with that token 204. The token is then
 * dropped (wiped); every later call sends the API key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/fortanix.h"
#include "keystore-agent/fortanix_json.h"
#include "keystore-agent/fortanix_parse.h"
#include "keystore-agent/kes_http.h"

struct fortanix fx_state;

/* Settings: str endpoint, str group_id, str API key, str tls.ca; an
 * unset string is "". */
static int
fx_settings_put(struct buf *b, const void *conf)
{
	const struct fortanix_conf *c = conf;

	if ((buf_put_str(b, c->endpoint) |
	    buf_put_str(b, c->group_id != NULL ? c->group_id : "") |
	    buf_put_str(b, c->key) | buf_put_str(b, c->ca != NULL ? c->ca :
	    "")) != 0)
		return -1;
	return 0;
}

static void
settings_free(struct fx_settings *s)
{
	freezero_str(s->endpoint);
	freezero_str(s->group_id);
	freezero_str(s->key);
	freezero_str(s->ca);
	memset(s, 0, sizeof(*s));
}

static int
settings_read(struct buf *b, struct fx_settings *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (buf_get_strdup(b, &s->endpoint) == -1 ||
	    buf_get_strdup(b, &s->group_id) == -1 ||
	    buf_get_strdup(b, &s->key) == -1 ||
	    buf_get_strdup(b, &s->ca) == -1) {
		snprintf(err, errlen, "malformed settings");
		goto fail;
	}
	if (s->endpoint[0] == '\0' || !kes_http_printable(s->endpoint)) {
		snprintf(err, errlen, "fortanix: no endpoint specified, or one "
		    "with blanks or control characters");
		goto fail;
	}
	if (s->key[0] == '\0' || !kes_http_printable(s->key) ||
	    strlen(s->key) > FX_TOKEN_MAX) {
		snprintf(err, errlen, "fortanix: no API key specified, or one "
		    "with blanks or control characters");
		goto fail;
	}
	return 0;
 fail:
	settings_free(s);
	return -1;
}

static int
fx_settings(struct buf *b, char *err, size_t errlen)
{
	struct fortanix	*fx = &fx_state;
	const uint8_t	*start = buf_ptr(b);

	settings_free(&fx->s);
	if (settings_read(b, &fx->s, err, errlen) == -1)
		return -1;
	if (fx->raw != NULL)
		freezero(fx->raw, fx->rawlen);
	fx->rawlen = (size_t)(buf_ptr(b) - start);
	fx->raw = xmemdup(start, fx->rawlen);
	return 0;
}

/* A new endpoint, key, group or CA takes a restart, as the other
 * stores'. */
static int
fx_reload(struct buf *b, char *err, size_t errlen)
{
	struct fortanix		*fx = &fx_state;
	struct fx_settings	 ns;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (settings_read(b, &ns, err, errlen) == -1)
		return -1;
	settings_free(&ns);
	len = (size_t)(buf_ptr(b) - start);
	if (len != fx->rawlen || memcmp(start, fx->raw, len) != 0) {
		snprintf(err, errlen, "the Fortanix settings cannot change "
		    "without a restart");
		return -1;
	}
	return 0;
}

static int
fx_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	return kes_http_ca("fortanix", fx_state.s.ca, &fx_state.ca,
	    &fx_state.ca_len, err, errlen);
}

/* --- the connect handshake --- */

enum hstage { H_HEALTH, H_AUTH, H_TERMINATE };

struct handshake {
	enum hstage	 stage;
	bool		 done;
	int		 rc;
	char		*token;
	struct net_req	*req;
	char		 err[1024];
};

static void	hs_answer(struct net_req *, const struct net_resp *, void *);

static void
hs_send(struct fortanix *fx, struct handshake *h)
{
	static const char *const paths[] = {
		"/sys/v1/health", "/sys/v1/session/auth",
		"/sys/v1/session/terminate"
	};

	h->req = fx_send(fx, &fx_connect_policy, h->stage == H_HEALTH ? "GET" :
	    "POST", paths[h->stage], h->stage == H_TERMINATE ? h->token : NULL,
	    h->stage == H_AUTH, NULL, hs_answer, h);
}

static void
hs_fail(struct handshake *h, const char *what, const struct net_resp *r)
{
	char msg[256];

	if (r->fail != NET_OK)
		snprintf(h->err, sizeof(h->err), "fortanix: failed to %s '%s': "
		    "%s", what, fx_state.s.endpoint, r->detail);
	else if (r->status >= 400) {
		/* KES returns Fortanix's status and message. */
		fx_error_text(r->content_type, r->body, r->len, msg,
		    sizeof(msg));
		snprintf(h->err, sizeof(h->err), "fortanix: failed to %s '%s': "
		    "%ld: %s", what, fx_state.s.endpoint, r->status, msg);
	} else
		snprintf(h->err, sizeof(h->err), "fortanix: failed to %s '%s': "
		    "%ld", what, fx_state.s.endpoint, r->status);
	h->rc = -1;
	h->done = true;
}

static void
hs_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct handshake	*h = arg;
	char			 why[512];

	h->req = NULL;
	switch (h->stage) {
	case H_HEALTH:
		if (r->fail != NET_OK || r->status != 204) {
			hs_fail(h, "connect to", r);
			return;
		}
		h->stage = H_AUTH;
		break;
	case H_AUTH:
		if (r->fail != NET_OK) {
			hs_fail(h, "authenticate to", r);
			return;
		}
		if (r->status != 200) {
			hs_fail(h, "authenticate to", r);
			return;
		}
		if (fx_parse_auth(r->status, r->content_type, r->body, r->len,
		    &h->token, why, sizeof(why)) == -1) {
			snprintf(h->err, sizeof(h->err), "fortanix: failed to "
			    "authenticate to '%s': %s", fx_state.s.endpoint,
			    why);
			h->rc = -1;
			h->done = true;
			return;
		}
		h->stage = H_TERMINATE;
		break;
	case H_TERMINATE:
		if (r->fail != NET_OK || r->status != 204)
			hs_fail(h, "authenticate to", r);
		else
			h->done = true;
		return;
	}
	hs_send(&fx_state, h);
}

static int
handshake(struct fortanix *fx, char *err, size_t errlen)
{
	struct handshake	h = { .stage = H_HEALTH };
	uint64_t		end = ev_now() + FX_CONNECT_MS;

	hs_send(fx, &h);
	while (!h.done && ev_now() < end)
		ev_once(250);
	if (h.req != NULL)
		net_cancel(h.req);
	if (h.token != NULL)
		freezero_str(h.token);
	if (!h.done) {
		snprintf(err, errlen, "fortanix: failed to connect to '%s': no "
		    "answer within %d s", fx->s.endpoint, FX_CONNECT_MS / 1000);
		return -1;
	}
	if (h.rc == -1) {
		snprintf(err, errlen, "%s", h.err);
		return -1;
	}
	return 0;
}

/*
 * After the drop, before the filter: the helper (the resolver), the
 * HTTPS client, and the handshake, which must succeed (KES does not
 * start without it either).
 */
static int
fx_init(char *err, size_t errlen)
{
	struct fortanix	*fx = &fx_state;
	size_t		 n;

	if (kes_http_client("fortanix", fx->s.endpoint, &fx->ca, &fx->ca_len,
	    &fx->net, err, errlen) == -1)
		return -1;
	/* KES's APIKey.String(): the key as it is, as Basic credential. */
	n = strlen(fx->s.key) + 32;
	fx->auth = xmalloc(n);
	snprintf(fx->auth, n, "Authorization: Basic %s", fx->s.key);
	if (handshake(fx, err, errlen) == -1)
		return -1;
	log_info("fortanix: connected to %s", fx->s.endpoint);
	return 0;
}

const struct ks_backend ks_backend_fortanix = {
	.name = "fortanix",
	.inner = "sdkms",
	.keys = fortanix_keys,
	.parse = fortanix_parse,
	.conf_free = fortanix_conf_free,
	/* The helper, forked after the chroot would be made, reads the
	 * resolver's files through the agent's root. */
	.chroot = false,
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = fx_settings_put,
	.settings = fx_settings,
	.reload = fx_reload,
	.prepare = fx_prepare,
	.init = fx_init,
	.status = fx_op_status,
	.create = fx_op_create,
	.get = fx_op_get,
	.del = fx_op_del,
	.list = fx_op_list,
	.cancel = fx_op_cancel,
};
