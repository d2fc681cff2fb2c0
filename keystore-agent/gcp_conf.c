/*
 * The GCP store's start-up (backend.h): its settings in the agent's
 * slice; before the privilege drop the CA bundle (SSL_CERT_FILE) and the
 * Application Default Credentials file are read as root; after it, before
 * the filter, the HTTPS clients, the first access token and KES's
 * connect-time probe.
 *
 * Which credentials (§2.2): the section's four fields; else the service
 * account file GOOGLE_APPLICATION_CREDENTIALS names; else the metadata
 * server (GCE/GKE). gcloud's user credentials file is not read.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gojson.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/gcp.h"
#include "keystore-agent/gcp_json.h"
#include "keystore-agent/gcp_parse.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/pemfile.h"

#define METADATA_PATH	"/computeMetadata/v1/instance/service-accounts/" \
			"default/token"

struct gcp gcp_state;

/*
 * Settings: str project_id, str REST base, str scope (space-joined), str
 * token URL, str client_email, str private_key_id, str private_key, str
 * ADC file, str metadata host, str CA file. An unset string is "".
 */
static int
gcp_settings_put(struct buf *b, const void *conf)
{
	const struct gcp_conf	*c = conf;
	bool			 cred = c->private_key != NULL &&
				    *c->private_key != '\0';

	if ((buf_put_str(b, c->project_id) | buf_put_str(b, c->base) |
	    buf_put_str(b, c->scope) | buf_put_str(b, c->token_uri) |
	    buf_put_str(b, cred ? c->client_email : NULL) |
	    buf_put_str(b, cred ? c->private_key_id : NULL) |
	    buf_put_str(b, cred ? c->private_key : NULL) |
	    buf_put_str(b, cred ? NULL : c->adc_file) |
	    buf_put_str(b, c->metadata_host) |
	    buf_put_str(b, c->ca_file)) != 0)
		return -1;
	return 0;
}

static void
settings_free(struct gcp_settings *s)
{
	freezero_str(s->project);
	freezero_str(s->base);
	freezero_str(s->scope);
	freezero_str(s->token_uri);
	freezero_str(s->email);
	freezero_str(s->kid);
	freezero_str(s->key);
	freezero_str(s->adc_file);
	freezero_str(s->metadata_host);
	freezero_str(s->ca_file);
	memset(s, 0, sizeof(*s));
}

static int
settings_read(struct buf *b, struct gcp_settings *s, char *err,
    size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (buf_get_strdup(b, &s->project) == -1 ||
	    buf_get_strdup(b, &s->base) == -1 ||
	    buf_get_strdup(b, &s->scope) == -1 ||
	    buf_get_strdup(b, &s->token_uri) == -1 ||
	    buf_get_strdup(b, &s->email) == -1 ||
	    buf_get_strdup(b, &s->kid) == -1 ||
	    buf_get_strdup(b, &s->key) == -1 ||
	    buf_get_strdup(b, &s->adc_file) == -1 ||
	    buf_get_strdup(b, &s->metadata_host) == -1 ||
	    buf_get_strdup(b, &s->ca_file) == -1) {
		snprintf(err, errlen, "malformed settings");
		settings_free(s);
		return -1;
	}
	/* The project goes into every path. */
	if (s->project[0] == '\0' || strlen(s->project) > 128 ||
	    strspn(s->project, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") !=
	    strlen(s->project)) {
		snprintf(err, errlen, "gcp: the project ID '%.128s' is not a "
		    "GCP project ID", s->project);
		settings_free(s);
		return -1;
	}
	return 0;
}

static int
gcp_settings(struct buf *b, char *err, size_t errlen)
{
	struct gcp	*g = &gcp_state;
	const uint8_t	*start = buf_ptr(b);

	settings_free(&g->s);
	if (settings_read(b, &g->s, err, errlen) == -1)
		return -1;
	if (g->raw != NULL)
		freezero(g->raw, g->rawlen);
	g->rawlen = (size_t)(buf_ptr(b) - start);
	g->raw = xmemdup(start, g->rawlen);
	return 0;
}

static int
gcp_reload(struct buf *b, char *err, size_t errlen)
{
	struct gcp		*g = &gcp_state;
	struct gcp_settings	 ns;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (settings_read(b, &ns, err, errlen) == -1)
		return -1;
	settings_free(&ns);
	len = (size_t)(buf_ptr(b) - start);
	if (len != g->rawlen || memcmp(start, g->raw, len) != 0) {
		snprintf(err, errlen, "the GCP settings cannot change without "
		    "a restart");
		return -1;
	}
	return 0;
}

/* As root: the CA bundle, the credentials file, the signing key. */
static int
gcp_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct gcp	*g = &gcp_state;
	struct gcp_sa	 sa;
	uint8_t		*file = NULL;
	size_t		 flen = 0;
	char		 why[1200];

	(void)uid;
	(void)gid;
	if (g->s.ca_file[0] != '\0' && pemfile_read_ca(g->s.ca_file,
	    PEMFILE_EACH_CERT, &g->ca, &g->ca_len, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "gcp: SSL_CERT_FILE: %s", why);
		return -1;
	}
	if (g->s.key[0] != '\0') {
		g->email = xstrdup(g->s.email);
		g->kid = xstrdup(g->s.kid);
		g->token_uri = xstrdup(g->s.token_uri);
		g->key = oauth2_load_key(g->s.key, why, sizeof(why));
	} else if (g->s.adc_file[0] != '\0') {
		if (pemfile_read(-1, g->s.adc_file, g->s.adc_file, &file,
		    &flen, why, sizeof(why)) == -1) {
			snprintf(err, errlen, "gcp: GOOGLE_APPLICATION_"
			    "CREDENTIALS: %s", why);
			return -1;
		}
		if (gcp_parse_sa_file(file, flen, &sa, why,
		    sizeof(why)) == -1) {
			freezero(file, flen + 1);
			snprintf(err, errlen, "gcp: GOOGLE_APPLICATION_"
			    "CREDENTIALS '%s': %s", g->s.adc_file, why);
			return -1;
		}
		freezero(file, flen + 1);
		g->email = sa.email;
		g->kid = sa.kid;
		g->token_uri = sa.token_uri;
		g->key = oauth2_load_key(sa.key, why, sizeof(why));
		freezero_str(sa.key);
		if (strncmp(g->token_uri, "https://", 8) != 0) {
			snprintf(err, errlen, "gcp: GOOGLE_APPLICATION_"
			    "CREDENTIALS: token_uri is not an https:// URL");
			return -1;
		}
	} else {
		g->metadata = true;
		return 0;
	}
	freezero_str(g->s.key);
	g->s.key = xstrdup("");
	if (g->key == NULL) {
		snprintf(err, errlen, "gcp: %s", why);
		return -1;
	}
	return 0;
}

/* "https://host[:port]/path?q" into a client's base and a path. */
static struct net_client *
url_client(const char *url, bool http, char **path, const struct net_tls *t,
    char *err, size_t errlen)
{
	const char		*p = strstr(url, "://");
	char			*origin;
	struct net_client	*cl;

	p = p != NULL ? strchr(p + 3, '/') : NULL;
	*path = xstrdup(p != NULL ? p : "/");
	origin = p != NULL ? xstrndup(url, (size_t)(p - url)) : xstrdup(url);
	cl = net_client_new(origin, t, http, err, errlen);
	free(origin);
	return cl;
}

static int
gcp_init(char *err, size_t errlen)
{
	struct gcp	*g = &gcp_state;
	struct net_tls	 tls = { g->ca, g->ca_len, NULL, 0, NULL, 0 };
	static const char *mdh[] = { "Metadata-Flavor: Google", NULL };
	char		 why[256], *url;

	gojson_init();
	if (helper_start(NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	if (net_global_init(why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	/* The whole base URL is the client's: a path in the endpoint
	 * prefixes every request. */
	if ((g->api = net_client_new(g->s.base, &tls, false, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "gcp: %s: %s", g->s.base, why);
		return -1;
	}
	g->oa.who = "gcp";
	if (g->metadata) {
		/* Plain HTTP: the metadata server speaks nothing else. */
		xasprintf(&url, "http://%s" METADATA_PATH,
		    g->s.metadata_host);
		g->tok = url_client(url, true, &g->token_path, &tls, why,
		    sizeof(why));
		free(url);
		g->oa.kind = OAUTH2_METADATA;
		g->oa.headers = mdh;
	} else {
		g->tok = url_client(g->token_uri, false, &g->token_path, &tls,
		    why, sizeof(why));
		g->oa.kind = OAUTH2_JWT_BEARER;
		g->oa.key = g->key;
		g->oa.kid = g->kid;
		g->oa.iss = g->email;
		g->oa.scope = g->s.scope;
		g->oa.aud = g->token_uri;
	}
	free(g->ca);
	g->ca = NULL;
	g->ca_len = 0;
	if (g->tok == NULL) {
		snprintf(err, errlen, "gcp: the token endpoint: %s", why);
		return -1;
	}
	g->oa.net = g->tok;
	g->oa.path = g->token_path;
	if (oauth2_start(&g->oa, err, errlen) == -1)
		return -1;
	log_info("gcp: %s for project %s at %s", g->metadata ?
	    "a token from the metadata server" : "authenticated as the "
	    "service account", g->s.project, g->s.base);
	return gcp_probe(g, err, errlen);
}

const struct ks_backend ks_backend_gcp = {
	.name = "gcp",
	.inner = "secretmanager",
	.keys = gcp_keys,
	.parse = gcp_parse,
	.conf_free = gcp_conf_free,
	/* The helper reads the resolver's files through the agent's root. */
	.chroot = false,
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = gcp_settings_put,
	.settings = gcp_settings,
	.reload = gcp_reload,
	.prepare = gcp_prepare,
	.init = gcp_init,
	.status = gcp_op_status,
	.create = gcp_op_create,
	.get = gcp_op_get,
	.del = gcp_op_del,
	.list = gcp_op_list,
	.cancel = gcp_op_cancel,
};
