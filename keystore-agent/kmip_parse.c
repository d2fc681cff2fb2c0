/*
 * keystore.kmip: parsed in the parent into struct kmip_conf, with the
 * checks of spec/keystores-vault-ciphertrust-kmip-pkcs11.md §3.1, and
 * carried to the agent in its slice (kmip_settings_put / _get).
 */
#include <arpa/inet.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/kmip_parse.h"

/* What keyward can speak, highest first; the default offer is the first
 * four (§3.1). */
static const struct kmip_version known_versions[] = {
	{ 2, 0 }, { 1, 4 }, { 1, 3 }, { 1, 2 }, { 1, 1 }, { 1, 0 },
};
#define DEFAULT_NVERSIONS	4
#define CIPHERS_MAX		2048

const char *const kmip_keys[] = {
	"endpoints", "versions", "prefix", "object_group", "usage_mask",
	"activate", "create_settle", "timeout", "credentials", "tls", NULL
};

static int	key_error(struct cfg_parser *, const struct cfg_sect *,
		    const char *, const char *, ...)
		    __attribute__((format(printf, 4, 5)));

/* An error blamed on key of s (its line when present). */
static int
key_error(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    const char *fmt, ...)
{
	char	msg[CONFIG_ERRLEN], path[CFG_PATHLEN];
	size_t	line = s->line;
	va_list	ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	(void)cfg_lookup(p, s, key, &line);
	cfg_join(path, s->path, key);
	return cfg_error(p, line, path, "%s", msg);
}

int
kmip_endpoint_split(const char *ep, char host[KMIP_HOST_MAX + 1],
    unsigned int *port, const char **why)
{
	struct in6_addr	 a6;
	const char	*h = ep, *colon, *end;
	unsigned long	 n;
	size_t		 hl;
	char		*e;

	*port = KMIP_PORT_DEFAULT;
	if (strncmp(ep, "kmip://", 7) == 0 || strstr(ep, "://") != NULL) {
		*why = "has a scheme";
		return -1;
	}
	if (inet_pton(AF_INET6, ep, &a6) == 1) {	/* bare IPv6 */
		hl = strlen(ep);
		colon = NULL;
	} else if (ep[0] == '[') {
		if ((end = strchr(ep, ']')) == NULL) {
			*why = "has no closing ']'";
			return -1;
		}
		h = ep + 1;
		hl = (size_t)(end - h);
		if (end[1] == ':')
			colon = end + 1;
		else if (end[1] == '\0')
			colon = NULL;
		else {
			*why = "has something after ']' that is no port";
			return -1;
		}
	} else {
		colon = strrchr(ep, ':');
		hl = colon != NULL ? (size_t)(colon - ep) : strlen(ep);
	}
	if (hl == 0 || hl > KMIP_HOST_MAX) {
		*why = hl == 0 ? "has no host" : "has a host name too long";
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (strcspn(host, " \t\r\n/?#@[]") != hl) {
		*why = "is not a host name or IP address";
		return -1;
	}
	if (ep[0] == '[' && inet_pton(AF_INET6, host, &a6) != 1) {
		*why = "has brackets around something that is no IPv6 address";
		return -1;
	}
	if (colon != NULL) {
		n = strtoul(colon + 1, &e, 10);
		if (colon[1] < '0' || colon[1] > '9' || *e != '\0' || n == 0 ||
		    n > 65535) {
			*why = "has a port that is not 1 to 65535";
			return -1;
		}
		*port = (unsigned int)n;
	}
	return 0;
}

static int
parse_endpoints(struct cfg_parser *p, const struct cfg_sect *s,
    struct kmip_conf *c)
{
	char		 host[KMIP_HOST_MAX + 1], q[CFG_QUOTELEN];
	const char	*why;
	unsigned int	 port;
	size_t		 i;

	if (cfg_get_list(p, s, "endpoints", true, &c->endpoints,
	    &c->nendpoints) == -1)
		return -1;
	if (c->nendpoints == 0)
		return key_error(p, s, "endpoints", "missing or empty; expected "
		    "a list of KMIP servers, host or host:port (port %d "
		    "by default), tried in order", KMIP_PORT_DEFAULT);
	if (c->nendpoints > KMIP_ENDPOINTS_MAX)
		return key_error(p, s, "endpoints", "%zu servers; expected at "
		    "most %d", c->nendpoints, KMIP_ENDPOINTS_MAX);
	for (i = 0; i < c->nendpoints; i++)
		if (kmip_endpoint_split(c->endpoints[i], host, &port,
		    &why) == -1)
			return key_error(p, s, "endpoints", "'%s' %s; expected "
			    "host or host:port, e.g. kms.example.com:5696 or "
			    "[2001:db8::1]:5696",
			    cfg_quote(c->endpoints[i], q, sizeof(q)), why);
	return 0;
}

static int
parse_versions(struct cfg_parser *p, const struct cfg_sect *s,
    struct kmip_conf *c)
{
	yaml_node_t	 *node = cfg_lookup(p, s, "versions", NULL);
	char		**v = NULL, q[CFG_QUOTELEN], want[8];
	size_t		  n = 0, i, j, k;
	int		  rc = 0;

	if (cfg_get_list(p, s, "versions", true, &v, &n) == -1)
		return -1;
	if (node == NULL || cfg_is_null(node)) {
		for (i = 0; i < DEFAULT_NVERSIONS; i++)
			c->versions[i] = known_versions[i];
		c->nversions = DEFAULT_NVERSIONS;
		return 0;
	}
	if (n == 0)
		rc = key_error(p, s, "versions", "is empty; expected KMIP "
		    "versions to offer, highest first, of 2.0, 1.4, 1.3, 1.2, "
		    "1.1, 1.0");
	for (i = 0; rc == 0 && i < n; i++) {
		for (k = 0; k < sizeof(known_versions) /
		    sizeof(known_versions[0]); k++) {
			(void)snprintf(want, sizeof(want), "%d.%d",
			    known_versions[k].major, known_versions[k].minor);
			if (strcmp(v[i], want) == 0)
				break;
		}
		if (k == sizeof(known_versions) / sizeof(known_versions[0])) {
			rc = key_error(p, s, "versions", "'%s' is not a KMIP "
			    "version keyward speaks; expected 2.0, 1.4, 1.3, "
			    "1.2, 1.1 or 1.0", cfg_quote(v[i], q, sizeof(q)));
			break;
		}
		for (j = 0; j < c->nversions; j++)
			if (c->versions[j].major == known_versions[k].major &&
			    c->versions[j].minor == known_versions[k].minor)
				break;
		if (j < c->nversions) {
			rc = key_error(p, s, "versions", "'%s' is listed twice; "
			    "expected each version once", v[i]);
			break;
		}
		c->versions[c->nversions++] = known_versions[k];
	}
	cfg_strv_free(v, n);
	return rc;
}

/* A Cryptographic Usage Mask: an unsigned 32-bit integer, decimal or 0x
 * hexadecimal. */
static int
parse_mask(struct cfg_parser *p, const struct cfg_sect *s,
    struct kmip_conf *c)
{
	char			*v = NULL, *e, q[CFG_QUOTELEN];
	unsigned long long	 n;
	int			 rc = 0;

	if (cfg_get_str(p, s, "usage_mask", &v) == -1)
		return -1;
	if (v == NULL)
		return 0;
	n = strtoull(v, &e, 0);
	if (v[0] < '0' || v[0] > '9' || *e != '\0' || n > UINT32_MAX)
		rc = key_error(p, s, "usage_mask", "'%s' is not a usage mask; "
		    "expected an integer from 0 to 4294967295 (KMIP "
		    "Cryptographic Usage Mask bits, 0 by default)",
		    cfg_quote(v, q, sizeof(q)));
	else
		c->usage_mask = (uint32_t)n;
	free(v);
	return rc;
}

static int
parse_tls(struct cfg_parser *p, const struct cfg_sect *s, struct kmip_conf *c)
{
	static const char *const tls_keys[] = {
		"cert", "key", "ca", "server_name", "min_version", "ciphers",
		NULL
	};
	struct cfg_sect	  tls;
	char		 *minv = NULL, **ciph = NULL, q[CFG_QUOTELEN];
	size_t		  nciph = 0, i, len = 0, l;
	int		  rc = 0;

	if (cfg_sect_open(p, s, "tls", tls_keys, &tls) == -1)
		return -1;
	if (tls.map == NULL)
		return key_error(p, s, "tls", "missing; expected tls.cert and "
		    "tls.key, the client certificate KMIP servers "
		    "authenticate keyward with");
	if (cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "cert", &c->cert, "the client certificate (PEM) KMIP servers "
	      "authenticate keyward with" },
	    { "key", &c->key, "the private key (PEM) of tls.cert" },
	    { "ca", &c->ca, NULL },
	    { "server_name", &c->server_name, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (cfg_get_str(p, &tls, "min_version", &minv) == -1)
		return -1;
	if (minv == NULL || strcmp(minv, "1.2") == 0 || minv[0] == '\0')
		c->tls_min = 12;
	else if (strcmp(minv, "1.3") == 0)
		c->tls_min = 13;
	else
		rc = key_error(p, &tls, "min_version", "'%s' is not a TLS "
		    "version; expected \"1.2\" (the default) or \"1.3\"",
		    cfg_quote(minv, q, sizeof(q)));
	free(minv);
	if (rc == -1)
		return -1;

	if (cfg_get_list(p, &tls, "ciphers", true, &ciph, &nciph) == -1)
		return -1;
	for (i = 0; i < nciph; i++) {
		l = strlen(ciph[i]);
		if (l == 0 || strcspn(ciph[i], ": ,\t") != l) {
			rc = key_error(p, &tls, "ciphers", "'%s' is not one "
			    "cipher suite; expected OpenSSL names such as "
			    "ECDHE-ECDSA-AES128-GCM-SHA256, one per entry",
			    cfg_quote(ciph[i], q, sizeof(q)));
			break;
		}
		len += l + 1;
	}
	if (rc == 0 && len > CIPHERS_MAX)
		rc = key_error(p, &tls, "ciphers", "longer than %d bytes in "
		    "all; expected fewer cipher suites", CIPHERS_MAX);
	if (rc == 0) {
		c->ciphers = xcalloc(1, len + 1);
		for (i = 0, len = 0; i < nciph; i++) {
			if (i > 0)
				c->ciphers[len++] = ':';
			l = strlen(ciph[i]);
			memcpy(c->ciphers + len, ciph[i], l);
			len += l;
		}
	}
	cfg_strv_free(ciph, nciph);
	return rc;
}

int
kmip_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = { "username", "password", NULL };
	struct cfg_sect		 cred;
	struct kmip_conf	*c;

	c = xcalloc(1, sizeof(*c));
	*conf = c;
	c->settle_ms = KMIP_SETTLE_DEFAULT_MS;
	c->timeout_ms = KMIP_TIMEOUT_DEFAULT_MS;
	c->tls_min = 12;

	if (parse_endpoints(p, s, c) == -1 || parse_versions(p, s, c) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "prefix", &c->prefix, NULL },
	    { "object_group", &c->group, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (c->prefix == NULL)
		c->prefix = xstrdup("");
	if (c->group == NULL)
		c->group = xstrdup("");
	if (strlen(c->prefix) > KMIP_PREFIX_MAX)
		return key_error(p, s, "prefix", "is %zu bytes; expected at "
		    "most %d, so that prefix and a key name (80 bytes at most) "
		    "fit a KMIP Name of %d bytes", strlen(c->prefix),
		    KMIP_PREFIX_MAX, KMIP_NAME_MAX);
	if (strlen(c->group) > KMIP_NAME_MAX)
		return key_error(p, s, "object_group", "is %zu bytes; expected "
		    "at most %d", strlen(c->group), KMIP_NAME_MAX);
	if (parse_mask(p, s, c) == -1 ||
	    cfg_get_bool(p, s, "activate", &c->activate) == -1 ||
	    cfg_get_duration(p, s, "create_settle", &c->settle_ms) == -1 ||
	    cfg_get_duration(p, s, "timeout", &c->timeout_ms) == -1)
		return -1;
	if (c->settle_ms > KMIP_SETTLE_MAX_MS)
		return key_error(p, s, "create_settle", "is %llu ms; expected "
		    "at most %d ms (a create must end within the agent's 9 s "
		    "limit for a call)", (unsigned long long)c->settle_ms,
		    KMIP_SETTLE_MAX_MS);
	if (c->settle_ms < 1000)
		cfg_warn(p, s->line, NULL, "%s.create_settle is below 1s, the "
		    "resolution of KMIP's Initial Date: two servers creating "
		    "one key at once may both succeed with different values",
		    s->path);
	if (c->timeout_ms == 0)
		return key_error(p, s, "timeout", "is 0; expected the time one "
		    "request may take, connection included (15s by default)");

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "username", &c->username, NULL },
	    { "password", &c->password, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (c->username == NULL)
		c->username = xstrdup("");
	if (c->password == NULL)
		c->password = xstrdup("");
	if (c->password[0] != '\0' && cfg_require(p, &cred, "username",
	    c->username, "a user name to go with credentials.password") == -1)
		return -1;
	return parse_tls(p, s, c);
}

void
kmip_conf_free(void *conf)
{
	struct kmip_conf	*c = conf;
	char			**strs[] = {
		&c->prefix, &c->group, &c->username, &c->password, &c->cert,
		&c->key, &c->ca, &c->server_name, &c->ciphers,
	};
	size_t			 i;

	if (c == NULL)
		return;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (*strs[i] != NULL)
			freezero_str(*strs[i]);
	cfg_strv_free(c->endpoints, c->nendpoints);
	freezero(c, sizeof(*c));
}

/*
 * Settings: u8 n, n x str endpoint; u8 n, n x (u8 major, u8 minor);
 * str prefix, str object_group, u32 usage_mask, u8 activate,
 * u64 create_settle ms, u64 timeout ms, str username, str password,
 * str tls.cert, str tls.key, str tls.ca, str tls.server_name,
 * u8 tls minimum (12, 13), str ciphers (':'-joined). Unset strings "".
 */
int
kmip_settings_put(struct buf *b, const void *conf)
{
	const struct kmip_conf	*c = conf;
	size_t			 i;
	int			 rc;

	rc = buf_put_u8(b, (uint8_t)c->nendpoints);
	for (i = 0; i < c->nendpoints; i++)
		rc |= buf_put_str(b, c->endpoints[i]);
	rc |= buf_put_u8(b, (uint8_t)c->nversions);
	for (i = 0; i < c->nversions; i++)
		rc |= buf_put_u8(b, (uint8_t)c->versions[i].major) |
		    buf_put_u8(b, (uint8_t)c->versions[i].minor);
	rc |= buf_put_str(b, c->prefix) |
	    buf_put_str(b, c->group) |
	    buf_put_u32(b, c->usage_mask) |
	    buf_put_u8(b, c->activate) |
	    buf_put_u64(b, c->settle_ms) |
	    buf_put_u64(b, c->timeout_ms) |
	    buf_put_str(b, c->username) |
	    buf_put_str(b, c->password) |
	    buf_put_str(b, c->cert) |
	    buf_put_str(b, c->key) |
	    buf_put_str(b, c->ca) |
	    buf_put_str(b, c->server_name) |
	    buf_put_u8(b, (uint8_t)c->tls_min) |
	    buf_put_str(b, c->ciphers);
	return rc != 0 ? -1 : 0;
}

int
kmip_settings_get(struct buf *b, struct kmip_conf *c, char *err,
    size_t errlen)
{
	char		 host[KMIP_HOST_MAX + 1];
	const char	*why;
	unsigned int	 port;
	uint8_t		 n, major, minor, act, tmin;
	size_t		 i;

	memset(c, 0, sizeof(*c));
	if (buf_get_u8(b, &n) == -1 || n == 0 || n > KMIP_ENDPOINTS_MAX)
		goto bad;
	c->endpoints = xcalloc(n, sizeof(*c->endpoints));
	for (i = 0; i < n; i++) {
		if (buf_get_strdup(b, &c->endpoints[i]) == -1)
			goto bad;
		c->nendpoints++;
		if (kmip_endpoint_split(c->endpoints[i], host, &port,
		    &why) == -1)
			goto bad;
	}
	if (buf_get_u8(b, &n) == -1 || n == 0 || n > KMIP_VERSIONS_MAX)
		goto bad;
	for (i = 0; i < n; i++) {
		if (buf_get_u8(b, &major) == -1 || buf_get_u8(b, &minor) == -1 ||
		    major < 1 || major > 2 || minor > 4)
			goto bad;
		c->versions[c->nversions].major = major;
		c->versions[c->nversions++].minor = minor;
	}
	if (buf_get_strdup(b, &c->prefix) == -1 ||
	    buf_get_strdup(b, &c->group) == -1 ||
	    buf_get_u32(b, &c->usage_mask) == -1 ||
	    buf_get_u8(b, &act) == -1 || act > 1 ||
	    buf_get_u64(b, &c->settle_ms) == -1 ||
	    buf_get_u64(b, &c->timeout_ms) == -1 ||
	    buf_get_strdup(b, &c->username) == -1 ||
	    buf_get_strdup(b, &c->password) == -1 ||
	    buf_get_strdup(b, &c->cert) == -1 ||
	    buf_get_strdup(b, &c->key) == -1 ||
	    buf_get_strdup(b, &c->ca) == -1 ||
	    buf_get_strdup(b, &c->server_name) == -1 ||
	    buf_get_u8(b, &tmin) == -1 || (tmin != 12 && tmin != 13) ||
	    buf_get_strdup(b, &c->ciphers) == -1 || buf_end(b) == -1)
		goto bad;
	c->activate = act;
	c->tls_min = tmin;
	if (strlen(c->prefix) > KMIP_PREFIX_MAX || c->cert[0] == '\0' ||
	    c->key[0] == '\0' || c->timeout_ms == 0 ||
	    c->settle_ms > KMIP_SETTLE_MAX_MS)
		goto bad;
	return 0;
 bad:
	snprintf(err, errlen, "malformed settings");
	kmip_conf_free(xmemdup(c, sizeof(*c)));
	memset(c, 0, sizeof(*c));
	return -1;
}
