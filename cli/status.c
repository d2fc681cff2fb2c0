/* keyward status [-s] [--api]: GET /v1/status and /v1/api (spec §3.2). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char status_help[] =
    "Usage:\n"
    "    keyward status [options]\n"
    "\n"
    "Show the server's version, uptime, latency, CPUs, memory and key\n"
    "store. JSON: the server's /v1/status answer (with --api: the\n"
    "/v1/api array).\n"
    "\n"
    "Options:\n"
    "    -s, --short              Print only the server address.\n"
    "        --api                List the server's APIs.\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward status\n"
    "    $ keyward status --api\n";

#define OPT_API	0x200

struct status_opts {
	bool	short_;
	bool	api;
};

static int
status_opt(int ch, const char *arg, void *ctx)
{
	struct status_opts *o = ctx;

	if (ch == 's')
		o->short_ = true;
	else if (ch == OPT_API)
		o->api = true;
	else
		return cli_usage("status", "unknown option");
	return -1;
}

static void
print_mem(const char *what, json_t *v)
{
	double b = json_is_number(v) ? json_number_value(v) : 0;

	if (b >= 1024.0 * 1024 * 1024)
		printf("    · %-6s %.1f GiB\n", what, b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		printf("    · %-6s %.1f MiB\n", what, b / (1024.0 * 1024));
	else
		printf("    · %-6s %.1f KiB\n", what, b / 1024.0);
}

static void
print_uptime(double s)
{
	if (s > 86400)
		printf("  %-8s %.0f days %.0f hours\n", "Uptime", s / 86400,
		    (double)((int64_t)(s / 3600) % 24));
	else if (s > 3600)
		printf("  %-8s %.0f hours\n", "Uptime", s / 3600);
	else if (s > 60)
		printf("  %-8s %.0f minutes\n", "Uptime", s / 60);
	else
		printf("  %-8s %.0f seconds\n", "Uptime", s);
}

static void
print_status(const struct client *c, json_t *j, uint64_t latency,
    bool short_)
{
	json_t *v;

	printf("● %s\n", client_endpoint(c) + strlen("https://"));
	if (short_)
		return;
	printf("  %-8s %s\n", "Version", json_string_value(json_object_get(j,
	    "version")) ?: "");
	v = json_object_get(j, "uptime");
	/* A KES release before 2023-10-24 sent nanoseconds (W6). */
	print_uptime((json_is_number(v) ? json_number_value(v) : 0) /
	    (client_kes_ns_era(json_string_value(json_object_get(j,
	    "version"))) ? 1e9 : 1));
	printf("  %-8s %" PRIu64 "ms\n", "Latency", latency);
	printf("  %-8s %" JSON_INTEGER_FORMAT "\n", "CPUs",
	    json_integer_value(json_object_get(j, "num_cpu_used")));
	printf("  Memory\n");
	print_mem("Heap", json_object_get(j, "mem_heap_used"));
	print_mem("Stack", json_object_get(j, "mem_stack_used"));
	if (json_is_true(json_object_get(j, "keystore_unreachable")))
		printf("  %-8s unreachable\n", "Keystore");
	else if ((v = json_object_get(j, "keystore_latency")) != NULL)
		printf("  %-8s reachable (%" JSON_INTEGER_FORMAT "ms)\n",
		    "Keystore", json_integer_value(v));
}

static void
print_apis(json_t *apis)
{
	json_t	*a;
	size_t	 i;
	char	 timeout[32];

	printf("\n  %-7s %-28s %s\n", "Method", "API", "Timeout");
	json_array_foreach(apis, i, a) {
		json_int_t t = json_integer_value(json_object_get(a,
		    "timeout"));

		if (t > 0)
			snprintf(timeout, sizeof(timeout), "%" JSON_INTEGER_FORMAT
			    "s", t);
		else
			snprintf(timeout, sizeof(timeout), "Inf");
		printf("  %-7s %-28s %s\n", json_string_value(json_object_get(
		    a, "method")) ?: "", json_string_value(json_object_get(a,
		    "path")) ?: "", timeout);
	}
}

int
status_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "short",	no_argument,	NULL,	's' },
		{ "api",	no_argument,	NULL,	OPT_API },
		{ NULL,		0,		NULL,	0 }
	};
	struct status_opts	 o = { false, false };
	struct cli_opts		 own = { longopts, "s", status_opt, &o };
	struct cli_flags	 fl;
	struct client		*c;
	struct client_resp	 r = { 0 }, ra = { 0 };
	json_t			*j = NULL, *apis = NULL;
	uint64_t		 start, latency;
	int			 rc, first;

	if ((rc = cli_parse(argc, argv, "status", status_help, &own, &fl,
	    &first)) != -1)
		return rc;
	if (argc > first)
		return cli_usage("status", "too many arguments");
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	start = client_now_ms();
	if ((rc = client_call(c, "GET", "/v1/status", NULL, &r,
	    "read the status", NULL)) != CLI_OK)
		goto out;
	latency = client_now_ms() - start;
	if ((j = client_json(&r)) == NULL) {
		rc = CLI_REFUSED;
		goto out;
	}
	if (o.api) {
		if ((rc = client_call(c, "GET", "/v1/api", NULL, &ra,
		    "list the APIs", NULL)) != CLI_OK)
			goto out;
		if ((apis = client_json(&ra)) == NULL) {
			rc = CLI_REFUSED;
			goto out;
		}
	}
	if (fl.json)
		print_body(o.api ? &ra : &r);
	else {
		print_status(c, j, latency, o.short_);
		if (o.api)
			print_apis(apis);
	}
out:
	json_decref(j);
	json_decref(apis);
	client_resp_free(&r);
	client_resp_free(&ra);
	client_free(c);
	return rc;
}
