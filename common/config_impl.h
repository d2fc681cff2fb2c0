/*
 * Shared by the config_*.c files only: the parse state and the helpers that
 * read typed values out of a libyaml document while keeping track of the
 * dotted field path and line every message must name.
 *
 * Every helper returns 0 or -1. On -1 the one error message has already been
 * written; callers just pass -1 up. Absent keys and YAML nulls leave the
 * output untouched, so defaults are set before parsing.
 */
#ifndef KEYWARD_CONFIG_IMPL_H
#define KEYWARD_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <yaml.h>

#include "common/config.h"

#define CFG_PATHLEN	256
#define CFG_MAXDEPTH	64	/* the schema needs 6 */

struct cfg_parser {
	const char	*file;
	yaml_document_t	*doc;
	struct config	*cfg;
	char		*err;
	size_t		 errlen;
	bool		 failed;	/* err holds the first error */
	bool		 env_empty;	/* a layout of KES before v0.22: a
					 * missing ${VAR} reads as empty */
};

/* config_set_strict_env(): a missing ${VAR} is an error in every layout. */
extern bool	 cfg_strict_env;

/*
 * A mapping being read: its node (NULL when the key is absent or null), its
 * dotted path, and the line to blame for anything missing from it.
 */
struct cfg_sect {
	yaml_node_t	*map;
	size_t		 line;
	char		 path[CFG_PATHLEN];
};

/*
 * Read the whole stream into p->doc, which must be uninitialised: one
 * document at most, nesting limited, scalars wiped as the events go.
 * p->doc is valid for cfg_unload() whatever this returns.
 */
int	 cfg_load(struct cfg_parser *, yaml_parser_t *, const char *text,
	    size_t len);
/* Wipe and free the document and the parser's buffers. */
void	 cfg_unload(yaml_parser_t *, yaml_document_t *);
/* Wipe and free the document alone. */
void	 cfg_doc_free(yaml_document_t *);

/* Messages. cfg_error always returns -1. */
int	 cfg_error(struct cfg_parser *, size_t line, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void	 cfg_warn(struct cfg_parser *, size_t line, const char *path,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

size_t	 cfg_line(const yaml_node_t *);
bool	 cfg_is_null(const yaml_node_t *);
const char *cfg_kind(const yaml_node_t *);
void	 cfg_join(char *dst, const char *path, const char *key);
/* Format a path into dst[CFG_PATHLEN]; a truncated path is still useful. */
void	 cfg_pathf(char *dst, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* A value made safe to quote in a message: printable, at most 64 bytes. */
const char *cfg_quote(const char *, char *buf, size_t len);
#define CFG_QUOTELEN	80

/*
 * Sections. `known` lists the keys the section may hold (NULL-terminated);
 * anything else is warned about. Duplicate keys and non-scalar keys are
 * errors.
 */
int	 cfg_sect_node(struct cfg_parser *, yaml_node_t *, size_t line,
	    const char *path, const char *const known[], struct cfg_sect *);
int	 cfg_sect_open(struct cfg_parser *, const struct cfg_sect *parent,
	    const char *key, const char *const known[], struct cfg_sect *);
/* The value under key (NULL if absent); *keyline gets the key's line. */
yaml_node_t *cfg_lookup(const struct cfg_parser *, const struct cfg_sect *,
	    const char *key, size_t *keyline);
/* Warn that a key is read by older KES versions only. */
void	 cfg_legacy(struct cfg_parser *, const struct cfg_sect *,
	    const char *key, const char *why);

/*
 * The text of a scalar node, after ${VAR} substitution when subst is set.
 * The pointer is into the document or the environment: copy it.
 */
int	 cfg_scalar(struct cfg_parser *, yaml_node_t *, const char *path,
	    bool subst, const char **);

/* Typed getters, all with ${VAR} substitution. */
int	 cfg_get_str(struct cfg_parser *, const struct cfg_sect *,
	    const char *key, char **);
int	 cfg_get_bool(struct cfg_parser *, const struct cfg_sect *,
	    const char *key, bool *);
int	 cfg_get_duration(struct cfg_parser *, const struct cfg_sect *,
	    const char *key, uint64_t *ms);
int	 cfg_get_list(struct cfg_parser *, const struct cfg_sect *,
	    const char *key, bool subst, char ***, size_t *);
/* Error unless val is set and non-empty. */
int	 cfg_require(struct cfg_parser *, const struct cfg_sect *,
	    const char *key, const char *val, const char *expected);

/*
 * Several string fields of one section at once, read in order; a field
 * with `expected` set is required to be non-empty. Ends at key == NULL.
 */
struct cfg_field {
	const char	 *key;
	char		**dst;
	const char	 *expected;
};
int	 cfg_get_fields(struct cfg_parser *, const struct cfg_sect *,
	    const struct cfg_field *);

void	 cfg_strv_free(char **, size_t);

/* config_value.c: true/false, yes/no, on/off in any case. */
int	 cfg_parse_bool(const char *, bool *);

/* keystore-agent/store_conf.c: the keystore: section, each store parsing
 * its own (struct ks_backend, keystore-agent/backend.h). */
int	 cfg_parse_keystore(struct cfg_parser *, const struct cfg_sect *root);
void	 cfg_keystore_free(struct keystore_cfg *);

#endif
