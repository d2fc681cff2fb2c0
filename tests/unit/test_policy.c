/* Policy decisions (spec §4.2, §4.3) and the policy table's wire form. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/policy.h"
#include "common/xmalloc.h"

#define ID_ADMIN "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_MINIO "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define ID_OTHER "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"

static char *allow[] = { "/v1/key/generate/minio-*", "/v1/status",
	"/v1/key/*" };
static char *deny[] = { "/v1/key/delete/*" };
static char *ids[] = { ID_MINIO };
static struct policy pols[] = {
	{ "minio", allow, 3, deny, 1, ids, 1 },
};
static struct policy_set set = { ID_ADMIN, pols, 1 };

Test(policy, match_semantics)
{
	cr_assert(policy_match("/v1/status", "/v1/status"));
	cr_assert(!policy_match("/v1/status", "/v1/status/"));
	cr_assert(!policy_match("/v1/status", "/v1/statu"));
	cr_assert(policy_match("/v1/key/generate/my-app*",
	    "/v1/key/generate/my-app"));
	cr_assert(policy_match("/v1/key/generate/my-app*",
	    "/v1/key/generate/my-app-1"));
	/* '*' spans '/' since KES 2023-11. */
	cr_assert(policy_match("/v1/key/*", "/v1/key/generate/x"));
	cr_assert(policy_match("*", "/anything"));
	/* Empty patterns never match; '*' inside is a literal. */
	cr_assert(!policy_match("", ""));
	cr_assert(!policy_match("/v1/*/x", "/v1/key/x"));
	cr_assert(policy_match("/v1/*/x", "/v1/*/x"));
}

Test(policy, decisions)
{
	cr_assert(policy_allows(&set, ID_ADMIN, "/v1/key/delete/k"));
	cr_assert(policy_allows(&set, ID_MINIO, "/v1/status"));
	cr_assert(policy_allows(&set, ID_MINIO, "/v1/key/generate/minio-1"));
	/* deny wins over a matching allow */
	cr_assert(!policy_allows(&set, ID_MINIO, "/v1/key/delete/minio-1"));
	/* not in any policy */
	cr_assert(!policy_allows(&set, ID_OTHER, "/v1/status"));
	/* an empty identity is never the admin */
	cr_assert(!policy_allows(&set, "", "/v1/status"));
	cr_assert(!policy_allows(&set, ID_MINIO, "/v1/metrics"));
}

Test(policy, admin_disabled)
{
	struct policy_set s = { "disabled", pols, 1 };

	cr_assert(!policy_allows(&s, ID_ADMIN, "/v1/status"));
	cr_assert(!policy_allows(&s, "disabled", "/v1/status"));
	cr_assert(policy_allows(&s, ID_MINIO, "/v1/status"));
}

Test(policy, empty_policy_denies)
{
	struct policy		e = { "empty", NULL, 0, NULL, 0, ids, 1 };
	struct policy_set	s = { ID_ADMIN, &e, 1 };

	cr_assert(!policy_allows(&s, ID_MINIO, "/v1/status"));
}

Test(policy, wire_round_trip)
{
	struct policy_set	got;
	struct buf		b;

	buf_init(&b, 1 << 16);
	cr_assert_eq(policy_set_put(&b, &set), 0);
	cr_assert_eq(policy_set_get(&b, &got), 0);
	cr_assert_eq(buf_end(&b), 0);
	cr_assert_str_eq(got.admin, ID_ADMIN);
	cr_assert_eq(got.npolicies, 1);
	cr_assert_str_eq(got.policies[0].name, "minio");
	cr_assert_eq(got.policies[0].nallow, 3);
	cr_assert_str_eq(got.policies[0].allow[2], "/v1/key/*");
	cr_assert_eq(got.policies[0].ndeny, 1);
	cr_assert_str_eq(got.policies[0].identities[0], ID_MINIO);
	cr_assert(policy_allows(&got, ID_MINIO, "/v1/status"));
	policy_set_free(&got);
	buf_release(&b);
}

/* Every truncation fails cleanly; no prefix decodes as a whole table. */
Test(policy, wire_truncated)
{
	struct policy_set	got;
	struct buf		b, v;
	size_t			n;

	buf_init(&b, 1 << 16);
	cr_assert_eq(policy_set_put(&b, &set), 0);
	for (n = 0; n < buf_avail(&b); n++) {
		buf_view(&v, buf_ptr(&b), n);
		cr_assert_eq(policy_set_get(&v, &got), -1, "prefix %zu", n);
	}
	buf_release(&b);
}

/* A count far beyond the bytes present is refused before allocating. */
Test(policy, wire_huge_count)
{
	struct policy_set	got;
	struct buf		b;

	buf_init(&b, 256);
	cr_assert_eq(buf_put_str(&b, ID_ADMIN), 0);
	cr_assert_eq(buf_put_u32(&b, 0xffffffff), 0);
	cr_assert_eq(policy_set_get(&b, &got), -1);
	buf_release(&b);
}

Test(policy, wire_bit_flips)
{
	struct policy_set	got;
	struct buf		b, v;
	uint8_t			*copy;
	size_t			 i, n;
	int			 bit;

	buf_init(&b, 1 << 16);
	cr_assert_eq(policy_set_put(&b, &set), 0);
	n = buf_avail(&b);
	copy = xmalloc(n);
	for (i = 0; i < n; i++)
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, buf_ptr(&b), n);
			copy[i] ^= 1u << bit;
			buf_view(&v, copy, n);
			if (policy_set_get(&v, &got) == 0)
				policy_set_free(&got);
		}
	free(copy);
	buf_release(&b);
}
