/*
 * CipherTrust Manager's JSON, both ways (ciphertrust_json.h): the request
 * bodies of auth and create, and the parsers of every answer the store
 * reads. Pure functions: no network, no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/gojson.h"
#include "common/json_out.h"
#include "common/kes_key.h"
#include "common/xmalloc.h"
#include "keystore-agent/ciphertrust_json.h"

#define DESC_MAX	200	/* bytes of CipherTrust's text in a detail */

/* --- request bodies --- */

/* Go's json.Marshal of KES's structs: fields in declaration order. */
int
ct_body_auth(struct buf *b, const char *rt, const char *domain)
{
	return buf_put(b, "{", 1) | json_key(b, "grant_type") |
	    json_str(b, "refresh_token") | buf_put(b, ",", 1) |
	    json_key(b, "refresh_token") | json_str(b, rt) |
	    buf_put(b, ",", 1) | json_key(b, "domain") |
	    json_str(b, domain) | buf_put(b, "}", 1);
}

int
ct_body_create(struct buf *b, const char *name, const char *value)
{
	return buf_put(b, "{", 1) | json_key(b, "dataType") |
	    json_str(b, "seed") | buf_put(b, ",", 1) |
	    json_key(b, "material") | json_str(b, value) |
	    buf_put(b, ",", 1) | json_key(b, "name") | json_str(b, name) |
	    buf_put(b, "}", 1);
}

/* --- shared pieces --- */

void
ct_status_line(long status, char *out, size_t outlen)
{
	static const struct {
		long		 code;
		const char	*text;
	} t[] = {
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 204, "No Content" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 304, "Not Modified" },
		{ 307, "Temporary Redirect" }, { 400, "Bad Request" },
		{ 401, "Unauthorized" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 408, "Request Timeout" }, { 409, "Conflict" },
		{ 413, "Request Entity Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Entity" }, { 429, "Too Many Requests" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == status) {
			snprintf(out, outlen, "%ld %s", status, t[i].text);
			return;
		}
	snprintf(out, outlen, "%ld", status);
}

/* s[0, len) into out, control bytes and non-ASCII as ' ' and '?', at
 * most DESC_MAX bytes, blanks trimmed at both ends. */
static void
clean(char *out, size_t outlen, const char *s, size_t len)
{
	size_t		i, n = 0;
	unsigned char	c;

	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n')) {
		s++;
		len--;
	}
	for (i = 0; i < len && n + 1 < outlen && n < DESC_MAX; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80)
			c = '?';
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	if (outlen > 0)
		out[n] = '\0';
}

/* A whole number (gojson reads every number as a double), within
 * [lo, hi]; -1 otherwise. */
static int
whole(const json_t *j, double lo, double hi, double *d)
{
	if (!json_is_number(j))
		return -1;
	*d = json_number_value(j);
	if (!(*d >= lo && *d <= hi) || *d != (double)(int64_t)*d)
		return -1;
	return 0;
}

/* An unsigned integer field, as Go decodes one into a uint64: 0 when
 * absent or null; -1 when present with another type. */
static int
get_u64(const json_t *obj, const char *name, uint64_t *v)
{
	json_t	*j = gojson_get(obj, name);
	double	 d;

	*v = 0;
	if (j == NULL || json_is_null(j))
		return 0;
	if (whole(j, 0, 9.2e18, &d) == -1)
		return -1;
	*v = (uint64_t)d;
	return 0;
}

/* The whole body as one JSON value decoded into a struct: an object,
 * or null (an empty struct). NULL with err otherwise. */
static json_t *
load_object(const uint8_t *body, size_t len, size_t max, char *err,
    size_t errlen)
{
	json_t *root;

	if (len > max) {
		snprintf(err, errlen, "the answer is larger than %zu bytes",
		    max);
		return NULL;
	}
	if ((root = gojson_load(body, len)) == NULL) {
		snprintf(err, errlen, "the answer is not valid JSON");
		return NULL;
	}
	if (json_is_null(root)) {
		json_decref(root);
		return json_object();
	}
	if (!json_is_object(root)) {
		json_decref(root);
		snprintf(err, errlen, "the answer is not a JSON object");
		return NULL;
	}
	return root;
}

/* Go's strings.HasPrefix(strings.TrimSpace(ctype), "application/json"). */
static bool
json_typed(const char *ctype)
{
	static const char	json[] = "application/json";

	if (ctype == NULL)
		return false;
	while (*ctype == ' ' || *ctype == '\t' || *ctype == '\r' ||
	    *ctype == '\n')
		ctype++;
	return strncmp(ctype, json, sizeof(json) - 1) == 0;
}

int
ct_parse_error(long status, const char *ctype, const uint8_t *body,
    size_t len, struct ct_error *e, char *err, size_t errlen)
{
	json_t		*root;
	const char	*s;
	size_t		 n;
	double		 code = 0;
	json_t		*c;

	e->code = status;
	e->desc[0] = '\0';
	if (len > CT_AUTH_BODY_MAX)
		len = CT_AUTH_BODY_MAX;	/* KES reads 1 MiB of it */
	if (!json_typed(ctype)) {
		clean(e->desc, sizeof(e->desc), (const char *)body, len);
		return 0;
	}
	if ((root = load_object(body, len, CT_AUTH_BODY_MAX, err,
	    errlen)) == NULL)
		return -1;
	c = gojson_get(root, "code");
	if (c != NULL && !json_is_null(c)) {
		if (whole(c, -2147483648.0, 2147483647.0, &code) == -1) {
			snprintf(err, errlen, "'code' is not an integer");
			json_decref(root);
			return -1;
		}
	}
	if (gojson_string(root, "codedesc", &s, &n) == -1) {
		snprintf(err, errlen, "'codeDesc' is not a string");
		json_decref(root);
		return -1;
	}
	e->code = (long)code;
	if (s != NULL)
		clean(e->desc, sizeof(e->desc), s, n);
	json_decref(root);
	return 0;
}

/* "gemalto: <status line>: failed to parse server response: <why>" */
static void
unparsed(long status, const char *why, bool quoted, char *err,
    size_t errlen)
{
	char line[64];

	ct_status_line(status, line, sizeof(line));
	snprintf(err, errlen, "gemalto: %s%s%s: failed to parse server "
	    "response: %s", quoted ? "'" : "", line, quoted ? "'" : "", why);
}

/* Go's %q of an already cleaned text (printable ASCII). */
static void
quote(char *out, size_t outlen, const char *s)
{
	size_t n = 0;

	if (outlen < 3)
		return;
	out[n++] = '"';
	for (; *s != '\0' && n + 3 < outlen; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n++] = '"';
	out[n] = '\0';
}

/* --- auth --- */

/* A jwt becomes a header value: printable ASCII without blanks. */
static bool
jwt_ok(const char *s, size_t len)
{
	size_t i;

	if (len > CT_JWT_MAX || strlen(s) != len)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

int
ct_parse_auth(long status, const char *ctype, const uint8_t *body,
    size_t len, struct ct_token *t, char *err, size_t errlen)
{
	struct ct_error	 e;
	json_t		*root;
	const char	*jwt, *type;
	char		 line[64], why[160], ty[64];
	size_t		 jlen, tlen;
	uint64_t	 dur;
	int		 rc = -1;

	memset(t, 0, sizeof(*t));
	if (status != 200) {
		ct_status_line(status, line, sizeof(line));
		if (ct_parse_error(status, ctype, body, len, &e, why,
		    sizeof(why)) == -1)
			snprintf(err, errlen, "%s: %s", line, why);
		else
			snprintf(err, errlen, "%s: %s (%ld)", line, e.desc,
			    e.code);
		return -1;
	}
	if ((root = load_object(body, len, CT_AUTH_BODY_MAX, err,
	    errlen)) == NULL)
		return -1;
	if (gojson_string(root, "jwt", &jwt, &jlen) == -1 ||
	    gojson_string(root, "token_type", &type, &tlen) == -1 ||
	    get_u64(root, "duration", &dur) == -1) {
		snprintf(err, errlen, "the answer's jwt, token_type or "
		    "duration has the wrong type");
		goto out;
	}
	if (jwt == NULL || jlen == 0) {
		snprintf(err, errlen, "server response does not contain an "
		    "auth token");
		goto out;
	}
	if (type == NULL || tlen != 6 || strcmp(type, "Bearer") != 0) {
		clean(ty, sizeof(ty), type != NULL ? type : "",
		    type != NULL ? tlen : 0);
		snprintf(err, errlen, "unexpected auth token type '%s'", ty);
		goto out;
	}
	if (dur == 0) {
		snprintf(err, errlen, "invalid auth token expiry '0'");
		goto out;
	}
	if (!jwt_ok(jwt, jlen)) {
		snprintf(err, errlen, "the auth token is not a printable "
		    "header value of at most %d bytes", CT_JWT_MAX);
		goto out;
	}
	t->jwt = xstrndup(jwt, jlen);
	t->duration_s = dur;
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

/* --- create, export, delete --- */

int
ct_parse_create(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, char *err, size_t errlen)
{
	struct ct_error	e;
	char		why[160], q[DESC_MAX + 8];

	if (status == 201)
		return 0;
	if (status == 409) {
		snprintf(err, errlen, "key '%s' already exists", name);
		return 1;
	}
	if (ct_parse_error(status, ctype, body, len, &e, why,
	    sizeof(why)) == -1) {
		unparsed(status, why, true, err, errlen);
		return -1;
	}
	quote(q, sizeof(q), e.desc);
	snprintf(err, errlen, "gemalto: failed to create key '%s': %s (%ld)",
	    name, q, e.code);
	return -1;
}

enum ct_get
ct_parse_export(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, uint8_t **value, size_t *vlen, char *err,
    size_t errlen)
{
	struct ct_error	 e;
	json_t		*root;
	const char	*m;
	char		 why[160], q[DESC_MAX + 8];
	size_t		 mlen;

	*value = NULL;
	*vlen = 0;
	if (status == 404)
		return CT_ABSENT;
	if (status != 200) {
		if (ct_parse_error(status, ctype, body, len, &e, why,
		    sizeof(why)) == -1) {
			unparsed(status, why, false, err, errlen);
			return CT_FAIL;
		}
		quote(q, sizeof(q), e.desc);
		snprintf(err, errlen, "gemalto: failed to access key \"%s\": "
		    "%s (%ld)", name, q, e.code);
		return CT_FAIL;
	}
	if ((root = load_object(body, len, CT_EXPORT_BODY_MAX, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "gemalto: failed to parse server "
		    "response: %s", why);
		return CT_FAIL;
	}
	if (gojson_string(root, "material", &m, &mlen) == -1) {
		snprintf(err, errlen, "gemalto: failed to parse server "
		    "response: 'material' is not a string");
		json_decref(root);
		return CT_FAIL;
	}
	if (mlen > KES_STORED_MAX) {
		snprintf(err, errlen, "gemalto: failed to access key \"%s\": "
		    "%zu bytes, too large for a stored key", name, mlen);
		json_decref(root);
		return CT_FAIL;
	}
	*vlen = mlen;
	*value = xmalloc(mlen + 1);
	if (mlen > 0)
		memcpy(*value, m, mlen);
	(*value)[mlen] = '\0';
	json_decref(root);
	return CT_VALUE;
}

int
ct_parse_delete(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, char *err, size_t errlen)
{
	struct ct_error	e;
	char		why[160];

	if (status == 204)
		return 0;
	if (status == 404)
		return 1;
	if (ct_parse_error(status, ctype, body, len, &e, why,
	    sizeof(why)) == -1) {
		unparsed(status, why, false, err, errlen);
		return -1;
	}
	snprintf(err, errlen, "gemalto: failed to delete key \"%s\": %s (%ld)",
	    name, e.desc, e.code);
	return -1;
}

/* --- list --- */

int
ct_parse_list(long status, const char *ctype, const uint8_t *body,
    size_t len, uint64_t skip, int (*fn)(const char *, void *), void *arg,
    struct ct_page *pg, char *err, size_t errlen)
{
	struct ct_error	 e;
	json_t		*root, *res, *r;
	const char	*name;
	char		 why[160];
	size_t		 i, nlen;
	int		 rc = -1;

	memset(pg, 0, sizeof(*pg));
	if (status != 200) {
		if (ct_parse_error(status, ctype, body, len, &e, why,
		    sizeof(why)) == -1)
			unparsed(status, why, false, err, errlen);
		else
			snprintf(err, errlen, "gemalto: failed to list keys: "
			    "'%s' (%ld)", e.desc, e.code);
		return -1;
	}
	if ((root = load_object(body, len, CT_LIST_BODY_MAX, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "gemalto: failed to list keys: %s", why);
		return -1;
	}
	res = gojson_get(root, "resources");
	if (get_u64(root, "skip", &pg->skip) == -1 ||
	    get_u64(root, "total", &pg->total) == -1 ||
	    (res != NULL && !json_is_null(res) && !json_is_array(res))) {
		snprintf(err, errlen, "gemalto: failed to list keys: skip, "
		    "total or resources has the wrong type");
		goto out;
	}
	/* Go decodes the whole page before KES looks at it. */
	json_array_foreach(res, i, r)
		if ((!json_is_object(r) && !json_is_null(r)) ||
		    gojson_string(r, "name", &name, &nlen) == -1) {
			snprintf(err, errlen, "gemalto: failed to list keys: "
			    "resource %zu is not an object with a string name",
			    i);
			goto out;
		}
	if (pg->skip != skip) {
		snprintf(err, errlen, "gemalto: failed to list keys: "
		    "pagination is out-of-sync: tried to skip %llu but skipped "
		    "%llu", (unsigned long long)skip,
		    (unsigned long long)pg->skip);
		goto out;
	}
	json_array_foreach(res, i, r) {
		pg->n++;
		if (json_is_null(r) ||
		    gojson_string(r, "name", &name, &nlen) == -1 ||
		    name == NULL || strlen(name) != nlen)
			continue;	/* no name a key could have */
		if (fn(name, arg) == -1) {
			snprintf(err, errlen, "gemalto: failed to list keys: "
			    "listing stopped");
			goto out;
		}
	}
	rc = 0;
 out:
	json_decref(root);
	return rc;
}
