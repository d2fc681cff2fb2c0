/*
 * keyward log [--audit|--error]: follow the server's audit or error log
 * stream (spec §3.6) until interrupted. JSON mode passes the ndjson
 * through; a terminal gets one readable line per event.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/xmalloc.h"

static const char log_help[] =
    "Usage:\n"
    "    keyward log [options]\n"
    "\n"
    "Print the server's audit log (default) or error log as events\n"
    "happen, until interrupted (Ctrl-C, exit status 0). JSON: the\n"
    "server's events, one JSON object per line.\n"
    "\n"
    "Options:\n"
    "        --audit              Follow the audit log.\n"
    "        --error              Follow the error log.\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward log\n"
    "    $ keyward log --error --json\n";

#define OPT_AUDIT	0x400
#define OPT_ERROR	0x401
#define MAX_LINE	(1024 * 1024)

struct log_state {
	bool	 audit;
	bool	 json;
	bool	 ns;		/* response.time in nanoseconds (KES < 2023-10) */
	char	*buf;		/* an incomplete line */
	size_t	 len;
};

static void
print_event(const struct log_state *st, const char *line, size_t len)
{
	json_t		*j, *req, *resp;
	const char	*id, *ip;
	char		 when[64];
	json_int_t	 t;

	if (st->json || (j = json_loadb(line, len, 0, NULL)) == NULL) {
		printf("%.*s\n", (int)len, line);
		fflush(stdout);
		return;
	}
	if (!st->audit) {
		printf("%s\n", json_string_value(json_object_get(j,
		    "message")) ?: "");
	} else {
		req = json_object_get(j, "request");
		resp = json_object_get(j, "response");
		format_time(json_string_value(json_object_get(j, "time")),
		    when, sizeof(when));
		t = json_integer_value(json_object_get(resp, "time"));
		if (st->ns)
			t /= 1000000;
		id = json_string_value(json_object_get(req, "identity"));
		ip = json_string_value(json_object_get(req, "ip"));
		printf("%s  %-15s  %-64s  %3" JSON_INTEGER_FORMAT
		    " %5" JSON_INTEGER_FORMAT "ms  %s\n", when, ip ? ip : "-",
		    id ? id : "-", json_integer_value(json_object_get(resp,
		    "code")), t, json_string_value(json_object_get(req,
		    "path")) ?: "");
	}
	fflush(stdout);
	json_decref(j);
}

/* Chunks of the stream: split into lines, keep the rest for later. */
static int
on_chunk(const char *data, size_t len, void *arg)
{
	struct log_state	*st = arg;
	char			*nl, *line;
	size_t			 n;

	if (st->len + len > MAX_LINE) {
		cli_warnx("an event of the log stream is longer than %d "
		    "bytes", MAX_LINE);
		return -1;
	}
	st->buf = xreallocarray(st->buf, st->len + len + 1, 1);
	memcpy(st->buf + st->len, data, len);
	st->len += len;
	line = st->buf;
	while ((nl = memchr(line, '\n', st->len - (line - st->buf))) !=
	    NULL) {
		if (nl > line)
			print_event(st, line, nl - line);
		line = nl + 1;
	}
	n = st->len - (line - st->buf);
	memmove(st->buf, line, n);
	st->len = n;
	return ferror(stdout) ? -1 : 0;
}

/*
 * Which unit the server's audit events use: its /version names the
 * release (W6). Unknown (no answer, no version) reads as the current one.
 */
static bool
server_sends_ns(struct client *c)
{
	struct client_resp	 r = { 0 };
	json_t			*j = NULL;
	bool			 ns = false;

	if (client_do(c, "GET", "/version", NULL, &r) == CLI_OK &&
	    r.status == 200 &&
	    (j = json_loadb(r.body, r.len, 0, NULL)) != NULL)
		ns = client_kes_ns_era(json_string_value(json_object_get(j,
		    "version")));
	json_decref(j);
	client_resp_free(&r);
	return ns;
}

static int
log_opt(int ch, const char *arg, void *ctx)
{
	int *which = ctx;

	if (*which != 0 && *which != ch)
		return cli_usage("log", "--audit and --error exclude each "
		    "other");
	*which = ch;
	return -1;
}

int
log_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "audit",	no_argument,	NULL,	OPT_AUDIT },
		{ "error",	no_argument,	NULL,	OPT_ERROR },
		{ NULL,		0,		NULL,	0 }
	};
	int			 which = 0, rc, first;
	struct cli_opts		 own = { longopts, "", log_opt, &which };
	struct cli_flags	 fl;
	struct client		*c;
	struct client_resp	 r;
	struct log_state	 st = { true, false, false, NULL, 0 };
	const char		*path;

	if ((rc = cli_parse(argc, argv, "log", log_help, &own, &fl,
	    &first)) != -1)
		return rc;
	if (argc > first)
		return cli_usage("log", "too many arguments");
	st.audit = which != OPT_ERROR;
	st.json = fl.json;
	path = st.audit ? "/v1/log/audit" : "/v1/log/error";
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	if (st.audit && !st.json)
		st.ns = server_sends_ns(c);
	cli_catch_signals();
	if ((rc = client_stream(c, path, on_chunk, &st, &r)) == CLI_OK)
		rc = client_check(c, path, &r, "follow the log", NULL);
	client_resp_free(&r);
	free(st.buf);
	client_free(c);
	/* Ctrl-C, or a reader that went away (| head): a normal end. */
	return cli_interrupted() || ferror(stdout) ? CLI_OK : rc;
}
