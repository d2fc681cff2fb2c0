/*
 * The identity of a client is the key that signed its handshake (spec
 * §4.1, keyward's rule), through the real server over mutual TLS with
 * privilege separation and the sandbox on.
 *
 * The attack this guards against: a client sends its own CA-flagged
 * certificate first (and signs the handshake with that key), then a
 * victim's public certificate; KES's rule ("the one non-CA certificate")
 * identified it as the victim, admin included. Every variant must be
 * refused with KES's 400 `tls: client certificate is required`
 * on the key routes (404 on self-describe: no identity), change nothing,
 * and leave no audit record naming the victim. The shapes real
 * clients send keep working.
 *
 * Certificates are made with the openssl command line in the test's PKI
 * directory; every identity is computed by openssl, not by keyward.
 */
#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "tests/lib/testsrv.h"

#define READY_MS	10000

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "path too long")

static const char no_cert[] =
    "{\"message\":\"tls: client certificate is required\"\n}";

static struct testsrv srv;

static void
teardown(void)
{
	tsrv_cleanup(&srv);
}

TestSuite(impersonation, .fini = teardown, .timeout = 120);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the system tests start the server as root");
}

/* Shell commands in the PKI directory, `set -e`, output to attack.log. */
static void __attribute__((format(printf, 1, 2)))
sh(const char *fmt, ...)
{
	char	body[8192], cmd[10240];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	cr_assert(n > 0 && (size_t)n < sizeof(body));
	FMT(cmd, "set -e; cd '%s'; { %s } >>attack.log 2>&1", srv.pki, body);
	cr_assert_eq(system(cmd), 0, "failed (see %s/attack.log): %s",
	    srv.pki, body);
}

/* The identity of a certificate file as openssl computes it. */
static void
openssl_id(const char *crt, char out[TSRV_IDLEN + 1])
{
	char	 cmd[PATH_MAX * 2], line[128];
	FILE	*p;

	FMT(cmd, "openssl x509 -in '%s' -pubkey -noout | openssl pkey -pubin "
	    "-outform DER | sha256sum", crt);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_assert_not_null(fgets(line, sizeof(line), p));
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(strspn(line, "0123456789abcdef"), TSRV_IDLEN);
	memcpy(out, line, TSRV_IDLEN);
	out[TSRV_IDLEN] = '\0';
}

static void
start(const struct tsrv_cfg *cfg)
{
	cr_assert_eq(tsrv_write_config(&srv, cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

static void
init(void)
{
	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s; "
	    "build the server first (`make`)", strerror(errno));
}

/* A request with the certificate file crt (possibly a chain) and key. */
static long
as(const char *crt, const char *key, const char *method, const char *path,
    struct tsrv_resp *r)
{
	struct tsrv_req q = { .cert = crt, .key = key, .method = method };

	tsrv_resp_free(r);
	memset(r, 0, sizeof(*r));
	return tsrv_request(&srv, TSRV_ADMIN, path, &q, r);
}

static long
as_admin(const char *method, const char *path, struct tsrv_resp *r)
{
	struct tsrv_req q = { .method = method };

	tsrv_resp_free(r);
	memset(r, 0, sizeof(*r));
	return tsrv_request(&srv, TSRV_ADMIN, path, &q, r);
}

/* The attacker's own key and its self-signed CA-flagged certificate,
 * exactly as in the report. */
static void
make_attacker(void)
{
	sh("openssl ecparam -name prime256v1 -genkey -noout -out att.key; "
	    "openssl req -x509 -new -key att.key -subj /CN=attacker -days 1 "
	    "-addext basicConstraints=critical,CA:TRUE -out att.crt;");
}

/*
 * The attempt `crt`/`key` has no identity: a key route and a delete of
 * `keyname` get 400 `tls: client certificate is required`, self-describe
 * 404 `identity does not exist` (an "any caller" route: no identity is
 * no one), the key still exists afterwards, and the audit lines of those
 * requests name no identity, the victim's least of all.
 */
static void
expect_refused(const char *what, const char *crt, const char *key,
    const char *victim, const char *keyname)
{
	struct tsrv_resp r = { 0 };
	char		 path[256], named[128];
	int		 before, anon;

	FMT(named, "req.identity=%s res.code=4", victim);
	before = tsrv_log_count(&srv, named);
	anon = tsrv_log_count(&srv, "req.identity=- res.code=400");

	as(crt, key, "GET", "/v1/key/list/", &r);
	cr_expect_eq(r.status, 400, "%s: list: %ld %s", what, r.status,
	    r.body ? r.body : r.err);
	if (r.body != NULL)
		cr_expect_str_eq(r.body, no_cert, "%s", what);
	FMT(path, "/v1/key/delete/%s", keyname);
	as(crt, key, "DELETE", path, &r);
	cr_expect_eq(r.status, 400, "%s: delete: %ld %s", what, r.status,
	    r.body ? r.body : r.err);
	if (r.body != NULL)
		cr_expect_str_eq(r.body, no_cert, "%s", what);
	as(crt, key, "GET", "/v1/identity/self/describe", &r);
	cr_expect_eq(r.status, 404, "%s: self/describe: %ld %s", what,
	    r.status, r.body ? r.body : r.err);
	cr_expect_null(r.body != NULL ? strstr(r.body, victim) : NULL,
	    "%s: self/describe names the victim: %s", what, r.body);

	FMT(path, "/v1/key/describe/%s", keyname);
	as_admin("GET", path, &r);
	cr_expect_eq(r.status, 200, "%s: the key is gone: %ld %s", what,
	    r.status, r.body ? r.body : r.err);

	cr_expect_eq(tsrv_wait_log(&srv, "req.identity=- res.code=400",
	    anon + 2, 5000), 0, "%s: the refused requests were not audited "
	    "without identity; log:\n%s", what, tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, named), before,
	    "%s: an audit line names the victim; log:\n%s", what,
	    tsrv_log_tail(&srv));
	tsrv_resp_free(&r);
}

/* The identity the server gives the client crt/key (self/describe). */
static void
expect_identity(const char *what, const char *crt, const char *key,
    const char *want)
{
	struct tsrv_resp r = { 0 };
	json_t		*j;

	as(crt, key, "GET", "/v1/identity/self/describe", &r);
	cr_assert_eq(r.status, 200, "%s: %ld %s", what, r.status,
	    r.body ? r.body : r.err);
	cr_assert_not_null(j = json_loads(r.body, 0, NULL), "%s", r.body);
	cr_expect_str_eq(json_string_value(json_object_get(j, "identity")),
	    want, "%s", what);
	json_decref(j);
	tsrv_resp_free(&r);
}

static void
create_key(const char *name)
{
	struct tsrv_resp r = { 0 };
	char		 path[256];

	FMT(path, "/v1/key/create/%s", name);
	as_admin("PUT", path, &r);
	cr_assert_eq(r.status, 200, "create %s: %ld %s", name, r.status,
	    r.body ? r.body : r.err);
	tsrv_resp_free(&r);
}

/*
 * tls.auth off (KES's default): the report's reproduction, and the same
 * with a certificate the attacker forged around the admin's public key.
 */
Test(impersonation, auth_off)
{
	struct tsrv_cfg	 cfg = { .tls_auth = "" };
	char		 spoof[PATH_MAX], forged[PATH_MAX], key[PATH_MAX];
	char		 id[TSRV_IDLEN + 1];
	const char	*admin;

	init();
	admin = srv.id[TSRV_ADMIN];
	start(&cfg);
	create_key("victim-key");
	make_attacker();
	FMT(key, "%s/att.key", srv.pki);

	/* [attacker's CA certificate, the admin's public certificate]. */
	sh("cat att.crt '%s' > spoof.pem;", srv.cert[TSRV_ADMIN]);
	FMT(spoof, "%s/spoof.pem", srv.pki);
	expect_refused("CA first + victim", spoof, key, admin, "victim-key");

	/* A certificate for the admin's public key, signed by the attacker. */
	sh("openssl x509 -in '%s' -pubkey -noout > victim.pub; "
	    "openssl req -new -key att.key -subj /CN=admin -out forged.csr; "
	    "printf 'basicConstraints=critical,CA:FALSE\\n"
	    "extendedKeyUsage=clientAuth\\n' > forged.ext; "
	    "openssl x509 -req -in forged.csr -CA att.crt -CAkey att.key "
	    "-CAcreateserial -force_pubkey victim.pub -extfile forged.ext "
	    "-days 1 -out forged.crt; cat att.crt forged.crt > forged.pem;",
	    srv.cert[TSRV_ADMIN]);
	FMT(forged, "%s/forged.crt", srv.pki);
	openssl_id(forged, id);
	cr_assert_str_eq(id, admin, "the forged certificate carries the "
	    "admin's public key");
	FMT(forged, "%s/forged.pem", srv.pki);
	expect_refused("CA first + forged", forged, key, admin,
	    "victim-key");

	/* The legitimate shapes. */
	expect_identity("leaf alone", srv.cert[TSRV_ADMIN],
	    srv.key[TSRV_ADMIN], admin);
	sh("cat '%s' ca.crt > leafca.pem;", srv.cert[TSRV_ADMIN]);
	FMT(spoof, "%s/leafca.pem", srv.pki);
	expect_identity("leaf + CA", spoof, srv.key[TSRV_ADMIN], admin);
	/* The attacker is itself, nothing more. */
	FMT(spoof, "%s/att.crt", srv.pki);
	expect_refused("CA-flagged certificate alone", spoof, key, admin,
	    "victim-key");
}

/*
 * tls.auth on: an attacker holding the key of a sub-CA that chains to
 * tls.ca. A leaf + intermediate + root chain is the legitimate shape.
 */
Test(impersonation, auth_on_sub_ca)
{
	struct tsrv_cfg	 cfg = { 0 };	/* tls.auth: on, tls.ca: the CA */
	struct tsrv_resp r = { 0 };
	char		 crt[PATH_MAX], key[PATH_MAX], id[TSRV_IDLEN + 1];
	char		 pol[512];
	const char	*admin;

	init();
	admin = srv.id[TSRV_ADMIN];
	/* leaf (EKU clientAuth) + intermediate + root, and the same leaf
	 * without any EKU. */
	sh("printf 'basicConstraints=critical,CA:TRUE\\n"
	    "keyUsage=critical,keyCertSign\\n' > inter.ext; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout inter.key -out inter.csr -subj /CN=inter; "
	    "openssl x509 -req -in inter.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -extfile inter.ext -days 1 -out inter.crt; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout deep.key -out deep.csr -subj /CN=deep; "
	    "openssl x509 -req -in deep.csr -CA inter.crt -CAkey inter.key "
	    "-CAcreateserial -extfile client.ext -days 1 -out deep.crt; "
	    "cat deep.crt inter.crt ca.crt > deepchain.pem; "
	    "printf 'basicConstraints=critical,CA:FALSE\\n' > noeku.ext; "
	    "openssl x509 -req -in deep.csr -CA inter.crt -CAkey inter.key "
	    "-CAcreateserial -extfile noeku.ext -days 1 -out noeku.crt; "
	    "cat noeku.crt inter.crt > noekuchain.pem;");
	FMT(crt, "%s/deep.crt", srv.pki);
	openssl_id(crt, id);
	FMT(pol, "  deep:\n    allow:\n      - /v1/status\n"
	    "    identities:\n      - %s\n", id);
	cfg.policies = pol;
	start(&cfg);
	create_key("victim-key");

	/* A sub-CA that chains to tls.ca, its key the attacker's. */
	sh("printf 'basicConstraints=critical,CA:TRUE\\n"
	    "keyUsage=critical,keyCertSign,digitalSignature\\n"
	    "extendedKeyUsage=clientAuth\\n' > subca.ext; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout subca.key -out subca.csr -subj /CN=subca; "
	    "openssl x509 -req -in subca.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -extfile subca.ext -days 1 -out subca.crt; "
	    "cat subca.crt '%s' > subspoof.pem;", srv.cert[TSRV_ADMIN]);
	FMT(crt, "%s/subspoof.pem", srv.pki);
	FMT(key, "%s/subca.key", srv.pki);
	expect_refused("sub-CA + victim", crt, key, admin, "victim-key");

	FMT(crt, "%s/deepchain.pem", srv.pki);
	FMT(key, "%s/deep.key", srv.pki);
	expect_identity("leaf + intermediate + root", crt, key, id);

	/* tls.auth on requires EKU clientAuth (README). */
	FMT(crt, "%s/noekuchain.pem", srv.pki);
	as(crt, key, "GET", "/v1/identity/self/describe", &r);
	cr_expect_eq(r.status, -1, "a certificate without EKU completed the "
	    "handshake: %ld %s", r.status, r.body ? r.body : "");
	tsrv_resp_free(&r);
}

/*
 * A leaf (signed by the test CA) followed by 140 self-made intermediates
 * (Ed25519, to keep the list under the 64 KiB cap): accepted under auth
 * off with the leaf's identity, refused under auth on.
 */
static void
make_long_chain(void)
{
	sh("printf 'basicConstraints=critical,CA:TRUE\\n' > i.ext; "
	    "openssl genpkey -algorithm ed25519 -out i140.key; "
	    "openssl req -x509 -new -key i140.key -subj /CN=i140 -days 1 "
	    "-addext basicConstraints=critical,CA:TRUE -out i140.crt; "
	    "cp i140.crt long.tail; i=139; while [ $i -ge 1 ]; do "
	    "openssl genpkey -algorithm ed25519 -out i$i.key; "
	    "openssl req -new -key i$i.key -subj /CN=i$i -out i$i.csr; "
	    "openssl x509 -req -in i$i.csr -CA i$((i+1)).crt "
	    "-CAkey i$((i+1)).key -set_serial $i -extfile i.ext -days 1 "
	    "-out i$i.crt; cat i$i.crt long.tail > long.tmp; "
	    "mv long.tmp long.tail; i=$((i-1)); done; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout longleaf.key -out longleaf.csr -subj /CN=longleaf; "
	    "openssl x509 -req -in longleaf.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -extfile client.ext -days 1 -out longleaf.crt; "
	    "cat longleaf.crt long.tail > long.pem; "
	    "test $(grep -c 'BEGIN CERT' long.pem) -eq 141;");
}

Test(impersonation, long_chain_auth_off)
{
	struct tsrv_cfg	 cfg = { .tls_auth = "" };
	char		 crt[PATH_MAX], key[PATH_MAX], id[TSRV_IDLEN + 1];

	init();
	make_long_chain();
	FMT(crt, "%s/longleaf.crt", srv.pki);
	openssl_id(crt, id);
	cfg.admin = id;
	start(&cfg);
	FMT(crt, "%s/long.pem", srv.pki);
	FMT(key, "%s/longleaf.key", srv.pki);
	expect_identity("leaf + 140 intermediates, auth off", crt, key, id);
}

Test(impersonation, long_chain_auth_on)
{
	struct tsrv_cfg	 cfg = { 0 };
	struct tsrv_resp r = { 0 };
	char		 crt[PATH_MAX], key[PATH_MAX];

	init();
	start(&cfg);
	make_long_chain();
	FMT(crt, "%s/long.pem", srv.pki);
	FMT(key, "%s/longleaf.key", srv.pki);
	as(crt, key, "GET", "/v1/identity/self/describe", &r);
	cr_expect_eq(r.status, -1, "140 intermediates under auth on: %ld %s",
	    r.status, r.body ? r.body : "");
	tsrv_resp_free(&r);
	/* The server goes on serving. */
	as_admin("GET", "/v1/status", &r);
	cr_expect_eq(r.status, 200, "%ld", r.status);
	tsrv_resp_free(&r);
}

/* `keyward server --dev` (make run): the admin is an API key. */
Test(impersonation, dev_server)
{
	char		 dir[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
	char		 id[TSRV_IDLEN + 1];
	const char	*tail, *p;
	size_t		 n;

	init();
	srv.dev = true;
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	tail = tsrv_log_tail(&srv);
	cr_assert_not_null(p = strstr(tail, "files:"), "%s", tail);
	p += strlen("files:");
	p += strspn(p, " ");
	n = strcspn(p, " \n");
	cr_assert_lt(n, sizeof(dir));
	memcpy(dir, p, n);
	dir[n] = '\0';
	FMT(srv.ca, "%s/ca.crt", dir);
	FMT(srv.cert[TSRV_ADMIN], "%s/client.crt", dir);
	FMT(srv.key[TSRV_ADMIN], "%s/client.key", dir);
	openssl_id(srv.cert[TSRV_ADMIN], id);
	create_key("dev-key");

	make_attacker();
	sh("cat att.crt '%s' > devspoof.pem;", srv.cert[TSRV_ADMIN]);
	FMT(crt, "%s/devspoof.pem", srv.pki);
	FMT(key, "%s/att.key", srv.pki);
	expect_refused("dev server: CA first + admin", crt, key, id,
	    "dev-key");
	expect_identity("dev server: the admin's own certificate",
	    srv.cert[TSRV_ADMIN], srv.key[TSRV_ADMIN], id);
}
