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
	IDENT_NO_CERT,		/* no non-CA certificate presented */
	IDENT_TOO_MANY,		/* more than one non-CA certificate */
	IDENT_ERROR		/* malformed certificate or OpenSSL failure */
};

/*
 * Leaf selection of §4.1 over every certificate the client presented:
 * `chain` (may be NULL) and `peer` (may be NULL; counted once even when the
 * chain holds it too, since OpenSSL includes the peer in
 * SSL_get_peer_cert_chain on the client side but not on the server side).
 * CA certificates (BasicConstraints cA=TRUE) are skipped. On IDENT_OK the
 * identity of the one remaining certificate is in `out`.
 */
enum ident_err	identity_of_chain(STACK_OF(X509) *chain, X509 *peer,
		    char out[IDENTITY_LEN + 1]);
/* The KES error message for an ident_err (spec §2.3). */
const char	*identity_err_message(enum ident_err);

#endif
