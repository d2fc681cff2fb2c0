/* KES client identities: SHA-256 of a SubjectPublicKeyInfo; the peer's. */
#include <string.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/identity.h"

static int
identity_of_der(const unsigned char *der, int len, char out[IDENTITY_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	 md[EVP_MAX_MD_SIZE];
	unsigned int	 mdlen = 0, i;

	if (der == NULL || len <= 0)
		return -1;
	if (EVP_Digest(der, (size_t)len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != IDENTITY_LEN / 2)
		return -1;
	for (i = 0; i < mdlen; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 0x0f];
	}
	out[IDENTITY_LEN] = '\0';
	return 0;
}

int
identity_of_pubkey(EVP_PKEY *pk, char out[IDENTITY_LEN + 1])
{
	unsigned char	*der = NULL;
	int		 len, r;

	if (pk == NULL)
		return -1;
	len = i2d_PUBKEY(pk, &der);
	r = identity_of_der(der, len, out);
	OPENSSL_free(der);
	return r;
}

/*
 * KES hashes the SPKI bytes exactly as they sit in the certificate (Go's
 * RawSubjectPublicKeyInfo), so encode the certificate's own X509_PUBKEY
 * rather than a key re-serialised from the EVP_PKEY, which could differ
 * (point compression, explicit curve parameters).
 */
int
identity_of_cert(X509 *x, char out[IDENTITY_LEN + 1])
{
	X509_PUBKEY	*spki;
	unsigned char	*der = NULL;
	int		 len, r;

	if (x == NULL || (spki = X509_get_X509_PUBKEY(x)) == NULL)
		return -1;
	len = i2d_X509_PUBKEY(spki, &der);
	r = identity_of_der(der, len, out);
	OPENSSL_free(der);
	return r;
}

/*
 * Go's IsCA is the cA flag of BasicConstraints and nothing else, so this
 * reads the extension itself instead of X509_check_ca(), which also calls
 * v1 self-signed and keyCertSign-only certificates CAs. A duplicated or
 * undecodable extension is an error: Go refuses such a certificate.
 */
static int
cert_is_ca(X509 *x, int *ca)
{
	BASIC_CONSTRAINTS	*bc;
	int			 crit = 0;

	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	if (bc == NULL) {
		if (crit != -1)
			return -1;
		*ca = 0;
		return 0;
	}
	*ca = bc->ca != 0;
	BASIC_CONSTRAINTS_free(bc);
	return 0;
}

/*
 * The identity is the key that proved itself. A TLS handshake proves
 * possession of the private key of the first certificate the client sends
 * and of no other: OpenSSL checks the CertificateVerify against that
 * certificate, the peer certificate. KES took the identity from "the one
 * non-CA certificate" anywhere in the list, so a client could send its own
 * CA-flagged certificate first, sign with its own key and be identified by
 * a victim's public certificate sent second (spec §4.1). Here the identity
 * is always the peer's; KES's messages stay for the shapes it refused: a
 * CA certificate first is no client certificate at all, and another non-CA
 * certificate anywhere after the peer is one client certificate too many.
 * A certificate repeated in the list counts each time, as in Go's
 * PeerCertificates.
 */
enum ident_err
identity_of_peer(X509 *peer, STACK_OF(X509) *rest,
    char out[IDENTITY_LEN + 1])
{
	X509	*x;
	int	 i, n, ca;

	if (peer == NULL)
		return IDENT_NO_CERT;
	if (cert_is_ca(peer, &ca) != 0)
		return IDENT_ERROR;
	if (ca)
		return IDENT_NO_CERT;
	n = rest != NULL ? sk_X509_num(rest) : 0;
	for (i = 0; i < n; i++) {
		if ((x = sk_X509_value(rest, i)) == NULL ||
		    cert_is_ca(x, &ca) != 0)
			return IDENT_ERROR;
		if (!ca)
			return IDENT_TOO_MANY;
	}
	if (identity_of_cert(peer, out) != 0)
		return IDENT_ERROR;
	return IDENT_OK;
}

const char *
identity_err_message(enum ident_err e)
{
	switch (e) {
	case IDENT_OK:
		return "ok";
	case IDENT_NO_CERT:
		return "tls: client certificate is required";
	case IDENT_TOO_MANY:
		return "tls: received more than one client certificate";
	case IDENT_ERROR:
		break;
	}
	/* Go fails the handshake here; the text follows crypto/tls. */
	return "tls: failed to parse client certificate";
}
