/*
 * keystore.entrust.keycontrol: parsed in the parent into struct
 * entrust_conf, with KES's checks (spec/keystores-cloud-and-legacy-
 * config.md §5.1). Unlike KES, a configuration without the credentials
 * block is refused with a message (KES crashes on it). The tls.ca files
 * are read by the agent as root (entrust_conf.c).
 */
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/entrust_parse.h"

const char *const entrust_keys[] = {
	"endpoint", "vault_id", "box_id", "credentials", "tls", NULL
};

int
entrust_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = { "username", "password", NULL };
	static const char *const tls_keys[] = { "ca", NULL };
	struct entrust_conf	*c;
	struct cfg_sect		 cred, tls;
	size_t			 n;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_keys, &tls) == -1)
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
	/* Go's url.JoinPath cleans the "//" a trailing '/' would make. */
	n = strlen(c->endpoint);
	while (n > 1 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	return 0;
}

void
entrust_conf_free(void *conf)
{
	struct entrust_conf *c = conf;

	if (c == NULL)
		return;
	freezero_str(c->endpoint);
	freezero_str(c->vault_id);
	freezero_str(c->box_id);
	freezero_str(c->username);
	freezero_str(c->password);
	freezero_str(c->ca);
	freezero(c, sizeof(*c));
}
