/*
 * What KES's HTTPS stores with their own client (Fortanix, Entrust) share
 * on the agent's network layer (net.h):
 *
 * KES's HTTP retry wrapper (internal/http/retry.go; spec/keystores-cloud-
 * and-legacy-config.md §0.2): at most 3 attempts, 200 ms + uniform[0,
 * 800 ms) before each retry (the same wait each time), on a timeout, a
 * connection that ended early (Go's io.EOF and io.ErrUnexpectedEOF) or an
 * answer >= 500, and (keyward only) 429 Too Many Requests. A 5xx or 429
 * on the last attempt is returned as an answer.
 *
 * The start-up every such store makes (tls.ca read as root, the HTTPS
 * client made after the drop) and the readers of an answer's body (its
 * text cleaned for a log line, JSON by Content-Type, one JSON value).
 */
#ifndef KEYWARD_KS_KES_HTTP_H
#define KEYWARD_KS_KES_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "keystore-agent/net.h"

#define KES_HTTP_TEXT_MAX	200	/* bytes of a service's text kept
					 * in a detail */

bool	kes_http_retry(const struct net_resp *);

/* A struct net_policy initialiser with the per-attempt deadline ms. */
#define KES_HTTP_POLICY(ms)	\
	{ 3, 200, 1000, (ms), kes_http_retry, NET_WAIT_CONSTANT }

/*
 * prepare(), as root: path ("" for none) read as KES's loadCustomCAs
 * reads tls.ca (a file, or every file of a directory, each holding a
 * certificate) into *ca. 0, or -1 with "<tag>: tls.ca: why" in err.
 */
int	kes_http_ca(const char *tag, const char *path, uint8_t **ca,
	    size_t *ca_len, char *err, size_t errlen);
/*
 * init(), after the drop and before the filter: the helper (the
 * resolver), libcurl, and the client for endpoint trusting *ca (the
 * system's roots when NULL), which is wiped and freed. 0, or -1 with
 * err.
 */
int	kes_http_client(const char *tag, const char *endpoint, uint8_t **ca,
	    size_t *ca_len, struct net_client **, char *err, size_t errlen);

/* Printable ASCII only, no blanks: it goes into a header or a URL. */
bool	kes_http_printable(const char *);

/* s[0, len) into out: control bytes and non-ASCII as ' ' and '?', at
 * most KES_HTTP_TEXT_MAX bytes, blanks trimmed at both ends. */
void	kes_http_clean(char *out, size_t outlen, const char *s, size_t len);
/* Go's strings.HasPrefix(ctype, "application/json") after blanks;
 * ctype NULL is no. */
bool	kes_http_json_typed(const char *ctype);
/* The whole body as one JSON value of type (JSON_OBJECT or JSON_ARRAY;
 * null is an empty one, as Go decodes it into a struct or a slice), at
 * most max bytes; NULL with err otherwise. */
json_t	*kes_http_load(const uint8_t *body, size_t len, size_t max,
	    json_type type, char *err, size_t errlen);

#endif
