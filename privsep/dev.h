/*
 * `keyward server --dev`: a throw-away CA, server certificate, admin API
 * key (and a client certificate made from it) and filesystem key store in
 * a new /tmp/keyward-dev.* directory, which the parent removes when it
 * stops. For trying keyward out; never for production.
 */
#ifndef KEYWARD_DEV_H
#define KEYWARD_DEV_H

#include <stdbool.h>

#include "common/config.h"
#include "privsep/devpki.h"

/* Create the files; returns the configuration to serve. addr may be NULL
 * (the default address). Dies on any failure. */
struct config	*dev_setup(const char *addr, bool root, struct devpki *);
/* Print where the files are and commands that work when pasted. */
void		 dev_print(const struct config *, const struct devpki *);

#endif
