/*
 * The GCP Secret Manager key store, KES's keystore.gcp.secretmanager
 * (spec/keystores-cloud-and-legacy-config.md §2): each key is a secret
 * named as the key in the configured project, its value the payload of
 * version 1. This file is the store the agent sees (backend.h): the
 * calls, each one or two REST v1 requests (net.h) on the agent's event
 * loop with an OAuth2 access token (oauth2.h). gcp_conf.c holds the
 * settings and the start-up, gcp_json.c reads the answers.
 *
 *   create  POST /v1/projects/<p>/secrets?secretId=<name>, then
 *           POST /v1/<returned name>:addVersion (§2.4: the name Google
 *           returns carries the project number, not the ID)
 *   get     GET /v1/projects/<p>/secrets/<name>/versions/1:access
 *   delete  DELETE /v1/projects/<p>/secrets/<name>
 *   list    GET /v1/projects/<p>/secrets[?pageToken=<t>], every page
 *   status  GET <endpoint> without a token: any answer is reachable
 *
 * A 401 or 403 gets one new token and one more try (at most one new token
 * per 5 s). Transport failures, 429 and 5xx are tried three times, 200 ms
 * to 1 s apart (KES's gRPC client retries UNAVAILABLE and
 * RESOURCE_EXHAUSTED; the REST equivalents are these).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/b64.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/bearer.h"
#include "keystore-agent/gcp.h"
#include "keystore-agent/gcp_json.h"

#define DETAIL		1024
#define ID_MAX		255

enum gstage {
	G_CREATE, G_ADDVERSION, G_GET, G_DELETE, G_LIST, G_STATUS,
};

struct gcall {
	struct bcall		 b;		/* first: the request */
	struct ks_op		*op;
	struct gcp		*g;
	enum gstage		 stage;
	char			 name[KES_NAME_MAX + 1];
	uint64_t		 t0;		/* status: ns */
	char			*next;		/* list: the page token */
	unsigned int		 pages;
};

static bool
retry_gcp(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status == 429 || r->status == 500 ||
		    r->status == 502 || r->status == 503 || r->status == 504;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
		return true;
	default:
		return false;
	}
}

static const struct net_policy call_policy = {
	3, 200, 1000, GCP_ATTEMPT_MS, retry_gcp, NET_WAIT_CONSTANT
};
/* KES's Status: one GET, no retry. */
static const struct net_policy status_policy = {
	1, 0, 0, 2 * GCP_ATTEMPT_MS, NULL, NET_WAIT_CONSTANT
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
gcall_free(struct gcall *c)
{
	bcall_release(&c->b);
	free(c->next);
	freezero(c, sizeof(*c));
}

static void
gcall_done(struct gcall *c, int rc, const char *detail)
{
	struct ks_op *op = c->op;

	c->op = NULL;
	gcall_free(c);
	ks_op_done(op, rc, detail);
}

static void	gcall_answer(struct bcall *, const struct net_resp *);

/* No token came (oauth2.c's error says so, prefixed "gcp: "). */
static void
gcall_failed(struct bcall *b, const char *err)
{
	gcall_done((struct gcall *)b, KS_FAIL_UNAVAILABLE, err);
}

/* Google refuses a token with 401 UNAUTHENTICATED, and with 403 when
 * it lacks a scope. */
static bool
refused(long status)
{
	return status == 401 || status == 403;
}

static struct gcall *
gcall_new(struct ks_op *op)
{
	struct gcall *c = xcalloc(1, sizeof(*c));

	c->op = op;
	c->g = &gcp_state;
	c->b.oa = &c->g->oa;
	c->b.net = c->g->api;
	c->b.pol = &call_policy;
	c->b.refused = refused;
	c->b.answer = gcall_answer;
	c->b.failed = gcall_failed;
	if (op->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", op->name);
	op->store = c;
	return c;
}

static void
gcall_request(struct gcall *c, enum gstage stage, const char *method)
{
	c->stage = stage;
	c->b.method = method;
	c->b.reauthed = false;
	c->b.send_body = stage == G_CREATE || stage == G_ADDVERSION;
	bcall_send(&c->b);
}

static const char *
verb(enum gstage s)
{
	switch (s) {
	case G_CREATE:
	case G_ADDVERSION:
		return "create";
	case G_GET:
		return "read";
	case G_DELETE:
		return "delete";
	case G_LIST:
	case G_STATUS:
		break;
	}
	return "list";
}

/* "gcp: failed to <verb> '<name>': <status>: <message>" (§2.6). */
static void
fail_detail(struct gcall *c, const struct net_resp *r, char *d, size_t dl)
{
	char	st[GCP_DETAIL_MAX + 1], msg[GCP_DETAIL_MAX + 1];

	if (r->fail != NET_OK) {
		snprintf(d, dl, "gcp: failed to %s '%s': %s", verb(c->stage),
		    c->name, r->detail);
		return;
	}
	gcp_parse_error(r->body, r->len, st, sizeof(st), msg, sizeof(msg));
	if (c->stage == G_LIST)
		snprintf(d, dl, "gcp: failed to list keys: %ld %s: %s",
		    r->status, st[0] != '\0' ? st : "(no status)", msg);
	else
		snprintf(d, dl, "gcp: failed to %s '%s': %ld %s: %s",
		    verb(c->stage), c->name, r->status, st[0] != '\0' ? st :
		    "(no status)", msg);
}

static void	answer_create(struct gcall *, const struct net_resp *);
static void	answer_get(struct gcall *, const struct net_resp *);
static void	answer_list(struct gcall *, const struct net_resp *);

static void
gcall_answer(struct bcall *b, const struct net_resp *r)
{
	struct gcall	*c = (struct gcall *)b;
	char		 d[DETAIL];

	if (c->stage == G_STATUS) {
		if (r->fail != NET_OK) {
			snprintf(d, sizeof(d), "gcp: %s", r->detail);
			gcall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		c->op->latency_ns = now_ns() - c->t0;
		gcall_done(c, 0, "");
		return;
	}
	if (r->fail != NET_OK) {
		fail_detail(c, r, d, sizeof(d));
		gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	switch (c->stage) {
	case G_CREATE:
	case G_ADDVERSION:
		answer_create(c, r);
		break;
	case G_GET:
		answer_get(c, r);
		break;
	case G_DELETE:
		if (r->status == 200)
			gcall_done(c, 0, "");
		else if (r->status == 404) {
			snprintf(d, sizeof(d), "key '%s' does not exist",
			    c->name);
			gcall_done(c, KS_FAIL_NOT_FOUND, d);
		} else {
			fail_detail(c, r, d, sizeof(d));
			gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		}
		break;
	case G_LIST:
		answer_list(c, r);
		break;
	case G_STATUS:
		break;
	}
}

/*
 * Step 1 answered: 409 is EXISTS; a Secret's name is where the value
 * goes (step 2). A failed step 2 leaves the empty secret behind, as in
 * KES (§2.6): a later create says EXISTS and a get NOT_FOUND.
 * XXX a step 1 whose first attempt timed out after Google made the
 * secret answers 409 to its retry; KES's gRPC client has the same race.
 */
static void
answer_create(struct gcall *c, const struct net_resp *r)
{
	char	 d[DETAIL / 4], *secret, *b64;
	size_t	 n;

	if (c->stage == G_ADDVERSION) {
		if (r->status == 200)
			gcall_done(c, 0, "");
		else {
			fail_detail(c, r, d, sizeof(d));
			gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		}
		return;
	}
	if (r->status == 409) {
		snprintf(d, sizeof(d), "key '%s' already exists", c->name);
		gcall_done(c, KS_FAIL_EXISTS, d);
		return;
	}
	if (r->status != 200) {
		fail_detail(c, r, d, sizeof(d));
		gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (gcp_parse_secret(r->body, r->len, &secret, d, sizeof(d)) == -1 ||
	    strlen(secret) + 16 >= sizeof(c->b.path)) {
		char why[DETAIL];

		snprintf(why, sizeof(why), "gcp: failed to create '%s': %s",
		    c->name, secret == NULL ? d : "the secret's name is too "
		    "long");
		free(secret);
		gcall_done(c, KS_FAIL_UNAVAILABLE, why);
		return;
	}
	snprintf(c->b.path, sizeof(c->b.path), "/v1/%s:addVersion", secret);
	free(secret);
	/* {"payload":{"data":"<base64 value>"}} */
	n = b64_encoded_len(c->op->len);
	buf_init(&c->b.body, n + 64);
	b64 = xmalloc(n + 1);
	b64_encode(c->op->value, c->op->len, b64);
	(void)(buf_put(&c->b.body, "{\"payload\":{\"data\":\"", 20) |
	    buf_put(&c->b.body, b64, n) | buf_put(&c->b.body, "\"}}", 3));
	freezero(b64, n + 1);
	gcall_request(c, G_ADDVERSION, "POST");
}

static void
answer_get(struct gcall *c, const struct net_resp *r)
{
	char	 d[DETAIL], why[DETAIL / 4];
	uint8_t	*val;
	size_t	 len;

	if (r->status == 404) {
		snprintf(d, sizeof(d), "key '%s' does not exist", c->name);
		gcall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	}
	if (r->status != 200) {
		fail_detail(c, r, d, sizeof(d));
		gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (gcp_parse_access(r->body, r->len, &val, &len, why,
	    sizeof(why)) == -1) {
		snprintf(d, sizeof(d), "gcp: failed to read '%s': %s",
		    c->name, why);
		gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (buf_put(c->op->out, val, len) == -1)
		gcall_done(c, KS_FAIL_UNAVAILABLE, "gcp: no room for the "
		    "value");
	else
		gcall_done(c, 0, "");
	freezero(val, len);
}

static int
list_name(const char *id, void *arg)
{
	return ks_op_name(arg, id);
}

static void
list_page(struct gcall *c)
{
	struct buf	q;
	int		n;

	n = snprintf(c->b.path, sizeof(c->b.path), "/v1/projects/%s/secrets",
	    c->g->s.project);
	if (c->next != NULL) {
		buf_init(&q, GCP_PATH_MAX);
		(void)oauth2_form_put(&q, "pageToken", c->next);
		if (q.failed || (size_t)n + q.len + 2 > sizeof(c->b.path)) {
			buf_release(&q);
			gcall_done(c, KS_FAIL_UNAVAILABLE, "gcp: failed to "
			    "list keys: the page token is too long");
			return;
		}
		c->b.path[n] = '?';
		memcpy(c->b.path + n + 1, q.data, q.len);
		c->b.path[n + 1 + q.len] = '\0';
		buf_release(&q);
	}
	c->pages++;
	gcall_request(c, G_LIST, "GET");
}

static void
answer_list(struct gcall *c, const struct net_resp *r)
{
	char	 d[DETAIL], why[DETAIL / 4], *next;
	size_t	 n;

	if (r->status != 200) {
		fail_detail(c, r, d, sizeof(d));
		gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (gcp_parse_list(r->body, r->len, list_name, c->op, &next, &n,
	    why, sizeof(why)) == -1) {
		snprintf(d, sizeof(d), "gcp: failed to list keys: %s", why);
		gcall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (next == NULL) {
		gcall_done(c, 0, "");
		return;
	}
	/* A token that repeats, or no end in sight, fails the listing
	 * rather than loop. */
	if ((c->next != NULL && strcmp(next, c->next) == 0) ||
	    c->pages >= GCP_LIST_PAGES) {
		free(next);
		gcall_done(c, KS_FAIL_UNAVAILABLE, "gcp: failed to list keys: "
		    "the listing does not end (a page token repeats)");
		return;
	}
	free(c->next);
	c->next = next;
	list_page(c);
}

/* --- the calls --- */

/* A Secret Manager ID: 1 to 255 of [A-Za-z0-9_-] (§2.4). */
static bool
id_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n <= ID_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

void
gcp_op_create(struct ks_op *op)
{
	struct gcall *c;

	if (!id_ok(op->name)) {
		ks_op_done(op, KS_FAIL_INVALID, "gcp: a GCP secret ID is 1 to "
		    "255 letters, digits, '_' and '-'");
		return;
	}
	c = gcall_new(op);
	snprintf(c->b.path, sizeof(c->b.path), "/v1/projects/%s/secrets?"
	    "secretId=%s", c->g->s.project, c->name);
	buf_init(&c->b.body, 64);
	(void)buf_put(&c->b.body, "{\"replication\":{\"automatic\":{}}}", 32);
	gcall_request(c, G_CREATE, "POST");
}

/* A name Secret Manager cannot hold is a key it does not have. */
static bool
absent(struct ks_op *op)
{
	char d[DETAIL];

	if (id_ok(op->name))
		return false;
	snprintf(d, sizeof(d), "key '%s' does not exist", op->name);
	ks_op_done(op, KS_FAIL_NOT_FOUND, d);
	return true;
}

void
gcp_op_get(struct ks_op *op)
{
	struct gcall *c;

	if (absent(op))
		return;
	c = gcall_new(op);
	/* Always version 1, as KES. */
	snprintf(c->b.path, sizeof(c->b.path), "/v1/projects/%s/secrets/%s/"
	    "versions/1:access", c->g->s.project, c->name);
	gcall_request(c, G_GET, "GET");
}

void
gcp_op_del(struct ks_op *op)
{
	struct gcall *c;

	if (absent(op))
		return;
	c = gcall_new(op);
	snprintf(c->b.path, sizeof(c->b.path), "/v1/projects/%s/secrets/%s",
	    c->g->s.project, c->name);
	gcall_request(c, G_DELETE, "DELETE");
}

void
gcp_op_list(struct ks_op *op)
{
	list_page(gcall_new(op));
}

void
gcp_op_status(struct ks_op *op)
{
	struct gcall *c = gcall_new(op);

	c->t0 = now_ns();
	c->b.oa = NULL;
	c->b.pol = &status_policy;
	snprintf(c->b.path, sizeof(c->b.path), "/");
	gcall_request(c, G_STATUS, "GET");
}

void
gcp_op_cancel(struct ks_op *op)
{
	struct gcall *c = op->store;

	c->op = NULL;
	gcall_free(c);
}

/* --- start-up --- */

struct probe {
	bool	done;
	char	err[512];
};

static void
probe_done(struct ks_op *op, int result, const char *detail)
{
	struct probe *p = op->owner_arg;

	p->done = true;
	snprintf(p->err, sizeof(p->err), "%s", result == 0 ? "" : detail);
}

static int
probe_name(struct ks_op *op, const char *name)
{
	(void)op;
	(void)name;
	return -1;
}

int
gcp_probe(struct gcp *g, char *err, size_t errlen)
{
	static const struct ks_op_owner owner = { probe_done, probe_name };
	struct ks_op	op = { .type = KS_OP_STATUS, .owner = &owner };
	struct probe	p = { .done = false };
	uint64_t	end = ev_now() + 3 * GCP_ATTEMPT_MS;

	(void)g;
	op.owner_arg = &p;
	gcp_op_status(&op);
	while (!p.done && ev_now() < end)
		ev_once(250);
	if (!p.done) {
		gcp_op_cancel(&op);
		snprintf(err, errlen, "gcp: %s does not answer", g->s.base);
		return -1;
	}
	if (p.err[0] != '\0') {
		snprintf(err, errlen, "%s", p.err);
		return -1;
	}
	return 0;
}
