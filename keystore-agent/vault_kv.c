/*
 * Vault's KV answers (vault_json.h): the SDK's logical read, Create's
 * probe and Get (§1.5), writes, deletes and listings.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/gojson.h"
#include "common/kes_key.h"
#include "common/xmalloc.h"
#include "keystore-agent/vault_json.h"

#define CAS_MISMATCH	"check-and-set parameter did not match the current " \
			"version"

/* --- KV --- */

/*
 * The SDK's logical read: *root NULL for "no secret" (204, an empty body,
 * a 404 with nothing but errors), else the secret; -1 with err (without
 * the "vault: failed to ..." head) for an HTTP error or a bad body.
 */
static int
logical_read(long status, const uint8_t *body, size_t len, json_t **root,
    char *err, size_t errlen)
{
	json_t	*data, *warn;

	*root = NULL;
	if (status != 404 && status >= 400) {
		vault_errors(status, body, len, err, errlen);
		return -1;
	}
	if (status != 404 && (status < 200 || status > 299)) {
		snprintf(err, errlen, "server responded with: %ld", status);
		return -1;
	}
	if (vault_parse_secret(body, len, root) == -1) {
		snprintf(err, errlen, "%ld: the answer is not a JSON object",
		    status);
		return -1;
	}
	if (status == 404 && *root != NULL) {
		data = gojson_get(*root, "data");
		warn = gojson_get(*root, "warnings");
		if ((json_is_object(data) && json_object_size(data) > 0) ||
		    (json_is_array(warn) && json_array_size(warn) > 0))
			return 0;
		json_decref(*root);
		*root = NULL;
	}
	return 0;
}

static enum vault_kv
kv_value(const json_t *fields, const char *name, const char *loc,
    uint8_t **value, size_t *vlen, char *err, size_t errlen)
{
	json_t *v = json_is_object(fields) ? json_object_get(fields, name) :
	    NULL;

	if (v == NULL || json_is_null(v)) {
		snprintf(err, errlen, "vault: failed to read '%.200s': entry "
		    "exists but no secret key is present", loc);
		return VAULT_KV_FAIL;
	}
	if (!json_is_string(v)) {
		snprintf(err, errlen, "vault: failed to read '%.200s': invalid "
		    "K/V format", loc);
		return VAULT_KV_FAIL;
	}
	if (json_string_length(v) > KES_STORED_MAX) {
		snprintf(err, errlen, "vault: failed to read '%.200s': %zu bytes, "
		    "too large for a stored key", loc, json_string_length(v));
		return VAULT_KV_FAIL;
	}
	*vlen = json_string_length(v);
	*value = xmemdup(json_string_value(v), *vlen + 1);
	return VAULT_KV_VALUE;
}

/* Create's probe (§1.5 Create, table of step 2). */
static enum vault_kv
kv_probe(int kv_version, const json_t *secret, const char *name,
    const char *loc, char *err, size_t errlen)
{
	json_t *data = gojson_get(secret, "data"), *inner;

	if (kv_version == 1) {
		if (json_is_object(data) &&
		    json_object_get(data, name) != NULL)
			return VAULT_KV_EXISTS;
		snprintf(err, errlen, "vault: entry exist but failed to read "
		    "'%.200s': invalid K/V v1 format", loc);
		return VAULT_KV_FAIL;
	}
	if (!json_is_object(data) || json_object_size(data) == 0)
		return VAULT_KV_ABSENT;
	inner = json_object_get(data, "data");
	if (inner == NULL || json_is_null(inner)) {
		snprintf(err, errlen, "vault: entry exists but failed to read "
		    "'%.200s': invalid K/V v2 format: missing 'data' entry", loc);
		return VAULT_KV_FAIL;
	}
	if (!json_is_object(inner)) {
		snprintf(err, errlen, "vault: entry exists but failed to read "
		    "'%.200s': invalid K/V v2 format: invalid 'data' entry", loc);
		return VAULT_KV_FAIL;
	}
	if (json_object_get(inner, name) == NULL) {
		snprintf(err, errlen, "vault: failed to read '%.200s': entry "
		    "exists but no secret key is present", loc);
		return VAULT_KV_FAIL;
	}
	return VAULT_KV_EXISTS;
}

enum vault_kv
vault_parse_kv(int kv_version, bool probe, const char *name,
    const char *loc, long status, const uint8_t *body, size_t len,
    uint8_t **value, size_t *vlen, char *err, size_t errlen)
{
	json_t		*secret, *data, *inner;
	char		 why[320];
	enum vault_kv	 rc;

	*value = NULL;
	*vlen = 0;
	if (logical_read(status, body, len, &secret, why, sizeof(why)) ==
	    -1) {
		snprintf(err, errlen, "vault: failed to %s '%.200s': %s",
		    probe ? "create" : "read", loc, why);
		return VAULT_KV_FAIL;
	}
	if (secret == NULL)
		return VAULT_KV_ABSENT;
	if (probe)
		rc = kv_probe(kv_version, secret, name, loc, err, errlen);
	else {
		data = gojson_get(secret, "data");
		if (data != NULL && !json_is_null(data) &&
		    !json_is_object(data)) {
			snprintf(err, errlen, "vault: failed to read '%.200s': "
			    "error parsing secret at '%.200s'", loc, loc);
			rc = VAULT_KV_FAIL;
		} else if (kv_version == 1)
			rc = kv_value(data, name, loc, value, vlen, err,
			    errlen);
		else {
			inner = json_is_object(data) ?
			    json_object_get(data, "data") : NULL;
			if (inner != NULL && !json_is_null(inner) &&
			    !json_is_object(inner)) {
				snprintf(err, errlen, "vault: failed to read "
				    "'%.200s': error parsing secret at '%.200s'", loc,
				    loc);
				rc = VAULT_KV_FAIL;
			} else
				rc = kv_value(inner, name, loc, value, vlen,
				    err, errlen);
		}
	}
	json_decref(secret);
	return rc;
}

int
vault_parse_write(long status, const uint8_t *body, size_t len,
    const char *loc, char *err, size_t errlen)
{
	char why[320];

	if (status == 200 || status == 204)
		return 0;
	if (status == 400 && vault_errors_has(body, len, CAS_MISMATCH)) {
		snprintf(err, errlen, "vault: key '%.200s' exists (check-and-set "
		    "conflict)", loc);
		return 1;
	}
	if (status >= 400) {
		vault_errors(status, body, len, why, sizeof(why));
		snprintf(err, errlen, "vault: failed to create '%.200s': %s", loc,
		    why);
	} else
		snprintf(err, errlen, "vault: failed to read '%.200s': server "
		    "responded with: %ld", loc, status);
	return -1;
}

int
vault_parse_delete(long status, const uint8_t *body, size_t len,
    const char *loc, char *err, size_t errlen)
{
	char why[320];

	if (status >= 200 && status <= 299)
		return 0;
	if (status >= 400)
		vault_errors(status, body, len, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "server responded with: %ld",
		    status);
	snprintf(err, errlen, "vault: failed to delete '%.200s': %s", loc, why);
	return -1;
}

/* --- list --- */

/* An empty folder: 404 {"errors":[]} (keyward V1; KES fails). */
static bool
list_empty_404(const uint8_t *body, size_t len)
{
	json_t	*root, *errs;
	bool	 empty;

	if ((root = gojson_load(body, len)) == NULL)
		return false;
	errs = gojson_get(root, "errors");
	empty = json_is_object(root) && json_is_array(errs) &&
	    json_array_size(errs) == 0 &&
	    gojson_get(root, "data") == NULL &&
	    gojson_get(root, "warnings") == NULL;
	json_decref(root);
	return empty;
}

/* Go's fmt.Sprint of a decoded JSON value, for the ones a name can be. */
static int
sprint(const json_t *v, char *out, size_t outlen)
{
	double d;

	if (json_is_string(v)) {
		if (strlen(json_string_value(v)) != json_string_length(v))
			return -1;	/* a NUL inside: no name */
		snprintf(out, outlen, "%s", json_string_value(v));
	} else if (json_is_number(v)) {
		d = json_number_value(v);
		if (d == floor(d) && fabs(d) < 1e21)
			snprintf(out, outlen, "%.0f", d);
		else
			snprintf(out, outlen, "%g", d);
	} else if (json_is_boolean(v))
		snprintf(out, outlen, "%s", json_is_true(v) ? "true" : "false");
	else
		return -1;
	return 0;
}

int
vault_parse_list(long status, const uint8_t *body, size_t len,
    const char *loc, int (*fn)(const char *, void *), void *arg,
    char *err, size_t errlen)
{
	json_t	*root, *data, *keys, *e;
	char	 why[320], name[256];
	size_t	 i;
	int	 rc = -1;

	if (status == 404 && list_empty_404(body, len))
		return 0;
	if (status >= 400 || status < 200 || status > 299) {
		if (status >= 400)
			vault_errors(status, body, len, why, sizeof(why));
		else
			snprintf(why, sizeof(why), "server responded with: "
			    "%ld", status);
		snprintf(err, errlen, "vault: failed to list '%.200s': %s", loc,
		    why);
		return -1;
	}
	if (vault_parse_secret(body, len, &root) == -1) {
		snprintf(err, errlen, "vault: failed to list '%.200s': the answer "
		    "is not a JSON object", loc);
		return -1;
	}
	if (root == NULL)
		return 0;
	data = gojson_get(root, "data");
	keys = json_is_object(data) ? json_object_get(data, "keys") : NULL;
	if (!json_is_array(keys)) {
		snprintf(err, errlen, "vault: failed to list '%.200s': invalid "
		    "key listing format", loc);
		goto out;
	}
	json_array_foreach(keys, i, e) {
		if (sprint(e, name, sizeof(name)) == -1)
			continue;
		if (fn(name, arg) == -1) {
			snprintf(err, errlen, "vault: failed to list '%.200s': "
			    "listing stopped", loc);
			goto out;
		}
	}
	rc = 0;
 out:
	json_decref(root);
	return rc;
}

