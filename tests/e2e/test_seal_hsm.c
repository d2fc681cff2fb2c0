/*
 * The PKCS#11 seal through the real server (privsep and sandbox on) and
 * a real SoftHSM2 token, initialised by the suite in a temporary
 * directory (SOFTHSM2_CONF): round trips, a value moved to another name,
 * a tampered value, legacy values, wrong PIN / missing key / missing
 * token at start, the helper killed under load, the migration commands
 * killed in the middle, seal key rotation, more requests than sessions,
 * and, through the fault-injection shim (tests/doubles/p11shim.h) in
 * front of SoftHSM2, sessions lost, the token removed and back, a wrong
 * PIN at a recovery login and short output buffers (spec §5.6).
 */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <p11-kit/pkcs11.h>

#include "common/dirs.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_p11.h"
#include "tests/doubles/p11shim.h"
#include "tests/lib/pydouble.h"
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
static char		seal_yaml[PATH_MAX * 4 + 1024];
static char		shimctl[PATH_MAX];	/* the shim's control file */
static struct p11shim_ctl *shim;		/* mapped; NULL: no shim */
static struct pydouble	vd;		/* the Vault double, or none */
static const char	*top_yaml;	/* more top-level YAML (cache:) */

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

/* The seal section for key label `key`, pin text and token label; the
 * module is SoftHSM2, or the shim in front of it once shim_on() ran. */
static void
seal_section(const char *token, const char *pin, const char *key,
    const char *more)
{
	char	module[PATH_MAX], env[PATH_MAX * 2 + 128];
	ssize_t	n;

	if (shim == NULL) {
		FMT(module, "%s", MODULE);
		env[0] = '\0';
	} else {
		/* libp11shim.so is built next to this test binary. */
		n = readlink("/proc/self/exe", module, sizeof(module) - 1);
		cr_assert_gt(n, 0);
		module[n] = '\0';
		FMT(env, "%s", module);
		FMT(module, "%s/libp11shim.so", dirname(env));
		cr_assert_eq(access(module, R_OK), 0, "%s: %s", module,
		    strerror(errno));
		FMT(env, ", \"KEYWARD_P11SHIM_MODULE=%s\", "
		    "\"KEYWARD_P11SHIM_CTL=%s\"", MODULE, shimctl);
	}
	FMT(seal_yaml,
	    "  seal:\n"
	    "    pkcs11:\n"
	    "      module: %s\n"
	    "      token: %s\n"
	    "      pin: \"%s\"\n"
	    "      key: %s\n"
	    "      sessions: 2\n"
	    "      module_env: [ \"SOFTHSM2_CONF=%s\"%s ]\n"
	    "%s",
	    module, token, pin, key, hsmconf, env, more ? more : "");
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
	if (shim != NULL)
		munmap(shim, sizeof(*shim));
	if (vd.pid > 0)
		pydouble_stop(&vd);
	memset(&vd, 0, sizeof(vd));
	if (hsm[0] != '\0')
		(void)run("chmod -R u+rwX %s 2>/dev/null", hsm);
	top_yaml = NULL;
	shim = NULL;
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
	struct tsrv_cfg cfg = { .keystore_extra = sealed ? seal_yaml : NULL,
	    .extra = top_yaml };

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
	/* The workers of a start that just failed may hold the port a
	 * moment longer. */
	cr_assert_eq(tsrv_port_free(srv.port, 5000), 0);
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
 * truncated envelope, the reserved algorithm 0x02. */
Test(seal, tampered_value_fails)
{
	static const char *const bad[] = {
		"kwseal:v2:AAAA", "kwseal:v1:!!!!", "kwseal:v1:AQ==",
		"kwseal:v1:",
		/* alg 0x02 (reserved), kid kw-seal, a 12-byte IV */
		"kwseal:v1:Agdrdy1zZWFsDAABAgMEBQYHCAkKCwAAAAAAAAAAAAAAAAAAAAAA"
		"AAAA", NULL
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

static void	shim_on(void);
static uint64_t	shim_calls(enum p11shim_fn);

/* A key made with pkcs11-tool on the test token (args: its kind). */
static void
p11tool_key(const char *label, const char *args)
{
	cr_assert_eq(run("SOFTHSM2_CONF=%s pkcs11-tool --module " MODULE
	    " --token-label kw-test --login --pin " PIN " --keygen --label %s "
	    "%s >/dev/null 2>&1", hsmconf, label, args), 0, "%s", label);
	chown_hsm();
}

/* The module's path for the seal section: MODULE, or another. */
static void
seal_section_module(const char *module)
{
	char	copy[sizeof(seal_yaml)], *p;

	seal_section("kw-test", PIN, "kw-seal", NULL);
	cr_assert_not_null(p = strstr(seal_yaml, MODULE));
	snprintf(copy, sizeof(copy), "%.*s%s%s", (int)(p - seal_yaml),
	    seal_yaml, module, p + strlen(MODULE));
	snprintf(seal_yaml, sizeof(seal_yaml), "%s", copy);
}

/*
 * PT1-PT4, the rows start_failures leaves: a module path that does not
 * exist and a library that is no PKCS#11 module; two tokens with the
 * label; two keys with the label, a key that is not sensitive, an
 * AES-128 key; a PIN file with a trailing newline starts.
 */
Test(seal, start_failures_more)
{
	char	pinfile[PATH_MAX], more[PATH_MAX + 64];

	keygen();
	seal_section_module("/nonexistent/libnothing.so");
	start_fails("loading the PKCS#11 module /nonexistent/libnothing.so");
	if (access("/lib/x86_64-linux-gnu/libc.so.6", R_OK) == 0) {
		seal_section_module("/lib/x86_64-linux-gnu/libc.so.6");
		start_fails("not a PKCS#11 library (no C_GetFunctionList)");
	}

	p11tool_key("kw-dup", "--key-type AES:32 --sensitive --id 10");
	p11tool_key("kw-dup", "--key-type AES:32 --sensitive --id 11");
	seal_section("kw-test", PIN, "kw-dup", NULL);
	start_fails("key: several secret keys labelled 'kw-dup'");
	p11tool_key("kw-nosens", "--key-type AES:32");
	seal_section("kw-test", PIN, "kw-nosens", NULL);
	start_fails("expected a token key that is sensitive and not "
	    "extractable");
	p11tool_key("kw-128", "--key-type AES:16 --sensitive");
	seal_section("kw-test", PIN, "kw-128", NULL);
	start_fails("key 'kw-128': not an AES-256 key");

	/* PIN file: root's, 0600, with a trailing newline. */
	FMT(pinfile, "%s/pin", srv.dir);
	cr_assert_eq(run("printf '" PIN "\\n' > %s && chmod 0600 %s",
	    pinfile, pinfile), 0);
	seal_section("kw-test", PIN, "kw-seal", NULL);
	FMT(more, "      pin_file: %s\n", pinfile);
	{
		char	copy[sizeof(seal_yaml)], *p, *q;

		/* pin: out, pin_file: in */
		cr_assert_not_null(p = strstr(seal_yaml, "      pin: "));
		cr_assert_not_null(q = strchr(p, '\n'));
		snprintf(copy, sizeof(copy), "%.*s%s%s", (int)(p - seal_yaml),
		    seal_yaml, more, q + 1);
		snprintf(seal_yaml, sizeof(seal_yaml), "%s", copy);
	}
	start(true);
	create("pf");
	cr_assert(is_sealed("pf"));
	stop();

	/* Two tokens with the label. */
	cr_assert_eq(run("SOFTHSM2_CONF=%s softhsm2-util --init-token --free "
	    "--label kw-test --so-pin 12345678 --pin " PIN " >/dev/null",
	    hsmconf), 0);
	chown_hsm();
	seal_section("kw-test", PIN, "kw-seal", NULL);
	start_fails("token: 2 tokens with label 'kw-test'; expected one");
}

/* PT3: a wrong PIN at start is tried exactly once (the shim counts the
 * C_Login calls of every helper). */
Test(seal, wrong_pin_one_login)
{
	keygen();
	shim_on();
	seal_section("kw-test", "9999", "kw-seal", NULL);
	start_fails("wrong PIN");
	tsrv_sleep_ms(1000);
	cr_assert_eq(shim_calls(SHIM_LOGIN), 1, "C_Login called %lu times",
	    (unsigned long)shim_calls(SHIM_LOGIN));
}

/* Whether process pid has the SoftHSM2 library mapped. */
static bool
maps_softhsm(pid_t pid)
{
	char	path[64], line[1024];
	FILE	*f;
	bool	found = false;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	cr_assert_not_null(f = fopen(path, "r"), "%s: %s", path,
	    strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "libsofthsm2") != NULL)
			found = true;
	fclose(f);
	return found;
}

static pid_t	seal_helper_pid(pid_t agent);

/*
 * PT12: only the helper loads the module: the agent fork+execs the
 * keeper, which forks the helper before any PKCS#11 call, and neither
 * has the module mapped. The guard: a PKCS#11 call made in a child
 * forked after C_Initialize is refused before it reaches the module
 * (the shim counts the calls that reach it).
 */
Test(seal, module_only_in_helper)
{
	struct seal_conf	 cf;
	struct p11		 p;
	CK_OBJECT_HANDLE	 key;
	CK_RV			 rv;
	uint8_t			 iv[12] = { 0 }, *out = NULL;
	char			 err[256], shimlib[PATH_MAX], *q;
	pid_t			 agent, keeper, helper, pid;
	size_t			 outlen;
	uint64_t		 inits;
	int			 st;
	FILE			*f;

	keygen();
	shim_on();
	start(true);
	cr_assert_gt(agent = tsrv_child(&srv, "keyward agent"), 0);
	cr_assert_gt(helper = seal_helper_pid(agent), 0);
	snprintf(err, sizeof(err), "pgrep -f -P %d 'keyward seal-helper'",
	    (int)agent);
	cr_assert_not_null(f = popen(err, "r"));
	cr_assert_eq(fscanf(f, "%d", &keeper), 1);
	pclose(f);
	cr_assert(!maps_softhsm(agent), "the agent loaded the module");
	cr_assert(!maps_softhsm(keeper), "the keeper loaded the module");
	cr_assert(maps_softhsm(helper), "the helper has no module");
	stop();

	/* The fork guard, in this process, through the shim. */
	cr_assert_not_null(q = strstr(seal_yaml, "module: "));
	snprintf(shimlib, sizeof(shimlib), "%.*s", (int)strcspn(q + 8, "\n"),
	    q + 8);
	setenv("SOFTHSM2_CONF", hsmconf, 1);
	setenv("KEYWARD_P11SHIM_MODULE", MODULE, 1);
	setenv("KEYWARD_P11SHIM_CTL", shimctl, 1);
	memset(&cf, 0, sizeof(cf));
	cf.token = "kw-test";
	cf.slot = -1;
	cr_assert_eq(p11_load(&p, shimlib, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p11_find_token(&p, &cf, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p11_login(&p, PIN, false, &rv, err, sizeof(err)), 0,
	    "%s", err);
	cr_assert_eq(p11_find_key(&p, p.anchor, "kw-seal", NULL, &key, err,
	    sizeof(err)), 0, "%s", err);
	rv = p11_gcm(&p, p.anchor, key, true, iv, NULL, 0, iv, sizeof(iv),
	    &out, &outlen);
	cr_assert_eq(rv, CKR_OK, "a seal in the loading process: %lx",
	    (unsigned long)rv);
	free(out);
	inits = shim_calls(SHIM_ENCRYPTINIT);
	if ((pid = fork()) == 0) {
		out = NULL;
		rv = p11_gcm(&p, p.anchor, key, true, iv, NULL, 0, iv,
		    sizeof(iv), &out, &outlen);
		_exit(rv == CKR_CRYPTOKI_NOT_INITIALIZED &&
		    shim_calls(SHIM_ENCRYPTINIT) == inits ? 0 : 1);
	}
	cr_assert_gt(pid, 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	    "a PKCS#11 call after fork was not refused before the module");
	cr_assert_eq(shim_calls(SHIM_ENCRYPTINIT), inits);
	p11_unload(&p);
	unsetenv("KEYWARD_P11SHIM_MODULE");
	unsetenv("KEYWARD_P11SHIM_CTL");
	unsetenv("SOFTHSM2_CONF");
}

/* ---- the helper killed under load ----------------------------------------- */

/* The seal helper: the child of the keeper, which is the agent's child
 * (`keyward seal-helper` both; the keeper never loads the module). */
static pid_t
seal_helper_pid(pid_t agent)
{
	char	cmd[128];
	FILE	*f;
	int	keeper = 0, helper = 0;

	snprintf(cmd, sizeof(cmd), "pgrep -f -P %d 'keyward seal-helper'",
	    (int)agent);
	cr_assert_not_null(f = popen(cmd, "r"));
	if (fscanf(f, "%d", &keeper) != 1)
		keeper = 0;
	pclose(f);
	cr_assert_gt(keeper, 0, "no seal keeper under the agent");
	snprintf(cmd, sizeof(cmd), "pgrep -P %d", keeper);
	cr_assert_not_null(f = popen(cmd, "r"));
	if (fscanf(f, "%d", &helper) != 1)
		helper = 0;
	pclose(f);
	return helper;
}

#define NLOAD	4

/* Calls the agent held for a new helper, summed over its log. */
static int
held_calls(void)
{
	char	line[1024], *p;
	FILE	*f;
	int	n = 0;
	unsigned int c;

	cr_assert_not_null(f = fopen(srv.log, "r"));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strstr(line, "the seal helper is gone") != NULL &&
		    (p = strstr(line, "); ")) != NULL &&
		    sscanf(p + 3, "%u calls in flight", &c) == 1)
			n += (int)c;
	fclose(f);
	return n;
}

struct load {
	int		 t;
	volatile bool	*stop;
	int		 ok, bad;
	char		 last[1200];
};

/* Creates (each one a seal at the helper) until told to stop. */
static void *
load_one(void *arg)
{
	struct load	*l = arg;
	char		 path[128], out[1024];
	int		 i;
	long		 st;
	struct tsrv_req	 r = { .method = "POST", .timeout_ms = 30000 };

	for (i = 0; !*l->stop && i < 400; i++) {
		snprintf(path, sizeof(path), "/v1/key/create/K%d_%d", l->t, i);
		st = tsrv_get_ex(&srv, TSRV_ADMIN, path, out, sizeof(out), &r);
		if (st == 200)
			l->ok++;
		else {
			l->bad++;
			snprintf(l->last, sizeof(l->last), "%s: %ld %s", path,
			    st, out);
		}
	}
	return NULL;
}

/*
 * The helper killed with kill -9, twice, while clients keep creating
 * keys on a token that takes 20 ms per operation (so calls are at the
 * helper when it dies): the keeper forks a new helper, the calls that
 * were in flight are sent to it again, and every request answers 200;
 * the agent is not restarted. Each key created then reads back through
 * the token from the store.
 */
Test(seal, helper_killed_under_load)
{
	static struct load	 l[NLOAD];
	pthread_t		 t[NLOAD];
	volatile bool		 halt = false;
	char			 out[2048], name[32];
	pid_t			 agent, helper, h2;
	uint64_t		 deadline;
	int			 i, j, round, ok = 0;

	keygen();
	shim_on();
	start(true);
	__atomic_store_n(&shim->delay_us, 20000, __ATOMIC_SEQ_CST);
	cr_assert_gt(agent = tsrv_child(&srv, "keyward agent"), 0);
	for (i = 0; i < NLOAD; i++) {
		memset(&l[i], 0, sizeof(l[i]));
		l[i].t = i;
		l[i].stop = &halt;
		cr_assert_eq(pthread_create(&t[i], NULL, load_one, &l[i]), 0);
	}
	for (round = 0; round < 2; round++) {
		tsrv_sleep_ms(500);
		cr_assert_gt(helper = seal_helper_pid(agent), 0,
		    "no seal helper");
		/* Kill it while an operation is at the token (a loaded
		 * machine may keep the clients elsewhere for a while). */
		deadline = tsrv_now_ms() + 5000;
		while (__atomic_load_n(&shim->busy, __ATOMIC_SEQ_CST) <= 0 &&
		    tsrv_now_ms() < deadline)
			tsrv_sleep_ms(1);
		cr_assert_eq(kill(helper, SIGKILL), 0);
		/* What the dead helper had begun never ends: its count goes
		 * before the keeper has a new helper (which takes a fork
		 * and a login, milliseconds). */
		__atomic_store_n(&shim->busy, 0, __ATOMIC_SEQ_CST);
		deadline = tsrv_now_ms() + 10000;
		while ((h2 = seal_helper_pid(agent)) <= 0 || h2 == helper) {
			cr_assert_lt(tsrv_now_ms(), deadline, "no new helper:"
			    "\n%s", tsrv_log_tail(&srv));
			tsrv_sleep_ms(50);
		}
	}
	tsrv_sleep_ms(500);
	halt = true;
	for (i = 0; i < NLOAD; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(l[i].bad, 0, "thread %d: %d failed, last %s\n%s",
		    i, l[i].bad, l[i].last, tsrv_log_tail(&srv));
		ok += l[i].ok;
	}
	cr_assert_eq(tsrv_child(&srv, "keyward agent"), agent,
	    "the agent was restarted");
	cr_assert_eq(tsrv_log_count(&srv, "the seal helper is gone"), 2);
	cr_assert_eq(tsrv_log_count(&srv, "a new seal helper is ready"), 2);
	cr_assert_gt(held_calls(), 0, "no call was in flight at a kill");
	cr_log_info("helper killed twice under load: %d creates, all 200, "
	    "%d sent again", ok, held_calls());

	/* Every key reads back from the store, through the token. */
	__atomic_store_n(&shim->delay_us, 0, __ATOMIC_SEQ_CST);
	stop();
	start(true);
	for (i = 0; i < NLOAD; i++)
		for (j = 0; j < l[i].ok; j++) {
			snprintf(name, sizeof(name), "K%d_%d", i, j);
			cr_assert(is_sealed(name), "%s", name);
			cr_assert_eq(generate(name, out, sizeof(out)), 200,
			    "%s: %s", name, out);
		}
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

/* ---- the fault-injection shim ------------------------------------------ */

/* From now on the server loads SoftHSM2 through the shim, which this
 * test drives through its mapped control file. */
static void
shim_on(void)
{
	int fd;

	FMT(shimctl, "%s/shim.ctl", hsm);
	cr_assert_neq(fd = open(shimctl, O_RDWR | O_CREAT | O_TRUNC |
	    O_CLOEXEC, 0600), -1);
	cr_assert_eq(ftruncate(fd, sizeof(*shim)), 0);
	shim = mmap(NULL, sizeof(*shim), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	close(fd);
	cr_assert_neq(shim, MAP_FAILED);
	shim->magic = P11SHIM_MAGIC;
	chown_hsm();
	seal_section("kw-test", PIN, "kw-seal", NULL);
}

/* The next `n` calls of f (-1: every call until cleared) answer rv. */
static void
shim_fail(enum p11shim_fn f, CK_RV rv, int32_t n)
{
	__atomic_store_n(&shim->fault[f].rv, (uint64_t)rv, __ATOMIC_SEQ_CST);
	__atomic_store_n(&shim->fault[f].left, n, __ATOMIC_SEQ_CST);
}

static int32_t
shim_left(enum p11shim_fn f)
{
	return __atomic_load_n(&shim->fault[f].left, __ATOMIC_SEQ_CST);
}

static uint64_t
shim_calls(enum p11shim_fn f)
{
	return __atomic_load_n(&shim->calls[f], __ATOMIC_SEQ_CST);
}

static long
create_st(const char *name)
{
	char	path[256], out[1024];

	snprintf(path, sizeof(path), "/v1/key/create/%s", name);
	return post(path, NULL, out, sizeof(out));
}

static bool
in_store(const char *name)
{
	char path[PATH_MAX];

	FMT(path, "%s/%s", srv.keys, name);
	return access(path, F_OK) == 0;
}

/* /v1/ready until it answers want, for up to ms; the last answer. */
static long
ready_until(long want, unsigned int ms)
{
	char		out[512];
	uint64_t	deadline = tsrv_now_ms() + ms;
	long		st;

	while ((st = tsrv_get(&srv, TSRV_ADMIN, "/v1/ready", out,
	    sizeof(out))) != want && tsrv_now_ms() < deadline)
		tsrv_sleep_ms(200);
	return st;
}

/* PT13: a session lost once (on encrypt, then on decrypt) is recovered
 * within the request while the anchor session keeps the login: no new
 * login (the helper has no PIN any more, §4.1); lost for good, the
 * request fails as unreachable and nothing reaches the store; cleared,
 * the next request works. */
Test(seal, session_lost_recovers)
{
	char		out[2048];
	uint64_t	logins;

	keygen();
	shim_on();
	start(true);
	create("s0");
	logins = shim_calls(SHIM_LOGIN);
	shim_fail(SHIM_ENCRYPTINIT, CKR_SESSION_HANDLE_INVALID, 1);
	cr_assert_eq(create_st("s1"), 200, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(shim_left(SHIM_ENCRYPTINIT), 0, "the fault was not hit");
	cr_assert(is_sealed("s1"));
	cr_assert_eq(tsrv_wait_log(&srv, "token sessions recovered", 1, 5000),
	    0);

	stop();
	start(true);	/* s1 read from the store, through the token */
	logins = shim_calls(SHIM_LOGIN);
	shim_fail(SHIM_DECRYPTINIT, CKR_USER_NOT_LOGGED_IN, 1);
	cr_assert_eq(generate("s1", out, sizeof(out)), 200, "%s\n%s", out,
	    tsrv_log_tail(&srv));
	cr_assert_eq(shim_left(SHIM_DECRYPTINIT), 0);
	cr_assert_eq(shim_calls(SHIM_LOGIN), logins, "logged in again");
	cr_assert_eq(tsrv_log_count(&srv, "seal helper is gone"), 0);

	shim_fail(SHIM_ENCRYPTINIT, CKR_SESSION_HANDLE_INVALID, -1);
	cr_assert_eq(create_st("s2"), 502);
	cr_assert(!in_store("s2"), "a failed seal reached the store");
	cr_assert_eq(tsrv_wait_log(&srv, "seal: encrypt: "
	    "CKR_SESSION_HANDLE_INVALID", 1, 5000), 0, "%s",
	    tsrv_log_tail(&srv));
	shim_fail(SHIM_ENCRYPTINIT, CKR_OK, 0);
	cr_assert_eq(create_st("s2"), 200, "%s", tsrv_log_tail(&srv));
	cr_assert(is_sealed("s2"));
	cr_assert_eq(shim_calls(SHIM_LOGIN), logins, "logged in again");
}

/* Create until it answers 200, for up to ms; the last status. */
static long
create_until_ok(const char *name, unsigned int ms)
{
	uint64_t	deadline = tsrv_now_ms() + ms;
	long		st;

	while ((st = create_st(name)) != 200 && tsrv_now_ms() < deadline)
		tsrv_sleep_ms(300);
	return st;
}

/* The login lost (the anchor session gone): the helper exits, the
 * keeper forks a new one that logs in once, and the request that met
 * the loss is sent to it again and succeeds; the agent stays. */
Test(seal, login_lost_new_helper)
{
	uint64_t	logins;
	pid_t		agent;

	keygen();
	shim_on();
	start(true);
	create("l0");
	logins = shim_calls(SHIM_LOGIN);
	shim_fail(SHIM_GETSESSIONINFO, CKR_SESSION_HANDLE_INVALID, 1);
	shim_fail(SHIM_ENCRYPTINIT, CKR_USER_NOT_LOGGED_IN, 1);
	agent = tsrv_child(&srv, "keyward agent");
	cr_assert_eq(create_st("l1"), 200, "%s", tsrv_log_tail(&srv));
	cr_assert(is_sealed("l1"));
	cr_assert_eq(tsrv_wait_log(&srv, "the token needs a new login (the "
	    "anchor session: CKR_SESSION_HANDLE_INVALID", 1, 5000), 0, "%s",
	    tsrv_log_tail(&srv));
	cr_assert_eq(tsrv_log_count(&srv, "1 calls in flight wait for a new "
	    "one"), 1, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(shim_calls(SHIM_LOGIN), logins + 1);
	cr_assert_eq(tsrv_child(&srv, "keyward agent"), agent);
	cr_assert_eq(create_st("l2"), 200);
}

/* The token removed while the server runs: creates and cold reads fail
 * as unreachable (/v1/ready 504), nothing is written, plain or sealed,
 * and no login is tried while it is away; once the token is back, the
 * server recovers by itself. */
Test(seal, token_removed_and_back)
{
	char		out[2048];
	uint64_t	logins;

	keygen();
	shim_on();
	start(true);
	create("r0");
	stop();
	start(true);	/* r0 not cached */
	logins = shim_calls(SHIM_LOGIN);
	__atomic_store_n(&shim->removed, 1, __ATOMIC_SEQ_CST);
	cr_assert_eq(create_st("r1"), 502);
	cr_assert_eq(generate("r0", out, sizeof(out)), 502);
	cr_assert(!in_store("r1"), "a create reached the store without the "
	    "token");
	cr_assert_eq(tsrv_wait_log(&srv, "the token needs a new login "
	    "(CKR_DEVICE_REMOVED", 1, 5000), 0, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(tsrv_wait_log(&srv, "no token with label 'kw-test'", 1,
	    10000), 0, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(ready_until(504, 10000), 504);
	cr_assert_eq(create_st("r1"), 502);
	cr_assert(!in_store("r1"));
	cr_assert_eq(shim_calls(SHIM_LOGIN), logins);

	__atomic_store_n(&shim->removed, 0, __ATOMIC_SEQ_CST);
	cr_assert_eq(create_until_ok("r1", 15000), 200,
	    "not back with the token:\n%s", tsrv_log_tail(&srv));
	cr_assert(is_sealed("r1"));
	cr_assert_eq(generate("r0", out, sizeof(out)), 200);
	cr_assert_eq(ready_until(200, 15000), 200);
	cr_assert_eq(shim_calls(SHIM_LOGIN), logins + 1);
}

/*
 * §5.6's "token removed" with the real SoftHSM2, no shim: its token
 * directory made unreadable to the helper while the server runs. A
 * create fails and writes nothing, the store is reported unreachable
 * (/v1/ready 504), a key already cached keeps serving from the offline
 * cache, a key not cached fails; once the directory is readable again
 * the server recovers by itself: creates, cold reads and /v1/ready.
 */
Test(seal, token_dir_unreadable_offline_cache)
{
	char	out[2048];
	long	st;

	top_yaml = "cache:\n  expiry:\n    any: 10m\n    unused: 10m\n"
	    "    offline: 10m\n";
	keygen();
	start(true);
	create("u0");
	create("u1");
	stop();
	start(true);	/* nothing cached */
	cr_assert_eq(generate("u0", out, sizeof(out)), 200);	/* cached */
	cr_assert_eq(ready_until(200, 5000), 200);

	cr_assert_eq(run("chmod 000 %s/tokens/*", hsm), 0);
	st = create_st("u2");
	cr_assert_neq(st, 200, "a create without the token");
	cr_assert(!in_store("u2"), "a create reached the store without the "
	    "token");
	cr_assert_eq(ready_until(504, 30000), 504, "%s", tsrv_log_tail(&srv));
	/* A new helper tried, and failed, while the token is away. */
	cr_assert_eq(tsrv_wait_log(&srv, "seal: no new seal helper: token: "
	    "no token with label 'kw-test'", 1, 15000), 0, "%s",
	    tsrv_log_tail(&srv));
	cr_assert_eq(ready_until(504, 1000), 504);
	cr_assert_eq(generate("u0", out, sizeof(out)), 200,
	    "the offline cache did not serve u0: %s\n%s", out,
	    tsrv_log_tail(&srv));
	st = generate("u1", out, sizeof(out));
	cr_assert(st == 502 || st == 503, "u1 (not cached): %ld %s", st, out);
	cr_assert_neq(create_st("u2"), 200);
	cr_assert(!in_store("u2"));

	cr_assert_eq(run("chmod 700 %s/tokens/*", hsm), 0);
	cr_assert_eq(create_until_ok("u2", 30000), 200,
	    "not back with the token:\n%s", tsrv_log_tail(&srv));
	cr_assert(is_sealed("u2"));
	cr_assert_eq(generate("u1", out, sizeof(out)), 200);
	cr_assert_eq(ready_until(200, 30000), 200);
}

/* §4.7: a PIN refused at the new login after a lost login is not tried
 * again, however long the server runs and however many calls come: the
 * token's PIN counter sees that one attempt; sealed calls fail fast and
 * the server stays up. */
Test(seal, wrong_pin_at_new_login_not_retried)
{
	uint64_t	logins;
	int		i;

	keygen();
	shim_on();
	start(true);
	create("p0");
	logins = shim_calls(SHIM_LOGIN);
	shim_fail(SHIM_LOGIN, CKR_PIN_INCORRECT, -1);
	shim_fail(SHIM_GETSESSIONINFO, CKR_SESSION_HANDLE_INVALID, 1);
	shim_fail(SHIM_ENCRYPTINIT, CKR_USER_NOT_LOGGED_IN, 1);
	cr_assert_eq(create_st("p1"), 502);
	cr_assert_eq(tsrv_wait_log(&srv, "critical: seal: PKCS#11 login: "
	    "wrong PIN", 1, 15000), 0, "%s", tsrv_log_tail(&srv));
	/* Past the parent's longest back-off. */
	for (i = 0; i < 8; i++) {
		cr_assert_eq(create_st("p2"), 502);
		tsrv_sleep_ms(1000);
	}
	cr_assert_eq(shim_calls(SHIM_LOGIN), logins + 1, "C_Login retried");
	cr_assert(!in_store("p1") && !in_store("p2"));
	cr_assert_eq(tsrv_wait_log(&srv, "refused the PIN at a new login", 1,
	    5000), 0, "%s", tsrv_log_tail(&srv));
	cr_assert(!tsrv_exited(&srv, NULL), "the server stopped");
}

/* PT14: a module that asks for a larger output buffer gets one, and the
 * call is made again without a new init (the operation stays active). */
Test(seal, buffer_too_small_retried)
{
	char out[2048];

	keygen();
	shim_on();
	start(true);
	shim_fail(SHIM_ENCRYPT, CKR_BUFFER_TOO_SMALL, 1);
	cr_assert_eq(create_st("b1"), 200, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(shim_left(SHIM_ENCRYPT), 0, "the fault was not hit");
	cr_assert(is_sealed("b1"));
	cr_assert_eq(__atomic_load_n(&shim->short_retried, __ATOMIC_SEQ_CST),
	    1, "C_Encrypt was not called again");
	stop();
	start(true);
	shim_fail(SHIM_DECRYPT, CKR_BUFFER_TOO_SMALL, 1);
	cr_assert_eq(generate("b1", out, sizeof(out)), 200, "%s\n%s", out,
	    tsrv_log_tail(&srv));
	cr_assert_eq(shim_left(SHIM_DECRYPT), 0);
	cr_assert_eq(__atomic_load_n(&shim->short_retried, __ATOMIC_SEQ_CST),
	    2, "C_Decrypt was not called again");
	cr_assert_eq(__atomic_load_n(&shim->short_reinit, __ATOMIC_SEQ_CST),
	    0, "a new init after a length answer");
	cr_assert_eq(tsrv_log_count(&srv, "BUFFER_TOO_SMALL"), 0);
}

/* ---- more requests than sessions ----------------------------------------- */

#define NCONC	32

struct conc {
	pthread_barrier_t	*go;
	int			 i;
	bool			 create;
	long			 st;
	char			 out[1024];
};

static void *
conc_one(void *arg)
{
	struct conc	*c = arg;
	char		 path[128];
	struct tsrv_req	 r = { .method = "POST", .body = "{}", .body_len = 2,
	    .timeout_ms = 30000 };

	snprintf(path, sizeof(path), "/v1/key/%s/c%d", c->create ? "create" :
	    "generate", c->i);
	if (c->create)
		r.body = NULL, r.body_len = 0;
	pthread_barrier_wait(c->go);
	c->st = tsrv_get_ex(&srv, TSRV_ADMIN, path, c->out, sizeof(c->out),
	    &r);
	return NULL;
}

static void
conc_round(bool create)
{
	static struct conc	c[NCONC];
	pthread_t		t[NCONC];
	pthread_barrier_t	go;
	int			i;

	cr_assert_eq(pthread_barrier_init(&go, NULL, NCONC), 0);
	for (i = 0; i < NCONC; i++) {
		c[i].go = &go;
		c[i].i = i;
		c[i].create = create;
		cr_assert_eq(pthread_create(&t[i], NULL, conc_one, &c[i]), 0);
	}
	for (i = 0; i < NCONC; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&go);
	for (i = 0; i < NCONC; i++)
		cr_assert_eq(c[i].st, 200, "%s c%d: %ld %s\n%s", create ?
		    "create" : "generate", i, c[i].st, c[i].out,
		    tsrv_log_tail(&srv));
}

/* PT11: 32 concurrent creates, then 32 concurrent cold reads, on 2
 * sessions of a token that takes 20 ms per operation: every answer
 * right, both sessions busy at once and never a session with two
 * operations (the shim would see it; SoftHSM would answer
 * CKR_OPERATION_ACTIVE). */
Test(seal, more_requests_than_sessions)
{
	int i;

	keygen();
	shim_on();
	start(true);
	__atomic_store_n(&shim->delay_us, 20000, __ATOMIC_SEQ_CST);
	conc_round(true);
	for (i = 0; i < NCONC; i++) {
		char name[16];

		snprintf(name, sizeof(name), "c%d", i);
		cr_assert(is_sealed(name), "%s", name);
	}
	stop();
	start(true);	/* every generate reads the store */
	conc_round(false);
	cr_assert_eq(__atomic_load_n(&shim->session_reused, __ATOMIC_SEQ_CST),
	    0, "a session had two operations at once");
	cr_assert_eq(__atomic_load_n(&shim->busy_max, __ATOMIC_SEQ_CST), 2,
	    "sessions busy at once: %ld", (long)shim->busy_max);
	cr_assert_eq(tsrv_log_count(&srv, "OPERATION_ACTIVE"), 0);
}

/* ---- rotation ----------------------------------------------------------- */

/* The kid (CKA_LABEL of the seal key) of a stored sealed value. */
static void
stored_kid(const char *name, char *kid, size_t len)
{
	char		v[8192];
	unsigned char	env[8192];
	int		n;

	read_store(name, v, sizeof(v));
	cr_assert_eq(strncmp(v, "kwseal:v1:", 10), 0);
	n = EVP_DecodeBlock(env, (unsigned char *)v + 10,
	    (int)strlen(v + 10));
	cr_assert_gt(n, 2);
	cr_assert_lt((size_t)env[1], len);
	memcpy(kid, env + 2, env[1]);
	kid[env[1]] = '\0';
}

/* PT10: a new seal key with the old one in old_keys: old values still
 * open, new ones are sealed with the new key; the old key dropped from
 * old_keys, its values are refused. */
Test(seal, rotation_old_keys)
{
	char out[2048], kid[80];

	keygen();
	start(true);
	create("o1");
	stored_kid("o1", kid, sizeof(kid));
	cr_assert_str_eq(kid, "kw-seal");
	stop();

	seal_section("kw-test", PIN, "kw-seal-2",
	    "      old_keys: [ kw-seal ]\n");
	keygen();
	start(true);
	cr_assert_eq(generate("o1", out, sizeof(out)), 200, "%s\n%s", out,
	    tsrv_log_tail(&srv));
	create("n1");
	stored_kid("n1", kid, sizeof(kid));
	cr_assert_str_eq(kid, "kw-seal-2");
	stop();

	seal_section("kw-test", PIN, "kw-seal-2", NULL);
	start(true);
	cr_assert_eq(generate("n1", out, sizeof(out)), 200);
	cr_assert_eq(generate("o1", out, sizeof(out)), 502);
	cr_assert_eq(tsrv_wait_log(&srv, "neither key nor in old_keys", 1,
	    5000), 0, "%s", tsrv_log_tail(&srv));
}

/* ---- migration over Vault (through the store interface) ------------------ */

#define VROLE		"kw-role"
#define VSECRET		"s3cr3t-id-7f2a9c41e0b8"
#define VROOT		"root-for-tests-only"


struct sink {
	char	*buf;
	size_t	 len, cap;
};

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink	*k = arg;
	size_t		 n = size * nmemb, room = k->cap - 1 - k->len;

	memcpy(k->buf + k->len, data, n < room ? n : room);
	k->len += n < room ? n : room;
	k->buf[k->len] = '\0';
	return n;
}

/* The Vault double directly, as its root: the HTTP status. */
static long
vapi(const char *method, const char *path, char *out, size_t outlen)
{
	struct curl_slist	*h = NULL;
	struct sink		 k = { out, 0, outlen };
	char			 url[PATH_MAX];
	CURL			*c;
	long			 code = -1;

	out[0] = '\0';
	FMT(url, "https://127.0.0.1:%d%s", vd.port, path);
	cr_assert_not_null(c = curl_easy_init());
	h = curl_slist_append(h, "X-Vault-Token: " VROOT);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &k);
	FMT(url, "%s/ca.crt", vd.dir);
	curl_easy_setopt(c, CURLOPT_CAINFO, url);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return code;
}

/* The double, with a CA and a server certificate for 127.0.0.1. */
static void
vd_start(void)
{
	const char	*argv[] = { "--addr", "127.0.0.1:0", "--cert",
	    "server.crt", "--key", "server.key", "--state", "vault.json",
	    "--port-file", "vault.port", "--control-port-file", "vault.cport",
	    "--log", "vault.log", "--approle", VROLE ":" VSECRET,
	    "--root-token", VROOT, "--no-fsync", "--exit-with-parent", NULL };
	char		 why[256];

	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the Vault test double");
	FMT(vd.dir, "%s/vault", srv.dir);
	cr_assert_eq(run("mkdir -p %s && cd %s && exec >pki.log 2>&1 && "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=vault-ca && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout server.key -out server.csr -subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && openssl x509 -req -in server.csr -CA "
	    "ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 "
	    "-extfile s.ext && chmod 0755 . && chmod 0644 *", vd.dir,
	    vd.dir), 0);
	cr_assert_eq(pydouble_start(&vd, getenv("KEYWARD_VAULT_DOUBLE") !=
	    NULL ? getenv("KEYWARD_VAULT_DOUBLE") :
	    "tests/doubles/vault_double.py", argv, "vault.port", "vault.cport",
	    why, sizeof(why)), 0, "%s", why);
}

/* The configuration with keystore.vault (KV v2) in place of fs. */
static void
write_cfg_vault(bool sealed)
{
	char	 fs[PATH_MAX + 64], ks[4096], *text, *at, *out;
	FILE	*f;
	long	 len;

	write_cfg(sealed);
	FMT(fs, "  fs:\n    path: %s\n", srv.keys);
	FMT(ks, "  vault:\n    endpoint: https://127.0.0.1:%d\n"
	    "    engine: kv2\n    version: v2\n    approle:\n      id: " VROLE
	    "\n      secret: " VSECRET "\n    tls:\n      ca: %s/ca.crt\n"
	    "    status:\n      ping: 1s\n", vd.port, vd.dir);
	cr_assert_not_null(f = fopen(srv.config, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	cr_assert_not_null(text = calloc(1, (size_t)len + 1));
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	cr_assert_not_null(at = strstr(text, fs), "no fs store in:\n%s", text);
	cr_assert_not_null(out = calloc(1, (size_t)len + strlen(ks) + 1));
	memcpy(out, text, (size_t)(at - text));
	strcat(out, ks);
	strcat(out, at + strlen(fs));
	cr_assert_eq(tsrv_write_file(srv.config, out), 0);
	free(text);
	free(out);
}

static void
start_vault(bool sealed)
{
	write_cfg_vault(sealed);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", ++starts, READY_MS), 0,
	    "not ready; log:\n%s", tsrv_log_tail(&srv));
}

/* The value Vault holds for name: 1 sealed, 0 plain, -1 none. */
static int
vault_sealed(const char *name)
{
	char	path[256], out[16384], *p;
	long	st;

	FMT(path, "/v1/kv2/data/%s", name);
	st = vapi("GET", path, out, sizeof(out));
	if (st == 404)
		return -1;
	cr_assert_eq(st, 200, "GET %s: %ld %s", path, st, out);
	FMT(path, "\"%s\":\"", name);
	cr_assert_not_null(p = strstr(out, path), "%s", out);
	return strncmp(p + strlen(path), "kwseal:v1:", 10) == 0;
}

static int
vault_count(int n, int want)
{
	char	name[32];
	int	i, c = 0;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		c += vault_sealed(name) == want;
	}
	return c;
}

/* Staging names (kwseal-stage-...) Vault lists. */
static int
vault_staged(void)
{
	char	out[65536], *p;
	int	n = 0;

	if (vapi("GET", "/v1/kv2/metadata/?list=true", out, sizeof(out)) !=
	    200)
		return 0;
	for (p = out; (p = strstr(p, "kwseal-stage-")) != NULL; p++)
		n++;
	return n;
}

static int
seal_cmd_vault(const char *cmd, const char *env)
{
	write_cfg_vault(true);
	return seal_cmd(cmd, env);
}

/* Every key answers, and the ciphertext made before any migration
 * still opens (the same key material, never a new key). */
static void
all_read(int n, const char *ct)
{
	char	out[2048], name[32], body[1200];
	long	st;
	int	i;

	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		st = generate(name, out, sizeof(out));
		cr_assert_eq(st, 200, "%s: %ld %s\n%s", name, st, out,
		    tsrv_log_tail(&srv));
	}
	snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", ct);
	st = post("/v1/key/decrypt/v0", body, out, sizeof(out));
	cr_assert_eq(st, 200, "decrypt: %ld %s", st, out);
}

/*
 * `keyward seal seal|unseal` over Vault, which has no atomic replace:
 * killed between the delete of a key's old form and the create of its
 * new one, the key still reads (the agent finds its staged copy), and the
 * next run restores it; killed between keys, every key reads; finished,
 * every value is sealed (or plain again) and no staged copy is left.
 */
Test(seal, vault_migration_with_crash)
{
	char	out[2048], name[32], ct[1024], *p, *q;
	int	i, n = 6, rc;

	keygen();
	vd_start();
	start_vault(false);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "v%d", i);
		create(name);
	}
	cr_assert_eq(generate("v0", out, sizeof(out)), 200);
	cr_assert_not_null(p = strstr(out, "\"ciphertext\":\""));
	p += 14;
	cr_assert_not_null(q = strchr(p, '"'));
	snprintf(ct, sizeof(ct), "%.*s", (int)(q - p), p);
	stop();
	cr_assert_eq(vault_count(n, 0), n);

	/* Killed in the gap of the third key: it is in Vault only as its
	 * staged copy, and still reads through the server. */
	rc = seal_cmd_vault("seal", "KEYWARD_SEAL_CRASH_AFTER=2 "
	    "KEYWARD_SEAL_CRASH_GAP=1");
	cr_assert_eq(rc, 128 + SIGKILL, "seal was not killed: %d", rc);
	cr_assert_eq(vault_count(n, 1), 2);
	cr_assert_eq(vault_count(n, -1), 1, "no key in its gap");
	cr_assert_eq(vault_staged(), 1);
	start_vault(true);
	all_read(n, ct);
	cr_assert_gt(tsrv_log_count(&srv, "read from its staged copy"), 0);
	stop();

	cr_assert_eq(seal_cmd_vault("seal", NULL), 0);
	cr_assert_eq(vault_count(n, 1), n);
	cr_assert_eq(vault_staged(), 0, "staged copies left");
	start_vault(true);
	all_read(n, ct);
	stop();

	/* Unseal, killed between keys, then to the end. */
	rc = seal_cmd_vault("unseal", "KEYWARD_SEAL_CRASH_AFTER=3");
	cr_assert_eq(rc, 128 + SIGKILL);
	cr_assert_eq(vault_count(n, 0), 3);
	cr_assert_eq(vault_count(n, 1), n - 3);
	start_vault(true);
	all_read(n, ct);
	stop();
	cr_assert_eq(seal_cmd_vault("unseal", NULL), 0);
	cr_assert_eq(vault_count(n, 0), n);
	cr_assert_eq(vault_staged(), 0);
	start_vault(false);
	all_read(n, ct);
	stop();
	pydouble_stop(&vd);
}
