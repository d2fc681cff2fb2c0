/*
 * common/landlock.c: a fenced process opens no file, connects and binds no
 * TCP socket, and signals no process outside its fence, while what it had
 * open before keeps working. Each case runs in a child (the fence cannot be
 * lifted).
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/landlock.h"

/* Exit codes of the fenced child: which expectation failed. */
enum {
	OK = 0, E_NNP, E_FENCE, E_OPEN_RD, E_OPEN_WR, E_CREATE, E_OLD_FD,
	E_EXEC, E_CONNECT, E_BIND, E_SIGNAL, E_SELF_SIGNAL
};

static int
fenced_child(int old_fd, const struct sockaddr_in *listening, int abi)
{
	struct sockaddr_in	 any;
	char			 c;
	int			 s;
	char *const		 argv[] = { "true", NULL };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1)
		return E_NNP;
	if (landlock_fence() != abi)
		return E_FENCE;
	if (open("/etc/passwd", O_RDONLY) != -1 || errno != EACCES)
		return E_OPEN_RD;
	if (open("/dev/null", O_WRONLY) != -1 || errno != EACCES)
		return E_OPEN_WR;
	if (open("/tmp/keyward-landlock-test", O_WRONLY | O_CREAT, 0600) !=
	    -1 || errno != EACCES)
		return E_CREATE;
	if (lseek(old_fd, 0, SEEK_SET) != 0 || read(old_fd, &c, 1) != 1)
		return E_OLD_FD;
	execv("/bin/true", argv);
	if (errno != EACCES)
		return E_EXEC;
	if (abi >= 4) {
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return E_CONNECT;
		if (connect(s, (const struct sockaddr *)listening,
		    sizeof(*listening)) != -1 || errno != EACCES)
			return E_CONNECT;
		close(s);
		if ((s = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return E_BIND;
		memset(&any, 0, sizeof(any));
		any.sin_family = AF_INET;
		any.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		any.sin_port = htons(1 + (uint16_t)(getpid() % 60000));
		if (bind(s, (const struct sockaddr *)&any, sizeof(any)) != -1 ||
		    errno != EACCES)
			return E_BIND;
		close(s);
	}
	if (abi >= 6 && (kill(getppid(), 0) != -1 || errno != EPERM))
		return E_SIGNAL;
	if (kill(getpid(), 0) == -1)
		return E_SELF_SIGNAL;
	return OK;
}

Test(landlock, fence)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof(sin);
	int			 abi, fd, ls, status;
	pid_t			 pid;

	if ((abi = landlock_abi()) == 0)
		cr_skip_test("the kernel has no Landlock (or it is off)");
	cr_assert_neq(fd = open("/etc/passwd", O_RDONLY), -1);
	/* A listener the fenced child must not reach. */
	cr_assert_neq(ls = socket(AF_INET, SOCK_STREAM, 0), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(ls, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(listen(ls, 1), 0);
	cr_assert_eq(getsockname(ls, (struct sockaddr *)&sin, &len), 0);

	fflush(NULL);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0)
		_exit(fenced_child(fd, &sin, abi));
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), OK, "the fenced child failed "
	    "check %d (Landlock ABI %d)", WEXITSTATUS(status), abi);
	/* Unfenced, the same calls work: the checks can fail. */
	cr_assert_neq(open("/etc/passwd", O_RDONLY), -1);
	close(fd);
	close(ls);
}

/* Without no_new_privs (and without CAP_SYS_ADMIN) the kernel refuses. */
Test(landlock, needs_no_new_privs)
{
	int	status;
	pid_t	pid;

	if (landlock_abi() == 0)
		cr_skip_test("the kernel has no Landlock (or it is off)");
	if (geteuid() == 0)
		cr_skip_test("root has CAP_SYS_ADMIN, which needs no "
		    "no_new_privs");
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0)
		_exit(landlock_fence() == -1 && errno == EPERM ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}
