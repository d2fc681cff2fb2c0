/* IPC peers: read everything, dispatch by table, write in batches. */
#include <sys/epoll.h>

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/peer.h"

static void
peer_arm(struct peer *p)
{
	uint32_t ev = EPOLLIN;

	/* A queued end-of-turn flush writes first; EPOLLOUT only for what
	 * the socket would not take. */
	if (ipc_pending(&p->ch) && !p->flush.queued)
		ev |= EPOLLOUT;
	if (ev_mod(&p->io, ev) == -1)
		fatal("epoll_ctl");
}

/* End of the loop turn: write what handlers queued. A failure is left to
 * the event path (EPOLLOUT), which reports the peer lost. */
static void
peer_flush_turn(struct ev_defer *d)
{
	struct peer *p = d->arg;

	if (!p->open)
		return;
	(void)ipc_flush(&p->ch);
	peer_arm(p);
}

static int
dispatch(struct peer *p, struct ipc_msg *m)
{
	const struct peer_dispatch	*d;
	int				 r = -1;

	for (d = p->dispatch; d->fn != NULL; d++)
		if (d->type == m->hdr.type)
			break;
	if (d->fn == NULL)
		p->ch.error = "message type not accepted from this peer";
	else if ((r = d->fn(p, m)) == -1 && p->ch.error == NULL)
		p->ch.error = "malformed message";
	if (m->fd != -1)
		close(m->fd);
	return r;
}

static void
peer_event(struct ev_io *io, uint32_t events)
{
	struct peer	*p = io->arg;
	struct ipc_msg	 m;
	ssize_t		 n;
	int		 r;

	p->ch.error = NULL;
	if ((events & EPOLLOUT) && ipc_flush(&p->ch) == -1) {
		p->lost(p, p->ch.error);
		return;
	}
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
		n = ipc_read(&p->ch);
		if (n == -1 && errno != EAGAIN) {
			p->lost(p, p->ch.error ? p->ch.error : "read error");
			return;
		}
		/* A handler may close other peers, never this one. */
		while ((r = ipc_get(&p->ch, &m)) == 1)
			if (dispatch(p, &m) == -1) {
				p->lost(p, p->ch.error);
				return;
			}
		if (r == -1) {
			p->lost(p, p->ch.error);
			return;
		}
		if (p->ch.eof) {
			p->lost(p, NULL);
			return;
		}
	}
	peer_arm(p);
}

void
peer_open(struct peer *p, int fd, size_t maxframe, bool fdpass,
    enum proc_role role, uint32_t index, const struct peer_dispatch *d,
    peer_lost_fn lost, void *arg)
{
	ipc_init(&p->ch, fd, maxframe, fdpass);
	peer_adopt(p, role, index, d, lost, arg);
}

void
peer_adopt(struct peer *p, enum proc_role role, uint32_t index,
    const struct peer_dispatch *d, peer_lost_fn lost, void *arg)
{
	p->role = role;
	p->index = index;
	p->dispatch = d;
	p->lost = lost;
	p->arg = arg;
	p->open = true;
	ev_defer_init(&p->flush, peer_flush_turn, p);
	if (ev_add(&p->io, p->ch.fd, EPOLLIN, peer_event, p) == -1)
		fatal("epoll_ctl");
}

void
peer_close(struct peer *p)
{
	if (!p->open)
		return;
	ev_defer_cancel(&p->flush);
	ev_del(&p->io);
	ipc_close(&p->ch);
	p->open = false;
}

/* A payload some put did not fit: reported here, at its sender, and
 * never sent cut short. */
static int
unbuilt(const struct peer *p, uint16_t type, const struct buf *b)
{
	if (b == NULL || !b->failed)
		return 0;
	log_warnx("cannot build %s for %s %u: a field did not fit its "
	    "buffer", msg_name(type), role_name(p->role), p->index);
	return 1;
}

int
peer_send(struct peer *p, uint16_t type, uint32_t id, const struct buf *b)
{
	if (unbuilt(p, type, b) || !p->open)
		return -1;
	if (ipc_put(&p->ch, type, id, b ? buf_ptr(b) : NULL,
	    b ? buf_avail(b) : 0) == -1) {
		log_warnx("cannot queue %s to %s %u: %s", msg_name(type),
		    role_name(p->role), p->index, p->ch.error);
		return -1;
	}
	ev_defer(&p->flush);
	return 0;
}

int
peer_send_fd(struct peer *p, uint16_t type, uint32_t id, const struct buf *b,
    int fd)
{
	if (unbuilt(p, type, b) || !p->open)
		return -1;
	if (ipc_put_fd(&p->ch, type, id, buf_ptr(b), buf_avail(b), fd) == -1)
		return -1;
	ev_defer(&p->flush);
	return 0;
}

int
peer_reply(struct peer *p, uint16_t type, uint32_t id, const struct buf *b)
{
	if (peer_send(p, type, id, b) == 0)
		return 0;
	if (b != NULL && b->failed)
		peer_send_error(p, id, 500, "internal error");
	return -1;
}

void
peer_send_error(struct peer *p, uint32_t id, uint16_t status,
    const char *msg)
{
	struct buf b;

	buf_init(&b, 64 + strlen(msg));
	if (buf_put_u16(&b, status) == 0 && buf_put_str(&b, msg) == 0)
		(void)peer_send(p, MSG_ERROR, id, &b);
	buf_release(&b);
}

void
peer_poll(struct peer *p)
{
	peer_event(&p->io, EPOLLIN);
}

void
peer_flush_wait(struct peer *p, int timeout_ms)
{
	if (p->open)
		(void)ipc_flush_wait(&p->ch, timeout_ms);
}
