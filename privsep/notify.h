/*
 * systemd's readiness protocol (sd_notify(3)), for Type=notify units: one
 * datagram of newline-separated VAR=value lines to the AF_UNIX socket
 * named by $NOTIFY_SOCKET. Written here rather than linked from
 * libsystemd: it is one sendto. Without NOTIFY_SOCKET every call is a
 * no-op. Parent only.
 */
#ifndef KEYWARD_NOTIFY_H
#define KEYWARD_NOTIFY_H

/* Read and unset NOTIFY_SOCKET; open the socket. Logs and carries on
 * without notifications when the variable cannot be used. */
void	notify_init(void);
/* Send the lines (printf format, no trailing newline needed). */
void	notify_send(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2)));
/* "STATUS=<text>", the text made one line. */
void	notify_status(const char *what, const char *detail);
/* RELOADING=1 with MONOTONIC_USEC= (systemd 253's notify-reload wants
 * it; older managers ignore it). */
void	notify_reloading(void);

#endif
