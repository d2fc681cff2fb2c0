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

static int
parse_aws(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = {
		"accesskey", "secretkey", "token", NULL
	};
	struct aws_conf	*c;
	struct cfg_sect		 cred;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the Secrets Manager URL" },
	    { "region", &c->region, "an AWS region, e.g. us-east-1" },
	    { "kmskey", &c->kmskey, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "accesskey", &c->accesskey, NULL },
	    { "secretkey", &c->secretkey, NULL },
	    { "token", &c->token, NULL },
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
aws_free(void *conf)
{
	struct aws_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->region, &c->kmskey,
		    &c->accesskey, &c->secretkey, &c->token);
}

static void
azure_free(void *conf)
{
	struct azure_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->tenant_id, &c->client_id,
		    &c->client_secret, &c->managed_client_id);
}

const struct ks_backend ks_backend_gcp = {
	.name = "gcp",
	.inner = "secretmanager",
	.keys = (const char *const []){
		"project_id", "endpoint", "scopes", "credentials", NULL
	},
	.parse = parse_gcp,
	.conf_free = gcp_free,
};

const struct ks_backend ks_backend_aws = {
	.name = "aws",
	.inner = "secretsmanager",
	.keys = (const char *const []){
		"endpoint", "region", "kmskey", "credentials", NULL
	},
	.parse = parse_aws,
	.conf_free = aws_free,
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
