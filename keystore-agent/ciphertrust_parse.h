/*
 * keystore.gemalto.keysecure (KES's name for the Thales CipherTrust
 * Manager, formerly Gemalto KeySecure): parsed in the parent into struct
 * gemalto_conf with KES's checks (spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §2.1). The store itself is ciphertrust.c.
 */
#ifndef KEYWARD_KS_CIPHERTRUST_PARSE_H
#define KEYWARD_KS_CIPHERTRUST_PARSE_H

#include <stdint.h>

struct cfg_parser;
struct cfg_sect;

struct gemalto_conf {
	char		*endpoint;	/* trailing '/' stripped (C6) */
	char		*token;		/* credentials.token: a refresh token */
	char		*domain;	/* credentials.domain; NULL: root */
	char		*ca;		/* tls.ca: file or directory; NULL */
	uint64_t	 retry_ms;	/* credentials.retry; 0: unset (5 s) */
};

extern const char *const gemalto_keys[];
int	gemalto_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	gemalto_conf_free(void *);

#endif
