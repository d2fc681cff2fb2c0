/*
 * The AWS Secrets Manager key store (keystore.aws.secretsmanager) through
 * the real server (privsep and the sandbox on, mTLS), against
 * tests/doubles/aws_double.py: a TEST DOUBLE of AWS Secrets Manager and
 * of AWS's credential endpoints (no AWS service runs where keyward is
 * tested). The double verifies every SigV4 signature over the bytes it
 * received; test_aws_double.py holds it to boto3.
 * Spec: shared/spec/keystores-cloud-and-legacy-config.md §1, §6.3.
 *
 * The double's CA reaches keyward through AWS_CA_BUNDLE, its credential
 * endpoints through AWS_EC2_METADATA_SERVICE_ENDPOINT and
 * AWS_CONTAINER_CREDENTIALS_FULL_URI, as aws-sdk-go's; the parent reads
 * them (the agent gets an empty environment).
 *
 * Needs root (the children drop to user keyward) and python3; skipped
 * otherwise.
 */
#include <sys/stat.h>
#include <sys/wait.h>

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
#define AKID		"AKIDKEYWARDE2E00001"
#define SECRET		"kw-e2e-secret/7c1e55d0a9f34b2e8d6b+x"
#define TOKEN		"FQoGZXIvYXdzKEYWARDSESSIONTOKEN0001"
#define REGION		"us-east-2"
#define APP_ID		"2ac4b8ad7e2a9d8a6f3e5b1c0d9e8f7a" \
			"6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e"
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

static struct testsrv	srv;
static struct pydouble	ad;
static int		mport;		/* the double's metadata port */

static const char *const aws_env[] = {
	"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY",
	"AWS_SECRET_KEY", "AWS_SESSION_TOKEN", "AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_EC2_METADATA_DISABLED",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT", "AWS_EC2_METADATA_V1_DISABLED",
	"AWS_CA_BUNDLE", NULL
};

static void
setup(void)
{
	size_t i;

	signal(SIGPIPE, SIG_IGN);
	/* Nothing of the machine's own AWS set-up leaks into a test. */
	for (i = 0; aws_env[i] != NULL; i++)
		unsetenv(aws_env[i]);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/keyward-test", 1);
	/* Not a real instance: nothing answers 169.254.169.254 here. */
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	pydouble_stop(&ad);
	pydouble_remove(&ad);
}

TestSuite(aws, .init = setup, .fini = teardown, .timeout = 120);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the AWS tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the AWS test double");
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

static void
ad_pki(void)
{
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes";

	strcpy(ad.dir, "/tmp/keyward-test-aws.XXXXXX");
	cr_assert_not_null(mkdtemp(ad.dir));
	chmod(ad.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
	    "-subj /CN=aws-test-ca && "
	    "openssl req %s -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "chmod -R a+rX .", ad.dir, ec, ec);
}

/* Start the double (static identity AKID/SECRET, and AKID2 with a
 * session token) plus extra arguments (NULL-ended). */
static void
ad_start(const char *const *extra)
{
	const char	*argv[64];
	char		 why[256], mp[PATH_MAX + 8], ca[PATH_MAX + 8];
	size_t		 n = 0;
	FILE		*f;

	if (ad.dir[0] == '\0')
		ad_pki();
	argv[n++] = "python3";
	argv[n++] = "tests/doubles/aws_double.py";
	argv[n++] = "--cert";
	argv[n++] = "server.crt";
	argv[n++] = "--key";
	argv[n++] = "server.key";
	argv[n++] = "--region";
	argv[n++] = REGION;
	argv[n++] = "--identity";
	argv[n++] = AKID ":" SECRET;
	argv[n++] = "--identity";
	argv[n++] = "AKID2KEYWARDE2E0002:" SECRET ":" TOKEN;
	argv[n++] = "--container-auth";
	argv[n++] = "Bearer ctr-e2e-token";
	argv[n++] = "--port-file";
	argv[n++] = "aws.port";
	argv[n++] = "--control-port-file";
	argv[n++] = "aws.cport";
	argv[n++] = "--meta-port-file";
	argv[n++] = "aws.mport";
	argv[n++] = "--log";
	argv[n++] = "aws.log";
	argv[n++] = "--exit-with-parent";
	while (extra != NULL && *extra != NULL && n < 62)
		argv[n++] = *extra++;
	argv[n] = NULL;
	cr_assert_eq(pydouble_start(&ad, argv[1], argv + 2, "aws.port",
	    "aws.cport", why, sizeof(why)), 0, "%s", why);
	FMT(mp, "%s/aws.mport", ad.dir);
	cr_assert_not_null(f = fopen(mp, "r"));
	cr_assert_eq(fscanf(f, "%d", &mport), 1);
	fclose(f);
	FMT(ca, "%s/ca.crt", ad.dir);
	setenv("AWS_CA_BUNDLE", ca, 1);
}

/* --- the double's control port --- */

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
ctl_json(const char *path)
{
	static char	 out[8 << 20];
	json_error_t	 jerr;
	json_t		*j;

	cr_assert_eq(ctl("GET", path, NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	return j;
}

static const char *
jstr(json_t *e, const char *k)
{
	const char *s = json_string_value(json_object_get(e, k));

	return s != NULL ? s : "";
}

/* API requests with that target (NULL: any) seen by the double. */
static int
count_target(const char *target)
{
	json_t	*j = ctl_json("/requests"), *e;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(json_object_get(j, "requests"), i, e)
		if (strcmp(jstr(e, "where"), "api") == 0 && (target == NULL ||
		    strcmp(jstr(e, "target"), target) == 0))
			n++;
	json_decref(j);
	return n;
}

static const char *
hdr(json_t *e, const char *name)
{
	json_t		*h = json_object_get(e, "headers"), *v;
	const char	*k;

	json_object_foreach(h, k, v)
		if (strcasecmp(k, name) == 0)
			return json_string_value(v);
	return NULL;
}

/* The value keyward stored under name (malloc'ed), or NULL. */
static char *
stored(const char *name)
{
	json_t	*j = ctl_json("/secrets"), *e;
	size_t	 i;
	char	*v = NULL;

	json_array_foreach(json_object_get(j, "secrets"), i, e)
		if (strcmp(jstr(e, "name"), name) == 0)
			v = strdup(jstr(e, "value"));
	json_decref(j);
	return v;
}

static void
plant(const char *name, const char *value)
{
	json_t	*o = json_pack("{s:s,s:s}", "name", name, "value", value);
	char	*body = json_dumps(o, JSON_COMPACT);

	ctl_ok("/secrets", body);
	free(body);
	json_decref(o);
}

/* --- keyward --- */

struct acfg {
	const char	*raw;		/* the whole secretsmanager: section */
	const char	*creds;		/* the credentials: block, or "" */
	const char	*kmskey;
	int		 port;		/* default the double's */
};

static void
write_config(const struct acfg *c)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 ks[8192];

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	/* KES's layout; the endpoint without a scheme, as KES's samples
	 * write it (https:// is implied). */
	FMT(ks, "keystore:\n  aws:\n    secretsmanager:\n      endpoint: "
	    "127.0.0.1:%d\n      region: %s\n      kmskey: \"%s\"\n%s",
	    c->port ? c->port : ad.port, REGION, c->kmskey ? c->kmskey : "",
	    c->creds ? c->creds : "      credentials:\n        accesskey: "
	    AKID "\n        secretkey: " SECRET "\n");
	if (c->raw != NULL)
		FMT(ks, "keystore:\n  aws:\n    secretsmanager:\n%s", c->raw);
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
}

static long
key_as(enum tsrv_client who, const char *op, const char *name,
    const char *body, char *out, size_t outlen)
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
	return tsrv_get_ex(&srv, who, path, out, outlen, &r);
}

static long
key(const char *op, const char *name, const char *body, char *out,
    size_t outlen)
{
	return key_as(TSRV_ADMIN, op, name, body, out, outlen);
}

static long
generate(const char *name, char *out, size_t outlen)
{
	return key("generate", name, "{}", out, outlen);
}

/* A key keyward created, and its value planted under other names (the
 * crypto process caches what it created: a get of these reaches the
 * store). */
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
	cr_expect_eq(tsrv_log_count(&srv, SECRET), 0, "the secret key is in "
	    "the server's log");
	cr_expect_eq(tsrv_log_count(&srv, TOKEN), 0, "the session token is "
	    "in the server's log");
	cr_expect_eq(tsrv_log_count(&srv, "IQoJb3JpZ2luX2Vj"), 0, "a fetched "
	    "session token is in the server's log");
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
 * §1.5, §1.6: create, exists, get of a planted key, missing, list,
 * delete, delete of a missing key (OK: forced deletion never says not
 * found); the request shapes (X-Amz-Target, JSON 1.1, ClientRequestToken
 * an upper-case UUIDv4, KmsKeyId when configured, SigV4 signing the
 * target), the status probe unsigned.
 */
Test(aws, roundtrip)
{
	const char *const names[] = { "k2", NULL };
	struct acfg	 c = { .kmskey = "alias/keyward" };
	char		 body[BODYLEN], *v;
	json_t		*j, *e, *b;
	size_t		 i;
	long		 code;
	int		 creates = 0;

	need_root();
	ad_start(NULL);
	kw_start(&c);

	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_not_null(v = stored("k1"));
	cr_expect_gt(strlen(v), 16, "stored value %s", v);
	free(v);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));
	seed_keys(names);
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate k2: %ld %s", code, body);
	code = generate("nokey", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));
	code = key("list", "*", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"k1\"") && strstr(body, "\"k2\"") &&
	    strstr(body, "\"seed\""), "%s", body);
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	cr_expect_null(stored("k2"));
	code = key("delete", "absent", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete absent: %ld %s", code, body);
	cr_expect(wait_status(true, 3000), "/v1/status");

	j = ctl_json("/requests");
	json_array_foreach(json_object_get(j, "requests"), i, e) {
		const char *t = jstr(e, "target"), *auth;

		if (strcmp(jstr(e, "method"), "GET") == 0) {
			cr_expect_str_eq(jstr(e, "path"), "/");
			cr_expect_null(hdr(e, "Authorization"), "signed probe");
			continue;
		}
		cr_expect_str_eq(jstr(e, "path"), "/");
		cr_expect_str_eq(hdr(e, "Content-Type"),
		    "application/x-amz-json-1.1");
		cr_assert_not_null(auth = hdr(e, "Authorization"));
		cr_expect(strncmp(auth, "AWS4-HMAC-SHA256 Credential=" AKID
		    "/", 48) == 0, "%s", auth);
		cr_expect_not_null(strstr(auth, "/" REGION "/secretsmanager/"
		    "aws4_request, SignedHeaders=content-type;host;x-amz-date;"
		    "x-amz-target, Signature="), "%s", auth);
		cr_expect_eq(json_integer_value(json_object_get(e, "status")) !=
		    400 || strcmp(t, "CreateSecret") == 0 ||
		    strcmp(t, "GetSecretValue") == 0, true, "%s refused", t);
		b = json_object_get(e, "body");
		if (strcmp(t, "CreateSecret") == 0) {
			const char *crt = jstr(b, "ClientRequestToken");

			creates++;
			cr_expect_eq(strlen(crt), 36, "%s", crt);
			cr_expect_eq(strspn(crt, "0123456789ABCDEF-"), 36, "%s",
			    crt);
			cr_expect_eq(crt[14], '4', "%s", crt);
			cr_expect_str_eq(jstr(b, "KmsKeyId"), "alias/keyward");
			cr_expect_str_eq(jstr(b, "SecretString"), "<redacted>");
		}
		if (strcmp(t, "DeleteSecret") == 0)
			cr_expect(json_is_true(json_object_get(b,
			    "ForceDeleteWithoutRecovery")));
		if (strcmp(t, "ListSecrets") == 0)
			cr_expect_eq(json_object_size(b), 0);
	}
	cr_expect_eq(creates, 3);
	json_decref(j);
	expect_no_secrets_logged();
}

/* §1.5: every page of ListSecrets (7 secrets, pages of 3), then KES's
 * prefix filter. */
Test(aws, listing)
{
	const char *const names[] = { "app-1", "app-2", "app-3", "app-4",
	    "other-1", "other-2", NULL };
	const char *const extra[] = { "--page-size", "3", NULL };
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	ad_start(extra);
	kw_start(&c);
	seed_keys(names);
	ctl_ok("/requests/clear", "{}");
	code = key("list", "app-*", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "%ld %s", code, body);
	cr_expect(strstr(body, "\"app-1\"") && strstr(body, "\"app-4\"") &&
	    !strstr(body, "other-") && !strstr(body, "\"seed\""), "%s", body);
	cr_expect_eq(count_target("ListSecrets"), 3, "pages");
	code = key("list", "*", NULL, body, sizeof(body));
	cr_expect(strstr(body, "\"other-2\"") && strstr(body, "\"seed\""),
	    "%s", body);
	/* A token the service does not know fails the listing. */
	ctl_ok("/fault", "{\"target\":\"ListSecrets\",\"status\":400,"
	    "\"type\":\"InvalidNextTokenException\",\"skip\":1}");
	code = key("list", "*", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "%ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * aws-sdk-go's retries (§1.5): throttling (400 ThrottlingException, 429)
 * and 5xx answers are tried again, a namespaced __type is understood;
 * 501 and other 4xx are not; an error the retries did not cure is a
 * 502 with the service's code.
 */
Test(aws, errors_and_retries)
{
	struct acfg	 c = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	ad_start(NULL);
	kw_start(&c);

	ctl_ok("/fault", "{\"target\":\"CreateSecret\",\"status\":400,"
	    "\"type\":\"ThrottlingException\",\"count\":2}");
	code = key("create", "t1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "throttled create: %ld %s", code, body);
	cr_expect_eq(count_target("CreateSecret"), 3);
	ctl_ok("/fault", "{\"target\":\"CreateSecret\",\"status\":429,"
	    "\"type\":\"TooManyRequestsException\"}");
	ctl_ok("/fault", "{\"target\":\"CreateSecret\",\"status\":500,"
	    "\"type\":\"InternalServiceError\"}");
	ctl_ok("/fault", "{\"target\":\"CreateSecret\",\"status\":503,"
	    "\"type\":\"ServiceUnavailable\"}");
	code = key("create", "t2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "429, 500, 503 then OK: %ld %s", code, body);
	cr_expect_eq(count_target("CreateSecret"), 7);

	ctl_ok("/fault", "{\"target\":\"CreateSecret\",\"status\":501,"
	    "\"type\":\"NotImplemented\"}");
	code = key("create", "t3", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "501: %ld %s", code, body);
	cr_expect_eq(count_target("CreateSecret"), 8, "501 was retried");
	ctl_ok("/fault", "{\"target\":\"CreateSecret\",\"status\":500,"
	    "\"type\":\"InternalServiceError\",\"count\":-1}");
	code = key("create", "t4", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "500 forever: %ld %s", code, body);
	cr_expect_eq(count_target("CreateSecret"), 12, "4 attempts");
	ctl_ok("/faults/clear", "{}");
	cr_expect_gt(tsrv_log_count(&srv, "InternalServiceError"), 0, "%s",
	    tsrv_log_tail(&srv));

	/* KMS trouble and an async deletion are OTHER (§1.6). */
	ctl_ok("/knobs", "{\"bad_kms\":true}");
	code = key("create", "t5", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "EncryptionFailure: %ld %s", code, body);
	ctl_ok("/knobs", "{\"bad_kms\":false}");
	ctl_ok("/knobs", "{\"async_delete_ms\":60000}");
	code = key("delete", "t1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	code = key("create", "t1", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "create while scheduled for deletion: %ld %s",
	    code, body);
	ctl_ok("/knobs", "{\"async_delete_ms\":0}");

	/* A namespaced not-found is still not found. */
	ctl_ok("/fault", "{\"target\":\"GetSecretValue\",\"status\":400,"
	    "\"type\":\"com.amazonaws.secretsmanager#"
	    "ResourceNotFoundException\"}");
	code = generate("nope", body, sizeof(body));
	cr_expect_eq(code, 404, "%ld %s", code, body);
	/* A get that is no JSON: a failure, not a key. */
	plant("garbage", "x");
	ctl_ok("/fault", "{\"target\":\"GetSecretValue\",\"status\":200,"
	    "\"body\":\"{not json\"}");
	code = generate("garbage", body, sizeof(body));
	cr_expect_eq(code, 502, "%ld %s", code, body);
	expect_no_secrets_logged();
}

/* Credentials the service refuses: a 502 with its code, and no secret
 * in the log; a session token is sent and signed; the shared
 * credentials file's profile. */
Test(aws, credentials)
{
	struct acfg	 c = { .creds = "      credentials:\n        accesskey: "
			    AKID "\n        secretkey: wrong-secret\n" };
	char		 body[BODYLEN], path[PATH_MAX + 16];
	json_t		*j, *e;
	size_t		 i;
	long		 code;

	need_root();
	ad_start(NULL);
	kw_start(&c);
	code = key("create", "c1", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "%ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "InvalidSignatureException"), 0,
	    "%s", tsrv_log_tail(&srv));
	cr_expect_eq(count_target("CreateSecret"), 1, "a refused signature "
	    "was retried");
	cr_expect_eq(tsrv_log_count(&srv, "wrong-secret"), 0);
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));

	c.creds = "      credentials:\n        accesskey: AKID2KEYWARDE2E0002\n"
	    "        secretkey: " SECRET "\n        token: " TOKEN "\n";
	ctl_ok("/requests/clear", "{}");
	kw_start(&c);
	code = key("create", "c2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "with a session token: %ld %s", code, body);
	j = ctl_json("/requests");
	json_array_foreach(json_object_get(j, "requests"), i, e)
		if (strcmp(jstr(e, "target"), "CreateSecret") == 0)
			cr_expect_not_null(strstr(hdr(e, "Authorization"),
			    "x-amz-date;x-amz-security-token;x-amz-target"));
	json_decref(j);
	expect_no_secrets_logged();
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));

	/* No keys configured: profile "kw" of the shared credentials
	 * file (its static keys; the default profile is not it). */
	FMT(path, "%s/credentials", ad.dir);
	cr_assert_eq(tsrv_write_file(path, "[default]\naws_access_key_id = "
	    "AKIDNOTTHISONE\naws_secret_access_key = nope\n\n[kw]\n"
	    "aws_access_key_id = " AKID "\naws_secret_access_key = " SECRET
	    "\n"), 0);
	setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
	setenv("AWS_PROFILE", "kw", 1);
	c.creds = "";
	kw_start(&c);
	code = key("create", "c3", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "shared credentials file: %ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * §1.3: no keys in the configuration: the environment's; then EC2's
 * instance metadata (IMDSv2: token, role, credentials) whose credentials
 * are renewed before they expire and fetched anew when the service
 * refuses them; then the container endpoint with its Authorization.
 */
Test(aws, credential_chain)
{
	struct acfg	 c = { .creds = "" };
	char		 body[BODYLEN], url[128];
	json_t		*j, *e, *a;
	size_t		 i;
	long		 code;
	int		 n = 0;

	need_root();
	ad_start(NULL);
	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	kw_start(&c);
	code = key("create", "e1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "environment: %ld %s", code, body);
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");

	/* IMDSv2, credentials valid for 6 s: renewed after 3 s. */
	unsetenv("AWS_EC2_METADATA_DISABLED");
	FMT(url, "http://127.0.0.1:%d/", mport);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", url, 1);
	ctl_ok("/knobs", "{\"creds_ttl\":6}");
	ctl_ok("/requests/clear", "{}");
	kw_start(&c);
	code = key("create", "i1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "IMDS: %ld %s", code, body);
	j = ctl_json("/requests");
	a = json_array();	/* without the status probes */
	json_array_foreach(json_object_get(j, "requests"), i, e)
		if (strcmp(jstr(e, "method"), "GET") != 0 ||
		    strcmp(jstr(e, "path"), "/") != 0)
			json_array_append(a, e);
	json_decref(j);
	j = a;
	cr_assert_geq(json_array_size(a), 4);
	e = json_array_get(a, 0);
	cr_expect_str_eq(jstr(e, "method"), "PUT");
	cr_expect_str_eq(jstr(e, "path"), "/latest/api/token");
	cr_expect_str_eq(hdr(e, "x-aws-ec2-metadata-token-ttl-seconds"),
	    "21600");
	e = json_array_get(a, 1);
	cr_expect_str_eq(jstr(e, "path"),
	    "/latest/meta-data/iam/security-credentials/");
	cr_expect_str_eq(hdr(e, "x-aws-ec2-metadata-token"), "<redacted>");
	e = json_array_get(a, 2);
	cr_expect_str_eq(jstr(e, "path"),
	    "/latest/meta-data/iam/security-credentials/keyward-role");
	e = json_array_get(a, 3);
	cr_expect_str_eq(jstr(e, "target"), "CreateSecret");
	cr_expect_str_eq(hdr(e, "X-Amz-Security-Token"), "<redacted>");
	json_decref(j);
	tsrv_sleep_ms(3500);
	code = key("create", "i2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "renewed: %ld %s", code, body);
	j = ctl_json("/state");
	cr_expect_eq(json_integer_value(json_object_get(json_object_get(j,
	    "counters"), "issued")), 2, "credentials fetched");
	json_decref(j);
	/* Refused (expired early): fetched anew, the call goes through. */
	ctl_ok("/knobs", "{\"creds_ttl\":3600}");
	code = key("create", "i3", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	ctl_ok("/identities/expire", "{}");
	code = key("create", "i4", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "after ExpiredTokenException: %ld %s", code,
	    body);
	j = ctl_json("/requests");
	json_array_foreach(json_object_get(j, "requests"), i, e)
		if (json_integer_value(json_object_get(e, "status")) == 400)
			n++;
	cr_expect_eq(n, 1, "one refused request");
	json_decref(j);
	expect_no_secrets_logged();
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));

	/* The container endpoint, which needs its Authorization. */
	unsetenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	FMT(url, "http://127.0.0.1:%d/container/creds", mport);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong", 1);
	kw_start(&c);
	code = key("create", "x1", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "refused by the container endpoint: %ld %s",
	    code, body);
	tsrv_cleanup(&srv);
	memset(&srv, 0, sizeof(srv));
	setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer ctr-e2e-token", 1);
	kw_start(&c);
	code = key("create", "x2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "container: %ld %s", code, body);
	cr_expect_eq(tsrv_log_count(&srv, "ctr-e2e-token"), 0);
	expect_no_secrets_logged();
}

/* A configuration keyward refuses: KES's required fields; a web
 * identity it does not support. */
Test(aws, config_errors)
{
	struct acfg c = { .raw = "      region: us-east-2\n" };

	need_root();
	kw_start_fails(&c, "keystore.aws.secretsmanager.endpoint: missing");
	c.raw = "      endpoint: 127.0.0.1:1\n";
	kw_start_fails(&c, "keystore.aws.secretsmanager.region: missing");
	c.raw = "      endpoint: 127.0.0.1:1\n      region: us-east-2\n";
	setenv("AWS_WEB_IDENTITY_TOKEN_FILE", "/nonexistent/token", 1);
	kw_start_fails(&c, "AWS_WEB_IDENTITY_TOKEN_FILE is set");
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
 * §1.7: status is an unsigned GET <endpoint>/; any answer is a reachable
 * store, nothing listening an unreachable one. A slow service call does
 * not hold up another key's.
 */
Test(aws, status_and_slow)
{
	const char *const names[] = { "slow", "quick", NULL };
	struct acfg	 c = { 0 };
	struct slow	 s = { 0 };
	pthread_t	 t;
	char		 body[BODYLEN];
	uint64_t	 t0;
	long		 code;

	need_root();
	ad_start(NULL);
	kw_start(&c);
	seed_keys(names);
	cr_expect(wait_status(true, 3000));
	ctl_ok("/fault", "{\"path\":\"/\",\"status\":500,\"count\":-1,"
	    "\"body\":\"down\"}");
	cr_expect(status_up(), "a 500 on GET / is a reachable store");
	ctl_ok("/faults/clear", "{}");

	ctl_ok("/fault", "{\"target\":\"GetSecretValue\",\"action\":\"delay\","
	    "\"delay_ms\":1500}");
	cr_assert_eq(pthread_create(&t, NULL, slow_get, &s), 0);
	tsrv_sleep_ms(300);
	t0 = tsrv_now_ms();
	code = generate("quick", body, sizeof(body));
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect_lt(tsrv_now_ms() - t0, 1000, "the quick key waited for the "
	    "slow one");
	pthread_join(t, NULL);
	cr_expect_eq(s.code, 200, "slow: %ld %s", s.code, s.body);

	kill(ad.pid, SIGTERM);
	waitpid(ad.pid, NULL, 0);
	ad.pid = 0;
	cr_expect(wait_status(false, 15000), "/v1/status did not say the "
	    "store is unreachable");
	code = key("create", "down", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "%ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * KES's documented AWS configuration (tests/data/kes-configs/accept-
 * head-aws.yml) as it is, pointed at the double (endpoint, TLS files,
 * address, the application's identity), the credentials from the
 * environment; then MinIO's start-up: generate on a
 * missing key (404), create, generate, decrypt.
 */
Test(aws, kes_example_and_minio_startup)
{
	char		 body[BODYLEN], req[BODYLEN], *text, *out, ep[64];
	json_t		*j;
	FILE		*f;
	long		 code, len;
	int		 n;

	need_root();
	ad_start(NULL);
	kw_init();
	cr_assert_not_null(f = fopen("tests/data/kes-configs/"
	    "accept-head-aws.yml", "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	out = calloc(1, (size_t)len + 4 * PATH_MAX);
	FMT(ep, "127.0.0.1:%d", ad.port);
	{
		const char *from[] = { "0.0.0.0:7373", "./server.key",
		    "./server.cert", APP_ID,
		    "secretsmanager.us-east-2.amazonaws.com" };
		char to[5][PATH_MAX + 32], *cur = text;
		size_t k;

		FMT(to[0], "127.0.0.1:%d", srv.port);
		FMT(to[1], "%s/server.key", srv.pki);
		FMT(to[2], "%s/server.crt", srv.pki);
		FMT(to[3], "%s", srv.id[TSRV_NOBODY]);
		FMT(to[4], "%s", ep);
		for (k = 0; k < 5; k++) {
			char *at = strstr(cur, from[k]);

			cr_assert_not_null(at, "%s not in the example",
			    from[k]);
			strncat(out, cur, (size_t)(at - cur));
			strcat(out, to[k]);
			cur = at + strlen(from[k]);
		}
		strcat(out, cur);
	}
	cr_assert_eq(tsrv_write_file(srv.config, out), 0);
	free(text);
	free(out);
	setenv("AWS_ACCESS_KEY_ID", AKID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	n = tsrv_log_count(&srv, "serving on");
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", n + 1, READY_MS), 0,
	    "the example did not start; log:\n%s", tsrv_log_tail(&srv));

	code = key_as(TSRV_NOBODY, "generate", "my-key", "{}", body,
	    sizeof(body));
	cr_expect_eq(code, 404, "generate before create: %ld %s", code, body);
	code = key_as(TSRV_NOBODY, "create", "my-key", NULL, body,
	    sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = key_as(TSRV_NOBODY, "generate", "my-key", "{}", body,
	    sizeof(body));
	cr_assert_eq(code, 200, "generate: %ld %s", code, body);
	cr_assert_not_null(j = json_loads(body, 0, NULL), "%s", body);
	FMT(req, "{\"ciphertext\":\"%s\"}", jstr(j, "ciphertext"));
	code = key_as(TSRV_NOBODY, "decrypt", "my-key", req, body,
	    sizeof(body));
	cr_expect_eq(code, 200, "decrypt: %ld %s", code, body);
	cr_expect_not_null(strstr(body, jstr(j, "plaintext")), "%s", body);
	json_decref(j);
	code = key_as(TSRV_NOBODY, "delete", "my-key", NULL, body,
	    sizeof(body));
	cr_expect_eq(code, 403, "the policy allows no delete: %ld", code);
	cr_expect_eq(count_target("CreateSecret"), 1);
	expect_no_secrets_logged();
}
