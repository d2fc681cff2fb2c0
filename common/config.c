/*
 * The server configuration file: libyaml document in, struct config out.
 * Sections other than `keystore:` are read here; config_yaml.c has the
 * typed getters, config_value.c the duration and log-level syntaxes.
 */
#include <sys/types.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/config_legacy.h"
#include "common/config_toml.h"
#include "common/log.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/stores.h"

#define CONFIG_MAXSIZE	(1024 * 1024)	/* a config is a few KiB */
#define DEFAULT_ANY_MS	(5 * 60 * 1000)
#define DEFAULT_UNUSED_MS (30 * 1000)
#define WORKERS_MAX	256

#define NAME_EXPECTED	"1 to 80 characters from A-Z a-z 0-9 _ - with no " \
			"'-' first or last"

static struct config *
config_new(const char *file)
{
	struct config	*c;

	c = xcalloc(1, sizeof(*c));
	c->file = xstrdup(file);
	c->address = xstrdup(CONFIG_DEFAULT_ADDR);
	c->tls.auth = TLS_AUTH_OFF;
	c->cache.any_ms = DEFAULT_ANY_MS;
	c->cache.unused_ms = DEFAULT_UNUSED_MS;
	c->cache.offline_ms = 0;
	c->log.error = LOG_LVL_INFO;
	c->log.audit = LOG_LVL_INFO;
	c->server.workers = 0;
	c->server.user = xstrdup(CONFIG_DEFAULT_USER);
	c->server.chroot = xstrdup(CONFIG_DEFAULT_CHROOT);
	c->server.mlock = true;
	return c;
}

/* The line of item i of the list under key, for messages about it. */
static size_t
item_line(const struct cfg_parser *p, const struct cfg_sect *s,
    const char *key, size_t i)
{
	yaml_node_t	*n, *item;
	size_t		 line = s->line;

	n = cfg_lookup(p, s, key, &line);
	if (n == NULL || n->type != YAML_SEQUENCE_NODE ||
	    i >= (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start))
		return line;
	item = yaml_document_get_node(p->doc, n->data.sequence.items.start[i]);
	return item != NULL ? cfg_line(item) : line;
}

static int
parse_version(struct cfg_parser *p, const struct cfg_sect *top)
{
	yaml_node_t	*n;
	const char	*v;
	char		 q[CFG_QUOTELEN];

	/* Not substituted: KES reads it before anything else (findVersion). */
	if ((n = cfg_lookup(p, top, "version", NULL)) == NULL ||
	    cfg_is_null(n))
		return 0;
	if (cfg_scalar(p, n, "version", false, &v) == -1)
		return -1;
	if (strcmp(v, "v1") != 0)
		return cfg_error(p, cfg_line(n), "version", "'%s' is not a "
		    "supported config version; expected v1",
		    cfg_quote(v, q, sizeof(q)));
	return 0;
}

/* NULL if a is <IPv4>:<port> or [<IPv6>]:<port>, else what is wrong. */
static const char *
address_problem(const char *a)
{
	char		 host[INET6_ADDRSTRLEN];
	unsigned char	 ip[sizeof(struct in6_addr)];
	const char	*h, *e, *port;
	size_t		 hlen, i;
	unsigned long	 n = 0;
	int		 af;

	if (a[0] == '[') {
		if ((e = strchr(a, ']')) == NULL)
			return "'[' without ']'";
		if (e[1] != ':')
			return "no port after the IPv6 address";
		h = a + 1;
		hlen = (size_t)(e - h);
		port = e + 2;
		af = AF_INET6;
	} else {
		if ((e = strrchr(a, ':')) == NULL)
			return "no port";
		if (memchr(a, ':', (size_t)(e - a)) != NULL)
			return "an IPv6 host must be in brackets";
		h = a;
		hlen = (size_t)(e - a);
		port = e + 1;
		af = AF_INET;
	}
	if (hlen == 0)
		return "no host";
	if (hlen >= sizeof(host))
		return "the host is not an IP address";
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	if (inet_pton(af, host, ip) != 1)
		return af == AF_INET ? "the host is not an IPv4 address "
		    "(host names are not accepted)" :
		    "the host is not an IPv6 address";
	for (i = 0; port[i] != '\0'; i++) {
		if (port[i] < '0' || port[i] > '9' || i >= 5)
			return "the port is not a number from 1 to 65535";
		n = n * 10 + (unsigned long)(port[i] - '0');
	}
	if (i == 0 || n == 0 || n > 65535)
		return "the port is not a number from 1 to 65535";
	return NULL;
}

static int
parse_address(struct cfg_parser *p, const struct cfg_sect *top)
{
	struct config	*c = p->cfg;
	const char	*why;
	char		*a, q[CFG_QUOTELEN];
	size_t		 line = top->line;

	if (cfg_get_str(p, top, "address", &c->address) == -1)
		return -1;
	/* Go's ":7373" form: every interface, like the default. */
	if (c->address[0] == ':') {
		xasprintf(&a, "0.0.0.0%s", c->address);
		free(c->address);
		c->address = a;
	}
	if ((why = address_problem(c->address)) == NULL)
		return 0;
	(void)cfg_lookup(p, top, "address", &line);
	return cfg_error(p, line, "address", "'%s': %s; expected an IP "
	    "address and a port, e.g. 0.0.0.0:7373 or [::]:7373",
	    cfg_quote(c->address, q, sizeof(q)), why);
}

/*
 * An identity is 64 lowercase hex characters. KES documents 'disabled'
 * (and its examples '_') to turn admin access off; any other value that
 * cannot be an identity did the same silently, so a mistyped identity
 * (uppercase, one character short, an unset ${VAR} glued to text) left
 * the server without an admin and nobody told. Refuse it.
 */
static int
check_admin_identity(struct cfg_parser *p, const struct cfg_sect *s,
    const char *id)
{
	char	 q[CFG_QUOTELEN];
	size_t	 line = 0, n = strlen(id);

	if (strcmp(id, "disabled") == 0 || strcmp(id, "_") == 0)
		return 0;
	if (n == 64 && strspn(id, "0123456789abcdef") == 64)
		return 0;
	(void)cfg_lookup(p, s, "identity", &line);
	if (n == 64 && strspn(id, "0123456789abcdefABCDEF") == 64)
		return cfg_error(p, line, "admin.identity", "'%s' has "
		    "uppercase letters; expected the identity in lowercase "
		    "hexadecimal", cfg_quote(id, q, sizeof(q)));
	return cfg_error(p, line, "admin.identity", "'%s' is not an "
	    "identity; expected 64 lowercase hexadecimal characters (the "
	    "SHA-256 of a public key, as `keyward identity of CERT` prints "
	    "it), or 'disabled' to turn admin access off",
	    cfg_quote(id, q, sizeof(q)));
}

static int
parse_admin(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const admin_keys[] = { "identity", NULL };
	struct config	*c = p->cfg;
	struct cfg_sect	 s;
	bool		 old;

	if (cfg_sect_open(p, top, "admin", admin_keys, &s) == -1 ||
	    cfg_get_str(p, &s, "identity", &c->admin_identity) == -1)
		return -1;
	old = cfg_lookup(p, top, "root", NULL) != NULL;
	if (cfg_require(p, &s, "identity", c->admin_identity, old ?
	    "the admin identity (KES v0.17.2 renamed 'root:' to "
	    "'admin: identity:')" :
	    "the admin identity, or e.g. 'disabled' to turn admin "
	    "access off") == -1)
		return -1;
	if (old)
		cfg_legacy(p, top, "root", "KES v0.17.2 and later read "
		    "admin.identity");
	return check_admin_identity(p, &s, c->admin_identity);
}

static int
parse_tls(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const tls_keys[] = {
		"key", "cert", "password", "auth", "ca", "proxy", NULL
	};
	static const char *const proxy_keys[] = {
		"identities", "header", NULL
	};
	static const char *const header_keys[] = { "cert", NULL };
	struct config	*c = p->cfg;
	struct cfg_sect	 s, proxy, header;
	char		*auth = NULL, path[CFG_PATHLEN], q[CFG_QUOTELEN];
	size_t		 i, line;
	int		 rc = 0;

	if (cfg_sect_open(p, top, "tls", tls_keys, &s) == -1 ||
	    cfg_get_fields(p, &s, (const struct cfg_field[]){
	    { "key", &c->tls.key, "the path of the server's private key" },
	    { "cert", &c->tls.cert, "the path of the server's certificate" },
	    { "password", &c->tls.password, NULL },
	    { "ca", &c->tls.ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;

	if (cfg_get_str(p, &s, "auth", &auth) == -1)
		return -1;
	if (auth == NULL || auth[0] == '\0' || strcasecmp(auth, "off") == 0)
		c->tls.auth = TLS_AUTH_OFF;
	else if (strcasecmp(auth, "on") == 0)
		c->tls.auth = TLS_AUTH_ON;
	else {
		line = s.line;
		(void)cfg_lookup(p, &s, "auth", &line);
		rc = cfg_error(p, line, "tls.auth", "'%s' is not valid; "
		    "expected on or off", cfg_quote(auth, q, sizeof(q)));
	}
	free(auth);
	if (rc == -1)
		return -1;

	if (cfg_sect_open(p, &s, "proxy", proxy_keys, &proxy) == -1 ||
	    cfg_sect_open(p, &proxy, "header", header_keys, &header) == -1 ||
	    cfg_get_list(p, &proxy, "identities", true,
	    &c->tls.proxy_identities, &c->tls.nproxy_identities) == -1 ||
	    cfg_get_str(p, &header, "cert", &c->tls.proxy_header_cert) == -1)
		return -1;
	for (i = 0; i < c->tls.nproxy_identities; i++) {
		if (strcmp(c->tls.proxy_identities[i], c->admin_identity) != 0)
			continue;
		cfg_pathf(path, "tls.proxy.identities[%zu]", i);
		return cfg_error(p, item_line(p, &proxy, "identities", i),
		    path, "'%s' is the admin identity; expected a proxy "
		    "identity other than admin.identity",
		    cfg_quote(c->admin_identity, q, sizeof(q)));
	}
	if (c->tls.nproxy_identities > 0 || c->tls.proxy_header_cert != NULL)
		cfg_warn(p, proxy.line, "tls.proxy", "checked but not used: "
		    "like KES, keyward does not take client certificates "
		    "from a proxy header");
	return 0;
}

/*
 * Like KES (cmd/kes/server.go configureCache), 0 means the default for
 * any and unused. KES then sets any instead of unused to 30 s when unused
 * is 0; that bug is not copied.
 */
static int
parse_cache(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const cache_keys[] = { "expiry", NULL };
	static const char *const expiry_keys[] = {
		"any", "unused", "offline", NULL
	};
	struct config	*c = p->cfg;
	struct cfg_sect	 s, e;

	if (cfg_sect_open(p, top, "cache", cache_keys, &s) == -1 ||
	    cfg_sect_open(p, &s, "expiry", expiry_keys, &e) == -1 ||
	    cfg_get_duration(p, &e, "any", &c->cache.any_ms) == -1 ||
	    cfg_get_duration(p, &e, "unused", &c->cache.unused_ms) == -1 ||
	    cfg_get_duration(p, &e, "offline", &c->cache.offline_ms) == -1)
		return -1;
	if (c->cache.any_ms == 0)
		c->cache.any_ms = DEFAULT_ANY_MS;
	if (c->cache.unused_ms == 0)
		c->cache.unused_ms = DEFAULT_UNUSED_MS;
	return 0;
}

static int
get_loglevel(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    int *level)
{
	yaml_node_t	*n;
	const char	*v;
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN];

	if ((n = cfg_lookup(p, s, key, NULL)) == NULL || cfg_is_null(n))
		return 0;
	cfg_join(path, s->path, key);
	if (cfg_scalar(p, n, path, true, &v) == -1)
		return -1;
	if (config_parse_loglevel(v, level) == -1)
		return cfg_error(p, cfg_line(n), path, "'%s' is not a log "
		    "level; expected on, off, DEBUG, INFO, WARN, ERROR, a "
		    "level plus an offset such as INFO+2, or an integer",
		    cfg_quote(v, q, sizeof(q)));
	return 0;
}

static int
parse_log(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const log_keys[] = { "error", "audit", NULL };
	struct config	*c = p->cfg;
	struct cfg_sect	 s;

	if (cfg_sect_open(p, top, "log", log_keys, &s) == -1 ||
	    get_loglevel(p, &s, "error", &c->log.error) == -1 ||
	    get_loglevel(p, &s, "audit", &c->log.audit) == -1)
		return -1;
	return 0;
}

/* api: a map keyed by route path; the keys are never substituted. */
static int
parse_api(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const route_keys[] = {
		"timeout", "skip_auth", NULL
	};
	struct config		*c = p->cfg;
	struct api_route_cfg	*r;
	struct cfg_sect		 api, s;
	yaml_node_pair_t	*pair;
	yaml_node_t		*k;
	const char		*route;
	char			 path[CFG_PATHLEN], q[CFG_QUOTELEN];

	if (cfg_sect_open(p, top, "api", NULL, &api) == -1)
		return -1;
	if (api.map == NULL)
		return 0;
	for (pair = api.map->data.mapping.pairs.start;
	    pair < api.map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(p->doc, pair->key);
		route = (const char *)k->data.scalar.value;
		cfg_join(path, "api", route);
		if (route[0] != '/')
			return cfg_error(p, cfg_line(k), path, "'%s' is not "
			    "a route path; expected a path such as /v1/status",
			    cfg_quote(route, q, sizeof(q)));
		if (cfg_sect_node(p, yaml_document_get_node(p->doc,
		    pair->value), cfg_line(k), path, route_keys, &s) == -1)
			return -1;
		c->api = xreallocarray(c->api, c->napi + 1, sizeof(*c->api));
		r = &c->api[c->napi++];
		memset(r, 0, sizeof(*r));
		r->path = xstrdup(route);
		if (cfg_get_duration(p, &s, "timeout", &r->timeout_ms) == -1 ||
		    cfg_get_bool(p, &s, "skip_auth", &r->skip_auth) == -1)
			return -1;
	}
	return 0;
}

/*
 * Since KES 2023-11 a pattern is an exact path or a prefix ending in '*';
 * files written for the older path.Match globbing still parse but mean
 * something else, so say so.
 */
static void
check_patterns(struct cfg_parser *p, const struct cfg_sect *s,
    const char *key, char **v, size_t n)
{
	const char	*star;
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN];
	size_t		 i, line;

	for (i = 0; i < n; i++) {
		cfg_pathf(path, "%s.%s[%zu]", s->path, key, i);
		line = item_line(p, s, key, i);
		star = strchr(v[i], '*');
		if (v[i][0] == '\0')
			cfg_warn(p, line, path, "an empty pattern never "
			    "matches");
		else if (v[i][0] != '/' && strcmp(v[i], "*") != 0)
			cfg_warn(p, line, path, "'%s' does not start with "
			    "'/' and never matches a request path",
			    cfg_quote(v[i], q, sizeof(q)));
		else if ((star != NULL && star[1] != '\0') ||
		    strpbrk(v[i], "?[") != NULL)
			cfg_warn(p, line, path, "'%s': only a trailing '*' "
			    "is a wildcard since KES 2023-11; '*', '?' and '[' "
			    "elsewhere match themselves",
			    cfg_quote(v[i], q, sizeof(q)));
	}
}

/* The policy an identity is already bound to, or NULL. */
static const char *
bound_policy(const struct config *c, const char *id)
{
	size_t	 i, j;

	for (i = 0; i < c->npolicies; i++)
		for (j = 0; j < c->policies[i].nidentities; j++)
			if (strcmp(c->policies[i].identities[j], id) == 0)
				return c->policies[i].name;
	return NULL;
}

static int
check_identities(struct cfg_parser *p, const struct cfg_sect *s,
    struct policy *pol)
{
	struct config	*c = p->cfg;
	const char	*id, *other;
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN], q2[CFG_QUOTELEN];
	size_t		 i, j, line;

	for (i = 0; i < pol->nidentities; i++) {
		id = pol->identities[i];
		cfg_pathf(path, "%s.identities[%zu]", s->path, i);
		line = item_line(p, s, "identities", i);
		if (!kes_valid_name(id))
			return cfg_error(p, line, path, "'%s' is not a valid "
			    "identity; expected 64 hex characters (or "
			    NAME_EXPECTED ")", cfg_quote(id, q, sizeof(q)));
		if (strcmp(id, c->admin_identity) == 0)
			return cfg_error(p, line, path, "'%s' is the admin "
			    "identity; expected admin.identity in no policy",
			    cfg_quote(id, q, sizeof(q)));
		for (j = 0; j < c->tls.nproxy_identities; j++)
			if (strcmp(id, c->tls.proxy_identities[j]) == 0)
				return cfg_error(p, line, path, "'%s' is a "
				    "TLS proxy identity; expected proxies in "
				    "no policy", cfg_quote(id, q, sizeof(q)));
		other = bound_policy(c, id);
		for (j = 0; other == NULL && j < i; j++)
			if (strcmp(id, pol->identities[j]) == 0)
				other = pol->name;
		if (other != NULL)
			return cfg_error(p, line, path, "identity '%s' "
			    "already has policy '%s'; expected each identity "
			    "in at most one policy",
			    cfg_quote(id, q, sizeof(q)),
			    cfg_quote(other, q2, sizeof(q2)));
	}
	return 0;
}

/* policy: a map keyed by policy name; names are never substituted. */
static int
parse_policy(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const policy_keys[] = {
		"allow", "deny", "identities", "paths", NULL
	};
	struct config		*c = p->cfg;
	struct policy		 pol;
	struct cfg_sect		 all, s;
	yaml_node_pair_t	*pair;
	yaml_node_t		*k;
	const char		*name;
	char			 path[CFG_PATHLEN], q[CFG_QUOTELEN];
	int			 rc;

	if (cfg_sect_open(p, top, "policy", NULL, &all) == -1)
		return -1;
	if (all.map == NULL)
		return 0;
	for (pair = all.map->data.mapping.pairs.start;
	    pair < all.map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(p->doc, pair->key);
		name = (const char *)k->data.scalar.value;
		cfg_join(path, "policy", name);
		if (!kes_valid_name(name))
			return cfg_error(p, cfg_line(k), path, "'%s' is not a "
			    "valid policy name; expected " NAME_EXPECTED,
			    cfg_quote(name, q, sizeof(q)));
		if (cfg_sect_node(p, yaml_document_get_node(p->doc,
		    pair->value), cfg_line(k), path, policy_keys, &s) == -1)
			return -1;
		cfg_legacy(p, &s, "paths", "KES v0.15 replaced it with allow "
		    "and deny; this policy grants nothing from it");

		memset(&pol, 0, sizeof(pol));
		pol.name = xstrdup(name);
		/* Patterns are never substituted, as in KES. */
		rc = cfg_get_list(p, &s, "allow", false, &pol.allow,
		    &pol.nallow);
		if (rc == 0)
			rc = cfg_get_list(p, &s, "deny", false, &pol.deny,
			    &pol.ndeny);
		if (rc == 0)
			rc = cfg_get_list(p, &s, "identities", true,
			    &pol.identities, &pol.nidentities);
		if (rc == 0)
			rc = check_identities(p, &s, &pol);
		c->policies = xreallocarray(c->policies, c->npolicies + 1,
		    sizeof(*c->policies));
		c->policies[c->npolicies++] = pol;
		if (rc == -1)
			return -1;
		check_patterns(p, &s, "allow", pol.allow, pol.nallow);
		check_patterns(p, &s, "deny", pol.deny, pol.ndeny);
	}
	return 0;
}

static int
parse_keys(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const key_keys[] = { "name", NULL };
	struct config		*c = p->cfg;
	struct cfg_sect		 s;
	yaml_node_item_t	*it;
	yaml_node_t		*n, *item;
	char			*name, path[CFG_PATHLEN], q[CFG_QUOTELEN];
	size_t			 i, j, line = top->line;

	if ((n = cfg_lookup(p, top, "keys", &line)) == NULL || cfg_is_null(n))
		return 0;
	if (n->type == YAML_MAPPING_NODE)
		return cfg_error(p, line, "keys", "is a mapping; expected a "
		    "list of '- name: <key>' (KES v0.14 renamed this "
		    "keystore section to 'keystore:')");
	if (n->type != YAML_SEQUENCE_NODE)
		return cfg_error(p, line, "keys", "is %s; expected a list of "
		    "'- name: <key>'", cfg_kind(n));
	for (it = n->data.sequence.items.start, i = 0;
	    it < n->data.sequence.items.top; it++, i++) {
		item = yaml_document_get_node(p->doc, *it);
		cfg_pathf(path, "keys[%zu]", i);
		if (cfg_sect_node(p, item, cfg_line(item), path, key_keys,
		    &s) == -1)
			return -1;
		name = NULL;
		if (cfg_get_str(p, &s, "name", &name) == -1)
			return -1;
		c->keys = xreallocarray(c->keys, c->nkeys + 1,
		    sizeof(*c->keys));
		c->keys[c->nkeys++] = name;
		if (cfg_require(p, &s, "name", name, "a key name") == -1)
			return -1;
		cfg_join(path, s.path, "name");
		line = cfg_line(item);
		if (!kes_valid_name(name))
			return cfg_error(p, line, path, "'%s' is not a valid "
			    "key name; expected " NAME_EXPECTED,
			    cfg_quote(name, q, sizeof(q)));
		for (j = 0; j + 1 < c->nkeys; j++)
			if (strcmp(c->keys[j], name) == 0)
				return cfg_error(p, line, path, "key '%s' is "
				    "defined more than once; expected unique "
				    "key names", cfg_quote(name, q, sizeof(q)));
	}
	return 0;
}

/* server.workers and server.crypto: an integer from 1 to max, or (crypto
 * only) "auto", which leaves *out 0. */
static int
parse_count(struct cfg_parser *p, struct cfg_sect *s, const char *key,
    const char *what, unsigned int max, bool auto_ok, unsigned int *out)
{
	yaml_node_t	*n;
	const char	*v;
	char		 q[CFG_QUOTELEN], path[32];
	size_t		 i;
	unsigned int	 w = 0;

	(void)snprintf(path, sizeof(path), "server.%s", key);
	if ((n = cfg_lookup(p, s, key, NULL)) == NULL || cfg_is_null(n))
		return 0;
	if (cfg_scalar(p, n, path, true, &v) == -1)
		return -1;
	if (auto_ok && strcmp(v, "auto") == 0) {
		*out = 0;
		return 0;
	}
	for (i = 0; v[i] >= '0' && v[i] <= '9' && w <= max; i++)
		w = w * 10 + (unsigned int)(v[i] - '0');
	if (i == 0 || v[i] != '\0' || w < 1 || w > max)
		return cfg_error(p, cfg_line(n), path, "'%s' is not %s; "
		    "expected an integer from 1 to %u%s",
		    cfg_quote(v, q, sizeof(q)), what, max,
		    auto_ok ? " or auto" : "");
	*out = w;
	return 0;
}

static int
parse_server(struct cfg_parser *p, const struct cfg_sect *top)
{
	static const char *const server_keys[] = {
		"workers", "crypto", "user", "chroot", "mlock", NULL
	};
	struct config	*c = p->cfg;
	struct cfg_sect	 s;
	char		 q[CFG_QUOTELEN];
	size_t		 line;

	if (cfg_sect_open(p, top, "server", server_keys, &s) == -1)
		return -1;
	if (parse_count(p, &s, "workers", "a worker count", WORKERS_MAX,
	    false, &c->server.workers) == -1 ||
	    parse_count(p, &s, "crypto", "a count of crypto processes",
	    CRYPTO_MAX, true, &c->server.crypto) == -1)
		return -1;
	if (cfg_get_fields(p, &s, (const struct cfg_field[]){
	    { "user", &c->server.user, "the user the children run as" },
	    { "chroot", &c->server.chroot, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_bool(p, &s, "mlock", &c->server.mlock) == -1)
		return -1;
	if (c->server.chroot[0] != '/') {
		line = s.line;
		(void)cfg_lookup(p, &s, "chroot", &line);
		return cfg_error(p, line, "server.chroot", "'%s' is not an "
		    "absolute path; expected an empty directory such as "
		    CONFIG_DEFAULT_CHROOT,
		    cfg_quote(c->server.chroot, q, sizeof(q)));
	}
	return 0;
}

static int
parse_root(struct cfg_parser *p, yaml_node_t *root)
{
	static const char *const root_keys[] = {
		"version", "address", "admin", "tls", "cache", "log", "api",
		"policy", "keys", "keystore", "server", "root", NULL
	};
	struct cfg_sect	 top;

	if (root->type != YAML_MAPPING_NODE)
		return cfg_error(p, cfg_line(root), "config", "is %s; expected "
		    "a mapping of settings (admin, tls, keystore, ...)",
		    cfg_kind(root));
	if (cfg_sect_node(p, root, 1, "", root_keys, &top) == -1)
		return -1;
	/* The order of KES's checks, so both report the same first error. */
	if (parse_version(p, &top) == -1 ||
	    parse_address(p, &top) == -1 ||
	    parse_admin(p, &top) == -1 ||
	    parse_tls(p, &top) == -1 ||
	    parse_cache(p, &top) == -1 ||
	    parse_log(p, &top) == -1 ||
	    parse_api(p, &top) == -1 ||
	    parse_policy(p, &top) == -1 ||
	    parse_keys(p, &top) == -1 ||
	    cfg_parse_keystore(p, &top) == -1 ||
	    parse_server(p, &top) == -1)
		return -1;
	return 0;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	 n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/*
 * TOML or YAML, as KES v0.3 – v0.7 chose and better: a name ending in
 * .toml is TOML; anything else is YAML unless it fails as YAML (or is not
 * a mapping) and reads as TOML (shared/spec/keystores-cloud-and-legacy-
 * config.md §7.4). When neither reads, the YAML reading is reported.
 */
static int
load_any(struct cfg_parser *p, yaml_parser_t *y, const char *text,
    size_t len, const char *name, bool *toml)
{
	struct cfg_parser	 tp;
	yaml_document_t		 tdoc;
	yaml_node_t		*root;
	char			 terr[CONFIG_ERRLEN];
	int			 rc;

	*toml = false;
	if (name != NULL && ends_with(name, ".toml")) {
		*toml = true;
		return cfg_load_toml(p, text, len);
	}
	rc = cfg_load(p, y, text, len);
	if ((rc == 0 && ((root = yaml_document_get_root_node(p->doc)) ==
	    NULL || root->type == YAML_MAPPING_NODE)) || (name != NULL &&
	    (ends_with(name, ".yml") || ends_with(name, ".yaml"))))
		return rc;
	tp = *p;
	tp.doc = &tdoc;
	tp.err = terr;
	tp.errlen = sizeof(terr);
	tp.failed = false;
	if (cfg_load_toml(&tp, text, len) == -1) {
		cfg_doc_free(&tdoc);
		return rc;
	}
	cfg_doc_free(p->doc);
	*p->doc = tdoc;
	p->failed = false;
	if (p->err != NULL && p->errlen > 0)
		p->err[0] = '\0';
	*toml = true;
	cfg_warn(p, 1, NULL, "read as TOML, as KES v0.1 – v0.7 did; name the "
	    "file .toml, or better, move it to YAML");
	return 0;
}

bool	cfg_strict_env;

void
config_set_strict_env(bool strict)
{
	cfg_strict_env = strict;
}

int
config_parse(const char *yaml, size_t len, const char *name,
    struct config **out, char *err, size_t errlen)
{
	struct cfg_parser	 p;
	yaml_parser_t		 y;
	yaml_document_t		 doc;
	yaml_node_t		*root;
	struct config		*c;
	bool			 toml = false;
	int			 rc = -1;

	*out = NULL;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	c = config_new(name != NULL ? name : "<config>");
	memset(&p, 0, sizeof(p));
	p.file = c->file;
	p.cfg = c;
	p.err = err;
	p.errlen = errlen;
	p.doc = &doc;

	if (len > CONFIG_MAXSIZE) {
		(void)cfg_error(&p, 1, "config", "larger than %d bytes; "
		    "expected a config file", CONFIG_MAXSIZE);
		config_free(c);
		return -1;
	}
	if (!yaml_parser_initialize(&y)) {
		(void)cfg_error(&p, 1, "yaml", "out of memory; expected to "
		    "start a YAML parser");
		config_free(c);
		return -1;
	}
	if (yaml == NULL) {
		yaml = "";
		len = 0;
	}
	yaml_parser_set_input_string(&y, (const unsigned char *)yaml, len);
	if (load_any(&p, &y, yaml, len, name, &toml) == 0 &&
	    cfg_legacy_translate(&p, toml) == 0) {
		if ((root = yaml_document_get_root_node(&doc)) == NULL)
			(void)cfg_error(&p, 1, "config", "the file is empty; "
			    "expected a mapping of settings (admin, tls, "
			    "keystore, ...)");
		else if (parse_root(&p, root) == 0)
			rc = 0;
	}
	cfg_unload(&y, &doc);
	if (rc == -1) {
		config_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

static int
load_error(char *err, size_t errlen, const char *path, const char *what,
    int e)
{
	if (err != NULL && errlen > 0)
		(void)snprintf(err, errlen, "%s: %s%s%s; expected a readable "
		    "config file of at most %d bytes", path, what,
		    e ? ": " : "", e ? strerror(e) : "", CONFIG_MAXSIZE);
	return -1;
}

/* The file into a buffer grown by copy, so that no unwiped copy is left. */
static int
read_config(const char *path, char **bufp, size_t *lenp, size_t *capp,
    char *err, size_t errlen)
{
	struct stat	 st;
	char		*buf = NULL, *nbuf;
	size_t		 len = 0, cap = 0, ncap;
	ssize_t		 r;
	int		 fd, rc = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return load_error(err, errlen, path, "cannot open", errno);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		close(fd);
		return load_error(err, errlen, path, "not a regular file", 0);
	}
	for (;;) {
		if (len == cap) {
			if (cap >= CONFIG_MAXSIZE) {
				(void)load_error(err, errlen, path,
				    "too large", 0);
				goto out;
			}
			ncap = cap ? cap * 2 : 16384;
			nbuf = xmalloc(ncap);
			if (len > 0)
				memcpy(nbuf, buf, len);
			freezero(buf, cap);
			buf = nbuf;
			cap = ncap;
		}
		r = read(fd, buf + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			(void)load_error(err, errlen, path, "cannot read",
			    errno);
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = 0;
 out:
	close(fd);
	if (rc == -1) {
		freezero(buf, cap);
		buf = NULL;
		len = cap = 0;
	}
	*bufp = buf;
	*lenp = len;
	*capp = cap;
	return rc;
}

int
config_load(const char *path, struct config **out, char *err, size_t errlen)
{
	char	*buf;
	size_t	 len, cap;
	int	 rc;

	*out = NULL;
	if (read_config(path, &buf, &len, &cap, err, errlen) == -1)
		return -1;
	rc = config_parse(buf, len, path, out, err, errlen);
	freezero(buf, cap);
	return rc;
}

static int
emit_out(void *data, unsigned char *buf, size_t len)
{
	return fwrite(buf, 1, len, data) == len;
}

/*
 * The file as the walker reads it: an old KES layout translated into the
 * current one, written as YAML (--print-config), after config_load has
 * accepted it, so that only a configuration that starts is printed.
 */
int
config_print(const char *path, FILE *out, char *err, size_t errlen)
{
	struct cfg_parser	 p;
	struct config		*c;
	yaml_parser_t		 y;
	yaml_emitter_t		 em;
	yaml_document_t		 doc;
	char			*buf;
	size_t			 len, cap;
	bool			 toml;
	int			 rc = -1;

	if (config_load(path, &c, err, errlen) == -1)
		return -1;
	if (read_config(path, &buf, &len, &cap, err, errlen) == -1) {
		config_free(c);
		return -1;
	}
	memset(&p, 0, sizeof(p));
	p.file = c->file;
	p.cfg = c;
	p.err = err;
	p.errlen = errlen;
	p.doc = &doc;
	if (!yaml_parser_initialize(&y))
		goto out;
	yaml_parser_set_input_string(&y, (const unsigned char *)buf, len);
	if (load_any(&p, &y, buf, len, path, &toml) == 0 &&
	    cfg_legacy_translate(&p, toml) == 0 &&
	    yaml_emitter_initialize(&em)) {
		yaml_emitter_set_output(&em, emit_out, out);
		yaml_emitter_set_unicode(&em, 1);
		if (yaml_emitter_open(&em) && yaml_emitter_dump(&em, &doc) &&
		    yaml_emitter_close(&em) && fflush(out) == 0)
			rc = 0;
		else
			(void)snprintf(err, errlen, "%s: cannot write the "
			    "translated configuration: %s", path,
			    em.problem ? em.problem : "output error");
		/* yaml_emitter_dump emptied the document. */
		yaml_emitter_delete(&em);
	}
	cfg_unload(&y, &doc);
 out:
	freezero(buf, cap);
	config_free(c);
	return rc;
}

void
config_free(struct config *c)
{
	size_t	 i;

	if (c == NULL)
		return;
	freezero_str(c->file);
	freezero_str(c->address);
	freezero_str(c->admin_identity);
	freezero_str(c->tls.key);
	freezero_str(c->tls.cert);
	freezero_str(c->tls.password);
	freezero_str(c->tls.ca);
	freezero_str(c->tls.proxy_header_cert);
	cfg_strv_free(c->tls.proxy_identities, c->tls.nproxy_identities);
	for (i = 0; i < c->napi; i++)
		freezero_str(c->api[i].path);
	free(c->api);
	for (i = 0; i < c->npolicies; i++) {
		freezero_str(c->policies[i].name);
		cfg_strv_free(c->policies[i].allow, c->policies[i].nallow);
		cfg_strv_free(c->policies[i].deny, c->policies[i].ndeny);
		cfg_strv_free(c->policies[i].identities,
		    c->policies[i].nidentities);
	}
	free(c->policies);
	cfg_strv_free(c->keys, c->nkeys);
	cfg_keystore_free(&c->keystore);
	freezero_str(c->server.user);
	freezero_str(c->server.chroot);
	cfg_strv_free(c->warnings, c->nwarnings);
	freezero(c, sizeof(*c));
}

struct config *
config_dev(const char *cert, const char *key, const char *admin,
    const char *ks_path)
{
	struct config	*c;

	c = config_new("<dev>");
	c->admin_identity = xstrdup(admin);
	c->tls.cert = xstrdup(cert);
	c->tls.key = xstrdup(key);
	fs_conf_new(&c->keystore, ks_path);
	return c;
}
