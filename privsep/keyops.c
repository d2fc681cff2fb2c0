/*
 * The key operations of the crypto process and its key cache (spec 3.3,
 * 5, 6.5). Each answer_key_* handler is the other half of a worker's
 * route_key_* stub (worker/keys.c). Every handler re-checks the policy for
 * the path it rebuilds from the operation and the name, then validates
 * the name, exactly in KES's order (authorisation first).
 *
 * A request whose key is not cached is parked on the cache entry while one
 * fetch runs; when the agent answers (ks_wrap.c), the parked requests run
 * again from their saved payloads (now hitting the cache) or fail
 * together. The cache itself and the random pool: keycache.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ciphertext.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/policy.h"
#include "common/xmalloc.h"
#include "privsep/crypto_int.h"

#define MSG_NOT_AUTHORIZED	"not authorized: insufficient permissions"

/* --- replies ---------------------------------------------------------- */

void
send_error_to(uint64_t serial, uint32_t id, uint16_t status, const char *msg)
{
	struct peer *p = crypto_worker(serial);

	if (p != NULL)
		peer_send_error(p, id, status, msg);
}

void
send_to(uint64_t serial, uint16_t type, uint32_t id, const struct buf *b)
{
	struct peer *p = crypto_worker(serial);

	if (p != NULL)
		(void)peer_reply(p, type, id, b);
}

/*
 * The policy check for route+name, then the name check. Answers the
 * request and returns false when either fails.
 */
static bool
authorized(struct peer *p, uint32_t id, const char *identity,
    const char *route, const char *name, bool pattern)
{
	char	*path, *msg, pbuf[256];
	bool	 ok;
	size_t	 i, rl, nl;

	ok = false;
	for (i = 0; i < cs.cf.nskip_auth; i++)
		if (strcmp(cs.cf.skip_auth[i], route) == 0)
			ok = true;
	/* The admin needs no path; a policy's path is built on the stack
	 * (every request of a policy identity, MinIO's, comes here). */
	if (!ok && !(ok = policy_is_admin(&cs.cf.pol, identity))) {
		rl = strlen(route);
		nl = strlen(name);
		path = rl + nl < sizeof(pbuf) ? pbuf : xmalloc(rl + nl + 1);
		memcpy(path, route, rl);
		memcpy(path + rl, name, nl + 1);
		ok = policy_allows(&cs.cf.pol, identity, path);
		if (path != pbuf)
			free(path);
	}
	if (!ok) {
		log_warnx("worker %u asked %s%s for an identity the policy "
		    "does not allow", p->index, route, name);
		peer_send_error(p, id, 403, MSG_NOT_AUTHORIZED);
		return false;
	}
	/* New keys need today's names; existing ones may be older. */
	if (pattern ? kes_valid_pattern(name) :
	    strcmp(route, "/v1/key/create/") == 0 ||
	    strcmp(route, "/v1/key/import/") == 0 ? kes_valid_name(name) :
	    kes_legacy_name(name))
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

	if ((e = cache_find(name)) != NULL) {
		if (e->parked != NULL) {
			park(e, p, m);
			return NULL;
		}
		e->used = true;
		return e;
	}
	r = ks_get(name);
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
void
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

/* --- creating keys ------------------------------------------------------- */

/* Store k under name; the answer goes to the worker (or the log). */
static bool
store_new_key(const char *name, struct kes_key *k, struct peer *p,
    uint32_t id)
{
	struct buf	 v;
	struct ksreq	*r;

	buf_init(&v, KES_STORED_MAX);
	if (kes_key_encode(k, &v) == -1) {
		buf_release(&v);
		return false;
	}
	r = ks_create(name, &v);
	buf_release(&v);
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
 * "already exists" is fine (spec 5.1). Of several crypto processes each
 * creates the keys it serves (kes_name_shard), the ones it caches. */
void
keyops_create_declared(void)
{
	struct kes_key	k;
	size_t		i;

	cs.declared_done = true;
	for (i = 0; i < cs.cf.nkeys; i++) {
		if (!kes_valid_name(cs.cf.keys[i]) ||
		    kes_name_shard(cs.cf.keys[i], cs.cf.ncrypto) !=
		    cs.cf.index)
			continue;	/* the parser already refused it, or
					 * another crypto process's */
		cs.declared_pending++;
		if (new_key(&k, kes_default_key_type(), NULL,
		    cs.cf.pol.admin ? cs.cf.pol.admin : "") == -1 ||
		    !store_new_key(cs.cf.keys[i], &k, NULL, 0)) {
			cs.declared_done = false;
			crypto_declared_answer(cs.cf.keys[i], "the call could "
			    "not be sent to the keystore agent");
		}
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

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!authorized(p, m->hdr.id, identity, "/v1/key/delete/", name,
	    false))
		return 0;
	r = ks_delete(name);
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
	r = ks_list(prefix);
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
	buf_put_str(&b, r.name);
	buf_put_u8(&b, k->k.type);
	buf_put_u64(&b, (uint64_t)k->created_sec);
	buf_put_u32(&b, (uint32_t)k->created_nsec);
	buf_put_str(&b, k->by->s);
	(void)peer_reply(p, MSG_KEY_INFO, m->hdr.id, &b);
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
		buf_put_bytes(&b, dek, ptlen);
	buf_put_bytes(&b, ct, ctlen);
	(void)peer_reply(p, dek != NULL ? MSG_KEY_DEK : MSG_KEY_SEALED, id,
	    &b);
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
		buf_put_bytes(&b, pt, ptlen);
		(void)peer_reply(p, MSG_KEY_OPENED, m->hdr.id, &b);
		buf_release(&b);
	}
	freezero(pt, r.len[0] + 1);
	return 0;
}

/*
 * KEY_BULK_DECRYPT: str identity, str name, u32 n, n x (bytes ciphertext,
 * bytes context). KES 2023's POST /v1/key/bulk/decrypt/NAME, which MinIO
 * of that time used: every ciphertext under one key, the plaintexts in
 * order, or one error for all (the first that fails).
 */
int
answer_key_bulk_decrypt(struct peer *p, struct ipc_msg *m)
{
	const struct centry	*k;
	const char		*identity, *name;
	const uint8_t		*ct, *ctx;
	size_t			 ctlen, ctxlen, i, total = 0;
	uint32_t		 n;
	uint8_t			*pt;
	size_t			 ptlen;
	struct buf		 items, b;

	if (buf_get_str(&m->payload, &identity, NULL) == -1 ||
	    buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_get_u32(&m->payload, &n) == -1)
		return -1;
	/* The items: well formed to the end before anything is opened. */
	items = m->payload;
	for (i = 0; i < n; i++) {
		if (buf_get_bytes(&m->payload, &ct, &ctlen) == -1 ||
		    buf_get_bytes(&m->payload, &ctx, &ctxlen) == -1)
			return -1;
		total += ctlen;
	}
	if (buf_end(&m->payload) == -1)
		return -1;
	if (!authorized(p, m->hdr.id, identity, "/v1/key/bulk/decrypt/", name,
	    false) || (k = key_get(p, m, name)) == NULL)
		return 0;
	buf_init(&b, total + 8 * (size_t)n + 64);
	buf_put_u32(&b, n);
	for (i = 0; i < n; i++) {
		(void)buf_get_bytes(&items, &ct, &ctlen);
		(void)buf_get_bytes(&items, &ctx, &ctxlen);
		pt = xmalloc(ctlen + 1);
		if (kes_open(&k->k, ct, ctlen, ctx, ctxlen, pt, &ptlen) ==
		    -1) {
			freezero(pt, ctlen + 1);
			buf_release(&b);
			peer_send_error(p, m->hdr.id, 400, "decryption failed: "
			    "ciphertext is not authentic");
			return 0;
		}
		buf_put_bytes(&b, pt, ptlen);
		freezero(pt, ctlen + 1);
	}
	(void)peer_reply(p, MSG_KEY_OPENED_BULK, m->hdr.id, &b);
	buf_release(&b);
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
	buf_put_bytes(&b, sum, sizeof(sum));
	(void)peer_reply(p, MSG_KEY_MAC, m->hdr.id, &b);
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
	case MSG_KEY_BULK_DECRYPT: return answer_key_bulk_decrypt(p, &m);
	}
	return -1;
}
