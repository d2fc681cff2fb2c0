/*
 * The crypto process's stubs at the agent (privsep/ks_wrap.c) build each
 * request with a run of puts and send it with one checked call. A request
 * a put did not fit fails at the stub: the crypto process logs which
 * message it could not build, no call is registered, and the agent's end
 * of the channel receives nothing; it used to receive the request cut
 * after its name, and drop the channel for a malformed frame.
 *
 * In-process: cs.agent is one end of a real socketpair; the test reads
 * the agent's end.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/ipc.h"
#include "common/kes_key.h"
#include "common/msg.h"
#include "common/names.h"
#include "privsep/crypto_int.h"
#include "tests/lib/sendpair.h"

static struct cpeer	agent;
static struct sendpair	sp;

static void
setup(void)
{
	ev_init();
	TAILQ_INIT(&cs.workers);
	TAILQ_INIT(&cs.ksreqs);
	cr_assert_eq(sendpair_open(&sp, &agent.p, ROLE_AGENT), 0);
	cs.agent = &agent;
}

static void
teardown(void)
{
	ks_fail_all();
	cs.agent = NULL;
	sendpair_close(&sp, &agent.p);
}

TestSuite(ks_wrap, .init = setup, .fini = teardown, .timeout = 30);

/* A value of n bytes of v, in a buffer that holds just that. */
static void
value(struct buf *b, size_t n, uint8_t v)
{
	uint8_t *p = malloc(n);

	cr_assert_not_null(p);
	memset(p, v, n);
	buf_init(b, n);
	cr_assert_eq(buf_put(b, p, n), 0);
	free(p);
}

Test(ks_wrap, a_create_that_does_not_fit_fails_at_the_stub)
{
	struct buf	 big, small;
	struct ipc_msg	 m;
	struct ksreq	*r;
	const char	*name;
	const uint8_t	*p;
	size_t		 len;

	/* Within the frame's maximum, past the room of a KS_CREATE. */
	value(&big, KES_STORED_MAX + KES_NAME_MAX + 16, 0xaa);
	cr_assert_lt(buf_avail(&big), IPC_MAX_PEER);
	cr_assert_null(ks_create("k", &big));
	cr_assert(strstr(sp.last_line, "cannot build KS_CREATE for agent 0")
	    != NULL, "logged: %s", sp.last_line);
	cr_assert(TAILQ_EMPTY(&cs.ksreqs), "a call for a request not sent");
	cr_assert_eq(sendpair_received(&sp), 0,
	    "a frame reached the agent although it was not built");
	buf_release(&big);

	/* The same stub with a value that fits: the whole request arrives,
	 * so the check above would have seen a frame. */
	value(&small, 32, 0x55);
	cr_assert_not_null(r = ks_create("k", &small));
	cr_assert_eq(sendpair_received(&sp), 1);
	cr_assert_gt(ipc_read(&sp.rx), 0);
	cr_assert_eq(ipc_get(&sp.rx, &m), 1);
	cr_assert_eq(m.hdr.type, MSG_KS_CREATE);
	cr_assert_eq(m.hdr.id, r->id);
	cr_assert_eq(buf_get_str(&m.payload, &name, NULL), 0);
	cr_assert_str_eq(name, "k");
	cr_assert_eq(buf_get_bytes(&m.payload, &p, &len), 0);
	cr_assert_eq(len, 32);
	cr_assert_eq(memcmp(p, buf_ptr(&small), len), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(sp.lost, 0);
	buf_release(&small);
}
