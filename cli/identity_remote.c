/*
 * keyward identity info [ID] and identity ls [PATTERN]: the identity
 * commands that ask the server (spec §3.5); the offline ones are in
 * cli/identity.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char info_help[] =
    "Usage:\n"
    "    keyward identity info [options] [<identity>]\n"
    "\n"
    "Describe an identity: whether it is the admin, its policy, when and\n"
    "by whom it was created. Without <identity>: the caller's own\n"
    "(/v1/identity/self/describe). JSON: the server's answer.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward identity info\n"
    "    $ keyward identity info "
    "736bf58626441e3e134a2daf2e6a0441b40e1abc0eac510cbeb9a5ad6e8e6f39\n";

static const char ls_help[] =
    "Usage:\n"
    "    keyward identity ls [options] [<pattern>]\n"
    "\n"
    "List the identities the server knows (the admin and those in\n"
    "policies) that start with <pattern>. JSON: an array.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward identity ls\n"
    "    $ keyward identity ls 'b5*'\n";

bool
identity_is_remote(int argc, char **argv)
{
	return argc > 1 && (strcmp(argv[1], "info") == 0 ||
	    strcmp(argv[1], "ls") == 0);
}

static void
print_identity(const struct client *c, const json_t *j, const char *id)
{
	const json_t	*pol = json_object_get(j, "policy");
	const char	*s;
	char		 date[64];

	if ((s = json_string_value(json_object_get(j, "identity"))) != NULL)
		id = s;
	printf("%-11s %s\n", "Identity", id);
	if (json_is_true(json_object_get(j, "admin")))
		printf("%-11s %s\n", "Role", "admin");
	/* A policy name, or (self describe) the policy itself. */
	if (json_is_string(pol))
		printf("%-11s %s\n", "Policy", json_string_value(pol));
	else if (json_is_object(pol) && (s = json_string_value(
	    json_object_get(pol, "name"))) != NULL)
		printf("%-11s %s\n", "Policy", s);
	format_time(json_string_value(json_object_get(j, "created_at")), date,
	    sizeof(date));
	printf("%-11s %s\n", "Date", date);
	if ((s = json_string_value(json_object_get(j, "created_by"))) != NULL)
		printf("%-11s %s\n", "Owner", s);
}

static int
identity_info(int argc, char **argv)
{
	struct cli_flags	fl;
	int			rc, first;

	if ((rc = cli_parse(argc, argv, "identity info", info_help, NULL, &fl,
	    &first)) != -1)
		return rc;
	if (argc - first > 1)
		return cli_usage("identity info", "too many arguments");
	if (argc > first)
		return describe_command(&fl, "/v1/identity/describe/",
		    argv[first], "identity", print_identity);
	return describe_command(&fl, "/v1/identity/self/", NULL, "identity",
	    print_identity);
}

int
identity_remote_main(int argc, char **argv)
{
	if (strcmp(argv[1], "info") == 0)
		return identity_info(argc - 1, argv + 1);
	return list_command(argc - 1, argv + 1, "identity ls", ls_help,
	    "/v1/identity/list/", "identities", "identities", "Identity");
}
