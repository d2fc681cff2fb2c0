/*
 * The KMIP key store through the real server (privsep and the sandbox on,
 * mTLS), against a real PyKMIP server (Debian python3-pykmip) started by
 * tests/kmip/pykmip-server.sh. Rows of spec/keystores-vault-ciphertrust-
 * kmip-pkcs11.md §5.5 are named in each test's comment (KTn).
 *
 * PyKMIP takes seconds to start, so the suite `kmip_store` shares one:
 * started by a report hook in the runner before any test, stopped after
 * the last, and found by the tests through the environment. Every test
 * uses its own prefix and object group, so tests running side by side do
 * not see each other's keys. The restart test has its own server.
 *
 * Needs root (the children drop to user keyward) and PyKMIP: without it
 * the tests fail, loudly (scripts/deps.sh installs it).
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdarg.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <curl/curl.h>
#include <jansson.h>

#include "tests/lib/pydouble.h"
#include "tests/lib/testsrv.h"

#define READY_MS	20000
#define BODYLEN		8192
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"
#define ENV_DIR		"KEYWARD_TEST_PYKMIP_DIR"
#define ENV_PORT	"KEYWARD_TEST_PYKMIP_PORT"
#define ENV_ERR		"KEYWARD_TEST_PYKMIP_ERROR"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

/* --- PyKMIP -------------------------------------------------------------- */

struct pykmip {
	char	dir[PATH_MAX];
	char	script[PATH_MAX];
	int	port;
	bool	started;
};

/* The shared server (the runner's), and a test's own. */
static struct pykmip	shared, own;
static struct pykmip	*pk = &shared;

static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

static int
find_script(struct pykmip *p)
{
	char	exe[PATH_MAX], *s;
	ssize_t	n;
	int	i;

	if (access("tests/kmip/pykmip-server.sh", R_OK) == 0) {
		snprintf(p->script, sizeof(p->script),
		    "tests/kmip/pykmip-server.sh");
		return 0;
	}
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		return -1;
	exe[n] = '\0';
	for (i = 0; i < 3 && (s = strrchr(exe, '/')) != NULL; i++)
		*s = '\0';
	if ((size_t)snprintf(p->script, sizeof(p->script),
	    "%.*s/tests/kmip/pykmip-server.sh", PATH_MAX - 64, exe) >=
	    sizeof(p->script))
		return -1;
	return access(p->script, R_OK);
}

/* Start PyKMIP in a new directory; -1 with why (no assertion: the
 * runner's hook calls this too). */
static int
pk_start(struct pykmip *p, char *why, size_t whylen)
{
	char	cmd[4 * PATH_MAX], log[PATH_MAX + 16];
	FILE	*f;
	size_t	n;

	signal(SIGPIPE, SIG_IGN);
	if (find_script(p) == -1) {
		snprintf(why, whylen, "tests/kmip/pykmip-server.sh not found");
		return -1;
	}
	snprintf(p->dir, sizeof(p->dir), "/tmp/kw-kmip-store.XXXXXX");
	if (mkdtemp(p->dir) == NULL || chmod(p->dir, 0755) == -1 ||
	    (p->port = free_port()) <= 0) {
		snprintf(why, whylen, "test directory: %s", strerror(errno));
		return -1;
	}
	snprintf(log, sizeof(log), "%s/start.log", p->dir);
	snprintf(cmd, sizeof(cmd), "sh %s start %s %d %d >%s 2>&1",
	    p->script, p->dir, p->port, (int)getpid(), log);
	if (system(cmd) != 0) {
		n = 0;
		if ((f = fopen(log, "r")) != NULL) {
			n = fread(why, 1, whylen - 1, f);
			fclose(f);
		}
		why[n] = '\0';
		return -1;
	}
	p->started = true;
	return 0;
}

static void
pk_stop(struct pykmip *p, bool remove)
{
	char cmd[3 * PATH_MAX];

	if (p->started) {
		snprintf(cmd, sizeof(cmd), "sh %s stop %s", p->script, p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "stopping PyKMIP in %s failed\n", p->dir);
		p->started = false;
	}
	if (remove && p->dir[0] != '\0' &&
	    getenv("KEYWARD_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "%s failed\n", cmd);
		p->dir[0] = '\0';
	}
}

/* Start again on the same port, PKI and database: keys survive. */
static void
pk_restart(struct pykmip *p)
{
	char cmd[4 * PATH_MAX];

	cr_assert_lt(snprintf(cmd, sizeof(cmd), "sh %s start %s %d %d "
	    ">>%s/start.log 2>&1", p->script, p->dir, p->port, (int)getpid(),
	    p->dir), (int)sizeof(cmd));
	cr_assert_eq(system(cmd), 0, "PyKMIP did not start again (see "
	    "%s/start.log)", p->dir);
	p->started = true;
}

/*
 * The runner (not a test's process) starts the shared server once; the
 * tests, forked or spawned later, find it in the environment.
 */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
	char why[2048], port[16];

	if (geteuid() != 0 || getpwnam("keyward") == NULL)
		return;			/* the tests skip */
	if (pk_start(&shared, why, sizeof(why)) == -1) {
		setenv(ENV_ERR, why, 1);
		pk_stop(&shared, true);
		return;
	}
	snprintf(port, sizeof(port), "%d", shared.port);
	setenv(ENV_DIR, shared.dir, 1);
	setenv(ENV_PORT, port, 1);
}

ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	pk_stop(&shared, true);
}

/* --- keyward ------------------------------------------------------------- */

static void	fake_stop(void);

#define NODES	4
static struct testsrv	 nodes[NODES];

static void
setup(void)
{
	const char *d, *p;

	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	pk = &shared;
	if ((d = getenv(ENV_DIR)) != NULL && (p = getenv(ENV_PORT)) != NULL) {
		snprintf(shared.dir, sizeof(shared.dir), "%s", d);
		shared.port = atoi(p);
	}
}

static void
teardown(void)
{
	int i;

	for (i = 0; i < NODES; i++)
		tsrv_cleanup(&nodes[i]);
	/* The shared server is the runner's; a test's own goes with it. */
	pk_stop(&own, true);
	fake_stop();
}

TestSuite(kmip_store, .init = setup, .fini = teardown, .timeout = 120);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the KMIP tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
}

/* The shared PyKMIP, or the reason it is not there. */
static void
need_shared(void)
{
	need_root();
	cr_assert(shared.dir[0] != '\0' && shared.port > 0,
	    "PyKMIP did not start:\n%s\n(scripts/deps.sh installs "
	    "python3-pykmip)", getenv(ENV_ERR) ? getenv(ENV_ERR) :
	    "(no reason recorded)");
}

static void
sh(const char *fmt, ...)
{
	char	cmd[8192];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/*
 * Another client certificate of PyKMIP's CA, PKI/<name>.{crt,key}, with
 * CN cn and EKU clientAuth; when expired, valid from 3 days ago to
 * yesterday (python3-cryptography, which PyKMIP depends on: openssl x509
 * cannot date a certificate back).
 */
static void
pk_client(const char *name, const char *cn, bool expired)
{
	if (!expired) {
		sh("cd '%s/pki' && exec >>pki.log 2>&1 && "
		    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
		    "-nodes -keyout %s.key -out %s.csr -subj /CN=%s && "
		    "openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key "
		    "-CAcreateserial -out %s.crt -days 2 -extfile client.ext && "
		    "chmod 0644 %s.crt %s.key", pk->dir, name, name, cn, name,
		    name, name, name);
		return;
	}
	sh("cd '%s/pki' && /usr/bin/python3 - %s %s >>pki.log 2>&1 <<'EOF'\n"
	    "import datetime, sys\n"
	    "from cryptography import x509\n"
	    "from cryptography.x509.oid import NameOID, ExtendedKeyUsageOID\n"
	    "from cryptography.hazmat.primitives import hashes, serialization\n"
	    "from cryptography.hazmat.primitives.asymmetric import ec\n"
	    "name, cn = sys.argv[1], sys.argv[2]\n"
	    "cak = serialization.load_pem_private_key("
	    "open('ca.key', 'rb').read(), None)\n"
	    "ca = x509.load_pem_x509_certificate(open('ca.crt', 'rb').read())\n"
	    "k = ec.generate_private_key(ec.SECP256R1())\n"
	    "now = datetime.datetime.utcnow()\n"
	    "c = (x509.CertificateBuilder()\n"
	    "    .subject_name(x509.Name([x509.NameAttribute("
	    "NameOID.COMMON_NAME, cn)]))\n"
	    "    .issuer_name(ca.subject).public_key(k.public_key())\n"
	    "    .serial_number(x509.random_serial_number())\n"
	    "    .not_valid_before(now - datetime.timedelta(days=3))\n"
	    "    .not_valid_after(now - datetime.timedelta(days=1))\n"
	    "    .add_extension(x509.ExtendedKeyUsage("
	    "[ExtendedKeyUsageOID.CLIENT_AUTH]), False)\n"
	    "    .sign(cak, hashes.SHA256()))\n"
	    "open(name + '.crt', 'wb').write("
	    "c.public_bytes(serialization.Encoding.PEM))\n"
	    "open(name + '.key', 'wb').write(k.private_bytes("
	    "serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, "
	    "serialization.NoEncryption()))\n"
	    "EOF", pk->dir, name, cn);
}

/* The keystore.kmip section of a node. */
struct kcfg {
	const char	*prefix;	/* required: one per test */
	const char	*group;		/* NULL: the prefix */
	const char	*client;	/* PKI/<client>.{crt,key}; "client" */
	const char	*ca;		/* a CA file; NULL: PyKMIP's */
	const char	*extra;		/* more lines under kmip:, 4 spaces */
	const char	*tls_extra;	/* more lines under tls:, 6 spaces */
	const char	*endpoints;	/* NULL: ["127.0.0.1:PORT"] */
};

static void
write_config(struct testsrv *n, const struct kcfg *k)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 fs[PATH_MAX + 64], ks[8192], ep[256], ca[PATH_MAX];
	const char	*cl = k->client != NULL ? k->client : "client";
	char		*text, *at, *out;
	FILE		*f;
	long		 len;

	cr_assert_eq(tsrv_write_config(n, &cfg), 0);
	FMT(ep, "[\"127.0.0.1:%d\"]", pk->port);
	FMT(ca, "%s/pki/ca.crt", pk->dir);
	FMT(ks, "keystore:\n  kmip:\n    endpoints: %s\n"
	    "    prefix: \"%s\"\n    object_group: \"%s\"\n%s"
	    "    tls:\n      cert: %s/pki/%s.crt\n      key: %s/pki/%s.key\n"
	    "      ca: %s\n%s",
	    k->endpoints != NULL ? k->endpoints : ep, k->prefix,
	    k->group != NULL ? k->group : k->prefix,
	    k->extra != NULL ? k->extra : "", pk->dir, cl, pk->dir, cl,
	    k->ca != NULL ? k->ca : ca, k->tls_extra != NULL ?
	    k->tls_extra : "");
	FMT(fs, "keystore:\n  fs:\n    path: %s\n", n->keys);
	cr_assert_not_null(f = fopen(n->config, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	cr_assert_not_null(at = strstr(text, fs), "no fs store in:\n%s", text);
	out = calloc(1, (size_t)len + strlen(ks) + 1);
	memcpy(out, text, (size_t)(at - text));
	strcat(out, ks);
	strcat(out, at + strlen(fs));
	cr_assert_eq(tsrv_write_file(n->config, out), 0);
	free(text);
	free(out);
}

static void
kw_start_node(struct testsrv *n, const struct kcfg *k)
{
	int c;

	if (n->dir[0] == '\0')
		cr_assert_eq(tsrv_init(n, NULL), 0, "test setup failed: %s; "
		    "build the server first (`make`)", strerror(errno));
	write_config(n, k);
	c = tsrv_log_count(n, "serving on");
	cr_assert_eq(tsrv_start(n), 0);
	cr_assert_eq(tsrv_wait_log(n, "serving on", c + 1, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(n));
}

/* A key call at node n: POST /v1/key/<op>/<name> (body NULL: ""). */
static long
key(struct testsrv *n, const char *op, const char *name, const char *body,
    char *out, size_t outlen)
{
	struct tsrv_req	 r = { .method = "POST", .body = body ? body : "",
			    .body_len = body ? strlen(body) : 0,
			    .timeout_ms = 20000 };
	char		 path[256];

	if (strcmp(op, "delete") == 0)
		r.method = "DELETE";
	if (strcmp(op, "list") == 0)
		r.method = "GET";
	FMT(path, "/v1/key/%s/%s", op, name);
	return tsrv_get_ex(n, TSRV_ADMIN, path, out, outlen, &r);
}

/* A JSON string field of body, copied to out ("" when absent). */
static void
json_str(const char *body, const char *field, char *out, size_t len)
{
	char		 pat[64];
	const char	*p, *e;

	out[0] = '\0';
	snprintf(pat, sizeof(pat), "\"%s\":\"", field);
	if ((p = strstr(body, pat)) == NULL)
		return;
	p += strlen(pat);
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= len)
		return;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
}

/* generate at node g, decrypt at node d: the same plaintext. */
static void
expect_same_key(struct testsrv *g, struct testsrv *d, const char *name)
{
	char	body[BODYLEN], pt[256], ct[1024], pt2[256], req[1200];
	long	code;

	code = key(g, "generate", name, "{}", body, sizeof(body));
	cr_assert_eq(code, 200, "generate %s: %ld %s", name, code, body);
	json_str(body, "plaintext", pt, sizeof(pt));
	json_str(body, "ciphertext", ct, sizeof(ct));
	cr_assert(pt[0] != '\0' && ct[0] != '\0', "%s", body);
	FMT(req, "{\"ciphertext\":\"%s\"}", ct);
	code = key(d, "decrypt", name, req, body, sizeof(body));
	cr_assert_eq(code, 200, "decrypt %s: %ld %s", name, code, body);
	json_str(body, "plaintext", pt2, sizeof(pt2));
	cr_assert_str_eq(pt2, pt);
}

static void
expect_clean_log(struct testsrv *n)
{
	cr_expect_eq(tsrv_log_count(n, "killed by signal 31"), 0,
	    "a process was killed by its sandbox:\n%s", tsrv_log_tail(n));
	cr_expect_eq(tsrv_log_count(n, "BEGIN"), 0, "PEM in the log");
}

/* ========================================================================= */

/*
 * KT4, KT8, KT16 (up): create, a second create is "exists", generate,
 * a missing name is 404, list with the prefix stripped, delete, delete
 * of an absent key, status with the store's latency.
 */
Test(kmip_store, lifecycle)
{
	struct kcfg	 k = { .prefix = "life/" };
	char		 body[BODYLEN];
	long		 code;

	need_shared();
	kw_start_node(&nodes[0], &k);

	code = key(&nodes[0], "create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	code = key(&nodes[0], "create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	code = key(&nodes[0], "create", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create k2: %ld %s", code, body);

	code = key(&nodes[0], "generate", "nokey", "{}", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));
	expect_same_key(&nodes[0], &nodes[0], "k1");

	code = key(&nodes[0], "list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "list: %ld %s", code, body);
	cr_expect(strstr(body, "\"k1\"") != NULL &&
	    strstr(body, "\"k2\"") != NULL && strstr(body, "life/") == NULL,
	    "%s", body);

	code = key(&nodes[0], "delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	code = key(&nodes[0], "delete", "absent", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete absent: %ld %s", code, body);
	code = key(&nodes[0], "generate", "k2", "{}", body, sizeof(body));
	cr_expect_eq(code, 404, "generate a deleted key: %ld %s", code, body);
	code = key(&nodes[0], "list", "", NULL, body, sizeof(body));
	cr_expect(strstr(body, "\"k1\"") != NULL &&
	    strstr(body, "\"k2\"") == NULL, "%s", body);
	/* A name deleted can be created again. */
	code = key(&nodes[0], "create", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create k2 again: %ld %s", code, body);

	code = tsrv_get(&nodes[0], TSRV_ADMIN, "/v1/status", body,
	    sizeof(body));
	cr_expect_eq(code, 200, "status: %ld %s", code, body);
	cr_expect(strstr(body, "keystore_latency") != NULL, "%s", body);
	expect_clean_log(&nodes[0]);
}

/*
 * MinIO's start-up: generate on a missing key (404), create, generate,
 * decrypt.
 */
Test(kmip_store, minio_startup)
{
	struct kcfg	 k = { .prefix = "minio/" };
	char		 body[BODYLEN];
	long		 code;

	need_shared();
	kw_start_node(&nodes[0], &k);
	code = key(&nodes[0], "generate", "minio-kms", "{}", body,
	    sizeof(body));
	cr_assert_eq(code, 404, "generate: %ld %s", code, body);
	code = key(&nodes[0], "create", "minio-kms", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	expect_same_key(&nodes[0], &nodes[0], "minio-kms");
	expect_clean_log(&nodes[0]);
}

struct racer {
	struct testsrv	*n;
	const char	*name;
	long		 code;
	char		 body[BODYLEN];
};

static void *
race(void *arg)
{
	struct racer *r = arg;

	r->code = key(r->n, "create", r->name, NULL, r->body,
	    sizeof(r->body));
	return NULL;
}

/*
 * KT5: two keyward nodes create one name at once, three times: exactly
 * one says 200 and the other 400, and both use the one value (a
 * ciphertext made at one decrypts at the other, whose cache is cold).
 */
Test(kmip_store, two_nodes_create_one_name)
{
	static const char *const names[] = { "r1", "r2", "r3" };
	struct kcfg	 k = { .prefix = "race/" };
	struct racer	 r[2];
	pthread_t	 t[2];
	size_t		 i, j;
	int		 ok;

	need_shared();
	kw_start_node(&nodes[0], &k);
	kw_start_node(&nodes[1], &k);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		for (j = 0; j < 2; j++) {
			memset(&r[j], 0, sizeof(r[j]));
			r[j].n = &nodes[j];
			r[j].name = names[i];
			cr_assert_eq(pthread_create(&t[j], NULL, race, &r[j]),
			    0);
		}
		ok = 0;
		for (j = 0; j < 2; j++) {
			pthread_join(t[j], NULL);
			cr_assert(r[j].code == 200 || r[j].code == 400,
			    "node %zu: %ld %s", j, r[j].code, r[j].body);
			ok += r[j].code == 200;
		}
		cr_expect_eq(ok, 1, "%s: %d nodes created it", names[i], ok);
		/* The loser's view comes from the store. */
		expect_same_key(&nodes[r[0].code == 200 ? 0 : 1],
		    &nodes[r[0].code == 200 ? 1 : 0], names[i]);
	}
	expect_clean_log(&nodes[0]);
	expect_clean_log(&nodes[1]);
}

/*
 * Another client (another certificate, CN other-tenant) does not see the
 * first one's objects (PyKMIP's access control: owner = CN): its get is
 * 404, its list empty, its create makes its own object, and its delete
 * leaves the first one's alone.
 */
Test(kmip_store, other_client_sees_nothing)
{
	struct kcfg	 a = { .prefix = "perm/" };
	struct kcfg	 b = { .prefix = "perm/", .client = "tenant2" };
	char		 body[BODYLEN];
	long		 code;

	need_shared();
	pk_client("tenant2", "other-tenant", false);
	kw_start_node(&nodes[0], &a);
	kw_start_node(&nodes[1], &b);
	code = key(&nodes[0], "create", "mine", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);

	code = key(&nodes[1], "generate", "mine", "{}", body, sizeof(body));
	cr_expect_eq(code, 404, "the other client reads it: %ld %s", code,
	    body);
	code = key(&nodes[1], "list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"mine\"") == NULL, "%s", body);
	code = key(&nodes[1], "delete", "mine", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	code = key(&nodes[1], "create", "mine", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "the other client's own: %ld %s", code, body);
	/* The first client's object is still there: exists. */
	code = key(&nodes[0], "create", "mine", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create at the owner: %ld %s", code, body);
	expect_clean_log(&nodes[0]);
	expect_clean_log(&nodes[1]);
}

/* Start node n without waiting for it: a store it cannot reach keeps it
 * from serving (README: ready means ready). */
static void
kw_start_unready(struct testsrv *n, const struct kcfg *k)
{
	if (n->dir[0] == '\0')
		cr_assert_eq(tsrv_init(n, NULL), 0, "test setup failed: %s; "
		    "build the server first (`make`)", strerror(errno));
	write_config(n, k);
	cr_assert_eq(tsrv_start(n), 0);
}

/* A node whose store is unreachable from the start: its log says why,
 * and it serves nothing (a request waits, unanswered). */
static void
expect_unreachable(struct testsrv *n, const char *why)
{
	struct tsrv_req	 r = { .method = "POST", .body = "{}", .body_len = 2,
			    .timeout_ms = 1500 };
	char		 body[BODYLEN];
	long		 code;

	cr_expect_eq(tsrv_wait_log(n, why, 1, 10000), 0, "the log does not "
	    "say \"%s\":\n%s", why, tsrv_log_tail(n));
	cr_expect_eq(tsrv_log_count(n, "serving on"), 0, "%s",
	    tsrv_log_tail(n));
	code = tsrv_get_ex(n, TSRV_ADMIN, "/v1/key/generate/any", body,
	    sizeof(body), &r);
	cr_expect_eq(code, -1, "generate answered: %ld %s", code, body);
	expect_clean_log(n);
}

/*
 * KT1 and TLS: keyward's default offers TLS 1.2 and 1.3 and meets
 * PyKMIP's TLS 1.2 (the other tests); a TLS-1.3-only keyward, a CA that
 * did not sign the server's certificate, an expired client certificate
 * and one without EKU clientAuth (KMIP Reason 3) all fail, the node
 * does not start serving, and its log says why.
 */
Test(kmip_store, tls_failures)
{
	char		 other[PATH_MAX];
	struct kcfg	 k13 = { .prefix = "tls13/",
			    .tls_extra = "      min_version: \"1.3\"\n" };
	struct kcfg	 kca = { .prefix = "tlsca/", .ca = other };
	struct kcfg	 kexp = { .prefix = "tlsexp/", .client = "expired" };
	struct kcfg	 keku = { .prefix = "tlseku/", .client = "noeku" };

	need_shared();
	FMT(other, "%s/pki/other-ca.crt", pk->dir);
	sh("cd '%s/pki' && openssl req -x509 -newkey ec -pkeyopt "
	    "ec_paramgen_curve:P-256 -nodes -keyout other-ca.key -out "
	    "other-ca.crt -days 2 -subj /CN=other-ca >>pki.log 2>&1 && "
	    "chmod 0644 other-ca.crt", pk->dir);
	pk_client("expired", "keyward", true);
	kw_start_unready(&nodes[0], &k13);
	kw_start_unready(&nodes[1], &kca);
	kw_start_unready(&nodes[2], &kexp);
	kw_start_unready(&nodes[3], &keku);
	expect_unreachable(&nodes[0], "TLS: error:0A000410:SSL routines::"
	    "sslv3 alert handshake failure");
	expect_unreachable(&nodes[1], "TLS: the server's certificate: "
	    "self-signed certificate in certificate chain");
	expect_unreachable(&nodes[2], "alert certificate expired");
	expect_unreachable(&nodes[3], "Authentication Not Successful");
}

/*
 * KT14, KT16 (down): a key survives a PyKMIP restart; while PyKMIP is
 * down calls fail (and status says so); after it is back the node's
 * pooled connections (dead) are replaced without a failed call.
 */
Test(kmip_store, server_restart)
{
	struct kcfg	 k = { .prefix = "restart/" };
	char		 body[BODYLEN], why[2048];
	long		 code;

	need_root();
	cr_assert_eq(pk_start(&own, why, sizeof(why)), 0, "PyKMIP: %s", why);
	pk = &own;
	kw_start_node(&nodes[0], &k);
	code = key(&nodes[0], "create", "durable", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);

	pk_stop(&own, false);
	code = tsrv_get(&nodes[0], TSRV_ADMIN, "/v1/status", body,
	    sizeof(body));
	cr_expect(code != 200 || strstr(body, "unreachable") != NULL ||
	    strstr(body, "keystore_latency") == NULL,
	    "status with PyKMIP down: %ld %s", code, body);
	code = key(&nodes[0], "create", "while-down", NULL, body,
	    sizeof(body));
	cr_expect(code >= 500, "create while down: %ld %s", code, body);

	pk_restart(&own);
	/* The pooled connection died with the old server. */
	code = key(&nodes[0], "create", "durable", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create after the restart: %ld %s\n%s", code,
	    body, tsrv_log_tail(&nodes[0]));
	/* A second node, cold cache: the value is the one from before. */
	kw_start_node(&nodes[1], &k);
	expect_same_key(&nodes[0], &nodes[1], "durable");
	expect_clean_log(&nodes[0]);
	expect_clean_log(&nodes[1]);
}

/* create, generate, list, delete, generate again at node n. */
static void
short_lifecycle(struct testsrv *n, const char *name)
{
	char	body[BODYLEN];
	long	code;

	code = key(n, "create", name, NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create %s: %ld %s\n%s", name, code, body,
	    tsrv_log_tail(n));
	code = key(n, "create", name, NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create %s again: %ld %s", name, code, body);
	expect_same_key(n, n, name);
	code = key(n, "list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "list: %ld %s", code, body);
	cr_expect(strstr(body, name) != NULL, "%s", body);
	code = key(n, "delete", name, NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete %s: %ld %s\n%s", name, code, body,
	    tsrv_log_tail(n));
	code = key(n, "generate", name, "{}", body, sizeof(body));
	cr_expect_eq(code, 404, "generate %s after delete: %ld %s", name, code,
	    body);
	code = key(n, "create", name, NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create %s after delete: %ld %s", name, code,
	    body);
	expect_clean_log(n);
}

/*
 * KT2: versions ["1.4"] and ["1.2"] (no Offset Items: one Locate page)
 * speak those encodings; 2.0 is the other tests'. KT7: with activate on,
 * keyward's objects are Active, so delete's Destroy is refused (Reason
 * 0C) and goes through Revoke. A second endpoint that refuses
 * connections, listed first, is passed over.
 */
Test(kmip_store, versions_activate_failover)
{
	char		 eps[128];
	struct kcfg	 k14 = { .prefix = "v14/",
			    .extra = "    versions: [\"1.4\"]\n" };
	struct kcfg	 k12 = { .prefix = "v12/",
			    .extra = "    versions: [\"1.2\"]\n" };
	struct kcfg	 kact = { .prefix = "act/",
			    .extra = "    activate: true\n" };
	struct kcfg	 kfail = { .prefix = "fail/", .endpoints = eps };

	need_shared();
	FMT(eps, "[\"127.0.0.1:%d\", \"127.0.0.1:%d\"]", free_port(),
	    pk->port);
	kw_start_node(&nodes[0], &k14);
	kw_start_node(&nodes[1], &k12);
	kw_start_node(&nodes[2], &kact);
	kw_start_node(&nodes[3], &kfail);
	short_lifecycle(&nodes[0], "k");
	short_lifecycle(&nodes[1], "k");
	short_lifecycle(&nodes[2], "k");
	short_lifecycle(&nodes[3], "k");
}

/* ========================================================================= */
/*
 * The fake KMIP server (tests/doubles/kmip_double.py): vendor behaviours
 * PyKMIP cannot show, §5.5's rows marked "fake". It uses the shared
 * PyKMIP's PKI (its server certificate, its CA for client certificates),
 * so keyward's configuration is the same but for the endpoint.
 */

#define CTL_MAX	(1u << 20)

static struct pydouble	fake;

static void
fake_start(void)
{
	char		 crt[PATH_MAX], keyf[PATH_MAX], ca[PATH_MAX];
	char		 why[512];
	const char	*argv[] = { "--cert", crt, "--key", keyf,
			    "--client-ca", ca, "--port-file", "fake.port",
			    "--control-port-file", "fake.cport", "--log",
			    "fake.log", "--exit-with-parent", NULL };

	need_shared();
	FMT(crt, "%s/pki/server.crt", pk->dir);
	FMT(keyf, "%s/pki/server.key", pk->dir);
	FMT(ca, "%s/pki/ca.crt", pk->dir);
	FMT(fake.dir, "/tmp/kw-kmip-fake.XXXXXX");
	cr_assert_not_null(mkdtemp(fake.dir));
	cr_assert_eq(pydouble_start(&fake, "tests/doubles/kmip_double.py",
	    argv, "fake.port", "fake.cport", why, sizeof(why)), 0, "the fake "
	    "KMIP server: %s", why);
}

static void
fake_stop(void)
{
	if (fake.pid > 0) {
		pydouble_stop(&fake);
		pydouble_remove(&fake);
	}
}

/* A control call that must answer 200; its JSON answer (json_decref). */
static json_t *
fake_ctl(const char *method, const char *path, const char *fmt, ...)
{
	static char	 out[CTL_MAX];
	char		 body[1024];
	json_error_t	 e;
	json_t		*j;
	va_list		 ap;
	int		 code;

	body[0] = '\0';
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(body, sizeof(body), fmt, ap);
		va_end(ap);
	}
	code = pydouble_ctl(&fake, method, path, body, out, sizeof(out));
	cr_assert_eq(code, 200, "fake %s %s %s: %d %s", method, path, body,
	    code, out);
	cr_assert_not_null(j = json_loads(out, 0, &e), "fake %s: %s", path,
	    e.text);
	return j;
}

static void
fake_knobs(const char *fmt, ...)
{
	char	body[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	json_decref(fake_ctl("POST", "/knobs", "%s", body));
}

static long
fake_count(const char *field)
{
	json_t	*j = fake_ctl("GET", "/state", NULL);
	long	 n = (long)json_integer_value(json_object_get(j, field));

	json_decref(j);
	return n;
}

/* An object in the fake, as if another client had made it. */
static void
fake_plant(const char *name, const char *group, int state, long age_s)
{
	json_decref(fake_ctl("POST", "/objects", "{\"name\":\"%s\","
	    "\"value\":\"x\",\"group\":\"%s\",\"state\":%d,"
	    "\"initial_date\":%ld}", name, group, state,
	    (long)time(NULL) - age_s));
}

/* A node of prefix p (and group p) on the fake, with more lines. */
static void
fake_node(struct testsrv *n, struct kcfg *k, char *eps, size_t epslen)
{
	cr_assert_lt(snprintf(eps, epslen, "[\"127.0.0.1:%d\"]", fake.port),
	    (int)epslen);
	k->endpoints = eps;
	kw_start_node(n, k);
}

/* The requests the fake saw with header version v and operation op
 * (NULL: any; "": rejected before any item). */
static int
fake_seen(json_t *reqs, const char *v, const char *op, const char *result)
{
	json_t	*r, *it;
	size_t	 i, j;
	int	 n = 0;

	json_array_foreach(reqs, i, r) {
		const char *rv = json_string_value(json_object_get(r,
		    "version"));

		if (v != NULL && (rv == NULL || strcmp(rv, v) != 0))
			continue;
		if (op != NULL && *op == '\0') {
			n += json_array_size(json_object_get(r, "items")) == 0;
			continue;
		}
		json_array_foreach(json_object_get(r, "items"), j, it) {
			const char *o = json_string_value(json_object_get(it,
			    "op"));
			const char *res = json_string_value(json_object_get(it,
			    "result"));

			if ((op == NULL || (o != NULL && strcmp(o, op) == 0)) &&
			    (result == NULL || (res != NULL &&
			    strcmp(res, result) == 0)))
				n++;
		}
	}
	return n;
}

/*
 * KT3: a server that refuses header 1.2 (Invalid Message in a 1.0
 * header, as PyKMIP answers what it cannot parse): Discover Versions
 * again with header 1.1, then KMIP 2.0 as that answer offers.
 */
Test(kmip_store, fake_header_refused)
{
	struct kcfg	 k = { .prefix = "hdr/" };
	char		 eps[64], body[BODYLEN];
	json_t		*reqs;
	long		 code;

	fake_start();
	fake_knobs("{\"reject_headers\":[\"1.2\"]}");
	fake_node(&nodes[0], &k, eps, sizeof(eps));
	code = key(&nodes[0], "create", "k", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	expect_same_key(&nodes[0], &nodes[0], "k");
	reqs = fake_ctl("GET", "/requests", NULL);
	cr_expect_gt(fake_seen(reqs, "1.2", "", NULL), 0, "no header 1.2");
	cr_expect_gt(fake_seen(reqs, "1.1", "discover_versions", "success"),
	    0, "no Discover Versions with header 1.1");
	cr_expect_gt(fake_seen(reqs, "2.0", "register", "success"), 0,
	    "no Register in KMIP 2.0");
	cr_expect_eq(fake_seen(reqs, "1.2", NULL, NULL), 0, "an operation "
	    "with header 1.2 was answered");
	json_decref(reqs);
	expect_clean_log(&nodes[0]);
	fake_stop();
}

/*
 * §3.3 step 2: a server that closes the connection on Discover Versions
 * with header 1.2 gets it again with 1.1 on a new connection; one that
 * also closes on 1.1 is spoken KMIP 1.0 (no Discover Versions) when 1.0
 * is offered, and when it is not the node says why.
 */
Test(kmip_store, fake_header_closed)
{
	struct kcfg	 k = { .prefix = "close/" };
	struct kcfg	 k10 = { .prefix = "close10/",
			    .extra = "    versions: [\"1.4\", \"1.0\"]\n" };
	struct kcfg	 kno = { .prefix = "closeno/" };
	char		 eps[3][64], body[BODYLEN];
	json_t		*reqs;
	long		 code, conns;

	fake_start();
	fake_knobs("{\"close_headers\":[\"1.2\"]}");
	fake_node(&nodes[0], &k, eps[0], sizeof(eps[0]));
	code = key(&nodes[0], "create", "k", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	reqs = fake_ctl("GET", "/requests", NULL);
	cr_expect_gt(fake_seen(reqs, "1.2", "", NULL), 0, "no header 1.2");
	cr_expect_gt(fake_seen(reqs, "1.1", "discover_versions", "success"),
	    0, "no Discover Versions with header 1.1");
	cr_expect_gt(fake_seen(reqs, "2.0", "register", "success"), 0,
	    "no Register in KMIP 2.0");
	json_decref(reqs);
	cr_expect_eq(tsrv_wait_log(&nodes[0], "closed the connection on "
	    "Discover Versions with header 1.2; again with header 1.1", 1,
	    5000), 0, "%s", tsrv_log_tail(&nodes[0]));

	json_decref(fake_ctl("POST", "/requests/clear", NULL));
	fake_knobs("{\"close_headers\":[\"1.2\",\"1.1\"]}");
	conns = fake_count("connections");
	fake_node(&nodes[1], &k10, eps[1], sizeof(eps[1]));
	code = key(&nodes[1], "create", "k", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create in 1.0: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[1]));
	expect_same_key(&nodes[1], &nodes[1], "k");
	reqs = fake_ctl("GET", "/requests", NULL);
	cr_expect_gt(fake_seen(reqs, "1.0", "register", "success"), 0,
	    "no Register in KMIP 1.0");
	cr_expect_eq(fake_seen(reqs, "1.0", "discover_versions", NULL), 0,
	    "Discover Versions in KMIP 1.0");
	json_decref(reqs);
	/* Three connections at least: 1.2 closed, 1.1 closed, 1.0. */
	cr_expect_geq(fake_count("connections") - conns, 3);

	/* No version left to try: the store never answers, so the node
	 * never serves (ready means ready), and its log says why. */
	cr_assert_lt(snprintf(eps[2], sizeof(eps[2]), "[\"127.0.0.1:%d\"]",
	    fake.port), (int)sizeof(eps[2]));
	kno.endpoints = eps[2];
	kw_start_unready(&nodes[2], &kno);
	expect_unreachable(&nodes[2], "closed the connection on Discover "
	    "Versions with header 1.2 and with 1.1, and KMIP 1.0 is not "
	    "offered");
	expect_clean_log(&nodes[0]);
	expect_clean_log(&nodes[1]);
	fake_stop();
}

/*
 * KT9: CipherTrust's soft delete. Destroy leaves the object in State
 * Destroyed, which Locate by Name still finds and whose Get answers Key
 * Value Not Present, Item Not Found, or a success without Key Material:
 * get says 404, list leaves it out, create makes a new object, and an
 * older destroyed object never wins over a live one.
 */
Test(kmip_store, fake_soft_delete)
{
	struct kcfg	 k = { .prefix = "soft/",
			    .extra = "    create_settle: 1s\n" };
	static const char *const gets[] = { "key_value_not_present",
			    "item_not_found", "no_material" };
	char		 eps[2][64], body[BODYLEN], name[16];
	long		 code;
	size_t		 i;

	fake_start();
	fake_knobs("{\"soft_delete\":true}");
	fake_node(&nodes[0], &k, eps[0], sizeof(eps[0]));
	fake_node(&nodes[1], &k, eps[1], sizeof(eps[1]));
	for (i = 0; i < sizeof(gets) / sizeof(gets[0]); i++) {
		fake_knobs("{\"destroyed_get\":\"%s\"}", gets[i]);
		FMT(name, "k%zu", i);
		code = key(&nodes[0], "create", name, NULL, body,
		    sizeof(body));
		cr_assert_eq(code, 200, "create %s: %ld %s\n%s", name, code,
		    body, tsrv_log_tail(&nodes[0]));
		code = key(&nodes[0], "delete", name, NULL, body,
		    sizeof(body));
		cr_assert_eq(code, 200, "delete %s: %ld %s", name, code, body);
		/* One object, destroyed: its Get tells. */
		code = key(&nodes[1], "generate", name, "{}", body,
		    sizeof(body));
		cr_expect_eq(code, 404, "%s: generate after a soft delete: "
		    "%ld %s\n%s", gets[i], code, body,
		    tsrv_log_tail(&nodes[1]));
		code = key(&nodes[0], "list", "", NULL, body, sizeof(body));
		cr_expect_eq(code, 200, "list: %ld %s", code, body);
		cr_expect(strstr(body, name) == NULL, "%s", body);
	}
	/* Created again over its destroyed object: the new one. */
	code = key(&nodes[0], "create", "k0", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create over a destroyed object: %ld %s\n%s",
	    code, body, tsrv_log_tail(&nodes[0]));
	/* An older destroyed object is no winner: get and create agree. */
	fake_plant("soft/old", "soft/", 5, 1000);
	code = key(&nodes[0], "create", "old", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create beside an older destroyed object: "
	    "%ld %s\n%s", code, body, tsrv_log_tail(&nodes[0]));
	expect_same_key(&nodes[0], &nodes[1], "old");
	expect_same_key(&nodes[0], &nodes[1], "k0");
	code = key(&nodes[1], "list", "", NULL, body, sizeof(body));
	cr_expect(strstr(body, "\"k0\"") != NULL && strstr(body, "\"old\"") !=
	    NULL && strstr(body, "\"k1\"") == NULL, "%s", body);
	expect_clean_log(&nodes[0]);
	expect_clean_log(&nodes[1]);
	fake_stop();
}

/*
 * KT10: a server that enforces unique Names refuses a Register whose Name
 * another object holds (here outside keyward's Object Group, so Locate
 * does not see it): Non Unique Name Attribute (0x35) in KMIP 2.0, Object
 * Already Exists (0x18) in 1.4; both mean the key exists.
 */
Test(kmip_store, fake_unique_names)
{
	struct kcfg	 k20 = { .prefix = "uniq/" };
	struct kcfg	 k14 = { .prefix = "uniq/",
			    .extra = "    versions: [\"1.4\"]\n" };
	char		 eps[2][64], body[BODYLEN];
	json_t		*reqs;
	long		 code, objects;

	fake_start();
	fake_knobs("{\"unique_names\":true}");
	fake_plant("uniq/taken", "elsewhere", 1, 10);
	fake_node(&nodes[0], &k20, eps[0], sizeof(eps[0]));
	fake_node(&nodes[1], &k14, eps[1], sizeof(eps[1]));
	objects = fake_count("objects");
	code = key(&nodes[0], "create", "taken", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create in 2.0: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	code = key(&nodes[1], "create", "taken", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create in 1.4: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[1]));
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	cr_expect_eq(fake_count("objects"), objects);
	reqs = fake_ctl("GET", "/requests", NULL);
	cr_expect_eq(fake_seen(reqs, "2.0", "register", "reason 0x35"), 1);
	cr_expect_eq(fake_seen(reqs, "1.4", "register", "reason 0x18"), 1);
	json_decref(reqs);
	code = key(&nodes[0], "create", "free", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create a free name: %ld %s", code, body);
	expect_clean_log(&nodes[0]);
	expect_clean_log(&nodes[1]);
	fake_stop();
}

/* The Locate pages and Get Attributes batches of a list, and which the
 * fake found too large. */
static void
list_shape(json_t *reqs, long *too_large, long *max_page, long *max_batch)
{
	json_t	*r, *it;
	size_t	 i, j, n;

	*too_large = *max_page = *max_batch = 0;
	json_array_foreach(reqs, i, r) {
		if (json_object_get(r, "too_large") != NULL) {
			(*too_large)++;
			continue;
		}
		n = 0;
		json_array_foreach(json_object_get(r, "items"), j, it) {
			const char *o = json_string_value(json_object_get(it,
			    "op"));
			long mx = (long)json_integer_value(json_object_get(it,
			    "maximum_items"));

			if (o != NULL && strcmp(o, "get_attributes") == 0)
				n++;
			if (o != NULL && strcmp(o, "locate") == 0 &&
			    mx > *max_page)
				*max_page = mx;
		}
		if ((long)n > *max_batch)
			*max_batch = (long)n;
	}
}

/*
 * KT13: answers larger than the server sends (Response Too Large, a
 * message-level error as PyKMIP's): a list asks again in pages and
 * batches ten times smaller, once, and lists every key; when even those
 * are too large, the list fails and says why.
 */
Test(kmip_store, fake_response_too_large)
{
	struct kcfg	 k = { .prefix = "big/" };
	char		 eps[64], body[BODYLEN], name[32], *p;
	json_t		*reqs;
	long		 code, tl, page, batch;
	int		 i, n;

	fake_start();
	for (i = 0; i < 300; i++) {
		FMT(name, "big/k%03d", i);
		fake_plant(name, "big/", 1, 100);
	}
	fake_node(&nodes[0], &k, eps, sizeof(eps));
	/* Pages of 500 UIDs (~5 KB) are too large, of 50 not. */
	fake_knobs("{\"max_response\":3000}");
	json_decref(fake_ctl("POST", "/requests/clear", NULL));
	code = key(&nodes[0], "list", "", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "list: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	for (n = 0, p = body; (p = strstr(p, "\"k")) != NULL; p++)
		n++;
	cr_expect_eq(n, 300, "%d names listed: %s", n, body);
	reqs = fake_ctl("GET", "/requests", NULL);
	list_shape(reqs, &tl, &page, &batch);
	json_decref(reqs);
	cr_expect_eq(tl, 1, "%ld answers too large", tl);
	cr_expect_eq(page, 50, "Locate pages of %ld", page);
	cr_expect_eq(batch, 5, "Get Attributes batches of %ld", batch);

	/* Pages fit, batches of 50 (~10 KB) do not. */
	fake_knobs("{\"max_response\":6000}");
	json_decref(fake_ctl("POST", "/requests/clear", NULL));
	code = key(&nodes[0], "list", "", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "list: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	cr_expect(strstr(body, "\"k000\"") != NULL && strstr(body,
	    "\"k299\"") != NULL, "%s", body);
	reqs = fake_ctl("GET", "/requests", NULL);
	list_shape(reqs, &tl, &page, &batch);
	json_decref(reqs);
	cr_expect_eq(tl, 1, "%ld answers too large", tl);
	cr_expect_eq(batch, 5, "Get Attributes batches of %ld", batch);

	/* Even pages of 50 are too large: once only, then a failure. */
	fake_knobs("{\"max_response\":500}");
	json_decref(fake_ctl("POST", "/requests/clear", NULL));
	code = key(&nodes[0], "list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "list: %ld %s", code, body);
	reqs = fake_ctl("GET", "/requests", NULL);
	list_shape(reqs, &tl, &page, &batch);
	json_decref(reqs);
	cr_expect_eq(tl, 2, "%ld answers too large", tl);
	cr_expect_eq(tsrv_wait_log(&nodes[0], "Response Too Large", 1, 5000),
	    0, "%s", tsrv_log_tail(&nodes[0]));
	expect_clean_log(&nodes[0]);
	fake_stop();
}

/*
 * The connection of the answer the fake spoiled (-1: none), and whether
 * a later request came on it.
 */
static long
spoiled_conn(bool *reused)
{
	json_t	*reqs = fake_ctl("GET", "/requests", NULL), *r;
	long	 conn = -1;
	size_t	 i;

	*reused = false;
	json_array_foreach(reqs, i, r) {
		long c = (long)json_integer_value(json_object_get(r, "conn"));

		if (conn != -1 && c == conn)
			*reused = true;
		if (json_object_get(r, "malformed") != NULL)
			conn = c;
	}
	json_decref(reqs);
	return conn;
}

/*
 * KT15: a malformed answer (a length beyond its parent, a Result Status
 * that is no Enumeration) fails the call without a second try, and its
 * connection is never used again. An answer cut short by the server
 * closing (KT14) is a lost connection: asked again on a new one.
 */
Test(kmip_store, fake_malformed_answers)
{
	struct kcfg	 k = { .prefix = "bad/" };
	static const char *const kinds[] = { "length_beyond_parent",
			    "status_type", "truncated" };
	char		 eps[64], body[BODYLEN];
	bool		 reused;
	long		 code;
	size_t		 i;

	fake_start();
	fake_node(&nodes[0], &k, eps, sizeof(eps));
	code = key(&nodes[0], "create", "k", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s\n%s", code, body,
	    tsrv_log_tail(&nodes[0]));
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		json_decref(fake_ctl("POST", "/requests/clear", NULL));
		fake_knobs("{\"malformed\":[{\"op\":\"locate\",\"kind\":\"%s\","
		    "\"count\":1}]}", kinds[i]);
		code = key(&nodes[0], "create", "k", NULL, body, sizeof(body));
		if (strcmp(kinds[i], "truncated") == 0)
			cr_expect_eq(code, 400, "%s: create: %ld %s\n%s",
			    kinds[i], code, body, tsrv_log_tail(&nodes[0]));
		else {
			cr_expect_eq(code, 502, "%s: create: %ld %s\n%s",
			    kinds[i], code, body, tsrv_log_tail(&nodes[0]));
			cr_expect_eq(tsrv_wait_log(&nodes[0], "a malformed "
			    "answer", (int)i + 1, 5000), 0, "%s",
			    tsrv_log_tail(&nodes[0]));
		}
		/* The same question again: another connection answers. */
		code = key(&nodes[0], "create", "k", NULL, body, sizeof(body));
		cr_expect_eq(code, 400, "%s: create again: %ld %s", kinds[i],
		    code, body);
		cr_expect_neq(spoiled_conn(&reused), -1, "%s: not sent",
		    kinds[i]);
		cr_expect_not(reused, "%s: the connection was used again",
		    kinds[i]);
	}
	expect_clean_log(&nodes[0]);
	fake_stop();
}
