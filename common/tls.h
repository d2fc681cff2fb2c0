/*
 * The server TLS context, built from PEM bytes in memory (the worker is
 * chrooted and never opens a file). The parent builds one too, to reject a
 * broken certificate or key before any worker sees it (start and SIGHUP).
 * Client certificates per spec §1.1:
 *   tls.auth off (default): a certificate is required but not chain-checked;
 *                           OpenSSL still checks the CertificateVerify
 *                           signature (proof of possession).
 *   tls.auth on:            it must chain to tls.ca with EKU clientAuth.
 * request_only (some route has skip_auth): the handshake succeeds without
 * a certificate and the routes that need one answer with HTTP errors.
 */
#ifndef KEYWARD_TLS_H
#define KEYWARD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "common/config.h"
#include "common/slice.h"

SSL_CTX	*tls_server_ctx(const struct pem *cert, const struct pem *key,
	    const char *password, const struct pem *ca, enum tls_auth auth,
	    bool request_only, char *err, size_t errlen);

#endif
