/* Stored KES key versions: legacy JSON and base64(protobuf KeyVersion). */
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/gojson.h"
#include "common/gotime.h"
#include "common/kes_key.h"
#include "common/xmalloc.h"

#define NSEC_PER_SEC	1000000000LL

/* Protobuf wire types. */
#define WT_VARINT	0
#define WT_I64		1
#define WT_LEN		2
#define WT_SGROUP	3
#define WT_EGROUP	4
#define WT_I32		5

#define PB_FIELD_MAX	((1u << 29) - 1)
/*
 * Nesting of unknown groups we skip. XXX protobuf-go allows 10000; no KES
 * value has a group at all, so a small bound only rejects crafted input.
 */
#define PB_GROUP_DEPTH	100

/* The largest protobuf KeyVersion we write (see kes_key_encode). */
#define PB_ENC_MAX	256

/* HMACKey.Hash */
#define PB_HASH_SHA256	1

void
kes_key_wipe(struct kes_key *k)
{
	explicit_bzero(k, sizeof(*k));
}

const char *
kes_key_type_name(uint8_t type)
{
	switch (type) {
	case KES_KEY_AES256:
		return "AES256";
	case KES_KEY_CHACHA20:
		return "ChaCha20";
	default:
		return NULL;
	}
}

uint8_t
kes_key_type_parse(const char *name)
{
	if (name == NULL)
		return 0;
	if (strcmp(name, "AES256") == 0 ||
	    strcmp(name, "AES256-GCM_SHA256") == 0)
		return KES_KEY_AES256;
	if (strcmp(name, "ChaCha20") == 0 ||
	    strcmp(name, "XCHACHA20-POLY1305") == 0)
		return KES_KEY_CHACHA20;
	return 0;
}

/* --- legacy JSON --- */

/*
 * {"bytes":"<b64 32>","algorithm":"…","created_at":"…","created_by":"…"},
 * every field but bytes optional, other fields ignored (KES-HEAD
 * ParseKeyVersion's anonymous struct). No HMAC key.
 *
 * XXX jansson copies every string it parses, the base64 of the key among
 * them, and frees them without wiping. There is no per-parse hook: the
 * copies are wiped only once the process has installed a wiping allocator
 * (gojson_init, process-wide), which every process that decodes stored
 * keys must call at start. Paid for by a JSON reader that decodes into
 * caller-owned, wiped buffers.
 */
static int
decode_json(const json_t *j, struct kes_key *out)
{
	const char	*alg, *by;
	size_t		 alglen, bylen, n;
	uint8_t		*key = NULL;
	json_t		*at;
	char		 name[32];
	int		 r = -1;

	/* Go leaves the struct empty for null and fails for other types;
	 * an empty struct fails below for want of a key. */
	if (!json_is_object(j))
		return -1;
	if (gojson_bytes(j, "bytes", &key, &n) == -1 || n != KES_KEY_LEN ||
	    gojson_string(j, "algorithm", &alg, &alglen) == -1 ||
	    gojson_string(j, "created_by", &by, &bylen) == -1)
		goto out;
	if (alglen == 0)
		out->type = KES_KEY_AES256;
	else {
		if (alglen >= sizeof(name) || memchr(alg, '\0', alglen))
			goto out;
		memcpy(name, alg, alglen);
		name[alglen] = '\0';
		if ((out->type = kes_key_type_parse(name)) == 0)
			goto out;
	}
	memcpy(out->key, key, KES_KEY_LEN);
	/* Go's zero time when absent or null (Time.UnmarshalJSON no-op).
	 * Go parses the raw text between the quotes, so a time written with
	 * escapes fails there and parses here. */
	out->created_sec = GOTIME_ZERO_SEC;
	out->created_nsec = 0;
	if ((at = gojson_get(j, "created_at")) != NULL && !json_is_null(at)) {
		if (!json_is_string(at) || gotime_parse(json_string_value(at),
		    json_string_length(at), &out->created_sec,
		    &out->created_nsec) == -1)
			goto out;
	}
	/* Identities are 64 hex digits; the bound and the NUL are ours. */
	if (bylen > KES_CREATED_BY_MAX || (bylen && memchr(by, '\0', bylen)))
		goto out;
	if (bylen)
		memcpy(out->created_by, by, bylen);
	out->created_by[bylen] = '\0';
	r = 0;
 out:
	freezero(key, n);
	return r;
}

/* --- protobuf --- */

struct pb {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
};

/*
 * protowire.ConsumeVarint: at most 10 bytes, the 10th no more than 1;
 * non-minimal encodings are accepted as protobuf-go does.
 */
static int
pb_varint(struct pb *b, uint64_t *v)
{
	uint64_t	x = 0;
	unsigned int	i;
	uint8_t		c;

	for (i = 0; i < 10; i++) {
		if (b->off == b->len)
			return -1;
		c = b->p[b->off++];
		if (i == 9 && c > 1)
			return -1;
		x |= (uint64_t)(c & 0x7f) << (7 * i);
		if (c < 0x80) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static int
pb_tag(struct pb *b, uint32_t *field, int *wt)
{
	uint64_t t;

	if (pb_varint(b, &t) == -1 || t >> 3 == 0 || t >> 3 > PB_FIELD_MAX)
		return -1;
	*field = (uint32_t)(t >> 3);
	*wt = (int)(t & 7);
	return 0;
}

static int
pb_len(struct pb *b, const uint8_t **p, size_t *n)
{
	uint64_t l;

	if (pb_varint(b, &l) == -1 || l > b->len - b->off)
		return -1;
	*p = b->p + b->off;
	*n = (size_t)l;
	b->off += (size_t)l;
	return 0;
}

/*
 * Skip the value of an unknown field (or a known one with an unexpected
 * wire type: protobuf-go treats that as unknown too). A group runs to the
 * end-group tag of the same field number, with nested groups inside.
 */
static int
pb_skip(struct pb *b, uint32_t field, int wt)
{
	uint32_t	 open[PB_GROUP_DEPTH], f;
	unsigned int	 depth = 0;
	const uint8_t	*p;
	uint64_t	 v;
	size_t		 n;

	for (;;) {
		switch (wt) {
		case WT_VARINT:
			if (pb_varint(b, &v) == -1)
				return -1;
			break;
		case WT_I64:
		case WT_I32:
			n = wt == WT_I64 ? 8 : 4;
			if (b->len - b->off < n)
				return -1;
			b->off += n;
			break;
		case WT_LEN:
			if (pb_len(b, &p, &n) == -1)
				return -1;
			break;
		case WT_SGROUP:
			if (depth == PB_GROUP_DEPTH)
				return -1;
			open[depth++] = field;
			break;
		case WT_EGROUP:
			if (depth == 0 || open[depth - 1] != field)
				return -1;
			depth--;
			break;
		default:
			return -1;
		}
		if (depth == 0)
			return 0;
		if (pb_tag(b, &f, &wt) == -1)
			return -1;
		field = f;
	}
}

/* A sub-message's fields: 1 bytes key, 2 uint32 (Type or Hash). Repeated
 * occurrences merge, later fields winning, as protobuf-go does. */
struct pb_subkey {
	bool		 seen;
	const uint8_t	*key;
	size_t		 keylen;
	uint32_t	 num;
};

static int
pb_subkey(const uint8_t *p, size_t n, struct pb_subkey *k)
{
	struct pb	b = { p, n, 0 };
	uint32_t	f;
	uint64_t	v;
	int		wt;

	k->seen = true;
	while (b.off < b.len) {
		if (pb_tag(&b, &f, &wt) == -1)
			return -1;
		if (f == 1 && wt == WT_LEN) {
			if (pb_len(&b, &k->key, &k->keylen) == -1)
				return -1;
		} else if (f == 2 && wt == WT_VARINT) {
			if (pb_varint(&b, &v) == -1)
				return -1;
			k->num = (uint32_t)v;
		} else if (pb_skip(&b, f, wt) == -1)
			return -1;
	}
	return 0;
}

/* google.protobuf.Timestamp: 1 int64 seconds, 2 int32 nanos. */
static int
pb_timestamp(const uint8_t *p, size_t n, int64_t *sec, int32_t *nsec)
{
	struct pb	b = { p, n, 0 };
	uint32_t	f;
	uint64_t	v;
	int		wt;

	while (b.off < b.len) {
		if (pb_tag(&b, &f, &wt) == -1)
			return -1;
		if ((f == 1 || f == 2) && wt == WT_VARINT) {
			if (pb_varint(&b, &v) == -1)
				return -1;
			if (f == 1)
				*sec = (int64_t)v;
			else
				*nsec = (int32_t)(uint32_t)v;
		} else if (pb_skip(&b, f, wt) == -1)
			return -1;
	}
	return 0;
}

/* Go's utf8.Valid: shortest forms only, no surrogates, <= U+10FFFF. */
static int
utf8_valid(const uint8_t *s, size_t n)
{
	size_t	i = 0, k, len;
	uint8_t	c, lo, hi;

	while (i < n) {
		c = s[i];
		lo = 0x80;
		hi = 0xbf;
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf)
			len = 2;
		else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else
			return 0;
		if (n - i < len)
			return 0;
		for (k = 1; k < len; k++) {
			if (s[i + k] < lo || s[i + k] > hi)
				return 0;
			lo = 0x80;
			hi = 0xbf;
		}
		i += len;
	}
	return 1;
}

/*
 * KeyVersion { SecretKey Key = 1; HMACKey HMACKey = 2;
 *              google.protobuf.Timestamp CreatedAt = 3; string CreatedBy = 4 }
 * SecretKey { bytes Key = 1; uint32 Type = 2 }  (1 AES256, 2 ChaCha20)
 * HMACKey   { bytes Key = 1; uint32 Hash = 2 }  (1 SHA-256)
 *
 * KES requires both keys (32 bytes each) with a known Type and Hash. A
 * missing CreatedAt is the Unix epoch (Timestamp.AsTime of nil), and the
 * time is normalised as time.Unix does. CreatedBy must be UTF-8 (proto3).
 */
static int
decode_pb(const uint8_t *p, size_t n, struct kes_key *out)
{
	struct pb		 b = { p, n, 0 };
	struct pb_subkey	 sk = { 0 }, hk = { 0 };
	const uint8_t		*by = NULL, *m;
	size_t			 bylen = 0, mlen;
	int64_t			 sec = 0, carry;
	int32_t			 nsec = 0;
	uint32_t		 f;
	int			 wt;

	while (b.off < b.len) {
		if (pb_tag(&b, &f, &wt) == -1)
			return -1;
		if (f >= 1 && f <= 4 && wt == WT_LEN) {
			if (pb_len(&b, &m, &mlen) == -1)
				return -1;
			if ((f == 1 && pb_subkey(m, mlen, &sk) == -1) ||
			    (f == 2 && pb_subkey(m, mlen, &hk) == -1) ||
			    (f == 3 && pb_timestamp(m, mlen, &sec,
			    &nsec) == -1))
				return -1;
			if (f == 4) {
				if (!utf8_valid(m, mlen))
					return -1;
				by = m;
				bylen = mlen;
			}
		} else if (pb_skip(&b, f, wt) == -1)
			return -1;
	}
	if (!sk.seen || sk.keylen != KES_KEY_LEN ||
	    (sk.num != KES_KEY_AES256 && sk.num != KES_KEY_CHACHA20) ||
	    !hk.seen || hk.keylen != KES_KEY_LEN || hk.num != PB_HASH_SHA256)
		return -1;
	if (bylen > KES_CREATED_BY_MAX || (bylen && memchr(by, '\0', bylen)))
		return -1;
	out->type = (uint8_t)sk.num;
	memcpy(out->key, sk.key, KES_KEY_LEN);
	out->has_hmac = true;
	memcpy(out->hmac, hk.key, KES_KEY_LEN);
	/* time.Unix(sec, nsec); Go wraps on overflow, so do we. */
	if (nsec < 0 || nsec >= NSEC_PER_SEC) {
		carry = nsec / NSEC_PER_SEC;
		nsec -= (int32_t)(carry * NSEC_PER_SEC);
		if (nsec < 0) {
			nsec += NSEC_PER_SEC;
			carry--;
		}
		sec = (int64_t)((uint64_t)sec + (uint64_t)carry);
	}
	out->created_sec = sec;
	out->created_nsec = nsec;
	if (bylen)
		memcpy(out->created_by, by, bylen);
	out->created_by[bylen] = '\0';
	return 0;
}

static int
decode_b64_pb(const uint8_t *value, size_t len, struct kes_key *out)
{
	uint8_t	*raw;
	size_t	 max = b64_decoded_max(len) + 1, n = 0;
	int	 r = -1;

	raw = xmalloc(max);
	if (b64_decode((const char *)value, len, raw, &n) == 0)
		r = decode_pb(raw, n, out);
	freezero(raw, max);
	return r;
}

int
kes_key_decode(const uint8_t *value, size_t len, struct kes_key *out)
{
	json_t	*j;
	int	 r;

	kes_key_wipe(out);
	if (len > KES_STORED_MAX)
		return -1;
	/* KES: json.Valid(value) decides; valid JSON never falls through. */
	if ((j = gojson_load(value, len)) != NULL) {
		r = decode_json(j, out);
		json_decref(j);
	} else
		r = decode_b64_pb(value, len, out);
	if (r == -1)
		kes_key_wipe(out);
	return r;
}

static size_t
pb_put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* One sub-message { bytes 1 = key(32); uint32 2 = num } as field f. */
static size_t
pb_put_subkey(uint8_t *p, unsigned int f, const uint8_t key[KES_KEY_LEN],
    uint32_t num)
{
	size_t n = 2;

	p[0] = (uint8_t)(f << 3 | WT_LEN);
	p[n++] = 1 << 3 | WT_LEN;
	p[n++] = KES_KEY_LEN;
	memcpy(p + n, key, KES_KEY_LEN);
	n += KES_KEY_LEN;
	p[n++] = 2 << 3 | WT_VARINT;
	n += pb_put_varint(p + n, num);
	p[1] = (uint8_t)(n - 2);	/* < 128: one byte */
	return n;
}

/*
 * What protobuf-go's Marshal writes for KES's KeyVersion: fields in number
 * order, scalars equal to zero left out (proto3), the CreatedAt message
 * always present (KES sets it even for the zero time), CreatedBy left out
 * when empty. Bound: 38 + 38 + 2 + 22 + 1 + 2 + 128 bytes.
 */
int
kes_key_encode(const struct kes_key *k, struct buf *out)
{
	uint8_t	 pb[PB_ENC_MAX], ts[24];
	char	 text[(PB_ENC_MAX + 2) / 3 * 4 + 1];
	size_t	 n, tn = 0, bylen;
	int	 r;

	if (!k->has_hmac || kes_key_type_name(k->type) == NULL)
		return -1;
	bylen = strnlen(k->created_by, sizeof(k->created_by));
	if (bylen > KES_CREATED_BY_MAX)
		return -1;
	n = pb_put_subkey(pb, 1, k->key, k->type);
	n += pb_put_subkey(pb + n, 2, k->hmac, PB_HASH_SHA256);
	if (k->created_sec != 0) {
		ts[tn++] = 1 << 3 | WT_VARINT;
		tn += pb_put_varint(ts + tn, (uint64_t)k->created_sec);
	}
	if (k->created_nsec != 0) {
		ts[tn++] = 2 << 3 | WT_VARINT;
		tn += pb_put_varint(ts + tn,
		    (uint64_t)(int64_t)k->created_nsec);
	}
	pb[n++] = 3 << 3 | WT_LEN;
	pb[n++] = (uint8_t)tn;
	memcpy(pb + n, ts, tn);
	n += tn;
	if (bylen > 0) {
		pb[n++] = 4 << 3 | WT_LEN;
		n += pb_put_varint(pb + n, bylen);
		memcpy(pb + n, k->created_by, bylen);
		n += bylen;
	}
	b64_encode(pb, n, text);
	r = buf_put(out, text, b64_encoded_len(n));
	explicit_bzero(pb, sizeof(pb));
	explicit_bzero(text, sizeof(text));
	return r;
}
