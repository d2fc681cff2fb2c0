/*
 * libFuzzer harness for keystore-agent/azure_json.c: everything an Azure
 * Key Vault (or anything posing as one) answers. The first byte picks
 * the clock for the usability check; the rest is the body, given to
 * every parser. Besides memory errors it aborts when a promise breaks:
 *   - a failure leaves no output behind;
 *   - error fields and reasons are printable ASCII within their buffers;
 *   - a value is NUL-terminated after its length;
 *   - a chosen version and listed names are non-empty, without '/', '?',
 *     '#', '%', blanks (they become a path);
 *   - a nextLink is non-empty.
 *
 * azure_json.c is #included so that its static helpers are visible; the
 * rest comes from the library tests/fuzz/run.sh builds.
 */
#include "keystore-agent/azure_json.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
printable(const char *s, size_t len)
{
	CHECK(strnlen(s, len) < len);
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
}

static void
segment(const char *s)
{
	CHECK(*s != '\0' && strpbrk(s, "/?#% \t\r\n") == NULL);
}

static int
name_cb(const char *name, void *arg)
{
	size_t *n = arg;

	segment(name);
	return ++*n > 100000 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	 code[64], inner[64], msg[AZ_DETAIL_MAX + 1], why[256];
	char	*v, *next;
	size_t	 vlen, n = 0;
	bool	 more;
	int64_t	 now;
	int	 r;

	if (size < 1)
		return 0;
	now = (int64_t)data[0] * 10000000;
	data++;
	size--;

	az_parse_error(data, size, code, sizeof(code), inner, sizeof(inner),
	    msg, sizeof(msg));
	printable(code, sizeof(code));
	printable(inner, sizeof(inner));
	printable(msg, sizeof(msg));

	r = az_parse_bundle(data, size, now, &v, &vlen, why, sizeof(why));
	if (r == 0) {
		CHECK(v != NULL && v[vlen] == '\0');
		freezero(v, vlen + 1);
	} else {
		CHECK((r == 1 || r == -1) && v == NULL);
		CHECK(strnlen(why, sizeof(why)) < sizeof(why));
	}

	if (az_parse_versions(data, size, &v, &more, why, sizeof(why)) == 0) {
		if (v != NULL)
			segment(v);
		free(v);
	} else
		CHECK(v == NULL);

	if (az_parse_list(data, size, name_cb, &n, &next, why,
	    sizeof(why)) == 0) {
		CHECK(next == NULL || *next != '\0');
		free(next);
	} else
		CHECK(next == NULL);
	return 0;
}
