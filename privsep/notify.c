/*
 * sd_notify without libsystemd: the protocol is a datagram of
 * "VAR=value\n" lines sent to $NOTIFY_SOCKET, a path or, with a leading
 * '@', an abstract socket name (sd_notify(3), systemd's own
 * src/libsystemd/sd-daemon/sd-daemon.c). The parent is the unit's main
 * process, so NotifyAccess=main (the default) is enough.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "privsep/notify.h"

#define NOTIFY_MAX	1024

static struct {
	int			 fd;
	struct sockaddr_un	 sun;
	socklen_t		 len;
	bool			 warned;
} nt = { .fd = -1 };

void
notify_init(void)
{
	const char	*v = getenv("NOTIFY_SOCKET");
	size_t		 n;

	if (v == NULL || v[0] == '\0')
		return;
	n = strlen(v);
	if ((v[0] != '/' && v[0] != '@') || n < 2 ||
	    n >= sizeof(nt.sun.sun_path)) {
		log_warnx("NOTIFY_SOCKET '%.*s' is not a path or an abstract "
		    "socket name; systemd will not hear that keyward is "
		    "ready", 64, v);
		unsetenv("NOTIFY_SOCKET");
		return;
	}
	memset(&nt.sun, 0, sizeof(nt.sun));
	nt.sun.sun_family = AF_UNIX;
	memcpy(nt.sun.sun_path, v, n);
	if (v[0] == '@')
		nt.sun.sun_path[0] = '\0';
	nt.len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	/* The children get a clean environment anyway (exec_child). */
	unsetenv("NOTIFY_SOCKET");
	if ((nt.fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		log_warn("notify socket");
}

void
notify_send(const char *fmt, ...)
{
	char	 msg[NOTIFY_MAX];
	va_list	 ap;
	int	 n;

	if (nt.fd == -1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	if (sendto(nt.fd, msg, (size_t)n, MSG_NOSIGNAL,
	    (struct sockaddr *)&nt.sun, nt.len) == -1 && !nt.warned) {
		nt.warned = true;	/* once: the manager may be gone */
		log_warn("cannot notify systemd");
	}
}

void
notify_status(const char *what, const char *detail)
{
	char	 line[NOTIFY_MAX / 2];
	size_t	 i;

	(void)snprintf(line, sizeof(line), "%s%s%s", what,
	    detail != NULL && detail[0] != '\0' ? ": " : "",
	    detail != NULL ? detail : "");
	/* A newline would start a line of its own, e.g. READY=1. */
	for (i = 0; line[i] != '\0'; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	notify_send("STATUS=%s", line);
}

void
notify_reloading(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	notify_send("RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the "
	    "configuration", (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000);
}
