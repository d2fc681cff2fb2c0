/*
 * A PKCS#11 fault-injection shim (spec §5.6): libp11shim.so is a PKCS#11
 * module that forwards every call to a real one (SoftHSM2) and fails
 * chosen calls on command, what SoftHSM cannot do by itself.
 *
 * The module it loads is named by $KEYWARD_P11SHIM_MODULE; the commands
 * come through $KEYWARD_P11SHIM_CTL, a file of sizeof(struct p11shim_ctl)
 * bytes that the shim maps shared at its first C_GetFunctionList. The
 * seal helper loads its seccomp filter after loading the module, and
 * reading a mapping makes no system call, so the test drives the shim
 * through the same file (mapped too) while the server runs. Fields are
 * read and written with __atomic builtins on both sides.
 */
#ifndef KEYWARD_TESTS_P11SHIM_H
#define KEYWARD_TESTS_P11SHIM_H

#include <stdint.h>

#define P11SHIM_MAGIC	0x6b773131u	/* "kw11" */

/* The calls a test can fail, and whose calls the shim counts. */
enum p11shim_fn {
	SHIM_INITIALIZE,
	SHIM_FINALIZE,
	SHIM_GETSLOTLIST,
	SHIM_GETTOKENINFO,
	SHIM_OPENSESSION,
	SHIM_CLOSESESSION,
	SHIM_LOGIN,
	SHIM_FINDOBJECTSINIT,
	SHIM_ENCRYPTINIT,
	SHIM_ENCRYPT,
	SHIM_DECRYPTINIT,
	SHIM_DECRYPT,
	SHIM_GETSESSIONINFO,
	SHIM_NFN
};

struct p11shim_fault {
	uint64_t	rv;	/* the CKR to answer instead of calling */
	int32_t		left;	/* calls still to fail; -1: every call */
	uint32_t	pad;
};

struct p11shim_ctl {
	uint32_t		magic;
	/*
	 * Non-zero: the token is gone. C_GetSlotList with tokenPresent
	 * lists no slot, C_GetTokenInfo and C_OpenSession answer
	 * CKR_TOKEN_NOT_PRESENT, every other call on a session
	 * CKR_DEVICE_REMOVED; C_Initialize, C_Finalize and C_CloseSession
	 * still reach the module.
	 */
	uint32_t		removed;
	/* Microseconds added to each C_Encrypt and C_Decrypt (a slow
	 * HSM). */
	uint32_t		delay_us;
	uint32_t		pad;
	struct p11shim_fault	fault[SHIM_NFN];
	/* Calls seen, faulted ones included. */
	uint64_t		calls[SHIM_NFN];
	/* Encrypt or decrypt operations in progress (Init to the final
	 * call), their most at once, and the operations started on a
	 * session that already had one in progress (never, in keyward). */
	int64_t			busy;
	int64_t			busy_max;
	uint64_t		session_reused;
	/* After an injected CKR_BUFFER_TOO_SMALL on a session: the calls
	 * made again that completed without a new init, and the inits
	 * made instead. */
	uint64_t		short_retried;
	uint64_t		short_reinit;
};

/*
 * CKR_BUFFER_TOO_SMALL as a fault of SHIM_ENCRYPT or SHIM_DECRYPT does
 * not reach the module: the shim asks for 16 bytes more than the caller
 * offered, and the operation stays active there, as PKCS#11 requires of
 * a length answer.
 */

#endif
