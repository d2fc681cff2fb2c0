/*
 * The Thales CipherTrust Manager key store, KES's keystore.gemalto.
 * keysecure (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §2): each key
 * is a CipherTrust secret of type "seed" whose material is the stored
 * value, named as the key, in the refresh token's domain. This file is
 * the store the agent sees (backend.h): the calls, each one or a few
 * HTTPS requests (net.h) on the agent's event loop. ciphertrust_auth.c
 * keeps the access token, ciphertrust_json.c reads and writes the JSON,
 * ciphertrust_conf.c holds the settings and the start-up.
 *
 * Where keyward departs from KES (§2.6): a 401 makes one new
 * authentication and one more try (C2); a delete that CipherTrust answers
 * with 404 is checked with an export, and reported as failed when the key
 * is still there (CipherTrust answers 404 when the token may not delete,
 * and KES reports that as done, C1); a listing ends on an empty page and
 * after ceil(total / 200) + 2 pages (C4, KES loops forever); names with
 * '/', '?', '#' or '%' are refused (C7).
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
#include "keystore-agent/ciphertrust.h"
#include "keystore-agent/ciphertrust_json.h"

#define DETAIL		1024
#define SECRETS		"/api/v1/vault/secrets"

enum cstage {
	C_CREATE, C_GET, C_DELETE, C_DELPROBE, C_LIST, C_STATUS,
};

struct ccall {
	struct ks_op		*op;
	struct ciphertrust	*ct;
	enum cstage		 stage;
	char			 name[KES_NAME_MAX + 1];
	/* The request in flight, kept to send again after a 401. */
	const char		*method;
	char			 path[CT_PATH_MAX];
	struct buf		 body;
	uint64_t		 gen;		/* token it was sent with */
	bool			 reauthed;
	struct net_req		*req;
	struct ct_waiter	 wait;
	uint64_t		 t0;		/* status: ns */
	/* list */
	uint64_t		 skip;
	unsigned int		 pages;
};

/* --- requests --- */

/* §2.2: Go's temporary errors (timeouts, a connection dropped mid-
 * request or mid-handshake) and 5xx answers; not a refused connection,
 * a name that does not resolve or a refused certificate. */
static bool
retry_ct(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status >= 500;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
		return true;
	default:
		return false;
	}
}

/* KES's retry wrapper: 200 ms + uniform[0, 800 ms) before each retry,
 * the same wait each time (§2.2). */
const struct net_policy ct_call_policy = {
	3, 200, 1000, CT_CALL_ATTEMPT_MS, retry_ct, NET_WAIT_CONSTANT
};
const struct net_policy ct_auth_policy = {
	3, 200, 1000, CT_AUTH_ATTEMPT_MS, retry_ct, NET_WAIT_CONSTANT
};

struct net_req *
ct_send(struct ciphertrust *ct, const struct net_policy *pol,
    const char *method, const char *path, const struct buf *body, bool auth,
    net_done_cb cb, void *arg)
{
	const char	*h[3];
	char		 tok[CT_JWT_MAX + 32];
	struct net_req	*req;
	size_t		 n = 0;

	if (auth) {
		snprintf(tok, sizeof(tok), "Authorization: Bearer %s",
		    ct->jwt != NULL ? ct->jwt : "");
		h[n++] = tok;
	}
	if (body != NULL)
		h[n++] = "Content-Type: application/json";
	h[n] = NULL;
	req = net_request(ct->net, method, path, h,
	    body != NULL ? body->data : NULL, body != NULL ? body->len : 0,
	    pol, cb, arg);
	explicit_bzero(tok, sizeof(tok));
	return req;
}

/* --- calls --- */

static void
ccall_free(struct ccall *c)
{
	if (c->req != NULL)
		net_cancel(c->req);
	ct_unwait(c->ct, &c->wait);
	buf_release(&c->body);
	freezero(c, sizeof(*c));
}

static void
ccall_done(struct ccall *c, int rc, const char *detail)
{
	struct ks_op *op = c->op;

	c->op = NULL;
	ccall_free(c);
	ks_op_done(op, rc, detail);
}

static struct ccall *
ccall_new(struct ks_op *op)
{
	struct ccall *c = xcalloc(1, sizeof(*c));

	c->op = op;
	c->ct = &ct_state;
	c->wait.arg = c;
	if (op->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", op->name);
	op->store = c;
	return c;
}

static void	ccall_answer(struct net_req *, const struct net_resp *,
		    void *);

static void
ccall_send(struct ccall *c)
{
	c->gen = c->ct->gen;
	c->req = ct_send(c->ct, &ct_call_policy, c->method, c->path,
	    c->body.data != NULL ? &c->body : NULL, c->stage != C_STATUS,
	    ccall_answer, c);
}

static void
ccall_request(struct ccall *c, enum cstage stage, const char *method)
{
	c->stage = stage;
	c->method = method;
	c->reauthed = false;
	ccall_send(c);
}

static void
reauthed(struct ct_waiter *w, int rc, const char *err)
{
	struct ccall *c = w->arg;

	if (rc == 0)
		ccall_send(c);
	else
		ccall_done(c, KS_FAIL_UNAVAILABLE, err);
}

static const char *
stage_verb(enum cstage s)
{
	switch (s) {
	case C_CREATE:
		return "create key";
	case C_GET:
	case C_DELPROBE:
		return "access key";
	case C_DELETE:
		return "delete key";
	case C_LIST:
		return "list keys";
	case C_STATUS:
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

static void	answer_get(struct ccall *, const struct net_resp *);
static void	answer_delete(struct ccall *, const struct net_resp *);
static void	answer_list(struct ccall *, const struct net_resp *);

static void
ccall_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct ccall	*c = arg;
	char		 d[DETAIL];
	int		 rc;

	c->req = NULL;
	/* C2: a refused token (expired while renewals failed, revoked)
	 * gets one new authentication and one more try. */
	if (r->fail == NET_OK && r->status == 401 && c->stage != C_STATUS &&
	    !c->reauthed) {
		c->reauthed = true;
		c->wait.cb = reauthed;
		if ((rc = ct_reauth(c->ct, c->gen, &c->wait)) == 1)
			ccall_send(c);
		if (rc >= 0)
			return;
	}
	if (r->fail != NET_OK) {
		if (c->stage == C_STATUS) {
			snprintf(d, sizeof(d), "gemalto: %s", r->detail);
			ccall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		if (c->stage == C_LIST)	/* KES: the error as it is */
			snprintf(d, sizeof(d), "gemalto: %s", r->detail);
		else
			snprintf(d, sizeof(d), "gemalto: failed to %s '%s': %s",
			    stage_verb(c->stage), c->name, r->detail);
		ccall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	switch (c->stage) {
	case C_CREATE:
		switch (ct_parse_create(r->status, r->content_type, r->body,
		    r->len, c->name, d, sizeof(d))) {
		case 0:
			ccall_done(c, 0, "");
			break;
		case 1:
			ccall_done(c, KS_FAIL_EXISTS, d);
			break;
		default:
			ccall_done(c, KS_FAIL_UNAVAILABLE, d);
			break;
		}
		break;
	case C_GET:
		answer_get(c, r);
		break;
	case C_DELETE:
	case C_DELPROBE:
		answer_delete(c, r);
		break;
	case C_LIST:
		answer_list(c, r);
		break;
	case C_STATUS:
		/* §2.4 Status: any HTTP answer is a reachable store. */
		c->op->latency_ns = now_ns() - c->t0;
		ccall_done(c, 0, "");
		break;
	}
}

static void
answer_get(struct ccall *c, const struct net_resp *r)
{
	char	 d[DETAIL];
	uint8_t	*val;
	size_t	 len;

	switch (ct_parse_export(r->status, r->content_type, r->body,
	    r->len, c->name, &val, &len, d, sizeof(d))) {
	case CT_ABSENT:
		snprintf(d, sizeof(d), "key '%s' does not exist", c->name);
		ccall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	case CT_FAIL:
		ccall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	case CT_VALUE:
		break;
	}
	if (buf_put(c->op->out, val, len) == -1)
		ccall_done(c, KS_FAIL_UNAVAILABLE, "gemalto: no room for the "
		    "value");
	else
		ccall_done(c, 0, "");
	freezero(val, len + 1);
}

/*
 * Delete, and C1: CipherTrust answers 404 both for a secret that is not
 * there and for one the token may not delete. An export tells them
 * apart where it can: a key that is still readable was not deleted.
 */
static void
answer_delete(struct ccall *c, const struct net_resp *r)
{
	char	 d[DETAIL];
	uint8_t	*val;
	size_t	 len;

	if (c->stage == C_DELETE) {
		switch (ct_parse_delete(r->status, r->content_type, r->body,
		    r->len, c->name, d, sizeof(d))) {
		case 0:
			ccall_done(c, 0, "");
			return;
		case 1:
			snprintf(c->path, sizeof(c->path), SECRETS
			    "/%s/export?type=name", c->name);
			ccall_request(c, C_DELPROBE, "POST");
			return;
		default:
			ccall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
	}
	switch (ct_parse_export(r->status, r->content_type, r->body,
	    r->len, c->name, &val, &len, d, sizeof(d))) {
	case CT_ABSENT:
		log_warnx("gemalto: delete '%s': CipherTrust answered 404 (no "
		    "such secret, or one this token may not see); reported as "
		    "deleted", c->name);
		ccall_done(c, 0, "");
		return;
	case CT_VALUE:
		freezero(val, len + 1);
		snprintf(d, sizeof(d), "gemalto: failed to delete key \"%s\": "
		    "CipherTrust answered 404 but the key is still there (the "
		    "token may not delete it)", c->name);
		ccall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	case CT_FAIL:
		ccall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
}

static void
list_page(struct ccall *c)
{
	snprintf(c->path, sizeof(c->path), SECRETS "?limit=%d&skip=%llu",
	    CT_PAGE_LIMIT, (unsigned long long)c->skip);
	c->pages++;
	ccall_request(c, C_LIST, "GET");
}

static int
list_name(const char *name, void *arg)
{
	return ks_op_name(arg, name);
}

/*
 * KES's loop ends when a page starts at or past the total; keyward also
 * ends on an empty page (C4: KES asks for the same page forever) and
 * fails after ceil(total / limit) + 2 pages.
 */
static void
answer_list(struct ccall *c, const struct net_resp *r)
{
	struct ct_page	pg;
	char		d[DETAIL];
	uint64_t	cap;

	if (ct_parse_list(r->status, r->content_type, r->body, r->len,
	    c->skip, list_name, c->op, &pg, d, sizeof(d)) == -1) {
		ccall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (pg.skip >= pg.total) {
		ccall_done(c, 0, "");
		return;
	}
	if (pg.n == 0) {
		log_warnx("gemalto: list: CipherTrust counts %llu secrets but "
		    "sent an empty page at %llu; the listing ends there",
		    (unsigned long long)pg.total, (unsigned long long)c->skip);
		ccall_done(c, 0, "");
		return;
	}
	cap = pg.total / CT_PAGE_LIMIT + (pg.total % CT_PAGE_LIMIT != 0) + 2;
	if (c->pages >= cap) {
		snprintf(d, sizeof(d), "gemalto: failed to list keys: more "
		    "than %llu pages for %llu secrets",
		    (unsigned long long)cap, (unsigned long long)pg.total);
		ccall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	c->skip += pg.n;
	list_page(c);
}

/* --- the calls --- */

/* C7: the name goes into the path unescaped, as KES sends it. */
static bool
name_refused(struct ks_op *op)
{
	if (strpbrk(op->name, "/?#%") == NULL)
		return false;
	ks_op_done(op, KS_FAIL_INVALID, "gemalto: a key name with '/', '?', "
	    "'#' or '%' cannot be a CipherTrust secret's name in a path");
	return true;
}

void
ct_op_create(struct ks_op *op)
{
	struct ccall	*c;
	char		*value;

	if (name_refused(op))
		return;
	if (memchr(op->value, '\0', op->len) != NULL) {
		ks_op_done(op, KS_FAIL_INVALID, "gemalto: a stored value is "
		    "text without NUL bytes");
		return;
	}
	c = ccall_new(op);
	value = xmalloc(op->len + 1);
	memcpy(value, op->value, op->len);
	value[op->len] = '\0';
	buf_init(&c->body, 2 * op->len + 2 * KES_NAME_MAX + 128);
	(void)ct_body_create(&c->body, c->name, value);
	freezero(value, op->len + 1);
	if (c->body.failed) {
		ccall_done(c, KS_FAIL_UNAVAILABLE, "gemalto: the request does "
		    "not fit");
		return;
	}
	snprintf(c->path, sizeof(c->path), "%s", SECRETS);
	ccall_request(c, C_CREATE, "POST");
}

void
ct_op_get(struct ks_op *op)
{
	struct ccall *c;

	if (name_refused(op))
		return;
	c = ccall_new(op);
	snprintf(c->path, sizeof(c->path), SECRETS "/%s/export?type=name",
	    c->name);
	ccall_request(c, C_GET, "POST");
}

void
ct_op_del(struct ks_op *op)
{
	struct ccall *c;

	if (name_refused(op))
		return;
	c = ccall_new(op);
	snprintf(c->path, sizeof(c->path), SECRETS "/%s?type=name", c->name);
	ccall_request(c, C_DELETE, "DELETE");
}

void
ct_op_list(struct ks_op *op)
{
	list_page(ccall_new(op));
}

/* GET <endpoint> without a token (§2.4 Status). */
void
ct_op_status(struct ks_op *op)
{
	struct ccall *c = ccall_new(op);

	c->t0 = now_ns();
	snprintf(c->path, sizeof(c->path), "/");
	ccall_request(c, C_STATUS, "GET");
}

void
ct_op_cancel(struct ks_op *op)
{
	struct ccall *c = op->store;

	c->op = NULL;
	ccall_free(c);
}
