/*
 * Unit tests for common/ipc.c over real non-blocking AF_UNIX socketpairs:
 * framing, batching, limits, descriptor passing, back-pressure, timeouts.
 */
#include <criterion/criterion.h>

#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/ipc.h"
#include "common/msg.h"

#define WAIT_MS		3000
#define KB		1024

static void
open_chans(struct ipc_chan *a, struct ipc_chan *b, size_t maxframe,
    bool fdpass)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
	ipc_init(a, sv[0], maxframe, fdpass);
	ipc_init(b, sv[1], maxframe, fdpass);
}

/* A frame header written by hand, as a hostile peer would. */
static void
mkhdr(uint8_t h[IPC_HDR_LEN], uint32_t len, uint16_t type, uint16_t version,
    uint32_t id)
{
	h[0] = len >> 24;
	h[1] = len >> 16;
	h[2] = len >> 8;
	h[3] = len;
	h[4] = type >> 8;
	h[5] = type;
	h[6] = version >> 8;
	h[7] = version;
	h[8] = id >> 24;
	h[9] = id >> 16;
	h[10] = id >> 8;
	h[11] = id;
}

static void
write_all(int fd, const void *p, size_t n)
{
	struct pollfd	 pfd = { .fd = fd, .events = POLLOUT };
	const uint8_t	*q = p;
	ssize_t		 w;

	while (n > 0) {
		w = write(fd, q, n);
		if (w == -1 && errno == EAGAIN) {
			cr_assert_eq(poll(&pfd, 1, WAIT_MS), 1);
			continue;
		}
		cr_assert_gt(w, 0, "write: %s", strerror(errno));
		q += w;
		n -= (size_t)w;
	}
}

/* Bytes plus SCM_RIGHTS descriptors in one sendmsg. */
static void
send_fds(int s, const void *p, size_t n, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr	hdr;
		char		buf[CMSG_SPACE(sizeof(int) * 16)];
	} cm;
	struct msghdr	mh;
	struct iovec	iov = { .iov_base = (void *)(uintptr_t)p,
			    .iov_len = n };

	cr_assert_leq(nfds, 16);
	memset(&cm, 0, sizeof(cm));
	memset(&mh, 0, sizeof(mh));
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cm.buf;
	mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
	CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
	CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
	memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), fds, sizeof(int) * nfds);
	cr_assert_eq(sendmsg(s, &mh, MSG_NOSIGNAL), (ssize_t)n,
	    "sendmsg: %s", strerror(errno));
}

static void
mkpipe(int p[2])
{
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
}

/*
 * Whether every write end of the pipe has been closed, in this process and
 * in any channel that received one: the read end then reports EOF.
 */
static bool
pipe_writers_gone(int rfd)
{
	char	c;

	return read(rfd, &c, 1) == 0;
}

/* Write a marker through fd and check it comes out of the pipe's rfd. */
static void
check_pipe_fd(int fd, int rfd, char mark)
{
	char c = 0;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, &mark, 1), 1, "write: %s", strerror(errno));
	cr_assert_eq(read(rfd, &c, 1), 1);
	cr_assert_eq(c, mark, "descriptor attached to the wrong frame");
}

static long
elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	    (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Read whatever is there and expect a protocol error for it. */
static int
read_and_get(struct ipc_chan *c, struct ipc_msg *m)
{
	ssize_t	n;
	int	r;

	n = ipc_read(c);
	if (n == -1)
		return errno == EAGAIN && c->error == NULL ? 0 : -1;
	while ((r = ipc_get(c, m)) == 1)
		if (m->fd != -1)
			close(m->fd);
	return r;
}

/* --- header parsing --- */

Test(ipc, parse_hdr_known_answer)
{
	static const uint8_t raw[IPC_HDR_LEN] = {
		0x00, 0x00, 0x01, 0x02,		/* len 258 */
		0x00, MSG_STATUS_REQ,		/* type */
		0x00, IPC_PROTO_VERSION,	/* version */
		0xde, 0xad, 0xbe, 0xef,		/* id */
	};
	struct ipc_hdr	 h;
	const char	*why = NULL;
	size_t		 n;

	for (n = 0; n < IPC_HDR_LEN; n++)
		cr_assert_eq(ipc_parse_hdr(raw, n, 1000, &h, &why), 0);
	cr_assert_eq(ipc_parse_hdr(raw, IPC_HDR_LEN, 1000, &h, &why), 1);
	cr_assert_eq(h.len, 258);
	cr_assert_eq(h.type, MSG_STATUS_REQ);
	cr_assert_eq(h.version, IPC_PROTO_VERSION);
	cr_assert_eq(h.id, 0xdeadbeef);
	cr_assert_eq(ipc_parse_hdr(raw, IPC_HDR_LEN, 258, &h, &why), 1);
	cr_assert_eq(ipc_parse_hdr(raw, IPC_HDR_LEN, 257, &h, &why), -1);
	cr_assert_not_null(why);
}

/* --- round trips --- */

Test(ipc, batched_frames_one_flush_one_read)
{
	static const struct {
		uint16_t	 type;
		uint32_t	 id;
		const char	*payload;
	} f[] = {
		{ MSG_HELLO, 1, "hello" },
		{ MSG_READY, 2, "" },
		{ MSG_STATUS_REQ, 0, "abcdef" },
		{ MSG_ERROR, UINT32_MAX, "x" },
		{ MSG_KS_STATUS_REP, 77, "0123456789" },
		{ MSG_SHUTDOWN, 5, "" },
	};
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	size_t		i, total = 0, n;

	open_chans(&a, &b, 4 * KB, false);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		n = strlen(f[i].payload);
		cr_assert_eq(ipc_put(&a, f[i].type, f[i].id, f[i].payload, n),
		    0);
		total += IPC_HDR_LEN + n;
	}
	cr_assert(ipc_pending(&a));
	cr_assert_eq(ipc_flush(&a), 0);
	cr_assert(!ipc_pending(&a));

	/* One read takes the whole batch. */
	cr_assert_eq(ipc_read(&b), (ssize_t)total);
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		n = strlen(f[i].payload);
		cr_assert_eq(ipc_get(&b, &m), 1, "frame %zu", i);
		cr_assert_eq(m.hdr.type, f[i].type);
		cr_assert_eq(m.hdr.id, f[i].id);
		cr_assert_eq(m.hdr.version, IPC_PROTO_VERSION);
		cr_assert_eq(m.hdr.len, n);
		cr_assert_eq(buf_avail(&m.payload), n);
		cr_assert_eq(memcmp(buf_ptr(&m.payload), f[i].payload, n), 0);
		cr_assert_eq(m.fd, -1);
	}
	cr_assert_eq(ipc_get(&b, &m), 0);
	errno = 0;
	cr_assert_eq(ipc_read(&b), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_null(b.error);
	ipc_close(&a);
	ipc_close(&b);
}

/* STATUS_REQ: str identity. STATUS_REP: u8 reachable, u64, u64. */
Test(ipc, replies_out_of_order_keep_ids_and_types)
{
	static const uint32_t ids[] = { 10, 0, UINT32_MAX, 123456789 };
	static const size_t order[] = { 2, 0, 3, 1 };	/* reply order */
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	struct buf	 p;
	const char	*ident;
	uint64_t	 lat, up;
	uint32_t	 gotid[4];
	uint8_t		 reach;
	char		 want[32];
	size_t		 i;

	open_chans(&a, &b, 4 * KB, false);
	for (i = 0; i < 4; i++) {
		buf_init(&p, 256);
		(void)snprintf(want, sizeof(want), "identity-%zu", i);
		cr_assert_eq(buf_put_str(&p, want), 0);
		cr_assert_eq(ipc_put_buf(&a, MSG_STATUS_REQ, ids[i], &p), 0);
		buf_release(&p);
	}
	cr_assert_eq(ipc_flush_wait(&a, WAIT_MS), 0);

	for (i = 0; i < 4; i++) {
		cr_assert_eq(ipc_get_wait(&b, &m, WAIT_MS), 1);
		cr_assert_eq(m.hdr.type, MSG_STATUS_REQ);
		cr_assert_eq(buf_get_str(&m.payload, &ident, NULL), 0);
		cr_assert_eq(buf_end(&m.payload), 0);
		(void)snprintf(want, sizeof(want), "identity-%zu", i);
		cr_assert_str_eq(ident, want);
		gotid[i] = m.hdr.id;
	}
	for (i = 0; i < 4; i++) {
		buf_init(&p, 256);
		cr_assert_eq(buf_put_u8(&p, order[i] & 1), 0);
		cr_assert_eq(buf_put_u64(&p, 1000 + order[i]), 0);
		cr_assert_eq(buf_put_u64(&p, UINT64_MAX - order[i]), 0);
		cr_assert_eq(ipc_put_buf(&b, MSG_STATUS_REP, gotid[order[i]],
		    &p), 0);
		buf_release(&p);
	}
	cr_assert_eq(ipc_flush_wait(&b, WAIT_MS), 0);

	for (i = 0; i < 4; i++) {
		cr_assert_eq(ipc_get_wait(&a, &m, WAIT_MS), 1);
		cr_assert_eq(m.hdr.type, MSG_STATUS_REP);
		cr_assert_eq(m.hdr.id, ids[order[i]]);
		cr_assert_eq(buf_get_u8(&m.payload, &reach), 0);
		cr_assert_eq(buf_get_u64(&m.payload, &lat), 0);
		cr_assert_eq(buf_get_u64(&m.payload, &up), 0);
		cr_assert_eq(buf_end(&m.payload), 0);
		cr_assert_eq(reach, order[i] & 1);
		cr_assert_eq(lat, 1000 + order[i]);
		cr_assert_eq(up, UINT64_MAX - order[i]);
	}
	ipc_close(&a);
	ipc_close(&b);
}

Test(ipc, frame_split_in_one_byte_writes)
{
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	uint8_t		 payload[40], *wire;
	size_t		 i, len, end1;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i ^ 0x5a);
	open_chans(&a, &b, 4 * KB, false);
	/* Encode through the channel but write the bytes by hand. */
	cr_assert_eq(ipc_put(&a, MSG_HELLO, 42, payload, sizeof(payload)), 0);
	end1 = buf_avail(&a.out);
	cr_assert_eq(ipc_put(&a, MSG_READY, 43, NULL, 0), 0);
	len = buf_avail(&a.out);
	wire = malloc(len);
	cr_assert_not_null(wire);
	memcpy(wire, buf_ptr(&a.out), len);

	for (i = 0; i < len; i++) {
		write_all(a.fd, wire + i, 1);
		cr_assert_eq(ipc_read(&b), 1);
		if (i + 1 < end1 || (i + 1 > end1 && i + 1 < len)) {
			cr_assert_eq(ipc_get(&b, &m), 0, "early frame at %zu",
			    i);
			continue;
		}
		cr_assert_eq(ipc_get(&b, &m), 1, "no frame at %zu", i);
		if (i + 1 == end1) {
			cr_assert_eq(m.hdr.type, MSG_HELLO);
			cr_assert_eq(m.hdr.id, 42);
			cr_assert_eq(buf_avail(&m.payload), sizeof(payload));
			cr_assert_eq(memcmp(buf_ptr(&m.payload), payload,
			    sizeof(payload)), 0);
		} else {
			cr_assert_eq(m.hdr.type, MSG_READY);
			cr_assert_eq(m.hdr.id, 43);
			cr_assert_eq(buf_avail(&m.payload), 0);
		}
	}
	cr_assert_eq(ipc_get(&b, &m), 0);
	free(wire);
	ipc_close(&a);
	ipc_close(&b);
}

Test(ipc, maxframe_payload_roundtrip_across_reads)
{
	const size_t	 max = 200 * KB;	/* several read chunks */
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	uint8_t		*big;
	size_t		 i;
	int		 r, spins;

	big = malloc(max);
	cr_assert_not_null(big);
	for (i = 0; i < max; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	open_chans(&a, &b, max, false);
	cr_assert_eq(ipc_put(&a, MSG_CONFIG, 9, big, max), 0);
	cr_assert_eq(ipc_put(&a, MSG_READY, 10, NULL, 0), 0);
	for (spins = 0, r = 0; spins < 10000; spins++) {
		(void)ipc_flush(&a);
		(void)ipc_read(&b);
		if ((r = ipc_get(&b, &m)) != 0)
			break;
	}
	cr_assert_eq(r, 1);
	cr_assert_eq(m.hdr.type, MSG_CONFIG);
	cr_assert_eq(buf_avail(&m.payload), max);
	cr_assert_eq(memcmp(buf_ptr(&m.payload), big, max), 0);
	cr_assert_eq(ipc_flush_wait(&a, WAIT_MS), 0);
	cr_assert_eq(ipc_get_wait(&b, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_READY);
	free(big);
	ipc_close(&a);
	ipc_close(&b);
}

/* --- truncation, limits, malformed headers --- */

Test(ipc, truncated_frame_then_eof_yields_nothing)
{
	static const size_t cuts[] = { 5, IPC_HDR_LEN, IPC_HDR_LEN + 5,
	    IPC_HDR_LEN + 9 };
	uint8_t		wire[IPC_HDR_LEN + 10];
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	size_t		i;

	mkhdr(wire, 10, MSG_HELLO, IPC_PROTO_VERSION, 1);
	memset(wire + IPC_HDR_LEN, 'p', 10);
	for (i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		open_chans(&a, &b, 4 * KB, false);
		write_all(a.fd, wire, cuts[i]);
		ipc_close(&a);			/* EOF for b */
		cr_assert_eq(ipc_read(&b), (ssize_t)cuts[i]);
		cr_assert_eq(ipc_get(&b, &m), 0, "cut %zu", cuts[i]);
		cr_assert_eq(ipc_read(&b), 0);
		cr_assert(b.eof);
		cr_assert_eq(ipc_get(&b, &m), 0, "cut %zu", cuts[i]);
		cr_assert_eq(ipc_get_wait(&b, &m, WAIT_MS), -1);
		cr_assert_not_null(b.error);
		cr_assert_not_null(strstr(b.error, "end of file"));
		ipc_close(&b);
	}
}

/*
 * A header announcing more than the maximum is refused as soon as the 12
 * header bytes are in: no payload byte has been sent, and nothing was
 * allocated for the announced size.
 */
Test(ipc, oversized_length_rejected_before_payload)
{
	static const uint32_t lens[] = { IPC_MAX_PEER + 1, 64u << 20,
	    UINT32_MAX };
	uint8_t		 h[IPC_HDR_LEN];
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	size_t		 i;

	for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		open_chans(&a, &b, IPC_MAX_PEER, false);
		mkhdr(h, lens[i], MSG_STATUS_REQ, IPC_PROTO_VERSION, 1);
		write_all(a.fd, h, sizeof(h));
		cr_assert_eq(ipc_read(&b), IPC_HDR_LEN);
		b.error = NULL;
		cr_assert_eq(ipc_get(&b, &m), -1, "len %u", lens[i]);
		cr_assert_not_null(b.error);
		cr_assert_lt(b.in.cap, 1u << 20, "in.cap %zu for len %u",
		    b.in.cap, lens[i]);
		cr_assert_lt(b.in.cap, lens[i]);
		ipc_close(&a);
		ipc_close(&b);
	}

	/* Exactly the maximum is fine: it waits for the payload, and still
	 * allocates nothing for it up front. */
	open_chans(&a, &b, IPC_MAX_PEER, false);
	mkhdr(h, IPC_MAX_PEER, MSG_STATUS_REQ, IPC_PROTO_VERSION, 1);
	write_all(a.fd, h, sizeof(h));
	cr_assert_eq(ipc_read(&b), IPC_HDR_LEN);
	cr_assert_eq(ipc_get(&b, &m), 0);
	cr_assert_lt(b.in.cap, 1u << 20);
	ipc_close(&a);
	ipc_close(&b);
}

Test(ipc, wrong_protocol_version_rejected)
{
	static const uint16_t vers[] = { 0, IPC_PROTO_VERSION + 1, 0x0100,
	    UINT16_MAX };
	uint8_t		wire[IPC_HDR_LEN + 4];
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	size_t		i;

	for (i = 0; i < sizeof(vers) / sizeof(vers[0]); i++) {
		open_chans(&a, &b, 4 * KB, false);
		mkhdr(wire, 4, MSG_HELLO, vers[i], 1);
		memset(wire + IPC_HDR_LEN, 0, 4);
		write_all(a.fd, wire, sizeof(wire));
		cr_assert_eq(ipc_read(&b), (ssize_t)sizeof(wire));
		cr_assert_eq(ipc_get(&b, &m), -1, "version %u", vers[i]);
		cr_assert_not_null(b.error);
		ipc_close(&a);
		ipc_close(&b);
	}
}

Test(ipc, unknown_type_rejected)
{
	static const uint16_t types[] = { MSG_NONE, MSG_TYPE_MAX,
	    MSG_TYPE_MAX + 1, UINT16_MAX };
	uint8_t		wire[IPC_HDR_LEN];
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	size_t		i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		open_chans(&a, &b, 4 * KB, false);
		mkhdr(wire, 0, types[i], IPC_PROTO_VERSION, 1);
		write_all(a.fd, wire, sizeof(wire));
		cr_assert_eq(ipc_read(&b), IPC_HDR_LEN);
		cr_assert_eq(ipc_get(&b, &m), -1, "type %u", types[i]);
		cr_assert_not_null(b.error);
		ipc_close(&a);
		ipc_close(&b);
	}
}

/* HELLO: u32 proto version, str build id; one byte too many. */
Test(ipc, trailing_payload_bytes_detected_by_decoder)
{
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	struct buf	 p;
	const char	*build;
	uint32_t	 ver;
	int		 extra;

	for (extra = 0; extra <= 1; extra++) {
		open_chans(&a, &b, 4 * KB, false);
		buf_init(&p, 256);
		cr_assert_eq(buf_put_u32(&p, IPC_PROTO_VERSION), 0);
		cr_assert_eq(buf_put_str(&p, "build-1"), 0);
		if (extra)
			cr_assert_eq(buf_put_u8(&p, 0), 0);
		cr_assert_eq(ipc_put_buf(&a, MSG_HELLO, 1, &p), 0);
		buf_release(&p);
		cr_assert_eq(ipc_flush_wait(&a, WAIT_MS), 0);
		cr_assert_eq(ipc_get_wait(&b, &m, WAIT_MS), 1);
		cr_assert_eq(buf_get_u32(&m.payload, &ver), 0);
		cr_assert_eq(buf_get_str(&m.payload, &build, NULL), 0);
		cr_assert_str_eq(build, "build-1");
		cr_assert_eq(buf_end(&m.payload), extra ? -1 : 0);
		ipc_close(&a);
		ipc_close(&b);
	}
}

Test(ipc, put_larger_than_maxframe_fails)
{
	uint8_t		 big[101];
	struct ipc_chan	 a, b;
	int		 p[2];
	size_t		 i;

	memset(big, 'b', sizeof(big));
	open_chans(&a, &b, 100, true);
	cr_assert_eq(ipc_put(&a, MSG_HELLO, 1, big, 101), -1);
	cr_assert_not_null(a.error);
	cr_assert(!ipc_pending(&a));
	cr_assert_eq(a.out.len, 0);

	/* The descriptor dup'ed for a refused frame is not kept. */
	mkpipe(p);
	cr_assert_eq(ipc_put_fd(&a, MSG_PEER, 1, big, 101, p[1]), -1);
	cr_assert_eq(a.nwfds, 0);
	cr_assert(!ipc_pending(&a));
	close(p[1]);
	cr_assert(pipe_writers_gone(p[0]));

	/* The maximum itself fits; the queue holds a bounded number. */
	for (i = 0; i < 4; i++)
		cr_assert_eq(ipc_put(&a, MSG_HELLO, 1, big, 100), 0);
	cr_assert_eq(ipc_put(&a, MSG_HELLO, 1, big, 100), -1);
	cr_assert_eq(a.out.len, 4 * (IPC_HDR_LEN + 100), "partial frame");
	ipc_close(&a);
	ipc_close(&b);
}

/* --- descriptor passing --- */

Test(ipc, fd_passing_delivers_working_descriptor)
{
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	struct buf	 pl;
	uint32_t	 idx;
	uint8_t		 role;
	int		 p[2];

	open_chans(&a, &b, 4 * KB, true);
	mkpipe(p);
	buf_init(&pl, 64);
	cr_assert_eq(buf_put_u8(&pl, ROLE_CRYPTO), 0);
	cr_assert_eq(buf_put_u32(&pl, 3), 0);
	cr_assert_eq(ipc_put_fd(&a, MSG_PEER, 99, buf_ptr(&pl),
	    buf_avail(&pl), p[1]), 0);
	buf_release(&pl);
	close(p[1]);			/* the channel holds its own dup */
	cr_assert_eq(ipc_flush_wait(&a, WAIT_MS), 0);
	cr_assert_eq(a.nwfds, 0);

	cr_assert_eq(ipc_get_wait(&b, &m, WAIT_MS), 1);
	cr_assert_eq(m.hdr.type, MSG_PEER);
	cr_assert_eq(m.hdr.id, 99);
	cr_assert_eq(buf_get_u8(&m.payload, &role), 0);
	cr_assert_eq(buf_get_u32(&m.payload, &idx), 0);
	cr_assert_eq(buf_end(&m.payload), 0);
	cr_assert_eq(role, ROLE_CRYPTO);
	cr_assert_eq(idx, 3);
	check_pipe_fd(m.fd, p[0], 'z');
	cr_assert_eq(b.nrfds, 0);
	/* The received descriptor is the only write end left. */
	close(m.fd);
	cr_assert(pipe_writers_gone(p[0]));
	ipc_close(&a);
	ipc_close(&b);
}

/* Descriptors interleaved with plain frames, all in one ipc_flush. */
Test(ipc, fd_passing_interleaved_with_plain_frames)
{
	static const struct {
		uint16_t	type;
		int		pipe;		/* index or -1 */
	} f[] = {
		{ MSG_HELLO, -1 }, { MSG_PEER, 0 }, { MSG_READY, -1 },
		{ MSG_PEER, 1 }, { MSG_PEER, 2 }, { MSG_SHUTDOWN, -1 },
		{ MSG_PEER, 3 },
	};
	const size_t	 nf = sizeof(f) / sizeof(f[0]);
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	int		 p[4][2];
	size_t		 i;
	uint8_t		 tag;

	open_chans(&a, &b, 4 * KB, true);
	for (i = 0; i < 4; i++)
		mkpipe(p[i]);
	for (i = 0; i < nf; i++) {
		tag = (uint8_t)i;
		if (f[i].pipe >= 0)
			cr_assert_eq(ipc_put_fd(&a, f[i].type, 100 + i, &tag,
			    1, p[f[i].pipe][1]), 0);
		else
			cr_assert_eq(ipc_put(&a, f[i].type, 100 + i, &tag, 1),
			    0);
	}
	for (i = 0; i < 4; i++)
		close(p[i][1]);
	cr_assert_eq(ipc_flush(&a), 0);
	cr_assert(!ipc_pending(&a));
	cr_expect_eq(a.nwfds, 0, "%zu descriptor(s) left unsent", a.nwfds);

	for (i = 0; i < nf; i++) {
		cr_assert_eq(ipc_get_wait(&b, &m, WAIT_MS), 1,
		    "frame %zu: %s", i, b.error ? b.error : "?");
		cr_assert_eq(m.hdr.type, f[i].type);
		cr_assert_eq(m.hdr.id, 100 + i);
		cr_assert_eq(buf_get_u8(&m.payload, &tag), 0);
		cr_assert_eq(tag, i);
		if (f[i].pipe < 0) {
			cr_assert_eq(m.fd, -1, "frame %zu", i);
			continue;
		}
		check_pipe_fd(m.fd, p[f[i].pipe][0], (char)('A' + i));
		close(m.fd);
		cr_assert(pipe_writers_gone(p[f[i].pipe][0]));
	}
	cr_assert_eq(b.nrfds, 0);
	ipc_close(&a);
	ipc_close(&b);
}

Test(ipc, fd_on_channel_without_fdpass_is_closed_and_an_error)
{
	uint8_t		wire[IPC_HDR_LEN + 4];
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	int		p[2];

	open_chans(&a, &b, 4 * KB, false);
	mkpipe(p);
	mkhdr(wire, 4, MSG_HELLO, IPC_PROTO_VERSION, 1);
	memset(wire + IPC_HDR_LEN, 0, 4);
	send_fds(a.fd, wire, sizeof(wire), &p[1], 1);
	close(p[1]);
	cr_expect_eq(read_and_get(&b, &m), -1,
	    "a descriptor on a channel without fdpass was accepted");
	cr_assert(pipe_writers_gone(p[0]), "the descriptor was kept open");
	ipc_close(&a);
	ipc_close(&b);
}

Test(ipc, too_many_fds_closed_and_an_error)
{
	uint8_t		wire[IPC_HDR_LEN];
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	int		p[2], fds[IPC_MAXFDS + 1];
	size_t		i;

	open_chans(&a, &b, 4 * KB, true);
	mkpipe(p);
	for (i = 0; i < IPC_MAXFDS + 1; i++)
		fds[i] = p[1];
	mkhdr(wire, 0, MSG_READY, IPC_PROTO_VERSION, 1);
	/* A quiet read first, as an event loop would have done. */
	cr_assert_eq(ipc_read(&b), -1);
	cr_assert_eq(errno, EAGAIN);
	send_fds(a.fd, wire, sizeof(wire), fds, IPC_MAXFDS + 1);
	close(p[1]);
	cr_expect_eq(ipc_get_wait(&b, &m, WAIT_MS), -1);
	cr_expect(b.error != NULL && strstr(b.error, "descriptor") != NULL,
	    "error is '%s', not about descriptors (errno left at EAGAIN "
	    "makes ipc_get_wait wait out its timeout)",
	    b.error ? b.error : "(null)");
	/* The owner drops the channel on a protocol error; nothing may
	 * outlive that. */
	ipc_close(&a);
	ipc_close(&b);
	cr_assert(pipe_writers_gone(p[0]), "a descriptor was kept open");
}

Test(ipc, peer_message_without_descriptor_rejected)
{
	uint8_t		wire[IPC_HDR_LEN + 5];
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	int		p[2], fdpass;

	for (fdpass = 0; fdpass <= 1; fdpass++) {
		open_chans(&a, &b, 4 * KB, fdpass);
		mkhdr(wire, 5, MSG_PEER, IPC_PROTO_VERSION, 1);
		memset(wire + IPC_HDR_LEN, 0, 5);
		write_all(a.fd, wire, sizeof(wire));
		cr_assert_eq(ipc_read(&b), (ssize_t)sizeof(wire));
		cr_assert_eq(ipc_get(&b, &m), -1, "fdpass %d", fdpass);
		cr_assert_eq(m.fd, -1);
		cr_assert_not_null(b.error);

		/* The sending side refuses to build such frames. */
		cr_assert_eq(ipc_put(&a, MSG_PEER, 1, wire, 5), -1);
		cr_assert(!ipc_pending(&a));
		ipc_close(&a);
		ipc_close(&b);
	}

	/* ipc_put_fd: only on fdpass channels, only for MSG_PEER. */
	mkpipe(p);
	open_chans(&a, &b, 4 * KB, false);
	cr_assert_eq(ipc_put_fd(&a, MSG_PEER, 1, NULL, 0, p[1]), -1);
	ipc_close(&a);
	ipc_close(&b);
	open_chans(&a, &b, 4 * KB, true);
	cr_assert_eq(ipc_put_fd(&a, MSG_HELLO, 1, NULL, 0, p[1]), -1);
	cr_assert_eq(ipc_put_fd(&a, MSG_PEER, 1, NULL, 0, -1), -1);
	cr_assert(!ipc_pending(&a));
	cr_assert_eq(a.nwfds, 0);
	ipc_close(&a);
	ipc_close(&b);
	close(p[1]);
	cr_assert(pipe_writers_gone(p[0]));
}

Test(ipc, close_releases_queued_descriptors)
{
	struct ipc_chan	a, b;
	int		p[2], q[2];

	open_chans(&a, &b, 4 * KB, true);
	mkpipe(p);
	mkpipe(q);
	/* p: received by b but never taken by ipc_get. */
	cr_assert_eq(ipc_put_fd(&a, MSG_PEER, 1, NULL, 0, p[1]), 0);
	cr_assert_eq(ipc_flush_wait(&a, WAIT_MS), 0);
	close(p[1]);
	cr_assert_gt(ipc_read(&b), 0);
	cr_assert_eq(b.nrfds, 1);
	/* q: queued on a but never flushed. */
	cr_assert_eq(ipc_put_fd(&a, MSG_PEER, 2, NULL, 0, q[1]), 0);
	close(q[1]);
	cr_assert(!pipe_writers_gone(p[0]));
	cr_assert(!pipe_writers_gone(q[0]));
	ipc_close(&a);
	ipc_close(&b);
	cr_assert(pipe_writers_gone(p[0]));
	cr_assert(pipe_writers_gone(q[0]));
}

/* --- back-pressure and timeouts --- */

Test(ipc, flush_reports_full_socket_then_completes)
{
	const size_t	 fl = 32 * KB;
	struct ipc_chan	 a, b;
	struct ipc_msg	 m;
	uint8_t		*payload;
	uint32_t	 sent = 0, got = 0;
	int		 r = 0, spins;

	payload = malloc(fl);
	cr_assert_not_null(payload);
	open_chans(&a, &b, fl, false);
	/* Nobody reads b: the socket buffer fills up. */
	for (spins = 0; spins < 10000; spins++) {
		memset(payload, (int)(sent & 0xff), fl);
		cr_assert_eq(ipc_put(&a, MSG_CONFIG, sent, payload, fl), 0);
		sent++;
		if ((r = ipc_flush(&a)) != 0)
			break;
	}
	cr_assert_eq(r, 1, "socket never filled");
	cr_assert(ipc_pending(&a));
	cr_assert_eq(ipc_flush(&a), 1);		/* still full */

	/* Drain b while flushing a, until everything arrived in order. */
	for (spins = 0; spins < 100000 && got < sent; spins++) {
		if (ipc_pending(&a))
			cr_assert_neq(ipc_flush(&a), -1, "%s", a.error);
		(void)ipc_read(&b);
		while ((r = ipc_get(&b, &m)) == 1) {
			cr_assert_eq(m.hdr.id, got);
			cr_assert_eq(buf_avail(&m.payload), fl);
			cr_assert_eq(buf_ptr(&m.payload)[0], got & 0xff);
			cr_assert_eq(buf_ptr(&m.payload)[fl - 1], got & 0xff);
			got++;
		}
		cr_assert_eq(r, 0);
	}
	cr_assert_eq(got, sent);
	cr_assert(!ipc_pending(&a));
	cr_assert_eq(ipc_flush(&a), 0);
	free(payload);
	ipc_close(&a);
	ipc_close(&b);
}

/*
 * A peer that keeps reading, but slower than we write: whenever the
 * not-yet-sent part of the queue leaves room for a frame, queueing it must
 * work. Bytes already sent must not keep occupying the queue.
 */
Test(ipc, output_queue_reuses_sent_space_under_back_pressure)
{
	const size_t	 fl = 200 * KB;
	struct ipc_chan	 a, b;
	uint8_t		*payload, *junk;
	size_t		 pend;
	int		 i, queued = 0;

	payload = calloc(1, fl);
	junk = malloc(64 * KB);
	cr_assert_not_null(payload);
	cr_assert_not_null(junk);
	open_chans(&a, &b, fl, false);
	for (i = 0; i < 400; i++) {
		pend = buf_avail(&a.out);
		if (pend + IPC_HDR_LEN + fl <= a.out.max) {
			cr_assert_eq(ipc_put(&a, MSG_CONFIG, (uint32_t)i,
			    payload, fl), 0,
			    "iteration %d: %zu bytes pending of %zu, yet the "
			    "queue is full (out.off %zu, out.len %zu)",
			    i, pend, a.out.max, a.out.off, a.out.len);
			queued++;
		}
		cr_assert_neq(ipc_flush(&a), -1);
		if (read(b.fd, junk, 64 * KB) == -1)
			cr_assert_eq(errno, EAGAIN);
	}
	cr_assert_gt(queued, 10);
	free(payload);
	free(junk);
	ipc_close(&a);
	ipc_close(&b);
}

Test(ipc, get_wait_times_out)
{
	struct ipc_chan	a, b;
	struct ipc_msg	m;
	struct timespec	t0;
	long		ms;

	open_chans(&a, &b, 4 * KB, false);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipc_get_wait(&b, &m, 150), -1);
	ms = elapsed_ms(&t0);
	cr_assert_not_null(b.error);
	cr_assert_not_null(strstr(b.error, "timed out"), "%s", b.error);
	cr_assert_geq(ms, 140);
	cr_assert_lt(ms, 2000);

	/* A frame that arrives in time is returned. */
	cr_assert_eq(ipc_put(&a, MSG_READY, 7, NULL, 0), 0);
	cr_assert_eq(ipc_flush(&a), 0);
	cr_assert_eq(ipc_get_wait(&b, &m, 150), 1);
	cr_assert_eq(m.hdr.id, 7);

	/* A half frame then silence also times out. */
	cr_assert_eq(ipc_put(&a, MSG_HELLO, 8, "abcd", 4), 0);
	write_all(a.fd, buf_ptr(&a.out), IPC_HDR_LEN + 2);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipc_get_wait(&b, &m, 150), -1);
	cr_assert_geq(elapsed_ms(&t0), 140);
	cr_assert_not_null(strstr(b.error, "timed out"));

	/* End of file is reported at once, not after the timeout. */
	ipc_close(&a);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(ipc_get_wait(&b, &m, 5000), -1);
	cr_assert_lt(elapsed_ms(&t0), 2000);
	cr_assert_not_null(strstr(b.error, "end of file"));
	ipc_close(&b);
}
