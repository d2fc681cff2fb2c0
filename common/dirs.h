/*
 * Directory helpers shared by the parent, the key stores and the tests
 * (common/dirs.c).
 */
#ifndef KEYWARD_DIRS_H
#define KEYWARD_DIRS_H

#include <sys/types.h>

#include <stddef.h>

/* Create dir (and parents, mode 0755) if missing; if uid != -1, chown the
 * last part. An existing directory keeps its owner and mode. */
int	dir_ensure(const char *path, mode_t mode, uid_t uid, gid_t gid,
	    char *err, size_t errlen);

/* Remove a directory tree (the dev server's throw-away files). */
int	tree_remove(const char *path);

#endif
