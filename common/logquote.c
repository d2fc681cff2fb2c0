/* Log-line escaping of client text (strconv.QuoteToASCII's rules). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/logquote.h"

#define ESC_MAX	10	/* the longest escape: \UNNNNNNNN */

/*
 * The code point of the UTF-8 sequence at s[0, n), and its length in
 * *len; -1 for invalid UTF-8 (overlong forms, surrogates, past U+10FFFF,
 * truncated or stray continuation bytes), as Go's utf8.DecodeRune sees it.
 */
static int32_t
utf8_decode(const unsigned char *s, size_t n, size_t *len)
{
	int32_t	 cp, min;
	size_t	 need, i;

	if (s[0] < 0x80) {
		*len = 1;
		return s[0];
	}
	if ((s[0] & 0xe0) == 0xc0) {
		need = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if ((s[0] & 0xf0) == 0xe0) {
		need = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if ((s[0] & 0xf8) == 0xf0) {
		need = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else
		return -1;
	if (n < need)
		return -1;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = need;
	return cp;
}

/* The escape of one character (or invalid byte) into e; its length. */
static int
escape_one(char e[ESC_MAX + 1], int32_t cp, unsigned char byte, bool quoted)
{
	switch (cp) {
	case '\a': return snprintf(e, ESC_MAX + 1, "\\a");
	case '\b': return snprintf(e, ESC_MAX + 1, "\\b");
	case '\f': return snprintf(e, ESC_MAX + 1, "\\f");
	case '\n': return snprintf(e, ESC_MAX + 1, "\\n");
	case '\r': return snprintf(e, ESC_MAX + 1, "\\r");
	case '\t': return snprintf(e, ESC_MAX + 1, "\\t");
	case '\v': return snprintf(e, ESC_MAX + 1, "\\v");
	case '"':
	case '\\':
		if (quoted)
			return snprintf(e, ESC_MAX + 1, "\\%c", (char)cp);
		break;
	}
	if (cp < 0)
		return snprintf(e, ESC_MAX + 1, "\\x%02x", byte);
	if (cp < 0x20 || cp == 0x7f)
		return snprintf(e, ESC_MAX + 1, "\\x%02x", (unsigned int)cp);
	if (cp < 0x80) {
		e[0] = (char)cp;
		e[1] = '\0';
		return 1;
	}
	if (cp <= 0xffff)
		return snprintf(e, ESC_MAX + 1, "\\u%04x", (unsigned int)cp);
	return snprintf(e, ESC_MAX + 1, "\\U%08x", (unsigned int)cp);
}

size_t
logquote(char *out, size_t outlen, const char *s, size_t n, bool quoted)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 e[ESC_MAX + 1];
	size_t			 i = 0, o = 0, len;
	int32_t			 cp;
	int			 k;

	if (outlen == 0)
		return 0;
	if (quoted && outlen > 2)
		out[o++] = '"';
	while (i < n) {
		cp = utf8_decode(p + i, n - i, &len);
		if (cp < 0)
			len = 1;
		k = escape_one(e, cp, p[i], quoted);
		/* Room for it, the closing quote and the NUL. */
		if (o + (size_t)k + (quoted ? 1 : 0) >= outlen)
			break;
		memcpy(out + o, e, (size_t)k);
		o += (size_t)k;
		i += len;
	}
	if (quoted && o > 0)
		out[o++] = '"';
	out[o] = '\0';
	return o;
}

int
logquote_buf(struct buf *b, const char *s)
{
	size_t	 n = strlen(s), room, len;
	uint8_t	*p;

	if (n > (SIZE_MAX - 3) / ESC_MAX) {
		b->failed = true;	/* as any put that does not fit */
		return -1;
	}
	room = n * ESC_MAX + 3;
	if ((p = buf_reserve(b, room)) == NULL)
		return -1;
	len = logquote((char *)p, room, s, n, true);
	b->len += len;
	return 0;
}
