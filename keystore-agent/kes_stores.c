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
aws_free(void *conf)
{
	struct aws_conf *c = conf;

	if (c != NULL)
		STRS_FREE(c, &c->endpoint, &c->region, &c->kmskey,
		    &c->accesskey, &c->secretkey, &c->token);
}

const struct ks_backend ks_backend_aws = {
	.name = "aws",
	.inner = "secretsmanager",
	.keys = (const char *const []){
		"endpoint", "region", "kmskey", "credentials", NULL
	},
	.parse = parse_aws,
	.conf_free = aws_free,
};
