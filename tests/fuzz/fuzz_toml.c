/*
 * libFuzzer harness for the TOML reader (common/config_toml.c) and the
 * translation of old layouts (config_legacy.c): arbitrary bytes as a KES
 * v0.1 – v0.7 configuration. Every input ends either in one message naming
 * the file and a line, or in a document whose root is a table and whose
 * strings hold no NUL, which the translation then rewrites or refuses.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/config_legacy.h"
#include "common/config_toml.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	struct config		 cfg;
	struct cfg_parser	 p;
	yaml_document_t		 doc;
	yaml_parser_t		 y;
	yaml_node_t		*n, *root;
	char			 err[CONFIG_ERRLEN] = "";

	memset(&cfg, 0, sizeof(cfg));
	memset(&p, 0, sizeof(p));
	p.file = "fuzz.toml";
	p.cfg = &cfg;
	p.err = err;
	p.errlen = sizeof(err);
	p.doc = &doc;
	if (!yaml_parser_initialize(&y))
		abort();
	if (cfg_load_toml(&p, (const char *)data, len) == -1) {
		if (!p.failed || strncmp(err, "fuzz.toml:", 10) != 0 ||
		    memchr(err, '\0', sizeof(err)) == NULL)
			abort();
	} else {
		root = yaml_document_get_root_node(&doc);
		if (p.failed || root == NULL || root->type != YAML_MAPPING_NODE)
			abort();
		for (n = doc.nodes.start; n < doc.nodes.top; n++)
			if (n->type == YAML_SCALAR_NODE &&
			    (n->tag == NULL || strlen((char *)n->data.scalar.value)
			    != n->data.scalar.length))
				abort();
		if (cfg_legacy_translate(&p, true) == -1 &&
		    strncmp(err, "fuzz.toml:", 10) != 0)
			abort();
	}
	cfg_strv_free(cfg.warnings, cfg.nwarnings);
	cfg_unload(&y, &doc);
	return 0;
}
