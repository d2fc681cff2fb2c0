/*
 * Start-up as a client and systemd see it (privsep and the sandbox on):
 *   first_answer_*     a client that connects in a loop from before the
 *                      server starts gets, for its first answered request,
 *                      neither a 503 nor a 404 for a key of `keys:`;
 *                      several starts in a row
 *   notify_*           the NOTIFY_SOCKET protocol: STATUS= while starting
 *                      and while the key store does not answer, READY=1
 *                      only once a request succeeds (and no request is
 *                      answered before), RELOADING=1 (MONOTONIC_USEC=) then
 *                      READY=1 around a SIGHUP, STOPPING=1 on SIGTERM
 * A key the store refuses ending the start is in test_vault.c (the double
 * can refuse one key). Needs root and user keyward; skipped otherwise.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>

#include "tests/lib/testsrv.h"

/* Generous: two cores shared with other builds. */
#define START_MS	30000
#define ROUNDS		5
#define NKEYS		200	/* many: the last is made well after the first */

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "buffer too small")

static struct testsrv	srv;
static int		nfd = -1;	/* the notify listener */

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
teardown(void)
{
	unsetenv("NOTIFY_SOCKET");
	if (nfd != -1)
		close(nfd);
	nfd = -1;
	tsrv_cleanup(&srv);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 240);

static struct passwd *
need_root(void)
{
	struct passwd *pw;

	if (geteuid() != 0)
		cr_skip_test("the start-up tests start the server as root");
	if ((pw = getpwnam("keyward")) == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	return pw;
}

/* `keys:` k0 ... k199 in cfg->extra (text must outlive the start). */
static void
declare_keys(struct tsrv_cfg *cfg, char *text, size_t len)
{
	size_t	 n = 0;
	int	 i;

	n += (size_t)snprintf(text + n, len - n, "keys:\n");
	for (i = 0; i < NKEYS; i++)
		n += (size_t)snprintf(text + n, len - n, "  - name: k%d\n", i);
	cr_assert_lt(n, len);
	cfg->extra = text;
}

/* POST /v1/key/generate/<key> as the admin: the HTTP status or -1. */
static long
generate(const char *key, long timeout_ms, char *body, size_t bodylen)
{
	struct tsrv_req	 o = { .method = "POST", .body = "{}", .body_len = 2,
			    .timeout_ms = timeout_ms };
	struct tsrv_resp r = { 0 };
	char		 path[128];
	long		 st;

	FMT(path, "/v1/key/generate/%s", key);
	st = tsrv_request(&srv, TSRV_ADMIN, path, &o, &r);
	snprintf(body, bodylen, "%s", st == -1 ? r.err :
	    r.body != NULL ? r.body : "");
	tsrv_resp_free(&r);
	return st;
}

/* --- the first answer ------------------------------------------------- */

struct prober {
	atomic_bool	 tried;		/* one attempt made (refused) */
	atomic_bool	 stop;
	long		 status;	/* of the first answered request */
	char		 body[512];
	unsigned int	 attempts;
};

/*
 * Connect, send, wait for an answer; a refused or reset connection (no
 * listener yet) is tried again at once. The request's own timeout is long:
 * a connection held in the backlog until the server is ready is right.
 */
static void *
probe(void *arg)
{
	struct prober	*pr = arg;
	uint64_t	 end = tsrv_now_ms() + START_MS;
	long		 st;

	pr->status = -1;
	while (!atomic_load(&pr->stop) && tsrv_now_ms() < end) {
		st = generate("k199", START_MS, pr->body, sizeof(pr->body));
		pr->attempts++;
		atomic_store(&pr->tried, true);
		if (st != -1) {
			pr->status = st;
			break;
		}
		tsrv_sleep_ms(2);
	}
	return NULL;
}

/*
 * Odd rounds widen the window a server that answers too early would show:
 * the key store does not answer for the first second (its directory is
 * not writable for the agent), so `keys:` are made late.
 */
Test(startup, first_answer_is_never_503_or_404)
{
	struct tsrv_cfg	 cfg = { 0 };
	struct passwd	*pw = need_root();
	struct prober	 pr;
	pthread_t	 t;
	char		 keys[8192];
	int		 round;

	for (round = 0; round < ROUNDS; round++) {
		memset(&srv, 0, sizeof(srv));
		cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: "
		    "%s; build the server first (`make`)", strerror(errno));
		declare_keys(&cfg, keys, sizeof(keys));
		cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
		if (round % 2 == 1) {
			cr_assert_eq(mkdir(srv.keys, 0500), 0);
			cr_assert_eq(chown(srv.keys, pw->pw_uid, pw->pw_gid),
			    0);
		}

		memset(&pr, 0, sizeof(pr));
		cr_assert_eq(pthread_create(&t, NULL, probe, &pr), 0);
		while (!atomic_load(&pr.tried))
			tsrv_sleep_ms(1);
		cr_assert_eq(tsrv_start(&srv), 0);
		if (round % 2 == 1) {
			tsrv_sleep_ms(1000);
			cr_assert_eq(chmod(srv.keys, 0700), 0);
		}
		pthread_join(t, NULL);

		cr_assert_neq(pr.status, -1, "round %d: no answer within %d s "
		    "(%u attempts, last: %s); log:\n%s", round, START_MS / 1000,
		    pr.attempts, pr.body, tsrv_log_tail(&srv));
		cr_assert_eq(pr.status, 200, "round %d: the first answer after "
		    "%u attempts was %ld %s; log:\n%s", round, pr.attempts,
		    pr.status, pr.body, tsrv_log_tail(&srv));
		cr_assert_eq(tsrv_wait_ready(&srv, START_MS), 0);
		tsrv_cleanup(&srv);
	}
}

/* --- NOTIFY_SOCKET ---------------------------------------------------- */

/* A datagram socket at DIR/notify, named in NOTIFY_SOCKET for the
 * server to be started. */
static void
notify_listen(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };

	FMT(sun.sun_path, "%s/notify", srv.dir);
	cr_assert_neq(nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0),
	    -1);
	cr_assert_eq(bind(nfd, (struct sockaddr *)&sun, sizeof(sun)), 0,
	    "bind %s: %s", sun.sun_path, strerror(errno));
	cr_assert_eq(setenv("NOTIFY_SOCKET", sun.sun_path, 1), 0);
}

/*
 * The messages so far, joined; each datagram is one message whose lines
 * are VAR=value. wait_for() reads until a datagram with a line that begins
 * with `line` arrives, or timeout_ms pass (-1); everything read is appended to
 * `seen` with a blank line between datagrams.
 */
static char	seen[16384];

/* Some line of msg begins with `line`. */
static bool
has_line(const char *msg, const char *line)
{
	const char	*p;

	for (p = msg; (p = strstr(p, line)) != NULL; p++)
		if (p == msg || p[-1] == '\n')
			return true;
	return false;
}

static int
wait_for(const char *line, unsigned int timeout_ms, char *last, size_t len)
{
	struct pollfd	 pfd = { .fd = nfd, .events = POLLIN };
	uint64_t	 end = tsrv_now_ms() + timeout_ms;
	char		 msg[4096];
	ssize_t		 n;

	while (tsrv_now_ms() < end) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if ((n = recv(nfd, msg, sizeof(msg) - 1, 0)) <= 0)
			continue;
		msg[n] = '\0';
		if (strlen(seen) + (size_t)n + 2 < sizeof(seen)) {
			strcat(seen, msg);
			strcat(seen, "\n\n");
		}
		if (last != NULL)
			snprintf(last, len, "%s", msg);
		if (has_line(msg, line))
			return 0;
	}
	return -1;
}

/*
 * The key store does not answer at first (its directory is not writable
 * for the agent): the server says so in STATUS=, sends no READY=1 and
 * answers no request. Once the directory is writable it creates `keys:`
 * and only then sends READY=1; a request right after it succeeds.
 */
Test(startup, notify_ready_only_when_requests_succeed)
{
	struct tsrv_cfg	 cfg = { 0 };
	struct passwd	*pw = need_root();
	char		 keys[8192], body[512], last[4096];
	long		 st;
	int		 status;

	memset(&srv, 0, sizeof(srv));
	seen[0] = '\0';
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s",
	    strerror(errno));
	declare_keys(&cfg, keys, sizeof(keys));
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	/* The agent can read its store but not write it: "unreachable". */
	cr_assert_eq(mkdir(srv.keys, 0500), 0, "%s", strerror(errno));
	cr_assert_eq(chown(srv.keys, pw->pw_uid, pw->pw_gid), 0);
	notify_listen();
	cr_assert_eq(tsrv_start(&srv), 0);
	unsetenv("NOTIFY_SOCKET");

	cr_assert_eq(wait_for("STATUS=starting", START_MS, NULL, 0), 0,
	    "no STATUS=starting; got:\n%s\nlog:\n%s", seen,
	    tsrv_log_tail(&srv));
	cr_assert_eq(wait_for("STATUS=key store unreachable", START_MS, NULL,
	    0), 0, "no STATUS= for the unreachable store; got:\n%s\nlog:\n%s",
	    seen, tsrv_log_tail(&srv));
	st = generate("k0", 1500, body, sizeof(body));
	cr_assert_eq(st, -1, "a request was answered (%ld %s) before the "
	    "server was ready; log:\n%s", st, body, tsrv_log_tail(&srv));
	cr_assert_eq(wait_for("READY=1", 500, NULL, 0), -1, "READY=1 while "
	    "the key store cannot be written; got:\n%s", seen);
	cr_assert(!has_line(seen, "READY=1"), "%s", seen);
	cr_assert_eq(tsrv_log_count(&srv, "serving on"), 0);

	/* The store answers: keys are made, then READY=1. */
	cr_assert_eq(chmod(srv.keys, 0700), 0);
	cr_assert_eq(wait_for("READY=1", START_MS, NULL, 0), 0,
	    "no READY=1 once the store answered; got:\n%s\nlog:\n%s", seen,
	    tsrv_log_tail(&srv));
	cr_assert_gt(tsrv_log_count(&srv, "serving on"), 0);
	cr_assert_eq(tsrv_log_count(&srv, "created key 'k199'"), 1,
	    "READY=1 before every key of keys: existed; log:\n%s",
	    tsrv_log_tail(&srv));
	st = generate("k199", 10000, body, sizeof(body));
	cr_assert_eq(st, 200, "right after READY=1: %ld %s", st, body);

	/* SIGHUP: RELOADING=1 with MONOTONIC_USEC=, then READY=1. */
	seen[0] = '\0';
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	cr_assert_eq(wait_for("RELOADING=1", START_MS, last, sizeof(last)), 0,
	    "no RELOADING=1 on SIGHUP; got:\n%s", seen);
	cr_assert(strstr(last, "MONOTONIC_USEC=") != NULL, "%s", last);
	cr_assert(!has_line(last, "READY=1"), "%s", last);
	cr_assert_eq(wait_for("READY=1", START_MS, NULL, 0), 0,
	    "no READY=1 after the reload; got:\n%s", seen);
	cr_assert_gt(tsrv_log_count(&srv, "configuration reloaded"), 0);

	/* SIGTERM: STOPPING=1, and a clean exit. */
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(wait_for("STOPPING=1", START_MS, NULL, 0), 0,
	    "no STOPPING=1 on SIGTERM; got:\n%s", seen);
	cr_assert_eq(tsrv_wait_exit(&srv, START_MS, &status), 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "exit status %#x", status);
}

/* Without NOTIFY_SOCKET nothing changes (and nothing is logged about it). */
Test(startup, no_notify_socket)
{
	need_root();
	memset(&srv, 0, sizeof(srv));
	unsetenv("NOTIFY_SOCKET");
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	cr_assert_eq(tsrv_write_config(&srv, &(struct tsrv_cfg){ 0 }), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, START_MS), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "notify"), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
}
