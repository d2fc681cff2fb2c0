/*
 * Inside the crypto process: its one context struct and what its files
 * share: crypto.c (the process and its peers), keyops.c (the key
 * operations), keycache.c (the key cache, the random pool), ks_wrap.c
 * (the calls at the agent) and sign.c (the TLS handshake signer).
 */
#ifndef KEYWARD_CRYPTO_INT_H
#define KEYWARD_CRYPTO_INT_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stdint.h>

#include "common/ev.h"
#include "common/kes_key.h"
#include "common/names.h"
#include "common/peer.h"
#include "common/slice.h"
#include "privsep/sign.h"

#define KS_REQ_TIMEOUT_MS	10000	/* an agent call that takes longer
					 * has failed */
#define KS_PROBE_MS		10000	/* key-store status probe, spec 6.5 */
#define KS_START_PROBE_MS	1000	/* the same until the store first
					 * answers at start-up */
#define RND_POOL		4096	/* random bytes drawn per refill */
#define CACHE_SLAB		(64 * 1024) /* cache entries come in slabs */

#define MSG_KEY_NOT_FOUND	"key does not exist"

struct cpeer {
	struct peer		 p;
	uint64_t		 serial;	/* unique for the process life */
	TAILQ_ENTRY(cpeer)	 entry;
};
TAILQ_HEAD(cpeerlist, cpeer);

/* A worker request parked until the key it needs arrives from the store.
 * It names its worker by serial: the worker may be gone by then. */
struct parked {
	TAILQ_ENTRY(parked)	 entry;
	uint64_t		 worker;
	uint16_t		 type;
	uint32_t		 id;
	uint8_t			*payload;	/* a copy; wiped */
	size_t			 len;
};
TAILQ_HEAD(parkedlist, parked);

/* A created_by identity, interned: shared by every key it made. */
struct creator {
	struct creator	*next;
	size_t		 refs;
	char		 s[];
};

/*
 * A cached key, or a key being fetched (the requests that wait for it are
 * parked on the entry, so concurrent misses make one fetch). Kept small: 100 k cached keys should cost little locked memory. The
 * creator identity is shared (interned) by all keys one identity made;
 * the parked list exists only while a fetch runs.
 */
struct centry {
	struct centry		*next;		/* hash chain */
	struct parkedlist	*parked;	/* while fetching, else NULL */
	struct creator		*by;		/* created_by, shared */
	int64_t			 created_sec;
	int32_t			 created_nsec;
	bool			 used;		/* since the last unused sweep */
	struct kes_secret	 k;
	char			 name[KES_NAME_MAX + 1];
};

/* A call at the agent, answered in order but matched by id. */
struct ksreq {
	TAILQ_ENTRY(ksreq)	 entry;
	uint32_t		 id;
	uint16_t		 type;		/* MSG_KS_* sent */
	/* The stub's answer (ks_wrap.c); m NULL: failed or timed out. */
	int			(*answer)(struct ksreq *, struct ipc_msg *);
	uint64_t		 deadline;
	uint64_t		 worker;	/* serial, 0: not for a worker */
	uint32_t		 wid;		/* the worker's request id */
	struct kes_key		*key;		/* create: cache it on success */
	bool			 declared;	/* create of a config `keys:` */
	char			 name[KES_NAME_MAX + 1];
};
TAILQ_HEAD(ksreqlist, ksreq);

/* A status or ready request waiting for the shared key-store probe. */
struct waiter {
	TAILQ_ENTRY(waiter)	 entry;
	uint64_t		 worker;
	uint32_t		 id;
	bool			 ready;		/* /v1/ready, else /v1/status */
};
TAILQ_HEAD(waiterlist, waiter);

struct crypto_state {
	struct peer		 parent;
	struct cpeerlist	 workers;
	struct cpeer		*agent;
	struct crypto_slice	 cf;
	uint64_t		 started;	/* ev_now() at start */
	uint64_t		 next_serial;
	uint32_t		 next_id;

	/* One key-store status query at a time; callers share it. */
	struct waiterlist	 status_waiters;
	bool			 status_inflight;
	uint32_t		 status_id;
	struct ev_timer		 status_timer;
	struct ev_timer		 probe_timer;
	bool			 offline;	/* the last probe failed */
	uint64_t		 offline_since;

	struct ksreqlist	 ksreqs;
	struct ev_timer		 ksreq_timer;
	bool			 declared_done;	/* config `keys:` created */
	size_t			 declared_pending; /* their creates out */
	/* Start-up: the store answered (creating `keys:`), all of them
	 * exist and the parent knows (start_done), or one cannot be made. */
	bool			 creating;
	bool			 start_done;
	bool			 start_failed;

	/* The cache: a chained hash table keyed by name. */
	struct centry		**tab;
	size_t			 tabsize;	/* a power of two */
	size_t			 ncached;
	struct centry		*cfree;		/* free entries (slabs) */
	struct creator		*creators;	/* interned created_by */
	struct ev_timer		 cache_timer;
	uint64_t		 next_any, next_unused, next_offline;

	uint8_t			 rnd[RND_POOL];
	size_t			 rnd_off;

	struct signer		 signer;	/* the TLS keys (sign.c) */
};

extern struct crypto_state cs;

/* crypto.c */
struct peer	*crypto_worker(uint64_t serial);
uint64_t	 crypto_serial(struct peer *);
void		 ks_trigger_probe(void);
/* A create of `keys:` was answered: detail NULL when the key exists now,
 * else the store's reason. */
void		 crypto_declared_answer(const char *name, const char *detail);

/* ks_wrap.c: the calls at the agent, one stub each; NULL (nothing sent)
 * without an agent or when the request could not be built or queued
 * (peer_send logs which). The caller fills in whom the answer is for. */
struct ksreq	*ks_get(const char *name);
struct ksreq	*ks_create(const char *name, const struct buf *value);
struct ksreq	*ks_delete(const char *name);
struct ksreq	*ks_list(const char *prefix);
/* KS_DONE, KS_VALUE, KS_NAMES, KS_FAIL: to the call they answer. */
int		 answer_ks_reply(struct peer *, struct ipc_msg *);
/* The agent is gone: every call it had fails now. */
void		 ks_fail_all(void);

/* keyops.c: the worker messages and the agent's answers. */
int	answer_key_create(struct peer *, struct ipc_msg *);
int	answer_key_import(struct peer *, struct ipc_msg *);
int	answer_key_describe(struct peer *, struct ipc_msg *);
int	answer_key_delete(struct peer *, struct ipc_msg *);
int	answer_key_list(struct peer *, struct ipc_msg *);
int	answer_key_generate(struct peer *, struct ipc_msg *);
int	answer_key_encrypt(struct peer *, struct ipc_msg *);
int	answer_key_decrypt(struct peer *, struct ipc_msg *);
int	answer_key_hmac(struct peer *, struct ipc_msg *);
int	answer_key_bulk_decrypt(struct peer *, struct ipc_msg *);
void	keyops_create_declared(void);
/* Answers to a worker known by serial (it may be gone by now). */
void	send_to(uint64_t serial, uint16_t type, uint32_t id,
	    const struct buf *);
void	send_error_to(uint64_t serial, uint32_t id, uint16_t status,
	    const char *msg);
/* The fetch for e ended: run (status 0) or fail what waited for it. */
void	fetch_done(struct centry *e, uint16_t status, const char *msg);

/* sign.c: MSG_TLS_SIGN, a handshake signature with the TLS key. */
int	answer_tls_sign(struct peer *, struct ipc_msg *);

/* keycache.c: the key cache and the random pool. */
int		 rnd_take(uint8_t *out, size_t n);
void		 cache_init(void);
void		 cache_clear(void);
void		 keyops_cache_start(void);
struct centry	*cache_find(const char *name);
struct centry	*cache_add(const char *name);
void		 cache_unlink(struct centry *);
void		 centry_set(struct centry *, const struct kes_key *);
void		 cache_put(const char *name, const struct kes_key *);

#endif
