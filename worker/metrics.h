/*
 * Prometheus metrics (spec 10.1) across all workers. The parent creates
 * one shared memory region (a memfd, FD_METRICS in every worker) with a
 * slot per worker index; a worker adds to its own slot and sums all slots
 * when it answers /v1/metrics. Counters survive a worker's restart because
 * the region belongs to the parent.
 *
 * A compromised worker could corrupt the other slots: the figures are
 * operational, not a security boundary.
 */
#ifndef KEYWARD_METRICS_H
#define KEYWARD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "common/metrics_region.h"

/* Map the region (before the sandbox) and use slot index; -1 on error. */
int	metrics_attach(int fd, unsigned int index);
/* Without a region (unit tests, a failed attach): private memory. */
void	metrics_attach_private(void);
/* Unmap the region (or drop the private slot); the calls below then do
 * nothing until the next attach. */
void	metrics_detach(void);

void	metrics_request_begin(void);
/* status: the HTTP status sent; ns: time from request to response. */
void	metrics_request_end(int status, uint64_t ns);
/* A request that got no answer (its client left): no longer in flight. */
void	metrics_request_abort(void);
/* n bytes of a chunked request body decoded (each byte counts once). */
void	metrics_chunked_in(size_t n);
/* A handshake signature: answered after ns, or failed. */
void	metrics_tls_sign(bool ok, uint64_t ns);
/* A key request answered by the crypto process, ns after it was sent. */
void	metrics_crypto_rtt(uint64_t ns);
/* One event written to a /v1/log/ subscriber. */
void	metrics_log_event(int stream);	/* enum log_stream */

struct metrics_sys {
	double		 uptime_s;
	long		 num_cpu, num_cpu_used, num_threads;
	uint64_t	 heap_used, heap_objects, stack_used;
};

/* Bytes metrics_render() may need at most. */
#define METRICS_TEXT_MAX	(32 * 1024)

/* Append the text exposition format (0.0.4) of every family, summed over
 * slots; -1, with out as it was, if out's maximum is too small. */
int	metrics_render(struct buf *out, const struct metrics_sys *);

#endif
