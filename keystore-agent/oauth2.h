/*
 * The agent's OAuth2 token client, shared by the cloud stores that
 * authenticate with a bearer token (GCP Secret Manager now; Azure Key
 * Vault's client credentials and managed identity use the same client):
 *
 *   OAUTH2_JWT_BEARER   a service account's RS256-signed JWT exchanged at
 *                       the token endpoint (RFC 7523; GCP, spec §2.3)
 *   OAUTH2_FORM         a fixed form body posted to the token endpoint
 *                       (client credentials, Azure §3.2)
 *   OAUTH2_METADATA     a GET of a metadata server with fixed headers
 *                       (GCE's Metadata-Flavor: Google, Azure's IMDS)
 *
 * Every answer is {"access_token", "expires_in", ...}. The token is
 * renewed before it expires (at half its life, at most 5 minutes before
 * the end), after a failure every OAUTH2_RETRY_MS, and at once when a
 * call reports that it was refused (401/403; at most once per
 * OAUTH2_REAUTH_MS). One request for a token is in flight at a time;
 * whoever needs the token waits for it (struct oauth2_waiter).
 *
 * The private key, the form body and every token live only in the agent,
 * are wiped when dropped, and never reach a log line or a detail.
 */
#ifndef KEYWARD_KS_OAUTH2_H
#define KEYWARD_KS_OAUTH2_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "common/buf.h"
#include "common/ev.h"
#include "keystore-agent/net.h"

#define OAUTH2_TOKEN_MAX	8192	/* an access token longer is refused */
#define OAUTH2_RETRY_MS		5000	/* after a failed renewal */
#define OAUTH2_REAUTH_MS	5000	/* at most one reactive renewal */
#define OAUTH2_RENEW_AHEAD_S	300	/* renew this long before the end */
#define OAUTH2_JWT_LIFE_S	3600	/* exp - iat of an assertion */

enum oauth2_kind {
	OAUTH2_JWT_BEARER,
	OAUTH2_FORM,
	OAUTH2_METADATA,
};

struct oauth2_waiter {
	TAILQ_ENTRY(oauth2_waiter) entry;
	bool			 queued;
	void	(*cb)(struct oauth2_waiter *, int rc, const char *err);
	void			*arg;
};

struct oauth2 {
	/* Set by the store before oauth2_start(). */
	const char		*who;		/* log prefix: "gcp" */
	enum oauth2_kind	 kind;
	struct net_client	*net;		/* the token endpoint's */
	const char		*path;		/* its path (and query) */
	const char		*aud;		/* JWT: the token URL */
	EVP_PKEY		*key;		/* JWT: the signing key */
	const char		*kid, *iss, *scope; /* JWT */
	const char		*form;		/* FORM: the body */
	const char *const	*headers;	/* METADATA: sent with it */

	/* The token ("Bearer ..." goes out), its generation and end. */
	char			*token;
	uint64_t		 gen;
	uint64_t		 expires;	/* ev_now() ms */

	bool			 authing;
	struct buf		 body;
	struct net_req		*req;
	uint64_t		 last_reauth;
	struct ev_timer		 renew_timer;
	TAILQ_HEAD(, oauth2_waiter) waiters;
};

/* --- pieces without state (unit tests and the fuzzer use them) --- */

/*
 * The signed assertion: base64url({"alg":"RS256","typ":"JWT","kid":kid})
 * "." base64url({"iss":iss,"scope":scope,"aud":aud,"iat":iat,
 * "exp":iat+3600}) "." base64url(RSASSA-PKCS1-v1_5-SHA256 of the two),
 * unpadded. kid or scope NULL: left out. *out is malloc'ed (freezero_str).
 * 0, or -1 with err.
 */
int	oauth2_jwt(EVP_PKEY *, const char *kid, const char *iss,
	    const char *scope, const char *aud, uint64_t iat, char **out,
	    char *err, size_t errlen);

/* A PEM private key (PKCS#8 or PKCS#1 RSA); NULL with err. */
EVP_PKEY *oauth2_load_key(const char *pem, char *err, size_t errlen);

/* key=value with both percent-encoded as application/x-www-form-
 * urlencoded wants; '&' first unless the buffer is empty. */
int	oauth2_form_put(struct buf *, const char *key, const char *value);

/*
 * A token endpoint's answer: 200 with a JSON object holding a non-empty
 * string access_token and expires_in (a number, or a string of digits as
 * Azure's v1 endpoints and IMDS send it) of at least 1 s. *token is
 * malloc'ed (freezero_str). Otherwise -1 with err, which carries the
 * endpoint's own "error"/"error_description" when there is one, never
 * a token.
 */
int	oauth2_parse_token(long status, const uint8_t *body, size_t len,
	    char **token, uint64_t *expires_in, char *err, size_t errlen);

/* --- the token client on the agent's event loop --- */

/* The first token, the loop run until it comes (within 14 s): 0 or -1
 * with err. */
int	oauth2_start(struct oauth2 *, char *err, size_t errlen);
/*
 * Before a call: 1 when the token is good now, 0 when w is queued for a
 * new one (it has expired: renewals failed meanwhile).
 */
int	oauth2_ready(struct oauth2 *, struct oauth2_waiter *);
/*
 * A call was refused with the token of generation gen: 1 when a newer
 * token is there (send again now), 0 when w is queued for a new one, -1
 * when one was asked for less than OAUTH2_REAUTH_MS ago.
 */
int	oauth2_reauth(struct oauth2 *, uint64_t gen, struct oauth2_waiter *);
void	oauth2_unwait(struct oauth2 *, struct oauth2_waiter *);
/* "Authorization: Bearer <token>" into h (wipe it after use); -1 when
 * it does not fit. */
int	oauth2_header(const struct oauth2 *, char *h, size_t hlen);

#endif
