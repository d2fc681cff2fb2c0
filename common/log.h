/*
 * Logging for every process. Lines go to stderr as
 *   2026-11-22T09:50:00Z keyward[worker 1234]: message
 * Children inherit the parent's stderr, so one stream reaches the operator.
 * Daemon code uses fatal/fatalx; library code in common/ returns errors.
 */
#ifndef KEYWARD_LOG_H
#define KEYWARD_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum log_level {
	LOG_LVL_OFF = -1,
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN = 1,
	LOG_LVL_INFO = 2,
	LOG_LVL_DEBUG = 3,
};

void	log_init(const char *role, int level);
/* Called with every line at INFO or more severe (no newline), e.g. to
 * forward it to the error-log stream. Not re-entered. */
typedef void (*log_hook_fn)(const char *line);
void	log_set_hook(log_hook_fn);
/* The error-log event {"message":"<line>"}; returns its length. */
size_t	log_event_json(const char *line, char *out, size_t outlen);
void	log_setrole(const char *role);
void	log_setlevel(int level);
int	log_getlevel(void);

void	fatal(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	fatalx(const char *, ...)
	    __attribute__((noreturn, format(printf, 1, 2)));
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	vlog(int level, int with_errno, const char *, va_list)
	    __attribute__((format(printf, 3, 0)));

#endif
