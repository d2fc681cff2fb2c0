/*
 * The JSON the Vault key store speaks (vault_json.c, vault_kv.c), both
 * ways, without any network: request bodies written as Go's
 * encoding/json writes them (sorted keys, HTML-safe escapes:
 * common/json_out.h), request paths
 * joined as Go's path.Join and escaped as net/url does, and one parser
 * per kind of answer, each mapping Vault's status and body to what KES
 * decides (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §1.5, §1.6.1,
 * §1.7, §1.9) with keyward's decisions V1, V2 and V8 (§1.10).
 *
 * Every parser takes the HTTP status and the whole body as received and
 * treats both as hostile: any input gives a defined answer and nothing
 * outside the parser's own output. Envelope fields are matched the way
 * the Vault SDK's structs match them (case-insensitively, common/gojson.h);
 * the maps inside ("data") are Go maps, matched exactly.
 *
 * Details (err) are sentences for the log: they quote Vault's own error
 * texts (cut, control characters replaced) and never a token, a secret or
 * a value.
 */
#ifndef KEYWARD_KS_VAULT_JSON_H
#define KEYWARD_KS_VAULT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/buf.h"

#define VAULT_TOKEN_MAX		4096	/* a longer client_token is refused */
#define VAULT_PATH_MAX		2048	/* an escaped request path */

/* --- request bodies and paths -------------------------------------------- */

/* {"role_id":id,"secret_id":secret} */
int	vault_body_approle(struct buf *, const char *id, const char *secret);
/* {"jwt":jwt,"role":role} */
int	vault_body_kubernetes(struct buf *, const char *jwt, const char *role);
/* KV v1 {"<name>":"<value>"}; v2 {"data":{"<name>":"<value>"},
 * "options":{"cas":0}}. value is text without NUL. */
int	vault_body_kv(struct buf *, int kv_version, const char *name,
	    const char *value);
/* Transit: {"plaintext":"<base64 of value>"}, {"ciphertext":"<ct>"}. */
int	vault_body_plaintext(struct buf *, const uint8_t *, size_t);
int	vault_body_ciphertext(struct buf *, const char *ct);
/* renew-self: {"increment":0} */
int	vault_body_renew(struct buf *);

/*
 * Go's path.Join of the non-empty elements (NULL ends the list), cleaned
 * (no "//", no "." or ".." elements, no trailing '/'), written to out;
 * -1 when it does not fit. "" when every element is empty.
 */
int	vault_path_join(char *out, size_t outlen, ...)
	    __attribute__((sentinel));
/* "/v1/" + loc, each byte escaped the way Go's URL.EscapedPath does,
 * + query ("" for none). -1 when it does not fit. */
int	vault_url(char *out, size_t outlen, const char *loc,
	    const char *query);

/* --- answers ------------------------------------------------------------- */

/* Vault's errors for a failed answer, as one line: "403: permission
 * denied" or "503: <body start>" when the body is not Vault's form. */
void	vault_errors(long status, const uint8_t *body, size_t len, char *out,
	    size_t outlen);
/* Whether the errors list contains (a text containing) needle. */
bool	vault_errors_has(const uint8_t *body, size_t len, const char *needle);

/* The SDK's ParseSecret: 0 with *root NULL for an empty body (no secret),
 * 0 with the object, or -1 when the body is not one JSON object. */
int	vault_parse_secret(const uint8_t *body, size_t len, json_t **root);

/* A login or renew-self answer (VAPI secret.go TokenID, TokenTTL,
 * TokenIsRenewable). The token is a copy the caller frees with
 * freezero_str(). */
struct vault_login {
	char		*token;
	uint64_t	 ttl_s;
	bool		 renewable;
};
int	vault_parse_login(long status, const uint8_t *body, size_t len,
	    struct vault_login *, char *err, size_t errlen);

/*
 * A KV read, as Create's probe (probe: EXISTS or ABSENT, never a value)
 * or as Get (VALUE or ABSENT). loc names the secret in details. A value
 * is a copy (*value, *vlen; freezero).
 */
enum vault_kv {
	VAULT_KV_ABSENT = 0,	/* probe: go on and write; get: not found */
	VAULT_KV_EXISTS,	/* probe only */
	VAULT_KV_VALUE,		/* get only */
	VAULT_KV_FAIL,		/* err says why */
};
enum vault_kv	vault_parse_kv(int kv_version, bool probe, const char *name,
		    const char *loc, long status, const uint8_t *body,
		    size_t len, uint8_t **value, size_t *vlen, char *err,
		    size_t errlen);

/* A KV write (v1 answers 204, v2 200): 0, 1 for the v2 check-and-set
 * conflict (the name exists, keyward V2), or -1 with err. */
int	vault_parse_write(long status, const uint8_t *body, size_t len,
	    const char *loc, char *err, size_t errlen);

/* A delete: any 2xx is done (0), else -1 with err. */
int	vault_parse_delete(long status, const uint8_t *body, size_t len,
	    const char *loc, char *err, size_t errlen);

/*
 * A listing: each entry of data.keys goes to fn (strings as they are,
 * other JSON values as Go's fmt.Sprint writes them), which returns -1 to
 * stop. 404 with an empty errors list is an empty folder (keyward V1).
 * 0, or -1 with err.
 */
int	vault_parse_list(long status, const uint8_t *body, size_t len,
	    const char *loc, int (*fn)(const char *, void *), void *arg,
	    char *err, size_t errlen);

/* sys/health with every code moved to 299 (§1.5 Status); 429 is an
 * answer too (the SDK's exemption). */
struct vault_health {
	bool	initialized;
	bool	sealed;
	bool	standby;
};
int	vault_parse_health(long status, const uint8_t *body, size_t len,
	    struct vault_health *, char *err, size_t errlen);

/* Transit encrypt: the ciphertext, which must be "vault:v1:..." (V8),
 * as a copy (free()). */
int	vault_parse_encrypt(long status, const uint8_t *body, size_t len,
	    char **ct, char *err, size_t errlen);
/* Transit decrypt: data.plaintext decoded from base64 into a copy
 * (freezero). */
int	vault_parse_decrypt(long status, const uint8_t *body, size_t len,
	    uint8_t **pt, size_t *ptlen, char *err, size_t errlen);
/* Whether a stored string is a transit ciphertext "vault:v<N>:" (V8). */
bool	vault_is_transit(const uint8_t *, size_t);

#endif
