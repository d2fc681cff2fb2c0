/* The key stores this build serves: one line each. */
#include <stddef.h>
#include <stdio.h>

#include "keystore-agent/backend.h"
#include "keystore-agent/stores.h"

static const struct ks_backend *const stores[] = {
	&ks_backend_fs,
	&ks_backend_vault,
};

const struct ks_backend *
ks_backend_find(enum keystore_kind kind)
{
	size_t i;

	for (i = 0; i < sizeof(stores) / sizeof(stores[0]); i++)
		if (stores[i]->kind == kind)
			return stores[i];
	return NULL;
}

int
ks_settings_put(struct buf *b, const struct keystore_cfg *k)
{
	const struct ks_backend *ks;

	if ((ks = ks_backend_find(k->kind)) == NULL)
		return -1;
	return ks->settings_put(b, k);
}

const char *
ks_supported(void)
{
	static char	list[256];
	size_t		i, n = 0;
	int		r;

	for (i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
		r = snprintf(list + n, sizeof(list) - n, "%s%s",
		    i > 0 ? ", " : "", stores[i]->name);
		if (r < 0 || (size_t)r >= sizeof(list) - n)
			break;
		n += (size_t)r;
	}
	return list;
}
