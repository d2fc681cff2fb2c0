/*
 * Request bodies read the way KES reads them: Go's
 * json.NewDecoder(body).Decode(&request) into a struct (spec 1.4).
 *
 * The structure is walked here, by a scanner that follows Go's
 * encoding/json grammar byte for byte; jansson only unescapes the keys and
 * known fields' strings that hold an escape or a non-ASCII byte (the rest
 * are used as they stand). Parsing the whole body with jansson and looking
 * at the resulting object would differ from Go in ways a client can see:
 *   - jansson keeps one entry per exact key at the position of its first
 *     occurrence, so of "Ctx", "ctx", "Ctx" it hands back "Ctx" (the third
 *     value) first and "ctx" last; Go takes the last one in the document;
 *   - a known field given twice, first with the wrong type, is an error in
 *     Go; jansson would have dropped the first value;
 *   - unknown values Go accepts but jansson rejects: numbers beyond int64 or
 *     double range, "\u0000" in a nested key, invalid UTF-8 and lone
 *     surrogates, nesting deeper than 2048 (Go allows 10000);
 *   - a top-level null followed by letters ("nullx"): Go decodes the null
 *     and leaves the rest for a next Decode call; jansson's lexer reads the
 *     whole identifier and fails;
 *   - a raw NUL byte right after a number or literal ("[1\0,2]"): jansson's
 *     lexer takes the byte it read ahead for the end of its buffer and goes
 *     on; Go refuses it. (The strings we do give jansson cannot hold a raw
 *     NUL: the scanner refuses control characters in strings.)
 *
 * What Go does and we do too:
 *   - whitespace is SP, HT, CR, LF; an empty or all-whitespace body fails;
 *   - the first value is read completely (truncation fails), nothing after
 *     it is looked at;
 *   - a top-level null decodes to nothing; any other non-object fails (a
 *     type error in Go);
 *   - keys match field names exactly first, else case-insensitively (Go's
 *     foldName: ASCII case, plus U+212A KELVIN SIGN for k and U+017F LATIN
 *     SMALL LETTER LONG S for s, the only non-ASCII runes that fold into
 *     ASCII); keys are compared after unescaping;
 *   - every occurrence of a known key is decoded in document order, so the
 *     last one wins, and any one of them with the wrong type or bad base64
 *     fails the whole body (Go saves the first such error and returns it);
 *   - null sets a []byte field to nil but leaves a string field as it was;
 *   - a []byte field also takes an array of numbers 0..255 (Go decodes a
 *     JSON array into any slice); a null element leaves the byte that the
 *     slice's backing array already held there, as Go's reflect code does;
 *   - unknown keys take any value, validated for syntax only.
 *
 * Where we differ from Go, by choice:
 *   - a string field (BODY_STRING) whose value holds \u0000 fails: callers
 *     get C strings. Go keeps the NUL;
 *   - a string field holding invalid UTF-8 or a lone surrogate escape
 *     fails: jansson refuses it where Go substitutes U+FFFD. For a []byte
 *     field the outcome is the same either way (U+FFFD is not base64), and
 *     a key that jansson refuses can only be one Go would not match.
 *
 * Every decoded byte lives in memory that is wiped when freed: our copies
 * through free_wiped(), jansson's through the functions body_init()
 * installs.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/gojson.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "worker/body.h"

/* Go's encoding/json maxNestingDepth: objects and arrays, the outer one
 * included. */
#define DEPTH_MAX	10000

struct scan {
	const uint8_t	*p;
	size_t		 len;
	size_t		 off;
	unsigned int	 depth;
	/* One bit per open container: set for an object, clear for an array. */
	uint8_t		 isobj[DEPTH_MAX / 8 + 1];
};

/* A string token: the bytes between the quotes, still escaped. */
struct token {
	const uint8_t	*p;
	size_t		 len;
	bool		 plain;		/* no escapes, ASCII only: bytes as is */
};

/* A string's value: raw token bytes, or jansson's unescaped copy. */
struct strval {
	const uint8_t	*p;
	size_t		 len;
	json_t		*json;		/* holds the copy; NULL when plain */
};

/* Decoding state of one BODY_BYTES field beyond body_field: the length of
 * its backing store, whose bytes past len a later array may uncover. */
struct bytes_state {
	size_t		 cap;
};

void
body_init(void)
{
	gojson_init();
}

/* --- the scanner: Go's encoding/json grammar --- */

static bool
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(int c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The next byte, or -1 at the end. */
static int
peek(const struct scan *s)
{
	return s->off < s->len ? s->p[s->off] : -1;
}

static void
skip_space(struct scan *s)
{
	while (s->off < s->len && is_space(s->p[s->off]))
		s->off++;
}

static int
push(struct scan *s, bool obj)
{
	unsigned int	 d = s->depth;

	if (d >= DEPTH_MAX)
		return -1;
	if (obj)
		s->isobj[d / 8] |= (uint8_t)(1u << (d % 8));
	else
		s->isobj[d / 8] &= (uint8_t)~(1u << (d % 8));
	s->depth++;
	return 0;
}

static bool
in_object(const struct scan *s)
{
	unsigned int	 d = s->depth - 1;

	return (s->isobj[d / 8] >> (d % 8)) & 1;
}

/* A string at the opening quote: any byte >= 0x20 but '"' and '\\', or an
 * escape: \" \\ \/ \b \f \n \r \t \uXXXX. Invalid UTF-8 passes, as in Go. */
static int
scan_string(struct scan *s, struct token *t)
{
	size_t	 i;
	int	 c;
	bool	 plain = true;

	if (peek(s) != '"')
		return -1;
	s->off++;
	t->p = s->p + s->off;
	for (;;) {
		/* The run of plain bytes (most strings are one), then
		 * whatever ends it byte by byte. */
		while (s->off < s->len && s->p[s->off] >= 0x20 &&
		    s->p[s->off] < 0x80 && s->p[s->off] != '"' &&
		    s->p[s->off] != '\\')
			s->off++;
		if ((c = peek(s)) == -1)
			return -1;
		s->off++;
		if (c == '"')
			break;
		if (c < 0x20)
			return -1;
		if (c >= 0x80)
			plain = false;
		if (c != '\\')
			continue;
		plain = false;
		if ((c = peek(s)) == -1)
			return -1;
		s->off++;
		switch (c) {
		case '"': case '\\': case '/': case 'b': case 'f': case 'n':
		case 'r': case 't':
			break;
		case 'u':
			for (i = 0; i < 4; i++) {
				if (!is_hex(peek(s)))
					return -1;
				s->off++;
			}
			break;
		default:
			return -1;
		}
	}
	t->len = (size_t)(s->p + s->off - 1 - t->p);
	t->plain = plain;
	return 0;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?; what may follow is the
 * caller's business. */
static int
scan_number(struct scan *s, const uint8_t **start, size_t *len)
{
	*start = s->p + s->off;
	if (peek(s) == '-')
		s->off++;
	if (peek(s) == '0')
		s->off++;
	else if (is_digit(peek(s)))
		while (is_digit(peek(s)))
			s->off++;
	else
		return -1;
	if (peek(s) == '.') {
		s->off++;
		if (!is_digit(peek(s)))
			return -1;
		while (is_digit(peek(s)))
			s->off++;
	}
	if (peek(s) == 'e' || peek(s) == 'E') {
		s->off++;
		if (peek(s) == '+' || peek(s) == '-')
			s->off++;
		if (!is_digit(peek(s)))
			return -1;
		while (is_digit(peek(s)))
			s->off++;
	}
	*len = (size_t)(s->p + s->off - *start);
	return 0;
}

static int
scan_literal(struct scan *s, const char *lit)
{
	size_t	 n = strlen(lit);

	if (s->len - s->off < n || memcmp(s->p + s->off, lit, n) != 0)
		return -1;
	s->off += n;
	return 0;
}

/* At '{' or '[': open the container. 1 when it closes at once ("{}",
 * "[]"), 0 when a member or element follows, -1 past the depth limit. */
static int
open_container(struct scan *s, bool obj)
{
	s->off++;
	if (push(s, obj) == -1)
		return -1;
	skip_space(s);
	if (peek(s) != (obj ? '}' : ']'))
		return 0;
	s->off++;
	s->depth--;
	return 1;
}

/* Whitespace, a key, whitespace, ':'. */
static int
scan_key(struct scan *s, struct token *t)
{
	skip_space(s);
	if (scan_string(s, t) == -1)
		return -1;
	skip_space(s);
	if (peek(s) != ':')
		return -1;
	s->off++;
	return 0;
}

/*
 * Check one value's syntax and step over it. Iterative, so a deep body
 * costs a bit per level (s->isobj) and no stack frames.
 */
static int
skip_value(struct scan *s)
{
	struct token	 t;
	const uint8_t	*np;
	size_t		 nlen;
	unsigned int	 base = s->depth;
	int		 c, r;

	for (;;) {
		skip_space(s);
		switch ((c = peek(s))) {
		case '{':
		case '[':
			if ((r = open_container(s, c == '{')) == -1)
				return -1;
			if (r == 1)
				break;
			if (c == '{' && scan_key(s, &t) == -1)
				return -1;
			continue;
		case '"':
			if (scan_string(s, &t) == -1)
				return -1;
			break;
		case 't':
			if (scan_literal(s, "true") == -1)
				return -1;
			break;
		case 'f':
			if (scan_literal(s, "false") == -1)
				return -1;
			break;
		case 'n':
			if (scan_literal(s, "null") == -1)
				return -1;
			break;
		default:
			if (scan_number(s, &np, &nlen) == -1)
				return -1;
			break;
		}
		/* A value ended: close containers, or go on to the next
		 * element or member. */
		for (;;) {
			if (s->depth == base)
				return 0;
			skip_space(s);
			c = peek(s);
			if (c == ',') {
				s->off++;
				if (in_object(s) && scan_key(s, &t) == -1)
					return -1;
				break;
			}
			if (c != (in_object(s) ? '}' : ']'))
				return -1;
			s->off++;
			s->depth--;
		}
	}
}

/* --- values --- */

/*
 * The unescaped value of a string token: the token itself when plain, else
 * jansson's copy. -1 when jansson refuses it (invalid UTF-8, a lone
 * surrogate): Go would have put U+FFFD there.
 */
static int
unescape(const struct token *t, struct strval *v)
{
	memset(v, 0, sizeof(*v));
	if (t->plain) {
		v->p = t->p;
		v->len = t->len;
		return 0;
	}
	/* The token with its quotes: one complete JSON string. */
	v->json = json_loadb((const char *)t->p - 1, t->len + 2,
	    JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (v->json == NULL || !json_is_string(v->json)) {
		json_decref(v->json);
		v->json = NULL;
		return -1;
	}
	v->p = (const uint8_t *)json_string_value(v->json);
	v->len = json_string_length(v->json);
	return 0;
}

static void
strval_release(struct strval *v)
{
	json_decref(v->json);
	memset(v, 0, sizeof(*v));
}

static int
ascii_upper(int c)
{
	return c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c;
}

/* Go's foldName(name) == foldName(key) for an ASCII name. */
static bool
fold_equal(const char *name, const uint8_t *k, size_t klen)
{
	size_t	 i = 0;
	int	 f;

	for (; *name != '\0'; name++) {
		f = ascii_upper((unsigned char)*name);
		if (i < klen && k[i] < 0x80 && ascii_upper(k[i]) == f) {
			i++;
			continue;
		}
		/* U+212A KELVIN SIGN folds to K. */
		if (f == 'K' && klen - i >= 3 &&
		    memcmp(k + i, "\xe2\x84\xaa", 3) == 0) {
			i += 3;
			continue;
		}
		/* U+017F LATIN SMALL LETTER LONG S folds to S. */
		if (f == 'S' && klen - i >= 2 &&
		    memcmp(k + i, "\xc5\xbf", 2) == 0) {
			i += 2;
			continue;
		}
		return false;
	}
	return i == klen;
}

/* The field a key selects, or -1: an exact match first, then the first
 * case-insensitive one. */
static long
match_field(const struct body_field *fields, size_t n, const struct token *t)
{
	struct strval	 k;
	size_t		 i;
	long		 r = -1;

	if (unescape(t, &k) == -1)
		return -1;	/* Go's key holds U+FFFD: matches no name */
	for (i = 0; i < n && r == -1; i++)
		if (strlen(fields[i].name) == k.len &&
		    memcmp(fields[i].name, k.p, k.len) == 0)
			r = (long)i;
	for (i = 0; i < n && r == -1; i++)
		if (fold_equal(fields[i].name, k.p, k.len))
			r = (long)i;
	strval_release(&k);
	return r;
}

static void
field_clear_bytes(struct body_field *f, struct bytes_state *st)
{
	free_wiped(f->bytes);
	f->bytes = NULL;
	f->len = 0;
	st->cap = 0;
}

/* A base64 string into a []byte field: a fresh slice, as Go makes one. */
static int
decode_base64(struct body_field *f, struct bytes_state *st,
    const struct token *t)
{
	struct strval	 v;
	uint8_t		*out;
	size_t		 max, outlen = 0;

	if (unescape(t, &v) == -1)
		return -1;
	max = b64_decoded_max(v.len);
	out = xmalloc(max ? max : 1);
	if ((f->public ? b64_decode_public : b64_decode)((const char *)v.p,
	    v.len, out, &outlen) == -1 ||
	    outlen > max) {
		strval_release(&v);
		free_wiped(out);
		return -1;
	}
	strval_release(&v);
	field_clear_bytes(f, st);
	if (outlen == 0)
		free_wiped(out);
	else {
		f->bytes = out;
		f->len = outlen;
		st->cap = max;	/* zero beyond outlen, as Go's make() */
		explicit_bzero(out + outlen, max - outlen);
	}
	f->present = true;
	return 0;
}

/* Make the backing store of f at least need bytes long, new bytes zero. */
static void
bytes_grow(struct body_field *f, struct bytes_state *st, size_t need)
{
	uint8_t	*p;
	size_t	 cap;

	if (need <= st->cap)
		return;
	cap = st->cap < 16 ? 16 : st->cap;
	while (cap < need)
		cap *= 2;
	p = xcalloc(1, cap);
	if (f->bytes != NULL)
		memcpy(p, f->bytes, st->cap);
	free_wiped(f->bytes);
	f->bytes = p;
	st->cap = cap;
}

/*
 * An array into a []byte field, Go's decodeState.array on a slice: element
 * i goes into the existing backing store (grown as needed), a number must
 * parse as an unsigned integer below 256 (no sign, fraction or exponent),
 * null leaves the byte already there, any other value is a type error;
 * the length becomes the element count, and [] gives a fresh empty slice.
 */
static int
decode_array(struct scan *s, struct body_field *f, struct bytes_state *st)
{
	const uint8_t	*np;
	size_t		 nlen, i, k;
	unsigned int	 v;
	int		 c, r;

	if ((r = open_container(s, false)) == -1)
		return -1;
	if (r == 1) {
		field_clear_bytes(f, st);
		f->present = true;
		return 0;
	}
	for (i = 0;; i++) {
		skip_space(s);
		c = peek(s);
		bytes_grow(f, st, i + 1);
		if (c == 'n') {
			if (scan_literal(s, "null") == -1)
				return -1;
		} else if (c == '-' || is_digit(c)) {
			if (scan_number(s, &np, &nlen) == -1)
				return -1;
			for (v = 0, k = 0; k < nlen; k++) {
				if (!is_digit(np[k]))
					return -1;
				v = v * 10 + (unsigned int)(np[k] - '0');
				if (v > 255)
					return -1;
			}
			f->bytes[i] = (uint8_t)v;
		} else
			return -1;	/* string, bool, array, object */
		skip_space(s);
		if ((c = peek(s)) == ']')
			break;
		if (c != ',')
			return -1;
		s->off++;
	}
	s->off++;
	s->depth--;
	f->len = i + 1;
	f->present = true;
	return 0;
}

static int
decode_string(struct body_field *f, const struct token *t)
{
	struct strval	 v;

	if (unescape(t, &v) == -1)
		return -1;
	if (memchr(v.p, '\0', v.len) != NULL) {
		strval_release(&v);
		return -1;
	}
	free_wiped(f->str);
	f->str = xmalloc(v.len + 1);
	memcpy(f->str, v.p, v.len);
	f->str[v.len] = '\0';
	f->len = v.len;
	f->present = true;
	strval_release(&v);
	return 0;
}

/* The value of a known key, at its first byte. */
static int
decode_field(struct scan *s, struct body_field *f, struct bytes_state *st)
{
	struct token	 t;

	switch (peek(s)) {
	case 'n':
		if (scan_literal(s, "null") == -1)
			return -1;
		/* Go: nil for a slice, no effect on a string. */
		if (f->kind == BODY_BYTES) {
			field_clear_bytes(f, st);
			f->present = false;
		}
		return 0;
	case '"':
		if (scan_string(s, &t) == -1)
			return -1;
		if (f->kind == BODY_BYTES)
			return decode_base64(f, st, &t);
		return decode_string(f, &t);
	case '[':
		if (f->kind == BODY_BYTES)
			return decode_array(s, f, st);
		return -1;
	default:
		/* A number, bool or object: a type error in Go. Its syntax
		 * does not matter, the body fails either way. */
		return -1;
	}
}

/* The first value, an object, into fields. */
static int
decode_object(struct scan *s, struct body_field *fields, size_t n,
    struct bytes_state *st)
{
	struct token	 t;
	long		 i;
	int		 c, r;

	if ((r = open_container(s, true)) != 0)
		return r == 1 ? 0 : -1;
	for (;;) {
		if (scan_key(s, &t) == -1)
			return -1;
		skip_space(s);
		if ((i = match_field(fields, n, &t)) == -1) {
			if (skip_value(s) == -1)
				return -1;
		} else if (decode_field(s, &fields[i], &st[i]) == -1)
			return -1;
		skip_space(s);
		if ((c = peek(s)) == '}')
			return 0;	/* the rest of the body is not read */
		if (c != ',')
			return -1;
		s->off++;
	}
}

int
body_decode(const uint8_t *body, size_t len, struct body_field *fields,
    size_t n)
{
	struct scan		*s;
	struct bytes_state	*st;
	size_t			 i;
	int			 r = -1;

	for (i = 0; i < n; i++) {
		fields[i].present = false;
		fields[i].bytes = NULL;
		fields[i].len = 0;
		fields[i].str = NULL;
	}
	s = xcalloc(1, sizeof(*s));
	st = xcalloc(n ? n : 1, sizeof(*st));
	s->p = body;
	s->len = body == NULL ? 0 : len;
	skip_space(s);
	switch (peek(s)) {
	case '{':
		r = decode_object(s, fields, n, st);
		break;
	case 'n':
		/* null into a struct: nothing happens. Go ends the literal
		 * at its fourth byte, so "nullx" is null too. */
		r = scan_literal(s, "null");
		break;
	default:
		/* Empty (EOF), or an array, string, number or bool: a syntax
		 * or type error in Go either way. */
		break;
	}
	/* The stale bytes an array left beyond a shorter later one. */
	for (i = 0; r == 0 && i < n; i++)
		if (fields[i].bytes != NULL && st[i].cap > fields[i].len)
			explicit_bzero(fields[i].bytes + fields[i].len,
			    st[i].cap - fields[i].len);
	free(s);
	free(st);
	if (r == -1)
		body_release(fields, n);
	return r;
}

void
body_release(struct body_field *fields, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		free_wiped(fields[i].bytes);
		free_wiped(fields[i].str);
		fields[i].bytes = NULL;
		fields[i].str = NULL;
		fields[i].len = 0;
		fields[i].present = false;
	}
}
