/* Helpers shared by the client commands. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "cli/cli.h"

/* Set by the signal handler only; read by the loops of log and metric. */
static volatile sig_atomic_t interrupted;

bool
cli_json_output(bool json_flag)
{
	return json_flag || !isatty(STDOUT_FILENO);
}

/* "keyward: <message>" on stderr, after what stdout holds. */
static void
vwarnx(const char *fmt, va_list ap)
{
	fflush(stdout);
	fputs("keyward: ", stderr);
	vfprintf(stderr, fmt, ap);
}

void
cli_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int
cli_usage(const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarnx(fmt, ap);
	va_end(ap);
	fprintf(stderr, ". See 'keyward %s --help'\n", name);
	return CLI_USAGE;
}

/* Long options of every command; short ones are in COMMON_SHORT. */
#define OPT_JSON	0x100
#define OPT_COLOR	0x101
#define COMMON_SHORT	"ke:h"
static const struct option common_opts[] = {
	{ "insecure",	no_argument,		NULL,	'k' },
	{ "json",	no_argument,		NULL,	OPT_JSON },
	{ "enclave",	required_argument,	NULL,	'e' },
	{ "color",	required_argument,	NULL,	OPT_COLOR },
	{ "help",	no_argument,		NULL,	'h' },
};
#define NCOMMON	(sizeof(common_opts) / sizeof(common_opts[0]))
#define MAXOPTS	32

int
cli_parse(int argc, char **argv, const char *name, const char *help,
    const struct cli_opts *own, struct cli_flags *flags, int *first)
{
	struct option	 all[MAXOPTS];
	char		 shortopts[64];
	size_t		 n, i;
	int		 ch, rc;
	bool		 json = false;

	memset(flags, 0, sizeof(*flags));
	memcpy(all, common_opts, sizeof(common_opts));
	n = NCOMMON;
	if (own != NULL && own->longopts != NULL)
		for (i = 0; own->longopts[i].name != NULL && n < MAXOPTS - 1;
		    i++)
			all[n++] = own->longopts[i];
	memset(&all[n], 0, sizeof(all[n]));
	/* Leading ':' : a missing argument is ':' rather than '?'. */
	snprintf(shortopts, sizeof(shortopts), ":%s%s", COMMON_SHORT,
	    own != NULL && own->shortopts != NULL ? own->shortopts : "");

	optind = 0;	/* GNU: restart scanning, this is a new argv */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, shortopts, all, NULL)) != -1) {
		switch (ch) {
		case 'k':
			flags->insecure = true;
			break;
		case OPT_JSON:
			json = true;
			break;
		case 'e':
		case OPT_COLOR:
			/* kes takes them; a single-enclave server ignores
			 * the enclave, and we print no colours. */
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_OK;
		case ':':
			return cli_usage(name, "option '%s' needs a value",
			    argv[optind - 1]);
		case '?':
			if (optopt != 0)
				return cli_usage(name, "unknown option '-%c'",
				    optopt);
			return cli_usage(name, "unknown option '%s'",
			    argv[optind - 1]);
		default:
			if (own == NULL || own->handle == NULL)
				return cli_usage(name, "unknown option");
			if ((rc = own->handle(ch, optarg, own->ctx)) != -1)
				return rc;
			break;
		}
	}
	flags->json = cli_json_output(json);
	*first = optind;
	return -1;
}

int
cli_group(int argc, char **argv, const char *help)
{
	if (argc < 2) {
		fputs(help, stderr);
		return CLI_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		fputs(help, stdout);
		return CLI_OK;
	}
	return -1;
}

static void
on_signal(int sig)
{
	interrupted = 1;
}

void
cli_catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: the sleep between samples must end at once. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A reader that went away (| head) ends us quietly too. */
	signal(SIGPIPE, SIG_IGN);
}

bool
cli_interrupted(void)
{
	return interrupted != 0;
}

void
cli_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (!interrupted && nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * A password from the terminal, echo off, through OpenSSL's UI (it opens
 * /dev/tty and restores the terminal on a signal), into buf[size]; its
 * length, or -1. The caller has checked that /dev/tty opens: without one
 * the UI would read standard input instead.
 */
ssize_t
cli_read_password(const char *prompt, char *buf, size_t size)
{
	/* The UI wants room for `length` characters and the NUL. */
	if (size < 2 || EVP_read_pw_string(buf, (int)size - 1, prompt, 0) !=
	    0) {
		explicit_bzero(buf, size);
		return -1;
	}
	return (ssize_t)strlen(buf);
}

/* Is there a terminal to ask? */
bool
cli_have_tty(void)
{
	int	fd;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC)) == -1)
		return false;
	close(fd);
	return true;
}

/* OpenSSL asks for the password of an encrypted private key file. */
int
cli_pem_password(char *buf, int size, int rwflag, void *u)
{
	struct cli_pw	*pc = u;
	char		 prompt[PATH_MAX + 64];
	ssize_t		 n;

	pc->asked = true;
	if (!cli_have_tty()) {
		pc->notty = true;
		return -1;
	}
	snprintf(prompt, sizeof(prompt), "Password for %s: ", pc->path);
	n = size > 0 ? cli_read_password(prompt, buf, (size_t)size) : -1;
	return n < 0 ? -1 : (int)n;
}
