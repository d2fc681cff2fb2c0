/*
 * The sealed value format (spec §4.3):
 *   sealed   = "kwseal:v1:" base64std_padded(envelope)
 *   envelope = alg(1) | kid_len(1) | kid | iv_len(1) | iv | ct_and_tag
 *   AAD      = "kwseal:v1:" | envelope up to ct_and_tag | key name
 * Pure functions: no PKCS#11 here (seal_helper.c does the cipher).
 */
#ifndef KEYWARD_KS_SEAL_FMT_H
#define KEYWARD_KS_SEAL_FMT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SEAL_PREFIX	"kwseal:v1:"
#define SEAL_PREFIX_LEN	10
#define SEAL_ALG_GCM	0x01	/* AES-256-GCM, caller IV, 16-byte tag */
#define SEAL_IV_LEN	12
#define SEAL_TAG_LEN	16
#define SEAL_KID_MAX	64

enum seal_kind {
	SEAL_PLAIN,		/* a legacy value: JSON or base64 */
	SEAL_V1,		/* kwseal:v1: */
	SEAL_UNKNOWN_VERSION,	/* kwseal: with another version */
};

enum seal_kind	seal_kind(const uint8_t *v, size_t len);

/* A parsed envelope; pointers into the decoded bytes. */
struct seal_env {
	uint8_t		 alg;
	char		 kid[SEAL_KID_MAX + 1];
	const uint8_t	*iv;
	size_t		 ivlen;
	const uint8_t	*ct;		/* ciphertext and tag */
	size_t		 ctlen;
	const uint8_t	*hdr;		/* the envelope up to ct, for AAD */
	size_t		 hdrlen;
};

/*
 * Decode a kwseal:v1: value into env: raw receives the decoded envelope
 * (reset first; env points into it). -1 with a reason ("malformed sealed
 * value") for bad base64, lengths, an unknown alg or an IV that is not
 * 12 bytes.
 */
int	seal_env_decode(const uint8_t *v, size_t len, struct buf *raw,
	    struct seal_env *env, const char **why);
/* The envelope header for kid and iv into hdr (reset first). */
int	seal_env_header(struct buf *hdr, const char *kid, const uint8_t *iv,
	    size_t ivlen);
/* The AAD: prefix | hdr | name into aad (reset first). */
int	seal_aad(struct buf *aad, const uint8_t *hdr, size_t hdrlen,
	    const char *name);
/* "kwseal:v1:" base64(hdr | ct) into out (reset first). */
int	seal_encode(struct buf *out, const uint8_t *hdr, size_t hdrlen,
	    const uint8_t *ct, size_t ctlen);

#endif
