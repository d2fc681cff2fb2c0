/*
 * The crypto process's key cache (spec 6.5) and its random pool: parsed
 * keys in locked, undumpable slabs wiped on release, a name hash, the
 * creator identities they share, expiry (cache.expiry.any / unused), and
 * random bytes drawn from OpenSSL in RND_POOL batches.
 */
#include <sys/mman.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "common/log.h"
#include "common/privdrop.h"
#include "common/xmalloc.h"
#include "privsep/crypto_int.h"

/* --- random bytes, drawn in batches ------------------------------------ */

int
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

struct centry *
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
void
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

struct centry *
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

void
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

/* A key the crypto process made or fetched: cache it, unless a fetch
 * for the name is in flight (it will fill the entry). */
void
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
