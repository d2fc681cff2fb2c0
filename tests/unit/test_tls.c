/*
 * The server TLS context from PEM bytes (common/tls.c): what the parent
 * checks before any worker sees new TLS files. Certificates and keys are
 * made with the openssl command line in a temporary directory.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "common/dirs.h"
#include "common/tls.h"
#include "common/xmalloc.h"

static char dir[] = "/tmp/keyward-test-tls.XXXXXX";

static void
setup(void)
{
	char cmd[2048];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(cmd, sizeof(cmd), "set -e; cd '%s'; { "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout san.key -out san.crt -days 2 -subj /CN=a "
	    "-addext subjectAltName=IP:127.0.0.1; "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout nosan.key -out nosan.crt -days 2 -subj /CN=b; "
	    /* A legacy-encrypted PEM key (RFC 1423), as tls.password reads. */
	    "openssl pkey -in san.key -aes256 -traditional -passout pass:s3cret "
	    "-out enc.key; "
	    "} >openssl.log 2>&1", dir);
	cr_assert_eq(system(cmd), 0, "openssl failed; see %s/openssl.log",
	    dir);
}

static void
teardown(void)
{
	(void)tree_remove(dir);
}

TestSuite(tls, .init = setup, .fini = teardown);

static struct pem
pem_of(const char *name)
{
	char		 path[PATH_MAX];
	struct pem	 p = { NULL, 0 };
	FILE		*f;
	long		 n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	p.data = xmalloc(n + 1);
	cr_assert_eq(fread(p.data, 1, n, f), (size_t)n);
	fclose(f);
	p.len = n;
	return p;
}

static SSL_CTX *
ctx_of(const char *crt, const char *key, const char *pw, char *err,
    size_t errlen)
{
	struct pem	c = pem_of(crt), k = pem_of(key), ca = { NULL, 0 };
	SSL_CTX		*ctx;

	err[0] = '\0';
	ctx = tls_server_ctx(&c, &k, pw, &ca, TLS_AUTH_OFF, false, err,
	    errlen);
	free(c.data);
	free(k.data);
	return ctx;
}

Test(tls, good_pair)
{
	char	 err[256];
	SSL_CTX	*ctx;

	cr_assert_not_null(ctx = ctx_of("san.crt", "san.key", "", err,
	    sizeof(err)), "%s", err);
	cr_assert_eq(SSL_CTX_get_min_proto_version(ctx), TLS1_2_VERSION);
	/* A certificate is always asked for (spec §1.1). */
	cr_assert(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER);
	cr_assert(SSL_CTX_get_verify_mode(ctx) &
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	SSL_CTX_free(ctx);
}

/* KES refuses to start with such a certificate, with this message. */
Test(tls, certificate_without_san)
{
	char err[256];

	cr_assert_null(ctx_of("nosan.crt", "nosan.key", "", err,
	    sizeof(err)));
	cr_assert_str_eq(err, "invalid TLS certificate: certificate does not "
	    "contain any DNS or IP address as SAN");
}

Test(tls, key_does_not_match)
{
	char err[256];

	cr_assert_null(ctx_of("san.crt", "nosan.key", "", err, sizeof(err)));
	cr_assert_not_null(strstr(err, "does not match the certificate"),
	    "%s", err);
}

Test(tls, encrypted_key_and_password)
{
	char	 err[256];
	SSL_CTX	*ctx;

	cr_assert_not_null(ctx = ctx_of("san.crt", "enc.key", "s3cret", err,
	    sizeof(err)), "%s", err);
	SSL_CTX_free(ctx);
	cr_assert_null(ctx_of("san.crt", "enc.key", "wrong", err,
	    sizeof(err)));
	cr_assert_not_null(strstr(err, "wrong password"), "%s", err);
	cr_assert_null(ctx_of("san.crt", "enc.key", "", err, sizeof(err)));
	cr_assert_not_null(strstr(err, "TLS private key"), "%s", err);
}

Test(tls, garbage)
{
	struct pem	junk = { (uint8_t *)"not a certificate\n", 18 };
	struct pem	key = pem_of("san.key"), crt = pem_of("san.crt");
	struct pem	none = { NULL, 0 };
	char		err[256];

	cr_assert_null(tls_server_ctx(&junk, &key, "", &none, TLS_AUTH_OFF,
	    false, err, sizeof(err)));
	cr_assert_str_eq(err, "TLS certificate: no PEM certificate");
	cr_assert_null(tls_server_ctx(&crt, &junk, "", &none, TLS_AUTH_OFF,
	    false, err, sizeof(err)));
	cr_assert_not_null(strstr(err, "TLS private key"), "%s", err);
	/* tls.auth on needs at least one CA certificate. */
	cr_assert_null(tls_server_ctx(&crt, &key, "", &junk, TLS_AUTH_ON,
	    false, err, sizeof(err)));
	cr_assert_str_eq(err, "tls.ca: no PEM certificate");
	free(key.data);
	free(crt.data);
}

/* skip_auth on some route: the handshake no longer demands a certificate. */
Test(tls, request_only)
{
	struct pem	key = pem_of("san.key"), crt = pem_of("san.crt");
	struct pem	none = { NULL, 0 };
	char		err[256];
	SSL_CTX		*ctx;

	cr_assert_not_null(ctx = tls_server_ctx(&crt, &key, "", &none,
	    TLS_AUTH_OFF, true, err, sizeof(err)), "%s", err);
	cr_assert(SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER);
	cr_assert_not(SSL_CTX_get_verify_mode(ctx) &
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT);
	SSL_CTX_free(ctx);
	free(key.data);
	free(crt.data);
}
