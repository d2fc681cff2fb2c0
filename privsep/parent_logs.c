/*
 * The parent as the hub of the log streams (spec 3.6): which workers
 * subscribe to /v1/log/audit or /v1/log/error, and every error-log line
 * of every process passed on to them.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "common/dirs.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/metrics_region.h"
#include "common/msg.h"
#include "common/peer.h"
#include "common/policy.h"
#include "common/proc.h"
#include "common/slice.h"
#include "common/tls.h"
#include "common/xmalloc.h"
#include "keystore-agent/stores.h"
#include "privsep/dev.h"
#include "privsep/devpki.h"
#include "privsep/files.h"
#include "privsep/parent.h"
#include "privsep/parent_int.h"

/* --- the log streams' hub ------------------------------------------ */

/* LOG_SUBSCRIBE to a worker: u8 stream, u8 on. */
void
send_log_on(struct child *c, unsigned int stream)
{
	struct buf b;

	buf_init(&b, 16);
	buf_put_u8(&b, (uint8_t)stream);
	buf_put_u8(&b, ps.log_on[stream]);
	(void)peer_send(&c->ctl, MSG_LOG_SUBSCRIBE, 0, &b);
	buf_release(&b);
}

/* Whether any worker has subscribers changed: tell every worker, so they
 * send audit events only while someone listens. */
void
log_subs_changed(unsigned int stream)
{
	unsigned int	i;
	bool		on = false;

	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].subs[stream])
			on = true;
	if (on == ps.log_on[stream])
		return;
	ps.log_on[stream] = on;
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].state == CHILD_READY)
			send_log_on(&ps.workers[i], stream);
}

/* An event (one JSON object) to every worker with subscribers. */
static void
log_broadcast(unsigned int stream, const struct buf *payload)
{
	unsigned int i;

	if (!ps.log_on[stream])
		return;
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].subs[stream] && ps.workers[i].ctl.open)
			(void)peer_send(&ps.workers[i].ctl, MSG_LOG_EVENT, 0,
			    payload);
}

/* LOG_EVENT: u8 stream, str event. Audit events come from workers only;
 * error lines from any child. */
int
child_log_event(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	struct buf	 v;
	uint8_t		 stream;
	const char	*ev;

	buf_view(&v, m->payload.data, m->payload.len);
	if (buf_get_u8(&v, &stream) == -1 || stream > LOG_STREAM_ERROR ||
	    (stream == LOG_STREAM_AUDIT && c->role != ROLE_WORKER) ||
	    buf_get_str(&v, &ev, NULL) == -1 || buf_end(&v) == -1)
		return -1;
	log_broadcast(stream, &m->payload);
	return 0;
}

/* LOG_SUBSCRIBE from a worker: u8 stream, u8 on. */
int
child_log_subscribe(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	uint8_t		 stream;
	bool		 on;

	if (c->role != ROLE_WORKER ||
	    buf_get_u8(&m->payload, &stream) == -1 ||
	    stream > LOG_STREAM_ERROR ||
	    buf_get_bool(&m->payload, &on) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	c->subs[stream] = on;
	log_subs_changed(stream);
	return 0;
}

/* The parent's own lines join the error stream directly. */
void
parent_log_hook(const char *line)
{
	char		ev[6 * 1024 + 32];
	struct buf	b;

	if (!ps.log_on[LOG_STREAM_ERROR])
		return;
	(void)log_event_json(line, ev, sizeof(ev));
	buf_init(&b, sizeof(ev) + 16);
	buf_put_u8(&b, LOG_STREAM_ERROR);
	buf_put_str(&b, ev);
	log_broadcast(LOG_STREAM_ERROR, &b);
	buf_release(&b);
}

/* Close every descriptor from 'from' on; the fixed slots are below it. */
