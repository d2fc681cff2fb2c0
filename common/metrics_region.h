/*
 * The layout of the metrics region: the parent makes it (a memfd the size
 * of metrics_region_size(), FD_METRICS in every worker) and keeps it across
 * worker restarts; each worker writes its own slot and sums all of them
 * (worker/metrics.c). Here because both sides need the size.
 */
#ifndef KEYWARD_METRICS_REGION_H
#define KEYWARD_METRICS_REGION_H

#include <stddef.h>
#include <stdint.h>

#define METRICS_SLOTS	256	/* = the maximum of server.workers */

#define METRICS_NBUCKETS	11	/* ten bounds and +Inf */
#define METRICS_NCLASSES	3	/* 2xx, 4xx, 5xx */
#define METRICS_NCODES		(METRICS_NCLASSES * 100)
#define METRICS_SIGN_NBUCKETS	11	/* handshake signatures: ten bounds
					 * from 50 us to 50 ms, and +Inf */
#define METRICS_CRYPTO_NBUCKETS	11	/* key requests at the crypto
					 * process: 10 us to 10 ms, +Inf */

struct metrics_slot {
	int64_t		 active;
	uint64_t	 log_events[2];		/* enum log_stream */
	uint64_t	 sum_ns;
	uint64_t	 buckets[METRICS_NBUCKETS];
	uint64_t	 codes[METRICS_NCODES];
	uint64_t	 chunked_in;		/* chunked body bytes decoded */
	/* Handshake signatures at the crypto process: round trips of those
	 * answered, and those that failed (refused, lost). */
	uint64_t	 sign_buckets[METRICS_SIGN_NBUCKETS];
	uint64_t	 sign_sum_ns;
	uint64_t	 sign_failed;
	/* Key requests at the crypto process, sent to answered: what a
	 * second process adds to a request (its work and two wake-ups). */
	uint64_t	 crypto_buckets[METRICS_CRYPTO_NBUCKETS];
	uint64_t	 crypto_sum_ns;
} __attribute__((aligned(64)));

/* Bytes the parent allocates for the region. */
static inline size_t
metrics_region_size(void)
{
	return sizeof(struct metrics_slot) * METRICS_SLOTS;
}

#endif
