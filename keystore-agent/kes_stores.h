/*
 * The settings of KES's key stores that keyward does not serve yet
 * (Fortanix SDKMS, GCP Secret Manager, AWS Secrets Manager, Azure Key
 * Vault, Entrust KeyControl): parsed with KES's checks
 * so that a KES configuration is read and checked, then refused at start
 * as not supported. Each moves into its own store file when served.
 */
#ifndef KEYWARD_KS_KES_STORES_H
#define KEYWARD_KS_KES_STORES_H

#include <stddef.h>

struct fortanix_conf {
	char	*endpoint, *group_id, *key, *ca;
};
struct gcp_conf {
	char	*project_id, *endpoint, **scopes;
	size_t	 nscopes;
	char	*client_email, *client_id, *private_key_id, *private_key;
};
struct azure_conf {
	char	*endpoint, *tenant_id, *client_id, *client_secret,
		*managed_client_id;
};
struct entrust_conf {
	char	*endpoint, *vault_id, *box_id, *username, *password, *ca;
};

#endif
