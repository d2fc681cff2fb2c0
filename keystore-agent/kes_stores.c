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
aws_free(void *conf)
{
	struct aws_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->region, &c->kmskey,
		    &c->accesskey, &c->secretkey, &c->token);
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

const struct ks_backend ks_backend_aws = {
	.name = "aws",
	.inner = "secretsmanager",
	.keys = (const char *const []){
		"endpoint", "region", "kmskey", "credentials", NULL
	},
	.parse = parse_aws,
	.conf_free = aws_free,
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
