/* The load generator's latency histogram (see hist.h). */
#include <math.h>
#include <string.h>

#include "tests/bench/hist.h"

void
hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
}

/*
 * Below 2 * HIST_SUB a value is its own index. Above, e is the position of
 * its top bit (e >= HIST_SUB_BITS + 1) and the next HIST_SUB_BITS bits pick
 * one of HIST_SUB buckets in that octave.
 */
static unsigned int
index_of(uint64_t v)
{
	unsigned int	e, shift;

	if (v < 2 * HIST_SUB)
		return (unsigned int)v;
	e = 63 - (unsigned int)__builtin_clzll(v);
	shift = e - HIST_SUB_BITS;
	return 2 * HIST_SUB + (e - HIST_SUB_BITS - 1) * HIST_SUB +
	    (unsigned int)((v >> shift) - HIST_SUB);
}

/* The middle of bucket i: what a percentile falling into it reports. */
static uint64_t
value_of(unsigned int i)
{
	unsigned int	e, m;
	uint64_t	lo;

	if (i < 2 * HIST_SUB)
		return i;
	e = (i - 2 * HIST_SUB) / HIST_SUB + HIST_SUB_BITS + 1;
	m = (i - 2 * HIST_SUB) % HIST_SUB + HIST_SUB;
	lo = (uint64_t)m << (e - HIST_SUB_BITS);
	return lo + ((1ull << (e - HIST_SUB_BITS)) >> 1);
}

void
hist_record(struct hist *h, uint64_t ns)
{
	h->b[index_of(ns)]++;
	h->count++;
	h->sum += ns;
	if (ns > h->max)
		h->max = ns;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t	want, seen = 0, v;
	unsigned int	i;

	if (h->count == 0)
		return 0;
	want = (uint64_t)ceil(q * (double)h->count);
	if (want == 0)
		want = 1;
	for (i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			v = value_of(i);
			/* Never report more than was seen. */
			return v > h->max ? h->max : v;
		}
	}
	return h->max;
}
