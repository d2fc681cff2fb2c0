/*
 * Azure Key Vault's JSON (secrets, api-version 7.5; spec §3.3, §3.4):
 * the parsers of every answer the store reads. Pure functions: no
 * network, no state; tests/fuzz/fuzz_azure.c feeds them hostile bytes.
 */
#ifndef KEYWARD_KS_AZURE_JSON_H
#define KEYWARD_KS_AZURE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AZ_DETAIL_MAX	200
#define AZ_ID_MAX	2048

/* {"error":{"code","message","innererror":{"code"}}}: each made
 * printable into its buffer ("" when absent or not JSON). */
void	az_parse_error(const uint8_t *, size_t, char *code, size_t,
	    char *inner, size_t, char *msg, size_t);

/*
 * A secret bundle: *value (malloc'ed, NUL-terminated; freezero(*value,
 * *vlen + 1)) when usable at time now (Unix seconds). 1 with why =
 * "ObjectIsDisabled", "ObjectMustNotBeUsed" or "ObjectIsExpired" when
 * not usable (§3.4), -1 with why when malformed.
 */
int	az_parse_bundle(const uint8_t *, size_t, int64_t now, char **value,
	    size_t *vlen, char *why, size_t);

/*
 * A versions page: the version (last segment of id) with the smallest
 * attributes.created, ties to the first listed, entries without id or
 * created skipped (*version NULL when none; malloc'ed); *more when
 * nextLink is a non-empty string. 0 or -1 with why.
 */
int	az_parse_versions(const uint8_t *, size_t, char **version,
	    bool *more, char *why, size_t);

/* A secrets page: each name (last segment of id) to cb (-1 stops with
 * -1); *next the nextLink (malloc'ed; NULL when none). 0 or -1. */
int	az_parse_list(const uint8_t *, size_t,
	    int (*cb)(const char *, void *), void *, char **next, char *why,
	    size_t);

#endif
