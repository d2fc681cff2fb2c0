/*
 * Directories every process may make or remove: the parent (the chroot),
 * a key store (its own directory, from the agent), the development server
 * and the tests (throw-away trees).
 */
#include <sys/stat.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/dirs.h"

int
dir_ensure(const char *path, mode_t mode, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	char	 tmp[PATH_MAX], *s;

	if (path[0] != '/' || strlen(path) >= sizeof(tmp)) {
		snprintf(err, errlen, "%s: not an absolute path", path);
		return -1;
	}
	strcpy(tmp, path);
	for (s = tmp + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(tmp, 0755) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			return -1;
		}
		*s = '/';
	}
	if (mkdir(path, mode) == -1) {
		if (errno != EEXIST) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			return -1;
		}
		return 0;	/* existing: leave its owner and mode alone */
	}
	if (uid != (uid_t)-1 && chown(path, uid, gid) == -1) {
		snprintf(err, errlen, "chown %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	return remove(path) == -1 ? -1 : 0;
}

int
tree_remove(const char *path)
{
	return nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}
