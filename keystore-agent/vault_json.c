/*
 * Vault's JSON, both ways (vault_json.h): request bodies and paths, and
 * the parsers of login, health and transit answers (vault_kv.c has the
 * KV ones). Pure functions: no network, no state.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/gojson.h"
#include "common/json_out.h"
#include "common/kes_key.h"
#include "common/xmalloc.h"
#include "keystore-agent/vault_json.h"

#define ERRORS_MAX	200	/* bytes of Vault's error text in a detail */
#define TTL_MAX		(10ull * 366 * 24 * 3600)	/* ten years */

/* --- request bodies --- */

/* Each writer appends the whole body or leaves b failed: the caller checks
 * the one result. */

int
vault_body_approle(struct buf *b, const char *id, const char *secret)
{
	return buf_put(b, "{", 1) | json_key(b, "role_id") |
	    json_str(b, id) | buf_put(b, ",", 1) | json_key(b, "secret_id") |
	    json_str(b, secret) | buf_put(b, "}", 1);
}

int
vault_body_kubernetes(struct buf *b, const char *jwt, const char *role)
{
	return buf_put(b, "{", 1) | json_key(b, "jwt") | json_str(b, jwt) |
	    buf_put(b, ",", 1) | json_key(b, "role") | json_str(b, role) |
	    buf_put(b, "}", 1);
}

int
vault_body_kv(struct buf *b, int kv_version, const char *name,
    const char *value)
{
	int rc = 0;

	if (kv_version == 2)
		rc |= buf_put(b, "{", 1) | json_key(b, "data");
	rc |= buf_put(b, "{", 1) | json_key(b, name) | json_str(b, value) |
	    buf_put(b, "}", 1);
	if (kv_version == 2)
		rc |= buf_put(b, ",", 1) | json_key(b, "options") |
		    buf_put(b, "{", 1) | json_key(b, "cas") |
		    buf_put(b, "0}}", 3);
	return rc;
}

int
vault_body_plaintext(struct buf *b, const uint8_t *p, size_t len)
{
	return buf_put(b, "{", 1) | json_key(b, "plaintext") |
	    json_b64(b, p, len) | buf_put(b, "}", 1);
}

int
vault_body_ciphertext(struct buf *b, const char *ct)
{
	return buf_put(b, "{", 1) | json_key(b, "ciphertext") |
	    json_str(b, ct) | buf_put(b, "}", 1);
}

int
vault_body_renew(struct buf *b)
{
	return buf_put(b, "{", 1) | json_key(b, "increment") |
	    buf_put(b, "0}", 2);
}

/* --- paths --- */

/* Go's path.Clean of p (NUL-terminated, in place: never longer). */
static void
path_clean(char *p)
{
	char	*w = p, *r = p;
	size_t	 dotdot;	/* w may not back up past here */
	int	 rooted = p[0] == '/';

	if (*p == '\0') {
		strcpy(p, ".");
		return;
	}
	if (rooted) {
		w++;
		r++;
	}
	dotdot = (size_t)(w - p);
	while (*r != '\0') {
		if (*r == '/')
			r++;
		else if (r[0] == '.' && (r[1] == '/' || r[1] == '\0'))
			r++;
		else if (r[0] == '.' && r[1] == '.' &&
		    (r[2] == '/' || r[2] == '\0')) {
			r += 2;
			if ((size_t)(w - p) > dotdot) {
				/* Back up to the previous '/'. */
				w--;
				while ((size_t)(w - p) > dotdot && *w != '/')
					w--;
			} else if (!rooted) {
				/* Cannot back up: keep the "..". */
				if (w != p)
					*w++ = '/';
				*w++ = '.';
				*w++ = '.';
				dotdot = (size_t)(w - p);
			}
		} else {
			/* A real element: add a '/' when one is needed. */
			if ((rooted && (size_t)(w - p) != 1) ||
			    (!rooted && w != p))
				*w++ = '/';
			for (; *r != '\0' && *r != '/'; r++)
				*w++ = *r;
		}
	}
	if (w == p)
		*w++ = '.';
	*w = '\0';
}

int
vault_path_join(char *out, size_t outlen, ...)
{
	va_list		 ap;
	const char	*e;
	size_t		 n = 0, l;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	va_start(ap, outlen);
	while ((e = va_arg(ap, const char *)) != NULL) {
		if (*e == '\0')
			continue;
		l = strlen(e);
		if (n + (n > 0) + l + 1 > outlen) {
			va_end(ap);
			return -1;
		}
		if (n > 0)
			out[n++] = '/';
		memcpy(out + n, e, l + 1);
		n += l;
	}
	va_end(ap);
	if (n > 0)
		path_clean(out);
	return 0;
}

/* Go's shouldEscape(c, encodePath): false for what stays as it is. */
static bool
path_escape(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return false;
	return strchr("-_.~$&+,/:;=@", c) == NULL || c == '\0';
}

int
vault_url(char *out, size_t outlen, const char *loc, const char *query)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	size_t			 n;

	if (outlen < 5)
		return -1;
	memcpy(out, "/v1/", 4);
	n = 4;
	for (p = (const unsigned char *)loc; *p != '\0'; p++) {
		if (n + 4 > outlen)
			return -1;
		if (path_escape(*p)) {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		} else
			out[n++] = (char)*p;
	}
	out[n] = '\0';
	if (query != NULL && *query != '\0') {
		if (n + 1 + strlen(query) + 1 > outlen)
			return -1;
		out[n++] = '?';
		strcpy(out + n, query);
	}
	return 0;
}

/* --- answers: shared pieces --- */

/* Appends s[0, len) to out (size outlen, NUL-terminated at *n) with
 * control bytes and non-ASCII as ' ' and '?', runs of blanks as one. */
static void
put_clean(char *out, size_t outlen, size_t *n, const char *s, size_t len)
{
	size_t		i;
	unsigned char	c;

	for (i = 0; i < len && *n + 1 < outlen; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80)
			c = '?';
		if (c == ' ' && (*n == 0 || out[*n - 1] == ' '))
			continue;
		out[(*n)++] = (char)c;
	}
	out[*n] = '\0';
}

void
vault_errors(long status, const uint8_t *body, size_t len, char *out,
    size_t outlen)
{
	json_t		*root, *errs, *e;
	size_t		 i, n, start;
	int		 r;

	if (outlen == 0)
		return;
	r = snprintf(out, outlen, "%ld", status);
	if (r < 0 || (size_t)r >= outlen)
		return;
	n = (size_t)r;
	start = n;
	root = len > 0 ? gojson_load(body, len) : NULL;
	errs = gojson_get(root, "errors");
	if (json_is_array(errs)) {
		json_array_foreach(errs, i, e) {
			if (!json_is_string(e))
				continue;
			put_clean(out, outlen, &n, n == start ? ": " : "; ",
			    2);
			if (n - start >= ERRORS_MAX) {
				put_clean(out, outlen, &n, "...", 3);
				break;
			}
			put_clean(out, outlen, &n, json_string_value(e),
			    json_string_length(e) < ERRORS_MAX ?
			    json_string_length(e) : ERRORS_MAX);
		}
	} else if (len > 0 && root == NULL) {
		/* Not Vault's form (a proxy's page): its start. */
		put_clean(out, outlen, &n, ": ", 2);
		put_clean(out, outlen, &n, (const char *)body,
		    len < 80 ? len : 80);
	}
	json_decref(root);
}

bool
vault_errors_has(const uint8_t *body, size_t len, const char *needle)
{
	json_t	*root, *errs, *e;
	size_t	 i;
	bool	 found = false;

	if ((root = gojson_load(body, len)) == NULL)
		return false;
	errs = gojson_get(root, "errors");
	if (json_is_array(errs))
		json_array_foreach(errs, i, e)
			if (json_is_string(e) &&
			    strstr(json_string_value(e), needle) != NULL)
				found = true;
	json_decref(root);
	return found;
}

/*
 * The SDK's ParseSecret: an empty body (only blanks) is no secret at
 * all (io.EOF: *root NULL, 0); a body that is not one JSON object is an
 * error (-1); else the object.
 */
int
vault_parse_secret(const uint8_t *body, size_t len, json_t **root)
{
	size_t i;

	*root = NULL;
	for (i = 0; i < len; i++)
		if (body[i] != ' ' && body[i] != '\t' && body[i] != '\r' &&
		    body[i] != '\n')
			break;
	if (i == len)
		return 0;
	if ((*root = gojson_load(body, len)) == NULL)
		return -1;
	if (json_is_null(*root)) {
		/* Decoding null into a struct leaves it empty. */
		json_decref(*root);
		*root = json_object();
	}
	if (!json_is_object(*root)) {
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}

/* An unsigned integer field as Go decodes it into an int; -1 if present
 * with another type or out of range, 0 and *v = 0 when absent or null. */
static int
get_uint(const json_t *v, uint64_t *out)
{
	double d;

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!(d >= 0) || d != floor(d) || d > 9.2e18)
		return -1;
	*out = (uint64_t)d;
	return 0;
}

/* A bool field; -1 if present with another type. */
static int
get_bool(const json_t *v, bool *out)
{
	*out = false;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return -1;
	*out = json_is_true(v);
	return 0;
}

/* A token is a header value: printable ASCII without blanks only. */
static bool
token_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > VAULT_TOKEN_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* --- login --- */

int
vault_parse_login(long status, const uint8_t *body, size_t len,
    struct vault_login *l, char *err, size_t errlen)
{
	json_t		*root, *auth, *data, *tok = NULL, *v;
	uint64_t	 ttl = 0;
	bool		 renewable = false;
	int		 rc = -1;

	memset(l, 0, sizeof(*l));
	if (status >= 400) {
		vault_errors(status, body, len, err, errlen);
		return -1;
	}
	if (status < 200 || status > 299) {
		snprintf(err, errlen, "server responded with: %ld", status);
		return -1;
	}
	if (vault_parse_secret(body, len, &root) == -1) {
		snprintf(err, errlen, "%ld: the answer is not a JSON object",
		    status);
		return -1;
	}
	if (root == NULL) {
		snprintf(err, errlen, "authentication failed: SDK returned "
		    "no error but also no token");
		return -1;
	}
	auth = gojson_get(root, "auth");
	data = gojson_get(root, "data");
	if ((auth != NULL && !json_is_null(auth) && !json_is_object(auth)) ||
	    (data != NULL && !json_is_null(data) && !json_is_object(data))) {
		snprintf(err, errlen, "%ld: malformed answer", status);
		goto out;
	}
	/* Auth first; the data fields only where auth has nothing (the
	 * answer of a token lookup has its token there). */
	if (json_is_object(auth)) {
		v = gojson_get(auth, "client_token");
		if (v != NULL && !json_is_null(v) && !json_is_string(v))
			goto malformed;
		if (json_is_string(v) && json_string_length(v) > 0)
			tok = v;
		if (get_uint(gojson_get(auth, "lease_duration"), &ttl) == -1 ||
		    get_bool(gojson_get(auth, "renewable"), &renewable) == -1)
			goto malformed;
	}
	if (tok == NULL && json_is_object(data) &&
	    json_is_string(json_object_get(data, "id")))
		tok = json_object_get(data, "id");
	if (ttl == 0 && json_is_object(data) &&
	    get_uint(json_object_get(data, "ttl"), &ttl) == -1)
		goto malformed;
	if (!renewable && json_is_object(data) &&
	    get_bool(json_object_get(data, "renewable"), &renewable) == -1)
		goto malformed;
	/* KES installs an empty token (auth: null) and fails every call
	 * after; keyward says so here. */
	if (tok == NULL) {
		snprintf(err, errlen, "authentication failed: no token in the "
		    "answer");
		goto out;
	}
	if (!token_ok(json_string_value(tok), json_string_length(tok))) {
		snprintf(err, errlen, "authentication failed: the token in "
		    "the answer is not a header value");
		goto out;
	}
	l->token = xstrdup(json_string_value(tok));
	l->ttl_s = ttl > TTL_MAX ? TTL_MAX : ttl;
	l->renewable = renewable;
	rc = 0;
	goto out;
 malformed:
	snprintf(err, errlen, "%ld: malformed answer", status);
 out:
	json_decref(root);
	return rc;
}

/* --- health --- */

int
vault_parse_health(long status, const uint8_t *body, size_t len,
    struct vault_health *h, char *err, size_t errlen)
{
	json_t	*root;
	int	 rc = -1;

	memset(h, 0, sizeof(*h));
	/* The SDK's one exemption: a 429 from sys/health is an answer. */
	if (status != 429 && (status < 200 || status > 299)) {
		vault_errors(status, body, len, err, errlen);
		return -1;
	}
	if (vault_parse_secret(body, len, &root) == -1 || root == NULL) {
		snprintf(err, errlen, "%ld: the answer is not a JSON object",
		    status);
		return -1;
	}
	if (get_bool(gojson_get(root, "initialized"), &h->initialized) ==
	    -1 || get_bool(gojson_get(root, "sealed"), &h->sealed) == -1 ||
	    get_bool(gojson_get(root, "standby"), &h->standby) == -1)
		snprintf(err, errlen, "%ld: malformed health answer", status);
	else
		rc = 0;
	json_decref(root);
	return rc;
}

/* --- transit --- */

bool
vault_is_transit(const uint8_t *p, size_t len)
{
	size_t i = 7;

	if (len < 9 || memcmp(p, "vault:v", 7) != 0)
		return false;
	while (i < len && p[i] >= '0' && p[i] <= '9')
		i++;
	return i > 7 && i < len && p[i] == ':';
}

/* data.<field> of a 200 transit answer as a string, or NULL with err. */
static json_t *
transit_answer(const char *what, const char *field, long status,
    const uint8_t *body, size_t len, json_t **root, char *err,
    size_t errlen)
{
	json_t	*data, *v;
	char	 why[320];

	*root = NULL;
	if (status >= 400) {
		vault_errors(status, body, len, why, sizeof(why));
		snprintf(err, errlen, "failed to %s key: %s", what, why);
		return NULL;
	}
	if (status != 200) {
		snprintf(err, errlen, "server responded with: %ld", status);
		return NULL;
	}
	if (vault_parse_secret(body, len, root) == -1 || *root == NULL) {
		snprintf(err, errlen, "invalid vault response");
		return NULL;
	}
	data = gojson_get(*root, "data");
	v = json_is_object(data) ? json_object_get(data, field) : NULL;
	if (v == NULL || json_is_null(v)) {
		snprintf(err, errlen, "no %s in vault response", field);
		return NULL;
	}
	if (!json_is_string(v) ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		snprintf(err, errlen, "invalid vault response");
		return NULL;
	}
	return v;
}

int
vault_parse_encrypt(long status, const uint8_t *body, size_t len, char **ct,
    char *err, size_t errlen)
{
	json_t		*root, *v;
	const char	*s;

	*ct = NULL;
	v = transit_answer("encrypt", "ciphertext", status, body, len, &root,
	    err, errlen);
	if (v != NULL) {
		/* KES peers read only v1 (V8): a rotated key is refused. */
		s = json_string_value(v);
		if (strncmp(s, "vault:v1:", 9) != 0 || s[9] == '\0')
			snprintf(err, errlen, "invalid vault response");
		else
			*ct = xstrdup(s);
	}
	json_decref(root);
	return *ct != NULL ? 0 : -1;
}

int
vault_parse_decrypt(long status, const uint8_t *body, size_t len,
    uint8_t **pt, size_t *ptlen, char *err, size_t errlen)
{
	json_t	*root, *v;
	size_t	 n;
	int	 rc = -1;

	*pt = NULL;
	*ptlen = 0;
	v = transit_answer("decrypt", "plaintext", status, body, len, &root,
	    err, errlen);
	if (v != NULL) {
		n = json_string_length(v);
		if (b64_decoded_max(n) > KES_STORED_MAX + 3)
			snprintf(err, errlen, "the plaintext is too large for "
			    "a stored key");
		else {
			*pt = xmalloc(b64_decoded_max(n) + 1);
			if (b64_decode(json_string_value(v), n, *pt,
			    ptlen) == -1 || *ptlen == 0) {
				freezero(*pt, b64_decoded_max(n) + 1);
				*pt = NULL;
				*ptlen = 0;
				snprintf(err, errlen, "invalid vault "
				    "response: the plaintext is not base64");
			} else
				rc = 0;
		}
	}
	json_decref(root);
	return rc;
}
