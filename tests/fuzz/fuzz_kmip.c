/*
 * libFuzzer harness for the KMIP store's answers (spec 3.6): arbitrary
 * bytes into the TTLV decoder and kmip_parse_response, then every payload
 * parser on every batch item, as the store would read a server's reply.
 *
 * Oracles besides the sanitizers: a message the strict decoder accepts is
 * canonical (re-encoding the decoded tree gives the same bytes); the lax
 * decoder accepts whatever the strict one does; a refused Get leaves no
 * key material behind; the framing length agrees with the decoder.
 *
 * keystore-agent/kmip_*.c are #included rather than linked because
 * tests/fuzz/run.sh links only the sources in common/.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keystore-agent/kmip_ttlv.c"
#include "keystore-agent/kmip_msg.c"

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "fuzz_kmip: check failed: %s "		\
		    "(line %d)\n", #e, __LINE__);			\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);


static void
payloads(const struct kmip_item *it)
{
	struct kmip_version	vs[KMIP_VERSIONS_MAX];
	struct kmip_object	o;
	struct kmip_uids	u;
	struct kmip_attrs	a;
	struct kmip_query	q;
	struct buf		m;
	char			uid[KMIP_UID_MAX + 1];
	size_t			n, i;

	CHECK(strlen(it->msg) <= KMIP_MSGTEXT_MAX);
	(void)kmip_item_outcome(it->op, it);
	(void)kmip_reason_name(it->reason);
	if (kmip_parse_discover_versions(it, vs, KMIP_VERSIONS_MAX, &n) == 0)
		CHECK(n <= KMIP_VERSIONS_MAX);
	if (kmip_parse_uid(it, uid) == 0)
		CHECK(uid[0] != '\0' && strlen(uid) <= KMIP_UID_MAX);
	buf_init(&m, 64);
	if (kmip_parse_get(it, &o, &m) == 0)
		CHECK(o.has_material || m.len == 0);
	else
		CHECK(m.len == 0 && !o.has_material);
	buf_release(&m);
	if (kmip_parse_locate(it, &u) == 0) {
		CHECK(u.n <= KMIP_LOCATE_MAX);
		for (i = 0; i < u.n; i++)
			CHECK(strlen(u.uid[i]) <= KMIP_UID_MAX);
		kmip_uids_free(&u);
	}
	if (kmip_parse_get_attributes(it, &a) == 0) {
		CHECK(!a.has_name || strlen(a.name) <= KMIP_NAME_MAX);
		(void)kmip_winner(&a, 1);
	}
	if (kmip_parse_query(it, &q) == 0)
		CHECK(q.nops <= sizeof(q.ops) / sizeof(q.ops[0]));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct ttlv_limits lax = { .lax_padding = true };
	struct kmip_resp	 r;
	struct ttlv		 top;
	struct ttlv_enc		 e;
	struct buf		 b;
	uint8_t			*copy;
	size_t			 i, total;
	int			 strict, loose;
	char			 err[128];

	/* An exact-size copy, so ASan sees a read one byte past the end. */
	copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, data, len);

	strict = ttlv_decode(copy, len, NULL, &top, err, sizeof(err));
	loose = ttlv_decode(copy, len, &lax, &top, NULL, 0);
	CHECK(strict == 0 || strict == -1);
	CHECK(strict == -1 || loose == 0);
	if (strict == -1)
		CHECK(err[0] != '\0');
	if (strict == 0) {
		buf_init(&b, len + 8);
		ttlv_enc_begin(&e, &b);
		(void)ttlv_decode(copy, len, NULL, &top, NULL, 0);
		ttlv_put_tree(&e, &top);
		CHECK(ttlv_enc_end(&e) == 0);
		CHECK(b.len == len && memcmp(b.data, copy, len) == 0);
		buf_release(&b);
		if (top.type == TTLV_STRUCT && top.tag >> 16 == 0x42) {
			CHECK(ttlv_frame_len(copy, TTLV_MSG_MAX, &total) == 0);
			CHECK(total == len);
		}
	}

	if (kmip_parse_response(copy, len, NULL, &r, NULL, 0) == 0) {
		CHECK(strict == 0);
		CHECK(r.n >= 1 && r.n <= KMIP_BATCH_MAX);
		for (i = 0; i < r.n; i++)
			payloads(&r.items[i]);
	}
	kmip_resp_free(&r);
	free(copy);
	return 0;
}
