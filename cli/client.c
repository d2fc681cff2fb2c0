/*
 * Requests of the client commands: endpoints and credentials from the
 * environment (spec §9), libcurl over mutual TLS, load balancing and
 * retries (§8.6), and messages for every way a request can fail.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/ui.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "cli/cli.h"
#include "cli/client.h"
#include "common/apikey.h"
#include "common/identity.h"
#include "common/xmalloc.h"

#define MAX_ENDPOINTS	64
#define MAX_BODY	(8 * 1024 * 1024)	/* /v1/metrics is the largest */
#define CONNECT_MS	30000L			/* kms-go's dial timeout */
#define REQUEST_MS	60000L			/* whole non-stream request */
#define RETRIES		2			/* kms-go retry.go */

struct client {
	struct lb_endpoint	 ep[MAX_ENDPOINTS];
	size_t			 nep;
	size_t			 answered;	/* endpoint of the last answer */
	CURL			*curl;
	bool			 insecure;
	char			*ca;		/* KES_CAPATH: file or directory */
	bool			 ca_dir;
	/* The client certificate: from files or made from an API key. */
	X509			*cert;
	STACK_OF(X509)		*chain;
	EVP_PKEY		*key;
	char			*cred;		/* "client certificate FILE" */
	char			 id[IDENTITY_LEN + 1];
};

/* One transfer's state. */
struct xfer {
	struct client		*c;
	struct client_resp	*resp;
	int			(*cb)(const char *, size_t, void *);
	void			*arg;
	bool			 streaming;	/* a 200 stream has begun */
	bool			 too_big;
};

/* Why an endpoint did not answer, for the message at the end. */
enum fail_kind {
	FAIL_NET = 1,	/* retried, then next endpoint */
	FAIL_TLS,	/* not retried: it will fail the same way */
	FAIL_STOP	/* interrupted, or the stream callback stopped */
};

uint64_t
client_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- load balancing (kms-go kes/cluster.go) ------------------------- */

size_t
lb_order(const struct lb_endpoint *ep, size_t n, size_t start, uint64_t now,
    size_t *order)
{
	size_t	i, j, k = 0;

	if (n == 0)
		return 0;
	if (n == 1) {
		order[0] = 0;
		return 1;
	}
	/* Endpoints are sorted localhost first; a local one goes first. */
	if (ep[0].localhost && ep[0].down_until <= now)
		order[k++] = 0;
	for (i = 0; i < n; i++) {
		j = (start + i) % n;
		if (k > 0 && order[0] == 0 && j == 0)
			continue;
		if (ep[j].down_until <= now)
			order[k++] = j;
	}
	/* All in their timeout: a second pass tries every one. */
	if (k == 0)
		for (i = 0; i < n; i++)
			order[k++] = (start + i) % n;
	return k;
}

void
lb_failed(struct lb_endpoint *ep, uint64_t now)
{
	ep->down_until = now + LB_TIMEOUT_MS;
}

void
lb_succeeded(struct lb_endpoint *ep)
{
	ep->down_until = 0;
}

/* --- environment ------------------------------------------------------ */

/*
 * The first of the variables (NULL-terminated) that is set and not empty:
 * today's names in KES's order (§9), then those of older kes CLIs
 * (shared/spec/keystores-cloud-and-legacy-config.md §7.7).
 */
static const char *
env_first(const char *name, ...)
{
	const char	*v = NULL;
	va_list		 ap;

	va_start(ap, name);
	for (; name != NULL; name = va_arg(ap, const char *))
		if ((v = getenv(name)) != NULL && *v != '\0')
			break;
	va_end(ap);
	return name != NULL ? v : NULL;
}

static bool
is_localhost(const char *url)
{
	const char *h = url + strlen("https://");

	return strncmp(h, "localhost", 9) == 0 || strncmp(h, "127.", 4) == 0 ||
	    strncmp(h, "[::1]", 5) == 0;
}

/* Split "a, b,c" into https:// URLs (§9): http:// stripped, https://
 * added when missing, blanks trimmed, empty items skipped. */
static int
parse_servers(struct client *c, const char *list)
{
	char		*dup = xstrdup(list), *p, *item, *end;
	size_t		 i, nl = 0;
	struct lb_endpoint tmp[MAX_ENDPOINTS];

	for (p = dup; (item = strsep(&p, ",")) != NULL;) {
		while (*item == ' ' || *item == '\t')
			item++;
		end = item + strlen(item);
		while (end > item && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		while (end > item && end[-1] == '/')
			*--end = '\0';
		if (*item == '\0')
			continue;
		if (c->nep == MAX_ENDPOINTS) {
			cli_warnx("too many servers in the list (at most %d)",
			    MAX_ENDPOINTS);
			free(dup);
			return -1;
		}
		if (strncmp(item, "http://", 7) == 0)
			item += 7;
		if (strncmp(item, "https://", 8) == 0)
			item += 8;
		xasprintf(&c->ep[c->nep].url, "https://%s", item);
		c->ep[c->nep].localhost = is_localhost(c->ep[c->nep].url);
		c->nep++;
	}
	free(dup);
	if (c->nep == 0) {
		cli_warnx("no server address in '%s'", list);
		return -1;
	}
	/* Localhost first, otherwise in the given order. */
	for (i = 0; i < c->nep; i++)
		if (c->ep[i].localhost)
			tmp[nl++] = c->ep[i];
	for (i = 0; i < c->nep; i++)
		if (!c->ep[i].localhost)
			tmp[nl++] = c->ep[i];
	memcpy(c->ep, tmp, c->nep * sizeof(c->ep[0]));
	return 0;
}

/* --- credentials -------------------------------------------------------- */

static int
load_cert_files(struct client *c, const char *certfile, const char *keyfile)
{
	FILE		*f;
	X509		*x;
	struct cli_pw	 pw = { .path = keyfile };

	if ((f = fopen(certfile, "r")) == NULL) {
		cli_warnx("cannot open the client certificate %s: %s",
		    certfile, strerror(errno));
		return -1;
	}
	c->cert = PEM_read_X509(f, NULL, NULL, NULL);
	if (c->cert != NULL) {
		c->chain = sk_X509_new_null();
		while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL)
			if (c->chain == NULL || sk_X509_push(c->chain, x) == 0)
				X509_free(x);
	}
	fclose(f);
	ERR_clear_error();
	if (c->cert == NULL) {
		cli_warnx("the client certificate %s holds no PEM "
		    "certificate", certfile);
		return -1;
	}
	if ((f = fopen(keyfile, "r")) == NULL) {
		cli_warnx("cannot open the client key %s: %s", keyfile,
		    strerror(errno));
		return -1;
	}
	c->key = PEM_read_PrivateKey(f, NULL, cli_pem_password, &pw);
	fclose(f);
	ERR_clear_error();
	if (c->key == NULL) {
		if (pw.notty)
			cli_warnx("the client key %s is encrypted; run the "
			    "command on a terminal to enter its password",
			    keyfile);
		else if (pw.asked)
			cli_warnx("cannot decrypt the client key %s: wrong "
			    "password?", keyfile);
		else
			cli_warnx("the client key %s holds no PEM private "
			    "key", keyfile);
		return -1;
	}
	if (X509_check_private_key(c->cert, c->key) != 1) {
		ERR_clear_error();
		cli_warnx("the client key %s does not belong to the "
		    "certificate %s", keyfile, certfile);
		return -1;
	}
	if (identity_of_cert(c->cert, c->id) == -1) {
		cli_warnx("cannot compute the identity of %s", certfile);
		return -1;
	}
	xasprintf(&c->cred, "client certificate %s", certfile);
	return 0;
}

/* The self-signed certificate kes clients make from an API key (§4.4),
 * kept in memory only. */
static int
load_api_key(struct client *c, const char *text)
{
	struct apikey	ak;
	int		rc = -1;

	if (apikey_parse(text, &ak) == -1) {
		cli_warnx("the API key is not a KES API key (kes:v1:...)");
		goto out;
	}
	if ((c->key = apikey_pkey(&ak)) == NULL ||
	    (c->cert = apikey_certificate(&ak, c->key)) == NULL ||
	    apikey_identity(&ak, c->id) == -1) {
		cli_warnx("cannot make a certificate from the API key");
		goto out;
	}
	c->cred = xstrdup("API key");
	rc = 0;
out:
	explicit_bzero(&ak, sizeof(ak));
	return rc;
}

static int
load_credentials(struct client *c, const struct cli_flags *fl)
{
	const char *apikey, *cert, *key;

	apikey = fl->api_key != NULL ? fl->api_key : env_first(
	    "MINIO_KES_API_KEY", "KES_API_KEY", "MINIO_KMS_KES_API_KEY", NULL);
	cert = env_first("MINIO_KES_CERT_FILE", "KES_CLIENT_CERT",
	    "MINIO_KES_CLIENT_CERT", "KES_CLIENT_TLS_CERT_FILE",
	    "KEY_CLIENT_TLS_CERT_FILE", NULL);
	key = env_first("MINIO_KES_KEY_FILE", "KES_CLIENT_KEY",
	    "MINIO_KES_CLIENT_KEY", "KES_CLIENT_TLS_KEY_FILE",
	    "KEY_CLIENT_TLS_KEY_FILE", NULL);
	if (apikey != NULL && fl->api_key == NULL && (cert || key)) {
		cli_warnx("both an API key (KES_API_KEY) and a client "
		    "certificate (KES_CLIENT_CERT/KES_CLIENT_KEY) are set; "
		    "unset one of them");
		return -1;
	}
	if (apikey != NULL)
		return load_api_key(c, apikey);
	if (cert == NULL && key == NULL) {
		cli_warnx("no credentials: set KES_API_KEY, or "
		    "KES_CLIENT_CERT and KES_CLIENT_KEY");
		return -1;
	}
	if (cert == NULL || key == NULL) {
		cli_warnx("%s is set but %s is not; both are needed",
		    cert ? "KES_CLIENT_CERT" : "KES_CLIENT_KEY",
		    cert ? "KES_CLIENT_KEY" : "KES_CLIENT_CERT");
		return -1;
	}
	return load_cert_files(c, cert, key);
}

static int
load_ca(struct client *c)
{
	const char	*ca;
	struct stat	 st;

	if ((ca = env_first("KES_CAPATH", "MINIO_KMS_KES_CAPATH", NULL)) ==
	    NULL)
		return 0;
	if (stat(ca, &st) == -1) {
		cli_warnx("cannot read the CA file %s (KES_CAPATH): %s", ca,
		    strerror(errno));
		return -1;
	}
	c->ca = xstrdup(ca);
	c->ca_dir = S_ISDIR(st.st_mode);
	return 0;
}

int
client_new(const struct cli_flags *fl, struct client **cp)
{
	struct client	*c;
	const char	*servers;
	uint32_t	 r;

	*cp = NULL;
	c = xcalloc(1, sizeof(*c));
	c->insecure = fl->insecure;
	servers = fl->server != NULL ? fl->server : env_first(
	    "MINIO_KES_SERVER", "KES_SERVER", "MINIO_KMS_KES_ENDPOINT",
	    "KEY_SERVER", NULL);
	if (parse_servers(c, servers ? servers : "127.0.0.1:7373") == -1) {
		client_free(c);
		return CLI_USAGE;
	}
	if (load_ca(c) == -1 || load_credentials(c, fl) == -1) {
		client_free(c);
		return CLI_CONN;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK ||
	    (c->curl = curl_easy_init()) == NULL) {
		cli_warnx("cannot initialise libcurl");
		client_free(c);
		return CLI_CONN;
	}
	/* The random start of the round robin (§8.6). */
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)getpid();
	c->answered = r % c->nep;
	*cp = c;
	return CLI_OK;
}

void
client_free(struct client *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nep; i++)
		free(c->ep[i].url);
	if (c->curl != NULL)
		curl_easy_cleanup(c->curl);
	X509_free(c->cert);
	sk_X509_pop_free(c->chain, X509_free);
	EVP_PKEY_free(c->key);
	free(c->cred);
	free(c->ca);
	free(c);
}

const char *
client_identity(const struct client *c)
{
	return c->id;
}

const char *
client_endpoint(const struct client *c)
{
	return c->ep[c->answered].url;
}

void
client_resp_free(struct client_resp *r)
{
	/* Answers carry plaintexts and data keys. */
	if (r->body != NULL)
		freezero(r->body, r->len + 1);
	memset(r, 0, sizeof(*r));
}

/* --- one transfer --------------------------------------------------------- */

/* The certificate and key go to the connection's SSL_CTX from memory:
 * an API key's private key never touches a file. */
static CURLcode
ssl_ctx_cb(CURL *curl, void *sslctx, void *arg)
{
	struct client *c = arg;

	if (SSL_CTX_use_cert_and_key(sslctx, c->cert, c->key, c->chain, 1) !=
	    1) {
		ERR_clear_error();
		return CURLE_SSL_CERTPROBLEM;
	}
	return CURLE_OK;
}

static size_t
write_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer		*x = arg;
	struct client_resp	*r = x->resp;
	size_t			 len = size * n;
	long			 code = 0;
	char			*p;

	curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &code);
	if (x->cb != NULL && code == 200) {
		x->streaming = true;
		return x->cb(data, len, x->arg) == 0 ? len : 0;
	}
	if (r->len + len > MAX_BODY) {
		x->too_big = true;
		return 0;
	}
	/* Grown by copy, so that no unwiped copy is left behind. */
	p = xmalloc(r->len + len + 1);
	if (r->body != NULL) {
		memcpy(p, r->body, r->len);
		freezero(r->body, r->len + 1);
	}
	r->body = p;
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

bool
client_kes_ns_era(const char *v)
{
	/* The first release that sent seconds and milliseconds. */
	static const char	 first[] = "2023-10-24T20-26-51Z";
	static const char	 shape[] = "dddd-dd-ddTdd-dd-ddZ";
	size_t			 i;

	if (v == NULL)
		return false;
	if (v[0] == 'v')
		v++;
	if (strncmp(v, "0.", 2) == 0)
		return v[2] >= '0' && v[2] <= '9';
	if (strlen(v) != sizeof(shape) - 1)
		return false;
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? v[i] < '0' || v[i] > '9' : v[i] != shape[i])
			return false;
	return strcmp(v, first) < 0;
}

bool
client_is_ndjson(const struct client_resp *r)
{
	return strncasecmp(r->ctype, "application/x-ndjson", 20) == 0;
}

static size_t
header_cb(char *data, size_t size, size_t n, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * n, v;

	if (len > 13 && strncasecmp(data, "Content-Type:", 13) == 0) {
		for (v = 13; v < len && (data[v] == ' ' || data[v] == '\t');
		    v++)
			;
		while (len > v && (data[len - 1] == '\r' ||
		    data[len - 1] == '\n' || data[len - 1] == ' '))
			len--;
		snprintf(x->resp->ctype, sizeof(x->resp->ctype), "%.*s",
		    (int)(len - v), data + v);
	}
	return size * n;
}

static int
progress_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut,
    curl_off_t un)
{
	return cli_interrupted() ? 1 : 0;
}

/* The text after "alert " in an OpenSSL error ("tlsv13 alert
 * certificate required"), or NULL. */
static const char *
tls_alert(const char *err)
{
	const char *a = strstr(err, " alert ");

	return a != NULL ? a + 7 : NULL;
}

static const char *
verify_reason(long v)
{
	switch (v) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "the certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "the certificate is not valid yet";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "unknown CA";
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "host name mismatch";
	default:
		return X509_verify_cert_error_string(v);
	}
}

/* Where the server certificate was checked against, for messages. */
static void
ca_source(const struct client *c, char *out, size_t len)
{
	if (c->ca != NULL)
		snprintf(out, len, "the CA %s %.500s (KES_CAPATH)",
		    c->ca_dir ? "directory" : "file", c->ca);
	else
		snprintf(out, len, "the system's trusted CAs (set KES_CAPATH "
		    "to the server's CA file, or use -k)");
}

/*
 * Why a transfer failed, as one message; the kind decides whether to
 * retry. Connection errors name errno's text; TLS errors name the file
 * involved and the reason.
 */
static enum fail_kind
describe(const struct client *c, const char *url, CURLcode rc,
    const char *errbuf, char *msg, size_t len)
{
	char		 src[700];
	const char	*alert;
	long		 verify = X509_V_OK, oserr = 0;

	curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	if (*errbuf == '\0')
		errbuf = curl_easy_strerror(rc);
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_WRITE_ERROR:
		snprintf(msg, len, "interrupted");
		return FAIL_STOP;
	case CURLE_PEER_FAILED_VERIFICATION:
		ca_source(c, src, sizeof(src));
		/* curl checks the name itself, after OpenSSL's chain check,
		 * and says so only in its message. */
		if (verify == X509_V_OK || strstr(errbuf, "subject name") !=
		    NULL || strstr(errbuf, "does not match") != NULL)
			snprintf(msg, len, "TLS: the certificate of %s does "
			    "not name that host (host name mismatch): %s",
			    url, errbuf);
		else
			snprintf(msg, len, "TLS: the certificate of %s does "
			    "not verify with %s: %s", url, src,
			    verify_reason(verify));
		return FAIL_TLS;
	case CURLE_SSL_CACERT_BADFILE:
		ca_source(c, src, sizeof(src));
		snprintf(msg, len, "TLS: cannot load %s: %s", src, errbuf);
		return FAIL_TLS;
	case CURLE_SSL_CERTPROBLEM:
		snprintf(msg, len, "TLS: cannot use the %s: %s", c->cred,
		    errbuf);
		return FAIL_TLS;
	default:
		break;
	}
	if ((alert = tls_alert(errbuf)) != NULL) {
		/* TLS 1.3 reports a refused client certificate after the
		 * handshake, on the first read. */
		snprintf(msg, len, "TLS: %s refused the %s: %s", url, c->cred,
		    alert);
		return FAIL_TLS;
	}
	if (rc == CURLE_SSL_CONNECT_ERROR && oserr == 0) {
		snprintf(msg, len, "TLS handshake with %s failed: %s", url,
		    errbuf);
		return FAIL_TLS;
	}
	if (oserr != 0)
		snprintf(msg, len, "cannot reach %s: %s", url,
		    strerror((int)oserr));
	else
		snprintf(msg, len, "cannot reach %s: %s", url, errbuf);
	return FAIL_NET;
}

/* One attempt at one endpoint: 0 with an answer in resp, else a kind. */
static int
attempt(struct client *c, const char *base, const char *method,
    const char *path, const char *body, struct xfer *x, char *msg,
    size_t msglen)
{
	char			 errbuf[CURL_ERROR_SIZE], *url;
	struct curl_slist	*hdr = NULL;
	CURLcode		 rc;

	client_resp_free(x->resp);
	x->too_big = false;
	errbuf[0] = '\0';
	xasprintf(&url, "%s%s", base, path);
	curl_easy_reset(c->curl);
	curl_easy_setopt(c->curl, CURLOPT_URL, url);
	curl_easy_setopt(c->curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_MS);
	if (x->cb == NULL)
		curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, REQUEST_MS);
	curl_easy_setopt(c->curl, CURLOPT_SSLVERSION,
	    (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_FUNCTION, ssl_ctx_cb);
	curl_easy_setopt(c->curl, CURLOPT_SSL_CTX_DATA, c);
	if (c->insecure) {
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c->curl, CURLOPT_SSL_VERIFYHOST, 0L);
	} else if (c->ca != NULL)
		curl_easy_setopt(c->curl, c->ca_dir ? CURLOPT_CAPATH :
		    CURLOPT_CAINFO, c->ca);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c->curl, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c->curl, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c->curl, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c->curl, CURLOPT_XFERINFOFUNCTION, progress_cb);
	curl_easy_setopt(c->curl, CURLOPT_USERAGENT, "keyward/"
	    KEYWARD_VERSION);
	if (body != NULL) {
		hdr = curl_slist_append(hdr,
		    "Content-Type: application/json");
		hdr = curl_slist_append(hdr, "Expect:");
		curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, hdr);
	}
	/* A POST without a body still says Content-Length: 0. */
	if (body != NULL || strcmp(method, "POST") == 0 ||
	    strcmp(method, "PUT") == 0) {
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS,
		    body != NULL ? body : "");
		curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE,
		    body != NULL ? (long)strlen(body) : 0L);
	}
	curl_easy_setopt(c->curl, CURLOPT_CUSTOMREQUEST, method);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(hdr);
	free(url);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE,
		    &x->resp->status);
		return 0;
	}
	if (x->too_big) {
		snprintf(msg, msglen, "the answer of %s%s is larger than %d "
		    "bytes", base, path, MAX_BODY);
		return FAIL_TLS;	/* do not retry */
	}
	/* A stream that ran and then ended is an answer. */
	if (x->streaming) {
		x->resp->status = 200;
		return 0;
	}
	return describe(c, base, rc, errbuf, msg, msglen);
}

/* kms-go sleeps 200-1000 ms between attempts. */
static void
backoff(void)
{
	uint16_t r;

	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = 0;
	cli_sleep_ms(200 + r % 801);
}

static int
request(struct client *c, const char *method, const char *path,
    const char *body, struct xfer *x)
{
	size_t		 order[MAX_ENDPOINTS], n, i, try;
	char		 msgs[MAX_ENDPOINTS][1024];
	int		 kind = 0;
	bool		 have_answer = false;
	struct client_resp last = { 0 };

	n = lb_order(c->ep, c->nep, c->answered, client_now_ms(), order);
	for (i = 0; i < n; i++) {
		struct lb_endpoint *ep = &c->ep[order[i]];

		for (try = 0; try <= RETRIES; try++) {
			if (try > 0)
				backoff();
			if (cli_interrupted()) {
				kind = FAIL_STOP;
				break;
			}
			kind = attempt(c, ep->url, method, path, body, x,
			    msgs[i], sizeof(msgs[i]));
			if (kind == 0 && x->resp->status == 503 &&
			    !x->streaming && try < RETRIES)
				continue;
			if (kind != FAIL_NET)
				break;
		}
		if (kind == FAIL_STOP)
			break;
		if (kind == 0 && (x->resp->status < 500 ||
		    x->resp->status == 501)) {
			lb_succeeded(ep);
			c->answered = order[i];
			client_resp_free(&last);
			return CLI_OK;
		}
		/* 5xx (not 501) or no answer: the endpoint is down. */
		lb_failed(ep, client_now_ms());
		if (kind == 0) {
			client_resp_free(&last);
			last = *x->resp;
			memset(x->resp, 0, sizeof(*x->resp));
			have_answer = true;
			c->answered = order[i];
			snprintf(msgs[i], sizeof(msgs[i]), "%s answered %ld",
			    ep->url, last.status);
		}
	}
	if (have_answer && kind != FAIL_STOP) {
		/* The last server error is the answer, as in kms-go. */
		client_resp_free(x->resp);
		*x->resp = last;
		return CLI_OK;
	}
	client_resp_free(&last);
	if (kind == FAIL_STOP)
		return CLI_CONN;
	for (i = 0; i < n; i++)
		cli_warnx("%s", msgs[i]);
	return CLI_CONN;
}

int
client_do(struct client *c, const char *method, const char *path,
    const char *body, struct client_resp *resp)
{
	struct xfer x = { c, resp, NULL, NULL, false, false };

	memset(resp, 0, sizeof(*resp));
	return request(c, method, path, body, &x);
}

int
client_stream(struct client *c, const char *path,
    int (*cb)(const char *, size_t, void *), void *arg,
    struct client_resp *resp)
{
	struct xfer x = { c, resp, cb, arg, false, false };

	memset(resp, 0, sizeof(*resp));
	return request(c, "GET", path, NULL, &x);
}

/* --- answers ------------------------------------------------------------ */

/* kms-go parseErrorResponse: JSON "error" wins over "message"; a body
 * of another type is the message itself. */
static void
server_message(const struct client_resp *r, char *out, size_t len)
{
	json_t		*j = NULL;
	const char	*m = NULL;
	size_t		 n;

	if (strncmp(r->ctype, "application/json", 16) == 0 &&
	    (j = json_loadb(r->body ? r->body : "", r->len, 0, NULL)) !=
	    NULL) {
		m = json_string_value(json_object_get(j, "error"));
		if (m == NULL || *m == '\0')
			m = json_string_value(json_object_get(j, "message"));
	}
	if (m != NULL)
		snprintf(out, len, "%s", m);
	else if (r->len > 0) {
		n = r->len;
		while (n > 0 && (r->body[n - 1] == '\n' ||
		    r->body[n - 1] == '\r'))
			n--;
		snprintf(out, len, "%.*s", (int)(n > 512 ? 512 : n), r->body);
	} else
		snprintf(out, len, "HTTP status %ld", r->status);
	json_decref(j);
}

int
client_check(const struct client *c, const char *path,
    const struct client_resp *r, const char *action, const char *what)
{
	char	 msg[600], *dec;
	int	 declen = 0;

	if (r->status >= 200 && r->status < 300)
		return CLI_OK;
	server_message(r, msg, sizeof(msg));
	if (r->status == 403) {
		dec = curl_easy_unescape(c->curl, path, 0, &declen);
		cli_warnx("not allowed: identity %s may not access %s",
		    c->id, dec ? dec : path);
		curl_free(dec);
	} else if (r->status == 404 && what != NULL &&
	    strstr(msg, "does not exist") != NULL)
		cli_warnx("%s does not exist", what);
	else
		cli_warnx("cannot %s: %s", action, msg);
	return CLI_REFUSED;
}

int
client_call(struct client *c, const char *method, const char *path,
    const char *body, struct client_resp *resp, const char *action,
    const char *what)
{
	int rc;

	if ((rc = client_do(c, method, path, body, resp)) != CLI_OK)
		return rc;
	return client_check(c, path, resp, action, what);
}

char *
client_path(const char *prefix, const char *name)
{
	char	*esc, *out;

	if ((esc = curl_easy_escape(NULL, name, 0)) == NULL) {
		cli_warnx("out of memory");
		exit(CLI_CONN);
	}
	xasprintf(&out, "%s%s", prefix, esc);
	curl_free(esc);
	return out;
}

json_t *
client_json(const struct client_resp *r)
{
	json_t		*j;
	json_error_t	 err;

	if ((j = json_loadb(r->body ? r->body : "", r->len,
	    JSON_DECODE_ANY, &err)) == NULL)
		cli_warnx("the server's answer is not JSON: %s", err.text);
	return j;
}
