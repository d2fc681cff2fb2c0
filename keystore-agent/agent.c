/*
 * The keystore agent: the one process that talks to the external key store
 * and holds its credentials. It sees key blobs only in transit and never
 * caches them. It has no route to clients: its only peers are the parent
 * and the crypto process.
 *
 * Peers and the messages accepted from each:
 *   parent   MSG_PEER (the crypto channel), MSG_RELOAD, MSG_SHUTDOWN
 *   crypto   MSG_KS_STATUS_REQ, MSG_KS_CREATE, MSG_KS_GET, MSG_KS_DELETE,
 *            MSG_KS_LIST
 *
 * Every field from the crypto process is treated as hostile: a malformed
 * payload is a protocol error (the channel is dropped), and key names are
 * checked again here (kes_valid_name) before a store turns one into a file
 * name or a path. Values are never logged and are wiped after use.
 */
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
#include "common/proc.h"
#include "common/slice.h"
#include "common/xmalloc.h"
#include "keystore-agent/agent.h"
#include "keystore-agent/keystore.h"
#include "keystore-agent/list.h"
#include "common/privdrop.h"
#include "common/sandbox.h"

static int	answer_ks_status(struct peer *, struct ipc_msg *);
static int	answer_ks_create(struct peer *, struct ipc_msg *);
static int	answer_ks_get(struct peer *, struct ipc_msg *);
static int	answer_ks_delete(struct peer *, struct ipc_msg *);
static int	answer_ks_list(struct peer *, struct ipc_msg *);
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
	{ MSG_KS_CREATE,	answer_ks_create },
	{ MSG_KS_GET,		answer_ks_get },
	{ MSG_KS_DELETE,	answer_ks_delete },
	{ MSG_KS_LIST,		answer_ks_list },
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

/* KS_FAIL: u8 reason (enum ks_fail), str detail (never key material). */
static void
ks_fail(struct peer *p, uint32_t id, int reason, const char *detail)
{
	struct buf b;

	buf_init(&b, 512);
	(void)buf_put_u8(&b, reason);
	(void)buf_put_str(&b, detail);
	(void)peer_send(p, MSG_KS_FAIL, id, &b);
	buf_release(&b);
}

/* The reply to a store call that answers with done or a failure. */
static void
ks_done(struct peer *p, uint32_t id, const char *op, const char *name,
    int rc, const char *err)
{
	if (rc == 0) {
		(void)peer_send(p, MSG_KS_DONE, id, NULL);
		return;
	}
	if (rc == KS_FAIL_UNAVAILABLE)
		log_warnx("%s %s: %s", op, name, err);
	else
		log_debug("%s %s: %s", op, name, err);
	ks_fail(p, id, rc, err);
}

/*
 * A request that is only a key name (KS_GET, KS_DELETE): 1 with a name
 * the store may use, 0 when the name was refused (KS_FAIL sent), -1 when
 * the payload is malformed (a protocol error).
 */
static int
name_request(struct peer *p, struct ipc_msg *m, const char **name)
{
	if (buf_get_str(&m->payload, name, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!kes_valid_name(*name)) {
		ks_fail(p, m->hdr.id, KS_FAIL_INVALID, "invalid key name");
		return 0;
	}
	return 1;
}

/* KS_CREATE: str name, bytes value. Reply KS_DONE or KS_FAIL. */
static int
answer_ks_create(struct peer *p, struct ipc_msg *m)
{
	char		 err[256] = "";
	const char	*name;
	const uint8_t	*value;
	size_t		 len;

	if (buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_get_bytes(&m->payload, &value, &len) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!kes_valid_name(name))
		ks_fail(p, m->hdr.id, KS_FAIL_INVALID, "invalid key name");
	else if (len == 0 || len > KES_STORED_MAX) {
		snprintf(err, sizeof(err), "a stored key is 1 to %u bytes, "
		    "not %zu", KES_STORED_MAX, len);
		ks_fail(p, m->hdr.id, KS_FAIL_INVALID, err);
	} else
		ks_done(p, m->hdr.id, "create", name,
		    ag.ks->create(name, value, len, err, sizeof(err)), err);
	/* The value sits in the channel's input, which is ours to wipe
	 * once the frame is handled. */
	explicit_bzero((void *)(uintptr_t)value, len);
	return 0;
}

/* KS_GET: str name. Reply KS_VALUE (bytes value) or KS_FAIL. */
static int
answer_ks_get(struct peer *p, struct ipc_msg *m)
{
	char		 err[256] = "";
	const char	*name;
	struct buf	 b;
	size_t		 len;
	int		 rc;

	if ((rc = name_request(p, m, &name)) != 1)
		return rc;
	/* The store appends the value right after the length it needs in
	 * the reply, so there is one copy to wipe. */
	buf_init(&b, 4 + KES_STORED_MAX);
	(void)buf_put_u32(&b, 0);
	if ((rc = ag.ks->get(name, &b, err, sizeof(err))) != 0) {
		buf_release(&b);
		ks_done(p, m->hdr.id, "get", name, rc, err);
		return 0;
	}
	len = b.len - 4;
	b.data[0] = len >> 24;
	b.data[1] = len >> 16;
	b.data[2] = len >> 8;
	b.data[3] = len;
	/* Fails only when the crypto process stops reading (its queue is
	 * full, peer_send says so); a short failure may still get through. */
	if (peer_send(p, MSG_KS_VALUE, m->hdr.id, &b) == -1)
		ks_fail(p, m->hdr.id, KS_FAIL_UNAVAILABLE, "cannot queue "
		    "the reply");
	buf_release(&b);
	return 0;
}

/* KS_DELETE: str name. Reply KS_DONE or KS_FAIL. */
static int
answer_ks_delete(struct peer *p, struct ipc_msg *m)
{
	char		 err[256] = "";
	const char	*name;
	int		 rc;

	if ((rc = name_request(p, m, &name)) != 1)
		return rc;
	ks_done(p, m->hdr.id, "delete", name,
	    ag.ks->del(name, err, sizeof(err)), err);
	return 0;
}

/*
 * KS_LIST: str prefix. Reply KS_NAMES (u32 n, n x str name, str
 * continue_at) or KS_FAIL. The prefix is only compared, never used as a
 * path, so any string will do; one no name starts with lists nothing.
 */
static int
answer_ks_list(struct peer *p, struct ipc_msg *m)
{
	char		 err[256] = "";
	const char	*prefix;
	struct ks_names	 l;
	struct buf	 b;
	int		 rc;

	if (buf_get_str(&m->payload, &prefix, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	ks_names_init(&l, prefix);
	if ((rc = ag.ks->list(ks_names_add, &l, err, sizeof(err))) != 0) {
		ks_names_free(&l);
		log_warnx("list: %s", err);
		ks_fail(p, m->hdr.id, rc, err);
		return 0;
	}
	/* A page is at most KS_LIST_MAX * (4 + KES_NAME_MAX + 1) bytes. */
	buf_init(&b, IPC_MAX_PEER);
	if (ks_names_page(&l, KS_LIST_MAX, &b) == -1)
		fatalx("list: a page of names does not fit a frame");
	if (peer_send(p, MSG_KS_NAMES, m->hdr.id, &b) == -1)
		ks_fail(p, m->hdr.id, KS_FAIL_UNAVAILABLE, "cannot queue "
		    "the reply");
	buf_release(&b);
	ks_names_free(&l);
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
	proc_log_forward(&ag.parent);
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
