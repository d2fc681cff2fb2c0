/*
 * One client connection: the TLS handshake, the client identity, request
 * framing (head, Content-Length or chunked body, pipelining in order) and
 * response writing. Requests on one connection are answered strictly in
 * order: the next is not parsed while one is at the crypto process.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/xmalloc.h"
#include "worker/metrics.h"
#include "worker/tls_key.h"
#include "worker/worker.h"

#define READ_CHUNK	16384
#define READ_FIRST	2048	/* a new input buffer's first read */

static void
conn_arm(struct conn *c, uint32_t events)
{
	if (ev_mod(&c->io, events) == -1)
		conn_close(c);
}

static void
conn_event(struct ev_io *io, uint32_t events)
{
	struct conn *c = io->arg;

	/* A client gone while its request is at the crypto process: the
	 * late answer finds no connection and is dropped. So for a
	 * handshake waiting for its signature, which otherwise waits for
	 * the answer alone (conn_signed). */
	if (c->sign_state == SIGN_WAIT || c->sign_state == SIGN_PARKED) {
		if (events & (EPOLLHUP | EPOLLERR))
			conn_close(c);
		return;
	}
	if (c->state == CONN_WAIT && (events & (EPOLLHUP | EPOLLERR))) {
		conn_close(c);
		return;
	}
	/*
	 * A connection waiting for the crypto process keeps its events
	 * armed (one epoll_ctl less each way per request); only when the
	 * client sends more meanwhile (pipelining, a close) does it stop
	 * listening until the answer is out.
	 */
	if (c->state == CONN_WAIT) {
		conn_arm(c, 0);
		return;
	}
	c->await_readable = false;
	conn_drive(c);
}

/* The client's address for audit records, without the port. */
static void
peer_ip(int fd, char *out, size_t len)
{
	struct sockaddr_storage	 ss;
	socklen_t		 sl = sizeof(ss);
	const void		*a = NULL;

	out[0] = '\0';
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) == -1)
		return;
	if (ss.ss_family == AF_INET)
		a = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (a == NULL || inet_ntop(ss.ss_family, a, out, len) == NULL)
		out[0] = '\0';
}

void
conn_accept(int fd)
{
	struct conn	*c;
	int		 one = 1;
	int		 sndbuf = CONN_SNDBUF;

	if (w.stopping) {
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	/* Bounds what a client that never reads its answers can pin in
	 * the kernel; answers are small, so this costs no throughput. */
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	peer_ip(fd, c->ip, sizeof(c->ip));
	if ((c->ssl = SSL_new(w.ctx)) == NULL || SSL_set_fd(c->ssl, fd) != 1) {
		log_warnx("SSL_new failed");
		SSL_free(c->ssl);
		free(c);
		close(fd);
		ERR_clear_error();
		return;
	}
	SSL_set_accept_state(c->ssl);
	/* The handshake runs as an async job, paused while the crypto
	 * process signs; once done the connection leaves the mode, so
	 * reads and writes start no job. */
	SSL_set_mode(c->ssl, SSL_MODE_ASYNC);
	buf_init(&c->in, CONN_IN_MAX);
	buf_init(&c->out, CONN_OUT_MAX);
	buf_init(&c->body, BODY_MAX);
	c->state = CONN_HANDSHAKE;
	c->last_active = c->req_started = ev_now();
	if (ev_add(&c->io, fd, EPOLLIN, conn_event, c) == -1) {
		log_warn("epoll_ctl");
		SSL_free(c->ssl);
		free(c);
		close(fd);
		return;
	}
	TAILQ_INSERT_TAIL(&w.conns, c, entry);
	w.nconns++;
	conn_drive(c);
}

/*
 * A handshake paused for its signature ends before its SSL goes: resumed
 * with a failure, its job finishes (a paused job would never be freed).
 */
static void
sign_abandon(struct conn *c)
{
	if (c->sign_state != SIGN_WAIT && c->sign_state != SIGN_PARKED)
		return;
	conn_forget_pending(c);
	c->sign_state = SIGN_FAILED;
	w.handshaking = c;
	(void)SSL_do_handshake(c->ssl);
	w.handshaking = NULL;
	ERR_clear_error();
}

void
conn_close(struct conn *c)
{
	sign_abandon(c);
	conn_forget_pending(c);
	logs_unsubscribe(c);
	ev_timer_cancel(&c->resume);
	if (c->metered)
		metrics_request_abort();
	ev_del(&c->io);
	if (c->state != CONN_HANDSHAKE && c->state != CONN_LINGER)
		(void)SSL_shutdown(c->ssl);	/* best effort close_notify */
	SSL_free(c->ssl);
	ERR_clear_error();
	close(c->fd);
	if (c->sig != NULL)
		freezero(c->sig, c->siglen);
	buf_release(&c->in);
	buf_release(&c->out);
	buf_release(&c->body);
	free(c->path);
	free(c->req);
	TAILQ_REMOVE(&w.conns, c, entry);
	w.nconns--;
	explicit_bzero(c, sizeof(*c));
	free(c);
	worker_conn_gone();
}

/*
 * A request that did not arrive in time (the sweep: its head within
 * HEADER_TIMEOUT_MS, its body within BODY_TIMEOUT_MS) is answered 408,
 * then the connection drains what the client still sends and closes, as
 * for a body too big.
 */
void
conn_request_timeout(struct conn *c)
{
	c->keep_alive = false;
	c->body_too_big = true;
	respond_error(c, 408, "request timeout");
	conn_drive(c);
}

bool
conn_idle(const struct conn *c)
{
	return c->state == CONN_HANDSHAKE || c->state == CONN_STREAM ||
	    c->state == CONN_LINGER ||
	    (c->state == CONN_READ &&
	    !c->have_head && buf_avail(&c->in) == 0);
}

static void
identify(struct conn *c)
{
	c->ident_err = identity_of_peer(SSL_get0_peer_certificate(c->ssl),
	    SSL_get_peer_cert_chain(c->ssl), c->identity);
	if (c->ident_err != IDENT_OK)
		c->identity[0] = '\0';
}

/*
 * Plain HTTP on the TLS port (OpenSSL saw "GET ", "POST " ... where a
 * record header belongs): Go's server answers these exact bytes in the
 * clear before it closes, so a misconfigured client says what is wrong.
 * One best-effort write; the connection closes either way.
 */
static void
plain_http_answer(int fd)
{
	static const char msg[] = "HTTP/1.0 400 Bad Request\r\n\r\n"
	    "Client sent an HTTP request to an HTTPS server.\n";

	(void)!write(fd, msg, sizeof(msg) - 1);
}

/*
 * After an SSL call returned r <= 0: 0 when it waits for the socket (the
 * events it needs are armed), -1 when the connection is gone (closed).
 */
static int
ssl_wait(struct conn *c, int r)
{
	const char	*why;
	unsigned long	 e;

	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_ASYNC:
		/* The signature is at the crypto process; its answer (or
		 * its loss) drives the connection again. */
		conn_arm(c, 0);
		return 0;
	case SSL_ERROR_WANT_READ:
		conn_arm(c, EPOLLIN);
		return 0;
	case SSL_ERROR_WANT_WRITE:
		conn_arm(c, EPOLLOUT);
		return 0;
	default:
		e = ERR_peek_last_error();
		why = ERR_reason_error_string(e);
		if (c->state == CONN_HANDSHAKE)
			log_debug("TLS handshake failed: %s",
			    why ? why : "closed");
		if (c->state == CONN_HANDSHAKE &&
		    ERR_GET_LIB(e) == ERR_LIB_SSL &&
		    ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST)
			plain_http_answer(c->fd);
		ERR_clear_error();
		conn_close(c);
		return -1;
	}
}

/*
 * The client's last handshake flight (its Finished) has just been read,
 * and the server sends nothing back. A client that leaves Nagle's
 * algorithm on holds its first request until that flight is ACKed, which
 * the kernel would delay by 40 ms: ACK now (TCP_QUICKACK sends the pending
 * ACK at once), so new-connection latency does not depend on the client's
 * socket options.
 */
static void
quick_ack(int fd)
{
	int one = 1;

	(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof(one));
}

/* 1: done; 0: waiting (events armed); -1: connection closed. */
static int
do_handshake(struct conn *c)
{
	int r;

	w.handshaking = c;
	r = SSL_do_handshake(c->ssl);
	w.handshaking = NULL;
	if (r == 1) {
		SSL_clear_mode(c->ssl, SSL_MODE_ASYNC);
		quick_ack(c->fd);
		identify(c);
		c->state = CONN_READ;
		c->req_started = c->last_active = ev_now();
		return 1;
	}
	return ssl_wait(c, r);
}

/*
 * Inside the handshake's async job (libssl -> tls_key.c): ask the crypto
 * process to sign and pause the job until conn_signed() has the answer.
 * The purpose is this connection's protocol version, never the caller's.
 */
int
tls_sign_remote(const struct tls_sign_req *r, uint8_t *sig, size_t *siglen,
    size_t sigsize)
{
	struct conn	*c = w.handshaking;
	struct buf	 b;
	struct timespec	 t0, t1;
	uint8_t		 purpose;
	int		 ok;

	if (c == NULL || ASYNC_get_current_job() == NULL ||
	    c->sign_state != SIGN_NONE)
		return -1;	/* never a blocking signature */
	purpose = SSL_version(c->ssl) == TLS1_3_VERSION ?
	    TLS_SIGN_TLS13_CV : TLS_SIGN_TLS12_SKE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	buf_init(&b, IPC_MAX_PEER);
	(void)buf_put_u8(&b, purpose);
	(void)buf_put_bytes(&b, r->id, TLS_KEY_ID_LEN);
	(void)buf_put_str(&b, r->digest);
	(void)buf_put_u8(&b, (uint8_t)r->pad);
	(void)buf_put_bytes(&b, r->tbs, r->tbslen);
	/*
	 * Without a crypto channel (the process is restarting), or when it
	 * goes with the request, the handshake waits for the next one and
	 * asks again (conn_sign_resume); the handshake deadline bounds it.
	 */
	c->sign_state = SIGN_PARKED;
	while (c->sign_state == SIGN_PARKED || c->sign_state == SIGN_WAIT) {
		if (c->sign_state == SIGN_PARKED && !b.failed &&
		    crypto_send(c, NULL, MSG_TLS_SIGN, &b) == 0)
			c->sign_state = SIGN_WAIT;
		if (b.failed || ASYNC_pause_job() == 0) {
			conn_forget_pending(c);
			c->sign_state = SIGN_FAILED;
		}
	}
	buf_release(&b);
	ok = c->sign_state == SIGN_DONE && c->siglen <= sigsize;
	if (ok) {
		memcpy(sig, c->sig, c->siglen);
		*siglen = c->siglen;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	metrics_tls_sign(ok, (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
	    (uint64_t)t1.tv_nsec - (uint64_t)t0.tv_nsec);
	if (c->sig != NULL)
		freezero(c->sig, c->siglen);
	c->sig = NULL;
	c->siglen = 0;
	c->sign_state = SIGN_NONE;
	return ok ? 0 : -1;
}

void
conn_sign_resume(void)
{
	struct conn *c, *next;

	TAILQ_FOREACH_SAFE(c, &w.conns, entry, next)
		if (c->sign_state == SIGN_PARKED)
			conn_drive(c);
}

/* MSG_TLS_SIGNATURE: bytes signature; or MSG_ERROR (a key the crypto
 * process does not hold). The handshake resumes in conn_drive(). */
void
conn_signed(struct conn *c, struct ipc_msg *m)
{
	const uint8_t	*p;
	size_t		 len;

	if (c->sign_state != SIGN_WAIT)
		return;
	c->sign_state = SIGN_FAILED;
	if (m->hdr.type == MSG_TLS_SIGNATURE &&
	    buf_get_bytes(&m->payload, &p, &len) == 0 &&
	    buf_end(&m->payload) == 0 && len > 0 && len <= 1024) {
		c->sig = xmalloc(len);
		memcpy(c->sig, p, len);
		c->siglen = len;
		c->sign_state = SIGN_DONE;
	} else
		log_warnx("TLS handshake: the crypto process did not sign "
		    "(%s)", msg_name(m->hdr.type));
}

/* 1: all written; 0: waiting; -1: closed. */
static int
flush_out(struct conn *c)
{
	int r;

	while (buf_avail(&c->out) > 0) {
		r = SSL_write(c->ssl, buf_ptr(&c->out), buf_avail(&c->out));
		if (r > 0) {
			c->out.off += r;
			continue;
		}
		/* The kernel's queue is full: the write deadline runs
		 * from now until the answer is out (the sweep). */
		if (c->write_blocked == 0)
			c->write_blocked = ev_now();
		return ssl_wait(c, r);
	}
	buf_reset(&c->out);
	c->write_blocked = 0;
	return 1;
}

/*
 * A keep-alive connection that has been waiting for its next request
 * (the sweep calls this after a second) gives back its buffers, parsed
 * request and path: 10 k idle connections would hold tens of MiB. A busy
 * connection keeps them, which spares it allocations per request (their
 * contents are wiped after each request all the same).
 */
void
conn_release_idle(struct conn *c)
{
	if (c->state != CONN_READ || c->have_head || buf_avail(&c->in) > 0 ||
	    buf_avail(&c->out) > 0)
		return;
	buf_release(&c->in);
	buf_release(&c->out);
	buf_release(&c->body);
	free(c->req);
	c->req = NULL;
	free(c->path);
	c->path = NULL;
	c->pathcap = 0;
}

/* Read what TLS has: 1 got bytes, 0 waiting, -1 closed. */
static int
read_more(struct conn *c)
{
	uint8_t	*p;
	size_t	 room;
	int	 r;

	buf_compact(&c->in);
	room = c->in.max - c->in.len;
	if (room == 0) {
		if (c->have_head) {
			/* A chunked body whose framing alone fills the
			 * buffer: too big, like one over BODY_MAX. */
			c->body_too_big = true;
			c->keep_alive = false;
		} else
			respond_error(c, 413, "request too large");
		return 1;
	}
	if (room > READ_CHUNK)
		room = READ_CHUNK;
	/* Read into the space there is; a new buffer starts small (most
	 * requests are a few hundred bytes) and grows when it fills. */
	if (c->in.cap > c->in.len && c->in.cap - c->in.len < room)
		room = c->in.cap - c->in.len;
	else if (c->in.cap == 0 && room > READ_FIRST)
		room = READ_FIRST;
	if ((p = buf_reserve(&c->in, room)) == NULL) {
		conn_close(c);
		return -1;
	}
	r = SSL_read(c->ssl, p, room);
	if (r > 0) {
		/* A request starts with its first byte, not when the one
		 * before it ended: keep-alive pauses are not its time. */
		if (!c->have_head && buf_avail(&c->in) == 0)
			c->req_started = ev_now();
		c->in.len += r;
		c->last_active = ev_now();
		return 1;
	}
	return ssl_wait(c, r);
}

/*
 * Frame the next request from c->in. 1: a whole request is ready;
 * 0: need more bytes; -1: answered with an error (connection closes).
 */
static int
frame_request(struct conn *c)
{
	const char	*p = (const char *)buf_ptr(&c->in);
	size_t		 avail = buf_avail(&c->in), used;
	int		 r;

	if (!c->have_head) {
		if (avail == 0)
			return 0;
		if (!http_head_ready(p, avail, c->parsed_upto)) {
			c->parsed_upto = avail;
			return 0;
		}
		c->parsed_upto = avail;
		if (c->req == NULL)
			c->req = xmalloc(sizeof(*c->req));
		r = http_parse_head(p, avail, c->req);
		if (r == 0)
			return 0;
		if (r < 0) {
			c->keep_alive = false;
			respond_error(c, -r, http_reason(-r));
			return -1;
		}
		/* RFC 9112 3.2; Go's server answers the same. */
		if (c->req->minor == 1 && !c->req->has_host) {
			c->keep_alive = false;
			respond_error(c, 400, "missing required Host header");
			return -1;
		}
		c->have_head = true;
		c->head_at = buf_ptr(&c->in);
		c->body_started = ev_now();
		c->chunk_fed = 0;
		http_chunked_init(&c->chunked);
		c->keep_alive = c->req->keep_alive && !w.stopping;
		c->head_only = c->req->method == HTTP_HEAD;
		/*
		 * No route takes more than BODY_MAX (spec 3.1). Such a body
		 * is not read: the request is routed as usual (405, 403 and
		 * the name check come first, as in KES), a route that reads
		 * its body answers 400, one that takes none ignores it; then
		 * the connection closes.
		 */
		if (c->req->body == HTTP_BODY_LENGTH &&
		    c->req->content_length > BODY_MAX) {
			c->body_too_big = true;
			c->keep_alive = false;
		}
	}
	if (c->body_too_big)
		return 1;
	/*
	 * c->req points into c->in. Reading the body may have grown c->in
	 * by copying it elsewhere: parse the same head again at its new
	 * place (c->in is only compacted once the request is answered, so
	 * the head still starts it).
	 */
	if (buf_ptr(&c->in) != c->head_at) {
		if (http_parse_head(p, avail, c->req) <= 0) {
			c->keep_alive = false;
			respond_error(c, 500, "internal error");
			return -1;
		}
		c->head_at = buf_ptr(&c->in);
	}
	avail -= c->req->head_len;
	p += c->req->head_len;
	if (c->req->expect_continue && !c->sent_continue &&
	    c->req->body != HTTP_BODY_NONE) {
		static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
		c->sent_continue = true;
		/* c->out was written out before this request was read. */
		if (buf_put(&c->out, cont, sizeof(cont) - 1) == -1) {
			c->keep_alive = false;
			respond_error(c, 500, "internal error");
			return -1;
		}
	}
	switch (c->req->body) {
	case HTTP_BODY_NONE:
		return 1;
	case HTTP_BODY_LENGTH:
		if (avail < c->req->content_length)
			return 0;
		/* Within BODY_MAX (checked with the head), so it fits; if
		 * not, it is refused like a body over the limit. */
		if (buf_put(&c->body, p, c->req->content_length) == -1) {
			buf_reset(&c->body);
			c->body_too_big = true;
			c->keep_alive = false;
		}
		return 1;
	case HTTP_BODY_CHUNKED:
		/* Decoded as it arrives, each byte once: the decoder keeps
		 * its state and no pointer into c->in (which may move), so
		 * only the bytes after chunk_fed are new. */
		r = http_chunked_feed(&c->chunked, p + c->chunk_fed,
		    avail - c->chunk_fed, &used, &c->body);
		c->chunk_fed += used;
		metrics_chunked_in(used);
		if (r == 0)
			return 0;
		if (r == -413) {
			buf_reset(&c->body);
			c->body_too_big = true;
			c->keep_alive = false;
			return 1;
		}
		if (r < 0) {
			c->keep_alive = false;
			respond_error(c, -r, http_reason(-r));
			return -1;
		}
		/* The framed length, for consume_request(). */
		c->req->content_length = c->chunk_fed;
		return 1;
	}
	return -1;
}

/* Drop the answered request from c->in and get ready for the next. */
static void
consume_request(struct conn *c)
{
	size_t n = 0;

	if (c->req != NULL && c->have_head) {
		n = c->req->head_len;
		if (c->req->body != HTTP_BODY_NONE)
			n += c->req->content_length;
	}
	if (n > buf_avail(&c->in))
		n = buf_avail(&c->in);
	(void)buf_skip(&c->in, n);
	buf_compact(&c->in);
	buf_reset(&c->body);
	c->have_head = c->sent_continue = false;
	c->parsed_upto = 0;
	c->deadline = 0;
	c->route = NULL;
	if (c->path != NULL)
		c->path[0] = '\0';	/* kept for the next request */
	c->req_started = ev_now();
}

/*
 * The client may still be sending a body we did not read. Closing now
 * would answer it with a reset that can destroy our response before the
 * client reads it; so: close_notify, shut down for writing, and read and
 * drop what comes until the client closes (or LINGER_MS, the sweep).
 */
static void
linger_start(struct conn *c)
{
	(void)SSL_shutdown(c->ssl);
	ERR_clear_error();
	(void)shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGER;
	c->last_active = ev_now();
}

/* 0: waiting for more (armed); -1: closed. */
static int
linger_drain(struct conn *c)
{
	uint8_t	 scratch[4096];
	ssize_t	 n;
	int	 i = 0;

	/* Bounded per wake-up, so a fast sender cannot hold the worker. */
	while ((n = read(c->fd, scratch, sizeof(scratch))) > 0 && ++i < 64)
		;
	if (n > 0) {
		conn_arm(c, EPOLLIN);
		return 0;
	}
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		conn_arm(c, EPOLLIN);
		return 0;
	}
	conn_close(c);
	return -1;
}

static void
resume_cb(struct ev_timer *t)
{
	conn_drive(t->arg);
}

/*
 * One connection may not hold the worker: after CONN_READS_PER_TURN reads
 * in one go (a body sent in 1-byte records, a flood of pipelined
 * requests) it waits for the next turn, when the others have had theirs.
 * Not 0 ms: a timer due now would run again in the same turn.
 */
static bool
read_budget_spent(struct conn *c, int *reads)
{
	if (++*reads <= CONN_READS_PER_TURN)
		return false;
	ev_timer_set(&c->resume, 1, resume_cb, c);
	return true;
}

void
conn_drive(struct conn *c)
{
	int r, reads = 0;

	for (;;) {
		switch (c->state) {
		case CONN_HANDSHAKE:
			if (do_handshake(c) != 1)
				return;
			break;
		case CONN_WAIT:
			return;		/* until crypto answers (conn_event) */
		case CONN_LINGER:
			if (linger_drain(c) != 1)
				return;
			break;
		case CONN_STREAM:
			/* Events go out as they come; whatever the client
			 * sends is dropped, and its close ends the stream. */
			if (flush_out(c) != 1)
				return;
			buf_reset(&c->in);
			if (read_budget_spent(c, &reads) ||
			    read_more(c) != 1)
				return;
			break;
		case CONN_WRITE:
		case CONN_CLOSING:
			if ((r = flush_out(c)) != 1)
				return;
			if (c->body_too_big) {
				linger_start(c);
				break;
			}
			if (c->state == CONN_CLOSING || !c->keep_alive) {
				conn_close(c);
				return;
			}
			consume_request(c);
			c->state = CONN_READ;
			/*
			 * The request was read whole and the client waits for
			 * this answer: the socket is most likely empty. Let
			 * epoll (level-triggered) say when the next request
			 * is there instead of a read(2) that fails with EAGAIN
			 * after every answer; OpenSSL's own buffer is checked.
			 */
			c->await_readable = !SSL_has_pending(c->ssl);
			if (w.stopping) {
				conn_close(c);
				return;
			}
			break;
		case CONN_READ:
			/* A 100 Continue may be queued before the body. */
			if (buf_avail(&c->out) > 0 && flush_out(c) != 1)
				return;
			r = frame_request(c);
			if (r == 1) {
				route_request(c);
				break;
			}
			if (r == -1)
				break;	/* an error response is queued */
			/* A 100 Continue just queued goes out before we wait
			 * for the body: the client may wait for it first. */
			if (buf_avail(&c->out) > 0 && flush_out(c) != 1)
				return;
			if (c->await_readable) {
				conn_arm(c, EPOLLIN);
				return;
			}
			if (read_budget_spent(c, &reads) ||
			    read_more(c) != 1)
				return;
			break;
		}
	}
}
