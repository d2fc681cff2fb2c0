/*
 * ipc_rtt: the worker <-> crypto round trip, measured against the real
 * crypto process (`keyward crypto`: privileges dropped, mlockall, sandbox
 * on), which this program starts and configures as its parent would and
 * then talks to as a worker and as the key-store agent
 * (tests/lib/fakeparent.h). Sequential requests, one in flight:
 *   echo      a frame to a forked echo process over a socketpair and back
 *             (the IPC layer and two context switches, no crypto work);
 *   status    MSG_STATUS_REQ -> MSG_STATUS_REP;
 *   generate  MSG_KEY_GENERATE on a cached key -> MSG_KEY_DEK (HMAC key
 *             derivation, AES-GCM seal of a fresh DEK).
 * Run it pinned to one CPU (taskset) to mirror a pinned server.
 * Output per kind: "rtt KIND n=N mean_us=.. p50_us=.. p99_us=.. max_us=..".
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/ipc.h"
#include "common/kes_key.h"
#include "common/msg.h"
#include "common/proc.h"
#include "common/slice.h"
#include "tests/bench/hist.h"
#include "tests/lib/fakeparent.h"

#define ADMIN	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define WAIT_MS	5000
#define CONTEXT	"{\"bench\":\"bench/object\"}"

static struct ipc_chan	 ctl, wc, ac;
static struct kes_key	 key;
static struct hist	 h;
static bool		 probed;		/* a status probe answered */
static pid_t		 crypto_pid = -1;
static char		 chroot_dir[] = "/tmp/keyward-bench-chroot.XXXXXX";
static bool		 have_chroot;

/* Also on errx(): no crypto process or directory left behind. */
static void
cleanup(void)
{
	int st;

	if (crypto_pid > 0) {
		kill(crypto_pid, SIGKILL);
		waitpid(crypto_pid, &st, 0);
		crypto_pid = -1;
	}
	if (have_chroot)
		rmdir(chroot_dir);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
report(const char *kind)
{
	printf("rtt %s n=%llu mean_us=%.2f p50_us=%.2f p99_us=%.2f "
	    "max_us=%.2f\n", kind, (unsigned long long)h.count,
	    h.count ? (double)h.sum / h.count / 1e3 : 0,
	    hist_quantile(&h, 0.5) / 1e3, hist_quantile(&h, 0.99) / 1e3,
	    h.max / 1e3);
	fflush(stdout);
}

/* The agent's side: answer probes "up" and fetches with the one key. */
static void
agent_serve(void)
{
	struct ipc_msg	m;
	struct buf	b, v;

	if (ipc_read(&ac) == 0)
		errx(1, "the crypto process closed the agent channel");
	while (ipc_get(&ac, &m) == 1) {
		buf_init(&b, 8192);
		if (m.hdr.type == MSG_KS_STATUS_REQ) {
			buf_put_u8(&b, 1);
			buf_put_u64(&b, 1000);
			buf_put_str(&b, "");
			(void)ipc_put_buf(&ac, MSG_KS_STATUS_REP, m.hdr.id, &b);
			probed = true;
		} else if (m.hdr.type == MSG_KS_GET) {
			buf_init(&v, 4096);
			if (kes_key_encode(&key, &v) == -1)
				errx(1, "kes_key_encode");
			buf_put_bytes(&b, buf_ptr(&v), buf_avail(&v));
			(void)ipc_put_buf(&ac, MSG_KS_VALUE, m.hdr.id, &b);
			buf_release(&v);
		} else
			errx(1, "agent: unexpected %s", msg_name(m.hdr.type));
		buf_release(&b);
	}
	if (ipc_flush_wait(&ac, WAIT_MS) == -1)
		errx(1, "agent: %s", ac.error);
}

/* Send req on the worker channel, wait for the answer of type want. */
static uint64_t
round_trip(uint16_t type, uint32_t id, const struct buf *req, uint16_t want)
{
	struct pollfd	pf[2];
	struct ipc_msg	m;
	uint64_t	t0 = now_ns();
	int		r;

	if (ipc_put_buf(&wc, type, id, req) == -1 ||
	    ipc_flush_wait(&wc, WAIT_MS) == -1)
		errx(1, "send: %s", wc.error ? wc.error : "?");
	for (;;) {
		if ((r = ipc_get(&wc, &m)) == 1)
			break;
		if (r == -1 || wc.eof)
			errx(1, "worker channel: %s", wc.error ? wc.error :
			    "closed");
		pf[0].fd = wc.fd;
		pf[0].events = POLLIN;
		pf[1].fd = ac.fd;
		pf[1].events = POLLIN;
		if (poll(pf, ac.fd == -1 ? 1 : 2, WAIT_MS) <= 0)
			errx(1, "no answer to %s", msg_name(type));
		if (pf[0].revents != 0 && ipc_read(&wc) == -1 &&
		    errno != EAGAIN)
			errx(1, "read: %s", wc.error);
		if (ac.fd != -1 && pf[1].revents != 0)
			agent_serve();
	}
	if (m.hdr.type == MSG_ERROR) {
		uint16_t	 status = 0;
		const char	*msg = "?";

		(void)buf_get_u16(&m.payload, &status);
		(void)buf_get_str(&m.payload, &msg, NULL);
		errx(1, "%s id %u: error %u: %s", msg_name(type), id, status,
		    msg);
	}
	if (m.hdr.id != id || m.hdr.type != want)
		errx(1, "answer %s id %u to %s id %u", msg_name(m.hdr.type),
		    m.hdr.id, msg_name(type), id);
	return now_ns() - t0;
}

/* A forked process echoing frames back: the bare IPC round trip. */
static void
run_echo(unsigned int n)
{
	struct ipc_chan	a, e;
	struct ipc_msg	m;
	struct buf	b;
	unsigned int	i;
	uint64_t	t0;
	pid_t		pid;
	int		sv[2], st;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		err(1, "socketpair");
	if ((pid = fork()) == -1)
		err(1, "fork");
	if (pid == 0) {
		close(sv[0]);
		ipc_init(&e, sv[1], IPC_MAX_PEER, false);
		for (;;) {
			if (ipc_get_wait(&e, &m, 60000) != 1)
				_exit(0);
			if (ipc_put(&e, m.hdr.type, m.hdr.id,
			    buf_ptr(&m.payload), buf_avail(&m.payload)) == -1 ||
			    ipc_flush_wait(&e, WAIT_MS) == -1)
				_exit(1);
		}
	}
	close(sv[1]);
	ipc_init(&a, sv[0], IPC_MAX_PEER, false);
	buf_init(&b, 256);
	buf_put_str(&b, ADMIN);
	buf_put_str(&b, "bench-key");
	buf_put_bytes(&b, CONTEXT, strlen(CONTEXT));
	hist_reset(&h);
	for (i = 0; i < n; i++) {
		t0 = now_ns();
		if (ipc_put_buf(&a, MSG_KEY_GENERATE, i, &b) == -1 ||
		    ipc_flush_wait(&a, WAIT_MS) == -1 ||
		    ipc_get_wait(&a, &m, WAIT_MS) != 1)
			errx(1, "echo: %s", a.error ? a.error : "?");
		hist_record(&h, now_ns() - t0);
	}
	buf_release(&b);
	ipc_close(&a);
	waitpid(pid, &st, 0);
	report("echo");
}

int
main(int argc, char **argv)
{
	struct proc_opts	 opts = { 0 };
	struct crypto_slice	 cs = { .ncrypto = 1 };
	struct buf		 b;
	const char		*why = NULL;
	unsigned int		 n = 20000, i;

	if (argc > 1 && (n = (unsigned int)strtoul(argv[1], NULL, 10)) == 0)
		errx(2, "usage: ipc_rtt [ROUND_TRIPS]");
	signal(SIGPIPE, SIG_IGN);
	run_echo(n);

	atexit(cleanup);
	if (mkdtemp(chroot_dir) == NULL)
		err(1, "mkdtemp");
	have_chroot = true;
	if (chmod(chroot_dir, 0755) == -1)
		err(1, "chmod");
	if ((crypto_pid = fakeparent_spawn("crypto", &ctl, &why)) == -1)
		errx(1, "cannot start the crypto process: %s", why);
	opts.user = "keyward";
	opts.chroot = geteuid() == 0 ? chroot_dir : "";
	opts.mlock = true;
	opts.foreground = true;
	cs.log_level = 2;
	cs.pol.admin = ADMIN;
	cs.cache_any_ms = 3600 * 1000;
	cs.cache_unused_ms = 3600 * 1000;
	buf_init(&b, 4096);
	if (proc_opts_put(&b, &opts) == -1 || crypto_slice_put(&b, &cs) == -1)
		errx(1, "cannot encode the configuration");
	if (fakeparent_configure(&ctl, &b, WAIT_MS, &why) == -1)
		errx(1, "crypto handshake: %s", why);
	buf_release(&b);
	ac.fd = -1;
	if (fakeparent_add_peer(&ctl, ROLE_WORKER, 0, &wc, WAIT_MS, &why) == -1)
		errx(1, "worker channel: %s", why);

	/* Status first, before an agent is there to probe. */
	buf_init(&b, 128);
	buf_put_str(&b, ADMIN);
	hist_reset(&h);
	for (i = 0; i < n; i++)
		hist_record(&h, round_trip(MSG_STATUS_REQ, i, &b,
		    MSG_STATUS_REP));
	buf_release(&b);
	report("status");

	if (fakeparent_add_peer(&ctl, ROLE_AGENT, 0, &ac, WAIT_MS, &why) == -1)
		errx(1, "agent channel: %s", why);
	/* Let the crypto process see the store up before asking it. */
	for (i = 0; i < 50 && !probed; i++) {
		struct pollfd pf = { .fd = ac.fd, .events = POLLIN };

		if (poll(&pf, 1, 100) > 0)
			agent_serve();
	}
	key.type = KES_KEY_AES256;
	if (RAND_bytes(key.key, sizeof(key.key)) != 1 ||
	    RAND_bytes(key.hmac, sizeof(key.hmac)) != 1)
		errx(1, "RAND_bytes");
	key.has_hmac = true;
	key.created_sec = 1700000000;
	snprintf(key.created_by, sizeof(key.created_by), "%s", ADMIN);
	buf_init(&b, 256);
	buf_put_str(&b, ADMIN);
	buf_put_str(&b, "bench-key");
	buf_put_bytes(&b, CONTEXT, strlen(CONTEXT));
	/* The first one misses and fetches the key from our agent. */
	(void)round_trip(MSG_KEY_GENERATE, n, &b, MSG_KEY_DEK);
	hist_reset(&h);
	for (i = 0; i < n; i++)
		hist_record(&h, round_trip(MSG_KEY_GENERATE, n + 1 + i, &b,
		    MSG_KEY_DEK));
	buf_release(&b);
	report("generate");

	kes_key_wipe(&key);
	ipc_close(&wc);
	ipc_close(&ac);
	ipc_close(&ctl);
	return 0;	/* cleanup() stops the crypto process */
}
