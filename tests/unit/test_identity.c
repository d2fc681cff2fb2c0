/*
 * common/identity: identities of RSA, ECDSA and Ed25519 certificates made
 * by the openssl command line and hashed by it independently, and the
 * rule of spec §4.1 as keyward applies it: the identity is the peer's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/dirs.h"
#include "common/identity.h"

static char tmpdir[] = "/tmp/kw-identity.XXXXXX";

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

TestSuite(identity, .init = setup, .fini = teardown);

static void
run(const char *cmd)
{
	cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
}

/* A self-signed certificate; `newkey` as for `openssl req -newkey`. */
static void
selfsigned(const char *name, const char *newkey, const char *ext)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd '%s' && openssl req -x509 -newkey %s "
	    "-nodes -keyout %s.key -out %s.crt -days 1 -subj /CN=%s %s "
	    ">/dev/null 2>&1", tmpdir, newkey, name, name, name, ext);
	run(cmd);
}

/* A P-256 leaf signed by the certificate `ca` with extensions `ext`. */
static void
signed_by(const char *name, const char *ca, const char *ext)
{
	char cmd[2048];

	snprintf(cmd, sizeof(cmd), "cd '%s' && printf '%s' > %s.ext && "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout %s.key -out %s.csr -subj /CN=%s >/dev/null 2>&1 && "
	    "openssl x509 -req -in %s.csr -CA %s.crt -CAkey %s.key "
	    "-CAcreateserial -out %s.crt -days 1 -extfile %s.ext "
	    ">/dev/null 2>&1", tmpdir, ext, name, name, name, name, name, ca,
	    ca, name, name);
	run(cmd);
}

static X509 *
load(const char *name)
{
	char	 path[512];
	FILE	*f;
	X509	*x;

	snprintf(path, sizeof(path), "%s/%s.crt", tmpdir, name);
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(x, "%s", path);
	return x;
}

/* The identity as the reference recipe computes it (test-components §1). */
static void
expected(const char *name, char out[IDENTITY_LEN + 1])
{
	char	 cmd[1024], line[128];
	FILE	*p;

	snprintf(cmd, sizeof(cmd), "openssl x509 -in '%s/%s.crt' -pubkey "
	    "-noout | openssl pkey -pubin -outform DER | sha256sum", tmpdir,
	    name);
	cr_assert_not_null(p = popen(cmd, "r"));
	cr_assert_not_null(fgets(line, sizeof(line), p));
	cr_assert_eq(pclose(p), 0);
	cr_assert_eq(strspn(line, "0123456789abcdef"), IDENTITY_LEN);
	memcpy(out, line, IDENTITY_LEN);
	out[IDENTITY_LEN] = '\0';
}

static void
check_cert(const char *name)
{
	char	 want[IDENTITY_LEN + 1], got[IDENTITY_LEN + 1];
	X509	*x;

	expected(name, want);
	x = load(name);
	memset(got, 'x', sizeof(got));
	cr_assert_eq(identity_of_cert(x, got), 0);
	cr_assert_str_eq(got, want, "%s", name);
	memset(got, 'x', sizeof(got));
	cr_assert_eq(identity_of_pubkey(X509_get0_pubkey(x), got), 0);
	cr_assert_str_eq(got, want, "%s (pubkey)", name);
	X509_free(x);
}

Test(identity, rsa2048)
{
	selfsigned("rsa", "rsa:2048", "");
	check_cert("rsa");
}

Test(identity, ecdsa_p256)
{
	selfsigned("ec", "ec -pkeyopt ec_paramgen_curve:P-256", "");
	check_cert("ec");
}

Test(identity, ed25519)
{
	selfsigned("ed", "ed25519", "");
	check_cert("ed");
}

Test(identity, null_inputs)
{
	char out[IDENTITY_LEN + 1];

	cr_assert_eq(identity_of_cert(NULL, out), -1);
	cr_assert_eq(identity_of_pubkey(NULL, out), -1);
}

/*
 * The PKI of the chain tests: a CA (the openssl default config marks a
 * `req -x509` certificate CA:TRUE), two leaves it signed, a self-signed
 * certificate without any extension (X509_check_ca calls that a CA; Go
 * does not) and one with keyCertSign but no BasicConstraints (likewise).
 */
static void
make_pki(void)
{
	char cmd[1024];

	selfsigned("ca", "ec -pkeyopt ec_paramgen_curve:P-256",
	    "-addext keyUsage=critical,keyCertSign");
	signed_by("inter", "ca", "basicConstraints=critical,CA:TRUE\\n");
	signed_by("leaf1", "ca",
	    "basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n");
	signed_by("leaf2", "ca",
	    "basicConstraints=CA:FALSE\\nextendedKeyUsage=clientAuth\\n");
	signed_by("nobc", "ca", "keyUsage=critical,keyCertSign\\n");
	snprintf(cmd, sizeof(cmd), "cd '%s' && "
	    "printf '[req]\\ndistinguished_name=dn\\n[dn]\\n' > min.cnf && "
	    "openssl req -config min.cnf -x509 -newkey ed25519 -nodes "
	    "-keyout bare.key -out bare.crt -days 1 -subj /CN=bare "
	    ">/dev/null 2>&1", tmpdir);
	run(cmd);
}

static STACK_OF(X509) *
stack_of(X509 *a, X509 *b)
{
	STACK_OF(X509) *sk;

	cr_assert_not_null(sk = sk_X509_new_null());
	if (a != NULL)
		cr_assert_gt(sk_X509_push(sk, a), 0);
	if (b != NULL)
		cr_assert_gt(sk_X509_push(sk, b), 0);
	return sk;
}

static void
expect_leaf(X509 *peer, STACK_OF(X509) *rest, const char *leaf)
{
	char want[IDENTITY_LEN + 1], got[IDENTITY_LEN + 1];

	expected(leaf, want);
	cr_assert_eq(identity_of_peer(peer, rest, got), IDENT_OK, "%s", leaf);
	cr_assert_str_eq(got, want);
}

/*
 * Every shape of what a client sends, as the server side sees it: the
 * peer (the certificate whose key signed the handshake) and the rest.
 */
Test(identity, chain_shapes)
{
	X509		*ca, *inter, *leaf1, *leaf2, *nobc, *bare;
	STACK_OF(X509)	*sk;
	char		 out[IDENTITY_LEN + 1];

	make_pki();
	ca = load("ca");
	inter = load("inter");
	leaf1 = load("leaf1");
	leaf2 = load("leaf2");
	nobc = load("nobc");
	bare = load("bare");

	/* Leaf alone (empty or absent rest). */
	expect_leaf(leaf1, NULL, "leaf1");
	sk = stack_of(NULL, NULL);
	expect_leaf(leaf1, sk, "leaf1");
	sk_X509_free(sk);

	/* Leaf + intermediate + root; leaf + root. */
	sk = stack_of(inter, ca);
	expect_leaf(leaf1, sk, "leaf1");
	sk_X509_free(sk);
	sk = stack_of(ca, NULL);
	expect_leaf(leaf1, sk, "leaf1");
	sk_X509_free(sk);

	/*
	 * The impersonation: a CA certificate first (its key signed the
	 * handshake), the victim's certificate after it. KES took the
	 * victim's identity; no identity at all here.
	 */
	sk = stack_of(leaf1, NULL);
	memset(out, 'x', sizeof(out));
	cr_assert_eq(identity_of_peer(ca, sk, out), IDENT_NO_CERT);
	cr_assert_eq(out[0], 'x', "nothing written");
	sk_X509_free(sk);
	sk = stack_of(inter, leaf1);
	cr_assert_eq(identity_of_peer(ca, sk, out), IDENT_NO_CERT);
	sk_X509_free(sk);

	/* A CA alone, and nothing at all. */
	cr_assert_eq(identity_of_peer(ca, NULL, out), IDENT_NO_CERT);
	cr_assert_eq(identity_of_peer(NULL, NULL, out), IDENT_NO_CERT);
	sk = stack_of(leaf1, NULL);
	cr_assert_eq(identity_of_peer(NULL, sk, out), IDENT_NO_CERT);
	sk_X509_free(sk);

	/* A second non-CA certificate anywhere after the peer. */
	sk = stack_of(leaf2, NULL);
	cr_assert_eq(identity_of_peer(leaf1, sk, out), IDENT_TOO_MANY);
	sk_X509_free(sk);
	sk = stack_of(ca, leaf2);
	cr_assert_eq(identity_of_peer(leaf1, sk, out), IDENT_TOO_MANY);
	sk_X509_free(sk);
	/* One leaf sent twice counts twice, as in Go's PeerCertificates. */
	sk = stack_of(leaf1, NULL);
	cr_assert_eq(identity_of_peer(leaf1, sk, out), IDENT_TOO_MANY);
	sk_X509_free(sk);

	/* Only BasicConstraints cA=TRUE makes a CA: a bare self-signed
	 * certificate and a keyCertSign-only one are leaves. */
	expect_leaf(bare, NULL, "bare");
	sk = stack_of(ca, NULL);
	expect_leaf(nobc, sk, "nobc");
	sk_X509_free(sk);
	sk = stack_of(bare, NULL);
	cr_assert_eq(identity_of_peer(leaf1, sk, out), IDENT_TOO_MANY);
	sk_X509_free(sk);

	X509_free(ca);
	X509_free(inter);
	X509_free(leaf1);
	X509_free(leaf2);
	X509_free(nobc);
	X509_free(bare);
}

/* Go refuses a certificate whose BasicConstraints appears twice, as the
 * peer or after it. */
Test(identity, duplicate_basic_constraints)
{
	X509		*leaf, *dup, *ca, *dupca;
	STACK_OF(X509)	*sk;
	char		 out[IDENTITY_LEN + 1];
	int		 i;

	make_pki();
	leaf = load("leaf1");
	ca = load("ca");
	cr_assert_not_null(dup = X509_dup(leaf));
	i = X509_get_ext_by_NID(dup, NID_basic_constraints, -1);
	cr_assert_geq(i, 0);
	cr_assert_eq(X509_add_ext(dup, X509_get_ext(dup, i), -1), 1);
	cr_assert_eq(identity_of_peer(dup, NULL, out), IDENT_ERROR);
	cr_assert_eq(identity_of_peer(leaf, NULL, out), IDENT_OK);
	cr_assert_not_null(dupca = X509_dup(ca));
	i = X509_get_ext_by_NID(dupca, NID_basic_constraints, -1);
	cr_assert_geq(i, 0);
	cr_assert_eq(X509_add_ext(dupca, X509_get_ext(dupca, i), -1), 1);
	sk = stack_of(dupca, NULL);
	cr_assert_eq(identity_of_peer(leaf, sk, out), IDENT_ERROR);
	sk_X509_free(sk);
	X509_free(dup);
	X509_free(dupca);
	X509_free(leaf);
	X509_free(ca);
}

Test(identity, messages)
{
	cr_assert_str_eq(identity_err_message(IDENT_NO_CERT),
	    "tls: client certificate is required");
	cr_assert_str_eq(identity_err_message(IDENT_TOO_MANY),
	    "tls: received more than one client certificate");
	cr_assert_not_null(identity_err_message(IDENT_ERROR));
	cr_assert_not_null(identity_err_message(IDENT_OK));
}
