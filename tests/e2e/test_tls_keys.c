/*
 * The server's TLS private key lives in the crypto process only (issue 17),
 * checked through the real server with privilege separation and the
 * sandbox on:
 *   - handshakes with RSA, ECDSA P-256 and P-384, and Ed25519 server keys,
 *     TLS 1.2 and 1.3; curl checks every signature against the
 *     certificate, so a completed handshake was signed by the right key;
 *   - after a run of new handshakes no worker's memory holds the key's
 *     private scalar (RSA: its first prime), in either byte order, while
 *     the crypto process's does (so the scan is known to find it);
 *   - kill -9 of the crypto process during a burst of new connections:
 *     clients see failures or good handshakes, and service is back
 *     within 2 s;
 *   - SIGHUP with a new certificate and key of another type under
 *     handshake load: not one handshake fails, and the new certificate is
 *     served afterwards.
 * Keys and certificates are made with the openssl command line, signed by
 * the test CA.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tests/lib/testsrv.h"

#define READY_MS	10000

#define FMT(dst, ...) \
	cr_assert(snprintf(dst, sizeof(dst), __VA_ARGS__) < (int)sizeof(dst))

static struct testsrv srv;

static void
teardown(void)
{
	tsrv_cleanup(&srv);
}

TestSuite(tls_keys, .fini = teardown, .timeout = 180);

static void
init(void)
{
	if (geteuid() != 0)
		cr_skip_test("the system tests start the server as root");
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s; "
	    "build the server first (`make`)", strerror(errno));
}

/* A server key of `alg` ("rsa", "P-384", "ed25519", ...) and its
 * certificate from the test CA: PKI/<name>.{key,crt}. */
static void
mkserver(const char *alg, const char *name)
{
	char	 gen[256], cmd[4096];

	if (strcmp(alg, "rsa") == 0)
		FMT(gen, "openssl genpkey -algorithm RSA -pkeyopt "
		    "rsa_keygen_bits:2048 -out %s.key", name);
	else if (strncmp(alg, "P-", 2) == 0)
		FMT(gen, "openssl genpkey -algorithm EC -pkeyopt "
		    "ec_paramgen_curve:%s -out %s.key", alg, name);
	else
		FMT(gen, "openssl genpkey -algorithm %s -out %s.key", alg,
		    name);
	FMT(cmd, "set -e; cd '%s'; { %s; openssl req -new -key %s.key "
	    "-subj /CN=%s -out %s.csr; openssl x509 -req -in %s.csr -CA "
	    "ca.crt -CAkey ca.key -CAcreateserial -out %s.crt -days 30 "
	    "-extfile server.ext; } >>keys.log 2>&1", srv.pki, gen, name,
	    name, name, name, name);
	cr_assert_eq(system(cmd), 0, "cannot make the %s key (see %s/keys.log)",
	    alg, srv.pki);
}

static void
start(const char *name)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 cert[PATH_MAX], key[PATH_MAX];

	FMT(cert, "%s/%s.crt", srv.pki, name);
	FMT(key, "%s/%s.key", srv.pki, name);
	cfg.cert = cert;
	cfg.key = key;
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

/* One request on a new connection, so one full handshake. */
static long
get(long tls)
{
	struct tsrv_req	 q = { 0 };
	char		 body[512];

	if (tls == 12)
		q.ssl_version = CURL_SSLVERSION_TLSv1_2 |
		    CURL_SSLVERSION_MAX_TLSv1_2;
	else if (tls == 13)
		q.ssl_version = CURL_SSLVERSION_TLSv1_3 |
		    CURL_SSLVERSION_MAX_TLSv1_3;
	q.timeout_ms = 5000;
	return tsrv_get_ex(&srv, TSRV_ADMIN, "/version", body, sizeof(body),
	    &q);
}

static void
handshakes(const char *alg)
{
	init();
	if (strcmp(alg, "P-256") == 0)
		start("server");	/* the PKI's own */
	else {
		mkserver(alg, "srvkey");
		start("srvkey");
	}
	cr_expect_eq(get(13), 200, "%s, TLS 1.3; log:\n%s", alg,
	    tsrv_log_tail(&srv));
	cr_expect_eq(get(12), 200, "%s, TLS 1.2; log:\n%s", alg,
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "did not sign"), 0, "%s",
	    tsrv_log_tail(&srv));
}

Test(tls_keys, rsa)
{
	handshakes("rsa");
}

Test(tls_keys, ecdsa_p256)
{
	handshakes("P-256");
}

Test(tls_keys, ecdsa_p384)
{
	handshakes("P-384");
}

Test(tls_keys, ed25519)
{
	handshakes("ed25519");
}

/* --- the memory scan ---------------------------------------------------- */

/* The secret to look for: an EC or Ed25519 private scalar, an RSA key's
 * first prime; big-endian. */
static size_t
secret_of(const char *keyfile, unsigned char *out, size_t cap)
{
	FILE		*f = fopen(keyfile, "r");
	EVP_PKEY	*k;
	BIGNUM		*bn = NULL;
	size_t		 n = cap;
	int		 len;

	cr_assert_not_null(f, "%s", keyfile);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(k);
	if (EVP_PKEY_is_a(k, "ED25519")) {
		cr_assert_eq(EVP_PKEY_get_raw_private_key(k, out, &n), 1);
	} else {
		cr_assert_eq(EVP_PKEY_get_bn_param(k, EVP_PKEY_is_a(k, "RSA") ?
		    OSSL_PKEY_PARAM_RSA_FACTOR1 : OSSL_PKEY_PARAM_PRIV_KEY,
		    &bn), 1);
		len = BN_bn2bin(bn, out);
		cr_assert_gt(len, 0);
		n = (size_t)len;
		BN_clear_free(bn);
	}
	EVP_PKEY_free(k);
	return n;
}

/* Does pid's memory hold needle, or needle reversed (a BIGNUM's limbs
 * are little-endian)? Every readable mapping is read whole. */
static bool
memory_holds(pid_t pid, const unsigned char *needle, size_t n)
{
	unsigned char	 rev[1024];
	char		 path[64], line[512], perms[8];
	unsigned long	 lo, hi;
	FILE		*maps;
	int		 fd;
	bool		 found = false;
	size_t		 i;

	cr_assert_leq(n, sizeof(rev));
	for (i = 0; i < n; i++)
		rev[i] = needle[n - 1 - i];
	FMT(path, "/proc/%d/maps", (int)pid);
	cr_assert_not_null(maps = fopen(path, "r"), "%s", path);
	FMT(path, "/proc/%d/mem", (int)pid);
	cr_assert_geq(fd = open(path, O_RDONLY), 0, "%s: %s", path,
	    strerror(errno));
	while (!found && fgets(line, sizeof(line), maps) != NULL) {
		unsigned char	*buf;
		ssize_t		 got;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 ||
		    perms[0] != 'r' || strstr(line, "[vvar]") != NULL ||
		    strstr(line, "[vsyscall]") != NULL ||
		    hi - lo > (512ul << 20))
			continue;
		buf = malloc(hi - lo);
		cr_assert_not_null(buf);
		got = pread(fd, buf, hi - lo, (off_t)lo);
		if (got > 0 && (memmem(buf, got, needle, n) != NULL ||
		    memmem(buf, got, rev, n) != NULL))
			found = true;
		free(buf);
	}
	close(fd);
	fclose(maps);
	return found;
}

static void
scan(const char *alg)
{
	struct tsrv_proc	 kids[TSRV_MAXPROCS];
	unsigned char		 secret[1024];
	char			 key[PATH_MAX];
	size_t			 n;
	int			 i, nk, nworkers = 0, ok = 0;
	pid_t			 crypto;

	init();
	if (strcmp(alg, "P-256") == 0) {
		start("server");
		FMT(key, "%s/server.key", srv.pki);
	} else {
		mkserver(alg, "srvkey");
		start("srvkey");
		FMT(key, "%s/srvkey.key", srv.pki);
	}
	n = secret_of(key, secret, sizeof(secret));
	/* A load run of new handshakes, both versions, both workers. */
	for (i = 0; i < 200; i++)
		ok += get(i % 2 ? 12 : 13) == 200;
	cr_assert_eq(ok, 200, "handshakes: %d of 200; log:\n%s", ok,
	    tsrv_log_tail(&srv));
	nk = tsrv_children(&srv, kids, TSRV_MAXPROCS);
	for (i = 0; i < nk; i++) {
		if (strstr(kids[i].cmd, "keyward worker") == NULL)
			continue;
		nworkers++;
		cr_expect_not(memory_holds(kids[i].pid, secret, n),
		    "worker %d holds the TLS private key", (int)kids[i].pid);
	}
	cr_assert_geq(nworkers, 2, "workers found: %d", nworkers);
	cr_assert_gt(crypto = tsrv_child(&srv, "keyward crypto"), 0);
	cr_expect(memory_holds(crypto, secret, n), "the scan does not find "
	    "the key where it is (the crypto process)");
	/* Each of them was signed at the crypto process. */
	{
		static char	 m[65536];
		const char	*c;

		cr_assert_eq(tsrv_get(&srv, TSRV_ADMIN, "/v1/metrics", m,
		    sizeof(m)), 200);
		c = strstr(m, "\nkeyward_tls_sign_seconds_count ");
		cr_expect(c != NULL && strtoull(c + 32, NULL, 10) >= 200,
		    "signatures counted: %.80s", c ? c : "none");
	}

}

Test(tls_keys, no_worker_holds_the_ec_key)
{
	scan("P-256");
}

Test(tls_keys, no_worker_holds_the_rsa_key)
{
	scan("rsa");
}

/* --- under load ---------------------------------------------------------- */

struct load {
	pthread_t	 t;
	volatile bool	 stop;
	int		 ok, failed;
	uint64_t	 last_fail, first_ok_after;	/* ms */
	uint64_t	 mark;				/* ms; 0: none */
};

static void *
load_run(void *arg)
{
	struct load	*l = arg;
	uint64_t	 now;
	long		 st;

	while (!l->stop) {
		st = get(0);
		now = tsrv_now_ms();
		if (st == 200) {
			l->ok++;
			if (l->mark != 0 && l->first_ok_after == 0 &&
			    now > l->mark)
				l->first_ok_after = now;
		} else {
			l->failed++;
			l->last_fail = now;
		}
	}
	return NULL;
}

Test(tls_keys, crypto_killed_during_new_connections)
{
	struct load	 l = { 0 };
	pid_t		 crypto, again;
	uint64_t	 killed;

	init();
	start("server");
	cr_assert_gt(crypto = tsrv_child(&srv, "keyward crypto"), 0);
	cr_assert_eq(pthread_create(&l.t, NULL, load_run, &l), 0);
	tsrv_sleep_ms(500);
	killed = tsrv_now_ms();
	l.mark = killed;
	cr_assert_eq(kill(crypto, SIGKILL), 0);
	tsrv_sleep_ms(3000);
	l.stop = true;
	pthread_join(l.t, NULL);
	cr_assert_gt(l.ok, 0);
	cr_assert_neq(l.first_ok_after, 0, "no handshake after the kill "
	    "(%d ok, %d failed); log:\n%s", l.ok, l.failed,
	    tsrv_log_tail(&srv));
	cr_expect_leq(l.first_ok_after - killed, 2000, "service returned "
	    "after %llu ms", (unsigned long long)(l.first_ok_after - killed));
	again = tsrv_child(&srv, "keyward crypto");
	cr_expect(again > 0 && again != crypto, "no new crypto process");
	cr_expect_eq(get(13), 200);
}

/* The subject of the certificate the server sends now. */
static void
served_subject(char *out, size_t len)
{
	char	 cmd[PATH_MAX * 3];
	FILE	*p;

	FMT(cmd, "cd '%s' && openssl s_client -connect 127.0.0.1:%d "
	    "-cert admin.crt -key admin.key </dev/null 2>/dev/null | "
	    "openssl x509 -noout -subject", srv.pki, srv.port);
	cr_assert_not_null(p = popen(cmd, "r"));
	if (fgets(out, (int)len, p) == NULL)
		out[0] = '\0';
	pclose(p);
}

Test(tls_keys, reload_under_handshake_load)
{
	struct load	 l = { 0 };
	char		 subj[256], cmd[PATH_MAX * 2];
	int		 before;

	init();
	mkserver("P-384", "live");
	mkserver("rsa", "next");
	start("live");
	served_subject(subj, sizeof(subj));
	cr_assert(strstr(subj, "CN = live") != NULL, "served: %s", subj);
	cr_assert_eq(pthread_create(&l.t, NULL, load_run, &l), 0);
	tsrv_sleep_ms(500);
	/* The configuration names live.{crt,key}: put the new pair there,
	 * each file renamed into place, then SIGHUP. */
	FMT(cmd, "cd '%s' && cp next.key live.key.new && cp next.crt "
	    "live.crt.new && mv live.key.new live.key && mv live.crt.new "
	    "live.crt", srv.pki);
	cr_assert_eq(system(cmd), 0);
	before = tsrv_log_count(&srv, "configuration reloaded");
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "configuration reloaded", before + 1,
	    5000), 0, "no reload; log:\n%s", tsrv_log_tail(&srv));
	tsrv_sleep_ms(1500);
	l.stop = true;
	pthread_join(l.t, NULL);
	cr_expect_gt(l.ok, 20, "handshakes: %d", l.ok);
	cr_expect_eq(l.failed, 0, "%d handshakes failed around the reload; "
	    "log:\n%s", l.failed, tsrv_log_tail(&srv));
	served_subject(subj, sizeof(subj));
	cr_expect(strstr(subj, "CN = next") != NULL, "served: %s", subj);
	cr_expect_eq(get(12), 200);
	cr_expect_eq(get(13), 200);
}
