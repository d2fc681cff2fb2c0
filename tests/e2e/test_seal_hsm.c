/*
 * The PKCS#11 seal through the real server (privsep and sandbox on) and
 * a real SoftHSM2 token, initialised by the suite in a temporary
 * directory (SOFTHSM2_CONF): round trips, a value moved to another name,
 * a tampered value, legacy values, wrong PIN / missing key / missing
 * token at start, the helper killed under load, and the migration
 * commands killed in the middle (spec §5.6).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dirs.h"
#include "tests/lib/testsrv.h"

#define READY_MS	20000
#define MODULE		"/usr/lib/softhsm/libsofthsm2.so"
#define PIN		"1234"
#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "path too long")

static struct testsrv	srv;
static char		hsm[PATH_MAX];		/* tokens and softhsm2.conf */
static char		hsmconf[PATH_MAX];
static int		starts;		/* "serving on" lines so far */
static char		seal_yaml[PATH_MAX * 2 + 1024];

static int
run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
run(const char *fmt, ...)
{
	char	cmd[8192];
	va_list	ap;
	int	st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void
need_env(void)
{
	if (geteuid() != 0)
		cr_skip_test("the seal tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing");
	if (access(MODULE, R_OK) != 0 ||
	    access("/usr/bin/softhsm2-util", X_OK) != 0)
		cr_skip_test("softhsm2 is not installed (make deps)");
}

/* The seal section for key label `key`, pin text and token label. */
static void
seal_section(const char *token, const char *pin, const char *key,
    const char *more)
{
	FMT(seal_yaml,
	    "  seal:\n"
	    "    pkcs11:\n"
	    "      module: %s\n"
	    "      token: %s\n"
	    "      pin: \"%s\"\n"
	    "      key: %s\n"
	    "      sessions: 2\n"
	    "      module_env: [ \"SOFTHSM2_CONF=%s\" ]\n"
	    "%s",
	    MODULE, token, pin, key, hsmconf, more ? more : "");
}

/* A fresh token "kw-test" with key "kw-seal", owned by the server's
 * user (the helper runs as it). */
static void
setup(void)
{
	need_env();
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s",
	    strerror(errno));
	FMT(hsm, "%s/hsm", srv.dir);
	FMT(hsmconf, "%s/softhsm2.conf", hsm);
	cr_assert_eq(run("mkdir -p %s/tokens && printf 'directories.tokendir "
	    "= %s/tokens\\nobjectstore.backend = file\\nlog.level = ERROR\\n"
	    "slots.removable = false\\n' > %s && SOFTHSM2_CONF=%s "
	    "softhsm2-util --init-token --free --label kw-test --so-pin "
	    "12345678 --pin " PIN " >/dev/null", hsm, hsm, hsmconf, hsmconf),
	    0);
	seal_section("kw-test", PIN, "kw-seal", NULL);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
}

TestSuite(seal, .init = setup, .fini = teardown, .timeout = 180);

static void
chown_hsm(void)
{
	cr_assert_eq(run("chown -R keyward: %s", hsm), 0);
}

/* keyward seal CMD with the server's configuration; the exit status. */
static int
seal_cmd(const char *cmd, const char *env)
{
	int rc = run("%s %s seal %s --config %s >>%s/seal-cmd.log 2>&1",
	    env ? env : "", srv.exe, cmd, srv.config, srv.dir);

	chown_hsm();
	return rc;
}

static void
write_cfg(bool sealed)
{
	struct tsrv_cfg cfg = { .keystore_extra = sealed ? seal_yaml : NULL };

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
}

static void
start(bool sealed)
{
	write_cfg(sealed);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", ++starts, READY_MS), 0,
	    "not ready; log:\n%s", tsrv_log_tail(&srv));
}

static void
stop(void)
{
	kill(srv.pid, SIGTERM);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, NULL), 0);
	srv.pid = 0;
}

/* The server must refuse to start, saying `needle`. */
static void
start_fails(const char *needle)
{
	int status;

	write_cfg(true);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, READY_MS, &status), 0,
	    "the server started; log:\n%s", tsrv_log_tail(&srv));
	cr_assert(!WIFEXITED(status) || WEXITSTATUS(status) != 0);
	cr_assert_gt(tsrv_log_count(&srv, needle), 0, "no '%s' in:\n%s",
	    needle, tsrv_log_tail(&srv));
	srv.pid = 0;
}

static long
post(const char *path, const char *body, char *out, size_t outlen)
{
	struct tsrv_req r = { .method = "POST", .body = body,
	    .body_len = body ? strlen(body) : 0, .timeout_ms = 10000 };

	return tsrv_get_ex(&srv, TSRV_ADMIN, path, out, outlen, &r);
}

static void
create(const char *name)
{
	char	path[256], out[1024];
	long	st;

	snprintf(path, sizeof(path), "/v1/key/create/%s", name);
	st = post(path, NULL, out, sizeof(out));
	cr_assert_eq(st, 200, "create %s: %ld %s", name, st, out);
}

/* generate with key name: the HTTP status (the key read from the store
 * when it is not cached). */
static long
generate(const char *name, char *out, size_t outlen)
{
	char path[256];

	snprintf(path, sizeof(path), "/v1/key/generate/%s", name);
	return post(path, "{}", out, outlen);
}

static void
read_store(const char *name, char *out, size_t len)
{
	char	 path[PATH_MAX];
	FILE	*f;
	size_t	 n;

	FMT(path, "%s/%s", srv.keys, name);
	cr_assert_not_null(f = fopen(path, "r"), "%s: %s", path,
	    strerror(errno));
	n = fread(out, 1, len - 1, f);
	out[n] = '\0';
	fclose(f);
}

static bool
is_sealed(const char *name)
{
	char v[8192];

	read_store(name, v, sizeof(v));
	return strncmp(v, "kwseal:v1:", 10) == 0;
}

static void
keygen(void)
{
	write_cfg(true);
	cr_assert_eq(seal_cmd("keygen", NULL), 0);
}

/* PT5: created sealed, read back through the token after a restart
 * (the crypto process's cache is gone), and the ciphertext made before
 * the restart still opens. */
Test(seal, round_trip)
{
	char	out[2048], ct[1024], body[1200], *p, *q;
	long	st;

	keygen();
	start(true);
	create("k1");
	cr_assert(is_sealed("k1"), "the store holds a plain value");
	cr_assert_eq(generate("k1", out, sizeof(out)), 200);
	cr_assert_not_null(p = strstr(out, "\"ciphertext\":\""));
	p += 14;
	cr_assert_not_null(q = strchr(p, '"'));
	snprintf(ct, sizeof(ct), "%.*s", (int)(q - p), p);
	stop();
	start(true);
	snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", ct);
	st = post("/v1/key/decrypt/k1", body, out, sizeof(out));
	cr_assert_eq(st, 200, "decrypt after restart: %ld %s\n%s", st, out,
	    tsrv_log_tail(&srv));
	cr_assert_eq(generate("nokey", out, sizeof(out)), 404);
}

/* PT6: a value moved (copied) to another name, and two swapped. */
Test(seal, moved_value_fails)
{
	char	a[8192], b[8192], out[1024];

	keygen();
	start(true);
	create("a");
	create("b");
	stop();
	read_store("a", a, sizeof(a));
	read_store("b", b, sizeof(b));
	cr_assert_eq(tsrv_put_key_file(&srv, "c", a), 0);
	cr_assert_eq(run("rm %s/a %s/b", srv.keys, srv.keys), 0);
	cr_assert_eq(tsrv_put_key_file(&srv, "a", b), 0);
	cr_assert_eq(tsrv_put_key_file(&srv, "b", a), 0);
	start(true);
	cr_assert_eq(generate("c", out, sizeof(out)), 502);
	cr_assert_eq(generate("a", out, sizeof(out)), 502);
	cr_assert_eq(generate("b", out, sizeof(out)), 502);
	cr_assert_eq(tsrv_wait_log(&srv, "not authentic", 1, 5000), 0);
}

/* PT7, PT9: a flipped byte anywhere, another version, bad base64, a
 * truncated envelope. */
Test(seal, tampered_value_fails)
{
	static const char *const bad[] = {
		"kwseal:v2:AAAA", "kwseal:v1:!!!!", "kwseal:v1:AQ==",
		"kwseal:v1:", NULL
	};
	char	v[8192], t[8192], name[32], out[1024];
	size_t	i, n;

	keygen();
	start(true);
	create("t");
	stop();
	read_store("t", v, sizeof(v));
	n = strlen(v);
	/* iv, ciphertext, tag and kid: one byte in each region. */
	for (i = 0; i < 4; i++) {
		snprintf(t, sizeof(t), "%s", v);
		t[i == 0 ? 12 : i == 1 ? 30 : i == 2 ? n - 3 : 11] ^= 0x01;
		if (t[i == 0 ? 12 : i == 1 ? 30 : i == 2 ? n - 3 : 11] == '+' ||
		    t[i == 0 ? 12 : i == 1 ? 30 : i == 2 ? n - 3 : 11] == '/')
			t[i == 0 ? 12 : i == 1 ? 30 : i == 2 ? n - 3 : 11] = 'Q';
		snprintf(name, sizeof(name), "t%zu", i);
		cr_assert_eq(tsrv_put_key_file(&srv, name, t), 0);
	}
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(name, sizeof(name), "bad%zu", i);
		cr_assert_eq(tsrv_put_key_file(&srv, name, bad[i]), 0);
	}
	start(true);
	cr_assert_eq(generate("t", out, sizeof(out)), 200);
	for (i = 0; i < 4; i++) {
		snprintf(name, sizeof(name), "t%zu", i);
		cr_assert_eq(generate(name, out, sizeof(out)), 502, "%s", name);
	}
	for (i = 0; bad[i] != NULL; i++) {
		snprintf(name, sizeof(name), "bad%zu", i);
		cr_assert_eq(generate(name, out, sizeof(out)), 502, "%s", name);
	}
	cr_assert_eq(tsrv_wait_log(&srv, "unsupported sealed value version", 1,
	    5000), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "malformed sealed value", 1, 5000), 0);
}

/* PT8: a legacy value reads with allow_unsealed_reads, not without. */
Test(seal, legacy_values)
{
	char out[1024];

	keygen();
	start(false);
	create("plain");
	stop();
	start(true);
	cr_assert_eq(generate("plain", out, sizeof(out)), 200);
	stop();
	seal_section("kw-test", PIN, "kw-seal",
	    "      allow_unsealed_reads: false\n");
	start(true);
	cr_assert_eq(generate("plain", out, sizeof(out)), 502);
	cr_assert_eq(tsrv_wait_log(&srv, "unsealed value refused", 1, 5000), 0);
}

/* PT1-PT4: each start-up failure names its step. */
Test(seal, start_failures)
{
	keygen();
	seal_section("kw-test", "9999", "kw-seal", NULL);
	start_fails("wrong PIN");
	seal_section("kw-test", PIN, "no-such-key", NULL);
	start_fails("no secret key labelled 'no-such-key'");
	seal_section("no-such-token", PIN, "kw-seal", NULL);
	start_fails("no token with label 'no-such-token'");
	/* The token directory gone: C_Initialize fails. */
	cr_assert_eq(run("mv %s/tokens %s/tokens.away", hsm, hsm), 0);
	seal_section("kw-test", PIN, "kw-seal", NULL);
	start_fails("C_Initialize");
	cr_assert_eq(run("mv %s/tokens.away %s/tokens", hsm, hsm), 0);
	/* An extractable key is refused by the server and by keygen. */
	cr_assert_eq(run("SOFTHSM2_CONF=%s pkcs11-tool --module " MODULE
	    " --token-label kw-test --login --pin " PIN " --keygen "
	    "--key-type AES:32 --label kw-extr --extractable >/dev/null "
	    "2>&1", hsmconf), 0);
	chown_hsm();
	seal_section("kw-test", PIN, "kw-extr", NULL);
	start_fails("expected a token key that is sensitive and not "
	    "extractable");
	write_cfg(true);
	cr_assert_neq(seal_cmd("keygen", NULL), 0);
	/* Sanity: the right settings start. */
	seal_section("kw-test", PIN, "kw-seal", NULL);
	start(true);
}

/* The helper killed with kill -9 while clients keep asking: the agent
 * goes with it and the parent restarts both; every answer is right or a
 * failure, never a wrong value. */
Test(seal, helper_killed_under_load)
{
	char	 out[2048], name[32], cmd[128];
	pid_t	 agent, helper;
	int	 i, ok = 0, failed = 0, round;
	uint64_t deadline;

	keygen();
	start(true);
	for (i = 0; i < 8; i++) {
		snprintf(name, sizeof(name), "L%d", i);
		create(name);
	}
	stop();
	start(true);	/* nothing cached: every first use reads the store */
	cr_assert_gt(agent = tsrv_child(&srv, "keyward agent"), 0);
	snprintf(cmd, sizeof(cmd), "pgrep -f -P %d 'keyward seal-helper'",
	    (int)agent);
	for (round = 0; round < 2; round++) {
		FILE *f = popen(cmd, "r");

		cr_assert_not_null(f);
		helper = 0;
		if (fscanf(f, "%d", &helper) != 1)
			helper = 0;
		pclose(f);
		cr_assert_gt(helper, 0, "no seal helper under the agent");
		for (i = 0; i < 8; i++) {
			long st;

			snprintf(name, sizeof(name), "L%d", i);
			if (i == 3)
				kill(helper, SIGKILL);
			st = generate(name, out, sizeof(out));
			cr_assert(st == 200 || st == 502 || st == 503,
			    "%s: %ld %s", name, st, out);
			if (st == 200)
				ok++;
			else
				failed++;
		}
		/* Back within the parent's back-off. */
		deadline = tsrv_now_ms() + 15000;
		while (tsrv_now_ms() < deadline &&
		    ((agent = tsrv_child(&srv, "keyward agent")) <= 0 ||
		    generate("L7", out, sizeof(out)) != 200))
			tsrv_sleep_ms(200);
		cr_assert_eq(generate("L7", out, sizeof(out)), 200,
		    "not back after the helper died:\n%s",
		    tsrv_log_tail(&srv));
		snprintf(cmd, sizeof(cmd), "pgrep -f -P %d 'keyward "
		    "seal-helper'", (int)agent);
	}
	cr_assert_gt(tsrv_log_count(&srv, "seal helper is gone"), 0);
	cr_log_info("helper kills: %d answers ok, %d failed", ok, failed);
}

static int
count_sealed(int n, const char *prefix)
{
	char	name[32];
	int	i, s = 0;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "%s%d", prefix, i);
		s += is_sealed(name);
	}
	return s;
}

/* Migration both ways, each killed in the middle: every key still
 * reads after each step. */
Test(seal, migration_with_crash)
{
	char	out[1024], name[32];
	int	i, n = 6, rc;

	keygen();
	start(false);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		create(name);
	}
	stop();
	write_cfg(true);
	rc = seal_cmd("seal-fs", "KEYWARD_SEAL_CRASH_AFTER=3");
	cr_assert_eq(rc, 128 + SIGKILL, "seal-fs was not killed: %d", rc);
	cr_assert_eq(count_sealed(n, "m"), 3);
	start(true);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		cr_assert_eq(generate(name, out, sizeof(out)), 200, "%s", name);
	}
	stop();
	write_cfg(true);
	cr_assert_eq(seal_cmd("seal-fs", NULL), 0);
	cr_assert_eq(count_sealed(n, "m"), n);
	rc = seal_cmd("unseal-fs", "KEYWARD_SEAL_CRASH_AFTER=2");
	cr_assert_eq(rc, 128 + SIGKILL);
	cr_assert_eq(count_sealed(n, "m"), n - 2);
	cr_assert_eq(seal_cmd("unseal-fs", NULL), 0);
	cr_assert_eq(count_sealed(n, "m"), 0);
	start(false);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "m%d", i);
		cr_assert_eq(generate(name, out, sizeof(out)), 200, "%s", name);
	}
}
