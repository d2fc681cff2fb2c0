/*
 * SIGHUP: read the configuration again and hand every child its new slice;
 * on any error the running configuration stays and the log says why.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/dirs.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/metrics_region.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/policy.h"
#include "common/proc.h"
#include "common/slice.h"
#include "common/tls.h"
#include "common/xmalloc.h"
#include "keystore-agent/stores.h"
#include "privsep/dev.h"
#include "privsep/devpki.h"
#include "privsep/files.h"
#include "privsep/parent.h"
#include "privsep/parent_int.h"

/* --- reload ------------------------------------------------------------ */

static void
warn_fixed(const char *what, const char *old, const char *new)
{
	if (strcmp(old ? old : "", new ? new : "") != 0)
		log_warnx("reload: %s changed; it takes effect only after a "
		    "restart", what);
}

/* Whether two key-store sections give the agent the same settings (the
 * store's own encoding decides what counts). */
static bool
keystore_same(const struct keystore_cfg *a, const struct keystore_cfg *b)
{
	struct buf	ba, bb;
	bool		same;

	buf_init(&ba, IPC_MAX_CONTROL);
	buf_init(&bb, IPC_MAX_CONTROL);
	same = a->store == b->store && ks_settings_put(&ba, a) == 0 &&
	    ks_settings_put(&bb, b) == 0 && ba.len == bb.len &&
	    memcmp(ba.data, bb.data, ba.len) == 0;
	buf_release(&ba);
	buf_release(&bb);
	return same;
}

void
send_reload(struct child *c)
{
	struct buf b;

	if (c->state != CHILD_READY)
		return;	/* a child still starting gets the new CONFIG */
	if (c->role == ROLE_WORKER && ps.workers_held)
		return;	/* reload_workers_check sends it */
	buf_init(&b, IPC_MAX_CONTROL);
	if (put_config(&b, c) == -1 ||
	    peer_send(&c->ctl, MSG_RELOAD, ++ps.reload_seq, &b) == -1)
		log_warnx("cannot send the new configuration to %s",
		    child_name(c));
	else {
		c->cf_gen = ps.cf_gen;
		if (c->role == ROLE_CRYPTO)
			c->reload_id = ps.reload_seq;
	}
	buf_release(&b);
}

/*
 * The order of a reload: the agent and the crypto processes first, the
 * workers once every crypto process answered MSG_RELOAD_DONE
 * (child_reload_done), so no worker presents a certificate whose key a
 * signer lacks. The state: each crypto child's reload_id, the RELOAD it
 * has yet to answer, and ps.workers_held. A crypto process that is not
 * ready (it is restarting) gets the new configuration in its CONFIG and
 * owes nothing (child_ready checks again); one that dies before
 * answering is replaced the same way.
 */
static void
reload_children(void)
{
	unsigned int i;

	send_reload(&ps.agent);
	ps.workers_held = true;
	for (i = 0; i < ps.ncrypto; i++) {
		ps.crypto[i].reload_id = 0;
		send_reload(&ps.crypto[i]);
	}
	reload_workers_check();
}

void
reload_workers_check(void)
{
	unsigned int i;

	if (!ps.workers_held)
		return;
	for (i = 0; i < ps.ncrypto; i++)
		if (ps.crypto[i].state == CHILD_READY &&
		    ps.crypto[i].reload_id != 0)
			return;
	ps.workers_held = false;
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].cf_gen != ps.cf_gen)
			send_reload(&ps.workers[i]);
}

/* The files make a server context, and the key is one the crypto
 * process can sign handshakes with (then t->key_der holds it). */
int
check_tls(const struct config *cf, struct tls_files *t, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;

	ctx = tls_server_ctx(&t->cert, &t->key, cf->tls.password, &t->ca,
	    cf->tls.auth, any_skip_auth(cf), err, errlen);
	if (ctx == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return tls_key_decrypt(t, cf->tls.password, err, errlen);
}

void
ps_reload(void)
{
	struct config		*ncf;
	struct tls_files	 nt;
	struct keystore_cfg	 ks;
	char			 err[CONFIG_ERRLEN];
	size_t			 i;

	if (ps.is_dev) {
		log_info("reload: the development server has no "
		    "configuration file; nothing to do");
		return;
	}
	log_info("reloading %s", ps.cf->file);
	if (config_load(ps.cf->file, &ncf, err, sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration:"
		    " %s", err);
		return;
	}
	for (i = 0; i < ncf->nwarnings; i++)
		log_warnx("%s", ncf->warnings[i]);
	server_flags_apply(&ps.flags, ncf, false);
	if (tls_files_read(ncf, &nt, err, sizeof(err)) == -1 ||
	    check_tls(ncf, &nt, err, sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration:"
		    " %s", err);
		config_free(ncf);
		return;
	}
	warn_fixed("address", ps.cf->address, ncf->address);
	warn_fixed("server.user", ps.cf->server.user, ncf->server.user);
	warn_fixed("server.chroot", ps.cf->server.chroot, ncf->server.chroot);
	if (!keystore_same(&ps.cf->keystore, &ncf->keystore))
		log_warnx("reload: keystore changed; it takes effect only "
		    "after a restart");
	if (ncf->server.workers != ps.cf->server.workers)
		log_warnx("reload: server.workers changed; it takes effect "
		    "only after a restart");
	if (ncf->server.crypto != ps.cf->server.crypto)
		log_warnx("reload: server.crypto changed; it takes effect "
		    "only after a restart");
	/* What cannot change now keeps its running value. */
	free(ncf->address);
	ncf->address = xstrdup(ps.cf->address);
	ks = ncf->keystore;
	ncf->keystore = ps.cf->keystore;
	ps.cf->keystore = ks;
	free(ncf->server.user);
	ncf->server.user = xstrdup(ps.cf->server.user);
	free(ncf->server.chroot);
	ncf->server.chroot = xstrdup(ps.cf->server.chroot);
	ncf->server.workers = ps.cf->server.workers;
	ncf->server.crypto = ps.cf->server.crypto;

	config_free(ps.cf);
	tls_files_free(&ps.tls);
	ps.cf = ncf;
	ps.tls = nt;
	ps.cf_gen++;
	log_setlevel(ps.cf->log.error);
	reload_children();
	log_info("configuration reloaded");
}
