/* Unit tests for common/gojson.c: Go encoding/json field matching. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>

#include <jansson.h>

#include "common/gojson.h"
#include "common/xmalloc.h"

static json_t *
load(const char *s)
{
	return gojson_load(s, strlen(s));
}

/* Which value gojson_get finds for name in the object text s. */
static const char *
find(const char *s, const char *name)
{
	static char	 out[64];
	json_t		*j = load(s), *v;

	cr_assert_not_null(j, "%s", s);
	v = gojson_get(j, name);
	snprintf(out, sizeof(out), "%s", v == NULL ? "(none)" :
	    json_is_string(v) ? json_string_value(v) : "(other)");
	json_decref(j);
	return out;
}

/*
 * Go folds ASCII case and maps every other rune to the smallest of its
 * simple-fold orbit (encoding/json fold.go): U+017F joins s/S, U+212A
 * joins k/K; U+0131 (dotless i) and U+0130 stay apart from i/I.
 */
Test(gojson, folding)
{
	cr_assert_str_eq(find("{\"key\":\"a\"}", "key"), "a");
	cr_assert_str_eq(find("{\"KEY\":\"a\"}", "key"), "a");
	cr_assert_str_eq(find("{\"kEy\":\"a\"}", "key"), "a");
	cr_assert_str_eq(find("{\"\xe2\x84\xaa" "ey\":\"a\"}", "key"), "a");
	cr_assert_str_eq(find("{\"\\u212aey\":\"a\"}", "key"), "a");
	cr_assert_str_eq(find("{\"ma\xc5\xbf" "k\":\"a\"}", "mask"), "a");
	cr_assert_str_eq(find("{\"MA\xc5\xbf\xe2\x84\xaa\":\"a\"}", "mask"),
	    "a");
	cr_assert_str_eq(find("{\"\xc4\xb1" "d\":\"a\"}", "id"), "(none)");
	cr_assert_str_eq(find("{\"\xc4\xb0" "d\":\"a\"}", "id"), "(none)");
	cr_assert_str_eq(find("{\"created_at\":\"a\"}", "created_at"), "a");
	cr_assert_str_eq(find("{\"CREATED_AT\":\"a\"}", "created_at"), "a");
	/* Separators are not folded away (that is encoding/json v2). */
	cr_assert_str_eq(find("{\"createdat\":\"a\"}", "created_at"),
	    "(none)");
	cr_assert_str_eq(find("{\"created-at\":\"a\"}", "created_at"),
	    "(none)");
	/* Prefixes and extensions do not match. */
	cr_assert_str_eq(find("{\"ke\":\"a\"}", "key"), "(none)");
	cr_assert_str_eq(find("{\"keys\":\"a\"}", "key"), "(none)");
	/* Invalid UTF-8 in a key: Go would compare U+FFFD; jansson refuses
	 * the whole value (a documented difference). */
	cr_assert_null(load("{\"\xe2\x84\":\"a\"}"));
}

Test(gojson, last_match_wins)
{
	cr_assert_str_eq(find("{\"id\":\"a\",\"ID\":\"b\"}", "id"), "b");
	cr_assert_str_eq(find("{\"ID\":\"a\",\"id\":\"b\"}", "id"), "b");
	cr_assert_str_eq(find("{\"id\":\"a\",\"id\":\"b\"}", "id"), "b");
	cr_assert_str_eq(find("{\"id\":\"a\",\"x\":\"b\"}", "id"), "a");
}

Test(gojson, load_whole_value)
{
	static const char *ok[] = { "{}", " {} ", "{}\n", "null", "1", "[]",
	    "\"s\"", "{\"a\":\"\\u0000\"}",
	    "{\"n\":123456789012345678901234}" };
	static const char *bad[] = { "", " ", "{}x", "{}{}", "{", "{'a':1}",
	    "{\"a\":1,}", "[1,]", "{\"n\":1e999}" };
	json_t	*j;
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		cr_assert_not_null(j = load(ok[i]), "%s", ok[i]);
		json_decref(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_null(load(bad[i]), "%s", bad[i]);
}

Test(gojson, typed_fields)
{
	json_t		*j = load("{\"s\":\"x\\u0000y\",\"n\":null,\"i\":5,"
	    "\"b\":\"aGk=\",\"e\":\"\",\"nl\":\"\\r\\n\",\"bad\":\"aGk\"}");
	const char	*s;
	uint8_t		*p;
	size_t		 n;

	cr_assert_not_null(j);
	cr_assert_eq(gojson_string(j, "s", &s, &n), 0);
	cr_assert_eq(n, 3);
	cr_assert_arr_eq(s, "x\0y", 3);
	cr_assert_eq(gojson_string(j, "n", &s, &n), 0);
	cr_assert_null(s);
	cr_assert_eq(gojson_string(j, "absent", &s, &n), 0);
	cr_assert_null(s);
	cr_assert_eq(gojson_string(j, "i", &s, &n), -1);
	cr_assert_eq(gojson_bytes(j, "b", &p, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_arr_eq(p, "hi", 2);
	freezero(p, n);
	cr_assert_eq(gojson_bytes(j, "e", &p, &n), 0);
	cr_assert_null(p);
	cr_assert_eq(gojson_bytes(j, "nl", &p, &n), 0);
	cr_assert_null(p);
	cr_assert_eq(n, 0);
	cr_assert_eq(gojson_bytes(j, "n", &p, &n), 0);
	cr_assert_null(p);
	cr_assert_eq(gojson_bytes(j, "i", &p, &n), -1);
	cr_assert_eq(gojson_bytes(j, "bad", &p, &n), -1);
	json_decref(j);
	j = json_integer(1);
	cr_assert_null(gojson_get(j, "x"));	/* not an object */
	json_decref(j);
}

/* The wiping allocator serves jansson like the default one. */
Test(gojson, wiping_allocator)
{
	json_t	*j;
	int	 i;

	gojson_init();
	gojson_init();
	for (i = 0; i < 100; i++) {
		j = load("{\"bytes\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
		    "GBkaGxwdHh8=\",\"x\":[1,2,{\"y\":\"z\"}]}");
		cr_assert_not_null(j);
		cr_assert_str_eq(find("{\"a\":\"b\"}", "a"), "b");
		json_decref(j);
	}
}
