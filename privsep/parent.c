/*
 * The parent: reads the configuration, opens what the children need (the
 * listener, TLS files, directories), fork+execs every child with its role
 * on fixed descriptors, hands each its slice of the configuration, wires
 * the children to each other, and supervises them from the event loop.
 * It holds no master key and answers no client.
 *
 * Peers (one control channel per child) and the messages accepted:
 *   any child   MSG_HELLO (once, first), MSG_READY (once), MSG_RELOAD_DONE
 *
 * Signals arrive through a signalfd, so nothing runs in signal context:
 *   SIGCHLD          reap, log the cause, restart with backoff
 *   SIGTERM, SIGINT  stop accepting, let workers finish, exit 0
 *   SIGHUP           reload; on any error keep the running configuration
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

#define MAX_WORKERS		256
#define BACKOFF_MIN_MS		100
#define BACKOFF_MAX_MS		5000
#define STABLE_MS		10000	/* a child up this long resets backoff */
#define START_TIMEOUT_MS	15000
#define STOP_TIMEOUT_MS		10000

enum child_state {
	CHILD_DOWN = 0,
	CHILD_STARTING,		/* forked; waiting for HELLO */
	CHILD_CONFIGURED,	/* CONFIG sent; waiting for READY */
	CHILD_READY,
};

struct child {
	enum proc_role		 role;
	uint32_t		 index;
	pid_t			 pid;
	enum child_state	 state;
	struct peer		 ctl;
	uint64_t		 spawned;	/* ev_now() */
	unsigned int		 failures;
	struct ev_timer		 timer;		/* restart or start timeout */
	unsigned int		 cf_gen;	/* configuration it was sent */
	bool			 subs[2];	/* worker: log subscribers */
};

static int	child_hello(struct peer *, struct ipc_msg *);
static int	child_ready(struct peer *, struct ipc_msg *);
static int	child_reload_done(struct peer *, struct ipc_msg *);
static int	child_log_event(struct peer *, struct ipc_msg *);
static int	child_log_subscribe(struct peer *, struct ipc_msg *);

static const struct peer_dispatch child_dispatch[] = {
	{ MSG_HELLO,		child_hello },
	{ MSG_READY,		child_ready },
	{ MSG_RELOAD_DONE,	child_reload_done },
	{ MSG_LOG_EVENT,	child_log_event },
	{ MSG_LOG_SUBSCRIBE,	child_log_subscribe },
	{ 0, NULL }
};

static struct {
	struct config		*cf;
	struct tls_files	 tls;
	struct child		 crypto;
	struct child		 agent;
	struct child		*workers;
	unsigned int		 nworkers;
	int			 listen_fd;
	char			 exe[PATH_MAX];
	uint64_t		 started_ns;
	bool			 root;
	bool			 serving;	/* every child was ready once */
	bool			 stopping;
	bool			 sandbox_debug;
	bool			 foreground;
	int			 sigfd;
	struct ev_io		 sigio;
	struct ev_timer		 stop_timer;
	uint32_t		 reload_seq;
	unsigned int		 cf_gen;	/* bumped by every reload */
	struct devpki		 dev;
	bool			 is_dev;
	int			 metrics_fd;	/* the workers' shared counters */
	bool			 log_on[2];	/* some worker subscribes */
} ps;

static void	child_spawn(struct child *);
static void	send_reload(struct child *);
static void	children_foreach(void (*)(struct child *));
static void	send_log_on(struct child *, unsigned int);

static uint64_t
realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *
child_name(const struct child *c)
{
	static char name[32];

	if (c->role == ROLE_WORKER)
		snprintf(name, sizeof(name), "worker %u", c->index);
	else
		snprintf(name, sizeof(name), "%s", role_name(c->role));
	return name;
}

/* --- configuration slices ------------------------------------------ */

static bool
any_skip_auth(const struct config *cf)
{
	size_t i;

	for (i = 0; i < cf->napi; i++)
		if (cf->api[i].skip_auth)
			return true;
	return false;
}

static int
put_config(struct buf *b, const struct child *c)
{
	struct worker_slice	ws;
	struct crypto_slice	cs;
	struct agent_slice	as;
	struct buf		ksb;
	char			*skip[256];
	size_t			 i;
	int			r;

	switch (c->role) {
	case ROLE_WORKER:
		memset(&ws, 0, sizeof(ws));
		ws.index = c->index;
		ws.started_ns = ps.started_ns;
		ws.log_level = ps.cf->log.error;
		ws.audit_level = ps.cf->log.audit;
		ws.tls_auth = ps.cf->tls.auth;
		ws.cert = ps.tls.cert;
		ws.key = ps.tls.key;
		ws.password = ps.cf->tls.password ? ps.cf->tls.password : "";
		ws.ca = ps.tls.ca;
		policy_set_copy(&ws.pol, ps.cf);
		ws.api = ps.cf->api;
		ws.napi = ps.cf->napi;
		r = worker_slice_put(b, &ws);
		policy_set_free(&ws.pol);
		return r;
	case ROLE_CRYPTO:
		memset(&cs, 0, sizeof(cs));
		cs.log_level = ps.cf->log.error;
		cs.started_ns = ps.started_ns;
		policy_set_copy(&cs.pol, ps.cf);
		cs.cache_any_ms = ps.cf->cache.any_ms;
		cs.cache_unused_ms = ps.cf->cache.unused_ms;
		cs.cache_offline_ms = ps.cf->cache.offline_ms;
		cs.keys = ps.cf->keys;
		cs.nkeys = ps.cf->nkeys;
		/* The crypto process skips its own policy check exactly
		 * where the worker skips authentication. */
		cs.skip_auth = skip;
		for (i = 0; i < ps.cf->napi && cs.nskip_auth < 256; i++)
			if (ps.cf->api[i].skip_auth)
				skip[cs.nskip_auth++] = ps.cf->api[i].path;
		r = crypto_slice_put(b, &cs);
		policy_set_free(&cs.pol);
		return r;
	case ROLE_AGENT:
		/* The store's own settings, in its own layout. */
		memset(&as, 0, sizeof(as));
		as.log_level = ps.cf->log.error;
		as.kind = ps.cf->keystore.kind;
		buf_init(&ksb, IPC_MAX_CONTROL);
		if (ks_settings_put(&ksb, &ps.cf->keystore) == -1) {
			buf_release(&ksb);
			return -1;
		}
		as.settings = ksb.data;
		as.settings_len = ksb.len;
		r = agent_slice_put(b, &as);
		buf_release(&ksb);
		return r;
	default:
		return -1;
	}
}

/* --- wiring children to each other --------------------------------- */

/* PEER: u8 role, u32 index of the other end; the descriptor. */
static void
send_peer(struct child *to, const struct child *other, int fd)
{
	struct buf b;

	buf_init(&b, 16);
	(void)proc_peer_put(&b, other->role, other->index);
	if (peer_send_fd(&to->ctl, MSG_PEER, 0, &b, fd) == -1)
		log_warnx("cannot pass a channel to %s: %s", child_name(to),
		    to->ctl.ch.error);
	buf_release(&b);
}

static void
wire(struct child *a, struct child *b)
{
	int sv[2];

	if (a->state != CHILD_READY || b->state != CHILD_READY)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1) {
		log_warn("socketpair");
		return;
	}
	send_peer(a, b, sv[0]);
	send_peer(b, a, sv[1]);
	close(sv[0]);
	close(sv[1]);
}

/* --- supervision ----------------------------------------------------- */

static bool
all_ready(void)
{
	unsigned int i;

	if (ps.crypto.state != CHILD_READY || ps.agent.state != CHILD_READY)
		return false;
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].state != CHILD_READY)
			return false;
	return true;
}

static void
restart_cb(struct ev_timer *t)
{
	child_spawn(t->arg);
}

static void
start_timeout_cb(struct ev_timer *t)
{
	struct child *c = t->arg;

	log_warnx("%s did not become ready in %d s; killing it",
	    child_name(c), START_TIMEOUT_MS / 1000);
	if (c->pid > 0)
		kill(c->pid, SIGKILL);
}

static void
child_lost(struct peer *p, const char *why)
{
	struct child *c = p->arg;

	peer_close(p);
	if (why != NULL && c->pid > 0) {
		log_warnx("%s: %s; killing it", child_name(c), why);
		kill(c->pid, SIGKILL);
	}
}

/* HELLO: u32 protocol version, str build id. */
static int
child_hello(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	struct proc_opts opts;
	struct buf	 b;
	const char	*why;

	if (c->state != CHILD_STARTING)
		return -1;
	if ((why = proc_check_hello(&m->payload)) != NULL) {
		p->ch.error = why;
		return -1;
	}
	memset(&opts, 0, sizeof(opts));
	opts.user = ps.cf->server.user;
	opts.chroot = ps.cf->server.chroot;
	opts.mlock = ps.cf->server.mlock;
	opts.sandbox_debug = ps.sandbox_debug;
	opts.foreground = ps.foreground;
	buf_init(&b, IPC_MAX_CONTROL);
	if (proc_opts_put(&b, &opts) == -1 || put_config(&b, c) == -1 ||
	    peer_send(p, MSG_CONFIG, 0, &b) == -1) {
		buf_release(&b);
		p->ch.error = "configuration does not fit in a frame";
		return -1;
	}
	buf_release(&b);	/* wiped: the worker slice holds the TLS key */
	c->state = CHILD_CONFIGURED;
	c->cf_gen = ps.cf_gen;
	return 0;
}

static int
child_ready(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	unsigned int	 i;

	if (c->state != CHILD_CONFIGURED || buf_end(&m->payload) == -1)
		return -1;
	c->state = CHILD_READY;
	ev_timer_cancel(&c->timer);
	/* A reload while it was starting: it has the old configuration. */
	if (c->cf_gen != ps.cf_gen)
		send_reload(c);
	log_debug("%s ready (pid %d)", child_name(c), (int)c->pid);
	switch (c->role) {
	case ROLE_CRYPTO:
		wire(&ps.crypto, &ps.agent);
		for (i = 0; i < ps.nworkers; i++)
			wire(&ps.crypto, &ps.workers[i]);
		break;
	case ROLE_WORKER:
		for (i = 0; i < 2; i++)
			if (ps.log_on[i])
				send_log_on(c, i);
		/* FALLTHROUGH */
	case ROLE_AGENT:
		wire(&ps.crypto, c);
		break;
	default:
		break;
	}
	if (!ps.serving && all_ready()) {
		ps.serving = true;
		log_info("serving on %s with %u workers", ps.cf->address,
		    ps.nworkers);
	}
	return 0;
}

/* RELOAD_DONE: u8 ok, str reason. */
static int
child_reload_done(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	bool		 ok;
	const char	*why;

	if (buf_get_bool(&m->payload, &ok) == -1 ||
	    buf_get_str(&m->payload, &why, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	if (!ok)
		log_warnx("%s kept its configuration: %s", child_name(c), why);
	return 0;
}

/* --- the log streams' hub ------------------------------------------ */

/* LOG_SUBSCRIBE to a worker: u8 stream, u8 on. */
static void
send_log_on(struct child *c, unsigned int stream)
{
	struct buf b;

	buf_init(&b, 16);
	(void)buf_put_u8(&b, (uint8_t)stream);
	(void)buf_put_u8(&b, ps.log_on[stream]);
	(void)peer_send(&c->ctl, MSG_LOG_SUBSCRIBE, 0, &b);
	buf_release(&b);
}

/* Whether any worker has subscribers changed: tell every worker, so they
 * send audit events only while someone listens. */
static void
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
static int
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
static int
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
static void
parent_log_hook(const char *line)
{
	char		ev[6 * 1024 + 32];
	struct buf	b;

	if (!ps.log_on[LOG_STREAM_ERROR])
		return;
	(void)log_event_json(line, ev, sizeof(ev));
	buf_init(&b, sizeof(ev) + 16);
	(void)buf_put_u8(&b, LOG_STREAM_ERROR);
	(void)buf_put_str(&b, ev);
	log_broadcast(LOG_STREAM_ERROR, &b);
	buf_release(&b);
}

/* Close every descriptor from 'from' on; the fixed slots are below it. */
static void
close_from(int from)
{
	if (close_range(from, ~0U, 0) == 0)
		return;
	for (int fd = from; fd < 1024; fd++)
		(void)close(fd);
}

static void
exec_child(const struct child *c, int ctl)
{
	char		 idx[16], *argv[4], *envp[8];
	const char	*keep[] = { "ASAN_OPTIONS", "UBSAN_OPTIONS",
			    "LSAN_OPTIONS", "TZ", NULL };
	sigset_t	 none;
	int		 hi_ctl, hi_lst = -1, hi_met = -1, n = 0, i;

	/*
	 * Move the fixed descriptors above the fixed numbers (never onto
	 * one another), then into place. Not at a high number: that fails
	 * under a low RLIMIT_NOFILE.
	 */
	if ((hi_ctl = fcntl(ctl, F_DUPFD, FD_METRICS + 1)) == -1 ||
	    (c->role == ROLE_WORKER &&
	    (hi_lst = fcntl(ps.listen_fd, F_DUPFD, FD_METRICS + 1)) == -1) ||
	    (c->role == ROLE_WORKER &&
	    (hi_met = fcntl(ps.metrics_fd, F_DUPFD, FD_METRICS + 1)) == -1) ||
	    dup2(hi_ctl, FD_PARENT) == -1 ||
	    (hi_lst != -1 && dup2(hi_lst, FD_LISTEN) == -1) ||
	    (hi_met != -1 && dup2(hi_met, FD_METRICS) == -1)) {
		log_warn("%s: descriptor setup", child_name(c));
		_exit(127);
	}
	close_from(c->role == ROLE_WORKER ? FD_METRICS + 1 : FD_PARENT + 1);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);

	/* The environment may hold ${VAR} secrets: children get none. */
	for (i = 0; keep[i] != NULL; i++) {
		const char *v = getenv(keep[i]);
		if (v != NULL)
			xasprintf(&envp[n++], "%s=%s", keep[i], v);
	}
	envp[n] = NULL;
	argv[0] = "keyward";
	argv[1] = (char *)role_name(c->role);
	argv[2] = NULL;
	if (c->role == ROLE_WORKER) {
		snprintf(idx, sizeof(idx), "%u", c->index);
		argv[2] = idx;
	}
	argv[3] = NULL;
	execve(ps.exe, argv, envp);
	log_warn("%s: execve %s", child_name(c), ps.exe);
	_exit(127);
}

static void
child_spawn(struct child *c)
{
	int	sv[2];
	pid_t	pid;

	if (ps.stopping)
		return;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		fatal("socketpair");
	switch ((pid = fork())) {
	case -1:
		log_warn("fork %s", child_name(c));
		close(sv[0]);
		close(sv[1]);
		ev_timer_set(&c->timer, BACKOFF_MAX_MS, restart_cb, c);
		return;
	case 0:
		close(sv[0]);
		exec_child(c, sv[1]);
		/* NOTREACHED */
	}
	close(sv[1]);
	c->pid = pid;
	c->state = CHILD_STARTING;
	c->spawned = ev_now();
	peer_open(&c->ctl, sv[0], IPC_MAX_CONTROL, true, c->role, c->index,
	    child_dispatch, child_lost, c);
	ev_timer_set(&c->timer, START_TIMEOUT_MS, start_timeout_cb, c);
	log_debug("started %s (pid %d)", child_name(c), (int)pid);
}

static void
describe_exit(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s",
		    WTERMSIG(status), strsignal(WTERMSIG(status)),
		    WTERMSIG(status) == SIGSYS ? ": the sandbox blocked a "
		    "system call; run with KEYWARD_SANDBOX_DEBUG=1 to name it"
		    : "");
	else
		snprintf(buf, len, "stopped (status %#x)", status);
}

static struct child *
child_by_pid(pid_t pid)
{
	unsigned int i;

	if (ps.crypto.pid == pid)
		return &ps.crypto;
	if (ps.agent.pid == pid)
		return &ps.agent;
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].pid == pid)
			return &ps.workers[i];
	return NULL;
}

static bool
any_alive(bool workers_only)
{
	unsigned int i;

	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].pid > 0)
			return true;
	return !workers_only && (ps.crypto.pid > 0 || ps.agent.pid > 0);
}

static void
send_shutdown(struct child *c)
{
	if (c->pid > 0 && c->ctl.open)
		(void)peer_send(&c->ctl, MSG_SHUTDOWN, 0, NULL);
}

static void
stop_progress(void)
{
	if (any_alive(true))
		return;
	/* Workers are gone: nothing can ask crypto or the agent anymore. */
	send_shutdown(&ps.crypto);
	send_shutdown(&ps.agent);
	if (!any_alive(false)) {
		/* The dev server's files include its admin API key. */
		if (ps.is_dev && tree_remove(ps.dev.dir) == -1)
			log_warn("cannot remove %s", ps.dev.dir);
		log_info("stopped");
		exit(0);
	}
}

static void
child_exited(struct child *c, int status)
{
	char		how[160];
	uint64_t	delay;
	bool		clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;

	describe_exit(status, how, sizeof(how));
	peer_close(&c->ctl);
	ev_timer_cancel(&c->timer);
	c->pid = 0;
	c->state = CHILD_DOWN;
	if (c->role == ROLE_WORKER) {	/* its subscribers are gone */
		c->subs[LOG_STREAM_AUDIT] = c->subs[LOG_STREAM_ERROR] = false;
		log_subs_changed(LOG_STREAM_AUDIT);
		log_subs_changed(LOG_STREAM_ERROR);
	}
	if (ps.stopping) {
		if (!clean)
			log_warnx("%s %s while stopping", child_name(c), how);
		stop_progress();
		return;
	}
	log_warnx("%s %s", child_name(c), how);
	if (!ps.serving)
		fatalx("%s failed to start; see its error above",
		    child_name(c));
	if (ev_now() - c->spawned > STABLE_MS)
		c->failures = 0;
	delay = BACKOFF_MIN_MS << (c->failures < 6 ? c->failures : 6);
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	c->failures++;
	log_info("restarting %s in %llu ms", child_name(c),
	    (unsigned long long)delay);
	ev_timer_set(&c->timer, delay, restart_cb, c);
}

static void
reap(void)
{
	struct child	*c;
	pid_t		 pid;
	int		 status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if ((c = child_by_pid(pid)) != NULL)
			child_exited(c, status);
}

static void
stop_timeout_cb(struct ev_timer *t)
{
	unsigned int i;

	log_warnx("children did not stop in %d s; killing them",
	    STOP_TIMEOUT_MS / 1000);
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].pid > 0)
			kill(ps.workers[i].pid, SIGKILL);
	if (ps.crypto.pid > 0)
		kill(ps.crypto.pid, SIGKILL);
	if (ps.agent.pid > 0)
		kill(ps.agent.pid, SIGKILL);
}

static void
begin_stop(int sig)
{
	unsigned int i;

	if (ps.stopping)
		return;
	ps.stopping = true;
	log_info("received %s; stopping", strsignal(sig));
	close(ps.listen_fd);
	ps.listen_fd = -1;
	for (i = 0; i < ps.nworkers; i++) {
		ev_timer_cancel(&ps.workers[i].timer);
		send_shutdown(&ps.workers[i]);
	}
	ev_timer_cancel(&ps.crypto.timer);
	ev_timer_cancel(&ps.agent.timer);
	ev_timer_set(&ps.stop_timer, STOP_TIMEOUT_MS, stop_timeout_cb, NULL);
	stop_progress();
}

/* --- reload ------------------------------------------------------------ */

static void
warn_fixed(const char *what, const char *old, const char *new)
{
	if (strcmp(old ? old : "", new ? new : "") != 0)
		log_warnx("reload: %s changed; it takes effect only after a "
		    "restart", what);
}

/* Whether two key-store sections give the agent the same settings (the
 * store's own encoding decides what counts). */
static bool
keystore_same(const struct keystore_cfg *a, const struct keystore_cfg *b)
{
	struct buf	ba, bb;
	bool		same;

	buf_init(&ba, IPC_MAX_CONTROL);
	buf_init(&bb, IPC_MAX_CONTROL);
	same = a->kind == b->kind && ks_settings_put(&ba, a) == 0 &&
	    ks_settings_put(&bb, b) == 0 && ba.len == bb.len &&
	    memcmp(ba.data, bb.data, ba.len) == 0;
	buf_release(&ba);
	buf_release(&bb);
	return same;
}

static void
send_reload(struct child *c)
{
	struct buf b;

	if (c->state != CHILD_READY)
		return;	/* a child still starting gets the new CONFIG */
	buf_init(&b, IPC_MAX_CONTROL);
	if (put_config(&b, c) == -1 ||
	    peer_send(&c->ctl, MSG_RELOAD, ++ps.reload_seq, &b) == -1)
		log_warnx("cannot send the new configuration to %s",
		    child_name(c));
	else
		c->cf_gen = ps.cf_gen;
	buf_release(&b);
}

static int
check_tls(const struct config *cf, const struct tls_files *t, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;

	ctx = tls_server_ctx(&t->cert, &t->key, cf->tls.password, &t->ca,
	    cf->tls.auth, any_skip_auth(cf), err, errlen);
	if (ctx == NULL)
		return -1;
	SSL_CTX_free(ctx);
	return 0;
}

static void
reload(void)
{
	struct config		*ncf;
	struct tls_files	 nt;
	struct keystore_cfg	 ks;
	char			 err[CONFIG_ERRLEN];
	size_t			 i;

	if (ps.is_dev) {
		log_info("reload: the development server has no "
		    "configuration file; nothing to do");
		return;
	}
	log_info("reloading %s", ps.cf->file);
	if (config_load(ps.cf->file, &ncf, err, sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration:"
		    " %s", err);
		return;
	}
	for (i = 0; i < ncf->nwarnings; i++)
		log_warnx("%s", ncf->warnings[i]);
	if (tls_files_read(ncf, &nt, err, sizeof(err)) == -1 ||
	    check_tls(ncf, &nt, err, sizeof(err)) == -1) {
		log_warnx("reload failed, keeping the running configuration:"
		    " %s", err);
		config_free(ncf);
		return;
	}
	warn_fixed("address", ps.cf->address, ncf->address);
	warn_fixed("server.user", ps.cf->server.user, ncf->server.user);
	warn_fixed("server.chroot", ps.cf->server.chroot, ncf->server.chroot);
	if (!keystore_same(&ps.cf->keystore, &ncf->keystore))
		log_warnx("reload: keystore changed; it takes effect only "
		    "after a restart");
	if (ncf->server.workers != ps.cf->server.workers)
		log_warnx("reload: server.workers changed; it takes effect "
		    "only after a restart");
	/* What cannot change now keeps its running value. */
	free(ncf->address);
	ncf->address = xstrdup(ps.cf->address);
	ks = ncf->keystore;
	ncf->keystore = ps.cf->keystore;
	ps.cf->keystore = ks;
	free(ncf->server.user);
	ncf->server.user = xstrdup(ps.cf->server.user);
	free(ncf->server.chroot);
	ncf->server.chroot = xstrdup(ps.cf->server.chroot);
	ncf->server.workers = ps.cf->server.workers;

	config_free(ps.cf);
	tls_files_free(&ps.tls);
	ps.cf = ncf;
	ps.tls = nt;
	ps.cf_gen++;
	log_setlevel(ps.cf->log.error);
	children_foreach(send_reload);
	log_info("configuration reloaded");
}

/* --- signals and main ------------------------------------------------- */

static void
signal_event(struct ev_io *io, uint32_t events)
{
	struct signalfd_siginfo	si;
	ssize_t			n;

	while ((n = read(ps.sigfd, &si, sizeof(si))) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGCHLD:
			reap();
			break;
		case SIGTERM:
		case SIGINT:
			begin_stop(si.ssi_signo);
			break;
		case SIGHUP:
			if (!ps.stopping)
				reload();
			break;
		}
	}
}

static void
children_foreach(void (*fn)(struct child *))
{
	unsigned int i;

	fn(&ps.agent);
	fn(&ps.crypto);
	for (i = 0; i < ps.nworkers; i++)
		fn(&ps.workers[i]);
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: keyward server --config FILE [--addr IP:PORT]\n"
	    "       keyward server --dev [--addr IP:PORT]\n"
	    "\n"
	    "  --config FILE   KES-compatible YAML configuration\n"
	    "  --addr IP:PORT  listen address (overrides `address`)\n"
	    "  --dev           throw-away CA, certificates, admin API key and\n"
	    "                  key store, for trying keyward out\n"
	    "\n"
	    "Environment: KEYWARD_SANDBOX_DEBUG=1 makes a blocked system call\n"
	    "log its name instead of killing the process (debugging only).\n"
	    "\n"
	    "Example: keyward server --config /etc/keyward/config.yml\n");
	exit(2);
}

static void
prepare_dirs(void)
{
	struct passwd	*pw;
	char		 err[256];

	if (!ps.root)
		return;
	if ((pw = getpwnam(ps.cf->server.user)) == NULL)
		fatalx("server.user '%s' does not exist; create it with: "
		    "useradd --system --no-create-home --shell "
		    "/usr/sbin/nologin %s", ps.cf->server.user,
		    ps.cf->server.user);
	if (pw->pw_uid == 0)
		fatalx("server.user '%s' is root; the children must run "
		    "unprivileged", ps.cf->server.user);
	if (dir_ensure(ps.cf->server.chroot, 0755, 0, 0, err,
	    sizeof(err)) == -1)
		fatalx("server.chroot: %s", err);
}

int
parent_main(int argc, char **argv)
{
	const char	*config = NULL, *addr = NULL, *v;
	char		 err[CONFIG_ERRLEN];
	sigset_t	 mask;
	unsigned int	 i;
	ssize_t		 n;
	bool		 dev = false;

	log_init("parent", LOG_LVL_INFO);
	for (i = 1; i < (unsigned int)argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < (unsigned)argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
		else if (strcmp(argv[i], "--addr") == 0 &&
		    i + 1 < (unsigned)argc)
			addr = argv[++i];
		else if (strncmp(argv[i], "--addr=", 7) == 0)
			addr = argv[i] + 7;
		else if (strcmp(argv[i], "--dev") == 0)
			dev = true;
		else if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			usage();
		else {
			fprintf(stderr, "keyward server: unknown argument "
			    "'%s'\n", argv[i]);
			usage();
		}
	}
	if (dev == (config != NULL)) {
		fprintf(stderr, "keyward server: give exactly one of "
		    "--config FILE or --dev\n");
		usage();
	}

	ps.root = geteuid() == 0;
	ps.started_ns = realtime_ns();
	ps.listen_fd = -1;
	ps.foreground = isatty(STDERR_FILENO);
	v = getenv("KEYWARD_SANDBOX_DEBUG");
	ps.sandbox_debug = v != NULL && strcmp(v, "1") == 0;
	if (ps.sandbox_debug)
		log_warnx("KEYWARD_SANDBOX_DEBUG=1: blocked system calls are "
		    "logged instead of killing the process; privileges are "
		    "still dropped");
	if ((n = readlink("/proc/self/exe", ps.exe, sizeof(ps.exe) - 1)) < 0)
		fatal("readlink /proc/self/exe");
	ps.exe[n] = '\0';

	if (dev) {
		ps.cf = dev_setup(addr, ps.root, &ps.dev);
		ps.is_dev = true;
	} else {
		if (config_load(config, &ps.cf, err, sizeof(err)) == -1)
			fatalx("%s", err);
		if (addr != NULL) {
			free(ps.cf->address);
			ps.cf->address = xstrdup(addr);
		}
	}
	for (i = 0; i < ps.cf->nwarnings; i++)
		log_warnx("%s", ps.cf->warnings[i]);
	log_setlevel(ps.cf->log.error);
	if (!ps.cf->server.mlock)
		log_warnx("server.mlock is off: key material may be swapped "
		    "to disk");
	if (ks_backend_find(ps.cf->keystore.kind) == NULL)
		fatalx("this version supports only these key stores: %s",
		    ks_supported());
	if (!ps.root)
		log_info("not started as root: children keep this user and "
		    "are not chrooted (the setcap deployment)");

	if (tls_files_read(ps.cf, &ps.tls, err, sizeof(err)) == -1 ||
	    check_tls(ps.cf, &ps.tls, err, sizeof(err)) == -1)
		fatalx("%s", err);
	prepare_dirs();
	if ((ps.listen_fd = listener_open(ps.cf->address, err,
	    sizeof(err))) == -1)
		fatalx("%s", err);

	ps.nworkers = ps.cf->server.workers;
	if (ps.nworkers == 0) {
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		ps.nworkers = ncpu > 0 ? (unsigned int)ncpu : 1;
	}
	if (ps.nworkers > MAX_WORKERS)
		ps.nworkers = MAX_WORKERS;
	ps.workers = xcalloc(ps.nworkers, sizeof(*ps.workers));
	/* The workers' counters outlive any one worker
	 * (common/metrics_region.h). */
	if ((ps.metrics_fd = memfd_create("keyward-metrics", MFD_CLOEXEC)) ==
	    -1 || ftruncate(ps.metrics_fd, (off_t)metrics_region_size()) == -1)
		fatal("metrics region");
	log_set_hook(parent_log_hook);
	ps.crypto.role = ROLE_CRYPTO;
	ps.agent.role = ROLE_AGENT;
	for (i = 0; i < ps.nworkers; i++) {
		ps.workers[i].role = ROLE_WORKER;
		ps.workers[i].index = i;
	}

	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) == -1)
		fatal("sigprocmask");
	if ((ps.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	ev_init();
	if (ev_add(&ps.sigio, ps.sigfd, EPOLLIN, signal_event, NULL) == -1)
		fatal("epoll_ctl");

	if (dev)
		dev_print(ps.cf, &ps.dev);
	children_foreach(child_spawn);
	for (;;)
		ev_once(-1);
}
