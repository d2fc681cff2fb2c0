/*
 * Fortanix DSM's JSON, both ways (fortanix_json.h): the request bodies of
 * create, export and delete, and the parsers of every answer the store
 * reads. Pure functions: no network, no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/gojson.h"
#include "common/json_out.h"
#include "common/kes_key.h"
#include "common/xmalloc.h"
#include "keystore-agent/fortanix_json.h"
#include "keystore-agent/kes_http.h"

#define DESC_MAX	KES_HTTP_TEXT_MAX

/* --- request bodies --- */

/* Go's json.Marshal of KES's createRequest: fields in declaration order,
 * group_id with omitempty. */
int
fx_body_create(struct buf *b, const char *name, const char *gid,
    const uint8_t *value, size_t len)
{
	int rc;

	rc = buf_put(b, "{", 1) | json_key(b, "obj_type") |
	    json_str(b, "OPAQUE") | buf_put(b, ",", 1) |
	    json_key(b, "name") | json_str(b, name);
	if (gid != NULL && gid[0] != '\0')
		rc |= buf_put(b, ",", 1) | json_key(b, "group_id") |
		    json_str(b, gid);
	return rc | buf_put(b, ",", 1) | json_key(b, "key_ops") |
	    buf_put(b, "[", 1) | json_str(b, "EXPORT") | buf_put(b, ",", 1) |
	    json_str(b, "APPMANAGEABLE") | buf_put(b, "]", 1) |
	    buf_put(b, ",", 1) | json_key(b, "value") |
	    json_b64(b, value, len) | buf_put(b, ",", 1) |
	    json_key(b, "enabled") | buf_put(b, "true}", 5);
}

int
fx_body_name(struct buf *b, const char *name)
{
	return buf_put(b, "{", 1) | json_key(b, "name") | json_str(b, name) |
	    buf_put(b, "}", 1);
}

/* --- shared pieces --- */

/*
 * KES's parseErrorResponse: the "message" of a JSON object when the
 * Content-Type says JSON (a body that does not decode gives its own
 * reason), the body as text otherwise (1 MiB of it).
 */
void
fx_error_text(const char *ctype, const uint8_t *body, size_t len,
    char *out, size_t outlen)
{
	json_t		*root;
	const char	*m;
	size_t		 mlen;
	char		 why[128];

	if (outlen == 0)
		return;
	out[0] = '\0';
	if (len > FX_BODY_MAX)
		len = FX_BODY_MAX;
	if (!kes_http_json_typed(ctype)) {
		kes_http_clean(out, outlen, (const char *)body, len);
		return;
	}
	if ((root = kes_http_load(body, len, FX_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(out, outlen, "failed to parse error response: %s",
		    why);
		return;
	}
	if (gojson_string(root, "message", &m, &mlen) == -1)
		snprintf(out, outlen, "failed to parse error response: "
		    "'message' is not a string");
	else if (m != NULL)
		kes_http_clean(out, outlen, m, mlen);
	json_decref(root);
}

/* "<status>: <message>" for a detail. */
static void
status_text(long status, const char *ctype, const uint8_t *body,
    size_t len, char *out, size_t outlen)
{
	char msg[DESC_MAX + 1];

	fx_error_text(ctype, body, len, msg, sizeof(msg));
	snprintf(out, outlen, "%ld: %s", status, msg[0] != '\0' ? msg :
	    "(no message)");
}

/* Printable ASCII without blanks: it becomes a header or a path. */
static bool
token_ok(const char *s, size_t len, size_t max)
{
	return len > 0 && len <= max && strlen(s) == len &&
	    kes_http_printable(s);
}

/* --- auth --- */

int
fx_parse_auth(long status, const char *ctype, const uint8_t *body,
    size_t len, char **token, char *err, size_t errlen)
{
	json_t		*root;
	const char	*t;
	char		 why[DESC_MAX + 64];
	size_t		 tlen;
	int		 rc = -1;

	*token = NULL;
	if (status != 200) {
		status_text(status, ctype, body, len, why, sizeof(why));
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if ((root = kes_http_load(body, len, FX_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	if (gojson_string(root, "access_token", &t, &tlen) == -1 ||
	    t == NULL || !token_ok(t, tlen, FX_TOKEN_MAX))
		snprintf(err, errlen, "the answer has no access token that "
		    "can be sent back");
	else {
		*token = xstrndup(t, tlen);
		rc = 0;
	}
	json_decref(root);
	return rc;
}

/* --- create, export, delete --- */

int
fx_parse_create(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, char *err, size_t errlen)
{
	char msg[DESC_MAX + 1], why[DESC_MAX + 64];

	if (status == 201)
		return 0;
	fx_error_text(ctype, body, len, msg, sizeof(msg));
	if (status == 409 && strcmp(msg, FX_EXISTS) == 0) {
		snprintf(err, errlen, "key '%s' already exists", name);
		return 1;
	}
	status_text(status, ctype, body, len, why, sizeof(why));
	snprintf(err, errlen, "fortanix: failed to create key '%s': %s", name,
	    why);
	return -1;
}

enum fx_get
fx_parse_export(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, uint8_t **value, size_t *vlen,
    char kid[FX_KID_MAX + 1], char *err, size_t errlen)
{
	json_t		*root, *en;
	const char	*k;
	char		 msg[DESC_MAX + 1], why[DESC_MAX + 64];
	uint8_t		*v = NULL;
	size_t		 klen, i, n = 0;
	enum fx_get	 rc = FX_FAIL;

	*value = NULL;
	*vlen = 0;
	kid[0] = '\0';
	if (status != 200) {
		fx_error_text(ctype, body, len, msg, sizeof(msg));
		if (status == 404 && strcmp(msg, FX_MISSING) == 0)
			return FX_ABSENT;
		status_text(status, ctype, body, len, why, sizeof(why));
		snprintf(err, errlen, "fortanix: failed to fetch key '%s': %s",
		    name, why);
		return FX_FAIL;
	}
	if ((root = kes_http_load(body, len, FX_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "fortanix: failed to fetch key '%s': "
		    "failed to parse server response: %s", name, why);
		return FX_FAIL;
	}
	en = gojson_get(root, "enabled");
	if ((en != NULL && !json_is_null(en) && !json_is_boolean(en)) ||
	    gojson_string(root, "kid", &k, &klen) == -1 ||
	    gojson_bytes(root, "value", &v, &n) == -1) {
		snprintf(err, errlen, "fortanix: failed to fetch key '%s': "
		    "failed to parse server response: enabled, kid or value "
		    "has the wrong type", name);
		goto out;
	}
	if (!json_is_true(en)) {
		snprintf(err, errlen, "fortanix: failed to fetch key '%s': "
		    "key has been disabled and cannot be used until enabled",
		    name);
		goto out;
	}
	if (n > KES_STORED_MAX) {
		snprintf(err, errlen, "fortanix: failed to fetch key '%s': %zu "
		    "bytes, too large for a stored key", name, n);
		goto out;
	}
	if (k != NULL) {
		for (i = 0; i < klen; i++)
			if (!((k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' &&
			    k[i] <= 'z') || (k[i] >= 'A' && k[i] <= 'Z') ||
			    k[i] == '-'))
				break;
		if (klen > 0 && klen <= FX_KID_MAX && i == klen) {
			memcpy(kid, k, klen);
			kid[klen] = '\0';
		}
	}
	*value = v;
	*vlen = n;
	v = NULL;
	rc = FX_VALUE;
 out:
	if (v != NULL)
		freezero(v, n);
	json_decref(root);
	return rc;
}

int
fx_parse_delete(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, char *err, size_t errlen)
{
	char why[DESC_MAX + 64];

	if (status == 204)
		return 0;
	status_text(status, ctype, body, len, why, sizeof(why));
	snprintf(err, errlen, "fortanix: failed to delete key '%s': %s", name,
	    why);
	return -1;
}

/* --- list --- */

int
fx_parse_list(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *after, int (*fn)(const char *, void *),
    void *arg, size_t *entries, size_t *n, char last[FX_NAME_BUF],
    char *err, size_t errlen)
{
	json_t		*root, *o;
	const char	*name;
	char		 why[DESC_MAX + 64];
	size_t		 i, nlen;
	int		 rc = -1;

	*entries = 0;
	*n = 0;
	last[0] = '\0';
	if (status != 200) {
		status_text(status, ctype, body, len, why, sizeof(why));
		snprintf(err, errlen, "fortanix: failed to list keys: %s",
		    why);
		return -1;
	}
	if ((root = kes_http_load(body, len, FX_LIST_BODY_MAX, JSON_ARRAY, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "fortanix: failed to list keys: failed "
		    "to parse server response: %s", why);
		return -1;
	}
	/* Go decodes the whole page before KES looks at it. */
	json_array_foreach(root, i, o) {
		if ((!json_is_object(o) && !json_is_null(o)) ||
		    gojson_string(o, "name", &name, &nlen) == -1) {
			snprintf(err, errlen, "fortanix: failed to list keys: "
			    "entry %zu is not an object with a string name", i);
			goto out;
		}
		if (name == NULL)
			continue;
		if (nlen >= FX_NAME_BUF || strlen(name) != nlen) {
			snprintf(err, errlen, "fortanix: failed to list keys: "
			    "entry %zu has a name of %zu bytes or with NUL", i,
			    nlen);
			goto out;
		}
		/* start= repeats the last name of the page before; a name
		 * before it means the server does not page by name. */
		if (after != NULL && strcmp(name, after) < 0) {
			snprintf(err, errlen, "fortanix: failed to list keys: "
			    "the server answered names before the page's "
			    "start");
			goto out;
		}
	}
	*entries = json_array_size(root);
	json_array_foreach(root, i, o) {
		if (gojson_string(o, "name", &name, &nlen) == -1 ||
		    name == NULL || (after != NULL && strcmp(name, after) <= 0))
			continue;
		if (strcmp(name, last) > 0)
			memcpy(last, name, nlen + 1);
		(*n)++;
		if (fn(name, arg) == -1) {
			snprintf(err, errlen, "fortanix: failed to list keys: "
			    "listing stopped");
			goto out;
		}
	}
	rc = 0;
 out:
	json_decref(root);
	return rc;
}
