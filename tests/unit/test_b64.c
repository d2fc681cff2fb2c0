/* Unit tests for common/b64.c: Go's base64.StdEncoding. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/b64.h"

/* Deterministic PRNG so a failing case is reproducible. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
dec(const char *s, uint8_t *out, size_t *n)
{
	return b64_decode(s, strlen(s), out, n);
}

/* --- known answers --- */

/* RFC 4648 section 10. */
Test(b64, rfc4648_vectors)
{
	static const char *plain[] = { "", "f", "fo", "foo", "foob",
	    "fooba", "foobar" };
	static const char *text[] = { "", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
	    "Zm9vYmE=", "Zm9vYmFy" };
	char	e[16];
	uint8_t	d[16];
	size_t	i, n;

	for (i = 0; i < 7; i++) {
		cr_assert_eq(b64_encoded_len(strlen(plain[i])),
		    strlen(text[i]));
		b64_encode(plain[i], strlen(plain[i]), e);
		cr_assert_str_eq(e, text[i]);
		cr_assert_eq(dec(text[i], d, &n), 0, "%s", text[i]);
		cr_assert_eq(n, strlen(plain[i]));
		cr_assert_arr_eq(d, plain[i], n);
	}
}

/* Random data against OpenSSL's own encoder (EVP_EncodeBlock). */
Test(b64, matches_openssl)
{
	uint8_t		in[300], back[300];
	char		mine[401];
	unsigned char	theirs[402];
	uint64_t	s = 0x9e3779b97f4a7c15ull;
	size_t		len, i, n;

	for (len = 0; len <= sizeof(in); len++) {
		for (i = 0; i < len; i++)
			in[i] = (uint8_t)rnd(&s);
		b64_encode(in, len, mine);
		cr_assert_eq(EVP_EncodeBlock(theirs, in, (int)len),
		    (int)b64_encoded_len(len));
		cr_assert_str_eq(mine, (char *)theirs, "len %zu", len);
		cr_assert_leq(len, b64_decoded_max(strlen(mine)));
		cr_assert_eq(dec(mine, back, &n), 0);
		cr_assert_eq(n, len);
		cr_assert(len == 0 || memcmp(back, in, len) == 0);
	}
}

Test(b64, every_symbol)
{
	static const char alpha[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	uint8_t	raw[48], back[48];
	char	e[65];
	size_t	i, n;

	/* 64 symbols in order are 48 bytes whose 6-bit groups count up. */
	cr_assert_eq(dec(alpha, raw, &n), 0);
	cr_assert_eq(n, 48);
	for (i = 0; i < 64; i++) {
		size_t bit = i * 6;
		unsigned v = 0, k;

		for (k = 0; k < 6; k++, bit++)
			v = v << 1 | ((raw[bit / 8] >> (7 - bit % 8)) & 1);
		cr_assert_eq(v, i);
	}
	b64_encode(raw, 48, e);
	cr_assert_str_eq(e, alpha);
	cr_assert_eq(dec(e, back, &n), 0);
	cr_assert_arr_eq(back, raw, 48);
}

/* --- Go's rules --- */

Test(b64, newlines_skipped_anywhere)
{
	static const char *ok[] = { "Zm\r\n9v", "\nZm9v", "Zm9v\r\n",
	    "Z\rm\n9\rv", "Zg=\n=", "Zg\r\n==", "Zg==\n\r\n", "Zm8\n=",
	    "\r\n", "\n\n\n", "Zm9vYmFy\n", "Zm9v\nYmFy" };
	uint8_t	d[8];
	size_t	i, n;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(dec(ok[i], d, &n), 0, "%s", ok[i]);
	cr_assert_eq(dec("Zg=\n=", d, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(d[0], 'f');
	cr_assert_eq(dec("\r\n", d, &n), 0);
	cr_assert_eq(n, 0);
}

/* StdEncoding is not Strict: the unused low bits may be set. */
Test(b64, trailing_bits_accepted)
{
	uint8_t	d[4];
	size_t	n;

	cr_assert_eq(dec("Zh==", d, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_eq(d[0], 'f');
	cr_assert_eq(dec("Zm9=", d, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_arr_eq(d, "fo", 2);
	cr_assert_eq(dec("//8=", d, &n), 0);	/* ff ff, canonical */
	cr_assert_eq(dec("//9=", d, &n), 0);	/* same bytes, bits set */
	cr_assert_eq(n, 2);
	cr_assert_eq(d[0], 0xff);
	cr_assert_eq(d[1], 0xff);
}

Test(b64, rejects)
{
	static const char *bad[] = {
		"Zg", "Zm8", "Z", "Zm9vY",		/* unpadded */
		"=", "==", "Z=", "Z==", "Z===", "====",	/* early padding */
		"Zg=", "Zg=x", "Zg=\n", "Zm9v=", "Zm9v====", "Zm8==",
		"Zg==Zg==", "Zg==x", "Zm8=Zm8=",	/* data after padding */
		"Zm9v!", " Zm9v", "Zm9v ", "Zm-v", "Zm_v", "Zm9\tv",
		"Zm9v.", "Zm9v\x80", "\xffZm9", "Zm9v\"",
	};
	uint8_t	d[16];
	size_t	i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(dec(bad[i], d, &n), -1, "%s", bad[i]);
	/* An embedded NUL is just another invalid byte. */
	cr_assert_eq(b64_decode("Zm\0v", 4, d, &n), -1);
}

Test(b64, output_wiped_on_error)
{
	uint8_t	d[16];
	size_t	n = 99, i;

	memset(d, 0xaa, sizeof(d));
	cr_assert_eq(dec("Zm9vYmFyYm!6", d, &n), -1);
	for (i = 0; i < 9; i++)
		cr_assert_eq(d[i], 0, "byte %zu", i);
	cr_assert_eq(n, 99);	/* untouched on error */
}

Test(b64, lengths)
{
	cr_assert_eq(b64_encoded_len(0), 0);
	cr_assert_eq(b64_encoded_len(1), 4);
	cr_assert_eq(b64_encoded_len(32), 44);
	cr_assert_eq(b64_encoded_len(33), 44);
	cr_assert_eq(b64_decoded_max(44), 33);
	cr_assert_eq(b64_decoded_max(3), 0);
}

/* --- mutations --- */

/* Every byte of a valid text replaced by every value, and every
 * truncation: decoding either fails or yields a plausible length, and
 * never writes past b64_decoded_max. */
Test(b64, mutations)
{
	uint8_t	raw[32], out[64];
	char	text[45], m[45];
	size_t	i, n, len;
	int	v, ok = 0;
	uint64_t s = 42;

	for (i = 0; i < sizeof(raw); i++)
		raw[i] = (uint8_t)rnd(&s);
	b64_encode(raw, 32, text);
	len = strlen(text);
	for (i = 0; i < len; i++) {
		for (v = 0; v < 256; v++) {
			memcpy(m, text, len + 1);
			m[i] = (char)v;
			memset(out, 0x5a, sizeof(out));
			if (b64_decode(m, len, out, &n) == 0) {
				ok++;
				/* 33 when the '=' became a symbol */
				cr_assert_leq(n, 33);
			}
			cr_assert_eq(out[b64_decoded_max(len)], 0x5a);
		}
	}
	cr_assert_gt(ok, 0);
	for (i = 0; i < len; i++) {
		int r = b64_decode(text, i, out, &n);

		/* Only whole quanta decode. */
		cr_assert_eq(r, i % 4 == 0 ? 0 : -1, "len %zu", i);
	}
}

/* --- b64_decode_public: the same answers as b64_decode ------------------- */

/* Both decoders on one input: the same result, length and bytes. */
static void
same(const char *in, size_t len)
{
	uint8_t	a[512], b[512];
	size_t	na = 7, nb = 7;
	int	ra, rb;

	cr_assert_leq(b64_decoded_max(len), sizeof(a));
	memset(a, 0x5a, sizeof(a));
	memset(b, 0x5a, sizeof(b));
	ra = b64_decode(in, len, a, &na);
	rb = b64_decode_public(in, len, b, &nb);
	cr_assert_eq(ra, rb, "%.*s: %d, public %d", (int)len, in, ra, rb);
	cr_assert_eq(na, nb, "%.*s", (int)len, in);
	cr_assert_arr_eq(a, b, sizeof(a), "%.*s", (int)len, in);
}

Test(b64, public_matches_constant_time)
{
	static const char *cases[] = {
		"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy",
		"Zg", "Zm8", "Z", "Zm9vY", "=", "==", "Z=", "Z==", "Z===",
		"====", "Zg=", "Zg=x", "Zg=\n", "Zm9v=", "Zm9v====", "Zm8==",
		"Zg==Zg==", "Zg==x", "Zm8=Zm8=", "Zm9v!", " Zm9v", "Zm9v ",
		"Zm-v", "Zm_v", "Zm9\tv", "Zm9v.", "Zm9v\x80", "\xffZm9",
		"Zm9v\"", "Zm\r\n9v", "\nZm9v\n", "Zm9vYm\nFy\r\n", "Zh==",
		"Zm9=", "AAAA", "////", "++++", "Zm9vYmFy\n=",
	};
	uint8_t		raw[300];
	char		text[420], m[840];
	uint64_t	s = 7;
	size_t		i, k, n, len;
	int		v;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		same(cases[i], strlen(cases[i]));
	same("Zm\0v", 4);

	/* Every byte of a text replaced by every value; every cut. */
	for (i = 0; i < 32; i++)
		raw[i] = (uint8_t)rnd(&s);
	b64_encode(raw, 31, text);
	len = strlen(text);
	for (i = 0; i < len; i++)
		for (v = 0; v < 256; v++) {
			memcpy(m, text, len + 1);
			m[i] = (char)v;
			same(m, len);
		}
	for (i = 0; i <= len; i++)
		same(text, i);

	/* Random lengths with CR, LF, '=' and stray bytes sprinkled in. */
	for (k = 0; k < 20000; k++) {
		n = rnd(&s) % 200;
		for (i = 0; i < n; i++)
			raw[i] = (uint8_t)rnd(&s);
		b64_encode(raw, n, text);
		len = 0;
		for (i = 0; text[i] != '\0'; i++) {
			switch (rnd(&s) % 64) {
			case 0:	m[len++] = '\n'; break;
			case 1:	m[len++] = '\r'; break;
			case 2:	m[len++] = '='; break;
			case 3:	m[len++] = (char)rnd(&s); break;
			default: break;
			}
			m[len++] = text[i];
		}
		same(m, len);
	}
}

/* b64_encode_public writes what b64_encode writes, for every length up
 * to 300 and random bytes. */
Test(b64, public_encoder_matches)
{
	uint8_t		raw[300];
	char		a[402], b[402];
	uint64_t	s = 11;
	size_t		i, n;

	for (n = 0; n <= sizeof(raw); n++) {
		for (i = 0; i < n; i++)
			raw[i] = (uint8_t)rnd(&s);
		memset(a, 'x', sizeof(a));
		memset(b, 'x', sizeof(b));
		b64_encode(raw, n, a);
		b64_encode_public(raw, n, b);
		cr_assert_arr_eq(a, b, sizeof(a), "length %zu", n);
	}
}
