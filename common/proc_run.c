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
