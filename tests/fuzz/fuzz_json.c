/*
 * libFuzzer harness for worker/body.c: request bodies decoded into the
 * field sets of KES's decrypt request (ciphertext and context bytes,
 * version string) and import request (key and bytes bytes, cipher and
 * algorithm strings). Besides memory errors it aborts when a promise
 * breaks:
 *   - the result is 0 or -1, and -1 leaves every field empty;
 *   - bytes are NULL exactly when their length is 0; a string is there
 *     exactly when present, without an inner NUL, len = strlen;
 *   - bytes after a decoded value change nothing: the input with a suffix
 *     decodes to the same fields;
 *   - where jansson also reads the input as an object with no key given
 *     twice (case-insensitively), both agree: on success, on base64 and
 *     byte-array results and on strings (inputs with a raw NUL are left
 *     out: jansson's lexer skips one that it read as lookahead).
 *
 * worker/body.c is #included rather than linked because tests/fuzz/run.sh
 * compiles each harness with the common/ sources only; its public
 * functions are renamed first so the build also links when body.c is
 * given on the command line as well. A function added to body.c needs a
 * line here.
 */
#define body_decode	fuzz_body_decode
#define body_release	fuzz_body_release
#define body_init	fuzz_body_init
#include "worker/body.c"

#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)
#define NMAX		4

struct set {
	size_t		 n;
	const char	*name[NMAX];
	enum body_kind	 kind[NMAX];
};

static const struct set sets[] = {
	{ 3, { "ciphertext", "context", "version" },
	    { BODY_BYTES, BODY_BYTES, BODY_STRING } },
	{ 4, { "key", "cipher", "bytes", "algorithm" },
	    { BODY_BYTES, BODY_STRING, BODY_BYTES, BODY_STRING } },
};

static void
fields_init(struct body_field *f, const struct set *s)
{
	size_t	 i;

	memset(f, 0, sizeof(*f) * NMAX);
	for (i = 0; i < s->n; i++) {
		f[i].name = s->name[i];
		f[i].kind = s->kind[i];
	}
}

static void
check_fields(const struct body_field *f, size_t n, int r)
{
	size_t	 i;

	CHECK(r == 0 || r == -1);
	for (i = 0; i < n; i++) {
		if (r == -1 || !f[i].present) {
			CHECK(f[i].bytes == NULL && f[i].len == 0);
			if (r == -1 || f[i].kind == BODY_BYTES)
				CHECK(f[i].str == NULL);
		}
		if (f[i].kind == BODY_BYTES) {
			CHECK(f[i].str == NULL);
			CHECK((f[i].bytes == NULL) == (f[i].len == 0));
		} else {
			CHECK(f[i].bytes == NULL);
			CHECK((f[i].str != NULL) == f[i].present);
			if (f[i].str != NULL)
				CHECK(strlen(f[i].str) == f[i].len);
		}
	}
}

static bool
same_fields(const struct body_field *a, const struct body_field *b, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (a[i].present != b[i].present || a[i].len != b[i].len)
			return false;
		if (a[i].len != 0 && a[i].bytes != NULL &&
		    memcmp(a[i].bytes, b[i].bytes, a[i].len) != 0)
			return false;
		if ((a[i].str == NULL) != (b[i].str == NULL))
			return false;
		if (a[i].str != NULL && strcmp(a[i].str, b[i].str) != 0)
			return false;
	}
	return true;
}

/* A key folded Go's way for ASCII names, written independently of body.c:
 * the Kelvin sign and the long s become k and s, ASCII goes lower case. */
static bool
key_is(const char *key, size_t klen, const char *name)
{
	size_t	 i = 0;
	int	 c;

	for (; *name != '\0'; name++) {
		if (i >= klen)
			return false;
		if (klen - i >= 3 && memcmp(key + i, "\xe2\x84\xaa", 3) == 0) {
			c = 'k';
			i += 3;
		} else if (klen - i >= 2 &&
		    memcmp(key + i, "\xc5\xbf", 2) == 0) {
			c = 's';
			i += 2;
		} else {
			c = (unsigned char)key[i++];
			if (c >= 'A' && c <= 'Z')
				c += 'a' - 'A';
		}
		if (c != *name)
			return false;
	}
	return i == klen;
}

/*
 * What the fields should hold, from jansson's tree: 1 for success, 0 for
 * an error, -1 when the comparison does not apply (a key matched twice, a
 * byte array with a 0 that may have been written "-0").
 */
static int
expected(json_t *obj, const struct set *s, json_t **val)
{
	const char	*k;
	json_t		*v, *e;
	size_t		 i, j;
	int		 ok = 1;

	for (i = 0; i < s->n; i++)
		val[i] = NULL;
	json_object_foreach(obj, k, v) {
		for (i = 0; i < s->n; i++) {
			if (!key_is(k, strlen(k), s->name[i]))
				continue;
			if (val[i] != NULL)
				return -1;
			val[i] = v;
		}
	}
	for (i = 0; i < s->n; i++) {
		v = val[i];
		if (v == NULL || json_is_null(v))
			continue;
		if (json_is_string(v)) {
			if (s->kind[i] == BODY_STRING &&
			    memchr(json_string_value(v), '\0',
			    json_string_length(v)) != NULL)
				ok = 0;
			continue;
		}
		if (!json_is_array(v) || s->kind[i] != BODY_BYTES) {
			ok = 0;
			continue;
		}
		json_array_foreach(v, j, e) {
			if (json_is_null(e))
				continue;
			if (!json_is_integer(e) || json_integer_value(e) < 0 ||
			    json_integer_value(e) > 255)
				ok = 0;
			else if (json_integer_value(e) == 0)
				return -1;
		}
	}
	return ok;
}

static void
compare_jansson(const uint8_t *data, size_t size, const struct set *s,
    const struct body_field *f, int r)
{
	json_t		*obj, *val[NMAX], *e;
	uint8_t		*b;
	size_t		 i, j, blen;
	int		 want;

	/* jansson's lexer drops a raw NUL read as lookahead after a number or
	 * literal ("[1\0,2]" parses); Go and body.c refuse it. */
	if (memchr(data, '\0', size) != NULL)
		return;
	obj = json_loadb((const char *)data, size, JSON_DISABLE_EOF_CHECK |
	    JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, NULL);
	if (obj == NULL)
		return;
	if (!json_is_object(obj) || (want = expected(obj, s, val)) == -1) {
		json_decref(obj);
		return;
	}
	/* A bad base64 string shows only when decoding it. */
	for (i = 0; want == 1 && i < s->n; i++) {
		if (s->kind[i] != BODY_BYTES || !json_is_string(val[i]))
			continue;
		blen = json_string_length(val[i]);
		b = malloc(b64_decoded_max(blen) + 1);
		if (b64_decode(json_string_value(val[i]), blen, b, &blen) == -1)
			want = 0;
		else if (r == 0)
			CHECK(f[i].len == blen && (blen == 0 ||
			    memcmp(f[i].bytes, b, blen) == 0));
		free(b);
	}
	CHECK(r == (want ? 0 : -1));
	for (i = 0; r == 0 && i < s->n; i++) {
		if (val[i] == NULL || json_is_null(val[i])) {
			CHECK(!f[i].present);
			continue;
		}
		CHECK(f[i].present);
		if (json_is_array(val[i])) {
			CHECK(f[i].len == json_array_size(val[i]));
			json_array_foreach(val[i], j, e)
				CHECK(f[i].bytes[j] == (json_is_null(e) ? 0 :
				    json_integer_value(e)));
		} else if (s->kind[i] == BODY_STRING) {
			CHECK(f[i].len == json_string_length(val[i]));
			CHECK(memcmp(f[i].str, json_string_value(val[i]),
			    f[i].len) == 0);
		}
	}
	json_decref(obj);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool		 init;
	static const char	 tail[] = "}]\"\\ {\"context\":\"AQ==\"} nul";
	struct body_field	 f[NMAX], g[NMAX];
	uint8_t			*ext;
	size_t			 s, cut;
	int			 r, r2;

	if (!init) {
		fuzz_body_init();
		init = true;
	}
	for (s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		fields_init(f, &sets[s]);
		r = fuzz_body_decode(data, size, f, sets[s].n);
		check_fields(f, sets[s].n, r);
		compare_jansson(data, size, &sets[s], f, r);

		/* Whatever follows a decoded value is not read. */
		if (r == 0) {
			cut = size > 0 ? data[size - 1] % sizeof(tail) : 0;
			ext = malloc(size + cut + 1);
			if (size > 0)
				memcpy(ext, data, size);
			memcpy(ext + size, tail, cut);
			fields_init(g, &sets[s]);
			r2 = fuzz_body_decode(ext, size + cut, g, sets[s].n);
			CHECK(r2 == 0);
			CHECK(same_fields(f, g, sets[s].n));
			fuzz_body_release(g, sets[s].n);
			free(ext);
		}
		fuzz_body_release(f, sets[s].n);
		check_fields(f, sets[s].n, -1);
	}
	return 0;
}
