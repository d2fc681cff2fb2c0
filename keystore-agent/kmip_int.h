/*
 * The KMIP key store inside the agent: the state its files share. kmip.c
 * the calls (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §3.4),
 * kmip_conf.c the settings and start-up, kmip_conn.c the connections (TLS on
 * the agent's event loop, one request at a time per connection),
 * kmip_discover.c the version negotiation, kmip_pool.c the endpoints and
 * the pool, kmip_tls.c the TLS context, kmip_parse.c the settings,
 * kmip_msg.c and kmip_ttlv.c the messages.
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

/* --- kmip_conn.c, kmip_pool.c: the calls' side --------------------------- */

/* The TLS context from the PEM in k and the endpoints (before the
 * filter); 0 or -1 with why. */
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
/* Whether the server closed c (not a malformed answer, not a timeout):
 * after a failed request, the one case worth a new connection. */
bool		 kmip_conn_lost(const struct kconn *);
/* "host:port" of c, for messages. */
const char	*kmip_conn_name(const struct kconn *);

/* Counters for the log and tests. */
uint64_t	 kmip_conn_opened(void);

/* --- the connections' own (kmip_conn.c, kmip_pool.c, kmip_tls.c) --------- */

enum kc_state {
	KC_RESOLVE,
	KC_CONNECT,
	KC_TLS,
	KC_DISCOVER,
	KC_BUSY,
	KC_IDLE,
	KC_DEAD,
};

struct kmip_ep {
	struct kmip_store	*k;
	const char		*name;		/* as configured */
	char			 host[KMIP_HOST_MAX + 1];
	unsigned int		 port;
	bool			 literal;
	char			*addrs;		/* "a,b": numeric */
	uint64_t		 resolved_at;
	bool			 resolving;
	uint64_t		 down_until;
	TAILQ_HEAD(, kconn)	 conns;
	size_t			 nconns;
};

struct kconn {
	TAILQ_ENTRY(kconn)	 entry;
	struct kmip_ep		*ep;
	enum kc_state		 st;
	int			 fd;
	SSL			*ssl;
	struct ev_io		 io;
	bool			 io_on;
	struct ev_timer		 timer;
	struct kwait		*owner;		/* while it is made */
	char			*addrs;		/* still to try, "a,b" */
	size_t			 addr_off;
	struct buf		 out;		/* the request */
	bool			 writing;
	uint8_t			 hdr[TTLV_HDRLEN];
	size_t			 hdr_got;
	struct buf		 in;		/* the answer */
	size_t			 total;
	kconn_cb		 cb;
	void			*arg;
	struct kmip_version	 v;
	int32_t			 disc_minor;	/* header of Discover */
	unsigned int		 uses;
	bool			 lost;		/* closed by the server */
	uint64_t		 t0;
};

/* kmip_conn.c: a connection to ep being made for w (w->making). */
void	kmip_conn_new(struct kmip_ep *, struct kwait *);
/* The next address of c's endpoint (the first when c->addr_off is 0). */
void	kmip_conn_connect(struct kconn *);
/* Write c->out, then read the answer, as far as the socket lets. */
void	kmip_conn_progress(struct kconn *);
/* Negotiated: to whoever it is made for, or to the pool. */
void	kmip_conn_ready(struct kconn *);
/* c failed: closed, and who waits for it hears why. */
void	kmip_conn_fail(struct kconn *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
/* Closed, out of its endpoint's list, freed. */
void	kmip_conn_free(struct kconn *);
/* The events c waits for (0: none). */
void	kmip_conn_events(struct kconn *, uint32_t);
/* w tries the next endpoint (kmip_conn_acquire's order). */
void	kmip_pool_next(struct kmip_store *, struct kwait *);
/* A connection went idle or away: a waiter may go on. */
void	kmip_pool_changed(struct kmip_store *);
/* helper_resolve()'s answer for an endpoint (kmip_pool.c). */
void	kmip_ep_resolved(int err, const char *addrs, const char *detail,
	    void *ep);

/* kmip_discover.c: Discover Versions on c (c->disc_minor: its header). */
void	kmip_discover_send(struct kconn *);
/* Its answer: c is ready, tried again, or failed. */
void	kmip_discover_done(struct kconn *, const struct kmip_resp *);
/* The server closed c (middle: in an answer); during Discover Versions
 * c may be made again with header 1.1 or for KMIP 1.0. */
void	kmip_conn_closed(struct kconn *, bool middle);

/* The client context in k->ctx from the PEM in k; 0 or -1 with why. */
int	kmip_tls_init(struct kmip_store *, char *err, size_t errlen);
/* A client connection on fd, verifying host (or tls.server_name). */
SSL	*kmip_tls_new(struct kmip_store *, int fd, const char *host);
/* Why a handshake failed (SSL_connect's ret, errno after it), in buf;
 * OpenSSL's error queue is emptied. */
const char *kmip_tls_failed(SSL *, int ret, int saved_errno, char *buf,
	    size_t len);
/* OpenSSL's last error in buf, the queue emptied. */
const char *kmip_tls_error(char *buf, size_t len);
/* host is an IPv4 or IPv6 literal. */
bool	kmip_is_literal(const char *host);

#endif
