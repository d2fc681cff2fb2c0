/*
 * A log-linear latency histogram in the manner of HdrHistogram: values in
 * nanoseconds, 128 linear sub-buckets per power of two, so a reported
 * percentile is within 1/128 (0.8 %) of the recorded value. Fixed size, no
 * allocation when recording.
 */
#ifndef KEYWARD_BENCH_HIST_H
#define KEYWARD_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS	7			/* 128 sub-buckets */
#define HIST_SUB	(1u << HIST_SUB_BITS)
/* Values below 2 * HIST_SUB are exact; above, 128 buckets per octave up
 * to 2^63. */
#define HIST_BUCKETS	(2 * HIST_SUB + (63 - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t	count;
	uint64_t	max;
	uint64_t	sum;
	uint64_t	b[HIST_BUCKETS];
};

void		hist_reset(struct hist *);
void		hist_record(struct hist *, uint64_t ns);
/* The value at quantile q (0 < q <= 1): the middle of its bucket. */
uint64_t	hist_quantile(const struct hist *, double q);

#endif
