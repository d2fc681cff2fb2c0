/*
 * The KMIP messages of keystore-agent/kmip_msg.c against a real KMIP
 * server: PyKMIP (Debian python3-pykmip), started per test by
 * tests/kmip/pykmip-server.sh on 127.0.0.1 with a throw-away PKI, spoken
 * to over mutual TLS 1.2 with OpenSSL and blocking sockets. The sequences
 * are the KMIP store's of spec 3.4 (create with its settle rule, get,
 * delete with Revoke when the object is active, list paging), with
 * outcomes through spec 3.5's mapping; the rows of spec 5.5 they cover
 * are named at each test.
 *
 * Without PyKMIP these tests fail, loudly: scripts/deps.sh installs it
 * (make check runs it); nothing here installs anything.
 */
#include <criterion/criterion.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include "common/buf.h"
#include "keystore-agent/kmip_msg.h"
#include "keystore-agent/kmip_ttlv.h"

#define KB		1024
#define SETTLE_MS	2000	/* spec 3.4: create_settle default */

static const struct kmip_version v12 = { 1, 2 }, v14 = { 1, 4 },
    v20 = { 2, 0 };

/* --- the server ---------------------------------------------------------- */

static struct {
	char	dir[PATH_MAX];
	char	script[PATH_MAX];
	int	port;
	bool	started;
} srv;

static void	stop_pykmip(void);

static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/* tests/kmip/pykmip-server.sh from the tree root (where make check runs
 * the suites), else next to BUILD/tests/ this binary is in. */
static void
find_script(void)
{
	char	exe[PATH_MAX], *s;
	ssize_t	n;

	if (access("tests/kmip/pykmip-server.sh", R_OK) == 0) {
		(void)snprintf(srv.script, sizeof(srv.script),
		    "tests/kmip/pykmip-server.sh");
		return;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	cr_assert_gt(n, 0);
	exe[n] = '\0';
	for (int i = 0; i < 3 && (s = strrchr(exe, '/')) != NULL; i++)
		*s = '\0';
	cr_assert_lt((size_t)snprintf(srv.script, sizeof(srv.script),
	    "%s/tests/kmip/pykmip-server.sh", exe), sizeof(srv.script));
	cr_assert_eq(access(srv.script, R_OK), 0,
	    "tests/kmip/pykmip-server.sh not found (run from the tree)");
}

static void
start_pykmip(void)
{
	char	cmd[4 * PATH_MAX + 64], log[PATH_MAX + 16], tail[2048] = "";
	FILE	*f;
	size_t	n;
	int	r;

	/* A write to a connection the server closed fails, not kills. */
	(void)signal(SIGPIPE, SIG_IGN);
	find_script();
	(void)snprintf(srv.dir, sizeof(srv.dir), "/tmp/kw-kmip.XXXXXX");
	cr_assert_not_null(mkdtemp(srv.dir));
	srv.port = free_port();
	(void)snprintf(log, sizeof(log), "%s/start.log", srv.dir);
	cr_assert_lt((size_t)snprintf(cmd, sizeof(cmd),
	    "sh %s start %s %d %d >%s 2>&1", srv.script, srv.dir, srv.port,
	    (int)getpid(), log),
	    sizeof(cmd));
	r = system(cmd);
	if (r != 0) {
		if ((f = fopen(log, "r")) != NULL) {
			n = fread(tail, 1, sizeof(tail) - 1, f);
			tail[n] = '\0';
			fclose(f);
		}
		/* .fini does not run after a failed .init. */
		stop_pykmip();
	}
	/* Not a skip: the suite depends on a real KMIP server. */
	cr_assert_eq(r, 0, "PyKMIP did not start (exit %d):\n%s\n"
	    "(scripts/deps.sh installs python3-pykmip)", r, tail);
	srv.started = true;
}

static void
stop_pykmip(void)
{
	char	cmd[3 * PATH_MAX];
	int	r;

	if (srv.started) {
		(void)snprintf(cmd, sizeof(cmd), "sh %s stop %s", srv.script,
		    srv.dir);
		r = system(cmd);
		srv.started = false;
		cr_expect_eq(r, 0, "stopping PyKMIP");
	}
	if (srv.dir[0] != '\0' && getenv("KEYWARD_TEST_KEEP") == NULL) {
		(void)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv.dir);
		r = system(cmd);
		cr_expect_eq(r, 0, "removing %s", srv.dir);
	}
}

/* Stop and start again on the same port, PKI and database. */
static void
restart_pykmip(void)
{
	char	cmd[4 * PATH_MAX + 64];
	int	r;

	(void)snprintf(cmd, sizeof(cmd), "sh %s stop %s", srv.script,
	    srv.dir);
	cr_assert_eq(system(cmd), 0);
	srv.started = false;
	cr_assert_lt((size_t)snprintf(cmd, sizeof(cmd),
	    "sh %s start %s %d %d >>%s/start.log 2>&1", srv.script, srv.dir,
	    srv.port, (int)getpid(), srv.dir), sizeof(cmd));
	r = system(cmd);
	cr_assert_eq(r, 0, "PyKMIP did not start again (see %s/start.log)",
	    srv.dir);
	srv.started = true;
}

TestSuite(kmip_pykmip, .init = start_pykmip, .fini = stop_pykmip,
    .timeout = 90);

/* --- a blocking mutual-TLS client ---------------------------------------- */

struct kconn {
	SSL_CTX	*ctx;
	SSL	*ssl;
	int	 fd;
};

static const char *
ssl_errors(void)
{
	static char	s[512];
	unsigned long	e;
	size_t		n = 0;

	s[0] = '\0';
	while ((e = ERR_get_error()) != 0 && n < sizeof(s) - 130) {
		ERR_error_string_n(e, s + n, sizeof(s) - n);
		n = strlen(s);
		s[n++] = ';';
		s[n] = '\0';
	}
	return s;
}

/* An OpenSSL TLS 1.2 cipher list for the client; NULL: OpenSSL's default. */
static const char *client_ciphers;

/*
 * Connect with client certificate cert ("client", "noeku"; NULL: none),
 * TLS up to maxver (0: any). 0, or -1 when the handshake fails.
 */
static int
kconnect_ex(struct kconn *c, const char *cert, int maxver)
{
	char			 path[PATH_MAX + 32];
	struct sockaddr_in	 sin;
	struct timeval		 tv = { 15, 0 };
	X509_VERIFY_PARAM	*vp;

	memset(c, 0, sizeof(*c));
	c->ctx = SSL_CTX_new(TLS_client_method());
	cr_assert_not_null(c->ctx);
	cr_assert_eq(SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION),
	    1);
	if (maxver != 0)
		cr_assert_eq(SSL_CTX_set_max_proto_version(c->ctx, maxver), 1);
	if (client_ciphers != NULL)
		cr_assert_eq(SSL_CTX_set_cipher_list(c->ctx, client_ciphers), 1);
	if (maxver == TLS1_3_VERSION)
		cr_assert_eq(SSL_CTX_set_min_proto_version(c->ctx,
		    TLS1_3_VERSION), 1);
	if (cert != NULL) {
		(void)snprintf(path, sizeof(path), "%s/pki/%s.crt", srv.dir,
		    cert);
		cr_assert_eq(SSL_CTX_use_certificate_chain_file(c->ctx, path),
		    1, "%s", ssl_errors());
		(void)snprintf(path, sizeof(path), "%s/pki/%s.key", srv.dir,
		    cert);
		cr_assert_eq(SSL_CTX_use_PrivateKey_file(c->ctx, path,
		    SSL_FILETYPE_PEM), 1, "%s", ssl_errors());
	}
	(void)snprintf(path, sizeof(path), "%s/pki/ca.crt", srv.dir);
	cr_assert_eq(SSL_CTX_load_verify_locations(c->ctx, path, NULL), 1);
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(c->fd, 0);
	cr_assert_eq(setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv,
	    sizeof(tv)), 0);
	cr_assert_eq(setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv,
	    sizeof(tv)), 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)srv.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_eq(connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "connect: %s", strerror(errno));
	c->ssl = SSL_new(c->ctx);
	cr_assert_not_null(c->ssl);
	/* The server certificate names IP:127.0.0.1. */
	vp = SSL_get0_param(c->ssl);
	cr_assert_eq(X509_VERIFY_PARAM_set1_ip_asc(vp, "127.0.0.1"), 1);
	cr_assert_eq(SSL_set_fd(c->ssl, c->fd), 1);
	if (SSL_connect(c->ssl) != 1)
		return -1;
	cr_assert_eq(SSL_get_verify_result(c->ssl), X509_V_OK);
	/* PyKMIP's TLS1.2 suite (spec 3.2). */
	cr_assert_eq(SSL_version(c->ssl), TLS1_2_VERSION);
	return 0;
}

static void
kconnect(struct kconn *c)
{
	cr_assert_eq(kconnect_ex(c, "client", 0), 0, "TLS handshake: %s",
	    ssl_errors());
}

static void
kclose(struct kconn *c)
{
	if (c->ssl != NULL) {
		(void)SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
	}
	if (c->fd > 0)
		close(c->fd);
	SSL_CTX_free(c->ctx);
	memset(c, 0, sizeof(*c));
}

static int
read_full(struct kconn *c, uint8_t *p, size_t n)
{
	size_t	got;

	while (n > 0) {
		if (SSL_read_ex(c->ssl, p, n, &got) != 1)
			return -1;
		p += got;
		n -= got;
	}
	return 0;
}

/* One exchange: the request in req (wiped and emptied after), the answer
 * framed as spec 3.2 says into bytes, parsed into r. */
struct answer {
	struct buf		bytes;
	struct kmip_resp	r;
};

/* -1 on a transport failure (what the store calls UNREACHABLE). */
static int
try_roundtrip(struct kconn *c, struct buf *req, struct answer *a)
{
	uint8_t		hdr[TTLV_HDRLEN], *p;
	size_t		total, w;
	char		err[128];

	memset(a, 0, sizeof(*a));
	buf_init(&a->bytes, TTLV_MSG_MAX);
	if (SSL_write_ex(c->ssl, req->data, req->len, &w) != 1 ||
	    w != req->len)
		return -1;
	buf_reset(req);
	if (read_full(c, hdr, sizeof(hdr)) == -1)
		return -1;
	cr_assert_eq(ttlv_frame_len(hdr, TTLV_MSG_MAX, &total), 0);
	cr_assert_eq(buf_put(&a->bytes, hdr, sizeof(hdr)), 0);
	p = buf_reserve(&a->bytes, total - sizeof(hdr));
	cr_assert_not_null(p);
	if (read_full(c, p, total - sizeof(hdr)) == -1)
		return -1;
	a->bytes.len = total;
	cr_assert_eq(kmip_parse_response(a->bytes.data, a->bytes.len, NULL,
	    &a->r, err, sizeof(err)), 0, "answer: %s", err);
	return 0;
}

static void
roundtrip(struct kconn *c, struct buf *req, struct answer *a)
{
	cr_assert_eq(try_roundtrip(c, req, a), 0, "transport: %s",
	    ssl_errors());
}

static void
answer_free(struct answer *a)
{
	kmip_resp_free(&a->r);
	buf_release(&a->bytes);		/* wipes: it may hold a value */
}

static struct kmip_hdr
hdr(struct kmip_version v)
{
	struct kmip_hdr h;

	memset(&h, 0, sizeof(h));
	h.version = v;
	return h;
}

/* --- the store's steps (spec 3.4), one request each ---------------------- */

static struct kmip_version
discover(struct kconn *c, const struct kmip_version *offer, size_t n)
{
	struct kmip_hdr		h = hdr(v12);	/* spec 3.3: header 1.2 */
	struct kmip_version	got[KMIP_VERSIONS_MAX], pick;
	struct answer		a;
	struct buf		req;
	size_t			ng;

	buf_init(&req, 64 * KB);
	cr_assert_eq(kmip_req_discover_versions(&req, &h, offer, n), 0);
	roundtrip(c, &req, &a);
	cr_assert_eq(a.r.n, 1);
	cr_assert_eq(kmip_parse_discover_versions(&a.r.items[0], got,
	    KMIP_VERSIONS_MAX, &ng), 0, "status %u reason %u %s",
	    a.r.items[0].status, a.r.items[0].reason, a.r.items[0].msg);
	cr_assert_eq(kmip_version_pick(got, ng, offer, n, &pick), 0);
	answer_free(&a);
	buf_release(&req);
	return pick;
}

static void
locate(struct kconn *c, struct kmip_version v, const struct kmip_locate *l,
    struct kmip_uids *u)
{
	struct kmip_hdr	h = hdr(v);
	struct answer	a;
	struct buf	req;

	buf_init(&req, 64 * KB);
	cr_assert_eq(kmip_req_locate(&req, &h, l), 0);
	roundtrip(c, &req, &a);
	cr_assert_eq(kmip_parse_locate(&a.r.items[0], u), 0,
	    "Locate: status %u reason %u %s", a.r.items[0].status,
	    a.r.items[0].reason, a.r.items[0].msg);
	answer_free(&a);
	buf_release(&req);
}

static void
locate_name(struct kconn *c, struct kmip_version v, const char *name,
    struct kmip_uids *u)
{
	struct kmip_locate l = { name, NULL, 0, 0 };

	locate(c, v, &l, u);
}

static unsigned int registers;	/* Register requests sent, for KT4 */

static void
register_value(struct kconn *c, struct kmip_version v, const char *name,
    const char *group, const char *value, char uid[KMIP_UID_MAX + 1])
{
	struct kmip_hdr		h = hdr(v);
	struct kmip_register	r = { name, group, 0,
	    (const uint8_t *)value, strlen(value) };
	struct answer		a;
	struct buf		req;

	buf_init(&req, 64 * KB);
	cr_assert_eq(kmip_req_register(&req, &h, &r), 0);
	roundtrip(c, &req, &a);
	registers++;
	cr_assert_eq(kmip_item_outcome(KMIP_OP_REGISTER, &a.r.items[0]),
	    KMIP_OUTCOME_OK, "Register: reason %u %s", a.r.items[0].reason,
	    a.r.items[0].msg);
	cr_assert_eq(kmip_parse_uid(&a.r.items[0], uid), 0);
	answer_free(&a);
	buf_release(&req);
}

/* Get: the outcome; on OK the value is appended to out. */
static enum kmip_outcome
get_value(struct kconn *c, struct kmip_version v, const char *uid,
    struct buf *out)
{
	struct kmip_hdr		h = hdr(v);
	struct kmip_object	o;
	struct answer		a;
	struct buf		req;
	enum kmip_outcome	oc;

	buf_init(&req, 64 * KB);
	cr_assert_eq(kmip_req_get(&req, &h, uid), 0);
	roundtrip(c, &req, &a);
	oc = kmip_item_outcome(KMIP_OP_GET, &a.r.items[0]);
	if (oc == KMIP_OUTCOME_OK) {
		cr_assert_eq(kmip_parse_get(&a.r.items[0], &o, out), 0);
		cr_assert_eq(o.object_type, KMIP_OBJECT_SECRET_DATA);
		cr_assert_eq(o.secret_type, KMIP_SECRET_SEED);
		cr_assert_str_eq(o.uid, uid);
		cr_assert(o.has_material);
	}
	answer_free(&a);
	buf_release(&req);
	return oc;
}

/* Destroy, Revoke, Activate: the outcome. */
static enum kmip_outcome
by_uid(struct kconn *c, struct kmip_version v, uint32_t op, const char *uid)
{
	struct kmip_hdr		h = hdr(v);
	struct answer		a;
	struct buf		req;
	enum kmip_outcome	oc;
	char			back[KMIP_UID_MAX + 1];

	buf_init(&req, 64 * KB);
	switch (op) {
	case KMIP_OP_DESTROY:
		cr_assert_eq(kmip_req_destroy(&req, &h, uid), 0);
		break;
	case KMIP_OP_ACTIVATE:
		cr_assert_eq(kmip_req_activate(&req, &h, uid), 0);
		break;
	case KMIP_OP_REVOKE:
		cr_assert_eq(kmip_req_revoke(&req, &h, uid,
		    KMIP_REVOKE_CESSATION), 0);
		break;
	default:
		cr_assert_fail("op %u", op);
	}
	roundtrip(c, &req, &a);
	oc = kmip_item_outcome(op, &a.r.items[0]);
	if (oc == KMIP_OUTCOME_OK) {
		cr_assert_eq(kmip_parse_uid(&a.r.items[0], back), 0);
		cr_assert_str_eq(back, uid);
	}
	answer_free(&a);
	buf_release(&req);
	return oc;
}

/*
 * Get Attributes for n UIDs in one batched message; per UID its outcome
 * and, on OK, attrs[i].
 */
static void
get_attributes(struct kconn *c, struct kmip_version v, char **uids,
    size_t n, unsigned int which, struct kmip_attrs *attrs,
    enum kmip_outcome *oc)
{
	struct kmip_hdr	 h = hdr(v);
	struct answer	 a;
	struct buf	 req;
	size_t		 i, k;

	buf_init(&req, 64 * KB);
	cr_assert_eq(kmip_req_get_attributes(&req, &h,
	    (const char *const *)uids, n, which), 0);
	roundtrip(c, &req, &a);
	cr_assert_eq(a.r.n, n, "Continue: every item answered");
	for (i = 0; i < n; i++) {
		const struct kmip_item *it = &a.r.items[i];

		k = n > 1 ? (size_t)it->batch_id : 0;
		cr_assert_lt(k, n, "batch id %d", it->batch_id);
		oc[k] = kmip_item_outcome(KMIP_OP_GET_ATTRIBUTES, it);
		if (oc[k] == KMIP_OUTCOME_OK) {
			cr_assert_eq(kmip_parse_get_attributes(it, &attrs[k]),
			    0);
			cr_assert_str_eq(attrs[k].uid, uids[k]);
		}
	}
	answer_free(&a);
	buf_release(&req);
}

/*
 * Create, spec 3.4, in its three steps so two creators can be
 * interleaved: (1) Locate, any live object -> EXISTS; (2) Register;
 * (3) after the settle time, Locate + Get Attributes (State, Initial
 * Date); the winner's creator says OK, a loser destroys its own object
 * and says EXISTS.
 */
static enum kmip_outcome
create_check(struct kconn *c, struct kmip_version v, const char *name)
{
	struct kmip_uids	 u;
	struct kmip_attrs	 at[KMIP_BATCH_MAX];
	enum kmip_outcome	 oc[KMIP_BATCH_MAX];
	size_t			 i;
	bool			 live = false;

	locate_name(c, v, name, &u);
	if (u.n > 0) {
		cr_assert_leq(u.n, KMIP_BATCH_MAX);
		get_attributes(c, v, u.uid, u.n, KMIP_ATTR_STATE, at, oc);
		for (i = 0; i < u.n; i++)
			if (oc[i] == KMIP_OUTCOME_OK && at[i].has_state &&
			    kmip_state_live(at[i].state))
				live = true;
	}
	kmip_uids_free(&u);
	return live ? KMIP_OUTCOME_EXISTS : KMIP_OUTCOME_OK;
}

static enum kmip_outcome
create_settle(struct kconn *c, struct kmip_version v, const char *name,
    const char *own)
{
	struct kmip_uids	 u;
	struct kmip_attrs	 at[KMIP_BATCH_MAX];
	enum kmip_outcome	 oc[KMIP_BATCH_MAX];
	size_t			 i, k = 0;
	int			 w;
	struct kmip_attrs	 ok[KMIP_BATCH_MAX];

	locate_name(c, v, name, &u);
	cr_assert_gt(u.n, 0, "own object not found");
	get_attributes(c, v, u.uid, u.n,
	    KMIP_ATTR_STATE | KMIP_ATTR_INITIAL_DATE, at, oc);
	for (i = 0; i < u.n; i++)
		if (oc[i] == KMIP_OUTCOME_OK)
			ok[k++] = at[i];
	kmip_uids_free(&u);
	w = kmip_winner(ok, k);
	cr_assert_geq(w, 0);
	if (strcmp(ok[w].uid, own) == 0)
		return KMIP_OUTCOME_OK;
	cr_assert_eq(by_uid(c, v, KMIP_OP_DESTROY, own), KMIP_OUTCOME_OK);
	return KMIP_OUTCOME_EXISTS;
}

static enum kmip_outcome
create(struct kconn *c, struct kmip_version v, const char *name,
    const char *value)
{
	char uid[KMIP_UID_MAX + 1];

	if (create_check(c, v, name) == KMIP_OUTCOME_EXISTS)
		return KMIP_OUTCOME_EXISTS;
	register_value(c, v, name, NULL, value, uid);
	usleep(SETTLE_MS * 1000);
	return create_settle(c, v, name, uid);
}

/* Get by name: Locate, (winner), Get. */
static enum kmip_outcome
get_by_name(struct kconn *c, struct kmip_version v, const char *name,
    struct buf *out)
{
	struct kmip_uids	u;
	enum kmip_outcome	oc;

	locate_name(c, v, name, &u);
	if (u.n == 0) {
		kmip_uids_free(&u);
		return KMIP_OUTCOME_NOT_FOUND;
	}
	cr_assert_eq(u.n, 1);
	oc = get_value(c, v, u.uid[0], out);
	kmip_uids_free(&u);
	return oc;
}

/* Delete by name: Destroy each, Revoke first when refused. */
static enum kmip_outcome
delete_by_name(struct kconn *c, struct kmip_version v, const char *name,
    unsigned int *revoked)
{
	struct kmip_uids	u;
	enum kmip_outcome	oc;
	size_t			i;

	locate_name(c, v, name, &u);
	for (i = 0; i < u.n; i++) {
		oc = by_uid(c, v, KMIP_OP_DESTROY, u.uid[i]);
		if (oc == KMIP_OUTCOME_REVOKE) {
			cr_assert_eq(by_uid(c, v, KMIP_OP_REVOKE, u.uid[i]),
			    KMIP_OUTCOME_OK);
			(*revoked)++;
			oc = by_uid(c, v, KMIP_OP_DESTROY, u.uid[i]);
		}
		if (oc != KMIP_OUTCOME_OK && oc != KMIP_OUTCOME_NOT_FOUND) {
			kmip_uids_free(&u);
			return KMIP_OUTCOME_OTHER;
		}
	}
	kmip_uids_free(&u);
	return KMIP_OUTCOME_OK;
}

static bool
value_is(const struct buf *b, const char *v)
{
	return b->len == strlen(v) && memcmp(b->data, v, b->len) == 0;
}

/* --- tests ---------------------------------------------------------------- */

/* KT2, KT16, spec 3.3: negotiation, status, the version error answer. */
Test(kmip_pykmip, versions_status_and_query)
{
	const struct kmip_version all[] = { v20, v14, { 1, 3 }, v12 };
	const struct kmip_version only14[] = { v14 };
	struct kmip_version	got;
	struct kmip_hdr		h;
	struct kmip_query	q;
	struct kconn		c;
	struct answer		a;
	struct buf		req;
	size_t			i;
	bool			reg = false, loc = false, get = false;

	kconnect(&c);
	got = discover(&c, all, 4);
	cr_assert(got.major == 2 && got.minor == 0, "picked %d.%d",
	    got.major, got.minor);
	got = discover(&c, only14, 1);
	cr_assert(got.major == 1 && got.minor == 4);

	/* Status's fallback: Query Operations. */
	buf_init(&req, 64 * KB);
	h = hdr(v14);
	cr_assert_eq(kmip_req_query(&req, &h), 0);
	roundtrip(&c, &req, &a);
	cr_assert_eq(kmip_parse_query(&a.r.items[0], &q), 0);
	for (i = 0; i < q.nops; i++) {
		reg |= q.ops[i] == KMIP_OP_REGISTER;
		loc |= q.ops[i] == KMIP_OP_LOCATE;
		get |= q.ops[i] == KMIP_OP_GET;
	}
	cr_assert(reg && loc && get);
	/* Vendor Identification answers Query Server Information (3), not
	 * asked here. */
	cr_assert_str_eq(q.vendor, "");
	answer_free(&a);

	/* A header version PyKMIP does not know (2.1): Reason 4 in a 1.0
	 * header, on one item without Operation; spec 3.5: renegotiate. */
	h.version = (struct kmip_version){ 2, 1 };
	cr_assert_eq(kmip_req_discover_versions(&req, &h, all, 4), 0);
	roundtrip(&c, &req, &a);
	cr_assert_eq(a.r.version.major, 1);
	cr_assert_eq(a.r.version.minor, 0);
	cr_assert_eq(a.r.items[0].status, KMIP_STATUS_FAILED);
	cr_assert_eq(a.r.items[0].reason, KMIP_REASON_INVALID_MESSAGE);
	cr_assert_eq(kmip_item_outcome(KMIP_OP_DISCOVER_VERSIONS,
	    &a.r.items[0]), KMIP_OUTCOME_RENEGOTIATE);
	answer_free(&a);
	buf_release(&req);
	kclose(&c);
}

/*
 * KT4, KT8: create (Locate empty, Register, settle, Locate: OK), get
 * (value as stored), a second create of the name (EXISTS, no Register),
 * delete, get after delete (NOT_FOUND: by Locate, and the destroyed UID's
 * Get through spec 3.5), delete absent (OK). Both encodings.
 */
static void
lifecycle(struct kmip_version v, const char *name)
{
	const char		*value = "CgIIAQ==";
	struct kconn		 c;
	struct kmip_uids	 u;
	struct buf		 val;
	char			 uid[KMIP_UID_MAX + 1];
	unsigned int		 revoked = 0, before;

	kconnect(&c);
	registers = 0;
	buf_init(&val, 1 << 20);
	cr_assert_eq(get_by_name(&c, v, name, &val), KMIP_OUTCOME_NOT_FOUND);
	cr_assert_eq(create(&c, v, name, value), KMIP_OUTCOME_OK);
	cr_assert_eq(registers, 1);

	locate_name(&c, v, name, &u);
	cr_assert_eq(u.n, 1);
	(void)snprintf(uid, sizeof(uid), "%s", u.uid[0]);
	kmip_uids_free(&u);

	cr_assert_eq(get_by_name(&c, v, name, &val), KMIP_OUTCOME_OK);
	cr_assert(value_is(&val, value), "got %zu bytes", val.len);
	buf_reset(&val);

	before = registers;
	cr_assert_eq(create(&c, v, name, "another value"),
	    KMIP_OUTCOME_EXISTS);
	cr_assert_eq(registers, before, "EXISTS without a Register");
	cr_assert_eq(get_by_name(&c, v, name, &val), KMIP_OUTCOME_OK);
	cr_assert(value_is(&val, value), "never overwritten");
	buf_reset(&val);

	cr_assert_eq(delete_by_name(&c, v, name, &revoked), KMIP_OUTCOME_OK);
	cr_assert_eq(revoked, 0, "a Pre-Active object is destroyed as is");
	cr_assert_eq(get_by_name(&c, v, name, &val), KMIP_OUTCOME_NOT_FOUND);
	/* A UID destroyed between Locate and Get (KT8): Reason 1. */
	cr_assert_eq(get_value(&c, v, uid, &val), KMIP_OUTCOME_NOT_FOUND);
	cr_assert_eq(val.len, 0);
	cr_assert_eq(by_uid(&c, v, KMIP_OP_DESTROY, uid),
	    KMIP_OUTCOME_NOT_FOUND);
	cr_assert_eq(delete_by_name(&c, v, name, &revoked), KMIP_OUTCOME_OK);
	/* And the name can be created again. */
	cr_assert_eq(create(&c, v, name, "v2"), KMIP_OUTCOME_OK);
	cr_assert_eq(get_by_name(&c, v, name, &val), KMIP_OUTCOME_OK);
	cr_assert(value_is(&val, "v2"));
	buf_release(&val);
	kclose(&c);
}

Test(kmip_pykmip, lifecycle_kmip_2_0)
{
	struct kconn		c;
	struct kmip_version	v;
	const struct kmip_version offer[] = { v20, v14, { 1, 3 }, v12 };

	kconnect(&c);
	v = discover(&c, offer, 4);
	kclose(&c);
	cr_assert_eq(v.major, 2);
	lifecycle(v, "keyward/k1");
}

Test(kmip_pykmip, lifecycle_kmip_1_4)
{
	lifecycle(v14, "keyward/k1");
}

Test(kmip_pykmip, lifecycle_kmip_1_2)
{
	lifecycle(v12, "keyward/k-1.2");
}

/*
 * KT5 (interleaved deterministically), KT6, KT12: two creators of one
 * name both find it free and both Register; after the settle time each
 * sees both objects, agrees on one winner, the loser destroys its own.
 * Batched Get Attributes with Continue: a missing UID fails alone.
 */
static void
race(struct kmip_version v)
{
	const char		*name = "keyward/raced";
	struct kconn		 a, b;
	struct kmip_uids	 u;
	struct kmip_attrs	 at[3];
	enum kmip_outcome	 oc[3], ra, rb;
	struct buf		 val;
	char			 ua[KMIP_UID_MAX + 1], ub[KMIP_UID_MAX + 1];
	char			*three[3];

	kconnect(&a);
	kconnect(&b);
	cr_assert_eq(create_check(&a, v, name), KMIP_OUTCOME_OK);
	cr_assert_eq(create_check(&b, v, name), KMIP_OUTCOME_OK);
	register_value(&a, v, name, NULL, "value of a", ua);
	register_value(&b, v, name, NULL, "value of b", ub);
	usleep(SETTLE_MS * 1000);

	/* KT12: the two and a UID that does not exist, one message. */
	three[0] = ua;
	three[1] = (char *)"999999";
	three[2] = ub;
	get_attributes(&a, v, three, 3,
	    KMIP_ATTR_STATE | KMIP_ATTR_INITIAL_DATE | KMIP_ATTR_NAME, at, oc);
	cr_assert_eq(oc[0], KMIP_OUTCOME_OK);
	cr_assert_eq(oc[1], KMIP_OUTCOME_NOT_FOUND);
	cr_assert_eq(oc[2], KMIP_OUTCOME_OK);
	cr_assert_eq(at[0].state, KMIP_STATE_PRE_ACTIVE);
	cr_assert(at[0].has_initial_date && at[2].has_initial_date);
	cr_assert(at[0].has_name);
	cr_assert_str_eq(at[0].name, name);
	cr_assert_eq(at[0].name_type, KMIP_NAME_TEXT);

	ra = create_settle(&a, v, name, ua);
	rb = create_settle(&b, v, name, ub);
	cr_assert((ra == KMIP_OUTCOME_OK) != (rb == KMIP_OUTCOME_OK),
	    "exactly one creator wins (a %d, b %d)", ra, rb);
	cr_assert(ra == KMIP_OUTCOME_EXISTS || rb == KMIP_OUTCOME_EXISTS);

	locate_name(&a, v, name, &u);
	cr_assert_eq(u.n, 1, "one live object remains");
	cr_assert_str_eq(u.uid[0], ra == KMIP_OUTCOME_OK ? ua : ub);
	kmip_uids_free(&u);
	buf_init(&val, KB);
	cr_assert_eq(get_by_name(&b, v, name, &val), KMIP_OUTCOME_OK);
	cr_assert(value_is(&val, ra == KMIP_OUTCOME_OK ? "value of a" :
	    "value of b"));
	buf_release(&val);
	kclose(&a);
	kclose(&b);
}

Test(kmip_pykmip, settle_rule_kmip_2_0)
{
	race(v20);
}

Test(kmip_pykmip, settle_rule_kmip_1_4)
{
	race(v14);
}

/* KT7: an Active object refuses Destroy (Reason 0C); Revoke (Cessation
 * of Operation), then Destroy. */
Test(kmip_pykmip, delete_active_object_revokes_first)
{
	struct kconn		c;
	struct kmip_version	v = v20;
	struct kmip_attrs	at;
	enum kmip_outcome	oc;
	struct buf		val;
	char			uid[KMIP_UID_MAX + 1], *one[1] = { uid };
	unsigned int		revoked = 0;

	kconnect(&c);
	register_value(&c, v, "keyward/active", NULL, "x", uid);
	cr_assert_eq(by_uid(&c, v, KMIP_OP_ACTIVATE, uid), KMIP_OUTCOME_OK);
	get_attributes(&c, v, one, 1, KMIP_ATTR_STATE, &at, &oc);
	cr_assert_eq(oc, KMIP_OUTCOME_OK);
	cr_assert_eq(at.state, KMIP_STATE_ACTIVE);
	cr_assert_eq(by_uid(&c, v, KMIP_OP_DESTROY, uid),
	    KMIP_OUTCOME_REVOKE);
	cr_assert_eq(delete_by_name(&c, v, "keyward/active", &revoked),
	    KMIP_OUTCOME_OK);
	cr_assert_eq(revoked, 1);
	buf_init(&val, KB);
	cr_assert_eq(get_value(&c, v, uid, &val), KMIP_OUTCOME_NOT_FOUND);
	buf_release(&val);
	kclose(&c);
}

/* KT11 (small): list = Locate by type and group, paged with Maximum and
 * Offset Items, then names from batched Get Attributes. */
static void
list_by_group(struct kmip_version v)
{
	static const char *names[] = { "kes/a", "kes/b", "kes/c", "kes/d",
	    "kes/e" };
	struct kconn		c;
	struct kmip_uids	u;
	struct kmip_locate	l = { NULL, "kw-list", 2, 0 };
	struct kmip_attrs	at[8];
	enum kmip_outcome	oc[8];
	char			uid[KMIP_UID_MAX + 1], *all[8];
	size_t			n = 0, i, k, pages = 0;
	unsigned int		seen = 0;

	kconnect(&c);
	for (i = 0; i < 5; i++)
		register_value(&c, v, names[i], "kw-list", "v", uid);
	register_value(&c, v, "kes/other", NULL, "v", uid);
	for (;;) {
		locate(&c, v, &l, &u);
		pages++;
		for (i = 0; i < u.n; i++) {
			cr_assert_lt(n, 8);
			all[n++] = strdup(u.uid[i]);
		}
		k = u.n;
		kmip_uids_free(&u);
		if (k < 2)
			break;
		l.offset_items += 2;
	}
	cr_assert_eq(n, 5, "the group holds 5 objects");
	cr_assert_eq(pages, 3);
	get_attributes(&c, v, all, n, KMIP_ATTR_NAME | KMIP_ATTR_STATE, at,
	    oc);
	for (i = 0; i < n; i++) {
		cr_assert_eq(oc[i], KMIP_OUTCOME_OK);
		cr_assert(at[i].has_name);
		for (k = 0; k < 5; k++)
			if (strcmp(at[i].name, names[k]) == 0)
				seen |= 1u << k;
		free(all[i]);
	}
	cr_assert_eq(seen, 0x1f, "every name once");
	kclose(&c);
}

Test(kmip_pykmip, list_by_group_in_pages_kmip_1_4)
{
	list_by_group(v14);
}

Test(kmip_pykmip, list_by_group_in_pages_kmip_2_0)
{
	list_by_group(v20);
}

/*
 * KT1: no client certificate, a TLS-1.3-only client (handshake failures:
 * UNREACHABLE for the store), a certificate without EKU clientAuth (Reason
 * 3 -> OTHER, with a hint). KT13: an answer over Maximum Response Size
 * (Reason 2 -> a smaller request).
 */
Test(kmip_pykmip, tls_auth_and_response_size)
{
	const struct kmip_version all[] = { v20, v14, { 1, 3 }, v12 };
	struct kmip_hdr		h = hdr(v12);
	struct kconn		c;
	struct answer		a;
	struct buf		req;

	cr_assert_eq(kconnect_ex(&c, NULL, 0), -1,
	    "a client without a certificate got through");
	kclose(&c);
	ERR_clear_error();
	cr_assert_eq(kconnect_ex(&c, "client", TLS1_3_VERSION), -1,
	    "PyKMIP speaks TLS 1.2 only");
	kclose(&c);
	ERR_clear_error();

	buf_init(&req, 64 * KB);
	cr_assert_eq(kconnect_ex(&c, "noeku", 0), 0, "%s", ssl_errors());
	cr_assert_eq(kmip_req_discover_versions(&req, &h, all, 4), 0);
	roundtrip(&c, &req, &a);
	cr_assert_eq(a.r.items[0].status, KMIP_STATUS_FAILED);
	cr_assert_eq(a.r.items[0].reason, KMIP_REASON_AUTH_FAILED, "%u %s",
	    a.r.items[0].reason, a.r.items[0].msg);
	cr_assert_eq(kmip_item_outcome(KMIP_OP_DISCOVER_VERSIONS,
	    &a.r.items[0]), KMIP_OUTCOME_OTHER);
	cr_assert_not_null(kmip_reason_hint(a.r.items[0].reason));
	answer_free(&a);
	kclose(&c);

	/* The answer to "all versions" is 6 Protocol Versions, over 300
	 * bytes; allow 200. */
	kconnect(&c);
	h.max_response = 200;
	cr_assert_eq(kmip_req_discover_versions(&req, &h, NULL, 0), 0);
	roundtrip(&c, &req, &a);
	cr_assert_eq(a.r.items[0].status, KMIP_STATUS_FAILED);
	cr_assert_eq(a.r.items[0].reason, KMIP_REASON_RESPONSE_TOO_LARGE,
	    "%u %s", a.r.items[0].reason, a.r.items[0].msg);
	cr_assert_eq(kmip_item_outcome(KMIP_OP_DISCOVER_VERSIONS,
	    &a.r.items[0]), KMIP_OUTCOME_SMALLER);
	answer_free(&a);
	h.max_response = 0;
	cr_assert_eq(kmip_req_discover_versions(&req, &h, NULL, 0), 0);
	roundtrip(&c, &req, &a);
	cr_assert_eq(a.r.items[0].status, KMIP_STATUS_SUCCESS);
	answer_free(&a);
	buf_release(&req);
	kclose(&c);
}

/*
 * KT14: a server restart between requests. The pooled connection is
 * dead (a transport failure: UNREACHABLE, then a new connection); the
 * key survives in the server's database.
 */
Test(kmip_pykmip, restart_keeps_keys_and_kills_connections)
{
	struct kmip_version	v = v20;
	struct kmip_hdr		h = hdr(v);
	struct kconn		c, old;
	struct answer		a;
	struct buf		req, val;

	kconnect(&c);
	cr_assert_eq(create(&c, v, "keyward/durable", "kept"),
	    KMIP_OUTCOME_OK);
	kclose(&c);
	kconnect(&old);
	restart_pykmip();

	buf_init(&req, 64 * KB);
	cr_assert_eq(kmip_req_query(&req, &h), 0);
	cr_assert_eq(try_roundtrip(&old, &req, &a), -1,
	    "a connection to the old server still answers");
	answer_free(&a);
	kclose(&old);
	ERR_clear_error();

	kconnect(&c);
	buf_init(&val, KB);
	cr_assert_eq(get_by_name(&c, v, "keyward/durable", &val),
	    KMIP_OUTCOME_OK);
	cr_assert(value_is(&val, "kept"));
	buf_release(&val);
	buf_release(&req);
	kclose(&c);
}

/*
 * Spec 3.2: PyKMIP's TLS 1.2 list has no ECDHE-RSA-GCM suite. With RSA
 * keys OpenSSL's default client list still meets it, but on AES128-SHA256:
 * RSA key exchange, no forward secrecy (PyKMIP's preference). A client
 * list of ECDHE suites only (the store's tls.ciphers) gets
 * ECDHE-RSA-AES*-SHA256/384.
 */
static void
start_pykmip_rsa(void)
{
	cr_assert_eq(setenv("KEYWARD_PYKMIP_KEY", "rsa", 1), 0);
	start_pykmip();
}

TestSuite(kmip_pykmip_rsa, .init = start_pykmip_rsa, .fini = stop_pykmip,
    .timeout = 90);

Test(kmip_pykmip_rsa, cipher_suites_with_rsa_keys)
{
	const struct kmip_version	 all[] = { v20, v14 };
	struct kconn			 c;
	struct kmip_version		 v;
	const char			*cipher;

	kconnect(&c);
	/* AES128-SHA256 with Debian's OpenSSL 3.0 and PyKMIP 0.10.0. */
	cipher = SSL_get_cipher_name(c.ssl);
	cr_log_info("default client list, RSA keys: %s", cipher);
	v = discover(&c, all, 2);
	cr_assert_eq(v.major, 2);
	kclose(&c);

	client_ciphers = "ECDHE:!aNULL:!eNULL";
	kconnect(&c);
	cipher = SSL_get_cipher_name(c.ssl);
	cr_assert_eq(strncmp(cipher, "ECDHE-RSA-AES", 13), 0, "%s", cipher);
	v = discover(&c, all, 2);
	cr_assert_eq(v.major, 2);
	kclose(&c);
}
