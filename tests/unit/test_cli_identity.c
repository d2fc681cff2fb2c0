/*
 * cli/identity: `keyward identity [new|of]`, run as the built binary
 * (tsrv_default_exe) without a server. Every expected identity is computed
 * without keyward, by the openssl command line: the SHA-256 of the DER
 * SubjectPublicKeyInfo (spec §4.1) of a certificate, or of the Ed25519 key
 * that `openssl pkey` derives from a PKCS#8 DER built by hand around the
 * API key's seed (prefix 302e020100300506032b657004220420, spec §4.4).
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "tests/lib/testsrv.h"

#define OUT_MAX		16384
#define RUN_LIMIT_MS	30000	/* a safety net against a hung child only */
/* What sha256sum prints when the openssl before it in a pipe failed. */
#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static char	tmpdir[] = "/tmp/kw-cli-identity.XXXXXX";
static char	exe[PATH_MAX];

static void
setup(void)
{
	cr_assert_eq(tsrv_default_exe(exe, sizeof(exe)), 0,
	    "no keyward binary (build it, or set KEYWARD_BIN)");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char	cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	(void)!system(cmd);
}

TestSuite(cli_identity, .init = setup, .fini = teardown);

/* A path in the test's directory (static buffers, four in rotation). */
static const char *
tpath(const char *name)
{
	static char	buf[4][PATH_MAX];
	static int	i;
	char		*p = buf[i++ % 4];

	snprintf(p, PATH_MAX, "%s/%s", tmpdir, name);
	return p;
}

struct run {
	int	code;		/* exit status; -1 when killed or not run */
	char	out[OUT_MAX];	/* stdout (and stderr, on a terminal) */
	char	err[OUT_MAX];
};

static void
append(char *buf, size_t *len, const char *p, ssize_t n)
{
	size_t	room = OUT_MAX - 1 - *len;

	if (n <= 0)
		return;
	if ((size_t)n > room)
		n = (ssize_t)room;
	memcpy(buf + *len, p, (size_t)n);
	*len += (size_t)n;
	buf[*len] = '\0';
}

static int
reap(pid_t pid, bool killed)
{
	int	st;

	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	if (killed || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/*
 * exe with args (NULL-terminated). Without a terminal: stdin is
 * /dev/null, stdout and stderr are pipes, and the child starts a session
 * of its own, so it has no controlling terminal either (/dev/tty fails).
 * With one (tty): a pseudo-terminal is its controlling terminal, stdin,
 * stdout and stderr; `input` is typed into it.
 */
static void
run_argv(struct run *r, bool tty, const char *input, const char **args)
{
	const char	*argv[32];
	struct pollfd	 pfd[2];
	size_t		 i, olen = 0, elen = 0;
	int		 po[2], pe[2], master = -1, open_fds, n;
	bool		 killed = false;
	pid_t		 pid;
	char		 buf[4096];
	ssize_t		 k;

	memset(r, 0, sizeof(*r));
	r->code = -1;
	argv[0] = exe;
	for (i = 0; args[i] != NULL && i + 2 < 32; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (tty) {
		pid = forkpty(&master, NULL, NULL, NULL);
		cr_assert_neq(pid, -1, "forkpty: %s", strerror(errno));
		if (pid == 0) {
			execv(exe, (char **)argv);
			_exit(127);
		}
		if (input != NULL)
			(void)!write(master, input, strlen(input));
		for (;;) {
			pfd[0].fd = master;
			pfd[0].events = POLLIN;
			if ((n = poll(pfd, 1, RUN_LIMIT_MS)) == 0) {
				kill(pid, SIGKILL);
				killed = true;
				break;
			}
			if (n == -1 && errno == EINTR)
				continue;
			/* EIO once the child's side is closed. */
			if ((k = read(master, buf, sizeof(buf))) <= 0)
				break;
			append(r->out, &olen, buf, k);
		}
		close(master);
		r->code = reap(pid, killed);
		return;
	}
	cr_assert_eq(pipe(po), 0);
	cr_assert_eq(pipe(pe), 0);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		int	 devnull = open("/dev/null", O_RDONLY);

		setsid();
		dup2(devnull, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(exe, (char **)argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	pfd[0].fd = po[0];
	pfd[1].fd = pe[0];
	pfd[0].events = pfd[1].events = POLLIN;
	open_fds = 2;
	while (open_fds > 0) {
		if ((n = poll(pfd, 2, RUN_LIMIT_MS)) == 0) {
			kill(pid, SIGKILL);
			killed = true;
			break;
		}
		if (n == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].fd < 0 || pfd[i].revents == 0)
				continue;
			k = read(pfd[i].fd, buf, sizeof(buf));
			if (k <= 0) {
				close(pfd[i].fd);
				pfd[i].fd = -1;
				open_fds--;
			} else if (i == 0)
				append(r->out, &olen, buf, k);
			else
				append(r->err, &elen, buf, k);
		}
	}
	for (i = 0; i < 2; i++)
		if (pfd[i].fd >= 0)
			close(pfd[i].fd);
	r->code = reap(pid, killed);
}

#define KW(r, ...) \
	run_argv((r), false, NULL, (const char *[]){ __VA_ARGS__, NULL })
#define KW_TTY(r, input, ...) \
	run_argv((r), true, (input), (const char *[]){ __VA_ARGS__, NULL })

/* A shell pipeline's first line of output (newline removed); its exit
 * status. */
static int
sh(char *out, size_t len, const char *fmt, ...)
{
	char	cmd[4 * PATH_MAX];
	va_list	ap;
	FILE	*p;
	int	 st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	cr_assert_not_null(p = popen(cmd, "r"), "popen %s", cmd);
	out[0] = '\0';
	if (fgets(out, (int)len, p) == NULL)
		out[0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	while (fgetc(p) != EOF)
		;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The identity of a certificate file, by openssl alone. */
static void
openssl_cert_identity(const char *cert, char id[65])
{
	char	out[256];

	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -pubkey -noout -in "
	    "'%s' | openssl pkey -pubin -outform DER | sha256sum", cert), 0);
	cr_assert_geq(strlen(out), 64);
	cr_assert_neq(strncmp(out, EMPTY_SHA256, 64), 0, "openssl failed");
	memcpy(id, out, 64);
	id[64] = '\0';
}

/* The identity of the public half of a private key file (PEM or DER). */
static void
openssl_key_identity(const char *key, const char *inform, const char *pass,
    char id[65])
{
	char	out[256];

	cr_assert_eq(sh(out, sizeof(out), "openssl pkey -inform %s -in '%s' "
	    "%s%s -pubout -outform DER | sha256sum", inform, key,
	    pass != NULL ? "-passin pass:" : "", pass != NULL ? pass : ""), 0);
	cr_assert_geq(strlen(out), 64);
	cr_assert_neq(strncmp(out, EMPTY_SHA256, 64), 0, "openssl failed");
	memcpy(id, out, 64);
	id[64] = '\0';
}

/* The string member `name` of the one JSON object in `text`, or "". */
static const char *
jget(const char *text, const char *name)
{
	static char	 val[4][1024];
	static int	 i;
	char		*v = val[i++ % 4];
	json_error_t	 e;
	json_t		*o, *m;

	v[0] = '\0';
	o = json_loads(text, 0, &e);
	cr_assert_not_null(o, "not JSON (%s): %s", e.text, text);
	cr_assert(json_is_object(o), "not a JSON object: %s", text);
	if ((m = json_object_get(o, name)) != NULL && json_is_string(m))
		snprintf(v, 1024, "%s", json_string_value(m));
	json_decref(o);
	return v;
}

/*
 * A seed, its PKCS#8 DER file (the fixed Ed25519 prefix + seed) and its
 * API key text, base64 by OpenSSL's encoder, not keyward's.
 */
static void
seed_files(const uint8_t seed[32], const char *der, char apikey[64])
{
	static const uint8_t prefix[16] = {
		0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06,
		0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
	};
	uint8_t	raw[33];
	FILE	*f;

	cr_assert_not_null(f = fopen(der, "w"));
	cr_assert_eq(fwrite(prefix, 1, sizeof(prefix), f), sizeof(prefix));
	cr_assert_eq(fwrite(seed, 1, 32, f), 32);
	cr_assert_eq(fclose(f), 0);
	raw[0] = 0x00;
	memcpy(raw + 1, seed, 32);
	memcpy(apikey, "kes:v1:", 7);
	cr_assert_eq(EVP_EncodeBlock((unsigned char *)apikey + 7, raw, 33), 44);
}

static void
write_text(const char *path, const char *text)
{
	FILE	*f;

	cr_assert_not_null(f = fopen(path, "w"));
	cr_assert_eq(fputs(text, f) >= 0, 1);
	cr_assert_eq(fclose(f), 0);
}

static bool
file_equals(const char *path, const char *text)
{
	char	buf[4096];
	FILE	*f;
	size_t	 n;

	if ((f = fopen(path, "r")) == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strcmp(buf, text) == 0;
}

/* Entries in the test directory (a temporary left behind shows up). */
static int
dir_entries(void)
{
	DIR		*d;
	struct dirent	*e;
	int		 n = 0;

	cr_assert_not_null(d = opendir(tmpdir));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
check_cert_identity(const char *algo_args, const char *name)
{
	struct run	r;
	char		out[256], want[65];
	const char	*crt = tpath(name), *key = tpath("k.pem");
	char		der[PATH_MAX], line[80];

	cr_assert_eq(sh(out, sizeof(out), "openssl req -x509 %s -nodes "
	    "-keyout '%s' -out '%s' -subj /CN=test -days 2 2>&1", algo_args,
	    key, crt), 0, "openssl req: %s", out);
	openssl_cert_identity(crt, want);

	/* Piped without --json: the bare identity, as kes prints it: no
	 * newline. */
	snprintf(line, sizeof(line), "%s", want);
	KW(&r, "identity", "of", crt);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, line);

	/* The same certificate in DER. */
	snprintf(der, sizeof(der), "%s.der", crt);
	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -outform DER "
	    "-out '%s'", crt, der), 0);
	KW(&r, "identity", "of", "--json", der);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "identity"), want);

	/* `keyward identity FILE` agrees, and finds no API key in it. */
	KW(&r, "identity", crt);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "identity"), want);
	cr_assert_str_eq(jget(r.out, "api_key"), "");
}

Test(cli_identity, of_rsa_certificate)
{
	check_cert_identity("-newkey rsa:2048", "rsa.crt");
}

Test(cli_identity, of_ecdsa_p256_certificate)
{
	check_cert_identity("-newkey ec -pkeyopt ec_paramgen_curve:P-256",
	    "ec.crt");
}

Test(cli_identity, of_ed25519_certificate)
{
	check_cert_identity("-newkey ed25519", "ed.crt");
}

/* A chain file: the first certificate is the one identified. */
Test(cli_identity, of_takes_the_first_certificate)
{
	struct run	r;
	char		out[256], want[65];

	cr_assert_eq(sh(out, sizeof(out), "cd '%s' && openssl req -x509 "
	    "-newkey ed25519 -nodes -keyout a.key -out a.crt -subj /CN=a "
	    "2>&1 && openssl req -x509 -newkey ed25519 -nodes -keyout b.key "
	    "-out b.crt -subj /CN=b 2>&1 && cat a.key a.crt b.crt > "
	    "chain.pem", tmpdir), 0, "%s", out);
	openssl_cert_identity(tpath("a.crt"), want);
	KW(&r, "identity", "of", "--json", tpath("chain.pem"));
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "identity"), want);
}

/* API keys from random seeds: identity as openssl derives it. */
Test(cli_identity, apikey_identity_is_independent)
{
	struct run	r;
	uint8_t		seed[32];
	char		apikey[64], want[65];
	const char	*der = tpath("seed.der");
	int		i;

	for (i = 0; i < 4; i++) {
		cr_assert_eq(RAND_bytes(seed, sizeof(seed)), 1);
		if (i == 0)
			memset(seed, 0, sizeof(seed));	/* an edge too */
		seed_files(seed, der, apikey);
		openssl_key_identity(der, "DER", NULL, want);

		KW(&r, "identity", "of", "--json", apikey);
		cr_assert_eq(r.code, 0, "%s", r.err);
		cr_assert_str_eq(jget(r.out, "identity"), want);
		KW(&r, "identity", apikey);
		cr_assert_eq(r.code, 0, "%s", r.err);
		cr_assert_str_eq(jget(r.out, "identity"), want);
		/* kes's parser accepts the text without its prefix too. */
		KW(&r, "identity", "of", "--json", apikey + 7);
		cr_assert_eq(r.code, 0, "%s", r.err);
		cr_assert_str_eq(jget(r.out, "identity"), want);
	}
}

/*
 * Vectors published with the Go SDK (kms-go kes/apikey_test.go, the same
 * ones tests/unit/test_apikey.c checks the library with): here through the
 * command, and once recomputed with openssl from the decoded seed.
 */
Test(cli_identity, apikey_known_vectors)
{
	static const struct {
		const char *key, *identity;
	} v[] = {
		{ "kes:v1:AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAs",
		  "ea9826089311fe44d7590408ede9150f7c637b6cab0a91ee6fe1aa5d9fb366f6" },
		{ "kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw",
		  "0426fa9a04bc2756b92fbe8a97e1a1e07b53ecf04ed33da22c33e5c9faeb8cbb" },
		{ "kes:v1:AMxvd2uV1l5dDSRwuKZxSjuM5BDemlr+685+JAHA1TuJ",
		  "ab785e3b95d80d72cc9c27cb9fde886a0bf9068a69d40e3bd08a54e68c3f2bf7" },
	};
	struct run	r;
	uint8_t		raw[40];
	char		apikey[64], want[65];
	size_t		i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		KW(&r, "identity", "of", "--json", v[i].key);
		cr_assert_eq(r.code, 0, "%s", r.err);
		cr_assert_str_eq(jget(r.out, "identity"), v[i].identity);
	}
	cr_assert_eq(EVP_DecodeBlock(raw, (const unsigned char *)v[1].key + 7,
	    44), 33);
	seed_files(raw + 1, tpath("v.der"), apikey);
	cr_assert_str_eq(apikey, v[1].key);
	openssl_key_identity(tpath("v.der"), "DER", NULL, want);
	cr_assert_str_eq(want, v[1].identity);
}

/* `keyward identity KEYFILE`: the API key a PKCS#8 Ed25519 key holds. */
Test(cli_identity, ed25519_key_file_gives_apikey)
{
	struct run	r;
	uint8_t		seed[32];
	char		apikey[64], want[65], out[256];
	const char	*der = tpath("k.der"), *pem = tpath("k.pem");

	cr_assert_eq(RAND_bytes(seed, sizeof(seed)), 1);
	seed_files(seed, der, apikey);
	openssl_key_identity(der, "DER", NULL, want);
	cr_assert_eq(sh(out, sizeof(out), "openssl pkey -inform DER -in '%s' "
	    "-out '%s'", der, pem), 0);

	KW(&r, "identity", pem);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "api_key"), apikey);
	cr_assert_str_eq(jget(r.out, "identity"), want);
	KW(&r, "identity", der);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "api_key"), apikey);

	/* `of` gives the identity only: it prints no secret. */
	KW(&r, "identity", "of", "--json", pem);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "identity"), want);
	cr_assert_str_eq(jget(r.out, "api_key"), "");

	/* An API key saved in a file, with its newline. */
	snprintf(out, sizeof(out), "%s\n", apikey);
	write_text(tpath("api.key"), out);
	KW(&r, "identity", "of", "--json", tpath("api.key"));
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "identity"), want);
}

/* Another key type has an identity but no API key. */
Test(cli_identity, ecdsa_key_file_has_no_apikey)
{
	struct run	r;
	char		out[256], want[65];
	const char	*key = tpath("ec.key");

	cr_assert_eq(sh(out, sizeof(out), "openssl genpkey -algorithm EC "
	    "-pkeyopt ec_paramgen_curve:P-256 -out '%s'", key), 0);
	openssl_key_identity(key, "PEM", NULL, want);
	KW(&r, "identity", key);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "identity"), want);
	cr_assert_str_eq(jget(r.out, "api_key"), "");
}

Test(cli_identity, new_without_files)
{
	struct run	r;
	char		want[65];
	uint8_t		raw[40];
	const char	*apikey;

	KW(&r, "identity", "new");
	cr_assert_eq(r.code, 0, "%s", r.err);
	apikey = jget(r.out, "api_key");
	cr_assert_eq(strncmp(apikey, "kes:v1:", 7), 0, "%s", r.out);
	cr_assert_eq(strlen(apikey), 7 + 44);
	cr_assert_eq(EVP_DecodeBlock(raw, (const unsigned char *)apikey + 7,
	    44), 33);
	cr_assert_eq(raw[0], 0x00, "key type Ed25519");
	seed_files(raw + 1, tpath("n.der"), (char[64]){ 0 });
	openssl_key_identity(tpath("n.der"), "DER", NULL, want);
	cr_assert_str_eq(jget(r.out, "identity"), want);
	cr_assert_str_eq(jget(r.out, "private_key"), "");
	cr_assert_eq(dir_entries(), 1, "only the test's own file");

	/* Without arguments, `keyward identity` does the same. */
	KW(&r, "identity");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(strncmp(jget(r.out, "api_key"), "kes:v1:", 7), 0);
	cr_assert_eq(strlen(jget(r.out, "identity")), 64);
}

/* Validity from notBefore to notAfter, in seconds. */
static long
cert_validity(const char *path)
{
	FILE	*f;
	X509	*x;
	int	 days, secs;

	cr_assert_not_null(f = fopen(path, "r"));
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	cr_assert_not_null(x);
	cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	X509_free(x);
	return (long)days * 86400 + secs;
}

Test(cli_identity, new_writes_key_and_certificate)
{
	struct run	r;
	struct stat	sb;
	char		out[1024], want[65], keyid[65];
	const char	*key = tpath("c.key"), *crt = tpath("c.crt");

	KW(&r, "identity", "new", "--key", key, "--cert", crt, "--ip",
	    "10.1.2.3", "--ip", "::1,192.0.2.9", "--dns", "kms.example.net",
	    "--expiry", "48h", "client-7");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_str_eq(jget(r.out, "private_key"), key);
	cr_assert_str_eq(jget(r.out, "certificate"), crt);

	cr_assert_eq(stat(key, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0600, "key mode %o", sb.st_mode);
	cr_assert_eq(stat(crt, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0644, "cert mode %o", sb.st_mode);
	cr_assert_eq(dir_entries(), 2, "no temporaries left");

	/* The printed identity is the certificate's and the key's. */
	openssl_cert_identity(crt, want);
	cr_assert_str_eq(jget(r.out, "identity"), want);
	openssl_key_identity(key, "PEM", NULL, keyid);
	cr_assert_str_eq(keyid, want);
	cr_assert_eq(sh(out, sizeof(out), "head -1 '%s'", key), 0);
	cr_assert_str_eq(out, "-----BEGIN PRIVATE KEY-----");
	cr_assert_eq(sh(out, sizeof(out), "openssl pkey -in '%s' -noout -text "
	    "| head -1", key), 0);
	cr_assert(strstr(out, "ED25519") != NULL, "%s", out);

	/* And the API key printed is that key. */
	KW(&r, "identity", "of", "--json", jget(r.out, "api_key"));
	cr_assert_str_eq(jget(r.out, "identity"), want);

	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -noout "
	    "-subject -nameopt RFC2253", crt), 0);
	cr_assert_str_eq(out, "subject=CN=client-7");
	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -noout -ext "
	    "subjectAltName | tail -1", crt), 0);
	cr_assert(strstr(out, "DNS:kms.example.net") != NULL, "%s", out);
	cr_assert(strstr(out, "IP Address:10.1.2.3") != NULL, "%s", out);
	cr_assert(strstr(out, "IP Address:192.0.2.9") != NULL, "%s", out);
	cr_assert(strstr(out, "IP Address:0:0:0:0:0:0:0:1") != NULL, "%s",
	    out);
	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -noout -ext "
	    "extendedKeyUsage | tail -1", crt), 0);
	cr_assert(strstr(out, "TLS Web Client Authentication") != NULL, "%s",
	    out);
	cr_assert(strstr(out, "TLS Web Server Authentication") != NULL, "%s",
	    out);
	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -noout -ext "
	    "basicConstraints | tail -1", crt), 0);
	cr_assert(strstr(out, "CA:FALSE") != NULL, "%s", out);
	/* Self-signed, and the signature holds. */
	cr_assert_eq(sh(out, sizeof(out), "openssl verify -CAfile '%s' "
	    "-partial_chain '%s' 2>&1", crt, crt), 0, "%s", out);
	cr_assert_eq(cert_validity(crt), 48L * 3600);
}

/* Without SUBJECT the CN is the identity; the default validity 720h. */
Test(cli_identity, new_defaults)
{
	struct run	r;
	char		out[1024], cn[128];
	const char	*key = tpath("d.key"), *crt = tpath("d.crt");

	KW(&r, "identity", "new", "--key", key, "--cert", crt);
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -noout "
	    "-subject -nameopt RFC2253", crt), 0);
	snprintf(cn, sizeof(cn), "subject=CN=%s", jget(r.out, "identity"));
	cr_assert_str_eq(out, cn);
	cr_assert_eq(cert_validity(crt), 720L * 3600);
	cr_assert_eq(sh(out, sizeof(out), "openssl x509 -in '%s' -noout -ext "
	    "subjectAltName 2>/dev/null", crt), 0);
	cr_assert_str_eq(out, "", "no SAN asked for, none written");
}

Test(cli_identity, new_keeps_existing_files_without_force)
{
	struct run	r;
	struct stat	sb;
	const char	*key = tpath("x.key"), *crt = tpath("x.crt");

	write_text(key, "old key\n");
	KW(&r, "identity", "new", "--key", key, "--cert", crt);
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, key) != NULL && strstr(r.err, "-f") != NULL,
	    "%s", r.err);
	cr_assert_str_eq(r.out, "", "no API key printed for nothing");
	cr_assert(file_equals(key, "old key\n"));
	cr_assert_eq(stat(crt, &sb), -1, "certificate not written");
	cr_assert_eq(dir_entries(), 1);

	/* Only the certificate exists: the key is not made either. */
	unlink(key);
	write_text(crt, "old cert\n");
	KW(&r, "identity", "new", "--key", key, "--cert", crt);
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, crt) != NULL, "%s", r.err);
	cr_assert_eq(stat(key, &sb), -1);
	cr_assert(file_equals(crt, "old cert\n"));

	/* A dangling symlink is an existing name too, and is not followed. */
	cr_assert_eq(symlink(tpath("elsewhere"), key), 0);
	unlink(crt);
	KW(&r, "identity", "new", "--key", key, "--cert", crt);
	cr_assert_eq(r.code, 1);
	cr_assert_eq(stat(tpath("elsewhere"), &sb), -1);

	/* -f replaces both, with the key's mode 0600. */
	unlink(key);
	write_text(key, "old key\n");
	write_text(crt, "old cert\n");
	chmod(key, 0644);
	KW(&r, "identity", "new", "--key", key, "--cert", crt, "-f");
	cr_assert_eq(r.code, 0, "%s", r.err);
	cr_assert_not(file_equals(key, "old key\n"));
	cr_assert_eq(stat(key, &sb), 0);
	cr_assert_eq(sb.st_mode & 07777, 0600);
	cr_assert_eq(dir_entries(), 2);
}

Test(cli_identity, bad_inputs_name_the_problem)
{
	struct run	r;
	const char	*garbage = tpath("garbage");
	const char	*key = tpath("b.key"), *crt = tpath("b.crt");

	KW(&r, "identity", "of", "--json", tpath("missing.crt"));
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "missing.crt") != NULL &&
	    strstr(r.err, "No such file") != NULL, "%s", r.err);

	write_text(garbage, "this is not a certificate\n");
	KW(&r, "identity", "of", "--json", garbage);
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "garbage") != NULL &&
	    strstr(r.err, "not a certificate") != NULL, "%s", r.err);

	write_text(garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n"
	    "-----END CERTIFICATE-----\n");
	KW(&r, "identity", garbage);
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "not a valid X.509") != NULL, "%s", r.err);

	/* A bad API key is refused without being echoed. */
	KW(&r, "identity", "of", "--json", "kes:v1:c2VjcmV0LWJ1dC10b28tc2hvcnQ=");
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "not a valid API key") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "c2VjcmV0") == NULL, "%s", r.err);

	KW(&r, "identity", "new", "--key", key, "--cert", crt, "--expiry",
	    "5x");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "--expiry '5x'") != NULL, "%s", r.err);
	KW(&r, "identity", "new", "--key", key, "--cert", crt, "--expiry",
	    "-1h");
	cr_assert_eq(r.code, 2);
	KW(&r, "identity", "new", "--key", key, "--cert", crt, "--expiry",
	    "0");
	cr_assert_eq(r.code, 2);
	KW(&r, "identity", "new", "--key", key, "--cert", crt, "--ip",
	    "10.0.0.1,300.1.2.3");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "--ip '300.1.2.3'") != NULL, "%s", r.err);
	KW(&r, "identity", "new", "--key", key, "--cert", crt, "--dns",
	    "a b");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "--dns 'a b'") != NULL, "%s", r.err);
	KW(&r, "identity", "new", "--key", key);
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "--cert") != NULL, "%s", r.err);
	KW(&r, "identity", "new", "--ip", "10.0.0.1");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "--ip") != NULL, "%s", r.err);
	KW(&r, "identity", "new", "--key", key, "--cert", crt,
	    "01234567890123456789012345678901234567890123456789012345678901234");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "<subject>") != NULL, "%s", r.err);
	KW(&r, "identity", "new", "--bogus");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "--bogus") != NULL, "%s", r.err);
	KW(&r, "identity", "of");
	cr_assert_eq(r.code, 2);
	KW(&r, "identity", "one", "two");
	cr_assert_eq(r.code, 2);
	cr_assert(strstr(r.err, "'one'") != NULL, "%s", r.err);

	cr_assert_eq(dir_entries(), 1, "nothing but the garbage file");
}

Test(cli_identity, output_modes)
{
	struct run	r;
	const char	*v = "kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw";
	const char	*id =
	    "0426fa9a04bc2756b92fbe8a97e1a1e07b53ecf04ed33da22c33e5c9faeb8cbb";

	/* Piped: JSON by default, one object on one line... */
	KW(&r, "identity", "new");
	cr_assert_eq(r.code, 0);
	cr_assert_eq(r.out[0], '{');
	cr_assert_eq(strchr(r.out, '\n'), r.out + strlen(r.out) - 1);
	KW(&r, "identity", v);
	cr_assert_eq(r.code, 0);
	cr_assert_str_eq(jget(r.out, "identity"), id);
	/* ...but `of` prints the bare identity there, as kes does, for
	 * scripts that do ID=$(kes identity of client.crt). */
	KW(&r, "identity", "of", v);
	cr_assert_eq(r.code, 0);
	cr_assert_eq(strncmp(r.out, id, 64), 0, "%s", r.out);
	cr_assert_str_eq(r.out + 64, "", "no newline, as kes");
	KW(&r, "identity", "of", "--json", v);
	cr_assert_eq(r.code, 0);
	cr_assert_eq(r.out[0], '{');
	cr_assert_str_eq(jget(r.out, "identity"), id);

	/* A terminal: text, unless --json. */
	KW_TTY(&r, NULL, "identity", "of", v);
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert_neq(r.out[0], '{', "%s", r.out);
	cr_assert(strstr(r.out, "Identity:") != NULL &&
	    strstr(r.out, id) != NULL, "%s", r.out);
	KW_TTY(&r, NULL, "identity", "of", "--json", v);
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert_str_eq(jget(r.out, "identity"), id);

	KW_TTY(&r, NULL, "identity", "new");
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert(strstr(r.out, "API key:") != NULL &&
	    strstr(r.out, "kes:v1:") != NULL &&
	    strstr(r.out, "secret") != NULL, "%s", r.out);
	KW_TTY(&r, NULL, "identity", "new", "--json");
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert_eq(strlen(jget(r.out, "identity")), 64);
}

Test(cli_identity, help_everywhere)
{
	static const char *const cmds[][4] = {
		{ "identity", "--help", NULL },
		{ "identity", "-h", NULL },
		{ "identity", "new", "--help" },
		{ "identity", "of", "--help" },
	};
	struct run	r;
	size_t		i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		run_argv(&r, false, NULL, (const char **)cmds[i]);
		cr_assert_eq(r.code, 0, "%s %s", cmds[i][0], cmds[i][1]);
		cr_assert(strstr(r.out, "Usage:\n    keyward identity") != NULL &&
		    strstr(r.out, "Examples:\n    $ keyward identity") != NULL,
		    "%s", r.out);
	}
	KW(&r, "identity", "--help");
	cr_assert(strstr(r.out, "    info ") != NULL &&
	    strstr(r.out, "    ls ") != NULL, "%s", r.out);
}

/* --encrypt with no terminal to ask: refused before any file exists. */
Test(cli_identity, encrypt_needs_a_terminal)
{
	struct run	r;

	KW(&r, "identity", "new", "--key", tpath("e.key"), "--cert",
	    tpath("e.crt"), "--encrypt");
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "terminal") != NULL, "%s", r.err);
	cr_assert_eq(dir_entries(), 0);
}

/* --encrypt on a terminal: the key is legacy-PEM encrypted as kes writes
 * it (Proc-Type/DEK-Info, AES-256-CBC) and openssl opens it. */
Test(cli_identity, encrypt_on_a_terminal)
{
	struct run	r;
	char		out[256], want[65], keyid[65];
	const char	*key = tpath("e.key"), *crt = tpath("e.crt");

	KW_TTY(&r, "pw-9f2c\npw-9f2c\n", "identity", "new", "--key", key,
	    "--cert", crt, "--encrypt", "--json");
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert_eq(sh(out, sizeof(out), "sed -n 2p '%s'", key), 0);
	cr_assert_str_eq(out, "Proc-Type: 4,ENCRYPTED");
	cr_assert_eq(sh(out, sizeof(out), "sed -n 3p '%s'", key), 0);
	cr_assert_eq(strncmp(out, "DEK-Info: AES-256-CBC,", 22), 0, "%s", out);
	cr_assert_neq(sh(out, sizeof(out), "openssl pkey -in '%s' -passin "
	    "pass:wrong -noout 2>&1", key), 0, "a wrong password fails");
	openssl_key_identity(key, "PEM", "pw-9f2c", keyid);
	openssl_cert_identity(crt, want);
	cr_assert_str_eq(keyid, want);
	cr_assert(strstr(r.out, want) != NULL, "%s", r.out);

	/* `keyward identity KEYFILE` asks for the password and finds the
	 * API key; without a terminal it says why it cannot. */
	KW_TTY(&r, "pw-9f2c\n", "identity", "--json", key);
	cr_assert_eq(r.code, 0, "%s", r.out);
	cr_assert(strstr(r.out, want) != NULL && strstr(r.out, "kes:v1:") !=
	    NULL, "%s", r.out);
	KW(&r, "identity", key);
	cr_assert_eq(r.code, 1);
	cr_assert(strstr(r.err, "encrypted") != NULL, "%s", r.err);

	/* Passwords that differ: nothing written. */
	KW_TTY(&r, "one\ntwo\n", "identity", "new", "--key", tpath("f.key"),
	    "--cert", tpath("f.crt"), "--encrypt");
	cr_assert_eq(r.code, 1, "%s", r.out);
	cr_assert(strstr(r.out, "differ") != NULL, "%s", r.out);
	cr_assert_eq(dir_entries(), 2);
}
