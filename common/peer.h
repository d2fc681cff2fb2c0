/*
 * One IPC peer of a process: a channel, its epoll registration and the
 * dispatch table of message types accepted from that peer. Reading,
 * batching, dispatch and the "unknown type is a protocol error" rule live
 * here once; each process supplies tables and a callback for a lost peer.
 */
#ifndef KEYWARD_PEER_H
#define KEYWARD_PEER_H

#include <stdbool.h>
#include <stdint.h>

#include "common/ev.h"
#include "common/ipc.h"
#include "common/msg.h"

struct peer;

/* Returns 0, or -1 for a protocol error (the channel is then lost). A
 * handler that keeps m->fd sets it to -1; otherwise it is closed. */
typedef int (*peer_handler)(struct peer *, struct ipc_msg *);

struct peer_dispatch {
	uint16_t	type;
	peer_handler	fn;
};

/* why: NULL at a clean end of file, else the reason. The callback must
 * peer_close() the peer (and may free it). */
typedef void (*peer_lost_fn)(struct peer *, const char *why);

struct peer {
	struct ipc_chan			 ch;
	struct ev_io			 io;
	enum proc_role			 role;
	uint32_t			 index;
	const struct peer_dispatch	*dispatch;
	peer_lost_fn			 lost;
	void				*arg;
	bool				 open;
	struct ev_defer			 flush;	/* end-of-turn write */
};

void	peer_open(struct peer *, int fd, size_t maxframe, bool fdpass,
	    enum proc_role, uint32_t index, const struct peer_dispatch *,
	    peer_lost_fn, void *arg);
/* The same for a channel already set up in p->ch (the handshake's). */
void	peer_adopt(struct peer *, enum proc_role, uint32_t index,
	    const struct peer_dispatch *, peer_lost_fn, void *arg);
void	peer_close(struct peer *);
/* Queue a frame (b may be NULL for an empty payload); the frames queued
 * during one loop turn go out together when it ends (EPOLLOUT is armed
 * only if the socket cannot take them all). */
int	peer_send(struct peer *, uint16_t type, uint32_t id,
	    const struct buf *);
/* The same with a descriptor (dup'ed; the caller keeps its copy). */
int	peer_send_fd(struct peer *, uint16_t type, uint32_t id,
	    const struct buf *, int fd);
/* The answer to request id: when b could not be built (peer_send logs
 * which), MSG_ERROR 500 goes out instead and the asker is not left to
 * time out. -1 whenever b did not go out. */
int	peer_reply(struct peer *, uint16_t type, uint32_t id,
	    const struct buf *);
/* MSG_ERROR: u16 http status, str message. */
void	peer_send_error(struct peer *, uint32_t id, uint16_t status,
	    const char *msg);
/* Handle frames already buffered (e.g. read during the handshake). */
void	peer_poll(struct peer *);
/* Writes pending output before a process exits. */
void	peer_flush_wait(struct peer *, int timeout_ms);

#endif
