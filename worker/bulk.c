/*
 * POST /v1/key/bulk/decrypt/NAME, the route KES served until 2023-11 and
 * MinIO of that time used (W5 in shared/spec/kes-client-generations.md):
 * the body is a JSON array of {"ciphertext","context"}, the answer an
 * array of {"plaintext"} in the same order, `[]` answers `[]`, and one
 * ciphertext that does not open fails the whole request, as one decrypt
 * would. It is not listed by /v1/api, which answers as KES HEAD does.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/buf.h"
#include "common/json_out.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/xmalloc.h"
#include "worker/body.h"
#include "worker/worker.h"

#define MSG_BAD_BULK	"invalid request body"
/* More than a 1 MB body of the smallest items can hold. */
#define BULK_MAX	100000

void
route_key_bulk_decrypt(struct conn *c, const char *name)
{
	struct body_field f[2];
	json_t		*all, *item;
	char		*text = NULL, *msg;
	size_t		 i, n;
	struct buf	 b;

	if (!kes_legacy_name(name)) {
		xasprintf(&msg, "key name '%s' is empty, too long or contains "
		    "invalid characters", name);
		respond_error(c, 400, msg);
		free(msg);
		return;
	}
	if (c->body_too_big || buf_avail(&c->body) > c->route->max_body ||
	    (all = json_loadb((const char *)buf_ptr(&c->body),
	    buf_avail(&c->body), JSON_DISABLE_EOF_CHECK, NULL)) == NULL) {
		respond_error(c, 400, MSG_BAD_BULK);
		return;
	}
	if (!json_is_array(all) || (n = json_array_size(all)) > BULK_MAX) {
		json_decref(all);
		respond_error(c, 400, MSG_BAD_BULK);
		return;
	}
	buf_init(&b, 512 + buf_avail(&c->body) + 8 * n);
	buf_put_str(&b, c->identity);
	buf_put_str(&b, name);
	buf_put_u32(&b, (uint32_t)n);
	json_array_foreach(all, i, item) {
		/* Each item as decrypt's own body is read (Go's rules). */
		memset(f, 0, sizeof(f));
		f[0].name = "ciphertext";
		f[0].kind = BODY_BYTES;
		f[0].public = true;
		f[1].name = "context";
		f[1].kind = BODY_BYTES;
		f[1].public = true;
		if (!json_is_object(item) || (text = json_dumps(item,
		    JSON_COMPACT)) == NULL || body_decode((const uint8_t *)text,
		    strlen(text), f, 2) == -1) {
			free_wiped(text);
			buf_release(&b);
			json_decref(all);
			respond_error(c, 400, MSG_BAD_BULK);
			return;
		}
		free_wiped(text);
		text = NULL;
		buf_put_bytes(&b, f[0].bytes, f[0].len);
		buf_put_bytes(&b, f[1].bytes, f[1].len);
		body_release(f, 2);
	}
	json_decref(all);
	crypto_call(c, name, MSG_KEY_BULK_DECRYPT, &b);
}

/* KEY_OPENED_BULK: u32 n, n x bytes plaintext → [{"plaintext":…},…]. */
void
reply_key_bulk_decrypt(struct conn *c, struct ipc_msg *m)
{
	const uint8_t	*p;
	size_t		 len, i;
	uint32_t	 n;
	struct buf	 b;

	if (m->hdr.type != MSG_KEY_OPENED_BULK ||
	    buf_get_u32(&m->payload, &n) == -1) {
		respond_error(c, 500, "internal error");
		return;
	}
	buf_init(&b, 64 + 2 * buf_avail(&m->payload) + 32 * (size_t)n);
	buf_put_u8(&b, '[');
	for (i = 0; i < n; i++) {
		if (buf_get_bytes(&m->payload, &p, &len) == -1) {
			buf_release(&b);
			respond_error(c, 500, "internal error");
			return;
		}
		if (i > 0)
			buf_put_u8(&b, ',');
		buf_put_u8(&b, '{');
		json_key(&b, "plaintext");
		json_b64(&b, p, len);
		buf_put_u8(&b, '}');
	}
	buf_put_u8(&b, ']');
	if (buf_end(&m->payload) == -1) {
		buf_release(&b);
		respond_error(c, 500, "internal error");
		return;
	}
	respond_json(c, 200, &b);
}
