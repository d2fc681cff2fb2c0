/*
 * The config's value syntaxes that are not plain strings: Go durations,
 * KES log levels, YAML booleans. Pure text parsers, no YAML.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/config.h"
#include "common/config_impl.h"
#include "common/log.h"

#define NS_MAX	((uint64_t)1 << 63)	/* Go's time.Duration limit, + 1 */

static const struct {
	const char	*name;
	uint64_t	 ns;
} units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "\xc2\xb5s", 1000 },		/* U+00B5 micro sign */
	{ "\xce\xbcs", 1000 },		/* U+03BC Greek mu */
	{ "ms", 1000000 },
	{ "s", 1000000000 },
	{ "m", 60 * (uint64_t)1000000000 },
	{ "h", 3600 * (uint64_t)1000000000 },
};

static int
leading_int(const char **sp, uint64_t *v)
{
	const char	*s = *sp;
	uint64_t	 x = 0;

	for (; *s >= '0' && *s <= '9'; s++) {
		if (x > (NS_MAX - 1) / 10)
			return -1;
		x = x * 10 + (uint64_t)(*s - '0');
		if (x > NS_MAX)
			return -1;
	}
	*sp = s;
	*v = x;
	return 0;
}

/* Like Go: digits past what fits are consumed but no longer counted. */
static void
leading_fraction(const char **sp, uint64_t *f, double *scale)
{
	const char	*s = *sp;
	bool		 overflow = false;

	*f = 0;
	*scale = 1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (overflow)
			continue;
		if (*f > (NS_MAX - 1) / 10) {
			overflow = true;
			continue;
		}
		*f = *f * 10 + (uint64_t)(*s - '0');
		*scale *= 10;
	}
	*sp = s;
}

/*
 * time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?unit)+ or "0". Negative values
 * are refused since no setting takes one. Non-zero values below a
 * millisecond round up to 1 ms: 0 means "off" or "default" to our callers,
 * which "500us" never meant.
 */
int
config_parse_duration(const char *s, uint64_t *ms)
{
	uint64_t	 d = 0, v, f, unit;
	double		 scale;
	const char	*u;
	size_t		 i, ulen;
	bool		 neg = false, pre, post;

	if (s == NULL)
		return -1;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	if (*s == '\0')
		return -1;
	while (*s != '\0') {
		if (!(*s == '.' || (*s >= '0' && *s <= '9')))
			return -1;
		u = s;
		if (leading_int(&s, &v) == -1)
			return -1;
		pre = s != u;
		post = false;
		f = 0;
		scale = 1;
		if (*s == '.') {
			u = ++s;
			leading_fraction(&s, &f, &scale);
			post = s != u;
		}
		if (!pre && !post)
			return -1;
		for (u = s; *s != '\0' && *s != '.' &&
		    !(*s >= '0' && *s <= '9'); s++)
			;
		ulen = (size_t)(s - u);
		if (ulen == 0)
			return -1;
		unit = 0;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strlen(units[i].name) == ulen &&
			    memcmp(units[i].name, u, ulen) == 0)
				unit = units[i].ns;
		if (unit == 0)
			return -1;
		if (v > NS_MAX / unit)
			return -1;
		v *= unit;
		if (f > 0) {
			v += (uint64_t)((double)f * ((double)unit / scale));
			if (v > NS_MAX)
				return -1;
		}
		d += v;
		if (d > NS_MAX)
			return -1;
	}
	if (neg && d > 0)
		return -1;
	if (d > NS_MAX - 1)
		return -1;
	*ms = d / 1000000 + (d % 1000000 != 0);
	return 0;
}

/* strconv.Atoi: optional sign, decimal digits, nothing else. */
static int
go_atoi(const char *s, long long *out)
{
	unsigned long long	 x = 0, lim;
	bool			 neg = false;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (*s == '\0')
		return -1;
	lim = neg ? (unsigned long long)INT64_MAX + 1 : INT64_MAX;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (x > (lim - (unsigned long long)(*s - '0')) / 10)
			return -1;
		x = x * 10 + (unsigned long long)(*s - '0');
	}
	if (neg)
		*out = x == (unsigned long long)INT64_MAX + 1 ? INT64_MIN :
		    -(long long)x;
	else
		*out = (long long)x;
	return 0;
}

/*
 * KES keeps a Go slog level: a threshold L that prints records of level
 * >= L, where DEBUG=-4, INFO=0, WARN=4, ERROR=8 and "off" is ERROR+1. Our
 * records come only at those four levels, so each L maps to the one of our
 * levels that prints exactly the same records (rounding L up to the next
 * slog level): L <= -4 DEBUG, -3..0 INFO, 1..4 WARN, 5..8 ERROR, > 8 OFF.
 * INFO+2 thus is WARN: slog would drop INFO records and keep WARN ones.
 */
static int
slog_to_level(long long l)
{
	if (l <= -4)
		return LOG_LVL_DEBUG;
	if (l <= 0)
		return LOG_LVL_INFO;
	if (l <= 4)
		return LOG_LVL_WARN;
	if (l <= 8)
		return LOG_LVL_ERROR;
	return LOG_LVL_OFF;
}

/* kesconf parseLogLevel: case-insensitive, trimmed, "" and on are INFO. */
int
config_parse_loglevel(const char *s, int *level)
{
	static const struct {
		const char	*name;
		long long	 slog;
	} names[] = {
		{ "DEBUG", -4 }, { "INFO", 0 }, { "WARN", 4 }, { "ERROR", 8 },
	};
	char		 buf[64], *e, *plus;
	size_t		 i, n;
	long long	 off, l;

	if (s == NULL)
		return -1;
	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n >= sizeof(buf))
		return -1;
	for (i = 0; i < n; i++)
		buf[i] = (char)toupper((unsigned char)s[i]);
	buf[n] = '\0';

	if (n == 0 || strcmp(buf, "ON") == 0) {
		*level = LOG_LVL_INFO;
		return 0;
	}
	if (strcmp(buf, "OFF") == 0) {
		*level = LOG_LVL_OFF;
		return 0;
	}
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strncmp(buf, names[i].name, strlen(names[i].name)) != 0)
			continue;
		if (strcmp(buf, names[i].name) == 0) {
			*level = slog_to_level(names[i].slog);
			return 0;
		}
		/* "<NAME> + <n>": spaces around the name only, as in Go. */
		if ((plus = strchr(buf, '+')) == NULL)
			return -1;
		*plus = '\0';
		for (e = plus; e > buf && isspace((unsigned char)e[-1]); e--)
			e[-1] = '\0';
		if (strcmp(buf, names[i].name) != 0)
			return -1;
		if (go_atoi(plus + 1, &off) == -1)
			return -1;
		if (__builtin_add_overflow(names[i].slog, off, &l))
			return -1;
		*level = slog_to_level(l);
		return 0;
	}
	if (go_atoi(buf, &l) == -1)
		return -1;
	*level = slog_to_level(l);
	return 0;
}

/*
 * yaml.v3 decodes YAML 1.2 booleans and, into a bool, the YAML 1.1 words
 * too; KES configs in the wild use both.
 */
int
cfg_parse_bool(const char *s, bool *b)
{
	if (strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
	    strcasecmp(s, "on") == 0) {
		*b = true;
		return 0;
	}
	if (strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
	    strcasecmp(s, "off") == 0) {
		*b = false;
		return 0;
	}
	return -1;
}
