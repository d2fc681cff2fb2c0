/*
 * The registered key stores (stores.c): the one list a new store joins,
 * and what the parent asks of it (the keystore: section of the
 * configuration, store_conf.c, and the agent's slice).
 */
#ifndef KEYWARD_KS_STORES_H
#define KEYWARD_KS_STORES_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"
#include "common/config.h"

struct ks_backend;

/* Every registered store, in the order the configuration reads them;
 * NULL-terminated. */
extern const struct ks_backend *const ks_backends[];

/* The store of that name (keystore.<name>), or NULL. */
const struct ks_backend	*ks_backend_find(const char *name);
/* The configured store's name (keystore.<name>). */
const char		*ks_name(const struct keystore_cfg *);
/* Whether this build serves the store, or only checks its settings. */
bool	ks_served(const struct ks_backend *);
/* The configured store's settings for the agent's slice, then the
 * seal's (seal.h: seal_slice_split reads both); -1 when they do not
 * fit. */
int	ks_settings_put(struct buf *, const struct keystore_cfg *);
/* "fs, ..." for a message that says what this build serves. */
const char		*ks_supported(void);

/* keystore.fs, as parsed in the parent. */
struct fs_conf {
	char	*path;
};

/* keystore.fs with that path (the development configuration). */
void	fs_conf_new(struct keystore_cfg *, const char *path);

#endif
