/*
 * libFuzzer harness for kes_open: arbitrary bytes as a ciphertext (raw,
 * msgpack or JSON; spec 5.4), opened under a fixed key of each type with
 * the context the seed corpus was sealed with. A failure must leave the
 * output wiped. A success must give a plaintext shorter than the input
 * that seals and opens again under the same key; when the input was raw
 * (anything that re-seals to itself), sealing the plaintext with the
 * input's own iv and nonce must reproduce the input byte for byte.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ciphertext.h"
#include "common/gojson.h"
#include "common/kes_key.h"
#include "tests/data/kat/vectors.h"

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "fuzz_ciphertext: check failed: %s "	\
		    "(line %d)\n", #e, __LINE__);			\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
one(uint8_t type, const uint8_t *data, size_t len)
{
	struct kes_key	 k;
	const uint8_t	*aad = (const uint8_t *)KAT_AAD;
	size_t		 aadlen = sizeof(KAT_AAD) - 1, n = 0, n2 = 0, i;
	uint8_t		*pt, *ct, *back;
	int		 r;

	memset(&k, 0, sizeof(k));
	k.type = type;
	memcpy(k.key, KAT_KEY, sizeof(k.key));
	pt = malloc(len + 1);
	memset(pt, 0xa5, len + 1);
	r = kes_open(&k.secret, data, len, aad, aadlen, pt, &n);
	CHECK(r == 0 || r == -1);
	CHECK(pt[len] == 0xa5);			/* stayed inside ctlen */
	if (r == -1) {
		for (i = 0; i < len; i++)
			CHECK(pt[i] == 0);
		free(pt);
		return;
	}
	CHECK(len > KES_CT_OVERHEAD - 1 && n <= len - KES_CT_OVERHEAD);

	ct = malloc(n + KES_CT_OVERHEAD);
	back = malloc(n + KES_CT_OVERHEAD);
	if (len == n + KES_CT_OVERHEAD) {
		/* Same length as a raw form: same iv and nonce. */
		CHECK(kes_seal(&k.secret, data + n + KES_TAG_LEN,
		    data + n + KES_TAG_LEN + KES_IV_LEN, pt, n, aad, aadlen,
		    ct) == 0);
		/* A legacy container is always longer than its raw form;
		 * so the input was raw and AEAD sealing is deterministic. */
		CHECK(memcmp(ct, data, len) == 0);
	} else {
		CHECK(data[0] == 0x95 || data[0] == '{');
		CHECK(kes_seal(&k.secret, KAT_IV, KAT_NONCE, pt, n, aad, aadlen,
		    ct) == 0);
	}
	CHECK(kes_open(&k.secret, ct, n + KES_CT_OVERHEAD, aad, aadlen, back,
	    &n2) == 0);
	CHECK(n2 == n && (n == 0 || memcmp(back, pt, n) == 0));
	free(back);
	free(ct);
	free(pt);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	uint8_t *copy;

	gojson_init();		/* as in the crypto process */
	if (kes_crypto_init() != 0)
		abort();
	/* An exact-size heap copy so ASan sees any read past the end. */
	copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, data, len);
	one(KES_KEY_AES256, copy, len);
	one(KES_KEY_CHACHA20, copy, len);
	free(copy);
	return 0;
}
