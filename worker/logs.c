/*
 * The audit record of every request, and the /v1/log/audit and
 * /v1/log/error streams (spec 3.6, 10.2, 10.3).
 *
 * Each answered request gives one audit event: KES's JSON shape
 * {"time","request":{"ip","path","identity"},"response":{"code","time"}}
 * (response.time in milliseconds, as KES-HEAD) plus request.method,
 * request.route (the route's path) and request.key (the key named, on key
 * routes); clients that know only KES's fields ignore the others. It is
 * written as a text line to stdout (log.audit; the descriptor is kept from
 * before privileges dropped), and, while any worker has subscribers, sent
 * to the parent, which hands every event to every worker with subscribers.
 * A request body, key material or a plaintext never enters an event.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/gotime.h"
#include "common/log.h"
#include "common/logquote.h"
#include "common/msg.h"
#include "common/xmalloc.h"
#include "worker/metrics.h"
#include "worker/worker.h"

#define AUDIT_BATCH	(16u << 10)	/* pending audit bytes that flush */
#define AUDIT_BATCH_MAX	(1u << 20)	/* far above a batch plus a line */
#define STREAM_BACKLOG	(1u << 20)	/* a subscriber this far behind is
					 * dropped */

/* Keep the real stdout for audit lines: proc_harden() points fd 1 at
 * /dev/null. */
void
logs_init(void)
{
	w.audit_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 10);
	if (w.audit_fd == -1)
		log_warn("no stdout for audit lines");
	buf_init(&w.audit_out, AUDIT_BATCH_MAX);
}

/*
 * Audit lines collect during one turn of the event loop and go out in one
 * write when it ends (or when AUDIT_BATCH bytes are pending): one system
 * call for all the requests a turn answered, instead of one each. The
 * descriptor stays blocking, as KES's stdout was: a reader that stops
 * reading stops the worker rather than losing audit lines.
 */
void
logs_flush(void)
{
	const uint8_t	*p = buf_ptr(&w.audit_out);
	size_t		 left = buf_avail(&w.audit_out);
	ssize_t		 n;

	while (left > 0) {
		if ((n = write(w.audit_fd, p, left)) == -1) {
			if (errno == EINTR)
				continue;
			break;		/* lost: stdout is gone */
		}
		p += n;
		left -= (size_t)n;
	}
	buf_reset(&w.audit_out);
}

static void
put_cstr(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

/* The key a request is about, for key routes other than list; or NULL. */
static const char *
audit_key(const struct conn *c)
{
	size_t n;

	if (c->route == NULL || strncmp(c->route->path, "/v1/key/", 8) != 0 ||
	    strcmp(c->route->path, "/v1/key/list/") == 0)
		return NULL;
	n = strlen(c->route->path);
	return c->path != NULL && strncmp(c->path, c->route->path, n) == 0 ?
	    c->path + n : NULL;
}

/* The stdout line, in the text form of KES's console log (spec 10.2). */
static void
audit_line(struct conn *c, int status, uint64_t ms, const char *when)
{
	struct buf	*b = &w.audit_out;
	size_t		 save;

	if (w.audit_fd <= STDERR_FILENO || w.cf.audit_level < LOG_LVL_INFO)
		return;
	if (buf_avail(b) > AUDIT_BATCH)
		logs_flush();
	save = b->len;
	put_cstr(b, "time=");
	put_cstr(b, when);
	put_cstr(b, " level=INFO msg=audit req.method=");
	put_cstr(b, c->have_head ? http_method_name(c->req->method) : "-");
	put_cstr(b, " req.path=");
	logquote_buf(b, c->path ? c->path : "");
	put_cstr(b, " req.ip=");
	put_cstr(b, c->ip[0] ? c->ip : "-");
	if (c->route != NULL) {
		put_cstr(b, " req.route=");
		put_cstr(b, c->route->path);
	}
	if (audit_key(c) != NULL) {
		put_cstr(b, " req.key=");
		logquote_buf(b, audit_key(c));
	}
	put_cstr(b, " req.identity=");
	put_cstr(b, c->identity[0] ? c->identity : "-");
	put_cstr(b, " res.code=");
	buf_put_dec(b, (uint64_t)status);
	put_cstr(b, " res.time=");
	buf_put_dec(b, ms);
	put_cstr(b, "ms\n");
	if (b->failed) {
		/* The lines before stay whole; this one is not cut. */
		buf_truncate(b, save);
		log_warnx("cannot build the audit line of %s: it does not fit "
		    "its buffer", c->route ? c->route->path : "a request");
	}
}

void
audit_request(struct conn *c, int status)
{
	struct timespec	 ts;
	struct buf	 b, ev;
	char		 when[GOTIME_MAX];
	uint64_t	 ms = ev_now() - c->req_started;

	clock_gettime(CLOCK_REALTIME, &ts);
	gotime_format(ts.tv_sec, (int32_t)ts.tv_nsec, when);
	audit_line(c, status, ms, when);
	if (!w.log_on[LOG_STREAM_AUDIT] || !w.parent.open)
		return;
	buf_init(&ev, 1024 + 6 * (c->path ? strlen(c->path) : 0));
	put_cstr(&ev, "{\"time\":\"");
	put_cstr(&ev, when);
	put_cstr(&ev, "\",\"request\":{");
	if (c->ip[0]) {
		put_cstr(&ev, "\"ip\":");
		json_str(&ev, c->ip);
		put_cstr(&ev, ",");
	}
	put_cstr(&ev, "\"method\":");
	json_str(&ev, c->have_head ? http_method_name(c->req->method) : "");
	put_cstr(&ev, ",\"path\":");
	json_str(&ev, c->path ? c->path : "");
	if (c->route != NULL) {
		put_cstr(&ev, ",\"route\":");
		json_str(&ev, c->route->path);
	}
	if (audit_key(c) != NULL) {
		put_cstr(&ev, ",\"key\":");
		json_str(&ev, audit_key(c));
	}
	if (c->identity[0]) {
		put_cstr(&ev, ",\"identity\":");
		json_str(&ev, c->identity);
	}
	put_cstr(&ev, "},\"response\":{\"code\":");
	buf_put_dec(&ev, (uint64_t)status);
	put_cstr(&ev, ",\"time\":");
	buf_put_dec(&ev, ms);
	put_cstr(&ev, "}}");
	buf_put_u8(&ev, 0);
	if (ev.failed) {
		/* Not even NUL-terminated: nothing of it may be read. */
		log_warnx("cannot build %s: the audit event does not fit its "
		    "buffer", msg_name(MSG_LOG_EVENT));
		buf_release(&ev);
		return;
	}
	buf_init(&b, buf_avail(&ev) + 16);
	buf_put_u8(&b, LOG_STREAM_AUDIT);
	buf_put_str(&b, (const char *)buf_ptr(&ev));
	buf_release(&ev);
	(void)peer_send(&w.parent, MSG_LOG_EVENT, 0, &b);
	buf_release(&b);
}

/* --- streams -------------------------------------------------------------- */

static void
tell_parent(int stream)
{
	struct buf	b;
	struct conn	*c;
	bool		on = false;

	TAILQ_FOREACH(c, &w.conns, entry)
		if (c->stream == stream + 1)
			on = true;
	if (on == w.subscribed[stream])
		return;
	w.subscribed[stream] = on;
	buf_init(&b, 16);
	buf_put_u8(&b, (uint8_t)stream);
	buf_put_u8(&b, on);
	(void)peer_send(&w.parent, MSG_LOG_SUBSCRIBE, 0, &b);
	buf_release(&b);
}

/*
 * GET /v1/log/audit or /v1/log/error: 200 with a chunked ndjson body that
 * lasts until the client leaves (no route timeout, no idle timeout).
 */
void
logs_subscribe(struct conn *c, int stream)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
	    "Content-Type: application/x-ndjson\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";

	/* c->out was written out before the request was read. */
	if (buf_put(&c->out, head, sizeof(head) - 1) == -1) {
		log_warnx("cannot queue the head of a log stream");
		c->keep_alive = false;
		respond_error(c, 500, "internal error");
		return;
	}
	audit_request(c, 200);
	if (c->metered) {
		metrics_request_end(200, 0);
		c->metered = false;
	}
	c->stream = stream + 1;
	c->keep_alive = false;
	c->deadline = 0;
	c->state = CONN_STREAM;
	tell_parent(stream);
}

/* From conn_close(). */
void
logs_unsubscribe(struct conn *c)
{
	int stream = c->stream - 1;

	if (c->stream == 0)
		return;
	c->stream = 0;
	tell_parent(stream);
}

/* One event from the parent for every subscriber of its stream here. */
static void
logs_deliver(int stream, const char *ev, size_t len)
{
	struct conn	*c, *next;
	char		 hdr[32];
	int		 n;

	n = snprintf(hdr, sizeof(hdr), "%zx\r\n", len + 1);
	TAILQ_FOREACH_SAFE(c, &w.conns, entry, next) {
		if (c->stream != stream + 1)
			continue;
		if (buf_avail(&c->out) > STREAM_BACKLOG ||
		    buf_put(&c->out, hdr, n) == -1 ||
		    buf_put(&c->out, ev, len) == -1 ||
		    buf_put(&c->out, "\n\r\n", 3) == -1) {
			log_debug("log subscriber too slow; dropping it");
			conn_close(c);
			continue;
		}
		metrics_log_event(stream);
		conn_drive(c);
	}
}

/* LOG_EVENT from the parent: u8 stream, str event. */
int
parent_log_event(struct peer *p, struct ipc_msg *m)
{
	uint8_t		 stream;
	const char	*ev;
	size_t		 len;

	if (buf_get_u8(&m->payload, &stream) == -1 ||
	    stream > LOG_STREAM_ERROR ||
	    buf_get_str(&m->payload, &ev, &len) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	logs_deliver(stream, ev, strlen(ev));
	return 0;
}

/* LOG_SUBSCRIBE from the parent: u8 stream, u8 on: whether any worker has
 * subscribers, so whether audit events are worth sending. */
int
parent_log_subscribe(struct peer *p, struct ipc_msg *m)
{
	uint8_t	stream;
	bool	on;

	if (buf_get_u8(&m->payload, &stream) == -1 ||
	    stream > LOG_STREAM_ERROR ||
	    buf_get_bool(&m->payload, &on) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	w.log_on[stream] = on;
	return 0;
}
