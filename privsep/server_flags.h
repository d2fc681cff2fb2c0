/*
 * `keyward server`'s command line, with every flag a KES release had
 * (shared/spec/keystores-cloud-and-legacy-config.md §7.6): Go's flag syntax
 * (-addr x, --addr x, --addr=x) and GNU's both accepted.
 */
#ifndef KEYWARD_SERVER_FLAGS_H
#define KEYWARD_SERVER_FLAGS_H

#include <stdbool.h>
#include <stddef.h>

struct config;

struct server_flags {
	const char	*config;
	const char	*addr;
	bool		 dev;
	/* KES's old flags that still mean something: config overrides. */
	const char	*root;		/* --root: admin.identity */
	const char	*key;		/* --key, --tls-key: tls.key */
	const char	*cert;		/* --cert, --tls-cert: tls.cert */
	int		 auth;		/* --auth, --mtls-auth: -1 or an
					 * enum tls_auth */
	const char	*auth_flag;	/* as given, for the warning */
	bool		 mlock;		/* --mlock: keyward always locks */
	bool		 quiet;		/* -q, --quiet */
	bool		 print_config;	/* --print-config: print the file
					 * in the current layout, exit */
	bool		 strict_env;	/* --strict-env: a missing ${VAR}
					 * is an error in old layouts too */
};

/*
 * Parse argv (argv[0] is "server"). Returns 0, 1 for --help, or -1 with a
 * message in err naming the argument and what was expected.
 */
int	 server_flags_parse(int argc, char **argv, struct server_flags *,
	    char *err, size_t errlen);

/*
 * Apply the overrides to a configuration just read (at start and at every
 * reload), logging one deprecation warning per old flag at start only.
 */
void	 server_flags_apply(const struct server_flags *, struct config *,
	    bool at_start);

#endif
