/*
 * keystore.fortanix.sdkms: parsed in the parent into struct fortanix_conf,
 * with KES's checks (spec/keystores-cloud-and-legacy-config.md §4.1). The
 * tls.ca files are read and checked by the agent as root (fortanix_conf.c),
 * as KES reads them when it connects.
 */
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/fortanix_parse.h"

const char *const fortanix_keys[] = {
	"endpoint", "group_id", "credentials", "tls", NULL
};

/* KES's endpoint(): strings.TrimSpace, then one trailing '/' off. */
static void
trim_endpoint(char *s)
{
	size_t	n, i = 0;

	while (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\n')
		i++;
	memmove(s, s + i, strlen(s + i) + 1);
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	if (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
}

int
fortanix_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = { "key", NULL };
	static const char *const tls_keys[] = { "ca", NULL };
	struct fortanix_conf	*c;
	struct cfg_sect		 cred, tls;

	c = xcalloc(1, sizeof(*c));
	*conf = c;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_keys, &tls) == -1)
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
	trim_endpoint(c->endpoint);
	return 0;
}

void
fortanix_conf_free(void *conf)
{
	struct fortanix_conf *c = conf;

	if (c == NULL)
		return;
	freezero_str(c->endpoint);
	freezero_str(c->group_id);
	freezero_str(c->key);
	freezero_str(c->ca);
	freezero(c, sizeof(*c));
}
