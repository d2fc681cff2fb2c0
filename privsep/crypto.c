/*
 * The crypto process: the only process that will hold master keys. It never
 * touches the network or a file and parses only small, fixed IPC messages.
 * Every field from a worker is hostile: requests are re-authorised here
 * against this process's own copy of the policy table.
 *
 * Peers and the messages accepted from each:
 *   parent   MSG_PEER (a worker or the agent channel), MSG_RELOAD,
 *            MSG_SHUTDOWN
 *   worker   MSG_STATUS_REQ
 *   agent    MSG_KS_STATUS_REP, MSG_ERROR
 * Anything else is a protocol error: the sending channel is dropped (the
 * parent then replaces that worker); this process carries on.
 */
#include <sys/queue.h>

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/policy.h"
#include "common/proc.h"
#include "common/slice.h"
#include "common/xmalloc.h"
#include "privsep/crypto.h"
#include "privsep/privdrop.h"
#include "privsep/sandbox.h"

#define KS_STATUS_TIMEOUT_MS	10000
#define STATUS_PATH		"/v1/status"

struct cpeer {
	struct peer		 p;
	TAILQ_ENTRY(cpeer)	 entry;
};
TAILQ_HEAD(cpeerlist, cpeer);

/* A worker request parked until the key store answers. */
struct waiter {
	TAILQ_ENTRY(waiter)	 entry;
	struct peer		*worker;	/* NULL once that worker left */
	uint32_t		 id;
};
TAILQ_HEAD(waiterlist, waiter);

static int	answer_status(struct peer *, struct ipc_msg *);
static int	answer_ks_status(struct peer *, struct ipc_msg *);
static int	answer_agent_error(struct peer *, struct ipc_msg *);
static int	parent_peer(struct peer *, struct ipc_msg *);
static int	parent_reload(struct peer *, struct ipc_msg *);
static int	parent_shutdown(struct peer *, struct ipc_msg *);

static const struct peer_dispatch parent_dispatch[] = {
	{ MSG_PEER,		parent_peer },
	{ MSG_RELOAD,		parent_reload },
	{ MSG_SHUTDOWN,		parent_shutdown },
	{ 0, NULL }
};
static const struct peer_dispatch worker_dispatch[] = {
	{ MSG_STATUS_REQ,	answer_status },
	{ 0, NULL }
};
static const struct peer_dispatch agent_dispatch[] = {
	{ MSG_KS_STATUS_REP,	answer_ks_status },
	{ MSG_ERROR,		answer_agent_error },
	{ 0, NULL }
};

static struct {
	struct peer		 parent;
	struct cpeerlist	 workers;
	struct cpeer		*agent;
	struct crypto_slice	 cf;
	uint64_t		 started;	/* ev_now() at start */
	/* One key-store status query at a time; callers share its answer. */
	struct waiterlist	 status_waiters;
	bool			 status_inflight;
	uint32_t		 status_id;
	uint32_t		 next_id;
	struct ev_timer		 status_timer;
	bool			 stopping;
} cs;

static void
status_finish(bool reachable, uint64_t latency_ns)
{
	struct waiter	*w;
	struct buf	 b;

	ev_timer_cancel(&cs.status_timer);
	cs.status_inflight = false;
	buf_init(&b, 64);
	(void)buf_put_u8(&b, reachable);
	(void)buf_put_u64(&b, latency_ns);
	(void)buf_put_u64(&b, (ev_now() - cs.started) * 1000000);
	while ((w = TAILQ_FIRST(&cs.status_waiters)) != NULL) {
		TAILQ_REMOVE(&cs.status_waiters, w, entry);
		if (w->worker != NULL)
			peer_send(w->worker, MSG_STATUS_REP, w->id, &b);
		free(w);
	}
	buf_release(&b);
}

static void
peer_lost(struct peer *p, const char *why)
{
	struct cpeer	*cp = p->arg;
	struct waiter	*w;

	if (why != NULL)
		log_warnx("dropping %s %u channel: %s", role_name(p->role),
		    p->index, why);
	peer_close(p);
	if (p->role == ROLE_WORKER) {
		TAILQ_REMOVE(&cs.workers, cp, entry);
		TAILQ_FOREACH(w, &cs.status_waiters, entry)
			if (w->worker == p)
				w->worker = NULL;
	} else if (cp == cs.agent) {
		cs.agent = NULL;
		/* Whatever the agent had not answered fails now. */
		if (cs.status_inflight)
			status_finish(false, 0);
	}
	free(cp);
}

static void
status_timeout(struct ev_timer *t)
{
	log_warnx("key store status check timed out");
	status_finish(false, 0);
}

/*
 * STATUS_REQ: str identity. The worker already checked the policy; the
 * check is repeated here so a compromised worker gains nothing by skipping
 * it.
 */
static int
answer_status(struct peer *p, struct ipc_msg *m)
{
	const char	*identity;
	struct waiter	*w;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!policy_allows(&cs.cf.pol, identity, STATUS_PATH)) {
		log_warnx("worker %u asked for status for an identity the "
		    "policy does not allow", p->index);
		peer_send_error(p, m->hdr.id, 403,
		    "not authorized: insufficient permissions");
		return 0;
	}
	w = xcalloc(1, sizeof(*w));
	w->worker = p;
	w->id = m->hdr.id;
	TAILQ_INSERT_TAIL(&cs.status_waiters, w, entry);
	if (cs.status_inflight)
		return 0;
	if (cs.agent == NULL) {
		status_finish(false, 0);
		return 0;
	}
	cs.status_inflight = true;
	cs.status_id = ++cs.next_id;
	peer_send(&cs.agent->p, MSG_KS_STATUS_REQ, cs.status_id, NULL);
	ev_timer_set(&cs.status_timer, KS_STATUS_TIMEOUT_MS, status_timeout,
	    NULL);
	return 0;
}

/* KS_STATUS_REP: u8 reachable, u64 latency ns, str error. */
static int
answer_ks_status(struct peer *p, struct ipc_msg *m)
{
	bool		 ok;
	uint64_t	 lat;
	const char	*err;

	if (buf_get_bool(&m->payload, &ok) == -1 ||
	    buf_get_u64(&m->payload, &lat) == -1 ||
	    buf_get_str(&m->payload, &err, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!cs.status_inflight || m->hdr.id != cs.status_id)
		return 0;	/* late answer to a query that timed out */
	if (!ok)
		log_warnx("key store unreachable: %s", err);
	status_finish(ok, lat);
	return 0;
}

static int
answer_agent_error(struct peer *p, struct ipc_msg *m)
{
	uint16_t	 status;
	const char	*msg;

	if (buf_get_u16(&m->payload, &status) == -1 ||
	    buf_get_str(&m->payload, &msg, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (cs.status_inflight && m->hdr.id == cs.status_id) {
		log_warnx("key store status: %s", msg);
		status_finish(false, 0);
	}
	return 0;
}

/* PEER: u8 role, u32 index; the descriptor is the channel. */
static int
parent_peer(struct peer *p, struct ipc_msg *m)
{
	struct cpeer	*n, *old;
	enum proc_role	 role;
	uint32_t	 index;

	if (proc_peer_get(&m->payload, &role, &index) == -1 ||
	    (role != ROLE_WORKER && role != ROLE_AGENT))
		return -1;	/* peer.c closes the descriptor */
	if (role == ROLE_AGENT && cs.agent != NULL)
		peer_lost(&cs.agent->p, "replaced by a new agent");
	if (role == ROLE_WORKER)
		TAILQ_FOREACH(old, &cs.workers, entry)
			if (old->p.index == index) {
				peer_lost(&old->p, "replaced by a new worker");
				break;
			}
	n = xcalloc(1, sizeof(*n));
	peer_open(&n->p, m->fd, IPC_MAX_PEER, false, role, index,
	    role == ROLE_AGENT ? agent_dispatch : worker_dispatch, peer_lost,
	    n);
	m->fd = -1;
	if (role == ROLE_AGENT)
		cs.agent = n;
	else
		TAILQ_INSERT_TAIL(&cs.workers, n, entry);
	log_debug("%s %u channel connected", role_name(role), index);
	return 0;
}

static int
parent_reload(struct peer *p, struct ipc_msg *m)
{
	struct crypto_slice nc;

	if (crypto_slice_get(&m->payload, &nc) == -1) {
		proc_reload_done(p, m->hdr.id, "malformed crypto configuration");
		return 0;
	}
	crypto_slice_free(&cs.cf);
	cs.cf = nc;
	log_setlevel(cs.cf.log_level);
	proc_reload_done(p, m->hdr.id, NULL);
	return 0;
}

static int
parent_shutdown(struct peer *p, struct ipc_msg *m)
{
	cs.stopping = true;
	return 0;
}

int
crypto_main(int argc, char **argv)
{
	struct proc_opts	opts;
	struct ipc_msg		m;

	proc_child_start(ROLE_CRYPTO, NULL, &cs.parent.ch, &m);
	if (proc_opts_get(&m.payload, &opts) == -1 ||
	    crypto_slice_get(&m.payload, &cs.cf) == -1)
		fatalx("malformed configuration from the parent");
	log_setlevel(cs.cf.log_level);

	proc_confine(&opts, true, true);

	/* Initialise OpenSSL fully now: nothing may load lazily later. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1)
		fatalx("OpenSSL initialisation failed");
	ev_init();
	TAILQ_INIT(&cs.workers);
	TAILQ_INIT(&cs.status_waiters);
	cs.started = ev_now();
	peer_adopt(&cs.parent, ROLE_PARENT, 0, parent_dispatch,
	    proc_parent_lost, NULL);

	if (sandbox_apply(ROLE_CRYPTO, opts.sandbox_debug) == -1)
		fatalx("cannot load the sandbox");
	proc_opts_free(&opts);
	log_debug("sandboxed; serving");
	proc_child_ready(&cs.parent.ch);

	/* Frames that came behind CONFIG are already buffered. */
	peer_poll(&cs.parent);
	while (!cs.stopping)
		ev_once(-1);
	log_debug("shutting down");
	return 0;
}
