/*
 * The CipherTrust store's JSON (keystore-agent/ciphertrust_json.c) against
 * spec/keystores-vault-ciphertrust-kmip-pkcs11.md §2.3-§2.5 and the rows
 * of §5.3 that are a parser's to decide (CT3, CT5-CT8, and CT10's retry
 * policy): request bodies byte for byte as Go's encoding/json writes
 * KES's structs, KES's error-body parsing, every answer's mapping and
 * text, then truncations and bit flips of each answer, which must give a
 * defined result.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "keystore-agent/ciphertrust.h"
#include "keystore-agent/ciphertrust_json.h"

/* A body and the Content-Type a server would give it: JSON when it
 * starts with '{'. (ciphertrust_json, content_type: the type decides.) */
#define S(x)	((x)[0] == '{' ? JSON : "text/plain"), (const uint8_t *)(x), \
		strlen(x)
#define JSON	"application/json; charset=utf-8"
#define NOT_FOUND	"{\"code\":16,\"codeDesc\":\"NCERRResourceNotFound: " \
			"Resource not found\"}"

static char err[512];

static void
body_is(struct buf *b, const char *want)
{
	cr_assert(!b->failed);
	cr_assert_eq(b->len, strlen(want), "%.*s", (int)b->len,
	    (char *)b->data);
	cr_assert_eq(memcmp(b->data, want, b->len), 0, "%.*s", (int)b->len,
	    (char *)b->data);
	buf_release(b);
}

/* §2.3, §2.4 Create: Go's field order, domain sent even when empty,
 * HTML-safe escapes as json.Marshal writes them. */
Test(ciphertrust_json, bodies)
{
	struct buf b;

	buf_init(&b, 1024);
	cr_assert_eq(ct_body_auth(&b, "rt<1>", ""), 0);
	body_is(&b, "{\"grant_type\":\"refresh_token\",\"refresh_token\":"
	    "\"rt\\u003c1\\u003e\",\"domain\":\"\"}");
	buf_init(&b, 1024);
	cr_assert_eq(ct_body_auth(&b, "rt", "dom"), 0);
	body_is(&b, "{\"grant_type\":\"refresh_token\",\"refresh_token\":"
	    "\"rt\",\"domain\":\"dom\"}");
	buf_init(&b, 1024);
	cr_assert_eq(ct_body_create(&b, "k-1", "{\"bytes\":\"a+b=\"}"), 0);
	body_is(&b, "{\"dataType\":\"seed\",\"material\":\"{\\\"bytes\\\":"
	    "\\\"a+b=\\\"}\",\"name\":\"k-1\"}");
	buf_init(&b, 16);
	cr_assert_neq(ct_body_create(&b, "k", "too long for sixteen"), 0);
	cr_assert(b.failed);
	buf_release(&b);
}

Test(ciphertrust_json, status_line)
{
	char l[64];

	ct_status_line(401, l, sizeof(l));
	cr_assert_str_eq(l, "401 Unauthorized");
	ct_status_line(599, l, sizeof(l));
	cr_assert_str_eq(l, "599");
}

/* §2.5 parseServerError: JSON {code, codeDesc}, or text with the HTTP
 * status as the code. */
Test(ciphertrust_json, error_bodies)
{
	struct ct_error e;

	cr_assert_eq(ct_parse_error(404, S(NOT_FOUND), &e, err, sizeof(err)),
	    0);
	cr_assert_eq(e.code, 16);
	cr_assert_str_eq(e.desc, "NCERRResourceNotFound: Resource not found");
	cr_assert_eq(ct_parse_error(403, S("  Forbidden\r\n"), &e, err,
	    sizeof(err)), 0);
	cr_assert_eq(e.code, 403);
	cr_assert_str_eq(e.desc, "Forbidden");
	cr_assert_eq(ct_parse_error(500, S(""), &e, err, sizeof(err)), 0);
	cr_assert_eq(e.code, 500);
	cr_assert_str_eq(e.desc, "");
	cr_assert_eq(ct_parse_error(400, S("{\"code\":\"x\"}"), &e, err,
	    sizeof(err)), -1);
	cr_assert_eq(ct_parse_error(400, S("{\"code\":1,"), &e, err,
	    sizeof(err)), -1);
	/* Case-insensitive as Go's decoder; control bytes cleaned. */
	cr_assert_eq(ct_parse_error(400, S("{\"CODE\":7,\"codedesc\":"
	    "\"a\\nb\"}"), &e, err, sizeof(err)), 0);
	cr_assert_eq(e.code, 7);
	cr_assert_str_eq(e.desc, "a b");
}

/*
 * §2.5: the Content-Type, not the body, says whether an error body is
 * JSON, as in KES: trimmed, a prefix (parameters allowed), exact case.
 */
Test(ciphertrust_json, content_type)
{
	static const char	 body[] = "{\"code\":14,\"codeDesc\":\"x\"}";
	static const char *const json[] = { "application/json",
				    " application/json; charset=utf-8",
				    "application/json-seq" };
	static const char *const text[] = { NULL, "", "text/plain",
				    "Application/JSON", "text/json" };
	struct ct_error		 e;
	size_t			 i;

	for (i = 0; i < sizeof(json) / sizeof(json[0]); i++) {
		cr_assert_eq(ct_parse_error(409, json[i], (const uint8_t *)body,
		    strlen(body), &e, err, sizeof(err)), 0, "%s", json[i]);
		cr_expect_eq(e.code, 14, "%s", json[i]);
		cr_expect_str_eq(e.desc, "x");
	}
	for (i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		cr_assert_eq(ct_parse_error(409, text[i], (const uint8_t *)body,
		    strlen(body), &e, err, sizeof(err)), 0, "%s", text[i]);
		cr_expect_eq(e.code, 409, "%s", text[i] ? text[i] : "NULL");
		cr_expect_str_eq(e.desc, body);
	}
	/* A text body typed JSON does not decode: KES's parse error. */
	cr_assert_eq(ct_parse_create(400, "application/json",
	    (const uint8_t *)"Bad Request", 11, "k", err, sizeof(err)), -1);
	cr_expect(strstr(err, "failed to parse server response") != NULL,
	    "%s", err);
}

/* CT2, CT3: the auth answer and each of KES's refusals. */
Test(ciphertrust_json, auth)
{
	struct ct_token t;

	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"eyJ.a.b\",\"duration\":"
	    "300,\"token_type\":\"Bearer\",\"refresh_token_id\":\"x\"}"), &t,
	    err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(t.jwt, "eyJ.a.b");
	cr_assert_eq(t.duration_s, 300);
	freezero_str(t.jwt);

	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"\",\"duration\":300,"
	    "\"token_type\":\"Bearer\"}"), &t, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "server response does not contain an auth "
	    "token");
	cr_assert_null(t.jwt);
	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"j\",\"duration\":300,"
	    "\"token_type\":\"bearer\"}"), &t, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "unexpected auth token type 'bearer'");
	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"j\",\"duration\":0,"
	    "\"token_type\":\"Bearer\"}"), &t, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "invalid auth token expiry '0'");
	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"j\",\"token_type\":"
	    "\"Bearer\"}"), &t, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "invalid auth token expiry '0'");
	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"j\",\"duration\":-1,"
	    "\"token_type\":\"Bearer\"}"), &t, err, sizeof(err)), -1);
	cr_assert_eq(ct_parse_auth(200, S("<html>"), &t, err, sizeof(err)),
	    -1);
	cr_assert_eq(ct_parse_auth(200, S("{\"jwt\":\"a b\",\"duration\":1,"
	    "\"token_type\":\"Bearer\"}"), &t, err, sizeof(err)), -1,
	    "a jwt with a blank would break the header");
	cr_assert_eq(ct_parse_auth(401, S("{\"code\":6,\"codeDesc\":"
	    "\"NCERRAuthFailed: Invalid refresh token\"}"), &t, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "401 Unauthorized: NCERRAuthFailed: Invalid "
	    "refresh token (6)");
	cr_assert_eq(ct_parse_auth(400, S("bad request\n"), &t, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "400 Bad Request: bad request (400)");
}

/* CT5 */
Test(ciphertrust_json, create)
{
	cr_assert_eq(ct_parse_create(201, S("{\"id\":\"x\"}"), "k", err,
	    sizeof(err)), 0);
	cr_assert_eq(ct_parse_create(409, S("{\"code\":14,\"codeDesc\":"
	    "\"NCERRConflict: x\"}"), "k", err, sizeof(err)), 1);
	cr_assert_eq(ct_parse_create(400, S("{\"code\":15,\"codeDesc\":"
	    "\"NCERRInvalidParamValue: \\\"seed\\\" must be hex\"}"), "k", err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "gemalto: failed to create key 'k': "
	    "\"NCERRInvalidParamValue: \\\"seed\\\" must be hex\" (15)");
	cr_assert_eq(ct_parse_create(500, S("{"), "k", err, sizeof(err)), -1);
	cr_assert(strncmp(err, "gemalto: '500 Internal Server Error': failed "
	    "to parse server response: ", 69) == 0, "%s", err);
	cr_assert_eq(ct_parse_create(200, S(""), "k", err, sizeof(err)), -1,
	    "only 201 is created");
}

/* CT6 */
Test(ciphertrust_json, export)
{
	uint8_t	*v;
	size_t	 n;

	cr_assert_eq(ct_parse_export(200, S("{\"id\":\"i\",\"name\":\"k\","
	    "\"material\":\"abc\",\"dataType\":\"seed\"}"), "k", &v, &n, err,
	    sizeof(err)), CT_VALUE);
	cr_assert_eq(n, 3);
	cr_assert_str_eq((char *)v, "abc");
	freezero(v, n + 1);
	cr_assert_eq(ct_parse_export(200, S("{\"name\":\"k\"}"), "k", &v, &n,
	    err, sizeof(err)), CT_VALUE, "no material: an empty value (KES)");
	cr_assert_eq(n, 0);
	freezero(v, n + 1);
	cr_assert_eq(ct_parse_export(404, S(NOT_FOUND), "k", &v, &n, err,
	    sizeof(err)), CT_ABSENT);
	cr_assert_null(v);
	cr_assert_eq(ct_parse_export(403, S("Forbidden"), "k", &v, &n, err,
	    sizeof(err)), CT_FAIL);
	cr_assert_str_eq(err, "gemalto: failed to access key \"k\": "
	    "\"Forbidden\" (403)");
	cr_assert_null(v);
	cr_assert_eq(ct_parse_export(200, S("{\"material\":7}"), "k", &v, &n,
	    err, sizeof(err)), CT_FAIL);
	cr_assert_eq(ct_parse_export(200, S("[]"), "k", &v, &n, err,
	    sizeof(err)), CT_FAIL);
	cr_assert(strncmp(err, "gemalto: failed to parse server response",
	    40) == 0, "%s", err);
}

/* CT7: 404 is for the caller to tell apart (C1). */
Test(ciphertrust_json, delete)
{
	cr_assert_eq(ct_parse_delete(204, S(""), "k", err, sizeof(err)), 0);
	cr_assert_eq(ct_parse_delete(404, S(NOT_FOUND), "k", err,
	    sizeof(err)), 1);
	cr_assert_eq(ct_parse_delete(403, S("{\"code\":12,\"codeDesc\":"
	    "\"NCERRForbidden: no\"}"), "k", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "gemalto: failed to delete key \"k\": "
	    "NCERRForbidden: no (12)");
	cr_assert_eq(ct_parse_delete(200, S(""), "k", err, sizeof(err)), -1);
}

struct names {
	char	got[1024];
	int	n, stop_at;
};

static int
add(const char *name, void *arg)
{
	struct names *k = arg;

	if (++k->n == k->stop_at)
		return -1;
	strcat(k->got, name);
	strcat(k->got, ",");
	return 0;
}

/* CT8 */
Test(ciphertrust_json, list)
{
	struct ct_page	pg;
	struct names	k = { "", 0, 0 };

	cr_assert_eq(ct_parse_list(200, S("{\"skip\":0,\"limit\":200,"
	    "\"total\":3,\"resources\":[{\"name\":\"a\",\"id\":\"1\"},"
	    "{\"name\":\"b\"},{\"id\":\"no name\"}]}"), 0, add, &k, &pg, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(k.got, "a,b,");
	cr_assert_eq(pg.n, 3);
	cr_assert_eq(pg.total, 3);
	cr_assert_eq(pg.skip, 0);
	cr_assert_eq(ct_parse_list(200, S("{\"skip\":0,\"total\":0,"
	    "\"resources\":[]}"), 0, add, &k, &pg, err, sizeof(err)), 0);
	cr_assert_eq(pg.n, 0);
	cr_assert_eq(ct_parse_list(200, S("{\"skip\":1,\"total\":5,"
	    "\"resources\":[]}"), 200, add, &k, &pg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "gemalto: failed to list keys: pagination is "
	    "out-of-sync: tried to skip 200 but skipped 1");
	cr_assert_eq(ct_parse_list(500, S("{\"code\":1,\"codeDesc\":\"x\"}"),
	    0, add, &k, &pg, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "gemalto: failed to list keys: 'x' (1)");
	cr_assert_eq(ct_parse_list(200, S("{\"skip\":0,\"total\":1,"
	    "\"resources\":[{\"name\":1}]}"), 0, add, &k, &pg, err,
	    sizeof(err)), -1);
	cr_assert_eq(ct_parse_list(200, S("{\"skip\":-1}"), 0, add, &k, &pg,
	    err, sizeof(err)), -1);
	k.n = 0;
	k.stop_at = 2;
	cr_assert_eq(ct_parse_list(200, S("{\"skip\":0,\"total\":2,"
	    "\"resources\":[{\"name\":\"a\"},{\"name\":\"b\"}]}"), 0, add, &k,
	    &pg, err, sizeof(err)), -1, "the callback stops the listing");
}

/* Every prefix and every one-bit flip of each answer: a defined result,
 * no value behind a failure, and a NUL-terminated detail. */
Test(ciphertrust_json, mutations)
{
	static const char *const answers[] = {
		"{\"jwt\":\"eyJ.a.b\",\"duration\":300,\"token_type\":"
		    "\"Bearer\"}",
		"{\"id\":\"i\",\"name\":\"k\",\"material\":\"abc\"}",
		"{\"skip\":0,\"limit\":200,\"total\":2,\"resources\":"
		    "[{\"name\":\"a\"},{\"name\":\"b\"}]}",
		NOT_FOUND,
	};
	static const long st[] = { 200, 201, 204, 401, 404, 409, 500 };
	struct ct_token	 t;
	struct ct_page	 pg;
	struct names	 k;
	uint8_t		 m[256], *v;
	size_t		 a, i, bit, len, n, s;
	enum ct_get	 g;

	for (a = 0; a < sizeof(answers) / sizeof(answers[0]); a++) {
		len = strlen(answers[a]);
		for (i = 0; i <= len * 8; i++) {
			memcpy(m, answers[a], len);
			n = len;
			if (i < len)
				n = i;		/* a prefix */
			else if ((bit = i - len) < len * 8 - len)
				m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
			s = st[i % (sizeof(st) / sizeof(st[0]))];
			memset(&k, 0, sizeof(k));
			if (ct_parse_auth((long)s, JSON, m, n, &t, err,
			    sizeof(err)) == 0) {
				cr_assert_not_null(t.jwt);
				freezero_str(t.jwt);
			} else
				cr_assert_null(t.jwt);
			g = ct_parse_export((long)s, JSON, m, n, "k", &v, &n,
			    err, sizeof(err));
			if (g == CT_VALUE)
				freezero(v, n + 1);
			else
				cr_assert_null(v);
			(void)ct_parse_list((long)s, JSON, m, len, 0, add, &k,
			    &pg, err, sizeof(err));
			cr_assert_lt(strnlen(err, sizeof(err)), sizeof(err));
		}
	}
}

/* CT10, §2.2: which results the store's requests try again. */
Test(ciphertrust_json, retry_policy)
{
	static const struct {
		enum net_fail	fail;
		long		status;
		bool		retry;
	} t[] = {
		{ NET_OK, 500, true }, { NET_OK, 503, true },
		{ NET_OK, 501, true }, { NET_OK, 404, false },
		{ NET_OK, 401, false }, { NET_OK, 429, false },
		{ NET_TIMEOUT, 0, true }, { NET_IO, 0, true },
		{ NET_TLS, 0, true }, { NET_REFUSED, 0, false },
		{ NET_DNS, 0, false }, { NET_TLS_VERIFY, 0, false },
	};
	struct net_resp	r = { 0 };
	size_t		i;

	cr_assert_eq(ct_call_policy.attempts, 3);
	cr_assert_eq(ct_call_policy.wait_min_ms, 200);
	cr_assert_eq(ct_call_policy.wait_max_ms, 1000);
	/* KES waits 0.2-1 s before each retry, not longer each time. */
	cr_assert_eq(ct_call_policy.wait, NET_WAIT_CONSTANT);
	cr_assert_eq(ct_auth_policy.wait, NET_WAIT_CONSTANT);
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		r.fail = t[i].fail;
		r.status = t[i].status;
		cr_expect_eq(ct_call_policy.retry(&r), t[i].retry, "%zu", i);
		cr_expect_eq(ct_auth_policy.retry(&r), t[i].retry, "%zu", i);
	}
}
