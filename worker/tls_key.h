/*
 * The worker's TLS private key that is not there: an OpenSSL 3 provider
 * compiled into the worker whose key objects hold the certificate's public
 * key and its id (SHA-256 of the SubjectPublicKeyInfo) and whose one
 * signature operation, a handshake's CertificateVerify (TLS 1.3) or
 * ServerKeyExchange (TLS 1.2), is made by the crypto process. libssl runs
 * the handshake as an async job (SSL_MODE_ASYNC): the provider sends the
 * request, pauses the job, and the worker's loop serves other connections
 * until the answer resumes it (conn.c). Nothing signs synchronously.
 */
#ifndef KEYWARD_TLS_KEY_H
#define KEYWARD_TLS_KEY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "common/tls.h"

/* One signature to ask for (the fields of MSG_TLS_SIGN but the purpose,
 * which the connection knows). */
struct tls_sign_req {
	const uint8_t	*id;		/* TLS_KEY_ID_LEN */
	const char	*digest;	/* "SHA256", ... or "" (Ed25519) */
	int		 pad;		/* enum tls_sign_pad */
	const uint8_t	*tbs;
	size_t		 tbslen;
};

/* Register and load the provider; once, before any SSL_CTX is made.
 * Other fetches keep preferring OpenSSL's default provider. */
int		 tls_key_init(void);

/* A key of the provider for cert's public key: RSA, EC (P-256, P-384,
 * P-521) or Ed25519. NULL and err on any other. */
EVP_PKEY	*tls_key_remote(X509 *cert, char *err, size_t errlen);

/* The worker's side (conn.c): ask for the signature, inside the
 * handshake's async job. 0 and sig/siglen, or -1. */
int		 tls_sign_remote(const struct tls_sign_req *, uint8_t *sig,
		    size_t *siglen, size_t sigsize);

#endif
