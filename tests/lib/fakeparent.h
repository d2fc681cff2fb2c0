/*
 * An end-to-end test acting as the parent of one real child process
 * (`keyward crypto`, `keyward agent`): fork+exec the binary with the
 * control channel on FD_PARENT, the HELLO / CONFIG / READY handshake, and
 * new peer channels handed over with MSG_PEER. Everything else the child
 * does (privilege drop, sandbox) is the real thing.
 *
 * Functions return 0 (or a pid) on success and -1 on failure, with the
 * reason in why; they never abort the test, so the caller's assertion
 * says what was expected.
 */
#ifndef KEYWARD_FAKEPARENT_H
#define KEYWARD_FAKEPARENT_H

#include <sys/types.h>

#include <stdint.h>

#include "common/buf.h"
#include "common/ipc.h"
#include "common/msg.h"

/* Start `exe role` (exe: tsrv_default_exe); ctl becomes our end of the
 * control channel. */
pid_t	fakeparent_spawn(const char *role, struct ipc_chan *ctl,
	    const char **why);
/* Take HELLO (checked like the parent does), send MSG_CONFIG with
 * payload config (proc_opts then the role's slice), wait for READY. */
int	fakeparent_configure(struct ipc_chan *ctl, const struct buf *config,
	    int timeout_ms, const char **why);
/* A new socketpair: one end to the child in MSG_PEER (role, index of
 * the other side), the other end opened as ours (IPC_MAX_PEER). */
int	fakeparent_add_peer(struct ipc_chan *ctl, enum proc_role role,
	    uint32_t index, struct ipc_chan *ours, int timeout_ms,
	    const char **why);

#endif
