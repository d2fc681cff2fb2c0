/*
 * KES's key stores that keyward does not serve yet: their settings only
 * (kes_stores.h). Every field is wiped when freed: which ones are secret
 * depends on the store.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/kes_stores.h"

static const char *const tls_ca_keys[] = { "ca", NULL };

static int
parse_fortanix(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = { "key", NULL };
	struct fortanix_conf	*c;
	struct cfg_sect		 cred, tls;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_ca_keys, &tls) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the SDKMS URL" },
	    { "group_id", &c->group_id, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "key", &c->key, "the SDKMS API key" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "ca", &c->ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	return 0;
}

static int
parse_gcp(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = {
		"client_email", "client_id", "private_key_id", "private_key",
		NULL
	};
	struct gcp_conf	*c;
	struct cfg_sect		 cred;

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
	return 0;
}

/* Neither credentials nor managed_identity: Azure's default chain. */
static int
parse_azure(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
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
	if (cred.map != NULL)
		return cfg_get_fields(p, &cred, (const struct cfg_field[]){
		    { "tenant_id", &c->tenant_id, "the Azure tenant ID" },
		    { "client_id", &c->client_id, "the Azure client ID" },
		    { "client_secret", &c->client_secret,
		      "the Azure client secret" },
		    { NULL, NULL, NULL } });
	if (mi.map != NULL)
		return cfg_get_fields(p, &mi, (const struct cfg_field[]){
		    { "client_id", &c->managed_client_id,
		      "the managed identity's client ID" },
		    { NULL, NULL, NULL } });
	return 0;
}

static int
parse_entrust(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = { "username", "password", NULL };
	struct entrust_conf	*c;
	struct cfg_sect		 cred, tls;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_ca_keys, &tls) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the KeyControl URL" },
	    { "vault_id", &c->vault_id, "the KeyControl vault ID" },
	    { "box_id", &c->box_id, "the KeyControl box ID" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "username", &c->username, "a KeyControl user name" },
	    { "password", &c->password, "the user's password" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "ca", &c->ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	return 0;
}

static void
strs_free(char **const strs[], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		freezero_str(*strs[i]);
}

#define STRS_FREE(c, ...) do {						\
	char **const strs_[] = { __VA_ARGS__ };				\
	strs_free(strs_, sizeof(strs_) / sizeof(strs_[0]));		\
	freezero((c), sizeof(*(c)));					\
} while (0)

static void
fortanix_free(void *conf)
{
	struct fortanix_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->group_id, &c->key, &c->ca);
}

static void
gcp_free(void *conf)
{
	struct gcp_conf *c = conf;

	if (c == NULL)
		return;
	cfg_strv_free(c->scopes, c->nscopes);
	STRS_FREE(c, &c->project_id, &c->endpoint, &c->client_email,
	    &c->client_id, &c->private_key_id, &c->private_key);
}

static void
azure_free(void *conf)
{
	struct azure_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->tenant_id, &c->client_id,
		    &c->client_secret, &c->managed_client_id);
}

static void
entrust_free(void *conf)
{
	struct entrust_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->vault_id, &c->box_id,
		    &c->username, &c->password, &c->ca);
}

const struct ks_backend ks_backend_fortanix = {
	.name = "fortanix",
	.inner = "sdkms",
	.keys = (const char *const []){
		"endpoint", "group_id", "credentials", "tls", NULL
	},
	.parse = parse_fortanix,
	.conf_free = fortanix_free,
};

const struct ks_backend ks_backend_gcp = {
	.name = "gcp",
	.inner = "secretmanager",
	.keys = (const char *const []){
		"project_id", "endpoint", "scopes", "credentials", NULL
	},
	.parse = parse_gcp,
	.conf_free = gcp_free,
};

const struct ks_backend ks_backend_azure = {
	.name = "azure",
	.inner = "keyvault",
	.keys = (const char *const []){
		"endpoint", "credentials", "managed_identity", NULL
	},
	.parse = parse_azure,
	.conf_free = azure_free,
};

const struct ks_backend ks_backend_entrust = {
	.name = "entrust",
	.inner = "keycontrol",
	.keys = (const char *const []){
		"endpoint", "vault_id", "box_id", "credentials", "tls", NULL
	},
	.parse = parse_entrust,
	.conf_free = entrust_free,
};
