/*
 * The server TLS context, built from PEM bytes in memory (the worker is
 * chrooted and never opens a file). The parent builds one too, to reject a
 * broken certificate or key before any worker sees it (start and SIGHUP).
 * Client certificates per spec §1.1; the identity is always that of the
 * first certificate, whose key signs the handshake (identity_of_peer):
 *   tls.auth off (default): a certificate is required but nothing the client
 *                           sent is chain-checked (no chain is even built);
 *                           OpenSSL still checks the CertificateVerify
 *                           signature (proof of possession).
 *   tls.auth on:            the first certificate must chain to tls.ca
 *                           (at most TLS_MAX_CHAIN certificates sent) and
 *                           carry EKU clientAuth.
 * Either way the client's Certificate message may hold at most
 * TLS_MAX_CERT_LIST bytes; OpenSSL refuses a longer one before parsing it.
 * request_only (some route has skip_auth): the handshake succeeds without
 * a certificate and the routes that need one answer with HTTP errors.
 */
#ifndef KEYWARD_TLS_H
#define KEYWARD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "common/config.h"
#include "common/slice.h"

/* TLS 1.2 suites: ECDHE with AES-GCM or ChaCha20-Poly1305, no CBC. */
#define TLS12_CIPHERS	"ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL"

/* Signature schemes, both ways: those the crypto process makes for the
 * server's key (RSA, ECDSA, Ed25519) and, for client certificates, also
 * RSA-PSS keys and Ed448. */
#define TLS_SIGALGS	"ECDSA+SHA256:ECDSA+SHA384:ECDSA+SHA512:ed25519:" \
			"rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:" \
			"rsa_pss_rsae_sha512:RSA+SHA256:RSA+SHA384:RSA+SHA512:" \
			"ed448:rsa_pss_pss_sha256:rsa_pss_pss_sha384:" \
			"rsa_pss_pss_sha512"

/* A leaf and up to 9 intermediates; real chains have 1-4 certificates. */
#define TLS_MAX_CHAIN		10
/* 64 KiB (Go's limit for a handshake message before 1.21); a chain of 10
 * RSA-4096 certificates takes about 20 KiB. */
#define TLS_MAX_CERT_LIST	(64 * 1024)

/* A TLS key's id, as the worker asks the crypto process to sign with
 * it: SHA-256 of the DER SubjectPublicKeyInfo. 0, or -1. */
#define TLS_KEY_ID_LEN	32
int	tls_key_id(EVP_PKEY *, uint8_t id[TLS_KEY_ID_LEN]);

/* OpenSSL's pem_password_cb for tls.password (u): never prompts; no
 * password, no key. */
int	tls_password_cb(char *buf, int size, int rwflag, void *u);

/* key NULL: the caller gives the context its key (the worker's remote
 * key, worker/tls_key.c); password is then unused. */
SSL_CTX	*tls_server_ctx(const struct pem *cert, const struct pem *key,
	    const char *password, const struct pem *ca, enum tls_auth auth,
	    bool request_only, char *err, size_t errlen);

#endif
