/*
 * The agent's calls (keystore-agent/calls.c) are asynchronous: with a test
 * store that completes a get only when told to, every other call is
 * answered while the get is outstanding, and the get is answered when the
 * store completes it. A call past its deadline fails as unavailable and is
 * cancelled at the store; so is every call when the crypto channel goes.
 *
 * In-process: the agent's side of a real socketpair is served by the
 * agent's own event loop; this test holds the crypto process's end.
 */
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/ev.h"
#include "common/ipc.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/peer.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/calls.h"

/* The test store: one get held until released, everything else at once. */
static struct {
	struct ks_op	*held;		/* the outstanding get */
	int		 cancelled;
	int		 calls;
} ts;

static void
ts_status(struct ks_op *op)
{
	ts.calls++;
	op->latency_ns = 42;
	ks_op_done(op, 0, NULL);
}

static void
ts_create(struct ks_op *op)
{
	ts.calls++;
	ks_op_done(op, strcmp(op->name, "exists") == 0 ? KS_FAIL_EXISTS : 0,
	    "key 'exists' exists");
}

static void
ts_get(struct ks_op *op)
{
	ts.calls++;
	cr_assert_null(ts.held, "a second get while one is held");
	ts.held = op;
}

static void
ts_del(struct ks_op *op)
{
	ts.calls++;
	ks_op_done(op, 0, NULL);
}

static void
ts_list(struct ks_op *op)
{
	ts.calls++;
	cr_assert_eq(ks_op_name(op, "b"), 0);
	cr_assert_eq(ks_op_name(op, "a"), 0);
	ks_op_done(op, 0, NULL);
}

static void
ts_cancel(struct ks_op *op)
{
	cr_assert_eq(op, ts.held, "cancelled a call the store does not "
	    "hold");
	ts.held = NULL;
	ts.cancelled++;
}

static const struct ks_backend ks_backend_test = {
	.name = "test",
	.status = ts_status,
	.create = ts_create,
	.get = ts_get,
	.del = ts_del,
	.list = ts_list,
	.cancel = ts_cancel,
};

static struct peer	agent_end;
static struct ipc_chan	crypto_end;
static int		lost_calls;

static void
lost(struct peer *p, const char *why)
{
	lost_calls++;
	ks_calls_cancel(NULL);
	peer_close(p);
}

static void
setup(void)
{
	int sv[2];

	log_setlevel(LOG_LVL_OFF);
	memset(&ts, 0, sizeof(ts));
	lost_calls = 0;
	ev_init();
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv),
	    0);
	peer_open(&agent_end, sv[0], IPC_MAX_PEER, false, ROLE_CRYPTO, 0,
	    ks_calls_dispatch, lost, NULL);
	ipc_init(&crypto_end, sv[1], IPC_MAX_PEER, false);
}

static void
teardown(void)
{
	if (agent_end.open)
		peer_close(&agent_end);
	ipc_close(&crypto_end);
}

TestSuite(agent_calls, .init = setup, .fini = teardown, .timeout = 30);

static void
send_req(uint16_t type, uint32_t id, const char *name, const char *value)
{
	struct buf b;

	buf_init(&b, 4096);
	if (name != NULL)
		cr_assert_eq(buf_put_str(&b, name), 0);
	if (value != NULL)
		cr_assert_eq(buf_put_bytes(&b, value, strlen(value)), 0);
	cr_assert_eq(ipc_put_buf(&crypto_end, type, id, &b), 0);
	cr_assert_eq(ipc_flush_wait(&crypto_end, 1000), 0);
	buf_release(&b);
}

/* Run the agent's loop until a reply arrives (1) or max_ms pass (0). */
static int
next_reply(struct ipc_msg *m, int max_ms)
{
	int i, r;

	for (i = 0; i <= max_ms / 10; i++) {
		if ((r = ipc_get(&crypto_end, m)) != 0) {
			cr_assert_eq(r, 1, "%s", crypto_end.error);
			return 1;
		}
		ev_once(10);
		(void)ipc_read(&crypto_end);
	}
	return 0;
}

static void
expect_reply(uint16_t type, uint32_t id, struct ipc_msg *m)
{
	cr_assert_eq(next_reply(m, 2000), 1, "no reply to %u", id);
	cr_assert_eq(m->hdr.id, id, "reply to %u, expected %u", m->hdr.id,
	    id);
	cr_assert_eq(m->hdr.type, type, "%s to %u, expected %s",
	    msg_name(m->hdr.type), id, msg_name(type));
}

Test(agent_calls, others_complete_while_a_get_is_outstanding)
{
	struct ipc_msg	 m;
	const uint8_t	*v;
	const char	*s;
	size_t		 len;
	uint32_t	 n;
	uint64_t	 lat;
	uint8_t		 u8;

	ks_calls_init(&ks_backend_test, 10000);
	send_req(MSG_KS_GET, 1, "slow", NULL);
	cr_assert_eq(next_reply(&m, 200), 0, "the held get was answered");
	cr_assert_not_null(ts.held, "the store never saw the get");
	cr_assert_str_eq(ts.held->name, "slow");

	send_req(MSG_KS_STATUS_REQ, 2, NULL, NULL);
	send_req(MSG_KS_CREATE, 3, "k", "value");
	send_req(MSG_KS_CREATE, 4, "exists", "value");
	send_req(MSG_KS_DELETE, 5, "k", NULL);
	send_req(MSG_KS_LIST, 6, "", NULL);

	expect_reply(MSG_KS_STATUS_REP, 2, &m);
	cr_assert_eq(buf_get_u8(&m.payload, &u8), 0);
	cr_assert_eq(u8, 1);
	cr_assert_eq(buf_get_u64(&m.payload, &lat), 0);
	cr_assert_eq(lat, 42);
	expect_reply(MSG_KS_DONE, 3, &m);
	expect_reply(MSG_KS_FAIL, 4, &m);
	cr_assert_eq(buf_get_u8(&m.payload, &u8), 0);
	cr_assert_eq(u8, KS_FAIL_EXISTS);
	expect_reply(MSG_KS_DONE, 5, &m);
	expect_reply(MSG_KS_NAMES, 6, &m);
	cr_assert_eq(buf_get_u32(&m.payload, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(buf_get_str(&m.payload, &s, NULL), 0);
	cr_assert_str_eq(s, "a", "names are sorted by the agent");
	cr_assert_eq(ts.calls, 6);
	cr_assert_eq(ks_calls_pending(), 1, "only the get is outstanding");

	/* Now the store completes the get. */
	cr_assert_eq(buf_put(ts.held->out, "stored", 6), 0);
	ks_op_done(ts.held, 0, NULL);
	ts.held = NULL;
	expect_reply(MSG_KS_VALUE, 1, &m);
	cr_assert_eq(buf_get_bytes(&m.payload, &v, &len), 0);
	cr_assert_eq(len, 6);
	cr_assert_eq(memcmp(v, "stored", 6), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(ks_calls_pending(), 0);
	cr_assert_eq(ts.cancelled, 0);
	cr_assert_eq(lost_calls, 0);
}

Test(agent_calls, a_get_past_its_deadline_fails_and_is_cancelled)
{
	struct ipc_msg	m;
	uint8_t		reason;

	ks_calls_init(&ks_backend_test, 200);
	send_req(MSG_KS_GET, 7, "slow", NULL);
	expect_reply(MSG_KS_FAIL, 7, &m);
	cr_assert_eq(buf_get_u8(&m.payload, &reason), 0);
	cr_assert_eq(reason, KS_FAIL_UNAVAILABLE);
	cr_assert_eq(ts.cancelled, 1);
	cr_assert_null(ts.held);
	cr_assert_eq(ks_calls_pending(), 0);
}

Test(agent_calls, a_lost_channel_cancels_outstanding_calls)
{
	struct ipc_msg m;

	ks_calls_init(&ks_backend_test, 10000);
	send_req(MSG_KS_GET, 8, "slow", NULL);
	cr_assert_eq(next_reply(&m, 200), 0);
	cr_assert_not_null(ts.held);
	/* A malformed frame costs the channel, and with it the call. */
	cr_assert_eq(ipc_put(&crypto_end, MSG_KS_GET, 9, "x", 1), 0);
	cr_assert_eq(ipc_flush_wait(&crypto_end, 1000), 0);
	(void)next_reply(&m, 200);
	cr_assert_eq(lost_calls, 1);
	cr_assert_eq(ts.cancelled, 1);
	cr_assert_eq(ks_calls_pending(), 0);
}
