/*
 * A worker process: TLS, HTTP/1.1 and the routes. One thread, one epoll
 * loop, non-blocking sockets and non-blocking OpenSSL. Files:
 *   worker.c  the process: peers, listener, timeouts, shutdown
 *   conn.c    one client connection: TLS, request framing, responses
 *   routes.c  route table, routing and authorisation, responses
 *   keys.c    the key routes (stubs of the crypto process's handlers)
 *   admin.c   status, ready, metrics, api, policy and identity routes
 *   logs.c    audit records and the log streams
 *   body.c    JSON request bodies
 *   metrics.c counters shared by all workers
 *   http.c    the request parser (pure)
 */
#ifndef KEYWARD_WORKER_H
#define KEYWARD_WORKER_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/buf.h"
#include "common/ev.h"
#include "common/identity.h"
#include "common/json_out.h"
#include "common/peer.h"
#include "common/slice.h"
#include "worker/http.h"

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

#define CONN_IN_MAX		(HTTP_MAX_HEAD_BYTES + 1000000 + 65536)
#define CONN_OUT_MAX		(4u << 20)
#define BODY_MAX		1000000		/* 1 MB, spec §3.1 */
#define HEADER_TIMEOUT_MS	5000		/* spec §1.2: first byte to end of head */
#define BODY_TIMEOUT_MS		15000		/* end of head to end of body */
#define WRITE_TIMEOUT_MS	10000		/* an answer the client does not take */
#define IDLE_TIMEOUT_MS		90000
#define LINGER_MS		2000		/* draining before close */
/* The kernel's send queue of a connection (SO_SNDBUF; Linux doubles it):
 * a client that pipelines and never reads pins this much at most. */
#define CONN_SNDBUF		(64u << 10)
/* TLS reads in one turn for one connection before the others get theirs. */
#define CONN_READS_PER_TURN	32

enum conn_state {
	CONN_HANDSHAKE,
	CONN_READ,		/* reading a request head or body */
	CONN_WAIT,		/* a request is at the crypto process */
	CONN_WRITE,		/* flushing a response */
	CONN_CLOSING,		/* flushing, then close */
	CONN_STREAM,		/* a /v1/log/ subscriber: events only */
	CONN_LINGER,		/* answered and shut down for writing;
				 * draining what the client still sends */
};

/* A handshake signature asked of the crypto process (tls_sign_remote). */
enum sign_state {
	SIGN_NONE,
	SIGN_WAIT,		/* the handshake's async job is paused */
	SIGN_DONE,		/* c->sig holds the answer */
	SIGN_FAILED,		/* refused, or the connection goes */
	SIGN_PARKED,		/* no crypto channel (it is restarting):
				 * asked again when the next one comes */
};

enum route_auth {
	AUTH_NONE,		/* N: no identity needed */
	AUTH_IDENTIFY,		/* I: any or no certificate, no policy */
	AUTH_VERIFY,		/* V: admin, or allowed by its policy */
};

struct conn;
struct route;
typedef void (*route_fn)(struct conn *, const char *resource);
typedef void (*reply_fn)(struct conn *, struct ipc_msg *);

struct route {
	const char	*path;		/* ends in '/' for a subtree */
	enum http_method method;	/* PUT also takes POST */
	size_t		 max_body;
	unsigned int	 timeout_s;	/* 0: none */
	enum route_auth	 auth;
	route_fn	 fn;
	reply_fn	 reply;		/* the crypto process's answer */
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	struct conn		*pnext;		/* pending-request hash chain */
	int			 fd;
	struct ev_io		 io;
	SSL			*ssl;
	enum conn_state		 state;
	struct buf		 in;		/* decrypted request bytes */
	struct buf		 out;		/* response bytes to encrypt */
	struct buf		 body;		/* request body (wiped) */
	struct http_chunked	 chunked;
	struct http_request	*req;		/* points into in; 2 KiB,
						 * given back with the
						 * buffers when idle */
	const uint8_t		*head_at;	/* where req was parsed */
	bool			 have_head;
	bool			 sent_continue;
	bool			 await_readable; /* read only after EPOLLIN */
	size_t			 parsed_upto;	/* for http_head_ready */
	char			*path;		/* decoded, of the request in
						 * progress; "" between, NULL
						 * when idle */
	size_t			 pathcap;
	char			 ip[48];	/* client address, for audit */
	enum ident_err		 ident_err;
	char			 identity[IDENTITY_LEN + 1];
	uint32_t		 req_id;	/* at crypto, or 0 */
	uint8_t			 crypto_ix;	/* the crypto process req_id
						 * is at */
	uint64_t		 crypto_sent;	/* then (ns, monotonic) */
	const struct route	*route;		/* of the request in progress */
	bool			 keep_alive;
	bool			 head_only;	/* HEAD: no body in the answer */
	uint64_t		 last_active;	/* ev_now() */
	uint64_t		 req_started;	/* first byte of this request */
	uint64_t		 deadline;	/* route timeout; 0: none */
	uint64_t		 body_started;	/* the head was complete */
	uint64_t		 write_blocked;	/* the answer stopped going
						 * out (client not reading);
						 * 0: flowing */
	uint64_t		 chunk_fed;	/* chunked body bytes decoded */
	struct ev_timer		 resume;	/* more to read next turn */
	bool			 metered;	/* counted as in flight */
	bool			 body_too_big;	/* over BODY_MAX: not read;
						 * answered, then closed */
	int			 stream;	/* log stream + 1, or 0 */
	enum sign_state		 sign_state;
	uint8_t			*sig;		/* SIGN_DONE: the signature */
	size_t			 siglen;
};
TAILQ_HEAD(connlist, conn);

struct worker {
	struct worker_slice	 cf;
	SSL_CTX			*ctx;
	struct peer		 parent;
	struct peer		 crypto[CRYPTO_MAX];	/* by index; the
						 * slice's ncrypto of them */
	uint64_t		 crypto_came;	/* indexes whose channel came
						 * once (bits) */
	unsigned int		 crypto_rr;	/* next for a request of no
						 * key (round robin) */
	int			 listen_fd;
	struct ev_io		 listen_io;
	bool			 listen_paused;	/* out of descriptors */
	bool			 crypto_seen;	/* every crypto channel came
						 * once: until then nothing is
						 * accepted */
	uint64_t		 fd_warned;	/* last such warning */
	struct connlist		 conns;
	struct conn		*handshaking;	/* in SSL_do_handshake: whose
						 * signature the provider asks */
	unsigned int		 nconns;
	struct conn		*pending[1024];	/* by req_id */
	uint32_t		 next_id;
	bool			 stopping;
	struct ev_timer		 sweep;
	struct ev_timer		 stop_timer;
	uint64_t		 started_mono;
	char			*stack_top;	/* worker_main's frame (stack use) */
	int			 audit_fd;	/* stdout, kept; or -1 */
	struct buf		 audit_out;	/* lines of this loop turn */
	bool			 log_on[2];	/* some worker subscribes */
	bool			 subscribed[2];	/* this worker does */
};

extern struct worker w;

int	worker_main(int, char **);

/*
 * worker.c: requests at the crypto processes. A request about a key goes
 * to the one that serves that key (kes_name_shard), any other (key NULL)
 * to the next open one in turn.
 */
int	crypto_request(struct conn *, const char *key, uint16_t type,
	    const struct buf *);
/* The same without leaving CONN_HANDSHAKE (a handshake signature). */
int	crypto_send(struct conn *, const char *key, uint16_t type,
	    const struct buf *);
/* Some crypto channel is open. */
bool	crypto_any_open(void);
void	conn_forget_pending(struct conn *);

/* conn.c */
void	conn_accept(int fd);
void	conn_close(struct conn *);
void	conn_release_idle(struct conn *);
void	conn_request_timeout(struct conn *);
void	conn_drive(struct conn *);
/* The crypto process answered a handshake signature (or MSG_ERROR). */
void	conn_signed(struct conn *, struct ipc_msg *);
/* A new crypto channel: handshakes parked for their signature ask it. */
void	conn_sign_resume(void);
bool	conn_idle(const struct conn *);

/* worker.c: the last connection of a stopping worker is gone. */
void	worker_conn_gone(void);

/* routes.c */
void	routes_init(char *stack_top);
void	route_request(struct conn *);
void	route_reply(struct conn *, struct ipc_msg *);
const struct route *routes_table(size_t *n);
uint64_t route_timeout(const struct route *);
/* Responses (routes.c): queue into c->out and switch to CONN_WRITE. */
void	respond(struct conn *, int status, const char *content_type,
	    const char *extra_headers, const void *body, size_t len);
void	respond_error(struct conn *, int status, const char *message);
/* 200, Content-Length 0, no Content-Type (KES's Reply). */
void	respond_empty(struct conn *);
/* b + "\n" as application/json; b is released (wiped). A b some put
 * did not fit (buf.failed) is logged and answered 500. */
void	respond_json(struct conn *, int status, struct buf *b);
/* Send a request to the crypto process, or answer 503; 500 when b could
 * not be built. b is released. These two are where the routes' puts are
 * checked: a route builds b and leaves their results to b's mark. */
void	crypto_call(struct conn *, const char *key, uint16_t type,
	    struct buf *b);
/* A reply that is MSG_DONE: 200 empty. */
void	reply_done(struct conn *, struct ipc_msg *);

/* keys.c */
void	route_key_create(struct conn *, const char *);
void	route_key_import(struct conn *, const char *);
void	route_key_describe(struct conn *, const char *);
void	route_key_list(struct conn *, const char *);
void	route_key_delete(struct conn *, const char *);
void	route_key_generate(struct conn *, const char *);
void	route_key_encrypt(struct conn *, const char *);
void	route_key_decrypt(struct conn *, const char *);
void	route_key_hmac(struct conn *, const char *);
void	reply_key_describe(struct conn *, struct ipc_msg *);
void	reply_key_list(struct conn *, struct ipc_msg *);
void	reply_key_generate(struct conn *, struct ipc_msg *);
void	reply_key_encrypt(struct conn *, struct ipc_msg *);
void	reply_key_decrypt(struct conn *, struct ipc_msg *);
void	reply_key_hmac(struct conn *, struct ipc_msg *);

/* bulk.c */
void	route_key_bulk_decrypt(struct conn *, const char *);
void	reply_key_bulk_decrypt(struct conn *, struct ipc_msg *);

/* admin.c */
void	admin_init(char *stack_top);
void	route_version(struct conn *, const char *);
void	route_status(struct conn *, const char *);
void	route_ready(struct conn *, const char *);
void	route_metrics(struct conn *, const char *);
void	route_api(struct conn *, const char *);
void	route_policy_describe(struct conn *, const char *);
void	route_policy_read(struct conn *, const char *);
void	route_policy_list(struct conn *, const char *);
void	route_identity_describe(struct conn *, const char *);
void	route_identity_list(struct conn *, const char *);
void	route_identity_self(struct conn *, const char *);
void	route_log_audit(struct conn *, const char *);
void	route_log_error(struct conn *, const char *);
void	reply_status(struct conn *, struct ipc_msg *);

/* logs.c */
void	logs_init(void);
void	logs_flush(void);	/* write the audit lines of this turn */
void	audit_request(struct conn *, int status);
void	logs_subscribe(struct conn *, int stream);
void	logs_unsubscribe(struct conn *);
int	parent_log_event(struct peer *, struct ipc_msg *);
int	parent_log_subscribe(struct peer *, struct ipc_msg *);

#endif
