/*
 * crypto_call (worker/routes.c) is where every route's request to the
 * crypto process is checked: a request a put did not fit is logged in the
 * worker, naming the message, and answered 500 there; the crypto process
 * receives nothing. A crypto process that is away is still a 503. And
 * route_reply decodes MSG_ERROR like every other decoder: to its end.
 *
 * In-process: w.crypto[0] is one end of a real socketpair; the test reads
 * the crypto process's end.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "common/ev.h"
#include "common/ipc.h"
#include "common/msg.h"
#include "common/names.h"
#include "tests/lib/sendpair.h"
#include "worker/worker.h"

#define IDENT	"f1ff0c2f57c3ee8e5e0fe8f5b0dbd3da" \
		"a5e8fd0d1a0b7e6f1e0a4e1f1e1e1e1e"

static struct sendpair sp;

static void
setup(void)
{
	ev_init();
	cr_assert_eq(sendpair_open(&sp, &w.crypto[0], ROLE_CRYPTO), 0);
}

static void
teardown(void)
{
	sendpair_close(&sp, &w.crypto[0]);
}

TestSuite(routes, .init = setup, .fini = teardown, .timeout = 30);

static void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	buf_init(&c->out, CONN_OUT_MAX);
	c->keep_alive = true;
	c->state = CONN_READ;
}

/* KEY_GENERATE: str identity, str name, bytes context; in b of max. */
static void
generate_request(struct buf *b, size_t max)
{
	buf_init(b, max);
	buf_put_str(b, IDENT);
	buf_put_str(b, "my-key");
	buf_put_bytes(b, "ctx", 3);
}

/* The answer in c->out starts with status and holds body. */
static void
assert_answer(struct conn *c, const char *status, const char *body)
{
	char *s = strndup((const char *)buf_ptr(&c->out), buf_avail(&c->out));

	cr_assert_not_null(s);
	cr_assert(strncmp(s, status, strlen(status)) == 0, "answered: %s", s);
	cr_assert(strstr(s, body) != NULL, "answered: %s", s);
	free(s);
}

Test(routes, a_request_that_does_not_fit_is_a_500_at_the_worker)
{
	struct conn	c;
	struct ipc_msg	m;
	struct buf	b;

	/* The identity alone is past this buffer's room. */
	conn_init(&c);
	generate_request(&b, 32);
	crypto_call(&c, NULL, MSG_KEY_GENERATE, &b);
	cr_assert(strstr(sp.last_line, "cannot build KEY_GENERATE for "
	    "crypto 0") != NULL, "logged: %s", sp.last_line);
	assert_answer(&c, "HTTP/1.1 500 ", "{\"message\":\"internal error\"");
	cr_assert_neq(c.state, CONN_WAIT, "waits for an answer to nothing");
	cr_assert_eq(c.req_id, 0);
	cr_assert_eq(sendpair_received(&sp), 0,
	    "a frame reached crypto although it was not built");
	buf_release(&c.out);

	/* The same request with room: it goes out whole, and the
	 * connection waits for its answer. */
	conn_init(&c);
	generate_request(&b, 512);
	crypto_call(&c, NULL, MSG_KEY_GENERATE, &b);
	cr_assert_eq(c.state, CONN_WAIT);
	cr_assert_eq(buf_avail(&c.out), 0);
	cr_assert_eq(sendpair_received(&sp), 1);
	cr_assert_gt(ipc_read(&sp.rx), 0);
	cr_assert_eq(ipc_get(&sp.rx, &m), 1);
	cr_assert_eq(m.hdr.type, MSG_KEY_GENERATE);
	cr_assert_eq(m.hdr.id, c.req_id);
	cr_assert_eq(m.hdr.len, 4 + sizeof(IDENT) + 4 + 7 + 4 + 3);
	conn_forget_pending(&c);
	buf_release(&c.out);

	/* A crypto process that is away is a 503, as before. */
	peer_close(&w.crypto[0]);
	conn_init(&c);
	generate_request(&b, 512);
	crypto_call(&c, NULL, MSG_KEY_GENERATE, &b);
	assert_answer(&c, "HTTP/1.1 503 ", "crypto process restarting");
	buf_release(&c.out);
	cr_assert_eq(sp.lost, 0);
}

/* MSG_ERROR: u16 status, str message, and nothing after them; a frame
 * with more is a 500, as for every other decoder. */
Test(routes, an_error_reply_with_trailing_bytes_is_a_500)
{
	struct conn	c;
	struct ipc_msg	m;
	struct buf	b;

	buf_init(&b, 64);
	cr_assert_eq(buf_put_u16(&b, 404), 0);
	cr_assert_eq(buf_put_str(&b, "key does not exist"), 0);
	memset(&m, 0, sizeof(m));
	m.hdr.type = MSG_ERROR;
	m.fd = -1;

	conn_init(&c);
	buf_view(&m.payload, b.data, b.len);
	route_reply(&c, &m);
	assert_answer(&c, "HTTP/1.1 404 ", "key does not exist");
	buf_release(&c.out);

	cr_assert_eq(buf_put_u8(&b, 0), 0);
	conn_init(&c);
	buf_view(&m.payload, b.data, b.len);
	route_reply(&c, &m);
	assert_answer(&c, "HTTP/1.1 500 ", "{\"message\":\"internal error\"");
	buf_release(&c.out);
	buf_release(&b);
}

/* --- several crypto processes (server.crypto) ------------------------------ */

#define NCRYPTO	3

/* Frames waiting at pair k's receiving end (the sender's turn ended). */
static int
frames_at(struct sendpair *p)
{
	struct ipc_msg	m;
	int		n = 0;

	if (sendpair_received(p) != 1)
		return 0;
	cr_assert_gt(ipc_read(&p->rx), 0);
	while (ipc_get(&p->rx, &m) == 1)
		n++;
	return n;
}

/* A key's requests always go to kes_name_shard's crypto process; a
 * request of no key (status, list, a handshake) to each in turn, past
 * one that is away; a key whose process is away is a 503, never another
 * process's answer. */
Test(routes, several_crypto_processes_route_by_key_name)
{
	struct sendpair	more[NCRYPTO - 1], *pair[NCRYPTO];
	struct conn	c;
	struct buf	b;
	char		name[32];
	unsigned int	i, k, j, got[NCRYPTO] = { 0 };

	pair[0] = &sp;
	for (k = 1; k < NCRYPTO; k++) {
		pair[k] = &more[k - 1];
		cr_assert_eq(sendpair_open(pair[k], &w.crypto[k],
		    ROLE_CRYPTO), 0);
		w.crypto[k].index = k;
	}
	w.cf.ncrypto = NCRYPTO;
	for (i = 0; i < 60; i++) {
		snprintf(name, sizeof(name), "key-%u", i % 30);
		k = kes_name_shard(name, NCRYPTO);
		conn_init(&c);
		buf_init(&b, 512);
		buf_put_str(&b, IDENT);
		buf_put_str(&b, name);
		crypto_call(&c, name, MSG_KEY_DESCRIBE, &b);
		cr_assert_eq(c.state, CONN_WAIT);
		cr_assert_eq(c.crypto_ix, k);
		for (j = 0; j < NCRYPTO; j++)
			cr_assert_eq(frames_at(pair[j]), j == k ? 1 : 0,
			    "%s went to crypto %u, not %u", name, j, k);
		got[k]++;
		conn_forget_pending(&c);
		buf_release(&c.out);
	}
	for (k = 0; k < NCRYPTO; k++)
		cr_expect_gt(got[k], 0, "no key of 30 at crypto %u", k);

	/* No key: one after the other. */
	for (i = 0; i < NCRYPTO; i++) {
		conn_init(&c);
		buf_init(&b, 64);
		crypto_call(&c, NULL, MSG_STATUS_REQ, &b);
		got[i] = c.crypto_ix;
		cr_assert_eq(frames_at(pair[c.crypto_ix]), 1);
		conn_forget_pending(&c);
		buf_release(&c.out);
	}
	cr_assert(got[0] != got[1] && got[1] != got[2] && got[0] != got[2],
	    "status went to crypto %u, %u, %u", got[0], got[1], got[2]);

	/* Crypto 1 away: its keys are a 503, the others' are served, and a
	 * request of no key skips it. */
	peer_close(&w.crypto[1]);
	for (i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "key-%u", i);
		k = kes_name_shard(name, NCRYPTO);
		conn_init(&c);
		buf_init(&b, 512);
		buf_put_str(&b, IDENT);
		buf_put_str(&b, name);
		crypto_call(&c, name, MSG_KEY_DESCRIBE, &b);
		if (k == 1)
			assert_answer(&c, "HTTP/1.1 503 ",
			    "crypto process restarting");
		else {
			cr_assert_eq(c.state, CONN_WAIT);
			cr_assert_eq(frames_at(pair[k]), 1);
			conn_forget_pending(&c);
		}
		buf_release(&c.out);
	}
	for (i = 0; i < 4; i++) {
		conn_init(&c);
		buf_init(&b, 64);
		crypto_call(&c, NULL, MSG_STATUS_REQ, &b);
		cr_assert_eq(c.state, CONN_WAIT);
		cr_assert_neq(c.crypto_ix, 1);
		cr_assert_eq(frames_at(pair[c.crypto_ix]), 1);
		conn_forget_pending(&c);
		buf_release(&c.out);
	}
	w.cf.ncrypto = 0;
	for (k = 1; k < NCRYPTO; k++)
		sendpair_close(pair[k], &w.crypto[k]);
}
