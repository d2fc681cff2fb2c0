/*
 * The KMIP store's TLS (spec/keystores-vault-ciphertrust-kmip-pkcs11.md
 * §3.2): the client context made from the PEM read before the filter
 * (CA, client certificate and chain, key), and one OpenSSL connection on
 * a connected socket, verifying the server's name or address. The
 * connections themselves are kmip_conn.c's.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/log.h"
#include "keystore-agent/kmip_int.h"

/* Debian's bundle, read in init when no tls.ca is given. */
#define SYSTEM_CA	"/etc/ssl/certs/ca-certificates.crt"
/*
 * TLS 1.2 suites: forward secrecy only. Meets PyKMIP's TLS1.2 list with
 * ECDSA keys (ECDHE-ECDSA-AES*-GCM) and with RSA keys (ECDHE-RSA-AES*-
 * SHA256/384, as PyKMIP has no ECDHE-RSA-GCM suite; §3.2). TLS 1.3
 * suites are OpenSSL's.
 */
#define DEFAULT_CIPHERS	"ECDHE:!aNULL:!eNULL:!SHA1"

/* An encrypted key would make OpenSSL ask a terminal: refuse instead. */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	return -1;
}

const char *
kmip_tls_error(char *buf, size_t len)
{
	unsigned long	e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static int
load_ca(SSL_CTX *ctx, const uint8_t *pem, size_t len, char *err,
    size_t errlen)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(ctx);
	X509		*x;
	BIO		*b;
	int		 n = 0;

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("kmip: out of memory");
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) !=
	    NULL) {
		if (X509_STORE_add_cert(st, x) == 1)
			n++;
		X509_free(x);
	}
	BIO_free(b);
	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen, "tls.ca: no PEM certificate in it");
		return -1;
	}
	return 0;
}

static int
load_cert(SSL_CTX *ctx, const uint8_t *pem, size_t len, char *err,
    size_t errlen)
{
	X509	*x;
	BIO	*b;
	char	 why[256];

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("kmip: out of memory");
	if ((x = PEM_read_bio_X509_AUX(b, NULL, no_passphrase, NULL)) ==
	    NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
		snprintf(err, errlen, "tls.cert: %s", kmip_tls_error(why,
		    sizeof(why)));
		X509_free(x);
		BIO_free(b);
		return -1;
	}
	X509_free(x);
	/* The rest of the file: the chain to send with it. */
	while ((x = PEM_read_bio_X509(b, NULL, no_passphrase, NULL)) != NULL)
		if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			BIO_free(b);
			snprintf(err, errlen, "tls.cert: %s",
			    kmip_tls_error(why, sizeof(why)));
			return -1;
		}
	BIO_free(b);
	ERR_clear_error();
	return 0;
}

static int
load_key(SSL_CTX *ctx, const uint8_t *pem, size_t len, char *err,
    size_t errlen)
{
	EVP_PKEY	*pk;
	BIO		*b;
	char		 why[256];
	int		 rc = 0;

	if ((b = BIO_new_mem_buf(pem, (int)len)) == NULL)
		fatalx("kmip: out of memory");
	pk = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (pk == NULL) {
		snprintf(err, errlen, "tls.key: no unencrypted PEM private key "
		    "(%s)", kmip_tls_error(why, sizeof(why)));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey(ctx, pk) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "tls.key does not go with tls.cert (%s)",
		    kmip_tls_error(why, sizeof(why)));
		rc = -1;
	}
	EVP_PKEY_free(pk);
	return rc;
}

bool
kmip_is_literal(const char *host)
{
	struct in6_addr a;

	return inet_pton(AF_INET, host, &a) == 1 ||
	    inet_pton(AF_INET6, host, &a) == 1;
}

int
kmip_tls_init(struct kmip_store *k, char *err, size_t errlen)
{
	char	 e[256];
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		fatalx("kmip: SSL_CTX_new: %s", kmip_tls_error(e, sizeof(e)));
	k->ctx = ctx;
	if (SSL_CTX_set_min_proto_version(ctx, k->s.tls_min == 13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, k->s.ciphers[0] != '\0' ?
	    k->s.ciphers : DEFAULT_CIPHERS) != 1) {
		snprintf(err, errlen, "tls.ciphers: %s", kmip_tls_error(e,
		    sizeof(e)));
		return -1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* No renegotiation, no compression; the filter allows no file. */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_COMPRESSION);
	if (k->ca != NULL) {
		if (load_ca(ctx, k->ca, k->ca_len, err, errlen) == -1)
			return -1;
	} else if (SSL_CTX_load_verify_locations(ctx, SYSTEM_CA, NULL) !=
	    1) {
		snprintf(err, errlen, "no tls.ca given and %s: %s", SYSTEM_CA,
		    kmip_tls_error(e, sizeof(e)));
		return -1;
	}
	if (load_cert(ctx, k->cert, k->cert_len, err, errlen) == -1 ||
	    load_key(ctx, k->key, k->key_len, err, errlen) == -1)
		return -1;
	return 0;
}

SSL *
kmip_tls_new(struct kmip_store *k, int fd, const char *host)
{
	X509_VERIFY_PARAM	*vp;
	const char		*name;
	SSL			*ssl;

	if ((ssl = SSL_new(k->ctx)) == NULL || SSL_set_fd(ssl, fd) != 1)
		fatalx("kmip: SSL_new failed");
	name = k->s.server_name[0] != '\0' ? k->s.server_name : host;
	vp = SSL_get0_param(ssl);
	if (kmip_is_literal(name)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1)
			fatalx("kmip: X509_VERIFY_PARAM_set1_ip_asc");
	} else if (SSL_set1_host(ssl, name) != 1 ||
	    SSL_set_tlsext_host_name(ssl, name) != 1)
		fatalx("kmip: SSL_set1_host");
	return ssl;
}

const char *
kmip_tls_failed(SSL *ssl, int ret, int saved_errno, char *buf, size_t len)
{
	char	why[256];
	long	vr = SSL_get_verify_result(ssl);
	int	e = SSL_get_error(ssl, ret);

	if (vr != X509_V_OK)
		snprintf(buf, len, "TLS: the server's certificate: %s",
		    X509_verify_cert_error_string(vr));
	else if (e == SSL_ERROR_SYSCALL && ERR_peek_last_error() == 0)
		snprintf(buf, len, "TLS: connection closed during the "
		    "handshake%s", saved_errno != 0 ? "" : " (the server "
		    "refused the client certificate or TLS version?)");
	else
		snprintf(buf, len, "TLS: %s", kmip_tls_error(why,
		    sizeof(why)));
	ERR_clear_error();
	return buf;
}
