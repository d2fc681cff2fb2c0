/* The parent: each child's slice of the configuration (common/slice.h). */
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

/* --- configuration slices ------------------------------------------ */

bool
any_skip_auth(const struct config *cf)
{
	size_t i;

	for (i = 0; i < cf->napi; i++)
		if (cf->api[i].skip_auth)
			return true;
	return false;
}

int
put_config(struct buf *b, const struct child *c)
{
	struct worker_slice	ws;
	struct crypto_slice	cs;
	struct agent_slice	as;
	struct buf		ksb;
	char			*skip[256];
	size_t			 i;
	int			r;

	switch (c->role) {
	case ROLE_WORKER:
		memset(&ws, 0, sizeof(ws));
		ws.index = c->index;
		ws.ncrypto = ps.ncrypto;
		ws.started_ns = ps.started_ns;
		ws.log_level = ps.cf->log.error;
		ws.audit_level = ps.cf->log.audit;
		ws.tls_auth = ps.cf->tls.auth;
		ws.cert = ps.tls.cert;
		ws.ca = ps.tls.ca;
		policy_set_copy(&ws.pol, ps.cf);
		ws.api = ps.cf->api;
		ws.napi = ps.cf->napi;
		r = worker_slice_put(b, &ws);
		policy_set_free(&ws.pol);
		return r;
	case ROLE_CRYPTO:
		memset(&cs, 0, sizeof(cs));
		cs.log_level = ps.cf->log.error;
		cs.started_ns = ps.started_ns;
		cs.index = c->index;
		cs.ncrypto = ps.ncrypto;
		policy_set_copy(&cs.pol, ps.cf);
		cs.cache_any_ms = ps.cf->cache.any_ms;
		cs.cache_unused_ms = ps.cf->cache.unused_ms;
		cs.cache_offline_ms = ps.cf->cache.offline_ms;
		cs.keys = ps.cf->keys;
		cs.nkeys = ps.cf->nkeys;
		/* The crypto process skips its own policy check exactly
		 * where the worker skips authentication. */
		cs.skip_auth = skip;
		for (i = 0; i < ps.cf->napi && cs.nskip_auth < 256; i++)
			if (ps.cf->api[i].skip_auth)
				skip[cs.nskip_auth++] = ps.cf->api[i].path;
		/* Decrypted by the parent: the crypto process has no
		 * password. The caller's buffer is wiped when released. */
		cs.tls_key = ps.tls.key_der.data;
		cs.tls_key_len = ps.tls.key_der.len;
		r = crypto_slice_put(b, &cs);
		policy_set_free(&cs.pol);
		return r;
	case ROLE_AGENT:
		/* The store's own settings, in its own layout. */
		memset(&as, 0, sizeof(as));
		as.log_level = ps.cf->log.error;
		as.restarted = ps.serving;
		r = snprintf(as.store, sizeof(as.store), "%s",
		    ks_name(&ps.cf->keystore));
		if (r < 0 || (size_t)r >= sizeof(as.store))
			return -1;
		buf_init(&ksb, IPC_MAX_CONTROL);
		if (ks_settings_put(&ksb, &ps.cf->keystore) == -1) {
			buf_release(&ksb);
			return -1;
		}
		as.settings = ksb.data;
		as.settings_len = ksb.len;
		r = agent_slice_put(b, &as);
		buf_release(&ksb);
		return r;
	default:
		return -1;
	}
}
