/*
 * libFuzzer harness for stored key values (spec 6.1): arbitrary bytes
 * into kes_key_decode. A failure must leave the struct wiped. A success
 * must hold a known type and a bounded creator; a key with an HMAC key
 * must encode, and decoding that again must give the same key version.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/gojson.h"
#include "common/gotime.h"
#include "common/kes_key.h"

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "fuzz_kes_key: check failed: %s "	\
		    "(line %d)\n", #e, __LINE__);			\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
same(const struct kes_key *a, const struct kes_key *b)
{
	return a->type == b->type &&
	    memcmp(a->key, b->key, sizeof(a->key)) == 0 &&
	    a->has_hmac == b->has_hmac &&
	    memcmp(a->hmac, b->hmac, sizeof(a->hmac)) == 0 &&
	    a->created_sec == b->created_sec &&
	    a->created_nsec == b->created_nsec &&
	    strcmp(a->created_by, b->created_by) == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static const struct kes_key zero;
	struct kes_key	 k, back;
	struct buf	 b;
	uint8_t		*copy;
	char		 t[GOTIME_MAX];
	int		 r;

	gojson_init();		/* as in the crypto process */
	copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, data, len);
	memset(&k, 0x5a, sizeof(k));
	r = kes_key_decode(copy, len, &k);
	free(copy);
	CHECK(r == 0 || r == -1);
	if (r == -1) {
		CHECK(memcmp(&k, &zero, sizeof(k)) == 0);
		return 0;
	}
	CHECK(kes_key_type_name(k.type) != NULL);
	CHECK(memchr(k.created_by, '\0', sizeof(k.created_by)) != NULL);
	CHECK(k.created_nsec >= 0 && k.created_nsec < 1000000000);
	CHECK(strlen(gotime_format(k.created_sec, k.created_nsec, t)) <
	    GOTIME_MAX);
	if (!k.has_hmac) {
		CHECK(memcmp(k.hmac, zero.hmac, sizeof(k.hmac)) == 0);
		return 0;
	}
	buf_init(&b, KES_STORED_MAX);
	CHECK(kes_key_encode(&k, &b) == 0);
	CHECK(kes_key_decode(b.data, b.len, &back) == 0);
	CHECK(same(&k, &back));
	buf_release(&b);
	return 0;
}
