/*
 * The worker's remote TLS key: a built-in OpenSSL 3 provider with one key
 * manager and one signature per key type (RSA, EC, Ed25519). A key object
 * holds the certificate's public key (an OpenSSL default-provider key, to
 * answer libssl's questions: size, bits, curve, default digest) and its
 * id; it claims a private half so libssl will use it, but never exports
 * one, so OpenSSL cannot move the signature to another provider.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/provider.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "common/msg.h"
#include "common/xmalloc.h"
#include "worker/tls_key.h"

#define PROV_NAME	"keyward-tls"
#define PROV_QUERY	"provider=" PROV_NAME
/* Spelled as OpenSSL's default provider spells them, so the names share
 * its ids (EVP_PKEY_is_a(key, "rsaEncryption") holds for our keys). */
#define NAMES_RSA	"RSA:rsaEncryption:1.2.840.113549.1.1.1"
#define NAMES_EC	"EC:id-ecPublicKey:1.2.840.10045.2.1"
#define NAMES_ED25519	"ED25519:1.3.101.112"
/* Not an OpenSSL parameter: how tls_key_remote hands a key its
 * certificate's public key. */
#define PARAM_SPKI	"keyward-spki"

enum rtype { RT_RSA, RT_EC, RT_ED25519 };

static const char *const type_names[] = { "RSA", "EC", "ED25519" };

struct rkey {
	enum rtype	 type;
	EVP_PKEY	*pub;		/* default provider, public only */
	bool		 remote;	/* has an id: the signer holds the
					 * private half */
	uint8_t		 id[TLS_KEY_ID_LEN];
};

struct rsig {
	struct rkey	*key;
	char		 digest[16];	/* "SHA256", ...; "" */
	int		 pad;		/* enum tls_sign_pad */
	bool		 salt_digest;	/* PSS salt as long as the digest */
};

/* --- key management ---------------------------------------------------- */

static struct rkey *
rkey_new(enum rtype t)
{
	struct rkey *k = xcalloc(1, sizeof(*k));

	k->type = t;
	return k;
}

static void *km_new_rsa(void *p) { return rkey_new(RT_RSA); }
static void *km_new_ec(void *p) { return rkey_new(RT_EC); }
static void *km_new_ed25519(void *p) { return rkey_new(RT_ED25519); }

static void
km_free(void *vk)
{
	struct rkey *k = vk;

	if (k == NULL)
		return;
	EVP_PKEY_free(k->pub);
	free(k);
}

static int
km_has(const void *vk, int selection)
{
	const struct rkey *k = vk;

	if (k == NULL || k->pub == NULL)
		return 0;
	if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) && !k->remote)
		return 0;
	return 1;
}

static int
km_match(const void *va, const void *vb, int selection)
{
	const struct rkey *a = va, *b = vb;

	if (a->pub == NULL || b->pub == NULL)
		return 0;
	return EVP_PKEY_eq(a->pub, b->pub) == 1;
}

/* The key from tls_key_remote (its SPKI), or a public key OpenSSL hands
 * over to compare (EVP_PKEY_eq with the certificate's key). */
static int
km_import(void *vk, int selection, const OSSL_PARAM params[])
{
	struct rkey		*k = vk;
	const OSSL_PARAM	*p;
	const unsigned char	*der;
	size_t			 len;
	EVP_PKEY_CTX		*pc;

	if (k == NULL || k->pub != NULL)
		return 0;
	if ((p = OSSL_PARAM_locate_const(params, PARAM_SPKI)) != NULL) {
		if (!OSSL_PARAM_get_octet_string_ptr(p, (const void **)&der,
		    &len))
			return 0;
		k->pub = d2i_PUBKEY_ex(NULL, &der, (long)len, NULL,
		    "provider=default");
		if (k->pub == NULL ||
		    !EVP_PKEY_is_a(k->pub, type_names[k->type]))
			return 0;
		if (tls_key_id(k->pub, k->id) == -1)
			return 0;
		k->remote = true;
		return 1;
	}
	if (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY &&
	    OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY) != NULL)
		return 0;	/* a private key never comes in here */
	pc = EVP_PKEY_CTX_new_from_name(NULL, type_names[k->type],
	    "provider=default");
	if (pc == NULL)
		return 0;
	if (EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &k->pub, EVP_PKEY_PUBLIC_KEY,
	    (OSSL_PARAM *)params) != 1) {
		EVP_PKEY_CTX_free(pc);
		return 0;
	}
	EVP_PKEY_CTX_free(pc);
	return 1;
}

static const OSSL_PARAM *
km_import_types(int selection)
{
	static const OSSL_PARAM none[] = { OSSL_PARAM_END };

	return none;	/* what OpenSSL's own key manager would take */
}

/* Public halves only: asked for a private half (OSSL_KEYMGMT_SELECT_ALL
 * when OpenSSL looks for another provider to sign with) it refuses, and
 * the signature stays with this provider. */
static int
km_export(void *vk, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
	struct rkey	*k = vk;
	OSSL_PARAM	*params = NULL;
	int		 r;

	if (k == NULL || k->pub == NULL ||
	    (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY))
		return 0;
	if (EVP_PKEY_todata(k->pub, selection & (EVP_PKEY_PUBLIC_KEY),
	    &params) != 1)
		return 0;
	r = cb(params, cbarg);
	OSSL_PARAM_free(params);
	return r;
}

static const OSSL_PARAM *
km_export_types(int selection)
{
	static const OSSL_PARAM none[] = { OSSL_PARAM_END };

	return none;
}

/* Sizes, bits, curve, default digest: the public key's answers. */
static int
km_get_params(void *vk, OSSL_PARAM params[])
{
	struct rkey *k = vk;

	if (k == NULL || k->pub == NULL)
		return 0;
	return EVP_PKEY_get_params(k->pub, params);
}

static const OSSL_PARAM *
km_gettable_params(void *provctx)
{
	static const OSSL_PARAM p[] = {
		OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
		OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_DEFAULT_DIGEST, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_MANDATORY_DIGEST, NULL,
		    0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
		    NULL, 0),
		OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
		    NULL, 0),
		OSSL_PARAM_END
	};

	return p;
}

static const char *
km_opname_rsa(int op)
{
	return op == OSSL_OP_SIGNATURE ? "RSA" : NULL;
}

static const char *
km_opname_ec(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ECDSA" : NULL;
}

static const char *
km_opname_ed25519(int op)
{
	return op == OSSL_OP_SIGNATURE ? "ED25519" : NULL;
}

#define KM_COMMON							\
	{ OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))km_free },		\
	{ OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))km_has },		\
	{ OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))km_match },		\
	{ OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))km_import },	\
	{ OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))km_import_types }, \
	{ OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))km_export },	\
	{ OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))km_export_types }, \
	{ OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))km_get_params },	\
	{ OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS,				\
	    (void (*)(void))km_gettable_params }

static const OSSL_DISPATCH km_rsa[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_rsa },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))km_opname_rsa },
	KM_COMMON,
	{ 0, NULL }
};
static const OSSL_DISPATCH km_ec[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_ec },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))km_opname_ec },
	KM_COMMON,
	{ 0, NULL }
};
static const OSSL_DISPATCH km_ed25519[] = {
	{ OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))km_new_ed25519 },
	{ OSSL_FUNC_KEYMGMT_QUERY_OPERATION_NAME,
	    (void (*)(void))km_opname_ed25519 },
	KM_COMMON,
	{ 0, NULL }
};

/* --- signature ---------------------------------------------------------- */

static void *
sig_newctx(void *provctx, const char *propq)
{
	return xcalloc(1, sizeof(struct rsig));
}

static void
sig_freectx(void *vs)
{
	free(vs);
}

/* libssl may duplicate a context mid-operation; nothing here is remote
 * state (the request goes out in one call), so a copy is whole. */
static void *
sig_dupctx(void *vs)
{
	struct rsig *n = xmalloc(sizeof(*n));

	memcpy(n, vs, sizeof(*n));
	return n;
}

/* The digest's one spelling on the wire; "" for none. -1: not allowed. */
static int
canon_digest(const char *name, char *out, size_t outlen)
{
	static const char *const ok[] = { "SHA256", "SHA384", "SHA512" };
	EVP_MD	*md;
	size_t	 i;
	int	 r = -1;

	if (name == NULL || *name == '\0') {
		out[0] = '\0';
		return 0;
	}
	if ((md = EVP_MD_fetch(NULL, name, NULL)) == NULL) {
		ERR_clear_error();
		return -1;
	}
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (EVP_MD_is_a(md, ok[i])) {
			(void)snprintf(out, outlen, "%s", ok[i]);
			r = 0;
			break;
		}
	EVP_MD_free(md);
	return r;
}

static int
sig_set_ctx_params(void *vs, const OSSL_PARAM params[])
{
	struct rsig		*s = vs;
	const OSSL_PARAM	*p;
	const char		*str;
	int			 i;

	if (params == NULL)
		return 1;
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PAD_MODE)) != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (!OSSL_PARAM_get_utf8_string_ptr(p, &str))
				return 0;
			if (strcmp(str, OSSL_PKEY_RSA_PAD_MODE_PSS) == 0)
				s->pad = TLS_SIGN_PAD_PSS;
			else if (strcmp(str, OSSL_PKEY_RSA_PAD_MODE_PKCSV15) == 0)
				s->pad = TLS_SIGN_PAD_PKCS1;
			else
				return 0;
		} else {
			if (!OSSL_PARAM_get_int(p, &i))
				return 0;
			if (i == RSA_PKCS1_PSS_PADDING)
				s->pad = TLS_SIGN_PAD_PSS;
			else if (i == RSA_PKCS1_PADDING)
				s->pad = TLS_SIGN_PAD_PKCS1;
			else
				return 0;
		}
		if (s->key != NULL && s->key->type != RT_RSA)
			return 0;
	}
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_PSS_SALTLEN)) != NULL) {
		if (p->data_type == OSSL_PARAM_UTF8_STRING) {
			if (!OSSL_PARAM_get_utf8_string_ptr(p, &str))
				return 0;
			s->salt_digest = strcmp(str,
			    OSSL_PKEY_RSA_PSS_SALT_LEN_DIGEST) == 0;
		} else {
			if (!OSSL_PARAM_get_int(p, &i))
				return 0;
			s->salt_digest = i == RSA_PSS_SALTLEN_DIGEST;
		}
	}
	if ((p = OSSL_PARAM_locate_const(params,
	    OSSL_SIGNATURE_PARAM_MGF1_DIGEST)) != NULL) {
		char mgf[16];

		if (!OSSL_PARAM_get_utf8_string_ptr(p, &str) ||
		    canon_digest(str, mgf, sizeof(mgf)) == -1 ||
		    strcmp(mgf, s->digest) != 0)
			return 0;	/* TLS uses MGF1 with the digest */
	}
	return 1;
}

static const OSSL_PARAM *
sig_settable_ctx_params(void *vs, void *provctx)
{
	static const OSSL_PARAM p[] = {
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PAD_MODE, NULL, 0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_PSS_SALTLEN, NULL,
		    0),
		OSSL_PARAM_utf8_string(OSSL_SIGNATURE_PARAM_MGF1_DIGEST, NULL,
		    0),
		OSSL_PARAM_END
	};

	return p;
}

static int
sig_digest_sign_init(void *vs, const char *mdname, void *vk,
    const OSSL_PARAM params[])
{
	struct rsig *s = vs;
	struct rkey *k = vk;

	if (k == NULL || !k->remote)
		return 0;
	s->key = k;
	s->pad = k->type == RT_RSA ? TLS_SIGN_PAD_PKCS1 : TLS_SIGN_PAD_NONE;
	s->salt_digest = false;
	if (canon_digest(k->type == RT_ED25519 ? NULL : mdname, s->digest,
	    sizeof(s->digest)) == -1)
		return 0;
	if (k->type != RT_ED25519 && s->digest[0] == '\0')
		return 0;
	return sig_set_ctx_params(s, params);
}

static int
sig_digest_sign(void *vs, unsigned char *sig, size_t *siglen,
    size_t sigsize, const unsigned char *tbs, size_t tbslen)
{
	struct rsig		*s = vs;
	struct tls_sign_req	 req;
	int			 max;

	if (s->key == NULL)
		return 0;
	max = EVP_PKEY_get_size(s->key->pub);
	if (max <= 0)
		return 0;
	if (sig == NULL) {
		*siglen = (size_t)max;
		return 1;
	}
	/* What the signer would refuse is not sent: it would take this
	 * worker for a hostile one. */
	if (s->pad == TLS_SIGN_PAD_PSS && !s->salt_digest)
		return 0;
	req.id = s->key->id;
	req.digest = s->digest;
	req.pad = s->pad;
	req.tbs = tbs;
	req.tbslen = tbslen;
	return tls_sign_remote(&req, sig, siglen, sigsize) == 0;
}

static const OSSL_DISPATCH sig_funcs[] = {
	{ OSSL_FUNC_SIGNATURE_NEWCTX, (void (*)(void))sig_newctx },
	{ OSSL_FUNC_SIGNATURE_FREECTX, (void (*)(void))sig_freectx },
	{ OSSL_FUNC_SIGNATURE_DUPCTX, (void (*)(void))sig_dupctx },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN_INIT,
	    (void (*)(void))sig_digest_sign_init },
	{ OSSL_FUNC_SIGNATURE_DIGEST_SIGN, (void (*)(void))sig_digest_sign },
	{ OSSL_FUNC_SIGNATURE_SET_CTX_PARAMS,
	    (void (*)(void))sig_set_ctx_params },
	{ OSSL_FUNC_SIGNATURE_SETTABLE_CTX_PARAMS,
	    (void (*)(void))sig_settable_ctx_params },
	{ 0, NULL }
};

/* --- the provider ------------------------------------------------------- */

static const OSSL_ALGORITHM keymgmts[] = {
	{ NAMES_RSA, PROV_QUERY, km_rsa, "keyward remote RSA key" },
	{ NAMES_EC, PROV_QUERY, km_ec, "keyward remote EC key" },
	{ NAMES_ED25519, PROV_QUERY, km_ed25519, "keyward remote Ed25519 key" },
	{ NULL, NULL, NULL, NULL }
};
static const OSSL_ALGORITHM signatures[] = {
	{ "RSA:rsaEncryption:1.2.840.113549.1.1.1", PROV_QUERY, sig_funcs,
	    NULL },
	{ "ECDSA", PROV_QUERY, sig_funcs, NULL },
	{ "ED25519:1.3.101.112", PROV_QUERY, sig_funcs, NULL },
	{ NULL, NULL, NULL, NULL }
};

static const OSSL_ALGORITHM *
prov_query(void *provctx, int op, int *no_cache)
{
	*no_cache = 0;
	switch (op) {
	case OSSL_OP_KEYMGMT:
		return keymgmts;
	case OSSL_OP_SIGNATURE:
		return signatures;
	default:
		return NULL;
	}
}

static const OSSL_DISPATCH prov_funcs[] = {
	{ OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))prov_query },
	{ 0, NULL }
};

static int
prov_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
    const OSSL_DISPATCH **out, void **provctx)
{
	*out = prov_funcs;
	*provctx = (void *)handle;
	return 1;
}

/* Held for the life of the process. */
static OSSL_PROVIDER	*deflt, *ours;

/* At exit, before OpenSSL's own clean-up (registered earlier, so run
 * later), so that nothing of ours outlives it. */
static void
tls_key_unload(void)
{
	if (ours != NULL)
		(void)OSSL_PROVIDER_unload(ours);
	if (deflt != NULL)
		(void)OSSL_PROVIDER_unload(deflt);
	ours = deflt = NULL;
}

int
tls_key_init(void)
{
	if (ours != NULL)
		return 0;
	/* Every fetch that does not name a provider keeps OpenSSL's own
	 * implementations (client certificates, key exchange): ours are
	 * chosen only through a key of ours. */
	if ((deflt = OSSL_PROVIDER_load(NULL, "default")) == NULL ||
	    EVP_set_default_properties(NULL, "?provider=default") != 1 ||
	    OSSL_PROVIDER_add_builtin(NULL, PROV_NAME, prov_init) != 1 ||
	    (ours = OSSL_PROVIDER_load(NULL, PROV_NAME)) == NULL)
		return -1;
	(void)atexit(tls_key_unload);
	return 0;
}

EVP_PKEY *
tls_key_remote(X509 *cert, char *err, size_t errlen)
{
	EVP_PKEY	*pub, *k = NULL;
	EVP_PKEY_CTX	*pc = NULL;
	OSSL_PARAM	 params[2];
	unsigned char	*der = NULL;
	const char	*type = NULL;
	int		 len;

	if ((pub = X509_get0_pubkey(cert)) == NULL) {
		snprintf(err, errlen, "TLS certificate: no public key");
		return NULL;
	}
	if (EVP_PKEY_is_a(pub, "RSA"))
		type = "RSA";
	else if (EVP_PKEY_is_a(pub, "EC"))
		type = "EC";
	else if (EVP_PKEY_is_a(pub, "ED25519"))
		type = "ED25519";
	if (type == NULL) {
		snprintf(err, errlen, "TLS certificate: a %s key is not "
		    "supported (RSA, ECDSA or Ed25519)",
		    EVP_PKEY_get0_type_name(pub));
		return NULL;
	}
	if ((len = i2d_PUBKEY(pub, &der)) <= 0)
		goto fail;
	params[0] = OSSL_PARAM_construct_octet_string(PARAM_SPKI, der,
	    (size_t)len);
	params[1] = OSSL_PARAM_construct_end();
	if ((pc = EVP_PKEY_CTX_new_from_name(NULL, type, PROV_QUERY)) == NULL ||
	    EVP_PKEY_fromdata_init(pc) != 1 ||
	    EVP_PKEY_fromdata(pc, &k, EVP_PKEY_KEYPAIR, params) != 1)
		goto fail;
	EVP_PKEY_CTX_free(pc);
	OPENSSL_free(der);
	return k;
fail:
	EVP_PKEY_CTX_free(pc);
	OPENSSL_free(der);
	snprintf(err, errlen, "TLS certificate: cannot make its remote key");
	ERR_clear_error();
	return NULL;
}
