/* Unit tests for common/gotime.c: Go's RFC3339Nano in JSON. */
#include <criterion/criterion.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/gotime.h"
/*
 * KAT_TIMES and KAT_FORMATS were computed by tests/data/kat/gen_vectors.py
 * with Python's calendar.timegm and datetime (fractions handled as text),
 * not with this code's calendar arithmetic.
 */
#include "tests/data/kat/vectors.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))

static int
parse(const char *s, int64_t *sec, int32_t *nsec)
{
	return gotime_parse(s, strlen(s), sec, nsec);
}

Test(gotime, known_answer_parse)
{
	int64_t	sec;
	int32_t	nsec;
	size_t	i;

	for (i = 0; i < NELEM(KAT_TIMES); i++) {
		cr_assert_eq(parse(KAT_TIMES[i].s, &sec, &nsec), 0, "%s",
		    KAT_TIMES[i].s);
		cr_assert_eq(sec, KAT_TIMES[i].sec, "%s", KAT_TIMES[i].s);
		cr_assert_eq(nsec, KAT_TIMES[i].nsec, "%s", KAT_TIMES[i].s);
	}
}

Test(gotime, known_answer_format)
{
	char	out[GOTIME_MAX];
	size_t	i;

	for (i = 0; i < NELEM(KAT_FORMATS); i++) {
		gotime_format(KAT_FORMATS[i].sec, KAT_FORMATS[i].nsec, out);
		cr_assert_str_eq(out, KAT_FORMATS[i].s);
	}
}

Test(gotime, zero_time)
{
	char	out[GOTIME_MAX];
	int64_t	sec;
	int32_t	nsec;

	cr_assert_str_eq(gotime_format(GOTIME_ZERO_SEC, 0, out),
	    "0001-01-01T00:00:00Z");
	cr_assert_eq(parse("0001-01-01T00:00:00Z", &sec, &nsec), 0);
	cr_assert_eq(sec, GOTIME_ZERO_SEC);
	cr_assert_eq(nsec, 0);
}

/* Every day from year 0 to 2400 and back, against timegm where it
 * applies and the calendar itself (day after day) everywhere. */
Test(gotime, calendar_walk)
{
	char		s[64], out[GOTIME_MAX];
	int64_t		sec, prev = 0;
	int32_t		nsec;
	int		y, m, d, dim;
	struct tm	tm;
	bool		first = true;

	for (y = 0; y <= 2400; y++) {
		for (m = 1; m <= 12; m++) {
			dim = m == 2 ? ((y % 4 == 0 && y % 100 != 0) ||
			    y % 400 == 0 ? 29 : 28) :
			    (m == 4 || m == 6 || m == 9 || m == 11) ? 30 : 31;
			for (d = 1; d <= dim; d++) {
				snprintf(s, sizeof(s),
				    "%04d-%02d-%02dT00:00:00Z", y, m, d);
				cr_assert_eq(parse(s, &sec, &nsec), 0, "%s", s);
				cr_assert(first || sec == prev + 86400, "%s",
				    s);
				first = false;
				prev = sec;
				if (y >= 1902 && y < 2038) {
					memset(&tm, 0, sizeof(tm));
					tm.tm_year = y - 1900;
					tm.tm_mon = m - 1;
					tm.tm_mday = d;
					cr_assert_eq(sec, (int64_t)timegm(&tm));
				}
				if (y >= 1)
					cr_assert_str_eq(gotime_format(sec, 0,
					    out), s);
			}
			/* One past the end of the month is rejected. */
			snprintf(s, sizeof(s), "%04d-%02d-%02dT00:00:00Z",
			    y, m, dim + 1);
			cr_assert_eq(parse(s, &sec, &nsec), -1, "%s", s);
		}
	}
}

Test(gotime, fraction)
{
	static const struct { const char *s; int32_t nsec; } f[] = {
		{ "2024-01-02T03:04:05.1Z", 100000000 },
		{ "2024-01-02T03:04:05.000000001Z", 1 },
		{ "2024-01-02T03:04:05.123456789Z", 123456789 },
		/* Go keeps nine digits and drops the rest. */
		{ "2024-01-02T03:04:05.1234567891Z", 123456789 },
		{ "2024-01-02T03:04:05.99999999999999Z", 999999999 },
		{ "2024-01-02T03:04:05.0Z", 0 },
		{ "2024-01-02T03:04:05.500+00:00", 500000000 },
	};
	int64_t	sec;
	int32_t	nsec;
	size_t	i;

	for (i = 0; i < NELEM(f); i++) {
		cr_assert_eq(parse(f[i].s, &sec, &nsec), 0, "%s", f[i].s);
		cr_assert_eq(nsec, f[i].nsec, "%s", f[i].s);
		cr_assert_eq(sec, 1704164645, "%s", f[i].s);
	}
}

Test(gotime, offsets)
{
	int64_t	z, sec;
	int32_t	nsec;

	cr_assert_eq(parse("2024-01-12T11:39:20Z", &z, &nsec), 0);
	cr_assert_eq(parse("2024-01-12T12:39:20+01:00", &sec, &nsec), 0);
	cr_assert_eq(sec, z);
	cr_assert_eq(parse("2024-01-12T06:09:20-05:30", &sec, &nsec), 0);
	cr_assert_eq(sec, z);
	cr_assert_eq(parse("2024-01-12T11:39:20+00:00", &sec, &nsec), 0);
	cr_assert_eq(sec, z);
	cr_assert_eq(parse("2024-01-12T11:39:20-00:00", &sec, &nsec), 0);
	cr_assert_eq(sec, z);
	/* Crossing the year and the zero time. */
	cr_assert_eq(parse("0001-01-01T00:30:00+01:00", &sec, &nsec), 0);
	cr_assert_eq(sec, GOTIME_ZERO_SEC - 1800);
	cr_assert_eq(parse("9999-12-31T23:59:59-23:59", &sec, &nsec), 0);
	cr_assert_eq(sec, 253402300799LL + 23 * 3600 + 59 * 60);
}

Test(gotime, rejects)
{
	static const char *bad[] = {
		"", "2024", "2024-01-02", "2024-01-02T03:04",
		"2024-01-02T03:04:05",			/* no zone */
		"2024-01-02T03:04:05z",			/* lower-case z */
		"2024-01-02t03:04:05Z", "2024-01-02 03:04:05Z",
		"2024/01/02T03:04:05Z", "2024-01-02T03.04.05Z",
		"24-01-02T03:04:05Z", "+2024-01-02T03:04:05Z",
		"-001-01-01T00:00:00Z", "10000-01-01T00:00:00Z",
		"2024-00-02T03:04:05Z", "2024-13-02T03:04:05Z",
		"2024-01-00T03:04:05Z", "2024-01-32T03:04:05Z",
		"2023-02-29T03:04:05Z", "1900-02-29T00:00:00Z",
		"2024-01-02T24:00:00Z", "2024-01-02T03:60:05Z",
		"2024-01-02T03:04:60Z",			/* no leap seconds */
		"2024-01-02T3:04:05Z",
		"2024-01-02T03:04:05.Z", "2024-01-02T03:04:05,5Z",
		"2024-01-02T03:04:05.5", "2024-01-02T03:04:05.5ZZ",
		"2024-01-02T03:04:05+01", "2024-01-02T03:04:05+0100",
		"2024-01-02T03:04:05+24:00", "2024-01-02T03:04:05+01:60",
		"2024-01-02T03:04:05+01:00Z", "2024-01-02T03:04:05 +01:00",
		"2024-01-02T03:04:05UTC", "2024-01-02T03:04:05Z ",
		" 2024-01-02T03:04:05Z", "2024-01-02T03:04:0xZ",
		"2024-0a-02T03:04:05Z", "2024-01-02T03:04:05+0a:00",
	};
	int64_t	sec = 7;
	int32_t	nsec = 7;
	size_t	i;

	for (i = 0; i < NELEM(bad); i++)
		cr_assert_eq(parse(bad[i], &sec, &nsec), -1, "%s", bad[i]);
	cr_assert_eq(sec, 7);
	cr_assert_eq(nsec, 7);
	/* The length bounds the parse, not a NUL. */
	cr_assert_eq(gotime_parse("2024-01-02T03:04:05Z", 19, &sec, &nsec),
	    -1);
	cr_assert_eq(gotime_parse("2024-01-02T03:04:05Zjunk", 20, &sec,
	    &nsec), 0);
}

Test(gotime, format_extremes)
{
	char	out[GOTIME_MAX];

	/* Outside what Go's MarshalJSON takes, but printed, in bounds. */
	gotime_format(INT64_MAX, 999999999, out);
	cr_assert_lt(strlen(out), GOTIME_MAX);
	cr_assert_str_eq(out, "292277026596-12-04T15:30:07.999999999Z");
	gotime_format(INT64_MIN, 0, out);
	cr_assert_lt(strlen(out), GOTIME_MAX);
	cr_assert_str_eq(out, "-292277022657-01-27T08:29:52Z");
	gotime_format(GOTIME_ZERO_SEC - 86400, 0, out);
	cr_assert_str_eq(out, "0000-12-31T00:00:00Z");
	gotime_format(GOTIME_ZERO_SEC - 366LL * 86400 - 1, 0, out);
	cr_assert_str_eq(out, "-0001-12-31T23:59:59Z");
	/* Out-of-range nanoseconds are carried as time.Unix does. */
	gotime_format(0, -1, out);
	cr_assert_str_eq(out, "1969-12-31T23:59:59.999999999Z");
	gotime_format(0, 1500000000, out);
	cr_assert_str_eq(out, "1970-01-01T00:00:01.5Z");
}

/* Every format of a sample of times parses back to the same instant. */
Test(gotime, roundtrip)
{
	char		out[GOTIME_MAX];
	uint64_t	s = 0x1234567;
	int64_t		sec, back;
	int32_t		nsec, nback;
	int		i;

	for (i = 0; i < 100000; i++) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		/* 0001-01-01 .. 9999-12-31 */
		sec = GOTIME_ZERO_SEC + (int64_t)(s % 315537897600ULL);
		nsec = (int32_t)((s >> 20) % 1000000000);
		if (i % 3 == 0)
			nsec = nsec / 1000 * 1000;
		gotime_format(sec, nsec, out);
		cr_assert_eq(parse(out, &back, &nback), 0, "%s", out);
		cr_assert_eq(back, sec, "%s", out);
		cr_assert_eq(nback, nsec, "%s", out);
	}
}

/* Every truncation and every byte flip of a valid time either fails or
 * parses, never reading past the given length. */
Test(gotime, mutations)
{
	const char	*t = "2024-02-29T08:12:28.123456789+05:45";
	char		 m[64];
	size_t		 len = strlen(t), i;
	int64_t		 sec;
	int32_t		 nsec;
	int		 v;

	for (i = 0; i < len; i++) {
		memcpy(m, t, i);
		(void)gotime_parse(m, i, &sec, &nsec);
		for (v = 0; v < 256; v++) {
			memcpy(m, t, len);
			m[i] = (char)v;
			if (gotime_parse(m, len, &sec, &nsec) == 0)
				cr_assert(nsec >= 0 && nsec < 1000000000);
		}
	}
}

/* The seconds part is cached between calls: the same second with other
 * fractions, then another second, then the first again. */
Test(gotime, format_same_second_repeatedly)
{
	char out[GOTIME_MAX];

	cr_assert_str_eq(gotime_format(1700000000, 500000000, out),
	    "2023-11-14T22:13:20.5Z");
	cr_assert_str_eq(gotime_format(1700000000, 0, out),
	    "2023-11-14T22:13:20Z");
	cr_assert_str_eq(gotime_format(1700000000, 123, out),
	    "2023-11-14T22:13:20.000000123Z");
	cr_assert_str_eq(gotime_format(1700000001, 999999999, out),
	    "2023-11-14T22:13:21.999999999Z");
	cr_assert_str_eq(gotime_format(1700000000, 10, out),
	    "2023-11-14T22:13:20.00000001Z");
}
