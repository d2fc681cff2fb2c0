/*
 * The Entrust store's access token (§5.3): POST /vault/1.0/Login/<vault>/
 * with the user's name and password gives a token and its expiry. As
 * KES, it is renewed (POST /vault/1.0/Renew/ with the current token)
 * after half its lifetime, and a failed renewal logs in again. Unlike
 * KES, when both fail the next try is armed (EN_RETRY_MS; KES stops
 * renewing for good), and a 401 on a call logs in again at once (at
 * most once per EN_REAUTH_MS) and the call is sent once more. One login
 * is in flight at a time; whoever needs its token waits for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/entrust.h"
#include "keystore-agent/entrust_json.h"

#define FIRST_AUTH_MS	12000	/* the login and GetBox within the
				 * parent's 15 s */

static void	auth_begin(struct entrust *, bool renew);

static void
renew_fire(struct ev_timer *t)
{
	struct entrust *en = t->arg;

	auth_begin(en, en->token != NULL);
}

static void
waiters_done(struct entrust *en, int rc, const char *err)
{
	struct en_waiter *w;

	while ((w = TAILQ_FIRST(&en->waiters)) != NULL) {
		TAILQ_REMOVE(&en->waiters, w, entry);
		w->queued = false;
		w->cb(w, rc, err);
	}
}

static void
install(struct entrust *en, char *token, int64_t expires)
{
	int64_t		now = (int64_t)time(NULL), life;
	uint64_t	ms;

	/* KES: a missing or past expiry counts as 5 minutes. */
	life = expires > now ? expires - now : EN_DEFAULT_LIFE_S;
	if (expires == 0)
		life = EN_DEFAULT_LIFE_S;
	ms = (uint64_t)life * 1000;
	if (en->token != NULL)
		freezero_str(en->token);
	en->token = token;
	en->gen++;
	/* Again after half the lifetime; not more often than 1 s. */
	ev_timer_set(&en->renew_timer, ms / 2 > 1000 ? ms / 2 : 1000,
	    renew_fire, en);
	log_debug("keycontrol: new access token (valid %lld s)",
	    (long long)life);
}

static void
auth_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct entrust	*en = arg;
	char		 err[512], why[384], *tok;
	int64_t		 exp;
	bool		 renew = en->renewing;

	en->auth_req = NULL;
	en->authing = false;
	buf_release(&en->auth_body);
	if (r->fail != NET_OK)
		snprintf(why, sizeof(why), "%s", r->detail);
	else if (en_parse_token(r->status, r->content_type, r->body, r->len,
	    &tok, &exp, why, sizeof(why)) == 0) {
		install(en, tok, exp);
		waiters_done(en, 0, "");
		return;
	}
	if (renew) {
		/* §5.3: a renewal that fails logs in again. */
		log_info("keycontrol: renewing the access token failed (%s); "
		    "logging in again", why);
		auth_begin(en, false);
		return;
	}
	snprintf(err, sizeof(err), "keycontrol: login failed: %s", why);
	log_warnx("%s", err);
	if (en->token != NULL) {
		log_info("keycontrol: logging in again in %d ms", EN_RETRY_MS);
		ev_timer_set(&en->renew_timer, EN_RETRY_MS, renew_fire, en);
	}
	waiters_done(en, -1, err);
}

/* Login: {"username","password"} (wiped when released); Renew: no body,
 * the current token. */
static void
auth_begin(struct entrust *en, bool renew)
{
	char path[512];

	if (en->authing)
		return;
	en->authing = true;
	en->renewing = renew;
	ev_timer_cancel(&en->renew_timer);
	if (renew) {
		en->auth_req = en_send(en, &en_auth_policy, "/vault/1.0/Renew/",
		    NULL, true, false, auth_done, en);
		return;
	}
	buf_init(&en->auth_body, 6 * strlen(en->s.username) +
	    6 * strlen(en->s.password) + 64);
	(void)en_body_login(&en->auth_body, en->s.username, en->s.password);
	if (en->auth_body.failed)
		fatalx("keycontrol: the login request does not fit");
	snprintf(path, sizeof(path), "/vault/1.0/Login/%s/", en->s.vault_id);
	en->auth_req = en_send(en, &en_auth_policy, path, &en->auth_body,
	    false, true, auth_done, en);
}

int
en_reauth(struct entrust *en, uint64_t gen, struct en_waiter *w)
{
	if (gen != en->gen)
		return 1;
	if (!en->authing) {
		if (en->last_reauth != 0 &&
		    ev_now() - en->last_reauth < EN_REAUTH_MS)
			return -1;
		en->last_reauth = ev_now();
		log_info("keycontrol: the access token was refused; logging in "
		    "again");
	}
	TAILQ_INSERT_TAIL(&en->waiters, w, entry);
	w->queued = true;
	auth_begin(en, false);
	return 0;
}

void
en_unwait(struct entrust *en, struct en_waiter *w)
{
	if (w->queued)
		TAILQ_REMOVE(&en->waiters, w, entry);
	w->queued = false;
}

/* --- start --- */

struct first {
	bool	done;
	int	rc;
	char	err[512];
};

static void
first_done(struct en_waiter *w, int rc, const char *err)
{
	struct first *f = w->arg;

	f->done = true;
	f->rc = rc;
	snprintf(f->err, sizeof(f->err), "%s", err);
}

int
en_auth_start(struct entrust *en, char *err, size_t errlen)
{
	struct en_waiter	w = { .cb = first_done };
	struct first		f = { .done = false };
	uint64_t		end = ev_now() + FIRST_AUTH_MS;

	w.arg = &f;
	TAILQ_INSERT_TAIL(&en->waiters, &w, entry);
	w.queued = true;
	auth_begin(en, false);
	while (!f.done && ev_now() < end)
		ev_once(250);
	if (!f.done) {
		en_unwait(en, &w);
		snprintf(err, errlen, "keycontrol: login failed: no answer "
		    "within %d s", FIRST_AUTH_MS / 1000);
		return -1;
	}
	if (f.rc == -1) {
		snprintf(err, errlen, "%s", f.err);
		return -1;
	}
	return 0;
}
