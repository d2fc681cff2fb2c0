/*
 * The registered key stores (stores.c): the one list a new store joins,
 * and what the parent asks of it (the agent's slice of the configuration).
 */
#ifndef KEYWARD_KS_STORES_H
#define KEYWARD_KS_STORES_H

#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"

struct ks_backend;

/* The store of that kind, or NULL when this build has none. */
const struct ks_backend	*ks_backend_find(enum keystore_kind);
/* The configured store's settings for the agent's slice; -1 when it is
 * not supported or they do not fit. */
int	ks_settings_put(struct buf *, const struct keystore_cfg *);
/* "fs, ..." for a message that says what this build supports. */
const char		*ks_supported(void);

#endif
