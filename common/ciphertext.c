/* KES ciphertexts: seal (raw form) and open (raw, msgpack, JSON); HMAC. */
#include <limits.h>
#include <stdbool.h>
#include <string.h>

#if defined(__aarch64__)
#include <sys/auxv.h>
#include <asm/hwcap.h>
#endif

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/ciphertext.h"
#include "common/gojson.h"
#include "common/xmalloc.h"

#define KES_DERIVED_LEN		32
#define ALG_NAME_MAX		32	/* longer than any algorithm name */

/* The JSON format's "aead" names (KES v0.5.0 - v0.19.1). */
#define JSON_AEAD_AES		"AES-256-GCM-HMAC-SHA-256"
#define JSON_AEAD_CHACHA	"ChaCha20Poly1305"

/* msgpack lead bytes. */
#define MP_FIXARRAY5	0x95
#define MP_FIXSTR	0xa0	/* 0xa0 | len, len < 32 */
#define MP_STR8		0xd9
#define MP_STR16	0xda
#define MP_STR32	0xdb
#define MP_BIN8		0xc4
#define MP_BIN16	0xc5
#define MP_BIN32	0xc6

/*
 * Fetched once, before the sandbox; the crypto process is single-threaded,
 * so one cipher and one MAC context serve every call. The cipher context
 * is reset after each use, which wipes the derived key's schedule; the MAC
 * context keeps the pads of the last key it was given (a master or HMAC
 * key the key cache holds anyway) until the next call rekeys it.
 */
static struct {
	bool		 ready;
	EVP_CIPHER	*gcm;
	EVP_CIPHER	*chacha;
	EVP_MAC		*hmac;
	EVP_CIPHER_CTX	*cctx;
	EVP_MAC_CTX	*mctx;
} cx;

int
kes_crypto_init(void)
{
	OSSL_PARAM	params[2];
	char		digest[] = "SHA256";

	if (cx.ready)
		return 0;
	if ((cx.gcm = EVP_CIPHER_fetch(NULL, "AES-256-GCM", NULL)) == NULL ||
	    (cx.chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305",
	    NULL)) == NULL ||
	    (cx.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL ||
	    (cx.cctx = EVP_CIPHER_CTX_new()) == NULL ||
	    (cx.mctx = EVP_MAC_CTX_new(cx.hmac)) == NULL)
		goto fail;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_CTX_set_params(cx.mctx, params) != 1)
		goto fail;
	cx.ready = true;
	return 0;
 fail:
	EVP_MAC_CTX_free(cx.mctx);
	EVP_CIPHER_CTX_free(cx.cctx);
	EVP_MAC_free(cx.hmac);
	EVP_CIPHER_free(cx.chacha);
	EVP_CIPHER_free(cx.gcm);
	memset(&cx, 0, sizeof(cx));
	return -1;
}

/* KES-HEAD picks AES when Go's AES-GCM is hardware-accelerated. */
uint8_t
kes_default_key_type(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("aes") && __builtin_cpu_supports("pclmul"))
		return KES_KEY_AES256;
#elif defined(__aarch64__)
	unsigned long hw = getauxval(AT_HWCAP);

	if ((hw & HWCAP_AES) && (hw & HWCAP_PMULL))
		return KES_KEY_AES256;
#endif
	return KES_KEY_CHACHA20;
}

/* --- key derivation (spec 5.2) --- */

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

static void
put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

#define ROTL(v, n)	((v) << (n) | (v) >> (32 - (n)))
#define QR(a, b, c, d) do {						\
	a += b; d ^= a; d = ROTL(d, 16);				\
	c += d; b ^= c; b = ROTL(b, 12);				\
	a += b; d ^= a; d = ROTL(d, 8);					\
	c += d; b ^= c; b = ROTL(b, 7);					\
} while (0)

void
kes_hchacha20(const uint8_t key[32], const uint8_t in[16], uint8_t out[32])
{
	uint32_t	x[16];
	int		i;

	/* "expand 32-byte k" */
	x[0] = 0x61707865;
	x[1] = 0x3320646e;
	x[2] = 0x79622d32;
	x[3] = 0x6b206574;
	for (i = 0; i < 8; i++)
		x[4 + i] = le32(key + 4 * i);
	for (i = 0; i < 4; i++)
		x[12 + i] = le32(in + 4 * i);
	for (i = 0; i < 10; i++) {
		QR(x[0], x[4], x[8], x[12]);
		QR(x[1], x[5], x[9], x[13]);
		QR(x[2], x[6], x[10], x[14]);
		QR(x[3], x[7], x[11], x[15]);
		QR(x[0], x[5], x[10], x[15]);
		QR(x[1], x[6], x[11], x[12]);
		QR(x[2], x[7], x[8], x[13]);
		QR(x[3], x[4], x[9], x[14]);
	}
	for (i = 0; i < 4; i++) {
		put_le32(out + 4 * i, x[i]);
		put_le32(out + 16 + 4 * i, x[12 + i]);
	}
	explicit_bzero(x, sizeof(x));
}

/* k' from the master key and the iv: HMAC-SHA256(K, iv) for AES256,
 * HChaCha20(K, iv) for ChaCha20. Returns the AEAD to use, or NULL. */
static EVP_CIPHER *
derive(uint8_t type, const uint8_t key[KES_KEY_LEN],
    const uint8_t iv[KES_IV_LEN], uint8_t kd[KES_DERIVED_LEN])
{
	size_t n = 0;

	switch (type) {
	case KES_KEY_AES256:
		if (EVP_MAC_init(cx.mctx, key, KES_KEY_LEN, NULL) != 1 ||
		    EVP_MAC_update(cx.mctx, iv, KES_IV_LEN) != 1 ||
		    EVP_MAC_final(cx.mctx, kd, &n, KES_DERIVED_LEN) != 1 ||
		    n != KES_DERIVED_LEN)
			return NULL;
		return cx.gcm;
	case KES_KEY_CHACHA20:
		kes_hchacha20(key, iv, kd);
		return cx.chacha;
	default:
		return NULL;
	}
}

int
kes_seal(const struct kes_secret *k, const uint8_t iv[KES_IV_LEN],
    const uint8_t nonce[KES_NONCE_LEN], const uint8_t *pt, size_t ptlen,
    const uint8_t *aad, size_t aadlen, uint8_t *out)
{
	EVP_CIPHER	*c;
	uint8_t		 kd[KES_DERIVED_LEN];
	int		 l, fl = 0, r = -1;

	if (ptlen > INT_MAX - KES_CT_OVERHEAD || aadlen > INT_MAX ||
	    (!cx.ready && kes_crypto_init() == -1))
		return -1;
	if ((c = derive(k->type, k->key, iv, kd)) == NULL)
		goto out;
	l = 0;
	if (EVP_EncryptInit_ex2(cx.cctx, c, kd, nonce, NULL) != 1 ||
	    (aadlen > 0 && EVP_EncryptUpdate(cx.cctx, NULL, &l, aad,
	    (int)aadlen) != 1))
		goto out;
	l = 0;
	if ((ptlen > 0 && EVP_EncryptUpdate(cx.cctx, out, &l, pt,
	    (int)ptlen) != 1) ||
	    EVP_EncryptFinal_ex(cx.cctx, out + l, &fl) != 1 ||
	    (size_t)l + (size_t)fl != ptlen ||
	    EVP_CIPHER_CTX_ctrl(cx.cctx, EVP_CTRL_AEAD_GET_TAG, KES_TAG_LEN,
	    out + ptlen) != 1)
		goto out;
	memcpy(out + ptlen + KES_TAG_LEN, iv, KES_IV_LEN);
	memcpy(out + ptlen + KES_TAG_LEN + KES_IV_LEN, nonce, KES_NONCE_LEN);
	r = 0;
 out:
	(void)EVP_CIPHER_CTX_reset(cx.cctx);
	explicit_bzero(kd, sizeof(kd));
	if (r == -1)
		explicit_bzero(out, ptlen + KES_CT_OVERHEAD);
	return r;
}

/* Open sealed (ciphertext || tag) with the given algorithm. */
static int
open_sealed(uint8_t type, const uint8_t key[KES_KEY_LEN],
    const uint8_t *sealed, size_t slen, const uint8_t iv[KES_IV_LEN],
    const uint8_t nonce[KES_NONCE_LEN], const uint8_t *aad, size_t aadlen,
    uint8_t *out, size_t *outlen)
{
	EVP_CIPHER	*c;
	uint8_t		 kd[KES_DERIVED_LEN], tag[KES_TAG_LEN];
	size_t		 n;
	int		 l, fl = 0, r = -1;

	if (slen < KES_TAG_LEN || slen - KES_TAG_LEN > INT_MAX ||
	    aadlen > INT_MAX)
		return -1;
	n = slen - KES_TAG_LEN;
	memcpy(tag, sealed + n, KES_TAG_LEN);
	if ((c = derive(type, key, iv, kd)) == NULL)
		goto out;
	l = 0;
	if (EVP_DecryptInit_ex2(cx.cctx, c, kd, nonce, NULL) != 1 ||
	    (aadlen > 0 && EVP_DecryptUpdate(cx.cctx, NULL, &l, aad,
	    (int)aadlen) != 1))
		goto out;
	l = 0;
	if ((n > 0 && EVP_DecryptUpdate(cx.cctx, out, &l, sealed,
	    (int)n) != 1) ||
	    EVP_CIPHER_CTX_ctrl(cx.cctx, EVP_CTRL_AEAD_SET_TAG, KES_TAG_LEN,
	    tag) != 1 ||
	    EVP_DecryptFinal_ex(cx.cctx, out + l, &fl) != 1 ||
	    (size_t)l + (size_t)fl != n)
		goto out;
	*outlen = n;
	r = 0;
 out:
	(void)EVP_CIPHER_CTX_reset(cx.cctx);
	explicit_bzero(kd, sizeof(kd));
	return r;
}

/* --- legacy formats (spec 5.4) --- */

struct legacy {
	uint8_t		 type;
	uint8_t		 iv[KES_IV_LEN];
	uint8_t		 nonce[KES_NONCE_LEN];
	const uint8_t	*sealed;
	size_t		 slen;
	uint8_t		*owned;		/* sealed, when decoded from JSON */
};

struct rd {
	const uint8_t	*p;
	size_t		 n;
	size_t		 off;
};

static int
rd_be(struct rd *r, size_t width, size_t *v)
{
	size_t i;

	if (r->n - r->off < width)
		return -1;
	for (*v = 0, i = 0; i < width; i++)
		*v = *v << 8 | r->p[r->off++];
	return 0;
}

/* A msgpack str or bin of any width (msgp ReadStringBytes/ReadBytesZC:
 * a str is never taken for a bin, nor a bin for a str). */
static int
mp_read(struct rd *r, bool str, const uint8_t **p, size_t *len)
{
	uint8_t	lead;
	size_t	width;

	if (r->off == r->n)
		return -1;
	lead = r->p[r->off++];
	if (str && (lead & 0xe0) == MP_FIXSTR) {
		*len = lead & 0x1f;
		width = 0;
	} else if (lead == (str ? MP_STR8 : MP_BIN8))
		width = 1;
	else if (lead == (str ? MP_STR16 : MP_BIN16))
		width = 2;
	else if (lead == (str ? MP_STR32 : MP_BIN32))
		width = 4;
	else
		return -1;
	if (width > 0 && rd_be(r, width, len) == -1)
		return -1;
	if (r->n - r->off < *len)
		return -1;
	*p = r->p + r->off;
	r->off += *len;
	return 0;
}

/* An algorithm name of the msgpack format: the four key-type names. */
static uint8_t
alg_parse(const uint8_t *s, size_t len)
{
	char name[ALG_NAME_MAX];

	if (len >= sizeof(name) || memchr(s, '\0', len) != NULL)
		return 0;
	memcpy(name, s, len);
	name[len] = '\0';
	return kes_key_type_parse(name);
}

/*
 * [ str algorithm, str key id, bin iv(16), bin nonce(12), bin sealed ]
 * with nothing after it (KES v0.19.2 - 2024-01-11). The key id is not
 * checked: the AEAD tag decides.
 */
static int
parse_msgpack(const uint8_t *ct, size_t len, struct legacy *lg)
{
	struct rd	 r = { ct, len, 1 };
	const uint8_t	*alg, *id, *iv, *nonce;
	size_t		 alen, idlen, ivlen, nlen;

	if (len == 0 || ct[0] != MP_FIXARRAY5 ||
	    mp_read(&r, true, &alg, &alen) == -1 ||
	    mp_read(&r, true, &id, &idlen) == -1 ||
	    mp_read(&r, false, &iv, &ivlen) == -1 || ivlen != KES_IV_LEN ||
	    mp_read(&r, false, &nonce, &nlen) == -1 ||
	    nlen != KES_NONCE_LEN ||
	    mp_read(&r, false, &lg->sealed, &lg->slen) == -1 ||
	    r.off != r.n || (lg->type = alg_parse(alg, alen)) == 0)
		return -1;
	memcpy(lg->iv, iv, KES_IV_LEN);
	memcpy(lg->nonce, nonce, KES_NONCE_LEN);
	return 0;
}

static bool
str_is(const char *s, size_t len, const char *want)
{
	return s != NULL && len == strlen(want) && memcmp(s, want, len) == 0;
}

/*
 * {"aead":"AES-256-GCM-HMAC-SHA-256"|"ChaCha20Poly1305","id":"…",
 *  "iv":"<b64 16>","nonce":"<b64 12>","bytes":"<b64 sealed>"}
 * decoded as KES-HEAD's UnmarshalJSON does with encoding/json: every known
 * field must have its type even when unused (id), the rest is ignored.
 */
static int
parse_json(const uint8_t *ct, size_t len, struct legacy *lg)
{
	json_t		*j;
	const char	*aead, *id;
	uint8_t		*iv = NULL, *nonce = NULL;
	size_t		 alen, idlen, ivlen = 0, nlen = 0;
	int		 r = -1;

	if (len == 0 || ct[0] != '{' || (j = gojson_load(ct, len)) == NULL)
		return -1;
	if (gojson_string(j, "aead", &aead, &alen) == -1 ||
	    gojson_string(j, "id", &id, &idlen) == -1 ||
	    gojson_bytes(j, "iv", &iv, &ivlen) == -1 ||
	    gojson_bytes(j, "nonce", &nonce, &nlen) == -1 ||
	    gojson_bytes(j, "bytes", &lg->owned, &lg->slen) == -1)
		goto out;
	if (str_is(aead, alen, JSON_AEAD_AES))
		lg->type = KES_KEY_AES256;
	else if (str_is(aead, alen, JSON_AEAD_CHACHA))
		lg->type = KES_KEY_CHACHA20;
	else
		goto out;
	if (ivlen != KES_IV_LEN || nlen != KES_NONCE_LEN)
		goto out;
	memcpy(lg->iv, iv, KES_IV_LEN);
	memcpy(lg->nonce, nonce, KES_NONCE_LEN);
	lg->sealed = lg->owned;
	r = 0;
 out:
	if (r == -1) {
		freezero(lg->owned, lg->slen);
		lg->owned = NULL;
	}
	freezero(iv, ivlen);
	freezero(nonce, nlen);
	json_decref(j);
	return r;
}

/*
 * KES-HEAD parseCiphertext: a leading 0x95 or '{' is tried as msgpack or
 * JSON, and input that does not parse as that format is opened as raw.
 * A legacy ciphertext that parses is opened with the algorithm it names
 * (spec 5.4's recommendation; KES-HEAD would use the key's type), and
 * never retried as raw.
 */
int
kes_open(const struct kes_secret *k, const uint8_t *ct, size_t ctlen,
    const uint8_t *aad, size_t aadlen, uint8_t *out, size_t *outlen)
{
	struct legacy	lg;
	int		r = -1;

	memset(&lg, 0, sizeof(lg));
	if (!cx.ready && kes_crypto_init() == -1)
		goto out;
	if (parse_msgpack(ct, ctlen, &lg) == -1 &&
	    parse_json(ct, ctlen, &lg) == -1) {
		if (ctlen <= KES_IV_LEN + KES_NONCE_LEN)
			goto out;
		lg.type = k->type;
		lg.slen = ctlen - KES_IV_LEN - KES_NONCE_LEN;
		lg.sealed = ct;
		memcpy(lg.iv, ct + lg.slen, KES_IV_LEN);
		memcpy(lg.nonce, ct + lg.slen + KES_IV_LEN, KES_NONCE_LEN);
	}
	r = open_sealed(lg.type, k->key, lg.sealed, lg.slen, lg.iv, lg.nonce,
	    aad, aadlen, out, outlen);
 out:
	freezero(lg.owned, lg.slen);
	explicit_bzero(&lg, sizeof(lg));
	if (r == -1 && ctlen > 0)
		explicit_bzero(out, ctlen);
	return r;
}

int
kes_hmac(const struct kes_secret *k, const uint8_t *msg, size_t len,
    uint8_t out[32])
{
	size_t n = 0;

	if (!k->has_hmac || (!cx.ready && kes_crypto_init() == -1))
		return -1;
	if (EVP_MAC_init(cx.mctx, k->hmac, KES_KEY_LEN, NULL) != 1 ||
	    (len > 0 && EVP_MAC_update(cx.mctx, msg, len) != 1) ||
	    EVP_MAC_final(cx.mctx, out, &n, 32) != 1 || n != 32) {
		explicit_bzero(out, 32);
		return -1;
	}
	return 0;
}
