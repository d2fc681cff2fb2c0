/*
 * One start-up sequence for every child (OpenIKED's proc_run): greet the
 * parent and take the configuration, prepare as root, drop and confine,
 * set up the event loop and the role's state, load the filter last, report
 * ready, and run the loop. A role says only what differs (struct
 * proc_child); the order, which the sandbox depends on, is written once.
 */
#include <stdbool.h>
#include <stddef.h>

#include "common/ev.h"
#include "common/landlock.h"
#include "common/log.h"
#include "common/privdrop.h"
#include "common/proc.h"
#include "common/sandbox.h"

/* The child this process runs; its hooks answer the parent. */
static struct proc_child *running;

int
proc_answer_reload(struct peer *p, struct ipc_msg *m)
{
	char err[256];

	if (running->reload(&m->payload, err, sizeof(err)) == -1)
		proc_reload_done(p, m->hdr.id, err);
	else
		proc_reload_done(p, m->hdr.id, NULL);
	return 0;
}

int
proc_answer_shutdown(struct peer *p, struct ipc_msg *m)
{
	if (buf_end(&m->payload) == -1)
		return -1;
	if (running->shutdown != NULL)
		running->shutdown();
	else
		running->stopping = true;
	return 0;
}

/*
 * The children that need no file once started (pc->chroot: workers,
 * crypto) are fenced from the file system by Landlock, beside the chroot
 * or, where the parent may not chroot (keyward.service), instead of it.
 * Libraries are initialised by now, so nothing opens a file after this.
 * Dropped from root with neither, the child stops: that is a unit
 * without CAP_SYS_CHROOT on a kernel without Landlock. The setcap
 * deployment never had a chroot; Landlock fences it where it can.
 */
static void
fence(const struct proc_child *pc)
{
	int	abi;

	if (!pc->chroot)
		return;
#ifdef KEYWARD_VALGRIND
	/* callgrind writes its counts at exit (see common/sandbox.c). */
	return;
#endif
	if ((abi = landlock_fence()) == -1)
		fatal("landlock");
	if (abi > 0)
		log_debug("landlock ABI %d: no file system access%s", abi,
		    privdrop_chrooted() ? " (and chrooted)" : "");
	else if (privdrop_was_root() && !privdrop_chrooted())
		fatalx("neither a chroot (no CAP_SYS_CHROOT) nor Landlock (the "
		    "kernel has none) can fence this process from the file "
		    "system; give the service CAP_SYS_CHROOT and the chroot "
		    "system call, or run a kernel with Landlock");
}

int
proc_run(struct proc_child *pc)
{
	struct proc_opts	opts;
	struct ipc_msg		m;

	running = pc;
	proc_child_start(pc->role, pc->instance, &pc->parent->ch, &m);
	if (proc_opts_get(&m.payload, &opts) == -1 ||
	    pc->configure(&m.payload) == -1)
		fatalx("malformed configuration from the parent");
	if (pc->prepare != NULL)
		pc->prepare(&opts);

	proc_confine(&opts, pc->chroot, pc->memlock);
	ev_init();
	if (pc->init != NULL)
		pc->init();
	peer_adopt(pc->parent, ROLE_PARENT, 0, pc->dispatch,
	    proc_parent_lost, NULL);
	proc_log_forward(pc->parent);

	fence(pc);
	if (sandbox_apply_more(pc->role, opts.sandbox_debug, pc->rules,
	    pc->nrules) == -1)
		fatalx("cannot load the sandbox");
	proc_opts_free(&opts);
	log_debug("sandboxed; serving");
	proc_child_ready(&pc->parent->ch);

	/* Frames that came behind CONFIG are already buffered. */
	peer_poll(pc->parent);
	while (!pc->stopping) {
		ev_once(-1);
		if (pc->turn != NULL)
			pc->turn();
	}
	log_debug("shutting down");
	return 0;
}
