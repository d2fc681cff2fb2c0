/*
 * The OAuth2 token client of the cloud stores (oauth2.h): the RS256 JWT
 * of a service account, form bodies, the token endpoint's answer, and
 * the token's life on the agent's event loop (first token, renewal
 * before the end and after a refusal, waiters).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/b64.h"
#include "common/json_out.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/oauth2.h"

#define FIRST_AUTH_MS	14000	/* within the parent's 15 s */
#define JWT_MAX		16384
#define DESC_MAX	200

/* --- the assertion --- */

/* base64url of n bytes, unpadded (RFC 7515 §2), appended to b. */
static int
b64url_put(struct buf *b, const uint8_t *p, size_t n)
{
	size_t	 len = b64_encoded_len(n), i;
	char	*s = xmalloc(len + 1);
	int	 rc;

	b64_encode(p, n, s);
	while (len > 0 && s[len - 1] == '=')
		len--;
	for (i = 0; i < len; i++)
		if (s[i] == '+')
			s[i] = '-';
		else if (s[i] == '/')
			s[i] = '_';
	rc = buf_put(b, s, len);
	freezero(s, b64_encoded_len(n) + 1);
	return rc;
}

int
oauth2_jwt(EVP_PKEY *key, const char *kid, const char *iss, const char *scope,
    const char *aud, uint64_t iat, char **out, char *err, size_t errlen)
{
	struct buf	 part, jwt;
	EVP_MD_CTX	*md = NULL;
	uint8_t		 sig[1024];
	size_t		 siglen = sizeof(sig);
	int		 rc = -1;

	*out = NULL;
	buf_init(&part, JWT_MAX);
	buf_init(&jwt, JWT_MAX);
	/* Header, then claims, each base64url'd onto jwt. */
	(void)(buf_put(&part, "{", 1) | json_key(&part, "alg") |
	    json_str(&part, "RS256") | buf_put(&part, ",", 1) |
	    json_key(&part, "typ") | json_str(&part, "JWT"));
	if (kid != NULL && *kid != '\0')
		(void)(buf_put(&part, ",", 1) | json_key(&part, "kid") |
		    json_str(&part, kid));
	(void)buf_put(&part, "}", 1);
	(void)b64url_put(&jwt, part.data, part.len);
	(void)buf_put(&jwt, ".", 1);
	buf_reset(&part);
	(void)(buf_put(&part, "{", 1) | json_key(&part, "iss") |
	    json_str(&part, iss));
	if (scope != NULL && *scope != '\0')
		(void)(buf_put(&part, ",", 1) | json_key(&part, "scope") |
		    json_str(&part, scope));
	(void)(buf_put(&part, ",", 1) | json_key(&part, "aud") |
	    json_str(&part, aud) | buf_put(&part, ",", 1) |
	    json_key(&part, "iat") | buf_put_dec(&part, iat) |
	    buf_put(&part, ",", 1) | json_key(&part, "exp") |
	    buf_put_dec(&part, iat + OAUTH2_JWT_LIFE_S) |
	    buf_put(&part, "}", 1));
	(void)b64url_put(&jwt, part.data, part.len);
	if (part.failed || jwt.failed) {
		snprintf(err, errlen, "the assertion does not fit");
		goto out;
	}
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA ||
	    (md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1 ||
	    EVP_DigestSign(md, NULL, &siglen, jwt.data, jwt.len) != 1 ||
	    siglen > sizeof(sig) ||
	    EVP_DigestSign(md, sig, &siglen, jwt.data, jwt.len) != 1) {
		snprintf(err, errlen, "cannot sign the assertion with the "
		    "private key (RS256 needs an RSA key)");
		ERR_clear_error();
		goto out;
	}
	(void)buf_put(&jwt, ".", 1);
	(void)b64url_put(&jwt, sig, siglen);
	if (jwt.failed) {
		snprintf(err, errlen, "the assertion does not fit");
		goto out;
	}
	*out = xstrndup((const char *)jwt.data, jwt.len);
	rc = 0;
 out:
	EVP_MD_CTX_free(md);
	explicit_bzero(sig, sizeof(sig));
	buf_release(&part);
	buf_release(&jwt);
	return rc;
}

EVP_PKEY *
oauth2_load_key(const char *pem, char *err, size_t errlen)
{
	EVP_PKEY	*k;
	BIO		*bio;
	size_t		 len = strlen(pem);

	if (len > INT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		snprintf(err, errlen, "private key: out of memory");
		return NULL;
	}
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (k == NULL)
		snprintf(err, errlen, "private key: not a PEM private key");
	else if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		snprintf(err, errlen, "private key: not an RSA key (RS256)");
		EVP_PKEY_free(k);
		k = NULL;
	}
	return k;
}

/* --- forms --- */

static int
form_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	int	rc = 0;
	char	e[3];

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			rc |= buf_put(b, s, 1);
		else {
			e[0] = '%';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			rc |= buf_put(b, e, 3);
		}
	}
	return rc;
}

int
oauth2_form_put(struct buf *b, const char *key, const char *value)
{
	int rc = 0;

	if (b->len > 0)
		rc |= buf_put(b, "&", 1);
	return rc | form_escape(b, key) | buf_put(b, "=", 1) |
	    form_escape(b, value);
}

/* --- the answer --- */

/* Printable ASCII of s, at most DESC_MAX bytes. */
static void
clean(char *out, size_t outlen, const char *s)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < DESC_MAX && i + 1 < outlen; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

int
oauth2_parse_token(long status, const uint8_t *body, size_t len,
    char **token, uint64_t *expires_in, char *err, size_t errlen)
{
	json_t		*j, *v;
	const char	*s, *e, *d;
	char		 ce[DESC_MAX + 1], cd[DESC_MAX + 1];
	uint64_t	 n = 0;
	int		 rc = -1;

	*token = NULL;
	*expires_in = 0;
	j = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
	if (status != 200) {
		e = json_string_value(json_object_get(j, "error"));
		d = json_string_value(json_object_get(j, "error_description"));
		clean(ce, sizeof(ce), e != NULL ? e : "");
		clean(cd, sizeof(cd), d != NULL ? d : "");
		snprintf(err, errlen, "the token endpoint answered %ld%s%s%s%s",
		    status, e != NULL ? ": " : "", ce, d != NULL ? ": " : "",
		    cd);
		goto out;
	}
	if (!json_is_object(j)) {
		snprintf(err, errlen, "the token endpoint's answer is not a "
		    "JSON object");
		goto out;
	}
	s = json_string_value(json_object_get(j, "access_token"));
	if (s == NULL || *s == '\0' || strlen(s) > OAUTH2_TOKEN_MAX ||
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-._~+/=") != strlen(s)) {
		snprintf(err, errlen, "the token endpoint's answer holds no "
		    "usable access_token");
		goto out;
	}
	v = json_object_get(j, "expires_in");
	if (json_is_integer(v) && json_integer_value(v) > 0)
		n = (uint64_t)json_integer_value(v);
	else if (json_is_string(v) && (d = json_string_value(v))[0] != '\0' &&
	    strlen(d) < 10 && strspn(d, "0123456789") == strlen(d))
		n = strtoull(d, NULL, 10);
	if (n == 0) {
		snprintf(err, errlen, "the token endpoint's answer holds no "
		    "positive expires_in");
		goto out;
	}
	*token = xstrdup(s);
	*expires_in = n;
	rc = 0;
 out:
	json_decref(j);
	return rc;
}

/* --- the token's life --- */

static void	auth_begin(struct oauth2 *);

static void
renew_fire(struct ev_timer *t)
{
	auth_begin(t->arg);
}

static void
waiters_done(struct oauth2 *o, int rc, const char *err)
{
	struct oauth2_waiter *w;

	while ((w = TAILQ_FIRST(&o->waiters)) != NULL) {
		TAILQ_REMOVE(&o->waiters, w, entry);
		w->queued = false;
		w->cb(w, rc, err);
	}
}

/* Renew at half the life, but no later than 5 minutes before the end,
 * and not more often than once a second. */
static void
install(struct oauth2 *o, char *token, uint64_t life_s)
{
	uint64_t ms, ahead;

	if (life_s > UINT64_MAX / 4000)
		life_s = UINT64_MAX / 4000;
	ms = life_s * 1000;
	ahead = ms / 2 < OAUTH2_RENEW_AHEAD_S * 1000 ? ms / 2 :
	    OAUTH2_RENEW_AHEAD_S * 1000;
	if (o->token != NULL)
		freezero_str(o->token);
	o->token = token;
	o->gen++;
	o->expires = ev_now() + ms;
	ev_timer_set(&o->renew_timer, ms - ahead > 1000 ? ms - ahead : 1000,
	    renew_fire, o);
}

static void
auth_done(struct net_req *req, const struct net_resp *r, void *arg)
{
	struct oauth2	*o = arg;
	char		*tok;
	uint64_t	 life;
	char		 err[512], why[400];

	(void)req;
	o->req = NULL;
	o->authing = false;
	buf_release(&o->body);
	if (r->fail != NET_OK)
		snprintf(err, sizeof(err), "%s: no access token: %s", o->who,
		    r->detail);
	else if (oauth2_parse_token(r->status, r->body, r->len, &tok, &life,
	    why, sizeof(why)) == -1)
		snprintf(err, sizeof(err), "%s: no access token: %s", o->who,
		    why);
	else {
		log_debug("%s: new access token (valid %llu s)", o->who,
		    (unsigned long long)life);
		install(o, tok, life);
		waiters_done(o, 0, "");
		return;
	}
	log_warnx("%s", err);
	if (o->token != NULL) {
		log_info("%s: asking for a token again in %d ms%s", o->who,
		    OAUTH2_RETRY_MS, ev_now() >= o->expires ? "; the access "
		    "token has expired, calls fail until then" : "");
		ev_timer_set(&o->renew_timer, OAUTH2_RETRY_MS, renew_fire, o);
	}
	waiters_done(o, -1, err);
}

/* Temporary failures and 5xx: three attempts, 200 ms - 1 s apart. */
static bool
retry_token(const struct net_resp *r)
{
	switch (r->fail) {
	case NET_OK:
		return r->status >= 500 || r->status == 429;
	case NET_TIMEOUT:
	case NET_IO:
	case NET_TLS:
	case NET_REFUSED:
		return true;
	default:
		return false;
	}
}

static const struct net_policy token_policy = {
	3, 200, 1000, 3000, retry_token, NET_WAIT_CONSTANT
};

static void
auth_begin(struct oauth2 *o)
{
	const char	*h[2] = {
		"Content-Type: application/x-www-form-urlencoded", NULL
	};
	char		*jwt = NULL, err[256];

	if (o->authing)
		return;
	o->authing = true;
	ev_timer_cancel(&o->renew_timer);
	buf_init(&o->body, JWT_MAX + 256);
	switch (o->kind) {
	case OAUTH2_JWT_BEARER:
		if (oauth2_jwt(o->key, o->kid, o->iss, o->scope, o->aud,
		    (uint64_t)time(NULL), &jwt, err, sizeof(err)) == -1)
			fatalx("%s: %s", o->who, err);
		(void)(oauth2_form_put(&o->body, "grant_type",
		    "urn:ietf:params:oauth:grant-type:jwt-bearer") |
		    oauth2_form_put(&o->body, "assertion", jwt));
		freezero_str(jwt);
		break;
	case OAUTH2_FORM:
		(void)buf_put(&o->body, o->form, strlen(o->form));
		break;
	case OAUTH2_METADATA:
		break;
	}
	if (o->body.failed)
		fatalx("%s: the token request does not fit", o->who);
	if (o->kind == OAUTH2_METADATA)
		o->req = net_request(o->net, "GET", o->path, o->headers, NULL,
		    0, &token_policy, auth_done, o);
	else
		o->req = net_request(o->net, "POST", o->path, h, o->body.data,
		    o->body.len, &token_policy, auth_done, o);
}

static void
wait_on(struct oauth2 *o, struct oauth2_waiter *w)
{
	TAILQ_INSERT_TAIL(&o->waiters, w, entry);
	w->queued = true;
	auth_begin(o);
}

int
oauth2_ready(struct oauth2 *o, struct oauth2_waiter *w)
{
	if (o->token != NULL && ev_now() < o->expires)
		return 1;
	wait_on(o, w);
	return 0;
}

int
oauth2_reauth(struct oauth2 *o, uint64_t gen, struct oauth2_waiter *w)
{
	if (gen != o->gen)
		return 1;
	if (!o->authing) {
		if (o->last_reauth != 0 &&
		    ev_now() - o->last_reauth < OAUTH2_REAUTH_MS)
			return -1;
		o->last_reauth = ev_now();
		log_info("%s: the access token was refused; asking for a new "
		    "one", o->who);
	}
	wait_on(o, w);
	return 0;
}

void
oauth2_unwait(struct oauth2 *o, struct oauth2_waiter *w)
{
	if (w->queued)
		TAILQ_REMOVE(&o->waiters, w, entry);
	w->queued = false;
}

int
oauth2_header(const struct oauth2 *o, char *h, size_t hlen)
{
	int n = snprintf(h, hlen, "Authorization: Bearer %s",
	    o->token != NULL ? o->token : "");

	return n < 0 || (size_t)n >= hlen ? -1 : 0;
}

struct first {
	bool	done;
	int	rc;
	char	err[512];
};

static void
first_done(struct oauth2_waiter *w, int rc, const char *err)
{
	struct first *f = w->arg;

	f->done = true;
	f->rc = rc;
	snprintf(f->err, sizeof(f->err), "%s", err);
}

int
oauth2_start(struct oauth2 *o, char *err, size_t errlen)
{
	struct oauth2_waiter	w = { .cb = first_done };
	struct first		f = { .done = false };
	uint64_t		end;

	TAILQ_INIT(&o->waiters);
	end = ev_now() + FIRST_AUTH_MS;
	w.arg = &f;
	wait_on(o, &w);
	while (!f.done && ev_now() < end)
		ev_once(250);
	if (!f.done) {
		oauth2_unwait(o, &w);
		snprintf(err, errlen, "%s: no access token within %d s",
		    o->who, FIRST_AUTH_MS / 1000);
		return -1;
	}
	if (f.rc == -1) {
		snprintf(err, errlen, "%s", f.err);
		return -1;
	}
	return 0;
}
