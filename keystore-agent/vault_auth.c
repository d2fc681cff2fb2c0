/*
 * The Vault store's token: login (AppRole or Kubernetes, §1.6.1), the
 * renewal loop (§1.6.2 with keyward's V7), the re-login a 403 asks for
 * (V6), and the health loop that watches the seal (§1.6.3). Everything
 * runs on the agent's event loop with timers; one login is in flight at
 * a time, and whoever needs its token waits for it (struct
 * vault_waiter).
 *
 * Renewal, as KES since 2025-01: at 80 % of the TTL the token renews
 * itself (renew-self, increment 0, with the store's namespace); the
 * result is installed only after min(remaining/2, 30 s), so that Vault
 * replicas have seen it (minio/kes#488). A failed or impossible renewal
 * logs in instead. A TTL under 30 s means logging in again every
 * max(TTL/2, 1 s) (KES: every 3 s); a TTL of 0 never expires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/vault.h"

#define RENEW_DELAY_MAX_MS	30000	/* KES's Delay */
#define SHORT_TTL_S		30
#define SEALED_POLL_MS		1000
#define FIRST_LOGIN_MS		14000	/* within the parent's 15 s */

static void	login_start(struct vault *);
static void	renew_fire(struct ev_timer *);
static void	health_fire(struct ev_timer *);

/* The namespace of a login: "/" is the root (no header), "" the store's
 * (§1.6.1). */
static const char *
login_ns(const struct vault *v)
{
	if (strcmp(v->s.auth_namespace, "/") == 0)
		return NULL;
	if (v->s.auth_namespace[0] != '\0')
		return v->s.auth_namespace;
	return v->s.namespace;
}

static void
install(struct vault *v, struct vault_login *l)
{
	if (v->token != NULL)
		freezero_str(v->token);
	v->token = l->token;
	l->token = NULL;
	v->gen++;
	v->ttl_s = l->ttl_s;
	v->renewable = l->renewable;
}

static void
pending_drop(struct vault *v)
{
	ev_timer_cancel(&v->install_timer);
	if (v->pending.token != NULL)
		freezero_str(v->pending.token);
	v->pending.token = NULL;
}

/* After a token is installed: when to renew it or log in again. */
static void
schedule(struct vault *v)
{
	uint64_t ttl_ms = v->ttl_s * 1000, renew_in, every;

	if (v->ttl_s == 0) {
		/* KES stops here for the first token only, then churns. */
		if (v->expires)
			log_info("vault: the new token does not expire; it is "
			    "not renewed");
		v->expires = false;
		ev_timer_cancel(&v->renew_timer);
		return;
	}
	v->expires = true;
	if (v->ttl_s < SHORT_TTL_S) {
		every = ttl_ms / 2 > 1000 ? ttl_ms / 2 : 1000;
		log_warnx("vault: the token lives %llu s, less than %d s: "
		    "logging in again every %llu ms; give the role a longer "
		    "TTL", (unsigned long long)v->ttl_s, SHORT_TTL_S,
		    (unsigned long long)every);
		v->delay_ms = 0;
		ev_timer_set(&v->renew_timer, every, renew_fire, v);
		return;
	}
	renew_in = ttl_ms / 1000 * 800 + ttl_ms % 1000 * 800 / 1000;
	v->delay_ms = (ttl_ms - renew_in) / 2;
	if (v->delay_ms > RENEW_DELAY_MAX_MS)
		v->delay_ms = RENEW_DELAY_MAX_MS;
	ev_timer_set(&v->renew_timer, renew_in, renew_fire, v);
}

static void
install_fire(struct ev_timer *t)
{
	struct vault *v = t->arg;

	/* A login in between made this result stale. */
	if (v->pending_gen != v->gen) {
		pending_drop(v);
		return;
	}
	install(v, &v->pending);
	log_debug("vault: renewed token in use (TTL %llu s)",
	    (unsigned long long)v->ttl_s);
	schedule(v);
}

/* A renewal's result: in use after the delay, unless someone waits. */
static void
install_later(struct vault *v, struct vault_login *l)
{
	pending_drop(v);
	v->pending = *l;
	l->token = NULL;
	v->pending_gen = v->gen;
	ev_timer_set(&v->install_timer, v->delay_ms, install_fire, v);
}

static void
waiters_done(struct vault *v, int rc, const char *err)
{
	struct vault_waiter *w;

	while ((w = TAILQ_FIRST(&v->waiters)) != NULL) {
		TAILQ_REMOVE(&v->waiters, w, entry);
		w->queued = false;
		w->cb(w, rc, err);
	}
}

static void
login_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct vault		*v = arg;
	struct vault_login	 l;
	char			 err[384], why[320];
	int			 rc;

	v->login_req = NULL;
	v->logging_in = false;
	buf_release(&v->login_body);
	if (r->fail != NET_OK) {
		snprintf(err, sizeof(err), "vault: authentication failed: %s",
		    r->detail);
		rc = -1;
	} else if ((rc = vault_parse_login(r->status, r->body, r->len, &l,
	    why, sizeof(why))) == -1)
		snprintf(err, sizeof(err), "vault: authentication failed: "
		    "PUT /v1/auth/%s/login: %s", v->s.auth_engine, why);
	if (rc == -1) {
		log_warnx("%s", err);
		if (v->token != NULL)	/* not the first: try again */
			ev_timer_set(&v->renew_timer, VAULT_RETRY_LOGIN_MS,
			    renew_fire, v);
		v->install_now = false;
		waiters_done(v, -1, err);
		return;
	}
	log_debug("vault: logged in (TTL %llu s%s)",
	    (unsigned long long)l.ttl_s, l.renewable ? ", renewable" : "");
	if (v->install_now || v->token == NULL || v->delay_ms == 0) {
		pending_drop(v);
		install(v, &l);
		schedule(v);
	} else
		install_later(v, &l);
	v->install_now = false;
	waiters_done(v, 0, "");
}

static void
login_send(struct vault *v)
{
	char url[VAULT_PATH_MAX], loc[VAULT_PATH_MAX];

	if (vault_path_join(loc, sizeof(loc), "auth", v->s.auth_engine,
	    "login", (char *)NULL) == -1 ||
	    vault_url(url, sizeof(url), loc, NULL) == -1 ||
	    v->login_body.failed) {
		buf_release(&v->login_body);
		v->logging_in = false;
		waiters_done(v, -1, "vault: authentication failed: the "
		    "login request does not fit");
		return;
	}
	v->login_req = vault_send(v, &vault_auth_policy, "PUT", url,
	    &v->login_body, false, login_ns(v), login_done, v);
}

/* The JWT file, re-read at every login (KES since 2024-11), through
 * the helper: the agent reads no file once sandboxed. */
static void
jwt_read(int error, const uint8_t *data, size_t len, const char *detail,
    void *arg)
{
	struct vault	*v = arg;
	char		*jwt, err[384];

	if (error == 0) {
		/* V11: a trailing newline is no part of a JWT. */
		while (len > 0 && (data[len - 1] == '\n' ||
		    data[len - 1] == '\r'))
			len--;
		if (len == 0 || memchr(data, '\0', len) != NULL)
			detail = "the file holds no JWT";
		else {
			jwt = xstrndup((const char *)data, len);
			buf_init(&v->login_body, 2 * len + 256);
			(void)vault_body_kubernetes(&v->login_body, jwt,
			    v->s.auth_id);
			freezero(jwt, len + 1);
			login_send(v);
			return;
		}
	}
	snprintf(err, sizeof(err), "vault: authentication failed: cannot read "
	    "the Kubernetes JWT from '%s': %s", v->s.auth_secret, detail);
	log_warnx("%s", err);
	v->logging_in = false;
	if (v->token != NULL)
		ev_timer_set(&v->renew_timer, VAULT_RETRY_LOGIN_MS, renew_fire,
		    v);
	waiters_done(v, -1, err);
}

static void
login_start(struct vault *v)
{
	if (v->logging_in)
		return;
	v->logging_in = true;
	if (v->s.kubernetes && v->s.jwt_file) {
		helper_read_file(v->s.auth_secret, jwt_read, v);
		return;
	}
	buf_init(&v->login_body, 2 * strlen(v->s.auth_secret) +
	    2 * strlen(v->s.auth_id) + 256);
	if (v->s.kubernetes)
		(void)vault_body_kubernetes(&v->login_body, v->s.auth_secret,
		    v->s.auth_id);
	else
		(void)vault_body_approle(&v->login_body, v->s.auth_id,
		    v->s.auth_secret);
	login_send(v);
}

int
vault_relogin(struct vault *v, uint64_t gen, struct vault_waiter *w)
{
	if (gen != v->gen)
		return 1;
	if (!v->logging_in) {
		if (v->last_relogin != 0 &&
		    ev_now() - v->last_relogin < VAULT_RELOGIN_MS)
			return -1;
		v->last_relogin = ev_now();
		log_info("vault: the token was refused; logging in again");
	}
	v->install_now = true;
	TAILQ_INSERT_TAIL(&v->waiters, w, entry);
	w->queued = true;
	login_start(v);
	return 0;
}

void
vault_unwait(struct vault *v, struct vault_waiter *w)
{
	if (w->queued)
		TAILQ_REMOVE(&v->waiters, w, entry);
	w->queued = false;
}

/* --- renewal --- */

static void
renew_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct vault		*v = arg;
	struct vault_login	 l;
	char			 why[320];

	v->renew_req = NULL;
	buf_release(&v->renew_body);
	if (r->fail != NET_OK)
		log_warnx("vault: renewing the token failed: %s; logging in "
		    "again", r->detail);
	else if (vault_parse_login(r->status, r->body, r->len, &l, why,
	    sizeof(why)) == -1)
		log_warnx("vault: renewing the token failed: %s; logging in "
		    "again", why);
	else {
		/* The answer's token is ours; whatever it says, it is the
		 * one to install. */
		log_debug("vault: token renewed (TTL %llu s)",
		    (unsigned long long)l.ttl_s);
		install_later(v, &l);
		return;
	}
	login_start(v);
}

static void
renew_fire(struct ev_timer *t)
{
	struct vault	*v = t->arg;
	char		 url[VAULT_PATH_MAX];

	if (v->sealed) {
		ev_timer_set(&v->renew_timer, SEALED_POLL_MS, renew_fire, v);
		return;
	}
	if (v->ttl_s < SHORT_TTL_S || !v->renewable || v->renew_req != NULL) {
		login_start(v);
		return;
	}
	buf_init(&v->renew_body, 64);
	if (vault_body_renew(&v->renew_body) == -1 ||
	    vault_url(url, sizeof(url), "auth/token/renew-self", NULL) == -1)
		fatalx("vault: the renew-self request does not fit");
	/* The store's namespace, not the login's (as KES). */
	v->renew_req = vault_send(v, &vault_renew_policy, "PUT", url,
	    &v->renew_body, true, v->s.namespace, renew_done, v);
}

/* --- health --- */

static void
health_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct vault		*v = arg;
	struct vault_health	 h;
	char			 why[320];

	v->health_req = NULL;
	ev_timer_set(&v->health_timer, v->s.ping_ms, health_fire, v);
	if (r->fail != NET_OK) {
		log_debug("vault: health check: %s", r->detail);
		return;
	}
	if (vault_parse_health(r->status, r->body, r->len, &h, why,
	    sizeof(why)) == -1) {
		log_debug("vault: health check: %s", why);
		return;
	}
	if (h.sealed && !v->sealed)
		log_warnx("vault: Vault is sealed; calls fail until it is "
		    "unsealed");
	else if (!h.sealed && v->sealed)
		log_info("vault: Vault is unsealed");
	v->sealed = h.sealed;
}

static void
health_check(struct vault *v)
{
	if (v->health_req != NULL)
		return;
	/* No namespace: sys/health is root-only (hashicorp/vault#14934);
	 * no token either, it needs none. */
	v->health_req = vault_send(v, &vault_health_policy, "GET",
	    VAULT_HEALTH_URL, NULL, false, NULL, health_done,
	    v);
}

static void
health_fire(struct ev_timer *t)
{
	health_check(t->arg);
}

/* --- start --- */

struct first {
	bool	done;
	int	rc;
	char	err[384];
};

static void
first_done(struct vault_waiter *w, int rc, const char *err)
{
	struct first *f = w->arg;

	f->done = true;
	f->rc = rc;
	snprintf(f->err, sizeof(f->err), "%s", err);
}

int
vault_auth_start(struct vault *v, char *err, size_t errlen)
{
	struct vault_waiter	w = { .cb = first_done };
	struct first		f = { .done = false };
	uint64_t		end = ev_now() + FIRST_LOGIN_MS;

	/* KES does not start without a token; neither do we. Calls wait
	 * in the parent meanwhile: the agent is not ready yet. */
	w.arg = &f;
	TAILQ_INSERT_TAIL(&v->waiters, &w, entry);
	w.queued = true;
	v->install_now = true;
	login_start(v);
	while (!f.done && ev_now() < end)
		ev_once(250);
	if (!f.done) {
		vault_unwait(v, &w);
		snprintf(err, errlen, "vault: authentication failed: no answer "
		    "within %d s", FIRST_LOGIN_MS / 1000);
		return -1;
	}
	if (f.rc == -1) {
		snprintf(err, errlen, "%s", f.err);
		return -1;
	}
	log_info("vault: logged in with %s at %s",
	    v->s.kubernetes ? "Kubernetes" : "AppRole", v->s.endpoint);
	health_check(v);
	return 0;
}
