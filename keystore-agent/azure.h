/*
 * The Azure Key Vault key store inside the agent: the state its files
 * share. azure.c is the store the agent sees (the calls and KES's
 * algorithms of spec §3.4), azure_conf.c its settings and start-up,
 * azure_json.c reads Key Vault's JSON, oauth2.c keeps the access token
 * (client credentials or IMDS). Spec: shared/spec/keystores-cloud-and-
 * legacy-config.md §3.
 *
 * Credentials (the client secret and every access token) live only
 * here, are wiped when dropped, and never reach a log line or a detail.
 */
#ifndef KEYWARD_KS_AZURE_H
#define KEYWARD_KS_AZURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "keystore-agent/net.h"
#include "keystore-agent/oauth2.h"

struct az_settings {
	char	*endpoint, *method, *tenant, *client_id, *secret, *mi_client_id,
		*authority, *imds, *ca_file;
};

struct azure {
	struct az_settings	 s;
	uint8_t			*raw;
	size_t			 rawlen;
	uint8_t			*ca;
	size_t			 ca_len;
	char			*form;		/* client credentials, wiped */
	char			*token_path;
	struct net_client	*api, *tok;
	struct oauth2		 oa;
};

#define AZ_API_VERSION	"7.5"
#define AZ_ATTEMPT_MS	3000
#define AZ_PATH_MAX	2048
#define AZ_PURGE_CREATE	25	/* purge attempts before a create */
#define AZ_PURGE_DELETE	10	/* purge attempts after a delete */
#define AZ_SET_RETRIES	7	/* PUTs while the name is being deleted */
#define AZ_LIST_PAGES	100000

extern struct azure	az_state;

struct ks_op;
void	az_op_status(struct ks_op *);
void	az_op_create(struct ks_op *);
void	az_op_get(struct ks_op *);
void	az_op_del(struct ks_op *);
void	az_op_list(struct ks_op *);
void	az_op_cancel(struct ks_op *);

#endif
