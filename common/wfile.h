/*
 * Files written whole or not at all: the data goes to a temporary file
 * next to the target (created exclusively, mode set with fchmod so the
 * umask cannot widen it, synced), and only then takes the target's name,
 * by renameat2(RENAME_NOREPLACE) (or link(2) where the file system lacks
 * it) when an existing file must be kept, both failing on any existing
 * name, a symlink included, or by rename(2) when it may be replaced.
 * A failure at any step leaves no partial file under the target's name.
 * Functions return 0, or -1 with errno set; they never log.
 */
#ifndef KEYWARD_WFILE_H
#define KEYWARD_WFILE_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

struct wfile {
	char	*path;		/* the target */
	char	*tmp;		/* the temporary; NULL once committed */
};

/* write(2) until all of data[0, len) is written (EINTR retried). */
int	wfile_write_all(int fd, const void *data, size_t len);
/* Write data[0, len) with `mode` into a temporary next to path. */
int	wfile_stage(struct wfile *, const char *path, const void *data,
	    size_t len, mode_t mode);
/* Give the temporary the target's name; EEXIST when the target exists
 * and !replace (the temporary is then still there: abort it). */
int	wfile_commit(struct wfile *, bool replace);
/* Remove the temporary if any and free the names; safe on a zeroed
 * struct and after a commit. */
void	wfile_abort(struct wfile *);

#endif
