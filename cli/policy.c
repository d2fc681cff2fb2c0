/* keyward policy ls|info|show (spec §3.4, §9). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"

static const char policy_help[] =
    "Usage:\n"
    "    keyward policy <command>\n"
    "\n"
    "Commands:\n"
    "    ls                       List policies.\n"
    "    info                     Show a policy's creation time and creator.\n"
    "    show                     Show a policy's allow and deny rules.\n"
    "\n"
    "Policies come from the server's configuration file; they cannot be\n"
    "changed through the API.\n"
    "\n"
    "Examples:\n"
    "    $ keyward policy ls\n"
    "    $ keyward policy show my-app\n";

static const char ls_help[] =
    "Usage:\n"
    "    keyward policy ls [options] [<pattern>]\n"
    "\n"
    "List the policies whose names start with <pattern> (a trailing '*'\n"
    "is allowed; default: all). JSON: an array of names.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward policy ls\n"
    "    $ keyward policy ls 'my-app*'\n";

static const char info_help[] =
    "Usage:\n"
    "    keyward policy info [options] <name>\n"
    "\n"
    "Show when a policy was created and by whom. JSON: the server's\n"
    "answer {\"name\",\"created_at\",\"created_by\"}.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward policy info my-app\n";

static const char show_help[] =
    "Usage:\n"
    "    keyward policy show [options] <name>\n"
    "\n"
    "Show a policy's allow and deny rules. JSON: the server's answer\n"
    "{\"name\",\"allow\":{pattern:{}},\"deny\":{...},\"created_at\","
    "\"created_by\"}.\n"
    "\n"
    "Options:\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward policy show my-app\n";

static void
print_rules(const char *title, const json_t *rules)
{
	const char	*pattern;
	json_t		*v;

	if (json_object_size(rules) == 0)
		return;
	printf("%s\n", title);
	json_object_foreach((json_t *)rules, pattern, v)
		printf("  %s\n", pattern);
}

static void
print_policy(const struct client *c, const json_t *j, const char *name,
    bool rules)
{
	char date[64];

	format_time(json_string_value(json_object_get(j, "created_at")), date,
	    sizeof(date));
	if (rules) {
		print_rules("Allow:", json_object_get(j, "allow"));
		print_rules("Deny:", json_object_get(j, "deny"));
		printf("\n");
	}
	printf("%-11s %s\n", "Name", json_string_value(json_object_get(j,
	    "name")) ?: name);
	printf("%-11s %s\n", "Date", date);
	printf("%-11s %s\n", "Owner", json_string_value(json_object_get(j,
	    "created_by")) ?: "");
}

static void
print_info(const struct client *c, const json_t *j, const char *name)
{
	print_policy(c, j, name, false);
}

static void
print_show(const struct client *c, const json_t *j, const char *name)
{
	print_policy(c, j, name, true);
}

/* info and show: one GET of the named policy. */
static int
policy_get(int argc, char **argv, const char *name, const char *help,
    const char *route, bool rules)
{
	struct cli_flags	fl;
	int			rc, first;

	if ((rc = cli_parse(argc, argv, name, help, NULL, &fl, &first)) != -1)
		return rc;
	if (argc - first == 0)
		return cli_usage(name, "no policy name specified");
	if (argc - first > 1)
		return cli_usage(name, "too many arguments");
	return describe_command(&fl, route, argv[first], "policy",
	    rules ? print_show : print_info);
}

int
policy_main(int argc, char **argv)
{
	int rc;

	if ((rc = cli_group(argc, argv, policy_help)) != -1)
		return rc;
	if (strcmp(argv[1], "ls") == 0)
		return list_command(argc - 1, argv + 1, "policy ls", ls_help,
		    "/v1/policy/list/", "names", "policies", "Policy");
	if (strcmp(argv[1], "info") == 0)
		return policy_get(argc - 1, argv + 1, "policy info",
		    info_help, "/v1/policy/describe/", false);
	if (strcmp(argv[1], "show") == 0)
		return policy_get(argc - 1, argv + 1, "policy show",
		    show_help, "/v1/policy/read/", true);
	return cli_usage("policy", "'%s' is not a policy command", argv[1]);
}
