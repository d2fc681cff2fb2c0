/*
 * keystore.seal.pkcs11 (spec §4.1), parsed in the parent, and the seal's
 * part of the agent's slice.
 *
 *   keystore:
 *     fs: { path: /var/lib/keyward }
 *     seal:
 *       pkcs11:
 *         module: /usr/lib/softhsm/libsofthsm2.so
 *         token: keyward                # or slot: / serial:
 *         pin: ${KEYWARD_HSM_PIN}       # or pin_file: /run/secrets/pin
 *         key: keyward-seal-1
 *         key_id: "01"                  # optional
 *         old_keys: []
 *         sessions: 4
 *         allow_unsealed_reads: true
 *         module_env: [ SOFTHSM2_CONF=/etc/softhsm/softhsm2.conf ]
 *
 * The seal is not a store: store_conf.c knows the key "seal" and hands
 * it here.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/sha.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/stores.h"

static int
parse_ulong(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    const char *text, unsigned long max, unsigned long *out)
{
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN];
	char		*end;
	size_t		 line = s->line;
	unsigned long	 v;

	errno = 0;
	v = strtoul(text, &end, 10);
	if (text[0] == '\0' || !isdigit((unsigned char)text[0]) ||
	    *end != '\0' || errno != 0 || v > max) {
		(void)cfg_lookup(p, s, key, &line);
		cfg_join(path, s->path, key);
		return cfg_error(p, line, path, "'%s' is not a number from 0 "
		    "to %lu", cfg_quote(text, q, sizeof(q)), max);
	}
	*out = v;
	return 0;
}

static bool
is_hex(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n % 2 != 0)
		return false;
	for (; *s != '\0'; s++)
		if (!isxdigit((unsigned char)*s))
			return false;
	return true;
}

/* The checks §4.1 and §4.3 ask of the settings. */
static int
seal_check(struct cfg_parser *p, const struct cfg_sect *s,
    struct seal_conf *c)
{
	char	 path[CFG_PATHLEN];
	size_t	 i, line = s->line;
	int	 n;

	if (cfg_require(p, s, "module", c->module, "the absolute path of "
	    "the PKCS#11 library") == -1 ||
	    cfg_require(p, s, "key", c->key, "the label of the AES-256 seal "
	    "key") == -1)
		return -1;
	if (c->module[0] != '/') {
		(void)cfg_lookup(p, s, "module", &line);
		cfg_join(path, s->path, "module");
		return cfg_error(p, line, path, "expected an absolute path");
	}
	n = (c->token != NULL) + (c->serial != NULL) + (c->slot != -1);
	if (n != 1)
		return cfg_error(p, s->line, s->path, "%s; expected exactly "
		    "one of token, serial or slot", n == 0 ? "no token "
		    "named" : "several ways to name the token");
	if (c->pin != NULL && c->pin_file != NULL)
		return cfg_error(p, s->line, s->path, "both pin and pin_file; "
		    "expected one");
	if (c->pin_file != NULL && c->pin_file[0] != '/') {
		(void)cfg_lookup(p, s, "pin_file", &line);
		cfg_join(path, s->path, "pin_file");
		return cfg_error(p, line, path, "expected an absolute path");
	}
	/* The kid of an envelope is 1 to 64 bytes (§4.3). */
	if (strlen(c->key) > 64)
		return cfg_error(p, s->line, s->path, "key label longer than "
		    "64 bytes");
	for (i = 0; i < c->nold_keys; i++)
		if (c->old_keys[i][0] == '\0' || strlen(c->old_keys[i]) > 64)
			return cfg_error(p, s->line, s->path, "old_keys: a "
			    "label is 1 to 64 bytes");
	if (c->key_id != NULL && !is_hex(c->key_id)) {
		(void)cfg_lookup(p, s, "key_id", &line);
		cfg_join(path, s->path, "key_id");
		return cfg_error(p, line, path, "expected hex digits, e.g. "
		    "\"01\"");
	}
	for (i = 0; i < c->nmodule_env; i++)
		if (strchr(c->module_env[i], '=') == NULL ||
		    c->module_env[i][0] == '=')
			return cfg_error(p, s->line, s->path, "module_env: "
			    "expected NAME=value entries");
	return 0;
}

int
seal_parse(struct cfg_parser *p, const struct cfg_sect *ks, void **conf)
{
	static const char *const seal_keys[] = { "pkcs11", NULL };
	static const char *const p11_keys[] = {
		"module", "token", "slot", "serial", "pin", "pin_file", "key",
		"key_id", "old_keys", "sessions", "allow_unsealed_reads",
		"module_env", NULL
	};
	struct cfg_sect		 seal, s;
	struct seal_conf	*c;
	char			*slot = NULL, *sessions = NULL;
	unsigned long		 v;
	int			 rc = -1;

	*conf = NULL;
	if (cfg_sect_open(p, ks, "seal", seal_keys, &seal) == -1 ||
	    cfg_sect_open(p, &seal, "pkcs11", p11_keys, &s) == -1)
		return -1;
	if (seal.map == NULL)
		return 0;
	if (s.map == NULL)
		return cfg_error(p, seal.line, seal.path, "missing pkcs11; "
		    "expected the settings of the PKCS#11 seal");
	c = xcalloc(1, sizeof(*c));
	*conf = c;
	c->slot = -1;
	c->sessions = SEAL_SESSIONS_DEFAULT;
	c->allow_unsealed_reads = true;
	if (cfg_get_fields(p, &s, (const struct cfg_field[]){
	    { "module", &c->module, NULL },
	    { "token", &c->token, NULL },
	    { "serial", &c->serial, NULL },
	    { "slot", &slot, NULL },
	    { "pin", &c->pin, NULL },
	    { "pin_file", &c->pin_file, NULL },
	    { "key", &c->key, NULL },
	    { "key_id", &c->key_id, NULL },
	    { "sessions", &sessions, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_list(p, &s, "old_keys", true, &c->old_keys,
	    &c->nold_keys) == -1 ||
	    cfg_get_list(p, &s, "module_env", true, &c->module_env,
	    &c->nmodule_env) == -1 ||
	    cfg_get_bool(p, &s, "allow_unsealed_reads",
	    &c->allow_unsealed_reads) == -1)
		goto out;
	if (slot != NULL) {
		if (parse_ulong(p, &s, "slot", slot, 0xffffffffUL, &v) == -1)
			goto out;
		c->slot = (long)v;
	}
	if (sessions != NULL) {
		if (parse_ulong(p, &s, "sessions", sessions,
		    SEAL_SESSIONS_MAX, &v) == -1)
			goto out;
		if (v == 0) {
			cfg_error(p, s.line, s.path, "sessions: expected 1 to "
			    "%u", SEAL_SESSIONS_MAX);
			goto out;
		}
		c->sessions = (unsigned int)v;
	}
	rc = seal_check(p, &s, c);
 out:
	free(slot);
	free(sessions);
	return rc;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		freezero_str(v[i]);
	free(v);
}

void
seal_conf_free(void *conf)
{
	struct seal_conf *c = conf;

	if (c == NULL)
		return;
	free(c->module);
	free(c->token);
	free(c->serial);
	freezero_str(c->pin);
	free(c->pin_file);
	free(c->key);
	free(c->key_id);
	strv_free(c->old_keys, c->nold_keys);
	strv_free(c->module_env, c->nmodule_env);
	freezero(c, sizeof(*c));
}

struct seal_conf *
seal_conf_load(const char *file, char **store_path, char *err,
    size_t errlen)
{
	struct config		*cf = NULL;
	struct seal_conf	*c;

	*store_path = NULL;
	if (config_load(file, &cf, err, errlen) == -1)
		return NULL;
	if ((c = cf->keystore.seal) == NULL) {
		snprintf(err, errlen, "%s: no keystore.seal.pkcs11 section",
		    file);
		config_free(cf);
		return NULL;
	}
	cf->keystore.seal = NULL;
	if (cf->keystore.store == &ks_backend_fs)
		*store_path = xstrdup(((struct fs_conf *)
		    cf->keystore.conf)->path);
	config_free(cf);
	return c;
}

/* A NULL string travels as "" (no field may be empty when set). */
static const char *
opt(const char *s)
{
	return s != NULL ? s : "";
}

static char *
unopt(const char *s)
{
	return s[0] != '\0' ? xstrdup(s) : NULL;
}

/*
 * u8 present; then str module, str token, str serial, u64 slot + 1,
 * str pin, str pin_file, str key, str key_id, u32 n, n x str old key,
 * u32 sessions, u8 allow_unsealed_reads, u32 n, n x str module_env.
 */
int
seal_settings_put(struct buf *b, const struct seal_conf *c)
{
	size_t i;

	if (c == NULL)
		return buf_put_u8(b, 0);
	if (buf_put_u8(b, 1) == -1 || buf_put_str(b, opt(c->module)) == -1 ||
	    buf_put_str(b, opt(c->token)) == -1 ||
	    buf_put_str(b, opt(c->serial)) == -1 ||
	    buf_put_u64(b, (uint64_t)(c->slot + 1)) == -1 ||
	    buf_put_str(b, opt(c->pin)) == -1 ||
	    buf_put_str(b, opt(c->pin_file)) == -1 ||
	    buf_put_str(b, opt(c->key)) == -1 ||
	    buf_put_str(b, opt(c->key_id)) == -1 ||
	    buf_put_u32(b, (uint32_t)c->nold_keys) == -1)
		return -1;
	for (i = 0; i < c->nold_keys; i++)
		if (buf_put_str(b, c->old_keys[i]) == -1)
			return -1;
	if (buf_put_u32(b, c->sessions) == -1 ||
	    buf_put_u8(b, c->allow_unsealed_reads) == -1 ||
	    buf_put_u32(b, (uint32_t)c->nmodule_env) == -1)
		return -1;
	for (i = 0; i < c->nmodule_env; i++)
		if (buf_put_str(b, c->module_env[i]) == -1)
			return -1;
	return 0;
}

static int
get_strv(struct buf *b, char ***v, size_t *n)
{
	const char	*s;
	uint32_t	 cnt, i;

	if (buf_get_u32(b, &cnt) == -1 || cnt > 256)
		return -1;
	*v = xcalloc((size_t)cnt + 1, sizeof(**v));
	*n = cnt;
	for (i = 0; i < cnt; i++) {
		if (buf_get_str(b, &s, NULL) == -1)
			return -1;
		(*v)[i] = xstrdup(s);
	}
	return 0;
}

int
seal_settings_get(struct buf *b, struct seal_conf **out)
{
	struct seal_conf	*c;
	const char		*module, *token, *serial, *pin, *pin_file, *key,
				*key_id;
	uint64_t		 slot;
	uint32_t		 sessions;
	uint8_t			 present, allow;

	*out = NULL;
	if (buf_get_u8(b, &present) == -1 || present > 1)
		return -1;
	if (present == 0)
		return 0;
	c = xcalloc(1, sizeof(*c));
	if (buf_get_str(b, &module, NULL) == -1 ||
	    buf_get_str(b, &token, NULL) == -1 ||
	    buf_get_str(b, &serial, NULL) == -1 ||
	    buf_get_u64(b, &slot) == -1 || slot > 0x100000000ULL ||
	    buf_get_str(b, &pin, NULL) == -1 ||
	    buf_get_str(b, &pin_file, NULL) == -1 ||
	    buf_get_str(b, &key, NULL) == -1 ||
	    buf_get_str(b, &key_id, NULL) == -1)
		goto bad;
	c->module = unopt(module);
	c->token = unopt(token);
	c->serial = unopt(serial);
	c->slot = (long)slot - 1;
	c->pin = unopt(pin);
	c->pin_file = unopt(pin_file);
	c->key = unopt(key);
	c->key_id = unopt(key_id);
	if (get_strv(b, &c->old_keys, &c->nold_keys) == -1 ||
	    buf_get_u32(b, &sessions) == -1 || sessions == 0 ||
	    sessions > SEAL_SESSIONS_MAX || buf_get_u8(b, &allow) == -1 ||
	    allow > 1 ||
	    get_strv(b, &c->module_env, &c->nmodule_env) == -1)
		goto bad;
	c->sessions = sessions;
	c->allow_unsealed_reads = allow;
	if (c->module == NULL || c->key == NULL)
		goto bad;
	*out = c;
	return 0;
 bad:
	seal_conf_free(c);
	return -1;
}

int
seal_slice_split(struct buf *all, struct buf *store, struct seal_conf **seal)
{
	const uint8_t	*v;
	size_t		 len;

	*seal = NULL;
	if (buf_get_bytes(all, &v, &len) == -1 ||
	    seal_settings_get(all, seal) == -1)
		return -1;
	if (buf_end(all) == -1) {
		seal_conf_free(*seal);
		*seal = NULL;
		return -1;
	}
	buf_view(store, v, len);
	return 0;
}

/* SHA-256 of the encoding: what a reload compares once the PIN in the
 * settings is wiped. */
void
seal_conf_digest(const struct seal_conf *c, uint8_t out[32])
{
	struct buf b;

	buf_init(&b, 1u << 20);
	if (seal_settings_put(&b, c) == -1)
		b.len = 0;
	SHA256(b.data, b.len, out);
	buf_release(&b);
}

/* Overwrite every copy of pin in [p, p + len). */
void
seal_wipe_pin(void *p, size_t len, const char *pin)
{
	size_t	 n = pin != NULL ? strlen(pin) : 0;
	uint8_t	*at, *end = (uint8_t *)p + len;

	if (n == 0 || p == NULL)
		return;
	while ((at = memmem(p, (size_t)(end - (uint8_t *)p), pin, n)) != NULL) {
		explicit_bzero(at, n);
		p = at + n;
	}
}
