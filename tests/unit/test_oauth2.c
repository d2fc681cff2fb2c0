/*
 * The OAuth2 token client's pieces without state (keystore-agent/
 * oauth2.c): the RS256 JWT of a service account (a known answer made
 * with the openssl command line, and checked by python3-jwt, Debian's
 * PyJWT, when it is installed), form encoding, and the token endpoint's
 * answer.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/pem.h>

#include "common/buf.h"
#include "common/xmalloc.h"
#include "keystore-agent/oauth2.h"

/* tests: a throw-away key, made for this test only. The assertion below
 * is base64url(header) "." base64url(claims) "." the signature
 * `openssl dgst -sha256 -sign` made over the first two parts. */
static const char kat_key[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQCt7DFVn2Bs90Ey\n"
	"6fNO04xKwO/uK9Iuyhb3bT0j7dZx4ryu8aWpDi1KuLA+NUWVpldxAc0C8bI4WCRf\n"
	"gZYvhmsTE3UNG5DVVCBzo/YUW3mykIELM8F9ZBBw7tQLqCn5z59rHXUEr3ovInkJ\n"
	"2RvgVhpoe5iH5gMVH/QIsFeCkqwhpBFwF32PT8T2tvzB7DgLa9yf43VomtQ4nOGt\n"
	"efouyzEgV6aTDDzshoZscmBJeZ4/+wootPyret3MzbAtRX79Lq5/NRRAm8GUlvHZ\n"
	"GZn9xnrzBwevm1ToiZcVkUuwFDfHjVOsb0zFpJOAasyT9wIGXOyIpdtndMx32/Az\n"
	"1T3DzOgtAgMBAAECggEAFcxiqo6dMUsUGuODoT+Wd9ASwlEvuLmPg1dnsFcg54k5\n"
	"iNu0namvN4xKWqGmpQkCMKG/Jj1QzwsNFANT5YT9apintQrdbj9rCdNlBkwoxp6h\n"
	"7duAxsyB2wW0AfoDuNGy82PvxLSRpdK2ROu3OLjR+oJzLaVAgadNmMExVqY3eMe4\n"
	"mTtSnL8ROL3jc0ztkA2NnaQmXzuHP7b7AFzZexPL1sHseASvkYAcyb5AIayiyidq\n"
	"ItslR5IxLtTiYt7978yqyW3EOwVCzfbaNutCPyZ5yj5ZD9kd/jkOXtBnXSFCXchz\n"
	"HtqIPdUKjlhpdx0d4EBS5tmxakURFMIjdzJG+U9zQQKBgQDWe3FpBAcZr2v9dqs3\n"
	"AHhs9gsMs1o44qympESOvHotfP3jcdQFaMCOj7/08YEhKO9Z50Cf8ZSnPhjGwmOI\n"
	"CzY60zGkB9eapKdwBxI/svl4re0f/88sZZwRhLr1ITNt84sVcruYvLoWprQ7DY9t\n"
	"gSndylJouNz3IjOQ/4QzSpR4NQKBgQDPltc0BRd9WGZa8rrWYG+82zhWppt5A5cC\n"
	"pTtYn9d/2YZqnojTZxw6QDWyF+5gVH/OGsS0Z+LS2w/hIoit3eFuzpc9VXR/GYWp\n"
	"KM/nFrsHHAULlYzFXF+iXhMLZke3GIyX4aMGvSRR/BcwnNOCZrZrNVzaF8um5vq0\n"
	"zsjmtRvfGQKBgQCIZwMuJUiatix4ipLCrQLpUOSgFCQJz2a7p/aNzCHrcfVJQ6fy\n"
	"NLdZMuSCU2CrBQyLYX2A+rNuVRiOtytzZqX7bTrBtdcRWyu9HFInvpvXes02L4rD\n"
	"Em/Z2E7J/G5nu541ar0RmtzB8QzoDWys2JsWmUgln4Ovi8m9qjKaKBEaDQKBgQCy\n"
	"gu8636oMcwlJ6nO6yCEuUYHIGeuWi/y/HKHFG2cwnTlW1E+rI38FpJPIO4YUtnVV\n"
	"InXHAZLvacvk+VJ52VTzeZpa9vKAHc1v4xWtjkF04qaACLGOQlpHAQj1g5XmIKk+\n"
	"Lp2HvPzPt62lcyb7eyIhXTkkntPVCcnL1Aq1QkbeeQKBgEdqqAUskE9QNkY2CD0B\n"
	"dqpT01Lqzis7if2WaW9427VDikVkkGCBp6NPmo/LT/1HpUICWG9Wtmlqd//xLaMx\n"
	"Mcb8bDq+gtIrdwJ4eRxRY3Fhpj2Tbg++F55kDkS3PZfmyaYPzySeosoYj+6AW7ag\n"
	"/0Ic0avZVeXxe/lr7VFBedFG\n"
	"-----END PRIVATE KEY-----\n";
static const char kat_jwt[] =
	"eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCIsImtpZCI6IjAxMjM0NTY3ODlhYmNk"
	"ZWYifQ.eyJpc3MiOiJrZXNAbXktcHJvamVjdC5pYW0uZ3NlcnZpY2VhY2NvdW50L"
	"mNvbSIsInNjb3BlIjoiaHR0cHM6Ly93d3cuZ29vZ2xlYXBpcy5jb20vYXV0aC9jb"
	"G91ZC1wbGF0Zm9ybSIsImF1ZCI6Imh0dHBzOi8vb2F1dGgyLmdvb2dsZWFwaXMuY"
	"29tL3Rva2VuIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjE3MDAwMDM2MDB9.lfwu"
	"LaN08FR7qpufnHb4lIGza5MQi8PkGuJim_HrpIhXNKZul8Tb5syb8uU3BwB-N3j5"
	"PaKv0r4iw0nZJ6AsCeIKJNEoXNy4cocbqvNsOtNCyRp4vfUaXn7uVeyp1VcDhm67"
	"A1OlDF_H-El-9SzOTV4wj6howQDjE40wwz74ObOxT9E-jnrhZ5S-EJW1G6JBNYrY"
	"aRHm8x_OxE2ywsxGRVTVeJQWMUAVOVZ6zjoAUmGZvh4GJsBtB5esQp6X4sE5Pc04"
	"d2We3TsQQueork_Eb8B36IJGgoHNb5k2WWMBDgolY-HoiaOdVMIV5jqoO2cY9WjW"
	"AoRJNpPno7ctscO0Vw";

#define EMAIL	"kes@my-project.iam.gserviceaccount.com"
#define SCOPE	"https://www.googleapis.com/auth/cloud-platform"
#define AUD	"https://oauth2.googleapis.com/token"

static EVP_PKEY *
kat_pkey(void)
{
	char		 err[256];
	EVP_PKEY	*k = oauth2_load_key(kat_key, err, sizeof(err));

	cr_assert_not_null(k, "%s", err);
	return k;
}

Test(oauth2, jwt_known_answer)
{
	EVP_PKEY	*k = kat_pkey();
	char		*jwt, err[256];

	cr_assert_eq(oauth2_jwt(k, "0123456789abcdef", EMAIL, SCOPE, AUD,
	    1700000000, &jwt, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(jwt, kat_jwt);
	freezero_str(jwt);
	EVP_PKEY_free(k);
}

/* Without kid and scope: the header and claims leave them out. */
Test(oauth2, jwt_optional_fields)
{
	EVP_PKEY	*k = kat_pkey();
	char		*jwt, err[256];

	cr_assert_eq(oauth2_jwt(k, NULL, EMAIL, NULL, AUD, 1700000000, &jwt,
	    err, sizeof(err)), 0, "%s", err);
	/* {"alg":"RS256","typ":"JWT"} and {"iss":... without scope */
	cr_expect_eq(strncmp(jwt, "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.", 37),
	    0, "%.60s", jwt);
	cr_expect(strstr(jwt, "c2NvcGU") == NULL);
	freezero_str(jwt);
	EVP_PKEY_free(k);
}

/* PyJWT verifies the signature and reads the claims of a fresh one. */
Test(oauth2, jwt_checked_by_python_jwt)
{
	const char	*pub = "/tmp/keyward-unit-oauth2-pub.pem";
	EVP_PKEY	*k;
	FILE		*f;
	char		*jwt, err[256], cmd[4096];

	if (system("/usr/bin/python3 -c 'import jwt' 2>/dev/null") != 0)
		cr_skip_test("python3-jwt is not installed (scripts/deps.sh)");
	k = kat_pkey();
	cr_assert_eq(oauth2_jwt(k, "kid-1", EMAIL, SCOPE, AUD,
	    (uint64_t)time(NULL), &jwt, err, sizeof(err)), 0, "%s", err);
	cr_assert_not_null(f = fopen(pub, "w"));
	cr_assert_eq(PEM_write_PUBKEY(f, k), 1);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '"
	    "import jwt, sys\n"
	    "c = jwt.decode(sys.argv[1], open(sys.argv[2]).read(), "
	    "algorithms=[\"RS256\"], audience=\"" AUD "\")\n"
	    "h = jwt.get_unverified_header(sys.argv[1])\n"
	    "assert c[\"iss\"] == \"" EMAIL "\" and c[\"scope\"] == \"" SCOPE
	    "\", c\n"
	    "assert c[\"exp\"] - c[\"iat\"] == 3600, c\n"
	    "assert h == {\"alg\": \"RS256\", \"typ\": \"JWT\", \"kid\": "
	    "\"kid-1\"}, h\n' '%s' '%s'", jwt, pub);
	cr_expect_eq(system(cmd), 0, "PyJWT refused the assertion");
	/* and a changed byte is refused */
	jwt[strlen(jwt) - 2] ^= 1;
	snprintf(cmd, sizeof(cmd), "/usr/bin/python3 -c '"
	    "import jwt, sys\n"
	    "jwt.decode(sys.argv[1], open(sys.argv[2]).read(), "
	    "algorithms=[\"RS256\"], audience=\"" AUD "\")\n' '%s' '%s' "
	    "2>/dev/null", jwt, pub);
	cr_expect_neq(system(cmd), 0, "PyJWT took a broken signature");
	unlink(pub);
	freezero_str(jwt);
	EVP_PKEY_free(k);
}

Test(oauth2, keys_refused)
{
	static const char ec[] =
	    "-----BEGIN PRIVATE KEY-----\n"
	    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgevZzL1gdAFr88hb2\n"
	    "OF/2NxApJCzGCEDdfSp6VQO30hyhRANCAAQRWz+jn65BtOMvdyHKcvjBeBSDZH2r\n"
	    "1RTwjmYSi9R/zpBnuQ4EiMnCqfMPWiZqB4QdbAd0E7oH50VpuZ1P087G\n"
	    "-----END PRIVATE KEY-----\n";
	char err[256];

	cr_expect_null(oauth2_load_key("-----BEGIN PRIVATE KEY-----\n",
	    err, sizeof(err)));
	cr_expect_str_eq(err, "private key: not a PEM private key");
	cr_expect_null(oauth2_load_key(ec, err, sizeof(err)));
	cr_expect_str_eq(err, "private key: not an RSA key (RS256)");
}

Test(oauth2, form)
{
	struct buf b;

	buf_init(&b, 1024);
	cr_assert_eq(oauth2_form_put(&b, "grant_type",
	    "urn:ietf:params:oauth:grant-type:jwt-bearer"), 0);
	cr_assert_eq(oauth2_form_put(&b, "scope",
	    "https://vault.azure.net/.default a+b&c=d~"), 0);
	cr_assert_eq(buf_put(&b, "", 1), 0);
	cr_expect_str_eq((char *)b.data, "grant_type=urn%3Aietf%3Aparams%3A"
	    "oauth%3Agrant-type%3Ajwt-bearer&scope=https%3A%2F%2Fvault.azure."
	    "net%2F.default%20a%2Bb%26c%3Dd~");
	buf_release(&b);
}

static int
parse(long status, const char *body, char **tok, uint64_t *exp, char *err)
{
	return oauth2_parse_token(status, (const uint8_t *)body, strlen(body),
	    tok, exp, err, 256);
}

Test(oauth2, token_answers)
{
	char		*tok, err[256];
	uint64_t	 exp;

	cr_assert_eq(parse(200, "{\"access_token\":\"ya29.a-b_c\","
	    "\"expires_in\":3599,\"token_type\":\"Bearer\"}", &tok, &exp, err),
	    0, "%s", err);
	cr_expect_str_eq(tok, "ya29.a-b_c");
	cr_expect_eq(exp, 3599);
	freezero_str(tok);
	/* Azure v1 and IMDS send expires_in as a string. */
	cr_assert_eq(parse(200, "{\"access_token\":\"eyJ0\",\"expires_in\":"
	    "\"86399\"}", &tok, &exp, err), 0, "%s", err);
	cr_expect_eq(exp, 86399);
	freezero_str(tok);

	cr_expect_eq(parse(400, "{\"error\":\"invalid_grant\","
	    "\"error_description\":\"Invalid JWT Signature.\"}", &tok, &exp,
	    err), -1);
	cr_expect_str_eq(err, "the token endpoint answered 400: "
	    "invalid_grant: Invalid JWT Signature.");
	cr_expect_null(tok);
	cr_expect_eq(parse(503, "<html>", &tok, &exp, err), -1);
	cr_expect_str_eq(err, "the token endpoint answered 503");
	cr_expect_eq(parse(200, "[]", &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"expires_in\":10}", &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"access_token\":\"\",\"expires_in\":10}",
	    &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"access_token\":\"a b\",\"expires_in\":10}",
	    &tok, &exp, err), -1, "a blank would split the header");
	cr_expect_eq(parse(200, "{\"access_token\":\"a\\r\\nX: y\","
	    "\"expires_in\":10}", &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"access_token\":\"a\",\"expires_in\":0}",
	    &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"access_token\":\"a\",\"expires_in\":-5}",
	    &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"access_token\":\"a\",\"expires_in\":"
	    "\"12x\"}", &tok, &exp, err), -1);
	cr_expect_eq(parse(200, "{\"access_token\":\"a\",\"access_token\":"
	    "\"b\",\"expires_in\":5}", &tok, &exp, err), -1, "duplicates");
	/* The error text never carries a token. */
	cr_expect_eq(parse(401, "{\"error\":\"x\",\"access_token\":\"SECRET\"}",
	    &tok, &exp, err), -1);
	cr_expect(strstr(err, "SECRET") == NULL, "%s", err);
}
