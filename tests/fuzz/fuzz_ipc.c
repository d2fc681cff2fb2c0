/*
 * libFuzzer harness for IPC frames: the input is the byte stream a hostile
 * peer writes. It goes through a real socketpair in small chunks into
 * ipc_read/ipc_get, as in a process's event loop, until ipc_get reports a
 * protocol error or the stream ends. Every payload is then decoded with the
 * buf getters, by the layout msg.h gives its type and by a layout the
 * payload itself chooses, and a complete decode must re-encode to exactly
 * the same bytes (every encoding is canonical).
 */
#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ipc.h"
#include "common/msg.h"

#define FUZZ_MAXFRAME	4096
#define FUZZ_CHUNK	251	/* odd size: frames straddle the writes */

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(e) do {							\
	if (!(e)) {							\
		fprintf(stderr, "fuzz_ipc: check failed: %s (line %d)\n",\
		    #e, __LINE__);					\
		abort();						\
	}								\
} while (0)

/*
 * Layout letters: 1 u8, 2 u16, 4 u32, 8 u64, b bool, s str, y bytes,
 * d str copied with buf_get_strdup.
 */
static const char	 generic[] = "1248bsyd";

static const char *
layout(uint16_t type)
{
	switch (type) {
	case MSG_HELLO:		return "4s";
	case MSG_READY:		return "";
	case MSG_PEER:		return "14";
	case MSG_RELOAD_DONE:	return "1s";
	case MSG_SHUTDOWN:	return "";
	case MSG_STATUS_REQ:	return "s";
	case MSG_STATUS_REP:	return "188";
	case MSG_KS_STATUS_REQ:	return "";
	case MSG_KS_STATUS_REP:	return "18s";
	case MSG_READY_REQ:	return "s";
	case MSG_KEY_CREATE:	return "ss";
	case MSG_KEY_IMPORT:	return "ss1y";
	case MSG_KEY_DESCRIBE:	return "ss";
	case MSG_KEY_DELETE:	return "ss";
	case MSG_KEY_LIST:	return "ss";
	case MSG_KEY_GENERATE:	return "ssy";
	case MSG_KEY_ENCRYPT:	return "ssyy";
	case MSG_KEY_DECRYPT:	return "ssyy";
	case MSG_KEY_HMAC:	return "ssy";
	case MSG_DONE:		return "";
	case MSG_KEY_INFO:	return "s184s";
	case MSG_KEY_DEK:	return "yy";
	case MSG_KEY_SEALED:	return "y";
	case MSG_KEY_OPENED:	return "y";
	case MSG_KEY_MAC:	return "y";
	case MSG_KS_CREATE:	return "sy";
	case MSG_KS_GET:	return "s";
	case MSG_KS_DELETE:	return "s";
	case MSG_KS_LIST:	return "s";
	case MSG_KS_DONE:	return "";
	case MSG_KS_VALUE:	return "y";
	case MSG_KS_FAIL:	return "1s";
	case MSG_LOG_EVENT:	return "1s";
	case MSG_LOG_SUBSCRIBE:	return "1b";
	case MSG_ERROR:		return "2s";
	/* opaque: CONFIG, RELOAD; counted lists: KEY_NAMES, KS_NAMES */
	default:		return NULL;
	}
}

/* One field: read it from p, write it again to re. */
static int
field(struct buf *p, char kind, struct buf *re)
{
	const uint8_t	*base = p->data, *bp;
	const char	*s;
	char		*d;
	size_t		 off = p->off, n;
	uint64_t	 v64;
	uint32_t	 v32;
	uint16_t	 v16;
	uint8_t		 v8;
	bool		 bo;
	int		 r = -1;

	switch (kind) {
	case '1':
		if ((r = buf_get_u8(p, &v8)) == 0)
			CHECK(buf_put_u8(re, v8) == 0);
		break;
	case '2':
		if ((r = buf_get_u16(p, &v16)) == 0)
			CHECK(buf_put_u16(re, v16) == 0);
		break;
	case '4':
		if ((r = buf_get_u32(p, &v32)) == 0)
			CHECK(buf_put_u32(re, v32) == 0);
		break;
	case '8':
		if ((r = buf_get_u64(p, &v64)) == 0)
			CHECK(buf_put_u64(re, v64) == 0);
		break;
	case 'b':
		if ((r = buf_get_bool(p, &bo)) == 0)
			CHECK(buf_put_u8(re, bo ? 1 : 0) == 0);
		break;
	case 's':
		if ((r = buf_get_str(p, &s, &n)) == 0) {
			CHECK((const uint8_t *)s >= base &&
			    (const uint8_t *)s + n < base + p->len);
			CHECK(strlen(s) == n);
			CHECK(buf_put_str(re, s) == 0);
		}
		break;
	case 'y':
		if ((r = buf_get_bytes(p, &bp, &n)) == 0) {
			CHECK(bp >= base && bp + n <= base + p->len);
			CHECK(buf_put_bytes(re, bp, n) == 0);
		}
		break;
	case 'd':
		if ((r = buf_get_strdup(p, &d)) == 0) {
			CHECK(buf_put_str(re, d) == 0);
			free(d);
		}
		break;
	default:
		abort();
	}
	CHECK(r == 0 || r == -1);
	if (r == -1)
		CHECK(p->off == off);	/* a failed getter moves nothing */
	else
		CHECK(p->off > off && p->off <= p->len);
	return r;
}

static void
decode_layout(const struct ipc_msg *m, const char *l)
{
	struct buf	p, re;

	buf_view(&p, buf_ptr(&m->payload), buf_avail(&m->payload));
	buf_init(&re, m->hdr.len);
	for (; *l != '\0'; l++)
		if (field(&p, *l, &re) == -1)
			break;
	if (*l == '\0' && buf_end(&p) == 0) {
		CHECK(re.len == m->hdr.len);
		CHECK(re.len == 0 || memcmp(re.data, p.data, re.len) == 0);
	}
	buf_release(&re);
}

/* The payload picks its own layout: a selector byte before each field. */
static void
decode_selected(const struct ipc_msg *m)
{
	struct buf	p, re;
	uint8_t		sel;

	buf_view(&p, buf_ptr(&m->payload), buf_avail(&m->payload));
	buf_init(&re, m->hdr.len);
	while (buf_avail(&p) > 0) {
		CHECK(buf_end(&p) == -1);
		CHECK(buf_get_u8(&p, &sel) == 0);
		CHECK(buf_put_u8(&re, sel) == 0);
		if (field(&p, generic[sel % (sizeof(generic) - 1)], &re) == -1)
			break;
	}
	if (buf_end(&p) == 0) {
		CHECK(re.len == m->hdr.len);
		CHECK(re.len == 0 || memcmp(re.data, p.data, re.len) == 0);
	}
	buf_release(&re);
}

/* 1: keep going; 0: protocol error, the channel is dropped. */
static int
drain(struct ipc_chan *c)
{
	struct ipc_msg	 m;
	const char	*l;
	int		 r;

	while ((r = ipc_get(c, &m)) == 1) {
		CHECK(m.hdr.version == IPC_PROTO_VERSION);
		CHECK(m.hdr.len <= FUZZ_MAXFRAME);
		CHECK(m.hdr.type != MSG_NONE && m.hdr.type < MSG_TYPE_MAX);
		CHECK(buf_avail(&m.payload) == m.hdr.len);
		CHECK(m.fd == -1);		/* none was ever sent */
		if ((l = layout(m.hdr.type)) != NULL)
			decode_layout(&m, l);
		decode_selected(&m);
	}
	CHECK(r == 0 || r == -1);
	if (r == -1)
		CHECK(c->error != NULL);
	return r == 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_chan	c;
	size_t		off, n;
	ssize_t		w;
	int		sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	    sv) == -1)
		abort();
	/* fdpass on: the receive path with control messages is exercised. */
	ipc_init(&c, sv[1], FUZZ_MAXFRAME, true);
	for (off = 0; off < size; off += n) {
		n = size - off < FUZZ_CHUNK ? size - off : FUZZ_CHUNK;
		w = write(sv[0], data + off, n);
		CHECK(w == (ssize_t)n);
		if (ipc_read(&c) == -1)
			CHECK(errno == EAGAIN || c.error != NULL);
		if (!drain(&c))
			goto done;
	}
	close(sv[0]);
	sv[0] = -1;
	while (ipc_read(&c) > 0)
		if (!drain(&c))
			goto done;
	(void)drain(&c);
	CHECK(c.eof);
done:
	if (sv[0] != -1)
		close(sv[0]);
	ipc_close(&c);
	return 0;
}
