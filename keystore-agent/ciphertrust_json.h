/*
 * The JSON the CipherTrust Manager store speaks (ciphertrust_json.c),
 * both ways, without any network: request bodies written as Go's
 * encoding/json writes KES's structs, and one parser per kind of answer,
 * each mapping CipherTrust's status and body to what KES decides
 * (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §2.3, §2.4, §2.5),
 * with KES's texts.
 *
 * Every parser takes the HTTP status and the whole body as received and
 * treats both as hostile: any input gives a defined answer and nothing
 * outside the parser's own output. Fields are matched the way Go's
 * decoder matches KES's structs (case-insensitively, common/gojson.h).
 *
 * An error body is read as JSON when its Content-Type (ctype, trimmed;
 * NULL when the answer had none) starts with application/json, as KES
 * reads it, and as text otherwise. Details (err) are sentences for the
 * log: they quote CipherTrust's own texts (cut, control characters
 * replaced) and never a token or a value.
 */
#ifndef KEYWARD_KS_CIPHERTRUST_JSON_H
#define KEYWARD_KS_CIPHERTRUST_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define CT_JWT_MAX		16384	/* a longer jwt is refused */
#define CT_AUTH_BODY_MAX	(1u << 20)	/* KES's read limits */
#define CT_EXPORT_BODY_MAX	(2u << 20)
#define CT_LIST_BODY_MAX	(32u << 20)
#define CT_PAGE_LIMIT		200	/* secrets per listing page */

/* --- request bodies ------------------------------------------------------ */

/* {"grant_type":"refresh_token","refresh_token":rt,"domain":domain};
 * domain is sent even when "". */
int	ct_body_auth(struct buf *, const char *rt, const char *domain);
/* {"dataType":"seed","material":value,"name":name}; value is text
 * without NUL. */
int	ct_body_create(struct buf *, const char *name, const char *value);

/* --- answers ------------------------------------------------------------- */

/* Go's resp.Status: "401 Unauthorized" (the code alone when unknown). */
void	ct_status_line(long status, char *out, size_t outlen);

/*
 * KES's parseServerError: a JSON body {"code":<int>,"codeDesc":"..."}
 * (Content-Type application/json), or a text body (trimmed) with the
 * HTTP status as the code. desc is cleaned and cut. -1 with err when a
 * JSON body does not decode.
 */
struct ct_error {
	long	code;
	char	desc[256];
};
int	ct_parse_error(long status, const char *ctype, const uint8_t *body,
	    size_t len, struct ct_error *, char *err, size_t errlen);

/*
 * POST /api/v1/auth/tokens (§2.3): 200 with a non-empty jwt (printable,
 * no blanks: it becomes a header), token_type "Bearer" exactly and a
 * duration > 0. The jwt is a copy the caller frees with freezero_str().
 * -1 with err, KES's message, on anything else; *status4xx tells a
 * refused refresh token (or domain) from an outage.
 */
struct ct_token {
	char		*jwt;
	uint64_t	 duration_s;
};
int	ct_parse_auth(long status, const char *ctype, const uint8_t *body,
	    size_t len, struct ct_token *, char *err, size_t errlen);

/* Create: 201 is 0, 409 is 1 (exists), else -1 with err. */
int	ct_parse_create(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *name, char *err, size_t errlen);

/*
 * Export (Get): 200 gives the value of "material" (a copy, NUL-terminated
 * after *vlen; freezero(*value, *vlen + 1)); an absent material is an
 * empty value, as KES reads it. CT_ABSENT for 404, CT_FAIL with err.
 */
enum ct_get {
	CT_VALUE = 0,
	CT_ABSENT,
	CT_FAIL,
};
enum ct_get	ct_parse_export(long status, const char *ctype,
		    const uint8_t *body, size_t len, const char *name,
		    uint8_t **value, size_t *vlen, char *err, size_t errlen);

/* Delete: 204 is 0, 404 is 1 (absent, or not permitted: CipherTrust
 * says the same for both), else -1 with err. */
int	ct_parse_delete(long status, const char *ctype, const uint8_t *body,
	    size_t len, const char *name, char *err, size_t errlen);

/*
 * One page of GET /api/v1/vault/secrets?limit=200&skip=<skip>: every
 * resources[].name goes to fn (which returns -1 to stop the listing);
 * the page's skip, total and count are returned. A page whose skip is
 * not the one asked for is KES's out-of-sync error. 0, or -1 with err.
 */
struct ct_page {
	uint64_t	skip, total;
	size_t		n;
};
int	ct_parse_list(long status, const char *ctype, const uint8_t *body,
	    size_t len, uint64_t skip, int (*fn)(const char *, void *),
	    void *arg, struct ct_page *, char *err, size_t errlen);

#endif
