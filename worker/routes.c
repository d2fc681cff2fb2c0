/*
 * Routes: the processing order of spec §1.4 (path canonicalisation and
 * ServeMux redirects, route lookup, method, body limit, authentication and
 * authorisation, handler) and the responses, byte-compatible with KES.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/gotime.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/xmalloc.h"
#include "worker/metrics.h"
#include "worker/worker.h"

#define MB	1000000		/* aead.dev/mem's MB, spec 3.1 */

/* Spec 3.1, in KES's order. */
static const struct route routes[] = {
	{ "/version",	HTTP_GET, 0, 10, AUTH_NONE,   route_version, NULL },
	{ "/v1/ready",	HTTP_GET, 0, 15, AUTH_VERIFY, route_ready, reply_done },
	{ "/v1/status",	HTTP_GET, 0, 15, AUTH_VERIFY, route_status,
	    reply_status },
	{ "/v1/metrics", HTTP_GET, 0, 15, AUTH_VERIFY, route_metrics, NULL },
	{ "/v1/api",	HTTP_GET, 0, 10, AUTH_VERIFY, route_api, NULL },
	{ "/v1/key/create/", HTTP_PUT, 0, 15, AUTH_VERIFY, route_key_create,
	    reply_done },
	{ "/v1/key/import/", HTTP_PUT, MB, 15, AUTH_VERIFY, route_key_import,
	    reply_done },
	{ "/v1/key/describe/", HTTP_GET, 0, 15, AUTH_VERIFY,
	    route_key_describe, reply_key_describe },
	{ "/v1/key/list/", HTTP_GET, 0, 15, AUTH_VERIFY, route_key_list,
	    reply_key_list },
	{ "/v1/key/delete/", HTTP_DELETE, 0, 15, AUTH_VERIFY, route_key_delete,
	    reply_done },
	{ "/v1/key/generate/", HTTP_PUT, MB, 15, AUTH_VERIFY,
	    route_key_generate, reply_key_generate },
	{ "/v1/key/encrypt/", HTTP_PUT, MB, 15, AUTH_VERIFY, route_key_encrypt,
	    reply_key_encrypt },
	{ "/v1/key/decrypt/", HTTP_PUT, MB, 15, AUTH_VERIFY, route_key_decrypt,
	    reply_key_decrypt },
	{ "/v1/key/hmac/", HTTP_PUT, MB, 15, AUTH_VERIFY, route_key_hmac,
	    reply_key_hmac },
	{ "/v1/key/bulk/decrypt/", HTTP_PUT, MB, 15, AUTH_VERIFY,
	    route_key_bulk_decrypt, reply_key_bulk_decrypt },
	{ "/v1/policy/describe/", HTTP_GET, 0, 15, AUTH_VERIFY,
	    route_policy_describe, NULL },
	{ "/v1/policy/read/", HTTP_GET, 0, 15, AUTH_VERIFY, route_policy_read,
	    NULL },
	{ "/v1/policy/list/", HTTP_GET, 0, 15, AUTH_VERIFY, route_policy_list,
	    NULL },
	{ "/v1/identity/describe/", HTTP_GET, 0, 15, AUTH_VERIFY,
	    route_identity_describe, NULL },
	{ "/v1/identity/list/", HTTP_GET, 0, 15, AUTH_VERIFY,
	    route_identity_list, NULL },
	{ "/v1/identity/self/describe", HTTP_GET, 0, 15, AUTH_IDENTIFY,
	    route_identity_self, NULL },
	{ "/v1/log/error", HTTP_GET, 0, 0, AUTH_VERIFY, route_log_error, NULL },
	{ "/v1/log/audit", HTTP_GET, 0, 0, AUTH_VERIFY, route_log_audit, NULL },
};
#define NROUTES	(sizeof(routes) / sizeof(routes[0]))

const struct route *
routes_table(size_t *n)
{
	*n = NROUTES;
	return routes;
}

void
routes_init(char *stack_top)
{
	admin_init(stack_top);
}

/* --- responses ---------------------------------------------------------- */

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
/* The Date header's value, formatted once a second. */
static const char *
http_date(void)
{
	static char	 date[64];
	static time_t	 when = -1;
	struct tm	 tm;
	time_t		 now = time(NULL);

	if (now != when) {
		gmtime_r(&now, &tm);
		strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
		when = now;
	}
	return date;
}

void
respond(struct conn *c, int status, const char *ctype, const char *extra,
    const void *body, size_t len)
{
	const char	*conn_hdr = "";
	size_t		 save = c->out.len;
	int		 bad;

	audit_request(c, status);
	if (c->metered) {
		metrics_request_end(status, (ev_now() - c->req_started) *
		    1000000);
		c->metered = false;
	}

	/* Go answers an HTTP/1.0 keep-alive request with the header that
	 * keeps the connection open (ab -k waits for it). */
	if (!c->keep_alive)
		conn_hdr = "Connection: close\r\n";
	else if (c->have_head && c->req->minor == 0)
		conn_hdr = "Connection: keep-alive\r\n";
	/* Written piece by piece: snprintf showed in the worker's profile. */
	bad = put_str(&c->out, "HTTP/1.1 ") |
	    buf_put_dec(&c->out, (uint64_t)status) | put_str(&c->out, " ") |
	    put_str(&c->out, http_reason(status)) | put_str(&c->out, "\r\n");
	if (ctype != NULL)
		bad |= put_str(&c->out, "Content-Type: ") |
		    put_str(&c->out, ctype) | put_str(&c->out, "\r\n");
	bad |= put_str(&c->out, "Content-Length: ") |
	    buf_put_dec(&c->out, len) | put_str(&c->out, "\r\nDate: ") |
	    put_str(&c->out, http_date()) | put_str(&c->out, "\r\n") |
	    put_str(&c->out, conn_hdr);
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
	buf_put(&b, "{\"message\":", 11);
	json_str(&b, message);
	buf_put(&b, "\n}", 2);
	if (b.failed) {
		/* Cannot happen (the room is the worst case of escaping);
		 * "internal error" fits, so this ends. */
		log_warnx("cannot build the body of a %d answer", status);
		buf_release(&b);
		respond_error_hdr(c, 500, NULL, "internal error");
		return;
	}
	respond(c, status, "application/json", extra, buf_ptr(&b),
	    buf_avail(&b));
	buf_release(&b);
}

void
respond_error(struct conn *c, int status, const char *message)
{
	respond_error_hdr(c, status, NULL, message);
}

/* The answer a route built in b; a piece that did not fit makes it a
 * 500, never a cut body. */
void
respond_json(struct conn *c, int status, struct buf *b)
{
	buf_put_u8(b, '\n');	/* Go's json.Encoder ends with \n */
	if (b->failed) {
		log_warnx("cannot build the answer to %s: it does not fit its "
		    "buffer", c->route != NULL ? c->route->path : "a request");
		respond_error(c, 500, "internal error");
	} else
		respond(c, status, "application/json", NULL, buf_ptr(b),
		    buf_avail(b));
	buf_release(b);
}

void
respond_empty(struct conn *c)
{
	respond(c, 200, NULL, NULL, "", 0);
}

/* A request that could not be built is this worker's fault, logged by
 * peer_send: a 500, not the 503 of a crypto process that is away. */
void
crypto_call(struct conn *c, const char *key, uint16_t type, struct buf *b)
{
	if (crypto_request(c, key, type, b) == 0)
		;
	else if (b->failed)
		respond_error(c, 500, "internal error");
	else
		respond_error(c, 503, "service unavailable: crypto process "
		    "restarting");
	buf_release(b);
}

void
reply_done(struct conn *c, struct ipc_msg *m)
{
	if (m->hdr.type != MSG_DONE || buf_end(&m->payload) == -1)
		respond_error(c, 500, "internal error");
	else
		respond_empty(c);
}

/* Go's htmlReplacer, for the URL inside the 301's HTML body. */
static void
html_escape(struct buf *b, const char *s)
{
	for (; *s; s++)
		switch (*s) {
		case '&':  buf_put(b, "&amp;", 5); break;
		case '<':  buf_put(b, "&lt;", 4); break;
		case '>':  buf_put(b, "&gt;", 4); break;
		case '"':  buf_put(b, "&#34;", 5); break;
		case '\'': buf_put(b, "&#39;", 5); break;
		default:   buf_put_u8(b, (uint8_t)*s); break;
		}
}

/* Go ServeMux's 301: Location; for GET and HEAD also an HTML body and its
 * Content-Type (Go's http.Redirect). */
static void
respond_redirect(struct conn *c, const char *path, const char *query,
    size_t qlen)
{
	char		*esc, *loc, *hdr;
	size_t		 cap = 3 * strlen(path) + 1;
	struct buf	 body;
	bool		 html;

	esc = xmalloc(cap);
	if (http_escape_path(path, esc, cap) == -1) {
		free(esc);
		respond_error(c, 400, "Bad Request");
		return;
	}
	xasprintf(&loc, "%s%s%.*s", esc, query ? "?" : "", (int)qlen,
	    query ? query : "");
	xasprintf(&hdr, "Location: %s\r\n", loc);
	html = c->req->method == HTTP_GET || c->req->method == HTTP_HEAD;
	buf_init(&body, 64 + 6 * strlen(loc));
	if (html) {
		put_str(&body, "<a href=\"");
		html_escape(&body, loc);
		put_str(&body, "\">Moved Permanently</a>.\n\n");
	}
	if (body.failed) {
		log_warnx("cannot build the body of a redirect");
		respond_error(c, 500, "internal error");
	} else
		respond(c, 301, html ? "text/html; charset=utf-8" : NULL, hdr,
		    buf_ptr(&body), buf_avail(&body));
	buf_release(&body);
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
uint64_t
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
	char			*clean, *msg, *accept;
	size_t			 qlen, cap;
	int			 n;

	/*
	 * The decoded path is never longer than the target, and the cleaned
	 * path or the path with a slash added at most two bytes longer. The
	 * buffer stays with the connection until it idles (conn.c).
	 */
	cap = c->req->target_len + 2;
	if (c->pathcap < cap) {
		free(c->path);
		c->pathcap = cap < 128 ? 128 : cap;
		c->path = xmalloc(c->pathcap);
	}
	c->path[0] = '\0';
	n = http_split_target(c->req->target, c->req->target_len, c->path,
	    cap, &query, &qlen);
	if (n < 0) {
		c->path[0] = '\0';
		c->keep_alive = false;
		respond_error(c, -n, http_reason(-n));
		return;
	}
	clean = xmalloc(cap + 2);
	if (http_clean_path(c->path, clean, cap + 2)) {
		if (*clean == '\0')
			respond_error(c, 400, "Bad Request");
		else
			respond_redirect(c, clean, query, qlen);
		free(clean);
		return;
	}
	switch (route_find(c->path, &r, &res)) {
	case 0:
		free(clean);
		respond_not_found(c);
		return;
	case -1:
		snprintf(clean, cap + 2, "%s/", c->path);
		respond_redirect(c, clean, query, qlen);
		free(clean);
		return;
	}
	free(clean);

	c->route = r;		/* for the audit record, from here on */
	metrics_request_begin();
	c->metered = true;

	/* Method before authentication, as KES does. */
	if (!method_ok(r, c->req->method)) {
		xasprintf(&msg, "received method '%.*s' expected '%s'",
		    (int)c->req->method_len, c->req->method_str,
		    http_method_name(r->method));
		xasprintf(&accept, "Accept: %s\r\n",
		    http_method_name(r->method));
		/* A HEAD still gets no body: Go's server drops it too. */
		respond_error_hdr(c, 405, accept, msg);
		free(accept);
		free(msg);
		return;
	}
	/* The body limit is the handlers' (they read the body after
	 * authorisation and the name check, as KES does). */
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
	r->fn(c, res);
}

/* An answer from the crypto process for c's request. */
void
route_reply(struct conn *c, struct ipc_msg *m)
{
	uint16_t		 status;
	const char		*msg;

	if (m->hdr.type == MSG_ERROR) {
		/* u16 status, str message, and nothing after them. */
		if (buf_get_u16(&m->payload, &status) == -1 ||
		    buf_get_str(&m->payload, &msg, NULL) == -1 ||
		    buf_end(&m->payload) == -1 ||
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
