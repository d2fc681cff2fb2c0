/*
 * keystore.azure.keyvault in the parent (azure_parse.h): KES's fields and
 * checks, the authentication method, and the environment.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/azure_parse.h"

const char *const azure_keys[] = {
	"endpoint", "credentials", "managed_identity", NULL
};

static bool
url_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static char *
env_dup(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? xstrdup(v) : NULL;
}

static bool
set(const char *s)
{
	return s != NULL && *s != '\0';
}

static void
strip_slash(char *s)
{
	size_t n = strlen(s);

	while (n > 8 && s[n - 1] == '/')
		s[--n] = '\0';
}

int
azure_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = {
		"tenant_id", "client_id", "client_secret", NULL
	};
	static const char *const mi_keys[] = { "client_id", NULL };
	struct azure_conf	*c;
	struct cfg_sect		 cred, mi;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the Key Vault URL" },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "managed_identity", mi_keys, &mi) == -1)
		return -1;
	if (cred.map != NULL && mi.map != NULL)
		return cfg_error(p, mi.line, s->path, "both credentials and "
		    "managed_identity are set; expected at most one "
		    "authentication method");
	if (cred.map != NULL) {
		if (cfg_get_fields(p, &cred, (const struct cfg_field[]){
		    { "tenant_id", &c->tenant_id, "the Azure tenant ID" },
		    { "client_id", &c->client_id, "the Azure client ID" },
		    { "client_secret", &c->client_secret,
		      "the Azure client secret" },
		    { NULL, NULL, NULL } }) == -1)
			return -1;
		c->method = xstrdup("secret");
	} else if (mi.map != NULL) {
		if (cfg_get_fields(p, &mi, (const struct cfg_field[]){
		    { "client_id", &c->managed_client_id,
		      "the managed identity's client ID" },
		    { NULL, NULL, NULL } }) == -1)
			return -1;
		c->method = xstrdup("imds");
	} else {
		/* The default chain: the environment's secret, else IMDS. */
		c->tenant_id = env_dup("AZURE_TENANT_ID");
		c->client_id = env_dup("AZURE_CLIENT_ID");
		c->client_secret = env_dup("AZURE_CLIENT_SECRET");
		if (set(c->tenant_id) && set(c->client_id) &&
		    set(c->client_secret))
			c->method = xstrdup("secret");
		else {
			c->method = xstrdup("imds");
			if (set(c->client_id))
				c->managed_client_id = xstrdup(c->client_id);
		}
	}
	if (strncmp(c->endpoint, "https://", 8) != 0 || !url_safe(c->endpoint))
		return cfg_error(p, s->line, s->path, "endpoint '%s'; expected "
		    "an https:// Key Vault URL", c->endpoint);
	strip_slash(c->endpoint);
	if ((c->authority = env_dup("AZURE_AUTHORITY_HOST")) == NULL)
		c->authority = xstrdup(AZ_DEFAULT_AUTHORITY);
	if ((c->imds = env_dup("AZURE_POD_IDENTITY_AUTHORITY_HOST")) == NULL)
		c->imds = xstrdup(AZ_DEFAULT_IMDS);
	if (strncmp(c->authority, "https://", 8) != 0 ||
	    !url_safe(c->authority) || (strncmp(c->imds, "http://", 7) != 0 &&
	    strncmp(c->imds, "https://", 8) != 0) || !url_safe(c->imds))
		return cfg_error(p, s->line, s->path, "AZURE_AUTHORITY_HOST or "
		    "AZURE_POD_IDENTITY_AUTHORITY_HOST; expected a URL");
	strip_slash(c->authority);
	strip_slash(c->imds);
	c->ca_file = env_dup("SSL_CERT_FILE");
	return 0;
}

void
azure_conf_free(void *conf)
{
	struct azure_conf *c = conf;

	if (c == NULL)
		return;
	freezero_str(c->endpoint);
	freezero_str(c->tenant_id);
	freezero_str(c->client_id);
	freezero_str(c->client_secret);
	freezero_str(c->managed_client_id);
	freezero_str(c->method);
	freezero_str(c->authority);
	freezero_str(c->imds);
	freezero_str(c->ca_file);
	freezero(c, sizeof(*c));
}
