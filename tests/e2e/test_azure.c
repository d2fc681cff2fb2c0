/*
 * The Azure Key Vault key store (keystore.azure.keyvault) through the
 * real server (privsep and the sandbox on, mTLS), against
 * tests/doubles/azure_double.py: a TEST DOUBLE of Key Vault, the
 * identity platform's token endpoint and IMDS (no Azure service runs
 * where keyward is tested). Spec: keystores-cloud-and-legacy-config.md
 * §3 and §6.5.
 *
 * The parent reads SSL_CERT_FILE (the double's CA), AZURE_AUTHORITY_HOST
 * and AZURE_POD_IDENTITY_AUTHORITY_HOST (the double's authority and
 * IMDS) from its environment; the tests set them before each start. The
 * keystore section is KES's documented one (tests/data/kes-configs/docs/
 * azure-keyvault.yml), unchanged, its ${VAR}s set to the double's values.
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
#define TENANT		"72f988bf-86f1-41af-91ab-2d7cd011db47"
#define CLIENT		"9f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b"
#define SECRET		"kw~Q8.az-client-secret-7d1e"
#define MI		"5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9"
#define TOKEN		"/" TENANT "/oauth2/v2.0/token"
#define IMDS		"/metadata/identity/oauth2/token"
#define Q		"api-version=7.5"
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

static struct testsrv	srv;
static struct pydouble	ad;
static char		iport[16];

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	pydouble_stop(&ad);
	pydouble_remove(&ad);
}

TestSuite(azure, .init = setup, .fini = teardown, .timeout = 90);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the Azure tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	if (system("command -v python3 >/dev/null 2>&1 && "
	    "command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the Azure test double");
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

/* The double's PKI: a CA and a server certificate for IP:127.0.0.1. */
static void
ad_pki(void)
{
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes";

	strcpy(ad.dir, "/tmp/keyward-test-azure.XXXXXX");
	cr_assert_not_null(mkdtemp(ad.dir));
	chmod(ad.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
	    "-subj /CN=azure-test-ca && "
	    "openssl req %s -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "chmod -R a+rX .", ad.dir, ec, ec);
}

static void
ad_start(const char *const *extra)
{
	const char	*argv[40];
	char		 why[256], path[PATH_MAX + 16], *s;
	size_t		 n = 0;

	if (ad.dir[0] == '\0')
		ad_pki();
	argv[n++] = "python3";
	argv[n++] = "tests/doubles/azure_double.py";
	argv[n++] = "--cert";
	argv[n++] = "server.crt";
	argv[n++] = "--key";
	argv[n++] = "server.key";
	argv[n++] = "--client";
	argv[n++] = TENANT ":" CLIENT ":" SECRET;
	argv[n++] = "--managed-identity";
	argv[n++] = MI;
	argv[n++] = "--port-file";
	argv[n++] = "ad.port";
	argv[n++] = "--control-port-file";
	argv[n++] = "ad.cport";
	argv[n++] = "--imds-port-file";
	argv[n++] = "ad.iport";
	argv[n++] = "--log";
	argv[n++] = "ad.log";
	argv[n++] = "--exit-with-parent";
	while (extra != NULL && *extra != NULL && n < 38)
		argv[n++] = *extra++;
	argv[n] = NULL;
	cr_assert_eq(pydouble_start(&ad, argv[1], argv + 2, "ad.port",
	    "ad.cport", why, sizeof(why)), 0, "%s", why);
	FMT(path, "%s/ad.iport", ad.dir);
	s = slurp(path);
	FMT(iport, "%d", atoi(s));
	free(s);
}

static int
ctl(const char *method, const char *path, const char *body, char *out,
    size_t outlen)
{
	return pydouble_ctl(&ad, method, path, body, out, outlen);
}

static void
ctl_ok(const char *path, const char *body)
{
	char out[4096];
	int  code = ctl("POST", path, body, out, sizeof(out));

	cr_assert_eq(code, 200, "double %s %s: %d %s", path, body, code, out);
}

static json_t *
ad_requests(void)
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
	json_t	*a = ad_requests(), *e;
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

/* A version of name with that value (and created time, 0: now). */
static void
plant(const char *name, const char *value, long created)
{
	json_t	*o = json_pack("{s:s,s:s}", "name", name, "value", value);
	char	*body;

	if (created > 0)
		json_object_set_new(o, "created", json_integer(created));
	body = json_dumps(o, JSON_COMPACT);
	ctl_ok("/secrets", body);
	free(body);
	json_decref(o);
}

/* The value of name's first version (malloc'ed), NULL when absent or
 * not active. */
static char *
stored(const char *name)
{
	static char	 out[1 << 20];
	json_error_t	 jerr;
	json_t		*j, *s;
	char		*r = NULL;

	cr_assert_eq(ctl("GET", "/secrets", NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	s = json_object_get(json_object_get(j, "secrets"), name);
	if (s != NULL && strcmp(jstr(s, "state"), "active") == 0)
		r = strdup(jstr(json_array_get(json_object_get(s, "versions"),
		    0), "value"));
	json_decref(j);
	return r;
}

static const char *
state_of(const char *name)
{
	static char	 out[1 << 20], st[32];
	json_error_t	 jerr;
	json_t		*j, *s;

	cr_assert_eq(ctl("GET", "/secrets", NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	s = json_object_get(json_object_get(j, "secrets"), name);
	snprintf(st, sizeof(st), "%s", s != NULL ? jstr(s, "state") : "none");
	json_decref(j);
	return st;
}

/* --- keyward --------------------------------------------------------------- */

struct acfg {
	bool		 managed;	/* managed_identity instead */
	const char	*secret;	/* default SECRET */
	int		 port;		/* default the double's */
};

static void
write_config(const struct acfg *c)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 path[PATH_MAX + 64], v[256];
	char		 mi[4096], *doc, *ks;

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	FMT(path, "%s/ca.crt", ad.dir);
	setenv("SSL_CERT_FILE", path, 1);
	FMT(v, "https://127.0.0.1:%d", c->port ? c->port : ad.port);
	setenv("AZURE_KEYVAULT_ENDPOINT", v, 1);
	setenv("AZURE_AUTHORITY_HOST", v, 1);
	FMT(v, "http://127.0.0.1:%s", iport);
	setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", v, 1);
	setenv("AZURE_TENANT", TENANT, 1);
	setenv("AZURE_CLIENT", CLIENT, 1);
	setenv("AZURE_SECRET", c->secret ? c->secret : SECRET, 1);

	doc = slurp("tests/data/kes-configs/docs/azure-keyvault.yml");
	cr_assert_not_null(ks = strstr(doc, "\nkeystore:\n"));
	ks++;
	if (c->managed) {
		*strstr(ks, "      # Azure client credentials") = '\0';
		FMT(mi, "%s      managed_identity:\n        client_id: " MI
		    "\n", ks);
		ks = mi;
	}
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
kw_start(const struct acfg *c)
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
kw_start_fails(const struct acfg *c, const char *why)
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

/* A key keyward created; its stored value planted under other names. */
static void
seed_keys(const char *const *names)
{
	char	 body[BODYLEN], *val;
	long	 code;

	code = key("create", "seed", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_not_null(val = stored("seed"));
	for (; *names != NULL; names++)
		plant(*names, val, 0);
	free(val);
}

static void
expect_no_secrets_logged(void)
{
	cr_expect_eq(tsrv_log_count(&srv, "eyJ0eXAiOiJKV1Qi"), 0, "an access "
	    "token is in "
	    "the server's log");
	cr_expect_eq(tsrv_log_count(&srv, SECRET), 0, "the client secret "
	    "is in the server's log");
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
 * KES's documented configuration, unchanged: the client credentials grant
 * (v2.0, scope https://vault.azure.net/.default), then create (GET the
 * latest: 404, then PUT), exists (GET: 200), get of a planted key (the
 * versions, then the oldest), a missing key (an empty versions list),
 * list, delete (DELETE, then purge), delete of a missing key (OK, as
 * KES), the status probe without a token; api-version 7.5 everywhere.
 */
Test(azure, kes_example_roundtrip)
{
	const char *const names[] = { "k2", NULL };
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	json_t		*a, *e, *f;
	size_t		 i;
	long		 code;

	need_root();
	ad_start(NULL);
	kw_start(&c);
	cr_expect_eq(tsrv_log_count(&srv, "ignored"), 0, "%s",
	    tsrv_log_tail(&srv));

	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	seed_keys(names);
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate k2: %ld %s", code, body);
	code = generate("nokey", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"k1\"") && strstr(body, "\"k2\"") &&
	    strstr(body, "\"seed\""), "%s", body);
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	cr_expect_str_eq(state_of("k2"), "none", "deleted and purged");
	code = key("delete", "absent", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete absent: %ld %s", code, body);
	cr_expect(wait_status(true, 3000), "/v1/status");

	a = ad_requests();
	cr_assert_not_null(e = find_req(a, "POST", TOKEN, 0), "no token");
	f = json_object_get(e, "body");
	cr_expect_str_eq(jstr(f, "grant_type"), "client_credentials");
	cr_expect_str_eq(jstr(f, "client_id"), CLIENT);
	cr_expect_str_eq(jstr(f, "scope"), "https://vault.azure.net/.default");
	cr_expect_str_eq(jstr(f, "client_secret"), "<redacted>");
	cr_assert_not_null(find_req(a, "GET", "/secrets/k1/", 0));
	cr_assert_not_null(e = find_req(a, "PUT", "/secrets/k1", 0));
	cr_expect_str_eq(req_header(e, "Content-Type"), "application/json");
	cr_assert_not_null(find_req(a, "GET", "/secrets/k2/versions", 0));
	cr_assert_not_null(find_req(a, "DELETE", "/secrets/k2", 0));
	cr_assert_not_null(find_req(a, "DELETE", "/deletedsecrets/k2", 0));
	cr_assert_not_null(e = find_req(a, "GET", "/", 0), "no status probe");
	cr_expect_null(req_header(e, "Authorization"), "GET / with a token");
	json_array_foreach(a, i, e) {
		if (strncmp(jstr(e, "path"), "/secrets", 8) != 0 &&
		    strncmp(jstr(e, "path"), "/deletedsecrets", 15) != 0)
			continue;
		cr_expect(strstr(jstr(e, "query"), Q) != NULL, "%s?%s",
		    jstr(e, "path"), jstr(e, "query"));
		cr_expect_str_eq(req_header(e, "Authorization") ?
		    req_header(e, "Authorization") : "(none)",
		    "Bearer <redacted>", "%s", jstr(e, "path"));
	}
	json_decref(a);
	expect_no_secrets_logged();
}

/* MinIO's start-up: generate on a missing key (404), create, generate. */
Test(azure, minio_startup)
{
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	ad_start(NULL);
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
 * §3.4: the oldest version wins; a disabled oldest version fails the
 * read; more than one page of versions fails it (TooManyObjectVersions);
 * listing pages follow nextLink and a prefix keeps its names.
 */
Test(azure, versions_and_listing)
{
	const char *const args[] = { "--page-size", "2", NULL };
	struct acfg	 c = { 0 };
	char		 body[BODYLEN], *val, name[32];
	long		 code;
	int		 i;

	need_root();
	ad_start(args);
	kw_start(&c);
	code = key("create", "seed", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "%ld %s", code, body);
	cr_assert_not_null(val = stored("seed"));
	/* old: the seed's value, created long ago; new: junk */
	plant("old", "not a key", 2000000000);
	plant("old", val, 1500000000);
	code = generate("old", body, sizeof(body));
	cr_expect_eq(code, 200, "the oldest version: %ld %s", code, body);
	plant("dis", val, 0);
	ctl_ok("/secrets/attributes", "{\"name\":\"dis\",\"enabled\":false}");
	code = generate("dis", body, sizeof(body));
	cr_expect_eq(code, 502, "disabled: %ld %s", code, body);
	for (i = 0; i < 3; i++)
		plant("many", val, 0);
	code = generate("many", body, sizeof(body));
	cr_expect_eq(code, 502, "3 versions, 2 a page: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "TooManyObjectVersions"), 0);
	free(val);

	for (i = 0; i < 5; i++) {
		FMT(name, "app-%d", i);
		plant(name, "x", 0);
	}
	ctl_ok("/requests/clear", "{}");
	code = key("list", "app*", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect(strstr(body, "\"app-0\"") && strstr(body, "\"app-4\""),
	    "%s", body);
	cr_expect(strstr(body, "\"old\"") == NULL, "another prefix: %s",
	    body);
	cr_expect_eq(count_now("GET", "/secrets"), 5, "9 secrets, 2 a page");
	expect_no_secrets_logged();
}

/*
 * Soft delete (§3.4): a delete's purge is retried while Key Vault is still
 * deleting; a create of a name deleted but not purged purges it first,
 * then puts the value again.
 */
Test(azure, soft_delete_and_create_again)
{
	const char *const args[] = { "--delete-ms", "1500", NULL };
	const char *const names[] = { "sd", NULL };
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;
	int		 n;

	need_root();
	ad_start(args);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/requests/clear", "{}");
	code = key("delete", "sd", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete while deleting: %ld %s", code, body);
	n = count_now("DELETE", "/deletedsecrets/sd");
	cr_expect(n >= 2, "%d purge attempts", n);
	cr_expect_str_eq(state_of("sd"), "none");
	plant("sd", "x", 0);
	ctl_ok("/secrets/state", "{\"name\":\"sd\",\"state\":\"deleted\"}");
	ctl_ok("/requests/clear", "{}");
	code = key("create", "sd", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create after delete: %ld %s", code, body);
	cr_expect_str_eq(state_of("sd"), "active");
	cr_expect_eq(count_now("PUT", "/secrets/sd"), 2, "no PUT after the "
	    "purge");
	cr_expect_eq(count_now("DELETE", "/deletedsecrets/sd"), 1);
	expect_no_secrets_logged();
}

/* Tokens: renewed at half their life; a 401 gets a new one and one more
 * try; a second 401 within 5 s fails the call. */
Test(azure, token_renewal_and_refusal)
{
	const char *const args[] = { "--token-ttl", "4", NULL };
	const char *const names[] = { "t1", "t2", NULL };
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;
	int		 n;

	need_root();
	ad_start(args);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/requests/clear", "{}");
	tsrv_sleep_ms(5000);
	n = count_now("POST", TOKEN);
	cr_expect(n >= 2 && n <= 3, "%d renewals in 5 s (every 2 s)", n);
	ctl_ok("/tokens", "{\"ttl\":300}");
	tsrv_sleep_ms(2500);
	ctl_ok("/tokens/expire", "{}");
	ctl_ok("/requests/clear", "{}");
	code = generate("t1", body, sizeof(body));
	cr_expect_eq(code, 200, "401, a new token, again: %ld %s", code,
	    body);
	cr_expect_eq(count_now("POST", TOKEN), 1);
	ctl_ok("/tokens/expire", "{}");
	code = generate("t2", body, sizeof(body));
	cr_expect_eq(code, 502, "a second 401 within 5 s: %ld %s", code,
	    body);
	expect_no_secrets_logged();
}

/* A wrong client secret: no start, the identity platform's error in
 * the log, never the secret. */
Test(azure, credentials_refused)
{
	struct acfg c = { .secret = "wrong-secret" };

	need_root();
	ad_start(NULL);
	kw_start_fails(&c, "invalid_client: AADSTS7000215");
	cr_expect_eq(tsrv_log_count(&srv, "wrong-secret"), 0);
	expect_no_secrets_logged();
}

/*
 * Retries: 503 and 429 once -> answered; 500 three times -> 502 after
 * three attempts; 403 ForbiddenByPolicy on create's check -> 502 with
 * KES's words; a name Key Vault refuses (400 BadParameter) -> 502.
 */
Test(azure, errors_and_retries)
{
	const char *const names[] = { "r1", "r2", "r3", NULL };
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	ad_start(NULL);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/fault", "{\"path\":\"/secrets/r1/versions\",\"status\":503}");
	code = generate("r1", body, sizeof(body));
	cr_expect_eq(code, 200, "503 once: %ld %s", code, body);
	cr_expect_eq(count_now("GET", "/secrets/r1/versions"), 2);
	ctl_ok("/fault", "{\"path\":\"/secrets/r2/versions\",\"status\":429}");
	code = generate("r2", body, sizeof(body));
	cr_expect_eq(code, 200, "429 once: %ld %s", code, body);
	ctl_ok("/fault", "{\"path\":\"/secrets/r3/versions\",\"status\":500,"
	    "\"count\":3}");
	code = generate("r3", body, sizeof(body));
	cr_expect_eq(code, 502, "500 x3: %ld %s", code, body);
	cr_expect_eq(count_now("GET", "/secrets/r3/versions"), 3);
	ctl_ok("/fault", "{\"path\":\"/secrets/denied/\",\"status\":403,"
	    "\"body\":{\"error\":{\"code\":\"Forbidden\",\"message\":\"denied "
	    "by policy\",\"innererror\":{\"code\":\"ForbiddenByPolicy\"}}}}");
	code = key("create", "denied", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "403: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "insufficient permissions to check "
	    "whether it exists: 403 ForbiddenByPolicy"), 0, "%s",
	    tsrv_log_tail(&srv));
	code = key("create", "under_score", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "Key Vault refuses '_': %ld %s", code, body);
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
 * A managed identity (IMDS, Metadata: true, the identity's client_id):
 * a slow answer for one key does not hold up another; status is GET /
 * (401 is a reachable store); the double gone is an unreachable one.
 */
Test(azure, managed_identity_slow_key_and_status)
{
	const char *const names[] = { "slow", "fast", NULL };
	struct acfg	 c = { .managed = true };
	struct slow	 s;
	pthread_t	 t;
	char		 body[BODYLEN];
	uint64_t	 t0;
	json_t		*a, *e;
	long		 code;

	need_root();
	ad_start(NULL);
	kw_start(&c);
	seed_keys(names);
	a = ad_requests();
	cr_assert_not_null(e = find_req(a, "GET", IMDS, 0), "no IMDS token");
	cr_expect_str_eq(req_header(e, "Metadata"), "true");
	cr_expect(strstr(jstr(e, "query"), "client_id=" MI) != NULL, "%s",
	    jstr(e, "query"));
	cr_expect_null(find_req(a, "POST", TOKEN, 0));
	json_decref(a);

	ctl_ok("/latency", "{\"paths\":{\"/secrets/slow/versions\":2500}}");
	cr_assert_eq(pthread_create(&t, NULL, slow_get, &s), 0);
	tsrv_sleep_ms(300);
	t0 = tsrv_now_ms();
	code = generate("fast", body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect_lt(tsrv_now_ms() - t0, 1500, "the fast key waited");
	pthread_join(t, NULL);
	cr_expect_eq(s.code, 200, "slow: %ld %s", s.code, s.body);

	cr_expect(status_up(), "401 on GET / is a reachable store");
	kill(ad.pid, SIGTERM);
	waitpid(ad.pid, NULL, 0);
	ad.pid = 0;
	cr_expect(wait_status(false, 15000), "/v1/status did not say the "
	    "store is unreachable");
	expect_no_secrets_logged();
}
