/*
 * The JSON the Fortanix DSM (SDKMS) store speaks (fortanix_json.c), both
 * ways, without any network: request bodies written as Go's encoding/json
 * writes KES's structs, and one parser per kind of answer, each mapping
 * the HTTP status and body to what KES decides
 * (spec/keystores-cloud-and-legacy-config.md §4.3-§4.5).
 *
 * Every parser takes the status and the whole body as received and treats
 * both as hostile: any input gives a defined answer and nothing outside
 * the parser's own output. Fields are matched the way Go's decoder
 * matches KES's structs (case-insensitively, common/gojson.h).
 *
 * An error body (status >= 400) is read as JSON {"message": ...} when its
 * Content-Type (ctype; NULL when none) starts with application/json, as
 * text otherwise (KES's parseErrorResponse). Details (err) are sentences
 * for the log: they quote Fortanix's own texts (cut, control characters
 * replaced) and never a key, a token or a value.
 */
#ifndef KEYWARD_KS_FORTANIX_JSON_H
#define KEYWARD_KS_FORTANIX_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define FX_BODY_MAX		(1u << 20)	/* KES's read limit */
#define FX_LIST_BODY_MAX	(32u << 20)
#define FX_TOKEN_MAX		16384
#define FX_KID_MAX		64
#define FX_PAGE_LIMIT		100	/* objects per listing page */

/* The two texts KES compares (keystore.go). */
#define FX_EXISTS		"sobject already exists"
#define FX_MISSING		"sobject does not exist"

/* --- request bodies ------------------------------------------------------ */

/* {"obj_type":"OPAQUE","name":name,"group_id":gid,"key_ops":["EXPORT",
 * "APPMANAGEABLE"],"value":base64(value),"enabled":true}; group_id left
 * out when gid is NULL or "". */
int	fx_body_create(struct buf *, const char *name, const char *gid,
	    const uint8_t *value, size_t len);
/* {"name":name} */
int	fx_body_name(struct buf *, const char *name);

/* --- answers ------------------------------------------------------------- */

/* The message of an error answer (cleaned, cut); "" when none. */
void	fx_error_text(const char *ctype, const uint8_t *body, size_t len,
	    char *out, size_t outlen);

/* POST /sys/v1/session/auth: 200 with a non-empty access_token that can
 * be a header value (a copy: freezero_str()); -1 with err otherwise. */
int	fx_parse_auth(long status, const char *ctype, const uint8_t *body,
	    size_t len, char **token, char *err, size_t errlen);

/* Create: 201 is 0, 409 with FX_EXISTS is 1, else -1 with err. */
int	fx_parse_create(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *name, char *err, size_t errlen);

/*
 * Export: 200 gives the decoded value (freezero(*value, *vlen); at most
 * KES_STORED_MAX bytes) and the object's kid (a UUID-like token of
 * [0-9A-Za-z-], for delete). FX_ABSENT for 404 with FX_MISSING; FX_FAIL
 * with err for anything else, a disabled object included.
 */
enum fx_get {
	FX_VALUE = 0,
	FX_ABSENT,
	FX_FAIL,
};
enum fx_get	fx_parse_export(long status, const char *ctype,
		    const uint8_t *body, size_t len, const char *name,
		    uint8_t **value, size_t *vlen, char kid[FX_KID_MAX + 1],
		    char *err, size_t errlen);

/* Delete by kid: 204 is 0, else -1 with err. */
int	fx_parse_delete(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *name, char *err, size_t errlen);

/*
 * One page of GET /crypto/v1/keys?sort=name:asc&limit=N[&start=S]: a JSON
 * array of objects. Every name greater than after (bytewise; after NULL:
 * every name) goes to fn (which returns -1 to stop); *n counts them and
 * last (FX_NAME_BUF bytes) gets the greatest. A name that is not greater
 * than after and not equal to it means the server does not page in name
 * order: an error. *entries is the length of the array. 0, or -1 with err.
 */
#define FX_NAME_BUF		1024
int	fx_parse_list(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *after, int (*fn)(const char *, void *),
	    void *arg, size_t *entries, size_t *n, char last[FX_NAME_BUF],
	    char *err, size_t errlen);

#endif
