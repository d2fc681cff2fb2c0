/*
 * The server configuration: the KES YAML schema (spec/kes-compat.md §7.1)
 * with ${VAR} substitution (§7.2), plus keyward's own `server:` section.
 * Parsed once, as root, by the parent with libyaml. Library code: it never
 * logs or exits; errors and warnings come back as text that names the file,
 * the line and the field and says what was expected.
 */
#ifndef KEYWARD_CONFIG_H
#define KEYWARD_CONFIG_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERRLEN		512
#define CONFIG_DEFAULT_ADDR	"0.0.0.0:7373"
#define CONFIG_DEFAULT_USER	"keyward"
#define CONFIG_DEFAULT_CHROOT	"/var/empty/keyward"
/* server.crypto: at most this many crypto processes; "auto" runs one per
 * CRYPTO_AUTO_WORKERS workers (one served 3.4 busy worker cores with four
 * unpinned workers in make bench, tests/bench/results/). */
#define CRYPTO_MAX		32
#define CRYPTO_AUTO_WORKERS	3

enum tls_auth {
	TLS_AUTH_OFF = 0,	/* "" or off: any certificate, no chain check */
	TLS_AUTH_ON,		/* on: must chain to tls.ca, EKU clientAuth */
};

struct policy {
	char	 *name;
	char	**allow;
	size_t	  nallow;
	char	**deny;
	size_t	  ndeny;
	char	**identities;
	size_t	  nidentities;
};

struct api_route_cfg {
	char		*path;		/* exact route path, e.g. /v1/status */
	uint64_t	 timeout_ms;	/* 0: keep the route's default */
	bool		 skip_auth;
};

/*
 * The one key store: its registration (keystore-agent/backend.h), which
 * parsed its section into conf, a structure only that store reads.
 */
struct ks_backend;
struct keystore_cfg {
	const struct ks_backend	*store;
	void			*conf;
	void			*seal;	/* keystore.seal: a struct
					 * seal_conf, or NULL */
};

struct config {
	char		*file;		/* path it was read from */
	char		*address;	/* host:port, IP literal host */
	char		*admin_identity; /* any non-hex value disables admin */

	struct {
		char		*key, *cert, *password, *ca;
		enum tls_auth	 auth;
		char		**proxy_identities;
		size_t		 nproxy_identities;
		char		*proxy_header_cert;
	} tls;

	struct {
		uint64_t	 any_ms;	/* expiry.any; default 5 min */
		uint64_t	 unused_ms;	/* expiry.unused; default 30 s */
		uint64_t	 offline_ms;	/* expiry.offline; default 0 */
	} cache;

	struct {
		int	 error;		/* enum log_level; LOG_LVL_OFF for off */
		int	 audit;
	} log;

	struct api_route_cfg	*api;
	size_t			 napi;
	struct policy		*policies;
	size_t			 npolicies;
	char			**keys;		/* declarative keys: names */
	size_t			 nkeys;
	struct keystore_cfg	 keystore;

	/* keyward's own section */
	struct {
		unsigned int	 workers;	/* 0 = online CPUs */
		unsigned int	 crypto;	/* crypto processes; 0 = auto
						 * (one per CRYPTO_AUTO_WORKERS
						 * workers) */
		char		*user;		/* default "keyward" */
		char		*chroot;	/* default CONFIG_DEFAULT_CHROOT */
		bool		 mlock;		/* default true; off warns */
	} server;

	/* Non-fatal findings (unknown keys, ignored legacy fields). */
	char		**warnings;
	size_t		 nwarnings;
};

/*
 * Parse a file or a string. On success returns 0 and *out; on error returns
 * -1 and writes one message of the form
 *   "<file>:<line>: <field>: <what is wrong>; expected <what>"
 * into err. `name` is the file name used in messages for config_parse().
 */
int	 config_load(const char *path, struct config **out,
	    char *err, size_t errlen);
/*
 * Write the configuration at path to out as YAML in the current layout
 * (an old KES layout translated), once config_load accepts it. 0 or -1
 * with err.
 */
int	 config_print(const char *path, FILE *out, char *err, size_t errlen);
int	 config_parse(const char *yaml, size_t len, const char *name,
	    struct config **out, char *err, size_t errlen);
void	 config_free(struct config *);
/*
 * KES before v0.22 read a ${VAR} whose variable is not set as empty; a file
 * in such a layout is read so, with a warning per variable, unless strict
 * is set (keyward server --strict-env), and then it is an error as in the
 * current layout. Set before config_load().
 */
void	 config_set_strict_env(bool strict);

/* A config for `keyward server --dev`: fs store at ks_path, given TLS
 * files and admin identity; everything else default. */
struct config	*config_dev(const char *cert, const char *key,
		    const char *admin, const char *ks_path);

/* Go duration ("1h5m", "1.5s", "300ms", "0") to milliseconds. */
int	 config_parse_duration(const char *, uint64_t *ms);
/* log.error / log.audit value to an enum log_level. */
int	 config_parse_loglevel(const char *, int *level);

#endif
