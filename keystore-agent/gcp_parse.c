/*
 * keystore.gcp.secretmanager in the parent (gcp_parse.h): KES's fields
 * and checks, the endpoint made a REST base URL (§2.5, without KES's
 * quirk), and the environment variables the store honours.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/gcp_parse.h"

const char *const gcp_keys[] = {
	"project_id", "endpoint", "scopes", "credentials", NULL
};

/* No blanks, no control characters: it goes into a URL. */
static bool
url_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

char *
gcp_base_url(const char *e)
{
	char	*u;
	size_t	 n;

	if (e == NULL || *e == '\0')
		return xstrdup(GCP_DEFAULT_BASE);
	if (!url_safe(e) || strncmp(e, "http://", 7) == 0)
		return NULL;
	if (strncmp(e, "https://", 8) == 0)
		u = xstrdup(e);
	else if (strstr(e, "://") != NULL || strchr(e, '/') != NULL)
		return NULL;
	else {
		/* host[:port], the form KES's sample and older KES wrote. */
		n = strlen(e);
		if (n > 4 && strcmp(e + n - 4, ":443") == 0)
			n -= 4;
		xasprintf(&u, "https://%.*s", (int)n, e);
	}
	n = strlen(u);
	while (n > 8 && u[n - 1] == '/')
		u[--n] = '\0';
	return u;
}

/* §2.1: "\n" as two characters becomes a newline (single-quoted YAML). */
static void
unescape_newlines(char *s)
{
	char *w = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == 'n') {
			*w++ = '\n';
			s++;
		} else
			*w++ = *s;
	}
	*w = '\0';
}

static char *
env_dup(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

int
gcp_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = {
		"client_email", "client_id", "private_key_id", "private_key",
		NULL
	};
	struct gcp_conf	*c;
	struct cfg_sect	 cred;
	size_t		 i, n;
	bool		 any;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "project_id", &c->project_id, "the GCP project ID" },
	    { "endpoint", &c->endpoint, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_list(p, s, "scopes", true, &c->scopes,
	    &c->nscopes) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "client_email", &c->client_email, NULL },
	    { "client_id", &c->client_id, NULL },
	    { "private_key_id", &c->private_key_id, NULL },
	    { "private_key", &c->private_key, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	/* KES's Connect: all four credential fields, or none. */
	any = (c->client_email && *c->client_email) ||
	    (c->client_id && *c->client_id) ||
	    (c->private_key_id && *c->private_key_id) ||
	    (c->private_key && *c->private_key);
	if (any) {
		if (c->client_email == NULL || *c->client_email == '\0')
			return cfg_error(p, cred.line, cred.path,
			    "gcp: no client email provided; expected "
			    "client_email, client_id, private_key_id and "
			    "private_key, or none of them");
		if (c->client_id == NULL || *c->client_id == '\0')
			return cfg_error(p, cred.line, cred.path,
			    "gcp: no client ID provided; expected "
			    "client_email, client_id, private_key_id and "
			    "private_key, or none of them");
		if (c->private_key == NULL || *c->private_key == '\0')
			return cfg_error(p, cred.line, cred.path,
			    "gcp: no client private key provided; expected "
			    "client_email, client_id, private_key_id and "
			    "private_key, or none of them");
		if (c->private_key_id == NULL || *c->private_key_id == '\0')
			return cfg_error(p, cred.line, cred.path,
			    "gcp: no client private key ID provided; expected "
			    "client_email, client_id, private_key_id and "
			    "private_key, or none of them");
		unescape_newlines(c->private_key);
	}
	if ((c->base = gcp_base_url(c->endpoint)) == NULL)
		return cfg_error(p, s->line, s->path, "endpoint: '%s'; "
		    "expected host[:port] or an https:// URL", c->endpoint);
	/* The scopes, space-joined; Secret Manager's own by default. */
	for (i = 0, n = 0; i < c->nscopes; i++)
		n += strlen(c->scopes[i]) + 1;
	if (n == 0)
		c->scope = xstrdup(GCP_DEFAULT_SCOPE);
	else {
		c->scope = xcalloc(1, n);
		for (i = 0; i < c->nscopes; i++) {
			if (*c->scopes[i] == '\0')
				continue;
			if (*c->scope != '\0')
				strcat(c->scope, " ");
			strcat(c->scope, c->scopes[i]);
		}
		if (*c->scope == '\0') {
			free(c->scope);
			c->scope = xstrdup(GCP_DEFAULT_SCOPE);
		}
	}
	if ((c->token_uri = env_dup("KEYWARD_GCP_TOKEN_URI")) == NULL)
		c->token_uri = xstrdup(GCP_DEFAULT_TOKEN_URI);
	else if (strncmp(c->token_uri, "https://", 8) != 0 ||
	    !url_safe(c->token_uri))
		return cfg_error(p, s->line, s->path, "KEYWARD_GCP_TOKEN_URI: "
		    "not a URL; expected an https:// URL");
	c->adc_file = env_dup("GOOGLE_APPLICATION_CREDENTIALS");
	if ((c->metadata_host = env_dup("GCE_METADATA_HOST")) == NULL)
		c->metadata_host = xstrdup(GCP_DEFAULT_METADATA);
	else if (!url_safe(c->metadata_host) ||
	    strchr(c->metadata_host, '/') != NULL)
		return cfg_error(p, s->line, s->path, "GCE_METADATA_HOST: "
		    "not a host; expected host[:port]");
	c->ca_file = env_dup("SSL_CERT_FILE");
	return 0;
}

void
gcp_conf_free(void *conf)
{
	struct gcp_conf *c = conf;

	if (c == NULL)
		return;
	cfg_strv_free(c->scopes, c->nscopes);
	freezero_str(c->project_id);
	freezero_str(c->endpoint);
	freezero_str(c->client_email);
	freezero_str(c->client_id);
	freezero_str(c->private_key_id);
	freezero_str(c->private_key);
	freezero_str(c->base);
	freezero_str(c->scope);
	freezero_str(c->token_uri);
	freezero_str(c->adc_file);
	freezero_str(c->metadata_host);
	freezero_str(c->ca_file);
	freezero(c, sizeof(*c));
}
