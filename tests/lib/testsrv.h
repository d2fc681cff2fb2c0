/*
 * End-to-end test helpers: a throw-away PKI made with the openssl CLI, a
 * configuration file, a keyward server started with fork+exec on a free
 * port (stderr to a log file), requests over mutual TLS with libcurl, and
 * views of the server's children through /proc. Everything lives in one
 * temporary directory that tsrv_cleanup() removes, after killing whatever
 * is left of the server.
 *
 * Functions return 0 (or a count, a pid, a status) on success and -1 on
 * failure; they never abort the test, so the caller's assertion says what
 * was expected.
 */
#ifndef KEYWARD_TESTSRV_H
#define KEYWARD_TESTSRV_H

#include <sys/types.h>

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSRV_IDLEN	64
#define TSRV_MAXPROCS	32

/* The client certificates of the PKI. */
enum tsrv_client {
	TSRV_ADMIN = 0,		/* admin.identity */
	TSRV_NOBODY,		/* neither admin nor in a policy */
	TSRV_STATUS,		/* in the policy "status": allow /v1/status */
	TSRV_NCLIENTS
};

struct tsrv_cfg {
	unsigned int	 workers;	/* server.workers; 0 means 2 */
	unsigned int	 crypto;	/* server.crypto; 0 leaves it out
					 * (auto) */
	const char	*cert;		/* tls.cert; NULL: the PKI's */
	const char	*key;		/* tls.key; NULL: the PKI's */
	const char	*extra;		/* YAML appended verbatim (api: ...) */
	bool		 nobody_policy;	/* also give TSRV_NOBODY a policy */
	/*
	 * More entries of the one `policy:` map (a second `policy:` key
	 * would be a duplicate, which the configuration refuses), verbatim
	 * and indented by two spaces, e.g.
	 * "  app:\n    allow:\n      - /v1/status\n    identities:\n ...".
	 */
	const char	*policies;
	/* tls.auth: NULL keeps "on" (with tls.ca), "" leaves both out (KES's
	 * default: any certificate, no chain check), else that value. */
	const char	*tls_auth;
	/* log.audit: NULL leaves it out (on, KES's default), else that
	 * value. */
	const char	*audit;
	/* admin.identity: NULL is TSRV_ADMIN's identity. */
	const char	*admin;
	/* More of the keystore: section after fs (keystore.seal), verbatim
	 * and indented by two spaces. */
	const char	*keystore_extra;
};

/* A client certificate made after tsrv_init(): files and identity. */
struct tsrv_cert {
	char	cert[PATH_MAX];
	char	key[PATH_MAX];
	char	id[TSRV_IDLEN + 1];
};

struct tsrv_proc {
	pid_t	pid;
	char	cmd[128];		/* argv joined by spaces */
};

struct testsrv {
	char		dir[PATH_MAX];		/* the temporary directory */
	char		pki[PATH_MAX];
	char		chroot[PATH_MAX];	/* root-owned 0755, empty */
	char		keys[PATH_MAX];		/* keystore.fs.path */
	char		config[PATH_MAX];
	char		log[PATH_MAX];		/* the server's stdout+stderr */
	char		exe[PATH_MAX];		/* the binary started */
	char		ca[PATH_MAX];
	char		cert[TSRV_NCLIENTS][PATH_MAX];
	char		key[TSRV_NCLIENTS][PATH_MAX];
	char		id[TSRV_NCLIENTS][TSRV_IDLEN + 1];
	int		port;
	pid_t		pid;			/* the parent; 0: none */
	bool		reaped;
	bool		dev;		/* start `server --dev --addr` instead */
	const char	*args[8];	/* more arguments after --config FILE,
					 * NULL-terminated */
	int		status;			/* wait status once reaped */
	pid_t		seen[64];		/* every child listed so far */
	size_t		nseen;
};

/* Milliseconds on the monotonic clock; sleep. */
/* $KEYWARD_BIN, else B/keyward for a test binary in B/tests/. */
int		 tsrv_default_exe(char *out, size_t len);
uint64_t	 tsrv_now_ms(void);
void		 tsrv_sleep_ms(unsigned int);

/*
 * Make the temporary directory (mode 0755) with the PKI (CA, server cert
 * with SAN IP:127.0.0.1, three client certs and their identities), an
 * empty chroot directory, and a free port. exe: the binary to start
 * (NULL: $KEYWARD_BIN, else BUILD/keyward next to BUILD/tests/ this test
 * binary is in). The key store directory is not created: started
 * as root, the server creates it for its user.
 */
int		 tsrv_init(struct testsrv *, const char *exe);
/* Write the configuration file (atomically: a temporary file, renamed). */
int		 tsrv_write_config(struct testsrv *, const struct tsrv_cfg *);
int		 tsrv_write_file(const char *path, const char *text);
/*
 * In the configuration tsrv_write_config() wrote, put ks (a whole
 * "keystore:\n..." section) where its fs store is: how the store tests
 * point the server at a double. 0, or -1 (no fs store there).
 */
int		 tsrv_replace_keystore(struct testsrv *, const char *ks);
/*
 * Wait up to timeout_ms until 127.0.0.1:port can be bound again (a server
 * that failed in a child's start-up leaves workers holding it for a
 * moment). 0, or -1 at the time.
 */
int		 tsrv_port_free(int port, unsigned int timeout_ms);

/*
 * Start `exe server --config FILE` with stdout and stderr appended to the
 * log. uid/gid other than (uid_t)-1: switch to them (setgroups, setgid,
 * setuid) in the child before exec.
 */
int		 tsrv_start(struct testsrv *);
int		 tsrv_start_as(struct testsrv *, uid_t, gid_t);
/* Wait for "serving on 127.0.0.1:PORT"; -1 on timeout or if it exited. */
int		 tsrv_wait_ready(struct testsrv *, unsigned int timeout_ms);
/* Has the parent exited? Reaps it; *status gets the wait status. */
bool		 tsrv_exited(struct testsrv *, int *status);
/* Wait up to timeout_ms for the parent to exit; -1 if it did not. */
int		 tsrv_wait_exit(struct testsrv *, unsigned int timeout_ms,
		    int *status);
/* Stop the server (SIGSTOP, SIGKILL its children and it), remove the
 * directory unless KEYWARD_TEST_KEEP=1. Safe on a zeroed struct. */
void		 tsrv_cleanup(struct testsrv *);

/* The log: occurrences of a string; wait for the count to reach n. */
int		 tsrv_log_count(const struct testsrv *, const char *needle);
int		 tsrv_wait_log(const struct testsrv *, const char *needle,
		    int n, unsigned int timeout_ms);
/* The last part of the log, for assertion messages (static buffer). */
const char	*tsrv_log_tail(const struct testsrv *);

/*
 * GET https://127.0.0.1:PORT<path> as a client. Returns the HTTP status,
 * or -1 on a transport error (the curl error is then in body). The body
 * is NUL-terminated and truncated to fit.
 */
long		 tsrv_get(const struct testsrv *, enum tsrv_client,
		    const char *path, char *body, size_t bodylen);

/* The same with options; zero fields keep tsrv_get's defaults. */
struct tsrv_req {
	long		 ssl_version;	/* CURLOPT_SSLVERSION */
	const char	*cainfo;	/* CA file to verify the server with */
	long		 timeout_ms;	/* whole request; default 3000 */
	const char	*method;	/* default GET */
	const void	*body;		/* request body, body_len bytes */
	size_t		 body_len;
	/* Additions; zero values keep the behaviour above. */
	const char	*cert;		/* client certificate and key files */
	const char	*key;		/*   instead of who's */
	bool		 no_cert;	/* send no client certificate at all */
	/* NULL-terminated extra request headers, curl's syntax: "Name:"
	 * removes one curl would add (Content-Type, Expect), "Name;" sends
	 * it empty. "Transfer-Encoding: chunked" sends the body chunked. */
	const char *const *headers;
};
long		 tsrv_get_ex(const struct testsrv *, enum tsrv_client,
		    const char *path, char *body, size_t bodylen,
		    const struct tsrv_req *);

/*
 * Another client: an ECDSA P-256 key and a certificate (EKU clientAuth,
 * CA:FALSE) signed by the test CA, PKI/<name>.{crt,key}. The identity is
 * computed with the openssl CLI (SHA-256 of the DER SubjectPublicKeyInfo,
 * spec 4.1), independently of the server's code.
 */
int		 tsrv_make_client(struct testsrv *, const char *name,
		    struct tsrv_cert *);

/*
 * A client from a KES API key (spec 4.4). apikey: "kes:v1:" + base64(0x00
 * || 32-byte Ed25519 seed); NULL or "" draws a new one, written back to
 * apikey_out (at least TSRV_APIKEYLEN + 1 bytes) when that is not NULL.
 * The key becomes a PKCS#8 Ed25519 private key; the certificate is
 * self-signed with it, Subject CN=<identity>, KeyUsage digitalSignature,
 * EKU clientAuth, basicConstraints CA:FALSE, valid 90 days. The identity is
 * the SHA-256 of `openssl pkey -pubout -outform DER`. -1 on a malformed
 * API key.
 */
#define TSRV_APIKEYLEN	51	/* "kes:v1:" + 44 base64 characters */
int		 tsrv_make_apikey_client(struct testsrv *, const char *name,
		    const char *apikey, char *apikey_out, struct tsrv_cert *);

/*
 * A client that keeps its connection (curl reuses it within one handle):
 * the first request makes the TLS handshake, the next ones need none, so
 * a test can stop the crypto process, which makes every handshake
 * signature, and still send requests. keep_get returns the HTTP status,
 * or -1 (curl's error in body); keep_connects the connections made so
 * far (1 if every request went over the first).
 */
struct tsrv_keep;
struct tsrv_keep *tsrv_keep_open(const struct testsrv *, enum tsrv_client);
long		 tsrv_keep_get(struct tsrv_keep *, const char *path,
		    char *body, size_t bodylen, long timeout_ms);
long		 tsrv_keep_connects(const struct tsrv_keep *);
void		 tsrv_keep_close(struct tsrv_keep *);

/*
 * A request with everything a conformance check needs from the answer:
 * status, the response head and the exact body bytes. who picks the
 * client certificate unless o->cert, o->no_cert say otherwise.
 */
struct tsrv_resp {
	long	 status;	/* -1: transport error, see err */
	char	 err[256];
	char	*head;		/* the last response head, CRLF lines */
	char	*body;		/* body bytes, NUL-terminated (len excludes) */
	size_t	 len;
};
long		 tsrv_request(const struct testsrv *, enum tsrv_client,
		    const char *path, const struct tsrv_req *,
		    struct tsrv_resp *);
void		 tsrv_resp_free(struct tsrv_resp *);
/*
 * The value of the first header `name` (case-insensitive), leading and
 * trailing blanks removed, into out; the number of headers of that name
 * (0: absent, out is then "").
 */
int		 tsrv_resp_header(const struct tsrv_resp *, const char *name,
		    char *out, size_t len);

/*
 * Raw HTTP over mTLS as client `who`: send req[0, len) as is, then read
 * until the server closes or timeout_ms pass. The bytes received go to
 * out (NUL-terminated, truncated to fit); their count, or -1 when the
 * connection or the send failed (curl's error in out).
 */
long		 tsrv_raw(const struct testsrv *, enum tsrv_client,
		    const void *req, size_t len, char *out, size_t outlen,
		    unsigned int timeout_ms);

/*
 * A response that never ends (/v1/log/audit, /v1/log/error), read
 * incrementally. open returns once the response head arrived (status in
 * *status, or -1 and NULL on failure/timeout); wait reads until `needle`
 * is in the body received so far (0) or timeout_ms pass (-1).
 */
struct tsrv_stream;
struct tsrv_stream *tsrv_stream_open(const struct testsrv *,
		    enum tsrv_client, const char *path,
		    const struct tsrv_req *, long *status);
int		 tsrv_stream_wait(struct tsrv_stream *, const char *needle,
		    unsigned int timeout_ms);
/* The body so far (NUL-terminated), and the response head. */
const char	*tsrv_stream_body(const struct tsrv_stream *);
const char	*tsrv_stream_head(const struct tsrv_stream *);
void		 tsrv_stream_close(struct tsrv_stream *);

/*
 * The fs key store directory (srv.keys), as the server's agent sees it:
 * put a key file (mode 0600, owned like the directory, so by the server's
 * user) with `value` as its exact bytes; list the names in it, sorted and
 * joined by '\n' ("" for an empty or missing directory).
 */
int		 tsrv_put_key_file(const struct testsrv *, const char *name,
		    const char *value);
int		 tsrv_list_store(const struct testsrv *, char *out, size_t len);

/* The processes whose parent is ppid, with their command lines. */
int		 tsrv_children(struct testsrv *, struct tsrv_proc *, int max);
/* The pid of the server's child whose command line is cmd; -1: none. */
pid_t		 tsrv_child(struct testsrv *, const char *cmd);
/* A line of /proc/PID/status: the value after "name:" and its tabs. */
int		 tsrv_proc_field(pid_t, const char *name, char *out,
		    size_t len);
/* The command line of a process, argv joined by spaces. */
int		 tsrv_proc_cmdline(pid_t, char *out, size_t len);

#endif
