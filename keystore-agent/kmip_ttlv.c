/* KMIP TTLV: encoder into a bounded buffer, strict decoder over views. */
#include <stdio.h>
#include <string.h>

#include "common/buf.h"
#include "keystore-agent/kmip_ttlv.h"

static const uint8_t zeros[8];

static uint32_t
get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static uint64_t
get_u64(const uint8_t *p)
{
	return (uint64_t)get_u32(p) << 32 | get_u32(p + 4);
}

static uint64_t
padded(uint32_t len)
{
	return ((uint64_t)len + 7) & ~(uint64_t)7;
}

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, at most
 * U+10FFFF) without NUL: what a KMIP Text String may hold. */
static bool
text_ok(const uint8_t *s, size_t n)
{
	size_t		i = 0, k, need;
	uint32_t	c, min;

	while (i < n) {
		c = s[i];
		if (c == 0)
			return false;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			c &= 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			c &= 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			c &= 0x07;
			min = 0x10000;
		} else
			return false;
		if (n - i - 1 < need)
			return false;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			c = c << 6 | (s[i + k] & 0x3f);
		}
		if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/* The value length a type demands; 0 for variable-length types. */
static uint32_t
fixed_len(uint8_t type)
{
	switch (type) {
	case TTLV_INT:
	case TTLV_ENUM:
	case TTLV_INTERVAL:
		return 4;
	case TTLV_LONG:
	case TTLV_BOOL:
	case TTLV_DATETIME:
	case TTLV_DATETIME_EXT:
		return 8;
	default:
		return 0;
	}
}

/* --- encoder ------------------------------------------------------------ */

void
ttlv_enc_begin(struct ttlv_enc *e, struct buf *b)
{
	memset(e, 0, sizeof(*e));
	e->b = b;
	e->start = b->len;
}

int
ttlv_enc_end(struct ttlv_enc *e)
{
	struct buf *b = e->b;

	if (e->depth != 0)
		e->err = 1;
	if (!e->err)
		return 0;
	if (b->len > e->start) {
		explicit_bzero(b->data + e->start, b->len - e->start);
		b->len = e->start;
	}
	return -1;
}

static void
put_hdr(struct ttlv_enc *e, uint32_t tag, uint8_t type, uint32_t len)
{
	uint8_t h[TTLV_HDRLEN];

	if (e->err)
		return;
	if (tag > 0xffffff) {
		e->err = 1;
		return;
	}
	h[0] = tag >> 16;
	h[1] = tag >> 8;
	h[2] = tag;
	h[3] = type;
	h[4] = len >> 24;
	h[5] = len >> 16;
	h[6] = len >> 8;
	h[7] = len;
	if (buf_put(e->b, h, sizeof(h)) == -1)
		e->err = 1;
}

/* Header, value, zero padding. */
static void
put_item(struct ttlv_enc *e, uint32_t tag, uint8_t type, const void *v,
    size_t n)
{
	if (e->err)
		return;
	if (n > UINT32_MAX - 7) {
		e->err = 1;
		return;
	}
	put_hdr(e, tag, type, (uint32_t)n);
	if (e->err)
		return;
	if (buf_put(e->b, v, n) == -1 ||
	    buf_put(e->b, zeros, (size_t)(padded((uint32_t)n) - n)) == -1)
		e->err = 1;
}

static void
put_be(struct ttlv_enc *e, uint32_t tag, uint8_t type, uint64_t v,
    size_t n)
{
	uint8_t	p[8];
	size_t	i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
	put_item(e, tag, type, p, n);
}

void
ttlv_open(struct ttlv_enc *e, uint32_t tag)
{
	if (e->err)
		return;
	if (e->depth >= TTLV_DEPTH_MAX) {
		e->err = 1;
		return;
	}
	e->open[e->depth++] = e->b->len;
	put_hdr(e, tag, TTLV_STRUCT, 0);	/* length patched on close */
}

void
ttlv_close(struct ttlv_enc *e)
{
	size_t	 at, n;
	uint8_t	*p;

	if (e->err)
		return;
	if (e->depth == 0) {
		e->err = 1;
		return;
	}
	at = e->open[--e->depth];
	n = e->b->len - at - TTLV_HDRLEN;
	if (n > UINT32_MAX) {
		e->err = 1;
		return;
	}
	p = e->b->data + at + 4;
	p[0] = n >> 24;
	p[1] = n >> 16;
	p[2] = n >> 8;
	p[3] = n;
}

void
ttlv_put_int(struct ttlv_enc *e, uint32_t tag, int32_t v)
{
	put_be(e, tag, TTLV_INT, (uint32_t)v, 4);
}

void
ttlv_put_long(struct ttlv_enc *e, uint32_t tag, int64_t v)
{
	put_be(e, tag, TTLV_LONG, (uint64_t)v, 8);
}

void
ttlv_put_bigint(struct ttlv_enc *e, uint32_t tag, const void *p, size_t n)
{
	if (n == 0 || n % 8 != 0) {
		e->err = 1;
		return;
	}
	put_item(e, tag, TTLV_BIGINT, p, n);
}

void
ttlv_put_enum(struct ttlv_enc *e, uint32_t tag, uint32_t v)
{
	put_be(e, tag, TTLV_ENUM, v, 4);
}

void
ttlv_put_bool(struct ttlv_enc *e, uint32_t tag, bool v)
{
	put_be(e, tag, TTLV_BOOL, v ? 1 : 0, 8);
}

void
ttlv_put_text(struct ttlv_enc *e, uint32_t tag, const char *s, size_t n)
{
	if (n > 0 && (s == NULL || !text_ok((const uint8_t *)s, n))) {
		e->err = 1;
		return;
	}
	put_item(e, tag, TTLV_TEXT, s, n);
}

void
ttlv_put_str(struct ttlv_enc *e, uint32_t tag, const char *s)
{
	if (s == NULL) {
		e->err = 1;
		return;
	}
	ttlv_put_text(e, tag, s, strlen(s));
}

void
ttlv_put_bytes(struct ttlv_enc *e, uint32_t tag, const void *p, size_t n)
{
	if (n > 0 && p == NULL) {
		e->err = 1;
		return;
	}
	put_item(e, tag, TTLV_BYTES, p, n);
}

void
ttlv_put_datetime(struct ttlv_enc *e, uint32_t tag, int64_t v)
{
	put_be(e, tag, TTLV_DATETIME, (uint64_t)v, 8);
}

void
ttlv_put_interval(struct ttlv_enc *e, uint32_t tag, uint32_t v)
{
	put_be(e, tag, TTLV_INTERVAL, v, 4);
}

void
ttlv_put_datetime_ext(struct ttlv_enc *e, uint32_t tag, int64_t v)
{
	put_be(e, tag, TTLV_DATETIME_EXT, (uint64_t)v, 8);
}

void
ttlv_put_tree(struct ttlv_enc *e, const struct ttlv *t)
{
	struct ttlv_iter	 it;
	struct ttlv		 c;
	const uint8_t		*p;
	const char		*s;
	size_t			 n;
	int32_t			 i32;
	int64_t			 i64;
	uint32_t		 u32;
	bool			 b;
	int			 r = 0;

	if (e->err)
		return;
	switch (t->type) {
	case TTLV_STRUCT:
		ttlv_open(e, t->tag);
		ttlv_iter_init(&it, t);
		while (!e->err && (r = ttlv_next(&it, &c)) == 1)
			ttlv_put_tree(e, &c);
		if (r == -1)
			e->err = 1;
		ttlv_close(e);
		return;
	case TTLV_INT:
		if ((r = ttlv_get_int(t, &i32)) == 0)
			ttlv_put_int(e, t->tag, i32);
		break;
	case TTLV_LONG:
		if ((r = ttlv_get_long(t, &i64)) == 0)
			ttlv_put_long(e, t->tag, i64);
		break;
	case TTLV_BIGINT:
		if ((r = ttlv_get_bigint(t, &p, &n)) == 0)
			ttlv_put_bigint(e, t->tag, p, n);
		break;
	case TTLV_ENUM:
		if ((r = ttlv_get_enum(t, &u32)) == 0)
			ttlv_put_enum(e, t->tag, u32);
		break;
	case TTLV_BOOL:
		if ((r = ttlv_get_bool(t, &b)) == 0)
			ttlv_put_bool(e, t->tag, b);
		break;
	case TTLV_TEXT:
		if ((r = ttlv_get_text(t, &s, &n)) == 0)
			ttlv_put_text(e, t->tag, s, n);
		break;
	case TTLV_BYTES:
		if ((r = ttlv_get_bytes(t, &p, &n)) == 0)
			ttlv_put_bytes(e, t->tag, p, n);
		break;
	case TTLV_DATETIME:
		if ((r = ttlv_get_datetime(t, &i64)) == 0)
			ttlv_put_datetime(e, t->tag, i64);
		break;
	case TTLV_INTERVAL:
		if ((r = ttlv_get_interval(t, &u32)) == 0)
			ttlv_put_interval(e, t->tag, u32);
		break;
	case TTLV_DATETIME_EXT:
		if ((r = ttlv_get_datetime_ext(t, &i64)) == 0)
			ttlv_put_datetime_ext(e, t->tag, i64);
		break;
	default:
		r = -1;
		break;
	}
	if (r == -1)
		e->err = 1;
}

/* --- decoder ------------------------------------------------------------ */

struct dec {
	const struct ttlv_limits	*lim;
	size_t				 items;
	char				*err;
	size_t				 errlen;
	size_t				 base;	/* input start, for offsets */
	const uint8_t			*in;
};

static int
dec_fail(struct dec *d, const uint8_t *at, const char *why)
{
	if (d->err != NULL && d->errlen > 0)
		(void)snprintf(d->err, d->errlen, "%s at offset %zu", why,
		    (size_t)(at - d->in));
	return -1;
}

/* One item at p with avail bytes left in its parent; *used: its size with
 * padding. */
static int
dec_item(struct dec *d, const uint8_t *p, size_t avail, int depth,
    struct ttlv *out, size_t *used)
{
	uint32_t	tag, len, want;
	uint64_t	plen, v;
	size_t		off, n;
	uint8_t		type;
	struct ttlv	child;

	if (avail < TTLV_HDRLEN)
		return dec_fail(d, p, "truncated item header");
	if (++d->items > d->lim->max_items)
		return dec_fail(d, p, "too many items");
	tag = (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
	type = p[3];
	len = get_u32(p + 4);
	if (p[0] != 0x42 && p[0] != 0x54)
		return dec_fail(d, p, "tag outside the KMIP tag space");
	if (type < TTLV_STRUCT || type > TTLV_DATETIME_EXT)
		return dec_fail(d, p, "unknown item type");
	plen = padded(len);
	if (plen > avail - TTLV_HDRLEN)
		return dec_fail(d, p, "length beyond the enclosing item");
	want = fixed_len(type);
	if (want != 0 && len != want)
		return dec_fail(d, p, "wrong length for the item type");
	if (!d->lim->lax_padding &&
	    memcmp(p + TTLV_HDRLEN + len, zeros, (size_t)(plen - len)) != 0)
		return dec_fail(d, p, "non-zero padding");

	out->tag = tag;
	out->type = type;
	out->len = len;
	out->val = p + TTLV_HDRLEN;

	switch (type) {
	case TTLV_STRUCT:
		if (len % 8 != 0)
			return dec_fail(d, p, "structure length not a "
			    "multiple of 8");
		/* depth counts the structures around this one. */
		if (depth >= d->lim->max_depth)
			return dec_fail(d, p, "nested too deeply");
		for (off = 0; off < len; off += n)
			if (dec_item(d, out->val + off, len - off, depth + 1,
			    &child, &n) == -1)
				return -1;
		break;
	case TTLV_BIGINT:
		if (len == 0 || len % 8 != 0)
			return dec_fail(d, p, "big integer length not a "
			    "multiple of 8");
		break;
	case TTLV_BOOL:
		v = get_u64(out->val);
		if (v > 1)
			return dec_fail(d, p, "boolean neither 0 nor 1");
		break;
	case TTLV_TEXT:
		if (!text_ok(out->val, len))
			return dec_fail(d, p, "text not UTF-8 or with NUL");
		break;
	default:
		break;
	}
	*used = TTLV_HDRLEN + (size_t)plen;
	return 0;
}

int
ttlv_decode(const uint8_t *p, size_t n, const struct ttlv_limits *lim,
    struct ttlv *top, char *err, size_t errlen)
{
	struct ttlv_limits	l = { 0 };
	struct dec		d;
	size_t			used;

	if (lim != NULL)
		l = *lim;
	if (l.max_len == 0)
		l.max_len = TTLV_MSG_MAX;
	if (l.max_depth <= 0 || l.max_depth > TTLV_DEPTH_MAX)
		l.max_depth = TTLV_DEPTH_MAX;
	if (l.max_items == 0)
		l.max_items = TTLV_ITEMS_MAX;
	memset(&d, 0, sizeof(d));
	d.lim = &l;
	d.err = err;
	d.errlen = errlen;
	d.in = p;
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (n > l.max_len)
		return dec_fail(&d, p, "message too long");
	if (dec_item(&d, p, n, 0, top, &used) == -1)
		return -1;
	if (used != n)
		return dec_fail(&d, p + used, "trailing bytes");
	return 0;
}

int
ttlv_frame_len(const uint8_t hdr[TTLV_HDRLEN], size_t max, size_t *total)
{
	uint32_t len = get_u32(hdr + 4);

	if (hdr[0] != 0x42 || hdr[3] != TTLV_STRUCT || len % 8 != 0)
		return -1;
	if ((uint64_t)len + TTLV_HDRLEN > max)
		return -1;
	*total = (size_t)len + TTLV_HDRLEN;
	return 0;
}

void
ttlv_iter_init(struct ttlv_iter *it, const struct ttlv *parent)
{
	if (parent->type != TTLV_STRUCT) {
		it->p = NULL;
		it->left = 0;
		return;
	}
	it->p = parent->val;
	it->left = parent->len;
}

int
ttlv_next(struct ttlv_iter *it, struct ttlv *out)
{
	uint64_t plen;

	if (it->left == 0)
		return 0;
	/* Checked by ttlv_decode already; checked again, cheaply. */
	if (it->left < TTLV_HDRLEN)
		return -1;
	out->tag = (uint32_t)it->p[0] << 16 | (uint32_t)it->p[1] << 8 |
	    it->p[2];
	out->type = it->p[3];
	out->len = get_u32(it->p + 4);
	out->val = it->p + TTLV_HDRLEN;
	plen = padded(out->len);
	if (plen > it->left - TTLV_HDRLEN)
		return -1;
	it->p += TTLV_HDRLEN + plen;
	it->left -= TTLV_HDRLEN + plen;
	return 1;
}

static int
get_fixed(const struct ttlv *t, uint8_t type, uint64_t *v)
{
	uint32_t n = fixed_len(type);

	if (t->type != type || t->len != n)
		return -1;
	*v = n == 4 ? get_u32(t->val) : get_u64(t->val);
	return 0;
}

int
ttlv_get_int(const struct ttlv *t, int32_t *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_INT, &u) == -1)
		return -1;
	*v = (int32_t)(uint32_t)u;
	return 0;
}

int
ttlv_get_long(const struct ttlv *t, int64_t *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_LONG, &u) == -1)
		return -1;
	*v = (int64_t)u;
	return 0;
}

int
ttlv_get_enum(const struct ttlv *t, uint32_t *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_ENUM, &u) == -1)
		return -1;
	*v = (uint32_t)u;
	return 0;
}

int
ttlv_get_bool(const struct ttlv *t, bool *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_BOOL, &u) == -1 || u > 1)
		return -1;
	*v = u == 1;
	return 0;
}

int
ttlv_get_datetime(const struct ttlv *t, int64_t *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_DATETIME, &u) == -1)
		return -1;
	*v = (int64_t)u;
	return 0;
}

int
ttlv_get_interval(const struct ttlv *t, uint32_t *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_INTERVAL, &u) == -1)
		return -1;
	*v = (uint32_t)u;
	return 0;
}

int
ttlv_get_datetime_ext(const struct ttlv *t, int64_t *v)
{
	uint64_t u;

	if (get_fixed(t, TTLV_DATETIME_EXT, &u) == -1)
		return -1;
	*v = (int64_t)u;
	return 0;
}

int
ttlv_get_bigint(const struct ttlv *t, const uint8_t **p, size_t *n)
{
	if (t->type != TTLV_BIGINT || t->len == 0 || t->len % 8 != 0)
		return -1;
	*p = t->val;
	*n = t->len;
	return 0;
}

int
ttlv_get_text(const struct ttlv *t, const char **s, size_t *n)
{
	if (t->type != TTLV_TEXT)
		return -1;
	*s = (const char *)t->val;
	*n = t->len;
	return 0;
}

int
ttlv_get_bytes(const struct ttlv *t, const uint8_t **p, size_t *n)
{
	if (t->type != TTLV_BYTES)
		return -1;
	*p = t->val;
	*n = t->len;
	return 0;
}

int
ttlv_get_cstr(const struct ttlv *t, char *out, size_t outlen)
{
	if (t->type != TTLV_TEXT || outlen == 0 || t->len >= outlen ||
	    memchr(t->val, '\0', t->len) != NULL)
		return -1;
	memcpy(out, t->val, t->len);
	out[t->len] = '\0';
	return 0;
}
