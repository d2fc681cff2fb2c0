/*
 * Framed, versioned, typed IPC over non-blocking AF_UNIX stream sockets.
 *
 * Frame: a 12-byte header then the payload.
 *   u32 payload length | u16 type | u16 protocol version | u32 request id
 * (big-endian). The length is checked against the channel's maximum as soon
 * as the header is in, before anything is allocated for the payload; a wrong
 * version or an oversized frame is a protocol error and the channel is
 * dropped by its owner. Reads take everything available; writes send every
 * queued frame with as few syscalls as the kernel allows.
 *
 * Descriptor passing (parent -> child only) is switched on per channel: a
 * frame queued with ipc_put_fd() carries exactly one descriptor, sent with
 * the frame's first byte; the receiver queues descriptors in arrival order
 * and ipc_get() attaches one to each frame of a type that expects one.
 */
#ifndef KEYWARD_IPC_H
#define KEYWARD_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"

#define IPC_HDR_LEN	12
#define IPC_MAXFDS	8	/* queued received descriptors per channel */

struct ipc_hdr {
	uint32_t	len;
	uint16_t	type;
	uint16_t	version;
	uint32_t	id;
};

struct ipc_msg {
	struct ipc_hdr	hdr;
	struct buf	payload;	/* view into the channel's input */
	int		fd;		/* passed descriptor or -1 */
};

struct ipc_outfd {
	size_t	off;		/* offset in out where its frame starts */
	int	fd;
};

struct ipc_chan {
	int		 fd;
	size_t		 maxframe;
	bool		 fdpass;
	bool		 eof;
	struct buf	 in;
	struct buf	 out;
	int		 rfds[IPC_MAXFDS];	/* received, not yet taken */
	size_t		 nrfds;
	struct ipc_outfd wfds[IPC_MAXFDS];	/* to send with out */
	size_t		 nwfds;
	const char	*error;			/* why the last call failed */
};

void	ipc_init(struct ipc_chan *, int fd, size_t maxframe, bool fdpass);
/* Close the socket and every queued descriptor; wipe the buffers. */
void	ipc_close(struct ipc_chan *);

/* 1: a complete, valid header in p; 0: need more bytes; -1: invalid. */
int	ipc_parse_hdr(const uint8_t *p, size_t avail, size_t maxframe,
	    struct ipc_hdr *, const char **why);
/* Whether a message type carries a descriptor. */
bool	ipc_type_has_fd(uint16_t type);

/*
 * Read everything available. Returns the number of bytes read (> 0),
 * 0 at end of file, -1 with errno EAGAIN when nothing was there, or -1 on
 * error (chan->error says why). Invalidates payload views of earlier frames.
 */
ssize_t	ipc_read(struct ipc_chan *);
/* 1: *msg is the next frame; 0: no complete frame; -1: protocol error. */
int	ipc_get(struct ipc_chan *, struct ipc_msg *);

/* Queue a frame; -1 if it exceeds the channel's maximum. */
int	ipc_put(struct ipc_chan *, uint16_t type, uint32_t id,
	    const void *payload, size_t len);
int	ipc_put_buf(struct ipc_chan *, uint16_t type, uint32_t id,
	    const struct buf *);
/* Queue a frame that carries fd (dup'ed; the caller keeps its copy). */
int	ipc_put_fd(struct ipc_chan *, uint16_t type, uint32_t id,
	    const void *payload, size_t len, int fd);
/* Write queued frames: 0 all written, 1 more pending, -1 error. */
int	ipc_flush(struct ipc_chan *);
bool	ipc_pending(const struct ipc_chan *);

/* Blocking helpers for the start-up handshake (timeout in ms). */
int	ipc_flush_wait(struct ipc_chan *, int timeout_ms);
int	ipc_get_wait(struct ipc_chan *, struct ipc_msg *, int timeout_ms);

#endif
