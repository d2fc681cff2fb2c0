/* A test standing in for the parent of one real child process. */
#include <sys/socket.h>

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

#include "common/proc.h"
#include "tests/lib/fakeparent.h"
#include "tests/lib/testsrv.h"

pid_t
fakeparent_spawn(const char *role, struct ipc_chan *ctl, const char **why)
{
	char	exe[PATH_MAX];
	int	sv[2];
	pid_t	pid;

	if (tsrv_default_exe(exe, sizeof(exe)) == -1) {
		*why = "no keyward binary";
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1) {
		*why = strerror(errno);
		return -1;
	}
	if ((pid = fork()) == -1) {
		*why = strerror(errno);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		dup2(sv[1], FD_PARENT);
		close_range(FD_PARENT + 1, ~0U, 0);
		execl(exe, "keyward", role, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	ipc_init(ctl, sv[0], IPC_MAX_CONTROL, true);
	return pid;
}

int
fakeparent_configure(struct ipc_chan *ctl, const struct buf *config,
    int timeout_ms, const char **why)
{
	struct ipc_msg m;

	if (ipc_get_wait(ctl, &m, timeout_ms) != 1) {
		*why = ctl->error ? ctl->error : "no HELLO";
		return -1;
	}
	if (m.hdr.type != MSG_HELLO) {
		*why = "first frame is not HELLO";
		return -1;
	}
	if ((*why = proc_check_hello(&m.payload)) != NULL)
		return -1;
	if (ipc_put_buf(ctl, MSG_CONFIG, 0, config) == -1 ||
	    ipc_flush_wait(ctl, timeout_ms) == -1) {
		*why = ctl->error ? ctl->error : "cannot send CONFIG";
		return -1;
	}
	if (ipc_get_wait(ctl, &m, timeout_ms) != 1) {
		*why = ctl->error ? ctl->error : "no READY";
		return -1;
	}
	if (m.hdr.type != MSG_READY) {
		*why = "answer to CONFIG is not READY";
		return -1;
	}
	return 0;
}

int
fakeparent_add_peer(struct ipc_chan *ctl, enum proc_role role,
    uint32_t index, struct ipc_chan *ours, int timeout_ms, const char **why)
{
	struct buf	b;
	int		sv[2], rc = -1;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1) {
		*why = strerror(errno);
		return -1;
	}
	buf_init(&b, 16);
	if (proc_peer_put(&b, role, index) == -1 ||
	    ipc_put_fd(ctl, MSG_PEER, 0, buf_ptr(&b), buf_avail(&b),
	    sv[1]) == -1 || ipc_flush_wait(ctl, timeout_ms) == -1)
		*why = ctl->error ? ctl->error : "cannot send PEER";
	else
		rc = 0;
	buf_release(&b);
	close(sv[1]);
	if (rc == -1) {
		close(sv[0]);
		return -1;
	}
	ipc_init(ours, sv[0], IPC_MAX_PEER, false);
	return 0;
}
