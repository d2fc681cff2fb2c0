/*
 * KES's older configuration layouts, rewritten in the document into the
 * current schema before the walker reads it (shared/spec/keystores-cloud-
 * and-legacy-config.md §7.4–§7.5): `root`, `paths`, `cache.expiry.all`,
 * the `keys:` mapping, top-level `fs`/`vault`, the v0.4–v0.7 spellings
 * inside `keystore`, log file lists, an address with a scheme, and, for
 * TOML, go-toml's case-blind keys and integer durations. Each translation
 * is a warning naming the line, the old spelling and the current one; a
 * file that spells one setting both ways is refused.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_legacy.h"
#include "common/xmalloc.h"

/*
 * Adding a node may move every node (libyaml keeps them in one array), so
 * no yaml_node_t pointer is held across scalar(), key_scalar(), add() or
 * child(): nodes are named by id and looked up again.
 */
struct lg {
	struct cfg_parser	*p;
	yaml_document_t		*doc;
	bool			 toml;
};

static yaml_node_t *
nd(const struct lg *l, int id)
{
	return yaml_document_get_node(l->doc, id);
}

static bool
is_map(const struct lg *l, int id)
{
	return id != 0 && nd(l, id)->type == YAML_MAPPING_NODE;
}

static bool
is_seq(const struct lg *l, int id)
{
	return id != 0 && nd(l, id)->type == YAML_SEQUENCE_NODE;
}

/* The index of key's pair in mapping m, or -1. */
static long
find(const struct lg *l, int m, const char *key)
{
	yaml_node_t	*n = nd(l, m), *k;
	long		 i, npairs;

	npairs = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
	for (i = 0; i < npairs; i++) {
		k = nd(l, n->data.mapping.pairs.start[i].key);
		if (k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return i;
	}
	return -1;
}

static yaml_node_pair_t *
pair(const struct lg *l, int m, long i)
{
	return &nd(l, m)->data.mapping.pairs.start[i];
}

/* The value under key in m (0 if m is not a mapping or key is absent). */
static int
get(const struct lg *l, int m, const char *key)
{
	long	 i;

	if (!is_map(l, m) || (i = find(l, m, key)) == -1)
		return 0;
	return pair(l, m, i)->value;
}

static size_t
key_line(const struct lg *l, int m, const char *key)
{
	long	 i;

	if (!is_map(l, m) || (i = find(l, m, key)) == -1)
		return 1;
	return cfg_line(nd(l, pair(l, m, i)->key));
}

/* Values of type str are quoted (a "null" stays a string); keys plain. */
static int
scalar_styled(struct lg *l, const char *v, const char *tag, size_t line,
    yaml_scalar_style_t style)
{
	int	 id;

	id = yaml_document_add_scalar(l->doc, (const yaml_char_t *)tag,
	    (const yaml_char_t *)v, (int)strlen(v), style);
	if (id == 0)
		return cfg_error(l->p, line, "config", "out of memory; "
		    "expected a smaller file");
	nd(l, id)->start_mark.line = line - 1;
	return id;
}

static int
scalar(struct lg *l, const char *v, const char *tag, size_t line)
{
	return scalar_styled(l, v, tag, line, tag != NULL &&
	    strcmp(tag, YAML_STR_TAG) == 0 ? YAML_DOUBLE_QUOTED_SCALAR_STYLE :
	    YAML_PLAIN_SCALAR_STYLE);
}

static int
key_scalar(struct lg *l, const char *k, size_t line)
{
	return scalar_styled(l, k, YAML_STR_TAG, line,
	    YAML_PLAIN_SCALAR_STYLE);
}

static int
add(struct lg *l, int m, const char *key, int val, size_t line)
{
	int	 k;

	if ((k = key_scalar(l, key, line)) == -1)
		return -1;
	if (!yaml_document_append_mapping_pair(l->doc, m, k, val))
		return cfg_error(l->p, line, "config", "out of memory; "
		    "expected a smaller file");
	return 0;
}

static void
drop(struct lg *l, int m, long i)
{
	yaml_node_t	*n = nd(l, m);
	yaml_node_pair_t *p = n->data.mapping.pairs.start;
	long		 npairs = n->data.mapping.pairs.top - p;

	memmove(&p[i], &p[i + 1], (size_t)(npairs - i - 1) * sizeof(*p));
	n->data.mapping.pairs.top--;
}

/* The mapping under key in m, made (with the line given) if absent. */
static int
child(struct lg *l, int m, const char *key, size_t line)
{
	int	 v;

	/*
	 * The old spelling moves under a section the file also names: that
	 * section must be a mapping to take it (keystore: 3 beside fs:).
	 */
	if ((v = get(l, m, key)) != 0) {
		if (!is_map(l, v))
			return cfg_error(l->p, cfg_line(nd(l, v)), key,
			    "is %s; expected a mapping", cfg_kind(nd(l, v)));
		return v;
	}
	v = yaml_document_add_mapping(l->doc, NULL, YAML_BLOCK_MAPPING_STYLE);
	if (v == 0)
		return cfg_error(l->p, line, "config", "out of memory; "
		    "expected a smaller file");
	nd(l, v)->start_mark.line = line - 1;
	if (add(l, m, key, v, line) == -1)
		return -1;
	return v;
}

static void
note(struct lg *l, size_t line, const char *old, const char *now,
    const char *era)
{
	cfg_warn(l->p, line, NULL, "'%s' read as '%s' (%s)", old, now, era);
}

/* Both spellings of one setting: the file must say which it means. */
static int
both(struct lg *l, int m, const char *old, const char *now,
    const char *opath, const char *npath)
{
	return cfg_error(l->p, key_line(l, m, old), opath, "set, and so is "
	    "'%s' at line %zu; expected one of the two spellings (%s is the "
	    "current one)", npath, key_line(l, m, now), npath);
}

/*
 * key old → now inside mapping m (the paths are for messages). Returns 1
 * when renamed, 0 when old is absent, -1 after an error.
 */
static int
rename_key(struct lg *l, int m, const char *old, const char *now,
    const char *at, const char *era)
{
	char	 opath[CFG_PATHLEN], npath[CFG_PATHLEN];
	long	 i;
	int	 k;

	if (!is_map(l, m) || (i = find(l, m, old)) == -1)
		return 0;
	cfg_join(opath, at, old);
	cfg_join(npath, at, now);
	if (find(l, m, now) != -1)
		return both(l, m, old, now, opath, npath);
	if ((k = key_scalar(l, now, cfg_line(nd(l, pair(l, m, i)->key)))) ==
	    -1)
		return -1;
	pair(l, m, i)->key = k;
	note(l, cfg_line(nd(l, k)), opath, npath, era);
	return 1;
}

/* go-toml matched keys ignoring case; policy names are data, not keys. */
static int
lower_keys(struct lg *l, int m, bool names, size_t depth)
{
	yaml_node_t	*k;
	char		*low;
	size_t		 i, n;
	long		 j;
	int		 nk;

	if (depth > CFG_MAXDEPTH)
		return 0;
	n = (size_t)(nd(l, m)->data.mapping.pairs.top -
	    nd(l, m)->data.mapping.pairs.start);
	for (i = 0; i < n; i++) {
		k = nd(l, pair(l, m, (long)i)->key);
		if (!names && k->type == YAML_SCALAR_NODE) {
			low = xstrdup((const char *)k->data.scalar.value);
			for (j = 0; low[j] != '\0'; j++)
				low[j] = (char)tolower((unsigned char)low[j]);
			if (strcmp(low, (const char *)k->data.scalar.value)) {
				if (find(l, m, low) != -1) {
					free(low);
					return cfg_error(l->p, cfg_line(k),
					    "toml", "two keys differ only in "
					    "case; expected one (KES read "
					    "keys without regard to case)");
				}
				nk = key_scalar(l, low, cfg_line(k));
				if (nk == -1) {
					free(low);
					return -1;
				}
				pair(l, m, (long)i)->key = nk;
			}
			free(low);
		}
		if (is_map(l, pair(l, m, (long)i)->value) &&
		    lower_keys(l, pair(l, m, (long)i)->value, !names && depth
		    == 0 && strcmp((const char *)nd(l, pair(l, m,
		    (long)i)->key)->data.scalar.value, "policy") == 0,
		    depth + 1) == -1)
			return -1;
	}
	return 0;
}

/* TOML durations given as integers count nanoseconds (go-toml). */
static int
toml_durations(struct lg *l, int m, size_t depth)
{
	static const char *const dur[] = {
		"all", "any", "unused", "offline", "retry", "ping", NULL
	};
	yaml_node_pair_t	*pr;
	yaml_node_t		*k, *v;
	char			 ns[32];
	size_t			 i, n, j;
	int			 id;

	if (depth > CFG_MAXDEPTH)
		return 0;
	n = (size_t)(nd(l, m)->data.mapping.pairs.top -
	    nd(l, m)->data.mapping.pairs.start);
	for (i = 0; i < n; i++) {
		pr = pair(l, m, (long)i);
		if (is_map(l, pr->value)) {
			if (toml_durations(l, pr->value, depth + 1) == -1)
				return -1;
			continue;
		}
		k = nd(l, pr->key);
		v = nd(l, pr->value);
		if (v->type != YAML_SCALAR_NODE || v->tag == NULL ||
		    strcmp((const char *)v->tag, YAML_INT_TAG) != 0)
			continue;
		for (j = 0; dur[j] != NULL; j++)
			if (strcmp((const char *)k->data.scalar.value,
			    dur[j]) == 0)
				break;
		if (dur[j] == NULL)
			continue;
		if (v->data.scalar.value[0] == '-')
			return cfg_error(l->p, cfg_line(v), (const char *)
			    k->data.scalar.value, "a negative duration; "
			    "expected nanoseconds or a string such as "
			    "\"5m\"");
		(void)snprintf(ns, sizeof(ns), "%sns",
		    (const char *)v->data.scalar.value);
		if ((id = scalar(l, ns, YAML_STR_TAG, cfg_line(v))) == -1)
			return -1;
		pr->value = id;
	}
	return 0;
}

/* address = "https://127.0.0.1:7373" (KES v0.1.0's sample): the host. */
static int
address(struct lg *l, int root)
{
	const char	*v;
	long		 i;
	size_t		 skip;
	int		 id;

	if ((i = find(l, root, "address")) == -1 ||
	    nd(l, pair(l, root, i)->value)->type != YAML_SCALAR_NODE)
		return 0;
	v = (const char *)nd(l, pair(l, root, i)->value)->data.scalar.value;
	if (strncmp(v, "https://", 8) == 0)
		skip = 8;
	else if (strncmp(v, "http://", 7) == 0)
		skip = 7;
	else
		return 0;
	if ((id = scalar(l, v + skip, YAML_STR_TAG,
	    cfg_line(nd(l, pair(l, root, i)->value)))) == -1)
		return -1;
	cfg_warn(l->p, cfg_line(nd(l, id)), NULL, "'address' %.*s scheme "
	    "dropped (KES v0.1 wrote one; the address is IP:PORT)",
	    (int)skip - 3, v);
	pair(l, root, i)->value = id;
	return 0;
}

/* root: ID → admin: { identity: ID } */
static int
admin(struct lg *l, int root)
{
	long	 i;
	int	 a, val;
	size_t	 line;

	if ((i = find(l, root, "root")) == -1)
		return 0;
	if (find(l, root, "admin") != -1)
		return both(l, root, "root", "admin", "root",
		    "admin.identity");
	val = pair(l, root, i)->value;
	line = cfg_line(nd(l, pair(l, root, i)->key));
	drop(l, root, i);
	if ((a = child(l, root, "admin", line)) == -1 ||
	    add(l, a, "identity", val, line) == -1)
		return -1;
	note(l, line, "root", "admin.identity", "KES before v0.17.2");
	return 0;
}

/* policy.<n>.paths → allow */
static int
policies(struct lg *l, int root)
{
	char		 at[CFG_PATHLEN];
	int		 pol, m;
	long		 i;

	if (!is_map(l, pol = get(l, root, "policy")))
		return 0;
	/* No node pointer is kept: adding a node moves them all. */
	for (i = 0; i < nd(l, pol)->data.mapping.pairs.top -
	    nd(l, pol)->data.mapping.pairs.start; i++) {
		m = pair(l, pol, i)->value;
		cfg_join(at, "policy", (const char *)nd(l,
		    pair(l, pol, i)->key)->data.scalar.value);
		if (rename_key(l, m, "paths", "allow", at,
		    "KES before v0.15") == -1)
			return -1;
	}
	return 0;
}

/*
 * log.error / log.audit as { file: [..] } (v0.4.1 – v0.7.2): keyward logs
 * errors to stderr and audit lines to stdout, so the lists become on/off.
 */
static int
log_files(struct lg *l, int root)
{
	static const char *const which[] = { "error", "audit" };
	yaml_node_t	*s;
	char		 path[CFG_PATHLEN];
	size_t		 i, line;
	int		 lm, m, files, id;
	yaml_node_item_t *it;
	bool		 any;
	long		 j;

	if (!is_map(l, lm = get(l, root, "log")))
		return 0;
	for (i = 0; i < 2; i++) {
		if (!is_map(l, m = get(l, lm, which[i])))
			continue;
		line = key_line(l, lm, which[i]);
		cfg_pathf(path, "log.%s", which[i]);
		files = get(l, m, "file");
		if (nd(l, m)->data.mapping.pairs.top -
		    nd(l, m)->data.mapping.pairs.start != (files ? 1 : 0) ||
		    (files != 0 && !is_seq(l, files)))
			return cfg_error(l->p, line, path, "a mapping other "
			    "than { file: [..] }; expected on or off (or, as "
			    "KES v0.4 – v0.7 wrote it, a list of files)");
		any = false;
		if (files != 0)
			for (it = nd(l, files)->data.sequence.items.start;
			    it < nd(l, files)->data.sequence.items.top; it++) {
				s = nd(l, *it);
				if (s->type != YAML_SCALAR_NODE)
					return cfg_error(l->p, cfg_line(s),
					    path, "a list item that is not a "
					    "file name; expected file names");
				if (s->data.scalar.length > 0)
					any = true;
			}
		/* No file meant stderr for errors and no audit log. */
		if (i == 0 || any) {
			if ((id = scalar(l, "on", NULL, line)) == -1)
				return -1;
		} else if ((id = scalar(l, "off", NULL, line)) == -1)
			return -1;
		if (any)
			cfg_warn(l->p, line, NULL, "'%s.file' read as '%s: "
			    "on': keyward writes %s to %s, not to files (KES "
			    "v0.4 – v0.7 spelling)", path, path, i == 0 ?
			    "errors" : "audit lines", i == 0 ? "stderr" :
			    "stdout");
		else
			note(l, line, path, i == 0 ? "log.error: on" :
			    "log.audit: off", "KES v0.4 – v0.7 spelling");
		j = find(l, lm, which[i]);
		pair(l, lm, j)->value = id;
	}
	return 0;
}

/* The v0.1 – v0.7 spellings inside keystore.vault and keystore.aws. */
static int
store_fields(struct lg *l, int ks)
{
	static const char old_era[] = "KES v0.1 – v0.7 spelling";
	int	 v, aws, sm, cred, r;

	v = get(l, ks, "vault");
	if (rename_key(l, v, "address", "endpoint", "keystore.vault",
	    old_era) == -1 ||
	    rename_key(l, v, "name", "prefix", "keystore.vault",
	    old_era) == -1)
		return -1;
	aws = get(l, ks, "aws");
	if ((r = rename_key(l, aws, "secrets_manager", "secretsmanager",
	    "keystore.aws", old_era)) == -1)
		return -1;
	sm = get(l, aws, "secretsmanager");
	if (rename_key(l, sm, "address", "endpoint",
	    "keystore.aws.secretsmanager", old_era) == -1 ||
	    rename_key(l, sm, "kms_key_id", "kmskey",
	    "keystore.aws.secretsmanager", old_era) == -1)
		return -1;
	cred = get(l, sm, "credentials");
	if (rename_key(l, cred, "access_key", "accesskey",
	    "keystore.aws.secretsmanager.credentials", old_era) == -1 ||
	    rename_key(l, cred, "secret_key", "secretkey",
	    "keystore.aws.secretsmanager.credentials", old_era) == -1 ||
	    rename_key(l, cred, "session_token", "token",
	    "keystore.aws.secretsmanager.credentials", old_era) == -1)
		return -1;
	return 0;
}

/*
 * The key store's section: keystore (v0.4.1 – v0.7.2, v0.13.6+), keys as a
 * mapping (v0.8.0 – v0.13.5), or top-level fs / vault (v0.1.0 – v0.4.0).
 */
static int
keystore(struct lg *l, int root)
{
	static const char *const top[] = { "fs", "vault" };
	char	 what[CFG_PATHLEN];
	int	 ks, keys, val;
	size_t	 i, line;
	long	 j;

	ks = get(l, root, "keystore");
	keys = get(l, root, "keys");
	if (is_map(l, keys)) {
		if (ks != 0)
			return both(l, root, "keys", "keystore", "keys",
			    "keystore");
		if (rename_key(l, root, "keys", "keystore", "",
		    "KES v0.8 – v0.13.5") == -1)
			return -1;
		ks = get(l, root, "keystore");
	}
	for (i = 0; i < 2; i++) {
		if ((j = find(l, root, top[i])) == -1)
			continue;
		line = cfg_line(nd(l, pair(l, root, j)->key));
		cfg_pathf(what, "keystore.%s", top[i]);
		if (ks != 0 && get(l, ks, top[i]) != 0)
			return cfg_error(l->p, line, top[i], "set, and so is "
			    "'%s'; expected one of the two spellings (%s is "
			    "the current one)", what, what);
		val = pair(l, root, j)->value;
		drop(l, root, j);
		if ((ks = child(l, root, "keystore", line)) == -1 ||
		    add(l, ks, top[i], val, line) == -1)
			return -1;
		note(l, line, top[i], what, "KES v0.1 – v0.4.0");
	}
	if (is_map(l, ks))
		return store_fields(l, ks);
	return 0;
}

/* Which KES releases wrote this layout, if an old one (§7.1, §7.3). */
static const char *
layout(const struct lg *l, int root, bool toml)
{
	int	 pol, ks;
	bool	 paths = false;
	long	 i;

	if (toml)
		return get(l, root, "fs") != 0 || get(l, root, "vault") != 0 ?
		    "KES v0.1.0 – v0.4.0 (TOML)" : "KES v0.4.1 – v0.7.2 (TOML)";
	if (is_map(l, get(l, root, "keys")))
		return "KES v0.8.0 – v0.13.5";
	if (get(l, root, "fs") != 0 || get(l, root, "vault") != 0)
		return "KES v0.3.0 – v0.4.0";
	ks = get(l, root, "keystore");
	if (is_map(l, get(l, get(l, ks, "aws"), "secrets_manager")) ||
	    get(l, get(l, ks, "vault"), "address") != 0 ||
	    get(l, get(l, get(l, root, "cache"), "expiry"), "all") != 0)
		return "KES v0.4.1 – v0.7.2";
	if (is_map(l, pol = get(l, root, "policy")))
		for (i = 0; i < nd(l, pol)->data.mapping.pairs.top -
		    nd(l, pol)->data.mapping.pairs.start; i++)
			if (get(l, pair(l, pol, i)->value, "paths") != 0)
				paths = true;
	if (paths)
		return "KES v0.13.6 – v0.14";
	if (get(l, root, "root") != 0)
		return "KES v0.15.0 – v0.17.1";
	return NULL;
}

int
cfg_legacy_translate(struct cfg_parser *p, bool toml)
{
	struct lg	 l;
	yaml_node_t	*r;
	const char	*era;
	int		 root, c, e;

	memset(&l, 0, sizeof(l));
	l.p = p;
	l.doc = p->doc;
	l.toml = toml;
	if ((r = yaml_document_get_root_node(p->doc)) == NULL ||
	    r->type != YAML_MAPPING_NODE)
		return 0;	/* the walker says what is wrong */
	root = (int)(r - p->doc->nodes.start) + 1;
	if (get(&l, root, "kms") != 0)
		return cfg_error(p, key_line(&l, root, "kms"), "kms",
		    "KES v0.7's value wrapping with a second KMS is not "
		    "supported; expected the key store alone under "
		    "keystore (move the wrapped keys first)");
	if (toml && (lower_keys(&l, root, false, 0) == -1 ||
	    toml_durations(&l, root, 0) == -1))
		return -1;
	p->env_empty = (era = layout(&l, root, toml)) != NULL &&
	    !cfg_strict_env;
	if (era != NULL)
		cfg_warn(p, 1, NULL, "the layout of %s: its old spellings are "
		    "read as today's (each below); `keyward server --config "
		    "FILE --print-config` writes it in today's layout", era);
	if (address(&l, root) == -1 || admin(&l, root) == -1 ||
	    policies(&l, root) == -1 || log_files(&l, root) == -1 ||
	    keystore(&l, root) == -1)
		return -1;
	/* cache.expiry.all (v0.1 – v0.7) → any */
	c = get(&l, root, "cache");
	e = get(&l, c, "expiry");
	if (rename_key(&l, e, "all", "any", "cache.expiry",
	    "KES before v0.8") == -1)
		return -1;
	return 0;
}
