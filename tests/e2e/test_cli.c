/*
 * The client commands (keyward key|policy|identity info|ls|status|metric|
 * log) as a person runs them: the built binary as a child with a
 * controlled environment, against a real server (privsep and sandbox on)
 * over mutual TLS. Output is checked in JSON mode (stdout a pipe) and in
 * human mode (stdout a pseudo-terminal), with the exit codes of cli/cli.h.
 * Needs root, like the other system tests.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/client.h"
#include "tests/lib/testsrv.h"

#define READY_MS	10000
#define RUN_MS		60000
#define OUTLEN		65536

#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "too long")

static struct testsrv	srv, srv2;

static void
teardown(void)
{
	tsrv_cleanup(&srv);
	tsrv_cleanup(&srv2);
}

TestSuite(cli, .fini = teardown, .timeout = 120);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the system tests start the server as root");
	if (getpwnam("keyward") == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
}

/* --- the environment of a run ---------------------------------------- */

#define MAXENV	16
struct env {
	char	*v[MAXENV + 1];
	int	 n;
};

static void
env_set(struct env *e, const char *name, const char *value)
{
	int i;

	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, strlen(name)) == 0 &&
		    e->v[i][strlen(name)] == '=') {
			free(e->v[i]);
			break;
		}
	cr_assert_lt(i, MAXENV);
	cr_assert_neq(asprintf(&e->v[i], "%s=%s", name, value), -1);
	if (i == e->n)
		e->n++;
	e->v[e->n] = NULL;
}

static void
env_unset(struct env *e, const char *name)
{
	int i;

	for (i = 0; i < e->n; i++)
		if (strncmp(e->v[i], name, strlen(name)) == 0 &&
		    e->v[i][strlen(name)] == '=') {
			free(e->v[i]);
			e->v[i] = e->v[--e->n];
			e->v[e->n] = NULL;
			return;
		}
}

static void
env_free(struct env *e)
{
	int i;

	for (i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
	e->v[0] = NULL;
}

/* Server s, client who's certificate, s's CA. */
static void
env_client(struct env *e, const struct testsrv *s, enum tsrv_client who)
{
	char url[64];

	FMT(url, "https://127.0.0.1:%d", s->port);
	env_free(e);
	env_set(e, "PATH", "/usr/local/bin:/usr/bin:/bin");
	env_set(e, "KES_SERVER", url);
	env_set(e, "KES_CAPATH", s->ca);
	env_set(e, "KES_CLIENT_CERT", s->cert[who]);
	env_set(e, "KES_CLIENT_KEY", s->key[who]);
}

/* --- running the binary ------------------------------------------------ */

struct run {
	int	code;		/* exit code; -1: killed or not exited */
	char	out[OUTLEN];
	char	err[OUTLEN];
};

/*
 * Start `keyward args...` with exactly env, stdin from /dev/null, stderr
 * to a pipe, stdout to a pipe or (tty) the slave side of a new pseudo-
 * terminal in raw mode (no "\r\n"). *outfd, *errfd: the reading ends.
 */
static pid_t
spawn(const struct env *e, bool tty, char *const *args, int *outfd,
    int *errfd)
{
	char		 exe[PATH_MAX], *argv[32];
	int		 op[2] = { -1, -1 }, ep[2], master = -1, slave = -1;
	int		 i, devnull;
	struct termios	 t;
	pid_t		 pid;

	cr_assert_eq(tsrv_default_exe(exe, sizeof(exe)), 0);
	argv[0] = exe;
	for (i = 0; args[i] != NULL && i < 30; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	cr_assert_eq(pipe2(ep, O_CLOEXEC), 0);
	if (tty) {
		cr_assert_geq(master = posix_openpt(O_RDWR | O_NOCTTY |
		    O_CLOEXEC), 0);
		cr_assert_eq(grantpt(master), 0);
		cr_assert_eq(unlockpt(master), 0);
		cr_assert_geq(slave = open(ptsname(master), O_RDWR |
		    O_NOCTTY | O_CLOEXEC), 0);
		cr_assert_eq(tcgetattr(slave, &t), 0);
		cfmakeraw(&t);
		cr_assert_eq(tcsetattr(slave, TCSANOW, &t), 0);
	} else
		cr_assert_eq(pipe2(op, O_CLOEXEC), 0);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		setsid();
		devnull = open("/dev/null", O_RDONLY);
		dup2(devnull, 0);
		dup2(tty ? slave : op[1], 1);
		dup2(ep[1], 2);
		execve(exe, argv, (char *const *)e->v);
		_exit(127);
	}
	close(ep[1]);
	if (tty) {
		close(slave);
		*outfd = master;
	} else {
		close(op[1]);
		*outfd = op[0];
	}
	*errfd = ep[0];
	return pid;
}

/* Append what is readable on fd; false at EOF (or EIO: pty closed). */
static bool
drain(int fd, char *buf, size_t cap)
{
	size_t	len = strlen(buf);
	ssize_t	n;
	char	tmp[4096];

	n = read(fd, tmp, sizeof(tmp));
	if (n <= 0)
		return n < 0 && errno == EINTR;
	if (len + (size_t)n >= cap)
		n = (ssize_t)(cap - 1 - len);
	memcpy(buf + len, tmp, (size_t)n);
	buf[len + (size_t)n] = '\0';
	return true;
}

/* Wait for the exit; kill after RUN_MS. */
static int
reap(pid_t pid)
{
	int		st;
	uint64_t	end = tsrv_now_ms() + RUN_MS;

	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (tsrv_now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		tsrv_sleep_ms(20);
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void
runv(struct run *r, const struct env *e, bool tty, char *const *args)
{
	struct pollfd	 p[2];
	int		 outfd, errfd, open_ = 2;
	pid_t		 pid;
	uint64_t	 end = tsrv_now_ms() + RUN_MS;

	memset(r, 0, sizeof(*r));
	pid = spawn(e, tty, args, &outfd, &errfd);
	p[0].fd = outfd;
	p[1].fd = errfd;
	p[0].events = p[1].events = POLLIN;
	while (open_ > 0 && tsrv_now_ms() < end) {
		if (poll(p, 2, 500) <= 0)
			continue;
		if (p[0].fd >= 0 && p[0].revents != 0 &&
		    !drain(outfd, r->out, sizeof(r->out))) {
			p[0].fd = -1;
			open_--;
		}
		if (p[1].fd >= 0 && p[1].revents != 0 &&
		    !drain(errfd, r->err, sizeof(r->err))) {
			p[1].fd = -1;
			open_--;
		}
	}
	close(outfd);
	close(errfd);
	r->code = reap(pid);
}

/* run(&r, env, tty, "key", "create", "k", NULL) */
static void
run(struct run *r, const struct env *e, bool tty, ...)
{
	char	*args[32];
	va_list	 ap;
	int	 n = 0;

	va_start(ap, tty);
	while (n < 31 && (args[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	args[n] = NULL;
	runv(r, e, tty, args);
}

#define expect_ok(r, what) \
	cr_expect_eq((r)->code, 0, "%s: exit %d\nstdout: %s\nstderr: %s", \
	    (what), (r)->code, (r)->out, (r)->err)
#define expect_code(r, c, what) \
	cr_expect_eq((r)->code, (c), "%s: exit %d, not %d\nstdout: %s\n" \
	    "stderr: %s", (what), (r)->code, (c), (r)->out, (r)->err)
#define expect_in(hay, needle, what) \
	cr_expect_not_null(strstr((hay), (needle)), "%s: '%s' not in:\n%s", \
	    (what), (needle), (hay))

/* stdout as one JSON value. */
static json_t *
out_json(const struct run *r, const char *what)
{
	json_error_t	 err;
	json_t		*j = json_loads(r->out, JSON_DECODE_ANY, &err);

	cr_assert_not_null(j, "%s: not JSON (%s): %s\nstderr: %s", what,
	    err.text, r->out, r->err);
	return j;
}

static const char *
jstr(const json_t *j, const char *field)
{
	const char *s = json_string_value(json_object_get(j, field));

	return s != NULL ? s : "";
}

static bool
json_array_has(const json_t *a, const char *s)
{
	const json_t	*v;
	size_t		 i;

	json_array_foreach(a, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* --- servers --------------------------------------------------------- */

static void
start(struct testsrv *s, const struct tsrv_cfg *cfg)
{
	struct tsrv_cfg def = { 0 };

	cr_assert_eq(tsrv_write_config(s, cfg ? cfg : &def), 0);
	cr_assert_eq(tsrv_start(s), 0);
	cr_assert_eq(tsrv_wait_ready(s, READY_MS), 0, "log:\n%s",
	    tsrv_log_tail(s));
}

/* Stop a server, keeping its files (the clients' CA and certificates). */
static void
stop(struct testsrv *s)
{
	int st;

	cr_assert_eq(kill(s->pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(s, 10000, &st), 0, "log:\n%s",
	    tsrv_log_tail(s));
}

static void
start_default(void)
{
	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "build the server first");
	start(&srv, NULL);
}

/* --- 1. keys, JSON mode ------------------------------------------------- */

/*
 * What a KES user does first: create a key, get a DEK, decrypt it, with
 * stdout a pipe (JSON). Plus import, info, ls, encrypt, rm and the
 * refusals with their names.
 */
Test(cli, keys_json)
{
	struct env	 e = { 0 };
	struct run	 r;
	json_t		*j, *dek;
	char		 pt[128], ct[512];

	start_default();
	env_client(&e, &srv, TSRV_ADMIN);

	run(&r, &e, false, "key", "create", "k1", "k2", NULL);
	expect_ok(&r, "key create");
	cr_expect_str_empty(r.out, "create prints nothing: %s", r.out);

	run(&r, &e, false, "key", "info", "k1", NULL);
	expect_ok(&r, "key info");
	j = out_json(&r, "key info");
	cr_expect_str_eq(jstr(j, "name"), "k1");
	cr_expect_str_eq(jstr(j, "created_by"), srv.id[TSRV_ADMIN]);
	cr_expect_str_neq(jstr(j, "algorithm"), "");
	json_decref(j);

	run(&r, &e, false, "key", "import", "imp",
	    "Xlnr/nOgAWE5cA7GAsl3L2goCvmfs6KE0gNgB1T93wE=", NULL);
	expect_ok(&r, "key import");

	run(&r, &e, false, "key", "ls", NULL);
	expect_ok(&r, "key ls");
	j = out_json(&r, "key ls");
	cr_expect(json_is_array(j) && json_array_size(j) == 3 &&
	    json_array_has(j, "k1") && json_array_has(j, "k2") &&
	    json_array_has(j, "imp"), "key ls: %s", r.out);
	json_decref(j);
	run(&r, &e, false, "key", "ls", "k*", NULL);
	j = out_json(&r, "key ls k*");
	cr_expect(json_array_size(j) == 2 && !json_array_has(j, "imp"),
	    "key ls 'k*': %s", r.out);
	json_decref(j);

	/* dek, then decrypt its ciphertext: the same plaintext. */
	run(&r, &e, false, "key", "dek", "k1", NULL);
	expect_ok(&r, "key dek");
	dek = out_json(&r, "key dek");
	FMT(pt, "%s", jstr(dek, "plaintext"));
	FMT(ct, "%s", jstr(dek, "ciphertext"));
	json_decref(dek);
	cr_expect_eq(strlen(pt), 44, "a 32-byte DEK in base64: %s", pt);
	run(&r, &e, false, "key", "decrypt", "k1", ct, NULL);
	expect_ok(&r, "key decrypt");
	j = out_json(&r, "key decrypt");
	cr_expect_str_eq(jstr(j, "plaintext"), pt);
	json_decref(j);

	/* With a context: needed again to decrypt. */
	run(&r, &e, false, "key", "dek", "k2", "e30=", NULL);
	dek = out_json(&r, "key dek with context");
	FMT(pt, "%s", jstr(dek, "plaintext"));
	FMT(ct, "%s", jstr(dek, "ciphertext"));
	json_decref(dek);
	run(&r, &e, false, "key", "decrypt", "k2", ct, "e30=", NULL);
	expect_ok(&r, "decrypt with context");
	j = out_json(&r, "decrypt with context");
	cr_expect_str_eq(jstr(j, "plaintext"), pt);
	json_decref(j);
	run(&r, &e, false, "key", "decrypt", "k2", ct, NULL);
	expect_code(&r, 1, "decrypt without the context");
	expect_in(r.err, "ciphertext is not authentic", "decrypt refused");

	/* encrypt takes a text message; decrypt prints it in base64. */
	run(&r, &e, false, "key", "encrypt", "imp", "hello", NULL);
	expect_ok(&r, "key encrypt");
	j = out_json(&r, "key encrypt");
	FMT(ct, "%s", jstr(j, "ciphertext"));
	json_decref(j);
	run(&r, &e, false, "key", "decrypt", "imp", ct, NULL);
	j = out_json(&r, "decrypt of encrypt");
	cr_expect_str_eq(jstr(j, "plaintext"), "aGVsbG8=");
	json_decref(j);

	run(&r, &e, false, "key", "create", "k1", NULL);
	expect_code(&r, 1, "create an existing key");
	expect_in(r.err, "keyward: cannot create key 'k1': key already exists",
	    "create twice");

	run(&r, &e, false, "key", "rm", "k1", "imp", NULL);
	expect_ok(&r, "key rm");
	run(&r, &e, false, "key", "info", "k1", NULL);
	expect_code(&r, 1, "info of a deleted key");
	expect_in(r.err, "keyward: key 'k1' does not exist", "404");
	run(&r, &e, false, "key", "dek", "nope", NULL);
	expect_code(&r, 1, "dek of a missing key");
	expect_in(r.err, "keyward: key 'nope' does not exist", "404 dek");
	run(&r, &e, false, "key", "ls", NULL);
	j = out_json(&r, "key ls after rm");
	cr_expect(json_array_size(j) == 1 && json_array_has(j, "k2"), "%s",
	    r.out);
	json_decref(j);
	env_free(&e);
}

/* --- 2. keys, human mode -------------------------------------------------- */

/* On a terminal: kes's aligned text. --json there gives JSON again. */
Test(cli, keys_human)
{
	struct env	 e = { 0 };
	struct run	 r;
	json_t		*j;
	char		 line[256], ct[512], *p;

	start_default();
	env_client(&e, &srv, TSRV_ADMIN);
	run(&r, &e, true, "key", "create", "hk", NULL);
	expect_ok(&r, "create on a tty");
	cr_expect_str_empty(r.out, "%s", r.out);

	run(&r, &e, true, "key", "info", "hk", NULL);
	expect_ok(&r, "info on a tty");
	expect_in(r.out, "Name        hk\n", "info");
	expect_in(r.out, "Algorithm   ", "info");
	expect_in(r.out, "Date        20", "info");
	FMT(line, "Owner       %s\n", srv.id[TSRV_ADMIN]);
	expect_in(r.out, line, "info");

	run(&r, &e, true, "key", "ls", NULL);
	cr_expect_str_eq(r.out, "Key\nhk\n");

	run(&r, &e, true, "key", "dek", "hk", NULL);
	expect_ok(&r, "dek on a tty");
	expect_in(r.out, "\nplaintext:  ", "dek");
	cr_assert_not_null(p = strstr(r.out, "\nciphertext: "), "%s", r.out);
	FMT(ct, "%s", p + strlen("\nciphertext: "));
	ct[strcspn(ct, "\n")] = '\0';
	run(&r, &e, true, "key", "decrypt", "hk", ct, NULL);
	expect_ok(&r, "decrypt on a tty");
	expect_in(r.out, "\nplaintext: ", "decrypt");

	run(&r, &e, true, "key", "encrypt", "hk", "hello", NULL);
	expect_in(r.out, "\nciphertext: ", "encrypt");

	run(&r, &e, true, "key", "info", "--json", "hk", NULL);
	j = out_json(&r, "--json on a tty");
	cr_expect_str_eq(jstr(j, "name"), "hk");
	json_decref(j);
	env_free(&e);
}

/* --- 3. status, policies, identities, ls ---------------------------------- */

Test(cli, status_policy_identity)
{
	struct env	 e = { 0 };
	struct run	 r;
	json_t		*j, *a;
	char		 line[256];
	size_t		 i;
	bool		 found = false;

	start_default();
	env_client(&e, &srv, TSRV_ADMIN);

	run(&r, &e, false, "status", NULL);
	expect_ok(&r, "status");
	j = out_json(&r, "status");
	cr_expect_str_neq(jstr(j, "version"), "");
	cr_expect(json_is_integer(json_object_get(j, "num_cpu")), "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "status", NULL);
	expect_ok(&r, "status on a tty");
	FMT(line, "● 127.0.0.1:%d\n", srv.port);
	expect_in(r.out, line, "status");
	expect_in(r.out, "  Version  ", "status");
	expect_in(r.out, "  Uptime   ", "status");
	expect_in(r.out, "· Heap", "status");

	run(&r, &e, false, "status", "--api", NULL);
	expect_ok(&r, "status --api");
	a = out_json(&r, "status --api");
	json_array_foreach(a, i, j)
		if (strcmp(jstr(j, "path"), "/v1/status") == 0)
			found = true;
	cr_expect(found, "no /v1/status in %s", r.out);
	json_decref(a);
	run(&r, &e, true, "status", "--api", NULL);
	expect_in(r.out, "Method", "status --api on a tty");
	expect_in(r.out, "/v1/key/create/", "status --api on a tty");

	run(&r, &e, false, "policy", "ls", NULL);
	expect_ok(&r, "policy ls");
	j = out_json(&r, "policy ls");
	cr_expect(json_array_has(j, "status"), "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "policy", "ls", NULL);
	expect_in(r.out, "Policy\n", "policy ls on a tty");
	expect_in(r.out, "\nstatus\n", "policy ls on a tty");

	run(&r, &e, false, "policy", "info", "status", NULL);
	expect_ok(&r, "policy info");
	j = out_json(&r, "policy info");
	cr_expect_str_eq(jstr(j, "name"), "status");
	json_decref(j);
	run(&r, &e, true, "policy", "info", "status", NULL);
	expect_in(r.out, "Name        status\n", "policy info on a tty");

	run(&r, &e, false, "policy", "show", "status", NULL);
	expect_ok(&r, "policy show");
	j = out_json(&r, "policy show");
	cr_expect_not_null(json_object_get(json_object_get(j, "allow"),
	    "/v1/status"), "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "policy", "show", "status", NULL);
	expect_in(r.out, "Allow:\n  /v1/status\n", "policy show on a tty");

	run(&r, &e, false, "policy", "info", "nope", NULL);
	expect_code(&r, 1, "missing policy");
	expect_in(r.err, "keyward: policy 'nope' does not exist", "404");

	run(&r, &e, false, "identity", "ls", NULL);
	expect_ok(&r, "identity ls");
	j = out_json(&r, "identity ls");
	cr_expect(json_array_has(j, srv.id[TSRV_ADMIN]) &&
	    json_array_has(j, srv.id[TSRV_STATUS]), "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "identity", "ls", NULL);
	expect_in(r.out, "Identity\n", "identity ls on a tty");

	run(&r, &e, false, "identity", "info", NULL);
	expect_ok(&r, "identity info (self)");
	j = out_json(&r, "identity info");
	cr_expect(json_is_true(json_object_get(j, "admin")), "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "identity", "info", NULL);
	expect_in(r.out, "Role        admin\n", "identity info on a tty");

	run(&r, &e, false, "identity", "info", srv.id[TSRV_STATUS], NULL);
	expect_ok(&r, "identity info ID");
	j = out_json(&r, "identity info ID");
	cr_expect_str_eq(jstr(j, "policy"), "status", "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "identity", "info", srv.id[TSRV_STATUS], NULL);
	expect_in(r.out, "Policy      status\n", "identity info ID on a tty");

	/* ls: keys by default, -p policies, -i identities. */
	run(&r, &e, false, "key", "create", "lsk", NULL);
	run(&r, &e, false, "ls", NULL);
	j = out_json(&r, "ls");
	cr_expect(json_array_has(j, "lsk"), "%s", r.out);
	json_decref(j);
	run(&r, &e, false, "ls", "-p", NULL);
	j = out_json(&r, "ls -p");
	cr_expect(json_array_has(j, "status"), "%s", r.out);
	json_decref(j);
	run(&r, &e, false, "ls", "-i", NULL);
	j = out_json(&r, "ls -i");
	cr_expect(json_array_has(j, srv.id[TSRV_ADMIN]), "%s", r.out);
	json_decref(j);
	run(&r, &e, true, "ls", NULL);
	cr_expect_str_eq(r.out, "Key\nlsk\n");
	env_free(&e);
}

/* --- 4. metric and log: run until interrupted ----------------------------- */

/*
 * Read fd into buf until needle shows up; meanwhile call poke (if any)
 * every half second. false on timeout or EOF.
 */
static bool
read_until(int fd, char *buf, size_t cap, const char *needle,
    void (*poke)(void), unsigned int timeout_ms)
{
	struct pollfd	p = { fd, POLLIN, 0 };
	uint64_t	end = tsrv_now_ms() + timeout_ms;

	while (strstr(buf, needle) == NULL) {
		if (tsrv_now_ms() > end)
			return false;
		if (poll(&p, 1, 500) == 0) {
			if (poke != NULL)
				poke();
			continue;
		}
		if (!drain(fd, buf, cap))
			return strstr(buf, needle) != NULL;
	}
	return true;
}

static struct env poke_env;

/* Something for the audit log. */
static void
poke_create(void)
{
	struct run r;

	run(&r, &poke_env, false, "key", "create", "logged", NULL);
}

/* Interrupt a streaming command; it must exit 0 at once. */
static void
interrupt(pid_t pid, const char *what)
{
	cr_assert_eq(kill(pid, SIGINT), 0);
	cr_expect_eq(reap(pid), 0, "%s did not stop cleanly on SIGINT",
	    what);
}

static void
follow(bool tty, char *const *args, const char *needle, void (*poke)(void),
    const char *what, char *out, size_t outlen)
{
	int	outfd, errfd;
	pid_t	pid;
	char	err[4096] = "";

	out[0] = '\0';
	pid = spawn(&poke_env, tty, args, &outfd, &errfd);
	if (!read_until(outfd, out, outlen, needle, poke, 20000)) {
		(void)fcntl(errfd, F_SETFL, O_NONBLOCK);
		(void)drain(errfd, err, sizeof(err));
		kill(pid, SIGKILL);
		reap(pid);
		cr_assert_fail("%s: no '%s' in:\n%s\nstderr: %s", what,
		    needle, out, err);
	}
	interrupt(pid, what);
	close(outfd);
	close(errfd);
}

Test(cli, metric_and_log)
{
	char	*metric_json[] = { "metric", "--rate", "1s", NULL };
	char	*metric_tty[] = { "metric", "--rate", "500ms", NULL };
	char	*log_json[] = { "log", "--audit", NULL };
	char	*log_tty[] = { "log", NULL };
	char	 out[OUTLEN], *nl;
	json_t	*j;

	start_default();
	env_client(&poke_env, &srv, TSRV_ADMIN);

	/* JSON: one sample per line and interval. */
	follow(false, metric_json, "\n", NULL, "metric --json", out,
	    sizeof(out));
	nl = strchr(out, '\n');
	*nl = '\0';
	cr_assert_not_null(j = json_loads(out, 0, NULL), "%s", out);
	cr_expect(json_is_integer(json_object_get(j, "request_ok")) &&
	    json_is_integer(json_object_get(j, "num_cpu")), "%s", out);
	json_decref(j);
	follow(true, metric_tty, "Requests", NULL, "metric on a tty", out,
	    sizeof(out));

	/* The audit stream, ndjson passed through, while keys are made. */
	follow(false, log_json, "/v1/key/create/logged", poke_create,
	    "log --audit", out, sizeof(out));
	nl = strchr(out, '\n');
	*nl = '\0';
	cr_assert_not_null(j = json_loads(out, 0, NULL), "%s", out);
	cr_expect_not_null(json_object_get(j, "request"), "%s", out);
	json_decref(j);
	follow(true, log_tty, "/v1/key/create/logged", poke_create,
	    "log on a tty", out, sizeof(out));
	expect_in(out, srv.id[TSRV_ADMIN], "log line names the identity");
	cr_expect_null(strchr(out, '{'), "not JSON on a tty: %s", out);
	env_free(&poke_env);
}

/* --- 5. refusals and usage errors ------------------------------------------ */

Test(cli, forbidden_and_usage)
{
	static const char *const helps[][3] = {
		{ "key", "create", NULL }, { "key", "import", NULL },
		{ "key", "info", NULL }, { "key", "ls", NULL },
		{ "key", "rm", NULL }, { "key", "encrypt", NULL },
		{ "key", "decrypt", NULL }, { "key", "dek", NULL },
		{ "policy", "ls", NULL }, { "policy", "info", NULL },
		{ "policy", "show", NULL }, { "identity", "info", NULL },
		{ "identity", "ls", NULL }, { "ls", NULL, NULL },
		{ "status", NULL, NULL }, { "metric", NULL, NULL },
		{ "log", NULL, NULL },
	};
	struct env	e = { 0 };
	struct run	r;
	char		line[512];
	size_t		i;

	start_default();
	env_client(&e, &srv, TSRV_NOBODY);
	run(&r, &e, false, "key", "create", "x", NULL);
	expect_code(&r, 1, "403");
	FMT(line, "keyward: not allowed: identity %s may not access "
	    "/v1/key/create/x\n", srv.id[TSRV_NOBODY]);
	cr_expect_str_eq(r.err, line);

	/* The status policy allows /v1/status and nothing else. */
	env_client(&e, &srv, TSRV_STATUS);
	run(&r, &e, false, "status", NULL);
	expect_ok(&r, "status with the status policy");
	run(&r, &e, false, "key", "ls", NULL);
	expect_code(&r, 1, "key ls with the status policy");
	FMT(line, "identity %s may not access /v1/key/list/*",
	    srv.id[TSRV_STATUS]);
	expect_in(r.err, line, "403 ls");

	/* Usage errors: exit 2, no server needed. */
	run(&r, &e, false, NULL);
	expect_code(&r, 2, "no command");
	run(&r, &e, false, "key", NULL);
	expect_code(&r, 2, "key without a command");
	run(&r, &e, false, "key", "frob", NULL);
	expect_code(&r, 2, "unknown key command");
	run(&r, &e, false, "key", "create", NULL);
	expect_code(&r, 2, "create without a name");
	expect_in(r.err, "See 'keyward key create --help'", "usage hint");
	run(&r, &e, false, "key", "dek", "a", "b", "c", NULL);
	expect_code(&r, 2, "too many arguments");
	run(&r, &e, false, "key", "decrypt", "k", "not base64!", NULL);
	expect_code(&r, 2, "bad base64");
	run(&r, &e, false, "key", "import", "k", "c2hvcnQ=", NULL);
	expect_code(&r, 2, "a short key");
	run(&r, &e, false, "status", "--bogus", NULL);
	expect_code(&r, 2, "unknown option");
	run(&r, &e, false, "metric", "--rate", "soon", NULL);
	expect_code(&r, 2, "bad --rate");
	run(&r, &e, false, "ls", "-i", "-p", NULL);
	expect_code(&r, 2, "ls -i -p");
	run(&r, &e, false, "log", "--audit", "--error", NULL);
	expect_code(&r, 2, "log --audit --error");

	/* --help everywhere: exit 0, an example. */
	for (i = 0; i < sizeof(helps) / sizeof(helps[0]); i++) {
		run(&r, &e, false, helps[i][0], helps[i][1] ? helps[i][1] :
		    "--help", helps[i][1] ? "--help" : NULL, NULL);
		cr_expect_eq(r.code, 0, "%s %s --help: %d", helps[i][0],
		    helps[i][1] ? helps[i][1] : "", r.code);
		cr_expect_not_null(strstr(r.out, "Example"), "%s %s --help:"
		    " %s", helps[i][0], helps[i][1] ? helps[i][1] : "",
		    r.out);
	}
	run(&r, &e, false, "--help", NULL);
	expect_ok(&r, "keyward --help");
	expect_in(r.out, "3 no connection", "exit codes in the usage");

	/* Credentials: both, or neither. */
	env_set(&e, "KES_API_KEY", "kes:v1:AMcazYMubeZXMLUMyi0byRYJRtkp84kD"
	    "lUuvt396VA3Q");
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "API key and certificate");
	expect_in(r.err, "unset one of them", "both credentials");
	env_unset(&e, "KES_API_KEY");
	env_unset(&e, "KES_CLIENT_CERT");
	env_unset(&e, "KES_CLIENT_KEY");
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "no credentials");
	expect_in(r.err, "KES_API_KEY", "no credentials");
	env_free(&e);
}

/* --- 6. several endpoints ---------------------------------------------------- */

/*
 * Two servers with the same certificate, CA and admin; one stopped: the
 * commands still work whichever the random start picks. Both stopped:
 * exit 3 naming both.
 */
Test(cli, failover)
{
	struct tsrv_cfg	 cfg = { 0 };
	struct env	 e = { 0 };
	struct run	 r;
	char		 list[128], line[128], cert[PATH_MAX], key[PATH_MAX];
	int		 i, p1, p2;

	start_default();
	cr_assert_eq(tsrv_init(&srv2, NULL), 0);
	FMT(cert, "%s/server.crt", srv.pki);
	FMT(key, "%s/server.key", srv.pki);
	cfg.cert = cert;
	cfg.key = key;
	cfg.tls_auth = "";
	cfg.admin = srv.id[TSRV_ADMIN];
	start(&srv2, &cfg);
	p1 = srv.port;
	p2 = srv2.port;
	env_client(&e, &srv, TSRV_ADMIN);
	/* The one to be stopped first: both are local, and kms-go tries
	 * a local first endpoint before the others. */
	FMT(list, "127.0.0.1:%d, https://127.0.0.1:%d", p2, p1);
	env_set(&e, "KES_SERVER", list);
	run(&r, &e, false, "status", NULL);
	expect_ok(&r, "status, both up");

	stop(&srv2);
	for (i = 0; i < 4; i++) {
		run(&r, &e, false, "status", NULL);
		expect_ok(&r, "status, second server stopped");
		run(&r, &e, false, "key", "create", i % 2 ? "f1" : "f2", NULL);
	}
	run(&r, &e, false, "key", "ls", NULL);
	expect_ok(&r, "key ls, second server stopped");
	expect_in(r.out, "\"f1\"", "keys made during the failover");

	stop(&srv);
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "both stopped");
	FMT(line, "keyward: cannot reach https://127.0.0.1:%d: ", p1);
	expect_in(r.err, line, "first endpoint named");
	FMT(line, "keyward: cannot reach https://127.0.0.1:%d: ", p2);
	expect_in(r.err, line, "second endpoint named");
	expect_in(r.err, "Connection refused", "the reason");
	env_free(&e);
}

/* --- 7. TLS failures ---------------------------------------------------------- */

/* openssl with args (NULL-terminated), quietly; its exit status. */
static int
openssl(const char *arg, ...)
{
	char	*argv[16];
	va_list	 ap;
	int	 n = 1, st;
	pid_t	 pid;

	argv[0] = "openssl";
	argv[n++] = (char *)arg;
	va_start(ap, arg);
	while (n < 15 && (argv[n] = va_arg(ap, char *)) != NULL)
		n++;
	va_end(ap);
	argv[n] = NULL;
	if ((pid = fork()) == 0) {
		int fd = open("/dev/null", O_WRONLY);

		dup2(fd, 1);
		dup2(fd, 2);
		/* The test runner's PATH may be empty. */
		execv("/usr/bin/openssl", argv);
		execvp("openssl", argv);
		_exit(127);
	}
	if (pid == -1 || waitpid(pid, &st, 0) == -1)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* This host's name if it resolves to 127.0.0.1 (as in /etc/hosts). */
static int
other_local_name(char *out, size_t len)
{
	struct addrinfo	 hints = { .ai_family = AF_INET }, *res, *a;
	int		 found = -1;

	if (gethostname(out, len) == -1 || strcmp(out, "localhost") == 0 ||
	    getaddrinfo(out, NULL, &hints, &res) != 0)
		return -1;
	for (a = res; a != NULL; a = a->ai_next)
		if (((struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr ==
		    htonl(INADDR_LOOPBACK))
			found = 0;
	freeaddrinfo(res);
	return found;
}

Test(cli, tls_errors)
{
	struct env	 e = { 0 };
	struct run	 r;
	struct tsrv_cert ak;
	char		 apikey[TSRV_APIKEYLEN + 1], line[PATH_MAX + 64];
	char		 host[256];

	start_default();
	env_client(&e, &srv, TSRV_ADMIN);

	/* A CA file that did not sign the server's certificate. */
	env_set(&e, "KES_CAPATH", srv.cert[TSRV_STATUS]);
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "wrong CA file");
	FMT(line, "the CA file %s", srv.cert[TSRV_STATUS]);
	expect_in(r.err, line, "the file is named");
	expect_in(r.err, "unknown CA", "the reason");

	/* No CA: the system's, which do not know the test CA; -k helps. */
	env_unset(&e, "KES_CAPATH");
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "system CAs");
	expect_in(r.err, "KES_CAPATH", "the hint");
	run(&r, &e, false, "status", "-k", NULL);
	expect_ok(&r, "-k");

	/*
	 * The certificate names 127.0.0.1 and localhost; this host's own
	 * name, where it resolves to 127.0.0.1, reaches the server under a
	 * name the certificate does not have.
	 */
	if (other_local_name(host, sizeof(host)) == 0) {
		env_client(&e, &srv, TSRV_ADMIN);
		FMT(line, "%s:%d", host, srv.port);
		env_set(&e, "KES_SERVER", line);
		run(&r, &e, false, "status", NULL);
		expect_code(&r, 3, "host name mismatch");
		expect_in(r.err, "host name mismatch", "the reason");
	} else
		cr_log_warn("no other name of 127.0.0.1: host name mismatch "
		    "not checked");

	/* An encrypted client key needs a terminal for its password. */
	FMT(line, "%s/enc.key", srv.dir);
	cr_assert_eq(openssl("pkey", "-in", srv.key[TSRV_ADMIN], "-aes256",
	    "-passout", "pass:secret", "-out", line, NULL), 0);
	env_client(&e, &srv, TSRV_ADMIN);
	env_set(&e, "KES_CLIENT_KEY", line);
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "encrypted key without a terminal");
	expect_in(r.err, "is encrypted; run the command on a terminal",
	    "the hint");

	env_set(&e, "KES_CAPATH", "/nonexistent/ca.pem");
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "missing CA file");
	expect_in(r.err, "/nonexistent/ca.pem", "missing CA file named");

	/* tls.auth on: the self-signed certificate of an API key is
	 * refused by the server during the handshake. */
	cr_assert_eq(tsrv_make_apikey_client(&srv, "ak", NULL, apikey, &ak),
	    0);
	env_client(&e, &srv, TSRV_ADMIN);
	env_unset(&e, "KES_CLIENT_CERT");
	env_unset(&e, "KES_CLIENT_KEY");
	env_set(&e, "KES_API_KEY", apikey);
	run(&r, &e, false, "status", NULL);
	expect_code(&r, 3, "client certificate refused");
	expect_in(r.err, "refused the API key", "the refusal");

	/* A server certificate that expired yesterday. */
	{
		struct tsrv_cfg	cfg = { 0 };
		char		csr[PATH_MAX], crt[PATH_MAX], key[PATH_MAX];
		char		cakey[PATH_MAX], ext[PATH_MAX];

		FMT(csr, "%s/expired.csr", srv.pki);
		FMT(crt, "%s/expired.crt", srv.pki);
		FMT(key, "%s/expired.key", srv.pki);
		FMT(cakey, "%s/ca.key", srv.pki);
		FMT(ext, "%s/server.ext", srv.pki);
		cr_assert_eq(openssl("req", "-newkey", "ec", "-pkeyopt",
		    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out",
		    csr, "-subj", "/CN=expired", NULL), 0);
		cr_assert_eq(openssl("x509", "-req", "-in", csr, "-CA", srv.ca,
		    "-CAkey", cakey, "-out", crt, "-days", "-1", "-extfile",
		    ext, NULL), 0);
		stop(&srv);
		cfg.cert = crt;
		cfg.key = key;
		start(&srv, &cfg);
		env_client(&e, &srv, TSRV_ADMIN);
		run(&r, &e, false, "status", NULL);
		expect_code(&r, 3, "expired server certificate");
		expect_in(r.err, "expired", "the reason");
		FMT(line, "the CA file %s", srv.ca);
		expect_in(r.err, line, "the CA file is named");
	}
	env_free(&e);
}

/* --- 8. API keys ---------------------------------------------------------------- */

/* KES's default TLS mode (any certificate): an API key is a client. */
Test(cli, api_key)
{
	struct tsrv_cfg	 cfg = { 0 };
	struct tsrv_cert ak;
	struct env	 e = { 0 };
	struct run	 r;
	json_t		*j;
	char		 apikey[TSRV_APIKEYLEN + 1], pt[128], ct[512];

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	cr_assert_eq(tsrv_make_apikey_client(&srv, "ak", NULL, apikey, &ak),
	    0);
	cfg.tls_auth = "";
	cfg.admin = ak.id;
	start(&srv, &cfg);
	env_client(&e, &srv, TSRV_ADMIN);
	env_unset(&e, "KES_CLIENT_CERT");
	env_unset(&e, "KES_CLIENT_KEY");
	env_set(&e, "KES_API_KEY", apikey);

	run(&r, &e, false, "key", "create", "ak-key", NULL);
	expect_ok(&r, "create with an API key");
	run(&r, &e, false, "key", "dek", "ak-key", NULL);
	j = out_json(&r, "dek with an API key");
	FMT(pt, "%s", jstr(j, "plaintext"));
	FMT(ct, "%s", jstr(j, "ciphertext"));
	json_decref(j);
	run(&r, &e, false, "key", "decrypt", "ak-key", ct, NULL);
	j = out_json(&r, "decrypt with an API key");
	cr_expect_str_eq(jstr(j, "plaintext"), pt);
	json_decref(j);
	run(&r, &e, false, "key", "info", "ak-key", NULL);
	j = out_json(&r, "info");
	cr_expect_str_eq(jstr(j, "created_by"), ak.id);
	json_decref(j);

	/* The MINIO_ names are fallbacks of the kes CLI too. */
	env_unset(&e, "KES_API_KEY");
	env_set(&e, "MINIO_KMS_KES_API_KEY", apikey);
	run(&r, &e, false, "identity", "info", NULL);
	expect_ok(&r, "identity info with MINIO_KMS_KES_API_KEY");
	j = out_json(&r, "identity info");
	cr_expect_str_eq(jstr(j, "identity"), ak.id);
	json_decref(j);
	env_free(&e);
}

/* --- 9. the development server's instructions ----------------------------------- */

/* sh -c script with exactly env; stdout and stderr together in r->out. */
static void
run_sh(struct run *r, const struct env *e, const char *script)
{
	char	*argv[] = { "/bin/sh", "-c", (char *)script, NULL };
	int	 op[2];
	pid_t	 pid;

	memset(r, 0, sizeof(*r));
	cr_assert_eq(pipe(op), 0);
	cr_assert_neq(pid = fork(), -1);
	if (pid == 0) {
		dup2(op[1], 1);
		dup2(op[1], 2);
		close(op[0]);
		execve(argv[0], argv, (char *const *)e->v);
		_exit(127);
	}
	close(op[1]);
	while (drain(op[0], r->out, sizeof(r->out)))
		;
	close(op[0]);
	r->code = reap(pid);
}

/*
 * `keyward server --dev` prints export lines and a first command; pasted
 * into a shell as they are, they work.
 */
Test(cli, dev_server_paste)
{
	struct env	 e = { 0 };
	struct run	 r;
	FILE		*f;
	char		 line[4096], script[16384] = "set -e\n";
	int		 nexport = 0, ncmd = 0, st = -1;
	json_t		*j;

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	srv.dev = true;
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	cr_assert_not_null(f = fopen(srv.log, "r"));
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "  export KES_", 13) == 0)
			nexport++;
		else if (strstr(line, " key create my-key") != NULL &&
		    strstr(line, "curl") == NULL)
			ncmd++;
		else
			continue;
		cr_assert_lt(strlen(script) + strlen(line), sizeof(script));
		strcat(script, line);
	}
	fclose(f);
	cr_assert_eq(nexport, 3, "export lines:\n%s", script);
	cr_assert_eq(ncmd, 1, "first command:\n%s", script);

	/* A clean shell: nothing but what was pasted. */
	env_set(&e, "PATH", "/usr/local/bin:/usr/bin:/bin");
	run_sh(&r, &e, script);
	expect_ok(&r, "the pasted lines");
	cr_assert_not_null(j = json_loads(r.out, 0, NULL), "%s", r.out);
	cr_expect_eq(strlen(jstr(j, "plaintext")), 44, "%s", r.out);
	json_decref(j);
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_expect_eq(tsrv_wait_exit(&srv, 10000, &st), 0);
	env_free(&e);
}

/* --- 10. the endpoint order of the load balancer, without a network ------- */

/*
 * kms-go's order (spec 8.6): a localhost first endpoint first, then
 * round robin from the random start, skipping endpoints in their 30 s
 * timeout; when all are in it, all are tried.
 */
Test(cli_lb, order)
{
	struct lb_endpoint	ep[3] = {
		{ "https://127.0.0.1:1", true, 0 },
		{ "https://a:1", false, 0 },
		{ "https://b:1", false, 0 },
	};
	size_t			order[3], n;

	n = lb_order(ep, 3, 2, 1000, order);
	cr_assert_eq(n, 3);
	cr_expect(order[0] == 0 && order[1] == 2 && order[2] == 1,
	    "%zu %zu %zu", order[0], order[1], order[2]);

	lb_failed(&ep[0], 1000);
	n = lb_order(ep, 3, 0, 2000, order);
	cr_assert_eq(n, 2, "the failed one is skipped");
	cr_expect(order[0] == 1 && order[1] == 2);
	/* 30 s later it is probed again. */
	n = lb_order(ep, 3, 1, 1000 + LB_TIMEOUT_MS, order);
	cr_expect_eq(n, 3);
	cr_expect_eq(order[0], 0);

	lb_failed(&ep[1], 1000);
	lb_failed(&ep[2], 1000);
	n = lb_order(ep, 3, 1, 2000, order);
	cr_assert_eq(n, 3, "all in timeout: a second pass tries all");
	lb_succeeded(&ep[2]);
	n = lb_order(ep, 3, 1, 2000, order);
	cr_expect(n == 1 && order[0] == 2);

	n = lb_order(ep, 1, 0, 2000, order);
	cr_expect(n == 1 && order[0] == 0, "one endpoint: always it");
}

/*
 * The variables of older kes CLIs (spec keystores-cloud-and-legacy-
 * config.md §7.7): KEY_SERVER (v0.1 – v0.3, with its scheme),
 * KES_CLIENT_TLS_{CERT,KEY}_FILE (v0.4 – v0.8), KEY_CLIENT_TLS_*
 * (v0.1 – v0.3); today's names win when both are set.
 */
Test(cli, old_client_variables)
{
	static const char *const gens[][3] = {
		{ "KES_SERVER", "KES_CLIENT_TLS_CERT_FILE",
		    "KES_CLIENT_TLS_KEY_FILE" },
		{ "KEY_SERVER", "KEY_CLIENT_TLS_CERT_FILE",
		    "KEY_CLIENT_TLS_KEY_FILE" },
	};
	struct tsrv_cfg	 cfg = { 0 };
	struct env	 e = { 0 };
	struct run	 r;
	char		 url[64];
	size_t		 i;

	need_root();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	start(&srv, &cfg);
	FMT(url, "https://127.0.0.1:%d", srv.port);
	for (i = 0; i < sizeof(gens) / sizeof(gens[0]); i++) {
		env_free(&e);
		env_set(&e, "PATH", "/usr/local/bin:/usr/bin:/bin");
		env_set(&e, "KES_CAPATH", srv.ca);
		env_set(&e, gens[i][0], url);
		env_set(&e, gens[i][1], srv.cert[TSRV_ADMIN]);
		env_set(&e, gens[i][2], srv.key[TSRV_ADMIN]);
		run(&r, &e, false, "key", "create", i ? "old-b" : "old-a",
		    NULL);
		expect_ok(&r, gens[i][1]);
	}
	/* KES_CLIENT_CERT wins over the old name: the status client is not
	 * allowed to create. */
	env_set(&e, "KES_CLIENT_CERT", srv.cert[TSRV_STATUS]);
	env_set(&e, "KES_CLIENT_KEY", srv.key[TSRV_STATUS]);
	run(&r, &e, false, "key", "create", "old-c", NULL);
	cr_assert_eq(r.code, 1, "the status client may not create: %d %s",
	    r.code, r.err);
	env_free(&e);
}
