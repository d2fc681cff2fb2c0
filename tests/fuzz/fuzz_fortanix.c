/*
 * libFuzzer harness for keystore-agent/fortanix_json.c: every parser of
 * what a Fortanix DSM (or anything posing as one) answers. The first byte
 * picks the HTTP status, the Content-Type and whether a listing page
 * follows another; the rest is the body. Besides memory errors it aborts
 * when a promise breaks:
 *   - results are in range, and a failure leaves no output behind;
 *   - a session token is non-empty printable ASCII without blanks;
 *   - a value is at most KES_STORED_MAX bytes and comes only with a 200;
 *     a kid is empty or of [0-9A-Za-z-]; only a 404 is "absent";
 *   - only 201 creates, only 409 exists, only 204 deletes;
 *   - a listing page hands over only names after the one it follows,
 *     its greatest name in last;
 *   - every detail is NUL-terminated within its buffer and printable.
 *
 * fortanix_json.c is #included rather than linked because
 * tests/fuzz/run.sh compiles each harness with the common/ sources only.
 */
#include "keystore-agent/fortanix_json.c"

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

struct seen {
	const char	*after;
	char		 max[FX_NAME_BUF];
	size_t		 n;
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
	struct seen *s = arg;

	CHECK(name != NULL && strlen(name) < FX_NAME_BUF);
	CHECK(s->after == NULL || strcmp(name, s->after) > 0);
	if (strcmp(name, s->max) > 0)
		strcpy(s->max, name);
	s->n++;
	return s->n > 100000 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen	 s;
	enum fx_get	 g;
	uint8_t		*v;
	size_t		 vlen, entries, n, i;
	char		 err[256], msg[256], kid[FX_KID_MAX + 1];
	char		 last[FX_NAME_BUF], *tok;
	const char	*ctype;
	long		 status;
	int		 r;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	ctype = ctypes[(data[0] >> 4) & 3];
	memset(&s, 0, sizeof(s));
	s.after = (data[0] & 0x80) ? "m" : NULL;
	data++;
	size--;

	fx_error_text(ctype, data, size, msg, sizeof(msg));
	check_detail(msg, sizeof(msg));

	err[0] = '\0';
	r = fx_parse_auth(status, ctype, data, size, &tok, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(status == 200 && tok != NULL && tok[0] != '\0');
		for (i = 0; tok[i] != '\0'; i++)
			CHECK(tok[i] > 0x20 && tok[i] < 0x7f);
		CHECK(i <= FX_TOKEN_MAX);
		freezero_str(tok);
	} else {
		CHECK(tok == NULL);
		check_detail(err, sizeof(err));
	}

	r = fx_parse_create(status, ctype, data, size, "k", err, sizeof(err));
	CHECK(r >= -1 && r <= 1);
	CHECK((r == 0) == (status == 201));
	CHECK(r != 1 || status == 409);
	if (r != 0)
		check_detail(err, sizeof(err));

	g = fx_parse_export(status, ctype, data, size, "k", &v, &vlen, kid,
	    err, sizeof(err));
	CHECK(g == FX_VALUE || g == FX_ABSENT || g == FX_FAIL);
	CHECK(g != FX_ABSENT || status == 404);
	CHECK(strlen(kid) <= FX_KID_MAX);
	for (i = 0; kid[i] != '\0'; i++)
		CHECK(strchr("0123456789abcdefghijklmnopqrstuvwxyz"
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZ-", kid[i]) != NULL);
	if (g == FX_VALUE) {
		CHECK(status == 200 && vlen <= KES_STORED_MAX);
		CHECK((v == NULL) == (vlen == 0));
		if (v != NULL)
			freezero(v, vlen);
	} else {
		CHECK(v == NULL && vlen == 0 && kid[0] == '\0');
		if (g == FX_FAIL)
			check_detail(err, sizeof(err));
	}

	r = fx_parse_delete(status, ctype, data, size, "k", err, sizeof(err));
	CHECK(r == 0 || r == -1);
	CHECK((r == 0) == (status == 204));
	if (r != 0)
		check_detail(err, sizeof(err));

	r = fx_parse_list(status, ctype, data, size, s.after, name_cb, &s,
	    &entries, &n, last, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(status == 200 && n == s.n && n <= entries);
		CHECK(strcmp(last, s.max) == 0);
	} else
		check_detail(err, sizeof(err));
	return 0;
}
