/*
 * The real crypto process (./build/keyward crypto, privileges dropped,
 * sandbox on) driven by this test acting as its parent and its workers:
 * a malformed or oversized frame from a worker costs that worker its
 * channel and nothing else; the handshake refuses another protocol version;
 * concurrent misses for one key make one fetch at a fake agent; TLS
 * handshake signatures (RSA, ECDSA, Ed25519) are made under the filter,
 * across reloads, and a request to sign anything but a handshake costs
 * the worker its channel.
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

#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

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

/* Act as the parent: HELLO in, CONFIG out, READY in; the slice carries
 * the TLS key der (DER PKCS#8) unless len is 0. */
static void
start_crypto_key(const uint8_t *der, size_t len)
{
	struct proc_opts	 opts = { 0 };
	struct crypto_slice	 cs = { .ncrypto = 1 };
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
	cs.tls_key = (uint8_t *)der;
	cs.tls_key_len = len;
	buf_init(&b, 16384);
	cr_assert_eq(proc_opts_put(&b, &opts), 0);
	cr_assert_eq(crypto_slice_put(&b, &cs), 0);
	cr_assert_eq(fakeparent_configure(&ctl, &b, WAIT_MS, &why), 0,
	    "handshake: %s", why ? why : "?");
	buf_release(&b);
}

static void
start_crypto(void)
{
	start_crypto_key(NULL, 0);
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

/* --- TLS handshake signatures (MSG_TLS_SIGN) --------------------------- */

#define CV_CTX	"TLS 1.3, server CertificateVerify"

struct tkey {
	EVP_PKEY	*pk;
	uint8_t		 id[32];	/* SHA-256 of the SubjectPublicKeyInfo */
	uint8_t		*der;		/* PKCS#8 */
	size_t		 len;
};

static void
tkey_make(struct tkey *k, const char *type)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	unsigned char		*d = NULL;
	int			 n;

	if (strcmp(type, "RSA") == 0)
		k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	else if (strcmp(type, "ED25519") == 0)
		k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	else
		k->pk = EVP_PKEY_Q_keygen(NULL, NULL, "EC", type);
	cr_assert_not_null(k->pk);
	cr_assert_gt(n = i2d_PUBKEY(k->pk, &d), 0);
	SHA256(d, n, k->id);
	OPENSSL_free(d);
	d = NULL;
	cr_assert_not_null(p8 = EVP_PKEY2PKCS8(k->pk));
	cr_assert_gt(n = i2d_PKCS8_PRIV_KEY_INFO(p8, &d), 0);
	PKCS8_PRIV_KEY_INFO_free(p8);
	k->der = d;
	k->len = n;
}

static void
tkey_free(struct tkey *k)
{
	EVP_PKEY_free(k->pk);
	OPENSSL_clear_free(k->der, k->len);
}

static size_t
cv_tbs(uint8_t *out, size_t hlen)
{
	memset(out, 0x20, 64);
	memcpy(out + 64, CV_CTX, sizeof(CV_CTX));
	memset(out + 64 + sizeof(CV_CTX), 0xc3, hlen);
	return 64 + sizeof(CV_CTX) + hlen;
}

static void
sign_req(struct ipc_chan *wc, uint32_t id, uint8_t purpose,
    const uint8_t *keyid, const char *digest, uint8_t pad,
    const uint8_t *tbs, size_t len)
{
	struct buf b;

	buf_init(&b, 1024);
	buf_put_u8(&b, purpose);
	buf_put_bytes(&b, keyid, 32);
	buf_put_str(&b, digest);
	buf_put_u8(&b, pad);
	buf_put_bytes(&b, tbs, len);
	cr_assert_eq(ipc_put_buf(wc, MSG_TLS_SIGN, id, &b), 0);
	cr_assert_eq(ipc_flush_wait(wc, WAIT_MS), 0);
	buf_release(&b);
}

/* A TLS 1.3 CertificateVerify signed by the crypto process verifies
 * under k's public key alone. */
static void
expect_signed(struct ipc_chan *wc, uint32_t id, const struct tkey *k,
    const char *digest, uint8_t pad)
{
	struct ipc_msg		 m;
	EVP_MD_CTX		*ctx;
	EVP_PKEY_CTX		*pctx = NULL;
	EVP_PKEY		*pub;
	unsigned char		*d = NULL;
	const unsigned char	*p;
	const uint8_t		*sig;
	uint8_t			 tbs[256];
	size_t			 n = cv_tbs(tbs, 48), siglen;
	int			 dl;

	sign_req(wc, id, TLS_SIGN_TLS13_CV, k->id, digest, pad, tbs, n);
	cr_assert_eq(ipc_get_wait(wc, &m, WAIT_MS), 1, "no answer: %s",
	    wc->error);
	cr_assert_eq(m.hdr.type, MSG_TLS_SIGNATURE, "type %u", m.hdr.type);
	cr_assert_eq(m.hdr.id, id);
	cr_assert_eq(buf_get_bytes(&m.payload, &sig, &siglen), 0);
	cr_assert_eq(buf_end(&m.payload), 0);

	cr_assert_gt(dl = i2d_PUBKEY(k->pk, &d), 0);
	p = d;
	cr_assert_not_null(pub = d2i_PUBKEY(NULL, &p, dl));
	OPENSSL_free(d);
	ctx = EVP_MD_CTX_new();
	cr_assert_eq(EVP_DigestVerifyInit_ex(ctx, &pctx, *digest ? digest :
	    NULL, NULL, NULL, pub, NULL), 1);
	if (pad == TLS_SIGN_PAD_PSS) {
		cr_assert_eq(EVP_PKEY_CTX_set_rsa_padding(pctx,
		    RSA_PKCS1_PSS_PADDING), 1);
		cr_assert_eq(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
		    RSA_PSS_SALTLEN_DIGEST), 1);
	}
	cr_assert_eq(EVP_DigestVerify(ctx, sig, siglen, tbs, n), 1,
	    "the signature does not verify");
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pub);
}

/* Act as the parent of a SIGHUP: a new slice with key k. */
static void
reload_key(const struct tkey *k)
{
	struct crypto_slice	 cs = { .ncrypto = 1 };
	struct ipc_msg		 m;
	struct buf		 b;
	bool			 ok;
	const char		*why;

	cs.log_level = 2;
	cs.pol.admin = ADMIN;
	cs.tls_key = k->der;
	cs.tls_key_len = k->len;
	buf_init(&b, 16384);
	cr_assert_eq(crypto_slice_put(&b, &cs), 0);
	cr_assert_eq(ipc_put_buf(&ctl, MSG_RELOAD, 77, &b), 0);
	cr_assert_eq(ipc_flush_wait(&ctl, WAIT_MS), 0);
	buf_release(&b);
	for (;;) {
		cr_assert_eq(ipc_get_wait(&ctl, &m, WAIT_MS), 1,
		    "no RELOAD_DONE: %s", ctl.error);
		if (m.hdr.type == MSG_RELOAD_DONE)
			break;
	}
	cr_assert_eq(m.hdr.id, 77);
	cr_assert_eq(buf_get_bool(&m.payload, &ok), 0);
	cr_assert_eq(buf_get_str(&m.payload, &why, NULL), 0);
	cr_assert(ok, "reload refused: %s", why);
}

/* RSA (PSS), ECDSA and Ed25519 under the crypto process's filter; the
 * keys of the second and third come in reloads, decoded under it too.
 * The key before the running one still signs; the one before that is
 * unknown (an error, the channel stays). */
Test(crypto_proc, signs_handshakes_across_reloads, .timeout = 60)
{
	struct tkey	rsa, ec, ed;
	struct ipc_chan	w0;

	tkey_make(&rsa, "RSA");
	tkey_make(&ec, "P-256");
	tkey_make(&ed, "ED25519");
	start_crypto_key(rsa.der, rsa.len);
	add_worker(&w0, 0);
	expect_signed(&w0, 1, &rsa, "SHA256", TLS_SIGN_PAD_PSS);
	expect_signed(&w0, 2, &rsa, "SHA512", TLS_SIGN_PAD_PSS);
	/* no key of that id yet */
	{
		uint8_t tbs[256];
		size_t n = cv_tbs(tbs, 32);

		sign_req(&w0, 3, TLS_SIGN_TLS13_CV, ec.id, "SHA256",
		    TLS_SIGN_PAD_NONE, tbs, n);
		expect_error(&w0, 3, 500, "unknown TLS key");
	}
	reload_key(&ec);
	expect_signed(&w0, 4, &ec, "SHA256", TLS_SIGN_PAD_NONE);
	expect_signed(&w0, 5, &rsa, "SHA384", TLS_SIGN_PAD_PSS);
	reload_key(&ed);
	expect_signed(&w0, 6, &ed, "", TLS_SIGN_PAD_NONE);
	expect_signed(&w0, 7, &ec, "SHA256", TLS_SIGN_PAD_NONE);
	{
		uint8_t tbs[256];
		size_t n = cv_tbs(tbs, 32);

		sign_req(&w0, 8, TLS_SIGN_TLS13_CV, rsa.id, "SHA256",
		    TLS_SIGN_PAD_PSS, tbs, n);
		expect_error(&w0, 8, 500, "unknown TLS key");
	}
	expect_signed(&w0, 9, &ed, "", TLS_SIGN_PAD_NONE);
	expect_alive();
	ipc_close(&w0);
	tkey_free(&rsa);
	tkey_free(&ec);
	tkey_free(&ed);
}

/* A worker taken over asks for signatures over what is not a handshake:
 * each such worker loses its channel; the crypto process and the other
 * workers carry on (signatures included). */
Test(crypto_proc, refuses_to_sign_other_bytes)
{
	struct tkey	ec;
	struct ipc_chan	w[6];
	uint8_t		tbs[256];
	size_t		n;
	int		i;

	tkey_make(&ec, "P-256");
	start_crypto_key(ec.der, ec.len);
	for (i = 0; i < 6; i++)
		add_worker(&w[i], i);
	/* arbitrary bytes, of a well-formed input's length */
	memset(tbs, 0x41, sizeof(tbs));
	sign_req(&w[0], 1, TLS_SIGN_TLS13_CV, ec.id, "SHA256",
	    TLS_SIGN_PAD_NONE, tbs, 64 + sizeof(CV_CTX) + 32);
	expect_dropped(&w[0]);
	/* a 33-byte transcript hash */
	n = cv_tbs(tbs, 33);
	sign_req(&w[1], 1, TLS_SIGN_TLS13_CV, ec.id, "SHA256",
	    TLS_SIGN_PAD_NONE, tbs, n);
	expect_dropped(&w[1]);
	/* TLS 1.2 ECDHE parameters of secp224r1 (22), not allowed */
	memset(tbs, 0x5a, 64);
	tbs[64] = 3;
	tbs[65] = 0;
	tbs[66] = 22;
	tbs[67] = 57;
	memset(tbs + 68, 0x04, 57);
	sign_req(&w[2], 1, TLS_SIGN_TLS12_SKE, ec.id, "SHA256",
	    TLS_SIGN_PAD_NONE, tbs, 68 + 57);
	expect_dropped(&w[2]);
	/* a well-formed input with SHA-1 */
	n = cv_tbs(tbs, 32);
	sign_req(&w[3], 1, TLS_SIGN_TLS13_CV, ec.id, "SHA1",
	    TLS_SIGN_PAD_NONE, tbs, n);
	expect_dropped(&w[3]);
	/* bytes under an unknown key id are refused the same */
	memset(tbs, 0x41, sizeof(tbs));
	sign_req(&w[4], 1, TLS_SIGN_TLS13_CV, tbs, "SHA256",
	    TLS_SIGN_PAD_NONE, tbs, 130);
	expect_dropped(&w[4]);
	expect_alive();
	expect_status(&w[5], 2);
	expect_signed(&w[5], 3, &ec, "SHA256", TLS_SIGN_PAD_NONE);
	for (i = 0; i < 6; i++)
		ipc_close(&w[i]);
	tkey_free(&ec);
}

/* A key the parent would refuse cannot come in a reload either: the
 * crypto process keeps the key it has. */
Test(crypto_proc, reload_refuses_unsupported_key)
{
	struct tkey		 ec, bad;
	struct crypto_slice	 cs = { .ncrypto = 1 };
	struct ipc_chan		 w0;
	struct ipc_msg		 m;
	struct buf		 b;
	bool			 ok = true;
	const char		*why;
	PKCS8_PRIV_KEY_INFO	*p8;
	unsigned char		*d = NULL;

	tkey_make(&ec, "P-256");
	start_crypto_key(ec.der, ec.len);
	add_worker(&w0, 0);
	memset(&bad, 0, sizeof(bad));
	cr_assert_not_null(bad.pk = EVP_PKEY_Q_keygen(NULL, NULL, "ED448"));
	cr_assert_not_null(p8 = EVP_PKEY2PKCS8(bad.pk));
	bad.len = i2d_PKCS8_PRIV_KEY_INFO(p8, &d);
	bad.der = d;
	PKCS8_PRIV_KEY_INFO_free(p8);
	cs.log_level = 2;
	cs.pol.admin = ADMIN;
	cs.tls_key = bad.der;
	cs.tls_key_len = bad.len;
	buf_init(&b, 16384);
	cr_assert_eq(crypto_slice_put(&b, &cs), 0);
	cr_assert_eq(ipc_put_buf(&ctl, MSG_RELOAD, 78, &b), 0);
	cr_assert_eq(ipc_flush_wait(&ctl, WAIT_MS), 0);
	buf_release(&b);
	do
		cr_assert_eq(ipc_get_wait(&ctl, &m, WAIT_MS), 1);
	while (m.hdr.type != MSG_RELOAD_DONE);
	cr_assert_eq(buf_get_bool(&m.payload, &ok), 0);
	cr_assert_eq(buf_get_str(&m.payload, &why, NULL), 0);
	cr_assert(!ok);
	cr_assert_not_null(strstr(why, "ED448"), "%s", why);
	expect_signed(&w0, 1, &ec, "SHA256", TLS_SIGN_PAD_NONE);
	expect_alive();
	ipc_close(&w0);
	tkey_free(&ec);
	tkey_free(&bad);
}
