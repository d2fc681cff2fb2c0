/*
 * One request of a network store (net.h): its attempts, each a fresh
 * curl easy handle on the client's multi (the connections belong to the
 * multi, so a new handle reuses them), the waits between attempts, and
 * the one call of done(), always from the event loop (an ev_defer), so
 * that done() may free anything, its client included.
 */
#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/net.h"
#include "keystore-agent/net_int.h"

static void	net_req_deliver(struct ev_defer *);
static void	net_req_dns_late(struct ev_timer *);
static void	net_req_attempt_end(struct net_req *, enum net_fail, long,
		    const char *);

void
net_req_free(struct net_req *r)
{
	switch (r->state) {
	case REQ_RUNNING:
		if (r->easy != NULL) {
			(void)curl_multi_remove_handle(r->cl->multi, r->easy);
			curl_easy_cleanup(r->easy);
			r->easy = NULL;
		}
		break;
	case REQ_WAIT_DNS:
	case REQ_WAIT_RETRY:
		ev_timer_cancel(&r->timer);
		break;
	case REQ_DONE:
		ev_defer_cancel(&r->defer);
		break;
	case REQ_IN_DONE:
		break;
	}
	if (r->cl != NULL)
		TAILQ_REMOVE(&r->cl->reqs, r, entry);
	net_slist_free(r->headers);
	free(r->method);
	free(r->url);
	freezero(r->rbody, r->rcap);
	if (r->rhdrs != NULL)
		freezero(r->rhdrs, NET_HDRS_MAX + 1);
	free(r);
}

/* ---- curl's callbacks --------------------------------------------------- */

/* The answer, capped at NET_BODY_MAX and kept NUL-terminated. */
static size_t
net_req_write(char *p, size_t size, size_t n, void *arg)
{
	struct net_req	*r = arg;
	uint8_t		*nb;
	size_t		 cap;

	/* size is 1 by curl's contract; n <= CURL_MAX_WRITE_SIZE. */
	if (n > NET_BODY_MAX - r->rlen) {
		r->too_large = true;
		return 0;
	}
	if (r->rlen + n + 1 > r->rcap) {
		cap = r->rcap == 0 ? 4096 : r->rcap;
		while (cap < r->rlen + n + 1)
			cap *= 2;
		if (cap > NET_BODY_MAX + 1)
			cap = NET_BODY_MAX + 1;
		/* Not realloc: the old copy may hold a key; wipe it. */
		nb = xmalloc(cap);
		if (r->rlen > 0)
			memcpy(nb, r->rbody, r->rlen);
		freezero(r->rbody, r->rcap);
		r->rbody = nb;
		r->rcap = cap;
	}
	memcpy(r->rbody + r->rlen, p, n);
	r->rlen += n;
	r->rbody[r->rlen] = '\0';
	return n;
}

/*
 * One header line of the answer ("Name: value\r\n"), kept without its
 * line end and trailing blanks, NUL-terminated (the buffer's zeros end
 * the list), up to NET_HDRS_MAX bytes in all. A status
 * line starts the headers of another answer (a redirect's, or after a
 * 100 Continue): the lines before go.
 */
static size_t
net_req_header(char *p, size_t size, size_t n, void *arg)
{
	struct net_req	*r = arg;
	size_t		 len = n;

	if (r->rhdrs == NULL)
		r->rhdrs = xcalloc(1, NET_HDRS_MAX + 1);
	if (n >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		explicit_bzero(r->rhdrs, r->hlen);
		r->hlen = 0;
		return n;
	}
	while (len > 0 && (p[len - 1] == '\r' || p[len - 1] == '\n' ||
	    p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	/* Empty (the end), folded or too many: not kept. */
	if (len == 0 || p[0] == ' ' || p[0] == '\t' ||
	    memchr(p, '\0', len) != NULL || len + 1 > NET_HDRS_MAX - r->hlen)
		return n;
	memcpy(r->rhdrs + r->hlen, p, len);
	r->hlen += len;
	r->rhdrs[r->hlen++] = '\0';
	return n;
}

const char *
net_resp_header(const struct net_resp *resp, const char *name)
{
	const char	*l, *v;
	size_t		 nl = strlen(name);

	if (resp->headers == NULL)
		return NULL;
	for (l = resp->headers; *l != '\0'; l += strlen(l) + 1) {
		if (strncasecmp(l, name, nl) != 0 || l[nl] != ':')
			continue;
		for (v = l + nl + 1; *v == ' ' || *v == '\t'; v++)
			;
		return v;
	}
	return NULL;
}

/*
 * curl is about to resolve a name it does not have in its DNS cache:
 * allow an IP literal (curl converts it in place, no thread), refuse
 * anything else. The configured host is always in the cache (the
 * helper's answer, CURLOPT_RESOLVE), so this refuses only a redirect to
 * another host name, which would start curl's resolver thread (killed
 * by the filter) and read /etc/hosts (refused by it).
 */
static int
net_req_guard(void *resolver_state, void *reserved, void *arg)
{
	struct net_req	*r = arg;
	struct in6_addr	 a;
	CURLU		*u;
	char		*url = NULL, *host = NULL;
	size_t		 n;
	int		 ok = 0;

	if (curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url) ==
	    CURLE_OK && url != NULL && (u = curl_url()) != NULL) {
		if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
			n = strlen(host);
			if (host[0] == '[' && n > 2) {
				host[n - 1] = '\0';
				ok = inet_pton(AF_INET6, host + 1, &a) == 1;
			} else
				ok = inet_pton(AF_INET, host, &a) == 1;
		}
		curl_free(host);
		curl_url_cleanup(u);
	}
	if (ok)
		return 0;
	r->refused_host = true;
	return 1;
}

/* ---- attempts ------------------------------------------------------- */

static int
net_req_setup(struct net_req *r, CURL *e)
{
	struct net_client	*cl = r->cl;
	bool			 with_body;
	int			 bad = 0;

#define SET(opt, val)	(bad |= curl_easy_setopt(e, opt, val) != CURLE_OK)
	SET(CURLOPT_URL, r->url);
	SET(CURLOPT_PRIVATE, r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	/* Nothing from the environment: no proxy, no .netrc. */
	SET(CURLOPT_PROXY, "");
	SET(CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	SET(CURLOPT_PROTOCOLS_STR, cl->allow_http ? "http,https" : "https");
	/*
	 * One redirect (301, 302, 307, 308; curl follows 303 too), https
	 * only, method and body kept. Its host must be the configured one
	 * (in curl's DNS cache) or an IP literal: see net_req_guard.
	 */
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, 1L);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_POSTREDIR, (long)CURL_REDIR_POST_ALL);
	SET(CURLOPT_RESOLVER_START_FUNCTION, net_req_guard);
	SET(CURLOPT_RESOLVER_START_DATA, r);
	if (cl->resolve != NULL)
		SET(CURLOPT_RESOLVE, cl->resolve);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	SET(CURLOPT_TCP_KEEPALIVE, 0L);
	SET(CURLOPT_TCP_NODELAY, 1L);

	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	/* Only the blob: no file or directory is looked at under the
	 * filter (a default CA path is searched on a verification miss). */
	SET(CURLOPT_CAINFO, NULL);
	SET(CURLOPT_CAPATH, NULL);
	if (cl->ca.data != NULL)
		SET(CURLOPT_CAINFO_BLOB, &cl->ca);
	if (cl->cert.data != NULL) {
		SET(CURLOPT_SSLCERT_BLOB, &cl->cert);
		SET(CURLOPT_SSLCERTTYPE, "PEM");
		SET(CURLOPT_SSLKEY_BLOB, &cl->key);
		SET(CURLOPT_SSLKEYTYPE, "PEM");
	}

	if (r->pol.timeout_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, (long)r->pol.timeout_ms);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)NET_BODY_MAX);
	SET(CURLOPT_WRITEFUNCTION, net_req_write);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_HEADERFUNCTION, net_req_header);
	SET(CURLOPT_HEADERDATA, r);
	SET(CURLOPT_HTTPHEADER, r->headers);

	with_body = r->body != NULL || strcmp(r->method, "POST") == 0 ||
	    strcmp(r->method, "PUT") == 0 || strcmp(r->method, "PATCH") == 0;
	if (strcmp(r->method, "GET") == 0 && !with_body)
		SET(CURLOPT_HTTPGET, 1L);
	else if (strcmp(r->method, "HEAD") == 0 && !with_body)
		SET(CURLOPT_NOBODY, 1L);
	else {
		if (with_body) {
			SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
			SET(CURLOPT_POSTFIELDS, r->body != NULL ?
			    (const char *)r->body : "");
		}
		if (strcmp(r->method, "POST") != 0 || !with_body)
			SET(CURLOPT_CUSTOMREQUEST, r->method);
	}
#undef SET
	return bad ? -1 : 0;
}

/* An attempt now, or a wait for the client's first addresses. */
void
net_req_start(struct net_req *r)
{
	struct net_client	*cl = r->cl;
	CURL			*e;

	if (r->bad != NULL) {
		net_req_attempt_end(r, NET_IO, 0, r->bad);
		return;
	}
	if (!cl->literal) {
		if (cl->resolve == NULL) {
			r->state = REQ_WAIT_DNS;
			net_resolve(cl);
			if (r->pol.timeout_ms > 0)
				ev_timer_set(&r->timer, r->pol.timeout_ms,
				    net_req_dns_late, r);
			return;
		}
		/* Refreshed in the background; these addresses serve on. */
		if (ev_now() - cl->resolved_at >= NET_RESOLVE_MS)
			net_resolve(cl);
	}
	r->errbuf[0] = '\0';
	r->too_large = false;
	r->refused_host = false;
	if ((e = curl_easy_init()) == NULL)
		fatalx("net: out of memory");
	r->easy = e;
	r->state = REQ_RUNNING;
	if (net_req_setup(r, e) == -1) {
		r->easy = NULL;
		curl_easy_cleanup(e);
		net_req_attempt_end(r, NET_IO, 0,
		    "libcurl refused an option (built without a feature?)");
		return;
	}
	/* Starts nothing now: curl asks for a 0 ms timer. */
	if (curl_multi_add_handle(cl->multi, e) != CURLM_OK) {
		r->easy = NULL;
		curl_easy_cleanup(e);
		net_req_attempt_end(r, NET_IO, 0, "curl_multi_add_handle");
	}
}

/* No address for the client: the helper could not resolve its name. */
void
net_req_no_dns(struct net_req *r, const char *detail)
{
	net_req_attempt_end(r, NET_DNS, 0, detail);
}

/* The attempt's deadline passed while the helper was still resolving. */
static void
net_req_dns_late(struct ev_timer *t)
{
	struct net_req *r = t->arg;

	net_req_attempt_end(r, NET_TIMEOUT, 0, "no address for the host "
	    "within the attempt's deadline");
}

static void
net_req_retry(struct ev_timer *t)
{
	net_req_start(t->arg);
}

static unsigned int
net_req_wait(const struct net_policy *p, unsigned int i)
{
	unsigned int span = 0;

	if (p->wait_max_ms > p->wait_min_ms)
		span = arc4random_uniform(p->wait_max_ms - p->wait_min_ms);
	if (p->wait == NET_WAIT_CONSTANT)
		return p->wait_min_ms + span;
	return i * (p->wait_min_ms + span);
}

/* The end of one attempt: another one, or done() next turn. */
static void
net_req_attempt_end(struct net_req *r, enum net_fail fail, long status,
    const char *detail)
{
	struct net_client	*cl = r->cl;
	unsigned int		 wait;
	bool			 retry;

	r->state = REQ_DONE;		/* until decided otherwise */
	r->resp.fail = fail;
	r->resp.status = fail == NET_OK ? status : 0;
	r->resp.body = r->rbody != NULL ? r->rbody : (const uint8_t *)"";
	r->resp.len = r->rlen;
	r->resp.headers = fail == NET_OK && r->rhdrs != NULL ? r->rhdrs : "";
	r->resp.content_type = net_resp_header(&r->resp, "Content-Type");
	snprintf(r->detail, sizeof(r->detail), "%s",
	    fail == NET_OK ? "" : detail);
	r->resp.detail = r->detail;
	r->resp.attempts++;
	r->resp.elapsed_ms = ev_now() - r->start;

	/* A name that stopped answering may have moved. */
	if (fail == NET_REFUSED || fail == NET_TIMEOUT ||
	    (fail == NET_DNS && cl->resolve != NULL && !r->refused_host))
		net_resolve(cl);

	/* No retry can fix a certificate or shrink an answer. */
	retry = fail != NET_TLS_VERIFY && fail != NET_TOO_LARGE &&
	    r->resp.attempts < r->pol.attempts && r->pol.retry != NULL &&
	    r->pol.retry(&r->resp);
	if (retry) {
		log_debug("net: %s %s: attempt %u: %s%s%ld, again", r->method,
		    r->url, r->resp.attempts, r->detail,
		    fail == NET_OK ? "status " : " ", r->resp.status);
		/* The next attempt's answer starts empty. */
		if (r->rbody != NULL)
			explicit_bzero(r->rbody, r->rcap);
		r->rlen = 0;
		if (r->rhdrs != NULL)
			explicit_bzero(r->rhdrs, NET_HDRS_MAX + 1);
		r->hlen = 0;
		r->state = REQ_WAIT_RETRY;
		wait = net_req_wait(&r->pol, r->resp.attempts);
		ev_timer_set(&r->timer, wait, net_req_retry, r);
		return;
	}
	ev_defer(&r->defer);
}

static enum net_fail
net_req_fail(struct net_req *r, CURLcode rc)
{
	switch (rc) {
	case CURLE_OK:
		return NET_OK;
	case CURLE_COULDNT_CONNECT:
		return NET_REFUSED;
	case CURLE_OPERATION_TIMEDOUT:
		return NET_TIMEOUT;
	case CURLE_PEER_FAILED_VERIFICATION:
		return NET_TLS_VERIFY;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
		return NET_TLS;
	case CURLE_COULDNT_RESOLVE_HOST:
		return NET_DNS;
	case CURLE_FILESIZE_EXCEEDED:
		return NET_TOO_LARGE;
	case CURLE_WRITE_ERROR:
		return r->too_large ? NET_TOO_LARGE : NET_IO;
	default:
		return NET_IO;
	}
}

/* curl finished the attempt (net.c saw its CURLMSG_DONE). */
void
net_req_finished(struct net_req *r, CURLcode rc)
{
	struct net_client	*cl = r->cl;
	enum net_fail		 fail = net_req_fail(r, rc);
	long			 status = 0, conns = 0;
	char			 detail[sizeof(r->detail)];

	(void)curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
	if (curl_easy_getinfo(r->easy, CURLINFO_NUM_CONNECTS, &conns) ==
	    CURLE_OK && conns > 0)
		cl->connects += (uint64_t)conns;
	if (fail == NET_TOO_LARGE)
		snprintf(detail, sizeof(detail), "%s: the answer is larger "
		    "than %u bytes", cl->origin, NET_BODY_MAX);
	else if (r->refused_host)
		snprintf(detail, sizeof(detail), "%s: refused a redirect to "
		    "another host name (only %s or an IP address)",
		    cl->origin, cl->host);
	else if (fail != NET_OK)
		snprintf(detail, sizeof(detail), "%s: %s", cl->origin,
		    r->errbuf[0] != '\0' ? r->errbuf :
		    curl_easy_strerror(rc));
	else
		detail[0] = '\0';
	(void)curl_multi_remove_handle(cl->multi, r->easy);
	curl_easy_cleanup(r->easy);
	r->easy = NULL;
	net_req_attempt_end(r, fail, status, detail);
}

static void
net_req_deliver(struct ev_defer *d)
{
	struct net_req *r = d->arg;

	r->state = REQ_IN_DONE;
	r->done(r, &r->resp, r->arg);
	net_req_free(r);
}

/* ---- the interface -------------------------------------------------- */

/* An HTTP token (RFC 9110 tchar), as methods are. */
static bool
net_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) &&
		    strchr("!#$%&'*+-.^_`|~", *s) == NULL)
			return false;
	return true;
}

/* No byte that would end a request line or a header line early. */
static bool
net_printable(const char *s, bool space)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f ||
		    (!space && *s == ' '))
			return false;
	return true;
}

struct net_req *
net_request(struct net_client *cl, const char *method, const char *path,
    const char *const *headers, const uint8_t *body, size_t len,
    const struct net_policy *pol, net_done_cb done, void *arg)
{
	struct net_req	*r;
	bool		 ctype = false;
	size_t		 i;

	r = xcalloc(1, sizeof(*r));
	r->cl = cl;
	r->method = xstrdup(method);
	r->body = body;
	r->len = body != NULL ? len : 0;
	r->pol = *pol;
	if (r->pol.attempts == 0)
		r->pol.attempts = 1;
	r->done = done;
	r->arg = arg;
	r->start = ev_now();
	ev_defer_init(&r->defer, net_req_deliver, r);
	xasprintf(&r->url, "%s%s%s", cl->origin, cl->prefix, path);
	if (!net_token(method))
		r->bad = "not an HTTP method";
	else if (path[0] != '/' || !net_printable(path, false))
		r->bad = "a path must start with '/' and hold no space or "
		    "control character";
	for (i = 0; headers != NULL && headers[i] != NULL; i++) {
		if (!net_printable(headers[i], true) ||
		    strchr(headers[i], ':') == NULL)
			r->bad = "a header must be \"Name: value\" on one line";
		if (strncasecmp(headers[i], "Content-Type:", 13) == 0)
			ctype = true;
		if ((r->headers = curl_slist_append(r->headers,
		    headers[i])) == NULL)
			fatalx("net: out of memory");
	}
	/*
	 * No "Expect: 100-continue" (a second round trip, or a 1 s wait,
	 * for a large body), and no form Content-Type that curl would add
	 * to a body the store did not type.
	 */
	if ((r->headers = curl_slist_append(r->headers, "Expect:")) == NULL ||
	    (!ctype && (r->headers = curl_slist_append(r->headers,
	    "Content-Type:")) == NULL))
		fatalx("net: out of memory");
	TAILQ_INSERT_TAIL(&cl->reqs, r, entry);
	net_req_start(r);
	return r;
}

void
net_cancel(struct net_req *r)
{
	/* Inside its own done(): it is freed when done() returns. */
	if (r == NULL || r->state == REQ_IN_DONE)
		return;
	net_req_free(r);
}
