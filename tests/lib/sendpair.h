/*
 * A send path under test, in-process: the sender's peer on one end of a
 * real socketpair, the receiver's end a plain channel the test reads, and
 * the last line the sender logged kept, so a test can say both what the
 * sender reported and what, if anything, reached the receiver.
 *
 * Functions return 0 on success and -1 on failure; they never abort the
 * test, so the caller's assertion says what was expected.
 */
#ifndef KEYWARD_SENDPAIR_H
#define KEYWARD_SENDPAIR_H

#include "common/ipc.h"
#include "common/msg.h"
#include "common/peer.h"

struct sendpair {
	struct ipc_chan	 rx;		/* the receiver's end */
	int		 lost;		/* times the sender's peer was lost */
	char		 last_line[2048];	/* "" until a line is logged */
};

/* Open p as the sender's peer of role (index 0, accepting nothing) and
 * keep the log lines up to INFO from now on; ev_init() first. */
int	sendpair_open(struct sendpair *, struct peer *p, enum proc_role);
/* Close both ends and stop keeping log lines. */
void	sendpair_close(struct sendpair *, struct peer *p);
/* End the sender's loop turn (its queued frames go out), then: 1 when
 * bytes wait in the receiver's socket, 0 when none do, -1 on error or
 * end of file. */
int	sendpair_received(struct sendpair *);

#endif
