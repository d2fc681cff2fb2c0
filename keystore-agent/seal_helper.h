/*
 * The seal helper's protocol (seal_helper.c has the wire layout): the
 * request types and the largest packet either side sends.
 */
#ifndef KEYWARD_KS_SEAL_HELPER_H
#define KEYWARD_KS_SEAL_HELPER_H

#include <stddef.h>

#include "keystore-agent/seal.h"

#define SH_SEAL		1
#define SH_UNSEAL	2
#define SH_PROBE	3

/* A sealed SEAL_VALUE_MAX value (base64: 4/3) and the frame around it. */
#define SH_PKT_MAX	(SEAL_VALUE_MAX / 3 * 4 + 8192)
/* The socket buffers asked for, so that one such packet fits. */
#define SH_SOCKBUF	(4 * SH_PKT_MAX)

/* Ask for SH_SOCKBUF on a helper socket (as root: past wmem_max). */
void	seal_sock_bufs(int fd);

struct sb_rule;
/* The helper's additions to the common seccomp list (for its tests). */
const struct sb_rule	*seal_helper_rules(size_t *n);

#endif
