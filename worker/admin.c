/*
 * The routes that need no key: version, status, ready, metrics, the API
 * list, policies and identities (spec 3.2, 3.4, 3.5) and the log streams
 * (3.6). Policies and identities come from the configuration, which every
 * worker holds; created_at is the server's start and created_by the admin
 * identity, as in KES.
 */
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/msg.h"
#include "common/names.h"
#include "common/policy.h"
#include "common/xmalloc.h"
#include "worker/metrics.h"
#include "worker/worker.h"

static struct {
	long	num_cpu;
	long	num_cpu_used;
	char	*stack_top;
} sysinfo;

/* Figures that need files or syscalls the sandbox forbids later. */
void
admin_init(char *stack_top)
{
	cpu_set_t set;

	sysinfo.num_cpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (sysinfo.num_cpu < 1)
		sysinfo.num_cpu = 1;
	sysinfo.num_cpu_used = sysinfo.num_cpu;
	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		sysinfo.num_cpu_used = CPU_COUNT(&set);
	sysinfo.stack_top = stack_top;
}

static void
put_cstr(struct buf *b, const char *s)
{
	buf_put(b, s, strlen(s));
}

static uint64_t
uptime_ns(void)
{
	struct timespec	ts;
	uint64_t	now;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (uint64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
	return now > w.cf.started_ns ? now - w.cf.started_ns : 0;
}

static size_t
stack_used(void)
{
	char here;

	return sysinfo.stack_top > &here ? (size_t)(sysinfo.stack_top - &here)
	    : 0;
}

/* created_at of policies and identities: the server's start. */
static void
json_started(struct buf *b)
{
	json_time(b, (int64_t)(w.cf.started_ns / 1000000000),
	    (int32_t)(w.cf.started_ns % 1000000000));
}

/* --- version, status, ready, metrics, api ----------------------------- */

void
route_version(struct conn *c, const char *res)
{
	struct buf b;

	buf_init(&b, 512);
	put_cstr(&b, "{\"version\":");
	json_str(&b, KEYWARD_VERSION);
	put_cstr(&b, ",\"commit\":");
	json_str(&b, KEYWARD_COMMIT);
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

/* STATUS_REQ: str identity; the crypto process checks it again. */
void
route_status(struct conn *c, const char *res)
{
	struct buf b;

	buf_init(&b, 128);
	buf_put_str(&b, c->identity);
	crypto_call(c, NULL, MSG_STATUS_REQ, &b);
}

void
route_ready(struct conn *c, const char *res)
{
	struct buf b;

	buf_init(&b, 128);
	buf_put_str(&b, c->identity);
	crypto_call(c, NULL, MSG_READY_REQ, &b);
}

static const char *
go_arch(void)
{
#if defined(__x86_64__)
	return "amd64";
#elif defined(__aarch64__)
	return "arm64";
#elif defined(__i386__)
	return "386";
#else
	return "unknown";
#endif
}

/*
 * STATUS_REP: u8 reachable, u64 key-store latency ns, u64 crypto uptime ns.
 * Units as KES-HEAD (spec 3.2): uptime in seconds, keystore_latency in
 * milliseconds (at least 1 when reachable). An unreachable store is sent
 * as both keystore_unreachable and keystore_unavailable, so kms-go clients
 * (MinIO) see the store as down instead of failing the whole call.
 */
void
reply_status(struct conn *c, struct ipc_msg *m)
{
	struct mallinfo2 mi = mallinfo2();
	struct buf	 b;
	bool		 ok;
	uint64_t	 lat, up;
	char		 num[256];

	if (m->hdr.type != MSG_STATUS_REP ||
	    buf_get_bool(&m->payload, &ok) == -1 ||
	    buf_get_u64(&m->payload, &lat) == -1 ||
	    buf_get_u64(&m->payload, &up) == -1 ||
	    buf_end(&m->payload) == -1) {
		respond_error(c, 500, "failed to read server version");
		return;
	}
	up = uptime_ns();
	buf_init(&b, 1024);
	put_cstr(&b, "{\"version\":");
	json_str(&b, KEYWARD_VERSION);
	snprintf(num, sizeof(num), ",\"os\":\"linux\",\"arch\":\"%s\","
	    "\"uptime\":%llu,\"num_cpu\":%ld,\"num_cpu_used\":%ld,"
	    "\"mem_heap_used\":%zu,\"mem_stack_used\":%zu", go_arch(),
	    (unsigned long long)((up + 500000000) / 1000000000),
	    sysinfo.num_cpu, sysinfo.num_cpu_used, mi.uordblks, stack_used());
	put_cstr(&b, num);
	if (ok) {
		lat = (lat + 500000) / 1000000;
		snprintf(num, sizeof(num), ",\"keystore_latency\":%llu",
		    (unsigned long long)(lat ? lat : 1));
		put_cstr(&b, num);
	} else
		put_cstr(&b, ",\"keystore_unreachable\":true,"
		    "\"keystore_unavailable\":true");
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

void
route_metrics(struct conn *c, const char *res)
{
	struct mallinfo2	mi = mallinfo2();
	struct metrics_sys	sys;
	struct buf		b;

	memset(&sys, 0, sizeof(sys));
	sys.uptime_s = (double)(uptime_ns() / 10000000) / 100.0;
	sys.num_cpu = sysinfo.num_cpu;
	sys.num_cpu_used = sysinfo.num_cpu_used;
	sys.num_threads = 1;	/* one thread per worker */
	sys.heap_used = mi.uordblks;
	sys.heap_objects = mi.ordblks + mi.hblks;
	sys.stack_used = stack_used();
	buf_init(&b, METRICS_TEXT_MAX);
	if (metrics_render(&b, &sys) == -1)
		respond_error(c, 500, "failed to render metrics");
	else
		respond(c, 200, "text/plain; version=0.0.4; charset=utf-8",
		    NULL, buf_ptr(&b), buf_avail(&b));
	buf_release(&b);
}

/* [{"method","path","max_body","timeout"}...] with api: overrides. */
void
route_api(struct conn *c, const char *res)
{
	const struct route	*r;
	struct buf		 b;
	size_t			 i, n;
	char			 num[96];

	r = routes_table(&n);
	buf_init(&b, 8192);
	buf_put_u8(&b, '[');
	for (i = 0; i < n; i++) {
		/* KES 2023's bulk decrypt is served, not listed: /v1/api
		 * answers as KES HEAD's. */
		if (r[i].fn == route_key_bulk_decrypt)
			continue;
		if (b.len > 1)
			buf_put_u8(&b, ',');
		put_cstr(&b, "{\"method\":");
		json_str(&b, http_method_name(r[i].method));
		put_cstr(&b, ",\"path\":");
		json_str(&b, r[i].path);
		snprintf(num, sizeof(num), ",\"max_body\":%zu,\"timeout\":%llu}",
		    r[i].max_body,
		    (unsigned long long)(route_timeout(&r[i]) / 1000));
		put_cstr(&b, num);
	}
	buf_put_u8(&b, ']');
	respond_json(c, 200, &b);
}

/* --- policies ------------------------------------------------------------ */

static const struct policy *
policy_named(const char *name)
{
	size_t i;

	for (i = 0; i < w.cf.pol.npolicies; i++)
		if (strcmp(w.cf.pol.policies[i].name, name) == 0)
			return &w.cf.pol.policies[i];
	return NULL;
}

/* The policy a resource names, or NULL when an error was answered. */
static const struct policy *
policy_resource(struct conn *c, const char *name)
{
	const struct policy	*p;
	char			*msg;

	if (!kes_valid_name(name)) {
		xasprintf(&msg, "policy name '%s' is empty, too long or "
		    "contains invalid characters", name);
		respond_error(c, 400, msg);
		free(msg);
		return NULL;
	}
	if ((p = policy_named(name)) == NULL)
		respond_error(c, 404, "policy does not exist");
	return p;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {"<pattern>":{},...}: KES's map of rules, which Go writes with its keys
 * sorted and without duplicates. */
static void
json_rules(struct buf *b, const char *field, char **pat, size_t n)
{
	char	**sorted;
	size_t	  i;

	if (n == 0)
		return;
	sorted = xcalloc(n, sizeof(*sorted));
	memcpy(sorted, pat, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_str);
	buf_put_u8(b, ',');
	json_key(b, field);
	buf_put_u8(b, '{');
	for (i = 0; i < n; i++) {
		if (i > 0 && strcmp(sorted[i], sorted[i - 1]) == 0)
			continue;
		if (i > 0)
			buf_put_u8(b, ',');
		json_key(b, sorted[i]);
		put_cstr(b, "{}");
	}
	buf_put_u8(b, '}');
	free(sorted);
}

/* describe: {"name","created_at","created_by"}; read adds "allow" and
 * "deny" after the name. */
static void
respond_policy(struct conn *c, const char *res, bool rules)
{
	const struct policy	*p;
	struct buf		 b;

	if ((p = policy_resource(c, res)) == NULL)
		return;
	buf_init(&b, 65536);
	put_cstr(&b, "{\"name\":");
	json_str(&b, p->name);
	if (rules) {
		json_rules(&b, "allow", p->allow, p->nallow);
		json_rules(&b, "deny", p->deny, p->ndeny);
	}
	put_cstr(&b, ",\"created_at\":");
	json_started(&b);
	put_cstr(&b, ",\"created_by\":");
	json_str(&b, w.cf.pol.admin ? w.cf.pol.admin : "");
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

void
route_policy_describe(struct conn *c, const char *res)
{
	respond_policy(c, res, false);
}

void
route_policy_read(struct conn *c, const char *res)
{
	respond_policy(c, res, true);
}

/* The prefix of a listing pattern (a trailing '*' stripped), or NULL when
 * an error was answered. */
static char *
list_prefix(struct conn *c, const char *pattern)
{
	char	*msg, *pre;
	size_t	 n;

	if (!kes_valid_pattern(pattern)) {
		xasprintf(&msg, "listing pattern '%s' is empty, too long or "
		    "is invalid", pattern);
		respond_error(c, 400, msg);
		free(msg);
		return NULL;
	}
	pre = xstrdup(pattern);
	n = strlen(pre);
	if (n > 0 && pre[n - 1] == '*')
		pre[n - 1] = '\0';
	return pre;
}

/* {"<field>":[sorted names with the prefix],"continue_at":""} */
static void
respond_names(struct conn *c, const char *field, const char **names,
    size_t n, const char *prefix)
{
	struct buf	b;
	size_t		i, k = 0;

	qsort(names, n, sizeof(*names), cmp_str);
	buf_init(&b, 65536 + n * 80);
	buf_put_u8(&b, '{');
	json_key(&b, field);
	buf_put_u8(&b, '[');
	for (i = 0; i < n; i++) {
		if (strncmp(names[i], prefix, strlen(prefix)) != 0 ||
		    (i > 0 && strcmp(names[i], names[i - 1]) == 0))
			continue;
		if (k++ > 0)
			buf_put_u8(&b, ',');
		json_str(&b, names[i]);
	}
	put_cstr(&b, "],\"continue_at\":\"\"}");
	respond_json(c, 200, &b);
}

void
route_policy_list(struct conn *c, const char *res)
{
	const char	**names;
	char		 *prefix;
	size_t		  i;

	if ((prefix = list_prefix(c, res)) == NULL)
		return;
	names = xcalloc(w.cf.pol.npolicies + 1, sizeof(*names));
	for (i = 0; i < w.cf.pol.npolicies; i++)
		names[i] = w.cf.pol.policies[i].name;
	respond_names(c, "names", names, w.cf.pol.npolicies, prefix);
	free(names);
	free(prefix);
}

/* --- identities ---------------------------------------------------------- */

/*
 * What an identity is, as JSON fields: the admin's "admin":true,
 * "created_at"; a policy identity's "policy","created_at","created_by",
 * with rules also its "allow" and "deny". false for an unknown identity.
 */
static bool
json_identity(struct buf *b, const char *id, bool rules)
{
	const struct policy *p;

	if (policy_is_admin(&w.cf.pol, id)) {
		put_cstr(b, "\"admin\":true,\"created_at\":");
		json_started(b);
		return true;
	}
	if ((p = policy_of(&w.cf.pol, id)) == NULL)
		return false;
	put_cstr(b, "\"policy\":");
	json_str(b, p->name);
	put_cstr(b, ",\"created_at\":");
	json_started(b);
	put_cstr(b, ",\"created_by\":");
	json_str(b, w.cf.pol.admin ? w.cf.pol.admin : "");
	if (rules) {
		json_rules(b, "allow", p->allow, p->nallow);
		json_rules(b, "deny", p->deny, p->ndeny);
	}
	return true;
}

void
route_identity_describe(struct conn *c, const char *res)
{
	struct buf	 b;
	char		*msg;

	if (!kes_valid_name(res)) {
		xasprintf(&msg, "identity '%s' is empty, too long or contains "
		    "invalid characters", res);
		respond_error(c, 400, msg);
		free(msg);
		return;
	}
	buf_init(&b, 1024);
	buf_put_u8(&b, '{');
	if (!json_identity(&b, res, false)) {
		buf_release(&b);
		respond_error(c, 404, "identity does not exist");
		return;
	}
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

void
route_identity_list(struct conn *c, const char *res)
{
	const char	**ids;
	char		 *prefix;
	size_t		  i, j, n = 0, cap = 1;

	if ((prefix = list_prefix(c, res)) == NULL)
		return;
	for (i = 0; i < w.cf.pol.npolicies; i++)
		cap += w.cf.pol.policies[i].nidentities;
	ids = xcalloc(cap, sizeof(*ids));
	if (w.cf.pol.admin != NULL && kes_is_hex_identity(w.cf.pol.admin))
		ids[n++] = w.cf.pol.admin;
	for (i = 0; i < w.cf.pol.npolicies; i++)
		for (j = 0; j < w.cf.pol.policies[i].nidentities; j++)
			ids[n++] = w.cf.pol.policies[i].identities[j];
	respond_names(c, "identities", ids, n, prefix);
	free(ids);
	free(prefix);
}

/*
 * Self-describe works for every caller (KES-HEAD answers 404 to everyone
 * but the admin, spec 3.5). The shape is the one the kms-go client decodes
 * (DescribeSelf): policy name as a string, allow and deny at the top.
 */
void
route_identity_self(struct conn *c, const char *res)
{
	struct buf b;

	buf_init(&b, 65536);
	put_cstr(&b, "{\"identity\":");
	json_str(&b, c->identity);
	buf_put_u8(&b, ',');
	if (c->identity[0] == '\0' || !json_identity(&b, c->identity, true)) {
		buf_release(&b);
		respond_error(c, 404, "identity does not exist");
		return;
	}
	buf_put_u8(&b, '}');
	respond_json(c, 200, &b);
}

/* --- log streams ------------------------------------------------------- */

void
route_log_audit(struct conn *c, const char *res)
{
	logs_subscribe(c, LOG_STREAM_AUDIT);
}

void
route_log_error(struct conn *c, const char *res)
{
	logs_subscribe(c, LOG_STREAM_ERROR);
}
