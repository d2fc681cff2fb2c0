/*
 * One interface for every key store the agent can talk to. The agent loop
 * (agent.c) owns the IPC; a store only answers calls. Today: the
 * filesystem store (fs.c).
 */
#ifndef KEYWARD_KEYSTORE_H
#define KEYWARD_KEYSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "common/slice.h"

struct keystore {
	const char	*name;
	/* Before the sandbox: open handles, resolve names, check access. */
	int		(*init)(const struct agent_slice *, char *err,
			    size_t errlen);
	/* Time a check of the store: 0 reachable (*latency_ns set), or -1
	 * with err set. */
	int		(*status)(uint64_t *latency_ns, char *err,
			    size_t errlen);
};

extern const struct keystore keystore_fs;

#endif
