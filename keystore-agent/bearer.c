/*
 * A cloud store's request with a bearer token (bearer.h).
 */
#include <stdio.h>
#include <string.h>

#include "keystore-agent/bearer.h"

static void	bcall_done(struct net_req *, const struct net_resp *, void *);

static void
token_came(struct oauth2_waiter *w, int rc, const char *err)
{
	struct bcall *b = w->arg;

	if (rc == 0)
		bcall_send(b);
	else
		b->failed(b, err);
}

void
bcall_send(struct bcall *b)
{
	const char	*h[3];
	char		 auth[OAUTH2_TOKEN_MAX + 64];
	size_t		 n = 0;

	b->wait.arg = b;
	b->wait.cb = token_came;
	if (b->oa != NULL) {
		if (oauth2_ready(b->oa, &b->wait) == 0)
			return;
		b->gen = b->oa->gen;
		if (oauth2_header(b->oa, auth, sizeof(auth)) == -1) {
			b->failed(b, "the access token does not fit a header");
			return;
		}
		h[n++] = auth;
	}
	if (b->send_body)
		h[n++] = "Content-Type: application/json";
	h[n] = NULL;
	b->req = net_request(b->net, b->method, b->path, h,
	    b->send_body ? b->body.data : NULL, b->send_body ? b->body.len : 0,
	    b->pol, bcall_done, b);
	explicit_bzero(auth, sizeof(auth));
}

/* A refused token: one new token and one more try, unless a new one
 * was asked for less than 5 s ago. */
static void
bcall_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct bcall	*b = arg;
	int		 rc;

	(void)req;
	b->req = NULL;
	if (b->oa != NULL && r->fail == NET_OK && b->refused(r->status) &&
	    !b->reauthed) {
		b->reauthed = true;
		if ((rc = oauth2_reauth(b->oa, b->gen, &b->wait)) == 1)
			bcall_send(b);
		if (rc >= 0)
			return;
	}
	b->answer(b, r);
}

void
bcall_release(struct bcall *b)
{
	if (b->req != NULL)
		net_cancel(b->req);
	b->req = NULL;
	if (b->oa != NULL)
		oauth2_unwait(b->oa, &b->wait);
	buf_release(&b->body);
}
