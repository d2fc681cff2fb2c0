/*
 * Dropping privileges and hardening a child process.
 *
 * Order in every child (worker, crypto, agent), after exec:
 *   1. privdrop()       while still root: user lookup, chroot, uid/gid
 *                       switch, capabilities cut to CAP_IPC_LOCK or nothing
 *   2. proc_harden()    no_new_privs, not dumpable, no core, own session,
 *                       stdin/stdout on /dev/null
 *   3. memlock_all()    crypto and agent (needs the CAP_IPC_LOCK kept in 1)
 *   4. library initialisation (OpenSSL, curl, ...)
 *   5. sandbox_apply()  (common/sandbox.h), last
 * proc_harden() also works before privdrop(); nothing in privdrop() depends
 * on it.
 */
#ifndef KEYWARD_PRIVDROP_H
#define KEYWARD_PRIVDROP_H

#include <stdbool.h>
#include <stddef.h>

struct drop_opts {
	const char	*user;		/* unprivileged user to become */
	const char	*chroot_dir;	/* empty root-owned dir; NULL: none */
	bool		 keep_ipc_lock;	/* keep CAP_IPC_LOCK for mlockall */
};

/*
 * As root: become opts->user (chrooted into opts->chroot_dir) and keep at
 * most CAP_IPC_LOCK, then prove root cannot be regained. Not as root (the
 * setcap deployment): no user switch and no chroot; capabilities are cut
 * to CAP_IPC_LOCK (if asked for and held) or nothing. Dies on any failure.
 */
void		 privdrop(const struct drop_opts *);
/*
 * Whether this process may chroot (CAP_SYS_CHROOT permitted). keyward.service
 * gives none: the chroot is then skipped and Landlock fences the children
 * (common/landlock.h); proc_run() refuses to go on with neither.
 */
bool		 privdrop_can_chroot(void);
/* After privdrop(): whether it entered opts->chroot_dir, and whether it
 * dropped from root. */
bool		 privdrop_chrooted(void);
bool		 privdrop_was_root(void);

/*
 * PR_SET_NO_NEW_PRIVS, PR_SET_DUMPABLE 0, RLIMIT_CORE 0, setsid(), and
 * stdin/stdout to /dev/null unless foreground (stderr is the log stream).
 * Dies on any failure.
 */
void		 proc_harden(bool foreground);

/*
 * The confinement every child applies after it has its configuration:
 * privdrop() (chrooted if asked and opts->chroot is set), proc_harden(),
 * and mlockall() when opts->mlock and memlock is asked for. Dies on any
 * failure, with a message that says how to fix a failed mlockall().
 */
struct proc_opts;
void		 proc_confine(const struct proc_opts *, bool chroot,
		    bool memlock);

/* mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT): 0, or -1 with errno
 * set. */
int		 memlock_all(void);
/* One sentence for the operator on how to make memlock_all() work. */
const char	*memlock_help(void);

/* Keep the pages around [p, p + len) out of core dumps (key pages). */
void		 mem_dontdump(void *p, size_t len);

#endif
