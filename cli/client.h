/*
 * The client side of the KES API for the keyward commands: endpoints and
 * credentials from the kes CLI's environment (spec §9), requests over
 * mutual TLS with libcurl, kms-go's load balancing and retries (§8.6),
 * and every failure turned into a message a person can act on plus an
 * exit code (cli/cli.h).
 */
#ifndef KEYWARD_CLIENT_H
#define KEYWARD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "cli/cli.h"

struct client;

/*
 * Read the environment (flags->server / flags->api_key override it, as
 * kes ls -s/-a do), load the credentials (an encrypted PEM key prompts
 * for its password on a terminal) and set up libcurl. Prints why and
 * returns CLI_CONN (credentials) or CLI_USAGE on failure.
 */
int		 client_new(const struct cli_flags *flags, struct client **);
void		 client_free(struct client *);
/* The caller's identity (spec §4.1), computed locally. */
const char	*client_identity(const struct client *);
/* The endpoint that answered the last request. */
const char	*client_endpoint(const struct client *);

struct client_resp {
	long	 status;	/* HTTP status; 0: no answer */
	char	*body;		/* NUL-terminated */
	size_t	 len;
	char	 ctype[128];	/* Content-Type, "" if none */
};
void		 client_resp_free(struct client_resp *);
/* An answer streamed as KES before 2023-11 streamed listings. */
bool		 client_is_ndjson(const struct client_resp *);

/*
 * One API call: `path` is already escaped (client_path() builds it),
 * body may be NULL. Tries the endpoints in the order of §8.6 with up to
 * two retries each on network errors and 503. CLI_OK when a server
 * answered (any status; see client_check), else the reasons are printed
 * and CLI_CONN returned.
 */
int		 client_do(struct client *, const char *method,
		    const char *path, const char *body, struct client_resp *);

/*
 * A response that does not end (the log routes): once the server answers 200,
 * every chunk of the body goes to cb until the server closes, cb returns
 * -1, or a signal arrives (cli_catch_signals). Other statuses are kept in
 * resp for client_check. Return values as client_do.
 */
int		 client_stream(struct client *, const char *path,
		    int (*cb)(const char *, size_t, void *), void *arg,
		    struct client_resp *);

/*
 * Judge an answer: 2xx is CLI_OK. Otherwise print a message and return
 * CLI_REFUSED: 403 names the caller's identity and the path; 404 with
 * `what` ("key 'k'") says that it does not exist; other errors say
 * "cannot <action>: <the server's message>".
 */
int		 client_check(const struct client *, const char *path,
		    const struct client_resp *, const char *action,
		    const char *what);

/* client_do + client_check. */
int		 client_call(struct client *, const char *method,
		    const char *path, const char *body, struct client_resp *,
		    const char *action, const char *what);

/*
 * "<prefix><escaped name>": the name percent-encoded as a single path
 * element (the server decodes it). Free with free().
 */
char		*client_path(const char *prefix, const char *name);

/*
 * KES servers released before 2023-10-24 (dated tags before
 * 2023-10-24T20-26-51Z, and every v0.x release) sent durations as Go
 * nanoseconds: the status uptime and the audit events' response time. true
 * when the version string a server reports names such a release.
 */
bool		 client_kes_ns_era(const char *version);

/* The body as JSON; prints an error and returns NULL if it is not. */
json_t		*client_json(const struct client_resp *);

/* Monotonic milliseconds. */
uint64_t	 client_now_ms(void);

/*
 * Endpoint choice of kms-go's load balancer (§8.6), separate from the
 * network so it can be driven by a test: which endpoints to try, in
 * which order, for one request.
 */
struct lb_endpoint {
	char		*url;		/* https://host:port */
	bool		 localhost;
	uint64_t	 down_until;	/* ms; 0: available */
};
#define LB_TIMEOUT_MS	30000
/* Fills order[0, n) and returns how many to try. */
size_t		 lb_order(const struct lb_endpoint *, size_t n, size_t start,
		    uint64_t now, size_t *order);
void		 lb_failed(struct lb_endpoint *, uint64_t now);
void		 lb_succeeded(struct lb_endpoint *);

#endif
