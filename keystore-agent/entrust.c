/*
 * The Entrust KeyControl key store, KES's keystore.entrust.keycontrol
 * (spec/keystores-cloud-and-legacy-config.md §5): each key is a secret of
 * the configured box, named as the key, whose text is base64 of the
 * stored value. This file is the store the agent sees (backend.h): the
 * calls, each one or a few HTTPS POSTs (net.h) on the agent's event loop
 * with the access token in X-Vault-Auth, through KES's retry wrapper
 * (kes_http.h). entrust_auth.c keeps the token.
 *
 * Where keyward departs from KES (§5.4): a listing pages through every
 * next_token, drops expired secrets and hands the names to the agent,
 * which sorts them and keeps those with the prefix (KES returns one page,
 * unfiltered, behind as many empty names as it has secrets); a 401 logs
 * in again once and resends the call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/entrust.h"
#include "keystore-agent/entrust_json.h"
#include "keystore-agent/kes_http.h"

#define DETAIL		1024

const struct net_policy en_call_policy = KES_HTTP_POLICY(EN_CALL_ATTEMPT_MS);
const struct net_policy en_auth_policy = KES_HTTP_POLICY(EN_AUTH_ATTEMPT_MS);

enum estage {
	E_CREATE, E_GET, E_DELETE, E_LIST, E_STATUS,
};

static const char *const paths[] = {
	[E_CREATE] = "/vault/1.0/CreateSecret/",
	[E_GET] = "/vault/1.0/CheckoutSecret/",
	[E_DELETE] = "/vault/1.0/DeleteSecret/",
	[E_LIST] = "/vault/1.0/ListSecretIds/",
	[E_STATUS] = "/vault/1.0/GetBox/",
};

struct ecall {
	struct ks_op		*op;
	struct entrust		*en;
	enum estage		 stage;
	char			 name[KES_NAME_MAX + 1];
	struct buf		 body;
	uint64_t		 gen;		/* its token's */
	bool			 reauthed;
	struct net_req		*req;
	struct en_waiter	 wait;
	uint64_t		 t0;		/* status: ns */
	/* list */
	char			 next[EN_NEXT_MAX + 1];
	unsigned int		 pages;
	/* the start-up check */
	bool			*done;
	int			*rc;
	char			*err;
	size_t			 errlen;
};

struct net_req *
en_send(struct entrust *en, const struct net_policy *pol, const char *path,
    const struct buf *body, bool auth, bool ctype, net_done_cb cb, void *arg)
{
	const char	*h[3];
	char		 tok[EN_TOKEN_MAX + 32];
	struct net_req	*req;
	size_t		 n = 0;

	if (auth) {
		snprintf(tok, sizeof(tok), "X-Vault-Auth: %s",
		    en->token != NULL ? en->token : "");
		h[n++] = tok;
	}
	if (ctype)
		h[n++] = "Content-Type: application/json";
	h[n] = NULL;
	req = net_request(en->net, "POST", path, h,
	    body != NULL ? body->data : NULL, body != NULL ? body->len : 0,
	    pol, cb, arg);
	explicit_bzero(tok, sizeof(tok));
	return req;
}

/* --- calls --- */

static void
ecall_free(struct ecall *c)
{
	if (c->req != NULL)
		net_cancel(c->req);
	en_unwait(c->en, &c->wait);
	buf_release(&c->body);
	freezero(c, sizeof(*c));
}

static void
ecall_done(struct ecall *c, int rc, const char *detail)
{
	struct ks_op *op = c->op;

	if (c->done != NULL) {
		*c->done = true;
		*c->rc = rc;
		snprintf(c->err, c->errlen, "%s", detail);
		ecall_free(c);
		return;
	}
	c->op = NULL;
	ecall_free(c);
	ks_op_done(op, rc, detail);
}

static struct ecall *
ecall_new(struct ks_op *op)
{
	struct ecall *c = xcalloc(1, sizeof(*c));

	c->op = op;
	c->en = &en_state;
	c->wait.arg = c;
	if (op != NULL) {
		if (op->name != NULL)
			snprintf(c->name, sizeof(c->name), "%s", op->name);
		op->store = c;
	}
	return c;
}

static void	ecall_answer(struct net_req *, const struct net_resp *,
		    void *);

static void
ecall_send(struct ecall *c)
{
	c->gen = c->en->gen;
	c->req = en_send(c->en, &en_call_policy, paths[c->stage], &c->body,
	    true, false, ecall_answer, c);
}

static void
reauthed(struct en_waiter *w, int rc, const char *err)
{
	struct ecall *c = w->arg;

	if (rc == 0)
		ecall_send(c);
	else
		ecall_done(c, KS_FAIL_UNAVAILABLE, err);
}

static const char *
stage_verb(enum estage s)
{
	switch (s) {
	case E_CREATE:
		return "create key";
	case E_GET:
		return "fetch key";
	case E_DELETE:
		return "delete key";
	case E_LIST:
		return "list keys";
	case E_STATUS:
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

static void	answer_get(struct ecall *, const struct net_resp *);
static void	answer_list(struct ecall *, const struct net_resp *);

static void
ecall_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct ecall	*c = arg;
	char		 d[DETAIL];
	int		 rc;

	c->req = NULL;
	/* A refused token (expired while renewals failed, revoked) gets
	 * one new login and one more try. */
	if (r->fail == NET_OK && r->status == 401 && !c->reauthed) {
		c->reauthed = true;
		c->wait.cb = reauthed;
		if ((rc = en_reauth(c->en, c->gen, &c->wait)) == 1)
			ecall_send(c);
		if (rc >= 0)
			return;
	}
	if (r->fail != NET_OK) {
		if (c->stage == E_STATUS)
			snprintf(d, sizeof(d), "keycontrol: %s", r->detail);
		else
			snprintf(d, sizeof(d), "keycontrol: failed to "
			    "%s%s%s%s: %s", stage_verb(c->stage),
			    c->name[0] ? " '" : "", c->name,
			    c->name[0] ? "'" : "", r->detail);
		ecall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	switch (c->stage) {
	case E_CREATE:
		switch (en_parse_create(r->status, r->content_type, r->body,
		    r->len, c->name, d, sizeof(d))) {
		case 0:
			ecall_done(c, 0, "");
			break;
		case 1:
			ecall_done(c, KS_FAIL_EXISTS, d);
			break;
		default:
			ecall_done(c, KS_FAIL_UNAVAILABLE, d);
			break;
		}
		break;
	case E_GET:
		answer_get(c, r);
		break;
	case E_DELETE:
		switch (en_parse_delete(r->status, r->content_type, r->body,
		    r->len, c->name, d, sizeof(d))) {
		case 0:
			ecall_done(c, 0, "");
			break;
		case 1:
			snprintf(d, sizeof(d), "key '%s' does not exist",
			    c->name);
			ecall_done(c, KS_FAIL_NOT_FOUND, d);
			break;
		default:
			ecall_done(c, KS_FAIL_UNAVAILABLE, d);
			break;
		}
		break;
	case E_LIST:
		answer_list(c, r);
		break;
	case E_STATUS:
		/* §5.4: an authenticated GetBox; only 200 is a working
		 * store. */
		if (en_parse_box(r->status, r->content_type, r->body, r->len,
		    d, sizeof(d)) == -1) {
			ecall_done(c, KS_FAIL_UNAVAILABLE, d);
			break;
		}
		if (c->op != NULL)
			c->op->latency_ns = now_ns() - c->t0;
		ecall_done(c, 0, "");
		break;
	}
}

static void
answer_get(struct ecall *c, const struct net_resp *r)
{
	char	 d[DETAIL];
	uint8_t	*val;
	size_t	 len;

	switch (en_parse_checkout(r->status, r->content_type, r->body,
	    r->len, c->name, &val, &len, d, sizeof(d))) {
	case EN_ABSENT:
		snprintf(d, sizeof(d), "key '%s' does not exist", c->name);
		ecall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	case EN_FAIL:
		ecall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	case EN_VALUE:
		break;
	}
	if (buf_put(c->op->out, val, len) == -1)
		ecall_done(c, KS_FAIL_UNAVAILABLE, "keycontrol: no room for "
		    "the value");
	else
		ecall_done(c, 0, "");
	freezero(val, len);
}

static int
list_name(const char *name, void *arg)
{
	return ks_op_name(arg, name);
}

static void
list_page(struct ecall *c)
{
	buf_release(&c->body);
	buf_init(&c->body, 6 * strlen(c->en->s.box_id) + 6 * EN_NEXT_MAX +
	    128);
	if (en_body_list(&c->body, c->en->s.box_id, c->next) != 0 ||
	    c->body.failed) {
		ecall_done(c, KS_FAIL_UNAVAILABLE, "keycontrol: the request "
		    "does not fit");
		return;
	}
	c->pages++;
	c->stage = E_LIST;
	c->reauthed = false;
	ecall_send(c);
}

/* Every page until one comes without next_token; a token that repeats
 * the one just sent, or too many pages, fail the listing. */
static void
answer_list(struct ecall *c, const struct net_resp *r)
{
	char	d[DETAIL], next[EN_NEXT_MAX + 1];
	size_t	n;

	if (en_parse_list(r->status, r->content_type, r->body, r->len,
	    list_name, c->op, &n, next, d, sizeof(d)) == -1) {
		ecall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (next[0] == '\0') {
		ecall_done(c, 0, "");
		return;
	}
	if (strcmp(next, c->next) == 0 || c->pages >= EN_LIST_PAGES_MAX) {
		ecall_done(c, KS_FAIL_UNAVAILABLE, "keycontrol: failed to list "
		    "keys: the listing does not advance");
		return;
	}
	memcpy(c->next, next, sizeof(c->next));
	list_page(c);
}

/* --- the calls --- */

static void
request(struct ecall *c, enum estage stage, int fill)
{
	if (fill != 0 || c->body.failed) {
		ecall_done(c, KS_FAIL_UNAVAILABLE, "keycontrol: the request "
		    "does not fit");
		return;
	}
	c->stage = stage;
	c->reauthed = false;
	ecall_send(c);
}

void
en_op_create(struct ks_op *op)
{
	struct ecall *c = ecall_new(op);

	buf_init(&c->body, 2 * op->len + 6 * (KES_NAME_MAX +
	    strlen(c->en->s.box_id)) + 128);
	request(c, E_CREATE, en_body_create(&c->body, c->en->s.box_id,
	    c->name, op->value, op->len));
}

void
en_op_get(struct ks_op *op)
{
	struct ecall *c = ecall_new(op);

	buf_init(&c->body, 6 * (KES_NAME_MAX + strlen(c->en->s.box_id)) +
	    64);
	request(c, E_GET, en_body_secret(&c->body, c->en->s.box_id, c->name));
}

void
en_op_del(struct ks_op *op)
{
	struct ecall *c = ecall_new(op);

	buf_init(&c->body, 6 * (KES_NAME_MAX + strlen(c->en->s.box_id)) +
	    64);
	request(c, E_DELETE, en_body_secret(&c->body, c->en->s.box_id,
	    c->name));
}

void
en_op_list(struct ks_op *op)
{
	list_page(ecall_new(op));
}

static void
status_start(struct ecall *c)
{
	c->t0 = now_ns();
	buf_init(&c->body, 6 * strlen(c->en->s.box_id) + 32);
	request(c, E_STATUS, en_body_box(&c->body, c->en->s.box_id));
}

void
en_op_status(struct ks_op *op)
{
	status_start(ecall_new(op));
}

void
en_op_cancel(struct ks_op *op)
{
	struct ecall *c = op->store;

	c->op = NULL;
	ecall_free(c);
}

/* KES's connect: Status once, and no start without it. */
int
en_box_check(struct entrust *en, char *err, size_t errlen)
{
	struct ecall	*c = ecall_new(NULL);
	uint64_t	 end = ev_now() + 12000;
	bool		 done = false;
	int		 rc = -1;

	c->done = &done;
	c->rc = &rc;
	c->err = err;
	c->errlen = errlen;
	status_start(c);
	while (!done && ev_now() < end)
		ev_once(250);
	if (!done) {
		ecall_free(c);
		snprintf(err, errlen, "keycontrol: box '%s': no answer within "
		    "12 s", en->s.box_id);
		return -1;
	}
	return rc == 0 ? 0 : -1;
}
