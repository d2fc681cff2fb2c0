/*
 * The Azure Key Vault key store, KES's keystore.azure.keyvault (spec/
 * keystores-cloud-and-legacy-config.md §3): each key is a secret named
 * as the key whose value is the stored value; the OLDEST version wins.
 * This file is the store the agent sees (backend.h): KES's algorithms of
 * §3.4 as request chains on the agent's event loop (net.h), each with an
 * access token (oauth2.h).
 *
 *   create  GET the latest version (200: EXISTS), PUT; a name deleted
 *           but not purged is purged (up to 25 tries) and PUT again (up
 *           to 7 tries while Key Vault is still deleting it)
 *   get     the versions (first page; more than one page: fail), then
 *           the oldest version, which must be enabled and valid now
 *   delete  DELETE (404 is fine), then purge (up to 10 tries; still
 *           being deleted counts as done: the next create purges)
 *   list    every page, nextLink followed (same vault only)
 *   status  GET <endpoint> without a token: any answer is reachable
 *
 * A 401 gets one new token and one more try (at most one per 5 s).
 * Transport failures, 408, 429 and 5xx are tried three times, 200 ms to
 * 1 s apart (azcore retries the same, more often than the agent's
 * deadline allows). Where keyward departs from KES: a 404 on the
 * versions listing is NOT_FOUND (KES: OTHER, §3.4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/json_out.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/azure.h"
#include "keystore-agent/azure_json.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/bearer.h"

#define DETAIL		1024
#define Q		"?api-version=" AZ_API_VERSION

enum astage {
	A_PROBE, A_SET, A_PURGE_C, A_VERSIONS, A_GETVER, A_DELETE, A_PURGE_D,
	A_LIST, A_STATUS,
};

struct acall {
	struct bcall		 b;		/* first: the request */
	struct ks_op		*op;
	struct azure		*az;
	enum astage		 stage;
	char			 name[KES_NAME_MAX + 1];
	struct ev_timer		 pause;
	uint64_t		 t0;
	unsigned int		 tries;		/* purges or PUTs so far */
	bool			 purged;
	unsigned int		 pages;
};

static bool
retry_az(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status == 408 || r->status == 429 ||
		    r->status == 500 || r->status == 502 ||
		    r->status == 503 || r->status == 504;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
		return true;
	default:
		return false;
	}
}

static const struct net_policy call_policy = {
	3, 200, 1000, AZ_ATTEMPT_MS, retry_az, NET_WAIT_CONSTANT
};
static const struct net_policy status_policy = {
	1, 0, 0, 2 * AZ_ATTEMPT_MS, NULL, NET_WAIT_CONSTANT
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
acall_free(struct acall *c)
{
	bcall_release(&c->b);
	ev_timer_cancel(&c->pause);
	freezero(c, sizeof(*c));
}

static void
acall_done(struct acall *c, int rc, const char *detail)
{
	struct ks_op *op = c->op;

	c->op = NULL;
	acall_free(c);
	ks_op_done(op, rc, detail);
}

static void	acall_answer(struct bcall *, const struct net_resp *);

/* No token came (oauth2.c's error says so, prefixed "azure: "). */
static void
acall_failed(struct bcall *b, const char *err)
{
	acall_done((struct acall *)b, KS_FAIL_UNAVAILABLE, err);
}

/* Key Vault refuses a token with 401 (403 is a permission). */
static bool
refused(long status)
{
	return status == 401;
}

static struct acall *
acall_new(struct ks_op *op)
{
	struct acall *c = xcalloc(1, sizeof(*c));

	c->op = op;
	c->az = &az_state;
	c->b.oa = &c->az->oa;
	c->b.net = c->az->api;
	c->b.pol = &call_policy;
	c->b.refused = refused;
	c->b.answer = acall_answer;
	c->b.failed = acall_failed;
	if (op->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", op->name);
	op->store = c;
	return c;
}

/* The request of stage to pre<name>post?api-version=7.5. */
static void
acall_request(struct acall *c, enum astage stage, const char *method,
    const char *pre, const char *post)
{
	c->stage = stage;
	c->b.method = method;
	c->b.reauthed = false;
	c->b.send_body = stage == A_SET;
	snprintf(c->b.path, sizeof(c->b.path), "%s%s%s" Q, pre, c->name,
	    post);
	bcall_send(&c->b);
}

/* 200 ms + uniform[0, 800) ms, as KES sleeps between purges and PUTs. */
static void
resend(struct ev_timer *t)
{
	struct acall *c = t->arg;

	c->b.reauthed = false;
	bcall_send(&c->b);
}

static void
pause_then_resend(struct acall *c)
{
	uint16_t r = 0;

	(void)RAND_bytes((unsigned char *)&r, sizeof(r));
	ev_timer_set(&c->pause, 200 + r % 800, resend, c);
}

static const char *
verb(enum astage s)
{
	switch (s) {
	case A_PROBE:
	case A_SET:
	case A_PURGE_C:
		return "create";
	case A_VERSIONS:
	case A_GETVER:
		return "read";
	case A_DELETE:
	case A_PURGE_D:
		return "delete";
	case A_LIST:
	case A_STATUS:
		break;
	}
	return "list";
}

struct azerr {
	char	code[64], inner[64], msg[AZ_DETAIL_MAX + 1];
};

static void
fail(struct acall *c, const struct net_resp *r, const char *what)
{
	struct azerr	e;
	char		d[DETAIL];

	if (r->fail != NET_OK)
		snprintf(d, sizeof(d), "azure: failed to %s '%s': %s",
		    verb(c->stage), c->name, r->detail);
	else {
		az_parse_error(r->body, r->len, e.code, sizeof(e.code),
		    e.inner, sizeof(e.inner), e.msg, sizeof(e.msg));
		snprintf(d, sizeof(d), "azure: failed to %s '%s'%s%s: %ld "
		    "%s (%s)", verb(c->stage), c->name, what != NULL ? ": " :
		    "", what != NULL ? what : "", r->status,
		    e.inner[0] != '\0' ? e.inner : e.code, e.msg);
	}
	acall_done(c, KS_FAIL_UNAVAILABLE, d);
}

static void	answer(struct acall *, const struct net_resp *);

static void
acall_answer(struct bcall *b, const struct net_resp *r)
{
	struct acall	*c = (struct acall *)b;
	char		 d[DETAIL];

	if (c->stage == A_STATUS) {
		if (r->fail != NET_OK) {
			snprintf(d, sizeof(d), "azure: %s", r->detail);
			acall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		c->op->latency_ns = now_ns() - c->t0;
		acall_done(c, 0, "");
		return;
	}
	if (r->fail != NET_OK) {
		fail(c, r, NULL);
		return;
	}
	answer(c, r);
}

static bool
inner_is(const struct net_resp *r, const char *code)
{
	struct azerr e;

	az_parse_error(r->body, r->len, e.code, sizeof(e.code), e.inner,
	    sizeof(e.inner), e.msg, sizeof(e.msg));
	return strcmp(e.inner, code) == 0;
}

static void
put_value(struct acall *c)
{
	acall_request(c, A_SET, "PUT", "/secrets/", "");
}

static void
answer_create(struct acall *c, const struct net_resp *r)
{
	char	 d[DETAIL];

	switch (c->stage) {
	case A_PROBE:
		if (r->status == 200) {
			snprintf(d, sizeof(d), "key '%s' already exists",
			    c->name);
			acall_done(c, KS_FAIL_EXISTS, d);
		} else if (r->status == 404)
			put_value(c);
		else
			fail(c, r, inner_is(r, "ForbiddenByPolicy") ?
			    "insufficient permissions to check whether it "
			    "exists" : NULL);
		return;
	case A_SET:
		if (r->status == 200) {
			acall_done(c, 0, "");
			return;
		}
		if (r->status == 409 && !c->purged &&
		    (inner_is(r, "ObjectIsDeletedButRecoverable") ||
		    inner_is(r, "ObjectIsBeingDeleted"))) {
			c->tries = 1;
			acall_request(c, A_PURGE_C, "DELETE",
			    "/deletedsecrets/", "");
			return;
		}
		if (r->status == 409 && c->purged &&
		    inner_is(r, "ObjectIsBeingDeleted") &&
		    c->tries < AZ_SET_RETRIES) {
			c->tries++;
			pause_then_resend(c);
			return;
		}
		if (r->status == 409 && inner_is(r,
		    "ObjectIsDeletedButRecoverable")) {
			snprintf(d, sizeof(d), "azure: key '%s' already exists "
			    "but is currently marked as deleted. Either restore "
			    "or purge '%s'", c->name, c->name);
			acall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		fail(c, r, NULL);
		return;
	case A_PURGE_C:
		if (r->status == 204 || r->status == 200 || r->status == 404) {
			c->purged = true;
			c->tries = 1;
			put_value(c);
			return;
		}
		if (r->status == 409 && inner_is(r, "ObjectIsBeingDeleted") &&
		    c->tries < AZ_PURGE_CREATE) {
			c->tries++;
			pause_then_resend(c);
			return;
		}
		fail(c, r, "failed to purge deleted secret");
		return;
	default:
		return;
	}
}

static void
answer_get(struct acall *c, const struct net_resp *r)
{
	char	 d[DETAIL], why[256], *ver, *val;
	size_t	 vlen;
	bool	 more;
	int	 rc;

	if (c->stage == A_VERSIONS) {
		if (r->status == 404) {
			snprintf(d, sizeof(d), "key '%s' does not exist",
			    c->name);
			acall_done(c, KS_FAIL_NOT_FOUND, d);
			return;
		}
		if (r->status != 200) {
			fail(c, r, "failed to list versions");
			return;
		}
		if (az_parse_versions(r->body, r->len, &ver, &more, why,
		    sizeof(why)) == -1) {
			snprintf(d, sizeof(d), "azure: failed to read '%s': %s",
			    c->name, why);
			acall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		if (more) {
			free(ver);
			snprintf(d, sizeof(d), "azure: failed to read '%s': "
			    "TooManyObjectVersions (more than one page of "
			    "versions)", c->name);
			acall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		if (ver == NULL) {
			snprintf(d, sizeof(d), "key '%s' does not exist",
			    c->name);
			acall_done(c, KS_FAIL_NOT_FOUND, d);
			return;
		}
		{
			char post[AZ_PATH_MAX / 2];

			snprintf(post, sizeof(post), "/%s", ver);
			acall_request(c, A_GETVER, "GET", "/secrets/", post);
		}
		free(ver);
		return;
	}
	if (r->status != 200) {
		fail(c, r, NULL);
		return;
	}
	rc = az_parse_bundle(r->body, r->len, (int64_t)time(NULL), &val,
	    &vlen, why, sizeof(why));
	if (rc != 0) {
		snprintf(d, sizeof(d), "azure: failed to read '%s': %s",
		    c->name, why);
		acall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (buf_put(c->op->out, val, vlen) == -1)
		acall_done(c, KS_FAIL_UNAVAILABLE, "azure: no room for the "
		    "value");
	else
		acall_done(c, 0, "");
	freezero(val, vlen + 1);
}

static void
answer_delete(struct acall *c, const struct net_resp *r)
{
	if (c->stage == A_DELETE) {
		if (r->status != 200 && r->status != 404) {
			fail(c, r, NULL);
			return;
		}
		c->tries = 1;
		acall_request(c, A_PURGE_D, "DELETE", "/deletedsecrets/", "");
		return;
	}
	if (r->status == 204 || r->status == 200 || r->status == 404) {
		acall_done(c, 0, "");
		return;
	}
	if (r->status == 409 && inner_is(r, "ObjectIsBeingDeleted")) {
		if (c->tries < AZ_PURGE_DELETE) {
			c->tries++;
			pause_then_resend(c);
			return;
		}
		/* Key Vault purges later; the next create purges again. */
		acall_done(c, 0, "");
		return;
	}
	fail(c, r, "failed to purge deleted secret");
}

static int
list_name(const char *id, void *arg)
{
	return ks_op_name(arg, id);
}

static void
answer_list(struct acall *c, const struct net_resp *r)
{
	const char	*base = c->az->s.endpoint;
	char		 d[DETAIL], why[256], *next;
	size_t		 bl = strlen(base);

	if (r->status != 200) {
		struct azerr e;

		az_parse_error(r->body, r->len, e.code, sizeof(e.code),
		    e.inner, sizeof(e.inner), e.msg, sizeof(e.msg));
		snprintf(d, sizeof(d), "azure: failed to list keys: %ld %s "
		    "(%s)", r->status, e.inner[0] != '\0' ? e.inner : e.code,
		    e.msg);
		acall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (az_parse_list(r->body, r->len, list_name, c->op, &next, why,
	    sizeof(why)) == -1) {
		snprintf(d, sizeof(d), "azure: failed to list keys: %s", why);
		acall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (next == NULL) {
		acall_done(c, 0, "");
		return;
	}
	/* nextLink is absolute: it must stay on this vault (the token
	 * goes with it). */
	if (strncmp(next, base, bl) != 0 || next[bl] != '/' ||
	    strlen(next + bl) >= sizeof(c->b.path) ||
	    ++c->pages >= AZ_LIST_PAGES) {
		free(next);
		acall_done(c, KS_FAIL_UNAVAILABLE, "azure: failed to list keys: "
		    "a nextLink leaves the vault, or the listing does not "
		    "end");
		return;
	}
	snprintf(c->b.path, sizeof(c->b.path), "%s", next + bl);
	free(next);
	c->b.reauthed = false;
	bcall_send(&c->b);
}

static void
answer(struct acall *c, const struct net_resp *r)
{
	switch (c->stage) {
	case A_PROBE:
	case A_SET:
	case A_PURGE_C:
		answer_create(c, r);
		break;
	case A_VERSIONS:
	case A_GETVER:
		answer_get(c, r);
		break;
	case A_DELETE:
	case A_PURGE_D:
		answer_delete(c, r);
		break;
	case A_LIST:
		answer_list(c, r);
		break;
	case A_STATUS:
		break;
	}
}

/* --- the calls --- */

/* KES inserts the name unescaped; keyward refuses what would change the
 * path. Key Vault itself refuses '_' (400 BadParameter: OTHER). */
static bool
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

void
az_op_create(struct ks_op *op)
{
	struct acall	*c;
	char		*v;

	if (!name_ok(op->name)) {
		ks_op_done(op, KS_FAIL_INVALID, "azure: a Key Vault secret "
		    "name is letters, digits and '-'");
		return;
	}
	if (memchr(op->value, '\0', op->len) != NULL) {
		ks_op_done(op, KS_FAIL_INVALID, "azure: a stored value is "
		    "text without NUL bytes");
		return;
	}
	c = acall_new(op);
	v = xmalloc(op->len + 1);
	memcpy(v, op->value, op->len);
	v[op->len] = '\0';
	/* {"value":"<the stored value>"} */
	buf_init(&c->b.body, 6 * op->len + 64);
	(void)(buf_put(&c->b.body, "{", 1) | json_key(&c->b.body, "value") |
	    json_str(&c->b.body, v) | buf_put(&c->b.body, "}", 1));
	freezero(v, op->len + 1);
	if (c->b.body.failed) {
		acall_done(c, KS_FAIL_UNAVAILABLE, "azure: the request does "
		    "not fit");
		return;
	}
	acall_request(c, A_PROBE, "GET", "/secrets/", "/");
}

static bool
absent(struct ks_op *op)
{
	char d[DETAIL];

	if (name_ok(op->name))
		return false;
	snprintf(d, sizeof(d), "key '%s' does not exist", op->name);
	ks_op_done(op, KS_FAIL_NOT_FOUND, d);
	return true;
}

void
az_op_get(struct ks_op *op)
{
	if (absent(op))
		return;
	acall_request(acall_new(op), A_VERSIONS, "GET", "/secrets/",
	    "/versions");
}

void
az_op_del(struct ks_op *op)
{
	if (!name_ok(op->name)) {
		ks_op_done(op, 0, "");
		return;
	}
	acall_request(acall_new(op), A_DELETE, "DELETE", "/secrets/", "");
}

void
az_op_list(struct ks_op *op)
{
	struct acall *c = acall_new(op);

	c->stage = A_LIST;
	c->b.method = "GET";
	snprintf(c->b.path, sizeof(c->b.path), "/secrets" Q);
	bcall_send(&c->b);
}

void
az_op_status(struct ks_op *op)
{
	struct acall *c = acall_new(op);

	c->t0 = now_ns();
	c->stage = A_STATUS;
	c->b.oa = NULL;
	c->b.pol = &status_policy;
	c->b.method = "GET";
	snprintf(c->b.path, sizeof(c->b.path), "/");
	bcall_send(&c->b);
}

void
az_op_cancel(struct ks_op *op)
{
	struct acall *c = op->store;

	c->op = NULL;
	acall_free(c);
}
