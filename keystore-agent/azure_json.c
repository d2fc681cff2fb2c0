/*
 * Azure Key Vault's JSON (azure_json.h). Bytes from the network: every
 * field's type is checked, sizes are bounded, nothing secret reaches an
 * error text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/xmalloc.h"
#include "keystore-agent/azure_json.h"

static json_t *
load(const uint8_t *b, size_t len)
{
	return json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, NULL);
}

static void
clean(char *out, size_t outlen, const char *s)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; s != NULL && s[i] != '\0' && i < AZ_DETAIL_MAX &&
	    i + 1 < outlen; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

void
az_parse_error(const uint8_t *b, size_t len, char *code, size_t codelen,
    char *inner, size_t innerlen, char *msg, size_t msglen)
{
	json_t *j = load(b, len), *e;

	e = json_object_get(j, "error");
	clean(code, codelen, json_string_value(json_object_get(e, "code")));
	clean(inner, innerlen, json_string_value(json_object_get(
	    json_object_get(e, "innererror"), "code")));
	clean(msg, msglen, json_string_value(json_object_get(e, "message")));
	json_decref(j);
}

/* The last path segment of an id: 1 to 127 of [0-9A-Za-z-] for a name,
 * 32 hex for a version; here: non-empty, no '/', '?', '#', '%'. */
static const char *
last_segment(const char *id)
{
	const char *s;

	if (id == NULL || strlen(id) > AZ_ID_MAX ||
	    (s = strrchr(id, '/')) == NULL || s[1] == '\0' ||
	    strpbrk(s + 1, "?#%\\ \t\r\n") != NULL || strcmp(s + 1, "..") == 0 ||
	    strcmp(s + 1, ".") == 0)
		return NULL;
	return s + 1;
}

static int
num(json_t *a, const char *k, int64_t *v)
{
	json_t *x = json_object_get(a, k);

	if (x == NULL || json_is_null(x))
		return 0;
	if (!json_is_number(x))
		return -1;
	if (json_is_integer(x)) {
		*v = (int64_t)json_integer_value(x);
		return 1;
	}
	/* A real outside int64_t's range (undefined to convert) is the
	 * far past or the far future. */
	if (json_real_value(x) >= 9.2e18)
		*v = INT64_MAX;
	else if (json_real_value(x) <= -9.2e18)
		*v = INT64_MIN;
	else
		*v = (int64_t)json_real_value(x);
	return 1;
}

int
az_parse_bundle(const uint8_t *b, size_t len, int64_t now, char **value,
    size_t *vlen, char *why, size_t whylen)
{
	json_t		*j = load(b, len), *a, *en;
	const char	*v;
	int64_t		 t;
	int		 rc = -1, r;

	*value = NULL;
	*vlen = 0;
	if (!json_is_object(j) || (v = json_string_value(json_object_get(j,
	    "value"))) == NULL) {
		snprintf(why, whylen, "the secret bundle has no value");
		goto out;
	}
	a = json_object_get(j, "attributes");
	if (a != NULL && !json_is_object(a)) {
		snprintf(why, whylen, "the secret bundle's attributes are not "
		    "an object");
		goto out;
	}
	en = json_object_get(a, "enabled");
	rc = 1;
	if (json_is_false(en)) {
		snprintf(why, whylen, "ObjectIsDisabled");
		goto out;
	}
	if ((r = num(a, "nbf", &t)) == -1 || (r == 1 && t > now)) {
		snprintf(why, whylen, "ObjectMustNotBeUsed");
		goto out;
	}
	if ((r = num(a, "exp", &t)) == -1 || (r == 1 && t < now)) {
		snprintf(why, whylen, "ObjectIsExpired");
		goto out;
	}
	*vlen = json_string_length(json_object_get(j, "value"));
	*value = xmalloc(*vlen + 1);
	memcpy(*value, v, *vlen);
	(*value)[*vlen] = '\0';
	rc = 0;
 out:
	json_decref(j);
	return rc;
}

int
az_parse_versions(const uint8_t *b, size_t len, char **version, bool *more,
    char *why, size_t whylen)
{
	json_t		*j = load(b, len), *a, *e, *n;
	const char	*id, *seg, *best = NULL;
	int64_t		 c, min = 0;
	size_t		 i;
	int		 rc = -1;

	*version = NULL;
	*more = false;
	a = json_object_get(j, "value");
	if (!json_is_object(j) || (a != NULL && !json_is_array(a))) {
		snprintf(why, whylen, "the versions listing is not "
		    "{\"value\":[...]}");
		goto out;
	}
	json_array_foreach(a, i, e) {
		id = json_string_value(json_object_get(e, "id"));
		if ((seg = last_segment(id)) == NULL ||
		    num(json_object_get(e, "attributes"), "created", &c) != 1)
			continue;
		if (best == NULL || c < min) {
			best = seg;
			min = c;
		}
	}
	n = json_object_get(j, "nextLink");
	if (n != NULL && !json_is_null(n) && !json_is_string(n)) {
		snprintf(why, whylen, "nextLink is not a string");
		goto out;
	}
	*more = json_is_string(n) && json_string_length(n) > 0;
	if (best != NULL)
		*version = xstrdup(best);
	rc = 0;
 out:
	json_decref(j);
	return rc;
}

int
az_parse_list(const uint8_t *b, size_t len, int (*cb)(const char *, void *),
    void *arg, char **next, char *why, size_t whylen)
{
	json_t		*j = load(b, len), *a, *e, *n;
	const char	*seg;
	size_t		 i;
	int		 rc = -1;

	*next = NULL;
	a = json_object_get(j, "value");
	if (!json_is_object(j) || (a != NULL && !json_is_array(a))) {
		snprintf(why, whylen, "the listing is not {\"value\":[...]}");
		goto out;
	}
	json_array_foreach(a, i, e) {
		seg = last_segment(json_string_value(json_object_get(e, "id")));
		if (seg == NULL) {
			snprintf(why, whylen, "a listed secret has no usable "
			    "id");
			goto out;
		}
		if (cb(seg, arg) == -1) {
			snprintf(why, whylen, "the listing was stopped");
			goto out;
		}
	}
	n = json_object_get(j, "nextLink");
	if (n != NULL && !json_is_null(n) && !json_is_string(n)) {
		snprintf(why, whylen, "nextLink is not a string");
		goto out;
	}
	if (json_is_string(n) && json_string_length(n) > 0) {
		if (json_string_length(n) > AZ_ID_MAX) {
			snprintf(why, whylen, "nextLink is too long");
			goto out;
		}
		*next = xstrdup(json_string_value(n));
	}
	rc = 0;
 out:
	json_decref(j);
	return rc;
}
