/* Unit tests for common/buf.c: encodings, bounds, views, mutations. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define KB	1024

/* Deterministic PRNG so a failing mutation is reproducible. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* --- round trips and known answers --- */

Test(buf, roundtrip_integers)
{
	static const uint64_t v64[] = { 0, 1, 0x0102030405060708ull,
	    0x8000000000000000ull, UINT64_MAX };
	static const uint32_t v32[] = { 0, 1, 0x01020304, 0x80000000,
	    UINT32_MAX };
	static const uint16_t v16[] = { 0, 1, 0x0102, 0x8000, UINT16_MAX };
	static const uint8_t v8[] = { 0, 1, 0x7f, 0x80, UINT8_MAX };
	struct buf	b;
	uint64_t	g64;
	uint32_t	g32;
	uint16_t	g16;
	uint8_t		g8;
	size_t		i;

	buf_init(&b, 1 * KB);
	for (i = 0; i < 5; i++) {
		cr_assert_eq(buf_put_u8(&b, v8[i]), 0);
		cr_assert_eq(buf_put_u16(&b, v16[i]), 0);
		cr_assert_eq(buf_put_u32(&b, v32[i]), 0);
		cr_assert_eq(buf_put_u64(&b, v64[i]), 0);
	}
	cr_assert_eq(b.len, 5 * (1 + 2 + 4 + 8));
	for (i = 0; i < 5; i++) {
		cr_assert_eq(buf_get_u8(&b, &g8), 0);
		cr_assert_eq(g8, v8[i]);
		cr_assert_eq(buf_get_u16(&b, &g16), 0);
		cr_assert_eq(g16, v16[i]);
		cr_assert_eq(buf_get_u32(&b, &g32), 0);
		cr_assert_eq(g32, v32[i]);
		cr_assert_eq(buf_get_u64(&b, &g64), 0);
		cr_assert_eq(g64, v64[i]);
	}
	cr_assert_eq(buf_end(&b), 0);
	buf_release(&b);
}

Test(buf, known_answer_encoding)
{
	static const uint8_t want[] = {
		0xab,					/* u8 */
		0x01, 0x02,				/* u16 */
		0x01, 0x02, 0x03, 0x04,			/* u32 */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, /* u64 */
		0x00, 0x00, 0x00, 0x03, 'a', 0x00, 'b',	/* bytes */
		0x00, 0x00, 0x00, 0x03, 'h', 'i', 0x00,	/* str */
		0x00, 0x00, 0x00, 0x01, 0x00,		/* str NULL -> "" */
		0x00, 0x00, 0x00, 0x00,			/* empty bytes */
	};
	struct buf b;

	buf_init(&b, 1 * KB);
	cr_assert_eq(buf_put_u8(&b, 0xab), 0);
	cr_assert_eq(buf_put_u16(&b, 0x0102), 0);
	cr_assert_eq(buf_put_u32(&b, 0x01020304), 0);
	cr_assert_eq(buf_put_u64(&b, 0x0102030405060708ull), 0);
	cr_assert_eq(buf_put_bytes(&b, "a\0b", 3), 0);
	cr_assert_eq(buf_put_str(&b, "hi"), 0);
	cr_assert_eq(buf_put_str(&b, NULL), 0);
	cr_assert_eq(buf_put_bytes(&b, NULL, 0), 0);
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_arr_eq(b.data, want, sizeof(want));
	buf_release(&b);
}

Test(buf, roundtrip_bytes_str_bool)
{
	static const uint8_t blob[] = { 0, 1, 2, 0, 0xff, 0 };
	struct buf	 b;
	const uint8_t	*p;
	const char	*s;
	char		*d;
	size_t		 n;
	bool		 t, f;

	buf_init(&b, 1 * KB);
	cr_assert_eq(buf_put_bytes(&b, blob, sizeof(blob)), 0);
	cr_assert_eq(buf_put_bytes(&b, "", 0), 0);
	cr_assert_eq(buf_put_str(&b, "key-name"), 0);
	cr_assert_eq(buf_put_str(&b, ""), 0);
	cr_assert_eq(buf_put_str(&b, "copy me"), 0);
	cr_assert_eq(buf_put_u8(&b, 1), 0);
	cr_assert_eq(buf_put_u8(&b, 0), 0);

	cr_assert_eq(buf_get_bytes(&b, &p, &n), 0);
	cr_assert_eq(n, sizeof(blob));
	cr_assert_arr_eq(p, blob, sizeof(blob));
	cr_assert_eq(buf_get_bytes(&b, &p, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(buf_get_str(&b, &s, &n), 0);
	cr_assert_str_eq(s, "key-name");
	cr_assert_eq(n, strlen("key-name"));
	cr_assert_eq(buf_get_str(&b, &s, NULL), 0);	/* n is optional */
	cr_assert_str_eq(s, "");
	cr_assert_eq(buf_get_strdup(&b, &d), 0);
	cr_assert_str_eq(d, "copy me");
	cr_assert_neq((void *)d, (void *)(b.data + b.off - 8));	/* a copy */
	free(d);
	cr_assert_eq(buf_get_bool(&b, &t), 0);
	cr_assert_eq(buf_get_bool(&b, &f), 0);
	cr_assert(t);
	cr_assert(!f);
	cr_assert_eq(buf_end(&b), 0);
	buf_release(&b);
}

Test(buf, roundtrip_large_bytes)
{
	struct buf	 b;
	uint8_t		*big;
	const uint8_t	*p;
	size_t		 n, i;

	big = malloc(300 * KB);
	cr_assert_not_null(big);
	for (i = 0; i < 300 * KB; i++)
		big[i] = (uint8_t)(i * 7 + 3);
	buf_init(&b, 4 + 300 * KB);
	cr_assert_eq(buf_put_bytes(&b, big, 300 * KB), 0);
	cr_assert_eq(b.len, 4 + 300 * KB);
	cr_assert_eq(buf_get_bytes(&b, &p, &n), 0);
	cr_assert_eq(n, 300 * KB);
	cr_assert_eq(memcmp(p, big, n), 0);
	cr_assert_eq(buf_end(&b), 0);
	buf_release(&b);
	free(big);
}

/* --- short reads --- */

/* Every getter on every proper prefix of a valid encoding: -1, offset kept. */
Test(buf, short_reads_fail_and_keep_offset)
{
	struct buf	 w, r;
	const uint8_t	*p;
	const char	*s;
	char		*d;
	uint64_t	 v64;
	uint32_t	 v32;
	uint16_t	 v16;
	uint8_t		 v8, *copy;
	size_t		 n, cut;
	bool		 bo;
	int		 kind;

	for (kind = 0; kind < 8; kind++) {
		buf_init(&w, 1 * KB);
		cr_assert_eq(buf_put_u8(&w, 0x5a), 0);	/* skipped first */
		switch (kind) {
		case 0: cr_assert_eq(buf_put_u8(&w, 1), 0); break;
		case 1: cr_assert_eq(buf_put_u16(&w, 1), 0); break;
		case 2: cr_assert_eq(buf_put_u32(&w, 1), 0); break;
		case 3: cr_assert_eq(buf_put_u64(&w, 1), 0); break;
		case 4: cr_assert_eq(buf_put_u8(&w, 1), 0); break;
		case 5: cr_assert_eq(buf_put_bytes(&w, "abcdef", 6), 0); break;
		case 6: cr_assert_eq(buf_put_str(&w, "abcdef"), 0); break;
		case 7: cr_assert_eq(buf_put_str(&w, "xyz"), 0); break;
		}
		for (cut = 1; cut < w.len; cut++) {
			/* Exact-size heap copy: ASan builds catch overreads. */
			copy = malloc(cut);
			cr_assert_not_null(copy);
			memcpy(copy, w.data, cut);
			buf_view(&r, copy, cut);
			cr_assert_eq(buf_skip(&r, 1), 0);
			switch (kind) {
			case 0: cr_assert_eq(buf_get_u8(&r, &v8), -1); break;
			case 1: cr_assert_eq(buf_get_u16(&r, &v16), -1); break;
			case 2: cr_assert_eq(buf_get_u32(&r, &v32), -1); break;
			case 3: cr_assert_eq(buf_get_u64(&r, &v64), -1); break;
			case 4: cr_assert_eq(buf_get_bool(&r, &bo), -1); break;
			case 5:
				cr_assert_eq(buf_get_bytes(&r, &p, &n), -1);
				break;
			case 6:
				cr_assert_eq(buf_get_str(&r, &s, &n), -1);
				break;
			case 7:
				cr_assert_eq(buf_get_strdup(&r, &d), -1);
				break;
			}
			cr_assert_eq(r.off, 1, "kind %d cut %zu: offset moved",
			    kind, cut);
			free(copy);
		}
		buf_release(&w);
	}
}

Test(buf, get_and_skip_bounds)
{
	static const uint8_t src[4] = { 1, 2, 3, 4 };
	struct buf	b;
	uint8_t		out[8];

	buf_view(&b, src, sizeof(src));
	cr_assert_eq(buf_get(&b, out, 5), -1);
	cr_assert_eq(b.off, 0);
	cr_assert_eq(buf_skip(&b, 5), -1);
	cr_assert_eq(b.off, 0);
	cr_assert_eq(buf_skip(&b, 1), 0);
	cr_assert_eq(buf_get(&b, out, 3), 0);
	cr_assert_arr_eq(out, src + 1, 3);
	cr_assert_eq(buf_get(&b, out, 1), -1);
	cr_assert_eq(buf_get(&b, out, 0), 0);
	cr_assert_eq(buf_skip(&b, 0), 0);
	cr_assert_eq(buf_end(&b), 0);
}

/* A length prefix that claims more than what is there. */
Test(buf, oversize_length_prefix)
{
	static const uint8_t huge[] = { 0xff, 0xff, 0xff, 0xff, 'a', 0 };
	static const uint8_t plus1[] = { 0, 0, 0, 3, 'a', 0 };
	static const uint8_t top[] = { 0x80, 0, 0, 0, 'a', 0 };
	const uint8_t	*cases[] = { huge, plus1, top };
	struct buf	 b;
	const uint8_t	*p;
	const char	*s;
	size_t		 n, i;

	for (i = 0; i < 3; i++) {
		buf_view(&b, cases[i], 6);
		cr_assert_eq(buf_get_bytes(&b, &p, &n), -1);
		cr_assert_eq(b.off, 0);
		cr_assert_eq(buf_get_str(&b, &s, &n), -1);
		cr_assert_eq(b.off, 0);
	}
}

/* --- strings and booleans --- */

Test(buf, get_str_rejects_malformed)
{
	static const uint8_t nonul[] = { 0, 0, 0, 3, 'a', 'b', 'c' };
	static const uint8_t inner[] = { 0, 0, 0, 4, 'a', 0, 'c', 0 };
	static const uint8_t lead[] = { 0, 0, 0, 2, 0, 0 };
	static const uint8_t zero[] = { 0, 0, 0, 0 };
	static const uint8_t zerox[] = { 0, 0, 0, 0, 0 }; /* NUL outside */
	static const uint8_t ok[] = { 0, 0, 0, 2, 'a', 0 };
	struct {
		const uint8_t	*p;
		size_t		 n;
	} bad[] = {
		{ nonul, sizeof(nonul) }, { inner, sizeof(inner) },
		{ lead, sizeof(lead) }, { zero, sizeof(zero) },
		{ zerox, sizeof(zerox) },
	};
	struct buf	 b;
	const char	*s = NULL;
	char		*d = NULL;
	size_t		 n = 99, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf_view(&b, bad[i].p, bad[i].n);
		cr_assert_eq(buf_get_str(&b, &s, &n), -1, "case %zu", i);
		cr_assert_eq(b.off, 0, "case %zu", i);
		cr_assert_eq(buf_get_strdup(&b, &d), -1, "case %zu", i);
		cr_assert_null(d);
		cr_assert_eq(b.off, 0, "case %zu", i);
	}
	buf_view(&b, ok, sizeof(ok));
	cr_assert_eq(buf_get_str(&b, &s, &n), 0);
	cr_assert_str_eq(s, "a");
	cr_assert_eq(n, 1);
	cr_assert_eq(buf_end(&b), 0);
}

Test(buf, get_bool_accepts_only_0_and_1)
{
	struct buf	b;
	uint8_t		v;
	bool		out;
	unsigned	i;

	for (i = 0; i < 256; i++) {
		v = (uint8_t)i;
		out = false;
		buf_view(&b, &v, 1);
		if (i <= 1) {
			cr_assert_eq(buf_get_bool(&b, &out), 0);
			cr_assert_eq(out, i == 1);
			cr_assert_eq(b.off, 1);
		} else {
			cr_assert_eq(buf_get_bool(&b, &out), -1, "%u", i);
			cr_assert_eq(b.off, 0, "%u", i);
		}
	}
}

/* --- the hard maximum --- */

Test(buf, max_enforced_nothing_written)
{
	static const uint8_t ten[10] = "0123456789";
	struct buf	b;
	size_t		room;

	/* For each amount of room left, each putter that does not fit fails
	 * and writes nothing. */
	for (room = 0; room < 12; room++) {
		buf_init(&b, 16);
		cr_assert_eq(buf_put(&b, ten, 16 - room >= 10 ? 10 : 16 - room),
		    0);
		if (16 - room > 10)
			cr_assert_eq(buf_put(&b, ten, 16 - room - 10), 0);
		cr_assert_eq(b.len, 16 - room);
		if (room < 1)
			cr_assert_eq(buf_put_u8(&b, 1), -1);
		if (room < 2)
			cr_assert_eq(buf_put_u16(&b, 1), -1);
		if (room < 4)
			cr_assert_eq(buf_put_u32(&b, 1), -1);
		if (room < 8)
			cr_assert_eq(buf_put_u64(&b, 1), -1, "room %zu", room);
		cr_assert_eq(b.len, 16 - room, "room %zu: partial write",
		    room);
		if (room < 4 + 3)
			cr_assert_eq(buf_put_bytes(&b, "abc", 3), -1);
		if (room < 4 + 4)
			cr_assert_eq(buf_put_str(&b, "abc"), -1);
		if (room < 10)
			cr_assert_eq(buf_put(&b, ten, 10), -1);
		cr_assert_eq(b.len, 16 - room, "room %zu: partial write",
		    room);
		buf_release(&b);
	}
}

Test(buf, max_exactly_reachable)
{
	struct buf	b;
	size_t		i;
	uint8_t		v;

	/* Byte by byte across every growth step, up to the max exactly. */
	buf_init(&b, 1000);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(buf_put_u8(&b, (uint8_t)i), 0, "at %zu", i);
	cr_assert_eq(buf_put_u8(&b, 0), -1);
	cr_assert_null(buf_reserve(&b, 1));
	cr_assert_not_null(buf_reserve(&b, 0));
	cr_assert_eq(b.len, 1000);
	for (i = 0; i < 1000; i++) {
		cr_assert_eq(buf_get_u8(&b, &v), 0);
		cr_assert_eq(v, (uint8_t)i);
	}
	buf_release(&b);

	buf_init(&b, 0);
	cr_assert_eq(buf_put_u8(&b, 0), -1);
	cr_assert_eq(buf_put(&b, "", 0), 0);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

Test(buf, reserve_overflow_refused)
{
	struct buf	b;

	buf_init(&b, 64);
	cr_assert_eq(buf_put_u32(&b, 7), 0);
	cr_assert_null(buf_reserve(&b, SIZE_MAX));
	cr_assert_null(buf_reserve(&b, SIZE_MAX - 2));
	cr_assert_null(buf_reserve(&b, 61));
	cr_assert_not_null(buf_reserve(&b, 60));
	cr_assert_eq(b.len, 4);
	/* A length that cannot be encoded in the u32 prefix. */
	cr_assert_eq(buf_put_bytes(&b, "x", (size_t)UINT32_MAX + 1), -1);
	cr_assert_eq(b.len, 4);
	buf_release(&b);
}

/* --- end, compact, reset, views --- */

Test(buf, end_detects_trailing_bytes)
{
	struct buf	b;
	uint32_t	v;

	buf_init(&b, 64);
	cr_assert_eq(buf_end(&b), 0);
	cr_assert_eq(buf_put_u32(&b, 42), 0);
	cr_assert_eq(buf_put_u8(&b, 0), 0);
	cr_assert_eq(buf_get_u32(&b, &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_eq(buf_end(&b), -1);
	cr_assert_eq(buf_avail(&b), 1);
	cr_assert_eq(buf_skip(&b, 1), 0);
	cr_assert_eq(buf_end(&b), 0);
	buf_release(&b);
}

Test(buf, compact_moves_rest_and_wipes)
{
	struct buf	b;
	uint8_t		v;
	size_t		i;

	buf_init(&b, 64);
	for (i = 0; i < 10; i++)
		cr_assert_eq(buf_put_u8(&b, (uint8_t)(0xa0 + i)), 0);
	buf_compact(&b);			/* nothing consumed: no-op */
	cr_assert_eq(b.len, 10);
	cr_assert_eq(b.data[0], 0xa0);
	cr_assert_eq(buf_skip(&b, 6), 0);
	buf_compact(&b);
	cr_assert_eq(b.off, 0);
	cr_assert_eq(b.len, 4);
	cr_assert_eq(buf_ptr(&b), b.data);
	for (i = 0; i < 4; i++)
		cr_assert_eq(b.data[i], 0xa6 + i);
	/* The stale copies past the new end are wiped. */
	for (i = 4; i < 10; i++)
		cr_assert_eq(b.data[i], 0, "byte %zu not wiped", i);
	cr_assert_eq(buf_get_u8(&b, &v), 0);
	cr_assert_eq(v, 0xa6);
	/* Everything consumed: compact empties it. */
	cr_assert_eq(buf_skip(&b, 3), 0);
	buf_compact(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.off, 0);
	/* Room freed by compact is usable up to max again. */
	for (i = 0; i < 64; i++)
		cr_assert_eq(buf_put_u8(&b, 1), 0);
	cr_assert_eq(buf_put_u8(&b, 1), -1);
	buf_release(&b);
}

/* A put that does not fit marks the buffer until a truncate takes the
 * message back: the bytes before it stay, those after are wiped. */
Test(buf, truncate_takes_back_a_message_that_did_not_fit)
{
	struct buf	 b;
	uint8_t		*data;
	uint8_t		 v;
	size_t		 save;

	buf_init(&b, 16);
	cr_assert_eq(buf_put(&b, "line1\n", 6), 0);
	cr_assert(!b.failed);
	save = b.len;
	cr_assert_eq(buf_put(&b, "line", 4), 0);
	cr_assert_eq(buf_put(&b, "2 is too long\n", 14), -1);
	cr_assert(b.failed, "a put that did not fit left no mark");
	cr_assert_eq(buf_put_u8(&b, '!'), 0);	/* the mark stays */
	cr_assert(b.failed);
	data = b.data;
	buf_truncate(&b, save);
	cr_assert(!b.failed);
	cr_assert_eq(b.len, 6);
	cr_assert_arr_eq(b.data, "line1\n", 6);
	cr_assert_eq(data[6], 0, "a dropped byte was not wiped");
	cr_assert_eq(data[10], 0, "a dropped byte was not wiped");

	/* Never below what was read, nor past what was written. */
	cr_assert_eq(buf_get_u8(&b, &v), 0);
	buf_truncate(&b, 0);
	cr_assert_eq(b.len, 6);
	buf_truncate(&b, 7);
	cr_assert_eq(b.len, 6);
	buf_release(&b);
}

Test(buf, reset_wipes_keeps_storage)
{
	struct buf	 b;
	uint8_t		*data;
	size_t		 i, cap;

	buf_init(&b, 64);
	cr_assert_eq(buf_put(&b, "secretsecret", 12), 0);
	data = b.data;
	cap = b.cap;
	buf_reset(&b);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(b.off, 0);
	cr_assert_eq(b.data, data);
	cr_assert_eq(b.cap, cap);
	for (i = 0; i < 12; i++)
		cr_assert_eq(data[i], 0);
	buf_release(&b);
	cr_assert_null(b.data);
	cr_assert_eq(b.len, 0);
	buf_release(&b);			/* twice is harmless */
}

Test(buf, views_are_never_grown)
{
	uint8_t		 mem[8] = { 0, 0, 0, 2, 'a', 0, 7, 9 };
	uint8_t		 orig[8];
	struct buf	 b;
	const char	*s;
	uint8_t		 v;

	memcpy(orig, mem, sizeof(mem));
	buf_view(&b, mem, sizeof(mem));
	cr_assert(b.view);
	cr_assert_eq(b.len, 8);
	cr_assert_eq(buf_put_u8(&b, 1), -1);
	cr_assert_eq(buf_put(&b, "x", 1), -1);
	cr_assert_eq(buf_put_str(&b, "x"), -1);
	cr_assert_null(buf_reserve(&b, 1));
	cr_assert_null(buf_reserve(&b, 0));
	cr_assert_eq(b.data, mem);
	cr_assert_eq(b.len, 8);

	cr_assert_eq(buf_get_str(&b, &s, NULL), 0);
	cr_assert_eq((const void *)s, (const void *)(mem + 4));
	buf_compact(&b);			/* never moves borrowed memory */
	cr_assert_eq(b.off, 6);
	buf_reset(&b);				/* nor wipes it */
	cr_assert_eq(b.off, 6);
	cr_assert_arr_eq(mem, orig, sizeof(mem));
	cr_assert_eq(buf_get_u8(&b, &v), 0);
	cr_assert_eq(v, 7);
	buf_release(&b);			/* and never frees it */
	cr_assert_null(b.data);
	cr_assert_arr_eq(mem, orig, sizeof(mem));

	/* An empty view. */
	buf_view(&b, mem, 0);
	cr_assert_eq(buf_end(&b), 0);
	cr_assert_eq(buf_get_u8(&b, &v), -1);
	cr_assert_eq(buf_put_u8(&b, 1), -1);
}

/* --- mutation tests --- */

struct sample {
	uint8_t		 u8;
	uint16_t	 u16;
	uint32_t	 u32;
	uint64_t	 u64;
	bool		 flag;
	const uint8_t	*blob;
	size_t		 bloblen;
	const char	*name;
	size_t		 namelen;
	char		*copy;
};

static const uint8_t sample_blob[] = { 0xde, 0xad, 0, 0xbe, 0xef, 0, 1 };

static void
encode_sample(struct buf *b)
{
	buf_init(b, 1 * KB);
	cr_assert_eq(buf_put_u8(b, 0x11), 0);
	cr_assert_eq(buf_put_u16(b, 0x2222), 0);
	cr_assert_eq(buf_put_u32(b, 0x33333333), 0);
	cr_assert_eq(buf_put_u64(b, 0x4444444444444444ull), 0);
	cr_assert_eq(buf_put_u8(b, 1), 0);
	cr_assert_eq(buf_put_bytes(b, sample_blob, sizeof(sample_blob)), 0);
	cr_assert_eq(buf_put_str(b, "tenant/key-01"), 0);
	cr_assert_eq(buf_put_str(b, "a copy"), 0);
}

/* A decoder as a message handler would write it. */
static int
decode_sample(struct buf *b, struct sample *s)
{
	memset(s, 0, sizeof(*s));
	if (buf_get_u8(b, &s->u8) == -1 ||
	    buf_get_u16(b, &s->u16) == -1 ||
	    buf_get_u32(b, &s->u32) == -1 ||
	    buf_get_u64(b, &s->u64) == -1 ||
	    buf_get_bool(b, &s->flag) == -1 ||
	    buf_get_bytes(b, &s->blob, &s->bloblen) == -1 ||
	    buf_get_str(b, &s->name, &s->namelen) == -1 ||
	    buf_get_strdup(b, &s->copy) == -1 ||
	    buf_end(b) == -1) {
		free(s->copy);
		s->copy = NULL;
		return -1;
	}
	return 0;
}

/* What a successful decode of hostile bytes must still guarantee. */
static void
check_decoded(const struct sample *s, const uint8_t *p, size_t n)
{
	cr_assert(s->blob >= p && s->blob + s->bloblen <= p + n);
	cr_assert((const uint8_t *)s->name >= p &&
	    (const uint8_t *)s->name + s->namelen < p + n);
	cr_assert_eq(strlen(s->name), s->namelen);
	cr_assert_not_null(s->copy);
}

static int
decode_copy(const uint8_t *src, size_t n, struct sample *s)
{
	struct buf	 b;
	uint8_t		*copy;
	int		 r;

	/* Exact-size heap copy: ASan builds catch any overread. */
	copy = malloc(n ? n : 1);
	cr_assert_not_null(copy);
	memcpy(copy, src, n);
	buf_view(&b, copy, n);
	r = decode_sample(&b, s);
	if (r == 0)
		check_decoded(s, copy, n);
	else
		cr_assert_leq(b.off, n);
	free(s->copy);
	s->copy = NULL;
	free(copy);
	return r;
}

Test(buf, mutation_valid_message_decodes)
{
	struct buf	w, r;
	struct sample	s;

	encode_sample(&w);
	buf_view(&r, w.data, w.len);
	cr_assert_eq(decode_sample(&r, &s), 0);
	cr_assert_eq(s.u8, 0x11);
	cr_assert_eq(s.u16, 0x2222);
	cr_assert_eq(s.u32, 0x33333333);
	cr_assert_eq(s.u64, 0x4444444444444444ull);
	cr_assert(s.flag);
	cr_assert_eq(s.bloblen, sizeof(sample_blob));
	cr_assert_arr_eq(s.blob, sample_blob, sizeof(sample_blob));
	cr_assert_str_eq(s.name, "tenant/key-01");
	cr_assert_eq(s.namelen, strlen("tenant/key-01"));
	cr_assert_str_eq(s.copy, "a copy");
	free(s.copy);
	buf_release(&w);
}

Test(buf, mutation_truncations_fail)
{
	struct buf	w;
	struct sample	s;
	size_t		cut;

	encode_sample(&w);
	for (cut = 0; cut < w.len; cut++)
		cr_assert_eq(decode_copy(w.data, cut, &s), -1, "cut %zu", cut);
	cr_assert_eq(decode_copy(w.data, w.len, &s), 0);
	buf_release(&w);
}

Test(buf, mutation_trailing_byte_fails)
{
	struct buf	w;
	struct sample	s;

	encode_sample(&w);
	cr_assert_eq(buf_put_u8(&w, 0), 0);
	cr_assert_eq(decode_copy(w.data, w.len, &s), -1);
	buf_release(&w);
}

Test(buf, mutation_every_single_bit_flip)
{
	struct buf	 w;
	struct sample	 s;
	uint8_t		*m;
	size_t		 i;
	int		 bit, ok = 0;

	encode_sample(&w);
	m = malloc(w.len);
	cr_assert_not_null(m);
	for (i = 0; i < w.len; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(m, w.data, w.len);
			m[i] ^= (uint8_t)(1u << bit);
			if (decode_copy(m, w.len, &s) == 0)
				ok++;
		}
	/* Flips in the integer fields and string bodies still decode; flips
	 * in length prefixes, the bool and NULs do not. Both must occur. */
	cr_assert_gt(ok, 0);
	cr_assert_lt(ok, (int)(w.len * 8));
	free(m);
	buf_release(&w);
}

Test(buf, mutation_random_flips_and_truncations)
{
	struct buf	 w;
	struct sample	 s;
	uint64_t	 seed = 0x6b6579776172640aull;
	uint8_t		*m;
	size_t		 n, k, flips;
	int		 iter;

	encode_sample(&w);
	m = malloc(w.len + 8);
	cr_assert_not_null(m);
	for (iter = 0; iter < 20000; iter++) {
		memcpy(m, w.data, w.len);
		n = w.len;
		flips = 1 + rnd(&seed) % 6;
		for (k = 0; k < flips; k++)
			m[rnd(&seed) % n] ^= (uint8_t)(1u << (rnd(&seed) % 8));
		switch (rnd(&seed) % 4) {
		case 0:
			n = rnd(&seed) % (n + 1);	/* truncate */
			break;
		case 1:
			/* Oversize one of the length prefixes. */
			k = (rnd(&seed) % 3 == 0) ? 16 : (rnd(&seed) % 2 ?
			    27 : 27 + 4 + 13 + 1);
			m[k] = 0xff;
			break;
		case 2:
			m[n++] = (uint8_t)rnd(&seed);	/* trailing junk */
			break;
		default:
			break;
		}
		(void)decode_copy(m, n, &s);
	}
	free(m);
	buf_release(&w);
}

Test(buf, put_dec)
{
	struct buf	b;
	const uint64_t	v[] = { 0, 7, 10, 404, 18446744073709551615ULL };
	const char	*want[] = { "0", "7", "10", "404",
			    "18446744073709551615" };
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		buf_init(&b, 64);
		cr_assert_eq(buf_put_dec(&b, v[i]), 0);
		cr_assert_eq(buf_avail(&b), strlen(want[i]));
		cr_assert(memcmp(buf_ptr(&b), want[i], strlen(want[i])) == 0,
		    "%s", want[i]);
		buf_release(&b);
	}
	buf_init(&b, 3);
	cr_assert_eq(buf_put_dec(&b, 1234), -1, "past the maximum");
	buf_release(&b);
}
