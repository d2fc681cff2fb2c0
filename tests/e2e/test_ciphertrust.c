/*
 * The CipherTrust Manager key store (keystore.gemalto.keysecure) through
 * the real server (privsep and the sandbox on, mTLS), against
 * tests/doubles/ciphertrust_double.py: a TEST DOUBLE of Thales CipherTrust
 * Manager, which cannot run on the machines keyward is tested on. Rows of
 * spec/keystores-vault-ciphertrust-kmip-pkcs11.md §5.3 are named in each
 * test's comment (CTn).
 *
 * The double has its own PKI (a CA and a server certificate for
 * 127.0.0.1). Keys keyward never read are planted through the double's
 * control port with the material of a key keyward created, so that a get
 * has to reach the store (the crypto process caches what it created).
 *
 * Needs root (the children drop to user keyward) and python3; skipped
 * otherwise.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "tests/lib/pydouble.h"
#include "tests/lib/testsrv.h"

#define READY_MS	20000
#define BODYLEN		8192
#define RT		"rt-7c1e55d0a9f34b2e8d6b"	/* the refresh token */
#define DOMAIN		"keyward-dom"
#define JWT_HEAD	"eyJhbGciOiJSUzI1NiJ9."	/* every JWT the double
						 * issues */
#define SECRETS		"/api/v1/vault/secrets"
#define AUTH		"/api/v1/auth/tokens"
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

static struct testsrv	srv;

/* The double: its directory, process and ports. */
static struct pydouble cd;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	pydouble_stop(&cd);
	pydouble_remove(&cd);
}

TestSuite(ciphertrust, .init = setup, .fini = teardown, .timeout = 150);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the CipherTrust tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the CipherTrust test double");
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

/* The double's PKI: ca, server (IP:127.0.0.1), an unrelated CA, a file
 * without PEM and a directory holding one. */
static void
cd_pki(void)
{
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes";

	strcpy(cd.dir, "/tmp/keyward-test-ct.XXXXXX");
	cr_assert_not_null(mkdtemp(cd.dir));
	chmod(cd.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
	    "-subj /CN=ct-test-ca && "
	    "openssl req -x509 %s -keyout other.key -out other.crt -days 2 "
	    "-subj /CN=other-ca && "
	    "openssl req %s -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "echo 'no PEM here' >nopem.txt && mkdir cadir && "
	    "cp ca.crt cadir/ && echo junk >cadir/junk.txt && mkdir cadir2 && "
	    "cp ca.crt cadir2/ && mkdir cadir2/sub && "
	    "chmod -R a+rX .", cd.dir, ec, ec, ec);
}

/* Start the double with its defaults plus extra arguments (NULL-ended). */
static void
cd_start(const char *const *extra)
{
	const char	*argv[64];
	char		 why[256];
	size_t		 n = 0;

	if (cd.dir[0] == '\0')
		cd_pki();
	argv[n++] = "python3";
	argv[n++] = "tests/doubles/ciphertrust_double.py";
	argv[n++] = "--addr";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--cert";
	argv[n++] = "server.crt";
	argv[n++] = "--key";
	argv[n++] = "server.key";
	argv[n++] = "--state";
	argv[n++] = "ct.json";
	argv[n++] = "--port-file";
	argv[n++] = "ct.port";
	argv[n++] = "--control-port-file";
	argv[n++] = "ct.cport";
	argv[n++] = "--log";
	argv[n++] = "ct.log";
	argv[n++] = "--refresh-token";
	argv[n++] = RT ":" DOMAIN;
	argv[n++] = "--no-fsync";
	argv[n++] = "--exit-with-parent";
	while (extra != NULL && *extra != NULL && n < 62)
		argv[n++] = *extra++;
	argv[n] = NULL;
	cr_assert_eq(pydouble_start(&cd, argv[1], argv + 2, "ct.port",
	    "ct.cport", why, sizeof(why)), 0, "%s", why);
}

/* --- the double's control port (plain HTTP on 127.0.0.1) ---------------- */

static int
ctl(const char *method, const char *path, const char *body, char *out,
    size_t outlen)
{
	return pydouble_ctl(&cd, method, path, body, out, outlen);
}

static void
ctl_ok(const char *path, const char *body)
{
	char out[4096];
	int  code = ctl("POST", path, body, out, sizeof(out));

	cr_assert_eq(code, 200, "double %s %s: %d %s", path, body, code, out);
}

static void
fault(const char *json)
{
	ctl_ok("/fault", json);
}

/* The request log of the double, as a JSON array (json_decref). */
static json_t *
cd_requests(void)
{
	static char	 out[8 << 20];
	json_error_t	 jerr;
	json_t		*j, *a;

	cr_assert_eq(ctl("GET", "/requests", NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	a = json_incref(json_object_get(j, "requests"));
	json_decref(j);
	cr_assert(json_is_array(a));
	return a;
}

static const char *
jstr(json_t *e, const char *k)
{
	const char *s = json_string_value(json_object_get(e, k));

	return s != NULL ? s : "";
}

/* Requests whose method (NULL: any) and path (prefix with a trailing
 * '*') match. */
static int
count_req(json_t *a, const char *method, const char *path)
{
	json_t	*e;
	size_t	 i, pl = strlen(path);
	int	 n = 0;

	json_array_foreach(a, i, e) {
		if (method != NULL && strcmp(jstr(e, "method"), method) != 0)
			continue;
		if (path[pl - 1] == '*' ? strncmp(jstr(e, "path"), path,
		    pl - 1) == 0 : strcmp(jstr(e, "path"), path) == 0)
			n++;
	}
	return n;
}

static int
count_now(const char *method, const char *path)
{
	json_t	*a = cd_requests();
	int	 n = count_req(a, method, path);

	json_decref(a);
	return n;
}

static json_t *
find_req(json_t *a, const char *method, const char *path, int nth)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(a, i, e)
		if (strcmp(jstr(e, "method"), method) == 0 &&
		    strcmp(jstr(e, "path"), path) == 0 && nth-- == 0)
			return e;
	return NULL;
}

static const char *
req_header(json_t *e, const char *name)
{
	json_t		*h = json_object_get(e, "headers"), *v;
	const char	*k;

	json_object_foreach(h, k, v)
		if (strcasecmp(k, name) == 0)
			return json_string_value(v);
	return NULL;
}

/* The material of name in the double's domain d (malloc'ed), or NULL. */
static char *
material(const char *d, const char *name)
{
	static char	 out[1 << 20];
	char		 path[256];
	json_error_t	 jerr;
	json_t		*j, *e;
	size_t		 i;
	char		*v = NULL;

	FMT(path, "/secrets?domain=%s", d);
	cr_assert_eq(ctl("GET", path, NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	json_array_foreach(json_object_get(j, "secrets"), i, e)
		if (strcmp(jstr(e, "name"), name) == 0)
			v = strdup(jstr(e, "material"));
	json_decref(j);
	return v;
}

/* A secret with that material, as if KES had made it. */
static void
plant(const char *d, const char *name, const char *value)
{
	json_t	*o = json_pack("{s:s,s:s,s:s}", "domain", d, "name", name,
		    "material", value);
	char	*body = json_dumps(o, JSON_COMPACT);

	ctl_ok("/secrets", body);
	free(body);
	json_decref(o);
}

/* --- keyward --------------------------------------------------------------- */

struct ccfg {
	const char	*raw;		/* the whole gemalto: section */
	const char	*creds;		/* more lines under credentials: */
	const char	*ca;		/* tls.ca, default the double's */
	int		 port;		/* default the double's */
};

static void
write_config(const struct ccfg *c)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 ks[8192], ca[PATH_MAX + 16];

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	FMT(ca, "%s/ca.crt", cd.dir);
	/* KES's schema as KES's sample writes it, with a trailing '/' on
	 * the endpoint (keyward C6 strips it). */
	FMT(ks, "keystore:\n  gemalto:\n    keysecure:\n      endpoint: "
	    "https://127.0.0.1:%d/\n      credentials:\n        token: \"%s\"\n"
	    "        domain: %s\n%s      tls:\n        ca: %s\n",
	    c->port ? c->port : cd.port, RT, DOMAIN,
	    c->creds ? c->creds : "        retry: 15s\n",
	    c->ca ? c->ca : ca);
	if (c->raw != NULL)
		FMT(ks, "keystore:\n  gemalto:\n    keysecure:\n%s", c->raw);
	cr_assert_eq(tsrv_replace_keystore(&srv, ks), 0, "no fs store in "
	    "%s", srv.config);
}

static void
kw_init(void)
{
	if (srv.dir[0] == '\0')
		cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s;"
		    " build the server first (`make`)", strerror(errno));
}

static void
kw_start(const struct ccfg *c)
{
	int n;

	kw_init();
	write_config(c);
	n = tsrv_log_count(&srv, "serving on");
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", n + 1, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

/* The server must refuse to start; its log must say `why`. */
static void
kw_start_fails(const struct ccfg *c, const char *why)
{
	int st;

	kw_init();
	write_config(c);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, READY_MS, &st), 0, "the server "
	    "started although it should not (%s); log:\n%s", why,
	    tsrv_log_tail(&srv));
	cr_expect(!WIFEXITED(st) || WEXITSTATUS(st) != 0, "exit status 0");
	cr_expect_gt(tsrv_log_count(&srv, why), 0, "the log does not say "
	    "\"%s\":\n%s", why, tsrv_log_tail(&srv));
	srv.pid = 0;
	(void)tsrv_port_free(srv.port, 10000);
}

/* A key call: POST /v1/key/<op>/<name> (body NULL: POST ""). */
static long
key(const char *op, const char *name, const char *body, char *out,
    size_t outlen)
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
	return tsrv_get_ex(&srv, TSRV_ADMIN, path, out, outlen, &r);
}

static long
generate(const char *name, char *out, size_t outlen)
{
	return key("generate", name, "{}", out, outlen);
}

/* A key keyward created, and its material planted under other names. */
static void
seed_keys(const char *const *names)
{
	char	 body[BODYLEN], *val;
	long	 code;

	code = key("create", "seed", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_not_null(val = material(DOMAIN, "seed"));
	for (; *names != NULL; names++)
		plant(DOMAIN, *names, val);
	free(val);
}

static void
expect_no_secrets_logged(void)
{
	cr_expect_eq(tsrv_log_count(&srv, RT), 0, "the refresh token is in "
	    "the server's log");
	cr_expect_eq(tsrv_log_count(&srv, JWT_HEAD), 0, "an access token is "
	    "in the server's log");
	cr_expect_eq(tsrv_log_count(&srv, "killed by signal 31"), 0,
	    "a process was killed by its sandbox");
}

static bool
status_up(void)
{
	char body[BODYLEN];

	return tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, sizeof(body)) ==
	    200 && strstr(body, "keystore_latency") != NULL &&
	    strstr(body, "keystore_unreachable") == NULL;
}

static bool
wait_status(bool up, unsigned int ms)
{
	uint64_t t0 = tsrv_now_ms();

	while (tsrv_now_ms() - t0 < ms) {
		if (status_up() == up)
			return true;
		tsrv_sleep_ms(200);
	}
	return false;
}

/* ========================================================================= */

/*
 * CT2, CT5-CT7, CT9 and §2.2's headers, with a KES configuration as it is
 * (credentials.retry included): the auth body with the domain, JSON
 * content type on auth and create only, Bearer on data calls, none on
 * the status probe (GET /); create, exists, get of a planted key, absent
 * key, list, delete, delete of an absent key; no "//" from the endpoint's
 * trailing '/'.
 */
Test(ciphertrust, roundtrip)
{
	const char *const names[] = { "k2", NULL };
	struct ccfg	 c = { 0 };
	char		 body[BODYLEN];
	json_t		*a, *e;
	size_t		 i;
	long		 code;

	need_root();
	cd_start(NULL);
	kw_start(&c);
	cr_expect_eq(tsrv_log_count(&srv, "ignored"), 0, "a KES key was "
	    "ignored:\n%s", tsrv_log_tail(&srv));

	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again (409): %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	seed_keys(names);
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate k2 (export): %ld %s", code, body);
	code = generate("nokey", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"k1\"") && strstr(body, "\"k2\"") &&
	    strstr(body, "\"seed\""), "%s", body);
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	code = key("delete", "absent", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete absent: %ld %s", code, body);
	cr_expect(wait_status(true, 3000), "/v1/status");

	a = cd_requests();
	cr_assert_not_null(e = find_req(a, "POST", AUTH, 0), "no auth");
	cr_expect_str_eq(jstr(e, "body"), "{\"grant_type\":\"refresh_token\","
	    "\"refresh_token\":\"<redacted>\",\"domain\":\"" DOMAIN "\"}");
	cr_expect_str_eq(req_header(e, "Content-Type"), "application/json");
	cr_expect_null(req_header(e, "Authorization"));
	cr_assert_not_null(e = find_req(a, "POST", SECRETS, 0));
	cr_expect_str_eq(jstr(e, "body"), "{\"dataType\":\"seed\","
	    "\"material\":\"<redacted>\",\"name\":\"k1\"}");
	cr_expect_str_eq(req_header(e, "Content-Type"), "application/json");
	cr_assert_not_null(e = find_req(a, "POST", SECRETS "/k2/export", 0));
	cr_expect_str_eq(jstr(e, "query"), "type=name");
	cr_assert_not_null(e = find_req(a, "DELETE", SECRETS "/k2", 0));
	cr_expect_str_eq(jstr(e, "query"), "type=name");
	cr_assert_not_null(e = find_req(a, "GET", SECRETS, 0));
	cr_expect_str_eq(jstr(e, "query"), "limit=200&skip=0");
	cr_assert_not_null(e = find_req(a, "GET", "/", 0), "no status probe");
	cr_expect_null(req_header(e, "Authorization"), "GET / with a token");
	json_array_foreach(a, i, e) {
		cr_expect(strstr(jstr(e, "path"), "//") == NULL, "%s",
		    jstr(e, "path"));
		if (strncmp(jstr(e, "path"), "/api/v1/vault/", 14) != 0)
			continue;
		cr_expect_str_eq(req_header(e, "Authorization") ?
		    req_header(e, "Authorization") : "(none)",
		    "Bearer <redacted>", "%s", jstr(e, "path"));
		if (strcmp(jstr(e, "method"), "POST") != 0 ||
		    strcmp(jstr(e, "path"), SECRETS) != 0)
			cr_expect_null(req_header(e, "Content-Type"), "%s %s "
			    "with a Content-Type", jstr(e, "method"),
			    jstr(e, "path"));
	}
	json_decref(a);
	expect_no_secrets_logged();
}

/* CT1: configurations refused at start, with KES's texts (§2.1). */
Test(ciphertrust, config_errors)
{
	char		 ca[PATH_MAX + 32];
	struct ccfg	 c;

	need_root();
	cd_pki();
	memset(&c, 0, sizeof(c));
	c.raw = "      credentials:\n        token: t\n";
	kw_start_fails(&c, "keystore.gemalto.keysecure.endpoint: missing");
	c.raw = "      endpoint: https://127.0.0.1:1\n";
	kw_start_fails(&c, "keystore.gemalto.keysecure.credentials.token: "
	    "missing");
	memset(&c, 0, sizeof(c));
	c.port = 1;
	FMT(ca, "%s/nopem.txt", cd.dir);
	c.ca = ca;
	kw_start_fails(&c, "nopem.txt' does not contain a valid X.509 "
	    "PEM-encoded certificate");
	FMT(ca, "%s/cadir", cd.dir);
	kw_start_fails(&c, "cadir/junk.txt' does not contain a valid X.509 "
	    "PEM-encoded certificate");
}

/*
 * CT3: no start without a first token: an empty jwt, a lower-case
 * "bearer", duration 0, a refused refresh token (401, one attempt),
 * nothing listening, a certificate from another CA. A directory tls.ca
 * with a sub-directory is fine (sub-directories are skipped).
 */
Test(ciphertrust, auth_failures)
{
	static const struct {
		const char *body, *why;
	} t[] = {
		{ "{\\\"jwt\\\":\\\"\\\",\\\"duration\\\":300,\\\"token_type\\\":"
		  "\\\"Bearer\\\"}", "server response does not contain an auth "
		  "token" },
		{ "{\\\"jwt\\\":\\\"j\\\",\\\"duration\\\":300,\\\"token_type\\\":"
		  "\\\"bearer\\\"}", "unexpected auth token type 'bearer'" },
		{ "{\\\"jwt\\\":\\\"j\\\",\\\"duration\\\":0,\\\"token_type\\\":"
		  "\\\"Bearer\\\"}", "invalid auth token expiry '0'" },
	};
	struct ccfg	 c = { 0 };
	char		 rule[512], ca[PATH_MAX + 32];
	size_t		 i;
	int		 fd, port;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t	 sl = sizeof(sa);

	need_root();
	cd_start(NULL);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		FMT(rule, "{\"path\":\"" AUTH "\",\"status\":200,\"count\":-1,"
		    "\"body\":\"%s\",\"content_type\":\"application/json\"}",
		    t[i].body);
		/* A string body is sent as it is. */
		fault(rule);
		kw_start_fails(&c, t[i].why);
		ctl_ok("/faults/clear", "{}");
	}
	ctl_ok("/requests/clear", "{}");
	c.creds = "        retry: 1s\n";
	ctl_ok("/refresh-tokens", "{\"token\":\"" RT "\",\"remove\":true}");
	kw_start_fails(&c, "401 Unauthorized: NCERRAuthFailed");
	cr_expect_eq(count_now("POST", AUTH), 1, "a 401 was retried");
	cr_expect_gt(tsrv_log_count(&srv, "issue a new refresh token"), 0);
	ctl_ok("/refresh-tokens", "{\"token\":\"" RT "\",\"domain\":\""
	    DOMAIN "\"}");

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	memset(&c, 0, sizeof(c));
	c.port = port;
	kw_start_fails(&c, "gemalto: authentication failed");
	close(fd);

	ctl_ok("/requests/clear", "{}");
	memset(&c, 0, sizeof(c));
	FMT(ca, "%s/other.crt", cd.dir);
	c.ca = ca;
	kw_start_fails(&c, "gemalto: authentication failed");
	cr_expect_eq(count_now(NULL, "*"), 0, "a request got through a "
	    "refused certificate");
	cr_expect_eq(tsrv_log_count(&srv, RT), 0);

	FMT(ca, "%s/cadir2", cd.dir);
	c.ca = ca;
	kw_start(&c);
}

/*
 * CT4: a 4 s token is renewed every 2 s (half its life); when renewals
 * fail they are tried every credentials.retry (1 s); the token expires
 * meanwhile and a data call gets 401 -> its reactive login fails too ->
 * the call fails (OTHER). Renewals work again: a token expired early
 * (401) makes one new login and the call succeeds (C2); a second 401
 * within 5 s does not log in again.
 */
Test(ciphertrust, renewal_and_reauth)
{
	const char *const args[] = { "--token-ttl", "4", NULL };
	const char *const names[] = { "k2", "k3", "k4", NULL };
	struct ccfg	 c = { .creds = "        retry: 1s\n" };
	char		 body[BODYLEN];
	int		 n;
	long		 code;

	need_root();
	cd_start(args);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/requests/clear", "{}");
	tsrv_sleep_ms(5000);
	n = count_now("POST", AUTH);
	cr_expect(n >= 2 && n <= 3, "%d renewals in 5 s (every 2 s)", n);

	fault("{\"path\":\"" AUTH "\",\"status\":400,\"count\":-1}");
	ctl_ok("/requests/clear", "{}");
	tsrv_sleep_ms(5000);
	n = count_now("POST", AUTH);
	cr_expect(n >= 3 && n <= 6, "%d failed renewals in 5 s (every 1 s "
	    "after the first failure)", n);
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 502, "an expired token, no new one: %ld %s", code,
	    body);

	/* The next renewal (within 1 s) gets a 300 s token, renewed only
	 * after 150 s; then C2's 5 s since the last 401 pass. */
	ctl_ok("/tokens", "{\"ttl\":300}");
	ctl_ok("/faults/clear", "{}");
	tsrv_sleep_ms(6500);
	ctl_ok("/tokens/expire", "{}");
	ctl_ok("/requests/clear", "{}");
	code = generate("k3", body, sizeof(body));
	cr_expect_eq(code, 200, "C2: 401, a new login, the call again: %ld %s",
	    code, body);
	cr_expect_eq(count_now("POST", AUTH), 1);
	cr_expect_eq(count_now("POST", SECRETS "/k3/export"), 2);
	ctl_ok("/tokens/expire", "{}");
	code = generate("k4", body, sizeof(body));
	cr_expect_eq(code, 502, "a second 401 within 5 s: %ld %s", code,
	    body);
	cr_expect_eq(count_now("POST", AUTH), 1, "logged in again within 5 s");
	expect_no_secrets_logged();
}

/* The attempts at path, their statuses, and the gaps between them. */
static int
attempts(const char *method, const char *path, double *gap)
{
	json_t	*a = cd_requests(), *e;
	double	 last = 0, t;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(a, i, e) {
		if (strcmp(jstr(e, "method"), method) != 0 ||
		    strcmp(jstr(e, "path"), path) != 0 || n >= 8)
			continue;
		t = json_real_value(json_object_get(e, "time"));
		gap[n] = n == 0 ? 0 : (t - last) * 1000;
		last = t;
		n++;
	}
	json_decref(a);
	return n;
}

/*
 * CT5 and CT10: 500 three times -> OTHER after 3 attempts, at least
 * 200 ms apart; 500 once -> OK on the second; 400 with CipherTrust's
 * JSON error -> OTHER with its text, one attempt, and with a text body
 * that looks like JSON -> OTHER with the status as the code (the
 * Content-Type decides, as in KES); a connection dropped
 * mid-request (EOF) is retried; CT6: 403 with a text body -> OTHER
 * with the status as the code; an export without material is no key.
 */
Test(ciphertrust, errors_and_retries)
{
	const char *const names[] = { "g1", "g2", "g3", NULL };
	struct ccfg	 c = { 0 };
	char		 body[BODYLEN];
	double		 gap[8];
	long		 code;
	int		 n;

	need_root();
	cd_start(NULL);
	kw_start(&c);
	seed_keys(names);

	fault("{\"path\":\"" SECRETS "\",\"method\":\"POST\",\"status\":500,"
	    "\"count\":3}");
	code = key("create", "r1", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "500 x3: %ld %s", code, body);
	n = attempts("POST", SECRETS, gap);
	cr_expect_eq(n, 4, "%d creates (1 seed + 3 attempts)", n);
	/* KES's wrapper: 0.2-1 s before each retry, not growing. */
	if (n == 4)
		cr_expect(gap[2] >= 190 && gap[3] >= 190 && gap[2] < 1300 &&
		    gap[3] < 1300, "waits %.0f, %.0f ms", gap[2], gap[3]);
	cr_expect_gt(tsrv_log_count(&srv, "NCERRInternal: internal error"),
	    0, "%s", tsrv_log_tail(&srv));
	fault("{\"path\":\"" SECRETS "\",\"method\":\"POST\",\"status\":500}");
	code = key("create", "r2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "500 once: %ld %s", code, body);
	fault("{\"path\":\"" SECRETS "\",\"method\":\"POST\",\"status\":400,"
	    "\"body\":{\"code\":15,\"codeDesc\":\"NCERRInvalidParamValue: "
	    "material must be hex\"}}");
	code = key("create", "r3", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "400: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "(15)"), 0, "%s",
	    tsrv_log_tail(&srv));
	cr_expect_eq(count_now("POST", SECRETS), 7, "a 400 was retried");
	/* JSON is what the Content-Type says: this text only looks so. */
	fault("{\"path\":\"" SECRETS "\",\"method\":\"POST\",\"status\":400,"
	    "\"body\":\"{\\\"code\\\":15,\\\"codeDesc\\\":"
	    "\\\"typed text\\\"}\"}");
	code = key("create", "r4", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "400 text: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "(400)"), 0, "%s",
	    tsrv_log_tail(&srv));

	fault("{\"path\":\"" SECRETS "/g1/export\",\"action\":\"drop\"}");
	code = generate("g1", body, sizeof(body));
	cr_expect_eq(code, 200, "EOF once, then the answer: %ld %s", code,
	    body);
	cr_expect_eq(count_now("POST", SECRETS "/g1/export"), 2);
	fault("{\"path\":\"" SECRETS "/g2/export\",\"status\":403,"
	    "\"body\":\"Forbidden\"}");
	code = generate("g2", body, sizeof(body));
	cr_expect_eq(code, 502, "403 text: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "(403)"), 0);
	fault("{\"path\":\"" SECRETS "/g3/export\",\"status\":200,"
	    "\"body\":{\"id\":\"x\",\"name\":\"g3\",\"dataType\":\"seed\"}}");
	code = generate("g3", body, sizeof(body));
	cr_expect_neq(code, 200, "no material is no key: %ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * CT7 and keyward C1: delete 204 -> OK; 404 for an absent key -> OK
 * (with a warning); 404 from a token that may not delete while the key
 * is still there -> failure (KES reports success); 403 -> OTHER.
 */
Test(ciphertrust, delete_denied)
{
	const char *const names[] = { "d1", "d2", NULL };
	struct ccfg	 c = { 0 };
	char		 body[BODYLEN], *v;
	long		 code;

	need_root();
	cd_start(NULL);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/deny", "{\"op\":\"delete\",\"status\":404}");
	code = key("delete", "d1", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "a denied delete (404): %ld %s", code, body);
	cr_expect_not_null(v = material(DOMAIN, "d1"), "d1 is gone");
	free(v);
	cr_expect_gt(tsrv_log_count(&srv, "the key is still there"), 0);
	ctl_ok("/deny", "{\"clear\":true}");
	ctl_ok("/deny", "{\"op\":\"delete\",\"status\":403}");
	code = key("delete", "d2", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "403: %ld %s", code, body);
	ctl_ok("/deny", "{\"clear\":true}");
	code = key("delete", "d1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect_null(material(DOMAIN, "d1"));
	code = key("delete", "d1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "absent: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "reported as deleted"), 0);
	expect_no_secrets_logged();
}

/*
 * CT8: an empty store costs one request; 450 secrets three pages and one
 * empty one; a page with the wrong skip fails the listing; an empty page
 * while skip < total ends it (keyward C4; KES loops forever). CT11: a
 * secret of another domain is not seen.
 */
Test(ciphertrust, listing)
{
	struct ccfg	 c = { 0 };
	char		 body[1 << 16], name[32];
	long		 code;
	int		 i;

	need_root();
	cd_start(NULL);
	kw_start(&c);
	ctl_ok("/requests/clear", "{}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect_eq(count_now("GET", SECRETS), 1);
	for (i = 0; i < 450; i++) {
		FMT(name, "n%03d", i);
		plant(DOMAIN, name, "x");
	}
	plant("elsewhere", "other-domain", "x");
	ctl_ok("/requests/clear", "{}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld", code);
	cr_expect(strstr(body, "\"n000\"") && strstr(body, "\"n449\""),
	    "%.300s", body);
	cr_expect(strstr(body, "other-domain") == NULL, "CT11: another "
	    "domain's secret listed");
	cr_expect_eq(count_now("GET", SECRETS), 4, "3 pages + 1 empty");
	code = generate("other-domain", body, sizeof(body));
	cr_expect_eq(code, 404, "CT11: %ld %s", code, body);

	fault("{\"path\":\"" SECRETS "\",\"method\":\"GET\",\"action\":"
	    "\"list\",\"skip\":1,\"skip_delta\":1}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "skip out of sync: %ld %.200s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "pagination is out-of-sync: tried "
	    "to skip 200 but skipped 201"), 0);
	ctl_ok("/requests/clear", "{}");
	fault("{\"path\":\"" SECRETS "\",\"method\":\"GET\",\"action\":"
	    "\"list\",\"skip\":1,\"empty\":true,\"count\":-1}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "an empty page ends the listing: %ld", code);
	cr_expect_eq(count_now("GET", SECRETS), 2);
	cr_expect(strstr(body, "\"n000\"") != NULL, "%.200s", body);
	expect_no_secrets_logged();
}

/*
 * CT9: status is GET <endpoint>: 404 and 500 answers are a reachable
 * store; nothing listening is an unreachable one. CT12: a call cancelled
 * by the agent's deadline while retrying makes no more attempts.
 */
Test(ciphertrust, status_and_cancel)
{
	const char *const names[] = { "slow", NULL };
	struct ccfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;
	int		 n;

	need_root();
	cd_start(NULL);
	kw_start(&c);
	seed_keys(names);
	fault("{\"path\":\"/\",\"status\":500,\"count\":-1}");
	cr_expect(status_up(), "500 on GET / is a reachable store");
	ctl_ok("/faults/clear", "{}");
	fault("{\"path\":\"/\",\"status\":404,\"body\":\"nope\",\"count\":-1}");
	cr_expect(status_up(), "404 on GET / is a reachable store");
	ctl_ok("/faults/clear", "{}");

	ctl_ok("/latency", "{\"paths\":{\"" SECRETS "/slow/export\":3500}}");
	fault("{\"path\":\"" SECRETS "/slow/export\",\"status\":503,"
	    "\"count\":-1}");
	code = generate("slow", body, sizeof(body));
	cr_expect_neq(code, 200, "%ld %s", code, body);
	tsrv_sleep_ms(500);
	n = count_now("POST", SECRETS "/slow/export");
	cr_expect(n >= 2 && n <= 3, "%d attempts before the deadline", n);
	tsrv_sleep_ms(5000);
	cr_expect_eq(count_now("POST", SECRETS "/slow/export"), n,
	    "an attempt after the call was cancelled");
	ctl_ok("/faults/clear", "{}");

	kill(cd.pid, SIGTERM);
	waitpid(cd.pid, NULL, 0);
	cd.pid = 0;
	cr_expect(wait_status(false, 15000), "/v1/status did not say the "
	    "store is unreachable");
	expect_no_secrets_logged();
}
