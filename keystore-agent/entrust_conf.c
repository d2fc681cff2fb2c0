/*
 * The Entrust store's start-up (backend.h): its settings in the agent's
 * slice, tls.ca read and checked before the privilege drop, and the HTTPS
 * client, the first login and KES's connect-time status check (GetBox)
 * after it, before the filter. As in KES, a tls.ca replaces the system's
 * roots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/entrust.h"
#include "keystore-agent/entrust_parse.h"
#include "keystore-agent/kes_http.h"

struct entrust en_state = {
	.waiters = TAILQ_HEAD_INITIALIZER(en_state.waiters),
};

/* Settings: str endpoint, vault_id, box_id, username, password, tls.ca;
 * an unset string is "". */
static int
en_settings_put(struct buf *b, const void *conf)
{
	const struct entrust_conf *c = conf;

	if ((buf_put_str(b, c->endpoint) | buf_put_str(b, c->vault_id) |
	    buf_put_str(b, c->box_id) | buf_put_str(b, c->username) |
	    buf_put_str(b, c->password) |
	    buf_put_str(b, c->ca != NULL ? c->ca : "")) != 0)
		return -1;
	return 0;
}

static void
settings_free(struct en_settings *s)
{
	freezero_str(s->endpoint);
	freezero_str(s->vault_id);
	freezero_str(s->box_id);
	freezero_str(s->username);
	freezero_str(s->password);
	freezero_str(s->ca);
	memset(s, 0, sizeof(*s));
}

/* The vault ID becomes a path element: no '/', '?', '#' or '%'. */
static bool
path_safe(const char *s)
{
	return kes_http_printable(s) && strpbrk(s, "/?#%") == NULL;
}

static int
settings_read(struct buf *b, struct en_settings *s, char *err, size_t errlen)
{
	memset(s, 0, sizeof(*s));
	if (buf_get_strdup(b, &s->endpoint) == -1 ||
	    buf_get_strdup(b, &s->vault_id) == -1 ||
	    buf_get_strdup(b, &s->box_id) == -1 ||
	    buf_get_strdup(b, &s->username) == -1 ||
	    buf_get_strdup(b, &s->password) == -1 ||
	    buf_get_strdup(b, &s->ca) == -1) {
		snprintf(err, errlen, "malformed settings");
		goto fail;
	}
	if (s->endpoint[0] == '\0' || !kes_http_printable(s->endpoint)) {
		snprintf(err, errlen, "keycontrol: no endpoint specified, or "
		    "one with blanks or control characters");
		goto fail;
	}
	if (s->vault_id[0] == '\0' || !path_safe(s->vault_id)) {
		snprintf(err, errlen, "keycontrol: no vault ID specified, or "
		    "one that cannot be a path element");
		goto fail;
	}
	if (s->box_id[0] == '\0' || s->username[0] == '\0' ||
	    s->password[0] == '\0') {
		snprintf(err, errlen, "keycontrol: no box ID, username or "
		    "password specified");
		goto fail;
	}
	return 0;
 fail:
	settings_free(s);
	return -1;
}

static int
en_settings(struct buf *b, char *err, size_t errlen)
{
	struct entrust	*en = &en_state;
	const uint8_t	*start = buf_ptr(b);

	settings_free(&en->s);
	if (settings_read(b, &en->s, err, errlen) == -1)
		return -1;
	if (en->raw != NULL)
		freezero(en->raw, en->rawlen);
	en->rawlen = (size_t)(buf_ptr(b) - start);
	en->raw = xmemdup(start, en->rawlen);
	return 0;
}

static int
en_reload(struct buf *b, char *err, size_t errlen)
{
	struct entrust		*en = &en_state;
	struct en_settings	 ns;
	const uint8_t		*start = buf_ptr(b);
	size_t			 len;

	if (settings_read(b, &ns, err, errlen) == -1)
		return -1;
	settings_free(&ns);
	len = (size_t)(buf_ptr(b) - start);
	if (len != en->rawlen || memcmp(start, en->raw, len) != 0) {
		snprintf(err, errlen, "the Entrust KeyControl settings cannot "
		    "change without a restart");
		return -1;
	}
	return 0;
}

static int
en_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	return kes_http_ca("keycontrol", en_state.s.ca, &en_state.ca,
	    &en_state.ca_len, err, errlen);
}

/* After the drop, before the filter: the HTTPS client, the first login
 * and KES's connect-time GetBox, which must succeed. */
static int
en_init(char *err, size_t errlen)
{
	struct entrust *en = &en_state;

	if (kes_http_client("keycontrol", en->s.endpoint, &en->ca,
	    &en->ca_len, &en->net, err, errlen) == -1 ||
	    en_auth_start(en, err, errlen) == -1 ||
	    en_box_check(en, err, errlen) == -1)
		return -1;
	log_info("keycontrol: logged in at %s, box '%s'", en->s.endpoint,
	    en->s.box_id);
	return 0;
}

const struct ks_backend ks_backend_entrust = {
	.name = "entrust",
	.inner = "keycontrol",
	.keys = entrust_keys,
	.parse = entrust_parse,
	.conf_free = entrust_conf_free,
	.chroot = false,
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = en_settings_put,
	.settings = en_settings,
	.reload = en_reload,
	.prepare = en_prepare,
	.init = en_init,
	.status = en_op_status,
	.create = en_op_create,
	.get = en_op_get,
	.del = en_op_del,
	.list = en_op_list,
	.cancel = en_op_cancel,
};
