/*
 * GCP Secret Manager's JSON (gcp_json.h). Bytes from the network or a
 * file: every field's type is checked, sizes are bounded, and nothing
 * secret reaches an error text.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "common/b64.h"
#include "common/xmalloc.h"
#include "keystore-agent/gcp_json.h"
#include "keystore-agent/gcp_parse.h"

static json_t *
load(const uint8_t *body, size_t len)
{
	return json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
	    NULL);
}

static void
clean(char *out, size_t outlen, const char *s)
{
	size_t i;

	if (outlen == 0)
		return;
	for (i = 0; s != NULL && s[i] != '\0' && i < GCP_DETAIL_MAX &&
	    i + 1 < outlen; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

void
gcp_parse_error(const uint8_t *body, size_t len, char *status,
    size_t statuslen, char *msg, size_t msglen)
{
	json_t *j = load(body, len), *e;

	e = json_object_get(j, "error");
	clean(status, statuslen, json_string_value(json_object_get(e,
	    "status")));
	clean(msg, msglen, json_string_value(json_object_get(e, "message")));
	json_decref(j);
}

/* A resource name: printable, no blanks, nothing a path would read
 * differently ('?', '#', '%', "..", "//"). */
static bool
name_ok(const char *s)
{
	size_t i;

	if (strncmp(s, "projects/", 9) != 0 || strlen(s) > GCP_NAME_MAX ||
	    strstr(s, "..") != NULL || strstr(s, "//") != NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] <= 0x20 || s[i] >= 0x7f ||
		    strchr("?#%\\", s[i]) != NULL)
			return false;
	return true;
}

int
gcp_parse_secret(const uint8_t *body, size_t len, char **name, char *err,
    size_t errlen)
{
	json_t		*j = load(body, len);
	const char	*s;
	const char	*slash;
	int		 rc = -1;

	*name = NULL;
	s = json_string_value(json_object_get(j, "name"));
	if (!json_is_object(j) || s == NULL)
		snprintf(err, errlen, "the created secret has no name");
	else if (!name_ok(s) || (slash = strstr(s, "/secrets/")) == NULL ||
	    strchr(slash + 9, '/') != NULL || slash[9] == '\0')
		snprintf(err, errlen, "the created secret's name is not "
		    "projects/<project>/secrets/<id>");
	else {
		*name = xstrdup(s);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int
gcp_parse_access(const uint8_t *body, size_t len, uint8_t **val,
    size_t *vlen, char *err, size_t errlen)
{
	json_t		*j = load(body, len);
	const char	*s;
	char		*t = NULL;
	size_t		 n, i, tl;
	int		 rc = -1;

	*val = NULL;
	*vlen = 0;
	s = json_string_value(json_object_get(json_object_get(j, "payload"),
	    "data"));
	if (s == NULL || (n = strlen(s)) == 0) {
		snprintf(err, errlen, "the secret version has no payload");
		goto out;
	}
	/* proto3 JSON: bytes are base64, either alphabet, padding
	 * optional. */
	tl = n + 4;
	t = xmalloc(tl);
	for (i = 0; i < n; i++)
		t[i] = s[i] == '-' ? '+' : s[i] == '_' ? '/' : s[i];
	while (i % 4 != 0)
		t[i++] = '=';
	t[i] = '\0';
	*val = xmalloc(b64_decoded_max(i) + 1);
	if (b64_decode(t, i, *val, vlen) == -1 || *vlen == 0) {
		snprintf(err, errlen, "the secret version's payload is not "
		    "base64");
		free(*val);
		*val = NULL;
		*vlen = 0;
		goto out;
	}
	rc = 0;
 out:
	if (t != NULL)
		freezero(t, tl);
	json_decref(j);
	return rc;
}

int
gcp_parse_list(const uint8_t *body, size_t len,
    int (*cb)(const char *, void *), void *arg, char **next, size_t *n,
    char *err, size_t errlen)
{
	json_t		*j = load(body, len), *a, *e;
	const char	*s, *id;
	size_t		 i;
	int		 rc = -1;

	*next = NULL;
	*n = 0;
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the listing is not a JSON object");
		goto out;
	}
	a = json_object_get(j, "secrets");
	if (a != NULL && !json_is_array(a)) {
		snprintf(err, errlen, "the listing's secrets is not an array");
		goto out;
	}
	json_array_foreach(a, i, e) {
		s = json_string_value(json_object_get(e, "name"));
		if (s == NULL || !name_ok(s) ||
		    (id = strrchr(s, '/')) == NULL || id[1] == '\0') {
			snprintf(err, errlen, "a listed secret has no usable "
			    "name");
			goto out;
		}
		if (cb(id + 1, arg) == -1) {
			snprintf(err, errlen, "the listing was stopped");
			goto out;
		}
		(*n)++;
	}
	e = json_object_get(j, "nextPageToken");
	if (e != NULL && !json_is_string(e)) {
		snprintf(err, errlen, "the listing's nextPageToken is not a "
		    "string");
		goto out;
	}
	s = json_string_value(e);
	if (s != NULL && *s != '\0') {
		if (strlen(s) > GCP_NAME_MAX) {
			snprintf(err, errlen, "the listing's nextPageToken is "
			    "too long");
			goto out;
		}
		*next = xstrdup(s);
	}
	rc = 0;
 out:
	json_decref(j);
	return rc;
}

static char *
field(json_t *j, const char *k)
{
	const char *s = json_string_value(json_object_get(j, k));

	return s != NULL ? xstrdup(s) : NULL;
}

int
gcp_parse_sa_file(const uint8_t *body, size_t len, struct gcp_sa *sa,
    char *err, size_t errlen)
{
	json_t		*j = load(body, len);
	const char	*type;
	int		 rc = -1;

	memset(sa, 0, sizeof(*sa));
	type = json_string_value(json_object_get(j, "type"));
	if (!json_is_object(j)) {
		snprintf(err, errlen, "not a JSON object");
		goto out;
	}
	if (type == NULL || strcmp(type, "service_account") != 0) {
		snprintf(err, errlen, "type is not \"service_account\" (keyward "
		    "reads service-account key files only)");
		goto out;
	}
	sa->email = field(j, "client_email");
	sa->key = field(j, "private_key");
	sa->kid = field(j, "private_key_id");
	sa->token_uri = field(j, "token_uri");
	if (sa->email == NULL || *sa->email == '\0' || sa->key == NULL ||
	    *sa->key == '\0') {
		snprintf(err, errlen, "no client_email or private_key");
		gcp_sa_free(sa);
		goto out;
	}
	if (sa->kid == NULL)
		sa->kid = xstrdup("");
	if (sa->token_uri == NULL || *sa->token_uri == '\0') {
		free(sa->token_uri);
		sa->token_uri = xstrdup(GCP_DEFAULT_TOKEN_URI);
	}
	rc = 0;
 out:
	json_decref(j);
	return rc;
}

void
gcp_sa_free(struct gcp_sa *sa)
{
	freezero_str(sa->email);
	freezero_str(sa->key);
	freezero_str(sa->kid);
	freezero_str(sa->token_uri);
	memset(sa, 0, sizeof(*sa));
}
