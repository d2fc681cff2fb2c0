/* Bounded byte buffers with checked getters; storage is wiped on release. */
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"

void
buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
buf_view(struct buf *b, const void *p, size_t n)
{
	memset(b, 0, sizeof(*b));
	b->data = (uint8_t *)(uintptr_t)p;
	b->len = b->cap = b->max = n;
	b->view = true;
}

void
buf_release(struct buf *b)
{
	if (!b->view)
		freezero(b->data, b->cap);
	b->data = NULL;
	b->len = b->off = b->cap = 0;
	b->failed = false;
}

void
buf_reset(struct buf *b)
{
	if (b->view)
		return;
	if (b->data != NULL)
		explicit_bzero(b->data, b->len);
	b->len = b->off = 0;
	b->failed = false;
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (b->view || len < b->off || len > b->len)
		return;
	if (len < b->len)
		explicit_bzero(b->data + len, b->len - len);
	b->len = len;
	b->failed = false;
}

void
buf_compact(struct buf *b)
{
	size_t rest;

	if (b->view || b->off == 0)
		return;
	rest = b->len - b->off;
	memmove(b->data, b->data + b->off, rest);
	explicit_bzero(b->data + rest, b->len - rest);
	b->len = rest;
	b->off = 0;
}

size_t
buf_avail(const struct buf *b)
{
	return b->len - b->off;
}

const uint8_t *
buf_ptr(const struct buf *b)
{
	return b->data + b->off;
}

uint8_t *
buf_reserve(struct buf *b, size_t n)
{
	size_t	 ncap;
	uint8_t	*p;

	if (b->view || n > b->max || b->len > b->max - n) {
		b->failed = true;
		return NULL;
	}
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : 256;
		while (ncap < b->len + n)
			ncap = ncap > b->max / 2 ? b->max : ncap * 2;
		/* Grow by copy so the old storage can be wiped. */
		p = xmalloc(ncap);
		if (b->len)
			memcpy(p, b->data, b->len);
		freezero(b->data, b->cap);
		b->data = p;
		b->cap = ncap;
	}
	return b->data + b->len;
}

int
buf_skip(struct buf *b, size_t n)
{
	if (buf_avail(b) < n)
		return -1;
	b->off += n;
	return 0;
}

int
buf_put(struct buf *b, const void *p, size_t n)
{
	uint8_t *w;

	if (n == 0)
		return 0;
	if ((w = buf_reserve(b, n)) == NULL)
		return -1;
	memcpy(w, p, n);
	b->len += n;
	return 0;
}

int
buf_put_dec(struct buf *b, uint64_t v)
{
	char	d[20], *p = d + sizeof(d);

	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	return buf_put(b, p, (size_t)(d + sizeof(d) - p));
}

int
buf_put_u8(struct buf *b, uint8_t v)
{
	return buf_put(b, &v, 1);
}

int
buf_put_u16(struct buf *b, uint16_t v)
{
	uint8_t p[2] = { v >> 8, v };

	return buf_put(b, p, sizeof(p));
}

int
buf_put_u32(struct buf *b, uint32_t v)
{
	uint8_t p[4] = { v >> 24, v >> 16, v >> 8, v };

	return buf_put(b, p, sizeof(p));
}

int
buf_put_u64(struct buf *b, uint64_t v)
{
	uint8_t p[8] = { v >> 56, v >> 48, v >> 40, v >> 32,
	    v >> 24, v >> 16, v >> 8, v };

	return buf_put(b, p, sizeof(p));
}

int
buf_put_bytes(struct buf *b, const void *p, size_t n)
{
	size_t save = b->len;

	if (n > UINT32_MAX) {
		b->failed = true;
		return -1;
	}
	if (buf_put_u32(b, n) == -1)
		return -1;
	if (buf_put(b, p, n) == -1) {
		b->len = save;
		return -1;
	}
	return 0;
}

int
buf_put_str(struct buf *b, const char *s)
{
	if (s == NULL)
		s = "";
	return buf_put_bytes(b, s, strlen(s) + 1);
}

int
buf_get(struct buf *b, void *p, size_t n)
{
	if (buf_avail(b) < n)
		return -1;
	memcpy(p, b->data + b->off, n);
	b->off += n;
	return 0;
}

int
buf_get_u8(struct buf *b, uint8_t *v)
{
	return buf_get(b, v, 1);
}

int
buf_get_u16(struct buf *b, uint16_t *v)
{
	uint8_t p[2];

	if (buf_get(b, p, 2) == -1)
		return -1;
	*v = (uint16_t)p[0] << 8 | p[1];
	return 0;
}

int
buf_get_u32(struct buf *b, uint32_t *v)
{
	uint8_t p[4];

	if (buf_get(b, p, 4) == -1)
		return -1;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	return 0;
}

int
buf_get_u64(struct buf *b, uint64_t *v)
{
	uint32_t hi, lo;

	if (buf_avail(b) < 8 || buf_get_u32(b, &hi) == -1 ||
	    buf_get_u32(b, &lo) == -1)
		return -1;
	*v = (uint64_t)hi << 32 | lo;
	return 0;
}

int
buf_get_bool(struct buf *b, bool *v)
{
	uint8_t u;

	if (buf_avail(b) < 1 || b->data[b->off] > 1)
		return -1;
	(void)buf_get_u8(b, &u);
	*v = u == 1;
	return 0;
}

int
buf_get_bytes(struct buf *b, const uint8_t **p, size_t *n)
{
	size_t		save = b->off;
	uint32_t	len;

	if (buf_get_u32(b, &len) == -1)
		return -1;
	if (buf_avail(b) < len) {
		b->off = save;
		return -1;
	}
	*p = b->data + b->off;
	*n = len;
	b->off += len;
	return 0;
}

int
buf_get_str(struct buf *b, const char **s, size_t *n)
{
	size_t		 save = b->off, len;
	const uint8_t	*p;

	if (buf_get_bytes(b, &p, &len) == -1)
		return -1;
	/* The NUL must be inside the frame, and be the only one. */
	if (len == 0 || p[len - 1] != '\0' || memchr(p, '\0', len - 1)) {
		b->off = save;
		return -1;
	}
	*s = (const char *)p;
	if (n != NULL)
		*n = len - 1;
	return 0;
}

int
buf_get_strdup(struct buf *b, char **s)
{
	const char *p;

	if (buf_get_str(b, &p, NULL) == -1)
		return -1;
	*s = xstrdup(p);
	return 0;
}

int
buf_end(const struct buf *b)
{
	return buf_avail(b) == 0 ? 0 : -1;
}
