/*
 * libFuzzer harness for keystore-agent/gcp_json.c and the token answer
 * parser of keystore-agent/oauth2.c: everything a GCP Secret Manager, a
 * Google token endpoint or a metadata server (or anything posing as one)
 * answers, and the service-account key file. The first byte picks the
 * HTTP status of a token answer; the rest is the body, given to every
 * parser. Besides memory errors it aborts when a promise breaks:
 *   - a failure leaves no output behind, and its text is NUL-terminated
 *     within its buffer;
 *   - an access token is non-empty, without blanks or control characters
 *     (it becomes a header), at most OAUTH2_TOKEN_MAX bytes, with a
 *     lifetime > 0, and only a 200 gives one;
 *   - an error's status and message are printable ASCII;
 *   - a created secret's name is projects/.../secrets/<id> without '?',
 *     '#', '%', blanks, ".." or "//" (it becomes a path);
 *   - a value is non-empty; listed ids are non-empty without '/';
 *   - a next page token is non-empty.
 *
 * gcp_json.c is #included so that its static helpers are visible; the
 * rest comes from the library tests/fuzz/run.sh builds.
 */
#include "keystore-agent/gcp_json.c"

#include "keystore-agent/oauth2.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const long statuses[] = { 200, 400, 401, 403, 404, 500, 503, 302 };

static void
printable(const char *s, size_t len)
{
	CHECK(strnlen(s, len) < len);
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

static int
id_cb(const char *id, void *arg)
{
	size_t *n = arg;

	CHECK(*id != '\0' && strchr(id, '/') == NULL);
	return ++*n > 100000 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gcp_sa	 sa;
	char		 st[64], msg[GCP_DETAIL_MAX + 1], err[256], *s, *next;
	uint8_t		*v;
	size_t		 vlen, n = 0, got;
	uint64_t	 life;
	long		 status;
	int		 r;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	data++;
	size--;

	r = oauth2_parse_token(status, data, size, &s, &life, err,
	    sizeof(err));
	if (r == 0) {
		CHECK(status == 200 && s != NULL && *s != '\0' && life > 0);
		CHECK(strlen(s) <= OAUTH2_TOKEN_MAX);
		for (n = 0; s[n] != '\0'; n++)
			CHECK(s[n] > 0x20 && s[n] < 0x7f);
		freezero_str(s);
	} else {
		CHECK(r == -1 && s == NULL);
		CHECK(strnlen(err, sizeof(err)) < sizeof(err));
	}

	gcp_parse_error(data, size, st, sizeof(st), msg, sizeof(msg));
	printable(st, sizeof(st));
	printable(msg, sizeof(msg));

	if (gcp_parse_secret(data, size, &s, err, sizeof(err)) == 0) {
		CHECK(strncmp(s, "projects/", 9) == 0 &&
		    strstr(s, "/secrets/") != NULL);
		CHECK(strpbrk(s, "?#% \t\r\n") == NULL);
		CHECK(strstr(s, "..") == NULL && strstr(s, "//") == NULL);
		free(s);
	} else
		CHECK(s == NULL);

	if (gcp_parse_access(data, size, &v, &vlen, err, sizeof(err)) == 0) {
		CHECK(v != NULL && vlen > 0);
		freezero(v, vlen);
	} else
		CHECK(v == NULL && vlen == 0);

	n = 0;
	if (gcp_parse_list(data, size, id_cb, &n, &next, &got, err,
	    sizeof(err)) == 0) {
		CHECK(got == n);
		CHECK(next == NULL || *next != '\0');
		free(next);
	} else
		CHECK(next == NULL);

	if (gcp_parse_sa_file(data, size, &sa, err, sizeof(err)) == 0) {
		CHECK(sa.email != NULL && sa.key != NULL && sa.kid != NULL &&
		    sa.token_uri != NULL);
		gcp_sa_free(&sa);
	} else
		CHECK(sa.email == NULL && sa.key == NULL);
	return 0;
}
