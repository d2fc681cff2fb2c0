/*
 * HTTP/1.1 request parsing for the worker: request head, request-target,
 * Go ServeMux path cleaning and the chunked body decoder.
 *
 * Everything here is pure: no I/O, no logging, no globals, no allocation
 * except through the caller's struct buf. The bytes come from untrusted
 * clients (after TLS), so the parser is strict where leniency has led to
 * request smuggling elsewhere (duplicate or conflicting framing headers,
 * bare CR/LF, obsolete line folding) and every error maps to the HTTP
 * status the caller answers before it closes the connection.
 *
 * Error returns are negative HTTP status codes, so a caller can do
 *   if (r < 0) answer(-r, http_reason(-r)), close();
 */
#ifndef KEYWARD_HTTP_H
#define KEYWARD_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct buf;

#define HTTP_MAX_REQUEST_LINE	8192	/* without its CRLF */
#define HTTP_MAX_HEADERS	64
/* Everything up to the final CRLF CRLF, leading empty lines included. */
#define HTTP_MAX_HEAD_BYTES	16384

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_OPTIONS,
	HTTP_PATCH,
	HTTP_OTHER		/* any other token: see method_str */
};

/* Pointers into the caller's buffer; not NUL-terminated. */
struct http_header {
	const char	*name;
	size_t		 name_len;
	const char	*value;		/* surrounding SP/HT trimmed */
	size_t		 value_len;
};

enum http_body {
	HTTP_BODY_NONE,		/* no Content-Length, no Transfer-Encoding */
	HTTP_BODY_LENGTH,	/* Content-Length, possibly 0 */
	HTTP_BODY_CHUNKED	/* Transfer-Encoding: chunked */
};

/*
 * A parsed request head. Every pointer points into the buffer given to
 * http_parse_head(), so the caller must not move or overwrite those bytes
 * while it uses the request. After an error the contents are unspecified.
 */
struct http_request {
	enum http_method	 method;
	const char		*method_str;
	size_t			 method_len;
	const char		*target;	/* raw request-target */
	size_t			 target_len;
	int			 minor;		/* HTTP/1.<minor>: 0 or 1 */
	/* http_parse_head() clears all but headers[]: keep nheaders right
	 * after it and the scalars around it. */
	struct http_header	 headers[HTTP_MAX_HEADERS];
	size_t			 nheaders;
	enum http_body		 body;
	uint64_t		 content_length; /* <= INT64_MAX */
	/* 1.1: on unless "Connection: close"; 1.0: off unless keep-alive */
	bool			 keep_alive;
	/*
	 * "Expect: 100-continue" on an HTTP/1.1 request that has a body
	 * (chunked or Content-Length > 0): the caller sends
	 * "HTTP/1.1 100 Continue\r\n\r\n" before it reads the body, unless it
	 * answers without reading it. Ignored for HTTP/1.0 (RFC 9110 10.1.1).
	 */
	bool			 expect_continue;
	bool			 has_host;	/* a Host line, even empty */
	size_t			 head_len;	/* up to the final CRLF CRLF */
};

/*
 * Parse the request head at the start of p[0, len).
 *   > 0   complete; returns req->head_len. The body (if any) starts at
 *         p + head_len; a pipelined request follows the body.
 *   0     need more bytes; no error in p[0, len) and no limit crossed.
 *   < 0   -(status) to answer before closing:
 *         -400 malformed (syntax, control bytes, bare CR or LF, obs-fold,
 *              duplicate or conflicting Content-Length/Transfer-Encoding,
 *              duplicate Host, Transfer-Encoding on HTTP/1.0)
 *         -414 request line longer than HTTP_MAX_REQUEST_LINE
 *         -417 an Expect other than 100-continue (as Go's server does)
 *         -431 more than HTTP_MAX_HEADERS headers, or no end of head
 *              within HTTP_MAX_HEAD_BYTES
 *         -501 Transfer-Encoding other than "chunked"
 *         -505 a version other than HTTP/1.0 or HTTP/1.1
 * The bytes are checked strictly left to right, so for every prefix of a
 * buffer the result is 0 or the same as for the whole buffer (and 0 for
 * every prefix shorter than a complete head).
 * A missing Host header is not an error here (has_host says whether there
 * was one); the caller answers an HTTP/1.1 request without it with 400, as
 * Go's server does (RFC 9112 3.2).
 */
int	 http_parse_head(const char *p, size_t len, struct http_request *req);

/*
 * Whether calling http_parse_head() on p[0, len) is worth it, given that it
 * returned 0 on p[0, prev): true once the new bytes complete a line or the
 * head limit is crossed. A caller that reads in small pieces and parses
 * only then does O(lines) passes instead of one per read, which keeps a
 * client that sends one-byte TLS records from making head parsing
 * quadratic. Errors inside an unfinished line are then reported when the
 * line ends or the limit is crossed.
 */
bool	 http_head_ready(const char *p, size_t len, size_t prev);

/* The first header called `name` (case-insensitive), or NULL. */
const struct http_header *http_header_get(const struct http_request *,
	    const char *name);

/*
 * Split a request-target into its percent-decoded path (NUL-terminated, in
 * path[0, pathcap)) and its raw query (*query points into target, without
 * the '?'; NULL and 0 when there is no '?'). Accepts origin-form
 * ("/p?q") and absolute-form ("http://host/p?q", "https://...", whose
 * authority is ignored; an empty path becomes "/"). Returns
 *   0     ok; path starts with '/'
 *   -400  anything else: "*" (OPTIONS * is the caller's), no leading '/',
 *         '#', bytes outside 0x21-0x7e, a bad %-escape, or a decoded NUL
 *         or other control byte (0x00-0x1f, 0x7f)
 *   -414  the decoded path does not fit in pathcap (pathcap >
 *         target_len always suffices)
 * "%2F" decodes to '/' like Go's r.URL.Path, so "/v1/key/create/a%2Fb" has
 * the resource "a/b", which the name check then rejects.
 */
int	 http_split_target(const char *target, size_t len, char *path,
	    size_t pathcap, const char **query, size_t *query_len);

/*
 * Go ServeMux's cleanPath(): path.Clean (collapse "//", drop "." segments,
 * resolve ".." without climbing above "/") with a trailing slash kept.
 * ServeMux answers 301 to the cleaned path when it differs from the
 * request's path, and so do we.
 * Writes the cleaned path to out (equal to `path` when it is canonical) and
 * returns true when it differs, i.e. when the caller must redirect. A path
 * without a leading '/' gets one, as in Go. The cleaned path is never
 * longer than strlen(path) + 1, so outcap >= strlen(path) + 2 always
 * suffices; if out is too small, returns true with out = "" (when
 * outcap > 0), which the caller must treat as 400, never as a Location.
 * `path` is decoded: escape it with http_escape_path() for a Location.
 */
bool	 http_clean_path(const char *path, char *out, size_t outcap);

/*
 * Escape a decoded path for a Location header the way Go's
 * url.URL.EscapedPath() does: letters, digits and "-._~$&+,/:;=@" stay,
 * every other byte becomes %XX (upper-case hex). Returns the length
 * written (NUL-terminated), or -1 when out is too small (3 * strlen + 1
 * always suffices).
 */
int	 http_escape_path(const char *path, char *out, size_t outcap);

/*
 * Incremental chunked-body decoder (RFC 9112 7.1). Chunk extensions are
 * checked for control bytes and ignored; trailer fields are checked like
 * header lines and ignored. Fields are private to http.c.
 */
struct http_chunked {
	int		 state;
	int		 error;		/* sticky: the error already returned */
	uint64_t	 remaining;	/* chunk-size read, or data left */
	size_t		 line_len;	/* bytes of the current line */
	size_t		 ndigits;
	uint64_t	 excess;	/* framing not yet paid for by data */
};

void	 http_chunked_init(struct http_chunked *);
/*
 * Feed p[0, len); decoded data is appended to out, whose max is the body
 * limit. *consumed is set to the number of input bytes used. Returns
 *   1     the last chunk and the trailer section are complete; bytes after
 *         p + *consumed belong to the next request. Further calls return 1
 *         and consume nothing.
 *   0     need more; all of p was consumed
 *   -400  malformed: bad or missing hex, more than 16 hex digits, missing
 *         CRLF after the data, bare CR or LF, control bytes in an
 *         extension or trailer, a line longer than 4096 bytes, or more
 *         framing than data (the rule Go added for CVE-2023-39326)
 *   -413  the data would exceed out->max (reported as soon as a chunk size
 *         says so). KES itself answers 400 "invalid request body" for an
 *         over-long body (spec 1.4 step 3); the mapping is the caller's.
 * Errors are sticky: later calls return the same error.
 */
int	 http_chunked_feed(struct http_chunked *, const char *p, size_t len,
	    size_t *consumed, struct buf *out);

/* Reason phrase for a status code, Go's wording; "Unknown" if unknown. */
const char *http_reason(int status);
/* "GET", "HEAD", ...; "" for HTTP_OTHER (use method_str instead). */
const char *http_method_name(enum http_method);

#endif
