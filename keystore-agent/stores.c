/* The key stores this build knows: one line each. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "common/msg.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/stores.h"

const struct ks_backend *const ks_backends[] = {
	&ks_backend_fs,
	&ks_backend_vault,
	&ks_backend_kmip,
	&ks_backend_fortanix,
	&ks_backend_gemalto,
	&ks_backend_gcp,
	&ks_backend_aws,
	&ks_backend_azure,
	&ks_backend_entrust,
	NULL
};

const struct ks_backend *
ks_backend_find(const char *name)
{
	size_t i;

	for (i = 0; ks_backends[i] != NULL; i++)
		if (strcmp(ks_backends[i]->name, name) == 0)
			return ks_backends[i];
	return NULL;
}

const char *
ks_name(const struct keystore_cfg *k)
{
	return k->store != NULL ? k->store->name : "";
}

bool
ks_served(const struct ks_backend *ks)
{
	return ks != NULL && ks->status != NULL;
}

/* bytes store settings, then the seal's (seal_settings_put). */
int
ks_settings_put(struct buf *b, const struct keystore_cfg *k)
{
	struct buf	sb;
	int		rc;

	if (k->store == NULL || k->store->settings_put == NULL)
		return -1;
	buf_init(&sb, IPC_MAX_CONTROL);
	rc = k->store->settings_put(&sb, k->conf) == -1 ||
	    buf_put_bytes(b, sb.data, sb.len) == -1 ||
	    seal_settings_put(b, k->seal) == -1 ? -1 : 0;
	buf_release(&sb);
	return rc;
}

const char *
ks_supported(void)
{
	static char	list[256];
	size_t		i, n = 0;
	int		r;

	list[0] = '\0';
	for (i = 0; ks_backends[i] != NULL; i++) {
		if (!ks_served(ks_backends[i]))
			continue;
		r = snprintf(list + n, sizeof(list) - n, "%s%s",
		    n > 0 ? ", " : "", ks_backends[i]->name);
		if (r < 0 || (size_t)r >= sizeof(list) - n)
			break;
		n += (size_t)r;
	}
	return list;
}
