/*
 * The names KES accepts for keys, policies and identities, and the patterns
 * it accepts for listing them (spec/kes-compat.md §1.5, KES auth.go
 * validName / validPattern). A key name becomes a file name in the fs store
 * and a path element at every other store, so every process that uses one
 * re-checks it here.
 */
#ifndef KEYWARD_NAMES_H
#define KEYWARD_NAMES_H

#include <stdbool.h>

#define KES_NAME_MAX	80	/* bytes, as in KES */
#define KES_IDENTITY_HEXLEN 64	/* hex SHA-256 of a SubjectPublicKeyInfo */

/* 1-80 of [0-9A-Za-z_-], not "_" alone, no '-' first or last. */
bool	 kes_valid_name(const char *);
/*
 * What KES before 2023-11 allowed (1-80 of [0-9A-Za-z_-], '-' anywhere,
 * "_" and "-" alone): keys of that time are still described, used, listed
 * and deleted; only creating one needs kes_valid_name.
 */
bool	 kes_legacy_name(const char *);
/* "" or "*", or up to 80 of [0-9A-Za-z_-] with an optional '*' last. */
bool	 kes_valid_pattern(const char *);
/* Exactly 64 lowercase hex digits: the form a certificate identity has. */
bool	 kes_is_hex_identity(const char *);

/*
 * The crypto process (of n, server.crypto) that serves a key name: every
 * worker sends every request for one key to the same one, so each key is
 * fetched and cached by exactly one of them. FNV-1a, the same in every
 * process and every build.
 */
unsigned int	 kes_name_shard(const char *, unsigned int n);

#endif
