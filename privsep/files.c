/* The parent's resources: listener, TLS file contents, directories. */
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/tls.h"
#include "common/xmalloc.h"
#include "privsep/files.h"
#include "privsep/sign.h"

#define TLS_FILE_MAX	(1u << 20)
#define SYSTEM_ROOTS	"/etc/ssl/certs/ca-certificates.crt"

int
listener_open(const char *addr, char *err, size_t errlen)
{
	struct sockaddr_storage	 ss;
	struct sockaddr_in	*s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6	*s6 = (struct sockaddr_in6 *)&ss;
	char			 host[INET6_ADDRSTRLEN + 2];
	const char		*colon, *port;
	char			*end;
	socklen_t		 len;
	long			 p;
	int			 fd, on = 1, off = 0;
	size_t			 hl;

	memset(&ss, 0, sizeof(ss));
	if ((colon = strrchr(addr, ':')) == NULL)
		goto bad;
	port = colon + 1;
	hl = colon - addr;
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	errno = 0;
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || errno || p < 0 || p > 65535)
		goto bad;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(p);
		len = sizeof(*s6);
	} else if (hl == 0 || inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		/* ":7373" means every IPv4 address, as in Go. */
		s4->sin_family = AF_INET;
		s4->sin_port = htons(p);
		len = sizeof(*s4);
	} else
		goto bad;

	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	/* [::] also takes IPv4, like Go's listener. */
	if (ss.ss_family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off,
		    sizeof(off));
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SOMAXCONN) == -1) {
		snprintf(err, errlen, "cannot listen on %s: %s", addr,
		    strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
bad:
	snprintf(err, errlen, "invalid address '%s'; expected IP:PORT, "
	    "e.g. 0.0.0.0:7373 or [::]:7373", addr);
	return -1;
}

/* Append a whole regular file to p (up to TLS_FILE_MAX in all). */
static int
file_append(const char *path, struct pem *p, char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 off;
	uint8_t		*nd;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size > TLS_FILE_MAX || p->len + st.st_size > TLS_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most "
		    "1 MiB", path);
		close(fd);
		return -1;
	}
	/* Grow by copy, so a key never lingers in freed memory. */
	nd = xmalloc(p->len + st.st_size + 2);
	if (p->len)
		memcpy(nd, p->data, p->len);
	freezero(p->data, p->len);
	p->data = nd;
	off = p->len;
	while (off < p->len + (size_t)st.st_size) {
		n = read(fd, nd + off, p->len + st.st_size - off);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "%s: %s", path,
			    n == 0 ? "short read" : strerror(errno));
			close(fd);
			p->len = off;
			return -1;
		}
		off += n;
	}
	close(fd);
	nd[off++] = '\n';	/* keeps concatenated PEM files apart */
	p->len = off;
	return 0;
}

static int
ca_read(const char *path, struct pem *p, char *err, size_t errlen)
{
	struct stat	 st;
	struct dirent	*de;
	DIR		*d;
	char		 f[PATH_MAX];
	int		 r = 0;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "tls.ca: %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return file_append(path, p, err, errlen);
	if ((d = opendir(path)) == NULL) {
		snprintf(err, errlen, "tls.ca: %s: %s", path, strerror(errno));
		return -1;
	}
	while (r == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, de->d_name);
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode))
			r = file_append(f, p, err, errlen);
	}
	closedir(d);
	return r;
}

int
tls_files_read(const struct config *cf, struct tls_files *t, char *err,
    size_t errlen)
{
	memset(t, 0, sizeof(*t));
	if (file_append(cf->tls.cert, &t->cert, err, errlen) == -1 ||
	    file_append(cf->tls.key, &t->key, err, errlen) == -1)
		goto fail;
	if (cf->tls.ca != NULL && *cf->tls.ca != '\0' &&
	    ca_read(cf->tls.ca, &t->ca, err, errlen) == -1)
		goto fail;
	/* tls.auth on: tls.ca is added to the system roots (§1.1). */
	if (cf->tls.auth == TLS_AUTH_ON && access(SYSTEM_ROOTS, R_OK) == 0 &&
	    file_append(SYSTEM_ROOTS, &t->ca, err, errlen) == -1)
		goto fail;
	return 0;
fail:
	tls_files_free(t);
	return -1;
}

void
tls_files_free(struct tls_files *t)
{
	freezero(t->cert.data, t->cert.len);
	freezero(t->key.data, t->key.len);
	freezero(t->key_der.data, t->key_der.len);
	freezero(t->ca.data, t->ca.len);
	memset(t, 0, sizeof(*t));
}

/*
 * The crypto process gets the key unencrypted, so it never needs the
 * password; every copy made here is wiped (OpenSSL clears the key's own
 * when freed).
 */
int
tls_key_decrypt(struct tls_files *t, const char *password, char *err,
    size_t errlen)
{
	PKCS8_PRIV_KEY_INFO	*p8 = NULL;
	enum sign_keytype	 type;
	unsigned char		*der = NULL;
	EVP_PKEY		*pk = NULL;
	BIO			*bio;
	char			 why[160];
	int			 n = 0, r = -1;

	freezero(t->key_der.data, t->key_der.len);
	t->key_der.data = NULL;
	t->key_der.len = 0;
	if ((bio = BIO_new_mem_buf(t->key.data, (int)t->key.len)) != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, tls_password_cb,
		    (void *)password);
	BIO_free(bio);
	if (pk == NULL) {
		snprintf(err, errlen, "TLS private key (wrong password or "
		    "not a PEM private key)");
		goto out;
	}
	if (sign_key_type(pk, &type, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "TLS private key: %s", why);
		goto out;
	}
	if ((p8 = EVP_PKEY2PKCS8(pk)) == NULL ||
	    (n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der)) <= 0) {
		snprintf(err, errlen, "TLS private key: cannot encode it");
		goto out;
	}
	t->key_der.data = xmemdup(der, (size_t)n);
	t->key_der.len = (size_t)n;
	r = 0;
out:
	if (der != NULL)
		OPENSSL_clear_free(der, (size_t)n);
	PKCS8_PRIV_KEY_INFO_free(p8);
	EVP_PKEY_free(pk);
	ERR_clear_error();
	return r;
}
