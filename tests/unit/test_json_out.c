/*
 * The tree's one JSON string escaper (common/json_out.c) against bytes
 * Go's encoding/json wrote: every control byte, <, >, &, quote and
 * backslash, DEL, U+2028/2029 and their neighbours, valid UTF-8, and
 * invalid UTF-8 of every kind (stray continuation and 0xff bytes,
 * overlong forms, surrogates, above U+10FFFF, sequences cut short).
 *
 * How the expected bytes were produced: tests/data/json-escapes/gen.go
 * calls json.Marshal on each input and prints both as C literals; the
 * table below is its output, pasted unchanged, from Go 1.19.8 (Debian's
 * golang-1.19-go):
 *   go run tests/data/json-escapes/gen.go
 * Go 1.22 and later (appendString) write \b and \f as two-character
 * escapes; 1.19 (encodeState.string) writes \u0008 and \u000c, which is
 * what keyward's responses have always carried; it keeps that form.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "common/json_out.h"
#include "common/log.h"

static const struct {
	const char	*in;
	const char	*go;
} cases[] = {
	{ "\001", "\"\\u0001\"" },
	{ "\002", "\"\\u0002\"" },
	{ "\003", "\"\\u0003\"" },
	{ "\004", "\"\\u0004\"" },
	{ "\005", "\"\\u0005\"" },
	{ "\006", "\"\\u0006\"" },
	{ "\007", "\"\\u0007\"" },
	{ "\010", "\"\\u0008\"" },
	{ "\011", "\"\\t\"" },
	{ "\012", "\"\\n\"" },
	{ "\013", "\"\\u000b\"" },
	{ "\014", "\"\\u000c\"" },
	{ "\015", "\"\\r\"" },
	{ "\016", "\"\\u000e\"" },
	{ "\017", "\"\\u000f\"" },
	{ "\020", "\"\\u0010\"" },
	{ "\021", "\"\\u0011\"" },
	{ "\022", "\"\\u0012\"" },
	{ "\023", "\"\\u0013\"" },
	{ "\024", "\"\\u0014\"" },
	{ "\025", "\"\\u0015\"" },
	{ "\026", "\"\\u0016\"" },
	{ "\027", "\"\\u0017\"" },
	{ "\030", "\"\\u0018\"" },
	{ "\031", "\"\\u0019\"" },
	{ "\032", "\"\\u001a\"" },
	{ "\033", "\"\\u001b\"" },
	{ "\034", "\"\\u001c\"" },
	{ "\035", "\"\\u001d\"" },
	{ "\036", "\"\\u001e\"" },
	{ "\037", "\"\\u001f\"" },
	{ "<", "\"\\u003c\"" },
	{ ">", "\"\\u003e\"" },
	{ "&", "\"\\u0026\"" },
	{ "\"", "\"\\\"\"" },
	{ "\\", "\"\\\\\"" },
	{ "\177", "\"\177\"" },
	{ "/", "\"/\"" },
	{ "plain text", "\"plain text\"" },
	{ "\342\200\250", "\"\\u2028\"" },
	{ "\342\200\251", "\"\\u2029\"" },
	{ "a\342\200\250b\342\200\251c", "\"a\\u2028b\\u2029c\"" },
	{ "\342\200\247\342\200\252", "\"\342\200\247\342\200\252\"" },
	{ "\303\251\342\202\254\360\237\230\200", "\"\303\251\342\202\254\360\237\230\200\"" },
	{ "\200", "\"\\ufffd\"" },
	{ "\377", "\"\\ufffd\"" },
	{ "a\377b", "\"a\\ufffdb\"" },
	{ "\300\257", "\"\\ufffd\\ufffd\"" },
	{ "\301\277", "\"\\ufffd\\ufffd\"" },
	{ "\340\200\257", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\355\240\200", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\355\237\277", "\"\355\237\277\"" },
	{ "\360\217\277\277", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "\364\217\277\277", "\"\364\217\277\277\"" },
	{ "\364\220\200\200", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "\342\202", "\"\\ufffd\\ufffd\"" },
	{ "\342\202x", "\"\\ufffd\\ufffdx\"" },
	{ "\360\237\230", "\"\\ufffd\\ufffd\\ufffd\"" },
	{ "\365\200\200\200", "\"\\ufffd\\ufffd\\ufffd\\ufffd\"" },
	{ "<script>\012\011&\015</script>", "\"\\u003cscript\\u003e\\n\\t\\u0026\\r\\u003c/script\\u003e\"" },
};

Test(json_out, str_is_byte_for_byte_go)
{
	struct buf	b;
	size_t		i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		buf_init(&b, 1024);
		cr_assert_eq(json_str(&b, cases[i].in), 0);
		cr_assert_eq(b.len, strlen(cases[i].go), "case %zu: %.*s, "
		    "Go wrote %s", i, (int)b.len, (const char *)b.data,
		    cases[i].go);
		cr_assert_eq(memcmp(b.data, cases[i].go, b.len), 0,
		    "case %zu: %.*s, Go wrote %s", i, (int)b.len,
		    (const char *)b.data, cases[i].go);
		buf_release(&b);
	}
}

/* A string that does not fit leaves the buffer as it was. */
Test(json_out, no_room_leaves_buffer_alone)
{
	struct buf b;

	buf_init(&b, 8);
	cr_assert_eq(buf_put(&b, "[", 1), 0);
	cr_assert_eq(json_str(&b, "<<"), -1);
	cr_assert_eq(b.len, 1);
	cr_assert_eq(json_str(&b, "abc"), 0);
	cr_assert_eq(json_key(&b, "abcd"), -1);
	cr_assert_eq(b.len, 6);
	cr_assert_eq(memcmp(b.data, "[\"abc\"", 6), 0);
	buf_release(&b);
}

/* The error-log event escapes the same way (it wrote \u000a before). */
Test(json_out, log_event_uses_the_same_escaper)
{
	char out[128];

	cr_assert_eq(log_event_json("a\n<b>\t\377", out, sizeof(out)),
	    strlen(out));
	cr_assert_str_eq(out,
	    "{\"message\":\"a\\n\\u003cb\\u003e\\t\\ufffd\"}");
}

/* []byte as Go writes it, both encoders; a buffer too small for it keeps
 * what it had, nothing half-written. */
Test(json_out, b64_fields)
{
	struct buf	b;
	int		pub;

	for (pub = 0; pub < 2; pub++) {
		buf_init(&b, 64);
		cr_assert_eq(buf_put_u8(&b, '['), 0);
		cr_assert_eq((pub ? json_b64_public : json_b64)(&b,
		    (const uint8_t *)"foobar!", 7), 0);
		cr_assert_eq(b.len, 1 + 14);
		cr_assert_arr_eq(b.data, "[\"Zm9vYmFyIQ==\"", 15);
		cr_assert_eq((pub ? json_b64_public : json_b64)(&b,
		    (const uint8_t *)"", 0), 0);
		cr_assert_arr_eq(b.data + 15, "\"\"", 2);
		buf_release(&b);

		buf_init(&b, 8);
		cr_assert_eq(buf_put(&b, "ab", 2), 0);
		cr_assert_eq((pub ? json_b64_public : json_b64)(&b,
		    (const uint8_t *)"foobar", 6), -1);
		cr_assert_eq(b.len, 2, "%zu bytes left", b.len);
		buf_release(&b);
	}
}
