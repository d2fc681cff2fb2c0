/*
 * The GCP Secret Manager key store inside the agent: the state its files
 * share. gcp.c is the store the agent sees (the calls, REST v1 over the
 * agent's HTTPS client), gcp_conf.c its settings and start-up, gcp_json.c
 * reads Google's JSON, oauth2.c keeps the access token. Spec:
 * shared/spec/keystores-cloud-and-legacy-config.md §2.
 *
 * Credentials (the service account's private key and every access token)
 * live only here, are wiped when dropped, and never reach a log line or
 * a call's detail.
 */
#ifndef KEYWARD_KS_GCP_H
#define KEYWARD_KS_GCP_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "keystore-agent/net.h"
#include "keystore-agent/oauth2.h"

struct gcp_settings {
	char	*project, *base, *scope, *token_uri;
	char	*email, *kid, *key;	/* config credentials; "" if none */
	char	*adc_file, *metadata_host, *ca_file;
};

struct gcp {
	struct gcp_settings	 s;
	uint8_t			*raw;		/* the settings as sent */
	size_t			 rawlen;
	uint8_t			*ca;		/* PEM read by prepare() */
	size_t			 ca_len;
	/* What authenticates: the key's email, key, kid and token URL
	 * (from the section or the ADC file), or the metadata server. */
	char			*email, *kid, *token_uri;
	EVP_PKEY		*key;
	bool			 metadata;
	char			*token_path;
	struct net_client	*api, *tok;
	struct oauth2		 oa;
};

#define GCP_ATTEMPT_MS	3000	/* per attempt: three fit the agent's
				 * deadline */
#define GCP_PATH_MAX	2048
#define GCP_LIST_PAGES	100000	/* a listing longer fails */

extern struct gcp	gcp_state;

/* gcp.c: the calls of backend.h, and the start-up probe. */
struct ks_op;
void	gcp_op_status(struct ks_op *);
void	gcp_op_create(struct ks_op *);
void	gcp_op_get(struct ks_op *);
void	gcp_op_del(struct ks_op *);
void	gcp_op_list(struct ks_op *);
void	gcp_op_cancel(struct ks_op *);
/* GET <base> until an answer comes (KES's Connect): 0 or -1 with err. */
int	gcp_probe(struct gcp *, char *err, size_t errlen);

#endif
