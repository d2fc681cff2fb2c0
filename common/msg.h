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

	/* --- worker <-> crypto --- */
	/* worker -> crypto: str identity (hex) */
	MSG_STATUS_REQ = 32,
	/* crypto -> worker: u8 reachable, u64 keystore latency (ns),
	 *                   u64 crypto uptime (ns) */
	MSG_STATUS_REP,

	/* --- crypto <-> agent --- */
	/* crypto -> agent: empty */
	MSG_KS_STATUS_REQ = 64,
	/* agent -> crypto: u8 reachable, u64 latency (ns), str error */
	MSG_KS_STATUS_REP,

	/* any peer -> requester: u16 http status, str message */
	MSG_ERROR = 120,

	MSG_TYPE_MAX
};

const char	*msg_name(unsigned int type);

#endif
