/*
 * The parent's children: fork+exec with the role on fixed descriptors, the
 * HELLO / CONFIG / READY handshake, wiring the channels between them, and
 * supervision: restart with backoff, reap, and the orderly stop.
 */
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
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
#include "privsep/notify.h"
#include "privsep/parent.h"
#include "privsep/parent_int.h"

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

	if (ps.agent.state != CHILD_READY)
		return false;
	for (i = 0; i < ps.ncrypto; i++)
		if (ps.crypto[i].state != CHILD_READY)
			return false;
	for (i = 0; i < ps.nworkers; i++)
		if (ps.workers[i].state != CHILD_READY)
			return false;
	return true;
}

void
serving_status(void)
{
	char	 s[128];

	(void)snprintf(s, sizeof(s), "serving on %s with %u worker%s and "
	    "%u crypto process%s", ps.cf->address, ps.nworkers,
	    ps.nworkers > 1 ? "s" : "", ps.ncrypto,
	    ps.ncrypto > 1 ? "es" : "");
	notify_status(s, NULL);
}

/*
 * Ready means ready: every child completed its handshake, the crypto
 * process had the key store's first answer and every key of `keys:`
 * (ps.started), and each worker got its crypto channel, before which it
 * accepts nothing (worker.c). A request from now on is answered.
 */
static void
check_serving(void)
{
	if (ps.serving || !ps.started || !all_ready())
		return;
	ps.serving = true;
	log_info("serving on %s with %u worker%s and %u crypto process%s",
	    ps.cf->address, ps.nworkers, ps.nworkers > 1 ? "s" : "",
	    ps.ncrypto, ps.ncrypto > 1 ? "es" : "");
	notify_send("READY=1");
	serving_status();
}

/* Workers meet the crypto processes only once all have started (above);
 * wire() skips one that is not ready, which child_ready wires later. */
static void
wire_worker(struct child *c)
{
	unsigned int i;

	if (ps.started)
		for (i = 0; i < ps.ncrypto; i++)
			wire(&ps.crypto[i], c);
}

static bool
all_crypto_started(void)
{
	unsigned int i;

	for (i = 0; i < ps.ncrypto; i++)
		if (!ps.crypto[i].started)
			return false;
	return true;
}

/* CRYPTO_STATE: u8 state (enum crypto_report), str detail. */
int
child_crypto_state(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	const char	*detail;
	uint8_t		 st;
	unsigned int	 i;

	if (c->role != ROLE_CRYPTO || c->state != CHILD_READY ||
	    buf_get_u8(&m->payload, &st) == -1 ||
	    buf_get_str(&m->payload, &detail, NULL) == -1 ||
	    buf_end(&m->payload) == -1)
		return -1;
	switch (st) {
	case CRYPTO_STORE_DOWN:
		notify_status("key store unreachable", detail);
		if (!ps.started)
			log_warnx("waiting for the key store: %s", detail);
		break;
	case CRYPTO_STORE_UP:
		if (ps.serving)
			serving_status();
		else
			notify_status("starting: the key store answers", NULL);
		break;
	case CRYPTO_STARTED:
		c->started = true;
		if (ps.started || !all_crypto_started())
			break;	/* a new crypto process after start-up, or
				 * others still starting */
		ps.started = true;
		for (i = 0; i < ps.nworkers; i++)
			wire_worker(&ps.workers[i]);
		check_serving();
		break;
	case CRYPTO_START_FAILED:
		if (ps.serving) {
			log_warnx("%s", detail);
			break;
		}
		notify_status("failed", detail);
		fatalx("%s", detail);
	default:
		return -1;
	}
	return 0;
}

static void
restart_cb(struct ev_timer *t)
{
	child_spawn(t->arg);
}

/*
 * SIGKILL to a child. Started as root, the children run as server.user,
 * and keyward.service gives the parent no CAP_KILL: it then signals
 * through a process of its own that first becomes that user, with the
 * CAP_SETUID that starting the children needs anyway. The child is ours
 * and not reaped yet, so its pid cannot have been reused meanwhile.
 */
static void
child_sigkill(pid_t pid)
{
	pid_t	h, r;
	int	status = 0;

	if (kill(pid, SIGKILL) == 0 || errno != EPERM || !ps.root ||
	    ps.child_uid == 0)
		return;
	if ((h = fork()) == -1) {
		log_warn("fork to signal child %d", (int)pid);
		return;
	}
	if (h == 0) {
		if (setgroups(1, &ps.child_gid) == -1 ||
		    setresgid(ps.child_gid, ps.child_gid, ps.child_gid) ==
		    -1 || setresuid(ps.child_uid, ps.child_uid,
		    ps.child_uid) == -1 || kill(pid, SIGKILL) == -1)
			_exit(1);
		_exit(0);
	}
	while ((r = waitpid(h, &status, 0)) == -1 && errno == EINTR)
		;
	if (r == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		log_warnx("could not kill child %d as uid %u", (int)pid,
		    (unsigned int)ps.child_uid);
}

static void
start_timeout_cb(struct ev_timer *t)
{
	struct child *c = t->arg;

	log_warnx("%s did not become ready in %d s; killing it",
	    child_name(c), START_TIMEOUT_MS / 1000);
	if (c->pid > 0)
		child_sigkill(c->pid);
}

static void
child_lost(struct peer *p, const char *why)
{
	struct child *c = p->arg;

	peer_close(p);
	/* A child told to shut down closes its end as it exits, maybe with
	 * our last frames unread (a reset): that is the goodbye, not a
	 * fault; its exit status says how it went. */
	if (why != NULL && c->pid > 0 && !c->shut) {
		log_warnx("%s: %s; killing it", child_name(c), why);
		child_sigkill(c->pid);
	}
}

/* HELLO: u32 protocol version, str build id. */
int
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

int
child_ready(struct peer *p, struct ipc_msg *m)
{
	struct child	*c = p->arg;
	unsigned int	 i;

	if (c->state != CHILD_CONFIGURED || buf_end(&m->payload) == -1)
		return -1;
	c->state = CHILD_READY;
	ev_timer_cancel(&c->timer);
	/* A reload while it was starting: it has the old configuration. */
	if (c->role == ROLE_CRYPTO)
		c->reload_id = 0;
	if (c->cf_gen != ps.cf_gen)
		send_reload(c);
	/* A crypto process that started with the running configuration
	 * (its TLS key) owes no answer: workers held back by a reload get
	 * theirs once none does. */
	if (c->role == ROLE_CRYPTO)
		reload_workers_check();
	log_debug("%s ready (pid %d)", child_name(c), (int)c->pid);
	switch (c->role) {
	case ROLE_CRYPTO:
		wire(c, &ps.agent);
		if (ps.started)
			for (i = 0; i < ps.nworkers; i++)
				wire(c, &ps.workers[i]);
		break;
	case ROLE_WORKER:
		for (i = 0; i < 2; i++)
			if (ps.log_on[i])
				send_log_on(c, i);
		wire_worker(c);
		break;
	case ROLE_AGENT:
		for (i = 0; i < ps.ncrypto; i++)
			wire(&ps.crypto[i], c);
		break;
	default:
		break;
	}
	check_serving();
	return 0;
}

/* RELOAD_DONE: u8 ok, str reason. */
int
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
	if (c->role == ROLE_CRYPTO && c->reload_id != 0 &&
	    m->hdr.id == c->reload_id) {
		/* XXX a crypto process that refused keeps the old TLS key
		 * while the workers get the new certificate; handshakes then
		 * fail with "unknown TLS key" until the next reload. The
		 * parent checked the key, so only a bug gets here. */
		c->reload_id = 0;
		reload_workers_check();
	}
	return 0;
}

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
	if (c->role == ROLE_WORKER ||
	    (c->role == ROLE_CRYPTO && ps.ncrypto > 1)) {
		snprintf(idx, sizeof(idx), "%u", c->index);
		argv[2] = idx;
	}
	argv[3] = NULL;
	execve(ps.exe, argv, envp);
	log_warn("%s: execve %s", child_name(c), ps.exe);
	_exit(127);
}

void
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
	c->shut = false;
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

	for (i = 0; i < ps.ncrypto; i++)
		if (ps.crypto[i].pid == pid)
			return &ps.crypto[i];
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
	if (workers_only)
		return false;
	for (i = 0; i < ps.ncrypto; i++)
		if (ps.crypto[i].pid > 0)
			return true;
	return ps.agent.pid > 0;
}

static void
send_shutdown(struct child *c)
{
	if (c->pid > 0 && c->ctl.open) {
		(void)peer_send(&c->ctl, MSG_SHUTDOWN, 0, NULL);
		c->shut = true;
	}
}

static void
stop_progress(void)
{
	unsigned int i;

	if (any_alive(true))
		return;
	/* Workers are gone: nothing can ask crypto or the agent anymore. */
	for (i = 0; i < ps.ncrypto; i++)
		send_shutdown(&ps.crypto[i]);
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
	if (c->role == ROLE_CRYPTO && c->reload_id != 0) {
		c->reload_id = 0;	/* its successor gets a new CONFIG */
		reload_workers_check();
	}
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

void
ps_reap(void)
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
			child_sigkill(ps.workers[i].pid);
	for (i = 0; i < ps.ncrypto; i++)
		if (ps.crypto[i].pid > 0)
			child_sigkill(ps.crypto[i].pid);
	if (ps.agent.pid > 0)
		child_sigkill(ps.agent.pid);
}

void
ps_begin_stop(int sig)
{
	unsigned int i;

	if (ps.stopping)
		return;
	ps.stopping = true;
	log_info("received %s; stopping", strsignal(sig));
	notify_send("STOPPING=1\nSTATUS=stopping");
	close(ps.listen_fd);
	ps.listen_fd = -1;
	for (i = 0; i < ps.nworkers; i++) {
		ev_timer_cancel(&ps.workers[i].timer);
		send_shutdown(&ps.workers[i]);
	}
	for (i = 0; i < ps.ncrypto; i++)
		ev_timer_cancel(&ps.crypto[i].timer);
	ev_timer_cancel(&ps.agent.timer);
	ev_timer_set(&ps.stop_timer, STOP_TIMEOUT_MS, stop_timeout_cb, NULL);
	stop_progress();
}
