/*
 * keystore.vault: parsed in the parent into struct vault_conf, with KES's
 * checks (spec/keystores-vault-ciphertrust-kmip-pkcs11.md §1.2).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/vault_parse.h"

/* KES reads the JWT from a file when the value contains a '/'. */
static int
check_jwt(struct cfg_parser *p, const struct cfg_sect *s, const char *jwt)
{
	struct stat	 st;
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN];
	size_t		 line = s->line;
	int		 fd;

	if (strchr(jwt, '/') == NULL)
		return 0;
	(void)cfg_lookup(p, s, "jwt", &line);
	cfg_join(path, s->path, "jwt");
	/*
	 * Only the check KES makes (the agent re-reads the file at every
	 * login). stat first so that no device or FIFO is ever opened.
	 */
	if (stat(jwt, &st) == -1)
		return cfg_error(p, line, path, "cannot read '%s': %s; "
		    "expected a JWT or a readable file holding one",
		    cfg_quote(jwt, q, sizeof(q)), strerror(errno));
	if (!S_ISREG(st.st_mode))
		return cfg_error(p, line, path, "'%s' is not a regular file; "
		    "expected a JWT or a readable file holding one",
		    cfg_quote(jwt, q, sizeof(q)));
	if ((fd = open(jwt, O_RDONLY | O_NONBLOCK | O_CLOEXEC |
	    O_NOCTTY)) == -1)
		return cfg_error(p, line, path, "cannot read '%s': %s; "
		    "expected a JWT or a readable file holding one",
		    cfg_quote(jwt, q, sizeof(q)), strerror(errno));
	close(fd);
	return 0;
}

int
vault_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const approle_keys[] = {
		"engine", "namespace", "id", "secret", "retry", NULL
	};
	static const char *const k8s_keys[] = {
		"engine", "namespace", "role", "jwt", "retry", NULL
	};
	static const char *const transit_keys[] = { "engine", "key", NULL };
	static const char *const tls_keys[] = { "key", "cert", "ca", NULL };
	static const char *const status_keys[] = { "ping", NULL };
	struct cfg_sect	 approle, k8s, transit, tls, status;
	struct vault_conf	*c;
	char		*version = NULL, q[CFG_QUOTELEN], path[CFG_PATHLEN];
	size_t		 line;
	int		 rc;

	c = xcalloc(1, sizeof(*c));
	*conf = c;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the Vault URL, e.g. "
	      "https://vault.example.com:8200" },
	    { "engine", &c->engine, NULL },
	    { "namespace", &c->namespace, NULL },
	    { "prefix", &c->prefix, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;

	if (cfg_get_str(p, s, "version", &version) == -1)
		return -1;
	if (version != NULL && strcmp(version, "v1") == 0)
		c->kv_version = 1;
	else if (version != NULL && strcmp(version, "v2") == 0)
		c->kv_version = 2;
	else if (version != NULL && version[0] != '\0') {
		line = s->line;
		(void)cfg_lookup(p, s, "version", &line);
		cfg_join(path, s->path, "version");
		rc = cfg_error(p, line, path, "'%s' is not a K/V engine "
		    "version; expected v1 or v2",
		    cfg_quote(version, q, sizeof(q)));
		free(version);
		return rc;
	}
	free(version);

	if (cfg_sect_open(p, s, "transit", transit_keys, &transit) == -1 ||
	    cfg_get_fields(p, &transit, (const struct cfg_field[]){
	    { "engine", &c->transit.engine, NULL },
	    { "key", &c->transit.key, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (transit.map != NULL && cfg_require(p, &transit, "key",
	    c->transit.key, "the name of the transit key") == -1)
		return -1;

	if (cfg_sect_open(p, s, "approle", approle_keys, &approle) == -1 ||
	    cfg_sect_open(p, s, "kubernetes", k8s_keys, &k8s) == -1)
		return -1;
	if (approle.map == NULL && k8s.map == NULL)
		return cfg_error(p, s->line, s->path, "no authentication "
		    "method; expected an approle or a kubernetes section");
	if (approle.map != NULL && k8s.map != NULL)
		return cfg_error(p, k8s.line, s->path, "both approle and "
		    "kubernetes are set; expected exactly one authentication "
		    "method");
	if (approle.map != NULL) {
		if (cfg_get_fields(p, &approle, (const struct cfg_field[]){
		    { "engine", &c->approle.engine, NULL },
		    { "namespace", &c->approle.namespace, NULL },
		    { "id", &c->approle.id, "the AppRole role ID" },
		    { "secret", &c->approle.secret,
		      "the AppRole secret ID" },
		    { NULL, NULL, NULL } }) == -1)
			return -1;
		cfg_legacy(p, &approle, "retry", "KES dropped it after v0.22");
	} else {
		if (cfg_get_fields(p, &k8s, (const struct cfg_field[]){
		    { "engine", &c->kubernetes.engine, NULL },
		    { "namespace", &c->kubernetes.namespace, NULL },
		    { "role", &c->kubernetes.role, NULL },
		    { "jwt", &c->kubernetes.jwt,
		      "a JWT or the path of a file holding one" },
		    { NULL, NULL, NULL } }) == -1)
			return -1;
		if (check_jwt(p, &k8s, c->kubernetes.jwt) == -1)
			return -1;
		cfg_legacy(p, &k8s, "retry", "KES dropped it after v0.22");
	}

	if (cfg_sect_open(p, s, "tls", tls_keys, &tls) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "key", &c->tls.key, NULL },
	    { "cert", &c->tls.cert, NULL },
	    { "ca", &c->tls.ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (c->tls.key != NULL && c->tls.key[0] != '\0' &&
	    cfg_require(p, &tls, "cert", c->tls.cert,
	    "a client certificate to go with tls.key") == -1)
		return -1;
	if (c->tls.cert != NULL && c->tls.cert[0] != '\0' &&
	    cfg_require(p, &tls, "key", c->tls.key,
	    "a private key to go with tls.cert") == -1)
		return -1;

	if (cfg_sect_open(p, s, "status", status_keys, &status) == -1 ||
	    cfg_get_duration(p, &status, "ping", &c->ping_ms) == -1)
		return -1;
	return 0;
}

void
vault_conf_free(void *conf)
{
	struct vault_conf	*c = conf;
	char			**strs[] = {
		&c->endpoint, &c->engine, &c->namespace, &c->prefix,
		&c->transit.engine, &c->transit.key,
		&c->approle.engine, &c->approle.namespace, &c->approle.id,
		&c->approle.secret, &c->kubernetes.engine,
		&c->kubernetes.namespace, &c->kubernetes.role,
		&c->kubernetes.jwt, &c->tls.key, &c->tls.cert, &c->tls.ca,
	};
	size_t			 i;

	if (c == NULL)
		return;
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		freezero_str(*strs[i]);
	freezero(c, sizeof(*c));
}

const char *const vault_keys[] = {
	"endpoint", "engine", "version", "namespace", "prefix", "transit",
	"approle", "kubernetes", "tls", "status", NULL
};
