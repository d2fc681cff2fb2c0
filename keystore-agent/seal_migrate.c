/*
 * `keyward seal seal|unseal --config FILE`: seal (or unseal) every value
 * of the configured store, whatever it is, through the store interface
 * (backend.h): the store's own code runs here, in the operator's
 * process, on an event loop of its own, as the server's user.
 *
 * No store offers an atomic replace through that interface (KES
 * semantics forbid overwriting a key; Vault KV v1 has none, and KV v2
 * reads only version 1, so a check-and-set write of version 2 would not
 * be read at all). So a key moves in steps, each written and read back
 * before the next:
 *   1. stage   create the staging name (seal_stage.h) holding the new
 *              form and the key's name; read it back
 *   2. delete  the key's old form
 *   3. create  the key with its new form; read it back
 *   4. unstage delete the staging name
 * Killed at any instant, a key has a readable copy: before 2 the old
 * form, between 2 and 3 the staged one (the running agent's seal layer
 * reads a missing key from it, seal.c), after 3 the new. The next run
 * first settles what a crash left staged: a key still missing is
 * created from its staged copy, a staged copy whose key holds the same
 * value (either form) is deleted, and one whose key holds another
 * value is left alone and reported.
 */
#include <sys/types.h>

#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/ev.h"
#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/privdrop.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/seal_cmd.h"
#include "keystore-agent/seal_fmt.h"
#include "keystore-agent/seal_stage.h"
#include "keystore-agent/stores.h"

#define MIG_CALL_MS	30000		/* one store call */
#define MIG_VALUE_MAX	(KES_STORED_MAX * 2)

struct mig {
	struct cmd		 *c;
	const struct ks_backend	 *ks;
	char			**names;
	size_t			  nnames, cap;
	unsigned long		  limit;	/* test hook: crash after */
	bool			  gap;		/* ... in a key's gap */
	unsigned int		  kept;		/* staged copies left */
};

struct mig_call {
	struct mig	*m;
	bool		 done;
	int		 rc;
	char		 detail[256];
};

static void
mig_done(struct ks_op *op, int rc, const char *detail)
{
	struct mig_call *mc = op->owner_arg;

	mc->done = true;
	mc->rc = rc;
	snprintf(mc->detail, sizeof(mc->detail), "%s", detail);
}

static int
mig_name(struct ks_op *op, const char *name)
{
	struct mig_call	*mc = op->owner_arg;
	struct mig	*m = mc->m;

	if (m->nnames == m->cap) {
		m->cap = m->cap == 0 ? 64 : m->cap * 2;
		m->names = xreallocarray(m->names, m->cap, sizeof(char *));
	}
	m->names[m->nnames++] = xstrdup(name);
	return 0;
}

static const struct ks_op_owner mig_owner = { mig_done, mig_name };

/* One store call, run to its end on our loop: 0 or an enum ks_fail. */
static int
call(struct mig *m, enum ks_op_type t, const char *name, const uint8_t *v,
    size_t len, struct buf *out, char *detail, size_t dlen)
{
	struct mig_call	mc = { .m = m };
	struct ks_op	op;
	uint64_t	deadline = ev_now() + MIG_CALL_MS;

	memset(&op, 0, sizeof(op));
	op.type = t;
	op.name = name;
	op.value = v;
	op.len = len;
	op.out = out;
	op.owner = &mig_owner;
	op.owner_arg = &mc;
	if (out != NULL)
		buf_reset(out);
	switch (t) {
	case KS_OP_CREATE:
		m->ks->create(&op);
		break;
	case KS_OP_GET:
		m->ks->get(&op);
		break;
	case KS_OP_DELETE:
		m->ks->del(&op);
		break;
	case KS_OP_LIST:
		m->ks->list(&op);
		break;
	case KS_OP_STATUS:
		m->ks->status(&op);
		break;
	}
	while (!mc.done) {
		if (ev_now() >= deadline) {
			if (m->ks->cancel != NULL)
				m->ks->cancel(&op);
			/* Without a cancel the store still holds op. */
			fatalx("%s '%s': the key store did not answer within "
			    "%u s; nothing more is changed", t == KS_OP_LIST ?
			    "list" : "call", name != NULL ? name : "",
			    MIG_CALL_MS / 1000);
		}
		ev_once(1000);
	}
	snprintf(detail, dlen, "%s", mc.detail);
	return mc.rc;
}

static void
get_must(struct mig *m, const char *name, struct buf *out)
{
	char	detail[256];
	int	rc;

	if ((rc = call(m, KS_OP_GET, name, NULL, 0, out, detail,
	    sizeof(detail))) != 0)
		fatalx("%s: cannot read it: %s; nothing more is changed", name,
		    detail);
}

/* Create name with v and read it back. */
static void
put_checked(struct mig *m, const char *name, const uint8_t *v, size_t len)
{
	struct buf	back;
	char		detail[256];
	int		rc;

	if ((rc = call(m, KS_OP_CREATE, name, v, len, NULL, detail,
	    sizeof(detail))) != 0)
		fatalx("%s: cannot write it: %s; nothing more is changed", name,
		    detail);
	buf_init(&back, MIG_VALUE_MAX);
	get_must(m, name, &back);
	if (back.len != len || memcmp(back.data, v, len) != 0)
		fatalx("%s: it did not read back as written; nothing more is "
		    "changed", name);
	buf_release(&back);
}

static void
del_must(struct mig *m, const char *name)
{
	char	detail[256];
	int	rc;

	rc = call(m, KS_OP_DELETE, name, NULL, 0, NULL, detail,
	    sizeof(detail));
	if (rc != 0 && rc != KS_FAIL_NOT_FOUND)
		fatalx("%s: cannot delete it: %s; nothing more is changed",
		    name, detail);
}

/* The plain value of v (opened when sealed) into out; -1 with why. */
static int
plain(struct mig *m, const char *name, const uint8_t *v, size_t len,
    struct buf *out, const char **why)
{
	buf_reset(out);
	switch (seal_kind(v, len)) {
	case SEAL_V1:
		return cmd_unseal_value(m->c, name, v, len, out, why);
	case SEAL_PLAIN:
		return buf_put(out, v, len);
	default:
		*why = "an unknown sealed version";
		return -1;
	}
}

/* What a crash left under staging name s. */
static void
settle(struct mig *m, const char *s)
{
	struct buf	 rec, cur, a, b;
	const uint8_t	*v;
	const char	*why = "";
	char		 name[KES_NAME_MAX + 1], sn[SEAL_STAGE_NAME_LEN + 1];
	char		 detail[256];
	size_t		 vlen;
	int		 rc;

	buf_init(&rec, MIG_VALUE_MAX);
	buf_init(&cur, MIG_VALUE_MAX);
	buf_init(&a, MIG_VALUE_MAX);
	buf_init(&b, MIG_VALUE_MAX);
	get_must(m, s, &rec);
	if (seal_stage_decode(rec.data, rec.len, name, sizeof(name), &v,
	    &vlen) == 0)
		seal_stage_name(name, sn);
	else
		sn[0] = '\0';
	if (strcmp(sn, s) != 0) {
		log_warnx("%s: not a staged copy of this name; left alone", s);
		m->kept++;
		goto out;
	}
	rc = call(m, KS_OP_GET, name, NULL, 0, &cur, detail, sizeof(detail));
	if (rc == KS_FAIL_NOT_FOUND) {
		/* Killed between delete and create: finish the move. */
		put_checked(m, name, v, vlen);
		log_info("%s: restored from its staged copy", name);
		del_must(m, s);
	} else if (rc != 0)
		fatalx("%s: cannot read it: %s; nothing more is changed", name,
		    detail);
	else if (plain(m, name, cur.data, cur.len, &a, &why) == 0 &&
	    plain(m, name, v, vlen, &b, &why) == 0 && a.len == b.len &&
	    memcmp(a.data, b.data, a.len) == 0)
		del_must(m, s);
	else {
		log_warnx("%s: its staged copy %s holds another value (%s); "
		    "both left alone", name, s, why);
		m->kept++;
	}
 out:
	buf_release(&rec);
	buf_release(&cur);
	buf_release(&a);
	buf_release(&b);
}

static void
crash_here(void)
{
	log_info("KEYWARD_SEAL_CRASH_AFTER: killing myself");
	kill(getpid(), SIGKILL);
}

static void
migrate(struct mig *m, const char *name, bool seal)
{
	struct buf	 v, nv, check, rec;
	const char	*why = "";
	char		 s[SEAL_STAGE_NAME_LEN + 1];
	enum seal_kind	 k;

	buf_init(&v, MIG_VALUE_MAX);
	buf_init(&nv, MIG_VALUE_MAX);
	buf_init(&check, MIG_VALUE_MAX);
	buf_init(&rec, MIG_VALUE_MAX);
	get_must(m, name, &v);
	k = seal_kind(v.data, v.len);
	if ((seal && k != SEAL_PLAIN) || (!seal && k != SEAL_V1)) {
		if (k == SEAL_UNKNOWN_VERSION)
			log_warnx("%s: an unknown sealed version; left alone",
			    name);
		m->c->skipped++;
		goto out;
	}
	if (seal) {
		if (cmd_seal_value(m->c, name, v.data, v.len, &nv) == -1)
			fatalx("%s: cannot seal", name);
		if (cmd_unseal_value(m->c, name, nv.data, nv.len, &check,
		    &why) == -1 || check.len != v.len ||
		    memcmp(check.data, v.data, v.len) != 0)
			fatalx("%s: the sealed form does not open (%s)", name,
			    why);
	} else if (cmd_unseal_value(m->c, name, v.data, v.len, &nv,
	    &why) == -1)
		fatalx("%s: %s; nothing changed from here on", name, why);

	seal_stage_name(name, s);
	if (seal_stage_encode(&rec, name, nv.data, nv.len) == -1)
		fatalx("%s: the staged record is too large", name);
	put_checked(m, s, rec.data, rec.len);
	del_must(m, name);
	if (m->gap && m->limit > 0 &&
	    m->c->sealed + m->c->unsealed >= m->limit)
		crash_here();
	put_checked(m, name, nv.data, nv.len);
	del_must(m, s);
	if (seal)
		m->c->sealed++;
	else
		m->c->unsealed++;
 out:
	buf_release(&v);
	buf_release(&nv);
	buf_release(&check);
	buf_release(&rec);
}

/* The store, as the agent starts it (agent.c): settings, prepare as
 * root, then init as the server's user. */
static void
store_open(struct mig *m, char **pin)
{
	struct config	*cf = NULL;
	struct passwd	*pw;
	struct buf	 sb;
	char		 err[512], *user;
	uid_t		 uid = (uid_t)-1;
	gid_t		 gid = (gid_t)-1;

	if (config_load(m->c->file, &cf, err, sizeof(err)) == -1)
		fatalx("%s", err);
	m->ks = cf->keystore.store;
	if (!ks_served(m->ks))
		fatalx("the %s key store is not supported", ks_name(
		    &cf->keystore));
	buf_init(&sb, IPC_MAX_CONTROL);
	if (m->ks->settings_put(&sb, cf->keystore.conf) == -1 ||
	    m->ks->settings(&sb, err, sizeof(err)) == -1)
		fatalx("%s key store: %s", m->ks->name, err);
	buf_release(&sb);
	user = xstrdup(cf->server.user != NULL ? cf->server.user : "keyward");
	config_free(cf);

	ev_init();
	if (geteuid() == 0) {
		if ((pw = getpwnam(user)) == NULL)
			fatalx("server.user '%s' does not exist", user);
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (m->ks->prepare(uid, gid, err, sizeof(err)) == -1)
		fatalx("%s key store: %s", m->ks->name, err);
	/* A PIN file may be root's alone; what we write must be the
	 * server's user's, as the agent's own writes are. */
	*pin = cmd_pin(m->c->cf);
	if (geteuid() == 0) {
		struct drop_opts d = { .user = user };

		privdrop(&d);
	}
	free(user);
	if (m->ks->init(err, sizeof(err)) == -1)
		fatalx("%s key store: %s", m->ks->name, err);
}

int
seal_migrate_store(struct cmd *c, bool seal)
{
	struct mig	 m;
	const char	*crash = getenv("KEYWARD_SEAL_CRASH_AFTER");
	char		 detail[256], *pin;
	size_t		 i;
	int		 rc;

	memset(&m, 0, sizeof(m));
	m.c = c;
	m.limit = crash != NULL ? strtoul(crash, NULL, 10) : 0;
	m.gap = getenv("KEYWARD_SEAL_CRASH_GAP") != NULL;
	store_open(&m, &pin);
	cmd_open_pin(c, pin, false);
	cmd_keys(c, true);

	if ((rc = call(&m, KS_OP_LIST, NULL, NULL, 0, NULL, detail,
	    sizeof(detail))) != 0)
		fatalx("%s key store: cannot list the keys: %s", m.ks->name,
		    detail);
	for (i = 0; i < m.nnames; i++)
		if (seal_is_stage_name(m.names[i]))
			settle(&m, m.names[i]);
	for (i = 0; i < m.nnames; i++) {
		if (seal_is_stage_name(m.names[i]))
			continue;
		migrate(&m, m.names[i], seal);
		if (!m.gap && m.limit > 0 &&
		    c->sealed + c->unsealed >= m.limit)
			crash_here();
	}
	printf("%s key store: %u %s, %u left as they were%s\n", m.ks->name,
	    seal ? c->sealed : c->unsealed, seal ? "sealed" : "unsealed",
	    c->skipped, m.kept > 0 ? "; staged copies kept (see above)" :
	    "");
	for (i = 0; i < m.nnames; i++)
		free(m.names[i]);
	free(m.names);
	return m.kept > 0 ? 1 : 0;
}
