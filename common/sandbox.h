/*
 * The per-role seccomp allow-lists. sandbox_apply() is the last step of a
 * child's start-up (see common/privdrop.h for the order): every library must
 * be initialised before it, because afterwards a syscall outside the role's
 * list kills the whole process.
 */
#ifndef KEYWARD_SANDBOX_H
#define KEYWARD_SANDBOX_H

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/msg.h"

/* One entry of an allow-list; a role's list, or a key store's additions
 * (keystore-agent/backend.h), is an array of them. */
struct sb_rule {
	int			nr;
	uint32_t		act;
	unsigned int		ncmp;	/* 0 or 1 argument comparison */
	struct scmp_arg_cmp	cmp;
};

#define ALLOW(name) \
	{ SCMP_SYS(name), SCMP_ACT_ALLOW, 0, { 0, 0, 0, 0 } }
/* Allowed when argument a equals v. */
#define ALLOW_EQ(name, a, v) \
	{ SCMP_SYS(name), SCMP_ACT_ALLOW, 1, { (a), SCMP_CMP_EQ, (v), 0 } }
/* Allowed when (argument a & mask) == v; compares all 64 bits. */
#define ALLOW_MASK(name, a, mask, v) \
	{ SCMP_SYS(name), SCMP_ACT_ALLOW, 1, \
	    { (a), SCMP_CMP_MASKED_EQ, (mask), (v) } }
#define FAIL(name, err) \
	{ SCMP_SYS(name), SCMP_ACT_ERRNO(err), 0, { 0, 0, 0, 0 } }
#define FAIL_EQ(name, err, a, v) \
	{ SCMP_SYS(name), SCMP_ACT_ERRNO(err), 1, { (a), SCMP_CMP_EQ, (v), 0 } }

/*
 * Load the filter for role (ROLE_WORKER, ROLE_CRYPTO or ROLE_AGENT). With
 * debug, a forbidden syscall is reported on stderr and fails with ENOSYS
 * instead of killing the process. Returns 0, or -1 (logged) when the filter
 * could not be built or loaded; the caller makes that fatal.
 */
int	sandbox_apply(enum proc_role role, bool debug);
/* The same with more rules on top of the role's (a key store's). */
int	sandbox_apply_more(enum proc_role role, bool debug,
	    const struct sb_rule *more, size_t nmore);

/* 1 if KEYWARD_SANDBOX_DEBUG=1 is in the environment, else 0. */
int	sandbox_debug_from_env(void);

/* Sanitizer build: symbolise and check for leaks now, before the chroot
 * and the filter make both impossible. A no-op in other builds. */
void	sandbox_sanitizer_prepare(void);

#endif
