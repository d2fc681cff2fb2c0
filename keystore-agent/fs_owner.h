/*
 * A key directory another user owns: KES ran as root and left its files
 * root's; keyward's agent runs as server.user and could not use them.
 */
#ifndef KEYWARD_KS_FS_OWNER_H
#define KEYWARD_KS_FS_OWNER_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Before the privilege drop: may uid/gid list, create and delete in
 * path, and read every file in it? 0, or -1 with a message in err that
 * names the path (or the first file), its owner and mode, the user, and
 * the command that fixes it.
 */
int	fs_check_owner(const char *path, uid_t uid, gid_t gid, char *err,
	    size_t errlen);

#endif
