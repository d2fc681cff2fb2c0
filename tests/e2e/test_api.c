/*
 * End-to-end conformance of the HTTP API against the KES wire contract
 * (/work/shared/spec/kes-compat.md, "spec" below), byte for byte where
 * the spec gives bytes. The real server runs with privsep and the sandbox
 * on; clients talk real mTLS through libcurl (tests/lib/testsrv.c). Each
 * Test starts one server for its group of checks and uses cr_expect, so
 * one run reports every divergence of the group.
 *
 * The standard server (start_std): default tls.auth (any certificate, no
 * chain check, spec 1.1), policies "status", "app" (allow/deny patterns)
 * and "apikey" (an Ed25519 client certificate made from a kes:v1: API key,
 * spec 4.4), declarative keys decl-1 and decl-2, and an api: timeout
 * override for /v1/metrics.
 *
 * Covered:
 *  system_routes     /version, /v1/ready, /v1/status (fields, order,
 *                    units), /v1/metrics (Content-Type, every kes_ family
 *                    of spec 10.1), /v1/api (all 22 routes, max_body,
 *                    timeout, the api: override); response framing:
 *                    JSON = application/json + trailing "\n" + exact
 *                    Content-Length, empty = 200, Content-Length: 0, no
 *                    Content-Type.
 *  key_routes        create (PUT, POST), import, describe, list (prefix,
 *                    "*", ""), delete, generate, encrypt, decrypt, hmac;
 *                    exact response bodies; a DEK and an encrypt result
 *                    opened independently with OpenSSL under an imported
 *                    key (spec 5.2, 5.3); Go JSON decoding rules (keys
 *                    case-insensitive, unknown keys ignored, first value
 *                    only, null, "\r\n" inside base64).
 *  policy_identity   policy describe/read/list, identity describe/list,
 *                    self-describe for the admin, a policy identity and the
 *                    API-key identity (keyward fixes KES's 404 bug).
 *  error_catalogue   every error of spec 2.3 keyward can produce, with
 *                    status, Content-Type and exact body; 403 before 400;
 *                    two leaf certificates in the client chain; Go's
 *                    escaping of <, >, &, " and \ in messages.
 *  legacy_json_key   a KES <= 2024-01 key file {"bytes":...} put into the
 *                    store: 409 for HMAC, describe with created_at zero,
 *                    DEKs that open with its bytes.
 *  keystore_failures 502/504 of spec 2.3 with the store made unusable.
 *  methods           405 + Accept for every route, PUT routes take POST,
 *                    the DELETE route, HEAD (no body on the wire),
 *                    OPTIONS, unknown methods; method before auth.
 *  routing           301 for every subtree root without its slash (query
 *                    kept, Go's HTML body), Go's 404 for unknown paths,
 *                    301 to the cleaned path for non-canonical paths.
 *  body_limits       1 MB max_body: 1,000,001 bytes refused, exactly
 *                    1,000,000 accepted; chunked bodies; the order method
 *                    -> auth -> body of spec 1.4.
 *  authorization     admin, unknown identity, deny over allow, prefix
 *                    patterns, the kes:v1: API-key identity computed
 *                    independently, no certificate (handshake refused).
 *  skip_auth         api: /v1/status: skip_auth lets a client without a
 *                    certificate, or an unknown one, read /v1/status; the
 *                    other routes still answer 400 / 403.
 *  bad_input         malformed JSON, wrong types, missing fields, bad and
 *                    unpadded base64, invalid names (.., /, %2F, %00, 81
 *                    bytes, -a, _), ciphertext regions truncated and
 *                    bit-flipped, wrong context, wrong key; each with the
 *                    spec's status and the key store unchanged.
 *  legacy_ciphertexts the JSON and msgpack ciphertext forms of spec 5.4
 *                    (both algorithm-name generations, with and without a
 *                    key id), built from the server's raw output, decrypt;
 *                    tampered or malformed ones are 400, and the crypto
 *                    process survives them.
 *  declarative_keys  keys: from the configuration exist after start,
 *                    created_by = admin identity; not recreated by a
 *                    reload or a restart.
 *  minio_session     the calls MinIO makes (spec 8.4) as an identity with
 *                    the policy of spec 4.3: generate on a missing default
 *                    key (exact 404), create, generate/decrypt with the
 *                    startup, readiness and key-status contexts, describe
 *                    repeated, list (and its 301), HMAC by PUT without a
 *                    Content-Type.
 *  log_streams       /v1/log/audit and /v1/log/error stream events as
 *                    they happen (identity, path, code; no DEK,
 *                    ciphertext or request body in audit events);
 *                    kes_log_audit_events counts them.
 *
 * Needs root (the children drop to user keyward); skipped otherwise.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/buf.h"
#include "common/json_out.h"
#include "tests/lib/testsrv.h"

#define READY_MS	10000
#define MB		1000000		/* spec 3.1: aead.dev/mem's MB */

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "buffer too small")

static struct testsrv	srv;
static struct tsrv_cert	app;		/* policy "app" */
static struct tsrv_cert	apik;		/* policy "apikey", from apikey */
static struct tsrv_cert	minio;		/* policy "minio" (minio_session) */
static char		apikey[TSRV_APIKEYLEN + 1];

/* Clients beyond testsrv's enum. */
enum {
	WHO_APP = TSRV_NCLIENTS,
	WHO_APIKEY,
	WHO_MINIO,
	WHO_NOCERT,		/* no client certificate at all */
	WHO_TWOLEAF,		/* app's leaf followed by another leaf */
	WHO_LEAFCA,		/* app's leaf followed by the CA */
};
static char twoleaf[PATH_MAX], leafca[PATH_MAX];

static void
teardown(void)
{
	tsrv_cleanup(&srv);
}

TestSuite(api, .fini = teardown, .timeout = 60);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the API tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
}

/* --- requests ------------------------------------------------------------ */

/*
 * One request as client `who`; r is freed first (zero it once). body:
 * NULL for none. method NULL: POST with a body, GET without.
 */
static long
rqx(struct tsrv_resp *r, int who, const char *method, const char *path,
    const void *body, size_t len, const char *const *headers)
{
	struct tsrv_req o = {
		.method = method, .body = body, .body_len = len,
		.headers = headers, .timeout_ms = 15000,
	};

	tsrv_resp_free(r);
	switch (who) {
	case WHO_APP:
		o.cert = app.cert;
		o.key = app.key;
		break;
	case WHO_APIKEY:
		o.cert = apik.cert;
		o.key = apik.key;
		break;
	case WHO_MINIO:
		o.cert = minio.cert;
		o.key = minio.key;
		break;
	case WHO_NOCERT:
		o.no_cert = true;
		break;
	case WHO_TWOLEAF:
		o.cert = twoleaf;
		o.key = app.key;
		break;
	case WHO_LEAFCA:
		o.cert = leafca;
		o.key = app.key;
		break;
	}
	return tsrv_request(&srv, who < TSRV_NCLIENTS ? who : TSRV_ADMIN,
	    path, &o, r);
}

static long
rq(struct tsrv_resp *r, int who, const char *method, const char *path,
    const char *body)
{
	return rqx(r, who, method, path, body, body ? strlen(body) : 0, NULL);
}

/* A header's value ("" when absent), in the caller's buffer. */
static const char *
hdr(const struct tsrv_resp *r, const char *name, char *buf, size_t len)
{
	(void)tsrv_resp_header(r, name, buf, len);
	return buf;
}

/* --- expectations -------------------------------------------------------- */

static bool
expect_status(const struct tsrv_resp *r, long want, const char *what)
{
	cr_expect_eq(r->status, want, "%s: status %ld, want %ld; body: "
	    "%.400s%s%s", what, r->status, want, r->body,
	    r->status == -1 ? " " : "", r->status == -1 ? r->err : "");
	return r->status == want;
}

/*
 * s as Go's encoding/json writes a string (HTML-safe, spec 1.4), by the
 * tree's one escaper: tests/unit/test_json_out.c holds that to bytes Go
 * wrote, so the expectation does not rest on the code it checks.
 */
static void
go_json_str(const char *s, char *out, size_t len)
{
	struct buf b;

	buf_init(&b, len - 1);
	cr_assert_eq(json_str(&b, s), 0, "escaped string too long");
	memcpy(out, b.data, b.len);
	out[b.len] = '\0';
	buf_release(&b);
}

/* Content-Length present once and equal to the bytes received. */
static void
expect_length(const struct tsrv_resp *r, const char *what)
{
	char	cl[64];
	int	n = tsrv_resp_header(r, "Content-Length", cl, sizeof(cl));

	cr_expect_eq(n, 1, "%s: %d Content-Length headers, want 1; head:\n%s",
	    what, n, r->head);
	cr_expect(n != 1 || strtoull(cl, NULL, 10) == r->len,
	    "%s: Content-Length %s but %zu body bytes", what, cl, r->len);
}

/* The exact bytes of a body. */
static void
expect_body(const struct tsrv_resp *r, const char *want, const char *what)
{
	cr_expect(r->len == strlen(want) && memcmp(r->body, want, r->len) == 0,
	    "%s: body\n  got  [%zu] \"%.600s\"\n  want [%zu] \"%.600s\"",
	    what, r->len, r->body, strlen(want), want);
}

/* KES's error response (spec 2.1): {"message":<msg>\n}, JSON. */
static void
expect_error(const struct tsrv_resp *r, long status, const char *msg,
    const char *what)
{
	char	want[8192], q[8000], ct[128];

	go_json_str(msg, q, sizeof(q));
	snprintf(want, sizeof(want), "{\"message\":%s\n}", q);
	expect_status(r, status, what);
	cr_expect_str_eq(hdr(r, "Content-Type", ct, sizeof(ct)),
	    "application/json", "%s: Content-Type \"%s\"", what, ct);
	expect_body(r, want, what);
	expect_length(r, what);
}

/* An empty success (spec 1.4): 200, Content-Length: 0, no Content-Type. */
static void
expect_empty(const struct tsrv_resp *r, const char *what)
{
	char	cl[64], ct[128];

	expect_status(r, 200, what);
	cr_expect_eq(tsrv_resp_header(r, "Content-Length", cl, sizeof(cl)), 1,
	    "%s: no Content-Length; head:\n%s", what, r->head);
	cr_expect_str_eq(cl, "0", "%s: Content-Length \"%s\"", what, cl);
	cr_expect_eq(tsrv_resp_header(r, "Content-Type", ct, sizeof(ct)), 0,
	    "%s: Content-Type \"%s\" on an empty answer", what, ct);
	cr_expect_eq(r->len, 0, "%s: %zu body bytes: %.200s", what, r->len,
	    r->body);
}

/*
 * A JSON answer (spec 1.4): status, Content-Type application/json, one
 * value followed by "\n", exact Content-Length. The parsed value, or NULL.
 */
static json_t *
expect_json(const struct tsrv_resp *r, long status, const char *what)
{
	json_error_t	 jerr;
	json_t		*j;
	char		 ct[128];

	if (!expect_status(r, status, what))
		return NULL;
	cr_expect_str_eq(hdr(r, "Content-Type", ct, sizeof(ct)),
	    "application/json", "%s: Content-Type \"%s\"", what, ct);
	expect_length(r, what);
	cr_expect(r->len >= 2 && r->body[r->len - 1] == '\n' &&
	    r->body[r->len - 2] != '\n', "%s: the JSON does not end with one "
	    "\"\\n\": \"%.400s\"", what, r->body);
	j = json_loadb(r->body, r->len, 0, &jerr);
	cr_expect_not_null(j, "%s: not JSON (%s): %.400s", what, jerr.text,
	    r->body);
	return j;
}

/* expect_json() when the value itself is not needed. */
static bool
json_ok(const struct tsrv_resp *r, long status, const char *what)
{
	json_t *j = expect_json(r, status, what);

	json_decref(j);
	return j != NULL;
}

static const char *
jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return s ? s : "";
}

/*
 * The object's keys are exactly the NULL-terminated list, in that order
 * (Go writes struct fields in declaration order, spec 1.4).
 */
static void
expect_keys(const struct tsrv_resp *r, json_t *o, const char *what, ...)
{
	va_list		 ap;
	const char	*k, *at = r->body;
	char		 pat[128];
	size_t		 n = 0;

	if (!json_is_object(o)) {
		cr_expect_fail("%s: not an object: %.300s", what, r->body);
		return;
	}
	va_start(ap, what);
	while ((k = va_arg(ap, const char *)) != NULL) {
		n++;
		snprintf(pat, sizeof(pat), "\"%s\":", k);
		cr_expect_not_null(json_object_get(o, k), "%s: no \"%s\" in "
		    "%.400s", what, k, r->body);
		if (at != NULL && (at = strstr(at, pat)) == NULL)
			cr_expect_fail("%s: \"%s\" out of order in %.400s",
			    what, k, r->body);
	}
	va_end(ap);
	cr_expect_eq(json_object_size(o), n, "%s: %zu fields, want %zu: "
	    "%.400s", what, json_object_size(o), n, r->body);
}

/* --- values -------------------------------------------------------------- */

/* Padded standard base64; -1 if s is not that. */
static long
b64dec(const char *s, uint8_t *out, size_t cap)
{
	size_t	len = strlen(s), pad = 0;
	uint8_t	*tmp;
	int	n;

	if (len % 4 != 0 || strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijkl"
	    "mnopqrstuvwxyz0123456789+/=") != len)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	if (strchr(s, '=') != NULL && strchr(s, '=') < s + len - pad)
		return -1;
	if (len / 4 * 3 > cap + 2 || (tmp = malloc(len / 4 * 3 + 1)) == NULL)
		return -1;
	n = EVP_DecodeBlock(tmp, (const unsigned char *)s, (int)len);
	if (n < 0 || (size_t)n - pad > cap) {
		free(tmp);
		return -1;
	}
	memcpy(out, tmp, n - pad);
	free(tmp);
	return (long)(n - pad);
}

/* Padded standard base64 of p[0, n), malloc'ed. */
static char *
b64enc(const void *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);

	cr_assert_not_null(s);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	return s;
}

/*
 * A Go time.Time in RFC 3339 with nanoseconds trimmed (spec 1.4), UTC:
 * "2006-01-02T15:04:05[.fraction]Z", the fraction without trailing zeros.
 * Its Unix time, or -1.
 */
static long long
go_time(const char *s)
{
	struct tm	tm;
	const char	*p;
	size_t		n;

	memset(&tm, 0, sizeof(tm));
	if (strlen(s) < 20 || (p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) ==
	    NULL || p != s + 19)
		return -1;
	if (*p == '.') {
		n = strspn(p + 1, "0123456789");
		if (n < 1 || n > 9 || p[n] == '0')
			return -1;
		p += 1 + n;
	}
	if (strcmp(p, "Z") != 0)
		return -1;
	return (long long)timegm(&tm);
}

static void
expect_recent_time(const char *t, const char *what)
{
	long long	at = go_time(t), now = (long long)time(NULL);

	cr_expect(at >= 0, "%s: \"%s\" is not Go's RFC 3339 (nanoseconds "
	    "trimmed, UTC Z)", what, t);
	cr_expect(at < 0 || (at <= now + 1 && at >= now - 120),
	    "%s: \"%s\" is not within the last two minutes", what, t);
}

/* The crypto process never died (a SIGSYS from the sandbox, say). */
static void
expect_crypto_alive(const char *what)
{
	cr_expect_eq(tsrv_log_count(&srv, "crypto killed"), 0, "the crypto "
	    "process died on %s; log:\n%s", what, tsrv_log_tail(&srv));
}

/* The store's file names before a check, to compare after. */
static void
store(char *out, size_t len)
{
	cr_assert_eq(tsrv_list_store(&srv, out, len), 0, "cannot list %s: %s",
	    srv.keys, strerror(errno));
}

/* --- servers ------------------------------------------------------------- */

static void
start(const struct tsrv_cfg *cfg)
{
	if (getenv("KEYWARD_TEST_KEEP") != NULL)
		cr_log_info("test directory: %s", srv.dir);
	cr_assert_eq(tsrv_write_config(&srv, cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the server did not log \"serving on\" within %d s; log:\n%s",
	    READY_MS / 1000, tsrv_log_tail(&srv));
}

static void
init_clients(void)
{
	char cmd[4 * PATH_MAX];

	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup (server binary, "
	    "PKI, temporary directory, port) failed: %s; build the server "
	    "first (`make`)", strerror(errno));
	cr_assert_eq(tsrv_make_client(&srv, "app", &app), 0,
	    "cannot make the client certificate \"app\"; see %s/pki.log",
	    srv.pki);
	cr_assert_eq(tsrv_make_apikey_client(&srv, "apik", NULL, apikey,
	    &apik), 0, "cannot make the API-key client; see %s/pki.log",
	    srv.pki);
	FMT(twoleaf, "%s/twoleaf.crt", srv.pki);
	FMT(leafca, "%s/leafca.crt", srv.pki);
	FMT(cmd, "cat '%s' '%s' > '%s' && cat '%s' '%s' > '%s'", app.cert,
	    srv.cert[TSRV_NOBODY], twoleaf, app.cert, srv.ca, leafca);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

/* The policies of the standard server; patterns deliberately unsorted. */
static const char *
std_policies(void)
{
	static char text[4096];

	FMT(text,
	    "  app:\n"
	    "    allow:\n"
	    "      - /v1/key/create/app-*\n"
	    "      - /v1/key/generate/app-*\n"
	    "      - /v1/key/decrypt/app-*\n"
	    "      - /v1/key/describe/*\n"
	    "      - /v1/key/list/*\n"
	    "    deny:\n"
	    "      - /v1/key/generate/app-denied\n"
	    "      - /v1/key/describe/app-secret*\n"
	    "    identities:\n"
	    "      - %s\n"
	    "  apikey:\n"
	    "    allow:\n"
	    "      - /v1/key/*\n"
	    "    deny:\n"
	    "      - /v1/key/delete/*\n"
	    "    identities:\n"
	    "      - %s\n", app.id, apik.id);
	return text;
}

#define STD_EXTRA \
	"api:\n" \
	"  /v1/metrics:\n" \
	"    timeout: 7s\n" \
	"keys:\n" \
	"  - name: decl-1\n" \
	"  - name: decl-2\n"

/* The standard server; more: further policy entries (NULL: none). */
static void
start_std_with(const char *more)
{
	struct tsrv_cfg	 cfg = { .tls_auth = "", .extra = STD_EXTRA };
	static char	 policies[8192];

	FMT(policies, "%s%s", std_policies(), more ? more : "");
	cfg.policies = policies;
	start(&cfg);
	/* keyward creates them right after it starts serving. */
	cr_assert_eq(tsrv_wait_log(&srv, "created key 'decl-2'", 1, 5000), 0,
	    "the declarative keys were not created; log:\n%s",
	    tsrv_log_tail(&srv));
}

static void
start_std(void)
{
	need_root();
	init_clients();
	start_std_with(NULL);
}

/* --- 1. system routes ---------------------------------------------------- */

/* Spec 3.1 with the standard server's api: override (/v1/metrics 7 s). */
static const char *const api_table[] = {
	"{\"method\":\"GET\",\"path\":\"/version\""
	    ",\"max_body\":0,\"timeout\":10}",
	"{\"method\":\"GET\",\"path\":\"/v1/ready\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/status\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/metrics\""
	    ",\"max_body\":0,\"timeout\":7}",
	"{\"method\":\"GET\",\"path\":\"/v1/api\""
	    ",\"max_body\":0,\"timeout\":10}",
	"{\"method\":\"PUT\",\"path\":\"/v1/key/create/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"PUT\",\"path\":\"/v1/key/import/\""
	    ",\"max_body\":1000000,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/key/describe/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/key/list/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"DELETE\",\"path\":\"/v1/key/delete/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"PUT\",\"path\":\"/v1/key/generate/\""
	    ",\"max_body\":1000000,\"timeout\":15}",
	"{\"method\":\"PUT\",\"path\":\"/v1/key/encrypt/\""
	    ",\"max_body\":1000000,\"timeout\":15}",
	"{\"method\":\"PUT\",\"path\":\"/v1/key/decrypt/\""
	    ",\"max_body\":1000000,\"timeout\":15}",
	"{\"method\":\"PUT\",\"path\":\"/v1/key/hmac/\""
	    ",\"max_body\":1000000,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/policy/describe/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/policy/read/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/policy/list/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/identity/describe/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/identity/list/\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/identity/self/describe\""
	    ",\"max_body\":0,\"timeout\":15}",
	"{\"method\":\"GET\",\"path\":\"/v1/log/error\""
	    ",\"max_body\":0,\"timeout\":0}",
	"{\"method\":\"GET\",\"path\":\"/v1/log/audit\""
	    ",\"max_body\":0,\"timeout\":0}",
};
#define NAPI	(sizeof(api_table) / sizeof(api_table[0]))

/* Spec 10.1: every family and its type. */
static const char *const metric_types[][2] = {
	{ "kes_http_request_success", "counter" },
	{ "kes_http_request_error", "counter" },
	{ "kes_http_request_active", "gauge" },
	{ "kes_http_response_time", "histogram" },
	{ "kes_log_error_events", "counter" },
	{ "kes_log_audit_events", "counter" },
	{ "kes_system_up_time", "gauge" },
	{ "kes_system_num_cpu", "gauge" },
	{ "kes_system_num_cpu_used", "gauge" },
	{ "kes_system_num_threads", "gauge" },
	{ "kes_system_mem_heap_used", "gauge" },
	{ "kes_system_mem_heap_objects", "gauge" },
	{ "kes_system_mem_stack_used", "gauge" },
};

/* A line of the exposition that starts with `start`. */
static bool
has_line(const char *text, const char *start)
{
	const char	*p = text;
	size_t		 n = strlen(start);

	for (;;) {
		if (strncmp(p, start, n) == 0)
			return true;
		if ((p = strchr(p, '\n')) == NULL)
			return false;
		p++;
	}
}

Test(api, system_routes)
{
	struct tsrv_resp r = { 0 };
	json_t		*j, *v;
	char		 version[256] = "", want[1024], line[256], ct[128];
	const char	*le[] = { "0.01", "0.05", "0.1", "0.25", "0.5", "1",
			    "1.5", "3", "5", "10", "+Inf" };
	uint64_t	 t0 = tsrv_now_ms();
	long		 ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t		 i, k;

	start_std();

	/* /version: {"version","commit"}; needs no policy (spec 3.1 N). */
	rq(&r, TSRV_NOBODY, NULL, "/version", NULL);
	if ((j = expect_json(&r, 200, "GET /version")) != NULL) {
		expect_keys(&r, j, "/version", "version", "commit", NULL);
		snprintf(version, sizeof(version), "%s", jstr(j, "version"));
		cr_expect_neq(version[0], '\0', "/version: empty version");
		json_decref(j);
	}

	rq(&r, TSRV_ADMIN, NULL, "/v1/ready", NULL);
	expect_empty(&r, "GET /v1/ready");

	/* /v1/status: spec 3.2, field order of StatusResponse, units. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/status", NULL);
	if ((j = expect_json(&r, 200, "GET /v1/status")) != NULL) {
		expect_keys(&r, j, "/v1/status", "version", "os", "arch",
		    "uptime", "num_cpu", "num_cpu_used", "mem_heap_used",
		    "mem_stack_used", "keystore_latency", NULL);
		cr_expect_str_eq(jstr(j, "version"), version,
		    "/v1/status version differs from /version");
		cr_expect_str_eq(jstr(j, "os"), "linux");
#if defined(__x86_64__)
		cr_expect_str_eq(jstr(j, "arch"), "amd64");
#endif
		v = json_object_get(j, "uptime");
		cr_expect(json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= (json_int_t)((tsrv_now_ms() - t0)
		    / 1000 + 2), "uptime must be whole seconds since the "
		    "start: %s", r.body);
		v = json_object_get(j, "num_cpu");
		cr_expect(json_is_integer(v) && json_integer_value(v) == ncpu,
		    "num_cpu, want %ld: %s", ncpu, r.body);
		v = json_object_get(j, "num_cpu_used");
		cr_expect(json_is_integer(v) && json_integer_value(v) >= 1 &&
		    json_integer_value(v) <= ncpu, "num_cpu_used: %s", r.body);
		cr_expect(json_is_integer(json_object_get(j, "mem_heap_used")) &&
		    json_integer_value(json_object_get(j, "mem_heap_used")) >=
		    0, "mem_heap_used: %s", r.body);
		cr_expect(json_is_integer(json_object_get(j, "mem_stack_used")),
		    "mem_stack_used: %s", r.body);
		/* Milliseconds, at least 1 when reachable. */
		v = json_object_get(j, "keystore_latency");
		cr_expect(json_is_integer(v) && json_integer_value(v) >= 1 &&
		    json_integer_value(v) < 5000, "keystore_latency (ms, "
		    ">= 1): %s", r.body);
		json_decref(j);
	}

	/* A 2xx and a 4xx from counted key routes, for the code labels. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/metric-k", NULL);
	expect_empty(&r, "create metric-k");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/metric-missing", NULL);
	expect_status(&r, 404, "describe a missing key");

	rq(&r, TSRV_ADMIN, NULL, "/v1/metrics", NULL);
	if (expect_status(&r, 200, "GET /v1/metrics")) {
		cr_expect_str_eq(hdr(&r, "Content-Type", ct, sizeof(ct)),
		    "text/plain; version=0.0.4; charset=utf-8",
		    "/v1/metrics Content-Type (spec 10.1)");
		expect_length(&r, "/v1/metrics");
		for (i = 0; i < sizeof(metric_types) /
		    sizeof(metric_types[0]); i++) {
			FMT(line, "# TYPE %s %s\n", metric_types[i][0],
			    metric_types[i][1]);
			cr_expect(has_line(r.body, line), "/v1/metrics: no "
			    "\"%.*s\"", (int)strlen(line) - 1, line);
			FMT(line, "# HELP %s ", metric_types[i][0]);
			cr_expect(has_line(r.body, line), "/v1/metrics: no "
			    "\"%s\"", line);
		}
		for (i = 0; i < sizeof(le) / sizeof(le[0]); i++) {
			FMT(line, "kes_http_response_time_bucket{le=\"%s\"} ",
			    le[i]);
			cr_expect(has_line(r.body, line), "/v1/metrics: no "
			    "bucket %s", le[i]);
		}
		cr_expect(has_line(r.body, "kes_http_response_time_sum "));
		cr_expect(has_line(r.body, "kes_http_response_time_count "));
		cr_expect(has_line(r.body,
		    "kes_http_request_success{code=\"200\"} "),
		    "/v1/metrics: no success sample for code 200:\n%s", r.body);
		cr_expect(has_line(r.body,
		    "kes_http_request_error{code=\"404\"} "),
		    "/v1/metrics: no error sample for code 404:\n%s", r.body);
		cr_expect(has_line(r.body, "kes_system_num_cpu "));
		cr_expect(has_line(r.body, "kes_system_up_time "));
	}

	/* /v1/api: every route, in any order (KES iterates a map). */
	rq(&r, TSRV_ADMIN, NULL, "/v1/api", NULL);
	if ((j = expect_json(&r, 200, "GET /v1/api")) != NULL) {
		cr_expect(json_is_array(j) && json_array_size(j) == NAPI,
		    "/v1/api: want an array of %zu routes: %s", NAPI, r.body);
		for (i = 0; i < NAPI; i++)
			cr_expect_not_null(strstr(r.body, api_table[i]),
			    "/v1/api: no %s in %s", api_table[i], r.body);
		for (i = 0; i < json_array_size(j); i++) {
			v = json_array_get(j, i);
			cr_expect_eq(json_object_size(v), 4, "/v1/api element "
			    "%zu has other fields", i);
			FMT(want, "\"path\":\"%s\",", jstr(v, "path"));
			for (k = 0; k < NAPI; k++)
				if (strstr(api_table[k], want) != NULL)
					break;
			cr_expect_lt(k, NAPI, "/v1/api lists an unknown route "
			    "%s", jstr(v, "path"));
		}
		json_decref(j);
	}
	tsrv_resp_free(&r);
}

/* --- 2. key routes ------------------------------------------------------- */

/*
 * Open a raw KES ciphertext (spec 5.3: sealed || iv(16) || nonce(12)) under
 * an AES256 key, as spec 5.2 says: k' = HMAC-SHA256(K, iv), AES-256-GCM
 * with the nonce and the context as AAD. The plaintext length, or -1.
 */
static long
open_aes256(const uint8_t key[32], const uint8_t *ct, size_t n,
    const uint8_t *aad, size_t aadlen, uint8_t *pt)
{
	const uint8_t	*iv, *nonce;
	uint8_t		 dk[32];
	unsigned int	 dklen = sizeof(dk);
	EVP_CIPHER_CTX	*x;
	size_t		 slen;
	int		 len, fin, ok;

	if (n < 28 + 16)
		return -1;
	iv = ct + n - 28;
	nonce = ct + n - 12;
	slen = n - 28 - 16;
	if (HMAC(EVP_sha256(), key, 32, iv, 16, dk, &dklen) == NULL ||
	    (x = EVP_CIPHER_CTX_new()) == NULL)
		return -1;
	ok = EVP_DecryptInit_ex(x, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, 12, NULL) == 1 &&
	    EVP_DecryptInit_ex(x, NULL, NULL, dk, nonce) == 1 &&
	    (aadlen == 0 || EVP_DecryptUpdate(x, NULL, &len, aad,
	    (int)aadlen) == 1) &&
	    EVP_DecryptUpdate(x, pt, &len, ct, (int)slen) == 1 &&
	    EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, 16,
	    (void *)(ct + slen)) == 1 &&
	    EVP_DecryptFinal_ex(x, pt + len, &fin) == 1;
	EVP_CIPHER_CTX_free(x);
	OPENSSL_cleanse(dk, sizeof(dk));
	return ok ? (long)(len + fin) : -1;
}

/* A field of a JSON answer, base64-decoded; its length or -1. */
static long
field_bytes(const struct tsrv_resp *r, const char *field, uint8_t *out,
    size_t cap)
{
	json_error_t	 jerr;
	json_t		*j;
	long		 n = -1;

	if ((j = json_loadb(r->body, r->len, 0, &jerr)) != NULL) {
		n = b64dec(jstr(j, field), out, cap);
		json_decref(j);
	}
	return n;
}

/* The string field of a JSON answer into out ("" if none). */
static void
field_str(const struct tsrv_resp *r, const char *field, char *out,
    size_t len)
{
	json_error_t	 jerr;
	json_t		*j;

	out[0] = '\0';
	if ((j = json_loadb(r->body, r->len, 0, &jerr)) != NULL) {
		snprintf(out, len, "%s", jstr(j, field));
		json_decref(j);
	}
}

/* describe: {"name","algorithm","created_at","created_by"} exactly. */
static void
expect_describe(struct tsrv_resp *r, int who, const char *name,
    const char *by, char *created, size_t clen, const char *what)
{
	char	path[256], want[1024], at[128];
	json_t	*j;

	FMT(path, "/v1/key/describe/%s", name);
	rq(r, who, NULL, path, NULL);
	if ((j = expect_json(r, 200, what)) == NULL)
		return;
	snprintf(at, sizeof(at), "%s", jstr(j, "created_at"));
	json_decref(j);
	expect_recent_time(at, what);
	/* The CPU has AES: KES picks AES256 (spec 3.3). */
	FMT(want, "{\"name\":\"%s\",\"algorithm\":\"AES256-GCM_SHA256\",\"created_at\":"
	    "\"%s\",\"created_by\":\"%s\"}\n", name, at, by);
	expect_body(r, want, what);
	if (created != NULL)
		snprintf(created, clen, "%s", at);
}

Test(api, key_routes)
{
	struct tsrv_resp r = { 0 };
	uint8_t		 key[32], dek[64], ct[256], pt[256], mac1[64],
			 mac2[64];
	char		 body[1024], want[1024], at1[128], at2[128], *b64,
			 *ctx, *ct64, *dek64;
	const char	*ctxs = "{\"bucket\":\"bucket/object\"}";
	long		 n, m;
	json_t		*j;

	start_std();

	/* create: PUT and POST (spec 1.4: PUT routes take POST). */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/k-put", NULL);
	expect_empty(&r, "PUT /v1/key/create/k-put");
	rq(&r, TSRV_ADMIN, "POST", "/v1/key/create/k-post", NULL);
	expect_empty(&r, "POST /v1/key/create/k-post");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/create/k-empty", "");
	expect_empty(&r, "POST /v1/key/create/k-empty with an empty body");
	expect_describe(&r, TSRV_ADMIN, "k-put", srv.id[TSRV_ADMIN], at1,
	    sizeof(at1), "describe k-put");
	expect_describe(&r, TSRV_ADMIN, "k-put", srv.id[TSRV_ADMIN], at2,
	    sizeof(at2), "describe k-put again");
	cr_expect_str_eq(at1, at2, "created_at changed between describes");

	/* import: {"key","cipher"}; AES256 with a key we know. */
	cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
	b64 = b64enc(key, sizeof(key));
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"AES256\"}", b64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/import/imp-aes", body);
	expect_empty(&r, "import imp-aes");
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"AES256-GCM_SHA256\"}", b64);
	rq(&r, TSRV_ADMIN, "POST", "/v1/key/import/imp-aes2", body);
	expect_empty(&r, "import AES256-GCM_SHA256");
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"ChaCha20\"}", b64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/import/imp-chacha", body);
	expect_empty(&r, "import ChaCha20");
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"XCHACHA20-POLY1305\"}", b64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/import/imp-xchacha", body);
	expect_empty(&r, "import XCHACHA20-POLY1305");
	expect_describe(&r, TSRV_ADMIN, "imp-aes", srv.id[TSRV_ADMIN], NULL, 0,
	    "describe imp-aes");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/imp-chacha", NULL);
	if ((j = expect_json(&r, 200, "describe imp-chacha")) != NULL) {
		FMT(want, "{\"name\":\"imp-chacha\",\"algorithm\":\"XCHACHA20-POLY1305\","
		    "\"created_at\":\"%s\",\"created_by\":\"%s\"}\n",
		    jstr(j, "created_at"), srv.id[TSRV_ADMIN]);
		expect_body(&r, want, "describe imp-chacha");
		json_decref(j);
	}
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/imp-xchacha", NULL);
	cr_expect_not_null(strstr(r.body, "\"algorithm\":\"XCHACHA20-POLY1305\""),
	    "XCHACHA20-POLY1305 import must describe as XCHACHA20-POLY1305: %s", r.body);

	/* generate: {"plaintext","ciphertext"}; 32-byte DEK, 76 bytes. */
	ctx = b64enc(ctxs, strlen(ctxs));
	FMT(body, "{\"context\":\"%s\"}", ctx);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/generate/imp-aes", body);
	if ((j = expect_json(&r, 200, "generate imp-aes")) != NULL) {
		expect_keys(&r, j, "generate", "plaintext", "ciphertext",
		    NULL);
		json_decref(j);
	}
	n = field_bytes(&r, "plaintext", dek, sizeof(dek));
	m = field_bytes(&r, "ciphertext", ct, sizeof(ct));
	cr_expect_eq(n, 32, "DEK length %ld: %s", n, r.body);
	cr_expect_eq(m, 32 + 16 + 28, "ciphertext length %ld (spec 5.3)", m);
	if (n == 32 && m == 76) {
		/* Spec 5.2/5.3, computed here with OpenSSL. */
		cr_expect_eq(open_aes256(key, ct, m, (const uint8_t *)ctxs,
		    strlen(ctxs), pt), 32, "the ciphertext of generate does "
		    "not open with the imported key, HMAC-SHA256(K, iv) and "
		    "AES-256-GCM (spec 5.2)");
		cr_expect_eq(memcmp(pt, dek, 32), 0, "it opens to another "
		    "DEK");
		cr_expect_eq(open_aes256(key, ct, m, NULL, 0, pt), -1,
		    "the context is not the AAD");
	}
	dek64 = b64enc(dek, 32);
	ct64 = b64enc(ct, m > 0 ? (size_t)m : 0);

	/* decrypt: {"plaintext"}. */
	FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}", ct64, ctx);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/imp-aes", body);
	if ((j = expect_json(&r, 200, "decrypt imp-aes")) != NULL) {
		FMT(want, "{\"plaintext\":\"%s\"}\n", dek64);
		expect_body(&r, want, "decrypt imp-aes");
		json_decref(j);
	}
	/* imp-aes2 holds the same bytes and type: the ciphertext opens. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/imp-aes2", body);
	expect_status(&r, 200, "decrypt under a key with the same bytes");

	/* Go JSON decoding (spec 1.4): keys match case-insensitively,
	 * unknown keys are ignored, only the first value is read. */
	FMT(body, "{\"CipherText\":\"%s\",\"CONTEXT\":\"%s\",\"x\":[1,{}],"
	    "\"version\":\"v9\"} trailing garbage", ct64, ctx);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/imp-aes", body);
	if (expect_status(&r, 200, "decrypt with Go's JSON leniency")) {
		FMT(want, "{\"plaintext\":\"%s\"}\n", dek64);
		expect_body(&r, want, "decrypt with Go's JSON leniency");
	}

	/* encrypt: {"ciphertext"}, plaintext + 44 bytes. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/encrypt/imp-aes",
	    "{\"plaintext\":\"aGVsbG8gd29ybGQ=\"}");
	if ((j = expect_json(&r, 200, "encrypt imp-aes")) != NULL) {
		expect_keys(&r, j, "encrypt", "ciphertext", NULL);
		json_decref(j);
	}
	m = field_bytes(&r, "ciphertext", ct, sizeof(ct));
	cr_expect_eq(m, 11 + 44, "encrypt: ciphertext length %ld", m);
	if (m == 55) {
		n = open_aes256(key, ct, m, NULL, 0, pt);
		cr_expect(n == 11 && memcmp(pt, "hello world", 11) == 0,
		    "the encrypt result does not open to the plaintext");
	}
	free(ct64);
	ct64 = b64enc(ct, m > 0 ? (size_t)m : 0);
	/* null is an empty context; "\r\n" inside base64 is skipped. */
	FMT(body, "{\"ciphertext\":\"%.20s\\r\\n%s\",\"context\":null}", ct64,
	    ct64 + 20);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/decrypt/imp-aes", body);
	if (expect_status(&r, 200, "decrypt, CRLF in base64, null context"))
		expect_body(&r, "{\"plaintext\":\"aGVsbG8gd29ybGQ=\"}\n",
		    "decrypt of the encrypt result");

	/* Generate with no body at all and with a chunked body. */
	rq(&r, TSRV_ADMIN, "POST", "/v1/key/generate/k-put", NULL);
	expect_status(&r, 200, "generate without a body");
	cr_expect_eq(field_bytes(&r, "plaintext", dek, sizeof(dek)), 32);
	{
		const char *const chunked[] = { "Transfer-Encoding: chunked",
		    NULL };
		rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/k-put",
		    "{\"context\":\"e30=\"}", 18, chunked);
		expect_status(&r, 200, "generate with a chunked body");
	}

	/* hmac: {"hmac"}, 32 bytes, deterministic, per key. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/hmac/k-put",
	    "{\"message\":\"cm9vdCBhY2Nlc3Mga2V5\"}");
	if ((j = expect_json(&r, 200, "hmac k-put")) != NULL) {
		expect_keys(&r, j, "hmac", "hmac", NULL);
		json_decref(j);
	}
	cr_expect_eq(field_bytes(&r, "hmac", mac1, sizeof(mac1)), 32);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/hmac/k-put",
	    "{\"message\":\"cm9vdCBhY2Nlc3Mga2V5\"}");
	cr_expect_eq(field_bytes(&r, "hmac", mac2, sizeof(mac2)), 32);
	cr_expect_eq(memcmp(mac1, mac2, 32), 0, "HMAC is not deterministic");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/hmac/k-post",
	    "{\"message\":\"cm9vdCBhY2Nlc3Mga2V5\"}");
	cr_expect_eq(field_bytes(&r, "hmac", mac2, sizeof(mac2)), 32);
	cr_expect_neq(memcmp(mac1, mac2, 32), 0, "two keys, one HMAC");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/hmac/imp-aes", "{\"message\":\"\"}");
	expect_status(&r, 200, "hmac of an empty message");
	/* The HMAC key is its own random key, not the imported bytes. */
	{
		uint8_t		 own[32];
		unsigned int	 ownlen = sizeof(own);

		cr_expect_eq(field_bytes(&r, "hmac", mac1, sizeof(mac1)), 32);
		HMAC(EVP_sha256(), key, 32, (const uint8_t *)"", 0, own,
		    &ownlen);
		cr_expect_neq(memcmp(own, mac1, 32), 0, "the HMAC key is the "
		    "encryption key (spec 5.5: a separate random key)");
	}

	/* list: sorted, by prefix; "" and "*" are all. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/imp", NULL);
	if (json_ok(&r, 200, "list imp"))
		expect_body(&r, "{\"names\":[\"imp-aes\",\"imp-aes2\","
		    "\"imp-chacha\",\"imp-xchacha\"]}\n", "list imp");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/", NULL);
	expect_body(&r, "{\"names\":[\"decl-1\",\"decl-2\",\"imp-aes\","
	    "\"imp-aes2\",\"imp-chacha\",\"imp-xchacha\",\"k-empty\","
	    "\"k-post\",\"k-put\"]}\n", "list all");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/*", NULL);
	expect_body(&r, "{\"names\":[\"decl-1\",\"decl-2\",\"imp-aes\","
	    "\"imp-aes2\",\"imp-chacha\",\"imp-xchacha\",\"k-empty\","
	    "\"k-post\",\"k-put\"]}\n", "list *");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/nothing-here", NULL);
	if (json_ok(&r, 200, "list with no match"))
		cr_expect(strcmp(r.body, "{\"names\":[]}\n") == 0 ||
		    strcmp(r.body, "{\"names\":null}\n") == 0,
		    "list with no match: %s", r.body);

	/* delete: empty 200, then 404, and the cache forgets it. */
	rq(&r, TSRV_ADMIN, "DELETE", "/v1/key/delete/imp-aes", NULL);
	expect_empty(&r, "delete imp-aes");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/imp-aes", NULL);
	expect_error(&r, 404, "key does not exist", "describe a deleted key");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/generate/imp-aes", "{}");
	expect_error(&r, 404, "key does not exist", "generate with a "
	    "deleted (cached) key");
	rq(&r, TSRV_ADMIN, "DELETE", "/v1/key/delete/imp-aes", NULL);
	expect_error(&r, 404, "key does not exist", "delete twice");
	/* The name is free again. */
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"AES256\"}", b64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/import/imp-aes", body);
	expect_empty(&r, "import into a deleted name");

	free(b64);
	free(ctx);
	free(ct64);
	free(dek64);
	tsrv_resp_free(&r);
}

/* --- 3. policies and identities ------------------------------------------ */

/* The identity of an Ed25519 seed, computed here (spec 4.4). */
static void
apikey_identity(const char *key, char out[TSRV_IDLEN + 1])
{
	static const uint8_t spki_prefix[12] = {
		0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03,
		0x21, 0x00,
	};
	uint8_t		 raw[64], der[64], *p = der, sum[32];
	EVP_PKEY	*pk;
	int		 n, i;

	cr_assert_eq(strncmp(key, "kes:v1:", 7), 0, "API key %s", key);
	cr_assert_eq(b64dec(key + 7, raw, sizeof(raw)), 33, "API key %s", key);
	cr_assert_eq(raw[0], 0, "API key type byte");
	pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, raw + 1, 32);
	cr_assert_not_null(pk);
	n = i2d_PUBKEY(pk, &p);
	EVP_PKEY_free(pk);
	cr_assert_eq(n, 44, "Ed25519 SPKI is %d bytes, want 44", n);
	cr_assert_eq(memcmp(der, spki_prefix, sizeof(spki_prefix)), 0,
	    "SPKI prefix (spec 4.4)");
	SHA256(der, (size_t)n, sum);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", sum[i]);
}

/* A sorted, comma-joined list of JSON strings: "\"a\",\"b\"". */
static int
cmp_strp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
sorted_ids(char *out, size_t len, const char **ids, size_t n)
{
	size_t i, o = 0;

	qsort(ids, n, sizeof(*ids), cmp_strp);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		o += snprintf(out + o, len - o, "%s\"%s\"", i ? "," : "",
		    ids[i]);
}

Test(api, policy_identity)
{
	struct tsrv_resp r = { 0 };
	char		 want[4096], list[1024], started[128] = "", mine[128],
			 path[256], id[TSRV_IDLEN + 1], *admin;
	const char	*ids[4];
	json_t		*j, *o;

	start_std();
	admin = srv.id[TSRV_ADMIN];

	/* identity describe: admin, then a policy identity (spec 3.5). */
	FMT(path, "/v1/identity/describe/%s", admin);
	rq(&r, TSRV_ADMIN, NULL, path, NULL);
	if ((j = expect_json(&r, 200, "describe the admin identity")) !=
	    NULL) {
		snprintf(started, sizeof(started), "%s",
		    jstr(j, "created_at"));
		json_decref(j);
	}
	expect_recent_time(started, "identity created_at (server start)");
	FMT(want, "{\"admin\":true,\"created_at\":\"%s\"}\n", started);
	expect_body(&r, want, "describe the admin identity");

	FMT(path, "/v1/identity/describe/%s", app.id);
	rq(&r, TSRV_ADMIN, NULL, path, NULL);
	json_ok(&r, 200, "describe app's identity");
	FMT(want, "{\"policy\":\"app\",\"created_at\":\"%s\",\"created_by\":"
	    "\"%s\"}\n", started, admin);
	expect_body(&r, want, "describe app's identity");

	FMT(path, "/v1/identity/describe/%s", srv.id[TSRV_NOBODY]);
	rq(&r, TSRV_ADMIN, NULL, path, NULL);
	expect_error(&r, 404, "identity does not exist",
	    "describe an identity in no policy");

	/* identity list: sorted, with the admin, continue_at "". */
	ids[0] = admin;
	ids[1] = srv.id[TSRV_STATUS];
	ids[2] = app.id;
	ids[3] = apik.id;
	sorted_ids(list, sizeof(list), ids, 4);
	FMT(want, "{\"identities\":[%s],\"continue_at\":\"\"}\n", list);
	rq(&r, TSRV_ADMIN, NULL, "/v1/identity/list/", NULL);
	json_ok(&r, 200, "identity list");
	expect_body(&r, want, "identity list");
	rq(&r, TSRV_ADMIN, NULL, "/v1/identity/list/*", NULL);
	expect_body(&r, want, "identity list *");
	FMT(path, "/v1/identity/list/%.6s*", app.id);
	FMT(want, "{\"identities\":[\"%s\"],\"continue_at\":\"\"}\n", app.id);
	rq(&r, TSRV_ADMIN, NULL, path, NULL);
	expect_body(&r, want, "identity list by a prefix of app's identity "
	    "(6 hex digits; another identity with that prefix is unlikely)");
	FMT(path, "/v1/identity/list/%.6s", admin);
	FMT(want, "{\"identities\":[\"%s\"],\"continue_at\":\"\"}\n", admin);
	rq(&r, TSRV_ADMIN, NULL, path, NULL);
	expect_body(&r, want, "identity list by a prefix of the admin's");

	/* policy describe, read, list (spec 3.4). */
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/describe/app", NULL);
	json_ok(&r, 200, "policy describe app");
	FMT(want, "{\"name\":\"app\",\"created_at\":\"%s\",\"created_by\":"
	    "\"%s\"}\n", started, admin);
	expect_body(&r, want, "policy describe app");

	/* allow/deny are Go maps: encoding/json writes them sorted. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/read/app", NULL);
	json_ok(&r, 200, "policy read app");
	FMT(want, "{\"name\":\"app\",\"allow\":{"
	    "\"/v1/key/create/app-*\":{},\"/v1/key/decrypt/app-*\":{},"
	    "\"/v1/key/describe/*\":{},\"/v1/key/generate/app-*\":{},"
	    "\"/v1/key/list/*\":{}},\"deny\":{"
	    "\"/v1/key/describe/app-secret*\":{},"
	    "\"/v1/key/generate/app-denied\":{}},"
	    "\"created_at\":\"%s\",\"created_by\":\"%s\"}\n", started, admin);
	expect_body(&r, want, "policy read app (allow and deny are JSON "
	    "objects from Go maps, whose keys encoding/json sorts)");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/read/status", NULL);
	FMT(want, "{\"name\":\"status\",\"allow\":{\"/v1/status\":{}},"
	    "\"created_at\":\"%s\",\"created_by\":\"%s\"}\n", started, admin);
	expect_body(&r, want, "policy read status (deny omitted when empty)");

	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/", NULL);
	json_ok(&r, 200, "policy list");
	expect_body(&r, "{\"names\":[\"apikey\",\"app\",\"status\"],"
	    "\"continue_at\":\"\"}\n", "policy list");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/*", NULL);
	expect_body(&r, "{\"names\":[\"apikey\",\"app\",\"status\"],"
	    "\"continue_at\":\"\"}\n", "policy list *");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/ap*", NULL);
	expect_body(&r, "{\"names\":[\"apikey\",\"app\"],\"continue_at\":"
	    "\"\"}\n", "policy list ap* (trailing * stripped)");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/app*", NULL);
	expect_body(&r, "{\"names\":[\"app\"],\"continue_at\":\"\"}\n",
	    "policy list app*");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/st", NULL);
	expect_body(&r, "{\"names\":[\"status\"],\"continue_at\":\"\"}\n",
	    "policy list st");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/zzz", NULL);
	json_ok(&r, 200, "policy list with no match");
	cr_expect(strcmp(r.body, "{\"names\":[],\"continue_at\":\"\"}\n") ==
	    0 || strcmp(r.body, "{\"names\":null,\"continue_at\":\"\"}\n") ==
	    0, "policy list with no match: %s", r.body);

	/* self-describe: the admin (spec 3.5). */
	rq(&r, TSRV_ADMIN, NULL, "/v1/identity/self/describe", NULL);
	json_ok(&r, 200, "self-describe as admin");
	FMT(want, "{\"identity\":\"%s\",\"admin\":true,\"created_at\":\"%s\"}"
	    "\n", admin, started);
	expect_body(&r, want, "self-describe as admin");

	/* A policy identity: keyward fixes KES's 404 (spec 3.5, 11.7). */
	rq(&r, WHO_APP, NULL, "/v1/identity/self/describe", NULL);
	if ((j = expect_json(&r, 200, "self-describe as app")) != NULL) {
		expect_keys(&r, j, "self-describe as app", "identity",
		    "policy", "created_at", "created_by", "allow", "deny",
		    NULL);
		cr_expect_str_eq(jstr(j, "identity"), app.id);
		cr_expect_str_eq(jstr(j, "policy"), "app");
		cr_expect_str_eq(jstr(j, "created_at"), started);
		cr_expect_str_eq(jstr(j, "created_by"), admin);
		o = json_object_get(j, "allow");
		cr_expect(json_is_object(o) && json_object_size(o) == 5 &&
		    json_is_object(json_object_get(o,
		    "/v1/key/generate/app-*")) && json_object_size(
		    json_object_get(o, "/v1/key/generate/app-*")) == 0,
		    "self-describe allow: %s", r.body);
		o = json_object_get(j, "deny");
		cr_expect(json_is_object(o) && json_object_size(o) == 2 &&
		    json_is_object(json_object_get(o,
		    "/v1/key/generate/app-denied")),
		    "self-describe deny: %s", r.body);
		json_decref(j);
	}
	rq(&r, TSRV_STATUS, NULL, "/v1/identity/self/describe", NULL);
	json_ok(&r, 200, "self-describe as status");
	FMT(want, "{\"identity\":\"%s\",\"policy\":\"status\",\"created_at\":"
	    "\"%s\",\"created_by\":\"%s\",\"allow\":{\"/v1/status\":{}}}\n",
	    srv.id[TSRV_STATUS], started, admin);
	expect_body(&r, want, "self-describe as status (deny omitted)");

	/* The API-key identity: the server's and ours agree (spec 4.4). */
	apikey_identity(apikey, id);
	cr_expect_str_eq(id, apik.id, "the identity of %s: in-process %s, "
	    "openssl CLI %s", apikey, id, apik.id);
	rq(&r, WHO_APIKEY, NULL, "/v1/identity/self/describe", NULL);
	if ((j = expect_json(&r, 200, "self-describe with the API-key "
	    "certificate")) != NULL) {
		snprintf(mine, sizeof(mine), "%s", jstr(j, "identity"));
		cr_expect_str_eq(mine, id, "the server's identity of the "
		    "kes:v1: certificate");
		cr_expect_str_eq(jstr(j, "policy"), "apikey");
		json_decref(j);
	}

	/* An identity in no policy: 404, not 403 (auth I). */
	rq(&r, TSRV_NOBODY, NULL, "/v1/identity/self/describe", NULL);
	expect_error(&r, 404, "identity does not exist",
	    "self-describe of an identity in no policy");
	tsrv_resp_free(&r);
}

/* --- 4. the error catalogue ---------------------------------------------- */

#define NAME_MSG(kind, name) \
	kind " '" name "' is empty, too long or contains invalid characters"
#define PATTERN_MSG(p) \
	"listing pattern '" p "' is empty, too long or is invalid"
#define MSG_DENIED	"not authorized: insufficient permissions"
#define MSG_NOKEY	"key does not exist"
#define MSG_DECRYPT	"decryption failed: ciphertext is not authentic"
#define MSG_BODY	"invalid request body"
#define MSG_IMPORT_BODY	"invalid import key request body"

/*
 * Every row of spec 2.3 keyward can produce on a healthy store (the
 * store failures: keystore_failures; no certificate: skip_auth).
 */
Test(api, error_catalogue)
{
	struct tsrv_resp r = { 0 };
	uint8_t		 key[32];
	char		 body[512], path[256], want[512], acc[64], *b64;

	start_std();
	cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
	b64 = b64enc(key, sizeof(key));

	/* 405 + Accept (spec 1.4). */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/create/k", NULL);
	expect_error(&r, 405, "received method 'GET' expected 'PUT'",
	    "GET /v1/key/create/k");
	cr_expect_str_eq(hdr(&r, "Accept", acc, sizeof(acc)), "PUT",
	    "405 Accept header");

	/* More than one non-CA certificate in the client's chain; a CA
	 * certificate after the leaf is skipped (spec 4.1). */
	rq(&r, WHO_TWOLEAF, NULL, "/v1/key/list/", NULL);
	expect_error(&r, 400, "tls: received more than one client "
	    "certificate", "two leaf certificates");
	rq(&r, WHO_LEAFCA, NULL, "/v1/key/list/", NULL);
	expect_status(&r, 200, "leaf + CA certificate: the CA is skipped and "
	    "the leaf is app's");

	/* 403: unknown identity, and a deny rule over an allow rule. */
	rq(&r, TSRV_NOBODY, "PUT", "/v1/key/create/k", NULL);
	expect_error(&r, 403, MSG_DENIED, "create by an unknown identity");
	rq(&r, WHO_APP, NULL, "/v1/key/generate/app-denied", "{}");
	expect_error(&r, 403, MSG_DENIED, "generate denied by a deny rule");

	/* 403 beats 400: authorisation runs before the name check. */
	rq(&r, TSRV_NOBODY, "PUT", "/v1/key/create/-a", NULL);
	expect_error(&r, 403, MSG_DENIED, "unknown identity, invalid name");
	rq(&r, WHO_APP, NULL, "/v1/key/encrypt/-a", "{");
	expect_error(&r, 403, MSG_DENIED, "policy identity, route not "
	    "allowed, invalid name and body");
	rq(&r, TSRV_NOBODY, NULL, "/v1/policy/read/-a", NULL);
	expect_error(&r, 403, MSG_DENIED, "unknown identity, invalid policy "
	    "name");
	rq(&r, TSRV_NOBODY, NULL, "/v1/key/list/a*b", NULL);
	expect_error(&r, 403, MSG_DENIED, "unknown identity, invalid pattern");

	/* Invalid names and patterns: the message quotes them. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/-a", NULL);
	expect_error(&r, 400, NAME_MSG("key name", "-a"), "create -a");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/read/-a", NULL);
	expect_error(&r, 400, NAME_MSG("policy name", "-a"), "policy read -a");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/describe/a.b", NULL);
	expect_error(&r, 400, NAME_MSG("policy name", "a.b"),
	    "policy describe a.b");
	rq(&r, TSRV_ADMIN, NULL, "/v1/identity/describe/-a", NULL);
	expect_error(&r, 400, NAME_MSG("identity", "-a"), "identity describe "
	    "-a");
	rq(&r, TSRV_ADMIN, NULL, "/v1/identity/describe/", NULL);
	expect_error(&r, 400, NAME_MSG("identity", ""), "identity describe "
	    "of nothing");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/a*b", NULL);
	expect_error(&r, 400, PATTERN_MSG("a*b"), "key list a*b");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/list/*-*", NULL);
	expect_error(&r, 400, PATTERN_MSG("*-*"), "policy list *-*");
	rq(&r, TSRV_ADMIN, NULL, "/v1/identity/list/a.b", NULL);
	expect_error(&r, 400, PATTERN_MSG("a.b"), "identity list a.b");

	/* Bodies. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/victim", NULL);
	expect_empty(&r, "create victim");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/generate/victim", "{");
	expect_error(&r, 400, MSG_BODY, "generate with malformed JSON");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/encrypt/victim", "{");
	expect_error(&r, 400, MSG_BODY, "encrypt with malformed JSON");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/decrypt/victim", "{");
	expect_error(&r, 400, MSG_BODY, "decrypt with malformed JSON");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/hmac/victim", "{");
	expect_error(&r, 400, MSG_BODY, "hmac with malformed JSON");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/encrypt/victim", "");
	expect_error(&r, 400, MSG_BODY, "encrypt with an empty body (EOF)");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/import/new-k", "{");
	expect_error(&r, 400, MSG_IMPORT_BODY, "import with malformed JSON");

	/* Import: 406 for the cipher, then for the size. */
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"AES128\"}", b64);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/import/new-k", body);
	expect_error(&r, 406, "algorithm 'AES128' is not supported",
	    "import AES128");
	FMT(body, "{\"key\":\"%s\"}", b64);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/import/new-k", body);
	expect_error(&r, 406, "algorithm '' is not supported", "import "
	    "without a cipher");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/import/new-k",
	    "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"cipher\":\"AES256\"}");
	expect_error(&r, 406, "invalid key size for 'AES256'", "import a "
	    "16-byte key");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/import/new-k",
	    "{\"key\":\"\",\"cipher\":\"ChaCha20\"}");
	expect_error(&r, 406, "invalid key size for 'ChaCha20'", "import an "
	    "empty key");

	/* Exists, missing. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/victim", NULL);
	expect_error(&r, 400, "key already exists", "create twice");
	FMT(body, "{\"key\":\"%s\",\"cipher\":\"AES256\"}", b64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/import/decl-1", body);
	expect_error(&r, 400, "key already exists", "import over a key");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/missing", NULL);
	expect_error(&r, 404, MSG_NOKEY, "describe missing");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/generate/missing", "{}");
	expect_error(&r, 404, MSG_NOKEY, "generate missing");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/encrypt/missing",
	    "{\"plaintext\":\"\"}");
	expect_error(&r, 404, MSG_NOKEY, "encrypt missing");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/decrypt/missing",
	    "{\"ciphertext\":\"\"}");
	expect_error(&r, 404, MSG_NOKEY, "decrypt missing");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/hmac/missing", "{\"message\":\"\"}");
	expect_error(&r, 404, MSG_NOKEY, "hmac missing");
	rq(&r, TSRV_ADMIN, "DELETE", "/v1/key/delete/missing", NULL);
	expect_error(&r, 404, MSG_NOKEY, "delete missing");
	/* The body is read before the key: a bad one is 400 first. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/decrypt/missing", "{\"ciphertext\":");
	expect_error(&r, 400, MSG_BODY, "decrypt missing with a bad body");

	/* Decryption failed. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/decrypt/victim",
	    "{\"ciphertext\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAAAAAAAAAAAA\"}");
	expect_error(&r, 400, MSG_DECRYPT, "decrypt 51 zero bytes");

	/* Policies and identities. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/describe/missing", NULL);
	expect_error(&r, 404, "policy does not exist", "policy describe");
	rq(&r, TSRV_ADMIN, NULL, "/v1/policy/read/missing", NULL);
	expect_error(&r, 404, "policy does not exist", "policy read");
	FMT(path, "/v1/identity/describe/%064d", 0);
	rq(&r, TSRV_ADMIN, NULL, path, NULL);
	expect_error(&r, 404, "identity does not exist", "identity describe");

	/* Go escapes <, >, & and quotes in the message (spec 1.4). */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/a%3C%3E%26%22%5Cb", NULL);
	expect_error(&r, 400, NAME_MSG("key name", "a<>&\"\\b"),
	    "create a<>&\"\\b");
	FMT(want, "{\"message\":\"key name 'a\\u003c\\u003e\\u0026\\\"\\\\b' is "
	    "empty, too long or contains invalid characters\"\n}");
	expect_body(&r, want, "the escaped message, spelled out");

	free(b64);
	tsrv_resp_free(&r);
}

/*
 * A key as KES <= 2024-01 stored it: legacy JSON {"bytes":"<b64>"} (spec
 * 6.1), written straight into the fs store. It has no HMAC key (409,
 * spec 5.5) and otherwise works as AES256 with created_at zero.
 */
Test(api, legacy_json_key)
{
	struct tsrv_resp r = { 0 };
	uint8_t		 key[32], ct[256], pt[64];
	char		 value[128], *b64;
	long		 n;

	start_std();
	cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
	b64 = b64enc(key, sizeof(key));
	FMT(value, "{\"bytes\":\"%s\"}", b64);
	cr_assert_eq(tsrv_put_key_file(&srv, "legacy", value), 0,
	    "cannot write %s/legacy: %s", srv.keys, strerror(errno));
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/hmac/legacy",
	    "{\"message\":\"aGk=\"}");
	expect_error(&r, 409, "key does not support HMAC", "hmac with a "
	    "legacy key");
	/* It still works for the rest: AES256, created_at zero. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/legacy", NULL);
	json_ok(&r, 200, "describe legacy");
	expect_body(&r, "{\"name\":\"legacy\",\"algorithm\":\"AES256-GCM_SHA256\","
	    "\"created_at\":\"0001-01-01T00:00:00Z\"}\n", "describe a legacy "
	    "key (created_by omitted, zero created_at)");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/generate/legacy", "{}");
	expect_status(&r, 200, "generate with a legacy key");
	n = field_bytes(&r, "ciphertext", ct, sizeof(ct));
	cr_expect(n == 76 && open_aes256(key, ct, n, NULL, 0, pt) == 32,
	    "a DEK under the legacy key does not open with its bytes");

	/* The crypto process survived all of it. */
	expect_crypto_alive("a legacy JSON key");
	free(b64);
	tsrv_resp_free(&r);
}

/*
 * The key store's failures (spec 2.3): the fs store's directory made
 * unusable for the agent (mode 000), then restored.
 */
Test(api, keystore_failures)
{
	struct tsrv_resp r = { 0 };
	struct stat	 st;
	char		 path[PATH_MAX + 16], value[4096];
	size_t		 n;
	FILE		*f;

	start_std();
	/* A key the server never read, hence not cached: a copy of one the
	 * crypto process wrote, under another name. */
	FMT(path, "%s/decl-1", srv.keys);
	cr_assert_not_null(f = fopen(path, "r"), "%s: %s", path,
	    strerror(errno));
	n = fread(value, 1, sizeof(value) - 1, f);
	fclose(f);
	cr_assert(n > 0 && n < sizeof(value) - 1);
	value[n] = '\0';
	cr_assert_eq(tsrv_put_key_file(&srv, "copied", value), 0);
	cr_assert_eq(stat(srv.keys, &st), 0);
	cr_assert_eq(chmod(srv.keys, 0), 0);

	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/newkey", NULL);
	expect_error(&r, 502, "failed to create key", "create, store mode 000");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/", NULL);
	expect_error(&r, 502, "failed to list keys", "list, store mode 000");
	rq(&r, TSRV_ADMIN, "DELETE", "/v1/key/delete/decl-2", NULL);
	expect_error(&r, 502, "failed to delete key", "delete, store mode "
	    "000");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/copied", NULL);
	expect_error(&r, 502, "failed to read key", "describe an uncached "
	    "key, store mode 000");
	rq(&r, TSRV_ADMIN, NULL, "/v1/ready", NULL);
	expect_error(&r, 504, "key store is not reachable", "/v1/ready, store "
	    "mode 000");

	cr_assert_eq(chmod(srv.keys, st.st_mode & 07777), 0);
	rq(&r, TSRV_ADMIN, NULL, "/v1/ready", NULL);
	expect_empty(&r, "/v1/ready, store restored");
	expect_describe(&r, TSRV_ADMIN, "copied", srv.id[TSRV_ADMIN], NULL, 0,
	    "describe the copy, store restored");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/newkey", NULL);
	expect_empty(&r, "create, store restored");
	tsrv_resp_free(&r);
}

/* --- 5. methods ---------------------------------------------------------- */

/* Every route (spec 3.1) with a resource where it takes one. */
static const struct {
	const char	*path;
	const char	*method;
} route_paths[] = {
	{ "/version", "GET" },
	{ "/v1/ready", "GET" },
	{ "/v1/status", "GET" },
	{ "/v1/metrics", "GET" },
	{ "/v1/api", "GET" },
	{ "/v1/key/create/mk", "PUT" },
	{ "/v1/key/import/mk", "PUT" },
	{ "/v1/key/describe/mk", "GET" },
	{ "/v1/key/list/mk", "GET" },
	{ "/v1/key/delete/mk", "DELETE" },
	{ "/v1/key/generate/mk", "PUT" },
	{ "/v1/key/encrypt/mk", "PUT" },
	{ "/v1/key/decrypt/mk", "PUT" },
	{ "/v1/key/hmac/mk", "PUT" },
	{ "/v1/policy/describe/app", "GET" },
	{ "/v1/policy/read/app", "GET" },
	{ "/v1/policy/list/app", "GET" },
	{ "/v1/identity/describe/x", "GET" },
	{ "/v1/identity/list/x", "GET" },
	{ "/v1/identity/self/describe", "GET" },
	{ "/v1/log/error", "GET" },
	{ "/v1/log/audit", "GET" },
};
#define NROUTE_PATHS	(sizeof(route_paths) / sizeof(route_paths[0]))

static void
expect_405(struct tsrv_resp *r, int who, const char *method,
    const char *path, const char *want_method)
{
	char	what[512], msg[256], acc[64];

	FMT(what, "%s %s", method, path);
	FMT(msg, "received method '%s' expected '%s'", method, want_method);
	rq(r, who, method, path, NULL);
	expect_error(r, 405, msg, what);
	cr_expect_str_eq(hdr(r, "Accept", acc, sizeof(acc)), want_method,
	    "%s: Accept \"%s\", want \"%s\"", what, acc, want_method);
}

/* The response heads in raw bytes, for HEAD: what follows the first head
 * must be the second response's status line, not a body. */
static const char *
after_head(const char *raw)
{
	const char *p = strstr(raw, "\r\n\r\n");

	return p != NULL ? p + 4 : "";
}

Test(api, methods)
{
	struct tsrv_resp r = { 0 };
	char		 raw[16384], acc[64];
	const char	*wrong;
	size_t		 i;
	long		 n;

	start_std();

	/* The wrong method on every route: 405, Accept, KES's message. */
	for (i = 0; i < NROUTE_PATHS; i++) {
		if (strcmp(route_paths[i].method, "GET") == 0)
			wrong = "POST";
		else if (strcmp(route_paths[i].method, "PUT") == 0)
			wrong = "GET";
		else
			wrong = "PUT";
		expect_405(&r, TSRV_ADMIN, wrong, route_paths[i].path,
		    route_paths[i].method);
		if (strcmp(route_paths[i].method, "PUT") == 0)
			expect_405(&r, TSRV_ADMIN, "DELETE",
			    route_paths[i].path, "PUT");
	}
	/* Only PUT gets the POST exception. */
	expect_405(&r, TSRV_ADMIN, "POST", "/v1/key/delete/mk", "DELETE");
	expect_405(&r, TSRV_ADMIN, "GET", "/v1/key/delete/mk", "DELETE");
	/* Method before authentication and before the name check. */
	expect_405(&r, TSRV_NOBODY, "GET", "/v1/key/create/mk", "PUT");
	expect_405(&r, TSRV_NOBODY, "DELETE", "/v1/status", "GET");
	expect_405(&r, TSRV_ADMIN, "GET", "/v1/key/create/-bad", "PUT");
	expect_405(&r, TSRV_ADMIN, "OPTIONS", "/v1/key/create/mk", "PUT");
	expect_405(&r, TSRV_ADMIN, "PATCH", "/v1/status", "GET");
	expect_405(&r, TSRV_ADMIN, "FOO", "/v1/status", "GET");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/mk", NULL);
	expect_error(&r, 404, MSG_NOKEY, "none of the 405s created mk");

	/* The DELETE route. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/mk", NULL);
	expect_empty(&r, "create mk");
	rq(&r, TSRV_ADMIN, "DELETE", "/v1/key/delete/mk", NULL);
	expect_empty(&r, "DELETE /v1/key/delete/mk");

	/* HEAD on a GET route is a wrong method too (Go compares the
	 * method exactly); the answer must carry no body on the wire. */
	rq(&r, TSRV_ADMIN, "HEAD", "/version", NULL);
	expect_status(&r, 405, "HEAD /version");
	cr_expect_str_eq(hdr(&r, "Accept", acc, sizeof(acc)), "GET",
	    "HEAD /version: Accept");
	n = tsrv_raw(&srv, TSRV_ADMIN,
	    "HEAD /version HTTP/1.1\r\nHost: k\r\n\r\n"
	    "GET /version HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n",
	    strlen("HEAD /version HTTP/1.1\r\nHost: k\r\n\r\n"
	    "GET /version HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n"),
	    raw, sizeof(raw), 5000);
	cr_expect_gt(n, 0, "raw HEAD + GET: %s", raw);
	cr_expect_eq(strncmp(raw, "HTTP/1.1 405 ", 13), 0, "HEAD /version: "
	    "%.200s", raw);
	cr_expect_eq(strncmp(after_head(raw), "HTTP/1.1 200 ", 13), 0,
	    "the 405 answer to HEAD carries a body; the next response on the "
	    "connection starts with \"%.80s\" (RFC 9110 9.3.2: no content in "
	    "a response to HEAD; Go never writes one)", after_head(raw));
	/* HEAD of a redirect and of an unknown path: no body either. */
	n = tsrv_raw(&srv, TSRV_ADMIN,
	    "HEAD /v1/key/list HTTP/1.1\r\nHost: k\r\n\r\n"
	    "HEAD /nowhere HTTP/1.1\r\nHost: k\r\n\r\n"
	    "GET /version HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n",
	    strlen("HEAD /v1/key/list HTTP/1.1\r\nHost: k\r\n\r\n"
	    "HEAD /nowhere HTTP/1.1\r\nHost: k\r\n\r\n"
	    "GET /version HTTP/1.1\r\nHost: k\r\nConnection: close\r\n\r\n"),
	    raw, sizeof(raw), 5000);
	cr_expect_eq(strncmp(raw, "HTTP/1.1 301 ", 13), 0, "HEAD /v1/key/list:"
	    " %.200s", raw);
	cr_expect_eq(strncmp(after_head(raw), "HTTP/1.1 404 ", 13), 0,
	    "after HEAD's 301: \"%.80s\"", after_head(raw));
	cr_expect_eq(strncmp(after_head(after_head(raw)), "HTTP/1.1 200 ", 13),
	    0, "after HEAD's 404: \"%.80s\"", after_head(after_head(raw)));

	/* OPTIONS * (no route): an answer, and the server keeps serving. */
	n = tsrv_raw(&srv, TSRV_ADMIN, "OPTIONS * HTTP/1.1\r\nHost: k\r\n"
	    "Connection: close\r\n\r\n", strlen("OPTIONS * HTTP/1.1\r\nHost: "
	    "k\r\nConnection: close\r\n\r\n"), raw, sizeof(raw), 5000);
	cr_expect(strncmp(raw, "HTTP/1.1 200 ", 13) == 0 ||
	    strncmp(raw, "HTTP/1.1 400 ", 13) == 0, "OPTIONS *: %.200s", raw);
	rq(&r, TSRV_ADMIN, NULL, "/version", NULL);
	expect_status(&r, 200, "GET /version after OPTIONS *");
	tsrv_resp_free(&r);

	/* HTTP/1.0 with keep-alive (ab -k): Go says it keeps the connection
	 * open, and does; without the keep-alive token it closes. */
	{
		static const char ka[] =
		    "GET /version HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
		    "GET /version HTTP/1.0\r\n\r\n"
		    "GET /version HTTP/1.0\r\n\r\n";
		const char *second;

		n = tsrv_raw(&srv, TSRV_ADMIN, ka, sizeof(ka) - 1, raw,
		    sizeof(raw), 5000);
		cr_expect_gt(n, 0, "HTTP/1.0: %s", raw);
		cr_expect_eq(strncmp(raw, "HTTP/1.1 200 ", 13), 0, "%.200s",
		    raw);
		cr_expect(strstr(raw, "\r\nConnection: keep-alive\r\n") !=
		    NULL && strstr(raw, "\r\nConnection: keep-alive\r\n") <
		    after_head(raw), "HTTP/1.0 keep-alive answered without "
		    "\"Connection: keep-alive\": %.300s", raw);
		second = strstr(after_head(raw), "HTTP/1.1 200 ");
		cr_expect_not_null(second, "no answer to the second HTTP/1.0 "
		    "request: %.400s", raw);
		cr_expect(second != NULL && strstr(second,
		    "\r\nConnection: close\r\n") != NULL, "the second "
		    "HTTP/1.0 request (no keep-alive) must close: %.400s",
		    second ? second : raw);
		cr_expect(second == NULL ||
		    strstr(second + 13, "HTTP/1.1 ") == NULL, "a third answer "
		    "after Connection: close: %.600s", raw);
	}
}

/* --- 6. routing ---------------------------------------------------------- */

static const char *const subtrees[] = {
	"/v1/key/create/", "/v1/key/import/", "/v1/key/describe/",
	"/v1/key/list/", "/v1/key/delete/", "/v1/key/generate/",
	"/v1/key/encrypt/", "/v1/key/decrypt/", "/v1/key/hmac/",
	"/v1/policy/describe/", "/v1/policy/read/", "/v1/policy/list/",
	"/v1/identity/describe/", "/v1/identity/list/",
};
#define NSUBTREES	(sizeof(subtrees) / sizeof(subtrees[0]))

/* Go's 301 to loc (spec 1.3.3); html: the href as htmlEscape spells it. */
static void
expect_301(struct tsrv_resp *r, int who, const char *method,
    const char *path, const char *loc, const char *html)
{
	char	what[512], want[1024], got[1024], ct[128];

	FMT(what, "%s %s", method ? method : "GET", path);
	rq(r, who, method, path, NULL);
	expect_status(r, 301, what);
	cr_expect_str_eq(hdr(r, "Location", got, sizeof(got)), loc,
	    "%s: Location \"%s\", want \"%s\"", what, got, loc);
	if (method == NULL || strcmp(method, "GET") == 0) {
		cr_expect_str_eq(hdr(r, "Content-Type", ct, sizeof(ct)),
		    "text/html; charset=utf-8", "%s: Content-Type", what);
		FMT(want, "<a href=\"%s\">Moved Permanently</a>.\n\n",
		    html ? html : loc);
		expect_body(r, want, what);
		expect_length(r, what);
	} else {
		/* net/http Redirect: body for GET only, Content-Type for
		 * GET and HEAD only. */
		cr_expect_eq(r->len, 0, "%s: Go writes the HTML only for "
		    "GET: %s", what, r->body);
		cr_expect_eq(tsrv_resp_header(r, "Content-Type", ct,
		    sizeof(ct)), 0, "%s: Content-Type \"%s\" (Go's Redirect "
		    "sets none for %s)", what, ct, method);
	}
}

static void
expect_404(struct tsrv_resp *r, int who, const char *method,
    const char *path)
{
	char	what[512], ct[128], nosniff[64];

	FMT(what, "%s %s", method ? method : "GET", path);
	rq(r, who, method, path, NULL);
	expect_status(r, 404, what);
	expect_body(r, "404 page not found\n", what);
	cr_expect_str_eq(hdr(r, "Content-Type", ct, sizeof(ct)),
	    "text/plain; charset=utf-8", "%s: Content-Type", what);
	cr_expect_str_eq(hdr(r, "X-Content-Type-Options", nosniff,
	    sizeof(nosniff)), "nosniff", "%s: X-Content-Type-Options", what);
	expect_length(r, what);
}

Test(api, routing)
{
	static const char *const unknown[] = {
		"/", "/v1", "/v1/", "/v1/key", "/v1/key/", "/v1/keys/list/",
		"/v1/key/frobnicate/x", "/version/", "/v1/status/",
		"/v1/statusx", "/v2/status", "/v1/identity/self/describe/x",
		"/v1/identity/self/", "/v1/log/audit/x", "/v1/policy/write/x",
		"/v1/key/bulk/x", "/V1/status",
	};
	struct tsrv_resp r = { 0 };
	char		 root[128], before[8192], after[8192];
	size_t		 i;

	start_std();
	store(before, sizeof(before));

	/* Every subtree root without its slash: 301, before auth. */
	for (i = 0; i < NSUBTREES; i++) {
		FMT(root, "%.*s", (int)strlen(subtrees[i]) - 1, subtrees[i]);
		expect_301(&r, TSRV_ADMIN, NULL, root, subtrees[i], NULL);
		expect_301(&r, TSRV_NOBODY, NULL, root, subtrees[i], NULL);
	}
	expect_301(&r, TSRV_ADMIN, "POST", "/v1/key/create",
	    "/v1/key/create/", NULL);
	expect_301(&r, TSRV_ADMIN, "PUT", "/v1/key/generate",
	    "/v1/key/generate/", NULL);
	/* The query survives; the HTML escapes it as Go's htmlEscape. */
	expect_301(&r, TSRV_ADMIN, NULL, "/v1/key/list?prefix=x",
	    "/v1/key/list/?prefix=x", NULL);
	expect_301(&r, TSRV_ADMIN, NULL, "/v1/key/list?a=1&b=%20",
	    "/v1/key/list/?a=1&b=%20", "/v1/key/list/?a=1&amp;b=%20");
	/* The kms-go client follows it (ListKeys(ctx, "", n)). */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/", NULL);
	json_ok(&r, 200, "GET /v1/key/list/ after the redirect");

	/* Unknown paths: Go's plain 404, before auth, for any method. */
	for (i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
		expect_404(&r, TSRV_ADMIN, NULL, unknown[i]);
		expect_404(&r, TSRV_NOBODY, NULL, unknown[i]);
	}
	expect_404(&r, TSRV_ADMIN, "POST", "/v1/unknown");
	expect_404(&r, TSRV_ADMIN, "DELETE", "/v1/key/");

	/* Non-canonical paths: 301 to the cleaned path (spec 1.3.4). */
	expect_301(&r, TSRV_ADMIN, NULL, "/v1/key/../status", "/v1/status",
	    NULL);
	expect_301(&r, TSRV_ADMIN, NULL, "/v1//status", "/v1/status", NULL);
	expect_301(&r, TSRV_ADMIN, NULL, "/v1/./status", "/v1/status", NULL);
	expect_301(&r, TSRV_ADMIN, NULL, "//version", "/version", NULL);
	expect_301(&r, TSRV_ADMIN, NULL, "/v1/key/list/./",
	    "/v1/key/list/", NULL);
	expect_301(&r, TSRV_ADMIN, NULL, "/v1/key/create/../../status?x=1",
	    "/v1/status?x=1", NULL);
	expect_301(&r, TSRV_NOBODY, "PUT", "/v1/key/create/..", "/v1/key",
	    NULL);
	expect_301(&r, TSRV_ADMIN, "PUT", "/v1/key/create/../", "/v1/key/",
	    NULL);
	expect_301(&r, TSRV_ADMIN, "PUT", "/v1/key/create/%2E%2E/x",
	    "/v1/key/x", NULL);
	expect_301(&r, TSRV_ADMIN, "PUT", "/v1/key/create/a/../b",
	    "/v1/key/create/b", NULL);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/b", NULL);
	expect_error(&r, 404, MSG_NOKEY, "the redirects created no key");
	store(after, sizeof(after));
	cr_expect_str_eq(after, before, "the key store changed:\n%s\nwas:\n%s",
	    after, before);
	tsrv_resp_free(&r);
}

/* --- 7. body limits ------------------------------------------------------ */

/*
 * {"context":"<b64>"} padded with blanks before the closing brace to
 * exactly `total` bytes, so the JSON value itself ends at the last byte
 * (Go's decoder fails only when the value runs past the cap).
 */
static char *
big_body(const char *field, size_t total, size_t *b64len)
{
	size_t	 head = strlen(field) + 5, raw, n;	/* {"field":" */
	uint8_t	*bytes;
	char	*b64, *body;

	/* Room for the closing quote and brace; base64 in whole quads. */
	raw = (total - head - 2) / 4 * 3;
	cr_assert_not_null(bytes = malloc(raw));
	memset(bytes, 0x5a, raw);
	b64 = b64enc(bytes, raw);
	free(bytes);
	n = strlen(b64);
	cr_assert_not_null(body = malloc(total + 1));
	/* head + n + 1 bytes: {"field":"<b64>" */
	snprintf(body, total + 1, "{\"%s\":\"%s\"", field, b64);
	memset(body + head + n + 1, ' ', total - (head + n + 1) - 1);
	body[total - 1] = '}';
	body[total] = '\0';
	free(b64);
	if (b64len != NULL)
		*b64len = n;
	return body;
}

Test(api, body_limits)
{
	static const char *const chunked[] = { "Transfer-Encoding: chunked",
	    "Expect:", NULL };
	static const char *const noexpect[] = { "Expect:", NULL };
	struct tsrv_resp r = { 0 };
	char		*at, *over, *imp, before[8192], after[8192];
	uint8_t		 pt[64];

	start_std();
	at = big_body("context", MB, NULL);
	over = big_body("context", MB + 1, NULL);
	imp = big_body("key", MB + 1, NULL);
	cr_assert_eq(strlen(at), MB);
	cr_assert_eq(strlen(over), MB + 1);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/big", NULL);
	expect_empty(&r, "create big");
	store(before, sizeof(before));

	/* Exactly 1 MB is read and parsed; one byte more is refused. */
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/big", at, MB, noexpect);
	json_ok(&r, 200, "generate with a 1,000,000-byte body");
	if (r.status == 200) {
		/* The 750 KB context was the AAD: without it, no opening. */
		char	body[512], ct64[256];

		field_str(&r, "ciphertext", ct64, sizeof(ct64));
		FMT(body, "{\"ciphertext\":\"%s\"}", ct64);
		rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/big", body);
		expect_error(&r, 400, MSG_DECRYPT, "decrypt without the big "
		    "context");
	}
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/big", over, MB + 1,
	    noexpect);
	expect_error(&r, 400, MSG_BODY, "generate with 1,000,001 bytes");
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/encrypt/big", over, MB + 1,
	    noexpect);
	expect_error(&r, 400, MSG_BODY, "encrypt with 1,000,001 bytes");
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/big", over, MB + 1,
	    noexpect);
	expect_error(&r, 400, MSG_BODY, "decrypt with 1,000,001 bytes");
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/hmac/big", over, MB + 1, noexpect);
	expect_error(&r, 400, MSG_BODY, "hmac with 1,000,001 bytes");
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/import/big-imp", imp, MB + 1,
	    noexpect);
	expect_error(&r, 400, MSG_IMPORT_BODY, "import with 1,000,001 bytes");

	/* Chunked: the same limit, the same answers (spec 1.4 step 3). */
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/big", at, MB, chunked);
	expect_status(&r, 200, "generate with a chunked 1,000,000-byte body");
	cr_expect_eq(field_bytes(&r, "plaintext", pt, sizeof(pt)), 32);
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/big", over, MB + 1,
	    chunked);
	expect_error(&r, 400, MSG_BODY, "generate with a chunked "
	    "1,000,001-byte body");

	/* A body on a route without one (MaxBody 0) is ignored. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/with-body", "not JSON");
	expect_empty(&r, "create with a body");
	store(after, sizeof(after));
	cr_expect_not_null(strstr(after, "with-body"));

	/*
	 * Spec 1.4's order: the method check, then the body limit, then
	 * authorisation, then the handler reads (or ignores) the body.
	 */
	rqx(&r, TSRV_ADMIN, "GET", "/v1/key/generate/big", over, MB + 1,
	    noexpect);
	expect_error(&r, 405, "received method 'GET' expected 'PUT'",
	    "GET generate with 1,000,001 bytes: 405 before the body");
	rqx(&r, TSRV_NOBODY, "PUT", "/v1/key/generate/big", over, MB + 1,
	    noexpect);
	expect_error(&r, 403, MSG_DENIED, "an unknown identity with 1,000,001 "
	    "bytes: 403 before the body");
	rqx(&r, TSRV_ADMIN, "PUT", "/v1/key/create/big-body", over, MB + 1,
	    noexpect);
	expect_empty(&r, "create (MaxBody 0) with 1,000,001 bytes: the body "
	    "is ignored, the key created");
	rqx(&r, TSRV_ADMIN, "POST", "/v1/status", over, MB + 1, noexpect);
	expect_error(&r, 405, "received method 'POST' expected 'GET'",
	    "POST /v1/status with 1,000,001 bytes: 405 before the body");

	/* Nothing of the refused requests reached the store. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/big-imp", NULL);
	expect_error(&r, 404, MSG_NOKEY, "the refused import");
	rq(&r, TSRV_ADMIN, NULL, "/version", NULL);
	expect_status(&r, 200, "the server after the big bodies");
	free(at);
	free(over);
	free(imp);
	tsrv_resp_free(&r);
}

/* --- 8. authorisation ---------------------------------------------------- */

Test(api, authorization)
{
	static const char *const verified[] = {
		"GET /v1/ready", "GET /v1/status", "GET /v1/metrics",
		"GET /v1/api", "PUT /v1/key/create/x", "PUT /v1/key/import/x",
		"GET /v1/key/describe/x", "GET /v1/key/list/",
		"DELETE /v1/key/delete/x", "PUT /v1/key/generate/x",
		"PUT /v1/key/encrypt/x", "PUT /v1/key/decrypt/x",
		"PUT /v1/key/hmac/x", "GET /v1/policy/describe/app",
		"GET /v1/policy/read/app", "GET /v1/policy/list/",
		"GET /v1/identity/describe/x", "GET /v1/identity/list/",
		"GET /v1/log/error", "GET /v1/log/audit",
	};
	struct tsrv_req	 v12 = { .ssl_version = CURL_SSLVERSION_TLSv1_2 |
			    CURL_SSLVERSION_MAX_TLSv1_2 };
	struct tsrv_req	 v13 = { .ssl_version = CURL_SSLVERSION_TLSv1_3 |
			    CURL_SSLVERSION_MAX_TLSv1_3 };
	struct tsrv_resp r = { 0 };
	char		 m[16], path[128], body[512], ct64[256], what[256];
	size_t		 i;

	start_std();

	/* An identity in no policy: 403 on every V route (spec 4.3.1). */
	for (i = 0; i < sizeof(verified) / sizeof(verified[0]); i++) {
		cr_assert_eq(sscanf(verified[i], "%15s %127s", m, path), 2);
		FMT(what, "unknown identity: %s", verified[i]);
		rq(&r, TSRV_NOBODY, m, path, strcmp(m, "PUT") == 0 ? "{}" :
		    NULL);
		expect_error(&r, 403, MSG_DENIED, what);
	}
	rq(&r, TSRV_NOBODY, NULL, "/version", NULL);
	expect_status(&r, 200, "unknown identity: /version (auth N)");

	/* Exact patterns: "status" may read /v1/status only. */
	rq(&r, TSRV_STATUS, NULL, "/v1/status", NULL);
	expect_status(&r, 200, "status: /v1/status");
	rq(&r, TSRV_STATUS, NULL, "/v1/ready", NULL);
	expect_error(&r, 403, MSG_DENIED, "status: /v1/ready");
	rq(&r, TSRV_STATUS, NULL, "/v1/status?x=1", NULL);
	expect_status(&r, 200, "status: /v1/status with a query (the path "
	    "alone is matched)");

	/* Prefix patterns, and deny over allow. */
	rq(&r, WHO_APP, "POST", "/v1/key/create/app-1", NULL);
	expect_empty(&r, "app: create app-1");
	rq(&r, WHO_APP, "POST", "/v1/key/create/other", NULL);
	expect_error(&r, 403, MSG_DENIED, "app: create other");
	rq(&r, WHO_APP, "POST", "/v1/key/generate/app-1", "{}");
	json_ok(&r, 200, "app: generate app-1");
	field_str(&r, "ciphertext", ct64, sizeof(ct64));
	FMT(body, "{\"ciphertext\":\"%s\"}", ct64);
	rq(&r, WHO_APP, "POST", "/v1/key/decrypt/app-1", body);
	json_ok(&r, 200, "app: decrypt app-1");
	rq(&r, WHO_APP, "POST", "/v1/key/generate/app%2D1", "{}");
	expect_status(&r, 200, "app: generate app%2D1 (patterns match the "
	    "decoded path)");
	expect_describe(&r, WHO_APP, "decl-1", srv.id[TSRV_ADMIN], NULL, 0,
	    "app: describe decl-1");
	rq(&r, WHO_APP, NULL, "/v1/key/describe/app-secret-1", NULL);
	expect_error(&r, 403, MSG_DENIED, "app: describe app-secret-1 (deny "
	    "/v1/key/describe/app-secret* over allow /v1/key/describe/*)");
	rq(&r, WHO_APP, "POST", "/v1/key/generate/app-denied", "{}");
	expect_error(&r, 403, MSG_DENIED, "app: generate app-denied (deny "
	    "over allow)");
	rq(&r, WHO_APP, "POST", "/v1/key/generate/app-denied2", "{}");
	expect_error(&r, 404, MSG_NOKEY, "app: generate app-denied2 (a deny "
	    "pattern without * is exact)");
	rq(&r, WHO_APP, "POST", "/v1/key/encrypt/app-1",
	    "{\"plaintext\":\"\"}");
	expect_error(&r, 403, MSG_DENIED, "app: encrypt (no allow rule)");
	rq(&r, WHO_APP, "PUT", "/v1/key/hmac/app-1", "{\"message\":\"\"}");
	expect_error(&r, 403, MSG_DENIED, "app: hmac");
	rq(&r, WHO_APP, "DELETE", "/v1/key/delete/app-1", NULL);
	expect_error(&r, 403, MSG_DENIED, "app: delete");
	rq(&r, WHO_APP, NULL, "/v1/key/list/", NULL);
	json_ok(&r, 200, "app: list (pattern /v1/key/list/*)");
	rq(&r, WHO_APP, NULL, "/v1/status", NULL);
	expect_error(&r, 403, MSG_DENIED, "app: /v1/status");
	rq(&r, WHO_APP, NULL, "/v1/policy/list/", NULL);
	expect_error(&r, 403, MSG_DENIED, "app: policy list");

	/* The kes:v1: API-key certificate (Ed25519, self-signed) with the
	 * default tls.auth, over TLS 1.2 and 1.3 (spec 4.4). */
	rq(&r, WHO_APIKEY, "POST", "/v1/key/create/ak-1", NULL);
	expect_empty(&r, "apikey: create ak-1");
	expect_describe(&r, WHO_APIKEY, "ak-1", apik.id, NULL, 0,
	    "apikey: describe ak-1 (created_by = the creator)");
	rq(&r, WHO_APIKEY, "POST", "/v1/key/generate/ak-1", "{}");
	json_ok(&r, 200, "apikey: generate ak-1");
	rq(&r, WHO_APIKEY, "DELETE", "/v1/key/delete/ak-1", NULL);
	expect_error(&r, 403, MSG_DENIED, "apikey: delete (denied)");
	rq(&r, WHO_APIKEY, NULL, "/v1/status", NULL);
	expect_error(&r, 403, MSG_DENIED, "apikey: /v1/status");
	v12.cert = v13.cert = apik.cert;
	v12.key = v13.key = apik.key;
	tsrv_resp_free(&r);
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/describe/ak-1", &v12, &r);
	expect_status(&r, 200, "apikey over TLS 1.2");
	tsrv_resp_free(&r);
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/describe/ak-1", &v13, &r);
	expect_status(&r, 200, "apikey over TLS 1.3");

	/* The admin may do anything. */
	rq(&r, TSRV_ADMIN, "DELETE", "/v1/key/delete/ak-1", NULL);
	expect_empty(&r, "admin: delete ak-1");

	/* Without skip_auth anywhere a certificate is required in the
	 * handshake (spec 1.1). */
	rq(&r, WHO_NOCERT, NULL, "/version", NULL);
	expect_status(&r, -1, "no client certificate: /version (handshake "
	    "refused)");
	rq(&r, WHO_NOCERT, NULL, "/v1/status", NULL);
	expect_status(&r, -1, "no client certificate: /v1/status");
	tsrv_resp_free(&r);
}

/* --- 9. skip_auth -------------------------------------------------------- */

Test(api, skip_auth)
{
	struct tsrv_cfg	 cfg = { .tls_auth = "", .extra = "api:\n"
			    "  /v1/status:\n    skip_auth: true\n" };
	struct tsrv_resp r = { 0 };
	json_t		*j;

	need_root();
	init_clients();
	start(&cfg);

	/* No certificate: the handshake completes (RequestClientCert). */
	rq(&r, WHO_NOCERT, NULL, "/v1/status", NULL);
	if ((j = expect_json(&r, 200, "no certificate: /v1/status")) != NULL) {
		cr_expect(json_is_integer(json_object_get(j, "uptime")),
		    "status body: %s", r.body);
		json_decref(j);
	}
	rq(&r, WHO_NOCERT, NULL, "/version", NULL);
	json_ok(&r, 200, "no certificate: /version");
	rq(&r, WHO_NOCERT, NULL, "/v1/key/list/", NULL);
	expect_error(&r, 400, "tls: client certificate is required",
	    "no certificate: /v1/key/list/");
	rq(&r, WHO_NOCERT, NULL, "/v1/ready", NULL);
	expect_error(&r, 400, "tls: client certificate is required",
	    "no certificate: /v1/ready");
	rq(&r, WHO_NOCERT, "PUT", "/v1/key/create/x", NULL);
	expect_error(&r, 400, "tls: client certificate is required",
	    "no certificate: create");
	/* The method check still comes first. */
	rq(&r, WHO_NOCERT, NULL, "/v1/key/create/x", NULL);
	expect_error(&r, 405, "received method 'GET' expected 'PUT'",
	    "no certificate: GET create");

	/* An unknown identity reads /v1/status, nothing else. */
	rq(&r, TSRV_NOBODY, NULL, "/v1/status", NULL);
	json_ok(&r, 200, "unknown identity: /v1/status");
	rq(&r, TSRV_NOBODY, NULL, "/v1/api", NULL);
	expect_error(&r, 403, MSG_DENIED, "unknown identity: /v1/api");
	rq(&r, TSRV_NOBODY, NULL, "/v1/key/list/", NULL);
	expect_error(&r, 403, MSG_DENIED, "unknown identity: /v1/key/list/");

	/* Everyone else as before. */
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/", NULL);
	json_ok(&r, 200, "admin: /v1/key/list/");
	rq(&r, TSRV_STATUS, NULL, "/v1/status", NULL);
	json_ok(&r, 200, "status: /v1/status");
	tsrv_resp_free(&r);
}

/* --- 10. bad input ------------------------------------------------------- */

struct bad {
	const char	*method;
	const char	*path;
	const char	*body;		/* NULL: none */
	long		 status;
	const char	*message;	/* NULL: any KES error body */
};

static void
expect_bad(struct tsrv_resp *r, const struct bad *b)
{
	char what[512], ct[128];

	FMT(what, "%s %s %.100s", b->method, b->path, b->body ? b->body : "");
	rq(r, TSRV_ADMIN, b->method, b->path, b->body);
	if (b->message != NULL) {
		expect_error(r, b->status, b->message, what);
		return;
	}
	expect_status(r, b->status, what);
	cr_expect_str_eq(hdr(r, "Content-Type", ct, sizeof(ct)),
	    "application/json", "%s: Content-Type", what);
	cr_expect(r->len > 14 && strncmp(r->body, "{\"message\":\"", 12) == 0 &&
	    strcmp(r->body + r->len - 3, "\"\n}") == 0, "%s: not a KES error "
	    "body: %s", what, r->body);
}

/* 80 bytes: the longest valid name. */
#define A10 "aaaaaaaaaa"
#define A80 A10 A10 A10 A10 A10 A10 A10 A10

Test(api, bad_input)
{
	static const struct bad cases[] = {
		/* generate: malformed JSON, wrong types, bad base64. */
		{ "PUT", "/v1/key/generate/victim", "{", 400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":5}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":\"!!!!\"}",
		    400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":\"YQ\"}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":\"YQ=\"}",
		    400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "[]", 400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "\"e30=\"", 400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":\"e30=\"", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":\"e30=\",}",
		    400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"context\":{\"a\":1}}",
		    400, MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{\"version\":5}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/generate/victim", "{'context':'e30='}", 400,
		    MSG_BODY },
		/* encrypt */
		{ "PUT", "/v1/key/encrypt/victim", "{\"plaintext\":5}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/encrypt/victim", "{\"plaintext\":\"aGk\"}",
		    400, MSG_BODY },
		{ "PUT", "/v1/key/encrypt/victim", "", 400, MSG_BODY },
		{ "PUT", "/v1/key/encrypt/victim", NULL, 400, MSG_BODY },
		/* decrypt: a missing ciphertext is an empty one. */
		{ "PUT", "/v1/key/decrypt/victim", "{}", 400, MSG_DECRYPT },
		{ "PUT", "/v1/key/decrypt/victim", "{\"context\":\"e30=\"}", 400,
		    MSG_DECRYPT },
		{ "PUT", "/v1/key/decrypt/victim", "{\"ciphertext\":null}", 400,
		    MSG_DECRYPT },
		{ "PUT", "/v1/key/decrypt/victim", "{\"ciphertext\":\"YQ\"}",
		    400, MSG_BODY },
		{ "PUT", "/v1/key/decrypt/victim", "{\"ciphertext\":true}", 400,
		    MSG_BODY },
		/* hmac */
		{ "PUT", "/v1/key/hmac/victim", "{\"message\":\"a\"}", 400,
		    MSG_BODY },
		/* Go decodes a JSON array of numbers into []byte element by
		 * element; each must fit a byte. */
		{ "PUT", "/v1/key/hmac/victim", "{\"message\":[256]}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/hmac/victim", "{\"message\":[-1]}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/hmac/victim", "{\"message\":[1.5]}", 400,
		    MSG_BODY },
		{ "PUT", "/v1/key/hmac/victim", "{\"message\":[\"a\"]}", 400,
		    MSG_BODY },
		/* import */
		{ "PUT", "/v1/key/import/fresh", "{", 400, MSG_IMPORT_BODY },
		{ "PUT", "/v1/key/import/fresh", "", 400, MSG_IMPORT_BODY },
		{ "PUT", "/v1/key/import/fresh",
		    "{\"key\":5,\"cipher\":\"AES256\"}", 400, MSG_IMPORT_BODY },
		{ "PUT", "/v1/key/import/fresh",
		    "{\"key\":\"YQ\",\"cipher\":\"AES256\"}", 400,
		    MSG_IMPORT_BODY },
		{ "PUT", "/v1/key/import/fresh",
		    "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
		    "\"cipher\":5}", 400, MSG_IMPORT_BODY },
		{ "PUT", "/v1/key/import/fresh",
		    "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==\","
		    "\"cipher\":\"AES256\"}", 406,
		    "invalid key size for 'AES256'" },		/* 31 bytes */
		{ "PUT", "/v1/key/import/fresh",
		    "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		    "\"cipher\":\"XCHACHA20-POLY1305\"}", 406,
		    "invalid key size for 'XCHACHA20-POLY1305'" },	/* 33 */
		{ "PUT", "/v1/key/import/fresh",
		    "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
		    "\"cipher\":\"aes256\"}", 406,
		    "algorithm 'aes256' is not supported" },
		/* Existing names: nothing is overwritten. */
		{ "PUT", "/v1/key/import/victim",
		    "{\"key\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\","
		    "\"cipher\":\"AES256\"}", 400, "key already exists" },
		{ "PUT", "/v1/key/create/victim", NULL, 400,
		    "key already exists" },
		/* Names (spec 1.5). */
		{ "PUT", "/v1/key/create/a..b", NULL, 400,
		    NAME_MSG("key name", "a..b") },
		{ "PUT", "/v1/key/create/a/b", NULL, 400,
		    NAME_MSG("key name", "a/b") },
		{ "PUT", "/v1/key/import/-a", "{}", 400,
		    NAME_MSG("key name", "-a") },
		{ "GET", "/v1/key/describe/-a", NULL, 404, "key does not exist" },
		{ "PUT", "/v1/key/create/a%2Fb", NULL, 400,
		    NAME_MSG("key name", "a/b") },
		{ "PUT", "/v1/key/create/a%00b", NULL, 400, NULL },
		{ "PUT", "/v1/key/create/" A80 "a", NULL, 400,
		    NAME_MSG("key name", A80 "a") },
		{ "PUT", "/v1/key/create/-a", NULL, 400,
		    NAME_MSG("key name", "-a") },
		{ "PUT", "/v1/key/create/a-", NULL, 400,
		    NAME_MSG("key name", "a-") },
		{ "PUT", "/v1/key/create/_", NULL, 400,
		    NAME_MSG("key name", "_") },
		{ "PUT", "/v1/key/create/a.b", NULL, 400,
		    NAME_MSG("key name", "a.b") },
		{ "PUT", "/v1/key/create/a%20b", NULL, 400,
		    NAME_MSG("key name", "a b") },
		{ "PUT", "/v1/key/create/a%5Cb", NULL, 400,
		    NAME_MSG("key name", "a\\b") },
		{ "PUT", "/v1/key/create/%C3%A9", NULL, 400,
		    NAME_MSG("key name", "\xc3\xa9") },
		{ "PUT", "/v1/key/create/a*", NULL, 400,
		    NAME_MSG("key name", "a*") },
		{ "PUT", "/v1/key/create/", NULL, 400,
		    NAME_MSG("key name", "") },
		/* The name is checked before the body, on every key route
		 * ("-a", which KES before 2023-11 allowed, reaches existing
		 * keys: only create and import refuse it). */
		{ "PUT", "/v1/key/import/a.b", "{", 400,
		    NAME_MSG("key name", "a.b") },
		{ "PUT", "/v1/key/generate/a.b", "{", 400,
		    NAME_MSG("key name", "a.b") },
		{ "PUT", "/v1/key/encrypt/a.b", "{", 400,
		    NAME_MSG("key name", "a.b") },
		{ "PUT", "/v1/key/decrypt/a.b", "{", 400,
		    NAME_MSG("key name", "a.b") },
		{ "PUT", "/v1/key/hmac/a.b", "{", 400,
		    NAME_MSG("key name", "a.b") },
		{ "GET", "/v1/key/describe/a.b", NULL, 400,
		    NAME_MSG("key name", "a.b") },
		{ "DELETE", "/v1/key/delete/a.b", NULL, 400,
		    NAME_MSG("key name", "a.b") },
		{ "DELETE", "/v1/key/delete/victim%2F", NULL, 400,
		    NAME_MSG("key name", "victim/") },
		/* Listing patterns. */
		{ "GET", "/v1/key/list/a*b", NULL, 400, PATTERN_MSG("a*b") },
		{ "GET", "/v1/key/list/*a", NULL, 400, PATTERN_MSG("*a") },
		{ "GET", "/v1/key/list/a**", NULL, 400, PATTERN_MSG("a**") },
		{ "GET", "/v1/key/list/a.b*", NULL, 400, PATTERN_MSG("a.b*") },
		{ "GET", "/v1/key/list/*-k1", NULL, 400, PATTERN_MSG("*-k1") },
		{ "GET", "/v1/key/list/" A80 "a", NULL, 400,
		    PATTERN_MSG(A80 "a") },
		{ "GET", "/v1/key/list/a/b", NULL, 400, PATTERN_MSG("a/b") },
	};
	/* Valid names at the edges, created and deleted again. */
	static const char *const good[] = { A80, "a_b-c", "A9", "_a", "a",
	    "0-0" };
	struct tsrv_resp r = { 0 };
	char		 before[8192], after[8192], desc[1024], desc2[1024];
	char		 ct64[256], ctx[] = "eyJidWNrZXQiOiJvYmplY3QifQ==";
	char		 body[1024], path[256], what[128], *m64;
	uint8_t		 ct[256], mut[256], pt[64];
	size_t		 i;
	long		 n;
	const struct { const char *what; size_t at; int op; } muts[] = {
		/* op: 0 flip bit 0, 1 flip bit 7, 2 delete the byte */
		{ "sealed bytes", 0, 0 }, { "sealed bytes", 31, 1 },
		{ "tag", 32, 0 }, { "tag", 47, 1 },
		{ "iv", 48, 0 }, { "iv", 63, 1 },
		{ "nonce", 64, 0 }, { "nonce", 75, 1 },
		{ "sealed bytes", 5, 2 }, { "tag", 40, 2 },
		{ "iv", 55, 2 }, { "nonce", 75, 2 },
	};

	start_std();
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/victim", NULL);
	expect_empty(&r, "create victim");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/other", NULL);
	expect_empty(&r, "create other");
	FMT(body, "{\"context\":\"%s\"}", ctx);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/victim", body);
	cr_assert_eq(r.status, 200, "generate victim: %s", r.body);
	cr_assert_eq(field_bytes(&r, "ciphertext", ct, sizeof(ct)), 76);
	field_str(&r, "ciphertext", ct64, sizeof(ct64));
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/victim", NULL);
	FMT(desc, "%s", r.body);
	store(before, sizeof(before));

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_bad(&r, &cases[i]);

	/* What Go's decoder accepts: null (nothing decoded) and arrays of
	 * numbers for []byte. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/victim", "null");
	json_ok(&r, 200, "generate with the body null (Go's Decode "
	    "leaves the request empty)");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/encrypt/victim",
	    "{\"plaintext\":\"aGk=\",\"context\":[]}");
	json_ok(&r, 200, "encrypt with the context [] (an empty []byte)");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/hmac/victim",
	    "{\"message\":[104,105]}");
	json_ok(&r, 200, "hmac of the message [104,105]");
	cr_expect_eq(field_bytes(&r, "hmac", mut, sizeof(mut)), 32);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/hmac/victim",
	    "{\"message\":\"aGk=\"}");
	cr_expect_eq(field_bytes(&r, "hmac", pt, sizeof(pt)), 32);
	cr_expect_eq(memcmp(mut, pt, 32), 0, "[104,105] and \"aGk=\" are "
	    "the same message to Go");

	/* Each region of a raw ciphertext (spec 5.3) changed. */
	for (i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		memcpy(mut, ct, 76);
		n = 76;
		if (muts[i].op == 2) {
			memmove(mut + muts[i].at, mut + muts[i].at + 1,
			    75 - muts[i].at);
			n = 75;
		} else
			mut[muts[i].at] ^= muts[i].op ? 0x80 : 0x01;
		m64 = b64enc(mut, n);
		FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}", m64,
		    ctx);
		FMT(what, "decrypt, %s byte %zu %s", muts[i].what, muts[i].at,
		    muts[i].op == 2 ? "deleted" : "bit-flipped");
		rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/victim", body);
		expect_error(&r, 400, MSG_DECRYPT, what);
		free(m64);
	}
	/* Truncated to fewer regions, extended, a first byte that looks
	 * like a legacy format (spec 5.4). */
	{
		const size_t lens[] = { 64, 48, 29, 28, 1, 77 };

		for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			memcpy(mut, ct, 76);
			mut[76] = 0;
			m64 = b64enc(mut, lens[i]);
			FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}",
			    m64, ctx);
			FMT(what, "decrypt, ciphertext of %zu bytes", lens[i]);
			rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/victim",
			    body);
			expect_error(&r, 400, MSG_DECRYPT, what);
			free(m64);
		}
		/* ('{', the JSON format's first byte: legacy_ciphertexts.) */
		for (i = 1; i < 2; i++) {
			/* A raw ciphertext begins with 0x95 by chance once
			 * in 256: then nothing is changed and it must
			 * decrypt (the fallback to raw), as it did. */
			if (ct[0] == (i ? 0x95 : 0x7b))
				continue;
			memcpy(mut, ct, 76);
			mut[0] = i ? 0x95 : 0x7b;
			m64 = b64enc(mut, 76);
			FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}",
			    m64, ctx);
			FMT(what, "decrypt, first byte %#x", mut[0]);
			rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/victim",
			    body);
			expect_error(&r, 400, MSG_DECRYPT, what);
			free(m64);
		}
	}
	/* The context is authenticated; so is the key. */
	FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"e30=\"}", ct64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/victim", body);
	expect_error(&r, 400, MSG_DECRYPT, "decrypt with a wrong context");
	FMT(body, "{\"ciphertext\":\"%s\"}", ct64);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/victim", body);
	expect_error(&r, 400, MSG_DECRYPT, "decrypt without the context");
	FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}", ct64, ctx);
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/other", body);
	expect_error(&r, 400, MSG_DECRYPT, "decrypt under another key");

	/* Nothing was created, changed or lost. */
	store(after, sizeof(after));
	cr_expect_str_eq(after, before, "the key store changed:\n%s\nwas:\n%s",
	    after, before);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/victim", NULL);
	FMT(desc2, "%s", r.body);
	cr_expect_str_eq(desc2, desc, "victim changed");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/victim", body);
	json_ok(&r, 200, "the original ciphertext still opens");
	cr_expect_eq(field_bytes(&r, "plaintext", pt, sizeof(pt)), 32);
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/describe/fresh", NULL);
	expect_error(&r, 404, MSG_NOKEY, "no failed import created fresh");

	/* The edges of validName are accepted. */
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		FMT(path, "/v1/key/create/%s", good[i]);
		FMT(what, "create %s", good[i]);
		rq(&r, TSRV_ADMIN, "PUT", path, NULL);
		expect_empty(&r, what);
		FMT(path, "/v1/key/delete/%s", good[i]);
		rq(&r, TSRV_ADMIN, "DELETE", path, NULL);
		expect_empty(&r, what);
	}
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/vic*", NULL);
	json_ok(&r, 200, "list vic* (a trailing * is valid)");
	store(after, sizeof(after));
	cr_expect_str_eq(after, before, "the key store changed:\n%s\nwas:\n%s",
	    after, before);
	expect_crypto_alive("the bad input");
	tsrv_resp_free(&r);
}

/* --- 11. legacy ciphertext formats --------------------------------------- */

/*
 * Spec 5.4: the JSON (KES <= v0.19.1) and msgpack (v0.19.2 - 2024-01)
 * forms of a ciphertext decrypt like the raw one they carry. Built here
 * from a raw ciphertext the server made: sealed || iv(16) || nonce(12).
 */
static char *
as_json(const uint8_t *ct, size_t n, const char *aead, const char *id)
{
	char	*iv = b64enc(ct + n - 28, 16), *nonce = b64enc(ct + n - 12, 12);
	char	*sealed = b64enc(ct, n - 28), text[1024], *out;

	snprintf(text, sizeof(text), "{\"aead\":\"%s\",%s%s%s\"iv\":\"%s\","
	    "\"nonce\":\"%s\",\"bytes\":\"%s\"}", aead, id ? "\"id\":\"" : "",
	    id ? id : "", id ? "\"," : "", iv, nonce, sealed);
	out = b64enc(text, strlen(text));
	free(iv);
	free(nonce);
	free(sealed);
	return out;
}

/* 0x95, str algorithm, str id, bin iv, bin nonce, bin sealed. */
static char *
as_msgpack(const uint8_t *ct, size_t n, const char *alg, const char *id)
{
	uint8_t	 m[512];
	size_t	 o = 0;

	m[o++] = 0x95;
	m[o++] = 0xa0 | (uint8_t)strlen(alg);
	memcpy(m + o, alg, strlen(alg));
	o += strlen(alg);
	if (strlen(id) < 32) {
		m[o++] = 0xa0 | (uint8_t)strlen(id);
	} else {
		m[o++] = 0xd9;
		m[o++] = (uint8_t)strlen(id);
	}
	memcpy(m + o, id, strlen(id));
	o += strlen(id);
	m[o++] = 0xc4;
	m[o++] = 16;
	memcpy(m + o, ct + n - 28, 16);
	o += 16;
	m[o++] = 0xc4;
	m[o++] = 12;
	memcpy(m + o, ct + n - 12, 12);
	o += 12;
	m[o++] = 0xc4;
	m[o++] = (uint8_t)(n - 28);
	memcpy(m + o, ct, n - 28);
	o += n - 28;
	return b64enc(m, o);
}

static void
expect_opens(struct tsrv_resp *r, const char *key, const char *ct64,
    const char *ctx, const char *dek64, const char *what)
{
	char body[2048], path[128], want[256];

	FMT(path, "/v1/key/decrypt/%s", key);
	FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}", ct64, ctx);
	rq(r, TSRV_ADMIN, "PUT", path, body);
	if (dek64 == NULL) {
		expect_error(r, 400, MSG_DECRYPT, what);
		return;
	}
	json_ok(r, 200, what);
	FMT(want, "{\"plaintext\":\"%s\"}\n", dek64);
	expect_body(r, want, what);
}

Test(api, legacy_ciphertexts)
{
	struct tsrv_resp r = { 0 };
	uint8_t		 key[32], ct[2][256], sum[32];
	char		 body[512], id[33], dek64[2][128], path[128],
			 ctx[] = "e30=", *b64, *c;
	const char	*names[2] = { "l-aes", "l-chacha" };
	const char	*ciphers[2] = { "AES256", "ChaCha20" };
	const char	*aead[2] = { "AES-256-GCM-HMAC-SHA-256",
			    "ChaCha20Poly1305" };
	const char	*mp_old[2] = { "AES256-GCM_SHA256",
			    "XCHACHA20-POLY1305" };
	size_t		 i, k;

	start_std();
	cr_assert_eq(RAND_bytes(key, sizeof(key)), 1);
	b64 = b64enc(key, sizeof(key));
	SHA256(key, sizeof(key), sum);
	for (i = 0; i < 16; i++)
		snprintf(id + 2 * i, 3, "%02x", sum[i]);

	for (k = 0; k < 2; k++) {
		FMT(body, "{\"key\":\"%s\",\"cipher\":\"%s\"}", b64, ciphers[k]);
		FMT(path, "/v1/key/import/%s", names[k]);
		rq(&r, TSRV_ADMIN, "PUT", path, body);
		expect_empty(&r, names[k]);
		FMT(body, "{\"context\":\"%s\"}", ctx);
		FMT(path, "/v1/key/generate/%s", names[k]);
		rq(&r, TSRV_ADMIN, "PUT", path, body);
		cr_assert_eq(r.status, 200, "generate %s: %s", names[k],
		    r.body);
		cr_assert_eq(field_bytes(&r, "ciphertext", ct[k],
		    sizeof(ct[k])), 76);
		field_str(&r, "plaintext", dek64[k], sizeof(dek64[k]));
	}

	/* msgpack: both generations of algorithm names, with and without
	 * the key id. */
	for (k = 0; k < 2; k++) {
		c = as_msgpack(ct[k], 76, mp_old[k], id);
		expect_opens(&r, names[k], c, ctx, dek64[k], mp_old[k]);
		free(c);
		c = as_msgpack(ct[k], 76, ciphers[k], "");
		expect_opens(&r, names[k], c, ctx, dek64[k], ciphers[k]);
		free(c);
		ct[k][3] ^= 1;
		c = as_msgpack(ct[k], 76, ciphers[k], "");
		expect_opens(&r, names[k], c, ctx, NULL, "msgpack, bit "
		    "flipped");
		free(c);
		ct[k][3] ^= 1;
	}
	expect_crypto_alive("a msgpack ciphertext");

	/* JSON, with and without the id. */
	for (k = 0; k < 2; k++) {
		c = as_json(ct[k], 76, aead[k], NULL);
		expect_opens(&r, names[k], c, ctx, dek64[k], aead[k]);
		free(c);
		c = as_json(ct[k], 76, aead[k], id);
		expect_opens(&r, names[k], c, ctx, dek64[k], "JSON with an "
		    "id");
		free(c);
		ct[k][3] ^= 1;
		c = as_json(ct[k], 76, aead[k], NULL);
		expect_opens(&r, names[k], c, ctx, NULL, "JSON, bit flipped");
		free(c);
	}
	/* Not a JSON ciphertext: '{' first, then nothing that fits. */
	expect_opens(&r, "l-aes", "e30=", ctx, NULL, "the ciphertext {}");
	expect_opens(&r, "l-aes", "eyJhZWFkIjoiQUVTLTI1Ni1HQ00tSE1BQy1TSEEt"
	    "MjU2In0=", ctx, NULL, "{\"aead\":\"AES-256-GCM-HMAC-SHA-256\"}");
	expect_opens(&r, "l-aes", "eyJ4Ijo=", ctx, NULL, "the ciphertext "
	    "{\"x\":");
	expect_crypto_alive("a JSON ciphertext");
	free(b64);
	tsrv_resp_free(&r);
}

/* --- 12. declarative keys ------------------------------------------------ */

/* keys: in the configuration (spec 5.1, 7.1): created at start by the
 * admin identity, kept across reloads and restarts. */
Test(api, declarative_keys)
{
	struct tsrv_cfg	 cfg = { .tls_auth = "", .extra = STD_EXTRA
			    "  - name: decl-3\n" };
	struct tsrv_resp r = { 0 };
	char		 at1[128], at2[128], at3[128], st[8192], needle[64],
			 body[512], ct64[256];
	int		 status;

	start_std();
	expect_describe(&r, TSRV_ADMIN, "decl-1", srv.id[TSRV_ADMIN], at1,
	    sizeof(at1), "describe decl-1");
	expect_describe(&r, TSRV_ADMIN, "decl-2", srv.id[TSRV_ADMIN], at2,
	    sizeof(at2), "describe decl-2");
	rq(&r, TSRV_ADMIN, NULL, "/v1/key/list/decl", NULL);
	json_ok(&r, 200, "list decl");
	expect_body(&r, "{\"names\":[\"decl-1\",\"decl-2\"]}\n", "list decl");
	store(st, sizeof(st));
	cr_expect_str_eq(st, "decl-1\ndecl-2", "the store after the start");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/decl-1", "{}");
	json_ok(&r, 200, "generate with decl-1");
	field_str(&r, "ciphertext", ct64, sizeof(ct64));
	FMT(body, "{\"ciphertext\":\"%s\"}", ct64);

	/* A reload does not recreate them. */
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "configuration reloaded", 1, 5000),
	    0, "log:\n%s", tsrv_log_tail(&srv));
	expect_describe(&r, TSRV_ADMIN, "decl-1", srv.id[TSRV_ADMIN], at3,
	    sizeof(at3), "describe decl-1 after a reload");
	cr_expect_str_eq(at3, at1, "decl-1 was created again by the reload");

	/* A restart with one more: the old ones stay as they are. */
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0);
	cfg.policies = std_policies();
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	FMT(needle, "serving on 127.0.0.1:%d ", srv.port);
	cr_assert_eq(tsrv_wait_log(&srv, needle, 2, READY_MS), 0,
	    "the restart did not serve; log:\n%s", tsrv_log_tail(&srv));
	cr_assert_eq(tsrv_wait_log(&srv, "created key 'decl-3'", 1, 5000), 0,
	    "log:\n%s", tsrv_log_tail(&srv));
	expect_describe(&r, TSRV_ADMIN, "decl-1", srv.id[TSRV_ADMIN], at3,
	    sizeof(at3), "describe decl-1 after a restart");
	cr_expect_str_eq(at3, at1, "decl-1 was created again by the restart");
	expect_describe(&r, TSRV_ADMIN, "decl-3", srv.id[TSRV_ADMIN], NULL, 0,
	    "describe decl-3 after a restart");
	cr_expect_eq(tsrv_log_count(&srv, "created key 'decl-1'"), 1,
	    "log:\n%s", tsrv_log_tail(&srv));
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/decrypt/decl-1", body);
	json_ok(&r, 200, "decrypt with decl-1 after the restart");
	store(st, sizeof(st));
	cr_expect_str_eq(st, "decl-1\ndecl-2\ndecl-3", "the store after the "
	    "restart");
	tsrv_resp_free(&r);
}

/* --- 13. a MinIO session ------------------------------------------------- */

/*
 * What MinIO does with its KMS identity (spec 8.4): startup probe on a
 * missing default key, create, generate, decrypt, describe every 10 s,
 * list, HMAC for root credentials. The identity has exactly what spec
 * 4.3 lists for MinIO.
 */
Test(api, minio_session)
{
	static const char *const json[] = {
	    "Content-Type: application/json", NULL };
	static const char *const noctype[] = { "Content-Type:", NULL };
	struct tsrv_resp r = { 0 };
	char		 more[2048], body[1024], ct64[256], dek64[128],
			 want[256], desc[1024], ctx64[256], *b64;
	uint8_t		 mac1[64], mac2[64], dek[64];
	const char	*adminctx = "{\"MinIO admin API\":\"KMSKeyStatusHandler\"}";
	int		 i;

	need_root();
	init_clients();
	cr_assert_eq(tsrv_make_client(&srv, "minio", &minio), 0);
	FMT(more,
	    "  minio:\n"
	    "    allow:\n"
	    "      - /v1/key/create/minio-default\n"
	    "      - /v1/key/generate/*\n"
	    "      - /v1/key/decrypt/*\n"
	    "      - /v1/key/describe/minio-default\n"
	    "      - /v1/key/list/*\n"
	    "      - /v1/key/hmac/minio-default\n"
	    "      - /v1/status\n"
	    "      - /v1/api\n"
	    "    identities:\n"
	    "      - %s\n", minio.id);
	start_std_with(more);

	/* Startup: generate on the default key; 404 means create it. */
	rqx(&r, WHO_MINIO, "POST", "/v1/key/generate/minio-default",
	    "{\"context\":\"e30=\"}", 18, json);
	expect_error(&r, 404, MSG_NOKEY, "startup generate on a missing key");
	expect_body(&r, "{\"message\":\"key does not exist\"\n}",
	    "the exact 404 MinIO compares against");
	rqx(&r, WHO_MINIO, "POST", "/v1/key/create/minio-default", NULL, 0,
	    json);
	expect_empty(&r, "create the default key");
	rqx(&r, WHO_MINIO, "POST", "/v1/key/create/minio-default", NULL, 0,
	    json);
	expect_error(&r, 400, "key already exists", "a second MinIO node "
	    "creates it too");

	rqx(&r, WHO_MINIO, "POST", "/v1/key/generate/minio-default",
	    "{\"context\":\"e30=\"}", 18, json);
	json_ok(&r, 200, "startup generate");
	cr_expect_eq(field_bytes(&r, "plaintext", dek, sizeof(dek)), 32,
	    "MinIO needs a 32-byte DEK");
	field_str(&r, "ciphertext", ct64, sizeof(ct64));
	field_str(&r, "plaintext", dek64, sizeof(dek64));
	FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"e30=\"}", ct64);
	rqx(&r, WHO_MINIO, "POST", "/v1/key/decrypt/minio-default", body,
	    strlen(body), json);
	json_ok(&r, 200, "decrypt");
	FMT(want, "{\"plaintext\":\"%s\"}\n", dek64);
	expect_body(&r, want, "decrypt gives the DEK back");

	/* The readiness probe and the admin key-status call. */
	rqx(&r, WHO_MINIO, "POST", "/v1/key/generate/minio-default",
	    "{\"context\":\"eyJoZWFsdGhjaGVjayI6IiJ9\"}", 38, json);
	json_ok(&r, 200, "readiness probe generate");
	b64 = b64enc(adminctx, strlen(adminctx));
	FMT(ctx64, "%s", b64);
	free(b64);
	FMT(body, "{\"context\":\"%s\"}", ctx64);
	rqx(&r, WHO_MINIO, "POST", "/v1/key/generate/minio-default", body,
	    strlen(body), json);
	json_ok(&r, 200, "key-status generate");
	field_str(&r, "ciphertext", ct64, sizeof(ct64));
	field_str(&r, "plaintext", dek64, sizeof(dek64));
	FMT(body, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}", ct64, ctx64);
	rqx(&r, WHO_MINIO, "POST", "/v1/key/decrypt/minio-default", body,
	    strlen(body), json);
	FMT(want, "{\"plaintext\":\"%s\"}\n", dek64);
	expect_body(&r, want, "key-status decrypt");

	/* Describe every 10 s: the same answer each time. */
	expect_describe(&r, WHO_MINIO, "minio-default", minio.id, NULL, 0,
	    "describe the default key");
	FMT(desc, "%s", r.body);
	for (i = 0; i < 3; i++) {
		rq(&r, WHO_MINIO, NULL, "/v1/key/describe/minio-default",
		    NULL);
		expect_body(&r, desc, "describe again");
	}

	/* Admin "list keys": with a prefix, and via the redirect. */
	rq(&r, WHO_MINIO, NULL, "/v1/key/list/minio", NULL);
	json_ok(&r, 200, "list minio");
	expect_body(&r, "{\"names\":[\"minio-default\"]}\n", "list minio");
	expect_301(&r, WHO_MINIO, NULL, "/v1/key/list", "/v1/key/list/", NULL);
	rq(&r, WHO_MINIO, NULL, "/v1/key/list/", NULL);
	json_ok(&r, 200, "list after the redirect");

	/* Root credentials: PUT, no Content-Type (kms-go). */
	rqx(&r, WHO_MINIO, "PUT", "/v1/key/hmac/minio-default",
	    "{\"message\":\"cm9vdCBhY2Nlc3Mga2V5\"}", 34, noctype);
	json_ok(&r, 200, "hmac 'root access key'");
	cr_expect_eq(field_bytes(&r, "hmac", mac1, sizeof(mac1)), 32);
	cr_expect(strstr(r.head, "Content-Type: application/json") != NULL);
	rqx(&r, WHO_MINIO, "PUT", "/v1/key/hmac/minio-default",
	    "{\"message\":\"cm9vdCBhY2Nlc3Mga2V5\"}", 34, noctype);
	cr_expect_eq(field_bytes(&r, "hmac", mac2, sizeof(mac2)), 32);
	cr_expect_eq(memcmp(mac1, mac2, 32), 0, "the same root access key "
	    "twice");
	rqx(&r, WHO_MINIO, "PUT", "/v1/key/hmac/minio-default",
	    "{\"message\":\"cm9vdCBzZWNyZXQga2V5\"}", 34, noctype);
	cr_expect_eq(field_bytes(&r, "hmac", mac2, sizeof(mac2)), 32);
	cr_expect_neq(memcmp(mac1, mac2, 32), 0, "access and secret key are "
	    "the same");

	/* Admin status and API listing; nothing else. */
	rq(&r, WHO_MINIO, NULL, "/v1/status", NULL);
	json_ok(&r, 200, "MinIO: /v1/status");
	rq(&r, WHO_MINIO, NULL, "/v1/api", NULL);
	json_ok(&r, 200, "MinIO: /v1/api");
	rq(&r, WHO_MINIO, NULL, "/version", NULL);
	json_ok(&r, 200, "MinIO: /version");
	rqx(&r, WHO_MINIO, "POST", "/v1/key/create/other", NULL, 0, json);
	expect_error(&r, 403, MSG_DENIED, "MinIO: create another key");
	rq(&r, WHO_MINIO, "DELETE", "/v1/key/delete/minio-default", NULL);
	expect_error(&r, 403, MSG_DENIED, "MinIO: delete");
	tsrv_resp_free(&r);
}

/* --- 14. log streams ----------------------------------------------------- */

/* The Content-Type of a raw response head. */
static bool
head_ct(const char *head, char *out, size_t len)
{
	struct tsrv_resp fake = { .head = (char *)head };

	return tsrv_resp_header(&fake, "Content-Type", out, len) == 1;
}

/* The line of body that contains needle, into out. */
static bool
line_with(const char *body, const char *needle, char *out, size_t len)
{
	const char	*p = strstr(body, needle), *s, *e;

	if (p == NULL)
		return false;
	for (s = p; s > body && s[-1] != '\n'; s--)
		;
	if ((e = strchr(p, '\n')) == NULL)
		return false;		/* not complete yet */
	snprintf(out, len, "%.*s", (int)(e - s), s);
	return true;
}

Test(api, log_streams)
{
	struct tsrv_resp	 r = { 0 };
	struct tsrv_stream	*audit, *errs;
	char			 line[4096], ct[128], body[512], ctx64[128],
				 pt64[128], ct64[256], *b64, *p;
	const char		*ctxs = "{\"secret-context\":\"marker\"}";
	json_t			*j, *req, *res;
	json_error_t		 jerr;
	long			 status;
	uint64_t		 t0;
	bool			 seen = false;

	start_std();
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/audit-k", NULL);
	expect_empty(&r, "create audit-k");

	/* Only an allowed identity subscribes. */
	rq(&r, TSRV_NOBODY, NULL, "/v1/log/audit", NULL);
	expect_error(&r, 403, MSG_DENIED, "unknown identity: audit stream");

	audit = tsrv_stream_open(&srv, TSRV_ADMIN, "/v1/log/audit", NULL,
	    &status);
	cr_assert_not_null(audit, "GET /v1/log/audit: no response head");
	cr_expect_eq(status, 200, "GET /v1/log/audit: %ld", status);
	cr_expect(head_ct(tsrv_stream_head(audit), ct, sizeof(ct)) &&
	    strcmp(ct, "application/x-ndjson") == 0, "audit stream "
	    "Content-Type \"%s\"", ct);

	/* A generate whose event must arrive while the stream is open (the
	 * subscription reaches the other worker through the parent, so
	 * repeat until one shows up). */
	b64 = b64enc(ctxs, strlen(ctxs));
	FMT(ctx64, "%s", b64);
	free(b64);
	FMT(body, "{\"context\":\"%s\"}", ctx64);
	t0 = tsrv_now_ms();
	while (!seen && tsrv_now_ms() - t0 < 5000) {
		rq(&r, WHO_APP, "PUT", "/v1/key/generate/app-audit", body);
		rq(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/audit-k", body);
		cr_assert_eq(r.status, 200, "generate audit-k: %s", r.body);
		seen = tsrv_stream_wait(audit,
		    "\"path\":\"/v1/key/generate/audit-k\"", 300) == 0 &&
		    tsrv_stream_wait(audit, "}\n", 300) == 0;
	}
	cr_assert(seen, "no audit event for /v1/key/generate/audit-k within "
	    "5 s; stream so far: %.2000s", tsrv_stream_body(audit));
	field_str(&r, "plaintext", pt64, sizeof(pt64));
	field_str(&r, "ciphertext", ct64, sizeof(ct64));
	/* The first event of a generate on audit-k; the checks for key
	 * material below cover the whole stream. */
	cr_assert(line_with(tsrv_stream_body(audit),
	    "\"path\":\"/v1/key/generate/audit-k\"", line, sizeof(line)));
	j = json_loads(line, 0, &jerr);
	cr_assert_not_null(j, "audit event is not JSON: %s", line);
	req = json_object_get(j, "request");
	res = json_object_get(j, "response");
	cr_expect_eq(json_object_size(j), 3, "audit event fields: %s", line);
	cr_expect(strncmp(line, "{\"time\":\"", 9) == 0 &&
	    strstr(line, "\"request\":{") < strstr(line, "\"response\":{"),
	    "audit event order time, request, response: %s", line);
	expect_recent_time(jstr(j, "time"), "audit event time");
	cr_expect_str_eq(jstr(req, "path"), "/v1/key/generate/audit-k");
	cr_expect_str_eq(jstr(req, "method"), "PUT", "audit method: %s", line);
	cr_expect_str_eq(jstr(req, "route"), "/v1/key/generate/",
	    "audit route: %s", line);
	cr_expect_str_eq(jstr(req, "key"), "audit-k", "audit key: %s", line);
	cr_expect_str_eq(jstr(req, "identity"), srv.id[TSRV_ADMIN],
	    "audit identity: %s", line);
	cr_expect_str_eq(jstr(req, "ip"), "127.0.0.1", "audit ip: %s", line);
	cr_expect(json_is_integer(json_object_get(res, "code")) &&
	    json_integer_value(json_object_get(res, "code")) == 200,
	    "audit code: %s", line);
	cr_expect(json_is_integer(json_object_get(res, "time")) &&
	    json_integer_value(json_object_get(res, "time")) >= 0,
	    "audit response.time (milliseconds): %s", line);
	json_decref(j);
	/* No key material, DEK, ciphertext or context in any event. */
	p = (char *)tsrv_stream_body(audit);
	cr_expect_null(strstr(p, pt64), "the DEK is in the audit stream");
	cr_expect_null(strstr(p, ct64), "the ciphertext is in the audit "
	    "stream");
	cr_expect_null(strstr(p, ctx64), "the request body is in the audit "
	    "stream");
	cr_expect_null(strstr(p, "plaintext"), "\"plaintext\" in the audit "
	    "stream");
	/* The app's denied-or-missing call is there with its identity and
	 * code. */
	if (line_with(p, "\"path\":\"/v1/key/generate/app-audit\"", line,
	    sizeof(line))) {
		cr_expect_not_null(strstr(line, app.id), "app's identity: %s",
		    line);
		cr_expect_not_null(strstr(line, "\"code\":404"), "app's "
		    "generate of a missing key: %s", line);
	} else
		cr_expect_fail("no event for app's generate: %.2000s", p);

	/* The error stream: a reload logs, the line arrives. */
	errs = tsrv_stream_open(&srv, TSRV_ADMIN, "/v1/log/error", NULL,
	    &status);
	cr_assert_not_null(errs, "GET /v1/log/error: no response head");
	cr_expect_eq(status, 200, "GET /v1/log/error: %ld", status);
	cr_expect(head_ct(tsrv_stream_head(errs), ct, sizeof(ct)) &&
	    strcmp(ct, "application/x-ndjson") == 0, "error stream "
	    "Content-Type \"%s\"", ct);
	/* The subscription reaches the parent asynchronously: reload until
	 * a line arrives. */
	for (seen = false, t0 = tsrv_now_ms(); !seen &&
	    tsrv_now_ms() - t0 < 5000; ) {
		cr_assert_eq(kill(srv.pid, SIGHUP), 0);
		seen = tsrv_stream_wait(errs, "configuration reloaded",
		    1000) == 0;
	}
	cr_expect(seen, "no \"configuration reloaded\" on /v1/log/error: "
	    "%.2000s", tsrv_stream_body(errs));
	if (tsrv_stream_wait(errs, "\n", 1000) == 0 &&
	    line_with(tsrv_stream_body(errs), "configuration reloaded", line,
	    sizeof(line))) {
		j = json_loads(line, 0, &jerr);
		cr_expect(j != NULL && json_object_size(j) == 1 &&
		    json_is_string(json_object_get(j, "message")),
		    "error event must be {\"message\":\"<line>\"}: %s", line);
		cr_expect(strncmp(line, "{\"message\":\"", 12) == 0,
		    "error event: %s", line);
		json_decref(j);
	}

	/* Delivered events are counted (spec 10.1). */
	rq(&r, TSRV_ADMIN, NULL, "/v1/metrics", NULL);
	p = strstr(r.body, "\nkes_log_audit_events ");
	cr_expect(p != NULL && strtod(p + 22, NULL) >= 1, "kes_log_audit_"
	    "events after events were streamed: %.200s", p ? p : "absent");
	tsrv_stream_close(errs);
	tsrv_stream_close(audit);

	/* The server copes with subscribers that left. */
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/audit-k", "{}");
	json_ok(&r, 200, "generate after the streams closed");
	tsrv_resp_free(&r);
}

/*
 * The audit line on stdout (spec 10.2; on by default): one per request,
 * with route, key, identity and status, never the body; `log.audit: off`
 * silences it.
 */
static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	return size * n;
}

/*
 * res.time is the request's own time: on a kept-alive connection the
 * pause before a request is not part of it.
 */
static void
expect_time_excludes_idle(void)
{
	char		 url[128];
	const char	*log, *p, *last = NULL;
	long		 reused = -1;
	unsigned long	 ms = 0;
	CURL		*h;
	int		 i;

	FMT(url, "https://127.0.0.1:%d/v1/api", srv.port);
	cr_assert_not_null(h = curl_easy_init());
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SSLCERT, srv.cert[TSRV_ADMIN]);
	curl_easy_setopt(h, CURLOPT_SSLKEY, srv.key[TSRV_ADMIN]);
	curl_easy_setopt(h, CURLOPT_CAINFO, srv.ca);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	for (i = 0; i < 2; i++) {
		if (i == 1)
			tsrv_sleep_ms(1300);
		cr_assert_eq(curl_easy_perform(h), CURLE_OK);
	}
	curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &reused);
	curl_easy_cleanup(h);
	cr_assert_eq(reused, 0, "the second request opened a new connection");
	cr_assert_eq(tsrv_wait_log(&srv, "req.path=\"/v1/api\"", 2, 3000), 0,
	    "log:\n%s", tsrv_log_tail(&srv));
	log = tsrv_log_tail(&srv);
	for (p = log; (p = strstr(p, "req.path=\"/v1/api\"")) != NULL; p++)
		last = p;
	cr_assert_not_null(last);
	cr_assert_not_null(p = strstr(last, "res.time="));
	ms = strtoul(p + 9, NULL, 10);
	cr_expect_lt(ms, 1000, "res.time=%lums for a request sent after "
	    "1.3 s of keep-alive idleness: the idle time was counted", ms);
}

Test(api, audit_lines)
{
	struct tsrv_resp	 r = { 0 };
	struct tsrv_cfg		 cfg = { .tls_auth = "" };
	char			 want[512], ctx[] = "{\"context\":\"c2VjcmV0\"}";
	const char		*log;

	start_std();
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/line-k", NULL);
	expect_empty(&r, "create line-k");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/generate/line-k", ctx);
	json_ok(&r, 200, "generate line-k");
	FMT(want, "msg=audit req.method=PUT req.path=\"/v1/key/generate/"
	    "line-k\" req.ip=127.0.0.1 req.route=/v1/key/generate/ "
	    "req.key=\"line-k\" req.identity=%s res.code=200",
	    srv.id[TSRV_ADMIN]);
	cr_expect_eq(tsrv_wait_log(&srv, want, 1, 3000), 0, "no audit line "
	    "%s; log:\n%s", want, tsrv_log_tail(&srv));
	rq(&r, TSRV_NOBODY, NULL, "/v1/key/describe/line-k", NULL);
	FMT(want, "req.path=\"/v1/key/describe/line-k\" req.ip=127.0.0.1 "
	    "req.route=/v1/key/describe/ req.key=\"line-k\" req.identity=%s "
	    "res.code=403", srv.id[TSRV_NOBODY]);
	cr_expect_eq(tsrv_wait_log(&srv, want, 1, 3000), 0, "no audit line "
	    "for a refused request; log:\n%s", tsrv_log_tail(&srv));
	log = tsrv_log_tail(&srv);
	cr_expect_null(strstr(log, "c2VjcmV0"), "the request body is in the "
	    "audit lines");
	cr_expect_null(strstr(log, r.body), "a response is in the log");
	expect_time_excludes_idle();
	tsrv_cleanup(&srv);

	/* log.audit: off: requests are still answered, no audit lines. */
	init_clients();
	cfg.audit = "off";
	start(&cfg);
	rq(&r, TSRV_ADMIN, NULL, "/v1/status", NULL);
	json_ok(&r, 200, "status with log.audit off");
	rq(&r, TSRV_ADMIN, NULL, "/version", NULL);
	json_ok(&r, 200, "version with log.audit off");
	tsrv_sleep_ms(300);
	cr_expect_eq(tsrv_log_count(&srv, "msg=audit"), 0, "audit lines with "
	    "log.audit off:\n%s", tsrv_log_tail(&srv));
	tsrv_resp_free(&r);
}

/*
 * admin.identity: disabled (spec 4.2): the identity that used to be admin
 * is an unknown identity now; policies still work; the identity list does
 * not show "disabled".
 */
Test(api, admin_disabled)
{
	struct tsrv_resp	 r = { 0 };
	struct tsrv_cfg		 cfg = { .tls_auth = "", .admin = "disabled" };
	char			 pol[1024];

	need_root();
	init_clients();
	FMT(pol, "  app:\n    allow:\n      - /v1/identity/list/*\n"
	    "      - /v1/key/create/app-*\n    identities:\n      - %s\n",
	    app.id);
	cfg.policies = pol;
	start(&cfg);
	rq(&r, TSRV_ADMIN, NULL, "/v1/status", NULL);
	expect_error(&r, 403, MSG_DENIED, "former admin: /v1/status");
	rq(&r, TSRV_ADMIN, "PUT", "/v1/key/create/x", NULL);
	expect_error(&r, 403, MSG_DENIED, "former admin: create");
	rq(&r, TSRV_STATUS, NULL, "/v1/status", NULL);
	json_ok(&r, 200, "status client with admin disabled");
	rq(&r, WHO_APP, "PUT", "/v1/key/create/app-1", NULL);
	expect_empty(&r, "app: create app-1 with admin disabled");
	rq(&r, WHO_APP, NULL, "/v1/identity/list/", NULL);
	json_ok(&r, 200, "identity list with admin disabled");
	cr_expect_null(strstr(r.body, "disabled"), "identity list: %s",
	    r.body);
	cr_expect_null(strstr(r.body, srv.id[TSRV_ADMIN]), "identity list "
	    "shows the former admin: %s", r.body);
	tsrv_resp_free(&r);
}

/*
 * Expect: 100-continue (RFC 9110 10.1.1): the interim 100 comes before the
 * final answer; a body over the limit gets no 100, only its 400.
 */
Test(api, expect_continue)
{
	static const char ok[] =
	    "PUT /v1/key/generate/decl-1 HTTP/1.1\r\nHost: k\r\n"
	    "Expect: 100-continue\r\nContent-Length: 18\r\n"
	    "Connection: close\r\n\r\n{\"context\":\"e30=\"}";
	static const char big[] =
	    "PUT /v1/key/generate/decl-1 HTTP/1.1\r\nHost: k\r\n"
	    "Expect: 100-continue\r\nContent-Length: 2000000\r\n\r\n";
	char	raw[8192];
	long	n;

	start_std();
	n = tsrv_raw(&srv, TSRV_ADMIN, ok, sizeof(ok) - 1, raw, sizeof(raw),
	    5000);
	cr_assert_gt(n, 0, "raw request: %s", raw);
	cr_expect_eq(strncmp(raw, "HTTP/1.1 100 Continue\r\n\r\n", 25), 0,
	    "no interim 100 first: %.200s", raw);
	cr_expect_eq(strncmp(raw + 25, "HTTP/1.1 200 ", 13), 0,
	    "the final answer after the 100: %.200s", raw + 25);
	n = tsrv_raw(&srv, TSRV_ADMIN, big, sizeof(big) - 1, raw, sizeof(raw),
	    5000);
	cr_assert_gt(n, 0, "raw request: %s", raw);
	cr_expect_eq(strncmp(raw, "HTTP/1.1 400 ", 13), 0, "a body over the "
	    "limit: %.200s", raw);
	cr_expect_not_null(strstr(raw, "{\"message\":\"invalid request body\""
	    "\n}"), "%.300s", raw);
	cr_expect_null(strstr(raw, "100 Continue"), "a 100 for a body that "
	    "will not be read: %.200s", raw);
}
