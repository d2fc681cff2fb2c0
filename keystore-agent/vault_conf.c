/*
 * The Vault store's start-up (backend.h): its settings in the agent's
 * slice, the TLS files read before the privilege drop, and the client and
 * first login made after it, before the filter.
 *
 * The settings carry paths, not file contents: the agent reads the TLS
 * CA, certificate and key as root in prepare() (so they may be readable
 * by root only, and the parent never holds the client key), and hands
 * them to the HTTPS client in memory. The Kubernetes JWT file is read at
 * every login by the agent's helper (helper.h), as KES re-reads it.
 * None of Vault's VAULT_* environment variables is read (keyward V9).
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
#include "keystore-agent/helper.h"
#include "keystore-agent/pemfile.h"
#include "keystore-agent/vault.h"
#include "keystore-agent/vault_parse.h"

#define PING_DEFAULT_MS	15000		/* KES's code; its docs say 10 s */

struct vault vault_state = {
	.waiters = TAILQ_HEAD_INITIALIZER(vault_state.waiters),
	.gets = TAILQ_HEAD_INITIALIZER(vault_state.gets),
};

/*
 * Settings: str endpoint, str engine, str namespace, str prefix,
 * u8 kv_version (0 unset, 1, 2), str transit.engine, str transit.key,
 * u8 kubernetes, str auth engine, str auth namespace, str role ID or
 * Kubernetes role, str secret ID or JWT (or its path), str tls.key,
 * str tls.cert, str tls.ca, u64 status.ping in ms. An unset string is "".
 */
int
vault_settings_put(struct buf *b, const void *conf)
{
	const struct vault_conf	*c = conf;
	bool			 kube = c->kubernetes.jwt != NULL;
	int			 rc;

	rc = buf_put_str(b, c->endpoint) |
	    buf_put_str(b, c->engine) |
	    buf_put_str(b, c->namespace) |
	    buf_put_str(b, c->prefix) |
	    buf_put_u8(b, (uint8_t)c->kv_version) |
	    buf_put_str(b, c->transit.engine) |
	    buf_put_str(b, c->transit.key) |
	    buf_put_u8(b, kube);
	if (kube)
		rc |= buf_put_str(b, c->kubernetes.engine) |
		    buf_put_str(b, c->kubernetes.namespace) |
		    buf_put_str(b, c->kubernetes.role) |
		    buf_put_str(b, c->kubernetes.jwt);
	else
		rc |= buf_put_str(b, c->approle.engine) |
		    buf_put_str(b, c->approle.namespace) |
		    buf_put_str(b, c->approle.id) |
		    buf_put_str(b, c->approle.secret);
	rc |= buf_put_str(b, c->tls.key) |
	    buf_put_str(b, c->tls.cert) |
	    buf_put_str(b, c->tls.ca) |
	    buf_put_u64(b, c->ping_ms);
	return rc != 0 ? -1 : 0;
}

static void
settings_free(struct vault_settings *s)
{
	free(s->endpoint);
	free(s->engine);
	free(s->namespace);
	free(s->prefix);
	free(s->transit_engine);
	free(s->transit_key);
	free(s->auth_engine);
	free(s->auth_namespace);
	if (s->auth_id != NULL)
		freezero_str(s->auth_id);
	if (s->auth_secret != NULL)
		freezero_str(s->auth_secret);
	free(s->tls_key);
	free(s->tls_cert);
	free(s->tls_ca);
	memset(s, 0, sizeof(*s));
}

/* A string field, or its default when empty. */
static int
get_str(struct buf *b, char **out, const char *dflt)
{
	const char *s;

	if (buf_get_str(b, &s, NULL) == -1)
		return -1;
	*out = xstrdup(s[0] == '\0' && dflt != NULL ? dflt : s);
	return 0;
}

/* Goes into a header: no control characters. */
static bool
header_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
settings_read(struct buf *b, struct vault_settings *s, char *err,
    size_t errlen)
{
	uint8_t	ver, kube;

	memset(s, 0, sizeof(*s));
	if (get_str(b, &s->endpoint, NULL) == -1 ||
	    get_str(b, &s->engine, "kv") == -1 ||
	    get_str(b, &s->namespace, NULL) == -1 ||
	    get_str(b, &s->prefix, NULL) == -1 ||
	    buf_get_u8(b, &ver) == -1 ||
	    get_str(b, &s->transit_engine, "transit") == -1 ||
	    get_str(b, &s->transit_key, NULL) == -1 ||
	    buf_get_u8(b, &kube) == -1 ||
	    get_str(b, &s->auth_engine, kube ? "kubernetes" : "approle") ==
	    -1 ||
	    get_str(b, &s->auth_namespace, NULL) == -1 ||
	    get_str(b, &s->auth_id, NULL) == -1 ||
	    get_str(b, &s->auth_secret, NULL) == -1 ||
	    get_str(b, &s->tls_key, NULL) == -1 ||
	    get_str(b, &s->tls_cert, NULL) == -1 ||
	    get_str(b, &s->tls_ca, NULL) == -1 ||
	    buf_get_u64(b, &s->ping_ms) == -1 || buf_end(b) == -1 ||
	    kube > 1 || ver > 2) {
		snprintf(err, errlen, "malformed settings");
		goto fail;
	}
	s->kv_version = ver == 2 ? 2 : 1;
	s->kubernetes = kube;
	s->jwt_file = kube && strchr(s->auth_secret, '/') != NULL;
	if (s->ping_ms == 0)
		s->ping_ms = PING_DEFAULT_MS;
	if (s->endpoint[0] == '\0') {
		snprintf(err, errlen, "no endpoint");
		goto fail;
	}
	if (s->auth_secret[0] == '\0' ||
	    (!s->kubernetes && s->auth_id[0] == '\0')) {
		snprintf(err, errlen, "no credentials");
		goto fail;
	}
	if (!header_ok(s->namespace) || !header_ok(s->auth_namespace)) {
		snprintf(err, errlen, "a namespace holds a control character");
		goto fail;
	}
	return 0;
 fail:
	settings_free(s);
	return -1;
}

int
vault_settings_get(struct vault *v, struct buf *b, char *err, size_t errlen)
{
	const uint8_t *start = buf_ptr(b);

	settings_free(&v->s);
	if (settings_read(b, &v->s, err, errlen) == -1)
		return -1;
	if (v->raw != NULL)
		freezero(v->raw, v->rawlen);
	v->rawlen = (size_t)(buf_ptr(b) - start);
	v->raw = xmemdup(start, v->rawlen);
	return 0;
}

/* Only the log level may change while running: a new endpoint,
 * credentials or files take a restart, as fs's directory does. */
int
vault_reload(struct vault *v, struct buf *b, char *err, size_t errlen)
{
	struct vault_settings	 ns;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (settings_read(b, &ns, err, errlen) == -1)
		return -1;
	settings_free(&ns);
	len = (size_t)(buf_ptr(b) - start);
	if (len != v->rawlen || memcmp(start, v->raw, len) != 0) {
		snprintf(err, errlen, "the Vault settings cannot change "
		    "without a restart");
		return -1;
	}
	return 0;
}

/* As root when started so: the TLS files, which may be root's alone. */
int
vault_prepare(struct vault *v, char *err, size_t errlen)
{
	if (v->s.tls_ca[0] != '\0' && pemfile_read_ca(v->s.tls_ca, 0, &v->ca,
	    &v->ca_len, err, errlen) == -1)
		return -1;
	if (v->s.tls_cert[0] != '\0' && pemfile_read(-1, v->s.tls_cert,
	    v->s.tls_cert, &v->cert, &v->cert_len, err, errlen) == -1)
		return -1;
	if (v->s.tls_key[0] != '\0' && pemfile_read(-1, v->s.tls_key,
	    v->s.tls_key, &v->key, &v->key_len, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * After the drop, before the filter: the helper (the resolver, and the
 * JWT file's reader), the HTTPS client, and the first login, which must
 * succeed (KES does not start without it either).
 */
int
vault_init(struct vault *v, char *err, size_t errlen)
{
	const char	*files[2] = { NULL, NULL };
	struct net_tls	 tls = {
		v->ca, v->ca_len, v->cert, v->cert_len, v->key, v->key_len
	};
	char		 why[256];

	/* jansson's copies of values and tokens are wiped when freed. */
	gojson_init();
	if (v->s.jwt_file)
		files[0] = v->s.auth_secret;
	if (helper_start(files[0] != NULL ? files : NULL, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	if (net_global_init(why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	v->net = net_client_new(v->s.endpoint, &tls, false, why, sizeof(why));
	/* The client has its own copies. */
	freezero(v->key, v->key_len);
	v->key = NULL;
	v->key_len = 0;
	if (v->net == NULL) {
		snprintf(err, errlen, "%s: %s", v->s.endpoint, why);
		return -1;
	}
	return vault_auth_start(v, err, errlen);
}

/* --- the store --- */

static int
vault_settings(struct buf *b, char *err, size_t errlen)
{
	return vault_settings_get(&vault_state, b, err, errlen);
}

static int
vault_reload_cb(struct buf *b, char *err, size_t errlen)
{
	return vault_reload(&vault_state, b, err, errlen);
}

static int
vault_prepare_cb(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	return vault_prepare(&vault_state, err, errlen);
}

static int
vault_init_cb(char *err, size_t errlen)
{
	return vault_init(&vault_state, err, errlen);
}

const struct ks_backend ks_backend_vault = {
	.name = "vault",
	.keys = vault_keys,
	.parse = vault_parse,
	.conf_free = vault_conf_free,
	/* The helper, forked after the chroot would be made, reads the
	 * resolver's files and the JWT file through the agent's root. */
	.chroot = false,
	/* net_rules and nothing of its own. */
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = vault_settings_put,
	.settings = vault_settings,
	.reload = vault_reload_cb,
	.prepare = vault_prepare_cb,
	.init = vault_init_cb,
	.status = vault_op_status,
	.create = vault_op_create,
	.get = vault_op_get,
	.del = vault_op_del,
	.list = vault_op_list,
	.cancel = vault_op_cancel,
};
