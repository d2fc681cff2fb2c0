/*
 * JSON written the way Go's encoding/json writes it (HTML-safe, as
 * json.Marshal does), byte for byte: the worker's responses, the error-log
 * events, anything a KES client compares. The one string escaper of the
 * tree; tests/unit/test_json_out.c holds it to Go's output.
 *
 * Each call appends to b and returns 0, or -1 with b as it was when the
 * piece does not fit b's maximum.
 */
#ifndef KEYWARD_JSON_OUT_H
#define KEYWARD_JSON_OUT_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* A string: "s", escaped as Go's encodeState.string does with escapeHTML. */
int	json_str(struct buf *, const char *s);
/* "key": */
int	json_key(struct buf *, const char *key);
/* []byte: padded standard base64 in a string. */
int	json_b64(struct buf *, const uint8_t *, size_t);
/* The same for bytes that are not secret (a ciphertext): faster. */
int	json_b64_public(struct buf *, const uint8_t *, size_t);
/* time.Time: RFC 3339 with nanoseconds, trailing zeros trimmed. */
int	json_time(struct buf *, int64_t sec, int32_t nsec);

#endif
