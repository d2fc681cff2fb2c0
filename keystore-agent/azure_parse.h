/*
 * keystore.azure.keyvault: parsed in the parent into struct azure_conf
 * with KES's checks (spec/keystores-cloud-and-legacy-config.md §3.1),
 * and the way to a token chosen (§3.2): the section's credentials (a
 * service principal's client secret), its managed_identity (IMDS), or
 * neither: Azure's default chain, of which keyward reads the
 * environment's client secret (AZURE_TENANT_ID, AZURE_CLIENT_ID,
 * AZURE_CLIENT_SECRET) and else IMDS (with AZURE_CLIENT_ID when set).
 * The store itself is azure.c.
 *
 * The parent's environment also gives AZURE_AUTHORITY_HOST (default
 * https://login.microsoftonline.com), AZURE_POD_IDENTITY_AUTHORITY_HOST
 * (IMDS, default http://169.254.169.254) and SSL_CERT_FILE (a CA bundle
 * replacing the system's roots), as azidentity and Go read them.
 */
#ifndef KEYWARD_KS_AZURE_PARSE_H
#define KEYWARD_KS_AZURE_PARSE_H

struct cfg_parser;
struct cfg_sect;

#define AZ_DEFAULT_AUTHORITY	"https://login.microsoftonline.com"
#define AZ_DEFAULT_IMDS		"http://169.254.169.254"

struct azure_conf {
	char	*endpoint, *tenant_id, *client_id, *client_secret,
		*managed_client_id;
	/* Derived: "secret" or "imds", what the environment said. */
	char	*method, *authority, *imds, *ca_file;
};

extern const char *const azure_keys[];
int	azure_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	azure_conf_free(void *);

#endif
