/*
 * Staged values of the store-wide migration (seal_migrate.c): a store
 * without an atomic replace (Vault KV, any store behind backend.h) gets
 * a value's new form under a staging name first, so that no instant
 * exists at which a key has no readable copy. The staging name is
 * derived from the key's name, and the staged record names the key it
 * belongs to:
 *   staging name  "kwseal-stage-" hex(SHA-256(name))   (77 characters,
 *                 a valid KES name, so every store takes it)
 *   record        "kwstage:v1:" name ":" value
 * The agent's seal layer reads a key whose name is missing from its
 * staged copy (seal.c), which covers the moment between deleting the
 * old form and creating the new one.
 */
#ifndef KEYWARD_KS_SEAL_STAGE_H
#define KEYWARD_KS_SEAL_STAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define SEAL_STAGE_PREFIX	"kwseal-stage-"
#define SEAL_STAGE_NAME_LEN	(13 + 64)

/* The staging name of name into out. */
void	seal_stage_name(const char *name, char out[SEAL_STAGE_NAME_LEN + 1]);
bool	seal_is_stage_name(const char *);
/* The record for name and value into out (reset first); -1: too large. */
int	seal_stage_encode(struct buf *out, const char *name,
	    const uint8_t *v, size_t len);
/*
 * Split a record: *name (NUL-terminated copy in namebuf) and the value
 * (a pointer into rec). -1 when it is not a record or the name is not a
 * valid key name.
 */
int	seal_stage_decode(const uint8_t *rec, size_t len, char *namebuf,
	    size_t namelen, const uint8_t **v, size_t *vlen);

#endif
