/* TLS files read in a store's prepare step (pemfile.h). */
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/xmalloc.h"
#include "keystore-agent/pemfile.h"

int
pemfile_read(int dfd, const char *path, const char *shown, uint8_t **p,
    size_t *len, char *err, size_t errlen)
{
	struct stat	 st;
	ssize_t		 n;
	size_t		 got = 0, want;
	int		 fd;

	/* O_NONBLOCK: a FIFO put there must not hang the start. */
	fd = openat(dfd == -1 ? AT_FDCWD : dfd, path, O_RDONLY | O_CLOEXEC |
	    O_NONBLOCK | O_NOCTTY);
	if (fd == -1 || fstat(fd, &st) == -1) {
		snprintf(err, errlen, "failed to open '%s': %s", shown,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > PEMFILE_MAX ||
	    *len + (size_t)st.st_size + 2 > 4 * PEMFILE_MAX) {
		snprintf(err, errlen, "'%s': not a regular file of at most %u "
		    "bytes", shown, PEMFILE_MAX);
		close(fd);
		return -1;
	}
	want = (size_t)st.st_size;
	*p = xreallocarray(*p, 1, *len + want + 2);
	while (got < want) {
		n = read(fd, *p + *len + got, want - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(err, errlen, "'%s': %s", shown, n == 0 ?
			    "file shrank while read" : strerror(errno));
			close(fd);
			return -1;
		}
		got += (size_t)n;
	}
	close(fd);
	*len += got;
	/* PEM blocks of the next file start on their own line. */
	(*p)[(*len)++] = '\n';
	(*p)[*len] = '\0';
	return 0;
}

/* Whether buf holds at least one X.509 certificate in PEM. */
static bool
has_cert(const uint8_t *buf, size_t len)
{
	X509	*x;
	BIO	*bio;
	bool	 ok;

	if (len > INT_MAX || (bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		return false;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	ok = x != NULL;
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return ok;
}

/* One CA file, checked when flags say so. */
static int
read_ca_file(int dfd, const char *path, const char *shown, int flags,
    uint8_t **p, size_t *len, char *err, size_t errlen)
{
	size_t before = *len;

	if (pemfile_read(dfd, path, shown, p, len, err, errlen) == -1)
		return -1;
	if ((flags & PEMFILE_EACH_CERT) && !has_cert(*p + before,
	    *len - before)) {
		snprintf(err, errlen, "'%s' does not contain a valid X.509 "
		    "PEM-encoded certificate", shown);
		return -1;
	}
	return 0;
}

int
pemfile_read_ca(const char *path, int flags, uint8_t **p, size_t *len,
    char *err, size_t errlen)
{
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	char		 shown[1024];
	int		 dfd, n = 0, rc = 0;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "failed to open '%s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode))
		return read_ca_file(-1, path, path, flags, p, len, err,
		    errlen);
	if ((dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL) {
		snprintf(err, errlen, "failed to open '%s': %s", path,
		    strerror(errno));
		if (dfd != -1)
			close(dfd);
		return -1;
	}
	while (rc == 0 && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || fstatat(dfd, de->d_name, &st,
		    0) == -1 || !S_ISREG(st.st_mode))
			continue;
		if (++n > PEMFILE_CA_FILES_MAX) {
			snprintf(err, errlen, "'%s': more than %d files", path,
			    PEMFILE_CA_FILES_MAX);
			rc = -1;
			break;
		}
		snprintf(shown, sizeof(shown), "%s/%s", path, de->d_name);
		rc = read_ca_file(dfd, de->d_name, shown, flags, p, len, err,
		    errlen);
	}
	closedir(d);
	if (rc == 0 && *p == NULL) {
		if (flags & PEMFILE_EACH_CERT)
			snprintf(err, errlen, "'%s' does not contain a valid "
			    "X.509 PEM-encoded certificate", path);
		else
			snprintf(err, errlen, "'%s': no CA certificate in it",
			    path);
		rc = -1;
	}
	return rc;
}
