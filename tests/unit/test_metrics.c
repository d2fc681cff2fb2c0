/* Prometheus metrics (worker/metrics.c): shared slots and the text format. */
#include <sys/mman.h>
#include <sys/wait.h>

#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/buf.h"
#include "common/msg.h"
#include "worker/metrics.h"

#define MS	1000000ull	/* nanoseconds */

static const struct metrics_sys sys0 = { 0 };

static int
region(void)
{
	int	 fd = memfd_create("metrics-test", MFD_CLOEXEC);

	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (off_t)metrics_region_size()), 0);
	return fd;
}

/* The rendered text, NUL-terminated; caller frees. */
static char *
render(const struct metrics_sys *sys)
{
	struct buf	 b;
	char		*s;

	buf_init(&b, METRICS_TEXT_MAX);
	cr_assert_eq(metrics_render(&b, sys), 0);
	s = malloc(b.len + 1);
	cr_assert_not_null(s);
	memcpy(s, b.data, b.len);
	s[b.len] = '\0';
	buf_release(&b);
	return s;
}

/* The value of the sample line that starts with "series ", or NULL. */
static const char *
value_of(const char *text, const char *series)
{
	static char	 v[64];
	const char	*p = text, *e;
	size_t		 n = strlen(series);

	while (p != NULL && *p != '\0') {
		if (strncmp(p, series, n) == 0 && p[n] == ' ') {
			p += n + 1;
			e = strchr(p, '\n');
			cr_assert_not_null(e);
			cr_assert_lt((size_t)(e - p), sizeof(v));
			memcpy(v, p, (size_t)(e - p));
			v[e - p] = '\0';
			return v;
		}
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	}
	return NULL;
}

static void
expect(const char *text, const char *series, const char *want)
{
	const char	*v = value_of(text, series);

	cr_assert_not_null(v, "no sample %s in:\n%s", series, text);
	cr_assert_str_eq(v, want, "%s = %s, want %s", series, v, want);
}

/* Whether name appears at all: in HELP, TYPE or a sample. */
static bool
has_family(const char *text, const char *name)
{
	return strstr(text, name) != NULL;
}

/*
 * The exposition format, checked line by line: comments are "# HELP name
 * text" or "# TYPE name type", TYPE once per family, before its samples,
 * families in name order; every other line is name{labels} value, with a
 * value strtod reads whole (or +Inf, -Inf, NaN) and a name of the family
 * announced last (histograms add _bucket, _sum, _count).
 */
static void
check_format(const char *text)
{
	regex_t		 sample_re, help_re, type_re;
	regmatch_t	 mt[4];
	char		 line[512], fam[128] = "", prev[128] = "", name[128];
	char		 type[32] = "";
	const char	*p = text, *e, *val;
	char		*end;
	size_t		 n, flen;
	bool		 seen_help = false;

	cr_assert_eq(regcomp(&sample_re, "^([a-zA-Z_:][a-zA-Z0-9_:]*)"
	    "(\\{[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\""
	    "(,[a-zA-Z_][a-zA-Z0-9_]*=\"[^\"\\\\\n]*\")*\\})? ([^ ]+)$",
	    REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&help_re, "^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) "
	    "[^\n]+$", REG_EXTENDED), 0);
	cr_assert_eq(regcomp(&type_re, "^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) "
	    "(counter|gauge|histogram|summary|untyped)$", REG_EXTENDED), 0);
	cr_assert(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
	while (*p != '\0') {
		e = strchr(p, '\n');
		cr_assert_not_null(e);
		n = (size_t)(e - p);
		cr_assert_lt(n, sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		p = e + 1;
		if (regexec(&help_re, line, 2, mt, 0) == 0) {
			cr_assert_not(seen_help, "two HELP lines: %s", line);
			seen_help = true;
			continue;
		}
		if (regexec(&type_re, line, 3, mt, 0) == 0) {
			cr_assert(seen_help, "TYPE without HELP: %s", line);
			seen_help = false;
			snprintf(fam, sizeof(fam), "%.*s",
			    (int)(mt[1].rm_eo - mt[1].rm_so),
			    line + mt[1].rm_so);
			snprintf(type, sizeof(type), "%.*s",
			    (int)(mt[2].rm_eo - mt[2].rm_so),
			    line + mt[2].rm_so);
			cr_assert_gt(strcmp(fam, prev), 0,
			    "family %s after %s", fam, prev);
			snprintf(prev, sizeof(prev), "%s", fam);
			continue;
		}
		cr_assert_neq(line[0], '#', "bad comment: %s", line);
		cr_assert_eq(regexec(&sample_re, line, 4, mt, 0), 0,
		    "bad sample line: \"%s\"", line);
		cr_assert_neq(fam[0], '\0', "sample before TYPE: %s", line);
		snprintf(name, sizeof(name), "%.*s",
		    (int)(mt[1].rm_eo - mt[1].rm_so), line + mt[1].rm_so);
		flen = strlen(fam);
		cr_assert_eq(strncmp(name, fam, flen), 0, "%s in %s", name,
		    fam);
		if (strcmp(type, "histogram") == 0)
			cr_assert(strcmp(name + flen, "_bucket") == 0 ||
			    strcmp(name + flen, "_sum") == 0 ||
			    strcmp(name + flen, "_count") == 0, "%s", name);
		else
			cr_assert_eq(name[flen], '\0', "%s", name);
		val = strrchr(line, ' ') + 1;
		if (strcmp(val, "+Inf") != 0 && strcmp(val, "-Inf") != 0 &&
		    strcmp(val, "NaN") != 0) {
			strtod(val, &end);
			cr_assert_eq(*end, '\0', "bad value: %s", line);
		}
	}
	cr_assert_not(seen_help, "HELP without TYPE at the end");
	regfree(&sample_re);
	regfree(&help_re);
	regfree(&type_re);
}

static void
teardown(void)
{
	metrics_detach();
}

TestSuite(metrics, .fini = teardown);

Test(metrics, region_size)
{
	cr_assert_eq(metrics_region_size() % 64, 0);
	/* Modest: well under a megabyte for 256 workers. */
	cr_assert_lt(metrics_region_size(), 1024 * 1024);
	cr_assert_geq(metrics_region_size(), METRICS_SLOTS * 8 * 300);
}

Test(metrics, attach_validates)
{
	int	 fd = region(), small;

	cr_assert_eq(metrics_attach(fd, METRICS_SLOTS), -1);
	cr_assert_eq(metrics_attach(-1, 0), -1);
	small = memfd_create("small", MFD_CLOEXEC);
	cr_assert_eq(ftruncate(small, (off_t)metrics_region_size() - 64), 0);
	cr_assert_eq(metrics_attach(small, 0), -1);
	cr_assert_eq(ftruncate(small, (off_t)metrics_region_size() + 4096), 0);
	cr_assert_eq(metrics_attach(small, 0), -1);
	cr_assert_eq(metrics_attach(fd, 0), 0);
	cr_assert_eq(metrics_attach(fd, METRICS_SLOTS - 1), 0);
	close(small);
	close(fd);
}

Test(metrics, fresh_region)
{
	int	 fd = region();
	char	*t;

	cr_assert_eq(metrics_attach(fd, 0), 0);
	t = render(&sys0);
	check_format(t);
	/* Counter vectors without observations are absent (spec 10.1). */
	cr_assert_not(has_family(t, "kes_http_request_success"));
	cr_assert_not(has_family(t, "kes_http_request_error"));
	cr_assert_not(has_family(t, "kes_http_request_failure"));
	/* Every other family has its one sample. */
	expect(t, "kes_http_request_active", "0");
	expect(t, "kes_http_response_time_bucket{le=\"+Inf\"}", "0");
	expect(t, "kes_http_response_time_sum", "0");
	expect(t, "kes_http_response_time_count", "0");
	expect(t, "kes_log_audit_events", "0");
	expect(t, "kes_log_error_events", "0");
	expect(t, "kes_system_up_time", "0");
	expect(t, "kes_system_num_cpu", "0");
	expect(t, "kes_system_num_cpu_used", "0");
	expect(t, "kes_system_num_threads", "0");
	expect(t, "kes_system_mem_heap_used", "0");
	expect(t, "kes_system_mem_heap_objects", "0");
	expect(t, "kes_system_mem_stack_used", "0");
	free(t);
	close(fd);
}

Test(metrics, exact_text)
{
	static const char want[] =
	    "# HELP kes_http_request_active Number of active requests that "
	    "are not finished, yet.\n"
	    "# TYPE kes_http_request_active gauge\n"
	    "kes_http_request_active 0\n"
	    "# HELP kes_http_request_success Number of requests that have "
	    "been served successfully.\n"
	    "# TYPE kes_http_request_success counter\n"
	    "kes_http_request_success{code=\"200\"} 1\n"
	    "# HELP kes_http_response_time Histogram of request response "
	    "times spawning from 10ms to 10s.\n"
	    "# TYPE kes_http_response_time histogram\n"
	    "kes_http_response_time_bucket{le=\"0.01\"} 0\n"
	    "kes_http_response_time_bucket{le=\"0.05\"} 0\n"
	    "kes_http_response_time_bucket{le=\"0.1\"} 0\n"
	    "kes_http_response_time_bucket{le=\"0.25\"} 1\n"
	    "kes_http_response_time_bucket{le=\"0.5\"} 1\n"
	    "kes_http_response_time_bucket{le=\"1\"} 1\n"
	    "kes_http_response_time_bucket{le=\"1.5\"} 1\n"
	    "kes_http_response_time_bucket{le=\"3\"} 1\n"
	    "kes_http_response_time_bucket{le=\"5\"} 1\n"
	    "kes_http_response_time_bucket{le=\"10\"} 1\n"
	    "kes_http_response_time_bucket{le=\"+Inf\"} 1\n"
	    "kes_http_response_time_sum 0.125\n"
	    "kes_http_response_time_count 1\n";
	struct metrics_sys	 sys = {
		.uptime_s = 3600.25, .num_cpu = 8, .num_cpu_used = 4,
		.num_threads = 1, .heap_used = 1234567, .heap_objects = 123456,
		.stack_used = 65536,
	};
	char			*t;

	metrics_attach_private();
	metrics_request_begin();
	metrics_request_end(200, 125 * MS);
	/* Two handshake signatures answered, 30 us and 3 ms, one failed. */
	metrics_tls_sign(true, 30000);
	metrics_tls_sign(true, 3 * MS);
	metrics_tls_sign(false, 0);
	/* Three key requests at the crypto process: 15 us, 15 us, 20 ms. */
	metrics_crypto_rtt(15000);
	metrics_crypto_rtt(15000);
	metrics_crypto_rtt(20 * MS);
	t = render(&sys);
	check_format(t);
	cr_assert_eq(strncmp(t, want, sizeof(want) - 1), 0, "got:\n%s", t);
	cr_assert_str_eq(t + sizeof(want) - 1,
	    "# HELP kes_log_audit_events Number of audit log events written "
	    "to the audit log targets.\n"
	    "# TYPE kes_log_audit_events counter\n"
	    "kes_log_audit_events 0\n"
	    "# HELP kes_log_error_events Number of error log events written "
	    "to the error log targets.\n"
	    "# TYPE kes_log_error_events counter\n"
	    "kes_log_error_events 0\n"
	    "# HELP kes_system_mem_heap_objects Number of allocated heap "
	    "objects.\n"
	    "# TYPE kes_system_mem_heap_objects gauge\n"
	    "kes_system_mem_heap_objects 123456\n"
	    "# HELP kes_system_mem_heap_used Number of heap bytes in use.\n"
	    "# TYPE kes_system_mem_heap_used gauge\n"
	    "kes_system_mem_heap_used 1.234567e+06\n"
	    "# HELP kes_system_mem_stack_used Number of bytes used for "
	    "stacks.\n"
	    "# TYPE kes_system_mem_stack_used gauge\n"
	    "kes_system_mem_stack_used 65536\n"
	    "# HELP kes_system_num_cpu Number of logical CPUs available on "
	    "the system.\n"
	    "# TYPE kes_system_num_cpu gauge\n"
	    "kes_system_num_cpu 8\n"
	    "# HELP kes_system_num_cpu_used Number of logical CPUs usable by "
	    "the server.\n"
	    "# TYPE kes_system_num_cpu_used gauge\n"
	    "kes_system_num_cpu_used 4\n"
	    "# HELP kes_system_num_threads Number of threads in use.\n"
	    "# TYPE kes_system_num_threads gauge\n"
	    "kes_system_num_threads 1\n"
	    "# HELP kes_system_up_time The time the server has been up and "
	    "running in seconds.\n"
	    "# TYPE kes_system_up_time gauge\n"
	    "kes_system_up_time 3600.25\n"
	    "# HELP keyward_crypto_seconds Round trips of key requests to "
	    "the crypto process.\n"
	    "# TYPE keyward_crypto_seconds histogram\n"
	    "keyward_crypto_seconds_bucket{le=\"1e-05\"} 0\n"
	    "keyward_crypto_seconds_bucket{le=\"2e-05\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"5e-05\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.0001\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.0002\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.0005\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.001\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.002\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.005\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"0.01\"} 2\n"
	    "keyward_crypto_seconds_bucket{le=\"+Inf\"} 3\n"
	    "keyward_crypto_seconds_sum 0.02003\n"
	    "keyward_crypto_seconds_count 3\n"
	    "# HELP keyward_http_chunked_input_bytes Bytes of chunked request "
	    "bodies decoded, framing included.\n"
	    "# TYPE keyward_http_chunked_input_bytes counter\n"
	    "keyward_http_chunked_input_bytes 0\n"
	    "# HELP keyward_tls_sign_failures Handshake signatures the "
	    "crypto process did not make.\n"
	    "# TYPE keyward_tls_sign_failures counter\n"
	    "keyward_tls_sign_failures 1\n"
	    "# HELP keyward_tls_sign_seconds Round trips of handshake "
	    "signatures to the crypto process.\n"
	    "# TYPE keyward_tls_sign_seconds histogram\n"
	    "keyward_tls_sign_seconds_bucket{le=\"5e-05\"} 1\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.0001\"} 1\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.0002\"} 1\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.0005\"} 1\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.001\"} 1\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.002\"} 1\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.005\"} 2\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.01\"} 2\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.02\"} 2\n"
	    "keyward_tls_sign_seconds_bucket{le=\"0.05\"} 2\n"
	    "keyward_tls_sign_seconds_bucket{le=\"+Inf\"} 2\n"
	    "keyward_tls_sign_seconds_sum 0.00303\n"
	    "keyward_tls_sign_seconds_count 2\n");
	free(t);
}

/* Values as strconv.FormatFloat(v, 'g', -1, 64) spells them. */
Test(metrics, go_float_format)
{
	static const struct { double v; const char *s; } cases[] = {
		{ 0, "0" }, { 1, "1" }, { 10, "10" }, { 0.5, "0.5" },
		{ 0.1, "0.1" }, { 0.01, "0.01" }, { 0.0001, "0.0001" },
		{ 0.00001, "1e-05" }, { 0.000123, "0.000123" },
		{ 0.0000123, "1.23e-05" }, { 100000, "100000" },
		{ 999999, "999999" }, { 1000000, "1e+06" },
		{ 1234567, "1.234567e+06" }, { 12.34, "12.34" },
		{ 1.0 / 3, "0.3333333333333333" }, { 2.0 / 3, "0.6666666666666666" },
		{ 123456.7, "123456.7" }, { 1e21, "1e+21" }, { 1e100, "1e+100" },
		{ 5e-324, "5e-324" }, { 1.7976931348623157e308,
		    "1.7976931348623157e+308" }, { 0.3, "0.3" },
		{ 8589934592.0, "8.589934592e+09" },
		{ 18446744073709551615.0, "1.8446744073709552e+19" },
	};
	struct metrics_sys	 sys = { 0 };
	char			*t;
	size_t			 i;

	metrics_attach_private();
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		sys.uptime_s = cases[i].v;
		t = render(&sys);
		expect(t, "kes_system_up_time", cases[i].s);
		free(t);
	}
	sys.uptime_s = -2.5;
	t = render(&sys);
	expect(t, "kes_system_up_time", "-2.5");
	free(t);
}

Test(metrics, two_workers_sum)
{
	int	 fd = region();
	char	*t;

	/* Worker 0. */
	cr_assert_eq(metrics_attach(fd, 0), 0);
	metrics_request_begin();
	metrics_request_end(200, 5 * MS);
	metrics_request_begin();
	metrics_request_end(404, 60 * MS);
	metrics_request_begin();
	metrics_request_end(403, 10 * MS);	/* on the 0.01 bound */
	metrics_log_event(LOG_STREAM_AUDIT);
	metrics_log_event(LOG_STREAM_AUDIT);
	/* Worker 7, one request still in flight. */
	cr_assert_eq(metrics_attach(fd, 7), 0);
	metrics_request_begin();
	metrics_request_end(200, 2000 * MS);
	metrics_request_begin();
	metrics_request_end(500, 12000 * MS);
	metrics_request_begin();
	metrics_log_event(LOG_STREAM_ERROR);
	metrics_log_event(LOG_STREAM_AUDIT);
	metrics_log_event(7);			/* no such stream */

	t = render(&sys0);
	check_format(t);
	expect(t, "kes_http_request_active", "1");
	expect(t, "kes_http_request_success{code=\"200\"}", "2");
	expect(t, "kes_http_request_error{code=\"403\"}", "1");
	expect(t, "kes_http_request_error{code=\"404\"}", "1");
	expect(t, "kes_http_request_failure{code=\"500\"}", "1");
	cr_assert_null(value_of(t, "kes_http_request_success{code=\"201\"}"));
	cr_assert_null(value_of(t, "kes_http_request_failure{code=\"503\"}"));
	/* Code labels in order within a family. */
	cr_assert_lt(strstr(t, "code=\"403\""), strstr(t, "code=\"404\""));
	/* Cumulative buckets. */
	expect(t, "kes_http_response_time_bucket{le=\"0.01\"}", "2");
	expect(t, "kes_http_response_time_bucket{le=\"0.05\"}", "2");
	expect(t, "kes_http_response_time_bucket{le=\"0.1\"}", "3");
	expect(t, "kes_http_response_time_bucket{le=\"0.25\"}", "3");
	expect(t, "kes_http_response_time_bucket{le=\"1.5\"}", "3");
	expect(t, "kes_http_response_time_bucket{le=\"3\"}", "4");
	expect(t, "kes_http_response_time_bucket{le=\"5\"}", "4");
	expect(t, "kes_http_response_time_bucket{le=\"10\"}", "4");
	expect(t, "kes_http_response_time_bucket{le=\"+Inf\"}", "5");
	expect(t, "kes_http_response_time_count", "5");
	expect(t, "kes_http_response_time_sum", "14.075");
	expect(t, "kes_log_audit_events", "3");
	expect(t, "kes_log_error_events", "1");
	free(t);

	/* Worker 0 restarts: its counts stay, the gauge of its slot starts
	 * at zero, worker 7's request is still in flight. */
	metrics_detach();
	cr_assert_eq(metrics_attach(fd, 0), 0);
	t = render(&sys0);
	expect(t, "kes_http_request_active", "1");
	expect(t, "kes_http_request_success{code=\"200\"}", "2");
	expect(t, "kes_http_response_time_count", "5");
	free(t);
	/* Worker 7 restarts: its request died with it. */
	cr_assert_eq(metrics_attach(fd, 7), 0);
	t = render(&sys0);
	expect(t, "kes_http_request_active", "0");
	free(t);
	close(fd);
}

Test(metrics, abort_only_leaves_flight)
{
	char	*t;

	metrics_attach_private();
	metrics_request_begin();
	metrics_request_begin();
	t = render(&sys0);
	expect(t, "kes_http_request_active", "2");
	free(t);
	metrics_request_abort();
	t = render(&sys0);
	check_format(t);
	expect(t, "kes_http_request_active", "1");
	expect(t, "kes_http_response_time_count", "0");
	cr_assert_null(strstr(t, "code="));
	free(t);
}

Test(metrics, uncounted_codes_still_timed)
{
	char	*t;

	metrics_attach_private();
	metrics_request_begin();
	metrics_request_end(101, 1 * MS);
	metrics_request_begin();
	metrics_request_end(301, 1 * MS);
	metrics_request_begin();
	metrics_request_end(600, 1 * MS);
	metrics_request_begin();
	metrics_request_end(-1, 1 * MS);
	t = render(&sys0);
	check_format(t);
	cr_assert_null(strstr(t, "code="));
	expect(t, "kes_http_response_time_count", "4");
	expect(t, "kes_http_request_active", "0");
	free(t);
}

Test(metrics, every_code_class)
{
	char	*t, series[128], *p;
	int	 c, n = 0;

	metrics_attach_private();
	for (c = 200; c < 600; c++) {
		if (c >= 300 && c < 400)
			continue;
		metrics_request_begin();
		metrics_request_end(c, 0);
	}
	t = render(&sys0);
	check_format(t);
	for (c = 200; c < 600; c++) {
		if (c >= 300 && c < 400)
			continue;
		snprintf(series, sizeof(series), "kes_http_request_%s{code=\"%d\"}",
		    c < 300 ? "success" : c < 500 ? "error" : "failure", c);
		expect(t, series, "1");
	}
	for (p = t; (p = strstr(p, "code=")) != NULL; p++)
		n++;
	cr_assert_eq(n, 300);
	expect(t, "kes_http_response_time_bucket{le=\"0.01\"}", "300");
	free(t);
}

Test(metrics, detached_is_quiet)
{
	char	*t;

	metrics_detach();
	metrics_request_begin();
	metrics_request_end(200, MS);
	metrics_log_event(LOG_STREAM_AUDIT);
	t = render(&sys0);
	check_format(t);
	expect(t, "kes_http_request_active", "0");
	cr_assert_not(has_family(t, "kes_http_request_success"));
	free(t);
}

Test(metrics, private_resets)
{
	char	*t;

	metrics_attach_private();
	metrics_request_begin();
	metrics_request_end(200, MS);
	metrics_attach_private();
	t = render(&sys0);
	cr_assert_not(has_family(t, "kes_http_request_success"));
	free(t);
}

/* Two processes, as real workers are, adding at once. */
Test(metrics, processes_share)
{
	int	 fd = region(), st, i, w;
	pid_t	 pid[2];
	char	*t;

	for (w = 0; w < 2; w++) {
		if ((pid[w] = fork()) == 0) {
			if (metrics_attach(fd, (unsigned int)(10 + w)) == -1)
				_exit(1);
			for (i = 0; i < 20000; i++) {
				metrics_request_begin();
				metrics_request_end(w == 0 ? 200 : 404,
				    (uint64_t)i * 1000);
				metrics_log_event(LOG_STREAM_ERROR);
			}
			_exit(0);
		}
		cr_assert_gt(pid[w], 0);
	}
	for (w = 0; w < 2; w++) {
		cr_assert_eq(waitpid(pid[w], &st, 0), pid[w]);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	}
	cr_assert_eq(metrics_attach(fd, 0), 0);
	t = render(&sys0);
	check_format(t);
	expect(t, "kes_http_request_success{code=\"200\"}", "20000");
	expect(t, "kes_http_request_error{code=\"404\"}", "20000");
	expect(t, "kes_http_response_time_count", "40000");
	expect(t, "kes_http_response_time_bucket{le=\"0.01\"}", "20002");
	expect(t, "kes_log_error_events", "40000");
	expect(t, "kes_http_request_active", "0");
	/* sum of i * 1000 ns, i < 20000, twice: 399.98 s */
	expect(t, "kes_http_response_time_sum", "399.98");
	free(t);
	close(fd);
}

/* A buffer too small gets nothing, not a truncated text. */
Test(metrics, small_buffer)
{
	struct buf	 b;

	metrics_attach_private();
	metrics_request_begin();
	metrics_request_end(200, MS);
	buf_init(&b, 100);
	cr_assert_eq(metrics_render(&b, &sys0), -1);
	cr_assert_eq(b.len, 0);
	buf_release(&b);
	buf_init(&b, 1000);
	cr_assert_eq(buf_put(&b, "HTTP/1.1 200 OK\r\n\r\n", 19), 0);
	cr_assert_eq(metrics_render(&b, &sys0), -1);
	cr_assert_eq(b.len, 19);
	buf_release(&b);
}

/* Every code counted, every figure at its longest: METRICS_TEXT_MAX holds
 * it. */
Test(metrics, worst_case_fits)
{
	struct metrics_sys	 sys = {
		.uptime_s = 1.0 / 3 * 1e300, .num_cpu = -1234567890123456789L,
		.num_cpu_used = -1234567890123456789L,
		.num_threads = -1234567890123456789L, .heap_used = UINT64_MAX,
		.heap_objects = UINT64_MAX - 1, .stack_used = UINT64_MAX - 2,
	};
	struct buf		 b;
	int			 c, i;

	metrics_attach_private();
	for (c = 200; c < 600; c++)
		for (i = 0; i < 3; i++) {
			metrics_request_begin();
			metrics_request_end(c, UINT64_MAX / 1024);
		}
	buf_init(&b, METRICS_TEXT_MAX);
	cr_assert_eq(metrics_render(&b, &sys), 0);
	cr_assert_lt(b.len, METRICS_TEXT_MAX * 3 / 4, "%zu bytes", b.len);
	buf_release(&b);
}
