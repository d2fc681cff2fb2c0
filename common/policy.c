/* Policy decisions and their wire form. */
#include <stdlib.h>
#include <string.h>

#include "common/names.h"
#include "common/policy.h"
#include "common/xmalloc.h"

#define POLICY_MAX_ITEMS	65536

bool
policy_match(const char *pattern, const char *path)
{
	size_t n = strlen(pattern);

	if (n == 0)
		return false;
	if (pattern[n - 1] == '*')
		return strncmp(pattern, path, n - 1) == 0;
	return strcmp(pattern, path) == 0;
}

const struct policy *
policy_of(const struct policy_set *s, const char *id)
{
	size_t i, j;

	for (i = 0; i < s->npolicies; i++)
		for (j = 0; j < s->policies[i].nidentities; j++)
			if (strcmp(s->policies[i].identities[j], id) == 0)
				return &s->policies[i];
	return NULL;
}

/* A non-hex admin (e.g. "disabled") matches nobody, not even itself. */
bool
policy_is_admin(const struct policy_set *s, const char *id)
{
	return s->admin != NULL && strcmp(s->admin, id) == 0 &&
	    kes_is_hex_identity(id);	/* == s->admin: checked second */
}

bool
policy_allows(const struct policy_set *s, const char *id, const char *path)
{
	const struct policy	*p;
	size_t			 i;

	if (policy_is_admin(s, id))
		return true;
	if ((p = policy_of(s, id)) == NULL)
		return false;
	for (i = 0; i < p->ndeny; i++)
		if (policy_match(p->deny[i], path))
			return false;
	for (i = 0; i < p->nallow; i++)
		if (policy_match(p->allow[i], path))
			return true;
	return false;
}

static char **
strv_dup(char **v, size_t n)
{
	char	**r;
	size_t	  i;

	if (n == 0)
		return NULL;
	r = xcalloc(n, sizeof(*r));
	for (i = 0; i < n; i++)
		r[i] = xstrdup(v[i]);
	return r;
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
policy_set_copy(struct policy_set *s, const struct config *cf)
{
	struct policy	*d;
	size_t		 i;

	memset(s, 0, sizeof(*s));
	s->admin = xstrdup(cf->admin_identity ? cf->admin_identity : "");
	s->npolicies = cf->npolicies;
	if (s->npolicies == 0)
		return;
	s->policies = xcalloc(s->npolicies, sizeof(*s->policies));
	for (i = 0; i < s->npolicies; i++) {
		d = &s->policies[i];
		d->name = xstrdup(cf->policies[i].name);
		d->allow = strv_dup(cf->policies[i].allow,
		    d->nallow = cf->policies[i].nallow);
		d->deny = strv_dup(cf->policies[i].deny,
		    d->ndeny = cf->policies[i].ndeny);
		d->identities = strv_dup(cf->policies[i].identities,
		    d->nidentities = cf->policies[i].nidentities);
	}
}

void
policy_set_free(struct policy_set *s)
{
	size_t i;

	for (i = 0; i < s->npolicies; i++) {
		free(s->policies[i].name);
		strv_free(s->policies[i].allow, s->policies[i].nallow);
		strv_free(s->policies[i].deny, s->policies[i].ndeny);
		strv_free(s->policies[i].identities,
		    s->policies[i].nidentities);
	}
	free(s->policies);
	free(s->admin);
	memset(s, 0, sizeof(*s));
}

static int
strv_put(struct buf *b, char **v, size_t n)
{
	size_t i;

	if (buf_put_u32(b, n) == -1)
		return -1;
	for (i = 0; i < n; i++)
		if (buf_put_str(b, v[i]) == -1)
			return -1;
	return 0;
}

static int
strv_get(struct buf *b, char ***v, size_t *n)
{
	uint32_t	cnt, i;

	*v = NULL;
	*n = 0;
	if (buf_get_u32(b, &cnt) == -1 || cnt > POLICY_MAX_ITEMS ||
	    cnt > buf_avail(b) / 5)	/* each string takes 5 bytes at least */
		return -1;
	if (cnt == 0)
		return 0;
	*v = xcalloc(cnt, sizeof(**v));
	for (i = 0; i < cnt; i++) {
		if (buf_get_strdup(b, &(*v)[i]) == -1) {
			*n = i;
			return -1;
		}
	}
	*n = cnt;
	return 0;
}

int
policy_set_put(struct buf *b, const struct policy_set *s)
{
	const struct policy	*p;
	size_t			 i;

	if (buf_put_str(b, s->admin) == -1 || buf_put_u32(b, s->npolicies))
		return -1;
	for (i = 0; i < s->npolicies; i++) {
		p = &s->policies[i];
		if (buf_put_str(b, p->name) == -1 ||
		    strv_put(b, p->allow, p->nallow) == -1 ||
		    strv_put(b, p->deny, p->ndeny) == -1 ||
		    strv_put(b, p->identities, p->nidentities) == -1)
			return -1;
	}
	return 0;
}

int
policy_set_get(struct buf *b, struct policy_set *s)
{
	struct policy	*p;
	uint32_t	 n, i;

	memset(s, 0, sizeof(*s));
	if (buf_get_strdup(b, &s->admin) == -1)
		return -1;
	if (buf_get_u32(b, &n) == -1 || n > POLICY_MAX_ITEMS ||
	    n > buf_avail(b) / 17)	/* name + three counts at least */
		goto fail;
	if (n == 0)
		return 0;
	s->policies = xcalloc(n, sizeof(*s->policies));
	for (i = 0; i < n; i++) {
		p = &s->policies[i];
		s->npolicies = i + 1;
		if (buf_get_strdup(b, &p->name) == -1 ||
		    strv_get(b, &p->allow, &p->nallow) == -1 ||
		    strv_get(b, &p->deny, &p->ndeny) == -1 ||
		    strv_get(b, &p->identities, &p->nidentities) == -1)
			goto fail;
	}
	return 0;
fail:
	policy_set_free(s);
	return -1;
}
