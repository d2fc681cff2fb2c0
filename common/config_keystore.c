/*
 * The `keystore:` section (spec/kes-compat.md §7.1): exactly one store, each
 * with the fields KES requires of it (kesconf/config.go ymlToKeyStore).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"

#define KS_EXPECTED	"one of fs, vault, fortanix, gemalto, gcp, aws, " \
			"azure, entrust"

static const char *const ks_keys[] = {
	"fs", "vault", "fortanix", "gemalto", "gcp", "aws", "azure",
	"entrust", "kes", "generic", NULL
};
static const char *const tls_ca_keys[] = { "ca", NULL };

/*
 * Most stores sit one level down (fortanix.sdkms, aws.secretsmanager):
 * open both levels. s->map stays NULL when the store is not configured.
 */
static int
open_store(struct cfg_parser *p, const struct cfg_sect *ks, const char *name,
    const char *inner, const char *const known[], struct cfg_sect *s)
{
	const char *const outer_keys[] = { inner, NULL };
	struct cfg_sect	 outer;

	if (inner == NULL)
		return cfg_sect_open(p, ks, name, known, s);
	if (cfg_sect_open(p, ks, name, outer_keys, &outer) == -1)
		return -1;
	if (cfg_sect_open(p, &outer, inner, known, s) == -1)
		return -1;
	if (outer.map != NULL && s->map == NULL)
		return cfg_error(p, outer.line, s->path,
		    "missing; expected the settings of the %s store", name);
	return 0;
}

static int
parse_fs(struct cfg_parser *p, const struct cfg_sect *s)
{
	struct keystore_cfg	*k = &p->cfg->keystore;

	return cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "path", &k->fs.path, "the directory that holds the keys" },
	    { NULL, NULL, NULL } });
}

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

static int
parse_vault(struct cfg_parser *p, const struct cfg_sect *s)
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
	struct keystore_cfg	*k = &p->cfg->keystore;
	char		*version = NULL, q[CFG_QUOTELEN], path[CFG_PATHLEN];
	size_t		 line;
	int		 rc;

	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &k->vault.endpoint, "the Vault URL, e.g. "
	      "https://vault.example.com:8200" },
	    { "engine", &k->vault.engine, NULL },
	    { "namespace", &k->vault.namespace, NULL },
	    { "prefix", &k->vault.prefix, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;

	if (cfg_get_str(p, s, "version", &version) == -1)
		return -1;
	if (version != NULL && strcmp(version, "v1") == 0)
		k->vault.kv_version = 1;
	else if (version != NULL && strcmp(version, "v2") == 0)
		k->vault.kv_version = 2;
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
	    { "engine", &k->vault.transit.engine, NULL },
	    { "key", &k->vault.transit.key, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (transit.map != NULL && cfg_require(p, &transit, "key",
	    k->vault.transit.key, "the name of the transit key") == -1)
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
		    { "engine", &k->vault.approle.engine, NULL },
		    { "namespace", &k->vault.approle.namespace, NULL },
		    { "id", &k->vault.approle.id, "the AppRole role ID" },
		    { "secret", &k->vault.approle.secret,
		      "the AppRole secret ID" },
		    { NULL, NULL, NULL } }) == -1)
			return -1;
		cfg_legacy(p, &approle, "retry", "KES dropped it after v0.22");
	} else {
		if (cfg_get_fields(p, &k8s, (const struct cfg_field[]){
		    { "engine", &k->vault.kubernetes.engine, NULL },
		    { "namespace", &k->vault.kubernetes.namespace, NULL },
		    { "role", &k->vault.kubernetes.role, NULL },
		    { "jwt", &k->vault.kubernetes.jwt,
		      "a JWT or the path of a file holding one" },
		    { NULL, NULL, NULL } }) == -1)
			return -1;
		if (check_jwt(p, &k8s, k->vault.kubernetes.jwt) == -1)
			return -1;
		cfg_legacy(p, &k8s, "retry", "KES dropped it after v0.22");
	}

	if (cfg_sect_open(p, s, "tls", tls_keys, &tls) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "key", &k->vault.tls.key, NULL },
	    { "cert", &k->vault.tls.cert, NULL },
	    { "ca", &k->vault.tls.ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (k->vault.tls.key != NULL && k->vault.tls.key[0] != '\0' &&
	    cfg_require(p, &tls, "cert", k->vault.tls.cert,
	    "a client certificate to go with tls.key") == -1)
		return -1;
	if (k->vault.tls.cert != NULL && k->vault.tls.cert[0] != '\0' &&
	    cfg_require(p, &tls, "key", k->vault.tls.key,
	    "a private key to go with tls.cert") == -1)
		return -1;

	if (cfg_sect_open(p, s, "status", status_keys, &status) == -1 ||
	    cfg_get_duration(p, &status, "ping", &k->vault.ping_ms) == -1)
		return -1;
	return 0;
}

static int
parse_fortanix(struct cfg_parser *p, const struct cfg_sect *s)
{
	static const char *const cred_keys[] = { "key", NULL };
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 cred, tls;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_ca_keys, &tls) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &k->fortanix.endpoint, "the SDKMS URL" },
	    { "group_id", &k->fortanix.group_id, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "key", &k->fortanix.key, "the SDKMS API key" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "ca", &k->fortanix.ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	return 0;
}

static int
parse_gemalto(struct cfg_parser *p, const struct cfg_sect *s)
{
	static const char *const cred_keys[] = {
		"token", "domain", "retry", NULL
	};
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 cred, tls;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_ca_keys, &tls) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &k->gemalto.endpoint, "the KeySecure URL" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "token", &k->gemalto.token, "a KeySecure refresh token" },
	    { "domain", &k->gemalto.domain, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "ca", &k->gemalto.ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	cfg_legacy(p, &cred, "retry", "KES no longer reads it");
	return 0;
}

static int
parse_gcp(struct cfg_parser *p, const struct cfg_sect *s)
{
	static const char *const cred_keys[] = {
		"client_email", "client_id", "private_key_id", "private_key",
		NULL
	};
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 cred;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "project_id", &k->gcp.project_id, "the GCP project ID" },
	    { "endpoint", &k->gcp.endpoint, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_list(p, s, "scopes", true, &k->gcp.scopes,
	    &k->gcp.nscopes) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "client_email", &k->gcp.client_email, NULL },
	    { "client_id", &k->gcp.client_id, NULL },
	    { "private_key_id", &k->gcp.private_key_id, NULL },
	    { "private_key", &k->gcp.private_key, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	return 0;
}

static int
parse_aws(struct cfg_parser *p, const struct cfg_sect *s)
{
	static const char *const cred_keys[] = {
		"accesskey", "secretkey", "token", NULL
	};
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 cred;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &k->aws.endpoint, "the Secrets Manager URL" },
	    { "region", &k->aws.region, "an AWS region, e.g. us-east-1" },
	    { "kmskey", &k->aws.kmskey, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "accesskey", &k->aws.accesskey, NULL },
	    { "secretkey", &k->aws.secretkey, NULL },
	    { "token", &k->aws.token, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	return 0;
}

/* Neither credentials nor managed_identity: Azure's default chain. */
static int
parse_azure(struct cfg_parser *p, const struct cfg_sect *s)
{
	static const char *const cred_keys[] = {
		"tenant_id", "client_id", "client_secret", NULL
	};
	static const char *const mi_keys[] = { "client_id", NULL };
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 cred, mi;

	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &k->azure.endpoint, "the Key Vault URL" },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "managed_identity", mi_keys, &mi) == -1)
		return -1;
	if (cred.map != NULL && mi.map != NULL)
		return cfg_error(p, mi.line, s->path, "both credentials and "
		    "managed_identity are set; expected at most one "
		    "authentication method");
	if (cred.map != NULL)
		return cfg_get_fields(p, &cred, (const struct cfg_field[]){
		    { "tenant_id", &k->azure.tenant_id, "the Azure tenant ID" },
		    { "client_id", &k->azure.client_id, "the Azure client ID" },
		    { "client_secret", &k->azure.client_secret,
		      "the Azure client secret" },
		    { NULL, NULL, NULL } });
	if (mi.map != NULL)
		return cfg_get_fields(p, &mi, (const struct cfg_field[]){
		    { "client_id", &k->azure.managed_client_id,
		      "the managed identity's client ID" },
		    { NULL, NULL, NULL } });
	return 0;
}

static int
parse_entrust(struct cfg_parser *p, const struct cfg_sect *s)
{
	static const char *const cred_keys[] = { "username", "password", NULL };
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 cred, tls;

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1 ||
	    cfg_sect_open(p, s, "tls", tls_ca_keys, &tls) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &k->entrust.endpoint, "the KeyControl URL" },
	    { "vault_id", &k->entrust.vault_id, "the KeyControl vault ID" },
	    { "box_id", &k->entrust.box_id, "the KeyControl box ID" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "username", &k->entrust.username, "a KeyControl user name" },
	    { "password", &k->entrust.password, "the user's password" },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &tls, (const struct cfg_field[]){
	    { "ca", &k->entrust.ca, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	return 0;
}

/*
 * keystore.kes (KES-in-KES) and keystore.generic (≤ v0.22): read so their
 * keys are not reported as unknown, never used. KES itself parses kes and
 * then says "no keystore specified".
 */
static int
open_unusable(struct cfg_parser *p, const struct cfg_sect *ks,
    struct cfg_sect *kes, struct cfg_sect *generic)
{
	static const char *const kes_keys[] = {
		"endpoint", "enclave", "tls", NULL
	};
	static const char *const generic_keys[] = { "endpoint", "tls", NULL };
	static const char *const tls_keys[] = { "cert", "key", "ca", NULL };
	struct cfg_sect	 tls;

	if (cfg_sect_open(p, ks, "kes", kes_keys, kes) == -1 ||
	    cfg_sect_open(p, kes, "tls", tls_keys, &tls) == -1 ||
	    cfg_sect_open(p, ks, "generic", generic_keys, generic) == -1 ||
	    cfg_sect_open(p, generic, "tls", tls_keys, &tls) == -1)
		return -1;
	return 0;
}

int
cfg_parse_keystore(struct cfg_parser *p, const struct cfg_sect *root)
{
	static const char *const fs_keys[] = { "path", NULL };
	static const char *const vault_keys[] = {
		"endpoint", "engine", "version", "namespace", "prefix",
		"transit", "approle", "kubernetes", "tls", "status", NULL
	};
	static const char *const fortanix_keys[] = {
		"endpoint", "group_id", "credentials", "tls", NULL
	};
	static const char *const gemalto_keys[] = {
		"endpoint", "credentials", "tls", NULL
	};
	static const char *const gcp_keys[] = {
		"project_id", "endpoint", "scopes", "credentials", NULL
	};
	static const char *const aws_keys[] = {
		"endpoint", "region", "kmskey", "credentials", NULL
	};
	static const char *const azure_keys[] = {
		"endpoint", "credentials", "managed_identity", NULL
	};
	static const char *const entrust_keys[] = {
		"endpoint", "vault_id", "box_id", "credentials", "tls", NULL
	};
	static const struct {
		const char		 *name;
		const char		 *inner;
		const char *const	 *known;
		enum keystore_kind	  kind;
		int			(*parse)(struct cfg_parser *,
					    const struct cfg_sect *);
	} stores[] = {
		{ "fs", NULL, fs_keys, KS_FS, parse_fs },
		{ "vault", NULL, vault_keys, KS_VAULT, parse_vault },
		{ "fortanix", "sdkms", fortanix_keys, KS_FORTANIX,
		  parse_fortanix },
		{ "gemalto", "keysecure", gemalto_keys, KS_GEMALTO,
		  parse_gemalto },
		{ "gcp", "secretmanager", gcp_keys, KS_GCP, parse_gcp },
		{ "aws", "secretsmanager", aws_keys, KS_AWS, parse_aws },
		{ "azure", "keyvault", azure_keys, KS_AZURE, parse_azure },
		{ "entrust", "keycontrol", entrust_keys, KS_ENTRUST,
		  parse_entrust },
	};
	struct keystore_cfg	*k = &p->cfg->keystore;
	struct cfg_sect		 ks, s, kes, generic;
	const char		*chosen = NULL;
	size_t			 i;

	if (cfg_sect_open(p, root, "keystore", ks_keys, &ks) == -1 ||
	    open_unusable(p, &ks, &kes, &generic) == -1)
		return -1;
	for (i = 0; i < sizeof(stores) / sizeof(stores[0]); i++) {
		if (open_store(p, &ks, stores[i].name, stores[i].inner,
		    stores[i].known, &s) == -1)
			return -1;
		if (s.map == NULL)
			continue;
		if (chosen != NULL)
			return cfg_error(p, s.line, ks.path, "more than one "
			    "keystore specified (%s and %s); expected exactly "
			    "one", chosen, stores[i].name);
		chosen = stores[i].name;
		k->kind = stores[i].kind;
		if (stores[i].parse(p, &s) == -1)
			return -1;
	}
	if (chosen == NULL && kes.map != NULL)
		return cfg_error(p, kes.line, kes.path, "no keystore "
		    "specified: the kes keystore is parsed but not usable, as in KES; "
		    "expected " KS_EXPECTED);
	if (chosen == NULL && generic.map != NULL)
		return cfg_error(p, generic.line, generic.path, "no keystore "
		    "specified: the generic keystore of KES v0.22 and older "
		    "is not supported; expected " KS_EXPECTED);
	if (chosen == NULL)
		return cfg_error(p, ks.line, ks.path, "no keystore specified; "
		    "expected " KS_EXPECTED);
	if (kes.map != NULL)
		cfg_warn(p, kes.line, NULL, "key '%s' ignored: the kes "
		    "keystore is not usable, as in KES", kes.path);
	if (generic.map != NULL)
		cfg_warn(p, generic.line, NULL, "key '%s' ignored: the "
		    "generic keystore was removed after KES v0.22",
		    generic.path);
	return 0;
}

void
cfg_keystore_free(struct keystore_cfg *k)
{
	char	**strs[] = {
		&k->fs.path,
		&k->vault.endpoint, &k->vault.engine, &k->vault.namespace,
		&k->vault.prefix, &k->vault.transit.engine,
		&k->vault.transit.key, &k->vault.approle.engine,
		&k->vault.approle.namespace, &k->vault.approle.id,
		&k->vault.approle.secret, &k->vault.kubernetes.engine,
		&k->vault.kubernetes.namespace, &k->vault.kubernetes.role,
		&k->vault.kubernetes.jwt, &k->vault.tls.key,
		&k->vault.tls.cert, &k->vault.tls.ca,
		&k->fortanix.endpoint, &k->fortanix.group_id,
		&k->fortanix.key, &k->fortanix.ca,
		&k->gemalto.endpoint, &k->gemalto.token, &k->gemalto.domain,
		&k->gemalto.ca,
		&k->gcp.project_id, &k->gcp.endpoint, &k->gcp.client_email,
		&k->gcp.client_id, &k->gcp.private_key_id,
		&k->gcp.private_key,
		&k->aws.endpoint, &k->aws.region, &k->aws.kmskey,
		&k->aws.accesskey, &k->aws.secretkey, &k->aws.token,
		&k->azure.endpoint, &k->azure.tenant_id, &k->azure.client_id,
		&k->azure.client_secret, &k->azure.managed_client_id,
		&k->entrust.endpoint, &k->entrust.vault_id,
		&k->entrust.box_id, &k->entrust.username,
		&k->entrust.password, &k->entrust.ca,
	};
	size_t	 i;

	/* Every field is wiped: which ones are secret depends on the store. */
	for (i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		freezero_str(*strs[i]);
		*strs[i] = NULL;
	}
	cfg_strv_free(k->gcp.scopes, k->gcp.nscopes);
	k->gcp.scopes = NULL;
	k->gcp.nscopes = 0;
}
