/*
 * The one keyward binary's entry point: which role or command runs.
 * `keyward server` starts the parent; the parent re-executes this binary
 * as `keyward worker N`, `keyward crypto` and `keyward agent` for its
 * children, which refuse to run unless started by a parent (they need the
 * control channel on descriptor 3). Every other command is a client
 * command (cli/).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "cli/identity.h"
#include "common/gojson.h"
#include "common/msg.h"
#include "keystore-agent/agent.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/seal.h"
#include "privsep/crypto.h"
#include "privsep/parent.h"
#include "worker/worker.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: keyward <command> [options]\n"
	    "\n"
	    "Server:\n"
	    "  server     start the server: keyward server --config FILE | --dev\n"
	    "  version    print the version\n"
	    "  seal       keygen|seal-fs|unseal-fs: the PKCS#11 seal of stored\n"
	    "             values (keystore.seal.pkcs11)\n"
	    "\n"
	    "Client (the kes CLI's commands, environment and output):\n"
	    "  key        create|import|info|ls|rm|encrypt|decrypt|dek\n"
	    "  policy     ls|info|show\n"
	    "  identity   new|of|info|ls: API keys and identities\n"
	    "  ls         list keys, identities (-i) or policies (-p)\n"
	    "  status     show the server's status (--api: its APIs)\n"
	    "  metric     sample the server's metrics\n"
	    "  log        follow the audit or error log\n"
	    "\n"
	    "Environment of the client commands:\n"
	    "  KES_SERVER                     server(s), comma-separated\n"
	    "                                 (default 127.0.0.1:7373)\n"
	    "  KES_API_KEY                    API key, or else\n"
	    "  KES_CLIENT_CERT, KES_CLIENT_KEY  client certificate and key\n"
	    "  KES_CAPATH                     CA of the server (default: the\n"
	    "                                 system's; -k skips the check)\n"
	    "  The kes CLI's fallbacks are read too (MINIO_KES_SERVER,\n"
	    "  MINIO_KMS_KES_ENDPOINT, MINIO_KMS_KES_API_KEY,\n"
	    "  MINIO_KMS_KES_CAPATH, ...); KES_ENCLAVE is accepted and ignored.\n"
	    "\n"
	    "Exit status: 0 ok, 1 the server refused, 2 usage error,\n"
	    "3 no connection (network, TLS, credentials).\n"
	    "\n"
	    "Run 'keyward <command> --help' for a command's options.\n"
	    "\n"
	    "Example (after `keyward server --dev` printed the exports):\n"
	    "  keyward key create my-key && keyward key dek my-key\n");
}

/* Children are started by the parent with a socket on FD_PARENT. */
static int
started_by_parent(const char *role)
{
	struct stat st;

	if (fstat(FD_PARENT, &st) == 0 && S_ISSOCK(st.st_mode))
		return 1;
	fprintf(stderr, "keyward %s: this process is started by `keyward "
	    "server`, not by hand\n", role);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (strcmp(cmd, "server") == 0)
		parent_main(argc - 1, argv + 1);
	if (strcmp(cmd, "worker") == 0)
		return started_by_parent(cmd) ? worker_main(argc - 1, argv + 1)
		    : 2;
	if (strcmp(cmd, "crypto") == 0)
		return started_by_parent(cmd) ? crypto_main(argc - 1, argv + 1)
		    : 2;
	if (strcmp(cmd, "agent") == 0)
		return started_by_parent(cmd) ? agent_main(argc - 1, argv + 1)
		    : 2;
	/* The agent's resolver helper (keystore-agent/helper.h). */
	if (strcmp(cmd, "helper") == 0)
		return started_by_parent(cmd) ?
		    helper_role_main(argc - 1, argv + 1) : 2;
	/* The agent's PKCS#11 helper; it checks its own socket. */
	if (strcmp(cmd, "seal-helper") == 0)
		return seal_helper_main(argc - 1, argv + 1);
	if (strcmp(cmd, "seal") == 0)
		return seal_cmd_main(argc - 1, argv + 1);
	/*
	 * The client commands: jansson wipes what it frees from here on
	 * (answers carry plaintexts, API keys).
	 */
	gojson_init();
	if (strcmp(cmd, "key") == 0)
		return key_main(argc - 1, argv + 1);
	if (strcmp(cmd, "policy") == 0)
		return policy_main(argc - 1, argv + 1);
	if (strcmp(cmd, "ls") == 0)
		return ls_main(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return status_main(argc - 1, argv + 1);
	if (strcmp(cmd, "metric") == 0)
		return metric_main(argc - 1, argv + 1);
	if (strcmp(cmd, "log") == 0)
		return log_main(argc - 1, argv + 1);
	if (strcmp(cmd, "identity") == 0)
		return identity_is_remote(argc - 1, argv + 1) ?
		    identity_remote_main(argc - 1, argv + 1) :
		    identity_main(argc - 1, argv + 1);
	if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0 ||
	    strcmp(cmd, "-v") == 0) {
		printf("keyward %s (commit %s)\n", KEYWARD_VERSION,
		    KEYWARD_COMMIT);
		return 0;
	}
	if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "keyward: unknown command '%s'\n", cmd);
	usage(stderr);
	return 2;
}
