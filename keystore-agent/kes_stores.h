/*
 * The settings of KES's key stores that keyward does not serve yet
 * (GCP Secret Manager, AWS Secrets Manager, Azure Key
 * Vault): parsed with KES's checks
 * so that a KES configuration is read and checked, then refused at start
 * as not supported. Each moves into its own store file when served.
 */
#ifndef KEYWARD_KS_KES_STORES_H
#define KEYWARD_KS_KES_STORES_H

#include <stddef.h>

struct gcp_conf {
	char	*project_id, *endpoint, **scopes;
	size_t	 nscopes;
	char	*client_email, *client_id, *private_key_id, *private_key;
};
struct aws_conf {
	char	*endpoint, *region, *kmskey, *accesskey, *secretkey, *token;
};
struct azure_conf {
	char	*endpoint, *tenant_id, *client_id, *client_secret,
		*managed_client_id;
};

#endif
