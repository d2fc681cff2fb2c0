/*
 * The AWS Secrets Manager key store (KES's keystore.aws.secretsmanager,
 * spec/keystores-cloud-and-legacy-config.md §1), inside the agent: the
 * state its files share. aws.c is the store the agent sees (the calls),
 * aws_creds.c keeps the credentials (static, or fetched from the
 * container endpoint or EC2's instance metadata and renewed before they
 * expire), aws_conf.c parses the configuration (in the parent) and starts
 * the store, aws_json.c reads and writes Secrets Manager's JSON. Every
 * request is signed by common/sigv4.c.
 *
 * Credentials live only in the agent (the parent reads them from the
 * configuration or its environment and hands them over in the agent's
 * slice); they are wiped when dropped and never logged.
 */
#ifndef KEYWARD_KS_AWS_H
#define KEYWARD_KS_AWS_H

#include <sys/queue.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ev.h"
#include "keystore-agent/net.h"

/* Where the credentials come from (§1.3). */
enum aws_src {
	AWS_SRC_NONE = 0,	/* nothing found: every call fails */
	AWS_SRC_STATIC,		/* config, environment or shared file */
	AWS_SRC_CONTAINER,	/* ECS/EKS container endpoint */
	AWS_SRC_IMDS,		/* EC2 instance metadata, IMDSv2 */
};

/* The configuration as the parent parsed it (also the agent's copy). */
struct aws_conf {
	char		*endpoint;	/* https://host[:port], no '/' */
	char		*region, *kmskey;
	char		*accesskey, *secretkey, *token;
	char		*ca;		/* AWS_CA_BUNDLE, or "" */
	uint8_t		 src;		/* enum aws_src */
	char		*remote;	/* container URL or IMDS base URL */
	char		*remote_auth;	/* container Authorization, or "" */
	uint8_t		 imds_v1;	/* IMDSv1 fallback allowed */
};

struct aws_waiter {
	TAILQ_ENTRY(aws_waiter)	 entry;
	bool			 queued;
	void	(*cb)(struct aws_waiter *, int rc, const char *err);
	void			*arg;
};

struct aws {
	struct aws_conf		 c;
	uint8_t			*raw;		/* the settings as sent */
	size_t			 rawlen;
	uint8_t			*ca;		/* PEM read by prepare() */
	size_t			 ca_len;
	char			*host;		/* the signed Host header */
	struct net_client	*net;		/* Secrets Manager */
	struct net_client	*meta;		/* credentials endpoint */

	/* The credentials in use, their generation and expiry (Unix
	 * seconds; 0: never). */
	char			*akid, *secret, *token;
	uint64_t		 gen;
	int64_t			 expires;
	int64_t			 fetched;	/* when, Unix seconds */
	/* A fetch in flight, and who waits for it. */
	bool			 fetching;
	int			 fstage;
	char			*imds_token;
	char			*role;
	struct net_req		*freq;
	TAILQ_HEAD(, aws_waiter) waiters;
};

#define AWS_ATTEMPT_MS		1800	/* per attempt of a call */
#define AWS_META_ATTEMPT_MS	2000	/* per credentials request */
#define AWS_RENEW_BEFORE	300	/* s before Expiration (§1.3) */
#define AWS_PATH_MAX		1024

extern struct aws	aws_state;

/* aws.c: the calls of backend.h. */
struct ks_op;
void	aws_op_status(struct ks_op *);
void	aws_op_create(struct ks_op *);
void	aws_op_get(struct ks_op *);
void	aws_op_del(struct ks_op *);
void	aws_op_list(struct ks_op *);
void	aws_op_cancel(struct ks_op *);

/* aws_conf.c: the parent's side. */
struct cfg_parser;
struct cfg_sect;
extern const char *const aws_keys[];
int	aws_parse(struct cfg_parser *, const struct cfg_sect *, void **);
void	aws_conf_free(void *);

/* aws_creds.c */
/*
 * Credentials for a call: 1 when usable ones are there (aws->akid...),
 * 0 when w waits for a fetch (w->cb runs later, rc 0 or -1 with a
 * sentence), -1 when there are none at all.
 */
int	aws_creds_want(struct aws *, struct aws_waiter *);
/* A call was refused with credentials of generation gen: forget them
 * (only fetched ones) so that the next want fetches anew. true when
 * that may help. */
bool	aws_creds_refused(struct aws *, uint64_t gen);
void	aws_creds_unwait(struct aws *, struct aws_waiter *);
void	aws_creds_free(struct aws *);

#endif
