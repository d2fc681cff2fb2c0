/*
 * GCP Secret Manager's JSON and settings (keystore-agent/gcp_json.c,
 * gcp_parse.c): the answers of REST v1 (spec §2.4, §2.6), the service-
 * account key file (§2.2), the endpoint rule (§2.5). Shapes as Google's
 * REST reference pages show them.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/config.h"
#include "common/xmalloc.h"
#include "keystore-agent/gcp_json.h"
#include "keystore-agent/gcp_parse.h"

#define U(s)	(const uint8_t *)(s), strlen(s)

Test(gcp_json, base_url)
{
	const struct {
		const char *in, *out;
	} t[] = {
		{ "", "https://secretmanager.googleapis.com" },
		{ "secretmanager.googleapis.com:443",
		  "https://secretmanager.googleapis.com" },
		{ "secretmanager.googleapis.com",
		  "https://secretmanager.googleapis.com" },
		{ "sm.example:8443", "https://sm.example:8443" },
		{ "https://127.0.0.1:9000/", "https://127.0.0.1:9000" },
		{ "https://sm.p.googleapis.com/x",
		  "https://sm.p.googleapis.com/x" },
		{ "http://sm.example", NULL },
		{ "ftp://sm.example", NULL },
		{ "sm.example/path", NULL },
		{ "sm example", NULL },
	};
	size_t	i;
	char	*u;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		u = gcp_base_url(t[i].in);
		if (t[i].out == NULL)
			cr_expect_null(u, "%s -> %s", t[i].in, u);
		else {
			cr_expect_not_null(u, "%s", t[i].in);
			if (u != NULL)
				cr_expect_str_eq(u, t[i].out);
		}
		free(u);
	}
}

Test(gcp_json, errors)
{
	char st[64], msg[256];

	gcp_parse_error(U("{\"error\":{\"code\":409,\"message\":\"Secret "
	    "[projects/1/secrets/a] already exists.\",\"status\":"
	    "\"ALREADY_EXISTS\"}}"), st, sizeof(st), msg, sizeof(msg));
	cr_expect_str_eq(st, "ALREADY_EXISTS");
	cr_expect_str_eq(msg, "Secret [projects/1/secrets/a] already exists.");
	gcp_parse_error(U("<html>502</html>"), st, sizeof(st), msg,
	    sizeof(msg));
	cr_expect_str_eq(st, "");
	cr_expect_str_eq(msg, "");
	gcp_parse_error(U("{\"error\":{\"status\":\"A\\nB\",\"message\":7}}"),
	    st, sizeof(st), msg, sizeof(msg));
	cr_expect_str_eq(st, "A?B");
	cr_expect_str_eq(msg, "");
}

Test(gcp_json, secret)
{
	char *name, err[256];

	cr_assert_eq(gcp_parse_secret(U("{\"name\":\"projects/123456789012/"
	    "secrets/k1\",\"replication\":{\"automatic\":{}},\"createTime\":"
	    "\"2024-01-01T00:00:00Z\",\"etag\":\"\\\"1\\\"\"}"), &name, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(name, "projects/123456789012/secrets/k1");
	free(name);
	cr_expect_eq(gcp_parse_secret(U("{}"), &name, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_secret(U("{\"name\":\"projects/1/secrets/a/"
	    "b\"}"), &name, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_secret(U("{\"name\":\"projects/1/secrets/a?"
	    "x\"}"), &name, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_secret(U("{\"name\":\"projects/../secrets/"
	    "a\"}"), &name, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_secret(U("{\"name\":\"other/1/secrets/a\"}"),
	    &name, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_secret(U("{\"name\":\"projects/1/secrets/\"}"),
	    &name, err, sizeof(err)), -1);
}

Test(gcp_json, access)
{
	uint8_t	*v;
	size_t	 n;
	char	 err[256];

	cr_assert_eq(gcp_parse_access(U("{\"name\":\"projects/1/secrets/a/"
	    "versions/1\",\"payload\":{\"data\":\"aGVsbG8=\",\"dataCrc32c\":"
	    "\"1\"}}"), &v, &n, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(n, 5);
	cr_expect_eq(memcmp(v, "hello", 5), 0);
	freezero(v, n);
	/* proto3 JSON: URL-safe alphabet, padding left out */
	cr_assert_eq(gcp_parse_access(U("{\"payload\":{\"data\":\"-_8\"}}"),
	    &v, &n, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(n, 2);
	cr_expect_eq(v[0], 0xfb);
	cr_expect_eq(v[1], 0xff);
	freezero(v, n);
	cr_expect_eq(gcp_parse_access(U("{\"payload\":{}}"), &v, &n, err,
	    sizeof(err)), -1);
	cr_expect_eq(gcp_parse_access(U("{\"payload\":{\"data\":\"\"}}"), &v,
	    &n, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_access(U("{\"payload\":{\"data\":\"a*b=\"}}"),
	    &v, &n, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_access(U("{\"payload\":{\"data\":5}}"), &v,
	    &n, err, sizeof(err)), -1);
	cr_expect_null(v);
}

static int
collect(const char *id, void *arg)
{
	char *s = arg;

	strcat(s, id);
	strcat(s, ",");
	return strcmp(id, "stop") == 0 ? -1 : 0;
}

Test(gcp_json, list)
{
	char	 ids[256] = "", *next, err[256];
	size_t	 n;

	cr_assert_eq(gcp_parse_list(U("{\"secrets\":[{\"name\":\"projects/1/"
	    "secrets/a\"},{\"name\":\"projects/1/secrets/b-2\"}],"
	    "\"nextPageToken\":\"tok+/=\",\"totalSize\":3}"), collect, ids,
	    &next, &n, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(ids, "a,b-2,");
	cr_expect_eq(n, 2);
	cr_expect_str_eq(next, "tok+/=");
	free(next);
	ids[0] = '\0';
	cr_assert_eq(gcp_parse_list(U("{}"), collect, ids, &next, &n, err,
	    sizeof(err)), 0, "an empty project has no secrets key");
	cr_expect_null(next);
	cr_expect_eq(n, 0);
	cr_assert_eq(gcp_parse_list(U("{\"nextPageToken\":\"\"}"), collect,
	    ids, &next, &n, err, sizeof(err)), 0);
	cr_expect_null(next);
	cr_expect_eq(gcp_parse_list(U("{\"secrets\":{}}"), collect, ids, &next,
	    &n, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_list(U("{\"secrets\":[{\"name\":5}]}"), collect,
	    ids, &next, &n, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_list(U("{\"secrets\":[],\"nextPageToken\":1}"),
	    collect, ids, &next, &n, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_list(U("{\"secrets\":[{\"name\":\"projects/1/"
	    "secrets/stop\"}]}"), collect, ids, &next, &n, err, sizeof(err)),
	    -1);
	cr_expect_eq(gcp_parse_list(U("[]"), collect, ids, &next, &n, err,
	    sizeof(err)), -1);
}

Test(gcp_json, service_account_file)
{
	struct gcp_sa	sa;
	char		err[256];

	cr_assert_eq(gcp_parse_sa_file(U("{\"type\":\"service_account\","
	    "\"project_id\":\"p\",\"private_key_id\":\"k\",\"private_key\":"
	    "\"-----BEGIN PRIVATE KEY-----\\nx\\n\",\"client_email\":\"a@b\","
	    "\"client_id\":\"1\"}"), &sa, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(sa.email, "a@b");
	cr_expect_str_eq(sa.kid, "k");
	cr_expect_str_eq(sa.token_uri, GCP_DEFAULT_TOKEN_URI);
	cr_expect_str_eq(sa.key, "-----BEGIN PRIVATE KEY-----\nx\n");
	gcp_sa_free(&sa);
	cr_assert_eq(gcp_parse_sa_file(U("{\"type\":\"service_account\","
	    "\"private_key\":\"k\",\"client_email\":\"a@b\",\"token_uri\":"
	    "\"https://t.example/token\"}"), &sa, err, sizeof(err)), 0);
	cr_expect_str_eq(sa.token_uri, "https://t.example/token");
	cr_expect_str_eq(sa.kid, "");
	gcp_sa_free(&sa);
	cr_expect_eq(gcp_parse_sa_file(U("{\"type\":\"authorized_user\","
	    "\"refresh_token\":\"r\"}"), &sa, err, sizeof(err)), -1);
	cr_expect(strstr(err, "service-account key files only") != NULL);
	cr_expect_eq(gcp_parse_sa_file(U("{\"type\":\"service_account\","
	    "\"client_email\":\"a@b\"}"), &sa, err, sizeof(err)), -1);
	cr_expect_eq(gcp_parse_sa_file(U("nope"), &sa, err, sizeof(err)), -1);
}

/* --- the section, in the parent (gcp_parse.c) --- */

#define HEAD	"admin:\n  identity: " \
		"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22\n" \
		"tls:\n  key: /k.pem\n  cert: /c.pem\n" \
		"keystore:\n  gcp:\n    secretmanager:\n      project_id: p\n"

static const struct gcp_conf *
gcp_ok(const char *yaml, struct config **c)
{
	char err[CONFIG_ERRLEN] = "";

	cr_assert_eq(config_parse(yaml, strlen(yaml), "t.yml", c, err,
	    sizeof(err)), 0, "%s", err);
	return (*c)->keystore.conf;
}

static void
gcp_err(const char *yaml, const char *want)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";

	cr_assert_eq(config_parse(yaml, strlen(yaml), "t.yml", &c, err,
	    sizeof(err)), -1, "accepted:\n%s", yaml);
	cr_expect(strstr(err, want) != NULL, "'%s' lacks '%s'", err, want);
}

Test(gcp_json, section)
{
	const struct gcp_conf	*g;
	struct config		*c;

	unsetenv("KEYWARD_GCP_TOKEN_URI");
	unsetenv("GOOGLE_APPLICATION_CREDENTIALS");
	unsetenv("SSL_CERT_FILE");
	g = gcp_ok(HEAD "      endpoint: secretmanager.googleapis.com:443\n"
	    "      credentials:\n        client_email: a@b\n"
	    "        client_id: \"1\"\n        private_key_id: k\n"
	    "        private_key: '-----BEGIN PRIVATE KEY-----\\nx\\n'\n", &c);
	cr_expect_str_eq(g->private_key, "-----BEGIN PRIVATE KEY-----\nx\n");
	cr_expect_str_eq(g->base, "https://secretmanager.googleapis.com");
	cr_expect_str_eq(g->scope, GCP_DEFAULT_SCOPE);
	cr_expect_str_eq(g->token_uri, GCP_DEFAULT_TOKEN_URI);
	cr_expect_null(g->ca_file);
	config_free(c);

	setenv("SSL_CERT_FILE", "/tmp/ca.pem", 1);
	g = gcp_ok(HEAD "      scopes:\n        - s1\n        - s2\n", &c);
	cr_expect_str_eq(g->scope, "s1 s2");
	cr_expect_str_eq(g->ca_file, "/tmp/ca.pem");
	config_free(c);
	unsetenv("SSL_CERT_FILE");

	gcp_err(HEAD "      credentials:\n        client_email: a@b\n",
	    "gcp: no client ID provided");
	gcp_err(HEAD "      credentials:\n        client_email: a@b\n"
	    "        client_id: \"1\"\n        private_key: x\n",
	    "gcp: no client private key ID provided");
	gcp_err(HEAD "      endpoint: http://insecure\n",
	    "expected host[:port] or an https:// URL");
	setenv("KEYWARD_GCP_TOKEN_URI", "http://t/token", 1);
	gcp_err(HEAD, "KEYWARD_GCP_TOKEN_URI");
	unsetenv("KEYWARD_GCP_TOKEN_URI");
}
