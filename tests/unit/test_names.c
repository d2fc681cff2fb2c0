/* kes_valid_name, kes_valid_pattern, kes_is_hex_identity (spec §1.5). */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/names.h"

#define ID64	"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"

static char *
rep(char c, size_t n)
{
	static char	 buf[256];

	memset(buf, c, n);
	buf[n] = '\0';
	return buf;
}

Test(names, valid_names)
{
	static const char *const ok[] = {
		"a", "A", "0", "my-key", "my_key", "MyKey-1_2", "__", "a_",
		"_a", "a-b-c", "my--key", ID64,
	};
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(kes_valid_name(ok[i]), "'%s' should be valid", ok[i]);
}

Test(names, invalid_names)
{
	static const char *const bad[] = {
		"", "_", "-", "-a", "a-", "-a-", "a.b", "..", ".", "a/b", "/",
		"a\\b", "a b", " a", "a*", "*", "ä", "key\n", "a:b", "a%2f",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!kes_valid_name(bad[i]), "'%s' should be invalid",
		    bad[i]);
	cr_assert(!kes_valid_name(NULL));
}

Test(names, name_length)
{
	cr_assert(kes_valid_name(rep('a', 80)), "80 bytes is the maximum");
	cr_assert(!kes_valid_name(rep('a', 81)), "81 bytes is too long");
	cr_assert(kes_valid_name(rep('_', 80)));
}

Test(names, valid_patterns)
{
	static const char *const ok[] = {
		"", "*", "a", "a*", "my-key*", "my-*", "_*", "my_key", "A0*",
		/* Prefixes of names older KES allowed; current MinIO sends
		 * "minio-" (L1 in kes-client-generations.md). */
		"minio-", "a-", "_", "-", "-*", "-a*",
	};
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert(kes_valid_pattern(ok[i]), "'%s' should be valid",
		    ok[i]);
}

Test(names, invalid_patterns)
{
	static const char *const bad[] = {
		"*-*", "**", "*a", "a*b", "a/*", "*-k1",
		"../*", "a.b*", "?", "a?", "[a]*", " *", "*/", "a b",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert(!kes_valid_pattern(bad[i]), "'%s' should be invalid",
		    bad[i]);
	cr_assert(!kes_valid_pattern(NULL));
}

/* N1: names KES before 2023-11 allowed stay reachable, not creatable. */
Test(names, legacy_names)
{
	static const char *const old[] = { "trail-", "-lead", "_", "-",
	    "a--b", "-_-" };
	static const char *const never[] = { "", "a.b", "a/b", "a*", "é",
	    "a b", "..", "." };
	size_t	 i;

	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		cr_assert(kes_legacy_name(old[i]), "'%s'", old[i]);
		cr_assert(!kes_valid_name(old[i]) || strcmp(old[i], "a--b") ==
		    0, "'%s' is not a name to create", old[i]);
	}
	for (i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		cr_assert(!kes_legacy_name(never[i]), "'%s'", never[i]);
	cr_assert(kes_legacy_name(rep('-', 80)));
	cr_assert(!kes_legacy_name(rep('-', 81)));
	cr_assert(!kes_legacy_name(NULL));
}

Test(names, pattern_length)
{
	char	 buf[128];

	cr_assert(kes_valid_pattern(rep('a', 80)));
	cr_assert(!kes_valid_pattern(rep('a', 81)));
	memset(buf, 'a', 79);
	buf[79] = '*';
	buf[80] = '\0';
	cr_assert(kes_valid_pattern(buf), "79 bytes plus '*' fits in 80");
	buf[80] = 'a';
	buf[81] = '\0';
	cr_assert(!kes_valid_pattern(buf));
}

Test(names, hex_identity)
{
	cr_assert(kes_is_hex_identity(ID64));
	cr_assert(kes_is_hex_identity(rep('0', 64)));
	cr_assert(!kes_is_hex_identity(rep('0', 63)));
	cr_assert(!kes_is_hex_identity(rep('0', 65)));
	cr_assert(!kes_is_hex_identity(rep('A', 64)), "uppercase is not an "
	    "identity KES computes");
	cr_assert(!kes_is_hex_identity(rep('g', 64)));
	cr_assert(!kes_is_hex_identity("disabled"));
	cr_assert(!kes_is_hex_identity(""));
	cr_assert(!kes_is_hex_identity(NULL));
}

/* FNV-1a of the name modulo n: fixed values, so that every process and
 * every build agree; n of 0 or 1 is crypto process 0. */
Test(names, shard)
{
	char		 name[16];
	unsigned int	 seen[3] = { 0 }, i;

	cr_assert_eq(kes_name_shard("a", 1000), 0xe40c292cu % 1000);
	cr_assert_eq(kes_name_shard("minio-key", 3), 1);
	cr_assert_eq(kes_name_shard("minio-key", 16), 13);
	cr_assert_eq(kes_name_shard("minio-key", 1), 0);
	cr_assert_eq(kes_name_shard("minio-key", 0), 0);
	for (i = 0; i < 300; i++) {
		snprintf(name, sizeof(name), "key-%u", i);
		cr_assert_lt(kes_name_shard(name, 3), 3);
		seen[kes_name_shard(name, 3)]++;
	}
	for (i = 0; i < 3; i++)
		cr_expect(seen[i] > 60, "crypto %u serves %u of 300 keys", i,
		    seen[i]);
}

