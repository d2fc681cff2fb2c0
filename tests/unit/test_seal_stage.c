/*
 * The staged copies of the store-wide migration (keystore-agent/
 * seal_stage.h): the staging name is a valid KES name derived from the
 * key's name, a record round-trips, and a mutated or foreign record is
 * refused.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/names.h"
#include "keystore-agent/seal_stage.h"

Test(seal_stage, names)
{
	char	a[SEAL_STAGE_NAME_LEN + 1], b[SEAL_STAGE_NAME_LEN + 1];
	char	longest[KES_NAME_MAX + 1];

	seal_stage_name("my-key", a);
	seal_stage_name("my-key", b);
	cr_assert_str_eq(a, b);
	cr_assert_eq(strlen(a), SEAL_STAGE_NAME_LEN);
	cr_assert(kes_valid_name(a), "%s", a);
	cr_assert(seal_is_stage_name(a));
	cr_assert(!seal_is_stage_name("my-key"));
	/* SHA-256 of "my-key", from sha256sum(1). */
	cr_assert_str_eq(a, "kwseal-stage-5e78863ed1ffb9fc66b1d61634b126bf"
	    "8eb20267e7996297eeeb9b19c8c0f732");
	seal_stage_name("my-kez", b);
	cr_assert_str_neq(a, b);
	memset(longest, 'k', KES_NAME_MAX);
	longest[KES_NAME_MAX] = '\0';
	seal_stage_name(longest, b);
	cr_assert(kes_valid_name(b));
}

Test(seal_stage, round_trip)
{
	static const char v[] = "kwseal:v1:AQdrdy1zZWFsDAECAwQ=";
	const uint8_t	*out;
	struct buf	 rec;
	char		 name[KES_NAME_MAX + 1];
	size_t		 len;

	buf_init(&rec, 4096);
	cr_assert_eq(seal_stage_encode(&rec, "k1", (const uint8_t *)v,
	    strlen(v)), 0);
	cr_assert_eq(seal_stage_decode(rec.data, rec.len, name, sizeof(name),
	    &out, &len), 0);
	cr_assert_str_eq(name, "k1");
	cr_assert_eq(len, strlen(v));
	cr_assert_eq(memcmp(out, v, len), 0);
	buf_release(&rec);
}

static int
dec(const char *s)
{
	const uint8_t	*v;
	char		 name[KES_NAME_MAX + 1];
	size_t		 len;

	return seal_stage_decode((const uint8_t *)s, strlen(s), name,
	    sizeof(name), &v, &len);
}

Test(seal_stage, refused)
{
	char	big[200];

	cr_assert_eq(dec("kwstage:v1:k1:value"), 0);
	cr_assert_eq(dec(""), -1);
	cr_assert_eq(dec("kwstage:v1:"), -1);
	cr_assert_eq(dec("kwstage:v2:k1:value"), -1);
	cr_assert_eq(dec("kwstage:v1:k1"), -1, "no value separator");
	cr_assert_eq(dec("kwstage:v1:k1:"), -1, "empty value");
	cr_assert_eq(dec("kwstage:v1::value"), -1, "empty name");
	cr_assert_eq(dec("kwstage:v1:a/b:value"), -1, "not a KES name");
	cr_assert_eq(dec("kwstage:v1:a.b:value"), -1, "not a KES name");
	cr_assert_eq(dec("eyJieXRlcyI6IiJ9"), -1, "a plain value");
	{
		/* Found by fuzz_seal_stage: a NUL inside the name. */
		static const char nul[] = "kwstage:v1:k1\0junk:value";
		const uint8_t	*v;
		char		 name[KES_NAME_MAX + 1];
		size_t		 len;

		cr_assert_eq(seal_stage_decode((const uint8_t *)nul,
		    sizeof(nul) - 1, name, sizeof(name), &v, &len), -1);
	}
	snprintf(big, sizeof(big), "kwstage:v1:%081d:v", 0);
	cr_assert_eq(dec(big), -1, "a name of 81 bytes");
	snprintf(big, sizeof(big), "kwstage:v1:%080d:v", 0);
	cr_assert_eq(dec(big), 0, "a name of 80 bytes");
}
