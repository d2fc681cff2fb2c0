/*
 * Authorization of one request (spec §4.2, §4.3): the admin identity may do
 * everything; any other identity needs the one policy it is bound to, where
 * a matching deny wins over a matching allow. Patterns match the decoded URL
 * path: a trailing '*' is a prefix match, anything else must be equal.
 * Used by the worker and, again, by the crypto process (its own copy).
 */
#ifndef KEYWARD_POLICY_H
#define KEYWARD_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"

struct policy_set {
	char		*admin;		/* admin identity; non-hex disables */
	struct policy	*policies;
	size_t		 npolicies;
};

bool	policy_match(const char *pattern, const char *path);
/* The policy an identity is bound to, or NULL. */
const struct policy *policy_of(const struct policy_set *, const char *id);
bool	policy_is_admin(const struct policy_set *, const char *id);
bool	policy_allows(const struct policy_set *, const char *identity,
	    const char *path);

/* Copy from a parsed config; free what policy_set_get/copy allocated. */
void	policy_set_copy(struct policy_set *, const struct config *);
void	policy_set_free(struct policy_set *);

/* Wire form (IPC): str admin, u32 n, then per policy: str name,
 * u32 n allow + str..., u32 n deny + str..., u32 n ids + str... */
int	policy_set_put(struct buf *, const struct policy_set *);
int	policy_set_get(struct buf *, struct policy_set *);

#endif
