/*
 * Unit tests for common/ev.c's end-of-turn work and common/peer.c's use of
 * it: frames queued during a loop turn go out together when it ends, in
 * one write, and never before.
 */
#include <criterion/criterion.h>

#include <sys/epoll.h>
#include <sys/socket.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ev.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "tests/lib/sendpair.h"

static int	runs[4];
static struct ev_defer d[4];

static void
count_cb(struct ev_defer *x)
{
	runs[(struct ev_defer *)x - d]++;
}

/* Queues d[1] from inside a deferred callback. */
static void
chain_cb(struct ev_defer *x)
{
	runs[0]++;
	ev_defer(&d[1]);
}

static void
setup(void)
{
	log_init("test", LOG_LVL_OFF);
	ev_init();
	memset(runs, 0, sizeof(runs));
}

TestSuite(ev, .init = setup);

Test(ev, defer_runs_once_per_turn)
{
	ev_defer_init(&d[0], count_cb, NULL);
	ev_defer_init(&d[1], count_cb, NULL);
	ev_defer(&d[0]);
	ev_defer(&d[0]);
	ev_defer(&d[1]);
	cr_assert_eq(runs[0], 0, "ran before the turn ended");
	ev_once(0);
	cr_assert_eq(runs[0], 1, "queued twice, ran %d times", runs[0]);
	cr_assert_eq(runs[1], 1);
	ev_once(0);
	cr_assert_eq(runs[0], 1, "ran again without being queued");
	ev_defer(&d[0]);
	ev_once(0);
	cr_assert_eq(runs[0], 2, "queued again, not run");
}

Test(ev, defer_cancel)
{
	ev_defer_init(&d[0], count_cb, NULL);
	ev_defer_init(&d[1], count_cb, NULL);
	ev_defer(&d[0]);
	ev_defer(&d[1]);
	ev_defer_cancel(&d[0]);
	ev_defer_cancel(&d[0]);		/* twice is harmless */
	ev_once(0);
	cr_assert_eq(runs[0], 0, "cancelled work ran");
	cr_assert_eq(runs[1], 1, "cancelling one dropped another");
}

Test(ev, defer_from_a_callback)
{
	ev_defer_init(&d[0], chain_cb, NULL);
	ev_defer_init(&d[1], count_cb, NULL);
	ev_defer(&d[0]);
	ev_once(0);
	cr_assert_eq(runs[0], 1);
	cr_assert_eq(runs[1], 1, "work queued by deferred work waited for "
	    "another turn");
}

static int
lost_calls;

static void
lost(struct peer *p, const char *why)
{
	lost_calls++;
	peer_close(p);
}

static const struct peer_dispatch none[] = { { 0, NULL } };

Test(ev, peer_frames_leave_at_end_of_turn)
{
	struct peer	 p;
	struct ipc_chan	 other;
	struct ipc_msg	 m;
	struct buf	 b;
	uint8_t		 scratch[64];
	int		 sv[2], i;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	peer_open(&p, sv[0], IPC_MAX_PEER, false, ROLE_WORKER, 0, none, lost,
	    NULL);
	ipc_init(&other, sv[1], IPC_MAX_PEER, false);
	buf_init(&b, 64);
	buf_put_str(&b, "x");
	for (i = 0; i < 3; i++)
		cr_assert_eq(peer_send(&p, MSG_STATUS_REQ, (uint32_t)i, &b), 0);
	buf_release(&b);
	cr_assert_eq(recv(sv[1], scratch, sizeof(scratch), MSG_PEEK), -1,
	    "a frame left before the turn ended");
	cr_assert_eq(errno, EAGAIN);

	ev_once(0);
	cr_assert_gt(ipc_read(&other), 0);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(ipc_get(&other, &m), 1, "frame %d missing after "
		    "one turn and one read", i);
		cr_assert_eq(m.hdr.type, MSG_STATUS_REQ);
		cr_assert_eq(m.hdr.id, (uint32_t)i, "frames out of order");
	}
	cr_assert_eq(lost_calls, 0);

	/* Closing a peer with a flush queued cancels the flush. */
	buf_init(&b, 16);
	cr_assert_eq(peer_send(&p, MSG_STATUS_REQ, 9, &b), 0);
	buf_release(&b);
	peer_close(&p);
	ev_once(0);
	cr_assert_eq(lost_calls, 0);
	ipc_close(&other);
}

/* Two ios ready in one batch; whichever runs first deletes the other (as
 * a crypto reply closes a connection): the other's event is dropped. */
static struct ev_io	 pair_io[2];
static int		 pair_calls[2];

static void
pair_cb(struct ev_io *io, uint32_t events)
{
	int self = io == &pair_io[0] ? 0 : 1;

	pair_calls[self]++;
	ev_del(&pair_io[1 - self]);
	ev_del(io);
	/* What an owner does next: the memory is reused or freed. */
	memset(&pair_io[1 - self], 0xa5, sizeof(pair_io[0]));
}

Test(ev, del_drops_pending_events_of_the_batch)
{
	int	a[2], b[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, a),
	    0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, b),
	    0);
	cr_assert_eq(write(a[1], "x", 1), 1);
	cr_assert_eq(write(b[1], "x", 1), 1);
	cr_assert_eq(ev_add(&pair_io[0], a[0], EPOLLIN, pair_cb, NULL), 0);
	cr_assert_eq(ev_add(&pair_io[1], b[0], EPOLLIN, pair_cb, NULL), 0);
	ev_once(1000);
	cr_assert_eq(pair_calls[0] + pair_calls[1], 1, "calls %d + %d: an "
	    "event for a deleted io was dispatched", pair_calls[0],
	    pair_calls[1]);
}

/* The log lines of this process, for the test below. */
static char	last_line[512];

static void
keep_line(const char *line)
{
	snprintf(last_line, sizeof(last_line), "%s", line);
}

/*
 * A payload a put did not fit is refused where it was built: peer_send
 * fails, this process logs which message could not be built for whom, and
 * the receiver gets nothing (no truncated frame it would blame its peer
 * for). A payload reset after the failure can be sent again.
 */
Test(ev, a_frame_that_could_not_be_built_fails_at_its_sender)
{
	struct peer	 p;
	struct ipc_chan	 other;
	struct ipc_msg	 m;
	struct buf	 b;
	uint8_t		 scratch[64];
	int		 sv[2];

	log_setlevel(LOG_LVL_INFO);
	log_set_hook(keep_line);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	peer_open(&p, sv[0], IPC_MAX_PEER, false, ROLE_CRYPTO, 0, none, lost,
	    NULL);
	ipc_init(&other, sv[1], IPC_MAX_PEER, false);

	buf_init(&b, 16);
	cr_assert_eq(buf_put_str(&b, "key"), 0);
	/* The second field does not fit; the sender ignores that ... */
	buf_put_str(&b, "a name longer than sixteen bytes");
	/* ... and the send says so. */
	cr_assert_eq(peer_send(&p, MSG_KEY_INFO, 1, &b), -1);
	cr_assert(strstr(last_line, "cannot build KEY_INFO for crypto 0") !=
	    NULL, "logged: %s", last_line);
	cr_assert_eq(ipc_put_buf(&p.ch, MSG_KEY_INFO, 2, &b), -1);
	cr_assert_not_null(p.ch.error);
	ev_once(0);
	cr_assert_eq(recv(sv[1], scratch, sizeof(scratch), MSG_PEEK), -1,
	    "a frame left although it was not built");
	cr_assert_eq(errno, EAGAIN);

	buf_reset(&b);
	cr_assert_eq(buf_put_str(&b, "key"), 0);
	cr_assert_eq(peer_send(&p, MSG_KEY_INFO, 3, &b), 0);
	ev_once(0);
	cr_assert_gt(ipc_read(&other), 0);
	cr_assert_eq(ipc_get(&other, &m), 1);
	cr_assert_eq(m.hdr.id, 3);
	buf_release(&b);
	log_set_hook(NULL);
	peer_close(&p);
	ipc_close(&other);
}

/*
 * An answer that could not be built becomes MSG_ERROR 500 for the same
 * request: the asker gets an error at once instead of waiting for its
 * timeout, and never the answer cut short.
 */
Test(ev, an_answer_that_could_not_be_built_is_an_error_reply)
{
	struct sendpair	 sp;
	struct peer	 p;
	struct ipc_msg	 m;
	struct buf	 b;
	const char	*msg;
	uint16_t	 status;

	cr_assert_eq(sendpair_open(&sp, &p, ROLE_WORKER), 0);
	buf_init(&b, 8);
	buf_put_bytes(&b, "sixteen bytes...", 16);
	cr_assert(b.failed);
	cr_assert_eq(peer_reply(&p, MSG_KEY_OPENED, 7, &b), -1);
	cr_assert(strstr(sp.last_line, "cannot build KEY_OPENED for worker 0")
	    != NULL, "logged: %s", sp.last_line);
	cr_assert_eq(sendpair_received(&sp), 1);
	cr_assert_gt(ipc_read(&sp.rx), 0);
	cr_assert_eq(ipc_get(&sp.rx, &m), 1);
	cr_assert_eq(m.hdr.type, MSG_ERROR, "got %s", msg_name(m.hdr.type));
	cr_assert_eq(m.hdr.id, 7);
	cr_assert_eq(buf_get_u16(&m.payload, &status), 0);
	cr_assert_eq(status, 500);
	cr_assert_eq(buf_get_str(&m.payload, &msg, NULL), 0);
	cr_assert_str_eq(msg, "internal error");
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(ipc_get(&sp.rx, &m), 0, "more than the error reply");

	/* An answer that was built goes out as it is. */
	buf_reset(&b);
	cr_assert_eq(buf_put_bytes(&b, "ok", 2), 0);
	cr_assert_eq(peer_reply(&p, MSG_KEY_OPENED, 8, &b), 0);
	cr_assert_eq(sendpair_received(&sp), 1);
	cr_assert_gt(ipc_read(&sp.rx), 0);
	cr_assert_eq(ipc_get(&sp.rx, &m), 1);
	cr_assert_eq(m.hdr.type, MSG_KEY_OPENED);
	cr_assert_eq(m.hdr.id, 8);
	buf_release(&b);
	sendpair_close(&sp, &p);
}
