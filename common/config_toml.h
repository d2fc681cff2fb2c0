/*
 * The TOML that KES v0.1.0 – v0.7.2 read (go-toml v1), loaded into the same
 * libyaml document the YAML reader builds, so that one walker reads both.
 */
#ifndef KEYWARD_CONFIG_TOML_H
#define KEYWARD_CONFIG_TOML_H

#include <stddef.h>

#include "common/config_impl.h"

/*
 * Read text into p->doc, which must be uninitialised; p->doc is valid for
 * cfg_unload() whatever this returns. Tables become mappings, arrays
 * sequences; strings are quoted scalars tagged !!str, integers plain
 * decimal scalars tagged !!int (0x/0o/0b and '_' already resolved),
 * booleans "true"/"false" tagged !!bool. Every node carries its line.
 *
 * The reader is strict: UTF-8 without control characters, no key or table
 * defined twice, every string closed on its line (or by its closing
 * triple quote). Floats, dates and arrays of tables are refused with a
 * message: no KES setting ever had one. Returns 0 or -1 with the message
 * in p (file:line: toml: what; expected what).
 */
int	 cfg_load_toml(struct cfg_parser *p, const char *text, size_t len);

#endif
