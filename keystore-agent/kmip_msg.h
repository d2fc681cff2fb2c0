/*
 * KMIP messages the KMIP key store exchanges (spec 3.3-3.6): request
 * builders, response parsers into small structs, and the result -> outcome
 * mapping of spec 3.5. Pure functions over buffers: no sockets, no logging.
 *
 * Builders append one whole Request Message to a struct buf (its max bounds
 * the message) and return 0, or -1 with nothing appended. A request that
 * carries a value or a password holds secret bytes: release the buffer
 * with buf_release(), which wipes.
 *
 * Parsers read a Response Message that ttlv_decode() checks first; the
 * parsed structs point into nothing (strings are copied, bounded), except
 * kmip_item.payload, a view into the response bytes.
 */
#ifndef KEYWARD_KMIP_MSG_H
#define KEYWARD_KMIP_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"
#include "keystore-agent/kmip_ttlv.h"

/* Tags (PyKMIP enums.py Tags; spec 3.6). */
#define KMIP_TAG_ATTRIBUTE		0x420008
#define KMIP_TAG_ATTRIBUTE_INDEX	0x420009
#define KMIP_TAG_ATTRIBUTE_NAME		0x42000a
#define KMIP_TAG_ATTRIBUTE_VALUE	0x42000b
#define KMIP_TAG_AUTHENTICATION		0x42000c
#define KMIP_TAG_BATCH_COUNT		0x42000d
#define KMIP_TAG_BATCH_ERROR_CONT	0x42000e
#define KMIP_TAG_BATCH_ITEM		0x42000f
#define KMIP_TAG_CREDENTIAL		0x420023
#define KMIP_TAG_CREDENTIAL_TYPE	0x420024
#define KMIP_TAG_CREDENTIAL_VALUE	0x420025
#define KMIP_TAG_USAGE_MASK		0x42002c
#define KMIP_TAG_INITIAL_DATE		0x420039
#define KMIP_TAG_KEY_BLOCK		0x420040
#define KMIP_TAG_KEY_FORMAT_TYPE	0x420042
#define KMIP_TAG_KEY_MATERIAL		0x420043
#define KMIP_TAG_KEY_VALUE		0x420045
#define KMIP_TAG_KEY_WRAPPING_DATA	0x420046
#define KMIP_TAG_MAXIMUM_ITEMS		0x42004f
#define KMIP_TAG_MAX_RESPONSE_SIZE	0x420050
#define KMIP_TAG_NAME			0x420053
#define KMIP_TAG_NAME_TYPE		0x420054
#define KMIP_TAG_NAME_VALUE		0x420055
#define KMIP_TAG_OBJECT_GROUP		0x420056
#define KMIP_TAG_OBJECT_TYPE		0x420057
#define KMIP_TAG_OPERATION		0x42005c
#define KMIP_TAG_PROTOCOL_VERSION	0x420069
#define KMIP_TAG_PROTOCOL_MAJOR		0x42006a
#define KMIP_TAG_PROTOCOL_MINOR		0x42006b
#define KMIP_TAG_QUERY_FUNCTION		0x420074
#define KMIP_TAG_REQUEST_HEADER		0x420077
#define KMIP_TAG_REQUEST_MESSAGE	0x420078
#define KMIP_TAG_REQUEST_PAYLOAD	0x420079
#define KMIP_TAG_RESPONSE_HEADER	0x42007a
#define KMIP_TAG_RESPONSE_MESSAGE	0x42007b
#define KMIP_TAG_RESPONSE_PAYLOAD	0x42007c
#define KMIP_TAG_RESULT_MESSAGE		0x42007d
#define KMIP_TAG_RESULT_REASON		0x42007e
#define KMIP_TAG_RESULT_STATUS		0x42007f
#define KMIP_TAG_REVOCATION_REASON	0x420081
#define KMIP_TAG_REVOCATION_CODE	0x420082
#define KMIP_TAG_SECRET_DATA		0x420085
#define KMIP_TAG_SECRET_DATA_TYPE	0x420086
#define KMIP_TAG_STATE			0x42008d
#define KMIP_TAG_TEMPLATE_ATTRIBUTE	0x420091
#define KMIP_TAG_TIME_STAMP		0x420092
#define KMIP_TAG_BATCH_ITEM_ID		0x420093
#define KMIP_TAG_UNIQUE_IDENTIFIER	0x420094
#define KMIP_TAG_USERNAME		0x420099
#define KMIP_TAG_VENDOR_ID		0x42009d
#define KMIP_TAG_PASSWORD		0x4200a1
#define KMIP_TAG_OFFSET_ITEMS		0x4200d4
#define KMIP_TAG_LOCATED_ITEMS		0x4200d5
#define KMIP_TAG_ATTRIBUTES		0x420125	/* 2.0 */
#define KMIP_TAG_ATTRIBUTE_REFERENCE	0x42013b	/* 2.0 */

/* Operations. */
#define KMIP_OP_CREATE			0x01
#define KMIP_OP_REGISTER		0x03
#define KMIP_OP_LOCATE			0x08
#define KMIP_OP_GET			0x0a
#define KMIP_OP_GET_ATTRIBUTES		0x0b
#define KMIP_OP_ACTIVATE		0x12
#define KMIP_OP_REVOKE			0x13
#define KMIP_OP_DESTROY			0x14
#define KMIP_OP_QUERY			0x18
#define KMIP_OP_DISCOVER_VERSIONS	0x1e

/* Enumerations. */
#define KMIP_OBJECT_SYMMETRIC_KEY	0x02
#define KMIP_OBJECT_SECRET_DATA		0x07
#define KMIP_OBJECT_OPAQUE		0x08
#define KMIP_SECRET_SEED		0x02
#define KMIP_KEY_FORMAT_RAW		0x01
#define KMIP_KEY_FORMAT_OPAQUE		0x02
#define KMIP_NAME_TEXT			0x01	/* Uninterpreted Text String */
#define KMIP_CREDENTIAL_PASSWORD	0x01	/* Username and Password */
#define KMIP_BATCH_CONTINUE		0x01
#define KMIP_BATCH_STOP			0x02
#define KMIP_QUERY_OPERATIONS		0x01
#define KMIP_REVOKE_CESSATION		0x06	/* Cessation of Operation */

#define KMIP_STATUS_SUCCESS		0
#define KMIP_STATUS_FAILED		1
#define KMIP_STATUS_PENDING		2
#define KMIP_STATUS_UNDONE		3

/* States: 1-4 are "live" (spec 3.4); 5 and 6 destroyed. */
#define KMIP_STATE_PRE_ACTIVE		1
#define KMIP_STATE_ACTIVE		2
#define KMIP_STATE_DEACTIVATED		3
#define KMIP_STATE_COMPROMISED		4
#define KMIP_STATE_DESTROYED		5
#define KMIP_STATE_DESTROYED_COMPROMISED 6

/* Result Reasons (spec 3.5). */
#define KMIP_REASON_ITEM_NOT_FOUND	0x01
#define KMIP_REASON_RESPONSE_TOO_LARGE	0x02
#define KMIP_REASON_AUTH_FAILED		0x03
#define KMIP_REASON_INVALID_MESSAGE	0x04
#define KMIP_REASON_OP_NOT_SUPPORTED	0x05
#define KMIP_REASON_FEATURE_NOT_SUPPORTED 0x08
#define KMIP_REASON_ILLEGAL_OPERATION	0x0b
#define KMIP_REASON_PERMISSION_DENIED	0x0c
#define KMIP_REASON_KEY_FORMAT_NOT_SUPPORTED 0x10
#define KMIP_REASON_KEY_VALUE_NOT_PRESENT 0x13
#define KMIP_REASON_SENSITIVE		0x16
#define KMIP_REASON_NOT_EXTRACTABLE	0x17
#define KMIP_REASON_OBJECT_EXISTS	0x18
#define KMIP_REASON_INTERNAL_ERROR	0x2a
#define KMIP_REASON_NON_UNIQUE_NAME	0x35
#define KMIP_REASON_OBJECT_DESTROYED	0x36
#define KMIP_REASON_OBJECT_NOT_FOUND	0x37
#define KMIP_REASON_NOT_AUTHORISED	0x39
#define KMIP_REASON_SERVER_LIMIT	0x3a
#define KMIP_REASON_UNSUPPORTED_VERSION	0x3f
#define KMIP_REASON_WRONG_STATE		0x43
#define KMIP_REASON_GENERAL_FAILURE	0x100

#define KMIP_UID_MAX		256	/* bytes of a Unique Identifier */
#define KMIP_NAME_MAX		255	/* prefix + key name (spec 3.1) */
#define KMIP_MSGTEXT_MAX	255	/* Result Message kept for the log */
#define KMIP_BATCH_MAX		64	/* items in one message */
#define KMIP_LOCATE_MAX		4096	/* UIDs in one Locate answer */
#define KMIP_VERSIONS_MAX	16

struct kmip_version {
	int32_t	major;
	int32_t	minor;
};

/* 1.x or 2.0 encodings (spec 3.6: 2.0 changes the attribute encoding). */
#define KMIP_V2(v)	((v)->major >= 2)

/* What every request header carries (spec 3.4 "Headers"): no Time Stamp. */
struct kmip_hdr {
	struct kmip_version	 version;
	uint32_t		 max_response;	/* 0: not sent */
	const char		*username;	/* NULL: no Authentication */
	const char		*password;
};

/* --- requests ----------------------------------------------------------- */

/*
 * Discover Versions with the versions offered, highest first (n == 0:
 * "tell me all"). Spec 3.3 sends it in a header saying 1.2 (vector V1).
 */
int	kmip_req_discover_versions(struct buf *, const struct kmip_hdr *,
	    const struct kmip_version *offer, size_t n);

/*
 * Register a SecretData (Seed, Opaque) holding value, with the attributes
 * of spec 3.4: Cryptographic Usage Mask, Name {name, Uninterpreted Text
 * String}, and Object Group when group is not NULL (vectors V2, V3).
 */
struct kmip_register {
	const char	*name;
	const char	*group;		/* NULL: none */
	uint32_t	 usage_mask;
	const uint8_t	*value;
	size_t		 len;
};
int	kmip_req_register(struct buf *, const struct kmip_hdr *,
	    const struct kmip_register *);

/*
 * Locate SecretData by Name (and group), or every SecretData (of group)
 * when name is NULL, as list does. max_items, offset_items 0: not sent
 * (Offset Items needs 1.3: -1 below that). Vectors V4, V5.
 */
struct kmip_locate {
	const char	*name;		/* NULL: no Name filter */
	const char	*group;		/* NULL: no Object Group filter */
	int32_t		 max_items;
	int32_t		 offset_items;
};
int	kmip_req_locate(struct buf *, const struct kmip_hdr *,
	    const struct kmip_locate *);

/* Get (no Key Format Type: spec 3.4), Activate, Destroy of one UID. */
int	kmip_req_get(struct buf *, const struct kmip_hdr *, const char *uid);
int	kmip_req_activate(struct buf *, const struct kmip_hdr *,
	    const char *uid);
int	kmip_req_destroy(struct buf *, const struct kmip_hdr *,
	    const char *uid);
/* Revoke with a Revocation Reason Code (spec 3.4: Cessation, 6). V8. */
int	kmip_req_revoke(struct buf *, const struct kmip_hdr *,
	    const char *uid, uint32_t reason_code);

/*
 * Get Attributes for n UIDs in one message (n <= KMIP_BATCH_MAX): one batch
 * item each, Unique Batch Item ID = one byte i + 1, header Batch Error
 * Continuation Option Continue when n > 1 so a missing UID fails alone
 * (spec 3.4 "Batching"). attrs: KMIP_ATTR_* bits.
 */
#define KMIP_ATTR_STATE		0x01
#define KMIP_ATTR_INITIAL_DATE	0x02
#define KMIP_ATTR_NAME		0x04
int	kmip_req_get_attributes(struct buf *, const struct kmip_hdr *,
	    const char *const *uids, size_t n, unsigned int attrs);

/* Query with Query Operations (the status fallback, spec 3.4). */
int	kmip_req_query(struct buf *, const struct kmip_hdr *);

/* --- responses ---------------------------------------------------------- */

struct kmip_item {
	uint32_t	op;		/* 0: absent (a message-level error) */
	int		batch_id;	/* our 1-byte ID - 1; -1: none/other */
	uint32_t	status;		/* KMIP_STATUS_* */
	uint32_t	reason;		/* 0: none */
	/* Result Message for the log: bytes outside printable ASCII are
	 * '?', cut at KMIP_MSGTEXT_MAX. */
	char		msg[KMIP_MSGTEXT_MAX + 1];
	bool		has_payload;
	struct ttlv	payload;	/* view into the response */
};

struct kmip_resp {
	struct kmip_version	 version;
	int64_t			 time_stamp;
	size_t			 n;
	struct kmip_item	*items;		/* n of them */
};

/*
 * A Response Message: header (Protocol Version, Time Stamp, Batch Count
 * equal to the items that follow), Batch Items (Result Status 0-3). The
 * bytes must stay alive and unchanged while payloads are read. Unknown
 * tags are skipped; known ones must have their type and occur once.
 * 0, or -1 with a reason in err. kmip_resp_free() after either.
 */
int	kmip_parse_response(const uint8_t *, size_t, const struct ttlv_limits *,
	    struct kmip_resp *, char *err, size_t errlen);
void	kmip_resp_free(struct kmip_resp *);

/*
 * Payload parsers: each wants a successful item of its operation with a
 * payload (Locate may come without one: no UIDs) and returns 0 or -1.
 */
int	kmip_parse_discover_versions(const struct kmip_item *,
	    struct kmip_version *out, size_t max, size_t *n);

/* Register (Create), Activate, Revoke, Destroy: the Unique Identifier. */
int	kmip_parse_uid(const struct kmip_item *, char uid[KMIP_UID_MAX + 1]);

struct kmip_uids {
	char	**uid;
	size_t	  n;
	bool	  has_located;
	int32_t	  located;	/* Located Items, when the server sent it */
};
int	kmip_parse_locate(const struct kmip_item *, struct kmip_uids *);
void	kmip_uids_free(struct kmip_uids *);

/*
 * Get: the object's type and UID; for SecretData its type, key format and
 * the Key Material appended to material (its max bounds the value; -1 if
 * it does not fit). has_material false: no Key Material (spec 3.4: then
 * ask for the State). Wrapped material is refused (-1).
 */
struct kmip_object {
	uint32_t	object_type;
	char		uid[KMIP_UID_MAX + 1];
	uint32_t	secret_type;		/* 0: none */
	uint32_t	key_format;		/* 0: none */
	bool		has_material;
};
int	kmip_parse_get(const struct kmip_item *, struct kmip_object *,
	    struct buf *material);

/*
 * Get Attributes, in either encoding: 1.x's Attribute {Name, [Index],
 * Value} list or 2.0's Attributes structure. Other attributes are skipped.
 * The first usable Name is kept; a Name too long or with a NUL is counted
 * in names_skipped instead, and so is every Name after the first.
 */
struct kmip_attrs {
	char		uid[KMIP_UID_MAX + 1];
	bool		has_state;
	uint32_t	state;
	bool		has_initial_date;
	int64_t		initial_date;
	bool		has_name;
	uint32_t	name_type;
	char		name[KMIP_NAME_MAX + 1];
	unsigned int	names_skipped;
};
int	kmip_parse_get_attributes(const struct kmip_item *,
	    struct kmip_attrs *);

/* Query: the operations the server names (the first 64), and its Vendor
 * Identification (printable ASCII, cut to fit) when it sends one. */
struct kmip_query {
	uint32_t	ops[64];
	size_t		nops;
	char		vendor[KMIP_MSGTEXT_MAX + 1];
};
int	kmip_parse_query(const struct kmip_item *, struct kmip_query *);

/* --- decisions ---------------------------------------------------------- */

/*
 * The version to use (spec 3.3): the first the server returned that is
 * also offered. -1 when there is none.
 */
int	kmip_version_pick(const struct kmip_version *server, size_t ns,
	    const struct kmip_version *offer, size_t no,
	    struct kmip_version *out);

/* Spec 3.5: what a result means for the operation it answered. */
enum kmip_outcome {
	KMIP_OUTCOME_OK,
	KMIP_OUTCOME_EXISTS,		/* Register: the name is taken */
	/* Get: NOT_FOUND; GetAttributes/Activate/Revoke/Destroy: the
	 * object is gone, ignore it (delete, list, create). */
	KMIP_OUTCOME_NOT_FOUND,
	KMIP_OUTCOME_REVOKE,		/* Destroy refused: Revoke, Destroy */
	/* Version or encoding refused: renegotiate once (spec 3.3), then
	 * OTHER. Also Discover Versions unsupported (status: Query). */
	KMIP_OUTCOME_RENEGOTIATE,
	KMIP_OUTCOME_SMALLER,		/* Response Too Large: smaller, once */
	KMIP_OUTCOME_RETRY,		/* server failure, idempotent: once */
	KMIP_OUTCOME_OTHER,
};
enum kmip_outcome kmip_outcome(uint32_t op, uint32_t status, uint32_t reason);
/* The same for a parsed item (its op, or the op asked when absent). */
enum kmip_outcome kmip_item_outcome(uint32_t op, const struct kmip_item *);
/* Names for the log: "Item Not Found", "Permission Denied", ... */
const char	*kmip_reason_name(uint32_t reason);
/* A hint for the log where spec 3.5 gives one, else NULL. */
const char	*kmip_reason_hint(uint32_t reason);

/* Live: State 1-4. */
bool	kmip_state_live(uint32_t state);
/* UIDs ordered by (length, bytes): numeric UIDs sort numerically. */
int	kmip_uid_cmp(const char *, const char *);
/*
 * Spec 3.4's winner among objects with one Name: the live one with the
 * smallest Initial Date, ties to the smallest UID. Objects without State
 * or Initial Date do not compete. -1 when none is live.
 */
int	kmip_winner(const struct kmip_attrs *, size_t n);

#endif
