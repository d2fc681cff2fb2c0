/*
 * What every child does first: take the control channel on FD_PARENT,
 * identify itself (HELLO with the protocol version and build), and wait for
 * its configuration slice. A parent and a child from different builds stop
 * here, before any other message is exchanged.
 */
#ifndef KEYWARD_PROC_H
#define KEYWARD_PROC_H

#include <stdbool.h>

#include "common/ipc.h"
#include "common/peer.h"
#include "common/msg.h"

#define PROC_HANDSHAKE_MS	10000

/*
 * How a child confines itself; the first part of every MSG_CONFIG payload
 * (the role's slice follows): str user, str chroot ("" for none),
 * u8 mlock, u8 sandbox debug, u8 foreground.
 */
struct proc_opts {
	char	*user;
	char	*chroot;
	bool	 mlock;
	bool	 sandbox_debug;
	bool	 foreground;
};

int	proc_opts_put(struct buf *, const struct proc_opts *);
int	proc_opts_get(struct buf *, struct proc_opts *);
void	proc_opts_free(struct proc_opts *);

/* Child side: log role, signals, HELLO; returns the MSG_CONFIG frame
 * (its payload is valid until the next read on the channel). */
void	proc_child_start(enum proc_role, const char *instance,
	    struct ipc_chan *parent, struct ipc_msg *config);
/* Child side: tell the parent the child is configured and sandboxed. */
void	proc_child_ready(struct ipc_chan *parent);
/* Child side: the parent channel closed (exit 0) or misbehaved (fatal). */
void	proc_parent_lost(struct peer *, const char *why);
/* MSG_PEER payload: u8 role, u32 index of the channel's other end. */
int	proc_peer_put(struct buf *, enum proc_role, uint32_t index);
int	proc_peer_get(struct buf *, enum proc_role *, uint32_t *index);
/*
 * MSG_PEER from the parent with a crypto process's channel: dst is the
 * array of ndst channels, one per crypto process, by its index. An open
 * one at that index is first lost ("replaced"), then opened on the new
 * descriptor. Returns the index, or -1 for any other PEER.
 */
int	proc_accept_crypto(struct ipc_msg *, struct peer *dst, size_t ndst,
	    const struct peer_dispatch *, peer_lost_fn);
/* Child side: MSG_RELOAD_DONE (u8 ok, str reason); why NULL means ok. */
void	proc_reload_done(struct peer *parent, uint32_t id, const char *why);
/* Send this process's log lines to the parent as error-log events
 * (MSG_LOG_EVENT) for the /v1/log/error subscribers. */
void	proc_log_forward(struct peer *parent);
/* Parent side: check a HELLO payload; NULL when fine, else the reason. */
const char *proc_check_hello(struct buf *payload);
/* The build identity both sides compare. */
const char *proc_build_id(void);

/*
 * What one child role brings to proc_run() (common/proc_run.c), which
 * runs every child the same way:
 *   proc_child_start, configure   the HELLO / CONFIG handshake
 *   prepare                       as root, before the drop: files,
 *                                 libraries that read them, TLS contexts
 *   proc_confine                  drop, harden, mlockall if memlock
 *   ev_init, init                 the role's state, timers, handles
 *   sandbox_apply_more            the role's filter plus rules, last
 *   MSG_READY, then the loop      until MSG_SHUTDOWN stops it
 * and answers the parent's MSG_RELOAD and MSG_SHUTDOWN the same way for
 * all: the role's table lists proc_answer_reload and proc_answer_shutdown,
 * which call its reload and shutdown.
 */
struct sb_rule;
struct proc_child {
	enum proc_role			 role;
	const char			*instance;	/* worker index */
	struct peer			*parent;
	const struct peer_dispatch	*dispatch;	/* parent messages */
	bool				 chroot;
	bool				 memlock;
	/* The role's slice from MSG_CONFIG (after proc_opts); -1 when it
	 * is malformed. May set rules. */
	int				(*configure)(struct buf *);
	void				(*prepare)(const struct proc_opts *);
	void				(*init)(void);
	const struct sb_rule		*rules;
	size_t				 nrules;
	void				(*turn)(void);	/* after each turn */
	/* MSG_RELOAD's slice: 0 when applied, -1 with err when not (the
	 * running configuration stays). */
	int				(*reload)(struct buf *, char *err,
					    size_t errlen);
	/* MSG_SHUTDOWN: NULL ends the loop (proc_run returns); a role
	 * that drains first (the worker) exits by itself. */
	void				(*shutdown)(void);
	bool				 stopping;
};

/* Run a child from its first message to the end of its loop; dies on any
 * failure to start. */
int	proc_run(struct proc_child *);
/* MSG_RELOAD (the role's slice) and MSG_SHUTDOWN (empty) from the
 * parent, for the child proc_run() runs. */
int	proc_answer_reload(struct peer *, struct ipc_msg *);
int	proc_answer_shutdown(struct peer *, struct ipc_msg *);

#endif
