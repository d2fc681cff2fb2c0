/*
 * libFuzzer harness for keystore-agent/vault_json.c and vault_kv.c: every parser of what
 * a Vault server (or anything posing as one) answers. The first byte picks
 * the HTTP status the answer came with; the rest is the body. Besides
 * memory errors it aborts when a promise breaks:
 *   - results are in range, and a failure leaves no output behind;
 *   - a token is non-empty printable ASCII without blanks (it becomes a
 *     header) and at most VAULT_TOKEN_MAX bytes;
 *   - a value is at most KES_STORED_MAX bytes and NUL-terminated after
 *     its length; a probe never yields a value, a get never "exists";
 *   - a transit ciphertext to write starts "vault:v1:";
 *   - listed names are NUL-terminated strings without an inner NUL;
 *   - every detail is NUL-terminated within its buffer and printable.
 *
 * vault_json.c and vault_kv.c are #included rather than linked because tests/fuzz/run.sh
 * compiles each harness with the common/ sources only.
 */
#include "keystore-agent/vault_json.c"
#include "keystore-agent/vault_kv.c"

#include <stdlib.h>
#include <string.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define CHECK(x)	do { if (!(x)) abort(); } while (0)

static const long statuses[] = {
	200, 204, 299, 400, 403, 404, 412, 429, 500, 501, 503, 302, 100, 202
};

static void
check_detail(const char *e, size_t len)
{
	size_t n = strnlen(e, len);

	CHECK(n < len);
	for (; *e != '\0'; e++)
		CHECK((unsigned char)*e >= 0x20 || *e == '\n' || *e == '\t');
}

static int
name_cb(const char *name, void *arg)
{
	size_t *n = arg;

	CHECK(name != NULL);
	(void)strlen(name);
	return ++*n > 4096 ? -1 : 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vault_login	 l;
	struct vault_health	 h;
	enum vault_kv		 k;
	uint8_t			*v;
	size_t			 vlen, n = 0, i;
	char			 err[256], *ct;
	long			 status;
	int			 r, ver;

	if (size < 1)
		return 0;
	status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
	ver = (data[0] & 0x80) ? 2 : 1;
	data++;
	size--;

	r = vault_parse_login(status, data, size, &l, err, sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == 0) {
		CHECK(l.token != NULL);
		CHECK(strlen(l.token) > 0 && strlen(l.token) <= VAULT_TOKEN_MAX);
		for (i = 0; l.token[i] != '\0'; i++)
			CHECK(l.token[i] > 0x20 && l.token[i] < 0x7f);
		freezero_str(l.token);
	} else {
		CHECK(l.token == NULL);
		check_detail(err, sizeof(err));
	}

	k = vault_parse_kv(ver, true, "k", "kv/k", status, data, size, &v,
	    &vlen, err, sizeof(err));
	CHECK(k == VAULT_KV_ABSENT || k == VAULT_KV_EXISTS ||
	    k == VAULT_KV_FAIL);
	CHECK(v == NULL && vlen == 0);
	if (k == VAULT_KV_FAIL)
		check_detail(err, sizeof(err));

	k = vault_parse_kv(ver, false, "k", "k", status, data, size, &v,
	    &vlen, err, sizeof(err));
	CHECK(k == VAULT_KV_ABSENT || k == VAULT_KV_VALUE ||
	    k == VAULT_KV_FAIL);
	if (k == VAULT_KV_VALUE) {
		CHECK(v != NULL && vlen <= KES_STORED_MAX && v[vlen] == '\0');
		freezero(v, vlen + 1);
	} else
		CHECK(v == NULL && vlen == 0);
	if (k == VAULT_KV_FAIL)
		check_detail(err, sizeof(err));

	r = vault_parse_write(status, data, size, "kv/k", err, sizeof(err));
	CHECK(r >= -1 && r <= 1);
	CHECK(r != 0 || status == 200 || status == 204);
	r = vault_parse_delete(status, data, size, "k", err, sizeof(err));
	CHECK(r == 0 || r == -1);

	r = vault_parse_list(status, data, size, "kv", name_cb, &n, err,
	    sizeof(err));
	CHECK(r == 0 || r == -1);
	if (r == -1)
		check_detail(err, sizeof(err));

	r = vault_parse_health(status, data, size, &h, err, sizeof(err));
	CHECK(r == 0 || r == -1);

	r = vault_parse_encrypt(status, data, size, &ct, err, sizeof(err));
	CHECK((r == 0) == (ct != NULL));
	if (ct != NULL) {
		CHECK(strncmp(ct, "vault:v1:", 9) == 0);
		free(ct);
	}
	r = vault_parse_decrypt(status, data, size, &v, &vlen, err,
	    sizeof(err));
	CHECK((r == 0) == (v != NULL));
	if (v != NULL) {
		CHECK(vlen > 0 && vlen <= KES_STORED_MAX);
		freezero(v, vlen);
	}
	(void)vault_is_transit(data, size);
	vault_errors(status, data, size, err, sizeof(err));
	check_detail(err, sizeof(err));
	(void)vault_errors_has(data, size, "permission denied");
	return 0;
}
