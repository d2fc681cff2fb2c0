/*
 * A KES key version (spec 5.1, 6.1): the secret key and its type, the
 * separate HMAC key (absent in legacy JSON keys), who created it and when.
 * Decoding reads every stored form KES ever wrote; encoding writes the
 * current one, base64(protobuf KeyVersion).
 */
#ifndef KEYWARD_KES_KEY_H
#define KEYWARD_KES_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define KES_KEY_LEN		32
#define KES_CREATED_BY_MAX	128	/* bytes, without the NUL */
#define KES_STORED_MAX		(1u << 20) /* a stored value, spec 6.2 */

/* Numbering of the protobuf SecretKey.Type field. */
enum kes_key_type {
	KES_KEY_AES256 = 1,
	KES_KEY_CHACHA20 = 2,
};

/*
 * What the cipher needs of a key: the secret and HMAC keys and the type.
 * The key cache holds only this and a little metadata (DESIGN: locked
 * memory per cached key).
 */
#define KES_SECRET_FIELDS						\
	uint8_t		 type;		/* enum kes_key_type */		\
	bool		 has_hmac;					\
	uint8_t		 key[KES_KEY_LEN];				\
	uint8_t		 hmac[KES_KEY_LEN];	/* HMAC-SHA256 key */

struct kes_secret {
	KES_SECRET_FIELDS
};

struct kes_key {
	/* k.key and k.secret name the same bytes (C11 anonymous members
	 * sharing a common initial sequence). */
	union {
		struct { KES_SECRET_FIELDS };
		struct kes_secret secret;
	};
	int64_t		 created_sec;		/* Unix; GOTIME_ZERO_SEC
						 * when never set */
	int32_t		 created_nsec;
	char		 created_by[KES_CREATED_BY_MAX + 1];
};

/*
 * A stored value: legacy JSON when it is valid JSON, else base64 of the
 * protobuf. 0, or -1 when malformed (out is wiped either way on error).
 */
int	kes_key_decode(const uint8_t *value, size_t len, struct kes_key *out);
/* base64(protobuf) appended to out; -1 without an HMAC key. */
int	kes_key_encode(const struct kes_key *, struct buf *out);
void	kes_key_wipe(struct kes_key *);

/* "AES256" / "ChaCha20", or NULL for an unknown type. */
const char *kes_key_type_name(uint8_t type);
/* A key type from the names stored keys and msgpack ciphertexts use:
 * "AES256", "AES256-GCM_SHA256", "ChaCha20", "XCHACHA20-POLY1305" (exact
 * case); 0 if none. The JSON-ciphertext names are ciphertext.c's. */
uint8_t	kes_key_type_parse(const char *name);

#endif
