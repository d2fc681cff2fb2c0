/*
 * Configuration slices: what each child receives from the parent in
 * MSG_CONFIG and MSG_RELOAD. A child gets only what its role needs: the
 * worker never sees key-store settings or credentials, the agent never sees
 * TLS keys, the crypto process sees no key-store settings and holds the TLS
 * private key to sign handshakes.
 */
#ifndef KEYWARD_SLICE_H
#define KEYWARD_SLICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/policy.h"

struct pem {
	uint8_t	*data;
	size_t	 len;
};

struct worker_slice {
	uint32_t		 index;
	uint32_t		 ncrypto;	/* crypto processes (channels
						 * it gets), 1..CRYPTO_MAX */
	uint64_t		 started_ns;	/* server start, CLOCK_REALTIME */
	int			 log_level;
	int			 audit_level;	/* log.audit; LOG_LVL_OFF: no
						 * audit lines on stdout */
	uint8_t			 tls_auth;	/* enum tls_auth */
	struct pem		 cert;		/* chain, leaf first; its key
						 * is the crypto process's */
	struct pem		 ca;		/* client CAs (tls.auth on) */
	struct policy_set	 pol;
	struct api_route_cfg	*api;
	size_t			 napi;
};

struct crypto_slice {
	int			 log_level;
	uint64_t		 started_ns;
	uint32_t		 index;		/* this one of ncrypto: it */
	uint32_t		 ncrypto;	/* creates the `keys:` it serves
						 * (kes_name_shard) */
	struct policy_set	 pol;
	uint64_t		 cache_any_ms, cache_unused_ms,
				 cache_offline_ms;
	char			**keys;		/* declarative keys: names */
	size_t			 nkeys;
	char			**skip_auth;	/* api: paths with skip_auth */
	size_t			 nskip_auth;
	/* The server's TLS private key, unencrypted DER PKCS#8 (secret;
	 * the parent decrypted it): the crypto process signs handshakes
	 * with it. Empty: no key. */
	uint8_t			*tls_key;
	size_t			 tls_key_len;
};

#define AGENT_STORE_NAMELEN	32

struct agent_slice {
	int		 log_level;
	char		 store[AGENT_STORE_NAMELEN + 1]; /* keystore.<name> */
	uint8_t		*settings;	/* the store's own (secret) */
	size_t		 settings_len;
	/* The server was serving already: this agent replaces one that
	 * exited (the seal never retries a refused PIN, §4.7). */
	bool		 restarted;
};

int	worker_slice_put(struct buf *, const struct worker_slice *);
int	worker_slice_get(struct buf *, struct worker_slice *);
void	worker_slice_free(struct worker_slice *);

int	crypto_slice_put(struct buf *, const struct crypto_slice *);
int	crypto_slice_get(struct buf *, struct crypto_slice *);
void	crypto_slice_free(struct crypto_slice *);
/* Wipe the TLS private key once the signer holds it. */
void	crypto_slice_forget_key(struct crypto_slice *);

int	agent_slice_put(struct buf *, const struct agent_slice *);
int	agent_slice_get(struct buf *, struct agent_slice *);
void	agent_slice_free(struct agent_slice *);

#endif
