/*
 * KES API keys (spec §4.4): "kes:v1:" + base64_std(0x00 || seed), where seed
 * is a 32-byte Ed25519 private-key seed and 0x00 the key type. The identity
 * of an API key is the identity (common/identity.h) of its Ed25519 public
 * key, which equals the identity of the certificate apikey_certificate()
 * makes from it. Functions return 0 / non-NULL on success and never log.
 * A struct apikey holds a secret: wipe it with explicit_bzero when done.
 */
#ifndef KEYWARD_APIKEY_H
#define KEYWARD_APIKEY_H

#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/identity.h"

#define APIKEY_PREFIX		"kes:v1:"
#define APIKEY_SEED_LEN		32
#define APIKEY_TEXT_LEN		(sizeof(APIKEY_PREFIX) - 1 + 44)

struct apikey {
	uint8_t	seed[APIKEY_SEED_LEN];
};

/* Accepts the text with or without the "kes:v1:" prefix. */
int	 apikey_parse(const char *text, struct apikey *out);
int	 apikey_generate(struct apikey *out);
/* The text form; the caller frees it with freezero_str(). */
char	*apikey_format(const struct apikey *);
/* The Ed25519 key pair; the caller frees it with EVP_PKEY_free(). */
EVP_PKEY *apikey_pkey(const struct apikey *);
int	 apikey_identity(const struct apikey *, char out[IDENTITY_LEN + 1]);
/*
 * The client certificate KES clients present for an API key: self-signed
 * with the Ed25519 key, CN=<identity>, valid from now for 90 days,
 * KeyUsage digitalSignature, ExtKeyUsage clientAuth, CA:FALSE. `pk` is the
 * key from apikey_pkey() for this API key, or NULL to derive it here.
 */
X509	*apikey_certificate(const struct apikey *, EVP_PKEY *pk);

#endif
