/*
 * keystore.vault: the Vault store's settings as the configuration gives
 * them (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §1.2), parsed by
 * vault_parse.c in the parent; KES's checks and messages.
 */
#ifndef KEYWARD_KS_VAULT_PARSE_H
#define KEYWARD_KS_VAULT_PARSE_H

#include <stdint.h>

struct vault_conf {
	char	*endpoint, *engine, *namespace, *prefix;
	int	 kv_version;		/* 1 or 2; 0 = unset (v1) */
	struct { char *engine, *key; } transit;
	struct { char *engine, *namespace, *id, *secret; } approle;
	struct { char *engine, *namespace, *role, *jwt; } kubernetes;
	struct { char *key, *cert, *ca; } tls;
	uint64_t ping_ms;		/* status.ping; 0 = unset */
};

struct cfg_parser;
struct cfg_sect;

/* The section's keys, its parser and the settings' destructor (wipes). */
extern const char *const vault_keys[];
int	vault_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	vault_conf_free(void *);

#endif
