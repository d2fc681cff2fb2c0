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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "common/identity.h"
#include "privsep/files.h"
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
	char	text[8192], cert[PATH_MAX + 16], key[PATH_MAX + 16];
	int	n;

	if (c->cert != NULL)
		snprintf(cert, sizeof(cert), "%s", c->cert);
	else
		snprintf(cert, sizeof(cert), "%s/server.crt", s->pki);
	if (c->key != NULL)
		snprintf(key, sizeof(key), "%s", c->key);
	else
		snprintf(key, sizeof(key), "%s/server.key", s->pki);
	n = snprintf(text, sizeof(text),
	    "version: v1\n"
	    "address: 127.0.0.1:%d\n"
	    "admin:\n"
	    "  identity: %s\n"
	    "tls:\n"
	    "  key: %s\n"
	    "  cert: %s\n"
	    "  auth: on\n"
	    "  ca: %s\n"
	    "log:\n"
	    "  error: on\n"
	    "policy:\n"
	    "  status:\n"
	    "    allow:\n"
	    "      - /v1/status\n"
	    "    identities:\n"
	    "      - %s\n"
	    "%s%s%s"
	    "keystore:\n"
	    "  fs:\n"
	    "    path: %s\n"
	    "server:\n"
	    "  workers: %u\n"
	    "  chroot: %s\n"
	    "  mlock: on\n"
	    "%s",
	    s->port, s->id[TSRV_ADMIN], key, cert, s->ca,
	    s->id[TSRV_STATUS],
	    c->nobody_policy ? "  late:\n    allow:\n      - /v1/status\n"
	    "    identities:\n      - " : "",
	    c->nobody_policy ? s->id[TSRV_NOBODY] : "",
	    c->nobody_policy ? "\n" : "",
	    s->keys, c->workers ? c->workers : 2, s->chroot,
	    c->extra ? c->extra : "");
	if (n < 0 || (size_t)n >= sizeof(text))
		return -1;
	return tsrv_write_file(s->config, text);
}

/* --- the server process --------------------------------------------------- */

static void __attribute__((noreturn))
child_exec(struct testsrv *s, uid_t uid, gid_t gid)
{
	char		*argv[6] = { s->exe, "server", "--config", s->config,
			    NULL };
	char		 addr[32];
	sigset_t	 none;
	int		 fd, sig;

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

long
tsrv_get_ex(const struct testsrv *s, enum tsrv_client who, const char *path,
    char *body, size_t bodylen, const struct tsrv_req *o)
{
	char		 url[16384], err[CURL_ERROR_SIZE] = "";
	struct sink	 k = { body, 0, bodylen };
	CURL		*h;
	CURLcode	 rc;
	long		 code = -1;

	if (bodylen == 0)
		return -1;
	body[0] = '\0';
	if (snprintf(url, sizeof(url), "https://127.0.0.1:%d%s", s->port,
	    path) >= (int)sizeof(url)) {
		snprintf(body, bodylen, "path too long for the test client");
		return -1;
	}
	if ((h = curl_easy_init()) == NULL) {
		snprintf(body, bodylen, "curl_easy_init failed");
		return -1;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* Send the path as given: the server's 301 for "//" is tested. */
	curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(h, CURLOPT_CAINFO, o && o->cainfo ? o->cainfo : s->ca);
	if (o != NULL && o->ssl_version != 0)
		curl_easy_setopt(h, CURLOPT_SSLVERSION, o->ssl_version);
	curl_easy_setopt(h, CURLOPT_SSLCERT, s->cert[who]);
	curl_easy_setopt(h, CURLOPT_SSLKEY, s->key[who]);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
	if (o != NULL && o->body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)o->body_len);
	}
	if (o != NULL && o->method != NULL)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, o->method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    o && o->timeout_ms ? o->timeout_ms : 3000L);
	curl_easy_setopt(h, CURLOPT_FORBID_REUSE, 1L);
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
	return code;
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
