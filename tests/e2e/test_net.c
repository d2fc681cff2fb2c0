/*
 * The agent's HTTPS layer (keystore-agent/net.c, net_req.c: requests,
 * retry policies, answers and their headers) and its resolver helper
 * (helper.c) against the Vault test double (tests/doubles/vault_double.py:
 * TLS, mTLS, faults and latency through its control port), driven by the
 * agent's own event loop in the test process. A throw-away PKI is made
 * per test with the openssl CLI.
 *
 * No timing assertion except generous upper bounds on the loop and lower
 * bounds that the protocol guarantees (a retry waits at least its
 * minimum).
 *
 * The sandbox tests run a request in a fork()ed child under the real
 * agent filter plus net_rules (the filter forbids clone, so a request
 * that made curl start its resolver thread would die there), then make
 * a forbidden call and expect SIGSYS.
 */
#include <sys/types.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef KEYWARD_SANITIZE
#include <sanitizer/lsan_interface.h>
#endif

#include "common/ev.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/sandbox.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/net.h"
#include "tests/lib/testsrv.h"

#define TOKEN		"net-test-root-token"
#define LOOP_MS		15000	/* upper bound on any wait here */

static struct {
	char	dir[PATH_MAX];
	int	port, cport;
	pid_t	pid;
	char	*ca, *cert, *key, *wrong_ca;
	size_t	ca_len, cert_len, key_len, wrong_ca_len;
	char	origin[64];
} vd;

/* ---- set-up ------------------------------------------------------------- */

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char	 path[PATH_MAX + 64], *p;
	FILE	*f;
	long	 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	cr_assert_eq(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	cr_assert_gt(n, 0);
	rewind(f);
	p = malloc((size_t)n + 1);
	cr_assert_not_null(p);
	cr_assert_eq(fread(p, 1, (size_t)n, f), (size_t)n);
	p[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return p;
}

static void
make_pki(void)
{
	char	cmd[PATH_MAX + 2048];

	snprintf(cmd, sizeof(cmd),
	    "set -e; cd '%s'; { "
	    "for c in ca wrong; do "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout $c.key -out $c.crt -days 30 -subj /CN=$c "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign; done; "
	    "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,"
	    "digitalSignature\\nextendedKeyUsage=serverAuth\\n"
	    "subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext; "
	    "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,"
	    "digitalSignature\\nextendedKeyUsage=clientAuth\\n' > client.ext; "
	    "for n in server client; do "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout $n.key -out $n.csr -subj /CN=$n; "
	    "openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out $n.crt -days 30 -extfile $n.ext; done; "
	    "} >pki.log 2>&1", vd.dir);
	cr_assert_eq(system(cmd), 0, "openssl failed: see %s/pki.log", vd.dir);
	vd.ca = slurp(vd.dir, "ca.crt", &vd.ca_len);
	vd.wrong_ca = slurp(vd.dir, "wrong.crt", &vd.wrong_ca_len);
	vd.cert = slurp(vd.dir, "client.crt", &vd.cert_len);
	vd.key = slurp(vd.dir, "client.key", &vd.key_len);
}

/* The double, from the tree root or next to BUILD/tests/. */
static void
find_double(char *out, size_t len)
{
	char	exe[PATH_MAX - 64], *s;
	ssize_t	n;

	if (access("tests/doubles/vault_double.py", R_OK) == 0) {
		snprintf(out, len, "tests/doubles/vault_double.py");
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	for (int i = 0; i < 3 && (s = strrchr(exe, '/')) != NULL; i++)
		*s = '\0';
	snprintf(out, len, "%s/tests/doubles/vault_double.py", exe);
	cr_assert_eq(access(out, R_OK), 0, "vault_double.py not found");
}

static int
read_port(const char *name)
{
	char	path[PATH_MAX + 32];
	FILE	*f;
	int	p = -1;

	snprintf(path, sizeof(path), "%s/%s", vd.dir, name);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%d", &p) != 1)
		p = -1;
	fclose(f);
	return p;
}

static void
start_double(bool mtls)
{
	char	script[PATH_MAX], a[8][PATH_MAX + 32];
	int	i;

	(void)signal(SIGPIPE, SIG_IGN);
	snprintf(vd.dir, sizeof(vd.dir), "/tmp/kw-net.XXXXXX");
	cr_assert_not_null(mkdtemp(vd.dir));
	make_pki();
	find_double(script, sizeof(script));
	snprintf(a[0], sizeof(a[0]), "%s/server.crt", vd.dir);
	snprintf(a[1], sizeof(a[1]), "%s/server.key", vd.dir);
	snprintf(a[2], sizeof(a[2]), "%s/vault.json", vd.dir);
	snprintf(a[3], sizeof(a[3]), "%s/vault.port", vd.dir);
	snprintf(a[4], sizeof(a[4]), "%s/vault.cport", vd.dir);
	snprintf(a[5], sizeof(a[5]), "%s/vault.log", vd.dir);
	snprintf(a[6], sizeof(a[6]), "%s/ca.crt", vd.dir);
	fflush(NULL);
	vd.pid = fork();
	cr_assert_neq(vd.pid, -1);
	if (vd.pid == 0) {
		char *argv[] = { "python3", script, "--addr", "127.0.0.1:0",
		    "--cert", a[0], "--key", a[1], "--state", a[2],
		    "--port-file", a[3], "--control-port-file", a[4],
		    "--log", a[5], "--root-token", TOKEN, "--no-fsync",
		    "--exit-with-parent", mtls ? "--client-ca" : NULL, a[6],
		    NULL };
		int fd = open("/dev/null", O_WRONLY);

		if (fd != -1)
			(void)dup2(fd, STDOUT_FILENO);
		execvp("python3", argv);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		if ((vd.port = read_port("vault.port")) > 0 &&
		    (vd.cport = read_port("vault.cport")) > 0)
			break;
		usleep(50 * 1000);
	}
	cr_assert_gt(vd.port, 0, "the Vault double did not start");
	snprintf(vd.origin, sizeof(vd.origin), "https://127.0.0.1:%d",
	    vd.port);
}

static void
stop_double(void)
{
	char cmd[PATH_MAX + 16];

	if (vd.pid > 0) {
		kill(vd.pid, SIGTERM);
		(void)waitpid(vd.pid, NULL, 0);
		vd.pid = 0;
	}
	if (vd.dir[0] != '\0' && getenv("KEYWARD_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", vd.dir);
		(void)!system(cmd);
	}
	free(vd.ca);
	free(vd.wrong_ca);
	free(vd.cert);
	free(vd.key);
	curl_global_cleanup();
}

static char	exe[PATH_MAX];	/* the keyward the helper is exec'd from */

static void
setup_common(bool mtls)
{
	char		err[256];

	log_init("net-test", LOG_LVL_WARN);
	/* The helper is exec'd from keyward, which this test is not. */
	cr_assert_eq(tsrv_default_exe(exe, sizeof(exe)), 0);
	helper_set_program(exe);
	start_double(mtls);
	ev_init();
	cr_assert_eq(net_global_init(err, sizeof(err)), 0, "%s", err);
}

static void setup(void) { setup_common(false); }
static void setup_mtls(void) { setup_common(true); }

static size_t
discard(char *p, size_t size, size_t n, void *arg)
{
	return n;
}

/* A knob of the double: plain HTTP to its control port (not net.c). */
static void
control(const char *path, const char *json)
{
	char	 url[128];
	CURL	*e = curl_easy_init();
	long	 status = 0;

	cr_assert_not_null(e);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", vd.cport, path);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(e, CURLOPT_PROXY, "");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard);
	cr_assert_eq(curl_easy_perform(e), CURLE_OK, "control %s", path);
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
	cr_assert_eq(status, 200, "control %s: %ld", path, status);
	curl_easy_cleanup(e);
}

/* ---- requests ----------------------------------------------------------- */

struct result {
	bool		 done;
	enum net_fail	 fail;
	long		 status;
	unsigned int	 attempts;
	uint64_t	 elapsed_ms;
	char		 body[4096];
	size_t		 len;
	char		 detail[512];
	int		 order;		/* completion rank, from 1 */
	/* Headers ("" when absent), and whether the list was there. */
	char		 ctype[128], ctype_hdr[128], cache[64], retry[32];
	bool		 location, headers;
};

static void
copy_header(char *dst, size_t len, const char *v)
{
	snprintf(dst, len, "%s", v != NULL ? v : "");
}

static int	completed;

static void
on_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct result *res = arg;

	cr_assert(!res->done, "done() called twice");
	cr_assert_eq(r->body[r->len], '\0', "the body is not NUL-terminated");
	res->done = true;
	res->fail = r->fail;
	res->status = r->status;
	res->attempts = r->attempts;
	res->elapsed_ms = r->elapsed_ms;
	res->len = r->len;
	snprintf(res->body, sizeof(res->body), "%s", (const char *)r->body);
	snprintf(res->detail, sizeof(res->detail), "%s", r->detail);
	res->order = ++completed;
	res->headers = r->headers != NULL;
	copy_header(res->ctype, sizeof(res->ctype), r->content_type);
	copy_header(res->ctype_hdr, sizeof(res->ctype_hdr),
	    net_resp_header(r, "content-TYPE"));
	copy_header(res->cache, sizeof(res->cache),
	    net_resp_header(r, "Cache-Control"));
	copy_header(res->retry, sizeof(res->retry),
	    net_resp_header(r, "Retry-After"));
	res->location = net_resp_header(r, "Location") != NULL;
	cr_assert_null(net_resp_header(r, "X-Not-Sent"));
	/* A prefix of a name is not the name. */
	cr_assert_null(net_resp_header(r, "Content"));
}

static void
run_until(const bool *flag, unsigned int max_ms)
{
	uint64_t end = ev_now() + max_ms;

	while (!*flag && ev_now() < end)
		ev_once(50);
}

static void
run_for(unsigned int ms)
{
	uint64_t end = ev_now() + ms;

	while (ev_now() < end)
		ev_once((int)(end - ev_now()));
}

static bool
retry_5xx_429(const struct net_resp *r)
{
	return r->fail != NET_OK || r->status >= 500 || r->status == 429;
}

static bool
retry_all(const struct net_resp *r)
{
	return true;
}

static const struct net_policy once = {
	1, 0, 0, 5000, NULL, NET_WAIT_GROWING
};

static struct net_client *
client(const char *origin, bool with_ca, bool with_cert)
{
	struct net_tls		 tls = { 0 };
	struct net_client	*cl;
	char			 err[256];

	if (with_ca) {
		tls.ca = (const uint8_t *)vd.ca;
		tls.ca_len = vd.ca_len;
	}
	if (with_cert) {
		tls.cert = (const uint8_t *)vd.cert;
		tls.cert_len = vd.cert_len;
		tls.key = (const uint8_t *)vd.key;
		tls.key_len = vd.key_len;
	}
	cl = net_client_new(origin, &tls, false, err, sizeof(err));
	cr_assert_not_null(cl, "net_client_new(%s): %s", origin, err);
	return cl;
}

static void
do_request(struct net_client *cl, const char *method, const char *path,
    const char *body, const struct net_policy *pol, struct result *res)
{
	static const char *const hdrs[] = { "X-Vault-Token: " TOKEN,
	    "Content-Type: application/json", NULL };
	bool called = false;

	memset(res, 0, sizeof(*res));
	(void)net_request(cl, method, path, hdrs, (const uint8_t *)body,
	    body != NULL ? strlen(body) : 0, pol, on_done, res);
	/* Never from inside net_request(). */
	called = res->done;
	cr_assert(!called, "done() ran inside net_request()");
	run_until(&res->done, LOOP_MS);
	cr_assert(res->done, "%s %s: no answer within %d ms", method, path,
	    LOOP_MS);
}

TestSuite(net, .init = setup, .fini = stop_double, .timeout = 60);
TestSuite(net_mtls, .init = setup_mtls, .fini = stop_double, .timeout = 60);

Test(net, put_then_get_with_headers_and_body)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct result		 res;

	do_request(cl, "PUT", "/v1/kv/net-test", "{\"value\":\"hello\"}",
	    &once, &res);
	cr_assert_eq(res.fail, NET_OK, "%s", res.detail);
	cr_assert_eq(res.status, 204, "%ld %s", res.status, res.body);
	cr_assert_eq(res.attempts, 1);
	cr_assert_str_empty(res.detail);

	do_request(cl, "GET", "/v1/kv/net-test", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_OK, "%s", res.detail);
	cr_assert_eq(res.status, 200);
	cr_assert_not_null(strstr(res.body, "\"value\":\"hello\""), "%s",
	    res.body);
	cr_assert_eq(res.len, strlen(res.body));

	/* The token header reached the double: without it, 403. */
	{
		bool	done = false;
		struct	result r2 = { 0 };

		(void)net_request(cl, "GET", "/v1/kv/net-test", NULL, NULL, 0,
		    &once, on_done, &r2);
		run_until(&r2.done, LOOP_MS);
		done = r2.done;
		cr_assert(done);
		cr_assert_eq(r2.status, 403, "%ld", r2.status);
	}
	net_client_free(cl);
}

Test(net, path_prefix_and_head_and_delete)
{
	struct net_client	*cl;
	struct result		 res;
	char			 base[96];

	snprintf(base, sizeof(base), "%s/v1/", vd.origin);
	cl = client(base, true, false);
	do_request(cl, "PUT", "/kv/x", "{\"a\":\"b\"}", &once, &res);
	cr_assert_eq(res.status, 204, "%ld %s", res.status, res.detail);
	do_request(cl, "HEAD", "/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 200, "%ld %s", res.status, res.detail);
	cr_assert_eq(res.len, 0);
	do_request(cl, "DELETE", "/kv/x", NULL, &once, &res);
	cr_assert_eq(res.status, 204, "%ld %s", res.status, res.detail);
	do_request(cl, "GET", "/kv/x", NULL, &once, &res);
	cr_assert_eq(res.status, 404);
	net_client_free(cl);
}

Test(net, keep_alive_reuses_one_connection)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct result		 res;
	int			 i;

	for (i = 0; i < 5; i++) {
		do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
		cr_assert_eq(res.status, 200, "%s", res.detail);
	}
	cr_assert_eq(net_client_connections(cl), 1,
	    "5 requests in a row opened %llu connections",
	    (unsigned long long)net_client_connections(cl));
	net_client_free(cl);
}

Test(net, bad_requests_fail_through_done)
{
	struct net_client	*cl = client(vd.origin, true, false);
	const char *const	 bad[] = { "X-A: b\r\nX-C: d", NULL };
	struct result		 res;

	do_request(cl, "GE T", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_IO);
	do_request(cl, "GET", "v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_IO);
	memset(&res, 0, sizeof(res));
	(void)net_request(cl, "GET", "/v1/sys/health", bad, NULL, 0, &once,
	    on_done, &res);
	cr_assert(!res.done);
	run_until(&res.done, LOOP_MS);
	cr_assert_eq(res.fail, NET_IO);
	cr_assert_eq(net_client_connections(cl), 0);
	net_client_free(cl);
}

Test(net, client_refuses_bad_urls)
{
	char err[256];

	cr_assert_null(net_client_new("http://127.0.0.1:1", NULL, false, err,
	    sizeof(err)));
	cr_assert_null(net_client_new("https://u:p@127.0.0.1:1", NULL, false,
	    err, sizeof(err)));
	cr_assert_null(net_client_new("https://127.0.0.1:1/?x=1", NULL, false,
	    err, sizeof(err)));
	cr_assert_null(net_client_new("not a url", NULL, false, err,
	    sizeof(err)));
}

Test(net, wrong_ca_is_tls_verify_and_not_retried)
{
	struct net_tls		 tls = { (const uint8_t *)vd.wrong_ca,
				    vd.wrong_ca_len, NULL, 0, NULL, 0 };
	struct net_policy	 pol = { 4, 1, 2, 5000, retry_all,
				    NET_WAIT_GROWING };
	struct net_client	*cl;
	struct result		 res;
	char			 err[256];

	cl = net_client_new(vd.origin, &tls, false, err, sizeof(err));
	cr_assert_not_null(cl, "%s", err);
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.fail, NET_TLS_VERIFY, "%d: %s", res.fail, res.detail);
	cr_assert_eq(res.attempts, 1);
	cr_assert_str_not_empty(res.detail);
	net_client_free(cl);

	/* No CA given: the system bundle, which does not know ours. */
	cl = net_client_new(vd.origin, NULL, false, err, sizeof(err));
	cr_assert_not_null(cl, "%s", err);
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.fail, NET_TLS_VERIFY, "%d: %s", res.fail, res.detail);
	net_client_free(cl);
}

Test(net, retries_503_then_429_with_waits)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct net_policy	 pol = { 5, 20, 30, 5000,
				    retry_5xx_429, NET_WAIT_GROWING };
	struct result		 res;

	control("/fault", "{\"path\":\"sys/health\",\"status\":503,"
	    "\"count\":2}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.fail, NET_OK, "%s", res.detail);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(res.attempts, 3);
	/* Waits of at least 1 x 20 and 2 x 20 ms came before 2 and 3. */
	cr_assert_geq(res.elapsed_ms, 60, "%llu ms",
	    (unsigned long long)res.elapsed_ms);

	control("/fault", "{\"path\":\"sys/health\",\"status\":429,"
	    "\"count\":1,\"retry_after\":\"1\"}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(res.attempts, 2);

	/* Attempts run out: the last answer is the result. */
	pol.attempts = 3;
	control("/fault", "{\"path\":\"sys/health\",\"status\":503,"
	    "\"count\":10}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.fail, NET_OK);
	cr_assert_eq(res.status, 503);
	cr_assert_eq(res.attempts, 3);
	cr_assert_not_null(strstr(res.body, "errors"), "%s", res.body);

	/* No retry function: one attempt. */
	control("/faults/clear", "{}");
	control("/fault", "{\"path\":\"sys/health\",\"status\":503,"
	    "\"count\":1}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 503);
	cr_assert_eq(res.attempts, 1);
	net_client_free(cl);
}

/*
 * The answer's headers: Content-Type trimmed (absent on a 204), any
 * header by name in any case, those of the last attempt and of the
 * redirected answer only, none after a failure.
 */
Test(net, response_headers)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct net_policy	 pol = { 3, 1, 2, 5000, retry_5xx_429,
				    NET_WAIT_GROWING };
	struct result		 res;

	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 200, "%s", res.detail);
	cr_expect_str_eq(res.ctype, "application/json");
	cr_expect_str_eq(res.ctype_hdr, "application/json");
	cr_expect_str_eq(res.cache, "no-store");

	do_request(cl, "PUT", "/v1/kv/h", "{\"a\":\"b\"}", &once, &res);
	cr_assert_eq(res.status, 204, "%s", res.detail);
	cr_expect_str_empty(res.ctype);
	cr_expect_str_eq(res.cache, "no-store");

	control("/fault", "{\"path\":\"sys/health\",\"status\":429,"
	    "\"count\":1,\"retry_after\":\"7\"}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 429);
	cr_expect_str_eq(res.retry, "7");
	/* Retried: the second answer's headers, not the first's. */
	control("/fault", "{\"path\":\"sys/health\",\"status\":429,"
	    "\"count\":1,\"retry_after\":\"7\"}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(res.attempts, 2);
	cr_expect_str_empty(res.retry);

	/* A 307 followed: the answer it led to (no Location). */
	control("/fault", "{\"path\":\"sys/health\",\"action\":\"redirect\"}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 200, "%s", res.detail);
	cr_expect_not(res.location);
	cr_expect_str_eq(res.ctype, "application/json");

	/* No answer: no header. */
	control("/fault", "{\"path\":\"sys/health\",\"action\":\"truncate\","
	    "\"status\":200}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_IO);
	cr_expect(res.headers);
	cr_expect_str_empty(res.ctype);
	cr_expect_str_empty(res.cache);
	net_client_free(cl);
}

/*
 * NET_WAIT_CONSTANT (KES's retry wrapper, the CipherTrust store): every
 * wait is uniform[min, max); NET_WAIT_GROWING (Vault's client): the i-th
 * is i times that. Four retries of 200 ms: 800 ms against 2 000 ms.
 */
Test(net, constant_and_growing_waits)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct net_policy	 pol = { 5, 200, 201, 5000, retry_5xx_429,
				    NET_WAIT_CONSTANT };
	struct result		 res;

	control("/fault", "{\"path\":\"sys/health\",\"status\":503,"
	    "\"count\":4}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.status, 200, "%ld %s", res.status, res.detail);
	cr_assert_eq(res.attempts, 5);
	cr_expect_geq(res.elapsed_ms, 800, "%llu ms",
	    (unsigned long long)res.elapsed_ms);
	cr_expect_lt(res.elapsed_ms, 1900, "%llu ms: the waits grew",
	    (unsigned long long)res.elapsed_ms);

	pol.wait = NET_WAIT_GROWING;
	control("/fault", "{\"path\":\"sys/health\",\"status\":503,"
	    "\"count\":4}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.status, 200, "%ld %s", res.status, res.detail);
	cr_expect_geq(res.elapsed_ms, 2000, "%llu ms",
	    (unsigned long long)res.elapsed_ms);
	net_client_free(cl);
}

Test(net, attempt_deadline_is_timeout)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct net_policy	 pol = { 2, 1, 2, 300,
				    retry_5xx_429, NET_WAIT_GROWING };
	struct result		 res;

	control("/latency", "{\"ms\":3000}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.fail, NET_TIMEOUT, "%d: %s", res.fail, res.detail);
	cr_assert_eq(res.attempts, 2);
	control("/latency", "{\"ms\":0}");
	net_client_free(cl);
}

static int
closed_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);		/* bound, never listened: refused */
	return port;
}

Test(net, connection_refused)
{
	struct net_client	*cl;
	struct result		 res;
	char			 url[64];

	snprintf(url, sizeof(url), "https://127.0.0.1:%d", closed_port());
	cl = client(url, true, false);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_REFUSED, "%d: %s", res.fail, res.detail);
	cr_assert_str_not_empty(res.detail);
	net_client_free(cl);
}

/* Ten at once; the one the double holds back completes last. */
Test(net, concurrent_requests_complete_independently)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct result		 res[10];
	bool			 all;
	uint64_t		 end;
	int			 i;

	control("/latency", "{\"paths\":{\"kv/slow\":1500}}");
	completed = 0;
	memset(res, 0, sizeof(res));
	(void)net_request(cl, "GET", "/v1/kv/slow", NULL, NULL, 0, &once,
	    on_done, &res[0]);
	for (i = 1; i < 10; i++)
		(void)net_request(cl, "GET", "/v1/sys/health", NULL, NULL, 0,
		    &once, on_done, &res[i]);
	end = ev_now() + LOOP_MS;
	do {
		ev_once(50);
		for (all = true, i = 0; i < 10; i++)
			all = all && res[i].done;
	} while (!all && ev_now() < end);
	cr_assert(all, "not every request completed");
	for (i = 1; i < 10; i++)
		cr_assert_eq(res[i].status, 200, "%d: %s", i, res[i].detail);
	cr_assert_eq(res[0].order, 10, "the held request completed %d-th",
	    res[0].order);
	net_client_free(cl);
}

static void
never(struct net_req *req, const struct net_resp *r, void *arg)
{
	cr_assert_fail("done() after cancel or free");
}

Test(net, cancel_in_flight)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct net_req		*req;
	struct result		 res;

	control("/latency", "{\"ms\":800}");
	req = net_request(cl, "GET", "/v1/sys/health", NULL, NULL, 0, &once,
	    never, NULL);
	run_for(300);
	net_cancel(req);
	/* Cancelled before its first loop turn, and while waiting. */
	net_cancel(net_request(cl, "GET", "/v1/sys/health", NULL, NULL, 0,
	    &once, never, NULL));
	run_for(1200);
	control("/latency", "{\"ms\":0}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 200);
	net_client_free(cl);
}

/* done() may cancel another request, and free the client itself. */
static struct net_client	*reentrant_cl;
static struct net_req		*reentrant_other;

static void
cancel_other(struct net_req *req, const struct net_resp *r, void *arg)
{
	*(bool *)arg = true;
	net_cancel(reentrant_other);
	net_cancel(req);		/* its own: a no-op inside done() */
}

static void
free_client(struct net_req *req, const struct net_resp *r, void *arg)
{
	*(bool *)arg = true;
	net_client_free(reentrant_cl);
}

Test(net, cancel_and_free_from_inside_done)
{
	bool flag = false;

	reentrant_cl = client(vd.origin, true, false);
	control("/latency", "{\"paths\":{\"kv/slow\":800}}");
	reentrant_other = net_request(reentrant_cl, "GET", "/v1/kv/slow",
	    NULL, NULL, 0, &once, never, NULL);
	(void)net_request(reentrant_cl, "GET", "/v1/sys/health", NULL, NULL,
	    0, &once, cancel_other, &flag);
	run_until(&flag, LOOP_MS);
	cr_assert(flag);

	flag = false;
	(void)net_request(reentrant_cl, "GET", "/v1/kv/slow", NULL, NULL, 0,
	    &once, never, NULL);
	(void)net_request(reentrant_cl, "GET", "/v1/kv/slow", NULL, NULL, 0,
	    &once, never, NULL);
	(void)net_request(reentrant_cl, "GET", "/v1/sys/health", NULL, NULL,
	    0, &once, free_client, &flag);
	run_until(&flag, LOOP_MS);
	cr_assert(flag);
	run_for(1200);
}

Test(net, redirect_followed_once_to_https_only)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct result		 res;
	char			 rule[256];

	/* To the same URL on the double (an IP literal). */
	control("/fault", "{\"path\":\"sys/health\",\"action\":\"redirect\"}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_OK, "%s", res.detail);
	cr_assert_eq(res.status, 200);

	/* The body and method survive a 307. */
	control("/fault", "{\"path\":\"kv/r\",\"action\":\"redirect\"}");
	do_request(cl, "PUT", "/v1/kv/r", "{\"k\":\"v\"}", &once, &res);
	cr_assert_eq(res.status, 204, "%ld %s", res.status, res.body);
	do_request(cl, "GET", "/v1/kv/r", NULL, &once, &res);
	cr_assert_not_null(strstr(res.body, "\"k\":\"v\""), "%s", res.body);

	/* https -> http is refused. */
	snprintf(rule, sizeof(rule), "{\"path\":\"sys/health\",\"action\":"
	    "\"redirect\",\"location\":\"http://127.0.0.1:%d/v1/sys/health\"}",
	    vd.port);
	control("/fault", rule);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_IO, "%d %ld", res.fail, res.status);

	/* Another host name: curl would resolve it itself; refused. */
	snprintf(rule, sizeof(rule), "{\"path\":\"sys/health\",\"action\":"
	    "\"redirect\",\"location\":\"https://localhost:%d/v1/sys/health\"}",
	    vd.port);
	control("/fault", rule);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_DNS, "%d %ld", res.fail, res.status);
	cr_assert_not_null(strstr(res.detail, "redirect"), "%s", res.detail);

	/* Two redirects: only one is followed. */
	control("/fault", "{\"path\":\"sys/health\",\"action\":\"redirect\","
	    "\"count\":2}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_IO, "%d %ld", res.fail, res.status);
	net_client_free(cl);
}

Test(net, truncated_answer_is_io)
{
	struct net_client	*cl = client(vd.origin, true, false);
	struct result		 res;

	control("/fault", "{\"path\":\"sys/health\",\"action\":\"truncate\","
	    "\"status\":200}");
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_IO, "%d %ld", res.fail, res.status);
	net_client_free(cl);
}

/* ---- host names through the helper ------------------------------------- */

Test(net, localhost_through_the_helper)
{
	struct net_client	*cl;
	struct result		 res;
	char			 url[64], err[256];

	cr_assert_eq(helper_start(NULL, err, sizeof(err)), 0, "%s", err);
	snprintf(url, sizeof(url), "https://localhost:%d", vd.port);
	cl = client(url, true, false);
	/* The request waits for the first answer. */
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_OK, "%d: %s", res.fail, res.detail);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(net_client_resolutions(cl), 1);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 200);
	cr_assert_eq(net_client_resolutions(cl), 1, "resolved again within "
	    "NET_RESOLVE_MS");
	net_client_free(cl);
}

/*
 * What this proves: a refused connection makes the client ask the helper
 * again (the counter), and the new answer is used for the retry. It does
 * not prove that a changed answer moves the connection (no test can
 * change what localhost resolves to without editing /etc/hosts).
 */
Test(net, refused_connection_resolves_again)
{
	struct net_client	*cl;
	struct net_policy	 pol = { 2, 10, 20, 3000, retry_all,
				    NET_WAIT_GROWING };
	struct result		 res;
	char			 url[64], err[256];

	cr_assert_eq(helper_start(NULL, err, sizeof(err)), 0, "%s", err);
	snprintf(url, sizeof(url), "https://localhost:%d", closed_port());
	cl = client(url, true, false);
	do_request(cl, "GET", "/v1/sys/health", NULL, &pol, &res);
	cr_assert_eq(res.fail, NET_REFUSED, "%d: %s", res.fail, res.detail);
	cr_assert_eq(res.attempts, 2);
	run_for(300);
	cr_assert_geq(net_client_resolutions(cl), 2, "%llu",
	    (unsigned long long)net_client_resolutions(cl));
	net_client_free(cl);
}

Test(net, unknown_name_is_dns)
{
	struct net_client	*cl;
	struct result		 res;
	char			 err[256];

	cr_assert_eq(helper_start(NULL, err, sizeof(err)), 0, "%s", err);
	cl = client("https://no-such-host.invalid:8200", true, false);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_DNS, "%d: %s", res.fail, res.detail);
	cr_assert_not_null(strstr(res.detail, "no-such-host.invalid"), "%s",
	    res.detail);
	/* The helper's own filter let the DNS query through. */
	cr_assert_null(strstr(res.detail, "helper"), "%s", res.detail);
	net_client_free(cl);
}

/* The helper is our child named keyward-helper (fork, no exec). */
static pid_t
find_helper_once(void)
{
	char		 path[300], comm[64], st[512];
	struct dirent	*de;
	DIR		*d;
	FILE		*f;
	pid_t		 found = -1;
	long		 ppid;
	size_t		 n;

	cr_assert_not_null(d = opendir("/proc"));
	while ((de = readdir(d)) != NULL) {
		if (atoi(de->d_name) <= 0)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		n = fread(st, 1, sizeof(st) - 1, f);
		fclose(f);
		st[n] = '\0';
		if (strrchr(st, ')') == NULL ||
		    sscanf(strrchr(st, ')') + 2, "%*c %ld", &ppid) != 1 ||
		    ppid != getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		if ((f = fopen(path, "r")) == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL &&
		    strcmp(comm, "keyward-helper\n") == 0)
			found = atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return found;
}

/* The helper names itself once exec'd: wait for that, up to 5 s. */
static pid_t
find_helper(void)
{
	pid_t	h;
	int	i;

	for (i = 0; i < 100; i++) {
		if ((h = find_helper_once()) > 0)
			return h;
		usleep(50000);
	}
	return -1;
}

Test(net, helper_gone_is_dns_not_death)
{
	struct net_client	*cl;
	struct result		 res;
	char			 url[64], err[256];
	char			 link[PATH_MAX], real[PATH_MAX];
	ssize_t			 n;
	pid_t			 h;

	cr_assert_eq(helper_start(NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(h = find_helper(), 0, "the helper is not our child");
	/* Exec'd, not only forked: it shares no memory with its agent. */
	snprintf(url, sizeof(url), "/proc/%d/exe", (int)h);
	cr_assert_not_null(realpath(exe, real));
	n = readlink(url, link, sizeof(link) - 1);
	cr_assert_gt(n, 0);
	link[n] = '\0';
	cr_assert_str_eq(link, real, "the helper runs %s", link);
	cr_assert_eq(kill(h, SIGKILL), 0);
	snprintf(url, sizeof(url), "https://localhost:%d", vd.port);
	cl = client(url, true, false);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_DNS, "%d: %s", res.fail, res.detail);
	cr_assert_not_null(strstr(res.detail, "helper"), "%s", res.detail);
	/* An IP literal still works. */
	net_client_free(cl);
	cl = client(vd.origin, true, false);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.status, 200);
	net_client_free(cl);
}

/* A helper whose agent exits goes too (socket closed, PDEATHSIG). */
Test(net, helper_exits_with_its_agent)
{
	char	path[64], st[256] = "";
	pid_t	agent, h = -1;
	FILE	*f;
	int	p[2], i;
	size_t	n;

	cr_assert_eq(pipe(p), 0);
	fflush(NULL);
	agent = fork();
	cr_assert_neq(agent, -1);
	if (agent == 0) {
		char err[256];

		if (helper_start(NULL, err, sizeof(err)) == -1)
			_exit(1);
		h = find_helper();
		(void)!write(p[1], &h, sizeof(h));
		_exit(0);
	}
	cr_assert_eq(read(p[0], &h, sizeof(h)), (ssize_t)sizeof(h));
	cr_assert_gt(h, 0);
	cr_assert_eq(waitpid(agent, NULL, 0), agent);
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)h);
	for (i = 0; i < 100; i++) {
		if ((f = fopen(path, "r")) == NULL)
			break;
		n = fread(st, 1, sizeof(st) - 1, f);
		fclose(f);
		st[n] = '\0';
		/* Exited, not yet reaped by its new parent. */
		if (strrchr(st, ')') != NULL && strrchr(st, ')')[2] == 'Z')
			break;
		usleep(50 * 1000);
	}
	cr_assert(i < 100, "the helper %d outlived its agent: %s", (int)h,
	    st);
	close(p[0]);
	close(p[1]);
}

struct fileres {
	bool	done;
	int	err;
	char	data[128];
	size_t	len;
};

static void
on_file(int err, const uint8_t *data, size_t len, const char *detail,
    void *arg)
{
	struct fileres *f = arg;

	f->done = true;
	f->err = err;
	f->len = len;
	if (err == 0)
		snprintf(f->data, sizeof(f->data), "%.*s", (int)len, data);
}

Test(net, helper_reads_only_named_files)
{
	char		 named[PATH_MAX + 16], big[PATH_MAX + 16],
			 other[PATH_MAX + 16], err[256];
	const char	*files[3] = { named, big, NULL };
	struct fileres	 f;
	FILE		*fp;

	snprintf(named, sizeof(named), "%s/token", vd.dir);
	snprintf(big, sizeof(big), "%s/big", vd.dir);
	snprintf(other, sizeof(other), "%s/ca.crt", vd.dir);
	fp = fopen(named, "w");
	cr_assert_not_null(fp);
	fputs("jwt-token", fp);
	fclose(fp);
	fp = fopen(big, "w");
	cr_assert_not_null(fp);
	for (int i = 0; i < 70 * 1024; i++)
		fputc('x', fp);
	fclose(fp);
	cr_assert_eq(helper_start(files, err, sizeof(err)), 0, "%s", err);

	memset(&f, 0, sizeof(f));
	helper_read_file(named, on_file, &f);
	cr_assert(!f.done);
	run_until(&f.done, LOOP_MS);
	cr_assert_eq(f.err, 0);
	cr_assert_str_eq(f.data, "jwt-token");

	memset(&f, 0, sizeof(f));
	helper_read_file(other, on_file, &f);
	run_until(&f.done, LOOP_MS);
	cr_assert_eq(f.err, EPERM);

	memset(&f, 0, sizeof(f));
	helper_read_file(big, on_file, &f);
	run_until(&f.done, LOOP_MS);
	cr_assert_eq(f.err, EFBIG);
}

/* ---- mutual TLS ----------------------------------------------------------- */

Test(net_mtls, client_certificate_from_memory)
{
	struct net_client	*cl;
	struct result		 res;

	cl = client(vd.origin, true, true);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_eq(res.fail, NET_OK, "%d: %s", res.fail, res.detail);
	cr_assert_eq(res.status, 200);
	net_client_free(cl);

	/* Without one the double ends the handshake. */
	cl = client(vd.origin, true, false);
	do_request(cl, "GET", "/v1/sys/health", NULL, &once, &res);
	cr_assert_neq(res.fail, NET_OK, "%ld", res.status);
	net_client_free(cl);
}

/* ---- under the agent's filter ----------------------------------------- */

#ifdef KEYWARD_SANITIZE
/* As in test_sandbox.c: a child of criterion's two-threaded process
 * cannot see the other thread's stack, so LSan would report ghosts. */
static int in_probe_child;

int
__lsan_is_turned_off(void)
{
	return in_probe_child;
}
#endif

enum {
	SB_NOFILTER = 90,	/* the filter did not load */
	SB_REQUEST,		/* the allowed request failed */
	SB_WRONG_CA,		/* the wrong CA did not give TLS_VERIFY */
	SB_NAME,		/* localhost did not work */
	SB_SURVIVED,		/* the forbidden call went through */
};

static void
sandboxed_child(int forbidden)
{
	struct net_tls		 wrong = { (const uint8_t *)vd.wrong_ca,
				    vd.wrong_ca_len, NULL, 0, NULL, 0 };
	struct net_client	*cl, *bad, *named;
	struct result		 res;
	char			 url[64], err[256];

#ifdef KEYWARD_SANITIZE
	in_probe_child = 1;
#endif
	/* As the agent: helper and clients before the filter. */
	if (helper_start(NULL, err, sizeof(err)) == -1)
		_exit(SB_NOFILTER);
	cl = net_client_new(vd.origin, &(struct net_tls){
	    (const uint8_t *)vd.ca, vd.ca_len, (const uint8_t *)vd.cert,
	    vd.cert_len, (const uint8_t *)vd.key, vd.key_len }, false, err,
	    sizeof(err));
	bad = net_client_new(vd.origin, &wrong, false, err, sizeof(err));
	snprintf(url, sizeof(url), "https://localhost:%d", vd.port);
	named = net_client_new(url, &(struct net_tls){ (const uint8_t *)vd.ca,
	    vd.ca_len, (const uint8_t *)vd.cert, vd.cert_len,
	    (const uint8_t *)vd.key, vd.key_len }, false, err, sizeof(err));
	if (cl == NULL || bad == NULL || named == NULL)
		_exit(SB_NOFILTER);
	if (sandbox_apply_more(ROLE_AGENT, false, net_rules, net_nrules) ==
	    -1)
		_exit(SB_NOFILTER);

	memset(&res, 0, sizeof(res));
	(void)net_request(cl, "PUT", "/v1/kv/sb", NULL,
	    (const uint8_t *)"{\"a\":1}", 7, &once, on_done, &res);
	run_until(&res.done, LOOP_MS);
	if (!res.done || res.fail != NET_OK || res.status != 403)
		_exit(SB_REQUEST);
	/* A verification failure searches no CA directory. */
	memset(&res, 0, sizeof(res));
	(void)net_request(bad, "GET", "/v1/sys/health", NULL, NULL, 0, &once,
	    on_done, &res);
	run_until(&res.done, LOOP_MS);
	if (!res.done || res.fail != NET_TLS_VERIFY)
		_exit(SB_WRONG_CA);
	memset(&res, 0, sizeof(res));
	(void)net_request(named, "GET", "/v1/sys/health", NULL, NULL, 0,
	    &once, on_done, &res);
	run_until(&res.done, LOOP_MS);
	if (!res.done || res.fail != NET_OK || res.status != 200)
		_exit(SB_NAME);

	if (forbidden == 1)
		(void)syscall(SYS_openat, AT_FDCWD, "/etc/hosts", O_RDONLY);
	else if (forbidden == 2)
		(void)syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
	else if (forbidden == 3)
		(void)syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
	_exit(SB_SURVIVED);
}

static int
run_sandboxed(int forbidden)
{
	pid_t	pid;
	int	st;

	fflush(NULL);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0)
		sandboxed_child(forbidden);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void
expect_sigsys(int forbidden, const char *what)
{
	int st = run_sandboxed(forbidden);

	cr_expect(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
	    "%s after the requests: %s %d", what,
	    WIFSIGNALED(st) ? "signal" : "exit",
	    WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
}

Test(net_mtls, requests_under_the_agent_filter_then_openat_dies)
{
	expect_sigsys(1, "openat");
}

Test(net_mtls, requests_under_the_agent_filter_then_netlink_dies)
{
	expect_sigsys(2, "socket(AF_NETLINK)");
	expect_sigsys(3, "socket(AF_UNIX)");
}
