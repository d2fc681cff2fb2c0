/*
 * The configurations a new user copies must parse: contrib/keyward.yml
 * and the YAML block of README.md's configuration reference.
 */
#include <criterion/criterion.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"
#include "keystore-agent/stores.h"
#include "common/xmalloc.h"

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

/* The repository: this binary is B/tests/test_samples. */
static void
repo_path(const char *rel, char *out, size_t len)
{
	char	self[PATH_MAX];
	ssize_t	n;

	cr_assert_gt(n = readlink("/proc/self/exe", self, sizeof(self) - 1),
	    0);
	self[n] = '\0';
	snprintf(out, len, "%s/%s", dirname(dirname(dirname(self))), rel);
}

static void
expect_clean(struct config *cf, const char *what)
{
	size_t i;

	for (i = 0; i < cf->nwarnings; i++)
		cr_expect_fail("%s: %s", what, cf->warnings[i]);
	config_free(cf);
}

Test(samples, contrib_config)
{
	struct config	*cf;
	char		 path[PATH_MAX], err[CONFIG_ERRLEN];

	setenv("KEYWARD_ADMIN_IDENTITY", ID_A, 1);
	setenv("MINIO_IDENTITY", ID_B, 1);
	repo_path("contrib/keyward.yml", path, sizeof(path));
	cr_assert_eq(config_load(path, &cf, err, sizeof(err)), 0, "%s", err);
	cr_expect_str_eq(ks_name(&cf->keystore), "fs");
	expect_clean(cf, "contrib/keyward.yml");
}

Test(samples, readme_config)
{
	struct config	*cf;
	char		 path[PATH_MAX], err[CONFIG_ERRLEN], line[1024];
	char		*yaml = NULL;
	size_t		 len = 0;
	FILE		*f, *m;
	bool		 in = false, done = false;

	setenv("KEYWARD_ADMIN_IDENTITY", ID_A, 1);
	setenv("MINIO_IDENTITY", ID_B, 1);
	repo_path("README.md", path, sizeof(path));
	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	cr_assert_not_null(m = open_memstream(&yaml, &len));
	while (!done && fgets(line, sizeof(line), f) != NULL) {
		if (!in && strcmp(line, "```yaml\n") == 0)
			in = true;
		else if (in && strncmp(line, "```", 3) == 0)
			done = true;
		else if (in)
			fputs(line, m);
	}
	fclose(m);
	fclose(f);
	cr_assert(done, "README.md has no ```yaml block");
	cr_assert_eq(config_parse(yaml, len, "README.md", &cf, err,
	    sizeof(err)), 0, "%s", err);
	cr_expect_eq(cf->npolicies, 1);
	cr_expect_str_eq(cf->policies[0].identities[0], ID_B);
	expect_clean(cf, "README.md");
	free(yaml);
}
