/*
 * Azure Key Vault's JSON and section (keystore-agent/azure_json.c,
 * azure_parse.c): error bodies, secret bundles and the usability check,
 * the versions page (oldest wins), the secrets page (spec §3.3, §3.4),
 * and the choice of authentication (§3.2). Shapes as Microsoft's REST
 * reference pages show them.
 */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/config.h"
#include "common/xmalloc.h"
#include "keystore-agent/azure_json.h"
#include "keystore-agent/azure_parse.h"

#define U(s)	(const uint8_t *)(s), strlen(s)

Test(azure_json, errors)
{
	char code[64], inner[64], msg[256];

	az_parse_error(U("{\"error\":{\"code\":\"Conflict\",\"message\":\"Secret "
	    "x is currently being deleted.\",\"innererror\":{\"code\":"
	    "\"ObjectIsBeingDeleted\"}}}"), code, sizeof(code), inner,
	    sizeof(inner), msg, sizeof(msg));
	cr_expect_str_eq(code, "Conflict");
	cr_expect_str_eq(inner, "ObjectIsBeingDeleted");
	cr_expect_str_eq(msg, "Secret x is currently being deleted.");
	az_parse_error(U("{\"error\":{\"code\":\"SecretNotFound\"}}"), code,
	    sizeof(code), inner, sizeof(inner), msg, sizeof(msg));
	cr_expect_str_eq(code, "SecretNotFound");
	cr_expect_str_eq(inner, "");
	az_parse_error(U("not json"), code, sizeof(code), inner, sizeof(inner),
	    msg, sizeof(msg));
	cr_expect_str_eq(code, "");
}

Test(azure_json, bundle_and_usability)
{
	char	*v, why[128];
	size_t	 n;

	cr_assert_eq(az_parse_bundle(U("{\"value\":\"CiQ=\",\"id\":\"https://"
	    "v.vault.azure.net/secrets/a/0123\",\"attributes\":{\"enabled\":"
	    "true,\"created\":1700000000,\"updated\":1700000000,"
	    "\"recoveryLevel\":\"Recoverable+Purgeable\"}}"), 1800000000, &v,
	    &n, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(v, "CiQ=");
	cr_expect_eq(n, 4);
	freezero(v, n + 1);
	/* enabled missing is enabled (KES@HEAD: only an explicit false) */
	cr_assert_eq(az_parse_bundle(U("{\"value\":\"x\"}"), 0, &v, &n, why,
	    sizeof(why)), 0);
	freezero(v, n + 1);
	cr_expect_eq(az_parse_bundle(U("{\"value\":\"x\",\"attributes\":"
	    "{\"enabled\":false}}"), 0, &v, &n, why, sizeof(why)), 1);
	cr_expect_str_eq(why, "ObjectIsDisabled");
	cr_expect_eq(az_parse_bundle(U("{\"value\":\"x\",\"attributes\":"
	    "{\"nbf\":200}}"), 100, &v, &n, why, sizeof(why)), 1);
	cr_expect_str_eq(why, "ObjectMustNotBeUsed");
	cr_expect_eq(az_parse_bundle(U("{\"value\":\"x\",\"attributes\":"
	    "{\"exp\":50}}"), 100, &v, &n, why, sizeof(why)), 1);
	cr_expect_str_eq(why, "ObjectIsExpired");
	cr_expect_eq(az_parse_bundle(U("{\"value\":\"x\",\"attributes\":"
	    "{\"exp\":150,\"nbf\":50}}"), 100, &v, &n, why, sizeof(why)), 0);
	freezero(v, n + 1);
	/* Reals past int64_t: the far future, the far past. */
	cr_expect_eq(az_parse_bundle(U("{\"value\":\"x\",\"attributes\":"
	    "{\"exp\":8.9e45}}"), 100, &v, &n, why, sizeof(why)), 0);
	freezero(v, n + 1);
	cr_expect_eq(az_parse_bundle(U("{\"value\":\"x\",\"attributes\":"
	    "{\"exp\":-8.9e45}}"), 100, &v, &n, why, sizeof(why)), 1);
	cr_expect_str_eq(why, "ObjectIsExpired");
	cr_expect_eq(az_parse_bundle(U("{\"id\":\"x\"}"), 0, &v, &n, why,
	    sizeof(why)), -1);
	cr_expect_eq(az_parse_bundle(U("{\"value\":1}"), 0, &v, &n, why,
	    sizeof(why)), -1);
	cr_expect_null(v);
}

Test(azure_json, versions_oldest_wins)
{
	char	*ver, why[128];
	bool	 more;

	cr_assert_eq(az_parse_versions(U("{\"value\":["
	    "{\"id\":\"https://v/secrets/a/new\",\"attributes\":{\"created\":20}},"
	    "{\"id\":\"https://v/secrets/a/old\",\"attributes\":{\"created\":10}},"
	    "{\"id\":\"https://v/secrets/a/tie\",\"attributes\":{\"created\":10}},"
	    "{\"id\":\"https://v/secrets/a/none\",\"attributes\":{}},"
	    "{\"attributes\":{\"created\":1}}],\"nextLink\":null}"), &ver, &more,
	    why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(ver, "old");
	cr_expect(!more);
	free(ver);
	cr_assert_eq(az_parse_versions(U("{\"value\":[],\"nextLink\":"
	    "\"https://v/secrets/a/versions?$skiptoken=x\"}"), &ver, &more, why,
	    sizeof(why)), 0);
	cr_expect_null(ver);
	cr_expect(more);
	cr_assert_eq(az_parse_versions(U("{\"value\":[{\"id\":\"https://v/"
	    "secrets/a/x?y\",\"attributes\":{\"created\":1}}]}"), &ver, &more,
	    why, sizeof(why)), 0);
	cr_expect_null(ver, "a version that would change the path");
	cr_expect_eq(az_parse_versions(U("{\"value\":{}}"), &ver, &more, why,
	    sizeof(why)), -1);
	cr_expect_eq(az_parse_versions(U("{\"value\":[],\"nextLink\":5}"), &ver,
	    &more, why, sizeof(why)), -1);
}

static int
collect(const char *id, void *arg)
{
	strcat(arg, id);
	strcat(arg, ",");
	return 0;
}

Test(azure_json, list)
{
	char	 ids[256] = "", *next, why[128];

	cr_assert_eq(az_parse_list(U("{\"value\":[{\"id\":\"https://v/secrets/"
	    "a\",\"attributes\":{}},{\"id\":\"https://v/secrets/b-1\"}],"
	    "\"nextLink\":\"https://v/secrets?api-version=7.5&$skiptoken=Mg\"}"),
	    collect, ids, &next, why, sizeof(why)), 0, "%s", why);
	cr_expect_str_eq(ids, "a,b-1,");
	cr_expect_str_eq(next, "https://v/secrets?api-version=7.5&$skiptoken=Mg");
	free(next);
	cr_assert_eq(az_parse_list(U("{\"value\":[],\"nextLink\":null}"),
	    collect, ids, &next, why, sizeof(why)), 0);
	cr_expect_null(next);
	cr_expect_eq(az_parse_list(U("{\"value\":[{\"id\":\"x\"}]}"), collect,
	    ids, &next, why, sizeof(why)), -1);
	cr_expect_eq(az_parse_list(U("[]"), collect, ids, &next, why,
	    sizeof(why)), -1);
}

#define HEAD	"admin:\n  identity: " \
		"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22\n" \
		"tls:\n  key: /k.pem\n  cert: /c.pem\n" \
		"keystore:\n  azure:\n    keyvault:\n" \
		"      endpoint: https://kw.vault.azure.net/\n"

#define HTTP_ENDPOINT	"admin:\n  identity: " \
		"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22\n" \
		"tls:\n  key: /k.pem\n  cert: /c.pem\n" \
		"keystore:\n  azure:\n    keyvault:\n" \
		"      endpoint: http://kw.vault.azure.net\n"

static const struct azure_conf *
az_ok(const char *yaml, struct config **c)
{
	char err[CONFIG_ERRLEN] = "";

	cr_assert_eq(config_parse(yaml, strlen(yaml), "t.yml", c, err,
	    sizeof(err)), 0, "%s", err);
	return (*c)->keystore.conf;
}

Test(azure_json, section_and_default_chain)
{
	const struct azure_conf	*a;
	struct config		*c;
	char			 err[CONFIG_ERRLEN];

	unsetenv("AZURE_TENANT_ID");
	unsetenv("AZURE_CLIENT_ID");
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_AUTHORITY_HOST");
	a = az_ok(HEAD "      credentials:\n        tenant_id: t\n"
	    "        client_id: c\n        client_secret: s\n", &c);
	cr_expect_str_eq(a->method, "secret");
	cr_expect_str_eq(a->endpoint, "https://kw.vault.azure.net");
	cr_expect_str_eq(a->authority, AZ_DEFAULT_AUTHORITY);
	cr_expect_str_eq(a->imds, AZ_DEFAULT_IMDS);
	config_free(c);
	a = az_ok(HEAD "      managed_identity:\n        client_id: mi\n", &c);
	cr_expect_str_eq(a->method, "imds");
	config_free(c);
	/* Neither block: the environment's secret, else IMDS. */
	a = az_ok(HEAD, &c);
	cr_expect_str_eq(a->method, "imds");
	cr_expect_null(a->managed_client_id);
	config_free(c);
	setenv("AZURE_CLIENT_ID", "env-client", 1);
	a = az_ok(HEAD, &c);
	cr_expect_str_eq(a->method, "imds");
	cr_expect_str_eq(a->managed_client_id, "env-client");
	config_free(c);
	setenv("AZURE_TENANT_ID", "env-tenant", 1);
	setenv("AZURE_CLIENT_SECRET", "env-secret", 1);
	setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us/", 1);
	a = az_ok(HEAD, &c);
	cr_expect_str_eq(a->method, "secret");
	cr_expect_str_eq(a->tenant_id, "env-tenant");
	cr_expect_str_eq(a->authority, "https://login.microsoftonline.us");
	config_free(c);
	unsetenv("AZURE_TENANT_ID");
	unsetenv("AZURE_CLIENT_ID");
	unsetenv("AZURE_CLIENT_SECRET");
	unsetenv("AZURE_AUTHORITY_HOST");
	c = NULL;
	cr_expect_eq(config_parse(HTTP_ENDPOINT, strlen(HTTP_ENDPOINT), "t.yml",
	    &c, err, sizeof(err)), -1, "an http:// vault");
	cr_expect(strstr(err, "expected an https:// Key Vault URL") != NULL,
	    "%s", err);
}
