/*
 * KES configuration files of every layout era (tests/data/kes-configs/,
 * spec keystores-cloud-and-legacy-config.md §7.3): the strict sections
 * (tls, admin, policy, keystore, server) know every key some KES release
 * accepted, so no real KES file is refused for an unknown key.
 *   accept-*.yml   accepted as they are
 *   old-*.yml      older layouts (root:, keys: as a map, top-level fs:,
 *                  v0.4-v0.7 spellings): accepted, translated, with a
 *                  warning naming the layout (config_legacy.c), never
 *                  refused for an unknown key
 */
#include <sys/types.h>

#include <criterion/criterion.h>
#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

/* The fixtures: this binary is B/tests/test_kes_configs. */
static void
fixtures_dir(char *out, size_t len)
{
	char	self[PATH_MAX];
	ssize_t	n;

	cr_assert_gt(n = readlink("/proc/self/exe", self, sizeof(self) - 1),
	    0);
	self[n] = '\0';
	snprintf(out, len, "%s/tests/data/kes-configs",
	    dirname(dirname(dirname(self))));
}

static char *
slurp(const char *path)
{
	FILE	*f;
	char	*text;
	long	 len;

	cr_assert_not_null(f = fopen(path, "r"), "%s", path);
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	cr_assert_not_null(text = calloc(1, (size_t)len + 1));
	cr_assert_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}


/*
 * Parse; 0 when accepted with a warning holding `want`, else -1 with the
 * reason in err.
 */
static int
parse_warned(const char *name, const char *text, char *err, size_t errlen,
    const char *want)
{
	struct config	*c = NULL;
	size_t		 i;
	int		 rc;

	if (config_parse(text, strlen(text), name, &c, err, errlen) == -1)
		return -1;
	rc = -1;
	for (i = 0; i < c->nwarnings; i++)
		if (strstr(c->warnings[i], want) != NULL)
			rc = 0;
	if (rc == -1)
		snprintf(err, errlen, "accepted without a warning '%s'", want);
	config_free(c);
	return rc;
}

static int
parse(const char *name, const char *text, char *err, size_t errlen)
{
	struct config	*c = NULL;
	int		 rc;

	rc = config_parse(text, strlen(text), name, &c, err, errlen);
	config_free(c);
	return rc;
}

Test(kes_configs, every_era)
{
	char		 dir[PATH_MAX], path[PATH_MAX + 256];
	char		 err[CONFIG_ERRLEN];
	char		*text;
	struct dirent	*de;
	DIR		*d;
	int		 accepted = 0, old = 0;

	fixtures_dir(dir, sizeof(dir));
	cr_assert_not_null(d = opendir(dir), "%s", dir);
	while ((de = readdir(d)) != NULL) {
		if (strstr(de->d_name, ".yml") == NULL)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		text = slurp(path);
		err[0] = '\0';
		if (strncmp(de->d_name, "accept-", 7) == 0) {
			cr_expect_eq(parse(de->d_name, text, err,
			    sizeof(err)), 0, "%s refused: %s", de->d_name,
			    err);
			accepted++;
		} else {
			cr_assert_eq(strncmp(de->d_name, "old-", 4), 0,
			    "%s: neither accept- nor old-", de->d_name);
			/* Older layouts are translated (config_legacy.c),
			 * and say so; never refused for an unknown key. */
			cr_expect_eq(parse_warned(de->d_name, text, err,
			    sizeof(err), "the layout of KES"), 0,
			    "%s: %s", de->d_name, err);
			old++;
		}
		free(text);
	}
	closedir(d);
	cr_expect_geq(accepted, 9, "%d accept-*.yml fixtures", accepted);
	cr_expect_geq(old, 6, "%d old-*.yml fixtures", old);
}
