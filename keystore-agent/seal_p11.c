/*
 * The seal's PKCS#11 calls (seal_p11.h; spec §4.4). The module is vendor
 * code: it runs only in the seal helper and in the offline seal commands,
 * never in a server process that holds anything else.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/xmalloc.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_p11.h"

static const struct {
	CK_RV		 rv;
	const char	*name;
} rv_names[] = {
	{ CKR_OK, "CKR_OK" },
	{ CKR_HOST_MEMORY, "CKR_HOST_MEMORY" },
	{ CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR" },
	{ CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED" },
	{ CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD" },
	{ CKR_CANT_LOCK, "CKR_CANT_LOCK" },
	{ CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE" },
	{ CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID" },
	{ CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID" },
	{ CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR" },
	{ CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY" },
	{ CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED" },
	{ CKR_ENCRYPTED_DATA_INVALID, "CKR_ENCRYPTED_DATA_INVALID" },
	{ CKR_ENCRYPTED_DATA_LEN_RANGE, "CKR_ENCRYPTED_DATA_LEN_RANGE" },
	{ CKR_AEAD_DECRYPT_FAILED, "CKR_AEAD_DECRYPT_FAILED" },
	{ CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID" },
	{ CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT" },
	{ CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED" },
	{ CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID" },
	{ CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID" },
	{ CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID" },
	{ CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE" },
	{ CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT" },
	{ CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED" },
	{ CKR_PIN_LOCKED, "CKR_PIN_LOCKED" },
	{ CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED" },
	{ CKR_SESSION_COUNT, "CKR_SESSION_COUNT" },
	{ CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID" },
	{ CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT" },
	{ CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT" },
	{ CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED" },
	{ CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN" },
	{ CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN" },
	{ CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED" },
	{ CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL" },
	{ CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED" },
	{ CKR_CRYPTOKI_ALREADY_INITIALIZED,
	    "CKR_CRYPTOKI_ALREADY_INITIALIZED" },
};

const char *
p11_rv_str(CK_RV rv, char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < sizeof(rv_names) / sizeof(rv_names[0]); i++)
		if (rv_names[i].rv == rv) {
			snprintf(buf, len, "%s (%#lx)", rv_names[i].name, rv);
			return buf;
		}
	snprintf(buf, len, "CKR %#lx", rv);
	return buf;
}

static int
fail(char *err, size_t errlen, const char *step, CK_RV rv)
{
	char n[64];

	snprintf(err, errlen, "%s: %s", step, p11_rv_str(rv, n, sizeof(n)));
	return -1;
}

int
p11_load(struct p11 *p, const char *module, char *err, size_t errlen)
{
	CK_C_GetFunctionList	getlist;
	CK_RV			rv;

	memset(p, 0, sizeof(*p));
	if ((p->dl = dlopen(module, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "loading the PKCS#11 module %s: %s",
		    module, dlerror());
		return -1;
	}
	if ((getlist = (CK_C_GetFunctionList)dlsym(p->dl,
	    "C_GetFunctionList")) == NULL) {
		snprintf(err, errlen, "loading the PKCS#11 module %s: not a "
		    "PKCS#11 library (no C_GetFunctionList)", module);
		p11_unload(p);
		return -1;
	}
	if ((rv = getlist(&p->f)) != CKR_OK || p->f == NULL) {
		p11_unload(p);
		return fail(err, errlen, "C_GetFunctionList", rv);
	}
	return p11_initialize(p, err, errlen);
}

/*
 * OS locking, as §4.4.2 asks; CKR_CANT_LOCK is refused rather than
 * serialised (XXX: a module without OS locking would need one keyward
 * mutex around every call; none in reach needs it).
 */
int
p11_initialize(struct p11 *p, char *err, size_t errlen)
{
	CK_C_INITIALIZE_ARGS	args;
	CK_RV			rv;

	memset(&args, 0, sizeof(args));
	args.flags = CKF_OS_LOCKING_OK;
	rv = p->f->C_Initialize(&args);
	if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) {
		/* Someone else in this process owns it: never finalize. */
		p->finalize = false;
	} else if (rv != CKR_OK)
		return fail(err, errlen, "C_Initialize", rv);
	else
		p->finalize = true;
	p->initialised = true;
	p->pid = getpid();
	return 0;
}

void
p11_unload(struct p11 *p)
{
	if (p->f != NULL && p->initialised && p->finalize &&
	    p->pid == getpid())
		(void)p->f->C_Finalize(NULL);
	p->initialised = false;
	if (p->dl != NULL)
		dlclose(p->dl);
	p->dl = NULL;
	p->f = NULL;
}

/* A blank-padded field equals s once its trailing blanks are cut. */
static bool
field_eq(const unsigned char *f, size_t flen, const char *s)
{
	size_t n = flen;

	while (n > 0 && (f[n - 1] == ' ' || f[n - 1] == '\0'))
		n--;
	return strlen(s) == n && memcmp(f, s, n) == 0;
}

int
p11_find_token(struct p11 *p, const struct seal_conf *c, char *err,
    size_t errlen)
{
	CK_SLOT_ID	*slots = NULL;
	CK_TOKEN_INFO	 ti;
	CK_ULONG	 n = 0, i, found = 0;
	CK_RV		 rv;
	const char	*what = c->token != NULL ? "label" : "serial";

	if ((rv = p->f->C_GetSlotList(CK_TRUE, NULL, &n)) != CKR_OK)
		return fail(err, errlen, "C_GetSlotList", rv);
	slots = xcalloc(n + 1, sizeof(*slots));
	if ((rv = p->f->C_GetSlotList(CK_TRUE, slots, &n)) != CKR_OK) {
		free(slots);
		return fail(err, errlen, "C_GetSlotList", rv);
	}
	for (i = 0; i < n; i++) {
		if (c->slot != -1) {
			if (slots[i] != (CK_SLOT_ID)c->slot)
				continue;
		} else {
			if (p->f->C_GetTokenInfo(slots[i], &ti) != CKR_OK)
				continue;
			if (c->token != NULL && !field_eq(ti.label,
			    sizeof(ti.label), c->token))
				continue;
			if (c->serial != NULL && !field_eq(ti.serialNumber,
			    sizeof(ti.serialNumber), c->serial))
				continue;
		}
		p->slot = slots[i];
		found++;
	}
	free(slots);
	if (found == 0) {
		if (c->slot != -1)
			snprintf(err, errlen, "token: no token in slot %ld",
			    c->slot);
		else
			snprintf(err, errlen, "token: no token with %s '%s'",
			    what, c->token != NULL ? c->token : c->serial);
		return -1;
	}
	if (found > 1) {
		snprintf(err, errlen, "token: %lu tokens with %s '%s'; "
		    "expected one", (unsigned long)found, what,
		    c->token != NULL ? c->token : c->serial);
		return -1;
	}
	if ((rv = p->f->C_GetTokenInfo(p->slot, &ti)) != CKR_OK)
		return fail(err, errlen, "C_GetTokenInfo", rv);
	p->token_flags = ti.flags;
	if (!(ti.flags & CKF_TOKEN_INITIALIZED) ||
	    !(ti.flags & CKF_USER_PIN_INITIALIZED)) {
		snprintf(err, errlen, "token: not initialised, or its user "
		    "PIN is not set");
		return -1;
	}
	if (ti.flags & CKF_USER_PIN_LOCKED) {
		snprintf(err, errlen, "token: the user PIN is locked");
		return -1;
	}
	return 0;
}

int
p11_open_session(struct p11 *p, CK_SESSION_HANDLE *s, CK_RV *rvp)
{
	CK_RV rv;

	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION, NULL, NULL, s);
	if (rvp != NULL)
		*rvp = rv;
	return rv == CKR_OK ? 0 : -1;
}

/* The one login attempt: a wrong PIN is never retried (§4.4.4). */
int
p11_login(struct p11 *p, const char *pin, bool rw, CK_RV *rvp, char *err,
    size_t errlen)
{
	CK_RV rv;

	*rvp = CKR_OK;
	rv = p->f->C_OpenSession(p->slot, CKF_SERIAL_SESSION |
	    (rw ? CKF_RW_SESSION : 0), NULL, NULL, &p->anchor);
	if (rv != CKR_OK) {
		*rvp = rv;
		return fail(err, errlen, "C_OpenSession", rv);
	}
	p->have_anchor = true;
	if (pin == NULL || pin[0] == '\0') {
		if (!(p->token_flags & CKF_PROTECTED_AUTHENTICATION_PATH)) {
			snprintf(err, errlen, "login: no PIN configured and "
			    "the token has no PIN pad");
			return -1;
		}
		rv = p->f->C_Login(p->anchor, CKU_USER, NULL, 0);
	} else
		rv = p->f->C_Login(p->anchor, CKU_USER,
		    (CK_UTF8CHAR_PTR)(uintptr_t)pin, strlen(pin));
	*rvp = rv;
	if (rv != CKR_OK && rv != CKR_USER_ALREADY_LOGGED_IN) {
		if (rv == CKR_PIN_INCORRECT)
			snprintf(err, errlen, "login: wrong PIN "
			    "(CKR_PIN_INCORRECT); not retried");
		else
			fail(err, errlen, "login: C_Login", rv);
		return -1;
	}
	*rvp = CKR_OK;
	return 0;
}

static int
hex_bytes(const char *hex, uint8_t *out, size_t max, size_t *n)
{
	size_t	i, len = strlen(hex);
	unsigned int v;

	if (len % 2 != 0 || len / 2 > max)
		return -1;
	for (i = 0; i < len / 2; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (uint8_t)v;
	}
	*n = len / 2;
	return 0;
}

int
p11_find_key(struct p11 *p, CK_SESSION_HANDLE s, const char *label,
    const char *id, CK_OBJECT_HANDLE *h, char *err, size_t errlen)
{
	CK_OBJECT_CLASS		cls = CKO_SECRET_KEY;
	CK_OBJECT_HANDLE	found[2];
	CK_ATTRIBUTE		tmpl[3];
	CK_ULONG		n = 0, nt = 2;
	CK_RV			rv;
	uint8_t			idb[64];
	size_t			idn = 0;

	tmpl[0].type = CKA_CLASS;
	tmpl[0].pValue = &cls;
	tmpl[0].ulValueLen = sizeof(cls);
	tmpl[1].type = CKA_LABEL;
	tmpl[1].pValue = (void *)(uintptr_t)label;
	tmpl[1].ulValueLen = strlen(label);
	if (id != NULL) {
		if (hex_bytes(id, idb, sizeof(idb), &idn) == -1) {
			snprintf(err, errlen, "key: bad key_id");
			return -1;
		}
		tmpl[2].type = CKA_ID;
		tmpl[2].pValue = idb;
		tmpl[2].ulValueLen = idn;
		nt = 3;
	}
	if ((rv = p->f->C_FindObjectsInit(s, tmpl, nt)) != CKR_OK)
		return fail(err, errlen, "key: C_FindObjectsInit", rv);
	rv = p->f->C_FindObjects(s, found, 2, &n);
	(void)p->f->C_FindObjectsFinal(s);
	if (rv != CKR_OK)
		return fail(err, errlen, "key: C_FindObjects", rv);
	if (n == 0) {
		snprintf(err, errlen, "key: no secret key labelled '%s' on the "
		    "token", label);
		return 1;
	}
	if (n > 1) {
		snprintf(err, errlen, "key: several secret keys labelled '%s'; "
		    "expected one (set key_id)", label);
		return -1;
	}
	*h = found[0];
	return 0;
}

int
p11_check_key(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h,
    const char *label, char *err, size_t errlen)
{
	CK_KEY_TYPE	kt = 0;
	CK_ULONG	vlen = 0;
	CK_BBOOL	tok = 0, sens = 0, extr = 1, enc = 0, dec = 0, nx = 0,
			as = 0;
	CK_ATTRIBUTE	a[] = {
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &vlen, sizeof(vlen) },
		{ CKA_TOKEN, &tok, sizeof(tok) },
		{ CKA_SENSITIVE, &sens, sizeof(sens) },
		{ CKA_EXTRACTABLE, &extr, sizeof(extr) },
		{ CKA_ENCRYPT, &enc, sizeof(enc) },
		{ CKA_DECRYPT, &dec, sizeof(dec) },
	};
	CK_ATTRIBUTE	b[] = {
		{ CKA_NEVER_EXTRACTABLE, &nx, sizeof(nx) },
		{ CKA_ALWAYS_SENSITIVE, &as, sizeof(as) },
	};
	CK_ATTRIBUTE	v = { CKA_VALUE, NULL, 0 };
	CK_RV		rv;

	if ((rv = p->f->C_GetAttributeValue(s, h, a,
	    sizeof(a) / sizeof(a[0]))) != CKR_OK)
		return fail(err, errlen, "key: C_GetAttributeValue", rv);
	if (kt != CKK_AES || vlen != 32) {
		snprintf(err, errlen, "key '%s': not an AES-256 key", label);
		return -1;
	}
	if (!tok || !sens || extr) {
		snprintf(err, errlen, "key '%s': %s; expected a token key that "
		    "is sensitive and not extractable", label, !tok ?
		    "a session key" : !sens ? "not sensitive" :
		    "extractable");
		return -1;
	}
	if (!enc || !dec) {
		snprintf(err, errlen, "key '%s': not allowed to encrypt and "
		    "decrypt", label);
		return -1;
	}
	/* The value must not be readable (§4.4.5). */
	rv = p->f->C_GetAttributeValue(s, h, &v, 1);
	if (rv != CKR_ATTRIBUTE_SENSITIVE) {
		snprintf(err, errlen, "key '%s': its value is readable", label);
		return -1;
	}
	if (p->f->C_GetAttributeValue(s, h, b, 2) == CKR_OK && (!nx || !as))
		return 1;	/* existed in clear once: a warning */
	return 0;
}

CK_RV
p11_gcm(struct p11 *p, CK_SESSION_HANDLE s, CK_OBJECT_HANDLE key, bool enc,
    const uint8_t *iv, const uint8_t *aad, size_t aadlen, const uint8_t *in,
    size_t inlen, uint8_t **out, size_t *outlen)
{
	CK_GCM_PARAMS	gp;
	CK_MECHANISM	mech;
	CK_ULONG	n;
	CK_RV		rv;
	size_t		cap;

	*out = NULL;
	*outlen = 0;
	if (p->pid != getpid())
		return CKR_CRYPTOKI_NOT_INITIALIZED;	/* used across fork */
	if (!enc && inlen < 16)
		return CKR_ENCRYPTED_DATA_LEN_RANGE;
	memset(&gp, 0, sizeof(gp));
	gp.pIv = (CK_BYTE_PTR)(uintptr_t)iv;
	gp.ulIvLen = 12;
	gp.ulIvBits = 96;
	gp.pAAD = (CK_BYTE_PTR)(uintptr_t)aad;
	gp.ulAADLen = aadlen;
	gp.ulTagBits = 128;
	mech.mechanism = CKM_AES_GCM;
	mech.pParameter = &gp;
	mech.ulParameterLen = sizeof(gp);
	rv = enc ? p->f->C_EncryptInit(s, &mech, key) :
	    p->f->C_DecryptInit(s, &mech, key);
	if (rv != CKR_OK)
		return rv;
	cap = enc ? inlen + 16 : inlen - 16;
	for (;;) {
		*out = xmalloc(cap + 1);
		n = cap;
		rv = enc ? p->f->C_Encrypt(s, (CK_BYTE_PTR)(uintptr_t)in, inlen,
		    *out, &n) : p->f->C_Decrypt(s, (CK_BYTE_PTR)(uintptr_t)in,
		    inlen, *out, &n);
		if (rv != CKR_BUFFER_TOO_SMALL || n <= cap)
			break;
		/* The operation stays active: call again without init. */
		freezero(*out, cap + 1);
		cap = n;
	}
	if (rv != CKR_OK) {
		freezero(*out, cap + 1);
		*out = NULL;
		return rv;
	}
	*outlen = n;
	return CKR_OK;
}

int
p11_keygen(struct p11 *p, CK_SESSION_HANDLE s, const char *label,
    const char *id, char *err, size_t errlen)
{
	CK_OBJECT_CLASS		cls = CKO_SECRET_KEY;
	CK_KEY_TYPE		kt = CKK_AES;
	CK_ULONG		len = 32;
	CK_BBOOL		t = CK_TRUE, f = CK_FALSE;
	CK_MECHANISM_TYPE	allowed = CKM_AES_GCM;
	CK_MECHANISM		mech = { CKM_AES_KEY_GEN, NULL, 0 };
	CK_OBJECT_HANDLE	h;
	uint8_t			idb[64];
	size_t			idn = 0, nt;
	CK_RV			rv;
	CK_ATTRIBUTE		tmpl[] = {
		{ CKA_CLASS, &cls, sizeof(cls) },
		{ CKA_KEY_TYPE, &kt, sizeof(kt) },
		{ CKA_VALUE_LEN, &len, sizeof(len) },
		{ CKA_TOKEN, &t, sizeof(t) },
		{ CKA_PRIVATE, &t, sizeof(t) },
		{ CKA_SENSITIVE, &t, sizeof(t) },
		{ CKA_EXTRACTABLE, &f, sizeof(f) },
		{ CKA_ENCRYPT, &t, sizeof(t) },
		{ CKA_DECRYPT, &t, sizeof(t) },
		{ CKA_WRAP, &f, sizeof(f) },
		{ CKA_UNWRAP, &f, sizeof(f) },
		{ CKA_LABEL, (void *)(uintptr_t)label, strlen(label) },
		{ CKA_ID, idb, 0 },
		/* Optional: dropped from the end on
		 * CKR_ATTRIBUTE_TYPE_INVALID. */
		{ CKA_MODIFIABLE, &f, sizeof(f) },
		{ CKA_COPYABLE, &f, sizeof(f) },
		{ CKA_ALLOWED_MECHANISMS, &allowed, sizeof(allowed) },
	};
	const size_t		required = 13;

	if (id != NULL && hex_bytes(id, idb, sizeof(idb), &idn) == -1) {
		snprintf(err, errlen, "keygen: bad key_id");
		return -1;
	}
	tmpl[12].ulValueLen = idn;
	for (nt = sizeof(tmpl) / sizeof(tmpl[0]); ; nt--) {
		rv = p->f->C_GenerateKey(s, &mech, tmpl, nt, &h);
		if ((rv != CKR_ATTRIBUTE_TYPE_INVALID &&
		    rv != CKR_TEMPLATE_INCONSISTENT) || nt == required)
			break;
	}
	if (rv != CKR_OK)
		return fail(err, errlen, "keygen: C_GenerateKey", rv);
	return 0;
}
