/* epoll loop with a short list of timers (each process has few). */
#include <sys/epoll.h>

#include <errno.h>
#include <stddef.h>
#include <time.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/log.h"

#define EV_BATCH	64

static struct {
	int			 epfd;
	struct ev_timer		*timers;
	struct ev_defer		*deferred;
	/* The batch being dispatched, so that ev_del can drop the events
	 * still waiting in it for an io that is going away. */
	struct epoll_event	*batch;
	int			 batch_next, batch_n;
} ev = { .epfd = -1 };

void
ev_init(void)
{
	if ((ev.epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	ev.timers = NULL;
}

void
ev_defer_init(struct ev_defer *d, ev_defer_cb cb, void *arg)
{
	d->next = NULL;
	d->queued = false;
	d->cb = cb;
	d->arg = arg;
}

void
ev_defer(struct ev_defer *d)
{
	if (d->queued)
		return;
	d->queued = true;
	d->next = ev.deferred;
	ev.deferred = d;
}

void
ev_defer_cancel(struct ev_defer *d)
{
	struct ev_defer **pp;

	if (!d->queued)
		return;
	for (pp = &ev.deferred; *pp != NULL; pp = &(*pp)->next)
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	d->queued = false;
	d->next = NULL;
}

/* A callback may queue or cancel others: take one at a time. */
static void
run_deferred(void)
{
	struct ev_defer *d;

	while ((d = ev.deferred) != NULL) {
		ev.deferred = d->next;
		d->next = NULL;
		d->queued = false;
		d->cb(d);
	}
}

uint64_t
ev_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
ev_add(struct ev_io *io, int fd, uint32_t events, ev_io_cb cb, void *arg)
{
	struct epoll_event e = { .events = events, .data.ptr = io };

	io->fd = fd;
	io->events = events;
	io->cb = cb;
	io->arg = arg;
	return epoll_ctl(ev.epfd, EPOLL_CTL_ADD, fd, &e);
}

int
ev_mod(struct ev_io *io, uint32_t events)
{
	struct epoll_event e = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	io->events = events;
	return epoll_ctl(ev.epfd, EPOLL_CTL_MOD, io->fd, &e);
}

void
ev_del(struct ev_io *io)
{
	int i;

	if (io->fd != -1)
		(void)epoll_ctl(ev.epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->fd = -1;
	/*
	 * Its owner may free it as soon as this returns (a connection
	 * closed by a crypto reply earlier in the batch): an event for it
	 * later in the batch must not reach the freed memory.
	 */
	for (i = ev.batch_next; i < ev.batch_n; i++)
		if (ev.batch[i].data.ptr == io)
			ev.batch[i].data.ptr = NULL;
}

void
ev_timer_set(struct ev_timer *t, uint64_t after_ms, ev_timer_cb cb,
    void *arg)
{
	ev_timer_cancel(t);
	t->when = ev_now() + after_ms;
	t->cb = cb;
	t->arg = arg;
	t->armed = true;
	t->next = ev.timers;
	ev.timers = t;
}

void
ev_timer_cancel(struct ev_timer *t)
{
	struct ev_timer **pp;

	if (!t->armed)
		return;
	for (pp = &ev.timers; *pp != NULL; pp = &(*pp)->next)
		if (*pp == t) {
			*pp = t->next;
			break;
		}
	t->armed = false;
	t->next = NULL;
}

static void
run_timers(void)
{
	struct ev_timer	*t;
	uint64_t	 now = ev_now();
	bool		 fired;

	/* A callback may re-arm or cancel timers: rescan after each one. */
	do {
		fired = false;
		for (t = ev.timers; t != NULL; t = t->next)
			if (t->when <= now) {
				ev_timer_cancel(t);
				t->cb(t);
				fired = true;
				break;
			}
	} while (fired);
}

void
ev_once(int max_ms)
{
	struct epoll_event	 evs[EV_BATCH];
	struct ev_timer		*t;
	struct ev_io		*io;
	uint64_t		 now;
	int			 n, i, timeout = max_ms;

	run_deferred();
	now = ev_now();
	for (t = ev.timers; t != NULL; t = t->next) {
		int left = t->when <= now ? 0 : (int)(t->when - now);
		if (timeout < 0 || left < timeout)
			timeout = left;
	}
	n = epoll_wait(ev.epfd, evs, EV_BATCH, timeout);
	if (n == -1 && errno != EINTR)
		fatal("epoll_wait");
	ev.batch = evs;
	ev.batch_n = n > 0 ? n : 0;
	for (i = 0; i < n; i++) {
		ev.batch_next = i + 1;
		if ((io = evs[i].data.ptr) != NULL && io->fd != -1)
			io->cb(io, evs[i].events);
	}
	ev.batch = NULL;
	ev.batch_n = ev.batch_next = 0;
	run_timers();
}
