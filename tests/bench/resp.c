/* The load generator's HTTP/1.1 response reader (see resp.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tests/bench/resp.h"

#define TRAILER_MAX	8192	/* bytes of one chunk-size or trailer line */

void
resp_start(struct resp *r)
{
	char	*keep = r->keep;
	size_t	 cap = r->keepcap;

	memset(r, 0, sizeof(*r));
	r->keep = keep;
	r->keepcap = cap;
}

static void
keep_bytes(struct resp *r, const char *p, size_t n)
{
	size_t room;

	if (r->keep == NULL || r->keepcap == 0)
		return;
	room = r->keepcap - 1 - r->keeplen;
	if (n > room)
		n = room;
	memcpy(r->keep + r->keeplen, p, n);
	r->keeplen += n;
	r->keep[r->keeplen] = '\0';
}

/* A header's value with blanks trimmed, compared case-insensitively. */
static bool
token_in(const char *v, size_t len, const char *tok)
{
	size_t	tl = strlen(tok), i;

	for (i = 0; i + tl <= len; i++)
		if (strncasecmp(v + i, tok, tl) == 0)
			return true;
	return false;
}

/* Status line and headers, p[0, len) ending in the empty line. */
static int
parse_head(struct resp *r, const char *p, size_t len)
{
	const char	*line, *end = p + len, *nl, *colon, *v;
	bool		 have_len = false, chunked = false;
	size_t		 vlen;
	char		 num[24];

	if (len < 12 || memcmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ' ||
	    !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]))
		return -1;
	r->close = p[7] == '0';
	r->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	if ((line = memchr(p, '\n', len)) == NULL)
		return -1;
	for (line++; line < end; line = nl + 1) {
		if ((nl = memchr(line, '\n', end - line)) == NULL)
			return -1;
		if (nl == line || (nl == line + 1 && line[0] == '\r'))
			break;
		if ((colon = memchr(line, ':', nl - line)) == NULL)
			return -1;
		for (v = colon + 1; v < nl && (*v == ' ' || *v == '\t'); v++)
			;
		vlen = nl - v;
		while (vlen > 0 && (v[vlen - 1] == '\r' ||
		    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
			vlen--;
		if (colon - line == 14 &&
		    strncasecmp(line, "Content-Length", 14) == 0) {
			if (vlen == 0 || vlen >= sizeof(num))
				return -1;
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			if (strspn(num, "0123456789") != vlen)
				return -1;
			r->clen = strtoull(num, NULL, 10);
			have_len = true;
		} else if (colon - line == 17 &&
		    strncasecmp(line, "Transfer-Encoding", 17) == 0) {
			chunked = token_in(v, vlen, "chunked");
		} else if (colon - line == 10 &&
		    strncasecmp(line, "Connection", 10) == 0) {
			if (token_in(v, vlen, "close"))
				r->close = true;
			else if (token_in(v, vlen, "keep-alive"))
				r->close = false;
		}
	}
	if ((r->status >= 100 && r->status < 200) || r->status == 204 ||
	    r->status == 304)
		r->state = RS_DONE;
	else if (chunked)
		r->state = RS_CHUNK_SIZE;
	else if (have_len)
		r->state = r->clen == 0 ? RS_DONE : RS_BODY_LEN;
	else {
		r->state = RS_BODY_EOF;
		r->close = true;
	}
	return 0;
}

long
resp_feed(struct resp *r, const char *p, size_t len)
{
	const char	*hend;
	size_t		 used = 0, n;
	int		 c, d;

	if (r->state == RS_HEAD) {
		if ((hend = memmem(p, len, "\r\n\r\n", 4)) == NULL)
			return 0;
		used = hend + 4 - p;
		if (parse_head(r, p, used) == -1)
			return -1;
	}
	while (used < len && r->state != RS_DONE) {
		switch (r->state) {
		case RS_BODY_LEN:
		case RS_CHUNK_DATA:
			n = len - used;
			if (n > r->clen)
				n = (size_t)r->clen;
			keep_bytes(r, p + used, n);
			used += n;
			r->clen -= n;
			if (r->clen == 0)
				r->state = r->state == RS_BODY_LEN ? RS_DONE :
				    RS_CHUNK_CRLF;
			break;
		case RS_CHUNK_SIZE:
			c = (unsigned char)p[used++];
			if (c == '\n') {
				if (r->linelen == 0)
					return -1;
				r->linelen = 0;
				r->state = r->clen == 0 ? RS_TRAILER :
				    RS_CHUNK_DATA;
				break;
			}
			/* Digits first; after a ';' or blank, an extension
			 * we skip (marked by linelen's top bit). */
			if (c == '\r' && r->linelen == 0)
				return -1;
			if (r->linelen & ((size_t)1 << 62) || c == '\r') {
				r->linelen |= (size_t)1 << 62;
				break;
			}
			if (c == ';' || c == ' ' || c == '\t') {
				if (r->linelen == 0)
					return -1;
				r->linelen |= (size_t)1 << 62;
				break;
			}
			if (c >= '0' && c <= '9')
				d = c - '0';
			else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
				d = (c | 0x20) - 'a' + 10;
			else
				return -1;
			if (r->clen > (UINT64_MAX >> 4))
				return -1;
			r->clen = r->clen << 4 | (uint64_t)d;
			r->linelen++;
			break;
		case RS_CHUNK_CRLF:
			c = (unsigned char)p[used++];
			if (c == '\n')
				r->state = RS_CHUNK_SIZE;
			else if (c != '\r')
				return -1;
			break;
		case RS_TRAILER:
			c = (unsigned char)p[used++];
			if (c == '\n') {
				if (r->linelen == 0)
					r->state = RS_DONE;
				r->linelen = 0;
			} else if (c != '\r' && ++r->linelen > TRAILER_MAX)
				return -1;
			break;
		case RS_BODY_EOF:
			keep_bytes(r, p + used, len - used);
			used = len;
			break;
		default:
			return -1;
		}
	}
	return (long)used;
}

bool
resp_eof(struct resp *r)
{
	if (r->state != RS_BODY_EOF)
		return false;
	r->state = RS_DONE;
	return true;
}
