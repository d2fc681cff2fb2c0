/*
 * The keystore agent: the one process that talks to the external key store
 * and holds its credentials. It sees key blobs only in transit and never
 * caches them. It has no route to clients: its only peers are the parent
 * and the crypto process.
 *
 * Peers and the messages accepted from each:
 *   parent   MSG_PEER (the crypto channel), MSG_RELOAD, MSG_SHUTDOWN
 *   crypto   MSG_KS_STATUS_REQ
 */
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/proc.h"
#include "common/slice.h"
#include "common/xmalloc.h"
#include "keystore-agent/agent.h"
#include "keystore-agent/keystore.h"
#include "privsep/privdrop.h"
#include "privsep/sandbox.h"

static int	answer_ks_status(struct peer *, struct ipc_msg *);
static int	parent_peer(struct peer *, struct ipc_msg *);
static int	parent_reload(struct peer *, struct ipc_msg *);
static int	parent_shutdown(struct peer *, struct ipc_msg *);

static const struct peer_dispatch parent_dispatch[] = {
	{ MSG_PEER,		parent_peer },
	{ MSG_RELOAD,		parent_reload },
	{ MSG_SHUTDOWN,		parent_shutdown },
	{ 0, NULL }
};
static const struct peer_dispatch crypto_dispatch[] = {
	{ MSG_KS_STATUS_REQ,	answer_ks_status },
	{ 0, NULL }
};

static struct {
	struct peer		 parent;
	struct peer		 crypto;
	struct agent_slice	 cf;
	const struct keystore	*ks;
	bool			 stopping;
} ag;

static void
crypto_lost(struct peer *p, const char *why)
{
	if (why != NULL)
		log_warnx("dropping the crypto channel: %s", why);
	peer_close(p);
}

/* KS_STATUS_REQ: empty. Reply KS_STATUS_REP: u8 ok, u64 ns, str error. */
static int
answer_ks_status(struct peer *p, struct ipc_msg *m)
{
	char		err[256] = "";
	uint64_t	lat = 0;
	struct buf	b;
	bool		ok;

	if (buf_end(&m->payload) == -1)
		return -1;
	ok = ag.ks->status(&lat, err, sizeof(err)) == 0;
	buf_init(&b, 512);
	(void)buf_put_u8(&b, ok);
	(void)buf_put_u64(&b, lat);
	(void)buf_put_str(&b, ok ? "" : err);
	(void)peer_send(p, MSG_KS_STATUS_REP, m->hdr.id, &b);
	buf_release(&b);
	return 0;
}

/* PEER: u8 role, u32 index; the descriptor is the crypto channel. */
static int
parent_peer(struct peer *p, struct ipc_msg *m)
{
	return proc_accept_crypto(m, &ag.crypto, crypto_dispatch,
	    crypto_lost);
}

static int
parent_reload(struct peer *p, struct ipc_msg *m)
{
	struct agent_slice	 nc;
	const char		*why = NULL;

	if (agent_slice_get(&m->payload, &nc) == -1)
		why = "malformed agent configuration";
	else if (nc.kind != ag.cf.kind || strcmp(nc.fs_path, ag.cf.fs_path))
		why = "the key store cannot change without a restart";
	if (why == NULL) {
		log_setlevel(nc.log_level);
		ag.cf.log_level = nc.log_level;
	}
	agent_slice_free(&nc);
	proc_reload_done(p, m->hdr.id, why);
	return 0;
}

static int
parent_shutdown(struct peer *p, struct ipc_msg *m)
{
	ag.stopping = true;
	return 0;
}

int
agent_main(int argc, char **argv)
{
	struct proc_opts	opts;
	struct ipc_msg		m;
	char			err[256];

	proc_child_start(ROLE_AGENT, NULL, &ag.parent.ch, &m);
	if (proc_opts_get(&m.payload, &opts) == -1 ||
	    agent_slice_get(&m.payload, &ag.cf) == -1)
		fatalx("malformed configuration from the parent");
	log_setlevel(ag.cf.log_level);
	switch (ag.cf.kind) {
	case KS_FS:
		ag.ks = &keystore_fs;
		break;
	default:
		fatalx("this key store is not supported yet");
	}

	/* The agent reaches its store by path (and later the network), so
	 * it is not chrooted. */
	proc_confine(&opts, false, true);
	if (ag.ks->init(&ag.cf, err, sizeof(err)) == -1)
		fatalx("%s key store: %s", ag.ks->name, err);

	ev_init();
	peer_adopt(&ag.parent, ROLE_PARENT, 0, parent_dispatch,
	    proc_parent_lost, NULL);
	if (sandbox_apply(ROLE_AGENT, opts.sandbox_debug) == -1)
		fatalx("cannot load the sandbox");
	proc_opts_free(&opts);
	log_debug("sandboxed; serving the %s key store", ag.ks->name);
	proc_child_ready(&ag.parent.ch);

	peer_poll(&ag.parent);
	while (!ag.stopping)
		ev_once(-1);
	return 0;
}
