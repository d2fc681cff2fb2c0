/*
 * A byte buffer with a hard maximum, typed big-endian putters and
 * bounds-checked getters. Freeing wipes. Getters return 0 on success and -1
 * on any short read or malformed value and leave the read offset unchanged
 * on failure. A message decoder ends with buf_end(), which fails on trailing
 * bytes: every payload must be consumed exactly.
 *
 * Wire encodings:
 *   u8/u16/u32/u64  big-endian
 *   bytes           u32 length, then that many bytes
 *   str             u32 length (counting the NUL), bytes, NUL; no inner NUL
 *
 * A put that does not fit returns -1 and also marks the buffer failed
 * until it is reset: ipc_put_buf() and peer_send() refuse a failed buffer,
 * so a frame with a field missing is an error at its sender (logged there,
 * naming the message) and never a truncated frame that makes the receiver
 * blame its peer. So a message is built with a run of puts whose results
 * the mark keeps, and checked once where it is sent; a buffer whose bytes
 * go anywhere else (an HTTP answer, a log line) is checked for the mark
 * before they do.
 */
#ifndef KEYWARD_BUF_H
#define KEYWARD_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

struct buf {
	uint8_t	*data;
	size_t	 len;		/* bytes written */
	size_t	 off;		/* read offset, <= len */
	size_t	 cap;		/* allocated */
	size_t	 max;		/* hard limit on len */
	bool	 view;		/* data is borrowed; never freed or grown */
	bool	 failed;	/* a put did not fit: not a frame to send */
};

void	 buf_init(struct buf *, size_t max);
/* A read-only view of memory owned elsewhere. */
void	 buf_view(struct buf *, const void *, size_t);
/* Wipe and release the storage; the struct may be reused after buf_init. */
void	 buf_release(struct buf *);
/* Drop the contents (wiped) but keep the storage. */
void	 buf_reset(struct buf *);
/* Drop what was put after the first len bytes (wiped), and the failed
 * mark: take back a message that did not fit. off <= len <= b->len. */
void	 buf_truncate(struct buf *, size_t len);
/* Discard consumed bytes [0, off) by moving the rest to the front. */
void	 buf_compact(struct buf *);

size_t	 buf_avail(const struct buf *);		/* len - off */
const uint8_t *buf_ptr(const struct buf *);	/* data + off */
/* Make room for n more bytes; returns a pointer to write them or NULL. */
uint8_t	*buf_reserve(struct buf *, size_t n);
int	 buf_skip(struct buf *, size_t n);

int	 buf_put(struct buf *, const void *, size_t);
int	 buf_put_u8(struct buf *, uint8_t);
/* v as decimal text (no NUL). */
int	 buf_put_dec(struct buf *, uint64_t v);
int	 buf_put_u16(struct buf *, uint16_t);
int	 buf_put_u32(struct buf *, uint32_t);
int	 buf_put_u64(struct buf *, uint64_t);
int	 buf_put_bytes(struct buf *, const void *, size_t);
int	 buf_put_str(struct buf *, const char *);	/* NULL puts "" */

int	 buf_get(struct buf *, void *, size_t);
int	 buf_get_u8(struct buf *, uint8_t *);
int	 buf_get_u16(struct buf *, uint16_t *);
int	 buf_get_u32(struct buf *, uint32_t *);
int	 buf_get_u64(struct buf *, uint64_t *);
int	 buf_get_bool(struct buf *, bool *);		/* u8 0 or 1 only */
/* Pointers into the buffer: valid until it changes. */
int	 buf_get_bytes(struct buf *, const uint8_t **, size_t *);
int	 buf_get_str(struct buf *, const char **, size_t *);
/* Copies (caller frees; the copy of bytes is wiped by freezero). */
int	 buf_get_strdup(struct buf *, char **);
int	 buf_end(const struct buf *);

#endif
