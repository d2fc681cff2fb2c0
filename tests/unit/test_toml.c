/*
 * The TOML reader (common/config_toml.c): KES's own TOML samples load into
 * the document the config walker reads, every value kind with its tag and
 * line, and a catalogue of malformed files, each refused with its line and
 * what was expected.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/config_toml.h"

struct loaded {
	struct config		*cfg;
	struct cfg_parser	 p;
	yaml_document_t		 doc;
	char			 err[CONFIG_ERRLEN];
	yaml_parser_t		 y;	/* unused; cfg_unload wants one */
};

static struct loaded *
load(const char *text, size_t len)
{
	struct loaded	*l;

	l = calloc(1, sizeof(*l));
	cr_assert_not_null(l);
	l->cfg = calloc(1, sizeof(*l->cfg));
	l->p.file = "t.toml";
	l->p.cfg = l->cfg;
	l->p.err = l->err;
	l->p.errlen = sizeof(l->err);
	l->p.doc = &l->doc;
	cr_assert_eq(yaml_parser_initialize(&l->y), 1);
	(void)cfg_load_toml(&l->p, text, len);
	return l;
}

static void
unload(struct loaded *l)
{
	cfg_unload(&l->y, &l->doc);
	free(l->cfg);
	free(l);
}

static struct loaded *
ok(const char *text)
{
	struct loaded	*l = load(text, strlen(text));

	cr_assert_not(l->p.failed, "unexpected error: %s\n--- file:\n%s",
	    l->err, text);
	return l;
}

/* The error must begin "t.toml:<line>: toml: " and contain `want`. */
static void
bad(const char *text, size_t line, const char *want)
{
	struct loaded	*l = load(text, strlen(text));
	char		 prefix[64];

	cr_assert(l->p.failed, "accepted:\n%s", text);
	(void)snprintf(prefix, sizeof(prefix), "t.toml:%zu: toml: ", line);
	cr_assert_eq(strncmp(l->err, prefix, strlen(prefix)), 0,
	    "wanted %s..., got: %s\n--- file:\n%s", prefix, l->err, text);
	cr_assert_not_null(strstr(l->err, want),
	    "wanted '%s' in: %s\n--- file:\n%s", want, l->err, text);
	cr_assert_not_null(strstr(l->err, "expected"),
	    "no 'expected' in: %s", l->err);
	unload(l);
}

/* The node at a dotted path ("a.b.c"; "#2" indexes a sequence), or NULL. */
static yaml_node_t *
at(struct loaded *l, const char *path)
{
	yaml_node_t		*n = yaml_document_get_root_node(&l->doc);
	yaml_node_pair_t	*pr;
	yaml_node_t		*k;
	char			*copy = strdup(path), *seg, *save = NULL;
	long			 i;

	for (seg = strtok_r(copy, ".", &save); n != NULL && seg != NULL;
	    seg = strtok_r(NULL, ".", &save)) {
		if (seg[0] == '#') {
			i = strtol(seg + 1, NULL, 10);
			if (n->type != YAML_SEQUENCE_NODE ||
			    i >= n->data.sequence.items.top -
			    n->data.sequence.items.start)
				n = NULL;
			else
				n = yaml_document_get_node(&l->doc,
				    n->data.sequence.items.start[i]);
			continue;
		}
		if (n->type != YAML_MAPPING_NODE) {
			n = NULL;
			break;
		}
		for (pr = n->data.mapping.pairs.start;
		    pr < n->data.mapping.pairs.top; pr++) {
			k = yaml_document_get_node(&l->doc, pr->key);
			if (strcmp((char *)k->data.scalar.value, seg) == 0)
				break;
		}
		n = pr < n->data.mapping.pairs.top ?
		    yaml_document_get_node(&l->doc, pr->value) : NULL;
	}
	free(copy);
	return n;
}

static void
is(struct loaded *l, const char *path, const char *tag, const char *value,
    size_t line)
{
	yaml_node_t	*n = at(l, path);

	cr_assert_not_null(n, "no %s", path);
	cr_assert_eq(n->type, YAML_SCALAR_NODE, "%s is not a scalar", path);
	cr_assert_str_eq((char *)n->tag, tag, "%s: tag", path);
	cr_assert_str_eq((char *)n->data.scalar.value, value, "%s", path);
	if (strcmp(tag, YAML_STR_TAG) == 0)
		cr_assert_eq(n->data.scalar.style,
		    YAML_DOUBLE_QUOTED_SCALAR_STYLE, "%s: quoted", path);
	else
		cr_assert_eq(n->data.scalar.style, YAML_PLAIN_SCALAR_STYLE,
		    "%s: plain", path);
	if (line != 0)
		cr_assert_eq(n->start_mark.line + 1, line, "%s: line %zu, "
		    "not %zu", path, (size_t)n->start_mark.line + 1, line);
}

static size_t
count(struct loaded *l, const char *path)
{
	yaml_node_t	*n = at(l, path);

	cr_assert_not_null(n, "no %s", path);
	if (n->type == YAML_SEQUENCE_NODE)
		return (size_t)(n->data.sequence.items.top -
		    n->data.sequence.items.start);
	cr_assert_eq(n->type, YAML_MAPPING_NODE, "%s", path);
	return (size_t)(n->data.mapping.pairs.top -
	    n->data.mapping.pairs.start);
}

#define S	YAML_STR_TAG
#define I	YAML_INT_TAG
#define B	YAML_BOOL_TAG

/* KES v0.1.0's keys (spec §7.2), laid out as its sample did. */
Test(toml, kes_v0_1_sample)
{
	struct loaded	*l = ok(
	    "# KES v0.1.0\n"
	    "address = \"https://127.0.0.1:7373\"\n"
	    "root    = \"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22\"\n"
	    "\n"
	    "[tls]\n"
	    "key  = \"./private.key\"\n"
	    "cert = \"./public.crt\"\n"
	    "\n"
	    "[policy.prod-app]\n"
	    "paths      = [ \"/v1/key/generate/prod-*\", \"/v1/key/decrypt/prod-*\" ]\n"
	    "identities = [\n"
	    "  \"c9d8b1e0f2c4a6e8d0b2f4a6c8e0d2b4f6a8c0e2d4b6f8a0c2e4d6b8f0a2c4e6\", # app\n"
	    "]\n"
	    "[cache.expiry]\n"
	    "all    = \"1h\"\n"
	    "unused = 30_000_000_000\n"
	    "[vault]\n"
	    "address = \"http://127.0.0.1:8200\"\n"
	    "name    = \"demo\"\n"
	    "[vault.approle]\n"
	    "id     = \"role\"\n"
	    "secret = 'sec\\ret'\n"
	    "retry  = \"15s\"\n"
	    "[vault.status]\n"
	    "ping   = \"10s\"\n");

	is(l, "address", S, "https://127.0.0.1:7373", 2);
	is(l, "tls.cert", S, "./public.crt", 7);
	cr_assert_eq(count(l, "policy.prod-app.paths"), 2);
	is(l, "policy.prod-app.paths.#1", S, "/v1/key/decrypt/prod-*", 10);
	cr_assert_eq(count(l, "policy.prod-app.identities"), 1);
	is(l, "cache.expiry.all", S, "1h", 15);
	is(l, "cache.expiry.unused", I, "30000000000", 16);
	is(l, "vault.name", S, "demo", 19);
	is(l, "vault.approle.secret", S, "sec\\ret", 22);
	is(l, "vault.status.ping", S, "10s", 25);
	/* A table's node carries its header's line. */
	cr_assert_eq(at(l, "vault.approle")->start_mark.line + 1, 20);
	cr_assert_eq(count(l, ""), 6, "address root tls policy cache vault");
	unload(l);
}

/* KES v0.6.0's sample keys, with the [keystore.vault] of the walk-through. */
Test(toml, kes_v0_6_keystore_sections)
{
	struct loaded	*l = ok(
	    "address = \"0.0.0.0:7373\"\r\n"
	    "root = \"disabled\"\r\n"
	    "[tls]\r\n"
	    "  key = \"server.key\"\r\n"
	    "  cert = \"server.cert\"\r\n"
	    "  [tls.proxy]\r\n"
	    "  identities = []\r\n"
	    "  [tls.proxy.header]\r\n"
	    "  cert = \"X-Tls-Client-Cert\"\r\n"
	    "[log.error]\r\n"
	    "file = [ \"/var/log/kes/error.log\", \"\" ]\r\n"
	    "[keystore.vault]\r\n"
	    "address = \"https://127.0.0.1:8200\"\r\n"
	    "namespace = \"\"\r\n"
	    "[keystore.vault.approle]\r\n"
	    "id = \"${ROLE}\"\r\n"
	    "[keystore.aws.secrets_manager.credentials]\r\n"
	    "access_key = \"AKIA\"\r\n");

	is(l, "tls.proxy.header.cert", S, "X-Tls-Client-Cert", 9);
	cr_assert_eq(count(l, "tls.proxy.identities"), 0);
	is(l, "log.error.file.#1", S, "", 11);
	is(l, "keystore.vault.namespace", S, "", 14);
	is(l, "keystore.vault.approle.id", S, "${ROLE}", 16);
	is(l, "keystore.aws.secrets_manager.credentials.access_key", S,
	    "AKIA", 18);
	unload(l);
}

Test(toml, strings)
{
	struct loaded	*l = ok(
	    "a = \"tab\\there \\\"q\\\" \\\\ \\u00e9 \\U0001F600 \\b\\f\\r\\n\"\n"
	    "b = 'C:\\path\\to \"x\"'\n"
	    "c = \"\"\"\n"
	    "one\n"
	    "two \\\n"
	    "    three\"\"\"\n"
	    "d = '''\n"
	    "raw \\n '' text'''\n"
	    "e = \"\"\"ends in two quotes\"\"\"\"\"\n"
	    "f = \"é ü 😀\"\n"
	    "g = \"\"\n"
	    "\"quoted key\" = 1\n"
	    "'lit.key' = 2\n");

	is(l, "a", S, "tab\there \"q\" \\ \xc3\xa9 \xf0\x9f\x98\x80 \b\f\r\n",
	    1);
	is(l, "b", S, "C:\\path\\to \"x\"", 2);
	is(l, "c", S, "one\ntwo three", 3);
	is(l, "d", S, "raw \\n '' text", 7);
	is(l, "e", S, "ends in two quotes\"\"", 9);
	is(l, "f", S, "é ü 😀", 10);
	is(l, "g", S, "", 11);
	is(l, "quoted key", I, "1", 12);
	cr_assert_eq(count(l, ""), 9, "'lit.key' is one key, not a path");
	unload(l);
}

Test(toml, integers_and_booleans)
{
	struct loaded	*l = ok(
	    "a = 0\nb = -0\nc = +42\nd = -17\ne = 1_000\n"
	    "f = 0xDEAD_beef\ng = 0o755\nh = 0b1010\n"
	    "i = 9223372036854775807\nj = -9223372036854775808\n"
	    "k = true\nl = false # off\n");

	is(l, "a", I, "0", 1);
	is(l, "b", I, "0", 2);
	is(l, "c", I, "42", 3);
	is(l, "d", I, "-17", 4);
	is(l, "e", I, "1000", 5);
	is(l, "f", I, "3735928559", 6);
	is(l, "g", I, "493", 7);
	is(l, "h", I, "10", 8);
	is(l, "i", I, "9223372036854775807", 9);
	is(l, "j", I, "-9223372036854775808", 10);
	is(l, "k", B, "true", 11);
	is(l, "l", B, "false", 12);
	unload(l);
}

Test(toml, dotted_keys_inline_tables_and_nesting)
{
	struct loaded	*l = ok(
	    "keystore.fs.path = \"/keys\"\n"
	    "keystore.fs.mode = 1\n"
	    "creds = { access_key = \"a\", sub.x = 'b', empty = {} }\n"
	    "list = [ [1, 2], [\"x\"], { n = 3 }, ]\n"
	    "[a.b.c]\n"
	    "[a]\n"
	    "z = 1\n"
	    "[a.b]\n"
	    "y = 2\n");

	is(l, "keystore.fs.path", S, "/keys", 1);
	is(l, "keystore.fs.mode", I, "1", 2);
	is(l, "creds.sub.x", S, "b", 3);
	cr_assert_eq(count(l, "creds.empty"), 0);
	is(l, "list.#0.#1", I, "2", 4);
	is(l, "list.#2.n", I, "3", 4);
	is(l, "a.z", I, "1", 7);
	is(l, "a.b.y", I, "2", 9);
	cr_assert_not_null(at(l, "a.b.c"));
	unload(l);
}

Test(toml, empty_and_comment_only_files)
{
	struct loaded	*l = ok("");

	cr_assert_eq(count(l, ""), 0);
	unload(l);
	l = ok("\xef\xbb\xbf# only a comment\n\n   \t\n# another");
	cr_assert_eq(count(l, ""), 0);
	unload(l);
}

/* Every malformed file: refused with its line and what was expected. */
Test(toml, malformed_catalogue)
{
	bad("a = \"x\"\na = \"y\"\n", 2, "'a' is defined twice (first at line 1)");
	bad("[t]\nk = 1\n[t]\n", 3, "the table 't' is opened twice (first at line 1)");
	bad("[a.b]\n[a]\n[a]\n", 3, "opened twice");
	bad("a = 1\n[a]\n", 2, "'a' was given a value at line 1");
	bad("a = 1\n[a.b]\n", 2, "'a' was given a value at line 1");
	bad("a.b = 1\n[a]\n", 2, "made by a dotted key at line 1");
	bad("[x]\ny = 1\n[x.y.z]\n", 3, "'y' was given a value");
	bad("t = { a = 1 }\n[t]\n", 2, "inline table (line 1)");
	bad("t = { a = 1 }\nt.b = 2\n", 2, "inline table (line 1)");
	bad("[t.u]\n[t]\nu.x = 1\n", 3, "dotted keys to extend only tables");
	bad("[[servers]]\n", 1, "array of tables");
	bad("a = 1.5\n", 1, "a float");
	bad("a = 1e3\n", 1, "a float");
	bad("a = inf\n", 1, "a float");
	bad("a = -nan\n", 1, "a float");
	bad("a = 1979-05-27\n", 1, "a date or time");
	bad("a = 07:32:00\n", 1, "leading zero");
	bad("a = 012\n", 1, "leading zero");
	bad("a = 1__0\n", 1, "'_' not between two digits");
	bad("a = _1\n", 1, "where a value starts");
	bad("a = 1_\n", 1, "ending in '_'");
	bad("a = 9223372036854775808\n", 1, "out of the 64-bit range");
	bad("a = -0x10\n", 1, "a sign before 0x");
	bad("a = 0xG1\n", 1, "'G' in a base-16 integer");
	bad("a = 0b102\n", 1, "'2' in a base-2 integer");
	bad("a = 12abc\n", 1, "'a' in a base-10 integer");
	bad("a = yes\n", 1, "a bare word needs quotes");
	bad("a = True\n", 1, "where a value starts");
	bad("a = truex\n", 1, "where a value starts");
	bad("a =\n", 1, "no value");
	bad("a = # nothing\n", 1, "no value");
	bad("a\n", 1, "expected '='");
	bad("a", 1, "the end of the file after the key 'a'");
	bad("= 1\n", 1, "where a key starts");
	bad("a b = 1\n", 1, "expected '='");
	bad("a = 1 b = 2\n", 1, "'b' after a value");
	bad("[t] x = 1\n", 1, "'x' after a table header");
	bad("[t\n", 1, "in a table header; expected '.' or ']'");
	bad("[]\n", 1, "where a key starts");
	bad("[a..b]\n", 1, "where a key starts");
	bad("\n\na = \"open\nb = 1\n", 3, "a string not closed; expected a closing \"");
	bad("a = 'open\n", 1, "closing ' on the same line");
	bad("\na = \"\"\"never\nclosed\n", 2, "expected closing \"\"\"");
	bad("a = '''x\n", 1, "expected closing '''");
	bad("a = \"\"\"x\"\"\"\"\"\"\n", 1, "6 quotes in a row");
	bad("a = \"bad \\q escape\"\n", 1, "the unknown escape '\\q'");
	bad("a = \"\\u12\"\n", 1, "expected 4 hex digits");
	bad("a = \"\\uZZZZ\"\n", 1, "non-hex digit");
	bad("a = \"\\uD800\"\n", 1, "not a Unicode scalar value");
	bad("a = \"\\U00110000\"\n", 1, "not a Unicode scalar value");
	bad("a = \"\\u0000\"\n", 1, "NUL");
	bad("\"\\u0000\" = 1\n", 1, "NUL");
	bad("\"\"\"k\"\"\" = 1\n", 1, "a multi-line string as a key");
	bad("a = [1, 2\n", 1, "an array not closed");
	bad("a = [1 2]\n", 1, "expected ',' or ']'");
	bad("a = [,]\n", 1, "where a value starts");
	bad("a = { b = 1, }\n", 1, "where a key starts");
	bad("a = { b = 1\n}\n", 1, "expected ',' or '}' on the same line");
	bad("a = { b = 1, b = 2 }\n", 1, "'b' is defined twice");
	bad("a = \"x\"\x01\n", 1, "the control character 0x01");
	bad("a = \"x\"\n\x7f", 2, "the control character 0x7f");
	bad("a = 1\r\nb = 2\rc = 3\n", 2, "a carriage return without a line feed");
	bad("a = \"\xff\"\n", 1, "the byte 0xff");
	bad("a = \"\xc3\"\n", 1, "a bad UTF-8 sequence");
	bad("a = \"\xc0\xaf\"\n", 1, "overlong");
	bad("a = \"\xed\xa0\x80\"\n", 1, "surrogate");
	bad("a = \"\xf4\x90\x80\x80\"\n", 1, "past U+10FFFF");
	bad("a = \"x\"\n\n\xe2\x82", 3, "a cut UTF-8 sequence");
}

/* A NUL byte in the text is a control character, not an end. */
Test(toml, nul_byte_in_text)
{
	struct loaded	*l = load("a = 1\nb = \"x\0y\"\n", 16);

	cr_assert(l->p.failed);
	cr_assert_not_null(strstr(l->err, "t.toml:2: toml: the control "
	    "character 0x00"), "%s", l->err);
	unload(l);
}

/* Depth is bounded everywhere a file can nest. */
Test(toml, nesting_is_bounded)
{
	char	*s;
	size_t	 i, n = 200;

	s = calloc(1, 4 * n + 16);
	cr_assert_not_null(s);
	strcpy(s, "a = ");
	for (i = 0; i < n; i++)
		strcat(s, "[");
	bad(s, 1, "nested more than 64 deep");
	strcpy(s, "a = ");
	for (i = 0; i < n; i++)
		strcat(s, "{b=");
	bad(s, 1, "nested more than 64 deep");
	strcpy(s, "[");
	for (i = 0; i < n; i++)
		strcat(s, "a.");
	strcat(s, "a]\n");
	bad(s, 1, "more than 64 parts");
	s[0] = '\0';
	for (i = 0; i < n; i++)
		strcat(s, "a.");
	strcat(s, "a = 1\n");
	bad(s, 1, "more than 64 parts");
	free(s);
}

/* Every prefix of a valid file either loads or names a line in it. */
Test(toml, every_truncation_is_an_error_or_a_document)
{
	const char	*f = "a = \"x\\u00e9\"\n[t.u]\nb = [1, 'y', { c = true }]\n"
			    "d = \"\"\"m\nn\"\"\"\n";
	struct loaded	*l;
	size_t		 i;

	for (i = 0; i <= strlen(f); i++) {
		l = load(f, i);
		if (l->p.failed)
			cr_assert_eq(strncmp(l->err, "t.toml:", 7), 0, "%zu: %s",
			    i, l->err);
		else
			cr_assert_not_null(yaml_document_get_root_node(&l->doc));
		unload(l);
	}
}
