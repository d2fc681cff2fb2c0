/*
 * The filesystem key store (keystore-agent/fs.c) in-process, on a fresh
 * temporary directory: round trips, no overwrite, not found, listing,
 * file modes, no temporary left behind after success or failure, leftovers
 * of a crash removed at start, names refused, and a directory that moved
 * away reported as unavailable.
 *
 * The store is driven through its backend interface (backend.h) by the
 * synchronous adapter keystore_fs below: every call must be complete when
 * the store returns, as the filesystem store promises.
 */
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <grp.h>
#include <pwd.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/stores.h"

/* Checked, so a truncated path fails the test (and -Wformat-truncation
 * has nothing to warn about). */
#define FMT(dst, len, ...) \
	cr_assert_lt(snprintf((dst), (len), __VA_ARGS__), (int)(len), \
	    "path too long")

static char	tmpdir[] = "/tmp/keyward-test-fs.XXXXXX";
static char	store[PATH_MAX];
static char	err[256];

static void
setup(void)
{
	log_setlevel(LOG_LVL_OFF);
	cr_assert_not_null(mkdtemp(tmpdir));
	FMT(store, sizeof(store), "%s/keys", tmpdir);
}

static void
teardown(void)
{
	(void)tree_remove(tmpdir);
}

TestSuite(fs_keystore, .init = setup, .fini = teardown);

/* --- the store called one call at a time ------------------------------ */

typedef int (*ks_name_fn)(const char *name, void *arg);

struct sync_call {
	bool		 done;
	int		 rc;
	char		*err;
	size_t		 errlen;
	ks_name_fn	 fn;
	void		*arg;
};

static void
sync_done(struct ks_op *op, int rc, const char *detail)
{
	struct sync_call *sc = op->owner_arg;

	cr_assert(!sc->done, "a call completed twice");
	sc->done = true;
	sc->rc = rc;
	snprintf(sc->err, sc->errlen, "%s", detail);
}

static int
sync_name(struct ks_op *op, const char *name)
{
	struct sync_call *sc = op->owner_arg;

	return sc->fn(name, sc->arg);
}

static const struct ks_op_owner sync_owner = { sync_done, sync_name };

static int
sync_run(void (*fn)(struct ks_op *), struct ks_op *op, struct sync_call *sc,
    char *e, size_t elen)
{
	sc->err = e;
	sc->errlen = elen;
	op->owner = &sync_owner;
	op->owner_arg = sc;
	fn(op);
	cr_assert(sc->done, "the fs store left a call outstanding");
	return sc->rc;
}

struct fs_settings {
	const char	*fs_path;
};

/* settings, prepare (not as root: no owner change) and init. */
static int
fs_start(const struct fs_settings *s, char *e, size_t elen)
{
	struct fs_conf	c = { .path = (char *)(uintptr_t)s->fs_path };
	struct buf	b;
	int		rc;

	buf_init(&b, 4096);
	cr_assert_eq(ks_backend_fs.settings_put(&b, &c), 0);
	rc = ks_backend_fs.settings(&b, e, elen) == 0 &&
	    ks_backend_fs.prepare((uid_t)-1, (gid_t)-1, e, elen) == 0 &&
	    ks_backend_fs.init(e, elen) == 0 ? 0 : -1;
	buf_release(&b);
	return rc;
}

static int
fs_status(uint64_t *lat, char *e, size_t elen)
{
	struct ks_op		op = { .type = KS_OP_STATUS };
	struct sync_call	sc = { 0 };

	if (sync_run(ks_backend_fs.status, &op, &sc, e, elen) != 0)
		return -1;
	*lat = op.latency_ns;
	return 0;
}

static int
fs_create(const char *name, const uint8_t *v, size_t len, char *e,
    size_t elen)
{
	struct ks_op		op = { .type = KS_OP_CREATE, .name = name,
				    .value = v, .len = len };
	struct sync_call	sc = { 0 };

	return sync_run(ks_backend_fs.create, &op, &sc, e, elen);
}

static int
fs_get(const char *name, struct buf *out, char *e, size_t elen)
{
	struct ks_op		op = { .type = KS_OP_GET, .name = name,
				    .out = out };
	struct sync_call	sc = { 0 };

	return sync_run(ks_backend_fs.get, &op, &sc, e, elen);
}

static int
fs_del(const char *name, char *e, size_t elen)
{
	struct ks_op		op = { .type = KS_OP_DELETE, .name = name };
	struct sync_call	sc = { 0 };

	return sync_run(ks_backend_fs.del, &op, &sc, e, elen);
}

static int
fs_list(ks_name_fn fn, void *arg, char *e, size_t elen)
{
	struct ks_op		op = { .type = KS_OP_LIST };
	struct sync_call	sc = { .fn = fn, .arg = arg };

	return sync_run(ks_backend_fs.list, &op, &sc, e, elen);
}

static const struct {
	int	(*init)(const struct fs_settings *, char *, size_t);
	int	(*status)(uint64_t *, char *, size_t);
	int	(*create)(const char *, const uint8_t *, size_t, char *,
		    size_t);
	int	(*get)(const char *, struct buf *, char *, size_t);
	int	(*del)(const char *, char *, size_t);
	int	(*list)(ks_name_fn, void *, char *, size_t);
} keystore_fs = { fs_start, fs_status, fs_create, fs_get, fs_del, fs_list };

static void
init_store(void)
{
	struct fs_settings s = { 0 };

	s.fs_path = store;
	cr_assert_eq(keystore_fs.init(&s, err, sizeof(err)), 0, "init: %s",
	    err);
}

static void
path_of(char *out, size_t len, const char *name)
{
	FMT(out, len, "%s/%s", store, name);
}

static int
create_str(const char *name, const char *value)
{
	return keystore_fs.create(name, (const uint8_t *)value, strlen(value),
	    err, sizeof(err));
}

/* Entries in the store other than "." and "..". */
static int
count_entries(const char *prefix)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0;

	cr_assert_not_null(d = opendir(store));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static void
write_path(const char *path, const void *p, size_t len)
{
	int fd;

	cr_assert_geq(fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600), 0,
	    "%s", path);
	cr_assert_eq(write(fd, p, len), (ssize_t)len);
	close(fd);
}

/* A file in the store made behind its back. */
static void
write_file(const char *name, const void *p, size_t len)
{
	char path[PATH_MAX];

	path_of(path, sizeof(path), name);
	write_path(path, p, len);
}

Test(fs_keystore, init_makes_private_directory)
{
	struct stat st;

	init_store();
	cr_assert_eq(stat(store, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700, "mode %o", st.st_mode & 07777);
	/* A second start keeps the directory and its keys. */
	cr_assert_eq(create_str("k", "v"), 0);
	init_store();
	cr_assert_eq(count_entries(""), 1);
}

Test(fs_keystore, init_refuses_relative_path_and_file)
{
	struct fs_settings s = { 0 };

	s.fs_path = "relative/keys";
	cr_assert_eq(keystore_fs.init(&s, err, sizeof(err)), -1);
	FMT(store, sizeof(store), "%s/plain", tmpdir);
	write_path(store, "x", 1);
	s.fs_path = store;
	cr_assert_eq(keystore_fs.init(&s, err, sizeof(err)), -1);
	cr_assert(strstr(err, "Not a directory") != NULL, "%s", err);
}

Test(fs_keystore, round_trip)
{
	struct buf	b;
	struct stat	st;
	char		path[PATH_MAX];

	init_store();
	cr_assert_eq(create_str("my-key", "{\"bytes\":\"AAAA\"}"), 0, "%s",
	    err);
	buf_init(&b, KES_STORED_MAX);
	buf_put(&b, "pre", 3);	/* get appends */
	cr_assert_eq(keystore_fs.get("my-key", &b, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(b.len, 3 + 16);
	cr_assert_eq(memcmp(b.data, "pre{\"bytes\":\"AAAA\"}", b.len), 0);
	buf_release(&b);

	path_of(path, sizeof(path), "my-key");
	cr_assert_eq(lstat(path, &st), 0);
	cr_assert(S_ISREG(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0600, "mode %o", st.st_mode & 07777);
	cr_assert_eq(st.st_nlink, 1, "the temporary name is still linked");
	cr_assert_eq(st.st_size, 16);
	cr_assert_eq(count_entries(".tmp-"), 0);
	cr_assert_eq(count_entries(""), 1);

	/* A caller's buffer that cannot hold the value: refused whole. */
	buf_init(&b, 8);
	buf_put(&b, "pre", 3);
	cr_assert_eq(keystore_fs.get("my-key", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, "too large for the reply") != NULL, "%s", err);
	cr_assert_eq(b.len, 3);
	buf_release(&b);
}

Test(fs_keystore, binary_and_largest_value)
{
	uint8_t		*v = malloc(KES_STORED_MAX);
	struct buf	 b;
	size_t		 i;

	for (i = 0; i < KES_STORED_MAX; i++)
		v[i] = (uint8_t)(i * 7 + (i >> 8));
	init_store();
	cr_assert_eq(keystore_fs.create("big", v, KES_STORED_MAX, err,
	    sizeof(err)), 0, "%s", err);
	buf_init(&b, KES_STORED_MAX);
	cr_assert_eq(keystore_fs.get("big", &b, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(b.len, KES_STORED_MAX);
	cr_assert_eq(memcmp(b.data, v, KES_STORED_MAX), 0);
	buf_release(&b);
	free(v);
}

Test(fs_keystore, never_overwrites)
{
	struct buf b;

	init_store();
	cr_assert_eq(create_str("k1", "first"), 0);
	cr_assert_eq(create_str("k1", "second"), KS_FAIL_EXISTS);
	cr_assert(strstr(err, "exists") != NULL, "%s", err);
	buf_init(&b, KES_STORED_MAX);
	cr_assert_eq(keystore_fs.get("k1", &b, err, sizeof(err)), 0);
	cr_assert_eq(b.len, 5);
	cr_assert_eq(memcmp(b.data, "first", 5), 0);
	buf_release(&b);
	cr_assert_eq(count_entries(""), 1, "a temporary was left behind");
}

Test(fs_keystore, not_found)
{
	struct buf b;

	init_store();
	buf_init(&b, KES_STORED_MAX);
	buf_put(&b, "x", 1);
	cr_assert_eq(keystore_fs.get("nope", &b, err, sizeof(err)),
	    KS_FAIL_NOT_FOUND);
	cr_assert_eq(b.len, 1, "get changed the buffer on failure");
	buf_release(&b);
	cr_assert_eq(keystore_fs.del("nope", err, sizeof(err)),
	    KS_FAIL_NOT_FOUND);
}

Test(fs_keystore, delete)
{
	struct buf b;

	init_store();
	cr_assert_eq(create_str("gone", "v"), 0);
	cr_assert_eq(keystore_fs.del("gone", err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(count_entries(""), 0);
	buf_init(&b, 64);
	cr_assert_eq(keystore_fs.get("gone", &b, err, sizeof(err)),
	    KS_FAIL_NOT_FOUND);
	buf_release(&b);
	cr_assert_eq(keystore_fs.del("gone", err, sizeof(err)),
	    KS_FAIL_NOT_FOUND);
	/* The name is free again. */
	cr_assert_eq(create_str("gone", "w"), 0);
}

struct seen {
	char	names[16][128];
	int	n;
	int	stop_at;	/* return -1 at this call; 0: never */
};

static int
collect(const char *name, void *arg)
{
	struct seen *s = arg;

	if (s->stop_at != 0 && s->n + 1 == s->stop_at)
		return -1;
	cr_assert_lt(s->n, 16);
	snprintf(s->names[s->n++], sizeof(s->names[0]), "%s", name);
	return 0;
}

static int
seen_has(const struct seen *s, const char *name)
{
	int i;

	for (i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return 1;
	return 0;
}

Test(fs_keystore, list)
{
	struct seen	s = { .n = 0 };
	char		path[PATH_MAX];

	init_store();
	cr_assert_eq(keystore_fs.list(collect, &s, err, sizeof(err)), 0);
	cr_assert_eq(s.n, 0);

	cr_assert_eq(create_str("b", "1"), 0);
	cr_assert_eq(create_str("a", "2"), 0);
	cr_assert_eq(create_str("c-1", "3"), 0);
	/* Not keys: a temporary of a create in progress, dotted names. */
	write_file(".tmp-0123456789abcdef", "partial", 7);
	write_file("x.y", "z", 1);
	path_of(path, sizeof(path), "sub");
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(keystore_fs.list(collect, &s, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert(seen_has(&s, "a") && seen_has(&s, "b") &&
	    seen_has(&s, "c-1"));
	cr_assert(!seen_has(&s, ".tmp-0123456789abcdef"));
	cr_assert(!seen_has(&s, "x.y") && !seen_has(&s, ".") &&
	    !seen_has(&s, ".."));
	/* Names are the agent's business (ks_names_add); a directory entry
	 * that is not a file is still listed, as KES lists it. */
	cr_assert_eq(s.n, 4);

	/* The callback can stop the listing; the call then fails. */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	cr_assert_eq(keystore_fs.list(collect, &s, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert_eq(s.n, 1);
}

Test(fs_keystore, leftover_temporaries_removed_at_init)
{
	init_store();
	cr_assert_eq(create_str("kept", "v"), 0);
	/* What a kill -9 between open and link leaves behind. */
	write_file(".tmp-deadbeefdeadbeefdeadbeefdeadbeef", "half", 4);
	write_file(".tmp-x", "", 0);
	cr_assert_eq(count_entries(".tmp-"), 2);
	init_store();
	cr_assert_eq(count_entries(".tmp-"), 0);
	cr_assert_eq(count_entries(""), 1);
	cr_assert_eq(count_entries("kept"), 1);
}

/* A write that fails half-way (the file size limit: EFBIG) leaves neither
 * the key nor the temporary. */
Test(fs_keystore, failed_write_leaves_nothing)
{
	struct rlimit	rl = { 4096, 4096 };
	uint8_t		v[8192];
	struct buf	b;

	memset(v, 'k', sizeof(v));
	init_store();
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	cr_assert_eq(keystore_fs.create("k", v, sizeof(v), err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, "too large") != NULL, "%s", err);
	cr_assert_eq(count_entries(""), 0, "a file was left behind");
	buf_init(&b, 64);
	cr_assert_eq(keystore_fs.get("k", &b, err, sizeof(err)),
	    KS_FAIL_NOT_FOUND);
	buf_release(&b);
	/* A value that fits still goes in. */
	cr_assert_eq(keystore_fs.create("k", v, 100, err, sizeof(err)), 0);
}

Test(fs_keystore, values_refused)
{
	uint8_t v = 1;

	init_store();
	cr_assert_eq(keystore_fs.create("k", &v, 0, err, sizeof(err)),
	    KS_FAIL_INVALID);
	cr_assert_eq(keystore_fs.create("k", &v, (size_t)KES_STORED_MAX + 1,
	    err, sizeof(err)), KS_FAIL_INVALID);
	cr_assert_eq(count_entries(""), 0);
}

Test(fs_keystore, names_refused)
{
	static const char *bad[] = {
		"", ".", "..", "../escape", "a/b", "a\\b", ".tmp-1", "k.json",
		"/etc/passwd",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	struct buf	b;
	size_t		i;

	init_store();
	buf_init(&b, 64);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(create_str(bad[i], "v"), KS_FAIL_INVALID, "%s",
		    bad[i]);
		cr_assert_eq(keystore_fs.get(bad[i], &b, err, sizeof(err)),
		    KS_FAIL_INVALID, "%s", bad[i]);
		cr_assert_eq(keystore_fs.del(bad[i], err, sizeof(err)),
		    KS_FAIL_INVALID, "%s", bad[i]);
	}
	buf_release(&b);
	cr_assert_eq(count_entries(""), 0);
	/* 80 bytes is the longest name. */
	cr_assert_eq(create_str("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "v"), 0, "%s", err);
}

/* Only a regular file of at most KES_STORED_MAX bytes is a key. */
Test(fs_keystore, odd_files_unavailable)
{
	char		 path[PATH_MAX], target[PATH_MAX];
	struct buf	 b;
	uint8_t		*big = calloc(1, (size_t)KES_STORED_MAX + 1);

	init_store();
	buf_init(&b, KES_STORED_MAX);

	write_file("huge", big, (size_t)KES_STORED_MAX + 1);
	cr_assert_eq(keystore_fs.get("huge", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, "too large") != NULL, "%s", err);
	cr_assert_eq(b.len, 0);

	/* A link could point anywhere the agent may read. */
	FMT(target, sizeof(target), "%s/outside", tmpdir);
	write_path(target, "secret", 6);
	path_of(path, sizeof(path), "link");
	cr_assert_eq(symlink(target, path), 0);
	cr_assert_eq(keystore_fs.get("link", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, "symbolic link") != NULL, "%s", err);

	/* A FIFO must not hang the agent. */
	path_of(path, sizeof(path), "fifo");
	cr_assert_eq(mkfifo(path, 0600), 0);
	cr_assert_eq(keystore_fs.get("fifo", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, "not a regular file") != NULL, "%s", err);

	path_of(path, sizeof(path), "dir");
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(keystore_fs.get("dir", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
	free(big);
}

/* The store is reached by its path at every call: moved away, it is
 * unavailable (not "not found"); back, it works again. */
Test(fs_keystore, moved_directory_unavailable)
{
	char		away[PATH_MAX];
	struct buf	b;
	struct seen	s = { .n = 0 };
	uint64_t	lat;

	init_store();
	cr_assert_eq(create_str("k", "v"), 0);
	FMT(away, sizeof(away), "%s.away", store);
	cr_assert_eq(rename(store, away), 0);

	buf_init(&b, 64);
	cr_assert_eq(keystore_fs.get("k", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, store) != NULL, "%s", err);
	cr_assert_eq(keystore_fs.get("other", &b, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert_eq(create_str("new", "v"), KS_FAIL_UNAVAILABLE);
	cr_assert_eq(keystore_fs.del("k", err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert_eq(keystore_fs.list(collect, &s, err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert_eq(keystore_fs.status(&lat, err, sizeof(err)), -1);
	cr_assert_eq(access(away, F_OK), 0);

	cr_assert_eq(rename(away, store), 0);
	cr_assert_eq(keystore_fs.status(&lat, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(keystore_fs.get("k", &b, err, sizeof(err)), 0, "%s",
	    err);
	buf_release(&b);
}

/* Root ignores directory modes: run as the server's user, as the agent
 * does (this test's process is its own). */
static void
become_unprivileged(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return;
	if ((pw = getpwnam("keyward")) == NULL)
		cr_skip_test("no user 'keyward' (scripts/ensure-user.sh)");
	cr_assert_eq(chown(tmpdir, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(chown(store, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(setgroups(0, NULL), 0);
	cr_assert_eq(setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid), 0);
	cr_assert_eq(setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid), 0);
}

/* A directory the agent may not write to refuses a create and is left
 * as it was. */
Test(fs_keystore, read_only_directory)
{
	uint64_t lat;

	init_store();
	become_unprivileged();
	cr_assert_eq(create_str("k", "v"), 0, "%s", err);
	cr_assert_eq(chmod(store, 0500), 0);
	cr_assert_eq(keystore_fs.status(&lat, err, sizeof(err)), -1);
	cr_assert_eq(create_str("k2", "v"), KS_FAIL_UNAVAILABLE);
	cr_assert(strstr(err, "Permission denied") != NULL, "%s", err);
	cr_assert_eq(keystore_fs.del("k", err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	/* An existing key is "exists" even where nothing can be written
	 * (as KES's O_CREAT|O_EXCL open says EEXIST first). */
	cr_assert_eq(create_str("k", "v"), KS_FAIL_EXISTS);
	cr_assert_eq(chmod(store, 0700), 0);
	cr_assert_eq(count_entries(""), 1);
	cr_assert_eq(count_entries("k"), 1);

	/* No access at all: unavailable, never "not found". */
	cr_assert_eq(chmod(store, 0), 0);
	cr_assert_eq(create_str("k3", "v"), KS_FAIL_UNAVAILABLE);
	cr_assert_eq(keystore_fs.del("k", err, sizeof(err)),
	    KS_FAIL_UNAVAILABLE);
	cr_assert_eq(chmod(store, 0700), 0);
}

/*
 * kill -9 at arbitrary instants of a stream of creates: every file under a
 * key's name is complete, and the next start removes the temporaries.
 */
#define CRASH_VALUE	(256u << 10)
#define CRASH_ROUNDS	12

static void
crash_value(uint8_t *v, unsigned int key)
{
	size_t i;

	for (i = 0; i < CRASH_VALUE; i++)
		v[i] = (uint8_t)(key * 31 + i * 7 + (i >> 9));
}

Test(fs_keystore, kill_during_create_leaves_whole_keys, .timeout = 60)
{
	uint8_t		*v = malloc(CRASH_VALUE);
	uint8_t		*want = malloc(CRASH_VALUE);
	struct timespec	 ts;
	struct dirent	*de;
	struct buf	 b;
	unsigned int	 round, key, whole = 0;
	pid_t		 pid;
	DIR		*d;
	char		 name[32];
	int		 status;

	init_store();
	for (round = 0; round < CRASH_ROUNDS; round++) {
		if ((pid = fork()) == 0) {
			for (key = round * 1000;; key++) {
				snprintf(name, sizeof(name), "k%u", key);
				crash_value(v, key);
				(void)keystore_fs.create(name, v, CRASH_VALUE,
				    err, sizeof(err));
			}
		}
		cr_assert_gt(pid, 0);
		ts.tv_sec = 0;
		ts.tv_nsec = 1000000L * (3 + round * 7 % 40);
		nanosleep(&ts, NULL);
		cr_assert_eq(kill(pid, SIGKILL), 0);
		cr_assert_eq(waitpid(pid, &status, 0), pid);
	}

	cr_assert_not_null(d = opendir(store));
	buf_init(&b, KES_STORED_MAX);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		cr_assert_eq(sscanf(de->d_name, "k%u", &key), 1, "%s",
		    de->d_name);
		buf_reset(&b);
		cr_assert_eq(keystore_fs.get(de->d_name, &b, err,
		    sizeof(err)), 0, "%s", err);
		crash_value(want, key);
		cr_assert_eq(b.len, CRASH_VALUE, "%s: %zu bytes", de->d_name,
		    b.len);
		cr_assert_eq(memcmp(b.data, want, CRASH_VALUE), 0, "%s",
		    de->d_name);
		whole++;
	}
	closedir(d);
	buf_release(&b);
	cr_assert_gt(whole, 0, "no create finished before the kills");
	cr_log_info("%u whole keys, %d temporaries after %u kills", whole,
	    count_entries(".tmp-"), CRASH_ROUNDS);

	init_store();
	cr_assert_eq(count_entries(".tmp-"), 0);
	cr_assert_eq(count_entries("k"), (int)whole);
	free(v);
	free(want);
}
