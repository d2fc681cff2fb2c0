/*
 * privdrop() and proc_harden() for real: each case runs in a fork()ed child
 * (a drop cannot be undone) and reports through its exit status and stderr.
 * Needs root; skipped otherwise. The user is "keyward" (scripts/
 * ensure-user.sh creates it), else "nobody".
 */
#include <sys/types.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/privdrop.h"

#define MiB		(1024UL * 1024UL)
#define CAP_BIT(c)	(UINT64_C(1) << (c))

struct child {
	int	status;
	char	err[8192];	/* the child's stderr */
};

typedef void (*child_fn)(void *);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("privdrop tests need root");
}

static const char *
drop_user(void)
{
	return getpwnam("keyward") != NULL ? "keyward" : "nobody";
}

/* Fork; the child runs fn with stderr on a pipe and _exit(0)s after it. */
static void
run_child(child_fn fn, void *arg, struct child *c)
{
	ssize_t	n;
	size_t	len = 0;
	pid_t	pid;
	int	p[2];

	cr_assert_eq(pipe(p), 0);
	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		close(p[0]);
		if (dup2(p[1], STDERR_FILENO) == -1)
			_exit(97);
		fn(arg);
		_exit(0);
	}
	close(p[1]);
	while (len < sizeof(c->err) - 1 &&
	    (n = read(p[0], c->err + len, sizeof(c->err) - 1 - len)) > 0)
		len += n;
	c->err[len] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &c->status, 0), pid);
}

static void
expect_exit0(const struct child *c)
{
	cr_expect(WIFEXITED(c->status) && WEXITSTATUS(c->status) == 0,
	    "child status 0x%x, stderr:\n%s", c->status, c->err);
}

/* In a child: report what went wrong and exit 1. */
static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	char	msg[512];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(msg) - 2)
		n = sizeof(msg) - 2;
	msg[n++] = '\n';
	(void)!write(STDERR_FILENO, msg, n);
	_exit(1);
}

/* A field of /proc/self/status through an fd opened before the chroot. */
static const char *
status_field(int fd, const char *key, char *buf, size_t len)
{
	char	*p, *end;
	ssize_t	 n;
	size_t	 klen = strlen(key);

	if ((n = pread(fd, buf, len - 1, 0)) <= 0)
		die("pread /proc/self/status: %s", strerror(errno));
	buf[n] = '\0';
	for (p = buf; p != NULL && *p != '\0'; p = end) {
		if ((end = strchr(p, '\n')) != NULL)
			*end++ = '\0';
		if (strncmp(p, key, klen) == 0 && p[klen] == ':') {
			p += klen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			return p;
		}
	}
	die("no %s in /proc/self/status", key);
}

static uint64_t
status_hex(int fd, const char *key)
{
	char buf[4096];

	return strtoull(status_field(fd, key, buf, sizeof(buf)), NULL, 16);
}

static unsigned long
status_kb(int fd, const char *key)
{
	char buf[4096];

	return strtoul(status_field(fd, key, buf, sizeof(buf)), NULL, 10);
}

static void
make_chroot(char *dir)
{
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(chmod(dir, 0755), 0);
}

/* ---- keep CAP_IPC_LOCK: mlockall beyond RLIMIT_MEMLOCK ------------- */

static void
child_lock(void *arg)
{
	struct drop_opts	 o = { drop_user(), arg, true };
	unsigned char		*m;
	unsigned long		 kb;
	uint64_t		 eff, prm;
	int			 fd;

	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		die("open /proc/self/status: %s", strerror(errno));
	privdrop(&o);

	if (getuid() == 0 || geteuid() == 0 || getgid() == 0 ||
	    getegid() == 0)
		die("still root: uid %u gid %u", getuid(), getgid());
	if (setuid(0) != -1)
		die("setuid(0) succeeded after the drop");
	if (access("/etc/passwd", F_OK) == 0 || access("/proc", F_OK) == 0)
		die("not chrooted: /etc/passwd or /proc visible");
	eff = status_hex(fd, "CapEff");
	prm = status_hex(fd, "CapPrm");
	if (eff != CAP_BIT(CAP_IPC_LOCK) || prm != CAP_BIT(CAP_IPC_LOCK))
		die("CapEff %" PRIx64 " CapPrm %" PRIx64 ", want %" PRIx64,
		    eff, prm, CAP_BIT(CAP_IPC_LOCK));
	if (status_hex(fd, "CapInh") != 0 || status_hex(fd, "CapAmb") != 0)
		die("inheritable or ambient capabilities left");

	if (memlock_all() == -1)
		die("memlock_all: %s (%s)", strerror(errno), memlock_help());
	m = mmap(NULL, 256 * MiB, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap 256 MiB under mlockall: %s", strerror(errno));
	memset(m, 0xa5, 256 * MiB);
#ifdef KEYWARD_SANITIZE
	/* ASan intercepts mlock and mlockall as no-ops (locking its shadow
	 * would be fatal), so lock this mapping with the raw syscall. */
	if (syscall(SYS_mlock, m, 256 * MiB) != 0)
		die("mlock 256 MiB: %s", strerror(errno));
#endif
	if ((kb = status_kb(fd, "VmLck")) < 256 * 1024)
		die("VmLck %lu kB < 256 MiB", kb);
	mem_dontdump(m + 100, 5000);
	munmap(m, 256 * MiB);
}

Test(privdrop, keep_ipc_lock_locks_256mib_in_chroot, .timeout = 60)
{
	char		dir[] = "/tmp/keyward-chroot-XXXXXX";
	struct child	c;

	need_root();
	make_chroot(dir);
	run_child(child_lock, dir, &c);
	expect_exit0(&c);
	rmdir(dir);
}

/* ---- no capabilities: held to RLIMIT_MEMLOCK ------------------------ */

static void
child_nolock(void *arg)
{
	struct drop_opts	 o = { drop_user(), NULL, false };
	void			*m;
	int			 fd;

	(void)arg;
	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		die("open /proc/self/status: %s", strerror(errno));
	privdrop(&o);
	if (getuid() == 0 || geteuid() == 0)
		die("still root");
	if (setuid(0) != -1)
		die("setuid(0) succeeded after the drop");
	if (status_hex(fd, "CapEff") != 0 || status_hex(fd, "CapPrm") != 0)
		die("capabilities left: CapEff %" PRIx64,
		    status_hex(fd, "CapEff"));
	m = mmap(NULL, 64 * MiB, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	/* The raw syscall: ASan's mlock() interceptor does nothing. */
	if (syscall(SYS_mlock, m, 64 * MiB) == 0)
		die("mlock of 64 MiB succeeded without CAP_IPC_LOCK");
	if (errno != ENOMEM && errno != EPERM)
		die("mlock: unexpected %s", strerror(errno));
}

Test(privdrop, no_caps_mlock_limited)
{
	struct child c;

	need_root();
	run_child(child_nolock, NULL, &c);
	expect_exit0(&c);
}

/* ---- chroot directory checks ---------------------------------------- */

static void
child_drop_only(void *arg)
{
	struct drop_opts o = { drop_user(), arg, false };

	privdrop(&o);
}

Test(privdrop, nonempty_chroot_is_fatal)
{
	char		dir[] = "/tmp/keyward-chroot-XXXXXX", path[64];
	struct child	c;
	int		fd;

	need_root();
	make_chroot(dir);
	snprintf(path, sizeof(path), "%s/stray", dir);
	cr_assert_neq(fd = open(path, O_WRONLY | O_CREAT, 0600), -1);
	close(fd);
	run_child(child_drop_only, dir, &c);
	cr_expect(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0,
	    "status 0x%x", c.status);
	cr_expect_not_null(strstr(c.err, dir), "stderr: %s", c.err);
	cr_expect_not_null(strstr(c.err, "not empty"), "stderr: %s", c.err);
	unlink(path);
	rmdir(dir);
}

Test(privdrop, writable_chroot_is_fatal)
{
	char		dir[] = "/tmp/keyward-chroot-XXXXXX";
	struct child	c;

	need_root();
	make_chroot(dir);
	cr_assert_eq(chmod(dir, 0775), 0);
	run_child(child_drop_only, dir, &c);
	cr_expect(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0,
	    "status 0x%x", c.status);
	cr_expect_not_null(strstr(c.err, dir), "stderr: %s", c.err);
	cr_expect_not_null(strstr(c.err, "writable"), "stderr: %s", c.err);
	rmdir(dir);
}

Test(privdrop, chroot_not_owned_by_root_is_fatal)
{
	char		dir[] = "/tmp/keyward-chroot-XXXXXX";
	struct child	c;

	need_root();
	make_chroot(dir);
	cr_assert_eq(chown(dir, 65534, 65534), 0);
	run_child(child_drop_only, dir, &c);
	cr_expect(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0,
	    "status 0x%x", c.status);
	cr_expect_not_null(strstr(c.err, "owned by"), "stderr: %s", c.err);
	rmdir(dir);
}

static void
child_no_user(void *arg)
{
	struct drop_opts o = { "keyward-no-such-user", NULL, false };

	(void)arg;
	privdrop(&o);
}

Test(privdrop, missing_user_says_how_to_create_it)
{
	struct child c;

	need_root();
	run_child(child_no_user, NULL, &c);
	cr_expect(WIFEXITED(c.status) && WEXITSTATUS(c.status) != 0,
	    "status 0x%x", c.status);
	cr_expect_not_null(strstr(c.err, "useradd --system"), "stderr: %s",
	    c.err);
	cr_expect_not_null(strstr(c.err, "keyward-no-such-user"),
	    "stderr: %s", c.err);
}

/* ---- the setcap deployment: started without root -------------------- */

/* Become nobody while keeping a few capabilities, as a file cap would. */
static void
fake_setcap_start(void)
{
	cap_value_t	 v[] = { CAP_IPC_LOCK, CAP_NET_ADMIN, CAP_SYS_ADMIN };
	cap_t		 caps;

	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 ||
	    setresgid(65534, 65534, 65534) == -1 ||
	    setresuid(65534, 65534, 65534) == -1)
		die("becoming nobody: %s", strerror(errno));
	if ((caps = cap_init()) == NULL ||
	    cap_set_flag(caps, CAP_PERMITTED, 3, v, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 3, v, CAP_SET) == -1 ||
	    cap_set_proc(caps) == -1)
		die("cap_set_proc: %s", strerror(errno));
	cap_free(caps);
}

static void
child_nonroot(void *arg)
{
	bool			 keep = *(bool *)arg;
	struct drop_opts	 o = { "keyward-no-such-user", "/nonexistent",
				    keep };
	uint64_t		 want = keep ? CAP_BIT(CAP_IPC_LOCK) : 0;
	int			 fd;

	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		die("open /proc/self/status: %s", strerror(errno));
	fake_setcap_start();
	/* Neither the user nor the chroot is looked at without root. */
	privdrop(&o);
	if (getuid() != 65534)
		die("uid changed to %u", getuid());
	if (status_hex(fd, "CapEff") != want ||
	    status_hex(fd, "CapPrm") != want)
		die("CapEff %" PRIx64 " CapPrm %" PRIx64 ", want %" PRIx64,
		    status_hex(fd, "CapEff"), status_hex(fd, "CapPrm"), want);
	if (keep && memlock_all() == -1)
		die("memlock_all: %s", strerror(errno));
}

Test(privdrop, nonroot_keeps_only_ipc_lock)
{
	struct child	c;
	bool		keep = true;

	need_root();
	run_child(child_nonroot, &keep, &c);
	expect_exit0(&c);
	cr_expect_not_null(strstr(c.err, "chroot and user switch skipped"),
	    "stderr: %s", c.err);
	keep = false;
	run_child(child_nonroot, &keep, &c);
	expect_exit0(&c);
}

/* ---- proc_harden ---------------------------------------------------- */

static bool
is_devnull(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISCHR(st.st_mode) &&
	    st.st_rdev == makedev(1, 3);
}

static void
check_hardened(int fd)
{
	struct rlimit rl;

	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		die("still dumpable");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		die("no_new_privs not set");
	if (getrlimit(RLIMIT_CORE, &rl) == -1 || rl.rlim_cur != 0 ||
	    rl.rlim_max != 0)
		die("RLIMIT_CORE not 0");
	if (status_hex(fd, "NoNewPrivs") != 1)
		die("NoNewPrivs not 1 in /proc/self/status");
	if (getsid(0) != getpid())
		die("not a session leader");
	if (!is_devnull(STDIN_FILENO) || !is_devnull(STDOUT_FILENO))
		die("stdin/stdout not on /dev/null");
	if (is_devnull(STDERR_FILENO))
		die("stderr moved to /dev/null");
}

static void
child_harden(void *arg)
{
	int fd;

	(void)arg;
	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		die("open /proc/self/status: %s", strerror(errno));
	proc_harden(false);
	check_hardened(fd);
}

Test(privdrop, proc_harden_sets_everything)
{
	struct child c;

	run_child(child_harden, NULL, &c);
	expect_exit0(&c);
}

/* The children's order: privdrop (into an empty chroot), then harden. */
static void
child_drop_then_harden(void *arg)
{
	struct drop_opts	o = { drop_user(), arg, true };
	int			fd;

	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		die("open /proc/self/status: %s", strerror(errno));
	privdrop(&o);
	proc_harden(false);
	check_hardened(fd);
}

/* And the other order: harden first, the uid change must not undo it. */
static void
child_harden_then_drop(void *arg)
{
	struct drop_opts	o = { drop_user(), arg, true };
	int			fd;

	if ((fd = open("/proc/self/status", O_RDONLY)) == -1)
		die("open /proc/self/status: %s", strerror(errno));
	proc_harden(false);
	privdrop(&o);
	check_hardened(fd);
}

Test(privdrop, harden_works_in_either_order)
{
	char		dir[] = "/tmp/keyward-chroot-XXXXXX";
	struct child	c;

	need_root();
	make_chroot(dir);
	run_child(child_drop_then_harden, dir, &c);
	expect_exit0(&c);
	run_child(child_harden_then_drop, dir, &c);
	expect_exit0(&c);
	rmdir(dir);
}

Test(privdrop, memlock_help_names_the_fixes)
{
	const char *h = memlock_help();

	cr_expect_not_null(strstr(h, "setcap cap_ipc_lock+ep"));
	cr_expect_not_null(strstr(h, "AmbientCapabilities=CAP_IPC_LOCK"));
	cr_expect_not_null(strstr(h, "LimitMEMLOCK=infinity"));
	cr_expect_not_null(strstr(h, "server.mlock: off"));
}
