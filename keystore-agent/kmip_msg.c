/* KMIP requests the KMIP key store sends, and its answers (spec 3.3-3.6). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "keystore-agent/kmip_msg.h"
#include "keystore-agent/kmip_ttlv.h"

/* --- requests ----------------------------------------------------------- */

/*
 * Request Message {
 *   Request Header {
 *     Protocol Version { Protocol Version Major (I), Minor (I) }
 *     [Maximum Response Size (I)]
 *     [Authentication { Credential { Credential Type (E) 1,
 *         Credential Value { Username (T), Password (T) } } }]
 *     [Batch Error Continuation Option (E)]	only when batching
 *     Batch Count (I)
 *   }
 *   Batch Item { Operation (E), [Unique Batch Item ID (B)],
 *       Request Payload { ... } } x Batch Count
 * }
 * No Time Stamp: PyKMIP refuses one 60 s off (spec 3.4 "Headers").
 */
static void
msg_begin(struct ttlv_enc *e, struct buf *b, const struct kmip_hdr *h,
    int32_t count)
{
	ttlv_enc_begin(e, b);
	if (h->version.major < 1 || h->version.minor < 0 || count < 1 ||
	    count > KMIP_BATCH_MAX) {
		e->err = 1;
		return;
	}
	ttlv_open(e, KMIP_TAG_REQUEST_MESSAGE);
	ttlv_open(e, KMIP_TAG_REQUEST_HEADER);
	ttlv_open(e, KMIP_TAG_PROTOCOL_VERSION);
	ttlv_put_int(e, KMIP_TAG_PROTOCOL_MAJOR, h->version.major);
	ttlv_put_int(e, KMIP_TAG_PROTOCOL_MINOR, h->version.minor);
	ttlv_close(e);
	if (h->max_response > 0) {
		if (h->max_response > INT32_MAX)
			e->err = 1;
		ttlv_put_int(e, KMIP_TAG_MAX_RESPONSE_SIZE,
		    (int32_t)h->max_response);
	}
	if (h->username != NULL) {
		ttlv_open(e, KMIP_TAG_AUTHENTICATION);
		ttlv_open(e, KMIP_TAG_CREDENTIAL);
		ttlv_put_enum(e, KMIP_TAG_CREDENTIAL_TYPE,
		    KMIP_CREDENTIAL_PASSWORD);
		ttlv_open(e, KMIP_TAG_CREDENTIAL_VALUE);
		ttlv_put_str(e, KMIP_TAG_USERNAME, h->username);
		if (h->password != NULL)
			ttlv_put_str(e, KMIP_TAG_PASSWORD, h->password);
		ttlv_close(e);
		ttlv_close(e);
		ttlv_close(e);
	}
	if (count > 1)
		ttlv_put_enum(e, KMIP_TAG_BATCH_ERROR_CONT,
		    KMIP_BATCH_CONTINUE);
	ttlv_put_int(e, KMIP_TAG_BATCH_COUNT, count);
	ttlv_close(e);
}

/* id < 0: no Unique Batch Item ID (a single item); else one byte id + 1. */
static void
item_begin(struct ttlv_enc *e, uint32_t op, int id)
{
	uint8_t b;

	ttlv_open(e, KMIP_TAG_BATCH_ITEM);
	ttlv_put_enum(e, KMIP_TAG_OPERATION, op);
	if (id >= 0) {
		if (id >= 255)
			e->err = 1;
		b = (uint8_t)(id + 1);
		ttlv_put_bytes(e, KMIP_TAG_BATCH_ITEM_ID, &b, 1);
	}
	ttlv_open(e, KMIP_TAG_REQUEST_PAYLOAD);
}

static void
item_end(struct ttlv_enc *e)
{
	ttlv_close(e);		/* Request Payload */
	ttlv_close(e);		/* Batch Item */
}

static int
msg_end(struct ttlv_enc *e)
{
	ttlv_close(e);		/* Request Message */
	return ttlv_enc_end(e);
}

static bool
uid_ok(const char *uid)
{
	size_t n;

	if (uid == NULL)
		return false;
	n = strlen(uid);
	return n > 0 && n <= KMIP_UID_MAX;
}

static bool
text_max(const char *s, size_t max)
{
	return s != NULL && s[0] != '\0' && strlen(s) <= max;
}

/* Name {Name Value (T), Name Type (E) Uninterpreted Text String}. */
static void
put_name(struct ttlv_enc *e, uint32_t tag, const char *name)
{
	ttlv_open(e, tag);
	ttlv_put_str(e, KMIP_TAG_NAME_VALUE, name);
	ttlv_put_enum(e, KMIP_TAG_NAME_TYPE, KMIP_NAME_TEXT);
	ttlv_close(e);
}

/* 1.x: Attribute { Attribute Name (T), Attribute Value }; the value is
 * put by the caller between attr_begin and ttlv_close. */
static void
attr_begin(struct ttlv_enc *e, const char *name)
{
	ttlv_open(e, KMIP_TAG_ATTRIBUTE);
	ttlv_put_str(e, KMIP_TAG_ATTRIBUTE_NAME, name);
}

int
kmip_req_discover_versions(struct buf *b, const struct kmip_hdr *h,
    const struct kmip_version *offer, size_t n)
{
	struct ttlv_enc	e;
	size_t		i;

	msg_begin(&e, b, h, 1);
	if (n > KMIP_VERSIONS_MAX || (n > 0 && offer == NULL))
		e.err = 1;
	item_begin(&e, KMIP_OP_DISCOVER_VERSIONS, -1);
	for (i = 0; i < n && !e.err; i++) {
		ttlv_open(&e, KMIP_TAG_PROTOCOL_VERSION);
		ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MAJOR, offer[i].major);
		ttlv_put_int(&e, KMIP_TAG_PROTOCOL_MINOR, offer[i].minor);
		ttlv_close(&e);
	}
	item_end(&e);
	return msg_end(&e);
}

/*
 * Request Payload {
 *   Object Type (E) Secret Data
 *   1.x: Template-Attribute {
 *     Attribute { "Cryptographic Usage Mask", (I) mask }
 *     Attribute { "Name", { Name Value, Name Type } }
 *     [Attribute { "Object Group", (T) group }] }
 *   2.0: Attributes { Cryptographic Usage Mask (I), Name { ... },
 *     [Object Group (T)] }
 *   Secret Data { Secret Data Type (E) Seed, Key Block {
 *     Key Format Type (E) Opaque, Key Value { Key Material (B) } } }
 * }
 */
int
kmip_req_register(struct buf *b, const struct kmip_hdr *h,
    const struct kmip_register *r)
{
	struct ttlv_enc	e;
	bool		v2 = KMIP_V2(&h->version);

	msg_begin(&e, b, h, 1);
	if (!text_max(r->name, KMIP_NAME_MAX) || (r->group != NULL &&
	    !text_max(r->group, KMIP_NAME_MAX)) || r->usage_mask > INT32_MAX ||
	    (r->len > 0 && r->value == NULL))
		e.err = 1;
	item_begin(&e, KMIP_OP_REGISTER, -1);
	ttlv_put_enum(&e, KMIP_TAG_OBJECT_TYPE, KMIP_OBJECT_SECRET_DATA);
	if (v2) {
		ttlv_open(&e, KMIP_TAG_ATTRIBUTES);
		ttlv_put_int(&e, KMIP_TAG_USAGE_MASK, (int32_t)r->usage_mask);
		put_name(&e, KMIP_TAG_NAME, r->name);
		if (r->group != NULL)
			ttlv_put_str(&e, KMIP_TAG_OBJECT_GROUP, r->group);
		ttlv_close(&e);
	} else {
		ttlv_open(&e, KMIP_TAG_TEMPLATE_ATTRIBUTE);
		attr_begin(&e, "Cryptographic Usage Mask");
		ttlv_put_int(&e, KMIP_TAG_ATTRIBUTE_VALUE,
		    (int32_t)r->usage_mask);
		ttlv_close(&e);
		attr_begin(&e, "Name");
		put_name(&e, KMIP_TAG_ATTRIBUTE_VALUE, r->name);
		ttlv_close(&e);
		if (r->group != NULL) {
			attr_begin(&e, "Object Group");
			ttlv_put_str(&e, KMIP_TAG_ATTRIBUTE_VALUE, r->group);
			ttlv_close(&e);
		}
		ttlv_close(&e);
	}
	ttlv_open(&e, KMIP_TAG_SECRET_DATA);
	ttlv_put_enum(&e, KMIP_TAG_SECRET_DATA_TYPE, KMIP_SECRET_SEED);
	ttlv_open(&e, KMIP_TAG_KEY_BLOCK);
	ttlv_put_enum(&e, KMIP_TAG_KEY_FORMAT_TYPE, KMIP_KEY_FORMAT_OPAQUE);
	ttlv_open(&e, KMIP_TAG_KEY_VALUE);
	ttlv_put_bytes(&e, KMIP_TAG_KEY_MATERIAL, r->value, r->len);
	ttlv_close(&e);
	ttlv_close(&e);
	ttlv_close(&e);
	item_end(&e);
	return msg_end(&e);
}

/*
 * Request Payload {
 *   [Maximum Items (I)], [Offset Items (I)]
 *   1.x: Attribute { "Object Type", (E) Secret Data },
 *        [Attribute { "Name", { Name Value, Name Type } }],
 *        [Attribute { "Object Group", (T) }]
 *   2.0: Attributes { Object Type (E), [Name { ... }], [Object Group (T)] }
 * }
 */
int
kmip_req_locate(struct buf *b, const struct kmip_hdr *h,
    const struct kmip_locate *l)
{
	struct ttlv_enc	e;
	bool		v2 = KMIP_V2(&h->version);

	msg_begin(&e, b, h, 1);
	if ((l->name != NULL && !text_max(l->name, KMIP_NAME_MAX)) ||
	    (l->group != NULL && !text_max(l->group, KMIP_NAME_MAX)) ||
	    l->max_items < 0 || l->offset_items < 0)
		e.err = 1;
	/* Offset Items came with KMIP 1.3. */
	if (l->offset_items > 0 && h->version.major == 1 &&
	    h->version.minor < 3)
		e.err = 1;
	item_begin(&e, KMIP_OP_LOCATE, -1);
	if (l->max_items > 0)
		ttlv_put_int(&e, KMIP_TAG_MAXIMUM_ITEMS, l->max_items);
	if (l->offset_items > 0)
		ttlv_put_int(&e, KMIP_TAG_OFFSET_ITEMS, l->offset_items);
	if (v2) {
		ttlv_open(&e, KMIP_TAG_ATTRIBUTES);
		ttlv_put_enum(&e, KMIP_TAG_OBJECT_TYPE,
		    KMIP_OBJECT_SECRET_DATA);
		if (l->name != NULL)
			put_name(&e, KMIP_TAG_NAME, l->name);
		if (l->group != NULL)
			ttlv_put_str(&e, KMIP_TAG_OBJECT_GROUP, l->group);
		ttlv_close(&e);
	} else {
		attr_begin(&e, "Object Type");
		ttlv_put_enum(&e, KMIP_TAG_ATTRIBUTE_VALUE,
		    KMIP_OBJECT_SECRET_DATA);
		ttlv_close(&e);
		if (l->name != NULL) {
			attr_begin(&e, "Name");
			put_name(&e, KMIP_TAG_ATTRIBUTE_VALUE, l->name);
			ttlv_close(&e);
		}
		if (l->group != NULL) {
			attr_begin(&e, "Object Group");
			ttlv_put_str(&e, KMIP_TAG_ATTRIBUTE_VALUE, l->group);
			ttlv_close(&e);
		}
	}
	item_end(&e);
	return msg_end(&e);
}

/* Request Payload { Unique Identifier (T) } */
static int
req_uid(struct buf *b, const struct kmip_hdr *h, uint32_t op,
    const char *uid)
{
	struct ttlv_enc e;

	msg_begin(&e, b, h, 1);
	if (!uid_ok(uid))
		e.err = 1;
	item_begin(&e, op, -1);
	ttlv_put_str(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	item_end(&e);
	return msg_end(&e);
}

int
kmip_req_get(struct buf *b, const struct kmip_hdr *h, const char *uid)
{
	return req_uid(b, h, KMIP_OP_GET, uid);
}

int
kmip_req_activate(struct buf *b, const struct kmip_hdr *h, const char *uid)
{
	return req_uid(b, h, KMIP_OP_ACTIVATE, uid);
}

int
kmip_req_destroy(struct buf *b, const struct kmip_hdr *h, const char *uid)
{
	return req_uid(b, h, KMIP_OP_DESTROY, uid);
}

/* Request Payload { Unique Identifier (T),
 *   Revocation Reason { Revocation Reason Code (E) } } */
int
kmip_req_revoke(struct buf *b, const struct kmip_hdr *h, const char *uid,
    uint32_t code)
{
	struct ttlv_enc e;

	msg_begin(&e, b, h, 1);
	if (!uid_ok(uid) || code == 0)
		e.err = 1;
	item_begin(&e, KMIP_OP_REVOKE, -1);
	ttlv_put_str(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uid);
	ttlv_open(&e, KMIP_TAG_REVOCATION_REASON);
	ttlv_put_enum(&e, KMIP_TAG_REVOCATION_CODE, code);
	ttlv_close(&e);
	item_end(&e);
	return msg_end(&e);
}

/*
 * Per item: Request Payload { Unique Identifier (T),
 *   1.x: Attribute Name (T) x k   ("State", "Initial Date", "Name")
 *   2.0: Attribute Reference (E) x k   (the attribute's tag) }
 */
int
kmip_req_get_attributes(struct buf *b, const struct kmip_hdr *h,
    const char *const *uids, size_t n, unsigned int attrs)
{
	static const struct {
		unsigned int	 bit;
		const char	*name;
		uint32_t	 tag;
	} want[] = {
		{ KMIP_ATTR_STATE, "State", KMIP_TAG_STATE },
		{ KMIP_ATTR_INITIAL_DATE, "Initial Date",
		    KMIP_TAG_INITIAL_DATE },
		{ KMIP_ATTR_NAME, "Name", KMIP_TAG_NAME },
	};
	struct ttlv_enc	e;
	bool		v2 = KMIP_V2(&h->version);
	size_t		i, k;

	msg_begin(&e, b, h, n >= 1 && n <= KMIP_BATCH_MAX ? (int32_t)n : 0);
	if (attrs == 0 || (attrs & ~(unsigned int)(KMIP_ATTR_STATE |
	    KMIP_ATTR_INITIAL_DATE | KMIP_ATTR_NAME)) != 0)
		e.err = 1;
	for (i = 0; i < n && !e.err; i++) {
		if (!uid_ok(uids[i])) {
			e.err = 1;
			break;
		}
		item_begin(&e, KMIP_OP_GET_ATTRIBUTES, n > 1 ? (int)i : -1);
		ttlv_put_str(&e, KMIP_TAG_UNIQUE_IDENTIFIER, uids[i]);
		for (k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
			if ((attrs & want[k].bit) == 0)
				continue;
			if (v2)
				ttlv_put_enum(&e, KMIP_TAG_ATTRIBUTE_REFERENCE,
				    want[k].tag);
			else
				ttlv_put_str(&e, KMIP_TAG_ATTRIBUTE_NAME,
				    want[k].name);
		}
		item_end(&e);
	}
	return msg_end(&e);
}

/* Request Payload { Query Function (E) Query Operations } */
int
kmip_req_query(struct buf *b, const struct kmip_hdr *h)
{
	struct ttlv_enc e;

	msg_begin(&e, b, h, 1);
	item_begin(&e, KMIP_OP_QUERY, -1);
	ttlv_put_enum(&e, KMIP_TAG_QUERY_FUNCTION, KMIP_QUERY_OPERATIONS);
	item_end(&e);
	return msg_end(&e);
}

/* --- responses ---------------------------------------------------------- */

static int
fail(char *err, size_t errlen, const char *why)
{
	if (err != NULL && errlen > 0)
		(void)snprintf(err, errlen, "%s", why);
	return -1;
}

/* A copy of a Text String for the log: printable ASCII, cut to fit. */
static void
log_text(const struct ttlv *t, char *out, size_t outlen)
{
	size_t i, n = t->len < outlen - 1 ? t->len : outlen - 1;

	for (i = 0; i < n; i++)
		out[i] = t->val[i] >= 0x20 && t->val[i] < 0x7f ?
		    (char)t->val[i] : '?';
	out[n] = '\0';
}

/* Protocol Version { Major (I), Minor (I) }, each once. */
static int
parse_version(const struct ttlv *t, struct kmip_version *v)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	bool			maj = false, min = false;
	int			r;

	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((r = ttlv_next(&it, &c)) == 1) {
		if (c.tag == KMIP_TAG_PROTOCOL_MAJOR) {
			if (maj || ttlv_get_int(&c, &v->major) == -1)
				return -1;
			maj = true;
		} else if (c.tag == KMIP_TAG_PROTOCOL_MINOR) {
			if (min || ttlv_get_int(&c, &v->minor) == -1)
				return -1;
			min = true;
		}
	}
	return r == 0 && maj && min && v->major >= 0 && v->minor >= 0 ?
	    0 : -1;
}

/*
 * Response Header { Protocol Version, Time Stamp (D), [Nonce, ...],
 *     Batch Count (I) }
 */
static int
parse_header(const struct ttlv *t, struct kmip_resp *r, int32_t *count)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	bool			ver = false, ts = false, cnt = false;
	int			n;

	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1) {
		switch (c.tag) {
		case KMIP_TAG_PROTOCOL_VERSION:
			if (ver || parse_version(&c, &r->version) == -1)
				return -1;
			ver = true;
			break;
		case KMIP_TAG_TIME_STAMP:
			if (ts || ttlv_get_datetime(&c, &r->time_stamp) == -1)
				return -1;
			ts = true;
			break;
		case KMIP_TAG_BATCH_COUNT:
			if (cnt || ttlv_get_int(&c, count) == -1)
				return -1;
			cnt = true;
			break;
		default:
			break;
		}
	}
	return n == 0 && ver && ts && cnt ? 0 : -1;
}

/*
 * Batch Item { [Operation (E)], [Unique Batch Item ID (B)], Result Status
 *   (E), [Result Reason (E)], [Result Message (T)], [Asynchronous
 *   Correlation Value], [Response Payload (S)], [Message Extension] }
 */
static int
parse_item(const struct ttlv *t, struct kmip_item *item)
{
	struct ttlv_iter	 it;
	struct ttlv		 c;
	const uint8_t		*id;
	size_t			 idlen;
	bool			 op = false, bid = false, st = false;
	bool			 rs = false, msg = false;
	int			 n;

	memset(item, 0, sizeof(*item));
	item->batch_id = -1;
	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1) {
		switch (c.tag) {
		case KMIP_TAG_OPERATION:
			if (op || ttlv_get_enum(&c, &item->op) == -1 ||
			    item->op == 0)
				return -1;
			op = true;
			break;
		case KMIP_TAG_BATCH_ITEM_ID:
			if (bid || ttlv_get_bytes(&c, &id, &idlen) == -1)
				return -1;
			if (idlen == 1 && id[0] != 0)
				item->batch_id = id[0] - 1;
			bid = true;
			break;
		case KMIP_TAG_RESULT_STATUS:
			if (st || ttlv_get_enum(&c, &item->status) == -1 ||
			    item->status > KMIP_STATUS_UNDONE)
				return -1;
			st = true;
			break;
		case KMIP_TAG_RESULT_REASON:
			if (rs || ttlv_get_enum(&c, &item->reason) == -1)
				return -1;
			rs = true;
			break;
		case KMIP_TAG_RESULT_MESSAGE:
			if (msg || c.type != TTLV_TEXT)
				return -1;
			log_text(&c, item->msg, sizeof(item->msg));
			msg = true;
			break;
		case KMIP_TAG_RESPONSE_PAYLOAD:
			if (item->has_payload || c.type != TTLV_STRUCT)
				return -1;
			item->payload = c;
			item->has_payload = true;
			break;
		default:
			break;
		}
	}
	return n == 0 && st ? 0 : -1;
}

/* Response Message { Response Header, Batch Item x Batch Count } */
int
kmip_parse_response(const uint8_t *p, size_t len,
    const struct ttlv_limits *lim, struct kmip_resp *r, char *err,
    size_t errlen)
{
	struct ttlv_iter	it;
	struct ttlv		top, c;
	int32_t			count = 0;
	bool			hdr = false;
	int			n;

	memset(r, 0, sizeof(*r));
	if (ttlv_decode(p, len, lim, &top, err, errlen) == -1)
		return -1;
	if (top.tag != KMIP_TAG_RESPONSE_MESSAGE || top.type != TTLV_STRUCT)
		return fail(err, errlen, "not a Response Message");
	ttlv_iter_init(&it, &top);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag == KMIP_TAG_RESPONSE_HEADER) {
			if (hdr || c.type != TTLV_STRUCT ||
			    parse_header(&c, r, &count) == -1)
				return fail(err, errlen,
				    "malformed Response Header");
			if (count < 1 || count > KMIP_BATCH_MAX)
				return fail(err, errlen,
				    "Batch Count out of range");
			r->items = xcalloc((size_t)count, sizeof(*r->items));
			hdr = true;
		} else if (c.tag == KMIP_TAG_BATCH_ITEM) {
			if (!hdr)
				return fail(err, errlen,
				    "Batch Item before the header");
			if (r->n == (size_t)count)
				return fail(err, errlen,
				    "more Batch Items than Batch Count");
			if (parse_item(&c, &r->items[r->n]) == -1)
				return fail(err, errlen,
				    "malformed Batch Item");
			r->n++;
		}
	}
	if (n == -1 || !hdr)
		return fail(err, errlen, "malformed Response Message");
	if (r->n != (size_t)count)
		return fail(err, errlen, "fewer Batch Items than Batch Count");
	return 0;
}

void
kmip_resp_free(struct kmip_resp *r)
{
	free(r->items);
	memset(r, 0, sizeof(*r));
}

/* A successful answer to op (an item without Operation cannot be one). */
static bool
ok_for(const struct kmip_item *it, uint32_t op)
{
	return it->status == KMIP_STATUS_SUCCESS && it->op == op;
}

static int
get_uid(const struct ttlv *t, char uid[KMIP_UID_MAX + 1])
{
	return t->len > 0 ? ttlv_get_cstr(t, uid, KMIP_UID_MAX + 1) : -1;
}

/* Response Payload { Protocol Version x m } */
int
kmip_parse_discover_versions(const struct kmip_item *item,
    struct kmip_version *out, size_t max, size_t *nout)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	struct kmip_version	v;
	int			n;

	*nout = 0;
	if (!ok_for(item, KMIP_OP_DISCOVER_VERSIONS))
		return -1;
	if (!item->has_payload)
		return 0;
	ttlv_iter_init(&it, &item->payload);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag != KMIP_TAG_PROTOCOL_VERSION)
			continue;
		if (parse_version(&c, &v) == -1)
			return -1;
		if (*nout < max)
			out[(*nout)++] = v;
	}
	return n == 0 ? 0 : -1;
}

/* Response Payload { Unique Identifier (T), [...] } */
int
kmip_parse_uid(const struct kmip_item *item, char uid[KMIP_UID_MAX + 1])
{
	struct ttlv_iter	it;
	struct ttlv		c;
	bool			have = false;
	int			n;

	if (item->status != KMIP_STATUS_SUCCESS || !item->has_payload ||
	    (item->op != KMIP_OP_REGISTER && item->op != KMIP_OP_CREATE &&
	    item->op != KMIP_OP_ACTIVATE && item->op != KMIP_OP_REVOKE &&
	    item->op != KMIP_OP_DESTROY))
		return -1;
	ttlv_iter_init(&it, &item->payload);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag != KMIP_TAG_UNIQUE_IDENTIFIER)
			continue;
		if (have || get_uid(&c, uid) == -1)
			return -1;
		have = true;
	}
	return n == 0 && have ? 0 : -1;
}

/* Response Payload { [Located Items (I)], Unique Identifier (T) x m } */
int
kmip_parse_locate(const struct kmip_item *item, struct kmip_uids *u)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	char			uid[KMIP_UID_MAX + 1];
	size_t			cap = 0;
	int			n;

	memset(u, 0, sizeof(*u));
	if (!ok_for(item, KMIP_OP_LOCATE))
		return -1;
	if (!item->has_payload)
		return 0;
	ttlv_iter_init(&it, &item->payload);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag == KMIP_TAG_LOCATED_ITEMS) {
			if (u->has_located ||
			    ttlv_get_int(&c, &u->located) == -1)
				goto bad;
			u->has_located = true;
		} else if (c.tag == KMIP_TAG_UNIQUE_IDENTIFIER) {
			if (u->n == KMIP_LOCATE_MAX || get_uid(&c, uid) == -1)
				goto bad;
			if (u->n == cap) {
				cap = cap ? cap * 2 : 8;
				u->uid = xreallocarray(u->uid, cap,
				    sizeof(*u->uid));
			}
			u->uid[u->n++] = xstrdup(uid);
		}
	}
	if (n == 0)
		return 0;
 bad:
	kmip_uids_free(u);
	return -1;
}

void
kmip_uids_free(struct kmip_uids *u)
{
	size_t i;

	for (i = 0; i < u->n; i++)
		free(u->uid[i]);
	free(u->uid);
	memset(u, 0, sizeof(*u));
}

/*
 * Key Block { Key Format Type (E), [Key Compression Type (E)],
 *   Key Value { Key Material (B), [Attribute ...] } | Key Value (B, wrapped),
 *   [Cryptographic Algorithm], [Cryptographic Length], [Key Wrapping Data] }
 */
static int
parse_key_block(const struct ttlv *t, struct kmip_object *o,
    struct buf *material)
{
	struct ttlv_iter	 it, kv;
	struct ttlv		 c, m;
	const uint8_t		*p;
	size_t			 len;
	bool			 fmt = false, val = false;
	int			 n, k;

	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1) {
		switch (c.tag) {
		case KMIP_TAG_KEY_FORMAT_TYPE:
			if (fmt || ttlv_get_enum(&c, &o->key_format) == -1)
				return -1;
			fmt = true;
			break;
		case KMIP_TAG_KEY_WRAPPING_DATA:
			return -1;	/* wrapped: not what we stored */
		case KMIP_TAG_KEY_VALUE:
			if (val || c.type != TTLV_STRUCT)
				return -1;
			val = true;
			ttlv_iter_init(&kv, &c);
			while ((k = ttlv_next(&kv, &m)) == 1) {
				if (m.tag != KMIP_TAG_KEY_MATERIAL)
					continue;
				if (o->has_material ||
				    ttlv_get_bytes(&m, &p, &len) == -1 ||
				    buf_put(material, p, len) == -1)
					return -1;
				o->has_material = true;
			}
			if (k == -1)
				return -1;
			break;
		default:
			break;
		}
	}
	return n == 0 && fmt ? 0 : -1;
}

/* Secret Data { Secret Data Type (E), Key Block } */
static int
parse_secret_data(const struct ttlv *t, struct kmip_object *o,
    struct buf *material)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	bool			typ = false, kb = false;
	int			n;

	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag == KMIP_TAG_SECRET_DATA_TYPE) {
			if (typ || ttlv_get_enum(&c, &o->secret_type) == -1)
				return -1;
			typ = true;
		} else if (c.tag == KMIP_TAG_KEY_BLOCK) {
			if (kb || parse_key_block(&c, o, material) == -1)
				return -1;
			kb = true;
		}
	}
	return n == 0 && typ && kb ? 0 : -1;
}

/*
 * Response Payload { Object Type (E), Unique Identifier (T),
 *   Secret Data { ... } | another object's structure }
 */
int
kmip_parse_get(const struct kmip_item *item, struct kmip_object *o,
    struct buf *material)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	size_t			start = material->len;
	bool			typ = false, uid = false, sd = false;
	int			n;

	memset(o, 0, sizeof(*o));
	if (!ok_for(item, KMIP_OP_GET) || !item->has_payload)
		return -1;
	ttlv_iter_init(&it, &item->payload);
	while ((n = ttlv_next(&it, &c)) == 1) {
		switch (c.tag) {
		case KMIP_TAG_OBJECT_TYPE:
			if (typ || ttlv_get_enum(&c, &o->object_type) == -1)
				goto bad;
			typ = true;
			break;
		case KMIP_TAG_UNIQUE_IDENTIFIER:
			if (uid || get_uid(&c, o->uid) == -1)
				goto bad;
			uid = true;
			break;
		case KMIP_TAG_SECRET_DATA:
			if (sd || parse_secret_data(&c, o, material) == -1)
				goto bad;
			sd = true;
			break;
		default:
			break;
		}
	}
	if (n != 0 || !typ || !uid)
		goto bad;
	/* SecretData without its structure, or a structure for another
	 * type: not an answer a server gives. */
	if ((o->object_type == KMIP_OBJECT_SECRET_DATA) != sd)
		goto bad;
	return 0;
 bad:
	if (material->len > start) {
		explicit_bzero(material->data + start, material->len - start);
		material->len = start;
	}
	o->has_material = false;
	return -1;
}

static int
parse_name(const struct ttlv *t, struct kmip_attrs *a)
{
	struct ttlv_iter	it;
	struct ttlv		c, value = { 0 };
	uint32_t		type = 0;
	bool			val = false, typ = false;
	int			n;

	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag == KMIP_TAG_NAME_VALUE) {
			if (val || c.type != TTLV_TEXT)
				return -1;
			value = c;
			val = true;
		} else if (c.tag == KMIP_TAG_NAME_TYPE) {
			if (typ || ttlv_get_enum(&c, &type) == -1)
				return -1;
			typ = true;
		}
	}
	if (n != 0 || !val || !typ)
		return -1;
	if (a->has_name ||
	    ttlv_get_cstr(&value, a->name, sizeof(a->name)) == -1) {
		a->names_skipped++;
		return 0;
	}
	a->name_type = type;
	a->has_name = true;
	return 0;
}

/* One attribute value, by its tag (2.0) or Attribute Name (1.x). */
static int
attr_value(struct kmip_attrs *a, uint32_t which, const struct ttlv *v)
{
	switch (which) {
	case KMIP_TAG_STATE:
		if (a->has_state || ttlv_get_enum(v, &a->state) == -1)
			return -1;
		a->has_state = true;
		return 0;
	case KMIP_TAG_INITIAL_DATE:
		if (a->has_initial_date ||
		    ttlv_get_datetime(v, &a->initial_date) == -1)
			return -1;
		a->has_initial_date = true;
		return 0;
	case KMIP_TAG_NAME:
		return parse_name(v, a);
	default:
		return 0;
	}
}

/* 1.x: Attribute { Attribute Name (T), [Attribute Index (I)],
 * Attribute Value } */
static int
parse_attribute_1x(const struct ttlv *t, struct kmip_attrs *a)
{
	static const struct {
		const char	*name;
		uint32_t	 tag;
	} known[] = {
		{ "State", KMIP_TAG_STATE },
		{ "Initial Date", KMIP_TAG_INITIAL_DATE },
		{ "Name", KMIP_TAG_NAME },
	};
	struct ttlv_iter	 it;
	struct ttlv		 c, value = { 0 };
	const char		*name = NULL;
	size_t			 namelen = 0, k;
	int32_t			 aidx;
	bool			 idx = false, val = false;
	int			 n;

	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1) {
		switch (c.tag) {
		case KMIP_TAG_ATTRIBUTE_NAME:
			if (name != NULL ||
			    ttlv_get_text(&c, &name, &namelen) == -1)
				return -1;
			break;
		case KMIP_TAG_ATTRIBUTE_INDEX:
			if (idx || ttlv_get_int(&c, &aidx) == -1 || aidx < 0)
				return -1;
			idx = true;
			break;
		case KMIP_TAG_ATTRIBUTE_VALUE:
			if (val)
				return -1;
			value = c;
			val = true;
			break;
		default:
			break;
		}
	}
	if (n != 0 || name == NULL || !val)
		return -1;
	for (k = 0; k < sizeof(known) / sizeof(known[0]); k++)
		if (strlen(known[k].name) == namelen &&
		    memcmp(known[k].name, name, namelen) == 0)
			return attr_value(a, known[k].tag, &value);
	return 0;
}

/* 2.0: Attributes { State (E), Initial Date (D), Name { ... }, ... } */
static int
parse_attributes_20(const struct ttlv *t, struct kmip_attrs *a)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	int			n;

	if (t->type != TTLV_STRUCT)
		return -1;
	ttlv_iter_init(&it, t);
	while ((n = ttlv_next(&it, &c)) == 1)
		if (attr_value(a, c.tag, &c) == -1)
			return -1;
	return n == 0 ? 0 : -1;
}

/* Response Payload { Unique Identifier (T), 1.x: Attribute x m |
 * 2.0: Attributes { ... } } */
int
kmip_parse_get_attributes(const struct kmip_item *item, struct kmip_attrs *a)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	bool			uid = false, v2 = false;
	int			n;

	memset(a, 0, sizeof(*a));
	if (!ok_for(item, KMIP_OP_GET_ATTRIBUTES) || !item->has_payload)
		return -1;
	ttlv_iter_init(&it, &item->payload);
	while ((n = ttlv_next(&it, &c)) == 1) {
		switch (c.tag) {
		case KMIP_TAG_UNIQUE_IDENTIFIER:
			if (uid || get_uid(&c, a->uid) == -1)
				goto bad;
			uid = true;
			break;
		case KMIP_TAG_ATTRIBUTE:
			if (v2 || parse_attribute_1x(&c, a) == -1)
				goto bad;
			break;
		case KMIP_TAG_ATTRIBUTES:
			if (v2 || parse_attributes_20(&c, a) == -1)
				goto bad;
			v2 = true;
			break;
		default:
			break;
		}
	}
	if (n == 0 && uid)
		return 0;
 bad:
	memset(a, 0, sizeof(*a));
	return -1;
}

/* Response Payload { Operation (E) x n, Object Type (E) x n,
 *   [Vendor Identification (T)], [Server Information (S)], ... } */
int
kmip_parse_query(const struct kmip_item *item, struct kmip_query *q)
{
	struct ttlv_iter	it;
	struct ttlv		c;
	uint32_t		op;
	bool			vendor = false;
	int			n;

	memset(q, 0, sizeof(*q));
	if (!ok_for(item, KMIP_OP_QUERY))
		return -1;
	if (!item->has_payload)
		return 0;
	ttlv_iter_init(&it, &item->payload);
	while ((n = ttlv_next(&it, &c)) == 1) {
		if (c.tag == KMIP_TAG_OPERATION) {
			if (ttlv_get_enum(&c, &op) == -1)
				return -1;
			if (q->nops < sizeof(q->ops) / sizeof(q->ops[0]))
				q->ops[q->nops++] = op;
		} else if (c.tag == KMIP_TAG_VENDOR_ID) {
			if (vendor || c.type != TTLV_TEXT)
				return -1;
			log_text(&c, q->vendor, sizeof(q->vendor));
			vendor = true;
		}
	}
	return n == 0 ? 0 : -1;
}

/* --- decisions ---------------------------------------------------------- */

int
kmip_version_pick(const struct kmip_version *server, size_t ns,
    const struct kmip_version *offer, size_t no, struct kmip_version *out)
{
	size_t i, k;

	for (i = 0; i < ns; i++)
		for (k = 0; k < no; k++)
			if (server[i].major == offer[k].major &&
			    server[i].minor == offer[k].minor) {
				*out = server[i];
				return 0;
			}
	return -1;
}

static bool
op_names_object(uint32_t op)
{
	return op == KMIP_OP_GET || op == KMIP_OP_GET_ATTRIBUTES ||
	    op == KMIP_OP_ACTIVATE || op == KMIP_OP_REVOKE ||
	    op == KMIP_OP_DESTROY;
}

static bool
op_idempotent(uint32_t op)
{
	return op == KMIP_OP_LOCATE || op == KMIP_OP_GET ||
	    op == KMIP_OP_GET_ATTRIBUTES || op == KMIP_OP_DISCOVER_VERSIONS ||
	    op == KMIP_OP_QUERY;
}

enum kmip_outcome
kmip_outcome(uint32_t op, uint32_t status, uint32_t reason)
{
	if (status == KMIP_STATUS_SUCCESS)
		return KMIP_OUTCOME_OK;
	if (status != KMIP_STATUS_FAILED)
		return KMIP_OUTCOME_OTHER;	/* Pending, Undone: not asked */
	switch (reason) {
	case KMIP_REASON_ITEM_NOT_FOUND:
	case KMIP_REASON_OBJECT_NOT_FOUND:
	case KMIP_REASON_OBJECT_DESTROYED:
	case KMIP_REASON_KEY_VALUE_NOT_PRESENT:
		return op_names_object(op) ? KMIP_OUTCOME_NOT_FOUND :
		    KMIP_OUTCOME_OTHER;
	case KMIP_REASON_OBJECT_EXISTS:
	case KMIP_REASON_NON_UNIQUE_NAME:
		return op == KMIP_OP_REGISTER || op == KMIP_OP_CREATE ?
		    KMIP_OUTCOME_EXISTS : KMIP_OUTCOME_OTHER;
	case KMIP_REASON_PERMISSION_DENIED:
	case KMIP_REASON_ILLEGAL_OPERATION:
	case KMIP_REASON_WRONG_STATE:
		return op == KMIP_OP_DESTROY ? KMIP_OUTCOME_REVOKE :
		    KMIP_OUTCOME_OTHER;
	case KMIP_REASON_INVALID_MESSAGE:
	case KMIP_REASON_UNSUPPORTED_VERSION:
		return KMIP_OUTCOME_RENEGOTIATE;
	case KMIP_REASON_OP_NOT_SUPPORTED:
		return op == KMIP_OP_DISCOVER_VERSIONS ?
		    KMIP_OUTCOME_RENEGOTIATE : KMIP_OUTCOME_OTHER;
	case KMIP_REASON_RESPONSE_TOO_LARGE:
		return KMIP_OUTCOME_SMALLER;
	case KMIP_REASON_GENERAL_FAILURE:
	case KMIP_REASON_INTERNAL_ERROR:
	case KMIP_REASON_SERVER_LIMIT:
		return op_idempotent(op) ? KMIP_OUTCOME_RETRY :
		    KMIP_OUTCOME_OTHER;
	default:
		return KMIP_OUTCOME_OTHER;
	}
}

enum kmip_outcome
kmip_item_outcome(uint32_t op, const struct kmip_item *it)
{
	/* An answer to another operation is no answer to this one. */
	if (it->op != 0 && it->op != op)
		return KMIP_OUTCOME_OTHER;
	return kmip_outcome(op, it->status, it->reason);
}

static const struct {
	uint32_t	 reason;
	const char	*name;
} reasons[] = {
	{ 0x01, "Item Not Found" },
	{ 0x02, "Response Too Large" },
	{ 0x03, "Authentication Not Successful" },
	{ 0x04, "Invalid Message" },
	{ 0x05, "Operation Not Supported" },
	{ 0x06, "Missing Data" },
	{ 0x07, "Invalid Field" },
	{ 0x08, "Feature Not Supported" },
	{ 0x09, "Operation Canceled By Requester" },
	{ 0x0a, "Cryptographic Failure" },
	{ 0x0b, "Illegal Operation" },
	{ 0x0c, "Permission Denied" },
	{ 0x0d, "Object Archived" },
	{ 0x0e, "Index Out Of Bounds" },
	{ 0x0f, "Application Namespace Not Supported" },
	{ 0x10, "Key Format Type Not Supported" },
	{ 0x11, "Key Compression Type Not Supported" },
	{ 0x12, "Encoding Option Error" },
	{ 0x13, "Key Value Not Present" },
	{ 0x14, "Attestation Required" },
	{ 0x15, "Attestation Failed" },
	{ 0x16, "Sensitive" },
	{ 0x17, "Not Extractable" },
	{ 0x18, "Object Already Exists" },
	{ 0x2a, "Internal Server Error" },
	{ 0x35, "Non Unique Name Attribute" },
	{ 0x36, "Object Destroyed" },
	{ 0x37, "Object Not Found" },
	{ 0x39, "Not Authorised" },
	{ 0x3a, "Server Limit Exceeded" },
	{ 0x3f, "Unsupported Protocol Version" },
	{ 0x43, "Wrong Key Lifecycle State" },
	{ 0x100, "General Failure" },
};

const char *
kmip_reason_name(uint32_t reason)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == reason)
			return reasons[i].name;
	return "unknown reason";
}

const char *
kmip_reason_hint(uint32_t reason)
{
	switch (reason) {
	case KMIP_REASON_SENSITIVE:
	case KMIP_REASON_NOT_EXTRACTABLE:
		return "server refuses to export secret data";
	case KMIP_REASON_OP_NOT_SUPPORTED:
	case KMIP_REASON_FEATURE_NOT_SUPPORTED:
	case KMIP_REASON_KEY_FORMAT_NOT_SUPPORTED:
		return "the server lacks a feature keyward uses; check "
		    "keystore.kmip.versions, activate and object_group";
	case KMIP_REASON_AUTH_FAILED:
	case KMIP_REASON_NOT_AUTHORISED:
	case KMIP_REASON_PERMISSION_DENIED:
		return "check the client certificate (EKU clientAuth, "
		    "registration) and the server's policy";
	default:
		return NULL;
	}
}

bool
kmip_state_live(uint32_t state)
{
	return state >= KMIP_STATE_PRE_ACTIVE &&
	    state <= KMIP_STATE_COMPROMISED;
}

int
kmip_uid_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return memcmp(a, b, la);
}

int
kmip_winner(const struct kmip_attrs *a, size_t n)
{
	size_t	i;
	int	w = -1;

	for (i = 0; i < n; i++) {
		if (!a[i].has_state || !kmip_state_live(a[i].state) ||
		    !a[i].has_initial_date)
			continue;
		if (w == -1 || a[i].initial_date < a[w].initial_date ||
		    (a[i].initial_date == a[w].initial_date &&
		    kmip_uid_cmp(a[i].uid, a[w].uid) < 0))
			w = (int)i;
	}
	return w;
}
