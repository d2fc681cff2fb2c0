/*
 * What the parent opens for its children, as root, before any child
 * exists: the listening socket and the TLS files. (Directories: common/dirs.h.)
 */
#ifndef KEYWARD_FILES_H
#define KEYWARD_FILES_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/slice.h"

struct tls_files {
	struct pem	cert;
	struct pem	key;		/* secret */
	struct pem	key_der;	/* secret: the key decrypted, DER
					 * PKCS#8, for the crypto process
					 * (tls_key_decrypt); kept for a
					 * crypto process that restarts */
	struct pem	ca;		/* tls.ca (+ system roots if auth on) */
};

/* Bind and listen on "ip:port" or "[ipv6]:port"; -1 with err. */
int	listener_open(const char *addr, char *err, size_t errlen);
/* Read tls.cert, tls.key and tls.ca (a file or every file of a dir). */
int	tls_files_read(const struct config *, struct tls_files *,
	    char *err, size_t errlen);
void	tls_files_free(struct tls_files *);
/* Decrypt tls.key (with tls.password) into t->key_der; -1 with err when
 * it cannot be, or when it is of a type the signer does not support
 * (privsep/sign.h). */
int	tls_key_decrypt(struct tls_files *t, const char *password,
	    char *err, size_t errlen);
#endif
