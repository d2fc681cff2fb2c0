/*
 * privsep/devpki: the files of `keyward server --dev`, checked with the
 * openssl command line, and a real TLS handshake between them.
 */
#include <sys/stat.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/apikey.h"
#include "common/dirs.h"
#include "common/identity.h"
#include "privsep/devpki.h"

static char tmpdir[] = "/tmp/kw-devpki.XXXXXX";

static void
setup(void)
{
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	if (tree_remove(tmpdir) == -1)
		cr_log_warn("could not remove %s", tmpdir);
}

TestSuite(devpki, .init = setup, .fini = teardown);

static X509 *
load_cert(const char *path)
{
	FILE	*f;
	X509	*x;

	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(x, "%s", path);
	return x;
}

static EVP_PKEY *
load_key(const char *path)
{
	FILE		*f;
	EVP_PKEY	*k;
	char		 line[64];

	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	/* PKCS#8, unencrypted. */
	cr_assert_not_null(fgets(line, sizeof(line), f));
	cr_assert_str_eq(line, "-----BEGIN PRIVATE KEY-----\n");
	rewind(f);
	k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(k, "%s", path);
	return k;
}

static mode_t
mode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "%s", path);
	return st.st_mode & 07777;
}

static void
run(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

Test(devpki, files)
{
	struct devpki	 p;
	struct apikey	 ak;
	X509		*srv, *cli;
	EVP_PKEY	*srv_key, *cli_key;
	char		 cmd[1024], id[IDENTITY_LEN + 1];

	cr_assert_eq(devpki_create(tmpdir, &p), 0);
	cr_assert_str_eq(p.dir, tmpdir);

	/* The CA signed the server certificate, for TLS servers. */
	snprintf(cmd, sizeof(cmd), "openssl verify -purpose sslserver "
	    "-CAfile '%s' '%s' >/dev/null", p.ca_cert, p.server_cert);
	run(cmd);
	/* And that is all it signed: the client certificate is its own. */
	snprintf(cmd, sizeof(cmd), "openssl verify -CAfile '%s' '%s' "
	    ">/dev/null 2>&1", p.ca_cert, p.client_cert);
	cr_assert_neq(system(cmd), 0);
	/* No CA key lies around. */
	snprintf(cmd, sizeof(cmd), "test \"$(ls '%s' | tr '\\n' ' ')\" = "
	    "'ca.crt client.crt client.key server.crt server.key '", tmpdir);
	run(cmd);

	srv = load_cert(p.server_cert);
	cr_assert_eq(X509_check_ip_asc(srv, "127.0.0.1", 0), 1);
	cr_assert_eq(X509_check_ip_asc(srv, "::1", 0), 1);
	cr_assert_eq(X509_check_host(srv, "localhost", 0, 0, NULL), 1);
	cr_assert_eq(X509_check_ip_asc(srv, "192.0.2.1", 0), 0);
	cr_assert_eq(X509_check_ca(srv), 0);
	cr_assert_eq(X509_check_purpose(srv, X509_PURPOSE_SSL_SERVER, 0), 1);

	cr_assert_eq(mode_of(p.server_key), 0600);
	cr_assert_eq(mode_of(p.client_key), 0600);
	cr_assert_eq(mode_of(p.ca_cert), 0644);
	cr_assert_eq(mode_of(p.server_cert), 0644);
	cr_assert_eq(mode_of(p.client_cert), 0644);

	srv_key = load_key(p.server_key);
	cr_assert_eq(X509_check_private_key(srv, srv_key), 1);
	cr_assert_eq(EVP_PKEY_get_base_id(srv_key), EVP_PKEY_EC);

	/* Admin identity = client.crt's = the API key's. */
	cli = load_cert(p.client_cert);
	cli_key = load_key(p.client_key);
	cr_assert_eq(X509_check_private_key(cli, cli_key), 1);
	cr_assert_eq(identity_of_cert(cli, id), 0);
	cr_assert_str_eq(id, p.identity);
	cr_assert_eq(apikey_parse(p.api_key, &ak), 0);
	cr_assert_eq(apikey_identity(&ak, id), 0);
	cr_assert_str_eq(id, p.identity);
	cr_assert_eq(strncmp(p.api_key, "kes:v1:", 7), 0);

	X509_free(srv);
	X509_free(cli);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(cli_key);
	devpki_free(&p);
	cr_assert_null(p.api_key);
}

/* Every address a remote client could dial is in the certificate. */
Test(devpki, interface_addresses)
{
	struct devpki	 p;
	struct ifaddrs	*ifap, *ifa;
	X509		*srv;
	char		 a[INET6_ADDRSTRLEN];
	const void	*in;
	int		 n = 0;

	cr_assert_eq(devpki_create(tmpdir, &p), 0);
	srv = load_cert(p.server_cert);
	cr_assert_eq(getifaddrs(&ifap), 0);
	for (ifa = ifap; ifa != NULL; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL || !(ifa->ifa_flags & IFF_UP))
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET)
			in = &((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		else if (ifa->ifa_addr->sa_family == AF_INET6) {
			in = &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
			if (IN6_IS_ADDR_LINKLOCAL((const struct in6_addr *)in))
				continue;
		} else
			continue;
		cr_assert_not_null(inet_ntop(ifa->ifa_addr->sa_family, in, a,
		    sizeof(a)));
		if (strncmp(a, "169.254.", 8) == 0)
			continue;
		cr_assert_eq(X509_check_ip_asc(srv, a, 0), 1, "%s", a);
		n++;
	}
	freeifaddrs(ifap);
	cr_assert_gt(n, 0);
	X509_free(srv);
	devpki_free(&p);
}

/* O_EXCL: a second run fails and leaves the first one's files alone. */
Test(devpki, exclusive)
{
	struct devpki	 p, q;
	X509		*cli;
	char		 id[IDENTITY_LEN + 1];

	cr_assert_eq(devpki_create(tmpdir, &p), 0);
	cr_assert_eq(devpki_create(tmpdir, &q), -1);
	cr_assert_null(q.api_key);
	cli = load_cert(p.client_cert);
	cr_assert_eq(identity_of_cert(cli, id), 0);
	cr_assert_str_eq(id, p.identity);
	cr_assert_eq(access(p.ca_cert, R_OK), 0);
	cr_assert_eq(access(p.server_key, R_OK), 0);
	X509_free(cli);
	devpki_free(&p);
}

/* A failure half-way removes what this run wrote, and only that. */
Test(devpki, cleanup_on_failure)
{
	struct devpki	p;
	char		path[256];
	int		fd;

	snprintf(path, sizeof(path), "%s/client.key", tmpdir);
	cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600), 0);
	cr_assert_eq(write(fd, "mine\n", 5), 5);
	close(fd);
	cr_assert_eq(devpki_create(tmpdir, &p), -1);
	snprintf(path, sizeof(path), "test \"$(ls '%s')\" = client.key && "
	    "grep -qx mine '%s/client.key'", tmpdir, tmpdir);
	run(path);
}

Test(devpki, unsafe_directory)
{
	struct devpki	p;
	char		path[256];

	cr_assert_eq(chmod(tmpdir, 0777), 0);
	cr_assert_eq(devpki_create(tmpdir, &p), -1);
	cr_assert_eq(chmod(tmpdir, 0700), 0);

	snprintf(path, sizeof(path), "%s/missing", tmpdir);
	cr_assert_eq(devpki_create(path, &p), -1);

	snprintf(path, sizeof(path), "%s/link", tmpdir);
	cr_assert_eq(symlink(".", path), 0);
	cr_assert_eq(devpki_create(path, &p), -1);
}

/* RequireAnyClientCert: ask for a certificate, accept it unverified. */
static int
accept_any(int ok, X509_STORE_CTX *ctx)
{
	return 1;
}

/* One non-blocking handshake step; waiting for the peer is fine. */
static void
step(SSL *ssl, int *done, const char *who)
{
	int r;

	if (*done)
		return;
	if ((r = SSL_do_handshake(ssl)) == 1)
		*done = 1;
	else
		cr_assert_eq(SSL_get_error(ssl, r), SSL_ERROR_WANT_READ,
		    "%s: %s", who, ERR_reason_error_string(ERR_get_error()));
}

/*
 * A handshake over a BIO pair, as curl with --cacert/--cert/--key does
 * it: the client checks the server against ca.crt and 127.0.0.1, the
 * server takes the self-signed Ed25519 client certificate and finds the
 * admin identity in it.
 */
static void
handshake(const struct devpki *p, int version)
{
	SSL_CTX		*sctx, *cctx;
	SSL		*s, *c;
	BIO		*sb, *cb;
	char		 id[IDENTITY_LEN + 1];
	int		 i, sdone = 0, cdone = 0;

	cr_assert_not_null(sctx = SSL_CTX_new(TLS_server_method()));
	cr_assert_not_null(cctx = SSL_CTX_new(TLS_client_method()));
	cr_assert_eq(SSL_CTX_set_min_proto_version(sctx, version), 1);
	cr_assert_eq(SSL_CTX_set_max_proto_version(sctx, version), 1);
	cr_assert_eq(SSL_CTX_use_certificate_chain_file(sctx,
	    p->server_cert), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey_file(sctx, p->server_key,
	    SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_verify(sctx, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any);

	cr_assert_eq(SSL_CTX_load_verify_locations(cctx, p->ca_cert, NULL),
	    1);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_PEER, NULL);
	cr_assert_eq(SSL_CTX_use_certificate_file(cctx, p->client_cert,
	    SSL_FILETYPE_PEM), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey_file(cctx, p->client_key,
	    SSL_FILETYPE_PEM), 1);

	cr_assert_not_null(s = SSL_new(sctx));
	cr_assert_not_null(c = SSL_new(cctx));
	cr_assert_eq(X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c),
	    "127.0.0.1"), 1);
	cr_assert_eq(BIO_new_bio_pair(&sb, 0, &cb, 0), 1);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);

	for (i = 0; i < 100 && !(sdone && cdone); i++) {
		step(c, &cdone, "client");
		step(s, &sdone, "server");
	}
	cr_assert(sdone && cdone);
	cr_assert_eq(SSL_version(s), version);
	cr_assert_eq(SSL_get_verify_result(c), X509_V_OK);

	cr_assert_eq(identity_of_peer(SSL_get0_peer_certificate(s),
	    SSL_get_peer_cert_chain(s), id), IDENT_OK);
	cr_assert_str_eq(id, p->identity);

	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(sctx);
	SSL_CTX_free(cctx);
}

Test(devpki, tls_handshake)
{
	struct devpki p;

	cr_assert_eq(devpki_create(tmpdir, &p), 0);
	handshake(&p, TLS1_3_VERSION);
	handshake(&p, TLS1_2_VERSION);
	devpki_free(&p);
}
