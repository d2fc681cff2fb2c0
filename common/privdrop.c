/*
 * Privilege drop (user, chroot, capabilities) and process hardening for the
 * children. The drop follows OpenSSH's permanently_set_uid(): setgroups
 * before setres[ug]id, then try to get root back and die if that works.
 */
#include <sys/types.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/proc.h"
#include "common/privdrop.h"
#include "common/sandbox.h"

/*
 * /dev/null, opened by privdrop() before it enters the chroot, for a later
 * proc_harden(): the empty chroot has no /dev. -1 when not opened.
 */
static int	devnull_fd = -1;
/*
 * make VG=1: no user switch and no chroot, so that callgrind, which opens
 * its output file at the start, can write its counts there at exit.
 */
#ifdef KEYWARD_VALGRIND
#define VALGRIND_BUILD	1
#else
#define VALGRIND_BUILD	0
#endif

/* What privdrop() did, for proc_run()'s choice of fence. */
static bool	chrooted, was_root;

/*
 * The chroot must be a root-owned directory nobody else can write to, and
 * empty, so that a compromised child finds nothing there and cannot plant
 * anything. Checked on the open descriptor we then chroot into, so the path
 * cannot be swapped in between.
 */
static void
check_chroot_dir(const char *dir, int fd)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	int		 dfd;

	if (fstat(fd, &st) == -1)
		fatal("chroot directory %s: fstat", dir);
	if (!S_ISDIR(st.st_mode))
		fatalx("chroot directory %s: not a directory", dir);
	if (st.st_uid != 0)
		fatalx("chroot directory %s: owned by uid %u, must be owned by "
		    "root", dir, (unsigned int)st.st_uid);
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		fatalx("chroot directory %s: mode %04o is group or other "
		    "writable, must not be (chmod 0755)", dir,
		    (unsigned int)(st.st_mode & 07777));

	if ((dfd = dup(fd)) == -1)
		fatal("chroot directory %s: dup", dir);
	if ((d = fdopendir(dfd)) == NULL)
		fatal("chroot directory %s: fdopendir", dir);
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		fatalx("chroot directory %s: not empty (it contains \"%s\"); "
		    "it must be an empty directory", dir, de->d_name);
	}
	if (errno != 0)
		fatal("chroot directory %s: readdir", dir);
	closedir(d);
}

static void
enter_chroot(const char *dir)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("chroot directory %s", dir);
	check_chroot_dir(dir, fd);
	if (fchdir(fd) == -1)
		fatal("chroot directory %s: fchdir", dir);
	if (chroot(".") == -1)
		fatal("chroot %s", dir);
	if (chdir("/") == -1)
		fatal("chdir / in chroot %s", dir);
	close(fd);
}

/* The capability state we want: {CAP_IPC_LOCK} permitted+effective, or {}. */
static cap_t
caps_wanted(bool ipc_lock)
{
	cap_t		caps;
	cap_value_t	v = CAP_IPC_LOCK;

	if ((caps = cap_init()) == NULL)
		fatal("cap_init");
	if (ipc_lock &&
	    (cap_set_flag(caps, CAP_PERMITTED, 1, &v, CAP_SET) == -1 ||
	    cap_set_flag(caps, CAP_EFFECTIVE, 1, &v, CAP_SET) == -1))
		fatal("cap_set_flag");
	return caps;
}

static void
caps_set(bool ipc_lock)
{
	cap_t	want, have;

	want = caps_wanted(ipc_lock);
	if (cap_set_proc(want) == -1)
		fatal("cap_set_proc");
	/* Empty inheritable already clears ambient; say so explicitly. */
	if (cap_reset_ambient() == -1)
		fatal("cap_reset_ambient");
	if ((have = cap_get_proc()) == NULL)
		fatal("cap_get_proc");
	if (cap_compare(want, have) != 0)
		fatalx("capabilities were not reduced as asked");
	cap_free(have);
	cap_free(want);
}

static bool
caps_permitted(cap_value_t v)
{
	cap_t			caps;
	cap_flag_value_t	set = CAP_CLEAR;

	if ((caps = cap_get_proc()) == NULL)
		fatal("cap_get_proc");
	if (cap_get_flag(caps, v, CAP_PERMITTED, &set) == -1)
		fatal("cap_get_flag");
	cap_free(caps);
	return set == CAP_SET;
}

/* Prove the drop: root must be out of reach and every id must match. */
static void
verify_ids(uid_t uid, gid_t gid)
{
	uid_t	ru, eu, su;
	gid_t	rg, eg, sg, groups[2];
	int	n;

	if (setresuid(0, 0, 0) != -1 || setuid(0) != -1 || seteuid(0) != -1)
		fatalx("privdrop: could regain uid 0 after dropping to "
		    "uid %u", (unsigned int)uid);
	if (setresgid(0, 0, 0) != -1 || setgid(0) != -1 || setegid(0) != -1)
		fatalx("privdrop: could regain gid 0 after dropping to "
		    "gid %u", (unsigned int)gid);
	if (getresuid(&ru, &eu, &su) == -1 || getresgid(&rg, &eg, &sg) == -1)
		fatal("getres[ug]id");
	if (ru != uid || eu != uid || su != uid ||
	    getuid() != uid || geteuid() != uid)
		fatalx("privdrop: uid is %u/%u/%u, expected %u", (unsigned int)ru,
		    (unsigned int)eu, (unsigned int)su, (unsigned int)uid);
	if (rg != gid || eg != gid || sg != gid ||
	    getgid() != gid || getegid() != gid)
		fatalx("privdrop: gid is %u/%u/%u, expected %u", (unsigned int)rg,
		    (unsigned int)eg, (unsigned int)sg, (unsigned int)gid);
	if ((n = getgroups(2, groups)) != 1 || groups[0] != gid)
		fatalx("privdrop: supplementary groups are not just %u",
		    (unsigned int)gid);
}

static void
drop_root(const struct drop_opts *o)
{
	struct passwd	*pw;
	uid_t		 uid;
	gid_t		 gid;

	/* Before the chroot: the passwd database is outside it. */
	errno = 0;
	if ((pw = getpwnam(o->user)) == NULL) {
		if (errno != 0)
			fatal("looking up user %s", o->user);
		fatalx("user \"%s\" does not exist; the children run as this "
		    "unprivileged user: create it with `useradd --system "
		    "--no-create-home --shell /usr/sbin/nologin %s`",
		    o->user, o->user);
	}
	uid = pw->pw_uid;
	gid = pw->pw_gid;
	if (uid == 0 || gid == 0)
		fatalx("user \"%s\" has uid or gid 0; it must be an "
		    "unprivileged user", o->user);

	/* Without CAP_SYS_CHROOT (keyward.service) Landlock fences instead. */
	if (o->chroot_dir != NULL && privdrop_can_chroot()) {
		if (devnull_fd == -1 && (devnull_fd = open("/dev/null",
		    O_RDWR | O_CLOEXEC)) == -1)
			fatal("open /dev/null");
		enter_chroot(o->chroot_dir);
		chrooted = true;
	}

	if (o->keep_ipc_lock && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_KEEPCAPS)");
	if (setgroups(1, &gid) == -1)
		fatal("setgroups");
	if (setresgid(gid, gid, gid) == -1)
		fatal("setresgid %u", (unsigned int)gid);
	if (setresuid(uid, uid, uid) == -1)
		fatal("setresuid %u", (unsigned int)uid);
	caps_set(o->keep_ipc_lock);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_KEEPCAPS)");
	verify_ids(uid, gid);

	log_debug("dropped to user %s (uid %u, gid %u), chroot %s, %s",
	    o->user, (unsigned int)uid, (unsigned int)gid,
	    chrooted ? o->chroot_dir : "none",
	    o->keep_ipc_lock ? "kept CAP_IPC_LOCK" : "no capabilities");
}

void
privdrop(const struct drop_opts *o)
{
	bool	ipc_lock;

	sandbox_sanitizer_prepare();
	if (VALGRIND_BUILD) {
		log_warnx("valgrind build: the child keeps the parent's user "
		    "(measurement only)");
		return;
	}
	was_root = geteuid() == 0;
	if (was_root)
		drop_root(o);
	else {
		/* The setcap deployment: the binary carries cap_ipc_lock+ep. */
		log_info("not started as root: chroot and user switch skipped");
		ipc_lock = o->keep_ipc_lock && caps_permitted(CAP_IPC_LOCK);
		caps_set(ipc_lock);
		log_debug("running as uid %u, %s", (unsigned int)getuid(),
		    ipc_lock ? "kept CAP_IPC_LOCK" : "no capabilities");
	}
	/*
	 * A change of effective uid resets the dumpable flag to
	 * fs.suid_dumpable, so a proc_harden() done before us may have been
	 * undone; set it again.
	 */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_DUMPABLE)");
}

bool
privdrop_can_chroot(void)
{
	return caps_permitted(CAP_SYS_CHROOT);
}

bool
privdrop_chrooted(void)
{
	return chrooted;
}

bool
privdrop_was_root(void)
{
	return was_root;
}

void
proc_harden(bool foreground)
{
	struct rlimit	rl = { 0, 0 };
	int		fd;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		fatal("prctl(PR_SET_DUMPABLE)");
	if (setrlimit(RLIMIT_CORE, &rl) == -1)
		fatal("setrlimit(RLIMIT_CORE)");
	/* No controlling terminal to inject into (bubblewrap CVE-2017-5226). */
	if (setsid() == -1 && errno != EPERM)
		fatal("setsid");

	fd = devnull_fd;
	if (!foreground) {
		if (fd == -1 &&
		    (fd = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
			fatal("open /dev/null");
		if (dup2(fd, STDIN_FILENO) == -1 ||
		    dup2(fd, STDOUT_FILENO) == -1)
			fatal("dup2 /dev/null");
	}
	if (fd > STDERR_FILENO)
		close(fd);
	devnull_fd = -1;
}

/*
 * MCL_ONFAULT: a page is locked when it is first touched, so nothing that
 * ever held data can be swapped out, while the library code a process
 * never runs (the one binary maps libcurl and its dependencies in every
 * process) is not made resident: about 16 MiB less per locked process.
 */
int
memlock_all(void)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) == 0)
		return 0;
	if (errno != EINVAL)
		return -1;
	return mlockall(MCL_CURRENT | MCL_FUTURE);	/* before Linux 4.4 */
}

const char *
memlock_help(void)
{
	return "to lock keyward's memory, start it as root, or give the "
	    "binary the capability with `setcap cap_ipc_lock+ep "
	    "/path/to/keyward`, or under systemd set "
	    "AmbientCapabilities=CAP_IPC_LOCK (or LimitMEMLOCK=infinity); "
	    "to run without locked memory set `server.mlock: off` in the "
	    "configuration, which logs a warning at every start";
}

void
mem_dontdump(void *p, size_t len)
{
	uintptr_t	start, end, pg;

	if (p == NULL || len == 0)
		return;
	pg = (uintptr_t)sysconf(_SC_PAGESIZE);
	start = (uintptr_t)p & ~(pg - 1);
	if ((uintptr_t)p > UINTPTR_MAX - len ||
	    (uintptr_t)p + len > UINTPTR_MAX - (pg - 1))
		fatalx("mem_dontdump: range overflows");
	end = ((uintptr_t)p + len + pg - 1) & ~(pg - 1);
	/* Defence in depth behind PR_SET_DUMPABLE 0 and RLIMIT_CORE 0. */
	if (madvise((void *)start, end - start, MADV_DONTDUMP) == -1)
		log_warn("madvise(MADV_DONTDUMP) %p+%zu", p, len);
}

void
proc_confine(const struct proc_opts *o, bool chroot, bool memlock)
{
	struct drop_opts d;

	d.user = o->user;
	d.chroot_dir = chroot && o->chroot[0] != '\0' ? o->chroot : NULL;
	d.keep_ipc_lock = memlock && o->mlock;
	privdrop(&d);
	proc_harden(o->foreground);
	if (d.keep_ipc_lock && memlock_all() == -1)
		fatal("cannot lock memory (%s)", memlock_help());
}
