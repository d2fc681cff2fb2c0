/*
 * The Vault store's JSON (keystore-agent/vault_json.c) against the shapes
 * of spec/keystores-vault-ciphertrust-kmip-pkcs11.md §1.5, §1.6.1, §1.7,
 * §1.9 and §1.11: request bodies byte for byte as Go's encoding/json
 * writes them, paths as Go's path.Join and URL escaping make them, and
 * every parser of Vault's answers (login, KV v1/v2 reads with every 404
 * variant, writes, deletes, lists, health, transit), then truncations and
 * bit flips of each answer, which must give a defined result.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xmalloc.h"
#include "keystore-agent/vault_json.h"

#define S(x)	(const uint8_t *)(x), strlen(x)

static char err[512];

/* --- bodies and paths ---------------------------------------------------- */

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

Test(vault_json, bodies)
{
	struct buf b;

	buf_init(&b, 1024);
	cr_assert_eq(vault_body_approle(&b, "role", "s<e>&t"), 0);
	body_is(&b, "{\"role_id\":\"role\",\"secret_id\":"
	    "\"s\\u003ce\\u003e\\u0026t\"}");
	buf_init(&b, 1024);
	cr_assert_eq(vault_body_kubernetes(&b, "eyJ.x.y", "kes"), 0);
	body_is(&b, "{\"jwt\":\"eyJ.x.y\",\"role\":\"kes\"}");
	buf_init(&b, 1024);
	cr_assert_eq(vault_body_kv(&b, 1, "my-key", "Q2lR+/=="), 0);
	body_is(&b, "{\"my-key\":\"Q2lR+/==\"}");
	buf_init(&b, 1024);
	cr_assert_eq(vault_body_kv(&b, 2, "k", "{\"bytes\":\"AA==\"}"), 0);
	body_is(&b, "{\"data\":{\"k\":\"{\\\"bytes\\\":\\\"AA==\\\"}\"},"
	    "\"options\":{\"cas\":0}}");
	buf_init(&b, 1024);
	cr_assert_eq(vault_body_plaintext(&b, (const uint8_t *)"abc", 3), 0);
	body_is(&b, "{\"plaintext\":\"YWJj\"}");
	buf_init(&b, 1024);
	cr_assert_eq(vault_body_ciphertext(&b, "vault:v1:abc="), 0);
	body_is(&b, "{\"ciphertext\":\"vault:v1:abc=\"}");
	buf_init(&b, 1024);
	cr_assert_eq(vault_body_renew(&b), 0);
	body_is(&b, "{\"increment\":0}");
	/* Too small: failed, not truncated. */
	buf_init(&b, 8);
	cr_assert_neq(vault_body_approle(&b, "role", "secret"), 0);
	cr_assert(b.failed);
	buf_release(&b);
}

Test(vault_json, path_join)
{
	static const struct {
		const char *a, *b, *c, *want;
	} t[] = {
		{ "kv", "", "k", "kv/k" },
		{ "kv", "pre", "k", "kv/pre/k" },
		{ "kv", "pre/", "k", "kv/pre/k" },
		{ "kv/", "/pre//x/", "k", "kv/pre/x/k" },
		{ "kv", "./a/../b", "k", "kv/b/k" },
		{ "kv", "../..", "k", "../k" },
		{ "..", "a", "", "../a" },
		{ "/kv", "..", "k", "/k" },
		{ "", "", "", "" },
		{ "a", "b/../..", "", "." },
	};
	char	out[64];
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		cr_assert_eq(vault_path_join(out, sizeof(out), t[i].a, t[i].b,
		    t[i].c, (char *)NULL), 0);
		cr_expect_str_eq(out, t[i].want, "join %s %s %s", t[i].a,
		    t[i].b, t[i].c);
	}
	cr_assert_eq(vault_path_join(out, 5, "kv", "k", (char *)NULL), 0);
	cr_assert_eq(vault_path_join(out, 4, "kv", "key", (char *)NULL), -1);
}

Test(vault_json, url)
{
	char out[128];

	cr_assert_eq(vault_url(out, sizeof(out), "kv/data/a-b_c", "version=1"),
	    0);
	cr_assert_str_eq(out, "/v1/kv/data/a-b_c?version=1");
	cr_assert_eq(vault_url(out, sizeof(out), "my kv/x?y#z%", NULL), 0);
	cr_assert_str_eq(out, "/v1/my%20kv/x%3Fy%23z%25");
	cr_assert_eq(vault_url(out, sizeof(out), "a:b@c=d;e,f+g$h&i~j", ""),
	    0);
	cr_assert_str_eq(out, "/v1/a:b@c=d;e,f+g$h&i~j");
	cr_assert_eq(vault_url(out, 8, "kv/long", NULL), -1);
}

/* --- errors and login ---------------------------------------------------- */

Test(vault_json, errors)
{
	vault_errors(403, S("{\"errors\":[\"2 errors occurred:\\n\\t* "
	    "permission denied\\n\\t* invalid token\\n\\n\"]}"), err,
	    sizeof(err));
	cr_assert_str_eq(err, "403: 2 errors occurred: * permission denied "
	    "* invalid token ");
	vault_errors(400, S("{\"errors\":[\"a\",\"b\"]}"), err, sizeof(err));
	cr_assert_str_eq(err, "400: a; b");
	vault_errors(502, S("<html>Bad Gateway</html>"), err, sizeof(err));
	cr_assert_str_eq(err, "502: <html>Bad Gateway</html>");
	vault_errors(404, S("{\"errors\":[]}"), err, sizeof(err));
	cr_assert_str_eq(err, "404");
	cr_assert(vault_errors_has(S("{\"Errors\":[\"x permission denied\"]}"),
	    "permission denied"));
	cr_assert(!vault_errors_has(S("{\"errors\":\"permission denied\"}"),
	    "permission denied"));
}

static const char approle_ok[] = "{\"request_id\":\"r\",\"lease_id\":\"\","
    "\"renewable\":false,\"lease_duration\":0,\"data\":null,"
    "\"wrap_info\":null,\"warnings\":null,\"auth\":{\"client_token\":"
    "\"hvs.CAESI\",\"accessor\":\"a\",\"policies\":[\"default\"],"
    "\"token_policies\":[\"default\"],\"metadata\":{\"role_name\":\"kes\"},"
    "\"lease_duration\":3600,\"renewable\":true,\"entity_id\":\"e\","
    "\"token_type\":\"service\",\"orphan\":true},\"mount_type\":\"\"}";

Test(vault_json, login)
{
	struct vault_login l;

	cr_assert_eq(vault_parse_login(200, S(approle_ok), &l, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(l.token, "hvs.CAESI");
	cr_assert_eq(l.ttl_s, 3600);
	cr_assert(l.renewable);
	freezero_str(l.token);

	/* The SDK's fallbacks: data.id, data.ttl, data.renewable. */
	cr_assert_eq(vault_parse_login(200, S("{\"auth\":null,\"data\":{\"id\":"
	    "\"t2\",\"ttl\":60,\"renewable\":true}}"), &l, err, sizeof(err)),
	    0, "%s", err);
	cr_assert_str_eq(l.token, "t2");
	cr_assert_eq(l.ttl_s, 60);
	cr_assert(l.renewable);
	freezero_str(l.token);

	/* Field names of the SDK's structs match in any case. */
	cr_assert_eq(vault_parse_login(200, S("{\"AUTH\":{\"Client_Token\":"
	    "\"t3\",\"LEASE_DURATION\":0}}"), &l, err, sizeof(err)), 0);
	cr_assert_str_eq(l.token, "t3");
	cr_assert_eq(l.ttl_s, 0);
	cr_assert(!l.renewable);
	freezero_str(l.token);

	cr_assert_eq(vault_parse_login(204, S(""), &l, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "authentication failed: SDK returned no error "
	    "but also no token");
	cr_assert_null(l.token);
	cr_assert_eq(vault_parse_login(200, S("{\"auth\":null}"), &l, err,
	    sizeof(err)), -1);
	cr_assert(strstr(err, "no token") != NULL);
	cr_assert_eq(vault_parse_login(400, S("{\"errors\":[\"invalid role or "
	    "secret ID\"]}"), &l, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "400: invalid role or secret ID");
	/* A token that would split a header, a wrong type, not JSON. */
	cr_assert_eq(vault_parse_login(200, S("{\"auth\":{\"client_token\":"
	    "\"a\\r\\nX-Evil: 1\"}}"), &l, err, sizeof(err)), -1);
	cr_assert_eq(vault_parse_login(200, S("{\"auth\":{\"client_token\":"
	    "7}}"), &l, err, sizeof(err)), -1);
	cr_assert_eq(vault_parse_login(200, S("{\"auth\":{\"client_token\":"
	    "\"t\",\"lease_duration\":1.5}}"), &l, err, sizeof(err)), -1);
	cr_assert_eq(vault_parse_login(200, S("[1]"), &l, err, sizeof(err)),
	    -1);
	cr_assert_eq(vault_parse_login(200, S("{\"auth\":"), &l, err,
	    sizeof(err)), -1);
	cr_assert_eq(vault_parse_login(302, S(""), &l, err, sizeof(err)), -1);
	cr_assert_null(l.token);
}

/* --- KV ------------------------------------------------------------------ */

static enum vault_kv
kv(int ver, bool probe, long status, const char *body, char **value)
{
	uint8_t		*v;
	size_t		 len;
	enum vault_kv	 rc;

	rc = vault_parse_kv(ver, probe, "k", "kv/k", status, S(body), &v,
	    &len, err, sizeof(err));
	if (value != NULL)
		*value = (char *)v;
	else if (v != NULL)
		freezero(v, len + 1);
	if (rc != VAULT_KV_VALUE)
		cr_assert_null(v);
	return rc;
}

static const char v2_deleted[] = "{\"data\":{\"data\":null,\"metadata\":"
    "{\"created_time\":\"2024-01-01T00:00:00Z\",\"custom_metadata\":null,"
    "\"deletion_time\":\"2024-01-02T00:00:00Z\",\"destroyed\":false,"
    "\"version\":1}},\"warnings\":null}";
static const char v2_warning[] = "{\"request_id\":\"r\",\"data\":null,"
    "\"warnings\":[\"Invalid path for a versioned K/V secrets engine. See "
    "the API docs for the appropriate API endpoints to use. If using the "
    "Vault CLI, use 'vault kv get' for this operation.\"]}";

Test(vault_json, kv_probe)
{
	/* Absent: 404 with errors only, an empty 404, a 204. */
	cr_assert_eq(kv(1, true, 404, "{\"errors\":[]}", NULL),
	    VAULT_KV_ABSENT);
	cr_assert_eq(kv(1, true, 404, "", NULL), VAULT_KV_ABSENT);
	cr_assert_eq(kv(2, true, 204, "", NULL), VAULT_KV_ABSENT);
	cr_assert_eq(kv(1, true, 200, "{\"data\":{\"k\":\"v\"}}", NULL),
	    VAULT_KV_EXISTS);
	/* Present with any type counts for v1. */
	cr_assert_eq(kv(1, true, 200, "{\"data\":{\"k\":1}}", NULL),
	    VAULT_KV_EXISTS);
	cr_assert_eq(kv(1, true, 200, "{\"data\":{\"x\":\"v\"}}", NULL),
	    VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: entry exist but failed to read 'kv/k': "
	    "invalid K/V v1 format");
	/* A v1 store on a v2 mount. */
	cr_assert_eq(kv(1, true, 404, v2_warning, NULL), VAULT_KV_FAIL);
	cr_assert(strstr(err, "invalid K/V v1 format") != NULL);
	/* v2: warnings only is absent; soft-deleted is not. */
	cr_assert_eq(kv(2, true, 404, v2_warning, NULL), VAULT_KV_ABSENT);
	cr_assert_eq(kv(2, true, 404, v2_deleted, NULL), VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: entry exists but failed to read "
	    "'kv/k': invalid K/V v2 format: missing 'data' entry");
	cr_assert_eq(kv(2, true, 200, "{\"data\":{\"data\":[]}}", NULL),
	    VAULT_KV_FAIL);
	cr_assert(strstr(err, "invalid 'data' entry") != NULL);
	cr_assert_eq(kv(2, true, 200, "{\"data\":{\"data\":{\"x\":\"v\"}}}",
	    NULL), VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: failed to read 'kv/k': entry exists but "
	    "no secret key is present");
	cr_assert_eq(kv(2, true, 200, "{\"data\":{\"data\":{\"k\":\"v\"},"
	    "\"metadata\":{\"version\":3}}}", NULL), VAULT_KV_EXISTS);
	/* Errors: create's wording. */
	cr_assert_eq(kv(2, true, 403, "{\"errors\":[\"permission denied\"]}",
	    NULL), VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: failed to create 'kv/k': 403: "
	    "permission denied");
	cr_assert_eq(kv(2, true, 200, "not json", NULL), VAULT_KV_FAIL);
	cr_assert_eq(kv(2, true, 404, "{\"errors\":", NULL), VAULT_KV_FAIL);
}

Test(vault_json, kv_get)
{
	char *v;

	cr_assert_eq(kv(1, false, 200, "{\"lease_duration\":2764800,\"data\":"
	    "{\"k\":\"CiQK\\u003d\\u003d\"}}", &v), VAULT_KV_VALUE);
	cr_assert_str_eq(v, "CiQK==");
	free(v);
	cr_assert_eq(kv(2, false, 200, "{\"data\":{\"data\":{\"k\":\"val\"},"
	    "\"metadata\":{\"version\":1}}}", &v), VAULT_KV_VALUE);
	cr_assert_str_eq(v, "val");
	free(v);
	cr_assert_eq(kv(1, false, 404, "{\"errors\":[]}", NULL),
	    VAULT_KV_ABSENT);
	cr_assert_eq(kv(2, false, 404, "{\"errors\":[]}", NULL),
	    VAULT_KV_ABSENT);
	cr_assert_eq(kv(1, false, 204, "", NULL), VAULT_KV_ABSENT);
	cr_assert_eq(kv(1, false, 404, v2_warning, NULL), VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: failed to read 'kv/k': entry exists but "
	    "no secret key is present");
	cr_assert_eq(kv(2, false, 404, v2_deleted, NULL), VAULT_KV_FAIL);
	cr_assert(strstr(err, "no secret key is present") != NULL);
	cr_assert_eq(kv(1, false, 200, "{\"data\":{\"k\":null}}", NULL),
	    VAULT_KV_FAIL);
	cr_assert(strstr(err, "no secret key is present") != NULL);
	cr_assert_eq(kv(1, false, 200, "{\"data\":{\"k\":{}}}", NULL),
	    VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: failed to read 'kv/k': invalid K/V "
	    "format");
	/* A map is matched exactly, the envelope in any case. */
	cr_assert_eq(kv(1, false, 200, "{\"DATA\":{\"K\":\"v\"}}", NULL),
	    VAULT_KV_FAIL);
	cr_assert_eq(kv(2, false, 200, "{\"data\":{\"data\":\"x\"}}", NULL),
	    VAULT_KV_FAIL);
	cr_assert(strstr(err, "error parsing secret") != NULL);
	cr_assert_eq(kv(2, false, 500, "{\"errors\":[\"internal error\"]}",
	    NULL), VAULT_KV_FAIL);
	cr_assert_str_eq(err, "vault: failed to read 'kv/k': 500: internal "
	    "error");
	cr_assert_eq(kv(2, false, 503, "{\"errors\":[\"Vault is sealed\"]}",
	    NULL), VAULT_KV_FAIL);
	cr_assert_eq(kv(2, false, 200, "[]", NULL), VAULT_KV_FAIL);
}

Test(vault_json, write_delete)
{
	cr_assert_eq(vault_parse_write(204, S(""), "kv/k", err, sizeof(err)),
	    0);
	cr_assert_eq(vault_parse_write(200, S("{\"data\":{\"version\":1}}"),
	    "kv/k", err, sizeof(err)), 0);
	/* V2: a lost check-and-set race is "exists". */
	cr_assert_eq(vault_parse_write(400, S("{\"errors\":[\"check-and-set "
	    "parameter did not match the current version\"]}"), "kv/k", err,
	    sizeof(err)), 1);
	cr_assert_eq(vault_parse_write(400, S("{\"errors\":[\"check-and-set "
	    "parameter required for this call\"]}"), "kv/k", err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "vault: failed to create 'kv/k': 400: "
	    "check-and-set parameter required for this call");
	cr_assert_eq(vault_parse_write(202, S(""), "kv/k", err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "vault: failed to read 'kv/k': server responded "
	    "with: 202");
	cr_assert_eq(vault_parse_delete(204, S(""), "k", err, sizeof(err)), 0);
	cr_assert_eq(vault_parse_delete(200, S("{}"), "k", err, sizeof(err)),
	    0);
	cr_assert_eq(vault_parse_delete(404, S("{\"errors\":[\"no handler for "
	    "route\"]}"), "k", err, sizeof(err)), -1);
	cr_assert_str_eq(err, "vault: failed to delete 'k': 404: no handler "
	    "for route");
	cr_assert_eq(vault_parse_delete(403, S("{\"errors\":[\"permission "
	    "denied\"]}"), "k", err, sizeof(err)), -1);
}

/* --- list ---------------------------------------------------------------- */

static char	listed[512];
static int	stop_after = -1;

static int
collect(const char *name, void *arg)
{
	int *n = arg;

	if (stop_after >= 0 && *n >= stop_after)
		return -1;
	strcat(listed, name);
	strcat(listed, ",");
	(*n)++;
	return 0;
}

static int
list(long status, const char *body)
{
	int n = 0;

	listed[0] = '\0';
	return vault_parse_list(status, S(body), "kv/p", collect, &n, err,
	    sizeof(err));
}

Test(vault_json, list)
{
	cr_assert_eq(list(200, "{\"data\":{\"keys\":[\"a\",\"sub/\",\"b\"]}}"),
	    0);
	cr_assert_str_eq(listed, "a,sub/,b,");
	/* V1: the empty folder. */
	cr_assert_eq(list(404, "{\"errors\":[]}"), 0);
	cr_assert_str_eq(listed, "");
	cr_assert_eq(list(404, "{\"errors\":[\"no handler for route "
	    "\\\"kv/p\\\". route entry not found.\"]}"), -1);
	cr_assert(strstr(err, "vault: failed to list 'kv/p': 404: no handler")
	    == err);
	cr_assert_eq(list(404, ""), -1);
	cr_assert_eq(list(204, ""), 0);
	cr_assert_eq(list(200, "{\"data\":{\"keys\":\"a\"}}"), -1);
	cr_assert_str_eq(err, "vault: failed to list 'kv/p': invalid key "
	    "listing format");
	cr_assert_eq(list(200, "{\"data\":null}"), -1);
	/* fmt.Sprint of what is not a string. */
	cr_assert_eq(list(200, "{\"data\":{\"keys\":[1,2.5,true,null,{}]}}"),
	    0);
	cr_assert_str_eq(listed, "1,2.5,true,");
	cr_assert_eq(list(200, "{\"data\":{\"keys\":[\"a\\u0000b\",\"c\"]}}"),
	    0);
	cr_assert_str_eq(listed, "c,");
	stop_after = 1;
	cr_assert_eq(list(200, "{\"data\":{\"keys\":[\"a\",\"b\"]}}"), -1);
	stop_after = -1;
	cr_assert_eq(list(500, "{\"errors\":[\"x\"]}"), -1);
}

/* --- health and transit ------------------------------------------------- */

Test(vault_json, health)
{
	struct vault_health h;

	cr_assert_eq(vault_parse_health(200, S("{\"initialized\":true,"
	    "\"sealed\":false,\"standby\":false,\"performance_standby\":false,"
	    "\"replication_performance_mode\":\"disabled\",\"version\":"
	    "\"1.15.6\",\"cluster_name\":\"c\"}"), &h, err, sizeof(err)), 0);
	cr_assert(h.initialized && !h.sealed && !h.standby);
	cr_assert_eq(vault_parse_health(299, S("{\"initialized\":true,"
	    "\"sealed\":true,\"standby\":true}"), &h, err, sizeof(err)), 0);
	cr_assert(h.sealed && h.standby);
	cr_assert_eq(vault_parse_health(429, S("{\"initialized\":true,"
	    "\"standby\":true}"), &h, err, sizeof(err)), 0);
	cr_assert_eq(vault_parse_health(299, S("{\"initialized\":false}"), &h,
	    err, sizeof(err)), 0);
	cr_assert(!h.initialized);
	cr_assert_eq(vault_parse_health(404, S("{\"errors\":[\"unsupported "
	    "path\"]}"), &h, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "404: unsupported path");
	cr_assert_eq(vault_parse_health(503, S("{\"sealed\":true}"), &h, err,
	    sizeof(err)), -1);
	cr_assert_eq(vault_parse_health(204, S(""), &h, err, sizeof(err)),
	    -1);
	cr_assert_eq(vault_parse_health(200, S("{\"sealed\":\"yes\"}"), &h,
	    err, sizeof(err)), -1);
}

Test(vault_json, transit)
{
	char	*ct;
	uint8_t	*pt;
	size_t	 len;

	cr_assert_eq(vault_parse_encrypt(200, S("{\"data\":{\"ciphertext\":"
	    "\"vault:v1:abcd\",\"key_version\":1}}"), &ct, err, sizeof(err)),
	    0);
	cr_assert_str_eq(ct, "vault:v1:abcd");
	free(ct);
	/* V8: only v1 is written. */
	cr_assert_eq(vault_parse_encrypt(200, S("{\"data\":{\"ciphertext\":"
	    "\"vault:v2:abcd\",\"key_version\":2}}"), &ct, err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "invalid vault response");
	cr_assert_eq(vault_parse_encrypt(200, S("{\"data\":{}}"), &ct, err,
	    sizeof(err)), -1);
	cr_assert_str_eq(err, "no ciphertext in vault response");
	cr_assert_eq(vault_parse_encrypt(200, S("{\"data\":{\"ciphertext\":"
	    "5}}"), &ct, err, sizeof(err)), -1);
	cr_assert_eq(vault_parse_encrypt(400, S("{\"errors\":[\"encryption "
	    "key not found\"]}"), &ct, err, sizeof(err)), -1);
	cr_assert_str_eq(err, "failed to encrypt key: 400: encryption key not "
	    "found");
	cr_assert_eq(vault_parse_encrypt(204, S(""), &ct, err, sizeof(err)),
	    -1);
	cr_assert_str_eq(err, "server responded with: 204");
	cr_assert_null(ct);

	cr_assert_eq(vault_parse_decrypt(200, S("{\"data\":{\"plaintext\":"
	    "\"YWJj\"}}"), &pt, &len, err, sizeof(err)), 0);
	cr_assert_eq(len, 3);
	cr_assert_eq(memcmp(pt, "abc", 3), 0);
	freezero(pt, len);
	cr_assert_eq(vault_parse_decrypt(200, S("{\"data\":{\"plaintext\":"
	    "\"YW!j\"}}"), &pt, &len, err, sizeof(err)), -1);
	cr_assert_null(pt);
	cr_assert_eq(vault_parse_decrypt(200, S("{\"data\":{}}"), &pt, &len,
	    err, sizeof(err)), -1);
	cr_assert_str_eq(err, "no plaintext in vault response");
	cr_assert_eq(vault_parse_decrypt(400, S("{\"errors\":[\"invalid "
	    "ciphertext: no prefix\"]}"), &pt, &len, err, sizeof(err)), -1);

	cr_assert(vault_is_transit(S("vault:v1:abc")));
	cr_assert(vault_is_transit(S("vault:v12:a")));
	cr_assert(!vault_is_transit(S("vault:v:abc")));
	cr_assert(!vault_is_transit(S("vault:vx:abc")));
	cr_assert(!vault_is_transit(S("vault:v1")));
	cr_assert(!vault_is_transit(S("CiQKIA==")));
}

/* --- mutations ---------------------------------------------------------- */

/* Every prefix and every single-bit flip of each answer gives a defined
 * result (the sanitizer build would catch a stray read). */
static void
mutate_one(const uint8_t *p, size_t len)
{
	struct vault_login	 l;
	struct vault_health	 h;
	uint8_t			*v;
	size_t			 vlen;
	char			*ct;
	int			 n = 0;
	long			 st[] = { 200, 404 };
	size_t			 i;

	for (i = 0; i < 2; i++) {
		if (vault_parse_login(st[i], p, len, &l, err, sizeof(err)) ==
		    0)
			freezero_str(l.token);
		if (vault_parse_kv(2, false, "k", "k", st[i], p, len, &v,
		    &vlen, err, sizeof(err)) == VAULT_KV_VALUE)
			freezero(v, vlen + 1);
		(void)vault_parse_kv(1, true, "k", "k", st[i], p, len, &v,
		    &vlen, err, sizeof(err));
		listed[0] = '\0';
		(void)vault_parse_list(st[i], p, len, "k", collect, &n, err,
		    sizeof(err));
		(void)vault_parse_health(st[i], p, len, &h, err, sizeof(err));
		if (vault_parse_encrypt(st[i], p, len, &ct, err, sizeof(err))
		    == 0)
			free(ct);
		if (vault_parse_decrypt(st[i], p, len, &v, &vlen, err,
		    sizeof(err)) == 0)
			freezero(v, vlen);
		vault_errors(st[i], p, len, err, sizeof(err));
	}
}

Test(vault_json, mutations)
{
	const char *samples[] = { approle_ok, v2_deleted, v2_warning,
	    "{\"data\":{\"keys\":[\"a\",\"b/\"]}}",
	    "{\"data\":{\"plaintext\":\"YWJj\",\"ciphertext\":\"vault:v1:x\"}}",
	    "{\"initialized\":true,\"sealed\":false}" };
	uint8_t		*m;
	size_t		 s, i, len;
	unsigned int	 bit;

	for (s = 0; s < sizeof(samples) / sizeof(samples[0]); s++) {
		len = strlen(samples[s]);
		for (i = 0; i <= len; i++) {
			m = xmemdup(samples[s], i);
			mutate_one(m, i);
			free(m);
		}
		for (i = 0; i < len; i++)
			for (bit = 0; bit < 8; bit++) {
				m = xmemdup(samples[s], len);
				m[i] ^= 1u << bit;
				mutate_one(m, len);
				free(m);
			}
	}
}
