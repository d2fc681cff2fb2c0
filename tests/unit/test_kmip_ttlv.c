/*
 * Unit tests for keystore-agent/kmip_ttlv.c and kmip_msg.c: the KMIP spec's
 * TTLV examples, the verified vectors of spec 3.7 byte for byte (built and
 * decoded), responses captured from PyKMIP 0.10.0, round trips, and
 * mutations (every bit flip and every truncation of every vector, oversize
 * lengths, deep nesting, trailing bytes, bad padding).
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "keystore-agent/kmip_msg.h"
#include "keystore-agent/kmip_ttlv.h"

#define KB	1024

/* --- vectors ------------------------------------------------------------- */

/* Spec 3.7 (verified against PyKMIP 0.10.0; name keyward/k1, value
 * CgIIAQ==). */
static const char V1[] =
    "42007801000000d84200770100000038420069010000002042006a02000000040000"
    "00010000000042006b0200000004000000020000000042000d020000000400000001"
    "0000000042000f010000009042005c05000000040000001e00000000420079010000"
    "0078420069010000002042006a0200000004000000020000000042006b0200000004"
    "0000000000000000420069010000002042006a020000000400000001000000004200"
    "6b02000000040000000400000000420069010000002042006a020000000400000001"
    "0000000042006b02000000040000000200000000";
static const char V2[] =
    "42007801000001404200770100000038420069010000002042006a02000000040000"
    "00010000000042006b0200000004000000040000000042000d020000000400000001"
    "0000000042000f01000000f842005c05000000040000000300000000420079010000"
    "00e0420057050000000400000007000000004200910100000080420008010000003042"
    "000a070000001843727970746f67726170686963205573616765204d61736b42000b"
    "02000000040000000000000000420008010000004042000a07000000044e616d6500"
    "00000042000b0100000028420055070000000a6b6579776172642f6b310000000000"
    "0042005405000000040000000100000000420085010000004042008605000000040000"
    "000200000000420040010000002842004205000000040000000200000000420045010000"
    "001042004308000000084367494941513d3d";
static const char V2_RESP[] =
    "42007b010000009042007a0100000048420069010000002042006a02000000040000"
    "00010000000042006b020000000400000004000000004200920900000008000000006b"
    "15200842000d0200000004000000010000000042000f010000003842005c0500000004"
    "000000030000000042007f0500000004000000000000000042007c01000000104200"
    "9407000000013100000000000000";
static const char V3[] =
    "42007801000001004200770100000038420069010000002042006a02000000040000"
    "00020000000042006b0200000004000000000000000042000d020000000400000001"
    "0000000042000f01000000b842005c05000000040000000300000000420079010000"
    "00a042005705000000040000000700000000420125010000004042002c0200000004"
    "00000000000000004200530100000028420055070000000a6b6579776172642f6b31"
    "00000000000042005405000000040000000100000000420085010000004042008605"
    "000000040000000200000000420040010000002842004205000000040000000200000000"
    "420045010000001042004308000000084367494941513d3d";
static const char V4[] =
    "42007801000000d84200770100000038420069010000002042006a02000000040000"
    "00010000000042006b0200000004000000040000000042000d020000000400000001"
    "0000000042000f010000009042005c05000000040000000800000000420079010000"
    "0078420008010000002842000a070000000b4f626a65637420547970650000000000"
    "42000b05000000040000000700000000420008010000004042000a07000000044e61"
    "6d650000000042000b0100000028420055070000000a6b6579776172642f6b310000"
    "0000000042005405000000040000000100000000";
static const char V5[] =
    "42007801000000a84200770100000038420069010000002042006a02000000040000"
    "00020000000042006b0200000004000000000000000042000d020000000400000001"
    "0000000042000f010000006042005c05000000040000000800000000420079010000"
    "0048420125010000004042005705000000040000000700000000420053010000002842"
    "0055070000000a6b6579776172642f6b3100000000000042005405000000040000000100"
    "000000";
static const char V6[] =
    "42007801000000704200770100000038420069010000002042006a02000000040000"
    "00010000000042006b0200000004000000040000000042000d020000000400000001"
    "0000000042000f010000002842005c05000000040000000a00000000420079010000"
    "001042009407000000013100000000000000";
static const char V7[] =
    "42007b01000000b042007a0100000048420069010000002042006a02000000040000"
    "00010000000042006b020000000400000004000000004200920900000008000000006b"
    "151e3f42000d0200000004000000010000000042000f010000005842005c0500000004"
    "0000000a0000000042007f0500000004000000010000000042007e05000000040000"
    "00010000000042007d070000001a436f756c64206e6f74206c6f63617465206f626a"
    "6563743a2031000000000000";
/* V8: Revoke 2.0 UID "2", Cessation of Operation: the payload. */
static const char V8_PAYLOAD[] =
    "420079010000002842009407000000013200000000000000420081010000001042008205"
    "000000040000000600000000";
/* GetAttributes 2.0 payload (spec 3.7 after V8): UID "2", then references
 * to State, Initial Date, Name. */
static const char GA20_PAYLOAD[] =
    "420079010000004042009407000000013200000000000000"
    "42013b05000000040042008d00000000"
    "42013b050000000400420039000000004201"
    "3b05000000040042005300000000";

/*
 * Captured from PyKMIP 0.10.0 here (tests/kmip/pykmip-server.sh, openssl
 * s_client): the answer to V1 (the three versions offered), and to V6
 * after V2 (spec 3.7's description of the Get payload, as bytes).
 */
static const char DV_RESP[] =
    "42007b01000000f842007a0100000048420069010000002042006a02000000040000"
    "00010000000042006b020000000400000002000000004200920900000008000000006b"
    "15303e42000d0200000004000000010000000042000f01000000a042005c0500000004"
    "0000001e0000000042007f0500000004000000000000000042007c01000000784200"
    "69010000002042006a0200000004000000020000000042006b020000000400000000"
    "00000000420069010000002042006a0200000004000000010000000042006b020000"
    "00040000000400000000420069010000002042006a02000000040000000100000000"
    "42006b02000000040000000200000000";
static const char GET_RESP[] =
    "42007b01000000e842007a0100000048420069010000002042006a02000000040000"
    "00010000000042006b020000000400000004000000004200920900000008000000006b"
    "15304442000d0200000004000000010000000042000f010000009042005c0500000004"
    "0000000a0000000042007f0500000004000000000000000042007c01000000684200"
    "57050000000400000007000000004200940700000001310000000000000042008501"
    "0000004042008605000000040000000200000000420040010000002842004205000000"
    "040000000200000000420045010000001042004308000000084367494941513d3d";

static const struct vec {
	const char	*name;
	const char	*hex;
	bool		 response;
} vecs[] = {
	{ "V1", V1, false },
	{ "V2", V2, false },
	{ "V2 response", V2_RESP, true },
	{ "V3", V3, false },
	{ "V4", V4, false },
	{ "V5", V5, false },
	{ "V6", V6, false },
	{ "V7", V7, true },
	{ "DV response", DV_RESP, true },
	{ "Get response", GET_RESP, true },
};
#define NVECS	(sizeof(vecs) / sizeof(vecs[0]))

static const struct kmip_version v10 = { 1, 0 }, v12 = { 1, 2 },
    v14 = { 1, 4 }, v20 = { 2, 0 };

/* --- helpers ------------------------------------------------------------- */

static size_t
unhex(const char *h, uint8_t **out)
{
	size_t	 n = strlen(h), i;
	uint8_t	*p;
	unsigned int v;

	cr_assert_eq(n % 2, 0, "odd hex");
	p = malloc(n / 2 + 1);
	cr_assert_not_null(p);
	for (i = 0; i < n / 2; i++) {
		cr_assert_eq(sscanf(h + 2 * i, "%2x", &v), 1);
		p[i] = (uint8_t)v;
	}
	*out = p;
	return n / 2;
}

static void
assert_bytes(const uint8_t *got, size_t glen, const char *hex,
    const char *what)
{
	uint8_t	*want;
	size_t	 wlen = unhex(hex, &want), i;

	cr_assert_eq(glen, wlen, "%s: %zu bytes, want %zu", what, glen, wlen);
	for (i = 0; i < wlen; i++)
		cr_assert_eq(got[i], want[i],
		    "%s: byte %zu is %02x, want %02x", what, i, got[i],
		    want[i]);
	free(want);
}

static bool
contains(const uint8_t *p, size_t n, const char *hex)
{
	uint8_t	*w;
	size_t	 wn = unhex(hex, &w);
	bool	 r = memmem(p, n, w, wn) != NULL;

	free(w);
	return r;
}

/* Decode p, re-encode, compare: a decoded input is always canonical. */
static void
assert_canonical(const uint8_t *p, size_t n)
{
	struct ttlv	top;
	struct ttlv_enc	e;
	struct buf	b;

	cr_assert_eq(ttlv_decode(p, n, NULL, &top, NULL, 0), 0);
	buf_init(&b, 2 * n + 64);
	ttlv_enc_begin(&e, &b);
	ttlv_put_tree(&e, &top);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	cr_assert_eq(b.len, n);
	cr_assert_eq(memcmp(b.data, p, n), 0, "not canonical");
	buf_release(&b);
}

/* Find the first item with tag under t (depth first). */
static bool
find(const struct ttlv *t, uint32_t tag, struct ttlv *out)
{
	struct ttlv_iter it;
	struct ttlv	 c;

	if (t->tag == tag) {
		*out = *t;
		return true;
	}
	if (t->type != TTLV_STRUCT)
		return false;
	ttlv_iter_init(&it, t);
	while (ttlv_next(&it, &c) == 1)
		if (find(&c, tag, out))
			return true;
	return false;
}

/* What a response means, in one comparable string. */
static bool
summarise(const uint8_t *p, size_t n, char *out, size_t outlen)
{
	struct kmip_resp	r;
	struct kmip_version	vs[KMIP_VERSIONS_MAX];
	struct kmip_object	o;
	struct kmip_uids	u;
	struct kmip_attrs	a;
	struct kmip_query	q;
	struct buf		mat;
	char			uid[KMIP_UID_MAX + 1], extra[512] = "";
	size_t			nv = 0, i;
	int			k;

	if (kmip_parse_response(p, n, NULL, &r, NULL, 0) == -1) {
		kmip_resp_free(&r);
		return false;
	}
	k = snprintf(out, outlen, "v%d.%d ts%lld n%zu", r.version.major,
	    r.version.minor, (long long)r.time_stamp, r.n);
	for (i = 0; i < r.n; i++) {
		const struct kmip_item *it = &r.items[i];

		extra[0] = '\0';
		buf_init(&mat, KB);
		if (kmip_parse_discover_versions(it, vs, KMIP_VERSIONS_MAX,
		    &nv) == 0) {
			size_t j, l = 0;

			for (j = 0; j < nv; j++)
				l += (size_t)snprintf(extra + l,
				    sizeof(extra) - l, " %d.%d", vs[j].major,
				    vs[j].minor);
		} else if (kmip_parse_uid(it, uid) == 0)
			(void)snprintf(extra, sizeof(extra), " uid=%s", uid);
		else if (kmip_parse_get(it, &o, &mat) == 0)
			(void)snprintf(extra, sizeof(extra),
			    " ot%u uid=%s st%u kf%u m%d=%.*s", o.object_type,
			    o.uid, o.secret_type, o.key_format,
			    o.has_material, (int)mat.len, mat.data);
		else if (kmip_parse_locate(it, &u) == 0) {
			(void)snprintf(extra, sizeof(extra), " loc%zu", u.n);
			kmip_uids_free(&u);
		} else if (kmip_parse_get_attributes(it, &a) == 0)
			(void)snprintf(extra, sizeof(extra), " attrs");
		else if (kmip_parse_query(it, &q) == 0)
			(void)snprintf(extra, sizeof(extra), " q%zu", q.nops);
		else
			(void)snprintf(extra, sizeof(extra), " payload?");
		buf_release(&mat);
		k += snprintf(out + k, outlen - (size_t)k,
		    " [op%u id%d s%u r%u '%s' p%d%s]", it->op, it->batch_id,
		    it->status, it->reason, it->msg, it->has_payload, extra);
	}
	kmip_resp_free(&r);
	return true;
}

static struct kmip_hdr
hdr(struct kmip_version v)
{
	struct kmip_hdr h;

	memset(&h, 0, sizeof(h));
	h.version = v;
	return h;
}

static const uint8_t k1_value[] = "CgIIAQ==";
#define K1_LEN	(sizeof(k1_value) - 1)

/* --- the KMIP spec's TTLV examples (1.x section 9.1.2) ------------------ */

Test(kmip_ttlv, spec_type_examples)
{
	static const uint8_t big[16] = { 0x00, 0x00, 0x00, 0x00, 0x03, 0xfd,
	    0x35, 0xeb, 0x6b, 0xc2, 0xdf, 0x46, 0x18, 0x08, 0x00, 0x00 };
	struct ttlv_enc	e;
	struct buf	b;

	buf_init(&b, KB);
	ttlv_enc_begin(&e, &b);
	ttlv_put_int(&e, 0x420020, 8);
	ttlv_put_long(&e, 0x420020, 123456789000000000LL);
	ttlv_put_bigint(&e, 0x420020, big, sizeof(big));
	ttlv_put_enum(&e, 0x420020, 255);
	ttlv_put_bool(&e, 0x420020, true);
	ttlv_put_str(&e, 0x420020, "Hello World");
	ttlv_put_bytes(&e, 0x420020, "\x01\x02\x03", 3);
	ttlv_put_datetime(&e, 0x420020, 0x47da67f8);	/* 2008-03-14 11:56:40 */
	ttlv_put_interval(&e, 0x420020, 864000);	/* 10 days */
	ttlv_open(&e, 0x420020);
	ttlv_put_enum(&e, 0x420004, 254);
	ttlv_put_int(&e, 0x420005, 255);
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	assert_bytes(b.data, b.len,
	    "42002002000000040000000800000000"
	    "420020030000000801b69b4ba5749200"
	    "42002004000000100000000003fd35eb6bc2df4618080000"
	    "4200200500000004000000ff00000000"
	    "42002006000000080000000000000001"
	    "420020070000000b48656c6c6f20576f726c640000000000"
	    "42002008000000030102030000000000"
	    "42002009000000080000000047da67f8"
	    "4200200a00000004000d2f0000000000"
	    "42002001000000204200040500000004000000fe00000000"
	    "42000502000000040000" "00ff00000000",
	    "type examples");
	buf_release(&b);
}

Test(kmip_ttlv, getters_read_each_type)
{
	static const uint8_t big[8] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	    0xff, 0xfe };
	struct ttlv_enc	 e;
	struct buf	 b;
	struct ttlv	 top, c;
	struct ttlv_iter it;
	int32_t		 i32;
	int64_t		 i64;
	uint32_t	 u32;
	bool		 bo;
	const uint8_t	*p;
	const char	*s;
	size_t		 n;
	char		 cs[8];

	buf_init(&b, KB);
	ttlv_enc_begin(&e, &b);
	ttlv_open(&e, 0x540001);
	ttlv_put_int(&e, 0x420001, -2);
	ttlv_put_long(&e, 0x420002, INT64_MIN);
	ttlv_put_bigint(&e, 0x420003, big, 8);
	ttlv_put_enum(&e, 0x420004, UINT32_MAX);
	ttlv_put_bool(&e, 0x420005, false);
	ttlv_put_text(&e, 0x420006, "h\xc3\xa9", 3);
	ttlv_put_bytes(&e, 0x420007, NULL, 0);
	ttlv_put_datetime(&e, 0x420008, -1);
	ttlv_put_interval(&e, 0x420009, UINT32_MAX);
	ttlv_put_datetime_ext(&e, 0x42000a, 1234567890123456LL);
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, NULL, &top, NULL, 0), 0);
	cr_assert_eq(top.tag, 0x540001);
	ttlv_iter_init(&it, &top);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_int(&c, &i32), 0);
	cr_assert_eq(i32, -2);
	cr_assert_eq(ttlv_get_enum(&c, &u32), -1, "type is checked");
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_long(&c, &i64), 0);
	cr_assert_eq(i64, INT64_MIN);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_bigint(&c, &p, &n), 0);
	cr_assert_eq(n, 8);
	cr_assert_eq(memcmp(p, big, 8), 0);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_enum(&c, &u32), 0);
	cr_assert_eq(u32, UINT32_MAX);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_bool(&c, &bo), 0);
	cr_assert_eq(bo, false);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_text(&c, &s, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_eq(ttlv_get_cstr(&c, cs, sizeof(cs)), 0);
	cr_assert_str_eq(cs, "h\xc3\xa9");
	cr_assert_eq(ttlv_get_cstr(&c, cs, 3), -1, "does not fit");
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_bytes(&c, &p, &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_datetime(&c, &i64), 0);
	cr_assert_eq(i64, -1);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_interval(&c, &u32), 0);
	cr_assert_eq(u32, UINT32_MAX);
	cr_assert_eq(ttlv_next(&it, &c), 1);
	cr_assert_eq(ttlv_get_datetime_ext(&c, &i64), 0);
	cr_assert_eq(i64, 1234567890123456LL);
	cr_assert_eq(ttlv_next(&it, &c), 0);
	assert_canonical(b.data, b.len);
	buf_release(&b);
}

/* --- spec 3.7 vectors: the builders produce them byte for byte ---------- */

Test(kmip_msg, v1_discover_versions)
{
	const struct kmip_version offer[] = { v20, v14, v12 };
	struct kmip_hdr	h = hdr(v12);
	struct buf	b;

	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_discover_versions(&b, &h, offer, 3), 0);
	assert_bytes(b.data, b.len, V1, "V1");
	buf_release(&b);
}

Test(kmip_msg, v2_register_14)
{
	struct kmip_hdr		h = hdr(v14);
	struct kmip_register	r = { "keyward/k1", NULL, 0, k1_value,
	    K1_LEN };
	struct buf		b;

	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_register(&b, &h, &r), 0);
	assert_bytes(b.data, b.len, V2, "V2");
	buf_release(&b);
}

Test(kmip_msg, v3_register_20)
{
	struct kmip_hdr		h = hdr(v20);
	struct kmip_register	r = { "keyward/k1", NULL, 0, k1_value,
	    K1_LEN };
	struct buf		b;

	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_register(&b, &h, &r), 0);
	assert_bytes(b.data, b.len, V3, "V3");
	buf_release(&b);
}

Test(kmip_msg, v4_v5_locate)
{
	struct kmip_hdr		h14 = hdr(v14), h20 = hdr(v20);
	struct kmip_locate	l = { "keyward/k1", NULL, 0, 0 };
	struct buf		b;

	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_locate(&b, &h14, &l), 0);
	assert_bytes(b.data, b.len, V4, "V4");
	buf_reset(&b);
	cr_assert_eq(kmip_req_locate(&b, &h20, &l), 0);
	assert_bytes(b.data, b.len, V5, "V5");
	buf_release(&b);
}

Test(kmip_msg, v6_get)
{
	struct kmip_hdr	h = hdr(v14);
	struct buf	b;

	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_get(&b, &h, "1"), 0);
	assert_bytes(b.data, b.len, V6, "V6");
	buf_release(&b);
}

Test(kmip_msg, v8_revoke_and_get_attributes_payloads)
{
	const char	*uids[] = { "2" };
	struct kmip_hdr	 h = hdr(v20);
	struct buf	 b;
	struct ttlv	 top, pl;

	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_revoke(&b, &h, "2", KMIP_REVOKE_CESSATION), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, NULL, &top, NULL, 0), 0);
	cr_assert(find(&top, KMIP_TAG_REQUEST_PAYLOAD, &pl));
	assert_bytes(pl.val - TTLV_HDRLEN, TTLV_HDRLEN + pl.len, V8_PAYLOAD,
	    "V8 payload");
	buf_reset(&b);
	cr_assert_eq(kmip_req_get_attributes(&b, &h, uids, 1,
	    KMIP_ATTR_STATE | KMIP_ATTR_INITIAL_DATE | KMIP_ATTR_NAME), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, NULL, &top, NULL, 0), 0);
	cr_assert(find(&top, KMIP_TAG_REQUEST_PAYLOAD, &pl));
	assert_bytes(pl.val - TTLV_HDRLEN, TTLV_HDRLEN + pl.len, GA20_PAYLOAD,
	    "GetAttributes 2.0 payload");
	/* One item: no batch item ID, no continuation option. */
	cr_assert_not(contains(b.data, b.len, "420093"));
	cr_assert_not(contains(b.data, b.len, "42000e"));
	buf_release(&b);
}

Test(kmip_msg, other_requests_shapes)
{
	const char	*uids[] = { "1", "22", "333" };
	struct kmip_hdr	 h = hdr(v14);
	struct kmip_locate l = { NULL, "kes", 500, 1000 };
	struct kmip_register r = { "keyward/k1", "kes", 12, k1_value,
	    K1_LEN };
	struct buf	 b;
	struct ttlv	 top;

	buf_init(&b, 4 * KB);
	/* 1.x Get Attributes, batched: IDs 1..3, option Continue. */
	cr_assert_eq(kmip_req_get_attributes(&b, &h, uids, 3,
	    KMIP_ATTR_STATE | KMIP_ATTR_INITIAL_DATE), 0);
	assert_canonical(b.data, b.len);
	cr_assert(contains(b.data, b.len,
	    "42000e050000000400000001000000004200" "0d020000000400000003"));
	cr_assert(contains(b.data, b.len, "420093080000000101"));
	cr_assert(contains(b.data, b.len, "420093080000000103"));
	cr_assert(contains(b.data, b.len,
	    "42000a0700000005537461746500000042000a070000000c"
	    "496e697469616c204461746500000000"));
	buf_reset(&b);
	/* List's Locate: paging, group, no Name. */
	cr_assert_eq(kmip_req_locate(&b, &h, &l), 0);
	cr_assert(contains(b.data, b.len,
	    "42004f02000000040000" "01f4000000004200d4020000000400" "0003e800000000"));
	cr_assert(contains(b.data, b.len, "4f626a6563742047726f7570"));
	cr_assert_not(contains(b.data, b.len, "420053"));
	buf_reset(&b);
	/* Register with a group and a usage mask. */
	cr_assert_eq(kmip_req_register(&b, &h, &r), 0);
	cr_assert(contains(b.data, b.len, "42000b02000000040000000c00000000"));
	cr_assert(contains(b.data, b.len, "42000b0700000003" "6b657300"));
	buf_reset(&b);
	/* 2.0: the group inside Attributes, no Attribute structures. */
	h.version = v20;
	cr_assert_eq(kmip_req_register(&b, &h, &r), 0);
	cr_assert(contains(b.data, b.len, "42002c02000000040000000c00000000"));
	cr_assert(contains(b.data, b.len, "4200560700000003" "6b657300"));
	cr_assert_not(contains(b.data, b.len, "420008"));
	buf_reset(&b);
	cr_assert_eq(kmip_req_locate(&b, &h, &l), 0);
	cr_assert(contains(b.data, b.len, "4201250100000020"
	    "42005705000000040000000700000000"
	    "4200560700000003" "6b65730000000000"));
	assert_canonical(b.data, b.len);
	h.version = v14;
	buf_reset(&b);
	cr_assert_eq(kmip_req_query(&b, &h), 0);
	cr_assert(contains(b.data, b.len,
	    "42005c05000000040000001800000000"));
	cr_assert(contains(b.data, b.len,
	    "42007405000000040000000100000000"));
	buf_reset(&b);
	cr_assert_eq(kmip_req_activate(&b, &h, "7"), 0);
	cr_assert(contains(b.data, b.len, "42005c05000000040000001200000000"));
	buf_reset(&b);
	cr_assert_eq(kmip_req_destroy(&b, &h, "7"), 0);
	cr_assert(contains(b.data, b.len, "42005c05000000040000001400000000"));
	cr_assert_eq(ttlv_decode(b.data, b.len, NULL, &top, NULL, 0), 0);
	buf_release(&b);
}

Test(kmip_msg, credentials_and_max_response)
{
	struct kmip_hdr	h = hdr(v14);
	struct buf	b;
	struct ttlv	top, t;

	h.username = "user";
	h.password = "pw";
	h.max_response = 65536;
	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_get(&b, &h, "1"), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, NULL, &top, NULL, 0), 0);
	cr_assert(find(&top, KMIP_TAG_AUTHENTICATION, &t));
	assert_bytes(t.val - TTLV_HDRLEN, TTLV_HDRLEN + t.len,
	    "42000c0100000040"
	    "4200230100000038"
	    "42002405000000040000000100000000"
	    "4200250100000020"
	    "42009907000000047573657200000000"
	    "4200a1070000000270770000000000" "00",
	    "Authentication");
	cr_assert(contains(b.data, b.len, "42005002000000040001000000000000"));
	buf_release(&b);
}

Test(kmip_msg, builders_refuse_bad_arguments)
{
	char			 longname[KMIP_NAME_MAX + 2], longuid[300];
	const char		*uids[KMIP_BATCH_MAX + 1];
	struct kmip_hdr		 h = hdr(v14), h12 = hdr(v12), h0 = hdr(v14);
	struct kmip_register	 r = { "", NULL, 0, k1_value, K1_LEN };
	struct kmip_locate	 l = { NULL, NULL, 0, 10 };
	struct buf		 b;
	size_t			 i;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	memset(longuid, '1', sizeof(longuid) - 1);
	longuid[sizeof(longuid) - 1] = '\0';
	for (i = 0; i < KMIP_BATCH_MAX + 1; i++)
		uids[i] = "1";
	h0.version.major = 0;
	buf_init(&b, 4 * KB);
	cr_assert_eq(kmip_req_register(&b, &h, &r), -1, "empty name");
	r.name = longname;
	cr_assert_eq(kmip_req_register(&b, &h, &r), -1, "name too long");
	r.name = "a\xff";
	cr_assert_eq(kmip_req_register(&b, &h, &r), -1, "not UTF-8");
	r.name = "ok";
	r.usage_mask = 0x80000000u;
	cr_assert_eq(kmip_req_register(&b, &h, &r), -1, "mask");
	cr_assert_eq(kmip_req_locate(&b, &h12, &l), -1, "offset before 1.3");
	cr_assert_eq(kmip_req_get(&b, &h, ""), -1);
	cr_assert_eq(kmip_req_get(&b, &h, NULL), -1);
	cr_assert_eq(kmip_req_get(&b, &h, longuid), -1);
	cr_assert_eq(kmip_req_get(&b, &h0, "1"), -1, "version 0");
	cr_assert_eq(kmip_req_revoke(&b, &h, "1", 0), -1);
	cr_assert_eq(kmip_req_get_attributes(&b, &h, uids, 0,
	    KMIP_ATTR_STATE), -1);
	cr_assert_eq(kmip_req_get_attributes(&b, &h, uids,
	    KMIP_BATCH_MAX + 1, KMIP_ATTR_STATE), -1);
	cr_assert_eq(kmip_req_get_attributes(&b, &h, uids, 1, 0), -1);
	cr_assert_eq(kmip_req_get_attributes(&b, &h, uids, 1, 0x80), -1);
	cr_assert_eq(b.len, 0, "failures leave nothing behind");
	buf_release(&b);
}

Test(kmip_ttlv, encoder_maximum_and_rollback)
{
	struct kmip_hdr		h = hdr(v14);
	struct kmip_register	r = { "keyward/k1", NULL, 0, k1_value,
	    K1_LEN };
	struct buf		b;
	size_t			max;

	/* Every maximum below the message's size fails and leaves the
	 * buffer as it was; the exact size succeeds. */
	for (max = 0; max < 328; max++) {
		buf_init(&b, max);
		if (max >= 3) {
			cr_assert_eq(buf_put(&b, "abc", 3), 0);
		}
		cr_assert_eq(kmip_req_register(&b, &h, &r), -1, "max %zu", max);
		cr_assert_eq(b.len, max >= 3 ? 3 : 0);
		buf_release(&b);
	}
	buf_init(&b, 328);
	cr_assert_eq(kmip_req_register(&b, &h, &r), 0);
	assert_bytes(b.data, b.len, V2, "V2 at its exact size");
	buf_release(&b);
}

Test(kmip_ttlv, encoder_structure_misuse)
{
	struct ttlv_enc	e;
	struct buf	b;
	int		i;

	buf_init(&b, 64 * KB);
	ttlv_enc_begin(&e, &b);
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), -1, "close without open");
	ttlv_enc_begin(&e, &b);
	ttlv_open(&e, 0x420001);
	cr_assert_eq(ttlv_enc_end(&e), -1, "left open");
	ttlv_enc_begin(&e, &b);
	for (i = 0; i < TTLV_DEPTH_MAX + 1; i++)
		ttlv_open(&e, 0x420001);
	cr_assert_eq(ttlv_enc_end(&e), -1, "too deep");
	ttlv_enc_begin(&e, &b);
	ttlv_put_int(&e, 0x1000000, 1);
	cr_assert_eq(ttlv_enc_end(&e), -1, "tag over 24 bits");
	ttlv_enc_begin(&e, &b);
	ttlv_put_bigint(&e, 0x420001, "1234567", 7);
	cr_assert_eq(ttlv_enc_end(&e), -1, "big integer of 7 bytes");
	ttlv_enc_begin(&e, &b);
	ttlv_put_text(&e, 0x420001, "a\0b", 3);
	cr_assert_eq(ttlv_enc_end(&e), -1, "NUL in text");
	/* Items that did not come from the decoder. */
	ttlv_enc_begin(&e, &b);
	ttlv_put_tree(&e, &(struct ttlv){ 0x420001, 0x0c, 0, NULL });
	cr_assert_eq(ttlv_enc_end(&e), -1, "unknown type");
	ttlv_enc_begin(&e, &b);
	ttlv_put_tree(&e, &(struct ttlv){ 0x420001, TTLV_INT, 8,
	    (const uint8_t *)"\0\0\0\1\0\0\0\0" });
	cr_assert_eq(ttlv_enc_end(&e), -1, "integer of 8 bytes");
	ttlv_enc_begin(&e, &b);
	ttlv_put_tree(&e, &(struct ttlv){ 0x420001, TTLV_STRUCT, 4,
	    (const uint8_t *)"\x42\0\1\2" });
	cr_assert_eq(ttlv_enc_end(&e), -1, "structure cut short");
	cr_assert_eq(b.len, 0);
	buf_release(&b);
}

/* --- decoding the vectors ------------------------------------------------ */

Test(kmip_ttlv, vectors_decode_and_are_canonical)
{
	struct ttlv	 top;
	uint8_t		*p;
	size_t		 n, i;

	for (i = 0; i < NVECS; i++) {
		n = unhex(vecs[i].hex, &p);
		cr_assert_eq(ttlv_decode(p, n, NULL, &top, NULL, 0), 0, "%s",
		    vecs[i].name);
		cr_assert_eq(top.tag, vecs[i].response ?
		    KMIP_TAG_RESPONSE_MESSAGE : KMIP_TAG_REQUEST_MESSAGE);
		assert_canonical(p, n);
		free(p);
	}
}

Test(kmip_ttlv, v2_decodes_to_its_fields)
{
	struct ttlv	 top, t;
	uint8_t		*p;
	size_t		 n;
	char		 s[64];
	const uint8_t	*m;
	uint32_t	 u;
	int32_t		 i;

	n = unhex(V2, &p);
	cr_assert_eq(n, 328);
	cr_assert_eq(ttlv_decode(p, n, NULL, &top, NULL, 0), 0);
	cr_assert(find(&top, KMIP_TAG_PROTOCOL_MINOR, &t));
	cr_assert_eq(ttlv_get_int(&t, &i), 0);
	cr_assert_eq(i, 4);
	cr_assert(find(&top, KMIP_TAG_OPERATION, &t));
	cr_assert_eq(ttlv_get_enum(&t, &u), 0);
	cr_assert_eq(u, KMIP_OP_REGISTER);
	cr_assert(find(&top, KMIP_TAG_OBJECT_TYPE, &t));
	cr_assert_eq(ttlv_get_enum(&t, &u), 0);
	cr_assert_eq(u, KMIP_OBJECT_SECRET_DATA);
	cr_assert(find(&top, KMIP_TAG_NAME_VALUE, &t));
	cr_assert_eq(ttlv_get_cstr(&t, s, sizeof(s)), 0);
	cr_assert_str_eq(s, "keyward/k1");
	cr_assert(find(&top, KMIP_TAG_SECRET_DATA_TYPE, &t));
	cr_assert_eq(ttlv_get_enum(&t, &u), 0);
	cr_assert_eq(u, KMIP_SECRET_SEED);
	cr_assert(find(&top, KMIP_TAG_KEY_MATERIAL, &t));
	cr_assert_eq(ttlv_get_bytes(&t, &m, &n), 0);
	cr_assert_eq(n, K1_LEN);
	cr_assert_eq(memcmp(m, k1_value, n), 0);
	free(p);
}

Test(kmip_msg, v2_response)
{
	struct kmip_resp r;
	uint8_t		*p;
	size_t		 n;
	char		 uid[KMIP_UID_MAX + 1];

	n = unhex(V2_RESP, &p);
	cr_assert_eq(n, 152);
	cr_assert_eq(kmip_parse_response(p, n, NULL, &r, NULL, 0), 0);
	cr_assert_eq(r.version.major, 1);
	cr_assert_eq(r.version.minor, 4);
	cr_assert_eq(r.time_stamp, 0x6b152008);
	cr_assert_eq(r.n, 1);
	cr_assert_eq(r.items[0].op, KMIP_OP_REGISTER);
	cr_assert_eq(r.items[0].status, KMIP_STATUS_SUCCESS);
	cr_assert_eq(r.items[0].batch_id, -1);
	cr_assert_eq(kmip_parse_uid(&r.items[0], uid), 0);
	cr_assert_str_eq(uid, "1");
	cr_assert_eq(kmip_item_outcome(KMIP_OP_REGISTER, &r.items[0]),
	    KMIP_OUTCOME_OK);
	/* The wrong parser for the item refuses it. */
	cr_assert_eq(kmip_parse_locate(&r.items[0],
	    &(struct kmip_uids){ 0 }), -1);
	kmip_resp_free(&r);
	free(p);
}

Test(kmip_msg, v7_failure_maps_to_not_found)
{
	struct kmip_resp	r;
	struct kmip_object	o;
	struct buf		m;
	uint8_t			*p;
	size_t			 n;

	n = unhex(V7, &p);
	cr_assert_eq(n, 184);
	cr_assert_eq(kmip_parse_response(p, n, NULL, &r, NULL, 0), 0);
	cr_assert_eq(r.n, 1);
	cr_assert_eq(r.items[0].op, KMIP_OP_GET);
	cr_assert_eq(r.items[0].status, KMIP_STATUS_FAILED);
	cr_assert_eq(r.items[0].reason, KMIP_REASON_ITEM_NOT_FOUND);
	cr_assert_str_eq(r.items[0].msg, "Could not locate object: 1");
	cr_assert_not(r.items[0].has_payload);
	cr_assert_eq(kmip_item_outcome(KMIP_OP_GET, &r.items[0]),
	    KMIP_OUTCOME_NOT_FOUND);
	cr_assert_eq(kmip_item_outcome(KMIP_OP_DESTROY, &r.items[0]),
	    KMIP_OUTCOME_OTHER, "an answer to another operation");
	buf_init(&m, KB);
	cr_assert_eq(kmip_parse_get(&r.items[0], &o, &m), -1);
	cr_assert_eq(m.len, 0);
	buf_release(&m);
	kmip_resp_free(&r);
	free(p);
}

Test(kmip_msg, discover_versions_response_and_pick)
{
	const struct kmip_version offer[] = { v20, v14, { 1, 3 }, v12 };
	const struct kmip_version only14[] = { v14 };
	struct kmip_resp	r;
	struct kmip_version	vs[KMIP_VERSIONS_MAX], got;
	uint8_t			*p;
	size_t			 n, nv;

	n = unhex(DV_RESP, &p);
	cr_assert_eq(kmip_parse_response(p, n, NULL, &r, NULL, 0), 0);
	cr_assert_eq(kmip_parse_discover_versions(&r.items[0], vs,
	    KMIP_VERSIONS_MAX, &nv), 0);
	cr_assert_eq(nv, 3);
	cr_assert_eq(vs[0].major, 2);
	cr_assert_eq(vs[0].minor, 0);
	cr_assert_eq(vs[1].minor, 4);
	cr_assert_eq(vs[2].minor, 2);
	cr_assert_eq(kmip_version_pick(vs, nv, offer, 4, &got), 0);
	cr_assert_eq(got.major, 2);
	cr_assert_eq(kmip_version_pick(vs, nv, only14, 1, &got), 0);
	cr_assert_eq(got.minor, 4);
	cr_assert_eq(kmip_version_pick(vs, nv, &v10, 1, &got), -1);
	/* max bounds what is kept. */
	cr_assert_eq(kmip_parse_discover_versions(&r.items[0], vs, 1, &nv),
	    0);
	cr_assert_eq(nv, 1);
	kmip_resp_free(&r);
	free(p);
}

Test(kmip_msg, get_response_material)
{
	struct kmip_resp	r;
	struct kmip_object	o;
	struct buf		m;
	uint8_t			*p;
	size_t			 n;

	n = unhex(GET_RESP, &p);
	cr_assert_eq(kmip_parse_response(p, n, NULL, &r, NULL, 0), 0);
	buf_init(&m, KB);
	cr_assert_eq(kmip_parse_get(&r.items[0], &o, &m), 0);
	cr_assert_eq(o.object_type, KMIP_OBJECT_SECRET_DATA);
	cr_assert_str_eq(o.uid, "1");
	cr_assert_eq(o.secret_type, KMIP_SECRET_SEED);
	cr_assert_eq(o.key_format, KMIP_KEY_FORMAT_OPAQUE);
	cr_assert(o.has_material);
	cr_assert_eq(m.len, K1_LEN);
	cr_assert_eq(memcmp(m.data, k1_value, K1_LEN), 0);
	buf_release(&m);
	/* A value larger than the buffer's maximum is refused, and nothing
	 * is left in it. */
	buf_init(&m, K1_LEN - 1);
	cr_assert_eq(kmip_parse_get(&r.items[0], &o, &m), -1);
	cr_assert_eq(m.len, 0);
	cr_assert_not(o.has_material);
	buf_release(&m);
	kmip_resp_free(&r);
	free(p);
}

/* A response around one or more payloads, built with the encoder. */
static void
response(struct buf *b, struct kmip_version v, size_t n,
    const uint32_t *ops, void (*payload)(struct ttlv_enc *, size_t))
{
	struct ttlv_enc	e;
	size_t		i;
	uint8_t		id;

	ttlv_enc_begin(&e, b);
	ttlv_open(&e, KMIP_TAG_RESPONSE_MESSAGE);
	ttlv_open(&e, KMIP_TAG_RESPONSE_HEADER);
	ttlv_open(&e, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MAJOR, v.major);
	ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MINOR, v.minor);
	ttlv_close(&e);
	ttlv_put_datetime(&e, KMIP_TAG_TIME_STAMP, 1700000000);
	ttlv_put_int(&e, KMIP_TAG_BATCH_COUNT, (int32_t)n);
	ttlv_close(&e);
	for (i = 0; i < n; i++) {
		ttlv_open(&e, KMIP_TAG_BATCH_ITEM);
		ttlv_put_enum(&e, KMIP_TAG_OPERATION, ops[i]);
		if (n > 1) {
			id = (uint8_t)(i + 1);
			ttlv_put_bytes(&e, KMIP_TAG_BATCH_ITEM_ID, &id, 1);
		}
		if (payload == NULL) {
			ttlv_put_enum(&e, KMIP_TAG_RESULT_STATUS, 1);
			ttlv_put_enum(&e, KMIP_TAG_RESULT_REASON, 1);
		} else {
			ttlv_put_enum(&e, KMIP_TAG_RESULT_STATUS, 0);
			ttlv_open(&e, KMIP_TAG_RESPONSE_PAYLOAD);
			payload(&e, i);
			ttlv_close(&e);
		}
		ttlv_close(&e);
	}
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
}

static void
attrs_1x(struct ttlv_enc *e, size_t i)
{
	char uid[8];

	(void)snprintf(uid, sizeof(uid), "%zu", 10 - i);
	ttlv_put_str(e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_open(e, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(e, KMIP_TAG_ATTRIBUTE_NAME, "State");
	ttlv_put_enum(e, KMIP_TAG_ATTRIBUTE_VALUE, i == 2 ? 5 : 1);
	ttlv_close(e);
	ttlv_open(e, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(e, KMIP_TAG_ATTRIBUTE_NAME, "Initial Date");
	ttlv_put_datetime(e, KMIP_TAG_ATTRIBUTE_VALUE, i == 0 ? 101 : 100);
	ttlv_close(e);
	ttlv_open(e, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(e, KMIP_TAG_ATTRIBUTE_NAME, "Name");
	ttlv_put_int(e, KMIP_TAG_ATTRIBUTE_INDEX, 0);
	ttlv_open(e, KMIP_TAG_ATTRIBUTE_VALUE);
	ttlv_put_str(e, KMIP_TAG_NAME_VALUE, "kes/k");
	ttlv_put_enum(e, KMIP_TAG_NAME_TYPE, 1);
	ttlv_close(e);
	ttlv_close(e);
	ttlv_open(e, KMIP_TAG_ATTRIBUTE);	/* not asked for: skipped */
	ttlv_put_str(e, KMIP_TAG_ATTRIBUTE_NAME, "Object Group");
	ttlv_put_str(e, KMIP_TAG_ATTRIBUTE_VALUE, "kes");
	ttlv_close(e);
}

static void
attrs_20(struct ttlv_enc *e, size_t i)
{
	ttlv_put_str(e, KMIP_TAG_UNIQUE_IDENTIFIER, i == 0 ? "9" : "10");
	ttlv_open(e, KMIP_TAG_ATTRIBUTES);
	ttlv_put_enum(e, KMIP_TAG_STATE, 2);
	ttlv_put_datetime(e, KMIP_TAG_INITIAL_DATE, 100);
	ttlv_open(e, KMIP_TAG_NAME);
	ttlv_put_str(e, KMIP_TAG_NAME_VALUE, "first");
	ttlv_put_enum(e, KMIP_TAG_NAME_TYPE, 1);
	ttlv_close(e);
	ttlv_open(e, KMIP_TAG_NAME);
	ttlv_put_str(e, KMIP_TAG_NAME_VALUE, "second");
	ttlv_put_enum(e, KMIP_TAG_NAME_TYPE, 1);
	ttlv_close(e);
	ttlv_put_str(e, 0x540001, "vendor extension, skipped");
	ttlv_close(e);
}

Test(kmip_msg, get_attributes_both_encodings_and_winner)
{
	const uint32_t		ops[3] = { KMIP_OP_GET_ATTRIBUTES,
	    KMIP_OP_GET_ATTRIBUTES, KMIP_OP_GET_ATTRIBUTES };
	struct kmip_resp	r;
	struct kmip_attrs	a[3];
	struct buf		b;
	size_t			i;

	buf_init(&b, 4 * KB);
	response(&b, v14, 3, ops, attrs_1x);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0), 0);
	cr_assert_eq(r.n, 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(r.items[i].batch_id, (int)i);
		cr_assert_eq(kmip_parse_get_attributes(&r.items[i], &a[i]), 0);
		cr_assert(a[i].has_state);
		cr_assert(a[i].has_initial_date);
		cr_assert(a[i].has_name);
		cr_assert_str_eq(a[i].name, "kes/k");
		cr_assert_eq(a[i].name_type, 1);
	}
	cr_assert_str_eq(a[0].uid, "10");
	/* uid 10 at 101, uid 9 at 100, uid 8 at 100 but destroyed: 9 wins. */
	cr_assert_eq(kmip_winner(a, 3), 1);
	a[0].initial_date = 100;
	cr_assert_eq(kmip_winner(a, 3), 1, "tie: 9 before 10 (length)");
	a[1].state = KMIP_STATE_DESTROYED;
	cr_assert_eq(kmip_winner(a, 3), 0);
	a[0].has_initial_date = false;
	cr_assert_eq(kmip_winner(a, 3), -1);
	kmip_resp_free(&r);

	buf_reset(&b);
	response(&b, v20, 2, ops, attrs_20);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0), 0);
	cr_assert_eq(kmip_parse_get_attributes(&r.items[0], &a[0]), 0);
	cr_assert_eq(a[0].state, 2);
	cr_assert_eq(a[0].initial_date, 100);
	cr_assert_str_eq(a[0].name, "first");
	cr_assert_eq(a[0].names_skipped, 1);
	kmip_resp_free(&r);
	buf_release(&b);
}

static void
locate_payload(struct ttlv_enc *e, size_t i)
{
	ttlv_put_int(e, KMIP_TAG_LOCATED_ITEMS, 3);
	ttlv_put_str(e, KMIP_TAG_UNIQUE_IDENTIFIER, "3");
	ttlv_put_str(e, KMIP_TAG_UNIQUE_IDENTIFIER, "2");
	ttlv_put_str(e, KMIP_TAG_UNIQUE_IDENTIFIER, "1");
}

static void
query_payload(struct ttlv_enc *e, size_t i)
{
	ttlv_put_enum(e, KMIP_TAG_OPERATION, KMIP_OP_CREATE);
	ttlv_put_enum(e, KMIP_TAG_OPERATION, KMIP_OP_LOCATE);
	ttlv_put_enum(e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SECRET_DATA);
	ttlv_put_str(e, KMIP_TAG_VENDOR_ID, "Vendor\n0.1");
}

Test(kmip_msg, locate_and_query_responses)
{
	const uint32_t		lop = KMIP_OP_LOCATE, qop = KMIP_OP_QUERY;
	struct kmip_resp	r;
	struct kmip_uids	u;
	struct kmip_query	q;
	struct buf		b;

	buf_init(&b, 4 * KB);
	response(&b, v20, 1, &lop, locate_payload);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0), 0);
	cr_assert_eq(kmip_parse_locate(&r.items[0], &u), 0);
	cr_assert_eq(u.n, 3);
	cr_assert(u.has_located);
	cr_assert_eq(u.located, 3);
	cr_assert_str_eq(u.uid[0], "3");
	cr_assert_str_eq(u.uid[2], "1");
	kmip_uids_free(&u);
	kmip_resp_free(&r);
	buf_reset(&b);
	response(&b, v14, 1, &qop, query_payload);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0), 0);
	cr_assert_eq(kmip_parse_query(&r.items[0], &q), 0);
	cr_assert_eq(q.nops, 2);
	cr_assert_eq(q.ops[1], KMIP_OP_LOCATE);
	cr_assert_str_eq(q.vendor, "Vendor?0.1", "control bytes masked");
	kmip_resp_free(&r);
	buf_release(&b);
}

Test(kmip_msg, response_envelope_rules)
{
	const uint32_t		ops[2] = { KMIP_OP_GET, KMIP_OP_GET };
	struct kmip_resp	r;
	struct buf		b;
	char			err[128];
	struct ttlv_enc		e;
	uint8_t			*cnt;

	buf_init(&b, 4 * KB);
	/* A request is not a response. */
	cr_assert_eq(kmip_req_get(&b, &(struct kmip_hdr){ .version = v14 },
	    "1"), 0);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "not a Response Message");
	kmip_resp_free(&r);
	/* Failed items without payloads, Batch Count 2. */
	buf_reset(&b);
	response(&b, v14, 2, ops, NULL);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0), 0);
	cr_assert_eq(r.n, 2);
	kmip_resp_free(&r);
	/* Batch Count saying 1 while 2 items follow. */
	cnt = memmem(b.data, b.len, "\x42\x00\x0d\x02\x00\x00\x00\x04", 8);
	cr_assert_not_null(cnt);
	cr_assert_eq(cnt[11], 2);
	cnt[11] = 1;
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, err,
	    sizeof(err)), -1);
	kmip_resp_free(&r);
	/* A header without Time Stamp. */
	buf_reset(&b);
	ttlv_enc_begin(&e, &b);
	ttlv_open(&e, KMIP_TAG_RESPONSE_MESSAGE);
	ttlv_open(&e, KMIP_TAG_RESPONSE_HEADER);
	ttlv_open(&e, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MAJOR, 1);
	ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MINOR, 0);
	ttlv_close(&e);
	ttlv_put_int(&e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_close(&e);
	ttlv_open(&e, KMIP_TAG_BATCH_ITEM);
	ttlv_put_enum(&e, KMIP_TAG_RESULT_STATUS, 1);
	ttlv_close(&e);
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0),
	    -1);
	kmip_resp_free(&r);
	buf_release(&b);
}

Test(kmip_msg, message_level_error_without_operation)
{
	struct kmip_resp	r;
	struct buf		b;
	struct ttlv_enc		e;

	/* PyKMIP's answer to an unparsable request: header 1.0, one item
	 * with no Operation, Reason Invalid Message (spec 3.3). */
	buf_init(&b, KB);
	ttlv_enc_begin(&e, &b);
	ttlv_open(&e, KMIP_TAG_RESPONSE_MESSAGE);
	ttlv_open(&e, KMIP_TAG_RESPONSE_HEADER);
	ttlv_open(&e, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MAJOR, 1);
	ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MINOR, 0);
	ttlv_close(&e);
	ttlv_put_datetime(&e, KMIP_TAG_TIME_STAMP, 1);
	ttlv_put_int(&e, KMIP_TAG_BATCH_COUNT, 1);
	ttlv_close(&e);
	ttlv_open(&e, KMIP_TAG_BATCH_ITEM);
	ttlv_put_enum(&e, KMIP_TAG_RESULT_STATUS, 1);
	ttlv_put_enum(&e, KMIP_TAG_RESULT_REASON, 4);
	ttlv_put_str(&e, KMIP_TAG_RESULT_MESSAGE, "Error parsing request "
	    "message. See server logs for more information.");
	ttlv_close(&e);
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	cr_assert_eq(kmip_parse_response(b.data, b.len, NULL, &r, NULL, 0), 0);
	cr_assert_eq(r.items[0].op, 0);
	cr_assert_eq(kmip_item_outcome(KMIP_OP_DISCOVER_VERSIONS, &r.items[0]),
	    KMIP_OUTCOME_RENEGOTIATE);
	kmip_resp_free(&r);
	buf_release(&b);
}

/* --- spec 3.5 ------------------------------------------------------------ */

Test(kmip_msg, outcome_mapping)
{
	static const struct {
		uint32_t		op, status, reason;
		enum kmip_outcome	want;
	} t[] = {
		{ KMIP_OP_GET, 0, 0, KMIP_OUTCOME_OK },
		{ KMIP_OP_GET, 1, 0x01, KMIP_OUTCOME_NOT_FOUND },
		{ KMIP_OP_GET, 1, 0x37, KMIP_OUTCOME_NOT_FOUND },
		{ KMIP_OP_GET, 1, 0x36, KMIP_OUTCOME_NOT_FOUND },
		{ KMIP_OP_GET, 1, 0x13, KMIP_OUTCOME_NOT_FOUND },
		{ KMIP_OP_DESTROY, 1, 0x01, KMIP_OUTCOME_NOT_FOUND },
		{ KMIP_OP_GET_ATTRIBUTES, 1, 0x01, KMIP_OUTCOME_NOT_FOUND },
		{ KMIP_OP_LOCATE, 1, 0x01, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_REGISTER, 1, 0x18, KMIP_OUTCOME_EXISTS },
		{ KMIP_OP_REGISTER, 1, 0x35, KMIP_OUTCOME_EXISTS },
		{ KMIP_OP_GET, 1, 0x35, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_DESTROY, 1, 0x0c, KMIP_OUTCOME_REVOKE },
		{ KMIP_OP_DESTROY, 1, 0x0b, KMIP_OUTCOME_REVOKE },
		{ KMIP_OP_DESTROY, 1, 0x43, KMIP_OUTCOME_REVOKE },
		{ KMIP_OP_GET, 1, 0x0c, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_REVOKE, 1, 0x0b, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x03, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x39, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x04, KMIP_OUTCOME_RENEGOTIATE },
		{ KMIP_OP_REGISTER, 1, 0x3f, KMIP_OUTCOME_RENEGOTIATE },
		{ KMIP_OP_DISCOVER_VERSIONS, 1, 0x05,
		    KMIP_OUTCOME_RENEGOTIATE },
		{ KMIP_OP_GET, 1, 0x05, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x08, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x10, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_LOCATE, 1, 0x02, KMIP_OUTCOME_SMALLER },
		{ KMIP_OP_GET, 1, 0x16, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x17, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_LOCATE, 1, 0x100, KMIP_OUTCOME_RETRY },
		{ KMIP_OP_GET, 1, 0x2a, KMIP_OUTCOME_RETRY },
		{ KMIP_OP_GET_ATTRIBUTES, 1, 0x3a, KMIP_OUTCOME_RETRY },
		{ KMIP_OP_DISCOVER_VERSIONS, 1, 0x100, KMIP_OUTCOME_RETRY },
		{ KMIP_OP_REGISTER, 1, 0x100, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_DESTROY, 1, 0x2a, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 1, 0x24, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 2, 0, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 3, 0, KMIP_OUTCOME_OTHER },
		{ KMIP_OP_GET, 9, 0, KMIP_OUTCOME_OTHER },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(kmip_outcome(t[i].op, t[i].status, t[i].reason),
		    t[i].want, "row %zu", i);
	cr_assert_str_eq(kmip_reason_name(0x35), "Non Unique Name Attribute");
	cr_assert_str_eq(kmip_reason_name(0x100), "General Failure");
	cr_assert_str_eq(kmip_reason_name(0x99), "unknown reason");
	cr_assert_not_null(kmip_reason_hint(0x17));
	cr_assert_null(kmip_reason_hint(0x01));
}

Test(kmip_msg, uid_order_and_live_states)
{
	cr_assert_lt(kmip_uid_cmp("9", "10"), 0);
	cr_assert_gt(kmip_uid_cmp("10", "9"), 0);
	cr_assert_lt(kmip_uid_cmp("ab", "ac"), 0);
	cr_assert_eq(kmip_uid_cmp("x", "x"), 0);
	cr_assert_not(kmip_state_live(0));
	cr_assert(kmip_state_live(1));
	cr_assert(kmip_state_live(4));
	cr_assert_not(kmip_state_live(5));
	cr_assert_not(kmip_state_live(6));
}

/* --- strictness ---------------------------------------------------------- */

static int
dec(const char *hex, const struct ttlv_limits *lim)
{
	struct ttlv	 top;
	uint8_t		*p;
	size_t		 n = unhex(hex, &p);
	int		 r = ttlv_decode(p, n, lim, &top, NULL, 0);

	free(p);
	return r;
}

Test(kmip_ttlv, decoder_rules)
{
	struct ttlv_limits lax = { .lax_padding = true };

	/* Good, for reference. */
	cr_assert_eq(dec("42002002000000040000000800000000", NULL), 0);
	/* Fixed lengths. */
	cr_assert_eq(dec("42002002000000080000000800000000", NULL), -1);
	cr_assert_eq(dec("42002005000000030000000800000000", NULL), -1);
	cr_assert_eq(dec("420020030000000400000008" "00000000", NULL), -1);
	cr_assert_eq(dec("420020090000000400000008" "00000000", NULL), -1);
	cr_assert_eq(dec("4200200a0000000800000000" "00000008", NULL), -1);
	/* Boolean 0 or 1 only. */
	cr_assert_eq(dec("42002006000000080000000000000002", NULL), -1);
	cr_assert_eq(dec("42002006000000080100000000000001", NULL), -1);
	/* Big integer: a non-zero multiple of 8. */
	cr_assert_eq(dec("4200200400000004000000010000" "0000", NULL), -1);
	cr_assert_eq(dec("4200200400000000", NULL), -1);
	/* Padding must be zero, unless told otherwise. */
	cr_assert_eq(dec("42002002000000040000000800000001", NULL), -1);
	cr_assert_eq(dec("42002002000000040000000800000001", &lax), 0);
	cr_assert_eq(dec("42002007000000016100000000000001", NULL), -1);
	cr_assert_eq(dec("42002007000000016100000000000001", &lax), 0);
	/* Text: UTF-8, no NUL. */
	cr_assert_eq(dec("42002007000000026100000000000000", NULL), -1);
	cr_assert_eq(dec("420020070000000161" "00000000000000", NULL), 0);
	cr_assert_eq(dec("42002007000000018000000000000000", NULL), -1);
	cr_assert_eq(dec("4200200700000002c0af000000000000", NULL), -1,
	    "overlong");
	cr_assert_eq(dec("4200200700000003eda080" "0000000000", NULL), -1,
	    "surrogate");
	cr_assert_eq(dec("4200200700000002c3a9000000000000", NULL), 0);
	/* Byte strings may hold anything. */
	cr_assert_eq(dec("4200200800000002c000000000000000", NULL), 0);
	/* Unknown type, tag space. */
	cr_assert_eq(dec("4200200c000000080000000000000000", NULL), -1);
	cr_assert_eq(dec("42002000000000080000000000000000", NULL), -1);
	cr_assert_eq(dec("43002002000000040000000800000000", NULL), -1);
	cr_assert_eq(dec("54002002000000040000000800000000", NULL), 0);
	/* Structure: exact fill, multiple of 8. */
	cr_assert_eq(dec("4200200100000000", NULL), 0, "empty structure");
	cr_assert_eq(dec("420020010000000442002002000000040000000800000000",
	    NULL), -1);
	cr_assert_eq(dec("420020010000001842002002000000040000000800000000",
	    NULL), -1, "length beyond the input");
	cr_assert_eq(dec("42002001000000084200200200000004"
	    "0000000800000000", NULL), -1, "child beyond the parent");
}

Test(kmip_ttlv, oversize_lengths)
{
	static const uint32_t lens[] = { 0x7ffffff8, 0xfffffff8, 0xffffffff,
	    0xfffffff9, 0x80000000, 17, 9 };
	uint8_t		*p, buf[64];
	size_t		 n, i, total;
	struct ttlv	 top;

	n = unhex(V6, &p);
	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		memcpy(buf, p, 64);
		/* The top Structure, then the Unique Identifier's text. */
		buf[4] = lens[i] >> 24;
		buf[5] = lens[i] >> 16;
		buf[6] = lens[i] >> 8;
		buf[7] = lens[i];
		cr_assert_eq(ttlv_decode(buf, 64, NULL, &top, NULL, 0), -1);
		cr_assert_eq(ttlv_frame_len(buf, TTLV_MSG_MAX, &total), -1,
		    "len %x", lens[i]);
		p[n - 16 + 4] = lens[i] >> 24;
		p[n - 16 + 5] = lens[i] >> 16;
		p[n - 16 + 6] = lens[i] >> 8;
		p[n - 16 + 7] = lens[i];
		cr_assert_eq(ttlv_decode(p, n, NULL, &top, NULL, 0), -1);
		free(p);
		n = unhex(V6, &p);
	}
	/* The framing length of a good message. */
	cr_assert_eq(ttlv_frame_len(p, TTLV_MSG_MAX, &total), 0);
	cr_assert_eq(total, n);
	cr_assert_eq(ttlv_frame_len(p, n - 1, &total), -1, "over max");
	/* The message maximum. */
	cr_assert_eq(ttlv_decode(p, n, &(struct ttlv_limits){
	    .max_len = n - 1 }, &top, NULL, 0), -1);
	cr_assert_eq(ttlv_decode(p, n, &(struct ttlv_limits){
	    .max_len = n }, &top, NULL, 0), 0);
	free(p);
}

Test(kmip_ttlv, trailing_bytes_and_truncation)
{
	struct ttlv	 top;
	uint8_t		*p, *q;
	size_t		 n, i, k;
	char		 err[128];

	for (i = 0; i < NVECS; i++) {
		n = unhex(vecs[i].hex, &p);
		q = calloc(1, n + 16);
		cr_assert_not_null(q);
		memcpy(q, p, n);
		for (k = 1; k <= 16; k++)
			cr_assert_eq(ttlv_decode(q, n + k, NULL, &top, err,
			    sizeof(err)), -1, "%s + %zu", vecs[i].name, k);
		/* Two messages back to back are not one. */
		free(q);
		q = malloc(2 * n);
		cr_assert_not_null(q);
		memcpy(q, p, n);
		memcpy(q + n, p, n);
		cr_assert_eq(ttlv_decode(q, 2 * n, NULL, &top, NULL, 0), -1);
		free(q);
		for (k = 0; k < n; k++) {
			struct kmip_resp r;

			/* A copy of exactly k bytes, so ASan sees any read
			 * past the end. */
			q = malloc(k ? k : 1);
			cr_assert_not_null(q);
			memcpy(q, p, k);
			cr_assert_eq(ttlv_decode(q, k, NULL, &top, NULL, 0),
			    -1, "%s cut at %zu", vecs[i].name, k);
			cr_assert_eq(kmip_parse_response(q, k, NULL, &r, NULL,
			    0), -1);
			kmip_resp_free(&r);
			free(q);
		}
		free(p);
	}
}

static size_t
nest(uint8_t *p, int depth)
{
	int i;

	/* depth Structures, each holding the next; the innermost empty. */
	for (i = 0; i < depth; i++) {
		uint32_t len = (uint32_t)(depth - 1 - i) * 8;

		p[8 * i] = 0x42;
		p[8 * i + 1] = 0x00;
		p[8 * i + 2] = 0x20;
		p[8 * i + 3] = TTLV_STRUCT;
		p[8 * i + 4] = len >> 24;
		p[8 * i + 5] = len >> 16;
		p[8 * i + 6] = len >> 8;
		p[8 * i + 7] = len;
	}
	return (size_t)depth * 8;
}

Test(kmip_ttlv, deep_nesting)
{
	uint8_t		p[8 * 1000];
	struct ttlv	top;
	char		err[128];
	int		d;

	for (d = 1; d <= TTLV_DEPTH_MAX; d++)
		cr_assert_eq(ttlv_decode(p, nest(p, d), NULL, &top, NULL, 0),
		    0, "depth %d", d);
	cr_assert_eq(ttlv_decode(p, nest(p, TTLV_DEPTH_MAX + 1), NULL, &top,
	    err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "nested too deeply"), "%s", err);
	cr_assert_eq(ttlv_decode(p, nest(p, 1000), NULL, &top, NULL, 0), -1);
	cr_assert_eq(ttlv_decode(p, nest(p, 4), &(struct ttlv_limits){
	    .max_depth = 3 }, &top, NULL, 0), -1);
	cr_assert_eq(ttlv_decode(p, nest(p, 3), &(struct ttlv_limits){
	    .max_depth = 3 }, &top, NULL, 0), 0);
}

Test(kmip_ttlv, item_count_limit)
{
	struct ttlv_enc	e;
	struct buf	b;
	struct ttlv	top;
	int		i;

	buf_init(&b, TTLV_MSG_MAX);
	ttlv_enc_begin(&e, &b);
	ttlv_open(&e, 0x420001);
	for (i = 0; i < 99; i++)
		ttlv_put_int(&e, 0x420002, i);
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, &(struct ttlv_limits){
	    .max_items = 100 }, &top, NULL, 0), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, &(struct ttlv_limits){
	    .max_items = 99 }, &top, NULL, 0), -1);
	buf_reset(&b);
	/* The default: TTLV_ITEMS_MAX empty structures in one (512 KiB)
	 * are one item too many. */
	ttlv_enc_begin(&e, &b);
	ttlv_open(&e, 0x420001);
	for (i = 0; i < TTLV_ITEMS_MAX; i++)
	{
		ttlv_open(&e, 0x420002);
		ttlv_close(&e);
	}
	ttlv_close(&e);
	cr_assert_eq(ttlv_enc_end(&e), 0);
	cr_assert_eq(ttlv_decode(b.data, b.len, NULL, &top, NULL, 0), -1);
	buf_release(&b);
}

/*
 * Every single-bit flip of every vector: refused, or decoded to a
 * different (canonical) tree; a response that still parses means
 * something else than the original.
 */
Test(kmip_ttlv, bit_flips, .timeout = 120)
{
	struct ttlv	 top;
	uint8_t		*p;
	size_t		 n, i, bit;
	char		 orig[2048], got[2048];
	unsigned int	 refused, changed;

	for (i = 0; i < NVECS; i++) {
		n = unhex(vecs[i].hex, &p);
		if (vecs[i].response)
			cr_assert(summarise(p, n, orig, sizeof(orig)), "%s",
			    vecs[i].name);
		refused = changed = 0;
		for (bit = 0; bit < 8 * n; bit++) {
			p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			if (ttlv_decode(p, n, NULL, &top, NULL, 0) == -1)
				refused++;
			else {
				assert_canonical(p, n);
				changed++;
			}
			if (vecs[i].response &&
			    summarise(p, n, got, sizeof(got)))
				cr_assert_str_neq(got, orig,
				    "%s: bit %zu flipped means the same",
				    vecs[i].name, bit);
			p[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		cr_assert_eq(refused + changed, 8 * n);
		cr_assert_gt(refused, 0);
		free(p);
	}
}
