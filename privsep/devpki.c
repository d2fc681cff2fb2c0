/* The throw-away CA, server and admin client credentials of --dev mode. */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/apikey.h"
#include "common/x509.h"
#include "common/identity.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "privsep/devpki.h"

#define DEVPKI_DAYS	90	/* as KES's dev server certificate */

/* What devpki_create writes, in order; the index is the file's slot. */
enum {
	F_CA_CERT,
	F_SERVER_CERT,
	F_SERVER_KEY,
	F_CLIENT_CERT,
	F_CLIENT_KEY,
	F_MAX
};

static const char *const devpki_names[F_MAX] = {
	[F_CA_CERT] = "ca.crt",
	[F_SERVER_CERT] = "server.crt",
	[F_SERVER_KEY] = "server.key",
	[F_CLIENT_CERT] = "client.crt",
	[F_CLIENT_KEY] = "client.key",
};

/* Logs `what` with OpenSSL's most recent error and clears its queue. */
static void
ossl_warnx(const char *what)
{
	char		 msg[256];
	unsigned long	 e;

	if ((e = ERR_peek_last_error()) != 0) {
		ERR_error_string_n(e, msg, sizeof(msg));
		log_warnx("%s: %s", what, msg);
	} else
		log_warnx("%s", what);
	ERR_clear_error();
}

static X509 *
make_ca(EVP_PKEY *key)
{
	X509 *x;

	if ((x = x509_new_cert(key, "keyward dev CA", DEVPKI_DAYS)) == NULL)
		return NULL;
	if (x509_add_ext(x, NULL, NID_basic_constraints,
	    "critical,CA:TRUE") != 0 ||
	    x509_add_ext(x, NULL, NID_key_usage,
	    "critical,keyCertSign,cRLSign") != 0 ||
	    x509_add_ext(x, NULL, NID_subject_key_identifier, "hash") != 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * Adds a GEN_IPADD (OCTET STRING of 4 or 16 bytes) or GEN_DNS (IA5String)
 * name unless already present: an interface may repeat 127.0.0.1 or ::1.
 */
static int
san_add(GENERAL_NAMES *gens, int type, const void *data, int len)
{
	GENERAL_NAME	*g;
	ASN1_STRING	*v;
	int		 i;

	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		v = GENERAL_NAME_get0_value(g, NULL);
		if (g->type == type && ASN1_STRING_length(v) == len &&
		    memcmp(ASN1_STRING_get0_data(v), data, len) == 0)
			return 0;
	}
	v = ASN1_STRING_type_new(type == GEN_IPADD ? V_ASN1_OCTET_STRING :
	    V_ASN1_IA5STRING);
	if (v == NULL || ASN1_STRING_set(v, data, len) != 1 ||
	    (g = GENERAL_NAME_new()) == NULL) {
		ASN1_STRING_free(v);
		return -1;
	}
	GENERAL_NAME_set0_value(g, type, v);
	if (sk_GENERAL_NAME_push(gens, g) <= 0) {
		GENERAL_NAME_free(g);
		return -1;
	}
	return 0;
}

/*
 * Every address of every interface that is up, so that clients on other
 * machines can reach a dev server bound to 0.0.0.0. Like KES, link-local
 * and multicast addresses are left out: they need a zone to be dialled and
 * are never what a client names. Without getifaddrs the loopback names
 * still work, so its failure is only a warning.
 */
static int
san_add_interfaces(GENERAL_NAMES *gens)
{
	struct ifaddrs		*ifap, *ifa;
	struct sockaddr_in	*sin;
	struct sockaddr_in6	*sin6;
	uint32_t		 a;
	int			 r = 0;

	if (getifaddrs(&ifap) == -1) {
		log_warn("getifaddrs: server certificate names loopback only");
		return 0;
	}
	for (ifa = ifap; ifa != NULL && r == 0; ifa = ifa->ifa_next) {
		if (ifa->ifa_addr == NULL || (ifa->ifa_flags & IFF_UP) == 0)
			continue;
		switch (ifa->ifa_addr->sa_family) {
		case AF_INET:
			sin = (struct sockaddr_in *)ifa->ifa_addr;
			a = ntohl(sin->sin_addr.s_addr);
			if ((a & 0xffff0000) == 0xa9fe0000 ||	/* 169.254/16 */
			    IN_MULTICAST(a))
				continue;
			r = san_add(gens, GEN_IPADD, &sin->sin_addr, 4);
			break;
		case AF_INET6:
			sin6 = (struct sockaddr_in6 *)ifa->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr) ||
			    IN6_IS_ADDR_MULTICAST(&sin6->sin6_addr))
				continue;
			r = san_add(gens, GEN_IPADD, &sin6->sin6_addr, 16);
			break;
		}
	}
	freeifaddrs(ifap);
	return r;
}

static int
add_server_sans(X509 *x)
{
	GENERAL_NAMES	*gens;
	struct in_addr	 lo4 = { .s_addr = htonl(INADDR_LOOPBACK) };
	int		 r = -1;

	if ((gens = GENERAL_NAMES_new()) == NULL)
		return -1;
	if (san_add(gens, GEN_IPADD, &lo4, 4) == 0 &&
	    san_add(gens, GEN_IPADD, &in6addr_loopback, 16) == 0 &&
	    san_add(gens, GEN_DNS, "localhost", 9) == 0 &&
	    san_add_interfaces(gens) == 0 &&
	    X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) == 1)
		r = 0;
	GENERAL_NAMES_free(gens);
	return r;
}

static X509 *
make_server(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key)
{
	X509 *x;

	if ((x = x509_new_cert(key, "localhost", DEVPKI_DAYS)) == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    x509_add_ext(x, ca, NID_basic_constraints,
	    "critical,CA:FALSE") != 0 ||
	    x509_add_ext(x, ca, NID_key_usage,
	    "critical,digitalSignature") != 0 ||
	    x509_add_ext(x, ca, NID_ext_key_usage, "serverAuth") != 0 ||
	    x509_add_ext(x, ca, NID_subject_key_identifier, "hash") != 0 ||
	    x509_add_ext(x, ca, NID_authority_key_identifier,
	    "keyid:always") != 0 ||
	    add_server_sans(x) != 0 ||
	    X509_sign(x, ca_key, EVP_sha256()) <= 0) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/*
 * One PEM file, created exclusively and without following a symlink (this
 * runs as root in a directory an operator chose), and on disk before we
 * say it is. Keys are PKCS#8, unencrypted: curl and the Go clients read
 * that form. OpenSSL cleanses the DER it encodes on the way.
 * Returns 0; -1 when the file was not created (it may be someone else's);
 * -2 when it was created but is incomplete, so the caller removes it.
 */
static int
write_pem(int dfd, const char *dir, const char *name, X509 *cert,
    EVP_PKEY *key)
{
	BIO	*bio;
	mode_t	 mode = key != NULL ? 0600 : 0644;
	int	 fd, ok;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, mode);
	if (fd == -1) {
		log_warn("%s/%s", dir, name);
		return -1;
	}
	/* The umask must not decide who may read a private key. */
	if (fchmod(fd, mode) == -1) {
		log_warn("fchmod %s/%s", dir, name);
		close(fd);
		return -2;
	}
	if ((bio = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL) {
		ossl_warnx("BIO_new_fd");
		close(fd);
		return -2;
	}
	if (cert != NULL)
		ok = PEM_write_bio_X509(bio, cert) == 1;
	else
		ok = PEM_write_bio_PKCS8PrivateKey(bio, key, NULL, NULL, 0,
		    NULL, NULL) == 1;
	ok = ok && BIO_flush(bio) == 1;
	BIO_free(bio);
	if (!ok) {
		ossl_warnx(name);
		close(fd);
		return -2;
	}
	if (fsync(fd) == -1 || close(fd) == -1) {
		log_warn("%s/%s", dir, name);
		return -2;
	}
	return 0;
}

/*
 * Root writes private keys here, so refuse a directory that someone else
 * could swap files in. The descriptor pins it against renames meanwhile.
 */
static int
open_dir(const char *dir)
{
	struct stat	st;
	int		dfd;

	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd == -1) {
		log_warn("%s", dir);
		return -1;
	}
	if (fstat(dfd, &st) == -1) {
		log_warn("fstat %s", dir);
		close(dfd);
		return -1;
	}
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		log_warnx("%s: writable by group or others (mode %04o)", dir,
		    (unsigned int)(st.st_mode & 07777));
		close(dfd);
		return -1;
	}
	return dfd;
}

int
devpki_create(const char *dir, struct devpki *out)
{
	struct apikey	 ak;
	EVP_PKEY	*ca_key = NULL, *srv_key = NULL, *cli_key = NULL;
	X509		*ca = NULL, *srv = NULL, *cli = NULL;
	X509		*certs[F_MAX] = { NULL };
	EVP_PKEY	*keys[F_MAX] = { NULL };
	char		**paths[F_MAX];
	int		 dfd, i, created = 0, w, r = -1;

	memset(out, 0, sizeof(*out));
	memset(&ak, 0, sizeof(ak));
	if ((dfd = open_dir(dir)) == -1)
		return -1;

	if ((ca_key = EVP_EC_gen("P-256")) == NULL ||
	    (ca = make_ca(ca_key)) == NULL) {
		ossl_warnx("dev CA");
		goto done;
	}
	if ((srv_key = EVP_EC_gen("P-256")) == NULL ||
	    (srv = make_server(srv_key, ca, ca_key)) == NULL) {
		ossl_warnx("dev server certificate");
		goto done;
	}
	if (apikey_generate(&ak) != 0 ||
	    (cli_key = apikey_pkey(&ak)) == NULL ||
	    (cli = apikey_certificate(&ak, cli_key)) == NULL ||
	    identity_of_cert(cli, out->identity) != 0) {
		ossl_warnx("dev admin API key");
		goto done;
	}

	certs[F_CA_CERT] = ca;
	certs[F_SERVER_CERT] = srv;
	keys[F_SERVER_KEY] = srv_key;
	certs[F_CLIENT_CERT] = cli;
	keys[F_CLIENT_KEY] = cli_key;
	for (created = 0; created < F_MAX; created++) {
		w = write_pem(dfd, dir, devpki_names[created],
		    certs[created], keys[created]);
		if (w == -2)
			created++;	/* exists now, half written */
		if (w != 0)
			goto done;
	}
	if (fsync(dfd) == -1) {
		log_warn("fsync %s", dir);
		goto done;
	}

	out->dir = xstrdup(dir);
	paths[F_CA_CERT] = &out->ca_cert;
	paths[F_SERVER_CERT] = &out->server_cert;
	paths[F_SERVER_KEY] = &out->server_key;
	paths[F_CLIENT_CERT] = &out->client_cert;
	paths[F_CLIENT_KEY] = &out->client_key;
	for (i = 0; i < F_MAX; i++)
		xasprintf(paths[i], "%s/%s", dir, devpki_names[i]);
	out->api_key = apikey_format(&ak);
	log_debug("dev PKI in %s, admin identity %s", dir, out->identity);
	r = 0;
 done:
	/* Leave no partial PKI that would make the next try fail on O_EXCL. */
	if (r != 0) {
		while (created-- > 0)
			if (unlinkat(dfd, devpki_names[created], 0) == -1)
				log_warn("unlink %s/%s", dir,
				    devpki_names[created]);
		devpki_free(out);
	}
	explicit_bzero(&ak, sizeof(ak));
	X509_free(cli);
	X509_free(srv);
	X509_free(ca);
	EVP_PKEY_free(cli_key);
	EVP_PKEY_free(srv_key);
	EVP_PKEY_free(ca_key);
	close(dfd);
	return r;
}

void
devpki_free(struct devpki *p)
{
	free(p->dir);
	free(p->ca_cert);
	free(p->server_cert);
	free(p->server_key);
	free(p->client_cert);
	free(p->client_key);
	freezero_str(p->api_key);
	explicit_bzero(p, sizeof(*p));
}
