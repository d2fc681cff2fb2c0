/*
 * Entrust KeyControl's JSON, both ways (entrust_json.h). Pure functions:
 * no network, no state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "common/gojson.h"
#include "common/json_out.h"
#include "common/kes_key.h"
#include "common/xmalloc.h"
#include "keystore-agent/ciphertrust_json.h"
#include "keystore-agent/entrust_json.h"
#include "keystore-agent/kes_http.h"

#define DESC_MAX	KES_HTTP_TEXT_MAX

/* --- request bodies (Go's json.Marshal: declaration order) --- */

int
en_body_login(struct buf *b, const char *user, const char *password)
{
	return buf_put(b, "{", 1) | json_key(b, "username") |
	    json_str(b, user) | buf_put(b, ",", 1) | json_key(b, "password") |
	    json_str(b, password) | buf_put(b, "}", 1);
}

int
en_body_box(struct buf *b, const char *box)
{
	return buf_put(b, "{", 1) | json_key(b, "box_id") | json_str(b, box) |
	    buf_put(b, "}", 1);
}

int
en_body_create(struct buf *b, const char *box, const char *name,
    const uint8_t *value, size_t len)
{
	return buf_put(b, "{", 1) | json_key(b, "box_id") | json_str(b, box) |
	    buf_put(b, ",", 1) | json_key(b, "name") | json_str(b, name) |
	    buf_put(b, ",", 1) | json_key(b, "secret_data") |
	    json_b64(b, value, len) | buf_put(b, "}", 1);
}

int
en_body_secret(struct buf *b, const char *box, const char *name)
{
	return buf_put(b, "{", 1) | json_key(b, "box_id") | json_str(b, box) |
	    buf_put(b, ",", 1) | json_key(b, "secret_id") |
	    json_str(b, name) | buf_put(b, "}", 1);
}

int
en_body_list(struct buf *b, const char *box, const char *next)
{
	char n[32];
	int  rc;

	snprintf(n, sizeof(n), "%d", EN_PAGE_ITEMS);
	rc = buf_put(b, "{", 1) | json_key(b, "box_id") | json_str(b, box) |
	    buf_put(b, ",", 1) | json_key(b, "max_items") |
	    buf_put(b, n, strlen(n));
	if (next != NULL && next[0] != '\0')
		rc |= buf_put(b, ",", 1) | json_key(b, "next_token") |
		    json_str(b, next);
	return rc | buf_put(b, "}", 1);
}

/* --- shared pieces --- */

void
en_error(long status, const char *ctype, const uint8_t *body, size_t len,
    char *text, size_t textlen, char *err, size_t errlen)
{
	json_t		*root;
	const char	*m;
	size_t		 mlen;
	char		 line[64], t[DESC_MAX + 1], why[128];

	if (textlen > 0)
		text[0] = '\0';
	if (len > EN_BODY_MAX)
		len = EN_BODY_MAX;
	if (!kes_http_json_typed(ctype)) {
		ct_status_line(status, line, sizeof(line));
		kes_http_clean(t, sizeof(t), (const char *)body, len);
		snprintf(err, errlen, "keycontrol: %s: %s", line, t);
		return;
	}
	if ((root = kes_http_load(body, len, EN_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "keycontrol: %ld: failed to parse error "
		    "response: %s", status, why);
		return;
	}
	if (gojson_string(root, "error", &m, &mlen) == -1)
		snprintf(err, errlen, "keycontrol: %ld: failed to parse error "
		    "response: 'error' is not a string", status);
	else {
		kes_http_clean(t, sizeof(t), m != NULL ? m : "",
		    m != NULL ? mlen : 0);
		if (textlen > 0)
			snprintf(text, textlen, "%s", t);
		snprintf(err, errlen, "keycontrol: %s", t);
	}
	json_decref(root);
}

/* Printable ASCII without blanks: it becomes a header value. */
static bool
token_ok(const char *s, size_t len)
{
	return len > 0 && len <= EN_TOKEN_MAX && strlen(s) == len &&
	    kes_http_printable(s);
}

static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

int
en_rfc3339(const char *s, size_t len, int64_t *out)
{
	struct tm	tm;
	int		y, mo, d, h, mi, se, oh, om;
	size_t		i = 19;
	int64_t		t;

	if (len < 20 || digits(s, 4, &y) == -1 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) == -1 || s[7] != '-' ||
	    digits(s + 8, 2, &d) == -1 || (s[10] != 'T' && s[10] != 't') ||
	    digits(s + 11, 2, &h) == -1 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) == -1 || s[16] != ':' ||
	    digits(s + 17, 2, &se) == -1)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    se > 60)
		return -1;
	if (s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == 20)
			return -1;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = (int64_t)timegm(&tm);
	if (i + 1 == len && (s[i] == 'Z' || s[i] == 'z')) {
		*out = t;
		return 0;
	}
	if (i + 6 != len || (s[i] != '+' && s[i] != '-') ||
	    digits(s + i + 1, 2, &oh) == -1 || s[i + 3] != ':' ||
	    digits(s + i + 4, 2, &om) == -1 || oh > 23 || om > 59)
		return -1;
	t += (s[i] == '+' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
	*out = t;
	return 0;
}

/* --- login, renew --- */

int
en_parse_token(long status, const char *ctype, const uint8_t *body,
    size_t len, char **token, int64_t *expires, char *err, size_t errlen)
{
	json_t		*root;
	const char	*t, *e;
	char		 why[DESC_MAX + 64], text[8];
	size_t		 tlen, elen;
	int		 rc = -1;

	*token = NULL;
	*expires = 0;
	if (status != 200) {
		en_error(status, ctype, body, len, text, sizeof(text), err,
		    errlen);
		return -1;
	}
	if ((root = kes_http_load(body, len, EN_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "keycontrol: login failed: %s", why);
		return -1;
	}
	if (gojson_string(root, "access_token", &t, &tlen) == -1 ||
	    gojson_string(root, "expires_at", &e, &elen) == -1) {
		snprintf(err, errlen, "keycontrol: login failed: access_token "
		    "or expires_at has the wrong type");
		goto out;
	}
	if (t == NULL || tlen == 0) {
		snprintf(err, errlen, "keycontrol: login failed: auth token is "
		    "empty");
		goto out;
	}
	if (!token_ok(t, tlen)) {
		snprintf(err, errlen, "keycontrol: login failed: the auth "
		    "token is not a printable header value of at most %d "
		    "bytes", EN_TOKEN_MAX);
		goto out;
	}
	/* Go decodes time.Time from RFC 3339 and fails on anything else;
	 * the zero time ("0001-01-01T00:00:00Z") means now + 5 min. */
	if (e != NULL && (en_rfc3339(e, elen, expires) == -1)) {
		snprintf(err, errlen, "keycontrol: login failed: expires_at is "
		    "not an RFC 3339 time");
		goto out;
	}
	if (*expires < 0)
		*expires = 0;
	*token = xstrndup(t, tlen);
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

/* --- create, checkout, delete, box --- */

int
en_parse_create(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, char *err, size_t errlen)
{
	char text[DESC_MAX + 1], why[DESC_MAX + 128];

	if (status == 200)
		return 0;
	en_error(status, ctype, body, len, text, sizeof(text), why,
	    sizeof(why));
	if (status == 409 && strcmp(text, EN_EXISTS) == 0) {
		snprintf(err, errlen, "key '%s' already exists", name);
		return 1;
	}
	snprintf(err, errlen, "keycontrol: failed to create key '%s': %s",
	    name, why);
	return -1;
}

enum en_get
en_parse_checkout(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, uint8_t **value, size_t *vlen, char *err,
    size_t errlen)
{
	json_t		*root;
	char		 text[DESC_MAX + 1], why[DESC_MAX + 128];
	uint8_t		*v = NULL;
	size_t		 n = 0;
	enum en_get	 rc = EN_FAIL;

	*value = NULL;
	*vlen = 0;
	if (status != 200) {
		en_error(status, ctype, body, len, text, sizeof(text), why,
		    sizeof(why));
		if (status == 404 && strcmp(text, EN_MISSING) == 0)
			return EN_ABSENT;
		snprintf(err, errlen, "keycontrol: failed to fetch key '%s': "
		    "%s", name, why);
		return EN_FAIL;
	}
	if ((root = kes_http_load(body, len, EN_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "keycontrol: failed to fetch key '%s': "
		    "%s", name, why);
		return EN_FAIL;
	}
	if (gojson_bytes(root, "secret_data", &v, &n) == -1) {
		snprintf(err, errlen, "keycontrol: failed to fetch key '%s': "
		    "secret_data is not base64 text", name);
		goto out;
	}
	if (n == 0 || n > KES_STORED_MAX) {
		snprintf(err, errlen, "keycontrol: failed to fetch key '%s': "
		    "%zu bytes, not a stored key", name, n);
		goto out;
	}
	*value = v;
	*vlen = n;
	v = NULL;
	rc = EN_VALUE;
 out:
	if (v != NULL)
		freezero(v, n);
	json_decref(root);
	return rc;
}

int
en_parse_delete(long status, const char *ctype, const uint8_t *body,
    size_t len, const char *name, char *err, size_t errlen)
{
	char text[DESC_MAX + 1], why[DESC_MAX + 128];

	if (status == 200)
		return 0;
	en_error(status, ctype, body, len, text, sizeof(text), why,
	    sizeof(why));
	if (status == 404 && strcmp(text, EN_MISSING) == 0)
		return 1;
	snprintf(err, errlen, "keycontrol: failed to delete key '%s': %s",
	    name, why);
	return -1;
}

int
en_parse_box(long status, const char *ctype, const uint8_t *body,
    size_t len, char *err, size_t errlen)
{
	char text[8];

	if (status == 200)
		return 0;
	en_error(status, ctype, body, len, text, sizeof(text), err, errlen);
	return -1;
}

/* --- list --- */

int
en_parse_list(long status, const char *ctype, const uint8_t *body,
    size_t len, int (*fn)(const char *, void *), void *arg, size_t *n,
    char *next, char *err, size_t errlen)
{
	json_t		*root, *secs, *o, *ex;
	const char	*name, *nt;
	char		 text[8], why[DESC_MAX + 128];
	size_t		 i, nlen, ntlen;
	int		 rc = -1;

	*n = 0;
	next[0] = '\0';
	if (status != 200) {
		en_error(status, ctype, body, len, text, sizeof(text), why,
		    sizeof(why));
		snprintf(err, errlen, "keycontrol: failed to list keys: %s",
		    why);
		return -1;
	}
	if ((root = kes_http_load(body, len, EN_LIST_BODY_MAX, JSON_OBJECT, why,
	    sizeof(why))) == NULL) {
		snprintf(err, errlen, "keycontrol: failed to list keys: %s",
		    why);
		return -1;
	}
	secs = gojson_get(root, "secrets");
	if ((secs != NULL && !json_is_null(secs) && !json_is_array(secs)) ||
	    gojson_string(root, "next_token", &nt, &ntlen) == -1) {
		snprintf(err, errlen, "keycontrol: failed to list keys: "
		    "secrets or next_token has the wrong type");
		goto out;
	}
	/* Go decodes the whole page before KES looks at it. */
	json_array_foreach(secs, i, o) {
		ex = json_is_object(o) ? gojson_get(o, "expired") : NULL;
		if ((!json_is_object(o) && !json_is_null(o)) ||
		    gojson_string(o, "name", &name, &nlen) == -1 ||
		    (ex != NULL && !json_is_null(ex) && !json_is_boolean(ex))) {
			snprintf(err, errlen, "keycontrol: failed to list "
			    "keys: secret %zu is not an object with a string "
			    "name", i);
			goto out;
		}
	}
	if (nt != NULL && (ntlen > EN_NEXT_MAX || strlen(nt) != ntlen)) {
		snprintf(err, errlen, "keycontrol: failed to list keys: "
		    "next_token is longer than %d bytes or holds NUL",
		    EN_NEXT_MAX);
		goto out;
	}
	json_array_foreach(secs, i, o) {
		if (json_is_null(o) ||
		    gojson_string(o, "name", &name, &nlen) == -1 ||
		    name == NULL || strlen(name) != nlen ||
		    json_is_true(gojson_get(o, "expired")))
			continue;
		(*n)++;
		if (fn(name, arg) == -1) {
			snprintf(err, errlen, "keycontrol: failed to list "
			    "keys: listing stopped");
			goto out;
		}
	}
	if (nt != NULL)
		memcpy(next, nt, ntlen + 1);
	rc = 0;
 out:
	json_decref(root);
	return rc;
}
