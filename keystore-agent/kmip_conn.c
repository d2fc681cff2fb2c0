/*
 * The KMIP store's connections (spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §3.2, §3.3): TCP and mutual TLS (OpenSSL, non-blocking) on the
 * agent's event loop, TTLV messages framed back to back, one request at a
 * time per connection, at most KMIP_POOL_MAX connections per endpoint,
 * kept open and reused, closed after any error or timeout. The pool and
 * the endpoints are kmip_pool.c's, the version negotiation
 * kmip_discover.c's, the TLS context kmip_tls.c's.
 *
 * A connection's life:
 *
 *	RESOLVE   the endpoint's host name is with the helper (helper.h);
 *	          an IP literal skips this
 *	CONNECT   non-blocking connect to each address in turn
 *	TLS       the handshake
 *	DISCOVER  Discover Versions with header 1.2 (then 1.1, then 1.0 when
 *	          offered, §3.3, when the server refuses it or closes the
 *	          connection): the version every later request carries
 *	BUSY      handed to a caller, one request at a time
 *	IDLE      in the pool; readable means the server closed it
 *
 * The first three and the fourth have one deadline together (the
 * configured timeout, at most KMIP_CONNECT_MAX_MS); each request has the
 * configured timeout. An endpoint that failed is tried after the others
 * for KMIP_DOWN_MS.
 */
#include <sys/epoll.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/kmip_int.h"

static uint64_t	opened;

static void	conn_io(struct ev_io *, uint32_t);

uint64_t
kmip_conn_opened(void)
{
	return opened;
}

/* --- one connection ------------------------------------------------------ */

void
kmip_conn_events(struct kconn *c, uint32_t ev)
{
	if (c->io_on && ev_mod(&c->io, ev) == -1)
		log_warn("kmip: epoll_ctl(MOD, %d)", c->fd);
}

static void
conn_close(struct kconn *c)
{
	if (c->io_on) {
		ev_del(&c->io);
		c->io_on = false;
	}
	if (c->ssl != NULL) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd != -1) {
		close(c->fd);
		c->fd = -1;
	}
	ev_timer_cancel(&c->timer);
	buf_release(&c->out);
	buf_release(&c->in);
	c->st = KC_DEAD;
}

void
kmip_conn_free(struct kconn *c)
{
	struct kmip_ep *ep = c->ep;

	conn_close(c);
	TAILQ_REMOVE(&ep->conns, c, entry);
	ep->nconns--;
	free(c->addrs);
	free(c);
}

static void
conn_timeout(struct ev_timer *t)
{
	struct kconn *c = t->arg;

	if (c->st == KC_DEAD)
		kmip_conn_fail(c, "the connection is closed");
	else
		kmip_conn_fail(c, "no answer within %llu ms",
		    (unsigned long long)(ev_now() - c->t0));
}

void
kmip_conn_new(struct kmip_ep *ep, struct kwait *w)
{
	struct kmip_store	*k = ep->k;
	struct kconn		*c;
	uint64_t		 lim;

	c = xcalloc(1, sizeof(*c));
	c->ep = ep;
	c->fd = -1;
	c->owner = w;
	c->disc_minor = 2;
	c->t0 = ev_now();
	buf_init(&c->out, KMIP_MSG_MAX);
	buf_init(&c->in, KMIP_MSG_MAX);
	w->making = c;
	TAILQ_INSERT_TAIL(&ep->conns, c, entry);
	ep->nconns++;
	lim = k->s.timeout_ms < KMIP_CONNECT_MAX_MS ? k->s.timeout_ms :
	    KMIP_CONNECT_MAX_MS;
	ev_timer_set(&c->timer, lim, conn_timeout, c);
	c->st = KC_RESOLVE;
	if (ep->addrs != NULL &&
	    ev_now() - ep->resolved_at < KMIP_RESOLVE_MS) {
		c->addrs = xstrdup(ep->addrs);
		kmip_conn_connect(c);
		return;
	}
	if (ep->resolving)
		return;
	ep->resolving = true;
	helper_resolve(ep->host, ep->port, kmip_ep_resolved, ep);
}

/* The next address of c, or -1 when none is left. */
static int
next_addr(struct kconn *c, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 a[INET6_ADDRSTRLEN + 1];
	const char		*p;
	size_t			 n;

	while (c->addrs[c->addr_off] != '\0') {
		p = c->addrs + c->addr_off;
		n = strcspn(p, ",");
		c->addr_off += n + (p[n] == ',');
		if (n >= sizeof(a))
			continue;
		memcpy(a, p, n);
		a[n] = '\0';
		memset(ss, 0, sizeof(*ss));
		if (inet_pton(AF_INET, a, &sin->sin_addr) == 1) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons((uint16_t)c->ep->port);
			*sl = sizeof(*sin);
			return 0;
		}
		if (inet_pton(AF_INET6, a, &sin6->sin6_addr) == 1) {
			sin6->sin6_family = AF_INET6;
			sin6->sin6_port = htons((uint16_t)c->ep->port);
			*sl = sizeof(*sin6);
			return 0;
		}
	}
	return -1;
}

void
kmip_conn_connect(struct kconn *c)
{
	struct sockaddr_storage	ss;
	socklen_t		sl;
	int			e = 0, one = 1;

	c->st = KC_CONNECT;
	for (;;) {
		if (c->io_on) {
			ev_del(&c->io);
			c->io_on = false;
		}
		if (c->fd != -1) {
			close(c->fd);
			c->fd = -1;
		}
		if (next_addr(c, &ss, &sl) == -1) {
			kmip_conn_fail(c, "connect: %s", e != 0 ? strerror(e) :
			    "no address");
			return;
		}
		if ((c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0)) == -1) {
			e = errno;
			continue;
		}
		(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
		if (connect(c->fd, (struct sockaddr *)&ss, sl) == -1 &&
		    errno != EINPROGRESS) {
			e = errno;
			continue;
		}
		if (ev_add(&c->io, c->fd, EPOLLOUT, conn_io, c) == -1) {
			e = errno;
			continue;
		}
		c->io_on = true;
		opened++;
		return;
	}
}

static void	conn_handshake(struct kconn *);

static void
conn_connected(struct kconn *c)
{
	socklen_t	sl = sizeof(int);
	int		e = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1)
		e = errno;
	if (e != 0) {
		/* The next address, if any. */
		errno = e;
		log_debug("kmip: %s: connect: %s", c->ep->name, strerror(e));
		kmip_conn_connect(c);
		return;
	}
	c->ssl = kmip_tls_new(c->ep->k, c->fd, c->ep->host);
	c->st = KC_TLS;
	conn_handshake(c);
}

static void
conn_handshake(struct kconn *c)
{
	char	why[KMIP_DETAIL];
	int	r, e;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_connect(c->ssl)) == 1) {
		log_debug("kmip: %s: %s, %s", c->ep->name,
		    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
		c->st = KC_DISCOVER;
		if (c->disc_minor == 0) {
			/* Closed on Discover twice: 1.0, which has none. */
			c->v.major = 1;
			c->v.minor = 0;
			kmip_conn_ready(c);
			return;
		}
		kmip_discover_send(c);
		return;
	}
	e = errno;
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		kmip_conn_events(c, EPOLLIN);
		return;
	case SSL_ERROR_WANT_WRITE:
		kmip_conn_events(c, EPOLLOUT);
		return;
	default:
		kmip_conn_fail(c, "%s", kmip_tls_failed(c->ssl, r, e, why,
		    sizeof(why)));
	}
}

/* Set up: hand c to whoever asked, or to the pool. */
void
kmip_conn_ready(struct kconn *c)
{
	struct kwait	*w = c->owner;

	ev_timer_cancel(&c->timer);
	c->ep->down_until = 0;
	c->owner = NULL;
	log_debug("kmip: %s: KMIP %d.%d", c->ep->name, c->v.major,
	    c->v.minor);
	if (w == NULL) {
		c->st = KC_IDLE;
		kmip_conn_events(c, EPOLLIN);
		kmip_pool_changed(c->ep->k);
		return;
	}
	w->making = NULL;
	c->st = KC_BUSY;
	kmip_conn_events(c, 0);
	w->cb(w, c, NULL);
}

/* A whole answer is in c->in. */
static void
conn_answer(struct kconn *c)
{
	struct ttlv_limits	 lim = { .max_len = KMIP_MSG_MAX };
	struct kmip_resp	 r;
	struct buf		 in;
	kconn_cb		 cb;
	void			*arg;
	char			 why[128];

	memset(&r, 0, sizeof(r));
	if (kmip_parse_response(c->in.data, c->in.len, &lim, &r, why,
	    sizeof(why)) == -1 || r.n == 0) {
		kmip_resp_free(&r);
		kmip_conn_fail(c, "a malformed answer: %s", r.n == 0 &&
		    why[0] == '\0' ? "no batch item" : why);
		return;
	}
	if (c->st == KC_DISCOVER) {
		kmip_discover_done(c, &r);
		kmip_resp_free(&r);
		return;
	}
	ev_timer_cancel(&c->timer);
	kmip_conn_events(c, 0);
	/* c may be gone when cb returns: the answer goes with us. */
	in = c->in;
	buf_init(&c->in, KMIP_MSG_MAX);
	cb = c->cb;
	arg = c->arg;
	c->cb = NULL;
	cb(c, &r, NULL, arg);
	kmip_resp_free(&r);
	buf_release(&in);
}

/* Write the request, then read the answer, as far as the socket lets. */
void
kmip_conn_progress(struct kconn *c)
{
	size_t	n;
	uint8_t	*p;
	int	r, e;

	ERR_clear_error();
	if (c->writing) {
		r = SSL_write_ex(c->ssl, c->out.data, c->out.len, &n);
		if (r != 1) {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_WRITE ||
			    e == SSL_ERROR_WANT_READ) {
				kmip_conn_events(c, e == SSL_ERROR_WANT_WRITE ?
				    EPOLLOUT : EPOLLIN);
				return;
			}
			kmip_conn_closed(c, false);
			return;
		}
		c->writing = false;
		buf_reset(&c->out);	/* wipes: it may hold a value */
	}
	for (;;) {
		if (c->hdr_got < TTLV_HDRLEN) {
			r = SSL_read_ex(c->ssl, c->hdr + c->hdr_got,
			    TTLV_HDRLEN - c->hdr_got, &n);
		} else {
			p = c->in.data + c->in.len;
			r = SSL_read_ex(c->ssl, p, c->total - c->in.len, &n);
		}
		if (r != 1) {
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE) {
				kmip_conn_events(c, e == SSL_ERROR_WANT_READ ?
				    EPOLLIN : EPOLLOUT);
				return;
			}
			kmip_conn_closed(c, c->hdr_got > 0);
			return;
		}
		if (c->hdr_got < TTLV_HDRLEN) {
			c->hdr_got += n;
			if (c->hdr_got < TTLV_HDRLEN)
				continue;
			if (ttlv_frame_len(c->hdr, KMIP_MSG_MAX, &c->total) ==
			    -1) {
				kmip_conn_fail(c, "a malformed answer: not a "
				    "TTLV structure of at most %u bytes",
				    KMIP_MSG_MAX);
				return;
			}
			buf_reset(&c->in);
			if (buf_put(&c->in, c->hdr, TTLV_HDRLEN) == -1 ||
			    buf_reserve(&c->in, c->total - TTLV_HDRLEN) ==
			    NULL)
				fatalx("kmip: out of memory");
		} else
			c->in.len += n;
		if (c->in.len == c->total) {
			c->hdr_got = 0;
			conn_answer(c);
			return;
		}
	}
}

/* Idle and readable: closed by the server, or a TLS 1.3 ticket. */
static void
conn_idle(struct kconn *c)
{
	struct kmip_store	*k = c->ep->k;
	uint8_t			 b[1];
	size_t			 n;
	int			 r;

	ERR_clear_error();
	r = SSL_read_ex(c->ssl, b, sizeof(b), &n);
	if (r != 1 && SSL_get_error(c->ssl, r) == SSL_ERROR_WANT_READ)
		return;
	log_debug("kmip: %s: an idle connection closed", c->ep->name);
	kmip_conn_free(c);
	kmip_pool_changed(k);
}

static void
conn_io(struct ev_io *io, uint32_t events)
{
	struct kconn *c = io->arg;

	/* c may be freed by any of these: nothing after. */
	switch (c->st) {
	case KC_CONNECT:
		conn_connected(c);
		break;
	case KC_TLS:
		conn_handshake(c);
		break;
	case KC_DISCOVER:
		kmip_conn_progress(c);
		break;
	case KC_BUSY:
		if (c->writing || c->cb != NULL)
			kmip_conn_progress(c);
		else if (events & (EPOLLERR | EPOLLHUP)) {
			c->lost = true;
			conn_close(c);	/* the next request hears it */
		}
		break;
	case KC_IDLE:
		conn_idle(c);
		break;
	default:
		break;
	}
}

/*
 * c failed: closed. While it is made, its waiter tries the next
 * endpoint; a caller with a request in flight hears why (and releases
 * c); an idle one just goes.
 */
void
kmip_conn_fail(struct kconn *c, const char *fmt, ...)
{
	struct kmip_store	*k = c->ep->k;
	struct kwait		*w = c->owner;
	kconn_cb		 cb = c->cb;
	const char		*name = c->ep->name;
	va_list			 ap;
	char			 why[KMIP_DETAIL];
	size_t			 n;

	va_start(ap, fmt);
	(void)vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	ERR_clear_error();
	if (c->st < KC_BUSY) {
		/* Still being made: the endpoint is in trouble. */
		c->ep->down_until = ev_now() + KMIP_DOWN_MS;
		log_warnx("kmip: %s: %s", c->ep->name, why);
		c->owner = NULL;
		kmip_conn_free(c);
		if (w != NULL) {
			w->making = NULL;
			n = strlen(w->err);
			snprintf(w->err + n, sizeof(w->err) - n, "%s%s: %s",
			    n > 0 ? "; " : "", name, why);
			kmip_pool_next(k, w);
		} else
			kmip_pool_changed(k);
		return;
	}
	if (c->st == KC_IDLE) {
		kmip_conn_free(c);
		kmip_pool_changed(k);
		return;
	}
	conn_close(c);
	if (cb != NULL) {
		c->cb = NULL;
		cb(c, NULL, why, c->arg);
	}
}

void
kmip_conn_release(struct kconn *c, bool keep)
{
	struct kmip_store *k = c->ep->k;

	if (keep && c->st == KC_BUSY && c->cb == NULL && !c->writing) {
		c->st = KC_IDLE;
		c->uses++;
		ev_timer_cancel(&c->timer);
		kmip_conn_events(c, EPOLLIN);
	} else
		kmip_conn_free(c);
	kmip_pool_changed(k);
}

void
kmip_conn_abort(struct kconn *c)
{
	struct kmip_store *k = c->ep->k;

	c->cb = NULL;
	kmip_conn_free(c);
	kmip_pool_changed(k);
}

struct buf *
kmip_conn_req(struct kconn *c)
{
	buf_reset(&c->out);
	return &c->out;
}

void
kmip_conn_send(struct kconn *c, kconn_cb cb, void *arg)
{
	c->cb = cb;
	c->arg = arg;
	c->t0 = ev_now();
	if (c->st != KC_BUSY) {
		/* Dead already: the answer comes on the next turn. */
		ev_timer_set(&c->timer, 0, conn_timeout, c);
		return;
	}
	c->writing = true;
	c->hdr_got = 0;
	c->total = 0;
	buf_reset(&c->in);
	ev_timer_set(&c->timer, c->ep->k->s.timeout_ms, conn_timeout, c);
	kmip_conn_progress(c);
}

void
kmip_conn_hdr(const struct kconn *c, struct kmip_hdr *h)
{
	const struct kmip_conf *s = &c->ep->k->s;

	memset(h, 0, sizeof(*h));
	h->version = c->v;
	if (s->username[0] != '\0') {
		h->username = s->username;
		h->password = s->password;
	}
}

bool
kmip_conn_reused(const struct kconn *c)
{
	return c->uses > 0;
}

bool
kmip_conn_lost(const struct kconn *c)
{
	return c->lost;
}

const char *
kmip_conn_name(const struct kconn *c)
{
	return c->ep->name;
}
