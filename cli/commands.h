/*
 * The networked client commands (one file each) and what they share.
 * Each *_main gets argv[0] = its own name and returns an exit code of
 * cli/cli.h.
 */
#ifndef KEYWARD_COMMANDS_H
#define KEYWARD_COMMANDS_H

#include <stdbool.h>

#include <jansson.h>

#include "cli/client.h"

int	key_main(int argc, char **argv);		/* cli/key.c */
int	policy_main(int argc, char **argv);		/* cli/policy.c */
int	ls_main(int argc, char **argv);			/* cli/list.c */
int	status_main(int argc, char **argv);		/* cli/status.c */
int	metric_main(int argc, char **argv);		/* cli/metric.c */
int	log_main(int argc, char **argv);		/* cli/log.c */
/* identity info|ls; the offline identity commands are cli/identity.c. */
int	identity_remote_main(int argc, char **argv);	/* identity_remote.c */
bool	identity_is_remote(int argc, char **argv);

/*
 * The names of a listing route (route is "/v1/key/list/", field "names"
 * or "identities"), every page (continue_at) fetched, sorted. A JSON
 * array in *out, or an exit code after a message.
 */
int	list_names(struct client *, const char *route, const char *field,
	    const char *pattern, const char *what, json_t **out);
/* `key ls`, `policy ls`, `identity ls`: parse, list, print. */
int	list_command(int argc, char **argv, const char *name,
	    const char *help, const char *route, const char *field,
	    const char *what, const char *header);
/*
 * GET route<name> (name NULL: route + "describe", the caller's own) and
 * print the answer: JSON as it came, else through print. 404 says
 * "<kind> '<name>' does not exist".
 */
int	describe_command(const struct cli_flags *, const char *route,
	    const char *name, const char *kind,
	    void (*print)(const struct client *, const json_t *,
	    const char *name));
/* Names of an NDJSON listing (KES before 2023-11) starting with prefix,
 * appended to all; -1 on a line that is not an object with a name. */
int	list_ndjson(const char *body, size_t len, const char *prefix,
	    json_t *all);
/* JSON: the array on one line; terminal: the header, one name a line. */
void	list_print(const json_t *names, const char *header, bool json);

/* Print a JSON value on one line followed by a newline. */
void	print_json(const json_t *);
/* The body of a response as it came, ending in one newline. */
void	print_body(const struct client_resp *);
/* "2006-01-02 15:04:05" from an RFC 3339 time, else the text as is. */
void	format_time(const char *rfc3339, char *out, size_t len);

#endif
