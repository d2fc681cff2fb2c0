/*
 * seccomp allow-lists, one per child role, built with libseccomp.
 *
 * Shape (OpenSSH sandbox-seccomp-filter.c, chrony sys_linux.c): check the
 * architecture first (x86_64 only; any other, x32 included, kills the
 * process), then an allow-list with argument checks (mmap and mprotect
 * without PROT_EXEC, madvise, fcntl and futex limited to lists of values,
 * socket domains), and kill the whole process (SCMP_ACT_KILL_PROCESS, not
 * just the thread: a library may have started one) on anything else.
 * What a role is explicitly forbidden (open in crypto, socket in the worker,
 * exec and fork everywhere, ...) is never soft-denied; the one exception is
 * the raw open(2) in the sanitizer build (see sanitizer_rules).
 *
 * Debug switch: KEYWARD_SANDBOX_DEBUG=1 in the parent's environment makes
 * sandbox_debug_from_env() return 1; the parent passes that on and each child
 * calls sandbox_apply(role, true). The filter is the same, only the default
 * action becomes a trap: a SIGSYS handler writes
 *   keyward: sandbox: <role> blocked syscall <name> (<nr>)
 * to stderr and the syscall fails with ENOSYS, so one run lists every
 * missing syscall. Privilege dropping stays on. Not for production: a
 * compromised child can then probe syscalls without dying.
 */
#include <sys/types.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <seccomp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#ifdef KEYWARD_SANITIZE
#include <sanitizer/common_interface_defs.h>
#include <sanitizer/lsan_interface.h>
#endif

#include "common/log.h"
#include "common/msg.h"
#include "common/sandbox.h"

/*
 * futex: the operation without FUTEX_PRIVATE_FLAG and FUTEX_CLOCK_REALTIME,
 * upper 32 bits ignored (the kernel takes an int). The PI and FUTEX2
 * operations are not allowed.
 */
#define FUTEX_OPMASK \
	(0xffffffffULL & ~(uint64_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME))
#define ALLOW_FUTEX(op)	ALLOW_MASK(futex, 1, FUTEX_OPMASK, (op))

/*
 * Every role: I/O on descriptors it already holds, its epoll loop, time,
 * randomness, memory without PROT_EXEC, and exit.
 */
static const struct sb_rule common_rules[] = {
	ALLOW(read),
	ALLOW(readv),
	ALLOW(write),
	ALLOW(writev),
	ALLOW(recvmsg),
	ALLOW(sendmsg),
	ALLOW(close),
	ALLOW(lseek),
	ALLOW(epoll_wait),
	ALLOW(epoll_pwait),
	ALLOW(epoll_ctl),
	/* common/ipc.c waits on one channel with poll(2). */
	ALLOW(poll),
	ALLOW(ppoll),
	ALLOW(clock_gettime),
	ALLOW(clock_nanosleep),
	ALLOW(nanosleep),
	ALLOW(gettimeofday),
	ALLOW(getpid),
	ALLOW(gettid),
	ALLOW(getrandom),
	ALLOW(sched_yield),
	ALLOW(restart_syscall),
	ALLOW(rt_sigreturn),
	ALLOW(rt_sigprocmask),
	ALLOW(exit),
	ALLOW(exit_group),

	ALLOW(brk),
	ALLOW(munmap),
	ALLOW(mremap),
	ALLOW_MASK(mmap, 2, PROT_EXEC, 0),
	ALLOW_MASK(mprotect, 2, PROT_EXEC, 0),
	/* glibc malloc trims with DONTNEED; OpenSSL's secure heap and key
	 * pages use DONTDUMP; glibc's THP tunable uses (NO)HUGEPAGE. */
	ALLOW_EQ(madvise, 2, MADV_DONTNEED),
	ALLOW_EQ(madvise, 2, MADV_FREE),
	ALLOW_EQ(madvise, 2, MADV_DONTDUMP),
	ALLOW_EQ(madvise, 2, MADV_HUGEPAGE),
	ALLOW_EQ(madvise, 2, MADV_NOHUGEPAGE),
	ALLOW_FUTEX(FUTEX_WAIT),
	ALLOW_FUTEX(FUTEX_WAKE),
	ALLOW_FUTEX(FUTEX_REQUEUE),
	ALLOW_FUTEX(FUTEX_CMP_REQUEUE),
	ALLOW_FUTEX(FUTEX_WAKE_OP),
	ALLOW_FUTEX(FUTEX_WAIT_BITSET),
	ALLOW_FUTEX(FUTEX_WAKE_BITSET),

	ALLOW_EQ(fcntl, 1, F_GETFL),
	ALLOW_EQ(fcntl, 1, F_SETFL),
	ALLOW_EQ(fcntl, 1, F_GETFD),
	ALLOW_EQ(fcntl, 1, F_SETFD),
	ALLOW(fstat),
	/*
	 * glibc 2.33+ implements fstat() as newfstatat(fd, "", st,
	 * AT_EMPTY_PATH). A filter cannot see that the path is empty, so a
	 * path lookup is possible; in the empty chroot it finds nothing.
	 */
	ALLOW_MASK(newfstatat, 3, AT_EMPTY_PATH, AT_EMPTY_PATH),
	/* glibc's qsort() asks sysconf(_SC_PHYS_PAGES) for arrays > 1 KiB. */
	ALLOW(sysinfo),
	/* stdio's isatty() check: "not a terminal". */
	FAIL_EQ(ioctl, ENOTTY, 1, TCGETS),
};

/* ROLE_CRYPTO: nothing beyond the common set. */

/* ROLE_WORKER: connections on the inherited listening socket. */
static const struct sb_rule worker_rules[] = {
	ALLOW(accept4),
	ALLOW(setsockopt),
	ALLOW(getsockopt),
	ALLOW(getsockname),
	ALLOW(getpeername),
	ALLOW(shutdown),
};

/*
 * ROLE_AGENT: nothing beyond the common set either. Each store adds its
 * own calls (struct ks_backend's rules, keystore-agent/backend.h): the
 * filesystem store its file calls, a network store TCP sockets
 * (net_rules, keystore-agent/net.c). The agent makes no thread (curl's
 * resolver is never used) and opens no socket of its own: host names
 * are resolved by its helper (keystore-agent/helper.c), whose socketpair
 * is made before the filter.
 */

#ifdef KEYWARD_SANITIZE
/*
 * ASan + UBSan build only (-DKEYWARD_SANITIZE=1), found by running that
 * build's tests and probes with KEYWARD_SANDBOX_DEBUG=1 and strace -f.
 * sandbox_sanitizer_prepare() below removes the need for more.
 */
static const struct sb_rule sanitizer_rules[] = {
	/* Each new thread (no role makes one under its filter since the
	 * agent stopped using curl's resolver): ASan reads its stack bounds through
	 * pthread_getattr_np(), which asks for the CPU affinity ... */
	ALLOW(sched_getaffinity),
	/* ... and gives it an alternate signal stack for its SEGV handler. */
	ALLOW(sigaltstack),
	/*
	 * UBSan's runtime (a separate copy of sanitizer_common in GCC)
	 * initialises at its first report: readlink("/proc/self/exe") and
	 * open("/proc/self/maps") with the raw open(2), which glibc itself
	 * never uses on x86_64 (openat stays a kill). Failing them lets the
	 * report out instead of killing the process before it is printed.
	 */
	FAIL(open, EACCES),
	FAIL(readlink, EACCES),
	/* Probing whether memory can be dumped in a report. */
	FAIL(pipe2, EACCES),
};
#endif

struct sb_role {
	const struct sb_rule	*rules;
	size_t			 nrules;
};

#define NITEMS(a)	(sizeof(a) / sizeof((a)[0]))

/* Name table for the SIGSYS handler, filled before the filter loads. */
#define SB_NAMES	512
#define SB_NAMELEN	32
static char	sb_names[SB_NAMES][SB_NAMELEN];
static char	sb_role[16];

static size_t
sb_append(char *dst, size_t off, size_t cap, const char *s)
{
	while (*s != '\0' && off < cap)
		dst[off++] = *s++;
	return off;
}

/* Async-signal-safe: only write(2), no stdio, no allocation. */
static void
sigsys_handler(int sig, siginfo_t *si, void *vctx)
{
	ucontext_t	*uc = vctx;
	char		 msg[128], num[16];
	size_t		 n = 0, i = sizeof(num);
	unsigned int	 nr = (unsigned int)si->si_syscall, v = nr;
	int		 saved = errno;

	num[--i] = '\0';
	do {
		num[--i] = '0' + v % 10;
		v /= 10;
	} while (v != 0 && i > 0);

	n = sb_append(msg, n, sizeof(msg), "keyward: sandbox: ");
	n = sb_append(msg, n, sizeof(msg), sb_role);
	n = sb_append(msg, n, sizeof(msg), " blocked syscall ");
	n = sb_append(msg, n, sizeof(msg),
	    nr < SB_NAMES && sb_names[nr][0] != '\0' ? sb_names[nr] : "?");
	n = sb_append(msg, n, sizeof(msg), " (");
	n = sb_append(msg, n, sizeof(msg), num + i);
	n = sb_append(msg, n, sizeof(msg), ")\n");
	(void)!write(STDERR_FILENO, msg, n);

	/* The trapped syscall did not run; make it return -ENOSYS. */
	uc->uc_mcontext.gregs[REG_RAX] = -ENOSYS;
	errno = saved;
}

static int
debug_setup(enum proc_role role)
{
	struct sigaction	 sa;
	sigset_t		 set;
	uint32_t		 arch = seccomp_arch_native();
	char			*name;
	int			 nr;

	snprintf(sb_role, sizeof(sb_role), "%s", role_name(role));
	for (nr = 0; nr < SB_NAMES; nr++) {
		if ((name = seccomp_syscall_resolve_num_arch(arch, nr)) == NULL)
			continue;
		snprintf(sb_names[nr], SB_NAMELEN, "%s", name);
		free(name);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = sigsys_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL) == -1) {
		log_warn("sandbox: sigaction(SIGSYS)");
		return -1;
	}
	/* A blocked SIGSYS would be forced to its default action: death. */
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) == -1) {
		log_warn("sandbox: sigprocmask");
		return -1;
	}
	return 0;
}

/*
 * Do now what the sanitizer runtimes would otherwise do under the filter
 * (sanitizer build only; nothing otherwise). privdrop() calls it first,
 * while /proc and the binary are still reachable (before the chroot).
 */
void
sandbox_sanitizer_prepare(void)
{
#ifdef KEYWARD_SANITIZE
	char buf[256];

	/*
	 * Symbolise one address: ASan's symboliser (libbacktrace) opens the
	 * binary and every loaded library and reads /proc/self/maps once,
	 * so a later report prints a full stack without opening files.
	 */
	__sanitizer_symbolize_pc(__builtin_return_address(0), "%p %F %L",
	    buf, sizeof(buf));
	/*
	 * LeakSanitizer's check at exit() stops the world with clone(2) and
	 * ptrace(2), which no role allows: the process would die with SIGSYS
	 * on its way out. Check for leaks now instead; this also turns the
	 * exit-time check off. XXX leaks made after the sandbox is on go
	 * unreported in the daemons; a valgrind run of the e2e suite (the
	 * one job allowed without the sandbox) would pay this.
	 */
	__lsan_do_leak_check();
#endif
}

static int
add_rules(scmp_filter_ctx ctx, const struct sb_rule *r, size_t n)
{
	size_t	i;
	int	rc;

	for (i = 0; i < n; i++) {
		if (r[i].ncmp == 0)
			rc = seccomp_rule_add(ctx, r[i].act, r[i].nr, 0);
		else
			rc = seccomp_rule_add_exact(ctx, r[i].act, r[i].nr, 1,
			    r[i].cmp);
		if (rc < 0) {
			log_warnx("sandbox: rule for syscall %d: %s",
			    r[i].nr, strerror(-rc));
			return -1;
		}
	}
	return 0;
}

int
sandbox_apply(enum proc_role role, bool debug)
{
	return sandbox_apply_more(role, debug, NULL, 0);
}

int
sandbox_apply_more(enum proc_role role, bool debug,
    const struct sb_rule *more, size_t nmore)
{
	scmp_filter_ctx	ctx;
	struct sb_role	extra;
	int		rc;

#ifdef KEYWARD_VALGRIND
	/*
	 * The valgrind build (make VG=1): valgrind's own system calls would
	 * run through the filter, so none is loaded. That build only counts
	 * instructions for `make bench` and is never installed.
	 */
	log_warnx("valgrind build: no seccomp filter (measurement only)");
	return 0;
#endif
	switch (role) {
	case ROLE_CRYPTO:
	case ROLE_AGENT:
		extra.rules = NULL;
		extra.nrules = 0;
		break;
	case ROLE_WORKER:
		extra.rules = worker_rules;
		extra.nrules = NITEMS(worker_rules);
		break;
	default:
		log_warnx("sandbox: no filter for role %s", role_name(role));
		return -1;
	}
	if (seccomp_arch_native() != SCMP_ARCH_X86_64) {
		log_warnx("sandbox: the allow-lists are written for x86_64 "
		    "only");
		return -1;
	}
	if (debug && debug_setup(role) == -1)
		return -1;
	/*
	 * Load the time zone now: the first gmtime_r() in the logger would
	 * otherwise try to open /etc/localtime under the filter.
	 */
	tzset();
	/* Again for callers that never dropped privileges (tests). */
	sandbox_sanitizer_prepare();

	if ((ctx = seccomp_init(debug ? SCMP_ACT_TRAP :
	    SCMP_ACT_KILL_PROCESS)) == NULL) {
		log_warnx("sandbox: seccomp_init failed");
		return -1;
	}
	if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH,
	    SCMP_ACT_KILL_PROCESS)) < 0 ||
	    (rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1)) < 0) {
		log_warnx("sandbox: seccomp_attr_set: %s", strerror(-rc));
		goto fail;
	}
	if (add_rules(ctx, common_rules, NITEMS(common_rules)) == -1 ||
	    add_rules(ctx, extra.rules, extra.nrules) == -1 ||
	    add_rules(ctx, more, nmore) == -1)
		goto fail;
#ifdef KEYWARD_SANITIZE
	if (add_rules(ctx, sanitizer_rules, NITEMS(sanitizer_rules)) == -1)
		goto fail;
#endif
	if ((rc = seccomp_load(ctx)) < 0) {
		log_warnx("sandbox: seccomp_load: %s", strerror(-rc));
		goto fail;
	}
	seccomp_release(ctx);
	log_debug("sandbox: %s filter loaded%s", role_name(role),
	    debug ? " (debug: violations trap and are logged)" : "");
	return 0;

 fail:
	seccomp_release(ctx);
	return -1;
}

int
sandbox_debug_from_env(void)
{
	const char *v = getenv("KEYWARD_SANDBOX_DEBUG");

	return v != NULL && strcmp(v, "1") == 0;
}
