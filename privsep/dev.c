/* The development server's throw-away PKI, key store and instructions. */
#include <sys/stat.h>

#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/dirs.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "privsep/dev.h"

struct config *
dev_setup(const char *addr, bool root, struct devpki *dev)
{
	char		 tmpl[] = "/tmp/keyward-dev.XXXXXX", ks[PATH_MAX];
	char		 err[256];
	struct passwd	*pw = NULL;
	struct config	*cf;

	if (mkdtemp(tmpl) == NULL)
		fatal("mkdtemp");
	/* Traversable, so the agent reaches its store below; the private
	 * files in it stay 0600. */
	if (chmod(tmpl, 0711) == -1)
		fatal("chmod %s", tmpl);
	if (devpki_create(tmpl, dev) == -1)
		fatalx("cannot create the development PKI in %s", tmpl);
	snprintf(ks, sizeof(ks), "%s/keys", tmpl);
	if (root && (pw = getpwnam(CONFIG_DEFAULT_USER)) == NULL)
		fatalx("user '%s' does not exist; create it with: useradd "
		    "--system --no-create-home --shell /usr/sbin/nologin %s",
		    CONFIG_DEFAULT_USER, CONFIG_DEFAULT_USER);
	if (dir_ensure(ks, 0700, pw ? pw->pw_uid : (uid_t)-1,
	    pw ? pw->pw_gid : (gid_t)-1, err, sizeof(err)) == -1)
		fatalx("%s", err);
	cf = config_dev(dev->server_cert, dev->server_key, dev->identity, ks);
	if (addr != NULL) {
		free(cf->address);
		cf->address = xstrdup(addr);
	}
	return cf;
}

/* An URL a client on this host can use: wildcard addresses become
 * 127.0.0.1 (the certificate names it). */
static void
local_url(const char *addr, char *url, size_t len)
{
	const char *port = strrchr(addr, ':');

	if (port != NULL && (strncmp(addr, "0.0.0.0:", 8) == 0 ||
	    strncmp(addr, "[::]:", 5) == 0 || addr[0] == ':'))
		snprintf(url, len, "https://127.0.0.1%s", port);
	else
		snprintf(url, len, "https://%s", addr);
}

void
dev_print(const struct config *cf, const struct devpki *dev)
{
	char	url[128], exe[PATH_MAX];
	ssize_t	n;

	local_url(cf->address, url, sizeof(url));
	/* The first command names this binary: it need not be in PATH. */
	if ((n = readlink("/proc/self/exe", exe, sizeof(exe) - 1)) <= 0)
		snprintf(exe, sizeof(exe), "keyward");
	else
		exe[n] = '\0';
	/*
	 * The export lines are meant to be pasted as they are: KES_CAPATH
	 * makes the client trust the throw-away CA without -k.
	 */
	printf("\nkeyward development server (throw-away keys; not for "
	    "production)\n\n"
	    "  files:     %s (removed when the server stops)\n"
	    "  admin:     %s\n"
	    "  API key:   %s\n\n"
	    "Use it with keyward's client commands (those of the kes CLI); "
	    "paste these lines into a shell:\n\n"
	    "  export KES_SERVER=%s\n"
	    "  export KES_API_KEY=%s\n"
	    "  export KES_CAPATH=%s\n"
	    "  %s key create my-key && %s key dek my-key\n\n"
	    "or with curl over mutual TLS:\n\n"
	    "  curl --cacert %s --cert %s --key %s %s/version\n"
	    "  curl --cacert %s --cert %s --key %s %s/v1/status\n\n"
	    "or with MinIO:\n\n"
	    "  export MINIO_KMS_KES_ENDPOINT=%s MINIO_KMS_KES_API_KEY=%s "
	    "MINIO_KMS_KES_CAPATH=%s\n\n",
	    dev->dir, dev->identity, dev->api_key,
	    url, dev->api_key, dev->ca_cert, exe, exe,
	    dev->ca_cert, dev->client_cert, dev->client_key, url,
	    dev->ca_cert, dev->client_cert, dev->client_key, url,
	    url, dev->api_key, dev->ca_cert);
	fflush(stdout);
}
