/*
 * End-to-end test helpers: PKI, configuration, a server on a free port,
 * mTLS requests, /proc views. See testsrv.h.
 */
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "common/dirs.h"
#include "common/identity.h"
#include "tests/lib/testsrv.h"

static const char *const client_name[TSRV_NCLIENTS] = {
	"admin", "nobody", "status"
};

uint64_t
tsrv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
tsrv_sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* --- files ------------------------------------------------------------ */

int
tsrv_write_file(const char *path, const char *text)
{
	char	tmp[PATH_MAX + 8];
	size_t	len = strlen(text);
	int	fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0644)) == -1)
		return -1;
	if (write(fd, text, len) != (ssize_t)len || fsync(fd) == -1) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	close(fd);
	return rename(tmp, path);
}

/* The whole file, NUL-terminated, in a malloc'ed buffer; NULL on error. */
static char *
read_all(const char *path, size_t *lenp)
{
	char	*buf = NULL, *nb;
	size_t	 len = 0, cap = 0;
	ssize_t	 n;
	int	 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return buf;
}

/* --- PKI ---------------------------------------------------------------- */

/* The openssl commands of shared/reference/test-components.md §1. */
static int
make_pki(struct testsrv *s)
{
	char	cmd[4096];
	int	n, r;

	n = snprintf(cmd, sizeof(cmd),
	    "set -e; cd '%s'; { "
	    "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 "
	    "-nodes -keyout ca.key -out ca.crt -days 3650 -subj /CN=test-ca "
	    "-addext basicConstraints=critical,CA:TRUE "
	    "-addext keyUsage=critical,keyCertSign,cRLSign; "
	    "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,"
	    "digitalSignature\\nextendedKeyUsage=serverAuth,clientAuth\\n"
	    "subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > server.ext; "
	    "printf 'basicConstraints=CA:FALSE\\nkeyUsage=critical,"
	    "digitalSignature\\nextendedKeyUsage=clientAuth\\n' > client.ext; "
	    "for n in server %s %s %s; do "
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout $n.key -out $n.csr -subj /CN=$n; "
	    "e=client.ext; [ $n = server ] && e=server.ext; "
	    "openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out $n.crt -days 825 -extfile $e; done; "
	    "} >pki.log 2>&1",
	    s->pki, client_name[0], client_name[1], client_name[2]);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	r = system(cmd);
	return r == 0 ? 0 : -1;
}

static int
cert_identity(const char *path, char out[TSRV_IDLEN + 1])
{
	FILE	*f;
	X509	*x;
	int	 r;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (x == NULL)
		return -1;
	r = identity_of_cert(x, out);
	X509_free(x);
	return r;
}

/* Bind 127.0.0.1:0, read the port, close. */
static int
free_port(void)
{
	struct sockaddr_in	sin;
	socklen_t		len = sizeof(sin);
	int			fd, port = -1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	close(fd);
	return port;
}

/*
 * $KEYWARD_BIN, else the keyward of the build directory this test binary
 * belongs to: B/tests/test_x -> B/keyward (build, build-san, build-opt).
 */
int
tsrv_default_exe(char *out, size_t len)
{
	const char	*env = getenv("KEYWARD_BIN");
	char		 self[PATH_MAX], *slash;
	ssize_t		 n;
	int		 i;

	if (env != NULL && env[0] != '\0')
		return realpath(env, out) == NULL ? -1 : 0;
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) <= 0)
		return -1;
	self[n] = '\0';
	for (i = 0; i < 2; i++) {
		if ((slash = strrchr(self, '/')) == NULL)
			return -1;
		*slash = '\0';
	}
	if (snprintf(out, len, "%s/keyward", self) >= (int)len)
		return -1;
	return access(out, X_OK);
}

#define PATHF(dst, ...) \
	(snprintf((dst), sizeof(dst), __VA_ARGS__) >= (int)sizeof(dst))

int
tsrv_init(struct testsrv *s, const char *exe)
{
	static bool	curl_ready;
	char		tmpl[] = "/tmp/keyward-e2e.XXXXXX";
	int		i;

	memset(s, 0, sizeof(*s));
	if (!curl_ready) {
		if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
			return -1;
		curl_ready = true;
	}
	if (mkdtemp(tmpl) == NULL)
		return -1;
	strcpy(s->dir, tmpl);
	if (chmod(s->dir, 0755) == -1)
		return -1;
	if (exe == NULL && tsrv_default_exe(s->exe, sizeof(s->exe)) == -1)
		return -1;
	if (exe != NULL && PATHF(s->exe, "%s", exe))
		return -1;
	if (PATHF(s->pki, "%s/pki", s->dir) ||
	    PATHF(s->chroot, "%s/chroot", s->dir) ||
	    PATHF(s->keys, "%s/keys", s->dir) ||
	    PATHF(s->config, "%s/keyward.yml", s->dir) ||
	    PATHF(s->log, "%s/server.log", s->dir) ||
	    PATHF(s->ca, "%s/ca.crt", s->pki))
		return -1;
	if (mkdir(s->pki, 0755) == -1 || mkdir(s->chroot, 0755) == -1 ||
	    chmod(s->chroot, 0755) == -1)
		return -1;
	if (make_pki(s) == -1)
		return -1;
	for (i = 0; i < TSRV_NCLIENTS; i++) {
		if (PATHF(s->cert[i], "%s/%s.crt", s->pki, client_name[i]) ||
		    PATHF(s->key[i], "%s/%s.key", s->pki, client_name[i]) ||
		    cert_identity(s->cert[i], s->id[i]) == -1)
			return -1;
	}
	if ((s->port = free_port()) == -1)
		return -1;
	return 0;
}

int
tsrv_write_config(struct testsrv *s, const struct tsrv_cfg *c)
{
	char	text[32768], cert[PATH_MAX + 16], key[PATH_MAX + 16];
	char	auth[PATH_MAX + 64], crypto[32] = "";
	int	n;

	if (c->crypto > 0)
		snprintf(crypto, sizeof(crypto), "  crypto: %u\n", c->crypto);
	if (c->cert != NULL)
		snprintf(cert, sizeof(cert), "%s", c->cert);
	else
		snprintf(cert, sizeof(cert), "%s/server.crt", s->pki);
	if (c->key != NULL)
		snprintf(key, sizeof(key), "%s", c->key);
	else
		snprintf(key, sizeof(key), "%s/server.key", s->pki);
	if (c->tls_auth == NULL)
		snprintf(auth, sizeof(auth), "  auth: on\n  ca: %s\n", s->ca);
	else if (c->tls_auth[0] == '\0')
		auth[0] = '\0';
	else if (snprintf(auth, sizeof(auth), "  auth: %s\n", c->tls_auth) >=
	    (int)sizeof(auth))
		return -1;
	n = snprintf(text, sizeof(text),
	    "version: v1\n"
	    "address: 127.0.0.1:%d\n"
	    "admin:\n"
	    "  identity: %s\n"
	    "tls:\n"
	    "  key: %s\n"
	    "  cert: %s\n"
	    "%s"
	    "log:\n"
	    "  error: on\n"
	    "%s%s%s"
	    "policy:\n"
	    "  status:\n"
	    "    allow:\n"
	    "      - /v1/status\n"
	    "    identities:\n"
	    "      - %s\n"
	    "%s%s%s"
	    "%s"
	    "keystore:\n"
	    "  fs:\n"
	    "    path: %s\n"
	    "%s"
	    "server:\n"
	    "  workers: %u\n"
	    "%s"
	    "  chroot: %s\n"
	    "  mlock: on\n"
	    "%s",
	    s->port, c->admin ? c->admin : s->id[TSRV_ADMIN], key, cert, auth,
	    c->audit ? "  audit: " : "", c->audit ? c->audit : "",
	    c->audit ? "\n" : "",
	    s->id[TSRV_STATUS],
	    c->nobody_policy ? "  late:\n    allow:\n      - /v1/status\n"
	    "    identities:\n      - " : "",
	    c->nobody_policy ? s->id[TSRV_NOBODY] : "",
	    c->nobody_policy ? "\n" : "",
	    c->policies ? c->policies : "",
	    s->keys, c->keystore_extra ? c->keystore_extra : "",
	    c->workers ? c->workers : 2, crypto, s->chroot,
	    c->extra ? c->extra : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return tsrv_write_file(s->config, text);
}

/* --- the server process --------------------------------------------------- */

static void __attribute__((noreturn))
child_exec(struct testsrv *s, uid_t uid, gid_t gid)
{
	char		*argv[6 + 8] = { s->exe, "server", "--config",
			    s->config, NULL };
	char		 addr[32];
	sigset_t	 none;
	int		 fd, sig;
	size_t		 i;

	for (i = 0; i < 7 && s->args[i] != NULL; i++)
		argv[4 + i] = (char *)(uintptr_t)s->args[i];
	argv[4 + i] = NULL;
	if (s->dev) {
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", s->port);
		argv[2] = "--dev";
		argv[3] = "--addr";
		argv[4] = addr;
	}

	if ((fd = open(s->log, O_WRONLY | O_CREAT | O_APPEND, 0644)) == -1 ||
	    dup2(fd, STDOUT_FILENO) == -1 || dup2(fd, STDERR_FILENO) == -1)
		_exit(126);
	if ((fd = open("/dev/null", O_RDONLY)) == -1 ||
	    dup2(fd, STDIN_FILENO) == -1)
		_exit(126);
	/* Nothing of the test runner's: descriptors, mask, dispositions
	 * (an ignored SIGCHLD would survive exec and break reaping). */
	if (close_range(3, ~0U, 0) == -1)
		for (fd = 3; fd < 1024; fd++)
			(void)close(fd);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)signal(sig, SIG_DFL);
	if (uid != (uid_t)-1) {
		if (setgroups(1, &gid) == -1 || setgid(gid) == -1 ||
		    setuid(uid) == -1) {
			dprintf(STDERR_FILENO, "testsrv: cannot switch to "
			    "uid %u: %s\n", (unsigned int)uid,
			    strerror(errno));
			_exit(126);
		}
	}
	/* If the test process dies (criterion's timeout), so does the
	 * server; its children follow when their control channel closes.
	 * Cleared again by exec of a binary with file capabilities. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	execv(s->exe, argv);
	dprintf(STDERR_FILENO, "testsrv: execv %s: %s\n", s->exe,
	    strerror(errno));
	_exit(127);
}

int
tsrv_start_as(struct testsrv *s, uid_t uid, gid_t gid)
{
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0)
		child_exec(s, uid, gid);
	s->pid = pid;
	s->reaped = false;
	s->status = 0;
	return 0;
}

int
tsrv_start(struct testsrv *s)
{
	return tsrv_start_as(s, (uid_t)-1, (gid_t)-1);
}

bool
tsrv_exited(struct testsrv *s, int *status)
{
	int st;

	if (s->pid <= 0)
		return false;
	if (!s->reaped) {
		if (waitpid(s->pid, &st, WNOHANG) != s->pid)
			return false;
		s->reaped = true;
		s->status = st;
	}
	if (status != NULL)
		*status = s->status;
	return true;
}

int
tsrv_wait_exit(struct testsrv *s, unsigned int timeout_ms, int *status)
{
	uint64_t end = tsrv_now_ms() + timeout_ms;

	for (;;) {
		if (tsrv_exited(s, status))
			return 0;
		if (tsrv_now_ms() >= end)
			return -1;
		tsrv_sleep_ms(20);
	}
}

int
tsrv_wait_ready(struct testsrv *s, unsigned int timeout_ms)
{
	char		needle[64];
	uint64_t	end = tsrv_now_ms() + timeout_ms;

	snprintf(needle, sizeof(needle), "serving on 127.0.0.1:%d ", s->port);
	for (;;) {
		if (tsrv_log_count(s, needle) > 0)
			return 0;
		if (tsrv_exited(s, NULL) || tsrv_now_ms() >= end)
			return -1;
		tsrv_sleep_ms(20);
	}
}

/*
 * A child we saw that is still ours: alive, named keyward, and still the
 * server's child or an orphan (adopted by init, or by us as a subreaper).
 * Not a recycled pid now in another test's server (run-tests.sh -j2).
 */
static bool
still_ours(pid_t pid, pid_t server)
{
	char	cmd[128], ppid[32];
	pid_t	pp;

	if (tsrv_proc_cmdline(pid, cmd, sizeof(cmd)) == -1 ||
	    strncmp(cmd, "keyward ", 8) != 0 ||
	    tsrv_proc_field(pid, "PPid", ppid, sizeof(ppid)) == -1)
		return false;
	pp = (pid_t)atoi(ppid);
	return pp == server || pp == 1 || pp == getpid();
}

void
tsrv_cleanup(struct testsrv *s)
{
	struct tsrv_proc	kids[TSRV_MAXPROCS];
	const char		*keep = getenv("KEYWARD_TEST_KEEP");
	size_t			i;

	if (s->pid > 0 && !tsrv_exited(s, NULL)) {
		(void)tsrv_children(s, kids, TSRV_MAXPROCS);
		/* Politely first, so that it reaps its own children. */
		(void)kill(s->pid, SIGTERM);
		(void)tsrv_wait_exit(s, 3000, NULL);
	}
	if (s->pid > 0 && !tsrv_exited(s, NULL)) {
		/* Stopped, it restarts nothing while its children go. */
		(void)kill(s->pid, SIGSTOP);
		(void)tsrv_children(s, kids, TSRV_MAXPROCS);
		for (i = 0; i < s->nseen; i++)
			if (still_ours(s->seen[i], s->pid))
				(void)kill(s->seen[i], SIGKILL);
		(void)kill(s->pid, SIGKILL);
		(void)waitpid(s->pid, NULL, 0);
		s->reaped = true;
	} else {
		/* Orphans of a parent that died first. */
		for (i = 0; i < s->nseen; i++)
			if (still_ours(s->seen[i], s->pid))
				(void)kill(s->seen[i], SIGKILL);
	}
	s->pid = 0;
	if (s->dir[0] != '\0' && (keep == NULL || strcmp(keep, "1") != 0))
		(void)tree_remove(s->dir);
	s->dir[0] = '\0';
}

/* --- the log ----------------------------------------------------------------- */

int
tsrv_log_count(const struct testsrv *s, const char *needle)
{
	char		*text, *p;
	int		 n = 0;

	if ((text = read_all(s->log, NULL)) == NULL)
		return 0;
	for (p = text; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	free(text);
	return n;
}

int
tsrv_wait_log(const struct testsrv *s, const char *needle, int n,
    unsigned int timeout_ms)
{
	uint64_t end = tsrv_now_ms() + timeout_ms;

	for (;;) {
		if (tsrv_log_count(s, needle) >= n)
			return 0;
		if (tsrv_now_ms() >= end)
			return -1;
		tsrv_sleep_ms(20);
	}
}

const char *
tsrv_log_tail(const struct testsrv *s)
{
	static char	tail[3072];
	char		*text;
	size_t		 len, start;

	if ((text = read_all(s->log, &len)) == NULL) {
		snprintf(tail, sizeof(tail), "(no log: %s)", strerror(errno));
		return tail;
	}
	start = len >= sizeof(tail) ? len - (sizeof(tail) - 1) : 0;
	memcpy(tail, text + start, len - start);
	tail[len - start] = '\0';
	free(text);
	return tail;
}

/* --- requests ------------------------------------------------------------------ */

struct sink {
	char	*buf;
	size_t	 len, cap;
};

static size_t
sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink	*k = arg;
	size_t		 n = size * nmemb, room = k->cap - 1 - k->len;

	memcpy(k->buf + k->len, data, n < room ? n : room);
	k->len += n < room ? n : room;
	k->buf[k->len] = '\0';
	return n;
}

long
tsrv_get(const struct testsrv *s, enum tsrv_client who, const char *path,
    char *body, size_t bodylen)
{
	return tsrv_get_ex(s, who, path, body, bodylen, NULL);
}

/*
 * A curl handle for path as client `who` with the options of o; the
 * caller adds its callbacks. NULL (and msg in err) on failure. *hdrs gets
 * the header list to free after the transfer.
 */
static CURL *
make_handle(const struct testsrv *s, enum tsrv_client who, const char *path,
    const struct tsrv_req *o, char *err, size_t errlen,
    struct curl_slist **hdrs)
{
	char		 url[16384];
	CURL		*h;
	size_t		 i;

	*hdrs = NULL;
	if (snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", s->port,
	    path) >= (int)sizeof(url)) {
		snprintf(err, errlen, "path too long for the test client");
		return NULL;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(err, errlen, "curl_easy_init failed");
		return NULL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* Send the path as given: the server's 301 for "//" is tested. */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_CAINFO, o && o->cainfo ? o->cainfo : s->ca);
	if (o != NULL && o->ssl_version != 0)
		curl_easy_setopt(h, CURLOPT_SSLVERSION, o->ssl_version);
	if (o == NULL || !o->no_cert) {
		curl_easy_setopt(h, CURLOPT_SSLCERT,
		    o && o->cert ? o->cert : s->cert[who]);
		curl_easy_setopt(h, CURLOPT_SSLKEY,
		    o && o->key ? o->key : s->key[who]);
	}
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	if (o != NULL && o->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)o->body_len);
	}
	if (o != NULL && o->method != NULL) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, o->method);
		/* A HEAD answer has a Content-Length but no body. */
		if (strcmp(o->method, "HEAD") == 0)
			curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	for (i = 0; o != NULL && o->headers != NULL && o->headers[i] != NULL;
	    i++)
		*hdrs = curl_slist_append(*hdrs, o->headers[i]);
	if (*hdrs != NULL)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
	return h;
}

long
tsrv_get_ex(const struct testsrv *s, enum tsrv_client who, const char *path,
    char *body, size_t bodylen, const struct tsrv_req *o)
{
	char		 err[CURL_ERROR_SIZE] = "";
	struct sink	 k = { body, 0, bodylen };
	struct curl_slist *hdrs;
	CURL		*h;
	CURLcode	 rc;
	long		 code = -1;

	if (bodylen == 0)
		return -1;
	body[0] = '\0';
	if ((h = make_handle(s, who, path, o, body, bodylen, &hdrs)) == NULL)
		return -1;
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    o && o->timeout_ms ? o->timeout_ms : 3000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	else
		snprintf(body, bodylen, "curl: %s", err[0] ? err :
		    curl_easy_strerror(rc));
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return code;
}

/* --- a connection kept for several requests ------------------------------ */

struct tsrv_keep {
	const struct testsrv	*s;
	CURL			*h;
	long			 connects;
};

struct tsrv_keep *
tsrv_keep_open(const struct testsrv *s, enum tsrv_client who)
{
	struct tsrv_keep	*k;
	struct curl_slist	*hdrs;
	char			 err[256];

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->s = s;
	if ((k->h = make_handle(s, who, "/", NULL, err, sizeof(err),
	    &hdrs)) == NULL) {
		free(k);
		return NULL;
	}
	curl_slist_free_all(hdrs);
	curl_easy_setopt(k->h, CURLOPT_FORBID_REUSE, 0L);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, sink_write);
	return k;
}

long
tsrv_keep_get(struct tsrv_keep *k, const char *path, char *body,
    size_t bodylen, long timeout_ms)
{
	char		 url[4096], err[CURL_ERROR_SIZE] = "";
	struct sink	 out = { body, 0, bodylen };
	CURLcode	 rc;
	long		 code = -1, n = 0;

	if (bodylen == 0 || snprintf(url, sizeof(url),
	    "https://127.0.0.1:%d%s", k->s->port, path) >= (int)sizeof(url))
		return -1;
	body[0] = '\0';
	curl_easy_setopt(k->h, CURLOPT_URL, url);
	curl_easy_setopt(k->h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, &out);
	rc = curl_easy_perform(k->h);
	if (curl_easy_getinfo(k->h, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK)
		k->connects += n;
	if (rc == CURLE_OK)
		curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &code);
	else
		snprintf(body, bodylen, "curl: %s", err[0] ? err :
		    curl_easy_strerror(rc));
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, NULL);
	return code;
}

long
tsrv_keep_connects(const struct tsrv_keep *k)
{
	return k->connects;
}

void
tsrv_keep_close(struct tsrv_keep *k)
{
	if (k == NULL)
		return;
	curl_easy_cleanup(k->h);
	free(k);
}

/* --- requests with heads, and streams ------------------------------------- */

/* A growing NUL-terminated byte string. */
struct gbuf {
	char	*p;
	size_t	 len, cap;
	bool	 oom;
};

static void
gbuf_add(struct gbuf *g, const char *data, size_t n)
{
	char	*np;
	size_t	 cap;

	if (g->oom)
		return;
	if (g->len + n + 1 > g->cap) {
		cap = g->cap ? g->cap : 4096;
		while (cap < g->len + n + 1)
			cap *= 2;
		if ((np = realloc(g->p, cap)) == NULL) {
			g->oom = true;
			return;
		}
		g->p = np;
		g->cap = cap;
	}
	memcpy(g->p + g->len, data, n);
	g->len += n;
	g->p[g->len] = '\0';
}

static char *
gbuf_take(struct gbuf *g)
{
	char *p;

	if (g->p == NULL)
		gbuf_add(g, "", 0);
	p = g->p;
	memset(g, 0, sizeof(*g));
	return p;
}

struct capture {
	struct gbuf	head;
	struct gbuf	body;
	bool		head_done;	/* the blank line of a final head */
};

static size_t
capture_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct capture *k = arg;

	gbuf_add(&k->body, data, size * nmemb);
	return size * nmemb;
}

/* Keep the last head only: an interim 100 Continue starts over. */
static size_t
capture_head(char *data, size_t size, size_t nmemb, void *arg)
{
	struct capture	*k = arg;
	size_t		 n = size * nmemb;

	if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) {
		k->head.len = 0;
		k->head_done = false;
	}
	gbuf_add(&k->head, data, n);
	if ((n == 2 && memcmp(data, "\r\n", 2) == 0) ||
	    (n == 1 && data[0] == '\n')) {
		/* 1xx heads are followed by the real one. */
		if (!(k->head.len > 9 && k->head.p[9] == '1'))
			k->head_done = true;
	}
	return n;
}

long
tsrv_request(const struct testsrv *s, enum tsrv_client who, const char *path,
    const struct tsrv_req *o, struct tsrv_resp *r)
{
	char		 err[CURL_ERROR_SIZE] = "";
	struct capture	 k;
	struct curl_slist *hdrs;
	CURL		*h;
	CURLcode	 rc;

	memset(r, 0, sizeof(*r));
	memset(&k, 0, sizeof(k));
	r->status = -1;
	if ((h = make_handle(s, who, path, o, r->err, sizeof(r->err),
	    &hdrs)) == NULL)
		goto out;
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    o && o->timeout_ms ? o->timeout_ms : 5000L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, capture_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &k);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, capture_head);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &k);
	rc = curl_easy_perform(h);
	if (rc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	else
		snprintf(r->err, sizeof(r->err), "curl: %.240s", err[0] ? err :
		    curl_easy_strerror(rc));
	if (k.head.oom || k.body.oom) {
		r->status = -1;
		snprintf(r->err, sizeof(r->err), "out of memory");
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
out:
	r->len = k.body.len;
	r->body = gbuf_take(&k.body);
	r->head = gbuf_take(&k.head);
	if (r->body == NULL || r->head == NULL) {
		r->status = -1;
		r->len = 0;
	}
	return r->status;
}

void
tsrv_resp_free(struct tsrv_resp *r)
{
	free(r->body);
	free(r->head);
	r->body = r->head = NULL;
	r->len = 0;
}

/* The header `name` in a CRLF head: count, and the first value to out. */
static int
head_header(const char *head, const char *name, char *out, size_t len)
{
	const char	*p, *eol, *v;
	size_t		 nlen = strlen(name), vlen;
	int		 count = 0;

	if (len > 0)
		out[0] = '\0';
	if (head == NULL)
		return 0;
	/* The status line first, then one header per line. */
	for (p = strchr(head, '\n'); p != NULL && *++p != '\0'; p = eol) {
		if ((eol = strchr(p, '\n')) == NULL)
			eol = p + strlen(p);
		if ((size_t)(eol - p) > nlen && p[nlen] == ':' &&
		    strncasecmp(p, name, nlen) == 0) {
			if (count++ == 0 && len > 0) {
				v = p + nlen + 1;
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				vlen = (size_t)(eol - v);
				while (vlen > 0 && (v[vlen - 1] == '\r' ||
				    v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
					vlen--;
				if (vlen >= len)
					vlen = len - 1;
				memcpy(out, v, vlen);
				out[vlen] = '\0';
			}
		}
		if (*eol == '\0')
			break;
	}
	return count;
}

int
tsrv_resp_header(const struct tsrv_resp *r, const char *name, char *out,
    size_t len)
{
	return head_header(r->head, name, out, len);
}

/* Wait until the socket is readable (or writable); false on timeout. */
static bool
wait_sock(curl_socket_t fd, bool wr, uint64_t end)
{
	struct pollfd	pfd = { .fd = fd, .events = wr ? POLLOUT : POLLIN };
	uint64_t	now = tsrv_now_ms();

	if (now >= end)
		return false;
	return poll(&pfd, 1, (int)(end - now)) > 0;
}

long
tsrv_raw(const struct testsrv *s, enum tsrv_client who, const void *req,
    size_t len, char *out, size_t outlen, unsigned int timeout_ms)
{
	char		 err[CURL_ERROR_SIZE] = "";
	const char	*p = req;
	struct curl_slist *hdrs;
	curl_socket_t	 fd;
	uint64_t	 end = tsrv_now_ms() + timeout_ms;
	size_t		 n, got = 0;
	CURLcode	 rc;
	CURL		*h;

	if (outlen == 0)
		return -1;
	out[0] = '\0';
	if ((h = make_handle(s, who, "/", NULL, out, outlen, &hdrs)) == NULL)
		return -1;
	curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
	/* The connection must outlive curl_easy_perform(). */
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 0L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, err);
	if ((rc = curl_easy_perform(h)) != CURLE_OK ||
	    curl_easy_getinfo(h, CURLINFO_ACTIVESOCKET, &fd) != CURLE_OK) {
		snprintf(out, outlen, "curl: %s", err[0] ? err :
		    curl_easy_strerror(rc));
		curl_easy_cleanup(h);
		return -1;
	}
	while (len > 0) {
		rc = curl_easy_send(h, p, len, &n);
		if (rc == CURLE_AGAIN) {
			if (!wait_sock(fd, true, end))
				break;
			continue;
		}
		if (rc != CURLE_OK) {
			snprintf(out, outlen, "curl: send: %s",
			    curl_easy_strerror(rc));
			curl_easy_cleanup(h);
			return -1;
		}
		p += n;
		len -= n;
	}
	while (got + 1 < outlen) {
		rc = curl_easy_recv(h, out + got, outlen - 1 - got, &n);
		if (rc == CURLE_AGAIN) {
			if (!wait_sock(fd, false, end))
				break;
			continue;
		}
		if (rc != CURLE_OK || n == 0)
			break;
		got += n;
	}
	out[got] = '\0';
	curl_easy_cleanup(h);
	return (long)got;
}

struct tsrv_stream {
	CURLM			*multi;
	CURL			*h;
	struct curl_slist	*hdrs;
	struct capture		 k;
	bool			 done;		/* the transfer ended */
};

/* Drive the transfer for up to ms; false once it ended. */
static bool
stream_step(struct tsrv_stream *t, int ms)
{
	CURLMsg	*msg;
	int	 running = 0, left;

	if (t->done)
		return false;
	(void)curl_multi_perform(t->multi, &running);
	while ((msg = curl_multi_info_read(t->multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			t->done = true;
	if (running == 0)
		t->done = true;
	if (!t->done && ms > 0)
		(void)curl_multi_poll(t->multi, NULL, 0, ms, NULL);
	return !t->done;
}

struct tsrv_stream *
tsrv_stream_open(const struct testsrv *s, enum tsrv_client who,
    const char *path, const struct tsrv_req *o, long *status)
{
	struct tsrv_stream	*t;
	char			 err[256];
	uint64_t		 end = tsrv_now_ms() + 3000;

	*status = -1;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->h = make_handle(s, who, path, o, err, sizeof(err),
	    &t->hdrs)) == NULL || (t->multi = curl_multi_init()) == NULL) {
		tsrv_stream_close(t);
		return NULL;
	}
	curl_easy_setopt(t->h, CURLOPT_WRITEFUNCTION, capture_body);
	curl_easy_setopt(t->h, CURLOPT_WRITEDATA, &t->k);
	curl_easy_setopt(t->h, CURLOPT_HEADERFUNCTION, capture_head);
	curl_easy_setopt(t->h, CURLOPT_HEADERDATA, &t->k);
	if (curl_multi_add_handle(t->multi, t->h) != CURLM_OK) {
		tsrv_stream_close(t);
		return NULL;
	}
	while (!t->k.head_done && tsrv_now_ms() < end && stream_step(t, 50))
		;
	if (!t->k.head_done) {
		tsrv_stream_close(t);
		return NULL;
	}
	curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, status);
	return t;
}

int
tsrv_stream_wait(struct tsrv_stream *t, const char *needle,
    unsigned int timeout_ms)
{
	uint64_t end = tsrv_now_ms() + timeout_ms;

	for (;;) {
		if (t->k.body.p != NULL && strstr(t->k.body.p, needle) != NULL)
			return 0;
		if (tsrv_now_ms() >= end)
			return -1;
		if (!stream_step(t, 50) && (t->k.body.p == NULL ||
		    strstr(t->k.body.p, needle) == NULL))
			return -1;
	}
}

const char *
tsrv_stream_body(const struct tsrv_stream *t)
{
	return t->k.body.p != NULL ? t->k.body.p : "";
}

const char *
tsrv_stream_head(const struct tsrv_stream *t)
{
	return t->k.head.p != NULL ? t->k.head.p : "";
}

void
tsrv_stream_close(struct tsrv_stream *t)
{
	if (t == NULL)
		return;
	if (t->multi != NULL && t->h != NULL)
		(void)curl_multi_remove_handle(t->multi, t->h);
	if (t->h != NULL)
		curl_easy_cleanup(t->h);
	if (t->multi != NULL)
		curl_multi_cleanup(t->multi);
	curl_slist_free_all(t->hdrs);
	free(t->k.head.p);
	free(t->k.body.p);
	free(t);
}

/* --- more clients ------------------------------------------------------------ */

/*
 * Run shell commands (a printf format) in the PKI directory with `set -e`,
 * their output appended to pki.log. 0, or -1 if one failed.
 */
static int __attribute__((format(printf, 2, 3)))
pki_sh(const struct testsrv *s, const char *fmt, ...)
{
	char	cmd[8192], body[7168];
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(body))
		return -1;
	n = snprintf(cmd, sizeof(cmd), "set -e; cd '%s'; { %s } >>pki.log "
	    "2>&1", s->pki, body);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

/* A name that is safe in a file name and a shell word. */
static bool
plain_name(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n < 64 && strspn(name, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") == n;
}

/* The first 64 characters of a `sha256sum` output file, checked hex. */
static int
read_identity(const char *path, char out[TSRV_IDLEN + 1])
{
	char	*text;
	size_t	 len;
	int	 r = -1;

	if ((text = read_all(path, &len)) == NULL)
		return -1;
	if (len > TSRV_IDLEN && strspn(text, "0123456789abcdef") ==
	    TSRV_IDLEN && text[TSRV_IDLEN] == ' ') {
		memcpy(out, text, TSRV_IDLEN);
		out[TSRV_IDLEN] = '\0';
		r = 0;
	}
	free(text);
	return r;
}

int
tsrv_make_client(struct testsrv *s, const char *name, struct tsrv_cert *c)
{
	char	idf[PATH_MAX + 16];

	memset(c, 0, sizeof(*c));
	if (!plain_name(name))
		return -1;
	if (pki_sh(s,
	    "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
	    "-keyout %s.key -out %s.csr -subj /CN=%s; "
	    "openssl x509 -req -in %s.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out %s.crt -days 825 -extfile client.ext; "
	    "openssl x509 -in %s.crt -pubkey -noout | "
	    "openssl pkey -pubin -outform DER | sha256sum > %s.id;",
	    name, name, name, name, name, name, name) == -1)
		return -1;
	if (PATHF(c->cert, "%s/%s.crt", s->pki, name) ||
	    PATHF(c->key, "%s/%s.key", s->pki, name) ||
	    PATHF(idf, "%s/%s.id", s->pki, name))
		return -1;
	return read_identity(idf, c->id);
}

/* The 32-byte Ed25519 seed of a "kes:v1:" API key (spec 4.4). */
static int
apikey_seed(const char *apikey, uint8_t seed[32])
{
	unsigned char	raw[64];
	size_t		len;
	int		n;

	if (strncmp(apikey, "kes:v1:", 7) == 0)
		apikey += 7;
	len = strlen(apikey);
	/* 33 bytes are 44 characters without padding. */
	if (len != 44 || strspn(apikey, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789+/") != len)
		return -1;
	if ((n = EVP_DecodeBlock(raw, (const unsigned char *)apikey,
	    (int)len)) != 33 || raw[0] != 0x00)
		return -1;
	memcpy(seed, raw + 1, 32);
	OPENSSL_cleanse(raw, sizeof(raw));
	return 0;
}

int
tsrv_make_apikey_client(struct testsrv *s, const char *name,
    const char *apikey, char *apikey_out, struct tsrv_cert *c)
{
	/* PKCS#8 PrivateKeyInfo { v0, { id-Ed25519 }, OCTET STRING {
	 * OCTET STRING seed } } (RFC 8410). */
	static const uint8_t p8[16] = {
		0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
		0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
	};
	uint8_t	 raw[33], der[48], serial[16];
	char	 key[TSRV_APIKEYLEN + 8], path[PATH_MAX + 16];
	char	 cnf[1024], hex[33];
	int	 fd, n, i;

	memset(c, 0, sizeof(*c));
	if (!plain_name(name))
		return -1;
	if (apikey == NULL || apikey[0] == '\0') {
		raw[0] = 0x00;
		if (RAND_bytes(raw + 1, 32) != 1)
			return -1;
		memcpy(key, "kes:v1:", 7);
		if (EVP_EncodeBlock((unsigned char *)key + 7, raw, 33) != 44)
			return -1;
		apikey = key;
	} else if (strlen(apikey) >= sizeof(key))
		return -1;
	else
		snprintf(key, sizeof(key), "%s", apikey);
	memcpy(der, p8, sizeof(p8));
	if (apikey_seed(key, der + sizeof(p8)) == -1)
		return -1;
	if (apikey_out != NULL)
		memcpy(apikey_out, key, strlen(key) + 1);

	if (PATHF(path, "%s/%s.der", s->pki, name))
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600)) == -1)
		return -1;
	n = (int)write(fd, der, sizeof(der));
	close(fd);
	OPENSSL_cleanse(der, sizeof(der));
	if (n != (int)sizeof(der))
		return -1;

	/* The key, then the identity, which the certificate's CN names. */
	if (pki_sh(s,
	    "openssl pkey -inform DER -in %s.der -out %s.key; "
	    "openssl pkey -in %s.key -pubout -outform DER | sha256sum > %s.id;",
	    name, name, name, name) == -1)
		return -1;
	if (PATHF(path, "%s/%s.id", s->pki, name) ||
	    read_identity(path, c->id) == -1)
		return -1;

	/* Go's x509: serial in [0, 2^128), KeyUsage and BasicConstraints
	 * critical. */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return -1;
	serial[0] &= 0x7f;
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", serial[i]);
	n = snprintf(cnf, sizeof(cnf),
	    "[req]\ndistinguished_name = dn\nx509_extensions = ext\n"
	    "prompt = no\n"
	    "[dn]\nCN = %s\n"
	    "[ext]\nbasicConstraints = critical,CA:FALSE\n"
	    "keyUsage = critical,digitalSignature\n"
	    "extendedKeyUsage = clientAuth\n", c->id);
	if (n < 0 || (size_t)n >= sizeof(cnf) ||
	    PATHF(path, "%s/%s.cnf", s->pki, name) ||
	    tsrv_write_file(path, cnf) == -1)
		return -1;
	if (pki_sh(s,
	    "openssl req -x509 -new -key %s.key -config %s.cnf -days 90 "
	    "-set_serial 0x%s -out %s.crt;", name, name, hex, name) == -1)
		return -1;
	if (PATHF(c->cert, "%s/%s.crt", s->pki, name) ||
	    PATHF(c->key, "%s/%s.key", s->pki, name))
		return -1;
	return 0;
}

/* --- the fs key store ------------------------------------------------------- */

int
tsrv_put_key_file(const struct testsrv *s, const char *name,
    const char *value)
{
	struct stat	st;
	char		path[PATH_MAX + 96];
	size_t		len = strlen(value);
	int		fd, r = 0;

	if (!plain_name(name) || stat(s->keys, &st) == -1 ||
	    snprintf(path, sizeof(path), "%s/%s", s->keys, name) >=
	    (int)sizeof(path))
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600)) == -1)
		return -1;
	if (write(fd, value, len) != (ssize_t)len ||
	    fchown(fd, st.st_uid, st.st_gid) == -1 ||
	    fchmod(fd, 0600) == -1 || fsync(fd) == -1)
		r = -1;
	if (close(fd) == -1)
		r = -1;
	if (r == -1)
		(void)unlink(path);
	return r;
}

static int
cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
tsrv_list_store(const struct testsrv *s, char *out, size_t len)
{
	struct dirent	 *d;
	DIR		 *dir;
	char		**names = NULL, **nn;
	size_t		  n = 0, i, o = 0;
	int		  r = 0, w;

	if (len == 0)
		return -1;
	out[0] = '\0';
	if ((dir = opendir(s->keys)) == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if ((nn = realloc(names, (n + 1) * sizeof(*names))) == NULL ||
		    (nn[n] = strdup(d->d_name)) == NULL) {
			if (nn != NULL)
				names = nn;
			r = -1;
			break;
		}
		names = nn;
		n++;
	}
	closedir(dir);
	if (n > 0)
		qsort(names, n, sizeof(*names), cmp_name);
	for (i = 0; i < n; i++) {
		w = snprintf(out + o, len - o, "%s%s", i ? "\n" : "",
		    names[i]);
		if (w < 0 || (size_t)w >= len - o)
			r = -1;
		else
			o += (size_t)w;
		free(names[i]);
	}
	free(names);
	return r;
}

/* --- /proc -------------------------------------------------------------------- */

int
tsrv_proc_cmdline(pid_t pid, char *out, size_t len)
{
	char	path[64];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	if (len == 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, out, len - 1);
	close(fd);
	if (n <= 0)
		return -1;
	while (n > 0 && out[n - 1] == '\0')
		n--;
	out[n] = '\0';
	for (ssize_t i = 0; i < n; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	return 0;
}

int
tsrv_proc_field(pid_t pid, const char *name, char *out, size_t len)
{
	char	 path[64], *text, *p, *end;
	size_t	 nlen = strlen(name);
	int	 r = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((text = read_all(path, NULL)) == NULL)
		return -1;
	for (p = text; p != NULL && *p != '\0'; p = end) {
		if ((end = strchr(p, '\n')) != NULL)
			*end++ = '\0';
		if (strncmp(p, name, nlen) == 0 && p[nlen] == ':') {
			p += nlen + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			snprintf(out, len, "%s", p);
			r = 0;
			break;
		}
	}
	free(text);
	return r;
}

static void
remember(struct testsrv *s, pid_t pid)
{
	size_t i;

	for (i = 0; i < s->nseen; i++)
		if (s->seen[i] == pid)
			return;
	if (s->nseen < sizeof(s->seen) / sizeof(s->seen[0]))
		s->seen[s->nseen++] = pid;
}

int
tsrv_children(struct testsrv *s, struct tsrv_proc *out, int max)
{
	struct dirent	*d;
	DIR		*dir;
	char		 ppid[32];
	pid_t		 pid;
	int		 n = 0;

	if (s->pid <= 0 || (dir = opendir("/proc")) == NULL)
		return -1;
	while ((d = readdir(dir)) != NULL && n < max) {
		if (!isdigit((unsigned char)d->d_name[0]))
			continue;
		pid = (pid_t)atoi(d->d_name);
		if (tsrv_proc_field(pid, "PPid", ppid, sizeof(ppid)) == -1 ||
		    atoi(ppid) != s->pid)
			continue;
		if (tsrv_proc_cmdline(pid, out[n].cmd,
		    sizeof(out[n].cmd)) == -1)
			continue;	/* exited meanwhile, or a zombie */
		out[n].pid = pid;
		remember(s, pid);
		n++;
	}
	closedir(dir);
	return n;
}

pid_t
tsrv_child(struct testsrv *s, const char *cmd)
{
	struct tsrv_proc	kids[TSRV_MAXPROCS];
	int			i, n;

	n = tsrv_children(s, kids, TSRV_MAXPROCS);
	for (i = 0; i < n; i++)
		if (strcmp(kids[i].cmd, cmd) == 0)
			return kids[i].pid;
	return -1;
}

int
tsrv_replace_keystore(struct testsrv *t, const char *ks)
{
	char	 fs[PATH_MAX + 64], *text, *at, *out;
	FILE	*f;
	long	 len;
	int	 rc = -1;

	if (snprintf(fs, sizeof(fs), "keystore:\n  fs:\n    path: %s\n",
	    t->keys) >= (int)sizeof(fs) || (f = fopen(t->config, "r")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) == -1 || (len = ftell(f)) < 0) {
		fclose(f);
		return -1;
	}
	rewind(f);
	text = calloc(1, (size_t)len + 1);
	out = calloc(1, (size_t)len + strlen(ks) + 1);
	if (text != NULL && out != NULL &&
	    fread(text, 1, (size_t)len, f) == (size_t)len &&
	    (at = strstr(text, fs)) != NULL) {
		memcpy(out, text, (size_t)(at - text));
		strcat(out, ks);
		strcat(out, at + strlen(fs));
		rc = tsrv_write_file(t->config, out);
	}
	fclose(f);
	free(text);
	free(out);
	return rc;
}

int
tsrv_port_free(int port, unsigned int timeout_ms)
{
	struct sockaddr_in	 sa = { .sin_family = AF_INET };
	uint64_t		 t0 = tsrv_now_ms();
	int			 fd, one = 1, rc;

	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	do {
		if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
			return -1;
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof(one));
		rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
		close(fd);
		if (rc == 0)
			return 0;
		tsrv_sleep_ms(100);
	} while (tsrv_now_ms() - t0 < timeout_ms);
	return -1;
}
