/*
 * libFuzzer harness for the TLS handshake signer (privsep/sign.c,
 * included): a hostile worker's MSG_TLS_SIGN payload through the request
 * parser, the structure check and the handler, which signs what passes.
 * Two fixed test keys are held (made for this harness, never used
 * anywhere else): a P-256 key as the current one and an Ed25519 key as
 * the previous one, so seeds can name their key ids: P-256
 * b24a2e9e96b71a042fd95fc247fa69b8665a22869e2f42291f92bb18b9e19270,
 * Ed25519
 * d8acb204585ef8f41b5c28b92d7fa58c351fca9685fe56c5f51b641635872325. Whatever the check lets through must have one of the lengths
 * a handshake input has.
 *
 * Input: the MSG_TLS_SIGN payload.
 */
#include <sys/socket.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "privsep/sign.c"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct crypto_state	 cs;
static struct peer	 wp;

/* A P-256 test key, DER PKCS#8. */
static const uint8_t p256_der[] = {
  0x30, 0x81, 0x87, 0x02, 0x01, 0x00, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
  0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d,
  0x03, 0x01, 0x07, 0x04, 0x6d, 0x30, 0x6b, 0x02, 0x01, 0x01, 0x04, 0x20,
  0xbd, 0xbf, 0x93, 0x01, 0xd5, 0xaf, 0x61, 0x61, 0x26, 0xae, 0xe8, 0x2b,
  0xeb, 0x8c, 0xb1, 0x52, 0xb3, 0x95, 0x1f, 0x44, 0xd2, 0x6e, 0x55, 0x95,
  0x80, 0x1a, 0x1f, 0x6e, 0x13, 0x06, 0xdd, 0x0d, 0xa1, 0x44, 0x03, 0x42,
  0x00, 0x04, 0x0c, 0xd9, 0xb4, 0x58, 0x15, 0x5e, 0x45, 0x43, 0xbb, 0xf6,
  0x8a, 0xa8, 0xe3, 0xd8, 0x09, 0x1c, 0x18, 0x19, 0x74, 0xfe, 0xba, 0x2d,
  0x72, 0x3e, 0x44, 0x06, 0x5a, 0x6e, 0x89, 0x22, 0x84, 0x5e, 0x91, 0xea,
  0x5e, 0x8f, 0x48, 0x74, 0x08, 0x9f, 0x0d, 0xfb, 0xad, 0xf3, 0x53, 0xdf,
  0x07, 0x9f, 0x75, 0x8d, 0xf6, 0xf1, 0xed, 0x4b, 0x6b, 0xdf, 0x27, 0x92,
  0x0f, 0x41, 0xb1, 0x4f, 0x9b, 0x8b
};

/* An Ed25519 test key, DER PKCS#8. */
static const uint8_t ed25519_der[] = {
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70,
  0x04, 0x22, 0x04, 0x20, 0xf3, 0x05, 0x36, 0x2b, 0x9e, 0x45, 0x1e, 0x27,
  0x9d, 0xfc, 0xfa, 0x9d, 0x8c, 0xae, 0x36, 0xee, 0x79, 0xad, 0x98, 0x77,
  0xf3, 0x02, 0x18, 0xaf, 0x2e, 0x3b, 0x70, 0xf4, 0x8d, 0xdb, 0x6b, 0x03
};

static void
init_once(void)
{
	static bool	done;
	char		err[256];
	int		sv[2];

	if (done)
		return;
	done = true;
	log_init("fuzz", LOG_LVL_OFF);
	ev_init();
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == -1)
		abort();
	peer_open(&wp, sv[0], IPC_MAX_PEER, false, ROLE_WORKER, 0, NULL,
	    NULL, NULL);
	if (signer_install(&cs.signer, ed25519_der, sizeof(ed25519_der), err,
	    sizeof(err)) == -1 ||
	    signer_install(&cs.signer, p256_der, sizeof(p256_der), err,
	    sizeof(err)) == -1 ||
	    cs.signer.cur.type != SIGN_KEY_P256 ||
	    cs.signer.prev.type != SIGN_KEY_ED25519)
		abort();
}

/* What sign_check lets through is a handshake input's length. */
static void
check_lengths(const uint8_t *data, size_t size)
{
	const struct sign_key	*k;
	struct sign_req		 r;
	struct buf		 b;
	const char		*why;

	buf_view(&b, data, size);
	if (sign_req_get(&b, &r, &why) == -1)
		return;
	k = signer_find(&cs.signer, r.keyid);
	if (sign_check(r.purpose, r.digest, r.pad, k ? k->type :
	    SIGN_KEY_ANY, r.tbs, r.tbslen, &why) == -1)
		return;
	if (r.purpose == TLS_SIGN_TLS13_CV && r.tbslen != 130 &&
	    r.tbslen != 146)
		abort();
	if (r.purpose == TLS_SIGN_TLS12_SKE && r.tbslen != 68 + 32 &&
	    r.tbslen != 68 + 56 && r.tbslen != 68 + 65 &&
	    r.tbslen != 68 + 97 && r.tbslen != 68 + 133)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_msg	 m;
	uint8_t		*copy;
	int		 rv;

	init_once();
	/* The process wipes what it read from a channel: work on a copy,
	 * as a channel's input buffer is. */
	copy = xmemdup(data, size ? size : 1);
	memcpy(copy, data, size);
	check_lengths(copy, size);
	memset(&m, 0, sizeof(m));
	m.fd = -1;
	m.hdr.type = MSG_TLS_SIGN;
	m.hdr.id = 7;
	buf_view(&m.payload, copy, size);
	rv = answer_tls_sign(&wp, &m);
	if (rv != 0 && rv != -1)
		abort();
	buf_reset(&wp.ch.out);
	free(copy);
	return 0;
}
