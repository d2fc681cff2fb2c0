/*
 * The KMIP store's start-up (backend.h): its settings in the agent's
 * slice, the TLS files read as root before the privilege drop, the TLS
 * context and the helper made after it, before the filter, and the
 * store's registration. The calls are kmip.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/kmip_int.h"
#include "keystore-agent/pemfile.h"

struct kmip_store kmip_state = {
	.waiters = TAILQ_HEAD_INITIALIZER(kmip_state.waiters),
};

static int
kmip_settings(struct buf *b, char *err, size_t errlen)
{
	struct kmip_store	*k = &kmip_state;
	const uint8_t		*start = buf_ptr(b);

	if (kmip_settings_get(b, &k->s, err, errlen) == -1)
		return -1;
	k->rawlen = (size_t)(buf_ptr(b) - start);
	k->raw = xmemdup(start, k->rawlen);
	return 0;
}

/* Only the log level may change while running: new servers, files or
 * credentials take a restart, as Vault's do. */
static int
kmip_reload(struct buf *b, char *err, size_t errlen)
{
	struct kmip_store	*k = &kmip_state;
	struct kmip_conf	 nc;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (kmip_settings_get(b, &nc, err, errlen) == -1)
		return -1;
	kmip_conf_free(xmemdup(&nc, sizeof(nc)));
	len = (size_t)(buf_ptr(b) - start);
	if (len != k->rawlen || memcmp(start, k->raw, len) != 0) {
		snprintf(err, errlen, "the KMIP settings cannot change without "
		    "a restart");
		return -1;
	}
	return 0;
}

/* As root when started so: the TLS files, which may be root's alone. */
static int
kmip_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct kmip_store *k = &kmip_state;

	if (k->s.ca[0] != '\0' && pemfile_read_ca(k->s.ca, 0, &k->ca,
	    &k->ca_len, err, errlen) == -1)
		return -1;
	if (pemfile_read(-1, k->s.cert, k->s.cert, &k->cert, &k->cert_len,
	    err, errlen) == -1 ||
	    pemfile_read(-1, k->s.key, k->s.key, &k->key, &k->key_len, err,
	    errlen) == -1)
		return -1;
	return 0;
}

/* The first connection, made as soon as the loop runs, says in the log
 * whether the servers can be reached; calls do not wait for it. */
static void
warm_done(struct kwait *w, struct kconn *c, const char *err)
{
	if (c == NULL) {
		log_warnx("kmip: no KMIP server reachable yet: %s", err);
		return;
	}
	log_info("kmip: connected to %s", kmip_conn_name(c));
	kmip_conn_release(c, true);
}

static void
warm_up(struct ev_timer *t)
{
	kmip_state.warm.cb = warm_done;
	kmip_conn_acquire(&kmip_state, &kmip_state.warm);
}

/* After the drop, before the filter: the helper (host names), the TLS
 * context; no connection is needed to start. */
static int
kmip_init(char *err, size_t errlen)
{
	struct kmip_store	*k = &kmip_state;
	char			 why[256];
	int			 rc;

	if (helper_start(NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	rc = kmip_conn_init(k, err, errlen);
	/* The context has its own copy of the key. */
	freezero(k->key, k->key_len);
	k->key = NULL;
	k->key_len = 0;
	if (rc == -1)
		return -1;
	ev_timer_set(&k->warm_timer, 0, warm_up, NULL);
	return 0;
}

const struct ks_backend ks_backend_kmip = {
	.name = "kmip",
	.keys = kmip_keys,
	.parse = kmip_parse,
	.conf_free = kmip_conf_free,
	/* The helper, forked after the chroot would be made, reads the
	 * resolver's files through the agent's root. */
	.chroot = false,
	/* net_rules and nothing of its own. */
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = kmip_settings_put,
	.settings = kmip_settings,
	.reload = kmip_reload,
	.prepare = kmip_prepare,
	.init = kmip_init,
	.status = kmip_op_status,
	.create = kmip_op_create,
	.get = kmip_op_get,
	.del = kmip_op_del,
	.list = kmip_op_list,
	.cancel = kmip_op_cancel,
};
