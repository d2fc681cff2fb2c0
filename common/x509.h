/*
 * Certificate building blocks for certificates keyward makes itself: the
 * Ed25519 client certificate of an API key (common/apikey.c) and the
 * throw-away CA and server certificate of `keyward server --dev`.
 */
#ifndef KEYWARD_X509_H
#define KEYWARD_X509_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/*
 * A v3 certificate for `pk` with a random serial in [0, 2^128), Subject
 * CN=`cn`, Issuer the same (reset it when another key signs), valid from
 * now for `days` days, no extensions.
 */
X509	*x509_new_cert(EVP_PKEY *pk, const char *cn, int days);
/*
 * Add one extension written as in openssl.cnf ("critical,CA:FALSE");
 * `issuer` is the signing certificate, or NULL for a self-signed one
 * (authorityKeyIdentifier reads it). 0 or -1.
 */
int	 x509_add_ext(X509 *x, X509 *issuer, int nid, const char *value);

#endif
