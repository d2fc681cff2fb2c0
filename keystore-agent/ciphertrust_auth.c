/*
 * The CipherTrust store's access token (§2.3): the refresh token buys a
 * short-lived JWT (5 minutes by default) at POST /api/v1/auth/tokens.
 * As KES, a new one is asked for after half its lifetime, and after a
 * failure every credentials.retry (5 s); the new token replaces the old
 * one, and requests in flight keep the one they were sent with. Unlike
 * KES, a 401 on a data call asks for a new token at once (at most one
 * such per 5 s) and the call is sent once more (keyward C2). Everything
 * runs on the agent's event loop with one timer; one authentication is
 * in flight at a time, and whoever needs its token waits for it (struct
 * ct_waiter).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/ciphertrust.h"
#include "keystore-agent/ciphertrust_json.h"

#define FIRST_AUTH_MS	14000	/* within the parent's 15 s */
#define AUTH_PATH	"/api/v1/auth/tokens"

static void	auth_begin(struct ciphertrust *);

static void
renew_fire(struct ev_timer *t)
{
	auth_begin(t->arg);
}

static void
waiters_done(struct ciphertrust *ct, int rc, const char *err)
{
	struct ct_waiter *w;

	while ((w = TAILQ_FIRST(&ct->waiters)) != NULL) {
		TAILQ_REMOVE(&ct->waiters, w, entry);
		w->queued = false;
		w->cb(w, rc, err);
	}
}

static void
install(struct ciphertrust *ct, struct ct_token *t)
{
	uint64_t ms = t->duration_s > UINT64_MAX / 2000 ? UINT64_MAX / 2 :
	    t->duration_s * 1000;

	if (ct->jwt != NULL)
		freezero_str(ct->jwt);
	ct->jwt = t->jwt;
	t->jwt = NULL;
	ct->gen++;
	ct->expires = ev_now() + ms;
	/* KES: again after half the lifetime; not more often than 1 s. */
	ev_timer_set(&ct->renew_timer, ms / 2 > 1000 ? ms / 2 : 1000,
	    renew_fire, ct);
}

static void
auth_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct ciphertrust	*ct = arg;
	struct ct_token		 t;
	char			 err[512], why[384];

	ct->auth_req = NULL;
	ct->authing = false;
	buf_release(&ct->auth_body);
	if (r->fail != NET_OK)
		snprintf(err, sizeof(err), "gemalto: authentication failed: "
		    "%s", r->detail);
	else if (ct_parse_auth(r->status, r->content_type, r->body, r->len,
	    &t, why, sizeof(why)) == -1)
		snprintf(err, sizeof(err), "gemalto: authentication failed: "
		    "%s", why);
	else {
		log_debug("gemalto: new access token (valid %llu s)",
		    (unsigned long long)t.duration_s);
		install(ct, &t);
		waiters_done(ct, 0, "");
		return;
	}
	if (r->fail == NET_OK && r->status >= 400 && r->status < 500)
		/* §2.3: KES never says so; a refresh token that expired or
		 * was revoked stays refused until an operator acts. */
		log_warnx("%s; CipherTrust refused the refresh token or the "
		    "domain: issue a new refresh token (credentials.token)",
		    err);
	else
		log_warnx("%s", err);
	if (ct->jwt != NULL) {
		/* §2.3 / C5: until a renewal succeeds, calls fail with 401. */
		log_info("gemalto: authenticating again in %llu ms%s",
		    (unsigned long long)ct->s.retry_ms, ev_now() >= ct->expires ?
		    "; the access token has expired, calls fail until then" :
		    "");
		ev_timer_set(&ct->renew_timer, ct->s.retry_ms, renew_fire,
		    ct);
	}
	waiters_done(ct, -1, err);
}

/*
 * POST /api/v1/auth/tokens with {"grant_type":"refresh_token",
 * "refresh_token":..., "domain":...}; the body is wiped when released.
 */
static void
auth_begin(struct ciphertrust *ct)
{
	if (ct->authing)
		return;
	ct->authing = true;
	ev_timer_cancel(&ct->renew_timer);
	buf_init(&ct->auth_body, 2 * strlen(ct->s.token) +
	    2 * strlen(ct->s.domain) + 128);
	(void)ct_body_auth(&ct->auth_body, ct->s.token, ct->s.domain);
	if (ct->auth_body.failed)
		fatalx("gemalto: the authentication request does not fit");
	ct->auth_req = ct_send(ct, &ct_auth_policy, "POST", AUTH_PATH,
	    &ct->auth_body, false, auth_done, ct);
}

int
ct_reauth(struct ciphertrust *ct, uint64_t gen, struct ct_waiter *w)
{
	if (gen != ct->gen)
		return 1;
	if (!ct->authing) {
		if (ct->last_reauth != 0 &&
		    ev_now() - ct->last_reauth < CT_REAUTH_MS)
			return -1;
		ct->last_reauth = ev_now();
		log_info("gemalto: the access token was refused; "
		    "authenticating again");
	}
	TAILQ_INSERT_TAIL(&ct->waiters, w, entry);
	w->queued = true;
	auth_begin(ct);
	return 0;
}

void
ct_unwait(struct ciphertrust *ct, struct ct_waiter *w)
{
	if (w->queued)
		TAILQ_REMOVE(&ct->waiters, w, entry);
	w->queued = false;
}

/* --- start --- */

struct first {
	bool	done;
	int	rc;
	char	err[512];
};

static void
first_done(struct ct_waiter *w, int rc, const char *err)
{
	struct first *f = w->arg;

	f->done = true;
	f->rc = rc;
	snprintf(f->err, sizeof(f->err), "%s", err);
}

int
ct_auth_start(struct ciphertrust *ct, char *err, size_t errlen)
{
	struct ct_waiter	w = { .cb = first_done };
	struct first		f = { .done = false };
	uint64_t		end = ev_now() + FIRST_AUTH_MS;

	/* KES's Connect authenticates once and fails without a token. */
	w.arg = &f;
	TAILQ_INSERT_TAIL(&ct->waiters, &w, entry);
	w.queued = true;
	auth_begin(ct);
	while (!f.done && ev_now() < end)
		ev_once(250);
	if (!f.done) {
		ct_unwait(ct, &w);
		snprintf(err, errlen, "gemalto: authentication failed: no "
		    "answer within %d s", FIRST_AUTH_MS / 1000);
		return -1;
	}
	if (f.rc == -1) {
		snprintf(err, errlen, "%s", f.err);
		return -1;
	}
	log_info("gemalto: authenticated at %s%s%s", ct->s.endpoint,
	    ct->s.domain[0] != '\0' ? " in domain " : "", ct->s.domain);
	return 0;
}
