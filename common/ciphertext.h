/*
 * KES ciphertexts (spec 5.2-5.5): sealing produces the raw form
 * sealed || iv(16) || nonce(12); opening accepts raw, msgpack and JSON.
 * The crypto process is single-threaded; these functions keep their
 * OpenSSL objects in file-local state set up by kes_crypto_init().
 */
#ifndef KEYWARD_CIPHERTEXT_H
#define KEYWARD_CIPHERTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "common/kes_key.h"

#define KES_IV_LEN		16
#define KES_NONCE_LEN		12
#define KES_TAG_LEN		16
/* Bytes a raw ciphertext adds to its plaintext. */
#define KES_CT_OVERHEAD		(KES_TAG_LEN + KES_IV_LEN + KES_NONCE_LEN)

/* Fetch the algorithms once, before the sandbox; -1 on failure. The
 * functions below call it themselves when it has not been (which may fail
 * under the sandbox). */
int	kes_crypto_init(void);

/* The key type `create` picks (spec 3.3): AES256 when the CPU has AES-GCM
 * acceleration, else ChaCha20. */
uint8_t	kes_default_key_type(void);

/*
 * Seal pt under k with associated data aad (the client's context) and the
 * caller's random iv and nonce. Writes ptlen + KES_CT_OVERHEAD bytes to out.
 * 0, or -1 on an OpenSSL failure.
 */
int	kes_seal(const struct kes_secret *k, const uint8_t iv[KES_IV_LEN],
	    const uint8_t nonce[KES_NONCE_LEN], const uint8_t *pt, size_t ptlen,
	    const uint8_t *aad, size_t aadlen, uint8_t *out);

/*
 * Open a ciphertext in any format. Raw uses the key's type; msgpack and
 * JSON use the algorithm they name. out needs ctlen bytes. 0 and *outlen,
 * or -1: malformed or not authentic (out wiped).
 */
int	kes_open(const struct kes_secret *k, const uint8_t *ct, size_t ctlen,
	    const uint8_t *aad, size_t aadlen, uint8_t *out, size_t *outlen);

/*
 * HChaCha20 (draft-irtf-cfrg-xchacha-03 section 2.2): the ChaCha20 block
 * function over key and the 16-byte input without the final addition,
 * words 0-3 and 12-15 out. The ChaCha20 key derivation of spec 5.2.
 */
void	kes_hchacha20(const uint8_t key[32], const uint8_t in[16],
	    uint8_t out[32]);

/* HMAC-SHA256 with the key's HMAC key; -1 when it has none. */
int	kes_hmac(const struct kes_secret *k, const uint8_t *msg, size_t len,
	    uint8_t out[32]);

#endif
