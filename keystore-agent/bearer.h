/*
 * One HTTPS request of a cloud store with an OAuth2 bearer token
 * (oauth2.h), as GCP and Azure send them: it waits for a token when none
 * is good, carries "Authorization: Bearer", and when the service
 * refuses the token (the store says which statuses mean that) it asks
 * for a new one and sends the request once more. Without a token client
 * (oa NULL) it is a plain request (the status probes).
 *
 * The store embeds a struct bcall in its call, sets the fields marked
 * "store", the path and body, and calls bcall_send(); answer() gets the
 * last response (never a refused one that could be retried), failed()
 * the error when no token came. The store owns the call's memory.
 */
#ifndef KEYWARD_KS_BEARER_H
#define KEYWARD_KS_BEARER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "keystore-agent/net.h"
#include "keystore-agent/oauth2.h"

#define BEARER_PATH_MAX	2048

struct bcall {
	/* store */
	struct oauth2		*oa;		/* NULL: no token */
	struct net_client	*net;
	const struct net_policy	*pol;
	bool			(*refused)(long status);
	void			(*answer)(struct bcall *,
				    const struct net_resp *);
	void			(*failed)(struct bcall *, const char *err);
	const char		*method;
	char			 path[BEARER_PATH_MAX];
	struct buf		 body;
	bool			 send_body;	/* as JSON, this request */

	/* bearer.c */
	uint64_t		 gen;		/* the token it went with */
	bool			 reauthed;
	struct net_req		*req;
	struct oauth2_waiter	 wait;
};

/* Send (again) the request the fields describe; a new stage calls this
 * after changing method, path and body. */
void	bcall_send(struct bcall *);
/* Forget the request in flight and any wait for a token; wipes the
 * body. */
void	bcall_release(struct bcall *);

#endif
