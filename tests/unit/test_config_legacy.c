/*
 * KES's older configuration layouts (issue 16, shared/spec/keystores-cloud-
 * and-legacy-config.md §7): one fixture per era from tests/data/legacy/,
 * each read into the settings it meant, with a warning per old spelling;
 * TOML chosen as KES chose it; mixtures of old and new spellings refused
 * with both named.
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
#include "keystore-agent/backend.h"
#include "keystore-agent/stores.h"
#include "keystore-agent/vault_parse.h"

#define CONF(c, type)	((const struct type *)(c)->keystore.conf)

#define ID_A	"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"
#define ID_B	"c9d8b1e0f2c4a6e8d0b2f4a6c8e0d2b4f6a8c0e2d4b6f8a0c2e4d6b8f0a2c4e6"

/* s with every `from` replaced by `to`; the result is malloc'd. */
static char *
replace(char *s, const char *from, const char *to)
{
	char	*out, *p, *q;
	size_t	 n = 0, fl = strlen(from), tl = strlen(to);

	for (p = s; (p = strstr(p, from)) != NULL; p += fl)
		n++;
	out = malloc(strlen(s) + n * tl + 1);
	cr_assert_not_null(out);
	for (p = s, q = out; (p = strstr(s, from)) != NULL; s = p + fl) {
		memcpy(q, s, (size_t)(p - s));
		q += p - s;
		memcpy(q, to, tl);
		q += tl;
	}
	strcpy(q, s);
	return out;
}

static char *
fixture(const char *name)
{
	static const char *const subst[][2] = {
		{ "@DIR@", "/srv/kw" }, { "@ADMIN@", ID_A },
		{ "@VAULT@", "https://127.0.0.1:8200" },
		{ "@ROLE_ID@", "role" }, { "@SECRET_ID@", "secret" },
	};
	char	 path[256], *text, *next;
	FILE	*f;
	long	 len;
	size_t	 i;

	(void)snprintf(path, sizeof(path), "tests/data/legacy/%s", name);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	for (i = 0; i < sizeof(subst) / sizeof(subst[0]); i++) {
		next = replace(text, subst[i][0], subst[i][1]);
		free(text);
		text = next;
	}
	return text;
}

static struct config *
ok_as(const char *text, const char *name)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";

	cr_assert_eq(config_parse(text, strlen(text), name, &c, err,
	    sizeof(err)), 0, "%s: %s\n---\n%s", name, err, text);
	return c;
}

static struct config *
ok_fixture(const char *name)
{
	char		*text = fixture(name);
	struct config	*c = ok_as(text, name);

	free(text);
	return c;
}

static void
refused(const char *text, const char *name, const char *want)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";

	cr_assert_eq(config_parse(text, strlen(text), name, &c, err,
	    sizeof(err)), -1, "accepted:\n%s", text);
	cr_assert_null(c);
	cr_assert_not_null(strstr(err, want), "wanted '%s' in: %s", want,
	    err);
}

static void
warned(const struct config *c, const char *want)
{
	size_t	 i;

	for (i = 0; i < c->nwarnings; i++)
		if (strstr(c->warnings[i], want) != NULL)
			return;
	cr_assert_fail("no warning with '%s' among %zu (first: %s)", want,
	    c->nwarnings, c->nwarnings ? c->warnings[0] : "-");
}

static const struct policy *
policy(const struct config *c, const char *name)
{
	size_t	 i;

	for (i = 0; i < c->npolicies; i++)
		if (strcmp(c->policies[i].name, name) == 0)
			return &c->policies[i];
	cr_assert_fail("no policy %s", name);
	return NULL;
}

Test(legacy, v0_1_toml_fs)
{
	struct config		*c = ok_fixture("v0.1-fs.toml");
	const struct policy	*p = policy(c, "prod-app");

	cr_assert_str_eq(c->address, "127.0.0.1:7373");
	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_str_eq(c->tls.key, "/srv/kw/server.key");
	cr_assert_eq(p->nallow, 2);
	cr_assert_str_eq(p->allow[1], "/v1/key/decrypt/prod-*");
	cr_assert_eq(p->ndeny, 0);
	cr_assert_eq(p->nidentities, 1);
	cr_assert_eq(c->cache.any_ms, 3600 * 1000);
	cr_assert_eq(c->cache.unused_ms, 30 * 1000, "30e9 ns is 30 s");
	cr_assert_str_eq(c->keystore.store->name, "fs");
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/srv/kw/keys");
	warned(c, "v0.1-fs.toml:1: the layout of KES v0.1.0 – v0.4.0 (TOML)");
	warned(c, "v0.1-fs.toml:3: 'address' https scheme dropped");
	warned(c, "v0.1-fs.toml:4: 'root' read as 'admin.identity'");
	warned(c, "v0.1-fs.toml:11: 'policy.prod-app.paths' read as "
	    "'policy.prod-app.allow'");
	warned(c, "v0.1-fs.toml:15: 'cache.expiry.all' read as "
	    "'cache.expiry.any'");
	warned(c, "v0.1-fs.toml:18: 'fs' read as 'keystore.fs'");
	config_free(c);
}

/* The MinIO walk-through's file: [keystore.vault] with address and name. */
Test(legacy, v0_6_toml_vault_walkthrough)
{
	struct config		*c = ok_fixture("v0.6-vault.toml");
	const struct vault_conf	*v;

	cr_assert_str_eq(c->admin_identity, "disabled");
	cr_assert_str_eq(c->keystore.store->name, "vault");
	v = CONF(c, vault_conf);
	cr_assert_str_eq(v->endpoint, "https://127.0.0.1:8200");
	cr_assert_str_eq(v->prefix, "kes-keys");
	cr_assert_str_eq(v->approle.id, "role");
	cr_assert_str_eq(v->approle.secret, "secret");
	cr_assert_str_eq(v->tls.ca, "/srv/kw/vault-ca.crt");
	cr_assert_eq(v->ping_ms, 10 * 1000);
	cr_assert_eq(c->cache.any_ms, 5 * 60 * 1000);
	cr_assert_eq(c->cache.unused_ms, 20 * 1000);
	cr_assert_eq(policy(c, "minio")->nallow, 3);
	cr_assert_neq(c->log.error, LOG_LVL_OFF, "no file: errors on stderr");
	warned(c, "v0.6-vault.toml:1: the layout of KES v0.4.1 – v0.7.2 (TOML)");
	warned(c, "'keystore.vault.address' read as 'keystore.vault.endpoint'");
	warned(c, "'keystore.vault.name' read as 'keystore.vault.prefix'");
	warned(c, "'log.error' read as 'log.error: on'");
	config_free(c);
}

Test(legacy, v0_6_toml_fs_log_files)
{
	struct config	*c = ok_fixture("v0.6-fs.toml");

	cr_assert_neq(c->log.error, LOG_LVL_OFF);
	cr_assert_neq(c->log.audit, LOG_LVL_OFF, "a file meant audit on");
	warned(c, "v0.6-fs.toml:12: 'log.error.file' read as 'log.error: on': "
	    "keyward writes errors to stderr");
	warned(c, "'log.audit.file' read as 'log.audit: on': keyward writes "
	    "audit lines to stdout");
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/srv/kw/keys");
	config_free(c);
}

Test(legacy, v0_8_yaml_keys_mapping)
{
	struct config	*c = ok_fixture("v0.8-keys.yml");

	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_eq(policy(c, "my-app")->nallow, 2);
	cr_assert_str_eq(c->keystore.store->name, "fs");
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/srv/kw/keys");
	warned(c, "v0.8-keys.yml:21: 'keys' read as 'keystore' (KES v0.8");
	warned(c, "v0.8-keys.yml:1: the layout of KES v0.8.0 – v0.13.5");
	config_free(c);
}

Test(legacy, v0_13_6_keys_list_and_root)
{
	struct config	*c = ok_fixture("v0.13.6-root.yml");

	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_eq(c->nkeys, 1);
	cr_assert_str_eq(c->keys[0], "app-key");
	cr_assert_str_eq(policy(c, "my-app")->allow[0],
	    "/v1/key/generate/app-*");
	warned(c, "v0.13.6-root.yml:1: the layout of KES v0.13.6 – v0.14");
	config_free(c);
}

Test(legacy, later_eras_read_unchanged)
{
	static const char *const files[] = {
		"v0.17.2-admin.yml", "v0.22-version.yml", "2024-auth.yml",
	};
	struct config	*c;
	size_t		 i, j;

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		c = ok_fixture(files[i]);
		cr_assert_str_eq(c->admin_identity, ID_A, "%s", files[i]);
		cr_assert_str_eq(CONF(c, fs_conf)->path, "/srv/kw/keys");
		for (j = 0; j < c->nwarnings; j++)
			cr_assert_null(strstr(c->warnings[j], "read as"),
			    "%s: %s", files[i], c->warnings[j]);
		config_free(c);
	}
	c = ok_fixture("v0.15-allow.yml");
	warned(c, "v0.15-allow.yml:3: 'root' read as 'admin.identity'");
	warned(c, "v0.15-allow.yml:1: the layout of KES v0.15.0 – v0.17.1");
	cr_assert_eq(policy(c, "my-app")->ndeny, 1);
	config_free(c);
}

#define TOML_BASE "root = \"" ID_A "\"\n[tls]\nkey = \"/k\"\ncert = \"/c\"\n"

/* KES v0.3 – v0.7: .toml is TOML; another name is TOML when YAML fails. */
Test(legacy, toml_chosen_as_kes_chose)
{
	const char	*t = TOML_BASE "[keystore.fs]\npath = \"/x\"\n";
	struct config	*c;

	c = ok_as(t, "kes-config");
	warned(c, "kes-config:1: read as TOML");
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/x");
	config_free(c);
	c = ok_as(t, "kes.toml");
	for (size_t i = 0; i < c->nwarnings; i++)
		cr_assert_null(strstr(c->warnings[i], "read as TOML"));
	config_free(c);
	/* A .yml or .yaml name is YAML, whatever it holds. */
	refused(t, "kes.yml", "kes.yml:1: ");
	refused(t, "kes.yaml", "kes.yaml:1: ");
	/* Neither YAML nor TOML: the YAML reading is reported. */
	refused("a: [1\nb = c\n", "cfg", "expected valid YAML");
	/* A TOML name is TOML only: YAML in it is a TOML error. */
	refused("admin:\n  identity: x\n", "k.toml", "k.toml:1: toml: ");
}

/* go-toml matched keys without regard to case; policy names keep theirs. */
Test(legacy, toml_keys_ignore_case)
{
	struct config	*c = ok_as("Root = \"" ID_A "\"\n[TLS]\nKey = \"/k\"\n"
	    "CERT = \"/c\"\n[Policy.MyApp]\nPaths = [\"/v1/status\"]\n"
	    "[KeyStore.FS]\nPath = \"/x\"\n", "k.toml");

	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_str_eq(c->tls.cert, "/c");
	cr_assert_str_eq(policy(c, "MyApp")->allow[0], "/v1/status");
	cr_assert_str_eq(CONF(c, fs_conf)->path, "/x");
	config_free(c);
	refused(TOML_BASE "[keystore.fs]\npath = \"/x\"\nPath = \"/y\"\n",
	    "k.toml", "k.toml:7: toml: two keys differ only in case");
}

Test(legacy, toml_durations)
{
	struct config	*c = ok_as(TOML_BASE "[keystore.fs]\npath = \"/x\"\n"
	    "[cache.expiry]\nany = 90_000_000_000\nunused = \"1m30s\"\n",
	    "k.toml");

	cr_assert_eq(c->cache.any_ms, 90 * 1000);
	cr_assert_eq(c->cache.unused_ms, 90 * 1000);
	config_free(c);
	refused(TOML_BASE "[keystore.fs]\npath = \"/x\"\n[cache.expiry]\n"
	    "any = -5\n", "k.toml", "k.toml:8: any: a negative duration");
}

Test(legacy, aws_v0_4_spellings)
{
	struct config		*c = ok_as(TOML_BASE
	    "[keystore.aws.secrets_manager]\naddress = \"sm.example\"\n"
	    "region = \"us-east-2\"\nkms_key_id = \"kid\"\n"
	    "[keystore.aws.secrets_manager.credentials]\n"
	    "access_key = \"AK\"\nsecret_key = \"SK\"\nsession_token = \"T\"\n",
	    "k.toml");
	const struct aws_conf	*a = CONF(c, aws_conf);

	cr_assert_str_eq(c->keystore.store->name, "aws");
	cr_assert_str_eq(a->endpoint, "sm.example");
	cr_assert_str_eq(a->kmskey, "kid");
	cr_assert_str_eq(a->accesskey, "AK");
	cr_assert_str_eq(a->secretkey, "SK");
	cr_assert_str_eq(a->token, "T");
	warned(c, "'keystore.aws.secrets_manager' read as "
	    "'keystore.aws.secretsmanager'");
	config_free(c);
}

/* Contradictory mixtures and what keyward cannot serve. */
Test(legacy, mixtures_refused)
{
	refused(TOML_BASE "[fs]\npath = \"/a\"\n[keystore.fs]\npath = \"/b\"\n",
	    "k.toml", "k.toml:5: fs: set, and so is 'keystore.fs'");
	refused(TOML_BASE "[keystore.vault]\naddress = \"https://v\"\n"
	    "endpoint = \"https://w\"\n", "k.toml", "k.toml:6: "
	    "keystore.vault.address: set, and so is 'keystore.vault.endpoint' "
	    "at line 7");
	refused(TOML_BASE "[cache.expiry]\nall = \"1m\"\nany = \"2m\"\n"
	    "[keystore.fs]\npath = \"/x\"\n", "k.toml",
	    "k.toml:6: cache.expiry.all: set, and so is 'cache.expiry.any'");
	refused(TOML_BASE "[keystore.fs]\npath = \"/x\"\n[kms.vault]\n"
	    "address = \"https://v\"\n", "k.toml", "k.toml:7: kms: KES v0.7's "
	    "value wrapping with a second KMS is not supported");
	refused(TOML_BASE "[keystore.fs]\npath = \"/x\"\n[log.error]\n"
	    "level = \"x\"\n", "k.toml", "k.toml:7: log.error: a mapping other "
	    "than { file: [..] }");
}

/*
 * An old spelling that moves under a section the file also names, where
 * that section is no mapping: refused with a message, never a crash (the
 * config fuzzer found libyaml's assertion here).
 */
Test(legacy, old_spelling_into_a_scalar_section)
{
	refused("address: 0.0.0.0:7373\nroot: " ID_A "\ntls:\n  key: k\n"
	    "  cert: c\nkeystore: lib/keyward\nfs:\n  path: /var/lib/k\n",
	    "k.yml", "k.yml:6: keystore: is ");
	refused("address: 0.0.0.0:7373\nadmin: yes\nroot: " ID_A "\ntls:\n"
	    "  key: k\n  cert: c\nkeystore:\n  fs:\n    path: /x\n",
	    "k.yml", "k.yml:3: root: set, and so is 'admin.identity'");
	refused("address: 0.0.0.0:7373\nroot: " ID_A "\ntls:\n  key: k\n"
	    "  cert: c\nkeystore: [a]\nvault:\n  address: https://v\n",
	    "k.yml", "k.yml:6: keystore: is a list; expected a mapping");
}

/*
 * --print-config: each era printed in the current layout reads back to the
 * same settings, with no old spelling left to translate.
 */
Test(legacy, printed_config_reads_back)
{
	static const char *const files[] = {
		"v0.1-fs.toml", "v0.6-vault.toml", "v0.6-fs.toml",
		"v0.8-keys.yml", "v0.13.6-root.yml", "v0.15-allow.yml",
		"v0.17.2-admin.yml", "v0.22-version.yml", "2024-auth.yml",
	};
	struct config	*a, *b;
	char		 dir[] = "/tmp/kw-legacy.XXXXXX", path[512];
	char		*text, *out = NULL, err[CONFIG_ERRLEN];
	size_t		 i, j, olen = 0;
	FILE		*f;

	cr_assert_not_null(mkdtemp(dir));
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		text = fixture(files[i]);
		(void)snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		cr_assert_not_null(f = fopen(path, "w"));
		fputs(text, f);
		fclose(f);
		free(text);
		cr_assert_not_null(f = open_memstream(&out, &olen));
		cr_assert_eq(config_print(path, f, err, sizeof(err)), 0,
		    "%s: %s", files[i], err);
		fclose(f);
		cr_assert_eq(config_load(path, &a, err, sizeof(err)), 0);
		b = ok_as(out, "printed.yml");
		for (j = 0; j < b->nwarnings; j++)
			cr_assert_null(strstr(b->warnings[j], "read as"),
			    "%s printed: %s\n%s", files[i], b->warnings[j],
			    out);
		cr_assert_str_eq(a->admin_identity, b->admin_identity);
		cr_assert_str_eq(a->address, b->address);
		cr_assert_str_eq(a->keystore.store->name,
		    b->keystore.store->name);
		cr_assert_eq(a->npolicies, b->npolicies, "%s", files[i]);
		for (j = 0; j < a->npolicies; j++)
			cr_assert_eq(a->policies[j].nallow,
			    b->policies[j].nallow);
		cr_assert_eq(a->cache.any_ms, b->cache.any_ms, "%s", files[i]);
		cr_assert_eq(a->cache.unused_ms, b->cache.unused_ms);
		cr_assert_eq(a->log.audit, b->log.audit, "%s", files[i]);
		cr_assert_eq(a->nkeys, b->nkeys);
		config_free(a);
		config_free(b);
		free(out);
		out = NULL;
		(void)unlink(path);
	}
	(void)rmdir(dir);
}

/*
 * §7.4 item 9: in a layout of KES before v0.22 a ${VAR} whose variable is
 * not set reads as empty, as those releases read it, with a warning; with
 * --strict-env (config_set_strict_env) it is the error it is in the
 * current layout, which never reads it as empty.
 */
Test(legacy, missing_variable_in_an_old_layout)
{
	static const char old[] = "address: 127.0.0.1:7373\nroot: " ID_A "\n"
	    "tls:\n  key: /k\n  cert: /c\n  password: ${KW_TEST_UNSET_PW}\n"
	    "keystore:\n  fs:\n    path: /x\n";
	static const char now[] = "address: 127.0.0.1:7373\nadmin:\n"
	    "  identity: " ID_A "\ntls:\n  key: /k\n  cert: /c\n"
	    "  password: ${KW_TEST_UNSET_PW}\nkeystore:\n  fs:\n    path: /x\n";
	struct config	*c;

	unsetenv("KW_TEST_UNSET_PW");
	c = ok_as(old, "old.yml");
	cr_assert_str_eq(c->tls.password != NULL ? c->tls.password : "", "");
	warned(c, "old.yml:6: tls.password: environment variable "
	    "'KW_TEST_UNSET_PW' is not set; read as empty");
	config_free(c);
	refused(now, "now.yml", "now.yml:7: tls.password: environment "
	    "variable 'KW_TEST_UNSET_PW' is not set");

	config_set_strict_env(true);
	refused(old, "old.yml", "old.yml:6: tls.password: environment "
	    "variable 'KW_TEST_UNSET_PW' is not set; expected it");
	config_set_strict_env(false);

	/* Set, it is read in both. */
	setenv("KW_TEST_UNSET_PW", "pw", 1);
	c = ok_as(old, "old.yml");
	cr_assert_str_eq(c->tls.password, "pw");
	config_free(c);
	unsetenv("KW_TEST_UNSET_PW");
}
