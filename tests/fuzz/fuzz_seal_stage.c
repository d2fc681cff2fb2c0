/*
 * libFuzzer harness for the migration's staged records (keystore-agent/
 * seal_stage.h), which the agent reads from the store: arbitrary bytes
 * into seal_stage_decode. A success names a valid key name and a
 * non-empty value inside the input, and encoding them again gives the
 * input back.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/names.h"
#include "keystore-agent/seal_stage.h"

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "fuzz_seal_stage: check failed: %s "	\
		    "(line %d)\n", #e, __LINE__);			\
		abort();						\
	}								\
} while (0)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	const uint8_t	*v;
	struct buf	 b;
	char		 name[KES_NAME_MAX + 1];
	uint8_t		*copy;
	size_t		 vlen;

	copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, data, len);
	if (seal_stage_decode(copy, len, name, sizeof(name), &v,
	    &vlen) == 0) {
		CHECK(kes_valid_name(name));
		CHECK(vlen > 0);
		CHECK(v >= copy && v + vlen == copy + len);
		buf_init(&b, len + 16);
		CHECK(seal_stage_encode(&b, name, v, vlen) == 0);
		CHECK(b.len == len && memcmp(b.data, copy, len) == 0);
		buf_release(&b);
	}
	free(copy);
	return 0;
}
