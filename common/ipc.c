/* Framed IPC: parse, queue and batch frames; pass descriptors. */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/ipc.h"
#include "common/msg.h"

#define IPC_READ_CHUNK	(64 * 1024)

void
ipc_init(struct ipc_chan *c, int fd, size_t maxframe, bool fdpass)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	c->maxframe = maxframe;
	c->fdpass = fdpass;
	/* Input never holds more than one frame plus one read chunk. */
	buf_init(&c->in, IPC_HDR_LEN + maxframe + IPC_READ_CHUNK);
	/* Output may queue many frames while the peer is slow. */
	buf_init(&c->out, 4 * (IPC_HDR_LEN + maxframe));
}

void
ipc_close(struct ipc_chan *c)
{
	size_t i;

	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	for (i = 0; i < c->nrfds; i++)
		close(c->rfds[i]);
	for (i = 0; i < c->nwfds; i++)
		close(c->wfds[i].fd);
	c->nrfds = c->nwfds = 0;
	buf_release(&c->in);
	buf_release(&c->out);
}

bool
ipc_type_has_fd(uint16_t type)
{
	return type == MSG_PEER;
}

int
ipc_parse_hdr(const uint8_t *p, size_t avail, size_t maxframe,
    struct ipc_hdr *h, const char **why)
{
	if (avail < IPC_HDR_LEN)
		return 0;
	h->len = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	h->type = (uint16_t)p[4] << 8 | p[5];
	h->version = (uint16_t)p[6] << 8 | p[7];
	h->id = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
	    (uint32_t)p[10] << 8 | p[11];
	if (h->version != IPC_PROTO_VERSION) {
		*why = "protocol version mismatch";
		return -1;
	}
	if (h->len > maxframe) {
		*why = "frame exceeds the channel maximum";
		return -1;
	}
	if (h->type == MSG_NONE || h->type >= MSG_TYPE_MAX) {
		*why = "unknown message type";
		return -1;
	}
	return 1;
}

static int
recv_fds(struct ipc_chan *c, struct msghdr *mh)
{
	struct cmsghdr	*cm;
	int		*fds, bad = 0;
	size_t		 n, i;

	for (cm = CMSG_FIRSTHDR(mh); cm != NULL; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET ||
		    cm->cmsg_type != SCM_RIGHTS)
			continue;
		fds = (int *)CMSG_DATA(cm);
		n = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			if (!c->fdpass || c->nrfds == IPC_MAXFDS) {
				close(fds[i]);
				bad = 1;
				continue;
			}
			c->rfds[c->nrfds++] = fds[i];
		}
	}
	if (mh->msg_flags & MSG_CTRUNC)
		bad = 1;
	if (bad) {
		c->error = "unexpected or too many descriptors";
		errno = EPROTO;
	}
	return bad ? -1 : 0;
}

ssize_t
ipc_read(struct ipc_chan *c)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * IPC_MAXFDS)];
	} cmsgbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	uint8_t		*w;
	size_t		 room;
	ssize_t		 n, total = 0;

	buf_compact(&c->in);
	for (;;) {
		room = c->in.max - c->in.len;
		if (room > IPC_READ_CHUNK)
			room = IPC_READ_CHUNK;
		if (room == 0) {
			/* Full: ipc_get must consume a frame first. */
			if (total > 0)
				return total;
			errno = EAGAIN;
			return -1;
		}
		if ((w = buf_reserve(&c->in, room)) == NULL) {
			c->error = "input buffer full";
			return -1;
		}
		iov.iov_base = w;
		iov.iov_len = room;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (c->fdpass) {
			mh.msg_control = cmsgbuf.buf;
			mh.msg_controllen = sizeof(cmsgbuf.buf);
		}
		n = recvmsg(c->fd, &mh, MSG_CMSG_CLOEXEC);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN && total > 0)
				return total;
			c->error = errno == EAGAIN ? NULL : strerror(errno);
			return -1;
		}
		if (c->fdpass && recv_fds(c, &mh) == -1)
			return -1;
		if (!c->fdpass && (mh.msg_flags & MSG_CTRUNC)) {
			/* The kernel has closed them; the peer is broken. */
			c->error = "descriptor on a channel without fdpass";
			errno = EPROTO;
			return -1;
		}
		if (n == 0) {
			c->eof = true;
			return total;
		}
		c->in.len += n;
		total += n;
		if ((size_t)n < room)
			return total;
	}
	return total;
}

int
ipc_get(struct ipc_chan *c, struct ipc_msg *m)
{
	const uint8_t	*p = buf_ptr(&c->in);
	size_t		 avail = buf_avail(&c->in);
	int		 r;

	memset(m, 0, sizeof(*m));
	m->fd = -1;
	r = ipc_parse_hdr(p, avail, c->maxframe, &m->hdr, &c->error);
	if (r <= 0)
		return r;
	if (avail - IPC_HDR_LEN < m->hdr.len)
		return 0;
	if (ipc_type_has_fd(m->hdr.type)) {
		if (!c->fdpass || c->nrfds == 0) {
			c->error = "message without its descriptor";
			return -1;
		}
		m->fd = c->rfds[0];
		memmove(c->rfds, c->rfds + 1, --c->nrfds * sizeof(int));
	}
	buf_view(&m->payload, p + IPC_HDR_LEN, m->hdr.len);
	c->in.off += IPC_HDR_LEN + m->hdr.len;
	return 1;
}

static int
put_frame(struct ipc_chan *c, uint16_t type, uint32_t id, const void *p,
    size_t len)
{
	size_t save, i;

	if (len > c->maxframe) {
		c->error = "frame exceeds the channel maximum";
		return -1;
	}
	/* Reclaim what ipc_flush already sent. */
	if (c->out.off > 0) {
		for (i = 0; i < c->nwfds; i++)
			c->wfds[i].off -= c->out.off;
		buf_compact(&c->out);
	}
	save = c->out.len;
	/* Room for the whole frame first (one growth); a put that fails all
	 * the same takes back the ones before it: never a partial frame. */
	if (buf_reserve(&c->out, IPC_HDR_LEN + len) == NULL ||
	    buf_put_u32(&c->out, len) == -1 ||
	    buf_put_u16(&c->out, type) == -1 ||
	    buf_put_u16(&c->out, IPC_PROTO_VERSION) == -1 ||
	    buf_put_u32(&c->out, id) == -1 ||
	    buf_put(&c->out, p, len) == -1) {
		buf_truncate(&c->out, save);
		c->error = "output queue full";
		return -1;
	}
	return 0;
}

int
ipc_put(struct ipc_chan *c, uint16_t type, uint32_t id, const void *p,
    size_t len)
{
	if (ipc_type_has_fd(type)) {
		c->error = "message type needs a descriptor";
		return -1;
	}
	return put_frame(c, type, id, p, len);
}

int
ipc_put_buf(struct ipc_chan *c, uint16_t type, uint32_t id,
    const struct buf *b)
{
	if (b->failed) {
		c->error = "the frame was not built: a field did not fit";
		return -1;
	}
	return ipc_put(c, type, id, buf_ptr(b), buf_avail(b));
}

int
ipc_put_fd(struct ipc_chan *c, uint16_t type, uint32_t id, const void *p,
    size_t len, int fd)
{
	int	dfd;

	if (!c->fdpass || !ipc_type_has_fd(type) || c->nwfds == IPC_MAXFDS) {
		c->error = "cannot pass a descriptor here";
		return -1;
	}
	if ((dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) == -1) {
		c->error = strerror(errno);
		return -1;
	}
	if (put_frame(c, type, id, p, len) == -1) {
		close(dfd);
		return -1;
	}
	/* put_frame may have compacted the queue: the frame is its tail. */
	c->wfds[c->nwfds].off = c->out.len - (IPC_HDR_LEN + len);
	c->wfds[c->nwfds].fd = dfd;
	c->nwfds++;
	return 0;
}

bool
ipc_pending(const struct ipc_chan *c)
{
	return buf_avail(&c->out) > 0;
}

int
ipc_flush(struct ipc_chan *c)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int))];
	} cmsgbuf;
	struct msghdr	 mh;
	struct iovec	 iov;
	size_t		 len;
	ssize_t		 n;
	bool		 withfd;

	while (buf_avail(&c->out) > 0) {
		len = buf_avail(&c->out);
		withfd = false;
		if (c->nwfds > 0) {
			/*
			 * A descriptor travels with its frame's first byte, and
			 * one sendmsg never reaches into the next descriptor's
			 * frame: the receiver's kernel stops a read after a
			 * message that carries descriptors.
			 */
			if (c->wfds[0].off == c->out.off) {
				withfd = true;
				if (c->nwfds > 1 &&
				    c->wfds[1].off - c->out.off < len)
					len = c->wfds[1].off - c->out.off;
			} else if (c->wfds[0].off - c->out.off < len)
				len = c->wfds[0].off - c->out.off;
		}
		iov.iov_base = (void *)buf_ptr(&c->out);
		iov.iov_len = len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (withfd) {
			memset(&cmsgbuf, 0, sizeof(cmsgbuf));
			mh.msg_control = cmsgbuf.buf;
			mh.msg_controllen = sizeof(cmsgbuf.buf);
			CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
			CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
			CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
			memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &c->wfds[0].fd,
			    sizeof(int));
		}
		n = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return 1;
			c->error = strerror(errno);
			return -1;
		}
		if (withfd) {
			close(c->wfds[0].fd);
			memmove(c->wfds, c->wfds + 1,
			    --c->nwfds * sizeof(c->wfds[0]));
		}
		c->out.off += n;
	}
	buf_reset(&c->out);
	return 0;
}

static int
wait_fd(int fd, short ev, int timeout_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = ev };
	int		r;

	do {
		r = poll(&pfd, 1, timeout_ms);
	} while (r == -1 && errno == EINTR);
	if (r == 0)
		errno = ETIMEDOUT;
	return r == 1 ? 0 : -1;
}

int
ipc_flush_wait(struct ipc_chan *c, int timeout_ms)
{
	int r;

	while ((r = ipc_flush(c)) == 1)
		if (wait_fd(c->fd, POLLOUT, timeout_ms) == -1) {
			c->error = "timed out writing";
			return -1;
		}
	return r;
}

int
ipc_get_wait(struct ipc_chan *c, struct ipc_msg *m, int timeout_ms)
{
	ssize_t	n;
	int	r;

	for (;;) {
		if ((r = ipc_get(c, m)) != 0)
			return r;
		if (c->eof) {
			c->error = "end of file";
			return -1;
		}
		if (wait_fd(c->fd, POLLIN, timeout_ms) == -1) {
			c->error = "timed out reading";
			return -1;
		}
		n = ipc_read(c);
		if (n == -1 && errno != EAGAIN)
			return -1;
	}
}
