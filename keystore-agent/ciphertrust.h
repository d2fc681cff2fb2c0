/*
 * The Thales CipherTrust Manager key store (KES's "gemalto keysecure"),
 * inside the agent: the state its files share. ciphertrust.c is the store
 * the agent sees (the calls), ciphertrust_auth.c keeps the access token
 * (refresh-token login, renewal, re-login after a 401), ciphertrust_conf.c
 * its settings and start-up, ciphertrust_json.c speaks its JSON. Spec:
 * shared/spec/keystores-vault-ciphertrust-kmip-pkcs11.md §2.
 *
 * Credentials (the refresh token and every access token) live only here,
 * are wiped when dropped, and never reach a log line or a call's detail.
 */
#ifndef KEYWARD_KS_CIPHERTRUST_H
#define KEYWARD_KS_CIPHERTRUST_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/ev.h"
#include "keystore-agent/net.h"

/* What the configuration says (ciphertrust_parse.h), defaults filled in. */
struct ct_settings {
	char		*endpoint;	/* no trailing '/' */
	char		*token;		/* the refresh token */
	char		*domain;	/* "": the root domain */
	char		*ca;		/* "": the system's roots */
	uint64_t	 retry_ms;	/* after a failed renewal; 5 s */
};

/* Someone waiting for an authentication in flight. */
struct ct_waiter {
	TAILQ_ENTRY(ct_waiter)	 entry;
	bool			 queued;
	void	(*cb)(struct ct_waiter *, int rc, const char *err);
	void			*arg;
};

struct ciphertrust {
	struct ct_settings	 s;
	uint8_t			*raw;		/* the settings as sent, for */
	size_t			 rawlen;	/* reload() to compare */
	uint8_t			*ca;		/* PEM read by prepare() */
	size_t			 ca_len;
	struct net_client	*net;

	/* The access token every data call carries ("Bearer <jwt>"), how
	 * many were installed, and when it expires (ev_now() ms). */
	char			*jwt;
	uint64_t		 gen;
	uint64_t		 expires;

	/* Authentication: one at a time, and who waits for it. */
	bool			 authing;
	struct buf		 auth_body;
	struct net_req		*auth_req;
	uint64_t		 last_reauth;	/* ev_now() of the last
						 * reactive one (C2) */
	struct ev_timer		 renew_timer;
	TAILQ_HEAD(, ct_waiter)	 waiters;
};

#define CT_CALL_ATTEMPT_MS	4000	/* per attempt of a data call: two
					 * slow attempts, or three fast
					 * failures, fit the agent's 9 s */
#define CT_AUTH_ATTEMPT_MS	3000	/* 3 x 3 s + waits < 14 s */
#define CT_RETRY_DEFAULT_MS	5000	/* credentials.retry */
#define CT_REAUTH_MS		5000	/* C2: at most one reactive login */
#define CT_PATH_MAX		512

/* §2.2: 3 attempts, 200 ms + [0, 800 ms) apart (net.h multiplies the
 * wait by the attempt's number), on temporary errors and 5xx. */
extern const struct net_policy	ct_call_policy;
extern const struct net_policy	ct_auth_policy;

/*
 * Start a request: with the access token when auth, with Content-Type:
 * application/json when a body is given (create and auth, §2.2).
 */
struct net_req	*ct_send(struct ciphertrust *, const struct net_policy *,
		    const char *method, const char *path,
		    const struct buf *body, bool auth, net_done_cb, void *arg);

/* The store's one state (ciphertrust_conf.c). */
extern struct ciphertrust	ct_state;

/* ciphertrust.c: the calls of backend.h. */
struct ks_op;
void	ct_op_status(struct ks_op *);
void	ct_op_create(struct ks_op *);
void	ct_op_get(struct ks_op *);
void	ct_op_del(struct ks_op *);
void	ct_op_list(struct ks_op *);
void	ct_op_cancel(struct ks_op *);

/* ciphertrust_auth.c */
/* The first authentication, run to its end on the event loop: 0 or -1
 * with err. */
int	ct_auth_start(struct ciphertrust *, char *err, size_t errlen);
/*
 * A call got 401 with the token of generation gen (C2): 1 when a newer
 * token is there already (resend now), 0 when w is queued for a new
 * authentication, -1 when one was tried less than CT_REAUTH_MS ago.
 */
int	ct_reauth(struct ciphertrust *, uint64_t gen, struct ct_waiter *);
void	ct_unwait(struct ciphertrust *, struct ct_waiter *);

#endif
