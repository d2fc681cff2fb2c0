/* Go's base64.StdEncoding: padded standard base64, CR and LF skipped. */
#include <string.h>

#include "common/b64.h"

/*
 * The alphabet is mapped without branches or table lookups on the value,
 * so the time taken does not depend on the (often secret) bytes. The shifts
 * rely on the arithmetic right shift of negative ints, which every compiler
 * we build with does. Returns 0..63, or -1 for a character outside the
 * alphabet.
 */
static int
val(unsigned char ch)
{
	int c = ch, v = -1;

	v += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64);	/* A-Z */
	v += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70);	/* a-z */
	v += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5);	/* 0-9 */
	v += (((0x2a - c) & (c - 0x2c)) >> 8) & 63;		/* + */
	v += (((0x2e - c) & (c - 0x30)) >> 8) & 64;		/* / */
	return v;
}

static char
chr(unsigned int u)
{
	int v = (int)u, d = 'A';

	d += ((25 - v) >> 8) & 6;	/* 26..: 'a' */
	d -= ((51 - v) >> 8) & 75;	/* 52..: '0' */
	d -= ((61 - v) >> 8) & 15;	/* 62: '+' */
	d += ((62 - v) >> 8) & 3;	/* 63: '/' */
	return (char)(v + d);
}

size_t
b64_encoded_len(size_t n)
{
	return (n + 2) / 3 * 4;
}

size_t
b64_decoded_max(size_t len)
{
	/* Padded input: at most len / 4 whole quanta, 3 bytes each. */
	return len / 4 * 3;
}

/* A symbol: constant time, or for bytes that are not secret by table. */
static inline __attribute__((always_inline)) char
sym(unsigned int u, int public)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/";

	return public ? abc[u] : chr(u);
}

static inline __attribute__((always_inline)) void
encode(const void *in, size_t n, char *out, int public)
{
	const uint8_t	*p = in;
	uint32_t	 w;
	size_t		 i;

	for (i = 0; i + 3 <= n; i += 3) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*out++ = sym(w >> 18, public);
		*out++ = sym((w >> 12) & 0x3f, public);
		*out++ = sym((w >> 6) & 0x3f, public);
		*out++ = sym(w & 0x3f, public);
	}
	if (n - i == 1) {
		w = (uint32_t)p[i] << 16;
		*out++ = sym(w >> 18, public);
		*out++ = sym((w >> 12) & 0x3f, public);
		*out++ = '=';
		*out++ = '=';
	} else if (n - i == 2) {
		w = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*out++ = sym(w >> 18, public);
		*out++ = sym((w >> 12) & 0x3f, public);
		*out++ = sym((w >> 6) & 0x3f, public);
		*out++ = '=';
	}
	*out = '\0';
	explicit_bzero(&w, sizeof(w));
}

void
b64_encode(const void *in, size_t n, char *out)
{
	encode(in, n, out, 0);
}

/* b64_encode by table, for bytes that are not secret. */
void
b64_encode_public(const void *in, size_t n, char *out)
{
	encode(in, n, out, 1);
}

/* The next index at or after i that is not CR or LF. */
static size_t
skip_nl(const char *in, size_t len, size_t i)
{
	while (i < len && (in[i] == '\r' || in[i] == '\n'))
		i++;
	return i;
}

/*
 * The value plus one of a character for bytes that are not secret (a
 * ciphertext, a context), by table: 0 outside the alphabet, and for CR, LF
 * and '=', which the quantum loop below leaves to the general one.
 */
static const uint8_t pub_val[256] = {
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 63,  0,  0,  0, 64,
	53, 54, 55, 56, 57, 58, 59, 60, 61, 62,  0,  0,  0,  0,  0,  0,
	 0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14, 15,
	16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26,  0,  0,  0,  0,  0,
	 0, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41,
	42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 52,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,
};

/*
 * What Go's decoder (base64.StdEncoding, not Strict) accepts: '=' may only
 * stand at position 2 of a quantum followed by a second '=', or at position
 * 3; after the padding only CR and LF may follow; a quantum cut short
 * without padding is an error; the unused low bits of the last symbol are
 * not checked. public: the input is not secret, so whole quanta of four
 * alphabet characters go by table, and only the rest (CR, LF, padding,
 * an error) through the character loop; the result is the same.
 */
static inline __attribute__((always_inline)) int
decode(const char *in, size_t len, uint8_t *out, size_t *outlen,
    int public)
{
	uint32_t	 acc = 0;
	size_t		 i = 0, o = 0;
	int		 j = 0, v, bad = 0, r = -1;
	int		 a, b, c, d;

	for (;;) {
		while (public && j == 0 && i + 4 <= len) {
			a = pub_val[(unsigned char)in[i]] - 1;
			b = pub_val[(unsigned char)in[i + 1]] - 1;
			c = pub_val[(unsigned char)in[i + 2]] - 1;
			d = pub_val[(unsigned char)in[i + 3]] - 1;
			if ((a | b | c | d) < 0)
				break;
			acc = (uint32_t)a << 18 | (uint32_t)b << 12 |
			    (uint32_t)c << 6 | (uint32_t)d;
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			i += 4;
		}
		i = skip_nl(in, len, i);
		if (i == len)
			break;
		if (in[i] == '=') {
			/* "x=", "=": too little data before the padding. */
			if (j < 2)
				goto out;
			i++;
			if (j == 2) {
				i = skip_nl(in, len, i);
				if (i == len || in[i] != '=')
					goto out;
				i++;
			}
			if (skip_nl(in, len, i) != len)
				goto out;
			acc <<= 6 * (4 - j);
			out[o++] = (uint8_t)(acc >> 16);
			if (j == 3)
				out[o++] = (uint8_t)(acc >> 8);
			j = 0;
			break;
		}
		v = val((unsigned char)in[i++]);
		bad |= v;	/* negative once any character was invalid */
		acc = acc << 6 | ((uint32_t)v & 0x3f);
		if (++j == 4) {
			out[o++] = (uint8_t)(acc >> 16);
			out[o++] = (uint8_t)(acc >> 8);
			out[o++] = (uint8_t)acc;
			acc = 0;
			j = 0;
		}
	}
	if (j != 0 || bad < 0)
		goto out;
	*outlen = o;
	r = 0;
 out:
	if (r == -1)
		explicit_bzero(out, o);
	explicit_bzero(&acc, sizeof(acc));
	return r;
}

int
b64_decode(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	return decode(in, len, out, outlen, 0);
}

int
b64_decode_public(const char *in, size_t len, uint8_t *out, size_t *outlen)
{
	return decode(in, len, out, outlen, 1);
}
