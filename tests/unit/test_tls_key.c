/*
 * The worker's remote TLS key (worker/tls_key.c) in real handshakes over a
 * BIO pair: the server context holds only the certificate and a key of the
 * provider; every signature goes through tls_sign_remote, which this test
 * defines in place of the worker's (conn.c) and answers as the crypto
 * process would, after pausing the handshake's async job once. The client
 * checks the signature against the certificate, so a handshake that
 * completes proves the signature right; the recorded requests show what
 * the signer is asked (purpose by shape, digest, padding, key id).
 */
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/async.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/msg.h"
#include "common/tls.h"
#include "worker/tls_key.h"

static const char ctx13[] = "TLS 1.3, server CertificateVerify";

/* The private key the test plays signer with, and what it was asked. */
static EVP_PKEY	*signer;
static int	 nsign, npaused;
static char	 last_digest[16];
static int	 last_pad;
static uint8_t	 last_tbs[1024], last_id[TLS_KEY_ID_LEN];
static size_t	 last_tbslen;

int
tls_sign_remote(const struct tls_sign_req *r, uint8_t *sig, size_t *siglen,
    size_t sigsize)
{
	EVP_MD_CTX	*mc;
	EVP_PKEY_CTX	*pc = NULL;
	int		 ok;

	cr_assert_not_null(ASYNC_get_current_job(),
	    "a signature asked for outside an async job");
	nsign++;
	(void)snprintf(last_digest, sizeof(last_digest), "%s", r->digest);
	last_pad = r->pad;
	cr_assert_leq(r->tbslen, sizeof(last_tbs));
	memcpy(last_tbs, r->tbs, r->tbslen);
	last_tbslen = r->tbslen;
	memcpy(last_id, r->id, TLS_KEY_ID_LEN);
	/* As at the crypto process: the job waits for the answer. */
	cr_assert_eq(ASYNC_pause_job(), 1);

	mc = EVP_MD_CTX_new();
	ok = EVP_DigestSignInit_ex(mc, &pc, *r->digest ? r->digest : NULL,
	    NULL, NULL, signer, NULL) == 1;
	if (ok && r->pad == TLS_SIGN_PAD_PSS)
		ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) ==
		    1 && EVP_PKEY_CTX_set_rsa_pss_saltlen(pc,
		    RSA_PSS_SALTLEN_DIGEST) == 1;
	*siglen = sigsize;
	ok = ok && EVP_DigestSign(mc, sig, siglen, r->tbs, r->tbslen) == 1;
	EVP_MD_CTX_free(mc);
	return ok ? 0 : -1;
}

static EVP_PKEY *
keygen(const char *type)
{
	EVP_PKEY *k;

	if (strcmp(type, "RSA") == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strncmp(type, "P-", 2) == 0)
		k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	else
		k = EVP_PKEY_Q_keygen(NULL, NULL, type);
	cr_assert_not_null(k, "keygen %s", type);
	return k;
}

/* A self-signed server certificate with a DNS SAN, as PEM. */
static void
mkcert(EVP_PKEY *k, struct pem *out, X509 **xout)
{
	X509		*x = X509_new();
	X509V3_CTX	 v3;
	X509_EXTENSION	*e;
	BIO		*b = BIO_new(BIO_s_mem());
	BUF_MEM		*bm;

	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN",
	    MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name,
	    "DNS:localhost");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	cr_assert(X509_sign(x, k, EVP_PKEY_is_a(k, "ED25519") ? NULL :
	    EVP_sha256()) > 0);
	PEM_write_bio_X509(b, x);
	BIO_get_mem_ptr(b, &bm);
	out->data = malloc(bm->length);
	memcpy(out->data, bm->data, bm->length);
	out->len = bm->length;
	BIO_free(b);
	*xout = x;
}

static SSL_CTX *
server_ctx(EVP_PKEY *k, X509 **cert)
{
	struct pem	 cp, ca = { 0 };
	SSL_CTX		*ctx;
	EVP_PKEY	*rk;
	char		 err[256] = "";

	cr_assert_eq(tls_key_init(), 0);
	mkcert(k, &cp, cert);
	ctx = tls_server_ctx(&cp, NULL, NULL, &ca, TLS_AUTH_OFF, true, err,
	    sizeof(err));
	cr_assert_not_null(ctx, "%s", err);
	rk = tls_key_remote(*cert, err, sizeof(err));
	cr_assert_not_null(rk, "%s", err);
	cr_assert_eq(SSL_CTX_use_PrivateKey(ctx, rk), 1, "%s",
	    ERR_reason_error_string(ERR_peek_last_error()));
	/* Never a private half out of the provider. */
	{
		OSSL_PARAM *p = NULL;

		cr_assert_neq(EVP_PKEY_todata(rk, EVP_PKEY_KEYPAIR, &p), 1);
		ERR_clear_error();
	}
	EVP_PKEY_free(rk);
	free(cp.data);
	return ctx;
}

/* One handshake; the server's SSL runs in async mode as the worker's. */
static int
handshake(SSL_CTX *sctx, int version, const char *client_sigalgs)
{
	SSL_CTX	*cctx = SSL_CTX_new(TLS_client_method());
	SSL	*s, *c;
	BIO	*bs, *bc;
	int	 rs = 0, rc = 0, i;

	SSL_CTX_set_min_proto_version(cctx, version);
	SSL_CTX_set_max_proto_version(cctx, version);
	if (client_sigalgs != NULL)
		cr_assert_eq(SSL_CTX_set1_sigalgs_list(cctx, client_sigalgs),
		    1);
	s = SSL_new(sctx);
	c = SSL_new(cctx);
	cr_assert_eq(BIO_new_bio_pair(&bs, 0, &bc, 0), 1);
	SSL_set_bio(s, bs, bs);
	SSL_set_bio(c, bc, bc);
	SSL_set_accept_state(s);
	SSL_set_connect_state(c);
	SSL_set_mode(s, SSL_MODE_ASYNC);
	for (i = 0; i < 200 && (rs != 1 || rc != 1); i++) {
		if (rc != 1)
			rc = SSL_do_handshake(c);
		if (rs != 1) {
			rs = SSL_do_handshake(s);
			if (rs != 1 && SSL_get_error(s, rs) ==
			    SSL_ERROR_WANT_ASYNC)
				npaused++;
		}
	}
	ERR_clear_error();
	SSL_free(s);
	SSL_free(c);
	SSL_CTX_free(cctx);
	return rs == 1 && rc == 1;
}

static void
key_id(X509 *x, uint8_t *id)
{
	unsigned char	*der = NULL;
	unsigned int	 n;
	int		 len = i2d_PUBKEY(X509_get0_pubkey(x), &der);

	cr_assert_gt(len, 0);
	EVP_Digest(der, len, id, &n, EVP_sha256(), NULL);
	OPENSSL_free(der);
}

static void
check_tls13(const char *digest)
{
	size_t i;

	/* The context string with its 0 byte, then the transcript hash:
	 * SHA-384 under the suite the server prefers, AES-256-GCM. */
	cr_assert_eq(last_tbslen, 64 + sizeof(ctx13) + 48, "tbs %zu bytes",
	    last_tbslen);
	for (i = 0; i < 64; i++)
		cr_assert_eq(last_tbs[i], 0x20);
	cr_assert_eq(memcmp(last_tbs + 64, ctx13, sizeof(ctx13)), 0);
	cr_assert_str_eq(last_digest, digest);
}

static void
check_tls12(const char *digest, int group, size_t pointlen)
{
	cr_assert_eq(last_tbslen, 64 + 4 + pointlen, "tbs %zu", last_tbslen);
	cr_assert_eq(last_tbs[64], 3);
	cr_assert_eq((last_tbs[65] << 8) | last_tbs[66], group);
	cr_assert_eq(last_tbs[67], pointlen);
	cr_assert_str_eq(last_digest, digest);
}

static void
one(const char *type, int version, const char *client_sigalgs,
    const char *digest, int pad)
{
	SSL_CTX	*sctx;
	X509	*cert;
	uint8_t	 id[TLS_KEY_ID_LEN];

	signer = keygen(type);
	sctx = server_ctx(signer, &cert);
	nsign = npaused = 0;
	cr_assert(handshake(sctx, version, client_sigalgs),
	    "%s handshake failed", type);
	cr_assert_eq(nsign, 1, "signatures asked: %d", nsign);
	cr_assert_geq(npaused, 1, "the handshake never waited");
	cr_assert_eq(last_pad, pad);
	key_id(cert, id);
	cr_assert_eq(memcmp(id, last_id, sizeof(id)), 0);
	if (version == TLS1_3_VERSION)
		check_tls13(digest);
	else
		check_tls12(digest, 29, 32);	/* X25519 by default */
	X509_free(cert);
	SSL_CTX_free(sctx);
	EVP_PKEY_free(signer);
}

Test(tls_key, rsa_tls13_pss)
{
	one("RSA", TLS1_3_VERSION, NULL, "SHA256", TLS_SIGN_PAD_PSS);
}

Test(tls_key, rsa_tls12_pkcs1)
{
	one("RSA", TLS1_2_VERSION, "RSA+SHA384", "SHA384", TLS_SIGN_PAD_PKCS1);
}

Test(tls_key, rsa_tls12_pss)
{
	one("RSA", TLS1_2_VERSION, "rsa_pss_rsae_sha512", "SHA512",
	    TLS_SIGN_PAD_PSS);
}

Test(tls_key, p256_tls13)
{
	one("P-256", TLS1_3_VERSION, NULL, "SHA256", TLS_SIGN_PAD_NONE);
}

Test(tls_key, p384_tls13)
{
	one("P-384", TLS1_3_VERSION, NULL, "SHA384", TLS_SIGN_PAD_NONE);
}

Test(tls_key, p256_tls12)
{
	one("P-256", TLS1_2_VERSION, NULL, "SHA256", TLS_SIGN_PAD_NONE);
}

Test(tls_key, p384_tls12)
{
	one("P-384", TLS1_2_VERSION, "ECDSA+SHA384", "SHA384",
	    TLS_SIGN_PAD_NONE);
}

Test(tls_key, ed25519_tls13)
{
	one("ED25519", TLS1_3_VERSION, NULL, "", TLS_SIGN_PAD_NONE);
}

Test(tls_key, ed25519_tls12)
{
	one("ED25519", TLS1_2_VERSION, NULL, "", TLS_SIGN_PAD_NONE);
}

/* A client that offers only SHA-1 gets no handshake, and the signer is
 * never asked (it would refuse, and take the worker for hostile). */
Test(tls_key, sha1_only_client_is_refused)
{
	SSL_CTX	*sctx;
	X509	*cert;

	signer = keygen("RSA");
	sctx = server_ctx(signer, &cert);
	nsign = 0;
	cr_assert_not(handshake(sctx, TLS1_2_VERSION, "RSA+SHA1"));
	cr_assert_eq(nsign, 0);
	X509_free(cert);
	SSL_CTX_free(sctx);
	EVP_PKEY_free(signer);
}

/* Unsupported key types are refused with a message naming them. */
Test(tls_key, ed448_refused)
{
	EVP_PKEY	*k = keygen("ED448");
	X509		*x = X509_new();
	char		 err[256] = "";

	cr_assert_eq(tls_key_init(), 0);
	X509_set_pubkey(x, k);
	cr_assert_null(tls_key_remote(x, err, sizeof(err)));
	cr_assert(strstr(err, "ED448") != NULL, "%s", err);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* The certificate's own public key still decodes and verifies through
 * OpenSSL's default provider once ours is loaded (client certificates). */
Test(tls_key, default_provider_still_preferred)
{
	EVP_PKEY	*k = keygen("P-256"), *pub;
	X509		*x;
	struct pem	 cp;

	cr_assert_eq(tls_key_init(), 0);
	mkcert(k, &cp, &x);
	pub = X509_get0_pubkey(x);
	cr_assert_str_eq(OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(pub)),
	    "default");
	cr_assert_eq(X509_verify(x, pub), 1);
	X509_free(x);
	free(cp.data);
	EVP_PKEY_free(k);
}
