/*
 * The Vault key store through the real server (privsep and the sandbox
 * on, mTLS), against tests/doubles/vault_double.py: a TEST DOUBLE of
 * HashiCorp Vault, since no Vault server can be installed on the machines
 * keyward is tested on. Rows of spec/keystores-vault-ciphertrust-kmip-
 * pkcs11.md §5.1 are named in each test's comment (VTn).
 *
 * The double has its own PKI (a CA, a server certificate for 127.0.0.1, a
 * client certificate for mTLS) in its own directory, so that keyward can
 * be restarted with another configuration against the same Vault. Keys
 * keyward never read are planted by copying a stored value under a new
 * name with the double's root token: a get then has to reach Vault (the
 * crypto process caches what it created).
 *
 * Needs root (the children drop to user keyward) and python3; skipped
 * otherwise.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
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

#include "common/names.h"
#include "tests/data/kat/e2e_vectors.h"
#include "tests/lib/pydouble.h"
#include "tests/lib/testsrv.h"

#define READY_MS	20000
#define BODYLEN		8192
#define ROLE_ID		"kw-role"
#define SECRET_ID	"s3cr3t-id-7f2a9c41e0b8"
#define ROOT_TOKEN	"root-for-tests-only"
#define ERR_BODY(msg)	"{\"message\":\"" msg "\"\n}"

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "string too long")

/*
 * The keyward servers: one in most tests, three in three_nodes_one_vault.
 * The helpers below act on the node srvp points at (srv).
 */
#define NODES	3
static struct testsrv	 nodes[NODES];
static struct testsrv	*srvp = &nodes[0];
#define srv	(*srvp)

/* The double: its directory, process and ports. */
static struct pydouble vd;

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	int i;

	for (i = 0; i < NODES; i++)
		tsrv_cleanup(&nodes[i]);
	srvp = &nodes[0];
	pydouble_stop(&vd);
	pydouble_remove(&vd);
}

TestSuite(vault, .init = setup, .fini = teardown, .timeout = 150);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the Vault tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	if (system("command -v python3 >/dev/null 2>&1") != 0)
		cr_skip_test("python3 runs the Vault test double");
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

/* The double's PKI: ca, server (IP:127.0.0.1), client (for mTLS), and an
 * unrelated CA to fail verification with. */
static void
vd_pki(void)
{
	static const char ec[] = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes";

	strcpy(vd.dir, "/tmp/keyward-test-vault.XXXXXX");
	cr_assert_not_null(mkdtemp(vd.dir));
	chmod(vd.dir, 0755);
	sh("cd '%s' && exec >pki.log 2>&1 && "
	    "openssl req -x509 %s -keyout ca.key -out ca.crt -days 2 "
	    "-subj /CN=vault-test-ca && "
	    "openssl req -x509 %s -keyout other.key -out other.crt -days 2 "
	    "-subj /CN=other-ca && "
	    "openssl req %s -keyout server.key -out server.csr "
	    "-subj /CN=127.0.0.1 && "
	    "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage="
	    "serverAuth\\n' >s.ext && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile s.ext && "
	    "openssl req %s -keyout client.key -out client.csr "
	    "-subj /CN=keyward && "
	    "printf 'extendedKeyUsage=clientAuth\\n' >c.ext && "
	    "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out client.crt -days 2 -extfile c.ext && "
	    "chmod 0644 *", vd.dir, ec, ec, ec, ec);
}

/* Start the double with its defaults plus extra arguments (NULL-ended). */
static void
vd_start(const char *const *extra)
{
	const char	*argv[64];
	char		 why[256];
	size_t		 n = 0;

	if (vd.dir[0] == '\0')
		vd_pki();
	argv[n++] = "python3";
	argv[n++] = getenv("KEYWARD_VAULT_DOUBLE") != NULL ?
	    getenv("KEYWARD_VAULT_DOUBLE") : "tests/doubles/vault_double.py";
	argv[n++] = "--addr";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--cert";
	argv[n++] = "server.crt";
	argv[n++] = "--key";
	argv[n++] = "server.key";
	argv[n++] = "--state";
	argv[n++] = "vault.json";
	argv[n++] = "--port-file";
	argv[n++] = "vault.port";
	argv[n++] = "--control-port-file";
	argv[n++] = "vault.cport";
	argv[n++] = "--log";
	argv[n++] = "vault.log";
	argv[n++] = "--approle";
	argv[n++] = ROLE_ID ":" SECRET_ID;
	argv[n++] = "--root-token";
	argv[n++] = ROOT_TOKEN;
	argv[n++] = "--no-fsync";
	argv[n++] = "--exit-with-parent";
	while (extra != NULL && *extra != NULL && n < 62)
		argv[n++] = *extra++;
	argv[n] = NULL;
	cr_assert_eq(pydouble_start(&vd, argv[1], argv + 2, "vault.port",
	    "vault.cport", why, sizeof(why)), 0, "%s", why);
}

/* --- the double's control port (plain HTTP on 127.0.0.1) ---------------- */

static int
ctl(const char *method, const char *path, const char *body, char *out,
    size_t outlen)
{
	return pydouble_ctl(&vd, method, path, body, out, outlen);
}

static void
ctl_ok(const char *path, const char *body)
{
	char out[4096];
	int  code = ctl("POST", path, body, out, sizeof(out));

	cr_assert_eq(code, 200, "double %s %s: %d %s", path, body, code, out);
}

/* The request log of the double, as a JSON array (json_decref). */
static json_t *
vd_requests(void)
{
	static char	 out[4 << 20];
	json_error_t	 jerr;
	json_t		*j, *a;

	cr_assert_eq(ctl("GET", "/requests", NULL, out, sizeof(out)), 200);
	cr_assert_not_null(j = json_loads(out, 0, &jerr), "%s", jerr.text);
	a = json_incref(json_object_get(j, "requests"));
	json_decref(j);
	cr_assert(json_is_array(a));
	return a;
}

/* Requests whose method and path (prefix with a trailing '*') match. */
static int
count_req(json_t *a, const char *method, const char *path)
{
	json_t		*e;
	size_t		 i, pl = strlen(path);
	const char	*p;
	int		 n = 0;

	json_array_foreach(a, i, e) {
		p = json_string_value(json_object_get(e, "path"));
		if (method != NULL && strcmp(json_string_value(
		    json_object_get(e, "method")), method) != 0)
			continue;
		if (p == NULL)
			continue;
		if (path[pl - 1] == '*' ? strncmp(p, path, pl - 1) == 0 :
		    strcmp(p, path) == 0)
			n++;
	}
	return n;
}

/* The n-th (0-based) request matching, or NULL. */
static json_t *
find_req(json_t *a, const char *method, const char *path, int nth)
{
	json_t	*e;
	size_t	 i;

	json_array_foreach(a, i, e)
		if (strcmp(json_string_value(json_object_get(e, "method")),
		    method) == 0 && strcmp(json_string_value(
		    json_object_get(e, "path")), path) == 0 && nth-- == 0)
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

/* --- Vault directly, as its root ------------------------------------------ */

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

static long
vapi(const char *method, const char *path, const char *ns, const char *body,
    char *out, size_t outlen)
{
	struct curl_slist	*h = NULL;
	struct sink		 k = { out, 0, outlen };
	char			 url[1024], nsh[256];
	CURL			*c;
	long			 code = -1;

	out[0] = '\0';
	snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", vd.port, path);
	cr_assert_not_null(c = curl_easy_init());
	h = curl_slist_append(h, "X-Vault-Token: " ROOT_TOKEN);
	h = curl_slist_append(h, "X-Test: 1");
	if (ns != NULL) {
		snprintf(nsh, sizeof(nsh), "X-Vault-Namespace: %s", ns);
		h = curl_slist_append(h, nsh);
	}
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
	if (body != NULL)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(h);
	return code;
}

/* The value stored under name (KV v1 at mount, or v2), malloc'ed. */
static char *
stored(const char *mount, int ver, const char *name, const char *ns)
{
	char		 path[512], out[BODYLEN];
	json_error_t	 jerr;
	json_t		*j, *d;
	char		*v;

	if (ver == 2)
		FMT(path, "/v1/%s/data/%s", mount, name);
	else
		FMT(path, "/v1/%s/%s", mount, name);
	cr_assert_eq(vapi("GET", path, ns, NULL, out, sizeof(out)), 200,
	    "GET %s: %s", path, out);
	cr_assert_not_null(j = json_loads(out, 0, &jerr));
	d = json_object_get(j, "data");
	if (ver == 2)
		d = json_object_get(d, "data");
	/* The field is the key's name, the path's last element. */
	if (strrchr(name, '/') != NULL)
		name = strrchr(name, '/') + 1;
	cr_assert(json_is_string(json_object_get(d, name)), "%s", out);
	v = strdup(json_string_value(json_object_get(d, name)));
	json_decref(j);
	return v;
}

/* Write value under name as KES does (v2: a new version, no CAS). */
static void
plant(const char *mount, int ver, const char *name, const char *value,
    const char *ns)
{
	char	 path[512], out[BODYLEN];
	json_t	*o = json_object(), *w;
	char	*body;
	long	 code;

	json_object_set_new(o, strrchr(name, '/') != NULL ?
	    strrchr(name, '/') + 1 : name, json_string(value));
	if (ver == 2) {
		w = json_object();
		json_object_set_new(w, "data", o);
		o = w;
		FMT(path, "/v1/%s/data/%s", mount, name);
	} else
		FMT(path, "/v1/%s/%s", mount, name);
	body = json_dumps(o, JSON_COMPACT);
	code = vapi("PUT", path, ns, body, out, sizeof(out));
	cr_assert(code == 200 || code == 204, "PUT %s: %ld %s", path, code,
	    out);
	free(body);
	json_decref(o);
}

/* --- keyward --------------------------------------------------------------- */

struct vcfg {
	const char	*engine;	/* default kv2 */
	int		 version;	/* default 2 */
	const char	*extra;		/* more lines under vault:, 4 spaces */
	const char	*auth;		/* default approle with our role */
	const char	*tls;		/* default: ca only */
	const char	*top;		/* more top-level YAML (cache:) */
	int		 port;		/* default the double's */
	const char	*raw;		/* the whole vault: section instead */
	unsigned int	 workers;	/* server.workers; 0: the default */
	unsigned int	 crypto;	/* server.crypto; 0: left out */
};

static void
write_config(const struct vcfg *v)
{
	struct tsrv_cfg	 cfg = { .extra = v->top, .workers = v->workers,
			    .crypto = v->crypto };
	char		 ks[8192], auth[512], tls[1024];

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	FMT(auth, "    approle:\n      id: %s\n      secret: %s\n", ROLE_ID,
	    SECRET_ID);
	FMT(tls, "    tls:\n      ca: %s/ca.crt\n", vd.dir);
	FMT(ks, "keystore:\n  vault:\n    endpoint: https://127.0.0.1:%d\n"
	    "    engine: %s\n    version: v%d\n%s%s%s    status:\n"
	    "      ping: 1s\n", v->port ? v->port : vd.port,
	    v->engine ? v->engine : "kv2", v->version ? v->version : 2,
	    v->extra ? v->extra : "", v->auth ? v->auth : auth,
	    v->tls ? v->tls : tls);
	if (v->raw != NULL)
		FMT(ks, "keystore:\n  vault:\n%s", v->raw);
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
kw_start(const struct vcfg *v)
{
	int n;

	kw_init();
	write_config(v);
	/* The log is appended to: count this start's line only. */
	n = tsrv_log_count(&srv, "serving on");
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", n + 1, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

/* The server must refuse to start; its log must say `why`. */
static void
kw_start_fails(const struct vcfg *v, const char *why)
{
	int st;

	kw_init();
	write_config(v);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, READY_MS, &st), 0, "the server "
	    "started although it should not (%s); log:\n%s", why,
	    tsrv_log_tail(&srv));
	cr_expect(!WIFEXITED(st) || WEXITSTATUS(st) != 0, "exit status 0");
	cr_expect_gt(tsrv_log_count(&srv, why), 0, "the log does not say "
	    "\"%s\":\n%s", why, tsrv_log_tail(&srv));
	srv.pid = 0;
}

static void
kw_stop(void)
{
	int st;

	if (srv.pid > 0 && !srv.reaped) {
		kill(srv.pid, SIGTERM);
		(void)tsrv_wait_exit(&srv, 10000, &st);
	}
	srv.pid = 0;
}

/* A key call at node n: POST /v1/key/<op>/<name> (body NULL: POST ""). */
static long
node_key(struct testsrv *n, const char *op, const char *name,
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
	return tsrv_get_ex(n, TSRV_ADMIN, path, out, outlen, &r);
}

static long
key(const char *op, const char *name, const char *body, char *out,
    size_t outlen)
{
	return node_key(&srv, op, name, body, out, outlen);
}

static long
generate(const char *name, char *out, size_t outlen)
{
	return key("generate", name, "{}", out, outlen);
}

static void
expect_no_secrets_logged(void)
{
	cr_expect_eq(tsrv_log_count(&srv, SECRET_ID), 0, "the AppRole secret "
	    "ID is in the server's log");
	cr_expect_eq(tsrv_log_count(&srv, "hvs."), 0, "a Vault token is in "
	    "the server's log");
	cr_expect_eq(tsrv_log_count(&srv, "killed by signal 31"), 0,
	    "a process was killed by its sandbox");
}

/*
 * VT25, VT28: every request keyward sent has X-Vault-Request: true and no
 * Content-Type; sys/health has neither namespace nor token; the others
 * the token and the namespace ns (NULL: none), logins the namespace too.
 */
static void
expect_headers(json_t *a, const char *ns)
{
	const char	*path, *h;
	json_t		*e;
	size_t		 i;

	json_array_foreach(a, i, e) {
		path = json_string_value(json_object_get(e, "path"));
		if (req_header(e, "X-Test") != NULL)
			continue;	/* the test's own calls */
		h = req_header(e, "X-Vault-Request");
		cr_expect(h != NULL && strcmp(h, "true") == 0,
		    "%s without X-Vault-Request: true", path);
		cr_expect_null(req_header(e, "Content-Type"),
		    "%s with a Content-Type", path);
		h = req_header(e, "X-Vault-Namespace");
		if (strncmp(path, "/v1/sys/health", 14) == 0) {
			cr_expect_null(h, "sys/health with a namespace");
			cr_expect_null(req_header(e, "X-Vault-Token"),
			    "sys/health with a token");
			continue;
		}
		if (ns == NULL)
			cr_expect_null(h, "%s with namespace %s", path, h);
		else
			cr_expect(h != NULL && strcmp(h, ns) == 0,
			    "%s with namespace %s, not %s", path,
			    h ? h : "(none)", ns);
		if (strncmp(path, "/v1/auth/", 9) != 0 ||
		    strstr(path, "renew-self") != NULL)
			cr_expect_not_null(req_header(e, "X-Vault-Token"),
			    "%s without a token", path);
	}
}

/* ========================================================================= */

/*
 * VT2, VT4 (store namespace), VT11, VT12, VT16, VT19, VT20, VT25, VT28 on
 * KV v2 in namespace "team": login PUT with {"role_id","secret_id"} and
 * the namespace; data calls with token, namespace, X-Vault-Request and no
 * Content-Type; create probes then writes {"data":{n:v},"options":
 * {"cas":0}}; a second create is "exists" without a write; get reads
 * ?version=1 even when version 2 exists; delete of an absent key is OK;
 * list on metadata/ with ?list=true, an empty folder is an empty list (V1);
 * status asks sys/health without the namespace (the double would answer
 * 404 with it).
 */
Test(vault, kv2_namespace_roundtrip)
{
	const char *const args[] = { "--namespace", "team", NULL };
	struct vcfg	 v = { .extra = "    namespace: team\n" };
	char		 body[BODYLEN], *val;
	json_t		*a, *e;
	long		 code;

	need_root();
	vd_start(args);
	kw_start(&v);

	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 400, "create again: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key already exists"));

	/* VT16: k2 has a second version that is not a key; version 1 is. */
	val = stored("kv2", 2, "k1", "team");
	plant("kv2", 2, "k2", val, "team");
	plant("kv2", 2, "k2", "not a key", "team");
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate k2 (version 1): %ld %s", code, body);
	code = generate("nokey", body, sizeof(body));
	cr_expect_eq(code, 404, "generate nokey: %ld %s", code, body);
	cr_expect_str_eq(body, ERR_BODY("key does not exist"));

	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "\"k1\"") && strstr(body, "\"k2\""), "%s",
	    body);
	code = key("delete", "k2", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete: %ld %s", code, body);
	code = key("delete", "absent", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "delete absent (VT19): %ld %s", code, body);
	code = key("delete", "k1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "list of an empty folder (V1): %ld %s", code,
	    body);
	cr_expect(strstr(body, "\"names\":[]") != NULL, "%s", body);
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strstr(body, "keystore_latency") != NULL &&
	    strstr(body, "keystore_unreachable") == NULL, "status: %s", body);

	a = vd_requests();
	cr_assert_not_null(e = find_req(a, "PUT", "/v1/auth/approle/login",
	    0), "no login");
	cr_expect_str_eq(json_string_value(json_object_get(e, "body")),
	    "{\"role_id\":\"" ROLE_ID "\",\"secret_id\":\"<redacted>\"}");
	cr_expect_str_eq(req_header(e, "X-Vault-Namespace"), "team");
	cr_expect_null(req_header(e, "X-Vault-Token"));
	cr_expect_eq(count_req(a, "PUT", "/v1/kv2/data/k1"), 1,
	    "the second create wrote");
	cr_assert_not_null(e = find_req(a, "PUT", "/v1/kv2/data/k1", 0));
	FMT(body, "{\"data\":{\"k1\":\"%s\"},\"options\":{\"cas\":0}}",
	    val);
	cr_expect_str_eq(json_string_value(json_object_get(e, "body")), body);
	cr_assert_not_null(e = find_req(a, "GET", "/v1/kv2/data/k2", 0));
	cr_expect_str_eq(json_string_value(json_object_get(e, "query")),
	    "version=1");
	cr_expect_gt(count_req(a, "GET", "/v1/kv2/metadata*"), 0);
	expect_headers(a, "team");
	json_decref(a);
	free(val);
	expect_no_secrets_logged();
}

/*
 * VT1: configurations the server refuses at start, each with its message
 * (keyward's parser words them its own way; spec §1.2 has KES's).
 */
Test(vault, config_errors)
{
	static const struct {
		const char *raw, *why;
	} t[] = {
		{ "    engine: kv\n    approle:\n      id: a\n      secret: b\n",
		  "the Vault URL" },
		{ "    endpoint: https://127.0.0.1:1\n    approle:\n      id: a\n"
		  "      secret: b\n    kubernetes:\n      role: r\n"
		  "      jwt: j\n", "both approle and kubernetes are set" },
		{ "    endpoint: https://127.0.0.1:1\n",
		  "no authentication method" },
		{ "    endpoint: https://127.0.0.1:1\n    version: v3\n"
		  "    approle:\n      id: a\n      secret: b\n",
		  "is not a K/V engine version" },
		{ "    endpoint: https://127.0.0.1:1\n    transit:\n"
		  "      engine: transit\n    approle:\n      id: a\n"
		  "      secret: b\n", "the name of the transit key" },
		{ "    endpoint: https://127.0.0.1:1\n    approle:\n      id: a\n"
		  "      secret: b\n    tls:\n      cert: /etc/hostname\n",
		  "a private key to go with tls.cert" },
		{ "    endpoint: https://127.0.0.1:1\n    kubernetes:\n"
		  "      role: r\n      jwt: /nonexistent/jwt\n",
		  "expected a JWT or a readable file holding one" },
	};
	struct vcfg	v;
	size_t		i;

	need_root();
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memset(&v, 0, sizeof(v));
		v.raw = t[i].raw;
		kw_start_fails(&v, t[i].why);
	}
}

/*
 * VT3: no start without a first login. A refused secret ID (400, one
 * attempt), nothing listening (3 attempts, then the error), and a Vault
 * whose certificate the configured CA did not sign (no request reaches
 * it). The secret never shows in the log.
 */
Test(vault, login_failures)
{
	struct vcfg	 v = { 0 };
	char		 auth[256], tls[PATH_MAX + 64];
	json_t		*a;
	int		 fd, port;
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t	 sl = sizeof(sa);

	need_root();
	vd_start(NULL);
	FMT(auth, "    approle:\n      id: %s\n      secret: wrong-secret\n",
	    ROLE_ID);
	v.auth = auth;
	kw_start_fails(&v, "invalid role or secret ID");
	a = vd_requests();
	cr_expect_eq(count_req(a, "PUT", "/v1/auth/approle/login"), 1,
	    "a 400 was retried");
	json_decref(a);
	cr_expect_eq(tsrv_log_count(&srv, "wrong-secret"), 0);

	/* A port nothing listens on: bound, never listened to. */
	cr_assert_neq(fd = socket(AF_INET, SOCK_STREAM, 0), -1);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	port = ntohs(sa.sin_port);
	memset(&v, 0, sizeof(v));
	v.port = port;
	kw_start_fails(&v, "vault: authentication failed");
	close(fd);

	ctl_ok("/requests/clear", "{}");
	memset(&v, 0, sizeof(v));
	FMT(tls, "    tls:\n      ca: %s/other.crt\n", vd.dir);
	v.tls = tls;
	kw_start_fails(&v, "vault: authentication failed");
	a = vd_requests();
	cr_expect_eq(json_array_size(a), 0, "a request got through a refused "
	    "certificate");
	json_decref(a);
	cr_expect_eq(tsrv_log_count(&srv, SECRET_ID), 0);
}

/*
 * VT10 (keyward V6): every token revoked; the next call gets 403, logs in
 * once more and succeeds. Right after, a second revocation is not
 * answered by another login (at most one per 5 s): that call fails.
 */
Test(vault, relogin_on_403)
{
	struct vcfg	 v = { 0 };
	char		 body[BODYLEN], *val;
	json_t		*a;
	long		 code;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	code = key("create", "k1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	val = stored("kv2", 2, "k1", NULL);
	plant("kv2", 2, "k2", val, NULL);
	plant("kv2", 2, "k3", val, NULL);
	free(val);

	ctl_ok("/tokens/revoke", "{}");
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate after the revocation: %ld %s", code,
	    body);
	a = vd_requests();
	cr_expect_eq(count_req(a, "PUT", "/v1/auth/approle/login"), 2);
	cr_expect_eq(count_req(a, "GET", "/v1/kv2/data/k2"), 2,
	    "one 403 and one retry");
	json_decref(a);

	ctl_ok("/tokens/revoke", "{}");
	code = generate("k3", body, sizeof(body));
	cr_expect_eq(code, 502, "a second 403 within 5 s: %ld %s", code, body);
	a = vd_requests();
	cr_expect_eq(count_req(a, "PUT", "/v1/auth/approle/login"), 2,
	    "logged in again within 5 s");
	json_decref(a);
	/* After the 5 s, a 403 logs in again. */
	tsrv_sleep_ms(5200);
	code = generate("k3", body, sizeof(body));
	cr_expect_eq(code, 200, "generate 5 s later: %ld %s", code, body);
	expect_no_secrets_logged();
}

/* --- 100 concurrent creates of one name -------------------------------- */

struct race {
	pthread_mutex_t	 mu;
	int		 ok, exists, other;
	char		 last[256];
};

static void *
race_one(void *arg)
{
	struct race	*r = arg;
	char		 body[1024];
	long		 code = -1;
	int		 tries;

	/* -1 is a connection that never carried the request (testsrv's
	 * 2 s connect limit, which 100 handshakes at once can pass under
	 * the sanitizers): send it again. */
	for (tries = 0; tries < 5; tries++)
		if ((code = key("create", "race", NULL, body,
		    sizeof(body))) != -1)
			break;
	pthread_mutex_lock(&r->mu);
	if (code == 200)
		r->ok++;
	else if (code == 400 && strcmp(body, ERR_BODY("key already exists"))
	    == 0)
		r->exists++;
	else {
		r->other++;
		snprintf(r->last, sizeof(r->last), "%ld %.200s", code, body);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/*
 * VT13 (keyward V2) under load: 100 creates of one name at once on KV
 * v2; exactly one is 200, the 99 others "key already exists", and Vault
 * holds one version.
 */
Test(vault, concurrent_creates_one_winner)
{
	struct vcfg	 v = { 0 };
	struct race	 r = { .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t	 th[100];
	char		 out[BODYLEN];
	size_t		 i;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	for (i = 0; i < 100; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, race_one, &r), 0);
	for (i = 0; i < 100; i++)
		pthread_join(th[i], NULL);
	cr_expect_eq(r.ok, 1, "%d creates succeeded", r.ok);
	cr_expect_eq(r.exists, 99, "%d exists, %d other (last %s)", r.exists,
	    r.other, r.last);
	cr_expect_eq(vapi("GET", "/v1/kv2/metadata/race", NULL, NULL, out,
	    sizeof(out)), 200);
	cr_expect(strstr(out, "\"current_version\":1") != NULL, "%s", out);
	expect_no_secrets_logged();
}

/*
 * VT11 (v1 answers 204), VT15, VT20 (v1 list), VT14 on KV v1 with a
 * prefix: create writes {"k":"v"} under kv/app/k; then a v1 store on the
 * v2 mount (404 + warnings: "invalid K/V v1 format"); then a v2 create
 * over a soft-deleted latest version fails ("missing 'data' entry").
 */
Test(vault, kv1_prefix_and_wrong_versions)
{
	struct vcfg	 v = { .engine = "kv", .version = 1,
			    .extra = "    prefix: app\n" };
	char		 body[BODYLEN], *val, want[BODYLEN];
	json_t		*a, *e;
	long		 code;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	code = key("create", "k", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	val = stored("kv", 1, "app/k", NULL);
	a = vd_requests();
	cr_assert_not_null(e = find_req(a, "PUT", "/v1/kv/app/k", 0));
	cr_expect_eq(json_integer_value(json_object_get(e, "status")), 204);
	FMT(want, "{\"k\":\"%s\"}", val);
	cr_expect_str_eq(json_string_value(json_object_get(e, "body")), want);
	json_decref(a);
	plant("kv", 1, "app/sub/x", val, NULL);
	code = key("list", "", NULL, body, sizeof(body));
	cr_expect_eq(code, 200);
	cr_expect(strncmp(body, "{\"names\":[\"k\"]", 14) == 0 &&
	    strstr(body, "sub") == NULL,
	    "list of kv/app (a sub/ folder is no key): %s", body);
	kw_stop();

	/* A v1 store on the v2 mount. */
	v.engine = "kv2";
	kw_start(&v);
	code = key("create", "k", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "v1 create on a v2 mount: %ld %s", code, body);
	cr_expect_gt(tsrv_log_count(&srv, "invalid K/V v1 format"), 0);
	kw_stop();

	/* v2 over a soft-deleted latest version. */
	v.version = 2;
	v.extra = NULL;
	kw_start(&v);
	plant("kv2", 2, "gone", val, NULL);
	cr_assert_eq(vapi("DELETE", "/v1/kv2/data/gone", NULL, NULL, body,
	    sizeof(body)), 204);
	code = key("create", "gone", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "create over a soft-deleted key: %ld %s",
	    code, body);
	cr_expect_gt(tsrv_log_count(&srv, "missing 'data' entry"), 0, "%s",
	    tsrv_log_tail(&srv));
	free(val);
	expect_no_secrets_logged();
}

/*
 * VT17, VT18, keyward V8: with transit, create sends {"plaintext":
 * base64(value)} and stores "vault:v1:..."; a planted copy reads back
 * through decrypt; a value encrypted after a rotation ("vault:v2:") is
 * read too, but a create after the rotation is refused (KES peers read
 * v1 only). Without transit, a vault:v1: value fails to read.
 */
Test(vault, transit)
{
	struct vcfg	 v = { .extra = "    transit:\n      key: kes\n" };
	char		 body[BODYLEN], out[BODYLEN], *val, *p, *q;
	long		 code;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	code = key("create", "t1", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	val = stored("kv2", 2, "t1", NULL);
	cr_expect(strncmp(val, "vault:v1:", 9) == 0, "stored: %s", val);
	plant("kv2", 2, "t2", val, NULL);
	code = generate("t2", body, sizeof(body));
	cr_expect_eq(code, 200, "generate through decrypt: %ld %s", code,
	    body);

	/* The plaintext of t1 encrypted again after a rotation: v2. */
	FMT(body, "{\"ciphertext\":\"%s\"}", val);
	cr_assert_eq(vapi("PUT", "/v1/transit/decrypt/kes", NULL, body, out,
	    sizeof(out)), 200, "%s", out);
	cr_assert_not_null(p = strstr(out, "\"plaintext\":\""));
	p += strlen("\"plaintext\":\"");
	cr_assert_not_null(q = strchr(p, '"'));
	*q = '\0';
	ctl_ok("/transit/rotate", "{\"key\":\"kes\"}");
	FMT(body, "{\"plaintext\":\"%s\"}", p);
	cr_assert_eq(vapi("PUT", "/v1/transit/encrypt/kes", NULL, body, out,
	    sizeof(out)), 200);
	cr_assert_not_null(p = strstr(out, "vault:v2:"), "%s", out);
	cr_assert_not_null(q = strchr(p, '"'));
	*q = '\0';
	plant("kv2", 2, "t3", p, NULL);
	code = generate("t3", body, sizeof(body));
	cr_expect_eq(code, 200, "generate of a vault:v2: value: %ld %s", code,
	    body);
	code = key("create", "t4", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "create after the rotation: %ld %s", code,
	    body);
	cr_expect_gt(tsrv_log_count(&srv, "invalid vault response"), 0);
	kw_stop();

	v.extra = NULL;
	kw_start(&v);
	code = generate("t2", body, sizeof(body));
	cr_expect_eq(code, 502, "a transit value without transit: %ld %s",
	    code, body);
	cr_expect_gt(tsrv_log_count(&srv, "key is encrypted with vault "
	    "transit key"), 0);
	free(val);
	expect_no_secrets_logged();
}

/* The attempts at path, in order, and the gaps between them in ms. */
static int
attempts(const char *method, const char *path, long *status, double *gap)
{
	json_t	*a = vd_requests(), *e;
	double	 last = 0, t;
	size_t	 i;
	int	 n = 0;

	json_array_foreach(a, i, e) {
		if (strcmp(json_string_value(json_object_get(e, "method")),
		    method) != 0 || strcmp(json_string_value(
		    json_object_get(e, "path")), path) != 0 || n >= 8)
			continue;
		t = json_real_value(json_object_get(e, "time"));
		status[n] = (long)json_integer_value(json_object_get(e,
		    "status"));
		gap[n] = n == 0 ? 0 : (t - last) * 1000;
		last = t;
		n++;
	}
	json_decref(a);
	return n;
}

static void
fault(const char *path, int status, int count)
{
	char rule[256];

	FMT(rule, "{\"path\":\"%s\",\"status\":%d,\"count\":%d}", path,
	    status, count);
	ctl_ok("/fault", rule);
}

/*
 * VT21, VT22: 429 twice then the answer: three attempts, waits of at
 * least 1 s and 2 s; 429 three times: the call fails after three; 412,
 * 500, 502 and 503 are retried; 501 and 400 are not.
 */
Test(vault, retries)
{
	static const int retried[] = { 412, 500, 502, 503 };
	struct vcfg	 v = { 0 };
	char		 body[BODYLEN], name[32], path[64];
	long		 code, st[8];
	double		 gap[8];
	size_t		 i;
	int		 n;

	need_root();
	vd_start(NULL);
	kw_start(&v);

	fault("kv2/data/r1", 429, 2);
	code = key("create", "r1", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "429 x2 then 404: %ld %s", code, body);
	n = attempts("GET", "/v1/kv2/data/r1", st, gap);
	cr_expect_eq(n, 3, "%d attempts", n);
	if (n == 3) {
		cr_expect(st[0] == 429 && st[1] == 429 && st[2] == 404);
		cr_expect_geq(gap[1], 950, "first wait %.0f ms", gap[1]);
		cr_expect_geq(gap[2], 1950, "second wait %.0f ms", gap[2]);
	}

	fault("kv2/data/r2", 429, 3);
	code = key("create", "r2", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "429 x3: %ld %s", code, body);
	cr_expect_eq(attempts("GET", "/v1/kv2/data/r2", st, gap), 3);

	for (i = 0; i < sizeof(retried) / sizeof(retried[0]); i++) {
		FMT(name, "s%d", retried[i]);
		FMT(path, "kv2/data/%s", name);
		fault(path, retried[i], 1);
		code = key("create", name, NULL, body, sizeof(body));
		cr_expect_eq(code, 200, "%d once: %ld %s", retried[i], code,
		    body);
		FMT(path, "/v1/kv2/data/%s", name);
		cr_expect_eq(attempts("GET", path, st, gap), 2, "%d",
		    retried[i]);
	}
	fault("kv2/data/n501", 501, 1);
	code = key("create", "n501", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "501: %ld %s", code, body);
	cr_expect_eq(attempts("GET", "/v1/kv2/data/n501", st, gap), 1);
	fault("kv2/data/n400", 400, 1);
	code = key("create", "n400", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "400: %ld %s", code, body);
	cr_expect_eq(attempts("GET", "/v1/kv2/data/n400", st, gap), 1);
	expect_no_secrets_logged();
}

static bool
status_is(bool up)
{
	char body[BODYLEN];

	if (tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, sizeof(body)) !=
	    200)
		return false;
	if (up)
		return strstr(body, "keystore_latency") != NULL &&
		    strstr(body, "keystore_unreachable") == NULL;
	return strstr(body, "\"keystore_unreachable\":true") != NULL;
}

static bool
wait_status(bool up, unsigned int ms)
{
	uint64_t t0 = tsrv_now_ms();

	while (tsrv_now_ms() - t0 < ms) {
		if (status_is(up))
			return true;
		tsrv_sleep_ms(200);
	}
	return false;
}

/*
 * VT23, VT24, keyward V10, and offline behaviour: sealed, /v1/status and
 * /v1/ready say the store is unreachable, a cached key keeps serving
 * (cache.expiry.offline), an uncached one fails without any request to
 * Vault; unsealed, everything recovers. Not initialised: unreachable; a
 * standby node: healthy.
 */
Test(vault, sealed_offline)
{
	struct vcfg	 v = { .top = "cache:\n  expiry:\n    any: 5m\n"
			    "    unused: 5m\n    offline: 60s\n" };
	char		 body[BODYLEN], *val;
	json_t		*a;
	long		 code;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	code = key("create", "hot", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	cr_assert_eq(generate("hot", body, sizeof(body)), 200);
	val = stored("kv2", 2, "hot", NULL);
	plant("kv2", 2, "cold", val, NULL);
	free(val);

	ctl_ok("/seal", "{}");
	cr_expect(wait_status(false, 12000), "/v1/status did not say the store "
	    "is unreachable within 12 s");
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/ready", body, sizeof(body));
	cr_expect_neq(code, 200, "/v1/ready while sealed: %ld %s", code, body);
	/* The health loop's flag: let it see the seal (ping 1 s). */
	tsrv_sleep_ms(1500);
	ctl_ok("/requests/clear", "{}");
	code = generate("hot", body, sizeof(body));
	cr_expect_eq(code, 200, "a cached key while sealed: %ld %s", code,
	    body);
	code = generate("cold", body, sizeof(body));
	cr_expect_eq(code, 502, "an uncached key while sealed: %ld %s", code,
	    body);
	a = vd_requests();
	cr_expect_eq(count_req(a, NULL, "/v1/kv2/*"), 0, "a data request "
	    "while sealed");
	json_decref(a);
	cr_expect_gt(tsrv_log_count(&srv, "vault: key store is sealed"), 0);

	ctl_ok("/unseal", "{}");
	cr_expect(wait_status(true, 12000), "/v1/status did not recover "
	    "within 12 s of the unseal");
	tsrv_sleep_ms(1500);
	code = generate("cold", body, sizeof(body));
	cr_expect_eq(code, 200, "unsealed: %ld %s", code, body);
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/ready", body, sizeof(body));
	cr_expect_eq(code, 200, "/v1/ready unsealed: %ld %s", code, body);

	ctl_ok("/node", "{\"initialized\":false}");
	cr_expect(wait_status(false, 12000), "not initialised, yet healthy");
	ctl_ok("/node", "{\"initialized\":true,\"standby\":true}");
	cr_expect(wait_status(true, 12000), "a standby is healthy (KES)");
	expect_no_secrets_logged();
}

/*
 * VT5, keyward V11: Kubernetes login with the JWT in a file, re-read at
 * every login: the file ends in a newline (stripped); after the file is
 * rotated and the old JWT refused, a revoked token makes a new login
 * that sends the new JWT.
 */
Test(vault, kubernetes_jwt_file)
{
	const char *const args[] = { "--kubernetes", "kw:JWT-ONE.aaa.bbb",
	    NULL };
	struct vcfg	 v = { 0 };
	char		 auth[PATH_MAX + 128], jwt[PATH_MAX], body[BODYLEN];
	char		*val;
	json_t		*a;
	long		 code;

	need_root();
	vd_start(args);
	FMT(jwt, "%s/token", vd.dir);
	cr_assert_eq(tsrv_write_file(jwt, "JWT-ONE.aaa.bbb\n"), 0);
	chmod(jwt, 0644);
	FMT(auth, "    kubernetes:\n      role: kw\n      jwt: %s\n", jwt);
	v.auth = auth;
	kw_start(&v);
	code = key("create", "k", NULL, body, sizeof(body));
	cr_assert_eq(code, 200, "create: %ld %s", code, body);
	val = stored("kv2", 2, "k", NULL);
	plant("kv2", 2, "k2", val, NULL);
	free(val);

	ctl_ok("/kubernetes", "{\"role\":\"kw\",\"jwt\":\"JWT-TWO.ccc.ddd\"}");
	cr_assert_eq(tsrv_write_file(jwt, "JWT-TWO.ccc.ddd\r\n"), 0);
	chmod(jwt, 0644);
	ctl_ok("/kubernetes", "{\"role\":\"kw\",\"jwt\":\"JWT-ONE.aaa.bbb\","
	    "\"remove\":true}");
	ctl_ok("/tokens/revoke", "{}");
	code = generate("k2", body, sizeof(body));
	cr_expect_eq(code, 200, "after the rotation: %ld %s", code, body);
	a = vd_requests();
	cr_expect_eq(count_req(a, "PUT", "/v1/auth/kubernetes/login"), 2);
	json_decref(a);
	cr_expect_eq(tsrv_log_count(&srv, "JWT-ONE"), 0);
	cr_expect_eq(tsrv_log_count(&srv, "JWT-TWO"), 0);
	expect_no_secrets_logged();
}

/*
 * VT8 (keyward V7), VT9: a 4 s token is replaced by a new login every
 * 2 s, with a warning; a token that does not expire (TTL 0) is never
 * renewed nor replaced.
 */
Test(vault, short_and_endless_tokens)
{
	const char *const args[] = { "--token-ttl", "4", NULL };
	struct vcfg	 v = { 0 };
	char		 body[BODYLEN];
	json_t		*a;
	int		 n;

	need_root();
	vd_start(args);
	kw_start(&v);
	tsrv_sleep_ms(5000);
	a = vd_requests();
	n = count_req(a, "PUT", "/v1/auth/approle/login");
	json_decref(a);
	cr_expect(n >= 3 && n <= 5, "%d logins in about 5 s (every 2 s)", n);
	cr_expect_gt(tsrv_log_count(&srv, "less than 30 s"), 0);
	cr_expect_eq(key("create", "k", NULL, body, sizeof(body)), 200,
	    "%s", body);
	kw_stop();

	ctl_ok("/tokens", "{\"ttl\":0}");
	ctl_ok("/requests/clear", "{}");
	kw_start(&v);
	tsrv_sleep_ms(3000);
	a = vd_requests();
	cr_expect_eq(count_req(a, "PUT", "/v1/auth/approle/login"), 1);
	cr_expect_eq(count_req(a, NULL, "/v1/auth/token/renew-self"), 0);
	json_decref(a);
	expect_no_secrets_logged();
}

/*
 * VT27: Vault requires a client certificate and is signed by a private
 * CA given only as tls.ca: data calls and health checks work; without the
 * certificate the first login fails and the server does not start.
 */
Test(vault, mtls_private_ca)
{
	struct vcfg	 v = { 0 };
	char		 tls[3 * PATH_MAX], ca[PATH_MAX + 16], body[BODYLEN];
	const char	*args[] = { "--client-ca", ca, NULL };
	json_t		*a, *e;
	size_t		 i;
	long		 code;

	need_root();
	vd_pki();
	FMT(ca, "%s/ca.crt", vd.dir);
	vd_start(args);
	FMT(tls, "    tls:\n      ca: %s/ca.crt\n      cert: %s/client.crt\n"
	    "      key: %s/client.key\n", vd.dir, vd.dir, vd.dir);
	v.tls = tls;
	kw_start(&v);
	code = key("create", "k", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "create over mTLS: %ld %s", code, body);
	cr_expect(wait_status(true, 5000), "status over mTLS");
	a = vd_requests();
	json_array_foreach(a, i, e)
		cr_expect(json_is_true(json_object_get(e, "client_cert")),
		    "%s without a client certificate", json_string_value(
		    json_object_get(e, "path")));
	json_decref(a);
	kw_stop();
	v.tls = NULL;
	kw_start_fails(&v, "vault: authentication failed");
}

/* --- a slow key, and load through a restart and an expiry -------------- */

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
 * A slow Vault: the read of one key is held 5 s by the double while
 * other keys are read meanwhile; they all complete before it, and it
 * completes too (no timing beyond the order).
 */
Test(vault, slow_key_does_not_block_others)
{
	struct vcfg	 v = { 0 };
	struct slow	 s = { 0 };
	pthread_t	 th;
	char		 body[BODYLEN], name[16], *val;
	uint64_t	 last = 0;
	int		 i, ok = 0;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	cr_assert_eq(key("create", "seed", NULL, body, sizeof(body)), 200);
	val = stored("kv2", 2, "seed", NULL);
	plant("kv2", 2, "slow", val, NULL);
	for (i = 0; i < 8; i++) {
		FMT(name, "fast%d", i);
		plant("kv2", 2, name, val, NULL);
	}
	free(val);
	ctl_ok("/latency", "{\"paths\":{\"kv2/data/slow\":5000}}");
	cr_assert_eq(pthread_create(&th, NULL, slow_get, &s), 0);
	tsrv_sleep_ms(300);
	for (i = 0; i < 8; i++) {
		FMT(name, "fast%d", i);
		if (generate(name, body, sizeof(body)) == 200)
			ok++;
		last = tsrv_now_ms();
	}
	pthread_join(th, NULL);
	cr_expect_eq(ok, 8, "%d of 8 other keys served", ok);
	cr_expect_eq(s.code, 200, "the slow key: %ld", s.code);
	cr_expect_lt(last, s.done_ms, "the other keys waited for the slow "
	    "one");
	expect_no_secrets_logged();
}

#define MC_KEYS		24
#define MC_READERS	6

static void *
hot_get(void *arg)
{
	char body[BODYLEN];

	*(long *)arg = generate("hot", body, sizeof(body));
	return NULL;
}

/*
 * server.crypto: 3 with 3 workers. A key lives in the cache of exactly
 * one crypto process (kes_name_shard), so 24 keys Vault holds and keyward
 * never read, each generated with 6 times over new connections (any
 * worker), are read from Vault once each: as with one crypto process. A
 * key any crypto process served would be read up to 3 times. And 6
 * concurrent first reads of one key are still one read: its process
 * coalesces them.
 */
Test(vault, several_crypto_processes_read_each_key_once)
{
	struct vcfg	 v = { .workers = 3, .crypto = 3 };
	pthread_t	 th[MC_READERS];
	long		 code[MC_READERS];
	char		 body[BODYLEN], name[16], path[64], *val;
	json_t		*a;
	int		 i, r, reads, used[3] = { 0 };

	need_root();
	vd_start(NULL);
	kw_start(&v);
	cr_assert_eq(key("create", "seed", NULL, body, sizeof(body)), 200);
	val = stored("kv2", 2, "seed", NULL);
	for (i = 0; i < MC_KEYS; i++) {
		FMT(name, "mc%02d", i);
		plant("kv2", 2, name, val, NULL);
		used[kes_name_shard(name, 3)]++;
	}
	plant("kv2", 2, "hot", val, NULL);
	free(val);
	for (i = 0; i < 3; i++)
		cr_assert_gt(used[i], 0, "no key for crypto %d", i);
	ctl_ok("/requests/clear", "{}");

	for (r = 0; r < 6; r++)
		for (i = 0; i < MC_KEYS; i++) {
			FMT(name, "mc%02d", i);
			cr_assert_eq(generate(name, body, sizeof(body)), 200,
			    "%s, round %d: %s", name, r, body);
		}
	/* Held 300 ms at Vault, so all six ask while the first read is
	 * out. */
	ctl_ok("/latency", "{\"paths\":{\"kv2/data/hot\":300}}");
	for (i = 0; i < MC_READERS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, hot_get, &code[i]),
		    0);
	for (i = 0; i < MC_READERS; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(code[i], 200, "hot, reader %d: %ld", i, code[i]);
	}

	a = vd_requests();
	for (i = 0; i < MC_KEYS; i++) {
		FMT(name, "mc%02d", i);
		FMT(path, "/v1/kv2/data/%s", name);
		reads = count_req(a, "GET", path);
		cr_expect_eq(reads, 1, "%s (crypto %u) read %d times from "
		    "Vault", name, kes_name_shard(name, 3), reads);
	}
	reads = count_req(a, "GET", "/v1/kv2/data/hot");
	cr_expect_eq(reads, 1, "6 concurrent first reads of one key: %d "
	    "reads", reads);
	json_decref(a);
	expect_no_secrets_logged();
}

#define LOAD_THREADS	4

struct load {
	volatile bool	 stop;
	int		 ok, failed, wrong;
	pthread_mutex_t	 mu;
	char		 last[256];
};

/* Create a key, generate a DEK, decrypt it: the plaintext must match. */
static void *
load_one(void *arg)
{
	struct load	*l = arg;
	char		 name[32], body[BODYLEN], req[1024], pt[128], ct[512];
	char		 out[BODYLEN];
	json_error_t	 jerr;
	json_t		*j;
	long		 code;
	int		 i = 0;

	while (!l->stop) {
		FMT(name, "load-%lx-%d", (unsigned long)pthread_self() & 0xffff,
		    i++);
		code = key("create", name, NULL, body, sizeof(body));
		if (code != 200 && code != 400) {
			pthread_mutex_lock(&l->mu);
			l->failed++;
			snprintf(l->last, sizeof(l->last), "create %ld %.200s",
			    code, body);
			pthread_mutex_unlock(&l->mu);
			tsrv_sleep_ms(100);
			continue;
		}
		if (generate(name, body, sizeof(body)) != 200 ||
		    (j = json_loads(body, 0, &jerr)) == NULL) {
			pthread_mutex_lock(&l->mu);
			l->failed++;
			pthread_mutex_unlock(&l->mu);
			continue;
		}
		snprintf(pt, sizeof(pt), "%s", json_string_value(
		    json_object_get(j, "plaintext")));
		snprintf(ct, sizeof(ct), "%s", json_string_value(
		    json_object_get(j, "ciphertext")));
		json_decref(j);
		FMT(req, "{\"ciphertext\":\"%s\"}", ct);
		code = key("decrypt", name, req, out, sizeof(out));
		pthread_mutex_lock(&l->mu);
		if (code == 200 && strstr(out, pt) != NULL)
			l->ok++;
		else if (code == 200)
			l->wrong++;
		else
			l->failed++;
		pthread_mutex_unlock(&l->mu);
	}
	return NULL;
}

/*
 * Vault restarts (down 1.5 s) and then every token expires while
 * LOAD_THREADS clients create keys and use them: no answer is ever wrong,
 * failures are limited to the restart window, and everything works after.
 */
Test(vault, restart_and_expiry_under_load, .timeout = 120)
{
	struct vcfg	 v = { 0 };
	struct load	 l = { .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t	 th[LOAD_THREADS];
	char		 body[BODYLEN], name[32];
	int		 i, failed_before;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	for (i = 0; i < LOAD_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, load_one, &l), 0);
	tsrv_sleep_ms(2000);
	ctl_ok("/restart", "{\"down_ms\":1500,\"async\":true}");
	tsrv_sleep_ms(5000);
	pthread_mutex_lock(&l.mu);
	failed_before = l.failed;
	pthread_mutex_unlock(&l.mu);
	ctl_ok("/tokens/expire", "{}");
	tsrv_sleep_ms(4000);
	l.stop = true;
	for (i = 0; i < LOAD_THREADS; i++)
		pthread_join(th[i], NULL);
	cr_expect_eq(l.wrong, 0, "%d wrong answers", l.wrong);
	cr_expect_gt(l.ok, 20, "%d round trips", l.ok);
	cr_expect_eq(l.failed, failed_before, "%d failures after the token "
	    "expiry (re-login should hide it); last: %s",
	    l.failed - failed_before, l.last);
	cr_log_info("load: %d ok, %d failed (restart), %d wrong", l.ok,
	    l.failed, l.wrong);
	for (i = 0; i < 5; i++) {
		FMT(name, "after-%d", i);
		cr_expect_eq(key("create", name, NULL, body, sizeof(body)),
		    200, "after: %s", body);
	}
	expect_no_secrets_logged();
}

/* --- several nodes, one Vault --------------------------------------------- */

struct node_load {
	struct testsrv	*node;
	volatile bool	*stop;
	int		 ok, failed;
	char		 last[256];
};

/* Generate on one key at one node until told to stop. */
static void *
node_load_one(void *arg)
{
	struct node_load	*l = arg;
	char			 out[BODYLEN];
	long			 code;

	while (!*l->stop) {
		code = node_key(l->node, "generate", "survivor", "{}", out,
		    sizeof(out));
		if (code == 200)
			l->ok++;
		else {
			l->failed++;
			snprintf(l->last, sizeof(l->last), "%ld %.200s", code,
			    out);
		}
	}
	return NULL;
}

/*
 * How keyward scales past one host: three servers (each with its own port,
 * PKI and processes) share one Vault, here the double. A key created on
 * one is used by the others (a DEK generated on the second decrypts on the
 * third); a delete on one is seen by the others once their cache expires
 * (expiry.any 2s); kill -9 of one node while the others are under load
 * costs the others nothing.
 */
Test(vault, three_nodes_one_vault, .timeout = 150)
{
	struct vcfg		 v = { .top = "cache:\n  expiry:\n"
				    "    any: 2s\n    unused: 2s\n" };
	struct node_load	 l[4];
	pthread_t		 th[4];
	volatile bool		 stop = false;
	char			 body[BODYLEN], out[BODYLEN], req[1024];
	char			 pt[128], ct[512];
	json_error_t		 jerr;
	json_t			*j;
	long			 code = 0;
	int			 i, waited;

	need_root();
	vd_start(NULL);
	for (i = 0; i < NODES; i++) {
		srvp = &nodes[i];
		kw_start(&v);
	}
	srvp = &nodes[0];
	cr_assert_neq(nodes[0].port, nodes[1].port);

	/* Created on the first node, used on the second and the third. */
	cr_assert_eq(node_key(&nodes[0], "create", "shared", NULL, body,
	    sizeof(body)), 200, "create: %s", body);
	cr_assert_eq(node_key(&nodes[1], "generate", "shared", "{}", body,
	    sizeof(body)), 200, "generate on node 2: %s", body);
	cr_assert_not_null(j = json_loads(body, 0, &jerr));
	snprintf(pt, sizeof(pt), "%s",
	    json_string_value(json_object_get(j, "plaintext")));
	snprintf(ct, sizeof(ct), "%s",
	    json_string_value(json_object_get(j, "ciphertext")));
	json_decref(j);
	FMT(req, "{\"ciphertext\":\"%s\"}", ct);
	cr_assert_eq(node_key(&nodes[2], "decrypt", "shared", req, out,
	    sizeof(out)), 200, "decrypt on node 3: %s", out);
	cr_expect_not_null(strstr(out, pt), "node 3 decrypted to another "
	    "plaintext: %s", out);
	/* A second create of the name, on another node, is refused. */
	cr_expect_eq(node_key(&nodes[2], "create", "shared", NULL, body,
	    sizeof(body)), 400, "%s", body);

	/* Deleted on the first node: the second sees it after its expiry. */
	cr_assert_eq(node_key(&nodes[0], "delete", "shared", NULL, body,
	    sizeof(body)), 200, "delete: %s", body);
	for (waited = 0; waited < 10000; waited += 250) {
		code = node_key(&nodes[1], "generate", "shared", "{}", body,
		    sizeof(body));
		if (code != 200)
			break;
		tsrv_sleep_ms(250);
	}
	cr_expect_eq(code, 404, "node 2 still answers %ld after 10 s: %s",
	    code, body);
	cr_expect_not_null(strstr(body, "key does not exist"), "%s", body);

	/* kill -9 of the first node under load on the other two. */
	cr_assert_eq(node_key(&nodes[1], "create", "survivor", NULL, body,
	    sizeof(body)), 200, "%s", body);
	for (i = 0; i < 4; i++) {
		memset(&l[i], 0, sizeof(l[i]));
		l[i].node = &nodes[1 + i % 2];
		l[i].stop = &stop;
		cr_assert_eq(pthread_create(&th[i], NULL, node_load_one,
		    &l[i]), 0);
	}
	tsrv_sleep_ms(1000);
	cr_assert_eq(kill(nodes[0].pid, SIGKILL), 0);
	tsrv_sleep_ms(3000);
	stop = true;
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		cr_expect_eq(l[i].failed, 0, "node %d: %d failures under load "
		    "after node 1 died; last: %s", 2 + i % 2, l[i].failed,
		    l[i].last);
		cr_expect_gt(l[i].ok, 10, "node %d: %d answers", 2 + i % 2,
		    l[i].ok);
	}
	cr_expect_eq(tsrv_get(&nodes[2], TSRV_ADMIN, "/v1/status", body,
	    sizeof(body)), 200, "%s", body);
	for (i = 1; i < NODES; i++) {
		srvp = &nodes[i];
		expect_no_secrets_logged();
	}
	srvp = &nodes[0];
}

/* --- renewal and outages ------------------------------------------------ */

/* Wait up to ms for n requests matching method and path in the double's
 * log; how many there were. */
static int
wait_requests(const char *method, const char *path, int n, unsigned int ms)
{
	uint64_t	 t0 = tsrv_now_ms();
	json_t		*a;
	int		 got;

	for (;;) {
		a = vd_requests();
		got = count_req(a, method, path);
		json_decref(a);
		if (got >= n || tsrv_now_ms() - t0 >= ms)
			return got;
		tsrv_sleep_ms(500);
	}
}

/*
 * VT6, VT7 (renewal, spec §1.6.2): a 31 s token is renewed with
 * renew-self and {"increment":0} at 80 % of its TTL, the same token kept
 * (no new login); when renew-self then answers 403 there is no retry (a
 * 4xx) and a new login replaces the token. Data calls work throughout.
 * Vault is the test double. About a minute: the renewal runs on
 * keyward's own clock, which the test cannot move.
 */
Test(vault, renewal, .timeout = 150)
{
	const char *const args[] = { "--token-ttl", "31", NULL };
	struct vcfg	 v = { 0 };
	char		 body[BODYLEN];
	const char	*b;
	json_t		*a, *e;
	int		 n;

	need_root();
	vd_start(args);
	kw_start(&v);
	cr_assert_eq(key("create", "r1", NULL, body, sizeof(body)), 200,
	    "%s", body);
	n = wait_requests(NULL, "/v1/auth/token/renew-self", 1, 35000);
	cr_assert_eq(n, 1, "%d renew-self requests within 35 s of a 31 s "
	    "token", n);
	a = vd_requests();
	cr_expect_eq(count_req(a, "PUT", "/v1/auth/approle/login"), 1,
	    "a renewal is not a new login");
	cr_assert_not_null(e = find_req(a, "PUT",
	    "/v1/auth/token/renew-self", 0));
	cr_expect_eq(json_integer_value(json_object_get(e, "status")), 200);
	b = json_string_value(json_object_get(e, "body"));
	cr_expect(b != NULL && strstr(b, "\"increment\":0") != NULL,
	    "renew-self body: %s", b ? b : "(none)");
	json_decref(a);
	cr_expect_eq(key("create", "r2", NULL, body, sizeof(body)), 200,
	    "after the renewal: %s", body);

	/* The next renewal is refused: one attempt, then a login. */
	fault("auth/token/renew-self", 403, 1);
	n = wait_requests("PUT", "/v1/auth/approle/login", 2, 35000);
	cr_expect_eq(n, 2, "%d logins: a refused renewal must be followed by "
	    "a new login", n);
	a = vd_requests();
	cr_expect_eq(count_req(a, NULL, "/v1/auth/token/renew-self"), 2,
	    "a 403 on renew-self is not retried");
	json_decref(a);
	tsrv_sleep_ms(1000);
	cr_expect_eq(key("create", "r3", NULL, body, sizeof(body)), 200,
	    "after the new login: %s", body);
	expect_no_secrets_logged();
}

/*
 * keyward V12 and offline behaviour when Vault is down (not sealed): its
 * listener closed for 12 s, /v1/status says the store is unreachable
 * within that time and recovers by itself once Vault listens again.
 * Vault is the test double.
 */
Test(vault, vault_down_and_back)
{
	struct vcfg	 v = { 0 };
	char		 body[BODYLEN];
	long		 code;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	cr_assert(wait_status(true, 12000), "not healthy at start");
	ctl_ok("/restart", "{\"down_ms\":12000,\"async\":true}");
	tsrv_sleep_ms(500);
	/* A call that misses the cache fails, and makes the crypto process
	 * probe the store at once. */
	code = key("create", "while-down", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "create while Vault is down: %ld %s", code,
	    body);
	cr_expect(wait_status(false, 10000), "/v1/status did not say the "
	    "store is unreachable while Vault was down");
	cr_expect(wait_status(true, 25000), "/v1/status did not recover "
	    "after Vault came back");
	code = key("create", "after", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "after Vault came back: %ld %s", code, body);
	expect_no_secrets_logged();
}

/* --- a KES deployment's Vault --------------------------------------------- */

/*
 * A Vault that KES filled: the stored keys of every format real KES wrote
 * (tests/data/kat/e2e_vectors.h, made by an independent implementation)
 * written where and as KES's Vault store writes them (KV v1,
 * <engine>/<prefix>/<name> holding {"<name>":"<value>"}; and KV v2 as
 * version 1 of <engine>/data/<prefix>/<name>), then a keyward configured
 * with a KES-style keystore.vault section decrypts the ciphertexts KES
 * made and lists the keys. Vault is the test double.
 */
Test(vault, kes_deployment_keys)
{
	const size_t	 nkeys = sizeof(kat_keys) / sizeof(kat_keys[0]);
	const size_t	 ncts = sizeof(kat_cts) / sizeof(kat_cts[0]);
	struct vcfg	 v1 = { .engine = "kv", .version = 1,
			    .extra = "    prefix: minio/kes\n" };
	struct vcfg	 v2 = { .engine = "kv2", .version = 2,
			    .extra = "    prefix: kes\n" };
	const struct vcfg *cfgs[] = { &v1, &v2 };
	char		 name[256], body[BODYLEN], want[BODYLEN], req[2048];
	size_t		 i, c;
	long		 code;

	need_root();
	vd_start(NULL);
	for (i = 0; i < nkeys; i++) {
		FMT(name, "minio/kes/%s", kat_keys[i].name);
		plant("kv", 1, name, kat_keys[i].value, NULL);
		FMT(name, "kes/%s", kat_keys[i].name);
		plant("kv2", 2, name, kat_keys[i].value, NULL);
	}
	for (c = 0; c < 2; c++) {
		kw_start(cfgs[c]);
		for (i = 0; i < ncts; i++) {
			const struct kat_ct *t = &kat_cts[i];

			FMT(req, "{\"ciphertext\":\"%s\",\"context\":\"%s\"}",
			    t->ciphertext, t->context);
			code = key("decrypt", t->key, req, body, sizeof(body));
			FMT(want, "{\"plaintext\":\"%s\"}\n", t->plaintext);
			cr_expect_eq(code, 200, "KV v%zu: decrypt %s (%s): %ld "
			    "%s", c + 1, t->key, t->what, code, body);
			cr_expect_str_eq(body, want, "KV v%zu: decrypt %s (%s)",
			    c + 1, t->key, t->what);
		}
		code = key("list", "kat-*", NULL, body, sizeof(body));
		cr_expect_eq(code, 200, "list: %s", body);
		for (i = 0; i < nkeys; i++) {
			FMT(name, "\"%s\"", kat_keys[i].name);
			cr_expect_not_null(strstr(body, name), "KV v%zu: %s "
			    "not listed: %s", c + 1, name, body);
		}
		kw_stop();
	}
	expect_no_secrets_logged();
}

/*
 * VT4: the login's namespace. approle.namespace "/" logs in at the root
 * (no X-Vault-Namespace on the login) and "ns1" in ns1, while data calls
 * carry the store's namespace, ns1/team; the token works there both ways
 * (a token is valid in its namespace and below). Vault is the test
 * double.
 */
Test(vault, login_namespaces)
{
	const char *const args[] = { "--namespace", "ns1", "--namespace",
	    "ns1/team", NULL };
	const char *const logins[] = { "/", "ns1" };
	char		 auth[512], body[BODYLEN], name[32], path[64];
	struct vcfg	 v = { .extra = "    namespace: ns1/team\n",
			    .auth = auth };
	const char	*h;
	json_t		*a, *e;
	size_t		 i;

	need_root();
	vd_start(args);
	for (i = 0; i < 2; i++) {
		FMT(auth, "    approle:\n      namespace: %s\n      id: %s\n"
		    "      secret: %s\n", logins[i], ROLE_ID, SECRET_ID);
		ctl_ok("/requests/clear", "{}");
		kw_start(&v);
		FMT(name, "ns-%zu", i);
		cr_expect_eq(key("create", name, NULL, body, sizeof(body)),
		    200, "login namespace %s: %s", logins[i], body);
		a = vd_requests();
		cr_assert_not_null(e = find_req(a, "PUT",
		    "/v1/auth/approle/login", 0));
		h = req_header(e, "X-Vault-Namespace");
		if (i == 0)
			cr_expect_null(h, "a root login sent namespace %s", h);
		else
			cr_expect(h != NULL && strcmp(h, "ns1") == 0,
			    "login namespace: %s", h ? h : "(none)");
		FMT(path, "/v1/kv2/data/%s", name);
		cr_assert_not_null(e = find_req(a, "PUT", path, 0));
		h = req_header(e, "X-Vault-Namespace");
		cr_expect(h != NULL && strcmp(h, "ns1/team") == 0,
		    "data namespace: %s", h ? h : "(none)");
		json_decref(a);
		kw_stop();
	}
	expect_no_secrets_logged();
}

/*
 * VT26: a 307 is followed once (the request repeated at the new place,
 * body included); a redirect from https to http is refused, and so is a
 * second redirect in a row. Vault is the test double.
 */
Test(vault, redirects)
{
	struct vcfg	 v = { 0 };
	char		 body[BODYLEN], rule[512];
	long		 code;

	need_root();
	vd_start(NULL);
	kw_start(&v);
	ctl_ok("/fault", "{\"path\":\"kv2/data/moved\",\"method\":\"PUT\","
	    "\"action\":\"redirect\",\"count\":1}");
	code = key("create", "moved", NULL, body, sizeof(body));
	cr_expect_eq(code, 200, "one 307: %ld %s", code, body);
	free(stored("kv2", 2, "moved", NULL));

	FMT(rule, "{\"path\":\"kv2/data/plain\",\"action\":\"redirect\","
	    "\"location\":\"http://127.0.0.1:%d/v1/kv2/data/plain\","
	    "\"count\":-1}", vd.port);
	ctl_ok("/fault", rule);
	code = key("create", "plain", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "a redirect to http: %ld %s", code, body);

	ctl_ok("/faults/clear", "{}");
	ctl_ok("/fault", "{\"path\":\"kv2/data/twice\",\"action\":"
	    "\"redirect\",\"count\":-1}");
	code = key("create", "twice", NULL, body, sizeof(body));
	cr_expect_eq(code, 502, "endless redirects: %ld %s", code, body);
	expect_no_secrets_logged();
}

/*
 * A key of `keys:` the store refuses to create ends the start, as in KES:
 * the server exits non-zero, before "serving on", with the store's own
 * message; keys it could create are not the point.
 */
Test(vault, declared_key_refused_ends_start)
{
	struct vcfg	 v = { .top = "keys:\n  - name: fine\n"
			    "  - name: refused\n" };
	char		 rule[256];

	need_root();
	vd_start(NULL);
	FMT(rule, "{\"path\":\"kv2/data/refused\",\"status\":400,"
	    "\"errors\":[\"writes to refused are not allowed here\"],"
	    "\"count\":-1}");
	ctl_ok("/fault", rule);
	kw_start_fails(&v, "writes to refused are not allowed here");
	cr_expect_gt(tsrv_log_count(&srv, "cannot create key 'refused' of "
	    "`keys:`"), 0, "log:\n%s", tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "serving on"), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
}
