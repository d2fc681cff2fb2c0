/*
 * The key routes (spec 3.3): each route_key_* stub checks the name and the
 * body, asks the crypto process (whose answer_key_* handler re-checks the
 * policy) and turns its reply_* answer into KES's JSON. The handler order
 * is KES's: name, then body. Buffers that held a plaintext or DEK are
 * wiped when released.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/b64.h"
#include "common/ciphertext.h"
#include "common/kes_key.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "worker/body.h"
#include "worker/worker.h"

#define MSG_BAD_BODY	"invalid request body"
#define MSG_TOO_LARGE	"plaintext is too large: its ciphertext would exceed " \
			"the 1 MB body limit of decrypt"

/*
 * false (and 400 answered) for an invalid key name. A new key needs
 * today's rule; an existing one may have a name an older KES allowed.
 */
static bool
key_name_ok(struct conn *c, const char *name, bool create)
{
	char *msg;

	if (create ? kes_valid_name(name) : kes_legacy_name(name))
		return true;
	xasprintf(&msg, "key name '%s' is empty, too long or contains "
	    "invalid characters", name);
	respond_error(c, 400, msg);
	free(msg);
	return false;
}

/* The request for a key operation: str identity, str name. */
static void
key_request(struct buf *b, struct conn *c, const char *name, size_t extra)
{
	buf_init(b, 512 + extra);
	buf_put_str(b, c->identity);
	buf_put_str(b, name);
}

/*
 * Decode the body into fields; the body limit of the route applies here,
 * as in KES where reading past it fails the decoder. 0, or -1 with
 * `message` answered as a 400.
 */
static int
decode_body(struct conn *c, struct body_field *f, size_t n,
    const char *message)
{
	if (c->body_too_big || buf_avail(&c->body) > c->route->max_body ||
	    body_decode(buf_ptr(&c->body), buf_avail(&c->body), f, n) == -1) {
		respond_error(c, 400, message);
		return -1;
	}
	return 0;
}

/*
 * The name check, the body (when parse is set), then the request: str
 * identity, str name and every BODY_BYTES field in order.
 */
static void	key_fields_call(struct conn *, const char *,
		    struct body_field *, size_t, uint16_t);

static void
key_body_call(struct conn *c, const char *name, struct body_field *f,
    size_t n, bool parse, uint16_t type)
{
	if (!key_name_ok(c, name, type == MSG_KEY_CREATE) ||
	    (parse && decode_body(c, f, n, MSG_BAD_BODY) == -1))
		return;
	key_fields_call(c, name, f, n, type);
}

/* The request for decoded fields: identity, name, every BODY_BYTES. */
static void
key_fields_call(struct conn *c, const char *name, struct body_field *f,
    size_t n, uint16_t type)
{
	struct buf	b;
	size_t		i, extra = 0;

	for (i = 0; i < n; i++)
		if (f[i].kind == BODY_BYTES)
			extra += f[i].len;
	key_request(&b, c, name, extra);
	for (i = 0; i < n; i++)
		if (f[i].kind == BODY_BYTES)
			buf_put_bytes(&b, f[i].bytes, f[i].len);
	body_release(f, n);
	crypto_call(c, name, type, &b);
}

/* --- create, import, delete, describe, list ---------------------------- */

void
route_key_create(struct conn *c, const char *name)
{
	key_body_call(c, name, NULL, 0, false, MSG_KEY_CREATE);
}

/*
 * {"key":"<b64>","cipher":"AES256"}. The older shape KES accepted until
 * 2023-09, {"bytes":"<b64>","algorithm":"..."} (and v0.17's {"bytes"}),
 * is taken too (spec 3.3).
 */
void
route_key_import(struct conn *c, const char *name)
{
	enum { F_KEY, F_CIPHER, F_BYTES, F_ALG, F_N };
	struct body_field f[F_N] = {
		{ .name = "key", .kind = BODY_BYTES },
		{ .name = "cipher", .kind = BODY_STRING },
		{ .name = "bytes", .kind = BODY_BYTES },
		{ .name = "algorithm", .kind = BODY_STRING },
	};
	const char	*cipher;
	const uint8_t	*key;
	size_t		 keylen;
	uint8_t		 type;
	char		*msg;
	struct buf	 b;

	if (!key_name_ok(c, name, true) ||
	    decode_body(c, f, F_N, "invalid import key request body") == -1)
		return;
	cipher = f[F_CIPHER].str ? f[F_CIPHER].str : "";
	key = f[F_KEY].bytes;
	keylen = f[F_KEY].len;
	if (!f[F_KEY].present && f[F_BYTES].present) {
		key = f[F_BYTES].bytes;
		keylen = f[F_BYTES].len;
		if (*cipher == '\0')
			cipher = f[F_ALG].str && *f[F_ALG].str ?
			    f[F_ALG].str : "AES256";
	}
	if (strcmp(cipher, "AES256") == 0 ||
	    strcmp(cipher, "AES256-GCM_SHA256") == 0)
		type = KES_KEY_AES256;
	else if (strcmp(cipher, "ChaCha20") == 0 ||
	    strcmp(cipher, "XCHACHA20-POLY1305") == 0)
		type = KES_KEY_CHACHA20;
	else {
		xasprintf(&msg, "algorithm '%s' is not supported", cipher);
		respond_error(c, 406, msg);
		free(msg);
		body_release(f, F_N);
		return;
	}
	if (keylen != KES_KEY_LEN) {
		xasprintf(&msg, "invalid key size for '%s'", cipher);
		respond_error(c, 406, msg);
		free(msg);
		body_release(f, F_N);
		return;
	}
	key_request(&b, c, name, keylen);
	buf_put_u8(&b, type);
	buf_put_bytes(&b, key, keylen);
	body_release(f, F_N);
	crypto_call(c, name, MSG_KEY_IMPORT, &b);
}

void
route_key_delete(struct conn *c, const char *name)
{
	key_body_call(c, name, NULL, 0, false, MSG_KEY_DELETE);
}

void
route_key_describe(struct conn *c, const char *name)
{
	key_body_call(c, name, NULL, 0, false, MSG_KEY_DESCRIBE);
}

/* KEY_INFO: str name, u8 type, u64 created sec, u32 nsec, str created_by.
 * {"name","algorithm","created_at","created_by"}, the optional ones
 * omitted when empty. */
void
reply_key_describe(struct conn *c, struct ipc_msg *m)
{
	const char	*name, *by, *alg;
	uint8_t		 type;
	uint64_t	 sec;
	uint32_t	 nsec;
	struct buf	 b;

	if (m->hdr.type != MSG_KEY_INFO ||
	    buf_get_str(&m->payload, &name, NULL) == -1 ||
	    buf_get_u8(&m->payload, &type) == -1 ||
	    buf_get_u64(&m->payload, &sec) == -1 ||
	    buf_get_u32(&m->payload, &nsec) == -1 || nsec >= 1000000000 ||
	    buf_get_str(&m->payload, &by, NULL) == -1 ||
	    buf_end(&m->payload) == -1) {
		respond_error(c, 500, "internal error");
		return;
	}
	buf_init(&b, 1024);
	buf_put_u8(&b, '{');
	json_key(&b, "name");
	json_str(&b, name);
	/*
	 * The long names KES used until 2023-11: kes-go v0.1.0 (MinIO of
	 * 2023) knows only them, and kms-go (MinIO today) reads both, so
	 * one answer serves every client (W2 in kes-client-generations.md).
	 */
	if ((alg = kes_key_type_name(type)) != NULL) {
		buf_put_u8(&b, ',');
		json_key(&b, "algorithm");
		json_str(&b, type == KES_KEY_AES256 ? "AES256-GCM_SHA256" :
		    "XCHACHA20-POLY1305");
	}
	buf_put_u8(&b, ',');
	json_key(&b, "created_at");
	json_time(&b, (int64_t)sec, (int32_t)nsec);
	if (*by != '\0') {
		buf_put_u8(&b, ',');
		json_key(&b, "created_by");
		json_str(&b, by);
	}
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

void
route_key_list(struct conn *c, const char *pattern)
{
	struct buf	 b;
	char		*msg;

	if (!kes_valid_pattern(pattern)) {
		xasprintf(&msg, "listing pattern '%s' is empty, too long or is "
		    "invalid", pattern);
		respond_error(c, 400, msg);
		free(msg);
		return;
	}
	key_request(&b, c, pattern, 0);
	crypto_call(c, NULL, MSG_KEY_LIST, &b);
}

/* KEY_NAMES: u32 n, n x str, str continue_at.
 * {"names":[...],"continue_at":"..."}, continue_at omitted when empty. */
void
reply_key_list(struct conn *c, struct ipc_msg *m)
{
	const char	*s;
	uint32_t	 n, i;
	struct buf	 b;

	if (m->hdr.type != MSG_KEY_NAMES ||
	    buf_get_u32(&m->payload, &n) == -1 || n > KS_LIST_MAX) {
		respond_error(c, 500, "internal error");
		return;
	}
	buf_init(&b, 4096 + (size_t)n * 256);
	buf_put_u8(&b, '{');
	json_key(&b, "names");
	buf_put_u8(&b, '[');
	for (i = 0; i < n; i++) {
		if (buf_get_str(&m->payload, &s, NULL) == -1) {
			buf_release(&b);
			respond_error(c, 500, "internal error");
			return;
		}
		if (i > 0)
			buf_put_u8(&b, ',');
		json_str(&b, s);
	}
	buf_put_u8(&b, ']');
	if (buf_get_str(&m->payload, &s, NULL) == -1 ||
	    buf_end(&m->payload) == -1) {
		buf_release(&b);
		respond_error(c, 500, "internal error");
		return;
	}
	if (*s != '\0') {
		buf_put_u8(&b, ',');
		json_key(&b, "continue_at");
		json_str(&b, s);
	}
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

/* --- generate, encrypt, decrypt, hmac --------------------------------- */

/* {"context":"<b64>","version":"<ignored>"}; the body is read only when
 * Content-Length is above 0 (a chunked body is always read), as in KES. */
void
route_key_generate(struct conn *c, const char *name)
{
	struct body_field f[] = {
		{ .name = "context", .kind = BODY_BYTES, .public = true },
		{ .name = "version", .kind = BODY_STRING },
	};

	key_body_call(c, name, f, 2, c->req->body == HTTP_BODY_CHUNKED ||
	    (c->req->body == HTTP_BODY_LENGTH && c->req->content_length > 0),
	    MSG_KEY_GENERATE);
}

/* KEY_DEK: bytes plaintext, bytes ciphertext. */
void
reply_key_generate(struct conn *c, struct ipc_msg *m)
{
	const uint8_t	*pt, *ct;
	size_t		 ptlen, ctlen;
	struct buf	 b;

	if (m->hdr.type != MSG_KEY_DEK ||
	    buf_get_bytes(&m->payload, &pt, &ptlen) == -1 ||
	    buf_get_bytes(&m->payload, &ct, &ctlen) == -1 ||
	    buf_end(&m->payload) == -1) {
		respond_error(c, 500, "internal error");
		return;
	}
	buf_init(&b, 64 + 2 * (ptlen + ctlen));
	buf_put_u8(&b, '{');
	json_key(&b, "plaintext");
	json_b64(&b, pt, ptlen);
	buf_put_u8(&b, ',');
	json_key(&b, "ciphertext");
	json_b64_public(&b, ct, ctlen);
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

/*
 * Whatever encrypt returns must decrypt: the smallest decrypt request for
 * its answer, {"ciphertext":"<b64>"} plus ,"context":"<b64>" when there is
 * a context, must fit the decrypt route's body limit (KES encrypts
 * plaintexts whose ciphertext it then refuses to decrypt).
 */
static bool
decryptable(size_t ptlen, size_t ctxlen)
{
	size_t n;

	if (ptlen > BODY_MAX || ctxlen > BODY_MAX)
		return false;
	n = strlen("{\"ciphertext\":\"\"}") + b64_encoded_len(ptlen + KES_CT_OVERHEAD);
	if (ctxlen > 0)
		n += strlen(",\"context\":\"\"") + b64_encoded_len(ctxlen);
	return n <= BODY_MAX;
}

/* {"plaintext":"<b64>","context":"<b64>","version":"<ignored>"} */
void
route_key_encrypt(struct conn *c, const char *name)
{
	struct body_field f[] = {
		{ .name = "plaintext", .kind = BODY_BYTES },
		{ .name = "context", .kind = BODY_BYTES, .public = true },
		{ .name = "version", .kind = BODY_STRING },
	};

	if (!key_name_ok(c, name, false) ||
	    decode_body(c, f, 3, MSG_BAD_BODY) == -1)
		return;
	if (!decryptable(f[0].len, f[1].len)) {
		body_release(f, 3);
		respond_error(c, 400, MSG_TOO_LARGE);
		return;
	}
	key_fields_call(c, name, f, 3, MSG_KEY_ENCRYPT);
}

/* One bytes field as {"<field>":"<b64>"}; a ciphertext, which is not
 * secret, by the faster encoder. */
static void
reply_bytes(struct conn *c, struct ipc_msg *m, uint16_t type,
    const char *field)
{
	const uint8_t	*p;
	size_t		 len;
	struct buf	 b;

	if (m->hdr.type != type ||
	    buf_get_bytes(&m->payload, &p, &len) == -1 ||
	    buf_end(&m->payload) == -1) {
		respond_error(c, 500, "internal error");
		return;
	}
	buf_init(&b, 64 + 2 * len);
	buf_put_u8(&b, '{');
	json_key(&b, field);
	if (type == MSG_KEY_SEALED)
		json_b64_public(&b, p, len);
	else
		json_b64(&b, p, len);
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

void
reply_key_encrypt(struct conn *c, struct ipc_msg *m)
{
	reply_bytes(c, m, MSG_KEY_SEALED, "ciphertext");
}

/* {"ciphertext":"<b64>","context":"<b64>","version":"<ignored>"} */
void
route_key_decrypt(struct conn *c, const char *name)
{
	struct body_field f[] = {
		{ .name = "ciphertext", .kind = BODY_BYTES,
		    .public = true },
		{ .name = "context", .kind = BODY_BYTES, .public = true },
		{ .name = "version", .kind = BODY_STRING },
	};

	key_body_call(c, name, f, 3, true, MSG_KEY_DECRYPT);
}

void
reply_key_decrypt(struct conn *c, struct ipc_msg *m)
{
	reply_bytes(c, m, MSG_KEY_OPENED, "plaintext");
}

/* {"message":"<b64>","version":"<ignored>"} */
void
route_key_hmac(struct conn *c, const char *name)
{
	struct body_field f[] = {
		{ .name = "message", .kind = BODY_BYTES },
		{ .name = "version", .kind = BODY_STRING },
	};

	key_body_call(c, name, f, 2, true, MSG_KEY_HMAC);
}

void
reply_key_hmac(struct conn *c, struct ipc_msg *m)
{
	reply_bytes(c, m, MSG_KEY_MAC, "hmac");
}
