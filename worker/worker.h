/*
 * A worker process: TLS, HTTP/1.1 and the routes. One thread, one epoll
 * loop, non-blocking sockets and non-blocking OpenSSL. Files:
 *   worker.c  the process: peers, listener, timeouts, shutdown
 *   conn.c    one client connection: TLS, request framing, responses
 *   routes.c  route table, authorisation, handlers
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
#define HEADER_TIMEOUT_MS	5000		/* spec §1.2 */
#define IDLE_TIMEOUT_MS		90000

enum conn_state {
	CONN_HANDSHAKE,
	CONN_READ,		/* reading a request head or body */
	CONN_WAIT,		/* a request is at the crypto process */
	CONN_WRITE,		/* flushing a response */
	CONN_CLOSING,		/* flushing, then close */
};

struct route;

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
	struct http_request	 req;		/* points into in */
	const uint8_t		*head_at;	/* where req was parsed */
	bool			 have_head;
	bool			 sent_continue;
	size_t			 parsed_upto;	/* for http_head_ready */
	char			 path[HTTP_MAX_REQUEST_LINE + 2];
	enum ident_err		 ident_err;
	char			 identity[IDENTITY_LEN + 1];
	uint32_t		 req_id;	/* at crypto, or 0 */
	const struct route	*route;		/* of the request in progress */
	bool			 keep_alive;
	bool			 head_only;	/* HEAD: no body in the answer */
	uint64_t		 last_active;	/* ev_now() */
	uint64_t		 req_started;	/* first byte of this request */
	uint64_t		 deadline;	/* route timeout; 0: none */
};
TAILQ_HEAD(connlist, conn);

struct worker {
	struct worker_slice	 cf;
	SSL_CTX			*ctx;
	struct peer		 parent;
	struct peer		 crypto;
	int			 listen_fd;
	struct ev_io		 listen_io;
	struct connlist		 conns;
	unsigned int		 nconns;
	struct conn		*pending[1024];	/* by req_id */
	uint32_t		 next_id;
	bool			 stopping;
	struct ev_timer		 sweep;
	struct ev_timer		 stop_timer;
	uint64_t		 started_mono;
};

extern struct worker w;

int	worker_main(int, char **);

/* worker.c: requests at the crypto process. */
int	crypto_request(struct conn *, uint16_t type, const struct buf *);
void	conn_forget_pending(struct conn *);

/* conn.c */
void	conn_accept(int fd);
void	conn_close(struct conn *);
void	conn_drive(struct conn *);
bool	conn_idle(const struct conn *);

/* worker.c: the last connection of a stopping worker is gone. */
void	worker_conn_gone(void);

/* routes.c */
void	routes_init(char *stack_top);
void	route_request(struct conn *);
void	route_reply(struct conn *, struct ipc_msg *);
/* Responses (routes.c): queue into c->out and switch to CONN_WRITE. */
void	respond(struct conn *, int status, const char *content_type,
	    const char *extra_headers, const void *body, size_t len);
void	respond_error(struct conn *, int status, const char *message);

#endif
