/*
 * keystore.kmip: the KMIP store's settings (spec/keystores-vault-
 * ciphertrust-kmip-pkcs11.md §3.1), parsed by kmip_parse.c in the parent,
 * carried in the agent's slice, and read back by the store (kmip.c). One
 * structure serves both sides.
 */
#ifndef KEYWARD_KS_KMIP_PARSE_H
#define KEYWARD_KS_KMIP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "keystore-agent/kmip_msg.h"

#define KMIP_PORT_DEFAULT	5696	/* IANA */
#define KMIP_ENDPOINTS_MAX	16
#define KMIP_HOST_MAX		253
#define KMIP_SETTLE_DEFAULT_MS	2000
#define KMIP_TIMEOUT_DEFAULT_MS	15000
/*
 * A create takes the settle time plus its round trips, and the agent
 * ends a call after 9 s (calls.h KS_CALL_TIMEOUT_MS).
 */
#define KMIP_SETTLE_MAX_MS	5000
/* prefix + a KES key name (80 bytes) fit a KMIP Name of 255 (§3.1). */
#define KMIP_PREFIX_MAX		(KMIP_NAME_MAX - 80)

struct kmip_conf {
	char			**endpoints;	/* host[:port], as given */
	size_t			  nendpoints;
	struct kmip_version	  versions[KMIP_VERSIONS_MAX];
	size_t			  nversions;	/* highest first */
	char			 *prefix;	/* never NULL after parse */
	char			 *group;	/* "": none */
	uint32_t		  usage_mask;
	bool			  activate;
	uint64_t		  settle_ms;
	uint64_t		  timeout_ms;
	char			 *username;	/* "": no Authentication */
	char			 *password;
	char			 *cert, *key, *ca;	/* ca "": system's */
	char			 *server_name;	/* "": the endpoint's host */
	int			  tls_min;	/* 12 or 13 */
	char			 *ciphers;	/* OpenSSL list, "": default */
};

struct cfg_parser;
struct cfg_sect;

/* The section's keys, its parser and the settings' destructor (wipes). */
extern const char *const kmip_keys[];
int	kmip_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	kmip_conf_free(void *);

/*
 * "host", "host:port", "[v6]:port" or a bare IPv6 literal: the host
 * (brackets removed) and the port (KMIP_PORT_DEFAULT when absent). 0, or
 * -1 with why.
 */
int	kmip_endpoint_split(const char *, char host[KMIP_HOST_MAX + 1],
	    unsigned int *port, const char **why);

/*
 * The slice (parent) and back (agent): kmip_settings_get fills a zeroed
 * struct kmip_conf, checked again as the parser does; -1 with err.
 */
int	kmip_settings_put(struct buf *, const void *conf);
int	kmip_settings_get(struct buf *, struct kmip_conf *, char *err,
	    size_t errlen);

#endif
