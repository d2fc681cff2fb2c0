/*
 * The Entrust KeyControl key store (keystore.entrust.keycontrol) through
 * the real server (privsep and the sandbox on, mTLS), against
 * tests/doubles/entrust_double.py: a TEST DOUBLE of Entrust KeyControl,
 * which cannot run on the machines keyward is tested on. The contract is
 * spec/keystores-cloud-and-legacy-config.md §0 and §5 (sections named in
 * each test's comment).
 *
 * The double has its own PKI (a CA and a server certificate for
 * 127.0.0.1), which the store trusts through tls.ca. Keys keyward never
 * read are planted through the double's control port with the value of a
 * key keyward created, so that a get has to reach the store (the crypto
 * process caches what it created).
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
#include <pthread.h>
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
/* The values of the KES example (tests/data/kes-configs/). */
#define VAULT		"e30497c1-bff7-4e81-beb7-fb35c4b7410c"
#define BOX		"tenant-1"
#define USER		"kes-user"
#define PASSWORD	"kes-password-7f3a"
#define LOGIN		"/vault/1.0/Login/" VAULT "/"
#define RENEW		"/vault/1.0/Renew/"
#define CREATE		"/vault/1.0/CreateSecret/"
#define CHECKOUT	"/vault/1.0/CheckoutSecret/"
#define DELETE		"/vault/1.0/DeleteSecret/"
#define LIST		"/vault/1.0/ListSecretIds/"
#define GETBOX		"/vault/1.0/GetBox/"
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

static struct testsrv	srv;
static struct pydouble	fd;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	pydouble_stop(&fd);
	pydouble_remove(&fd);
}

TestSuite(entrust, .init = setup, .fini = teardown, .timeout = 120);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the Entrust tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the Entrust test double");
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
 * without PEM. */
static void
fd_pki(void)
{
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes";

	strcpy(fd.dir, "/tmp/keyward-test-en.XXXXXX");
	cr_assert_not_null(mkdtemp(fd.dir));
	chmod(fd.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
	    "-subj /CN=en-test-ca && "
	    "openssl req -x509 %s -keyout other.key -out other.crt -days 2 "
	    "-subj /CN=other-ca && "
	    "openssl req %s -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "echo 'no PEM here' >nopem.txt && chmod -R a+rX .", fd.dir, ec,
	    ec, ec);
}

/* The double with a token lifetime of ttl seconds. */
static void
fd_start(const char *ttl)
{
	const char	*argv[] = {
		"--addr", "127.0.0.1:0", "--cert", "server.crt", "--key",
		"server.key", "--vault", VAULT, "--user", USER ":" PASSWORD,
		"--box", BOX, "--box", "other-box", "--token-ttl",
		ttl != NULL ? ttl : "600", "--port-file", "en.port",
		"--control-port-file", "en.cport", "--log", "en.log",
		"--exit-with-parent", NULL
	};
	char		 why[256];

	if (fd.dir[0] == '\0')
		fd_pki();
	cr_assert_eq(pydouble_start(&fd, "tests/doubles/entrust_double.py",
	    argv, "en.port", "en.cport", why, sizeof(why)), 0, "%s", why);
}

/* --- the double's control port ------------------------------------------ */

static void
ctl_ok(const char *path, const char *body)
{
	char out[4096];
	int  code = pydouble_ctl(&fd, "POST", path, body, out, sizeof(out));

	cr_assert_eq(code, 200, "double %s %s: %d %s", path, body, code, out);
}

static void
fault(const char *json)
{
	ctl_ok("/fault", json);
}

static json_t *
fd_requests(void)
{
	static char	 out[8 << 20];
	json_error_t	 jerr;
	json_t		*j, *a;

	cr_assert_eq(pydouble_ctl(&fd, "GET", "/requests", NULL, out,
	    sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	a = json_incref(json_object_get(j, "requests"));
	json_decref(j);
	return a;
}

static const char *
jstr(json_t *e, const char *k)
{
	const char *s = json_string_value(json_object_get(e, k));

	return s != NULL ? s : "";
}

static int
count_now(const char *method, const char *path)
{
	json_t	*a = fd_requests(), *e;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(a, i, e)
		if ((method == NULL ||
		    strcmp(jstr(e, "method"), method) == 0) &&
		    strcmp(jstr(e, "path"), path) == 0)
			n++;
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

/* The secret text of name in box (malloc'ed), or NULL. */
static char *
stored_in(const char *box, const char *name)
{
	static char	 out[4 << 20];
	char		 path[128];
	json_error_t	 jerr;
	json_t		*j, *e;
	size_t		 i;
	char		*v = NULL;

	FMT(path, "/secrets?box=%s", box);
	cr_assert_eq(pydouble_ctl(&fd, "GET", path, NULL, out, sizeof(out)),
	    200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	json_array_foreach(json_object_get(j, "secrets"), i, e)
		if (strcmp(jstr(e, "name"), name) == 0)
			v = strdup(jstr(e, "secret_data"));
	json_decref(j);
	return v;
}

static char *
stored(const char *name)
{
	return stored_in(BOX, name);
}

static void
plant_in(const char *box, const char *name, const char *data,
    bool expired)
{
	char body[BODYLEN];

	FMT(body, "{\"box\":\"%s\",\"name\":\"%s\",\"secret_data\":"
	    "\"%s\",\"expired\":%s}", box, name, data,
	    expired ? "true" : "false");
	ctl_ok("/secrets", body);
}

static void
plant(const char *name, const char *data, bool expired)
{
	plant_in(BOX, name, data, expired);
}

/* --- keyward ------------------------------------------------------------- */

struct fcfg {
	const char	*raw;		/* the keycontrol: section */
	const char	*ca;		/* tls.ca, default the double's */
	const char	*box;		/* default BOX */
	const char	*password;	/* default PASSWORD */
	int		 port;		/* default the double's */
	bool		 kesdoc;	/* KES's documentation example */
};

/* The keystore section of tests/data/kes-configs/accept-kesdoc-
 * entrust.yml as it is, its endpoint and tls.ca pointed at the double. */
static void
kesdoc_section(char *out, size_t outlen, const char *ep, const char *ca)
{
	static const char	 doc[] = "https://keycontrol.my-org.com";
	FILE			*f;
	char			 line[1024], *p;
	bool			 in = false;
	size_t			 n = 0;

	cr_assert_not_null(f = fopen("tests/data/kes-configs/"
	    "accept-kesdoc-entrust.yml", "r"));
	out[0] = '\0';
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "keystore:", 9) == 0)
			in = true;
		if (!in)
			continue;
		if ((p = strstr(line, doc)) != NULL)
			n += (size_t)snprintf(out + n, outlen - n, "%.*s%s%s",
			    (int)(p - line), line, ep, p + sizeof(doc) - 1);
		else if (strstr(line, "ca: \"\"") != NULL)
			n += (size_t)snprintf(out + n, outlen - n,
			    "        ca: %s\n", ca);
		else
			n += (size_t)snprintf(out + n, outlen - n, "%s", line);
		cr_assert_lt(n, outlen);
	}
	fclose(f);
	cr_assert(strstr(out, ep) != NULL, "%s", out);
}

static void
write_config(const struct fcfg *c)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 ks[8192], ca[PATH_MAX + 16];
	char		 ep[64];

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	FMT(ca, "%s/ca.crt", fd.dir);
	FMT(ep, "https://127.0.0.1:%d", c->port ? c->port : fd.port);
	if (c->kesdoc)
		kesdoc_section(ks, sizeof(ks), ep, c->ca ? c->ca : ca);
	else if (c->raw != NULL)
		FMT(ks, "keystore:\n  entrust:\n    keycontrol:\n%s", c->raw);
	else
		FMT(ks, "keystore:\n  entrust:\n    keycontrol:\n      "
		    "endpoint: %s/\n      vault_id: " VAULT "\n"
		    "      box_id: %s\n      credentials:\n"
		    "        username: " USER "\n        password: "
		    "\"${KEYWARD_TEST_EN_PASSWORD}\"\n      tls:\n"
		    "        ca: %s\n", ep, c->box ? c->box : BOX,
		    c->ca ? c->ca : ca);
	/* KES's ${VAR}: the password from the environment. */
	setenv("KEYWARD_TEST_EN_PASSWORD", c->password ? c->password :
	    PASSWORD, 1);
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
kw_start(const struct fcfg *c)
{
	int n;

	kw_init();
	write_config(c);
	n = tsrv_log_count(&srv, "serving on");
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", n + 1, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

/* Workers of a failed start let go of the port a moment later. */
static void
kw_start_fails(const struct fcfg *c, const char *why)
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

static long
key(const char *op, const char *name, const char *body, char *out,
    size_t outlen)
{
	struct tsrv_req	 r = { .method = "POST",
			    .body = body ? body : "",
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

static void
expect_no_secrets_logged(void)
{
	cr_expect_eq(tsrv_log_count(&srv, PASSWORD), 0, "the password is in "
	    "the server's log");
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
 * KES's documentation example, unchanged but for the endpoint and CA, and
 * §5.3-§5.4 byte for byte: the login (path, body, Content-Type), then
 * X-Vault-Auth and no Content-Type on every call; GetBox at start; create
 * (KES's body), exists, get of a planted secret, missing key, list,
 * delete, delete of a missing key (404, unlike AWS), status (GetBox).
 */
Test(entrust, kesdoc_roundtrip)
{
	struct fcfg	 c = { .kesdoc = true };
	char		 body[BODYLEN], *val;
	json_t		*a, *e;
	size_t		 i;
	long		 code;

	need_root();
	fd_start(NULL);
	kw_start(&c);
	cr_expect_eq(tsrv_log_count(&srv, "ignored"), 0, "a KES key was "
	    "ignored:\n%s", tsrv_log_tail(&srv));

	a = fd_requests();
	cr_assert_geq(json_array_size(a), 2);
	e = json_array_get(a, 0);
	cr_expect_str_eq(jstr(e, "method"), "POST");
	cr_expect_str_eq(jstr(e, "path"), LOGIN);
	cr_expect_str_eq(jstr(e, "body"), "{\"username\":\"" USER "\","
	    "\"password\":\"<redacted>\"}");
	cr_expect_str_eq(req_header(e, "Content-Type"), "application/json");
	cr_expect_null(req_header(e, "X-Vault-Auth"));
	e = json_array_get(a, 1);
	cr_expect_str_eq(jstr(e, "path"), GETBOX);
	cr_expect_str_eq(jstr(e, "body"), "{\"box_id\":\"" BOX "\"}");
	json_decref(a);
	ctl_ok("/requests/clear", "{}");

	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again (409): %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	cr_assert_not_null(val = stored("k1"));
	plant("k2", val, false);
	free(val);
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate k2 (checkout): %ld %s", code, body);
	code = generate("nokey", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"k1\"") && strstr(body, "\"k2\""), "%s",
	    body);
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	cr_expect_null(stored("k2"));
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 404, "delete of a missing key: %ld %s", code, body);
	cr_expect(wait_status(true, 3000), "/v1/status");

	a = fd_requests();
	cr_assert_not_null(e = find_req(a, "POST", CREATE, 0), "no create");
	cr_expect_str_eq(jstr(e, "body"), "{\"box_id\":\"" BOX "\",\"name\":"
	    "\"k1\",\"secret_data\":\"<redacted>\"}");
	cr_assert_not_null(e = find_req(a, "POST", CHECKOUT, 0));
	cr_expect_str_eq(jstr(e, "body"), "{\"box_id\":\"" BOX "\","
	    "\"secret_id\":\"k2\"}");
	cr_assert_not_null(e = find_req(a, "POST", DELETE, 0));
	cr_expect_str_eq(jstr(e, "body"), "{\"box_id\":\"" BOX "\","
	    "\"secret_id\":\"k2\"}");
	cr_assert_not_null(e = find_req(a, "POST", LIST, 0), "no list");
	cr_expect_str_eq(jstr(e, "body"), "{\"box_id\":\"" BOX "\","
	    "\"max_items\":256}");
	cr_assert_not_null(find_req(a, "POST", GETBOX, 0), "no status");
	json_array_foreach(a, i, e) {
		cr_expect(strstr(jstr(e, "path"), "//") == NULL, "%s",
		    jstr(e, "path"));
		cr_expect_str_eq(req_header(e, "X-Vault-Auth") ?
		    req_header(e, "X-Vault-Auth") : "(none)", "<redacted>",
		    "%s", jstr(e, "path"));
		cr_expect_null(req_header(e, "Content-Type"), "%s with a "
		    "Content-Type", jstr(e, "path"));
		cr_expect_neq(json_integer_value(json_object_get(e, "status")),
		    401, "%s refused", jstr(e, "path"));
	}
	json_decref(a);
	/* The stored text is base64 of the KES value (§5.4). */
	cr_assert_not_null(val = stored("k1"));
	cr_expect(strlen(val) > 0 && strspn(val, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/=") == strlen(val), "%s",
	    val);
	free(val);
	expect_no_secrets_logged();
}

/* §5.1: what the configuration must hold (a missing credentials block
 * too, which crashes KES). */
Test(entrust, config_errors)
{
	struct fcfg	 c = { 0 };

	need_root();
	fd_pki();
	c.raw = "      vault_id: v\n      box_id: b\n      credentials:\n"
	    "        username: u\n        password: p\n";
	kw_start_fails(&c, "keystore.entrust.keycontrol.endpoint: missing");
	c.raw = "      endpoint: https://127.0.0.1:1\n      box_id: b\n"
	    "      credentials:\n        username: u\n        password: p\n";
	kw_start_fails(&c, "keystore.entrust.keycontrol.vault_id: missing");
	c.raw = "      endpoint: https://127.0.0.1:1\n      vault_id: v\n"
	    "      credentials:\n        username: u\n        password: p\n";
	kw_start_fails(&c, "keystore.entrust.keycontrol.box_id: missing");
	c.raw = "      endpoint: https://127.0.0.1:1\n      vault_id: v\n"
	    "      box_id: b\n";
	kw_start_fails(&c, "keystore.entrust.keycontrol.credentials.username: "
	    "missing");
}

/*
 * §5.3 and KES's connect: a wrong password (401 with KeyControl's error,
 * one attempt), a box that does not exist (GetBox 404), nothing listening,
 * a certificate from another CA: no start.
 */
Test(entrust, login_failures)
{
	struct fcfg	 c = { .password = "wrong-password" };
	char		 ca[PATH_MAX + 32];

	need_root();
	fd_start(NULL);
	kw_start_fails(&c, "keycontrol: login failed: keycontrol: Invalid "
	    "credentials");
	cr_expect_eq(count_now("POST", LOGIN), 1, "a 401 was retried");
	cr_expect_eq(tsrv_log_count(&srv, "wrong-password"), 0);

	memset(&c, 0, sizeof(c));
	c.box = "no-such-box";
	kw_start_fails(&c, "keycontrol: Box not found");

	memset(&c, 0, sizeof(c));
	c.port = 1;
	kw_start_fails(&c, "keycontrol: login failed");

	ctl_ok("/requests/clear", "{}");
	memset(&c, 0, sizeof(c));
	FMT(ca, "%s/other.crt", fd.dir);
	c.ca = ca;
	kw_start_fails(&c, "keycontrol: login failed");
	cr_expect_eq(count_now(NULL, LOGIN), 0, "a request got through a "
	    "refused certificate");
	expect_no_secrets_logged();
}

/*
 * §5.3: a 4 s token is renewed every 2 s (half its life) with Renew;
 * a failed renewal logs in again; a token that expired early (401) makes
 * one new login and the call succeeds; a second 401 within 5 s does not
 * log in again.
 */
Test(entrust, renewal_and_reauth)
{
	struct fcfg	 c = { 0 };
	char		 body[BODYLEN], *val;
	int		 n;
	long		 code;

	need_root();
	fd_start("4");
	kw_start(&c);
	code = key("create", "seed", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_not_null(val = stored("seed"));
	plant("k2", val, false);
	plant("k3", val, false);
	plant("k4", val, false);
	free(val);
	ctl_ok("/requests/clear", "{}");
	tsrv_sleep_ms(5000);
	n = count_now("POST", RENEW);
	cr_expect(n >= 2 && n <= 3, "%d renewals in 5 s (every 2 s)", n);
	cr_expect_eq(count_now("POST", LOGIN), 0);

	/* Renew refused: a login instead. */
	fault("{\"path\":\"" RENEW "\",\"status\":401,\"body\":{\"error\":"
	    "\"Invalid or expired token\"},\"count\":1}");
	ctl_ok("/requests/clear", "{}");
	tsrv_sleep_ms(2500);
	cr_expect_eq(count_now("POST", LOGIN), 1, "no login after a failed "
	    "renewal");
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "after the new login: %ld %s", code, body);

	/* Long tokens from now on; then every token expires early. */
	ctl_ok("/tokens", "{\"ttl\":300}");
	tsrv_sleep_ms(2500);
	ctl_ok("/tokens/expire", "{}");
	ctl_ok("/requests/clear", "{}");
	code = generate("k3", body, sizeof(body));
	cr_expect_eq(code, 200, "401, a new login, the call again: %ld %s",
	    code, body);
	cr_expect_eq(count_now("POST", LOGIN), 1);
	cr_expect_eq(count_now("POST", CHECKOUT), 2);
	ctl_ok("/tokens/expire", "{}");
	code = generate("k4", body, sizeof(body));
	cr_expect_eq(code, 502, "a second 401 within 5 s: %ld %s", code,
	    body);
	cr_expect_eq(count_now("POST", LOGIN), 1, "logged in again within 5 s");
	expect_no_secrets_logged();
}

/* The attempts at path and the gaps between them (ms). */
static int
attempts(const char *path, double *gap)
{
	json_t	*a = fd_requests(), *e;
	double	 last = 0, t;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(a, i, e) {
		if (strcmp(jstr(e, "path"), path) != 0 || n >= 8)
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
 * §0.2 and §5.6: 500 three times -> OTHER after 3 attempts 0.2-1 s apart;
 * 500 once -> OK; 429 once -> OK (keyward retries it, KES does not); a
 * JSON 400 -> OTHER with KeyControl's error, one attempt; a text 403 ->
 * OTHER with the status line and the body; a dropped connection (EOF) is
 * retried; 409 with another text is not "exists"; a secret whose text is
 * not base64 is no key.
 */
Test(entrust, errors_and_retries)
{
	struct fcfg	 c = { 0 };
	char		 body[BODYLEN], *val;
	double		 gap[8];
	long		 code;
	int		 n;

	need_root();
	fd_start(NULL);
	kw_start(&c);
	code = key("create", "seed", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_not_null(val = stored("seed"));
	plant("g1", val, false);
	plant("g2", val, false);
	free(val);
	plant("g3", "not base64!", false);
	ctl_ok("/requests/clear", "{}");

	fault("{\"path\":\"" CREATE "\",\"status\":500,\"count\":3}");
	code = key("create", "r1", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "500 x3: %ld %s", code, body);
	n = attempts(CREATE, gap);
	cr_expect_eq(n, 3, "%d attempts", n);
	if (n == 3)
		cr_expect(gap[1] >= 190 && gap[2] >= 190 && gap[1] < 1300 &&
		    gap[2] < 1300, "waits %.0f, %.0f ms", gap[1], gap[2]);
	fault("{\"path\":\"" CREATE "\",\"status\":500}");
	code = key("create", "r2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "500 once: %ld %s", code, body);
	fault("{\"path\":\"" CREATE "\",\"status\":429,\"body\":{\"error\":"
	    "\"Too many requests\"}}");
	code = key("create", "r3", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "429 once: %ld %s", code, body);
	ctl_ok("/requests/clear", "{}");
	fault("{\"path\":\"" CREATE "\",\"status\":400,\"body\":{\"error\":"
	    "\"secret_data is too large\"}}");
	code = key("create", "r4", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "400: %ld %s", code, body);
	cr_expect_eq(count_now("POST", CREATE), 1, "a 400 was retried");
	cr_expect_gt(tsrv_log_count(&srv, "keycontrol: secret_data is too "
	    "large"), 0, "%s", tsrv_log_tail(&srv));
	fault("{\"path\":\"" CREATE "\",\"status\":409,\"body\":{\"error\":"
	    "\"Secret name is reserved\"}}");
	code = key("create", "r5", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "409 with another text: %ld %s", code, body);

	fault("{\"path\":\"" CHECKOUT "\",\"action\":\"drop\"}");
	code = generate("g1", body, sizeof(body));
	cr_expect_eq(code, 200, "EOF once, then the answer: %ld %s", code,
	    body);
	cr_expect_eq(count_now("POST", CHECKOUT), 2);
	fault("{\"path\":\"" CHECKOUT "\",\"status\":403,\"body\":"
	    "\"Forbidden by policy\"}");
	code = generate("g2", body, sizeof(body));
	cr_expect_eq(code, 502, "403 text: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "keycontrol: 403 Forbidden: "
	    "Forbidden by policy"), 0, "%s", tsrv_log_tail(&srv));
	code = generate("g3", body, sizeof(body));
	cr_expect_eq(code, 502, "not base64: %ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * §5.4's KES bugs not copied: 600 secrets list in three pages (256 a
 * page) through every next_token, expired secrets dropped, the prefix
 * applied, another box not seen; a next_token that does not advance
 * fails the listing instead of looping; an error page fails it.
 */
Test(entrust, listing)
{
	struct fcfg	 c = { 0 };
	char		 body[1 << 16], name[32];
	size_t		 i;
	long		 code;
	int		 n, cnt = 0;

	need_root();
	fd_start(NULL);
	kw_start(&c);
	for (n = 0; n < 600; n++) {
		FMT(name, "n%03d", n);
		plant(name, "AAAA", n == 150);
	}
	plant_in("other-box", "n999", "AAAA", false);
	ctl_ok("/requests/clear", "{}");
	code = key("list", "n1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld", code);
	cr_expect(strstr(body, "\"n100\"") && strstr(body, "\"n199\""),
	    "%.300s", body);
	cr_expect(strstr(body, "\"n099\"") == NULL &&
	    strstr(body, "\"n200\"") == NULL, "prefix n1: %.300s", body);
	cr_expect(strstr(body, "\"n150\"") == NULL, "an expired secret");
	cr_expect(strstr(body, "\"n999\"") == NULL, "another box's secret");
	for (i = 0; i < strlen(body); i++)
		if (strncmp(body + i, "\"n1", 3) == 0)
			cnt++;
	cr_expect_eq(cnt, 99, "%d names with prefix n1", cnt);
	cr_expect_eq(count_now("POST", LIST), 3, "3 pages");

	fault("{\"path\":\"" LIST "\",\"skip\":1,\"status\":200,\"count\":-1,"
	    "\"body\":{\"secrets\":[{\"name\":\"x\"}],\"next_token\":"
	    "\"c2FtZQ==\"}}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "a next_token that repeats: %ld %.200s", code,
	    body);
	cr_expect_gt(tsrv_log_count(&srv, "the listing does not advance"), 0);
	ctl_ok("/faults/clear", "{}");
	fault("{\"path\":\"" LIST "\",\"skip\":1,\"status\":503,\"count\":3}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "an error page: %ld %.200s", code, body);
	expect_no_secrets_logged();
}

struct slow {
	long		code;
	uint64_t	done_ms;
};

static void *
slow_get(void *arg)
{
	struct slow	*s = arg;
	char		 body[BODYLEN];

	s->code = generate("slow", body, sizeof(body));
	s->done_ms = tsrv_now_ms();
	return NULL;
}

/*
 * §5.4 Status: an authenticated GetBox; a 500 is an unavailable store,
 * nothing listening an unreachable one. A slow checkout (2 s) holds no
 * other key up. MinIO's start-up: generate on a missing key (404),
 * create, generate, decrypt.
 */
Test(entrust, status_slow_and_minio)
{
	struct fcfg	 c = { 0 };
	struct slow	 s = { 0 };
	pthread_t	 th;
	char		 body[BODYLEN], req[1024], ct[512], *val;
	json_t		*j;
	uint64_t	 last = 0;
	long		 code;
	int		 i, ok = 0;

	need_root();
	fd_start(NULL);
	kw_start(&c);
	cr_expect(wait_status(true, 3000), "/v1/status");
	fault("{\"path\":\"" GETBOX "\",\"status\":500,\"count\":-1}");
	cr_expect(wait_status(false, 15000), "GetBox 500 is a failing store");
	ctl_ok("/faults/clear", "{}");
	cr_expect(wait_status(true, 15000), "/v1/status after GetBox works");

	code = generate("minio-kms", body, sizeof(body));
	cr_expect_eq(code, 404, "MinIO's first generate: %ld %s", code, body);
	code = key("create", "minio-kms", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create: %ld %s", code, body);
	code = generate("minio-kms", body, sizeof(body));
	cr_assert_eq(code, 200, "generate: %ld %s", code, body);
	cr_assert_not_null(j = json_loads(body, 0, NULL));
	FMT(ct, "%s", json_string_value(json_object_get(j, "ciphertext")));
	json_decref(j);
	FMT(req, "{\"ciphertext\":\"%s\"}", ct);
	code = key("decrypt", "minio-kms", req, body, sizeof(body));
	cr_expect_eq(code, 200, "decrypt: %ld %s", code, body);

	cr_assert_not_null(val = stored("minio-kms"));
	plant("slow", val, false);
	for (i = 0; i < 4; i++) {
		FMT(req, "f%d", i);
		plant(req, val, false);
	}
	free(val);
	fault("{\"path\":\"" CHECKOUT "\",\"action\":\"delay\",\"delay_ms\":"
	    "2000}");
	cr_assert_eq(pthread_create(&th, NULL, slow_get, &s), 0);
	tsrv_sleep_ms(300);
	for (i = 0; i < 4; i++) {
		FMT(req, "f%d", i);
		if (generate(req, body, sizeof(body)) == 200)
			ok++;
		last = tsrv_now_ms();
	}
	pthread_join(th, NULL);
	cr_expect_eq(ok, 4, "%d of 4 other keys served", ok);
	cr_expect_eq(s.code, 200, "the slow key: %ld", s.code);
	cr_expect_lt(last, s.done_ms, "the other keys waited for the slow "
	    "one");

	kill(fd.pid, SIGTERM);
	waitpid(fd.pid, NULL, 0);
	fd.pid = 0;
	cr_expect(wait_status(false, 15000), "/v1/status did not say the "
	    "store is unreachable");
	expect_no_secrets_logged();
}
