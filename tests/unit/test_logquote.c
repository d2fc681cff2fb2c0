/*
 * common/logquote: client text in log lines. The expected strings are
 * what Go's strconv.QuoteToASCII returns for the same input (written out
 * by hand from its rules: printable ASCII as is, \" and \\, the seven
 * named control escapes, \xNN for other control bytes, DEL and each byte
 * of invalid UTF-8, \uNNNN and \UNNNNNNNN for everything beyond ASCII).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "common/buf.h"
#include "common/logquote.h"

static void
check(const char *in, size_t n, const char *want)
{
	char out[256];

	cr_assert_eq(logquote(out, sizeof(out), in, n, true), strlen(want));
	cr_assert_str_eq(out, want);
}

#define CHECK(lit, want)	check((lit), sizeof(lit) - 1, (want))

Test(logquote, ascii_and_escapes)
{
	CHECK("", "\"\"");
	CHECK("/v1/key/create/my-key", "\"/v1/key/create/my-key\"");
	CHECK("a\"b\\c", "\"a\\\"b\\\\c\"");
	CHECK("<>&'", "\"<>&'\"");
	CHECK("\a\b\f\n\r\t\v", "\"\\a\\b\\f\\n\\r\\t\\v\"");
	CHECK("\x01\x1b[31m\x7f", "\"\\x01\\x1b[31m\\x7f\"");
	CHECK("a\0b", "\"a\\x00b\"");
}

Test(logquote, unicode)
{
	CHECK("caf\xc3\xa9", "\"caf\\u00e9\"");
	/* RIGHT-TO-LEFT OVERRIDE, LINE SEPARATOR, BOM, a 4-byte emoji. */
	CHECK("x\xe2\x80\xaey", "\"x\\u202ey\"");
	CHECK("\xe2\x80\xa8", "\"\\u2028\"");
	CHECK("\xef\xbb\xbf", "\"\\ufeff\"");
	CHECK("\xf0\x9f\x98\x80", "\"\\U0001f600\"");
	CHECK("\xf4\x8f\xbf\xbf", "\"\\U0010ffff\"");
}

Test(logquote, invalid_utf8)
{
	CHECK("\xff", "\"\\xff\"");
	CHECK("%\xc0\xaf", "\"%\\xc0\\xaf\"");		/* overlong '/' */
	CHECK("\xe0\x80\xaf", "\"\\xe0\\x80\\xaf\"");	/* overlong */
	CHECK("\xed\xa0\x80", "\"\\xed\\xa0\\x80\"");	/* surrogate */
	CHECK("\xf4\x90\x80\x80", "\"\\xf4\\x90\\x80\\x80\""); /* > U+10FFFF */
	CHECK("\xe2\x80", "\"\\xe2\\x80\"");		/* truncated */
	CHECK("\x80" "a", "\"\\x80a\"");		/* stray continuation */
	CHECK("\xc3\xa9\xc3", "\"\\u00e9\\xc3\"");
}

Test(logquote, unquoted_keeps_quotes_and_backslashes)
{
	char out[64];

	cr_assert_eq(logquote(out, sizeof(out), "a\"b\\c\xc3\xa9\n", 8,
	    false), strlen("a\"b\\c\\u00e9\\n"));
	cr_assert_str_eq(out, "a\"b\\c\\u00e9\\n");
}

/* Output that does not fit stops before the escape that does not fit,
 * and the quoted form still closes. */
Test(logquote, truncation)
{
	char out[10];

	logquote(out, sizeof(out), "ab\xc3\xa9" "cd", 6, true);
	cr_assert_str_eq(out, "\"ab\"");
	logquote(out, sizeof(out), "abcdefghijkl", 12, true);
	cr_assert_str_eq(out, "\"abcdefg\"");
	logquote(out, 1, "abc", 3, true);
	cr_assert_str_eq(out, "");
}

Test(logquote, into_a_buf)
{
	struct buf b;

	buf_init(&b, 64);
	cr_assert_eq(logquote_buf(&b, "k\xe2\x80\xae"), 0);
	cr_assert_eq(buf_avail(&b), strlen("\"k\\u202e\""));
	cr_assert_eq(memcmp(buf_ptr(&b), "\"k\\u202e\"", buf_avail(&b)), 0);
	buf_release(&b);
	buf_init(&b, 8);
	cr_assert_eq(logquote_buf(&b, "too long for eight bytes"), -1);
	cr_assert_eq(buf_avail(&b), 0);
	buf_release(&b);
}
