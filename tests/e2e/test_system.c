/*
 * The whole server, as an operator runs it: privsep and the sandbox on,
 * real mTLS, real signals. Each test starts its own server (tests/lib/
 * testsrv.c) on its own port in its own temporary directory, and the
 * suite's .fini kills whatever is left of it. Needs root (the children drop
 * to user keyward, which scripts/ensure-user.sh creates); skipped otherwise.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <jansson.h>

#include "common/landlock.h"
#include "common/names.h"
#include "tests/lib/testsrv.h"

#define READY_MS	10000
#define POLL_MS		50
#define BODYLEN		4096

/* snprintf into an array, failing the test on truncation. */
#define FMT(dst, ...) \
	cr_assert_lt(snprintf((dst), sizeof(dst), __VA_ARGS__), \
	    (int)sizeof(dst), "path too long")

#define CAP_NONE	"0000000000000000"
#define CAP_IPC_LOCK_ONLY "0000000000004000"

static const char not_authorized[] =
    "{\"message\":\"not authorized: insufficient permissions\"\n}";

static struct testsrv srv;

static void
teardown(void)
{
	tsrv_cleanup(&srv);
}

TestSuite(system, .fini = teardown, .timeout = 60);

static void
need_root(void)
{
	if (geteuid() != 0)
		cr_skip_test("the system tests start the server as root");
}

static struct passwd *
keyward_user(void)
{
	struct passwd *pw;

	if ((pw = getpwnam("keyward")) == NULL)
		cr_skip_test("user keyward is missing; scripts/ensure-user.sh "
		    "creates it");
	return pw;
}

/* Start a server with cfg (NULL: the default) and wait until it serves. */
static void
start_server(const struct tsrv_cfg *cfg)
{
	struct tsrv_cfg def = { 0 };

	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup (server binary, "
	    "PKI, temporary directory, port) failed: %s; build the server "
	    "first (`make`)", strerror(errno));
	cr_assert_eq(tsrv_write_config(&srv, cfg ? cfg : &def), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the server did not log \"serving on\" within %d s; log:\n%s",
	    READY_MS / 1000, tsrv_log_tail(&srv));
}

/* --- response bodies --------------------------------------------------- */

enum status_kind {
	STATUS_BAD = 0,		/* not a KES status object */
	STATUS_LATENCY,		/* key store reachable */
	STATUS_UNREACHABLE,	/* keystore_unreachable: true */
};

static bool
ends_json_line(const char *body)
{
	size_t len = strlen(body);

	return len >= 2 && strcmp(body + len - 2, "}\n") == 0;
}

/* A /v1/status body (spec §3.2), as Go's json.Encoder writes it. */
static enum status_kind
status_kind(const char *body)
{
	json_error_t		 jerr;
	json_t			*j, *lat, *unr;
	enum status_kind	 k = STATUS_BAD;

	if (!ends_json_line(body) ||
	    (j = json_loads(body, 0, &jerr)) == NULL)
		return STATUS_BAD;
	lat = json_object_get(j, "keystore_latency");
	unr = json_object_get(j, "keystore_unreachable");
	if (json_is_object(j) &&
	    json_is_string(json_object_get(j, "version")) &&
	    json_is_integer(json_object_get(j, "uptime"))) {
		if (json_is_integer(lat) && json_integer_value(lat) >= 1 &&
		    unr == NULL)
			k = STATUS_LATENCY;
		else if (lat == NULL && json_is_true(unr))
			k = STATUS_UNREACHABLE;
	}
	json_decref(j);
	return k;
}

/* A KES error body: {"message":"..."\n}. */
static bool
error_body(const char *body)
{
	json_error_t	 jerr;
	json_t		*j;
	size_t		 len = strlen(body);
	bool		 ok;

	if (len < 2 || strcmp(body + len - 2, "\n}") != 0 ||
	    (j = json_loads(body, 0, &jerr)) == NULL)
		return false;
	ok = json_is_object(j) && json_object_size(j) == 1 &&
	    json_is_string(json_object_get(j, "message"));
	json_decref(j);
	return ok;
}

static bool
version_body(const char *body)
{
	json_error_t	 jerr;
	json_t		*j;
	bool		 ok;

	if (!ends_json_line(body) ||
	    (j = json_loads(body, 0, &jerr)) == NULL)
		return false;
	ok = json_is_object(j) &&
	    json_is_string(json_object_get(j, "version")) &&
	    json_is_string(json_object_get(j, "commit"));
	json_decref(j);
	return ok;
}

/* Poll /v1/status as admin until it reports `want`; ms taken, or -1. */
static long
wait_status(enum status_kind want, unsigned int timeout_ms, char *body)
{
	uint64_t	t0 = tsrv_now_ms();
	long		code;

	for (;;) {
		code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN);
		if (code == 200 && status_kind(body) == want)
			return (long)(tsrv_now_ms() - t0);
		if (tsrv_now_ms() - t0 >= timeout_ms)
			return -1;
		tsrv_sleep_ms(POLL_MS);
	}
}

/* --- /proc checks ---------------------------------------------------------- */

struct want_proc {
	uid_t		 uid;
	gid_t		 gid;
	const char	*root;		/* readlink /proc/PID/root */
	bool		 locked;	/* VmLck > 0 */
	const char	*capeff;	/* CapEff, and CapPrm */
};

static void
expect_ids(const struct tsrv_proc *k, const char *field, unsigned int want)
{
	char		v[128];
	unsigned int	a, b, c, d;

	cr_assert_eq(tsrv_proc_field(k->pid, field, v, sizeof(v)), 0);
	cr_assert_eq(sscanf(v, "%u %u %u %u", &a, &b, &c, &d), 4,
	    "%s of %s: \"%s\"", field, k->cmd, v);
	cr_expect(a != 0 && b != 0 && c != 0 && d != 0 &&
	    a == want && b == want && c == want && d == want,
	    "%s (pid %d): %s is \"%s\", want all four %u", k->cmd,
	    (int)k->pid, field, v, want);
}

static void
expect_field(const struct tsrv_proc *k, const char *field, const char *want)
{
	char v[128];

	cr_assert_eq(tsrv_proc_field(k->pid, field, v, sizeof(v)), 0,
	    "%s (pid %d): no %s in /proc/PID/status", k->cmd, (int)k->pid,
	    field);
	cr_expect_str_eq(v, want, "%s (pid %d): %s is \"%s\", want \"%s\"",
	    k->cmd, (int)k->pid, field, v, want);
}

static void
expect_core_limit_zero(const struct tsrv_proc *k)
{
	char	path[64], line[256], soft[32] = "", hard[32] = "";
	FILE	*f;
	bool	found = false;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)k->pid);
	cr_assert_not_null(f = fopen(path, "r"), "%s: %s", path,
	    strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max core file size", 18) == 0) {
			found = sscanf(line + 18, "%31s %31s", soft, hard) == 2;
			break;
		}
	fclose(f);
	cr_assert(found, "%s: no \"Max core file size\" line", path);
	cr_expect(strcmp(soft, "0") == 0 && strcmp(hard, "0") == 0,
	    "%s (pid %d): core limit is %s/%s, want 0/0", k->cmd,
	    (int)k->pid, soft, hard);
}

static void
expect_proc(const struct tsrv_proc *k, const struct want_proc *w)
{
	struct stat	st;
	char		path[64], root[PATH_MAX], v[128];
	ssize_t		n;

	expect_ids(k, "Uid", w->uid);
	expect_ids(k, "Gid", w->gid);
	expect_field(k, "Seccomp", "2");
	expect_field(k, "NoNewPrivs", "1");
	expect_field(k, "CapEff", w->capeff);
	expect_field(k, "CapPrm", w->capeff);
	expect_field(k, "CapAmb", CAP_NONE);

	/* A non-dumpable process's /proc files belong to root, not to it. */
	snprintf(path, sizeof(path), "/proc/%d/status", (int)k->pid);
	cr_assert_eq(stat(path, &st), 0);
	cr_expect_eq(st.st_uid, 0, "%s (pid %d) is dumpable: %s is owned by "
	    "uid %u", k->cmd, (int)k->pid, path, (unsigned int)st.st_uid);

	if (w->locked) {
		cr_assert_eq(tsrv_proc_field(k->pid, "VmLck", v, sizeof(v)),
		    0);
#ifdef KEYWARD_SANITIZE
		/* ASan intercepts mlockall() and makes it a no-op. */
		(void)v;
#else
		cr_expect(strtoul(v, NULL, 10) > 0, "%s (pid %d): VmLck is "
		    "%s, want > 0 (mlockall)", k->cmd, (int)k->pid, v);
		/* MCL_ONFAULT: mapped code never run is locked but not made
		 * resident, so less is resident than locked. */
		{
			char rss[64];

			cr_assert_eq(tsrv_proc_field(k->pid, "VmRSS", rss,
			    sizeof(rss)), 0);
			cr_expect_lt(strtoul(rss, NULL, 10),
			    strtoul(v, NULL, 10), "%s (pid %d): VmRSS %s >= "
			    "VmLck %s: every mapped page was made resident "
			    "(mlockall without MCL_ONFAULT)", k->cmd,
			    (int)k->pid, rss, v);
		}
#endif
	}

	snprintf(path, sizeof(path), "/proc/%d/root", (int)k->pid);
	n = readlink(path, root, sizeof(root) - 1);
	cr_assert_gt(n, 0, "readlink %s: %s", path, strerror(errno));
	root[n] = '\0';
	cr_expect_str_eq(root, w->root, "%s (pid %d): root is %s, want %s",
	    k->cmd, (int)k->pid, root, w->root);

	expect_core_limit_zero(k);
}

/*
 * The four children of a 2-worker server, checked against what each role
 * must look like. chroot: the workers' and crypto's root ("/" for none).
 */
static void
expect_tree(const struct passwd *pw, const char *chroot)
{
	struct tsrv_proc	kids[TSRV_MAXPROCS];
	struct want_proc	w;
	char			list[1024] = "";
	int			i, n, nworker[2] = { 0, 0 }, ncrypto = 0,
				nagent = 0;

	n = tsrv_children(&srv, kids, TSRV_MAXPROCS);
	for (i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		    " [%d %s]", (int)kids[i].pid, kids[i].cmd);
	cr_assert_eq(n, 4, "want 4 children (2 workers, crypto, agent), "
	    "found %d:%s", n, list);

	for (i = 0; i < n; i++) {
		w.uid = pw->pw_uid;
		w.gid = pw->pw_gid;
		if (strcmp(kids[i].cmd, "keyward worker 0") == 0 ||
		    strcmp(kids[i].cmd, "keyward worker 1") == 0) {
			nworker[kids[i].cmd[15] - '0']++;
			w.root = chroot;
			w.locked = false;
			w.capeff = CAP_NONE;
		} else if (strcmp(kids[i].cmd, "keyward crypto") == 0) {
			ncrypto++;
			w.root = chroot;
			w.locked = true;
			w.capeff = CAP_IPC_LOCK_ONLY;
		} else if (strcmp(kids[i].cmd, "keyward agent") == 0) {
			nagent++;
			w.root = "/";
			w.locked = true;
			w.capeff = CAP_IPC_LOCK_ONLY;
		} else {
			cr_expect_fail("unexpected child %d \"%s\"",
			    (int)kids[i].pid, kids[i].cmd);
			continue;
		}
		expect_proc(&kids[i], &w);
	}
	cr_expect(nworker[0] == 1 && nworker[1] == 1 && ncrypto == 1 &&
	    nagent == 1, "want workers 0 and 1, crypto and agent once "
	    "each:%s", list);
}

/* --- 1. the process tree ----------------------------------------------------- */

Test(system, process_tree, .timeout = 60)
{
	struct passwd	*pw;
	char		 cmd[256], chroot[PATH_MAX];

	need_root();
	pw = keyward_user();
	start_server(NULL);

	cr_assert_eq(tsrv_proc_cmdline(srv.pid, cmd, sizeof(cmd)), 0);
	cr_expect(strstr(cmd, " server --config ") != NULL,
	    "parent command line: %s", cmd);
	cr_assert_not_null(realpath(srv.chroot, chroot));
	expect_tree(pw, chroot);
}

/* --- 2. authentication and authorisation -------------------------------------- */

Test(system, auth, .timeout = 60)
{
	char body[BODYLEN];
	long code;

	need_root();
	(void)keyward_user();
	start_server(NULL);

	code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
	cr_expect_eq(code, 200, "admin GET /version: %ld %s", code, body);
	cr_expect(version_body(body), "/version body: %s", body);

	code = tsrv_get(&srv, TSRV_NOBODY, "/version", body, BODYLEN);
	cr_expect_eq(code, 200, "unknown identity GET /version: %ld %s",
	    code, body);
	cr_expect(version_body(body), "/version body: %s", body);

	code = tsrv_get(&srv, TSRV_NOBODY, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 403, "unknown identity GET /v1/status: %ld %s",
	    code, body);
	cr_expect_str_eq(body, not_authorized, "403 body: \"%s\"", body);

	code = tsrv_get(&srv, TSRV_STATUS, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 200, "policy identity GET /v1/status: %ld %s",
	    code, body);
	cr_expect_neq(status_kind(body), STATUS_BAD, "status body: %s", body);

	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 200, "admin GET /v1/status: %ld %s", code, body);
	cr_expect_eq(status_kind(body), STATUS_LATENCY,
	    "admin /v1/status must report keystore_latency (fs store in a "
	    "fresh directory): %s\nlog:\n%s", body, tsrv_log_tail(&srv));
}

/* --- 3. a worker killed ---------------------------------------------------------- */

Test(system, worker_restart, .timeout = 60)
{
	char		body[BODYLEN];
	pid_t		old, other, now = -1;
	uint64_t	t0;
	long		code;
	int		bad = 0, i;

	need_root();
	(void)keyward_user();
	start_server(NULL);

	cr_assert_gt(old = tsrv_child(&srv, "keyward worker 1"), 0);
	cr_assert_gt(other = tsrv_child(&srv, "keyward worker 0"), 0);
	cr_assert_eq(kill(old, SIGKILL), 0);
	t0 = tsrv_now_ms();
	while (tsrv_now_ms() - t0 < 5000) {
		code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
		if (code != 200 && bad++ == 0)
			cr_log_error("GET /version while worker 1 restarts: "
			    "%ld %s", code, body);
		now = tsrv_child(&srv, "keyward worker 1");
		if (now > 0 && now != old)
			break;
		tsrv_sleep_ms(POLL_MS);
	}
	cr_assert(now > 0 && now != old, "no new \"keyward worker 1\" within "
	    "5 s of killing pid %d; log:\n%s", (int)old, tsrv_log_tail(&srv));
	cr_expect_eq(bad, 0, "%d requests to /version failed while worker 1 "
	    "restarted (worker 0 was up)", bad);
	cr_expect_eq(tsrv_child(&srv, "keyward worker 0"), other,
	    "worker 0 was replaced too");
	cr_expect_eq(tsrv_log_count(&srv, "worker 1 killed by signal 9"), 1,
	    "log:\n%s", tsrv_log_tail(&srv));

	/* Both workers accept again: every request answers. */
	for (i = 0; i < 10; i++) {
		code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
		cr_expect_eq(code, 200, "GET /version after the restart: %ld %s",
		    code, body);
	}
}

/*
 * Poll /v1/status as admin every POLL_MS from now for up to timeout_ms.
 * Every answer must be a 200 with a status body or a 5xx with a KES error
 * body; anything else fails the test. Returns the ms until the first 200
 * that reports keystore_latency (need_latency) or any status (otherwise),
 * or -1. *saw_down: a 5xx or keystore_unreachable was seen meanwhile.
 */
static long
poll_outage(bool need_latency, unsigned int timeout_ms, bool *saw_down)
{
	char		body[BODYLEN];
	uint64_t	t0 = tsrv_now_ms();
	enum status_kind k;
	long		code;

	*saw_down = false;
	while (tsrv_now_ms() - t0 < timeout_ms) {
		code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN);
		if (code == 200) {
			k = status_kind(body);
			cr_expect_neq(k, STATUS_BAD, "200 with a wrong body: "
			    "\"%s\"", body);
			if (k == STATUS_LATENCY ||
			    (k == STATUS_UNREACHABLE && !need_latency))
				return (long)(tsrv_now_ms() - t0);
			if (k == STATUS_UNREACHABLE)
				*saw_down = true;
		} else if (code >= 500 && code <= 599) {
			*saw_down = true;
			cr_expect(error_body(body), "%ld with a wrong body: "
			    "\"%s\"", code, body);
		} else
			cr_expect_fail("GET /v1/status answered %ld: %s",
			    code, body);
		tsrv_sleep_ms(POLL_MS);
	}
	return -1;
}

/* --- 4. the crypto process killed ---------------------------------------------- */

Test(system, crypto_restart, .timeout = 60)
{
	char	body[BODYLEN];
	pid_t	old, now;
	long	code, ms;
	bool	down, reachable;

	need_root();
	(void)keyward_user();
	start_server(NULL);

	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN);
	cr_assert(code == 200 && status_kind(body) != STATUS_BAD,
	    "GET /v1/status before the kill: %ld %s", code, body);
	/* The key store is the agent's business (test agent_restart): back
	 * to what it was before is enough here. */
	reachable = status_kind(body) == STATUS_LATENCY;
	cr_assert_gt(old = tsrv_child(&srv, "keyward crypto"), 0);
	cr_assert_eq(kill(old, SIGKILL), 0);

	ms = poll_outage(reachable, 5000, &down);
	cr_assert(ms >= 0, "/v1/status did not answer 200 again within 5 s "
	    "of killing crypto (pid %d); log:\n%s", (int)old,
	    tsrv_log_tail(&srv));
	cr_expect_lt(ms, 2000, "/v1/status answered 200 again only after "
	    "%ld ms", ms);
	cr_log_info("crypto restart: 200 again after %ld ms (outage %sseen)",
	    ms, down ? "" : "not ");

	now = tsrv_child(&srv, "keyward crypto");
	cr_expect(now > 0 && now != old, "crypto pid %d after killing %d",
	    (int)now, (int)old);
	cr_expect_eq(tsrv_log_count(&srv, "crypto killed by signal 9"), 1,
	    "log:\n%s", tsrv_log_tail(&srv));

	/* The new crypto process has the policy table too. */
	code = tsrv_get(&srv, TSRV_STATUS, "/v1/status", body, BODYLEN);
	cr_expect(code == 200 && status_kind(body) != STATUS_BAD,
	    "policy identity after the restart: %ld %s", code, body);
	code = tsrv_get(&srv, TSRV_NOBODY, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 403, "unknown identity after the restart: %ld %s",
	    code, body);
}

/* --- 4b. several crypto processes, one killed under load ----------------------- */

#define MC_KEYS		24
#define MC_CRYPTO	3
#define MC_THREADS	4

struct mc_load {
	pthread_mutex_t	 mu;
	volatile bool	 stop;
	unsigned int	 next;
	int		 ok, wrong;
	int		 failed[MC_KEYS];
	char		 last[512];
};

static void
mc_name(char *out, size_t len, unsigned int i)
{
	snprintf(out, len, "mc-%02u", i);
}

/* POST body to /v1/key/<op>/<key i>: the status (-1 for a 200 without
 * one of the fields); out gets the body. Each call is a new connection,
 * so each also asks some crypto process for a handshake signature. */
static long
mc_call(const char *op, unsigned int i, const char *body, char *out,
    size_t outlen, const char *f1, char *v1, const char *f2, char *v2,
    size_t vlen)
{
	struct tsrv_req	 r = { .method = "POST", .body = body,
			    .body_len = strlen(body), .timeout_ms = 8000 };
	char		 name[16], path[64];
	json_t		*o;
	const char	*a, *b = NULL;
	long		 code;

	mc_name(name, sizeof(name), i);
	snprintf(path, sizeof(path), "/v1/key/%s/%s", op, name);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, path, out, outlen, &r);
	if (code != 200 || f1 == NULL)
		return code;
	if ((o = json_loads(out, 0, NULL)) == NULL ||
	    (a = json_string_value(json_object_get(o, f1))) == NULL ||
	    (f2 != NULL &&
	    (b = json_string_value(json_object_get(o, f2))) == NULL) ||
	    (size_t)snprintf(v1, vlen, "%s", a) >= vlen ||
	    (b != NULL && (size_t)snprintf(v2, vlen, "%s", b) >= vlen))
		code = -1;
	json_decref(o);
	return code;
}

/* Generate with key i and decrypt what it gave: 1 when both answered and
 * the plaintexts match, 0 for a refusal (why says which), -1 for a wrong
 * answer. */
static int
mc_round_trip(unsigned int i, char *why, size_t whylen)
{
	char	out[BODYLEN], pt[512], ct[512], back[512], body[640];
	long	code;

	code = mc_call("generate", i, "{}", out, sizeof(out), "plaintext", pt,
	    "ciphertext", ct, sizeof(ct));
	if (code == 200) {
		snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", ct);
		code = mc_call("decrypt", i, body, out, sizeof(out),
		    "plaintext", back, NULL, NULL, sizeof(back));
	}
	if (code != 200) {
		snprintf(why, whylen, "mc-%02u: %ld %.300s", i, code, out);
		return code == -1 ? -1 : 0;
	}
	if (strcmp(pt, back) != 0) {
		snprintf(why, whylen, "mc-%02u: decrypted %.200s, not %.200s", i,
		    back, pt);
		return -1;
	}
	return 1;
}

static void *
mc_load_one(void *arg)
{
	struct mc_load	*l = arg;
	char		 why[512];
	unsigned int	 i;
	int		 r;

	while (!l->stop) {
		pthread_mutex_lock(&l->mu);
		i = l->next++ % MC_KEYS;
		pthread_mutex_unlock(&l->mu);
		r = mc_round_trip(i, why, sizeof(why));
		pthread_mutex_lock(&l->mu);
		if (r == 1)
			l->ok++;
		else {
			if (r == -1)
				l->wrong++;
			else
				l->failed[i]++;
			snprintf(l->last, sizeof(l->last), "%s", why);
		}
		pthread_mutex_unlock(&l->mu);
	}
	return NULL;
}

/*
 * server.crypto: 3 with 3 workers. Every key is served by the crypto
 * process kes_name_shard names, so killing crypto 1 under load (each
 * request a new connection: handshake signatures at any of them) fails
 * requests for crypto 1's keys only, for the moment it takes to replace
 * it; nothing else fails, no answer is wrong, and afterwards the new
 * process fetches its keys from the store again (a ciphertext made
 * before the kill still opens). A reload reaches all three.
 */
Test(system, several_crypto_processes, .timeout = 90)
{
	struct tsrv_cfg	 cfg = { .workers = 3, .crypto = MC_CRYPTO };
	struct mc_load	 l = { .mu = PTHREAD_MUTEX_INITIALIZER };
	pthread_t	 th[MC_THREADS];
	pid_t		 pid[MC_CRYPTO], now;
	char		 cmd[64], out[BODYLEN], why[512], pt[512], ct[512];
	char		 back[512], body[640];
	unsigned int	 i, k, victim_key = MC_KEYS, lost = 0;
	int		 t, n;

	need_root();
	(void)keyward_user();
	start_server(&cfg);
	cr_expect_eq(tsrv_log_count(&srv, "with 3 workers and 3 crypto "
	    "processes"), 1, "log:\n%s", tsrv_log_tail(&srv));
	for (k = 0; k < MC_CRYPTO; k++) {
		FMT(cmd, "keyward crypto %u", k);
		cr_assert_gt(pid[k] = tsrv_child(&srv, cmd), 0, "no %s", cmd);
	}
	cr_expect_eq(tsrv_child(&srv, "keyward crypto"), -1);

	for (i = 0; i < MC_KEYS; i++) {
		cr_assert_eq(mc_call("create", i, "", out, sizeof(out), NULL,
		    NULL, NULL, NULL, 0), 200, "create mc-%02u: %s", i, out);
		cr_assert_eq(mc_round_trip(i, why, sizeof(why)), 1, "%s", why);
		FMT(cmd, "mc-%02u", i);
		if (kes_name_shard(cmd, MC_CRYPTO) == 1 && victim_key == MC_KEYS)
			victim_key = i;
	}
	cr_assert_lt(victim_key, MC_KEYS, "no key of crypto 1");
	cr_assert_eq(mc_call("generate", victim_key, "{}", out, sizeof(out),
	    "plaintext", pt, "ciphertext", ct, sizeof(ct)), 200, "%s", out);

	for (t = 0; t < MC_THREADS; t++)
		cr_assert_eq(pthread_create(&th[t], NULL, mc_load_one, &l), 0);
	tsrv_sleep_ms(1000);
	cr_assert_eq(kill(pid[1], SIGKILL), 0);
	tsrv_sleep_ms(3000);
	l.stop = true;
	for (t = 0; t < MC_THREADS; t++)
		pthread_join(th[t], NULL);

	cr_expect_eq(l.wrong, 0, "%d wrong answers; last: %s", l.wrong,
	    l.last);
	for (i = 0; i < MC_KEYS; i++) {
		FMT(cmd, "mc-%02u", i);
		if (kes_name_shard(cmd, MC_CRYPTO) == 1)
			lost += l.failed[i];
		else
			cr_expect_eq(l.failed[i], 0, "%s (crypto %u) failed "
			    "%d times while crypto 1 was replaced; last: %s",
			    cmd, kes_name_shard(cmd, MC_CRYPTO), l.failed[i],
			    l.last);
	}
	cr_expect_gt(l.ok, 50, "%d round trips", l.ok);
	/* Each key waits for its own process: one that went elsewhere
	 * while crypto 1 was away would not be refused. */
	cr_expect_gt(lost, 0, "no request for crypto 1's keys was refused "
	    "while it was replaced: they were served by another one");
	cr_log_info("crypto 1 killed under load: %d round trips, %u refused "
	    "for its keys, %d wrong", l.ok, lost, l.wrong);

	/* Replaced; the others untouched. */
	for (n = 0; n < 100; n++) {
		if ((now = tsrv_child(&srv, "keyward crypto 1")) > 0 &&
		    now != pid[1] && mc_round_trip(victim_key, why,
		    sizeof(why)) == 1)
			break;
		tsrv_sleep_ms(POLL_MS);
	}
	cr_assert_lt(n, 100, "crypto 1 not back: %s\nlog:\n%s", why,
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_child(&srv, "keyward crypto 0"), pid[0]);
	cr_expect_eq(tsrv_child(&srv, "keyward crypto 2"), pid[2]);
	cr_expect_eq(tsrv_log_count(&srv, "crypto 1 killed by signal 9"), 1,
	    "log:\n%s", tsrv_log_tail(&srv));
	snprintf(body, sizeof(body), "{\"ciphertext\":\"%s\"}", ct);
	cr_expect_eq(mc_call("decrypt", victim_key, body, out, sizeof(out),
	    "plaintext", back, NULL, NULL, sizeof(back)), 200, "%s", out);
	cr_expect_str_eq(back, pt, "a ciphertext of before the kill");

	/* The workers time every key request at a crypto process. */
	{
		static char	 met[1 << 16];
		const char	*at;

		cr_assert_eq(tsrv_get(&srv, TSRV_ADMIN, "/v1/metrics", met,
		    sizeof(met)), 200);
		cr_assert_not_null(at = strstr(met,
		    "\nkeyward_crypto_seconds_count "), "%s", met);
		cr_expect_geq(strtoll(at + 30, NULL, 10), l.ok * 2,
		    "%d round trips, each a generate and a decrypt", l.ok);
	}

	/* A reload goes to every crypto process, then the workers. */
	n = tsrv_log_count(&srv, "configuration reloaded");
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "configuration reloaded", n + 1,
	    5000), 0, "log:\n%s", tsrv_log_tail(&srv));
	for (i = 0; i < MC_KEYS; i++)
		cr_expect_eq(mc_round_trip(i, why, sizeof(why)), 1,
		    "after the reload: %s", why);
	cr_expect_eq(tsrv_log_count(&srv, "kept its configuration"), 0,
	    "log:\n%s", tsrv_log_tail(&srv));
}

/* --- 5. the keystore agent killed ------------------------------------------------ */

Test(system, agent_restart, .timeout = 60)
{
	char	body[BODYLEN];
	pid_t	old, now;
	long	ms;
	bool	down;

	need_root();
	(void)keyward_user();
	start_server(NULL);

	cr_assert_geq(wait_status(STATUS_LATENCY, 2000, body), 0,
	    "before the kill: /v1/status must report keystore_latency; last "
	    "body: %s\nlog:\n%s", body, tsrv_log_tail(&srv));
	cr_assert_gt(old = tsrv_child(&srv, "keyward agent"), 0);
	cr_assert_eq(kill(old, SIGKILL), 0);

	ms = poll_outage(true, 5000, &down);
	cr_assert(ms >= 0, "/v1/status did not report keystore_latency again "
	    "within 5 s of killing the agent (pid %d); log:\n%s", (int)old,
	    tsrv_log_tail(&srv));
	cr_log_info("agent restart: keystore_latency again after %ld ms "
	    "(outage %sseen)", ms, down ? "" : "not ");
	now = tsrv_child(&srv, "keyward agent");
	cr_expect(now > 0 && now != old, "agent pid %d after killing %d",
	    (int)now, (int)old);
	cr_expect_eq(tsrv_log_count(&srv, "agent killed by signal 9"), 1,
	    "log:\n%s", tsrv_log_tail(&srv));
}

/* --- 6. reload -------------------------------------------------------------------- */

/* The children, sorted by pid, as one string to compare. */
static void
tree_string(char *out, size_t len)
{
	struct tsrv_proc	kids[TSRV_MAXPROCS], t;
	int			i, j, n;

	n = tsrv_children(&srv, kids, TSRV_MAXPROCS);
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && kids[j - 1].pid > kids[j].pid; j--) {
			t = kids[j];
			kids[j] = kids[j - 1];
			kids[j - 1] = t;
		}
	out[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "[%d %s]",
		    (int)kids[i].pid, kids[i].cmd);
}

/* After a reload: the same parent, the same children, still serving. */
static void
expect_unchanged(const char *tree, const char *when)
{
	char	now[1024], body[BODYLEN];
	long	code;

	cr_assert(!tsrv_exited(&srv, NULL), "the server exited %s; log:\n%s",
	    when, tsrv_log_tail(&srv));
	tree_string(now, sizeof(now));
	cr_expect_str_eq(now, tree, "children changed %s: %s, were %s", when,
	    now, tree);
	code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
	cr_expect_eq(code, 200, "GET /version %s: %ld %s", when, code, body);
}

Test(system, reload, .timeout = 60)
{
	struct tsrv_cfg	 cfg = { 0 };
	char		 tree[1024], body[BODYLEN], missing[PATH_MAX + 16];
	uint64_t	 t0;
	long		 code = -1;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	tree_string(tree, sizeof(tree));
	cr_assert_eq(tsrv_get(&srv, TSRV_NOBODY, "/v1/status", body, BODYLEN),
	    403);

	/* Not YAML at all. */
	cr_assert_eq(tsrv_write_file(srv.config, "version: v1\naddress: "
	    "[127.0.0.1\n  admin: {{\n"), 0);
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "reload failed", 1, 3000), 0,
	    "no \"reload failed\" after SIGHUP with invalid YAML; log:\n%s",
	    tsrv_log_tail(&srv));
	expect_unchanged(tree, "after a reload with invalid YAML");

	/* Valid YAML, but tls.cert names a file that does not exist. */
	FMT(missing, "%s/missing-server.crt", srv.dir);
	cfg.cert = missing;
	cfg.nobody_policy = true;
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "reload failed", 2, 3000), 0,
	    "no \"reload failed\" after SIGHUP with a missing tls.cert; "
	    "log:\n%s", tsrv_log_tail(&srv));
	cr_expect_gt(tsrv_log_count(&srv, "missing-server.crt"), 0,
	    "the reload error does not name the missing file; log:\n%s",
	    tsrv_log_tail(&srv));
	expect_unchanged(tree, "after a reload with a missing tls.cert");
	code = tsrv_get(&srv, TSRV_NOBODY, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 403, "a failed reload changed the policies: %ld %s",
	    code, body);

	/* A good one: the unknown identity gets a policy. */
	cfg.cert = NULL;
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	t0 = tsrv_now_ms();
	while (tsrv_now_ms() - t0 < 3000) {
		code = tsrv_get(&srv, TSRV_NOBODY, "/v1/status", body,
		    BODYLEN);
		if (code == 200)
			break;
		tsrv_sleep_ms(POLL_MS);
	}
	cr_expect_eq(code, 200, "the new policy did not apply within 3 s of "
	    "SIGHUP: %ld %s; log:\n%s", code, body, tsrv_log_tail(&srv));
	cr_expect_neq(status_kind(body), STATUS_BAD, "status body: %s", body);
	cr_expect_eq(tsrv_wait_log(&srv, "configuration reloaded", 1, 1000),
	    0, "log:\n%s", tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "reload failed"), 2,
	    "log:\n%s", tsrv_log_tail(&srv));
	expect_unchanged(tree, "after a good reload");
}

/* --- 7. SIGTERM --------------------------------------------------------------------- */

Test(system, sigterm, .timeout = 60)
{
	struct tsrv_proc	kids[TSRV_MAXPROCS];
	char			cmd[128];
	int			i, n, status = -1;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	n = tsrv_children(&srv, kids, TSRV_MAXPROCS);
	cr_assert_eq(n, 4);

	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0,
	    "the server did not exit within 10 s of SIGTERM; log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "exit status 0x%x after SIGTERM, want exit 0; log:\n%s", status,
	    tsrv_log_tail(&srv));
	for (i = 0; i < n; i++)
		cr_expect(tsrv_proc_cmdline(kids[i].pid, cmd,
		    sizeof(cmd)) == -1 || strcmp(cmd, kids[i].cmd) != 0,
		    "%s (pid %d) outlived the parent", kids[i].cmd,
		    (int)kids[i].pid);
	cr_expect_eq(tsrv_log_count(&srv, "stopped"), 1, "log:\n%s",
	    tsrv_log_tail(&srv));
}

/* --- 8. key-store reachability ------------------------------------------------------- */

Test(system, keystore_reachability, .timeout = 60)
{
	char	body[BODYLEN], away[PATH_MAX + 8];

	need_root();
	(void)keyward_user();
	start_server(NULL);
	FMT(away, "%s.away", srv.keys);

	cr_assert_geq(wait_status(STATUS_LATENCY, 2000, body), 0,
	    "at start: /v1/status must report keystore_latency; last body: "
	    "%s\nlog:\n%s", body, tsrv_log_tail(&srv));

	cr_assert_eq(chmod(srv.keys, 0), 0);
	cr_expect_geq(wait_status(STATUS_UNREACHABLE, 3000, body), 0,
	    "store mode 000: want keystore_unreachable; last body: %s", body);
	cr_assert_eq(chmod(srv.keys, 0700), 0);
	cr_expect_geq(wait_status(STATUS_LATENCY, 3000, body), 0,
	    "store mode restored: want keystore_latency; last body: %s\n"
	    "log:\n%s", body, tsrv_log_tail(&srv));

	cr_assert_eq(rename(srv.keys, away), 0);
	cr_expect_geq(wait_status(STATUS_UNREACHABLE, 3000, body), 0,
	    "store renamed away: want keystore_unreachable; last body: %s",
	    body);
	cr_assert_eq(rename(away, srv.keys), 0);
	cr_expect_geq(wait_status(STATUS_LATENCY, 3000, body), 0,
	    "store back: want keystore_latency; last body: %s\nlog:\n%s",
	    body, tsrv_log_tail(&srv));
}

/* --- 9. non-root with cap_ipc_lock (keyward-setcap.service) ------------------------- */

static const char *
find_setcap(void)
{
	static const char *const paths[] = {
		"/usr/sbin/setcap", "/sbin/setcap", "/usr/bin/setcap", NULL
	};
	int i;

	for (i = 0; paths[i] != NULL; i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

static int
copy_file(const char *from, const char *to, mode_t mode)
{
	char	buf[65536];
	ssize_t	n;
	int	in, out, r = 0;

	if ((in = open(from, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    mode)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n) {
			r = -1;
			break;
		}
	if (n < 0 || fchmod(out, mode) == -1)
		r = -1;
	close(in);
	if (close(out) == -1)
		r = -1;
	return r;
}

Test(system, setcap_nonroot, .timeout = 60)
{
	struct tsrv_cfg	 cfg = { 0 };
	struct passwd	*pw;
	const char	*setcap;
	char		 bin[PATH_MAX], exe[PATH_MAX], cmd[4 * PATH_MAX + 64];
	char		 body[BODYLEN], v[128];
	int		 status = -1, r;
	unsigned int	 a, b, c, d;

	need_root();
	pw = keyward_user();
	if ((setcap = find_setcap()) == NULL)
		cr_skip_test("setcap is missing (apt-get install libcap2-bin); "
		    "the setcap deployment cannot be tested");
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s",
	    strerror(errno));

	/* The capable copy stays root-owned; only data belongs to keyward. */
	FMT(bin, "%s/bin", srv.dir);
	cr_assert_eq(mkdir(bin, 0755), 0);
	cr_assert_eq(chmod(bin, 0755), 0);
	FMT(exe, "%s/keyward", bin);
	cr_assert_eq(copy_file(srv.exe, exe, 0755), 0, "copy %s: %s",
	    srv.exe, strerror(errno));
	FMT(srv.exe, "%s", exe);
	FMT(cmd, "%s cap_ipc_lock+ep '%s'", setcap, exe);
	r = system(cmd);
	cr_assert_eq(r, 0, "`%s` failed (status 0x%x)", cmd, r);

	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(mkdir(srv.keys, 0700), 0);
	snprintf(cmd, sizeof(cmd), "chown -R %u:%u '%s' '%s' '%s'",
	    (unsigned int)pw->pw_uid, (unsigned int)pw->pw_gid, srv.pki,
	    srv.keys, srv.config);
	cr_assert_eq(system(cmd), 0, "%s", cmd);

	cr_assert_eq(tsrv_start_as(&srv, pw->pw_uid, pw->pw_gid), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0,
	    "the setcap server did not log \"serving on\" within %d s; "
	    "log:\n%s", READY_MS / 1000, tsrv_log_tail(&srv));
	cr_expect_gt(tsrv_log_count(&srv, "not started as root"), 0);

	cr_assert_eq(tsrv_proc_field(srv.pid, "Uid", v, sizeof(v)), 0);
	cr_assert_eq(sscanf(v, "%u %u %u %u", &a, &b, &c, &d), 4);
	cr_expect(a == pw->pw_uid && b == a && c == a && d == a,
	    "parent Uid: %s", v);
	/* No chroot without root: every child's root is "/". */
	expect_tree(pw, "/");

	cr_expect_geq(wait_status(STATUS_LATENCY, 2000, body), 0,
	    "/v1/status must report keystore_latency; last body: %s\n"
	    "log:\n%s", body, tsrv_log_tail(&srv));

	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0,
	    "the server did not exit within 10 s of SIGTERM; log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "exit status 0x%x after SIGTERM, want exit 0; log:\n%s", status,
	    tsrv_log_tail(&srv));
}

/*
 * keyward.service: the parent is root without CAP_SYS_CHROOT and CAP_KILL
 * (its bounding set, as the unit's; here set by setpriv). The workers and
 * the crypto process are not chrooted, Landlock fences them instead, and a
 * child that does not stop is still killed: through a process of the
 * parent's that becomes server.user first. Without Landlock in the kernel
 * the start is refused with what to give the unit.
 */
Test(system, unit_without_chroot_and_kill, .timeout = 60)
{
	struct tsrv_proc	 kids[TSRV_MAXPROCS];
	struct passwd		*pw;
	char			 body[BODYLEN], wrap[PATH_MAX], real[PATH_MAX];
	char			 text[2 * PATH_MAX + 128], v[128];
	int			 i, n, status = -1;
	pid_t			 stopped = 0;
	uint64_t		 t0;

	need_root();
	pw = keyward_user();
	if (access("/usr/bin/setpriv", X_OK) != 0)
		cr_skip_test("setpriv (util-linux) is missing");
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s",
	    strerror(errno));
	FMT(real, "%s", srv.exe);
	FMT(wrap, "%s/unit.sh", srv.dir);
	FMT(text, "#!/bin/sh\nexec /usr/bin/setpriv --bounding-set "
	    "-sys_chroot,-kill -- '%s' \"$@\"\n", real);
	cr_assert_eq(tsrv_write_file(wrap, text), 0);
	cr_assert_eq(chmod(wrap, 0755), 0);
	FMT(srv.exe, "%s", wrap);
	cr_assert_eq(tsrv_write_config(&srv, &(struct tsrv_cfg){ 0 }), 0);
	cr_assert_eq(tsrv_start(&srv), 0);

	if (landlock_abi() == 0) {
		cr_assert_eq(tsrv_wait_exit(&srv, READY_MS, &status), 0);
		cr_expect_gt(tsrv_log_count(&srv, "no Landlock in this "
		    "kernel"), 0, "log:\n%s", tsrv_log_tail(&srv));
		cr_skip_test("the kernel has no Landlock: the refusal was "
		    "checked, the fence cannot be");
	}
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	cr_assert_eq(tsrv_proc_field(srv.pid, "CapBnd", v, sizeof(v)), 0);
	cr_expect_eq(strtoull(v, NULL, 16) & ((1ULL << 18) | (1ULL << 5)), 0,
	    "the parent still has CAP_SYS_CHROOT or CAP_KILL: CapBnd %s", v);
	cr_expect_gt(tsrv_log_count(&srv, "fenced from the file system by "
	    "Landlock"), 0, "log:\n%s", tsrv_log_tail(&srv));
	/* Every child as in the root deployment, none chrooted. */
	expect_tree(pw, "/");
	cr_expect_geq(wait_status(STATUS_LATENCY, 2000, body), 0,
	    "/v1/status: %s\nlog:\n%s", body, tsrv_log_tail(&srv));

	/* A worker that does not stop: the parent kills it at its timeout. */
	n = tsrv_children(&srv, kids, TSRV_MAXPROCS);
	for (i = 0; i < n; i++)
		if (strcmp(kids[i].cmd, "keyward worker 0") == 0)
			stopped = kids[i].pid;
	cr_assert_gt(stopped, 0);
	cr_assert_eq(kill(stopped, SIGSTOP), 0);
	t0 = tsrv_now_ms();
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 25000, &status), 0,
	    "the server did not exit within 25 s of SIGTERM; log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect_geq(tsrv_now_ms() - t0, 9000);
	cr_expect_gt(tsrv_log_count(&srv, "did not stop"), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "could not kill"), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect(tsrv_proc_cmdline(stopped, v, sizeof(v)) == -1 ||
	    strcmp(v, "keyward worker 0") != 0,
	    "the stopped worker outlived the parent; log:\n%s",
	    tsrv_log_tail(&srv));
}

/* --- 10. a configuration refused at start ------------------------------------------- */

Test(system, bad_config, .timeout = 60)
{
	struct tsrv_cfg	cfg = { 0 };
	char		missing[PATH_MAX + 16];
	int		status = -1;

	need_root();
	(void)keyward_user();
	cr_assert_eq(tsrv_init(&srv, NULL), 0, "test setup failed: %s",
	    strerror(errno));
	FMT(missing, "%s/missing-server.crt", srv.dir);
	cfg.cert = missing;
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 5000, &status), 0,
	    "the server did not exit within 5 s with a missing tls.cert; "
	    "log:\n%s", tsrv_log_tail(&srv));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) != 0,
	    "exit status 0x%x, want a non-zero exit; log:\n%s", status,
	    tsrv_log_tail(&srv));
	cr_expect_gt(tsrv_log_count(&srv, missing), 0,
	    "the error does not name %s; log:\n%s", missing,
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "serving on"), 0);
}

/* --- 11. TLS versions ----------------------------------------------------------- */

/* Both TLS 1.2 and TLS 1.3 complete a mutual-TLS handshake. */
Test(system, tls12_and_tls13, .timeout = 60)
{
	struct tsrv_req	v12 = { .ssl_version = CURL_SSLVERSION_TLSv1_2 |
			    CURL_SSLVERSION_MAX_TLSv1_2 };
	struct tsrv_req	v13 = { .ssl_version = CURL_SSLVERSION_TLSv1_3 |
			    CURL_SSLVERSION_MAX_TLSv1_3 };
	struct tsrv_req	v11 = { .ssl_version = CURL_SSLVERSION_TLSv1_1 |
			    CURL_SSLVERSION_MAX_TLSv1_1 };
	char		body[BODYLEN];
	long		code;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN,
	    &v12);
	cr_expect_eq(code, 200, "TLS 1.2: %ld %s", code, body);
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN,
	    &v13);
	cr_expect_eq(code, 200, "TLS 1.3: %ld %s", code, body);
	/* Below the minimum of spec §1.1. */
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/version", body, BODYLEN, &v11);
	cr_expect_eq(code, -1, "TLS 1.1 was accepted: %ld %s", code, body);
}

/* --- 12. a hung crypto process ---------------------------------------------------- */

/*
 * With the crypto process stopped, a /v1/status request is cut off at its
 * route timeout (api: /v1/status: timeout: 1s), the worker keeps serving
 * other requests meanwhile, and everything answers again once crypto runs.
 * The crypto process also makes every handshake signature (the TLS key is
 * there), so the requests go over connections made before it stopped; a
 * new connection waits for its handshake.
 */
Test(system, route_timeout_with_hung_crypto, .timeout = 60)
{
	struct tsrv_cfg	 cfg = { .extra = "api:\n  /v1/status:\n"
			    "    timeout: 1s\n" };
	struct tsrv_req	 quick = { .timeout_ms = 1500 };
	struct tsrv_keep *a, *b;
	char		 body[BODYLEN];
	uint64_t	 t0, took;
	pid_t		 crypto;
	long		 code;

	need_root();
	(void)keyward_user();
	start_server(&cfg);
	cr_assert_not_null(a = tsrv_keep_open(&srv, TSRV_ADMIN));
	cr_assert_not_null(b = tsrv_keep_open(&srv, TSRV_ADMIN));
	cr_assert_eq(tsrv_keep_get(a, "/version", body, BODYLEN, 3000), 200,
	    "%s", body);
	cr_assert_eq(tsrv_keep_get(b, "/version", body, BODYLEN, 3000), 200,
	    "%s", body);
	cr_assert_gt((crypto = tsrv_child(&srv, "keyward crypto")), 0);
	cr_assert_eq(kill(crypto, SIGSTOP), 0);
	t0 = tsrv_now_ms();
	code = tsrv_keep_get(a, "/v1/status", body, BODYLEN, 8000);
	took = tsrv_now_ms() - t0;
	/* While the request waited, /version had to work (other worker or
	 * the same one: neither may block on crypto). */
	cr_expect_eq(tsrv_keep_get(b, "/version", body, BODYLEN, 3000), 200,
	    "/version while crypto is stopped: %s", body);
	cr_expect_eq(tsrv_keep_connects(b), 1, "/version needed a new "
	    "connection");
	cr_expect_eq(tsrv_get_ex(&srv, TSRV_ADMIN, "/version", body, BODYLEN,
	    &quick), -1, "a handshake completed without the crypto process");
	kill(crypto, SIGCONT);
	tsrv_keep_close(a);
	tsrv_keep_close(b);
	cr_expect_eq(code, -1, "a request at a stopped crypto process was "
	    "answered: %ld", code);
	cr_expect_lt(took, 4000, "the connection was not cut at the 1 s "
	    "route timeout (took %" PRIu64 " ms)", took);
	cr_expect_geq(took, 900, "cut before the route timeout (%" PRIu64
	    " ms)", took);
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 200, "after SIGCONT: %ld %s", code, body);
}

/* --- 13. TLS files on SIGHUP ------------------------------------------------------- */

/*
 * A new server certificate from another CA takes effect on SIGHUP: new
 * handshakes verify against the new CA and no longer against the old one.
 */
Test(system, tls_reload, .timeout = 60)
{
	struct tsrv_cfg	cfg = { 0 };
	char		cmd[4096], crt[PATH_MAX + 16], key[PATH_MAX + 16];
	char		ca2[PATH_MAX + 16], body[BODYLEN];
	struct tsrv_req	newca = { 0 };
	uint64_t	t0;
	long		code = -1;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	FMT(ca2, "%s/ca2.crt", srv.pki);
	FMT(crt, "%s/server2.crt", srv.pki);
	FMT(key, "%s/server2.key", srv.pki);
	FMT(cmd, "set -e; cd '%s'; { "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca2.key -out ca2.crt -days 30 -subj /CN=test-ca2 "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign; "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout server2.key -out server2.csr -subj /CN=server2; "
	    "openssl x509 -req -in server2.csr -CA ca2.crt -CAkey ca2.key "
	    "-CAcreateserial -out server2.crt -days 30 -extfile server.ext; "
	    "} >pki2.log 2>&1", srv.pki);
	cr_assert_eq(system(cmd), 0, "openssl failed; see %s/pki2.log",
	    srv.pki);
	newca.cainfo = ca2;
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/version", body, BODYLEN,
	    &newca);
	cr_assert_eq(code, -1, "the new CA verified the old certificate");

	cfg.cert = crt;
	cfg.key = key;
	cr_assert_eq(tsrv_write_config(&srv, &cfg), 0);
	cr_assert_eq(kill(srv.pid, SIGHUP), 0);
	t0 = tsrv_now_ms();
	while (tsrv_now_ms() - t0 < 3000) {
		code = tsrv_get_ex(&srv, TSRV_ADMIN, "/version", body,
		    BODYLEN, &newca);
		if (code == 200)
			break;
		tsrv_sleep_ms(POLL_MS);
	}
	cr_expect_eq(code, 200, "the new certificate was not served within "
	    "3 s of SIGHUP: %ld %s; log:\n%s", code, body,
	    tsrv_log_tail(&srv));
	code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
	cr_expect_eq(code, -1, "the old certificate is still served");
}

/* --- 14. SIGTERM with a request in flight -------------------------------------- */

/*
 * A request parked at the crypto process when SIGTERM arrives is still
 * answered (200, not cut off), and then the server exits 0. Its connection
 * is made before the crypto process stops (which signs handshakes).
 */
struct inflight {
	struct tsrv_keep	*k;
	long			 code;
	char			 body[BODYLEN];
};

static void *
inflight_run(void *arg)
{
	struct inflight *f = arg;

	f->code = tsrv_keep_get(f->k, "/v1/status", f->body, BODYLEN, 8000);
	return NULL;
}

Test(system, sigterm_finishes_in_flight, .timeout = 60)
{
	static struct inflight	 f;
	pthread_t		 t;
	pid_t			 crypto;
	int			 status = -1;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	cr_assert_not_null(f.k = tsrv_keep_open(&srv, TSRV_ADMIN));
	cr_assert_eq(tsrv_keep_get(f.k, "/version", f.body, BODYLEN, 3000),
	    200, "%s", f.body);
	cr_assert_gt((crypto = tsrv_child(&srv, "keyward crypto")), 0);
	cr_assert_eq(kill(crypto, SIGSTOP), 0);
	f.code = -1;
	cr_assert_eq(pthread_create(&t, NULL, inflight_run, &f), 0);
	/* Give the request time to reach the (stopped) crypto process. */
	tsrv_sleep_ms(500);
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_log(&srv, "stopping", 1, 3000), 0,
	    "log:\n%s", tsrv_log_tail(&srv));
	tsrv_sleep_ms(200);
	cr_assert_eq(kill(crypto, SIGCONT), 0);
	pthread_join(t, NULL);
	cr_expect_eq(f.code, 200, "the request in flight at SIGTERM got %ld: "
	    "%s", f.code, f.body);
	cr_expect_eq(tsrv_keep_connects(f.k), 1);
	tsrv_keep_close(f.k);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0,
	    "the server did not exit; log:\n%s", tsrv_log_tail(&srv));
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "exit status %#x; log:\n%s", status, tsrv_log_tail(&srv));
}

/* --- 15. the development server (make run) -------------------------------------- */

/* The value after `label` on its line of the log, e.g. "files:". */
static void
log_value(const char *label, char *out, size_t len)
{
	const char	*tail = tsrv_log_tail(&srv), *p;
	size_t		 n;

	cr_assert_not_null(p = strstr(tail, label), "no '%s' in:\n%s", label,
	    tail);
	p += strlen(label);
	p += strspn(p, " ");
	n = strcspn(p, " \n");
	cr_assert_lt(n, len);
	memcpy(out, p, n);
	out[n] = '\0';
}

/*
 * `keyward server --dev` serves /v1/status over mTLS to the client
 * certificate it prints, and removes its throw-away files when it stops.
 */
Test(system, dev_server, .timeout = 60)
{
	char		body[BODYLEN], dir[PATH_MAX];
	struct stat	st;
	long		code;
	int		status = -1;

	need_root();
	(void)keyward_user();
	cr_assert_eq(tsrv_init(&srv, NULL), 0);
	srv.dev = true;
	cr_assert_eq(tsrv_start(&srv), 0);
	cr_assert_eq(tsrv_wait_ready(&srv, READY_MS), 0, "log:\n%s",
	    tsrv_log_tail(&srv));
	log_value("files:", dir, sizeof(dir));
	cr_assert_eq(strncmp(dir, "/tmp/keyward-dev.", 17), 0, "%s", dir);
	FMT(srv.ca, "%s/ca.crt", dir);
	FMT(srv.cert[TSRV_ADMIN], "%s/client.crt", dir);
	FMT(srv.key[TSRV_ADMIN], "%s/client.key", dir);
	cr_expect_eq(tsrv_log_count(&srv, "export KES_API_KEY=kes:v1:"), 1,
	    "log:\n%s", tsrv_log_tail(&srv));
	code = tsrv_get(&srv, TSRV_ADMIN, "/v1/status", body, BODYLEN);
	cr_expect_eq(code, 200, "%ld %s", code, body);
	cr_expect_eq(status_kind(body), STATUS_LATENCY, "%s", body);
	cr_assert_eq(kill(srv.pid, SIGTERM), 0);
	cr_assert_eq(tsrv_wait_exit(&srv, 10000, &status), 0);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "status %#x", status);
	cr_expect_eq(stat(dir, &st), -1, "%s was left behind", dir);
}

/* --- 16. a long redirect ------------------------------------------------------------ */

/*
 * Go's ServeMux answers a non-canonical path with 301 to the cleaned one,
 * however long; the Location echoes it (the response head has no fixed
 * size).
 */
Test(system, long_redirect, .timeout = 60)
{
	char	path[4200], body[3 * sizeof(path)];
	long	code;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	memcpy(path, "/v1//", 5);
	memset(path + 5, 'a', sizeof(path) - 6);
	path[sizeof(path) - 1] = '\0';
	code = tsrv_get(&srv, TSRV_ADMIN, path, body, sizeof(body));
	cr_expect_eq(code, 301, "%ld %.200s", code, body);
	cr_expect_not_null(strstr(body, "Moved Permanently"), "%.200s", body);
}

/* --- 17. a request body that arrives over many reads ---------------------------- */

/*
 * A body large enough to grow the connection's input buffer while it
 * arrives: the request head parsed before it must still be read from the
 * buffer's new place (the sanitizer build reports a use after free
 * otherwise). The route then answers KES's 405.
 */
Test(system, large_body_after_head, .timeout = 60)
{
	static char	big[300000];
	struct tsrv_req	post = { .method = "POST", .body = big,
			    .body_len = sizeof(big), .timeout_ms = 10000 };
	char		body[BODYLEN];
	long		code;

	need_root();
	(void)keyward_user();
	start_server(NULL);
	memset(big, 'x', sizeof(big));
	code = tsrv_get_ex(&srv, TSRV_ADMIN, "/version", body, BODYLEN,
	    &post);
	cr_expect_eq(code, 405, "%ld %s", code, body);
	cr_expect_str_eq(body, "{\"message\":\"received method 'POST' "
	    "expected 'GET'\"\n}");
	code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
	cr_expect_eq(code, 200, "the worker did not survive: %ld %s", code,
	    body);
}

/* --- 18. out of descriptors ------------------------------------------------------- */

/* The soft RLIMIT_NOFILE of a process, from /proc (-1 if unreadable). */
static long
proc_nofile(pid_t pid, bool hard)
{
	char	path[64], line[256];
	long	soft_v = -1, hard_v = -1;
	FILE	*f;

	snprintf(path, sizeof(path), "/proc/%d/limits", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "Max open files", 14) == 0)
			(void)sscanf(line + 14, "%ld %ld", &soft_v, &hard_v);
	fclose(f);
	return hard ? hard_v : soft_v;
}

static int
tcp_connect(int port)
{
	struct sockaddr_in	sin = { .sin_family = AF_INET };
	int			fd;

	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A worker raises its soft descriptor limit to the hard one (as Go does
 * for KES), and one that runs out of descriptors stops watching the
 * listener instead of spinning on EMFILE and logging each time; it
 * accepts again once connections close.
 */
Test(system, out_of_descriptors, .timeout = 60)
{
	struct tsrv_cfg	cfg = { .workers = 1 };
	struct rlimit	rl = { .rlim_cur = 64, .rlim_max = 128 };
	char		body[BODYLEN];
	pid_t		wk, holder;
	int		fds[128], p[2], n = 0, i;
	long		code;
	uint64_t	t0;

	need_root();
	(void)keyward_user();
	/*
	 * The server inherits these limits (this test runs in a process of
	 * its own). Without CAP_SYS_RESOURCE they cannot be set on the
	 * worker from outside, so the hard limit is small enough for this
	 * process to open more connections than the worker can accept.
	 */
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "%s", strerror(errno));
	start_server(&cfg);
	cr_assert_gt(wk = tsrv_child(&srv, "keyward worker 0"), 0);
	cr_expect_eq(proc_nofile(wk, false), 128, "the worker kept a soft "
	    "limit of %ld (hard %ld)", proc_nofile(wk, false),
	    proc_nofile(wk, true));

	rl.rlim_cur = rl.rlim_max;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0, "%s", strerror(errno));
	/* Two processes of ours hold more than the worker can. */
	cr_assert_eq(pipe(p), 0);
	cr_assert_neq(holder = fork(), -1);
	if (holder == 0) {
		for (i = 0; i < 100; i++)
			if ((fds[n] = tcp_connect(srv.port)) != -1)
				n++;
		if (write(p[1], &n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &i, sizeof(i)), (ssize_t)sizeof(i));
	close(p[0]);
	for (i = 0; i < 100; i++)
		if ((fds[n] = tcp_connect(srv.port)) != -1)
			n++;
	t0 = tsrv_now_ms();
	while (tsrv_log_count(&srv, "new ones wait") == 0 &&
	    tsrv_now_ms() - t0 < 5000)
		tsrv_sleep_ms(POLL_MS);
	tsrv_sleep_ms(500);
	kill(holder, SIGKILL);
	(void)waitpid(holder, NULL, 0);
	cr_expect_eq(tsrv_log_count(&srv, "new ones wait"), 1, "log:\n%s",
	    tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_log_count(&srv, "accept"), 1, "the worker logged "
	    "accept failures repeatedly; log:\n%s", tsrv_log_tail(&srv));

	for (i = 0; i < n; i++)
		close(fds[i]);
	code = 0;
	t0 = tsrv_now_ms();
	while (tsrv_now_ms() - t0 < 10000) {
		code = tsrv_get(&srv, TSRV_ADMIN, "/version", body, BODYLEN);
		if (code == 200)
			break;
		tsrv_sleep_ms(POLL_MS);
	}
	cr_expect_eq(code, 200, "no answer after the connections closed: "
	    "%ld; log:\n%s", code, tsrv_log_tail(&srv));
	cr_expect_eq(tsrv_child(&srv, "keyward worker 0"), wk,
	    "the worker was replaced");
}
