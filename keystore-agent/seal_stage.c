/* Staging names and records of the store-wide migration (seal_stage.h). */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/log.h"
#include "common/names.h"
#include "keystore-agent/seal_stage.h"

#define REC_PREFIX	"kwstage:v1:"
#define REC_PREFIX_LEN	11

void
seal_stage_name(const char *name, char out[SEAL_STAGE_NAME_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	d[EVP_MAX_MD_SIZE];
	unsigned int	dlen = 0, i;
	size_t		n = strlen(SEAL_STAGE_PREFIX);

	if (EVP_Digest(name, strlen(name), d, &dlen, EVP_sha256(), NULL) !=
	    1 || dlen != 32)
		fatalx("seal: SHA-256 failed");
	memcpy(out, SEAL_STAGE_PREFIX, n);
	for (i = 0; i < dlen; i++) {
		out[n++] = hex[d[i] >> 4];
		out[n++] = hex[d[i] & 0xf];
	}
	out[n] = '\0';
}

bool
seal_is_stage_name(const char *name)
{
	return strncmp(name, SEAL_STAGE_PREFIX,
	    strlen(SEAL_STAGE_PREFIX)) == 0;
}

int
seal_stage_encode(struct buf *out, const char *name, const uint8_t *v,
    size_t len)
{
	buf_reset(out);
	if (buf_put(out, REC_PREFIX, REC_PREFIX_LEN) == -1 ||
	    buf_put(out, name, strlen(name)) == -1 ||
	    buf_put(out, ":", 1) == -1 || buf_put(out, v, len) == -1)
		return -1;
	return 0;
}

int
seal_stage_decode(const uint8_t *rec, size_t len, char *namebuf,
    size_t namelen, const uint8_t **v, size_t *vlen)
{
	const uint8_t	*colon;
	size_t		 n;

	if (len < REC_PREFIX_LEN || memcmp(rec, REC_PREFIX,
	    REC_PREFIX_LEN) != 0)
		return -1;
	rec += REC_PREFIX_LEN;
	len -= REC_PREFIX_LEN;
	if ((colon = memchr(rec, ':', len)) == NULL)
		return -1;
	n = (size_t)(colon - rec);
	if (n == 0 || n > KES_NAME_MAX || n >= namelen)
		return -1;
	memcpy(namebuf, rec, n);
	namebuf[n] = '\0';
	/* A NUL inside would make a shorter name valid. */
	if (strlen(namebuf) != n || !kes_valid_name(namebuf) ||
	    len - n - 1 == 0)
		return -1;
	*v = colon + 1;
	*vlen = len - n - 1;
	return 0;
}
