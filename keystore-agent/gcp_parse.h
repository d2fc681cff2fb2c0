/*
 * keystore.gcp.secretmanager: parsed in the parent into struct gcp_conf
 * with KES's checks (spec/keystores-cloud-and-legacy-config.md §2.1,
 * §2.2). The store itself is gcp.c.
 *
 * Besides the section, the parent reads three variables of its own
 * environment here (the agent gets no environment): SSL_CERT_FILE (a CA
 * bundle that replaces the system's roots, for private CAs and the test
 * doubles, §6.2 rule 1), GOOGLE_APPLICATION_CREDENTIALS (Google's
 * Application Default Credentials file, used when the section has no
 * credentials), GCE_METADATA_HOST (the metadata server, host[:port]) and
 * KEYWARD_GCP_TOKEN_URI (the OAuth2 token endpoint for credentials given
 * in the section; default https://oauth2.googleapis.com/token).
 */
#ifndef KEYWARD_KS_GCP_PARSE_H
#define KEYWARD_KS_GCP_PARSE_H

#include <stddef.h>

struct cfg_parser;
struct cfg_sect;

#define GCP_DEFAULT_BASE	"https://secretmanager.googleapis.com"
#define GCP_DEFAULT_TOKEN_URI	"https://oauth2.googleapis.com/token"
#define GCP_DEFAULT_METADATA	"metadata.google.internal"
#define GCP_DEFAULT_SCOPE	"https://www.googleapis.com/auth/cloud-platform"

struct gcp_conf {
	char	*project_id, *endpoint, **scopes;
	size_t	 nscopes;
	char	*client_email, *client_id, *private_key_id, *private_key;
	/* Derived: the REST base URL (§2.5), the scopes space-joined (or
	 * the default), and what the environment said. */
	char	*base, *scope, *token_uri, *adc_file, *metadata_host,
		*ca_file;
};

extern const char *const gcp_keys[];
int	gcp_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	gcp_conf_free(void *);
/* §2.5: the REST base for an endpoint value; NULL when it is not one
 * (malloc'ed). */
char	*gcp_base_url(const char *endpoint);

#endif
