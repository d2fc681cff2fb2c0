/*
 * The per-role seccomp allow-lists. sandbox_apply() is the last step of a
 * child's start-up (see common/privdrop.h for the order): every library must
 * be initialised before it, because afterwards a syscall outside the role's
 * list kills the whole process.
 */
#ifndef KEYWARD_SANDBOX_H
#define KEYWARD_SANDBOX_H

#include <stdbool.h>

#include "common/msg.h"

/*
 * Load the filter for role (ROLE_WORKER, ROLE_CRYPTO or ROLE_AGENT). With
 * debug, a forbidden syscall is reported on stderr and fails with ENOSYS
 * instead of killing the process. Returns 0, or -1 (logged) when the filter
 * could not be built or loaded; the caller makes that fatal.
 */
int	sandbox_apply(enum proc_role role, bool debug);

/* 1 if KEYWARD_SANDBOX_DEBUG=1 is in the environment, else 0. */
int	sandbox_debug_from_env(void);

/* Sanitizer build: symbolise and check for leaks now, before the chroot
 * and the filter make both impossible. A no-op in other builds. */
void	sandbox_sanitizer_prepare(void);

#endif
