/*
 * The HashiCorp Vault key store (spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §1): keys in a KV v1 or v2 engine, byte-compatible with KES
 * (§1.4), optionally wrapped by a transit key (§1.7). This file is the
 * store the agent sees (backend.h): its settings, start-up, and the calls,
 * each a short chain of HTTPS requests (net.h) on the agent's event loop.
 * vault_auth.c keeps the token, vault_json.c reads and writes the JSON.
 *
 * A call is a struct vcall with the ks_ops waiting for it: one, except
 * for gets, where concurrent gets of one name share one fetch. Requests
 * carry X-Vault-Request: true, the token and the store's namespace; a 403
 * makes one re-login and one retry (keyward V6). While the health loop
 * sees Vault sealed, calls fail at once (§1.5), and status says the store
 * is unreachable (V10).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/vault.h"

#define DETAIL		1024

enum vstage {
	V_PROBE, V_ENCRYPT, V_WRITE,		/* create */
	V_READ, V_DECRYPT,			/* get */
	V_DELETE, V_LIST, V_STATUS,
};

struct vcall {
	enum ks_op_type		 type;
	enum vstage		 stage;
	struct vault		*v;
	struct ks_op		**ops;		/* waiting for this call */
	size_t			 nops, opscap;
	TAILQ_ENTRY(vcall)	 entry;		/* v->gets */
	bool			 listed;
	char			 name[KES_NAME_MAX + 1];
	char			 loc[VAULT_PATH_MAX];	/* the secret */
	char			 rloc[VAULT_PATH_MAX];	/* prefix/name */
	/* The request in flight, kept to send again after a re-login. */
	const char		*method;
	char			 url[VAULT_PATH_MAX];
	struct buf		 body;
	bool			 auth;
	const char		*ns;
	uint64_t		 gen;		/* token it was sent with */
	bool			 relogged;
	struct net_req		*req;
	struct vault_waiter	 wait;
	uint64_t		 t0;		/* status: ns */
	uint8_t			*value;		/* create: NUL-terminated */
	size_t			 vlen;		/* copy; get: the answer */
};


/* --- requests --- */

/* §1.3: transport errors except a refused certificate; 412, 429, and
 * 5xx but 501. */
static bool
retry_vault(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status == 412 || r->status == 429 ||
		    (r->status >= 500 && r->status != 501);
	case NET_TLS_VERIFY:
	case NET_TOO_LARGE:
	case NET_CANCELLED:
		return false;
	default:
		return true;
	}
}

/* renew-self: KES tries 3 times, and not again after a 4xx. */
static bool
retry_renew(const struct net_resp *r)
{
	if (r->fail == NET_OK)
		return r->status >= 500;
	return retry_vault(r);
}

const struct net_policy vault_call_policy = {
	3, 1000, 1500, VAULT_CALL_ATTEMPT_MS, retry_vault, NET_WAIT_GROWING
};
const struct net_policy vault_auth_policy = {
	3, 1000, 1500, VAULT_AUTH_ATTEMPT_MS, retry_vault, NET_WAIT_GROWING
};
const struct net_policy vault_renew_policy = {
	3, 1000, 1500, VAULT_AUTH_ATTEMPT_MS, retry_renew, NET_WAIT_GROWING
};
/* The loop asks again at the next ping. */
const struct net_policy vault_health_policy = {
	1, 0, 0, VAULT_AUTH_ATTEMPT_MS, NULL, NET_WAIT_GROWING
};

struct net_req *
vault_send(struct vault *v, const struct net_policy *pol, const char *method,
    const char *url, const struct buf *body, bool auth, const char *ns,
    net_done_cb cb, void *arg)
{
	const char		*h[4];
	char			 tok[VAULT_TOKEN_MAX + 32], nsh[512];
	struct net_req		*req;
	size_t			 n = 0;

	/* No Content-Type, as the SDK sends none (§1.3). */
	h[n++] = "X-Vault-Request: true";
	if (auth) {
		snprintf(tok, sizeof(tok), "X-Vault-Token: %s", v->token);
		h[n++] = tok;
	}
	if (ns != NULL && ns[0] != '\0') {
		snprintf(nsh, sizeof(nsh), "X-Vault-Namespace: %s", ns);
		h[n++] = nsh;
	}
	h[n] = NULL;
	req = net_request(v->net, method, url, h,
	    body != NULL ? body->data : NULL, body != NULL ? body->len : 0,
	    pol, cb, arg);
	explicit_bzero(tok, sizeof(tok));
	return req;
}

/* --- calls --- */

static void	vcall_send(struct vcall *);

static void
vcall_free(struct vcall *c)
{
	if (c->req != NULL)
		net_cancel(c->req);
	vault_unwait(c->v, &c->wait);
	if (c->listed)
		TAILQ_REMOVE(&c->v->gets, c, entry);
	buf_release(&c->body);
	if (c->value != NULL)
		freezero(c->value, c->vlen + 1);
	free(c->ops);
	free(c);
}

static void
vcall_add(struct vcall *c, struct ks_op *op)
{
	if (c->nops == c->opscap) {
		c->opscap = c->opscap ? c->opscap * 2 : 1;
		c->ops = xreallocarray(c->ops, c->opscap, sizeof(*c->ops));
	}
	c->ops[c->nops++] = op;
	op->store = c;
}

/* Every op waiting for c hears rc (and a get its value); c is gone. */
static void
vcall_done(struct vcall *c, int rc, const char *detail)
{
	struct ks_op	**ops = c->ops;
	size_t		  i, n = c->nops;

	c->ops = NULL;
	c->nops = 0;
	if (c->listed) {
		TAILQ_REMOVE(&c->v->gets, c, entry);
		c->listed = false;
	}
	for (i = 0; i < n; i++) {
		if (rc == 0 && c->type == KS_OP_GET &&
		    buf_put(ops[i]->out, c->value, c->vlen) == -1)
			ks_op_done(ops[i], KS_FAIL_UNAVAILABLE, "vault: no "
			    "room for the value");
		else
			ks_op_done(ops[i], rc, detail);
	}
	free(ops);
	vcall_free(c);
}

static struct vcall *
vcall_new(struct ks_op *op)
{
	struct vcall *c = xcalloc(1, sizeof(*c));

	c->type = op->type;
	c->v = &vault_state;
	c->auth = true;
	c->ns = vault_state.s.namespace;
	c->wait.arg = c;
	if (op->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", op->name);
	vcall_add(c, op);
	return c;
}

/* The next request of c: method, URL (loc with query), body (taken). */
static void
vcall_request(struct vcall *c, enum vstage stage, const char *method,
    const char *loc, const char *query)
{
	c->stage = stage;
	c->method = method;
	c->relogged = false;
	if (vault_url(c->url, sizeof(c->url), loc, query) == -1) {
		vcall_done(c, KS_FAIL_UNAVAILABLE, "vault: the request path "
		    "is too long");
		return;
	}
	if (c->body.failed) {
		vcall_done(c, KS_FAIL_UNAVAILABLE, "vault: the request does "
		    "not fit");
		return;
	}
	vcall_send(c);
}

static void	vcall_answer(struct net_req *, const struct net_resp *,
		    void *);

static void
vcall_send(struct vcall *c)
{
	c->gen = c->v->gen;
	if (c->stage == V_STATUS)
		c->req = vault_send(c->v, &vault_call_policy, c->method,
		    c->url, NULL, false, NULL, vcall_answer, c);
	else
		c->req = vault_send(c->v, &vault_call_policy, c->method, c->url,
		    c->body.data != NULL ? &c->body : NULL, c->auth, c->ns,
		    vcall_answer, c);
}

static void
relogged(struct vault_waiter *w, int rc, const char *err)
{
	struct vcall *c = w->arg;

	if (rc == 0)
		vcall_send(c);
	else
		vcall_done(c, KS_FAIL_UNAVAILABLE, err);
}

static const char *
stage_verb(enum vstage s)
{
	switch (s) {
	case V_PROBE:
	case V_ENCRYPT:
	case V_WRITE:
		return "create";
	case V_READ:
	case V_DECRYPT:
		return "read";
	case V_DELETE:
		return "delete";
	case V_LIST:
		return "list";
	case V_STATUS:
		break;
	}
	return "reach";
}

static void	answer_create(struct vcall *, const struct net_resp *);
static void	answer_get(struct vcall *, const struct net_resp *);
static void	answer_other(struct vcall *, const struct net_resp *);

static void
vcall_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct vcall	*c = arg;
	char		 d[DETAIL];
	int		 rc;

	c->req = NULL;
	/* V6: a token refused (expired, revoked, replication lag) gets one
	 * new login and one more try. */
	if (r->fail == NET_OK && r->status == 403 && c->auth &&
	    !c->relogged && (vault_errors_has(r->body, r->len,
	    "permission denied") || vault_errors_has(r->body, r->len,
	    "invalid token"))) {
		c->relogged = true;
		c->wait.cb = relogged;
		if ((rc = vault_relogin(c->v, c->gen, &c->wait)) == 1)
			vcall_send(c);
		if (rc >= 0)
			return;
	}
	if (r->fail != NET_OK) {
		snprintf(d, sizeof(d), "vault: failed to %s '%.200s': %s",
		    stage_verb(c->stage), c->stage == V_STATUS ? "sys/health" :
		    c->type == KS_OP_CREATE ? c->loc : c->rloc, r->detail);
		vcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	switch (c->type) {
	case KS_OP_CREATE:
		answer_create(c, r);
		break;
	case KS_OP_GET:
		answer_get(c, r);
		break;
	default:
		answer_other(c, r);
		break;
	}
}

/* --- create: probe, encrypt, write (§1.5 Create) --- */

static void
create_write(struct vcall *c, const char *value)
{
	buf_release(&c->body);
	buf_init(&c->body, 2 * strlen(value) + 2 * KES_NAME_MAX + 64);
	(void)vault_body_kv(&c->body, c->v->s.kv_version, c->name, value);
	vcall_request(c, V_WRITE, "PUT", c->loc, NULL);
}

static void
answer_create(struct vcall *c, const struct net_resp *r)
{
	struct vault	*v = c->v;
	char		 d[DETAIL], loc[VAULT_PATH_MAX], *ct, why[320];
	uint8_t		*none;
	size_t		 nlen;

	switch (c->stage) {
	case V_PROBE:
		switch (vault_parse_kv(v->s.kv_version, true, c->name, c->loc,
		    r->status, r->body, r->len, &none, &nlen, d, sizeof(d))) {
		case VAULT_KV_EXISTS:
			snprintf(d, sizeof(d), "key '%.200s' exists", c->name);
			vcall_done(c, KS_FAIL_EXISTS, d);
			return;
		case VAULT_KV_ABSENT:
			break;
		default:
			vcall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		if (v->s.transit_key[0] == '\0') {
			create_write(c, (const char *)c->value);
			return;
		}
		buf_init(&c->body, 2 * c->vlen + 64);
		(void)vault_body_plaintext(&c->body, c->value, c->vlen);
		if (vault_path_join(loc, sizeof(loc), v->s.transit_engine,
		    "encrypt", v->s.transit_key, (char *)NULL) == -1)
			loc[0] = '\0';
		vcall_request(c, V_ENCRYPT, "POST", loc, NULL);
		return;
	case V_ENCRYPT:
		if (vault_parse_encrypt(r->status, r->body, r->len, &ct, why,
		    sizeof(why)) == -1) {
			snprintf(d, sizeof(d), "vault: failed to create '%.200s': "
			    "%s", c->loc, why);
			vcall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		create_write(c, ct);
		free(ct);
		return;
	default:
		switch (vault_parse_write(r->status, r->body, r->len, c->loc,
		    d, sizeof(d))) {
		case 0:
			vcall_done(c, 0, "");
			break;
		case 1:
			vcall_done(c, KS_FAIL_EXISTS, d);
			break;
		default:
			vcall_done(c, KS_FAIL_UNAVAILABLE, d);
			break;
		}
	}
}

/* --- get: read, decrypt --- */

static void
answer_get(struct vcall *c, const struct net_resp *r)
{
	struct vault	*v = c->v;
	char		 d[DETAIL], why[320], loc[VAULT_PATH_MAX];
	uint8_t		*val;
	size_t		 len;

	if (c->stage == V_DECRYPT) {
		if (vault_parse_decrypt(r->status, r->body, r->len, &val,
		    &len, why, sizeof(why)) == -1) {
			snprintf(d, sizeof(d), "vault: failed to read '%.200s': "
			    "%s", c->rloc, why);
			vcall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		freezero(c->value, c->vlen + 1);
		c->value = val;
		c->vlen = len;
		/* vcall_free wipes vlen + 1 bytes: val has room for them. */
		vcall_done(c, 0, "");
		return;
	}
	switch (vault_parse_kv(v->s.kv_version, false, c->name, c->rloc,
	    r->status, r->body, r->len, &c->value, &c->vlen, d, sizeof(d))) {
	case VAULT_KV_ABSENT:
		snprintf(d, sizeof(d), "key '%.200s' does not exist", c->name);
		vcall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	case VAULT_KV_VALUE:
		break;
	default:
		vcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (!vault_is_transit(c->value, c->vlen)) {
		vcall_done(c, 0, "");
		return;
	}
	if (v->s.transit_key[0] == '\0') {
		snprintf(d, sizeof(d), "vault: failed to read '%.200s': key is "
		    "encrypted with vault transit key", c->rloc);
		vcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	buf_init(&c->body, 2 * c->vlen + 64);
	(void)vault_body_ciphertext(&c->body, (const char *)c->value);
	if (vault_path_join(loc, sizeof(loc), v->s.transit_engine, "decrypt",
	    v->s.transit_key, (char *)NULL) == -1)
		loc[0] = '\0';
	vcall_request(c, V_DECRYPT, "POST", loc, NULL);
}

/* --- delete, list, status --- */

static int
list_name(const char *name, void *arg)
{
	return ks_op_name(arg, name);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
answer_other(struct vcall *c, const struct net_resp *r)
{
	struct vault_health	 h;
	char			 d[DETAIL], why[320];
	int			 rc = 0;

	switch (c->stage) {
	case V_DELETE:
		if (vault_parse_delete(r->status, r->body, r->len, c->rloc, d,
		    sizeof(d)) == -1)
			rc = KS_FAIL_UNAVAILABLE;
		break;
	case V_LIST:
		if (vault_parse_list(r->status, r->body, r->len, c->loc,
		    list_name, c->ops[0], d, sizeof(d)) == -1)
			rc = KS_FAIL_UNAVAILABLE;
		break;
	default:
		rc = KS_FAIL_UNAVAILABLE;
		if (vault_parse_health(r->status, r->body, r->len, &h, why,
		    sizeof(why)) == -1)
			snprintf(d, sizeof(d), "vault: sys/health: %s", why);
		else if (!h.initialized)
			snprintf(d, sizeof(d), "vault: not initialized");
		else if (h.sealed)
			snprintf(d, sizeof(d), "vault: key store is sealed");
		else {
			c->ops[0]->latency_ns = now_ns() - c->t0;
			rc = 0;
			d[0] = '\0';
		}
		if (rc == 0 || h.sealed)
			c->v->sealed = h.sealed;
		break;
	}
	vcall_done(c, rc, rc == 0 ? "" : d);
}

/* --- the calls --- */

/* The secret of a name (§1.4): v1 <engine>/<prefix>/<n>, v2 data/ or
 * metadata/ under the engine. */
static void
vcall_loc(struct vcall *c, const char *v2dir)
{
	const struct vault_settings *s = &c->v->s;

	if (vault_path_join(c->loc, sizeof(c->loc), s->engine,
	    s->kv_version == 2 ? v2dir : "", s->prefix, c->name,
	    (char *)NULL) == -1 ||
	    vault_path_join(c->rloc, sizeof(c->rloc), s->prefix, c->name,
	    (char *)NULL) == -1)
		c->loc[0] = c->rloc[0] = '\0';
}

/* A call refused before any request: Vault is sealed (§1.5). */
static bool
sealed(struct ks_op *op)
{
	if (!vault_state.sealed)
		return false;
	ks_op_done(op, KS_FAIL_UNAVAILABLE, "vault: key store is sealed");
	return true;
}

void
vault_op_create(struct ks_op *op)
{
	struct vcall *c;

	if (memchr(op->value, '\0', op->len) != NULL) {
		ks_op_done(op, KS_FAIL_INVALID, "vault: a stored value is "
		    "text without NUL bytes");
		return;
	}
	if (sealed(op))
		return;
	c = vcall_new(op);
	c->value = xmalloc(op->len + 1);
	memcpy(c->value, op->value, op->len);
	c->value[op->len] = '\0';
	c->vlen = op->len;
	vcall_loc(c, "data");
	vcall_request(c, V_PROBE, "GET", c->loc, NULL);
}

void
vault_op_get(struct ks_op *op)
{
	struct vcall *c;

	if (sealed(op))
		return;
	TAILQ_FOREACH(c, &vault_state.gets, entry)
		if (strcmp(c->name, op->name) == 0) {
			vcall_add(c, op);
			return;
		}
	c = vcall_new(op);
	TAILQ_INSERT_TAIL(&vault_state.gets, c, entry);
	c->listed = true;
	vcall_loc(c, "data");
	/* V4: version 1, which KES wrote, whatever came after. */
	vcall_request(c, V_READ, "GET", c->loc,
	    vault_state.s.kv_version == 2 ? "version=1" : NULL);
}

void
vault_op_del(struct ks_op *op)
{
	struct vcall *c;

	if (sealed(op))
		return;
	c = vcall_new(op);
	vcall_loc(c, "metadata");
	vcall_request(c, V_DELETE, "DELETE", c->loc, NULL);
}

void
vault_op_list(struct ks_op *op)
{
	struct vcall *c;

	if (sealed(op))
		return;
	c = vcall_new(op);
	if (vault_path_join(c->loc, sizeof(c->loc), vault_state.s.engine,
	    vault_state.s.kv_version == 2 ? "metadata" : "", vault_state.s.prefix,
	    (char *)NULL) == -1)
		c->loc[0] = '\0';
	vcall_request(c, V_LIST, "GET", c->loc, "list=true");
}

/* Asks Vault even while sealed: that is how it ends (§1.9). */
void
vault_op_status(struct ks_op *op)
{
	struct vcall *c = vcall_new(op);

	c->auth = false;
	c->ns = NULL;
	c->t0 = now_ns();
	c->stage = V_STATUS;
	c->method = "GET";
	snprintf(c->url, sizeof(c->url), "%s", VAULT_HEALTH_URL);
	vcall_send(c);
}

void
vault_op_cancel(struct ks_op *op)
{
	struct vcall	*c = op->store;
	size_t		 i;

	for (i = 0; i < c->nops; i++)
		if (c->ops[i] == op) {
			c->ops[i] = c->ops[--c->nops];
			break;
		}
	if (c->nops == 0)
		vcall_free(c);
}
