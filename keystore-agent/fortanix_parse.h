/*
 * keystore.fortanix.sdkms: parsed in the parent into struct fortanix_conf
 * with KES's checks (spec/keystores-cloud-and-legacy-config.md §4.1). The
 * store itself is fortanix.c.
 */
#ifndef KEYWARD_KS_FORTANIX_PARSE_H
#define KEYWARD_KS_FORTANIX_PARSE_H

struct cfg_parser;
struct cfg_sect;

struct fortanix_conf {
	char	*endpoint;	/* blanks and one trailing '/' trimmed */
	char	*group_id;	/* NULL: objects go to the app's group */
	char	*key;		/* credentials.key: the API key */
	char	*ca;		/* tls.ca: file or directory; NULL */
};

extern const char *const fortanix_keys[];
int	fortanix_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	fortanix_conf_free(void *);

#endif
