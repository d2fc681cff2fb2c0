/*
 * The CipherTrust store's start-up (backend.h): its settings in the
 * agent's slice, tls.ca read and checked before the privilege drop, and
 * the HTTPS client and first authentication made after it, before the
 * filter.
 *
 * The settings carry the tls.ca path, not its contents: the agent reads
 * it as root in prepare() (so it may be root's alone) and hands the PEM to
 * the HTTPS client in memory. As in KES, a tls.ca replaces the system's
 * roots; a file must hold at least one PEM certificate, and every regular
 * file of a directory must (§2.1).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/gojson.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/ciphertrust.h"
#include "keystore-agent/ciphertrust_parse.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/pemfile.h"


struct ciphertrust ct_state = {
	.waiters = TAILQ_HEAD_INITIALIZER(ct_state.waiters),
};

/*
 * Settings: str endpoint, str refresh token, str domain, str tls.ca,
 * u64 credentials.retry in ms (0: the default). An unset string is "".
 */
static int
ct_settings_put(struct buf *b, const void *conf)
{
	const struct gemalto_conf *c = conf;

	if ((buf_put_str(b, c->endpoint) | buf_put_str(b, c->token) |
	    buf_put_str(b, c->domain) | buf_put_str(b, c->ca) |
	    buf_put_u64(b, c->retry_ms)) != 0)
		return -1;
	return 0;
}

static void
settings_free(struct ct_settings *s)
{
	free(s->endpoint);
	freezero_str(s->token);
	free(s->domain);
	free(s->ca);
	memset(s, 0, sizeof(*s));
}

/* Goes into a header or a URL: no control characters, no blanks. */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
settings_read(struct buf *b, struct ct_settings *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (buf_get_strdup(b, &s->endpoint) == -1 ||
	    buf_get_strdup(b, &s->token) == -1 ||
	    buf_get_strdup(b, &s->domain) == -1 ||
	    buf_get_strdup(b, &s->ca) == -1 ||
	    buf_get_u64(b, &s->retry_ms) == -1) {
		snprintf(err, errlen, "malformed settings");
		goto fail;
	}
	if (s->retry_ms == 0)
		s->retry_ms = CT_RETRY_DEFAULT_MS;
	if (s->endpoint[0] == '\0' || !printable(s->endpoint)) {
		snprintf(err, errlen, "no endpoint, or one with blanks or "
		    "control characters");
		goto fail;
	}
	if (s->token[0] == '\0') {
		snprintf(err, errlen, "no token");
		goto fail;
	}
	return 0;
 fail:
	settings_free(s);
	return -1;
}

static int
ct_settings(struct buf *b, char *err, size_t errlen)
{
	struct ciphertrust	*ct = &ct_state;
	const uint8_t		*start = buf_ptr(b);

	settings_free(&ct->s);
	if (settings_read(b, &ct->s, err, errlen) == -1)
		return -1;
	if (ct->raw != NULL)
		freezero(ct->raw, ct->rawlen);
	ct->rawlen = (size_t)(buf_ptr(b) - start);
	ct->raw = xmemdup(start, ct->rawlen);
	return 0;
}

/* A new endpoint, token or CA takes a restart, as the other stores'. */
static int
ct_reload(struct buf *b, char *err, size_t errlen)
{
	struct ciphertrust	*ct = &ct_state;
	struct ct_settings	 ns;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (settings_read(b, &ns, err, errlen) == -1)
		return -1;
	settings_free(&ns);
	len = (size_t)(buf_ptr(b) - start);
	if (len != ct->rawlen || memcmp(start, ct->raw, len) != 0) {
		snprintf(err, errlen, "the CipherTrust settings cannot change "
		    "without a restart");
		return -1;
	}
	return 0;
}

static int
ct_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct ciphertrust	*ct = &ct_state;
	char			 why[1200];

	if (ct->s.ca[0] == '\0')
		return 0;
	/* KES's loadCustomCAs: a file, or every file of a directory, each
	 * holding a certificate. */
	if (pemfile_read_ca(ct->s.ca, PEMFILE_EACH_CERT, &ct->ca, &ct->ca_len,
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "gemalto: tls.ca: %s", why);
		return -1;
	}
	return 0;
}

/*
 * After the drop, before the filter: the helper (the resolver), the
 * HTTPS client, and the first authentication, which must succeed (KES
 * does not start without it either).
 */
static int
ct_init(char *err, size_t errlen)
{
	struct ciphertrust	*ct = &ct_state;
	struct net_tls		 tls = { ct->ca, ct->ca_len, NULL, 0, NULL, 0 };
	char			 why[256];

	/* jansson's copies of values and tokens are wiped when freed. */
	gojson_init();
	if (helper_start(NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	if (net_global_init(why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	ct->net = net_client_new(ct->s.endpoint, &tls, false, why,
	    sizeof(why));
	free(ct->ca);
	ct->ca = NULL;
	ct->ca_len = 0;
	if (ct->net == NULL) {
		snprintf(err, errlen, "gemalto: %s: %s", ct->s.endpoint, why);
		return -1;
	}
	return ct_auth_start(ct, err, errlen);
}

const struct ks_backend ks_backend_gemalto = {
	.name = "gemalto",
	.inner = "keysecure",
	.keys = gemalto_keys,
	.parse = gemalto_parse,
	.conf_free = gemalto_conf_free,
	/* The helper, forked after the chroot would be made, reads the
	 * resolver's files through the agent's root. */
	.chroot = false,
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = ct_settings_put,
	.settings = ct_settings,
	.reload = ct_reload,
	.prepare = ct_prepare,
	.init = ct_init,
	.status = ct_op_status,
	.create = ct_op_create,
	.get = ct_op_get,
	.del = ct_op_del,
	.list = ct_op_list,
	.cancel = ct_op_cancel,
};
