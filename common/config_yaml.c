/*
 * Reading typed values out of a libyaml document for the config parser:
 * sections with known keys, ${VAR} substitution, and messages that name the
 * file, line and dotted field path.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Keys come from the file: keep control characters out of messages. */
void
cfg_join(char *dst, const char *path, const char *key)
{
	char	*k;

	if (path[0] == '\0')
		cfg_pathf(dst, "%s", key);
	else
		cfg_pathf(dst, "%s.%s", path, key);
	for (k = dst; *k != '\0'; k++)
		if (!isprint((unsigned char)*k))
			*k = '?';
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

/*
 * Keys that some KES release accepted (spec keystores-cloud-and-legacy-
 * config.md §7.3, §7.5) in a section whose current readers do not list
 * them: known, so an old file is not refused for them, but not read.
 */
static const struct {
	const char	*path;
	const char	*why;
} legacy_keys[] = {
	{ "keystore.vault.address", "KES v0.4.1 to v0.7.2 spelling; "
	    "keyward reads keystore.vault.endpoint" },
	{ "keystore.vault.name", "KES v0.4.1 to v0.7.2 spelling; keyward "
	    "reads keystore.vault.prefix" },
	{ "keystore.aws.secrets_manager", "KES v0.4.1 to v0.7.2 spelling; "
	    "keyward reads keystore.aws.secretsmanager" },
	{ NULL, NULL }
};

/* Sections where a misspelt key changes what is protected, or how. */
static bool
strict_path(const char *path)
{
	static const char *const strict[] = {
		"tls", "admin", "policy", "keystore", "server", NULL
	};
	size_t	 i, n;

	for (i = 0; strict[i] != NULL; i++) {
		n = strlen(strict[i]);
		if (strncmp(path, strict[i], n) == 0 &&
		    (path[n] == '\0' || path[n] == '.'))
			return true;
	}
	return false;
}

/* Optimal string alignment distance: a swap of neighbours counts 1. */
static size_t
edit_distance(const char *a, const char *b)
{
	size_t	 d[3][CFG_PATHLEN + 1];
	size_t	 la = strlen(a), lb = strlen(b), i, j, c, v;

	if (la > CFG_PATHLEN || lb > CFG_PATHLEN)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		size_t *cur = d[i % 3], *prev = d[(i + 2) % 3],
		    *pprev = d[(i + 1) % 3];

		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			c = tolower((unsigned char)a[i - 1]) ==
			    tolower((unsigned char)b[j - 1]) ? 0 : 1;
			v = prev[j - 1] + c;
			if (prev[j] + 1 < v)
				v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pprev[j - 2] + 1 < v)
				v = pprev[j - 2] + 1;
			cur[j] = v;
		}
	}
	return d[la % 3][lb];
}

/* The known key nearest to key, or NULL when none is near enough to be
 * what was meant: at most a third of the longer one's letters (or 2)
 * apart, else the one key begins with. */
static const char *
nearest_key(const char *key, const char *const known[])
{
	const char	*best = NULL;
	size_t		 i, d, bestd = SIZE_MAX, len, limit;

	for (i = 0; known[i] != NULL; i++) {
		d = edit_distance(key, known[i]);
		len = strlen(key) > strlen(known[i]) ? strlen(key) :
		    strlen(known[i]);
		limit = len / 3 > 2 ? len / 3 : 2;
		if (d <= limit && d < bestd) {
			bestd = d;
			best = known[i];
		}
	}
	/* ca_file for ca, endpoint_url for endpoint. */
	for (i = 0; best == NULL && known[i] != NULL; i++)
		if (strlen(known[i]) >= 2 &&
		    strncasecmp(key, known[i], strlen(known[i])) == 0)
			best = known[i];
	return best;
}

/*
 * A key the section does not know: an error in the sections where a
 * silently ignored key weakens the server (tls.auht leaves client
 * verification off, keystore.seal left keys unsealed), a warning
 * elsewhere, as KES's own readers ignored unknown keys. Either names the
 * nearest known spelling.
 */
static int
unknown_key(struct cfg_parser *p, const yaml_node_t *k, const char *path,
    const char *kpath, const char *const known[])
{
	const char	*near, *key = (const char *)k->data.scalar.value;
	char		 hint[CFG_PATHLEN + 32], list[CONFIG_ERRLEN / 2];
	size_t		 i, n = 0;
	int		 r;

	for (i = 0; legacy_keys[i].path != NULL; i++)
		if (strcmp(kpath, legacy_keys[i].path) == 0) {
			cfg_warn(p, cfg_line(k), NULL, "key '%s' ignored: %s",
			    kpath, legacy_keys[i].why);
			return 0;
		}
	hint[0] = '\0';
	if ((near = nearest_key(key, known)) != NULL)
		(void)snprintf(hint, sizeof(hint), ", did you mean `%s`?",
		    near);
	if (!strict_path(path)) {
		cfg_warn(p, cfg_line(k), NULL, "unknown key '%s' ignored%s",
		    kpath, hint);
		return 0;
	}
	list[0] = '\0';
	for (i = 0; known[i] != NULL && n < sizeof(list); i++) {
		r = snprintf(list + n, sizeof(list) - n, "%s%s",
		    i > 0 ? ", " : "", known[i]);
		if (r < 0)
			break;
		n += (size_t)r;
	}
	return cfg_error(p, cfg_line(k), kpath, "unknown key%s; expected "
	    "one of %s (a key this section does not know is refused, so "
	    "that a misspelt security setting is never ignored)", hint,
	    list);
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
		if (known != NULL && !key_known(k, known) &&
		    unknown_key(p, k, path, kpath, known) == -1)
			return -1;
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
	if ((env = getenv(name)) == NULL && p->env_empty) {
		cfg_warn(p, cfg_line(n), path, "environment variable '%s' is "
		    "not set; read as empty, as KES before v0.22 read it "
		    "(keyward server --strict-env refuses it)",
		    cfg_quote(name, q, sizeof(q)));
		*out = "";
		return 0;
	}
	if (env == NULL)
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
    const char *key, uint64_t *ms)
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

/*
 * The loader. libyaml's own (yaml_parser_load) has no depth limit, and its
 * scanner does work proportional to the flow depth for every token, so a
 * file of a million '[' takes half an hour to reject. Building the
 * document from events stops at CFG_MAXDEPTH instead, and lets every
 * scalar be wiped as soon as it is copied.
 */
struct cfg_level {
	int	 node;
	int	 key;		/* mapping: a key waiting for its value */
	bool	 seq;
};

struct cfg_anchor {
	char	*name;
	int	 node;
};

struct cfg_loader {
	struct cfg_parser	*p;
	yaml_document_t		*doc;
	struct cfg_level	 stack[CFG_MAXDEPTH];
	size_t			 depth;
	struct cfg_anchor	*anchors;
	size_t			 nanchors;
};

static int
syntax_error(struct cfg_parser *p, const yaml_parser_t *y, const char *text,
    size_t len)
{
	const char	*problem = y->problem ? y->problem : "syntax error";
	size_t		 line, i;

	if (y->error == YAML_MEMORY_ERROR)
		return cfg_error(p, 1, "yaml", "out of memory; expected a "
		    "smaller file");
	if (y->error == YAML_READER_ERROR) {
		/* The reader reports a byte offset, not a mark. */
		for (line = 1, i = 0; i < y->problem_offset && i < len; i++)
			if (text[i] == '\n')
				line++;
		return cfg_error(p, line, "yaml", "%s; expected UTF-8 text "
		    "without control characters", problem);
	}
	line = y->problem_mark.line + 1;
	if (y->context != NULL)
		return cfg_error(p, line, "yaml", "%s (%s at line %zu); "
		    "expected valid YAML", problem, y->context,
		    y->context_mark.line + 1);
	return cfg_error(p, line, "yaml", "%s; expected valid YAML", problem);
}

/* "!" and no tag both mean the default one, as in libyaml's loader. */
static const yaml_char_t *
event_tag(yaml_char_t *tag)
{
	if (tag == NULL || strcmp((const char *)tag, "!") == 0)
		return NULL;
	return tag;
}

static int
attach(struct cfg_loader *l, const yaml_event_t *ev, int id)
{
	struct cfg_level	*top;
	int			 ok;

	if (l->depth == 0)
		return 0;	/* the root: the document's first node */
	top = &l->stack[l->depth - 1];
	if (top->seq)
		ok = yaml_document_append_sequence_item(l->doc, top->node, id);
	else if (top->key == 0) {
		top->key = id;
		return 0;
	} else {
		ok = yaml_document_append_mapping_pair(l->doc, top->node,
		    top->key, id);
		top->key = 0;
	}
	if (!ok)
		return cfg_error(l->p, ev->start_mark.line + 1, "yaml",
		    "out of memory; expected a smaller file");
	return 0;
}

static int
add_node(struct cfg_loader *l, const yaml_event_t *ev, int id,
    yaml_char_t *anchor)
{
	yaml_node_t	*n;

	if (id == 0)
		return cfg_error(l->p, ev->start_mark.line + 1, "yaml",
		    "cannot store a node (out of memory or bad UTF-8 in a "
		    "tag); expected a smaller file in UTF-8");
	n = yaml_document_get_node(l->doc, id);
	n->start_mark = ev->start_mark;
	n->end_mark = ev->end_mark;
	if (anchor != NULL) {
		l->anchors = xreallocarray(l->anchors, l->nanchors + 1,
		    sizeof(*l->anchors));
		l->anchors[l->nanchors].name = xstrdup((const char *)anchor);
		l->anchors[l->nanchors++].node = id;
	}
	return attach(l, ev, id);
}

static int
load_event(struct cfg_loader *l, yaml_event_t *ev)
{
	const char	*name;
	char		 q[CFG_QUOTELEN];
	size_t		 i;
	int		 id;

	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		id = yaml_document_add_scalar(l->doc,
		    event_tag(ev->data.scalar.tag), ev->data.scalar.value,
		    (int)ev->data.scalar.length, ev->data.scalar.style);
		return add_node(l, ev, id, ev->data.scalar.anchor);
	case YAML_ALIAS_EVENT:
		name = (const char *)ev->data.alias.anchor;
		/* The latest definition of a name wins. */
		for (i = l->nanchors; i > 0; i--)
			if (strcmp(l->anchors[i - 1].name, name) == 0)
				return attach(l, ev, l->anchors[i - 1].node);
		return cfg_error(l->p, ev->start_mark.line + 1, "yaml",
		    "alias '*%s' names no anchor; expected an anchor defined "
		    "before it", cfg_quote(name, q, sizeof(q)));
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		if (l->depth == CFG_MAXDEPTH)
			return cfg_error(l->p, ev->start_mark.line + 1, "yaml",
			    "nested more than %d levels deep; expected a "
			    "flatter file", CFG_MAXDEPTH);
		if (ev->type == YAML_SEQUENCE_START_EVENT)
			id = yaml_document_add_sequence(l->doc,
			    event_tag(ev->data.sequence_start.tag),
			    ev->data.sequence_start.style);
		else
			id = yaml_document_add_mapping(l->doc,
			    event_tag(ev->data.mapping_start.tag),
			    ev->data.mapping_start.style);
		if (add_node(l, ev, id, ev->type == YAML_SEQUENCE_START_EVENT ?
		    ev->data.sequence_start.anchor :
		    ev->data.mapping_start.anchor) == -1)
			return -1;
		l->stack[l->depth].node = id;
		l->stack[l->depth].key = 0;
		l->stack[l->depth++].seq = ev->type ==
		    YAML_SEQUENCE_START_EVENT;
		return 0;
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		if (l->depth > 0)
			l->depth--;
		return 0;
	default:
		return 0;
	}
}

int
cfg_load(struct cfg_parser *p, yaml_parser_t *y, const char *text,
    size_t len)
{
	struct cfg_loader	 l;
	yaml_event_t		 ev;
	size_t			 i, ndocs = 0;
	bool			 done = false;
	int			 rc = 0;

	if (!yaml_document_initialize(p->doc, NULL, NULL, NULL, 1, 1)) {
		memset(p->doc, 0, sizeof(*p->doc));
		return cfg_error(p, 1, "yaml", "out of memory; expected to "
		    "start a YAML document");
	}
	memset(&l, 0, sizeof(l));
	l.p = p;
	l.doc = p->doc;
	while (rc == 0 && !done) {
		if (!yaml_parser_parse(y, &ev)) {
			rc = syntax_error(p, y, text, len);
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT)
			done = true;
		else if (ev.type == YAML_DOCUMENT_START_EVENT && ndocs++ > 0)
			rc = cfg_error(p, ev.start_mark.line + 1, "yaml",
			    "a second YAML document; expected one document");
		else
			rc = load_event(&l, &ev);
		if (ev.type == YAML_SCALAR_EVENT)
			explicit_bzero(ev.data.scalar.value,
			    ev.data.scalar.length);
		yaml_event_delete(&ev);
	}
	for (i = 0; i < l.nanchors; i++)
		free(l.anchors[i].name);
	free(l.anchors);
	return rc;
}

/*
 * XXX libyaml frees its tokens without wiping them, so copies of secret
 * scalars may stay in freed heap memory; a reader with our own allocator
 * (yaml has no allocator hook) would close that.
 */
void
cfg_doc_free(yaml_document_t *d)
{
	yaml_node_t	*n;

	for (n = d->nodes.start; n != NULL && n < d->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value != NULL)
			explicit_bzero(n->data.scalar.value,
			    n->data.scalar.length);
	yaml_document_delete(d);
	memset(d, 0, sizeof(*d));
}

void
cfg_unload(yaml_parser_t *y, yaml_document_t *d)
{
	cfg_doc_free(d);
	if (y->buffer.start != NULL)
		explicit_bzero(y->buffer.start,
		    (size_t)(y->buffer.end - y->buffer.start));
	if (y->raw_buffer.start != NULL)
		explicit_bzero(y->raw_buffer.start,
		    (size_t)(y->raw_buffer.end - y->raw_buffer.start));
	yaml_parser_delete(y);
}
