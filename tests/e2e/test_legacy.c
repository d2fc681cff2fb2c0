/*
 * Every KES configuration era starts the real server (issue 16): each
 * fixture of tests/data/legacy/ with the fs store, privilege separation
 * and the sandbox on, serving a key round trip; and the MinIO walk-through
 * that starts `kes server --config=kes-config.toml --mlock --root=disabled
 * --mtls-auth=ignore` with a [keystore.vault] TOML section, against the
 * Vault test double (tests/doubles/vault_double.py: a double, since no
 * Vault can run here).
 */
#include <sys/socket.h>
#include <sys/stat.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "tests/lib/pydouble.h"
#include "tests/lib/testsrv.h"

#define READY_MS	20000
#define ROLE_ID		"walkthrough-role"
#define SECRET_ID	"walkthrough-secret-5d1c"
/* The identity the fixtures name in their policies. */
#define FIXTURE_ID	"c9d8b1e0f2c4a6e8d0b2f4a6c8e0d2b4f6a8c0e2d4b6f8a0c2e4d6b8f0a2c4e6"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

static struct testsrv	 srv;
static struct pydouble	 vd;

static void	sh(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	pydouble_stop(&vd);
	pydouble_remove(&vd);
}

TestSuite(legacy, .init = setup, .fini = teardown, .timeout = 240);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the server is started as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
}

/* s with every `from` replaced by `to`, in place (s has room for len). */
static void
replace(char *s, size_t len, const char *from, const char *to)
{
	char	*p, *tail;
	size_t	 fl = strlen(from), tl = strlen(to);

	for (p = strstr(s, from); p != NULL; p = strstr(p + tl, from)) {
		cr_assert_lt(strlen(s) - fl + tl, len, "fixture too long");
		tail = strdup(p + fl);
		memcpy(p, to, tl);
		strcpy(p + tl, tail);
		free(tail);
	}
}

/*
 * The fixture, with @DIR@ the PKI directory (server.key, server.crt,
 * ca.crt; the fs store goes in its keys/), @ADMIN@ the admin client's
 * identity, the policies' identity the TSRV_NOBODY client's, and extra
 * pairs (from, to, ..., NULL); written next to the PKI under its own name,
 * which srv.config then names.
 */
static void
write_fixture(const char *name, ...)
{
	char		 text[16384], path[512];
	const char	*from, *to;
	FILE		*f;
	size_t		 n;
	va_list		 ap;

	FMT(path, "tests/data/legacy/%s", name);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	replace(text, sizeof(text), "@DIR@", srv.pki);
	replace(text, sizeof(text), "@ADMIN@", srv.id[TSRV_ADMIN]);
	replace(text, sizeof(text), FIXTURE_ID, srv.id[TSRV_NOBODY]);
	va_start(ap, name);
	while ((from = va_arg(ap, const char *)) != NULL) {
		to = va_arg(ap, const char *);
		replace(text, sizeof(text), from, to);
	}
	va_end(ap);
	FMT(srv.config, "%s/%s", srv.dir, name);
	cr_assert_eq(tsrv_write_file(srv.config, text), 0);
}

static long
key_op(enum tsrv_client who, const char *op, const char *name, char *out,
    size_t outlen)
{
	struct tsrv_req	 r = { .method = "POST", .body = "{}", .body_len = 2,
			    .timeout_ms = 20000 };
	char		 path[256];

	FMT(path, "/v1/key/%s/%s", op, name);
	return tsrv_get_ex(&srv, who, path, out, outlen, &r);
}

/* generate, then decrypt what it gave: the key serves. */
static void
round_trip(enum tsrv_client who, const char *key)
{
	char	 out[4096], body[4096], ct[2048], *p, *e;
	struct tsrv_req	 r = { .method = "POST", .timeout_ms = 20000 };
	long	 code;

	code = key_op(who, "generate", key, out, sizeof(out));
	cr_assert_eq(code, 200, "generate %s: %ld %s\n%s", key, code, out,
	    tsrv_log_tail(&srv));
	cr_assert_not_null(p = strstr(out, "\"ciphertext\":\""), "%s", out);
	p += strlen("\"ciphertext\":\"");
	cr_assert_not_null(e = strchr(p, '"'));
	FMT(ct, "%.*s", (int)(e - p), p);
	FMT(body, "{\"ciphertext\":\"%s\"}", ct);
	r.body = body;
	r.body_len = strlen(body);
	FMT(ct, "/v1/key/decrypt/%s", key);
	code = tsrv_get_ex(&srv, who, ct, out, sizeof(out), &r);
	cr_assert_eq(code, 200, "decrypt %s: %ld %s", key, code, out);
	cr_assert_not_null(strstr(out, "\"plaintext\":\""), "%s", out);
}

/* Start with --addr on the test's port and args; do not wait. */
static void
start_args_only(const char *const *args)
{
	static char	 addr[64];
	size_t		 i;

	FMT(addr, "127.0.0.1:%d", srv.port);
	srv.args[0] = "--addr";
	srv.args[1] = addr;
	for (i = 0; args != NULL && args[i] != NULL && i < 5; i++)
		srv.args[2 + i] = args[i];
	srv.args[2 + i] = NULL;
	cr_assert_eq(tsrv_start(&srv), 0);
}

static void
start(const char *const *args)
{
	start_args_only(args);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "not serving:\n%s",
	    tsrv_log_tail(&srv));
}

/*
 * One era: starts, serves a created key (and the keys: it declares),
 * and says in its log how it read each old spelling.
 */
static void
era(const char *name, const char *declared, const char *note)
{
	char	 out[2048];
	long	 code;

	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture(name, NULL);
	start(NULL);
	code = key_op(TSRV_ADMIN, "create", "era-key", out, sizeof(out));
	cr_assert_eq(code, 200, "%s: create: %ld %s\n%s", name, code, out,
	    tsrv_log_tail(&srv));
	round_trip(TSRV_ADMIN, "era-key");
	if (declared != NULL)
		round_trip(TSRV_ADMIN, declared);
	if (note != NULL)
		cr_assert_gt(tsrv_log_count(&srv, note), 0, "%s: no '%s' in:\n"
		    "%s", name, note, tsrv_log_tail(&srv));
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));
}

Test(legacy, every_era_serves)
{
	need_root();
	era("v0.1-fs.toml", NULL, "'fs' read as 'keystore.fs'");
	era("v0.6-fs.toml", NULL, "'log.audit.file' read as 'log.audit: on'");
	era("v0.8-keys.yml", NULL, "'keys' read as 'keystore'");
	era("v0.13.6-root.yml", "app-key", "'root' read as 'admin.identity'");
	era("v0.15-allow.yml", NULL, "'root' read as 'admin.identity'");
	era("v0.17.2-admin.yml", NULL, NULL);
	era("v0.22-version.yml", NULL, NULL);
	era("2024-auth.yml", "app-key", NULL);
}

/* The policy of a TOML fixture (paths → allow) admits its client. */
Test(legacy, toml_policy_paths_admit_and_refuse)
{
	char	 out[2048];
	long	 code;

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture("v0.1-fs.toml", NULL);
	start(NULL);
	cr_assert_eq(key_op(TSRV_ADMIN, "create", "prod-db", out,
	    sizeof(out)), 200, "%s", out);
	round_trip(TSRV_NOBODY, "prod-db");
	code = key_op(TSRV_NOBODY, "create", "prod-x", out, sizeof(out));
	cr_assert_eq(code, 403, "create is not in the policy's paths: %ld %s",
	    code, out);
}

/* Old flags override the file: --root and --auth/--mtls-auth. */
Test(legacy, old_flags_override_the_file)
{
	char		 out[2048];
	const char	*args[] = { "-root", "disabled", "--auth=off", NULL };
	long		 code;

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture("v0.17.2-admin.yml", NULL);
	start(args);
	code = key_op(TSRV_ADMIN, "create", "k", out, sizeof(out));
	cr_assert_eq(code, 403, "--root=disabled leaves no admin: %ld %s",
	    code, out);
	cr_assert_gt(tsrv_log_count(&srv, "--root is KES's old flag"), 0,
	    "%s", tsrv_log_tail(&srv));
}

static void
sh(const char *fmt, ...)
{
	char	cmd[4096];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* The Vault double with AppRole, over TLS with its own CA. */
static void
vault_start(void)
{
	const char	*argv[] = {
		"--addr", "127.0.0.1:0", "--cert", "server.crt", "--key",
		"server.key", "--state", "vault.json", "--port-file",
		"vault.port", "--control-port-file", "vault.cport", "--log",
		"vault.log", "--approle", ROLE_ID ":" SECRET_ID, "--no-fsync",
		"--exit-with-parent", NULL
	};
	char		 why[256];

	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the Vault test double");
	strcpy(vd.dir, "/tmp/keyward-test-legacy.XXXXXX");
	cr_assert_not_null(mkdtemp(vd.dir));
	chmod(vd.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=vault-ca && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "chmod 0644 *", vd.dir);
	cr_assert_eq(pydouble_start(&vd, "tests/doubles/vault_double.py",
	    argv, "vault.port", "vault.cport", why, sizeof(why)), 0, "%s",
	    why);
}

/*
 * The MinIO walk-through: its TOML file with [keystore.vault] (address,
 * name, approle with retry, status.ping), started with its command line.
 * MinIO's identity is in the policy; the admin is disabled. MinIO's
 * start-up calls: create its default key, generate, decrypt.
 */
Test(legacy, minio_walkthrough_toml_and_flags)
{
	const char	*args[] = {
		"--mlock", "--root=disabled", "--mtls-auth=ignore", NULL
	};
	char		 vault[64], ca[1024], out[8192];
	long		 code;

	need_root();
	vault_start();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	FMT(vault, "https://127.0.0.1:%d", vd.port);
	FMT(ca, "cp '%s/ca.crt' '%s/vault-ca.crt'", vd.dir, srv.pki);
	sh("%s", ca);
	write_fixture("v0.6-vault.toml", "@VAULT@", vault, "@ROLE_ID@",
	    ROLE_ID, "@SECRET_ID@", SECRET_ID, NULL);
	start(args);
	code = key_op(TSRV_NOBODY, "create", "minio-default-key", out,
	    sizeof(out));
	cr_assert_eq(code, 200, "create: %ld %s\n%s", code, out,
	    tsrv_log_tail(&srv));
	round_trip(TSRV_NOBODY, "minio-default-key");
	/* Stored where KES put it: the prefix is the old `name`. */
	cr_assert_eq(pydouble_ctl(&vd, "GET", "/requests", NULL, out,
	    sizeof(out)), 200);
	cr_assert_not_null(strstr(out, "/v1/kv/kes-keys/minio-default-key"),
	    "no request for kv/kes-keys/minio-default-key:\n%s", out);
	/* --root=disabled: no admin, whatever the certificate. */
	code = key_op(TSRV_ADMIN, "create", "other", out, sizeof(out));
	cr_assert_eq(code, 403, "%ld %s", code, out);
	cr_assert_gt(tsrv_log_count(&srv, "'keystore.vault.name' read as "
	    "'keystore.vault.prefix'"), 0, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(tsrv_log_count(&srv, SECRET_ID), 0, "the AppRole secret "
	    "is in the log");
}

/* `keyward server --config old.toml --print-config` prints the current
 * layout and starts nothing. */
Test(legacy, print_config_command)
{
	char	 cmd[2048], out[8192];
	FILE	*p;
	size_t	 n;

	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture("v0.1-fs.toml", NULL);
	FMT(cmd, "'%s' server --config '%s' --print-config 2>&1", srv.exe,
	    srv.config);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	cr_assert_eq(pclose(p), 0, "%s", out);
	cr_assert_not_null(strstr(out, "keystore:\n  fs:\n    path: \""), "%s",
	    out);
	cr_assert_not_null(strstr(out, "    allow: [\"/v1/key/generate/prod-*\""),
	    "%s", out);
	cr_assert_not_null(strstr(out, "admin:\n  identity: \""), "%s", out);
	cr_assert_null(strstr(out, "paths"), "%s", out);
	cr_assert_null(strstr(out, "serving on"), "%s", out);
}

/*
 * Keys an older KES named ('-' first or last, "_" alone) still work after
 * a migration; a new one cannot be so named (N1). A listing prefix ending
 * in '-', as current MinIO sends, is answered (L1).
 */
Test(legacy, old_key_names_and_minio_prefix)
{
	char	 out[8192], cmd[2048];
	long	 code;
	struct tsrv_req	 get = { .method = "GET", .timeout_ms = 20000 };
	struct tsrv_req	 del = { .method = "DELETE", .timeout_ms = 20000 };

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture("2024-auth.yml", NULL);
	start(NULL);
	cr_assert_eq(key_op(TSRV_ADMIN, "create", "minio-k1", out,
	    sizeof(out)), 200, "%s", out);
	/* The file KES 2023 would have written under that name. */
	FMT(cmd, "cp -p '%s/keys/minio-k1' '%s/keys/trail-' && cp -p "
	    "'%s/keys/minio-k1' '%s/keys/_'", srv.pki, srv.pki, srv.pki,
	    srv.pki);
	sh("%s", cmd);
	round_trip(TSRV_ADMIN, "trail-");
	round_trip(TSRV_ADMIN, "_");
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/describe/trail-", out,
	    sizeof(out), &get);
	cr_assert_eq(code, 200, "%ld %s", code, out);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/list/", out,
	    sizeof(out), &get);
	cr_assert_eq(code, 200, "%ld %s", code, out);
	cr_assert_not_null(strstr(out, "\"trail-\""), "%s", out);
	cr_assert_not_null(strstr(out, "\"_\""), "%s", out);
	code = key_op(TSRV_ADMIN, "create", "-lead", out, sizeof(out));
	cr_assert_eq(code, 400, "a new key with an old name: %ld %s", code,
	    out);
	cr_assert_not_null(strstr(out, "key name '-lead' is empty, too long "
	    "or contains invalid characters"), "%s", out);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/list/minio-", out,
	    sizeof(out), &get);
	cr_assert_eq(code, 200, "the prefix MinIO sends: %ld %s", code, out);
	cr_assert_not_null(strstr(out, "\"names\":[\"minio-k1\"]"), "%s", out);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/delete/trail-", out,
	    sizeof(out), &del);
	cr_assert_eq(code, 200, "%ld %s", code, out);
	code = key_op(TSRV_ADMIN, "generate", "trail-", out, sizeof(out));
	cr_assert_eq(code, 404, "deleted: %ld %s", code, out);
}

/*
 * After the parent exited, its children may still hold the listener for
 * a moment (they follow when their channel closes): wait until the port
 * binds again before the next start on it.
 */
static void
wait_port_free(int port)
{
	struct sockaddr_in	 a = { .sin_family = AF_INET };
	uint64_t		 end = tsrv_now_ms() + READY_MS;
	int			 fd, one = 1, ok = 0;

	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	while (!ok && tsrv_now_ms() < end) {
		cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (!ok)
			tsrv_sleep_ms(50);
	}
	cr_assert(ok, "port %d still taken after the server exited", port);
}

/*
 * KES ran as root and left its key directory root's: keyward, whose agent
 * runs as server.user, stops with a message naming the path, the user
 * and the command that hands the keys over; after that command it serves
 * the keys KES wrote.
 */
Test(legacy, root_owned_kes_directory)
{
	char	 out[4096], dir[1024], want[1200];
	int	 status = 0;

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture("2024-auth.yml", NULL);
	FMT(dir, "%s/keys", srv.pki);
	sh("mkdir -m 0700 '%s' && printf '%%s' "
	    "'{\"bytes\":\"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=\","
	    "\"algorithm\":\"AES256\",\"created_at\":\"2023-02-15T14:54:37Z\","
	    "\"created_by\":\"" FIXTURE_ID "\"}' >'%s/kes-key' && "
	    "chmod 0600 '%s/kes-key'", dir, dir, dir);
	start_args_only(NULL);
	cr_assert_eq(tsrv_wait_exit(&srv, READY_MS, &status), 0,
	    "started on a directory its user cannot use:\n%s",
	    tsrv_log_tail(&srv));
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0, "%#x",
	    status);
	FMT(want, "%s is root's (mode 0700) and the key store runs as "
	    "keyward, who cannot use it", dir);
	cr_assert_gt(tsrv_log_count(&srv, want), 0, "%s", tsrv_log_tail(&srv));
	FMT(want, "chown -R keyward: %s", dir);
	cr_assert_gt(tsrv_log_count(&srv, want), 0, "%s", tsrv_log_tail(&srv));
	/* The directory handed over, but not the file: named too. */
	sh("chown keyward: '%s'", dir);
	wait_port_free(srv.port);
	srv.pid = 0;
	srv.reaped = false;
	start_args_only(NULL);
	cr_assert_eq(tsrv_wait_exit(&srv, READY_MS, &status), 0, "%s",
	    tsrv_log_tail(&srv));
	FMT(want, "%s/kes-key is root's (mode 0600)", dir);
	cr_assert_gt(tsrv_log_count(&srv, want), 0, "%s", tsrv_log_tail(&srv));
	/* The operator runs the command the message gave. */
	sh("chown -R keyward: '%s'", dir);
	wait_port_free(srv.port);
	srv.pid = 0;
	srv.reaped = false;
	start(NULL);
	round_trip(TSRV_ADMIN, "kes-key");
	(void)out;
}

/* The "ciphertext" of a generate answer, into ct. */
static void
dek(enum tsrv_client who, const char *key, const char *body, char *ct,
    size_t ctlen, char *pt, size_t ptlen)
{
	struct tsrv_req	 r = { .method = "POST", .body = body,
			    .body_len = strlen(body), .timeout_ms = 20000 };
	char		 out[4096], path[256], *p, *e;
	long		 code;

	FMT(path, "/v1/key/generate/%s", key);
	code = tsrv_get_ex(&srv, who, path, out, sizeof(out), &r);
	cr_assert_eq(code, 200, "%ld %s", code, out);
	cr_assert_not_null(p = strstr(out, "\"ciphertext\":\""));
	p += 14;
	cr_assert_not_null(e = strchr(p, '"'));
	cr_assert_lt((size_t)(e - p), ctlen);
	memcpy(ct, p, (size_t)(e - p));
	ct[e - p] = '\0';
	cr_assert_not_null(p = strstr(out, "\"plaintext\":\""));
	p += 13;
	cr_assert_not_null(e = strchr(p, '"'));
	cr_assert_lt((size_t)(e - p), ptlen);
	memcpy(pt, p, (size_t)(e - p));
	pt[e - p] = '\0';
}

/*
 * KES 2023's POST /v1/key/bulk/decrypt/NAME (W5): an array of
 * {"ciphertext","context"} answered by the plaintexts in order; [] gives
 * []; one ciphertext that does not open fails it all; its own policy
 * path; not listed by /v1/api.
 */
Test(legacy, bulk_decrypt)
{
	struct tsrv_req	 post = { .method = "POST", .timeout_ms = 20000 };
	char	 ct[3][256], pt[3][128], body[4096], want[1024], out[8192];
	long	 code;

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	write_fixture("2024-auth.yml", NULL);
	start(NULL);
	cr_assert_eq(key_op(TSRV_ADMIN, "create", "bulk-k", out, sizeof(out)),
	    200, "%s", out);
	dek(TSRV_ADMIN, "bulk-k", "{}", ct[0], sizeof(ct[0]), pt[0],
	    sizeof(pt[0]));
	dek(TSRV_ADMIN, "bulk-k", "{\"context\":\"b2JqZWN0LTE=\"}", ct[1],
	    sizeof(ct[1]), pt[1], sizeof(pt[1]));
	dek(TSRV_ADMIN, "bulk-k", "{\"context\":\"eyJhIjoiYiJ9\"}", ct[2],
	    sizeof(ct[2]), pt[2], sizeof(pt[2]));
	FMT(body, "[{\"ciphertext\":\"%s\"},{\"ciphertext\":\"%s\",\"context\":"
	    "\"b2JqZWN0LTE=\"},{\"ciphertext\":\"%s\",\"context\":"
	    "\"eyJhIjoiYiJ9\"}]", ct[0], ct[1], ct[2]);
	post.body = body;
	post.body_len = strlen(body);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/bulk/decrypt/bulk-k",
	    out, sizeof(out), &post);
	cr_assert_eq(code, 200, "%ld %s", code, out);
	FMT(want, "[{\"plaintext\":\"%s\"},{\"plaintext\":\"%s\"},"
	    "{\"plaintext\":\"%s\"}]\n", pt[0], pt[1], pt[2]);
	cr_assert_str_eq(out, want);
	/* [] → []. */
	post.body = "[]";
	post.body_len = 2;
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/bulk/decrypt/bulk-k",
	    out, sizeof(out), &post);
	cr_assert_eq(code, 200, "%ld %s", code, out);
	cr_assert_str_eq(out, "[]\n");
	/* A wrong context on the second: one error for all. */
	FMT(body, "[{\"ciphertext\":\"%s\"},{\"ciphertext\":\"%s\"}]", ct[0],
	    ct[1]);
	post.body = body;
	post.body_len = strlen(body);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/bulk/decrypt/bulk-k",
	    out, sizeof(out), &post);
	cr_assert_eq(code, 400, "%ld %s", code, out);
	cr_assert_not_null(strstr(out, "decryption failed: ciphertext is not "
	    "authentic"), "%s", out);
	/* Not an array, or an item that is not an object. */
	post.body = "{\"ciphertext\":\"\"}";
	post.body_len = strlen(post.body);
	cr_assert_eq(tsrv_get_ex(&srv, TSRV_ADMIN,
	    "/v1/key/bulk/decrypt/bulk-k", out, sizeof(out), &post), 400);
	post.body = "[1]";
	post.body_len = 3;
	cr_assert_eq(tsrv_get_ex(&srv, TSRV_ADMIN,
	    "/v1/key/bulk/decrypt/bulk-k", out, sizeof(out), &post), 400);
	/* Its own policy path: a client allowed nothing gets 403. */
	post.body = "[]";
	post.body_len = 2;
	code = tsrv_get_ex(&srv, TSRV_STATUS, "/v1/key/bulk/decrypt/bulk-k",
	    out, sizeof(out), &post);
	cr_assert_eq(code, 403, "%ld %s", code, out);
	/* A missing key. */
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/key/bulk/decrypt/nokey",
	    out, sizeof(out), &post);
	cr_assert_eq(code, 404, "%ld %s", code, out);
	/* /v1/api answers as KES HEAD: no bulk route. */
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/api", out, sizeof(out));
	cr_assert_eq(code, 200);
	cr_assert_null(strstr(out, "bulk"), "%s", out);
	cr_assert_not_null(strstr(out, "/v1/key/hmac/"), "%s", out);
}

/*
 * Run `keyward ARGS` against the old server of vd, on a terminal (script(1))
 * so that it prints for a person, as kes did; its output in out.
 */
static int
client_run(char *out, size_t outlen, const char *args)
{
	char	 cmd[4096];
	FILE	*p;
	size_t	 n;

	FMT(cmd, "cd '%s' && env -u KES_CLIENT_CERT -u KES_CLIENT_KEY "
	    "-u MINIO_KES_CERT_FILE -u MINIO_KES_KEY_FILE "
	    "KES_SERVER=https://127.0.0.1:%d KES_API_KEY=kes:v1:"
	    "AMcazYMubeZXMLUMyi0byRYJRtkp84kDlUuvt396VA3Q script -qec "
	    "\"'%s' %s --color never\" /dev/null 2>&1 </dev/null",
	    vd.dir, vd.port, srv.exe, args);
	cr_assert_not_null(p = popen(cmd, "r"));
	n = fread(out, 1, outlen - 1, p);
	out[n] = '\0';
	return pclose(p);
}

/*
 * keyward's client against a KES server of 2023-02 (a double answering
 * that release's recorded bytes, tests/doubles/kes2023_double.py): its
 * NDJSON listings are read (C1), and its nanosecond durations, the status
 * uptime and the audit events' response time, are shown in the units the
 * current server's are (W6), not as "1689 days" and "12000000ms".
 */
Test(legacy, client_against_kes_2023)
{
	const char	*argv[] = { "--cert", "server.crt", "--key",
		"server.key", "--port-file", "kes.port", NULL };
	char		 why[256], out[8192];

	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the KES 2023-02 test double");
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	strcpy(vd.dir, "/tmp/keyward-test-kes2023.XXXXXX");
	cr_assert_not_null(mkdtemp(vd.dir));
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout server.key -out server.crt -days 2 "
	    "-subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1",
	    vd.dir);
	cr_assert_eq(pydouble_start(&vd, "tests/doubles/kes2023_double.py",
	    argv, "kes.port", "kes.port", why, sizeof(why)), 0, "%s", why);

	cr_assert_eq(client_run(out, sizeof(out), "status -k"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "2023-02-15T14-54-37Z"), "%s", out);
	cr_assert_not_null(strstr(out, "Uptime   2 minutes"), "%s", out);

	cr_assert_eq(client_run(out, sizeof(out), "key ls -k"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "minio-default"), "%s", out);
	cr_assert_not_null(strstr(out, "my-key"), "%s", out);
	cr_assert_eq(client_run(out, sizeof(out), "key ls -k --json"), 0,
	    "%s", out);
	cr_assert_not_null(strstr(out, "\"trail-\""), "%s", out);

	cr_assert_eq(client_run(out, sizeof(out), "log -k --audit"), 0,
	    "%s", out);
	cr_assert_not_null(strstr(out, "   12ms  /v1/key/generate/my-key"),
	    "%s", out);
	/* --json passes the server's event through, unit and all. */
	cr_assert_eq(client_run(out, sizeof(out), "log -k --audit --json"), 0,
	    "%s", out);
	cr_assert_not_null(strstr(out, "\"time\":12000000"), "%s", out);
}
