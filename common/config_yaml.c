/*
 * Reading typed values out of a libyaml document for the config parser:
 * sections with known keys, ${VAR} substitution, and messages that name the
 * file, line and dotted field path.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_impl.h"
#include "common/xmalloc.h"

int
cfg_error(struct cfg_parser *p, size_t line, const char *path,
    const char *fmt, ...)
{
	char	 msg[CONFIG_ERRLEN];
	va_list	 ap;

	/* Only the first error is reported: later ones are its echoes. */
	if (p->failed)
		return -1;
	p->failed = true;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->err != NULL && p->errlen > 0)
		(void)snprintf(p->err, p->errlen, "%s:%zu: %s: %s", p->file,
		    line, path, msg);
	return -1;
}

void
cfg_warn(struct cfg_parser *p, size_t line, const char *path,
    const char *fmt, ...)
{
	struct config	*c = p->cfg;
	char		 msg[CONFIG_ERRLEN];
	char		*w;
	va_list		 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (path != NULL)
		xasprintf(&w, "%s:%zu: %s: %s", p->file, line, path, msg);
	else
		xasprintf(&w, "%s:%zu: %s", p->file, line, msg);
	c->warnings = xreallocarray(c->warnings, c->nwarnings + 1,
	    sizeof(*c->warnings));
	c->warnings[c->nwarnings++] = w;
}

size_t
cfg_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

bool
cfg_is_null(const yaml_node_t *n)
{
	const char	*v;

	if (n->type != YAML_SCALAR_NODE)
		return false;
	if (n->tag != NULL && strcmp((const char *)n->tag, YAML_NULL_TAG) == 0)
		return true;
	/* A quoted "null" or "" is a string; only plain ones are null. */
	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return strcmp(v, "") == 0 || strcmp(v, "~") == 0 ||
	    strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
	    strcmp(v, "NULL") == 0;
}

const char *
cfg_kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	default:
		return "a single value";
	}
}

void
cfg_pathf(char *dst, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(dst, CFG_PATHLEN, fmt, ap);
	va_end(ap);
}

void
cfg_join(char *dst, const char *path, const char *key)
{
	if (path[0] == '\0')
		cfg_pathf(dst, "%s", key);
	else
		cfg_pathf(dst, "%s.%s", path, key);
}

const char *
cfg_quote(const char *v, char *buf, size_t len)
{
	size_t	 i;

	for (i = 0; v[i] != '\0' && i + 4 < len && i < 64; i++)
		buf[i] = isprint((unsigned char)v[i]) ? v[i] : '?';
	if (v[i] != '\0') {
		buf[i++] = '.';
		buf[i++] = '.';
		buf[i++] = '.';
	}
	buf[i] = '\0';
	return buf;
}

static bool
key_is(const yaml_node_t *k, const char *key)
{
	return k->type == YAML_SCALAR_NODE &&
	    k->data.scalar.length == strlen(key) &&
	    memcmp(k->data.scalar.value, key, k->data.scalar.length) == 0;
}

static bool
key_known(const yaml_node_t *k, const char *const known[])
{
	size_t	 i;

	for (i = 0; known[i] != NULL; i++)
		if (key_is(k, known[i]))
			return true;
	return false;
}

int
cfg_sect_node(struct cfg_parser *p, yaml_node_t *n, size_t line,
    const char *path, const char *const known[], struct cfg_sect *s)
{
	yaml_node_pair_t	*pair, *prev;
	yaml_node_t		*k, *pk;
	char			 kpath[CFG_PATHLEN];

	s->map = NULL;
	s->line = line;
	if (path != s->path)
		cfg_pathf(s->path, "%s", path);
	if (n == NULL || cfg_is_null(n))
		return 0;
	if (n->type != YAML_MAPPING_NODE)
		return cfg_error(p, cfg_line(n), path,
		    "is %s; expected a mapping", cfg_kind(n));
	for (pair = n->data.mapping.pairs.start;
	    pair < n->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(p->doc, pair->key);
		if (k == NULL || k->type != YAML_SCALAR_NODE)
			return cfg_error(p, k ? cfg_line(k) : line,
			    path[0] ? path : "config",
			    "a key is %s; expected a field name",
			    k ? cfg_kind(k) : "missing");
		if (strlen((const char *)k->data.scalar.value) !=
		    k->data.scalar.length)
			return cfg_error(p, cfg_line(k),
			    path[0] ? path : "config", "a key contains a NUL "
			    "character; expected a field name");
		cfg_join(kpath, path, (const char *)k->data.scalar.value);
		for (prev = n->data.mapping.pairs.start; prev < pair; prev++) {
			pk = yaml_document_get_node(p->doc, prev->key);
			if (key_is(pk, (const char *)k->data.scalar.value))
				return cfg_error(p, cfg_line(k), kpath,
				    "defined more than once; expected each "
				    "key once");
		}
		if (known != NULL && !key_known(k, known))
			cfg_warn(p, cfg_line(k), NULL,
			    "unknown key '%s' ignored", kpath);
	}
	s->map = n;
	return 0;
}

yaml_node_t *
cfg_lookup(const struct cfg_parser *p, const struct cfg_sect *s,
    const char *key, size_t *keyline)
{
	yaml_node_pair_t	*pair;
	yaml_node_t		*k;

	if (s->map == NULL)
		return NULL;
	for (pair = s->map->data.mapping.pairs.start;
	    pair < s->map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(p->doc, pair->key);
		if (k != NULL && key_is(k, key)) {
			if (keyline != NULL)
				*keyline = cfg_line(k);
			return yaml_document_get_node(p->doc, pair->value);
		}
	}
	return NULL;
}

int
cfg_sect_open(struct cfg_parser *p, const struct cfg_sect *parent,
    const char *key, const char *const known[], struct cfg_sect *s)
{
	yaml_node_t	*v;
	size_t		 line = parent->line;
	char		 path[CFG_PATHLEN];

	cfg_join(path, parent->path, key);
	v = cfg_lookup(p, parent, key, &line);
	return cfg_sect_node(p, v, line, path, known, s);
}

void
cfg_legacy(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    const char *why)
{
	size_t	 line;
	char	 path[CFG_PATHLEN];

	if (cfg_lookup(p, s, key, &line) == NULL)
		return;
	cfg_join(path, s->path, key);
	cfg_warn(p, line, NULL, "key '%s' ignored: %s", path, why);
}

/*
 * KES (kesconf env[T].UnmarshalYAML): when the trimmed scalar is ${NAME},
 * NAME (trimmed) must be set in the environment and its value replaces the
 * scalar; anything else, a-${X} included, is literal.
 */
int
cfg_scalar(struct cfg_parser *p, yaml_node_t *n, const char *path,
    bool subst, const char **out)
{
	const char	*v, *b, *e, *env;
	char		 name[CONFIG_ERRLEN / 4], q[CFG_QUOTELEN];
	size_t		 len;

	if (n->type != YAML_SCALAR_NODE)
		return cfg_error(p, cfg_line(n), path,
		    "is %s; expected a single value", cfg_kind(n));
	v = (const char *)n->data.scalar.value;
	if (strlen(v) != n->data.scalar.length)
		return cfg_error(p, cfg_line(n), path,
		    "contains a NUL character; expected text");
	*out = v;
	if (!subst)
		return 0;
	for (b = v; isspace((unsigned char)*b); b++)
		;
	for (e = b + strlen(b); e > b && isspace((unsigned char)e[-1]); e--)
		;
	if (e - b < 3 || b[0] != '$' || b[1] != '{' || e[-1] != '}')
		return 0;
	for (b += 2, e--; b < e && isspace((unsigned char)*b); b++)
		;
	for (; e > b && isspace((unsigned char)e[-1]); e--)
		;
	len = (size_t)(e - b);
	if (len >= sizeof(name))
		return cfg_error(p, cfg_line(n), path,
		    "environment variable name '%s' is too long; expected "
		    "a name of at most %zu bytes", cfg_quote(b, q, sizeof(q)),
		    sizeof(name) - 1);
	memcpy(name, b, len);
	name[len] = '\0';
	if ((env = getenv(name)) == NULL)
		return cfg_error(p, cfg_line(n), path,
		    "environment variable '%s' is not set; expected it to be "
		    "defined for ${%s}", cfg_quote(name, q, sizeof(q)),
		    cfg_quote(name, q, sizeof(q)));
	*out = env;
	return 0;
}

static void
set_str(char **dst, const char *v)
{
	freezero_str(*dst);
	*dst = xstrdup(v);
}

int
cfg_get_str(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    char **out)
{
	yaml_node_t	*n;
	const char	*v;
	char		 path[CFG_PATHLEN];

	if ((n = cfg_lookup(p, s, key, NULL)) == NULL || cfg_is_null(n))
		return 0;
	cfg_join(path, s->path, key);
	if (cfg_scalar(p, n, path, true, &v) == -1)
		return -1;
	set_str(out, v);
	return 0;
}

int
cfg_get_bool(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    bool *out)
{
	yaml_node_t	*n;
	const char	*v;
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN];

	if ((n = cfg_lookup(p, s, key, NULL)) == NULL || cfg_is_null(n))
		return 0;
	cfg_join(path, s->path, key);
	if (cfg_scalar(p, n, path, true, &v) == -1)
		return -1;
	if (cfg_parse_bool(v, out) == -1)
		return cfg_error(p, cfg_line(n), path,
		    "'%s' is not a boolean; expected true or false",
		    cfg_quote(v, q, sizeof(q)));
	return 0;
}

int
cfg_get_duration(struct cfg_parser *p, const struct cfg_sect *s,
    const char *key, uint64_t *ms, bool *set)
{
	yaml_node_t	*n;
	const char	*v;
	uint64_t	 abs;
	char		 path[CFG_PATHLEN], q[CFG_QUOTELEN];

	if ((n = cfg_lookup(p, s, key, NULL)) == NULL || cfg_is_null(n))
		return 0;
	cfg_join(path, s->path, key);
	if (cfg_scalar(p, n, path, true, &v) == -1)
		return -1;
	if (config_parse_duration(v, ms) == -1) {
		if (v[0] == '-' && config_parse_duration(v + 1, &abs) == 0)
			return cfg_error(p, cfg_line(n), path,
			    "negative duration '%s'; expected a duration of "
			    "0 or more", cfg_quote(v, q, sizeof(q)));
		return cfg_error(p, cfg_line(n), path,
		    "'%s' is not a duration; expected a Go duration such as "
		    "0, 300ms, 30s, 5m or 1h30m", cfg_quote(v, q, sizeof(q)));
	}
	if (set != NULL)
		*set = true;
	return 0;
}

int
cfg_get_list(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    bool subst, char ***out, size_t *nout)
{
	yaml_node_item_t	*it;
	yaml_node_t		*n, *item;
	const char		*v;
	char			 path[CFG_PATHLEN], ipath[CFG_PATHLEN];
	size_t			 i;

	if ((n = cfg_lookup(p, s, key, NULL)) == NULL || cfg_is_null(n))
		return 0;
	cfg_join(path, s->path, key);
	if (n->type != YAML_SEQUENCE_NODE)
		return cfg_error(p, cfg_line(n), path,
		    "is %s; expected a list", cfg_kind(n));
	for (it = n->data.sequence.items.start, i = 0;
	    it < n->data.sequence.items.top; it++, i++) {
		item = yaml_document_get_node(p->doc, *it);
		cfg_pathf(ipath, "%s[%zu]", path, i);
		if (item == NULL || cfg_is_null(item))
			v = "";
		else if (cfg_scalar(p, item, ipath, subst, &v) == -1)
			return -1;
		*out = xreallocarray(*out, *nout + 1, sizeof(**out));
		(*out)[(*nout)++] = xstrdup(v);
	}
	return 0;
}

int
cfg_require(struct cfg_parser *p, const struct cfg_sect *s, const char *key,
    const char *val, const char *expected)
{
	yaml_node_t	*n;
	size_t		 line = s->line;
	char		 path[CFG_PATHLEN];

	if (val != NULL && val[0] != '\0')
		return 0;
	cfg_join(path, s->path, key);
	n = cfg_lookup(p, s, key, &line);
	if (n != NULL && !cfg_is_null(n))
		return cfg_error(p, line, path, "is empty; expected %s",
		    expected);
	return cfg_error(p, line, path, "missing; expected %s", expected);
}

void
cfg_strv_free(char **v, size_t n)
{
	size_t	 i;

	for (i = 0; i < n; i++)
		freezero_str(v[i]);
	free(v);
}

int
cfg_get_fields(struct cfg_parser *p, const struct cfg_sect *s,
    const struct cfg_field *f)
{
	for (; f->key != NULL; f++) {
		if (cfg_get_str(p, s, f->key, f->dst) == -1)
			return -1;
		if (f->expected != NULL &&
		    cfg_require(p, s, f->key, *f->dst, f->expected) == -1)
			return -1;
	}
	return 0;
}
