/*
 * The real keystore agent (./build/keyward agent, privileges dropped,
 * sandbox on, fs store) driven by this test acting as its parent and as
 * the crypto process: create, get, list and delete over the real channel,
 * names and values it must refuse, malformed frames that cost the crypto
 * channel and nothing else, and a store that moved away.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/ipc.h"
#include "common/config.h"
#include "common/config_impl.h"
#include "common/kes_key.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/slice.h"
#include "keystore-agent/stores.h"
#include "tests/lib/fakeparent.h"
#include "tests/lib/testsrv.h"

#define WAIT_MS	10000
#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "path too long")

static pid_t		agent_pid = -1;
/* We are the agent's parent (ctl) and its crypto process (crypto). */
static struct ipc_chan	ctl;
static struct ipc_chan	crypto;
static bool		ctl_open, crypto_open;
static char		tmpdir[] = "/tmp/keyward-test-agent.XXXXXX";
static char		store[PATH_MAX];

static void
setup(void)
{
	struct passwd *pw;

	cr_assert_not_null(mkdtemp(tmpdir));
	FMT(store, "%s/keys", tmpdir);
	/* The agent makes the store itself (as the server's user when we
	 * are root), so the directory above it is that user's. */
	if (geteuid() == 0) {
		cr_assert_not_null(pw = getpwnam("keyward"),
		    "no user 'keyward' (scripts/ensure-user.sh)");
		cr_assert_eq(chown(tmpdir, pw->pw_uid, pw->pw_gid), 0);
	}
}

static void
teardown(void)
{
	int status;

	if (agent_pid > 0) {
		kill(agent_pid, SIGKILL);
		waitpid(agent_pid, &status, 0);
	}
	if (crypto_open)
		ipc_close(&crypto);
	if (ctl_open)
		ipc_close(&ctl);
	(void)tree_remove(tmpdir);
}

TestSuite(agent_proc, .init = setup, .fini = teardown, .timeout = 60);

/* Act as the parent: start the agent on the fs store, configured. */
static void
start_agent(void)
{
	struct proc_opts	opts = { 0 };
	struct agent_slice	as = { 0 };
	struct keystore_cfg	ks = { 0 };
	struct buf		sb;
	struct buf		b;
	const char		*why = NULL;

	agent_pid = fakeparent_spawn("agent", &ctl, &why);
	cr_assert_gt(agent_pid, 0, "%s", why);
	ctl_open = true;
	opts.user = "keyward";
	opts.chroot = "";
	opts.mlock = geteuid() == 0;
	opts.foreground = true;
	as.log_level = 2;
	snprintf(as.store, sizeof(as.store), "fs");
	/* The settings as the parent encodes them (keystore-agent/). */
	fs_conf_new(&ks, store);
	buf_init(&sb, 4096);
	cr_assert_eq(ks_settings_put(&sb, &ks), 0);
	as.settings = sb.data;
	as.settings_len = sb.len;
	buf_init(&b, 4096);
	cr_assert_eq(proc_opts_put(&b, &opts), 0);
	cr_assert_eq(agent_slice_put(&b, &as), 0);
	buf_release(&sb);
	cfg_keystore_free(&ks);
	cr_assert_eq(fakeparent_configure(&ctl, &b, WAIT_MS, &why), 0, "%s",
	    why);
	buf_release(&b);
}

/* Hand the agent a new crypto channel (our end: crypto), closing the
 * last one. */
static void
connect_crypto(void)
{
	const char *why = NULL;

	if (crypto_open)
		ipc_close(&crypto);
	crypto_open = false;
	cr_assert_eq(fakeparent_add_peer(&ctl, ROLE_CRYPTO, 0, &crypto,
	    WAIT_MS, &why), 0, "%s", why);
	crypto_open = true;
}

static void
expect_alive(void)
{
	int status = 0;

	cr_assert_eq(waitpid(agent_pid, &status, WNOHANG), 0,
	    "agent died (status %#x%s)", status,
	    WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS ?
	    ", SIGSYS: a system call missing from the sandbox" : "");
}

static void
send_buf(struct ipc_chan *cc, uint16_t type, uint32_t id, struct buf *b)
{
	cr_assert_eq(ipc_put_buf(cc, type, id, b), 0);
	cr_assert_eq(ipc_flush_wait(cc, WAIT_MS), 0);
	buf_release(b);
}

/*
 * How long a reply may take: WAIT_MS, more in a test that pipelines a
 * thousand synced writes (a loaded machine's disk, not the agent, sets
 * that pace). Each test runs in its own process.
 */
static unsigned int reply_ms = WAIT_MS;

/* The next frame on cc; it must answer id. */
static void
reply(struct ipc_chan *cc, uint32_t id, struct ipc_msg *m)
{
	int r = ipc_get_wait(cc, m, reply_ms);

	if (r != 1)
		expect_alive();
	cr_assert_eq(r, 1, "no reply to %u: %s", id, cc->error);
	cr_assert_eq(m->hdr.id, id);
}

static void
req_name(struct ipc_chan *cc, uint16_t type, uint32_t id, const char *name)
{
	struct buf b;

	buf_init(&b, 256);
	cr_assert_eq(buf_put_str(&b, name), 0);
	send_buf(cc, type, id, &b);
}

static void
req_create(struct ipc_chan *cc, uint32_t id, const char *name,
    const void *v, size_t len)
{
	struct buf b;

	buf_init(&b, IPC_MAX_PEER);
	cr_assert_eq(buf_put_str(&b, name), 0);
	cr_assert_eq(buf_put_bytes(&b, v, len), 0);
	send_buf(cc, MSG_KS_CREATE, id, &b);
}

static void
expect_done(struct ipc_chan *cc, uint32_t id)
{
	struct ipc_msg	 m;
	const char	*detail = "";
	uint8_t		 why = 0;

	reply(cc, id, &m);
	if (m.hdr.type == MSG_KS_FAIL) {
		(void)buf_get_u8(&m.payload, &why);
		(void)buf_get_str(&m.payload, &detail, NULL);
	}
	cr_assert_eq(m.hdr.type, MSG_KS_DONE, "%s: reason %u, %s",
	    msg_name(m.hdr.type), why, detail);
	cr_assert_eq(buf_end(&m.payload), 0);
}

/* A KS_FAIL with this reason; returns nothing, checks the layout. */
static void
expect_fail(struct ipc_chan *cc, uint32_t id, uint8_t reason)
{
	struct ipc_msg	 m;
	const char	*detail;
	uint8_t		 why;

	reply(cc, id, &m);
	cr_assert_eq(m.hdr.type, MSG_KS_FAIL, "%s for id %u",
	    msg_name(m.hdr.type), id);
	cr_assert_eq(buf_get_u8(&m.payload, &why), 0);
	cr_assert_eq(buf_get_str(&m.payload, &detail, NULL), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(why, reason, "reason %u (%s), want %u", why, detail,
	    reason);
	cr_assert_neq(detail[0], '\0');
}

static void
expect_value(struct ipc_chan *cc, uint32_t id, const void *v, size_t len)
{
	struct ipc_msg	 m;
	const uint8_t	*p;
	size_t		 n;

	reply(cc, id, &m);
	cr_assert_eq(m.hdr.type, MSG_KS_VALUE, "%s", msg_name(m.hdr.type));
	cr_assert_eq(buf_get_bytes(&m.payload, &p, &n), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(n, len);
	cr_assert_eq(memcmp(p, v, len), 0);
}

/* KS_NAMES: checks the count, the first and last name and continue_at. */
static void
expect_names(struct ipc_chan *cc, uint32_t id, uint32_t n,
    const char *first, const char *last, const char *next)
{
	struct ipc_msg	 m;
	const char	*s, *prev = "";
	uint32_t	 i, got;

	reply(cc, id, &m);
	cr_assert_eq(m.hdr.type, MSG_KS_NAMES, "%s", msg_name(m.hdr.type));
	cr_assert_eq(buf_get_u32(&m.payload, &got), 0);
	cr_assert_eq(got, n, "%u names, want %u", got, n);
	for (i = 0; i < got; i++) {
		cr_assert_eq(buf_get_str(&m.payload, &s, NULL), 0);
		cr_assert_gt(strcmp(s, prev), 0, "not in order: %s", s);
		if (i == 0 && first != NULL)
			cr_assert_str_eq(s, first);
		if (i == got - 1 && last != NULL)
			cr_assert_str_eq(s, last);
		prev = s;
	}
	cr_assert_eq(buf_get_str(&m.payload, &s, NULL), 0);
	cr_assert_str_eq(s, next);
	cr_assert_eq(buf_end(&m.payload), 0);
}

/* The agent closed cc: reading ends in EOF. */
static void
expect_dropped(struct ipc_chan *cc)
{
	struct ipc_msg m;

	cr_assert_eq(ipc_get_wait(cc, &m, WAIT_MS), -1, "got %s",
	    msg_name(m.hdr.type));
	cr_assert(cc->eof, "channel not closed: %s", cc->error);
}

static int
store_entries(void)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	cr_assert_not_null(d = opendir(store));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

Test(agent_proc, create_get_list_delete)
{
	static const char	 value[] = "CiIKIP8AAAA=";
	struct stat		 st;
	char			 path[PATH_MAX];

	start_agent();
	connect_crypto();

	cr_assert_eq(stat(store, &st), 0, "the agent did not make the store");
	cr_assert_eq(st.st_mode & 07777, 0700);
	/* Made after dropping privileges: the server's user owns it. */
	if (geteuid() == 0)
		cr_assert_eq(st.st_uid, getpwnam("keyward")->pw_uid);

	req_create(&crypto, 1, "my-key", value, sizeof(value) - 1);
	expect_done(&crypto, 1);
	FMT(path, "%s/my-key", store);
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_eq(st.st_size, (off_t)sizeof(value) - 1);
	cr_assert_eq(st.st_nlink, 1, "the temporary is still linked");
	cr_assert_eq(store_entries(), 1, "a temporary was left behind");

	req_name(&crypto, MSG_KS_GET, 2, "my-key");
	expect_value(&crypto, 2, value, sizeof(value) - 1);

	/* Never overwritten. */
	req_create(&crypto, 3, "my-key", "other", 5);
	expect_fail(&crypto, 3, KS_FAIL_EXISTS);
	req_name(&crypto, MSG_KS_GET, 4, "my-key");
	expect_value(&crypto, 4, value, sizeof(value) - 1);

	req_create(&crypto, 5, "my-key2", "v2", 2);
	expect_done(&crypto, 5);
	req_create(&crypto, 6, "other", "v3", 2);
	expect_done(&crypto, 6);
	req_name(&crypto, MSG_KS_LIST, 7, "");
	expect_names(&crypto, 7, 3, "my-key", "other", "");
	req_name(&crypto, MSG_KS_LIST, 8, "my");
	expect_names(&crypto, 8, 2, "my-key", "my-key2", "");
	req_name(&crypto, MSG_KS_LIST, 9, "nothing");
	expect_names(&crypto, 9, 0, NULL, NULL, "");

	req_name(&crypto, MSG_KS_DELETE, 10, "my-key");
	expect_done(&crypto, 10);
	req_name(&crypto, MSG_KS_GET, 11, "my-key");
	expect_fail(&crypto, 11, KS_FAIL_NOT_FOUND);
	req_name(&crypto, MSG_KS_DELETE, 12, "my-key");
	expect_fail(&crypto, 12, KS_FAIL_NOT_FOUND);
	cr_assert_eq(lstat(path, &st), -1);
	req_name(&crypto, MSG_KS_LIST, 13, "");
	expect_names(&crypto, 13, 2, "my-key2", "other", "");
	expect_alive();
}

/* Replies carry the request's id, also when several are in flight. */
Test(agent_proc, pipelined_requests)
{
	struct buf	b;

	start_agent();
	connect_crypto();
	buf_init(&b, 256);
	buf_put_str(&b, "k");
	buf_put_bytes(&b, "v", 1);
	cr_assert_eq(ipc_put_buf(&crypto, MSG_KS_CREATE, 100, &b), 0);
	buf_reset(&b);
	buf_put_str(&b, "k");
	cr_assert_eq(ipc_put_buf(&crypto, MSG_KS_GET, 101, &b), 0);
	cr_assert_eq(ipc_put_buf(&crypto, MSG_KS_DELETE, 102, &b), 0);
	cr_assert_eq(ipc_put_buf(&crypto, MSG_KS_GET, 103, &b), 0);
	cr_assert_eq(ipc_put(&crypto, MSG_KS_STATUS_REQ, 104, NULL, 0), 0);
	cr_assert_eq(ipc_flush_wait(&crypto, WAIT_MS), 0);
	buf_release(&b);
	expect_done(&crypto, 100);
	expect_value(&crypto, 101, "v", 1);
	expect_done(&crypto, 102);
	expect_fail(&crypto, 103, KS_FAIL_NOT_FOUND);
}

/* The largest value goes through the filter and the channel both ways;
 * one byte more, or none, is refused. */
Test(agent_proc, value_sizes)
{
	uint8_t		*v = malloc(KES_STORED_MAX + 1);
	size_t		 i;

	for (i = 0; i <= KES_STORED_MAX; i++)
		v[i] = (uint8_t)(i * 13 + (i >> 10));
	start_agent();
	connect_crypto();
	req_create(&crypto, 1, "big", v, KES_STORED_MAX);
	expect_done(&crypto, 1);
	req_name(&crypto, MSG_KS_GET, 2, "big");
	expect_value(&crypto, 2, v, KES_STORED_MAX);
	req_create(&crypto, 3, "bigger", v, KES_STORED_MAX + 1);
	expect_fail(&crypto, 3, KS_FAIL_INVALID);
	req_create(&crypto, 4, "empty", v, 0);
	expect_fail(&crypto, 4, KS_FAIL_INVALID);
	cr_assert_eq(store_entries(), 1);
	free(v);
}

Test(agent_proc, names_refused)
{
	static const char *bad[] = {
		"", ".", "..", "../../etc/passwd", "a/b", "a\\b", "a.b",
		".tmp-0", "sp ace", "caf\xc3\xa9",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	uint32_t	id = 1;
	size_t		i;
	char		path[PATH_MAX];

	start_agent();
	connect_crypto();
	/* Planted behind the agent's back: still not readable by a name
	 * that is not a key name. */
	FMT(path, "%s/a.b", store);
	cr_assert_eq(tsrv_write_file(path, "x"), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		req_create(&crypto, id, bad[i], "v", 1);
		expect_fail(&crypto, id++, KS_FAIL_INVALID);
		req_name(&crypto, MSG_KS_GET, id, bad[i]);
		expect_fail(&crypto, id++, KS_FAIL_INVALID);
		req_name(&crypto, MSG_KS_DELETE, id, bad[i]);
		expect_fail(&crypto, id++, KS_FAIL_INVALID);
	}
	cr_assert_eq(store_entries(), 1);
	/* Nor listed. */
	req_name(&crypto, MSG_KS_LIST, id, "");
	expect_names(&crypto, id++, 0, NULL, NULL, "");
	/* 80 bytes is fine. */
	req_create(&crypto, id, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "v", 1);
	expect_done(&crypto, id++);
	expect_alive();
}

/*
 * Names KES before 2023-11 allowed ('-' first or last, "_" and "-" alone):
 * a key so named, from a migrated store, is read, listed and deleted; no
 * new one is created (kes-client-generations.md N1).
 */
Test(agent_proc, legacy_names_reachable)
{
	static const char *old[] = { "trail-", "-lead", "_", "-" };
	uint32_t	id = 1;
	size_t		i;
	char		path[PATH_MAX];

	start_agent();
	connect_crypto();
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		req_create(&crypto, id, old[i], "v", 1);
		expect_fail(&crypto, id++, KS_FAIL_INVALID);
		req_name(&crypto, MSG_KS_GET, id, old[i]);
		expect_fail(&crypto, id++, KS_FAIL_NOT_FOUND);
		FMT(path, "%s/%s", store, old[i]);
		cr_assert_eq(tsrv_write_file(path, "old"), 0);
		req_name(&crypto, MSG_KS_GET, id, old[i]);
		expect_value(&crypto, id++, "old", 3);
	}
	req_name(&crypto, MSG_KS_LIST, id, "");
	expect_names(&crypto, id++, 4, "-", "trail-", "");
	req_name(&crypto, MSG_KS_LIST, id, "-");
	expect_names(&crypto, id++, 2, "-", "-lead", "");
	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		req_name(&crypto, MSG_KS_DELETE, id, old[i]);
		expect_done(&crypto, id++);
	}
	cr_assert_eq(store_entries(), 0);
	expect_alive();
}

/* 1030 keys (past KES's page of 1024): all in one page, no continue_at;
 * prefixes narrow it. */
Test(agent_proc, list_pages, .timeout = 300)
{
	char		name[32];
	uint32_t	i;

	reply_ms = 240000;
	start_agent();
	connect_crypto();
	/* Pipelined, in reverse order. */
	for (i = 0; i < 1030; i++) {
		struct buf b;

		snprintf(name, sizeof(name), "key-%04u", 1029 - i);
		buf_init(&b, 256);
		buf_put_str(&b, name);
		buf_put_bytes(&b, "v", 1);
		cr_assert_eq(ipc_put_buf(&crypto, MSG_KS_CREATE, i, &b), 0);
		buf_release(&b);
	}
	cr_assert_eq(ipc_flush_wait(&crypto, WAIT_MS), 0);
	for (i = 0; i < 1030; i++)
		expect_done(&crypto, i);
	req_name(&crypto, MSG_KS_LIST, 2000, "");
	expect_names(&crypto, 2000, 1030, "key-0000", "key-1029", "");
	req_name(&crypto, MSG_KS_LIST, 2001, "key-102");
	expect_names(&crypto, 2001, 10, "key-1020", "key-1029", "");
	req_name(&crypto, MSG_KS_LIST, 2002, "key-1");
	expect_names(&crypto, 2002, 30, "key-1000", "key-1029", "");
}

/* Malformed payloads and foreign message types are protocol errors: the
 * crypto channel goes, the agent stays and takes the next one. */
Test(agent_proc, malformed_frames_drop_channel)
{
	static const uint8_t no_nul[] = { 0, 0, 0, 2, 'a', 'b' };
	static const uint8_t inner_nul[] = { 0, 0, 0, 4, 'a', 0, 'b', 0 };
	static const uint8_t long_len[] = { 0, 0, 0, 9, 'a', 0 };
	static const uint8_t create_no_value[] = { 0, 0, 0, 2, 'k', 0 };
	static const uint8_t create_short_value[] = {
		0, 0, 0, 2, 'k', 0, 0, 0, 0, 5, 'v' };
	static const uint8_t trailing[] = { 0, 0, 0, 2, 'k', 0, 0 };
	static const struct {
		uint16_t	 type;
		const uint8_t	*p;
		size_t		 len;
	} cases[] = {
		{ MSG_KS_GET, no_nul, sizeof(no_nul) },
		{ MSG_KS_DELETE, inner_nul, sizeof(inner_nul) },
		{ MSG_KS_LIST, long_len, sizeof(long_len) },
		{ MSG_KS_GET, NULL, 0 },
		{ MSG_KS_CREATE, create_no_value, sizeof(create_no_value) },
		{ MSG_KS_CREATE, create_short_value,
		    sizeof(create_short_value) },
		{ MSG_KS_GET, trailing, sizeof(trailing) },
		{ MSG_KS_DELETE, trailing, sizeof(trailing) },
		{ MSG_KS_LIST, trailing, sizeof(trailing) },
		{ MSG_KS_STATUS_REQ, trailing, sizeof(trailing) },
		/* Types the crypto process may not send the agent. */
		{ MSG_KS_VALUE, NULL, 0 },
		{ MSG_KEY_CREATE, trailing, sizeof(trailing) - 1 },
		{ MSG_SHUTDOWN, NULL, 0 },
	};
	size_t		i;

	start_agent();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		connect_crypto();
		cr_assert_eq(ipc_put(&crypto, cases[i].type, (uint32_t)i,
		    cases[i].p, cases[i].len), 0);
		cr_assert_eq(ipc_flush_wait(&crypto, WAIT_MS), 0);
		expect_dropped(&crypto);
		expect_alive();
	}
	cr_assert_eq(store_entries(), 0);
	connect_crypto();
	req_create(&crypto, 1, "k", "v", 1);
	expect_done(&crypto, 1);
}

/* Temporaries left by a crash are gone once the agent is up. */
Test(agent_proc, start_removes_temporaries)
{
	struct passwd	*pw;
	char		path[PATH_MAX];

	cr_assert_eq(dir_ensure(store, 0700, (uid_t)-1, (gid_t)-1, path,
	    sizeof(path)), 0);
	FMT(path, "%s/.tmp-0123456789abcdef0123456789abcdef", store);
	cr_assert_eq(tsrv_write_file(path, "half a ke"), 0);
	FMT(path, "%s/kept", store);
	cr_assert_eq(tsrv_write_file(path, "whole"), 0);
	if (geteuid() == 0) {
		pw = getpwnam("keyward");
		cr_assert_eq(chown(store, pw->pw_uid, pw->pw_gid), 0);
	}
	start_agent();
	connect_crypto();
	/* READY comes after init: the sweep is done. */
	cr_assert_eq(store_entries(), 1);
	req_name(&crypto, MSG_KS_LIST, 1, "");
	expect_names(&crypto, 1, 1, "kept", "kept", "");
	req_name(&crypto, MSG_KS_GET, 2, "kept");
	expect_value(&crypto, 2, "whole", 5);
}

/* The store moved away: every call is "unavailable" (never "not found",
 * which the crypto process would pass on as 404), and works again once
 * the store is back. */
Test(agent_proc, moved_store_unavailable)
{
	struct ipc_msg	m;
	char		away[PATH_MAX];
	bool		ok;
	uint64_t	lat;
	const char	*err;

	start_agent();
	connect_crypto();
	req_create(&crypto, 1, "k", "v", 1);
	expect_done(&crypto, 1);
	FMT(away, "%s.away", store);
	cr_assert_eq(rename(store, away), 0);

	req_name(&crypto, MSG_KS_GET, 2, "k");
	expect_fail(&crypto, 2, KS_FAIL_UNAVAILABLE);
	req_name(&crypto, MSG_KS_GET, 3, "missing");
	expect_fail(&crypto, 3, KS_FAIL_UNAVAILABLE);
	req_create(&crypto, 4, "new", "v", 1);
	expect_fail(&crypto, 4, KS_FAIL_UNAVAILABLE);
	req_name(&crypto, MSG_KS_DELETE, 5, "k");
	expect_fail(&crypto, 5, KS_FAIL_UNAVAILABLE);
	req_name(&crypto, MSG_KS_LIST, 6, "");
	expect_fail(&crypto, 6, KS_FAIL_UNAVAILABLE);
	cr_assert_eq(ipc_put(&crypto, MSG_KS_STATUS_REQ, 7, NULL, 0), 0);
	cr_assert_eq(ipc_flush_wait(&crypto, WAIT_MS), 0);
	reply(&crypto, 7, &m);
	cr_assert_eq(m.hdr.type, MSG_KS_STATUS_REP);
	cr_assert_eq(buf_get_bool(&m.payload, &ok), 0);
	cr_assert_eq(buf_get_u64(&m.payload, &lat), 0);
	cr_assert_eq(buf_get_str(&m.payload, &err, NULL), 0);
	cr_assert(!ok);

	cr_assert_eq(rename(away, store), 0);
	req_name(&crypto, MSG_KS_GET, 8, "k");
	expect_value(&crypto, 8, "v", 1);
	expect_alive();
}
