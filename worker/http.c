/* HTTP/1.1 request heads, request-targets, path cleaning, chunked bodies. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/buf.h"
#include "worker/http.h"

/* Go's bufio limit for one chunk-size or trailer line. */
#define CHUNK_LINE_MAX		4096
/* Go's (1.21.5, CVE-2023-39326) allowance of framing not paid for by data. */
#define CHUNK_EXCESS_MAX	(16 * 1024)

static const struct {
	const char		*name;
	enum http_method	 method;
} methods[] = {
	{ "GET",	HTTP_GET },
	{ "HEAD",	HTTP_HEAD },
	{ "POST",	HTTP_POST },
	{ "PUT",	HTTP_PUT },
	{ "DELETE",	HTTP_DELETE },
	{ "OPTIONS",	HTTP_OPTIONS },
	{ "PATCH",	HTTP_PATCH },
};

/* RFC 9110 5.6.2 tchar. */
static bool
is_tchar(unsigned char c)
{
	if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	    (c >= 'A' && c <= 'Z'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'':
	case '*': case '+': case '-': case '.': case '^': case '_':
	case '`': case '|': case '~':
		return true;
	}
	return false;
}

/*
 * A byte of a header or trailer line other than CR/LF: HT, SP, VCHAR and
 * obs-text. obs-text (>= 0x80) is legal in field values and harmless as we
 * never interpret it; names are checked as tokens separately.
 */
static bool
is_field_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* A byte of the request line: SP and VCHAR only, so no HT or obs-text. */
static bool
is_line_byte(unsigned char c)
{
	return c >= 0x20 && c < 0x7f;
}

static bool
is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static int
hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/* Case-insensitive comparison of s[0, n) with the NUL-terminated `lit`. */
static bool
ci_eq(const char *s, size_t n, const char *lit)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lit[i] == '\0' || lower(s[i]) != lower(lit[i]))
			return false;
	return lit[n] == '\0';
}

/*
 * What running out of bytes means while the head is incomplete: the caller
 * may send more unless it already gave us more than a head may hold.
 */
static int
head_short(size_t len)
{
	return len > HTTP_MAX_HEAD_BYTES ? -431 : 0;
}

/*
 * Find the CRLF ending the line that starts at p[start], checking every
 * byte on the way so that errors are found in byte order (see
 * http_parse_head()). Returns 1 with *eol at the CR, or 0/-status.
 */
static int
scan_line(const char *p, size_t len, size_t start, bool reqline,
    size_t *eol)
{
	size_t		 lim, i;
	unsigned char	 c;

	lim = len < HTTP_MAX_HEAD_BYTES ? len : HTTP_MAX_HEAD_BYTES;
	/* The run of plain bytes first (a line is mostly one): each passes
	 * every test below. What ends it goes through them. */
	i = start;
	if (reqline)
		while (i < lim && i - start < HTTP_MAX_REQUEST_LINE &&
		    (unsigned char)(p[i] - 0x20) < 0x5f)
			i++;
	else
		while (i < lim && (unsigned char)p[i] >= 0x20 &&
		    (unsigned char)p[i] != 0x7f)
			i++;
	for (; i < lim; i++) {
		c = p[i];
		if (c == '\r') {
			if (i + 1 >= lim)
				break;
			if (p[i + 1] != '\n')
				return -400;
			*eol = i;
			return 1;
		}
		if (reqline && i - start >= HTTP_MAX_REQUEST_LINE)
			return -414;
		if (c == '\n')
			return -400;
		if (reqline ? !is_line_byte(c) : !is_field_byte(c))
			return -400;
	}
	return head_short(len);
}

/* METHOD SP request-target SP HTTP/1.x, with single spaces. */
static int
parse_request_line(const char *s, size_t n, struct http_request *req)
{
	size_t	 i, t, v;

	for (i = 0; i < n && s[i] != ' '; i++)
		if (!is_tchar(s[i]))
			return -400;
	if (i == 0 || i == n)
		return -400;
	req->method_str = s;
	req->method_len = i;
	req->method = HTTP_OTHER;
	for (v = 0; v < sizeof(methods) / sizeof(methods[0]); v++)
		if (strlen(methods[v].name) == i &&
		    memcmp(methods[v].name, s, i) == 0)
			req->method = methods[v].method;

	/* scan_line() allowed only SP and VCHAR, so no HT can hide here. */
	t = i + 1;
	for (i = t; i < n && s[i] != ' '; i++)
		;
	if (i == t || i == n)
		return -400;
	req->target = s + t;
	req->target_len = i - t;

	v = i + 1;
	if (n - v != 8 || memcmp(s + v, "HTTP/", 5) != 0 ||
	    s[v + 5] < '0' || s[v + 5] > '9' || s[v + 6] != '.' ||
	    s[v + 7] < '0' || s[v + 7] > '9')
		return -400;
	if (s[v + 5] != '1' || (s[v + 7] != '0' && s[v + 7] != '1'))
		return -505;
	req->minor = s[v + 7] - '0';
	return 0;
}

/* field-name ":" OWS field-value OWS; bytes were checked by scan_line(). */
static int
parse_header_line(const char *s, size_t n, struct http_header *h)
{
	size_t	 i, v, e;

	/* Whitespace before the colon is a token error: RFC 9112 5.1. */
	for (i = 0; i < n && s[i] != ':'; i++)
		if (!is_tchar(s[i]))
			return -400;
	if (i == 0 || i == n)
		return -400;
	v = i + 1;
	e = n;
	while (v < e && is_ows(s[v]))
		v++;
	while (e > v && is_ows(s[e - 1]))
		e--;
	h->name = s;
	h->name_len = i;
	h->value = s + v;
	h->value_len = e - v;
	return 0;
}

/*
 * 1*DIGIT up to INT64_MAX, nothing else: a sign, inner space, a list
 * ("5, 5") or an overflow would let two parsers disagree on the framing.
 */
static int
parse_length(const char *s, size_t n, uint64_t *out)
{
	uint64_t	 v = 0;
	size_t		 i;
	unsigned	 d;

	if (n == 0)
		return -400;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -400;
		d = s[i] - '0';
		if (v > ((uint64_t)INT64_MAX - d) / 10)
			return -400;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* Comma-separated Connection options; unknown ones are ignored. */
static void
connection_tokens(const char *s, size_t n, bool *cclose, bool *keepalive)
{
	size_t	 i = 0, b, e;

	while (i < n) {
		b = i;
		while (i < n && s[i] != ',')
			i++;
		e = i++;
		while (b < e && is_ows(s[b]))
			b++;
		while (e > b && is_ows(s[e - 1]))
			e--;
		if (ci_eq(s + b, e - b, "close"))
			*cclose = true;
		else if (ci_eq(s + b, e - b, "keep-alive"))
			*keepalive = true;
	}
}

/* Framing, persistence and expectations, once every line is well formed. */
static int
head_semantics(struct http_request *req)
{
	const struct http_header	*h, *cl = NULL, *te = NULL;
	size_t				 i, ncl = 0, nte = 0, nhost = 0;
	bool				 cclose = false, ka = false;
	bool				 cont = false, badexpect = false;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (ci_eq(h->name, h->name_len, "content-length")) {
			ncl++;
			cl = h;
		} else if (ci_eq(h->name, h->name_len, "transfer-encoding")) {
			nte++;
			te = h;
		} else if (ci_eq(h->name, h->name_len, "host"))
			nhost++;
		else if (ci_eq(h->name, h->name_len, "connection"))
			connection_tokens(h->value, h->value_len, &cclose,
			    &ka);
		else if (ci_eq(h->name, h->name_len, "expect") &&
		    h->value_len > 0) {
			/* Go ignores an empty Expect, answers 417 to others. */
			if (ci_eq(h->value, h->value_len, "100-continue"))
				cont = true;
			else
				badexpect = true;
		}
	}

	/*
	 * Smuggling defences: one framing header at most, and only once.
	 * Even equal duplicate lengths are refused: we gain nothing from
	 * accepting them and a proxy in front might pick another one.
	 */
	if (ncl > 1 || (ncl > 0 && nte > 0))
		return -400;
	/* RFC 9112 3.2 requires a 400 for several Host lines. */
	if (nhost > 1)
		return -400;
	req->has_host = nhost == 1;
	if (nte > 0) {
		/*
		 * RFC 9112 6.1: HTTP/1.0 framing with Transfer-Encoding is
		 * faulty. Go ignores the header there; refusing is safer.
		 */
		if (req->minor == 0)
			return -400;
		/* Go: more than one line, or anything but chunked, is 501. */
		if (nte > 1 || !ci_eq(te->value, te->value_len, "chunked"))
			return -501;
		req->body = HTTP_BODY_CHUNKED;
	} else if (cl != NULL) {
		if (parse_length(cl->value, cl->value_len,
		    &req->content_length) < 0)
			return -400;
		req->body = HTTP_BODY_LENGTH;
	} else
		req->body = HTTP_BODY_NONE;

	if (badexpect)
		return -417;
	if (req->minor == 1)
		req->keep_alive = !cclose;
	else
		req->keep_alive = ka && !cclose;
	req->expect_continue = cont && req->minor == 1 &&
	    (req->body == HTTP_BODY_CHUNKED ||
	    (req->body == HTTP_BODY_LENGTH && req->content_length > 0));
	return 0;
}

int
http_parse_head(const char *p, size_t len, struct http_request *req)
{
	size_t	 lim, pos = 0, eol;
	int	 r;

	/* Everything but the header table (2 KiB), which fills as it is
	 * parsed: this runs for every request. */
	memset(req, 0, offsetof(struct http_request, headers));
	memset(&req->nheaders, 0, sizeof(*req) -
	    offsetof(struct http_request, nheaders));
	lim = len < HTTP_MAX_HEAD_BYTES ? len : HTTP_MAX_HEAD_BYTES;

	/*
	 * RFC 9112 2.2: skip empty lines before the request line (some
	 * clients send a CRLF after a POST body). They count as head bytes,
	 * so they cannot be used to make us spin without a limit.
	 */
	for (;;) {
		if (pos >= lim)
			return head_short(len);
		if (p[pos] != '\r')
			break;
		if (pos + 1 >= lim)
			return head_short(len);
		if (p[pos + 1] != '\n')
			return -400;
		pos += 2;
	}

	if ((r = scan_line(p, len, pos, true, &eol)) <= 0)
		return r;
	if ((r = parse_request_line(p + pos, eol - pos, req)) < 0)
		return r;
	pos = eol + 2;

	for (;;) {
		if (pos >= lim)
			return head_short(len);
		if (p[pos] == '\r') {
			if (pos + 1 >= lim)
				return head_short(len);
			if (p[pos + 1] != '\n')
				return -400;
			pos += 2;
			break;
		}
		/*
		 * obs-fold (RFC 9112 5.2), or whitespace between the request
		 * line and the first header (2.2): both are refused, as
		 * proxies disagree on what they mean.
		 */
		if (is_ows(p[pos]))
			return -400;
		if (req->nheaders == HTTP_MAX_HEADERS)
			return -431;
		if ((r = scan_line(p, len, pos, false, &eol)) <= 0)
			return r;
		if ((r = parse_header_line(p + pos, eol - pos,
		    &req->headers[req->nheaders])) < 0)
			return r;
		req->nheaders++;
		pos = eol + 2;
	}

	req->head_len = pos;
	if ((r = head_semantics(req)) < 0)
		return r;
	return (int)pos;
}

bool
http_head_ready(const char *p, size_t len, size_t prev)
{
	if (len > HTTP_MAX_HEAD_BYTES)
		return true;
	if (prev > len)
		prev = 0;
	return memchr(p + prev, '\n', len - prev) != NULL;
}

const struct http_header *
http_header_get(const struct http_request *req, const char *name)
{
	size_t	 i, n = strlen(name);

	for (i = 0; i < req->nheaders; i++)
		if (req->headers[i].name_len == n &&
		    ci_eq(req->headers[i].name, n, name))
			return &req->headers[i];
	return NULL;
}

int
http_split_target(const char *t, size_t len, char *path, size_t pathcap,
    const char **query, size_t *query_len)
{
	size_t		 i, start = 0, end, o = 0;
	unsigned char	 c;
	int		 hi, lo;

	*query = NULL;
	*query_len = 0;
	if (pathcap == 0)
		return -414;
	path[0] = '\0';
	if (len == 0)
		return -400;
	/*
	 * A fragment is never sent (RFC 9112 3.2) and raw bytes outside
	 * VCHAR have no business in a target; refusing them here keeps
	 * every later consumer (logs, Location) to printable ASCII.
	 */
	for (i = 0; i < len; i++) {
		c = t[i];
		if (c <= 0x20 || c >= 0x7f || c == '#')
			return -400;
	}

	if (t[0] != '/') {
		/* absolute-form: RFC 9112 3.2.2 says servers must accept it. */
		if (len >= 7 && ci_eq(t, 7, "http://"))
			start = 7;
		else if (len >= 8 && ci_eq(t, 8, "https://"))
			start = 8;
		else
			return -400;	/* includes "*" and relative paths */
		while (start < len && t[start] != '/' && t[start] != '?')
			start++;
	}
	for (end = start; end < len && t[end] != '?'; end++)
		;
	if (end < len) {
		*query = t + end + 1;
		*query_len = len - end - 1;
	}

	if (start == end)
		path[o++] = '/';
	for (i = start; i < end; ) {
		c = t[i];
		if (c == '%') {
			if (end - i < 3 || (hi = hexval(t[i + 1])) < 0 ||
			    (lo = hexval(t[i + 2])) < 0)
				return -400;
			c = (unsigned char)(hi << 4 | lo);
			/*
			 * A decoded NUL would cut the C string short of what
			 * was checked; CR/LF could reach a Location header.
			 */
			if (c < 0x20 || c == 0x7f)
				return -400;
			i += 3;
		} else
			i++;
		if (o + 1 >= pathcap) {
			path[0] = '\0';
			return -414;
		}
		path[o++] = (char)c;
	}
	if (o >= pathcap) {
		path[0] = '\0';
		return -414;
	}
	path[o] = '\0';
	return 0;
}

/*
 * Go's path.Clean for a rooted path (a missing leading '/' is assumed) plus
 * cleanPath's trailing slash, written to out. Mirrors Go's loop so that
 * the two agree on every input. Returns the length, or -1 if out is short.
 */
static int
clean_into(const char *path, size_t n, char *out, size_t outcap)
{
	size_t	 r, w, dotdot;

	if (outcap < 2)
		return -1;
	out[0] = '/';
	w = dotdot = 1;
	r = n > 0 && path[0] == '/' ? 1 : 0;
	while (r < n) {
		if (path[r] == '/')
			r++;
		else if (path[r] == '.' && (r + 1 == n || path[r + 1] == '/'))
			r++;
		else if (path[r] == '.' && r + 1 < n && path[r + 1] == '.' &&
		    (r + 2 == n || path[r + 2] == '/')) {
			r += 2;
			/* Drop the last segment; ".." above "/" vanishes. */
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			}
		} else {
			if (w != 1) {
				if (w + 1 >= outcap)
					return -1;
				out[w++] = '/';
			}
			for (; r < n && path[r] != '/'; r++) {
				if (w + 1 >= outcap)
					return -1;
				out[w++] = path[r];
			}
		}
	}
	/* Go's cleanPath puts back a trailing slash that Clean removed. */
	if (n > 0 && path[n - 1] == '/' && w != 1) {
		if (w + 1 >= outcap)
			return -1;
		out[w++] = '/';
	}
	out[w] = '\0';
	return (int)w;
}

bool
http_clean_path(const char *path, char *out, size_t outcap)
{
	size_t	 n = strlen(path);
	int	 w;

	if ((w = clean_into(path, n, out, outcap)) < 0) {
		if (outcap > 0)
			out[0] = '\0';
		return true;
	}
	return (size_t)w != n || memcmp(out, path, n) != 0;
}

int
http_escape_path(const char *path, char *out, size_t outcap)
{
	static const char	 hex[] = "0123456789ABCDEF";
	size_t			 o = 0;
	unsigned char		 c;

	for (; *path != '\0'; path++) {
		c = *path;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("-._~$&+,/:;=@", c)) {
			if (o + 1 >= outcap)
				return -1;
			out[o++] = c;
		} else {
			if (o + 3 >= outcap)
				return -1;
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (o >= outcap)
		return -1;
	out[o] = '\0';
	return (int)o;
}

enum chunk_state {
	CH_SIZE,		/* hex digits of chunk-size */
	CH_SIZE_WS,		/* BWS after the digits */
	CH_EXT,			/* chunk-ext, up to CR */
	CH_SIZE_LF,		/* CR seen at the end of the size line */
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,		/* start of a trailer line or the final CRLF */
	CH_TRAILER_NAME,
	CH_TRAILER_VALUE,
	CH_TRAILER_LF,
	CH_FINAL_LF,
	CH_DONE,
	CH_ERROR
};

void
http_chunked_init(struct http_chunked *c)
{
	memset(c, 0, sizeof(*c));
	c->state = CH_SIZE;
}

static int
chunked_fail(struct http_chunked *c, int error)
{
	c->state = CH_ERROR;
	c->error = error;
	return error;
}

/* One byte of framing (anything but chunk data); 0 or -status. */
static int
chunked_byte(struct http_chunked *c, unsigned char ch, struct buf *out)
{
	uint64_t	 credit;
	int		 v;

	switch (c->state) {
	case CH_SIZE:
		if ((v = hexval(ch)) >= 0) {
			/* Go refuses a 17th digit, even after leading zeros. */
			if (c->ndigits == 16)
				return -400;
			c->ndigits++;
			c->remaining = c->remaining << 4 | (uint64_t)v;
			return 0;
		}
		if (c->ndigits == 0)
			return -400;
		if (is_ows(ch))
			c->state = CH_SIZE_WS;
		else if (ch == ';')
			c->state = CH_EXT;
		else if (ch == '\r')
			c->state = CH_SIZE_LF;
		else
			return -400;
		return 0;
	case CH_SIZE_WS:
		if (ch == ';')
			c->state = CH_EXT;
		else if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (!is_ows(ch))
			return -400;
		return 0;
	case CH_EXT:
		/* Extensions are ignored, but must not carry CTLs or LF. */
		if (ch == '\r')
			c->state = CH_SIZE_LF;
		else if (!is_field_byte(ch))
			return -400;
		return 0;
	case CH_SIZE_LF:
		if (ch != '\n')
			return -400;
		c->line_len = 0;
		c->ndigits = 0;
		if (c->remaining == 0) {
			c->state = CH_TRAILER;
			return 0;
		}
		/* Refuse now rather than after buffering up to the limit. */
		if (c->remaining > out->max - out->len)
			return -413;
		/* Go's accounting: a chunk pays 16 + 2 * size for framing. */
		credit = c->remaining > (UINT64_MAX - 16) / 2 ? UINT64_MAX :
		    16 + 2 * c->remaining;
		c->excess = c->excess > credit ? c->excess - credit : 0;
		c->state = CH_DATA;
		return 0;
	case CH_DATA_CR:
		if (ch != '\r')
			return -400;
		c->state = CH_DATA_LF;
		return 0;
	case CH_DATA_LF:
		if (ch != '\n')
			return -400;
		c->line_len = 0;
		c->state = CH_SIZE;
		return 0;
	case CH_TRAILER:
		if (ch == '\r')
			c->state = CH_FINAL_LF;
		else if (is_tchar(ch))
			c->state = CH_TRAILER_NAME;
		else
			return -400;	/* obs-fold, empty name, bare LF */
		return 0;
	case CH_TRAILER_NAME:
		if (ch == ':')
			c->state = CH_TRAILER_VALUE;
		else if (!is_tchar(ch))
			return -400;
		return 0;
	case CH_TRAILER_VALUE:
		if (ch == '\r')
			c->state = CH_TRAILER_LF;
		else if (!is_field_byte(ch))
			return -400;
		return 0;
	case CH_TRAILER_LF:
		if (ch != '\n')
			return -400;
		c->line_len = 0;
		c->state = CH_TRAILER;
		return 0;
	case CH_FINAL_LF:
		if (ch != '\n')
			return -400;
		c->state = CH_DONE;
		return 0;
	}
	return -400;
}

int
http_chunked_feed(struct http_chunked *c, const char *p, size_t len,
    size_t *consumed, struct buf *out)
{
	size_t	 i = 0, n;
	int	 r;

	*consumed = 0;
	if (c->state == CH_DONE)
		return 1;
	if (c->state == CH_ERROR)
		return c->error;
	while (i < len) {
		if (c->state == CH_DATA) {
			n = len - i;
			if (n > c->remaining)
				n = (size_t)c->remaining;
			if (buf_put(out, p + i, n) == -1) {
				*consumed = i;
				return chunked_fail(c, -413);
			}
			i += n;
			c->remaining -= n;
			if (c->remaining == 0)
				c->state = CH_DATA_CR;
			continue;
		}
		/*
		 * Every other byte is framing: bound each line, and bound
		 * framing that no data pays for, so a client cannot make us
		 * read unbounded extensions or trailers for a small body.
		 */
		if (++c->line_len > CHUNK_LINE_MAX + 2 ||
		    ++c->excess > CHUNK_EXCESS_MAX) {
			*consumed = i + 1;
			return chunked_fail(c, -400);
		}
		if ((r = chunked_byte(c, (unsigned char)p[i++], out)) < 0) {
			*consumed = i;
			return chunked_fail(c, r);
		}
		if (c->state == CH_DONE) {
			*consumed = i;
			return 1;
		}
	}
	*consumed = len;
	return 0;
}

const char *
http_reason(int status)
{
	/* Go's net/http StatusText(), which KES clients have always seen. */
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 304: return "Not Modified";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 406: return "Not Acceptable";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Request Entity Too Large";
	case 414: return "Request URI Too Long";
	case 415: return "Unsupported Media Type";
	case 417: return "Expectation Failed";
	case 422: return "Unprocessable Entity";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	case 505: return "HTTP Version Not Supported";
	}
	return "Unknown";
}

const char *
http_method_name(enum http_method m)
{
	size_t	 i;

	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (methods[i].method == m)
			return methods[i].name;
	return "";
}
