/*
 * The pieces KES's HTTPS stores with their own client share (kes_http.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/gojson.h"
#include "common/xmalloc.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/kes_http.h"
#include "keystore-agent/pemfile.h"

/* Go's temporary errors (timeouts, a connection dropped mid-request or
 * mid-handshake) and 5xx answers; not a refused connection, a name that
 * does not resolve or a refused certificate (no retry changes those).
 * keyward also retries 429 (a throttled call; KES returns it at once). */
bool
kes_http_retry(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status >= 500 || r->status == 429;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
		return true;
	default:
		return false;
	}
}

int
kes_http_ca(const char *tag, const char *path, uint8_t **ca,
    size_t *ca_len, char *err, size_t errlen)
{
	char why[1200];

	if (path[0] == '\0')
		return 0;
	if (pemfile_read_ca(path, PEMFILE_EACH_CERT, ca, ca_len, why,
	    sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: tls.ca: %s", tag, why);
		return -1;
	}
	return 0;
}

int
kes_http_client(const char *tag, const char *endpoint, uint8_t **ca,
    size_t *ca_len, struct net_client **out, char *err, size_t errlen)
{
	struct net_tls	tls = { *ca, *ca_len, NULL, 0, NULL, 0 };
	char		why[256];

	/* jansson's copies of values and tokens are wiped when freed. */
	gojson_init();
	if (helper_start(NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	if (net_global_init(why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	*out = net_client_new(endpoint, &tls, false, why, sizeof(why));
	if (*ca != NULL)
		freezero(*ca, *ca_len);
	*ca = NULL;
	*ca_len = 0;
	if (*out == NULL) {
		snprintf(err, errlen, "%s: %s: %s", tag, endpoint, why);
		return -1;
	}
	return 0;
}

bool
kes_http_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f)
			return false;
	return true;
}

void
kes_http_clean(char *out, size_t outlen, const char *s, size_t len)
{
	size_t		i, n = 0;
	unsigned char	c;

	if (outlen == 0)
		return;
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n')) {
		s++;
		len--;
	}
	for (i = 0; i < len && n + 1 < outlen && n < KES_HTTP_TEXT_MAX; i++) {
		c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			c = ' ';
		else if (c >= 0x80)
			c = '?';
		out[n++] = (char)c;
	}
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

bool
kes_http_json_typed(const char *ctype)
{
	static const char	json[] = "application/json";

	if (ctype == NULL)
		return false;
	while (*ctype == ' ' || *ctype == '\t')
		ctype++;
	return strncmp(ctype, json, sizeof(json) - 1) == 0;
}

json_t *
kes_http_load(const uint8_t *body, size_t len, size_t max, json_type type,
    char *err, size_t errlen)
{
	json_t *root;

	if (len > max) {
		snprintf(err, errlen, "the answer is larger than %zu bytes",
		    max);
		return NULL;
	}
	if ((root = gojson_load(body, len)) == NULL) {
		snprintf(err, errlen, "the answer is not valid JSON");
		return NULL;
	}
	if (json_is_null(root)) {
		json_decref(root);
		return type == JSON_OBJECT ? json_object() : json_array();
	}
	if (json_typeof(root) != type) {
		json_decref(root);
		snprintf(err, errlen, "the answer is not a JSON %s",
		    type == JSON_OBJECT ? "object" : "array");
		return NULL;
	}
	return root;
}
