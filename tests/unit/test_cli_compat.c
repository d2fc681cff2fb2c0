/*
 * keyward's client against KES servers of before 2023-11 (C1 in shared/spec/
 * kes-client-generations.md): listings streamed as NDJSON, as KES 2023-02
 * answered them byte for byte.
 */
#include <stdarg.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "cli/client.h"
#include "cli/commands.h"

static json_t *
names(const char *body, const char *prefix, int want_rc)
{
	json_t	*all = json_array();

	cr_assert_eq(list_ndjson(body, strlen(body), prefix, all), want_rc,
	    "%s", body);
	return all;
}

static void
is(json_t *a, size_t n, ...)
{
	va_list	 ap;
	size_t	 i;

	cr_assert_eq(json_array_size(a), n, "%zu names", json_array_size(a));
	va_start(ap, n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(json_string_value(json_array_get(a, i)),
		    va_arg(ap, const char *));
	va_end(ap);
	json_decref(a);
}

/* KES 2023-02's answers to GET /v1/key/list/ and /v1/identity/list/. */
Test(cli_compat, ndjson_listings)
{
	is(names("{\"name\":\"a\"}\n{\"name\":\"b\"}\n", "", 0), 2, "a", "b");
	is(names("{\"name\":\"only\"}\n", "", 0), 1, "only");
	is(names("{\"name\":\"app-1\"}\n{\"name\":\"db\"}\n{\"name\":"
	    "\"app-2\"}", "app-", 0), 2, "app-1", "app-2");
	is(names("{\"identity\":\"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760"
	    "ae6b578698a97c59fd22\",\"policy\":\"app\",\"created_at\":"
	    "\"2023-02-15T14:54:37Z\"}\r\n", "", 0), 1,
	    "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22");
	is(names("", "", 0), 0);
	is(names("\n\n", "", 0), 0);
}

Test(cli_compat, ndjson_malformed_lines)
{
	json_decref(names("{\"name\":\"a\"}\n{\"name\":", "", -1));
	json_decref(names("{\"names\":[\"a\"]}\n", "", -1));
	json_decref(names("[\"a\"]\n", "", -1));
	json_decref(names("{\"name\":5}\n", "", -1));
}

Test(cli_compat, content_type)
{
	struct client_resp	 r = { 0 };

	strcpy(r.ctype, "application/x-ndjson");
	cr_assert(client_is_ndjson(&r));
	strcpy(r.ctype, "Application/X-NDJSON; charset=utf-8");
	cr_assert(client_is_ndjson(&r));
	strcpy(r.ctype, "application/json");
	cr_assert_not(client_is_ndjson(&r));
	r.ctype[0] = '\0';
	cr_assert_not(client_is_ndjson(&r));
}

/*
 * W6: which releases sent Go nanoseconds (status uptime, audit response
 * time). The cut is the release of 2023-10-24, whose API refactor sent
 * seconds and milliseconds; keyward's own versions are never taken as old.
 */
Test(cli_compat, nanosecond_era)
{
	static const char *const old[] = {
		"2023-02-15T14-54-37Z", "2023-10-03T00-48-37Z", "v0.22.3",
		"0.17.6", "v0.1.0", "2020-01-01T00-00-00Z",
	};
	static const char *const now[] = {
		"2023-10-24T20-26-51Z", "2023-11-09T17-35-47Z",
		"2025-03-12T09-35-18Z", "", "v1.0.0", "6c5c26a",
		"6c5c26a-dirty", "2023-02-15T14-54-37", "2023-02-15 14-54-37Z",
		"v0.", "0.x", "2023-0a-15T14-54-37Z",
	};
	size_t	 i;

	for (i = 0; i < sizeof(old) / sizeof(old[0]); i++)
		cr_assert(client_kes_ns_era(old[i]), "%s", old[i]);
	for (i = 0; i < sizeof(now) / sizeof(now[0]); i++)
		cr_assert_not(client_kes_ns_era(now[i]), "%s", now[i]);
	cr_assert_not(client_kes_ns_era(NULL));
}
