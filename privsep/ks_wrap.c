/*
 * The crypto process's calls at the keystore agent, the other half of
 * keystore-agent/calls.c (as OpenSSH's monitor_wrap.c is of monitor.c):
 * one stub per call (ks_get, ks_create, ks_delete, ks_list) and its
 * answer (answer_ks_get, ...), which the stub names when it sends. Calls
 * are matched by frame id, fail after KS_REQ_TIMEOUT_MS, and all fail at
 * once when the agent goes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "privsep/crypto_int.h"


/*
 * KS_FAIL: u8 reason, str detail. Returns the reason, or 0 if malformed;
 * *detailp (when not NULL) points into m.
 */
static int
ks_fail_detail(struct ksreq *r, struct ipc_msg *m, const char **detailp)
{
	uint8_t		 reason;
	const char	*detail;

	if (buf_get_u8(&m->payload, &reason) == -1 ||
	    buf_get_str(&m->payload, &detail, NULL) == -1 ||
	    buf_end(&m->payload) == -1 || reason < KS_FAIL_EXISTS ||
	    reason > KS_FAIL_UNAVAILABLE)
		return 0;
	if (reason == KS_FAIL_UNAVAILABLE || reason == KS_FAIL_INVALID)
		log_warnx("key store: %s '%s': %s", msg_name(r->type),
		    r->name, detail);
	if (reason == KS_FAIL_UNAVAILABLE)
		ks_trigger_probe();
	if (detailp != NULL)
		*detailp = detail;
	return reason;
}

static int
ks_fail_reason(struct ksreq *r, struct ipc_msg *m)
{
	return ks_fail_detail(r, m, NULL);
}

/* KS_VALUE (bytes stored value) or KS_FAIL, to ks_get. */
static int
answer_ks_get(struct ksreq *r, struct ipc_msg *m)
{
	struct centry	*e = cache_find(r->name);
	struct kes_key	 k;
	const uint8_t	*v;
	size_t		 len;
	int		 reason, bad = 0, rv;

	if (e == NULL || e->parked == NULL)
		return 0;	/* cannot happen: fetching entries stay */
	if (m == NULL) {
		fetch_done(e, 502, "failed to read key");
		return 0;
	}
	if (m->hdr.type == MSG_KS_VALUE) {
		if (buf_get_bytes(&m->payload, &v, &len) == -1 ||
		    buf_end(&m->payload) == -1) {
			fetch_done(e, 502, "failed to read key");
			return -1;
		}
		rv = kes_key_decode(v, len, &k);
		/* The stored value sits in the channel's input: wipe it
		 * now rather than when the buffer is next compacted. */
		explicit_bzero((void *)(uintptr_t)v, len);
		if (rv == 0)
			centry_set(e, &k);
		kes_key_wipe(&k);
		if (rv == -1) {
			log_warnx("key '%s' in the key store is malformed",
			    r->name);
			fetch_done(e, 502, "failed to read key");
			return 0;
		}
		fetch_done(e, 0, NULL);
		return 0;
	}
	if (m->hdr.type != MSG_KS_FAIL ||
	    (reason = ks_fail_reason(r, m)) == 0) {
		reason = KS_FAIL_UNAVAILABLE;
		bad = -1;
	}
	if (reason == KS_FAIL_NOT_FOUND)
		fetch_done(e, 404, MSG_KEY_NOT_FOUND);
	else
		fetch_done(e, 502, "failed to read key");
	return bad;
}

/* KS_DONE or KS_FAIL, to ks_create. */
static int
answer_ks_create(struct ksreq *r, struct ipc_msg *m)
{
	const char	*detail = NULL;
	int		 reason = 0, bad = 0;

	if (m != NULL && m->hdr.type == MSG_KS_DONE) {
		if (buf_end(&m->payload) == -1)
			bad = -1;
		else {
			if (r->key != NULL)
				cache_put(r->name, r->key);
			if (r->declared) {
				log_info("created key '%s' (keys: in the "
				    "configuration)", r->name);
				crypto_declared_answer(r->name, NULL);
			} else
				send_to(r->worker, MSG_DONE, r->wid, NULL);
			return 0;
		}
	} else if (m != NULL && (m->hdr.type != MSG_KS_FAIL ||
	    (reason = ks_fail_detail(r, m, &detail)) == 0))
		bad = -1;
	if (r->declared) {
		if (reason == KS_FAIL_EXISTS) {
			crypto_declared_answer(r->name, NULL);
			return bad;
		}
		log_warnx("cannot create key '%s' of the configuration",
		    r->name);
		cs.declared_done = false;	/* again next time */
		crypto_declared_answer(r->name, m == NULL ? "the key store "
		    "did not answer in time" : detail != NULL &&
		    detail[0] != '\0' ? detail : bad == -1 ? "a malformed "
		    "answer from the keystore agent" : "the key store "
		    "refused it");
		return bad;
	}
	if (reason == KS_FAIL_EXISTS)
		send_error_to(r->worker, r->wid, 400, "key already exists");
	else
		send_error_to(r->worker, r->wid, 502, "failed to create key");
	return bad;
}

/* KS_DONE or KS_FAIL, to ks_delete. */
static int
answer_ks_delete(struct ksreq *r, struct ipc_msg *m)
{
	struct centry	*e;
	int		 reason = 0, bad = 0;

	if (m != NULL && m->hdr.type == MSG_KS_DONE &&
	    buf_end(&m->payload) == 0)
		reason = -1;
	else if (m != NULL && (m->hdr.type != MSG_KS_FAIL ||
	    (reason = ks_fail_reason(r, m)) == 0))
		bad = -1;
	if ((reason == -1 || reason == KS_FAIL_NOT_FOUND) &&
	    (e = cache_find(r->name)) != NULL && e->parked == NULL)
		cache_unlink(e);
	if (reason == -1)
		send_to(r->worker, MSG_DONE, r->wid, NULL);
	else if (reason == KS_FAIL_NOT_FOUND)
		send_error_to(r->worker, r->wid, 404, MSG_KEY_NOT_FOUND);
	else
		send_error_to(r->worker, r->wid, 502, "failed to delete key");
	return bad;
}

/* KS_NAMES (checked, passed on unchanged as KEY_NAMES) or KS_FAIL, to
 * ks_list. */
static int
answer_ks_list(struct ksreq *r, struct ipc_msg *m)
{
	const char	*s;
	uint32_t	 n, i;
	struct buf	 v;

	if (m != NULL && m->hdr.type == MSG_KS_NAMES) {
		buf_view(&v, m->payload.data, m->payload.len);
		if (buf_get_u32(&v, &n) == -1 || n > KS_LIST_MAX)
			goto bad;
		for (i = 0; i <= n; i++)	/* the names, continue_at */
			if (buf_get_str(&v, &s, NULL) == -1)
				goto bad;
		if (buf_end(&v) == -1)
			goto bad;
		send_to(r->worker, MSG_KEY_NAMES, r->wid, &m->payload);
		return 0;
	}
	/* No answer (timeout, agent gone) or a failure it reported. */
	if (m == NULL || (m->hdr.type == MSG_KS_FAIL &&
	    ks_fail_reason(r, m) != 0)) {
		send_error_to(r->worker, r->wid, 502, "failed to list keys");
		return 0;
	}
bad:
	send_error_to(r->worker, r->wid, 502, "failed to list keys");
	return -1;
}

/* The agent answered r (m NULL: it failed or timed out). -1 when the
 * answer was malformed: a protocol error. */
static int
ks_done(struct ksreq *r, struct ipc_msg *m)
{
	int rv;

	rv = r->answer(r, m);
	if (r->key != NULL) {
		kes_key_wipe(r->key);
		free(r->key);
		r->key = NULL;
	}
	return rv;
}

/* --- calls in flight ---------------------------------------------------- */

static void
ksreq_tick(struct ev_timer *t)
{
	struct ksreq	*r;
	uint64_t	 now = ev_now();

	/* Every call has the same timeout: the oldest are first. */
	while ((r = TAILQ_FIRST(&cs.ksreqs)) != NULL && r->deadline <= now) {
		TAILQ_REMOVE(&cs.ksreqs, r, entry);
		log_warnx("key store: %s '%s' timed out", msg_name(r->type),
		    r->name);
		(void)ks_done(r, NULL);
		free(r);
		ks_trigger_probe();
	}
	if (!TAILQ_EMPTY(&cs.ksreqs))
		ev_timer_set(&cs.ksreq_timer, 1000, ksreq_tick, NULL);
}

static struct ksreq *
ks_call(uint16_t type, const struct buf *b, const char *name,
    int (*answer)(struct ksreq *, struct ipc_msg *))
{
	struct ksreq *r;

	if (cs.agent == NULL)
		return NULL;
	r = xcalloc(1, sizeof(*r));
	r->id = ++cs.next_id;
	r->type = type;
	r->answer = answer;
	r->deadline = ev_now() + KS_REQ_TIMEOUT_MS;
	snprintf(r->name, sizeof(r->name), "%s", name);
	if (peer_send(&cs.agent->p, type, r->id, b) == -1) {
		free(r);
		return NULL;
	}
	TAILQ_INSERT_TAIL(&cs.ksreqs, r, entry);
	if (!cs.ksreq_timer.armed)
		ev_timer_set(&cs.ksreq_timer, 1000, ksreq_tick, NULL);
	return r;
}

/* KS_DONE, KS_VALUE, KS_NAMES, KS_FAIL: the answer to one call. */
int
answer_ks_reply(struct peer *p, struct ipc_msg *m)
{
	struct ksreq	*r;
	int		 rv;

	TAILQ_FOREACH(r, &cs.ksreqs, entry)
		if (r->id == m->hdr.id)
			break;
	if (r == NULL)
		return 0;	/* late answer to a call that timed out */
	TAILQ_REMOVE(&cs.ksreqs, r, entry);
	rv = ks_done(r, m);
	free(r);
	return rv;
}

/* The agent is gone: every call it had fails now. */
void
ks_fail_all(void)
{
	struct ksreq *r;

	while ((r = TAILQ_FIRST(&cs.ksreqs)) != NULL) {
		TAILQ_REMOVE(&cs.ksreqs, r, entry);
		(void)ks_done(r, NULL);
		free(r);
	}
	ev_timer_cancel(&cs.ksreq_timer);
}

/* --- the stubs: one per call ------------------------------------------ */

/* A call whose payload is one string: a key name, or a prefix. */
static struct ksreq *
ks_call_str(uint16_t type, const char *s,
    int (*answer)(struct ksreq *, struct ipc_msg *))
{
	struct ksreq	*r;
	struct buf	 b;

	buf_init(&b, KES_NAME_MAX + 16);
	buf_put_str(&b, s);
	r = ks_call(type, &b, s, answer);
	buf_release(&b);
	return r;
}

/* KS_GET: str name. */
struct ksreq *
ks_get(const char *name)
{
	return ks_call_str(MSG_KS_GET, name, answer_ks_get);
}

/* KS_CREATE: str name, bytes stored value. */
struct ksreq *
ks_create(const char *name, const struct buf *value)
{
	struct ksreq	*r;
	struct buf	 b;

	buf_init(&b, KES_STORED_MAX + KES_NAME_MAX + 16);
	buf_put_str(&b, name);
	buf_put_bytes(&b, buf_ptr(value), buf_avail(value));
	r = ks_call(MSG_KS_CREATE, &b, name, answer_ks_create);
	buf_release(&b);
	return r;
}

/* KS_DELETE: str name. */
struct ksreq *
ks_delete(const char *name)
{
	return ks_call_str(MSG_KS_DELETE, name, answer_ks_delete);
}

/* KS_LIST: str prefix. */
struct ksreq *
ks_list(const char *prefix)
{
	return ks_call_str(MSG_KS_LIST, prefix, answer_ks_list);
}
