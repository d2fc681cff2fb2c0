/*
 * Shared by the client commands (keyward key|identity|policy|ls|status|
 * metric|log): exit codes, the output mode, option parsing and messages.
 */
#ifndef KEYWARD_CLI_H
#define KEYWARD_CLI_H

#include <sys/types.h>

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

/* Exit codes, documented in --help and keyward(1). */
#define CLI_OK		0	/* done */
#define CLI_REFUSED	1	/* the server (or the input) said no */
#define CLI_USAGE	2	/* bad command line */
#define CLI_CONN	3	/* no connection: network, TLS, credentials */

/*
 * JSON output when asked for (--json) or when stdout is not a terminal,
 * as the kes CLI does; human-readable text on a terminal.
 */
bool	cli_json_output(bool json_flag);

/* The options every networked command takes (kes CLI names). */
struct cli_flags {
	bool		 insecure;	/* -k, --insecure */
	bool		 json;		/* --json, or stdout is not a tty */
	const char	*server;	/* -s, --server (keyward ls only) */
	const char	*api_key;	/* -a, --api-key (keyward ls only) */
};

/*
 * A command's own options: getopt_long entries (terminated by a zeroed
 * one) and a handler that returns -1 to go on or an exit code.
 */
struct cli_opts {
	const struct option	*longopts;
	const char		*shortopts;
	int			(*handle)(int ch, const char *arg, void *ctx);
	void			*ctx;
};

/*
 * Parse argv (argv[0] is the command's last word) with the common options
 * (-k, --json, -e/--enclave and --color, accepted and ignored as by kes,
 * -h/--help) and `own` (may be NULL). `name` is the full command ("key
 * create") for messages, `help` its --help text, printed to stdout with
 * exit 0. Returns -1 with *first set to the first operand, or an exit
 * code after printing help or a usage error.
 */
int	cli_parse(int argc, char **argv, const char *name, const char *help,
	    const struct cli_opts *own, struct cli_flags *flags, int *first);

/*
 * A command group (key, policy) without a subcommand prints its help to
 * stderr (CLI_USAGE), with -h/--help to stdout (CLI_OK); -1: go on.
 */
int	cli_group(int argc, char **argv, const char *help);

/* "keyward: <msg>. See 'keyward <name> --help'" on stderr; CLI_USAGE. */
int	cli_usage(const char *name, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* "keyward: <msg>" on stderr. */
void	cli_warnx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));

/*
 * SIGINT and SIGTERM end `log` and `metric` cleanly: the handler only
 * sets a flag, which the transfer's progress callback and the sleep
 * between samples look at.
 */
void	cli_catch_signals(void);
bool	cli_interrupted(void);
/* Sleep ms milliseconds or until a signal arrives. */
void	cli_sleep_ms(unsigned int ms);

/* The lines of help shared by every networked command. */
#define CLI_HELP_COMMON \
	"    -k, --insecure           Skip the server certificate check.\n" \
	"        --json               Print JSON (the default when stdout is\n" \
	"                             not a terminal).\n" \
	"    -h, --help               Print this help.\n"

#define CLI_HELP_ENV \
	"Environment:\n" \
	"    KES_SERVER               Server(s), comma-separated (default\n" \
	"                             127.0.0.1:7373; https:// is added).\n" \
	"    KES_API_KEY              API key (kes:v1:...), or else\n" \
	"    KES_CLIENT_CERT, KES_CLIENT_KEY  client certificate and key.\n" \
	"    KES_CAPATH               CA certificate (PEM file or directory)\n" \
	"                             for the server; default: system CAs.\n" \
	"\n" \
	"Exit status: 0 ok, 1 the server refused, 2 usage, 3 connection/TLS.\n"

/*
 * Passwords, read from the terminal (/dev/tty) with echo off and never
 * from a pipe. cli_pem_password is OpenSSL's pem_password_cb with a
 * struct cli_pw as its argument: it tells afterwards whether a password
 * was asked for and whether there was no terminal to ask on.
 */
struct cli_pw {
	const char	*path;		/* named in the prompt */
	bool		 asked;
	bool		 notty;
};
bool	cli_have_tty(void);
ssize_t	cli_read_password(const char *prompt, char *buf, size_t size);
int	cli_pem_password(char *buf, int size, int rwflag, void *u);

#endif
