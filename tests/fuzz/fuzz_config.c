/*
 * libFuzzer harness for the config parser: arbitrary bytes as a config file.
 * Every error must come back as a message, never as a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config	*c = NULL;
	char		 err[CONFIG_ERRLEN];
	int		 i;

	/* ${VAR} references need something to find. */
	setenv("KW_FUZZ", "fuzz", 0);
	/* "fuzz.yml" is YAML only; "fuzz" falls back to TOML (KES v0.3). */
	for (i = 0; i < 2; i++) {
		c = NULL;
		if (config_parse((const char *)data, len, i ? "fuzz" :
		    "fuzz.yml", &c, err, sizeof(err)) == 0) {
			if (c == NULL)
				abort();
			config_free(c);
		} else {
			if (c != NULL || err[0] == '\0' ||
			    memchr(err, '\0', sizeof(err)) == NULL)
				abort();
		}
	}
	return 0;
}
