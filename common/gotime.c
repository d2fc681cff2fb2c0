/* Go's time.RFC3339Nano in JSON: formatting and strict parsing, in UTC. */
#include <stdio.h>
#include <string.h>

#include "common/gotime.h"

#define NSEC_PER_SEC	1000000000LL
#define SEC_PER_DAY	86400LL

/*
 * Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's
 * civil algorithms). Unlike timegm/gmtime they cover every year Go's
 * time.Time does, year 1 (the zero time) included, and need no time zone
 * data. Valid for any day count of an int64 number of seconds.
 */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t	era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t	era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int
is_leap(int64_t y)
{
	return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static int
days_in(int m, int64_t y)
{
	static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/*
 * Go: appendInt(year, 4) pads to four digits after the sign ("-0001"),
 * then the fraction of .999999999 is printed with trailing zeros removed
 * and left out when zero. Go's MarshalJSON refuses years outside 0..9999;
 * this prints them anyway so the caller always gets a string.
 */
char *
gotime_format(int64_t sec, int32_t nsec, char out[GOTIME_MAX])
{
	/* Room for the fraction (10), 'Z' and the NUL after the seconds. */
	static char	last[GOTIME_MAX - 11];
	static int64_t	last_sec;
	static int	last_len;
	int64_t		days, rem, y;
	int		m, d, len, digits;
	char		frac[11];

	/* Normalise as time.Unix does, without overflowing. */
	if (nsec < 0 || nsec >= NSEC_PER_SEC) {
		int64_t carry = nsec / NSEC_PER_SEC;

		nsec %= NSEC_PER_SEC;
		if (nsec < 0) {
			nsec += NSEC_PER_SEC;
			carry--;
		}
		if ((carry > 0 && sec > INT64_MAX - carry) ||
		    (carry < 0 && sec < INT64_MIN - carry))
			carry = 0;
		sec += carry;
	}
	days = sec / SEC_PER_DAY;
	rem = sec % SEC_PER_DAY;
	if (rem < 0) {
		rem += SEC_PER_DAY;
		days--;
	}
	/* Every audit record formats the time: the seconds part is
	 * formatted once per second, the fraction by hand. */
	if (sec != last_sec || last_len == 0) {
		civil_from_days(days, &y, &m, &d);
		len = snprintf(last, sizeof(last),
		    "%s%04lld-%02d-%02dT%02d:%02d:%02d", y < 0 ? "-" : "",
		    (long long)(y < 0 ? -y : y), m, d, (int)(rem / 3600),
		    (int)(rem / 60 % 60), (int)(rem % 60));
		/* Truncated for years Go would refuse anyway. */
		last_len = len < 0 ? 0 : len < (int)sizeof(last) ? len :
		    (int)sizeof(last) - 1;
		last_sec = sec;
	}
	len = last_len;
	memcpy(out, last, (size_t)len);
	if (nsec != 0) {
		frac[0] = '.';
		for (digits = 9; digits > 0; digits--, nsec /= 10)
			frac[digits] = (char)('0' + nsec % 10);
		for (digits = 9; frac[digits] == '0'; digits--)
			;
		memcpy(out + len, frac, (size_t)digits + 1);
		len += digits + 1;
	}
	out[len++] = 'Z';
	out[len] = '\0';
	return out;
}

/* Digits [i, i + n) of s as a number in [min, max], or -1. */
static int
num(const char *s, size_t i, size_t n, int min, int max)
{
	int	x = 0;
	size_t	k;

	for (k = i; k < i + n; k++) {
		if (s[k] < '0' || s[k] > '9')
			return -1;
		x = x * 10 + (s[k] - '0');
	}
	return x < min || x > max ? -1 : x;
}

/*
 * Go's parseRFC3339 (the path time.Time.UnmarshalJSON takes for every
 * well-formed value): "YYYY-MM-DDThh:mm:ss", an optional '.' and one or more
 * digits (only the first nine count), then "Z" or "+hh:mm"/"-hh:mm" with
 * hh <= 23. Year 0..9999, the day checked against the month. s is the
 * string's content, without the JSON quotes.
 *
 * XXX Go falls back to time.Parse(RFC3339) when this fails, which also
 * takes a few sloppy forms (a one-digit hour, say) no Go program writes;
 * they are rejected here.
 */
int
gotime_parse(const char *s, size_t len, int64_t *sec, int32_t *nsec)
{
	int	year, mon, day, hh, mm, ss, zh, zm, n = 0, scale;
	size_t	i;
	int64_t	t;

	if (len < 19 || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
	    s[13] != ':' || s[16] != ':')
		return -1;
	if ((year = num(s, 0, 4, 0, 9999)) == -1 ||
	    (mon = num(s, 5, 2, 1, 12)) == -1 ||
	    (day = num(s, 8, 2, 1, days_in(mon, year))) == -1 ||
	    (hh = num(s, 11, 2, 0, 23)) == -1 ||
	    (mm = num(s, 14, 2, 0, 59)) == -1 ||
	    (ss = num(s, 17, 2, 0, 59)) == -1)
		return -1;
	i = 19;
	if (len - i >= 2 && s[i] == '.' && s[i + 1] >= '0' && s[i + 1] <= '9') {
		for (i++, scale = 0; i < len && s[i] >= '0' && s[i] <= '9';
		    i++, scale++)
			if (scale < 9)
				n = n * 10 + (s[i] - '0');
		for (; scale < 9; scale++)
			n *= 10;
	}
	t = days_from_civil(year, mon, day) * SEC_PER_DAY + hh * 3600 +
	    mm * 60 + ss;
	if (len - i == 1 && s[i] == 'Z')
		;
	else if (len - i == 6 && (s[i] == '+' || s[i] == '-') &&
	    s[i + 3] == ':' && (zh = num(s, i + 1, 2, 0, 23)) != -1 &&
	    (zm = num(s, i + 4, 2, 0, 59)) != -1)
		t -= (s[i] == '-' ? -1 : 1) * (int64_t)(zh * 3600 + zm * 60);
	else
		return -1;
	*sec = t;
	*nsec = n;
	return 0;
}
