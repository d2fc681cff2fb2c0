/*
 * Secrets Manager's JSON 1.1 (spec §1.5, §1.6) and the credential
 * documents of the container endpoint and EC2's instance metadata
 * (§1.3), both ways. Pure functions: no network, no state; the fuzz
 * harness tests/fuzz/fuzz_aws.c drives the parsers.
 */
#ifndef KEYWARD_KS_AWS_JSON_H
#define KEYWARD_KS_AWS_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

#define AWS_CODE_MAX	128
#define AWS_MSG_MAX	256
#define AWS_TOKEN_MAX	4096	/* NextToken */
#define AWS_UUID_LEN	36

/* Request bodies, fields in aws-sdk-go's (alphabetical) order. */
int	aws_body_create(struct buf *, const char *crt, const char *kmskey,
	    const char *name, const uint8_t *value, size_t len);
int	aws_body_secret_id(struct buf *, const char *name);
int	aws_body_delete(struct buf *, const char *name);
int	aws_body_list(struct buf *, const char *next);	/* next may be
							 * NULL */
/* A ClientRequestToken as aws-sdk-go makes it: an uppercase UUIDv4. */
void	aws_uuid(char out[AWS_UUID_LEN + 1]);

/*
 * An error answer: its __type (the part after the last '#') into code
 * and its message (or Message) into msg; either may come back "". Never
 * fails.
 */
void	aws_parse_error(const uint8_t *, size_t, char *code, size_t codelen,
	    char *msg, size_t msglen);
/*
 * GetSecretValue's answer: SecretString's bytes, else SecretBinary
 * base64-decoded, into a new buffer (freezero(*val, *len + 1)). 0, or
 * -1 with why.
 */
int	aws_parse_get(const uint8_t *, size_t, uint8_t **val, size_t *len,
	    char *why, size_t whylen);
/*
 * ListSecrets' answer: name() for each SecretList[].Name (a -1 from it
 * stops), *next the NextToken (malloc'ed, NULL on the last page). 0, or
 * -1 with why.
 */
int	aws_parse_list(const uint8_t *, size_t,
	    int (*name)(const char *, void *), void *arg, char **next,
	    char *why, size_t whylen);

/* Temporary credentials (container endpoint, IMDS): every string
 * malloc'ed and wiped by aws_cred_doc_free. */
struct aws_cred_doc {
	char	*akid, *secret, *token;
	int64_t	 expires;	/* Unix seconds, 0 when not given */
};
int	aws_parse_creds(const uint8_t *, size_t, struct aws_cred_doc *,
	    char *why, size_t whylen);
void	aws_cred_doc_free(struct aws_cred_doc *);

#endif
