/* Output helpers of the client commands: JSON lines and times. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"

void
print_json(const json_t *j)
{
	char *s;

	/* Go's json.Encoder: compact, one line, "<>&" as in the input. */
	if ((s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY |
	    JSON_PRESERVE_ORDER)) == NULL) {
		cli_warnx("out of memory");
		return;
	}
	printf("%s\n", s);
	free(s);
}

void
print_body(const struct client_resp *r)
{
	size_t n = r->len;

	while (n > 0 && (r->body[n - 1] == '\n' || r->body[n - 1] == '\r'))
		n--;
	/* The server's JSON (which may span lines) as one line. */
	printf("%.*s\n", (int)n, r->body ? r->body : "");
}

void
format_time(const char *t, char *out, size_t len)
{
	/* 2006-01-02T15:04:05[.frac](Z|+hh:mm) */
	if (t != NULL && strlen(t) >= 19 && t[10] == 'T')
		snprintf(out, len, "%.10s %.8s", t, t + 11);
	else
		snprintf(out, len, "%s", t != NULL ? t : "");
}
