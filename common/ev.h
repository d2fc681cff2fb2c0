/*
 * A minimal epoll event loop with millisecond timers, one per process.
 * Handlers are registered with a struct ev_io embedded in the owner's
 * state, so no lookup table is needed.
 */
#ifndef KEYWARD_EV_H
#define KEYWARD_EV_H

#include <stdbool.h>
#include <stdint.h>

struct ev_io;
typedef void (*ev_io_cb)(struct ev_io *, uint32_t events);

struct ev_io {
	int		 fd;
	uint32_t	 events;
	ev_io_cb	 cb;
	void		*arg;
};

struct ev_timer;
typedef void (*ev_timer_cb)(struct ev_timer *);

struct ev_timer {
	uint64_t	 when;		/* ev_now() deadline */
	bool		 armed;
	ev_timer_cb	 cb;
	void		*arg;
	struct ev_timer	*next;
};

/*
 * Work deferred to the end of the current loop turn (before the next
 * wait): IPC frames queued by many handlers go out in one write.
 */
struct ev_defer;
typedef void (*ev_defer_cb)(struct ev_defer *);

struct ev_defer {
	struct ev_defer	*next;
	bool		 queued;
	ev_defer_cb	 cb;
	void		*arg;
};

void	 ev_init(void);
uint64_t ev_now(void);			/* monotonic ms */
int	 ev_add(struct ev_io *, int fd, uint32_t events, ev_io_cb, void *);
int	 ev_mod(struct ev_io *, uint32_t events);
void	 ev_del(struct ev_io *);
void	 ev_timer_set(struct ev_timer *, uint64_t after_ms, ev_timer_cb,
	    void *);
void	 ev_timer_cancel(struct ev_timer *);
void	 ev_defer_init(struct ev_defer *, ev_defer_cb, void *);
void	 ev_defer(struct ev_defer *);		/* once per turn */
void	 ev_defer_cancel(struct ev_defer *);
/* Run one round: wait for events or the next timer (at most max_ms). */
void	 ev_once(int max_ms);

#endif
