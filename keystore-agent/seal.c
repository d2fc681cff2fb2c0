/*
 * The seal layer in the agent (seal.h): starts the seal helper, and
 * wraps the store so that create seals before the store sees the value
 * and get unseals after it (spec §4). Delete and list go to the store
 * untouched. The agent never loads the module and never holds the PIN
 * longer than it takes to hand it over.
 *
 * `keyward seal-helper` is fork+exec'd while the agent is still root
 * and has no filter: nothing but async-signal-safe calls run between
 * fork and exec (§4.6). That process is the keeper (seal_helper.c): it
 * keeps the settings and the PIN, never loads the module, and forks the
 * helper that does; it hands the agent each new helper's socket over
 * its own (SCM_RIGHTS). Should the helper die (kill -9), or exit because
 * the token needs a new login, the keeper forks a new one, and the calls
 * that were at the dead helper wait for it and are sent again, once:
 * sealing and opening hold no state in the token, so sending again is
 * safe. A call that meets a second death, or a new helper that cannot
 * start (the token away), fails as unavailable, never with a wrong
 * value; sealed calls then fail fast until a helper is back. The agent's
 * filter does not grow: receiving a descriptor is a recvmsg.
 *
 * A PIN refused by a new helper is not tried again (each attempt burns
 * the token's PIN counter, §4.4.4): the keeper stops, this agent stays,
 * and every sealed call fails fast until keyward is restarted (§4.7).
 */
#include <sys/epoll.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_fmt.h"
#include "keystore-agent/seal_helper.h"
#include "keystore-agent/seal_stage.h"

#define SEAL_START_MS	60000	/* module load, login, self-test */

/* One call through the seal: the agent's op and the store's. */
struct sop {
	TAILQ_ENTRY(sop)	 entry;		/* waiting for the helper */
	struct ks_op		*op;
	struct ks_op		 inner;
	struct buf		 val;		/* create: sealed; get: stored */
	uint32_t		 id;		/* at the helper: non-zero */
	uint8_t			 req;		/* what the helper was asked */
	bool			 held;		/* waiting for a new helper */
	bool			 retried;	/* sent again once already */
	bool			 at_store;
	bool			 staged;	/* get: the staged copy */
	char			 stage[SEAL_STAGE_NAME_LEN + 1];
};
TAILQ_HEAD(sop_list, sop);

static struct {
	const struct ks_backend	*inner;
	struct ks_backend	 wrap;
	bool			 allow_unsealed;
	int			 fd;		/* the helper; -1: none now */
	int			 ctl;		/* the keeper */
	pid_t			 pid;		/* the keeper */
	uint32_t		 next_id;
	uint8_t			*pkt;
	struct ev_io		 io, ctl_io;
	struct sop_list		 waiting;	/* at the helper */
	struct sop_list		 held;		/* for the next helper */
	char			*down;		/* no helper could start: why */
	char			*refused;	/* why sealed calls fail */
} sl = { .fd = -1, .ctl = -1,
    .waiting = TAILQ_HEAD_INITIALIZER(sl.waiting),
    .held = TAILQ_HEAD_INITIALIZER(sl.held) };

/* ---- start ---------------------------------------------------------------- */

/*
 * One packet from the keeper: u8 ok, str why (into sl.pkt), and with ok
 * 1 the new helper's socket in *fd. 1, 0 when the keeper is gone, -1
 * for a malformed packet; flags: MSG_DONTWAIT or 0. With MSG_DONTWAIT
 * and nothing to read: -2.
 */
static int
ctl_recv(uint8_t *ok, const char **why, int *fd, int flags)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct buf	 in;
	ssize_t		 n;

	*fd = -1;
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = sl.pkt;
	iov.iov_len = SH_PKT_MAX;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.b;
	mh.msg_controllen = sizeof(cm.b);
	do
		n = recvmsg(sl.ctl, &mh, flags | MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return -2;
	if (n <= 0)
		return 0;
	for (c = CMSG_FIRSTHDR(&mh); c != NULL; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET &&
		    c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	buf_view(&in, sl.pkt, (size_t)n);
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    buf_get_u8(&in, ok) == -1 || buf_get_str(&in, why, NULL) == -1 ||
	    buf_end(&in) == -1 || *ok > 2 || (*ok == 1) != (*fd != -1)) {
		if (*fd != -1)
			close(*fd);
		*fd = -1;
		return -1;
	}
	return 1;
}

void
seal_start(const struct seal_conf *c, const char *user, bool debug,
    bool restarted)
{
	extern char	**environ;
	char		*argv[] = { "keyward", "seal-helper", NULL };
	struct pollfd	 pfd;
	struct buf	 b;
	const char	*why;
	uint8_t		 ok;
	ssize_t		 n;
	int		 sv[2], r, fd;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1)
		fatal("seal: socketpair");
	seal_sock_bufs(sv[0]);
	seal_sock_bufs(sv[1]);
	fflush(NULL);
	if ((sl.pid = fork()) == -1)
		fatal("seal: fork");
	if (sl.pid == 0) {
		/* Only async-signal-safe calls until exec. */
		if (sv[1] == 3) {
			if (fcntl(3, F_SETFD, 0) == -1)
				_exit(127);
		} else if (dup2(sv[1], 3) == -1)
			_exit(127);
		(void)close_range(4, ~0U, 0);
		execve("/proc/self/exe", argv, environ);
		_exit(127);
	}
	close(sv[1]);
	sl.ctl = sv[0];
	sl.pkt = xmalloc(SH_PKT_MAX);

	buf_init(&b, SH_PKT_MAX);
	if (buf_put_u8(&b, debug) == -1 ||
	    buf_put_u32(&b, (uint32_t)(log_getlevel() + 1)) == -1 ||
	    buf_put_str(&b, user) == -1 || seal_settings_put(&b, c) == -1)
		fatalx("seal: the settings do not fit a packet");
	n = send(sl.ctl, b.data, b.len, MSG_NOSIGNAL);
	buf_release(&b);	/* wiped: it held the PIN */
	if (n == -1)
		fatal("seal: cannot reach the seal helper");

	pfd.fd = sl.ctl;
	pfd.events = POLLIN;
	while ((r = poll(&pfd, 1, SEAL_START_MS)) == -1 && errno == EINTR)
		;
	if (r == 0)
		fatalx("seal: the seal helper did not start within %u s",
		    SEAL_START_MS / 1000);
	n = ctl_recv(&ok, &why, &fd, 0);
	if (n == 0)
		fatalx("seal: the seal helper exited during start-up (see its "
		    "message above)");
	if (n == -1)
		fatalx("seal: a malformed answer from the seal helper");
	if (ok == 2 && restarted) {
		log_warnx("critical: seal: PKCS#11 %s at a new login; the PIN "
		    "is not tried again: every sealed call fails until "
		    "keyward restarts with the right PIN", why);
		sl.refused = xstrdup("seal: the token refused the PIN at a new "
		    "login (not tried again until keyward restarts)");
		/* The keeper stays, idle, so that no new login is tried. */
		return;
	}
	if (ok != 1)
		fatalx("seal: PKCS#11 %s", why);
	sl.fd = fd;
	sl.allow_unsealed = c->allow_unsealed_reads;
	log_debug("seal helper ready (pid %ld)", (long)sl.pid);
}

/* ---- the helper's answers ------------------------------------------------ */

static void	helper_readable(struct ev_io *, uint32_t);
static void	sop_answer(struct sop *, int rc, const uint8_t *data,
		    size_t len, const char *detail);

static int	sop_send(struct sop *);
static void	sop_unsent(struct sop *);
static void	sop_done(struct sop *, int, const char *);

/* The helper died: its calls wait for the keeper's next one, once. */
static void
helper_lost(const char *why)
{
	struct sop	*so;
	unsigned int	 n = 0;

	ev_del(&sl.io);
	close(sl.fd);
	sl.fd = -1;
	while ((so = TAILQ_FIRST(&sl.waiting)) != NULL) {
		TAILQ_REMOVE(&sl.waiting, so, entry);
		so->id = 0;
		if (so->retried) {
			sop_done(so, KS_FAIL_UNAVAILABLE, "seal: the seal "
			    "helper died twice during this call");
			continue;
		}
		so->retried = true;
		so->held = true;
		TAILQ_INSERT_TAIL(&sl.held, so, entry);
		n++;
	}
	log_warnx("the seal helper is gone (%s); %u calls in flight wait "
	    "for a new one", why, n);
}

/* The keeper's news: a new helper, or why none could start. */
static void
ctl_readable(struct ev_io *io, uint32_t events)
{
	struct sop_list	 now;
	struct sop	*so;
	const char	*why;
	uint8_t		 ok;
	int		 r, fd;

	while ((r = ctl_recv(&ok, &why, &fd, MSG_DONTWAIT)) != -2) {
		if (r == 0 && sl.refused != NULL) {
			/* Not restarted: a new keeper would try the PIN. */
			log_warnx("seal: the seal keeper is gone");
			ev_del(&sl.ctl_io);
			return;
		}
		if (r == 0)
			fatalx("the seal keeper is gone; restarting");
		if (r == -1)
			fatalx("seal: a malformed packet from the seal "
			    "keeper");
		free(sl.down);
		sl.down = NULL;
		if (ok == 1) {
			if (sl.fd != -1)
				fatalx("seal: a second helper while one "
				    "serves");
			sl.fd = fd;
			if (ev_add(&sl.io, sl.fd, EPOLLIN, helper_readable,
			    NULL) == -1)
				fatal("seal: epoll");
			log_info("seal: a new seal helper is ready");
		} else if (ok == 2) {
			log_warnx("critical: seal: PKCS#11 %s at a new login; "
			    "the PIN is not tried again: every sealed call "
			    "fails until keyward restarts with the right "
			    "PIN", why);
			sl.refused = xstrdup("seal: the token refused the PIN "
			    "at a new login (not tried again until keyward "
			    "restarts)");
		} else {
			log_warnx("seal: no new seal helper: %s", why);
			xasprintf(&sl.down, "seal: the token is unavailable "
			    "(%s)", why);
		}
		/* What waited goes now, or fails; a helper dying again
		 * meanwhile holds its calls anew. */
		TAILQ_INIT(&now);
		TAILQ_CONCAT(&now, &sl.held, entry);
		while ((so = TAILQ_FIRST(&now)) != NULL) {
			TAILQ_REMOVE(&now, so, entry);
			so->held = false;
			if (sop_send(so) == -1)
				sop_unsent(so);
		}
	}
}

static void
helper_readable(struct ev_io *io, uint32_t events)
{
	struct iovec	 iov;
	struct msghdr	 mh;
	struct buf	 in;
	struct sop	*so;
	const uint8_t	*data;
	const char	*detail;
	uint32_t	 id;
	uint8_t		 rc;
	size_t		 len;
	ssize_t		 n;

	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = sl.pkt;
		iov.iov_len = SH_PKT_MAX;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(sl.fd, &mh, MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			helper_lost(n == 0 ? "it exited" : strerror(errno));
			return;
		}
		if (mh.msg_flags & MSG_TRUNC)
			fatalx("seal: an answer too large from the helper");
		buf_view(&in, sl.pkt, (size_t)n);
		if (buf_get_u32(&in, &id) == -1 || buf_get_u8(&in, &rc) == -1 ||
		    buf_get_bytes(&in, &data, &len) == -1 ||
		    buf_get_str(&in, &detail, NULL) == -1 ||
		    buf_end(&in) == -1 || rc > KS_FAIL_UNAVAILABLE)
			fatalx("seal: a malformed answer from the helper");
		TAILQ_FOREACH(so, &sl.waiting, entry)
			if (so->id == id)
				break;
		if (so != NULL) {
			TAILQ_REMOVE(&sl.waiting, so, entry);
			so->id = 0;
			sop_answer(so, rc, data, len, detail);
		}
		/* else: an answer to a call cancelled meanwhile. */
		explicit_bzero(sl.pkt, (size_t)n);
	}
}

/*
 * Send a request; the answer comes to sop_answer. Without a helper it
 * waits for the next (held), unless the last could not start. -1: not
 * sent (sop_unsent says why).
 */
static int
helper_send(struct sop *so, uint8_t type, const uint8_t *data, size_t len)
{
	struct iovec	iov;
	struct msghdr	mh;
	struct buf	b;
	ssize_t		n;

	so->req = type;
	if (sl.fd == -1) {
		if (sl.down != NULL || sl.refused != NULL)
			return -1;
		so->held = true;
		TAILQ_INSERT_TAIL(&sl.held, so, entry);
		return 0;
	}
	so->id = ++sl.next_id == 0 ? ++sl.next_id : sl.next_id;
	buf_init(&b, SH_PKT_MAX);
	if (buf_put_u8(&b, type) == -1 || buf_put_u32(&b, so->id) == -1 ||
	    buf_put_str(&b, so->op->name != NULL && type != SH_PROBE ?
	    so->op->name : "") == -1 || buf_put_bytes(&b, data, len) == -1) {
		buf_release(&b);
		so->id = 0;
		return -1;
	}
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = b.data;
	iov.iov_len = b.len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	do
		n = sendmsg(sl.fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	buf_release(&b);
	if (n == -1) {
		so->id = 0;
		if (errno == EPIPE || errno == ECONNRESET) {
			/* Dead: hold it for the next, with the others. */
			TAILQ_INSERT_TAIL(&sl.waiting, so, entry);
			helper_lost(strerror(errno));
			return 0;
		}
		return -1;
	}
	TAILQ_INSERT_TAIL(&sl.waiting, so, entry);
	return 0;
}

/* ---- the calls ----------------------------------------------------------- */

static void
sop_free(struct sop *so)
{
	buf_release(&so->val);
	free(so);
}

static void
sop_done(struct sop *so, int rc, const char *detail)
{
	struct ks_op *op = so->op;

	op->store = NULL;
	sop_free(so);
	ks_op_done(op, rc, detail);
}

/* (Again) the request so->req for so. */
static int
sop_send(struct sop *so)
{
	switch (so->req) {
	case SH_SEAL:
		return helper_send(so, SH_SEAL, so->op->value, so->op->len);
	case SH_UNSEAL:
		return helper_send(so, SH_UNSEAL, so->val.data, so->val.len);
	default:
		return helper_send(so, SH_PROBE, NULL, 0);
	}
}

/* helper_send said -1. */
static void
sop_unsent(struct sop *so)
{
	sop_done(so, KS_FAIL_UNAVAILABLE, sl.refused != NULL ? sl.refused :
	    sl.down != NULL ? sl.down : "seal: the seal helper is busy");
}

static void	inner_done(struct ks_op *, int, const char *);
static int	inner_name(struct ks_op *, const char *);
static const struct ks_op_owner seal_owner = { inner_done, inner_name };

static struct sop *
sop_new(struct ks_op *op)
{
	struct sop *so = xcalloc(1, sizeof(*so));

	so->op = op;
	op->store = so;
	so->inner.type = op->type;
	so->inner.name = op->name;
	so->inner.owner = &seal_owner;
	so->inner.owner_arg = so;
	return so;
}

static void
to_store(struct sop *so, void (*fn)(struct ks_op *))
{
	so->at_store = true;
	fn(&so->inner);
}

/* The helper answered a seal, unseal or probe. */
static void
sop_answer(struct sop *so, int rc, const uint8_t *data, size_t len,
    const char *detail)
{
	switch (so->op->type) {
	case KS_OP_CREATE:
		if (rc != 0) {
			sop_done(so, rc, detail);
			return;
		}
		buf_reset(&so->val);
		if (buf_put(&so->val, data, len) == -1) {
			sop_done(so, KS_FAIL_INVALID, "seal: the sealed value "
			    "is too large");
			return;
		}
		so->inner.value = so->val.data;
		so->inner.len = so->val.len;
		to_store(so, sl.inner->create);
		return;
	case KS_OP_GET:
		if (rc == 0 && buf_put(so->op->out, data, len) == -1)
			rc = KS_FAIL_INVALID, detail = "seal: the value does "
			    "not fit a reply";
		sop_done(so, rc, detail);
		return;
	case KS_OP_STATUS:
		if (rc != 0) {
			sop_done(so, rc, detail);
			return;
		}
		to_store(so, sl.inner->status);
		return;
	default:
		sop_done(so, KS_FAIL_UNAVAILABLE, "seal: not a sealed call");
	}
}

/*
 * A key the store does not have may be in the middle of a migration
 * (seal_migrate.c): between the delete of its old form and the create
 * of its new one, its new form sits under its staging name. Read it
 * from there; a record that names another key is no copy of this one.
 * Whoever could plant such a record could create the missing key
 * itself, so this gives no one a way to a key they could not make.
 */
static void
stage_get(struct sop *so)
{
	so->staged = true;
	seal_stage_name(so->op->name, so->stage);
	so->inner.name = so->stage;
	buf_reset(&so->val);
	to_store(so, sl.inner->get);
}

/* The staged copy's value moved to the front of so->val: 0, or
 * KS_FAIL_NOT_FOUND when there is none for this key. */
static int
staged_value(struct sop *so, int rc)
{
	const uint8_t	*v;
	char		 name[KES_NAME_MAX + 1];
	size_t		 len;

	if (rc != 0 || seal_stage_decode(so->val.data, so->val.len, name,
	    sizeof(name), &v, &len) == -1 || strcmp(name, so->op->name) != 0)
		return KS_FAIL_NOT_FOUND;
	memmove(so->val.data, v, len);
	explicit_bzero(so->val.data + len, so->val.len - len);
	so->val.len = len;
	so->val.off = 0;
	log_info("seal: '%s' read from its staged copy (a migration is "
	    "moving it)", so->op->name);
	return 0;
}

/* The store finished its part. */
static void
inner_done(struct ks_op *inner, int rc, const char *detail)
{
	struct sop	*so = inner->owner_arg;
	const char	*what;

	so->at_store = false;
	if (so->op->type == KS_OP_STATUS)
		so->op->latency_ns = inner->latency_ns;
	if (so->op->type == KS_OP_GET && rc == KS_FAIL_NOT_FOUND &&
	    !so->staged) {
		stage_get(so);
		return;
	}
	if (so->op->type == KS_OP_GET && so->staged)
		rc = staged_value(so, rc);
	if (so->op->type != KS_OP_GET || rc != 0) {
		sop_done(so, rc, rc == KS_FAIL_NOT_FOUND && so->staged ?
		    "key does not exist" : detail);
		return;
	}
	switch (seal_kind(so->val.data, so->val.len)) {
	case SEAL_V1:
		if (helper_send(so, SH_UNSEAL, so->val.data, so->val.len) == -1)
			sop_unsent(so);
		return;
	case SEAL_UNKNOWN_VERSION:
		sop_done(so, KS_FAIL_INVALID, "seal: unsupported sealed value "
		    "version");
		return;
	case SEAL_PLAIN:
		break;
	}
	if (!sl.allow_unsealed) {
		sop_done(so, KS_FAIL_INVALID, "seal: unsealed value refused");
		return;
	}
	what = buf_put(so->op->out, so->val.data, so->val.len) == -1 ?
	    "seal: the value does not fit a reply" : NULL;
	sop_done(so, what != NULL ? KS_FAIL_INVALID : 0, what);
}

static int
inner_name(struct ks_op *inner, const char *name)
{
	return -1;	/* no listing goes through the seal */
}

/* A refused PIN (seal_start): 0 when the call may go on. */
static int
refused(struct ks_op *op)
{
	if (sl.refused == NULL)
		return 0;
	ks_op_done(op, KS_FAIL_UNAVAILABLE, sl.refused);
	return -1;
}

static void
seal_create(struct ks_op *op)
{
	struct sop *so;

	if (refused(op) == -1)
		return;
	if (op->len > SEAL_VALUE_MAX) {
		ks_op_done(op, KS_FAIL_INVALID, "seal: values over 128 KiB "
		    "are not sealed");
		return;
	}
	so = sop_new(op);
	buf_init(&so->val, SH_PKT_MAX);
	if (helper_send(so, SH_SEAL, op->value, op->len) == -1)
		sop_unsent(so);
}

static void
seal_get(struct ks_op *op)
{
	struct sop *so;

	if (refused(op) == -1)
		return;
	so = sop_new(op);

	buf_init(&so->val, SH_PKT_MAX);
	so->inner.out = &so->val;
	to_store(so, sl.inner->get);
}

/* The token first (its health probe, §4.5), then the store. */
static void
seal_status(struct ks_op *op)
{
	struct sop *so;

	if (refused(op) == -1)
		return;
	so = sop_new(op);

	buf_init(&so->val, 16);
	if (helper_send(so, SH_PROBE, NULL, 0) == -1)
		sop_unsent(so);
}

static void
seal_cancel(struct ks_op *op)
{
	struct sop *so;

	if (op->type != KS_OP_CREATE && op->type != KS_OP_GET &&
	    op->type != KS_OP_STATUS) {
		if (sl.inner->cancel != NULL)
			sl.inner->cancel(op);
		return;
	}
	if ((so = op->store) == NULL)
		return;
	if (so->at_store) {
		if (sl.inner->cancel != NULL)
			sl.inner->cancel(&so->inner);
	} else if (so->id != 0)
		TAILQ_REMOVE(&sl.waiting, so, entry);
	else if (so->held)
		TAILQ_REMOVE(&sl.held, so, entry);
	op->store = NULL;
	sop_free(so);
}

const struct ks_backend *
seal_wrap(const struct ks_backend *inner)
{
	if (sl.refused == NULL && fcntl(sl.fd, F_SETFL, O_NONBLOCK) == -1)
		fatal("seal: fcntl");
	if (sl.refused == NULL &&
	    ev_add(&sl.io, sl.fd, EPOLLIN, helper_readable, NULL) == -1)
		fatal("seal: epoll");
	if (ev_add(&sl.ctl_io, sl.ctl, EPOLLIN, ctl_readable, NULL) == -1)
		fatal("seal: epoll");
	sl.inner = inner;
	sl.wrap = *inner;
	sl.wrap.create = seal_create;
	sl.wrap.get = seal_get;
	sl.wrap.status = seal_status;
	sl.wrap.cancel = seal_cancel;
	return &sl.wrap;
}
