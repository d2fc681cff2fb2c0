/*
 * keyward metric [--rate D]: samples GET /v1/metrics (Prometheus text,
 * spec §10.1) every D until interrupted and prints the request counts,
 * rates and system gauges of each sample.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char metric_help[] =
    "Usage:\n"
    "    keyward metric [options]\n"
    "\n"
    "Sample the server's metrics every --rate (default 5s) until\n"
    "interrupted (Ctrl-C, exit status 0). JSON: one object per sample\n"
    "and line: {\"time\",\"interval\",\"request_ok\",\"request_err\",\n"
    "\"request_fail\",\"request_active\",\"request_rate\",\"latency_avg\",\n"
    "\"audit_events\",\"error_events\",\"uptime\",\"num_cpu\",\n"
    "\"num_cpu_used\",\"num_threads\",\"mem_heap_used\",\n"
    "\"mem_heap_objects\",\"mem_stack_used\"} (rates per second, times in\n"
    "seconds).\n"
    "\n"
    "Options:\n"
    "        --rate <duration>    Time between samples: 500ms, 5s, 1m.\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward metric\n"
    "    $ keyward metric --rate 1s --json\n";

#define OPT_RATE	0x300

/* The families of §10.1 a sample reports; counters summed over labels. */
static const char *const families[] = {
	"kes_http_request_success", "kes_http_request_error",
	"kes_http_request_failure", "kes_http_request_active",
	"kes_http_response_time_sum", "kes_http_response_time_count",
	"kes_log_audit_events", "kes_log_error_events",
	"kes_system_up_time", "kes_system_num_cpu",
	"kes_system_num_cpu_used", "kes_system_num_threads",
	"kes_system_mem_heap_used", "kes_system_mem_heap_objects",
	"kes_system_mem_stack_used",
};
#define NFAM	(sizeof(families) / sizeof(families[0]))
enum { F_OK, F_ERR, F_FAIL, F_ACTIVE, F_RT_SUM, F_RT_COUNT, F_AUDIT,
    F_ERROR, F_UP, F_CPU, F_CPU_USED, F_THREADS, F_HEAP, F_HEAP_OBJ,
    F_STACK };

/* A Go duration of whole units ("1m30s", "500ms") in milliseconds. */
static int
parse_duration(const char *s, unsigned int *ms)
{
	double	 total = 0, v;
	char	*end;

	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		v = strtod(s, &end);
		if (end == s || v < 0)
			return -1;
		s = end;
		if (strncmp(s, "ms", 2) == 0) {
			s += 2;
		} else if (*s == 's') {
			v *= 1000;
			s++;
		} else if (*s == 'm') {
			v *= 60000;
			s++;
		} else if (*s == 'h') {
			v *= 3600000;
			s++;
		} else
			return -1;
		total += v;
	}
	if (total < 1 || total > 86400000)
		return -1;
	*ms = (unsigned int)total;
	return 0;
}

static void
parse_metrics(const char *text, double v[NFAM])
{
	const char	*line, *nl, *p;
	size_t		 i, n;

	memset(v, 0, NFAM * sizeof(v[0]));
	for (line = text; line != NULL && *line != '\0'; line = nl ? nl + 1 :
	    NULL) {
		nl = strchr(line, '\n');
		if (*line == '#')
			continue;
		for (i = 0; i < NFAM; i++) {
			n = strlen(families[i]);
			if (strncmp(line, families[i], n) != 0 ||
			    (line[n] != ' ' && line[n] != '{'))
				continue;
			/* The value follows the labels and a blank. */
			p = line + n;
			if (*p == '{' && (p = strchr(p, '}')) != NULL)
				p++;
			if (p != NULL)
				v[i] += strtod(p, NULL);
			break;
		}
	}
}

static void
print_sample(const double v[NFAM], const double prev[NFAM], bool have_prev,
    unsigned int ms, bool json)
{
	double	 reqs, rate = 0, lat = 0, dn;
	char	 now[32];
	time_t	 t = time(NULL);
	json_t	*j;

	reqs = v[F_OK] + v[F_ERR] + v[F_FAIL];
	if (have_prev)
		rate = (reqs - (prev[F_OK] + prev[F_ERR] + prev[F_FAIL])) /
		    (ms / 1000.0);
	dn = v[F_RT_COUNT] - (have_prev ? prev[F_RT_COUNT] : 0);
	if (dn > 0)
		lat = (v[F_RT_SUM] - (have_prev ? prev[F_RT_SUM] : 0)) / dn;
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
	if (json) {
		j = json_pack("{s:s, s:f, s:I, s:I, s:I, s:I, s:f, s:f, s:I, "
		    "s:I, s:f, s:I, s:I, s:I, s:I, s:I, s:I}",
		    "time", now, "interval", ms / 1000.0,
		    "request_ok", (json_int_t)v[F_OK],
		    "request_err", (json_int_t)v[F_ERR],
		    "request_fail", (json_int_t)v[F_FAIL],
		    "request_active", (json_int_t)v[F_ACTIVE],
		    "request_rate", rate, "latency_avg", lat,
		    "audit_events", (json_int_t)v[F_AUDIT],
		    "error_events", (json_int_t)v[F_ERROR],
		    "uptime", v[F_UP],
		    "num_cpu", (json_int_t)v[F_CPU],
		    "num_cpu_used", (json_int_t)v[F_CPU_USED],
		    "num_threads", (json_int_t)v[F_THREADS],
		    "mem_heap_used", (json_int_t)v[F_HEAP],
		    "mem_heap_objects", (json_int_t)v[F_HEAP_OBJ],
		    "mem_stack_used", (json_int_t)v[F_STACK]);
		print_json(j);
		json_decref(j);
	} else {
		printf("%s\n", now);
		printf("  %-10s %.0f ok  %.0f 4xx  %.0f 5xx  %.0f active  "
		    "%.1f/s\n", "Requests", v[F_OK], v[F_ERR], v[F_FAIL],
		    v[F_ACTIVE], rate);
		printf("  %-10s %.2f ms average\n", "Latency", lat * 1000);
		printf("  %-10s %.0f audit  %.0f error\n", "Log events",
		    v[F_AUDIT], v[F_ERROR]);
		printf("  %-10s up %.0f s  %.0f/%.0f CPUs  %.0f threads  "
		    "heap %.1f MiB  stack %.1f MiB\n\n", "System", v[F_UP],
		    v[F_CPU_USED], v[F_CPU], v[F_THREADS],
		    v[F_HEAP] / (1024 * 1024), v[F_STACK] / (1024 * 1024));
	}
	fflush(stdout);
}

static int
metric_opt(int ch, const char *arg, void *ctx)
{
	if (ch != OPT_RATE || parse_duration(arg, ctx) == -1)
		return cli_usage("metric", "invalid --rate '%s': a duration "
		    "such as 500ms, 5s or 1m", arg ? arg : "");
	return -1;
}

int
metric_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "rate",	required_argument,	NULL,	OPT_RATE },
		{ NULL,		0,			NULL,	0 }
	};
	unsigned int		 ms = 5000;
	struct cli_opts		 own = { longopts, "", metric_opt, &ms };
	struct cli_flags	 fl;
	struct client		*c;
	struct client_resp	 r;
	double			 v[NFAM], prev[NFAM];
	bool			 have_prev = false;
	int			 rc, first;

	if ((rc = cli_parse(argc, argv, "metric", metric_help, &own, &fl,
	    &first)) != -1)
		return rc;
	if (argc > first)
		return cli_usage("metric", "too many arguments");
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	cli_catch_signals();
	/* A reader that went away (| head) ends the run too. */
	while (!cli_interrupted() && !ferror(stdout)) {
		rc = client_call(c, "GET", "/v1/metrics", NULL, &r,
		    "read the metrics", NULL);
		if (rc != CLI_OK) {
			client_resp_free(&r);
			break;
		}
		parse_metrics(r.body ? r.body : "", v);
		client_resp_free(&r);
		print_sample(v, prev, have_prev, ms, fl.json);
		memcpy(prev, v, sizeof(prev));
		have_prev = true;
		cli_sleep_ms(ms);
	}
	client_free(c);
	/* Stopped by the user: that is how a sampling run ends. */
	return cli_interrupted() ? CLI_OK : rc;
}
