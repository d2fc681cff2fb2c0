/*
 * `keyward server` flags, the old ones of KES included: --root, --key and
 * --cert (and v0.1 – v0.7's --tls-key, --tls-cert), --auth and --mtls-auth
 * override the configuration as KES's flags did; --mlock and -q are
 * accepted and change nothing (keyward always locks its key memory; its
 * start-up banner is one log line).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/log.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "privsep/server_flags.h"

/* --name, -name (Go's flag package) or --name=value / -name=value. */
static const char *
flag_name(const char *arg)
{
	if (arg[0] != '-' || arg[1] == '\0')
		return NULL;
	return arg[1] == '-' ? arg + 2 : arg + 1;
}

/*
 * Does arg name flag `name`? A value comes after '=' or in the next
 * argument; *val gets it (NULL for a boolean without one).
 */
static int
match(const char *arg, const char *name, bool needs_value, int argc,
    char **argv, int *i, const char **val, char *err, size_t errlen)
{
	const char	*n = flag_name(arg);
	size_t		 len = strlen(name);

	if (n == NULL || strncmp(n, name, len) != 0 ||
	    (n[len] != '\0' && n[len] != '='))
		return 0;
	*val = NULL;
	if (n[len] == '=')
		*val = n + len + 1;
	else if (needs_value) {
		if (*i + 1 >= argc) {
			(void)snprintf(err, errlen, "%s needs a value",
			    arg);
			return -1;
		}
		*val = argv[++*i];
	}
	return 1;
}

static int
auth_value(const char *flag, const char *v, bool old, int *auth, char *err,
    size_t errlen)
{
	/* --mtls-auth was case-sensitive; --auth was not. */
	if (old ? strcmp(v, "verify") == 0 : strcasecmp(v, "on") == 0)
		*auth = TLS_AUTH_ON;
	else if (old ? strcmp(v, "ignore") == 0 : strcasecmp(v, "off") == 0)
		*auth = TLS_AUTH_OFF;
	else {
		(void)snprintf(err, errlen, "%s: '%s' is not valid; expected "
		    "%s", flag, v, old ? "verify or ignore" : "on or off");
		return -1;
	}
	return 0;
}

int
server_flags_parse(int argc, char **argv, struct server_flags *f,
    char *err, size_t errlen)
{
	const char	*v;
	bool		 b;
	int		 i, r;

	memset(f, 0, sizeof(*f));
	f->auth = -1;
	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

#define VALUE(name, dst)						\
		if ((r = match(a, name, true, argc, argv, &i, &v, err,	\
		    errlen)) != 0) {					\
			if (r == -1)					\
				return -1;				\
			dst = v;					\
			continue;					\
		}
#define BOOL(name, dst)							\
		if ((r = match(a, name, false, argc, argv, &i, &v, err,	\
		    errlen)) != 0) {					\
			if (v == NULL)					\
				b = true;				\
			else if (strcmp(v, "true") == 0)		\
				b = true;				\
			else if (strcmp(v, "false") == 0)		\
				b = false;				\
			else {						\
				(void)snprintf(err, errlen, "%s: '%s' "	\
				    "is not valid; expected true or "	\
				    "false", a, v);			\
				return -1;				\
			}						\
			dst = b;					\
			continue;					\
		}
		VALUE("config", f->config)
		VALUE("addr", f->addr)
		BOOL("dev", f->dev)
		VALUE("root", f->root)
		VALUE("tls-key", f->key)
		VALUE("tls-cert", f->cert)
		VALUE("key", f->key)
		VALUE("cert", f->cert)
		BOOL("mlock", f->mlock)
		BOOL("quiet", f->quiet)
		BOOL("q", f->quiet)
		BOOL("print-config", f->print_config)
		BOOL("strict-env", f->strict_env)
		if ((r = match(a, "mtls-auth", true, argc, argv, &i, &v, err,
		    errlen)) != 0 || (r = match(a, "auth", true, argc, argv,
		    &i, &v, err, errlen)) != 0) {
			if (r == -1 || auth_value(a, v, strstr(a, "mtls") !=
			    NULL, &f->auth, err, errlen) == -1)
				return -1;
			f->auth_flag = strstr(a, "mtls") != NULL ?
			    "--mtls-auth" : "--auth";
			continue;
		}
#undef VALUE
#undef BOOL
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ||
		    strcmp(a, "-help") == 0)
			return 1;
		if (a[0] == '-')
			(void)snprintf(err, errlen, "unknown flag '%s'", a);
		else
			(void)snprintf(err, errlen, "unexpected argument '%s' "
			    "(KES's stateful mode, `kes server PATH`, is not "
			    "supported); expected --config FILE", a);
		return -1;
	}
	if (f->dev == (f->config != NULL)) {
		(void)snprintf(err, errlen, "give exactly one of --config FILE "
		    "or --dev");
		return -1;
	}
	if (f->print_config && f->config == NULL) {
		(void)snprintf(err, errlen, "--print-config needs --config "
		    "FILE");
		return -1;
	}
	/* The same rule as admin.identity (config.c). */
	if (f->root != NULL && !kes_is_hex_identity(f->root) &&
	    strcmp(f->root, "disabled") != 0 && strcmp(f->root, "_") != 0) {
		(void)snprintf(err, errlen, "--root: not an identity; expected "
		    "64 lowercase hexadecimal characters (`keyward identity of "
		    "CERT` prints it), or 'disabled'");
		return -1;
	}
	if (f->dev && (f->root || f->key || f->cert || f->auth != -1)) {
		(void)snprintf(err, errlen, "--root, --key, --cert and --auth "
		    "do not go with --dev");
		return -1;
	}
	return 0;
}

static void
override(char **dst, const char *v)
{
	if (v == NULL)
		return;
	freezero_str(*dst);
	*dst = xstrdup(v);
}

void
server_flags_apply(const struct server_flags *f, struct config *c,
    bool at_start)
{
	if (f->addr != NULL)
		override(&c->address, f->addr);
	override(&c->admin_identity, f->root);
	override(&c->tls.key, f->key);
	override(&c->tls.cert, f->cert);
	if (f->auth != -1)
		c->tls.auth = (enum tls_auth)f->auth;
	if (!at_start)
		return;
	if (f->root != NULL)
		log_warnx("--root is KES's old flag (before v0.17.2): it sets "
		    "admin.identity, over the configuration file");
	if (f->key != NULL || f->cert != NULL)
		log_warnx("--key/--cert (--tls-key/--tls-cert) are KES's old "
		    "flags: they set tls.key/tls.cert, over the configuration "
		    "file");
	if (f->auth != -1)
		log_warnx("%s is KES's old flag: it sets tls.auth: %s, over "
		    "the configuration file", f->auth_flag,
		    f->auth == TLS_AUTH_ON ? "on" : "off");
	if (f->mlock)
		log_info("--mlock: keyward always locks key memory; the flag "
		    "changes nothing");
}
