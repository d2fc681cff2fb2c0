/*
 * The agent's helper (helper.h): the agent's side (requests on the
 * event loop, answers matched by id) and the helper's own loop.
 *
 * Wire layout, one SOCK_SEQPACKET packet per message (common/buf.h
 * encodings):
 *   agent -> helper   u8 type, u32 id, then
 *                       HELPER_RESOLVE: str host, u16 port
 *                       HELPER_FILE:    str path
 *   helper -> agent   u32 id, u32 err (an int: EAI_* < 0, errno > 0),
 *                     bytes data (the addresses or the file), str detail
 * The helper answers one request at a time (a slow DNS answer delays a
 * file read behind it); the agent matches answers by id, so the order
 * does not matter to it.
 *
 * The helper is forked and then exec'd as `keyward helper AGENT_PID
 * FILE...`, as the parent starts every child: it begins from a fresh
 * address space, so nothing the agent holds (the store's credentials, its
 * TLS key) is in the memory of the process that parses DNS answers.
 */
#include <sys/types.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ev.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/sandbox.h"
#include "common/xmalloc.h"
#include "keystore-agent/helper.h"

#define HELPER_RESOLVE	1
#define HELPER_FILE	2

#define HELPER_FILE_MAX	(64u << 10)
/* The largest answer: a whole file plus the frame around it. */
#define HELPER_PKT_MAX	(HELPER_FILE_MAX + 1024)
#define HELPER_REQ_MAX	4096
#define HELPER_ADDRS	32	/* addresses kept from one answer */

struct hreq {
	TAILQ_ENTRY(hreq)	 entry;
	uint32_t		 id;
	uint8_t			 type;
	helper_addr_cb		 addr_cb;
	helper_file_cb		 file_cb;
	void			*arg;
	int			 err;		/* a failure not from the helper */
	char			 detail[128];
};
TAILQ_HEAD(hreq_list, hreq);

static void	helper_flush_failed(struct ev_defer *);

static struct {
	bool			 started;
	bool			 gone;
	int			 fd;
	pid_t			 pid;
	uint32_t		 next_id;
	uint8_t			*pkt;		/* HELPER_PKT_MAX, for answers */
	struct ev_io		 io;
	struct ev_defer		 defer;
	struct hreq_list	 sent;		/* waiting for an answer */
	struct hreq_list	 failed;	/* answered by us, next turn */
} hp = {
	.fd = -1,
	.defer = { .cb = helper_flush_failed },
	.sent = TAILQ_HEAD_INITIALIZER(hp.sent),
	.failed = TAILQ_HEAD_INITIALIZER(hp.failed),
};

/* ---- the helper process ------------------------------------------------ */

/*
 * The helper's own filter, on top of the agent's base list: the calls
 * getaddrinfo() makes through NSS (files and dns, in libc since glibc
 * 2.34): reading /etc/{hosts,resolv.conf,nsswitch.conf,gai.conf},
 * checking whether they changed, UDP and TCP to the name servers, a
 * netlink query of the local addresses when it sorts several answers
 * (RFC 6724), and a connect() per destination to find its source
 * address. Files are opened read-only. Found with strace -f and
 * KEYWARD_SANDBOX_DEBUG=1. No execve, ptrace, fork or thread: those are
 * not in any list.
 */
static const struct sb_rule helper_rules[] = {
	ALLOW_MASK(openat, 2, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY),
	ALLOW(newfstatat),
	ALLOW_EQ(socket, 0, AF_INET),
	ALLOW_EQ(socket, 0, AF_INET6),
	ALLOW_EQ(socket, 0, AF_UNIX),		/* nscd */
	ALLOW_EQ(socket, 0, AF_NETLINK),
	ALLOW(connect),
	ALLOW(bind),
	ALLOW(getsockname),
	ALLOW(setsockopt),
	ALLOW(sendto),
	ALLOW(recvfrom),
	ALLOW(sendmmsg),
	/* res_send: the size of a UDP answer before reading it. */
	ALLOW_EQ(ioctl, 1, FIONREAD),
	ALLOW(uname),
};

static bool
helper_file_ok(char *const *files, const char *path)
{
	size_t i;

	for (i = 0; files != NULL && files[i] != NULL; i++)
		if (strcmp(files[i], path) == 0)
			return true;
	return false;
}

/* Addresses as text, comma-separated, each family's order kept. */
static int
helper_getaddrinfo(const char *host, uint16_t port, struct buf *out,
    char *detail, size_t dlen)
{
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 text[INET6_ADDRSTRLEN], serv[8];
	size_t		 n = 0;
	int		 rc;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	snprintf(serv, sizeof(serv), "%u", (unsigned int)port);
	if ((rc = getaddrinfo(host, serv, &hints, &res)) != 0) {
		if (rc == EAI_SYSTEM) {
			rc = errno;
			snprintf(detail, dlen, "%s: %s", host, strerror(rc));
		} else
			snprintf(detail, dlen, "%s: %s", host,
			    gai_strerror(rc));
		return rc;
	}
	for (ai = res; ai != NULL && n < HELPER_ADDRS; ai = ai->ai_next) {
		const void *a;

		if (ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, a, text, sizeof(text)) == NULL)
			continue;
		if ((n > 0 && buf_put_u8(out, ',') == -1) ||
		    buf_put(out, text, strlen(text)) == -1)
			break;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(detail, dlen, "%s: no IPv4 or IPv6 address", host);
		return EAI_NONAME;
	}
	return 0;
}

static int
helper_readfile(char *const *files, const char *path, struct buf *out,
    char *detail, size_t dlen)
{
	uint8_t	*p;
	ssize_t	 r;
	int	 fd, err = 0;

	if (!helper_file_ok(files, path)) {
		snprintf(detail, dlen, "%s: not a file named at start", path);
		return EPERM;
	}
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		err = errno;
		snprintf(detail, dlen, "%s: %s", path, strerror(err));
		return err;
	}
	for (;;) {
		/* One byte more than allowed tells a file that is too big. */
		if (out->len > HELPER_FILE_MAX ||
		    (p = buf_reserve(out, 4096)) == NULL) {
			err = EFBIG;
			snprintf(detail, dlen, "%s: larger than %u bytes",
			    path, HELPER_FILE_MAX);
			break;
		}
		if ((r = read(fd, p, 4096)) == -1) {
			if (errno == EINTR)
				continue;
			err = errno;
			snprintf(detail, dlen, "%s: %s", path, strerror(err));
			break;
		}
		if (r == 0)
			break;
		out->len += (size_t)r;
	}
	close(fd);
	if (err == 0 && out->len > HELPER_FILE_MAX) {
		err = EFBIG;
		snprintf(detail, dlen, "%s: larger than %u bytes", path,
		    HELPER_FILE_MAX);
	}
	if (err != 0)
		buf_reset(out);
	return err;
}

/* One request in, one answer out. -1: a malformed request (the agent
 * is broken or not the agent: stop). */
static int
helper_serve(int fd, char *const *files, uint8_t *req, size_t len)
{
	struct buf	 in, data, ans;
	const char	*s;
	char		 detail[256] = "";
	uint32_t	 id;
	uint16_t	 port;
	uint8_t		 type;
	size_t		 slen;
	int		 err, rc = 0;

	buf_view(&in, req, len);
	buf_init(&data, HELPER_FILE_MAX + 4096);
	buf_init(&ans, HELPER_PKT_MAX);
	if (buf_get_u8(&in, &type) == -1 || buf_get_u32(&in, &id) == -1 ||
	    buf_get_str(&in, &s, &slen) == -1) {
		rc = -1;
		goto out;
	}
	if (type == HELPER_RESOLVE) {
		if (buf_get_u16(&in, &port) == -1 || buf_end(&in) == -1) {
			rc = -1;
			goto out;
		}
		err = helper_getaddrinfo(s, port, &data, detail,
		    sizeof(detail));
	} else if (type == HELPER_FILE) {
		if (buf_end(&in) == -1) {
			rc = -1;
			goto out;
		}
		err = helper_readfile(files, s, &data, detail,
		    sizeof(detail));
	} else {
		rc = -1;
		goto out;
	}
	if (buf_put_u32(&ans, id) == -1 ||
	    buf_put_u32(&ans, (uint32_t)err) == -1 ||
	    buf_put_bytes(&ans, data.data, data.len) == -1 ||
	    buf_put_str(&ans, detail) == -1) {
		rc = -1;
		goto out;
	}
	while (send(fd, ans.data, ans.len, MSG_NOSIGNAL) == -1)
		if (errno != EINTR) {
			rc = -1;
			break;
		}
 out:
	/* A file may be a credential: buf_release wipes both. */
	buf_release(&data);
	buf_release(&ans);
	return rc;
}

/* Only stderr (the log) and the socket stay open. */
static int
helper_fds(int fd)
{
	int nullfd;

	if (fd != 3 && (dup2(fd, 3) == -1 || close(fd) == -1))
		return -1;
	/* Not the agent's stdin and stdout: nothing of it stays open. */
	if ((nullfd = open("/dev/null", O_RDWR | O_CLOEXEC)) != -1) {
		(void)dup2(nullfd, STDIN_FILENO);
		(void)dup2(nullfd, STDOUT_FILENO);
	}
	if (close_range(4, ~0U, 0) == -1) {
		int i, max = (int)sysconf(_SC_OPEN_MAX);

		for (i = 4; i < max; i++)
			(void)close(i);
	}
	return 3;
}

/* The keyward binary to exec (helper_set_program). */
static const char *helper_program = "/proc/self/exe";

void
helper_set_program(const char *path)
{
	helper_program = path;
}

static void __attribute__((noreturn))
helper_main(int fd, pid_t agent, char *const *files)
{
	struct addrinfo	 hints, *res = NULL;
	uint8_t		*req;
	ssize_t		 n;

	/* The agent is our parent; when it goes, so do we. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() != agent)
		_exit(1);
	/* ps and top tell it from the agent, whose command line it has. */
	(void)prctl(PR_SET_NAME, "keyward-helper");
	log_set_hook(NULL);
	log_setrole("agent helper");
	if ((fd = helper_fds(fd)) == -1) {
		log_warn("cannot set up descriptors");
		_exit(1);
	}
	/*
	 * Load NSS now: its configuration, and any module nsswitch.conf
	 * names outside libc (its dlopen needs PROT_EXEC, which no filter
	 * allows). An error here is fine: the name is only a warm-up.
	 */
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo("localhost", "443", &hints, &res) == 0)
		freeaddrinfo(res);
	if (sandbox_apply_more(ROLE_AGENT, sandbox_debug_from_env() != 0,
	    helper_rules, sizeof(helper_rules) / sizeof(helper_rules[0])) ==
	    -1) {
		log_warnx("cannot load the helper's sandbox");
		_exit(1);
	}
	req = xmalloc(HELPER_REQ_MAX);
	for (;;) {
		n = recv(fd, req, HELPER_REQ_MAX, MSG_TRUNC);
		if (n == 0)
			_exit(0);		/* the agent is gone */
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || n > HELPER_REQ_MAX) {
			log_warnx("%s", n == -1 ? strerror(errno) :
			    "a request too large");
			_exit(1);
		}
		if (helper_serve(fd, files, req, (size_t)n) == -1) {
			log_warnx("a malformed request from the agent");
			_exit(1);
		}
		explicit_bzero(req, HELPER_REQ_MAX);
	}
}

/* ---- the agent's side -------------------------------------------------- */

static void
hreq_answer(struct hreq *r, int err, const uint8_t *data, size_t len,
    const char *detail)
{
	char *addrs;

	if (r->type == HELPER_FILE) {
		r->file_cb(err, err == 0 ? data : NULL, err == 0 ? len : 0,
		    detail, r->arg);
		return;
	}
	addrs = xmalloc(len + 1);
	if (len > 0)
		memcpy(addrs, data, len);
	addrs[len] = '\0';
	if (err == 0 && (len == 0 || strlen(addrs) != len)) {
		err = EPROTO;
		detail = "a malformed answer from the resolver helper";
	}
	r->addr_cb(err, err == 0 ? addrs : NULL, detail, r->arg);
	free(addrs);
}

static void
helper_flush_failed(struct ev_defer *d)
{
	struct hreq *r;

	while ((r = TAILQ_FIRST(&hp.failed)) != NULL) {
		TAILQ_REMOVE(&hp.failed, r, entry);
		hreq_answer(r, r->err, NULL, 0, r->detail);
		free(r);
	}
}

/* Answered next turn by us, never from inside the caller. */
static void
hreq_fail(struct hreq *r, int err, const char *detail)
{
	r->err = err;
	snprintf(r->detail, sizeof(r->detail), "%s", detail);
	TAILQ_INSERT_TAIL(&hp.failed, r, entry);
	ev_defer(&hp.defer);
}

static void
helper_lost(const char *why)
{
	struct hreq *r;

	log_warnx("the resolver helper is gone (%s): host names no longer "
	    "resolve and store files cannot be read until the agent "
	    "restarts", why);
	hp.gone = true;
	ev_del(&hp.io);
	close(hp.fd);
	hp.fd = -1;
	/*
	 * A helper that died stays a zombie until the agent exits: reaping
	 * it would need wait4 under the agent's filter, for one process.
	 */
	while ((r = TAILQ_FIRST(&hp.sent)) != NULL) {
		TAILQ_REMOVE(&hp.sent, r, entry);
		hreq_fail(r, EPIPE, "the resolver helper is gone");
	}
}

static void
helper_readable(struct ev_io *io, uint32_t events)
{
	struct hreq	*r;
	struct buf	 in;
	const uint8_t	*data;
	const char	*detail;
	size_t		 len, dlen;
	uint32_t	 id, err;
	ssize_t		 n;

	for (;;) {
		n = recv(hp.fd, hp.pkt, HELPER_PKT_MAX,
		    MSG_TRUNC | MSG_DONTWAIT);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			helper_lost(n == 0 ? "it exited" : strerror(errno));
			return;
		}
		if ((size_t)n > HELPER_PKT_MAX) {
			helper_lost("an answer too large");
			return;
		}
		buf_view(&in, hp.pkt, (size_t)n);
		if (buf_get_u32(&in, &id) == -1 ||
		    buf_get_u32(&in, &err) == -1 ||
		    buf_get_bytes(&in, &data, &len) == -1 ||
		    buf_get_str(&in, &detail, &dlen) == -1 ||
		    buf_end(&in) == -1) {
			explicit_bzero(hp.pkt, (size_t)n);
			helper_lost("a malformed answer");
			return;
		}
		TAILQ_FOREACH(r, &hp.sent, entry)
			if (r->id == id)
				break;
		if (r == NULL) {
			explicit_bzero(hp.pkt, (size_t)n);
			helper_lost("an answer to no request");
			return;
		}
		TAILQ_REMOVE(&hp.sent, r, entry);
		hreq_answer(r, (int)err, data, len, detail);
		free(r);
		explicit_bzero(hp.pkt, (size_t)n);
		/* A callback may have found the helper gone. */
		if (hp.fd == -1)
			return;
	}
}

/* In the forked child: the socket on descriptor 3, then exec. */
static void __attribute__((noreturn))
helper_exec(int fd, pid_t agent, char *const *files)
{
	char	**argv, pidstr[32];
	size_t	  n = 0, i;

	if ((fd = helper_fds(fd)) == -1 ||
	    fcntl(fd, F_SETFD, 0) == -1) {
		log_warn("helper: cannot set up descriptors");
		_exit(127);
	}
	while (files[n] != NULL)
		n++;
	argv = xcalloc(n + 4, sizeof(*argv));
	snprintf(pidstr, sizeof(pidstr), "%ld", (long)agent);
	argv[0] = "keyward";
	argv[1] = "helper";
	argv[2] = pidstr;
	for (i = 0; i < n; i++)
		argv[3 + i] = files[i];
	execv(helper_program, argv);
	log_warn("helper: cannot exec %s", helper_program);
	_exit(127);
}

/* `keyward helper AGENT_PID FILE...`, started by helper_start(). */
int
helper_role_main(int argc, char **argv)
{
	char	*end;
	long	 agent;

	if (argc < 2)
		return 2;
	errno = 0;
	agent = strtol(argv[1], &end, 10);
	if (errno != 0 || *end != '\0' || agent <= 1)
		return 2;
	helper_main(3, (pid_t)agent, argv + 2);
}

int
helper_start(const char *const *files, char *err, size_t errlen)
{
	char	**copy = NULL;
	size_t	  i, n = 0;
	pid_t	  agent = getpid(), pid;
	int	  sv[2];

	if (hp.started) {
		snprintf(err, errlen, "the helper is already running");
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	while (files != NULL && files[n] != NULL)
		n++;
	copy = xcalloc(n + 1, sizeof(*copy));
	for (i = 0; i < n; i++)
		copy[i] = xstrdup(files[i]);
	fflush(NULL);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		for (i = 0; i < n; i++)
			free(copy[i]);
		free(copy);
		return -1;
	}
	if (pid == 0) {
		close(sv[0]);
		helper_exec(sv[1], agent, copy);
	}
	for (i = 0; i < n; i++)
		free(copy[i]);
	free(copy);
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) == -1) {
		snprintf(err, errlen, "fcntl: %s", strerror(errno));
		close(sv[0]);
		return -1;
	}
	hp.fd = sv[0];
	hp.pid = pid;
	hp.pkt = xmalloc(HELPER_PKT_MAX);
	if (ev_add(&hp.io, hp.fd, EPOLLIN, helper_readable, NULL) == -1) {
		snprintf(err, errlen, "epoll: %s", strerror(errno));
		close(hp.fd);
		hp.fd = -1;
		return -1;
	}
	hp.started = true;
	log_debug("resolver helper started (pid %ld)", (long)pid);
	return 0;
}

static void
helper_send(struct hreq *r, const char *s, uint16_t port)
{
	struct buf	b;
	ssize_t		n;

	if (!hp.started || hp.fd == -1) {
		hreq_fail(r, hp.started ? EPIPE : ENOTCONN, hp.started ?
		    "the resolver helper is gone" :
		    "the resolver helper was not started");
		return;
	}
	r->id = ++hp.next_id;
	buf_init(&b, HELPER_REQ_MAX);
	if (buf_put_u8(&b, r->type) == -1 || buf_put_u32(&b, r->id) == -1 ||
	    buf_put_str(&b, s) == -1 ||
	    (r->type == HELPER_RESOLVE && buf_put_u16(&b, port) == -1)) {
		buf_release(&b);
		hreq_fail(r, ENAMETOOLONG, "a name too long for the helper");
		return;
	}
	do
		n = send(hp.fd, b.data, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (n == -1 && errno == EINTR);
	buf_release(&b);
	if (n == -1) {
		/* EAGAIN: hundreds of requests already queued at it. */
		hreq_fail(r, errno, errno == EAGAIN ?
		    "the resolver helper is busy" :
		    "the resolver helper is gone");
		return;
	}
	TAILQ_INSERT_TAIL(&hp.sent, r, entry);
}

void
helper_resolve(const char *host, unsigned int port, helper_addr_cb cb,
    void *arg)
{
	struct hreq *r = xcalloc(1, sizeof(*r));

	r->type = HELPER_RESOLVE;
	r->addr_cb = cb;
	r->arg = arg;
	if (port == 0 || port > 65535) {
		hreq_fail(r, EINVAL, "no such port");
		return;
	}
	helper_send(r, host, (uint16_t)port);
}

void
helper_read_file(const char *path, helper_file_cb cb, void *arg)
{
	struct hreq *r = xcalloc(1, sizeof(*r));

	r->type = HELPER_FILE;
	r->file_cb = cb;
	r->arg = arg;
	helper_send(r, path, 0);
}
