/* A sender's peer and a receiver's raw end of one socketpair. */
#include <sys/socket.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common/ev.h"
#include "common/log.h"
#include "tests/lib/sendpair.h"

static const struct peer_dispatch nothing[] = { { 0, NULL } };

/* The log hook has no argument: the pair that keeps lines. */
static struct sendpair *keeping;

static void
keep_line(const char *line)
{
	if (keeping != NULL)
		snprintf(keeping->last_line, sizeof(keeping->last_line), "%s",
		    line);
}

static void
lost(struct peer *p, const char *why)
{
	struct sendpair *sp = p->arg;

	sp->lost++;
	peer_close(p);
}

int
sendpair_open(struct sendpair *sp, struct peer *p, enum proc_role role)
{
	int sv[2];

	memset(sp, 0, sizeof(*sp));
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		return -1;
	peer_open(p, sv[0], IPC_MAX_PEER, false, role, 0, nothing, lost, sp);
	ipc_init(&sp->rx, sv[1], IPC_MAX_PEER, false);
	keeping = sp;
	log_setlevel(LOG_LVL_INFO);
	log_set_hook(keep_line);
	return 0;
}

void
sendpair_close(struct sendpair *sp, struct peer *p)
{
	log_set_hook(NULL);
	keeping = NULL;
	peer_close(p);
	ipc_close(&sp->rx);
}

int
sendpair_received(struct sendpair *sp)
{
	ssize_t	n;
	char	c;

	ev_once(0);
	if ((n = recv(sp->rx.fd, &c, 1, MSG_PEEK | MSG_DONTWAIT)) == 1)
		return 1;
	return n == -1 && errno == EAGAIN ? 0 : -1;
}
