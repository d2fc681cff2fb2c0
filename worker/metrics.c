/*
 * Prometheus metrics in a region shared by all workers (metrics.h): one
 * slot per worker index, written only by that worker with relaxed atomic
 * adds, read and summed by whichever worker answers /v1/metrics. Relaxed
 * ordering is enough: every figure is a monotonic sum (or the in-flight
 * gauge), and a reader that sees one counter a moment before another
 * renders a state that was true a moment earlier.
 *
 * Slot layout (common/metrics_region.h; METRICS_SLOTS of them, cache-line
 * aligned so two workers
 * never write one line): the in-flight gauge, the two log-event counters,
 * the response-time sum in nanoseconds, the per-bucket (not cumulative)
 * observation counts, and a counter per status code 200..299, 400..499 and
 * 500..599 -- the three families KES has. Other codes are not counted, and
 * KES never sends them from a counted handler. 2560 bytes a slot, 640 KiB
 * for the region; only pages a worker touches cost memory until the first
 * /v1/metrics reads them all.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/msg.h"
#include "worker/metrics.h"

/* KES's buckets (spec 10.1): seconds for the le labels, nanoseconds for
 * sorting observations, which go into the first bucket whose bound is >=. */
static const double bucket_s[METRICS_NBUCKETS - 1] = {
	0.01, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 3, 5, 10,
};
static const uint64_t bucket_ns[METRICS_NBUCKETS - 1] = {
	10000000ull, 50000000ull, 100000000ull, 250000000ull, 500000000ull,
	1000000000ull, 1500000000ull, 3000000000ull, 5000000000ull,
	10000000000ull,
};

/* The signing round trip: a few tens of microseconds when idle. */
static const double sign_bucket_s[METRICS_SIGN_NBUCKETS - 1] = {
	0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02,
	0.05,
};
static const uint64_t sign_bucket_ns[METRICS_SIGN_NBUCKETS - 1] = {
	50000ull, 100000ull, 200000ull, 500000ull, 1000000ull, 2000000ull,
	5000000ull, 10000000ull, 20000000ull, 50000000ull,
};

/* A key request's round trip to the crypto process. */
static const double crypto_bucket_s[METRICS_CRYPTO_NBUCKETS - 1] = {
	0.00001, 0.00002, 0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002,
	0.005, 0.01,
};
static const uint64_t crypto_bucket_ns[METRICS_CRYPTO_NBUCKETS - 1] = {
	10000ull, 20000ull, 50000ull, 100000ull, 200000ull, 500000ull,
	1000000ull, 2000000ull, 5000000ull, 10000000ull,
};

/* A worker's view; only a running worker's own process holds it. */
static struct {
	struct metrics_slot	*slots;
	size_t			 nslots;
	size_t			 maplen;	/* 0: not an mmap of the region */
	struct metrics_slot	*mine;
} m;

/* Storage for metrics_attach_private(). */
static struct metrics_slot private_slot;

void
metrics_detach(void)
{
	if (m.maplen != 0)
		munmap(m.slots, m.maplen);
	memset(&m, 0, sizeof(m));
}

int
metrics_attach(int fd, unsigned int index)
{
	struct stat	 st;
	void		*p;
	size_t		 size = metrics_region_size();

	if (index >= METRICS_SLOTS) {
		errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st) == -1)
		return -1;
	if (st.st_size < 0 || (size_t)st.st_size != size) {
		errno = EINVAL;
		return -1;
	}
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -1;
	metrics_detach();
	m.slots = p;
	m.nslots = METRICS_SLOTS;
	m.maplen = size;
	m.mine = &m.slots[index];
	/* Requests the slot's previous worker had in flight died with it. */
	__atomic_store_n(&m.mine->active, 0, __ATOMIC_RELAXED);
	return 0;
}

void
metrics_attach_private(void)
{
	metrics_detach();
	memset(&private_slot, 0, sizeof(private_slot));
	m.slots = &private_slot;
	m.nslots = 1;
	m.mine = &private_slot;
}

static void
add(uint64_t *p, uint64_t n)
{
	__atomic_add_fetch(p, n, __ATOMIC_RELAXED);
}

void
metrics_request_begin(void)
{
	if (m.mine != NULL)
		__atomic_add_fetch(&m.mine->active, 1, __ATOMIC_RELAXED);
}

/* The counter index of a status, or -1 for one KES does not count. */
static int
code_index(int status)
{
	if (status >= 200 && status <= 299)
		return status - 200;
	if (status >= 400 && status <= 599)
		return status - 400 + 100;
	return -1;
}

/* The status of counter index i. */
static int
index_code(size_t i)
{
	return i < 100 ? (int)i + 200 : (int)i - 100 + 400;
}

void
metrics_request_end(int status, uint64_t ns)
{
	size_t	 b;
	int	 i;

	if (m.mine == NULL)
		return;
	__atomic_sub_fetch(&m.mine->active, 1, __ATOMIC_RELAXED);
	if ((i = code_index(status)) != -1)
		add(&m.mine->codes[i], 1);
	for (b = 0; b < METRICS_NBUCKETS - 1 && ns > bucket_ns[b]; b++)
		;
	add(&m.mine->buckets[b], 1);
	add(&m.mine->sum_ns, ns);
}

void
metrics_request_abort(void)
{
	if (m.mine != NULL)
		__atomic_sub_fetch(&m.mine->active, 1, __ATOMIC_RELAXED);
}

void
metrics_chunked_in(size_t n)
{
	if (m.mine != NULL)
		add(&m.mine->chunked_in, n);
}

void
metrics_tls_sign(bool ok, uint64_t ns)
{
	size_t b;

	if (m.mine == NULL)
		return;
	if (!ok) {
		add(&m.mine->sign_failed, 1);
		return;
	}
	for (b = 0; b < METRICS_SIGN_NBUCKETS - 1 && ns > sign_bucket_ns[b];
	    b++)
		;
	add(&m.mine->sign_buckets[b], 1);
	add(&m.mine->sign_sum_ns, ns);
}

void
metrics_crypto_rtt(uint64_t ns)
{
	size_t b;

	if (m.mine == NULL)
		return;
	for (b = 0; b < METRICS_CRYPTO_NBUCKETS - 1 &&
	    ns > crypto_bucket_ns[b]; b++)
		;
	add(&m.mine->crypto_buckets[b], 1);
	add(&m.mine->crypto_sum_ns, ns);
}

void
metrics_log_event(int stream)
{
	if (m.mine == NULL)
		return;
	if (stream == LOG_STREAM_AUDIT || stream == LOG_STREAM_ERROR)
		add(&m.mine->log_events[stream], 1);
}

/* --- rendering --- */

struct totals {
	int64_t		 active;
	uint64_t	 chunked_in;
	uint64_t	 log_events[2];
	uint64_t	 sum_ns;
	uint64_t	 buckets[METRICS_NBUCKETS];
	uint64_t	 codes[METRICS_NCODES];
	uint64_t	 sign_buckets[METRICS_SIGN_NBUCKETS];
	uint64_t	 sign_sum_ns, sign_failed;
	uint64_t	 crypto_buckets[METRICS_CRYPTO_NBUCKETS];
	uint64_t	 crypto_sum_ns;
};

static uint64_t
load(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void
sum_slots(struct totals *t)
{
	const struct metrics_slot	*s;
	size_t				 i, j;

	memset(t, 0, sizeof(*t));
	for (i = 0; i < m.nslots; i++) {
		s = &m.slots[i];
		t->active += __atomic_load_n(&s->active, __ATOMIC_RELAXED);
		for (j = 0; j < 2; j++)
			t->log_events[j] += load(&s->log_events[j]);
		t->chunked_in += load(&s->chunked_in);
		t->sum_ns += load(&s->sum_ns);
		for (j = 0; j < METRICS_NBUCKETS; j++)
			t->buckets[j] += load(&s->buckets[j]);
		for (j = 0; j < METRICS_NCODES; j++)
			t->codes[j] += load(&s->codes[j]);
		for (j = 0; j < METRICS_SIGN_NBUCKETS; j++)
			t->sign_buckets[j] += load(&s->sign_buckets[j]);
		t->sign_sum_ns += load(&s->sign_sum_ns);
		t->sign_failed += load(&s->sign_failed);
		for (j = 0; j < METRICS_CRYPTO_NBUCKETS; j++)
			t->crypto_buckets[j] += load(&s->crypto_buckets[j]);
		t->crypto_sum_ns += load(&s->crypto_sum_ns);
	}
}

/*
 * A float as Prometheus' Go client writes it, strconv.FormatFloat(v, 'g',
 * -1, 64): the fewest significant digits that read back as v, in %e form
 * when the decimal exponent is below -4 or at least 6 (Go's shortest 'g'
 * decides with precision 6, unlike C's %g), so 123456 is "123456" and
 * 1234567 is "1.234567e+06"; NaN, +Inf and -Inf spelled so.
 */
static void
fmt_float(char *out, size_t outlen, double v)
{
	char	 e[40];
	int	 prec, exp;

	if (isnan(v)) {
		snprintf(out, outlen, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(out, outlen, "%s", v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		snprintf(out, outlen, "%s", signbit(v) ? "-0" : "0");
		return;
	}
	for (prec = 1; prec < 17; prec++) {
		snprintf(e, sizeof(e), "%.*e", prec - 1, v);
		if (strtod(e, NULL) == v)
			break;
	}
	snprintf(e, sizeof(e), "%.*e", prec - 1, v);
	exp = atoi(strchr(e, 'e') + 1);
	if (exp < -4 || exp >= 6)
		snprintf(out, outlen, "%s", e);
	else
		snprintf(out, outlen, "%.*f",
		    prec - 1 - exp > 0 ? prec - 1 - exp : 0, v);
}

/* The text being written; a line that does not fit spoils the lot. */
struct out {
	struct buf	*b;
	int		 err;
};

static void put(struct out *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	char	 line[512];
	va_list	 ap;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line) ||
	    buf_put(o->b, line, (size_t)n) == -1)
		o->err = -1;
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
sample(struct out *o, const char *name, double v)
{
	char	 f[40];

	fmt_float(f, sizeof(f), v);
	put(o, "%s %s\n", name, f);
}

/* One of keyward's histograms: n buckets, the last +Inf, of counts
 * (each its own bucket's, summed here) and their sum in ns. */
static void
histogram(struct out *o, const char *name, const char *help,
    const uint64_t *counts, const double *bound_s, size_t n,
    uint64_t sum_ns)
{
	char		le[40];
	uint64_t	cum;
	size_t		b;

	family(o, name, "histogram", help);
	for (cum = 0, b = 0; b < n; b++) {
		cum += counts[b];
		fmt_float(le, sizeof(le), b < n - 1 ? bound_s[b] : INFINITY);
		put(o, "%s_bucket{le=\"%s\"} %llu\n", name, le,
		    (unsigned long long)cum);
	}
	put(o, "%s_sum ", name);
	fmt_float(le, sizeof(le), (double)sum_ns / 1e9);
	put(o, "%s\n%s_count %llu\n", le, name, (unsigned long long)cum);
}

/* A counter vector labelled by code, absent without observations. */
static void
codes(struct out *o, const struct totals *t, const char *name,
    const char *help, size_t first)
{
	char	 f[40];
	size_t	 i;
	bool	 any = false;

	for (i = first; i < first + 100; i++) {
		if (t->codes[i] == 0)
			continue;
		if (!any)
			family(o, name, "counter", help);
		any = true;
		fmt_float(f, sizeof(f), (double)t->codes[i]);
		put(o, "%s{code=\"%d\"} %s\n", name, index_code(i), f);
	}
}

/* Families in name order, as Go's registry gathers them. */
int
metrics_render(struct buf *out, const struct metrics_sys *sys)
{
	const struct {
		const char	*name, *help;
		double		 v;
	} sysg[] = {
		{ "kes_system_mem_heap_objects",
		    "Number of allocated heap objects.",
		    (double)sys->heap_objects },
		{ "kes_system_mem_heap_used",
		    "Number of heap bytes in use.", (double)sys->heap_used },
		{ "kes_system_mem_stack_used",
		    "Number of bytes used for stacks.", (double)sys->stack_used },
		{ "kes_system_num_cpu",
		    "Number of logical CPUs available on the system.",
		    (double)sys->num_cpu },
		{ "kes_system_num_cpu_used",
		    "Number of logical CPUs usable by the server.",
		    (double)sys->num_cpu_used },
		{ "kes_system_num_threads",
		    "Number of threads in use.", (double)sys->num_threads },
		{ "kes_system_up_time",
		    "The time the server has been up and running in seconds.",
		    sys->uptime_s },
	};
	struct out	 o = { out, 0 };
	struct totals	 t;
	uint64_t	 cum = 0;
	char		 le[40];
	size_t		 b, i, start = out->len;

	sum_slots(&t);

	family(&o, "kes_http_request_active", "gauge",
	    "Number of active requests that are not finished, yet.");
	sample(&o, "kes_http_request_active", (double)t.active);
	codes(&o, &t, "kes_http_request_error",
	    "Number of request that failed due to some error. "
	    "(HTTP 4xx status code)", 100);
	codes(&o, &t, "kes_http_request_failure",
	    "Number of request that failed due to some internal failure. "
	    "(HTTP 5xx status code)", 200);
	codes(&o, &t, "kes_http_request_success",
	    "Number of requests that have been served successfully.", 0);

	family(&o, "kes_http_response_time", "histogram",
	    "Histogram of request response times spawning from 10ms to 10s.");
	for (b = 0; b < METRICS_NBUCKETS; b++) {
		cum += t.buckets[b];
		fmt_float(le, sizeof(le),
		    b < METRICS_NBUCKETS - 1 ? bucket_s[b] : INFINITY);
		put(&o, "kes_http_response_time_bucket{le=\"%s\"} %llu\n", le,
		    (unsigned long long)cum);
	}
	sample(&o, "kes_http_response_time_sum", (double)t.sum_ns / 1e9);
	/* The +Inf bucket, so the two always agree. */
	put(&o, "kes_http_response_time_count %llu\n",
	    (unsigned long long)cum);

	family(&o, "kes_log_audit_events", "counter",
	    "Number of audit log events written to the audit log targets.");
	sample(&o, "kes_log_audit_events",
	    (double)t.log_events[LOG_STREAM_AUDIT]);
	family(&o, "kes_log_error_events", "counter",
	    "Number of error log events written to the error log targets.");
	sample(&o, "kes_log_error_events",
	    (double)t.log_events[LOG_STREAM_ERROR]);

	for (i = 0; i < sizeof(sysg) / sizeof(sysg[0]); i++) {
		family(&o, sysg[i].name, "gauge", sysg[i].help);
		sample(&o, sysg[i].name, sysg[i].v);
	}
	/* keyward's own, after KES's (families sort by name). */
	histogram(&o, "keyward_crypto_seconds",
	    "Round trips of key requests to the crypto process.",
	    t.crypto_buckets, crypto_bucket_s, METRICS_CRYPTO_NBUCKETS,
	    t.crypto_sum_ns);
	family(&o, "keyward_http_chunked_input_bytes", "counter",
	    "Bytes of chunked request bodies decoded, framing included.");
	sample(&o, "keyward_http_chunked_input_bytes", (double)t.chunked_in);
	family(&o, "keyward_tls_sign_failures", "counter",
	    "Handshake signatures the crypto process did not make.");
	sample(&o, "keyward_tls_sign_failures", (double)t.sign_failed);
	histogram(&o, "keyward_tls_sign_seconds",
	    "Round trips of handshake signatures to the crypto process.",
	    t.sign_buckets, sign_bucket_s, METRICS_SIGN_NBUCKETS,
	    t.sign_sum_ns);
	if (o.err == -1) {
		if (out->len > start)
			explicit_bzero(out->data + start, out->len - start);
		out->len = start;
		return -1;
	}
	return 0;
}
