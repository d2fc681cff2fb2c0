/* Unit tests for common/kes_key.c: stored KES key versions (spec 6.1). */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/gojson.h"
#include "common/gotime.h"
#include "common/kes_key.h"
/*
 * The KAT_* vectors come from tests/data/kat/gen_vectors.py: the protobuf
 * KeyVersions are serialised by python3-protobuf from a descriptor of
 * KES's crypto.proto, the legacy JSON values by Python's json module in
 * the four shapes of spec 6.1, and the expected times by calendar.timegm.
 */
#include "tests/data/kat/vectors.h"

#define KB	1024

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int
decode_str(const char *s, struct kes_key *k)
{
	return kes_key_decode((const uint8_t *)s, strlen(s), k);
}

static void
assert_wiped(const struct kes_key *k)
{
	static const struct kes_key zero;

	cr_assert(memcmp(k, &zero, sizeof(zero)) == 0, "not wiped");
}

static void
assert_same(const struct kes_key *a, const struct kes_key *b)
{
	cr_assert_eq(a->type, b->type);
	cr_assert_arr_eq(a->key, b->key, KES_KEY_LEN);
	cr_assert_eq(a->has_hmac, b->has_hmac);
	cr_assert_arr_eq(a->hmac, b->hmac, KES_KEY_LEN);
	cr_assert_eq(a->created_sec, b->created_sec);
	cr_assert_eq(a->created_nsec, b->created_nsec);
	cr_assert_str_eq(a->created_by, b->created_by);
}

/* As the crypto process runs: jansson's copies are wiped when freed. */
static void
init(void)
{
	gojson_init();
}

TestSuite(kes_key, .init = init);

/* --- a tiny protobuf writer for hand-made inputs --- */

struct pbw {
	uint8_t	b[2048];
	size_t	n;
};

static void
w_varint(struct pbw *w, uint64_t v)
{
	while (v >= 0x80) {
		w->b[w->n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	w->b[w->n++] = (uint8_t)v;
}

static void
w_tag(struct pbw *w, uint32_t f, int wt)
{
	w_varint(w, (uint64_t)f << 3 | (uint64_t)wt);
}

static void
w_bytes(struct pbw *w, uint32_t f, const void *p, size_t n)
{
	w_tag(w, f, 2);
	w_varint(w, n);
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void
w_raw(struct pbw *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

/* SecretKey / HMACKey { 1: key, 2: num } */
static void
w_subkey(struct pbw *w, uint32_t f, const uint8_t *key, size_t keylen,
    uint64_t num)
{
	struct pbw s = { .n = 0 };

	w_bytes(&s, 1, key, keylen);
	w_tag(&s, 2, 0);
	w_varint(&s, num);
	w_bytes(w, f, s.b, s.n);
}

/* The minimal valid KeyVersion: both keys, nothing else. */
static void
w_minimal(struct pbw *w)
{
	w_subkey(w, 1, KAT_KEY, 32, 1);
	w_subkey(w, 2, KAT_HMAC_KEY, 32, 1);
}

/* Decode base64(w) into k. */
static int
decode_pb(const struct pbw *w, struct kes_key *k)
{
	char	*t = malloc(b64_encoded_len(w->n) + 1);
	int	 r;

	b64_encode(w->b, w->n, t);
	r = decode_str(t, k);
	free(t);
	return r;
}

/* --- known answers --- */

Test(kes_key, kat_protobuf_decode)
{
	struct kes_key k;

	cr_assert_eq(decode_str(KAT_PB_CHACHA, &k), 0);
	cr_assert_eq(k.type, KES_KEY_CHACHA20);
	cr_assert_arr_eq(k.key, KAT_KEY, 32);
	cr_assert(k.has_hmac);
	cr_assert_arr_eq(k.hmac, KAT_HMAC_KEY, 32);
	cr_assert_eq(k.created_sec, KAT_PB_CHACHA_SEC);
	cr_assert_eq(k.created_nsec, KAT_PB_CHACHA_NSEC);
	cr_assert_str_eq(k.created_by, KAT_IDENTITY);

	cr_assert_eq(decode_str(KAT_PB_AES_ZERO, &k), 0);
	cr_assert_eq(k.type, KES_KEY_AES256);
	cr_assert_eq(k.created_sec, GOTIME_ZERO_SEC);
	cr_assert_eq(k.created_nsec, 0);
	cr_assert_str_eq(k.created_by, "");

	/* No CreatedAt: Timestamp.AsTime() of nil is the Unix epoch. */
	cr_assert_eq(decode_str(KAT_PB_NO_TIME, &k), 0);
	cr_assert_eq(k.created_sec, 0);
	cr_assert_eq(k.created_nsec, 0);
	kes_key_wipe(&k);
	assert_wiped(&k);
}

/* Our encoder writes what protobuf-go (here python3-protobuf) writes. */
Test(kes_key, kat_protobuf_encode)
{
	struct kes_key	k;
	struct buf	b;

	memset(&k, 0, sizeof(k));
	k.type = KES_KEY_CHACHA20;
	memcpy(k.key, KAT_KEY, 32);
	k.has_hmac = true;
	memcpy(k.hmac, KAT_HMAC_KEY, 32);
	k.created_sec = KAT_PB_CHACHA_SEC;
	k.created_nsec = KAT_PB_CHACHA_NSEC;
	strcpy(k.created_by, KAT_IDENTITY);
	buf_init(&b, 4 * KB);
	cr_assert_eq(kes_key_encode(&k, &b), 0);
	cr_assert_eq(b.len, strlen(KAT_PB_CHACHA));
	cr_assert_arr_eq(b.data, KAT_PB_CHACHA, b.len);

	buf_reset(&b);
	k.type = KES_KEY_AES256;
	k.created_sec = GOTIME_ZERO_SEC;
	k.created_nsec = 0;
	k.created_by[0] = '\0';
	cr_assert_eq(kes_key_encode(&k, &b), 0);
	cr_assert_eq(b.len, strlen(KAT_PB_AES_ZERO));
	cr_assert_arr_eq(b.data, KAT_PB_AES_ZERO, b.len);
	buf_release(&b);
}

Test(kes_key, kat_legacy_json)
{
	static const struct {
		const char	*v;
		uint8_t		 type;
		int64_t		 sec;
		int32_t		 nsec;
		bool		 by;
	} t[] = {
		{ KAT_LEGACY_V050, KES_KEY_AES256, GOTIME_ZERO_SEC, 0, false },
		{ KAT_LEGACY_V0192_AES, KES_KEY_AES256, KAT_T1_SEC,
		    KAT_T1_NSEC, true },
		{ KAT_LEGACY_V0192_CHACHA, KES_KEY_CHACHA20, KAT_T1_SEC,
		    KAT_T1_NSEC, true },
		{ KAT_LEGACY_V0223, KES_KEY_AES256, KAT_T2_SEC, KAT_T2_NSEC,
		    true },
		{ KAT_LEGACY_2023_AES, KES_KEY_AES256, KAT_T3_SEC,
		    KAT_T3_NSEC, true },
		{ KAT_LEGACY_2023_CHACHA, KES_KEY_CHACHA20, KAT_T3_SEC,
		    KAT_T3_NSEC, true },
	};
	struct kes_key	k;
	struct buf	b;
	size_t		i;

	buf_init(&b, 4 * KB);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(decode_str(t[i].v, &k), 0, "%s", t[i].v);
		cr_assert_eq(k.type, t[i].type, "%s", t[i].v);
		cr_assert_arr_eq(k.key, KAT_KEY_B, 32);
		cr_assert(!k.has_hmac);
		cr_assert_eq(k.created_sec, t[i].sec, "%s", t[i].v);
		cr_assert_eq(k.created_nsec, t[i].nsec, "%s", t[i].v);
		cr_assert_str_eq(k.created_by, t[i].by ? KAT_IDENTITY : "");
		/* No HMAC key: cannot be written in the current form. */
		cr_assert_eq(kes_key_encode(&k, &b), -1);
		cr_assert_eq(b.len, 0);
	}
	buf_release(&b);
}

/* --- round trips --- */

Test(kes_key, roundtrip_random)
{
	struct kes_key	k, back;
	struct buf	b;
	uint64_t	s = 0xfeedface;
	size_t		i, j, bylen;

	buf_init(&b, 4 * KB);
	for (i = 0; i < 2000; i++) {
		memset(&k, 0, sizeof(k));
		k.type = rnd(&s) & 1 ? KES_KEY_AES256 : KES_KEY_CHACHA20;
		for (j = 0; j < 32; j++) {
			k.key[j] = (uint8_t)rnd(&s);
			k.hmac[j] = (uint8_t)rnd(&s);
		}
		k.has_hmac = true;
		switch (i % 4) {
		case 0:	k.created_sec = 0; break;
		case 1:	k.created_sec = GOTIME_ZERO_SEC; break;
		case 2:	k.created_sec = (int64_t)rnd(&s); break;
		default: k.created_sec = (int64_t)(rnd(&s) % 4000000000u);
		}
		k.created_nsec = i % 5 ? (int32_t)(rnd(&s) % 1000000000) : 0;
		bylen = rnd(&s) % (KES_CREATED_BY_MAX + 1);
		for (j = 0; j < bylen; j++)
			k.created_by[j] = "0123456789abcdef"[rnd(&s) % 16];
		buf_reset(&b);
		cr_assert_eq(kes_key_encode(&k, &b), 0);
		cr_assert_eq(kes_key_decode(b.data, b.len, &back), 0);
		assert_same(&k, &back);
	}
	buf_release(&b);
}

Test(kes_key, encode_rejects)
{
	struct kes_key	k;
	struct buf	b;

	cr_assert_eq(decode_str(KAT_PB_CHACHA, &k), 0);
	buf_init(&b, 4 * KB);
	k.has_hmac = false;
	cr_assert_eq(kes_key_encode(&k, &b), -1);
	k.has_hmac = true;
	k.type = 0;
	cr_assert_eq(kes_key_encode(&k, &b), -1);
	k.type = 3;
	cr_assert_eq(kes_key_encode(&k, &b), -1);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
	/* A buffer too small for the value: fails, writes nothing. */
	k.type = KES_KEY_AES256;
	buf_init(&b, 16);
	cr_assert_eq(kes_key_encode(&k, &b), -1);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

Test(kes_key, type_names)
{
	cr_assert_str_eq(kes_key_type_name(KES_KEY_AES256), "AES256");
	cr_assert_str_eq(kes_key_type_name(KES_KEY_CHACHA20), "ChaCha20");
	cr_assert_null(kes_key_type_name(0));
	cr_assert_null(kes_key_type_name(3));
	cr_assert_eq(kes_key_type_parse("AES256"), KES_KEY_AES256);
	cr_assert_eq(kes_key_type_parse("AES256-GCM_SHA256"), KES_KEY_AES256);
	cr_assert_eq(kes_key_type_parse("ChaCha20"), KES_KEY_CHACHA20);
	cr_assert_eq(kes_key_type_parse("XCHACHA20-POLY1305"),
	    KES_KEY_CHACHA20);
	cr_assert_eq(kes_key_type_parse(NULL), 0);
	cr_assert_eq(kes_key_type_parse(""), 0);
	cr_assert_eq(kes_key_type_parse("aes256"), 0);
	cr_assert_eq(kes_key_type_parse("CHACHA20"), 0);
	cr_assert_eq(kes_key_type_parse("AES-256-GCM-HMAC-SHA-256"), 0);
	cr_assert_eq(kes_key_type_parse("ChaCha20Poly1305"), 0);
	cr_assert_eq(kes_key_type_parse("AES256 "), 0);
}

/* --- legacy JSON: Go encoding/json rules --- */

#define B64B	"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8="	/* KAT_KEY_B */

Test(kes_key, json_go_rules_accept)
{
	static const struct { const char *v; uint8_t type; } ok[] = {
		/* Keys match case-insensitively; long s folds to 's'. */
		{ "{\"BYTES\":\"" B64B "\"}", KES_KEY_AES256 },
		{ "{\"Bytes\":\"" B64B "\",\"ALGORITHM\":\"ChaCha20\"}",
		    KES_KEY_CHACHA20 },
		{ "{\"byte\xc5\xbf\":\"" B64B "\"}", KES_KEY_AES256 },
		/* Dotless i does not fold to 'i': an unknown field. */
		{ "{\"bytes\":\"" B64B "\",\"algor\xc4\xb1thm\":\"ChaCha20\"}",
		    KES_KEY_AES256 },
		/* The last duplicate wins. */
		{ "{\"bytes\":\"AAAA\",\"bytes\":\"" B64B "\"}",
		    KES_KEY_AES256 },
		{ "{\"bytes\":\"" B64B "\",\"algorithm\":\"bogus\","
		    "\"Algorithm\":\"XCHACHA20-POLY1305\"}", KES_KEY_CHACHA20 },
		/* null and empty leave the defaults. */
		{ "{\"bytes\":\"" B64B "\",\"algorithm\":null,"
		    "\"created_at\":null,\"created_by\":null}",
		    KES_KEY_AES256 },
		{ "{\"bytes\":\"" B64B "\",\"algorithm\":\"\"}",
		    KES_KEY_AES256 },
		/* Unknown fields of any type are ignored. */
		{ "{\"version\":\"v1\",\"x\":[1,{\"y\":null}],\"n\":1e300,"
		    "\"big\":123456789012345678901234567890,\"t\":true,"
		    "\"bytes\":\"" B64B "\",\"id\":{}}", KES_KEY_AES256 },
		/* Whitespace around the value, newlines in the base64. */
		{ " \r\n\t{ \"bytes\" : \"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaX\\n"
		    "mJmam5ydnp8=\" } \n", KES_KEY_AES256 },
		/* Escapes in keys and values are decoded first. */
		{ "{\"\\u0062ytes\":\"" B64B "\",\"algorithm\":"
		    "\"Cha\\u0043ha20\"}", KES_KEY_CHACHA20 },
	};
	struct kes_key	k;
	size_t		i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_eq(decode_str(ok[i].v, &k), 0, "%s", ok[i].v);
		cr_assert_eq(k.type, ok[i].type, "%s", ok[i].v);
		cr_assert_arr_eq(k.key, KAT_KEY_B, 32);
		cr_assert_eq(k.created_sec, GOTIME_ZERO_SEC);
		cr_assert_str_eq(k.created_by, "");
	}
}

Test(kes_key, json_go_rules_reject)
{
	static const char *bad[] = {
		"{}", "null", "[]", "\"x\"", "1234", "true",
		"{\"bytes\":null}",
		"{\"bytes\":\"AAAA\"}",				/* 3 bytes */
		"{\"bytes\":\"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp+g\"}",
		"{\"bytes\":\"gIGCg4SFhoeIiYqLjI2Oj5CRkpOUlZaXmJmam5ydnp8\"}",
		"{\"bytes\":5}", "{\"bytes\":[128,129]}",
		"{\"bytes\":\"" B64B "\",\"algorithm\":\"aes256\"}",
		"{\"bytes\":\"" B64B "\",\"algorithm\":\"ChaCha20Poly1305\"}",
		"{\"bytes\":\"" B64B "\",\"algorithm\":\"AES-256-GCM-HMAC-SHA-"
		    "256\"}",
		"{\"bytes\":\"" B64B "\",\"algorithm\":\"AES256\\u0000\"}",
		"{\"bytes\":\"" B64B "\",\"algorithm\":1}",
		"{\"bytes\":\"" B64B "\",\"created_at\":5}",
		"{\"bytes\":\"" B64B "\",\"created_at\":\"yesterday\"}",
		"{\"bytes\":\"" B64B "\",\"created_at\":"
		    "\"2024-02-30T00:00:00Z\"}",
		"{\"bytes\":\"" B64B "\",\"created_by\":7}",
		"{\"bytes\":\"" B64B "\",\"created_by\":\"a\\u0000b\"}",
		/* Trailing data after the value (json.Valid fails; not b64). */
		"{\"bytes\":\"" B64B "\"}x",
		"{\"bytes\":\"" B64B "\"}{}",
		"{\"bytes\":\"" B64B "\"",
		"{\"bytes\":\"" B64B "\",}",
		"{bytes:\"" B64B "\"}",
		"{\"bytes\":'" B64B "'}",
		"", " ", "\n",
	};
	struct kes_key	k;
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&k, 0xaa, sizeof(k));
		cr_assert_eq(decode_str(bad[i], &k), -1, "%s", bad[i]);
		assert_wiped(&k);
	}
}

Test(kes_key, json_created_by_bound)
{
	char		v[512], by[KES_CREATED_BY_MAX + 2];
	struct kes_key	k;

	memset(by, 'a', sizeof(by));
	by[KES_CREATED_BY_MAX] = '\0';
	snprintf(v, sizeof(v), "{\"bytes\":\"%s\",\"created_by\":\"%s\"}",
	    B64B, by);
	cr_assert_eq(decode_str(v, &k), 0);
	cr_assert_eq(strlen(k.created_by), KES_CREATED_BY_MAX);
	by[KES_CREATED_BY_MAX] = 'a';
	by[KES_CREATED_BY_MAX + 1] = '\0';
	snprintf(v, sizeof(v), "{\"bytes\":\"%s\",\"created_by\":\"%s\"}",
	    B64B, by);
	cr_assert_eq(decode_str(v, &k), -1);
}

/* --- protobuf: protobuf-go's rules --- */

Test(kes_key, pb_minimal)
{
	struct pbw	w = { .n = 0 };
	struct kes_key	k;

	w_minimal(&w);
	cr_assert_eq(decode_pb(&w, &k), 0);
	cr_assert_eq(k.type, KES_KEY_AES256);
	cr_assert_eq(k.created_sec, 0);
	cr_assert_str_eq(k.created_by, "");
}

Test(kes_key, pb_unknown_fields_skipped)
{
	static const uint8_t i64[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct pbw	w = { .n = 0 }, s = { .n = 0 };
	struct kes_key	k;

	/* Unknown fields of every wire type, before and after. */
	w_tag(&w, 9, 0);
	w_varint(&w, UINT64_MAX);
	w_tag(&w, 10, 1);
	w_raw(&w, i64, 8);
	w_bytes(&w, 11, "junk", 4);
	w_tag(&w, 12, 5);
	w_raw(&w, i64, 4);
	/* A group with a nested group and fields inside. */
	w_tag(&w, 13, 3);
	w_tag(&w, 1, 0);
	w_varint(&w, 5);
	w_tag(&w, 14, 3);
	w_bytes(&w, 2, "x", 1);
	w_tag(&w, 14, 4);
	w_tag(&w, 13, 4);
	/* The known fields with the wrong wire type are unknown too. */
	w_tag(&w, 1, 0);
	w_varint(&w, 1);
	w_tag(&w, 4, 5);
	w_raw(&w, i64, 4);
	/* Sub-message with its own unknown fields. */
	w_bytes(&s, 1, KAT_KEY, 32);
	w_tag(&s, 7, 1);
	w_raw(&s, i64, 8);
	w_tag(&s, 2, 0);
	w_varint(&s, 2);
	w_tag(&s, 2, 2);	/* Type as bytes: unknown, skipped */
	w_varint(&s, 0);
	w_bytes(&w, 1, s.b, s.n);
	w_subkey(&w, 2, KAT_HMAC_KEY, 32, 1);
	w_tag(&w, (1u << 29) - 1, 0);	/* the highest field number */
	w_varint(&w, 0);
	cr_assert_eq(decode_pb(&w, &k), 0);
	cr_assert_eq(k.type, KES_KEY_CHACHA20);
	cr_assert_arr_eq(k.key, KAT_KEY, 32);
}

/* Repeated messages merge and the last scalar wins. */
Test(kes_key, pb_merge)
{
	struct pbw	w = { .n = 0 }, s = { .n = 0 };
	struct kes_key	k;

	w_subkey(&w, 1, KAT_KEY_B, 32, 1);
	w_subkey(&w, 2, KAT_HMAC_KEY, 32, 1);
	w_tag(&s, 2, 0);
	w_varint(&s, 2);
	w_bytes(&w, 1, s.b, s.n);		/* only Type: key kept */
	w_bytes(&w, 4, "first", 5);
	w_bytes(&w, 4, "second", 6);
	s.n = 0;
	w_tag(&s, 1, 0);
	w_varint(&s, 100);
	w_bytes(&w, 3, s.b, s.n);
	s.n = 0;
	w_tag(&s, 2, 0);
	w_varint(&s, 7);
	w_bytes(&w, 3, s.b, s.n);		/* nanos merged in */
	cr_assert_eq(decode_pb(&w, &k), 0);
	cr_assert_eq(k.type, KES_KEY_CHACHA20);
	cr_assert_arr_eq(k.key, KAT_KEY_B, 32);
	cr_assert_str_eq(k.created_by, "second");
	cr_assert_eq(k.created_sec, 100);
	cr_assert_eq(k.created_nsec, 7);
}

Test(kes_key, pb_scalars)
{
	struct pbw	w = { .n = 0 }, s = { .n = 0 };
	struct kes_key	k;

	/* uint32 Type: the varint is truncated to 32 bits. */
	w_subkey(&w, 1, KAT_KEY, 32, 0x100000002ull);
	w_subkey(&w, 2, KAT_HMAC_KEY, 32, 0x100000001ull);
	/* Non-minimal varints are valid: seconds = 1 in three bytes. */
	w_tag(&s, 1, 0);
	w_raw(&s, "\x81\x80\x00", 3);
	/* nanos = -1 as a sign-extended int32: carried as time.Unix does */
	w_tag(&s, 2, 0);
	w_varint(&s, UINT64_MAX);
	w_bytes(&w, 3, s.b, s.n);
	cr_assert_eq(decode_pb(&w, &k), 0);
	cr_assert_eq(k.type, KES_KEY_CHACHA20);
	cr_assert_eq(k.created_sec, 0);
	cr_assert_eq(k.created_nsec, 999999999);
}

Test(kes_key, pb_rejects)
{
	struct pbw	w;
	struct kes_key	k;
	uint8_t		key31[31] = { 0 }, key33[33] = { 0 };
	char		by[KES_CREATED_BY_MAX + 1];
	int		c;

	memset(by, 'a', sizeof(by));
	for (c = 0; c < 22; c++) {
		w.n = 0;
		switch (c) {
		case 0:		/* no HMAC key */
			w_subkey(&w, 1, KAT_KEY, 32, 1);
			break;
		case 1:		/* no secret key */
			w_subkey(&w, 2, KAT_HMAC_KEY, 32, 1);
			break;
		case 2:
			w_subkey(&w, 1, key31, 31, 1);
			w_subkey(&w, 2, KAT_HMAC_KEY, 32, 1);
			break;
		case 3:
			w_subkey(&w, 1, KAT_KEY, 32, 1);
			w_subkey(&w, 2, key33, 33, 1);
			break;
		case 4:		/* Type 0, 3 */
			w_subkey(&w, 1, KAT_KEY, 32, 0);
			w_subkey(&w, 2, KAT_HMAC_KEY, 32, 1);
			break;
		case 5:
			w_subkey(&w, 1, KAT_KEY, 32, 3);
			w_subkey(&w, 2, KAT_HMAC_KEY, 32, 1);
			break;
		case 6:		/* Hash 2 */
			w_subkey(&w, 1, KAT_KEY, 32, 1);
			w_subkey(&w, 2, KAT_HMAC_KEY, 32, 2);
			break;
		case 7:		/* field number 0 */
			w_minimal(&w);
			w_raw(&w, "\x00\x00", 2);
			break;
		case 8:		/* wire types 6 and 7 */
			w_minimal(&w);
			w_raw(&w, "\x0e\x00", 2);
			break;
		case 9:
			w_minimal(&w);
			w_raw(&w, "\x0f\x00", 2);
			break;
		case 10:	/* end group with none open */
			w_minimal(&w);
			w_tag(&w, 5, 4);
			break;
		case 11:	/* end group of another field */
			w_minimal(&w);
			w_tag(&w, 5, 3);
			w_tag(&w, 6, 4);
			break;
		case 12:	/* group never closed */
			w_minimal(&w);
			w_tag(&w, 5, 3);
			break;
		case 13:	/* 11-byte varint */
			w_minimal(&w);
			w_tag(&w, 9, 0);
			w_raw(&w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"
			    "\x01", 11);
			break;
		case 14:	/* 10th byte > 1 overflows */
			w_minimal(&w);
			w_tag(&w, 9, 0);
			w_raw(&w, "\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02",
			    10);
			break;
		case 15:	/* length past the end */
			w_minimal(&w);
			w_tag(&w, 9, 2);
			w_varint(&w, 5);
			w_raw(&w, "abc", 3);
			break;
		case 16:	/* length of 2^64 - 1 */
			w_minimal(&w);
			w_tag(&w, 9, 2);
			w_varint(&w, UINT64_MAX);
			break;
		case 17:	/* CreatedBy not UTF-8 */
			w_minimal(&w);
			w_bytes(&w, 4, "\xc0\xaf", 2);
			break;
		case 18:	/* a surrogate */
			w_minimal(&w);
			w_bytes(&w, 4, "\xed\xa0\x80", 3);
			break;
		case 19:	/* too long for us */
			w_minimal(&w);
			w_bytes(&w, 4, by, sizeof(by));
			break;
		case 20:	/* a NUL we cannot keep in a C string */
			w_minimal(&w);
			w_bytes(&w, 4, "a\0b", 3);
			break;
		case 21:	/* field number 2^29 */
			w_minimal(&w);
			w_tag(&w, 1u << 29, 0);
			w_varint(&w, 0);
			break;
		}
		memset(&k, 0xaa, sizeof(k));
		cr_assert_eq(decode_pb(&w, &k), -1, "case %d", c);
		assert_wiped(&k);
	}
	/* Not base64 and not JSON. */
	cr_assert_eq(decode_str("CiQKIAAB!", &k), -1);
	/* Unpadded base64 of a valid message (76 bytes: "=="). */
	w.n = 0;
	w_minimal(&w);
	{
		char t[128];

		b64_encode(w.b, w.n, t);
		cr_assert_eq(decode_str(t, &k), 0);
		t[strlen(t) - 1] = '\0';
		cr_assert_eq(decode_str(t, &k), -1);
	}
	/* Over the stored-value bound. */
	cr_assert_eq(kes_key_decode((const uint8_t *)KAT_PB_CHACHA,
	    KES_STORED_MAX + 1, &k), -1);
}

Test(kes_key, pb_deep_groups)
{
	struct pbw	w = { .n = 0 };
	struct kes_key	k;
	int		i;

	w_minimal(&w);
	for (i = 0; i < 100; i++)
		w_tag(&w, 5, 3);
	for (i = 0; i < 100; i++)
		w_tag(&w, 5, 4);
	cr_assert_eq(decode_pb(&w, &k), 0);
	w.n = 0;
	w_minimal(&w);
	for (i = 0; i < 101; i++)
		w_tag(&w, 5, 3);
	for (i = 0; i < 101; i++)
		w_tag(&w, 5, 4);
	cr_assert_eq(decode_pb(&w, &k), -1);	/* our bound, see kes_key.c */
}

/* --- mutations --- */

/* Decode, and if that worked, encode and decode again to the same key. */
static void
check_one(const uint8_t *v, size_t n, struct buf *b)
{
	struct kes_key	k, back;

	memset(&k, 0x55, sizeof(k));
	if (kes_key_decode(v, n, &k) == -1) {
		assert_wiped(&k);
		return;
	}
	cr_assert(k.type == KES_KEY_AES256 || k.type == KES_KEY_CHACHA20);
	cr_assert_leq(strlen(k.created_by), KES_CREATED_BY_MAX);
	if (!k.has_hmac)
		return;
	buf_reset(b);
	cr_assert_eq(kes_key_encode(&k, b), 0);
	cr_assert_eq(kes_key_decode(b->data, b->len, &back), 0);
	assert_same(&k, &back);
}

/* Every byte of the protobuf (under a valid base64 wrapping) set to every
 * value, and every truncation. */
Test(kes_key, mutations_protobuf)
{
	uint8_t		raw[512];
	char		text[700];
	size_t		n, i;
	struct buf	b;
	int		v;

	cr_assert_eq(b64_decode(KAT_PB_CHACHA, strlen(KAT_PB_CHACHA), raw,
	    &n), 0);
	buf_init(&b, 4 * KB);
	for (i = 0; i < n; i++) {
		uint8_t save = raw[i];

		for (v = 0; v < 256; v++) {
			raw[i] = (uint8_t)v;
			b64_encode(raw, n, text);
			check_one((uint8_t *)text, strlen(text), &b);
		}
		raw[i] = save;
		b64_encode(raw, i, text);
		check_one((uint8_t *)text, strlen(text), &b);
	}
	buf_release(&b);
}

/* Every byte of the stored text flipped (each bit) and every truncation,
 * for the protobuf form and every legacy JSON shape. */
Test(kes_key, mutations_text)
{
	static const char *vals[] = { KAT_PB_CHACHA, KAT_PB_NO_TIME,
	    KAT_LEGACY_V050, KAT_LEGACY_V0192_AES, KAT_LEGACY_V0192_CHACHA,
	    KAT_LEGACY_V0223, KAT_LEGACY_2023_AES, KAT_LEGACY_2023_CHACHA };
	uint8_t		m[512];
	struct buf	b;
	size_t		i, j, n;
	int		bit;

	buf_init(&b, 4 * KB);
	for (j = 0; j < sizeof(vals) / sizeof(vals[0]); j++) {
		n = strlen(vals[j]);
		for (i = 0; i < n; i++) {
			for (bit = 0; bit < 8; bit++) {
				memcpy(m, vals[j], n);
				m[i] ^= (uint8_t)(1 << bit);
				check_one(m, n, &b);
			}
			check_one((const uint8_t *)vals[j], i, &b);
		}
	}
	buf_release(&b);
}
