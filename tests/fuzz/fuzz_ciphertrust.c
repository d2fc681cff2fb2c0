/*
 * libFuzzer harness for keystore-agent/ciphertrust_json.c: every parser of
 * what a CipherTrust Manager (or anything posing as one) answers. The
 * first byte picks the HTTP status the answer came with and the page's
 * expected skip; the rest is the body. Besides memory errors it aborts
 * when a promise breaks:
 *   - results are in range, and a failure leaves no output behind;
 *   - an access token is non-empty printable ASCII without blanks (it
 *     becomes a header), at most CT_JWT_MAX bytes, with a duration > 0;
 *   - a value is at most KES_STORED_MAX bytes and NUL-terminated after
 *     its length; only a 200 gives one, only a 404 is "absent";
 *   - only 201 creates, only 409 exists, only 204 deletes;
 *   - a listing page has the skip asked for, and listed names are
 *     NUL-terminated strings;
 *   - every detail is NUL-terminated within its buffer and printable.
 *
 * ciphertrust_json.c is #included rather than linked because
 * tests/fuzz/run.sh compiles each harness with the common/ sources only.
 */
#include "keystore-agent/ciphertrust_json.c"

#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const long statuses[] = {
	200, 201, 204, 400, 401, 403, 404, 409, 500, 503, 302, 100, 202, 599
};
/* The answer's Content-Type decides JSON or text for an error body. */
static const char *const ctypes[] = {
	NULL, "application/json", "text/plain",
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
	return ++*n > 4096 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ct_token	 t;
	struct ct_error	 e;
	struct ct_page	 pg;
	enum ct_get	 g;
	uint8_t		*v;
	size_t		 vlen, n = 0, i;
	char		 err[256];
	const char	*ctype;
	long		 status;
	uint64_t	 skip;
	int		 r;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	skip = (data[0] & 0x80) ? 200 : 0;
	ctype = ctypes[(data[0] >> 5) & 3];
	data++;
	size--;

	err[0] = '\0';
	r = ct_parse_auth(status, ctype, data, size, &t, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(status == 200 && t.jwt != NULL && t.duration_s > 0);
		CHECK(strlen(t.jwt) > 0 && strlen(t.jwt) <= CT_JWT_MAX);
		for (i = 0; t.jwt[i] != '\0'; i++)
			CHECK(t.jwt[i] > 0x20 && t.jwt[i] < 0x7f);
		freezero_str(t.jwt);
	} else {
		CHECK(t.jwt == NULL);
		check_detail(err, sizeof(err));
	}

	r = ct_parse_error(status, ctype, data, size, &e, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	check_detail(r == 0 ? e.desc : err, r == 0 ? sizeof(e.desc) :
	    sizeof(err));

	r = ct_parse_create(status, ctype, data, size, "k", err,
	    sizeof(err));
	CHECK(r >= -1 && r <= 1);
	CHECK((r == 0) == (status == 201) && (r == 1) == (status == 409));
	if (r != 0)
		check_detail(err, sizeof(err));

	g = ct_parse_export(status, ctype, data, size, "k", &v, &vlen, err,
	    sizeof(err));
	CHECK(g == CT_VALUE || g == CT_ABSENT || g == CT_FAIL);
	CHECK((g == CT_ABSENT) == (status == 404));
	if (g == CT_VALUE) {
		CHECK(status == 200);
		CHECK(v != NULL && vlen <= KES_STORED_MAX && v[vlen] == '\0');
		freezero(v, vlen + 1);
	} else
		CHECK(v == NULL && vlen == 0);
	if (g == CT_FAIL)
		check_detail(err, sizeof(err));

	r = ct_parse_delete(status, ctype, data, size, "k", err,
	    sizeof(err));
	CHECK(r >= -1 && r <= 1);
	CHECK((r == 0) == (status == 204) && (r == 1) == (status == 404));

	r = ct_parse_list(status, ctype, data, size, skip, name_cb, &n, &pg,
	    err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0)
		CHECK(status == 200 && pg.skip == skip);
	else
		check_detail(err, sizeof(err));
	return 0;
}
