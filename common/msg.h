/*
 * The one catalogue of IPC message types, process roles and fixed
 * descriptor numbers. Every frame carries IPC_PROTO_VERSION in its header; a
 * child built from another version is refused at the HELLO handshake.
 *
 * Channels (all socketpair(AF_UNIX, SOCK_STREAM)):
 *   parent <-> every child   fd FD_PARENT in the child; passes descriptors
 *   worker <-> crypto        one per worker; passed by the parent (MSG_PEER)
 *   crypto <-> agent         one; passed by the parent (MSG_PEER)
 *
 * Payload layouts use the encodings of common/buf.h and are written above
 * each type. Every reply carries the id of the request it answers; replies
 * may come out of order.
 */
#ifndef KEYWARD_MSG_H
#define KEYWARD_MSG_H

#define IPC_PROTO_VERSION	1

/* Fixed descriptors in each child, set up by the parent before exec. */
#define FD_PARENT		3	/* every child: control channel */
#define FD_LISTEN		4	/* worker: the shared listening socket */
#define FD_METRICS		5	/* worker: the shared metrics region */

/* Hard frame limits (payload bytes), checked before allocation. */
#define IPC_MAX_CONTROL		(16u << 20)	/* config slices */
#define IPC_MAX_PEER		(4u << 20)	/* worker<->crypto<->agent */

enum proc_role {
	ROLE_PARENT = 0,
	ROLE_WORKER,
	ROLE_CRYPTO,
	ROLE_AGENT,
	ROLE_MAX
};

const char	*role_name(enum proc_role);

enum msg_type {
	MSG_NONE = 0,

	/* --- parent <-> child --- */
	/* child -> parent, first frame: u32 proto version, str build id */
	MSG_HELLO = 1,
	/* parent -> child: the role's configuration slice (see config_msg.h) */
	MSG_CONFIG,
	/* child -> parent: configured, sandboxed and serving; empty */
	MSG_READY,
	/* parent -> child, with one descriptor: u8 peer role, u32 index */
	MSG_PEER,
	/* parent -> child: new configuration slice (SIGHUP) */
	MSG_RELOAD,
	/* child -> parent: u8 ok, str reason (empty when ok) */
	MSG_RELOAD_DONE,
	/* parent -> child: stop accepting, finish in-flight work, exit 0 */
	MSG_SHUTDOWN,
	/* crypto -> parent: u8 state (enum crypto_report), str detail: how
	 * start-up goes and whether the key store answers */
	MSG_CRYPTO_STATE,

	/* --- worker <-> crypto --- */
	/* worker -> crypto: str identity (hex) */
	MSG_STATUS_REQ = 32,
	/* crypto -> worker: u8 reachable, u64 keystore latency (ns),
	 *                   u64 crypto uptime (ns) */
	MSG_STATUS_REP,

	/*
	 * Key operations. Every request starts with str identity (hex); the
	 * crypto process re-checks the policy against the path it rebuilds
	 * from the operation and the name (never a path the worker sends).
	 * Names are re-validated there and again in the agent.
	 */
	/* worker -> crypto: str identity.  Reply MSG_DONE or MSG_ERROR. */
	MSG_READY_REQ = 34,
	/* worker -> crypto: str identity, str name.  Reply MSG_DONE. */
	MSG_KEY_CREATE,
	/* worker -> crypto: str identity, str name, u8 key type
	 * (enum kes_key_type), bytes key (32).  Reply MSG_DONE. */
	MSG_KEY_IMPORT,
	/* worker -> crypto: str identity, str name.  Reply MSG_KEY_INFO. */
	MSG_KEY_DESCRIBE,
	/* worker -> crypto: str identity, str name.  Reply MSG_DONE. */
	MSG_KEY_DELETE,
	/* worker -> crypto: str identity, str pattern (the listing resource
	 * as given, spec 3.3).  Reply MSG_KEY_NAMES. */
	MSG_KEY_LIST,
	/* worker -> crypto: str identity, str name, bytes context.
	 * Reply MSG_KEY_DEK. */
	MSG_KEY_GENERATE,
	/* worker -> crypto: str identity, str name, bytes plaintext,
	 * bytes context.  Reply MSG_KEY_SEALED. */
	MSG_KEY_ENCRYPT,
	/* worker -> crypto: str identity, str name, bytes ciphertext,
	 * bytes context.  Reply MSG_KEY_OPENED. */
	MSG_KEY_DECRYPT,
	/* worker -> crypto: str identity, str name, bytes message.
	 * Reply MSG_KEY_MAC. */
	MSG_KEY_HMAC,
	/* worker -> crypto: str identity, str name, u32 n, n x (bytes
	 * ciphertext, bytes context): KES 2023's bulk decrypt.  Reply
	 * MSG_KEY_OPENED_BULK, or one error for all. */
	MSG_KEY_BULK_DECRYPT,
	/*
	 * worker -> crypto: one TLS handshake signature (the worker holds
	 * no TLS private key). u8 purpose (enum tls_sign_purpose), bytes
	 * key id (SHA-256 of the certificate's SubjectPublicKeyInfo, 32),
	 * str digest ("SHA256", "SHA384", "SHA512"; "" for Ed25519), u8
	 * padding (enum tls_sign_pad), bytes tbs: what OpenSSL would hash
	 * and sign, whole (the TLS 1.3 CertificateVerify input, or the TLS
	 * 1.2 randoms and ECDHE parameters).  Reply MSG_TLS_SIGNATURE, or
	 * MSG_ERROR for a key id not held. A tbs of another shape is a
	 * protocol error: the channel is dropped.
	 */
	MSG_TLS_SIGN,

	/* crypto -> worker: empty (create, import, delete, ready) */
	MSG_DONE = 48,
	/* crypto -> worker: str name, u8 key type, u64 created_at seconds
	 * (two's complement of an int64), u32 nanoseconds, str created_by */
	MSG_KEY_INFO,
	/* crypto -> worker: u32 n, n x str name, str continue_at */
	MSG_KEY_NAMES,
	/* crypto -> worker: bytes plaintext (32), bytes ciphertext */
	MSG_KEY_DEK,
	/* crypto -> worker: bytes ciphertext */
	MSG_KEY_SEALED,
	/* crypto -> worker: bytes plaintext */
	MSG_KEY_OPENED,
	/* crypto -> worker: bytes sum (32) */
	MSG_KEY_MAC,
	/* crypto -> worker: u32 n, n x bytes plaintext */
	MSG_KEY_OPENED_BULK,
	/* crypto -> worker: bytes signature */
	MSG_TLS_SIGNATURE,

	/* --- crypto <-> agent --- */
	/* crypto -> agent: empty */
	MSG_KS_STATUS_REQ = 64,
	/* agent -> crypto: u8 reachable, u64 latency (ns), str error */
	MSG_KS_STATUS_REP,
	/* crypto -> agent: str name, bytes value (the stored-key encoding,
	 * spec 6.1).  Reply MSG_KS_DONE or MSG_KS_FAIL; never overwrites. */
	MSG_KS_CREATE,
	/* crypto -> agent: str name.  Reply MSG_KS_VALUE or MSG_KS_FAIL. */
	MSG_KS_GET,
	/* crypto -> agent: str name.  Reply MSG_KS_DONE or MSG_KS_FAIL. */
	MSG_KS_DELETE,
	/* crypto -> agent: str prefix.  Reply MSG_KS_NAMES or MSG_KS_FAIL:
	 * names in byte order that start with prefix, at most KS_LIST_MAX
	 * and KS_LIST_BYTES of them */
	MSG_KS_LIST,
	/* agent -> crypto: empty */
	MSG_KS_DONE = 80,
	/* agent -> crypto: bytes value */
	MSG_KS_VALUE,
	/* agent -> crypto: u32 n, n x str name, str continue_at (the first
	 * name not returned; empty when none) */
	MSG_KS_NAMES,
	/* agent -> crypto: u8 reason (enum ks_fail), str detail for the log
	 * (never key material) */
	MSG_KS_FAIL,

	/*
	 * Log streams (spec 3.6). Workers send audit events, every child
	 * sends its error lines; the parent forwards each event to the
	 * workers that have subscribers for that stream.
	 */
	/* child -> parent, parent -> worker: u8 stream (enum log_stream),
	 * str event (one JSON object, no newline) */
	MSG_LOG_EVENT = 96,
	/* worker -> parent: u8 stream, u8 on (subscribers present or not) */
	MSG_LOG_SUBSCRIBE,

	/* any peer -> requester: u16 http status, str message */
	MSG_ERROR = 120,

	MSG_TYPE_MAX
};

/* MSG_CRYPTO_STATE: what the crypto process tells the parent. */
enum crypto_report {
	CRYPTO_STORE_DOWN = 1,	/* the key store does not answer (detail) */
	CRYPTO_STORE_UP,	/* it answers again */
	CRYPTO_STARTED,		/* the store answered and every key of
				 * `keys:` exists: requests may come */
	CRYPTO_START_FAILED,	/* a key of `keys:` cannot be created
				 * (detail: the store's message) */
};

/* MSG_TLS_SIGN: which handshake message the signature is for. */
enum tls_sign_purpose {
	TLS_SIGN_TLS13_CV = 1,	/* TLS 1.3 server CertificateVerify:
				 * 64 x 0x20, "TLS 1.3, server
				 * CertificateVerify", 0x00, transcript
				 * hash (32 or 48 bytes) */
	TLS_SIGN_TLS12_SKE,	/* TLS 1.2 ServerKeyExchange: client
				 * random (32), server random (32),
				 * ECParameters named_curve (3), u16
				 * group, u8 length, public point */
};

/* MSG_TLS_SIGN: RSA padding; none for ECDSA and Ed25519. */
enum tls_sign_pad {
	TLS_SIGN_PAD_NONE = 0,
	TLS_SIGN_PAD_PKCS1,	/* TLS 1.2 only */
	TLS_SIGN_PAD_PSS,	/* salt as long as the digest, MGF1 with
				 * the same digest */
};

/* Why the agent could not do what was asked (MSG_KS_FAIL). */
enum ks_fail {
	KS_FAIL_EXISTS = 1,	/* create: the name is taken */
	KS_FAIL_NOT_FOUND,	/* get, delete: no such key */
	KS_FAIL_INVALID,	/* a name the store will not use */
	KS_FAIL_UNAVAILABLE,	/* the store failed or cannot be reached */
};

/*
 * A listing is one page holding every name, up to what one frame carries:
 * KES stopped at 1024 names and its clients send continue_at back as the
 * new prefix, which loses the rest (spec 3.3), so only a single page is
 * a whole answer for every client. KS_LIST_BYTES of names (about 49,000
 * names of 80 bytes, 260,000 of 10) leave room in the frame and in the
 * worker's answer; past it continue_at names the first name left out.
 */
#define KS_LIST_MAX		1000000	/* names per MSG_KS_NAMES */
#define KS_LIST_BYTES		(IPC_MAX_PEER - (64u << 10))

enum log_stream {
	LOG_STREAM_AUDIT = 0,
	LOG_STREAM_ERROR = 1,
};

const char	*msg_name(unsigned int type);

#endif
