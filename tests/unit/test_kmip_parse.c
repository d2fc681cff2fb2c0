/*
 * keystore.kmip (keystore-agent/kmip_parse.c): every field with its
 * default, each check of spec/keystores-vault-ciphertrust-kmip-pkcs11.md
 * §3.1 with its message, the endpoint syntax, and the settings' trip
 * through the agent's slice.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/config.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/kmip_parse.h"

#define CONF(c)	((const struct kmip_conf *)(c)->keystore.conf)

/* Lines 1-5 admin and tls, 6-7 keystore.kmip; the section from line 8. */
#define AT	"admin:\n  identity: disabled\n" \
		"tls:\n  key: /k.pem\n  cert: /c.pem\n"
#define KMIP	AT "keystore:\n  kmip:\n"
#define EP	"    endpoints: [\"kms1.example.com\", \"[::1]:15696\"]\n"
#define TLS	"    tls:\n      cert: /kw.crt\n      key: /kw.key\n"

static struct config *
parse_ok(const char *yaml)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";

	cr_assert_eq(config_parse(yaml, strlen(yaml), "t.yml", &c, err,
	    sizeof(err)), 0, "unexpected error: %s\n--- config:\n%s", err,
	    yaml);
	cr_assert_eq(c->keystore.store, &ks_backend_kmip);
	return c;
}

/* The error starts with prefix, says what was expected, and holds every
 * further string (NULL-terminated). */
static void
parse_err(const char *yaml, const char *prefix, ...)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN] = "";
	const char	*want;
	va_list		 ap;

	cr_assert_eq(config_parse(yaml, strlen(yaml), "t.yml", &c, err,
	    sizeof(err)), -1, "parsed although '%s' was expected:\n%s",
	    prefix, yaml);
	cr_assert(strncmp(err, prefix, strlen(prefix)) == 0,
	    "error\n  '%s'\ndoes not start with\n  '%s'", err, prefix);
	cr_assert(strstr(err, "; expected ") != NULL, "'%s' does not say "
	    "what was expected", err);
	va_start(ap, prefix);
	while ((want = va_arg(ap, const char *)) != NULL)
		cr_assert(strstr(err, want) != NULL, "error '%s' lacks '%s'",
		    err, want);
	va_end(ap);
}

Test(kmip_parse, defaults)
{
	struct config		*c = parse_ok(KMIP EP TLS);
	const struct kmip_conf	*k = CONF(c);

	cr_assert_eq(k->nendpoints, 2);
	cr_assert_str_eq(k->endpoints[0], "kms1.example.com");
	cr_assert_str_eq(k->endpoints[1], "[::1]:15696");
	cr_assert_eq(k->nversions, 4, "2.0, 1.4, 1.3, 1.2");
	cr_assert(k->versions[0].major == 2 && k->versions[0].minor == 0);
	cr_assert(k->versions[3].major == 1 && k->versions[3].minor == 2);
	cr_assert_str_eq(k->prefix, "");
	cr_assert_str_eq(k->group, "");
	cr_assert_eq(k->usage_mask, 0);
	cr_assert(!k->activate);
	cr_assert_eq(k->settle_ms, 2000);
	cr_assert_eq(k->timeout_ms, 15000);
	cr_assert_str_eq(k->username, "");
	cr_assert_str_eq(k->password, "");
	cr_assert_str_eq(k->cert, "/kw.crt");
	cr_assert_str_eq(k->key, "/kw.key");
	cr_assert_null(k->ca);
	cr_assert_eq(k->tls_min, 12);
	cr_assert_str_eq(k->ciphers, "");
	cr_assert_eq(c->nwarnings, 0);
	config_free(c);
}

Test(kmip_parse, every_field)
{
	struct config		*c;
	const struct kmip_conf	*k;

	setenv("KW_TEST_KMIP_PW", "s3cret", 1);
	c = parse_ok(KMIP EP
	    "    versions: [\"1.4\", \"1.0\"]\n"
	    "    prefix: kes/\n    object_group: kes\n"
	    "    usage_mask: 0x0C\n    activate: true\n"
	    "    create_settle: 1500ms\n    timeout: 5s\n"
	    "    credentials:\n      username: kw\n"
	    "      password: ${KW_TEST_KMIP_PW}\n"
	    TLS "      ca: /ca.pem\n      server_name: kms.example.com\n"
	    "      min_version: \"1.3\"\n"
	    "      ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256, "
	    "ECDHE-RSA-AES256-SHA384]\n");
	k = CONF(c);
	cr_assert_eq(k->nversions, 2);
	cr_assert(k->versions[0].major == 1 && k->versions[0].minor == 4);
	cr_assert(k->versions[1].major == 1 && k->versions[1].minor == 0);
	cr_assert_str_eq(k->prefix, "kes/");
	cr_assert_str_eq(k->group, "kes");
	cr_assert_eq(k->usage_mask, 12);
	cr_assert(k->activate);
	cr_assert_eq(k->settle_ms, 1500);
	cr_assert_eq(k->timeout_ms, 5000);
	cr_assert_str_eq(k->username, "kw");
	cr_assert_str_eq(k->password, "s3cret");
	cr_assert_str_eq(k->ca, "/ca.pem");
	cr_assert_str_eq(k->server_name, "kms.example.com");
	cr_assert_eq(k->tls_min, 13);
	cr_assert_str_eq(k->ciphers,
	    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384");
	config_free(c);
}

Test(kmip_parse, endpoints)
{
	parse_err(KMIP TLS, "t.yml:7: keystore.kmip.endpoints: missing or "
	    "empty; expected a list of KMIP servers", NULL);
	parse_err(KMIP "    endpoints: []\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: missing or empty", NULL);
	parse_err(KMIP "    endpoints: kms:5696\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: is a single value; expected a list",
	    NULL);
	parse_err(KMIP "    endpoints: [\"kms:0\"]\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: 'kms:0' has a port that is "
	    "not 1 to 65535", NULL);
	parse_err(KMIP "    endpoints: [\"kms:x\"]\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: 'kms:x' has a port", NULL);
	parse_err(KMIP "    endpoints: [\"https://kms\"]\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: 'https://kms' has a scheme",
	    NULL);
	parse_err(KMIP "    endpoints: [\"[kms]:5696\"]\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: '[kms]:5696' has brackets",
	    NULL);
	parse_err(KMIP "    endpoints: [\":5696\"]\n" TLS,
	    "t.yml:8: keystore.kmip.endpoints: ':5696' has no host", NULL);
}

Test(kmip_parse, endpoint_split)
{
	char		 host[KMIP_HOST_MAX + 1];
	const char	*why;
	unsigned int	 port;

	cr_assert_eq(kmip_endpoint_split("kms", host, &port, &why), 0);
	cr_assert_str_eq(host, "kms");
	cr_assert_eq(port, 5696);
	cr_assert_eq(kmip_endpoint_split("192.0.2.1:15696", host, &port,
	    &why), 0);
	cr_assert_str_eq(host, "192.0.2.1");
	cr_assert_eq(port, 15696);
	cr_assert_eq(kmip_endpoint_split("2001:db8::1", host, &port, &why),
	    0);
	cr_assert_str_eq(host, "2001:db8::1");
	cr_assert_eq(port, 5696);
	cr_assert_eq(kmip_endpoint_split("[2001:db8::1]:7", host, &port,
	    &why), 0);
	cr_assert_str_eq(host, "2001:db8::1");
	cr_assert_eq(port, 7);
	cr_assert_eq(kmip_endpoint_split("[::1", host, &port, &why), -1);
	cr_assert_eq(kmip_endpoint_split("[::1]x", host, &port, &why), -1);
	cr_assert_eq(kmip_endpoint_split("a b:1", host, &port, &why), -1);
	cr_assert_eq(kmip_endpoint_split("kms:65536", host, &port, &why), -1);
}

Test(kmip_parse, versions)
{
	parse_err(KMIP EP "    versions: [\"2.1\"]\n" TLS,
	    "t.yml:9: keystore.kmip.versions: '2.1' is not a KMIP version "
	    "keyward speaks; expected 2.0, 1.4, 1.3, 1.2, 1.1 or 1.0", NULL);
	parse_err(KMIP EP "    versions: [\"1.4\", \"1.4\"]\n" TLS,
	    "t.yml:9: keystore.kmip.versions: '1.4' is listed twice", NULL);
	parse_err(KMIP EP "    versions: []\n" TLS,
	    "t.yml:9: keystore.kmip.versions: is empty", NULL);
}

Test(kmip_parse, tls_required)
{
	parse_err(KMIP EP, "t.yml:7: keystore.kmip.tls: missing; expected "
	    "tls.cert and tls.key", NULL);
	parse_err(KMIP EP "    tls:\n      key: /kw.key\n",
	    "t.yml:9: keystore.kmip.tls.cert: missing; expected the client "
	    "certificate", NULL);
	parse_err(KMIP EP "    tls:\n      cert: /kw.crt\n",
	    "t.yml:9: keystore.kmip.tls.key: missing; expected the private "
	    "key", NULL);
	parse_err(KMIP EP TLS "      min_version: \"1.1\"\n",
	    "t.yml:12: keystore.kmip.tls.min_version: '1.1' is not a TLS "
	    "version; expected \"1.2\"", NULL);
	parse_err(KMIP EP TLS "      ciphers: [\"A:B\"]\n",
	    "t.yml:12: keystore.kmip.tls.ciphers: 'A:B' is not one cipher "
	    "suite", NULL);
}

Test(kmip_parse, values)
{
	struct config	*c;
	char		 yaml[1024], prefix[200];

	memset(prefix, 'p', 176);
	prefix[176] = '\0';
	snprintf(yaml, sizeof(yaml), KMIP EP "    prefix: %s\n" TLS, prefix);
	parse_err(yaml, "t.yml:9: keystore.kmip.prefix: is 176 bytes; "
	    "expected at most 175", "KMIP Name", NULL);
	prefix[175] = '\0';
	snprintf(yaml, sizeof(yaml), KMIP EP "    prefix: %s\n" TLS, prefix);
	config_free(parse_ok(yaml));

	parse_err(KMIP EP "    usage_mask: -1\n" TLS,
	    "t.yml:9: keystore.kmip.usage_mask: '-1' is not a usage mask",
	    NULL);
	parse_err(KMIP EP "    usage_mask: 4294967296\n" TLS,
	    "t.yml:9: keystore.kmip.usage_mask:", NULL);
	parse_err(KMIP EP "    activate: maybe\n" TLS,
	    "t.yml:9: keystore.kmip.activate: 'maybe' is not a boolean", NULL);
	parse_err(KMIP EP "    create_settle: 6s\n" TLS,
	    "t.yml:9: keystore.kmip.create_settle: is 6000 ms; expected at "
	    "most 5000 ms", NULL);
	parse_err(KMIP EP "    timeout: 0s\n" TLS,
	    "t.yml:9: keystore.kmip.timeout: is 0", NULL);
	parse_err(KMIP EP "    credentials:\n      password: x\n" TLS,
	    "t.yml:9: keystore.kmip.credentials.username: missing; expected "
	    "a user name", NULL);

	c = parse_ok(KMIP EP "    create_settle: 500ms\n" TLS);
	cr_assert_eq(c->nwarnings, 1);
	cr_assert(strstr(c->warnings[0], "create_settle is below 1s") !=
	    NULL, "%s", c->warnings[0]);
	config_free(c);
	parse_err(KMIP EP "    colour: blue\n" TLS,
	    "t.yml:9: keystore.kmip.colour: unknown key", NULL);
}

/* The slice carries everything; the agent reads back what was put, and
 * refuses a truncated or padded copy. */
Test(kmip_parse, settings_round_trip)
{
	struct config		*c;
	struct kmip_conf	 k;
	struct buf		 b, v;
	char			 err[128];
	size_t			 i;

	c = parse_ok(KMIP EP "    versions: [\"1.2\"]\n    prefix: p/\n"
	    "    credentials:\n      username: u\n      password: pw\n" TLS
	    "      ciphers: [X]\n");
	buf_init(&b, 1 << 16);
	cr_assert_eq(kmip_settings_put(&b, c->keystore.conf), 0);
	buf_view(&v, b.data, b.len);
	cr_assert_eq(kmip_settings_get(&v, &k, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_eq(k.nendpoints, 2);
	cr_assert_str_eq(k.endpoints[1], "[::1]:15696");
	cr_assert_eq(k.nversions, 1);
	cr_assert_str_eq(k.prefix, "p/");
	cr_assert_str_eq(k.password, "pw");
	cr_assert_str_eq(k.ca, "");
	cr_assert_str_eq(k.ciphers, "X");
	cr_assert_eq(k.settle_ms, 2000);
	kmip_conf_free(k.endpoints != NULL ?
	    memcpy(malloc(sizeof(k)), &k, sizeof(k)) : NULL);

	for (i = 0; i < b.len; i++) {
		buf_view(&v, b.data, i);
		cr_assert_eq(kmip_settings_get(&v, &k, err, sizeof(err)), -1,
		    "a copy cut at %zu read", i);
	}
	buf_release(&b);
	config_free(c);
}
