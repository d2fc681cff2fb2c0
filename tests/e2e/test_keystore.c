/*
 * The key store as the whole server uses it (spec 6.1, 6.2, 6.5), with
 * privsep and the sandbox on, over real mTLS. Each test starts its own
 * server (tests/lib/testsrv.c); the suite's .fini kills what is left.
 *
 *   crash_safe_create      kill -9 of the agent in a burst of creates
 *                          leaves no partial key and loses no key that
 *                          was acknowledged
 *   cache_offline_window   expiry.offline: cached keys serve through an
 *                          outage for the window, then stop
 *   cache_unused_while_down  expiry.offline 0: unused evicts idle keys
 *                          while the store is down, used keys stay
 *   cache_any_while_down   expiry.offline 0: any clears even a key in use
 *   kes_stored_data        keys and ciphertexts made by an independent
 *                          implementation (tests/data/kat/e2e_vectors.py)
 *                          in every format real KES wrote
 *
 * Needs root (the children drop to user keyward, which
 * scripts/ensure-user.sh creates); skipped otherwise.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "tests/lib/testsrv.h"

#define READY_MS	10000
#define POLL_MS		50
#define BODYLEN		8192

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

/* KES error bodies (spec 2.1): the message, then "\n}". */
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"
static const char err_read[] = ERR_BODY("failed to read key");
static const char err_missing[] = ERR_BODY("key does not exist");
static const char err_decrypt[] =
    ERR_BODY("decryption failed: ciphertext is not authentic");
static const char err_no_hmac[] = ERR_BODY("key does not support HMAC");
static const char err_not_ready[] = ERR_BODY("key store is not reachable");

/* base64('{"bucket":"e2e","object":"x/y"}'), a MinIO-like context. */
static const char ctx_b64[] = "eyJidWNrZXQiOiJlMmUiLCJvYmplY3QiOiJ4L3kifQ==";

static struct testsrv srv;

static void
setup(void)
{
	/* libcurl with CURLOPT_NOSIGNAL leaves SIGPIPE to us. */
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
}

TestSuite(keystore, .init = setup, .fini = teardown, .timeout = 90);

static struct passwd *
need_root_and_user(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		cr_skip_test("the key store tests start the server as root");
	if ((pw = getpwnam("keyward")) == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	return pw;
}

static void
start_server(const char *extra)
{
	struct tsrv_cfg cfg = { .extra = extra };

	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup (server binary, "
	    "PKI, temporary directory, port) failed: %s; build the server "
	    "first (`make`)", strerror(errno));
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the server did not log \"serving on\" within %d s; log:\n%s",
	    READY_MS / 1000, tsrv_log_tail(&srv));
}

/* --- a client that keeps its connection ---------------------------------- */

struct cli {
	CURL			*h;
	struct curl_slist	*hdrs;
	char			 err[CURL_ERROR_SIZE];
};

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

/* A libcurl handle for one client identity; its connection is reused
 * from one call to the next (tsrv_get_ex opens one per request). */
static int
cli_open(struct cli *c, enum tsrv_client who)
{
	memset(c, 0, sizeof(*c));
	if ((c->h = curl_easy_init()) == NULL)
		return -1;
	/* No "Expect: 100-continue" round trip for larger bodies. */
	c->hdrs = curl_slist_append(NULL, "Expect:");
	curl_easy_setopt(c->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c->h, CURLOPT_CAINFO, srv.ca);
	curl_easy_setopt(c->h, CURLOPT_SSLCERT, srv.cert[who]);
	curl_easy_setopt(c->h, CURLOPT_SSLKEY, srv.key[who]);
	curl_easy_setopt(c->h, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 15000L);
	curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
	curl_easy_setopt(c->h, CURLOPT_ERRORBUFFER, c->err);
	curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink_write);
	return 0;
}

static void
cli_close(struct cli *c)
{
	if (c->h != NULL)
		curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdrs);
	memset(c, 0, sizeof(*c));
}

/*
 * body NULL: GET; else POST with that body ("" for none). The HTTP status,
 * or -1 on a transport error (then "curl: ..." in out).
 */
static long
cli_do(struct cli *c, const char *path, const char *body, char *out,
    size_t outlen)
{
	char		url[1024];
	struct sink	k = { out, 0, outlen };
	CURLcode	rc;
	long		code = -1;

	out[0] = '\0';
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", srv.port, path);
	curl_easy_setopt(c->h, CURLOPT_URL, url);
	curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &k);
	if (body == NULL)
		curl_easy_setopt(c->h, CURLOPT_HTTPGET, 1L);
	else {
		curl_easy_setopt(c->h, CURLOPT_POST, 1L);
		curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)strlen(body));
		curl_easy_setopt(c->h, CURLOPT_COPYPOSTFIELDS, body);
	}
	c->err[0] = '\0';
	rc = curl_easy_perform(c->h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &code);
	else
		snprintf(out, outlen, "curl: %s", c->err[0] ? c->err :
		    curl_easy_strerror(rc));
	return code;
}

/* POST /v1/key/<op>/<name> with body. */
static long
key_op(struct cli *c, const char *op, const char *name, const char *body,
    char *out, size_t outlen)
{
	char path[512];

	snprintf(path, sizeof(path), "/v1/key/%s/%s", op, name);
	return cli_do(c, path, body, out, outlen);
}

/* --- base64 and JSON, with OpenSSL and jansson (not keyward's code) ------- */

static int
unb64(const char *s, uint8_t *out, size_t max, size_t *outlen)
{
	size_t	n = strlen(s), pad = 0;
	int	r;

	if (n % 4 != 0 || n / 4 * 3 > max)
		return -1;
	if (n > 0 && s[n - 1] == '=')
		pad++;
	if (n > 1 && s[n - 2] == '=')
		pad++;
	if ((r = EVP_DecodeBlock(out, (const unsigned char *)s,
	    (int)n)) < 0)
		return -1;
	*outlen = (size_t)r - pad;
	return 0;
}

/* The string field of a JSON object body, copied; false if absent. */
static bool
json_str_field(const char *body, const char *field, char *out, size_t len)
{
	json_error_t	 jerr;
	json_t		*j, *v;
	bool		 ok = false;

	out[0] = '\0';
	if ((j = json_loads(body, 0, &jerr)) == NULL)
		return false;
	v = json_object_get(j, field);
	if (json_is_string(v) && strlen(json_string_value(v)) < len) {
		strcpy(out, json_string_value(v));
		ok = true;
	}
	json_decref(j);
	return ok;
}

/* A /v1/status body that reports the store down as kms-go needs it. */
static bool
status_down(const char *body)
{
	json_error_t	 jerr;
	json_t		*j;
	bool		 ok;

	if ((j = json_loads(body, 0, &jerr)) == NULL)
		return false;
	ok = json_is_true(json_object_get(j, "keystore_unreachable")) &&
	    json_is_true(json_object_get(j, "keystore_unavailable")) &&
	    json_object_get(j, "keystore_latency") == NULL;
	json_decref(j);
	return ok;
}

static bool
status_up(const char *body)
{
	json_error_t	 jerr;
	json_t		*j;
	bool		 ok;

	if ((j = json_loads(body, 0, &jerr)) == NULL)
		return false;
	ok = json_is_integer(json_object_get(j, "keystore_latency")) &&
	    json_object_get(j, "keystore_unreachable") == NULL &&
	    json_object_get(j, "keystore_unavailable") == NULL;
	json_decref(j);
	return ok;
}

/* Poll /v1/status until up (or down); ms taken, or -1 after timeout_ms. */
static long
wait_store(struct cli *c, bool up, unsigned int timeout_ms, char *body,
    size_t len)
{
	uint64_t	t0 = tsrv_now_ms();
	long		code;

	for (;;) {
		code = cli_do(c, "/v1/status", NULL, body, len);
		if (code == 200 && (up ? status_up(body) : status_down(body)))
			return (long)(tsrv_now_ms() - t0);
		if (tsrv_now_ms() - t0 >= timeout_ms)
			return -1;
		tsrv_sleep_ms(100);
	}
}

/* --- key operations ------------------------------------------------------ */

struct dek {
	char	plaintext[128];
	char	ciphertext[256];
};

/* generate with the test context; the DEK and its ciphertext in d. */
static long
generate(struct cli *c, const char *name, struct dek *d, char *body,
    size_t len)
{
	char	req[128];
	long	code;

	snprintf(req, sizeof(req), "{\"context\":\"%s\"}", ctx_b64);
	code = key_op(c, "generate", name, req, body, len);
	if (code == 200 && (!json_str_field(body, "plaintext", d->plaintext,
	    sizeof(d->plaintext)) || !json_str_field(body, "ciphertext",
	    d->ciphertext, sizeof(d->ciphertext))))
		return -2;	/* 200 with a body that is not a DEK */
	return code;
}

/* decrypt ciphertext (b64) with context (b64); the body in body. */
static long
decrypt(struct cli *c, const char *name, const char *ct, const char *ctx,
    char *body, size_t len)
{
	char req[4096];

	snprintf(req, sizeof(req), "{\"ciphertext\":\"%s\",\"context\":\"%s\"}",
	    ct, ctx);
	return key_op(c, "decrypt", name, req, body, len);
}

/* Does d's ciphertext decrypt to d's plaintext? If not, why says what
 * the server answered. */
static bool
dek_opens(struct cli *c, const char *name, const struct dek *d, char *why,
    size_t whylen)
{
	char	body[BODYLEN], pt[128];
	long	code;

	code = decrypt(c, name, d->ciphertext, ctx_b64, body, sizeof(body));
	if (code != 200 || !json_str_field(body, "plaintext", pt,
	    sizeof(pt)) || strcmp(pt, d->plaintext) != 0) {
		snprintf(why, whylen, "decrypt %s: %ld %.120s (want plaintext "
		    "%s)", name, code, body, d->plaintext);
		return false;
	}
	return true;
}

/* --- files --------------------------------------------------------------- */

static char *
slurp(const char *path, size_t *lenp)
{
	char	*buf;
	FILE	*f;
	long	 n;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)n + 1)) ==
	    NULL) {
		fclose(f);
		return NULL;
	}
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (lenp != NULL)
		*lenp = (size_t)n;
	return buf;
}

/* A file in the store as the server's user would have written it:
 * mode 0600, owned by keyward, no trailing newline (spec 6.2). */
static void
plant(const struct passwd *pw, const char *name, const char *value)
{
	char	path[PATH_MAX + 128];
	size_t	len = strlen(value);
	int	fd;

	FMT(path, "%s/%s", srv.keys, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_neq(fd, -1, "create %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, value, len), (ssize_t)len);
	cr_assert_eq(fchown(fd, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(fchmod(fd, 0600), 0);
	cr_assert_eq(close(fd), 0);
}

/* The agent must not be root, or a mode-000 directory would not stop it. */
static void
expect_agent_unprivileged(const struct passwd *pw)
{
	char	v[128];
	pid_t	agent;

	cr_assert_gt(agent = tsrv_child(&srv, "keyward agent"), 0);
	cr_assert_eq(tsrv_proc_field(agent, "Uid", v, sizeof(v)), 0);
	cr_assert_eq((uid_t)strtoul(v, NULL, 10), pw->pw_uid,
	    "the agent runs as uid %s, not keyward's %u: chmod 000 would "
	    "not cut it off", v, (unsigned int)pw->pw_uid);
}

/*
 * No process of the server may die by its own sandbox (SIGSYS): a system
 * call its filter does not allow is a server bug, whatever the request.
 */
static void
expect_no_sandbox_kill(void)
{
	cr_expect_eq(tsrv_log_count(&srv, "killed by signal 31"), 0,
	    "a server process was killed by its sandbox (SIGSYS); rerun with "
	    "KEYWARD_SANDBOX_DEBUG=1 KEYWARD_TEST_KEEP=1 and look for "
	    "\"blocked syscall\" in server.log");
}

/* ========================================================================= */
/* 1. crash safety of create                                                  */
/* ========================================================================= */

#define BURST		240
#define BURST_THREADS	4
#define NPRE		5
#define KILL_AT		50	/* 200s before the first kill */
#define KILL_AGAIN	30	/* more 200s from the new agent, then again */

struct burst {
	long		code[BURST];
	char		body[BURST][160];
	int		next;		/* next index to create (atomic) */
	int		ok;		/* 200s so far (atomic) */
	int		failed;		/* others so far (atomic) */
	int		ok_after_kill;	/* 200s of creates sent after a kill */
	int		kills;		/* agents killed so far (atomic) */
	int		opened;		/* threads that got a curl handle */
};

static struct burst B;

static void *
burst_thread(void *arg)
{
	struct cli	c;
	char		name[32], body[BODYLEN];
	int		i, kills;
	long		code;

	(void)arg;
	if (cli_open(&c, TSRV_ADMIN) == -1)
		return NULL;
	__atomic_add_fetch(&B.opened, 1, __ATOMIC_SEQ_CST);
	while ((i = __atomic_fetch_add(&B.next, 1, __ATOMIC_SEQ_CST)) <
	    BURST) {
		snprintf(name, sizeof(name), "burst-%03d", i);
		kills = __atomic_load_n(&B.kills, __ATOMIC_SEQ_CST);
		code = key_op(&c, "create", name, "", body, sizeof(body));
		B.code[i] = code;
		snprintf(B.body[i], sizeof(B.body[i]), "%.150s", body);
		if (code == 200) {
			__atomic_add_fetch(&B.ok, 1, __ATOMIC_SEQ_CST);
			/* Sent after a kill: a restarted agent wrote it. */
			if (kills > 0)
				__atomic_add_fetch(&B.ok_after_kill, 1,
				    __ATOMIC_SEQ_CST);
		} else {
			__atomic_add_fetch(&B.failed, 1, __ATOMIC_SEQ_CST);
			/* Back off like a client would, so that the burst
			 * outlasts the agent's restart (100 ms and up). */
			tsrv_sleep_ms(25);
		}
	}
	cli_close(&c);
	return NULL;
}

/* Wait until `want` creates have succeeded; false when the burst ended
 * first or timeout_ms passed. */
static bool
burst_wait_ok(int want, unsigned int timeout_ms)
{
	uint64_t t0 = tsrv_now_ms();

	while (__atomic_load_n(&B.ok, __ATOMIC_SEQ_CST) < want) {
		if (__atomic_load_n(&B.ok, __ATOMIC_SEQ_CST) +
		    __atomic_load_n(&B.failed, __ATOMIC_SEQ_CST) >= BURST ||
		    tsrv_now_ms() - t0 > timeout_ms)
			return false;
		tsrv_sleep_ms(2);
	}
	return true;
}

/* A new agent pid, not one of those killed; -1 after timeout_ms. */
static pid_t
wait_new_agent(const pid_t *killed, int nkilled, unsigned int timeout_ms)
{
	uint64_t	t0 = tsrv_now_ms();
	pid_t		p;
	int		i;

	for (;;) {
		p = tsrv_child(&srv, "keyward agent");
		for (i = 0; p > 0 && i < nkilled; i++)
			if (p == killed[i])
				p = -1;
		if (p > 0)
			return p;
		if (tsrv_now_ms() - t0 > timeout_ms)
			return -1;
		tsrv_sleep_ms(10);
	}
}

/* Is this a name the test created? Its index in *idx (-1: a pre key). */
static bool
test_key_name(const char *name, int *idx)
{
	char	*end;
	long	 n;

	if (strncmp(name, "burst-", 6) == 0 && strlen(name) == 9) {
		n = strtol(name + 6, &end, 10);
		if (*end == '\0' && n >= 0 && n < BURST) {
			*idx = (int)n;
			return true;
		}
	}
	if (strncmp(name, "pre-", 4) == 0 && strlen(name) == 5 &&
	    name[4] >= '0' && name[4] < '0' + NPRE) {
		*idx = -1;
		return true;
	}
	return false;
}

/*
 * A stored value must be a complete current-format key: base64 that
 * decodes to a protobuf KeyVersion whose first fields are SecretKey
 * (0x0a 0x24) holding a 32-byte key (0x0a 0x20 ...), then HMACKey (0x12
 * 0x24 0x0a 0x20 ...) (spec 6.1, the bytes keyward writes). The server's
 * describe below checks the rest.
 */
static bool
complete_value(const char *v, size_t len, char *why, size_t whylen)
{
	uint8_t	raw[1024];
	size_t	n;

	if (len == 0 || strlen(v) != len) {
		snprintf(why, whylen, "empty or has NUL bytes (%zu bytes)",
		    len);
		return false;
	}
	if (unb64(v, raw, sizeof(raw), &n) == -1) {
		snprintf(why, whylen, "not base64: \"%.80s\"", v);
		return false;
	}
	if (n < 76 || raw[0] != 0x0a || raw[1] != 0x24 || raw[2] != 0x0a ||
	    raw[3] != 0x20 || raw[38] != 0x12 || raw[39] != 0x24 ||
	    raw[40] != 0x0a || raw[41] != 0x20) {
		snprintf(why, whylen, "not a KeyVersion with a secret and an "
		    "HMAC key (%zu bytes decoded)", n);
		return false;
	}
	return true;
}

/*
 * Proves: the fs store's create is crash-safe under a kill -9 of the
 * agent at an arbitrary point of a burst of creates from several
 * connections. Afterwards every create that got 200 is in the store and
 * works (read back from the store, not from the crypto cache: crypto is
 * restarted first), the directory holds only complete key files (no
 * empty or partial file, no temporary), a create that failed either
 * left nothing (describe 404) or a complete key, a leftover temporary is
 * swept when the agent starts, and keys made before the burst are byte
 * for byte unchanged and still decrypt what they encrypted.
 */
Test(keystore, crash_safe_create)
{
	struct passwd	*pw;
	struct cli	 c;
	pthread_t	 th[BURST_THREADS];
	struct dek	 pre_dek[NPRE], d;
	char		*pre_file[NPRE], *now_file, pre_desc[NPRE][512];
	char		 name[32], path[PATH_MAX + 64], body[BODYLEN];
	char		 why[512], tmpname[64], by[128];
	bool		 on_disk[BURST];
	pid_t		 killed[2], crypto, p;
	struct dirent	*de;
	struct stat	 st;
	DIR		*dir;
	size_t		 len;
	long		 code;
	int		 i, idx, nkilled = 0, nfiles = 0, landed = 0, bad = 0;
	int		 ok_at_kill;
	uint64_t	 t0;

	pw = need_root_and_user();
	start_server(NULL);
	cr_assert_eq(cli_open(&c, TSRV_ADMIN), 0);

	/* Keys that exist before the burst: their files, describe output
	 * and a DEK each. */
	for (i = 0; i < NPRE; i++) {
		FMT(name, "pre-%d", i);
		code = key_op(&c, "create", name, "", body, sizeof(body));
		cr_assert_eq(code, 200, "create %s: %ld %s", name, code, body);
		code = generate(&c, name, &pre_dek[i], body, sizeof(body));
		cr_assert_eq(code, 200, "generate %s: %ld %s", name, code,
		    body);
		code = key_op(&c, "describe", name, NULL, body, sizeof(body));
		cr_assert_eq(code, 200, "describe %s: %ld %s", name, code,
		    body);
		FMT(pre_desc[i], "%s", body);
		FMT(path, "%s/%s", srv.keys, name);
		cr_assert_not_null(pre_file[i] = slurp(path, NULL), "%s: %s",
		    path, strerror(errno));
	}

	/* What an agent killed between creating its temporary and linking
	 * it leaves behind; the next agent must remove it. */
	FMT(tmpname, ".tmp-%s", "0123456789abcdef0123456789abcdef");
	plant(pw, tmpname, "CiQKIN4H6mf8");

	memset(&B, 0, sizeof(B));
	for (i = 0; i < BURST_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, burst_thread, NULL),
		    0);

	/* First kill once the burst is well under way; a second one once
	 * the restarted agent has been creating keys for a while. */
	if (burst_wait_ok(KILL_AT, 30000)) {
		cr_assert_gt(killed[0] = tsrv_child(&srv, "keyward agent"), 0);
		cr_assert_eq(kill(killed[0], SIGKILL), 0);
		__atomic_add_fetch(&B.kills, 1, __ATOMIC_SEQ_CST);
		nkilled = 1;
		ok_at_kill = __atomic_load_n(&B.ok, __ATOMIC_SEQ_CST);
		if (wait_new_agent(killed, nkilled, 5000) > 0 &&
		    burst_wait_ok(ok_at_kill + KILL_AGAIN, 20000) &&
		    (killed[1] = tsrv_child(&srv, "keyward agent")) > 0 &&
		    killed[1] != killed[0]) {
			cr_assert_eq(kill(killed[1], SIGKILL), 0);
			__atomic_add_fetch(&B.kills, 1, __ATOMIC_SEQ_CST);
			nkilled = 2;
		}
	}
	for (i = 0; i < BURST_THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(B.opened, BURST_THREADS);
	cr_log_info("burst: %d created, %d failed, %d agents killed, %d "
	    "created after the first kill", B.ok, B.failed, nkilled,
	    B.ok_after_kill);
	cr_assert_geq(nkilled, 1, "the burst ended (%d ok, %d failed) before "
	    "%d creates had succeeded; log:\n%s", B.ok, B.failed, KILL_AT,
	    tsrv_log_tail(&srv));
	/* The kill landed while creates were coming in, and creating went
	 * on with the restarted agent. */
	cr_expect_gt(B.failed, 0, "no create failed: the agent kill did not "
	    "land inside the burst");
	cr_expect_gt(B.ok_after_kill, 0, "no create succeeded after the "
	    "agent was killed");
	for (i = 0; i < BURST; i++)
		if (B.code[i] != 200 && !(B.code[i] == 502 &&
		    strcmp(B.body[i], ERR_BODY("failed to create key")) == 0) &&
		    B.code[i] != 503 && B.code[i] != -1 && bad++ < 5)
			cr_expect_fail("create burst-%03d: %ld %s (want 200, "
			    "or a 5xx/connection error while the agent was "
			    "down)", i, B.code[i], B.body[i]);

	/* The agent is back and the store reachable. */
	cr_assert_gt(p = wait_new_agent(killed, nkilled, 10000), 0,
	    "no new agent; log:\n%s", tsrv_log_tail(&srv));
	cr_assert_geq(wait_store(&c, true, 10000, body, sizeof(body)), 0,
	    "the store did not come back: %s; log:\n%s", body,
	    tsrv_log_tail(&srv));

	/* The leftover temporary was swept when the agent started. */
	FMT(path, "%s/%s", srv.keys, tmpname);
	cr_expect_eq(lstat(path, &st), -1, "%s survived the agent restart",
	    path);
	cr_expect_gt(tsrv_log_count(&srv, "temporary file"), 0, "no log of "
	    "removed temporaries; log:\n%s", tsrv_log_tail(&srv));

	/* Restart crypto: from here on every key is read from the store,
	 * not from the cache that a successful create fills. */
	cr_assert_gt(crypto = tsrv_child(&srv, "keyward crypto"), 0);
	cr_assert_eq(kill(crypto, SIGKILL), 0);
	t0 = tsrv_now_ms();
	while (((p = tsrv_child(&srv, "keyward crypto")) <= 0 ||
	    p == crypto) && tsrv_now_ms() - t0 < 10000)
		tsrv_sleep_ms(20);
	cr_assert(p > 0 && p != crypto, "crypto did not come back");
	cli_close(&c);
	cr_assert_eq(cli_open(&c, TSRV_ADMIN), 0);
	cr_assert_geq(wait_store(&c, true, 10000, body, sizeof(body)), 0,
	    "no status after the crypto restart: %s; log:\n%s", body,
	    tsrv_log_tail(&srv));

	/* Every entry of the store is a complete key file of ours. */
	memset(on_disk, 0, sizeof(on_disk));
	cr_assert_not_null(dir = opendir(srv.keys), "%s: %s", srv.keys,
	    strerror(errno));
	bad = 0;
	while ((de = readdir(dir)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		FMT(path, "%s/%s", srv.keys, de->d_name);
		cr_assert_eq(lstat(path, &st), 0, "%s: %s", path,
		    strerror(errno));
		cr_expect(S_ISREG(st.st_mode), "%s is not a regular file",
		    path);
		cr_expect_neq(strncmp(de->d_name, ".tmp-", 5), 0,
		    "temporary %s left in the store", path);
		if (!test_key_name(de->d_name, &idx)) {
			cr_expect_fail("unexpected entry %s in the store",
			    path);
			continue;
		}
		cr_expect_eq(st.st_mode & 07777, 0600, "%s has mode %04o",
		    path, (unsigned int)(st.st_mode & 07777));
		cr_expect_eq(st.st_uid, pw->pw_uid, "%s is owned by uid %u",
		    path, (unsigned int)st.st_uid);
		now_file = slurp(path, &len);
		cr_assert_not_null(now_file, "%s: %s", path, strerror(errno));
		if (!complete_value(now_file, len, why, sizeof(why)) &&
		    bad++ < 5)
			cr_expect_fail("%s is not a complete key: %s", path,
			    why);
		free(now_file);
		nfiles++;
		if (idx >= 0)
			on_disk[idx] = true;
	}
	closedir(dir);

	/* Every acknowledged key works; every failed one is all or
	 * nothing. */
	bad = 0;
	for (i = 0; i < BURST; i++) {
		FMT(name, "burst-%03d", i);
		if (B.code[i] == 200 && !on_disk[i]) {
			if (bad++ < 5)
				cr_expect_fail("create %s got 200 but the key "
				    "is not in the store", name);
			continue;
		}
		code = key_op(&c, "describe", name, NULL, body, sizeof(body));
		if (!on_disk[i]) {
			if (code != 404 || strcmp(body, err_missing) != 0)
				if (bad++ < 5)
					cr_expect_fail("describe %s (create "
					    "failed, no file): %ld %s, want "
					    "404", name, code, body);
			continue;
		}
		if (B.code[i] != 200)
			landed++;
		if (code != 200 || !json_str_field(body, "created_by", by,
		    sizeof(by)) || strcmp(by, srv.id[TSRV_ADMIN]) != 0) {
			if (bad++ < 5)
				cr_expect_fail("describe %s: %ld %s", name,
				    code, body);
			continue;
		}
		code = generate(&c, name, &d, body, sizeof(body));
		if (code != 200) {
			if (bad++ < 5)
				cr_expect_fail("generate %s: %ld %s", name,
				    code, body);
			continue;
		}
		if (!dek_opens(&c, name, &d, why, sizeof(why)) && bad++ < 5)
			cr_expect_fail("%s", why);
	}
	cr_log_info("store: %d files; %d failed creates left a complete key",
	    nfiles, landed);
	cr_expect_eq(nfiles, NPRE + B.ok + landed);

	/* The keys from before: same bytes, same description, and their
	 * DEKs still decrypt. */
	for (i = 0; i < NPRE; i++) {
		FMT(name, "pre-%d", i);
		FMT(path, "%s/%s", srv.keys, name);
		now_file = slurp(path, NULL);
		cr_expect(now_file != NULL && strcmp(now_file, pre_file[i]) ==
		    0, "%s changed: was \"%s\", now \"%s\"", path, pre_file[i],
		    now_file ? now_file : "(missing)");
		free(now_file);
		free(pre_file[i]);
		code = key_op(&c, "describe", name, NULL, body, sizeof(body));
		cr_expect_eq(code, 200, "describe %s: %ld %s", name, code,
		    body);
		cr_expect_str_eq(body, pre_desc[i], "describe %s changed",
		    name);
		cr_expect(dek_opens(&c, name, &pre_dek[i], why, sizeof(why)),
		    "%s", why);
	}
	expect_no_sandbox_kill();
	cli_close(&c);
}

/* ========================================================================= */
/* 2. the cache while the store is down                                       */
/* ========================================================================= */

/* The store directory cut off from the agent (user keyward; we are root
 * and keep our access) or given back. */
static void
store_down(bool down)
{
	cr_assert_eq(chmod(srv.keys, down ? 0 : 0700), 0, "chmod %s: %s",
	    srv.keys, strerror(errno));
}

static void
expect_code_body(long code, const char *body, long want_code,
    const char *want_body, const char *what)
{
	cr_expect_eq(code, want_code, "%s: %ld %s (want %ld)", what, code,
	    body, want_code);
	cr_expect_str_eq(body, want_body, "%s: body \"%s\", want \"%s\"",
	    what, body, want_body);
}

/*
 * Proves spec 6.5 with expiry.offline > 0: when the store becomes
 * unreachable, a key in the cache keeps serving generate and decrypt
 * while a key never cached fails with 502 "failed to read key";
 * /v1/status reports keystore_unreachable and keystore_unavailable and
 * /v1/ready answers 504; once expiry.offline has passed (plus the 1 s
 * cache tick) the cache is dropped and the cached key fails too, not
 * before; with the store back, status, ready, generate and decrypt of the
 * old ciphertext (the key read again from the store) work again. The
 * 5 m any/unused settings cannot account for the eviction.
 */
Test(keystore, cache_offline_window)
{
	struct passwd	*pw;
	struct cli	 c;
	struct dek	 d0, d;
	char		 body[BODYLEN], path[PATH_MAX + 16], why[512], *v;
	uint64_t	 t0, tfail = 0;
	long		 code, ms;

	pw = need_root_and_user();
	start_server("cache:\n  expiry:\n    any: 5m\n    unused: 5m\n"
	    "    offline: 8s\n");
	expect_agent_unprivileged(pw);
	cr_assert_eq(cli_open(&c, TSRV_ADMIN), 0);

	code = key_op(&c, "create", "hot", "", body, sizeof(body));
	cr_assert_eq(code, 200, "create hot: %ld %s", code, body);
	code = generate(&c, "hot", &d0, body, sizeof(body));
	cr_assert_eq(code, 200, "generate hot: %ld %s", code, body);
	/* A valid key the server has never read, so never cached. */
	FMT(path, "%s/hot", srv.keys);
	cr_assert_not_null(v = slurp(path, NULL));
	plant(pw, "cold", v);
	free(v);

	store_down(true);
	t0 = tsrv_now_ms();
	/* The failed read also makes crypto probe the store now. */
	code = generate(&c, "cold", &d, body, sizeof(body));
	expect_code_body(code, body, 502, err_read,
	    "generate of an uncached key with the store down");

	code = generate(&c, "hot", &d, body, sizeof(body));
	cr_expect_eq(code, 200, "generate of the cached key right after the "
	    "outage began: %ld %s", code, body);
	cr_expect(dek_opens(&c, "hot", &d0, why, sizeof(why)), "%s", why);
	if (code == 200)
		cr_expect(dek_opens(&c, "hot", &d, why, sizeof(why)), "%s",
		    why);

	ms = wait_store(&c, false, 12000, body, sizeof(body));
	cr_expect_geq(ms, 0, "/v1/status did not report keystore_unreachable "
	    "and keystore_unavailable within 12 s: %s", body);
	code = cli_do(&c, "/v1/ready", NULL, body, sizeof(body));
	expect_code_body(code, body, 504, err_not_ready,
	    "/v1/ready with the store down");

	/* Still inside the 8 s window. */
	while (tsrv_now_ms() - t0 < 6000)
		tsrv_sleep_ms(100);
	code = generate(&c, "hot", &d, body, sizeof(body));
	cr_expect_eq(code, 200, "generate of the cached key 6 s into the "
	    "outage (expiry.offline 8s): %ld %s\nlog:\n%s", code, body,
	    tsrv_log_tail(&srv));
	cr_expect(dek_opens(&c, "hot", &d0, why, sizeof(why)), "%s", why);

	/* Past the window: the cache is dropped and the key is gone. */
	while (tsrv_now_ms() - t0 < 12500) {
		code = generate(&c, "hot", &d, body, sizeof(body));
		if (code != 200) {
			tfail = tsrv_now_ms() - t0;
			break;
		}
		tsrv_sleep_ms(200);
	}
	cr_expect_gt(tfail, 0, "the cached key still served 12.5 s into the "
	    "outage (expiry.offline 8s)");
	if (tfail > 0) {
		expect_code_body(code, body, 502, err_read,
		    "generate of the cached key after the offline window");
		cr_expect_geq(tfail, 7800, "the cached key was dropped %" PRIu64
		    " ms into the outage, before expiry.offline (8 s)", tfail);
		cr_log_info("offline window: cached key dropped %" PRIu64
		    " ms into the outage", tfail);
		code = decrypt(&c, "hot", d0.ciphertext, ctx_b64, body,
		    sizeof(body));
		expect_code_body(code, body, 502, err_read,
		    "decrypt with the dropped key, store still down");
	}

	store_down(false);
	ms = wait_store(&c, true, 12000, body, sizeof(body));
	cr_expect_geq(ms, 0, "/v1/status did not report the store reachable "
	    "within 12 s of its return: %s", body);
	code = cli_do(&c, "/v1/ready", NULL, body, sizeof(body));
	expect_code_body(code, body, 200, "", "/v1/ready with the store back");
	code = generate(&c, "hot", &d, body, sizeof(body));
	cr_expect_eq(code, 200, "generate with the store back: %ld %s", code,
	    body);
	cr_expect(dek_opens(&c, "hot", &d0, why, sizeof(why)), "%s", why);
	code = key_op(&c, "describe", "cold", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "the planted key is readable with the store "
	    "back: %ld %s", code, body);
	expect_no_sandbox_kill();
	cli_close(&c);
}

/*
 * Proves spec 6.5 with expiry.offline 0 (normal evictions go on during an
 * outage) for expiry.unused 2s: with the store down, a key used every
 * 250 ms stays cached for 4 s (twice `unused`: the sweep keeps used
 * entries), while a key idle since before the outage is gone by then
 * (502); once the busy key is left alone for 3 s it is evicted too.
 */
Test(keystore, cache_unused_while_down)
{
	struct passwd	*pw;
	struct cli	 c;
	struct dek	 d;
	char		 body[BODYLEN];
	uint64_t	 t0;
	long		 code;
	int		 n = 0, fails = 0;

	pw = need_root_and_user();
	start_server("cache:\n  expiry:\n    any: 5m\n    unused: 2s\n"
	    "    offline: 0s\n");
	expect_agent_unprivileged(pw);
	cr_assert_eq(cli_open(&c, TSRV_ADMIN), 0);
	cr_assert_eq(key_op(&c, "create", "busy", "", body, sizeof(body)),
	    200, "%s", body);
	cr_assert_eq(key_op(&c, "create", "idle", "", body, sizeof(body)),
	    200, "%s", body);
	cr_assert_eq(generate(&c, "busy", &d, body, sizeof(body)), 200);
	cr_assert_eq(generate(&c, "idle", &d, body, sizeof(body)), 200);

	store_down(true);
	t0 = tsrv_now_ms();
	while (tsrv_now_ms() - t0 < 4000) {
		code = generate(&c, "busy", &d, body, sizeof(body));
		n++;
		if (code != 200 && fails++ == 0)
			cr_expect_fail("generate of a key in use %" PRIu64
			    " ms into the outage: %ld %s", tsrv_now_ms() - t0,
			    code, body);
		tsrv_sleep_ms(250);
	}
	cr_log_info("unused: %d generates of the busy key, %d failed", n,
	    fails);
	code = generate(&c, "idle", &d, body, sizeof(body));
	expect_code_body(code, body, 502, err_read,
	    "generate of a key unused for 4 s (expiry.unused 2s), store down");

	tsrv_sleep_ms(3000);
	code = generate(&c, "busy", &d, body, sizeof(body));
	expect_code_body(code, body, 502, err_read,
	    "generate of the busy key after 3 s without use, store down");

	store_down(false);
	code = generate(&c, "idle", &d, body, sizeof(body));
	cr_expect_eq(code, 200, "generate with the store back: %ld %s", code,
	    body);
	expect_no_sandbox_kill();
	cli_close(&c);
}

/*
 * Proves spec 6.5 with expiry.offline 0 for expiry.any 3s: with the store
 * down, a key used every 200 ms (so `unused`, 5 m, plays no part) is
 * still dropped within any + the 1 s tick, and fails from then on.
 */
Test(keystore, cache_any_while_down)
{
	struct passwd	*pw;
	struct cli	 c;
	struct dek	 d;
	char		 body[BODYLEN];
	uint64_t	 t0, tfail;
	long		 code = 0;
	int		 attempt, served;

	pw = need_root_and_user();
	start_server("cache:\n  expiry:\n    any: 3s\n    unused: 5m\n"
	    "    offline: 0s\n");
	expect_agent_unprivileged(pw);
	cr_assert_eq(cli_open(&c, TSRV_ADMIN), 0);
	cr_assert_eq(key_op(&c, "create", "k", "", body, sizeof(body)), 200,
	    "%s", body);

	/* If the cache happens to be cleared between caching the key and
	 * cutting the store off, nothing is served: then once more, now
	 * right after a clear. */
	for (attempt = 0; attempt < 2; attempt++) {
		store_down(false);
		cr_assert_eq(generate(&c, "k", &d, body, sizeof(body)), 200,
		    "%s", body);
		store_down(true);
		t0 = tsrv_now_ms();
		served = 0;
		tfail = 0;
		while (tsrv_now_ms() - t0 < 6000) {
			code = generate(&c, "k", &d, body, sizeof(body));
			if (code != 200) {
				tfail = tsrv_now_ms() - t0;
				break;
			}
			served++;
			tsrv_sleep_ms(200);
		}
		if (served > 0 || tfail == 0)
			break;
	}
	cr_expect_gt(served, 0, "the cached key never served with the store "
	    "down");
	cr_expect_gt(tfail, 0, "a key in use was still served 6 s into the "
	    "outage with expiry.any 3s");
	if (tfail > 0) {
		expect_code_body(code, body, 502, err_read,
		    "generate after the any clear, store down");
		cr_expect_leq(tfail, 5500, "dropped only %" PRIu64 " ms into "
		    "the outage (expiry.any 3s + 1 s tick)", tfail);
		cr_log_info("any: key served %d times, dropped %" PRIu64
		    " ms into the outage", served, tfail);
		code = generate(&c, "k", &d, body, sizeof(body));
		expect_code_body(code, body, 502, err_read,
		    "generate again after the any clear, store down");
	}
	store_down(false);
	code = generate(&c, "k", &d, body, sizeof(body));
	cr_expect_eq(code, 200, "generate with the store back: %ld %s", code,
	    body);
	expect_no_sandbox_kill();
	cli_close(&c);
}

/* ========================================================================= */
/* 3. data written by real KES                                                */
/* ========================================================================= */

#include "tests/data/kat/e2e_vectors.h"

static const struct kat_key *
kat_key(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(kat_keys) / sizeof(kat_keys[0]); i++)
		if (strcmp(kat_keys[i].name, name) == 0)
			return &kat_keys[i];
	cr_assert_fail("no KAT key %s", name);
	return NULL;
}

static int
strp_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * Proves compatibility with what real KES left in an fs key store (spec
 * 5.3, 5.4, 5.5, 6.1, 6.2), by values computed independently of keyward:
 * every stored-key shape is read (describe shows the right algorithm,
 * created_at in Go's format and created_by, both omitted/zero as KES
 * does for a {"bytes"}-only key), every ciphertext format decrypts to the
 * right plaintext (and a wrong key or context is refused with KES's
 * 400), the HMAC of a protobuf key is HMAC-SHA256 with its own HMAC key,
 * a legacy key answers 409 to HMAC, listing shows the files, and the
 * server never rewrites a stored file.
 */
Test(keystore, kes_stored_data)
{
	const size_t	 nkeys = sizeof(kat_keys) / sizeof(kat_keys[0]);
	const size_t	 ncts = sizeof(kat_cts) / sizeof(kat_cts[0]);
	const size_t	 nmacs = sizeof(kat_macs) / sizeof(kat_macs[0]);
	const char	*names[16];
	struct passwd	*pw;
	struct cli	 c;
	char		 body[BODYLEN], want[BODYLEN], req[2048];
	char		 path[PATH_MAX + 64], *v;
	const struct kat_ct *raw_chacha = NULL, *raw_aes = NULL;
	size_t		 i, n;
	long		 code;

	pw = need_root_and_user();
	start_server(NULL);
	cr_assert_eq(cli_open(&c, TSRV_ADMIN), 0);
	for (i = 0; i < nkeys; i++)
		plant(pw, kat_keys[i].name, kat_keys[i].value);

	for (i = 0; i < nkeys; i++) {
		const struct kat_key *k = &kat_keys[i];

		code = key_op(&c, "describe", k->name, NULL, body,
		    sizeof(body));
		if (k->created_by[0] != '\0')
			FMT(want, "{\"name\":\"%s\",\"algorithm\":\"%s\","
			    "\"created_at\":\"%s\",\"created_by\":\"%s\"}\n",
			    k->name, k->algorithm, k->created_at,
			    k->created_by);
		else
			FMT(want, "{\"name\":\"%s\",\"algorithm\":\"%s\","
			    "\"created_at\":\"%s\"}\n", k->name, k->algorithm,
			    k->created_at);
		cr_expect_eq(code, 200, "describe %s: %ld %s", k->name, code,
		    body);
		cr_expect_str_eq(body, want, "describe %s", k->name);
	}

	for (i = 0; i < ncts; i++) {
		const struct kat_ct *t = &kat_cts[i];

		code = decrypt(&c, t->key, t->ciphertext, t->context, body,
		    sizeof(body));
		FMT(want, "{\"plaintext\":\"%s\"}\n", t->plaintext);
		cr_expect_eq(code, 200, "decrypt %s (%s): %ld %s", t->key,
		    t->what, code, body);
		cr_expect_str_eq(body, want, "decrypt %s (%s)", t->key,
		    t->what);
		if (strcmp(t->what, "raw ChaCha20") == 0 &&
		    kat_key(t->key)->hmac)
			raw_chacha = t;
		if (strcmp(t->what, "raw AES256") == 0 &&
		    kat_key(t->key)->hmac)
			raw_aes = t;
	}

	/* Refusals: a raw ciphertext under another key, and under the
	 * right key with another context. */
	cr_assert_not_null(raw_chacha);
	cr_assert_not_null(raw_aes);
	code = decrypt(&c, raw_aes->key, raw_chacha->ciphertext,
	    raw_chacha->context, body, sizeof(body));
	expect_code_body(code, body, 400, err_decrypt,
	    "a ChaCha20 key's ciphertext under an AES256 key");
	code = decrypt(&c, raw_aes->key, raw_aes->ciphertext, ctx_b64, body,
	    sizeof(body));
	expect_code_body(code, body, 400, err_decrypt,
	    "a ciphertext with another context");

	for (i = 0; i < nmacs; i++) {
		const struct kat_mac *t = &kat_macs[i];

		FMT(req, "{\"message\":\"%s\"}", t->message);
		code = key_op(&c, "hmac", t->key, req, body, sizeof(body));
		FMT(want, "{\"hmac\":\"%s\"}\n", t->hmac);
		cr_expect_eq(code, 200, "hmac %s of \"%s\": %ld %s", t->key,
		    t->message, code, body);
		cr_expect_str_eq(body, want, "hmac %s of \"%s\"", t->key,
		    t->message);
	}
	for (i = 0; i < nkeys; i++) {
		if (kat_keys[i].hmac)
			continue;
		code = key_op(&c, "hmac", kat_keys[i].name,
		    "{\"message\":\"aGVsbG8=\"}", body, sizeof(body));
		expect_code_body(code, body, 409, err_no_hmac,
		    kat_keys[i].name);
	}

	/* Listing is the directory (spec 6.2), sorted (spec 3.3). */
	cr_assert_leq(nkeys, sizeof(names) / sizeof(names[0]));
	for (i = 0; i < nkeys; i++)
		names[i] = kat_keys[i].name;
	qsort(names, nkeys, sizeof(names[0]), strp_cmp);
	n = (size_t)snprintf(want, sizeof(want), "{\"names\":[");
	for (i = 0; i < nkeys; i++)
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%s\"%s\"",
		    i ? "," : "", names[i]);
	snprintf(want + n, sizeof(want) - n, "]}\n");
	code = cli_do(&c, "/v1/key/list/kat", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "list: %ld %s", code, body);
	cr_expect_str_eq(body, want, "list kat");

	/* Reading is all the server did with them. */
	for (i = 0; i < nkeys; i++) {
		FMT(path, "%s/%s", srv.keys, kat_keys[i].name);
		v = slurp(path, NULL);
		cr_expect(v != NULL && strcmp(v, kat_keys[i].value) == 0,
		    "%s was changed", path);
		free(v);
	}
	expect_no_sandbox_kill();
	cli_close(&c);
}
