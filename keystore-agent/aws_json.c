/*
 * Secrets Manager's JSON and the temporary-credential documents
 * (aws_json.h). Answers are parsed with jansson (through common/gojson.c,
 * whose allocator wipes), case-sensitively as aws-sdk-go's jsonutil
 * does for its generated structs.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/rand.h>

#include "common/b64.h"
#include "common/gojson.h"
#include "common/gotime.h"
#include "common/json_out.h"
#include "common/xmalloc.h"
#include "keystore-agent/aws_json.h"

/* --- request bodies --- */

int
aws_body_create(struct buf *b, const char *crt, const char *kmskey,
    const char *name, const uint8_t *value, size_t len)
{
	char	*v;
	int	 rc;

	v = xmalloc(len + 1);
	memcpy(v, value, len);
	v[len] = '\0';
	rc = buf_put(b, "{", 1) | json_key(b, "ClientRequestToken") |
	    json_str(b, crt) | buf_put(b, ",", 1);
	if (kmskey != NULL && *kmskey != '\0')
		rc |= json_key(b, "KmsKeyId") | json_str(b, kmskey) |
		    buf_put(b, ",", 1);
	rc |= json_key(b, "Name") | json_str(b, name) | buf_put(b, ",", 1) |
	    json_key(b, "SecretString") | json_str(b, v) | buf_put(b, "}", 1);
	freezero(v, len + 1);
	return rc != 0 ? -1 : 0;
}

int
aws_body_secret_id(struct buf *b, const char *name)
{
	return (buf_put(b, "{", 1) | json_key(b, "SecretId") |
	    json_str(b, name) | buf_put(b, "}", 1)) != 0 ? -1 : 0;
}

int
aws_body_delete(struct buf *b, const char *name)
{
	return (buf_put(b, "{", 1) | json_key(b, "ForceDeleteWithoutRecovery") |
	    buf_put(b, "true,", 5) | json_key(b, "SecretId") |
	    json_str(b, name) | buf_put(b, "}", 1)) != 0 ? -1 : 0;
}

int
aws_body_list(struct buf *b, const char *next)
{
	if (next == NULL)
		return buf_put(b, "{}", 2);
	return (buf_put(b, "{", 1) | json_key(b, "NextToken") |
	    json_str(b, next) | buf_put(b, "}", 1)) != 0 ? -1 : 0;
}

/* aws-sdk-go private/protocol/idempotency.go: version and variant bits
 * set, printed %X-%X-%X-%X-%X. */
void
aws_uuid(char out[AWS_UUID_LEN + 1])
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		memset(b, 0, sizeof(b));	/* XXX: never seen; the
						 * token only makes retries
						 * idempotent */
	b[6] = (uint8_t)((b[6] | 0x40) & 0x4F);
	b[8] = (uint8_t)((b[8] | 0x80) & 0xBF);
	snprintf(out, AWS_UUID_LEN + 1, "%02X%02X%02X%02X-%02X%02X-%02X%02X-"
	    "%02X%02X-%02X%02X%02X%02X%02X%02X", b[0], b[1], b[2], b[3], b[4],
	    b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	    b[15]);
}

/* --- answers --- */

static json_t *
load_obj(const uint8_t *p, size_t len)
{
	json_t *j = json_loadb((const char *)p, len, 0, NULL);

	if (j != NULL && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A printable copy of s for a log line: control characters become '?'. */
static void
copy_text(char *out, size_t outlen, const char *s)
{
	size_t i;

	snprintf(out, outlen, "%s", s != NULL ? s : "");
	for (i = 0; out[i] != '\0'; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			out[i] = '?';
}

void
aws_parse_error(const uint8_t *p, size_t len, char *code, size_t codelen,
    char *msg, size_t msglen)
{
	json_t		*j;
	const char	*t, *m, *h;

	code[0] = '\0';
	msg[0] = '\0';
	if ((j = load_obj(p, len)) == NULL)
		return;
	if ((t = json_string_value(json_object_get(j, "__type"))) != NULL) {
		/* jsonrpc/unmarshal_error.go: "prefix#Code" -> "Code" */
		if ((h = strrchr(t, '#')) != NULL)
			t = h + 1;
		copy_text(code, codelen, t);
	}
	if ((m = json_string_value(json_object_get(j, "message"))) == NULL)
		m = json_string_value(json_object_get(j, "Message"));
	copy_text(msg, msglen, m);
	json_decref(j);
}

int
aws_parse_get(const uint8_t *p, size_t len, uint8_t **val, size_t *vlen,
    char *why, size_t whylen)
{
	json_t		*j, *s, *bin;
	const char	*b64;
	size_t		 n, cap;

	*val = NULL;
	*vlen = 0;
	if ((j = load_obj(p, len)) == NULL) {
		snprintf(why, whylen, "the answer is not a JSON object");
		return -1;
	}
	s = json_object_get(j, "SecretString");
	bin = json_object_get(j, "SecretBinary");
	if (json_is_string(s)) {
		n = json_string_length(s);
		*val = xmalloc(n + 1);
		memcpy(*val, json_string_value(s), n);
		(*val)[n] = '\0';
		*vlen = n;
	} else if (json_is_string(bin)) {
		b64 = json_string_value(bin);
		n = json_string_length(bin);
		cap = b64_decoded_max(n);
		*val = xmalloc(cap + 1);
		if (b64_decode(b64, n, *val, &cap) == -1) {
			free(*val);
			*val = NULL;
			json_decref(j);
			snprintf(why, whylen, "SecretBinary is not base64");
			return -1;
		}
		(*val)[cap] = '\0';
		*vlen = cap;
	} else {
		json_decref(j);
		snprintf(why, whylen, "the answer has neither SecretString "
		    "nor SecretBinary");
		return -1;
	}
	json_decref(j);
	if (*vlen == 0) {
		freezero(*val, 1);
		*val = NULL;
		snprintf(why, whylen, "the secret is empty");
		return -1;
	}
	return 0;
}

int
aws_parse_list(const uint8_t *p, size_t len,
    int (*name)(const char *, void *), void *arg, char **next, char *why,
    size_t whylen)
{
	json_t		*j, *list, *e, *nt;
	const char	*n;
	size_t		 i;
	int		 rc = -1;

	*next = NULL;
	if ((j = load_obj(p, len)) == NULL) {
		snprintf(why, whylen, "the answer is not a JSON object");
		return -1;
	}
	list = json_object_get(j, "SecretList");
	if (list != NULL && !json_is_array(list) && !json_is_null(list)) {
		snprintf(why, whylen, "SecretList is not a list");
		goto out;
	}
	nt = json_object_get(j, "NextToken");
	if (nt != NULL && !json_is_string(nt) && !json_is_null(nt)) {
		snprintf(why, whylen, "NextToken is not a string");
		goto out;
	}
	if (json_is_string(nt) && json_string_length(nt) > AWS_TOKEN_MAX) {
		snprintf(why, whylen, "NextToken is longer than %d bytes",
		    AWS_TOKEN_MAX);
		goto out;
	}
	json_array_foreach(list, i, e) {
		if (!json_is_object(e)) {
			snprintf(why, whylen, "a SecretList entry is not an "
			    "object");
			goto out;
		}
		n = json_string_value(json_object_get(e, "Name"));
		if (n == NULL || *n == '\0' ||
		    strlen(n) != json_string_length(json_object_get(e,
		    "Name")))
			continue;	/* no usable name: not a key */
		if (name(n, arg) == -1) {
			snprintf(why, whylen, "the listing was stopped");
			goto out;
		}
	}
	if (json_is_string(nt) && json_string_length(nt) > 0)
		*next = xstrdup(json_string_value(nt));
	rc = 0;
 out:
	json_decref(j);
	return rc;
}

static int
dup_field(json_t *j, const char *k, char **out, bool need)
{
	const char	*s = json_string_value(json_object_get(j, k));
	size_t		 i;

	*out = NULL;
	if (s == NULL || *s == '\0')
		return need ? -1 : 0;
	/* They go into HTTP headers. */
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] == 0x7f)
			return -1;
	*out = xstrdup(s);
	return 0;
}

int
aws_parse_creds(const uint8_t *p, size_t len, struct aws_cred_doc *d,
    char *why, size_t whylen)
{
	json_t		*j;
	const char	*code, *exp;
	int32_t		 ns;

	memset(d, 0, sizeof(*d));
	if ((j = load_obj(p, len)) == NULL) {
		snprintf(why, whylen, "the credentials are not a JSON object");
		return -1;
	}
	/* IMDS says "Code":"Success"; the container endpoint says none. */
	code = json_string_value(json_object_get(j, "Code"));
	if (code != NULL && strcmp(code, "Success") != 0) {
		char c[AWS_CODE_MAX];

		copy_text(c, sizeof(c), code);
		snprintf(why, whylen, "the credentials document says Code "
		    "\"%s\"", c);
		goto fail;
	}
	if (dup_field(j, "AccessKeyId", &d->akid, true) == -1 ||
	    dup_field(j, "SecretAccessKey", &d->secret, true) == -1 ||
	    dup_field(j, "Token", &d->token, false) == -1) {
		snprintf(why, whylen, "the credentials document lacks "
		    "AccessKeyId or SecretAccessKey, or has blanks in them");
		goto fail;
	}
	exp = json_string_value(json_object_get(j, "Expiration"));
	if (exp != NULL && gotime_parse(exp, strlen(exp), &d->expires,
	    &ns) == -1) {
		snprintf(why, whylen, "the credentials' Expiration is not an "
		    "RFC 3339 time");
		goto fail;
	}
	json_decref(j);
	return 0;
 fail:
	json_decref(j);
	aws_cred_doc_free(d);
	return -1;
}

void
aws_cred_doc_free(struct aws_cred_doc *d)
{
	freezero_str(d->akid);
	freezero_str(d->secret);
	freezero_str(d->token);
	memset(d, 0, sizeof(*d));
}
