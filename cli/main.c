/*
 * The one keyward binary. `keyward server` starts the parent; the parent
 * re-executes this binary as `keyward worker N`, `keyward crypto` and
 * `keyward agent` for its children, which refuse to run unless started by
 * a parent (they need the control channel on descriptor 3).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <string.h>

#include "common/msg.h"
#include "keystore-agent/agent.h"
#include "privsep/crypto.h"
#include "privsep/parent.h"
#include "worker/worker.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: keyward <command> [options]\n"
	    "\n"
	    "commands:\n"
	    "  server   start the server: keyward server --config FILE | --dev\n"
	    "  version  print the version\n"
	    "\n"
	    "Run 'keyward <command> --help' for a command's options.\n");
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
		return 2;
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
