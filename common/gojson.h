/*
 * Reading JSON into a struct the way Go's encoding/json (json.Unmarshal)
 * does, for the stored-key and ciphertext decoders: the input must be one
 * complete JSON value; object keys match a field name case-insensitively
 * (Unicode simple folding, so "\u017f" matches 's' and "\u212a" 'k') and
 * the last match wins; a null or absent field stays empty; a value of the
 * wrong type is an error; []byte fields are padded standard base64
 * (common/b64.h).
 *
 * Known differences, all on inputs no KES ever wrote (jansson's parser is
 * underneath): invalid UTF-8 inside strings, "\u0000" inside keys and
 * numbers beyond a double's range are errors here and valid in Go; when
 * two keys differing in case name the same field and one of them repeats,
 * jansson keeps the first position of the repeated key, so the "last"
 * match may differ from Go's; a []byte field given as a JSON array of
 * numbers (which Go also accepts) is an error here.
 */
#ifndef KEYWARD_GOJSON_H
#define KEYWARD_GOJSON_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/*
 * Route jansson's allocations, process-wide, through a free that wipes:
 * jansson copies every string it parses (the base64 of a stored key among
 * them) and frees the copies without wiping. Call once at start in every
 * process that parses secrets with jansson (the crypto process for stored
 * keys); calling it again changes nothing.
 */
void	 gojson_init(void);
/* The whole of p as one JSON value, or NULL. Caller json_decref()s. */
json_t	*gojson_load(const void *p, size_t len);
/* The value Go would store into the field tagged name (lower-case ASCII
 * letters, digits, '_'), or NULL when no key matches. */
json_t	*gojson_get(const json_t *obj, const char *name);
/* A string field: *s and *len (NULL and 0 when absent or null); -1 when
 * present with another type. */
int	 gojson_string(const json_t *obj, const char *name, const char **s,
	    size_t *len);
/* A []byte field decoded into a new buffer (NULL and 0 when absent, null
 * or empty; free with freezero(*p, *len)); -1 when not a string or not
 * valid base64. */
int	 gojson_bytes(const json_t *obj, const char *name, uint8_t **p,
	    size_t *len);

#endif
