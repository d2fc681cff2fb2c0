/*
 * The KMIP store's connections (spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §3.2, §3.3): TCP and mutual TLS (OpenSSL, non-blocking) on the
 * agent's event loop, TTLV messages framed back to back, one request at a
 * time per connection, at most KMIP_POOL_MAX connections per endpoint,
 * kept open and reused, closed after any error or timeout.
 *
 * A connection's life:
 *
 *	RESOLVE   the endpoint's host name is with the helper (helper.h);
 *	          an IP literal skips this
 *	CONNECT   non-blocking connect to each address in turn
 *	TLS       the handshake
 *	DISCOVER  Discover Versions with header 1.2 (then 1.1, then 1.0 when
 *	          offered, §3.3): the version every later request carries
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
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/kmip_int.h"

/* Debian's bundle, read in init when no tls.ca is given. */
#define SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"
/*
 * TLS 1.2 suites: forward secrecy only. Meets PyKMIP's TLS1.2 list with
 * ECDSA keys (ECDHE-ECDSA-AES*-GCM) and with RSA keys (ECDHE-RSA-AES*-
 * SHA256/384, as PyKMIP has no ECDHE-RSA-GCM suite; §3.2). TLS 1.3
 * suites are OpenSSL's.
 */
#define DEFAULT_CIPHERS	"ECDHE:!aNULL:!eNULL:!SHA1"

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
	uint64_t		 t0;
};

static uint64_t	opened;

static void	conn_io(struct ev_io *, uint32_t);
static void	conn_connect(struct kconn *);
static void	conn_fail(struct kconn *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));
static void	pool_changed(struct kmip_store *);
static void	acquire_next(struct kmip_store *, struct kwait *);
static void	ep_resolved(int, const char *, const char *, void *);

uint64_t
kmip_conn_opened(void)
{
	return opened;
}

/* --- TLS context --------------------------------------------------------- */

/* An encrypted key would make OpenSSL ask a terminal: refuse instead. */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	return -1;
}

/* The first OpenSSL error, for a message; the queue is emptied. */
static const char *
ssl_error(char *buf, size_t len)
{
	unsigned long	e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int
load_ca(SSL_CTX *ctx, const uint8_t *pem, size_t len, char *err,
    size_t errlen)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(ctx);
	X509		*x;
	BIO		*b;
	int		 n = 0;

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("kmip: out of memory");
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) !=
	    NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(b);
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen, "tls.ca: no PEM certificate in it");
		return -1;
	}
	return 0;
}

static int
load_cert(SSL_CTX *ctx, const uint8_t *pem, size_t len, char *err,
    size_t errlen)
{
	X509	*x;
	BIO	*b;
	char	 why[256];

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("kmip: out of memory");
	if ((x = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL)) ==
	    NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		snprintf(err, errlen, "tls.cert: %s", ssl_error(why,
		    sizeof(why)));
		X509_free(x);
		BIO_free(b);
		return -1;
	}
	X509_free(x);
	/* The rest of the file: the chain to send with it. */
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			BIO_free(b);
			snprintf(err, errlen, "tls.cert: %s", ssl_error(why,
			    sizeof(why)));
			return -1;
		}
	BIO_free(b);
	ERR_clear_error();
	return 0;
}

static int
load_key(SSL_CTX *ctx, const uint8_t *pem, size_t len, char *err,
    size_t errlen)
{
	EVP_PKEY	*pk;
	BIO		*b;
	char		 why[256];
	int		 rc = 0;

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("kmip: out of memory");
	pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (pk == NULL) {
		snprintf(err, errlen, "tls.key: no unencrypted PEM private key "
		    "(%s)", ssl_error(why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls.key does not go with tls.cert (%s)",
		    ssl_error(why, sizeof(why)));
		rc = -1;
	}
	EVP_PKEY_free(pk);
	return rc;
}

static bool
is_literal(const char *host)
{
	struct in6_addr a;

	return inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1;
}

int
kmip_conn_init(struct kmip_store *k, char *err, size_t errlen)
{
	const char	*why;
	char		 e[256];
	SSL_CTX		*ctx;
	size_t		 i;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("kmip: SSL_CTX_new: %s", ssl_error(e, sizeof(e)));
	k->ctx = ctx;
	if (SSL_CTX_set_min_proto_version(ctx, k->s.tls_min == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, k->s.ciphers[0] != '\0' ?
	    k->s.ciphers : DEFAULT_CIPHERS) != 1) {
		snprintf(err, errlen, "tls.ciphers: %s", ssl_error(e,
		    sizeof(e)));
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* No renegotiation, no compression; the filter allows no file. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	if (k->ca != NULL) {
		if (load_ca(ctx, k->ca, k->ca_len, err, errlen) == -1)
			return -1;
	} else if (SSL_CTX_load_verify_locations(ctx, SYSTEM_CA, NULL) !=
	    1) {
		snprintf(err, errlen, "no tls.ca given and %s: %s", SYSTEM_CA,
		    ssl_error(e, sizeof(e)));
		return -1;
	}
	if (load_cert(ctx, k->cert, k->cert_len, err, errlen) == -1 ||
	    load_key(ctx, k->key, k->key_len, err, errlen) == -1)
		return -1;

	k->neps = k->s.nendpoints;
	k->eps = xcalloc(k->neps, sizeof(*k->eps));
	for (i = 0; i < k->neps; i++) {
		struct kmip_ep *ep = &k->eps[i];

		ep->k = k;
		ep->name = k->s.endpoints[i];
		if (kmip_endpoint_split(ep->name, ep->host, &ep->port,
		    &why) == -1) {
			snprintf(err, errlen, "endpoint '%s' %s", ep->name,
			    why);
			return -1;
		}
		ep->literal = is_literal(ep->host);
		if (ep->literal) {
			ep->addrs = xstrdup(ep->host);
			ep->resolved_at = UINT64_MAX;
		}
		TAILQ_INIT(&ep->conns);
	}
	return 0;
}

/* --- one connection ------------------------------------------------------ */

static void
conn_events(struct kconn *c, uint32_t ev)
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

static void
conn_free(struct kconn *c)
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
		conn_fail(c, "the connection is closed");
	else
		conn_fail(c, "no answer within %llu ms", (unsigned long long)
		    (ev_now() - c->t0));
}

static void
conn_new(struct kmip_ep *ep, struct kwait *w)
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
		conn_connect(c);
		return;
	}
	if (ep->resolving)
		return;
	ep->resolving = true;
	helper_resolve(ep->host, ep->port, ep_resolved, ep);
}

/* The helper's answer for ep: connections waiting for it go on. */
static void
ep_resolved(int err, const char *addrs, const char *detail, void *arg)
{
	struct kmip_ep	*ep = arg;
	struct kconn	*c, *next;

	ep->resolving = false;
	if (err == 0) {
		free(ep->addrs);
		ep->addrs = xstrdup(addrs);
		ep->resolved_at = ev_now();
		log_debug("kmip: %s is %s", ep->host, addrs);
	} else if (ep->addrs != NULL) {
		log_warnx("kmip: cannot resolve %s: %s; the addresses found "
		    "before are used meanwhile", ep->host, detail);
		ep->resolved_at = ev_now() - KMIP_RESOLVE_MS + KMIP_DOWN_MS;
	}
	for (c = TAILQ_FIRST(&ep->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->st != KC_RESOLVE)
			continue;
		if (ep->addrs == NULL) {
			conn_fail(c, "cannot resolve %s: %s", ep->host,
			    detail);
			continue;
		}
		c->addrs = xstrdup(ep->addrs);
		conn_connect(c);
	}
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

static void
conn_connect(struct kconn *c)
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
			conn_fail(c, "connect: %s", e != 0 ? strerror(e) :
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
static void	conn_progress(struct kconn *);
static void	send_discover(struct kconn *);

static void
conn_connected(struct kconn *c)
{
	X509_VERIFY_PARAM	*vp;
	const char		*name;
	socklen_t		 sl = sizeof(int);
	int			 e = 0;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1)
		e = errno;
	if (e != 0) {
		/* The next address, if any. */
		errno = e;
		log_debug("kmip: %s: connect: %s", c->ep->name, strerror(e));
		conn_connect(c);
		return;
	}
	if ((c->ssl = SSL_new(c->ep->k->ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1)
		fatalx("kmip: SSL_new failed");
	name = c->ep->k->s.server_name[0] != '\0' ? c->ep->k->s.server_name :
	    c->ep->host;
	vp = SSL_get0_param(c->ssl);
	if (is_literal(name)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1)
			fatalx("kmip: X509_VERIFY_PARAM_set1_ip_asc");
	} else if (SSL_set1_host(c->ssl, name) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, name) != 1)
		fatalx("kmip: SSL_set1_host");
	c->st = KC_TLS;
	conn_handshake(c);
}

/* Why a handshake failed, in words: the certificate first. */
static void
tls_failed(struct kconn *c, int ret)
{
	char	why[256];
	long	vr = SSL_get_verify_result(c->ssl);
	int	e = SSL_get_error(c->ssl, ret);

	if (vr != X509_V_OK)
		conn_fail(c, "TLS: the server's certificate: %s",
		    X509_verify_cert_error_string(vr));
	else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		conn_fail(c, "TLS: connection closed during the handshake%s",
		    errno != 0 ? "" : " (the server refused the client "
		    "certificate or TLS version?)");
	else
		conn_fail(c, "TLS: %s", ssl_error(why, sizeof(why)));
}

static void
conn_handshake(struct kconn *c)
{
	int r;

	ERR_clear_error();
	errno = 0;
	if ((r = SSL_connect(c->ssl)) == 1) {
		log_debug("kmip: %s: %s, %s", c->ep->name,
		    SSL_get_version(c->ssl), SSL_get_cipher_name(c->ssl));
		c->st = KC_DISCOVER;
		send_discover(c);
		return;
	}
	switch (SSL_get_error(c->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		conn_events(c, EPOLLIN);
		return;
	case SSL_ERROR_WANT_WRITE:
		conn_events(c, EPOLLOUT);
		return;
	default:
		tls_failed(c, r);
	}
}

/* §3.3: Discover Versions with the versions offered, highest first. */
static void
send_discover(struct kconn *c)
{
	struct kmip_store	*k = c->ep->k;
	struct kmip_hdr		 h;

	memset(&h, 0, sizeof(h));
	h.version.major = 1;
	h.version.minor = c->disc_minor;
	if (k->s.username[0] != '\0') {
		h.username = k->s.username;
		h.password = k->s.password;
	}
	buf_reset(&c->out);
	if (kmip_req_discover_versions(&c->out, &h, k->s.versions,
	    k->s.nversions) == -1) {
		conn_fail(c, "cannot build Discover Versions");
		return;
	}
	c->writing = true;
	c->hdr_got = 0;
	c->total = 0;
	buf_reset(&c->in);
	conn_progress(c);
}

static bool
offered(const struct kmip_store *k, int32_t major, int32_t minor)
{
	size_t i;

	for (i = 0; i < k->s.nversions; i++)
		if (k->s.versions[i].major == major &&
		    k->s.versions[i].minor == minor)
			return true;
	return false;
}

/* Set up: hand c to whoever asked, or to the pool. */
static void
conn_ready(struct kconn *c)
{
	struct kwait	*w = c->owner;

	ev_timer_cancel(&c->timer);
	c->ep->down_until = 0;
	c->owner = NULL;
	log_debug("kmip: %s: KMIP %d.%d", c->ep->name, c->v.major,
	    c->v.minor);
	if (w == NULL) {
		c->st = KC_IDLE;
		conn_events(c, EPOLLIN);
		pool_changed(c->ep->k);
		return;
	}
	w->making = NULL;
	c->st = KC_BUSY;
	conn_events(c, 0);
	w->cb(w, c, NULL);
}

static void
discover_done(struct kconn *c, const struct kmip_resp *r)
{
	struct kmip_store	*k = c->ep->k;
	struct kmip_version	 got[KMIP_VERSIONS_MAX];
	const struct kmip_item	*it = &r->items[0];
	const char		*hint;
	size_t			 n;

	switch (kmip_item_outcome(KMIP_OP_DISCOVER_VERSIONS, it)) {
	case KMIP_OUTCOME_OK:
		if (kmip_parse_discover_versions(it, got, KMIP_VERSIONS_MAX,
		    &n) == -1) {
			conn_fail(c, "a malformed Discover Versions answer");
			return;
		}
		if (kmip_version_pick(got, n, k->s.versions, k->s.nversions,
		    &c->v) == -1) {
			conn_fail(c, "the server speaks none of the KMIP "
			    "versions offered (versions)");
			return;
		}
		conn_ready(c);
		return;
	case KMIP_OUTCOME_RENEGOTIATE:
		if (c->disc_minor == 2) {
			c->disc_minor = 1;
			send_discover(c);
			return;
		}
		if (offered(k, 1, 0)) {
			c->v.major = 1;
			c->v.minor = 0;
			conn_ready(c);
			return;
		}
		conn_fail(c, "the server refuses Discover Versions (%s) and "
		    "KMIP 1.0 is not offered", kmip_reason_name(it->reason));
		return;
	default:
		hint = kmip_reason_hint(it->reason);
		conn_fail(c, "Discover Versions: %s: %s%s%s",
		    kmip_reason_name(it->reason), it->msg,
		    hint != NULL ? "; " : "", hint != NULL ? hint : "");
	}
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
		conn_fail(c, "a malformed answer: %s", r.n == 0 && why[0] ==
		    '\0' ? "no batch item" : why);
		return;
	}
	if (c->st == KC_DISCOVER) {
		discover_done(c, &r);
		kmip_resp_free(&r);
		return;
	}
	ev_timer_cancel(&c->timer);
	conn_events(c, 0);
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
static void
conn_progress(struct kconn *c)
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
				conn_events(c, e == SSL_ERROR_WANT_WRITE ?
				    EPOLLOUT : EPOLLIN);
				return;
			}
			conn_fail(c, "the server closed the connection");
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
				conn_events(c, e == SSL_ERROR_WANT_READ ?
				    EPOLLIN : EPOLLOUT);
				return;
			}
			conn_fail(c, "the server closed the connection%s",
			    c->hdr_got > 0 ? " in the middle of an answer" :
			    "");
			return;
		}
		if (c->hdr_got < TTLV_HDRLEN) {
			c->hdr_got += n;
			if (c->hdr_got < TTLV_HDRLEN)
				continue;
			if (ttlv_frame_len(c->hdr, KMIP_MSG_MAX, &c->total) ==
			    -1) {
				conn_fail(c, "a malformed answer: not a TTLV "
				    "structure of at most %u bytes",
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
	conn_free(c);
	pool_changed(k);
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
		conn_progress(c);
		break;
	case KC_BUSY:
		if (c->writing || c->cb != NULL)
			conn_progress(c);
		else if (events & (EPOLLERR | EPOLLHUP))
			conn_close(c);	/* the next request hears it */
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
static void
conn_fail(struct kconn *c, const char *fmt, ...)
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
		conn_free(c);
		if (w != NULL) {
			w->making = NULL;
			n = strlen(w->err);
			snprintf(w->err + n, sizeof(w->err) - n, "%s%s: %s",
			    n > 0 ? "; " : "", name, why);
			acquire_next(k, w);
		} else
			pool_changed(k);
		return;
	}
	if (c->st == KC_IDLE) {
		conn_free(c);
		pool_changed(k);
		return;
	}
	conn_close(c);
	if (cb != NULL) {
		c->cb = NULL;
		cb(c, NULL, why, c->arg);
	}
}

/* --- the pool ------------------------------------------------------------ */

static struct kconn *
pool_idle(struct kmip_store *k)
{
	struct kconn	*c;
	size_t		 i;

	for (i = 0; i < k->neps; i++)
		TAILQ_FOREACH(c, &k->eps[i].conns, entry)
			if (c->st == KC_IDLE)
				return c;
	return NULL;
}

static void
take(struct kconn *c, struct kwait *w)
{
	c->st = KC_BUSY;
	conn_events(c, 0);
	w->cb(w, c, NULL);
}

/*
 * The next endpoint for w, in order: one not failed lately before one
 * that did, each once; a new connection there, or a wait when it is
 * full; when none is left, w hears every reason.
 */
static void
acquire_next(struct kmip_store *k, struct kwait *w)
{
	struct kmip_ep	*ep = NULL;
	uint64_t	 now = ev_now();
	size_t		 i;
	char		 why[KMIP_DETAIL];

	for (i = 0; i < k->neps; i++)
		if (!(w->tried & (1u << i)) && k->eps[i].down_until <= now) {
			ep = &k->eps[i];
			break;
		}
	for (i = 0; ep == NULL && i < k->neps; i++)
		if (!(w->tried & (1u << i)))
			ep = &k->eps[i];
	if (ep == NULL) {
		snprintf(why, sizeof(why), "%s", w->err[0] != '\0' ? w->err :
		    "no endpoint");
		w->cb(w, NULL, why);
		return;
	}
	if (ep->nconns >= KMIP_POOL_MAX) {
		/* Busy, not broken: wait for one of its connections. */
		w->queued = true;
		TAILQ_INSERT_TAIL(&k->waiters, w, entry);
		return;
	}
	w->tried |= 1u << (size_t)(ep - k->eps);
	conn_new(ep, w);
}

void
kmip_conn_acquire(struct kmip_store *k, struct kwait *w)
{
	struct kconn *c;

	w->tried = 0;
	w->err[0] = '\0';
	w->making = NULL;
	w->queued = false;
	if ((c = pool_idle(k)) != NULL) {
		take(c, w);
		return;
	}
	acquire_next(k, w);
}

/*
 * A connection went idle or away: the first waiter takes the idle one,
 * or tries again where there is room now.
 */
static void
pool_changed(struct kmip_store *k)
{
	struct kwait	*w;
	struct kconn	*c;
	size_t		 i;

	while ((w = TAILQ_FIRST(&k->waiters)) != NULL) {
		if ((c = pool_idle(k)) == NULL) {
			for (i = 0; i < k->neps; i++)
				if (k->eps[i].nconns < KMIP_POOL_MAX)
					break;
			if (i == k->neps)
				return;
		}
		TAILQ_REMOVE(&k->waiters, w, entry);
		w->queued = false;
		if (c != NULL)
			take(c, w);
		else
			acquire_next(k, w);
	}
}

void
kmip_conn_unwait(struct kmip_store *k, struct kwait *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&k->waiters, w, entry);
		w->queued = false;
	}
	/* A connection being made for w goes to the pool when it is. */
	if (w->making != NULL) {
		w->making->owner = NULL;
		w->making = NULL;
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
		conn_events(c, EPOLLIN);
	} else
		conn_free(c);
	pool_changed(k);
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
	conn_progress(c);
}

void
kmip_conn_abort(struct kconn *c)
{
	struct kmip_store *k = c->ep->k;

	c->cb = NULL;
	conn_free(c);
	pool_changed(k);
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

const char *
kmip_conn_name(const struct kconn *c)
{
	return c->ep->name;
}
