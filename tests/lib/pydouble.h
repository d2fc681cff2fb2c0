/*
 * The in-tree test doubles (tests/doubles/: HashiCorp Vault,
 * CipherTrust Manager), started from a C test: python3 runs the script in
 * the double's own directory (its PKI, state and log live there), the
 * script writes its two ports to files once it listens, and knobs are
 * plain HTTP on its control port.
 */
#ifndef KEYWARD_TESTS_PYDOUBLE_H
#define KEYWARD_TESTS_PYDOUBLE_H

#include <sys/types.h>

#include <limits.h>
#include <stddef.h>

struct pydouble {
	char	dir[PATH_MAX];	/* working directory, made by the test */
	pid_t	pid;
	int	port, cport;	/* TLS API, plain-HTTP control */
};

/*
 * Start `python3 script args...` (script relative to the repository or
 * absolute; args NULL-terminated) in d->dir and wait up to 15 s for the
 * files portfile and cportfile (in d->dir) to hold its ports. 0, or -1
 * with why.
 */
int	pydouble_start(struct pydouble *, const char *script,
	    const char *const *args, const char *portfile,
	    const char *cportfile, char *why, size_t whylen);
/* SIGTERM and wait (the double flushes its state); then, unless
 * KEYWARD_TEST_KEEP is set, remove its directory. */
void	pydouble_stop(struct pydouble *);
void	pydouble_remove(struct pydouble *);
/* One request on the control port: the HTTP status (-1 if none), the
 * body in out. */
int	pydouble_ctl(const struct pydouble *, const char *method,
	    const char *path, const char *body, char *out, size_t outlen);

#endif
