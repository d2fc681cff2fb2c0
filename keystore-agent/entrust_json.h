/*
 * The JSON the Entrust KeyControl store speaks (entrust_json.c), both
 * ways, without any network: request bodies written as Go's
 * encoding/json writes KES's structs, and one parser per kind of answer,
 * each mapping the HTTP status and body to what KES decides
 * (spec/keystores-cloud-and-legacy-config.md §5.3-§5.6).
 *
 * Every parser takes the status and the whole body as received and treats
 * both as hostile. Fields are matched the way Go's decoder matches KES's
 * structs (case-insensitively, common/gojson.h). An error answer is read
 * as JSON {"error": ...} when its Content-Type (NULL when none) starts
 * with application/json, as text otherwise. Details (err) are sentences
 * for the log: they quote KeyControl's texts (cut, control characters
 * replaced) and never a password, a token or a value.
 */
#ifndef KEYWARD_KS_ENTRUST_JSON_H
#define KEYWARD_KS_ENTRUST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define EN_BODY_MAX		(1u << 20)	/* KES's read limit */
#define EN_LIST_BODY_MAX	(32u << 20)
#define EN_TOKEN_MAX		16384	/* an access token */
#define EN_NEXT_MAX		8192	/* a listing's next_token */
#define EN_PAGE_ITEMS		256	/* max_items of a listing page */

/* The two texts KES compares (keycontrol.go). */
#define EN_EXISTS		"Secret already exists"
#define EN_MISSING		"Secret not found"

/* --- request bodies ------------------------------------------------------ */

int	en_body_login(struct buf *, const char *user, const char *password);
/* {"box_id":box} */
int	en_body_box(struct buf *, const char *box);
/* {"box_id":box,"name":name,"secret_data":base64(value)} */
int	en_body_create(struct buf *, const char *box, const char *name,
	    const uint8_t *value, size_t len);
/* {"box_id":box,"secret_id":name} */
int	en_body_secret(struct buf *, const char *box, const char *name);
/* {"box_id":box,"max_items":256[,"next_token":next]} */
int	en_body_list(struct buf *, const char *box, const char *next);

/* --- answers ------------------------------------------------------------- */

/* "keycontrol: <error>" for JSON, "keycontrol: <status line>: <body>"
 * otherwise (KES's parseErrorResponse); *text gets the bare error text
 * of a JSON answer ("" otherwise). */
void	en_error(long status, const char *ctype, const uint8_t *body,
	    size_t len, char *text, size_t textlen, char *err, size_t errlen);

/*
 * Login and Renew: 200 with a non-empty access_token that can be a header
 * value (a copy: freezero_str()) and expires_at (RFC 3339) as Unix
 * seconds in *expires, 0 when absent or zero (the caller uses now + 5
 * min). -1 with err otherwise.
 */
int	en_parse_token(long status, const char *ctype, const uint8_t *body,
	    size_t len, char **token, int64_t *expires, char *err,
	    size_t errlen);

/* RFC 3339 ("2024-05-01T10:00:00.5Z", "...+02:00") as Unix seconds. */
int	en_rfc3339(const char *, size_t, int64_t *);

/* Create: 200 is 0, 409 with EN_EXISTS is 1, else -1 with err. */
int	en_parse_create(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *name, char *err, size_t errlen);

/* Checkout: 200 gives secret_data decoded (freezero(*value, *vlen); at
 * most KES_STORED_MAX bytes); EN_ABSENT for 404 with EN_MISSING. */
enum en_get {
	EN_VALUE = 0,
	EN_ABSENT,
	EN_FAIL,
};
enum en_get	en_parse_checkout(long status, const char *ctype,
		    const uint8_t *body, size_t len, const char *name,
		    uint8_t **value, size_t *vlen, char *err, size_t errlen);

/* Delete: 200 is 0, 404 with EN_MISSING is 1, else -1 with err. */
int	en_parse_delete(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *name, char *err, size_t errlen);

/* GetBox (status): 200 is 0, else -1 with err. */
int	en_parse_box(long status, const char *ctype, const uint8_t *body,
	    size_t len, char *err, size_t errlen);

/*
 * One page of ListSecretIds: every secrets[].name that is not expired goes
 * to fn (-1 stops the listing); next (EN_NEXT_MAX + 1 bytes) gets the
 * page's next_token, "" at the end. 0, or -1 with err.
 */
int	en_parse_list(long status, const char *ctype, const uint8_t *body,
	    size_t len, int (*fn)(const char *, void *), void *arg,
	    size_t *n, char *next, char *err, size_t errlen);

#endif
