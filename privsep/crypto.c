/*
 * The crypto process: the only process that will hold master keys. It never
 * touches the network or a file and parses only small, fixed IPC messages.
 * Every field from a worker is hostile: requests are re-authorised here
 * against this process's own copy of the policy table.
 *
 * Files: crypto.c (this: the process, its peers, the key-store status),
 * keyops.c (the key operations), keycache.c (the key cache and the random
 * pool), ks_wrap.c (the calls at the agent: ks_get / answer_ks_get, ...)
 * and sign.c (TLS handshake signatures with the server's TLS key).
 *
 * Peers and the messages accepted from each (and to the parent it sends
 * MSG_CRYPTO_STATE: start-up and the key store's reachability):
 *   parent   MSG_PEER (a worker or the agent channel), MSG_RELOAD,
 *            MSG_SHUTDOWN
 *   worker   MSG_STATUS_REQ, MSG_READY_REQ, MSG_KEY_CREATE, _IMPORT,
 *            _DESCRIBE, _DELETE, _LIST, _GENERATE, _ENCRYPT, _DECRYPT,
 *            _HMAC, _BULK_DECRYPT, MSG_TLS_SIGN
 *   agent    MSG_KS_STATUS_REP, MSG_KS_DONE, _VALUE, _NAMES, _FAIL,
 *            MSG_ERROR
 * Anything else is a protocol error: the sending channel is dropped (the
 * parent then replaces that worker); this process carries on.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "common/ev.h"
#include "common/gojson.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/policy.h"
#include "common/proc.h"
#include "common/slice.h"
#include "common/ciphertext.h"
#include "common/xmalloc.h"
#include "privsep/crypto.h"
#include "privsep/crypto_int.h"
#include "common/privdrop.h"
#include "common/sandbox.h"

#define KS_STATUS_TIMEOUT_MS	10000

static int	answer_status(struct peer *, struct ipc_msg *);
static int	answer_ready(struct peer *, struct ipc_msg *);
static int	answer_ks_status(struct peer *, struct ipc_msg *);
static int	answer_agent_error(struct peer *, struct ipc_msg *);
static int	parent_peer(struct peer *, struct ipc_msg *);

static const struct peer_dispatch parent_dispatch[] = {
	{ MSG_PEER,		parent_peer },
	{ MSG_RELOAD,		proc_answer_reload },
	{ MSG_SHUTDOWN,		proc_answer_shutdown },
	{ 0, NULL }
};
static const struct peer_dispatch worker_dispatch[] = {
	{ MSG_STATUS_REQ,	answer_status },
	{ MSG_READY_REQ,	answer_ready },
	{ MSG_KEY_CREATE,	answer_key_create },
	{ MSG_KEY_IMPORT,	answer_key_import },
	{ MSG_KEY_DESCRIBE,	answer_key_describe },
	{ MSG_KEY_DELETE,	answer_key_delete },
	{ MSG_KEY_LIST,		answer_key_list },
	{ MSG_KEY_GENERATE,	answer_key_generate },
	{ MSG_KEY_ENCRYPT,	answer_key_encrypt },
	{ MSG_KEY_DECRYPT,	answer_key_decrypt },
	{ MSG_KEY_HMAC,		answer_key_hmac },
	{ MSG_KEY_BULK_DECRYPT,	answer_key_bulk_decrypt },
	{ MSG_TLS_SIGN,		answer_tls_sign },
	{ 0, NULL }
};
static const struct peer_dispatch agent_dispatch[] = {
	{ MSG_KS_STATUS_REP,	answer_ks_status },
	{ MSG_KS_DONE,		answer_ks_reply },
	{ MSG_KS_VALUE,		answer_ks_reply },
	{ MSG_KS_NAMES,		answer_ks_reply },
	{ MSG_KS_FAIL,		answer_ks_reply },
	{ MSG_ERROR,		answer_agent_error },
	{ 0, NULL }
};

struct crypto_state cs;

struct peer *
crypto_worker(uint64_t serial)
{
	struct cpeer *cp;

	TAILQ_FOREACH(cp, &cs.workers, entry)
		if (cp->serial == serial)
			return &cp->p;
	return NULL;
}

uint64_t
crypto_serial(struct peer *p)
{
	return ((struct cpeer *)p->arg)->serial;
}

/* --- key-store status: /v1/status, /v1/ready and the offline probe ---- */

/* MSG_CRYPTO_STATE: u8 state (enum crypto_report), str detail. */
static void
tell_parent(enum crypto_report st, const char *detail)
{
	struct buf	 b;
	char		 d[512];

	(void)snprintf(d, sizeof(d), "%s", detail != NULL ? detail : "");
	buf_init(&b, sizeof(d) + 16);
	if (buf_put_u8(&b, st) == -1 || buf_put_str(&b, d) == -1 ||
	    peer_send(&cs.parent, MSG_CRYPTO_STATE, 0, &b) == -1)
		log_warnx("cannot tell the parent how the key store is");
	buf_release(&b);
}

static void
set_offline(bool offline, const char *why)
{
	if (offline == cs.offline)
		return;
	cs.offline = offline;
	if (offline) {
		cs.offline_since = ev_now();
		cs.next_offline = cs.offline_since + cs.cf.cache_offline_ms;
		log_warnx("key store offline%s", cs.cf.cache_offline_ms ?
		    ": cached keys keep serving for expiry.offline" : "");
		tell_parent(CRYPTO_STORE_DOWN, why);
	} else {
		log_info("key store reachable again");
		tell_parent(CRYPTO_STORE_UP, NULL);
	}
}

/*
 * Start-up: no worker is wired to this process before the parent hears
 * CRYPTO_STARTED, and it hears it only once the key store has answered a
 * status check and every key of `keys:` exists, so a client's first
 * answer is never a 503 or a 404 for a declared key. A key the store
 * will not create ends the start (CRYPTO_START_FAILED, with the store's
 * reason), as in KES. After start-up (a new agent, a reload) `keys:`
 * are made as before, and a failure is logged only.
 */
static void
startup_check(void)
{
	if (cs.start_done || cs.start_failed || !cs.creating ||
	    cs.declared_pending > 0)
		return;
	cs.start_done = true;
	tell_parent(CRYPTO_STARTED, NULL);
}

static void
startup_status(bool reachable)
{
	if (!reachable || cs.creating)
		return;
	cs.creating = true;
	keyops_create_declared();
	startup_check();
}

void
crypto_declared_answer(const char *name, const char *detail)
{
	char	 msg[512];

	if (cs.declared_pending > 0)
		cs.declared_pending--;
	if (detail != NULL && !cs.start_done && !cs.start_failed) {
		cs.start_failed = true;
		(void)snprintf(msg, sizeof(msg), "cannot create key '%s' of "
		    "`keys:` in the configuration: %s", name, detail);
		tell_parent(CRYPTO_START_FAILED, msg);
		return;
	}
	startup_check();
}

/* why: the store's reason when it is not reachable. */
static void
status_finish(bool reachable, uint64_t latency_ns, const char *why)
{
	struct waiter	*w;
	struct peer	*p;
	struct buf	 b;

	ev_timer_cancel(&cs.status_timer);
	cs.status_inflight = false;
	set_offline(!reachable, why);
	startup_status(reachable);
	buf_init(&b, 64);
	buf_put_u8(&b, reachable);
	buf_put_u64(&b, latency_ns);
	buf_put_u64(&b, (ev_now() - cs.started) * 1000000);
	while ((w = TAILQ_FIRST(&cs.status_waiters)) != NULL) {
		TAILQ_REMOVE(&cs.status_waiters, w, entry);
		if ((p = crypto_worker(w->worker)) == NULL)
			;
		else if (!w->ready)
			(void)peer_reply(p, MSG_STATUS_REP, w->id, &b);
		else if (reachable)
			peer_send(p, MSG_DONE, w->id, NULL);
		else
			peer_send_error(p, w->id, 504,
			    "key store is not reachable");
		free(w);
	}
	buf_release(&b);
}

static void
status_timeout(struct ev_timer *t)
{
	log_warnx("key store status check timed out");
	status_finish(false, 0, "the status check timed out");
}

/* Ask the agent for the store's status unless a query is running. */
static void
status_query(void)
{
	if (cs.status_inflight)
		return;
	if (cs.agent == NULL) {
		status_finish(false, 0, "no keystore agent");
		return;
	}
	cs.status_inflight = true;
	cs.status_id = ++cs.next_id;
	peer_send(&cs.agent->p, MSG_KS_STATUS_REQ, cs.status_id, NULL);
	ev_timer_set(&cs.status_timer, KS_STATUS_TIMEOUT_MS, status_timeout,
	    NULL);
}

static void
probe_tick(struct ev_timer *t)
{
	status_query();
	ev_timer_set(&cs.probe_timer, cs.start_done ? KS_PROBE_MS :
	    KS_START_PROBE_MS, probe_tick, NULL);
}

/* A call failed because the store is unavailable: check now rather than
 * at the next probe. */
void
ks_trigger_probe(void)
{
	status_query();
}

/*
 * STATUS_REQ and READY_REQ: str identity. The worker already checked the
 * policy; the check is repeated here so a compromised worker gains nothing
 * by skipping it.
 */
static int
status_wait(struct peer *p, struct ipc_msg *m, bool ready)
{
	const char	*identity, *path = ready ? "/v1/ready" : "/v1/status";
	struct waiter	*w;
	size_t		 i;
	bool		 ok = false;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	for (i = 0; i < cs.cf.nskip_auth; i++)
		if (strcmp(cs.cf.skip_auth[i], path) == 0)
			ok = true;
	if (!ok && !policy_allows(&cs.cf.pol, identity, path)) {
		log_warnx("worker %u asked for %s for an identity the "
		    "policy does not allow", p->index, path);
		peer_send_error(p, m->hdr.id, 403,
		    "not authorized: insufficient permissions");
		return 0;
	}
	w = xcalloc(1, sizeof(*w));
	w->worker = crypto_serial(p);
	w->id = m->hdr.id;
	w->ready = ready;
	TAILQ_INSERT_TAIL(&cs.status_waiters, w, entry);
	status_query();
	return 0;
}

static int
answer_status(struct peer *p, struct ipc_msg *m)
{
	return status_wait(p, m, false);
}

static int
answer_ready(struct peer *p, struct ipc_msg *m)
{
	return status_wait(p, m, true);
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
	if (!ok && !cs.offline)
		log_warnx("key store unreachable: %s", err);
	status_finish(ok, lat, err);
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
		status_finish(false, 0, msg);
	}
	return 0;
}

/* --- peers ------------------------------------------------------------ */

static void
peer_lost(struct peer *p, const char *why)
{
	struct cpeer *cp = p->arg;

	if (why != NULL)
		log_warnx("dropping %s %u channel: %s", role_name(p->role),
		    p->index, why);
	peer_close(p);
	if (p->role == ROLE_WORKER) {
		/* Its parked and waiting requests find no worker by this
		 * serial and are dropped when they come up. */
		TAILQ_REMOVE(&cs.workers, cp, entry);
	} else if (cp == cs.agent) {
		cs.agent = NULL;
		if (cs.status_inflight)
			status_finish(false, 0, "the keystore agent went "
			    "away");
		ks_fail_all();
	}
	free(cp);
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
	n->serial = ++cs.next_serial;
	peer_open(&n->p, m->fd, IPC_MAX_PEER, false, role, index,
	    role == ROLE_AGENT ? agent_dispatch : worker_dispatch, peer_lost,
	    n);
	m->fd = -1;
	if (role == ROLE_AGENT) {
		cs.agent = n;
		/* At start-up `keys:` wait for the store's first answer. */
		if (cs.start_done && !cs.declared_done)
			keyops_create_declared();
		status_query();		/* learn whether the store is up */
	} else
		TAILQ_INSERT_TAIL(&cs.workers, n, entry);
	log_debug("%s %u channel connected", role_name(role), index);
	return 0;
}

/* The slice's TLS key becomes the signer's current key; the slice's copy
 * is wiped either way. */
static int
tls_key_take(struct crypto_slice *c, char *err, size_t errlen)
{
	int r;

	r = signer_install(&cs.signer, c->tls_key, c->tls_key_len, err,
	    errlen);
	crypto_slice_forget_key(c);
	return r;
}

/* New policies, cache settings and TLS key take effect now (the key
 * before it stays for handshakes begun with the old certificate); new
 * `keys:` get created. */
static int
crypto_reload(struct buf *payload, char *err, size_t errlen)
{
	struct crypto_slice nc;

	if (crypto_slice_get(payload, &nc) == -1) {
		snprintf(err, errlen, "malformed crypto configuration");
		return -1;
	}
	if (tls_key_take(&nc, err, errlen) == -1) {
		crypto_slice_free(&nc);
		return -1;
	}
	crypto_slice_free(&cs.cf);
	cs.cf = nc;
	log_setlevel(cs.cf.log_level);
	keyops_cache_start();
	if (cs.cf.nkeys > 0 && cs.agent != NULL && cs.creating)
		keyops_create_declared();
	else
		cs.declared_done = cs.cf.nkeys == 0;
	return 0;
}
static int
crypto_configure(struct buf *payload)
{
	if (crypto_slice_get(payload, &cs.cf) == -1)
		return -1;
	log_setlevel(cs.cf.log_level);
	return 0;
}

static void
crypto_init(void)
{
	char err[256];

	/* Initialise OpenSSL fully now: nothing may load lazily later. */
	if (OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CRYPTO_STRINGS |
	    OPENSSL_INIT_ADD_ALL_CIPHERS | OPENSSL_INIT_ADD_ALL_DIGESTS |
	    OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1 ||
	    kes_crypto_init() == -1 || RAND_priv_bytes(cs.rnd, 1) != 1)
		fatalx("OpenSSL initialisation failed");
	explicit_bzero(cs.rnd, 1);
	/* The TLS key of the CONFIG slice (a restarted crypto process gets
	 * it again there), decoded once OpenSSL is set up. */
	if (tls_key_take(&cs.cf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	gojson_init();		/* stored keys: jansson's copies get wiped */
	TAILQ_INIT(&cs.workers);
	TAILQ_INIT(&cs.status_waiters);
	TAILQ_INIT(&cs.ksreqs);
	cs.started = ev_now();
	cs.declared_done = cs.cf.nkeys == 0;
	cache_init();
	keyops_cache_start();
	ev_timer_set(&cs.probe_timer, KS_START_PROBE_MS, probe_tick, NULL);
}

/* Chrooted, memory locked; the filter has nothing beyond the common set. */
static struct proc_child crypto_proc = {
	.role = ROLE_CRYPTO,
	.parent = &cs.parent,
	.dispatch = parent_dispatch,
	.chroot = true,
	.memlock = true,
	.configure = crypto_configure,
	.init = crypto_init,
	.reload = crypto_reload,
};

int
crypto_main(int argc, char **argv)
{
	crypto_proc.instance = argc > 1 ? argv[1] : NULL;
	return proc_run(&crypto_proc);
}
