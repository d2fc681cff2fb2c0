/*
 * The kwseal:v1: value format (seal_fmt.h, spec §4.3). A KES value is
 * JSON or standard base64, neither of which holds ':', so the prefix
 * cannot be mistaken for a legacy value, and KES reading a sealed value
 * fails closed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/xmalloc.h"
#include "keystore-agent/seal_fmt.h"

enum seal_kind
seal_kind(const uint8_t *v, size_t len)
{
	if (len >= SEAL_PREFIX_LEN && memcmp(v, SEAL_PREFIX,
	    SEAL_PREFIX_LEN) == 0)
		return SEAL_V1;
	if (len >= 7 && memcmp(v, "kwseal:", 7) == 0)
		return SEAL_UNKNOWN_VERSION;
	return SEAL_PLAIN;
}

int
seal_env_decode(const uint8_t *v, size_t len, struct buf *raw,
    struct seal_env *env, const char **why)
{
	const uint8_t	*p;
	uint8_t		 kidlen, ivlen;
	size_t		 n, max, off;
	char		*text;

	*why = "seal: malformed sealed value";
	memset(env, 0, sizeof(*env));
	buf_reset(raw);
	if (seal_kind(v, len) != SEAL_V1)
		return -1;
	v += SEAL_PREFIX_LEN;
	len -= SEAL_PREFIX_LEN;
	max = b64_decoded_max(len);
	if (len == 0 || (p = buf_reserve(raw, max)) == NULL)
		return -1;
	/* b64_decode skips CR and LF; a sealed value holds neither. */
	if (memchr(v, '\n', len) != NULL || memchr(v, '\r', len) != NULL)
		return -1;
	text = xstrndup((const char *)v, len);
	if (strlen(text) != len ||
	    b64_decode(text, len, raw->data + raw->len, &n) == -1) {
		free(text);
		return -1;
	}
	free(text);
	raw->len += n;
	p = raw->data;
	/* alg | kid_len | kid | iv_len | iv | at least the tag */
	if (n < 3 || p[0] != SEAL_ALG_GCM)
		return -1;
	kidlen = p[1];
	if (kidlen == 0 || kidlen > SEAL_KID_MAX || n < 3 + (size_t)kidlen)
		return -1;
	ivlen = p[2 + kidlen];
	off = 3 + (size_t)kidlen + ivlen;
	if (ivlen != SEAL_IV_LEN || n < off + SEAL_TAG_LEN)
		return -1;
	env->alg = p[0];
	memcpy(env->kid, p + 2, kidlen);
	env->kid[kidlen] = '\0';
	if (strlen(env->kid) != kidlen)
		return -1;
	env->iv = p + 3 + kidlen;
	env->ivlen = ivlen;
	env->hdr = p;
	env->hdrlen = off;
	env->ct = p + off;
	env->ctlen = n - off;
	*why = NULL;
	return 0;
}

int
seal_env_header(struct buf *hdr, const char *kid, const uint8_t *iv,
    size_t ivlen)
{
	size_t kidlen = strlen(kid);

	buf_reset(hdr);
	if (kidlen == 0 || kidlen > SEAL_KID_MAX || ivlen > 255)
		return -1;
	if (buf_put_u8(hdr, SEAL_ALG_GCM) == -1 ||
	    buf_put_u8(hdr, (uint8_t)kidlen) == -1 ||
	    buf_put(hdr, kid, kidlen) == -1 ||
	    buf_put_u8(hdr, (uint8_t)ivlen) == -1 ||
	    buf_put(hdr, iv, ivlen) == -1)
		return -1;
	return 0;
}

int
seal_aad(struct buf *aad, const uint8_t *hdr, size_t hdrlen,
    const char *name)
{
	buf_reset(aad);
	if (buf_put(aad, SEAL_PREFIX, SEAL_PREFIX_LEN) == -1 ||
	    buf_put(aad, hdr, hdrlen) == -1 ||
	    buf_put(aad, name, strlen(name)) == -1)
		return -1;
	return 0;
}

int
seal_encode(struct buf *out, const uint8_t *hdr, size_t hdrlen,
    const uint8_t *ct, size_t ctlen)
{
	struct buf	 env;
	char		*text;
	size_t		 n;
	int		 rc = -1;

	buf_reset(out);
	if (hdrlen > SIZE_MAX / 2 - ctlen)
		return -1;
	buf_init(&env, hdrlen + ctlen);
	if (buf_put(&env, hdr, hdrlen) == -1 || buf_put(&env, ct, ctlen) == -1)
		goto out;
	n = b64_encoded_len(env.len);
	text = xmalloc(n + 1);
	b64_encode(env.data, env.len, text);
	rc = buf_put(out, SEAL_PREFIX, SEAL_PREFIX_LEN) == -1 ||
	    buf_put(out, text, n) == -1 ? -1 : 0;
	freezero(text, n + 1);
 out:
	buf_release(&env);
	return rc;
}
