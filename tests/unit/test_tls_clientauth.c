/*
 * Client certificates against the server context of common/tls.c, over
 * in-memory handshakes (a BIO pair): which chains are accepted in each
 * tls.auth mode, whose identity the worker then takes (identity_of_peer on
 * the server side, as worker/conn.c calls it), and how much verification
 * work a client's list causes.
 *
 * The work is counted, not timed: this binary defines X509_verify_cert,
 * which interposes on libcrypto's for every caller (libssl's default
 * verification and common/tls.c alike), counts the call and forwards it.
 * A plain OpenSSL context that builds chains shows that the hook sees
 * libssl's calls, so a count of zero means no chain was built.
 *
 * Certificates are made here with OpenSSL's API: 140 intermediates by the
 * command line would take seconds.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/identity.h"
#include "common/tls.h"

static int nverify;

int
X509_verify_cert(X509_STORE_CTX *ctx)
{
	static int (*real)(X509_STORE_CTX *);

	if (real == NULL)
		*(void **)&real = dlsym(RTLD_NEXT, "X509_verify_cert");
	cr_assert_not_null(real, "dlsym X509_verify_cert");
	nverify++;
	return real(ctx);
}

static EVP_PKEY *
newkey(bool ed25519)
{
	EVP_PKEY *k;

	k = ed25519 ? EVP_PKEY_Q_keygen(NULL, NULL, "ED25519") :
	    EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	cr_assert_not_null(k);
	return k;
}

static void
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX	 v3;
	X509_EXTENSION	*e;

	X509V3_set_ctx(&v3, issuer, x, NULL, NULL, 0);
	cr_assert_not_null(e = X509V3_EXT_conf_nid(NULL, &v3, nid, value),
	    "extension %d=%s", nid, value);
	cr_assert_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

/*
 * A certificate for `pub` named CN=cn, issued by `issuer` (NULL:
 * self-issued) and signed with `signer`. ca: BasicConstraints cA=TRUE;
 * eku: extendedKeyUsage value or NULL for none.
 */
static X509 *
mkcert(const char *cn, EVP_PKEY *pub, X509 *issuer, EVP_PKEY *signer,
    bool ca, const char *eku)
{
	static long	 serial = 1;
	X509		*x;
	X509_NAME	*n;
	const EVP_MD	*md;

	cr_assert_not_null(x = X509_new());
	cr_assert_eq(X509_set_version(x, X509_VERSION_3), 1);
	cr_assert_eq(ASN1_INTEGER_set(X509_get_serialNumber(x), serial++), 1);
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
	cr_assert_not_null(X509_gmtime_adj(X509_getm_notAfter(x), 86400));
	cr_assert_not_null(n = X509_NAME_new());
	cr_assert_eq(X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0), 1);
	cr_assert_eq(X509_set_subject_name(x, n), 1);
	cr_assert_eq(X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : n), 1);
	X509_NAME_free(n);
	cr_assert_eq(X509_set_pubkey(x, pub), 1);
	add_ext(x, issuer != NULL ? issuer : x, NID_basic_constraints,
	    ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(x, issuer != NULL ? issuer : x, NID_key_usage, ca ?
	    "critical,keyCertSign,digitalSignature" :
	    "critical,digitalSignature");
	if (eku != NULL)
		add_ext(x, issuer != NULL ? issuer : x, NID_ext_key_usage,
		    eku);
	if (!ca)
		add_ext(x, issuer != NULL ? issuer : x,
		    NID_subject_alt_name, "IP:127.0.0.1");
	md = EVP_PKEY_is_a(signer, "ED25519") ? NULL : EVP_sha256();
	cr_assert_gt(X509_sign(x, signer, md), 0);
	return x;
}

/* What a memory BIO holds, as tls_server_ctx() takes it; frees b. */
static struct pem
pem_of_bio(BIO *b)
{
	BUF_MEM		*m;
	struct pem	 p;

	BIO_get_mem_ptr(b, &m);
	p.len = m->length;
	cr_assert_not_null(p.data = malloc(p.len));
	memcpy(p.data, m->data, p.len);
	BIO_free(b);
	return p;
}

static struct pem
pem_cert(X509 *x)
{
	BIO *b;

	cr_assert_not_null(b = BIO_new(BIO_s_mem()));
	cr_assert_eq(PEM_write_bio_X509(b, x), 1);
	return pem_of_bio(b);
}

static struct pem
pem_key(EVP_PKEY *k)
{
	BIO *b;

	cr_assert_not_null(b = BIO_new(BIO_s_mem()));
	cr_assert_eq(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL,
	    NULL), 1);
	return pem_of_bio(b);
}

/* The test PKI: a root CA (tls.ca), the server's certificate. */
static EVP_PKEY	*root_key, *srv_key;
static X509	*root, *srv_crt;

static void
setup(void)
{
	root_key = newkey(false);
	root = mkcert("root", root_key, NULL, root_key, true, NULL);
	srv_key = newkey(false);
	srv_crt = mkcert("server", srv_key, root, root_key, false,
	    "serverAuth");
}

static void
teardown(void)
{
	X509_free(root);
	X509_free(srv_crt);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(srv_key);
}

TestSuite(tls_clientauth, .init = setup, .fini = teardown);

static SSL_CTX *
server_ctx(enum tls_auth auth)
{
	struct pem	 c = pem_cert(srv_crt), k = pem_key(srv_key);
	struct pem	 ca = pem_cert(root);
	char		 err[256] = "";
	SSL_CTX		*ctx;

	ctx = tls_server_ctx(&c, &k, "", &ca, auth, false, err, sizeof(err));
	cr_assert_not_null(ctx, "tls_server_ctx: %s", err);
	free(c.data);
	explicit_bzero(k.data, k.len);
	free(k.data);
	free(ca.data);
	return ctx;
}

static int
client_skip(X509_STORE_CTX *sctx, void *arg)
{
	return 1;
}

struct outcome {
	bool	 ok;			/* both sides completed */
	long	 verify;		/* the server's verify result */
	int	 nverify;		/* X509_verify_cert calls */
	enum ident_err ident;		/* identity_of_peer, when ok */
	char	 id[IDENTITY_LEN + 1];
};

/*
 * A handshake at `version` in which the client sends certs[0..n) (first
 * the one whose key it holds) and signs with key.
 */
static struct outcome
handshake(SSL_CTX *sctx, int version, X509 **certs, int n, EVP_PKEY *key)
{
	struct outcome	 o = { 0 };
	SSL_CTX		*cctx;
	SSL		*s, *c;
	BIO		*sb, *cb;
	int		 i, r, sdone = 0, cdone = 0, sfail = 0, cfail = 0;

	cr_assert_not_null(cctx = SSL_CTX_new(TLS_client_method()));
	cr_assert_eq(SSL_CTX_set_min_proto_version(cctx, version), 1);
	cr_assert_eq(SSL_CTX_set_max_proto_version(cctx, version), 1);
	/* OpenSSL's client verifies the server's chain even without
	 * SSL_VERIFY_PEER; skip that so only the server's work counts. */
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(cctx, client_skip, NULL);
	/* Nor may it build its own chain: it sends certs[] as given. */
	SSL_CTX_set_mode(cctx, SSL_MODE_NO_AUTO_CHAIN);
	cr_assert_eq(SSL_CTX_use_certificate(cctx, certs[0]), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(cctx, key), 1);
	for (i = 1; i < n; i++)
		cr_assert_eq(SSL_CTX_add1_chain_cert(cctx, certs[i]), 1);

	cr_assert_not_null(s = SSL_new(sctx));
	cr_assert_not_null(c = SSL_new(cctx));
	cr_assert_eq(BIO_new_bio_pair(&sb, 1 << 20, &cb, 1 << 20), 1);
	SSL_set_bio(s, sb, sb);
	SSL_set_bio(c, cb, cb);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);

	nverify = 0;
	for (i = 0; i < 50 && !(sdone && cdone) && !sfail && !cfail; i++) {
		if (!cdone) {
			if ((r = SSL_do_handshake(c)) == 1)
				cdone = 1;
			else if (SSL_get_error(c, r) != SSL_ERROR_WANT_READ)
				cfail = 1;
		}
		if (!sdone) {
			if ((r = SSL_do_handshake(s)) == 1)
				sdone = 1;
			else if (SSL_get_error(s, r) != SSL_ERROR_WANT_READ)
				sfail = 1;
		}
	}
	/* TLS 1.3: the client is done before the server saw its
	 * certificate; let the server finish. */
	if (cdone && !sdone && !sfail && SSL_do_handshake(s) == 1)
		sdone = 1;
	ERR_clear_error();
	o.nverify = nverify;
	o.ok = sdone && cdone;
	o.verify = SSL_get_verify_result(s);
	if (o.ok)
		o.ident = identity_of_peer(SSL_get0_peer_certificate(s),
		    SSL_get_peer_cert_chain(s), o.id);
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(cctx);
	return o;
}

static void
expect_id(const struct outcome *o, X509 *who, const char *what)
{
	char want[IDENTITY_LEN + 1];

	cr_assert(o->ok, "%s: handshake failed (verify %ld)", what,
	    o->verify);
	cr_assert_eq(o->ident, IDENT_OK, "%s: %s", what,
	    identity_err_message(o->ident));
	cr_assert_eq(identity_of_cert(who, want), 0);
	cr_assert_str_eq(o->id, want, "%s", what);
}

static const int versions[] = { TLS1_3_VERSION, TLS1_2_VERSION };

/*
 * The reproduction of the identity hole in both TLS versions and both
 * modes: a client holding only a victim's public certificate (or a
 * certificate it forged around the victim's public key) gets no
 * identity, let alone the victim's.
 */
Test(tls_clientauth, victim_certificate_gives_no_identity)
{
	EVP_PKEY	*vkey = newkey(false), *akey = newkey(false);
	X509		*victim, *att, *forged, *chain[2];
	struct outcome	 o;
	SSL_CTX		*off = server_ctx(TLS_AUTH_OFF);
	size_t		 v;

	victim = mkcert("victim", vkey, root, root_key, false, "clientAuth");
	att = mkcert("attacker", akey, NULL, akey, true, NULL);
	forged = mkcert("victim", vkey, att, akey, false, "clientAuth");

	for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		/* Its own CA-flagged certificate first, the victim's next. */
		chain[0] = att;
		chain[1] = victim;
		o = handshake(off, versions[v], chain, 2, akey);
		cr_assert(o.ok, "auth off: the handshake itself is fine");
		cr_assert_eq(o.ident, IDENT_NO_CERT, "CA first + victim");
		/* A certificate it made for the victim's public key. */
		chain[1] = forged;
		o = handshake(off, versions[v], chain, 2, akey);
		cr_assert(o.ok);
		cr_assert_eq(o.ident, IDENT_NO_CERT, "CA first + forged");
		/* The forged certificate alone: the attacker cannot sign
		 * for the victim's key (OpenSSL's client refuses the pair;
		 * here the attacker's own key with its own certificate). */
		chain[0] = att;
		o = handshake(off, versions[v], chain, 1, akey);
		cr_assert(o.ok);
		cr_assert_eq(o.ident, IDENT_NO_CERT, "CA-flagged alone");
	}
	SSL_CTX_free(off);
	X509_free(victim);
	X509_free(att);
	X509_free(forged);
	EVP_PKEY_free(vkey);
	EVP_PKEY_free(akey);
}

/*
 * tls.auth on: a sub-CA whose key the attacker holds chains to tls.ca;
 * the victim's certificate after it still gives no identity. A sub-CA
 * without EKU clientAuth does not even complete the handshake.
 */
Test(tls_clientauth, sub_ca_under_auth_on)
{
	EVP_PKEY	*vkey = newkey(false), *skey = newkey(false);
	X509		*victim, *sub, *subnoeku, *chain[2];
	struct outcome	 o;
	SSL_CTX		*on = server_ctx(TLS_AUTH_ON);
	size_t		 v;

	victim = mkcert("victim", vkey, root, root_key, false, "clientAuth");
	sub = mkcert("sub", skey, root, root_key, true, "clientAuth");
	subnoeku = mkcert("sub2", skey, root, root_key, true, NULL);
	for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		chain[0] = sub;
		chain[1] = victim;
		o = handshake(on, versions[v], chain, 2, skey);
		cr_assert(o.ok, "the sub-CA chains to tls.ca");
		cr_assert_eq(o.ident, IDENT_NO_CERT, "sub-CA + victim");
		chain[0] = subnoeku;
		o = handshake(on, versions[v], chain, 2, skey);
		cr_assert_not(o.ok, "sub-CA without EKU clientAuth");
		/* The victim itself, with its key, is of course fine. */
		chain[0] = victim;
		o = handshake(on, versions[v], chain, 1, vkey);
		expect_id(&o, victim, "victim with its own key");
	}
	SSL_CTX_free(on);
	X509_free(victim);
	X509_free(sub);
	X509_free(subnoeku);
	EVP_PKEY_free(vkey);
	EVP_PKEY_free(skey);
}

/* What a real client sends keeps working in both modes. */
Test(tls_clientauth, legitimate_chains)
{
	EVP_PKEY	*ikey = newkey(false), *lkey = newkey(false);
	EVP_PKEY	*ekey = newkey(true);
	X509		*inter, *leaf, *ed, *chain[3];
	SSL_CTX		*off = server_ctx(TLS_AUTH_OFF);
	SSL_CTX		*on = server_ctx(TLS_AUTH_ON);
	struct outcome	 o;
	size_t		 v;

	inter = mkcert("intermediate", ikey, root, root_key, true, NULL);
	leaf = mkcert("leaf", lkey, inter, ikey, false, "clientAuth");
	/* An API-key certificate: self-signed Ed25519, CA:FALSE. */
	ed = mkcert("apikey", ekey, NULL, ekey, false,
	    "clientAuth,serverAuth");
	for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
		chain[0] = leaf;
		chain[1] = inter;
		chain[2] = root;
		o = handshake(off, versions[v], chain, 3, lkey);
		expect_id(&o, leaf, "off: leaf + intermediate + root");
		cr_assert_eq(o.nverify, 0, "off builds no chain");
		o = handshake(on, versions[v], chain, 3, lkey);
		expect_id(&o, leaf, "on: leaf + intermediate + root");
		cr_assert_eq(o.nverify, 1, "on verifies once");
		o = handshake(on, versions[v], chain, 2, lkey);
		expect_id(&o, leaf, "on: leaf + intermediate");
		o = handshake(off, versions[v], chain, 1, lkey);
		expect_id(&o, leaf, "off: leaf alone");
		chain[0] = ed;
		o = handshake(off, versions[v], chain, 1, ekey);
		expect_id(&o, ed, "off: API-key certificate");
		/* A second client certificate is still refused. */
		chain[0] = leaf;
		chain[1] = ed;
		o = handshake(off, versions[v], chain, 2, lkey);
		cr_assert(o.ok);
		cr_assert_eq(o.ident, IDENT_TOO_MANY, "two leaves");
	}
	SSL_CTX_free(off);
	SSL_CTX_free(on);
	X509_free(inter);
	X509_free(leaf);
	X509_free(ed);
	EVP_PKEY_free(ikey);
	EVP_PKEY_free(lkey);
	EVP_PKEY_free(ekey);
}

/* tls.auth on: the peer's EKU must name clientAuth (README). */
Test(tls_clientauth, eku_client_auth_required)
{
	EVP_PKEY	*k = newkey(false);
	X509		*none, *srvonly, *both, *chain[1];
	SSL_CTX		*on = server_ctx(TLS_AUTH_ON);
	struct outcome	 o;

	none = mkcert("none", k, root, root_key, false, NULL);
	srvonly = mkcert("srv", k, root, root_key, false, "serverAuth");
	both = mkcert("both", k, root, root_key, false,
	    "serverAuth,clientAuth");
	chain[0] = none;
	o = handshake(on, TLS1_3_VERSION, chain, 1, k);
	cr_assert_not(o.ok, "no EKU");
	cr_assert_eq(o.verify, X509_V_ERR_INVALID_PURPOSE);
	chain[0] = srvonly;
	o = handshake(on, TLS1_3_VERSION, chain, 1, k);
	cr_assert_not(o.ok, "EKU serverAuth only");
	chain[0] = both;
	o = handshake(on, TLS1_3_VERSION, chain, 1, k);
	expect_id(&o, both, "EKU serverAuth + clientAuth");
	SSL_CTX_free(on);
	X509_free(none);
	X509_free(srvonly);
	X509_free(both);
	EVP_PKEY_free(k);
}

/*
 * A leaf followed by n bogus intermediates (Ed25519, short names, each
 * issued by the next); chain[0] is the leaf, its key in *leafkey.
 */
static X509 **
long_chain(int n, EVP_PKEY **leafkey)
{
	X509		**c;
	EVP_PKEY	 *k, *next;
	char		  cn[16];
	int		  i;

	cr_assert_not_null(c = calloc(n + 1, sizeof(*c)));
	next = newkey(true);
	c[n] = mkcert("top", next, NULL, next, true, NULL);
	for (i = n - 1; i >= 1; i--) {
		k = newkey(true);
		snprintf(cn, sizeof(cn), "i%d", i);
		c[i] = mkcert(cn, k, c[i + 1], next, true, NULL);
		EVP_PKEY_free(next);
		next = k;
	}
	*leafkey = newkey(true);
	c[0] = mkcert("leaf", *leafkey, c[1], next, false, "clientAuth");
	EVP_PKEY_free(next);
	return c;
}

static void
free_chain(X509 **c, int n)
{
	int i;

	for (i = 0; i <= n; i++)
		X509_free(c[i]);
	free(c);
}

/*
 * 140 intermediates: under auth off the handshake builds no chain at all
 * (as cheap as a lone leaf, and the identity is the leaf's); under auth
 * on it is refused before any chain is built. The control: OpenSSL's own
 * verification, as the server ran before, builds the chain, and the hook
 * sees it.
 */
Test(tls_clientauth, long_chain_costs_nothing)
{
	EVP_PKEY	*lk;
	X509		**c = long_chain(140, &lk);
	SSL_CTX		*off = server_ctx(TLS_AUTH_OFF);
	SSL_CTX		*on = server_ctx(TLS_AUTH_ON);
	SSL_CTX		*plain;
	struct outcome	 o;

	o = handshake(off, TLS1_3_VERSION, c, 141, lk);
	expect_id(&o, c[0], "off: leaf + 140 intermediates");
	cr_assert_eq(o.nverify, 0, "off: no chain building");
	o = handshake(off, TLS1_3_VERSION, c, 1, lk);
	expect_id(&o, c[0], "off: leaf alone");
	cr_assert_eq(o.nverify, 0);

	o = handshake(on, TLS1_3_VERSION, c, 141, lk);
	cr_assert_not(o.ok, "on: 140 intermediates refused");
	cr_assert_eq(o.nverify, 0, "on: refused before verification");
	cr_assert_eq(o.verify, X509_V_ERR_CERT_CHAIN_TOO_LONG);
	/* TLS_MAX_CHAIN certificates are verified; one more is not. */
	o = handshake(on, TLS1_3_VERSION, c, TLS_MAX_CHAIN + 1, lk);
	cr_assert_not(o.ok);
	cr_assert_eq(o.nverify, 0);
	o = handshake(on, TLS1_3_VERSION, c, TLS_MAX_CHAIN, lk);
	cr_assert_not(o.ok, "does not chain to tls.ca");
	cr_assert_eq(o.nverify, 1, "a list within the cap is verified");

	/* The control: a context that leaves verification to OpenSSL. */
	cr_assert_not_null(plain = SSL_CTX_new(TLS_server_method()));
	cr_assert_eq(SSL_CTX_use_certificate(plain, srv_crt), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey(plain, srv_key), 1);
	SSL_CTX_set_mode(plain, SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_verify(plain, SSL_VERIFY_PEER |
	    SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	o = handshake(plain, TLS1_3_VERSION, c, 141, lk);
	cr_assert_eq(o.nverify, 1, "the hook sees libssl's verification");

	SSL_CTX_free(plain);
	SSL_CTX_free(off);
	SSL_CTX_free(on);
	free_chain(c, 140);
	EVP_PKEY_free(lk);
}

/* A Certificate message over TLS_MAX_CERT_LIST bytes is refused unread
 * in both modes. */
Test(tls_clientauth, certificate_list_size_capped)
{
	EVP_PKEY	*lk;
	X509		**c = long_chain(300, &lk);
	SSL_CTX		*off = server_ctx(TLS_AUTH_OFF);
	struct outcome	 o;
	int		 i, total = 0;

	for (i = 0; i <= 300; i++)
		total += i2d_X509(c[i], NULL);
	cr_assert_gt(total, TLS_MAX_CERT_LIST);
	o = handshake(off, TLS1_3_VERSION, c, 301, lk);
	cr_assert_not(o.ok, "%d bytes of certificates", total);
	cr_assert_eq(o.nverify, 0);
	o = handshake(off, TLS1_2_VERSION, c, 301, lk);
	cr_assert_not(o.ok, "%d bytes of certificates, TLS 1.2", total);
	SSL_CTX_free(off);
	free_chain(c, 300);
	EVP_PKEY_free(lk);
}
