/*
 * libFuzzer harness for worker/http.c: request heads (pipelined), request
 * targets, path cleaning and escaping, chunked bodies. Besides memory
 * errors it checks the parser's promises and aborts when one breaks:
 * results in the documented set, pointers inside the input, prefixes
 * giving 0 or the same result, cleaning idempotent, and the chunked
 * decoder agreeing with itself whether fed at once or in pieces.
 *
 * worker/http.c is #included rather than linked because tests/fuzz/run.sh
 * compiles each harness with the common/ sources only. Its public
 * functions are renamed first, so the build also links when worker/http.c
 * is given on the command line as well: the included copy then defines
 * fuzz_http_* and cannot clash. A function added to http.c needs a line
 * here.
 */
#define http_parse_head		fuzz_http_parse_head
#define http_head_ready		fuzz_http_head_ready
#define http_header_get		fuzz_http_header_get
#define http_split_target	fuzz_http_split_target
#define http_clean_path		fuzz_http_clean_path
#define http_escape_path	fuzz_http_escape_path
#define http_chunked_init	fuzz_http_chunked_init
#define http_chunked_feed	fuzz_http_chunked_feed
#define http_reason		fuzz_http_reason
#define http_method_name	fuzz_http_method_name
#include "worker/http.c"

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"

#define BODY_MAX	(1024 * 1024)

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static bool
inside(const char *p, size_t len, const char *q, size_t qlen)
{
	return q >= p && qlen <= len && (size_t)(q - p) <= len - qlen;
}

static bool
head_result(int r)
{
	return r >= 0 || r == -400 || r == -414 || r == -417 || r == -431 ||
	    r == -501 || r == -505;
}

static void
check_head(const char *p, size_t len, int r, const struct http_request *req)
{
	struct http_request	 again;
	size_t			 i, k;
	int			 r2;

	CHECK(head_result(r));
	/* A prefix gives 0 or the same answer; 0 if shorter than the head. */
	for (i = 0; i < 3; i++) {
		k = i == 0 ? len / 2 : i == 1 ? len - (len > 0) :
		    (r > 0 ? (size_t)r - 1 : len / 3);
		r2 = http_parse_head(p, k, &again);
		if (r > 0)
			CHECK(k < (size_t)r ? r2 == 0 : r2 == r);
		else
			CHECK(r2 == 0 || r2 == r);
	}
	if (r <= 0)
		return;

	CHECK(http_head_ready(p, len, 0));
	CHECK(req->head_len == (size_t)r && req->head_len <= len);
	CHECK(req->head_len <= HTTP_MAX_HEAD_BYTES);
	CHECK(req->nheaders <= HTTP_MAX_HEADERS);
	CHECK(req->minor == 0 || req->minor == 1);
	CHECK(req->method_len > 0 &&
	    inside(p, req->head_len, req->method_str, req->method_len));
	CHECK(req->target_len > 0 &&
	    inside(p, req->head_len, req->target, req->target_len));
	CHECK(req->target_len <= HTTP_MAX_REQUEST_LINE);
	for (i = 0; i < req->nheaders; i++) {
		const struct http_header *h = &req->headers[i];

		CHECK(h->name_len > 0 &&
		    inside(p, req->head_len, h->name, h->name_len));
		CHECK(inside(p, req->head_len, h->value, h->value_len));
		CHECK(memchr(h->value, '\r', h->value_len) == NULL);
		CHECK(memchr(h->value, '\n', h->value_len) == NULL);
		CHECK(memchr(h->value, '\0', h->value_len) == NULL);
	}
	CHECK(http_header_get(req, "content-length") == NULL ||
	    http_header_get(req, "transfer-encoding") == NULL);
	if (req->body == HTTP_BODY_LENGTH)
		CHECK(req->content_length <= INT64_MAX);
	CHECK(req->method == HTTP_OTHER ||
	    (strlen(http_method_name(req->method)) == req->method_len &&
	    memcmp(http_method_name(req->method), req->method_str,
	    req->method_len) == 0));
}

/* Exactly sized heap copies, so ASan sees any overrun. */
static void
check_path(const char *path)
{
	size_t	 n = strlen(path), i;
	char	*clean, *again, *esc;
	bool	 changed;
	int	 w;

	clean = malloc(n + 2);
	again = malloc(n + 2);
	changed = http_clean_path(path, clean, n + 2);
	CHECK(changed == (strcmp(clean, path) != 0));
	CHECK(clean[0] == '/' && strlen(clean) <= n + 1);
	CHECK(!http_clean_path(clean, again, n + 2));
	CHECK(strcmp(again, clean) == 0);
	CHECK(strstr(clean, "//") == NULL && strstr(clean, "/./") == NULL &&
	    strstr(clean, "/../") == NULL);
	free(again);

	esc = malloc(3 * n + 1);
	w = http_escape_path(path, esc, 3 * n + 1);
	CHECK(w >= 0 && (size_t)w == strlen(esc));
	for (i = 0; esc[i] != '\0'; i++)
		CHECK(esc[i] > 0x20 && esc[i] < 0x7f && esc[i] != '?' &&
		    esc[i] != '#');
	free(esc);
	free(clean);
}

static void
check_target(const char *t, size_t len)
{
	const char	*q;
	size_t		 qlen, i, n;
	char		*path;
	int		 r;

	path = malloc(len + 1);
	r = http_split_target(t, len, path, len + 1, &q, &qlen);
	CHECK(r == 0 || r == -400);
	if (r == 0) {
		n = strlen(path);
		CHECK(path[0] == '/' && n <= len + 1 && n > 0);
		for (i = 0; i < n; i++)
			CHECK((unsigned char)path[i] >= 0x20 &&
			    path[i] != 0x7f);
		CHECK(q == NULL ? qlen == 0 : inside(t, len, q, qlen));
		check_path(path);
	}
	free(path);
}

/*
 * Decode p[0, len) at once and in pieces of `step`; both must give the
 * same result, the same number of bytes used and the same data.
 */
static int
check_chunked(const char *p, size_t len, size_t step, size_t *usedp)
{
	struct http_chunked	 a, b;
	struct buf		 oa, ob;
	size_t			 ua, ub, off = 0, n;
	int			 ra, rb = 0;

	buf_init(&oa, BODY_MAX);
	buf_init(&ob, BODY_MAX);
	http_chunked_init(&a);
	http_chunked_init(&b);
	ra = http_chunked_feed(&a, p, len, &ua, &oa);
	CHECK(ra == 1 || ra == 0 || ra == -400 || ra == -413);
	CHECK(ua <= len && (ra != 0 || ua == len));
	do {
		n = len - off < step ? len - off : step;
		rb = http_chunked_feed(&b, p + off, n, &ub, &ob);
		CHECK(ub <= n && (rb != 0 || ub == n));
		off += ub;
	} while (rb == 0 && off < len);
	CHECK(ra == rb);
	CHECK(oa.len <= BODY_MAX);
	if (ra >= 0) {
		CHECK(off == ua);
		CHECK(oa.len == ob.len &&
		    (oa.len == 0 || memcmp(oa.data, ob.data, oa.len) == 0));
	}
	/* Errors and the end are sticky. */
	if (ra != 0) {
		CHECK(http_chunked_feed(&a, p, len, &ub, &oa) == ra);
		CHECK(ub == 0);
	}
	buf_release(&oa);
	buf_release(&ob);
	*usedp = ua;
	return ra;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*p = (const char *)data;
	struct http_request	 req;
	size_t			 off = 0, used, step;
	char			*copy;
	int			 r;

	/* The pieces the chunked decoder is fed in, from the first byte. */
	step = size > 0 ? data[0] % 16 + 1 : 1;

	/* Pipelined requests, as the worker walks its buffer. */
	while (off < size) {
		r = http_parse_head(p + off, size - off, &req);
		check_head(p + off, size - off, r, &req);
		if (r <= 0)
			break;
		check_target(req.target, req.target_len);
		http_reason(200);
		off += (size_t)r;
		if (req.body == HTTP_BODY_LENGTH) {
			if (req.content_length > size - off)
				break;
			off += (size_t)req.content_length;
		} else if (req.body == HTTP_BODY_CHUNKED) {
			if (check_chunked(p + off, size - off, step,
			    &used) != 1)
				break;
			off += used;
		}
	}

	/* The other entry points on the raw input. */
	check_chunked(p, size, step, &used);
	check_target(p, size);
	copy = malloc(size + 1);
	memcpy(copy, p, size);
	copy[size] = '\0';
	check_path(copy);
	free(copy);
	return 0;
}
