/*
 * The keystore agent: the one process that talks to the external key store
 * and holds its credentials. It sees key blobs only in transit and never
 * caches them. It has no route to clients: its only peers are the parent
 * and the crypto process.
 *
 * Peers and the messages accepted from each:
 *   parent   MSG_PEER (the crypto channel), MSG_RELOAD, MSG_SHUTDOWN
 *   crypto   MSG_KS_STATUS_REQ, MSG_KS_CREATE, MSG_KS_GET, MSG_KS_DELETE,
 *            MSG_KS_LIST (calls.c)
 *
 * This file starts the store (backend.h: settings, prepare, drop, init,
 * filter, through proc_run) and answers the parent; calls.c owns the
 * calls. With keystore.seal the seal helper is started in prepare and
 * the store is wrapped by the seal layer in init (seal.h).
 */
#include <sys/types.h>

#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/privdrop.h"
#include "common/proc.h"
#include "common/sandbox.h"
#include "common/slice.h"
#include "common/xmalloc.h"
#include "keystore-agent/agent.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/calls.h"
#include "keystore-agent/net.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/stores.h"

static int	parent_peer(struct peer *, struct ipc_msg *);

static const struct peer_dispatch parent_dispatch[] = {
	{ MSG_PEER,		parent_peer },
	{ MSG_RELOAD,		proc_answer_reload },
	{ MSG_SHUTDOWN,		proc_answer_shutdown },
	{ 0, NULL }
};

static int	agent_configure(struct buf *);
static int	agent_reload(struct buf *, char *, size_t);
static void	agent_prepare(const struct proc_opts *);
static void	agent_init(void);

static struct {
	struct peer		 parent;
	struct peer		 crypto[CRYPTO_MAX];	/* by index */
	struct agent_slice	 cf;
	const struct ks_backend	*ks;
	struct seal_conf	*seal;		/* NULL: values not sealed */
	uint8_t			 seal_digest[32];
} ag;

/* Not chrooted by default: a store says whether it can be (backend.h). */
static struct proc_child agent_proc = {
	.role = ROLE_AGENT,
	.parent = &ag.parent,
	.dispatch = parent_dispatch,
	.chroot = false,
	.memlock = true,
	.configure = agent_configure,
	.prepare = agent_prepare,
	.init = agent_init,
	.reload = agent_reload,
};

/* Its calls go with it: nobody is left to read their answers. */
static void
crypto_lost(struct peer *p, const char *why)
{
	if (why != NULL)
		log_warnx("dropping the channel of crypto %u: %s", p->index,
		    why);
	ks_calls_cancel(p);
	peer_close(p);
}

/* PEER: u8 role, u32 index; the descriptor is a crypto process's
 * channel (one per crypto process, server.crypto). */
static int
parent_peer(struct peer *p, struct ipc_msg *m)
{
	return proc_accept_crypto(m, ag.crypto, CRYPTO_MAX,
	    ks_calls_dispatch, crypto_lost) == -1 ? -1 : 0;
}

/* The log level may change; the store's settings only if the store
 * takes them (its reload). */
static int
agent_reload(struct buf *payload, char *err, size_t errlen)
{
	struct agent_slice	nc;
	struct seal_conf	*seal = NULL;
	struct buf		all, sb;
	uint8_t			d[32];
	int			rc = -1;

	if (agent_slice_get(payload, &nc) == -1) {
		snprintf(err, errlen, "malformed agent configuration");
		return -1;
	}
	buf_view(&all, nc.settings, nc.settings_len);
	if (seal_slice_split(&all, &sb, &seal) == -1)
		snprintf(err, errlen, "malformed agent configuration");
	else if (strcmp(nc.store, ag.cf.store) != 0)
		snprintf(err, errlen, "the key store cannot change without a "
		    "restart");
	else if (seal_conf_digest(seal, d),
	    memcmp(d, ag.seal_digest, sizeof(d)) != 0)
		snprintf(err, errlen, "the seal cannot change without a "
		    "restart");
	else {
		rc = ag.ks->reload(&sb, err, errlen);
	}
	seal_conf_free(seal);
	if (rc == 0) {
		log_setlevel(nc.log_level);
		ag.cf.log_level = nc.log_level;
	}
	agent_slice_free(&nc);
	return rc;
}

/* The store's rules, and the network's for a network store. */
static void
agent_rules(const struct ks_backend *ks)
{
	struct sb_rule	*r;
	size_t		 n = ks->nrules + (ks->net ? net_nrules : 0);

	if (!ks->net) {
		agent_proc.rules = ks->rules;
		agent_proc.nrules = ks->nrules;
		return;
	}
	r = xreallocarray(NULL, n, sizeof(*r));
	if (ks->nrules > 0)
		memcpy(r, ks->rules, ks->nrules * sizeof(*r));
	memcpy(r + ks->nrules, net_rules, net_nrules * sizeof(*r));
	agent_proc.rules = r;
	agent_proc.nrules = n;
}

/* The agent's slice: its log level and the store with its settings. */
static int
agent_configure(struct buf *payload)
{
	struct buf	all, sb;
	char		err[256];

	if (agent_slice_get(payload, &ag.cf) == -1)
		return -1;
	log_setlevel(ag.cf.log_level);
	if (!ks_served(ag.ks = ks_backend_find(ag.cf.store)))
		fatalx("the %s key store is not supported yet", ag.cf.store);
	buf_view(&all, ag.cf.settings, ag.cf.settings_len);
	if (seal_slice_split(&all, &sb, &ag.seal) == -1)
		return -1;
	seal_conf_digest(ag.seal, ag.seal_digest);
	if (ag.ks->settings(&sb, err, sizeof(err)) == -1)
		fatalx("%s key store: %s", ag.ks->name, err);
	agent_proc.chroot = ag.ks->chroot;
	agent_rules(ag.ks);
	return 0;
}

/* As root (when started so): the store's own preparation, for the
 * server's user (-1 in the setcap deployment: made as ourselves). */
static void
agent_prepare(const struct proc_opts *opts)
{
	struct passwd	*pw;
	char		 err[256];
	uid_t		 uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1;

#ifdef KEYWARD_VALGRIND
	const bool	 drops = false;	/* make VG=1: it keeps root's user */
#else
	const bool	 drops = geteuid() == 0;
#endif

	if (drops) {
		if ((pw = getpwnam(opts->user)) == NULL)
			fatalx("server.user '%s' does not exist", opts->user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (ag.ks->prepare(uid, gid, err, sizeof(err)) == -1)
		fatalx("%s key store: %s", ag.ks->name, err);
	/* The helper reads a PIN file as root and drops by itself; a PIN
	 * from the configuration was sent to it and is wiped here. */
	if (ag.seal != NULL) {
		seal_start(ag.seal, opts->user, opts->sandbox_debug,
		    ag.cf.restarted);
		seal_wipe_pin(ag.cf.settings, ag.cf.settings_len,
		    ag.seal->pin);
		seal_wipe_pin(ag.parent.ch.in.data, ag.parent.ch.in.cap,
		    ag.seal->pin);
		if (ag.seal->pin != NULL)
			explicit_bzero(ag.seal->pin, strlen(ag.seal->pin));
	}
}

static void
agent_init(void)
{
	char err[256];

	if (ag.ks->init(err, sizeof(err)) == -1)
		fatalx("%s key store: %s", ag.ks->name, err);
	ks_calls_init(ag.seal != NULL ? seal_wrap(ag.ks) : ag.ks,
	    KS_CALL_TIMEOUT_MS);
	log_debug("serving the %s key store%s", ag.ks->name,
	    ag.seal != NULL ? ", sealed" : "");
}

int
agent_main(int argc, char **argv)
{
	return proc_run(&agent_proc);
}
