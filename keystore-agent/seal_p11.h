/*
 * The PKCS#11 calls of the seal (spec §4.4): load the module, find the
 * token, log in, find and check the key, AES-GCM one shot, generate the
 * key. Used by the seal helper and the seal commands only: the agent and
 * the parent never load a module (§4.6). Every function returns 0 or -1
 * with err naming the step and the CKR.
 */
#ifndef KEYWARD_KS_SEAL_P11_H
#define KEYWARD_KS_SEAL_P11_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <p11-kit/pkcs11.h>

#ifndef CKR_AEAD_DECRYPT_FAILED
#define CKR_AEAD_DECRYPT_FAILED		0x42UL
#endif

struct seal_conf;

struct p11 {
	void			*dl;
	CK_FUNCTION_LIST_PTR	 f;
	bool			 initialised;
	bool			 finalize;	/* we own C_Initialize */
	pid_t			 pid;		/* of C_Initialize */
	CK_SLOT_ID		 slot;
	CK_FLAGS		 token_flags;
	CK_SESSION_HANDLE	 anchor;	/* keeps the login (§4.4.4) */
	bool			 have_anchor;
};

/* The name of a CKR ("CKR_PIN_INCORRECT (0xa0)"). */
const char	*p11_rv_str(CK_RV, char *buf, size_t len);

int	p11_load(struct p11 *, const char *module, char *err, size_t errlen);
int	p11_initialize(struct p11 *, char *err, size_t errlen);
/* C_Finalize when we own it; dlclose. */
void	p11_unload(struct p11 *);
int	p11_find_token(struct p11 *, const struct seal_conf *, char *err,
	    size_t errlen);
/* Open the anchor session (rw for key generation) and log in once;
 * pin NULL or "" on a PIN-pad token logs in with a NULL PIN. */
int	p11_login(struct p11 *, const char *pin, bool rw, CK_RV *rv,
	    char *err, size_t errlen);
int	p11_open_session(struct p11 *, CK_SESSION_HANDLE *, CK_RV *);
/*
 * The one secret key labelled label (and CKA_ID id, hex, if not NULL):
 * 0 with *h, 1 when there is none, -1 (err) for several or a failure.
 */
int	p11_find_key(struct p11 *, CK_SESSION_HANDLE, const char *label,
	    const char *id, CK_OBJECT_HANDLE *h, char *err, size_t errlen);
/* The attributes §4.4.5 requires of a seal key. */
int	p11_check_key(struct p11 *, CK_SESSION_HANDLE, CK_OBJECT_HANDLE,
	    const char *label, char *err, size_t errlen);
/*
 * One AES-GCM operation (12-byte iv, 128-bit tag) on session s: out
 * gets in + 16 bytes (encrypt) or in - 16 (decrypt); *outlen its length.
 * The CKR is returned; CKR_BUFFER_TOO_SMALL is handled here.
 */
CK_RV	p11_gcm(struct p11 *, CK_SESSION_HANDLE, CK_OBJECT_HANDLE, bool enc,
	    const uint8_t *iv, const uint8_t *aad, size_t aadlen,
	    const uint8_t *in, size_t inlen, uint8_t **out, size_t *outlen);
/* Generate the seal key (§4.4.7) in an RW session. */
int	p11_keygen(struct p11 *, CK_SESSION_HANDLE, const char *label,
	    const char *id, char *err, size_t errlen);

#endif
