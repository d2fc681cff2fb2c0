/*
 * `keyward seal`: the seal's offline commands, run by the operator on
 * the server's configuration file (keystore.seal.pkcs11):
 *   keygen      create the non-extractable, sensitive AES-256 key on the
 *               token (§4.4.7); an existing key of that label is checked,
 *               never replaced, and refused when extractable
 *   seal-fs     seal every legacy value of keystore.fs in place
 *   unseal-fs   turn every sealed value of keystore.fs back into plain
 *   seal, unseal  the same for any store, through its interface
 *               (seal_migrate.c, which says how it stays crash-safe
 *               without an atomic replace)
 * The fs migration is crash-safe: a value is written to a temporary next to it,
 * synced, decrypted back and compared with the original, and only then
 * renamed over it (rename is atomic), so after a kill -9 at any instant
 * every key is either its old or its new form, both of which the agent
 * reads while allow_unsealed_reads is on.
 *
 * These run in the operator's process, not in the server: loading the
 * module here holds nothing else (no listener, no master keys).
 */
#include <sys/random.h>
#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/kes_key.h"
#include "common/log.h"
#include "common/names.h"
#include "common/wfile.h"
#include "common/xmalloc.h"
#include "keystore-agent/seal.h"
#include "keystore-agent/seal_cmd.h"
#include "keystore-agent/seal_fmt.h"
#include "keystore-agent/seal_p11.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: keyward seal keygen    --config FILE\n"
	    "       keyward seal seal-fs   --config FILE\n"
	    "       keyward seal unseal-fs --config FILE\n"
	    "       keyward seal seal      --config FILE\n"
	    "       keyward seal unseal    --config FILE\n"
	    "\n"
	    "keygen     create the seal key (keystore.seal.pkcs11.key) on the "
	    "token\n"
	    "seal-fs    seal every plain value of keystore.fs in place\n"
	    "unseal-fs  turn every sealed value of keystore.fs back into "
	    "plain\n"
	    "seal       seal every plain value of the configured store, any "
	    "store\n"
	    "unseal     turn every sealed value of the configured store back "
	    "into plain\n"
	    "\n"
	    "Environment: SOFTHSM2_CONF and the like as module_env says.\n");
}

char *
cmd_pin(const struct seal_conf *c)
{
	char	buf[256];
	FILE	*f;
	size_t	n;

	if (c->pin_file == NULL)
		return xstrdup(c->pin != NULL ? c->pin : "");
	if ((f = fopen(c->pin_file, "re")) == NULL)
		fatal("pin_file %s", c->pin_file);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return xstrdup(buf);
}

void
cmd_open(struct cmd *c, bool rw)
{
	cmd_open_pin(c, cmd_pin(c->cf), rw);
}

void
cmd_open_pin(struct cmd *c, char *pin, bool rw)
{
	char	 err[256];
	size_t	 i;
	CK_RV	 rv;

	for (i = 0; i < c->cf->nmodule_env; i++)
		if (putenv(c->cf->module_env[i]) != 0)
			fatal("module_env");
	if (p11_load(&c->p, c->cf->module, err, sizeof(err)) == -1 ||
	    p11_find_token(&c->p, c->cf, err, sizeof(err)) == -1 ||
	    p11_login(&c->p, pin, rw, &rv, err, sizeof(err)) == -1)
		fatalx("%s", err);
	freezero_str(pin);
}

/* The seal key and the old keys on the token; 1: the key is missing. */
int
cmd_keys(struct cmd *c, bool need)
{
	char	err[256];
	size_t	i;
	int	r;

	r = p11_find_key(&c->p, c->p.anchor, c->cf->key, c->cf->key_id,
	    &c->key, err, sizeof(err));
	if (r == -1 || (r == 1 && need))
		fatalx("%s", err);
	if (r == 0 && (r = p11_check_key(&c->p, c->p.anchor, c->key,
	    c->cf->key, err, sizeof(err))) == -1)
		fatalx("refusing the key: %s", err);
	for (i = 0; i < c->cf->nold_keys && i < 16; i++)
		if (p11_find_key(&c->p, c->p.anchor, c->cf->old_keys[i], NULL,
		    &c->old[i], err, sizeof(err)) != 0)
			c->old[i] = CK_INVALID_HANDLE;
	c->nold = i;
	return r == 1 ? 1 : 0;
}

static int
cmd_keygen(struct cmd *c)
{
	char err[256];

	cmd_open(c, true);
	if (cmd_keys(c, false) == 0) {
		printf("key '%s' already exists, non-extractable and "
		    "sensitive: nothing to do\n", c->cf->key);
		return 0;
	}
	if (p11_keygen(&c->p, c->p.anchor, c->cf->key, c->cf->key_id, err,
	    sizeof(err)) == -1)
		fatalx("%s", err);
	if (cmd_keys(c, true) != 0)
		fatalx("the new key cannot be found");
	printf("created key '%s': AES-256, non-extractable, sensitive\n",
	    c->cf->key);
	return 0;
}

int
cmd_seal_value(struct cmd *c, const char *name, const uint8_t *v, size_t len,
    struct buf *out)
{
	struct buf	 hdr, aad;
	uint8_t		 iv[SEAL_IV_LEN], *ct = NULL;
	size_t		 ctlen;
	int		 rc = -1;

	buf_init(&hdr, 256);
	buf_init(&aad, 512);
	if (getrandom(iv, sizeof(iv), 0) == sizeof(iv) &&
	    seal_env_header(&hdr, c->cf->key, iv, sizeof(iv)) == 0 &&
	    seal_aad(&aad, hdr.data, hdr.len, name) == 0 &&
	    p11_gcm(&c->p, c->p.anchor, c->key, true, iv, aad.data, aad.len,
	    v, len, &ct, &ctlen) == CKR_OK &&
	    seal_encode(out, hdr.data, hdr.len, ct, ctlen) == 0)
		rc = 0;
	if (ct != NULL)
		freezero(ct, ctlen);
	buf_release(&hdr);
	buf_release(&aad);
	return rc;
}

int
cmd_unseal_value(struct cmd *c, const char *name, const uint8_t *v, size_t len,
    struct buf *out, const char **why)
{
	struct seal_env		 env;
	struct buf		 raw, aad;
	CK_OBJECT_HANDLE	 h = CK_INVALID_HANDLE;
	uint8_t			*pt = NULL;
	size_t			 ptlen = 0, i;
	int			 rc = -1;

	buf_init(&raw, len);
	buf_init(&aad, 512);
	if (seal_env_decode(v, len, &raw, &env, why) == -1)
		goto out;
	if (strcmp(env.kid, c->cf->key) == 0)
		h = c->key;
	for (i = 0; i < c->nold; i++)
		if (strcmp(env.kid, c->cf->old_keys[i]) == 0)
			h = c->old[i];
	*why = "sealed with a key that is not configured or not on the token";
	if (h == CK_INVALID_HANDLE)
		goto out;
	*why = "not authentic (tampered, wrong key name, or other seal key)";
	if (seal_aad(&aad, env.hdr, env.hdrlen, name) == -1 ||
	    p11_gcm(&c->p, c->p.anchor, h, false, env.iv, aad.data, aad.len,
	    env.ct, env.ctlen, &pt, &ptlen) != CKR_OK)
		goto out;
	if (buf_put(out, pt, ptlen) == 0)
		rc = 0;
 out:
	if (pt != NULL)
		freezero(pt, ptlen);
	buf_release(&raw);
	buf_release(&aad);
	return rc;
}

static int
read_file(int dfd, const char *name, struct buf *out)
{
	uint8_t	*p;
	ssize_t	 n;
	int	 fd;

	buf_reset(out);
	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1)
		return -1;
	for (;;) {
		if ((p = buf_reserve(out, 65536)) == NULL) {
			close(fd);
			errno = EFBIG;
			return -1;
		}
		if ((n = read(fd, p, 65536)) <= 0)
			break;
		out->len += (size_t)n;
	}
	close(fd);
	return n == 0 ? 0 : -1;
}

/*
 * One key: the new form staged next to it, read back and opened again,
 * then renamed over the old. Test hook: KEYWARD_SEAL_CRASH_AFTER=N makes
 * the process kill itself (SIGKILL) after N keys, the crash test.
 */
static void
migrate_one(struct cmd *c, int dfd, const char *dir, const char *name,
    bool seal)
{
	struct buf	 v, nv, back, check;
	struct wfile	 w;
	const char	*why = "";
	char		*path;
	enum seal_kind	 k;
	struct stat	 st;

	buf_init(&v, KES_STORED_MAX * 2);
	buf_init(&nv, KES_STORED_MAX * 2);
	buf_init(&back, KES_STORED_MAX * 2);
	buf_init(&check, KES_STORED_MAX * 2);
	memset(&w, 0, sizeof(w));
	xasprintf(&path, "%s/%s", dir, name);
	if (read_file(dfd, name, &v) == -1)
		fatal("%s", path);
	k = seal_kind(v.data, v.len);
	if ((seal && k != SEAL_PLAIN) || (!seal && k != SEAL_V1)) {
		if (k == SEAL_UNKNOWN_VERSION)
			log_warnx("%s: an unknown sealed version; left alone",
			    name);
		c->skipped++;
		goto out;
	}
	if (seal) {
		if (cmd_seal_value(c, name, v.data, v.len, &nv) == -1)
			fatalx("%s: cannot seal", name);
		/* Open it again before it replaces anything. */
		if (cmd_unseal_value(c, name, nv.data, nv.len, &check,
		    &why) == -1 ||
		    check.len != v.len || memcmp(check.data, v.data,
		    v.len) != 0)
			fatalx("%s: the sealed form does not open (%s)", name,
			    why);
	} else if (cmd_unseal_value(c, name, v.data, v.len, &nv, &why) == -1)
		fatalx("%s: %s; nothing changed from here on", name, why);
	if (wfile_stage(&w, path, nv.data, nv.len, 0600) == -1)
		fatal("%s: writing the new form", path);
	/* The agent's user owns the store's files, not whoever runs us. */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
	    chown(w.tmp, st.st_uid, st.st_gid) == -1) {
		wfile_abort(&w);
		fatal("%s: owner", path);
	}
	/* Read back what is on disk before it takes the name. */
	if (read_file(AT_FDCWD, w.tmp, &back) == -1 || back.len != nv.len ||
	    memcmp(back.data, nv.data, nv.len) != 0) {
		wfile_abort(&w);
		fatalx("%s: the new form did not read back", path);
	}
	if (wfile_commit(&w, true) == -1) {
		wfile_abort(&w);
		fatal("%s: rename", path);
	}
	wfile_abort(&w);
	if (seal)
		c->sealed++;
	else
		c->unsealed++;
 out:
	free(path);
	buf_release(&v);
	buf_release(&nv);
	buf_release(&back);
	buf_release(&check);
}

/* ".<name>.XXXXXX": a temporary of wfile left by a crash. */
static bool
stale_tmp(const char *n)
{
	const char	*dot;
	char		 name[KES_NAME_MAX + 1];
	size_t		 len;

	if (n[0] != '.' || (dot = strrchr(n + 1, '.')) == NULL ||
	    strlen(dot + 1) != 6)
		return false;
	len = (size_t)(dot - (n + 1));
	if (len == 0 || len > KES_NAME_MAX)
		return false;
	memcpy(name, n + 1, len);
	name[len] = '\0';
	return kes_valid_name(name);
}

static int
cmd_migrate(struct cmd *c, bool seal)
{
	struct dirent	 *de;
	const char	 *crash = getenv("KEYWARD_SEAL_CRASH_AFTER");
	unsigned long	  limit = crash != NULL ? strtoul(crash, NULL, 10) : 0;
	DIR		 *d;
	int		  dfd;

	if (c->store == NULL)
		fatalx("the seal commands migrate keystore.fs only");
	cmd_open(c, false);
	cmd_keys(c, true);
	if ((dfd = open(c->store, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(dfd)) == NULL)
		fatal("%s", c->store);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (stale_tmp(de->d_name)) {
			(void)unlinkat(dfd, de->d_name, 0);
			continue;
		}
		if (!kes_valid_name(de->d_name))
			continue;
		migrate_one(c, dfd, c->store, de->d_name, seal);
		if (limit > 0 && c->sealed + c->unsealed >= limit)
			kill(getpid(), SIGKILL);
	}
	if (errno != 0)
		fatal("%s", c->store);
	if (fsync(dfd) == -1)
		fatal("%s: fsync", c->store);
	closedir(d);
	printf("%s: %u %s, %u left as they were\n", c->store,
	    seal ? c->sealed : c->unsealed, seal ? "sealed" : "unsealed",
	    c->skipped);
	return 0;
}

int
seal_cmd_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct cmd	 c;
	const char	*cmd, *file = NULL;
	char		 err[512];
	int		 ch, rc;

	log_init("seal", LOG_LVL_INFO);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	argc--;
	argv++;
	while ((ch = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (file == NULL || optind != argc) {
		usage(stderr);
		return 2;
	}
	memset(&c, 0, sizeof(c));
	c.file = xstrdup(file);
	if ((c.cf = seal_conf_load(file, &c.store, err, sizeof(err))) ==
	    NULL) {
		fprintf(stderr, "keyward seal: %s\n", err);
		return 1;
	}
	if (strcmp(cmd, "keygen") == 0)
		rc = cmd_keygen(&c);
	else if (strcmp(cmd, "seal-fs") == 0)
		rc = cmd_migrate(&c, true);
	else if (strcmp(cmd, "unseal-fs") == 0)
		rc = cmd_migrate(&c, false);
	else if (strcmp(cmd, "seal") == 0)
		rc = seal_migrate_store(&c, true);
	else if (strcmp(cmd, "unseal") == 0)
		rc = seal_migrate_store(&c, false);
	else {
		usage(stderr);
		rc = 2;
	}
	p11_unload(&c.p);
	seal_conf_free(c.cf);
	free(c.store);
	free(c.file);
	return rc;
}
