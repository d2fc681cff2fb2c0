/*
 * The worker process: the only process that parses bytes from clients. It
 * holds the TLS certificate chain and the policy table, never the TLS
 * private key (the crypto process signs its handshakes, tls_key.c), a
 * master key or a key-store credential.
 *
 * Peers and the messages accepted from each:
 *   parent   MSG_PEER (a crypto channel), MSG_RELOAD, MSG_SHUTDOWN,
 *            MSG_LOG_EVENT, MSG_LOG_SUBSCRIBE
 *   crypto   MSG_STATUS_REP, MSG_DONE, MSG_KEY_INFO, MSG_KEY_NAMES,
 *            MSG_KEY_DEK, MSG_KEY_SEALED, MSG_KEY_OPENED, MSG_KEY_MAC,
 *            MSG_KEY_OPENED_BULK, MSG_TLS_SIGNATURE, MSG_ERROR (each the
 *            answer to one request, by id)
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/proc.h"
#include "common/tls.h"
#include "common/xmalloc.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "worker/body.h"
#include "worker/metrics.h"
#include "worker/tls_key.h"
#include "worker/worker.h"

#define PENDING_MASK		(sizeof(w.pending) / sizeof(w.pending[0]) - 1)
#define SWEEP_MS		1000
#define RELEASE_IDLE_MS		1000	/* idle this long: buffers go */
#define STOP_GRACE_MS		5000
#define ACCEPT_BATCH		64

struct worker w;

static int	parent_peer(struct peer *, struct ipc_msg *);
static void	listen_resume(void);
static int	crypto_reply(struct peer *, struct ipc_msg *);

static const struct peer_dispatch parent_dispatch[] = {
	{ MSG_PEER,		parent_peer },
	{ MSG_RELOAD,		proc_answer_reload },
	{ MSG_SHUTDOWN,		proc_answer_shutdown },
	{ MSG_LOG_EVENT,	parent_log_event },
	{ MSG_LOG_SUBSCRIBE,	parent_log_subscribe },
	{ 0, NULL }
};
static const struct peer_dispatch crypto_dispatch[] = {
	{ MSG_STATUS_REP,	crypto_reply },
	{ MSG_DONE,		crypto_reply },
	{ MSG_KEY_INFO,		crypto_reply },
	{ MSG_KEY_NAMES,	crypto_reply },
	{ MSG_KEY_DEK,		crypto_reply },
	{ MSG_KEY_SEALED,	crypto_reply },
	{ MSG_KEY_OPENED,	crypto_reply },
	{ MSG_KEY_MAC,		crypto_reply },
	{ MSG_KEY_OPENED_BULK,	crypto_reply },
	{ MSG_TLS_SIGNATURE,	crypto_reply },
	{ MSG_ERROR,		crypto_reply },
	{ 0, NULL }
};

/* --- requests at the crypto process ------------------------------------ */

static struct conn **
pending_slot(uint32_t id)
{
	return &w.pending[id & PENDING_MASK];
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static unsigned int
crypto_count(void)
{
	return w.cf.ncrypto > 0 ? w.cf.ncrypto : 1;
}

bool
crypto_any_open(void)
{
	unsigned int i;

	for (i = 0; i < crypto_count(); i++)
		if (w.crypto[i].open)
			return true;
	return false;
}

/* The channel for a request: the key's own crypto process, or for no
 * key the next open one; NULL when it is away. */
static struct peer *
crypto_pick(const char *key)
{
	unsigned int	n = crypto_count(), i, k;

	if (key != NULL) {
		k = kes_name_shard(key, n);
		return w.crypto[k].open ? &w.crypto[k] : NULL;
	}
	for (i = 0; i < n; i++) {
		k = (w.crypto_rr + i) % n;
		if (w.crypto[k].open) {
			w.crypto_rr = k + 1;
			return &w.crypto[k];
		}
	}
	return NULL;
}

int
crypto_send(struct conn *c, const char *key, uint16_t type,
    const struct buf *b)
{
	struct peer *p;

	if ((p = crypto_pick(key)) == NULL)
		return -1;
	if (++w.next_id == 0)
		w.next_id = 1;
	c->req_id = w.next_id;
	c->crypto_ix = (uint8_t)p->index;
	c->crypto_sent = mono_ns();
	if (peer_send(p, type, c->req_id, b) == -1) {
		c->req_id = 0;
		return -1;
	}
	c->pnext = *pending_slot(c->req_id);
	*pending_slot(c->req_id) = c;
	return 0;
}

int
crypto_request(struct conn *c, const char *key, uint16_t type,
    const struct buf *b)
{
	if (crypto_send(c, key, type, b) == -1)
		return -1;
	c->state = CONN_WAIT;
	return 0;
}

void
conn_forget_pending(struct conn *c)
{
	struct conn **pp;

	if (c->req_id == 0)
		return;
	for (pp = pending_slot(c->req_id); *pp != NULL; pp = &(*pp)->pnext)
		if (*pp == c) {
			*pp = c->pnext;
			break;
		}
	c->req_id = 0;
	c->pnext = NULL;
}

static int
crypto_reply(struct peer *p, struct ipc_msg *m)
{
	struct conn *c;

	for (c = *pending_slot(m->hdr.id); c != NULL; c = c->pnext)
		if (c->req_id == m->hdr.id && c->crypto_ix == p->index)
			break;
	if (c == NULL)
		return 0;	/* its connection went away meanwhile */
	conn_forget_pending(c);
	if (c->state == CONN_HANDSHAKE)
		conn_signed(c, m);
	else {
		metrics_crypto_rtt(mono_ns() - c->crypto_sent);
		route_reply(c, m);
	}
	conn_drive(c);
	return 0;
}

/* Every request still at a lost crypto process gets a 5xx, never a
 * wrong answer; a new crypto channel arrives from the parent. */
static void
crypto_lost(struct peer *p, const char *why)
{
	struct conn	**pp, *c;
	uint32_t	 ix = p->index;
	size_t		 i;
	bool		 parked = false;

	if (why != NULL)
		log_warnx("crypto %u channel: %s", ix, why);
	else
		log_info("crypto %u channel closed", ix);
	peer_close(p);
	for (i = 0; i <= PENDING_MASK; i++)
		for (pp = &w.pending[i]; (c = *pp) != NULL; ) {
			if (c->crypto_ix != ix) {
				pp = &c->pnext;
				continue;
			}
			*pp = c->pnext;
			c->req_id = 0;
			c->pnext = NULL;
			/* A handshake asks another crypto process, or
			 * waits for the next one (conn_sign_resume),
			 * within its own deadline. */
			if (c->state == CONN_HANDSHAKE) {
				c->sign_state = SIGN_PARKED;
				parked = true;
				continue;
			}
			respond_error(c, 503, "service unavailable: crypto "
			    "process restarting");
			conn_drive(c);
		}
	if (parked && crypto_any_open())
		conn_sign_resume();
}

/* --- parent ------------------------------------------------------------- */

/*
 * The crypto channels, one per crypto process, open the listener once
 * all came: until the parent wires this worker, which at start-up it does
 * once every crypto process has its keys (parent_children.c), a
 * connection waits in the backlog rather than get a 503. A later channel
 * (a new crypto process) changes nothing here.
 */
static int
parent_peer(struct peer *p, struct ipc_msg *m)
{
	int ix;

	if ((ix = proc_accept_crypto(m, w.crypto, crypto_count(),
	    crypto_dispatch, crypto_lost)) == -1)
		return -1;
	w.crypto_came |= 1ull << ix;
	w.crypto_seen = w.crypto_came == (1ull << crypto_count()) - 1;
	listen_resume();
	conn_sign_resume();
	return 0;
}

static bool
request_only(const struct worker_slice *s)
{
	size_t i;

	for (i = 0; i < s->napi; i++)
		if (s->api[i].skip_auth)
			return true;
	return false;
}

/*
 * The certificate is ours, its private key the crypto process's: the
 * context signs through tls_key.c, handshakes run as async jobs (conn.c).
 */
static SSL_CTX *
make_ctx(const struct worker_slice *s, char *err, size_t errlen)
{
	SSL_CTX		*ctx;
	EVP_PKEY	*k;

	ctx = tls_server_ctx(&s->cert, NULL, NULL, &s->ca, s->tls_auth,
	    request_only(s), err, errlen);
	if (ctx == NULL)
		return NULL;
	if ((k = tls_key_remote(SSL_CTX_get0_certificate(ctx), err,
	    errlen)) == NULL) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (SSL_CTX_use_PrivateKey(ctx, k) != 1) {
		snprintf(err, errlen, "TLS certificate: its remote key is "
		    "refused: %s", ERR_reason_error_string(ERR_peek_last_error()));
		ERR_clear_error();
		EVP_PKEY_free(k);
		SSL_CTX_free(ctx);
		return NULL;
	}
	EVP_PKEY_free(k);
	return ctx;
}

/* New TLS files and policies; existing connections keep their session. */
static int
worker_reload(struct buf *payload, char *err, size_t errlen)
{
	struct worker_slice	 ns;
	SSL_CTX			*ctx;

	if (worker_slice_get(payload, &ns) == -1) {
		snprintf(err, errlen, "malformed worker configuration");
		return -1;
	}
	if ((ctx = make_ctx(&ns, err, errlen)) == NULL) {
		worker_slice_free(&ns);
		return -1;
	}
	SSL_CTX_free(w.ctx);
	w.ctx = ctx;
	worker_slice_free(&w.cf);
	w.cf = ns;
	log_setlevel(w.cf.log_level);
	return 0;
}

static void
maybe_exit(void)
{
	if (w.stopping && w.nconns == 0) {
		logs_flush();
		peer_flush_wait(&w.parent, 1000);
		exit(0);
	}
}

static void
stop_timer_cb(struct ev_timer *t)
{
	log_warnx("%u connections still busy after %d s; closing them",
	    w.nconns, STOP_GRACE_MS / 1000);
	logs_flush();
	exit(0);
}

/* Stop accepting, answer what is in flight, then exit. */
static void
worker_shutdown(void)
{
	struct conn *c, *next;

	if (w.stopping)
		return;
	w.stopping = true;
	ev_del(&w.listen_io);
	close(w.listen_fd);
	w.listen_fd = -1;
	TAILQ_FOREACH_SAFE(c, &w.conns, entry, next) {
		c->keep_alive = false;
		if (conn_idle(c))
			conn_close(c);
	}
	ev_timer_set(&w.stop_timer, STOP_GRACE_MS, stop_timer_cb, NULL);
	maybe_exit();
}

/* --- listener and timeouts -------------------------------------------- */

static void listen_event(struct ev_io *, uint32_t);

/*
 * Out of descriptors the listener would stay readable and spin: stop
 * watching it until a connection closes or the next sweep. EPOLLEXCLUSIVE
 * cannot be changed with EPOLL_CTL_MOD, hence delete and add.
 */
static void
listen_pause(void)
{
	if (w.listen_paused)
		return;
	ev_del(&w.listen_io);
	w.listen_paused = true;
}

static void
listen_resume(void)
{
	if (!w.listen_paused || w.stopping || !w.crypto_seen)
		return;
	if (ev_add(&w.listen_io, w.listen_fd, EPOLLIN | EPOLLEXCLUSIVE,
	    listen_event, NULL) == -1) {
		log_warn("epoll_ctl listener");
		return;
	}
	w.listen_paused = false;
}

static void
listen_event(struct ev_io *io, uint32_t events)
{
	int fd, n;

	for (n = 0; n < ACCEPT_BATCH; n++) {
		fd = accept4(w.listen_fd, NULL, NULL,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd == -1) {
			if (errno == EMFILE || errno == ENFILE ||
			    errno == ENOBUFS || errno == ENOMEM) {
				if (ev_now() - w.fd_warned > 60 * 1000) {
					log_warn("accept (%u connections); "
					    "new ones wait", w.nconns);
					w.fd_warned = ev_now();
				}
				listen_pause();
			} else if (errno != EAGAIN && errno != ECONNABORTED &&
			    errno != EINTR)
				log_warn("accept");
			return;
		}
		conn_accept(fd);
	}
}

/*
 * Go raises the soft descriptor limit to the hard one at start, so KES
 * could hold as many connections as the hard limit allows; so do workers.
 */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
		log_warn("setrlimit(RLIMIT_NOFILE)");
}

/*
 * A client that is slow to send a request head (5 s) or its body (15 s
 * from the end of the head) gets 408 and loses its connection; so does
 * one that stays idle between requests (90 s), or does not take an answer
 * (10 s with the kernel's send queue full, however the answer was made),
 * so it cannot hold a worker. So does a request that outlives its route's
 * timeout (a hung crypto process).
 */
static void
sweep_cb(struct ev_timer *t)
{
	struct conn	*c, *next;
	uint64_t	 now = ev_now();

	TAILQ_FOREACH_SAFE(c, &w.conns, entry, next) {
		if (c->deadline != 0 && now > c->deadline &&
		    c->state != CONN_READ) {
			log_debug("request exceeded its route timeout");
			conn_close(c);
		} else if (c->write_blocked != 0 &&
		    now - c->write_blocked > WRITE_TIMEOUT_MS) {
			log_debug("client does not read its answers");
			conn_close(c);
		} else if (c->state == CONN_HANDSHAKE) {
			if (now - c->req_started > HEADER_TIMEOUT_MS)
				conn_close(c);
		} else if (c->state == CONN_READ && c->have_head) {
			if (now - c->body_started > BODY_TIMEOUT_MS)
				conn_request_timeout(c);
		} else if (c->state == CONN_READ && buf_avail(&c->in) > 0) {
			if (now - c->req_started > HEADER_TIMEOUT_MS)
				conn_request_timeout(c);
		} else if (c->state == CONN_READ &&
		    now - c->last_active > IDLE_TIMEOUT_MS)
			conn_close(c);
		else if (c->state == CONN_READ &&
		    now - c->last_active >= RELEASE_IDLE_MS)
			conn_release_idle(c);
		else if (c->state == CONN_LINGER &&
		    now - c->last_active > LINGER_MS)
			conn_close(c);
	}
	listen_resume();
	ev_timer_set(&w.sweep, SWEEP_MS, sweep_cb, NULL);
	maybe_exit();
}

/* Called by conn_close(): the last connection of a stopping worker. */
void
worker_conn_gone(void)
{
	listen_resume();
	maybe_exit();
}

static int
worker_configure(struct buf *payload)
{
	if (worker_slice_get(payload, &w.cf) == -1)
		return -1;
	log_setlevel(w.cf.log_level);
	w.listen_fd = FD_LISTEN;
	return 0;
}

/* Before the chroot: TLS files are parsed, the metrics region mapped. */
static void
worker_prepare(const struct proc_opts *opts)
{
	char err[256];

	/* OpenSSL is set up completely before the chroot and the sandbox:
	 * nothing may be loaded from a file later. */
	if (OPENSSL_init_ssl(OPENSSL_INIT_LOAD_SSL_STRINGS |
	    OPENSSL_INIT_LOAD_CRYPTO_STRINGS | OPENSSL_INIT_NO_LOAD_CONFIG,
	    NULL) != 1)
		fatalx("OpenSSL initialisation failed");
	if (tls_key_init() == -1)
		fatalx("cannot load the remote TLS key provider");
	if ((w.ctx = make_ctx(&w.cf, err, sizeof(err))) == NULL)
		fatalx("%s", err);

	routes_init(w.stack_top);
	body_init();
	logs_init();
	/* The metrics region is the parent's; without it, count locally. */
	if (metrics_attach(FD_METRICS, w.cf.index) == -1) {
		log_warnx("no shared metrics region; /v1/metrics shows this "
		    "worker only");
		metrics_attach_private();
	}
	(void)close(FD_METRICS);

	raise_nofile();
}

static void
worker_init(void)
{
	TAILQ_INIT(&w.conns);
	w.started_mono = ev_now();
	/* Listening starts with the first crypto channel (parent_peer). */
	w.listen_io.fd = -1;
	w.listen_paused = true;
	ev_timer_set(&w.sweep, SWEEP_MS, sweep_cb, NULL);
}

/* Chrooted, not memory locked; runs until maybe_exit() ends it. */
static struct proc_child worker_proc = {
	.role = ROLE_WORKER,
	.parent = &w.parent,
	.dispatch = parent_dispatch,
	.chroot = true,
	.memlock = false,
	.configure = worker_configure,
	.prepare = worker_prepare,
	.init = worker_init,
	.turn = logs_flush,
	.reload = worker_reload,
	.shutdown = worker_shutdown,
};

int
worker_main(int argc, char **argv)
{
	char stack_top;

	w.stack_top = &stack_top;
	worker_proc.instance = argc > 1 ? argv[1] : NULL;
	return proc_run(&worker_proc);
}
