/*
 * keystore.gemalto.keysecure: parsed in the parent into struct
 * gemalto_conf, with KES's checks (spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §2.1). credentials.retry, which KES stopped reading in 2023,
 * is read again and honoured (keyward C3). The tls.ca files are read and
 * checked by the agent as root (ciphertrust_conf.c), as KES reads them
 * when it connects.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/ciphertrust_parse.h"

const char *const gemalto_keys[] = { "endpoint", "credentials", "tls", NULL };

int
gemalto_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = {
		"token", "domain", "retry", NULL
	};
	static const char *const tls_keys[] = { "ca", NULL };
	struct gemalto_conf	*c;
	struct cfg_sect		 cred, tls;
	size_t			 n;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_keys, &tls) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the KeySecure URL" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "token", &c->token, "a KeySecure refresh token" },
	    { "domain", &c->domain, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_duration(p, &cred, "retry", &c->retry_ms) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "ca", &c->ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	/* C6: KES joins "<endpoint>/api/v1/..." as strings; a trailing '/'
	 * would make "//api". */
	n = strlen(c->endpoint);
	while (n > 1 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	return 0;
}

void
gemalto_conf_free(void *conf)
{
	struct gemalto_conf *c = conf;

	if (c == NULL)
		return;
	freezero_str(c->endpoint);
	freezero_str(c->token);
	freezero_str(c->domain);
	freezero_str(c->ca);
	freezero(c, sizeof(*c));
}
