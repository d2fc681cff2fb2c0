/*
 * Landlock without a library: three system calls (Linux 5.13+), the access
 * rights of each ABI version spelled out here since the headers of the
 * build host may be older than the kernel it runs on.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "common/landlock.h"

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset	444
#define SYS_landlock_restrict_self	446
#endif

#define LL_CREATE_RULESET_VERSION	(1U << 0)

/* ABI 1: bits 0 – 12; 2: refer (13); 3: truncate (14); 5: ioctl_dev (15). */
#define LL_FS_ABI1			((1ULL << 13) - 1)
#define LL_FS_REFER			(1ULL << 13)
#define LL_FS_TRUNCATE			(1ULL << 14)
#define LL_FS_IOCTL_DEV			(1ULL << 15)
/* ABI 4. */
#define LL_NET_BIND_TCP			(1ULL << 0)
#define LL_NET_CONNECT_TCP		(1ULL << 1)
/* ABI 6. */
#define LL_SCOPE_ABSTRACT_UNIX		(1ULL << 0)
#define LL_SCOPE_SIGNAL			(1ULL << 1)

/* struct landlock_ruleset_attr as of ABI 6; older kernels get a prefix. */
struct ll_attr {
	uint64_t	handled_access_fs;
	uint64_t	handled_access_net;
	uint64_t	scoped;
};

int
landlock_abi(void)
{
	long	v;

	v = syscall(SYS_landlock_create_ruleset, NULL, 0,
	    LL_CREATE_RULESET_VERSION);
	return v > 0 ? (int)v : 0;
}

int
landlock_fence(void)
{
	struct ll_attr	 a = { 0, 0, 0 };
	size_t		 size;
	int		 abi, fd, saved;

	if ((abi = landlock_abi()) == 0)
		return 0;
	a.handled_access_fs = LL_FS_ABI1;
	size = sizeof(a.handled_access_fs);
	if (abi >= 2)
		a.handled_access_fs |= LL_FS_REFER;
	if (abi >= 3)
		a.handled_access_fs |= LL_FS_TRUNCATE;
	if (abi >= 4) {
		a.handled_access_net = LL_NET_BIND_TCP | LL_NET_CONNECT_TCP;
		size = 2 * sizeof(uint64_t);
	}
	if (abi >= 5)
		a.handled_access_fs |= LL_FS_IOCTL_DEV;
	if (abi >= 6) {
		a.scoped = LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL;
		size = sizeof(a);
	}
	/* No rule: everything handled is denied everywhere. */
	if ((fd = (int)syscall(SYS_landlock_create_ruleset, &a, size, 0)) ==
	    -1)
		return -1;
	if (syscall(SYS_landlock_restrict_self, fd, 0) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return abi;
}
