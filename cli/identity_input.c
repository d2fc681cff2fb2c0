/*
 * `keyward identity` and `identity of`: what an argument holds. An API key
 * (kes:v1:...), or a file with a certificate (PEM or DER) or a PKCS#8
 * private key; each becomes an identity (and a private key its API key).
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/identity.h"
#include "cli/identity_int.h"
#include "common/apikey.h"
#include "common/config.h"
#include "common/gojson.h"
#include "common/identity.h"
#include "common/wfile.h"
#include "common/x509.h"
#include "common/xmalloc.h"

/*
 * The whole file, NUL-terminated, into a buffer the caller wipes with
 * freezero(*p, *cap): it may hold a private key.
 */
static int
read_file(const char *path, uint8_t **p, size_t *len, size_t *cap)
{
	uint8_t	*buf = NULL, *nb;
	size_t	 n = 0, sz = 0;
	ssize_t	 r;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		if (n + 1 >= sz) {
			if (sz >= FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			/* Grow by copying so nothing secret is left behind
			 * in a block realloc would free unwiped. */
			nb = xmalloc(sz == 0 ? 4096 : sz * 2);
			if (buf != NULL)
				memcpy(nb, buf, n);
			freezero(buf, sz);
			buf = nb;
			sz = sz == 0 ? 4096 : sz * 2;
		}
		r = read(fd, buf + n, sz - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*p = buf;
	*len = n;
	*cap = sz;
	return 0;
 fail:
	saved = errno;
	close(fd);
	freezero(buf, sz);
	errno = saved;
	return -1;
}

/* The identity, and for an Ed25519 key the API key it is. */
static int
from_pkey(const char *cmd, const char *path, EVP_PKEY *pk, bool want_apikey,
    struct result *res)
{
	struct apikey	k;
	size_t		n = sizeof(k.seed);

	if (identity_of_pubkey(pk, res->identity) != 0) {
		fprintf(stderr, "%s: %s: cannot compute the identity of the "
		    "private key\n", cmd, path);
		return CLI_REFUSED;
	}
	if (!want_apikey || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519)
		return CLI_OK;
	if (EVP_PKEY_get_raw_private_key(pk, k.seed, &n) != 1 ||
	    n != sizeof(k.seed)) {
		explicit_bzero(&k, sizeof(k));
		fprintf(stderr, "%s: %s: cannot read the Ed25519 private key\n",
		    cmd, path);
		return CLI_REFUSED;
	}
	res->apikey = apikey_format(&k);
	explicit_bzero(&k, sizeof(k));
	return CLI_OK;
}

static int
from_cert(const char *cmd, const char *path, X509 *x, struct result *res)
{
	if (identity_of_cert(x, res->identity) != 0) {
		fprintf(stderr, "%s: %s: cannot compute the identity of the "
		    "certificate\n", cmd, path);
		return CLI_REFUSED;
	}
	return CLI_OK;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/*
 * PEM: the first CERTIFICATE block wins, as in kes identity of; without
 * one, a private key of any form OpenSSL reads (PKCS#8, traditional,
 * encrypted: the password then comes from the terminal).
 */
static int
from_pem(const char *cmd, const char *path, const uint8_t *p, size_t len,
    bool want_apikey, struct result *res)
{
	BIO			*bio;
	X509			*x = NULL;
	EVP_PKEY		*pk = NULL;
	struct cli_pw		 pc = { .path = path };
	char			*name = NULL, *header = NULL;
	unsigned char		*data = NULL;
	const unsigned char	*q;
	long			 dlen = 0;
	bool			 havekey = false, badcert = false;
	int			 r;

	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		goto oom;
	while (x == NULL && !badcert &&
	    PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		if (strcmp(name, PEM_STRING_X509) == 0) {
			q = data;
			x = d2i_X509(NULL, &q, dlen);
			badcert = x == NULL || q != data + dlen;
		} else if (ends_with(name, "PRIVATE KEY"))
			havekey = true;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)dlen);
		name = header = NULL;
		data = NULL;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (badcert) {
		X509_free(x);
		fprintf(stderr, "%s: %s: the CERTIFICATE block is not a valid "
		    "X.509 certificate\n", cmd, path);
		return CLI_REFUSED;
	}
	if (x != NULL) {
		r = from_cert(cmd, path, x, res);
		X509_free(x);
		return r;
	}
	if (!havekey) {
		fprintf(stderr, "%s: %s: no CERTIFICATE or PRIVATE KEY block "
		    "in it\n", cmd, path);
		return CLI_REFUSED;
	}
	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		goto oom;
	pk = PEM_read_bio_PrivateKey(bio, NULL, cli_pem_password, &pc);
	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL) {
		if (pc.notty)
			fprintf(stderr, "%s: %s: the private key is encrypted "
			    "and there is no terminal to ask for its "
			    "password\n", cmd, path);
		else if (pc.asked)
			fprintf(stderr, "%s: %s: cannot decrypt the private "
			    "key (wrong password?)\n", cmd, path);
		else
			fprintf(stderr, "%s: %s: not a private key OpenSSL "
			    "can read\n", cmd, path);
		return CLI_REFUSED;
	}
	r = from_pkey(cmd, path, pk, want_apikey, res);
	EVP_PKEY_free(pk);
	return r;
 oom:
	fprintf(stderr, "%s: out of memory\n", cmd);
	return CLI_REFUSED;
}

/* DER: a whole certificate, else a whole private key. */
static int
from_der(const char *cmd, const char *path, const uint8_t *p, size_t len,
    bool want_apikey, struct result *res)
{
	const unsigned char	*q = p;
	X509			*x;
	EVP_PKEY		*pk;
	int			 r;

	if (len > 0 && (x = d2i_X509(NULL, &q, (long)len)) != NULL) {
		if (q == p + len) {
			r = from_cert(cmd, path, x, res);
			X509_free(x);
			return r;
		}
		X509_free(x);
	}
	q = p;
	if (len > 0 && (pk = d2i_AutoPrivateKey(NULL, &q, (long)len)) != NULL) {
		if (q == p + len) {
			r = from_pkey(cmd, path, pk, want_apikey, res);
			EVP_PKEY_free(pk);
			return r;
		}
		EVP_PKEY_free(pk);
	}
	ERR_clear_error();
	fprintf(stderr, "%s: %s: not a certificate, private key or API key "
	    "(PEM or DER)\n", cmd, path);
	return CLI_REFUSED;
}

static int
from_apikey(const char *cmd, const char *what, const char *text,
    struct result *res)
{
	struct apikey	k;
	int		r;

	if (apikey_parse(text, &k) != 0) {
		/* Never echo it: a mistyped API key is still mostly secret. */
		fprintf(stderr, "%s: %s is not a valid API key (kes:v1: and 44 "
		    "base64 characters)\n", cmd, what);
		return CLI_REFUSED;
	}
	r = apikey_identity(&k, res->identity);
	explicit_bzero(&k, sizeof(k));
	if (r != 0) {
		fprintf(stderr, "%s: cannot compute the identity of the API "
		    "key\n", cmd);
		return CLI_REFUSED;
	}
	return CLI_OK;
}

/*
 * A file holding an API key as text ("kes:v1:...", surrounding blanks
 * and newlines allowed), a certificate or a private key.
 */
static int
from_file_bytes(const char *cmd, const char *path, uint8_t *p, size_t len,
    bool want_apikey, struct result *res)
{
	size_t	s = 0, e = len;

	while (s < e && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r' ||
	    p[s] == '\n'))
		s++;
	while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t' ||
	    p[e - 1] == '\r' || p[e - 1] == '\n'))
		e--;
	if (e - s >= sizeof(APIKEY_PREFIX) - 1 &&
	    memcmp(p + s, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1) == 0) {
		p[e] = '\0';	/* the buffer is ours and has room */
		return from_apikey(cmd, path, (char *)p + s, res);
	}
	if (memmem(p, len, "-----BEGIN ", 11) != NULL)
		return from_pem(cmd, path, p, len, want_apikey, res);
	return from_der(cmd, path, p, len, want_apikey, res);
}

/*
 * An argument naming an API key or a file. As kes does, "kes:v1:..." is
 * an API key; anything else is a file name, and only when no such file
 * exists is a bare base64 API key tried.
 */
int
load_input(const char *cmd, const char *arg, bool want_apikey,
    struct result *res)
{
	uint8_t		*p;
	size_t		 len, cap;
	struct apikey	 k;
	int		 r;

	if (strncmp(arg, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1) == 0)
		return from_apikey(cmd, "the argument", arg, res);
	if (read_file(arg, &p, &len, &cap) == -1) {
		if (errno == ENOENT && apikey_parse(arg, &k) == 0) {
			explicit_bzero(&k, sizeof(k));
			return from_apikey(cmd, "the argument", arg, res);
		}
		fprintf(stderr, "%s: %s: %s\n", cmd, arg, errno == EFBIG ?
		    "too large for a certificate or key" : strerror(errno));
		return CLI_REFUSED;
	}
	r = from_file_bytes(cmd, arg, p, len, want_apikey, res);
	freezero(p, cap);
	return r;
}
