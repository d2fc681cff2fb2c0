/*
 * The file system fence of the processes that need no file after their
 * start (workers, crypto): Landlock, which an unprivileged process applies
 * to itself. It stands beside the chroot where the parent may chroot
 * (CAP_SYS_CHROOT) and instead of it where it may not (keyward.service
 * gives no CAP_SYS_CHROOT: DESIGN.md §6).
 */
#ifndef KEYWARD_LANDLOCK_H
#define KEYWARD_LANDLOCK_H

#include <stdbool.h>

/* The kernel's Landlock ABI version, or 0 when it has none (or it is off). */
int	landlock_abi(void);

/*
 * Deny this process, and whatever it execs or forks, every file system
 * access the kernel's Landlock knows (open, exec, create, remove, link,
 * truncate, device ioctl); from ABI 4 TCP bind and connect; from ABI 6
 * connecting to abstract UNIX sockets and signalling processes outside
 * the fence. Descriptors already open stay usable. Needs no_new_privs
 * (proc_harden). Returns the ABI applied, 0 when the kernel has no
 * Landlock, -1 with errno when it has and the fence failed.
 */
int	landlock_fence(void);

#endif
