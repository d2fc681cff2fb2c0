/*
 * The filesystem key store (spec §6.2): one file per key in one directory.
 * The agent is not chrooted, so the store is reached by its path each time:
 * a directory that was moved away or lost its permissions shows up in the
 * status check as unreachable.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "keystore-agent/keystore.h"

static struct {
	char	*path;
} fs;

static int
fs_init(const struct agent_slice *s, char *err, size_t errlen)
{
	if (s->fs_path == NULL || s->fs_path[0] != '/') {
		snprintf(err, errlen, "key store path must be absolute");
		return -1;
	}
	fs.path = xstrdup(s->fs_path);
	return 0;
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reachable means: the directory opens, is a directory, and we may create
 * and list files in it. */
static int
fs_status(uint64_t *latency_ns, char *err, size_t errlen)
{
	struct stat	st;
	uint64_t	t0 = now_ns();
	int		fd;

	fd = openat(AT_FDCWD, fs.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", fs.path);
		close(fd);
		return -1;
	}
	if (faccessat(fd, ".", R_OK | W_OK | X_OK, AT_EACCESS) == -1) {
		snprintf(err, errlen, "%s: %s", fs.path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	*latency_ns = now_ns() - t0;
	return 0;
}

const struct keystore keystore_fs = {
	.name = "fs",
	.init = fs_init,
	.status = fs_status,
};
