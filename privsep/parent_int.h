/*
 * Inside the parent: its one context struct (ps) and what its files share.
 * parent.c is the process (the peer table, signals, start-up); the other
 * parent_*.c files each do one job for it.
 */
#ifndef KEYWARD_PARENT_INT_H
#define KEYWARD_PARENT_INT_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/ev.h"
#include "common/peer.h"
#include "privsep/devpki.h"
#include "privsep/files.h"
#include "privsep/server_flags.h"

#define MAX_WORKERS		256
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define STABLE_MS		10000	/* a child up this long resets backoff */
#ifdef KEYWARD_VALGRIND
/* make VG=1: children run 50-100 times slower under callgrind. */
#define START_TIMEOUT_MS	300000
#define STOP_TIMEOUT_MS		120000
#else
#define START_TIMEOUT_MS	15000
#define STOP_TIMEOUT_MS		10000
#endif

enum child_state {
	CHILD_DOWN = 0,
	CHILD_STARTING,		/* forked; waiting for HELLO */
	CHILD_CONFIGURED,	/* CONFIG sent; waiting for READY */
	CHILD_READY,
};

struct child {
	enum proc_role		 role;
	uint32_t		 index;
	pid_t			 pid;
	enum child_state	 state;
	struct peer		 ctl;
	uint64_t		 spawned;	/* ev_now() */
	unsigned int		 failures;
	struct ev_timer		 timer;		/* restart or start timeout */
	unsigned int		 cf_gen;	/* configuration it was sent */
	bool			 subs[2];	/* worker: log subscribers */
	bool			 shut;		/* told to shut down: its
						 * channel closing is expected */
	/* crypto: had the store's answer and its `keys:` once */
	bool			 started;
	/* crypto: the RELOAD it has not answered yet (0: none) */
	uint32_t		 reload_id;
};

struct parent_state {
	struct config		*cf;
	struct tls_files	 tls;
	struct child		*crypto;	/* server.crypto of them */
	unsigned int		 ncrypto;
	struct child		 agent;
	struct child		*workers;
	unsigned int		 nworkers;
	int			 listen_fd;
	char			 exe[PATH_MAX];
	uint64_t		 started_ns;
	bool			 root;
	uid_t			 child_uid;	/* server.user, when root */
	gid_t			 child_gid;
	bool			 started;	/* every crypto process had
						 * the store's answer and
						 * `keys:` */
	bool			 serving;	/* every child was ready once
						 * after that */
	bool			 stopping;
	bool			 sandbox_debug;
	bool			 foreground;
	int			 sigfd;
	struct ev_io		 sigio;
	struct ev_timer		 stop_timer;
	uint32_t		 reload_seq;
	unsigned int		 cf_gen;	/* bumped by every reload */
	/* A reload reaches the workers only once every crypto process
	 * holds the new TLS key (parent_reload.c; child.reload_id):
	 * whether the workers wait. */
	bool			 workers_held;
	struct devpki		 dev;
	bool			 is_dev;
	int			 metrics_fd;	/* the workers' shared counters */
	bool			 log_on[2];	/* some worker subscribes */
	struct server_flags	 flags;		/* the command line */
};

extern struct parent_state ps;

/* parent.c: the process: signals, start-up, main */
const char	*child_name(const struct child *c);
void	children_foreach(void (*fn)(struct child *));
/* MSG_HELLO, MSG_READY, MSG_RELOAD_DONE, MSG_LOG_EVENT,
 * MSG_LOG_SUBSCRIBE from any child; MSG_CRYPTO_STATE from crypto. */
extern const struct peer_dispatch child_dispatch[];

/* parent_slices.c: each child's slice of the configuration */
bool	any_skip_auth(const struct config *cf);
int	put_config(struct buf *b, const struct child *c);

/* parent_children.c: spawn, wire, supervise, reap, stop */
int	child_hello(struct peer *p, struct ipc_msg *m);
int	child_ready(struct peer *p, struct ipc_msg *m);
int	child_reload_done(struct peer *p, struct ipc_msg *m);
int	child_crypto_state(struct peer *p, struct ipc_msg *m);
void	serving_status(void);
void	child_spawn(struct child *c);
void	ps_reap(void);
void	ps_begin_stop(int sig);

/* parent_logs.c: the hub of the /v1/log/ streams */
void	send_log_on(struct child *c, unsigned int stream);
void	log_subs_changed(unsigned int stream);
int	child_log_event(struct peer *p, struct ipc_msg *m);
int	child_log_subscribe(struct peer *p, struct ipc_msg *m);
void	parent_log_hook(const char *line);

/* parent_reload.c: SIGHUP */
void	send_reload(struct child *c);
/* The crypto process holds the running configuration (it answered its
 * RELOAD, or started with it): the workers get theirs now. */
/* Workers held by a reload get it once no crypto process owes an
 * answer. */
void	reload_workers_check(void);
int	check_tls(const struct config *cf, struct tls_files *t,
	    char *err, size_t errlen);
void	ps_reload(void);

#endif
