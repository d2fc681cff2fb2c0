/*
 * The AWS Secrets Manager store's configuration and start-up
 * (backend.h). The parent parses keystore.aws.secretsmanager and, since
 * the agent starts with an empty environment, also resolves the
 * credential chain KES's aws-sdk-go resolves (§1.3): the configured
 * keys, else AWS_ACCESS_KEY_ID and friends, else the shared credentials
 * file's static keys, else the container endpoint, else EC2's instance
 * metadata (IMDSv2). It reads AWS_CA_BUNDLE (a CA file, as aws-sdk-go
 * honours) the same way. All of it goes to the agent in its slice.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config_impl.h"
#include "common/gojson.h"
#include "common/log.h"
#include "common/xmalloc.h"
#include "keystore-agent/aws.h"
#include "keystore-agent/backend.h"
#include "keystore-agent/helper.h"
#include "keystore-agent/pemfile.h"

#define CONTAINER_HOST	"http://169.254.170.2"
#define IMDS_HOST	"http://169.254.169.254"
#define CREDFILE_MAX	(64u << 10)

struct aws aws_state = {
	.waiters = TAILQ_HEAD_INITIALIZER(aws_state.waiters),
};

const char *const aws_keys[] = {
	"endpoint", "region", "kmskey", "credentials", NULL
};

/* --- the parent: the credential chain --- */

static const char *
env(const char *a, const char *b)
{
	const char *v = getenv(a);

	if ((v == NULL || *v == '\0') && b != NULL)
		v = getenv(b);
	return v != NULL && *v != '\0' ? v : NULL;
}

static void
set(char **dst, const char *v)
{
	freezero_str(*dst);
	*dst = xstrdup(v != NULL ? v : "");
}

static char *
trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/*
 * The shared credentials file's profile (aws-sdk-go's ini reader, static
 * keys only: shared-config mode is off in KES). 1 when it gave keys, 0
 * when there is no file or no such profile, -1 after cfg_error().
 */
static int
credfile(struct cfg_parser *p, const struct cfg_sect *s, struct aws_conf *c)
{
	const char	*path = env("AWS_SHARED_CREDENTIALS_FILE", NULL);
	const char	*prof = env("AWS_PROFILE", "AWS_DEFAULT_PROFILE");
	const char	*home = getenv("HOME");
	char		 def[1024], line[4096], *l, *k, *v, *eq;
	FILE		*f;
	bool		 in = false, process = false;
	int		 rc = 0;

	if (path == NULL) {
		if (home == NULL || *home == '\0')
			return 0;
		snprintf(def, sizeof(def), "%s/.aws/credentials", home);
		path = def;
	}
	if (prof == NULL)
		prof = "default";
	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		return cfg_error(p, s->line, s->path, "cannot read the AWS "
		    "shared credentials file %s: %s", path, strerror(errno));
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		l = trim(line);
		if (*l == '#' || *l == ';' || *l == '\0')
			continue;
		if (*l == '[') {
			char *end = strchr(l, ']');

			if (end != NULL)
				*end = '\0';
			in = strcmp(trim(l + 1), prof) == 0;
			continue;
		}
		if (!in || (eq = strchr(l, '=')) == NULL)
			continue;
		*eq = '\0';
		k = trim(l);
		v = trim(eq + 1);
		if (strcmp(k, "aws_access_key_id") == 0)
			set(&c->accesskey, v);
		else if (strcmp(k, "aws_secret_access_key") == 0)
			set(&c->secretkey, v);
		else if (strcmp(k, "aws_session_token") == 0)
			set(&c->token, v);
		else if (strcmp(k, "credential_process") == 0)
			process = true;
	}
	explicit_bzero(line, sizeof(line));
	fclose(f);
	if (c->accesskey[0] != '\0' && c->secretkey[0] != '\0')
		rc = 1;
	else if (process)
		rc = cfg_error(p, s->line, s->path, "profile %s of %s runs a "
		    "credential_process, which keyward does not run; give "
		    "the keys in the configuration or the environment", prof,
		    path);
	else if (c->accesskey[0] != '\0' || c->secretkey[0] != '\0')
		rc = cfg_error(p, s->line, s->path, "profile %s of %s has "
		    "only one of aws_access_key_id and aws_secret_access_key",
		    prof, path);
	return rc;
}

/* aws-sdk-go's container endpoint rule: loopback, or the ECS and EKS
 * link-local addresses, for http. */
static bool
container_host_ok(const char *url)
{
	static const char *const ok[] = {
		"http://127.", "http://localhost", "http://[::1]",
		"http://169.254.170.2", "http://169.254.170.23",
		"http://[fd00:ec2::23]", "https://", NULL
	};
	size_t i;

	for (i = 0; ok[i] != NULL; i++)
		if (strncmp(url, ok[i], strlen(ok[i])) == 0)
			return true;
	return false;
}

static int
chain(struct cfg_parser *p, const struct cfg_sect *s, struct aws_conf *c)
{
	const char	*v;
	int		 rc;

	if (c->accesskey[0] != '\0' || c->secretkey[0] != '\0' ||
	    c->token[0] != '\0') {
		c->src = AWS_SRC_STATIC;	/* as given, even half */
		return 0;
	}
	if (env("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY") != NULL &&
	    env("AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY") != NULL) {
		set(&c->accesskey, env("AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY"));
		set(&c->secretkey, env("AWS_SECRET_ACCESS_KEY",
		    "AWS_SECRET_KEY"));
		set(&c->token, env("AWS_SESSION_TOKEN", NULL));
		c->src = AWS_SRC_STATIC;
		return 0;
	}
	if (env("AWS_WEB_IDENTITY_TOKEN_FILE", NULL) != NULL)
		return cfg_error(p, s->line, s->path, "AWS_WEB_IDENTITY_TOKEN_"
		    "FILE is set: keyward does not assume a role with a web "
		    "identity (STS); give static keys, or use the container "
		    "endpoint or the instance metadata");
	if ((rc = credfile(p, s, c)) != 0) {
		if (rc == 1)
			c->src = AWS_SRC_STATIC;
		return rc == 1 ? 0 : -1;
	}
	if ((v = env("AWS_CONTAINER_CREDENTIALS_FULL_URI", NULL)) != NULL) {
		if (!container_host_ok(v))
			return cfg_error(p, s->line, s->path, "AWS_CONTAINER_"
			    "CREDENTIALS_FULL_URI must be https, or http to a "
			    "loopback or the ECS/EKS link-local address");
		set(&c->remote, v);
		set(&c->remote_auth, env("AWS_CONTAINER_AUTHORIZATION_TOKEN",
		    NULL));
		c->src = AWS_SRC_CONTAINER;
		return 0;
	}
	if ((v = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", NULL)) !=
	    NULL) {
		free(c->remote);
		xasprintf(&c->remote, "%s%s%s", CONTAINER_HOST,
		    *v == '/' ? "" : "/", v);
		c->src = AWS_SRC_CONTAINER;
		return 0;
	}
	v = env("AWS_EC2_METADATA_DISABLED", NULL);
	if (v != NULL && strcasecmp(v, "true") == 0) {
		c->src = AWS_SRC_NONE;
		return 0;
	}
	set(&c->remote, env("AWS_EC2_METADATA_SERVICE_ENDPOINT", NULL));
	if (c->remote[0] == '\0')
		set(&c->remote, IMDS_HOST);
	v = env("AWS_EC2_METADATA_V1_DISABLED", NULL);
	c->imds_v1 = !(v != NULL && strcasecmp(v, "true") == 0);
	c->src = AWS_SRC_IMDS;
	return 0;
}

int
aws_parse(struct cfg_parser *p, const struct cfg_sect *s, void **conf)
{
	static const char *const cred_keys[] = {
		"accesskey", "secretkey", "token", NULL
	};
	struct aws_conf	*c;
	struct cfg_sect	 cred;

	c = xcalloc(1, sizeof(*c));
	*conf = c;
	c->ca = xstrdup("");
	c->remote = xstrdup("");
	c->remote_auth = xstrdup("");

	if (cfg_sect_open(p, s, "credentials", cred_keys, &cred) == -1)
		return -1;
	if (cfg_get_fields(p, s, (const struct cfg_field[]){
	    { "endpoint", &c->endpoint, "the Secrets Manager URL" },
	    { "region", &c->region, "an AWS region, e.g. us-east-1" },
	    { "kmskey", &c->kmskey, NULL },
	    { NULL, NULL, NULL } }) == -1 ||
	    cfg_get_fields(p, &cred, (const struct cfg_field[]){
	    { "accesskey", &c->accesskey, NULL },
	    { "secretkey", &c->secretkey, NULL },
	    { "token", &c->token, NULL },
	    { NULL, NULL, NULL } }) == -1)
		return -1;
	if (c->kmskey == NULL)
		c->kmskey = xstrdup("");
	if (c->accesskey == NULL)
		c->accesskey = xstrdup("");
	if (c->secretkey == NULL)
		c->secretkey = xstrdup("");
	if (c->token == NULL)
		c->token = xstrdup("");
	set(&c->ca, env("AWS_CA_BUNDLE", NULL));
	return chain(p, s, c);
}

void
aws_conf_free(void *conf)
{
	struct aws_conf *c = conf;

	if (c == NULL)
		return;
	freezero_str(c->endpoint);
	freezero_str(c->region);
	freezero_str(c->kmskey);
	freezero_str(c->accesskey);
	freezero_str(c->secretkey);
	freezero_str(c->token);
	freezero_str(c->ca);
	freezero_str(c->remote);
	freezero_str(c->remote_auth);
	freezero(c, sizeof(*c));
}

/* --- the slice --- */

/*
 * Settings: str endpoint, region, kmskey, accesskey, secretkey, token,
 * ca, u8 source, str remote, remote_auth, u8 imds_v1.
 */
static int
aws_settings_put(struct buf *b, const void *conf)
{
	const struct aws_conf *c = conf;

	if ((buf_put_str(b, c->endpoint) | buf_put_str(b, c->region) |
	    buf_put_str(b, c->kmskey) | buf_put_str(b, c->accesskey) |
	    buf_put_str(b, c->secretkey) | buf_put_str(b, c->token) |
	    buf_put_str(b, c->ca) | buf_put_u8(b, c->src) |
	    buf_put_str(b, c->remote) | buf_put_str(b, c->remote_auth) |
	    buf_put_u8(b, c->imds_v1)) != 0)
		return -1;
	return 0;
}

static void
conf_clear(struct aws_conf *c)
{
	freezero_str(c->endpoint);
	freezero_str(c->region);
	freezero_str(c->kmskey);
	freezero_str(c->accesskey);
	freezero_str(c->secretkey);
	freezero_str(c->token);
	freezero_str(c->ca);
	freezero_str(c->remote);
	freezero_str(c->remote_auth);
	memset(c, 0, sizeof(*c));
}

/* Goes into a header or a URL: no control characters, no blanks. */
static bool
printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
settings_read(struct buf *b, struct aws_conf *c, char *err, size_t errlen)
{
	char	*e;
	size_t	 n;

	memset(c, 0, sizeof(*c));
	if (buf_get_strdup(b, &c->endpoint) == -1 ||
	    buf_get_strdup(b, &c->region) == -1 ||
	    buf_get_strdup(b, &c->kmskey) == -1 ||
	    buf_get_strdup(b, &c->accesskey) == -1 ||
	    buf_get_strdup(b, &c->secretkey) == -1 ||
	    buf_get_strdup(b, &c->token) == -1 ||
	    buf_get_strdup(b, &c->ca) == -1 ||
	    buf_get_u8(b, &c->src) == -1 ||
	    buf_get_strdup(b, &c->remote) == -1 ||
	    buf_get_strdup(b, &c->remote_auth) == -1 ||
	    buf_get_u8(b, &c->imds_v1) == -1 || c->src > AWS_SRC_IMDS) {
		snprintf(err, errlen, "malformed settings");
		goto fail;
	}
	if (c->endpoint[0] == '\0' || !printable(c->endpoint) ||
	    c->region[0] == '\0' || !printable(c->region) ||
	    !printable(c->accesskey) || !printable(c->token) ||
	    !printable(c->remote) || strchr(c->remote_auth, '\n') != NULL ||
	    strchr(c->remote_auth, '\r') != NULL) {
		snprintf(err, errlen, "aws: the endpoint, region, access key, "
		    "token or credentials URL is empty or has blanks or "
		    "control characters");
		goto fail;
	}
	/* aws-sdk-go's AddScheme: https:// unless a scheme is given. */
	if (strstr(c->endpoint, "://") == NULL ||
	    strchr(c->endpoint, ':') < strstr(c->endpoint, "://")) {
		xasprintf(&e, "https://%s", c->endpoint);
		free(c->endpoint);
		c->endpoint = e;
	}
	n = strlen(c->endpoint);
	while (n > 0 && c->endpoint[n - 1] == '/')
		c->endpoint[--n] = '\0';
	return 0;
 fail:
	conf_clear(c);
	return -1;
}

static int
aws_settings(struct buf *b, char *err, size_t errlen)
{
	struct aws	*a = &aws_state;
	const uint8_t	*start = buf_ptr(b);

	conf_clear(&a->c);
	if (settings_read(b, &a->c, err, errlen) == -1)
		return -1;
	if (a->raw != NULL)
		freezero(a->raw, a->rawlen);
	a->rawlen = (size_t)(buf_ptr(b) - start);
	a->raw = xmemdup(start, a->rawlen);
	return 0;
}

static int
aws_reload(struct buf *b, char *err, size_t errlen)
{
	struct aws	*a = &aws_state;
	struct aws_conf	 nc;
	const uint8_t	*start = buf_ptr(b);
	size_t		 len;

	if (settings_read(b, &nc, err, errlen) == -1)
		return -1;
	conf_clear(&nc);
	len = (size_t)(buf_ptr(b) - start);
	if (len != a->rawlen || memcmp(start, a->raw, len) != 0) {
		snprintf(err, errlen, "the AWS settings cannot change without "
		    "a restart");
		return -1;
	}
	return 0;
}

/* AWS_CA_BUNDLE, read as root before the drop (§6.2 rule 1). */
static int
aws_prepare(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	struct aws	*a = &aws_state;
	char		 why[1200];

	if (a->c.ca[0] == '\0')
		return 0;
	if (pemfile_read_ca(a->c.ca, PEMFILE_EACH_CERT, &a->ca, &a->ca_len,
	    why, sizeof(why)) == -1) {
		snprintf(err, errlen, "aws: AWS_CA_BUNDLE: %s", why);
		return -1;
	}
	return 0;
}

/* The origin of url (scheme://host[:port]) into a new string. */
static char *
origin_of(const char *url)
{
	const char *h = strstr(url, "://"), *slash;

	if (h == NULL)
		return xstrdup(url);
	slash = strchr(h + 3, '/');
	return slash != NULL ? xstrndup(url, (size_t)(slash - url)) :
	    xstrdup(url);
}

static int
aws_init(char *err, size_t errlen)
{
	struct aws	*a = &aws_state;
	struct net_tls	 tls = { a->ca, a->ca_len, NULL, 0, NULL, 0 };
	char		 why[256], *o;
	const char	*h;

	gojson_init();
	if (helper_start(NULL, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "cannot start the helper: %s", why);
		return -1;
	}
	if (net_global_init(why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s", why);
		return -1;
	}
	h = strstr(a->c.endpoint, "://") + 3;
	a->host = xstrndup(h, strcspn(h, "/"));
	a->net = net_client_new(a->c.endpoint, &tls, false, why, sizeof(why));
	if (a->net == NULL) {
		snprintf(err, errlen, "aws: %s: %s", a->c.endpoint, why);
		goto fail;
	}
	if (a->c.src == AWS_SRC_CONTAINER || a->c.src == AWS_SRC_IMDS) {
		o = origin_of(a->c.remote);
		a->meta = net_client_new(o, &tls, true, why, sizeof(why));
		free(o);
		if (a->meta == NULL) {
			snprintf(err, errlen, "aws: credentials at %s: %s",
			    a->c.remote, why);
			goto fail;
		}
	}
	if (a->c.src == AWS_SRC_STATIC) {
		a->akid = xstrdup(a->c.accesskey);
		a->secret = xstrdup(a->c.secretkey);
		a->token = xstrdup(a->c.token);
		a->gen = 1;
	}
	if (a->c.src == AWS_SRC_NONE)
		log_warnx("aws: no credentials found (configuration, "
		    "environment, shared file, container, instance metadata): "
		    "every key call will fail");
	freezero(a->ca, a->ca_len);
	a->ca = NULL;
	a->ca_len = 0;
	return 0;
 fail:
	freezero(a->ca, a->ca_len);
	a->ca = NULL;
	a->ca_len = 0;
	return -1;
}

const struct ks_backend ks_backend_aws = {
	.name = "aws",
	.inner = "secretsmanager",
	.keys = aws_keys,
	.parse = aws_parse,
	.conf_free = aws_conf_free,
	.chroot = false,
	.rules = NULL,
	.nrules = 0,
	.net = true,
	.settings_put = aws_settings_put,
	.settings = aws_settings,
	.reload = aws_reload,
	.prepare = aws_prepare,
	.init = aws_init,
	.status = aws_op_status,
	.create = aws_op_create,
	.get = aws_op_get,
	.del = aws_op_del,
	.list = aws_op_list,
	.cancel = aws_op_cancel,
};
