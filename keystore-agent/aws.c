/*
 * The AWS Secrets Manager key store, KES's keystore.aws.secretsmanager
 * (spec/keystores-cloud-and-legacy-config.md §1): each key is a secret
 * named as the key whose SecretString is the stored value. This file is
 * the store the agent sees (backend.h): each call one or a few signed
 * JSON 1.1 requests (POST / with X-Amz-Target) on the agent's event
 * loop. aws_creds.c keeps the credentials, aws_json.c reads and writes
 * the JSON, aws_conf.c holds the settings and the start-up.
 *
 * Like aws-sdk-go (§1.5), throttling, 5xx answers (but 501) and
 * connection failures are tried again, up to 4 attempts; temporary
 * credentials that Secrets Manager refuses are fetched anew once.
 * Where keyward departs from KES: no status probe at start fails the
 * start (the store reports unreachable while the service is, as every
 * keyward store does); kmskey is passed on as KES does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/sigv4.h"
#include "common/xmalloc.h"
#include "keystore-agent/aws.h"
#include "keystore-agent/aws_json.h"
#include "keystore-agent/backend.h"

#define DETAIL		1024
#define PAGES_MAX	10000	/* a listing that long is a loop */

enum astage { A_CREATE, A_GET, A_DELETE, A_LIST, A_STATUS };

struct acall {
	struct ks_op		*op;
	struct aws		*a;
	enum astage		 stage;
	char			 name[KES_NAME_MAX + 1];
	struct buf		 body;
	struct net_req		*req;
	struct aws_waiter	 wait;
	uint64_t		 gen;		/* credentials it was signed
						 * with */
	bool			 refetched;
	uint64_t		 t0;		/* status: ns */
	char			*next;		/* list: NextToken */
	unsigned int		 pages;
};

static const char *const target[] = {
	[A_CREATE] = "CreateSecret",
	[A_GET] = "GetSecretValue",
	[A_DELETE] = "DeleteSecret",
	[A_LIST] = "ListSecrets",
};

static bool
throttled(const char *code)
{
	static const char *const t[] = {
		"ThrottlingException", "Throttling", "TooManyRequestsException",
		"RequestLimitExceeded", "RequestThrottled",
		"RequestThrottledException", "ThrottledException",
		"SlowDown", "PriorRequestNotComplete", "TransactionInProgress",
		"EC2ThrottledException", NULL
	};
	size_t i;

	for (i = 0; t[i] != NULL; i++)
		if (strcmp(code, t[i]) == 0)
			return true;
	return false;
}

/* aws-sdk-go's default retryer: throttling, 5xx but 501, connection
 * errors and timeouts. */
static bool
retry_aws(const struct net_resp *r)
{
	char code[AWS_CODE_MAX], msg[8];

	switch (r->fail) {
	case NET_OK:
		if (r->status == 429 || (r->status >= 500 && r->status != 501))
			return true;
		if (r->status != 400)
			return false;
		aws_parse_error(r->body, r->len, code, sizeof(code), msg,
		    sizeof(msg));
		return throttled(code);
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
	case NET_REFUSED:
		return true;
	default:
		return false;
	}
}

static const struct net_policy call_policy = {
	4, 50, 250, AWS_ATTEMPT_MS, retry_aws, NET_WAIT_GROWING
};

static bool
retry_status(const struct net_resp *r)
{
	return r->fail == NET_TIMEOUT || r->fail == NET_IO;
}

static const struct net_policy status_policy = {
	2, 50, 150, 3000, retry_status, NET_WAIT_GROWING
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

/* --- calls --- */

static void
acall_free(struct acall *c)
{
	if (c->req != NULL)
		net_cancel(c->req);
	aws_creds_unwait(c->a, &c->wait);
	buf_release(&c->body);
	free(c->next);
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

static struct acall *
acall_new(struct ks_op *op, enum astage stage)
{
	struct acall *c = xcalloc(1, sizeof(*c));

	c->op = op;
	c->a = &aws_state;
	c->stage = stage;
	c->wait.arg = c;
	if (op->name != NULL)
		snprintf(c->name, sizeof(c->name), "%s", op->name);
	buf_init(&c->body, 2 * KES_STORED_MAX + AWS_TOKEN_MAX + 1024);
	op->store = c;
	return c;
}

static void	acall_answer(struct net_req *, const struct net_resp *,
		    void *);

/* Sign the call's request with the credentials there now and send it. */
static void
acall_sign_send(struct acall *c)
{
	struct aws	*a = c->a;
	const char	*h[8];
	char		 date[SIGV4_DATE_LEN + 1], hdate[32], host[512],
			 tgt[96], tok[4200], auth[SIGV4_AUTH_MAX + 32];
	struct sigv4_req r;
	size_t		 n = 0;

	sigv4_date((long long)time(NULL), date);
	snprintf(hdate, sizeof(hdate), "X-Amz-Date: %s", date);
	snprintf(host, sizeof(host), "Host: %s", a->host);
	snprintf(tgt, sizeof(tgt), "X-Amz-Target: secretsmanager.%s",
	    target[c->stage]);
	h[n++] = "Content-Type: application/x-amz-json-1.1";
	h[n++] = host;
	h[n++] = hdate;
	if (a->token != NULL && a->token[0] != '\0') {
		snprintf(tok, sizeof(tok), "X-Amz-Security-Token: %s",
		    a->token);
		h[n++] = tok;
	}
	h[n++] = tgt;
	h[n] = NULL;
	r = (struct sigv4_req){ "POST", "/", NULL, h, c->body.data,
	    c->body.len, a->akid, a->secret, a->c.region, "secretsmanager",
	    date };
	memcpy(auth, "Authorization: ", 15);
	if (sigv4_sign(&r, auth + 15, sizeof(auth) - 15) == -1) {
		explicit_bzero(tok, sizeof(tok));
		acall_done(c, KS_FAIL_UNAVAILABLE, "aws: cannot sign the "
		    "request (credentials too long?)");
		return;
	}
	h[n++] = auth;
	h[n] = NULL;
	c->gen = a->gen;
	c->req = net_request(a->net, "POST", "/", h, c->body.data,
	    c->body.len, &call_policy, acall_answer, c);
	explicit_bzero(tok, sizeof(tok));
	explicit_bzero(auth, sizeof(auth));
}

static void
creds_ready(struct aws_waiter *w, int rc, const char *err)
{
	struct acall	*c = w->arg;
	char		 d[DETAIL];

	if (rc == 0) {
		acall_sign_send(c);
		return;
	}
	snprintf(d, sizeof(d), "%s", err);
	acall_done(c, KS_FAIL_UNAVAILABLE, d);
}

static void
acall_send(struct acall *c)
{
	c->wait.cb = creds_ready;
	switch (aws_creds_want(c->a, &c->wait)) {
	case 1:
		acall_sign_send(c);
		break;
	case 0:
		break;
	default:
		acall_done(c, KS_FAIL_UNAVAILABLE, "aws: no credentials (none "
		    "configured, none in the environment, the shared file, "
		    "the container endpoint or the instance metadata)");
		break;
	}
}

static bool
creds_refused(long status, const char *code)
{
	static const char *const t[] = {
		"ExpiredTokenException", "ExpiredToken",
		"UnrecognizedClientException", "InvalidClientTokenId",
		"InvalidSignatureException", "SignatureDoesNotMatch", NULL
	};
	size_t i;

	if (status != 400 && status != 403)
		return false;
	for (i = 0; t[i] != NULL; i++)
		if (strcmp(code, t[i]) == 0)
			return true;
	return false;
}

static void	answer_get(struct acall *, const struct net_resp *);
static void	answer_list(struct acall *, const struct net_resp *);

static const char *
verb(enum astage s)
{
	switch (s) {
	case A_CREATE:
		return "create";
	case A_GET:
		return "access";
	case A_DELETE:
		return "delete";
	default:
		return "list";
	}
}

static void
acall_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct acall	*c = arg;
	char		 d[DETAIL], code[AWS_CODE_MAX], msg[AWS_MSG_MAX];

	c->req = NULL;
	if (c->stage == A_STATUS) {
		/* §1.7: any HTTP answer is a reachable store. */
		if (r->fail != NET_OK) {
			snprintf(d, sizeof(d), "aws: %s", r->detail);
			acall_done(c, KS_FAIL_UNAVAILABLE, d);
			return;
		}
		c->op->latency_ns = now_ns() - c->t0;
		acall_done(c, 0, "");
		return;
	}
	if (r->fail != NET_OK) {
		if (c->stage == A_LIST)
			snprintf(d, sizeof(d), "aws: %s", r->detail);
		else
			snprintf(d, sizeof(d), "aws: failed to %s '%s': %s",
			    verb(c->stage), c->name, r->detail);
		acall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (r->status == 200) {
		switch (c->stage) {
		case A_GET:
			answer_get(c, r);
			return;
		case A_LIST:
			answer_list(c, r);
			return;
		default:
			acall_done(c, 0, "");
			return;
		}
	}
	aws_parse_error(r->body, r->len, code, sizeof(code), msg,
	    sizeof(msg));
	if (!c->refetched && creds_refused(r->status, code) &&
	    aws_creds_refused(c->a, c->gen)) {
		c->refetched = true;
		log_info("aws: Secrets Manager refused the credentials (%s); "
		    "fetching new ones", code);
		acall_send(c);
		return;
	}
	if (c->stage == A_CREATE && strcmp(code, "ResourceExistsException") ==
	    0) {
		snprintf(d, sizeof(d), "key '%s' already exists", c->name);
		acall_done(c, KS_FAIL_EXISTS, d);
		return;
	}
	if ((c->stage == A_GET || c->stage == A_DELETE) &&
	    strcmp(code, "ResourceNotFoundException") == 0) {
		snprintf(d, sizeof(d), "key '%s' does not exist", c->name);
		acall_done(c, KS_FAIL_NOT_FOUND, d);
		return;
	}
	if (code[0] == '\0')
		snprintf(code, sizeof(code), "HTTP %ld", r->status);
	if (c->stage == A_LIST)
		snprintf(d, sizeof(d), "aws: %s: %s", code, msg);
	else
		snprintf(d, sizeof(d), "aws: failed to %s '%s': %s: %s",
		    verb(c->stage), c->name, code, msg);
	acall_done(c, KS_FAIL_UNAVAILABLE, d);
}

static void
answer_get(struct acall *c, const struct net_resp *r)
{
	char	 d[DETAIL], why[256];
	uint8_t	*val;
	size_t	 len;

	if (aws_parse_get(r->body, r->len, &val, &len, why,
	    sizeof(why)) == -1) {
		snprintf(d, sizeof(d), "aws: cannot access '%s': %s", c->name,
		    why);
		acall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (len > KES_STORED_MAX || buf_put(c->op->out, val, len) == -1)
		acall_done(c, KS_FAIL_UNAVAILABLE, "aws: the secret is too "
		    "large for a key");
	else
		acall_done(c, 0, "");
	freezero(val, len + 1);
}

static int
list_name(const char *name, void *arg)
{
	return ks_op_name(arg, name);
}

static void
list_page(struct acall *c)
{
	buf_reset(&c->body);
	if (aws_body_list(&c->body, c->next) == -1) {
		acall_done(c, KS_FAIL_UNAVAILABLE, "aws: NextToken too long");
		return;
	}
	c->pages++;
	c->refetched = false;
	acall_send(c);
}

static void
answer_list(struct acall *c, const struct net_resp *r)
{
	char	 d[DETAIL], why[256], *next;

	if (aws_parse_list(r->body, r->len, list_name, c->op, &next, why,
	    sizeof(why)) == -1) {
		snprintf(d, sizeof(d), "aws: failed to list keys: %s", why);
		acall_done(c, KS_FAIL_UNAVAILABLE, d);
		return;
	}
	if (next == NULL) {
		acall_done(c, 0, "");
		return;
	}
	if ((c->next != NULL && strcmp(next, c->next) == 0) ||
	    c->pages >= PAGES_MAX) {
		free(next);
		acall_done(c, KS_FAIL_UNAVAILABLE, "aws: failed to list keys: "
		    "ListSecrets repeats its NextToken or does not end");
		return;
	}
	free(c->next);
	c->next = next;
	list_page(c);
}

/* --- the calls --- */

void
aws_op_create(struct ks_op *op)
{
	struct acall	*c;
	char		 crt[AWS_UUID_LEN + 1];

	if (memchr(op->value, '\0', op->len) != NULL) {
		ks_op_done(op, KS_FAIL_INVALID, "aws: a stored value is text "
		    "without NUL bytes");
		return;
	}
	c = acall_new(op, A_CREATE);
	/* One token for every attempt: a create retried after a lost
	 * answer is the same create to Secrets Manager (§1.5). */
	aws_uuid(crt);
	if (aws_body_create(&c->body, crt, c->a->c.kmskey, c->name,
	    op->value, op->len) == -1) {
		acall_done(c, KS_FAIL_UNAVAILABLE, "aws: the request does not "
		    "fit");
		return;
	}
	acall_send(c);
}

void
aws_op_get(struct ks_op *op)
{
	struct acall *c = acall_new(op, A_GET);

	(void)aws_body_secret_id(&c->body, c->name);
	acall_send(c);
}

void
aws_op_del(struct ks_op *op)
{
	struct acall *c = acall_new(op, A_DELETE);

	(void)aws_body_delete(&c->body, c->name);
	acall_send(c);
}

void
aws_op_list(struct ks_op *op)
{
	list_page(acall_new(op, A_LIST));
}

/* GET <endpoint>/ without credentials (§1.7). */
void
aws_op_status(struct ks_op *op)
{
	struct acall *c = acall_new(op, A_STATUS);

	c->t0 = now_ns();
	c->req = net_request(c->a->net, "GET", "/", NULL, NULL, 0,
	    &status_policy, acall_answer, c);
}

void
aws_op_cancel(struct ks_op *op)
{
	struct acall *c = op->store;

	c->op = NULL;
	acall_free(c);
}
