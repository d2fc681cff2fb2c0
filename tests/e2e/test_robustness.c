/*
 * Hostile and odd clients against the real server (privilege separation
 * and the sandbox on): what a client that sends plain HTTP, leaves out
 * Host, waits for 100 Continue, offers only CBC suites, trickles a body or
 * never reads its answers meets. Each case was a defect of an adversarial
 * run; each test fails against the server before its fix.
 *
 * A raw client (blocking OpenSSL over a TCP socket, with poll for
 * timeouts) gives the control that curl does not: which suites it offers,
 * when it sends what, and when it reads.
 */
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "tests/lib/testsrv.h"

#define READY_MS	10000

static struct testsrv srv;
static char mounted[PATH_MAX];	/* a tmpfs a test mounted, or "" */

static void
teardown(void)
{
	if (mounted[0] != '\0' && umount2(mounted, MNT_DETACH) == -1)
		cr_log_warn("umount %s: %s", mounted, strerror(errno));
	mounted[0] = '\0';
	tsrv_cleanup(&srv);
}

TestSuite(robustness, .fini = teardown, .timeout = 120);

static void
start(const struct tsrv_cfg *cfg)
{
	struct tsrv_cfg def = { .tls_auth = "" };

	if (geteuid() != 0)
		cr_skip_test("the system tests start the server as root");
	/* A write to a connection the server closed fails; it does not
	 * kill the test. */
	(void)signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s; "
	    "build the server first (`make`)", strerror(errno));
	cr_assert_eq(tsrv_write_config(&srv, cfg ? cfg : &def), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the server did not start; log:\n%s", tsrv_log_tail(&srv));
}

/* A TCP connection to the server; Nagle off unless nagle. */
static int
tcp_open(bool nagle)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd, one = 1;

	sin.sin_port = htons(srv.port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert_geq(fd = socket(AF_INET, SOCK_STREAM, 0), 0);
	if (!nagle)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	cr_assert_eq(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0,
	    "connect: %s", strerror(errno));
	return fd;
}

struct rawtls {
	int	 fd;
	SSL_CTX	*ctx;
	SSL	*ssl;
};

/*
 * A TLS connection as the admin. ciphers: the TLS 1.2 list to offer
 * (NULL: OpenSSL's default); maxver: 0 or the highest version. Returns
 * false when the handshake fails (the struct is then closed).
 */
static bool
tls_open(struct rawtls *t, const char *ciphers, int maxver)
{
	memset(t, 0, sizeof(*t));
	cr_assert_not_null(t->ctx = SSL_CTX_new(TLS_client_method()));
	if (maxver != 0)
		cr_assert_eq(SSL_CTX_set_max_proto_version(t->ctx, maxver), 1);
	if (ciphers != NULL)
		cr_assert_eq(SSL_CTX_set_cipher_list(t->ctx, ciphers), 1);
	cr_assert_eq(SSL_CTX_use_certificate_chain_file(t->ctx,
	    srv.cert[TSRV_ADMIN]), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey_file(t->ctx, srv.key[TSRV_ADMIN],
	    SSL_FILETYPE_PEM), 1);
	SSL_CTX_set_verify(t->ctx, SSL_VERIFY_NONE, NULL);
	t->fd = tcp_open(false);
	cr_assert_not_null(t->ssl = SSL_new(t->ctx));
	cr_assert_eq(SSL_set_fd(t->ssl, t->fd), 1);
	if (SSL_connect(t->ssl) != 1) {
		ERR_clear_error();
		SSL_free(t->ssl);
		SSL_CTX_free(t->ctx);
		close(t->fd);
		memset(t, 0, sizeof(*t));
		t->fd = -1;
		return false;
	}
	return true;
}

static void
tls_close(struct rawtls *t)
{
	if (t->ssl != NULL)
		SSL_free(t->ssl);
	if (t->ctx != NULL)
		SSL_CTX_free(t->ctx);
	if (t->fd >= 0)
		close(t->fd);
	memset(t, 0, sizeof(*t));
	t->fd = -1;
}

static void
tls_send(struct rawtls *t, const char *s)
{
	cr_assert_eq(SSL_write(t->ssl, s, (int)strlen(s)), (int)strlen(s));
}

/*
 * Read into out until `needle` shows up (true), the server closes or
 * timeout_ms pass (false). out is NUL-terminated.
 */
static bool
tls_read_until(struct rawtls *t, const char *needle, char *out,
    size_t outlen, unsigned int timeout_ms)
{
	struct pollfd	 pfd = { .fd = t->fd, .events = POLLIN };
	uint64_t	 end = tsrv_now_ms() + timeout_ms, now;
	size_t		 len = 0;
	int		 n;

	out[0] = '\0';
	for (;;) {
		if (strstr(out, needle) != NULL)
			return true;
		if (!SSL_has_pending(t->ssl)) {
			if ((now = tsrv_now_ms()) >= end)
				return false;
			if (poll(&pfd, 1, (int)(end - now)) <= 0)
				return false;
		}
		if (len + 1 >= outlen)
			return false;
		n = SSL_read(t->ssl, out + len, (int)(outlen - len - 1));
		if (n <= 0) {
			ERR_clear_error();
			return strstr(out, needle) != NULL;
		}
		len += (size_t)n;
		out[len] = '\0';
	}
}

/* --- 12. Host and plain HTTP ------------------------------------------ */

Test(robustness, missing_host)
{
	char	raw[4096];
	long	n;

	start(NULL);
	n = tsrv_raw(&srv, TSRV_ADMIN, "GET /version HTTP/1.1\r\n\r\n",
	    strlen("GET /version HTTP/1.1\r\n\r\n"), raw, sizeof(raw), 3000);
	cr_assert_gt(n, 0, "%s", raw);
	cr_expect_eq(strncmp(raw, "HTTP/1.1 400 ", 13), 0, "%s", raw);
	cr_expect_not_null(strstr(raw, "missing required Host header"), "%s",
	    raw);
	/* An empty Host is a Host (as in Go); HTTP/1.0 needs none. */
	n = tsrv_raw(&srv, TSRV_ADMIN, "GET /version HTTP/1.1\r\nHost:\r\n"
	    "Connection: close\r\n\r\n", strlen("GET /version HTTP/1.1\r\n"
	    "Host:\r\nConnection: close\r\n\r\n"), raw, sizeof(raw), 3000);
	cr_expect_eq(strncmp(raw, "HTTP/1.1 200 ", 13), 0, "%s", raw);
	n = tsrv_raw(&srv, TSRV_ADMIN, "GET /version HTTP/1.0\r\n\r\n",
	    strlen("GET /version HTTP/1.0\r\n\r\n"), raw, sizeof(raw), 3000);
	cr_expect_eq(strncmp(raw + 8, " 200 ", 5), 0, "%s", raw);
}

Test(robustness, plain_http_on_tls_port)
{
	static const char want[] = "HTTP/1.0 400 Bad Request\r\n\r\n"
	    "Client sent an HTTP request to an HTTPS server.\n";
	static const char *reqs[] = {
		"GET /version HTTP/1.1\r\nHost: k\r\n\r\n",
		"POST /v1/key/create/k HTTP/1.1\r\nHost: k\r\n\r\n",
		"PUT /v1/key/create/k HTTP/1.1\r\nHost: k\r\n\r\n",
		"HEAD / HTTP/1.1\r\nHost: k\r\n\r\n",
	};
	char	got[512];
	size_t	i, len;
	ssize_t	n;
	int	fd;

	start(NULL);
	for (i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
		fd = tcp_open(false);
		cr_assert_eq(write(fd, reqs[i], strlen(reqs[i])),
		    (ssize_t)strlen(reqs[i]));
		len = 0;
		while (len < sizeof(got) - 1 &&
		    (n = read(fd, got + len, sizeof(got) - 1 - len)) > 0)
			len += (size_t)n;
		got[len] = '\0';
		close(fd);
		cr_expect_str_eq(got, want, "%s", reqs[i]);
	}
}

/* --- 13. TLS 1.2 suites ----------------------------------------------- */

Test(robustness, tls12_aead_only)
{
	static const char *cbc[] = {
		"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES128-SHA256",
		"ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES256-SHA384",
		"ECDHE-RSA-AES128-SHA", "AES128-SHA", "AES128-GCM-SHA256",
	};
	static const char *aead[] = {
		"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
		"ECDHE-ECDSA-CHACHA20-POLY1305",
	};
	struct rawtls	t;
	size_t		i;

	start(NULL);
	for (i = 0; i < sizeof(cbc) / sizeof(cbc[0]); i++) {
		cr_expect_not(tls_open(&t, cbc[i], TLS1_2_VERSION),
		    "TLS 1.2 with %s was accepted", cbc[i]);
		tls_close(&t);
	}
	for (i = 0; i < sizeof(aead) / sizeof(aead[0]); i++) {
		cr_expect(tls_open(&t, aead[i], TLS1_2_VERSION),
		    "TLS 1.2 with %s was refused", aead[i]);
		if (t.ssl != NULL)
			cr_expect_str_eq(SSL_get_cipher_name(t.ssl), aead[i]);
		tls_close(&t);
	}
}

/* --- 5. Expect: 100-continue ------------------------------------------ */

/*
 * A client that waits for 100 Continue before it sends its body (curl
 * with a long --expect100-timeout) gets it at once, then its answer.
 */
Test(robustness, continue_is_sent_before_the_body)
{
	struct rawtls	t;
	char		got[4096];

	start(NULL);
	cr_assert(tls_open(&t, NULL, 0));
	tls_send(&t, "PUT /v1/key/create/cont-key HTTP/1.1\r\nHost: k\r\n"
	    "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n");
	cr_assert(tls_read_until(&t, "HTTP/1.1 100 Continue\r\n\r\n", got,
	    sizeof(got), 3000), "no 100 Continue before the body: '%s'",
	    got);
	tls_send(&t, "{}");
	cr_expect(tls_read_until(&t, "HTTP/1.1 200 ", got, sizeof(got),
	    3000), "no answer after the body: '%s'", got);
	tls_close(&t);
}

/* --- 6. header and body timeouts -------------------------------------- */

/* An 8 KB body sent at 1 KB/s takes longer than the 5 s head timeout and
 * is answered all the same. */
Test(robustness, slow_body_within_its_timeout)
{
	struct rawtls	t;
	char		got[4096], head[256], piece[1025];
	int		i;

	start(NULL);
	cr_assert(tls_open(&t, NULL, 0));
	/* A JSON body of 8 KB: an 8 KB "context" the route ignores. */
	snprintf(head, sizeof(head), "PUT /v1/key/create/slow-key HTTP/1.1\r\n"
	    "Host: k\r\nContent-Length: %d\r\n\r\n", 8 * 1024);
	tls_send(&t, head);
	memset(piece, ' ', 1024);
	piece[1024] = '\0';
	for (i = 0; i < 8; i++) {
		tsrv_sleep_ms(1000);
		tls_send(&t, piece);
	}
	cr_expect(tls_read_until(&t, "HTTP/1.1 200 ", got, sizeof(got),
	    5000), "8 KB at 1 KB/s: '%s'", got);
	tls_close(&t);
}

/* A body that stops coming gets 408 once BODY_TIMEOUT_MS (15 s) passed;
 * a head that stops coming, once the 5 s head timeout passed. */
Test(robustness, stalled_body_and_head_get_408)
{
	struct rawtls	body, head;
	char		got[4096];
	uint64_t	t0;

	start(NULL);
	cr_assert(tls_open(&body, NULL, 0));
	cr_assert(tls_open(&head, NULL, 0));
	t0 = tsrv_now_ms();
	tls_send(&body, "PUT /v1/key/create/k HTTP/1.1\r\nHost: k\r\n"
	    "Content-Length: 100\r\n\r\n{\"a\":");
	tls_send(&head, "GET /v1/status HTTP/1.1\r\nHo");
	cr_expect(tls_read_until(&head, "HTTP/1.1 408 ", got, sizeof(got),
	    9000), "stalled head: '%s'", got);
	cr_expect_geq(tsrv_now_ms() - t0, 4500, "408 before the head "
	    "timeout");
	cr_expect(tls_read_until(&body, "HTTP/1.1 408 ", got, sizeof(got),
	    15000), "stalled body: '%s'", got);
	cr_expect_geq(tsrv_now_ms() - t0, 14500, "408 before the body "
	    "timeout");
	tls_close(&body);
	tls_close(&head);
}

/* --- 3. clients that do not read --------------------------------------- */

/*
 * A client pipelines GET /nope as fast as it can and never reads. Another
 * client is served meanwhile, and the flood's connection is gone within
 * the write deadline (10 s once the send queue is full) plus the sweep.
 */
Test(robustness, client_that_never_reads)
{
	static const char req[] = "GET /nope HTTP/1.1\r\nHost: k\r\n\r\n";
	struct rawtls	 t;
	struct pollfd	 pfd;
	char		 batch[sizeof(req) * 256], body[512];
	uint64_t	 t0, stalled = 0;
	size_t		 i, sent = 0;
	long		 code;
	int		 r;

	start(NULL);
	for (i = 0; i < 256; i++)
		memcpy(batch + i * (sizeof(req) - 1), req, sizeof(req) - 1);
	cr_assert(tls_open(&t, NULL, 0));
	cr_assert_eq(BIO_socket_nbio(t.fd, 1), 1);
	t0 = tsrv_now_ms();
	/* Write until the write side has been stuck for 2 s. */
	while (tsrv_now_ms() - t0 < 20000) {
		r = SSL_write(t.ssl, batch, (int)(256 * (sizeof(req) - 1)));
		if (r > 0) {
			sent += (size_t)r;
			stalled = 0;
			continue;
		}
		ERR_clear_error();
		if (SSL_get_error(t.ssl, r) != SSL_ERROR_WANT_WRITE)
			break;		/* already gone */
		if (stalled == 0)
			stalled = tsrv_now_ms();
		else if (tsrv_now_ms() - stalled > 2000)
			break;
		tsrv_sleep_ms(50);
	}
	cr_assert_gt(sent, 1u << 20, "only %zu bytes went out", sent);

	/* Another client is served meanwhile. */
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, sizeof(body));
	cr_expect_eq(code, 200, "another client: %ld %s", code, body);

	/* The server drops the flood (a reset: it never read the rest). */
	pfd.fd = t.fd;
	pfd.events = POLLRDHUP;
	for (;;) {
		pfd.revents = 0;
		if (poll(&pfd, 1, 200) > 0 &&
		    (pfd.revents & (POLLERR | POLLHUP | POLLRDHUP)))
			break;
		cr_assert_lt(tsrv_now_ms() - t0, 40000, "the connection of a "
		    "client that never reads is still open after 40 s");
	}
	tls_close(&t);
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, sizeof(body));
	cr_expect_eq(code, 200, "after: %ld %s", code, body);
}

/* --- 8. admin identities ------------------------------------------------ */

/*
 * An admin identity that cannot be one (uppercase hex, 63 characters,
 * text around a variable) stops the start with a message that says what
 * an identity looks like; it used to disable admin access silently.
 */
Test(robustness, admin_identity_must_be_one)
{
	static const char *bad[] = {
		"3ECFCDF38FCBE141AE26A1030F81E96B753365A46760AE6B578698A97C59FD22",
		"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd2",
		"x-${HOME}",
	};
	struct tsrv_cfg	 cfg = { .tls_auth = "" };
	size_t		 i;
	int		 status;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (geteuid() != 0)
			cr_skip_test("the system tests start the server as "
			    "root");
		cr_assert_eq(tsrv_init(&srv, NULL), 0);
		cfg.admin = bad[i];
		cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
		cr_assert_eq(tsrv_start(&srv), 0);
		status = -1;
		cr_assert_eq(tsrv_wait_exit(&srv, 5000, &status), 0,
		    "admin.identity '%s': the server did not exit; log:\n%s",
		    bad[i], tsrv_log_tail(&srv));
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0,
		    "exit status %#x", status);
		cr_expect_gt(tsrv_log_count(&srv, "admin.identity"), 0,
		    "'%s': %s", bad[i], tsrv_log_tail(&srv));
		cr_expect_gt(tsrv_log_count(&srv, "lowercase hexadecimal"), 0,
		    "'%s': %s", bad[i], tsrv_log_tail(&srv));
		cr_expect_eq(tsrv_log_count(&srv, "serving on"), 0);
		tsrv_cleanup(&srv);
		memset(&srv, 0, sizeof(srv));
	}
}

/* --- 7. clients that leave Nagle's algorithm on -------------------------- */

/*
 * A client with Nagle's algorithm on sends its first request only once
 * its Finished is ACKed; the server sends nothing after the handshake, so
 * a delayed ACK (40 ms on Linux, its minimum) would hold every new
 * connection's first request. The fastest of five first requests must
 * come back well before the delayed-ACK timer could have fired: this is
 * about a 40 ms protocol stall, not speed (noise only adds time, so the
 * minimum is what counts).
 */
Test(robustness, nagle_client_first_request)
{
	static const char req[] = "GET /version HTTP/1.1\r\nHost: k\r\n"
	    "Connection: close\r\n\r\n";
	SSL_CTX		*ctx;
	SSL		*ssl;
	char		 got[1024];
	uint64_t	 t0, ms, best = UINT64_MAX;
	int		 i, fd, n;

	start(NULL);
	cr_assert_not_null(ctx = SSL_CTX_new(TLS_client_method()));
	cr_assert_eq(SSL_CTX_use_certificate_chain_file(ctx,
	    srv.cert[TSRV_ADMIN]), 1);
	cr_assert_eq(SSL_CTX_use_PrivateKey_file(ctx, srv.key[TSRV_ADMIN],
	    SSL_FILETYPE_PEM), 1);
	for (i = 0; i < 5; i++) {
		fd = tcp_open(true);
		cr_assert_not_null(ssl = SSL_new(ctx));
		cr_assert_eq(SSL_set_fd(ssl, fd), 1);
		cr_assert_eq(SSL_connect(ssl), 1);
		t0 = tsrv_now_ms();
		cr_assert_eq(SSL_write(ssl, req, sizeof(req) - 1),
		    (int)sizeof(req) - 1);
		n = SSL_read(ssl, got, sizeof(got) - 1);
		ms = tsrv_now_ms() - t0;
		cr_assert_gt(n, 0);
		got[n] = '\0';
		cr_assert_eq(strncmp(got, "HTTP/1.1 200 ", 13), 0, "%s", got);
		if (ms < best)
			best = ms;
		SSL_free(ssl);
		close(fd);
	}
	SSL_CTX_free(ctx);
	cr_expect_lt(best, 30, "the fastest first request of a Nagle client "
	    "took %llu ms: the server delayed the ACK of its Finished",
	    (unsigned long long)best);
}

/* --- 2. encrypt and decrypt share one limit ------------------------------ */

static size_t
b64len(size_t n)
{
	return (n + 2) / 3 * 4;
}

/* {"<field>":"<base64 of n bytes of v>"} */
static char *
json_b64_body(const char *field, size_t n, unsigned char v, size_t *len)
{
	unsigned char	*raw;
	char		*out;
	size_t		 pre = strlen(field) + 5;
	int		 k;

	cr_assert_not_null(raw = malloc(n + 1));
	memset(raw, v, n);
	cr_assert_not_null(out = malloc(pre + b64len(n) + 3));
	snprintf(out, pre + 1, "{\"%s\":\"", field);
	k = EVP_EncodeBlock((unsigned char *)out + pre, raw, (int)n);
	cr_assert_eq((size_t)k, b64len(n));
	memcpy(out + pre + k, "\"}", 3);
	*len = pre + (size_t)k + 2;
	free(raw);
	return out;
}

/*
 * The largest plaintext (no context) whose ciphertext still fits a decrypt
 * request of 1 MB is encrypted and decrypts; one byte more is refused by
 * encrypt (KES encrypted it and then refused the decrypt).
 */
Test(robustness, encrypt_only_what_decrypts)
{
	struct tsrv_req	 q = { .method = "PUT", .timeout_ms = 10000 };
	struct tsrv_resp r = { 0 };
	const size_t	 overhead = 16 + 12 + 16;	/* iv, nonce, tag */
	size_t		 pmax = 0, len;
	char		*body, *ct, *dec;
	const char	*p, *e;

	start(NULL);
	/* Independently of the server: {"ciphertext":"<b64>"} <= 1 MB. */
	while (strlen("{\"ciphertext\":\"\"}") + b64len(pmax + 1 + overhead) <=
	    1000000)
		pmax++;
	q.method = "PUT";
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/create/big", &q, &r);
	cr_assert_eq(r.status, 200, "%ld %s", r.status, r.body);
	tsrv_resp_free(&r);

	body = json_b64_body("plaintext", pmax, 'a', &len);
	q.body = body;
	q.body_len = len;
	memset(&r, 0, sizeof(r));
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/encrypt/big", &q, &r);
	cr_assert_eq(r.status, 200, "encrypt of %zu bytes: %ld %.200s", pmax,
	    r.status, r.body ? r.body : r.err);
	free(body);
	/* Send its ciphertext back, exactly as the answer has it. */
	cr_assert_not_null(p = strstr(r.body, "\"ciphertext\":\""));
	p += strlen("\"ciphertext\":\"");
	cr_assert_not_null(e = strchr(p, '"'));
	cr_assert_not_null(ct = malloc((size_t)(e - p) + 32));
	len = (size_t)snprintf(ct, (size_t)(e - p) + 32, "{\"ciphertext\":"
	    "\"%.*s\"}", (int)(e - p), p);
	cr_assert_leq(len, 1000000);
	tsrv_resp_free(&r);
	memset(&r, 0, sizeof(r));
	q.body = ct;
	q.body_len = len;
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/decrypt/big", &q, &r);
	cr_expect_eq(r.status, 200, "decrypt of encrypt's answer (%zu bytes): "
	    "%ld %.200s", len, r.status, r.body ? r.body : r.err);
	if (r.status == 200) {
		dec = json_b64_body("plaintext", pmax, 'a', &len);
		cr_expect_eq(strncmp(r.body, dec, len), 0, "the plaintext "
		    "came back different");
		free(dec);
	}
	free(ct);
	tsrv_resp_free(&r);

	/* One byte more: refused, with a reason. */
	body = json_b64_body("plaintext", pmax + 1, 'a', &len);
	q.body = body;
	q.body_len = len;
	memset(&r, 0, sizeof(r));
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/encrypt/big", &q, &r);
	cr_expect_eq(r.status, 400, "encrypt of %zu bytes: %ld", pmax + 1,
	    r.status);
	cr_expect_not_null(r.body ? strstr(r.body, "plaintext is too large") :
	    NULL, "%s", r.body ? r.body : r.err);
	free(body);
	tsrv_resp_free(&r);
}

/* --- 10. client bytes in JSON bodies and log lines ----------------------- */

/*
 * Paths with invalid UTF-8 and with a right-to-left override: every error
 * body is valid JSON (jansson refuses invalid UTF-8), and the server's
 * whole log, audit lines included, stays printable ASCII.
 */
Test(robustness, client_bytes_escaped)
{
	static const char *paths[] = {
		"/v1/key/describe/%ff",
		"/v1/key/describe/%c0%af",
		"/v1/key/describe/a%e2%80%aeb",
		"/v1/key/create/caf%c3%a9",
		"/v1/key/list/%ff%fe",
		"/v1/policy/describe/%ed%a0%80",
		"/v1/identity/describe/%1b%5b31m",
	};
	struct tsrv_resp r = { 0 };
	struct tsrv_req	 q = { 0 };
	json_error_t	 jerr;
	json_t		*j;
	FILE		*f;
	size_t		 i;
	int		 ch, line = 1, bad = 0;

	start(NULL);
	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		q.method = strstr(paths[i], "create") ? "PUT" : "GET";
		memset(&r, 0, sizeof(r));
		tsrv_request(&srv, TSRV_ADMIN, paths[i], &q, &r);
		cr_expect_geq(r.status, 400, "%s: %ld", paths[i], r.status);
		j = json_loadb(r.body ? r.body : "", r.len, 0, &jerr);
		cr_expect_not_null(j, "%s: the error body is not JSON (%s): %s",
		    paths[i], jerr.text, r.body ? r.body : r.err);
		json_decref(j);
		tsrv_resp_free(&r);
	}
	cr_assert_eq(tsrv_wait_log(&srv, "\\u202e", 1, 3000), 0,
	    "no escaped U+202E in the log:\n%s", tsrv_log_tail(&srv));
	cr_expect_gt(tsrv_log_count(&srv, "req.path=\"/v1/key/describe/"
	    "\\xff\""), 0, "%s", tsrv_log_tail(&srv));
	cr_assert_not_null(f = fopen(srv.log, "r"));
	while ((ch = fgetc(f)) != EOF) {
		if (ch == '\n')
			line++;
		else if (ch < 0x20 || ch >= 0x7f) {
			if (bad++ == 0)
				cr_expect_fail("log line %d has byte 0x%02x",
				    line, ch);
		}
	}
	fclose(f);
	cr_expect_eq(bad, 0, "%d bytes outside printable ASCII in the log",
	    bad);
}

/* --- 11. a clean stop is quiet ---------------------------------------- */

/* SIGTERM after some traffic: exit 0 and not one warning (the parent took
 * the crypto process's goodbye for a fault and logged it). Five times. */
Test(robustness, sigterm_logs_no_warning)
{
	char	body[512];
	int	i, status;
	long	code;

	for (i = 0; i < 5; i++) {
		start(NULL);
		code = tsrv_get(&srv, TSRV_ADMIN, "/v1/key/list/", body,
		    sizeof(body));
		cr_assert_eq(code, 200, "%ld %s", code, body);
		cr_assert_eq(kill(srv.pid, SIGTERM), 0);
		status = -1;
		cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0);
		cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "exit status %#x", status);
		cr_expect_eq(tsrv_log_count(&srv, "warning"), 0,
		    "run %d: a clean stop logged a warning:\n%s", i,
		    tsrv_log_tail(&srv));
		/* The sanitizer build's runtime says once per worker that
		 * OpenSSL's async handshake switched stacks ("False
		 * positive error reports may follow"): not a log line of
		 * keyward's. */
		cr_expect_eq(tsrv_log_count(&srv, "error") -
		    tsrv_log_count(&srv, "False positive error reports"), 0,
		    "run %d:\n%s", i, tsrv_log_tail(&srv));
		tsrv_cleanup(&srv);
		memset(&srv, 0, sizeof(srv));
	}
}

/* --- 9. a full key store ------------------------------------------------ */

static long
put(const char *path, struct tsrv_resp *r)
{
	struct tsrv_req q = { .method = "PUT" };

	tsrv_resp_free(r);
	memset(r, 0, sizeof(*r));
	return tsrv_request(&srv, TSRV_ADMIN, path, &q, r);
}

/*
 * The key store directory on a tmpfs that is then filled to the last
 * byte: creating a key that exists is still 400 `key already exists`
 * (it was 502 `failed to create key`), a new key fails, and a restart
 * with the existing key declared in `keys:` logs nothing about it.
 */
Test(robustness, full_store_still_knows_its_keys)
{
	struct tsrv_cfg	 cfg = { .tls_auth = "", .extra =
			    "keys:\n  - name: decl-full\n" };
	struct tsrv_resp r = { 0 };
	struct passwd	*pw;
	char		 opts[128], cmd[PATH_MAX + 64];
	int		 status;

	if (geteuid() != 0)
		cr_skip_test("mounts a tmpfs and starts the server as root");
	if ((pw = getpwnam("keyward")) == NULL)
		cr_skip_test("user keyward is missing");
	(void)signal(SIGPIPE, SIG_IGN);
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	cr_assert_eq(mkdir(srv.keys, 0700), 0, "%s", strerror(errno));
	snprintf(opts, sizeof(opts), "size=256k,mode=0700,uid=%u,gid=%u",
	    (unsigned)pw->pw_uid, (unsigned)pw->pw_gid);
	cr_assert_eq(mount("tmpfs", srv.keys, "tmpfs", 0, opts), 0,
	    "mount tmpfs: %s", strerror(errno));
	snprintf(mounted, sizeof(mounted), "%s", srv.keys);
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "%s",
	    tsrv_log_tail(&srv));
	cr_assert_eq(tsrv_wait_log(&srv, "created key 'decl-full'", 1, 5000),
	    0, "%s", tsrv_log_tail(&srv));
	cr_assert_eq(put("/v1/key/create/k1", &r), 200, "%s", r.body);

	/* Fill it: dd stops at ENOSPC. */
	snprintf(cmd, sizeof(cmd), "dd if=/dev/zero of='%s/fill' bs=4k "
	    ">/dev/null 2>&1; true", srv.keys);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(put("/v1/key/create/new-one", &r), 502,
	    "a new key on a full disk: %ld %s", r.status, r.body);
	cr_expect_eq(put("/v1/key/create/k1", &r), 400, "%ld %s", r.status,
	    r.body);
	cr_expect_str_eq(r.body ? r.body : "",
	    "{\"message\":\"key already exists\"\n}");
	cr_expect_eq(put("/v1/key/create/decl-full", &r), 400, "%ld %s",
	    r.status, r.body);
	tsrv_resp_free(&r);

	/* A restart with the declared key: nothing to say about it. */
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "%s",
	    tsrv_log_tail(&srv));
	tsrv_sleep_ms(1000);
	cr_expect_eq(tsrv_log_count(&srv, "cannot create"), 0, "%s",
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "key 'decl-full'"), 1,
	    "only the first start created it:\n%s", tsrv_log_tail(&srv));
}

/* --- 1. listing every key ------------------------------------------------ */

/*
 * 10,000 keys (files written straight into the store; listing reads only
 * names) are listed whole in one answer by the raw route, with no
 * continue_at, and by `keyward ls` (KES stopped at 1024, and a client
 * following continue_at got 1,025 names).
 */
Test(robustness, list_ten_thousand_keys)
{
	struct tsrv_req	 q = { .timeout_ms = 20000 };
	struct tsrv_resp r = { 0 };
	struct stat	 st;
	json_error_t	 jerr;
	json_t		*j;
	char		 path[PATH_MAX + 32], cmd[8 * PATH_MAX], out[PATH_MAX + 16];
	size_t		 i;
	int		 fd;

	start(NULL);
	cr_assert_eq(tsrv_wait_log(&srv, "serving on", 1, 100), 0);
	/* The store exists once the agent ran; write as its owner. */
	cr_assert_eq(stat(srv.keys, &st), 0, "%s", strerror(errno));
	for (i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "%s/bulk-%05zu", srv.keys, i);
		cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT | O_EXCL,
		    0600), 0, "%s: %s", path, strerror(errno));
		cr_assert_eq(write(fd, "{}", 2), 2);
		cr_assert_eq(fchown(fd, st.st_uid, st.st_gid), 0);
		close(fd);
	}

	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/list/", &q, &r);
	cr_assert_eq(r.status, 200, "%ld %.200s", r.status, r.body);
	cr_log_info("10,000 names: an answer of %zu bytes", r.len);
	cr_assert_not_null(j = json_loadb(r.body, r.len, 0, &jerr), "%s",
	    jerr.text);
	cr_expect_eq(json_array_size(json_object_get(j, "names")), 10000);
	cr_expect_null(json_object_get(j, "continue_at"), "continue_at: %s",
	    json_string_value(json_object_get(j, "continue_at")));
	json_decref(j);
	tsrv_resp_free(&r);

	/* The client command, JSON when piped. */
	cr_assert_lt(snprintf(out, sizeof(out), "%s/ls.json", srv.dir),
	    (int)sizeof(out));
	cr_assert_lt(snprintf(cmd, sizeof(cmd), "KES_SERVER=https://127.0.0.1:%d "
	    "KES_CLIENT_CERT='%s' KES_CLIENT_KEY='%s' KES_CAPATH='%s' "
	    "'%s' ls 'bulk-*' > '%s' 2>&1 < /dev/null", srv.port,
	    srv.cert[TSRV_ADMIN], srv.key[TSRV_ADMIN], srv.ca, srv.exe, out),
	    (int)sizeof(cmd));
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	cr_assert_not_null(j = json_load_file(out, 0, &jerr), "%s: %s", out,
	    jerr.text);
	cr_expect_eq(json_array_size(j), 10000, "keyward ls listed %zu",
	    json_array_size(j));
	cr_expect_str_eq(json_string_value(json_array_get(j, 9999)),
	    "bulk-09999");
	json_decref(j);
}

/* --- 4. chunked bodies cost what they weigh ----------------------------- */

/* keyward_http_chunked_input_bytes from /v1/metrics; -1 if missing. */
static long long
chunked_metric(void)
{
	struct tsrv_resp r = { 0 };
	struct tsrv_req	 q = { 0 };
	const char	*p;
	long long	 v = -1;

	tsrv_request(&srv, TSRV_ADMIN, "/v1/metrics", &q, &r);
	if (r.status == 200 && r.body != NULL &&
	    (p = strstr(r.body, "\nkeyward_http_chunked_input_bytes ")) != NULL)
		v = strtoll(p + strlen("\nkeyward_http_chunked_input_bytes "),
		    NULL, 10);
	tsrv_resp_free(&r);
	return v;
}

/*
 * A chunked body of 6 KB sent one byte per TLS record: the decoder reads
 * each framed byte once (it read the whole body again on every record, 18
 * million bytes for this one), counted by the server's own metric.
 */
Test(robustness, chunked_body_decoded_once)
{
	struct tsrv_resp r = { 0 };
	struct tsrv_req	 q = { .method = "PUT" };
	struct rawtls	 t;
	char		 body[8192], framed[8400], got[4096];
	long long	 before, after;
	size_t		 i, len, flen;

	start(NULL);
	tsrv_request(&srv, TSRV_ADMIN, "/v1/key/create/ck", &q, &r);
	cr_assert_eq(r.status, 200, "%ld", r.status);
	tsrv_resp_free(&r);
	memcpy(body, "{\"context\":\"", 12);
	for (len = 12; len < 12 + 6000; len++)
		body[len] = 'A';
	memcpy(body + len, "\"}", 2);
	len += 2;
	flen = (size_t)snprintf(framed, sizeof(framed), "%zx\r\n", len);
	memcpy(framed + flen, body, len);
	flen += len;
	memcpy(framed + flen, "\r\n0\r\n\r\n", 7);
	flen += 7;

	cr_assert_geq(before = chunked_metric(), 0, "no "
	    "keyward_http_chunked_input_bytes in /v1/metrics");
	cr_assert(tls_open(&t, NULL, 0));
	tls_send(&t, "PUT /v1/key/generate/ck HTTP/1.1\r\nHost: k\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < flen; i++)
		cr_assert_eq(SSL_write(t.ssl, framed + i, 1), 1);
	cr_assert(tls_read_until(&t, "HTTP/1.1 200 ", got, sizeof(got),
	    10000), "'%s'", got);
	tls_close(&t);
	after = chunked_metric();
	cr_expect_eq(after - before, (long long)flen, "decoded %lld bytes "
	    "for a body of %zu framed bytes", after - before, flen);
}
