/* Encoders and decoders for the per-role configuration slices. */
#include <stdlib.h>
#include <string.h>

#include "common/slice.h"
#include "common/xmalloc.h"

#define SLICE_MAX_API	256
#define SLICE_MAX_KEYS	65536

static int
pem_get(struct buf *b, struct pem *p)
{
	const uint8_t	*d;
	size_t		 n;

	if (buf_get_bytes(b, &d, &n) == -1)
		return -1;
	p->data = n ? xmemdup(d, n) : NULL;
	p->len = n;
	return 0;
}

static void
pem_free(struct pem *p)
{
	freezero(p->data, p->len);
	p->data = NULL;
	p->len = 0;
}

/*
 * worker: u32 index, u32 n crypto, u64 started, u32 log level (biased by 1
 * so that LOG_LVL_OFF fits), u32 audit level (biased the same way), u8 auth,
 * bytes cert (the chain; never its private key, which only the crypto
 * process gets), bytes ca, policy set, u32 n api, then per route: str path,
 * u64 timeout ms, u8 skip_auth.
 */
int
worker_slice_put(struct buf *b, const struct worker_slice *s)
{
	size_t i;

	if (buf_put_u32(b, s->index) == -1 ||
	    buf_put_u32(b, s->ncrypto) == -1 ||
	    buf_put_u64(b, s->started_ns) == -1 ||
	    buf_put_u32(b, s->log_level + 1) == -1 ||
	    buf_put_u32(b, s->audit_level + 1) == -1 ||
	    buf_put_u8(b, s->tls_auth) == -1 ||
	    buf_put_bytes(b, s->cert.data, s->cert.len) == -1 ||
	    buf_put_bytes(b, s->ca.data, s->ca.len) == -1 ||
	    policy_set_put(b, &s->pol) == -1 ||
	    buf_put_u32(b, s->napi) == -1)
		return -1;
	for (i = 0; i < s->napi; i++)
		if (buf_put_str(b, s->api[i].path) == -1 ||
		    buf_put_u64(b, s->api[i].timeout_ms) == -1 ||
		    buf_put_u8(b, s->api[i].skip_auth) == -1)
			return -1;
	return 0;
}

int
worker_slice_get(struct buf *b, struct worker_slice *s)
{
	uint32_t	lvl, alvl, n, i;

	memset(s, 0, sizeof(*s));
	if (buf_get_u32(b, &s->index) == -1 ||
	    buf_get_u32(b, &s->ncrypto) == -1 || s->ncrypto < 1 ||
	    s->ncrypto > CRYPTO_MAX ||
	    buf_get_u64(b, &s->started_ns) == -1 ||
	    buf_get_u32(b, &lvl) == -1 || lvl > 4 ||
	    buf_get_u32(b, &alvl) == -1 || alvl > 4 ||
	    buf_get_u8(b, &s->tls_auth) == -1 || s->tls_auth > TLS_AUTH_ON ||
	    pem_get(b, &s->cert) == -1 ||
	    pem_get(b, &s->ca) == -1 ||
	    policy_set_get(b, &s->pol) == -1 ||
	    buf_get_u32(b, &n) == -1 || n > SLICE_MAX_API)
		goto fail;
	s->log_level = (int)lvl - 1;
	s->audit_level = (int)alvl - 1;
	if (n > 0)
		s->api = xcalloc(n, sizeof(*s->api));
	for (i = 0; i < n; i++) {
		s->napi = i + 1;
		if (buf_get_strdup(b, &s->api[i].path) == -1 ||
		    buf_get_u64(b, &s->api[i].timeout_ms) == -1 ||
		    buf_get_bool(b, &s->api[i].skip_auth) == -1)
			goto fail;
	}
	if (buf_end(b) == -1)
		goto fail;
	return 0;
fail:
	worker_slice_free(s);
	return -1;
}

void
worker_slice_free(struct worker_slice *s)
{
	size_t i;

	pem_free(&s->cert);
	pem_free(&s->ca);
	policy_set_free(&s->pol);
	for (i = 0; i < s->napi; i++)
		free(s->api[i].path);
	free(s->api);
	memset(s, 0, sizeof(*s));
}

/* crypto: u32 log level + 1, u64 started, u32 index, u32 n crypto,
 * policy set, u64 any, unused,
 * offline (ms), u32 n keys, n x str key name, u32 n skip_auth paths,
 * n x str path, bytes tls_key (DER PKCS#8, secret). */
int
crypto_slice_put(struct buf *b, const struct crypto_slice *s)
{
	size_t i;

	if (buf_put_u32(b, s->log_level + 1) == -1 ||
	    buf_put_u64(b, s->started_ns) == -1 ||
	    buf_put_u32(b, s->index) == -1 ||
	    buf_put_u32(b, s->ncrypto) == -1 ||
	    policy_set_put(b, &s->pol) == -1 ||
	    buf_put_u64(b, s->cache_any_ms) == -1 ||
	    buf_put_u64(b, s->cache_unused_ms) == -1 ||
	    buf_put_u64(b, s->cache_offline_ms) == -1 ||
	    buf_put_u32(b, s->nkeys) == -1)
		return -1;
	for (i = 0; i < s->nkeys; i++)
		if (buf_put_str(b, s->keys[i]) == -1)
			return -1;
	if (buf_put_u32(b, s->nskip_auth) == -1)
		return -1;
	for (i = 0; i < s->nskip_auth; i++)
		if (buf_put_str(b, s->skip_auth[i]) == -1)
			return -1;
	if (buf_put_bytes(b, s->tls_key, s->tls_key_len) == -1)
		return -1;
	return 0;
}

int
crypto_slice_get(struct buf *b, struct crypto_slice *s)
{
	const uint8_t	*key;
	uint32_t	 lvl, n, i;

	memset(s, 0, sizeof(*s));
	if (buf_get_u32(b, &lvl) == -1 || lvl > 4 ||
	    buf_get_u64(b, &s->started_ns) == -1 ||
	    buf_get_u32(b, &s->index) == -1 ||
	    buf_get_u32(b, &s->ncrypto) == -1 || s->ncrypto < 1 ||
	    s->ncrypto > CRYPTO_MAX || s->index >= s->ncrypto ||
	    policy_set_get(b, &s->pol) == -1)
		goto fail;
	s->log_level = (int)lvl - 1;
	if (buf_get_u64(b, &s->cache_any_ms) == -1 ||
	    buf_get_u64(b, &s->cache_unused_ms) == -1 ||
	    buf_get_u64(b, &s->cache_offline_ms) == -1 ||
	    buf_get_u32(b, &n) == -1 || n > SLICE_MAX_KEYS)
		goto fail;
	if (n > 0)
		s->keys = xcalloc(n, sizeof(*s->keys));
	for (i = 0; i < n; i++) {
		s->nkeys = i + 1;
		if (buf_get_strdup(b, &s->keys[i]) == -1)
			goto fail;
	}
	if (buf_get_u32(b, &n) == -1 || n > SLICE_MAX_API)
		goto fail;
	if (n > 0)
		s->skip_auth = xcalloc(n, sizeof(*s->skip_auth));
	for (i = 0; i < n; i++) {
		s->nskip_auth = i + 1;
		if (buf_get_strdup(b, &s->skip_auth[i]) == -1)
			goto fail;
	}
	if (buf_get_bytes(b, &key, &s->tls_key_len) == -1 ||
	    buf_end(b) == -1)
		goto fail;
	s->tls_key = s->tls_key_len ? xmemdup(key, s->tls_key_len) : NULL;
	return 0;
fail:
	s->tls_key_len = 0;
	crypto_slice_free(s);
	return -1;
}

void
crypto_slice_free(struct crypto_slice *s)
{
	size_t i;

	policy_set_free(&s->pol);
	for (i = 0; i < s->nkeys; i++)
		free(s->keys[i]);
	free(s->keys);
	for (i = 0; i < s->nskip_auth; i++)
		free(s->skip_auth[i]);
	free(s->skip_auth);
	freezero(s->tls_key, s->tls_key_len);
	memset(s, 0, sizeof(*s));
}

void
crypto_slice_forget_key(struct crypto_slice *s)
{
	freezero(s->tls_key, s->tls_key_len);
	s->tls_key = NULL;
	s->tls_key_len = 0;
}

/*
 * agent: u32 log level + 1, str store (its name in the configuration:
 * keystore.<name>), bytes settings, u8 restarted. The settings are the
 * store's own (its settings_put, keystore-agent/), opaque here: adding a
 * store changes neither this layout nor this file. They may hold
 * credentials, so they are wiped when freed.
 */
int
agent_slice_put(struct buf *b, const struct agent_slice *s)
{
	if (buf_put_u32(b, s->log_level + 1) == -1 ||
	    buf_put_str(b, s->store) == -1 ||
	    buf_put_bytes(b, s->settings, s->settings_len) == -1 ||
	    buf_put_u8(b, s->restarted) == -1)
		return -1;
	return 0;
}

int
agent_slice_get(struct buf *b, struct agent_slice *s)
{
	const uint8_t	*v;
	const char	*store;
	size_t		 storelen;
	uint32_t	 lvl;
	uint8_t		 restarted;

	memset(s, 0, sizeof(*s));
	if (buf_get_u32(b, &lvl) == -1 || lvl > 4 ||
	    buf_get_str(b, &store, &storelen) == -1 ||
	    storelen == 0 || storelen > AGENT_STORE_NAMELEN ||
	    buf_get_bytes(b, &v, &s->settings_len) == -1 ||
	    buf_get_u8(b, &restarted) == -1 || restarted > 1 ||
	    buf_end(b) == -1) {
		agent_slice_free(s);
		return -1;
	}
	/* One more byte, a NUL, for a store whose settings are text. */
	memcpy(s->store, store, storelen + 1);
	s->settings = xmalloc(s->settings_len + 1);
	memcpy(s->settings, v, s->settings_len);
	s->settings[s->settings_len] = '\0';
	s->log_level = (int)lvl - 1;
	s->restarted = restarted != 0;
	return 0;
}

void
agent_slice_free(struct agent_slice *s)
{
	freezero(s->settings, s->settings_len);
	memset(s, 0, sizeof(*s));
}
