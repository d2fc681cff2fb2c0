/*
 * The crypto process's calls at the key store: the agent's side of
 * MSG_KS_* (one answer_ks_* per request type) and the life of every call
 * it hands to the store (backend.h). A call is copied out of the channel,
 * given a deadline, passed to the store, and answered when the store
 * completes it (ks_op_done), when its deadline passes, or never when the
 * crypto channel goes away first. Any number of calls may be outstanding;
 * the store answers them in any order, matched by the frame id.
 *
 * Every field from the crypto process is treated as hostile: a malformed
 * payload is a protocol error (the channel is dropped), and key names are
 * checked again here (kes_valid_name to create, kes_legacy_name to reach
 * a key an older KES named) before a store turns one into a file
 * name or a path. Values are never logged and are wiped after use.
 */
#include <sys/queue.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/peer.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/calls.h"
#include "keystore-agent/list.h"

struct ks_call {
	struct ks_op		 op;
	struct peer		*peer;		/* the crypto channel */
	uint32_t		 id;
	struct ev_timer		 deadline;
	TAILQ_ENTRY(ks_call)	 entry;
	char			 name[KES_NAME_MAX + 1];
	uint8_t			*value;		/* create: a wiped copy */
	struct buf		 out;		/* get: u32 length, value */
	struct ks_names		 names;		/* list */
	char			*prefix;	/* list */
};

static int	answer_ks_status(struct peer *, struct ipc_msg *);
static int	answer_ks_create(struct peer *, struct ipc_msg *);
static int	answer_ks_get(struct peer *, struct ipc_msg *);
static int	answer_ks_delete(struct peer *, struct ipc_msg *);
static int	answer_ks_list(struct peer *, struct ipc_msg *);

const struct peer_dispatch ks_calls_dispatch[] = {
	{ MSG_KS_STATUS_REQ,	answer_ks_status },
	{ MSG_KS_CREATE,	answer_ks_create },
	{ MSG_KS_GET,		answer_ks_get },
	{ MSG_KS_DELETE,	answer_ks_delete },
	{ MSG_KS_LIST,		answer_ks_list },
	{ 0, NULL }
};

static struct {
	const struct ks_backend		*ks;
	TAILQ_HEAD(, ks_call)		 calls;
	size_t				 ncalls;
	unsigned int			 timeout_ms;
} kc = { .calls = TAILQ_HEAD_INITIALIZER(kc.calls) };

void
ks_calls_init(const struct ks_backend *ks, unsigned int timeout_ms)
{
	kc.ks = ks;
	kc.timeout_ms = timeout_ms;
}

size_t
ks_calls_pending(void)
{
	return kc.ncalls;
}

static const char *
call_verb(const struct ks_call *c)
{
	switch (c->op.type) {
	case KS_OP_STATUS:	return "status";
	case KS_OP_CREATE:	return "create";
	case KS_OP_GET:		return "get";
	case KS_OP_DELETE:	return "delete";
	case KS_OP_LIST:	return "list";
	}
	return "call";
}

static void
call_free(struct ks_call *c)
{
	ev_timer_cancel(&c->deadline);
	if (c->value != NULL)
		freezero(c->value, c->op.len);
	buf_release(&c->out);
	if (c->op.type == KS_OP_LIST)
		ks_names_free(&c->names);
	free(c->prefix);
	free(c);
}

static void
call_unlink(struct ks_call *c)
{
	TAILQ_REMOVE(&kc.calls, c, entry);
	kc.ncalls--;
}

/* A store's detail, cut to what a reply carries (a store may say more). */
#define DETAIL_MAX	256

/* KS_FAIL: u8 reason (enum ks_fail), str detail (never key material). */
static void
send_ks_fail(struct peer *p, uint32_t id, int reason, const char *detail)
{
	char		d[DETAIL_MAX];
	struct buf	b;

	snprintf(d, sizeof(d), "%s", detail);
	buf_init(&b, 16 + sizeof(d));
	buf_put_u8(&b, reason);
	buf_put_str(&b, d);
	(void)peer_send(p, MSG_KS_FAIL, id, &b);
	buf_release(&b);
}

/* The reply to a call that answers with done or a failure. */
static void
send_ks_done(struct ks_call *c, int rc, const char *err)
{
	if (rc == 0) {
		(void)peer_send(c->peer, MSG_KS_DONE, c->id, NULL);
		return;
	}
	if (rc == KS_FAIL_UNAVAILABLE)
		log_warnx("%s %s: %s", call_verb(c), c->name, err);
	else
		log_debug("%s %s: %s", call_verb(c), c->name, err);
	send_ks_fail(c->peer, c->id, rc, err);
}

/* KS_STATUS_REP: u8 ok, u64 ns, str error. */
static void
send_ks_status(struct ks_call *c, int rc, const char *err)
{
	char		d[DETAIL_MAX];
	struct buf	b;

	snprintf(d, sizeof(d), "%s", rc == 0 ? "" : err);
	buf_init(&b, 16 + sizeof(d));
	buf_put_u8(&b, rc == 0);
	buf_put_u64(&b, rc == 0 ? c->op.latency_ns : 0);
	buf_put_str(&b, d);
	(void)peer_send(c->peer, MSG_KS_STATUS_REP, c->id, &b);
	buf_release(&b);
}

/* KS_VALUE: bytes value, already in c->out after its length. */
static void
send_ks_value(struct ks_call *c)
{
	size_t len = c->out.len - 4;

	c->out.data[0] = len >> 24;
	c->out.data[1] = len >> 16;
	c->out.data[2] = len >> 8;
	c->out.data[3] = len;
	/* Fails when the store put more than a value may hold (c->out is
	 * marked failed) or when the crypto process stops reading (its
	 * queue is full); peer_send logs which, and a short failure may
	 * still get through. */
	if (peer_send(c->peer, MSG_KS_VALUE, c->id, &c->out) == -1)
		send_ks_fail(c->peer, c->id, KS_FAIL_UNAVAILABLE,
		    c->out.failed ? "the value does not fit a reply" :
		    "cannot queue the reply");
}

/* KS_NAMES: u32 n, n x str name, str continue_at. */
static void
send_ks_names(struct ks_call *c)
{
	struct buf b;

	/* KS_LIST_BYTES of names, plus the count and continue_at. */
	buf_init(&b, IPC_MAX_PEER);
	if (ks_names_page(&c->names, KS_LIST_MAX, KS_LIST_BYTES, &b) == -1)
		fatalx("list: a page of names does not fit a frame");
	if (peer_send(c->peer, MSG_KS_NAMES, c->id, &b) == -1)
		send_ks_fail(c->peer, c->id, KS_FAIL_UNAVAILABLE, "cannot "
		    "queue the reply");
	buf_release(&b);
}

static void
call_done(struct ks_op *op, int rc, const char *detail)
{
	struct ks_call *c = op->owner_arg;

	call_unlink(c);
	switch (op->type) {
	case KS_OP_STATUS:
		send_ks_status(c, rc, detail);
		break;
	case KS_OP_GET:
		if (rc == 0)
			send_ks_value(c);
		else
			send_ks_done(c, rc, detail);
		break;
	case KS_OP_LIST:
		if (rc == 0)
			send_ks_names(c);
		else {
			log_warnx("list: %s", detail);
			send_ks_fail(c->peer, c->id, rc, detail);
		}
		break;
	case KS_OP_CREATE:
	case KS_OP_DELETE:
		send_ks_done(c, rc, detail);
		break;
	}
	call_free(c);
}

static int
call_name(struct ks_op *op, const char *name)
{
	struct ks_call *c = op->owner_arg;

	return ks_names_add(name, &c->names);
}

static const struct ks_op_owner agent_owner = { call_done, call_name };

/* The store has not answered in time: the call fails, and the store is
 * told to stop working on it. */
static void
call_expired(struct ev_timer *t)
{
	struct ks_call *c = t->arg;

	call_unlink(c);
	if (kc.ks->cancel != NULL)
		kc.ks->cancel(&c->op);
	log_warnx("%s %s: the key store did not answer within %u ms",
	    call_verb(c), c->op.type == KS_OP_LIST ? c->prefix : c->name,
	    kc.timeout_ms);
	if (c->op.type == KS_OP_STATUS)
		send_ks_status(c, KS_FAIL_UNAVAILABLE, "timed out");
	else
		send_ks_fail(c->peer, c->id, KS_FAIL_UNAVAILABLE, "the key "
		    "store did not answer in time");
	call_free(c);
}

void
ks_calls_cancel(struct peer *p)
{
	struct ks_call *c, *next;

	for (c = TAILQ_FIRST(&kc.calls); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (p != NULL && c->peer != p)
			continue;
		call_unlink(c);
		if (kc.ks->cancel != NULL)
			kc.ks->cancel(&c->op);
		call_free(c);
	}
}

static struct ks_call *
call_new(struct peer *p, struct ipc_msg *m, enum ks_op_type type)
{
	struct ks_call *c = xcalloc(1, sizeof(*c));

	c->op.type = type;
	c->op.owner = &agent_owner;
	c->op.owner_arg = c;
	c->op.name = c->name;
	c->peer = p;
	c->id = m->hdr.id;
	return c;
}

/* Hand c to the store; it may be done (and freed) before this returns. */
static void
call_start(struct ks_call *c, void (*fn)(struct ks_op *))
{
	TAILQ_INSERT_TAIL(&kc.calls, c, entry);
	kc.ncalls++;
	ev_timer_set(&c->deadline, kc.timeout_ms, call_expired, c);
	fn(&c->op);
}

/* KS_STATUS_REQ: empty. Reply KS_STATUS_REP. */
static int
answer_ks_status(struct peer *p, struct ipc_msg *m)
{
	if (buf_end(&m->payload) == -1)
		return -1;
	call_start(call_new(p, m, KS_OP_STATUS), kc.ks->status);
	return 0;
}

/*
 * A request that is only a key name (KS_GET, KS_DELETE): 1 with a new
 * call for a name the store may use, 0 when the name was refused (KS_FAIL
 * sent), -1 when the payload is malformed (a protocol error).
 */
static int
name_request(struct peer *p, struct ipc_msg *m, enum ks_op_type type,
    struct ks_call **c)
{
	const char *name;

	if (buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	/* Get and delete reach keys an older KES named (kes_legacy_name). */
	if (!kes_legacy_name(name)) {
		send_ks_fail(p, m->hdr.id, KS_FAIL_INVALID,
		    "invalid key name");
		return 0;
	}
	*c = call_new(p, m, type);
	snprintf((*c)->name, sizeof((*c)->name), "%s", name);
	return 1;
}

/* KS_CREATE: str name, bytes value. Reply KS_DONE or KS_FAIL. */
static int
answer_ks_create(struct peer *p, struct ipc_msg *m)
{
	char		 err[256];
	const char	*name;
	const uint8_t	*value;
	struct ks_call	*c = NULL;
	size_t		 len;

	if (buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_get_bytes(&m->payload, &value, &len) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!kes_valid_name(name))
		send_ks_fail(p, m->hdr.id, KS_FAIL_INVALID,
		    "invalid key name");
	else if (len == 0 || len > KES_STORED_MAX) {
		snprintf(err, sizeof(err), "a stored key is 1 to %u bytes, "
		    "not %zu", KES_STORED_MAX, len);
		send_ks_fail(p, m->hdr.id, KS_FAIL_INVALID, err);
	} else {
		c = call_new(p, m, KS_OP_CREATE);
		snprintf(c->name, sizeof(c->name), "%s", name);
		c->value = xmalloc(len);
		memcpy(c->value, value, len);
		c->op.value = c->value;
		c->op.len = len;
	}
	/* The value sits in the channel's input, which is ours to wipe;
	 * the call keeps its own copy until it is done. */
	explicit_bzero((void *)(uintptr_t)value, len);
	if (c != NULL)
		call_start(c, kc.ks->create);
	return 0;
}

/* KS_GET: str name. Reply KS_VALUE (bytes value) or KS_FAIL. */
static int
answer_ks_get(struct peer *p, struct ipc_msg *m)
{
	struct ks_call	*c;
	int		 rc;

	if ((rc = name_request(p, m, KS_OP_GET, &c)) != 1)
		return rc;
	/* The store appends the value right after the length it needs in
	 * the reply, so there is one copy to wipe. */
	buf_init(&c->out, 4 + KES_STORED_MAX);
	if (buf_put_u32(&c->out, 0) == -1)
		fatalx("get: no room for a length");
	c->op.out = &c->out;
	call_start(c, kc.ks->get);
	return 0;
}

/* KS_DELETE: str name. Reply KS_DONE or KS_FAIL. */
static int
answer_ks_delete(struct peer *p, struct ipc_msg *m)
{
	struct ks_call	*c;
	int		 rc;

	if ((rc = name_request(p, m, KS_OP_DELETE, &c)) != 1)
		return rc;
	call_start(c, kc.ks->del);
	return 0;
}

/*
 * KS_LIST: str prefix. Reply KS_NAMES or KS_FAIL. The prefix is only
 * compared, never used as a path, so any string will do; one no name
 * starts with lists nothing.
 */
static int
answer_ks_list(struct peer *p, struct ipc_msg *m)
{
	const char	*prefix;
	struct ks_call	*c;

	if (buf_get_str(&m->payload, &prefix, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	c = call_new(p, m, KS_OP_LIST);
	c->prefix = xstrdup(prefix);
	ks_names_init(&c->names, c->prefix);
	call_start(c, kc.ks->list);
	return 0;
}
