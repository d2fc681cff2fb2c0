/*
 * libp11shim.so: a PKCS#11 module that forwards to a real one and fails
 * calls on the test's command (p11shim.h says how). Test code only; the
 * seal helper loads it as it would a vendor module.
 */
#include <sys/mman.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "tests/doubles/p11shim.h"

#define SESS_SLOTS	1024

static CK_FUNCTION_LIST_PTR	 real;
static CK_FUNCTION_LIST		 fl;
static struct p11shim_ctl	*ctl;
static struct p11shim_ctl	 noctl;		/* without a control file */
static CK_RV			 load_rv = CKR_OK;
static pthread_once_t		 once = PTHREAD_ONCE_INIT;
/* Which sessions have an encrypt or decrypt in progress, and which had
 * a length answer injected into it. */
static uint8_t			 sess_busy[SESS_SLOTS];
static uint8_t			 sess_short[SESS_SLOTS];

CK_RV	C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR);

static uint32_t
ld32(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static void
count(enum p11shim_fn f)
{
	__atomic_add_fetch(&ctl->calls[f], 1, __ATOMIC_SEQ_CST);
}

/* The injected answer for f, or CKR_OK to call the module. */
static CK_RV
fault(enum p11shim_fn f)
{
	struct p11shim_fault	*ft = &ctl->fault[f];
	int32_t			 left;

	count(f);
	left = __atomic_load_n(&ft->left, __ATOMIC_SEQ_CST);
	for (;;) {
		if (left == 0)
			return CKR_OK;
		if (left < 0)
			break;
		if (__atomic_compare_exchange_n(&ft->left, &left, left - 1,
		    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
			break;
	}
	return (CK_RV)__atomic_load_n(&ft->rv, __ATOMIC_SEQ_CST);
}

static void
op_start(CK_SESSION_HANDLE s)
{
	int64_t n, m;

	if (__atomic_exchange_n(&sess_busy[s % SESS_SLOTS], 1,
	    __ATOMIC_SEQ_CST) != 0)
		__atomic_add_fetch(&ctl->session_reused, 1, __ATOMIC_SEQ_CST);
	n = __atomic_add_fetch(&ctl->busy, 1, __ATOMIC_SEQ_CST);
	m = __atomic_load_n(&ctl->busy_max, __ATOMIC_SEQ_CST);
	while (n > m && !__atomic_compare_exchange_n(&ctl->busy_max, &m, n,
	    false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

static void
op_end(CK_SESSION_HANDLE s)
{
	if (__atomic_exchange_n(&sess_busy[s % SESS_SLOTS], 0,
	    __ATOMIC_SEQ_CST) != 0)
		__atomic_sub_fetch(&ctl->busy, 1, __ATOMIC_SEQ_CST);
}

static CK_RV
w_initialize(CK_VOID_PTR a)
{
	CK_RV rv = fault(SHIM_INITIALIZE);

	return rv != CKR_OK ? rv : real->C_Initialize(a);
}

static CK_RV
w_finalize(CK_VOID_PTR a)
{
	CK_RV rv = fault(SHIM_FINALIZE);

	memset(sess_busy, 0, sizeof(sess_busy));
	__atomic_store_n(&ctl->busy, 0, __ATOMIC_SEQ_CST);
	return rv != CKR_OK ? rv : real->C_Finalize(a);
}

static CK_RV
w_getslotlist(CK_BBOOL present, CK_SLOT_ID_PTR list, CK_ULONG_PTR n)
{
	CK_RV rv = fault(SHIM_GETSLOTLIST);

	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed) && present) {
		*n = 0;
		return CKR_OK;
	}
	return real->C_GetSlotList(present, list, n);
}

static CK_RV
w_gettokeninfo(CK_SLOT_ID slot, CK_TOKEN_INFO_PTR ti)
{
	CK_RV rv = fault(SHIM_GETTOKENINFO);

	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed))
		return CKR_TOKEN_NOT_PRESENT;
	return real->C_GetTokenInfo(slot, ti);
}

static CK_RV
w_opensession(CK_SLOT_ID slot, CK_FLAGS flags, CK_VOID_PTR app,
    CK_NOTIFY notify, CK_SESSION_HANDLE_PTR s)
{
	CK_RV rv = fault(SHIM_OPENSESSION);

	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed))
		return CKR_TOKEN_NOT_PRESENT;
	return real->C_OpenSession(slot, flags, app, notify, s);
}

static CK_RV
w_closesession(CK_SESSION_HANDLE s)
{
	CK_RV rv = fault(SHIM_CLOSESESSION);

	op_end(s);
	return rv != CKR_OK ? rv : real->C_CloseSession(s);
}

static CK_RV
w_login(CK_SESSION_HANDLE s, CK_USER_TYPE u, CK_UTF8CHAR_PTR pin,
    CK_ULONG len)
{
	CK_RV rv = fault(SHIM_LOGIN);

	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed))
		return CKR_DEVICE_REMOVED;
	return real->C_Login(s, u, pin, len);
}

static CK_RV
w_findobjectsinit(CK_SESSION_HANDLE s, CK_ATTRIBUTE_PTR t, CK_ULONG n)
{
	CK_RV rv = fault(SHIM_FINDOBJECTSINIT);

	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed))
		return CKR_DEVICE_REMOVED;
	return real->C_FindObjectsInit(s, t, n);
}

static CK_RV
w_getsessioninfo(CK_SESSION_HANDLE s, CK_SESSION_INFO_PTR si)
{
	CK_RV rv = fault(SHIM_GETSESSIONINFO);

	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed))
		return CKR_DEVICE_REMOVED;
	return real->C_GetSessionInfo(s, si);
}

static CK_RV
op_init(enum p11shim_fn f, CK_SESSION_HANDLE s, CK_MECHANISM_PTR m,
    CK_OBJECT_HANDLE k)
{
	CK_RV rv = fault(f);

	if (__atomic_exchange_n(&sess_short[s % SESS_SLOTS], 0,
	    __ATOMIC_SEQ_CST) != 0)
		__atomic_add_fetch(&ctl->short_reinit, 1, __ATOMIC_SEQ_CST);
	if (rv != CKR_OK)
		return rv;
	if (ld32(&ctl->removed))
		return CKR_DEVICE_REMOVED;
	rv = f == SHIM_ENCRYPTINIT ? real->C_EncryptInit(s, m, k) :
	    real->C_DecryptInit(s, m, k);
	if (rv == CKR_OK)
		op_start(s);
	return rv;
}

static CK_RV
w_encryptinit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return op_init(SHIM_ENCRYPTINIT, s, m, k);
}

static CK_RV
w_decryptinit(CK_SESSION_HANDLE s, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE k)
{
	return op_init(SHIM_DECRYPTINIT, s, m, k);
}

/*
 * C_Encrypt and C_Decrypt. An injected failure other than a length
 * answer still runs the real call, whose output is wiped: a failed call
 * ends the operation in the caller's eyes and must end it in the module.
 */
static CK_RV
op_final(enum p11shim_fn f, CK_SESSION_HANDLE s, CK_BYTE_PTR in,
    CK_ULONG inlen, CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	CK_RV		rv = fault(f), real_rv;
	uint32_t	us = ld32(&ctl->delay_us);

	if (rv == CKR_OK && ld32(&ctl->removed))
		rv = CKR_DEVICE_REMOVED;
	if (rv == CKR_BUFFER_TOO_SMALL && out != NULL) {
		__atomic_store_n(&sess_short[s % SESS_SLOTS], 1,
		    __ATOMIC_SEQ_CST);
		*outlen += 16;
		return rv;
	}
	if (us > 0 && out != NULL) {
		struct timespec ts = { us / 1000000, (long)(us % 1000000) * 1000 };

		while (nanosleep(&ts, &ts) == -1)
			;
	}
	real_rv = f == SHIM_ENCRYPT ? real->C_Encrypt(s, in, inlen, out,
	    outlen) : real->C_Decrypt(s, in, inlen, out, outlen);
	if (out != NULL && real_rv == CKR_OK &&
	    __atomic_exchange_n(&sess_short[s % SESS_SLOTS], 0,
	    __ATOMIC_SEQ_CST) != 0)
		__atomic_add_fetch(&ctl->short_retried, 1, __ATOMIC_SEQ_CST);
	if ((out != NULL || real_rv != CKR_OK) &&
	    real_rv != CKR_BUFFER_TOO_SMALL)
		op_end(s);
	if (rv == CKR_OK || rv == CKR_BUFFER_TOO_SMALL)
		return real_rv;
	if (out != NULL && real_rv == CKR_OK)
		explicit_bzero(out, *outlen);
	op_end(s);
	return rv;
}

static CK_RV
w_encrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen,
    CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	return op_final(SHIM_ENCRYPT, s, in, inlen, out, outlen);
}

static CK_RV
w_decrypt(CK_SESSION_HANDLE s, CK_BYTE_PTR in, CK_ULONG inlen,
    CK_BYTE_PTR out, CK_ULONG_PTR outlen)
{
	return op_final(SHIM_DECRYPT, s, in, inlen, out, outlen);
}

/* Once, before any filter: the real module and the control mapping. */
static void
load(void)
{
	CK_C_GetFunctionList	 get;
	const char		*mod = getenv("KEYWARD_P11SHIM_MODULE");
	const char		*path = getenv("KEYWARD_P11SHIM_CTL");
	void			*dl, *m;
	int			 fd;

	ctl = &noctl;
	if (path != NULL) {
		if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1) {
			load_rv = CKR_GENERAL_ERROR;
			return;
		}
		m = mmap(NULL, sizeof(*ctl), PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
		close(fd);
		if (m == MAP_FAILED ||
		    ((struct p11shim_ctl *)m)->magic != P11SHIM_MAGIC) {
			load_rv = CKR_GENERAL_ERROR;
			return;
		}
		ctl = m;
	}
	if (mod == NULL || (dl = dlopen(mod, RTLD_NOW | RTLD_LOCAL)) == NULL ||
	    (get = (CK_C_GetFunctionList)dlsym(dl, "C_GetFunctionList")) ==
	    NULL || get(&real) != CKR_OK || real == NULL) {
		load_rv = CKR_GENERAL_ERROR;
		return;
	}
	fl = *real;
	fl.C_Initialize = w_initialize;
	fl.C_Finalize = w_finalize;
	fl.C_GetSlotList = w_getslotlist;
	fl.C_GetTokenInfo = w_gettokeninfo;
	fl.C_OpenSession = w_opensession;
	fl.C_CloseSession = w_closesession;
	fl.C_Login = w_login;
	fl.C_FindObjectsInit = w_findobjectsinit;
	fl.C_EncryptInit = w_encryptinit;
	fl.C_Encrypt = w_encrypt;
	fl.C_DecryptInit = w_decryptinit;
	fl.C_Decrypt = w_decrypt;
	fl.C_GetSessionInfo = w_getsessioninfo;
}

CK_RV
C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR out)
{
	pthread_once(&once, load);
	if (load_rv != CKR_OK)
		return load_rv;
	if (out == NULL)
		return CKR_ARGUMENTS_BAD;
	*out = &fl;
	return CKR_OK;
}
