/*
 * libFuzzer harness for keystore-agent/entrust_json.c: every parser of
 * what an Entrust KeyControl (or anything posing as one) answers. The
 * first byte picks the HTTP status and the Content-Type; the rest is the
 * body. Besides memory errors it aborts when a promise breaks:
 *   - results are in range, and a failure leaves no output behind;
 *   - an access token is non-empty printable ASCII without blanks;
 *   - a value is 1 to KES_STORED_MAX bytes and comes only with a 200;
 *     only a 404 is "absent", only a 409 "exists";
 *   - a listing's next_token is NUL-terminated within EN_NEXT_MAX;
 *   - every detail is NUL-terminated within its buffer and printable.
 * It also feeds the body to the RFC 3339 reader.
 *
 * entrust_json.c is #included rather than linked because
 * tests/fuzz/run.sh compiles each harness with the common/ sources only.
 */
#include "keystore-agent/entrust_json.c"

#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const long statuses[] = {
	200, 201, 204, 400, 401, 403, 404, 409, 429, 500, 503, 302, 100, 202
};
static const char *const ctypes[] = {
	NULL, "application/json", "text/plain; charset=utf-8",
	" application/json; charset=utf-8"
};

static void
check_detail(const char *e, size_t len)
{
	size_t n = strnlen(e, len);

	CHECK(n < len);
	for (; *e != '\0'; e++)
		CHECK((unsigned char)*e >= 0x20 && (unsigned char)*e < 0x7f);
}

static int
name_cb(const char *name, void *arg)
{
	size_t *n = arg;

	CHECK(name != NULL);
	(void)strlen(name);
	return ++*n > 100000 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum en_get	 g;
	uint8_t		*v;
	size_t		 vlen, n, seen = 0, i;
	char		 err[256], text[64], next[EN_NEXT_MAX + 1], *tok;
	const char	*ctype;
	int64_t		 exp, t;
	long		 status;
	int		 r;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	ctype = ctypes[(data[0] >> 4) & 3];
	data++;
	size--;

	(void)en_rfc3339((const char *)data, size, &t);

	en_error(status, ctype, data, size, text, sizeof(text), err,
	    sizeof(err));
	check_detail(text, sizeof(text));
	check_detail(err, sizeof(err));

	err[0] = '\0';
	r = en_parse_token(status, ctype, data, size, &tok, &exp, err,
	    sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(status == 200 && tok != NULL && tok[0] != '\0');
		for (i = 0; tok[i] != '\0'; i++)
			CHECK(tok[i] > 0x20 && tok[i] < 0x7f);
		CHECK(i <= EN_TOKEN_MAX && exp >= 0);
		freezero_str(tok);
	} else {
		CHECK(tok == NULL);
		check_detail(err, sizeof(err));
	}

	r = en_parse_create(status, ctype, data, size, "k", err, sizeof(err));
	CHECK(r >= -1 && r <= 1);
	CHECK((r == 0) == (status == 200));
	CHECK(r != 1 || status == 409);
	if (r != 0)
		check_detail(err, sizeof(err));

	g = en_parse_checkout(status, ctype, data, size, "k", &v, &vlen, err,
	    sizeof(err));
	CHECK(g == EN_VALUE || g == EN_ABSENT || g == EN_FAIL);
	CHECK(g != EN_ABSENT || status == 404);
	if (g == EN_VALUE) {
		CHECK(status == 200 && v != NULL && vlen > 0 &&
		    vlen <= KES_STORED_MAX);
		freezero(v, vlen);
	} else {
		CHECK(v == NULL && vlen == 0);
		if (g == EN_FAIL)
			check_detail(err, sizeof(err));
	}

	r = en_parse_delete(status, ctype, data, size, "k", err, sizeof(err));
	CHECK(r >= -1 && r <= 1);
	CHECK((r == 0) == (status == 200));
	CHECK(r != 1 || status == 404);
	if (r == -1)
		check_detail(err, sizeof(err));

	r = en_parse_box(status, ctype, data, size, err, sizeof(err));
	CHECK((r == 0) == (status == 200));

	r = en_parse_list(status, ctype, data, size, name_cb, &seen, &n, next,
	    err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(status == 200 && n == seen);
		CHECK(strlen(next) <= EN_NEXT_MAX);
	} else
		check_detail(err, sizeof(err));
	return 0;
}
