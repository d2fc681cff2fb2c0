/* Logging: role-prefixed lines on stderr, one write(2) per line. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/json_out.h"
#include "common/log.h"
#include "common/logquote.h"

static char	log_role[32] = "keyward";
static int	log_level = LOG_LVL_INFO;
static log_hook_fn log_hook;
static int	log_in_hook;

void
log_set_hook(log_hook_fn fn)
{
	log_hook = fn;
}

/*
 * {"message":"<line>"}: the error-log event of spec 3.6, the line escaped
 * as a JSON string (common/json_out.c). out needs 6 * strlen(line) + 16
 * bytes; with less, the message is left empty rather than cut.
 */
size_t
log_event_json(const char *line, char *out, size_t outlen)
{
	struct buf	b;
	size_t		n = 0;

	buf_init(&b, outlen - 1);
	if (buf_put(&b, "{\"message\":", 11) == -1 ||
	    json_str(&b, line) == -1 || buf_put_u8(&b, '}') == -1) {
		buf_reset(&b);
		/* When not even this fits, b stays empty and out is "". */
		buf_put(&b, "{\"message\":\"\"}", 14);
	}
	if (b.len < outlen) {
		memcpy(out, b.data, b.len);
		n = b.len;
	}
	out[n] = '\0';
	buf_release(&b);
	return n;
}

void
log_init(const char *role, int level)
{
	log_setrole(role);
	log_level = level;
}

void
log_setrole(const char *role)
{
	snprintf(log_role, sizeof(log_role), "%s", role);
}

void
log_setlevel(int level)
{
	log_level = level;
}

int
log_getlevel(void)
{
	return log_level;
}

static const char *
level_name(int level)
{
	switch (level) {
	case LOG_LVL_ERROR:	return "error";
	case LOG_LVL_WARN:	return "warning";
	case LOG_LVL_DEBUG:	return "debug";
	default:		return NULL;
	}
}

void
vlog(int level, int with_errno, const char *fmt, va_list ap)
{
	char		 line[2048], msg[1024], ts[32];
	const char	*lvl;
	struct tm	 tm;
	time_t		 now;
	int		 saved = errno, n, m;
	size_t		 mlen;

	if (level > log_level)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	lvl = level_name(level);
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	mlen = m < 0 ? 0 : (size_t)m >= sizeof(msg) ? sizeof(msg) - 1 :
	    (size_t)m;
	if (with_errno) {
		m = snprintf(msg + mlen, sizeof(msg) - mlen, ": %s",
		    strerror(saved));
		if (m > 0)
			mlen += (size_t)m;
		if (mlen >= sizeof(msg))
			mlen = sizeof(msg) - 1;
	}
	n = snprintf(line, sizeof(line), "%s keyward[%s %d]: %s%s", ts,
	    log_role, (int)getpid(), lvl ? lvl : "", lvl ? ": " : "");
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	/* A message may carry a client's bytes (a name, a path): no byte of
	 * a log line leaves printable ASCII. One byte stays for the \n. */
	n += (int)logquote(line + n, sizeof(line) - 1 - (size_t)n, msg, mlen,
	    false);
	/* Lines up to INFO also go to the /v1/log/error subscribers; the
	 * guard stops a failing hook from logging into itself. */
	if (log_hook != NULL && level <= LOG_LVL_INFO && !log_in_hook) {
		log_in_hook = 1;
		log_hook(line);
		log_in_hook = 0;
	}
	line[n++] = '\n';
	/* One write per line keeps lines from different processes whole. */
	(void)!write(STDERR_FILENO, line, n);
	errno = saved;
}

#define LOGFN(name, level, with_errno)			\
void							\
name(const char *fmt, ...)				\
{							\
	va_list ap;					\
	va_start(ap, fmt);				\
	vlog(level, with_errno, fmt, ap);		\
	va_end(ap);					\
}

LOGFN(log_warn, LOG_LVL_WARN, 1)
LOGFN(log_warnx, LOG_LVL_WARN, 0)
LOGFN(log_info, LOG_LVL_INFO, 0)
LOGFN(log_debug, LOG_LVL_DEBUG, 0)

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 1, fmt, ap);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_LVL_ERROR, 0, fmt, ap);
	va_end(ap);
	exit(1);
}
