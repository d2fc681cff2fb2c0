/*
 * The throw-away PKI of `keyward server --dev` (spec §7.4): a CA, a server
 * certificate for every local address, and an admin API key with the
 * client certificate made from it, written as PEM files so that both curl
 * (--cacert ca.crt --cert client.crt --key client.key) and KES clients
 * (the API key) can talk to the dev server. The CA's private key is never
 * written: nothing else can be signed with it once devpki_create returns.
 */
#ifndef KEYWARD_DEVPKI_H
#define KEYWARD_DEVPKI_H

#include "common/identity.h"

struct devpki {
	char	*dir;
	char	*ca_cert;	/* paths, all inside dir */
	char	*server_cert;
	char	*server_key;
	char	*client_cert;
	char	*client_key;
	char	*api_key;	/* "kes:v1:..." of the admin; a secret */
	char	 identity[IDENTITY_LEN + 1];	/* the admin identity */
};

/*
 * Writes ca.crt, server.crt, server.key, client.crt and client.key into
 * `dir`, which must exist, be owned by the caller and be closed to group and
 * others. Every file is created exclusively: an existing one makes this
 * fail, and nothing this call created is left behind. Returns 0 or -1
 * (logged).
 */
int	devpki_create(const char *dir, struct devpki *out);
/* Frees the strings, wiping the API key. */
void	devpki_free(struct devpki *);

#endif
