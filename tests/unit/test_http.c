/* HTTP/1.1 request parser: heads, targets, path cleaning, chunked bodies. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/buf.h"
#include "worker/http.h"

static int
parse(const char *s, struct http_request *r)
{
	return http_parse_head(s, strlen(s), r);
}

static int
parse_only(const char *s)
{
	struct http_request r;

	return http_parse_head(s, strlen(s), &r);
}

static bool
hdr_is(const struct http_request *r, const char *name, const char *value)
{
	const struct http_header *h = http_header_get(r, name);

	return h != NULL && h->value_len == strlen(value) &&
	    memcmp(h->value, value, h->value_len) == 0;
}

/* Every result the head parser may give. */
static bool
valid_result(int r)
{
	return r >= 0 || r == -400 || r == -414 || r == -417 || r == -431 ||
	    r == -501 || r == -505;
}

/*
 * Parse s whole and every prefix of it: a prefix must give 0 or the
 * whole buffer's result (0 when it is shorter than a complete head).
 */
static int
parse_all_prefixes(const char *s, size_t len)
{
	struct http_request	 r;
	size_t			 k;
	int			 full, part;

	full = http_parse_head(s, len, &r);
	cr_assert(valid_result(full), "result %d", full);
	for (k = 0; k < len; k++) {
		part = http_parse_head(s, k, &r);
		if (full > 0 && k < (size_t)full)
			cr_assert_eq(part, 0, "prefix %zu gave %d", k, part);
		else
			cr_assert(part == 0 || part == full,
			    "prefix %zu gave %d, whole %d", k, part, full);
	}
	return full;
}

/* ---- valid requests ---- */

Test(http, get_simple)
{
	const char		*s = "GET /v1/status HTTP/1.1\r\nHost: kes\r\n"
	    "User-Agent: MinIO\r\n\r\n";
	struct http_request	 r;

	cr_assert_eq(parse(s, &r), (int)strlen(s));
	cr_assert_eq(r.method, HTTP_GET);
	cr_assert_eq(r.method_len, 3);
	cr_assert(memcmp(r.method_str, "GET", 3) == 0);
	cr_assert_eq(r.target_len, strlen("/v1/status"));
	cr_assert(memcmp(r.target, "/v1/status", r.target_len) == 0);
	cr_assert_eq(r.minor, 1);
	cr_assert_eq(r.nheaders, 2);
	cr_assert_eq(r.body, HTTP_BODY_NONE);
	cr_assert(r.keep_alive);
	cr_assert(!r.expect_continue);
	cr_assert_eq(r.head_len, strlen(s));
	cr_assert(hdr_is(&r, "host", "kes"));
	cr_assert(hdr_is(&r, "USER-AGENT", "MinIO"));
	cr_assert_null(http_header_get(&r, "Content-Length"));
}

Test(http, put_with_length)
{
	const char		*s = "PUT /v1/key/hmac/k HTTP/1.1\r\n"
	    "Host: h\r\n"
	    "Content-Length: 12\r\nContent-Type: application/json\r\n\r\n"
	    "{\"message\":1}";
	struct http_request	 r;
	int			 n;

	n = parse(s, &r);
	cr_assert_gt(n, 0);
	cr_assert_eq(r.method, HTTP_PUT);
	cr_assert_eq(r.body, HTTP_BODY_LENGTH);
	cr_assert_eq(r.content_length, 12);
	cr_assert_str_eq(s + n, "{\"message\":1}");
}

Test(http, post_chunked)
{
	const char		*s = "POST /v1/key/encrypt/k HTTP/1.1\r\n"
	    "Host: h\r\nTransfer-Encoding:  Chunked \r\n\r\n"
	    "5\r\nhello\r\n0\r\n\r\n";
	struct http_request	 r;
	int			 n;

	n = parse(s, &r);
	cr_assert_gt(n, 0);
	cr_assert_eq(r.method, HTTP_POST);
	cr_assert_eq(r.body, HTTP_BODY_CHUNKED);
	cr_assert_str_eq(s + n, "5\r\nhello\r\n0\r\n\r\n");
}

Test(http, post_zero_length)
{
	struct http_request r;

	cr_assert_gt(parse("POST /v1/key/create/k HTTP/1.1\r\n"
	    "Content-Length: 0\r\n\r\n", &r), 0);
	cr_assert_eq(r.body, HTTP_BODY_LENGTH);
	cr_assert_eq(r.content_length, 0);
}

Test(http, length_forms)
{
	struct http_request r;

	cr_assert_gt(parse("PUT / HTTP/1.1\r\nContent-Length:  007 \r\n\r\n",
	    &r), 0);
	cr_assert_eq(r.content_length, 7);
	cr_assert_gt(parse("PUT / HTTP/1.1\r\ncontent-length: "
	    "9223372036854775807\r\n\r\n", &r), 0);
	cr_assert_eq(r.content_length, (uint64_t)INT64_MAX);
}

Test(http, methods)
{
	static const struct {
		const char		*line;
		enum http_method	 m;
	} t[] = {
		{ "GET / HTTP/1.1\r\n\r\n",	HTTP_GET },
		{ "HEAD / HTTP/1.1\r\n\r\n",	HTTP_HEAD },
		{ "POST / HTTP/1.1\r\n\r\n",	HTTP_POST },
		{ "PUT / HTTP/1.1\r\n\r\n",	HTTP_PUT },
		{ "DELETE / HTTP/1.1\r\n\r\n",	HTTP_DELETE },
		{ "OPTIONS * HTTP/1.1\r\n\r\n",	HTTP_OPTIONS },
		{ "PATCH / HTTP/1.1\r\n\r\n",	HTTP_PATCH },
		{ "BREW / HTTP/1.1\r\n\r\n",	HTTP_OTHER },
		{ "get / HTTP/1.1\r\n\r\n",	HTTP_OTHER },	/* exact case */
		{ "GETS / HTTP/1.1\r\n\r\n",	HTTP_OTHER },
		{ "M-SEARCH! / HTTP/1.1\r\n\r\n", HTTP_OTHER },
	};
	struct http_request	 r;
	size_t			 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_gt(parse(t[i].line, &r), 0, "%s", t[i].line);
		cr_assert_eq(r.method, t[i].m, "%s", t[i].line);
		cr_assert_eq(r.method_str, t[i].line);
	}
	cr_assert_str_eq(http_method_name(HTTP_GET), "GET");
	cr_assert_str_eq(http_method_name(HTTP_PUT), "PUT");
	cr_assert_str_eq(http_method_name(HTTP_PATCH), "PATCH");
	cr_assert_str_eq(http_method_name(HTTP_OTHER), "");
}

Test(http, keep_alive_rules)
{
	struct http_request r;

	cr_assert_gt(parse("GET / HTTP/1.1\r\n\r\n", &r), 0);
	cr_assert(r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
	    &r), 0);
	cr_assert(!r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: Keep-Alive, "
	    "CLOSE\r\n\r\n", &r), 0);
	cr_assert(!r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: upgrade\r\n"
	    "Connection: ,close ,\r\n\r\n", &r), 0);
	cr_assert(!r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.1\r\nConnection: closed\r\n\r\n",
	    &r), 0);
	cr_assert(r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.0\r\n\r\n", &r), 0);
	cr_assert_eq(r.minor, 0);
	cr_assert(!r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	    &r), 0);
	cr_assert(r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.0\r\nconnection: KEEP-ALIVE\r\n\r\n",
	    &r), 0);
	cr_assert(r.keep_alive);
	cr_assert_gt(parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n"
	    "Connection: close\r\n\r\n", &r), 0);
	cr_assert(!r.keep_alive);
}

Test(http, expect_continue)
{
	struct http_request r;

	cr_assert_gt(parse("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Expect: 100-Continue\r\n\r\n", &r), 0);
	cr_assert(r.expect_continue);
	cr_assert_gt(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "expect: 100-continue\r\n\r\n", &r), 0);
	cr_assert(r.expect_continue);
	/* Nothing to continue to. */
	cr_assert_gt(parse("GET / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n",
	    &r), 0);
	cr_assert(!r.expect_continue);
	cr_assert_gt(parse("PUT / HTTP/1.1\r\nContent-Length: 0\r\n"
	    "Expect: 100-continue\r\n\r\n", &r), 0);
	cr_assert(!r.expect_continue);
	/* HTTP/1.0 clients cannot expect it. */
	cr_assert_gt(parse("PUT / HTTP/1.0\r\nContent-Length: 5\r\n"
	    "Expect: 100-continue\r\n\r\n", &r), 0);
	cr_assert(!r.expect_continue);
	/* Go ignores an empty Expect and answers 417 to anything else. */
	cr_assert_gt(parse("GET / HTTP/1.1\r\nExpect:\r\n\r\n", &r), 0);
	cr_assert_eq(parse("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Expect: 200-ok\r\n\r\n", &r), -417);
}

Test(http, header_values)
{
	struct http_request r;

	cr_assert_gt(parse("GET / HTTP/1.1\r\nX-A:  a \t b\t \r\nX-B:\r\n"
	    "X-A: second\r\nX-C: caf\xc3\xa9\r\nX-D:\ttab\r\n\r\n", &r), 0);
	cr_assert_eq(r.nheaders, 5);
	cr_assert(hdr_is(&r, "x-a", "a \t b"));
	cr_assert(hdr_is(&r, "X-B", ""));
	cr_assert(hdr_is(&r, "x-c", "caf\xc3\xa9"));
	cr_assert(hdr_is(&r, "x-d", "tab"));
	cr_assert_null(http_header_get(&r, "x"));
	cr_assert_null(http_header_get(&r, "x-a-"));
}

Test(http, missing_host_accepted)
{
	cr_assert_gt(parse_only("GET /v1/status HTTP/1.1\r\n\r\n"), 0);
}

Test(http, leading_empty_lines)
{
	const char		*s = "\r\n\r\nGET / HTTP/1.1\r\n\r\n";
	struct http_request	 r;

	cr_assert_eq(parse(s, &r), (int)strlen(s));
	cr_assert_eq(r.head_len, strlen(s));
	cr_assert_eq(r.method, HTTP_GET);
	cr_assert_eq(parse_only("\r\n"), 0);
	cr_assert_eq(parse_only("\r"), 0);
	cr_assert_eq(parse_only("\n"), -400);
	cr_assert_eq(parse_only("\r\r\n"), -400);
}

/* ---- framing defences ---- */

Test(http, length_and_chunked)
{
	cr_assert_eq(parse_only("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), -400);
	cr_assert_eq(parse_only("POST / HTTP/1.1\r\nTransfer-Encoding: "
	    "chunked\r\nContent-Length: 5\r\n\r\n"), -400);
	/* Even when the encoding would be refused on its own. */
	cr_assert_eq(parse_only("POST / HTTP/1.1\r\nTransfer-Encoding: "
	    "gzip\r\nContent-Length: 5\r\n\r\n"), -400);
}

Test(http, duplicate_length)
{
	cr_assert_eq(parse_only("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\n"), -400);
	cr_assert_eq(parse_only("PUT / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "content-length: 6\r\n\r\n"), -400);
}

Test(http, bad_length)
{
	static const char *bad[] = {
		"+5", "-5", "5 5", "5\t5", "5a", "a", "0x5", "", " ", "5,5",
		"5, 5", "5.0", "9223372036854775808", "18446744073709551615",
		"18446744073709551616", "99999999999999999999999",
	};
	char	 s[256];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "PUT / HTTP/1.1\r\nContent-Length: %s"
		    "\r\n\r\n", bad[i]);
		cr_assert_eq(parse_only(s), -400, "Content-Length \"%s\"",
		    bad[i]);
	}
}

Test(http, transfer_encoding)
{
	static const char *unsupported[] = {
		"gzip", "chunked, gzip", "gzip, chunked", "identity",
		"chunked, chunked", "chunked;q=1", "", "chunk", "chunkedx",
	};
	struct http_request	 r;
	char			 s[256];
	size_t			 i;

	for (i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
		snprintf(s, sizeof(s), "POST / HTTP/1.1\r\n"
		    "Transfer-Encoding: %s\r\n\r\n", unsupported[i]);
		cr_assert_eq(parse_only(s), -501, "Transfer-Encoding \"%s\"",
		    unsupported[i]);
	}
	cr_assert_eq(parse_only("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n"), -501);
	cr_assert_gt(parse("POST / HTTP/1.1\r\ntransfer-encoding:\tCHUNKED\t"
	    "\r\n\r\n", &r), 0);
	cr_assert_eq(r.body, HTTP_BODY_CHUNKED);
	/* RFC 9112 6.1: faulty framing in HTTP/1.0. */
	cr_assert_eq(parse_only("POST / HTTP/1.0\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n"), -400);
}

Test(http, obs_fold)
{
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n"),
	    -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\r\n\tb\r\n\r\n"),
	    -400);
	/* Whitespace between the request line and the first header. */
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\n Host: h\r\n\r\n"), -400);
	/* Known as soon as the line's first byte is there. */
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\r\n "), -400);
}

Test(http, bare_cr)
{
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\r\n\r\n"), -400);
	cr_assert_eq(parse_only("GET /\r HTTP/1.1\r\n\r\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX\rA: a\r\n\r\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\r\n\rX"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\n\r\r\n"), -400);
	/* A CR at the very end may still be followed by LF. */
	cr_assert_eq(parse_only("GET / HTTP/1.1\r"), 0);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\r\n\r"), 0);
}

Test(http, bare_lf)
{
	cr_assert_eq(parse_only("GET / HTTP/1.1\n\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nHost: h\n\r\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nHost: h\r\n\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-A: a\nb\r\n\r\n"), -400);
	cr_assert_eq(parse_only("\nGET / HTTP/1.1\r\n\r\n"), -400);
}

Test(http, control_bytes)
{
	static const char	 ctl[] = { 0x00, 0x01, 0x08, 0x0b, 0x0c, 0x1b,
	    0x1f, 0x7f };
	char			 s[128];
	size_t			 i, n;

	for (i = 0; i < sizeof(ctl); i++) {
		n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nX-A: a?b\r\n"
		    "\r\n");
		s[strchr(s, '?') - s] = ctl[i];
		cr_assert_eq(http_parse_head(s, n, &(struct http_request){0}),
		    -400, "value byte 0x%02x", ctl[i]);
		n = snprintf(s, sizeof(s), "GET /?a HTTP/1.1\r\n\r\n");
		s[5] = ctl[i];
		cr_assert_eq(http_parse_head(s, n, &(struct http_request){0}),
		    -400, "target byte 0x%02x", ctl[i]);
		n = snprintf(s, sizeof(s), "GET / HTTP/1.1\r\nX?A: a\r\n\r\n");
		s[strchr(s, '?') - s] = ctl[i];
		cr_assert_eq(http_parse_head(s, n, &(struct http_request){0}),
		    -400, "name byte 0x%02x", ctl[i]);
	}
	/* HT is fine inside a value, but nowhere in the request line. */
	cr_assert_gt(parse_only("GET / HTTP/1.1\r\nX-A: a\tb\r\n\r\n"), 0);
	cr_assert_eq(parse_only("GET\t/ HTTP/1.1\r\n\r\n"), -400);
	cr_assert_eq(parse_only("GET /\t HTTP/1.1\r\n\r\n"), -400);
	/* obs-text: allowed in values, not in the request line. */
	cr_assert_gt(parse_only("GET / HTTP/1.1\r\nX-A: \x80\xff\r\n\r\n"), 0);
	cr_assert_eq(parse_only("GET /\x80 HTTP/1.1\r\n\r\n"), -400);
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nX-\x80: a\r\n\r\n"), -400);
}

Test(http, header_names)
{
	static const char *bad[] = {
		"Bad Name: x", "Name : x", "Name\t: x", "Na(me: x", ": x",
		"NoColon", "Na\"me: x", "Na/me: x", "Na@me: x", "{x}: y",
		"Name;: x", "[x]: y",
	};
	char	 s[256];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "GET / HTTP/1.1\r\n%s\r\n\r\n", bad[i]);
		cr_assert_eq(parse_only(s), -400, "header \"%s\"", bad[i]);
	}
	cr_assert_gt(parse_only("GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09az: x"
	    "\r\n\r\n"), 0);
}

Test(http, request_line_shape)
{
	static const char *bad[] = {
		"GET  / HTTP/1.1", "GET /  HTTP/1.1", " GET / HTTP/1.1",
		"GET / HTTP/1.1 ", "GET /", "GET / ", "GET",
		"GET /a b HTTP/1.1", "G@T / HTTP/1.1", "GE(T / HTTP/1.1",
		"GET / http/1.1", "GET / HTTP/1.10", "GET / HTTP/1",
		"GET / HTTP/11", "GET / HTTP/1.x", "GET / HTTP 1.1",
		"GET / HTTPS/1.1", "/ HTTP/1.1", "GET HTTP/1.1",
	};
	char	 s[256];
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(s, sizeof(s), "%s\r\n\r\n", bad[i]);
		cr_assert_eq(parse_only(s), -400, "request line \"%s\"",
		    bad[i]);
	}
}

Test(http, versions)
{
	cr_assert_eq(parse_only("GET / HTTP/2.0\r\n\r\n"), -505);
	cr_assert_eq(parse_only("GET / HTTP/1.2\r\n\r\n"), -505);
	cr_assert_eq(parse_only("GET / HTTP/0.9\r\n\r\n"), -505);
	cr_assert_eq(parse_only("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), -505);
	cr_assert_eq(parse_only("GET / HTTP/9.1\r\n\r\n"), -505);
}

Test(http, duplicate_host)
{
	cr_assert_eq(parse_only("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"),
	    -400);
}

/* ---- limits ---- */

static char *
many_headers(size_t n, bool end)
{
	char	*s, *w;
	size_t	 i;

	s = malloc(64 + n * 16);
	w = s + sprintf(s, "GET / HTTP/1.1\r\n");
	for (i = 0; i < n; i++)
		w += sprintf(w, "X-%zu: v\r\n", i);
	if (end)
		w += sprintf(w, "\r\n");
	return s;
}

Test(http, header_count)
{
	struct http_request	 r;
	char			*s;

	s = many_headers(HTTP_MAX_HEADERS, true);
	cr_assert_gt(parse(s, &r), 0);
	cr_assert_eq(r.nheaders, HTTP_MAX_HEADERS);
	free(s);
	s = many_headers(HTTP_MAX_HEADERS + 1, true);
	cr_assert_eq(parse(s, &r), -431);
	free(s);
	/* Known as soon as a 65th header line begins. */
	s = many_headers(HTTP_MAX_HEADERS, false);
	strcat(s, "X");
	cr_assert_eq(parse(s, &r), -431);
	free(s);
}

Test(http, head_bytes)
{
	struct http_request	 r;
	char			*s;
	size_t			 pre, fill;

	s = malloc(HTTP_MAX_HEAD_BYTES + 64);
	pre = sprintf(s, "GET / HTTP/1.1\r\nX-Big: ");
	/* A head of exactly HTTP_MAX_HEAD_BYTES is fine. */
	fill = HTTP_MAX_HEAD_BYTES - pre - 4;
	memset(s + pre, 'a', fill);
	memcpy(s + pre + fill, "\r\n\r\n", 4);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES, &r),
	    HTTP_MAX_HEAD_BYTES);
	/* One more byte and it is not. */
	memset(s + pre, 'a', fill + 1);
	memcpy(s + pre + fill + 1, "\r\n\r\n", 4);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES + 1, &r), -431);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES + 5, &r), -431);
	/* Without an end: 0 up to the limit, -431 one byte past it. */
	memset(s + pre, 'a', HTTP_MAX_HEAD_BYTES + 1 - pre);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES, &r), 0);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES + 1, &r), -431);
	/* Leading empty lines count. */
	for (pre = 0; pre < HTTP_MAX_HEAD_BYTES + 2; pre += 2)
		memcpy(s + pre, "\r\n", 2);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES, &r), 0);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_HEAD_BYTES + 1, &r), -431);
	free(s);
}

Test(http, request_line_length)
{
	struct http_request	 r;
	char			*s;
	size_t			 tlen;

	s = malloc(HTTP_MAX_REQUEST_LINE + 64);
	/* "GET " + target + " HTTP/1.1" == HTTP_MAX_REQUEST_LINE */
	tlen = HTTP_MAX_REQUEST_LINE - 4 - 9;
	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', tlen - 1);
	memcpy(s + 4 + tlen, " HTTP/1.1\r\n\r\n", 13);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_REQUEST_LINE + 4, &r),
	    HTTP_MAX_REQUEST_LINE + 4);
	cr_assert_eq(r.target_len, tlen);
	/* One byte longer. */
	memset(s + 5, 'a', tlen);
	memcpy(s + 5 + tlen, " HTTP/1.1\r\n\r\n", 13);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_REQUEST_LINE + 5, &r), -414);
	/* Known before the line ends. */
	cr_assert_eq(http_parse_head(s, HTTP_MAX_REQUEST_LINE, &r), 0);
	cr_assert_eq(http_parse_head(s, HTTP_MAX_REQUEST_LINE + 1, &r), -414);
	free(s);
}

/* ---- incremental and pipelined ---- */

Test(http, byte_by_byte)
{
	static const char *reqs[] = {
		"GET /v1/status HTTP/1.1\r\nHost: h\r\n\r\n",
		("\r\nPUT /v1/key/create/k HTTP/1.1\r\nContent-Length: 3\r\n"
		    "Expect: 100-continue\r\nConnection: close\r\n\r\nabc"),
		"POST /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
	};
	struct http_request	 whole, part;
	size_t			 i, k, len;
	int			 n, r;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		len = strlen(reqs[i]);
		n = http_parse_head(reqs[i], len, &whole);
		cr_assert_gt(n, 0);
		for (k = 0; k <= len; k++) {
			r = http_parse_head(reqs[i], k, &part);
			if (k < (size_t)n) {
				cr_assert_eq(r, 0, "req %zu prefix %zu", i, k);
				continue;
			}
			cr_assert_eq(r, n);
			cr_assert_eq(part.head_len, whole.head_len);
			cr_assert_eq(part.method, whole.method);
			cr_assert_eq(part.nheaders, whole.nheaders);
			cr_assert_eq(part.body, whole.body);
			cr_assert_eq(part.content_length, whole.content_length);
			cr_assert_eq(part.keep_alive, whole.keep_alive);
			cr_assert_eq(part.expect_continue,
			    whole.expect_continue);
			/* Only the headers parsed: the rest of the table is
			 * not cleared between parses. */
			cr_assert(memcmp(part.headers, whole.headers,
			    whole.nheaders * sizeof(whole.headers[0])) == 0);
		}
	}
}

Test(http, errors_in_byte_order)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\nA: b\n\r\n",
		"GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n",
		"GET / HTTP/2.0\r\nX: \x01\r\n\r\n",
		("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
		    "Content-Length: 5\r\n\r\n"),
		"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_lt(parse_all_prefixes(bad[i], strlen(bad[i])), 0);
}

Test(http, head_ready)
{
	const char *s = "GET / HTTP/1.1\r\nHost: h\r\n\r\n";

	cr_assert(!http_head_ready(s, 10, 0));
	cr_assert(http_head_ready(s, 16, 10));
	cr_assert(!http_head_ready(s, 20, 16));
	cr_assert(http_head_ready(s, strlen(s), 20));
	cr_assert(!http_head_ready(s, 3, 7));	/* prev past len: rescan */
}

Test(http, pipelined)
{
	const char		*s =
	    "PUT /v1/key/create/a HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}"
	    "POST /v1/key/encrypt/a HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n2\r\n{}\r\n0\r\n\r\n"
	    "GET /v1/status HTTP/1.1\r\n\r\n"
	    "GET /v1/rea";
	struct http_request	 r;
	struct http_chunked	 ch;
	struct buf		 body;
	size_t			 off = 0, len = strlen(s), used;
	int			 n;

	n = http_parse_head(s + off, len - off, &r);
	cr_assert_gt(n, 0);
	cr_assert_eq(r.method, HTTP_PUT);
	cr_assert_eq(r.content_length, 2);
	off += n + r.content_length;

	n = http_parse_head(s + off, len - off, &r);
	cr_assert_gt(n, 0);
	cr_assert_eq(r.method, HTTP_POST);
	cr_assert_eq(r.body, HTTP_BODY_CHUNKED);
	off += n;
	buf_init(&body, 1024);
	http_chunked_init(&ch);
	cr_assert_eq(http_chunked_feed(&ch, s + off, len - off, &used, &body),
	    1);
	cr_assert_eq(body.len, 2);
	cr_assert(memcmp(body.data, "{}", 2) == 0);
	buf_release(&body);
	off += used;

	n = http_parse_head(s + off, len - off, &r);
	cr_assert_gt(n, 0);
	cr_assert_eq(r.target_len, strlen("/v1/status"));
	off += n;

	cr_assert_eq(http_parse_head(s + off, len - off, &r), 0);
	cr_assert_str_eq(s + off, "GET /v1/rea");
}

/* Flip, replace and drop bytes of valid requests; nothing may misbehave. */
Test(http, mutations)
{
	static const char *reqs[] = {
		("PUT /v1/key/create/k?x=1 HTTP/1.1\r\nHost: h\r\n"
		    "Content-Length: 3\r\nConnection: close\r\n\r\nabc"),
		("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		    "Expect: 100-continue\r\n\r\n1\r\na\r\n0\r\n\r\n"),
	};
	static const unsigned char subst[] = { 0, '\t', '\n', '\r', ' ', ':',
	    '0', 'a', 0x7f, 0x80, 0xff };
	char	 s[256];
	size_t	 i, k, j, b, len;

	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		len = strlen(reqs[i]);
		for (k = 0; k < len; k++) {
			for (b = 0; b < 8; b++) {
				memcpy(s, reqs[i], len);
				s[k] ^= 1 << b;
				parse_all_prefixes(s, len);
			}
			for (j = 0; j < sizeof(subst); j++) {
				memcpy(s, reqs[i], len);
				s[k] = subst[j];
				parse_all_prefixes(s, len);
			}
			/* Drop byte k. */
			memcpy(s, reqs[i], k);
			memcpy(s + k, reqs[i] + k + 1, len - k - 1);
			parse_all_prefixes(s, len - 1);
		}
	}
}

/* ---- request-target ---- */

static int
split(const char *t, char *path, size_t cap, const char **q, size_t *qlen)
{
	return http_split_target(t, strlen(t), path, cap, q, qlen);
}

Test(http, target_origin_form)
{
	char		 path[256];
	const char	*q;
	size_t		 qlen;

	cr_assert_eq(split("/v1/key/create/my-key", path, sizeof(path), &q,
	    &qlen), 0);
	cr_assert_str_eq(path, "/v1/key/create/my-key");
	cr_assert_null(q);
	cr_assert_eq(qlen, 0);

	cr_assert_eq(split("/v1/key/list/?x=1&y=%zz?", path, sizeof(path), &q,
	    &qlen), 0);
	cr_assert_str_eq(path, "/v1/key/list/");
	cr_assert_eq(qlen, strlen("x=1&y=%zz?"));
	cr_assert(memcmp(q, "x=1&y=%zz?", qlen) == 0);

	cr_assert_eq(split("/a?", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/a");
	cr_assert_not_null(q);
	cr_assert_eq(qlen, 0);

	cr_assert_eq(split("/", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/");
}

Test(http, target_percent)
{
	char		 path[256];
	const char	*q;
	size_t		 qlen;

	cr_assert_eq(split("/v1/key/create/a%2Fb", path, sizeof(path), &q,
	    &qlen), 0);
	cr_assert_str_eq(path, "/v1/key/create/a/b");
	cr_assert_eq(split("/%41%62%2f%2E", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/Ab/.");
	cr_assert_eq(split("/%20%C3%A9%25", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/ \xc3\xa9%");
	/* %3F is a path byte, not the start of the query. */
	cr_assert_eq(split("/a%3Fb?c", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/a?b");
	cr_assert_eq(qlen, 1);

	cr_assert_eq(split("/a%00b", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%0d%0a", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%1f", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%7F", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%zz", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%g0", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%2", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%2?b", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a%%41", path, sizeof(path), &q, &qlen), -400);
}

Test(http, target_forms)
{
	char		 path[256];
	const char	*q;
	size_t		 qlen;

	cr_assert_eq(split("http://kes:7373/v1/status?a", path, sizeof(path),
	    &q, &qlen), 0);
	cr_assert_str_eq(path, "/v1/status");
	cr_assert_eq(qlen, 1);
	cr_assert_eq(split("HTTPS://kes", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/");
	cr_assert_eq(split("https://kes?x", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/");
	cr_assert_eq(qlen, 1);

	cr_assert_eq(split("*", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("v1/status", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("ftp://h/x", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("http:/x", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a#frag", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a b", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a\x80", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(split("/a?\x01", path, sizeof(path), &q, &qlen), -400);
	cr_assert_eq(http_split_target("/a", 0, path, sizeof(path), &q, &qlen),
	    -400);
	/* The NUL is outside [0, len), so it is not seen. */
	cr_assert_eq(http_split_target("/a\0b", 2, path, sizeof(path), &q,
	    &qlen), 0);
	cr_assert_eq(http_split_target("/a\0b", 4, path, sizeof(path), &q,
	    &qlen), -400);
}

Test(http, target_capacity)
{
	char		 path[8];
	const char	*q;
	size_t		 qlen;

	cr_assert_eq(split("/abcdef", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/abcdef");
	cr_assert_eq(split("/abcdefg", path, sizeof(path), &q, &qlen), -414);
	cr_assert_str_eq(path, "");
	/* Decoding shrinks: pathcap > target length always suffices. */
	cr_assert_eq(split("/%61%62%63%64", path, sizeof(path), &q, &qlen), 0);
	cr_assert_str_eq(path, "/abcd");
	cr_assert_eq(split("/", path, 1, &q, &qlen), -414);
	cr_assert_eq(split("/", path, 0, &q, &qlen), -414);
	cr_assert_eq(split("http://h", path, 1, &q, &qlen), -414);
}

/* ---- path cleaning (Go ServeMux cleanPath) ---- */

Test(http, clean_path)
{
	static const struct {
		const char	*in, *out;
	} t[] = {
		{ "/v1/../v1/status",	"/v1/status" },
		{ "/v1//key/list/",	"/v1/key/list/" },
		{ "/a/./b",		"/a/b" },
		{ "/a/b/..",		"/a" },
		{ "/a/b/../",		"/a/" },
		{ "/a/.",		"/a" },
		{ "/a/./",		"/a/" },
		{ "/..",		"/" },
		{ "/../",		"/" },
		{ "/../a",		"/a" },
		{ "/a/../..",		"/" },
		{ "/a/../../b/",	"/b/" },
		{ "/.",			"/" },
		{ "//",			"/" },
		{ "///a///b///",	"/a/b/" },
		{ "/a//",		"/a/" },
		{ "/v1/key/create/a/../../../../etc", "/etc" },
		{ "",			"/" },
		{ "a",			"/a" },
		{ "a/",			"/a/" },
		{ "../a",		"/a" },
		{ ".",			"/" },
	};
	static const char *canonical[] = {
		"/", "/v1/status", "/v1/key/list/", "/...", "/a/..b", "/.a/b.",
		"/a/b./", "/a%2e", "/ /x",
	};
	char	 out[64], again[64];
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert(http_clean_path(t[i].in, out, sizeof(out)),
		    "\"%s\"", t[i].in);
		cr_assert_str_eq(out, t[i].out, "\"%s\"", t[i].in);
		/* The result is canonical. */
		cr_assert(!http_clean_path(out, again, sizeof(again)));
		cr_assert_str_eq(again, out);
	}
	for (i = 0; i < sizeof(canonical) / sizeof(canonical[0]); i++) {
		cr_assert(!http_clean_path(canonical[i], out, sizeof(out)),
		    "\"%s\"", canonical[i]);
		cr_assert_str_eq(out, canonical[i]);
	}
}

Test(http, clean_path_capacity)
{
	char	 out[16];

	/* strlen + 2 always suffices, even with a '/' to add. */
	cr_assert(http_clean_path("abcdef/", out, 9));
	cr_assert_str_eq(out, "/abcdef/");
	cr_assert(!http_clean_path("/abcdef", out, 8));
	/* Too small: true with an empty result, never a truncated one. */
	cr_assert(http_clean_path("/abcdefgh", out, 9));
	cr_assert_str_eq(out, "");
	cr_assert(!http_clean_path("/abcdefgh", out, 10));
	cr_assert(http_clean_path("/abcdefgh/./", out, 10));
	cr_assert_str_eq(out, "");
	cr_assert(http_clean_path("/a", out, 1));
	cr_assert_str_eq(out, "");
	cr_assert(http_clean_path("/a", out, 0));
}

Test(http, escape_path)
{
	char	 out[64];

	cr_assert_eq(http_escape_path("/v1/key/list/", out, sizeof(out)), 13);
	cr_assert_str_eq(out, "/v1/key/list/");
	cr_assert_gt(http_escape_path("/a~b-c_d.e$&+,/:;=@", out, sizeof(out)),
	    0);
	cr_assert_str_eq(out, "/a~b-c_d.e$&+,/:;=@");
	cr_assert_gt(http_escape_path("/a b?c%d#\xc3\xa9!*'()", out,
	    sizeof(out)), 0);
	cr_assert_str_eq(out, "/a%20b%3Fc%25d%23%C3%A9%21%2A%27%28%29");
	cr_assert_eq(http_escape_path("/ab", out, 4), 3);
	cr_assert_eq(http_escape_path("/ab", out, 3), -1);
	cr_assert_eq(http_escape_path("/ ", out, 4), -1);
	cr_assert_eq(http_escape_path("/ ", out, 5), 4);
}

/* ---- chunked bodies ---- */

/* Feed s in pieces of `step`. */
static int
dechunk(const char *s, size_t len, size_t max, size_t step, struct buf *out,
    size_t *used)
{
	struct http_chunked	 c;
	size_t			 off = 0, n, u;
	int			 r = 0;

	buf_init(out, max);
	http_chunked_init(&c);
	*used = 0;
	while (off < len || len == 0) {
		n = len - off < step ? len - off : step;
		r = http_chunked_feed(&c, s + off, n, &u, out);
		cr_assert_leq(u, n);
		off += u;
		if (r != 0)
			break;
		cr_assert_eq(u, n);
		if (len == 0)
			break;
	}
	*used = off;
	return r;
}

#define ALL	SIZE_MAX	/* wantused: every byte of s */

/* Feed s at once and byte by byte; both must agree. */
static int
dechunk_both(const char *s, size_t max, const char *want, size_t wantused)
{
	struct buf	 a, b;
	size_t		 ua, ub, len = strlen(s);
	int		 ra, rb;

	ra = dechunk(s, len, max, len, &a, &ua);
	rb = dechunk(s, len, max, 1, &b, &ub);
	cr_assert_eq(ra, rb, "at once %d, byte by byte %d", ra, rb);
	if (ra == 1) {
		cr_assert_eq(ua, ub);
		cr_assert_eq(a.len, b.len);
		cr_assert(a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
		if (want != NULL) {
			cr_assert_eq(a.len, strlen(want));
			cr_assert(a.len == 0 || memcmp(a.data, want, a.len) == 0);
			cr_assert_eq(ua, wantused == ALL ? len : wantused);
		}
	}
	buf_release(&a);
	buf_release(&b);
	return ra;
}

Test(http, chunked_basic)
{
	const char *s = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";

	cr_assert_eq(dechunk_both(s, 1024, "hello world", ALL), 1);
	cr_assert_eq(dechunk_both("0\r\n\r\n", 1024, "", ALL), 1);
	cr_assert_eq(dechunk_both("a\r\n0123456789\r\nA\r\nabcdefghij\r\n"
	    "0\r\n\r\n", 1024, "0123456789abcdefghij", ALL), 1);
	cr_assert_eq(dechunk_both("000000000000000A\r\n0123456789\r\n"
	    "0000000000000000\r\n\r\n", 1024, "0123456789", ALL), 1);
	/* Exactly at the limit. */
	cr_assert_eq(dechunk_both("5\r\nhello\r\n0\r\n\r\n", 5, "hello", ALL),
	    1);
}

Test(http, chunked_pipelined_rest)
{
	const char *s = "3\r\nabc\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n";

	cr_assert_eq(dechunk_both(s, 1024, "abc", 13), 1);
}

Test(http, chunked_extensions)
{
	cr_assert_eq(dechunk_both("5;name=value;x\r\nhello\r\n0;last\r\n\r\n",
	    1024, "hello", ALL), 1);
	cr_assert_eq(dechunk_both("5 ; a=\"q;d\"\t\r\nhello\r\n0\r\n\r\n", 1024,
	    "hello", ALL), 1);
	cr_assert_eq(dechunk_both("5 \r\nhello\r\n0\t\r\n\r\n", 1024, "hello",
	    ALL), 1);
	cr_assert_eq(dechunk_both("5;\x80\xff\r\nhello\r\n0\r\n\r\n", 1024,
	    "hello", ALL), 1);
	cr_assert_eq(dechunk_both("5;a\x01\r\nhello\r\n0\r\n\r\n", 1024, NULL,
	    0), -400);
	cr_assert_eq(dechunk_both("5;a\nb\r\nhello\r\n0\r\n\r\n", 1024, NULL,
	    0), -400);
	cr_assert_eq(dechunk_both("5;a\rb\r\nhello\r\n0\r\n\r\n", 1024, NULL,
	    0), -400);
}

Test(http, chunked_trailers)
{
	const char *s = "5\r\nhello\r\n0\r\nX-Checksum: abc\r\nY:\r\n"
	    "Z: \t v \r\n\r\nnext";

	cr_assert_eq(dechunk_both(s, 1024, "hello", strlen(s) - 4), 1);
	cr_assert_eq(dechunk_both("0\r\n X: a\r\n\r\n", 1024, NULL, 0), -400);
	cr_assert_eq(dechunk_both("0\r\nX: a\r\n\tb\r\n\r\n", 1024, NULL, 0),
	    -400);
	cr_assert_eq(dechunk_both("0\r\n: a\r\n\r\n", 1024, NULL, 0), -400);
	cr_assert_eq(dechunk_both("0\r\nNoColon\r\n\r\n", 1024, NULL, 0),
	    -400);
	cr_assert_eq(dechunk_both("0\r\nX : a\r\n\r\n", 1024, NULL, 0), -400);
	cr_assert_eq(dechunk_both("0\r\nX: a\x01\r\n\r\n", 1024, NULL, 0),
	    -400);
	cr_assert_eq(dechunk_both("0\r\nX: a\x7f\r\n\r\n", 1024, NULL, 0),
	    -400);
	cr_assert_eq(dechunk_both("0\r\nX: a\n\r\n", 1024, NULL, 0), -400);
	cr_assert_eq(dechunk_both("0\r\nX: a\r\n\n", 1024, NULL, 0), -400);
	cr_assert_eq(dechunk_both("0\r\n\rX", 1024, NULL, 0), -400);
	cr_assert_eq(dechunk_both("0\r\n\n", 1024, NULL, 0), -400);
}

Test(http, chunked_malformed)
{
	static const char *bad[] = {
		"g\r\n",			/* bad hex */
		"\r\n",				/* empty size */
		";ext\r\n",
		" 5\r\nhello\r\n0\r\n\r\n",	/* leading whitespace */
		"-5\r\n",
		"+5\r\n",
		"0x5\r\nhello\r\n",
		"5 5\r\n",
		"5\nhello\r\n0\r\n\r\n",	/* bare LF */
		"5\rhello\r\n",			/* bare CR */
		"5\r\nhelloX\r\n0\r\n\r\n",	/* data longer than the size */
		"5\r\nhello\n0\r\n\r\n",
		"5\r\nhello\rX",
		"5\r\nhell\r\n0\r\n\r\n",	/* shorter */
		"10000000000000000\r\n",	/* 17 digits: overflow */
		"00000000000000005\r\n",	/* 17 digits, Go refuses too */
		"FFFFFFFFFFFFFFFFF\r\n",
		"0\r\n\r\r\n",
	};
	size_t	 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(dechunk_both(bad[i], 1024, NULL, 0), -400,
		    "\"%s\"", bad[i]);
}

Test(http, chunked_limit)
{
	struct buf	 b;
	size_t		 used;

	/* Announced past the limit: refused before any data. */
	cr_assert_eq(dechunk_both("6\r\nhello!\r\n0\r\n\r\n", 5, NULL, 0),
	    -413);
	cr_assert_eq(dechunk("6\r\n", 3, 5, 3, &b, &used), -413);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
	/* Several chunks that add up past it. */
	cr_assert_eq(dechunk_both("3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n", 5, NULL,
	    0), -413);
	/* 16 hex digits is no overflow, but far past any limit. */
	cr_assert_eq(dechunk_both("FFFFFFFFFFFFFFFF\r\n", 1 << 20, NULL, 0),
	    -413);
	cr_assert_eq(dechunk_both("7FFFFFFFFFFFFFFF\r\n", 1 << 20, NULL, 0),
	    -413);
}

Test(http, chunked_sticky_and_done)
{
	struct http_chunked	 c;
	struct buf		 b;
	size_t			 used;

	buf_init(&b, 64);
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, "x", 1, &used, &b), -400);
	cr_assert_eq(http_chunked_feed(&c, "0\r\n\r\n", 5, &used, &b), -400);
	cr_assert_eq(used, 0);

	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, "1\r\na\r\n", 6, &used, &b), 0);
	cr_assert_eq(used, 6);
	cr_assert_eq(http_chunked_feed(&c, "0\r\n\r\nrest", 9, &used, &b), 1);
	cr_assert_eq(used, 5);
	cr_assert_eq(http_chunked_feed(&c, "rest", 4, &used, &b), 1);
	cr_assert_eq(used, 0);
	cr_assert_eq(b.len, 1);
	/* Nothing fed: need more. */
	http_chunked_init(&c);
	cr_assert_eq(http_chunked_feed(&c, "", 0, &used, &b), 0);
	cr_assert_eq(used, 0);
	buf_release(&b);
}

Test(http, chunked_framing_limits)
{
	struct buf	 b;
	char		*s;
	size_t		 i, n, used;
	int		 r;

	s = malloc(1 << 20);
	/* One extension line over 4096 bytes. */
	n = sprintf(s, "1;");
	memset(s + n, 'e', 4100);
	n += 4100;
	n += sprintf(s + n, "\r\na\r\n0\r\n\r\n");
	cr_assert_eq(dechunk(s, n, 1024, n, &b, &used), -400);
	buf_release(&b);
	/* A long but allowed one. */
	n = sprintf(s, "1;");
	memset(s + n, 'e', 4000);
	n += 4000;
	n += sprintf(s + n, "\r\na\r\n0\r\n\r\n");
	cr_assert_eq(dechunk(s, n, 1024, n, &b, &used), 1);
	buf_release(&b);
	/* Many one-byte chunks with long extensions: framing >> data. */
	for (n = 0, i = 0; i < 16; i++) {
		n += sprintf(s + n, "1;");
		memset(s + n, 'e', 2000);
		n += 2000;
		n += sprintf(s + n, "\r\na\r\n");
	}
	n += sprintf(s + n, "0\r\n\r\n");
	cr_assert_eq(dechunk(s, n, 1 << 20, n, &b, &used), -400);
	buf_release(&b);
	/* Trailers without end. */
	n = sprintf(s, "0\r\n");
	for (i = 0; i < 1000; i++)
		n += sprintf(s + n, "X-%04zu: aaaaaaaaaaaaaaaaaaaaaa\r\n", i);
	n += sprintf(s + n, "\r\n");
	cr_assert_eq(dechunk(s, n, 1024, n, &b, &used), -400);
	buf_release(&b);
	/* Many small honest chunks are fine. */
	for (n = 0, i = 0; i < 10000; i++)
		n += sprintf(s + n, "1\r\n%c\r\n", 'a' + (int)(i % 26));
	n += sprintf(s + n, "0\r\n\r\n");
	r = dechunk(s, n, 1 << 20, 7, &b, &used);
	cr_assert_eq(r, 1);
	cr_assert_eq(b.len, 10000);
	cr_assert_eq(used, n);
	buf_release(&b);
	free(s);
}

/* ---- reasons ---- */

Test(http, reasons)
{
	cr_assert_str_eq(http_reason(200), "OK");
	cr_assert_str_eq(http_reason(301), "Moved Permanently");
	cr_assert_str_eq(http_reason(400), "Bad Request");
	cr_assert_str_eq(http_reason(403), "Forbidden");
	cr_assert_str_eq(http_reason(404), "Not Found");
	cr_assert_str_eq(http_reason(405), "Method Not Allowed");
	cr_assert_str_eq(http_reason(413), "Request Entity Too Large");
	cr_assert_str_eq(http_reason(414), "Request URI Too Long");
	cr_assert_str_eq(http_reason(417), "Expectation Failed");
	cr_assert_str_eq(http_reason(431), "Request Header Fields Too Large");
	cr_assert_str_eq(http_reason(501), "Not Implemented");
	cr_assert_str_eq(http_reason(505), "HTTP Version Not Supported");
	cr_assert_str_eq(http_reason(599), "Unknown");
	cr_assert_str_eq(http_reason(-400), "Unknown");
}
