/*
 * The KMIP store's endpoints and connection pool (spec/keystores-vault-
 * ciphertrust-kmip-pkcs11.md §3.2): at most KMIP_POOL_MAX connections per
 * endpoint, an idle one handed out first, endpoints tried in order (one
 * that failed lately after the others), and callers queued while every
 * endpoint is full. The connections themselves are kmip_conn.c's.
 */
#include <sys/queue.h>

#include <stdio.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/kmip_int.h"

int
kmip_conn_init(struct kmip_store *k, char *err, size_t errlen)
{
	const char	*why;
	size_t		 i;

	if (kmip_tls_init(k, err, errlen) == -1)
		return -1;
	k->neps = k->s.nendpoints;
	k->eps = xcalloc(k->neps, sizeof(*k->eps));
	for (i = 0; i < k->neps; i++) {
		struct kmip_ep *ep = &k->eps[i];

		ep->k = k;
		ep->name = k->s.endpoints[i];
		if (kmip_endpoint_split(ep->name, ep->host, &ep->port,
		    &why) == -1) {
			snprintf(err, errlen, "endpoint '%s' %s", ep->name,
			    why);
			return -1;
		}
		ep->literal = kmip_is_literal(ep->host);
		if (ep->literal) {
			ep->addrs = xstrdup(ep->host);
			ep->resolved_at = UINT64_MAX;
		}
		TAILQ_INIT(&ep->conns);
	}
	return 0;
}


/* --- the pool ------------------------------------------------------------ */

/* The helper's answer for ep: connections waiting for it go on. */
void
kmip_ep_resolved(int err, const char *addrs, const char *detail, void *arg)
{
	struct kmip_ep	*ep = arg;
	struct kconn	*c, *next;

	ep->resolving = false;
	if (err == 0) {
		free(ep->addrs);
		ep->addrs = xstrdup(addrs);
		ep->resolved_at = ev_now();
		log_debug("kmip: %s is %s", ep->host, addrs);
	} else if (ep->addrs != NULL) {
		log_warnx("kmip: cannot resolve %s: %s; the addresses found "
		    "before are used meanwhile", ep->host, detail);
		ep->resolved_at = ev_now() - KMIP_RESOLVE_MS + KMIP_DOWN_MS;
	}
	for (c = TAILQ_FIRST(&ep->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->st != KC_RESOLVE)
			continue;
		if (ep->addrs == NULL) {
			kmip_conn_fail(c, "cannot resolve %s: %s", ep->host,
			    detail);
			continue;
		}
		c->addrs = xstrdup(ep->addrs);
		kmip_conn_connect(c);
	}
}

static struct kconn *
pool_idle(struct kmip_store *k)
{
	struct kconn	*c;
	size_t		 i;

	for (i = 0; i < k->neps; i++)
		TAILQ_FOREACH(c, &k->eps[i].conns, entry)
			if (c->st == KC_IDLE)
				return c;
	return NULL;
}

static void
take(struct kconn *c, struct kwait *w)
{
	c->st = KC_BUSY;
	kmip_conn_events(c, 0);
	w->cb(w, c, NULL);
}

/*
 * The next endpoint for w, in order: one not failed lately before one
 * that did, each once; a new connection there, or a wait when it is
 * full; when none is left, w hears every reason.
 */
void
kmip_pool_next(struct kmip_store *k, struct kwait *w)
{
	struct kmip_ep	*ep = NULL;
	uint64_t	 now = ev_now();
	size_t		 i;
	char		 why[KMIP_DETAIL];

	for (i = 0; i < k->neps; i++)
		if (!(w->tried & (1u << i)) && k->eps[i].down_until <= now) {
			ep = &k->eps[i];
			break;
		}
	for (i = 0; ep == NULL && i < k->neps; i++)
		if (!(w->tried & (1u << i)))
			ep = &k->eps[i];
	if (ep == NULL) {
		snprintf(why, sizeof(why), "%s", w->err[0] != '\0' ? w->err :
		    "no endpoint");
		w->cb(w, NULL, why);
		return;
	}
	if (ep->nconns >= KMIP_POOL_MAX) {
		/* Busy, not broken: wait for one of its connections. */
		w->queued = true;
		TAILQ_INSERT_TAIL(&k->waiters, w, entry);
		return;
	}
	w->tried |= 1u << (size_t)(ep - k->eps);
	kmip_conn_new(ep, w);
}

void
kmip_conn_acquire(struct kmip_store *k, struct kwait *w)
{
	struct kconn *c;

	w->tried = 0;
	w->err[0] = '\0';
	w->making = NULL;
	w->queued = false;
	if ((c = pool_idle(k)) != NULL) {
		take(c, w);
		return;
	}
	kmip_pool_next(k, w);
}

/*
 * A connection went idle or away: the first waiter takes the idle one,
 * or tries again where there is room now.
 */
void
kmip_pool_changed(struct kmip_store *k)
{
	struct kwait	*w;
	struct kconn	*c;
	size_t		 i;

	while ((w = TAILQ_FIRST(&k->waiters)) != NULL) {
		if ((c = pool_idle(k)) == NULL) {
			for (i = 0; i < k->neps; i++)
				if (k->eps[i].nconns < KMIP_POOL_MAX)
					break;
			if (i == k->neps)
				return;
		}
		TAILQ_REMOVE(&k->waiters, w, entry);
		w->queued = false;
		if (c != NULL)
			take(c, w);
		else
			kmip_pool_next(k, w);
	}
}

void
kmip_conn_unwait(struct kmip_store *k, struct kwait *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&k->waiters, w, entry);
		w->queued = false;
	}
	/* A connection being made for w goes to the pool when it is. */
	if (w->making != NULL) {
		w->making->owner = NULL;
		w->making = NULL;
	}
}
