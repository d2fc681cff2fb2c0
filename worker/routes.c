/*
 * Routes: the processing order of spec §1.4 (path canonicalisation and
 * ServeMux redirects, route lookup, method, body limit, authentication and
 * authorisation, handler) and the responses, byte-compatible with KES.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <malloc.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/xmalloc.h"
#include "worker/worker.h"

enum route_auth {
	AUTH_NONE,		/* N: no identity needed */
	AUTH_IDENTIFY,		/* I: any or no certificate, no policy */
	AUTH_VERIFY,		/* V: admin, or allowed by its policy */
};

struct route;
typedef void (*route_fn)(struct conn *, const struct route *,
    const char *resource);
typedef void (*reply_fn)(struct conn *, struct ipc_msg *);

struct route {
	const char	*path;		/* ends in '/' for a subtree */
	enum http_method method;	/* PUT also takes POST */
	size_t		 max_body;
	unsigned int	 timeout_s;
	enum route_auth	 auth;
	route_fn	 fn;
	reply_fn	 reply;
};

static void	route_version(struct conn *, const struct route *,
		    const char *);
static void	route_status(struct conn *, const struct route *,
		    const char *);
static void	reply_status(struct conn *, struct ipc_msg *);

static const struct route routes[] = {
	{ "/version",	HTTP_GET, 0, 10, AUTH_NONE,   route_version, NULL },
	{ "/v1/status",	HTTP_GET, 0, 15, AUTH_VERIFY, route_status,
	    reply_status },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

static struct {
	long	num_cpu;
	long	num_cpu_used;
	char	*stack_top;
} sysinfo;

/* Figures that need files or syscalls the sandbox forbids later. */
void
routes_init(char *stack_top)
{
	cpu_set_t set;

	sysinfo.num_cpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (sysinfo.num_cpu < 1)
		sysinfo.num_cpu = 1;
	sysinfo.num_cpu_used = sysinfo.num_cpu;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		sysinfo.num_cpu_used = CPU_COUNT(&set);
	sysinfo.stack_top = stack_top;
}

/* --- responses ---------------------------------------------------------- */

/* A JSON string the way Go's encoding/json writes it. */
static void
json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	char e[7];

	(void)buf_put_u8(b, '"');
	for (; *p; p++) {
		switch (*p) {
		case '"':  (void)buf_put(b, "\\\"", 2); continue;
		case '\\': (void)buf_put(b, "\\\\", 2); continue;
		case '\n': (void)buf_put(b, "\\n", 2); continue;
		case '\r': (void)buf_put(b, "\\r", 2); continue;
		case '\t': (void)buf_put(b, "\\t", 2); continue;
		}
		if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&') {
			snprintf(e, sizeof(e), "\\u00%c%c", hex[*p >> 4],
			    hex[*p & 0xf]);
			(void)buf_put(b, e, 6);
		} else
			(void)buf_put_u8(b, *p);
	}
	(void)buf_put_u8(b, '"');
}

static int
put_str(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}

/*
 * Status line, headers and body straight into c->out: no fixed-size head,
 * since a 301's Location echoes the request path (up to 8 KiB escaped
 * threefold).
 */
void
respond(struct conn *c, int status, const char *ctype, const char *extra,
    const void *body, size_t len)
{
	char		 line[160], date[64];
	struct tm	 tm;
	time_t		 now = time(NULL);
	size_t		 save = c->out.len;
	int		 n, bad;

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(line, sizeof(line), "HTTP/1.1 %d %s\r\n", status,
	    http_reason(status));
	bad = buf_put(&c->out, line, n);
	if (ctype != NULL)
		bad |= put_str(&c->out, "Content-Type: ") |
		    put_str(&c->out, ctype) | put_str(&c->out, "\r\n");
	n = snprintf(line, sizeof(line), "Content-Length: %zu\r\nDate: %s\r\n"
	    "%s", len, date, c->keep_alive ? "" : "Connection: close\r\n");
	bad |= buf_put(&c->out, line, n);
	if (extra != NULL)
		bad |= put_str(&c->out, extra);
	bad |= put_str(&c->out, "\r\n");
	if (!c->head_only)
		bad |= buf_put(&c->out, body, len);
	if (bad) {
		/* The output queue is full: nothing half-written goes out. */
		c->out.len = save;
		c->keep_alive = false;
		c->state = CONN_CLOSING;
		return;
	}
	c->state = c->keep_alive ? CONN_WRITE : CONN_CLOSING;
}

/* KES's error body: {"message":<json string>\n} (spec §2.1). */
static void
respond_error_hdr(struct conn *c, int status, const char *extra,
    const char *message)
{
	struct buf b;

	buf_init(&b, 64 + 6 * strlen(message));
	(void)buf_put(&b, "{\"message\":", 11);
	json_str(&b, message);
	(void)buf_put(&b, "\n}", 2);
	respond(c, status, "application/json", extra, buf_ptr(&b),
	    buf_avail(&b));
	buf_release(&b);
}

void
respond_error(struct conn *c, int status, const char *message)
{
	respond_error_hdr(c, status, NULL, message);
}

static void
respond_json(struct conn *c, int status, struct buf *b)
{
	(void)buf_put_u8(b, '\n');	/* Go's json.Encoder ends with \n */
	respond(c, status, "application/json", NULL, buf_ptr(b),
	    buf_avail(b));
}

/* Go ServeMux's 301: Location, and a small HTML body for GET/HEAD. */
static void
respond_redirect(struct conn *c, const char *path, const char *query,
    size_t qlen)
{
	char	*esc, *loc, *hdr, *body = NULL;
	size_t	 cap = 3 * strlen(path) + 1;
	int	 n = 0;

	esc = xmalloc(cap);
	if (http_escape_path(path, esc, cap) == -1) {
		free(esc);
		respond_error(c, 400, "Bad Request");
		return;
	}
	xasprintf(&loc, "%s%s%.*s", esc, query ? "?" : "", (int)qlen,
	    query ? query : "");
	xasprintf(&hdr, "Location: %s\r\n", loc);
	if (c->req.method == HTTP_GET || c->req.method == HTTP_HEAD)
		n = xasprintf(&body, "<a href=\"%s\">Moved Permanently</a>."
		    "\n\n", loc);
	respond(c, 301, "text/html; charset=utf-8", hdr, body ? body : "", n);
	free(body);
	free(hdr);
	free(loc);
	free(esc);
}

static void
respond_not_found(struct conn *c)
{
	static const char body[] = "404 page not found\n";

	respond(c, 404, "text/plain; charset=utf-8",
	    "X-Content-Type-Options: nosniff\r\n", body, sizeof(body) - 1);
}

/* --- routing ------------------------------------------------------------ */

static const struct api_route_cfg *
api_override(const struct route *r)
{
	size_t i;

	for (i = 0; i < w.cf.napi; i++)
		if (strcmp(w.cf.api[i].path, r->path) == 0)
			return &w.cf.api[i];
	return NULL;
}

/* The route's timeout in ms (an api: override wins); 0 for none. */
static uint64_t
route_timeout(const struct route *r)
{
	const struct api_route_cfg *o = api_override(r);

	if (o != NULL && o->timeout_ms > 0)
		return o->timeout_ms;
	return (uint64_t)r->timeout_s * 1000;
}

static enum route_auth
route_auth(const struct route *r)
{
	const struct api_route_cfg *o = api_override(r);

	if (o != NULL && o->skip_auth && r->auth == AUTH_VERIFY)
		return AUTH_IDENTIFY;
	return r->auth;
}

/* 1: found; 0: none; -1: a subtree root without its slash (301). */
static int
route_find(const char *path, const struct route **rp, const char **res)
{
	size_t i, n;

	for (i = 0; i < NROUTES; i++) {
		n = strlen(routes[i].path);
		if (routes[i].path[n - 1] != '/') {
			if (strcmp(path, routes[i].path) == 0) {
				*rp = &routes[i];
				*res = path + n;
				return 1;
			}
		} else if (strncmp(path, routes[i].path, n) == 0) {
			*rp = &routes[i];
			*res = path + n;
			return 1;
		} else if (strncmp(path, routes[i].path, n - 1) == 0 &&
		    path[n - 1] == '\0') {
			*rp = &routes[i];
			return -1;
		}
	}
	return 0;
}

static bool
method_ok(const struct route *r, enum http_method m)
{
	return m == r->method || (r->method == HTTP_PUT && m == HTTP_POST);
}

void
route_request(struct conn *c)
{
	const struct route	*r;
	const char		*query, *res = "";
	char			 clean[sizeof(c->path) + 2], *msg, *accept;
	size_t			 qlen;
	int			 n;

	n = http_split_target(c->req.target, c->req.target_len, c->path,
	    sizeof(c->path), &query, &qlen);
	if (n < 0) {
		c->keep_alive = false;
		respond_error(c, -n, http_reason(-n));
		return;
	}
	if (http_clean_path(c->path, clean, sizeof(clean))) {
		if (*clean == '\0')
			respond_error(c, 400, "Bad Request");
		else
			respond_redirect(c, clean, query, qlen);
		return;
	}
	switch (route_find(c->path, &r, &res)) {
	case 0:
		respond_not_found(c);
		return;
	case -1:
		snprintf(clean, sizeof(clean), "%s/", c->path);
		respond_redirect(c, clean, query, qlen);
		return;
	}

	/* Method before authentication, as KES does. */
	if (!method_ok(r, c->req.method)) {
		xasprintf(&msg, "received method '%.*s' expected '%s'",
		    (int)c->req.method_len, c->req.method_str,
		    http_method_name(r->method));
		xasprintf(&accept, "Accept: %s\r\n",
		    http_method_name(r->method));
		c->head_only = false;
		respond_error_hdr(c, 405, accept, msg);
		free(accept);
		free(msg);
		return;
	}
	if (buf_avail(&c->body) > r->max_body && r->max_body > 0) {
		respond_error(c, 400, "invalid request body");
		return;
	}

	switch (route_auth(r)) {
	case AUTH_VERIFY:
		if (c->ident_err != IDENT_OK) {
			respond_error(c, 400,
			    identity_err_message(c->ident_err));
			return;
		}
		if (!policy_allows(&w.cf.pol, c->identity, c->path)) {
			respond_error(c, 403,
			    "not authorized: insufficient permissions");
			return;
		}
		break;
	case AUTH_IDENTIFY:
	case AUTH_NONE:
		break;
	}
	/* Like KES's write deadline: a route that overruns loses the
	 * connection (the worker's sweep enforces it). */
	c->deadline = route_timeout(r) ? ev_now() + route_timeout(r) : 0;
	c->route = r;
	r->fn(c, r, res);
}

/* An answer from the crypto process for c's request. */
void
route_reply(struct conn *c, struct ipc_msg *m)
{
	uint16_t		 status;
	const char		*msg;

	if (m->hdr.type == MSG_ERROR) {
		if (buf_get_u16(&m->payload, &status) == -1 ||
		    buf_get_str(&m->payload, &msg, NULL) == -1 ||
		    status < 400 || status > 599)
			respond_error(c, 500, "internal error");
		else
			respond_error(c, status, msg);
		return;
	}
	if (c->route == NULL || c->route->reply == NULL) {
		respond_error(c, 500, "internal error");
		return;
	}
	c->route->reply(c, m);
}

/* --- handlers ----------------------------------------------------------- */

static void
route_version(struct conn *c, const struct route *r, const char *res)
{
	struct buf b;

	buf_init(&b, 512);
	(void)buf_put(&b, "{\"version\":", 11);
	json_str(&b, KEYWARD_VERSION);
	(void)buf_put(&b, ",\"commit\":", 10);
	json_str(&b, KEYWARD_COMMIT);
	(void)buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
	buf_release(&b);
}

/* STATUS_REQ: str identity; the crypto process checks it again. */
static void
route_status(struct conn *c, const struct route *r, const char *res)
{
	struct buf b;

	buf_init(&b, 128);
	(void)buf_put_str(&b, c->identity);
	if (crypto_request(c, MSG_STATUS_REQ, &b) == -1)
		respond_error(c, 503, "service unavailable: crypto process "
		    "restarting");
	buf_release(&b);
}

static const char *
go_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#else
	return "unknown";
#endif
}

/*
 * STATUS_REP: u8 reachable, u64 key-store latency ns, u64 crypto uptime ns.
 * Units as KES-HEAD (spec §3.2): uptime in seconds, keystore_latency in
 * milliseconds (at least 1 when reachable). An unreachable store is sent
 * as both keystore_unreachable and keystore_unavailable, so kms-go clients
 * (MinIO) see the store as down instead of failing the whole call.
 */
static void
reply_status(struct conn *c, struct ipc_msg *m)
{
	struct timespec	 ts;
	struct mallinfo2 mi = mallinfo2();
	struct buf	 b;
	bool		 ok;
	uint64_t	 lat, up, now;
	char		 num[256], here;

	if (buf_get_bool(&m->payload, &ok) == -1 ||
	    buf_get_u64(&m->payload, &lat) == -1 ||
	    buf_get_u64(&m->payload, &up) == -1 ||
	    buf_end(&m->payload) == -1) {
		respond_error(c, 500, "failed to read server version");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	up = now > w.cf.started_ns ? (now - w.cf.started_ns) : 0;
	buf_init(&b, 1024);
	(void)buf_put(&b, "{\"version\":", 11);
	json_str(&b, KEYWARD_VERSION);
	snprintf(num, sizeof(num), ",\"os\":\"linux\",\"arch\":\"%s\","
	    "\"uptime\":%llu,\"num_cpu\":%ld,\"num_cpu_used\":%ld,"
	    "\"mem_heap_used\":%zu,\"mem_stack_used\":%zu", go_arch(),
	    (unsigned long long)((up + 500000000) / 1000000000),
	    sysinfo.num_cpu, sysinfo.num_cpu_used, mi.uordblks,
	    (size_t)(sysinfo.stack_top > &here ? sysinfo.stack_top - &here :
	    0));
	(void)buf_put(&b, num, strlen(num));
	if (ok) {
		lat = (lat + 500000) / 1000000;
		snprintf(num, sizeof(num), ",\"keystore_latency\":%llu",
		    (unsigned long long)(lat ? lat : 1));
		(void)buf_put(&b, num, strlen(num));
	} else {
		static const char down[] = ",\"keystore_unreachable\":true,"
		    "\"keystore_unavailable\":true";
		(void)buf_put(&b, down, sizeof(down) - 1);
	}
	(void)buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
	buf_release(&b);
}
