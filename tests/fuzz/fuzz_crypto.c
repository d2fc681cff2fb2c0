/*
 * libFuzzer harness for the crypto process's key operations
 * (privsep/keyops.c, keycache.c and ks_wrap.c, included): a hostile
 * worker's request payload, then a hostile agent's answer to whatever
 * call the request made. The process around them is replaced by stubs:
 * one worker peer and one agent peer, whose output is dropped.
 *
 * Input: u8 operation, u8 agent answer type, u16 length of the request
 * payload (big-endian), the request payload, the agent's payload.
 * Two keys are cached from the start: "k" (AES256, with an HMAC key) and
 * "c" (ChaCha20, legacy, without one); other names miss and fetch.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gojson.h"
#include "privsep/keycache.c"
#include "privsep/keyops.c"
#include "privsep/ks_wrap.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct crypto_state	 cs;
static struct peer	 wp;
static struct cpeer	 ap;	/* the agent: "there", its output dropped */

/* --- stubs for privsep/crypto.c ------------------------------------------ */

struct peer *
crypto_worker(uint64_t serial)
{
	return serial == 1 ? &wp : NULL;
}

uint64_t
crypto_serial(struct peer *p)
{
	return 1;
}

void
ks_trigger_probe(void)
{
}

/* The start-up accounting of the keys of `keys:` (crypto.c): none here. */
void
crypto_declared_answer(const char *name, const char *detail)
{
}

/* --- the harness ---------------------------------------------------------- */

static void
seed_cache(void)
{
	struct kes_key k;

	memset(&k, 0, sizeof(k));
	k.type = KES_KEY_AES256;
	memset(k.key, 0x11, sizeof(k.key));
	k.has_hmac = true;
	memset(k.hmac, 0x22, sizeof(k.hmac));
	cache_put("k", &k);
	k.type = KES_KEY_CHACHA20;
	k.has_hmac = false;
	cache_put("c", &k);
	kes_key_wipe(&k);
}

static void
init_once(void)
{
	static bool	done;
	int		sv[2], sa[2];

	if (done)
		return;
	done = true;
	log_init("fuzz", LOG_LVL_OFF);
	gojson_init();
	if (kes_crypto_init() == -1)
		abort();
	ev_init();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	peer_open(&wp, sv[0], IPC_MAX_PEER, false, ROLE_WORKER, 0, NULL,
	    NULL, NULL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sa) == -1)
		abort();
	peer_open(&ap.p, sa[0], IPC_MAX_PEER, false, ROLE_AGENT, 0, NULL,
	    NULL, NULL);
	cs.agent = &ap;
	TAILQ_INIT(&cs.ksreqs);
	cs.cf.pol.admin = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	cache_init();
	seed_cache();
}

static const uint16_t answers[] = {
	0, MSG_KS_DONE, MSG_KS_VALUE, MSG_KS_NAMES, MSG_KS_FAIL, MSG_ERROR,
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const peer_handler ops[] = {
		answer_key_create, answer_key_import, answer_key_describe,
		answer_key_delete, answer_key_list, answer_key_generate,
		answer_key_encrypt, answer_key_decrypt, answer_key_hmac,
	};
	static const uint16_t types[] = {
		MSG_KEY_CREATE, MSG_KEY_IMPORT, MSG_KEY_DESCRIBE,
		MSG_KEY_DELETE, MSG_KEY_LIST, MSG_KEY_GENERATE,
		MSG_KEY_ENCRYPT, MSG_KEY_DECRYPT, MSG_KEY_HMAC,
	};
	struct ipc_msg	 m;
	struct ksreq	*r;
	size_t		 op, reqlen;
	uint16_t	 ans;
	uint8_t		*copy;
	int		 rv;

	init_once();
	if (size < 4)
		return 0;
	/* The process wipes what it read from a channel: work on a copy,
	 * as a channel's input buffer is. */
	copy = xmemdup(data, size);
	data = copy;
	op = data[0] % (sizeof(ops) / sizeof(ops[0]));
	ans = answers[data[1] % (sizeof(answers) / sizeof(answers[0]))];
	reqlen = (size_t)data[2] << 8 | data[3];
	data += 4;
	size -= 4;
	if (reqlen > size)
		reqlen = size;

	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.hdr.type = types[op];
	m.hdr.id = 7;
	buf_view(&m.payload, data, reqlen);
	rv = ops[op](&wp, &m);
	if (rv != 0 && rv != -1)
		abort();

	/* The agent's answer to the call the request made, if any (none:
	 * the agent went away). */
	if ((r = TAILQ_FIRST(&cs.ksreqs)) != NULL) {
		if (TAILQ_NEXT(r, entry) != NULL)
			abort();	/* one request, one call */
		memset(&m, 0, sizeof(m));
		m.fd = -1;
		m.hdr.type = ans;
		m.hdr.id = r->id;
		buf_view(&m.payload, data + reqlen, size - reqlen);
		if (ans == 0)
			ks_fail_all();
		else if ((rv = answer_ks_reply(&ap.p, &m)) != 0 && rv != -1)
			abort();
	}
	if (!TAILQ_EMPTY(&cs.ksreqs))
		abort();	/* a resumed request called the agent again */

	/* Keep the cache small and the fixed keys in it; drop the output. */
	if (cs.ncached > 256) {
		cache_clear();
		seed_cache();
	}
	buf_reset(&wp.ch.out);
	buf_reset(&ap.p.ch.out);
	free(copy);
	return 0;
}
