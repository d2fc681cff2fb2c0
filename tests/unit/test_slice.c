/* Configuration slices: round trips, exact consumption, truncation. */
#include <criterion/criterion.h>
#include <string.h>

#include "common/proc.h"
#include "common/slice.h"

#define ADMIN "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

static char *allow[] = { "/v1/status" };
static char *ids[] = { "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb" };
static struct policy pol = { "p", allow, 1, NULL, 0, ids, 1 };
static struct api_route_cfg api[] = { { "/v1/status", 2000, true } };
static char *keys[] = { "minio-key", "other" };

static void
make_worker(struct worker_slice *s)
{
	memset(s, 0, sizeof(*s));
	s->index = 3;
	s->ncrypto = 2;
	s->started_ns = 1234567890123ULL;
	s->log_level = -1;		/* LOG_LVL_OFF must survive */
	s->audit_level = 2;
	s->tls_auth = TLS_AUTH_ON;
	s->cert.data = (uint8_t *)"CERT";
	s->cert.len = 4;
	s->pol.admin = ADMIN;
	s->pol.policies = &pol;
	s->pol.npolicies = 1;
	s->api = api;
	s->napi = 1;
}

Test(slice, worker_round_trip)
{
	struct worker_slice	in, out;
	struct buf		b;

	make_worker(&in);
	buf_init(&b, 1 << 16);
	cr_assert_eq(worker_slice_put(&b, &in), 0);
	cr_assert_eq(worker_slice_get(&b, &out), 0);
	cr_assert_eq(out.index, 3);
	cr_assert_eq(out.ncrypto, 2);
	cr_assert_eq(out.started_ns, in.started_ns);
	cr_assert_eq(out.log_level, -1);
	cr_assert_eq(out.audit_level, 2);
	cr_assert_eq(out.tls_auth, TLS_AUTH_ON);
	cr_assert_eq(out.cert.len, 4);
	cr_assert_eq(out.ca.len, 0);
	cr_assert_str_eq(out.pol.admin, ADMIN);
	cr_assert_eq(out.napi, 1);
	cr_assert_str_eq(out.api[0].path, "/v1/status");
	cr_assert_eq(out.api[0].timeout_ms, 2000);
	cr_assert(out.api[0].skip_auth);
	worker_slice_free(&out);
	buf_release(&b);
}

Test(slice, worker_truncated_and_trailing)
{
	struct worker_slice	in, out;
	struct buf		b, v;
	size_t			n;

	make_worker(&in);
	buf_init(&b, 1 << 16);
	cr_assert_eq(worker_slice_put(&b, &in), 0);
	for (n = 0; n < buf_avail(&b); n++) {
		buf_view(&v, buf_ptr(&b), n);
		cr_assert_eq(worker_slice_get(&v, &out), -1, "prefix %zu", n);
	}
	cr_assert_eq(buf_put_u8(&b, 0), 0);
	cr_assert_eq(worker_slice_get(&b, &out), -1);
	buf_release(&b);
}

Test(slice, crypto_and_agent_round_trip)
{
	char			*skip[] = { "/v1/status" };
	struct crypto_slice	cin = { 3, 42, 1, 2, { ADMIN, &pol, 1 }, 1, 2,
				    3, keys, 2, skip, 1, NULL, 0 };
	struct crypto_slice	cout;
	/* The store's settings are opaque to the slice: any bytes. */
	struct agent_slice	ain = { 1, "fs",
				    (uint8_t *)"/var/lib/keyward/keys",
				    sizeof("/var/lib/keyward/keys") - 1, true };
	struct agent_slice	aout;
	struct buf		b;

	buf_init(&b, 1 << 16);
	cr_assert_eq(crypto_slice_put(&b, &cin), 0);
	cr_assert_eq(crypto_slice_get(&b, &cout), 0);
	cr_assert_eq(cout.log_level, 3);
	cr_assert_eq(cout.index, 1);
	cr_assert_eq(cout.ncrypto, 2);
	cr_assert_eq(cout.cache_any_ms, 1);
	cr_assert_eq(cout.cache_offline_ms, 3);
	cr_assert_eq(cout.pol.npolicies, 1);
	cr_assert_eq(cout.nkeys, 2);
	cr_assert_str_eq(cout.keys[1], "other");
	cr_assert_eq(cout.nskip_auth, 1);
	cr_assert_str_eq(cout.skip_auth[0], "/v1/status");
	crypto_slice_free(&cout);
	buf_reset(&b);
	cr_assert_eq(agent_slice_put(&b, &ain), 0);
	cr_assert_eq(agent_slice_get(&b, &aout), 0);
	cr_assert_str_eq(aout.store, "fs");
	cr_assert_str_eq((const char *)aout.settings, "/var/lib/keyward/keys");
	cr_assert(aout.restarted);
	agent_slice_free(&aout);
	/* A store without a name is refused. */
	buf_reset(&b);
	ain.store[0] = '\0';
	cr_assert_eq(agent_slice_put(&b, &ain), 0);
	cr_assert_eq(agent_slice_get(&b, &aout), -1);
	buf_release(&b);
}

Test(slice, proc_opts_round_trip)
{
	struct proc_opts	in = { "keyward", "/var/empty/keyward", true,
				    false, true };
	struct proc_opts	out;
	struct buf		b;

	buf_init(&b, 1024);
	cr_assert_eq(proc_opts_put(&b, &in), 0);
	cr_assert_eq(proc_opts_get(&b, &out), 0);
	cr_assert_eq(buf_end(&b), 0);
	cr_assert_str_eq(out.user, "keyward");
	cr_assert_str_eq(out.chroot, "/var/empty/keyward");
	cr_assert(out.mlock && !out.sandbox_debug && out.foreground);
	proc_opts_free(&out);
	buf_release(&b);
}

/* A slice names 1 to CRYPTO_MAX crypto processes, and a crypto process
 * one of them: anything else is refused. */
Test(slice, crypto_counts_checked)
{
	struct worker_slice	ws, wout;
	struct crypto_slice	cin = { 0 }, cout;
	struct buf		b;
	uint32_t		bad[] = { 0, CRYPTO_MAX + 1 };
	size_t			i;

	for (i = 0; i < 2; i++) {
		make_worker(&ws);
		ws.ncrypto = bad[i];
		buf_init(&b, 1 << 16);
		cr_assert_eq(worker_slice_put(&b, &ws), 0);
		cr_assert_eq(worker_slice_get(&b, &wout), -1, "%u", bad[i]);
		buf_release(&b);

		cin.ncrypto = bad[i];
		buf_init(&b, 1 << 16);
		cr_assert_eq(crypto_slice_put(&b, &cin), 0);
		cr_assert_eq(crypto_slice_get(&b, &cout), -1, "%u", bad[i]);
		buf_release(&b);
	}
	cin.ncrypto = 3;
	cin.index = 3;
	buf_init(&b, 1 << 16);
	cr_assert_eq(crypto_slice_put(&b, &cin), 0);
	cr_assert_eq(crypto_slice_get(&b, &cout), -1, "index 3 of 3");
	buf_release(&b);
	cin.index = 2;
	buf_init(&b, 1 << 16);
	cr_assert_eq(crypto_slice_put(&b, &cin), 0);
	cr_assert_eq(crypto_slice_get(&b, &cout), 0);
	cr_assert_eq(cout.index, 2);
	crypto_slice_free(&cout);
	buf_release(&b);

	make_worker(&ws);
	ws.ncrypto = CRYPTO_MAX;
	buf_init(&b, 1 << 16);
	cr_assert_eq(worker_slice_put(&b, &ws), 0);
	cr_assert_eq(worker_slice_get(&b, &wout), 0);
	cr_assert_eq(wout.ncrypto, CRYPTO_MAX);
	worker_slice_free(&wout);
	buf_release(&b);
}
