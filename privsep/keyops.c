/*
 * The key operations of the crypto process and its key cache (spec 3.3,
 * 5, 6.5). Each answer_key_* handler is the other half of a worker's
 * route_key_* stub (worker/keys.c). Every handler re-checks the policy for
 * the path it rebuilds from the operation and the name, then validates
 * the name, exactly in KES's order (authorisation first).
 *
 * A request whose key is not cached is parked on the cache entry while one
 * fetch runs; when the agent answers, the parked requests run again from
 * their saved payloads (now hitting the cache) or fail together.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/ciphertext.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/xmalloc.h"
#include "privsep/crypto_int.h"
#include "common/privdrop.h"

#define MSG_NOT_AUTHORIZED	"not authorized: insufficient permissions"
#define MSG_KEY_NOT_FOUND	"key does not exist"

/* --- random bytes, drawn in batches ------------------------------------ */

static int
rnd_take(uint8_t *out, size_t n)
{
	if (n > RND_POOL)
		return -1;
	if (cs.rnd_off + n > RND_POOL || cs.rnd_off == 0) {
		if (RAND_priv_bytes(cs.rnd, RND_POOL) != 1)
			return -1;
		cs.rnd_off = 0;
	}
	memcpy(out, cs.rnd + cs.rnd_off, n);
	explicit_bzero(cs.rnd + cs.rnd_off, n);
	cs.rnd_off += n;
	if (cs.rnd_off == RND_POOL)
		cs.rnd_off = 0;		/* refill next time */
	return 0;
}

/* --- the cache ------------------------------------------------------------ */

static size_t
hash_name(const char *s)
{
	uint64_t h = 1469598103934665603ULL;	/* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 1099511628211ULL;
	return (size_t)h;
}

void
cache_init(void)
{
	cs.tabsize = 1024;
	cs.tab = xcalloc(cs.tabsize, sizeof(*cs.tab));
}

static struct centry *
cache_find(const char *name)
{
	struct centry *e;

	for (e = cs.tab[hash_name(name) & (cs.tabsize - 1)]; e; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

static void
cache_grow(void)
{
	struct centry	**nt, *e, *n;
	size_t		  ns = cs.tabsize * 2, i, h;

	nt = xcalloc(ns, sizeof(*nt));
	for (i = 0; i < cs.tabsize; i++)
		for (e = cs.tab[i]; e; e = n) {
			n = e->next;
			h = hash_name(e->name) & (ns - 1);
			e->next = nt[h];
			nt[h] = e;
		}
	free(cs.tab);
	cs.tab = nt;
	cs.tabsize = ns;
}

/*
 * Entries hold key material, so they live in slabs of their own: locked
 * like all memory here (mlockall), excluded from core dumps (behind
 * PR_SET_DUMPABLE 0 and RLIMIT_CORE 0), wiped on release, and without a
 * malloc header per key. Slabs are never returned.
 */
static struct centry *
centry_alloc(void)
{
	struct centry	*e;
	uint8_t		*p;
	size_t		 i, n = CACHE_SLAB / sizeof(*e);

	if (cs.cfree == NULL) {
		p = mmap(NULL, CACHE_SLAB, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			fatal("key cache: mmap");
		mem_dontdump(p, CACHE_SLAB);
		for (i = 0; i < n; i++) {
			e = (struct centry *)(p + i * sizeof(*e));
			e->next = cs.cfree;
			cs.cfree = e;
		}
	}
	e = cs.cfree;
	cs.cfree = e->next;
	memset(e, 0, sizeof(*e));
	return e;
}

/* With its hash slot, a cached key costs under 256 bytes of locked memory
 * (`make bench` measures it). */
_Static_assert(sizeof(struct centry) <= 192, "struct centry grew");

/* created_by strings, shared by the keys one identity created. */
struct creator {
	struct creator	*next;
	size_t		 refs;
	char		 s[];
};

static struct creator *
creator_get(const char *s)
{
	struct creator	*c;
	size_t		 len = strlen(s);

	for (c = cs.creators; c != NULL; c = c->next)
		if (strcmp(c->s, s) == 0) {
			c->refs++;
			return c;
		}
	c = xmalloc(sizeof(*c) + len + 1);
	memcpy(c->s, s, len + 1);
	c->refs = 1;
	c->next = cs.creators;
	cs.creators = c;
	return c;
}

static void
creator_put(struct creator *c)
{
	struct creator **pp;

	if (c == NULL || --c->refs > 0)
		return;
	for (pp = &cs.creators; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	free(c);
}

/* Fill a cache entry from a decoded key. */
static void
centry_set(struct centry *e, const struct kes_key *k)
{
	struct creator *old = e->by;

	e->k = k->secret;
	e->created_sec = k->created_sec;
	e->created_nsec = k->created_nsec;
	e->by = creator_get(k->created_by);
	creator_put(old);
}

static void
centry_free(struct centry *e)
{
	creator_put(e->by);
	free(e->parked);
	explicit_bzero(e, sizeof(*e));
	e->next = cs.cfree;
	cs.cfree = e;
}

static struct centry *
cache_add(const char *name)
{
	struct centry	*e;
	size_t		 h;

	if (cs.ncached >= cs.tabsize)
		cache_grow();
	e = centry_alloc();
	snprintf(e->name, sizeof(e->name), "%s", name);
	h = hash_name(name) & (cs.tabsize - 1);
	e->next = cs.tab[h];
	cs.tab[h] = e;
	cs.ncached++;
	return e;
}

static void
cache_unlink(struct centry *e)
{
	struct centry **pp;

	for (pp = &cs.tab[hash_name(e->name) & (cs.tabsize - 1)]; *pp;
	    pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			break;
		}
	cs.ncached--;
	centry_free(e);
}

/* Drop cached keys; keys being fetched stay (their requests wait). With
 * unused_only, drop those not used since the last sweep and mark the rest
 * unused. */
static void
cache_evict(bool unused_only)
{
	struct centry	*e, *n;
	size_t		 i;

	for (i = 0; i < cs.tabsize; i++)
		for (e = cs.tab[i]; e; e = n) {
			n = e->next;
			if (e->parked != NULL)
				continue;
			if (unused_only && e->used)
				e->used = false;
			else
				cache_unlink(e);
		}
}

void
cache_clear(void)
{
	cache_evict(false);
}

/*
 * Expiry as KES intended it (spec 6.5), not its default-value bug:
 * expiry.any clears everything every `any`; expiry.unused drops keys not
 * used for `unused` (a sweep every unused/2). While the store is offline
 * and expiry.offline is set, both are suspended and the cache is instead
 * cleared `offline` after the outage began (and every `offline` after),
 * so cached keys keep serving for that window and then stop.
 */
static void
cache_tick(struct ev_timer *t)
{
	uint64_t now = ev_now();

	if (cs.offline && cs.cf.cache_offline_ms > 0) {
		if (now >= cs.next_offline) {
			if (cs.ncached > 0)
				log_warnx("key store offline for %llu ms: "
				    "dropping the cached keys", (unsigned long
				    long)(now - cs.offline_since));
			cache_clear();
			cs.next_offline = now + cs.cf.cache_offline_ms;
		}
	} else {
		if (cs.cf.cache_any_ms > 0 && now >= cs.next_any) {
			cache_clear();
			cs.next_any = now + cs.cf.cache_any_ms;
		}
		if (cs.cf.cache_unused_ms > 0 && now >= cs.next_unused) {
			cache_evict(true);
			cs.next_unused = now + (cs.cf.cache_unused_ms + 1) / 2;
		}
	}
	ev_timer_set(&cs.cache_timer, 1000, cache_tick, NULL);
}

void
keyops_cache_start(void)
{
	uint64_t now = ev_now();

	cs.next_any = now + cs.cf.cache_any_ms;
	cs.next_unused = now + (cs.cf.cache_unused_ms + 1) / 2;
	ev_timer_set(&cs.cache_timer, 1000, cache_tick, NULL);
}

/* --- replies ---------------------------------------------------------- */

static void
send_error_to(uint64_t serial, uint32_t id, uint16_t status, const char *msg)
{
	struct peer *p = crypto_worker(serial);

	if (p != NULL)
		peer_send_error(p, id, status, msg);
}

static void
send_to(uint64_t serial, uint16_t type, uint32_t id, const struct buf *b)
{
	struct peer *p = crypto_worker(serial);

	if (p != NULL)
		peer_send(p, type, id, b);
}

/*
 * The policy check for route+name, then the name check. Answers the
 * request and returns false when either fails.
 */
static bool
authorized(struct peer *p, uint32_t id, const char *identity,
    const char *route, const char *name, bool pattern)
{
	char	*path, *msg;
	bool	 ok;
	size_t	 i;

	ok = false;
	for (i = 0; i < cs.cf.nskip_auth; i++)
		if (strcmp(cs.cf.skip_auth[i], route) == 0)
			ok = true;
	if (!ok) {
		xasprintf(&path, "%s%s", route, name);
		ok = policy_allows(&cs.cf.pol, identity, path);
		free(path);
	}
	if (!ok) {
		log_warnx("worker %u asked %s%s for an identity the policy "
		    "does not allow", p->index, route, name);
		peer_send_error(p, id, 403, MSG_NOT_AUTHORIZED);
		return false;
	}
	if (pattern ? kes_valid_pattern(name) : kes_valid_name(name))
		return true;
	if (pattern)
		xasprintf(&msg, "listing pattern '%s' is empty, too long or is "
		    "invalid", name);
	else
		xasprintf(&msg, "key name '%s' is empty, too long or contains "
		    "invalid characters", name);
	peer_send_error(p, id, 400, msg);
	free(msg);
	return false;
}

/* --- fetching keys -------------------------------------------------------- */

static void
park(struct centry *e, struct peer *p, struct ipc_msg *m)
{
	struct parked *pk;

	pk = xcalloc(1, sizeof(*pk));
	pk->worker = crypto_serial(p);
	pk->type = m->hdr.type;
	pk->id = m->hdr.id;
	pk->len = m->payload.len;
	pk->payload = xmemdup(m->payload.data, pk->len);
	TAILQ_INSERT_TAIL(e->parked, pk, entry);
}

static void
parked_free(struct parked *pk)
{
	freezero(pk->payload, pk->len);
	free(pk);
}

/*
 * The key for a request: cached, or NULL when the request has been parked
 * (or answered with an error). Concurrent misses share one fetch.
 */
static const struct centry *
key_get(struct peer *p, struct ipc_msg *m, const char *name)
{
	struct centry	*e;
	struct ksreq	*r;
	struct buf	 b;

	if ((e = cache_find(name)) != NULL) {
		if (e->parked != NULL) {
			park(e, p, m);
			return NULL;
		}
		e->used = true;
		return e;
	}
	buf_init(&b, KES_NAME_MAX + 16);
	(void)buf_put_str(&b, name);
	r = ks_call(MSG_KS_GET, &b, name);
	buf_release(&b);
	if (r == NULL) {
		peer_send_error(p, m->hdr.id, 502, "failed to read key");
		return NULL;
	}
	e = cache_add(name);
	e->parked = xmalloc(sizeof(*e->parked));
	TAILQ_INIT(e->parked);
	park(e, p, m);
	return NULL;
}

static int	redispatch(struct parked *);

/* The fetch for e ended: run or fail what waited for it. */
static void
fetch_done(struct centry *e, uint16_t status, const char *msg)
{
	struct parkedlist	 l;
	struct parked		*pk;

	TAILQ_INIT(&l);
	TAILQ_CONCAT(&l, e->parked, entry);
	free(e->parked);
	e->parked = NULL;
	if (status != 0)
		cache_unlink(e);
	else
		e->used = true;
	while ((pk = TAILQ_FIRST(&l)) != NULL) {
		TAILQ_REMOVE(&l, pk, entry);
		if (status != 0)
			send_error_to(pk->worker, pk->id, status, msg);
		else
			(void)redispatch(pk);
		parked_free(pk);
	}
}

/* --- the agent's answers ---------------------------------------------- */

/* KS_FAIL: u8 reason, str detail. Returns the reason, or 0 if malformed. */
static int
ks_fail_reason(struct ksreq *r, struct ipc_msg *m)
{
	uint8_t		 reason;
	const char	*detail;

	if (buf_get_u8(&m->payload, &reason) == -1 ||
	    buf_get_str(&m->payload, &detail, NULL) == -1 ||
	    buf_end(&m->payload) == -1 || reason < KS_FAIL_EXISTS ||
	    reason > KS_FAIL_UNAVAILABLE)
		return 0;
	if (reason == KS_FAIL_UNAVAILABLE || reason == KS_FAIL_INVALID)
		log_warnx("key store: %s '%s': %s", msg_name(r->type),
		    r->name, detail);
	if (reason == KS_FAIL_UNAVAILABLE)
		ks_trigger_probe();
	return reason;
}

static int
ks_get_done(struct ksreq *r, struct ipc_msg *m)
{
	struct centry	*e = cache_find(r->name);
	struct kes_key	 k;
	const uint8_t	*v;
	size_t		 len;
	int		 reason, bad = 0, rv;

	if (e == NULL || e->parked == NULL)
		return 0;	/* cannot happen: fetching entries stay */
	if (m == NULL) {
		fetch_done(e, 502, "failed to read key");
		return 0;
	}
	if (m->hdr.type == MSG_KS_VALUE) {
		if (buf_get_bytes(&m->payload, &v, &len) == -1 ||
		    buf_end(&m->payload) == -1) {
			fetch_done(e, 502, "failed to read key");
			return -1;
		}
		rv = kes_key_decode(v, len, &k);
		/* The stored value sits in the channel's input: wipe it
		 * now rather than when the buffer is next compacted. */
		explicit_bzero((void *)(uintptr_t)v, len);
		if (rv == 0)
			centry_set(e, &k);
		kes_key_wipe(&k);
		if (rv == -1) {
			log_warnx("key '%s' in the key store is malformed",
			    r->name);
			fetch_done(e, 502, "failed to read key");
			return 0;
		}
		fetch_done(e, 0, NULL);
		return 0;
	}
	if (m->hdr.type != MSG_KS_FAIL ||
	    (reason = ks_fail_reason(r, m)) == 0) {
		reason = KS_FAIL_UNAVAILABLE;
		bad = -1;
	}
	if (reason == KS_FAIL_NOT_FOUND)
		fetch_done(e, 404, MSG_KEY_NOT_FOUND);
	else
		fetch_done(e, 502, "failed to read key");
	return bad;
}

static void
cache_put(const char *name, const struct kes_key *k)
{
	struct centry *e = cache_find(name);

	if (e == NULL)
		e = cache_add(name);
	else if (e->parked != NULL)
		return;		/* the fetch in flight will fill it */
	centry_set(e, k);
	e->used = true;
}

static int
ks_create_done(struct ksreq *r, struct ipc_msg *m)
{
	int reason = 0, bad = 0;

	if (m != NULL && m->hdr.type == MSG_KS_DONE) {
		if (buf_end(&m->payload) == -1)
			bad = -1;
		else {
			if (r->key != NULL)
				cache_put(r->name, r->key);
			if (r->declared)
				log_info("created key '%s' (keys: in the "
				    "configuration)", r->name);
			else
				send_to(r->worker, MSG_DONE, r->wid, NULL);
			return 0;
		}
	} else if (m != NULL && (m->hdr.type != MSG_KS_FAIL ||
	    (reason = ks_fail_reason(r, m)) == 0))
		bad = -1;
	if (r->declared) {
		if (reason != KS_FAIL_EXISTS) {
			log_warnx("cannot create key '%s' of the configuration",
			    r->name);
			cs.declared_done = false;	/* again next time */
		}
		return bad;
	}
	if (reason == KS_FAIL_EXISTS)
		send_error_to(r->worker, r->wid, 400, "key already exists");
	else
		send_error_to(r->worker, r->wid, 502, "failed to create key");
	return bad;
}

static int
ks_delete_done(struct ksreq *r, struct ipc_msg *m)
{
	struct centry	*e;
	int		 reason = 0, bad = 0;

	if (m != NULL && m->hdr.type == MSG_KS_DONE &&
	    buf_end(&m->payload) == 0)
		reason = -1;
	else if (m != NULL && (m->hdr.type != MSG_KS_FAIL ||
	    (reason = ks_fail_reason(r, m)) == 0))
		bad = -1;
	if ((reason == -1 || reason == KS_FAIL_NOT_FOUND) &&
	    (e = cache_find(r->name)) != NULL && e->parked == NULL)
		cache_unlink(e);
	if (reason == -1)
		send_to(r->worker, MSG_DONE, r->wid, NULL);
	else if (reason == KS_FAIL_NOT_FOUND)
		send_error_to(r->worker, r->wid, 404, MSG_KEY_NOT_FOUND);
	else
		send_error_to(r->worker, r->wid, 502, "failed to delete key");
	return bad;
}

/* KS_NAMES is checked and passed on unchanged as KEY_NAMES. */
static int
ks_list_done(struct ksreq *r, struct ipc_msg *m)
{
	const char	*s;
	uint32_t	 n, i;
	struct buf	 v;

	if (m != NULL && m->hdr.type == MSG_KS_NAMES) {
		buf_view(&v, m->payload.data, m->payload.len);
		if (buf_get_u32(&v, &n) == -1 || n > KS_LIST_MAX)
			goto bad;
		for (i = 0; i <= n; i++)	/* the names, continue_at */
			if (buf_get_str(&v, &s, NULL) == -1)
				goto bad;
		if (buf_end(&v) == -1)
			goto bad;
		send_to(r->worker, MSG_KEY_NAMES, r->wid, &m->payload);
		return 0;
	}
	/* No answer (timeout, agent gone) or a failure it reported. */
	if (m == NULL || (m->hdr.type == MSG_KS_FAIL &&
	    ks_fail_reason(r, m) != 0)) {
		send_error_to(r->worker, r->wid, 502, "failed to list keys");
		return 0;
	}
bad:
	send_error_to(r->worker, r->wid, 502, "failed to list keys");
	return -1;
}

int
keyops_ks_done(struct ksreq *r, struct ipc_msg *m)
{
	int rv = 0;

	switch (r->type) {
	case MSG_KS_GET:
		rv = ks_get_done(r, m);
		break;
	case MSG_KS_CREATE:
		rv = ks_create_done(r, m);
		break;
	case MSG_KS_DELETE:
		rv = ks_delete_done(r, m);
		break;
	case MSG_KS_LIST:
		rv = ks_list_done(r, m);
		break;
	}
	if (r->key != NULL) {
		kes_key_wipe(r->key);
		free(r->key);
		r->key = NULL;
	}
	return rv;
}

/* --- creating keys ------------------------------------------------------- */

/* Store k under name; the answer goes to the worker (or the log). */
static bool
store_new_key(const char *name, struct kes_key *k, struct peer *p,
    uint32_t id)
{
	struct buf	 b, v;
	struct ksreq	*r;

	buf_init(&v, KES_STORED_MAX);
	if (kes_key_encode(k, &v) == -1) {
		buf_release(&v);
		return false;
	}
	buf_init(&b, KES_STORED_MAX + KES_NAME_MAX + 16);
	(void)buf_put_str(&b, name);
	(void)buf_put_bytes(&b, buf_ptr(&v), buf_avail(&v));
	buf_release(&v);
	r = ks_call(MSG_KS_CREATE, &b, name);
	buf_release(&b);
	if (r == NULL)
		return false;
	r->key = xmemdup(k, sizeof(*k));
	if (p != NULL) {
		r->worker = crypto_serial(p);
		r->wid = id;
	} else
		r->declared = true;
	return true;
}

static int
new_key(struct kes_key *k, uint8_t type, const uint8_t *secret,
    const char *creator)
{
	struct timespec ts;

	memset(k, 0, sizeof(*k));
	k->type = type;
	if (secret != NULL)
		memcpy(k->key, secret, KES_KEY_LEN);
	else if (rnd_take(k->key, KES_KEY_LEN) == -1)
		return -1;
	if (rnd_take(k->hmac, KES_KEY_LEN) == -1)
		return -1;
	k->has_hmac = true;
	clock_gettime(CLOCK_REALTIME, &ts);
	k->created_sec = ts.tv_sec;
	k->created_nsec = (int32_t)ts.tv_nsec;
	snprintf(k->created_by, sizeof(k->created_by), "%s", creator);
	return 0;
}

/* Keys named in the configuration's `keys:`, created by the admin;
 * "already exists" is fine (spec 5.1). */
void
keyops_create_declared(void)
{
	struct kes_key	k;
	size_t		i;

	cs.declared_done = true;
	for (i = 0; i < cs.cf.nkeys; i++) {
		if (!kes_valid_name(cs.cf.keys[i]))
			continue;	/* the parser already refused it */
		if (new_key(&k, kes_default_key_type(), NULL,
		    cs.cf.pol.admin ? cs.cf.pol.admin : "") == -1 ||
		    !store_new_key(cs.cf.keys[i], &k, NULL, 0))
			cs.declared_done = false;
		kes_key_wipe(&k);
	}
}

/* A new key version for name (secret: imported, or NULL for a random
 * one) with its own HMAC key, stored; the agent's answer goes to p. */
static void
create_key(struct peer *p, uint32_t id, const char *identity,
    const char *name, uint8_t type, const uint8_t *secret)
{
	struct kes_key k;

	if (new_key(&k, type, secret, identity) == -1)
		peer_send_error(p, id, 500, "failed to generate encryption key");
	else if (!store_new_key(name, &k, p, id))
		peer_send_error(p, id, 502, "failed to create key");
	kes_key_wipe(&k);
}

/* KEY_CREATE: str identity, str name. */
int
answer_key_create(struct peer *p, struct ipc_msg *m)
{
	const char	*identity, *name;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!authorized(p, m->hdr.id, identity, "/v1/key/create/", name,
	    false))
		return 0;
	create_key(p, m->hdr.id, identity, name, kes_default_key_type(),
	    NULL);
	return 0;
}

/* KEY_IMPORT: str identity, str name, u8 type, bytes key (32). */
int
answer_key_import(struct peer *p, struct ipc_msg *m)
{
	const char	*identity, *name;
	const uint8_t	*secret;
	size_t		 len;
	uint8_t		 type;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_get_u8(&m->payload, &type) == -1 ||
	    buf_get_bytes(&m->payload, &secret, &len) == -1 ||
	    buf_end(&m->payload) == -1 || len != KES_KEY_LEN ||
	    kes_key_type_name(type) == NULL)
		return -1;	/* the worker checked all of this */
	if (!authorized(p, m->hdr.id, identity, "/v1/key/import/", name,
	    false))
		return 0;
	create_key(p, m->hdr.id, identity, name, type, secret);
	return 0;
}

/* KEY_DELETE: str identity, str name. */
int
answer_key_delete(struct peer *p, struct ipc_msg *m)
{
	const char	*identity, *name;
	struct ksreq	*r;
	struct buf	 b;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!authorized(p, m->hdr.id, identity, "/v1/key/delete/", name,
	    false))
		return 0;
	buf_init(&b, KES_NAME_MAX + 16);
	(void)buf_put_str(&b, name);
	r = ks_call(MSG_KS_DELETE, &b, name);
	buf_release(&b);
	if (r == NULL) {
		peer_send_error(p, m->hdr.id, 502, "failed to delete key");
		return 0;
	}
	r->worker = crypto_serial(p);
	r->wid = m->hdr.id;
	return 0;
}

/* KEY_LIST: str identity, str pattern. A trailing '*' is stripped (KES
 * passes it on and then matches nothing, spec 11.6). */
int
answer_key_list(struct peer *p, struct ipc_msg *m)
{
	const char	*identity, *pattern;
	char		 prefix[KES_NAME_MAX + 1];
	struct ksreq	*r;
	struct buf	 b;
	size_t		 n;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &pattern, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!authorized(p, m->hdr.id, identity, "/v1/key/list/", pattern,
	    true))
		return 0;
	n = strlen(pattern);
	if (n > 0 && pattern[n - 1] == '*')
		n--;
	snprintf(prefix, sizeof(prefix), "%.*s", (int)n, pattern);
	buf_init(&b, KES_NAME_MAX + 16);
	(void)buf_put_str(&b, prefix);
	r = ks_call(MSG_KS_LIST, &b, prefix);
	buf_release(&b);
	if (r == NULL) {
		peer_send_error(p, m->hdr.id, 502, "failed to list keys");
		return 0;
	}
	r->worker = crypto_serial(p);
	r->wid = m->hdr.id;
	return 0;
}

/*
 * The common start of the operations on one key: str identity, str name,
 * then nbytes bytes fields and nothing else; the policy check for
 * route+name and the name check; the key from the cache. 1: *k is set;
 * 0: answered (an error) or parked; -1: malformed, a protocol error.
 */
struct key_req {
	const char	*identity, *name;
	const uint8_t	*bytes[2];
	size_t		 len[2];
};

static int
key_begin(struct peer *p, struct ipc_msg *m, const char *route,
    size_t nbytes, struct key_req *r, const struct centry **k)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	if (buf_get_str(&m->payload, &r->identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &r->name, NULL) == -1)
		return -1;
	for (i = 0; i < nbytes; i++)
		if (buf_get_bytes(&m->payload, &r->bytes[i], &r->len[i]) == -1)
			return -1;
	if (buf_end(&m->payload) == -1)
		return -1;
	if (!authorized(p, m->hdr.id, r->identity, route, r->name, false) ||
	    (*k = key_get(p, m, r->name)) == NULL)
		return 0;
	return 1;
}

/* KEY_DESCRIBE: str identity, str name. */
int
answer_key_describe(struct peer *p, struct ipc_msg *m)
{
	struct key_req		 r;
	const struct centry	*k;
	struct buf		 b;
	int			 rv;

	if ((rv = key_begin(p, m, "/v1/key/describe/", 0, &r, &k)) != 1)
		return rv;
	buf_init(&b, 512);
	(void)buf_put_str(&b, r.name);
	(void)buf_put_u8(&b, k->k.type);
	(void)buf_put_u64(&b, (uint64_t)k->created_sec);
	(void)buf_put_u32(&b, (uint32_t)k->created_nsec);
	(void)buf_put_str(&b, k->by->s);
	peer_send(p, MSG_KEY_INFO, m->hdr.id, &b);
	buf_release(&b);
	return 0;
}

/* Seal pt under k with a fresh iv and nonce and send it as reply type. */
static void
seal_reply(struct peer *p, uint32_t id, const struct kes_secret *k,
    const uint8_t *pt, size_t ptlen, const uint8_t *aad, size_t aadlen,
    const uint8_t *dek)
{
	uint8_t		 rnd[KES_IV_LEN + KES_NONCE_LEN], *ct;
	size_t		 ctlen = ptlen + KES_CT_OVERHEAD;
	struct buf	 b;

	ct = xmalloc(ctlen);
	if (rnd_take(rnd, sizeof(rnd)) == -1 ||
	    kes_seal(k, rnd, rnd + KES_IV_LEN, pt, ptlen, aad, aadlen,
	    ct) == -1) {
		peer_send_error(p, id, 500, "failed to encrypt plaintext");
		freezero(ct, ctlen);
		return;
	}
	buf_init(&b, ctlen + ptlen + 64);
	if (dek != NULL)
		(void)buf_put_bytes(&b, dek, ptlen);
	(void)buf_put_bytes(&b, ct, ctlen);
	peer_send(p, dek != NULL ? MSG_KEY_DEK : MSG_KEY_SEALED, id, &b);
	buf_release(&b);
	freezero(ct, ctlen);
}

/* KEY_GENERATE: str identity, str name, bytes context. A 32-byte DEK
 * sealed under the key with the context as associated data. */
int
answer_key_generate(struct peer *p, struct ipc_msg *m)
{
	struct key_req		 r;
	const struct centry	*k;
	uint8_t			 dek[32];
	int			 rv;

	if ((rv = key_begin(p, m, "/v1/key/generate/", 1, &r, &k)) != 1)
		return rv;
	if (rnd_take(dek, sizeof(dek)) == -1) {
		peer_send_error(p, m->hdr.id, 500,
		    "failed to generate encryption key");
		return 0;
	}
	seal_reply(p, m->hdr.id, &k->k, dek, sizeof(dek), r.bytes[0], r.len[0],
	    dek);
	explicit_bzero(dek, sizeof(dek));
	return 0;
}

/* KEY_ENCRYPT: str identity, str name, bytes plaintext, bytes context. */
int
answer_key_encrypt(struct peer *p, struct ipc_msg *m)
{
	struct key_req		 r;
	const struct centry	*k;
	int			 rv;

	if ((rv = key_begin(p, m, "/v1/key/encrypt/", 2, &r, &k)) != 1)
		return rv;
	seal_reply(p, m->hdr.id, &k->k, r.bytes[0], r.len[0], r.bytes[1],
	    r.len[1], NULL);
	return 0;
}

/* KEY_DECRYPT: str identity, str name, bytes ciphertext, bytes context. */
int
answer_key_decrypt(struct peer *p, struct ipc_msg *m)
{
	struct key_req		 r;
	const struct centry	*k;
	uint8_t			*pt;
	size_t			 ptlen;
	struct buf		 b;
	int			 rv;

	if ((rv = key_begin(p, m, "/v1/key/decrypt/", 2, &r, &k)) != 1)
		return rv;
	pt = xmalloc(r.len[0] + 1);
	if (kes_open(&k->k, r.bytes[0], r.len[0], r.bytes[1], r.len[1], pt,
	    &ptlen) == -1) {
		peer_send_error(p, m->hdr.id, 400,
		    "decryption failed: ciphertext is not authentic");
	} else {
		buf_init(&b, ptlen + 64);
		(void)buf_put_bytes(&b, pt, ptlen);
		peer_send(p, MSG_KEY_OPENED, m->hdr.id, &b);
		buf_release(&b);
	}
	freezero(pt, r.len[0] + 1);
	return 0;
}

/* KEY_HMAC: str identity, str name, bytes message. */
int
answer_key_hmac(struct peer *p, struct ipc_msg *m)
{
	struct key_req		 r;
	const struct centry	*k;
	uint8_t			 sum[32];
	struct buf		 b;
	int			 rv;

	if ((rv = key_begin(p, m, "/v1/key/hmac/", 1, &r, &k)) != 1)
		return rv;
	if (!k->k.has_hmac) {
		peer_send_error(p, m->hdr.id, 409, "key does not support HMAC");
		return 0;
	}
	if (kes_hmac(&k->k, r.bytes[0], r.len[0], sum) == -1) {
		peer_send_error(p, m->hdr.id, 500, "failed to compute HMAC");
		return 0;
	}
	buf_init(&b, 64);
	(void)buf_put_bytes(&b, sum, sizeof(sum));
	peer_send(p, MSG_KEY_MAC, m->hdr.id, &b);
	buf_release(&b);
	explicit_bzero(sum, sizeof(sum));
	return 0;
}

/* Run a parked request again, against the cache. */
static int
redispatch(struct parked *pk)
{
	struct peer	*p = crypto_worker(pk->worker);
	struct ipc_msg	 m;

	if (p == NULL)
		return 0;	/* its worker left */
	memset(&m, 0, sizeof(m));
	m.hdr.type = pk->type;
	m.hdr.id = pk->id;
	m.fd = -1;
	buf_view(&m.payload, pk->payload, pk->len);
	switch (pk->type) {
	case MSG_KEY_DESCRIBE:	return answer_key_describe(p, &m);
	case MSG_KEY_GENERATE:	return answer_key_generate(p, &m);
	case MSG_KEY_ENCRYPT:	return answer_key_encrypt(p, &m);
	case MSG_KEY_DECRYPT:	return answer_key_decrypt(p, &m);
	case MSG_KEY_HMAC:	return answer_key_hmac(p, &m);
	}
	return -1;
}
