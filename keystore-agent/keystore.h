/*
 * One interface for every key store the agent can talk to. The agent loop
 * (agent.c) owns the IPC, re-validates names and does the generic listing
 * (sort, prefix, page of KS_LIST_MAX); a store only answers calls. Today:
 * the filesystem store (fs.c).
 *
 * Calls that fail return an enum ks_fail (common/msg.h) and write a
 * sentence for the log into err; they never put key material there.
 */
#ifndef KEYWARD_KEYSTORE_H
#define KEYWARD_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/slice.h"

/* Called once per name by list(); return -1 to stop (list fails). */
typedef int (*ks_name_fn)(const char *name, void *arg);

struct keystore {
	const char	*name;
	/* Before the sandbox: open handles, resolve names, check access. */
	int		(*init)(const struct agent_slice *, char *err,
			    size_t errlen);
	/* Time a check of the store: 0 reachable (*latency_ns set), or -1
	 * with err set. */
	int		(*status)(uint64_t *latency_ns, char *err,
			    size_t errlen);
	/* Store value under name; never overwrite an existing key, never
	 * leave a partial one behind. 0 or an enum ks_fail. */
	int		(*create)(const char *name, const uint8_t *value,
			    size_t len, char *err, size_t errlen);
	/* Append the stored value (at most KES_STORED_MAX bytes) to out. */
	int		(*get)(const char *name, struct buf *out, char *err,
			    size_t errlen);
	int		(*del)(const char *name, char *err, size_t errlen);
	/* Every key name, in any order. */
	int		(*list)(ks_name_fn, void *arg, char *err,
			    size_t errlen);
};

extern const struct keystore keystore_fs;

#endif
