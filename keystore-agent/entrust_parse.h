/*
 * keystore.entrust.keycontrol: parsed in the parent into struct
 * entrust_conf with KES's checks (spec/keystores-cloud-and-legacy-
 * config.md §5.1). The store itself is entrust.c.
 */
#ifndef KEYWARD_KS_ENTRUST_PARSE_H
#define KEYWARD_KS_ENTRUST_PARSE_H

struct cfg_parser;
struct cfg_sect;

struct entrust_conf {
	char	*endpoint;	/* trailing '/' stripped */
	char	*vault_id, *box_id;
	char	*username, *password;
	char	*ca;		/* tls.ca: file or directory; NULL */
};

extern const char *const entrust_keys[];
int	entrust_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	entrust_conf_free(void *);

#endif
