/*
 * The HTTPS client of the network stores (net.h): one curl multi handle
 * per client on the agent's event loop, its TLS material, and the
 * addresses the helper resolves for it. A request's own life (attempts,
 * retries, completion) is in net_req.c.
 *
 * curl's multi drives everything through two callbacks: the sockets it
 * wants watched (ev_add / ev_mod / ev_del) and the one timer it wants
 * (ev_timer). Whenever either fires, curl_multi_socket_action() runs and
 * the transfers it finished are read with curl_multi_info_read(). The
 * multi keeps finished connections alive for the next request of the
 * same client (HTTP/1.1 keep-alive, or one HTTP/2 connection for all).
 *
 * curl never resolves a name itself: its threaded resolver would start a
 * thread (clone), which the agent's filter kills, and it would read
 * /etc/hosts and /etc/resolv.conf, which the agent cannot open. The
 * helper's answer goes into curl's DNS cache (CURLOPT_RESOLVE), and a
 * resolver guard (net_req.c) refuses any name that is not there and not
 * an IP literal.
 */
#include <sys/epoll.h>
#include <sys/stat.h>

#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/net.h"
#include "keystore-agent/net_int.h"

/* The system's trust store when a store names no CA (Debian's path). */
#define NET_SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"
#define NET_CA_MAX	(8u << 20)
#define NET_PEM_MAX	(1u << 20)
/* After a failed refresh the old addresses serve this much longer. */
#define NET_RESOLVE_RETRY_MS	5000

/*
 * Added to the agent's filter by a network store; found by running the
 * tests under the filter with KEYWARD_SANDBOX_DEBUG=1 and strace -f.
 * TCP to the store and nothing else: no AF_UNIX, no AF_NETLINK (names
 * are the helper's), no threads, no files.
 */
const struct sb_rule net_rules[] = {
	ALLOW_EQ(socket, 0, AF_INET),
	ALLOW_EQ(socket, 0, AF_INET6),
	ALLOW(connect),
	ALLOW(setsockopt),
	ALLOW(getsockopt),
	ALLOW(getsockname),
	ALLOW(getpeername),
	ALLOW(sendto),
	ALLOW(recvfrom),
	ALLOW(shutdown),
};
const size_t net_nrules = sizeof(net_rules) / sizeof(net_rules[0]);

int
net_global_init(char *err, size_t errlen)
{
	static bool			 done;
	const curl_version_info_data	*v;
	CURLcode			 rc;

	if (done)
		return 0;
	if ((rc = curl_global_init(CURL_GLOBAL_DEFAULT)) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init: %s",
		    curl_easy_strerror(rc));
		return -1;
	}
	v = curl_version_info(CURLVERSION_NOW);
	/* CURLOPT_PROTOCOLS_STR came with 7.85; the TLS blobs need
	 * OpenSSL (the agent reads no CA file under its filter). */
	if (v->version_num < 0x075500) {
		snprintf(err, errlen, "libcurl %s is too old (7.85 or later)",
		    v->version);
		return -1;
	}
	if (v->ssl_version == NULL ||
	    strncmp(v->ssl_version, "OpenSSL", 7) != 0) {
		snprintf(err, errlen, "libcurl uses %s, not OpenSSL",
		    v->ssl_version != NULL ? v->ssl_version : "no TLS");
		return -1;
	}
	done = true;
	return 0;
}

void
net_slist_free(struct curl_slist *l)
{
	struct curl_slist *s;

	for (s = l; s != NULL; s = s->next)
		explicit_bzero(s->data, strlen(s->data));
	curl_slist_free_all(l);
}

/* ---- the event loop's side of curl ------------------------------------ */

/* Every transfer curl finished since the last look. */
void
net_kick(struct net_client *cl)
{
	struct net_req	*r;
	CURLMsg		*m;
	CURLcode	 rc;
	CURL		*e;
	int		 left;

	while ((m = curl_multi_info_read(cl->multi, &left)) != NULL) {
		if (m->msg != CURLMSG_DONE)
			continue;
		/* m is gone once its handle leaves the multi: copy. */
		e = m->easy_handle;
		rc = m->data.result;
		r = NULL;
		if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&r) !=
		    CURLE_OK || r == NULL)
			fatalx("net: a transfer without its request");
		net_req_finished(r, rc);
	}
}

static void
net_io(struct ev_io *io, uint32_t events)
{
	struct net_sock		*ns = io->arg;
	struct net_client	*cl = ns->cl;
	int			 flags = 0, fd = io->fd;

	if (events & EPOLLIN)
		flags |= CURL_CSELECT_IN;
	if (events & EPOLLOUT)
		flags |= CURL_CSELECT_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		flags |= CURL_CSELECT_ERR;
	/* ns may be freed inside (CURL_POLL_REMOVE); cl is not. */
	(void)curl_multi_socket_action(cl->multi, fd, flags, &cl->running);
	net_kick(cl);
}

static int
net_socket_cb(CURL *e, curl_socket_t s, int what, void *userp,
    void *socketp)
{
	struct net_client	*cl = userp;
	struct net_sock		*ns = socketp;
	uint32_t		 events = 0;

	if (what == CURL_POLL_REMOVE) {
		if (ns != NULL) {
			ev_del(&ns->io);
			LIST_REMOVE(ns, entry);
			free(ns);
			(void)curl_multi_assign(cl->multi, s, NULL);
		}
		return 0;
	}
	if (what & CURL_POLL_IN)
		events |= EPOLLIN;
	if (what & CURL_POLL_OUT)
		events |= EPOLLOUT;
	if (ns == NULL) {
		ns = xcalloc(1, sizeof(*ns));
		ns->cl = cl;
		if (ev_add(&ns->io, s, events, net_io, ns) == -1) {
			/* The transfer then ends at its deadline. */
			log_warn("net: epoll_ctl(ADD, %d)", s);
			free(ns);
			return 0;
		}
		LIST_INSERT_HEAD(&cl->socks, ns, entry);
		(void)curl_multi_assign(cl->multi, s, ns);
	} else if (ev_mod(&ns->io, events) == -1)
		log_warn("net: epoll_ctl(MOD, %d)", s);
	return 0;
}

static void
net_timer(struct ev_timer *t)
{
	struct net_client *cl = t->arg;

	(void)curl_multi_socket_action(cl->multi, CURL_SOCKET_TIMEOUT, 0,
	    &cl->running);
	net_kick(cl);
}

/* curl asks for its timer: ms from now, or -1 for none. */
static int
net_timer_cb(CURLM *m, long ms, void *userp)
{
	struct net_client *cl = userp;

	if (ms < 0)
		ev_timer_cancel(&cl->timer);
	else
		ev_timer_set(&cl->timer, (uint64_t)ms, net_timer, cl);
	return 0;
}

/* ---- addresses -------------------------------------------------------- */

static void
net_resolved(int err, const char *addrs, const char *detail, void *arg)
{
	struct net_resolving	*rs = arg;
	struct net_client	*cl = rs->cl;
	struct net_req		*r, *next;
	struct curl_slist	*l;
	char			*entry;

	free(rs);
	if (cl == NULL)
		return;			/* freed meanwhile */
	cl->resolving = NULL;
	if (err == 0) {
		/* One entry replaces curl's earlier one for host:port. */
		xasprintf(&entry, "%s:%u:%s", cl->host, cl->port, addrs);
		if ((l = curl_slist_append(NULL, entry)) == NULL)
			fatalx("net: out of memory");
		free(entry);
		curl_slist_free_all(cl->resolve);
		cl->resolve = l;
		cl->resolved_at = ev_now();
		cl->dns_detail[0] = '\0';
		log_debug("net: %s is %s", cl->host, addrs);
	} else {
		snprintf(cl->dns_detail, sizeof(cl->dns_detail),
		    "cannot resolve %s: %s", cl->host, detail);
		log_warnx("net: %s%s", cl->dns_detail, cl->resolve != NULL ?
		    "; the addresses found before are used meanwhile" : "");
		if (cl->resolve != NULL)
			cl->resolved_at = ev_now() - NET_RESOLVE_MS +
			    NET_RESOLVE_RETRY_MS;
	}
	/* Starting or failing a request frees none (done is deferred). */
	for (r = TAILQ_FIRST(&cl->reqs); r != NULL; r = next) {
		next = TAILQ_NEXT(r, entry);
		if (r->state != REQ_WAIT_DNS)
			continue;
		ev_timer_cancel(&r->timer);
		if (cl->resolve != NULL)
			net_req_start(r);
		else
			net_req_no_dns(r, cl->dns_detail);
	}
}

void
net_resolve(struct net_client *cl)
{
	if (cl->literal || cl->resolving != NULL)
		return;
	cl->resolving = xcalloc(1, sizeof(*cl->resolving));
	cl->resolving->cl = cl;
	cl->resolutions++;
	helper_resolve(cl->host, cl->port, net_resolved, cl->resolving);
}

/* ---- clients ---------------------------------------------------------- */

static int
net_blob(struct curl_blob *b, const uint8_t *p, size_t len, size_t max,
    const char *what, char *err, size_t errlen)
{
	b->data = NULL;
	b->len = 0;
	b->flags = CURL_BLOB_NOCOPY;
	if (p == NULL)
		return 0;
	if (len == 0 || len > max) {
		snprintf(err, errlen, "the TLS %s is empty or too large",
		    what);
		return -1;
	}
	b->data = xmemdup(p, len);
	b->len = len;
	return 0;
}

/* Read before the filter, which forbids open. */
static int
net_system_ca(struct curl_blob *b, char *err, size_t errlen)
{
	struct stat	 st;
	uint8_t		*p;
	size_t		 off = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(NET_SYSTEM_CA, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1) {
		snprintf(err, errlen, "no CA given and %s: %s", NET_SYSTEM_CA,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > NET_CA_MAX) {
		snprintf(err, errlen, "%s: empty or larger than %u bytes",
		    NET_SYSTEM_CA, NET_CA_MAX);
		close(fd);
		return -1;
	}
	p = xmalloc((size_t)st.st_size);
	while (off < (size_t)st.st_size) {
		n = read(fd, p + off, (size_t)st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	if (off == 0) {
		snprintf(err, errlen, "%s: cannot read it", NET_SYSTEM_CA);
		free(p);
		return -1;
	}
	b->data = p;
	b->len = off;
	b->flags = CURL_BLOB_NOCOPY;
	return 0;
}

static bool
net_is_literal(const char *host)
{
	struct in6_addr a;

	return inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1;
}

/* scheme://host[:port][/prefix], nothing else. */
static int
net_parse_base(struct net_client *cl, const char *base, char *err,
    size_t errlen)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL, *path = NULL,
		*x = NULL;
	size_t	 n;
	int	 rc = -1;

	if ((u = curl_url()) == NULL)
		fatalx("net: out of memory");
	if (curl_url_set(u, CURLUPART_URL, base, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		snprintf(err, errlen, "not a URL: %s", base);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_USER, &x, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_QUERY, &x, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &x, 0) == CURLUE_OK) {
		snprintf(err, errlen, "a user, query or fragment in %s", base);
		goto out;
	}
	if (strcmp(scheme, "https") != 0 &&
	    !(cl->allow_http && strcmp(scheme, "http") == 0)) {
		snprintf(err, errlen, "%s: only https is allowed", base);
		goto out;
	}
	xasprintf(&cl->origin, "%s://%s:%s", scheme, host, port);
	n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	cl->prefix = xstrndup(path, n);
	n = strlen(host);
	if (host[0] == '[' && n > 2)
		cl->host = xstrndup(host + 1, n - 2);
	else
		cl->host = xstrdup(host);
	cl->port = (unsigned int)strtoul(port, NULL, 10);
	cl->literal = net_is_literal(cl->host);
	rc = 0;
 out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(x);
	curl_url_cleanup(u);
	return rc;
}

struct net_client *
net_client_new(const char *base_url, const struct net_tls *tls,
    bool allow_http, char *err, size_t errlen)
{
	static const struct net_tls	 none;
	struct net_client		*cl;

	if (tls == NULL)
		tls = &none;
	cl = xcalloc(1, sizeof(*cl));
	TAILQ_INIT(&cl->reqs);
	LIST_INIT(&cl->socks);
	cl->allow_http = allow_http;
	if (net_parse_base(cl, base_url, err, errlen) == -1)
		goto fail;
	if ((tls->cert == NULL) != (tls->key == NULL)) {
		snprintf(err, errlen, "a client certificate needs its key, "
		    "and a key its certificate");
		goto fail;
	}
	if (net_blob(&cl->ca, tls->ca, tls->ca_len, NET_CA_MAX, "CA", err,
	    errlen) == -1 ||
	    net_blob(&cl->cert, tls->cert, tls->cert_len, NET_PEM_MAX,
	    "certificate", err, errlen) == -1 ||
	    net_blob(&cl->key, tls->key, tls->key_len, NET_PEM_MAX, "key",
	    err, errlen) == -1)
		goto fail;
	if (tls->ca == NULL && strncmp(cl->origin, "https:", 6) == 0 &&
	    net_system_ca(&cl->ca, err, errlen) == -1)
		goto fail;
	if ((cl->multi = curl_multi_init()) == NULL)
		fatalx("net: out of memory");
	if (curl_multi_setopt(cl->multi, CURLMOPT_SOCKETFUNCTION,
	    net_socket_cb) != CURLM_OK ||
	    curl_multi_setopt(cl->multi, CURLMOPT_SOCKETDATA, cl) !=
	    CURLM_OK ||
	    curl_multi_setopt(cl->multi, CURLMOPT_TIMERFUNCTION,
	    net_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(cl->multi, CURLMOPT_TIMERDATA, cl) !=
	    CURLM_OK ||
	    curl_multi_setopt(cl->multi, CURLMOPT_PIPELINING,
	    CURLPIPE_MULTIPLEX) != CURLM_OK) {
		snprintf(err, errlen, "curl_multi_setopt failed");
		goto fail;
	}
	/* Answered later; requests made meanwhile wait for it. */
	net_resolve(cl);
	return cl;
 fail:
	net_client_free(cl);
	return NULL;
}

void
net_client_free(struct net_client *cl)
{
	struct net_sock	*ns;
	struct net_req	*r;

	if (cl == NULL)
		return;
	if (cl->resolving != NULL)
		cl->resolving->cl = NULL;
	while ((r = TAILQ_FIRST(&cl->reqs)) != NULL) {
		if (r->state == REQ_IN_DONE) {
			/* Its done() is running: freed when it returns. */
			TAILQ_REMOVE(&cl->reqs, r, entry);
			r->cl = NULL;
		} else
			net_req_free(r);
	}
	if (cl->multi != NULL)
		curl_multi_cleanup(cl->multi);
	ev_timer_cancel(&cl->timer);
	/* Sockets curl closed without telling (not in every version). */
	while ((ns = LIST_FIRST(&cl->socks)) != NULL) {
		ev_del(&ns->io);
		LIST_REMOVE(ns, entry);
		free(ns);
	}
	curl_slist_free_all(cl->resolve);
	free(cl->origin);
	free(cl->prefix);
	free(cl->host);
	free(cl->ca.data);
	free(cl->cert.data);
	freezero(cl->key.data, cl->key.len);
	free(cl);
}

uint64_t
net_client_connections(const struct net_client *cl)
{
	return cl->connects;
}

uint64_t
net_client_resolutions(const struct net_client *cl)
{
	return cl->resolutions;
}
