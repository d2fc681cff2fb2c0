/*
 * The agent's helper: a small process forked and exec'd by the agent
 * after its privilege drop and before its filter (as chrony forks its
 * resolver), so that what needs the file system stays out of the
 * sandboxed agent:
 *   - host names, through the system resolver (NSS: /etc/hosts,
 *     /etc/resolv.conf, nscd), answered as numeric addresses;
 *   - the few files a store must re-read while running (a Kubernetes
 *     service-account token), limited to the paths named at start.
 * It runs as the agent's user, holds no store credential, and talks to
 * the agent over one socketpair registered on the agent's event loop;
 * it exits when the agent goes away.
 */
#ifndef KEYWARD_KS_HELPER_H
#define KEYWARD_KS_HELPER_H

#include <stddef.h>
#include <stdint.h>

/*
 * Fork the helper; files: the only paths it will read later
 * (NULL-terminated, may be NULL). Call once, before the filter. 0 or -1
 * with err.
 */
int	helper_start(const char *const *files, char *err, size_t errlen);

/* The keyward binary the helper is exec'd from (default /proc/self/exe;
 * a test that is not keyward names the build's). */
void	helper_set_program(const char *path);
/* `keyward helper AGENT_PID FILE...` (keyward.c): the helper's side. */
int	helper_role_main(int argc, char **argv);

/*
 * Resolve host for port: on success err is 0 and addrs a comma-separated
 * list of numeric addresses ("192.0.2.1,2001:db8::1", IPv6 without
 * brackets); else err is an EAI_* or errno value and detail says why.
 * The callback runs from the event loop, once.
 */
typedef void	(*helper_addr_cb)(int err, const char *addrs,
		    const char *detail, void *arg);
void	helper_resolve(const char *host, unsigned int port, helper_addr_cb,
	    void *arg);

/*
 * Read one of the files named at start (at most 64 KiB). data is wiped
 * and freed after the callback returns; copy what you keep.
 */
typedef void	(*helper_file_cb)(int err, const uint8_t *data, size_t len,
		    const char *detail, void *arg);
void	helper_read_file(const char *path, helper_file_cb, void *arg);

#endif
