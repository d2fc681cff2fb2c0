/*
 * The key listing every store shares (spec 3.3, KES keystore.go List): a
 * store hands over its names in any order; they are sorted bytewise, those
 * that start with the prefix are kept, and one page with every name (up
 * to what a frame holds, common/msg.h) goes back with the first name not
 * returned, if any.
 */
#ifndef KEYWARD_KS_LIST_H
#define KEYWARD_KS_LIST_H

#include <stddef.h>

#include "common/buf.h"

struct ks_names {
	char		**v;
	size_t		  n;
	size_t		  cap;
	const char	 *prefix;	/* borrowed */
};

void	ks_names_init(struct ks_names *, const char *prefix);
/*
 * Called for each name a store lists (ks_op_name, backend.h), arg is the
 * struct ks_names:
 * keeps a copy of name if it starts with the prefix and is a valid key
 * name (common/names.h). Other entries (a Vault folder, a legacy name the
 * agent would refuse to read) are not keys a client can use; skipped.
 */
int	ks_names_add(const char *name, void *arg);
void	ks_names_free(struct ks_names *);
/*
 * Sort the kept names and append the MSG_KS_NAMES payload: u32 n, n x str
 * name (the first in byte order, at most max of them and at most `bytes`
 * of payload for them), str continue_at (the first name left out; "" when
 * none). -1 if out is too small.
 */
int	ks_names_page(struct ks_names *, size_t max, size_t bytes,
	    struct buf *out);

#endif
