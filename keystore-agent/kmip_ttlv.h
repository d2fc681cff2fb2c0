/*
 * KMIP's TTLV encoding (spec 3.6; KMIP 1.x section 9.1): an encoder into a
 * struct buf with a hard maximum, and a strict decoder that checks a whole
 * message once and then hands out views into it.
 *
 * Every item on the wire:
 *
 *	tag	3 bytes, big-endian: 0x42xxxx standard, 0x54xxxx extension
 *	type	1 byte (enum ttlv_type)
 *	length	4 bytes, big-endian: the value's length without padding
 *	value	length bytes, then zero bytes up to a multiple of 8
 *
 * A Structure's value is its children back to back (each padded); fixed
 * types have fixed lengths: Integer, Enumeration and Interval 4, Long
 * Integer, Boolean, Date-Time and Date-Time Extended 8, Big Integer a
 * multiple of 8. Integers are big-endian two's complement.
 */
#ifndef KEYWARD_KMIP_TTLV_H
#define KEYWARD_KMIP_TTLV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

enum ttlv_type {
	TTLV_STRUCT = 0x01,
	TTLV_INT = 0x02,
	TTLV_LONG = 0x03,
	TTLV_BIGINT = 0x04,
	TTLV_ENUM = 0x05,
	TTLV_BOOL = 0x06,
	TTLV_TEXT = 0x07,
	TTLV_BYTES = 0x08,
	TTLV_DATETIME = 0x09,
	TTLV_INTERVAL = 0x0a,
	TTLV_DATETIME_EXT = 0x0b,	/* KMIP 2.0 */
};

#define TTLV_HDRLEN		8
#define TTLV_MSG_MAX		(1u << 20)	/* spec 3.6: 1 MiB default */
#define TTLV_DEPTH_MAX		16	/* deepest KMIP message we use: 7 */
#define TTLV_ITEMS_MAX		65536

/* --- encoder ------------------------------------------------------------ */

/*
 * The encoder appends to a struct buf (whose max bounds the message) and
 * keeps the first error: callers encode a whole message, then check once
 * with ttlv_enc_end(). On failure everything appended since
 * ttlv_enc_begin() is wiped and removed from the buffer.
 */
struct ttlv_enc {
	struct buf	*b;
	size_t		 start;			/* b->len at begin */
	size_t		 open[TTLV_DEPTH_MAX];	/* offsets of open structures */
	int		 depth;
	int		 err;
};

void	ttlv_enc_begin(struct ttlv_enc *, struct buf *);
/* 0, or -1 (buffer maximum reached, bad argument, structure left open). */
int	ttlv_enc_end(struct ttlv_enc *);

void	ttlv_open(struct ttlv_enc *, uint32_t tag);	/* a Structure */
void	ttlv_close(struct ttlv_enc *);
void	ttlv_put_int(struct ttlv_enc *, uint32_t tag, int32_t);
void	ttlv_put_long(struct ttlv_enc *, uint32_t tag, int64_t);
/* n a non-zero multiple of 8, the two's complement, sign-extended. */
void	ttlv_put_bigint(struct ttlv_enc *, uint32_t tag, const void *,
	    size_t n);
void	ttlv_put_enum(struct ttlv_enc *, uint32_t tag, uint32_t);
void	ttlv_put_bool(struct ttlv_enc *, uint32_t tag, bool);
void	ttlv_put_text(struct ttlv_enc *, uint32_t tag, const char *, size_t);
void	ttlv_put_str(struct ttlv_enc *, uint32_t tag, const char *);
void	ttlv_put_bytes(struct ttlv_enc *, uint32_t tag, const void *, size_t);
void	ttlv_put_datetime(struct ttlv_enc *, uint32_t tag, int64_t secs);
void	ttlv_put_interval(struct ttlv_enc *, uint32_t tag, uint32_t secs);
void	ttlv_put_datetime_ext(struct ttlv_enc *, uint32_t tag, int64_t usecs);

/* --- decoder ------------------------------------------------------------ */

/* One item: a view into the checked input. */
struct ttlv {
	uint32_t	 tag;
	uint8_t		 type;
	uint32_t	 len;		/* value length, without padding */
	const uint8_t	*val;
};

struct ttlv_limits {
	size_t	max_len;	/* whole message; 0: TTLV_MSG_MAX */
	int	max_depth;	/* nested Structures, the top one counted;
				   0: TTLV_DEPTH_MAX (at most that) */
	size_t	max_items;	/* 0: TTLV_ITEMS_MAX */
	/*
	 * Spec 3.6 allows a decoder to tolerate non-zero padding; keyward's
	 * default is to refuse it, as a peer that pads with garbage is not
	 * one to trust with the rest of the message.
	 */
	bool	lax_padding;
};

/*
 * Check that p[0..n) is exactly one well-formed item (a message's top
 * level is always a Structure, so the caller checks top->type): known
 * tag space (0x42/0x54) and type, fixed lengths, Boolean 0 or 1, Text
 * String valid UTF-8 without NUL, padding zero, every Structure filled
 * exactly by its children, depth and item count within the limits, no
 * byte before or after left over. lim may be NULL (defaults).
 * 0 and *top set, or -1 with a reason in err (which may be NULL).
 */
int	ttlv_decode(const uint8_t *p, size_t n, const struct ttlv_limits *,
	    struct ttlv *top, char *err, size_t errlen);

/*
 * Framing on a stream: from the first TTLV_HDRLEN bytes of a message, its
 * whole length (header included). -1 unless the item is a Structure of a
 * length that is a multiple of 8 and the total is at most max.
 */
int	ttlv_frame_len(const uint8_t hdr[TTLV_HDRLEN], size_t max,
	    size_t *total);

/* Children of a Structure, in order (the parent came from ttlv_decode). */
struct ttlv_iter {
	const uint8_t	*p;
	size_t		 left;
};
void	ttlv_iter_init(struct ttlv_iter *, const struct ttlv *parent);
/* 1 and *out set, 0 at the end, -1 on malformed input. */
int	ttlv_next(struct ttlv_iter *, struct ttlv *out);

/* Typed getters: -1 when the item has another type. */
int	ttlv_get_int(const struct ttlv *, int32_t *);
int	ttlv_get_long(const struct ttlv *, int64_t *);
int	ttlv_get_enum(const struct ttlv *, uint32_t *);
int	ttlv_get_bool(const struct ttlv *, bool *);
int	ttlv_get_datetime(const struct ttlv *, int64_t *);
int	ttlv_get_interval(const struct ttlv *, uint32_t *);
int	ttlv_get_datetime_ext(const struct ttlv *, int64_t *);
/* Views: valid as long as the input. */
int	ttlv_get_bigint(const struct ttlv *, const uint8_t **, size_t *);
int	ttlv_get_text(const struct ttlv *, const char **, size_t *);
int	ttlv_get_bytes(const struct ttlv *, const uint8_t **, size_t *);
/* A Text String copied with its NUL; -1 if it does not fit in outlen. */
int	ttlv_get_cstr(const struct ttlv *, char *out, size_t outlen);

/*
 * A decoded item (and everything under it) put again, through the typed
 * getters and putters: what ttlv_decode() accepted comes out byte for byte
 * the same (the tests' and the fuzzer's check that decoding is canonical).
 */
void	ttlv_put_tree(struct ttlv_enc *, const struct ttlv *);

#endif
