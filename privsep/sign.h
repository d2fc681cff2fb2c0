/*
 * The TLS handshake signer in the crypto process (privsep/sign.c): the
 * server's TLS private key lives here and nowhere in a worker. A worker
 * asks for one signature per handshake (MSG_TLS_SIGN); the signer checks
 * that what it is asked to sign is a TLS 1.3 CertificateVerify input or a
 * TLS 1.2 ServerKeyExchange over ECDHE parameters, so a worker cannot use
 * the key as a general-purpose signing oracle.
 */
#ifndef KEYWARD_SIGN_H
#define KEYWARD_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/tls.h"

#define SIGN_KEYID_LEN	TLS_KEY_ID_LEN	/* tls_key_id() */
#define SIGN_TBS_MAX	256	/* longer than any well-formed input */
#define SIGN_SIG_MAX	1024	/* RSA up to 8192 bits */

/* The key types the signer holds. SIGN_KEY_ANY: sign_check checks only
 * what does not depend on the key. */
enum sign_keytype {
	SIGN_KEY_ANY = 0,
	SIGN_KEY_RSA,		/* rsaEncryption, 2048 to 8192 bits */
	SIGN_KEY_P256,
	SIGN_KEY_P384,
	SIGN_KEY_P521,
	SIGN_KEY_ED25519,
};

struct sign_key {
	EVP_PKEY		*pk;		/* NULL: none */
	enum sign_keytype	 type;
	uint8_t			 id[SIGN_KEYID_LEN];
};

/* The key of the running configuration and the one before it: a
 * handshake a worker began with the old certificate still finds its
 * key until the next reload. */
struct signer {
	struct sign_key		 cur;
	struct sign_key		 prev;
	uint64_t		 signed_n;	/* signatures made */
	uint64_t		 refused_n;	/* requests refused */
};

/* A MSG_TLS_SIGN payload; pointers into the message. */
struct sign_req {
	uint8_t		 purpose;	/* enum tls_sign_purpose */
	const uint8_t	*keyid;		/* SIGN_KEYID_LEN bytes */
	const char	*digest;	/* "SHA256", "SHA384", "SHA512", "" */
	uint8_t		 pad;		/* enum tls_sign_pad */
	const uint8_t	*tbs;
	size_t		 tbslen;
};

/* The type of a key the signer can use; -1 with why naming what the key
 * is when it is of another type (or an RSA key under 2048 bits). */
int	sign_key_type(EVP_PKEY *, enum sign_keytype *, char *why,
	    size_t whylen);

/* Parse a MSG_TLS_SIGN payload exactly; -1 with why. */
int	sign_req_get(struct buf *, struct sign_req *, const char **why);
/* Whether tbs is a handshake input of that purpose and digest / pad a
 * scheme TLS uses with that key type: 0, or -1 with why (static text). */
int	sign_check(uint8_t purpose, const char *digest, uint8_t pad,
	    enum sign_keytype, const uint8_t *tbs, size_t len,
	    const char **why);
/* One signature; sig holds SIGN_SIG_MAX bytes. 0 or -1. */
int	sign_tbs(const struct sign_key *, const char *digest, uint8_t pad,
	    const uint8_t *tbs, size_t len, uint8_t *sig, size_t *siglen);

/* Install an unencrypted DER PKCS#8 key as current, the current one
 * becoming previous; len 0 installs nothing. -1 with err. The caller
 * wipes der. */
int	signer_install(struct signer *, const uint8_t *der, size_t len,
	    char *err, size_t errlen);
/* The key with that id, or NULL. */
const struct sign_key *signer_find(const struct signer *,
	    const uint8_t id[SIGN_KEYID_LEN]);
void	signer_clear(struct signer *);

#endif
