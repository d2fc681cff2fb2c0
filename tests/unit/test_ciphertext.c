/* Unit tests for common/ciphertext.c: KES ciphertexts (spec 5.2-5.5). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/ciphertext.h"
#include "common/kes_key.h"
/*
 * The KAT_* vectors come from tests/data/kat/gen_vectors.py, not from this
 * code: AES-256-GCM and ChaCha20-Poly1305 by python3-cryptography, the
 * HMAC-SHA256 derivation by Python's hmac module (checked against
 * `openssl mac`), HChaCha20 by a Python transcription of the draft checked
 * against the draft's vector and OpenSSL's ChaCha20 keystream, the msgpack
 * containers byte by byte and the JSON ones by Python's json module.
 */
#include "tests/data/kat/vectors.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define AAD		((const uint8_t *)KAT_AAD)
#define AADLEN		(sizeof(KAT_AAD) - 1)
#define CT_MAX		2048

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void
init(void)
{
	cr_assert_eq(kes_crypto_init(), 0);
}

static struct kes_key
key_of(uint8_t type)
{
	struct kes_key k;

	memset(&k, 0, sizeof(k));
	k.type = type;
	memcpy(k.key, KAT_KEY, 32);
	return k;
}

/* Opens to KAT_PT under aad. */
static void
assert_opens(const struct kes_key *k, const void *ct, size_t len,
    const char *what)
{
	uint8_t	out[CT_MAX];
	size_t	n = 0;

	cr_assert_eq(kes_open(&k->secret, ct, len, AAD, AADLEN, out, &n), 0, "%s",
	    what);
	cr_assert_eq(n, sizeof(KAT_PT), "%s", what);
	cr_assert_arr_eq(out, KAT_PT, n, "%s", what);
}

static int
try_open(const struct kes_key *k, const void *ct, size_t len)
{
	uint8_t	out[CT_MAX];
	size_t	n;

	return kes_open(&k->secret, ct, len, AAD, AADLEN, out, &n);
}

TestSuite(ciphertext, .init = init);

/* --- HChaCha20 --- */

/* draft-irtf-cfrg-xchacha-03, section 2.2.1. */
Test(ciphertext, hchacha20_draft_vector)
{
	static const uint8_t in[16] = { 0x00, 0x00, 0x00, 0x09, 0x00, 0x00,
	    0x00, 0x4a, 0x00, 0x00, 0x00, 0x00, 0x31, 0x41, 0x59, 0x27 };
	static const uint8_t want[32] = {
		0x82, 0x41, 0x3b, 0x42, 0x27, 0xb2, 0x7b, 0xfe,
		0xd3, 0x0e, 0x42, 0x50, 0x8a, 0x87, 0x7d, 0x73,
		0xa0, 0xf9, 0xe4, 0xd5, 0x8a, 0x74, 0xa8, 0x53,
		0xc1, 0x2e, 0xc4, 0x13, 0x26, 0xd3, 0xec, 0xdc,
	};
	uint8_t key[32], out[32];
	int	i;

	for (i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	kes_hchacha20(key, in, out);
	cr_assert_arr_eq(out, want, 32);
	kes_hchacha20(KAT_KEY, KAT_IV, out);
	cr_assert_arr_eq(out, KAT_HCHACHA_OUT, 32);
}

/* --- raw format: known answers --- */

Test(ciphertext, kat_raw_seal)
{
	static const struct { uint8_t type; const uint8_t *pt; size_t ptlen;
	    const uint8_t *aad; size_t aadlen; const uint8_t *want;
	    size_t wantlen; } t[] = {
		{ KES_KEY_AES256, KAT_PT, 32, AAD, AADLEN, KAT_RAW_AES,
		    sizeof(KAT_RAW_AES) },
		{ KES_KEY_CHACHA20, KAT_PT, 32, AAD, AADLEN, KAT_RAW_CHACHA,
		    sizeof(KAT_RAW_CHACHA) },
		{ KES_KEY_AES256, (const uint8_t *)"hello", 5, NULL, 0,
		    KAT_RAW_AES_NOAAD, sizeof(KAT_RAW_AES_NOAAD) },
		{ KES_KEY_CHACHA20, (const uint8_t *)"hello", 5, NULL, 0,
		    KAT_RAW_CHACHA_NOAAD, sizeof(KAT_RAW_CHACHA_NOAAD) },
	};
	struct kes_key	k;
	uint8_t		ct[CT_MAX], pt[CT_MAX];
	size_t		i, n;

	for (i = 0; i < NELEM(t); i++) {
		k = key_of(t[i].type);
		cr_assert_eq(t[i].ptlen + KES_CT_OVERHEAD, t[i].wantlen);
		cr_assert_eq(kes_seal(&k.secret, KAT_IV, KAT_NONCE, t[i].pt,
		    t[i].ptlen, t[i].aad, t[i].aadlen, ct), 0);
		cr_assert_arr_eq(ct, t[i].want, t[i].wantlen, "vector %zu", i);
		cr_assert_eq(kes_open(&k.secret, t[i].want, t[i].wantlen, t[i].aad,
		    t[i].aadlen, pt, &n), 0, "vector %zu", i);
		cr_assert_eq(n, t[i].ptlen);
		cr_assert_arr_eq(pt, t[i].pt, n);
		/* An empty context is the same as none. */
		if (t[i].aadlen == 0)
			cr_assert_eq(kes_open(&k.secret, t[i].want, t[i].wantlen,
			    (const uint8_t *)"", 0, pt, &n), 0);
	}
}

/* Raw has no algorithm marker: the key's type decides. */
Test(ciphertext, raw_uses_key_type)
{
	struct kes_key aes = key_of(KES_KEY_AES256);
	struct kes_key cc = key_of(KES_KEY_CHACHA20);
	struct kes_key bad = key_of(0);

	assert_opens(&aes, KAT_RAW_AES, sizeof(KAT_RAW_AES), "aes");
	assert_opens(&cc, KAT_RAW_CHACHA, sizeof(KAT_RAW_CHACHA), "chacha");
	cr_assert_eq(try_open(&cc, KAT_RAW_AES, sizeof(KAT_RAW_AES)), -1);
	cr_assert_eq(try_open(&aes, KAT_RAW_CHACHA, sizeof(KAT_RAW_CHACHA)),
	    -1);
	cr_assert_eq(try_open(&bad, KAT_RAW_AES, sizeof(KAT_RAW_AES)), -1);
}

Test(ciphertext, wrong_context_or_key)
{
	struct kes_key	k = key_of(KES_KEY_AES256);
	uint8_t		out[CT_MAX];
	size_t		n;

	cr_assert_eq(kes_open(&k.secret, KAT_RAW_AES, sizeof(KAT_RAW_AES), AAD,
	    AADLEN - 1, out, &n), -1);
	cr_assert_eq(kes_open(&k.secret, KAT_RAW_AES, sizeof(KAT_RAW_AES), NULL, 0,
	    out, &n), -1);
	k.key[31] ^= 1;
	cr_assert_eq(try_open(&k, KAT_RAW_AES, sizeof(KAT_RAW_AES)), -1);
}

/* --- msgpack format --- */

Test(ciphertext, kat_msgpack)
{
	static const struct { const uint8_t *ct; size_t len;
	    const char *what; } t[] = {
		{ KAT_MP_AES256, sizeof(KAT_MP_AES256), "AES256" },
		{ KAT_MP_AES256_GCM, sizeof(KAT_MP_AES256_GCM),
		    "AES256-GCM_SHA256" },
		{ KAT_MP_CHACHA20, sizeof(KAT_MP_CHACHA20), "ChaCha20" },
		{ KAT_MP_XCHACHA, sizeof(KAT_MP_XCHACHA),
		    "XCHACHA20-POLY1305" },
		{ KAT_MP_CHACHA20_STR8, sizeof(KAT_MP_CHACHA20_STR8),
		    "str8 algorithm, str16 id, bin16 bytes" },
		{ KAT_MP_AES256_WIDE, sizeof(KAT_MP_AES256_WIDE),
		    "str32 algorithm, bin16/32" },
	};
	struct kes_key	aes = key_of(KES_KEY_AES256);
	struct kes_key	cc = key_of(KES_KEY_CHACHA20);
	size_t		i;

	/* The embedded algorithm is used whatever the key's type. */
	for (i = 0; i < NELEM(t); i++) {
		assert_opens(&aes, t[i].ct, t[i].len, t[i].what);
		assert_opens(&cc, t[i].ct, t[i].len, t[i].what);
	}
}

/* A copy of a msgpack vector with [off, off + n) replaced by rep. */
static size_t
splice(uint8_t *dst, const uint8_t *src, size_t len, size_t off, size_t n,
    const void *rep, size_t replen)
{
	memcpy(dst, src, off);
	memcpy(dst + off, rep, replen);
	memcpy(dst + off + replen, src + off + n, len - off - n);
	return len - n + replen;
}

Test(ciphertext, msgpack_malformed)
{
	struct kes_key	k = key_of(KES_KEY_AES256);
	const uint8_t	*v = KAT_MP_AES256;
	size_t		 len = sizeof(KAT_MP_AES256), n;
	uint8_t		 m[CT_MAX];
	/* 0x95, fixstr "AES256" (7), str8 id (2 + 32), bin8 iv at 42 */
	const size_t	 iv = 1 + 7 + 34;

	cr_assert_eq(v[1], 0xa6);
	cr_assert_eq(v[iv], 0xc4);
	/* Trailing byte. */
	memcpy(m, v, len);
	m[len] = 0;
	cr_assert_eq(try_open(&k, m, len + 1), -1);
	/* Not five elements. */
	memcpy(m, v, len);
	m[0] = 0x94;
	cr_assert_eq(try_open(&k, m, len), -1);
	/* Unknown algorithm names, JSON names included. */
	n = splice(m, v, len, 1, 7, "\xa6" "AES257", 7);
	cr_assert_eq(try_open(&k, m, n), -1);
	n = splice(m, v, len, 1, 7, "\xb8" "AES-256-GCM-HMAC-SHA-256", 25);
	cr_assert_eq(try_open(&k, m, n), -1);
	n = splice(m, v, len, 1, 7, "\xa6" "aes256", 7);
	cr_assert_eq(try_open(&k, m, n), -1);
	n = splice(m, v, len, 1, 7, "\xa7" "AES256\0", 8);
	cr_assert_eq(try_open(&k, m, n), -1);
	/* The algorithm as bin, the iv as str. */
	n = splice(m, v, len, 1, 1, "\xc4\x06", 2);
	cr_assert_eq(try_open(&k, m, n), -1);
	memcpy(m, v, len);
	m[iv] = 0xd9;
	cr_assert_eq(try_open(&k, m, len), -1);
	/* iv of 15 and 17 bytes. */
	n = splice(m, v, len, iv, 3, "\xc4\x0f", 2);
	cr_assert_eq(try_open(&k, m, n), -1);
	n = splice(m, v, len, iv, 2, "\xc4\x11\x00", 3);
	cr_assert_eq(try_open(&k, m, n), -1);
	/* Any key id is fine: the tag decides. */
	memcpy(m, v, len);
	m[10] ^= 0x01;
	assert_opens(&k, m, len, "other id");
	/* A wrong algorithm name fails authentication. */
	n = splice(m, v, len, 1, 7, "\xa8" "ChaCha20", 9);
	cr_assert_eq(try_open(&k, m, n), -1);
}

/* --- JSON format --- */

Test(ciphertext, kat_json)
{
	static const char *t[] = { KAT_JSON_AES, KAT_JSON_AES_ID,
	    KAT_JSON_CHACHA, KAT_JSON_CHACHA_ID };
	struct kes_key	aes = key_of(KES_KEY_AES256);
	struct kes_key	cc = key_of(KES_KEY_CHACHA20);
	size_t		i;

	for (i = 0; i < NELEM(t); i++) {
		assert_opens(&aes, t[i], strlen(t[i]), t[i]);
		assert_opens(&cc, t[i], strlen(t[i]), t[i]);
	}
}

/* Spec 5.4: a ChaCha20Poly1305 JSON ciphertext under a key stored
 * without "algorithm" (so an AES256 key) decrypts. */
Test(ciphertext, json_chacha_under_legacy_key)
{
	struct kes_key k;

	cr_assert_eq(kes_key_decode((const uint8_t *)KAT_LEGACY_KEY,
	    strlen(KAT_LEGACY_KEY), &k), 0);
	cr_assert_eq(k.type, KES_KEY_AES256);
	assert_opens(&k, KAT_JSON_CHACHA, strlen(KAT_JSON_CHACHA), "json");
	assert_opens(&k, KAT_JSON_CHACHA_ID, strlen(KAT_JSON_CHACHA_ID),
	    "json id");
	assert_opens(&k, KAT_MP_XCHACHA, sizeof(KAT_MP_XCHACHA), "msgpack");
	/* Raw ChaCha20 ciphertexts have no marker: the key's type rules. */
	cr_assert_eq(try_open(&k, KAT_RAW_CHACHA, sizeof(KAT_RAW_CHACHA)),
	    -1);
	kes_key_wipe(&k);
}

/* Replace the first occurrence of from in s by to. */
static char *
subst(const char *s, const char *from, const char *to)
{
	const char	*p = strstr(s, from);
	char		*r;

	cr_assert_not_null(p, "%s not in %s", from, s);
	r = malloc(strlen(s) - strlen(from) + strlen(to) + 1);
	memcpy(r, s, (size_t)(p - s));
	strcpy(r + (p - s), to);
	strcat(r, p + strlen(from));
	return r;
}

Test(ciphertext, json_go_rules)
{
	static const struct { const char *from, *to; int ok; } t[] = {
		/* Keys are case-insensitive; long s folds to 's'. */
		{ "\"aead\"", "\"AEAD\"", 0 },
		{ "\"iv\"", "\"IV\"", 0 },
		{ "\"nonce\"", "\"NoNcE\"", 0 },
		{ "\"bytes\"", "\"byte\xc5\xbf\"", 0 },
		/* Dotless i does not fold to 'i': an unknown field, so a
		 * value of any type is ignored. */
		{ "\"id\":\"630dcd2966c4336691125448bbb25b4f\"",
		    "\"\xc4\xb1" "d\":5", 0 },
		/* Unknown fields of any type, whitespace, newlines in b64. */
		{ "{", "{\"version\":\"v1\",\"x\":[1,2,{}],", 0 },
		{ "{", "{ \n", 0 },
		/* Only a leading '{' makes it JSON to KES, not whitespace. */
		{ "{", " {", -1 },
		{ "==\"", "=\\r\\n=\"", 0 },
		{ "\"id\":\"", "\"id\":null,\"ID\":\"", 0 },
		/* The aead names are exact. */
		{ "ChaCha20Poly1305", "chacha20poly1305", -1 },
		{ "ChaCha20Poly1305", "ChaCha20", -1 },
		{ "ChaCha20Poly1305", "XCHACHA20-POLY1305", -1 },
		{ "ChaCha20Poly1305", "AES-256-GCM", -1 },
		/* Wrong types, wrong lengths, trailing data. */
		{ "\"id\":\"630dcd2966c4336691125448bbb25b4f\"", "\"id\":5",
		    -1 },
		{ "\"aead\":\"ChaCha20Poly1305\"", "\"aead\":null", -1 },
		{ "\"8PHy8/T19vf4+fr7/P3+/w==\"", "\"8PHy8/T19vf4+fr7/P3+\"",
		    -1 },
		{ "\"wMHCw8TFxsfIycrL\"", "\"wMHCw8TFxsfIycrLzM0=\"", -1 },
		{ "\"wMHCw8TFxsfIycrL\"", "[192,193]", -1 },
		{ "\"wMHCw8TFxsfIycrL\"", "\"wMHCw8TFxsfIycr\"", -1 },
		{ "}", "}}", -1 },
		{ "}", "} x", -1 },
		{ "}", ",}", -1 },
	};
	struct kes_key	k = key_of(KES_KEY_AES256);
	char		*m;
	size_t		 i;

	for (i = 0; i < NELEM(t); i++) {
		m = subst(KAT_JSON_CHACHA_ID, t[i].from, t[i].to);
		if (t[i].ok == 0)
			assert_opens(&k, m, strlen(m), m);
		else
			cr_assert_eq(try_open(&k, m, strlen(m)), -1, "%s", m);
		free(m);
	}
	/* Trailing whitespace is part of a complete value. */
	m = subst(KAT_JSON_AES, "}", "}\r\n\t ");
	assert_opens(&k, m, strlen(m), m);
	free(m);
}

/* --- fallback to raw (spec 5.4) --- */

/* Raw ciphertexts that happen to start with 0x95 or '{' open as raw. */
Test(ciphertext, legacy_lookalikes_fall_back_to_raw)
{
	struct kes_key	k;
	uint8_t		nonce[KES_NONCE_LEN], ct[CT_MAX];
	int		found, i, t;
	uint8_t		want[2] = { 0x95, '{' };

	for (t = 0; t < 2; t++) {
		k = key_of(t ? KES_KEY_CHACHA20 : KES_KEY_AES256);
		memcpy(nonce, KAT_NONCE, sizeof(nonce));
		for (found = 0, i = 0; i < 65536 && !found; i++) {
			nonce[0] = (uint8_t)i;
			nonce[1] = (uint8_t)(i >> 8);
			cr_assert_eq(kes_seal(&k.secret, KAT_IV, nonce, KAT_PT, 32,
			    AAD, AADLEN, ct), 0);
			found = ct[0] == want[t];
		}
		cr_assert(found);
		assert_opens(&k, ct, 32 + KES_CT_OVERHEAD, "lookalike");
	}
}

/* --- round trips, HMAC, bounds --- */

Test(ciphertext, roundtrip_random)
{
	struct kes_key	k;
	uint8_t		pt[600], aad[100], iv[16], nonce[12];
	uint8_t		ct[700], back[700];
	uint64_t	s = 77;
	size_t		i, j, ptlen, aadlen, n;

	for (i = 0; i < 600; i++) {
		k = key_of(i & 1 ? KES_KEY_AES256 : KES_KEY_CHACHA20);
		for (j = 0; j < 32; j++)
			k.key[j] = (uint8_t)rnd(&s);
		for (j = 0; j < 16; j++)
			iv[j] = (uint8_t)rnd(&s);
		for (j = 0; j < 12; j++)
			nonce[j] = (uint8_t)rnd(&s);
		ptlen = i;
		aadlen = rnd(&s) % sizeof(aad);
		for (j = 0; j < ptlen; j++)
			pt[j] = (uint8_t)rnd(&s);
		for (j = 0; j < aadlen; j++)
			aad[j] = (uint8_t)rnd(&s);
		cr_assert_eq(kes_seal(&k.secret, iv, nonce, pt, ptlen, aad, aadlen,
		    ct), 0);
		cr_assert_arr_eq(ct + ptlen + 16, iv, 16);
		cr_assert_arr_eq(ct + ptlen + 32, nonce, 12);
		cr_assert_eq(kes_open(&k.secret, ct, ptlen + KES_CT_OVERHEAD, aad,
		    aadlen, back, &n), 0, "len %zu", ptlen);
		cr_assert_eq(n, ptlen);
		cr_assert(ptlen == 0 || memcmp(back, pt, ptlen) == 0);
	}
}

Test(ciphertext, short_inputs)
{
	struct kes_key	k = key_of(KES_KEY_AES256);
	uint8_t		ct[64], out[64];
	size_t		len, n;

	/* An empty plaintext seals to 44 bytes and opens to nothing. */
	cr_assert_eq(kes_seal(&k.secret, KAT_IV, KAT_NONCE, NULL, 0, NULL, 0, ct),
	    0);
	cr_assert_eq(kes_open(&k.secret, ct, KES_CT_OVERHEAD, NULL, 0, out, &n), 0);
	cr_assert_eq(n, 0);
	/* Anything shorter is rejected, down to nothing at all. */
	for (len = 0; len < KES_CT_OVERHEAD; len++)
		cr_assert_eq(kes_open(&k.secret, ct, len, NULL, 0, out, &n), -1);
	cr_assert_eq(kes_open(&k.secret, NULL, 0, NULL, 0, out, &n), -1);
}

Test(ciphertext, hmac)
{
	struct kes_key	k = key_of(KES_KEY_AES256);
	uint8_t		out[32];

	memset(out, 0xaa, sizeof(out));
	cr_assert_eq(kes_hmac(&k.secret, (const uint8_t *)"x", 1, out), -1);
	k.has_hmac = true;
	memcpy(k.hmac, KAT_HMAC_KEY, 32);
	cr_assert_eq(kes_hmac(&k.secret, (const uint8_t *)KAT_HMAC_MSG,
	    strlen(KAT_HMAC_MSG), out), 0);
	cr_assert_arr_eq(out, KAT_HMAC_OUT, 32);
	/* The HMAC key is its own, not the encryption key. */
	memcpy(k.hmac, KAT_KEY, 32);
	cr_assert_eq(kes_hmac(&k.secret, (const uint8_t *)KAT_HMAC_MSG,
	    strlen(KAT_HMAC_MSG), out), 0);
	cr_assert(memcmp(out, KAT_HMAC_OUT, 32) != 0);
	/* Interleaved with derivations, which share the MAC context. */
	memcpy(k.hmac, KAT_HMAC_KEY, 32);
	assert_opens(&k, KAT_RAW_AES, sizeof(KAT_RAW_AES), "raw");
	cr_assert_eq(kes_hmac(&k.secret, (const uint8_t *)KAT_HMAC_MSG,
	    strlen(KAT_HMAC_MSG), out), 0);
	cr_assert_arr_eq(out, KAT_HMAC_OUT, 32);
}

Test(ciphertext, init_and_default_type)
{
	uint8_t	t = kes_default_key_type();
	FILE	*f;
	char	 line[8192];
	int	 aes = 0, pclmul = 0;

	cr_assert_eq(kes_crypto_init(), 0);	/* again: no-op */
	cr_assert(t == KES_KEY_AES256 || t == KES_KEY_CHACHA20);
#if defined(__x86_64__)
	/* Agrees with the kernel's view of the CPU. */
	if ((f = fopen("/proc/cpuinfo", "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		aes = strstr(line, " aes") != NULL;
		pclmul = strstr(line, " pclmulqdq") != NULL;
		break;
	}
	fclose(f);
	cr_assert_eq(t, aes && pclmul ? KES_KEY_AES256 : KES_KEY_CHACHA20);
#else
	(void)f;
	(void)line;
	(void)aes;
	(void)pclmul;
#endif
}

/* --- mutations --- */

/* Every byte flipped (each bit) and every truncation of a raw ciphertext
 * fails, and leaves the output wiped. */
Test(ciphertext, mutations_raw)
{
	static const struct { const uint8_t *ct; size_t len; uint8_t type; }
	    t[] = {
		{ KAT_RAW_AES, sizeof(KAT_RAW_AES), KES_KEY_AES256 },
		{ KAT_RAW_CHACHA, sizeof(KAT_RAW_CHACHA), KES_KEY_CHACHA20 },
	};
	struct kes_key	k;
	uint8_t		m[128], out[128];
	size_t		i, j, n, o;
	int		bit;

	for (j = 0; j < NELEM(t); j++) {
		k = key_of(t[j].type);
		for (i = 0; i < t[j].len; i++) {
			for (bit = 0; bit < 8; bit++) {
				memcpy(m, t[j].ct, t[j].len);
				m[i] ^= (uint8_t)(1 << bit);
				memset(out, 0xaa, sizeof(out));
				cr_assert_eq(kes_open(&k.secret, m, t[j].len, AAD,
				    AADLEN, out, &n), -1);
				for (o = 0; o < t[j].len; o++)
					cr_assert_eq(out[o], 0);
			}
			cr_assert_eq(try_open(&k, t[j].ct, i), -1);
		}
	}
}

/* Legacy containers carry fields the tag does not cover (the key id, the
 * spelling of keys in JSON), so a mutation may still open, but only ever
 * to the right plaintext. Every byte set to every value, every
 * truncation. */
Test(ciphertext, mutations_legacy)
{
	static const struct { const void *ct; size_t len; } t[] = {
		{ KAT_MP_AES256, sizeof(KAT_MP_AES256) },
		{ KAT_MP_XCHACHA, sizeof(KAT_MP_XCHACHA) },
		{ KAT_MP_CHACHA20_STR8, sizeof(KAT_MP_CHACHA20_STR8) },
		{ KAT_MP_AES256_WIDE, sizeof(KAT_MP_AES256_WIDE) },
		{ KAT_JSON_AES_ID, sizeof(KAT_JSON_AES_ID) - 1 },
		{ KAT_JSON_CHACHA, sizeof(KAT_JSON_CHACHA) - 1 },
	};
	struct kes_key	k = key_of(KES_KEY_AES256);
	uint8_t		m[CT_MAX], out[CT_MAX];
	size_t		i, j, n;
	int		v, opened;

	for (j = 0; j < NELEM(t); j++) {
		opened = 0;
		for (i = 0; i < t[j].len; i++) {
			for (v = 0; v < 256; v++) {
				memcpy(m, t[j].ct, t[j].len);
				if (m[i] == v)
					continue;
				m[i] = (uint8_t)v;
				if (kes_open(&k.secret, m, t[j].len, AAD, AADLEN,
				    out, &n) == 0) {
					opened++;
					cr_assert_eq(n, 32);
					cr_assert_arr_eq(out, KAT_PT, 32);
				}
			}
			cr_assert_eq(try_open(&k, t[j].ct, i), -1,
			    "vector %zu cut at %zu", j, i);
		}
		/* Each has a byte the tag does not cover: a key id (the
		 * empty str16 id of STR8 can become fixstr "\0\0"), or the
		 * case of a JSON key. */
		cr_assert_gt(opened, 0, "vector %zu", j);
	}
}
