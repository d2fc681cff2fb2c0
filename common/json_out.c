/*
 * Go's encoding/json string encoding (encodeState.string, escapeHTML on):
 *   " and \            a backslash before them
 *   \n \r \t           two-character escapes
 *   other bytes < 0x20 \u00XX (so \b and \f too, as up to Go 1.21;
 *                      1.22's appendString writes those two as \b, \f)
 *   < > &              \u003c \u003e \u0026
 *   invalid UTF-8      \ufffd for each byte that does not start a valid
 *                      sequence (utf8.DecodeRuneInString's RuneError, 1)
 *   U+2028 U+2029      \u2028 \u2029
 *   anything else      as it is (DEL included)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/gotime.h"
#include "common/json_out.h"
#include "common/xmalloc.h"

/*
 * The length of the valid UTF-8 sequence at p (2 to 4), or 0 when p does
 * not start one: Go's rules, so overlong forms, surrogates (U+D800 to
 * U+DFFF) and code points above U+10FFFF are invalid, as is a sequence cut
 * short by the end of the string.
 */
static size_t
utf8_len(const unsigned char *p)
{
	unsigned char	lo = 0x80, hi = 0xbf;
	size_t		n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		n = 2;
	else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		if (p[0] == 0xe0)
			lo = 0xa0;		/* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;		/* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		if (p[0] == 0xf0)
			lo = 0x90;		/* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;		/* above U+10FFFF */
	} else
		return 0;
	if (p[1] < lo || p[1] > hi)
		return 0;
	/* The NUL that ends the string fails this test too. */
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

static int
put_hex4(struct buf *b, const char *four)
{
	return buf_put(b, "\\u", 2) | buf_put(b, four, 4);
}

int
json_str(struct buf *b, const char *s)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	const unsigned char	*run;
	size_t			 save = b->len, n;
	char			 e[4];
	int			 bad;

	bad = buf_put_u8(b, '"');
	while (*p != '\0' && bad == 0) {
		/* Bytes that go out as they are, in one piece. */
		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\' &&
		    *p != '<' && *p != '>' && *p != '&'; p++) {
			if (*p < 0x80)
				continue;
			if ((n = utf8_len(p)) == 0 || (n == 3 && p[0] == 0xe2 &&
			    p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)))
				break;
			p += n - 1;
		}
		bad |= buf_put(b, run, (size_t)(p - run));
		if (*p == '\0' || bad)
			break;
		switch (*p) {
		case '"':
		case '\\':
			bad |= buf_put_u8(b, '\\') | buf_put_u8(b, *p);
			p++;
			continue;
		case '\n':
			bad |= buf_put(b, "\\n", 2);
			p++;
			continue;
		case '\r':
			bad |= buf_put(b, "\\r", 2);
			p++;
			continue;
		case '\t':
			bad |= buf_put(b, "\\t", 2);
			p++;
			continue;
		}
		if (*p < 0x80) {
			/* Other control bytes, < > & */
			e[0] = '0';
			e[1] = '0';
			e[2] = hex[*p >> 4];
			e[3] = hex[*p & 0xf];
			bad |= put_hex4(b, e);
			p++;
		} else if (utf8_len(p) == 0) {
			bad |= put_hex4(b, "fffd");
			p++;
		} else {
			/* U+2028 or U+2029 (e2 80 a8 / a9). */
			bad |= put_hex4(b, p[2] == 0xa8 ? "2028" : "2029");
			p += 3;
		}
	}
	bad |= buf_put_u8(b, '"');
	if (bad) {
		b->len = save;
		return -1;
	}
	return 0;
}

int
json_key(struct buf *b, const char *key)
{
	size_t save = b->len;

	if (json_str(b, key) == -1 || buf_put_u8(b, ':') == -1) {
		b->len = save;
		return -1;
	}
	return 0;
}

/* "<base64>", encoded straight into b. */
static int
put_b64(struct buf *b, const uint8_t *p, size_t n, bool public)
{
	size_t	 len = b64_encoded_len(n), save = b->len;
	uint8_t	*w;

	if (buf_put_u8(b, '"') == -1 ||
	    (w = buf_reserve(b, len + 1)) == NULL) {
		b->len = save;
		return -1;
	}
	/* The NUL it writes last is overwritten by the quote. */
	(public ? b64_encode_public : b64_encode)(p, n, (char *)w);
	b->len += len;
	if (buf_put_u8(b, '"') == -1) {
		buf_truncate(b, save);
		return -1;
	}
	return 0;
}

int
json_b64(struct buf *b, const uint8_t *p, size_t n)
{
	return put_b64(b, p, n, false);
}

int
json_b64_public(struct buf *b, const uint8_t *p, size_t n)
{
	return put_b64(b, p, n, true);
}

int
json_time(struct buf *b, int64_t sec, int32_t nsec)
{
	char t[GOTIME_MAX];

	return json_str(b, gotime_format(sec, nsec, t));
}
