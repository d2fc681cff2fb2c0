/*
 * The Fortanix DSM (SDKMS) key store, KES's keystore.fortanix.sdkms
 * (spec/keystores-cloud-and-legacy-config.md §4): each key is an OPAQUE
 * security object named as the key whose content is the stored value.
 * This file is the store the agent sees (backend.h): the calls, each one
 * or two HTTPS requests (net.h) on the agent's event loop, every one sent
 * with the API key as Basic credential and through KES's retry wrapper
 * (kes_http.h).
 *
 * Where keyward departs from KES (§4.4): a listing pages on with
 * start=<the last name of the page before> and ends on a page short of
 * the limit or without a new name; it checks the status of every page
 * (KES asks for its first page forever and never looks at the status).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/fortanix.h"
#include "keystore-agent/fortanix_json.h"
#include "keystore-agent/kes_http.h"

#define DETAIL		1024
#define KEYS		"/crypto/v1/keys"

const struct net_policy fx_call_policy = KES_HTTP_POLICY(FX_CALL_ATTEMPT_MS);
const struct net_policy fx_connect_policy =
    KES_HTTP_POLICY(FX_CONNECT_ATTEMPT_MS);

enum fstage {
	F_CREATE, F_GET, F_DELPROBE, F_DELETE, F_LIST, F_STATUS,
};

struct fcall {
	struct ks_op		*op;
	struct fortanix		*fx;
	enum fstage		 stage;
	char			 name[KES_NAME_MAX + 1];
	struct buf		 body;
	struct net_req		*req;
	uint64_t		 t0;		/* status: ns */
	/* list: the greatest name so far ("" before the first page) */
	char			 last[FX_NAME_BUF];
	unsigned int		 pages;
};

struct net_req *
fx_send(struct fortanix *fx, const struct net_policy *pol,
    const char *method, const char *path, const char *bearer, bool auth,
    const struct buf *body, net_done_cb cb, void *arg)
{
	const char	*h[3];
	char		 tok[FX_TOKEN_MAX + 32];
	struct net_req	*req;
	size_t		 n = 0;

	if (bearer != NULL) {
		snprintf(tok, sizeof(tok), "Authorization: Bearer %s", bearer);
		h[n++] = tok;
	} else if (auth)
		h[n++] = fx->auth;
	if (body != NULL)
		h[n++] = "Content-Type: application/json";
	h[n] = NULL;
	req = net_request(fx->net, method, path, h,
	    body != NULL ? body->data : NULL, body != NULL ? body->len : 0,
	    pol, cb, arg);
	explicit_bzero(tok, sizeof(tok));
	return req;
}

/* --- calls --- */

static void
fcall_free(struct fcall *c)
{
	if (c->req != NULL)
		net_cancel(c->req);
	buf_release(&c->body);
	freezero(c, sizeof(*c));
}

static void
fcall_done(struct fcall *c, int rc, const char *detail)
{
	struct ks_op *op = c->op;

	c->op = NULL;
	fcall_free(c);
	ks_op_done(op, rc, detail);
}

static struct fcall *
fcall_new(struct ks_op *op)
{
	struct fcall *c = xcalloc(1, sizeof(*c));

	c->op = op;
	c->fx = &fx_state;
	if (op->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", op->name);
	op->store = c;
	return c;
}

static void	fcall_answer(struct net_req *, const struct net_resp *,
		    void *);

static void
fcall_send(struct fcall *c, enum fstage stage, const char *method,
    const char *path)
{
	c->stage = stage;
	c->req = fx_send(c->fx, &fx_call_policy, method, path, NULL,
	    stage != F_STATUS, c->body.data != NULL ? &c->body : NULL,
	    fcall_answer, c);
}

static const char *
stage_verb(enum fstage s)
{
	switch (s) {
	case F_CREATE:
		return "create key";
	case F_GET:
		return "fetch key";
	case F_DELPROBE:
	case F_DELETE:
		return "delete key";
	case F_LIST:
		return "list keys";
	case F_STATUS:
		break;
	}
	return "reach";
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void	answer_get(struct fcall *, const struct net_resp *);
static void	answer_delete(struct fcall *, const struct net_resp *);
static void	answer_list(struct fcall *, const struct net_resp *);

static void
fcall_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct fcall	*c = arg;
	char		 d[DETAIL];

	c->req = NULL;
	if (r->fail != NET_OK) {
		if (c->stage == F_STATUS) {
			snprintf(d, sizeof(d), "fortanix: %s", r->detail);
			fcall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		if (c->stage == F_LIST)
			snprintf(d, sizeof(d), "fortanix: failed to list keys: "
			    "%s", r->detail);
		else
			snprintf(d, sizeof(d), "fortanix: failed to %s '%s': "
			    "%s", stage_verb(c->stage), c->name, r->detail);
		fcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	switch (c->stage) {
	case F_CREATE:
		switch (fx_parse_create(r->status, r->content_type, r->body,
		    r->len, c->name, d, sizeof(d))) {
		case 0:
			fcall_done(c, 0, "");
			break;
		case 1:
			fcall_done(c, KS_FAIL_EXISTS, d);
			break;
		default:
			fcall_done(c, KS_FAIL_UNAVAILABLE, d);
			break;
		}
		break;
	case F_GET:
		answer_get(c, r);
		break;
	case F_DELPROBE:
	case F_DELETE:
		answer_delete(c, r);
		break;
	case F_LIST:
		answer_list(c, r);
		break;
	case F_STATUS:
		/* §0.1: any HTTP answer is a reachable store. */
		c->op->latency_ns = now_ns() - c->t0;
		fcall_done(c, 0, "");
		break;
	}
}

static void
answer_get(struct fcall *c, const struct net_resp *r)
{
	char	 d[DETAIL], kid[FX_KID_MAX + 1];
	uint8_t	*val;
	size_t	 len;

	switch (fx_parse_export(r->status, r->content_type, r->body, r->len,
	    c->name, &val, &len, kid, d, sizeof(d))) {
	case FX_ABSENT:
		snprintf(d, sizeof(d), "key '%s' does not exist", c->name);
		fcall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	case FX_FAIL:
		fcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	case FX_VALUE:
		break;
	}
	if (len == 0 || buf_put(c->op->out, val, len) == -1)
		fcall_done(c, KS_FAIL_UNAVAILABLE, len == 0 ? "fortanix: the "
		    "key's value is empty" : "fortanix: no room for the value");
	else
		fcall_done(c, 0, "");
	if (val != NULL)
		freezero(val, len);
}

/* Delete: export by name for the object's kid, then DELETE by kid. */
static void
answer_delete(struct fcall *c, const struct net_resp *r)
{
	char	 d[DETAIL], kid[FX_KID_MAX + 1], path[FX_PATH_MAX];
	uint8_t	*val;
	size_t	 len;

	if (c->stage == F_DELETE) {
		if (fx_parse_delete(r->status, r->content_type, r->body,
		    r->len, c->name, d, sizeof(d)) == 0)
			fcall_done(c, 0, "");
		else
			fcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	switch (fx_parse_export(r->status, r->content_type, r->body, r->len,
	    c->name, &val, &len, kid, d, sizeof(d))) {
	case FX_ABSENT:
		snprintf(d, sizeof(d), "key '%s' does not exist", c->name);
		fcall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	case FX_FAIL:
		fcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	case FX_VALUE:
		break;
	}
	if (val != NULL)
		freezero(val, len);
	if (kid[0] == '\0') {
		snprintf(d, sizeof(d), "fortanix: failed to delete key '%s': "
		    "the object has no usable kid", c->name);
		fcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	buf_release(&c->body);
	snprintf(path, sizeof(path), KEYS "/%s", kid);
	fcall_send(c, F_DELETE, "DELETE", path);
}

static int
list_name(const char *name, void *arg)
{
	return ks_op_name(arg, name);
}

/* A name in a query: everything but RFC 3986's unreserved escaped. */
static void
query_escape(char *out, size_t outlen, const char *s)
{
	static const char	hex[] = "0123456789ABCDEF";
	size_t			n = 0;
	unsigned char		ch;

	for (; *s != '\0' && n + 4 < outlen; s++) {
		ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
		    ch == '_' || ch == '~')
			out[n++] = (char)ch;
		else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

static void
list_page(struct fcall *c)
{
	char path[FX_PATH_MAX], esc[3 * FX_NAME_BUF + 1];
	int  n;

	n = snprintf(path, sizeof(path), KEYS "?sort=name:asc&limit=%d",
	    FX_PAGE_LIMIT);
	if (c->last[0] != '\0') {
		query_escape(esc, sizeof(esc), c->last);
		snprintf(path + n, sizeof(path) - (size_t)n, "&start=%s", esc);
	}
	c->pages++;
	fcall_send(c, F_LIST, "GET", path);
}

/*
 * §4.4: start=<last name> gives the page from that name on (the name
 * itself again, which is dropped). A page shorter than the limit, or
 * without a name after the last one, is the end.
 */
static void
answer_list(struct fcall *c, const struct net_resp *r)
{
	char	d[DETAIL], last[FX_NAME_BUF];
	size_t	entries, n;

	if (fx_parse_list(r->status, r->content_type, r->body, r->len,
	    c->last[0] != '\0' ? c->last : NULL, list_name, c->op, &entries,
	    &n, last, d, sizeof(d)) == -1) {
		fcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (n == 0 || entries < FX_PAGE_LIMIT) {
		fcall_done(c, 0, "");
		return;
	}
	memcpy(c->last, last, sizeof(c->last));
	list_page(c);
}

/* --- the calls --- */

void
fx_op_create(struct ks_op *op)
{
	struct fcall *c = fcall_new(op);

	buf_init(&c->body, 2 * op->len + 6 * KES_NAME_MAX + 512);
	if (fx_body_create(&c->body, c->name, c->fx->s.group_id, op->value,
	    op->len) != 0 || c->body.failed) {
		fcall_done(c, KS_FAIL_UNAVAILABLE, "fortanix: the request does "
		    "not fit");
		return;
	}
	fcall_send(c, F_CREATE, "PUT", KEYS);
}

static void
export(struct ks_op *op, enum fstage stage)
{
	struct fcall *c = fcall_new(op);

	buf_init(&c->body, 6 * KES_NAME_MAX + 64);
	if (fx_body_name(&c->body, c->name) != 0 || c->body.failed) {
		fcall_done(c, KS_FAIL_UNAVAILABLE, "fortanix: the request does "
		    "not fit");
		return;
	}
	fcall_send(c, stage, "POST", KEYS "/export");
}

void
fx_op_get(struct ks_op *op)
{
	export(op, F_GET);
}

void
fx_op_del(struct ks_op *op)
{
	export(op, F_DELPROBE);
}

void
fx_op_list(struct ks_op *op)
{
	list_page(fcall_new(op));
}

/* GET <endpoint> without credentials (§4.4 Status). */
void
fx_op_status(struct ks_op *op)
{
	struct fcall *c = fcall_new(op);

	c->t0 = now_ns();
	fcall_send(c, F_STATUS, "GET", "/");
}

void
fx_op_cancel(struct ks_op *op)
{
	struct fcall *c = op->store;

	c->op = NULL;
	fcall_free(c);
}
