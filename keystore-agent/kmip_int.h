/*
 * The KMIP key store inside the agent: the state its files share. kmip.c
 * the calls (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §3.4),
 * kmip_conf.c the settings and start-up, kmip_conn.c the connections (TLS on
 * the agent's event loop, the pool, version negotiation, one request at a
 * time per connection), kmip_parse.c the settings, kmip_msg.c and
 * kmip_ttlv.c the messages.
 *
 * The client key, the optional password and every value live only here,
 * are wiped when dropped, and never reach a log line or a call's detail.
 */
#ifndef KEYWARD_KS_KMIP_INT_H
#define KEYWARD_KS_KMIP_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/ev.h"
#include "keystore-agent/kmip_msg.h"
#include "keystore-agent/kmip_parse.h"

#define KMIP_POOL_MAX		4	/* connections per endpoint (§3.2) */
/*
 * TCP and TLS of one endpoint may take this long at most (or the
 * configured timeout when shorter), so that the next endpoint is still
 * tried within the agent's 9 s for a call.
 */
#define KMIP_CONNECT_MAX_MS	4000
#define KMIP_DOWN_MS		5000	/* skip a failed endpoint this long */
#define KMIP_RESOLVE_MS		60000	/* re-resolve a host name */
/* A stored value (at most 1 MiB) and its envelope. */
#define KMIP_MSG_MAX		(TTLV_MSG_MAX + (64u << 10))
#define KMIP_DETAIL		512

struct kconn;
struct kmip_ep;

/* Someone waiting for a connection (kmip_conn_acquire). */
struct kwait {
	TAILQ_ENTRY(kwait)	 entry;
	bool			 queued;
	struct kconn		*making;	/* a connection made for it */
	uint32_t		 tried;		/* endpoints, a bit each */
	void	(*cb)(struct kwait *, struct kconn *, const char *err);
	void			*arg;
	char			 err[KMIP_DETAIL];	/* why so far */
};

struct kmip_store {
	struct kmip_conf	 s;
	uint8_t			*raw;		/* the settings as sent, for */
	size_t			 rawlen;	/* reload() to compare */
	/* PEM read by prepare(), made into ctx by init(). */
	uint8_t			*ca, *cert, *key;
	size_t			 ca_len, cert_len, key_len;
	SSL_CTX			*ctx;
	struct kmip_ep		*eps;
	size_t			 neps;
	TAILQ_HEAD(, kwait)	 waiters;	/* every connection busy */
	struct kwait		 warm;		/* the first connection */
	struct ev_timer		 warm_timer;
};

/* The store's one state (kmip_conf.c). */
extern struct kmip_store	kmip_state;

/* kmip.c: the calls of backend.h. */
struct ks_op;
void	kmip_op_status(struct ks_op *);
void	kmip_op_create(struct ks_op *);
void	kmip_op_get(struct ks_op *);
void	kmip_op_del(struct ks_op *);
void	kmip_op_list(struct ks_op *);
void	kmip_op_cancel(struct ks_op *);

/* --- kmip_conn.c --------------------------------------------------------- */

/* The TLS context from the PEM in k (before the filter); 0 or -1. */
int	kmip_conn_init(struct kmip_store *, char *err, size_t errlen);

/*
 * A negotiated connection for w: an idle one from the pool, or a new one
 * (endpoints in order, skipping one that failed within KMIP_DOWN_MS),
 * or the next released when every endpoint has KMIP_POOL_MAX busy. w->cb
 * runs once, with a connection, or with NULL and why (every endpoint
 * failed); maybe before this returns.
 */
void	kmip_conn_acquire(struct kmip_store *, struct kwait *);
/* w->cb will not run (a cancelled call). */
void	kmip_conn_unwait(struct kmip_store *, struct kwait *);
/* Done with c: back to the pool when keep (and c is healthy), else
 * closed. */
void	kmip_conn_release(struct kconn *, bool keep);

/*
 * One request: build it into kmip_conn_req(c) (emptied, wiped, bounded by
 * KMIP_MSG_MAX), then send. cb runs once, from the event loop: with the
 * parsed response (alive until cb returns), or NULL and why (timeout,
 * transport, malformed answer; c is then dead: release it). The request
 * bytes are wiped once written.
 */
typedef void	(*kconn_cb)(struct kconn *, const struct kmip_resp *,
		    const char *err, void *arg);
struct buf	*kmip_conn_req(struct kconn *);
void		 kmip_conn_send(struct kconn *, kconn_cb, void *arg);
/* Forget the request in flight and close c (a cancelled call). */
void		 kmip_conn_abort(struct kconn *);

/* The request header for c: its negotiated version, the credentials. */
void		 kmip_conn_hdr(const struct kconn *, struct kmip_hdr *);
/* Whether c served a request before this one (a pooled connection may
 * have died while idle). */
bool		 kmip_conn_reused(const struct kconn *);
/* "host:port" of c, for messages. */
const char	*kmip_conn_name(const struct kconn *);

/* Counters for the log and tests. */
uint64_t	 kmip_conn_opened(void);

#endif
