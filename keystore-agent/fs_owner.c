/*
 * Moving from KES (issue 16): KES usually ran as root, so its key
 * directory and files are root's, mode 0700/0600. Started as root,
 * keyward's agent drops to server.user before it opens the store; it
 * would then fail with a bare "Permission denied". This check runs before
 * the drop and says whose files they are and how to hand them over.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "keystore-agent/fs_owner.h"

/* Do the mode bits give uid/gid all of want (a mask of 4, 2, 1)? */
static bool
may(const struct stat *st, uid_t uid, gid_t gid, unsigned int want)
{
	unsigned int	 bits;

	if (st->st_uid == uid)
		bits = (st->st_mode >> 6) & 7;
	else if (st->st_gid == gid)
		bits = (st->st_mode >> 3) & 7;
	else
		bits = st->st_mode & 7;
	return (bits & want) == want;
}

static void
refuse(const char *what, const struct stat *st, uid_t uid, gid_t gid,
    const char *dir, const char *verb, char *err, size_t errlen)
{
	struct passwd	*pw, *o;
	char		 user[64], owner[64], group[32] = "";

	/* getpwuid's answer is overwritten by the next call: copy it. */
	if ((pw = getpwuid(uid)) != NULL)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "%u", (unsigned int)uid);
	/* "user:" is the user and its login group. */
	if (pw == NULL || pw->pw_gid != gid)
		snprintf(group, sizeof(group), "%u", (unsigned int)gid);
	if ((o = getpwuid(st->st_uid)) != NULL)
		snprintf(owner, sizeof(owner), "%s", o->pw_name);
	else
		snprintf(owner, sizeof(owner), "uid %u",
		    (unsigned int)st->st_uid);
	snprintf(err, errlen, "%s is %s's (mode %04o) and the key store runs "
	    "as %s, who cannot %s it (KES ran as root and left its keys "
	    "root's); hand the keys over with: chown -R %s:%s %s",
	    what, owner, (unsigned int)(st->st_mode & 07777), user, verb,
	    user, group, dir);
}

int
fs_check_owner(const char *path, uid_t uid, gid_t gid, char *err,
    size_t errlen)
{
	struct dirent	*de;
	struct stat	 st;
	char		 file[4096];
	DIR		*d;
	int		 dfd, rc = 0;

	if (stat(path, &st) == -1)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s",
		    path, strerror(errno)), -1);
	if (!S_ISDIR(st.st_mode))
		return 0;	/* the store says what is wrong */
	/*
	 * Only another owner's files: a directory the user owns but may not
	 * write (chmod 0500) is the store's to report as unreachable, and a
	 * chmod fixes it while keyward waits for it.
	 */
	if (st.st_uid != uid && !may(&st, uid, gid, 7)) {
		refuse(path, &st, uid, gid, path, "use", err, errlen);
		return -1;
	}
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		if (dfd != -1)
			close(dfd);
		return 0;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_uid != uid && !may(&st, uid, gid, 4)) {
			snprintf(file, sizeof(file), "%s/%s", path,
			    de->d_name);
			refuse(file, &st, uid, gid, path, "read", err, errlen);
			rc = -1;
		}
	}
	closedir(d);
	return rc;
}
