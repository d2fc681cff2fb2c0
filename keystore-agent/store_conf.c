/*
 * The keystore: section (spec/kes-compat.md §7.1): exactly one store, with
 * the fields KES requires of it (kesconf/config.go ymlToKeyStore). The
 * stores are those registered in stores.c; each parses its own section
 * (struct ks_backend's parse), so a new store changes nothing here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/stores.h"

#define KS_NAMES_MAX	32

/*
 * Most stores sit one level down (fortanix.sdkms, aws.secretsmanager):
 * open both levels. s->map stays NULL when the store is not configured.
 */
static int
open_store(struct cfg_parser *p, const struct cfg_sect *ks, const char *name,
    const char *inner, const char *const known[], struct cfg_sect *s)
{
	const char *const outer_keys[] = { inner, NULL };
	struct cfg_sect	 outer;

	if (inner == NULL)
		return cfg_sect_open(p, ks, name, known, s);
	if (cfg_sect_open(p, ks, name, outer_keys, &outer) == -1)
		return -1;
	if (cfg_sect_open(p, &outer, inner, known, s) == -1)
		return -1;
	if (outer.map != NULL && s->map == NULL)
		return cfg_error(p, outer.line, s->path,
		    "missing; expected the settings of the %s store", name);
	return 0;
}

/*
 * keystore.kes (KES-in-KES) and keystore.generic (≤ v0.22): read so their
 * keys are not reported as unknown, never used. KES itself parses kes and
 * then says "no keystore specified".
 */
static int
open_unusable(struct cfg_parser *p, const struct cfg_sect *ks,
    struct cfg_sect *kes, struct cfg_sect *generic)
{
	static const char *const kes_keys[] = {
		"endpoint", "enclave", "tls", NULL
	};
	static const char *const generic_keys[] = { "endpoint", "tls", NULL };
	static const char *const tls_keys[] = { "cert", "key", "ca", NULL };
	struct cfg_sect	 tls;

	if (cfg_sect_open(p, ks, "kes", kes_keys, kes) == -1 ||
	    cfg_sect_open(p, kes, "tls", tls_keys, &tls) == -1 ||
	    cfg_sect_open(p, ks, "generic", generic_keys, generic) == -1 ||
	    cfg_sect_open(p, generic, "tls", tls_keys, &tls) == -1)
		return -1;
	return 0;
}

/* "one of fs, vault, ..." */
static const char *
expected(void)
{
	static char	buf[256];
	size_t		i, n;

	n = (size_t)snprintf(buf, sizeof(buf), "one of ");
	for (i = 0; ks_backends[i] != NULL && n < sizeof(buf); i++)
		n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%s%s",
		    i > 0 ? ", " : "", ks_backends[i]->name);
	return buf;
}

int
cfg_parse_keystore(struct cfg_parser *p, const struct cfg_sect *root)
{
	const char		*keys[KS_NAMES_MAX + 4];
	struct keystore_cfg	*k = &p->cfg->keystore;
	const struct ks_backend	*ks;
	struct cfg_sect		 sect, s, kes, generic;
	const char		*chosen = NULL;
	size_t			 i, n = 0;

	for (i = 0; ks_backends[i] != NULL && n < KS_NAMES_MAX; i++)
		keys[n++] = ks_backends[i]->name;
	keys[n++] = "kes";
	keys[n++] = "generic";
	keys[n++] = "seal";	/* not a store: the seal over any (seal.h) */
	keys[n] = NULL;
	if (cfg_sect_open(p, root, "keystore", keys, &sect) == -1 ||
	    open_unusable(p, &sect, &kes, &generic) == -1)
		return -1;
	for (i = 0; (ks = ks_backends[i]) != NULL; i++) {
		if (open_store(p, &sect, ks->name, ks->inner, ks->keys,
		    &s) == -1)
			return -1;
		if (s.map == NULL)
			continue;
		if (chosen != NULL)
			return cfg_error(p, s.line, sect.path, "more than one "
			    "keystore specified (%s and %s); expected exactly "
			    "one", chosen, ks->name);
		chosen = ks->name;
		k->store = ks;
		if (ks->parse(p, &s, &k->conf) == -1)
			return -1;
	}
	if (seal_parse(p, &sect, &k->seal) == -1)
		return -1;
	if (chosen == NULL && kes.map != NULL)
		return cfg_error(p, kes.line, kes.path, "no keystore "
		    "specified: the kes keystore is parsed but not usable, "
		    "as in KES; expected %s", expected());
	if (chosen == NULL && generic.map != NULL)
		return cfg_error(p, generic.line, generic.path, "no keystore "
		    "specified: the generic keystore of KES v0.22 and older "
		    "is not supported; expected %s", expected());
	if (chosen == NULL)
		return cfg_error(p, sect.line, sect.path, "no keystore "
		    "specified; expected %s", expected());
	if (kes.map != NULL)
		cfg_warn(p, kes.line, NULL, "key '%s' ignored: the kes "
		    "keystore is not usable, as in KES", kes.path);
	if (generic.map != NULL)
		cfg_warn(p, generic.line, NULL, "key '%s' ignored: the "
		    "generic keystore was removed after KES v0.22",
		    generic.path);
	return 0;
}

void
cfg_keystore_free(struct keystore_cfg *k)
{
	if (k->store != NULL && k->conf != NULL)
		k->store->conf_free(k->conf);
	seal_conf_free(k->seal);
	k->store = NULL;
	k->conf = NULL;
	k->seal = NULL;
}
