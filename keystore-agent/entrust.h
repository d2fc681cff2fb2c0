/*
 * The Entrust KeyControl key store (secrets vault), inside the agent: the
 * state its files share. entrust.c is the store the agent sees (the
 * calls), entrust_auth.c keeps the access token (login, renewal after
 * half its life, a new login after a 401), entrust_conf.c its settings
 * and start-up, entrust_json.c speaks its JSON, entrust_parse.c reads the
 * configuration in the parent. Spec: shared/spec/keystores-cloud-and-
 * legacy-config.md §5.
 *
 * Credentials (the password and every access token) live only here, are
 * wiped when dropped, and never reach a log line or a call's detail.
 */
#ifndef KEYWARD_KS_ENTRUST_H
#define KEYWARD_KS_ENTRUST_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/ev.h"
#include "keystore-agent/net.h"

struct en_settings {
	char	*endpoint;	/* no trailing '/' */
	char	*vault_id, *box_id;
	char	*username, *password;
	char	*ca;		/* "": the system's roots */
};

/* Someone waiting for a login in flight. */
struct en_waiter {
	TAILQ_ENTRY(en_waiter)	 entry;
	bool			 queued;
	void	(*cb)(struct en_waiter *, int rc, const char *err);
	void			*arg;
};

struct entrust {
	struct en_settings	 s;
	uint8_t			*raw;		/* the settings as sent, for */
	size_t			 rawlen;	/* reload() to compare */
	uint8_t			*ca;		/* PEM read by prepare() */
	size_t			 ca_len;
	struct net_client	*net;

	/* The token every call carries (X-Vault-Auth), how many were
	 * installed. */
	char			*token;
	uint64_t		 gen;

	/* Login or renewal: one at a time, and who waits for it. */
	bool			 authing;
	bool			 renewing;	/* this one is a Renew */
	struct buf		 auth_body;
	struct net_req		*auth_req;
	uint64_t		 last_reauth;	/* ev_now() of the last
						 * reactive login */
	struct ev_timer		 renew_timer;
	TAILQ_HEAD(, en_waiter)	 waiters;
};

#define EN_CALL_ATTEMPT_MS	3000	/* per attempt of a call */
#define EN_AUTH_ATTEMPT_MS	3000
#define EN_DEFAULT_LIFE_S	300	/* no expires_at: 5 min (KES) */
#define EN_RETRY_MS		5000	/* after a failed renewal and login */
#define EN_REAUTH_MS		5000	/* at most one reactive login */
#define EN_LIST_PAGES_MAX	4096

extern const struct net_policy	en_call_policy;
extern const struct net_policy	en_auth_policy;

/*
 * Start a POST with a JSON body: with X-Vault-Auth when auth (the call
 * paths send no Content-Type, as KES; a login does), the body not copied.
 */
struct net_req	*en_send(struct entrust *, const struct net_policy *,
		    const char *path, const struct buf *body, bool auth,
		    bool ctype, net_done_cb, void *arg);

/* The store's one state (entrust_conf.c). */
extern struct entrust	en_state;

/* entrust.c: the calls of backend.h. */
struct ks_op;
void	en_op_status(struct ks_op *);
void	en_op_create(struct ks_op *);
void	en_op_get(struct ks_op *);
void	en_op_del(struct ks_op *);
void	en_op_list(struct ks_op *);
void	en_op_cancel(struct ks_op *);
/* The GetBox check at start: 0 or -1 with err. */
int	en_box_check(struct entrust *, char *err, size_t errlen);

/* entrust_auth.c */
/* The first login, run to its end on the event loop: 0 or -1 with err. */
int	en_auth_start(struct entrust *, char *err, size_t errlen);
/*
 * A call got 401 with the token of generation gen: 1 when a newer token
 * is there already (resend now), 0 when w is queued for a new login, -1
 * when one was tried less than EN_REAUTH_MS ago.
 */
int	en_reauth(struct entrust *, uint64_t gen, struct en_waiter *);
void	en_unwait(struct entrust *, struct en_waiter *);

#endif
