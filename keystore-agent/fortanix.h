/*
 * The Fortanix DSM (formerly SDKMS) key store, inside the agent: the state
 * its files share. fortanix.c is the store the agent sees (the calls),
 * fortanix_conf.c its settings and start-up (with KES's connect
 * handshake), fortanix_json.c speaks its JSON, fortanix_parse.c reads the
 * configuration in the parent. Spec: shared/spec/keystores-cloud-and-
 * legacy-config.md §4.
 *
 * The API key lives only here (inside the "Authorization: Basic" header
 * every call sends), is wiped when dropped, and never reaches a log line
 * or a call's detail.
 */
#ifndef KEYWARD_KS_FORTANIX_H
#define KEYWARD_KS_FORTANIX_H

#include <stddef.h>
#include <stdint.h>

#include "keystore-agent/net.h"

struct fx_settings {
	char		*endpoint;	/* trimmed, no trailing '/' */
	char		*group_id;	/* "": none */
	char		*key;		/* the API key */
	char		*ca;		/* "": the system's roots */
};

struct fortanix {
	struct fx_settings	 s;
	uint8_t			*raw;		/* the settings as sent, for */
	size_t			 rawlen;	/* reload() to compare */
	uint8_t			*ca;		/* PEM read by prepare() */
	size_t			 ca_len;
	char			*auth;		/* "Authorization: Basic <key>" */
	struct net_client	*net;
};

#define FX_CALL_ATTEMPT_MS	3000	/* per attempt: a slow answer, a
					 * retry and fast failures fit the
					 * agent's deadline */
#define FX_CONNECT_ATTEMPT_MS	3000
#define FX_CONNECT_MS		14000	/* the whole handshake, within
					 * the parent's 15 s */
#define FX_PATH_MAX		(64 + 3 * 1024)

/* KES's retry wrapper (kes_http.h). */
extern const struct net_policy	fx_call_policy;
extern const struct net_policy	fx_connect_policy;

/* The store's one state (fortanix_conf.c). */
extern struct fortanix		fx_state;

/*
 * Start a request with the API key (or, when bearer is not NULL, that
 * session token; none at all when auth is false), with Content-Type:
 * application/json when a body is given.
 */
struct net_req	*fx_send(struct fortanix *, const struct net_policy *,
		    const char *method, const char *path, const char *bearer,
		    bool auth, const struct buf *body, net_done_cb, void *arg);

/* fortanix.c: the calls of backend.h. */
struct ks_op;
void	fx_op_status(struct ks_op *);
void	fx_op_create(struct ks_op *);
void	fx_op_get(struct ks_op *);
void	fx_op_del(struct ks_op *);
void	fx_op_list(struct ks_op *);
void	fx_op_cancel(struct ks_op *);

#endif
