/*
 * The GCP Secret Manager key store (keystore.gcp.secretmanager) through
 * the real server (privsep and the sandbox on, mTLS), against
 * tests/doubles/gcp_double.py: a TEST DOUBLE of Secret Manager, Google's
 * OAuth2 token endpoint and the GCE metadata server (no Google service
 * runs where keyward is tested). Spec: keystores-cloud-and-legacy-
 * config.md §2 and §6.4.
 *
 * The parent reads SSL_CERT_FILE (the double's CA), KEYWARD_GCP_TOKEN_URI
 * (its token endpoint), GOOGLE_APPLICATION_CREDENTIALS and
 * GCE_METADATA_HOST from its environment; the tests set them before each
 * start. The keystore section is KES's documented one
 * (tests/data/kes-configs/docs/gcp-secretmanager.yml), unchanged, its
 * ${VAR}s set to the double's values.
 *
 * Needs root (the children drop to user keyward), python3 and openssl;
 * skipped otherwise.
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
#define BODYLEN		65536
#define EMAIL		"kes@my-project.iam.gserviceaccount.com"
#define KID		"0123456789abcdef0123456789abcdef01234567"
#define P		"/v1/projects/my-project/secrets"
#define PN		"/v1/projects/123456789012/secrets"
#define TOKEN		"/token"
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

static struct testsrv	srv;
static struct pydouble	gd;
static char		mport[16];

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	pydouble_stop(&gd);
	pydouble_remove(&gd);
}

TestSuite(gcp, .init = setup, .fini = teardown, .timeout = 90);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the GCP tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	if (system("command -v python3 >/dev/null 2>&1 && "
	    "command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the GCP test double");
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

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*text;
	long	 len;

	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

/* The double's PKI (ca, server for IP:127.0.0.1) and two RSA keys: the
 * service account's and one Google does not know. */
static void
gd_pki(void)
{
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes";

	strcpy(gd.dir, "/tmp/keyward-test-gcp.XXXXXX");
	cr_assert_not_null(mkdtemp(gd.dir));
	chmod(gd.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
	    "-subj /CN=gcp-test-ca && "
	    "openssl req %s -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out sa.pem && "
	    "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 "
	    "-out other.pem && chmod -R a+rX .", gd.dir, ec, ec);
}

static void
gd_start(const char *const *extra)
{
	const char	*argv[40];
	char		 why[256], sa[PATH_MAX + 64], *s;
	size_t		 n = 0;

	if (gd.dir[0] == '\0')
		gd_pki();
	FMT(sa, EMAIL "=%s/sa.pem", gd.dir);
	argv[n++] = "python3";
	argv[n++] = "tests/doubles/gcp_double.py";
	argv[n++] = "--cert";
	argv[n++] = "server.crt";
	argv[n++] = "--key";
	argv[n++] = "server.key";
	argv[n++] = "--service-account";
	argv[n++] = sa;
	argv[n++] = "--port-file";
	argv[n++] = "gd.port";
	argv[n++] = "--control-port-file";
	argv[n++] = "gd.cport";
	argv[n++] = "--metadata-port-file";
	argv[n++] = "gd.mport";
	argv[n++] = "--log";
	argv[n++] = "gd.log";
	argv[n++] = "--exit-with-parent";
	while (extra != NULL && *extra != NULL && n < 38)
		argv[n++] = *extra++;
	argv[n] = NULL;
	cr_assert_eq(pydouble_start(&gd, argv[1], argv + 2, "gd.port",
	    "gd.cport", why, sizeof(why)), 0, "%s", why);
	FMT(sa, "%s/gd.mport", gd.dir);
	s = slurp(sa);
	FMT(mport, "%d", atoi(s));
	free(s);
}

static int
ctl(const char *method, const char *path, const char *body, char *out,
    size_t outlen)
{
	return pydouble_ctl(&gd, method, path, body, out, outlen);
}

static void
ctl_ok(const char *path, const char *body)
{
	char out[4096];
	int  code = ctl("POST", path, body, out, sizeof(out));

	cr_assert_eq(code, 200, "double %s %s: %d %s", path, body, code, out);
}

static json_t *
gd_requests(void)
{
	static char	 out[8 << 20];
	json_error_t	 jerr;
	json_t		*j, *a;

	cr_assert_eq(ctl("GET", "/requests", NULL, out, sizeof(out)), 200);
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
	json_t	*a = gd_requests(), *e;
	size_t	 i, pl = strlen(path);
	int	 n = 0;

	json_array_foreach(a, i, e) {
		if (method != NULL && strcmp(jstr(e, "method"), method) != 0)
			continue;
		if (path[pl - 1] == '*' ? strncmp(jstr(e, "path"), path,
		    pl - 1) == 0 : strcmp(jstr(e, "path"), path) == 0)
			n++;
	}
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

/* A secret with version 1 = value (base64), as if KES had made it. */
static void
plant(const char *id, const char *b64)
{
	char body[8192];

	FMT(body, "{\"id\":\"%s\",\"data\":\"%s\"}", id, b64);
	ctl_ok("/secrets", body);
}

/* Version 1 of id, base64 (malloc'ed), or NULL. */
static char *
stored(const char *id)
{
	static char	 out[1 << 20];
	json_error_t	 jerr;
	json_t		*j, *v;
	char		*r = NULL;

	cr_assert_eq(ctl("GET", "/secrets", NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	v = json_array_get(json_object_get(json_object_get(j, "secrets"), id),
	    0);
	if (v != NULL)
		r = strdup(jstr(v, "data"));
	json_decref(j);
	return r;
}

/* --- keyward --------------------------------------------------------------- */

enum auth { AUTH_CONFIG, AUTH_ADC, AUTH_METADATA };

struct gcfg {
	enum auth	 auth;
	const char	*key;		/* default sa.pem */
	int		 port;		/* default the double's */
};

/* The keystore section of KES's documented configuration, or for the
 * ADC and metadata paths the same without credentials. */
static void
write_config(const struct gcfg *c)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 path[PATH_MAX + 64], v[256];
	char		*doc, *ks, *key;

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	FMT(path, "%s/ca.crt", gd.dir);
	setenv("SSL_CERT_FILE", path, 1);
	FMT(v, "https://127.0.0.1:%d" TOKEN, c->port ? c->port : gd.port);
	setenv("KEYWARD_GCP_TOKEN_URI", v, 1);
	FMT(v, "https://127.0.0.1:%d", c->port ? c->port : gd.port);
	setenv("GCP_ENDPOINT", v, 1);
	setenv("GCP_PROJECT_ID", "my-project", 1);
	setenv("GCP_CLIENT_EMAIL", EMAIL, 1);
	setenv("GCP_CLIENT_ID", "112233445566778899000", 1);
	setenv("GCP_PRIVATE_KEY_ID", KID, 1);
	FMT(path, "%s/%s", gd.dir, c->key ? c->key : "sa.pem");
	key = slurp(path);
	setenv("GCP_PRIVATE_KEY", key, 1);
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("GCE_METADATA_HOST");

	doc = slurp("tests/data/kes-configs/docs/gcp-secretmanager.yml");
	cr_assert_not_null(ks = strstr(doc, "\nkeystore:\n"));
	ks++;
	if (c->auth != AUTH_CONFIG)
		*strstr(ks, "      credentials:") = '\0';
	if (c->auth == AUTH_ADC) {
		json_t *j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}",
		    "type", "service_account", "project_id", "my-project",
		    "private_key_id", KID, "private_key", key,
		    "client_email", EMAIL, "client_id", "1",
		    "token_uri", getenv("KEYWARD_GCP_TOKEN_URI"));

		FMT(path, "%s/adc.json", gd.dir);
		cr_assert_eq(json_dump_file(j, path, 0), 0);
		json_decref(j);
		chmod(path, 0600);	/* read as root, before the drop */
		setenv("GOOGLE_APPLICATION_CREDENTIALS", path, 1);
		unsetenv("KEYWARD_GCP_TOKEN_URI");
	}
	if (c->auth == AUTH_METADATA) {
		FMT(v, "127.0.0.1:%s", mport);
		setenv("GCE_METADATA_HOST", v, 1);
	}
	free(key);

	cr_assert_eq(tsrv_replace_keystore(&srv, ks), 0, "no fs store in "
	    "%s", srv.config);
	free(doc);
}

static void
kw_init(void)
{
	if (srv.dir[0] == '\0')
		cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s;"
		    " build the server first (`make`)", strerror(errno));
}

static void
kw_start(const struct gcfg *c)
{
	int n;

	kw_init();
	write_config(c);
	n = tsrv_log_count(&srv, "serving on");
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", n + 1, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

static void
kw_start_fails(const struct gcfg *c, const char *why)
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

/* A key keyward created, its stored value planted under other names (a
 * get of those must reach the store: the crypto process caches only
 * what it made or read). */
static void
seed_keys(const char *const *names)
{
	char	 body[BODYLEN], *val;
	long	 code;

	code = key("create", "seed", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_not_null(val = stored("seed"));
	for (; *names != NULL; names++)
		plant(*names, val);
	free(val);
}

static void
expect_no_secrets_logged(void)
{
	cr_expect_eq(tsrv_log_count(&srv, "ya29."), 0, "an access token is in "
	    "the server's log");
	cr_expect_eq(tsrv_log_count(&srv, "PRIVATE KEY"), 0, "the private "
	    "key is in the server's log");
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
 * KES's documented configuration, unchanged: the JWT grant (RS256, iss,
 * aud = the token URL, the configured scope, kid), then create (secret,
 * then a version under the name Google returned, with the project
 * NUMBER), exists, get of a planted key (version 1), a missing key,
 * list, delete, delete of a missing key (404, as KES), the status probe
 * without a token.
 */
Test(gcp, kes_example_roundtrip)
{
	const char *const names[] = { "k2", NULL };
	struct gcfg	 c = { 0 };
	char		 body[BODYLEN], tu[128];
	json_t		*a, *e, *cl;
	size_t		 i;
	long		 code;

	need_root();
	gd_start(NULL);
	kw_start(&c);
	cr_expect_eq(tsrv_log_count(&srv, "ignored"), 0, "%s",
	    tsrv_log_tail(&srv));

	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again (409): %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	seed_keys(names);
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate k2 (access): %ld %s", code, body);
	code = generate("nokey", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"k1\"") && strstr(body, "\"k2\"") &&
	    strstr(body, "\"seed\""), "%s", body);
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	cr_expect_null(stored("k2"));
	code = key("delete", "absent", NULL, body, sizeof(body));
	cr_expect_eq(code, 404, "delete absent: %ld %s", code, body);
	cr_expect(wait_status(true, 3000), "/v1/status");

	a = gd_requests();
	cr_assert_not_null(e = find_req(a, "POST", TOKEN, 0), "no token");
	cl = json_object_get(json_object_get(e, "body"), "claims");
	FMT(tu, "https://127.0.0.1:%d" TOKEN, gd.port);
	cr_expect_str_eq(jstr(cl, "iss"), EMAIL);
	cr_expect_str_eq(jstr(cl, "aud"), tu);
	cr_expect_str_eq(jstr(cl, "scope"),
	    "https://www.googleapis.com/auth/cloud-platform");
	cr_expect_eq(json_integer_value(json_object_get(cl, "exp")) -
	    json_integer_value(json_object_get(cl, "iat")), 3600);
	cr_expect_str_eq(jstr(json_object_get(json_object_get(e, "body"),
	    "form"), "grant_type"),
	    "urn:ietf:params:oauth:grant-type:jwt-bearer");
	cr_expect_eq(json_integer_value(json_object_get(e, "status")), 200);
	cr_assert_not_null(e = find_req(a, "POST", P, 0));
	cr_expect_str_eq(jstr(e, "query"), "secretId=k1");
	cr_expect_str_eq(req_header(e, "Content-Type"), "application/json");
	cr_assert_not_null(find_req(a, "POST", PN "/k1:addVersion", 0),
	    "the version did not go to the name Google returned");
	cr_assert_not_null(find_req(a, "GET", P "/k2/versions/1:access", 0));
	cr_assert_not_null(find_req(a, "DELETE", P "/k2", 0));
	cr_assert_not_null(find_req(a, "GET", P, 0));
	cr_assert_not_null(e = find_req(a, "GET", "/", 0), "no status probe");
	cr_expect_null(req_header(e, "Authorization"), "GET / with a token");
	json_array_foreach(a, i, e) {
		if (strncmp(jstr(e, "path"), "/v1/", 4) != 0)
			continue;
		cr_expect_str_eq(req_header(e, "Authorization") ?
		    req_header(e, "Authorization") : "(none)",
		    "Bearer <redacted>", "%s", jstr(e, "path"));
	}
	cr_expect_eq(count_now("POST", TOKEN), 1, "one token for all");
	json_decref(a);
	expect_no_secrets_logged();
}

/* MinIO's start-up: generate on a missing key (404), create, generate. */
Test(gcp, minio_startup)
{
	struct gcfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	gd_start(NULL);
	kw_start(&c);
	code = generate("minio-kms", body, sizeof(body));
	cr_assert_eq(code, 404, "generate: %ld %s", code, body);
	code = key("create", "minio-kms", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = generate("minio-kms", body, sizeof(body));
	cr_assert_eq(code, 200, "generate: %ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * Listing: 2 per page (the double's page size), every page followed by
 * its token; a prefix keeps only its names. A page token the double did
 * not issue is not asked for: a bad page (400) fails the listing.
 */
Test(gcp, list_prefix_and_paging)
{
	const char *const args[] = { "--page-size", "2", NULL };
	struct gcfg	 c = { 0 };
	char		 body[BODYLEN], name[32];
	long		 code;
	int		 i;

	need_root();
	gd_start(args);
	kw_start(&c);
	for (i = 0; i < 7; i++) {
		FMT(name, "%s-%d", i % 2 ? "app" : "db", i);
		plant(name, "eA==");
	}
	ctl_ok("/requests/clear", "{}");
	code = key("list", "app*", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect(strstr(body, "\"app-1\"") && strstr(body, "\"app-3\"") &&
	    strstr(body, "\"app-5\""), "%s", body);
	cr_expect(strstr(body, "db-") == NULL, "another prefix: %s", body);
	cr_expect_eq(count_now("GET", P), 4, "7 secrets in pages of 2");
	ctl_ok("/fault", "{\"path\":\"" P "\",\"method\":\"GET\","
	    "\"status\":400}");
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "a failed page: %ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * Tokens: a 4 s token is renewed at half its life (2 s); a token the
 * service refuses (401) gets one new token and the call once more; a
 * refused token while renewals fail fails the call.
 */
Test(gcp, token_renewal_and_refusal)
{
	const char *const args[] = { "--token-ttl", "4", NULL };
	const char *const names[] = { "t1", "t2", NULL };
	struct gcfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;
	int		 n;

	need_root();
	gd_start(args);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/requests/clear", "{}");
	tsrv_sleep_ms(5000);
	n = count_now("POST", TOKEN);
	cr_expect(n >= 2 && n <= 3, "%d renewals in 5 s (every 2 s)", n);

	ctl_ok("/tokens", "{\"ttl\":300}");
	tsrv_sleep_ms(2500);		/* the next renewal: 300 s */
	ctl_ok("/tokens/expire", "{}");
	ctl_ok("/requests/clear", "{}");
	code = generate("t1", body, sizeof(body));
	cr_expect_eq(code, 200, "401, a new token, the call again: %ld %s",
	    code, body);
	cr_expect_eq(count_now("POST", TOKEN), 1);
	cr_expect_eq(count_now("GET", P "/t1/versions/1:access"), 2);

	/* Refused again within 5 s: no new token, the call fails. */
	ctl_ok("/tokens/expire", "{}");
	code = generate("t2", body, sizeof(body));
	cr_expect_eq(code, 502, "a second 401 within 5 s: %ld %s", code,
	    body);
	cr_expect_eq(count_now("POST", TOKEN), 1);
	expect_no_secrets_logged();
}

/*
 * Credentials refused at start: a key Google does not know (invalid_grant
 * with the endpoint's text); nothing listening at the token endpoint.
 */
Test(gcp, credentials_refused)
{
	struct gcfg	 c = { .key = "other.pem" };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t	 sl = sizeof(sa);
	int		 fd;

	need_root();
	gd_start(NULL);
	kw_start_fails(&c, "invalid_grant: Invalid JWT Signature.");
	cr_expect_eq(count_now("POST", TOKEN), 1, "a 400 was retried");

	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	memset(&c, 0, sizeof(c));
	c.port = ntohs(sa.sin_port);
	kw_start_fails(&c, "gcp: no access token");
	close(fd);
	expect_no_secrets_logged();
}

/*
 * Retries: 503 and 429 once -> the second attempt answers; 500 three
 * times -> 502 after three attempts; 400 -> one attempt. A version that
 * cannot be added leaves the empty secret (KES): create fails, create
 * again is EXISTS, get is NOT_FOUND.
 */
Test(gcp, errors_and_retries)
{
	const char *const names[] = { "r1", "r2", "r3", "r4", NULL };
	struct gcfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	gd_start(NULL);
	kw_start(&c);
	seed_keys(names);

	ctl_ok("/fault", "{\"path\":\"" P "/r1/versions/1:access\","
	    "\"status\":503}");
	code = generate("r1", body, sizeof(body));
	cr_expect_eq(code, 200, "503 once: %ld %s", code, body);
	cr_expect_eq(count_now("GET", P "/r1/versions/1:access"), 2);
	ctl_ok("/fault", "{\"path\":\"" P "/r2/versions/1:access\","
	    "\"status\":429}");
	code = generate("r2", body, sizeof(body));
	cr_expect_eq(code, 200, "429 once: %ld %s", code, body);
	cr_expect_eq(count_now("GET", P "/r2/versions/1:access"), 2);
	ctl_ok("/fault", "{\"path\":\"" P "/r3/versions/1:access\","
	    "\"status\":500,\"count\":3}");
	code = generate("r3", body, sizeof(body));
	cr_expect_eq(code, 502, "500 x3: %ld %s", code, body);
	cr_expect_eq(count_now("GET", P "/r3/versions/1:access"), 3);
	cr_expect_gt(tsrv_log_count(&srv, "gcp: failed to read 'r3': 500 "
	    "INTERNAL"), 0, "%s", tsrv_log_tail(&srv));
	ctl_ok("/fault", "{\"path\":\"" P "/r4/versions/1:access\","
	    "\"status\":400}");
	code = generate("r4", body, sizeof(body));
	cr_expect_eq(code, 502, "400: %ld %s", code, body);
	cr_expect_eq(count_now("GET", P "/r4/versions/1:access"), 1);

	ctl_ok("/switch", "{\"addversion_fail\":true}");
	code = key("create", "half", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "addVersion failed: %ld %s", code, body);
	ctl_ok("/switch", "{\"addversion_fail\":false}");
	code = key("create", "half", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "the empty secret exists: %ld %s", code,
	    body);
	code = generate("half", body, sizeof(body));
	cr_expect_eq(code, 404, "no version 1: %ld %s", code, body);
	code = key("create", "bad.name", NULL, body, sizeof(body));
	cr_expect_neq(code, 200, "not a GCP secret ID: %ld %s", code, body);
	expect_no_secrets_logged();
}

struct slow {
	long	code;
	char	body[BODYLEN];
};

static void *
slow_get(void *arg)
{
	struct slow *s = arg;

	s->code = generate("slow", s->body, sizeof(s->body));
	return NULL;
}

/*
 * A slow answer for one key does not hold up another; status is GET /
 * (404 is a reachable store); the double gone is an unreachable one.
 */
Test(gcp, slow_key_and_status)
{
	const char *const names[] = { "slow", "fast", NULL };
	struct gcfg	 c = { 0 };
	struct slow	 s;
	pthread_t	 t;
	char		 body[BODYLEN];
	uint64_t	 t0;
	long		 code;

	need_root();
	gd_start(NULL);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/latency", "{\"paths\":{\"" P "/slow/versions/1:access\":"
	    "2500}}");
	cr_assert_eq(pthread_create(&t, NULL, slow_get, &s), 0);
	tsrv_sleep_ms(300);
	t0 = tsrv_now_ms();
	code = generate("fast", body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect_lt(tsrv_now_ms() - t0, 1500, "the fast key waited for the "
	    "slow one");
	pthread_join(t, NULL);
	cr_expect_eq(s.code, 200, "slow: %ld %s", s.code, s.body);

	cr_expect(status_up(), "404 on GET / is a reachable store");
	kill(gd.pid, SIGTERM);
	waitpid(gd.pid, NULL, 0);
	gd.pid = 0;
	cr_expect(wait_status(false, 15000), "/v1/status did not say the "
	    "store is unreachable");
	expect_no_secrets_logged();
}

/*
 * Without credentials in the section: Application Default Credentials,
 * first the key file GOOGLE_APPLICATION_CREDENTIALS names (its token_uri
 * is used), then the metadata server (Metadata-Flavor: Google).
 */
Test(gcp, adc_file_and_metadata)
{
	struct gcfg	 c = { .auth = AUTH_ADC };
	char		 body[BODYLEN];
	json_t		*a, *e;
	long		 code;

	need_root();
	gd_start(NULL);
	kw_start(&c);
	code = key("create", "adc", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "ADC file: %ld %s", code, body);
	cr_expect_eq(count_now("POST", TOKEN), 1);
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));

	ctl_ok("/requests/clear", "{}");
	c.auth = AUTH_METADATA;
	kw_start(&c);
	code = key("create", "md", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "metadata: %ld %s", code, body);
	a = gd_requests();
	cr_assert_not_null(e = find_req(a, "GET", "/computeMetadata/v1/"
	    "instance/service-accounts/default/token", 0), "no metadata "
	    "token");
	cr_expect_str_eq(req_header(e, "Metadata-Flavor"), "Google");
	cr_expect_null(find_req(a, "POST", TOKEN, 0));
	json_decref(a);
	expect_no_secrets_logged();
}
