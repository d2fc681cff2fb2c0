/* Sorting, prefix filter and paging of key names (spec 3.3). */
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/list.h"

void
ks_names_init(struct ks_names *l, const char *prefix)
{
	memset(l, 0, sizeof(*l));
	l->prefix = prefix != NULL ? prefix : "";
}

int
ks_names_add(const char *name, void *arg)
{
	struct ks_names *l = arg;

	if (strncmp(name, l->prefix, strlen(l->prefix)) != 0 ||
	    !kes_legacy_name(name))
		return 0;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 64;
		l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
	}
	l->v[l->n++] = xstrdup(name);
	return 0;
}

void
ks_names_free(struct ks_names *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

/* strcmp compares as unsigned char: byte order, as Go's sort. */
static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
ks_names_page(struct ks_names *l, size_t max, size_t bytes,
    struct buf *out)
{
	size_t	i, n, used = 4;

	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_name);
	/* As many as fit in bytes, counting each as framed (u32, NUL). */
	for (n = 0; n < l->n && n < max; n++) {
		if (used + 4 + strlen(l->v[n]) + 1 > bytes)
			break;
		used += 4 + strlen(l->v[n]) + 1;
	}
	if (buf_put_u32(out, (uint32_t)n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_put_str(out, l->v[i]) == -1)
			return -1;
	return buf_put_str(out, n < l->n ? l->v[n] : "");
}
