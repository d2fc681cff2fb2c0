/*
 * The crypto process signs TLS handshakes for the workers, which hold only
 * certificates: a key table (current and previous key, by key id), the
 * structure check of what a worker asks to sign, the signature, and the
 * MSG_TLS_SIGN handler (answer_tls_sign; the worker's stub asks).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/proc.h"
#include "common/tls.h"
#include "privsep/crypto_int.h"
#include "privsep/sign.h"

#define TLS13_PAD	64
#define TLS13_CTX	"TLS 1.3, server CertificateVerify"
#define TLS13_HEAD	(TLS13_PAD + sizeof(TLS13_CTX))	/* with its 0x00 */
#define TLS12_RANDOMS	64
#define NAMED_CURVE	3

/* --- key types ------------------------------------------------------- */

int
sign_key_type(EVP_PKEY *pk, enum sign_keytype *t, char *why, size_t whylen)
{
	char		 group[64];
	const char	*name;
	int		 bits;

	if (EVP_PKEY_is_a(pk, "RSA")) {
		/* The signature must fit SIGN_SIG_MAX. */
		if ((bits = EVP_PKEY_get_bits(pk)) < 2048 ||
		    bits > SIGN_SIG_MAX * 8) {
			snprintf(why, whylen, "an RSA key of %d bits (2048 "
			    "to %d are supported)", bits, SIGN_SIG_MAX * 8);
			return -1;
		}
		*t = SIGN_KEY_RSA;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "ED25519")) {
		*t = SIGN_KEY_ED25519;
		return 0;
	}
	if (EVP_PKEY_is_a(pk, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(pk,
		    OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
		    NULL) != 1)
			snprintf(group, sizeof(group), "unnamed");
		if (strcmp(group, "prime256v1") == 0)
			*t = SIGN_KEY_P256;
		else if (strcmp(group, "secp384r1") == 0)
			*t = SIGN_KEY_P384;
		else if (strcmp(group, "secp521r1") == 0)
			*t = SIGN_KEY_P521;
		else {
			snprintf(why, whylen, "an EC key on curve %s (P-256, "
			    "P-384 or P-521 are supported)", group);
			return -1;
		}
		return 0;
	}
	name = EVP_PKEY_get0_type_name(pk);
	snprintf(why, whylen, "a key of type %s (RSA, EC P-256, P-384, "
	    "P-521 or Ed25519 are supported)", name != NULL ? name : "unknown");
	return -1;
}

/* --- the request and its structure ----------------------------------- */

/*
 * MSG_TLS_SIGN: u8 purpose, bytes key id (32), str digest, u8 pad,
 * bytes tbs.
 */
int
sign_req_get(struct buf *b, struct sign_req *r, const char **why)
{
	size_t idlen;

	memset(r, 0, sizeof(*r));
	if (buf_get_u8(b, &r->purpose) == -1 ||
	    buf_get_bytes(b, &r->keyid, &idlen) == -1 ||
	    buf_get_str(b, &r->digest, NULL) == -1 ||
	    buf_get_u8(b, &r->pad) == -1 ||
	    buf_get_bytes(b, &r->tbs, &r->tbslen) == -1 ||
	    buf_end(b) == -1) {
		*why = "malformed request";
		return -1;
	}
	if (idlen != SIGN_KEYID_LEN) {
		*why = "key id not 32 bytes";
		return -1;
	}
	return 0;
}

/* 64 spaces, the server's context string with its NUL, the transcript
 * hash of a SHA-256 or SHA-384 suite. */
static int
check_tls13(const uint8_t *tbs, size_t len, const char **why)
{
	size_t i;

	if (len != TLS13_HEAD + 32 && len != TLS13_HEAD + 48) {
		*why = "TLS 1.3 input of a wrong length";
		return -1;
	}
	for (i = 0; i < TLS13_PAD; i++)
		if (tbs[i] != 0x20) {
			*why = "TLS 1.3 input without the 64 spaces";
			return -1;
		}
	if (memcmp(tbs + TLS13_PAD, TLS13_CTX, sizeof(TLS13_CTX)) != 0) {
		*why = "TLS 1.3 input without the server context string";
		return -1;
	}
	return 0;
}

/* The ECDHE groups TLS 1.2 may use and their public point's length. */
static const struct {
	uint16_t	group;
	uint8_t		len;
	bool		nist;	/* uncompressed point: 0x04 first */
} ske_groups[] = {
	{ 23, 65, true },	/* secp256r1 */
	{ 24, 97, true },	/* secp384r1 */
	{ 25, 133, true },	/* secp521r1 */
	{ 29, 32, false },	/* x25519 */
	{ 30, 56, false },	/* x448 */
};

/* Client and server random, then ServerECDHParams: named_curve, u16
 * group, u8 length, the point, nothing after. */
static int
check_tls12(const uint8_t *tbs, size_t len, const char **why)
{
	const uint8_t	*p = tbs + TLS12_RANDOMS;
	uint16_t	 group;
	size_t		 i;

	if (len < TLS12_RANDOMS + 4) {
		*why = "TLS 1.2 input too short";
		return -1;
	}
	if (p[0] != NAMED_CURVE) {
		*why = "TLS 1.2 parameters not of a named curve";
		return -1;
	}
	group = (uint16_t)(p[1] << 8 | p[2]);
	for (i = 0; i < sizeof(ske_groups) / sizeof(ske_groups[0]); i++)
		if (ske_groups[i].group == group)
			break;
	if (i == sizeof(ske_groups) / sizeof(ske_groups[0])) {
		*why = "TLS 1.2 parameters of a group not allowed";
		return -1;
	}
	if (p[3] != ske_groups[i].len ||
	    len != TLS12_RANDOMS + 4 + (size_t)ske_groups[i].len) {
		*why = "TLS 1.2 point of a wrong length";
		return -1;
	}
	if (ske_groups[i].nist && p[4] != 0x04) {
		*why = "TLS 1.2 point not uncompressed";
		return -1;
	}
	return 0;
}

/* The digest and padding TLS uses with this key type for this purpose. */
static int
check_scheme(uint8_t purpose, const char *digest, uint8_t pad,
    enum sign_keytype t, const char **why)
{
	bool	tls13 = purpose == TLS_SIGN_TLS13_CV;
	bool	sha2 = strcmp(digest, "SHA256") == 0 ||
		    strcmp(digest, "SHA384") == 0 ||
		    strcmp(digest, "SHA512") == 0;

	*why = "digest or padding not allowed for this key";
	if (pad > TLS_SIGN_PAD_PSS || (!sha2 && *digest != '\0'))
		return -1;
	switch (t) {
	case SIGN_KEY_ANY:
		return 0;
	case SIGN_KEY_RSA:
		if (!sha2 || pad == TLS_SIGN_PAD_NONE)
			return -1;
		if (tls13 && pad != TLS_SIGN_PAD_PSS) {
			*why = "PKCS#1 padding in TLS 1.3";
			return -1;
		}
		return 0;
	case SIGN_KEY_P256:
	case SIGN_KEY_P384:
	case SIGN_KEY_P521:
		if (!sha2 || pad != TLS_SIGN_PAD_NONE)
			return -1;
		/* TLS 1.3 binds the curve to its hash (RFC 8446 4.2.3). */
		if (tls13 && strcmp(digest, t == SIGN_KEY_P256 ? "SHA256" :
		    t == SIGN_KEY_P384 ? "SHA384" : "SHA512") != 0) {
			*why = "digest not the curve's in TLS 1.3";
			return -1;
		}
		return 0;
	case SIGN_KEY_ED25519:
		return *digest == '\0' && pad == TLS_SIGN_PAD_NONE ? 0 : -1;
	}
	return -1;
}

int
sign_check(uint8_t purpose, const char *digest, uint8_t pad,
    enum sign_keytype t, const uint8_t *tbs, size_t len, const char **why)
{
	int r;

	if (purpose == TLS_SIGN_TLS13_CV)
		r = check_tls13(tbs, len, why);
	else if (purpose == TLS_SIGN_TLS12_SKE)
		r = check_tls12(tbs, len, why);
	else {
		*why = "unknown purpose";
		return -1;
	}
	if (r == -1)
		return -1;
	return check_scheme(purpose, digest, pad, t, why);
}

/* --- signing --------------------------------------------------------- */

int
sign_tbs(const struct sign_key *k, const char *digest, uint8_t pad,
    const uint8_t *tbs, size_t len, uint8_t *sig, size_t *siglen)
{
	EVP_MD_CTX	*ctx;
	EVP_PKEY_CTX	*pctx = NULL;
	const char	*md = *digest != '\0' ? digest : NULL;
	size_t		 n;
	int		 r = -1;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		return -1;
	if (EVP_DigestSignInit_ex(ctx, &pctx, md, NULL, NULL, k->pk,
	    NULL) != 1)
		goto out;
	if (pad == TLS_SIGN_PAD_PKCS1 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	if (pad == TLS_SIGN_PAD_PSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
	    RSA_PSS_SALTLEN_DIGEST) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(pctx, md, NULL) != 1))
		goto out;
	if (EVP_DigestSign(ctx, NULL, &n, tbs, len) != 1 ||
	    n > SIGN_SIG_MAX ||
	    EVP_DigestSign(ctx, sig, &n, tbs, len) != 1)
		goto out;
	*siglen = n;
	r = 0;
out:
	EVP_MD_CTX_free(ctx);
	return r;
}

/* --- the key table --------------------------------------------------- */

static void
key_clear(struct sign_key *k)
{
	EVP_PKEY_free(k->pk);	/* OpenSSL clears the private parts */
	memset(k, 0, sizeof(*k));
}

int
signer_install(struct signer *s, const uint8_t *der, size_t len, char *err,
    size_t errlen)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	const unsigned char	*p = der;
	struct sign_key		 k;
	char			 why[160];

	if (len == 0)
		return 0;
	memset(&k, 0, sizeof(k));
	p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
	if (p8 == NULL || p != der + len ||
	    (k.pk = EVP_PKCS82PKEY(p8)) == NULL) {
		PKCS8_PRIV_KEY_INFO_free(p8);
		snprintf(err, errlen, "the TLS key is not DER PKCS#8");
		return -1;
	}
	PKCS8_PRIV_KEY_INFO_free(p8);	/* clears the key's copy */
	if (sign_key_type(k.pk, &k.type, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "the TLS key is %s", why);
		key_clear(&k);
		return -1;
	}
	if (tls_key_id(k.pk, k.id) == -1) {
		snprintf(err, errlen, "cannot compute the TLS key's id");
		key_clear(&k);
		return -1;
	}
	/* A reload with the same key keeps the older one as previous. */
	if (s->cur.pk != NULL && memcmp(s->cur.id, k.id, sizeof(k.id)) == 0) {
		key_clear(&s->cur);
		s->cur = k;
		return 0;
	}
	key_clear(&s->prev);
	s->prev = s->cur;
	s->cur = k;
	return 0;
}

const struct sign_key *
signer_find(const struct signer *s, const uint8_t id[SIGN_KEYID_LEN])
{
	if (s->cur.pk != NULL && CRYPTO_memcmp(s->cur.id, id,
	    SIGN_KEYID_LEN) == 0)
		return &s->cur;
	if (s->prev.pk != NULL && CRYPTO_memcmp(s->prev.id, id,
	    SIGN_KEYID_LEN) == 0)
		return &s->prev;
	return NULL;
}

void
signer_clear(struct signer *s)
{
	key_clear(&s->cur);
	key_clear(&s->prev);
}

/* --- the handler ----------------------------------------------------- */

/*
 * MSG_TLS_SIGN from a worker: reply MSG_TLS_SIGNATURE {bytes sig}. A frame
 * that does not parse or a tbs that is not a handshake input is a
 * protocol error (-1: the channel is dropped); a key id not held is a
 * plain error, the key may just have been replaced twice.
 */
int
answer_tls_sign(struct peer *p, struct ipc_msg *m)
{
	const struct sign_key	*k;
	struct sign_req		 r;
	struct buf		 b;
	uint8_t			 sig[SIGN_SIG_MAX];
	size_t			 siglen;
	const char		*why;

	if (sign_req_get(&m->payload, &r, &why) == -1)
		goto refuse;
	k = signer_find(&cs.signer, r.keyid);
	if (sign_check(r.purpose, r.digest, r.pad, k != NULL ? k->type :
	    SIGN_KEY_ANY, r.tbs, r.tbslen, &why) == -1)
		goto refuse;
	if (k == NULL) {
		log_warnx("worker %u asked for a signature with a TLS key "
		    "not held", p->index);
		peer_send_error(p, m->hdr.id, 500, "unknown TLS key");
		return 0;
	}
	if (sign_tbs(k, r.digest, r.pad, r.tbs, r.tbslen, sig,
	    &siglen) == -1) {
		log_warnx("worker %u: TLS signature failed", p->index);
		peer_send_error(p, m->hdr.id, 500, "TLS signature failed");
		return 0;
	}
	cs.signer.signed_n++;
	buf_init(&b, siglen + 16);
	buf_put_bytes(&b, sig, siglen);
	(void)peer_reply(p, MSG_TLS_SIGNATURE, m->hdr.id, &b);
	buf_release(&b);
	return 0;
refuse:
	cs.signer.refused_n++;
	/* The reason and the length only: never the bytes. */
	log_warnx("worker %u asked to sign what is not a TLS handshake "
	    "(%s; a request of %zu bytes): dropping its channel", p->index,
	    why, m->payload.len);
	return -1;
}
