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
	const char	*cert;		/* tls.cert; NULL: the PKI's */
	const char	*key;		/* tls.key; NULL: the PKI's */
	const char	*extra;		/* YAML appended verbatim (api: ...) */
	bool		 nobody_policy;	/* also give TSRV_NOBODY a policy */
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
};
long		 tsrv_get_ex(const struct testsrv *, enum tsrv_client,
		    const char *path, char *body, size_t bodylen,
		    const struct tsrv_req *);

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
