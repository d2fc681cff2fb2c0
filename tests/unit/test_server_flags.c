/*
 * `keyward server` flags: every flag a KES release had, in Go's and GNU's
 * syntax, overriding the configuration as KES's did (issue 16, shared/spec/
 * keystores-cloud-and-legacy-config.md §7.6).
 */
#include <string.h>

#include <criterion/criterion.h>

#include "common/config.h"
#include "common/xmalloc.h"
#include "privsep/server_flags.h"

#define ID_A	"3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"

static int
parse(struct server_flags *f, char *err, ...)
{
	char	*argv[16];
	int	 argc = 0;
	va_list	 ap;

	argv[argc++] = "server";
	va_start(ap, err);
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	return server_flags_parse(argc, argv, f, err, 256);
}

/* The MinIO walk-through's command line. */
Test(server_flags, kes_walkthrough_line)
{
	struct server_flags	 f;
	char			 err[256];

	cr_assert_eq(parse(&f, err, "--config=kes-config.toml", "--mlock",
	    "--root=disabled", "--mtls-auth=ignore", NULL), 0, "%s", err);
	cr_assert_str_eq(f.config, "kes-config.toml");
	cr_assert(f.mlock);
	cr_assert_str_eq(f.root, "disabled");
	cr_assert_eq(f.auth, TLS_AUTH_OFF);
}

Test(server_flags, go_and_gnu_syntax)
{
	struct server_flags	 f;
	char			 err[256];

	cr_assert_eq(parse(&f, err, "-config", "c.yml", "-addr=1.2.3.4:7",
	    "-tls-key", "k.pem", "--tls-cert", "c.pem", "-q", NULL), 0, "%s",
	    err);
	cr_assert_str_eq(f.config, "c.yml");
	cr_assert_str_eq(f.addr, "1.2.3.4:7");
	cr_assert_str_eq(f.key, "k.pem");
	cr_assert_str_eq(f.cert, "c.pem");
	cr_assert(f.quiet);
	cr_assert_eq(f.auth, -1);
	cr_assert_eq(parse(&f, err, "--config", "c", "--key=a", "--cert=b",
	    "--auth=ON", "--quiet=true", "--mlock=false", NULL), 0, "%s", err);
	cr_assert_str_eq(f.key, "a");
	cr_assert_eq(f.auth, TLS_AUTH_ON, "--auth is case-blind");
	cr_assert(f.quiet);
	cr_assert_not(f.mlock);
	cr_assert_eq(parse(&f, err, "--config", "c", "--mtls-auth", "verify",
	    NULL), 0, "%s", err);
	cr_assert_eq(f.auth, TLS_AUTH_ON);
	cr_assert_not(f.strict_env);
	cr_assert_eq(parse(&f, err, "--config", "c", "--strict-env", NULL), 0,
	    "%s", err);
	cr_assert(f.strict_env);
	cr_assert_eq(parse(&f, err, "--dev", NULL), 0, "%s", err);
	cr_assert_eq(parse(&f, err, "-h", NULL), 1);
	cr_assert_eq(parse(&f, err, "--help", NULL), 1);
}

Test(server_flags, refusals_name_the_argument)
{
	static const struct {
		const char	*a[4];
		const char	*want;
	} cases[] = {
		{ { "--config", "c", "--port=1", NULL }, "unknown flag '--port=1'" },
		{ { "--config", "c", "--mtls-auth=Verify", NULL },
		    "'Verify' is not valid; expected verify or ignore" },
		{ { "--config", "c", "--auth=maybe", NULL },
		    "'maybe' is not valid; expected on or off" },
		{ { "--config", "c", "--mlock=yes", NULL },
		    "expected true or false" },
		{ { "--config", "c", "/data", NULL }, "unexpected argument "
		    "'/data' (KES's stateful mode" },
		{ { "--config", NULL }, "--config needs a value" },
		{ { "--addr", "x", NULL }, "exactly one of --config FILE or --dev" },
		{ { "--dev", "--config", "c", NULL }, "exactly one of" },
		{ { "--dev", "--root", "disabled", NULL }, "do not go with --dev" },
		{ { "--config", "c", "--keystore", NULL }, "unknown flag '--keystore'" },
		{ { "--config", "c", "--root=ABC", NULL }, "--root: not an identity" },
		{ { "--config", "c", "--root", "3ECFCDF38FCBE141AE26A1030F81E96B753365A46760AE6B578698A97C59FD22" },
		    "--root: not an identity" },
	};
	struct server_flags	 f;
	char			 err[256];
	size_t			 i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse(&f, err, cases[i].a[0], cases[i].a[1],
		    cases[i].a[2], cases[i].a[3], NULL), -1, "case %zu", i);
		cr_assert_not_null(strstr(err, cases[i].want), "case %zu: %s",
		    i, err);
	}
}

/* Flags win over the file, at start and at every reload. */
Test(server_flags, apply_overrides)
{
	struct server_flags	 f;
	struct config		*c;
	char			 err[CONFIG_ERRLEN];
	const char		*y = "admin:\n  identity: disabled\ntls:\n"
				    "  key: /k\n  cert: /c\n  auth: on\n"
				    "keystore:\n  fs:\n    path: /x\n";

	cr_assert_eq(parse(&f, err, "--config", "c", "--root", ID_A,
	    "--key", "/k2", "--mtls-auth=ignore", "--addr", "0.0.0.0:1", NULL),
	    0);
	cr_assert_eq(config_parse(y, strlen(y), "c.yml", &c, err,
	    sizeof(err)), 0, "%s", err);
	cr_assert_eq(c->tls.auth, TLS_AUTH_ON);
	server_flags_apply(&f, c, false);
	cr_assert_str_eq(c->admin_identity, ID_A);
	cr_assert_str_eq(c->tls.key, "/k2");
	cr_assert_str_eq(c->tls.cert, "/c", "no --cert: the file's");
	cr_assert_eq(c->tls.auth, TLS_AUTH_OFF);
	cr_assert_str_eq(c->address, "0.0.0.0:1");
	config_free(c);
}
