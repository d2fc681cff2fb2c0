/*
 * AWS Signature Version 4 (spec/keystores-cloud-and-legacy-config.md
 * §1.4): the Authorization header for one request, as aws-sdk-go v1 and
 * botocore compute it. No network and no clock here: the caller gives
 * the request's bytes and its X-Amz-Date, so every store that talks to
 * an AWS service (Secrets Manager now, KMS or STS later) and the tests
 * sign the same way.
 *
 * Headers are "Name: value" strings. Every one given is signed except
 * Authorization, User-Agent and X-Amzn-Trace-Id (aws-sdk-go's ignored
 * set); "Host" and "X-Amz-Date" must be among them, and a session
 * token's "X-Amz-Security-Token" too when there is one (it is signed).
 */
#ifndef KEYWARD_SIGV4_H
#define KEYWARD_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#define SIGV4_DATE_LEN		16	/* 20150830T123600Z */
#define SIGV4_AUTH_MAX		1024	/* the Authorization value */

struct sigv4_req {
	const char		*method;	/* "POST" */
	const char		*path;		/* URI-encoded: "/" */
	const char		*query;		/* URI-encoded, any order;
						 * "" or NULL for none */
	const char *const	*headers;	/* NULL-terminated */
	const uint8_t		*body;
	size_t			 len;
	const char		*akid;
	const char		*secret;
	const char		*region;
	const char		*service;
	const char		*date;		/* X-Amz-Date's value */
};

/*
 * The canonical request (step 4), NUL-terminated, allocated (free it
 * with free()); NULL when a header is malformed or the date is not 16
 * characters.
 */
char	*sigv4_canonical(const struct sigv4_req *);

/* The signing key (step 7) for date8 = the first 8 characters of date. */
void	 sigv4_key(const char *secret, const char *date, const char *region,
	    const char *service, uint8_t key[32]);

/*
 * The Authorization header's value ("AWS4-HMAC-SHA256 Credential=...,
 * SignedHeaders=..., Signature=<64 hex>") into auth; 0, or -1 when the
 * request is malformed or auth too small. Every intermediate secret is
 * wiped.
 */
int	 sigv4_sign(const struct sigv4_req *, char *auth, size_t authlen);

/* Format t (Unix seconds, UTC) as X-Amz-Date: 17 bytes with the NUL. */
void	 sigv4_date(long long t, char date[SIGV4_DATE_LEN + 1]);

#endif
