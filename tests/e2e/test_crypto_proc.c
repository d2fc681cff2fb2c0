/*
 * The real crypto process (./build/keyward crypto, privileges dropped,
 * sandbox on) driven by this test acting as its parent and its workers:
 * a malformed or oversized frame from a worker costs that worker its
 * channel and nothing else; the handshake refuses another protocol version;
 * concurrent misses for one key make one fetch at a fake agent.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/ciphertext.h"
#include "common/ipc.h"
#include "common/kes_key.h"
#include "common/msg.h"
#include "common/policy.h"
#include "common/proc.h"
#include "common/slice.h"
#include "tests/lib/fakeparent.h"
#include "tests/lib/testsrv.h"

#define ADMIN	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OTHER	"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
#define WAIT_MS	5000

static pid_t		crypto_pid = -1;
static struct ipc_chan	ctl;
static char		chroot_dir[] = "/tmp/keyward-test-chroot.XXXXXX";

static void
spawn_crypto(void)
{
	const char *why = NULL;

	crypto_pid = fakeparent_spawn("crypto", &ctl, &why);
	cr_assert_gt(crypto_pid, 0, "cannot start the crypto process: %s",
	    why ? why : "?");
}

static void
teardown(void)
{
	int status;

	if (crypto_pid > 0) {
		kill(crypto_pid, SIGKILL);
		waitpid(crypto_pid, &status, 0);
		ipc_close(&ctl);
	}
	rmdir(chroot_dir);
}

/* Act as the parent: HELLO in, CONFIG out, READY in. */
static void
start_crypto(void)
{
	struct proc_opts	 opts = { 0 };
	struct crypto_slice	 cs = { 0 };
	struct buf		 b;
	const char		*why = NULL;

	cr_assert_not_null(mkdtemp(chroot_dir));
	chmod(chroot_dir, 0755);
	spawn_crypto();
	opts.user = "keyward";
	opts.chroot = geteuid() == 0 ? chroot_dir : "";
	opts.mlock = true;
	opts.foreground = true;
	cs.log_level = 2;
	cs.pol.admin = ADMIN;
	buf_init(&b, 4096);
	cr_assert_eq(proc_opts_put(&b, &opts), 0);
	cr_assert_eq(crypto_slice_put(&b, &cs), 0);
	cr_assert_eq(fakeparent_configure(&ctl, &b, WAIT_MS, &why), 0,
	    "handshake: %s", why ? why : "?");
	buf_release(&b);
}

/* Hand the crypto process a new worker channel; returns our end. */
static void
add_worker(struct ipc_chan *wc, uint32_t index)
{
	const char *why = NULL;

	cr_assert_eq(fakeparent_add_peer(&ctl, ROLE_WORKER, index, wc,
	    WAIT_MS, &why), 0, "cannot add worker %u: %s", index,
	    why ? why : "?");
}

static void
status_req(struct ipc_chan *wc, uint32_t id, const char *identity)
{
	struct buf b;

	buf_init(&b, 128);
	buf_put_str(&b, identity);
	cr_assert_eq(ipc_put_buf(wc, MSG_STATUS_REQ, id, &b), 0);
	cr_assert_eq(ipc_flush_wait(wc, WAIT_MS), 0);
	buf_release(&b);
}

/* The crypto process answers a status request on wc (no agent yet, so
 * the key store is reported unreachable). */
static void
expect_status(struct ipc_chan *wc, uint32_t id)
{
	struct ipc_msg	m;
	bool		ok;
	uint64_t	lat, up;

	status_req(wc, id, ADMIN);
	cr_assert_eq(ipc_get_wait(wc, &m, WAIT_MS), 1, "no answer: %s",
	    wc->error);
	cr_assert_eq(m.hdr.type, MSG_STATUS_REP);
	cr_assert_eq(m.hdr.id, id);
	cr_assert_eq(buf_get_bool(&m.payload, &ok), 0);
	cr_assert_eq(buf_get_u64(&m.payload, &lat), 0);
	cr_assert_eq(buf_get_u64(&m.payload, &up), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert(!ok);
}

/* The crypto process closed wc: reading ends in EOF. */
static void
expect_dropped(struct ipc_chan *wc)
{
	struct ipc_msg	m;

	cr_assert_eq(ipc_get_wait(wc, &m, WAIT_MS), -1);
	cr_assert(wc->eof, "channel not closed: %s", wc->error);
}

static void
expect_alive(void)
{
	int status;

	cr_assert_eq(waitpid(crypto_pid, &status, WNOHANG), 0,
	    "crypto process died (status %#x)", status);
}

TestSuite(crypto_proc, .fini = teardown, .timeout = 30);

Test(crypto_proc, answers_and_reauthorises)
{
	struct ipc_chan	w0;
	struct ipc_msg	m;
	uint16_t	status;
	const char	*msg;

	start_crypto();
	add_worker(&w0, 0);
	expect_status(&w0, 7);
	/* The worker's policy check is not trusted: crypto checks again. */
	status_req(&w0, 8, OTHER);
	cr_assert_eq(ipc_get_wait(&w0, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_ERROR);
	cr_assert_eq(m.hdr.id, 8);
	cr_assert_eq(buf_get_u16(&m.payload, &status), 0);
	cr_assert_eq(buf_get_str(&m.payload, &msg, NULL), 0);
	cr_assert_eq(status, 403);
	cr_assert_str_eq(msg, "not authorized: insufficient permissions");
	ipc_close(&w0);
}

Test(crypto_proc, trailing_bytes_drop_only_that_worker)
{
	struct ipc_chan	w0, w1;
	struct buf	b;

	start_crypto();
	add_worker(&w0, 0);
	add_worker(&w1, 1);
	buf_init(&b, 128);
	buf_put_str(&b, ADMIN);
	buf_put_u8(&b, 0);	/* one byte too many */
	cr_assert_eq(ipc_put_buf(&w0, MSG_STATUS_REQ, 1, &b), 0);
	cr_assert_eq(ipc_flush_wait(&w0, WAIT_MS), 0);
	buf_release(&b);
	expect_dropped(&w0);
	expect_alive();
	expect_status(&w1, 2);
	ipc_close(&w0);
	ipc_close(&w1);
}

Test(crypto_proc, oversized_frame_drops_channel)
{
	struct ipc_chan	w0, w1;
	uint8_t		hdr[IPC_HDR_LEN] = {
		0xff, 0xff, 0xff, 0xf0,			/* length */
		0, MSG_STATUS_REQ, 0, IPC_PROTO_VERSION,	/* type, ver */
		0, 0, 0, 1 };				/* id */

	start_crypto();
	add_worker(&w0, 0);
	cr_assert_eq(write(w0.fd, hdr, sizeof(hdr)), (ssize_t)sizeof(hdr));
	expect_dropped(&w0);
	expect_alive();
	add_worker(&w1, 1);
	expect_status(&w1, 3);
	ipc_close(&w0);
	ipc_close(&w1);
}

Test(crypto_proc, unknown_type_and_wrong_version_drop_channel)
{
	struct ipc_chan	w0, w1, w2;
	uint8_t		badver[IPC_HDR_LEN] = {
		0, 0, 0, 0, 0, MSG_STATUS_REQ, 0, IPC_PROTO_VERSION + 1,
		0, 0, 0, 1 };

	start_crypto();
	add_worker(&w0, 0);
	/* A parent-only message type from a worker. */
	cr_assert_eq(ipc_put(&w0, MSG_SHUTDOWN, 1, NULL, 0), 0);
	cr_assert_eq(ipc_flush_wait(&w0, WAIT_MS), 0);
	expect_dropped(&w0);
	add_worker(&w1, 1);
	cr_assert_eq(write(w1.fd, badver, sizeof(badver)),
	    (ssize_t)sizeof(badver));
	expect_dropped(&w1);
	expect_alive();
	add_worker(&w2, 2);
	expect_status(&w2, 4);
	ipc_close(&w0);
	ipc_close(&w1);
	ipc_close(&w2);
}

/* A parent that speaks another protocol version is refused: the child
 * exits without configuring itself. */
Test(crypto_proc, handshake_refuses_other_version)
{
	struct ipc_msg	m;
	uint8_t		cfg[IPC_HDR_LEN] = {
		0, 0, 0, 0, 0, MSG_CONFIG, 0, IPC_PROTO_VERSION + 1,
		0, 0, 0, 0 };
	int		status;

	spawn_crypto();
	cr_assert_eq(ipc_get_wait(&ctl, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_HELLO);
	cr_assert_eq(write(ctl.fd, cfg, sizeof(cfg)), (ssize_t)sizeof(cfg));
	cr_assert_eq(waitpid(crypto_pid, &status, 0), crypto_pid);
	crypto_pid = -1;
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "status %#x", status);
}

/* The parent's side of the same check, on HELLO payloads. */
Test(crypto_proc, hello_checks)
{
	struct buf b;

	buf_init(&b, 256);
	buf_put_u32(&b, IPC_PROTO_VERSION);
	buf_put_str(&b, proc_build_id());
	cr_assert_null(proc_check_hello(&b));
	buf_reset(&b);
	buf_put_u32(&b, IPC_PROTO_VERSION + 1);
	buf_put_str(&b, proc_build_id());
	cr_assert_str_eq(proc_check_hello(&b), "protocol version differs");
	buf_reset(&b);
	buf_put_u32(&b, IPC_PROTO_VERSION);
	buf_put_str(&b, "keyward 0.0 another build");
	cr_assert_str_eq(proc_check_hello(&b), "child is from another build");
	buf_reset(&b);
	buf_put_u32(&b, IPC_PROTO_VERSION);
	cr_assert_str_eq(proc_check_hello(&b), "malformed HELLO");
	buf_release(&b);
}

/* Hand the crypto process an agent channel; returns our end. */
static void
add_agent(struct ipc_chan *ac)
{
	const char *why = NULL;

	cr_assert_eq(fakeparent_add_peer(&ctl, ROLE_AGENT, 0, ac, WAIT_MS,
	    &why), 0, "cannot add the agent: %s", why ? why : "?");
}

/* The next call at the agent other than a status probe (answered "up");
 * 0 when none comes within ms. */
static int
agent_next(struct ipc_chan *ac, struct ipc_msg *m, int ms)
{
	struct buf b;

	for (;;) {
		if (ipc_get_wait(ac, m, ms) != 1)
			return 0;
		if (m->hdr.type != MSG_KS_STATUS_REQ)
			return 1;
		buf_init(&b, 64);
		buf_put_u8(&b, 1);
		buf_put_u64(&b, 1000);
		buf_put_str(&b, "");
		cr_assert_eq(ipc_put_buf(ac, MSG_KS_STATUS_REP, m->hdr.id, &b),
		    0);
		cr_assert_eq(ipc_flush_wait(ac, WAIT_MS), 0);
		buf_release(&b);
	}
}

static void
generate_req(struct ipc_chan *wc, uint32_t id, const char *identity,
    const char *name)
{
	struct buf b;

	buf_init(&b, 256);
	buf_put_str(&b, identity);
	buf_put_str(&b, name);
	buf_put_bytes(&b, "ctx", 3);
	cr_assert_eq(ipc_put_buf(wc, MSG_KEY_GENERATE, id, &b), 0);
	cr_assert_eq(ipc_flush_wait(wc, WAIT_MS), 0);
	buf_release(&b);
}

static void
expect_error(struct ipc_chan *wc, uint32_t id, uint16_t want,
    const char *wantmsg)
{
	struct ipc_msg	 m;
	uint16_t	 status;
	const char	*msg;

	cr_assert_eq(ipc_get_wait(wc, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_ERROR);
	cr_assert_eq(m.hdr.id, id);
	cr_assert_eq(buf_get_u16(&m.payload, &status), 0);
	cr_assert_eq(buf_get_str(&m.payload, &msg, NULL), 0);
	cr_assert_eq(status, want);
	cr_assert_str_eq(msg, wantmsg);
}

/* A DEK for request id, sealed under k with the context "ctx". */
static void
expect_dek(struct ipc_chan *wc, uint32_t id, const struct kes_key *k)
{
	struct ipc_msg	 m;
	const uint8_t	*dek, *ct;
	size_t		 deklen, ctlen, ptlen;
	uint8_t		 pt[256];

	cr_assert_eq(ipc_get_wait(wc, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_KEY_DEK, "type %u", m.hdr.type);
	cr_assert_eq(m.hdr.id, id);
	cr_assert_eq(buf_get_bytes(&m.payload, &dek, &deklen), 0);
	cr_assert_eq(buf_get_bytes(&m.payload, &ct, &ctlen), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(deklen, 32);
	cr_assert_eq(ctlen, 32 + KES_CT_OVERHEAD);
	cr_assert_eq(kes_open(&k->secret, ct, ctlen, (const uint8_t *)"ctx", 3, pt,
	    &ptlen), 0);
	cr_assert_eq(ptlen, 32);
	cr_assert_arr_eq(pt, dek, 32);
}

/*
 * Concurrent misses for one key make one fetch at the agent; the parked
 * requests all get answers once it arrives, later ones come from the
 * cache; a key the store does not have fails every waiter with KES's 404;
 * the policy is checked before the store is asked.
 */
Test(crypto_proc, coalesces_misses_and_caches)
{
	struct ipc_chan	 w0, ag;
	struct ipc_msg	 m;
	struct kes_key	 k;
	struct buf	 v, b;
	const char	*name;
	uint32_t	 get_id, id;

	memset(&k, 0, sizeof(k));
	k.type = KES_KEY_AES256;
	memset(k.key, 0x11, sizeof(k.key));
	k.has_hmac = true;
	memset(k.hmac, 0x22, sizeof(k.hmac));
	k.created_sec = 1700000000;
	snprintf(k.created_by, sizeof(k.created_by), "%s", ADMIN);

	start_crypto();
	add_worker(&w0, 0);
	add_agent(&ag);
	for (id = 1; id <= 3; id++)
		generate_req(&w0, id, ADMIN, "k1");
	generate_req(&w0, 4, OTHER, "k1");
	expect_error(&w0, 4, 403, "not authorized: insufficient permissions");

	cr_assert_eq(agent_next(&ag, &m, WAIT_MS), 1, "no fetch");
	cr_assert_eq(m.hdr.type, MSG_KS_GET);
	get_id = m.hdr.id;
	cr_assert_eq(buf_get_str(&m.payload, &name, NULL), 0);
	cr_assert_str_eq(name, "k1");
	cr_assert_eq(agent_next(&ag, &m, 300), 0, "a second fetch for k1");

	buf_init(&v, 4096);
	cr_assert_eq(kes_key_encode(&k, &v), 0);
	buf_init(&b, 8192);
	buf_put_bytes(&b, buf_ptr(&v), buf_avail(&v));
	cr_assert_eq(ipc_put_buf(&ag, MSG_KS_VALUE, get_id, &b), 0);
	cr_assert_eq(ipc_flush_wait(&ag, WAIT_MS), 0);
	buf_release(&b);
	buf_release(&v);
	for (id = 1; id <= 3; id++)
		expect_dek(&w0, id, &k);

	/* Cached now: no call at the agent. */
	generate_req(&w0, 5, ADMIN, "k1");
	expect_dek(&w0, 5, &k);
	cr_assert_eq(agent_next(&ag, &m, 200), 0, "fetched a cached key");

	/* Not in the store: one fetch, every waiter gets KES's 404. */
	generate_req(&w0, 6, ADMIN, "k2");
	generate_req(&w0, 7, ADMIN, "k2");
	cr_assert_eq(agent_next(&ag, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_KS_GET);
	get_id = m.hdr.id;
	cr_assert_eq(agent_next(&ag, &m, 300), 0, "a second fetch for k2");
	buf_init(&b, 256);
	buf_put_u8(&b, KS_FAIL_NOT_FOUND);
	buf_put_str(&b, "no such file");
	cr_assert_eq(ipc_put_buf(&ag, MSG_KS_FAIL, get_id, &b), 0);
	cr_assert_eq(ipc_flush_wait(&ag, WAIT_MS), 0);
	buf_release(&b);
	expect_error(&w0, 6, 404, "key does not exist");
	expect_error(&w0, 7, 404, "key does not exist");
	expect_alive();
	kes_key_wipe(&k);
	ipc_close(&ag);
	ipc_close(&w0);
}
