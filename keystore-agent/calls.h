/*
 * The crypto process's calls at the key store (calls.c): the dispatch
 * table for the crypto channel, and the calls still outstanding.
 */
#ifndef KEYWARD_KS_CALLS_H
#define KEYWARD_KS_CALLS_H

#include <stddef.h>

#include "common/peer.h"

struct ks_backend;

/* MSG_KS_STATUS_REQ, _CREATE, _GET, _DELETE, _LIST. */
extern const struct peer_dispatch ks_calls_dispatch[];

/*
 * A call the store has not completed by then fails as unavailable. Below
 * the crypto process's own limit for a call (KS_REQ_TIMEOUT_MS, 10 s), so
 * that it hears why from us rather than timing out itself.
 */
#define KS_CALL_TIMEOUT_MS	9000

/* Serve calls from the store ks (started and initialised); a call not
 * done within timeout_ms fails and is cancelled at the store. */
void	ks_calls_init(const struct ks_backend *, unsigned int timeout_ms);
/* A crypto channel is gone: every outstanding call of p (of every
 * channel: NULL) is cancelled at the store and dropped unanswered
 * (nobody is left to hear the answer). */
void	ks_calls_cancel(struct peer *p);
/* Calls handed to the store and not yet done. */
size_t	ks_calls_pending(void);

#endif
