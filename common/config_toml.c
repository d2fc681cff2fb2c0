/*
 * A strict reader for the TOML of KES's first releases (v0.1.0 – v0.7.2),
 * building the libyaml document the config walker reads. It covers what
 * those files used and TOML 1.0 allows around it: comments, [table]
 * headers with bare, quoted and dotted keys, key = value with dotted keys,
 * basic and literal strings (single- and multi-line), integers (decimal,
 * 0x, 0o, 0b, with '_'), booleans, arrays spanning lines with a trailing
 * comma, and inline tables. Anything else is an error naming its line.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_toml.h"
#include "common/xmalloc.h"

/* How a mapping came to be; a table may be opened by a header once. */
#define T_IMPLICIT	0	/* a parent of a header or a dotted key */
#define T_HEADER	1	/* opened by its own [header] */
#define T_DOTTED	2	/* made by a dotted key: no header may open it */
#define T_BUILDING	3	/* { ... } being read */
#define T_INLINE	4	/* { ... } read: closed for good */

struct tinfo {
	unsigned char	 how;
	size_t		 line;
};

struct toml {
	struct cfg_parser	*p;
	yaml_document_t		*doc;
	const char		*s;	/* cursor */
	const char		*end;
	size_t			 line;
	int			 root;
	int			 cur;	/* the table keys go into */
	struct tinfo		*info;	/* by node id */
	size_t			 ninfo;
	char			*buf;	/* decoded string, wiped */
	size_t			 blen;
	size_t			 bcap;
	size_t			 depth;
};

static int
terr(struct toml *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
terr(struct toml *t, const char *fmt, ...)
{
	char	 msg[CONFIG_ERRLEN];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return cfg_error(t->p, t->line, "toml", "%s", msg);
}

static yaml_node_t *
node(struct toml *t, int id)
{
	return yaml_document_get_node(t->doc, id);
}

static struct tinfo *
info(struct toml *t, int id)
{
	size_t	 n;

	if ((size_t)id >= t->ninfo) {
		n = (size_t)id + 16;
		t->info = xreallocarray(t->info, n, sizeof(*t->info));
		memset(t->info + t->ninfo, 0, (n - t->ninfo) *
		    sizeof(*t->info));
		t->ninfo = n;
	}
	return &t->info[id];
}

static int
mark(struct toml *t, int id, size_t line)
{
	yaml_node_t	*n;

	if (id == 0)
		return terr(t, "out of memory; expected a smaller file");
	n = node(t, id);
	n->start_mark.line = line - 1;
	n->end_mark.line = line - 1;
	return id;
}

static int
new_map(struct toml *t, unsigned char how, size_t line)
{
	int	 id;

	id = yaml_document_add_mapping(t->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
	if (mark(t, id, line) == -1)
		return -1;
	info(t, id)->how = how;
	info(t, id)->line = line;
	return id;
}

static int
new_scalar(struct toml *t, const char *tag, const char *v, size_t len,
    yaml_scalar_style_t style, size_t line)
{
	if (len > INT_MAX)
		return terr(t, "a value of %zu bytes; expected a shorter one",
		    len);
	return mark(t, yaml_document_add_scalar(t->doc,
	    (const yaml_char_t *)tag, (const yaml_char_t *)v, (int)len,
	    style), line);
}

/* The value under key in mapping m, or 0; *kline gets the key's line. */
static int
lookup(struct toml *t, int m, const char *key, size_t klen, size_t *kline)
{
	yaml_node_t		*n = node(t, m), *k;
	yaml_node_pair_t	*pr;

	for (pr = n->data.mapping.pairs.start;
	    pr < n->data.mapping.pairs.top; pr++) {
		k = node(t, pr->key);
		if (k->data.scalar.length == klen &&
		    memcmp(k->data.scalar.value, key, klen) == 0) {
			if (kline != NULL)
				*kline = k->start_mark.line + 1;
			return pr->value;
		}
	}
	return 0;
}

static bool	is_bare(char);

static int
add_pair(struct toml *t, int m, const char *key, size_t klen, size_t line,
    int val)
{
	int	 k;

	size_t	 i;
	bool	 bare = klen > 0;

	/* Bare keys stay plain, so that --print-config writes them so. */
	for (i = 0; i < klen && bare; i++)
		bare = is_bare(key[i]);
	if ((k = new_scalar(t, YAML_STR_TAG, key, klen, bare ?
	    YAML_PLAIN_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE,
	    line)) == -1)
		return -1;
	if (!yaml_document_append_mapping_pair(t->doc, m, k, val))
		return terr(t, "out of memory; expected a smaller file");
	return 0;
}

/* Lexing. */

static bool
at_end(const struct toml *t)
{
	return t->s >= t->end;
}

static bool
is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '-';
}

static void
skip_ws(struct toml *t)
{
	while (!at_end(t) && (*t->s == ' ' || *t->s == '\t'))
		t->s++;
}

static void
skip_comment(struct toml *t)
{
	if (!at_end(t) && *t->s == '#')
		while (!at_end(t) && *t->s != '\n')
			t->s++;
}

/* At a line end: consume it. The text was checked: '\r' precedes '\n'. */
static bool
eat_newline(struct toml *t)
{
	if (at_end(t))
		return false;
	if (*t->s == '\r')
		t->s++;
	if (!at_end(t) && *t->s == '\n') {
		t->s++;
		t->line++;
		return true;
	}
	return false;
}

/* Whitespace, comments and new lines, as inside an array. */
static void
skip_blank(struct toml *t)
{
	for (;;) {
		skip_ws(t);
		skip_comment(t);
		if (!eat_newline(t))
			return;
	}
}

/* Whitespace and new lines, after a line-ending backslash in a string. */
static void
skip_ws_nl(struct toml *t)
{
	do
		skip_ws(t);
	while (eat_newline(t));
}

/* Whatever may follow a value on its line, then the line's end. */
static int
end_of_line(struct toml *t, const char *after)
{
	skip_ws(t);
	skip_comment(t);
	if (at_end(t) || eat_newline(t))
		return 0;
	return terr(t, "'%c' after %s; expected a new line or a # comment",
	    *t->s, after);
}

/*
 * The whole text, once: UTF-8 (no overlongs, surrogates or code points
 * past U+10FFFF), no control character but tab and CR LF.
 */
static int
check_text(struct toml *t)
{
	const unsigned char	*s = (const unsigned char *)t->s;
	const unsigned char	*e = (const unsigned char *)t->end;
	uint32_t		 cp;
	size_t			 n, i;

	while (s < e) {
		if (*s == '\n') {
			t->line++;
			s++;
			continue;
		}
		if (*s == '\r') {
			if (s + 1 == e || s[1] != '\n')
				return terr(t, "a carriage return without a "
				    "line feed; expected CR LF or LF line ends");
			s++;
			continue;
		}
		if (*s == '\t' || (*s >= 0x20 && *s < 0x7f)) {
			s++;
			continue;
		}
		if (*s < 0x80)
			return terr(t, "the control character 0x%02x; "
			    "expected text (escape it inside a string)", *s);
		if ((*s & 0xe0) == 0xc0) {
			n = 1;
			cp = *s & 0x1f;
		} else if ((*s & 0xf0) == 0xe0) {
			n = 2;
			cp = *s & 0x0f;
		} else if ((*s & 0xf8) == 0xf0) {
			n = 3;
			cp = *s & 0x07;
		} else
			return terr(t, "the byte 0x%02x; expected UTF-8 text",
			    *s);
		if ((size_t)(e - s) <= n)
			return terr(t, "a cut UTF-8 sequence; expected UTF-8 "
			    "text");
		for (i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return terr(t, "a bad UTF-8 sequence; expected "
				    "UTF-8 text");
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) ||
		    (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return terr(t, "an invalid UTF-8 sequence (overlong, "
			    "surrogate or past U+10FFFF); expected UTF-8 text");
		s += n + 1;
	}
	t->line = 1;
	return 0;
}

/* The string buffer: grown by copy so that no unwiped copy is left. */
static void
buf_add(struct toml *t, const char *p, size_t n)
{
	char	*nb;
	size_t	 ncap;

	if (n == 0)
		return;
	if (t->blen + n > t->bcap) {
		ncap = t->bcap ? t->bcap : 256;
		while (ncap < t->blen + n)
			ncap *= 2;
		nb = xmalloc(ncap);
		if (t->blen > 0)
			memcpy(nb, t->buf, t->blen);
		freezero(t->buf, t->bcap);
		t->buf = nb;
		t->bcap = ncap;
	}
	memcpy(t->buf + t->blen, p, n);
	t->blen += n;
}

static void
buf_clear(struct toml *t)
{
	if (t->buf != NULL)
		explicit_bzero(t->buf, t->blen);
	t->blen = 0;
}

static void
buf_utf8(struct toml *t, uint32_t cp)
{
	char	 u[4];
	size_t	 n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	buf_add(t, u, n);
}

static int
escape(struct toml *t)
{
	uint32_t	 cp = 0;
	size_t		 n, i;
	char		 c;

	if (at_end(t))
		return terr(t, "a '\\' at the end; expected an escape");
	c = *t->s++;
	switch (c) {
	case 'b': buf_add(t, "\b", 1); return 0;
	case 't': buf_add(t, "\t", 1); return 0;
	case 'n': buf_add(t, "\n", 1); return 0;
	case 'f': buf_add(t, "\f", 1); return 0;
	case 'r': buf_add(t, "\r", 1); return 0;
	case '"': buf_add(t, "\"", 1); return 0;
	case '\\': buf_add(t, "\\", 1); return 0;
	case 'u': n = 4; break;
	case 'U': n = 8; break;
	default:
		if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f)
			return terr(t, "an unknown escape; expected one of "
			    "\\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX");
		return terr(t, "the unknown escape '\\%c'; expected one of "
		    "\\b \\t \\n \\f \\r \\\" \\\\ \\uXXXX \\UXXXXXXXX", c);
	}
	if ((size_t)(t->end - t->s) < n)
		return terr(t, "a cut \\%c escape; expected %zu hex digits",
		    c, n);
	for (i = 0; i < n; i++) {
		c = t->s[i];
		cp <<= 4;
		if (c >= '0' && c <= '9')
			cp |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			cp |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			cp |= (uint32_t)(c - 'A' + 10);
		else
			return terr(t, "a \\u escape with a non-hex digit; "
			    "expected %zu hex digits", n);
	}
	t->s += n;
	if (cp == 0)
		return terr(t, "the escape of NUL; expected text without NUL");
	if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return terr(t, "the escape of U+%04X, which is not a Unicode "
		    "scalar value; expected a code point outside the "
		    "surrogates and up to U+10FFFF", (unsigned int)cp);
	buf_utf8(t, cp);
	return 0;
}

/*
 * A string at the cursor (on its opening quote) into t->buf. Basic
 * strings take escapes, literal ones none; the triple-quoted forms span
 * lines, drop a new line right after the opening quotes, and (basic only)
 * join lines ending in a backslash.
 */
static int
string(struct toml *t)
{
	const char	 q = *t->s;
	const bool	 basic = q == '"';
	bool		 multi = false;
	size_t		 n, line = t->line;
	const char	*p;

	buf_clear(t);
	if (t->end - t->s >= 3 && t->s[1] == q && t->s[2] == q) {
		multi = true;
		t->s += 3;
		(void)eat_newline(t);
	} else
		t->s++;
	for (;;) {
		if (at_end(t) || (!multi && (*t->s == '\n' || *t->s == '\r')))
			return cfg_error(t->p, line, "toml", "a string not "
			    "closed; expected %s%s", multi ? "closing " : "a ",
			    multi ? (basic ? "\"\"\"" : "'''") :
			    (basic ? "closing \" on the same line" :
			    "closing ' on the same line"));
		if (*t->s == q) {
			if (!multi) {
				t->s++;
				return 0;
			}
			for (n = 0; t->s + n < t->end && t->s[n] == q; n++)
				;
			if (n >= 3) {
				/* Up to two quotes may end the content. */
				if (n > 5)
					return terr(t, "%zu quotes in a row; "
					    "expected at most five", n);
				buf_add(t, t->s, n - 3);
				t->s += n;
				return 0;
			}
			buf_add(t, t->s, n);
			t->s += n;
			continue;
		}
		if (basic && *t->s == '\\') {
			t->s++;
			if (multi) {
				/* A line-ending backslash joins lines. */
				p = t->s;
				while (p < t->end && (*p == ' ' || *p == '\t'))
					p++;
				if (p < t->end && (*p == '\n' || *p == '\r')) {
					t->s = p;
					skip_ws_nl(t);
					continue;
				}
			}
			if (escape(t) == -1)
				return -1;
			continue;
		}
		if (*t->s == '\r' || *t->s == '\n') {
			(void)eat_newline(t);
			buf_add(t, "\n", 1);
			continue;
		}
		buf_add(t, t->s, 1);
		t->s++;
	}
}

/*
 * One key segment: bare, "basic" or 'literal'. Quoted keys go through
 * t->buf; *key points at the text, valid until the next string.
 */
static int
key_segment(struct toml *t, const char **key, size_t *klen)
{
	const char	*b = t->s;

	if (at_end(t))
		return terr(t, "the end of the file; expected a key");
	if (*t->s == '"' || *t->s == '\'') {
		if (t->end - t->s >= 3 && t->s[1] == *t->s &&
		    t->s[2] == *t->s)
			return terr(t, "a multi-line string as a key; "
			    "expected a bare or quoted key");
		if (string(t) == -1)
			return -1;
		*key = t->buf;
		*klen = t->blen;
		return 0;
	}
	while (!at_end(t) && is_bare(*t->s))
		t->s++;
	if (t->s == b)
		return terr(t, "'%c' where a key starts; expected a key of "
		    "letters, digits, '_' and '-', or a quoted one", *t->s);
	*key = b;
	*klen = (size_t)(t->s - b);
	return 0;
}

/*
 * The table that the key segment names under m, made if absent (`how`
 * says by what); 0 after an error. A header may pass through tables made
 * by headers or implicitly; a dotted key only through tables that dotted
 * keys of the same kind made; nothing through a closed inline table.
 */
static int
descend(struct toml *t, int m, const char *key, unsigned char how,
    bool header)
{
	char		 q[CFG_QUOTELEN];
	struct tinfo	*i;
	size_t		 kline = 0;
	int		 v;

	if ((v = lookup(t, m, key, strlen(key), &kline)) == 0) {
		if ((v = new_map(t, how, t->line)) == -1 ||
		    add_pair(t, m, key, strlen(key), t->line, v) == -1)
			return 0;
		return v;
	}
	if (node(t, v)->type != YAML_MAPPING_NODE) {
		(void)terr(t, "'%s' was given a value at line %zu; expected "
		    "a key that is not yet a value",
		    cfg_quote(key, q, sizeof(q)), kline);
		return 0;
	}
	i = info(t, v);
	if (i->how == T_INLINE) {
		(void)terr(t, "'%s' is an inline table (line %zu), closed "
		    "for additions; expected a new table",
		    cfg_quote(key, q, sizeof(q)), i->line);
		return 0;
	}
	if (header && i->how == T_DOTTED) {
		(void)terr(t, "'%s' was made by a dotted key at line %zu; "
		    "expected a table header before any dotted key makes it",
		    cfg_quote(key, q, sizeof(q)), i->line);
		return 0;
	}
	if (!header && i->how != how) {
		(void)terr(t, "'%s' is a table opened at line %zu; expected "
		    "dotted keys to extend only tables they made",
		    cfg_quote(key, q, sizeof(q)), i->line);
		return 0;
	}
	return v;
}

/* An inline table and every table inside it: read, closed. */
static void
close_inline(struct toml *t, int m)
{
	yaml_node_pair_t	*pr;
	yaml_node_t		*n;

	info(t, m)->how = T_INLINE;
	n = node(t, m);
	for (pr = n->data.mapping.pairs.start;
	    pr < n->data.mapping.pairs.top; pr++)
		if (node(t, pr->value)->type == YAML_MAPPING_NODE &&
		    info(t, pr->value)->how == T_BUILDING)
			close_inline(t, pr->value);
}

/* One key, dotted or not, copied out of the text (quoted keys decoded). */
static int
dotted_key(struct toml *t, char **k, size_t *klen)
{
	const char	*key = NULL;

	*k = NULL;
	if (key_segment(t, &key, klen) == -1)
		return -1;
	*k = xmalloc(*klen + 1);
	if (*klen > 0)
		memcpy(*k, key, *klen);
	(*k)[*klen] = '\0';
	buf_clear(t);
	return 0;
}

static int	value(struct toml *, int *);

/*
 * key = value into table m, with dotted keys making tables on the way
 * (how: T_DOTTED, or T_BUILDING inside an inline table).
 */
static int
keyval(struct toml *t, int m, unsigned char how)
{
	char		 q[CFG_QUOTELEN];
	char		*k = NULL;
	size_t		 klen = 0, kline, line = t->line, depth = 0;
	int		 v, rc = -1;

	for (;;) {
		if (dotted_key(t, &k, &klen) == -1)
			return -1;
		skip_ws(t);
		if (at_end(t) || *t->s != '.')
			break;
		t->s++;
		skip_ws(t);
		if (++depth == CFG_MAXDEPTH) {
			(void)terr(t, "a key of more than %d parts; expected "
			    "a shorter one", CFG_MAXDEPTH);
			goto out;
		}
		if ((m = descend(t, m, k, how, false)) == 0)
			goto out;
		freezero(k, klen + 1);
		k = NULL;
	}
	if (lookup(t, m, k, klen, &kline) != 0) {
		(void)terr(t, "'%s' is defined twice (first at line %zu); "
		    "expected each key once per table",
		    cfg_quote(k, q, sizeof(q)), kline);
		goto out;
	}
	if (at_end(t) || *t->s != '=') {
		(void)terr(t, "%s after the key '%s'; expected '='",
		    at_end(t) ? "the end of the file" : "no '='",
		    cfg_quote(k, q, sizeof(q)));
		goto out;
	}
	t->s++;
	skip_ws(t);
	if (value(t, &v) == -1)
		goto out;
	rc = add_pair(t, m, k, klen, line, v);
 out:
	if (k != NULL)
		freezero(k, klen + 1);
	return rc;
}

static bool
delimits(const struct toml *t)
{
	return at_end(t) || *t->s == ' ' || *t->s == '\t' || *t->s == ',' ||
	    *t->s == ']' || *t->s == '}' || *t->s == '#' || *t->s == '\n' ||
	    *t->s == '\r';
}

/*
 * An integer: [+-] decimal without leading zeros, or 0x / 0o / 0b
 * unsigned; '_' only between digits. Stored as its decimal text.
 */
static int
integer(struct toml *t, int *out)
{
	const char	*b = t->s;
	char		 dec[24];
	uint64_t	 v = 0, lim;
	unsigned int	 base = 10, d;
	bool		 neg = false, digit = false, under = false;

	if (*t->s == '+' || *t->s == '-')
		neg = *t->s++ == '-';
	if (t->end - t->s >= 2 && t->s[0] == '0' &&
	    (t->s[1] == 'x' || t->s[1] == 'o' || t->s[1] == 'b')) {
		if (t->s != b)
			return terr(t, "a sign before 0%c; expected an "
			    "unsigned hex, octal or binary integer", t->s[1]);
		base = t->s[1] == 'x' ? 16 : t->s[1] == 'o' ? 8 : 2;
		t->s += 2;
	} else if (t->end - t->s >= 2 && t->s[0] == '0' &&
	    t->s[1] >= '0' && t->s[1] <= '9')
		return terr(t, "an integer with a leading zero; expected "
		    "decimal digits without one");
	lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; !at_end(t) && !delimits(t); t->s++) {
		if (*t->s == '_') {
			if (!digit || under)
				return terr(t, "a '_' not between two digits; "
				    "expected digits with single '_' between");
			under = true;
			continue;
		}
		if (*t->s >= '0' && *t->s <= '9')
			d = (unsigned int)(*t->s - '0');
		else if (*t->s >= 'a' && *t->s <= 'f')
			d = (unsigned int)(*t->s - 'a' + 10);
		else if (*t->s >= 'A' && *t->s <= 'F')
			d = (unsigned int)(*t->s - 'A' + 10);
		else
			d = 99;
		if (d >= base) {
			if (base == 10 && (*t->s == '.' || *t->s == 'e' ||
			    *t->s == 'E'))
				return terr(t, "a float; no setting takes one, "
				    "expected an integer, a \"string\" or "
				    "true/false");
			if (base == 10 && (*t->s == '-' || *t->s == ':'))
				return terr(t, "a date or time; no setting "
				    "takes one, expected a \"string\"");
			return terr(t, "'%c' in a base-%u integer; expected "
			    "a digit", *t->s, base);
		}
		if (v > (lim - d) / base)
			return terr(t, "an integer out of the 64-bit range; "
			    "expected a smaller one");
		v = v * base + d;
		digit = true;
		under = false;
	}
	if (!digit || under)
		return terr(t, "an integer without digits or ending in '_'; "
		    "expected digits");
	if (neg && v != 0)
		(void)snprintf(dec, sizeof(dec), "-%llu",
		    (unsigned long long)v);
	else
		(void)snprintf(dec, sizeof(dec), "%llu", (unsigned long long)v);
	return (*out = new_scalar(t, YAML_INT_TAG, dec, strlen(dec),
	    YAML_PLAIN_SCALAR_STYLE, t->line)) == -1 ? -1 : 0;
}

static int
word(struct toml *t, const char *w)
{
	size_t	 n = strlen(w);

	if ((size_t)(t->end - t->s) < n || memcmp(t->s, w, n) != 0)
		return -1;
	t->s += n;
	if (!delimits(t)) {
		t->s -= n;
		return -1;
	}
	return 0;
}

static int
array(struct toml *t, int *out)
{
	size_t	 line = t->line;
	int	 seq, v;

	t->s++;
	seq = yaml_document_add_sequence(t->doc, NULL,
	    YAML_FLOW_SEQUENCE_STYLE);
	if ((*out = mark(t, seq, line)) == -1)
		return -1;
	for (;;) {
		skip_blank(t);
		if (at_end(t))
			return cfg_error(t->p, line, "toml", "an array not "
			    "closed; expected ']'");
		if (*t->s == ']') {
			t->s++;
			return 0;
		}
		if (value(t, &v) == -1)
			return -1;
		if (!yaml_document_append_sequence_item(t->doc, seq, v))
			return terr(t, "out of memory; expected a smaller "
			    "file");
		skip_blank(t);
		if (at_end(t))
			continue;	/* not closed, reported above */
		if (*t->s == ',') {
			t->s++;
			continue;
		}
		if (*t->s == ']')
			continue;
		return terr(t, "'%c' in an array; expected ',' or ']'", *t->s);
	}
}

/* { k = v, ... } on one line, no trailing comma; closed afterwards. */
static int
inline_table(struct toml *t, int *out)
{
	size_t	 line = t->line;
	int	 m;

	t->s++;
	if ((m = new_map(t, T_BUILDING, line)) == -1)
		return -1;
	*out = m;
	skip_ws(t);
	if (!at_end(t) && *t->s == '}') {
		t->s++;
		close_inline(t, m);
		return 0;
	}
	for (;;) {
		skip_ws(t);
		if (keyval(t, m, T_BUILDING) == -1)
			return -1;
		skip_ws(t);
		if (!at_end(t) && *t->s == '}') {
			t->s++;
			close_inline(t, m);
			return 0;
		}
		if (at_end(t) || *t->s != ',')
			return terr(t, "%s in an inline table; expected ',' "
			    "or '}' on the same line", at_end(t) ?
			    "the end of the file" : *t->s == '\n' ||
			    *t->s == '\r' ? "a new line" : "something else");
		t->s++;
	}
}

static int
value(struct toml *t, int *out)
{
	size_t	 line = t->line;
	int	 rc;

	if (at_end(t) || *t->s == '\n' || *t->s == '\r' || *t->s == '#')
		return terr(t, "no value; expected a \"string\", an integer, "
		    "true/false or an [array]");
	if (t->depth == CFG_MAXDEPTH)
		return terr(t, "values nested more than %d deep; expected a "
		    "flatter file", CFG_MAXDEPTH);
	t->depth++;
	switch (*t->s) {
	case '"':
	case '\'':
		rc = string(t);
		if (rc == 0)
			rc = (*out = new_scalar(t, YAML_STR_TAG,
			    t->blen > 0 ? t->buf : "", t->blen,
			    YAML_DOUBLE_QUOTED_SCALAR_STYLE, line)) == -1 ?
			    -1 : 0;
		buf_clear(t);
		break;
	case '[':
		rc = array(t, out);
		break;
	case '{':
		rc = inline_table(t, out);
		break;
	case 't':
	case 'f':
		if (word(t, "true") == 0) {
			rc = (*out = new_scalar(t, YAML_BOOL_TAG, "true", 4,
			    YAML_PLAIN_SCALAR_STYLE, line)) == -1 ? -1 : 0;
			break;
		}
		if (word(t, "false") == 0) {
			rc = (*out = new_scalar(t, YAML_BOOL_TAG, "false", 5,
			    YAML_PLAIN_SCALAR_STYLE, line)) == -1 ? -1 : 0;
			break;
		}
		/* FALLTHROUGH */
	default:
		if ((*t->s >= '0' && *t->s <= '9') || *t->s == '+' ||
		    *t->s == '-') {
			if (word(t, "+inf") == 0 || word(t, "-inf") == 0 ||
			    word(t, "+nan") == 0 || word(t, "-nan") == 0)
				rc = terr(t, "a float; no setting takes one, "
				    "expected an integer");
			else
				rc = integer(t, out);
			break;
		}
		if (word(t, "inf") == 0 || word(t, "nan") == 0)
			rc = terr(t, "a float; no setting takes one, expected "
			    "an integer");
		else
			rc = terr(t, "'%c' where a value starts; expected a "
			    "\"string\", an integer, true/false or an "
			    "[array] (a bare word needs quotes)", *t->s);
	}
	t->depth--;
	return rc;
}

/* [a.b."c"]: opens the table, making its parents on the way. */
static int
header(struct toml *t)
{
	char		 q[CFG_QUOTELEN];
	char		*k = NULL;
	size_t		 klen = 0, depth = 0;
	int		 m = t->root, v, rc = -1;
	struct tinfo	*i;

	t->s++;
	if (!at_end(t) && *t->s == '[')
		return terr(t, "an array of tables ([[...]]); no KES setting "
		    "is one, expected a [table] header");
	for (;;) {
		skip_ws(t);
		if (dotted_key(t, &k, &klen) == -1)
			goto out;
		skip_ws(t);
		if (at_end(t) || (*t->s != '.' && *t->s != ']')) {
			(void)terr(t, "%s in a table header; expected '.' or "
			    "']'", at_end(t) ? "the end of the file" :
			    "something else");
			goto out;
		}
		if (*t->s++ == ']')
			break;
		if (++depth == CFG_MAXDEPTH) {
			(void)terr(t, "a table header of more than %d parts; "
			    "expected a shorter one", CFG_MAXDEPTH);
			goto out;
		}
		if ((m = descend(t, m, k, T_IMPLICIT, true)) == 0)
			goto out;
		freezero(k, klen + 1);
		k = NULL;
	}
	if ((v = lookup(t, m, k, klen, NULL)) != 0 &&
	    node(t, v)->type == YAML_MAPPING_NODE &&
	    info(t, v)->how == T_HEADER) {
		(void)terr(t, "the table '%s' is opened twice (first at line "
		    "%zu); expected each table once",
		    cfg_quote(k, q, sizeof(q)), info(t, v)->line);
		goto out;
	}
	if ((m = descend(t, m, k, T_HEADER, true)) == 0)
		goto out;
	/* A table made implicitly is opened now, and named by this line. */
	i = info(t, m);
	i->how = T_HEADER;
	i->line = t->line;
	node(t, m)->start_mark.line = t->line - 1;
	t->cur = m;
	rc = end_of_line(t, "a table header");
 out:
	if (k != NULL)
		freezero(k, klen + 1);
	return rc;
}

int
cfg_load_toml(struct cfg_parser *p, const char *text, size_t len)
{
	struct toml	 t;
	int		 rc = 0;

	if (!yaml_document_initialize(p->doc, NULL, NULL, NULL, 1, 1)) {
		memset(p->doc, 0, sizeof(*p->doc));
		return cfg_error(p, 1, "toml", "out of memory; expected to "
		    "start a document");
	}
	memset(&t, 0, sizeof(t));
	t.p = p;
	t.doc = p->doc;
	t.s = text != NULL ? text : "";
	t.end = t.s + (text != NULL ? len : 0);
	t.line = 1;
	/* A byte order mark is allowed, and nothing else before the text. */
	if (t.end - t.s >= 3 && memcmp(t.s, "\xef\xbb\xbf", 3) == 0)
		t.s += 3;
	if (check_text(&t) == -1)
		goto out;
	if ((t.root = new_map(&t, T_HEADER, 1)) == -1) {
		rc = -1;
		goto out;
	}
	t.cur = t.root;
	for (;;) {
		skip_blank(&t);
		if (at_end(&t))
			break;
		if (*t.s == '[')
			rc = header(&t);
		else if ((rc = keyval(&t, t.cur, T_DOTTED)) == 0)
			rc = end_of_line(&t, "a value");
		if (rc == -1)
			break;
	}
 out:
	if (p->failed)
		rc = -1;
	buf_clear(&t);
	freezero(t.buf, t.bcap);
	free(t.info);
	return rc;
}
