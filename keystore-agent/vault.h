/*
 * The HashiCorp Vault key store, inside the agent: the state its files
 * share. vault.c is the store (settings, start-up, the calls), vault_auth.c
 * keeps a token (login, renewal, the health loop that watches the seal),
 * vault_json.c speaks Vault's JSON. Spec:
 * shared/spec/keystores-vault-ciphertrust-kmip-pkcs11.md §1.
 *
 * Credentials (the AppRole secret ID, a JWT, every token) live only here,
 * are wiped when dropped, and never reach a log line or a call's detail.
 */
#ifndef KEYWARD_KS_VAULT_H
#define KEYWARD_KS_VAULT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/ev.h"
#include "keystore-agent/net.h"
#include "keystore-agent/vault_json.h"

/* What the configuration says (common/config.h keystore_cfg.vault), with
 * KES's defaults filled in (§1.2). */
struct vault_settings {
	char		*endpoint;
	char		*engine;		/* "kv" */
	char		*namespace;		/* "": none */
	char		*prefix;
	int		 kv_version;		/* 1 or 2 */
	char		*transit_engine;	/* "transit" */
	char		*transit_key;		/* "": no transit */
	bool		 kubernetes;		/* else AppRole */
	char		*auth_engine;		/* "approle", "kubernetes" */
	char		*auth_namespace;	/* "": the store's; "/": root */
	char		*auth_id;		/* role ID, or Kubernetes role */
	char		*auth_secret;		/* secret ID, or JWT or its path */
	bool		 jwt_file;		/* auth_secret is a path */
	char		*tls_key, *tls_cert, *tls_ca;	/* paths or "" */
	uint64_t	 ping_ms;		/* 15 s */
};

/* Someone waiting for a login in flight (vault_auth.c). */
struct vault_waiter {
	TAILQ_ENTRY(vault_waiter)	 entry;
	bool				 queued;
	void	(*cb)(struct vault_waiter *, int rc, const char *err);
	void				*arg;
};

struct vcall;

struct vault {
	struct vault_settings	 s;
	uint8_t			*raw;		/* the settings as sent, for */
	size_t			 rawlen;	/* reload() to compare */
	/* PEM read by prepare(), handed to the client by init(). */
	uint8_t			*ca, *cert, *key;
	size_t			 ca_len, cert_len, key_len;
	struct net_client	*net;

	/* The token every request carries, and how many were installed. */
	char			*token;
	uint64_t		 gen;
	uint64_t		 ttl_s;		/* at install */
	bool			 renewable;
	bool			 expires;	/* false: TTL 0, never renewed */

	/* Login (one at a time) and who waits for it. */
	bool			 logging_in;
	bool			 install_now;	/* a waiter needs the token */
	uint64_t		 last_relogin;	/* ev_now(), reactive (V6) */
	struct buf		 login_body;
	struct net_req		*login_req;
	TAILQ_HEAD(, vault_waiter) waiters;

	/* Renewal (§1.6.2): one timer, and a result waiting to be
	 * installed after the replication delay. */
	struct ev_timer		 renew_timer;
	struct ev_timer		 install_timer;
	struct vault_login	 pending;
	uint64_t		 pending_gen;	/* gen it was asked with */
	uint64_t		 delay_ms;
	struct net_req		*renew_req;
	struct buf		 renew_body;

	/* Health loop (§1.6.3). */
	bool			 sealed;
	struct ev_timer		 health_timer;
	struct net_req		*health_req;

	/* Gets in flight, by name, so that concurrent misses share one. */
	TAILQ_HEAD(, vcall)	 gets;
};

/*
 * Per-attempt timeout of data calls. KES gives each call 60 s; here the
 * agent fails a call after KS_CALL_TIMEOUT_MS (9 s, keystore-agent/
 * calls.h) because the crypto process stops waiting at 10 s. 6 s lets a
 * slow but alive Vault answer within one attempt, and failures that come
 * fast (refused, 429, 5xx) still get all three attempts: their waits add
 * at most 1.5 + 3 s. A second attempt after a timed-out one is cut short
 * by the agent's deadline, which cancels the request.
 */
#define VAULT_CALL_ATTEMPT_MS	6000
/* Login, renewal and health: bounded by the parent's 15 s start-up limit
 * (privsep/parent_int.h START_TIMEOUT_MS) for the first login: 3 x 2.5 s
 * plus 4.5 s of waits. */
#define VAULT_AUTH_ATTEMPT_MS	2500
/* §1.5 Status: every code 299, so a standby or a sealed node answers
 * with its JSON; keys sorted as Go's url.Values.Encode. */
#define VAULT_HEALTH_URL	"/v1/sys/health?drsecondarycode=299&" \
				"performancestandbycode=299&sealedcode=299&" \
				"standbycode=299&uninitcode=299"
#define VAULT_RELOGIN_MS	5000	/* V6: at most one reactive login */
#define VAULT_RETRY_LOGIN_MS	3000	/* after a failed background login */

/* The retry policies of §1.3. */
extern const struct net_policy	vault_call_policy;
extern const struct net_policy	vault_auth_policy;
extern const struct net_policy	vault_renew_policy;
extern const struct net_policy	vault_health_policy;

/*
 * Start a request with Vault's headers: X-Vault-Request, the token when
 * auth, the namespace ns when not NULL or "" (never for sys/health).
 * body may be NULL.
 */
struct net_req	*vault_send(struct vault *, const struct net_policy *,
		    const char *method, const char *url, const struct buf *body,
		    bool auth, const char *ns, net_done_cb, void *arg);

/* The store's one state (vault_conf.c). */
extern struct vault	vault_state;

/* vault.c: the calls of backend.h. */
struct ks_op;
void	vault_op_status(struct ks_op *);
void	vault_op_create(struct ks_op *);
void	vault_op_get(struct ks_op *);
void	vault_op_del(struct ks_op *);
void	vault_op_list(struct ks_op *);
void	vault_op_cancel(struct ks_op *);

/* vault_conf.c: backend.h's settings_put, settings, reload, prepare,
 * init for this store. */
int	vault_settings_put(struct buf *, const void *conf);
int	vault_settings_get(struct vault *, struct buf *, char *, size_t);
int	vault_reload(struct vault *, struct buf *, char *, size_t);
int	vault_prepare(struct vault *, char *, size_t);
int	vault_init(struct vault *, char *, size_t);

/* vault_auth.c */
/* The first login, run to its end on the event loop: 0 or -1 with err. */
int	vault_auth_start(struct vault *, char *err, size_t errlen);
/*
 * A call got 403 with the token of generation gen (V6): 1 when a newer
 * token is there already (resend now), 0 when w is queued for a login,
 * -1 when a login was tried less than VAULT_RELOGIN_MS ago.
 */
int	vault_relogin(struct vault *, uint64_t gen, struct vault_waiter *);
void	vault_unwait(struct vault *, struct vault_waiter *);

#endif
