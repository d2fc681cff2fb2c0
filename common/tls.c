/* Server SSL_CTX from in-memory PEM. */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509v3.h>

#include "common/tls.h"

static const unsigned char alpn_http11[] = { 8, 'h','t','t','p','/','1','.','1' };

static void
ssl_error(char *err, size_t errlen, const char *what)
{
	unsigned long	e = ERR_peek_last_error();
	char		buf[256] = "";

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	snprintf(err, errlen, "%s%s%s", what, *buf ? ": " : "", buf);
	ERR_clear_error();
}

/*
 * OpenSSL's whole verification of the certificates a client sent (in
 * place of X509_verify_cert) for tls.auth off. Nothing is verified: the
 * identity is the hash of the key that signed the handshake
 * (identity_of_peer), which OpenSSL checks whatever this returns. Building
 * a chain from a list the client chose would be work an unauthenticated
 * client controls: 140 bogus intermediates cost 36 ms of CPU per
 * handshake.
 */
static int
verify_none(X509_STORE_CTX *sctx, void *arg)
{
	return 1;
}

/*
 * tls.auth on: the chain that starts at the peer certificate (the one
 * whose key signs the handshake) must reach tls.ca, and the peer must
 * carry EKU clientAuth; a certificate without any EKU is refused (Go
 * accepts it as "any usage"; the README promises clientAuth). A list
 * longer than TLS_MAX_CHAIN is refused before any signature is checked.
 */
static int
verify_client(X509_STORE_CTX *sctx, void *arg)
{
	STACK_OF(X509)	*sent = X509_STORE_CTX_get0_untrusted(sctx);
	X509		*peer = X509_STORE_CTX_get0_cert(sctx);

	if (peer == NULL)
		return 0;
	if (sent != NULL && sk_X509_num(sent) > TLS_MAX_CHAIN) {
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_CERT_CHAIN_TOO_LONG);
		return 0;
	}
	if (X509_verify_cert(sctx) != 1)
		return 0;
	if ((X509_get_extension_flags(peer) & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(peer) & XKU_SSL_CLIENT) == 0) {
		X509_STORE_CTX_set_error(sctx, X509_V_ERR_INVALID_PURPOSE);
		return 0;
	}
	return 1;
}

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	unsigned char *sel;

	if (SSL_select_next_proto(&sel, outlen, alpn_http11,
	    sizeof(alpn_http11), in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

int
tls_key_id(EVP_PKEY *pk, uint8_t id[TLS_KEY_ID_LEN])
{
	unsigned char	*der = NULL;
	int		 n;

	if ((n = i2d_PUBKEY(pk, &der)) <= 0)
		return -1;
	SHA256(der, (size_t)n, id);
	OPENSSL_free(der);
	return 0;
}

int
tls_password_cb(char *buf, int size, int rwflag, void *u)
{
	const char	*pw = u;
	size_t		 n;

	if (pw == NULL || *pw == '\0')
		return -1;
	n = strlen(pw);
	if (n > (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

static int
has_ip_or_dns_san(X509 *x)
{
	GENERAL_NAMES	*names;
	int		 i, found = 0;

	names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	if (names == NULL)
		return 0;
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		if (g->type == GEN_DNS || g->type == GEN_IPADD)
			found = 1;
	}
	GENERAL_NAMES_free(names);
	return found;
}

static int
load_chain(SSL_CTX *ctx, const struct pem *cert, char *err, size_t errlen)
{
	BIO	*bio;
	X509	*x;
	int	 n = 0, ok = 1;

	if ((bio = BIO_new_mem_buf(cert->data, (int)cert->len)) == NULL) {
		ssl_error(err, errlen, "out of memory");
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (n == 0) {
			if (!has_ip_or_dns_san(x)) {
				snprintf(err, errlen, "invalid TLS certificate:"
				    " certificate does not contain any DNS or"
				    " IP address as SAN");
				ok = 0;
			} else if (SSL_CTX_use_certificate(ctx, x) != 1) {
				ssl_error(err, errlen, "TLS certificate");
				ok = 0;
			}
			X509_free(x);
		} else if (SSL_CTX_add0_chain_cert(ctx, x) != 1) {
			X509_free(x);
			ssl_error(err, errlen, "TLS certificate chain");
			ok = 0;
		}
		n++;
		if (!ok)
			break;
	}
	ERR_clear_error();	/* the end of the PEM stream */
	BIO_free(bio);
	if (ok && n == 0) {
		snprintf(err, errlen, "TLS certificate: no PEM certificate");
		ok = 0;
	}
	return ok ? 0 : -1;
}

static int
load_key(SSL_CTX *ctx, const struct pem *key, const char *password,
    char *err, size_t errlen)
{
	BIO		*bio;
	EVP_PKEY	*pk;
	int		 r = -1;

	if ((bio = BIO_new_mem_buf(key->data, (int)key->len)) == NULL) {
		ssl_error(err, errlen, "out of memory");
		return -1;
	}
	pk = PEM_read_bio_PrivateKey(bio, NULL, tls_password_cb,
	    (void *)password);
	BIO_free(bio);
	if (pk == NULL)
		ssl_error(err, errlen, "TLS private key (wrong password or "
		    "not a PEM private key)");
	else if (X509_check_private_key(SSL_CTX_get0_certificate(ctx),
	    pk) != 1) {
		/* Said plainly; OpenSSL's own text is "key values mismatch". */
		ERR_clear_error();
		snprintf(err, errlen, "TLS private key does not match the "
		    "certificate");
	} else if (SSL_CTX_use_PrivateKey(ctx, pk) != 1)
		ssl_error(err, errlen, "TLS private key");
	else
		r = 0;
	EVP_PKEY_free(pk);
	return r;
}

static int
load_cas(SSL_CTX *ctx, const struct pem *ca, char *err, size_t errlen)
{
	X509_STORE	*st = SSL_CTX_get_cert_store(ctx);
	BIO		*bio;
	X509		*x;
	int		 n = 0;

	if (ca->len == 0)
		return 0;
	if ((bio = BIO_new_mem_buf(ca->data, (int)ca->len)) == NULL) {
		ssl_error(err, errlen, "out of memory");
		return -1;
	}
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		/* Duplicates (a CA in tls.ca and the system) are fine. */
		(void)X509_STORE_add_cert(st, x);
		X509_free(x);
		n++;
	}
	ERR_clear_error();
	BIO_free(bio);
	if (n == 0) {
		snprintf(err, errlen, "tls.ca: no PEM certificate");
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct pem *cert, const struct pem *key,
    const char *password, const struct pem *ca, enum tls_auth auth,
    bool request_only, char *err, size_t errlen)
{
	SSL_CTX	*ctx;
	int	 mode;

	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		goto fail;
	/* TLS 1.2: forward-secret AEAD suites only, as KES's Go server
	 * offers; TLS 1.3 has nothing else. */
	if (SSL_CTX_set_cipher_list(ctx, TLS12_CIPHERS) != 1)
		goto fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
	/* NO_AUTO_CHAIN: send the certificates of tls.cert and nothing
	 * else, as Go does; OpenSSL would otherwise build the server's chain
	 * from the trust store in every handshake. */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
	/* One read(2) per record instead of header and body apart; the
	 * worker reads until WANT_READ before it waits, so nothing buffered
	 * inside OpenSSL is left unseen. */
	SSL_CTX_set_read_ahead(ctx, 1);
	/* Sessions are not resumed across workers; keep it simple. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
	/* No SHA-1 or SHA-224 signatures either way, and for the server's
	 * own only what the crypto process signs (privsep/sign.c). */
	if (SSL_CTX_set1_sigalgs_list(ctx, TLS_SIGALGS) != 1)
		goto fail;
	if (load_chain(ctx, cert, err, errlen) == -1 ||
	    (key != NULL && load_key(ctx, key, password, err, errlen) == -1))
		goto fail_quiet;

	mode = SSL_VERIFY_PEER;
	if (!request_only)
		mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_max_cert_list(ctx, TLS_MAX_CERT_LIST);
	if (auth == TLS_AUTH_ON) {
		if (load_cas(ctx, ca, err, errlen) == -1)
			goto fail_quiet;
		if (SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1)
			goto fail;
		SSL_CTX_set_verify_depth(ctx, TLS_MAX_CHAIN);
		SSL_CTX_set_cert_verify_callback(ctx, verify_client, NULL);
	} else
		SSL_CTX_set_cert_verify_callback(ctx, verify_none, NULL);
	return ctx;
fail:
	ssl_error(err, errlen, "TLS configuration");
fail_quiet:
	SSL_CTX_free(ctx);
	return NULL;
}
