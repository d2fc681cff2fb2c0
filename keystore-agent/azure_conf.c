/*
 * The Azure store's start-up (backend.h): its settings in the agent's
 * slice, the CA bundle (SSL_CERT_FILE) read as root before the drop, the
 * HTTPS clients and the first access token after it, before the filter.
 * As KES, no call to the vault itself at start (§0.1).
 *
 * Tokens (§3.2): a client secret is posted to <authority>/<tenant>/
 * oauth2/v2.0/token with scope https://vault.azure.net/.default; a
 * managed identity asks IMDS (GET /metadata/identity/oauth2/token,
 * Metadata: true, resource https://vault.azure.net).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gojson.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/azure.h"
#include "keystore-agent/azure_parse.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/pemfile.h"

#define VAULT_SCOPE	"https://vault.azure.net/.default"
#define VAULT_RESOURCE	"https://vault.azure.net"

struct azure az_state;

/* Settings: str endpoint, method, tenant, client_id, client_secret,
 * managed client_id, authority, IMDS, CA file; unset is "". */
static int
az_settings_put(struct buf *b, const void *conf)
{
	const struct azure_conf *c = conf;

	if ((buf_put_str(b, c->endpoint) | buf_put_str(b, c->method) |
	    buf_put_str(b, c->tenant_id) | buf_put_str(b, c->client_id) |
	    buf_put_str(b, c->client_secret) |
	    buf_put_str(b, c->managed_client_id) |
	    buf_put_str(b, c->authority) | buf_put_str(b, c->imds) |
	    buf_put_str(b, c->ca_file)) != 0)
		return -1;
	return 0;
}

static void
settings_free(struct az_settings *s)
{
	freezero_str(s->endpoint);
	freezero_str(s->method);
	freezero_str(s->tenant);
	freezero_str(s->client_id);
	freezero_str(s->secret);
	freezero_str(s->mi_client_id);
	freezero_str(s->authority);
	freezero_str(s->imds);
	freezero_str(s->ca_file);
	memset(s, 0, sizeof(*s));
}

static bool
id_ok(const char *s)
{
	return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789-._") == strlen(s);
}

static int
settings_read(struct buf *b, struct az_settings *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (buf_get_strdup(b, &s->endpoint) == -1 ||
	    buf_get_strdup(b, &s->method) == -1 ||
	    buf_get_strdup(b, &s->tenant) == -1 ||
	    buf_get_strdup(b, &s->client_id) == -1 ||
	    buf_get_strdup(b, &s->secret) == -1 ||
	    buf_get_strdup(b, &s->mi_client_id) == -1 ||
	    buf_get_strdup(b, &s->authority) == -1 ||
	    buf_get_strdup(b, &s->imds) == -1 ||
	    buf_get_strdup(b, &s->ca_file) == -1) {
		snprintf(err, errlen, "malformed settings");
		settings_free(s);
		return -1;
	}
	/* The tenant goes into a path, the client IDs into a query. */
	if (!id_ok(s->tenant) || !id_ok(s->mi_client_id) ||
	    (strcmp(s->method, "secret") != 0 &&
	    strcmp(s->method, "imds") != 0)) {
		snprintf(err, errlen, "azure: a tenant or client ID that is "
		    "not an ID");
		settings_free(s);
		return -1;
	}
	return 0;
}

static int
az_settings(struct buf *b, char *err, size_t errlen)
{
	struct azure	*az = &az_state;
	const uint8_t	*start = buf_ptr(b);

	settings_free(&az->s);
	if (settings_read(b, &az->s, err, errlen) == -1)
		return -1;
	if (az->raw != NULL)
		freezero(az->raw, az->rawlen);
	az->rawlen = (size_t)(buf_ptr(b) - start);
	az->raw = xmemdup(start, az->rawlen);
	return 0;
}

static int
az_reload(struct buf *b, char *err, size_t errlen)
{
	struct azure		*az = &az_state;
	struct az_settings	 ns;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (settings_read(b, &ns, err, errlen) == -1)
		return -1;
	settings_free(&ns);
	len = (size_t)(buf_ptr(b) - start);
	if (len != az->rawlen || memcmp(start, az->raw, len) != 0) {
		snprintf(err, errlen, "the Azure settings cannot change "
		    "without a restart");
		return -1;
	}
	return 0;
}

static int
az_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct azure	*az = &az_state;
	char		 why[1200];

	(void)uid;
	(void)gid;
	if (az->s.ca_file[0] != '\0' && pemfile_read_ca(az->s.ca_file,
	    PEMFILE_EACH_CERT, &az->ca, &az->ca_len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "azure: SSL_CERT_FILE: %s", why);
		return -1;
	}
	return 0;
}

static int
az_init(char *err, size_t errlen)
{
	static const char *mdh[] = { "Metadata: true", NULL };
	struct azure	*az = &az_state;
	struct net_tls	 tls = { az->ca, az->ca_len, NULL, 0, NULL, 0 };
	struct buf	 f;
	char		 why[256], *origin;

	gojson_init();
	if (helper_start(NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	if (net_global_init(why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((az->api = net_client_new(az->s.endpoint, &tls, false, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "azure: %s: %s", az->s.endpoint, why);
		return -1;
	}
	az->oa.who = "azure";
	buf_init(&f, 4096);
	if (strcmp(az->s.method, "secret") == 0) {
		origin = az->s.authority;
		xasprintf(&az->token_path, "/%s/oauth2/v2.0/token",
		    az->s.tenant);
		(void)(oauth2_form_put(&f, "client_id", az->s.client_id) |
		    oauth2_form_put(&f, "scope", VAULT_SCOPE) |
		    oauth2_form_put(&f, "client_secret", az->s.secret) |
		    oauth2_form_put(&f, "grant_type", "client_credentials") |
		    buf_put(&f, "", 1));
		if (f.failed)
			fatalx("azure: the token request does not fit");
		az->form = xstrdup((const char *)f.data);
		freezero_str(az->s.secret);
		az->s.secret = xstrdup("");
		az->oa.kind = OAUTH2_FORM;
		az->oa.form = az->form;
	} else {
		origin = az->s.imds;
		(void)(oauth2_form_put(&f, "api-version", "2018-02-01") |
		    oauth2_form_put(&f, "resource", VAULT_RESOURCE));
		if (az->s.mi_client_id[0] != '\0')
			(void)oauth2_form_put(&f, "client_id",
			    az->s.mi_client_id);
		(void)buf_put(&f, "", 1);
		xasprintf(&az->token_path, "/metadata/identity/oauth2/token?%s",
		    (const char *)f.data);
		az->oa.kind = OAUTH2_METADATA;
		az->oa.headers = mdh;
	}
	buf_release(&f);
	/* IMDS is plain HTTP (a link-local address); the authority not. */
	az->tok = net_client_new(origin, &tls, az->oa.kind == OAUTH2_METADATA,
	    why, sizeof(why));
	free(az->ca);
	az->ca = NULL;
	az->ca_len = 0;
	if (az->tok == NULL) {
		snprintf(err, errlen, "azure: the token endpoint %s: %s",
		    origin, why);
		return -1;
	}
	az->oa.net = az->tok;
	az->oa.path = az->token_path;
	if (oauth2_start(&az->oa, err, errlen) == -1)
		return -1;
	log_info("azure: %s for %s", strcmp(az->s.method, "secret") == 0 ?
	    "authenticated as the service principal" : "a managed identity's "
	    "token", az->s.endpoint);
	return 0;
}

const struct ks_backend ks_backend_azure = {
	.name = "azure",
	.inner = "keyvault",
	.keys = azure_keys,
	.parse = azure_parse,
	.conf_free = azure_conf_free,
	.chroot = false,
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = az_settings_put,
	.settings = az_settings,
	.reload = az_reload,
	.prepare = az_prepare,
	.init = az_init,
	.status = az_op_status,
	.create = az_op_create,
	.get = az_op_get,
	.del = az_op_del,
	.list = az_op_list,
	.cancel = az_op_cancel,
};
