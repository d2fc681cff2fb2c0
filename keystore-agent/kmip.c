/*
 * The KMIP key store (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §3):
 * each KES value is one SecretData object (Seed, Opaque) named prefix +
 * key name, optionally in an Object Group. This file is the store the
 * agent sees (backend.h): the calls, each a short chain of KMIP requests
 * on one pooled connection (kmip_conn.c), kmip_req.c building each
 * step's request and kmip_list.c reading a list's pages (kmip_call.h);
 * kmip_conf.c starts it.
 *
 * KMIP never overwrites (Register always makes a new object) and servers
 * may accept duplicate Names, so every read picks one winner among the
 * live objects of a name: the smallest Initial Date, ties to the smallest
 * Unique Identifier (§3.4). A create registers, waits create_settle, and
 * looks again: a creator whose object is not the winner destroys it and
 * says the key exists, so that two nodes racing for one name agree on
 * one value. Objects in State Destroyed (a server's soft delete, §3.9)
 * count nowhere.
 */
#include <sys/queue.h>

#include <stdarg.h>
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
#include "keystore-agent/kmip_call.h"
#include "keystore-agent/kmip_int.h"

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
}

static void
kc_free(struct kcall *kc)
{
	kmip_conn_unwait(&kmip_state, &kc->wait);
	if (kc->c != NULL) {
		if (kc->inflight)
			kmip_conn_abort(kc->c);
		else
			kmip_conn_release(kc->c, true);
	}
	ev_timer_cancel(&kc->settle);
	if (kc->value != NULL)
		freezero(kc->value, kc->vlen);
	kmip_uids_free(&kc->uids);
	free(kc->attrs);
	freezero(kc, sizeof(*kc));
}

/* The call ends: rc 0 or an enum ks_fail, and a detail for a failure. */
void
kc_done(struct kcall *kc, int rc, const char *fmt, ...)
{
	struct ks_op	*op = kc->op;
	char		 d[KMIP_DETAIL + 512];
	va_list		 ap;

	d[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		(void)vsnprintf(d, sizeof(d), fmt, ap);
		va_end(ap);
	}
	kc_free(kc);
	ks_op_done(op, rc, d);
}

/* A KMIP failure of the current step: the reason, its message, a hint. */
void
kc_kmip_fail(struct kcall *kc, const char *what, const struct kmip_item *it)
{
	const char *hint = kmip_reason_hint(it->reason);

	if (it->status == KMIP_STATUS_PENDING)
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
		    "%s: the server answered Operation Pending", kc_verb(kc),
		    what);
	else
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
		    "%s: %s%s%s%s%s", kc_verb(kc), what,
		    kmip_reason_name(it->reason), it->msg[0] != '\0' ? ": " : "",
		    it->msg, hint != NULL ? "; " : "", hint != NULL ? hint : "");
}

static void	kc_answer(struct kconn *, const struct kmip_resp *,
		    const char *, void *);

static void
kc_acquired(struct kwait *w, struct kconn *c, const char *err)
{
	struct kcall *kc = w->arg;

	if (c == NULL) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: %s",
		    kc_verb(kc), err);
		return;
	}
	kc->c = c;
	kc->reused = kmip_conn_reused(c);
	kc_go(kc);
}

/* Send the current step's request, on a connection got first if need be. */
void
kc_go(struct kcall *kc)
{
	struct kmip_hdr	h;

	if (kc->c == NULL) {
		kc->wait.cb = kc_acquired;
		kc->wait.arg = kc;
		kmip_conn_acquire(&kmip_state, &kc->wait);
		return;
	}
	kmip_conn_hdr(kc->c, &h);
	/* KMIP 1.0 has no Discover Versions (1.1 brought it): Query. */
	if (kc->step == S_STATUS && h.version.major == 1 &&
	    h.version.minor == 0)
		kc->step = S_QUERY;
	if (kc_build(kc, kmip_conn_req(kc->c), &h) == -1) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
		    "the %s request does not fit", kc_verb(kc),
		    kc_step_name(kc->step));
		return;
	}
	kc->inflight = true;
	kmip_conn_send(kc->c, kc_answer, kc);
}

void
kc_step(struct kcall *kc, enum kstep s)
{
	kc->step = s;
	kc->retried = false;
	kc_go(kc);
}

/* --- the steps' answers -------------------------------------------------- */

static void	answer_item(struct kcall *, const struct kmip_resp *);

static void
kc_answer(struct kconn *c, const struct kmip_resp *r, const char *err,
    void *arg)
{
	struct kcall	*kc = arg;
	char		 ep[KMIP_HOST_MAX + 8];
	bool		 lost;

	kc->inflight = false;
	if (r != NULL) {
		answer_item(kc, r);
		return;
	}
	snprintf(ep, sizeof(ep), "%s", kmip_conn_name(c));
	lost = kmip_conn_lost(c);
	kmip_conn_release(c, false);
	kc->c = NULL;
	/*
	 * A pooled connection may have died while idle (a server
	 * restarted): once more on another. A Register is never sent
	 * twice blindly: the create starts again from its Locate (§3.5).
	 * A malformed answer or a timeout is the server's, not the
	 * connection's: no second try (KT15).
	 */
	if (kc->reused && lost && !kc->retried) {
		kc->retried = true;
		if (kc->step == S_REGISTER)
			kc->step = S_LOCATE;
		log_debug("kmip: %s: %s; again on a new connection", ep, err);
		kc_go(kc);
		return;
	}
	kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: %s: "
	    "%s: %s", kc_verb(kc), ep, kc_step_name(kc->step), err);
}

static void	located(struct kcall *, const struct kmip_item *);
static void	attributes(struct kcall *, const struct kmip_resp *);
static void	got(struct kcall *, const struct kmip_item *);
static void	got_state(struct kcall *, const struct kmip_item *);
static void	registered(struct kcall *, const struct kmip_item *);
static void	destroyed(struct kcall *, const struct kmip_item *);
static void	status_answer(struct kcall *, const struct kmip_item *);
static void	settle_now(struct kcall *);

/*
 * Response Too Large (§3.5): a list's Locate pages and every Get
 * Attributes batch become SHRINK times smaller and the request goes
 * again, once per call. An answer about one object cannot shrink.
 */
static void
too_large(struct kcall *kc, const struct kmip_item *it)
{
	bool many = kc->step == S_LIST_LOCATE ||
	    ((kc->step == S_ATTRS || kc->step == S_SETTLE_ATTRS ||
	    kc->step == S_LIST_ATTRS) && kc->an > 1);

	if (many && !kc->shrunk) {
		kc->shrunk = true;
		kc->page = PAGE_ITEMS / SHRINK;
		kc->batch = ATTR_BATCH / SHRINK;
		log_info("kmip: %s: the server's answer to %s is too large; "
		    "again with %d objects a page, %zu a batch", kc_verb(kc),
		    kc_step_name(kc->step), kc->page, kc->batch);
		kc_go(kc);
		return;
	}
	kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: %s: Response "
	    "Too Large%s%s: %s", kc_verb(kc), kc_step_name(kc->step),
	    it->msg[0] != '\0' ? ": " : "", it->msg, many ?
	    "even in smaller pages and batches" : kc->step == S_GET ?
	    "the stored value is larger than the server will send" :
	    "an answer about one object is larger than the server will "
	    "send");
}

static void
answer_item(struct kcall *kc, const struct kmip_resp *r)
{
	const struct kmip_item	*it = &r->items[0];
	enum kmip_outcome	 oc;

	/* A message-level refusal answers every item at once. */
	if (kmip_item_outcome(kc_step_op(kc->step), it) ==
	    KMIP_OUTCOME_SMALLER) {
		too_large(kc, it);
		return;
	}
	if (kc->step == S_ATTRS || kc->step == S_SETTLE_ATTRS ||
	    kc->step == S_LIST_ATTRS) {
		attributes(kc, r);
		return;
	}
	oc = kmip_item_outcome(kc_step_op(kc->step), it);
	if (oc == KMIP_OUTCOME_RETRY && !kc->retried) {
		kc->retried = true;
		kc_go(kc);
		return;
	}
	switch (kc->step) {
	case S_LOCATE:
	case S_SETTLE_LOCATE:
		if (oc != KMIP_OUTCOME_OK)
			break;
		located(kc, it);
		return;
	case S_LIST_LOCATE:
		if (oc != KMIP_OUTCOME_OK)
			break;
		kc_list_page(kc, it);
		return;
	case S_GET:
		if (oc == KMIP_OUTCOME_NOT_FOUND) {
			kc_done(kc, KS_FAIL_NOT_FOUND, "key '%.200s' does not "
			    "exist", kc->op->name);
			return;
		}
		if (oc != KMIP_OUTCOME_OK)
			break;
		got(kc, it);
		return;
	case S_GET_STATE:
		got_state(kc, it);
		return;
	case S_REGISTER:
		if (oc == KMIP_OUTCOME_EXISTS) {
			kc_done(kc, KS_FAIL_EXISTS, "key '%.200s' exists",
			    kc->op->name);
			return;
		}
		if (oc != KMIP_OUTCOME_OK)
			break;
		registered(kc, it);
		return;
	case S_ACTIVATE:
		if (oc != KMIP_OUTCOME_OK)
			break;
		settle_now(kc);
		return;
	case S_DESTROY:
	case S_REVOKE:
		destroyed(kc, it);
		return;
	case S_STATUS:
	case S_QUERY:
		status_answer(kc, it);
		return;
	default:
		break;
	}
	kc_kmip_fail(kc, kc_step_name(kc->step), it);
}

/* A Locate by name: what it found decides the next step. */
static void
located(struct kcall *kc, const struct kmip_item *it)
{
	kmip_uids_free(&kc->uids);
	free(kc->attrs);
	kc->attrs = NULL;
	if (kmip_parse_locate(it, &kc->uids) == -1) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
		    "a malformed Locate answer", kc_verb(kc));
		return;
	}
	if (kc->step == S_SETTLE_LOCATE) {
		kc->ai = 0;
		kc->mask = KMIP_ATTR_STATE | KMIP_ATTR_INITIAL_DATE;
		kc->attrs = xcalloc(kc->uids.n + 1, sizeof(*kc->attrs));
		kc_step(kc, S_SETTLE_ATTRS);
		return;
	}
	switch (kc->op->type) {
	case KS_OP_GET:
		if (kc->uids.n == 0) {
			kc_done(kc, KS_FAIL_NOT_FOUND, "key '%.200s' does not "
			    "exist", kc->op->name);
			return;
		}
		/* One object: Get itself tells a destroyed one apart. */
		if (kc->uids.n == 1) {
			snprintf(kc->target, sizeof(kc->target), "%s",
			    kc->uids.uid[0]);
			kc_step(kc, S_GET);
			return;
		}
		kc->mask = KMIP_ATTR_STATE | KMIP_ATTR_INITIAL_DATE;
		break;
	case KS_OP_CREATE:
		if (kc->uids.n == 0) {
			kc_step(kc, S_REGISTER);
			return;
		}
		kc->mask = KMIP_ATTR_STATE;
		break;
	default:			/* delete: every one of them */
		if (kc->uids.n == 0) {
			kc_done(kc, kc->final, NULL);
			return;
		}
		kc->cur = 0;
		kc->revoked = false;
		snprintf(kc->target, sizeof(kc->target), "%s",
		    kc->uids.uid[0]);
		kc_step(kc, S_DESTROY);
		return;
	}
	kc->ai = 0;
	kc->attrs = xcalloc(kc->uids.n + 1, sizeof(*kc->attrs));
	kc_step(kc, S_ATTRS);
}

static void	attrs_done(struct kcall *);

/* One batch of Get Attributes: each item answers one UID (Continue). */
static void
attributes(struct kcall *kc, const struct kmip_resp *r)
{
	const struct kmip_item	*it;
	struct kmip_attrs	*a;
	enum kmip_outcome	 oc;
	size_t			 i, k;

	if (r->n != kc->an) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
		    "%zu answers to %zu Get Attributes", kc_verb(kc),
		    r->n, kc->an);
		return;
	}
	for (i = 0; i < r->n; i++) {
		it = &r->items[i];
		k = kc->an > 1 ? (size_t)it->batch_id : 0;
		if (kc->an > 1 && (it->batch_id < 0 || k >= kc->an)) {
			kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
			    "an answer to no Get Attributes asked",
			    kc_verb(kc));
			return;
		}
		a = &kc->attrs[kc->ai + k];
		oc = kmip_item_outcome(KMIP_OP_GET_ATTRIBUTES, it);
		if (oc == KMIP_OUTCOME_NOT_FOUND) {
			memset(a, 0, sizeof(*a));	/* gone meanwhile */
			continue;
		}
		if (oc != KMIP_OUTCOME_OK) {
			kc_kmip_fail(kc, "Get Attributes", it);
			return;
		}
		if (kmip_parse_get_attributes(it, a) == -1 ||
		    strcmp(a->uid, kc->uids.uid[kc->ai + k]) != 0) {
			kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to %s: "
			    "a malformed Get Attributes answer",
			    kc_verb(kc));
			return;
		}
	}
	kc->ai += kc->an;
	if (kc->ai < kc->uids.n) {
		kc_go(kc);
		return;
	}
	attrs_done(kc);
}

static void
attrs_done(struct kcall *kc)
{
	size_t	i;
	int	w;

	if (kc->step == S_LIST_ATTRS) {
		kc_list_names(kc);
		return;
	}
	if (kc->op->type == KS_OP_CREATE && kc->step == S_ATTRS) {
		for (i = 0; i < kc->uids.n; i++)
			if (kc->attrs[i].has_state &&
			    kmip_state_live(kc->attrs[i].state)) {
				kc_done(kc, KS_FAIL_EXISTS, "key '%.200s' "
				    "exists", kc->op->name);
				return;
			}
		kc_step(kc, S_REGISTER);
		return;
	}
	w = kmip_winner(kc->attrs, kc->uids.n);
	if (kc->op->type == KS_OP_GET) {
		if (w == -1) {
			kc_done(kc, KS_FAIL_NOT_FOUND, "key '%.200s' does not "
			    "exist", kc->op->name);
			return;
		}
		snprintf(kc->target, sizeof(kc->target), "%s",
		    kc->attrs[w].uid);
		kc_step(kc, S_GET);
		return;
	}
	/* Create, after the settle time (§3.4 steps 6, 7). */
	if (w != -1 && strcmp(kc->attrs[w].uid, kc->own) == 0) {
		kc_done(kc, 0, NULL);
		return;
	}
	if (w == -1) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to create "
		    "'%.200s': the object registered (%s) was gone when "
		    "looked for again", kc->name, kc->own);
		return;
	}
	/* Another creator won: our object goes, the key exists. */
	log_info("kmip: '%s': object %s lost to %s, created first; "
	    "destroying it", kc->name, kc->own, kc->attrs[w].uid);
	kmip_uids_free(&kc->uids);
	kc->uids.uid = xcalloc(1, sizeof(*kc->uids.uid));
	kc->uids.uid[0] = xstrdup(kc->own);
	kc->uids.n = 1;
	kc->cur = 0;
	kc->revoked = false;
	kc->final = KS_FAIL_EXISTS;
	snprintf(kc->target, sizeof(kc->target), "%s", kc->own);
	kc_step(kc, S_DESTROY);
}

static void
got(struct kcall *kc, const struct kmip_item *it)
{
	struct kmip_object	o;
	struct buf		v;

	buf_init(&v, KES_STORED_MAX);
	if (kmip_parse_get(it, &o, &v) == -1) {
		buf_release(&v);
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to read "
		    "'%.200s': a malformed Get answer, or a value over %u "
		    "bytes", kc->name, KES_STORED_MAX);
		return;
	}
	if (o.object_type != KMIP_OBJECT_SECRET_DATA) {
		buf_release(&v);
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to read "
		    "'%.200s': object %s is not Secret Data (type %u)",
		    kc->name, kc->target, o.object_type);
		return;
	}
	if (!o.has_material) {
		buf_release(&v);
		kc_step(kc, S_GET_STATE);
		return;
	}
	if (v.len == 0 || buf_put(kc->op->out, v.data, v.len) == -1) {
		buf_release(&v);
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to read "
		    "'%.200s': %s", kc->name, v.len == 0 ? "an empty value" :
		    "no room for the value");
		return;
	}
	buf_release(&v);
	kc_done(kc, 0, NULL);
}

/* A Get without Key Material: destroyed (soft delete, §3.9), or not. */
static void
got_state(struct kcall *kc, const struct kmip_item *it)
{
	struct kmip_attrs	a;
	enum kmip_outcome	oc;

	oc = kmip_item_outcome(KMIP_OP_GET_ATTRIBUTES, it);
	memset(&a, 0, sizeof(a));
	if (oc == KMIP_OUTCOME_NOT_FOUND || (oc == KMIP_OUTCOME_OK &&
	    kmip_parse_get_attributes(it, &a) == 0 && a.has_state &&
	    !kmip_state_live(a.state))) {
		kc_done(kc, KS_FAIL_NOT_FOUND, "key '%.200s' does not exist",
		    kc->op->name);
		return;
	}
	kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to read '%.200s': "
	    "object %s has no key material", kc->name, kc->target);
}

static void
settle_timer(struct ev_timer *t)
{
	kc_step(t->arg, S_SETTLE_LOCATE);
}

/* Registered (and activated): let other creators' objects show. */
static void
settle_now(struct kcall *kc)
{
	kmip_conn_release(kc->c, true);
	kc->c = NULL;
	ev_timer_set(&kc->settle, kmip_state.s.settle_ms, settle_timer, kc);
}

static void
registered(struct kcall *kc, const struct kmip_item *it)
{
	if (kmip_parse_uid(it, kc->own) == -1) {
		kc_done(kc, KS_FAIL_UNAVAILABLE, "kmip: failed to create "
		    "'%.200s': a malformed Register answer", kc->name);
		return;
	}
	/* The value is not needed any more. */
	freezero(kc->value, kc->vlen);
	kc->value = NULL;
	kc->vlen = 0;
	if (kmip_state.s.activate) {
		kc_step(kc, S_ACTIVATE);
		return;
	}
	settle_now(kc);
}

/* Delete (§3.4): Destroy each UID; Revoke first where Destroy is refused. */
static void
destroyed(struct kcall *kc, const struct kmip_item *it)
{
	enum kmip_outcome oc = kmip_item_outcome(kc_step_op(kc->step), it);

	if (kc->step == S_DESTROY && oc == KMIP_OUTCOME_REVOKE &&
	    !kc->revoked) {
		kc->revoked = true;
		kc_step(kc, S_REVOKE);
		return;
	}
	if (kc->step == S_REVOKE && oc == KMIP_OUTCOME_OK) {
		kc_step(kc, S_DESTROY);
		return;
	}
	if (oc != KMIP_OUTCOME_OK && oc != KMIP_OUTCOME_NOT_FOUND) {
		kc_kmip_fail(kc, kc_step_name(kc->step), it);
		return;
	}
	if (++kc->cur < kc->uids.n) {
		kc->revoked = false;
		snprintf(kc->target, sizeof(kc->target), "%s",
		    kc->uids.uid[kc->cur]);
		kc_step(kc, S_DESTROY);
		return;
	}
	if (kc->final == KS_FAIL_EXISTS)
		kc_done(kc, KS_FAIL_EXISTS, "key '%.200s' exists",
		    kc->op->name);
	else
		kc_done(kc, kc->final, NULL);
}

/* --- status -------------------------------------------------------------- */

static void
status_answer(struct kcall *kc, const struct kmip_item *it)
{
	enum kmip_outcome oc = kmip_item_outcome(kc_step_op(kc->step), it);

	if (oc == KMIP_OUTCOME_OK) {
		kc->op->latency_ns = now_ns() - kc->t0;
		kc_done(kc, 0, NULL);
		return;
	}
	/* Discover Versions not supported (§3.4): Query instead. */
	if (kc->step == S_STATUS && oc == KMIP_OUTCOME_RENEGOTIATE) {
		kc_step(kc, S_QUERY);
		return;
	}
	kc_kmip_fail(kc, kc_step_name(kc->step), it);
}

/* --- the calls ----------------------------------------------------------- */

static struct kcall *
kc_new(struct ks_op *op)
{
	struct kcall *kc = xcalloc(1, sizeof(*kc));

	kc->op = op;
	kc->page = PAGE_ITEMS;
	kc->batch = ATTR_BATCH;
	op->store = kc;
	if (op->name != NULL)
		snprintf(kc->name, sizeof(kc->name), "%s%s",
		    kmip_state.s.prefix, op->name);
	return kc;
}

/* The KMIP Name of op's key fits (§3.1). */
static bool
name_fits(struct ks_op *op)
{
	if (strlen(kmip_state.s.prefix) + strlen(op->name) <= KMIP_NAME_MAX)
		return true;
	ks_op_done(op, KS_FAIL_INVALID, "kmip: prefix and key name are "
	    "longer than a KMIP Name (255 bytes)");
	return false;
}

void
kmip_op_create(struct ks_op *op)
{
	struct kcall *kc;

	if (!name_fits(op))
		return;
	kc = kc_new(op);
	kc->value = xmemdup(op->value, op->len);
	kc->vlen = op->len;
	kc_step(kc, S_LOCATE);
}

void
kmip_op_get(struct ks_op *op)
{
	if (name_fits(op))
		kc_step(kc_new(op), S_LOCATE);
}

void
kmip_op_del(struct ks_op *op)
{
	if (name_fits(op))
		kc_step(kc_new(op), S_LOCATE);
}

void
kmip_op_list(struct ks_op *op)
{
	kc_step(kc_new(op), S_LIST_LOCATE);
}

void
kmip_op_status(struct ks_op *op)
{
	struct kcall *kc = kc_new(op);

	kc->t0 = now_ns();
	kc_step(kc, S_STATUS);
}

void
kmip_op_cancel(struct ks_op *op)
{
	kc_free(op->store);
}
