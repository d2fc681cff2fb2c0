/*
 * `keyward seal-helper`: the processes that load the PKCS#11 module
 * (spec §4.4-§4.7), as OpenSSH's ssh-pkcs11-helper. The agent fork+execs
 * it as root before its own drop (seal.c), with a SOCK_SEQPACKET
 * socketpair on descriptor 3; it reads its settings from the first
 * packet and a PIN file while still root, becomes the server's user and
 * the keeper (keeper_run): it never loads the module, and forks the
 * helper, which loads the module, logs in once, wipes its
 * copy of the PIN (§4.1), checks the key, runs the self-test, starts one
 * thread per pool session, loads its own filter, and says READY (or why
 * not) in one packet to the keeper, which hands its socket to the agent
 * (SCM_RIGHTS). The keeper keeps the PIN to log a new helper in when one
 * dies.
 *
 * Wire layout (one packet each, common/buf.h encodings):
 *   agent -> keeper  u8 debug, u32 log level + 1, str user,
 *                    seal settings (seal_settings_put)
 *   keeper -> agent  each helper: u8 ok, str why, and with ok 1 the
 *                    helper's socket (SCM_RIGHTS)
 *   agent -> helper  u8 type, u32 id, str name, bytes data
 *                           type SH_SEAL (data: the value),
 *                           SH_UNSEAL (data: the kwseal:v1: string),
 *                           SH_PROBE (name and data empty)
 *   helper -> keeper u8 ok (1; 0: failed, 2: the PIN was refused),
 *                    str why (the failed step)
 *   helper -> agent  u32 id, u8 result (0 or enum ks_fail),
 *                           bytes data, str detail
 * Every thread reads requests from the one socket (a packet goes to one
 * reader whole) and answers on it; the agent matches answers by id.
 *
 * Sessions: thread i uses session i only, so no session ever sees two
 * operations at once (§4.4.6). Recovery (§4.7) takes the pool's lock for
 * writing; operations hold it for reading.
 *
 * Recovery never logs in: the helper wipes the PIN after its one login
 * (§4.1), and SoftHSM writes its token file at a login, which the filter
 * forbids. While the anchor session keeps the login, lost pool sessions
 * and key handles are opened and found again here. When the login itself
 * is lost, or the module must be initialised again (the device rows of
 * §4.7), the helper exits without answering: the keeper forks a new one,
 * which logs in before its filter, and the agent sends it the calls in
 * flight again. The keeper's back-off (at most 5 s) spaces the attempts
 * that fail, and none of them logs in while the token is missing. A PIN
 * refused at such a new login is never tried again.
 */
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/msg.h"
#include "common/privdrop.h"
#include "common/sandbox.h"
#include "common/xmalloc.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_fmt.h"
#include "keystore-agent/seal_helper.h"
#include "keystore-agent/seal_p11.h"

#define SH_KEYS_MAX	17		/* key and up to 16 old keys */
#define SH_START_MS	60000		/* module load, login, self-test */
#define KEEPER_TICK_MS	50		/* how soon a dead helper is seen */

struct sh_key {
	const char		*label;
	CK_OBJECT_HANDLE	 h;
	bool			 present;
};

static struct {
	struct p11		 p;
	struct seal_conf	*cf;
	char			*pin;		/* until the login */
	struct sh_key		 keys[SH_KEYS_MAX];
	size_t			 nkeys;
	CK_SESSION_HANDLE	 sess[SEAL_SESSIONS_MAX];
	unsigned int		 nsess;
	pthread_rwlock_t	 lock;
	uint64_t		 gen;		/* recoveries so far */
	bool			 healthy;
	bool			 pin_refused;	/* at start: answer 2 */
	int			 fd;
	pthread_barrier_t	 started;	/* threads past their start-up */
} sh = { .lock = PTHREAD_RWLOCK_INITIALIZER, .fd = 3 };

/*
 * The helper's filter, on top of every role's common list: what SoftHSM
 * 2.6 does while it encrypts and decrypts. Its file object store
 * re-reads a token file that changed, under a lock file (found with
 * strace -f and KEYWARD_SANDBOX_DEBUG=1): open read-only or read-write
 * without creating, stat, fcntl record locks, flock, and the directory
 * scan that finds a token again. SoftHSM reports a failed tag check to
 * syslog(3): its socket(2) fails with EACCES, so the message is dropped
 * and nothing is connected. No exec, fork or clone: the threads are made
 * before the filter.
 */
static const struct sb_rule sh_rules[] = {
	ALLOW_MASK(openat, 2, O_CREAT | O_TRUNC, 0),
	ALLOW(newfstatat),
	ALLOW(stat),
	ALLOW(lstat),
	ALLOW(access),
	ALLOW(getdents64),
	ALLOW(flock),
	ALLOW_EQ(fcntl, 1, F_SETLK),
	ALLOW_EQ(fcntl, 1, F_SETLKW),
	ALLOW_EQ(fcntl, 1, F_GETLK),
	ALLOW(fsync),
	ALLOW(fdatasync),
	ALLOW(pread64),
	ALLOW(pwrite64),
	ALLOW(ftruncate),
	ALLOW(getuid),
	ALLOW(geteuid),
	ALLOW(getgid),
	ALLOW(getegid),
	FAIL(socket, EACCES),
};

const struct sb_rule *
seal_helper_rules(size_t *n)
{
	*n = sizeof(sh_rules) / sizeof(sh_rules[0]);
	return sh_rules;
}

/* ---- the pool and its recovery ----------------------------------------- */

static int
find_keys(CK_SESSION_HANDLE s, bool start, char *err, size_t errlen)
{
	char	 why[256];
	size_t	 i;
	int	 r;

	for (i = 0; i < sh.nkeys; i++) {
		sh.keys[i].present = false;
		r = p11_find_key(&sh.p, s, sh.keys[i].label,
		    i == 0 ? sh.cf->key_id : NULL, &sh.keys[i].h, why,
		    sizeof(why));
		if (r == 0 && start) {
			r = p11_check_key(&sh.p, s, sh.keys[i].h,
			    sh.keys[i].label, why, sizeof(why));
			if (r == 1) {
				log_warnx("key '%s' was extractable or not "
				    "sensitive at some point", sh.keys[i].label);
				r = 0;
			}
		}
		if (r == 0) {
			sh.keys[i].present = true;
			continue;
		}
		if (i == 0 || r == -1) {
			snprintf(err, errlen, "%s", why);
			return -1;
		}
		log_warnx("old key '%s' is not on the token: values sealed "
		    "with it cannot be read", sh.keys[i].label);
	}
	return 0;
}

/* Close the pool's sessions; the anchor keeps the login. */
static void
close_pool(void)
{
	unsigned int i;

	for (i = 0; i < sh.nsess; i++) {
		if (sh.sess[i] != CK_INVALID_HANDLE)
			(void)sh.p.f->C_CloseSession(sh.sess[i]);
		sh.sess[i] = CK_INVALID_HANDLE;
	}
}

/* The pool's sessions; -1 with *rv. */
static int
open_sessions(CK_RV *rv, char *err, size_t errlen)
{
	unsigned int	i;
	char		n[64];

	for (i = 0; i < sh.nsess; i++)
		if (p11_open_session(&sh.p, &sh.sess[i], rv) == -1) {
			snprintf(err, errlen, "C_OpenSession: %s",
			    p11_rv_str(*rv, n, sizeof(n)));
			return -1;
		}
	return 0;
}

/* At start: anchor, the one login, keys, pool. */
static int
open_pool(char *err, size_t errlen)
{
	CK_RV rv;

	if (p11_login(&sh.p, sh.pin, false, &rv, err, errlen) == -1) {
		if (rv == CKR_PIN_INCORRECT || rv == CKR_PIN_LOCKED ||
		    rv == CKR_PIN_EXPIRED)
			sh.pin_refused = true;
		return -1;
	}
	if (find_keys(sh.p.anchor, true, err, errlen) == -1)
		return -1;
	return open_sessions(&rv, err, errlen);
}

/* The device rows of §4.7: the module must be initialised again. */
static bool
rv_device(CK_RV rv)
{
	return rv == CKR_DEVICE_ERROR || rv == CKR_DEVICE_REMOVED ||
	    rv == CKR_TOKEN_NOT_PRESENT || rv == CKR_CRYPTOKI_NOT_INITIALIZED;
}

static void __attribute__((noreturn))
need_login(const char *why)
{
	log_warnx("the token needs a new login (%s): the seal helper exits, "
	    "and the keeper starts a new one", why);
	_exit(3);
}

/*
 * Recover after rv, seen at generation gen (§4.7; the file's head says
 * how): 0 when the pool works again, -1 when it does not; no return when
 * a new login is needed.
 */
static int
recover(uint64_t gen, CK_RV rv)
{
	CK_SESSION_INFO	si;
	char		err[256], n[64];
	int		rc = -1;

	pthread_rwlock_wrlock(&sh.lock);
	if (sh.gen != gen) {
		rc = sh.healthy ? 0 : -1;
		goto out;
	}
	if (rv_device(rv))
		need_login(p11_rv_str(rv, n, sizeof(n)));
	close_pool();
	if ((rv = sh.p.f->C_GetSessionInfo(sh.p.anchor, &si)) != CKR_OK) {
		snprintf(err, sizeof(err), "the anchor session: %s",
		    p11_rv_str(rv, n, sizeof(n)));
		need_login(err);
	}
	if (si.state != CKS_RO_USER_FUNCTIONS &&
	    si.state != CKS_RW_USER_FUNCTIONS)
		need_login("the anchor session is logged out");
	rv = CKR_OK;
	if (find_keys(sh.p.anchor, false, err, sizeof(err)) == -1 ||
	    open_sessions(&rv, err, sizeof(err)) == -1) {
		if (rv_device(rv))
			need_login(err);
		log_warnx("recovery: %s", err);
		close_pool();
		goto out;
	}
	log_info("token sessions recovered");
	rc = 0;
 out:
	sh.healthy = rc == 0;
	sh.gen++;
	pthread_rwlock_unlock(&sh.lock);
	return rc;
}

/* The CKRs of §4.7's first two rows: the session, login or device. */
static bool
rv_recoverable(CK_RV rv)
{
	switch (rv) {
	case CKR_SESSION_HANDLE_INVALID:
	case CKR_SESSION_CLOSED:
	case CKR_USER_NOT_LOGGED_IN:
	case CKR_KEY_HANDLE_INVALID:
	case CKR_OBJECT_HANDLE_INVALID:
	case CKR_DEVICE_ERROR:
	case CKR_DEVICE_REMOVED:
	case CKR_TOKEN_NOT_PRESENT:
	case CKR_CRYPTOKI_NOT_INITIALIZED:
	case CKR_OPERATION_ACTIVE:
	case CKR_HOST_MEMORY:
	case CKR_DEVICE_MEMORY:
		return true;
	}
	return false;
}

/* What a decrypt answers for a value that is not authentic. */
static bool
rv_not_authentic(CK_RV rv)
{
	return rv == CKR_ENCRYPTED_DATA_INVALID ||
	    rv == CKR_ENCRYPTED_DATA_LEN_RANGE ||
	    rv == CKR_AEAD_DECRYPT_FAILED || rv == CKR_GENERAL_ERROR ||
	    rv == CKR_FUNCTION_FAILED;
}

/* One GCM operation on this thread's session, under the pool's lock. */
static CK_RV
gcm(unsigned int idx, size_t key, bool enc, const uint8_t *iv,
    const struct buf *aad, const uint8_t *in, size_t inlen, uint8_t **out,
    size_t *outlen, uint64_t *gen)
{
	CK_RV rv;

	pthread_rwlock_rdlock(&sh.lock);
	*gen = sh.gen;
	if (!sh.healthy)
		rv = CKR_DEVICE_ERROR;
	else if (!sh.keys[key].present)
		rv = CKR_KEY_HANDLE_INVALID;
	else
		rv = p11_gcm(&sh.p, sh.sess[idx], sh.keys[key].h, enc, iv,
		    aad->data, aad->len, in, inlen, out, outlen);
	pthread_rwlock_unlock(&sh.lock);
	return rv;
}

/* §4.5: seal and unseal 32 random bytes, and (tamper) see a flipped
 * byte refused. *rvp: the CKR of a failed call (CKR_OK otherwise). */
static int
self_test(unsigned int idx, bool tamper, CK_RV *rvp, char *err,
    size_t errlen)
{
	uint8_t		 pt[32], iv[SEAL_IV_LEN], *ct = NULL, *back = NULL;
	size_t		 ctlen, backlen;
	struct buf	 aad;
	uint64_t	 gen;
	CK_RV		 rv;
	char		 n[64];
	int		 rc = -1;

	*rvp = CKR_OK;
	buf_view(&aad, "kwseal-selftest", 15);
	if (getrandom(pt, sizeof(pt), 0) != sizeof(pt) ||
	    getrandom(iv, sizeof(iv), 0) != sizeof(iv)) {
		snprintf(err, errlen, "self-test: getrandom: %s",
		    strerror(errno));
		return -1;
	}
	if ((rv = gcm(idx, 0, true, iv, &aad, pt, sizeof(pt), &ct, &ctlen,
	    &gen)) != CKR_OK) {
		snprintf(err, errlen, "self-test: encrypt: %s",
		    p11_rv_str(rv, n, sizeof(n)));
		*rvp = rv;
		goto out;
	}
	if ((rv = gcm(idx, 0, false, iv, &aad, ct, ctlen, &back, &backlen,
	    &gen)) != CKR_OK || backlen != sizeof(pt) ||
	    memcmp(back, pt, sizeof(pt)) != 0) {
		snprintf(err, errlen, "self-test: decrypt: %s", rv != CKR_OK ?
		    p11_rv_str(rv, n, sizeof(n)) : "a different value");
		*rvp = rv != CKR_OK ? rv : CKR_GENERAL_ERROR;
		goto out;
	}
	freezero(back, backlen);
	back = NULL;
	if (tamper) {
		ct[0] ^= 1;
		if (gcm(idx, 0, false, iv, &aad, ct, ctlen, &back, &backlen,
		    &gen) == CKR_OK) {
			snprintf(err, errlen, "self-test: a tampered "
			    "ciphertext was accepted");
			goto out;
		}
	}
	rc = 0;
 out:
	if (back != NULL)
		freezero(back, backlen);
	if (ct != NULL)
		freezero(ct, ctlen);
	explicit_bzero(pt, sizeof(pt));
	return rc;
}

/* ---- seal and unseal ----------------------------------------------------- */

/*
 * Seal value for name into out (kwseal:v1:...). 0, or an enum ks_fail
 * with detail.
 */
static int
do_seal(unsigned int idx, const char *name, const uint8_t *v, size_t len,
    struct buf *out, char *detail, size_t dlen)
{
	struct buf	 hdr, aad;
	uint8_t		 iv[SEAL_IV_LEN], *ct = NULL;
	size_t		 ctlen = 0;
	uint64_t	 gen;
	CK_RV		 rv;
	char		 n[64];
	int		 tries, rc = KS_FAIL_UNAVAILABLE;

	buf_init(&hdr, 256);
	buf_init(&aad, 512);
	if (getrandom(iv, sizeof(iv), 0) != sizeof(iv) ||
	    seal_env_header(&hdr, sh.keys[0].label, iv, sizeof(iv)) == -1 ||
	    seal_aad(&aad, hdr.data, hdr.len, name) == -1) {
		snprintf(detail, dlen, "seal: cannot build the envelope");
		goto out;
	}
	for (tries = 0; tries < 2; tries++) {
		rv = gcm(idx, 0, true, iv, &aad, v, len, &ct, &ctlen, &gen);
		if (rv == CKR_OK || !rv_recoverable(rv) || tries == 1 ||
		    recover(gen, rv) == -1)
			break;
	}
	if (rv != CKR_OK) {
		if (!rv_recoverable(rv))
			rc = KS_FAIL_INVALID;
		snprintf(detail, dlen, "seal: encrypt: %s",
		    p11_rv_str(rv, n, sizeof(n)));
		goto out;
	}
	if (seal_encode(out, hdr.data, hdr.len, ct, ctlen) == -1) {
		snprintf(detail, dlen, "seal: the sealed value is too large");
		rc = KS_FAIL_INVALID;
		goto out;
	}
	rc = 0;
 out:
	if (ct != NULL)
		freezero(ct, ctlen);
	buf_release(&hdr);
	buf_release(&aad);
	return rc;
}

static int
do_unseal(unsigned int idx, const char *name, const uint8_t *v, size_t len,
    struct buf *out, char *detail, size_t dlen)
{
	struct seal_env	 env;
	struct buf	 raw, aad;
	const char	*why;
	uint8_t		*pt = NULL;
	size_t		 ptlen = 0, key;
	uint64_t	 gen;
	CK_RV		 rv, prv;
	char		 n[64], err[256];
	int		 tries, rc = KS_FAIL_INVALID;

	buf_init(&raw, len);
	buf_init(&aad, 512);
	if (seal_env_decode(v, len, &raw, &env, &why) == -1) {
		snprintf(detail, dlen, "%s", why);
		goto out;
	}
	/* Stored data must not pick arbitrary objects on the token. */
	for (key = 0; key < sh.nkeys; key++)
		if (strcmp(sh.keys[key].label, env.kid) == 0)
			break;
	if (key == sh.nkeys) {
		snprintf(detail, dlen, "seal: malformed sealed value (sealed "
		    "with a key that is neither key nor in old_keys)");
		goto out;
	}
	if (!sh.keys[key].present) {
		snprintf(detail, dlen, "seal: sealed with key '%s', which is "
		    "not on the token", env.kid);
		goto out;
	}
	if (seal_aad(&aad, env.hdr, env.hdrlen, name) == -1) {
		snprintf(detail, dlen, "seal: malformed sealed value");
		goto out;
	}
	for (tries = 0; tries < 2; tries++) {
		rv = gcm(idx, key, false, env.iv, &aad, env.ct, env.ctlen, &pt,
		    &ptlen, &gen);
		if (rv == CKR_OK)
			break;
		if (rv_not_authentic(rv)) {
			/* Healthy: the value is bad; else the token is. */
			if (self_test(idx, false, &prv, err,
			    sizeof(err)) == 0) {
				snprintf(detail, dlen, "seal: value not "
				    "authentic (tampered, wrong key name, or "
				    "other seal key)");
				goto out;
			}
			/* Unhealthy: the module, as SoftHSM after its token
			 * files went away, needs initialising again. */
			rv = rv_recoverable(prv) ? prv : CKR_DEVICE_ERROR;
		} else if (!rv_recoverable(rv)) {
			snprintf(detail, dlen, "seal: decrypt: %s",
			    p11_rv_str(rv, n, sizeof(n)));
			goto out;
		}
		if (tries == 1 || recover(gen, rv) == -1)
			break;
	}
	if (rv != CKR_OK) {
		rc = KS_FAIL_UNAVAILABLE;
		snprintf(detail, dlen, "seal: the token cannot be used: %s",
		    p11_rv_str(rv, n, sizeof(n)));
		goto out;
	}
	if (buf_put(out, pt, ptlen) == -1) {
		snprintf(detail, dlen, "seal: the value is too large");
		goto out;
	}
	rc = 0;
 out:
	if (pt != NULL)
		freezero(pt, ptlen);
	buf_release(&raw);
	buf_release(&aad);
	return rc;
}

static int
do_probe(unsigned int idx, char *detail, size_t dlen)
{
	char		err[192];
	uint64_t	gen;
	CK_RV		rv;

	pthread_rwlock_rdlock(&sh.lock);
	gen = sh.gen;
	pthread_rwlock_unlock(&sh.lock);
	if (self_test(idx, false, &rv, err, sizeof(err)) == 0)
		return 0;
	if (recover(gen, rv_recoverable(rv) ? rv : CKR_DEVICE_ERROR) == 0 &&
	    self_test(idx, false, &rv, err, sizeof(err)) == 0)
		return 0;
	snprintf(detail, dlen, "seal: the token cannot be used (%s)", err);
	return KS_FAIL_UNAVAILABLE;
}

/* One request in, one answer out; -1 for a malformed request. */
static int
serve(unsigned int idx, uint8_t *req, size_t len, struct buf *ans)
{
	struct buf	 in, out;
	const uint8_t	*data;
	const char	*name;
	char		 detail[256] = "";
	uint32_t	 id;
	uint8_t		 type;
	size_t		 dlen, nlen;
	int		 rc;

	buf_view(&in, req, len);
	if (buf_get_u8(&in, &type) == -1 || buf_get_u32(&in, &id) == -1 ||
	    buf_get_str(&in, &name, &nlen) == -1 ||
	    buf_get_bytes(&in, &data, &dlen) == -1 || buf_end(&in) == -1)
		return -1;
	buf_init(&out, SH_PKT_MAX - 1024);
	switch (type) {
	case SH_SEAL:
		rc = do_seal(idx, name, data, dlen, &out, detail,
		    sizeof(detail));
		break;
	case SH_UNSEAL:
		rc = do_unseal(idx, name, data, dlen, &out, detail,
		    sizeof(detail));
		break;
	case SH_PROBE:
		rc = do_probe(idx, detail, sizeof(detail));
		break;
	default:
		buf_release(&out);
		return -1;
	}
	if (rc != 0)
		buf_reset(&out);
	buf_reset(ans);
	if (buf_put_u32(ans, id) == -1 || buf_put_u8(ans, (uint8_t)rc) == -1 ||
	    buf_put_bytes(ans, out.data, out.len) == -1 ||
	    buf_put_str(ans, detail) == -1)
		rc = -1;
	else
		rc = 0;
	buf_release(&out);
	return rc;
}

static void *
worker(void *arg)
{
	unsigned int	 idx = (unsigned int)(uintptr_t)arg;
	uint8_t		*req = xmalloc(SH_PKT_MAX);
	struct buf	 ans;
	struct iovec	 iov;
	struct msghdr	 mh;
	ssize_t		 n;

	/* glibc registers rseq(2) as a thread starts: before the filter. */
	if (idx > 0)
		pthread_barrier_wait(&sh.started);
	buf_init(&ans, SH_PKT_MAX);
	for (;;) {
		memset(&mh, 0, sizeof(mh));
		iov.iov_base = req;
		iov.iov_len = SH_PKT_MAX;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		n = recvmsg(sh.fd, &mh, 0);
		if (n == 0)
			_exit(0);		/* the agent is gone */
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || (mh.msg_flags & MSG_TRUNC)) {
			log_warnx("%s", n == -1 ? strerror(errno) :
			    "a request too large");
			_exit(1);
		}
		if (serve(idx, req, (size_t)n, &ans) == -1) {
			log_warnx("a malformed request from the agent");
			_exit(1);
		}
		explicit_bzero(req, (size_t)n);
		iov.iov_base = ans.data;
		iov.iov_len = ans.len;
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		while ((n = sendmsg(sh.fd, &mh, MSG_NOSIGNAL)) == -1 &&
		    errno == EINTR)
			;
		buf_reset(&ans);
		if (n == -1)
			_exit(1);
	}
	return NULL;
}

/* ---- start-up ------------------------------------------------------------ */

static void __attribute__((noreturn))
start_failed(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
start_failed(const char *fmt, ...)
{
	char		why[512];
	struct buf	b;
	va_list		ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	buf_init(&b, 1024);
	if (buf_put_u8(&b, sh.pin_refused ? 2 : 0) == 0 &&
	    buf_put_str(&b, why) == 0)
		if (write(sh.fd, b.data, b.len) == -1)
			log_warn("cannot tell the agent: %s", why);
	buf_release(&b);
	if (sh.p.f != NULL)
		p11_unload(&sh.p);
	_exit(1);
}

/* pin_file: read as root, mode at most 0600, trailing CR/LF cut. */
static char *
read_pin_file(const char *path)
{
	struct stat	 st;
	char		 buf[256], *pin;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW |
	    O_NOCTTY)) == -1)
		start_failed("pin_file %s: %s", path, strerror(errno));
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		start_failed("pin_file %s: not a regular file", path);
	if (st.st_mode & 077)
		start_failed("pin_file %s: mode %03o; expected 0600 or "
		    "stricter", path, (unsigned int)(st.st_mode & 0777));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		start_failed("pin_file %s: %s", path, strerror(errno));
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n == 0 || strlen(buf) != (size_t)n) {
		explicit_bzero(buf, sizeof(buf));
		start_failed("pin_file %s: empty, or not text", path);
	}
	pin = xstrndup(buf, (size_t)n);
	explicit_bzero(buf, sizeof(buf));
	return pin;
}

static void
read_config(bool *debug, char **user)
{
	uint8_t		*pkt = xmalloc(SH_PKT_MAX);
	struct buf	 b;
	const char	*u;
	uint32_t	 lvl;
	uint8_t		 dbg;
	ssize_t		 n;

	do
		n = recv(sh.fd, pkt, SH_PKT_MAX, 0);
	while (n == -1 && errno == EINTR);
	if (n <= 0)
		_exit(1);
	buf_view(&b, pkt, (size_t)n);
	if (buf_get_u8(&b, &dbg) == -1 || buf_get_u32(&b, &lvl) == -1 ||
	    buf_get_str(&b, &u, NULL) == -1 ||
	    seal_settings_get(&b, &sh.cf) == -1 || sh.cf == NULL ||
	    buf_end(&b) == -1)
		start_failed("malformed settings from the agent");
	*debug = dbg != 0;
	*user = xstrdup(u);
	if (lvl > 0)
		log_setlevel((int)lvl - 1);
	freezero(pkt, SH_PKT_MAX);
}

/* ---- the keeper ---------------------------------------------------------- */

void
seal_sock_bufs(int fd)
{
	int sz = SH_SOCKBUF;

	/* As root the FORCE variants pass net.core.wmem_max. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) == -1)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
}

/* To the agent: u8 ok, str why, and with ok 1 the helper's socket. */
static void
keeper_tell(int ctl, uint8_t ok, const char *why, int fd)
{
	union {
		struct cmsghdr	h;
		char		b[CMSG_SPACE(sizeof(int))];
	}		 cm;
	struct cmsghdr	*c;
	struct msghdr	 mh;
	struct iovec	 iov;
	struct buf	 b;
	ssize_t		 n;

	buf_init(&b, 1024);
	if (buf_put_u8(&b, ok) == -1 || buf_put_str(&b, why) == -1)
		_exit(1);
	memset(&mh, 0, sizeof(mh));
	iov.iov_base = b.data;
	iov.iov_len = b.len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.b;
		mh.msg_controllen = sizeof(cm.b);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do
		n = sendmsg(ctl, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	buf_release(&b);
	if (n == -1)
		_exit(0);	/* the agent is gone */
}

/* The new helper's first packet (seal_helper_main): its ok, or 0. */
static uint8_t
keeper_ready(int fd, char *why, size_t whylen)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLIN };
	uint8_t		 pkt[1024], ok;
	struct buf	 b;
	const char	*w;
	ssize_t		 n;
	int		 r;

	snprintf(why, whylen, "the seal helper exited during start-up (see "
	    "its message above)");
	while ((r = poll(&pfd, 1, SH_START_MS)) == -1 && errno == EINTR)
		;
	if (r == 0) {
		snprintf(why, whylen, "the seal helper did not start within "
		    "%u s", SH_START_MS / 1000);
		return 0;
	}
	if ((n = recv(fd, pkt, sizeof(pkt), 0)) <= 0)
		return 0;
	buf_view(&b, pkt, (size_t)n);
	if (buf_get_u8(&b, &ok) == -1 || buf_get_str(&b, &w, NULL) == -1 ||
	    ok > 2) {
		snprintf(why, whylen, "a malformed answer from the seal "
		    "helper");
		return 0;
	}
	snprintf(why, whylen, "%s", w);
	return ok;
}

/*
 * Wait ms (-1: for ever) or until child (0: none) exits: 1 when it did,
 * 0 at the time; gone when the agent went (its socket closed).
 */
static int
keeper_wait(int ctl, pid_t child, int ms)
{
	struct pollfd	pfd = { .fd = ctl, .events = POLLIN };
	int		waited = 0, r;

	for (;;) {
		if (child > 0 && waitpid(child, NULL, WNOHANG) == child)
			return 1;
		if (ms >= 0 && waited >= ms)
			return 0;
		r = poll(&pfd, 1, KEEPER_TICK_MS);
		if (r == -1 && errno != EINTR)
			_exit(1);
		if (r > 0) {
			/* The agent sends nothing after the settings: any
			 * event is its going. */
			if (child > 0) {
				kill(child, SIGKILL);
				(void)waitpid(child, NULL, 0);
			}
			if (sh.pin != NULL)
				explicit_bzero(sh.pin, strlen(sh.pin));
			_exit(0);
		}
		waited += KEEPER_TICK_MS;
	}
}

/*
 * The keeper: this process, after the settings and the PIN, never loads
 * the module; it forks each helper (the child returns from here and
 * becomes one) and hands the agent the helper's socket once the helper
 * said READY. When the helper dies (kill -9, or its exit because the
 * token needs a new login, §4.7) the next is forked at once, and again
 * after each failed start with a back-off up to 5 s; the agent holds
 * the calls in flight meanwhile and sends them again (seal.c). A PIN the
 * token refuses is never tried again: the keeper then waits for the
 * agent to go. The fork needs no exec: this process holds the settings
 * and the PIN, exactly what the helper needs, and nothing else.
 */
static void
keeper_run(void)
{
	char		 why[512];
	unsigned int	 fails = 0;
	bool		 first = true;
	uint8_t		 ok;
	pid_t		 pid;
	int		 ctl = sh.fd, sv[2];

	for (;;) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0,
		    sv) == -1)
			fatal("seal keeper: socketpair");
		seal_sock_bufs(sv[0]);
		seal_sock_bufs(sv[1]);
		fflush(NULL);
		if ((pid = fork()) == -1)
			fatal("seal keeper: fork");
		if (pid == 0) {
			if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
			    getppid() == 1)
				_exit(1);
			if (dup2(sv[1], 3) == -1)
				_exit(1);
			(void)close_range(4, ~0U, 0);
			sh.fd = 3;
			log_init("seal helper", log_getlevel());
			return;
		}
		close(sv[1]);
		ok = keeper_ready(sv[0], why, sizeof(why));
		keeper_tell(ctl, ok, why, ok == 1 ? sv[0] : -1);
		close(sv[0]);
		if (ok == 2 || (first && ok != 1)) {
			/* The agent stops (at start) or fails sealed calls
			 * for good (a refused PIN): nothing more to do. */
			(void)keeper_wait(ctl, ok == 1 ? pid : 0, -1);
		}
		first = false;
		if (ok == 1)
			fails = 0;
		(void)keeper_wait(ctl, pid, -1);
		if (ok != 1) {
			fails = fails < 6 ? fails + 1 : fails;
			(void)keeper_wait(ctl, 0, (100 << fails) > 5000 ?
			    5000 : 100 << fails);
		}
	}
}

int
seal_helper_main(int argc, char **argv)
{
	struct drop_opts	 d;
	struct stat		 st;
	pthread_t		 t;
	char			 err[256], *user;
	bool			 debug;
	size_t			 i;
	unsigned int		 k;
	struct buf		 b;
	CK_RV			 rv;
	int			 r;

	log_init("seal helper", LOG_LVL_INFO);
	(void)prctl(PR_SET_NAME, "keyward-seal");
	if (fstat(sh.fd, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		fprintf(stderr, "keyward seal-helper: started by the agent "
		    "only\n");
		return 2;
	}
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() == 1)
		return 1;
	read_config(&debug, &user);
	if (sh.cf->pin_file != NULL)
		sh.pin = read_pin_file(sh.cf->pin_file);
	else
		sh.pin = sh.cf->pin != NULL ? xstrdup(sh.cf->pin) : NULL;
	if (sh.cf->pin != NULL)
		explicit_bzero(sh.cf->pin, strlen(sh.cf->pin));
	memset(&d, 0, sizeof(d));
	d.user = user;
	privdrop(&d);
	proc_harden(true);
	/* A change of user clears the parent-death signal. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 || getppid() == 1)
		return 1;
	log_init("seal keeper", log_getlevel());
	keeper_run();

	/* A helper, forked by the keeper: the same user, its own session. */
	proc_harden(true);
	for (i = 0; i < sh.cf->nmodule_env; i++)
		if (putenv(sh.cf->module_env[i]) != 0)
			start_failed("module_env: %s", strerror(errno));

	sh.keys[0].label = sh.cf->key;
	sh.nkeys = 1;
	for (i = 0; i < sh.cf->nold_keys && sh.nkeys < SH_KEYS_MAX; i++)
		sh.keys[sh.nkeys++].label = sh.cf->old_keys[i];
	sh.nsess = sh.cf->sessions;
	for (k = 0; k < sh.nsess; k++)
		sh.sess[k] = CK_INVALID_HANDLE;
	if (p11_load(&sh.p, sh.cf->module, err, sizeof(err)) == -1 ||
	    p11_find_token(&sh.p, sh.cf, err, sizeof(err)) == -1)
		start_failed("%s", err);
	if (sh.p.token_flags & CKF_USER_PIN_FINAL_TRY)
		log_warnx("the token allows one more wrong PIN only");
	r = open_pool(err, sizeof(err));
	/* One login per helper: the PIN is not needed again (§4.1). */
	if (sh.pin != NULL) {
		explicit_bzero(sh.pin, strlen(sh.pin));
		free(sh.pin);
		sh.pin = NULL;
	}
	if (r != 0)
		start_failed("%s", err);
	sh.healthy = true;
	if (self_test(0, true, &rv, err, sizeof(err)) == -1)
		start_failed("%s", err);

	if (pthread_barrier_init(&sh.started, NULL, sh.nsess) != 0)
		start_failed("pthread_barrier_init failed");
	for (k = 1; k < sh.nsess; k++)
		if (pthread_create(&t, NULL, worker, (void *)(uintptr_t)k) != 0)
			start_failed("pthread_create failed");
	pthread_barrier_wait(&sh.started);
	if (sandbox_apply_more(ROLE_AGENT, debug, sh_rules,
	    sizeof(sh_rules) / sizeof(sh_rules[0])) == -1)
		start_failed("cannot load the seal helper's sandbox");
	log_debug("token ready: %u sessions, key '%s'", sh.nsess, sh.cf->key);
	buf_init(&b, 64);
	/* write(2): send(2) is sendto, which the filter does not hold. */
	if (buf_put_u8(&b, 1) == -1 || buf_put_str(&b, "") == -1 ||
	    write(sh.fd, b.data, b.len) != (ssize_t)b.len)
		_exit(1);
	buf_release(&b);
	free(user);
	worker((void *)(uintptr_t)0);
	return 0;
}
