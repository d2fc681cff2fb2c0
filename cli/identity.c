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
#include "cli/identity_int.h"
#include "common/apikey.h"
#include "common/config.h"
#include "common/gojson.h"
#include "common/identity.h"
#include "common/wfile.h"
#include "common/x509.h"
#include "common/xmalloc.h"

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
	 * bare identity without a newline, so without --json so do we (C3 in
	 * kes-client-generations.md: a script that compares bytes, or
	 * appends to a file, sees what kes gave it).
	 */
	if (!json && !isatty(STDOUT_FILENO)) {
		fputs(res.identity, stdout);
		return finish_output();
	}
	return print_result(cli_json_output(json), &res, false);
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
