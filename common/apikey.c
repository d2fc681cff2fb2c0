/* KES API keys: text form, Ed25519 key pair, identity, client certificate. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/apikey.h"
#include "common/identity.h"
#include "common/x509.h"
#include "common/xmalloc.h"

#define APIKEY_TYPE_ED25519	0x00
#define APIKEY_RAW_LEN		(1 + APIKEY_SEED_LEN)	/* type || seed */
#define APIKEY_B64_LEN		44			/* 33 bytes, no '=' */
#define APIKEY_CERT_DAYS	90

/*
 * Base64 in both directions without branches or table lookups on the
 * value, so the time taken does not depend on the secret seed. The shifts
 * rely on the arithmetic right shift of negative ints, which every
 * compiler we build with does.
 */
static int
b64_val(unsigned char ch)
{
	int c = ch, v = -1;

	v += (((0x40 - c) & (c - 0x5b)) >> 8) & (c - 64);	/* A-Z */
	v += (((0x60 - c) & (c - 0x7b)) >> 8) & (c - 70);	/* a-z */
	v += (((0x2f - c) & (c - 0x3a)) >> 8) & (c + 5);	/* 0-9 */
	v += (((0x2a - c) & (c - 0x2c)) >> 8) & 63;		/* + */
	v += (((0x2e - c) & (c - 0x30)) >> 8) & 64;		/* / */
	return v;
}

static char
b64_chr(unsigned int u)
{
	int v = (int)u, d = 'A';

	d += ((25 - v) >> 8) & 6;	/* 26..: 'a' */
	d -= ((51 - v) >> 8) & 75;	/* 52..: '0' */
	d -= ((61 - v) >> 8) & 15;	/* 62: '+' */
	d += ((62 - v) >> 8) & 3;	/* 63: '/' */
	return (char)(v + d);
}

/*
 * Go's base64.StdEncoding, which KES uses, skips CR and LF anywhere in the
 * input, so a key read from a file with its newline still parses. 33 bytes
 * encode to 44 characters without padding; any '=' would make the decoded
 * length other than 33, so padding is rejected outright.
 */
int
apikey_parse(const char *text, struct apikey *out)
{
	uint8_t		 raw[APIKEY_RAW_LEN];
	unsigned int	 acc = 0;
	size_t		 n = 0, i;
	int		 v, bad = 0, r = -1;

	if (text == NULL)
		return -1;
	if (strncmp(text, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1) == 0)
		text += sizeof(APIKEY_PREFIX) - 1;
	for (i = 0; text[i] != '\0'; i++) {
		if (text[i] == '\r' || text[i] == '\n')
			continue;
		if (n == APIKEY_B64_LEN)
			goto out;
		v = b64_val((unsigned char)text[i]);
		bad |= v;	/* negative once any character was invalid */
		acc = (acc << 6) | ((unsigned int)v & 0x3f);
		if (n % 4 == 3) {
			raw[n / 4 * 3] = (uint8_t)(acc >> 16);
			raw[n / 4 * 3 + 1] = (uint8_t)(acc >> 8);
			raw[n / 4 * 3 + 2] = (uint8_t)acc;
			acc = 0;
		}
		n++;
	}
	if (n != APIKEY_B64_LEN || bad < 0 || raw[0] != APIKEY_TYPE_ED25519)
		goto out;
	memcpy(out->seed, raw + 1, APIKEY_SEED_LEN);
	r = 0;
 out:
	explicit_bzero(raw, sizeof(raw));
	explicit_bzero(&acc, sizeof(acc));
	return r;
}

int
apikey_generate(struct apikey *out)
{
	if (RAND_priv_bytes(out->seed, sizeof(out->seed)) != 1) {
		explicit_bzero(out->seed, sizeof(out->seed));
		return -1;
	}
	return 0;
}

char *
apikey_format(const struct apikey *k)
{
	uint8_t	 raw[APIKEY_RAW_LEN];
	char	*s, *p;
	size_t	 i;

	raw[0] = APIKEY_TYPE_ED25519;
	memcpy(raw + 1, k->seed, APIKEY_SEED_LEN);
	s = xmalloc(APIKEY_TEXT_LEN + 1);
	memcpy(s, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1);
	p = s + sizeof(APIKEY_PREFIX) - 1;
	for (i = 0; i < sizeof(raw); i += 3) {
		*p++ = b64_chr(raw[i] >> 2);
		*p++ = b64_chr(((raw[i] & 0x03) << 4) | (raw[i + 1] >> 4));
		*p++ = b64_chr(((raw[i + 1] & 0x0f) << 2) | (raw[i + 2] >> 6));
		*p++ = b64_chr(raw[i + 2] & 0x3f);
	}
	*p = '\0';
	explicit_bzero(raw, sizeof(raw));
	return s;
}

EVP_PKEY *
apikey_pkey(const struct apikey *k)
{
	/* OpenSSL copies the seed into its own (cleansed on free) storage. */
	return EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed,
	    sizeof(k->seed));
}

int
apikey_identity(const struct apikey *k, char out[IDENTITY_LEN + 1])
{
	EVP_PKEY	*pk;
	int		 r;

	if ((pk = apikey_pkey(k)) == NULL)
		return -1;
	r = identity_of_pubkey(pk, out);
	EVP_PKEY_free(pk);
	return r;
}

/*
 * The certificate kms-go's GenerateCertificate makes (spec §4.4). Go's
 * x509.CreateCertificate marks KeyUsage and BasicConstraints critical and
 * adds no key identifiers to a self-signed leaf; we do the same so the
 * bytes a KES server sees from us and from Go clients look alike.
 */
X509 *
apikey_certificate(const struct apikey *k, EVP_PKEY *pk)
{
	EVP_PKEY	*own;
	X509		*x = NULL;
	char		 id[IDENTITY_LEN + 1];

	if ((own = apikey_pkey(k)) == NULL)
		return NULL;
	/* A key that is not this API key's would get someone else's CN. */
	if (pk == NULL)
		pk = own;
	else if (EVP_PKEY_eq(pk, own) != 1)
		goto fail;
	if (identity_of_pubkey(pk, id) != 0 ||
	    (x = x509_new_cert(pk, id, APIKEY_CERT_DAYS)) == NULL)
		goto fail;
	if (x509_add_ext(x, NULL, NID_key_usage,
	    "critical,digitalSignature") != 0 ||
	    x509_add_ext(x, NULL, NID_ext_key_usage, "clientAuth") != 0 ||
	    x509_add_ext(x, NULL, NID_basic_constraints,
	    "critical,CA:FALSE") != 0)
		goto fail;
	/* Ed25519 signs the message itself: no digest. Returns a length. */
	if (X509_sign(x, pk, NULL) <= 0)
		goto fail;
	EVP_PKEY_free(own);
	return x;
 fail:
	X509_free(x);
	EVP_PKEY_free(own);
	return NULL;
}
