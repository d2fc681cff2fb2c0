/*
 * Request bodies decoded the way KES's Go handlers decode them
 * (encoding/json into a struct, spec 1.4): the first JSON value must be an
 * object (or null); object keys match field names case-insensitively, the
 * last duplicate wins, unknown keys are ignored whatever their type; bytes
 * fields are padded standard base64 (or, as in Go, an array of numbers
 * 0..255); a field that is null or absent stays empty; anything after the
 * first value is not looked at. An empty body is an error. Every copy of a
 * decoded value is wiped when released. The details, and the two places
 * where we differ from Go (NUL and invalid UTF-8 in string fields), are at
 * the top of body.c.
 */
#ifndef KEYWARD_BODY_H
#define KEYWARD_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum body_kind {
	BODY_BYTES,		/* JSON string holding base64 */
	BODY_STRING,		/* JSON string */
};

struct body_field {
	const char	*name;		/* as in KES's struct tag */
	enum body_kind	 kind;
	bool		 public;	/* BODY_BYTES that are not secret (a
					 * ciphertext, a context): base64 by
					 * table, b64_decode_public */
	/* results */
	bool		 present;	/* given and not null (Go: a null after
					   a string leaves the string) */
	uint8_t		*bytes;		/* BODY_BYTES: decoded; NULL if empty */
	size_t		 len;		/* of bytes, or strlen(str) */
	char		*str;		/* BODY_STRING: NUL-terminated */
};

/* Decode body into fields[0..n); 0, or -1 for any error (fields are then
 * released). */
int	body_decode(const uint8_t *body, size_t len, struct body_field *,
	    size_t n);
/* Wipe and free what body_decode() filled in. */
void	body_release(struct body_field *, size_t n);
/* Route jansson's allocations through wiping functions; once, at start. */
void	body_init(void);

#endif
