/*
 * Inside `keyward seal` (seal_cmd.c): the token opened in the operator's
 * process and one value sealed or opened there, for the migration of a
 * store through its interface (seal_migrate.c).
 */
#ifndef KEYWARD_KS_SEAL_CMD_H
#define KEYWARD_KS_SEAL_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_p11.h"

struct cmd {
	struct seal_conf	*cf;
	char			*file;		/* the configuration */
	char			*store;		/* keystore.fs.path, or NULL */
	struct p11		 p;
	CK_OBJECT_HANDLE	 key;
	CK_OBJECT_HANDLE	 old[16];
	size_t			 nold;
	unsigned int		 sealed, unsealed, skipped;
};

/* The PIN (pin, or pin_file read now), a copy to wipe. */
char	*cmd_pin(const struct seal_conf *);
/* Load the module, log in (the PIN is wiped and freed), find the keys
 * (need: the key must exist). */
void	cmd_open(struct cmd *, bool rw);
void	cmd_open_pin(struct cmd *, char *pin, bool rw);
int	cmd_keys(struct cmd *, bool need);
/* Seal v for name into out (reset first); open a sealed v for name,
 * appending to out (-1 with why). */
int	cmd_seal_value(struct cmd *, const char *name, const uint8_t *v,
	    size_t len, struct buf *out);
int	cmd_unseal_value(struct cmd *, const char *name, const uint8_t *v,
	    size_t len, struct buf *out, const char **why);

/* seal_migrate.c: seal (or unseal) every value of the configured store
 * through its interface (backend.h). */
int	seal_migrate_store(struct cmd *, bool seal);

#endif
