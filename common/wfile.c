/* Writing a file whole or not at all: temporary, fsync, link or rename. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/wfile.h"
#include "common/xmalloc.h"

int
wfile_write_all(int fd, const void *data, size_t len)
{
	const char	*p = data;
	ssize_t		 n;

	while (len > 0) {
		if ((n = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * The temporary sits in the target's directory so that link and rename
 * stay within one file system, and starts with a dot so a half-written
 * one is not mistaken for a key or certificate when listed.
 */
int
wfile_stage(struct wfile *w, const char *path, const void *data, size_t len,
    mode_t mode)
{
	char	*d, *b, *dir, *base;
	int	 fd, saved;

	memset(w, 0, sizeof(*w));
	d = xstrdup(path);
	b = xstrdup(path);
	dir = dirname(d);
	base = basename(b);
	xasprintf(&w->tmp, "%s/.%s.XXXXXX", dir, base);
	free(d);
	free(b);
	w->path = xstrdup(path);
	if ((fd = mkostemp(w->tmp, O_CLOEXEC)) == -1)
		goto fail;
	if (fchmod(fd, mode) == -1 || wfile_write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(w->tmp);
		errno = saved;
		goto fail;
	}
	if (close(fd) == -1) {
		saved = errno;
		unlink(w->tmp);
		errno = saved;
		goto fail;
	}
	return 0;
 fail:
	saved = errno;
	free(w->tmp);
	free(w->path);
	w->tmp = w->path = NULL;
	errno = saved;
	return -1;
}

int
wfile_commit(struct wfile *w, bool replace)
{
	if (w->tmp == NULL) {
		errno = EINVAL;
		return -1;
	}
	if (replace) {
		if (rename(w->tmp, w->path) == -1)
			return -1;
	} else if (renameat2(AT_FDCWD, w->tmp, AT_FDCWD, w->path,
	    RENAME_NOREPLACE) == -1) {
		/* File systems without RENAME_NOREPLACE: link is as atomic. */
		if (errno != EINVAL && errno != ENOSYS)
			return -1;
		if (link(w->tmp, w->path) == -1)
			return -1;
		(void)unlink(w->tmp);
	}
	free(w->tmp);
	w->tmp = NULL;
	return 0;
}

void
wfile_abort(struct wfile *w)
{
	int	saved = errno;

	if (w->tmp != NULL)
		(void)unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	w->tmp = w->path = NULL;
	errno = saved;
}
