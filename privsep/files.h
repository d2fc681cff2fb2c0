/*
 * What the parent opens for its children, as root, before any child
 * exists: the listening socket, the TLS files, and the directories the
 * children need (the empty chroot, the filesystem key store).
 */
#ifndef KEYWARD_FILES_H
#define KEYWARD_FILES_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/slice.h"

struct tls_files {
	struct pem	cert;
	struct pem	key;		/* secret */
	struct pem	ca;		/* tls.ca (+ system roots if auth on) */
};

/* Bind and listen on "ip:port" or "[ipv6]:port"; -1 with err. */
int	listener_open(const char *addr, char *err, size_t errlen);
/* Read tls.cert, tls.key and tls.ca (a file or every file of a dir). */
int	tls_files_read(const struct config *, struct tls_files *,
	    char *err, size_t errlen);
void	tls_files_free(struct tls_files *);
/* Create dir (and parents) if missing; if uid != -1, chown the last part. */
int	dir_ensure(const char *path, mode_t mode, uid_t uid, gid_t gid,
	    char *err, size_t errlen);

/* Remove a directory tree (the dev server's throw-away files). */
int	tree_remove(const char *path);

#endif
