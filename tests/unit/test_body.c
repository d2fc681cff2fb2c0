/* Request bodies (worker/body.c): Go's json.Decoder.Decode into a struct. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/xmalloc.h"
#include "worker/body.h"

/* The union of KES's decrypt and import requests, and one more string. */
enum { F_CT, F_CTX, F_CIPHER, F_KEY, F_BYTES, F_VERSION, NF };

static struct body_field f[NF];

static void
setup(void)
{
	static const struct { const char *name; enum body_kind kind; } d[NF] = {
		{ "ciphertext",	BODY_BYTES },
		{ "context",	BODY_BYTES },
		{ "cipher",	BODY_STRING },
		{ "key",	BODY_BYTES },
		{ "bytes",	BODY_BYTES },
		{ "version",	BODY_STRING },
	};
	size_t	 i;

	body_init();
	memset(f, 0, sizeof(f));
	for (i = 0; i < NF; i++) {
		f[i].name = d[i].name;
		f[i].kind = d[i].kind;
	}
}

static void
teardown(void)
{
	body_release(f, NF);
}

TestSuite(body, .init = setup, .fini = teardown);

static int
dec(const char *s)
{
	return body_decode((const uint8_t *)s, strlen(s), f, NF);
}

static int
decn(const char *s, size_t len)
{
	return body_decode((const uint8_t *)s, len, f, NF);
}

static void
assert_bytes(int i, const void *want, size_t len)
{
	cr_assert(f[i].present, "%s not present", f[i].name);
	cr_assert_eq(f[i].len, len, "%s: len %zu, want %zu", f[i].name,
	    f[i].len, len);
	if (len == 0)
		cr_assert_null(f[i].bytes);
	else
		cr_assert_eq(memcmp(f[i].bytes, want, len), 0);
}

static void
assert_str(int i, const char *want)
{
	cr_assert(f[i].present, "%s not present", f[i].name);
	cr_assert_not_null(f[i].str);
	cr_assert_str_eq(f[i].str, want);
	cr_assert_eq(f[i].len, strlen(want));
}

static void
assert_absent(int i)
{
	cr_assert_not(f[i].present, "%s present", f[i].name);
	cr_assert_null(f[i].bytes);
	cr_assert_null(f[i].str);
	cr_assert_eq(f[i].len, 0);
}

static void
assert_all_absent(void)
{
	int	 i;

	for (i = 0; i < NF; i++)
		assert_absent(i);
}

/* --- the requests KES clients send --- */

Test(body, decrypt_request)
{
	cr_assert_eq(dec("{\"ciphertext\":\"AQID\",\"context\":\"e30=\"}"), 0);
	assert_bytes(F_CT, "\1\2\3", 3);
	assert_bytes(F_CTX, "{}", 2);
	assert_absent(F_CIPHER);
	assert_absent(F_KEY);
}

Test(body, import_request)
{
	cr_assert_eq(dec("{\n  \"key\": \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBka"
	    "GxwdHh8=\",\n  \"cipher\": \"AES256\"\n}\n"), 0);
	cr_assert_eq(f[F_KEY].len, 32);
	cr_assert_eq(f[F_KEY].bytes[0], 0);
	cr_assert_eq(f[F_KEY].bytes[31], 31);
	assert_str(F_CIPHER, "AES256");
}

Test(body, empty_object)
{
	cr_assert_eq(dec("{}"), 0);
	assert_all_absent();
	cr_assert_eq(dec(" { \t\r\n } "), 0);
	assert_all_absent();
}

/* --- the first value --- */

Test(body, empty_body)
{
	cr_assert_eq(dec(""), -1);
	cr_assert_eq(dec(" \t\r\n"), -1);
	cr_assert_eq(body_decode(NULL, 0, f, NF), -1);
	cr_assert_eq(body_decode(NULL, 5, f, NF), -1);
	assert_all_absent();
}

Test(body, leading_whitespace)
{
	cr_assert_eq(dec(" \t\r\n\r\n {\"context\":\"AQ==\"}"), 0);
	assert_bytes(F_CTX, "\1", 1);
}

Test(body, other_whitespace_is_not)
{
	/* Go's isSpace: SP, HT, CR, LF only. */
	cr_assert_eq(dec("\f{}"), -1);
	cr_assert_eq(dec("\v{}"), -1);
	cr_assert_eq(dec("\xef\xbb\xbf{}"), -1);	/* a BOM */
	cr_assert_eq(dec("{\"context\":\f\"AQ==\"}"), -1);
}

Test(body, top_level_null)
{
	cr_assert_eq(dec("null"), 0);
	assert_all_absent();
	cr_assert_eq(dec(" \n null \n"), 0);
	/* Go ends the literal at its fourth byte and leaves the rest. */
	cr_assert_eq(dec("nullx"), 0);
	cr_assert_eq(dec("null{\"context\":\"AQ==\"}"), 0);
	assert_all_absent();
	cr_assert_eq(dec("nul"), -1);
	cr_assert_eq(dec("n"), -1);
	cr_assert_eq(dec("nulL"), -1);
	cr_assert_eq(dec("NULL"), -1);
}

Test(body, top_level_not_an_object)
{
	static const char *bad[] = {
		"[]", "[{\"context\":\"AQ==\"}]", "1", "-1", "0", "1.5e3",
		"\"AQ==\"", "\"\"", "true", "false", "}", "]", ":", ",",
		"x", "'a'", "{{}}", "{[]}",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(dec(bad[i]), -1, "%s", bad[i]);
		assert_all_absent();
	}
}

Test(body, trailing_data_ignored)
{
#define T(s)	{ s, sizeof(s) - 1 }
	static const struct { const char *s; size_t n; } tails[] = {
		T(""), T(" "), T("xyz"), T("{"), T("}"), T("]"), T(","),
		T("{\"context\":\"Ag==\"}"), T("\xff\xfe"), T("\0garbage"),
		T("null"), T("["), T("\"unterminated"),
	};
#undef T
	char	 buf[128];
	size_t	 i, n;

	for (i = 0; i < sizeof(tails) / sizeof(tails[0]); i++) {
		n = (size_t)snprintf(buf, sizeof(buf), "{\"context\":\"AQ==\"}");
		memcpy(buf + n, tails[i].s, tails[i].n);
		cr_assert_eq(decn(buf, n + tails[i].n), 0, "tail %zu", i);
		assert_bytes(F_CTX, "\1", 1);
		body_release(f, NF);
	}
}

Test(body, every_prefix_is_truncated)
{
	static const char body[] = "{\"ciphertext\":\"AQID\",\"context\":"
	    "[1,2],\"x\":{\"y\":[true,false,null,-1.5e+3,\"\\u00e9\"]},"
	    "\"cipher\":\"a\\u00e9\\n\",\"version\":null}";
	size_t	 n;

	for (n = 0; n < sizeof(body) - 1; n++) {
		cr_assert_eq(decn(body, n), -1, "prefix %zu decoded", n);
		assert_all_absent();
	}
	cr_assert_eq(decn(body, n), 0);
	assert_bytes(F_CT, "\1\2\3", 3);
	assert_bytes(F_CTX, "\1\2", 2);
	assert_str(F_CIPHER, "a\xc3\xa9\n");
	assert_absent(F_VERSION);
}

Test(body, object_syntax)
{
	static const char *bad[] = {
		"{\"context\":\"AQ==\",}",	/* trailing comma */
		"{,}",
		"{\"context\" \"AQ==\"}",	/* no colon */
		"{\"context\"::\"AQ==\"}",
		"{context:\"AQ==\"}",		/* unquoted key */
		"{'context':'AQ=='}",
		"{\"context\":\"AQ==\" \"key\":\"AQ==\"}",
		"{\"context\":\"AQ==\";\"key\":\"AQ==\"}",
		"{\"a\":1 \"b\":2}",
		"{\"context\"}",
		"{\"context\":}",
		"{1:2}",
		"{null:1}",
		"{\"a\":1]",
		"{\"a\":[1}",
		"{\"a\":{\"b\":1]}",
		"{\"a\":[1,]}",
		"{\"a\":[,1]}",
		"{\"a\":{\"b\"}}",
		"{\"a\":{\"b\":1,}}",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(dec(bad[i]), -1, "%s", bad[i]);
		assert_all_absent();
	}
}

/* --- keys --- */

Test(body, keys_case_insensitive)
{
	static const char *keys[] = {
		"context", "CONTEXT", "Context", "cOnTeXt", "\\u0063ontext",
		"\\u0043ONTEXT", "con\\u0074ext",
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"%s\":\"AQ==\"}", keys[i]);
		cr_assert_eq(dec(buf), 0, "%s", buf);
		assert_bytes(F_CTX, "\1", 1);
		body_release(f, NF);
	}
}

Test(body, keys_near_misses)
{
	static const char *keys[] = {
		"contex", "contextt", " context", "context ", "con text",
		"con\\u0000text", "context\\u0000", "\\u0000", "",
		"co\\u006etext\\n", "c\xc3\xb6ntext",
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"%s\":\"AQ==\"}", keys[i]);
		cr_assert_eq(dec(buf), 0, "%s", buf);
		assert_all_absent();
	}
}

Test(body, keys_unicode_folds)
{
	/* Go folds U+212A KELVIN SIGN to k and U+017F LONG S to s. */
	cr_assert_eq(dec("{\"\xe2\x84\xaa" "ey\":\"AQ==\"}"), 0);
	assert_bytes(F_KEY, "\1", 1);
	body_release(f, NF);
	cr_assert_eq(dec("{\"\\u212aEY\":\"Ag==\"}"), 0);
	assert_bytes(F_KEY, "\2", 1);
	body_release(f, NF);
	cr_assert_eq(dec("{\"byte\xc5\xbf\":\"Aw==\"}"), 0);
	assert_bytes(F_BYTES, "\3", 1);
	body_release(f, NF);
	cr_assert_eq(dec("{\"BYTE\\u017f\":\"BA==\"}"), 0);
	assert_bytes(F_BYTES, "\4", 1);
	body_release(f, NF);
	/* Other look-alikes do not fold: U+0130, U+0131, fullwidth k. */
	cr_assert_eq(dec("{\"c\\u0130pher\":\"x\",\"c\\u0131pher\":\"y\","
	    "\"\\uff4bey\":\"AQ==\"}"), 0);
	assert_all_absent();
}

Test(body, keys_invalid_utf8_are_unknown)
{
	/* Go turns them into U+FFFD, which matches no field. */
	cr_assert_eq(dec("{\"\xff\":\"x\",\"context\xff\":\"AQ==\","
	    "\"\\ud800\":1,\"context\\udc00\":2,\"cipher\":\"ok\"}"), 0);
	assert_absent(F_CTX);
	assert_str(F_CIPHER, "ok");
}

Test(body, exact_name_before_fold)
{
	struct body_field	 g[2];

	memset(g, 0, sizeof(g));
	g[0].name = "X";
	g[0].kind = BODY_STRING;
	g[1].name = "x";
	g[1].kind = BODY_STRING;
	cr_assert_eq(body_decode((const uint8_t *)"{\"x\":\"lo\"}", 10, g, 2),
	    0);
	cr_assert_not(g[0].present);
	cr_assert_str_eq(g[1].str, "lo");
	body_release(g, 2);
	cr_assert_eq(body_decode((const uint8_t *)"{\"X\":\"up\"}", 10, g, 2),
	    0);
	cr_assert_str_eq(g[0].str, "up");
	cr_assert_not(g[1].present);
	body_release(g, 2);
}

Test(body, duplicates_last_wins)
{
	cr_assert_eq(dec("{\"context\":\"AQ==\",\"context\":\"Ag==\"}"), 0);
	assert_bytes(F_CTX, "\2", 1);
	body_release(f, NF);
	/* Where a whole-body jansson parse would hand back "ctx" last. */
	cr_assert_eq(dec("{\"Context\":\"AQ==\",\"context\":\"Ag==\","
	    "\"Context\":\"Aw==\"}"), 0);
	assert_bytes(F_CTX, "\3", 1);
	body_release(f, NF);
	cr_assert_eq(dec("{\"cipher\":\"a\",\"CIPHER\":\"b\",\"Cipher\":\"c\","
	    "\"x\":1}"), 0);
	assert_str(F_CIPHER, "c");
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":\"AQ==\",\"context\":\"\"}"), 0);
	assert_bytes(F_CTX, "", 0);
}

Test(body, duplicate_with_error_fails)
{
	/* Go saves the first error and returns it at the end. */
	cr_assert_eq(dec("{\"context\":5,\"context\":\"AQ==\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"!!\",\"context\":\"AQ==\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ==\",\"Context\":true}"), -1);
	cr_assert_eq(dec("{\"cipher\":[],\"cipher\":\"x\"}"), -1);
	assert_all_absent();
}

/* --- values --- */

Test(body, wrong_types)
{
	static const char *vals[] = {
		"1", "0", "-1", "1.5", "1e400", "true", "false", "{}",
		"{\"a\":1}", "tru", "1x", "'x'", "-",
	};
	static const char *svals[] = { "[]", "[\"a\"]", "[1]" };
	char	 buf[128];
	size_t	 i;
	int	 k;

	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		for (k = 0; k < NF; k++) {
			snprintf(buf, sizeof(buf), "{\"%s\":%s}", f[k].name,
			    vals[i]);
			cr_assert_eq(dec(buf), -1, "%s", buf);
			assert_all_absent();
		}
	}
	for (i = 0; i < sizeof(svals) / sizeof(svals[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"cipher\":%s}", svals[i]);
		cr_assert_eq(dec(buf), -1, "%s", buf);
	}
}

Test(body, null_values)
{
	cr_assert_eq(dec("{\"context\":null,\"cipher\":null}"), 0);
	assert_all_absent();
	/* null makes a []byte nil again ... */
	cr_assert_eq(dec("{\"context\":\"AQ==\",\"context\":null}"), 0);
	assert_absent(F_CTX);
	body_release(f, NF);
	/* ... but leaves a string alone. */
	cr_assert_eq(dec("{\"cipher\":\"x\",\"cipher\":null}"), 0);
	assert_str(F_CIPHER, "x");
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":null,\"context\":\"AQ==\"}"), 0);
	assert_bytes(F_CTX, "\1", 1);
}

Test(body, unknown_keys_any_value)
{
	/* Values jansson itself would refuse: Go only checks syntax. */
	cr_assert_eq(dec("{\"foo\":{\"a\":[1,2,{\"b\":null}],\"\\u0000\":0},"
	    "\"bar\":[],\"big\":1e400,\"int\":99999999999999999999999,"
	    "\"neg\":-0.0e-0,\"n\":null,\"t\":true,\"f\":false,"
	    "\"bad\":\"\\ud800\xff\xc0\xaf\",\"o\":{},\"context\":\"AQ==\","
	    "\"e\":\"\",\"nest\":[[[[{}]]]],\"ws\" : [ 1 , { } ] }"), 0);
	assert_bytes(F_CTX, "\1", 1);
	assert_absent(F_CIPHER);
}

Test(body, unknown_values_syntax_checked)
{
	static const char *bad[] = {
		"[1,]", "01", "-01", "1.", ".5", "1e", "1e+", "+1", "-",
		"tru", "truex", "nul", "NaN", "Infinity", "0x10",
		"\"\x01\"", "\"\\q\"", "\"\\u12\"", "\"\\u12g4\"", "\"a",
		"\"\\", "'a'", "[", "{", "{\"a\"}", "{\"a\":}", "[1 2]",
		"\"\t\"", "\"\n\"", "\"\x7f\"\"", "1 2",
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"foo\":%s,\"context\":\"AQ==\"}",
		    bad[i]);
		cr_assert_eq(dec(buf), -1, "%s", buf);
		assert_all_absent();
	}
	/* 0x7f and bytes >= 0x80 are fine in strings. */
	cr_assert_eq(dec("{\"foo\":\"\x7f\x80\xff\"}"), 0);
}

Test(body, raw_nul_refused)
{
	/* jansson would read past a NUL after a number or literal. */
	static const char a[] = "{\"foo\":[1\0,2],\"context\":\"AQ==\"}";
	static const char b[] = "{\"foo\":true\0,\"context\":\"AQ==\"}";
	static const char c[] = "{\"context\":[1\0,2]}";
	static const char d[] = "{\"context\":\"AQ==\"\0}";

	cr_assert_eq(decn(a, sizeof(a) - 1), -1);
	cr_assert_eq(decn(b, sizeof(b) - 1), -1);
	cr_assert_eq(decn(c, sizeof(c) - 1), -1);
	cr_assert_eq(decn(d, sizeof(d) - 1), -1);
	assert_all_absent();
}

Test(body, numbers_valid)
{
	static const char *ok[] = {
		"0", "-0", "1", "-1", "10", "0.5", "-0.5", "1e5", "1E5",
		"1e+5", "1e-5", "1.25e-10", "123456789012345678901234567890",
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"foo\":%s}", ok[i]);
		cr_assert_eq(dec(buf), 0, "%s", buf);
		snprintf(buf, sizeof(buf), "{\"foo\":[%s]}", ok[i]);
		cr_assert_eq(dec(buf), 0, "%s", buf);
	}
}

/* --- []byte fields --- */

Test(body, base64_padded_only)
{
	cr_assert_eq(dec("{\"context\":\"AQ\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQI\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"A\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ=\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ===\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ==AQ==\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ-_\"}"), -1);	/* URL alphabet */
	cr_assert_eq(dec("{\"context\":\"AQ ID\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ\\tID\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQID\\u0000\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQID\xc3\xa9\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQID\xff\"}"), -1);
	cr_assert_eq(dec("{\"context\":\"AQ==\"}"), 0);
	assert_bytes(F_CTX, "\1", 1);
}

Test(body, base64_newlines_skipped)
{
	cr_assert_eq(dec("{\"context\":\"AQ\\r\\nID\"}"), 0);
	assert_bytes(F_CTX, "\1\2\3", 3);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":\"\\nA\\rQ\\r\\n=\\n=\\r\\n\"}"), 0);
	assert_bytes(F_CTX, "\1", 1);
	body_release(f, NF);
	/* Raw CR and LF are control characters, invalid in JSON strings. */
	cr_assert_eq(dec("{\"context\":\"AQ\r\nID\"}"), -1);
}

Test(body, base64_escaped)
{
	cr_assert_eq(dec("{\"context\":\"\\u0041\\u0051\\u003d\\u003d\"}"), 0);
	assert_bytes(F_CTX, "\1", 1);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":\"A\\/\\/\\/\"}"), 0);
	assert_bytes(F_CTX, "\3\xff\xff", 3);
}

Test(body, base64_empty)
{
	cr_assert_eq(dec("{\"context\":\"\"}"), 0);
	assert_bytes(F_CTX, "", 0);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":\"\\r\\n\"}"), 0);
	assert_bytes(F_CTX, "", 0);
}

Test(body, byte_arrays)
{
	/* Go decodes a JSON array into any slice, []byte included. */
	cr_assert_eq(dec("{\"context\":[1, 2 ,255,0]}"), 0);
	assert_bytes(F_CTX, "\1\2\xff\0", 4);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":[]}"), 0);
	assert_bytes(F_CTX, "", 0);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":[null,7]}"), 0);
	assert_bytes(F_CTX, "\0\7", 2);
}

Test(body, byte_arrays_bad_elements)
{
	static const char *bad[] = {
		"[256]", "[-1]", "[-0]", "[1.0]", "[1e2]", "[1E0]",
		"[\"1\"]", "[true]", "[[1]]", "[{}]", "[1,]", "[,]",
		"[1 2]", "[01]", "[1", "[99999999999999999999999]",
	};
	char	 buf[128];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"context\":%s}", bad[i]);
		cr_assert_eq(dec(buf), -1, "%s", buf);
		assert_all_absent();
	}
}

Test(body, byte_arrays_reuse_backing_store)
{
	/* A null element keeps what Go's slice already held there. */
	cr_assert_eq(dec("{\"context\":\"AQID\",\"context\":[null,null]}"), 0);
	assert_bytes(F_CTX, "\1\2", 2);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":[1,2,3],\"context\":[4],"
	    "\"context\":[null,null,null,null]}"), 0);
	assert_bytes(F_CTX, "\4\2\3\0", 4);
	body_release(f, NF);
	/* null and [] drop the store. */
	cr_assert_eq(dec("{\"context\":[1,2,3],\"context\":null,"
	    "\"context\":[null]}"), 0);
	assert_bytes(F_CTX, "\0", 1);
	body_release(f, NF);
	cr_assert_eq(dec("{\"context\":[1,2,3],\"context\":[],"
	    "\"context\":[null]}"), 0);
	assert_bytes(F_CTX, "\0", 1);
	body_release(f, NF);
	/* A base64 string makes a fresh slice. */
	cr_assert_eq(dec("{\"context\":[1,2,3],\"context\":\"CQ==\","
	    "\"context\":[null,null]}"), 0);
	assert_bytes(F_CTX, "\x09\0", 2);
}

/* --- string fields --- */

Test(body, strings)
{
	cr_assert_eq(dec("{\"cipher\":\"AES256\",\"version\":\"\"}"), 0);
	assert_str(F_CIPHER, "AES256");
	assert_str(F_VERSION, "");
	body_release(f, NF);
	cr_assert_eq(dec("{\"cipher\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"
	    "\\ud83d\\ude00\xe2\x82\xac\"}"), 0);
	assert_str(F_CIPHER, "\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80"
	    "\xe2\x82\xac");
}

Test(body, strings_refused)
{
	/* Go keeps NUL; callers want C strings. */
	cr_assert_eq(dec("{\"cipher\":\"AES\\u0000256\"}"), -1);
	cr_assert_eq(dec("{\"cipher\":\"\\u0000\"}"), -1);
	/* Go substitutes U+FFFD; jansson refuses. */
	cr_assert_eq(dec("{\"cipher\":\"\xff\"}"), -1);
	cr_assert_eq(dec("{\"cipher\":\"\xc0\xaf\"}"), -1);
	cr_assert_eq(dec("{\"cipher\":\"\xed\xa0\x80\"}"), -1);
	cr_assert_eq(dec("{\"cipher\":\"\\ud800\"}"), -1);
	cr_assert_eq(dec("{\"cipher\":\"\\udc00\\ud800\"}"), -1);
	/* Raw control characters are invalid JSON. */
	cr_assert_eq(dec("{\"cipher\":\"a\x01\"}"), -1);
	cr_assert_eq(dec("{\"cipher\":\"a\tb\"}"), -1);
	assert_all_absent();
}

/* --- size and depth --- */

/* pre, levels times open, mid, levels times close, post. */
static char *
nested(size_t levels, const char *open, const char *mid, const char *close,
    const char *pre, const char *post)
{
	size_t	 lo = strlen(open), lc = strlen(close), i;
	size_t	 n = strlen(pre) + levels * (lo + lc) + strlen(mid) +
		    strlen(post) + 1;
	char	*s = xmalloc(n), *p = s;

	p = stpcpy(p, pre);
	for (i = 0; i < levels; i++)
		p = stpcpy(p, open);
	p = stpcpy(p, mid);
	for (i = 0; i < levels; i++)
		p = stpcpy(p, close);
	stpcpy(p, post);
	return s;
}

static int
dec_free(char *s)
{
	int	 r = dec(s);

	free(s);
	return r;
}

Test(body, depth_limit_is_gos)
{
	/* 10000 levels counting the outer object: Go's maxNestingDepth. */
	cr_assert_eq(dec_free(nested(9999, "[", "", "]", "{\"foo\":",
	    ",\"context\":\"AQ==\"}")), 0);
	assert_bytes(F_CTX, "\1", 1);
	body_release(f, NF);
	cr_assert_eq(dec_free(nested(10000, "[", "", "]", "{\"foo\":",
	    ",\"context\":\"AQ==\"}")), -1);
	assert_all_absent();
	cr_assert_eq(dec_free(nested(9999, "{\"a\":", "1", "}", "{\"foo\":",
	    "}")), 0);
	cr_assert_eq(dec_free(nested(10000, "{\"a\":", "1", "}",
	    "{\"foo\":", "}")), -1);
	cr_assert_eq(dec_free(nested(4999, "[{\"a\":", "null", "}]",
	    "{\"foo\":", "}")), 0);
	cr_assert_eq(dec_free(nested(5000, "[{\"a\":", "null", "}]",
	    "{\"foo\":", "}")), -1);
	/* Empty containers at the limit. */
	cr_assert_eq(dec_free(nested(9998, "[", "[]", "]", "{\"foo\":",
	    "}")), 0);
	cr_assert_eq(dec_free(nested(9998, "[", "{}", "]", "{\"foo\":",
	    "}")), 0);
	cr_assert_eq(dec_free(nested(9999, "[", "{}", "]", "{\"foo\":",
	    "}")), -1);
	/* One deep value does not leave its depth to the next... */
	cr_assert_eq(dec_free(nested(9998, "[", "", "]", "{\"foo\":",
	    ",\"context\":[1]}")), 0);
	body_release(f, NF);
	/* ... and an array inside a byte array is a type error. */
	cr_assert_eq(dec("{\"context\":[[]]}"), -1);
}

Test(body, deep_truncated)
{
	char	*s = nested(5000, "[", "", "]", "{\"foo\":", "}");

	s[strlen(s) - 2] = '\0';	/* one bracket short */
	cr_assert_eq(dec(s), -1);
	free(s);
}

Test(body, big_values)
{
	size_t	 n = 3 * 256 * 1024, i;	/* 768 KiB, 1 MiB of base64 */
	uint8_t	*raw = xmalloc(n);
	char	*b64, *body;
	size_t	 blen;

	for (i = 0; i < n; i++)
		raw[i] = (uint8_t)(i * 7 + 3);
	blen = n / 3 * 4;
	b64 = xmalloc(blen + 1);
	{
		static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789+/";
		for (i = 0; i < n; i += 3) {
			uint32_t w = (uint32_t)raw[i] << 16 |
			    (uint32_t)raw[i + 1] << 8 | raw[i + 2];
			b64[i / 3 * 4] = al[w >> 18];
			b64[i / 3 * 4 + 1] = al[(w >> 12) & 63];
			b64[i / 3 * 4 + 2] = al[(w >> 6) & 63];
			b64[i / 3 * 4 + 3] = al[w & 63];
		}
		b64[blen] = '\0';
	}
	xasprintf(&body, "{\"unknown\":\"%s\",\"ciphertext\":\"%s\","
	    "\"cipher\":\"%s\"}", b64, b64, b64);
	cr_assert_eq(dec(body), 0);
	assert_bytes(F_CT, raw, n);
	assert_str(F_CIPHER, b64);
	free(body);
	free(b64);
	free(raw);
}

Test(body, many_keys)
{
	size_t	 n = 20000, i;
	char	*body = xmalloc(n * 16 + 64), *p = body;

	*p++ = '{';
	for (i = 0; i < n; i++)
		p += sprintf(p, "\"k%zu\":%zu,", i, i);
	p += sprintf(p, "\"context\":\"AQ==\"}");
	cr_assert_eq(dec(body), 0);
	assert_bytes(F_CTX, "\1", 1);
	free(body);
}

/* --- memory --- */

Test(body, release_resets)
{
	cr_assert_eq(dec("{\"context\":\"AQ==\",\"cipher\":\"x\"}"), 0);
	body_release(f, NF);
	assert_all_absent();
	body_release(f, NF);
	assert_all_absent();
}

Test(body, decode_resets_results)
{
	/* Results from a caller that forgot to initialise them. */
	f[F_CTX].present = true;
	f[F_CTX].bytes = (uint8_t *)(uintptr_t)0x1;
	f[F_CTX].str = (char *)(uintptr_t)0x1;
	f[F_CTX].len = 99;
	cr_assert_eq(dec("{}"), 0);
	assert_all_absent();
}

Test(body, error_releases)
{
	cr_assert_eq(dec("{\"context\":\"AQ==\",\"cipher\":\"x\","
	    "\"key\":[1,2],\"version\":5}"), -1);
	assert_all_absent();
}

Test(body, jansson_frees_wipe)
{
	json_malloc_t	 m;
	json_free_t	 fr;

	json_get_alloc_funcs(&m, &fr);
	cr_assert_neq((void *)fr, (void *)free);
	cr_assert_neq((void *)m, (void *)malloc);
}

/* --- mutations: every result is 0 or -1, and consistent --- */

static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

Test(body, mutations)
{
	static const char *seeds[] = {
		"{\"ciphertext\":\"AQID\",\"context\":\"e30=\"}",
		"{\"key\":\"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\","
		    "\"cipher\":\"AES256\"}",
		"{\"Context\":[1,2,null],\"x\":{\"y\":[true,-1.5e3]},"
		    "\"cipher\":\"\\u00e9\\ud83d\\ude00\"}",
	};
	static const uint8_t pokes[] = {
		0, '"', '\\', '{', '}', '[', ']', ',', ':', ' ', 'n', '1',
		'-', 'e', '.', 0x80, 0xff, 'u', '=', 'A',
	};
	uint8_t		 buf[256];
	uint64_t	 st = 0x9e3779b97f4a7c15ull;
	size_t		 s, len, i, k;
	int		 r, j;

	for (s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
		len = strlen(seeds[s]);
		for (i = 0; i < len; i++) {
			for (k = 0; k < sizeof(pokes) + 8; k++) {
				memcpy(buf, seeds[s], len);
				buf[i] = k < sizeof(pokes) ? pokes[k] :
				    (uint8_t)(buf[i] ^ (1u << (k - sizeof(pokes))));
				r = body_decode(buf, len, f, NF);
				cr_assert(r == 0 || r == -1);
				for (j = 0; j < NF; j++) {
					if (r == -1 || !f[j].present)
						cr_assert_eq(f[j].len, 0);
					if (f[j].kind == BODY_BYTES)
						cr_assert_eq(f[j].len == 0,
						    f[j].bytes == NULL);
					else if (f[j].present)
						cr_assert_eq(f[j].len,
						    strlen(f[j].str));
				}
				body_release(f, NF);
			}
		}
		for (i = 0; i < 2000; i++) {
			memcpy(buf, seeds[s], len);
			for (k = 0; k < 1 + rnd(&st) % 4; k++)
				buf[rnd(&st) % len] = (uint8_t)rnd(&st);
			r = body_decode(buf, rnd(&st) % (len + 1), f, NF);
			cr_assert(r == 0 || r == -1);
			body_release(f, NF);
		}
	}
}
