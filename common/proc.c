/* Child start-up handshake with the parent. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/proc.h"

const char *
proc_build_id(void)
{
	return KEYWARD_VERSION " " __DATE__ " " __TIME__;
}

void
proc_child_start(enum proc_role role, const char *instance,
    struct ipc_chan *parent, struct ipc_msg *config)
{
	struct buf	hello;
	char		name[32];

	snprintf(name, sizeof(name), "%s%s%s", role_name(role),
	    instance ? " " : "", instance ? instance : "");
	log_init(name, LOG_LVL_INFO);

	/* The parent drives children over the control channel; signals
	 * from a terminal or a process group are not theirs to act on. */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);

	ipc_init(parent, FD_PARENT, IPC_MAX_CONTROL, true);
	buf_init(&hello, 256);
	if (buf_put_u32(&hello, IPC_PROTO_VERSION) == -1 ||
	    buf_put_str(&hello, proc_build_id()) == -1 ||
	    ipc_put_buf(parent, MSG_HELLO, 0, &hello) == -1 ||
	    ipc_flush_wait(parent, PROC_HANDSHAKE_MS) == -1)
		fatalx("cannot greet the parent: %s", parent->error ?
		    parent->error : "write failed");
	buf_release(&hello);
	if (ipc_get_wait(parent, config, PROC_HANDSHAKE_MS) != 1)
		fatalx("no configuration from the parent: %s",
		    parent->error ? parent->error : "closed");
	if (config->hdr.type != MSG_CONFIG)
		fatalx("expected CONFIG from the parent, got %s",
		    msg_name(config->hdr.type));
}

void
proc_child_ready(struct ipc_chan *parent)
{
	if (ipc_put(parent, MSG_READY, 0, NULL, 0) == -1 ||
	    ipc_flush_wait(parent, PROC_HANDSHAKE_MS) == -1)
		fatalx("cannot report ready: %s", parent->error);
}

const char *
proc_check_hello(struct buf *b)
{
	uint32_t	 v;
	const char	*build;

	if (buf_get_u32(b, &v) == -1 || buf_get_str(b, &build, NULL) == -1 ||
	    buf_end(b) == -1)
		return "malformed HELLO";
	if (v != IPC_PROTO_VERSION)
		return "protocol version differs";
	if (strcmp(build, proc_build_id()) != 0)
		return "child is from another build";
	return NULL;
}

int
proc_opts_put(struct buf *b, const struct proc_opts *o)
{
	if (buf_put_str(b, o->user) == -1 ||
	    buf_put_str(b, o->chroot) == -1 ||
	    buf_put_u8(b, o->mlock) == -1 ||
	    buf_put_u8(b, o->sandbox_debug) == -1 ||
	    buf_put_u8(b, o->foreground) == -1)
		return -1;
	return 0;
}

int
proc_opts_get(struct buf *b, struct proc_opts *o)
{
	memset(o, 0, sizeof(*o));
	if (buf_get_strdup(b, &o->user) == -1 ||
	    buf_get_strdup(b, &o->chroot) == -1 ||
	    buf_get_bool(b, &o->mlock) == -1 ||
	    buf_get_bool(b, &o->sandbox_debug) == -1 ||
	    buf_get_bool(b, &o->foreground) == -1) {
		proc_opts_free(o);
		return -1;
	}
	return 0;
}

void
proc_opts_free(struct proc_opts *o)
{
	free(o->user);
	free(o->chroot);
	memset(o, 0, sizeof(*o));
}

void
proc_parent_lost(struct peer *p, const char *why)
{
	if (why != NULL)
		fatalx("protocol error from the parent: %s", why);
	log_debug("parent closed the control channel; exiting");
	exit(0);
}

int
proc_peer_put(struct buf *b, enum proc_role role, uint32_t index)
{
	if (buf_put_u8(b, role) == -1 || buf_put_u32(b, index) == -1)
		return -1;
	return 0;
}

int
proc_peer_get(struct buf *b, enum proc_role *role, uint32_t *index)
{
	uint8_t r;

	if (buf_get_u8(b, &r) == -1 || buf_get_u32(b, index) == -1 ||
	    buf_end(b) == -1 || r <= ROLE_PARENT || r >= ROLE_MAX)
		return -1;
	*role = r;
	return 0;
}

void
proc_reload_done(struct peer *parent, uint32_t id, const char *why)
{
	struct buf b;

	buf_init(&b, 512);
	buf_put_u8(&b, why == NULL);
	buf_put_str(&b, why ? why : "");
	(void)peer_send(parent, MSG_RELOAD_DONE, id, &b);
	buf_release(&b);
	if (why == NULL)
		log_info("configuration reloaded");
}

int
proc_accept_crypto(struct ipc_msg *m, struct peer *dst, size_t ndst,
    const struct peer_dispatch *d, peer_lost_fn lost)
{
	enum proc_role	role;
	uint32_t	index;

	if (proc_peer_get(&m->payload, &role, &index) == -1 ||
	    role != ROLE_CRYPTO || index >= ndst)
		return -1;
	dst += index;
	if (dst->open)
		lost(dst, "replaced by a new crypto process");
	peer_open(dst, m->fd, IPC_MAX_PEER, false, ROLE_CRYPTO, index, d,
	    lost, NULL);
	m->fd = -1;
	log_debug("crypto %u channel connected", index);
	return (int)index;
}

static struct peer *log_parent;

static void
log_to_parent(const char *line)
{
	char		ev[6 * 1024 + 32];
	struct buf	b;

	if (log_parent == NULL || !log_parent->open)
		return;
	(void)log_event_json(line, ev, sizeof(ev));
	buf_init(&b, sizeof(ev) + 16);
	buf_put_u8(&b, LOG_STREAM_ERROR);
	buf_put_str(&b, ev);
	(void)peer_send(log_parent, MSG_LOG_EVENT, 0, &b);
	buf_release(&b);
}

void
proc_log_forward(struct peer *parent)
{
	log_parent = parent;
	log_set_hook(log_to_parent);
}
