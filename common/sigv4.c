/*
 * AWS Signature Version 4, byte for byte as aws-sdk-go v1's
 * aws/signer/v4/v4.go (spec §1.4). Checked against AWS's published test
 * suite and against botocore (tests/unit/test_sigv4.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "common/buf.h"
#include "common/sigv4.h"
#include "common/xmalloc.h"

#define HDRS_MAX	64
#define CANON_MAX	(1u << 16)

struct hdr {
	char	*name;		/* lowercase */
	char	*value;		/* trimmed, blanks collapsed */
	size_t	 order;
};

static const char *const ignored[] = {
	"authorization", "user-agent", "x-amzn-trace-id", NULL
};

static void
hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static void
sha256_hex(const void *p, size_t n, char out[65])
{
	uint8_t md[SHA256_DIGEST_LENGTH];

	SHA256(p, n, md);
	hex(md, sizeof(md), out);
}

static void
hmac(const uint8_t *key, size_t klen, const void *p, size_t n,
    uint8_t out[32])
{
	unsigned int olen = 32;

	if (HMAC(EVP_sha256(), key, (int)klen, p, n, out, &olen) == NULL)
		memset(out, 0, 32);	/* cannot happen with SHA-256 */
}

static int
hdr_cmp(const void *a, const void *b)
{
	const struct hdr *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* "Name: value" into a lowercase name and the value with its blanks
 * trimmed and every run of spaces made one (v4.go stripExcessSpaces). */
static int
hdr_parse(const char *s, size_t order, struct hdr *h)
{
	const char	*colon = strchr(s, ':'), *v;
	size_t		 i, n, o;

	if (colon == NULL || colon == s)
		return -1;
	h->name = xstrndup(s, (size_t)(colon - s));
	for (i = 0; h->name[i] != '\0'; i++) {
		if (h->name[i] == ' ' || h->name[i] == '\t') {
			free(h->name);
			return -1;
		}
		h->name[i] = (char)tolower((unsigned char)h->name[i]);
	}
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	h->value = xmalloc(n + 1);
	for (i = 0, o = 0; i < n; i++) {
		if (v[i] == ' ' && o > 0 && h->value[o - 1] == ' ')
			continue;
		h->value[o++] = v[i];
	}
	h->value[o] = '\0';
	h->order = order;
	return 0;
}

static bool
is_ignored(const char *name)
{
	size_t i;

	for (i = 0; ignored[i] != NULL; i++)
		if (strcmp(name, ignored[i]) == 0)
			return true;
	return false;
}

static int
str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The query's parameters sorted bytewise (v4.go: url.Values.Encode
 * sorts by key, then the values in order; AWS sorts key=value pairs,
 * which is the same for distinct keys). */
static int
put_query(struct buf *b, const char *query)
{
	char	*copy, *p, *tok, **v = NULL;
	size_t	 n = 0, i;
	int	 rc = 0;

	if (query == NULL || *query == '\0')
		return 0;
	copy = xstrdup(query);
	for (p = copy; (tok = strsep(&p, "&")) != NULL; ) {
		if (*tok == '\0')
			continue;
		v = xreallocarray(v, n + 1, sizeof(*v));
		v[n++] = tok;
	}
	qsort(v, n, sizeof(*v), str_cmp);
	for (i = 0; i < n; i++) {
		if (i > 0)
			rc |= buf_put(b, "&", 1);
		rc |= buf_put(b, v[i], strlen(v[i]));
		if (strchr(v[i], '=') == NULL)
			rc |= buf_put(b, "=", 1);
	}
	free(v);
	free(copy);
	return rc;
}

/*
 * The canonical request into b and the signed-header list into sh.
 */
static int
canonical(const struct sigv4_req *r, struct buf *b, struct buf *sh)
{
	struct hdr	 h[HDRS_MAX];
	char		 digest[65];
	size_t		 n = 0, i;
	int		 rc = -1, put = 0;

	if (r->date == NULL || strlen(r->date) != SIGV4_DATE_LEN)
		return -1;
	for (i = 0; r->headers != NULL && r->headers[i] != NULL; i++) {
		if (n == HDRS_MAX || hdr_parse(r->headers[i], i, &h[n]) == -1)
			goto out;
		if (is_ignored(h[n].name)) {
			free(h[n].name);
			freezero_str(h[n].value);
			continue;
		}
		n++;
	}
	qsort(h, n, sizeof(h[0]), hdr_cmp);

	put |= buf_put(b, r->method, strlen(r->method));
	put |= buf_put(b, "\n", 1);
	put |= buf_put(b, r->path, strlen(r->path));
	put |= buf_put(b, "\n", 1);
	put |= put_query(b, r->query);
	put |= buf_put(b, "\n", 1);
	for (i = 0; i < n; i++) {
		bool again = i > 0 && strcmp(h[i].name, h[i - 1].name) == 0;

		if (again) {
			/* another value of the same header: "a,b" */
			buf_truncate(b, b->len - 1);
			put |= buf_put(b, ",", 1);
		} else {
			if (sh->len > 0)
				put |= buf_put(sh, ";", 1);
			put |= buf_put(sh, h[i].name, strlen(h[i].name));
			put |= buf_put(b, h[i].name, strlen(h[i].name));
			put |= buf_put(b, ":", 1);
		}
		put |= buf_put(b, h[i].value, strlen(h[i].value));
		put |= buf_put(b, "\n", 1);
	}
	put |= buf_put(b, "\n", 1);
	put |= buf_put(b, sh->data != NULL ? sh->data : (uint8_t *)"",
	    sh->len);
	put |= buf_put(b, "\n", 1);
	sha256_hex(r->body != NULL ? r->body : (const uint8_t *)"", r->len,
	    digest);
	put |= buf_put(b, digest, 64);
	put |= buf_put_u8(b, 0);
	put |= buf_put_u8(sh, 0);
	if (put == 0 && !b->failed && !sh->failed)
		rc = 0;
 out:
	for (i = 0; i < n; i++) {
		free(h[i].name);
		freezero_str(h[i].value);
	}
	return rc;
}

char *
sigv4_canonical(const struct sigv4_req *r)
{
	struct buf	 b, sh;
	char		*s = NULL;

	buf_init(&b, CANON_MAX);
	buf_init(&sh, CANON_MAX);
	if (canonical(r, &b, &sh) == 0)
		s = xstrdup((const char *)b.data);
	buf_release(&b);
	buf_release(&sh);
	return s;
}

void
sigv4_key(const char *secret, const char *date, const char *region,
    const char *service, uint8_t key[32])
{
	char	*k;
	uint8_t	 a[32], c[32];
	size_t	 klen;

	klen = strlen(secret) + 4;
	k = xmalloc(klen + 1);
	snprintf(k, klen + 1, "AWS4%s", secret);
	hmac((uint8_t *)k, klen, date, 8, a);
	hmac(a, 32, region, strlen(region), c);
	hmac(c, 32, service, strlen(service), a);
	hmac(a, 32, "aws4_request", 12, key);
	freezero(k, klen + 1);
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(c, sizeof(c));
}

int
sigv4_sign(const struct sigv4_req *r, char *auth, size_t authlen)
{
	struct buf	 b, sh;
	char		 scope[256], sts[512], crhash[65], sig[65];
	uint8_t		 key[32], mac[32];
	int		 n, rc = -1;

	buf_init(&b, CANON_MAX);
	buf_init(&sh, CANON_MAX);
	if (canonical(r, &b, &sh) == -1)
		goto out;
	sha256_hex(b.data, b.len - 1, crhash);
	n = snprintf(scope, sizeof(scope), "%.8s/%s/%s/aws4_request",
	    r->date, r->region, r->service);
	if (n < 0 || (size_t)n >= sizeof(scope))
		goto out;
	n = snprintf(sts, sizeof(sts), "AWS4-HMAC-SHA256\n%s\n%s\n%s",
	    r->date, scope, crhash);
	if (n < 0 || (size_t)n >= sizeof(sts))
		goto out;
	sigv4_key(r->secret, r->date, r->region, r->service, key);
	hmac(key, sizeof(key), sts, (size_t)n, mac);
	hex(mac, sizeof(mac), sig);
	n = snprintf(auth, authlen, "AWS4-HMAC-SHA256 Credential=%s/%s, "
	    "SignedHeaders=%s, Signature=%s", r->akid, scope,
	    (const char *)sh.data, sig);
	if (n >= 0 && (size_t)n < authlen)
		rc = 0;
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(mac, sizeof(mac));
 out:
	buf_release(&b);
	buf_release(&sh);
	return rc;
}

void
sigv4_date(long long t, char date[SIGV4_DATE_LEN + 1])
{
	struct tm	tm;
	time_t		tt = (time_t)t;

	gmtime_r(&tt, &tm);
	strftime(date, SIGV4_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}
