/*
 * Standard base64 (RFC 4648 section 4, "+/" and "=" padding) the way Go's
 * encoding/json reads and writes []byte fields: output is padded; input
 * must be padded, may contain '\r' and '\n' anywhere (skipped), and
 * anything else outside the alphabet is an error. As in Go (StdEncoding is
 * not Strict), the unused low bits of the last symbol are not checked.
 */
#ifndef KEYWARD_B64_H
#define KEYWARD_B64_H

#include <stddef.h>
#include <stdint.h>

/* Characters b64_encode() writes for n bytes (no NUL). */
size_t	b64_encoded_len(size_t n);
/* An upper bound of the bytes b64_decode() writes for len characters. */
size_t	b64_decoded_max(size_t len);

/* Writes b64_encoded_len(n) characters and a NUL into out. */
void	b64_encode(const void *in, size_t n, char *out);
/* The same, faster, for bytes that are not secret (a ciphertext): its
 * time depends on the bytes. */
void	b64_encode_public(const void *in, size_t n, char *out);
/* 0 and *outlen, or -1 on any malformed input (out is then wiped). */
int	b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen);
/* The same, faster, for bytes that are not secret (a ciphertext, a
 * context): its time depends on the characters. */
int	b64_decode_public(const char *in, size_t len, uint8_t *out,
	    size_t *outlen);

#endif
