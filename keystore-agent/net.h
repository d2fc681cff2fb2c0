/*
 * The agent's HTTPS client for network key stores (Vault now; CipherTrust
 * and the cloud stores later): libcurl's multi interface driven by the
 * agent's event loop (common/ev.h: socket and timer callbacks), so any
 * number of requests are in flight while the loop serves other calls.
 *
 * One struct net_client per store endpoint. It keeps its connections
 * alive between requests (HTTP/2 where the server offers it through
 * ALPN), speaks TLS through OpenSSL with the CA, client certificate and
 * key given in memory (the agent reads no file once its filter is on),
 * and never asks the system resolver: host names are resolved by the
 * agent's helper process (helper.h), forked before the filter, and
 * handed to curl as fixed addresses, refreshed every NET_RESOLVE_MS and
 * after a connection failure. An IP literal needs no resolution.
 *
 * A request has a deadline for each attempt and a retry policy; it
 * completes exactly once through its callback, unless cancelled first.
 * The store owns the bodies it passes (it wipes secrets after the
 * request is done or cancelled); header values passed in are copied and
 * the copies wiped when the request is freed. An answer comes with its
 * status, body and headers (net_resp_header()).
 *
 * Start-up order in the agent: net_global_init() after the privilege
 * drop and before the filter (curl reads its configuration and OpenSSL
 * its own then), net_client_new() in the store's init step, likewise
 * before the filter. net_rules[] are the syscalls a network store adds
 * to the agent's filter.
 */
#ifndef KEYWARD_KS_NET_H
#define KEYWARD_KS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/sandbox.h"

#define NET_RESOLVE_MS		60000	/* re-resolve a host name at least
					 * this often */
#define NET_BODY_MAX		(32u << 20)	/* an answer larger is a
					 * failure (Vault's own limit) */

/* What went wrong below HTTP; NET_OK when an HTTP status was received. */
enum net_fail {
	NET_OK = 0,
	NET_REFUSED,		/* connect failed: refused, unreachable */
	NET_TIMEOUT,		/* the attempt's deadline passed */
	NET_DNS,		/* the name did not resolve */
	NET_TLS,		/* handshake failed (not verification) */
	NET_TLS_VERIFY,		/* the server's certificate was refused */
	NET_IO,			/* reset, truncated answer, protocol error */
	NET_TOO_LARGE,		/* answer larger than NET_BODY_MAX */
	NET_CANCELLED,		/* never seen by a callback */
};

#define NET_HDRS_MAX		16384	/* response header bytes kept;
					 * later lines are dropped */

struct net_resp {
	enum net_fail	 fail;
	long		 status;	/* HTTP status when fail == NET_OK */
	const uint8_t	*body;		/* NUL-terminated after len */
	size_t		 len;
	/* The answer's Content-Type, trimmed; NULL when it has none
	 * (net_resp_header(r, "Content-Type")). */
	const char	*content_type;
	/* The headers of the last answer (after a redirect, the
	 * redirected one's): "Name: value" lines, each NUL-terminated,
	 * an empty line last; read them with net_resp_header(). */
	const char	*headers;
	const char	*detail;	/* a sentence for the log, never a
					 * secret; "" when fail == NET_OK */
	unsigned int	 attempts;	/* made, including this one */
	uint64_t	 elapsed_ms;	/* from the first attempt's start */
};

/*
 * Retry policy: up to `attempts` attempts in all; before attempt i + 1
 * (i = 1, 2, ...) wait i x uniform[wait_min_ms, wait_max_ms) with
 * NET_WAIT_GROWING (Vault's client), or uniform[wait_min_ms,
 * wait_max_ms) every time with NET_WAIT_CONSTANT (KES's own retry
 * wrapper, internal/http/retry.go). retry() says whether a result is
 * worth another attempt (NULL: never retry). NET_TLS_VERIFY and
 * NET_TOO_LARGE are never retried (no attempt can change them).
 * attempts 0 counts as 1; timeout_ms 0: no deadline.
 */
enum net_wait {
	NET_WAIT_GROWING = 0,
	NET_WAIT_CONSTANT,
};

struct net_policy {
	unsigned int	 attempts;
	unsigned int	 wait_min_ms, wait_max_ms;
	uint64_t	 timeout_ms;	/* per attempt, connection included */
	bool		(*retry)(const struct net_resp *);
	enum net_wait	 wait;
};

/* TLS to the store; every buffer is PEM in memory, copied, and may be
 * NULL (ca NULL: the system's trust store, read before the filter). */
struct net_tls {
	const uint8_t	*ca;	size_t ca_len;
	const uint8_t	*cert;	size_t cert_len;
	const uint8_t	*key;	size_t key_len;
};

struct net_client;
struct net_req;

/* done() runs once, from the event loop, never from inside
 * net_request(); the response lives until done() returns. */
typedef void	(*net_done_cb)(struct net_req *, const struct net_resp *,
		    void *arg);

/* libcurl and OpenSSL for the process: after the drop, before the
 * filter. 0 or -1 with err. */
int		 net_global_init(char *err, size_t errlen);

/*
 * A client for one base URL ("https://vault.example.com:8200", maybe
 * with a path prefix that every request's path is joined to). Only
 * https is accepted unless allow_http (tests of plain-HTTP stores only).
 * Before the filter: it resolves a host name once through the helper.
 */
struct net_client *net_client_new(const char *base_url,
		    const struct net_tls *, bool allow_http, char *err,
		    size_t errlen);
void		 net_client_free(struct net_client *);	/* cancels its
							 * requests */

/*
 * Start a request. method: "GET", "PUT", "POST", "DELETE", "HEAD" or
 * another token; path: begins with '/', may carry a query; headers:
 * "Name: value" strings, NULL-terminated (copied; wiped when freed);
 * body: len bytes (not copied: keep it until done or cancel), NULL for
 * none. Never fails synchronously except for memory; a failure to start
 * is reported through done() on the next loop turn.
 */
struct net_req	*net_request(struct net_client *, const char *method,
		    const char *path, const char *const *headers,
		    const uint8_t *body, size_t len,
		    const struct net_policy *, net_done_cb, void *arg);
/* done() is not called after this. */
void		 net_cancel(struct net_req *);

/*
 * The value of header name (compared case-insensitively) in r, trimmed
 * of blanks; the first when it came more than once; NULL when absent.
 * It lives as long as r.
 */
const char	*net_resp_header(const struct net_resp *, const char *name);

/* Counters, for tests and metrics: connections curl opened for this
 * client (the others were reused), and resolutions asked of the
 * helper. */
uint64_t	 net_client_connections(const struct net_client *);
uint64_t	 net_client_resolutions(const struct net_client *);

/* The syscalls a network store adds to the agent's seccomp filter. */
extern const struct sb_rule	net_rules[];
extern const size_t		net_nrules;

#endif
