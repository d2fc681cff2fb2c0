/*
 * KES identities (spec §4.1): the lowercase hex SHA-256 of the DER
 * SubjectPublicKeyInfo of a client's leaf certificate, 64 characters plus
 * the NUL. Functions return 0 on success and -1 on failure; they never log.
 */
#ifndef KEYWARD_IDENTITY_H
#define KEYWARD_IDENTITY_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#define IDENTITY_LEN	64	/* hex characters, without the NUL */

/* Hash of i2d_PUBKEY(pk). */
int	identity_of_pubkey(EVP_PKEY *pk, char out[IDENTITY_LEN + 1]);
/* Hash of the certificate's SubjectPublicKeyInfo as encoded in it. */
int	identity_of_cert(X509 *x, char out[IDENTITY_LEN + 1]);

enum ident_err {
	IDENT_OK = 0,
	IDENT_NO_CERT,		/* no certificate, or a CA certificate first */
	IDENT_TOO_MANY,		/* another non-CA certificate after the peer */
	IDENT_ERROR		/* malformed certificate or OpenSSL failure */
};

/*
 * The identity of a TLS client (spec §4.1, keyward's rule): that of `peer`,
 * the certificate whose key signed the handshake (server side:
 * SSL_get0_peer_certificate), never of another certificate the client sent.
 * `rest` (may be NULL) holds the certificates sent after it (server side:
 * SSL_get_peer_cert_chain, which excludes the peer). No peer, or a peer
 * that is a CA (BasicConstraints cA=TRUE): IDENT_NO_CERT; a non-CA
 * certificate in `rest`: IDENT_TOO_MANY. On IDENT_OK the identity is in
 * `out`.
 */
enum ident_err	identity_of_peer(X509 *peer, STACK_OF(X509) *rest,
		    char out[IDENTITY_LEN + 1]);
/* The KES error message for an ident_err (spec §2.3). */
const char	*identity_err_message(enum ident_err);

#endif
