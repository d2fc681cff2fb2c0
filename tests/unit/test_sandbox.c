/*
 * The per-role seccomp filters under the real filter (bubblewrap's
 * try-syscall idea): each probe runs in a fork()ed child that loads the
 * filter, makes one raw syscall(2) and _exit(0)s if it got through. The
 * test asserts on the wait status, so criterion itself stays unfiltered.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#ifdef KEYWARD_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

#include "common/msg.h"
#include "common/sandbox.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/net.h"

/* The agent's probes run with a network store's additions instead. */
static bool	agent_net;

/* The filter a role runs with; the agent's includes its store's
 * additions, here the filesystem store's (or net_rules). */
static int
apply(enum proc_role role, bool debug)
{
	if (role == ROLE_AGENT && agent_net)
		return sandbox_apply_more(role, debug, net_rules, net_nrules);
	if (role == ROLE_AGENT)
		return sandbox_apply_more(role, debug, ks_backend_fs.rules,
		    ks_backend_fs.nrules);
	return sandbox_apply(role, debug);
}

static const enum proc_role roles[] = { ROLE_WORKER, ROLE_CRYPTO, ROLE_AGENT };
#define NROLES	(sizeof(roles) / sizeof(roles[0]))

typedef void (*probe_fn)(void *);

#ifdef KEYWARD_SANITIZE
/*
 * Sanitizer build: sandbox_apply() runs LeakSanitizer once before loading
 * the filter. In a child fork()ed from criterion's two-threaded test
 * process LSan cannot see the other thread's stack and may report false
 * leaks, so probe children turn it off (a fork+exec'd daemon child has no
 * such ghost thread).
 */
static int	in_probe_child;

int
__lsan_is_turned_off(void)
{
	return in_probe_child;
}
#endif

/* Exit codes of a probe child other than 0 (the call got through). */
#define PROBE_NOFILTER	99	/* sandbox_apply() failed */
#define PROBE_FAILED	98	/* an allowed call failed */

/*
 * Fork; in the child, optionally send stderr to errfd, load the filter for
 * role, run probe, _exit(0). Returns the wait status.
 */
static int
run_probe(enum proc_role role, bool debug, probe_fn probe, void *arg,
    int errfd)
{
	pid_t	pid;
	int	status;

	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1, "fork: %s", strerror(errno));
	if (pid == 0) {
#ifdef KEYWARD_SANITIZE
		in_probe_child = 1;
#endif
		if (errfd != -1 && dup2(errfd, STDERR_FILENO) == -1)
			_exit(PROBE_FAILED);
		if (apply(role, debug) == -1)
			_exit(PROBE_NOFILTER);
		probe(arg);
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static const char *
status_str(int status)
{
	static char s[64];

	if (WIFEXITED(status))
		snprintf(s, sizeof(s), "exited %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(s, sizeof(s), "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(s, sizeof(s), "status 0x%x", status);
	return s;
}

static void
expect_ok(enum proc_role role, const char *what, probe_fn probe, void *arg)
{
	int st = run_probe(role, false, probe, arg, -1);

	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "%s in %s: expected to succeed, %s", what, role_name(role),
	    status_str(st));
}

static void
expect_killed(enum proc_role role, const char *what, probe_fn probe,
    void *arg)
{
	int st = run_probe(role, false, probe, arg, -1);

	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "%s in %s: expected SIGSYS, %s", what, role_name(role),
	    status_str(st));
}

static void
expect_killed_everywhere(const char *what, probe_fn probe, void *arg)
{
	size_t i;

	for (i = 0; i < NROLES; i++)
		expect_killed(roles[i], what, probe, arg);
}

/* ---- allowed calls -------------------------------------------------- */

static void
probe_common(void *arg)
{
	struct epoll_event	 ev;
	struct timespec		 ts;
	struct stat		 st;
	char			 rnd[32], buf[8];
	int			 p[2], ep;
	void			*m;

	/* The pipe and epoll set are made before the filter, by the test. */
	p[0] = ((int *)arg)[0];
	p[1] = ((int *)arg)[1];
	ep = ((int *)arg)[2];
	if (syscall(SYS_getrandom, rnd, sizeof(rnd), 0) != sizeof(rnd))
		_exit(PROBE_FAILED);
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
		_exit(PROBE_FAILED);
	if (syscall(SYS_write, p[1], "ping", 4) != 4 ||
	    syscall(SYS_read, p[0], buf, sizeof(buf)) != 4)
		_exit(PROBE_FAILED);
	if (syscall(SYS_fstat, p[0], &st) != 0 ||
	    syscall(SYS_newfstatat, p[0], "", &st, AT_EMPTY_PATH) != 0)
		_exit(PROBE_FAILED);
	if (syscall(SYS_fcntl, p[0], F_GETFL) == -1)
		_exit(PROBE_FAILED);
	if (syscall(SYS_epoll_wait, ep, &ev, 1, 0) != 0)
		_exit(PROBE_FAILED);
	m = (void *)syscall(SYS_mmap, NULL, 1 << 20, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(PROBE_FAILED);
	memset(m, 1, 1 << 20);
	if (syscall(SYS_madvise, m, 1 << 20, MADV_DONTNEED) != 0 ||
	    syscall(SYS_madvise, m, 1 << 20, MADV_DONTDUMP) != 0 ||
	    syscall(SYS_mprotect, m, 1 << 20, PROT_READ) != 0 ||
	    syscall(SYS_munmap, m, 1 << 20) != 0)
		_exit(PROBE_FAILED);
	/* malloc, stdio and time formatting through glibc. */
	free(malloc(4 << 20));
	snprintf(buf, sizeof(buf), "%d", 42);
	fprintf(stderr, "%s", "");
	(void)time(NULL);
}

Test(sandbox, common_calls_allowed_in_every_role)
{
	int	fds[3];
	size_t	i;

	cr_assert_eq(pipe(fds), 0);
	cr_assert_neq(fds[2] = epoll_create1(0), -1);
	for (i = 0; i < NROLES; i++)
		expect_ok(roles[i], "getrandom/clock/pipe/mmap", probe_common,
		    fds);
	close(fds[0]);
	close(fds[1]);
	close(fds[2]);
}

struct accept_arg {
	int	lfd;
};

static void
probe_accept(void *arg)
{
	struct accept_arg	*a = arg;
	int			 fd, one = 1;

	if ((fd = syscall(SYS_accept4, a->lfd, NULL, NULL, SOCK_CLOEXEC)) ==
	    -1)
		_exit(PROBE_FAILED);
	if (syscall(SYS_setsockopt, fd, IPPROTO_TCP, TCP_NODELAY, &one,
	    sizeof(one)) != 0)
		_exit(PROBE_FAILED);
	if (syscall(SYS_write, fd, "x", 1) != 1 ||
	    syscall(SYS_shutdown, fd, SHUT_RDWR) != 0)
		_exit(PROBE_FAILED);
}

Test(sandbox, worker_accepts_on_inherited_socket)
{
	struct sockaddr_in	sin;
	struct accept_arg	a;
	socklen_t		len = sizeof(sin);
	int			c;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_neq(a.lfd = socket(AF_INET, SOCK_STREAM, 0), -1);
	cr_assert_eq(bind(a.lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(a.lfd, 4), 0);
	cr_assert_eq(getsockname(a.lfd, (struct sockaddr *)&sin, &len), 0);
	/* The handshake completes in the backlog, before the child runs. */
	cr_assert_neq(c = socket(AF_INET, SOCK_STREAM, 0), -1);
	cr_assert_eq(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	expect_ok(ROLE_WORKER, "accept4", probe_accept, &a);
	close(c);
	close(a.lfd);
}

static void
probe_agent_files(void *arg)
{
	const char	*dir = arg;
	struct stat	 st;
	struct statx	 stx;
	char		 path[256], buf[4];
	int		 dfd, fd;

	snprintf(path, sizeof(path), "%s/key", dir);
	if ((dfd = syscall(SYS_openat, AT_FDCWD, dir,
	    O_RDONLY | O_DIRECTORY)) == -1)
		_exit(PROBE_FAILED);
	if ((fd = syscall(SYS_openat, dfd, "key.new",
	    O_WRONLY | O_CREAT | O_EXCL, 0600)) == -1)
		_exit(PROBE_FAILED);
	if (syscall(SYS_write, fd, "abc", 3) != 3 ||
	    syscall(SYS_fsync, fd) != 0 || syscall(SYS_close, fd) != 0)
		_exit(PROBE_FAILED);
	if (syscall(SYS_renameat, dfd, "key.new", dfd, "key") != 0)
		_exit(PROBE_FAILED);
	if ((fd = syscall(SYS_openat, AT_FDCWD, path, O_RDONLY)) == -1 ||
	    syscall(SYS_read, fd, buf, sizeof(buf)) != 3)
		_exit(PROBE_FAILED);
	if (syscall(SYS_newfstatat, AT_FDCWD, path, &st, 0) != 0 ||
	    syscall(SYS_statx, dfd, "key", 0, STATX_SIZE, &stx) != 0 ||
	    stx.stx_size != 3)
		_exit(PROBE_FAILED);
	if (faccessat(dfd, ".", R_OK | W_OK | X_OK, AT_EACCESS) != 0)
		_exit(PROBE_FAILED);
	if (syscall(SYS_unlinkat, dfd, "key", 0) != 0)
		_exit(PROBE_FAILED);
}

Test(sandbox, agent_opens_files)
{
	char	dir[] = "/tmp/keyward-sbtest-XXXXXX";

	cr_assert_not_null(mkdtemp(dir));
	expect_ok(ROLE_AGENT, "openat/renameat/unlinkat", probe_agent_files,
	    dir);
	rmdir(dir);
}

static void
probe_socket_inet(void *arg)
{
	(void)arg;
	if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) == -1 ||
	    syscall(SYS_socket, AF_INET6, SOCK_STREAM, 0) == -1)
		_exit(PROBE_FAILED);
}

static void
probe_socket_unix(void *arg)
{
	(void)arg;
	syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
}

static void
probe_socket_netlink(void *arg)
{
	(void)arg;
	syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
}

static void *
thread_main(void *arg)
{
	return arg;
}

/* pthread_create: glibc tries clone3 first, then clone(). */
static void
probe_thread(void *arg)
{
	static int	 token;
	pthread_t	 t;
	void		*rv = NULL;

	(void)arg;
	if (pthread_create(&t, NULL, thread_main, &token) != 0 ||
	    pthread_join(t, &rv) != 0 || rv != &token)
		_exit(PROBE_FAILED);
}

static void
probe_clone3(void *arg)
{
	(void)arg;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		_exit(PROBE_FAILED);
}

/* The filesystem store's agent has no network and no threads. */
Test(sandbox, agent_without_network_or_threads)
{
	expect_killed(ROLE_AGENT, "socket(AF_INET)", probe_socket_inet, NULL);
	expect_killed(ROLE_AGENT, "socket(AF_UNIX)", probe_socket_unix, NULL);
	expect_killed(ROLE_AGENT, "socket(AF_NETLINK)", probe_socket_netlink,
	    NULL);
	expect_killed(ROLE_AGENT, "clone3", probe_clone3, NULL);
	expect_killed(ROLE_AGENT, "pthread_create", probe_thread, NULL);
}

/* A network store's: TCP over IPv4 and IPv6 only, still no threads
 * (names are resolved by the helper; tests/e2e/test_net.c). */
Test(sandbox, agent_network_store)
{
	agent_net = true;
	expect_ok(ROLE_AGENT, "socket(AF_INET/AF_INET6)", probe_socket_inet,
	    NULL);
	expect_killed(ROLE_AGENT, "socket(AF_UNIX)", probe_socket_unix, NULL);
	expect_killed(ROLE_AGENT, "socket(AF_NETLINK)", probe_socket_netlink,
	    NULL);
	expect_killed(ROLE_AGENT, "clone3", probe_clone3, NULL);
	expect_killed(ROLE_AGENT, "pthread_create", probe_thread, NULL);
}

/* ---- probes in a freshly exec'd process ----------------------------- */

/*
 * A fork of criterion's test process inherits glibc state a daemon child
 * starts without: criterion already made a thread, so glibc's one-time
 * pthread setup (it installs a signal handler) has been done. These probes
 * re-execute this binary with KEYWARD_SANDBOX_PROBE=<probe>:<role>; the
 * constructor below runs the probe before criterion's main, in a
 * single-threaded process like the real children.
 */
static void
exec_probe_main(const char *spec)
{
	int	fds[3], role;

	role = atoi(strchr(spec, ':') != NULL ? strchr(spec, ':') + 1 : "");
	if (strncmp(spec, "thread:", 7) == 0) {
		if (apply(role, false) == -1)
			_exit(PROBE_NOFILTER);
		probe_thread(NULL);
	} else if (strncmp(spec, "common:", 7) == 0) {
		if (pipe(fds) == -1 || (fds[2] = epoll_create1(0)) == -1)
			_exit(PROBE_FAILED);
		if (apply(role, false) == -1)
			_exit(PROBE_NOFILTER);
		probe_common(fds);
	} else
		_exit(PROBE_FAILED);
	_exit(0);
}

static void __attribute__((constructor))
exec_probe_hook(void)
{
	const char *spec = getenv("KEYWARD_SANDBOX_PROBE");

	if (spec != NULL)
		exec_probe_main(spec);
}

static int
run_exec_probe(const char *probe, enum proc_role role)
{
	char	spec[64];
	char	*const argv[] = { "test_sandbox", NULL };
	pid_t	pid;
	int	status;

	snprintf(spec, sizeof(spec), "%s:%d", probe, (int)role);
	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (setenv("KEYWARD_SANDBOX_PROBE", spec, 1) == -1)
			_exit(PROBE_FAILED);
		execv("/proc/self/exe", argv);
		_exit(PROBE_FAILED);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return status;
}

Test(sandbox, fresh_process_common_calls)
{
	size_t	i;
	int	st;

	for (i = 0; i < NROLES; i++) {
		st = run_exec_probe("common", roles[i]);
		cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "common calls in a fresh %s: %s", role_name(roles[i]),
		    status_str(st));
	}
}

Test(sandbox, fresh_process_creates_no_threads)
{
	int st;

	st = run_exec_probe("thread", ROLE_AGENT);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "pthread_create in a fresh agent: expected SIGSYS, %s",
	    status_str(st));
	st = run_exec_probe("thread", ROLE_CRYPTO);
	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "pthread_create in a fresh crypto: expected SIGSYS, %s",
	    status_str(st));
}

/* ---- forbidden calls ------------------------------------------------ */

static void
probe_execve(void *arg)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };

	(void)arg;
	syscall(SYS_execve, "/bin/true", argv, envp);
}

static void
probe_execveat(void *arg)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };

	(void)arg;
	syscall(SYS_execveat, AT_FDCWD, "/bin/true", argv, envp, 0);
}

static void
probe_fork(void *arg)
{
	(void)arg;
	if (syscall(SYS_fork) == 0)
		_exit(0);
}

static void
probe_vfork(void *arg)
{
	(void)arg;
	if (syscall(SYS_vfork) == 0)
		_exit(0);
}

/* clone() as fork() does it: no CLONE_THREAD. */
static void
probe_clone(void *arg)
{
	(void)arg;
	if (syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0) == 0)
		_exit(0);
}

static void
probe_ptrace(void *arg)
{
	(void)arg;
	syscall(SYS_ptrace, PTRACE_TRACEME, 0, NULL, NULL);
}

static void
probe_mmap_exec(void *arg)
{
	(void)arg;
	syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_EXEC,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void
probe_mprotect_exec(void *arg)
{
	void *m;

	(void)arg;
	m = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(PROBE_FAILED);
	syscall(SYS_mprotect, m, 4096, PROT_READ | PROT_EXEC);
}

static void
probe_madvise_other(void *arg)
{
	void *m;

	(void)arg;
	m = (void *)syscall(SYS_mmap, NULL, 4096, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		_exit(PROBE_FAILED);
	syscall(SYS_madvise, m, 4096, MADV_DONTFORK);
}

static void
probe_open(void *arg)
{
	(void)arg;
	if (syscall(SYS_open, "/etc/passwd", O_RDONLY) != -1 ||
	    errno != EACCES)
		_exit(PROBE_FAILED);
}

/*
 * open(2), which glibc never uses on x86_64 (it uses openat), kills; the
 * sanitizer build fails it with EACCES instead so that UBSan's runtime can
 * print a report (see sanitizer_rules in common/sandbox.c).
 */
static void
expect_open_denied(enum proc_role role)
{
#ifdef KEYWARD_SANITIZE
	expect_ok(role, "open -> EACCES (sanitizer build)", probe_open, NULL);
#else
	expect_killed(role, "open", probe_open, NULL);
#endif
}

static void
probe_openat(void *arg)
{
	(void)arg;
	syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY);
}

static void
probe_stat_path(void *arg)
{
	struct stat st;

	(void)arg;
	syscall(SYS_newfstatat, AT_FDCWD, "/etc/passwd", &st, 0);
}

static void
probe_socket(void *arg)
{
	(void)arg;
	syscall(SYS_socket, AF_INET, SOCK_STREAM, 0);
}

static void
probe_connect(void *arg)
{
	struct sockaddr_in sin;

	(void)arg;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(9);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	syscall(SYS_connect, *(int *)arg, &sin, sizeof(sin));
}

static void
probe_accept_plain(void *arg)
{
	syscall(SYS_accept, *(int *)arg, NULL, NULL);
}

static void
probe_accept4(void *arg)
{
	syscall(SYS_accept4, *(int *)arg, NULL, NULL, 0);
}

static void
probe_kill(void *arg)
{
	(void)arg;
	syscall(SYS_kill, 1, 0);
}

Test(sandbox, execve_killed_in_every_role)
{
	expect_killed_everywhere("execve", probe_execve, NULL);
	expect_killed_everywhere("execveat", probe_execveat, NULL);
}

Test(sandbox, fork_killed_in_every_role)
{
	expect_killed_everywhere("fork", probe_fork, NULL);
	expect_killed_everywhere("vfork", probe_vfork, NULL);
	expect_killed_everywhere("clone without CLONE_THREAD", probe_clone,
	    NULL);
}

Test(sandbox, ptrace_killed_in_every_role)
{
	expect_killed_everywhere("ptrace", probe_ptrace, NULL);
}

Test(sandbox, exec_memory_killed_in_every_role)
{
	expect_killed_everywhere("mmap(PROT_EXEC)", probe_mmap_exec, NULL);
	expect_killed_everywhere("mprotect(PROT_EXEC)", probe_mprotect_exec,
	    NULL);
	expect_killed_everywhere("madvise(MADV_DONTFORK)",
	    probe_madvise_other, NULL);
}

Test(sandbox, signalling_others_killed_in_every_role)
{
	expect_killed_everywhere("kill", probe_kill, NULL);
}

Test(sandbox, crypto_forbidden)
{
	int fd;

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	expect_open_denied(ROLE_CRYPTO);
	expect_killed(ROLE_CRYPTO, "openat", probe_openat, NULL);
	expect_killed(ROLE_CRYPTO, "newfstatat(path)", probe_stat_path, NULL);
	expect_killed(ROLE_CRYPTO, "socket", probe_socket, NULL);
	expect_killed(ROLE_CRYPTO, "connect", probe_connect, &fd);
	expect_killed(ROLE_CRYPTO, "accept", probe_accept_plain, &fd);
	expect_killed(ROLE_CRYPTO, "accept4", probe_accept4, &fd);
	expect_killed(ROLE_CRYPTO, "clone3", probe_clone3, NULL);
	close(fd);
}

Test(sandbox, worker_forbidden)
{
	int fd;

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	expect_killed(ROLE_WORKER, "socket", probe_socket, NULL);
	expect_killed(ROLE_WORKER, "connect", probe_connect, &fd);
	expect_open_denied(ROLE_WORKER);
	expect_killed(ROLE_WORKER, "openat", probe_openat, NULL);
	expect_killed(ROLE_WORKER, "clone3", probe_clone3, NULL);
	close(fd);
}

/* An x32 syscall number (bit 30) is a foreign ABI: kill. */
static void
probe_x32(void *arg)
{
	(void)arg;
	syscall(0x40000000 | SYS_getpid);
}

Test(sandbox, foreign_abi_killed)
{
	expect_killed_everywhere("x32 getpid", probe_x32, NULL);
}

Test(sandbox, parent_role_has_no_filter)
{
	int st = run_probe(ROLE_PARENT, false, probe_kill, NULL, -1);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == PROBE_NOFILTER,
	    "%s", status_str(st));
}

/* ---- debug mode ----------------------------------------------------- */

static void
probe_openat_enosys(void *arg)
{
	(void)arg;
	if (syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY) != -1 ||
	    errno != ENOSYS)
		_exit(PROBE_FAILED);
	/* Still alive: a second violation is reported too. */
	if (syscall(SYS_socket, AF_INET, SOCK_STREAM, 0) != -1 ||
	    errno != ENOSYS)
		_exit(PROBE_FAILED);
}

static void
run_debug(enum proc_role role, const char *expect1, const char *expect2)
{
	char	out[4096];
	ssize_t	n;
	size_t	len = 0;
	int	p[2], st;

	cr_assert_eq(pipe(p), 0);
	st = run_probe(role, true, probe_openat_enosys, NULL, p[1]);
	close(p[1]);
	while (len < sizeof(out) - 1 &&
	    (n = read(p[0], out + len, sizeof(out) - 1 - len)) > 0)
		len += n;
	out[len] = '\0';
	close(p[0]);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s",
	    role_name(role), status_str(st));
	cr_expect_not_null(strstr(out, expect1), "stderr: %s", out);
	cr_expect_not_null(strstr(out, expect2), "stderr: %s", out);
}

Test(sandbox, debug_traps_and_reports)
{
	run_debug(ROLE_CRYPTO,
	    "keyward: sandbox: crypto blocked syscall openat (257)\n",
	    "keyward: sandbox: crypto blocked syscall socket (41)\n");
	run_debug(ROLE_WORKER,
	    "keyward: sandbox: worker blocked syscall openat (257)\n",
	    "keyward: sandbox: worker blocked syscall socket (41)\n");
}

Test(sandbox, debug_from_env)
{
	cr_assert_eq(unsetenv("KEYWARD_SANDBOX_DEBUG"), 0);
	cr_expect_eq(sandbox_debug_from_env(), 0);
	cr_assert_eq(setenv("KEYWARD_SANDBOX_DEBUG", "1", 1), 0);
	cr_expect_eq(sandbox_debug_from_env(), 1);
	cr_assert_eq(setenv("KEYWARD_SANDBOX_DEBUG", "0", 1), 0);
	cr_expect_eq(sandbox_debug_from_env(), 0);
	cr_assert_eq(setenv("KEYWARD_SANDBOX_DEBUG", "yes", 1), 0);
	cr_expect_eq(sandbox_debug_from_env(), 0);
	unsetenv("KEYWARD_SANDBOX_DEBUG");
}
