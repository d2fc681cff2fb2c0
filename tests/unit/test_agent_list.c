/*
 * The agent's key listing (keystore-agent/list.c, spec 3.3): byte order,
 * prefix filter, pages of KS_LIST_MAX with continue_at, and the entries
 * that are not key names left out. Checked on the MSG_KS_NAMES payload.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/msg.h"
#include "common/names.h"
#include "keystore-agent/list.h"

struct page {
	char		**names;
	uint32_t	  n;
	char		 *next;
};

/* Decode u32 n, n x str, str continue_at, consumed exactly. */
static void
decode(struct buf *b, struct page *pg)
{
	uint32_t i;

	cr_assert_eq(buf_get_u32(b, &pg->n), 0);
	pg->names = calloc(pg->n + 1, sizeof(char *));
	for (i = 0; i < pg->n; i++)
		cr_assert_eq(buf_get_strdup(b, &pg->names[i]), 0);
	cr_assert_eq(buf_get_strdup(b, &pg->next), 0);
	cr_assert_eq(buf_end(b), 0);
}

static void
page_free(struct page *pg)
{
	uint32_t i;

	for (i = 0; i < pg->n; i++)
		free(pg->names[i]);
	free(pg->names);
	free(pg->next);
}

/* List names (in the given order) with prefix, a page of max. */
static void
list(const char *const *names, size_t n, const char *prefix, size_t max,
    struct page *pg)
{
	struct ks_names	l;
	struct buf	b;
	size_t		i;

	ks_names_init(&l, prefix);
	for (i = 0; i < n; i++)
		cr_assert_eq(ks_names_add(names[i], &l), 0);
	buf_init(&b, IPC_MAX_PEER);
	cr_assert_eq(ks_names_page(&l, max, KS_LIST_BYTES, &b), 0);
	ks_names_free(&l);
	decode(&b, pg);
	buf_release(&b);
}

static void
expect(const struct page *pg, const char *const *want, size_t n,
    const char *next)
{
	size_t i;

	cr_assert_eq(pg->n, n, "%u names, want %zu", pg->n, n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(pg->names[i], want[i], "name %zu", i);
	cr_assert_str_eq(pg->next, next);
}

static const char *const unsorted[] = {
	"my-key2", "b", "Z", "my-key", "a", "my", "my_key", "_x", "0",
	"my-key10",
};

Test(agent_list, empty)
{
	struct page pg;

	list(NULL, 0, "", KS_LIST_MAX, &pg);
	expect(&pg, NULL, 0, "");
	page_free(&pg);
}

/* Byte order, as Go's sort.Strings: digits < upper case < '_' < lower. */
Test(agent_list, sorted_bytewise)
{
	static const char *const want[] = {
		"0", "Z", "_x", "a", "b", "my", "my-key", "my-key10",
		"my-key2", "my_key",
	};
	struct page pg;

	list(unsorted, 10, "", KS_LIST_MAX, &pg);
	expect(&pg, want, 10, "");
	page_free(&pg);
}

Test(agent_list, prefix)
{
	static const char *const my[] = {
		"my", "my-key", "my-key10", "my-key2", "my_key",
	};
	static const char *const mykey[] = { "my-key", "my-key10", "my-key2" };
	struct page pg;

	list(unsorted, 10, "my", KS_LIST_MAX, &pg);
	expect(&pg, my, 5, "");
	page_free(&pg);
	list(unsorted, 10, "my-key", KS_LIST_MAX, &pg);
	expect(&pg, mykey, 3, "");
	page_free(&pg);
	/* Case matters; a prefix nothing has lists nothing. */
	list(unsorted, 10, "MY", KS_LIST_MAX, &pg);
	expect(&pg, NULL, 0, "");
	page_free(&pg);
	/* KES passes "my*" unchanged, and it matches nothing (spec 3.3). */
	list(unsorted, 10, "my*", KS_LIST_MAX, &pg);
	expect(&pg, NULL, 0, "");
	page_free(&pg);
	/* A whole name is a prefix of itself. */
	list(unsorted, 10, "my-key2", KS_LIST_MAX, &pg);
	expect(&pg, (const char *const[]){ "my-key2" }, 1, "");
	page_free(&pg);
}

Test(agent_list, short_pages_continue_at)
{
	struct page pg;

	list(unsorted, 10, "", 2, &pg);
	expect(&pg, (const char *const[]){ "0", "Z" }, 2, "_x");
	page_free(&pg);
	list(unsorted, 10, "my", 2, &pg);
	expect(&pg, (const char *const[]){ "my", "my-key" }, 2, "my-key10");
	page_free(&pg);
	/*
	 * The client's next call uses continue_at as its prefix (kms-go
	 * ListIter), which then lists only the names starting with it:
	 * KES pages the same way (spec 3.3), so do we.
	 */
	list(unsorted, 10, "my-key10", 2, &pg);
	expect(&pg, (const char *const[]){ "my-key10" }, 1, "");
	page_free(&pg);
	list(unsorted, 10, "my-key", 2, &pg);
	expect(&pg, (const char *const[]){ "my-key", "my-key10" }, 2,
	    "my-key2");
	page_free(&pg);
	/* Exactly max names: nothing to continue at. */
	list(unsorted, 10, "my-key", 3, &pg);
	expect(&pg, (const char *const[]){ "my-key", "my-key10",
	    "my-key2" }, 3, "");
	page_free(&pg);
}

/* A count limit (KES's was 1024): 1500 keys, fed in reverse, give a page
 * of 1024 and continue_at the 1025th; a prefix that narrows to fewer fits
 * one page. */
Test(agent_list, full_page_of_1024)
{
	char		**names = calloc(1500, sizeof(char *));
	struct page	  pg;
	char		  want[32];
	size_t		  i;

	for (i = 0; i < 1500; i++) {
		names[1499 - i] = malloc(16);
		snprintf(names[1499 - i], 16, "key-%04zu", i);
	}
	list((const char *const *)names, 1500, "", 1024, &pg);
	cr_assert_eq(pg.n, 1024);
	for (i = 0; i < 1024; i++) {
		snprintf(want, sizeof(want), "key-%04zu", i);
		cr_assert_str_eq(pg.names[i], want);
	}
	cr_assert_str_eq(pg.next, "key-1024");
	page_free(&pg);

	list((const char *const *)names, 1500, "key-1", 1024, &pg);
	cr_assert_eq(pg.n, 500);
	cr_assert_str_eq(pg.names[0], "key-1000");
	cr_assert_str_eq(pg.names[499], "key-1499");
	cr_assert_str_eq(pg.next, "");
	page_free(&pg);

	list((const char *const *)names, 1500, "key-0", 1024, &pg);
	cr_assert_eq(pg.n, 1000);
	cr_assert_str_eq(pg.next, "");
	page_free(&pg);

	for (i = 0; i < 1500; i++)
		free(names[i]);
	free(names);
}

/* What a store may hold that is not a key name is never listed: the agent
 * would refuse to read it, and a client could not name it. */
Test(agent_list, invalid_names_left_out)
{
	static const char *const mixed[] = {
		"good", ".tmp-1", ".", "..", "a.b", "sp ace", "-lead",
		"trail-", "_", "folder/", "caf\xc3\xa9", "",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		"also_good",
	};
	struct page pg;

	list(mixed, sizeof(mixed) / sizeof(mixed[0]), "", KS_LIST_MAX, &pg);
	/* Names older KES allowed ("-lead", "_", "trail-") are listed: keys
	 * so named stay reachable after a migration (kes_legacy_name). */
	expect(&pg, (const char *const[]){ "-lead", "_", "also_good", "good",
	    "trail-" }, 5, "");
	page_free(&pg);
}

/* The payload is refused, not cut, when the buffer cannot hold it. */
Test(agent_list, too_small_buffer)
{
	struct ks_names	l;
	struct buf	b;

	ks_names_init(&l, "");
	(void)ks_names_add("one", &l);
	(void)ks_names_add("two", &l);
	buf_init(&b, 10);
	cr_assert_eq(ks_names_page(&l, KS_LIST_MAX, KS_LIST_BYTES, &b), -1);
	buf_release(&b);
	ks_names_free(&l);
}

/*
 * The server's page: every name of a store of 100,000 keys in one page,
 * nothing left for continue_at, and the frame's size (recorded: 1.5 MB
 * for names of 10 bytes) under the frame limit with room to spare.
 */
Test(agent_list, hundred_thousand_in_one_page)
{
	struct ks_names	 l;
	struct buf	 b;
	struct page	 pg;
	char		 name[32];
	size_t		 i;

	ks_names_init(&l, "");
	for (i = 0; i < 100000; i++) {
		snprintf(name, sizeof(name), "key-%06zu", 99999 - i);
		cr_assert_eq(ks_names_add(name, &l), 0);
	}
	buf_init(&b, IPC_MAX_PEER);
	cr_assert_eq(ks_names_page(&l, KS_LIST_MAX, KS_LIST_BYTES, &b), 0);
	cr_log_info("100,000 names of 10 bytes: a page of %zu bytes (frame "
	    "limit %u)", buf_avail(&b), (unsigned)IPC_MAX_PEER);
	cr_assert_lt(buf_avail(&b), 2u << 20);
	ks_names_free(&l);
	decode(&b, &pg);
	buf_release(&b);
	cr_assert_eq(pg.n, 100000);
	cr_assert_str_eq(pg.names[0], "key-000000");
	cr_assert_str_eq(pg.names[99999], "key-099999");
	cr_assert_str_eq(pg.next, "");
	page_free(&pg);
}

/*
 * Names of the longest kind (80 bytes) until the frame is full: the page
 * stops where KS_LIST_BYTES does, and continue_at is the first name left
 * out, so a client that pages by it loses nothing.
 */
Test(agent_list, page_bounded_by_bytes)
{
	struct ks_names	 l;
	struct buf	 b;
	struct page	 pg;
	char		 name[KES_NAME_MAX + 1], want[KES_NAME_MAX + 1];
	size_t		 i, n = 60000, fit;

	ks_names_init(&l, "");
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%074zu-%05zu", (size_t)0, i);
		cr_assert_eq(strlen(name), KES_NAME_MAX);
		cr_assert_eq(ks_names_add(name, &l), 0);
	}
	buf_init(&b, IPC_MAX_PEER);
	cr_assert_eq(ks_names_page(&l, KS_LIST_MAX, KS_LIST_BYTES, &b), 0);
	cr_assert_leq(buf_avail(&b), IPC_MAX_PEER);
	ks_names_free(&l);
	decode(&b, &pg);
	buf_release(&b);
	fit = (KS_LIST_BYTES - 4) / (4 + KES_NAME_MAX + 1);
	cr_assert_eq(pg.n, fit, "%u names, %zu fit", pg.n, fit);
	snprintf(want, sizeof(want), "%074zu-%05zu", (size_t)0, fit);
	cr_assert_str_eq(pg.next, want);
	page_free(&pg);
}
