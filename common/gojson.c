/* JSON into a struct with Go encoding/json's matching rules (jansson). */
#include <sys/random.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/b64.h"
#include "common/gojson.h"
#include "common/xmalloc.h"

static void *
wipe_alloc(size_t n)
{
	return xmalloc(n ? n : 1);
}


/*
 * Once per process, before the sandbox: jansson's allocations get wiped,
 * and its hash seed is set here, since jansson would otherwise open
 * /dev/urandom at the first object it builds (inside the chroot and the
 * seccomp filter).
 */
void
gojson_init(void)
{
	uint32_t seed = 0;

	json_set_alloc_funcs(wipe_alloc, free_wiped);
	while (seed == 0)	/* 0 asks jansson to find a seed itself */
		if (getrandom(&seed, sizeof(seed), 0) != sizeof(seed))
			seed = (uint32_t)time(NULL) ^ (uint32_t)getpid();
	json_object_seed(seed);
}

json_t *
gojson_load(const void *p, size_t len)
{
	json_error_t err;

	/*
	 * Any top-level value (json.Valid takes them all; the callers reject
	 * what is not an object), \u0000 inside strings as Go allows, and
	 * every number as a double so a long integer in an ignored field is
	 * not an error. Without JSON_DISABLE_EOF_CHECK anything but
	 * whitespace after the value fails, as in json.Unmarshal.
	 */
	return json_loadb(p, len, JSON_DECODE_ANY | JSON_ALLOW_NUL |
	    JSON_DECODE_INT_AS_REAL, &err);
}

/*
 * Go matches a key against a field name by folding both (encoding/json
 * foldName): ASCII letters to upper case, any other rune to the smallest
 * rune of its Unicode simple-fold orbit. Two non-ASCII runes fold into
 * ASCII letters that way: U+017F (long s) into 'S' and U+212A (Kelvin
 * sign) into 'K'. name is lower-case ASCII.
 */
static int
fold_eq(const char *key, size_t klen, const char *name)
{
	const unsigned char	*k = (const unsigned char *)key;
	size_t			 i = 0;
	unsigned char		 c;

	for (; *name != '\0'; name++) {
		if (i == klen)
			return 0;
		c = k[i];
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c == (unsigned char)*name) {
			i++;
			continue;
		}
		if (*name == 's' && klen - i >= 2 && k[i] == 0xc5 &&
		    k[i + 1] == 0xbf) {
			i += 2;
			continue;
		}
		if (*name == 'k' && klen - i >= 3 && k[i] == 0xe2 &&
		    k[i + 1] == 0x84 && k[i + 2] == 0xaa) {
			i += 3;
			continue;
		}
		return 0;
	}
	return i == klen;
}

json_t *
gojson_get(const json_t *obj, const char *name)
{
	const char	*key;
	json_t		*v, *found = NULL;

	if (!json_is_object(obj))
		return NULL;
	/* Document order; later keys overwrite earlier ones, as in Go. */
	json_object_foreach((json_t *)(uintptr_t)obj, key, v) {
		if (fold_eq(key, strlen(key), name))
			found = v;
	}
	return found;
}

int
gojson_string(const json_t *obj, const char *name, const char **s,
    size_t *len)
{
	json_t *v = gojson_get(obj, name);

	*s = NULL;
	*len = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*s = json_string_value(v);
	*len = json_string_length(v);
	return 0;
}

int
gojson_bytes(const json_t *obj, const char *name, uint8_t **p, size_t *len)
{
	const char	*s;
	size_t		 n, max;
	uint8_t		*b;

	*p = NULL;
	*len = 0;
	if (gojson_string(obj, name, &s, &n) == -1)
		return -1;
	if (n == 0)
		return 0;
	/* One spare byte: "\r\n" alone is valid and decodes to nothing. */
	max = b64_decoded_max(n) + 1;
	b = xmalloc(max);
	if (b64_decode(s, n, b, &n) == -1) {
		freezero(b, max);
		return -1;
	}
	if (n == 0) {
		freezero(b, max);
		return 0;
	}
	*p = b;
	*len = n;
	return 0;
}
