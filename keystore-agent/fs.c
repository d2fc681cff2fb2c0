/*
 * The filesystem key store (spec §6.2): one file per key in one directory,
 * file name = key name, content = the stored value.
 *
 * Every call completes before it returns: a local file system answers in
 * microseconds, and a slow one would block any helper thread just the same.
 *
 * The agent is not chrooted, so the store is reached by its path each time:
 * every call opens the directory anew and works relative to that descriptor
 * (openat and friends). A directory that was moved away or lost its
 * permissions shows up as unavailable, in the status check and in every
 * call, instead of a descriptor kept open on the old place.
 *
 * Crash safety (a kill -9 at any instant): a key is written to a temporary
 * file whose name can never be a key name (".tmp-" and random hex; names
 * never contain '.'), made durable with fsync, then link()ed to its name.
 * link() is atomic and fails when the name exists, so a key file is either
 * absent or complete, and an existing key is never replaced (rename() would
 * replace it). A crash leaves at most a temporary behind; the next start
 * removes it, and listing never shows it.
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/kes_key.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/wfile.h"
#include "common/xmalloc.h"
#include "common/config_impl.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/fs_owner.h"
#include "keystore-agent/stores.h"

#define TMP_PREFIX	".tmp-"
/* The prefix and 16 random bytes in hex. */
#define TMP_NAMELEN	(sizeof(TMP_PREFIX) - 1 + 32)
#define READ_CHUNK	(64u << 10)

static struct {
	char	*path;
} fs;

/* A fresh descriptor on the store's directory, or -1 with err set. */
static int
fs_dir(char *err, size_t errlen)
{
	int fd;

	/* No O_NOFOLLOW: the configured path may be a symbolic link. */
	fd = open(fs.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1)
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
	return fd;
}

/*
 * The store's own check, behind the agent's kes_valid_name(): the name is
 * used as a file name, so it must be one path element that is neither "."
 * nor ".." nor a temporary. KES's fs store rejects '/', '\' and '.'.
 */
static bool
fs_name_ok(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n <= KES_NAME_MAX && strpbrk(name, "/\\.") == NULL;
}

/* Makes the directory entries written so far durable. */
static int
fs_sync_dir(int dfd, char *err, size_t errlen)
{
	if (fsync(dfd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", fs.path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* Remove temporaries a crash left behind; they never hold a key under
 * its name, so nothing is lost. */
static int
fs_sweep(int dfd, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	int		 fd, n = 0;

	if ((fd = dup(dfd)) == -1 || (d = fdopendir(fd)) == NULL) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
			continue;
		if (unlinkat(dfd, de->d_name, 0) == -1)
			log_warn("%s/%s: cannot remove", fs.path, de->d_name);
		else
			n++;
	}
	if (errno != 0) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		closedir(d);
		return -1;
	}
	closedir(d);
	if (n > 0)
		log_info("%s: removed %d temporary file%s left by an "
		    "interrupted create", fs.path, n, n == 1 ? "" : "s");
	return 0;
}

/* keystore.fs: path. */
static int
fs_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	struct fs_conf *c;

	c = xcalloc(1, sizeof(*c));
	*conf = c;
	return cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "path", &c->path, "the directory that holds the keys" },
	    { NULL, NULL, NULL } });
}

static void
fs_conf_free(void *conf)
{
	struct fs_conf *c = conf;

	if (c == NULL)
		return;
	freezero_str(c->path);
	free(c);
}

void
fs_conf_new(struct keystore_cfg *k, const char *path)
{
	struct fs_conf *c;

	c = xcalloc(1, sizeof(*c));
	c->path = xstrdup(path);
	k->store = &ks_backend_fs;
	k->conf = c;
}

/* Settings in the agent's slice: str path. */
static int
fs_settings_put(struct buf *b, const void *conf)
{
	const struct fs_conf *c = conf;

	return buf_put_str(b, c->path);
}

static int
settings_path(struct buf *b, const char **path, char *err, size_t errlen)
{
	if (buf_get_str(b, path, NULL) == -1 || buf_end(b) == -1) {
		snprintf(err, errlen, "malformed settings");
		return -1;
	}
	return 0;
}

static int
fs_settings(struct buf *b, char *err, size_t errlen)
{
	const char *path;

	if (settings_path(b, &path, err, errlen) == -1)
		return -1;
	if (path[0] != '/') {
		snprintf(err, errlen, "key store path must be absolute");
		return -1;
	}
	free(fs.path);
	fs.path = xstrdup(path);
	return 0;
}

/* The directory is fixed for the life of the process: it was made (and
 * owned) at start. */
static int
fs_reload(struct buf *b, char *err, size_t errlen)
{
	const char *path;

	if (settings_path(b, &path, err, errlen) == -1)
		return -1;
	if (strcmp(path, fs.path) != 0) {
		snprintf(err, errlen, "the key store cannot change without a "
		    "restart");
		return -1;
	}
	return 0;
}

/*
 * Started as root, the directory is made here for the server's user,
 * before the privilege drop; otherwise we run as that user and make it
 * the same way. Mode 0700, not KES's 0755: nobody but the server needs to
 * see which keys exist. Missing parents get 0755 (dir_ensure), so that a
 * root-made tree stays traversable for the unprivileged agent.
 */
static int
fs_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (uid != (uid_t)-1 && uid != geteuid() &&
	    fs_check_owner(fs.path, uid, gid, err, errlen) == -1)
		return -1;
	return dir_ensure(fs.path, 0700, uid, gid, err, errlen);
}

static int
fs_init(char *err, size_t errlen)
{
	struct stat	st;
	int		dfd, rc;

	if ((dfd = fs_dir(err, errlen)) == -1)
		return -1;
	if (fstat(dfd, &st) == -1) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		close(dfd);
		return -1;
	}
	if (st.st_mode & 077)
		log_warnx("%s: mode %04o lets others see the key names; "
		    "chmod 0700 is enough", fs.path,
		    (unsigned int)(st.st_mode & 07777));
	rc = fs_sweep(dfd, err, errlen);
	close(dfd);
	return rc;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reachable means: the directory opens, is a directory, and we may create
 * and list files in it. */
static int
fs_status(uint64_t *latency_ns, char *err, size_t errlen)
{
	struct stat	st;
	uint64_t	t0 = now_ns();
	int		fd;

	if ((fd = fs_dir(err, errlen)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", fs.path);
		close(fd);
		return -1;
	}
	if (faccessat(fd, ".", R_OK | W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	*latency_ns = now_ns() - t0;
	return 0;
}

/* A new, empty temporary file in the store; its name goes to tmp. */
static int
tmp_create(int dfd, char tmp[TMP_NAMELEN + 1], char *err, size_t errlen)
{
	static const char	hex[] = "0123456789abcdef";
	uint8_t			rnd[16];
	char			*w;
	size_t			i;
	int			fd, tries;

	for (tries = 0; tries < 4; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			snprintf(err, errlen, "getrandom: %s",
			    strerror(errno));
			return -1;
		}
		w = tmp + strlen(strcpy(tmp, TMP_PREFIX));
		for (i = 0; i < sizeof(rnd); i++) {
			*w++ = hex[rnd[i] >> 4];
			*w++ = hex[rnd[i] & 15];
		}
		*w = '\0';
		fd = openat(dfd, tmp, O_CREAT | O_EXCL | O_WRONLY |
		    O_CLOEXEC | O_NOFOLLOW, 0600);
		if (fd != -1 || errno != EEXIST)
			break;
	}
	if (fd == -1)
		snprintf(err, errlen, "%s: cannot create a temporary file: "
		    "%s", fs.path, strerror(errno));
	return fd;
}

static int
fs_create(const char *name, const uint8_t *value, size_t len, char *err,
    size_t errlen)
{
	struct stat	st;
	char		tmp[TMP_NAMELEN + 1];
	int		dfd, fd, rc = KS_FAIL_UNAVAILABLE;

	if (!fs_name_ok(name)) {
		snprintf(err, errlen, "'%s' cannot be a file name", name);
		return KS_FAIL_INVALID;
	}
	/* Reads stop at KES_STORED_MAX: a larger key could not be read. */
	if (len == 0 || len > KES_STORED_MAX) {
		snprintf(err, errlen, "a stored key is 1 to %u bytes, not %zu",
		    KES_STORED_MAX, len);
		return KS_FAIL_INVALID;
	}
	if ((dfd = fs_dir(err, errlen)) == -1)
		return KS_FAIL_UNAVAILABLE;
	/*
	 * An existing key is "exists" whatever state the disk is in (KES
	 * checks first too): on a full disk the temporary file below fails,
	 * and the client would hear 502 instead of "key already exists".
	 * linkat still decides a race.
	 */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		snprintf(err, errlen, "key '%s' exists", name);
		close(dfd);
		return KS_FAIL_EXISTS;
	}
	if ((fd = tmp_create(dfd, tmp, err, errlen)) == -1) {
		close(dfd);
		return KS_FAIL_UNAVAILABLE;
	}
	if (wfile_write_all(fd, value, len) == -1 || fsync(fd) == -1) {
		snprintf(err, errlen, "%s/%s: %s", fs.path, tmp,
		    strerror(errno));
		close(fd);
		goto out;
	}
	if (close(fd) == -1) {
		snprintf(err, errlen, "%s/%s: close: %s", fs.path, tmp,
		    strerror(errno));
		goto out;
	}
	if (linkat(dfd, tmp, dfd, name, 0) == -1) {
		if (errno == EEXIST) {
			snprintf(err, errlen, "key '%s' exists", name);
			rc = KS_FAIL_EXISTS;
		} else
			snprintf(err, errlen, "%s/%s: %s", fs.path, name,
			    strerror(errno));
		goto out;
	}
	/* The key is in place; the temporary is only a second name. */
	if (unlinkat(dfd, tmp, 0) == -1)
		log_warn("%s/%s: cannot remove", fs.path, tmp);
	if (fs_sync_dir(dfd, err, errlen) == -1) {
		/* Reported as failed, so it must not exist: nobody was told
		 * about this key, and it may not survive a crash. */
		if (unlinkat(dfd, name, 0) == -1)
			log_warn("%s/%s: cannot remove", fs.path, name);
		close(dfd);
		return KS_FAIL_UNAVAILABLE;
	}
	close(dfd);
	return 0;
 out:
	if (unlinkat(dfd, tmp, 0) == -1 && errno != ENOENT)
		log_warn("%s/%s: cannot remove", fs.path, tmp);
	close(dfd);
	return rc;
}

/*
 * Reads fd to its end into out: at most KES_STORED_MAX bytes, and no more
 * than out may hold. hint is the size fstat saw, plus one to meet the end.
 */
static int
read_capped(int fd, const char *name, size_t hint, struct buf *out,
    char *err, size_t errlen)
{
	size_t	 total = 0, room, want;
	ssize_t	 n;
	uint8_t	*p, extra;

	for (;;) {
		room = KES_STORED_MAX - total;
		if (room > out->max - out->len)
			room = out->max - out->len;
		want = READ_CHUNK;
		if (hint > total && hint - total < want)
			want = hint - total;
		if (want > room)
			want = room;
		if (want == 0) {
			/* Full: the file must end here. */
			if ((n = read(fd, &extra, 1)) == 0)
				return 0;
			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1)
				snprintf(err, errlen, "%s/%s: %s", fs.path,
				    name, strerror(errno));
			else if (total == KES_STORED_MAX)
				snprintf(err, errlen, "%s/%s: larger than %u "
				    "bytes, too large for a stored key",
				    fs.path, name, KES_STORED_MAX);
			else
				snprintf(err, errlen, "%s/%s: too large for "
				    "the reply", fs.path, name);
			return -1;
		}
		if ((p = buf_reserve(out, want)) == NULL) {
			snprintf(err, errlen, "%s/%s: no room for the value",
			    fs.path, name);
			return -1;
		}
		if ((n = read(fd, p, want)) == -1) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "%s/%s: %s", fs.path, name,
			    strerror(errno));
			return -1;
		}
		if (n == 0)
			return 0;
		out->len += (size_t)n;
		total += (size_t)n;
	}
}

static int
fs_get(const char *name, struct buf *out, char *err, size_t errlen)
{
	struct stat	st;
	size_t		start = out->len;
	int		dfd, fd, rc = KS_FAIL_UNAVAILABLE;

	if (!fs_name_ok(name)) {
		snprintf(err, errlen, "'%s' cannot be a file name", name);
		return KS_FAIL_INVALID;
	}
	if ((dfd = fs_dir(err, errlen)) == -1)
		return KS_FAIL_UNAVAILABLE;
	/* O_NONBLOCK: a FIFO planted under a key's name must not hang the
	 * agent; it is refused below like any other non-regular file. */
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY);
	close(dfd);
	if (fd == -1) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "key '%s' does not exist", name);
			return KS_FAIL_NOT_FOUND;
		}
		if (errno == ELOOP)
			snprintf(err, errlen, "%s/%s: a symbolic link, not "
			    "a key file", fs.path, name);
		else
			snprintf(err, errlen, "%s/%s: %s", fs.path, name,
			    strerror(errno));
		return KS_FAIL_UNAVAILABLE;
	}
	if (fstat(fd, &st) == -1) {
		snprintf(err, errlen, "%s/%s: %s", fs.path, name,
		    strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s/%s: not a regular file", fs.path,
		    name);
	} else if (st.st_size > (off_t)KES_STORED_MAX) {
		snprintf(err, errlen, "%s/%s: %lld bytes, too large for a "
		    "stored key (at most %u)", fs.path, name,
		    (long long)st.st_size, KES_STORED_MAX);
	} else if (read_capped(fd, name, (size_t)st.st_size + 1, out, err,
	    errlen) == 0)
		rc = 0;
	close(fd);
	if (rc != 0 && out->len > start) {
		/* Nothing half-read stays behind in the caller's buffer. */
		explicit_bzero(out->data + start, out->len - start);
		out->len = start;
	}
	return rc;
}

static int
fs_del(const char *name, char *err, size_t errlen)
{
	int dfd;

	if (!fs_name_ok(name)) {
		snprintf(err, errlen, "'%s' cannot be a file name", name);
		return KS_FAIL_INVALID;
	}
	if ((dfd = fs_dir(err, errlen)) == -1)
		return KS_FAIL_UNAVAILABLE;
	if (unlinkat(dfd, name, 0) == -1) {
		if (errno == ENOENT) {
			snprintf(err, errlen, "key '%s' does not exist", name);
			close(dfd);
			return KS_FAIL_NOT_FOUND;
		}
		snprintf(err, errlen, "%s/%s: %s", fs.path, name,
		    strerror(errno));
		close(dfd);
		return KS_FAIL_UNAVAILABLE;
	}
	if (fs_sync_dir(dfd, err, errlen) == -1) {
		close(dfd);
		return KS_FAIL_UNAVAILABLE;
	}
	close(dfd);
	return 0;
}

/* Every entry whose name the store would accept: temporaries, "." and
 * ".." (and anything else with a dot) never look like keys. */
static int
fs_list(struct ks_op *op, char *err, size_t errlen)
{
	struct dirent	*de;
	DIR		*d;
	int		 dfd, rc = 0;

	if ((dfd = fs_dir(err, errlen)) == -1)
		return KS_FAIL_UNAVAILABLE;
	if ((d = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		close(dfd);
		return KS_FAIL_UNAVAILABLE;
	}
	for (errno = 0; (de = readdir(d)) != NULL; errno = 0) {
		if (!fs_name_ok(de->d_name))
			continue;
		if (ks_op_name(op, de->d_name) == -1) {
			snprintf(err, errlen, "%s: listing stopped", fs.path);
			rc = KS_FAIL_UNAVAILABLE;
			break;
		}
	}
	if (rc == 0 && errno != 0) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		rc = KS_FAIL_UNAVAILABLE;
	}
	closedir(d);
	return rc;
}

/* The calls: each completes before it returns. */

static void
fs_op_status(struct ks_op *op)
{
	char err[256] = "";

	ks_op_done(op, fs_status(&op->latency_ns, err, sizeof(err)) == 0 ? 0 :
	    KS_FAIL_UNAVAILABLE, err);
}

static void
fs_op_create(struct ks_op *op)
{
	char err[256] = "";

	ks_op_done(op, fs_create(op->name, op->value, op->len, err,
	    sizeof(err)), err);
}

static void
fs_op_get(struct ks_op *op)
{
	char err[256] = "";

	ks_op_done(op, fs_get(op->name, op->out, err, sizeof(err)), err);
}

static void
fs_op_del(struct ks_op *op)
{
	char err[256] = "";

	ks_op_done(op, fs_del(op->name, err, sizeof(err)), err);
}

static void
fs_op_list(struct ks_op *op)
{
	char err[256] = "";

	ks_op_done(op, fs_list(op, err, sizeof(err)), err);
}

/* The calls that read and write files, on top of the agent's own list. */
static const struct sb_rule fs_rules[] = {
	ALLOW(openat),
	ALLOW(linkat),
	ALLOW(renameat),
	ALLOW(renameat2),
	ALLOW(unlinkat),
	ALLOW(mkdirat),
	ALLOW(getdents64),
	ALLOW(fsync),
	ALLOW(fdatasync),
	ALLOW(ftruncate),
	ALLOW(fchmod),
	ALLOW(flock),
	ALLOW(statx),
	ALLOW(newfstatat),
	/* glibc's faccessat() tries faccessat2 first (the status check). */
	ALLOW(faccessat),
	ALLOW(faccessat2),
};

const struct ks_backend ks_backend_fs = {
	.name = "fs",
	.keys = (const char *const []){ "path", NULL },
	.parse = fs_parse,
	.conf_free = fs_conf_free,
	/* Reached by its path, which a chroot would hide. */
	.chroot = false,
	.rules = fs_rules,
	.nrules = sizeof(fs_rules) / sizeof(fs_rules[0]),
	.settings_put = fs_settings_put,
	.settings = fs_settings,
	.reload = fs_reload,
	.prepare = fs_prepare,
	.init = fs_init,
	.status = fs_op_status,
	.create = fs_op_create,
	.get = fs_op_get,
	.del = fs_op_del,
	.list = fs_op_list,
	.cancel = NULL,
};
