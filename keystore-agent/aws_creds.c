/*
 * The AWS store's credentials (§1.3): static ones as the parent found
 * them, or temporary ones fetched from the container endpoint or EC2's
 * instance metadata (IMDSv2: a session token first, falling back to
 * IMDSv1 unless AWS_EC2_METADATA_V1_DISABLED), kept until shortly before
 * their Expiration (5 minutes, or half their lifetime when that is
 * shorter) and fetched anew when a call needs them then, or after
 * Secrets Manager refused them. One fetch at a time; calls that need
 * credentials meanwhile wait for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/aws.h"
#include "keystore-agent/aws_json.h"

#define IMDS_TOKEN	"/latest/api/token"
#define IMDS_CREDS	"/latest/meta-data/iam/security-credentials/"
#define ROLE_MAX	128

enum fstage { F_TOKEN, F_ROLE, F_CREDS };

static bool
retry_meta(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status >= 500;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_REFUSED:
		return true;
	default:
		return false;
	}
}

static const struct net_policy meta_policy = {
	3, 100, 300, AWS_META_ATTEMPT_MS, retry_meta, NET_WAIT_GROWING
};

static int64_t
wall(void)
{
	return (int64_t)time(NULL);
}

static bool
usable(const struct aws *a)
{
	int64_t life, margin;

	if (a->akid == NULL)
		return false;
	if (a->expires == 0)
		return true;
	life = a->expires - a->fetched;
	margin = life / 2 < AWS_RENEW_BEFORE ? life / 2 : AWS_RENEW_BEFORE;
	return wall() < a->expires - margin;
}

static void
drop(struct aws *a)
{
	freezero_str(a->akid);
	freezero_str(a->secret);
	freezero_str(a->token);
	a->akid = a->secret = a->token = NULL;
	a->expires = 0;
}

static void
finish(struct aws *a, int rc, const char *err)
{
	struct aws_waiter *w;

	a->fetching = false;
	a->freq = NULL;
	freezero_str(a->imds_token);
	a->imds_token = NULL;
	free(a->role);
	a->role = NULL;
	if (rc == -1)
		log_warnx("%s", err);
	while ((w = TAILQ_FIRST(&a->waiters)) != NULL) {
		TAILQ_REMOVE(&a->waiters, w, entry);
		w->queued = false;
		w->cb(w, rc, err);
	}
}

static void	fetch_answer(struct net_req *, const struct net_resp *,
		    void *);

static void
fetch_send(struct aws *a, const char *method, const char *path)
{
	const char	*h[3];
	char		 hdr[4200];
	size_t		 n = 0;

	hdr[0] = '\0';
	if (a->c.src == AWS_SRC_IMDS && a->fstage == F_TOKEN)
		h[n++] = "x-aws-ec2-metadata-token-ttl-seconds: 21600";
	else if (a->c.src == AWS_SRC_IMDS && a->imds_token != NULL) {
		snprintf(hdr, sizeof(hdr), "x-aws-ec2-metadata-token: %s",
		    a->imds_token);
		h[n++] = hdr;
	} else if (a->c.src == AWS_SRC_CONTAINER &&
	    a->c.remote_auth[0] != '\0') {
		snprintf(hdr, sizeof(hdr), "Authorization: %s",
		    a->c.remote_auth);
		h[n++] = hdr;
	}
	h[n] = NULL;
	a->freq = net_request(a->meta, method, path, h, NULL, 0,
	    &meta_policy, fetch_answer, a);
	explicit_bzero(hdr, sizeof(hdr));
}

/* The path part of the container URL. */
static const char *
url_path(const char *url)
{
	const char *h = strstr(url, "://"), *p;

	if (h == NULL || (p = strchr(h + 3, '/')) == NULL)
		return "/";
	return p;
}

static void
fetch_begin(struct aws *a)
{
	a->fetching = true;
	if (a->c.src == AWS_SRC_CONTAINER) {
		a->fstage = F_CREDS;
		fetch_send(a, "GET", url_path(a->c.remote));
	} else {
		a->fstage = F_TOKEN;
		fetch_send(a, "PUT", IMDS_TOKEN);
	}
}

static void
install(struct aws *a, struct aws_cred_doc *d)
{
	drop(a);
	a->akid = d->akid;
	a->secret = d->secret;
	a->token = d->token != NULL ? d->token : xstrdup("");
	a->expires = d->expires;
	a->fetched = wall();
	a->gen++;
	memset(d, 0, sizeof(*d));
}

static void
fetch_answer(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct aws		*a = arg;
	struct aws_cred_doc	 d;
	char			 err[512], why[256], path[256];
	const char		*src = a->c.src == AWS_SRC_IMDS ?
				    "instance metadata" : "container endpoint";
	size_t			 n;

	a->freq = NULL;
	if (a->fstage == F_TOKEN) {
		if (r->fail == NET_OK && r->status == 200 && r->len > 0 &&
		    r->len < 4096) {
			a->imds_token = xstrndup((const char *)r->body, r->len);
			a->imds_token[strcspn(a->imds_token, "\r\n")] = '\0';
		} else if (!a->c.imds_v1) {
			snprintf(err, sizeof(err), "aws: no IMDSv2 session "
			    "token from the instance metadata (%s%ld) and "
			    "IMDSv1 is disabled", r->fail == NET_OK ?
			    "HTTP " : r->detail, r->fail == NET_OK ?
			    r->status : 0);
			finish(a, -1, err);
			return;
		}
		a->fstage = F_ROLE;
		fetch_send(a, "GET", IMDS_CREDS);
		return;
	}
	if (r->fail != NET_OK || r->status != 200) {
		if (r->fail != NET_OK)
			snprintf(err, sizeof(err), "aws: credentials from the "
			    "%s: %s", src, r->detail);
		else
			snprintf(err, sizeof(err), "aws: credentials from the "
			    "%s: HTTP %ld", src, r->status);
		finish(a, -1, err);
		return;
	}
	if (a->fstage == F_ROLE) {
		n = strcspn((const char *)r->body, "\r\n");
		if (n == 0 || n > ROLE_MAX ||
		    strcspn((const char *)r->body, "/?#% \t") < n) {
			finish(a, -1, "aws: the instance metadata names no "
			    "usable IAM role");
			return;
		}
		a->role = xstrndup((const char *)r->body, n);
		snprintf(path, sizeof(path), IMDS_CREDS "%s", a->role);
		a->fstage = F_CREDS;
		fetch_send(a, "GET", path);
		return;
	}
	if (aws_parse_creds(r->body, r->len, &d, why, sizeof(why)) == -1) {
		snprintf(err, sizeof(err), "aws: credentials from the %s: %s",
		    src, why);
		finish(a, -1, err);
		return;
	}
	install(a, &d);
	log_info("aws: new credentials from the %s%s", src,
	    a->expires != 0 ? " (they expire)" : "");
	finish(a, 0, "");
}

int
aws_creds_want(struct aws *a, struct aws_waiter *w)
{
	if (usable(a))
		return 1;
	if (a->c.src != AWS_SRC_CONTAINER && a->c.src != AWS_SRC_IMDS) {
		/* static: as given (AWS refuses bad ones); none: fail */
		if (a->akid != NULL)
			return 1;
		w->queued = false;
		return -1;
	}
	TAILQ_INSERT_TAIL(&a->waiters, w, entry);
	w->queued = true;
	if (!a->fetching)
		fetch_begin(a);
	return 0;
}

bool
aws_creds_refused(struct aws *a, uint64_t gen)
{
	if (a->c.src != AWS_SRC_CONTAINER && a->c.src != AWS_SRC_IMDS)
		return false;
	if (gen == a->gen)
		drop(a);
	return true;
}

void
aws_creds_unwait(struct aws *a, struct aws_waiter *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&a->waiters, w, entry);
		w->queued = false;
	}
}

void
aws_creds_free(struct aws *a)
{
	if (a->freq != NULL)
		net_cancel(a->freq);
	a->freq = NULL;
	drop(a);
}
