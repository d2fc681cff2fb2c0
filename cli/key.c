/*
 * keyward key create|import|info|ls|rm|encrypt|decrypt|dek: the kes CLI's
 * key commands (spec §9) with its arguments and output.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/b64.h"
#include "common/xmalloc.h"

static const char key_help[] =
    "Usage:\n"
    "    keyward key <command>\n"
    "\n"
    "Commands:\n"
    "    create                   Create a new crypto key.\n"
    "    import                   Import a crypto key.\n"
    "    info                     Get information about a crypto key.\n"
    "    ls                       List crypto keys.\n"
    "    rm                       Delete a crypto key.\n"
    "\n"
    "    encrypt                  Encrypt a message.\n"
    "    decrypt                  Decrypt an encrypted message.\n"
    "    dek                      Generate a new data encryption key.\n"
    "\n"
    "Options:\n"
    "    -h, --help               Print command line options.\n"
    "\n"
    "Run 'keyward key <command> --help' for a command's options.\n"
    "\n"
    "Examples:\n"
    "    $ keyward key create my-key\n"
    "    $ keyward key dek my-key\n";

static const char create_help[] =
    "Usage:\n"
    "    keyward key create [options] <name>...\n"
    "\n"
    "Create one or more keys. Prints nothing on success.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key create my-key\n"
    "    $ keyward key create my-key1 my-key2\n";

static const char import_help[] =
    "Usage:\n"
    "    keyward key import [options] <name> <key>\n"
    "\n"
    "Import a 32-byte AES-256 key given in base64.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key import my-key-2 "
    "Xlnr/nOgAWE5cA7GAsl3L2goCvmfs6KE0gNgB1T93wE=\n";

static const char info_help[] =
    "Usage:\n"
    "    keyward key info [options] <name>\n"
    "\n"
    "Show a key's name, algorithm, creation time and creator. JSON:\n"
    "the server's answer {\"name\",\"algorithm\",\"created_at\","
    "\"created_by\"}.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key info my-key\n";

static const char ls_help[] =
    "Usage:\n"
    "    keyward key ls [options] [<pattern>]\n"
    "\n"
    "List the keys whose names start with <pattern> (a trailing '*' is\n"
    "allowed; default: all). JSON: an array of names.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key ls\n"
    "    $ keyward key ls 'my-key*'\n";

static const char rm_help[] =
    "Usage:\n"
    "    keyward key rm [options] <name>...\n"
    "\n"
    "Delete one or more keys. Prints nothing on success.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key rm my-key\n"
    "    $ keyward key rm my-key1 my-key2\n";

static const char encrypt_help[] =
    "Usage:\n"
    "    keyward key encrypt [options] <name> <message> [<context>]\n"
    "\n"
    "Encrypt the text <message>, optionally bound to a base64 context.\n"
    "Prints the ciphertext in base64; JSON: {\"ciphertext\":...}.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key encrypt my-key \"Hello World\"\n";

static const char decrypt_help[] =
    "Usage:\n"
    "    keyward key decrypt [options] <name> <ciphertext> [<context>]\n"
    "\n"
    "Decrypt a base64 ciphertext (with the base64 context it was made\n"
    "with). Prints the plaintext in base64; JSON: {\"plaintext\":...}.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ CIPHERTEXT=$(keyward key dek my-key | jq -r .ciphertext)\n"
    "    $ keyward key decrypt my-key \"$CIPHERTEXT\"\n";

static const char dek_help[] =
    "Usage:\n"
    "    keyward key dek [options] <name> [<context>]\n"
    "\n"
    "Generate a data encryption key: a random 32-byte plaintext and that\n"
    "plaintext encrypted with <name>, both in base64; JSON:\n"
    "{\"plaintext\":...,\"ciphertext\":...}. <context> (base64) is bound\n"
    "to the ciphertext and must be given again to decrypt it.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward key dek my-key\n"
    "    $ keyward key dek my-key \"$(printf '{}' | base64)\"\n";

/* A base64 argument must decode, as kes checks before it calls. */
static bool
valid_b64(const char *s, size_t *n)
{
	size_t	 len = strlen(s), out;
	uint8_t	*buf = xmalloc(b64_decoded_max(len) + 1);
	int	 rc = b64_decode(s, len, buf, &out);

	freezero(buf, b64_decoded_max(len) + 1);
	if (n != NULL)
		*n = out;
	return rc == 0;
}

static char *
b64(const void *p, size_t n)
{
	char *out = xmalloc(b64_encoded_len(n) + 1);

	b64_encode(p, n, out);
	return out;
}

/* The JSON request body; freed by the caller with freezero_str. */
static char *
dump(json_t *j)
{
	char *s;

	if (j == NULL || (s = json_dumps(j, JSON_COMPACT |
	    JSON_PRESERVE_ORDER)) == NULL) {
		cli_warnx("out of memory");
		exit(CLI_CONN);
	}
	json_decref(j);
	return s;
}

/* Parse, then connect: usage errors never need the server. */
static int
setup(int argc, char **argv, const char *name, const char *help,
    int min, int max, const char *missing[], struct cli_flags *fl,
    int *first)
{
	int rc, n;

	if ((rc = cli_parse(argc, argv, name, help, NULL, fl, first)) != -1)
		return rc;
	n = argc - *first;
	if (n < min)
		return cli_usage(name, "%s", missing[n]);
	if (max >= 0 && n > max)
		return cli_usage(name, "too many arguments");
	return -1;
}

static const char *need_name[] = { "no key name specified" };

/* create and rm: the same call for each name, stopping at the first
 * refusal as kes does. */
static int
each_name(int argc, char **argv, const char *name, const char *help,
    const char *method, const char *route, const char *verb)
{
	struct cli_flags	 fl;
	struct client		*c;
	struct client_resp	 r;
	char			*path, action[300], what[300];
	int			 rc, first, i;

	if ((rc = setup(argc, argv, name, help, 1, -1, need_name, &fl,
	    &first)) != -1)
		return rc;
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	for (i = first; i < argc && rc == CLI_OK; i++) {
		path = client_path(route, argv[i]);
		snprintf(action, sizeof(action), "%s key '%s'", verb,
		    argv[i]);
		snprintf(what, sizeof(what), "key '%s'", argv[i]);
		rc = client_call(c, method, path, NULL, &r, action, what);
		client_resp_free(&r);
		free(path);
	}
	client_free(c);
	return rc;
}

static int
key_import(int argc, char **argv)
{
	static const char *missing[] = { "no key name specified",
	    "no crypto key specified" };
	struct cli_flags	 fl;
	struct client		*c;
	struct client_resp	 r;
	char			*path, *body, action[300];
	size_t			 n;
	int			 rc, first;

	if ((rc = setup(argc, argv, "key import", import_help, 2, 2, missing,
	    &fl, &first)) != -1)
		return rc;
	if (!valid_b64(argv[first + 1], &n) || n != 32)
		return cli_usage("key import", "invalid key: it must be 32 "
		    "bytes in base64");
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	/*
	 * KES since 2023-11 reads {"key","cipher"}; KES 2023-02 read
	 * {"bytes"} (C2 in kes-client-generations.md). Each ignores the
	 * other's fields, so one body serves both.
	 */
	body = dump(json_pack("{s:s, s:s, s:s}", "key", argv[first + 1],
	    "cipher", "AES256", "bytes", argv[first + 1]));
	path = client_path("/v1/key/import/", argv[first]);
	snprintf(action, sizeof(action), "import key '%s'", argv[first]);
	rc = client_call(c, "POST", path, body, &r, action, NULL);
	client_resp_free(&r);
	freezero_str(body);
	free(path);
	client_free(c);
	return rc;
}

static void
print_key(const struct client *c, const json_t *j, const char *name)
{
	char date[64];

	format_time(json_string_value(json_object_get(j, "created_at")), date,
	    sizeof(date));
	printf("%-11s %s\n", "Name", json_string_value(json_object_get(j,
	    "name")) ?: name);
	printf("%-11s %s\n", "Algorithm", json_string_value(json_object_get(j,
	    "algorithm")) ?: "");
	printf("%-11s %s\n", "Date", date);
	printf("%-11s %s\n", "Owner", json_string_value(json_object_get(j,
	    "created_by")) ?: "");
}

static int
key_info(int argc, char **argv)
{
	struct cli_flags	fl;
	int			rc, first;

	if ((rc = setup(argc, argv, "key info", info_help, 1, 1, need_name,
	    &fl, &first)) != -1)
		return rc;
	return describe_command(&fl, "/v1/key/describe/", argv[first], "key",
	    print_key);
}

static int
key_ls(int argc, char **argv)
{
	return list_command(argc, argv, "key ls", ls_help, "/v1/key/list/",
	    "names", "keys", "Key");
}

/*
 * encrypt, decrypt and dek: one POST with a JSON body, fields of the
 * answer printed as "name: value" lines (kes's terminal format) or as a
 * JSON object in the same order.
 */
static int
crypt_call(const struct cli_flags *fl, const char *route, const char *name,
    const char *verb, char *body, const char *const fields[])
{
	struct client		*c;
	struct client_resp	 r;
	json_t			*j, *out;
	const char		*v;
	char			*path, action[300], what[300];
	size_t			 i;
	int			 rc;

	if ((rc = client_new(fl, &c)) != CLI_OK) {
		freezero_str(body);
		return rc;
	}
	path = client_path(route, name);
	snprintf(action, sizeof(action), "%s with key '%s'", verb, name);
	snprintf(what, sizeof(what), "key '%s'", name);
	rc = client_call(c, "POST", path, body, &r, action, what);
	freezero_str(body);
	if (rc == CLI_OK && (j = client_json(&r)) != NULL) {
		out = json_object();
		if (!fl->json)
			printf("\n");
		for (i = 0; fields[i] != NULL; i++) {
			v = json_string_value(json_object_get(j, fields[i]));
			if (v == NULL) {
				cli_warnx("the server's answer has no '%s'",
				    fields[i]);
				rc = CLI_REFUSED;
				break;
			}
			if (fl->json)
				json_object_set_new(out, fields[i],
				    json_string(v));
			else
				printf("%s:%*s %s\n", fields[i],
				    (int)(10 - strlen(fields[i])), "", v);
		}
		if (fl->json && rc == CLI_OK)
			print_json(out);
		json_decref(out);
		json_decref(j);
	} else if (rc == CLI_OK)
		rc = CLI_REFUSED;
	client_resp_free(&r);	/* wipes the answer */
	free(path);
	client_free(c);
	return rc;
}

static int
key_encrypt(int argc, char **argv)
{
	static const char *missing[] = { "no key name specified",
	    "no message specified" };
	static const char *const fields[] = { "ciphertext", NULL };
	struct cli_flags	 fl;
	json_t			*j;
	char			*pt;
	int			 rc, first;

	if ((rc = setup(argc, argv, "key encrypt", encrypt_help, 2, 3,
	    missing, &fl, &first)) != -1)
		return rc;
	if (argc - first == 3 && !valid_b64(argv[first + 2], NULL))
		return cli_usage("key encrypt", "invalid context: not base64");
	pt = b64(argv[first + 1], strlen(argv[first + 1]));
	j = json_pack("{s:s}", "plaintext", pt);
	freezero_str(pt);
	if (argc - first == 3)
		json_object_set_new(j, "context", json_string(argv[first + 2]));
	return crypt_call(&fl, "/v1/key/encrypt/", argv[first], "encrypt",
	    dump(j), fields);
}

static int
key_decrypt(int argc, char **argv)
{
	static const char *missing[] = { "no key name specified",
	    "no ciphertext specified" };
	static const char *const fields[] = { "plaintext", NULL };
	struct cli_flags	 fl;
	json_t			*j;
	int			 rc, first;

	if ((rc = setup(argc, argv, "key decrypt", decrypt_help, 2, 3,
	    missing, &fl, &first)) != -1)
		return rc;
	if (!valid_b64(argv[first + 1], NULL))
		return cli_usage("key decrypt", "invalid ciphertext: not "
		    "base64");
	if (argc - first == 3 && !valid_b64(argv[first + 2], NULL))
		return cli_usage("key decrypt", "invalid context: not base64");
	j = json_pack("{s:s}", "ciphertext", argv[first + 1]);
	if (argc - first == 3)
		json_object_set_new(j, "context", json_string(argv[first + 2]));
	return crypt_call(&fl, "/v1/key/decrypt/", argv[first], "decrypt",
	    dump(j), fields);
}

static int
key_dek(int argc, char **argv)
{
	static const char *const fields[] = { "plaintext", "ciphertext",
	    NULL };
	struct cli_flags	 fl;
	json_t			*j;
	int			 rc, first;

	if ((rc = setup(argc, argv, "key dek", dek_help, 1, 2, need_name,
	    &fl, &first)) != -1)
		return rc;
	if (argc - first == 2 && !valid_b64(argv[first + 1], NULL))
		return cli_usage("key dek", "invalid context: not base64");
	j = json_object();
	if (argc - first == 2)
		json_object_set_new(j, "context", json_string(argv[first + 1]));
	return crypt_call(&fl, "/v1/key/generate/", argv[first],
	    "generate a data key", dump(j), fields);
}

static int
key_create(int argc, char **argv)
{
	return each_name(argc, argv, "key create", create_help, "POST",
	    "/v1/key/create/", "create");
}

static int
key_rm(int argc, char **argv)
{
	return each_name(argc, argv, "key rm", rm_help, "DELETE",
	    "/v1/key/delete/", "delete");
}

int
key_main(int argc, char **argv)
{
	static const struct {
		const char	*name;
		int		(*fn)(int, char **);
	} cmds[] = {
		{ "create",	key_create },
		{ "import",	key_import },
		{ "info",	key_info },
		{ "ls",		key_ls },
		{ "rm",		key_rm },
		{ "encrypt",	key_encrypt },
		{ "decrypt",	key_decrypt },
		{ "dek",	key_dek },
	};
	size_t	i;
	int	rc;

	if ((rc = cli_group(argc, argv, key_help)) != -1)
		return rc;
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	return cli_usage("key", "'%s' is not a key command", argv[1]);
}
