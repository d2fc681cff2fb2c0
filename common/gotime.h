/*
 * Times the way Go writes and reads them in JSON (time.RFC3339Nano):
 * "2024-02-29T08:12:28.5Z", fraction trimmed of trailing zeros, UTC "Z".
 */
#ifndef KEYWARD_GOTIME_H
#define KEYWARD_GOTIME_H

#include <stddef.h>
#include <stdint.h>

#define GOTIME_MAX	40	/* enough for any year -9999..9999 + NUL */
/* Go's zero time.Time, 0001-01-01T00:00:00Z, in Unix seconds. */
#define GOTIME_ZERO_SEC	(-62135596800LL)

/* Format seconds since the epoch (UTC) and nanoseconds. Returns out. */
char	*gotime_format(int64_t sec, int32_t nsec, char out[GOTIME_MAX]);
/* Parse RFC 3339 with optional fraction and a "Z" or +hh:mm offset,
 * as Go's time.Time.UnmarshalJSON does. 0, or -1 when malformed. */
int	gotime_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec);

#endif
