/*
 * Unit tests for keystore-agent/aws_json.c: the request bodies byte for
 * byte as aws-sdk-go v1 writes them (spec §1.5), ClientRequestToken's
 * form, and the parsers of Secrets Manager's answers and of temporary
 * credentials, with their failures.
 */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "keystore-agent/aws_json.h"

#define P(s)	(const uint8_t *)(s), strlen(s)

static char *
body(struct buf *b)
{
	cr_assert_eq(buf_put_u8(b, 0), 0);
	return (char *)b->data;
}

Test(aws_json, bodies)
{
	struct buf b;

	buf_init(&b, 4096);
	cr_assert_eq(aws_body_create(&b, "6F2A1B3C-0D4E-4F5A-8B6C-7D8E9F0A1B2C",
	    "", "my-key", P("{\"bytes\":\"AA==\"}")), 0);
	cr_expect_str_eq(body(&b), "{\"ClientRequestToken\":"
	    "\"6F2A1B3C-0D4E-4F5A-8B6C-7D8E9F0A1B2C\",\"Name\":\"my-key\","
	    "\"SecretString\":\"{\\\"bytes\\\":\\\"AA==\\\"}\"}");
	buf_reset(&b);
	cr_assert_eq(aws_body_create(&b, "T", "alias/kw", "k", P("v")), 0);
	cr_expect_str_eq(body(&b), "{\"ClientRequestToken\":\"T\",\"KmsKeyId\":"
	    "\"alias/kw\",\"Name\":\"k\",\"SecretString\":\"v\"}");
	buf_reset(&b);
	cr_assert_eq(aws_body_secret_id(&b, "my-key"), 0);
	cr_expect_str_eq(body(&b), "{\"SecretId\":\"my-key\"}");
	buf_reset(&b);
	cr_assert_eq(aws_body_delete(&b, "my-key"), 0);
	cr_expect_str_eq(body(&b), "{\"ForceDeleteWithoutRecovery\":true,"
	    "\"SecretId\":\"my-key\"}");
	buf_reset(&b);
	cr_assert_eq(aws_body_list(&b, NULL), 0);
	cr_expect_str_eq(body(&b), "{}");
	buf_reset(&b);
	cr_assert_eq(aws_body_list(&b, "abc=="), 0);
	cr_expect_str_eq(body(&b), "{\"NextToken\":\"abc==\"}");
	buf_release(&b);
}

Test(aws_json, uuid)
{
	char u[AWS_UUID_LEN + 1], v[AWS_UUID_LEN + 1];

	aws_uuid(u);
	aws_uuid(v);
	cr_expect_str_neq(u, v);
	cr_expect_eq(strlen(u), 36);
	cr_expect_eq(strspn(u, "0123456789ABCDEF-"), 36, "%s", u);
	cr_expect(u[8] == '-' && u[13] == '-' && u[18] == '-' &&
	    u[23] == '-', "%s", u);
	cr_expect_eq(u[14], '4', "%s", u);
	cr_expect(strchr("89AB", u[19]) != NULL, "%s", u);
}

Test(aws_json, errors)
{
	char c[AWS_CODE_MAX], m[AWS_MSG_MAX];

	aws_parse_error(P("{\"__type\":\"ResourceNotFoundException\","
	    "\"message\":\"not here\"}"), c, sizeof(c), m, sizeof(m));
	cr_expect_str_eq(c, "ResourceNotFoundException");
	cr_expect_str_eq(m, "not here");
	aws_parse_error(P("{\"__type\":\"com.amazonaws.secretsmanager#"
	    "ThrottlingException\",\"Message\":\"Rate\\nexceeded\"}"), c,
	    sizeof(c), m, sizeof(m));
	cr_expect_str_eq(c, "ThrottlingException");
	cr_expect_str_eq(m, "Rate?exceeded");
	aws_parse_error(P("<html>Bad Gateway</html>"), c, sizeof(c), m,
	    sizeof(m));
	cr_expect_str_eq(c, "");
	cr_expect_str_eq(m, "");
}

Test(aws_json, get)
{
	uint8_t	*v;
	size_t	 n;
	char	 why[128];

	cr_assert_eq(aws_parse_get(P("{\"ARN\":\"a\",\"CreatedDate\":1.5e9,"
	    "\"SecretString\":\"AAEC\",\"VersionStages\":[\"AWSCURRENT\"]}"),
	    &v, &n, why, sizeof(why)), 0);
	cr_expect_eq(n, 4);
	cr_expect_str_eq((char *)v, "AAEC");
	freezero(v, n + 1);
	cr_assert_eq(aws_parse_get(P("{\"SecretBinary\":\"aGk=\"}"), &v, &n,
	    why, sizeof(why)), 0);
	cr_expect_eq(n, 2);
	cr_expect_eq(memcmp(v, "hi", 2), 0);
	freezero(v, n + 1);
	cr_expect_eq(aws_parse_get(P("{\"SecretBinary\":\"!!\"}"), &v, &n, why,
	    sizeof(why)), -1);
	cr_expect_null(v);
	cr_expect_eq(aws_parse_get(P("{\"Name\":\"x\"}"), &v, &n, why,
	    sizeof(why)), -1);
	cr_expect_eq(aws_parse_get(P("{\"SecretString\":\"\"}"), &v, &n, why,
	    sizeof(why)), -1);
	cr_expect_eq(aws_parse_get(P("[1]"), &v, &n, why, sizeof(why)), -1);
	cr_expect_eq(aws_parse_get(P("{\"SecretString\":\"a\"} x"), &v, &n,
	    why, sizeof(why)), -1);
}

static int
collect(const char *name, void *arg)
{
	char *out = arg;

	strcat(out, name);
	strcat(out, ",");
	return 0;
}

Test(aws_json, list)
{
	char	 names[256] = "", why[128], *next;

	cr_assert_eq(aws_parse_list(P("{\"SecretList\":[{\"Name\":\"a\"},"
	    "{\"ARN\":\"x\"},{\"Name\":\"b\"}],\"NextToken\":\"t1\"}"), collect,
	    names, &next, why, sizeof(why)), 0);
	cr_expect_str_eq(names, "a,b,");
	cr_expect_str_eq(next, "t1");
	free(next);
	cr_assert_eq(aws_parse_list(P("{\"SecretList\":[]}"), collect, names,
	    &next, why, sizeof(why)), 0);
	cr_expect_null(next);
	cr_expect_eq(aws_parse_list(P("{\"SecretList\":{}}"), collect, names,
	    &next, why, sizeof(why)), -1);
	cr_expect_eq(aws_parse_list(P("{\"SecretList\":[1]}"), collect, names,
	    &next, why, sizeof(why)), -1);
	cr_expect_eq(aws_parse_list(P("{\"NextToken\":7}"), collect, names,
	    &next, why, sizeof(why)), -1);
}

Test(aws_json, creds)
{
	struct aws_cred_doc	d;
	char			why[128];

	cr_assert_eq(aws_parse_creds(P("{\"Code\":\"Success\",\"AccessKeyId\":"
	    "\"ASIA1\",\"SecretAccessKey\":\"s/+\",\"Token\":\"t\","
	    "\"Expiration\":\"2026-12-06T19:00:00Z\"}"), &d, why,
	    sizeof(why)), 0);
	cr_expect_str_eq(d.akid, "ASIA1");
	cr_expect_str_eq(d.secret, "s/+");
	cr_expect_str_eq(d.token, "t");
	cr_expect_eq(d.expires, 1796583600);
	aws_cred_doc_free(&d);
	cr_expect_eq(aws_parse_creds(P("{\"Code\":\"Failure\",\"AccessKeyId\":"
	    "\"A\",\"SecretAccessKey\":\"s\"}"), &d, why, sizeof(why)), -1);
	cr_expect_null(d.akid);
	cr_expect_eq(aws_parse_creds(P("{\"AccessKeyId\":\"A B\","
	    "\"SecretAccessKey\":\"s\"}"), &d, why, sizeof(why)), -1);
	cr_expect_eq(aws_parse_creds(P("{\"AccessKeyId\":\"A\"}"), &d, why,
	    sizeof(why)), -1);
	cr_expect_eq(aws_parse_creds(P("{\"AccessKeyId\":\"A\","
	    "\"SecretAccessKey\":\"s\",\"Expiration\":\"soon\"}"), &d, why,
	    sizeof(why)), -1);
	cr_expect_null(d.secret);
}
