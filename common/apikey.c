/* KES API keys: text form, Ed25519 key pair, identity, client certificate. */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/apikey.h"
#include "common/b64.h"
#include "common/identity.h"
#include "common/x509.h"
#include "common/xmalloc.h"

#define APIKEY_TYPE_ED25519	0x00
#define APIKEY_RAW_LEN		(1 + APIKEY_SEED_LEN)	/* type || seed */
#define APIKEY_CERT_DAYS	90

/*
 * Go's base64.StdEncoding (common/b64.c, constant time over the data)
 * skips CR and LF anywhere in the input, so a key read from a file with
 * its newline still parses. 33 bytes encode to 44 characters without
 * padding; anything that decodes to another length is refused.
 */
int
apikey_parse(const char *text, struct apikey *out)
{
	uint8_t	*raw;
	size_t	 len, n = 0, max;
	int	 r = -1;

	if (text == NULL)
		return -1;
	if (strncmp(text, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1) == 0)
		text += sizeof(APIKEY_PREFIX) - 1;
	len = strlen(text);
	max = b64_decoded_max(len);
	raw = xmalloc(max + 1);
	if (b64_decode(text, len, raw, &n) == 0 && n == APIKEY_RAW_LEN &&
	    raw[0] == APIKEY_TYPE_ED25519) {
		memcpy(out->seed, raw + 1, APIKEY_SEED_LEN);
		r = 0;
	}
	freezero(raw, max + 1);
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
	char	*s;

	raw[0] = APIKEY_TYPE_ED25519;
	memcpy(raw + 1, k->seed, APIKEY_SEED_LEN);
	s = xmalloc(APIKEY_TEXT_LEN + 1);
	memcpy(s, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1);
	b64_encode(raw, sizeof(raw), s + sizeof(APIKEY_PREFIX) - 1);
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
