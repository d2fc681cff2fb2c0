/*
 * libFuzzer harness for keystore-agent/aws_json.c: every parser of what
 * AWS Secrets Manager, the container credentials endpoint or EC2's
 * instance metadata (or anything posing as them) answers. The first byte
 * picks the parser; the rest is the body. Besides memory errors it
 * aborts when a promise breaks:
 *   - an error's code and message are NUL-terminated, printable, within
 *     their buffers, and the code holds no '#';
 *   - a value is non-empty, NUL-terminated after its length, and a
 *     failure leaves none behind;
 *   - listed names are non-empty strings; NextToken, when given, is at
 *     most AWS_TOKEN_MAX bytes;
 *   - credentials have an access key id and a secret without blanks or
 *     control characters (they become headers), and a failure leaves
 *     none behind;
 *   - every reason is NUL-terminated within its buffer.
 *
 * aws_json.c is #included rather than linked because tests/fuzz/run.sh
 * compiles each harness with the common/ sources only.
 */
#include "keystore-agent/aws_json.c"

#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static void
check_text(const char *s, size_t len)
{
	size_t n = strnlen(s, len);

	CHECK(n < len);
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s >= 0x20 && *s != 0x7f);
}

static void
check_header_safe(const char *s)
{
	CHECK(s != NULL && *s != '\0');
	for (; *s != '\0'; s++)
		CHECK((unsigned char)*s > 0x20 && *s != 0x7f);
}

static int
name_cb(const char *name, void *arg)
{
	size_t *n = arg;

	CHECK(name != NULL && *name != '\0');
	return ++*n > 4096 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct aws_cred_doc	 d;
	char			 code[AWS_CODE_MAX], msg[AWS_MSG_MAX], why[256];
	char			*next;
	uint8_t			*v;
	size_t			 vlen, n = 0;
	int			 sel;

	if (size < 1)
		return 0;
	gojson_init();
	sel = data[0] % 4;
	data++;
	size--;
	why[0] = '\0';
	switch (sel) {
	case 0:
		aws_parse_error(data, size, code, sizeof(code), msg,
		    sizeof(msg));
		check_text(code, sizeof(code));
		check_text(msg, sizeof(msg));
		CHECK(strchr(code, '#') == NULL);
		break;
	case 1:
		if (aws_parse_get(data, size, &v, &vlen, why,
		    sizeof(why)) == 0) {
			CHECK(v != NULL && vlen > 0 && v[vlen] == '\0');
			freezero(v, vlen + 1);
		} else {
			CHECK(v == NULL && vlen == 0);
			CHECK(strnlen(why, sizeof(why)) < sizeof(why));
		}
		break;
	case 2:
		if (aws_parse_list(data, size, name_cb, &n, &next, why,
		    sizeof(why)) == 0) {
			if (next != NULL) {
				CHECK(*next != '\0');
				CHECK(strlen(next) <= AWS_TOKEN_MAX);
			}
			free(next);
		} else {
			CHECK(next == NULL);
			CHECK(strnlen(why, sizeof(why)) < sizeof(why));
		}
		break;
	default:
		if (aws_parse_creds(data, size, &d, why, sizeof(why)) == 0) {
			check_header_safe(d.akid);
			check_header_safe(d.secret);
			if (d.token != NULL)
				check_header_safe(d.token);
			aws_cred_doc_free(&d);
		} else {
			CHECK(d.akid == NULL && d.secret == NULL &&
			    d.token == NULL);
			CHECK(strnlen(why, sizeof(why)) < sizeof(why));
		}
		break;
	}
	return 0;
}
