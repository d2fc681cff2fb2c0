/*
 * Inside the offline identity commands: what identity.c (the commands and
 * their output), identity_input.c (reading API keys, certificates and
 * private keys) and identity_mint.c (new certificates and key files)
 * share.
 */
#ifndef KEYWARD_CLI_IDENTITY_INT_H
#define KEYWARD_CLI_IDENTITY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/apikey.h"
#include "common/identity.h"

#define FILE_MAX	(1024 * 1024)	/* no key or certificate is larger */
#define PASS_MAX	1024
#define CN_MAX		64		/* ub-common-name, RFC 5280 */
#define DNS_MAX		253
#define EXPIRY_DEFAULT	"720h"		/* as kes identity new */

/* What a command prints. */
struct result {
	char		 identity[IDENTITY_LEN + 1];
	char		*apikey;	/* a secret: freezero_str() */
	const char	*keyfile;
	const char	*certfile;
};

/* The repeatable --ip and --dns values, split at commas. */
struct names {
	char	**v;
	size_t	  n;
};

/* The options of `identity new`. */
struct newopts {
	const char	*keyfile;
	const char	*certfile;
	const char	*subject;
	struct names	 ips;
	struct names	 dns;
	uint64_t	 secs;
	bool		 expiry_set;
	bool		 encrypt;
	bool		 force;
	bool		 json;
};

/* identity_input.c: an argument naming an API key or a file. */
int	load_input(const char *cmd, const char *arg, bool want_apikey,
	    struct result *);

/* identity_mint.c: --ip and --dns values, and the files of
 * `identity new`. */
void	names_free(struct names *);
int	names_add(struct names *, const char *value, bool ip);
int	new_files(const struct newopts *, const struct apikey *,
	    struct result *);

#endif
