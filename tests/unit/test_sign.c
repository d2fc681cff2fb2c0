/*
 * The TLS handshake signer (privsep/sign.c): the structure check of what
 * a worker asks to sign, the request parser, the key types, the key table,
 * sign / verify round trips with keys made here, and the parent's side:
 * tls.key decrypted and its type checked (privsep/files.c).
 */
#include <criterion/criterion.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/msg.h"
#include "common/slice.h"
#include "privsep/files.h"
#include "privsep/sign.h"

#define CTX13	"TLS 1.3, server CertificateVerify"

/* A TLS 1.3 CertificateVerify input with a hash of hlen bytes. */
static size_t
tls13(uint8_t *out, size_t hlen)
{
	memset(out, 0x20, 64);
	memcpy(out + 64, CTX13, sizeof(CTX13));	/* with its 0x00 */
	memset(out + 64 + sizeof(CTX13), 0xab, hlen);
	return 64 + sizeof(CTX13) + hlen;
}

/* A TLS 1.2 ServerKeyExchange input: randoms, named_curve, group, point. */
static size_t
tls12(uint8_t *out, uint16_t group, uint8_t plen)
{
	memset(out, 0x5a, 64);
	out[64] = 3;
	out[65] = group >> 8;
	out[66] = group & 0xff;
	out[67] = plen;
	memset(out + 68, 0x33, plen);
	out[68] = 0x04;
	return 68 + plen;
}

static int
check(uint8_t purpose, const char *digest, uint8_t pad, enum sign_keytype t,
    const uint8_t *tbs, size_t len)
{
	const char *why = NULL;
	int r;

	r = sign_check(purpose, digest, pad, t, tbs, len, &why);
	if (r == -1)
		cr_assert_not_null(why);
	return r;
}

Test(sign_check, tls13_accepts_every_key_type)
{
	uint8_t	 b[256];
	size_t	 n32 = tls13(b, 32), n48;

	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_PSS,
	    SIGN_KEY_RSA, b, n32), 0);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA512", TLS_SIGN_PAD_PSS,
	    SIGN_KEY_RSA, b, n32), 0);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n32), 0);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA384", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P384, b, n32), 0);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA512", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P521, b, n32), 0);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_ED25519, b, n32), 0);
	n48 = tls13(b, 48);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA384", TLS_SIGN_PAD_PSS,
	    SIGN_KEY_RSA, b, n48), 0);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_ED25519, b, n48), 0);
}

Test(sign_check, tls12_accepts_every_group_and_key_type)
{
	static const struct { uint16_t g; uint8_t l; } gs[] = {
		{ 23, 65 }, { 24, 97 }, { 25, 133 }, { 29, 32 }, { 30, 56 },
	};
	uint8_t	b[256];
	size_t	i, n;

	for (i = 0; i < sizeof(gs) / sizeof(gs[0]); i++) {
		n = tls12(b, gs[i].g, gs[i].l);
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256",
		    TLS_SIGN_PAD_PKCS1, SIGN_KEY_RSA, b, n), 0, "group %u",
		    gs[i].g);
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA384",
		    TLS_SIGN_PAD_PSS, SIGN_KEY_RSA, b, n), 0);
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256",
		    TLS_SIGN_PAD_NONE, SIGN_KEY_P256, b, n), 0);
		/* 1.2 does not bind the curve to the hash */
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA512",
		    TLS_SIGN_PAD_NONE, SIGN_KEY_P384, b, n), 0);
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA384",
		    TLS_SIGN_PAD_NONE, SIGN_KEY_P521, b, n), 0);
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "",
		    TLS_SIGN_PAD_NONE, SIGN_KEY_ED25519, b, n), 0);
	}
}

Test(sign_check, refuses_arbitrary_bytes)
{
	uint8_t	b[256];
	size_t	n;

	memset(b, 0x41, sizeof(b));
	for (n = 0; n <= sizeof(b); n++) {
		cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256",
		    TLS_SIGN_PAD_PSS, SIGN_KEY_RSA, b, n), -1);
		cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256",
		    TLS_SIGN_PAD_PSS, SIGN_KEY_RSA, b, n), -1);
	}
	/* a well-formed input under an unknown purpose */
	n = tls13(b, 32);
	cr_assert_eq(check(0, "SHA256", TLS_SIGN_PAD_PSS, SIGN_KEY_RSA, b,
	    n), -1);
	cr_assert_eq(check(3, "SHA256", TLS_SIGN_PAD_PSS, SIGN_KEY_RSA, b,
	    n), -1);
}

Test(sign_check, refuses_wrong_hash_length)
{
	static const size_t bad[] = { 0, 20, 31, 33, 47, 49, 64 };
	uint8_t	b[256];
	size_t	i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = tls13(b, bad[i]);
		cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256",
		    TLS_SIGN_PAD_PSS, SIGN_KEY_RSA, b, n), -1, "hash %zu",
		    bad[i]);
		cr_assert_eq(check(TLS_SIGN_TLS13_CV, "", TLS_SIGN_PAD_NONE,
		    SIGN_KEY_ED25519, b, n), -1);
	}
}

Test(sign_check, refuses_wrong_context)
{
	uint8_t	b[256];
	size_t	n;

	n = tls13(b, 32);
	b[64 + 8] = 'c';		/* "client" would start here */
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls13(b, 32);
	b[64 + sizeof(CTX13) - 1] = '.';	/* the 0x00 */
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls13(b, 32);
	b[10] = 0x21;			/* one of the 64 spaces */
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	/* the TLS 1.2 layout under the 1.3 purpose, and back */
	n = tls12(b, 29, 32);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls13(b, 32);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
}

Test(sign_check, tls12_refuses_bad_parameters)
{
	uint8_t	b[256];
	size_t	n;

	/* forbidden groups: secp224r1, ffdhe2048, secp256k1, 0 */
	n = tls12(b, 22, 65);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls12(b, 256, 32);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls12(b, 21, 57);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls12(b, 0, 32);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	/* wrong point lengths */
	n = tls12(b, 29, 33);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	n = tls12(b, 23, 64);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	/* the length byte says 32, the bytes are 31 or 33 */
	n = tls12(b, 29, 32);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n - 1), -1);
	b[n] = 0;
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n + 1), -1, "trailing byte");
	/* a compressed NIST point */
	n = tls12(b, 23, 65);
	b[68] = 0x02;
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	/* explicit curve parameters, not named_curve */
	n = tls12(b, 23, 65);
	b[64] = 1;
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, n), -1);
	/* the randoms only */
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b, 64), -1);
}

Test(sign_check, refuses_wrong_schemes)
{
	uint8_t	b13[256], b12[256];
	size_t	n13 = tls13(b13, 32), n12 = tls12(b12, 29, 32);

	/* SHA-1 and SHA-224, everywhere */
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA1", TLS_SIGN_PAD_PKCS1,
	    SIGN_KEY_RSA, b12, n12), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA1", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b12, n12), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA224", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b12, n12), -1);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA1", TLS_SIGN_PAD_PSS,
	    SIGN_KEY_RSA, b13, n13), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "MD5-SHA1", TLS_SIGN_PAD_PKCS1,
	    SIGN_KEY_RSA, b12, n12), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA1", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_ANY, b12, n12), -1);
	/* PKCS#1 in TLS 1.3, no padding for RSA, padding for EC */
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_PKCS1,
	    SIGN_KEY_RSA, b13, n13), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_RSA, b12, n12), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_PSS,
	    SIGN_KEY_P256, b12, n12), -1);
	cr_assert_eq(check(TLS_SIGN_TLS12_SKE, "SHA256", 7,
	    SIGN_KEY_ANY, b12, n12), -1);
	/* the curve's digest in TLS 1.3 */
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA384", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b13, n13), -1);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P384, b13, n13), -1);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA384", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P521, b13, n13), -1);
	/* Ed25519 takes no digest; the others need one */
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_ED25519, b13, n13), -1);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "", TLS_SIGN_PAD_NONE,
	    SIGN_KEY_P256, b13, n13), -1);
	cr_assert_eq(check(TLS_SIGN_TLS13_CV, "", TLS_SIGN_PAD_PSS,
	    SIGN_KEY_RSA, b13, n13), -1);
}

/* --- the request parser --------------------------------------------- */

static void
put_req(struct buf *b, uint8_t purpose, size_t idlen, const char *digest,
    uint8_t pad, const uint8_t *tbs, size_t len)
{
	uint8_t id[64];

	memset(id, 0x77, sizeof(id));
	buf_put_u8(b, purpose);
	buf_put_bytes(b, id, idlen);
	buf_put_str(b, digest);
	buf_put_u8(b, pad);
	buf_put_bytes(b, tbs, len);
}

Test(sign_req, parses_exactly)
{
	struct sign_req	 r;
	struct buf	 b;
	uint8_t		 tbs[256];
	size_t		 n = tls13(tbs, 48), full, cut;
	const char	*why;

	buf_init(&b, 1024);
	put_req(&b, TLS_SIGN_TLS13_CV, 32, "SHA384", TLS_SIGN_PAD_PSS, tbs, n);
	full = b.len;
	cr_assert_eq(sign_req_get(&b, &r, &why), 0);
	cr_assert_eq(r.purpose, TLS_SIGN_TLS13_CV);
	cr_assert_str_eq(r.digest, "SHA384");
	cr_assert_eq(r.pad, TLS_SIGN_PAD_PSS);
	cr_assert_eq(r.tbslen, n);
	cr_assert_eq(memcmp(r.tbs, tbs, n), 0);
	cr_assert_eq(r.keyid[0], 0x77);
	/* every truncation fails */
	for (cut = 0; cut < full; cut++) {
		b.off = 0;
		b.len = cut;
		cr_assert_eq(sign_req_get(&b, &r, &why), -1, "cut %zu", cut);
	}
	/* a trailing byte */
	b.off = 0;
	b.len = full;
	buf_put_u8(&b, 0);
	cr_assert_eq(sign_req_get(&b, &r, &why), -1);
	/* a key id of another length */
	buf_reset(&b);
	put_req(&b, TLS_SIGN_TLS13_CV, 31, "SHA384", TLS_SIGN_PAD_PSS, tbs, n);
	cr_assert_eq(sign_req_get(&b, &r, &why), -1);
	buf_reset(&b);
	put_req(&b, TLS_SIGN_TLS13_CV, 33, "SHA384", TLS_SIGN_PAD_PSS, tbs, n);
	cr_assert_eq(sign_req_get(&b, &r, &why), -1);
	buf_release(&b);
}

/* --- keys ------------------------------------------------------------- */

static EVP_PKEY *
keygen(const char *type, enum sign_keytype *t)
{
	EVP_PKEY	*pk;
	char		 why[160];

	if (strcmp(type, "RSA") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "ED25519") == 0)
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	cr_assert_not_null(pk, "keygen %s", type);
	cr_assert_eq(sign_key_type(pk, t, why, sizeof(why)), 0, "%s: %s",
	    type, why);
	return pk;
}

/* Sign with the private key, verify under the public key alone. */
static void
round_trip(EVP_PKEY *pk, enum sign_keytype t, uint8_t purpose,
    const char *digest, uint8_t pad)
{
	struct sign_key	 k = { pk, t, { 0 } };
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx = NULL;
	EVP_PKEY	*pub;
	unsigned char	*der = NULL;
	const unsigned char *p;
	uint8_t		 tbs[256], sig[SIGN_SIG_MAX];
	size_t		 n, siglen = 0;
	const char	*md = *digest ? digest : NULL;
	const char	*why;
	int		 dlen;

	n = purpose == TLS_SIGN_TLS13_CV ? tls13(tbs, 32) : tls12(tbs, 23, 65);
	cr_assert_eq(sign_check(purpose, digest, pad, t, tbs, n, &why), 0,
	    "%s", why);
	cr_assert_eq(sign_tbs(&k, digest, pad, tbs, n, sig, &siglen), 0);
	cr_assert_gt(siglen, 0);

	dlen = i2d_PUBKEY(pk, &der);
	cr_assert_gt(dlen, 0);
	p = der;
	pub = d2i_PUBKEY(NULL, &p, dlen);
	OPENSSL_free(der);
	cr_assert_not_null(pub);
	ctx = EVP_MD_CTX_new();
	cr_assert_eq(EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pub,
	    NULL), 1);
	if (pad == TLS_SIGN_PAD_PSS) {
		cr_assert_eq(EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING), 1);
		/* the salt must be the digest's length, not any */
		cr_assert_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST), 1);
	}
	cr_assert_eq(EVP_DigestVerify(ctx, sig, siglen, tbs, n), 1,
	    "signature does not verify");
	/* and not over other bytes */
	tbs[n - 1] ^= 1;
	EVP_MD_CTX_free(ctx);
	ctx = EVP_MD_CTX_new();
	pctx = NULL;
	cr_assert_eq(EVP_DigestVerifyInit_ex(ctx, &pctx, md, NULL, NULL, pub,
	    NULL), 1);
	if (pad == TLS_SIGN_PAD_PSS)
		EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING);
	cr_assert_neq(EVP_DigestVerify(ctx, sig, siglen, tbs, n), 1);
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
}

Test(sign_tbs, rsa_pss_and_pkcs1, .timeout = 60)
{
	enum sign_keytype	 t;
	EVP_PKEY		*pk = keygen("RSA", &t);

	cr_assert_eq(t, SIGN_KEY_RSA);
	round_trip(pk, t, TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_PSS);
	round_trip(pk, t, TLS_SIGN_TLS13_CV, "SHA384", TLS_SIGN_PAD_PSS);
	round_trip(pk, t, TLS_SIGN_TLS12_SKE, "SHA512", TLS_SIGN_PAD_PSS);
	round_trip(pk, t, TLS_SIGN_TLS12_SKE, "SHA256", TLS_SIGN_PAD_PKCS1);
	EVP_PKEY_free(pk);
}

Test(sign_tbs, ecdsa_and_ed25519)
{
	enum sign_keytype	 t;
	EVP_PKEY		*pk;

	pk = keygen("P-256", &t);
	cr_assert_eq(t, SIGN_KEY_P256);
	round_trip(pk, t, TLS_SIGN_TLS13_CV, "SHA256", TLS_SIGN_PAD_NONE);
	round_trip(pk, t, TLS_SIGN_TLS12_SKE, "SHA384", TLS_SIGN_PAD_NONE);
	EVP_PKEY_free(pk);
	pk = keygen("P-384", &t);
	cr_assert_eq(t, SIGN_KEY_P384);
	round_trip(pk, t, TLS_SIGN_TLS13_CV, "SHA384", TLS_SIGN_PAD_NONE);
	EVP_PKEY_free(pk);
	pk = keygen("P-521", &t);
	cr_assert_eq(t, SIGN_KEY_P521);
	round_trip(pk, t, TLS_SIGN_TLS13_CV, "SHA512", TLS_SIGN_PAD_NONE);
	EVP_PKEY_free(pk);
	pk = keygen("ED25519", &t);
	cr_assert_eq(t, SIGN_KEY_ED25519);
	round_trip(pk, t, TLS_SIGN_TLS13_CV, "", TLS_SIGN_PAD_NONE);
	round_trip(pk, t, TLS_SIGN_TLS12_SKE, "", TLS_SIGN_PAD_NONE);
	EVP_PKEY_free(pk);
}

static void
refused_type(EVP_PKEY *pk, const char *names)
{
	enum sign_keytype	t;
	char			why[160] = "";

	cr_assert_not_null(pk);
	cr_assert_eq(sign_key_type(pk, &t, why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, names), "'%s' does not name %s", why,
	    names);
	EVP_PKEY_free(pk);
}

/* EVP_PKEY_Q_keygen takes a size for "RSA" only. */
static EVP_PKEY *
rsa_pss_keygen(void)
{
	EVP_PKEY_CTX	*ctx;
	EVP_PKEY	*pk = NULL;

	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA-PSS", NULL);
	cr_assert_not_null(ctx);
	cr_assert_eq(EVP_PKEY_keygen_init(ctx), 1);
	cr_assert_eq(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048), 1);
	cr_assert_eq(EVP_PKEY_keygen(ctx, &pk), 1);
	EVP_PKEY_CTX_free(ctx);
	return pk;
}

Test(sign_key, refuses_other_types, .timeout = 60)
{
	refused_type(EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024),
	    "1024 bits");
	refused_type(rsa_pss_keygen(), "RSA-PSS");
	refused_type(EVP_PKEY_Q_keygen(NULL, NULL, "ED448"), "ED448");
	refused_type(EVP_PKEY_Q_keygen(NULL, NULL, "X25519"), "X25519");
	refused_type(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1"),
	    "secp256k1");
	refused_type(EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-224"),
	    "secp224r1");
}

/* --- the key table --------------------------------------------------- */

static uint8_t *
pkcs8(EVP_PKEY *pk, size_t *len)
{
	PKCS8_PRIV_KEY_INFO	*p8 = EVP_PKEY2PKCS8(pk);
	unsigned char		*der = NULL;
	int			 n;

	cr_assert_not_null(p8);
	n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
	cr_assert_gt(n, 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	*len = (size_t)n;
	return der;
}

Test(signer, current_and_previous)
{
	struct signer	 s;
	EVP_PKEY	*a, *b, *c;
	uint8_t		*der, ida[SIGN_KEYID_LEN], idb[SIGN_KEYID_LEN],
			 idc[SIGN_KEYID_LEN];
	enum sign_keytype t;
	size_t		 len;
	char		 err[256];

	memset(&s, 0, sizeof(s));
	a = keygen("P-256", &t);
	b = keygen("ED25519", &t);
	c = keygen("P-384", &t);
	cr_assert_eq(tls_key_id(a, ida), 0);
	cr_assert_eq(tls_key_id(b, idb), 0);
	cr_assert_eq(tls_key_id(c, idc), 0);
	cr_assert_eq(signer_install(&s, NULL, 0, err, sizeof(err)), 0);
	cr_assert_null(signer_find(&s, ida));

	der = pkcs8(a, &len);
	cr_assert_eq(signer_install(&s, der, len, err, sizeof(err)), 0, "%s",
	    err);
	/* a byte more or less is not the key */
	cr_assert_eq(signer_install(&s, der, len - 1, err, sizeof(err)), -1);
	OPENSSL_clear_free(der, len);
	cr_assert_not_null(signer_find(&s, ida));
	cr_assert_eq(signer_find(&s, ida)->type, SIGN_KEY_P256);

	der = pkcs8(b, &len);
	cr_assert_eq(signer_install(&s, der, len, err, sizeof(err)), 0);
	OPENSSL_clear_free(der, len);
	cr_assert_not_null(signer_find(&s, ida), "previous key kept");
	cr_assert_eq(signer_find(&s, idb)->type, SIGN_KEY_ED25519);

	/* the same key again keeps the previous one */
	der = pkcs8(b, &len);
	cr_assert_eq(signer_install(&s, der, len, err, sizeof(err)), 0);
	OPENSSL_clear_free(der, len);
	cr_assert_not_null(signer_find(&s, ida));

	der = pkcs8(c, &len);
	cr_assert_eq(signer_install(&s, der, len, err, sizeof(err)), 0);
	OPENSSL_clear_free(der, len);
	cr_assert_null(signer_find(&s, ida), "two reloads ago: gone");
	cr_assert_not_null(signer_find(&s, idb));
	cr_assert_not_null(signer_find(&s, idc));

	/* a key of another type is refused and changes nothing */
	EVP_PKEY_free(a);
	a = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	der = pkcs8(a, &len);
	cr_assert_eq(signer_install(&s, der, len, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "ED448"), "%s", err);
	OPENSSL_clear_free(der, len);
	cr_assert_not_null(signer_find(&s, idb));
	cr_assert_not_null(signer_find(&s, idc));

	signer_clear(&s);
	cr_assert_null(signer_find(&s, idc));
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
}

/* The crypto slice carries the key, and forgets it. */
Test(signer, slice_round_trip)
{
	struct crypto_slice	in, out;
	struct buf		b;
	uint8_t			key[100];

	memset(&in, 0, sizeof(in));
	in.ncrypto = 1;
	memset(key, 0x42, sizeof(key));
	in.tls_key = key;
	in.tls_key_len = sizeof(key);
	buf_init(&b, 4096);
	cr_assert_eq(crypto_slice_put(&b, &in), 0);
	cr_assert_eq(crypto_slice_get(&b, &out), 0);
	cr_assert_eq(out.tls_key_len, sizeof(key));
	cr_assert_eq(memcmp(out.tls_key, key, sizeof(key)), 0);
	crypto_slice_forget_key(&out);
	cr_assert_null(out.tls_key);
	cr_assert_eq(out.tls_key_len, 0);
	crypto_slice_free(&out);
	buf_release(&b);
}

/* --- the parent's side: tls.key decrypted for the crypto process ------- */

/* k as PEM, encrypted with password unless it is NULL. */
static void
pem_of(EVP_PKEY *k, const char *password, struct tls_files *t)
{
	BIO	*bio = BIO_new(BIO_s_mem());
	char	*p;
	long	 n;

	cr_assert_eq(PEM_write_bio_PKCS8PrivateKey(bio, k, password ?
	    EVP_aes_256_cbc() : NULL, password, password ? strlen(password) :
	    0, NULL, NULL), 1);
	n = BIO_get_mem_data(bio, &p);
	memset(t, 0, sizeof(*t));
	t->key.data = malloc(n);
	memcpy(t->key.data, p, n);
	t->key.len = n;
	BIO_free(bio);
}

Test(tls_key_decrypt, decrypts_and_checks_the_type, .timeout = 60)
{
	struct tls_files	 t;
	struct signer		 s;
	enum sign_keytype	 type;
	EVP_PKEY		*k;
	uint8_t			 id[SIGN_KEYID_LEN];
	char			 err[256];

	memset(&s, 0, sizeof(s));
	k = keygen("P-384", &type);
	cr_assert_eq(tls_key_id(k, id), 0);
	pem_of(k, "secret", &t);
	cr_assert_eq(tls_key_decrypt(&t, "wrong", err, sizeof(err)), -1);
	cr_assert_eq(tls_key_decrypt(&t, NULL, err, sizeof(err)), -1);
	cr_assert_eq(tls_key_decrypt(&t, "secret", err, sizeof(err)), 0, "%s",
	    err);
	/* what the crypto process gets needs no password */
	cr_assert_eq(signer_install(&s, t.key_der.data, t.key_der.len, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_not_null(signer_find(&s, id));
	tls_files_free(&t);
	EVP_PKEY_free(k);

	k = keygen("ED25519", &type);
	pem_of(k, NULL, &t);
	cr_assert_eq(tls_key_decrypt(&t, NULL, err, sizeof(err)), 0, "%s",
	    err);
	tls_files_free(&t);
	EVP_PKEY_free(k);

	/* the types the signer does not take refuse the start, named */
	k = EVP_PKEY_Q_keygen(NULL, NULL, "ED448");
	pem_of(k, NULL, &t);
	cr_assert_eq(tls_key_decrypt(&t, NULL, err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "ED448"), "%s", err);
	cr_assert_null(t.key_der.data);
	tls_files_free(&t);
	EVP_PKEY_free(k);
	k = rsa_pss_keygen();
	pem_of(k, "pw", &t);
	cr_assert_eq(tls_key_decrypt(&t, "pw", err, sizeof(err)), -1);
	cr_assert_not_null(strstr(err, "RSA-PSS"), "%s", err);
	tls_files_free(&t);
	EVP_PKEY_free(k);
	signer_clear(&s);
}
