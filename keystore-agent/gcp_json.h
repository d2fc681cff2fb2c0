/*
 * GCP Secret Manager's JSON (REST v1, spec §2.4, §2.6): the parsers of
 * every answer the store reads, and the service-account file of
 * Application Default Credentials (§2.2). Pure functions: no network, no
 * state; tests/fuzz/fuzz_gcp.c feeds them hostile bytes.
 */
#ifndef KEYWARD_KS_GCP_JSON_H
#define KEYWARD_KS_GCP_JSON_H

#include <stddef.h>
#include <stdint.h>

#define GCP_NAME_MAX	1024	/* a resource name longer is refused */
#define GCP_DETAIL_MAX	200	/* bytes of Google's message in a detail */

/*
 * An error answer {"error":{"code","message","status"}}: the canonical
 * status ("NOT_FOUND"; "" when absent) and the message, made printable,
 * into the buffers. Any body is accepted (non-JSON leaves both "").
 */
void	gcp_parse_error(const uint8_t *body, size_t len, char *status,
	    size_t statuslen, char *msg, size_t msglen);

/* A Secret (create's answer): its "name", "projects/<p>/secrets/<id>",
 * malloc'ed into *name. 0, or -1 with err. */
int	gcp_parse_secret(const uint8_t *body, size_t len, char **name,
	    char *err, size_t errlen);

/* An AccessSecretVersionResponse: payload.data decoded (base64, standard
 * or URL-safe alphabet, padding optional) into *val (freezero(*val,
 * *vlen)). 0, or -1 with err. */
int	gcp_parse_access(const uint8_t *body, size_t len, uint8_t **val,
	    size_t *vlen, char *err, size_t errlen);

/*
 * A ListSecretsResponse page: each secret's id (the last segment of its
 * name) to cb (a -1 from cb stops with -1); *next the nextPageToken
 * (malloc'ed, NULL when none or empty); *n the count of secrets. 0, or
 * -1 with err.
 */
int	gcp_parse_list(const uint8_t *body, size_t len,
	    int (*cb)(const char *id, void *), void *arg, char **next,
	    size_t *n, char *err, size_t errlen);

/*
 * A service-account key file (type "service_account"): its client_email,
 * private_key, private_key_id (may be empty) and token_uri (default
 * when absent), each malloc'ed; 0, or -1 with err (never key bytes).
 */
struct gcp_sa {
	char	*email, *key, *kid, *token_uri;
};
int	gcp_parse_sa_file(const uint8_t *body, size_t len, struct gcp_sa *,
	    char *err, size_t errlen);
void	gcp_sa_free(struct gcp_sa *);

#endif
