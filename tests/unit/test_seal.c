/*
 * The seal's parts that need no token: the kwseal:v1: format (round trip,
 * mutations, KES's value rules refusing a sealed value), the
 * keystore.seal.pkcs11 section and its slice encoding, and the seal
 * helper's filter (an allowed call works, a forbidden one is SIGSYS).
 */
#include <sys/socket.h>

#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/config.h"
#include "common/kes_key.h"
#include "common/msg.h"
#include "common/sandbox.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_fmt.h"
#include "keystore-agent/seal_helper.h"

static const uint8_t iv[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };

/* A sealed string around a fake 20-byte ciphertext. */
static void
make_sealed(struct buf *out, const char *kid)
{
	struct buf	hdr;
	uint8_t		ct[20];

	memset(ct, 0xab, sizeof(ct));
	buf_init(&hdr, 256);
	cr_assert_eq(seal_env_header(&hdr, kid, iv, sizeof(iv)), 0);
	buf_init(out, 4096);
	cr_assert_eq(seal_encode(out, hdr.data, hdr.len, ct, sizeof(ct)), 0);
	buf_release(&hdr);
}

Test(seal_fmt, round_trip)
{
	struct buf	s, raw, aad;
	struct seal_env	env;
	const char	*why;

	make_sealed(&s, "kw-seal");
	cr_assert_eq(seal_kind(s.data, s.len), SEAL_V1);
	buf_init(&raw, 4096);
	cr_assert_eq(seal_env_decode(s.data, s.len, &raw, &env, &why), 0);
	cr_assert_str_eq(env.kid, "kw-seal");
	cr_assert_eq(env.ivlen, 12);
	cr_assert_eq(memcmp(env.iv, iv, 12), 0);
	cr_assert_eq(env.ctlen, 20);
	cr_assert_eq(env.hdrlen, 3 + 7 + 12);
	/* The AAD binds the prefix, the header and the key name. */
	buf_init(&aad, 512);
	cr_assert_eq(seal_aad(&aad, env.hdr, env.hdrlen, "my-key"), 0);
	cr_assert_eq(aad.len, 10 + env.hdrlen + 6);
	cr_assert_eq(memcmp(aad.data, "kwseal:v1:", 10), 0);
	cr_assert_eq(memcmp(aad.data + aad.len - 6, "my-key", 6), 0);
	buf_release(&s);
	buf_release(&raw);
	buf_release(&aad);
}

Test(seal_fmt, kinds)
{
	cr_assert_eq(seal_kind((const uint8_t *)"{\"bytes\":1}", 11),
	    SEAL_PLAIN);
	cr_assert_eq(seal_kind((const uint8_t *)"AAAA", 4), SEAL_PLAIN);
	cr_assert_eq(seal_kind((const uint8_t *)"kwseal:v2:AA", 12),
	    SEAL_UNKNOWN_VERSION);
	cr_assert_eq(seal_kind((const uint8_t *)"kwseal:v1:", 10), SEAL_V1);
}

/* PT9: bad base64, truncation at every length, alg 0x02, IV length. */
Test(seal_fmt, mutations)
{
	struct buf	s, raw, t;
	struct seal_env	env;
	const char	*why;
	size_t		n;

	make_sealed(&s, "k");
	buf_init(&raw, 4096);
	buf_init(&t, 4096);
	/* Cut short: refused, or (cut at a base64 quantum) a shorter
	 * ciphertext, which the tag check in the token refuses. */
	for (n = 0; n < s.len; n++)
		if (seal_env_decode(s.data, n, &raw, &env, &why) == 0)
			cr_assert_lt(env.ctlen, 20, "cut at %zu", n);
	cr_assert_eq(seal_env_decode((const uint8_t *)"kwseal:v1:!!!!", 14,
	    &raw, &env, &why), -1);
	cr_assert_str_eq(why, "seal: malformed sealed value");
	/* "Ag" decodes to 0x02: the reserved alg. "AQAM": kid_len 0. */
	cr_assert_eq(seal_env_decode((const uint8_t *)
	    "kwseal:v1:AgFrDAECAwQFBgcICQoLDKurq6urq6urq6urq6urq6s=", 54,
	    &raw, &env, &why), -1);
	cr_assert_eq(seal_env_decode((const uint8_t *)"kwseal:v1:AQAM", 14,
	    &raw, &env, &why), -1);
	/* A line break inside is not skipped. */
	buf_reset(&t);
	buf_put(&t, s.data, 14);
	buf_put(&t, "\n", 1);
	buf_put(&t, s.data + 14, s.len - 14);
	cr_assert_eq(seal_env_decode(t.data, t.len, &raw, &env, &why), -1);
	buf_release(&s);
	buf_release(&raw);
	buf_release(&t);
}

/* PT15: KES's value rules refuse a sealed value (fail closed). */
Test(seal_fmt, kes_refuses_sealed)
{
	struct buf	s;
	struct kes_key	k;

	make_sealed(&s, "kw-seal");
	memset(&k, 0, sizeof(k));
	cr_assert_eq(kes_key_decode(s.data, s.len, &k), -1);
	buf_release(&s);
}

/* ---- configuration ------------------------------------------------------- */

#define BASE "admin:\n  identity: disabled\ntls:\n  key: /k\n  cert: /c\n" \
	"keystore:\n  fs:\n    path: /var/lib/keyward\n"

static int
parse(const char *seal, struct config **c, char *err, size_t errlen)
{
	char yaml[4096];

	snprintf(yaml, sizeof(yaml), "%s  seal:\n    pkcs11:\n%s", BASE, seal);
	return config_parse(yaml, strlen(yaml), "t.yml", c, err, errlen);
}

Test(seal_conf, parses_and_travels)
{
	struct config		*c = NULL;
	struct seal_conf	*s, *back;
	struct buf		 b;
	char			 err[512] = "";

	setenv("SEAL_TEST_PIN", "4321", 1);
	cr_assert_eq(parse("      module: /usr/lib/softhsm/libsofthsm2.so\n"
	    "      token: kw\n      pin: ${SEAL_TEST_PIN}\n      key: k1\n"
	    "      old_keys: [ k0 ]\n      sessions: 3\n"
	    "      allow_unsealed_reads: false\n"
	    "      module_env: [ A=b ]\n", &c, err, sizeof(err)), 0, "%s",
	    err);
	cr_assert_not_null(s = c->keystore.seal);
	cr_assert_str_eq(s->pin, "4321");
	cr_assert_eq(s->sessions, 3);
	cr_assert_eq(s->nold_keys, 1);
	cr_assert(!s->allow_unsealed_reads);
	buf_init(&b, 65536);
	cr_assert_eq(seal_settings_put(&b, s), 0);
	cr_assert_eq(seal_settings_get(&b, &back), 0);
	cr_assert_eq(buf_end(&b), 0);
	cr_assert_str_eq(back->key, "k1");
	cr_assert_str_eq(back->old_keys[0], "k0");
	cr_assert_str_eq(back->module_env[0], "A=b");
	cr_assert_eq(back->slot, -1);
	seal_conf_free(back);
	buf_release(&b);
	config_free(c);
}

Test(seal_conf, refuses)
{
	static const char *const bad[][2] = {
		{ "      module: lib.so\n      token: t\n      key: k\n",
		  "absolute path" },
		{ "      module: /m.so\n      key: k\n", "exactly one of" },
		{ "      module: /m.so\n      token: t\n      slot: 1\n"
		  "      key: k\n", "exactly one of" },
		{ "      module: /m.so\n      token: t\n", "key" },
		{ "      module: /m.so\n      token: t\n      key: k\n"
		  "      pin: 1\n      pin_file: /p\n", "both pin and pin_file" },
		{ "      module: /m.so\n      token: t\n      key: k\n"
		  "      sessions: 0\n", "sessions" },
		{ "      module: /m.so\n      token: t\n      key: k\n"
		  "      key_id: xyz\n", "hex" },
	};
	struct config	*c = NULL;
	char		 err[512];
	size_t		 i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(parse(bad[i][0], &c, err, sizeof(err)), -1,
		    "accepted:\n%s", bad[i][0]);
		cr_assert_not_null(strstr(err, bad[i][1]), "%s", err);
	}
}

/* ---- the helper's filter ------------------------------------------------- */

static void
apply_helper_filter(void)
{
	const struct sb_rule	*r;
	size_t			 n;

	r = seal_helper_rules(&n);
	cr_assert_eq(sandbox_apply_more(ROLE_AGENT, false, r, n), 0);
}

/* What SoftHSM does while running: files read-only, locks; syslog's
 * socket fails without killing. */
Test(seal_sandbox, allowed)
{
	int fd;

	apply_helper_filter();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(socket(AF_UNIX, SOCK_DGRAM, 0), -1);
}

Test(seal_sandbox, creating_a_file_is_sigsys, .signal = SIGSYS)
{
	apply_helper_filter();
	(void)open("/tmp/keyward-seal-sandbox-test",
	    O_WRONLY | O_CREAT, 0600);
}

Test(seal_sandbox, fork_is_sigsys, .signal = SIGSYS)
{
	apply_helper_filter();
	(void)fork();
}
