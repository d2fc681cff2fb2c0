/*
 * TLS files a network store reads in its prepare step (as root, before
 * the privilege drop, backend.h): a PEM file, or a CA given as a file or
 * a directory of files, appended to one buffer the store hands to its TLS
 * library in memory once the filter is on.
 * Every network store's (vault_conf.c, ciphertrust_conf.c, kmip_conf.c).
 */
#ifndef KEYWARD_KS_PEMFILE_H
#define KEYWARD_KS_PEMFILE_H

#include <stddef.h>
#include <stdint.h>

#define PEMFILE_MAX		(1u << 20)	/* one file */
#define PEMFILE_CA_FILES_MAX	256		/* files in a CA directory */

/*
 * Append the regular file at path (relative to dfd when not -1) and a
 * newline to *p (NUL-terminated after *len); shown names it in err.
 */
int	pemfile_read(int dfd, const char *path, const char *shown,
	    uint8_t **p, size_t *len, char *err, size_t errlen);
/*
 * A file, or every regular file of a directory (dot files skipped). With
 * PEMFILE_EACH_CERT every file must hold an X.509 certificate (KES's
 * CipherTrust store checked each; the Vault SDK did not).
 */
#define PEMFILE_EACH_CERT	0x1
int	pemfile_read_ca(const char *path, int flags, uint8_t **p, size_t *len,
	    char *err, size_t errlen);

#endif
