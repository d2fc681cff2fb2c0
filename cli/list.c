/*
 * Listings: the paging of the list routes (spec §3.3-3.5) shared by
 * `key ls`, `policy ls`, `identity ls`, and the `ls` command itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "cli/commands.h"
#include "common/xmalloc.h"

static int
cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	    json_string_value(*(json_t *const *)b));
}

static bool
has_prefix(const char *name, const char *prefix)
{
	return strncmp(name, prefix, strlen(prefix)) == 0;
}

/*
 * A listing as KES before 2023-11 streamed it (Content-Type
 * application/x-ndjson): one object per line, {"name":"a"} for keys and
 * policies, {"identity":"…",…} for identities (C1 in
 * kes-client-generations.md). The names that start with prefix go to all;
 * -1 on a line that is not such an object.
 */
int
list_ndjson(const char *body, size_t len, const char *prefix, json_t *all)
{
	const char	*p = body, *end = body + len, *nl, *name;
	json_t		*o;
	size_t		 n;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		n = (size_t)(nl - p);
		while (n > 0 && (p[n - 1] == '\r' || p[n - 1] == ' '))
			n--;
		if (n == 0)
			continue;
		if ((o = json_loadb(p, n, 0, NULL)) == NULL)
			return -1;
		name = json_string_value(json_object_get(o, "name"));
		if (name == NULL)
			name = json_string_value(json_object_get(o,
			    "identity"));
		if (name == NULL) {
			json_decref(o);
			return -1;
		}
		if (has_prefix(name, prefix))
			json_array_append_new(all, json_string(name));
		json_decref(o);
	}
	return 0;
}

/*
 * One request. keyward answers every name in one page; KES stopped at 1024
 * and its clients send continue_at back as the new prefix, which finds
 * only the names that start with it and silently drops the rest (spec
 * 3.3). A page that still has a continue_at is therefore not followed
 * but reported, never printed as if it were the whole list.
 */
int
list_names(struct client *c, const char *route, const char *field,
    const char *pattern, const char *what, json_t **out)
{
	struct client_resp	 r;
	json_t			*all, *j, *names, *v, **vec;
	const char		*next;
	char			*path, *prefix, action[128];
	size_t			 i, n;
	int			 rc;

	/* The filter: the pattern without '*'. */
	prefix = xstrdup(strcmp(pattern, "*") == 0 ? "" : pattern);
	if (*prefix != '\0' && prefix[strlen(prefix) - 1] == '*')
		prefix[strlen(prefix) - 1] = '\0';
	snprintf(action, sizeof(action), "list %s", what);
	all = json_array();
	path = client_path(route, pattern);
	if ((rc = client_call(c, "GET", path, NULL, &r, action,
	    NULL)) != CLI_OK)
		goto fail;
	if (client_is_ndjson(&r)) {
		if (list_ndjson(r.body, r.len, prefix, all) == -1) {
			cli_warnx("%s: the server's listing stream has a line "
			    "that is not a JSON object with a name", action);
			rc = CLI_REFUSED;
			goto fail;
		}
		goto sort;
	}
	if ((j = client_json(&r)) == NULL) {
		rc = CLI_REFUSED;
		goto fail;
	}
	names = json_object_get(j, field);
	json_array_foreach(names, i, v)
		if (json_is_string(v) &&
		    has_prefix(json_string_value(v), prefix))
			json_array_append(all, v);
	next = json_string_value(json_object_get(j, "continue_at"));
	if (next != NULL && *next != '\0') {
		cli_warnx("the server listed %zu %s and says more follow from "
		    "'%s', which its API cannot ask for without losing names; "
		    "list with a longer pattern", json_array_size(all), what,
		    next);
		json_decref(j);
		rc = CLI_REFUSED;
		goto fail;
	}
	json_decref(j);
 sort:
	client_resp_free(&r);
	free(path);
	free(prefix);
	/* Sorted, as kes prints them. */
	n = json_array_size(all);
	vec = xreallocarray(NULL, n + 1, sizeof(*vec));
	for (i = 0; i < n; i++)
		vec[i] = json_incref(json_array_get(all, i));
	qsort(vec, n, sizeof(*vec), cmp_json_str);
	json_array_clear(all);
	for (i = 0; i < n; i++)
		json_array_append_new(all, vec[i]);
	free(vec);
	*out = all;
	return CLI_OK;
fail:
	client_resp_free(&r);
	free(path);
	free(prefix);
	json_decref(all);
	return rc;
}

void
list_print(const json_t *names, const char *header, bool json)
{
	const json_t	*v;
	size_t		 i;

	if (json) {
		print_json(names);
		return;
	}
	if (json_array_size(names) == 0)
		return;
	printf("%s\n", header);
	json_array_foreach(names, i, v)
		printf("%s\n", json_string_value(v));
}

int
list_command(int argc, char **argv, const char *name, const char *help,
    const char *route, const char *field, const char *what,
    const char *header)
{
	struct cli_flags	 fl;
	struct client		*c;
	json_t			*names;
	int			 rc, first;

	if ((rc = cli_parse(argc, argv, name, help, NULL, &fl, &first)) != -1)
		return rc;
	if (argc - first > 1)
		return cli_usage(name, "too many arguments");
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	if ((rc = list_names(c, route, field, argc > first ? argv[first] :
	    "*", what, &names)) == CLI_OK) {
		list_print(names, header, fl.json);
		json_decref(names);
	}
	client_free(c);
	return rc;
}

int
describe_command(const struct cli_flags *fl, const char *route,
    const char *name, const char *kind,
    void (*print)(const struct client *, const json_t *, const char *))
{
	struct client		*c;
	struct client_resp	 r;
	json_t			*j;
	char			*path, action[300], what[300];
	int			 rc;

	if ((rc = client_new(fl, &c)) != CLI_OK)
		return rc;
	/* No name: the caller's own identity (self describe). */
	path = client_path(route, name != NULL ? name : "describe");
	snprintf(action, sizeof(action), "describe %s '%s'", kind,
	    name != NULL ? name : client_identity(c));
	snprintf(what, sizeof(what), "%s '%s'", kind, name != NULL ? name :
	    client_identity(c));
	if ((rc = client_call(c, "GET", path, NULL, &r, action, what)) ==
	    CLI_OK) {
		if ((j = client_json(&r)) == NULL)
			rc = CLI_REFUSED;
		else if (fl->json)
			print_body(&r);
		else
			print(c, j, name != NULL ? name : client_identity(c));
		json_decref(j);
	}
	client_resp_free(&r);
	free(path);
	client_free(c);
	return rc;
}

static const char ls_help[] =
    "Usage:\n"
    "    keyward ls [options] [<prefix>]\n"
    "\n"
    "List keys (the default), identities (-i) or policies (-p) whose\n"
    "names start with <prefix>.\n"
    "\n"
    "Options:\n"
    "    -i, --identity           List identities.\n"
    "    -p, --policy             List policies.\n"
    "    -s, --server <addr>      The server; overrides KES_SERVER.\n"
    "    -a, --api-key <key>      The API key; overrides KES_API_KEY.\n"
    CLI_HELP_COMMON
    "\n"
    CLI_HELP_ENV
    "\n"
    "Examples:\n"
    "    $ keyward ls\n"
    "    $ keyward ls my-app\n"
    "    $ keyward ls -i\n";

struct ls_opts {
	int		 kind;		/* 'k', 'i', 'p' */
	const char	*server;
	const char	*api_key;
};

static int
ls_opt(int ch, const char *arg, void *ctx)
{
	struct ls_opts *o = ctx;

	switch (ch) {
	case 'i':
	case 'p':
		if (o->kind != 'k' && o->kind != ch)
			return cli_usage("ls", "-i and -p exclude each other");
		o->kind = ch;
		return -1;
	case 's':
		o->server = arg;
		return -1;
	case 'a':
		o->api_key = arg;
		return -1;
	}
	return cli_usage("ls", "unknown option");
}

int
ls_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "identity",	no_argument,		NULL,	'i' },
		{ "policy",	no_argument,		NULL,	'p' },
		{ "server",	required_argument,	NULL,	's' },
		{ "api-key",	required_argument,	NULL,	'a' },
		{ NULL,		0,			NULL,	0 }
	};
	struct ls_opts		 o = { 'k', NULL, NULL };
	struct cli_opts		 own = { longopts, "ips:a:", ls_opt, &o };
	struct cli_flags	 fl;
	struct client		*c;
	json_t			*names;
	int			 rc, first;

	if ((rc = cli_parse(argc, argv, "ls", ls_help, &own, &fl, &first)) !=
	    -1)
		return rc;
	if (argc - first > 1)
		return cli_usage("ls", "too many arguments");
	fl.server = o.server;
	fl.api_key = o.api_key;
	if ((rc = client_new(&fl, &c)) != CLI_OK)
		return rc;
	switch (o.kind) {
	case 'i':
		rc = list_names(c, "/v1/identity/list/", "identities",
		    argc > first ? argv[first] : "*", "identities", &names);
		break;
	case 'p':
		rc = list_names(c, "/v1/policy/list/", "names",
		    argc > first ? argv[first] : "*", "policies", &names);
		break;
	default:
		rc = list_names(c, "/v1/key/list/", "names",
		    argc > first ? argv[first] : "*", "keys", &names);
		break;
	}
	if (rc == CLI_OK) {
		list_print(names, o.kind == 'i' ? "Identity" :
		    o.kind == 'p' ? "Policy" : "Key", fl.json);
		json_decref(names);
	}
	client_free(c);
	return rc;
}
