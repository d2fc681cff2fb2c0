/*
 * The config parser: every validation rule with its message, the defaults,
 * ${VAR} substitution, warnings, every keystore kind, the value syntaxes.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/config.h"
#include "common/log.h"
#include "keystore-agent/aws.h"
#include "keystore-agent/azure_parse.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/ciphertrust_parse.h"
#include "keystore-agent/entrust_parse.h"
#include "keystore-agent/fortanix_parse.h"
#include "keystore-agent/gcp_parse.h"
#include "keystore-agent/stores.h"
#include "keystore-agent/vault_parse.h"

/* The parsed settings of the configured store, as that store reads them. */
#define CONF(c, type)	((const struct type *)(c)->keystore.conf)

#define ID_A	"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"
#define ID_B	"c9d8b1e0f2c4a6e8d0b2f4a6c8e0d2b4f6a8c0e2d4b6f8a0c2e4d6b8f0a2c4e6"
#define ID_C	"0000000000000000000000000000000000000000000000000000000000000001"

/* Lines 1-2 admin, 3-5 tls, 6-8 keystore; additions start at line 9. */
#define ADMIN	"admin:\n  identity: " ID_A "\n"
#define TLS	"tls:\n  key: /etc/keyward/key.pem\n  cert: /etc/keyward/cert.pem\n"
#define FS	"keystore:\n  fs:\n    path: /var/lib/keyward\n"
#define BASE	ADMIN TLS FS

static struct config *
parse_ok(const char *yaml)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";
	int		 rc;

	rc = config_parse(yaml, strlen(yaml), "t.yml", &c, err, sizeof(err));
	cr_assert_eq(rc, 0, "unexpected error: %s\n--- config:\n%s", err, yaml);
	cr_assert_not_null(c);
	return c;
}

/*
 * The error must start with `prefix` ("t.yml:<line>: <field>: ...") and
 * contain every further string; the list ends with NULL.
 */
static void
parse_err(const char *yaml, const char *prefix, ...)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";
	const char	*want;
	va_list		 ap;
	int		 rc;

	rc = config_parse(yaml, strlen(yaml), "t.yml", &c, err, sizeof(err));
	cr_assert_eq(rc, -1, "parsed although '%s' was expected:\n%s", prefix,
	    yaml);
	cr_assert_null(c);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0,
	    "error\n  '%s'\ndoes not start with\n  '%s'", err, prefix);
	cr_assert(strstr(err, "; expected ") != NULL,
	    "error '%s' does not say what was expected", err);
	va_start(ap, prefix);
	while ((want = va_arg(ap, const char *)) != NULL)
		cr_assert(strstr(err, want) != NULL,
		    "error '%s' lacks '%s'", err, want);
	va_end(ap);
}

/* Some warning must contain every string; the list ends with NULL. */
static void
has_warning(const struct config *c, ...)
{
	const char	*want;
	va_list		 ap;
	size_t		 i;
	bool		 all;

	for (i = 0; i < c->nwarnings; i++) {
		all = true;
		va_start(ap, c);
		while ((want = va_arg(ap, const char *)) != NULL)
			if (strstr(c->warnings[i], want) == NULL)
				all = false;
		va_end(ap);
		if (all)
			return;
	}
	va_start(ap, c);
	want = va_arg(ap, const char *);
	va_end(ap);
	cr_assert_fail("no warning with '%s' among %zu warnings%s%s", want,
	    c->nwarnings, c->nwarnings ? ", first: " : "",
	    c->nwarnings ? c->warnings[0] : "");
}

/* --- defaults and the minimal config ----------------------------------- */

Test(config, defaults)
{
	struct config	*c = parse_ok(BASE);

	cr_assert_str_eq(c->file, "t.yml");
	cr_assert_str_eq(c->address, CONFIG_DEFAULT_ADDR);
	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_str_eq(c->tls.key, "/etc/keyward/key.pem");
	cr_assert_str_eq(c->tls.cert, "/etc/keyward/cert.pem");
	cr_assert_null(c->tls.password);
	cr_assert_null(c->tls.ca);
	cr_assert_eq(c->tls.auth, TLS_AUTH_OFF);
	cr_assert_eq(c->tls.nproxy_identities, 0);
	cr_assert_eq(c->cache.any_ms, 5 * 60 * 1000);
	cr_assert_eq(c->cache.unused_ms, 30 * 1000);
	cr_assert_eq(c->cache.offline_ms, 0);
	cr_assert_eq(c->log.error, LOG_LVL_INFO);
	cr_assert_eq(c->log.audit, LOG_LVL_INFO);
	cr_assert_eq(c->napi, 0);
	cr_assert_eq(c->npolicies, 0);
	cr_assert_eq(c->nkeys, 0);
	cr_assert_eq(c->keystore.store, &ks_backend_fs);
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/var/lib/keyward");
	cr_assert_eq(c->server.workers, 0);
	cr_assert_str_eq(c->server.user, CONFIG_DEFAULT_USER);
	cr_assert_str_eq(c->server.chroot, CONFIG_DEFAULT_CHROOT);
	cr_assert(c->server.mlock);
	cr_assert_eq(c->nwarnings, 0, "unexpected warning: %s",
	    c->nwarnings ? c->warnings[0] : "");
	config_free(c);
}

Test(config, null_sections_are_defaults)
{
	struct config	*c = parse_ok(BASE "cache:\nlog:\napi:\npolicy:\n"
	    "keys:\nserver:\nversion:\n");

	cr_assert_eq(c->cache.any_ms, 5 * 60 * 1000);
	cr_assert_eq(c->log.error, LOG_LVL_INFO);
	cr_assert_eq(c->napi + c->npolicies + c->nkeys, 0);
	cr_assert_str_eq(c->server.user, CONFIG_DEFAULT_USER);
	config_free(c);
}

Test(config, config_free_null)
{
	config_free(NULL);
}

/* --- version ------------------------------------------------------------ */

Test(config, version_v1)
{
	config_free(parse_ok("version: v1\n" BASE));
}

Test(config, version_other)
{
	parse_err("version: v2\n" BASE, "t.yml:1: version: 'v2' is not a "
	    "supported config version; expected v1", NULL);
}

Test(config, version_not_substituted)
{
	setenv("KW_VERSION", "v1", 1);
	parse_err(BASE "version: ${KW_VERSION}\n", "t.yml:9: version: "
	    "'${KW_VERSION}'", "expected v1", NULL);
}

Test(config, version_wrong_type)
{
	parse_err(BASE "version: [v1]\n", "t.yml:9: version: is a list; "
	    "expected a single value", NULL);
}

/* --- address ------------------------------------------------------------ */

Test(config, address_forms)
{
	struct config	*c;

	c = parse_ok(BASE "address: 127.0.0.1:8443\n");
	cr_assert_str_eq(c->address, "127.0.0.1:8443");
	config_free(c);
	c = parse_ok(BASE "address: '[::]:7373'\n");
	cr_assert_str_eq(c->address, "[::]:7373");
	config_free(c);
	c = parse_ok(BASE "address: '[fe80::1]:1'\n");
	config_free(c);
	c = parse_ok(BASE "address: :7000\n");
	cr_assert_str_eq(c->address, "0.0.0.0:7000", "Go's :port form");
	config_free(c);
	c = parse_ok(BASE "address: 0.0.0.0:65535\n");
	config_free(c);
}

Test(config, address_hostname)
{
	parse_err(BASE "address: localhost:7373\n", "t.yml:9: address: "
	    "'localhost:7373': the host is not an IPv4 address",
	    "expected an IP address and a port", NULL);
}

Test(config, address_ipv6_unbracketed)
{
	parse_err(BASE "address: '::1:7373'\n", "t.yml:9: address: ",
	    "must be in brackets", NULL);
}

Test(config, address_port_zero)
{
	parse_err(BASE "address: 0.0.0.0:0\n", "t.yml:9: address: ",
	    "port is not a number from 1 to 65535", NULL);
}

Test(config, address_port_too_big)
{
	parse_err(BASE "address: 0.0.0.0:65536\n", "t.yml:9: address: ",
	    "port is not a number from 1 to 65535", NULL);
}

Test(config, address_no_port)
{
	parse_err(BASE "address: 10.0.0.1\n", "t.yml:9: address: ",
	    "no port", NULL);
	parse_err(BASE "address: '[::1]'\n", "t.yml:9: address: ",
	    "no port", NULL);
}

/* --- admin -------------------------------------------------------------- */

Test(config, admin_missing)
{
	parse_err(TLS FS, "t.yml:1: admin.identity: missing; expected the "
	    "admin identity", NULL);
}

Test(config, admin_empty)
{
	parse_err("admin:\n  identity: \"\"\n" TLS FS,
	    "t.yml:2: admin.identity: is empty; expected", NULL);
}

Test(config, admin_disabled)
{
	struct config	*c;

	c = parse_ok("admin:\n  identity: disabled\n" TLS FS);
	cr_assert_str_eq(c->admin_identity, "disabled");
	config_free(c);
}

/* Only an identity, 'disabled' or '_' (KES's examples); anything else
 * used to disable admin access silently. */
Test(config, admin_identity_forms)
{
	struct config	*c;
	char		 yaml[1024], upper[80];
	size_t		 i;

	c = parse_ok("admin:\n  identity: _\n" TLS FS);
	config_free(c);
	snprintf(upper, sizeof(upper), "%s", ID_A);
	for (i = 0; upper[i] != '\0'; i++)
		if (upper[i] >= 'a' && upper[i] <= 'f')
			upper[i] -= 'a' - 'A';
	snprintf(yaml, sizeof(yaml), "admin:\n  identity: %s\n" TLS FS, upper);
	parse_err(yaml, "t.yml:2: admin.identity: ", "has uppercase letters",
	    NULL);
	/* 63 characters. */
	parse_err("admin:\n  identity: " "3ecfcdf38fcbe141ae26a1030f81e96b7533"
	    "65a46760ae6b578698a97c59fd2\n" TLS FS,
	    "t.yml:2: admin.identity: ", "is not an identity; expected 64 "
	    "lowercase hexadecimal characters", "'disabled'", NULL);
	parse_err("admin:\n  identity: Disabled\n" TLS FS,
	    "t.yml:2: admin.identity: 'Disabled' is not an identity", NULL);
	parse_err("admin:\n  identity: x-${HOME}\n" TLS FS,
	    "t.yml:2: admin.identity: 'x-${HOME}' is not an identity", NULL);
}

Test(config, admin_wrong_type)
{
	parse_err("admin:\n  identity:\n    a: b\n" TLS FS,
	    "t.yml:3: admin.identity: is a mapping; expected a single value",
	    NULL);
}

/* KES before v0.17.2: root is read as admin.identity (issue 16). */
Test(config, admin_legacy_root)
{
	struct config	*c = parse_ok("root: " ID_A "\n" TLS FS);

	cr_assert_str_eq(c->admin_identity, ID_A);
	has_warning(c, "t.yml:1: 'root' read as 'admin.identity'", NULL);
	config_free(c);
}

/* Both spellings: the file must say which one it means. */
Test(config, admin_and_root_refused)
{
	parse_err("root: " ID_B "\n" BASE, "t.yml:1: root: set, and so is "
	    "'admin.identity' at line 2; expected one of the two spellings",
	    NULL);
}

/* --- tls ---------------------------------------------------------------- */

Test(config, tls_key_missing)
{
	parse_err(ADMIN "tls:\n  cert: /c.pem\n" FS, "t.yml:3: tls.key: "
	    "missing; expected the path of the server's private key", NULL);
}

Test(config, tls_cert_missing)
{
	parse_err(ADMIN "tls:\n  key: /k.pem\n" FS, "t.yml:3: tls.cert: "
	    "missing; expected the path of the server's certificate", NULL);
}

Test(config, tls_section_missing)
{
	parse_err(ADMIN FS, "t.yml:1: tls.key: missing", NULL);
}

Test(config, tls_wrong_type)
{
	parse_err(ADMIN "tls: /k.pem\n" FS, "t.yml:3: tls: is a single "
	    "value; expected a mapping", NULL);
}

Test(config, tls_fields)
{
	struct config	*c = parse_ok(ADMIN TLS "  password: s3cret\n"
	    "  ca: /etc/keyward/ca\n" FS);

	cr_assert_str_eq(c->tls.password, "s3cret");
	cr_assert_str_eq(c->tls.ca, "/etc/keyward/ca");
	config_free(c);
}

Test(config, tls_auth_values)
{
	static const struct {
		const char	*v;
		enum tls_auth	 want;
	} t[] = {
		{ "on", TLS_AUTH_ON }, { "ON", TLS_AUTH_ON },
		{ "On", TLS_AUTH_ON }, { "off", TLS_AUTH_OFF },
		{ "OFF", TLS_AUTH_OFF }, { "\"\"", TLS_AUTH_OFF },
	};
	struct config	*c;
	char		 yaml[1024];
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		snprintf(yaml, sizeof(yaml), ADMIN TLS "  auth: %s\n" FS,
		    t[i].v);
		c = parse_ok(yaml);
		cr_assert_eq(c->tls.auth, t[i].want, "auth: %s", t[i].v);
		config_free(c);
	}
}

Test(config, tls_auth_bad)
{
	parse_err(ADMIN TLS "  auth: verify\n" FS, "t.yml:6: tls.auth: "
	    "'verify' is not valid; expected on or off", NULL);
}

Test(config, proxy_identity_is_admin)
{
	parse_err(ADMIN "tls:\n  key: /k\n  cert: /c\n  proxy:\n"
	    "    identities:\n    - " ID_B "\n    - " ID_A "\n" FS,
	    "t.yml:9: tls.proxy.identities[1]: '" ID_A "' is the admin "
	    "identity; expected", NULL);
}

Test(config, proxy_parsed_and_warned)
{
	struct config	*c = parse_ok(ADMIN "tls:\n  key: /k\n  cert: /c\n"
	    "  proxy:\n    identities: [" ID_B "]\n"
	    "    header:\n      cert: X-Tls-Client-Cert\n" FS);

	cr_assert_eq(c->tls.nproxy_identities, 1);
	cr_assert_str_eq(c->tls.proxy_identities[0], ID_B);
	cr_assert_str_eq(c->tls.proxy_header_cert, "X-Tls-Client-Cert");
	has_warning(c, "t.yml:6: tls.proxy: ", "not used", NULL);
	config_free(c);
}

/* --- policies ----------------------------------------------------------- */

#define POLICY_OK \
	"policy:\n" \
	"  minio:\n" \
	"    allow:\n" \
	"    - /v1/key/create/minio-*\n" \
	"    - /v1/key/generate/*\n" \
	"    - /v1/status\n" \
	"    deny:\n" \
	"    - /v1/key/delete/*\n" \
	"    identities:\n" \
	"    - " ID_B "\n" \
	"  other:\n" \
	"    allow: []\n" \
	"    identities: [" ID_C "]\n" \
	"  empty:\n"

Test(config, policy_parsed)
{
	struct config	*c = parse_ok(BASE POLICY_OK);
	struct policy	*p;

	cr_assert_eq(c->npolicies, 3);
	p = &c->policies[0];
	cr_assert_str_eq(p->name, "minio");
	cr_assert_eq(p->nallow, 3);
	cr_assert_str_eq(p->allow[0], "/v1/key/create/minio-*");
	cr_assert_str_eq(p->allow[2], "/v1/status");
	cr_assert_eq(p->ndeny, 1);
	cr_assert_str_eq(p->deny[0], "/v1/key/delete/*");
	cr_assert_eq(p->nidentities, 1);
	cr_assert_str_eq(p->identities[0], ID_B);
	cr_assert_str_eq(c->policies[1].name, "other");
	cr_assert_eq(c->policies[1].nallow, 0);
	cr_assert_str_eq(c->policies[2].name, "empty");
	cr_assert_eq(c->policies[2].nidentities, 0);
	cr_assert_eq(c->nwarnings, 0, "unexpected warning: %s",
	    c->nwarnings ? c->warnings[0] : "");
	config_free(c);
}

Test(config, policy_admin_identity)
{
	parse_err(BASE "policy:\n  p:\n    identities:\n    - " ID_A "\n",
	    "t.yml:12: policy.p.identities[0]: '" ID_A "' is the admin "
	    "identity; expected admin.identity in no policy", NULL);
}

Test(config, policy_proxy_identity)
{
	parse_err(ADMIN "tls:\n  key: /k\n  cert: /c\n  proxy:\n"
	    "    identities: [" ID_C "]\n" FS "policy:\n  p:\n"
	    "    identities: [" ID_C "]\n",
	    "t.yml:13: policy.p.identities[0]: '" ID_C "' is a TLS proxy "
	    "identity; expected", NULL);
}

Test(config, policy_identity_twice)
{
	parse_err(BASE "policy:\n  p1:\n    identities: [" ID_B "]\n"
	    "  p2:\n    identities:\n    - " ID_C "\n    - " ID_B "\n",
	    "t.yml:15: policy.p2.identities[1]: identity '" ID_B "' already "
	    "has policy 'p1'; expected each identity in at most one policy",
	    NULL);
}

Test(config, policy_identity_twice_same_policy)
{
	parse_err(BASE "policy:\n  p1:\n    identities: [" ID_B ", " ID_B
	    "]\n", "t.yml:11: policy.p1.identities[1]: identity '" ID_B
	    "' already has policy 'p1'", NULL);
}

Test(config, policy_bad_name)
{
	parse_err(BASE "policy:\n  my.app:\n    allow: [/v1/status]\n",
	    "t.yml:10: policy.my.app: 'my.app' is not a valid policy name; "
	    "expected 1 to 80 characters", NULL);
	parse_err(BASE "policy:\n  -app:\n    allow: [/v1/status]\n",
	    "t.yml:10: policy.-app: '-app' is not a valid policy name", NULL);
}

Test(config, policy_bad_identity)
{
	parse_err(BASE "policy:\n  p:\n    identities: [not/hex]\n",
	    "t.yml:11: policy.p.identities[0]: 'not/hex' is not a valid "
	    "identity; expected", NULL);
	parse_err(BASE "policy:\n  p:\n    identities: [\"\"]\n",
	    "t.yml:11: policy.p.identities[0]: '' is not a valid identity",
	    NULL);
}

Test(config, policy_wrong_types)
{
	parse_err(BASE "policy:\n  p:\n    allow: /v1/status\n",
	    "t.yml:11: policy.p.allow: is a single value; expected a list",
	    NULL);
	parse_err(BASE "policy:\n  p: [a]\n",
	    "t.yml:10: policy.p: is a list; expected a mapping", NULL);
	parse_err(BASE "policy: [a]\n",
	    "t.yml:9: policy: is a list; expected a mapping", NULL);
	parse_err(BASE "policy:\n  p:\n    allow:\n    - {a: b}\n",
	    "t.yml:12: policy.p.allow[0]: is a mapping; expected a single "
	    "value", NULL);
}

Test(config, policy_patterns_not_substituted)
{
	struct config	*c;

	setenv("KW_PATTERN", "/v1/status", 1);
	setenv("KW_IDENT", ID_B, 1);
	c = parse_ok(BASE "policy:\n  p:\n    allow: [\"${KW_PATTERN}\"]\n"
	    "    deny: [\"${KW_PATTERN}\"]\n"
	    "    identities: [\"${KW_IDENT}\"]\n");
	cr_assert_str_eq(c->policies[0].allow[0], "${KW_PATTERN}");
	cr_assert_str_eq(c->policies[0].deny[0], "${KW_PATTERN}");
	cr_assert_str_eq(c->policies[0].identities[0], ID_B,
	    "identities are substituted");
	config_free(c);
}

Test(config, policy_pattern_warnings)
{
	struct config	*c = parse_ok(BASE "policy:\n  p:\n    allow:\n"
	    "    - /v1/key/*/my-key\n    - v1/status\n    - \"\"\n"
	    "    - /v1/key/generate/?\n    - \"*\"\n");

	has_warning(c, "t.yml:12: policy.p.allow[0]: '/v1/key/*/my-key'",
	    "only a trailing '*'", NULL);
	has_warning(c, "t.yml:13: policy.p.allow[1]: 'v1/status'",
	    "does not start with '/'", NULL);
	has_warning(c, "t.yml:14: policy.p.allow[2]: an empty pattern never "
	    "matches", NULL);
	has_warning(c, "t.yml:15: policy.p.allow[3]", "only a trailing",
	    NULL);
	cr_assert_eq(c->nwarnings, 4, "'*' alone is fine");
	config_free(c);
}

Test(config, policy_legacy_paths)
{
	struct config	*c = parse_ok(BASE "policy:\n  p:\n"
	    "    paths: [/v1/key/create/*]\n");

	cr_assert_eq(c->npolicies, 1);
	cr_assert_eq(c->policies[0].nallow, 1);
	cr_assert_str_eq(c->policies[0].allow[0], "/v1/key/create/*");
	has_warning(c, "t.yml:11: 'policy.p.paths' read as 'policy.p.allow'",
	    NULL);
	config_free(c);
	parse_err(BASE "policy:\n  p:\n    paths: [/a]\n    allow: [/b]\n",
	    "t.yml:11: policy.p.paths: set, and so is 'policy.p.allow' at "
	    "line 12", NULL);
}

/* --- cache -------------------------------------------------------------- */

Test(config, cache_values)
{
	struct config	*c = parse_ok(BASE "cache:\n  expiry:\n"
	    "    any: 1h30m\n    unused: 1.5s\n    offline: 300ms\n");

	cr_assert_eq(c->cache.any_ms, 90 * 60 * 1000);
	cr_assert_eq(c->cache.unused_ms, 1500);
	cr_assert_eq(c->cache.offline_ms, 300);
	config_free(c);
}

Test(config, cache_unused_unset_keeps_any)
{
	struct config	*c = parse_ok(BASE "cache:\n  expiry:\n    any: 1m\n");

	/* KES would set any to 30 s here (its configureCache bug). */
	cr_assert_eq(c->cache.any_ms, 60 * 1000);
	cr_assert_eq(c->cache.unused_ms, 30 * 1000);
	config_free(c);
}

Test(config, cache_zero_is_default)
{
	struct config	*c = parse_ok(BASE "cache:\n  expiry:\n"
	    "    any: 0\n    unused: 0s\n    offline: 0\n");

	cr_assert_eq(c->cache.any_ms, 5 * 60 * 1000);
	cr_assert_eq(c->cache.unused_ms, 30 * 1000);
	cr_assert_eq(c->cache.offline_ms, 0);
	config_free(c);
}

Test(config, cache_negative)
{
	parse_err(BASE "cache:\n  expiry:\n    any: -5m\n",
	    "t.yml:11: cache.expiry.any: negative duration '-5m'; expected a "
	    "duration of 0 or more", NULL);
	parse_err(BASE "cache:\n  expiry:\n    unused: -1s\n",
	    "t.yml:11: cache.expiry.unused: negative duration", NULL);
	parse_err(BASE "cache:\n  expiry:\n    offline: -1h\n",
	    "t.yml:11: cache.expiry.offline: negative duration", NULL);
}

Test(config, cache_bad_duration)
{
	parse_err(BASE "cache:\n  expiry:\n    any: 5\n",
	    "t.yml:11: cache.expiry.any: '5' is not a duration; expected a "
	    "Go duration", NULL);
	parse_err(BASE "cache:\n  expiry:\n    any: 5 minutes\n",
	    "t.yml:11: cache.expiry.any: '5 minutes' is not a duration", NULL);
}

/* --- log ---------------------------------------------------------------- */

Test(config, log_levels)
{
	struct config	*c = parse_ok(BASE "log:\n  error: 'off'\n"
	    "  audit: DEBUG\n");

	cr_assert_eq(c->log.error, LOG_LVL_OFF);
	cr_assert_eq(c->log.audit, LOG_LVL_DEBUG);
	config_free(c);
	/* Unquoted on/off are YAML 1.1 booleans to some; here, words. */
	c = parse_ok(BASE "log:\n  error: on\n  audit: off\n");
	cr_assert_eq(c->log.error, LOG_LVL_INFO);
	cr_assert_eq(c->log.audit, LOG_LVL_OFF);
	config_free(c);
}

Test(config, log_bad_level)
{
	parse_err(BASE "log:\n  error: verbose\n",
	    "t.yml:10: log.error: 'verbose' is not a log level; expected on, "
	    "off, DEBUG", NULL);
	parse_err(BASE "log:\n  audit: INFO-2\n",
	    "t.yml:10: log.audit: 'INFO-2' is not a log level", NULL);
}

/* --- api ---------------------------------------------------------------- */

Test(config, api_routes)
{
	struct config	*c = parse_ok(BASE "api:\n"
	    "  /v1/status:\n    timeout: 15s\n    skip_auth: true\n"
	    "  /v1/metrics:\n    skip_auth: yes\n"
	    "  /v1/key/generate/:\n    timeout: 0\n"
	    "  /version:\n");

	cr_assert_eq(c->napi, 4);
	cr_assert_str_eq(c->api[0].path, "/v1/status");
	cr_assert_eq(c->api[0].timeout_ms, 15000);
	cr_assert(c->api[0].skip_auth);
	cr_assert_str_eq(c->api[1].path, "/v1/metrics");
	cr_assert(c->api[1].skip_auth);
	cr_assert_eq(c->api[1].timeout_ms, 0);
	cr_assert_not(c->api[2].skip_auth);
	cr_assert_str_eq(c->api[3].path, "/version");
	config_free(c);
}

Test(config, api_negative_timeout)
{
	parse_err(BASE "api:\n  /v1/status:\n    timeout: -1s\n",
	    "t.yml:11: api./v1/status.timeout: negative duration '-1s'; "
	    "expected a duration of 0 or more", NULL);
}

Test(config, api_bad_skip_auth)
{
	parse_err(BASE "api:\n  /v1/status:\n    skip_auth: maybe\n",
	    "t.yml:11: api./v1/status.skip_auth: 'maybe' is not a boolean; "
	    "expected true or false", NULL);
}

Test(config, api_key_not_a_path)
{
	parse_err(BASE "api:\n  v1/status:\n    timeout: 1s\n",
	    "t.yml:10: api.v1/status: 'v1/status' is not a route path; "
	    "expected a path such as /v1/status", NULL);
}

Test(config, api_key_not_substituted)
{
	setenv("KW_ROUTE", "/v1/status", 1);
	parse_err(BASE "api:\n  ${KW_ROUTE}:\n    timeout: 1s\n",
	    "t.yml:10: api.${KW_ROUTE}: '${KW_ROUTE}' is not a route path",
	    NULL);
}

Test(config, api_values_substituted)
{
	struct config	*c;

	setenv("KW_TIMEOUT", "15s", 1);
	setenv("KW_SKIP", "true", 1);
	c = parse_ok(BASE "api:\n  /v1/metrics:\n    timeout: ${KW_TIMEOUT}\n"
	    "    skip_auth: ${KW_SKIP}\n");
	cr_assert_eq(c->api[0].timeout_ms, 15000);
	cr_assert(c->api[0].skip_auth);
	config_free(c);
}

/* --- keys --------------------------------------------------------------- */

Test(config, keys_parsed)
{
	struct config	*c = parse_ok(BASE "keys:\n  - name: minio-key\n"
	    "  - name: other_key\n");

	cr_assert_eq(c->nkeys, 2);
	cr_assert_str_eq(c->keys[0], "minio-key");
	cr_assert_str_eq(c->keys[1], "other_key");
	config_free(c);
}

Test(config, keys_duplicate)
{
	parse_err(BASE "keys:\n  - name: k1\n  - name: k2\n  - name: k1\n",
	    "t.yml:12: keys[2].name: key 'k1' is defined more than once; "
	    "expected unique key names", NULL);
}

Test(config, keys_bad_name)
{
	parse_err(BASE "keys:\n  - name: ../etc/passwd\n",
	    "t.yml:10: keys[0].name: '../etc/passwd' is not a valid key name; "
	    "expected 1 to 80 characters", NULL);
}

Test(config, keys_missing_name)
{
	parse_err(BASE "keys:\n  - nome: k1\n",
	    "t.yml:10: keys[0].name: missing; expected a key name", NULL);
	parse_err(BASE "keys:\n  - k1\n",
	    "t.yml:10: keys[0]: is a single value; expected a mapping", NULL);
}

Test(config, keys_legacy_keystore)
{
	parse_err(BASE "keys:\n  fs:\n    path: /x\n",
	    "t.yml:9: keys: set, and so is 'keystore' at line 6", NULL);
}

/* --- keystore ----------------------------------------------------------- */

#define AT	ADMIN TLS	/* lines 1-5; keystore: on line 6 */

Test(config, keystore_missing)
{
	parse_err(AT, "t.yml:1: keystore: no keystore specified; expected "
	    "one of fs, vault, kmip, fortanix, gemalto, gcp, aws, azure, entrust",
	    NULL);
	parse_err(AT "keystore:\n", "t.yml:6: keystore: no keystore "
	    "specified", NULL);
	parse_err(AT "keystore:\n  fs:\n", "t.yml:6: keystore: no keystore "
	    "specified", NULL);
}

Test(config, keystore_kes_unusable)
{
	parse_err(AT "keystore:\n  kes:\n"
	    "    endpoint: [https://127.0.0.1:7373]\n"
	    "    enclave: e\n    tls:\n      cert: c\n      key: k\n",
	    "t.yml:7: keystore.kes: no keystore specified", NULL);
}

Test(config, keystore_kes_next_to_fs)
{
	struct config	*c = parse_ok(AT "keystore:\n  kes:\n    enclave: e\n"
	    "  fs:\n    path: /x\n");

	cr_assert_eq(c->keystore.store, &ks_backend_fs);
	has_warning(c, "t.yml:7: key 'keystore.kes' ignored", NULL);
	config_free(c);
}

Test(config, keystore_generic_legacy)
{
	parse_err(AT "keystore:\n  generic:\n    endpoint: https://x\n",
	    "t.yml:7: keystore.generic: no keystore specified", "v0.22", NULL);
}

Test(config, keystore_two)
{
	parse_err(AT "keystore:\n  fs:\n    path: /x\n  aws:\n"
	    "    secretsmanager:\n      endpoint: e\n      region: r\n",
	    "t.yml:10: keystore: more than one keystore specified "
	    "(fs and aws); expected exactly one", NULL);
}

Test(config, keystore_wrapper_without_store)
{
	parse_err(AT "keystore:\n  fortanix:\n    sdkms:\n",
	    "t.yml:7: keystore.fortanix.sdkms: missing; expected the settings "
	    "of the fortanix store", NULL);
	parse_err(AT "keystore:\n  fortanix:\n    sdmks:\n      endpoint: x\n",
	    "t.yml:8: keystore.fortanix.sdmks: unknown key, did you mean "
	    "`sdkms`?; expected one of sdkms", NULL);
}

Test(config, fs_path_missing)
{
	parse_err(AT "keystore:\n  fs:\n    path: \"\"\n",
	    "t.yml:8: keystore.fs.path: is empty; expected the directory",
	    NULL);
	parse_err(AT "keystore:\n  fs:\n    path:\n",
	    "t.yml:8: keystore.fs.path: missing; expected the directory", NULL);
}

#define VAULT \
	"keystore:\n" \
	"  vault:\n" \
	"    endpoint: https://vault.example.com:8200\n"	/* 8 */

Test(config, vault_full)
{
	struct config		*c;

	c = parse_ok(AT VAULT
	    "    engine: secret\n    version: v2\n    namespace: ns1\n"
	    "    prefix: keyward\n"
	    "    transit:\n      engine: transit2\n      key: kw\n"
	    "    approle:\n      engine: ar\n      namespace: /\n"
	    "      id: role-id\n      secret: secret-id\n"
	    "    tls:\n      key: /v.key\n      cert: /v.crt\n"
	    "      ca: /v.ca\n"
	    "    status:\n      ping: 10s\n");
	cr_assert_eq(c->keystore.store, &ks_backend_vault);
	cr_assert_str_eq(CONF(c, vault_conf)->endpoint,
	    "https://vault.example.com:8200");
	cr_assert_str_eq(CONF(c, vault_conf)->engine, "secret");
	cr_assert_eq(CONF(c, vault_conf)->kv_version, 2);
	cr_assert_str_eq(CONF(c, vault_conf)->namespace, "ns1");
	cr_assert_str_eq(CONF(c, vault_conf)->prefix, "keyward");
	cr_assert_str_eq(CONF(c, vault_conf)->transit.engine, "transit2");
	cr_assert_str_eq(CONF(c, vault_conf)->transit.key, "kw");
	cr_assert_str_eq(CONF(c, vault_conf)->approle.engine, "ar");
	cr_assert_str_eq(CONF(c, vault_conf)->approle.namespace, "/");
	cr_assert_str_eq(CONF(c, vault_conf)->approle.id, "role-id");
	cr_assert_str_eq(CONF(c, vault_conf)->approle.secret, "secret-id");
	cr_assert_null(CONF(c, vault_conf)->kubernetes.jwt);
	cr_assert_str_eq(CONF(c, vault_conf)->tls.key, "/v.key");
	cr_assert_str_eq(CONF(c, vault_conf)->tls.cert, "/v.crt");
	cr_assert_str_eq(CONF(c, vault_conf)->tls.ca, "/v.ca");
	cr_assert_eq(CONF(c, vault_conf)->ping_ms, 10000);
	cr_assert_eq(c->nwarnings, 0, "unexpected warning: %s",
	    c->nwarnings ? c->warnings[0] : "");
	config_free(c);
}

Test(config, vault_kubernetes_token)
{
	struct config	*c = parse_ok(AT VAULT "    kubernetes:\n"
	    "      engine: k8s\n      role: kw\n      jwt: eyJhbGciOi.x.y\n");

	cr_assert_eq(CONF(c, vault_conf)->kv_version, 0, "unset means v1");
	cr_assert_str_eq(CONF(c, vault_conf)->kubernetes.engine, "k8s");
	cr_assert_str_eq(CONF(c, vault_conf)->kubernetes.role, "kw");
	cr_assert_str_eq(CONF(c, vault_conf)->kubernetes.jwt, "eyJhbGciOi.x.y");
	config_free(c);
}

Test(config, vault_kubernetes_jwt_file)
{
	struct config	*c;
	char		 path[] = "/tmp/kw-jwt-XXXXXX", yaml[1024];
	int		 fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_eq(write(fd, "token", 5), 5);
	close(fd);
	snprintf(yaml, sizeof(yaml), AT VAULT "    kubernetes:\n"
	    "      role: kw\n      jwt: %s\n", path);
	c = parse_ok(yaml);
	cr_assert_str_eq(CONF(c, vault_conf)->kubernetes.jwt, path);
	config_free(c);
	unlink(path);
}

Test(config, vault_kubernetes_jwt_unreadable)
{
	parse_err(AT VAULT "    kubernetes:\n      role: kw\n"
	    "      jwt: /nonexistent/kw/token\n",
	    "t.yml:11: keystore.vault.kubernetes.jwt: cannot read "
	    "'/nonexistent/kw/token': No such file or directory; expected",
	    NULL);
	parse_err(AT VAULT "    kubernetes:\n      role: kw\n      jwt: /tmp\n",
	    "t.yml:11: keystore.vault.kubernetes.jwt: '/tmp' is not a regular "
	    "file", NULL);
}

Test(config, vault_kubernetes_jwt_missing)
{
	parse_err(AT VAULT "    kubernetes:\n      role: kw\n",
	    "t.yml:9: keystore.vault.kubernetes.jwt: missing; expected a JWT",
	    NULL);
}

Test(config, vault_endpoint_missing)
{
	parse_err(AT "keystore:\n  vault:\n    approle:\n      id: a\n"
	    "      secret: b\n", "t.yml:7: keystore.vault.endpoint: missing; "
	    "expected the Vault URL", NULL);
}

Test(config, vault_no_auth)
{
	parse_err(AT VAULT, "t.yml:7: keystore.vault: no authentication "
	    "method; expected an approle or a kubernetes section", NULL);
}

Test(config, vault_both_auth)
{
	parse_err(AT VAULT "    approle:\n      id: a\n      secret: b\n"
	    "    kubernetes:\n      jwt: x\n",
	    "t.yml:12: keystore.vault: both approle and kubernetes are set; "
	    "expected exactly one", NULL);
}

Test(config, vault_approle_incomplete)
{
	parse_err(AT VAULT "    approle:\n      id: a\n",
	    "t.yml:9: keystore.vault.approle.secret: missing; expected the "
	    "AppRole secret ID", NULL);
	parse_err(AT VAULT "    approle:\n      secret: b\n",
	    "t.yml:9: keystore.vault.approle.id: missing; expected the "
	    "AppRole role ID", NULL);
}

#define APPROLE	"    approle:\n      id: a\n      secret: b\n"	/* 9-11 */

Test(config, vault_transit_needs_key)
{
	parse_err(AT VAULT APPROLE "    transit:\n      engine: transit\n",
	    "t.yml:12: keystore.vault.transit.key: missing; expected the name "
	    "of the transit key", NULL);
}

Test(config, vault_tls_key_without_cert)
{
	parse_err(AT VAULT APPROLE "    tls:\n      key: /v.key\n",
	    "t.yml:12: keystore.vault.tls.cert: missing; expected a client "
	    "certificate", NULL);
}

Test(config, vault_tls_cert_without_key)
{
	parse_err(AT VAULT APPROLE "    tls:\n      cert: /v.crt\n",
	    "t.yml:12: keystore.vault.tls.key: missing; expected a private "
	    "key", NULL);
}

Test(config, vault_bad_version)
{
	parse_err(AT VAULT APPROLE "    version: v3\n",
	    "t.yml:12: keystore.vault.version: 'v3' is not a K/V engine "
	    "version; expected v1 or v2", NULL);
}

Test(config, vault_legacy_retry)
{
	struct config	*c = parse_ok(AT VAULT APPROLE "      retry: 15s\n");

	has_warning(c, "t.yml:12: key 'keystore.vault.approle.retry' ignored",
	    NULL);
	config_free(c);
}

Test(config, fortanix_full)
{
	struct config	*c = parse_ok(AT "keystore:\n  fortanix:\n    sdkms:\n"
	    "      endpoint: https://sdkms.fortanix.com\n      group_id: g\n"
	    "      credentials:\n        key: api-key\n"
	    "      tls:\n        ca: /f.ca\n");

	cr_assert_eq(c->keystore.store, &ks_backend_fortanix);
	cr_assert_str_eq(CONF(c, fortanix_conf)->endpoint,
	    "https://sdkms.fortanix.com");
	cr_assert_str_eq(CONF(c, fortanix_conf)->group_id, "g");
	cr_assert_str_eq(CONF(c, fortanix_conf)->key, "api-key");
	cr_assert_str_eq(CONF(c, fortanix_conf)->ca, "/f.ca");
	config_free(c);
}

Test(config, fortanix_requirements)
{
	parse_err(AT "keystore:\n  fortanix:\n    sdkms:\n"
	    "      credentials:\n        key: k\n",
	    "t.yml:8: keystore.fortanix.sdkms.endpoint: missing; expected",
	    NULL);
	parse_err(AT "keystore:\n  fortanix:\n    sdkms:\n      endpoint: e\n",
	    "t.yml:8: keystore.fortanix.sdkms.credentials.key: missing; "
	    "expected the SDKMS API key", NULL);
}

Test(config, gemalto_full)
{
	struct config	*c = parse_ok(AT "keystore:\n  gemalto:\n"
	    "    keysecure:\n      endpoint: https://ks\n      credentials:\n"
	    "        token: tok\n        domain: dom\n        retry: 15s\n"
	    "      tls:\n        ca: /g.ca\n");

	cr_assert_eq(c->keystore.store, &ks_backend_gemalto);
	cr_assert_str_eq(CONF(c, gemalto_conf)->endpoint, "https://ks");
	cr_assert_str_eq(CONF(c, gemalto_conf)->token, "tok");
	cr_assert_str_eq(CONF(c, gemalto_conf)->domain, "dom");
	cr_assert_str_eq(CONF(c, gemalto_conf)->ca, "/g.ca");
	/* keyward C3: credentials.retry is honoured, not ignored. */
	cr_assert_eq(CONF(c, gemalto_conf)->retry_ms, 15000);
	cr_assert_eq(c->nwarnings, 0, "%s", c->nwarnings ? c->warnings[0] :
	    "");
	config_free(c);
}

/* C6: a trailing '/' of the endpoint is dropped; no retry is 0 (5 s). */
Test(config, gemalto_endpoint_slash)
{
	struct config	*c = parse_ok(AT "keystore:\n  gemalto:\n"
	    "    keysecure:\n      endpoint: https://ks:8443//\n"
	    "      credentials:\n        token: tok\n");

	cr_assert_str_eq(CONF(c, gemalto_conf)->endpoint, "https://ks:8443");
	cr_assert_eq(CONF(c, gemalto_conf)->retry_ms, 0);
	cr_assert_null(CONF(c, gemalto_conf)->domain);
	config_free(c);
}

Test(config, gemalto_requirements)
{
	parse_err(AT "keystore:\n  gemalto:\n    keysecure:\n"
	    "      endpoint: https://ks\n",
	    "t.yml:8: keystore.gemalto.keysecure.credentials.token: missing; "
	    "expected", NULL);
	parse_err(AT "keystore:\n  gemalto:\n    keysecure:\n"
	    "      credentials: {token: t}\n",
	    "t.yml:8: keystore.gemalto.keysecure.endpoint: missing", NULL);
}

Test(config, gcp_full)
{
	struct config	*c = parse_ok(AT "keystore:\n  gcp:\n"
	    "    secretmanager:\n      project_id: proj\n"
	    "      endpoint: secretmanager.googleapis.com:443\n"
	    "      scopes:\n"
	    "      - https://www.googleapis.com/auth/cloud-platform\n"
	    "      credentials:\n        client_email: a@b\n"
	    "        client_id: cid\n        private_key_id: kid\n"
	    "        private_key: |\n          -----BEGIN PRIVATE KEY-----\n"
	    "          abc\n          -----END PRIVATE KEY-----\n");

	cr_assert_eq(c->keystore.store, &ks_backend_gcp);
	cr_assert_str_eq(CONF(c, gcp_conf)->project_id, "proj");
	cr_assert_str_eq(CONF(c, gcp_conf)->endpoint,
	    "secretmanager.googleapis.com:443");
	cr_assert_eq(CONF(c, gcp_conf)->nscopes, 1);
	cr_assert_str_eq(CONF(c, gcp_conf)->scopes[0],
	    "https://www.googleapis.com/auth/cloud-platform");
	cr_assert_str_eq(CONF(c, gcp_conf)->client_email, "a@b");
	cr_assert_str_eq(CONF(c, gcp_conf)->client_id, "cid");
	cr_assert_str_eq(CONF(c, gcp_conf)->private_key_id, "kid");
	cr_assert_str_eq(CONF(c, gcp_conf)->private_key,
	    "-----BEGIN PRIVATE KEY-----\n"
	    "abc\n-----END PRIVATE KEY-----\n");
	config_free(c);
}

Test(config, gcp_requirements)
{
	parse_err(AT "keystore:\n  gcp:\n    secretmanager:\n"
	    "      endpoint: x\n",
	    "t.yml:8: keystore.gcp.secretmanager.project_id: missing; expected "
	    "the GCP project ID", NULL);
}

Test(config, aws_full)
{
	struct config	*c = parse_ok(AT "keystore:\n  aws:\n"
	    "    secretsmanager:\n"
	    "      endpoint: secretsmanager.us-east-2.amazonaws.com\n"
	    "      region: us-east-2\n      kmskey: alias/kw\n"
	    "      credentials:\n        accesskey: AK\n        secretkey: SK\n"
	    "        token: ST\n");

	cr_assert_eq(c->keystore.store, &ks_backend_aws);
	cr_assert_str_eq(CONF(c, aws_conf)->endpoint,
	    "secretsmanager.us-east-2.amazonaws.com");
	cr_assert_str_eq(CONF(c, aws_conf)->region, "us-east-2");
	cr_assert_str_eq(CONF(c, aws_conf)->kmskey, "alias/kw");
	cr_assert_str_eq(CONF(c, aws_conf)->accesskey, "AK");
	cr_assert_str_eq(CONF(c, aws_conf)->secretkey, "SK");
	cr_assert_str_eq(CONF(c, aws_conf)->token, "ST");
	cr_assert_eq(CONF(c, aws_conf)->src, AWS_SRC_STATIC);
	/* Served (keystore-agent/aws.c). */
	cr_assert(ks_served(c->keystore.store));
	cr_assert_not_null(strstr(ks_supported(), "aws"));
	config_free(c);
}

Test(config, aws_requirements)
{
	parse_err(AT "keystore:\n  aws:\n    secretsmanager:\n"
	    "      endpoint: e\n",
	    "t.yml:8: keystore.aws.secretsmanager.region: missing; expected an "
	    "AWS region", NULL);
	parse_err(AT "keystore:\n  aws:\n    secretsmanager:\n"
	    "      region: r\n",
	    "t.yml:8: keystore.aws.secretsmanager.endpoint: missing", NULL);
}

Test(config, azure_credentials)
{
	struct config	*c = parse_ok(AT "keystore:\n  azure:\n    keyvault:\n"
	    "      endpoint: https://kw.vault.azure.net\n      credentials:\n"
	    "        tenant_id: t\n        client_id: c\n"
	    "        client_secret: s\n");

	cr_assert_eq(c->keystore.store, &ks_backend_azure);
	cr_assert_str_eq(CONF(c, azure_conf)->endpoint,
	    "https://kw.vault.azure.net");
	cr_assert_str_eq(CONF(c, azure_conf)->tenant_id, "t");
	cr_assert_str_eq(CONF(c, azure_conf)->client_id, "c");
	cr_assert_str_eq(CONF(c, azure_conf)->client_secret, "s");
	cr_assert_null(CONF(c, azure_conf)->managed_client_id);
	config_free(c);
}

Test(config, azure_managed_identity_and_default_chain)
{
	struct config	*c;

	c = parse_ok(AT "keystore:\n  azure:\n    keyvault:\n"
	    "      endpoint: https://kw\n      managed_identity:\n"
	    "        client_id: mi\n");
	cr_assert_str_eq(CONF(c, azure_conf)->managed_client_id, "mi");
	cr_assert_null(CONF(c, azure_conf)->client_secret);
	config_free(c);
	c = parse_ok(AT "keystore:\n  azure:\n    keyvault:\n"
	    "      endpoint: https://kw\n");
	cr_assert_eq(c->keystore.store, &ks_backend_azure);
	config_free(c);
}

Test(config, azure_requirements)
{
	parse_err(AT "keystore:\n  azure:\n    keyvault:\n"
	    "      endpoint: https://kw\n      credentials:\n"
	    "        tenant_id: t\n        client_id: c\n"
	    "      managed_identity:\n        client_id: mi\n",
	    "t.yml:13: keystore.azure.keyvault: both credentials and "
	    "managed_identity are set; expected at most one", NULL);
	parse_err(AT "keystore:\n  azure:\n    keyvault:\n"
	    "      endpoint: https://kw\n      credentials:\n"
	    "        tenant_id: t\n        client_id: c\n",
	    "t.yml:10: keystore.azure.keyvault.credentials.client_secret: "
	    "missing; expected the Azure client secret", NULL);
	parse_err(AT "keystore:\n  azure:\n    keyvault:\n"
	    "      endpoint: https://kw\n      managed_identity:\n"
	    "        client_id: \"\"\n",
	    "t.yml:11: keystore.azure.keyvault.managed_identity.client_id: "
	    "is empty", NULL);
	parse_err(AT "keystore:\n  azure:\n    keyvault:\n      credentials:\n"
	    "        tenant_id: t\n",
	    "t.yml:8: keystore.azure.keyvault.endpoint: missing", NULL);
}

#define ENTRUST(drop) \
	AT "keystore:\n  entrust:\n    keycontrol:\n" \
	"      endpoint: https://kc\n      vault_id: v\n      box_id: b\n" \
	"      credentials:\n        username: u\n" drop \
	"      tls:\n        ca: /e.ca\n"

Test(config, entrust_full)
{
	struct config	*c = parse_ok(ENTRUST("        password: p\n"));

	cr_assert_eq(c->keystore.store, &ks_backend_entrust);
	cr_assert_str_eq(CONF(c, entrust_conf)->endpoint, "https://kc");
	cr_assert_str_eq(CONF(c, entrust_conf)->vault_id, "v");
	cr_assert_str_eq(CONF(c, entrust_conf)->box_id, "b");
	cr_assert_str_eq(CONF(c, entrust_conf)->username, "u");
	cr_assert_str_eq(CONF(c, entrust_conf)->password, "p");
	cr_assert_str_eq(CONF(c, entrust_conf)->ca, "/e.ca");
	config_free(c);
}

Test(config, entrust_requirements)
{
	parse_err(ENTRUST(""), "t.yml:12: keystore.entrust.keycontrol."
	    "credentials.password: missing; expected the user's password",
	    NULL);
	parse_err(AT "keystore:\n  entrust:\n    keycontrol:\n"
	    "      endpoint: https://kc\n      box_id: b\n",
	    "t.yml:8: keystore.entrust.keycontrol.vault_id: missing", NULL);
	parse_err(AT "keystore:\n  entrust:\n    keycontrol:\n"
	    "      endpoint: https://kc\n      vault_id: v\n      box_id: b\n",
	    "t.yml:8: keystore.entrust.keycontrol.credentials.username: "
	    "missing", NULL);
}

/* --- server ------------------------------------------------------------- */

Test(config, server_section)
{
	struct config	*c = parse_ok(BASE "server:\n  workers: 4\n"
	    "  user: _keyward\n  chroot: /var/empty\n  mlock: off\n");

	cr_assert_eq(c->server.workers, 4);
	cr_assert_str_eq(c->server.user, "_keyward");
	cr_assert_str_eq(c->server.chroot, "/var/empty");
	cr_assert_not(c->server.mlock);
	config_free(c);
	c = parse_ok(BASE "server:\n  workers: 256\n  mlock: true\n");
	cr_assert_eq(c->server.workers, 256);
	cr_assert(c->server.mlock);
	config_free(c);
}

Test(config, server_workers_range)
{
	parse_err(BASE "server:\n  workers: 0\n", "t.yml:10: server.workers: "
	    "'0' is not a worker count; expected an integer from 1 to 256",
	    NULL);
	parse_err(BASE "server:\n  workers: 257\n", "t.yml:10: "
	    "server.workers: '257' is not a worker count", NULL);
	parse_err(BASE "server:\n  workers: 99999999999999999999\n",
	    "t.yml:10: server.workers: ", NULL);
	parse_err(BASE "server:\n  workers: -1\n", "t.yml:10: "
	    "server.workers: '-1'", NULL);
	parse_err(BASE "server:\n  workers: four\n", "t.yml:10: "
	    "server.workers: 'four'", NULL);
}

Test(config, server_crypto)
{
	struct config *c;

	c = parse_ok(BASE "server:\n  workers: 8\n");
	cr_assert_eq(c->server.crypto, 0, "auto unless set");
	config_free(c);
	c = parse_ok(BASE "server:\n  crypto: auto\n");
	cr_assert_eq(c->server.crypto, 0);
	config_free(c);
	c = parse_ok(BASE "server:\n  crypto: 3\n");
	cr_assert_eq(c->server.crypto, 3);
	config_free(c);
	c = parse_ok(BASE "server:\n  crypto: 32\n");
	cr_assert_eq(c->server.crypto, CRYPTO_MAX);
	config_free(c);
	parse_err(BASE "server:\n  crypto: 0\n", "t.yml:10: server.crypto: "
	    "'0' is not a count of crypto processes; expected an integer "
	    "from 1 to 32 or auto", NULL);
	parse_err(BASE "server:\n  crypto: 33\n", "t.yml:10: "
	    "server.crypto: '33' is not a count", NULL);
	parse_err(BASE "server:\n  crypto: many\n", "t.yml:10: "
	    "server.crypto: 'many'", NULL);
	parse_err(BASE "server:\n  crypto: [2]\n", "t.yml:10: "
	    "server.crypto", NULL);
}

Test(config, server_user_empty)
{
	parse_err(BASE "server:\n  user: \"\"\n", "t.yml:10: server.user: is "
	    "empty; expected the user the children run as", NULL);
}

Test(config, server_chroot_relative)
{
	parse_err(BASE "server:\n  chroot: var/empty\n", "t.yml:10: "
	    "server.chroot: 'var/empty' is not an absolute path; expected",
	    NULL);
}

Test(config, server_mlock_bad)
{
	parse_err(BASE "server:\n  mlock: sometimes\n", "t.yml:10: "
	    "server.mlock: 'sometimes' is not a boolean; expected true or "
	    "false", NULL);
}

/* --- ${VAR} substitution ------------------------------------------------ */

Test(config, env_present)
{
	struct config	*c;

	setenv("KW_ADMIN", ID_B, 1);
	setenv("KW_KEYPATH", "/run/secrets/key.pem", 1);
	setenv("KW_ANY", "2m", 1);
	setenv("KW_WORKERS", "3", 1);
	setenv("KW_MLOCK", "false", 1);
	setenv("KW_SECRET", "hunter2", 1);
	c = parse_ok("admin:\n  identity: ${KW_ADMIN}\n"
	    "tls:\n  key: \"  ${ KW_KEYPATH }  \"\n  cert: /c.pem\n"
	    "  password: '${KW_SECRET}'\n" FS
	    "cache:\n  expiry:\n    any: ${KW_ANY}\n"
	    "server:\n  workers: ${KW_WORKERS}\n  mlock: ${KW_MLOCK}\n");
	cr_assert_str_eq(c->admin_identity, ID_B);
	cr_assert_str_eq(c->tls.key, "/run/secrets/key.pem");
	cr_assert_str_eq(c->tls.password, "hunter2");
	cr_assert_eq(c->cache.any_ms, 120000);
	cr_assert_eq(c->server.workers, 3);
	cr_assert_not(c->server.mlock);
	config_free(c);
}

Test(config, env_missing)
{
	unsetenv("KW_NOT_SET");
	parse_err(BASE "keys:\n  - name: ${KW_NOT_SET}\n",
	    "t.yml:10: keys[0].name: environment variable 'KW_NOT_SET' is not "
	    "set; expected", NULL);
}

Test(config, env_missing_in_keystore_secret)
{
	unsetenv("KW_VAULT_SECRET");
	parse_err(AT VAULT "    approle:\n      id: a\n"
	    "      secret: ${KW_VAULT_SECRET}\n",
	    "t.yml:11: keystore.vault.approle.secret: environment variable "
	    "'KW_VAULT_SECRET' is not set", NULL);
}

Test(config, env_empty_value)
{
	setenv("KW_EMPTY", "", 1);
	parse_err("admin:\n  identity: ${KW_EMPTY}\n" TLS FS,
	    "t.yml:2: admin.identity: is empty", NULL);
}

Test(config, env_partial_literal_values)
{
	struct config	*c;

	setenv("KW_X", "expanded", 1);
	c = parse_ok(BASE "server:\n  user: ${KW_X}-user\n"
	    "  chroot: /x/${KW_X}\n");
	cr_assert_str_eq(c->server.user, "${KW_X}-user");
	cr_assert_str_eq(c->server.chroot, "/x/${KW_X}");
	config_free(c);
}

Test(config, env_value_not_resubstituted)
{
	struct config	*c;

	setenv("KW_INDIRECT", "${KW_OTHER}", 1);
	c = parse_ok(BASE "server:\n  user: ${KW_INDIRECT}\n");
	cr_assert_str_eq(c->server.user, "${KW_OTHER}");
	config_free(c);
}

/* --- warnings, types, YAML ---------------------------------------------- */

Test(config, unknown_keys_warn)
{
	struct config	*c = parse_ok(BASE "colour: blue\n"
	    "cache:\n  expiry:\n    any: 1m\n    sometimes: 2m\n"
	    "  size: 10\n"
	    "keystore2:\n  x: 1\n");

	has_warning(c, "t.yml:9: unknown key 'colour' ignored", NULL);
	has_warning(c, "t.yml:13: unknown key 'cache.expiry.sometimes' "
	    "ignored", NULL);
	has_warning(c, "t.yml:14: unknown key 'cache.size' ignored", NULL);
	has_warning(c, "t.yml:15: unknown key 'keystore2' ignored", NULL);
	cr_assert_eq(c->nwarnings, 4);
	config_free(c);
}

Test(config, unknown_keys_in_keystore_refused)
{
	parse_err(AT "keystore:\n  fs:\n    path: /x\n    mode: 0700\n",
	    "t.yml:9: keystore.fs.mode: unknown key; expected one of path",
	    NULL);
}

/*
 * A misspelt key where it changes what is protected, or how, is refused
 * with the line, the key and the nearest known spelling: each entry is a
 * file, the start of the error and the suggestion.
 */
static const struct {
	const char	*yaml, *prefix, *hint;
} misspelt[] = {
	{ ADMIN "tls:\n  key: /k\n  cert: /c\n  auht: on\n" FS,
	    "t.yml:6: tls.auht: unknown key", "`auth`" },
	{ ADMIN "tls:\n  key: /k\n  cret: /c\n" FS,
	    "t.yml:5: tls.cret: unknown key", "`cert`" },
	{ ADMIN "tls:\n  key: /k\n  cert: /c\n  pasword: x\n" FS,
	    "t.yml:6: tls.pasword: unknown key", "`password`" },
	{ ADMIN "tls:\n  key: /k\n  cert: /c\n  proxy:\n    identites: []\n"
	    FS, "t.yml:7: tls.proxy.identites: unknown key", "`identities`" },
	{ ADMIN "tls:\n  key: /k\n  cert: /c\n  proxy:\n    header:\n"
	    "      crt: X\n" FS, "t.yml:8: tls.proxy.header.crt: unknown key",
	    "`cert`" },
	{ "admin:\n  identiy: " ID_A "\n" TLS FS,
	    "t.yml:2: admin.identiy: unknown key", "`identity`" },
	{ BASE "policy:\n  app:\n    alow: [/v1/status]\n",
	    "t.yml:11: policy.app.alow: unknown key", "`allow`" },
	{ BASE "policy:\n  app:\n    dney: [/v1/status]\n",
	    "t.yml:11: policy.app.dney: unknown key", "`deny`" },
	{ BASE "policy:\n  app:\n    identites: []\n",
	    "t.yml:11: policy.app.identites: unknown key", "`identities`" },
	{ AT "keystore:\n  fs:\n    path: /x\n  seel:\n    pkcs11: {}\n",
	    "t.yml:9: keystore.seel: unknown key", "`seal`" },
	{ AT "keystore:\n  vualt:\n    endpoint: https://v:8200\n",
	    "t.yml:7: keystore.vualt: unknown key", "`vault`" },
	{ AT "keystore:\n  fs:\n    pth: /x\n",
	    "t.yml:8: keystore.fs.pth: unknown key", "`path`" },
	{ AT "keystore:\n  vault:\n    endpiont: https://v:8200\n",
	    "t.yml:8: keystore.vault.endpiont: unknown key", "`endpoint`" },
	{ AT "keystore:\n  vault:\n    endpoint: https://v:8200\n"
	    "    approle:\n      id: a\n      secert: b\n",
	    "t.yml:11: keystore.vault.approle.secert: unknown key",
	    "`secret`" },
	{ AT "keystore:\n  vault:\n    endpoint: https://v:8200\n"
	    "    kubernetes:\n      role: r\n      jtw: j\n",
	    "t.yml:11: keystore.vault.kubernetes.jtw: unknown key", "`jwt`" },
	{ AT "keystore:\n  vault:\n    endpoint: https://v:8200\n"
	    "    approle:\n      id: a\n      secret: b\n"
	    "    tls:\n      ca_file: /ca\n",
	    "t.yml:13: keystore.vault.tls.ca_file: unknown key", "`ca`" },
	{ AT "keystore:\n  aws:\n    secretsmanger:\n      endpoint: e\n",
	    "t.yml:8: keystore.aws.secretsmanger: unknown key",
	    "`secretsmanager`" },
	{ AT "keystore:\n  aws:\n    secretsmanager:\n      endpoint: e\n"
	    "      region: r\n      credentials:\n        accesskey: a\n"
	    "        secretkye: s\n",
	    "t.yml:13: keystore.aws.secretsmanager.credentials.secretkye: "
	    "unknown key", "`secretkey`" },
	{ AT "keystore:\n  gemalto:\n    keysecure:\n      endpoint: "
	    "https://g\n      credentials:\n        tokn: t\n",
	    "t.yml:11: keystore.gemalto.keysecure.credentials.tokn: unknown "
	    "key", "`token`" },
	{ AT "keystore:\n  kmip:\n    endpoint: k:5696\n",
	    "t.yml:8: keystore.kmip.endpoint: unknown key", "`endpoints`" },
	{ AT "keystore:\n  fs:\n    path: /x\n  seal:\n    pkcs11:\n"
	    "      moduel: /m.so\n",
	    "t.yml:11: keystore.seal.pkcs11.moduel: unknown key", "`module`" },
	{ AT "keystore:\n  fs:\n    path: /x\n  kes:\n    tls:\n"
	    "      crt: c\n", "t.yml:11: keystore.kes.tls.crt: unknown key",
	    "`cert`" },
	{ BASE "server:\n  chrot: /var/empty/keyward\n",
	    "t.yml:10: server.chrot: unknown key", "`chroot`" },
	{ BASE "server:\n  mlok: off\n",
	    "t.yml:10: server.mlok: unknown key", "`mlock`" },
	{ BASE "server:\n  Workers: 2\n",
	    "t.yml:10: server.Workers: unknown key", "`workers`" },
};

Test(config, misspelt_security_keys_refused)
{
	size_t	 i;

	for (i = 0; i < sizeof(misspelt) / sizeof(misspelt[0]); i++)
		parse_err(misspelt[i].yaml, misspelt[i].prefix,
		    "did you mean ", misspelt[i].hint, NULL);
}

/* Nothing near enough: no guess, the list of what the section holds. */
Test(config, unknown_security_key_without_suggestion)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN];
	const char	*y = ADMIN "tls:\n  key: /k\n  cert: /c\n"
	    "  colour: blue\n" FS;

	cr_assert_eq(config_parse(y, strlen(y), "t.yml", &c, err,
	    sizeof(err)), -1);
	cr_expect(strstr(err, "did you mean") == NULL, "%s", err);
	cr_expect(strstr(err, "t.yml:6: tls.colour: unknown key; expected "
	    "one of key, cert, password, auth, ca, proxy") != NULL, "%s", err);
}

/* Outside those sections a misspelling stays a warning, with the guess. */
Test(config, misspelt_other_keys_warn)
{
	struct config	*c = parse_ok("adress: 0.0.0.0:7373\n" BASE
	    "cache:\n  expiry:\n    unsued: 1m\nlog:\n  eror: on\n"
	    "keys:\n  - name: a\n    nmae: b\n");

	has_warning(c, "t.yml:1: unknown key 'adress' ignored, did you mean "
	    "`address`?", NULL);
	has_warning(c, "t.yml:12: unknown key 'cache.expiry.unsued' ignored, "
	    "did you mean `unused`?", NULL);
	has_warning(c, "t.yml:14: unknown key 'log.eror' ignored, did you "
	    "mean `error`?", NULL);
	has_warning(c, "t.yml:17: unknown key 'keys[0].nmae' ignored, did "
	    "you mean `name`?", NULL);
	config_free(c);
}

/* Keys of older KES releases in a strict section are known, not read. */
Test(config, legacy_keystore_keys_known)
{
	/* Translated (config_legacy.c), so what is missing is what the
	 * store needs, never an unknown key. */
	parse_err(AT "keystore:\n  vault:\n    address: https://v:8200\n"
	    "    name: kv\n", "t.yml:7: keystore.vault: no authentication "
	    "method", NULL);
	parse_err(AT "keystore:\n  aws:\n    secrets_manager:\n"
	    "      address: x\n", "t.yml:8: keystore.aws.secretsmanager", NULL);
}

Test(config, duplicate_key)
{
	parse_err(BASE "admin:\n  identity: " ID_B "\n", "t.yml:9: admin: "
	    "defined more than once; expected each key once", NULL);
	parse_err("admin:\n  identity: a\n  identity: b\n" TLS FS,
	    "t.yml:3: admin.identity: defined more than once", NULL);
}

Test(config, wrong_type_list_for_string)
{
	parse_err(ADMIN "tls:\n  key: [a, b]\n  cert: /c\n" FS,
	    "t.yml:4: tls.key: is a list; expected a single value", NULL);
}

Test(config, non_scalar_key)
{
	parse_err(BASE "? [a, b]\n: c\n", "t.yml:9: config: a key is a list; "
	    "expected a field name", NULL);
}

Test(config, nul_in_value)
{
	parse_err(ADMIN "tls:\n  key: \"/k\\0.pem\"\n  cert: /c\n" FS,
	    "t.yml:4: tls.key: contains a NUL character; expected text", NULL);
}

Test(config, root_not_mapping)
{
	parse_err("- a\n- b\n", "t.yml:1: config: is a list; expected a "
	    "mapping", NULL);
	parse_err("", "t.yml:1: config: the file is empty", NULL);
	parse_err("# only a comment\n", "t.yml:1: config: the file is empty",
	    NULL);
}

Test(config, yaml_syntax_error_line)
{
	parse_err(BASE "policy:\n  p:\n    allow: [/v1/status\n"
	    "    deny: []\n", "t.yml:12: yaml: did not find expected ',' or "
	    "']'", "line 11", "expected valid YAML", NULL);
	parse_err(ADMIN "tls:\n  key: a\n cert: b\n", "t.yml:5: yaml: ",
	    NULL);
}

Test(config, yaml_reader_error_line)
{
	parse_err(BASE "server:\n  user: \"\x01\"\n", "t.yml:10: yaml: ",
	    "control characters", NULL);
}

Test(config, yaml_two_documents)
{
	parse_err(BASE "---\nadmin:\n  identity: x\n", "t.yml:9: yaml: a "
	    "second YAML document; expected one document", NULL);
}

Test(config, yaml_anchors)
{
	struct config	*c = parse_ok(BASE "policy:\n  p1:\n"
	    "    allow: &routes [/v1/status, /v1/metrics]\n"
	    "    identities: [" ID_B "]\n  p2:\n    allow: *routes\n"
	    "    identities: [" ID_C "]\n");

	cr_assert_eq(c->policies[1].nallow, 2);
	cr_assert_str_eq(c->policies[1].allow[1], "/v1/metrics");
	config_free(c);
}

Test(config, yaml_undefined_alias)
{
	parse_err(BASE "server:\n  user: *nobody\n", "t.yml:10: yaml: alias "
	    "'*nobody' names no anchor; expected an anchor defined before it",
	    NULL);
}

Test(config, yaml_depth_limit)
{
	char	*yaml;
	size_t	 n = strlen(BASE), i;

	/* A million '[' once took libyaml's own loader half an hour. */
	yaml = malloc(n + 6 + 100000 + 1);
	cr_assert_not_null(yaml);
	memcpy(yaml, BASE "keys: ", n + 6);
	for (i = 0; i < 100000; i++)
		yaml[n + 6 + i] = '[';
	yaml[n + 6 + i] = '\0';
	parse_err(yaml, "t.yml:9: yaml: nested more than 64 levels deep; "
	    "expected a flatter file", NULL);
	free(yaml);
}

Test(config, yaml_anchor_cycle)
{
	struct config	*c;

	/* The walk follows the schema, so a cycle ends where it does. */
	parse_err(BASE "policy: &p\n  a: *p\n", "t.yml:10: policy.a.a: "
	    "unknown key", NULL);
	c = parse_ok(BASE "cache: &p\n  expiry: *p\n");
	has_warning(c, "unknown key 'cache.expiry.expiry' ignored", NULL);
	config_free(c);
	parse_err(BASE "keys: &k\n- name: a\n- *k\n", "t.yml:9: keys[1]: "
	    "is a list; expected a mapping", NULL);
}

Test(config, too_large)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN];
	char		*big;
	size_t		 len = 2 * 1024 * 1024;

	big = malloc(len);
	cr_assert_not_null(big);
	memset(big, '#', len);
	cr_assert_eq(config_parse(big, len, "t.yml", &c, err, sizeof(err)),
	    -1);
	cr_assert_null(c);
	cr_assert(strstr(err, "t.yml:1: config: larger than") == err, "%s",
	    err);
	free(big);
}

/* --- config_load -------------------------------------------------------- */

Test(config, load_file)
{
	struct config	*c = NULL;
	char		 path[] = "/tmp/kw-config-XXXXXX", err[CONFIG_ERRLEN];
	const char	*yaml = BASE "address: 127.0.0.1:7373\nbogus: 1\n";
	int		 fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	cr_assert_eq(config_load(path, &c, err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(c->file, path);
	cr_assert_str_eq(c->address, "127.0.0.1:7373");
	cr_assert_eq(c->nwarnings, 1);
	cr_assert(strncmp(c->warnings[0], path, strlen(path)) == 0);
	cr_assert(strstr(c->warnings[0], ":10: unknown key 'bogus'") != NULL,
	    "%s", c->warnings[0]);
	config_free(c);
	unlink(path);
}

Test(config, load_file_error_names_file)
{
	struct config	*c = NULL;
	char		 path[] = "/tmp/kw-config-XXXXXX", err[CONFIG_ERRLEN];
	char		 want[64];
	const char	*yaml = ADMIN TLS;
	int		 fd;

	cr_assert_neq(fd = mkstemp(path), -1);
	cr_assert_eq(write(fd, yaml, strlen(yaml)), (ssize_t)strlen(yaml));
	close(fd);
	cr_assert_eq(config_load(path, &c, err, sizeof(err)), -1);
	cr_assert_null(c);
	snprintf(want, sizeof(want), "%s:1: keystore: no keystore", path);
	cr_assert(strncmp(err, want, strlen(want)) == 0, "%s", err);
	unlink(path);
}

Test(config, load_missing_file)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN];

	cr_assert_eq(config_load("/nonexistent/keyward.yml", &c, err,
	    sizeof(err)), -1);
	cr_assert_null(c);
	cr_assert(strstr(err, "/nonexistent/keyward.yml: cannot open: No such "
	    "file or directory; expected") == err, "%s", err);
	cr_assert_eq(config_load("/tmp", &c, err, sizeof(err)), -1);
	cr_assert(strstr(err, "not a regular file") != NULL, "%s", err);
}

/* --- config_dev --------------------------------------------------------- */

Test(config, dev)
{
	struct config	*c = config_dev("/d/cert.pem", "/d/key.pem", ID_A,
	    "/d/keys");

	cr_assert_str_eq(c->tls.cert, "/d/cert.pem");
	cr_assert_str_eq(c->tls.key, "/d/key.pem");
	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_eq(c->keystore.store, &ks_backend_fs);
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/d/keys");
	cr_assert_str_eq(c->address, CONFIG_DEFAULT_ADDR);
	cr_assert_eq(c->cache.any_ms, 5 * 60 * 1000);
	cr_assert_str_eq(c->server.user, CONFIG_DEFAULT_USER);
	cr_assert(c->server.mlock);
	cr_assert_eq(c->nwarnings, 0);
	config_free(c);
}

/* --- value parsers ------------------------------------------------------ */

Test(config, duration_good)
{
	static const struct {
		const char	*s;
		uint64_t	 ms;
	} t[] = {
		{ "0", 0 }, { "-0", 0 }, { "+0", 0 }, { "0s", 0 },
		{ "5m", 300000 }, { "1h30m", 5400000 }, { "1.5s", 1500 },
		{ "300ms", 300 }, { ".5s", 500 }, { "5.s", 5000 },
		{ "+5s", 5000 }, { "1h0m0s", 3600000 },
		{ "2h45m30.5s", 9930500 }, { "1000000us", 1000 },
		{ "1000000\xc2\xb5s", 1000 },	/* micro sign */
		{ "1000000\xce\xbcs", 1000 },	/* Greek mu */
		/* Below a millisecond rounds up, never to 0. */
		{ "1ns", 1 }, { "999999ns", 1 }, { "1000001ns", 2 },
		{ "1.000001ms", 2 }, { "1.0000001ms", 1 },
		{ "2562047h", 2562047ULL * 3600 * 1000 },
		{ "10s500ms", 10500 },
	};
	uint64_t	 ms;
	size_t		 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		ms = 12345;
		cr_assert_eq(config_parse_duration(t[i].s, &ms), 0, "'%s'",
		    t[i].s);
		cr_assert_eq(ms, t[i].ms, "'%s': %llu ms, want %llu", t[i].s,
		    (unsigned long long)ms, (unsigned long long)t[i].ms);
	}
}

Test(config, duration_bad)
{
	static const char *const bad[] = {
		"", "5", "-5m", "-1ns", "s", ".s", "5x", "5 m", " 5m", "5m ",
		"1h-5m", "5M", "5mm", "1d", "..5s", "1.2.3s", "3000000h",
		"9223372036854775808ns", "99999999999999999999s", "-", "+",
		"abc", "0x10s", "1e3s",
	};
	uint64_t	 ms;
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(config_parse_duration(bad[i], &ms), -1,
		    "'%s' should be rejected", bad[i]);
	cr_assert_eq(config_parse_duration(NULL, &ms), -1);
}

Test(config, loglevel_good)
{
	static const struct {
		const char	*s;
		int		 level;
	} t[] = {
		{ "", LOG_LVL_INFO }, { "on", LOG_LVL_INFO },
		{ "ON", LOG_LVL_INFO }, { "off", LOG_LVL_OFF },
		{ "Off", LOG_LVL_OFF }, { "DEBUG", LOG_LVL_DEBUG },
		{ "debug", LOG_LVL_DEBUG }, { "INFO", LOG_LVL_INFO },
		{ "WARN", LOG_LVL_WARN }, { "ERROR", LOG_LVL_ERROR },
		{ " info ", LOG_LVL_INFO }, { "INFO+2", LOG_LVL_WARN },
		{ "INFO+4", LOG_LVL_WARN }, { "INFO+5", LOG_LVL_ERROR },
		{ "INFO +1", LOG_LVL_WARN }, { "DEBUG+4", LOG_LVL_INFO },
		{ "DEBUG+1", LOG_LVL_INFO }, { "INFO+-4", LOG_LVL_DEBUG },
		{ "ERROR+1", LOG_LVL_OFF }, { "ERROR+0", LOG_LVL_ERROR },
		{ "warn+4", LOG_LVL_ERROR },
		{ "-4", LOG_LVL_DEBUG }, { "-8", LOG_LVL_DEBUG },
		{ "-3", LOG_LVL_INFO }, { "0", LOG_LVL_INFO },
		{ "1", LOG_LVL_WARN }, { "4", LOG_LVL_WARN },
		{ "+5", LOG_LVL_ERROR }, { "8", LOG_LVL_ERROR },
		{ "9", LOG_LVL_OFF }, { "1000", LOG_LVL_OFF },
		{ "-9223372036854775808", LOG_LVL_DEBUG },
	};
	size_t	 i;
	int	 level;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		level = 42;
		cr_assert_eq(config_parse_loglevel(t[i].s, &level), 0, "'%s'",
		    t[i].s);
		cr_assert_eq(level, t[i].level, "'%s': %d, want %d", t[i].s,
		    level, t[i].level);
	}
}

Test(config, loglevel_bad)
{
	static const char *const bad[] = {
		"verbose", "INFO-2", "INFO+", "INFO+ 2", "INFO+2x", "INFOX",
		"INFO+INFO", "1.5", "0x10", "9223372036854775808",
		"ERROR+9223372036854775807", "true", "-", "+",
	};
	size_t	 i;
	int	 level;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(config_parse_loglevel(bad[i], &level), -1,
		    "'%s' should be rejected", bad[i]);
	cr_assert_eq(config_parse_loglevel(NULL, &level), -1);
}
