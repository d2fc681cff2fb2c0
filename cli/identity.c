/*
 * The offline identity commands (spec §4.4, §9), nothing here talks to a
 * server:
 *
 *   keyward identity [--json]                   a new API key and identity
 *   keyward identity [--json] API-KEY|FILE      an identity; the API key of
 *                                               an Ed25519 private key file
 *   keyward identity of [--json] API-KEY|FILE   an identity
 *   keyward identity new [options] [SUBJECT]    a new API key, and with
 *                                               --key/--cert its key and a
 *                                               certificate on disk
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/identity.h"
#include "common/apikey.h"
#include "common/config.h"
#include "common/gojson.h"
#include "common/identity.h"
#include "common/wfile.h"
#include "common/x509.h"
#include "common/xmalloc.h"

#define FILE_MAX	(1024 * 1024)	/* no key or certificate is larger */
#define PASS_MAX	1024
#define CN_MAX		64		/* ub-common-name, RFC 5280 */
#define DNS_MAX		253
#define EXPIRY_DEFAULT	"720h"		/* as kes identity new */

static const char usage_identity[] =
    "Usage:\n"
    "    keyward identity [options] [<api-key> | <file>]\n"
    "    keyward identity <command> [options] ...\n"
    "\n"
    "Without an argument, print a new API key and its identity. Given an API\n"
    "key or a certificate file, print its identity; given a PKCS#8 Ed25519\n"
    "private key file, print the API key it holds and its identity. Offline.\n"
    "\n"
    "An identity is the hex SHA-256 of a certificate's public key (its\n"
    "SubjectPublicKeyInfo): the server's admin.identity and a policy's\n"
    "identities list them. An identity is not a secret; an API key is.\n"
    "\n"
    "Commands:\n"
    "    new                      Create a new API key (and certificate).\n"
    "    of                       Compute the identity of an API key or a\n"
    "                             certificate.\n"
    "    info                     Ask the server about an identity.\n"
    "    ls                       List the identities the server knows.\n"
    "\n"
    "Options:\n"
    "        --json               Print JSON (the default when stdout is\n"
    "                             not a terminal).\n"
    "    -h, --help               Print this help.\n"
    "\n"
    "Exit status: 0 ok, 1 the input was refused, 2 usage.\n"
    "\n"
    "Examples:\n"
    "    $ keyward identity\n"
    "    $ keyward identity kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw\n"
    "    $ keyward identity client.key\n"
    "    $ keyward identity of client.crt\n";

static const char usage_of[] =
    "Usage:\n"
    "    keyward identity of [options] <api-key> | <certificate>\n"
    "\n"
    "Print the identity of an API key (kes:v1:...) or of the certificate in\n"
    "a file (PEM: its first CERTIFICATE block; or DER): what the server\n"
    "computes for a client presenting it. Given a private key file, print\n"
    "the identity every certificate for that key has. Offline. As with kes,\n"
    "piped output is the bare identity unless --json is given.\n"
    "\n"
    "Options:\n"
    "        --json               Print JSON: {\"identity\":...}.\n"
    "    -h, --help               Print this help.\n"
    "\n"
    "Exit status: 0 ok, 1 the input was refused, 2 usage.\n"
    "\n"
    "Examples:\n"
    "    $ keyward identity of client.crt\n"
    "    $ keyward identity of kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw\n";

static const char usage_new[] =
    "Usage:\n"
    "    keyward identity new [options] [<subject>]\n"
    "\n"
    "Print a new API key and its identity. With --key and --cert, also write\n"
    "the API key's Ed25519 private key (PKCS#8 PEM, mode 0600) and a\n"
    "self-signed certificate for it (CN=<subject>, by default the identity;\n"
    "extended key usage clientAuth and serverAuth) with the same identity.\n"
    "Existing files are kept unless -f is given. Offline.\n"
    "\n"
    "Options:\n"
    "        --key <file>         Write the private key to <file>.\n"
    "        --cert <file>        Write the certificate to <file>.\n"
    "        --ip <ip>            Add <ip> as a subject alternative name\n"
    "                             (repeatable, or comma-separated).\n"
    "        --dns <name>         Add <name> as a subject alternative name\n"
    "                             (repeatable, or comma-separated).\n"
    "        --expiry <duration>  Certificate validity (default 720h).\n"
    "        --encrypt            Encrypt the private key (PEM, AES-256)\n"
    "                             with a password read from the terminal.\n"
    "    -f, --force              Replace existing files.\n"
    "        --json               Print JSON (the default when stdout is\n"
    "                             not a terminal).\n"
    "    -h, --help               Print this help.\n"
    "\n"
    "Exit status: 0 ok, 1 refused (files exist, no terminal), 2 usage.\n"
    "\n"
    "Examples:\n"
    "    $ keyward identity new\n"
    "    $ keyward identity new --key client.key --cert client.crt client-1\n"
    "    $ keyward identity new --key srv.key --cert srv.crt --ip 10.0.0.7 \\\n"
    "          --dns kms.example.net --expiry 8760h kms.example.net\n";

/* What a command prints. */
struct result {
	char		 identity[IDENTITY_LEN + 1];
	char		*apikey;	/* a secret: freezero_str() */
	const char	*keyfile;
	const char	*certfile;
};

/* The repeatable --ip and --dns values, split at commas. */
struct names {
	char	**v;
	size_t	  n;
};

enum {
	OPT_JSON = 256,
	OPT_KEY,
	OPT_CERT,
	OPT_IP,
	OPT_DNS,
	OPT_EXPIRY,
	OPT_ENCRYPT
};

/* "identity new" for cli_usage() from "keyward identity new". */
static const char *
short_name(const char *cmd)
{
	return cmd + sizeof("keyward ") - 1;
}

/* The message for getopt_long's '?' and ':' (opterr is 0: ours say which
 * command and option). */
static void
bad_option(const char *cmd, int c, char **argv)
{
	const char	*opt = argv[optind - 1];

	if (c == ':')
		cli_usage(short_name(cmd), "option %s needs a value", opt);
	else if (optopt != 0)
		cli_usage(short_name(cmd), "unknown option -%c", optopt);
	else
		cli_usage(short_name(cmd), "unknown option %s", opt);
}

static void
names_free(struct names *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Only the characters of host names and wildcards: a name ends up in an
 * IA5String, and anything else in a SAN is a mistake on the command line
 * rather than a host a TLS client would ever match.
 */
static bool
valid_dns(const char *s)
{
	size_t	len = strlen(s);

	if (len == 0 || len > DNS_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == '_' || *s == '*'))
			return false;
	return true;
}

static bool
valid_ip(const char *s, uint8_t addr[16], int *len)
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*len = 16;
		return true;
	}
	return false;
}

/* Split at commas as kes's flag library does; refuse bad names here so
 * the message names the option and the value. */
static int
names_add(struct names *l, const char *value, bool ip)
{
	char	*copy, *p, *tok;
	uint8_t	 addr[16];
	int	 alen, r = 0;

	copy = p = xstrdup(value);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (ip ? !valid_ip(tok, addr, &alen) : !valid_dns(tok)) {
			fprintf(stderr, "keyward identity new: --%s '%s': not "
			    "%s\n", ip ? "ip" : "dns", tok, ip ?
			    "an IPv4 or IPv6 address" : "a DNS name (letters, "
			    "digits, '-', '.', '_', '*')");
			r = -1;
			break;
		}
		l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = xstrdup(tok);
	}
	free(copy);
	return r;
}

/*
 * The whole file, NUL-terminated, into a buffer the caller wipes with
 * freezero(*p, *cap): it may hold a private key.
 */
static int
read_file(const char *path, uint8_t **p, size_t *len, size_t *cap)
{
	uint8_t	*buf = NULL, *nb;
	size_t	 n = 0, sz = 0;
	ssize_t	 r;
	int	 fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	for (;;) {
		if (n + 1 >= sz) {
			if (sz >= FILE_MAX) {
				errno = EFBIG;
				goto fail;
			}
			/* Grow by copying so nothing secret is left behind
			 * in a block realloc would free unwiped. */
			nb = xmalloc(sz == 0 ? 4096 : sz * 2);
			if (buf != NULL)
				memcpy(nb, buf, n);
			freezero(buf, sz);
			buf = nb;
			sz = sz == 0 ? 4096 : sz * 2;
		}
		r = read(fd, buf + n, sz - n - 1);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			goto fail;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*p = buf;
	*len = n;
	*cap = sz;
	return 0;
 fail:
	saved = errno;
	close(fd);
	freezero(buf, sz);
	errno = saved;
	return -1;
}

/* The identity, and for an Ed25519 key the API key it is. */
static int
from_pkey(const char *cmd, const char *path, EVP_PKEY *pk, bool want_apikey,
    struct result *res)
{
	struct apikey	k;
	size_t		n = sizeof(k.seed);

	if (identity_of_pubkey(pk, res->identity) != 0) {
		fprintf(stderr, "%s: %s: cannot compute the identity of the "
		    "private key\n", cmd, path);
		return CLI_REFUSED;
	}
	if (!want_apikey || EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519)
		return CLI_OK;
	if (EVP_PKEY_get_raw_private_key(pk, k.seed, &n) != 1 ||
	    n != sizeof(k.seed)) {
		explicit_bzero(&k, sizeof(k));
		fprintf(stderr, "%s: %s: cannot read the Ed25519 private key\n",
		    cmd, path);
		return CLI_REFUSED;
	}
	res->apikey = apikey_format(&k);
	explicit_bzero(&k, sizeof(k));
	return CLI_OK;
}

static int
from_cert(const char *cmd, const char *path, X509 *x, struct result *res)
{
	if (identity_of_cert(x, res->identity) != 0) {
		fprintf(stderr, "%s: %s: cannot compute the identity of the "
		    "certificate\n", cmd, path);
		return CLI_REFUSED;
	}
	return CLI_OK;
}

static bool
ends_with(const char *s, const char *suffix)
{
	size_t	ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && strcmp(s + ls - lx, suffix) == 0;
}

/*
 * PEM: the first CERTIFICATE block wins, as in kes identity of; without
 * one, a private key of any form OpenSSL reads (PKCS#8, traditional,
 * encrypted: the password then comes from the terminal).
 */
static int
from_pem(const char *cmd, const char *path, const uint8_t *p, size_t len,
    bool want_apikey, struct result *res)
{
	BIO			*bio;
	X509			*x = NULL;
	EVP_PKEY		*pk = NULL;
	struct cli_pw		 pc = { .path = path };
	char			*name = NULL, *header = NULL;
	unsigned char		*data = NULL;
	const unsigned char	*q;
	long			 dlen = 0;
	bool			 havekey = false, badcert = false;
	int			 r;

	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		goto oom;
	while (x == NULL && !badcert &&
	    PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
		if (strcmp(name, PEM_STRING_X509) == 0) {
			q = data;
			x = d2i_X509(NULL, &q, dlen);
			badcert = x == NULL || q != data + dlen;
		} else if (ends_with(name, "PRIVATE KEY"))
			havekey = true;
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(data, (size_t)dlen);
		name = header = NULL;
		data = NULL;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (badcert) {
		X509_free(x);
		fprintf(stderr, "%s: %s: the CERTIFICATE block is not a valid "
		    "X.509 certificate\n", cmd, path);
		return CLI_REFUSED;
	}
	if (x != NULL) {
		r = from_cert(cmd, path, x, res);
		X509_free(x);
		return r;
	}
	if (!havekey) {
		fprintf(stderr, "%s: %s: no CERTIFICATE or PRIVATE KEY block "
		    "in it\n", cmd, path);
		return CLI_REFUSED;
	}
	if ((bio = BIO_new_mem_buf(p, (int)len)) == NULL)
		goto oom;
	pk = PEM_read_bio_PrivateKey(bio, NULL, cli_pem_password, &pc);
	BIO_free(bio);
	ERR_clear_error();
	if (pk == NULL) {
		if (pc.notty)
			fprintf(stderr, "%s: %s: the private key is encrypted "
			    "and there is no terminal to ask for its "
			    "password\n", cmd, path);
		else if (pc.asked)
			fprintf(stderr, "%s: %s: cannot decrypt the private "
			    "key (wrong password?)\n", cmd, path);
		else
			fprintf(stderr, "%s: %s: not a private key OpenSSL "
			    "can read\n", cmd, path);
		return CLI_REFUSED;
	}
	r = from_pkey(cmd, path, pk, want_apikey, res);
	EVP_PKEY_free(pk);
	return r;
 oom:
	fprintf(stderr, "%s: out of memory\n", cmd);
	return CLI_REFUSED;
}

/* DER: a whole certificate, else a whole private key. */
static int
from_der(const char *cmd, const char *path, const uint8_t *p, size_t len,
    bool want_apikey, struct result *res)
{
	const unsigned char	*q = p;
	X509			*x;
	EVP_PKEY		*pk;
	int			 r;

	if (len > 0 && (x = d2i_X509(NULL, &q, (long)len)) != NULL) {
		if (q == p + len) {
			r = from_cert(cmd, path, x, res);
			X509_free(x);
			return r;
		}
		X509_free(x);
	}
	q = p;
	if (len > 0 && (pk = d2i_AutoPrivateKey(NULL, &q, (long)len)) != NULL) {
		if (q == p + len) {
			r = from_pkey(cmd, path, pk, want_apikey, res);
			EVP_PKEY_free(pk);
			return r;
		}
		EVP_PKEY_free(pk);
	}
	ERR_clear_error();
	fprintf(stderr, "%s: %s: not a certificate, private key or API key "
	    "(PEM or DER)\n", cmd, path);
	return CLI_REFUSED;
}

static int
from_apikey(const char *cmd, const char *what, const char *text,
    struct result *res)
{
	struct apikey	k;
	int		r;

	if (apikey_parse(text, &k) != 0) {
		/* Never echo it: a mistyped API key is still mostly secret. */
		fprintf(stderr, "%s: %s is not a valid API key (kes:v1: and 44 "
		    "base64 characters)\n", cmd, what);
		return CLI_REFUSED;
	}
	r = apikey_identity(&k, res->identity);
	explicit_bzero(&k, sizeof(k));
	if (r != 0) {
		fprintf(stderr, "%s: cannot compute the identity of the API "
		    "key\n", cmd);
		return CLI_REFUSED;
	}
	return CLI_OK;
}

/*
 * A file holding an API key as text ("kes:v1:...", surrounding blanks
 * and newlines allowed), a certificate or a private key.
 */
static int
from_file_bytes(const char *cmd, const char *path, uint8_t *p, size_t len,
    bool want_apikey, struct result *res)
{
	size_t	s = 0, e = len;

	while (s < e && (p[s] == ' ' || p[s] == '\t' || p[s] == '\r' ||
	    p[s] == '\n'))
		s++;
	while (e > s && (p[e - 1] == ' ' || p[e - 1] == '\t' ||
	    p[e - 1] == '\r' || p[e - 1] == '\n'))
		e--;
	if (e - s >= sizeof(APIKEY_PREFIX) - 1 &&
	    memcmp(p + s, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1) == 0) {
		p[e] = '\0';	/* the buffer is ours and has room */
		return from_apikey(cmd, path, (char *)p + s, res);
	}
	if (memmem(p, len, "-----BEGIN ", 11) != NULL)
		return from_pem(cmd, path, p, len, want_apikey, res);
	return from_der(cmd, path, p, len, want_apikey, res);
}

/*
 * An argument naming an API key or a file. As kes does, "kes:v1:..." is
 * an API key; anything else is a file name, and only when no such file
 * exists is a bare base64 API key tried.
 */
static int
load_input(const char *cmd, const char *arg, bool want_apikey,
    struct result *res)
{
	uint8_t		*p;
	size_t		 len, cap;
	struct apikey	 k;
	int		 r;

	if (strncmp(arg, APIKEY_PREFIX, sizeof(APIKEY_PREFIX) - 1) == 0)
		return from_apikey(cmd, "the argument", arg, res);
	if (read_file(arg, &p, &len, &cap) == -1) {
		if (errno == ENOENT && apikey_parse(arg, &k) == 0) {
			explicit_bzero(&k, sizeof(k));
			return from_apikey(cmd, "the argument", arg, res);
		}
		fprintf(stderr, "%s: %s: %s\n", cmd, arg, errno == EFBIG ?
		    "too large for a certificate or key" : strerror(errno));
		return CLI_REFUSED;
	}
	r = from_file_bytes(cmd, arg, p, len, want_apikey, res);
	freezero(p, cap);
	return r;
}

/* A string member; a file name that is not UTF-8 becomes null rather
 * than invalid JSON. */
static void
jset(json_t *o, const char *k, const char *v)
{
	json_t	*s = json_string(v);

	json_object_set_new(o, k, s != NULL ? s : json_null());
}

static int
finish_output(void)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "keyward identity: writing the output: %s\n",
		    strerror(errno));
		return CLI_REFUSED;
	}
	return CLI_OK;
}

/*
 * JSON: one object on one line, {"api_key", "identity", "private_key",
 * "certificate"}, members present when known. Text: the same, aligned,
 * and for a new API key a word on what is secret.
 */
static int
print_result(bool json, const struct result *res, bool fresh)
{
	json_t	*o;
	char	*s;

	if (json) {
		if ((o = json_object()) == NULL)
			return CLI_REFUSED;
		if (res->apikey != NULL)
			jset(o, "api_key", res->apikey);
		jset(o, "identity", res->identity);
		if (res->keyfile != NULL)
			jset(o, "private_key", res->keyfile);
		if (res->certfile != NULL)
			jset(o, "certificate", res->certfile);
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		json_decref(o);
		if (s == NULL)
			return CLI_REFUSED;
		printf("%s\n", s);
		free_wiped(s);	/* gojson_init: jansson allocates with malloc */
		return finish_output();
	}
	if (res->apikey != NULL)
		printf("API key:      %s\n", res->apikey);
	printf("Identity:     %s\n", res->identity);
	if (res->keyfile != NULL)
		printf("Private key:  %s\nCertificate:  %s\n", res->keyfile,
		    res->certfile);
	if (fresh)
		printf("\nThe API key is shown only this once: keep it secret."
		    "\nThe identity is not a secret: put it into the server's "
		    "configuration\n(admin.identity, or a policy's "
		    "identities).\n");
	return finish_output();
}

/*
 * The options of `identity` and `identity of`: --json and --help. -1 to
 * go on (operands from optind), or the exit code.
 */
static int
json_opts(const char *cmd, const char *usage, int argc, char **argv,
    bool *json)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	int	c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON:
			*json = true;
			break;
		case 'h':
			fputs(usage, stdout);
			return CLI_OK;
		default:
			bad_option(cmd, c, argv);
			return CLI_USAGE;
		}
	}
	return -1;
}

/* `keyward identity of`. */
static int
cmd_of(int argc, char **argv)
{
	const char	*cmd = "keyward identity of";
	struct result	 res = { .identity = "" };
	bool		 json = false;
	int		 r;

	if ((r = json_opts(cmd, usage_of, argc, argv, &json)) != -1)
		return r;
	if (argc - optind != 1) {
		cli_usage(short_name(cmd), argc == optind ? "no API key or "
		    "certificate given" : "one API key or certificate at a "
		    "time");
		return CLI_USAGE;
	}
	if ((r = load_input(cmd, argv[optind], false, &res)) != CLI_OK)
		return r;
	/*
	 * Scripts do ID=$(kes identity of client.crt): piped, kes prints the
	 * bare identity, so without --json so do we (with a newline).
	 */
	if (!json && !isatty(STDOUT_FILENO)) {
		printf("%s\n", res.identity);
		return finish_output();
	}
	return print_result(cli_json_output(json), &res, false);
}

/* The certificate of `identity new --cert`: see usage_new. */
static int
add_sans(X509 *x, const struct names *ips, const struct names *dns)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	ASN1_STRING	*v;
	uint8_t		 addr[16];
	size_t		 i;
	int		 alen, r = -1;

	if (ips->n == 0 && dns->n == 0)
		return 0;
	if ((gens = GENERAL_NAMES_new()) == NULL)
		return -1;
	/* DNS names before addresses, the order Go's x509 writes. */
	for (i = 0; i < dns->n + ips->n; i++) {
		if (i < dns->n)
			v = ASN1_IA5STRING_new();
		else
			v = ASN1_OCTET_STRING_new();
		if (v == NULL)
			goto out;
		if (i < dns->n ? ASN1_STRING_set(v, dns->v[i], -1) != 1 :
		    !valid_ip(ips->v[i - dns->n], addr, &alen) ||
		    ASN1_STRING_set(v, addr, alen) != 1) {
			ASN1_STRING_free(v);
			goto out;
		}
		if ((g = GENERAL_NAME_new()) == NULL) {
			ASN1_STRING_free(v);
			goto out;
		}
		GENERAL_NAME_set0_value(g, i < dns->n ? GEN_DNS : GEN_IPADD, v);
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) == 1)
		r = 0;
 out:
	GENERAL_NAMES_free(gens);
	return r;
}

/*
 * What kes identity new makes (spec §4.4): self-signed with the API
 * key's Ed25519 key, random 128-bit serial, valid from now for `secs`,
 * KeyUsage digitalSignature, ExtKeyUsage serverAuth and clientAuth,
 * CA:FALSE, and the SANs asked for. Critical flags as Go's x509 sets them
 * (see common/apikey.c).
 */
static X509 *
make_cert(EVP_PKEY *pk, const char *cn, uint64_t secs,
    const struct names *ips, const struct names *dns)
{
	X509	*x;

	if ((x = x509_new_cert(pk, cn, 0)) == NULL)
		return NULL;
	if (X509_time_adj_ex(X509_getm_notAfter(x), (int)(secs / 86400),
	    (long)(secs % 86400), NULL) == NULL ||
	    x509_add_ext(x, NULL, NID_key_usage,
	    "critical,digitalSignature") != 0 ||
	    x509_add_ext(x, NULL, NID_ext_key_usage,
	    "serverAuth,clientAuth") != 0 ||
	    x509_add_ext(x, NULL, NID_basic_constraints,
	    "critical,CA:FALSE") != 0 ||
	    add_sans(x, ips, dns) != 0 ||
	    X509_sign(x, pk, NULL) <= 0) {	/* a length, or 0 */
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
i2d_p8inf(const void *p8, unsigned char **out)
{
	return i2d_PKCS8_PRIV_KEY_INFO(p8, out);
}

/*
 * The private key as PEM in a BIO that wipes itself when freed. With a
 * password it is what kes writes (Go's x509.EncryptPEMBlock): a "PRIVATE
 * KEY" block with Proc-Type/DEK-Info headers, AES-256-CBC, the key derived
 * from the password with OpenSSL's EVP_BytesToKey (one round of MD5 over
 * password and IV). That legacy form is the one the Go KES clients can
 * decrypt; PKCS#8 "ENCRYPTED PRIVATE KEY" they cannot. Its derivation is
 * weak, so the password must be strong on its own.
 */
static BIO *
key_pem(EVP_PKEY *pk, const char *pw, size_t pwlen)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	BIO			*bio;
	int			 ok;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if (pw == NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, pk, NULL, NULL, 0,
		    NULL, NULL) == 1;
	else {
		ok = (p8 = EVP_PKEY2PKCS8(pk)) != NULL &&
		    PEM_ASN1_write_bio(i2d_p8inf, PEM_STRING_PKCS8INF, bio, p8,
		    EVP_aes_256_cbc(), (const unsigned char *)pw, (int)pwlen,
		    NULL, NULL) == 1;
		PKCS8_PRIV_KEY_INFO_free(p8);	/* cleanses the key */
	}
	if (!ok) {
		BIO_free(bio);
		return NULL;
	}
	return bio;
}

/* The password of --encrypt, typed twice; its length or -1 (said why). */
static ssize_t
new_password(char *pw, size_t size)
{
	char	*again;
	ssize_t	 n, m;

	again = xmalloc(size);
	n = cli_read_password("Password for the private key: ", pw, size);
	m = n < 0 ? -1 : cli_read_password("The same password again: ", again,
	    size);
	if (n < 0 || m < 0)
		fprintf(stderr, "keyward identity new: cannot read the "
		    "password (at most %zu characters)\n", size - 1);
	else if (n == 0)
		fprintf(stderr, "keyward identity new: the password is "
		    "empty\n");
	else if (n != m || memcmp(pw, again, (size_t)n) != 0)
		fprintf(stderr, "keyward identity new: the passwords "
		    "differ\n");
	else {
		freezero(again, size);
		return n;
	}
	freezero(again, size);
	explicit_bzero(pw, size);
	return -1;
}

/* Both files or neither: the key is staged, then the certificate, then
 * both take their names; a failure removes what this call made. */
static int
write_files(const char *keyfile, const char *certfile, BIO *kbio, BIO *cbio,
    bool force)
{
	struct wfile	 wk = { 0 }, wc = { 0 };
	char		*kp, *cp;
	long		 kl, cl;
	const char	*failed;

	kl = BIO_get_mem_data(kbio, &kp);
	cl = BIO_get_mem_data(cbio, &cp);
	failed = keyfile;
	if (kl <= 0 || cl <= 0 ||
	    wfile_stage(&wk, keyfile, kp, (size_t)kl, 0600) == -1)
		goto fail;
	failed = certfile;
	if (wfile_stage(&wc, certfile, cp, (size_t)cl, 0644) == -1)
		goto fail;
	failed = keyfile;
	if (wfile_commit(&wk, force) == -1)
		goto fail;
	failed = certfile;
	if (wfile_commit(&wc, force) == -1) {
		if (!force)
			(void)unlink(keyfile);
		goto fail;
	}
	wfile_abort(&wk);
	wfile_abort(&wc);
	return CLI_OK;
 fail:
	if (errno == EEXIST)
		fprintf(stderr, "keyward identity new: %s exists; -f replaces "
		    "it\n", failed);
	else
		fprintf(stderr, "keyward identity new: %s: %s\n", failed,
		    strerror(errno));
	wfile_abort(&wk);
	wfile_abort(&wc);
	return CLI_REFUSED;
}

struct newopts {
	const char	*keyfile;
	const char	*certfile;
	const char	*subject;
	struct names	 ips;
	struct names	 dns;
	uint64_t	 secs;
	bool		 expiry_set;
	bool		 encrypt;
	bool		 force;
	bool		 json;
};

/* The key and certificate files of `identity new`. */
static int
new_files(const struct newopts *o, const struct apikey *k,
    struct result *res)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	BIO		*kbio = NULL, *cbio = NULL;
	char		 pw[PASS_MAX];
	ssize_t		 pwlen = 0;
	int		 r = CLI_REFUSED;

	if (o->encrypt) {
		/* Before anything is made: there is nothing to undo. */
		if (!cli_have_tty()) {
			fprintf(stderr, "keyward identity new: --encrypt reads "
			    "the password from a terminal, and there is none\n");
			return CLI_REFUSED;
		}
		if ((pwlen = new_password(pw, sizeof(pw))) < 0)
			return CLI_REFUSED;
	}
	if ((pk = apikey_pkey(k)) == NULL ||
	    (x = make_cert(pk, o->subject != NULL ? o->subject :
	    res->identity, o->secs, &o->ips, &o->dns)) == NULL ||
	    (kbio = key_pem(pk, o->encrypt ? pw : NULL, (size_t)pwlen)) ==
	    NULL || (cbio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(cbio, x) != 1) {
		ERR_clear_error();
		fprintf(stderr, "keyward identity new: cannot make the private "
		    "key and certificate\n");
		goto out;
	}
	r = write_files(o->keyfile, o->certfile, kbio, cbio, o->force);
	if (r == CLI_OK) {
		res->keyfile = o->keyfile;
		res->certfile = o->certfile;
	}
 out:
	explicit_bzero(pw, sizeof(pw));
	BIO_free(kbio);
	BIO_free(cbio);
	X509_free(x);
	EVP_PKEY_free(pk);
	return r;
}

/* `keyward identity new`, and `keyward identity` without arguments. */
static int
do_new(const struct newopts *o)
{
	struct apikey	k;
	struct result	res = { .identity = "" };
	int		r = CLI_REFUSED;

	if (apikey_generate(&k) != 0 || apikey_identity(&k, res.identity) != 0) {
		fprintf(stderr, "keyward identity: cannot generate an API "
		    "key\n");
		goto out;
	}
	if (o->keyfile != NULL && (r = new_files(o, &k, &res)) != CLI_OK)
		goto out;
	res.apikey = apikey_format(&k);
	r = print_result(o->json, &res, true);
 out:
	freezero_str(res.apikey);
	explicit_bzero(&k, sizeof(k));
	return r;
}

/* Refuse early, before a password is asked for, as kes does. */
static int
check_absent(const char *path)
{
	struct stat	sb;

	if (lstat(path, &sb) == 0) {
		fprintf(stderr, "keyward identity new: %s exists; -f replaces "
		    "it\n", path);
		return -1;
	}
	return 0;
}

static int
cmd_new(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "key", required_argument, NULL, OPT_KEY },
		{ "cert", required_argument, NULL, OPT_CERT },
		{ "ip", required_argument, NULL, OPT_IP },
		{ "dns", required_argument, NULL, OPT_DNS },
		{ "expiry", required_argument, NULL, OPT_EXPIRY },
		{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
		{ "force", no_argument, NULL, 'f' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*cmd = "keyward identity new", *expiry = EXPIRY_DEFAULT;
	const char	*needs = NULL;
	struct newopts	 o = { 0 };
	uint64_t	 ms;
	int		 c, r = CLI_USAGE;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":fh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_KEY:
			o.keyfile = optarg;
			break;
		case OPT_CERT:
			o.certfile = optarg;
			break;
		case OPT_IP:
		case OPT_DNS:
			if (names_add(c == OPT_IP ? &o.ips : &o.dns, optarg,
			    c == OPT_IP) != 0)
				goto out;
			break;
		case OPT_EXPIRY:
			expiry = optarg;
			o.expiry_set = true;
			break;
		case OPT_ENCRYPT:
			o.encrypt = true;
			break;
		case 'f':
			o.force = true;
			break;
		case OPT_JSON:
			o.json = true;
			break;
		case 'h':
			fputs(usage_new, stdout);
			r = CLI_OK;
			goto out;
		default:
			bad_option(cmd, c, argv);
			goto out;
		}
	}
	if (argc - optind > 1) {
		cli_usage(short_name(cmd), "one <subject> at most (quote it if "
		    "it has blanks)");
		goto out;
	}
	if (argc - optind == 1)
		o.subject = argv[optind];
	if ((o.keyfile == NULL) != (o.certfile == NULL)) {
		cli_usage(short_name(cmd), "--key and --cert go together");
		goto out;
	}
	if (o.keyfile == NULL) {
		if (o.encrypt)
			needs = "--encrypt";
		else if (o.force)
			needs = "-f";
		else if (o.expiry_set)
			needs = "--expiry";
		else if (o.ips.n > 0)
			needs = "--ip";
		else if (o.dns.n > 0)
			needs = "--dns";
		if (needs != NULL) {
			cli_usage(short_name(cmd), "%s is for the certificate:"
			    " give --key and --cert too", needs);
			goto out;
		}
		/* kes accepts it too; runbooks written for it may pass one. */
		if (o.subject != NULL)
			fprintf(stderr, "%s: <subject> names the certificate; "
			    "without --key and --cert it is ignored\n", cmd);
	} else if (strcmp(o.keyfile, o.certfile) == 0) {
		cli_usage(short_name(cmd), "--key and --cert name the same "
		    "file");
		goto out;
	}
	if (config_parse_duration(expiry, &ms) != 0 || ms == 0) {
		fprintf(stderr, "%s: --expiry '%s': not a positive Go duration "
		    "(e.g. 720h, 8760h, 90m)\n", cmd, expiry);
		goto out;
	}
	o.secs = ms / 1000 + (ms % 1000 != 0);
	if (o.subject != NULL && (o.subject[0] == '\0' ||
	    strlen(o.subject) > CN_MAX)) {
		fprintf(stderr, "%s: the <subject> must have 1 to %d characters\n",
		    cmd, CN_MAX);
		goto out;
	}
	o.json = cli_json_output(o.json);
	r = CLI_REFUSED;
	if (o.keyfile != NULL && !o.force &&
	    (check_absent(o.keyfile) != 0 || check_absent(o.certfile) != 0))
		goto out;
	r = do_new(&o);
 out:
	names_free(&o.ips);
	names_free(&o.dns);
	return r;
}

/* `keyward identity [--json] [API-KEY | FILE]`. */
static int
cmd_identity(int argc, char **argv)
{
	const char	*cmd = "keyward identity";
	struct result	 res = { .identity = "" };
	struct newopts	 o = { 0 };
	bool		 json = false;
	int		 r;

	if ((r = json_opts(cmd, usage_identity, argc, argv, &json)) != -1)
		return r;
	if (argc - optind > 1) {
		cli_usage(short_name(cmd), "'%s' is not an identity "
		    "command", argv[optind]);
		return CLI_USAGE;
	}
	if (argc == optind) {
		o.json = cli_json_output(json);
		return do_new(&o);
	}
	if ((r = load_input(cmd, argv[optind], true, &res)) == CLI_OK)
		r = print_result(cli_json_output(json), &res, false);
	freezero_str(res.apikey);
	return r;
}

int
identity_main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "new") == 0)
		return cmd_new(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "of") == 0)
		return cmd_of(argc - 1, argv + 1);
	if (argc > 1 && (strcmp(argv[1], "info") == 0 ||
	    strcmp(argv[1], "ls") == 0)) {
		/* keyward.c routes these to the networked client. */
		fprintf(stderr, "keyward identity %s: asks a server; not "
		    "handled here\n", argv[1]);
		return CLI_USAGE;
	}
	return cmd_identity(argc, argv);
}
