/*
 * KES's older configuration layouts (v0.1 – v0.21), rewritten in place into
 * the current schema before the walker reads the document.
 */
#ifndef KEYWARD_CONFIG_LEGACY_H
#define KEYWARD_CONFIG_LEGACY_H

#include <stdbool.h>

#include "common/config_impl.h"

/*
 * Translate p->doc; each old spelling read becomes a warning naming its
 * line and the current spelling. toml: the file was TOML, whose keys KES
 * matched without regard to case and whose integer durations counted
 * nanoseconds. Returns 0, or -1 with the message in p (a setting spelled
 * both ways, or one keyward cannot serve, such as kms:).
 */
int	 cfg_legacy_translate(struct cfg_parser *p, bool toml);

#endif
