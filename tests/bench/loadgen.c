/*
 * loadgen: an HTTP/1.1 load generator over mutual TLS for `make bench`.
 *
 * One thread, one epoll loop (edge-triggered, one registration per socket),
 * non-blocking sockets and OpenSSL. Modes:
 *   closed loop     each of -c connections sends its next request as soon
 *                   as the previous answer is in (keep-alive), or with --new
 *                   opens a new connection for every request (TCP connect,
 *                   full TLS handshake with a client certificate, one
 *                   request, close);
 *   open loop       --rate R: requests are scheduled every 1/R s and handed
 *                   to whichever connection is free; latency counts from the
 *                   scheduled time, so a stalled server is not hidden by the
 *                   load generator waiting for it (coordinated omission);
 *   resumption      --resume (implies --new): each connection slot offers
 *                   the session of its previous connection (TLS 1.3
 *                   ticket, psk_dhe_ke: still an ECDHE exchange), so a
 *                   server that resumes skips certificates and signatures;
 *   idle            --idle N: open N connections, one request on each, keep
 *                   them open until SIGTERM/SIGINT or EOF on stdin.
 * Everything a request needs is allocated before the run starts: request
 * bytes and input buffers live in the connection table, SSL objects are
 * reused (SSL_clear) across --new connections, and the latency histogram
 * is a fixed array. (OpenSSL still allocates inside each handshake.)
 *
 * The last line of output is machine-readable:
 *   result requests=N ok=N http_errors=N transport_errors=N seconds=S
 *          rps=R p50_us=.. p90_us=.. p99_us=.. p999_us=.. max_us=..
 *          mean_us=.. cpu=F connections=N last_bad_status=S resumed=N
 * cpu is the load generator's own CPU time over wall time (1.0: it was
 * saturated and the numbers measure it, not the server).
 */
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <arpa/inet.h>
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/b64.h"
#include "common/xmalloc.h"
#include "tests/bench/hist.h"
#include "tests/bench/resp.h"

#define REQ_MAX		8192	/* request head and body */
#define IN_MAX		16384	/* a response head must fit */
#define BODY_MAX	4096
#define MAX_EVENTS	256
#define OPEN_BUDGET	128	/* connections opening at once (--idle) */
#define SCAN_NS		100000000ull	/* timeout sweep every 100 ms */
#define GIVE_UP		2000	/* transport errors in a row, no success */

enum cstate {
	C_CLOSED = 0,
	C_CONNECT,
	C_HANDSHAKE,
	C_WRITE,
	C_READ,
	C_WAIT,		/* open, waiting for the schedule (--rate) */
	C_HELD,		/* --idle: done with its request, kept open */
};

struct conn {
	int		 fd;
	SSL		*ssl;
	enum cstate	 st;
	bool		 want_req;	/* send a request once connected */
	uint64_t	 t0;		/* latency origin of the current request */
	char		*req;		/* REQ_MAX bytes */
	size_t		 reqlen, reqoff;
	char		*in;		/* IN_MAX bytes */
	size_t		 inlen;
	struct resp	 resp;
	SSL_SESSION	*sess;		/* --resume: the last one */
};

struct opts {
	struct sockaddr_in addr;
	char		 host[256];
	const char	*path;
	const char	*method;
	const char	*body;
	size_t		 bodylen;
	const char	*cert, *key, *ca;
	const char	*context;
	const char	*header;	/* one more "Name: value" line */
	unsigned int	 conns;
	double		 seconds;
	double		 warmup;
	uint64_t	 nreq;		/* 0: run for seconds */
	double		 rate;		/* 0: closed loop */
	bool		 newconn;
	bool		 resume;	/* --resume: offer the last session */
	unsigned int	 keys;		/* 0: path is literal */
	bool		 random_keys;
	bool		 decrypt;
	unsigned int	 idle;
	double		 timeout;
	bool		 quiet;
};

struct counters {
	uint64_t	ok, http_err, transport_err, conns_made, resumed;
	int		last_bad;	/* the last status other than 2xx */
	struct hist	h;
};

static struct opts	 o = {
	.conns = 16, .seconds = 10, .timeout = 10,
};
static SSL_CTX		*ctx;
static int		 ep = -1;
static struct conn	*conns;
static unsigned int	 nconns;
static struct counters	 cnt;
static bool		 measuring;	/* past the warm-up */
static bool		 stopping;
static uint64_t		 issued;	/* requests started (-n) */
static uint64_t		 sched_next;	/* --rate: next scheduled time */
static uint64_t		 interval_ns;
static unsigned int	*waiting;	/* --rate: free connections */
static unsigned int	 nwaiting;
static uint64_t		 keyseq, rng = 0x9e3779b97f4a7c15ull;
static unsigned int	 fails_in_row;
static unsigned int	 opening;	/* --idle: connections not yet held */
static unsigned int	 idle_next, idle_held, idle_failed, idle_dropped;
static char		 static_req[REQ_MAX];
static size_t		 static_reqlen;
static char		 pathbuf[1024];
static char		 bodybuf[BODY_MAX];

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double
cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* --- requests ---------------------------------------------------------- */

/* Request bytes for path into buf; its length. */
static size_t
format_request(char *buf, size_t len, const char *path)
{
	int n;

	n = snprintf(buf, len, "%s %s HTTP/1.1\r\nHost: %s\r\n"
	    "User-Agent: keyward-loadgen\r\n%s%s%s%s"
	    "Content-Length: %zu\r\n\r\n", o.method, path, o.host,
	    o.header != NULL ? o.header : "", o.header != NULL ? "\r\n" : "",
	    o.newconn ? "Connection: close\r\n" : "",
	    o.bodylen > 0 ? "Content-Type: application/json\r\n" : "",
	    o.bodylen);
	if (n < 0 || (size_t)n + o.bodylen >= len)
		errx(2, "request too large");
	memcpy(buf + n, o.body, o.bodylen);
	return (size_t)n + o.bodylen;
}

/* The next key for --keys: sequential, or xorshift64 with --random. */
static unsigned int
next_key(void)
{
	if (!o.random_keys)
		return (unsigned int)(keyseq++ % o.keys);
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned int)(rng % o.keys);
}

static void
prepare_request(struct conn *c)
{
	char path[sizeof(pathbuf) + 16];

	if (o.keys > 0) {
		/* The format was checked to hold exactly one %d. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(path, sizeof(path), o.path, next_key());
#pragma GCC diagnostic pop
		c->reqlen = format_request(c->req, REQ_MAX, path);
	} else if (c->reqlen == 0) {
		memcpy(c->req, static_req, static_reqlen);
		c->reqlen = static_reqlen;
	}
	c->reqoff = 0;
	resp_start(&c->resp);
	c->inlen = 0;
}

/* --- connections ------------------------------------------------------- */

static void	conn_drive(struct conn *);
static void	conn_open(struct conn *, uint64_t now);

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		if (o.resume) {
			SSL_SESSION *s = SSL_get1_session(c->ssl);

			if (s != NULL && SSL_SESSION_is_resumable(s)) {
				SSL_SESSION_free(c->sess);
				c->sess = s;
			} else
				SSL_SESSION_free(s);
		}
		/* No close_notify: neither side needs it to frame HTTP,
		 * and nginx and keyward both just close. */
		SSL_set_quiet_shutdown(c->ssl, 1);
		SSL_shutdown(c->ssl);
		if (SSL_clear(c->ssl) != 1) {
			SSL_free(c->ssl);
			c->ssl = NULL;
		}
	}
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	c->st = C_CLOSED;
}

static bool
may_issue(void)
{
	if (stopping)
		return false;
	return o.nreq == 0 || issued < o.nreq;
}

/* Begin the next request on an open connection (closed loop). */
static void
start_request(struct conn *c, uint64_t t0)
{
	if (!o.newconn)
		issued++;
	prepare_request(c);
	c->t0 = t0;
	c->st = C_WRITE;
}

/* The connection is open and has nothing to do: what next. */
static void
conn_ready(struct conn *c, uint64_t now)
{
	if (o.idle > 0) {
		if (c->want_req) {
			c->want_req = false;
			start_request(c, now);
		} else
			c->st = C_HELD;
		return;
	}
	if (o.rate > 0) {
		c->st = C_WAIT;
		waiting[nwaiting++] = (unsigned int)(c - conns);
		return;
	}
	if (o.newconn) {
		/* The request was counted when the connection opened. */
		if (c->want_req && !stopping) {
			c->want_req = false;
			start_request(c, c->t0);
		} else
			conn_close(c);
		return;
	}
	c->want_req = false;
	if (may_issue())
		start_request(c, now);
	else
		c->st = C_WAIT;
}

static void
transport_error(struct conn *c, const char *why)
{
	uint64_t now = now_ns();

	if (measuring)
		cnt.transport_err++;
	if (++fails_in_row >= GIVE_UP)
		errx(1, "%u transport errors in a row (last: %s): is the "
		    "server up?", fails_in_row, why);
	if (!o.quiet && fails_in_row == 1)
		fprintf(stderr, "loadgen: %s\n", why);
	ERR_clear_error();
	conn_close(c);
	if (o.idle > 0) {
		idle_failed++;
		opening--;
		return;
	}
	if (may_issue())
		conn_open(c, now);
}

static void
conn_open(struct conn *c, uint64_t now)
{
	struct epoll_event	ev;
	int			one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1)
		err(1, "socket");
	(void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (c->ssl == NULL && (c->ssl = SSL_new(ctx)) == NULL)
		errx(1, "SSL_new");
	if (SSL_set_fd(c->ssl, c->fd) != 1)
		errx(1, "SSL_set_fd");
	if (c->sess != NULL && SSL_set_session(c->ssl, c->sess) != 1)
		errx(1, "SSL_set_session");
	SSL_set_connect_state(c->ssl);
	c->want_req = true;
	c->t0 = now;
	c->reqoff = 0;
	ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
	ev.data.ptr = c;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) == -1)
		err(1, "epoll_ctl");
	if (o.newconn)
		issued++;
	if (connect(c->fd, (struct sockaddr *)&o.addr, sizeof(o.addr)) == 0)
		c->st = C_HANDSHAKE;
	else if (errno == EINPROGRESS)
		c->st = C_CONNECT;
	else {
		c->st = C_CONNECT;
		transport_error(c, strerror(errno));
	}
}

static void
response_done(struct conn *c, uint64_t now)
{
	bool ok = c->resp.status >= 200 && c->resp.status < 300;

	fails_in_row = 0;
	if (measuring) {
		if (ok)
			cnt.ok++;
		else {
			cnt.http_err++;
			cnt.last_bad = c->resp.status;
		}
		hist_record(&cnt.h, now - c->t0);
	}
	if (o.idle > 0) {
		if (ok)
			idle_held++;
		else
			idle_failed++;
		opening--;
	}
	if (c->resp.close || o.newconn) {
		conn_close(c);
		if (o.idle > 0)
			return;
		if (may_issue())
			conn_open(c, now);
		return;
	}
	conn_ready(c, now);
}

/* --rate: a waiting connection that closed is no longer free. */
static void
unwait(struct conn *c)
{
	unsigned int i, me = (unsigned int)(c - conns);

	for (i = 0; i < nwaiting; i++)
		if (waiting[i] == me) {
			waiting[i] = waiting[--nwaiting];
			return;
		}
}

/* Run the state machine until the socket would block. */
static void
conn_drive(struct conn *c)
{
	socklen_t	 sl;
	uint64_t	 now;
	long		 used;
	int		 r, e, soerr;

	for (;;) {
		switch (c->st) {
		case C_CLOSED:
			return;
		case C_CONNECT:
			sl = sizeof(soerr);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &sl) == -1)
				soerr = errno;
			if (soerr == EINPROGRESS || soerr == EALREADY)
				return;
			if (soerr != 0) {
				transport_error(c, strerror(soerr));
				return;
			}
			c->st = C_HANDSHAKE;
			break;
		case C_HANDSHAKE:
			r = SSL_connect(c->ssl);
			if (r == 1) {
				cnt.conns_made++;
				if (SSL_session_reused(c->ssl))
					cnt.resumed++;
				conn_ready(c, now_ns());
				break;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				return;
			transport_error(c, "TLS handshake failed");
			return;
		case C_WRITE:
			r = SSL_write(c->ssl, c->req + c->reqoff,
			    (int)(c->reqlen - c->reqoff));
			if (r > 0) {
				c->reqoff += (size_t)r;
				if (c->reqoff < c->reqlen)
					break;
				/*
				 * The answer cannot be there yet: wait for
				 * EPOLLIN rather than spend a read(2) on
				 * EAGAIN. Edge-triggered epoll reports every
				 * arrival, and nothing is left unread.
				 */
				c->st = C_READ;
				if (SSL_has_pending(c->ssl) == 0)
					return;
				break;
			}
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				return;
			transport_error(c, "write failed");
			return;
		case C_READ:
			r = SSL_read(c->ssl, c->in + c->inlen,
			    (int)(IN_MAX - c->inlen));
			if (r <= 0) {
				e = SSL_get_error(c->ssl, r);
				if (e == SSL_ERROR_WANT_READ ||
				    e == SSL_ERROR_WANT_WRITE)
					return;
				if (resp_eof(&c->resp)) {
					c->resp.close = true;
					response_done(c, now_ns());
					return;
				}
				transport_error(c, c->inlen == 0 &&
				    c->resp.state == RS_HEAD ?
				    "connection closed before a response" :
				    "connection closed mid-response");
				return;
			}
			c->inlen += (size_t)r;
			used = resp_feed(&c->resp, c->in, c->inlen);
			if (used < 0) {
				transport_error(c, "malformed response");
				return;
			}
			if (c->resp.state == RS_HEAD) {
				if (c->inlen == IN_MAX) {
					transport_error(c, "response head "
					    "too large");
					return;
				}
				break;
			}
			/* No pipelining: nothing follows a response. */
			c->inlen = 0;
			if (c->resp.state == RS_DONE) {
				now = now_ns();
				response_done(c, now);
			}
			break;
		case C_WAIT:
		case C_HELD:
			/* Nothing is expected now: an event here is the
			 * server closing an idle connection. */
			r = SSL_read(c->ssl, c->in, IN_MAX);
			if (r > 0)
				return;
			e = SSL_get_error(c->ssl, r);
			if (e == SSL_ERROR_WANT_READ ||
			    e == SSL_ERROR_WANT_WRITE)
				return;
			if (c->st == C_HELD) {
				idle_dropped++;
				conn_close(c);
				return;
			}
			conn_close(c);
			if (o.rate > 0)
				unwait(c);
			if (may_issue())
				conn_open(c, now_ns());
			return;
		}
	}
}

/* --rate: hand every request that is due to a free connection. */
static void
dispatch_due(uint64_t now)
{
	struct conn *c;

	while (nwaiting > 0 && sched_next <= now && !stopping) {
		c = &conns[waiting[--nwaiting]];
		start_request(c, sched_next);
		sched_next += interval_ns;
		conn_drive(c);
	}
}

/* Requests that outlived --timeout are transport errors. */
static void
sweep(uint64_t now)
{
	uint64_t	limit = (uint64_t)(o.timeout * 1e9);
	unsigned int	i;
	struct conn	*c;

	for (i = 0; i < nconns; i++) {
		c = &conns[i];
		if ((c->st == C_CONNECT || c->st == C_HANDSHAKE ||
		    c->st == C_WRITE || c->st == C_READ) &&
		    now - c->t0 > limit)
			transport_error(c, "timed out");
	}
}

/* --- one blocking request (--decrypt-from-generate) --------------------- */

static int
fetch_once(const char *path, const char *body, char *out, size_t outlen)
{
	struct conn	 c = { .fd = -1 };
	char		 req[REQ_MAX];
	const char	*sb = o.body;
	size_t		 sl = o.bodylen, len;
	bool		 sn = o.newconn;
	long		 used;
	int		 r, fd, rc = -1;

	o.body = body;
	o.bodylen = strlen(body);
	o.newconn = true;
	len = format_request(req, sizeof(req), path);
	o.body = sb;
	o.bodylen = sl;
	o.newconn = sn;
	c.in = xmalloc(IN_MAX);
	c.resp.keep = out;
	c.resp.keepcap = outlen;
	resp_start(&c.resp);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		err(1, "socket");
	if (connect(fd, (struct sockaddr *)&o.addr, sizeof(o.addr)) == -1)
		err(1, "connect");
	if ((c.ssl = SSL_new(ctx)) == NULL || SSL_set_fd(c.ssl, fd) != 1 ||
	    SSL_connect(c.ssl) != 1 || SSL_write(c.ssl, req, (int)len) !=
	    (int)len)
		goto done;
	while (c.resp.state != RS_DONE) {
		r = SSL_read(c.ssl, c.in + c.inlen, (int)(IN_MAX - c.inlen));
		if (r <= 0) {
			if (!resp_eof(&c.resp))
				goto done;
			break;
		}
		c.inlen += (size_t)r;
		if ((used = resp_feed(&c.resp, c.in, c.inlen)) < 0)
			goto done;
		if (c.resp.state != RS_HEAD)
			c.inlen = 0;
	}
	rc = c.resp.status;
done:
	if (c.ssl != NULL)
		SSL_free(c.ssl);
	close(fd);
	free(c.in);
	return rc;
}

/* The string value of "name" in a flat JSON object (base64: no escapes). */
static int
json_field(const char *json, const char *name, char *out, size_t len)
{
	char		 key[64];
	const char	*p, *q;

	snprintf(key, sizeof(key), "\"%s\":\"", name);
	if ((p = strstr(json, key)) == NULL)
		return -1;
	p += strlen(key);
	if ((q = strchr(p, '"')) == NULL || (size_t)(q - p) >= len)
		return -1;
	memcpy(out, p, q - p);
	out[q - p] = '\0';
	return 0;
}

/* Generate once, then decrypt what came back, with the same context. */
static void
setup_decrypt(void)
{
	char	 resp[BODY_MAX], ct[BODY_MAX], *g;
	int	 status, n;

	if ((g = strstr(o.path, "/generate/")) == NULL)
		errx(2, "--decrypt-from-generate needs a .../generate/KEY path");
	status = fetch_once(o.path, o.body, resp, sizeof(resp));
	if (status != 200)
		errx(1, "generate for the decrypt run: status %d: %s", status,
		    status > 0 ? resp : "transport error");
	if (json_field(resp, "ciphertext", ct, sizeof(ct)) == -1)
		errx(1, "no ciphertext in %s", resp);
	if (snprintf(pathbuf, sizeof(pathbuf), "%.*s/decrypt/%s",
	    (int)(g - o.path), o.path, g + strlen("/generate/")) >=
	    (int)sizeof(pathbuf))
		errx(2, "path too long");
	o.path = pathbuf;
	if (o.context != NULL) {
		char ctx64[BODY_MAX];

		if (strlen(o.context) > BODY_MAX / 2)
			errx(2, "context too long");
		b64_encode(o.context, strlen(o.context), ctx64);
		n = snprintf(bodybuf, sizeof(bodybuf),
		    "{\"ciphertext\":\"%s\",\"context\":\"%s\"}", ct, ctx64);
	} else
		n = snprintf(bodybuf, sizeof(bodybuf),
		    "{\"ciphertext\":\"%s\"}", ct);
	if (n < 0 || (size_t)n >= sizeof(bodybuf))
		errx(2, "decrypt body too long");
	o.body = bodybuf;
	o.bodylen = strlen(bodybuf);
}

/* --- set-up -------------------------------------------------------------- */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen --url https://IP:PORT/PATH [--cert F --key F] "
	    "[--ca F]\n"
	    "    [-c CONNS] [-d SECONDS | -n REQUESTS] [-w WARMUP_SECONDS]\n"
	    "    [--new | --resume] [--rate R] [--method M] [--body-string S | --body F"
	    " | --context S]\n"
	    "    [--keys N [--random]] (PATH holds one %%d)\n"
	    "    [--decrypt-from-generate] [--idle N] [--timeout S] "
	    "[--header 'Name: value'] [-q]\n");
	exit(2);
}

static void
parse_url(const char *url)
{
	const char	*p, *slash, *colon;
	char		 port[8];
	size_t		 hl;

	if (strncmp(url, "https://", 8) != 0)
		errx(2, "only https:// URLs");
	p = url + 8;
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	if ((colon = memchr(p, ':', slash - p)) == NULL ||
	    slash - colon - 1 >= (long)sizeof(port) ||
	    (hl = colon - p) >= sizeof(o.host))
		errx(2, "URL needs HOST:PORT");
	memcpy(o.host, p, hl);
	o.host[hl] = '\0';
	memcpy(port, colon + 1, slash - colon - 1);
	port[slash - colon - 1] = '\0';
	o.addr.sin_family = AF_INET;
	o.addr.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, strcmp(o.host, "localhost") == 0 ?
	    "127.0.0.1" : o.host, &o.addr.sin_addr) != 1)
		errx(2, "host must be an IPv4 address or localhost");
	o.path = *slash ? slash : "/";
}

static char *
read_file(const char *path, size_t *len)
{
	char	*b = xmalloc(BODY_MAX);
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		err(2, "%s", path);
	if ((n = read(fd, b, BODY_MAX)) < 0)
		err(2, "%s", path);
	if (n == BODY_MAX)
		errx(2, "%s: larger than %d bytes", path, BODY_MAX);
	close(fd);
	*len = (size_t)n;
	return b;
}

static void
setup_tls(void)
{
	X509_VERIFY_PARAM *vp;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		errx(1, "SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Every handshake is a full one, as for a new client; with
	 * --resume each slot keeps its last session itself. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (!o.resume)
		SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	/* One read(2) per TLS record instead of header and body apart. */
	SSL_CTX_set_read_ahead(ctx, 1);
	/* 10 k held connections need not keep 34 KiB of buffers each. */
	if (o.idle > 0)
		SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (o.cert != NULL && (SSL_CTX_use_certificate_chain_file(ctx,
	    o.cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, o.key,
	    SSL_FILETYPE_PEM) != 1))
		errx(1, "cannot load %s / %s", o.cert, o.key);
	if (o.ca != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, o.ca, NULL) != 1)
			errx(1, "cannot load %s", o.ca);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		vp = SSL_CTX_get0_param(ctx);
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, inet_ntoa(
		    o.addr.sin_addr)) != 1)
			errx(1, "X509_VERIFY_PARAM_set1_ip_asc");
	}
}

static void
raise_nofile(unsigned int need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		err(1, "getrlimit");
	if (rl.rlim_cur < need + 64) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			err(1, "setrlimit");
		if (rl.rlim_cur < need + 64)
			errx(2, "RLIMIT_NOFILE %llu is too low for %u "
			    "connections", (unsigned long long)rl.rlim_cur,
			    need);
	}
}

static void
check_path_format(void)
{
	const char *p;
	int n = 0;

	for (p = o.path; (p = strchr(p, '%')) != NULL; p += 2) {
		if (p[1] != 'd')
			errx(2, "--keys: the path may hold only one %%d");
		n++;
	}
	if (n != 1)
		errx(2, "--keys: the path needs exactly one %%d");
	if (strlen(o.path) >= sizeof(pathbuf))
		errx(2, "path too long");
}

static void
parse_args(int argc, char **argv)
{
	enum { O_URL = 256, O_CERT, O_KEY, O_CA, O_NEW, O_RATE, O_METHOD,
	    O_BODY, O_BODYSTR, O_CONTEXT, O_KEYS, O_RANDOM, O_DECRYPT, O_IDLE,
	    O_TIMEOUT, O_HEADER, O_RESUME };
	static const struct option lo[] = {
		{ "url", required_argument, NULL, O_URL },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "ca", required_argument, NULL, O_CA },
		{ "new", no_argument, NULL, O_NEW },
		{ "resume", no_argument, NULL, O_RESUME },
		{ "rate", required_argument, NULL, O_RATE },
		{ "method", required_argument, NULL, O_METHOD },
		{ "body", required_argument, NULL, O_BODY },
		{ "body-string", required_argument, NULL, O_BODYSTR },
		{ "context", required_argument, NULL, O_CONTEXT },
		{ "keys", required_argument, NULL, O_KEYS },
		{ "random", no_argument, NULL, O_RANDOM },
		{ "decrypt-from-generate", no_argument, NULL, O_DECRYPT },
		{ "idle", required_argument, NULL, O_IDLE },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "header", required_argument, NULL, O_HEADER },
		{ NULL, 0, NULL, 0 }
	};
	const char	*url = NULL;
	char		 c64[BODY_MAX];
	int		 ch;

	while ((ch = getopt_long(argc, argv, "c:d:n:w:q", lo, NULL)) != -1) {
		switch (ch) {
		case 'c': o.conns = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'd': o.seconds = strtod(optarg, NULL); break;
		case 'n': o.nreq = strtoull(optarg, NULL, 10); break;
		case 'w': o.warmup = strtod(optarg, NULL); break;
		case 'q': o.quiet = true; break;
		case O_URL: url = optarg; break;
		case O_CERT: o.cert = optarg; break;
		case O_KEY: o.key = optarg; break;
		case O_CA: o.ca = optarg; break;
		case O_NEW: o.newconn = true; break;
		case O_RESUME: o.newconn = o.resume = true; break;
		case O_RATE: o.rate = strtod(optarg, NULL); break;
		case O_METHOD: o.method = optarg; break;
		case O_BODY: o.body = read_file(optarg, &o.bodylen); break;
		case O_BODYSTR:
			o.body = optarg;
			o.bodylen = strlen(optarg);
			break;
		case O_CONTEXT: o.context = optarg; break;
		case O_KEYS: o.keys = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case O_RANDOM: o.random_keys = true; break;
		case O_DECRYPT: o.decrypt = true; break;
		case O_IDLE: o.idle = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case O_TIMEOUT: o.timeout = strtod(optarg, NULL); break;
		case O_HEADER:
			if (strchr(optarg, ':') == NULL ||
			    strpbrk(optarg, "\r\n") != NULL)
				errx(2, "--header: one \"Name: value\" line");
			o.header = optarg;
			break;
		default: usage();
		}
	}
	if (url == NULL || optind != argc || o.conns == 0 ||
	    (o.cert == NULL) != (o.key == NULL) || o.timeout <= 0)
		usage();
	parse_url(url);
	if (o.context != NULL && o.body == NULL) {
		if (strlen(o.context) > sizeof(c64) / 2 - 32)
			errx(2, "context too long");
		b64_encode(o.context, strlen(o.context), c64);
		if (snprintf(bodybuf, sizeof(bodybuf), "{\"context\":\"%s\"}",
		    c64) >= (int)sizeof(bodybuf))
			errx(2, "context too long");
		o.body = bodybuf;
		o.bodylen = strlen(bodybuf);
	}
	if (o.body == NULL)
		o.body = "";
	if (o.method == NULL)
		o.method = o.bodylen > 0 || o.decrypt ? "POST" : "GET";
	if (o.keys > 0)
		check_path_format();
	if (o.rate > 0 && (o.newconn || o.idle > 0))
		errx(2, "--rate works with keep-alive connections only");
	if (o.decrypt && o.keys > 0)
		errx(2, "--decrypt-from-generate takes one key");
	if (o.idle > 0)
		o.conns = o.idle;
}

/* --- main loop ------------------------------------------------------------ */

static void
report(double secs, double cpu)
{
	uint64_t	total = cnt.ok + cnt.http_err;
	double		rps = secs > 0 ? (double)total / secs : 0;

	if (!o.quiet) {
		printf("%s %s, %u connection%s%s%s: %.2f s\n", o.method, o.path,
		    o.conns, o.conns == 1 ? "" : "s",
		    o.newconn ? ", new connection per request" : ", keep-alive",
		    o.rate > 0 ? ", open loop" : "", secs);
		printf("  requests %" PRIu64 " (2xx %" PRIu64 ", other status %"
		    PRIu64 "), transport errors %" PRIu64 "\n", total, cnt.ok,
		    cnt.http_err, cnt.transport_err);
		printf("  throughput %.0f req/s, connections made %" PRIu64
		    "\n", rps, cnt.conns_made);
		printf("  latency us: p50 %.1f p90 %.1f p99 %.1f p99.9 %.1f "
		    "max %.1f mean %.1f\n",
		    hist_quantile(&cnt.h, 0.5) / 1e3,
		    hist_quantile(&cnt.h, 0.9) / 1e3,
		    hist_quantile(&cnt.h, 0.99) / 1e3,
		    hist_quantile(&cnt.h, 0.999) / 1e3, cnt.h.max / 1e3,
		    cnt.h.count ? (double)cnt.h.sum / cnt.h.count / 1e3 : 0);
		printf("  loadgen CPU %.0f%% of one core%s\n", cpu * 100,
		    cpu > 0.9 ? " (saturated: the numbers measure the load "
		    "generator)" : "");
	}
	printf("result requests=%" PRIu64 " ok=%" PRIu64 " http_errors=%"
	    PRIu64 " transport_errors=%" PRIu64 " seconds=%.3f rps=%.1f "
	    "p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f "
	    "mean_us=%.1f cpu=%.3f connections=%" PRIu64 " last_bad_status=%d"
	    " resumed=%" PRIu64 "\n",
	    total, cnt.ok, cnt.http_err, cnt.transport_err, secs, rps,
	    hist_quantile(&cnt.h, 0.5) / 1e3, hist_quantile(&cnt.h, 0.9) / 1e3,
	    hist_quantile(&cnt.h, 0.99) / 1e3,
	    hist_quantile(&cnt.h, 0.999) / 1e3, cnt.h.max / 1e3,
	    cnt.h.count ? (double)cnt.h.sum / cnt.h.count / 1e3 : 0, cpu,
	    cnt.conns_made, cnt.last_bad, cnt.resumed);
	fflush(stdout);
}

static int
wait_events(struct epoll_event *evs, uint64_t deadline)
{
	struct timespec	ts;
	uint64_t	now = now_ns(), d;
	int		n;

	d = deadline > now ? deadline - now : 0;
	if (d > SCAN_NS)
		d = SCAN_NS;
	ts.tv_sec = (time_t)(d / 1000000000ull);
	ts.tv_nsec = (long)(d % 1000000000ull);
	/* Microsecond wake-ups: epoll_wait's milliseconds would add up to
	 * 1 ms of lateness to every scheduled request. */
	n = epoll_pwait2(ep, evs, MAX_EVENTS, &ts, NULL);
	if (n == -1 && errno == ENOSYS)
		n = epoll_wait(ep, evs, MAX_EVENTS, (int)(d / 1000000));
	if (n == -1 && errno != EINTR)
		err(1, "epoll_wait");
	return n < 0 ? 0 : n;
}

/* --idle: hold connections until told to stop. */
static int
run_idle(int sfd)
{
	struct epoll_event	 evs[MAX_EVENTS], ev;
	bool			 announced = false;
	uint64_t		 now, last_scan = 0;
	int			 n, i;

	ev.events = EPOLLIN;
	ev.data.ptr = &sfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &ev) == -1)
		err(1, "epoll_ctl");
	measuring = true;
	for (;;) {
		now = now_ns();
		while (opening < OPEN_BUDGET && idle_next < o.idle) {
			opening++;
			conn_open(&conns[idle_next++], now);
			conn_drive(&conns[idle_next - 1]);
		}
		if (!announced && idle_next == o.idle && opening == 0) {
			announced = true;
			ev.events = EPOLLIN;
			ev.data.ptr = &ep;	/* stdin */
			if (epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev) == -1 &&
			    errno != EPERM)
				err(1, "epoll_ctl stdin");
			printf("idle %u ready held=%u failed=%u\n", o.idle,
			    idle_held, idle_failed);
			fflush(stdout);
		}
		n = wait_events(evs, now + SCAN_NS);
		for (i = 0; i < n; i++) {
			if (evs[i].data.ptr == &sfd)
				goto out;
			if (evs[i].data.ptr == &ep) {
				char b[256];

				if (read(0, b, sizeof(b)) <= 0)
					goto out;
				continue;
			}
			conn_drive(evs[i].data.ptr);
		}
		now = now_ns();
		if (now - last_scan >= SCAN_NS) {
			last_scan = now;
			sweep(now);
		}
	}
out:
	printf("idle %u closed held=%u failed=%u dropped_by_server=%u\n",
	    o.idle, idle_held, idle_failed, idle_dropped);
	fflush(stdout);
	return idle_failed > 0 || idle_dropped > 0;
}

int
main(int argc, char **argv)
{
	struct epoll_event	 evs[MAX_EVENTS];
	sigset_t		 ss;
	uint64_t		 t_start, t_end = 0, now, last_scan = 0, dl, made;
	double			 cpu0 = 0, secs;
	unsigned int		 i;
	int			 n, j, sfd;

	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	if (sigprocmask(SIG_BLOCK, &ss, NULL) == -1 ||
	    (sfd = signalfd(-1, &ss, SFD_CLOEXEC)) == -1)
		err(1, "signalfd");
	raise_nofile(o.conns);
	setup_tls();
	if (o.decrypt)
		setup_decrypt();
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		err(1, "epoll_create1");
	nconns = o.conns;
	conns = xcalloc(nconns, sizeof(*conns));
	waiting = xcalloc(nconns, sizeof(*waiting));
	for (i = 0; i < nconns; i++) {
		conns[i].fd = -1;
		conns[i].req = xmalloc(REQ_MAX);
		conns[i].in = xmalloc(IN_MAX);
	}
	if (o.keys == 0)
		static_reqlen = format_request(static_req, sizeof(static_req),
		    o.path);
	hist_reset(&cnt.h);

	if (o.idle > 0)
		return run_idle(sfd);

	t_start = now_ns();
	measuring = o.warmup <= 0;
	if (measuring)
		cpu0 = cpu_seconds();
	interval_ns = o.rate > 0 ? (uint64_t)(1e9 / o.rate) : 0;
	sched_next = t_start;
	for (i = 0; i < nconns; i++) {
		conn_open(&conns[i], t_start);
		conn_drive(&conns[i]);
	}
	if (o.warmup > 0)
		t_start += (uint64_t)(o.warmup * 1e9);
	if (o.nreq == 0)
		t_end = t_start + (uint64_t)(o.seconds * 1e9);
	for (;;) {
		now = now_ns();
		if (!measuring && now >= t_start) {
			/* Warm-up over: count from here. */
			measuring = true;
			made = cnt.conns_made;
			memset(&cnt, 0, sizeof(cnt));
			/* Connections opened during the warm-up still count. */
			cnt.conns_made = made;
			cpu0 = cpu_seconds();
			if (o.rate > 0 && sched_next < now)
				sched_next = now;
		}
		if (t_end != 0 && now >= t_end)
			break;
		if (o.rate > 0)
			dispatch_due(now);
		dl = t_end != 0 ? t_end : now + SCAN_NS;
		if (!measuring && t_start < dl)
			dl = t_start;
		if (o.rate > 0 && nwaiting > 0 && sched_next < dl)
			dl = sched_next;
		n = wait_events(evs, dl);
		for (j = 0; j < n; j++)
			conn_drive(evs[j].data.ptr);
		now = now_ns();
		if (now - last_scan >= SCAN_NS) {
			last_scan = now;
			sweep(now);
		}
		if (o.nreq == 0 || cnt.ok + cnt.http_err < o.nreq)
			continue;
		t_end = now;
		break;
	}
	stopping = true;
	now = now_ns();
	if (t_end == 0 || now < t_end)
		t_end = now;
	secs = (double)(t_end - t_start) / 1e9;
	report(secs, secs > 0 ? (cpu_seconds() - cpu0) / secs : 0);
	return cnt.ok == 0;
}
