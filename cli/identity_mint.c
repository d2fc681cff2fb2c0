/*
 * `keyward identity new --key --cert`: the subject alternative names from
 * the command line, a self-signed certificate for the API key's Ed25519
 * key, the key as PKCS#8 PEM (encrypted on request), and both files
 * written safely.
 */
#include <sys/stat.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli/cli.h"
#include "cli/identity.h"
#include "cli/identity_int.h"
#include "common/apikey.h"
#include "common/config.h"
#include "common/gojson.h"
#include "common/identity.h"
#include "common/wfile.h"
#include "common/x509.h"
#include "common/xmalloc.h"

void
names_free(struct names *l)
{
	size_t	i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

/*
 * Only the characters of host names and wildcards: a name ends up in an
 * IA5String, and anything else in a SAN is a mistake on the command line
 * rather than a host a TLS client would ever match.
 */
static bool
valid_dns(const char *s)
{
	size_t	len = strlen(s);

	if (len == 0 || len > DNS_MAX)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '.' ||
		    *s == '_' || *s == '*'))
			return false;
	return true;
}

static bool
valid_ip(const char *s, uint8_t addr[16], int *len)
{
	if (inet_pton(AF_INET, s, addr) == 1) {
		*len = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, addr) == 1) {
		*len = 16;
		return true;
	}
	return false;
}

/* Split at commas as kes's flag library does; refuse bad names here so
 * the message names the option and the value. */
int
names_add(struct names *l, const char *value, bool ip)
{
	char	*copy, *p, *tok;
	uint8_t	 addr[16];
	int	 alen, r = 0;

	copy = p = xstrdup(value);
	while ((tok = strsep(&p, ",")) != NULL) {
		if (ip ? !valid_ip(tok, addr, &alen) : !valid_dns(tok)) {
			fprintf(stderr, "keyward identity new: --%s '%s': not "
			    "%s\n", ip ? "ip" : "dns", tok, ip ?
			    "an IPv4 or IPv6 address" : "a DNS name (letters, "
			    "digits, '-', '.', '_', '*')");
			r = -1;
			break;
		}
		l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
		l->v[l->n++] = xstrdup(tok);
	}
	free(copy);
	return r;
}

/* The certificate of `identity new --cert`: see usage_new. */
static int
add_sans(X509 *x, const struct names *ips, const struct names *dns)
{
	GENERAL_NAMES	*gens;
	GENERAL_NAME	*g;
	ASN1_STRING	*v;
	uint8_t		 addr[16];
	size_t		 i;
	int		 alen, r = -1;

	if (ips->n == 0 && dns->n == 0)
		return 0;
	if ((gens = GENERAL_NAMES_new()) == NULL)
		return -1;
	/* DNS names before addresses, the order Go's x509 writes. */
	for (i = 0; i < dns->n + ips->n; i++) {
		if (i < dns->n)
			v = ASN1_IA5STRING_new();
		else
			v = ASN1_OCTET_STRING_new();
		if (v == NULL)
			goto out;
		if (i < dns->n ? ASN1_STRING_set(v, dns->v[i], -1) != 1 :
		    !valid_ip(ips->v[i - dns->n], addr, &alen) ||
		    ASN1_STRING_set(v, addr, alen) != 1) {
			ASN1_STRING_free(v);
			goto out;
		}
		if ((g = GENERAL_NAME_new()) == NULL) {
			ASN1_STRING_free(v);
			goto out;
		}
		GENERAL_NAME_set0_value(g, i < dns->n ? GEN_DNS : GEN_IPADD, v);
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT) == 1)
		r = 0;
 out:
	GENERAL_NAMES_free(gens);
	return r;
}

/*
 * What kes identity new makes (spec §4.4): self-signed with the API
 * key's Ed25519 key, random 128-bit serial, valid from now for `secs`,
 * KeyUsage digitalSignature, ExtKeyUsage serverAuth and clientAuth,
 * CA:FALSE, and the SANs asked for. Critical flags as Go's x509 sets them
 * (see common/apikey.c).
 */
static X509 *
make_cert(EVP_PKEY *pk, const char *cn, uint64_t secs,
    const struct names *ips, const struct names *dns)
{
	X509	*x;

	if ((x = x509_new_cert(pk, cn, 0)) == NULL)
		return NULL;
	if (X509_time_adj_ex(X509_getm_notAfter(x), (int)(secs / 86400),
	    (long)(secs % 86400), NULL) == NULL ||
	    x509_add_ext(x, NULL, NID_key_usage,
	    "critical,digitalSignature") != 0 ||
	    x509_add_ext(x, NULL, NID_ext_key_usage,
	    "serverAuth,clientAuth") != 0 ||
	    x509_add_ext(x, NULL, NID_basic_constraints,
	    "critical,CA:FALSE") != 0 ||
	    add_sans(x, ips, dns) != 0 ||
	    X509_sign(x, pk, NULL) <= 0) {	/* a length, or 0 */
		X509_free(x);
		return NULL;
	}
	return x;
}

static int
i2d_p8inf(const void *p8, unsigned char **out)
{
	return i2d_PKCS8_PRIV_KEY_INFO(p8, out);
}

/*
 * The private key as PEM in a BIO that wipes itself when freed. With a
 * password it is what kes writes (Go's x509.EncryptPEMBlock): a "PRIVATE
 * KEY" block with Proc-Type/DEK-Info headers, AES-256-CBC, the key derived
 * from the password with OpenSSL's EVP_BytesToKey (one round of MD5 over
 * password and IV). That legacy form is the one the Go KES clients can
 * decrypt; PKCS#8 "ENCRYPTED PRIVATE KEY" they cannot. Its derivation is
 * weak, so the password must be strong on its own.
 */
static BIO *
key_pem(EVP_PKEY *pk, const char *pw, size_t pwlen)
{
	PKCS8_PRIV_KEY_INFO	*p8;
	BIO			*bio;
	int			 ok;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return NULL;
	if (pw == NULL)
		ok = PEM_write_bio_PKCS8PrivateKey(bio, pk, NULL, NULL, 0,
		    NULL, NULL) == 1;
	else {
		ok = (p8 = EVP_PKEY2PKCS8(pk)) != NULL &&
		    PEM_ASN1_write_bio(i2d_p8inf, PEM_STRING_PKCS8INF, bio, p8,
		    EVP_aes_256_cbc(), (const unsigned char *)pw, (int)pwlen,
		    NULL, NULL) == 1;
		PKCS8_PRIV_KEY_INFO_free(p8);	/* cleanses the key */
	}
	if (!ok) {
		BIO_free(bio);
		return NULL;
	}
	return bio;
}

/* The password of --encrypt, typed twice; its length or -1 (said why). */
static ssize_t
new_password(char *pw, size_t size)
{
	char	*again;
	ssize_t	 n, m;

	again = xmalloc(size);
	n = cli_read_password("Password for the private key: ", pw, size);
	m = n < 0 ? -1 : cli_read_password("The same password again: ", again,
	    size);
	if (n < 0 || m < 0)
		fprintf(stderr, "keyward identity new: cannot read the "
		    "password (at most %zu characters)\n", size - 1);
	else if (n == 0)
		fprintf(stderr, "keyward identity new: the password is "
		    "empty\n");
	else if (n != m || memcmp(pw, again, (size_t)n) != 0)
		fprintf(stderr, "keyward identity new: the passwords "
		    "differ\n");
	else {
		freezero(again, size);
		return n;
	}
	freezero(again, size);
	explicit_bzero(pw, size);
	return -1;
}

/* Both files or neither: the key is staged, then the certificate, then
 * both take their names; a failure removes what this call made. */
static int
write_files(const char *keyfile, const char *certfile, BIO *kbio, BIO *cbio,
    bool force)
{
	struct wfile	 wk = { 0 }, wc = { 0 };
	char		*kp, *cp;
	long		 kl, cl;
	const char	*failed;

	kl = BIO_get_mem_data(kbio, &kp);
	cl = BIO_get_mem_data(cbio, &cp);
	failed = keyfile;
	if (kl <= 0 || cl <= 0 ||
	    wfile_stage(&wk, keyfile, kp, (size_t)kl, 0600) == -1)
		goto fail;
	failed = certfile;
	if (wfile_stage(&wc, certfile, cp, (size_t)cl, 0644) == -1)
		goto fail;
	failed = keyfile;
	if (wfile_commit(&wk, force) == -1)
		goto fail;
	failed = certfile;
	if (wfile_commit(&wc, force) == -1) {
		if (!force)
			(void)unlink(keyfile);
		goto fail;
	}
	wfile_abort(&wk);
	wfile_abort(&wc);
	return CLI_OK;
 fail:
	if (errno == EEXIST)
		fprintf(stderr, "keyward identity new: %s exists; -f replaces "
		    "it\n", failed);
	else
		fprintf(stderr, "keyward identity new: %s: %s\n", failed,
		    strerror(errno));
	wfile_abort(&wk);
	wfile_abort(&wc);
	return CLI_REFUSED;
}


/* The key and certificate files of `identity new`. */
int
new_files(const struct newopts *o, const struct apikey *k,
    struct result *res)
{
	EVP_PKEY	*pk = NULL;
	X509		*x = NULL;
	BIO		*kbio = NULL, *cbio = NULL;
	char		 pw[PASS_MAX];
	ssize_t		 pwlen = 0;
	int		 r = CLI_REFUSED;

	if (o->encrypt) {
		/* Before anything is made: there is nothing to undo. */
		if (!cli_have_tty()) {
			fprintf(stderr, "keyward identity new: --encrypt reads "
			    "the password from a terminal, and there is none\n");
			return CLI_REFUSED;
		}
		if ((pwlen = new_password(pw, sizeof(pw))) < 0)
			return CLI_REFUSED;
	}
	if ((pk = apikey_pkey(k)) == NULL ||
	    (x = make_cert(pk, o->subject != NULL ? o->subject :
	    res->identity, o->secs, &o->ips, &o->dns)) == NULL ||
	    (kbio = key_pem(pk, o->encrypt ? pw : NULL, (size_t)pwlen)) ==
	    NULL || (cbio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(cbio, x) != 1) {
		ERR_clear_error();
		fprintf(stderr, "keyward identity new: cannot make the private "
		    "key and certificate\n");
		goto out;
	}
	r = write_files(o->keyfile, o->certfile, kbio, cbio, o->force);
	if (r == CLI_OK) {
		res->keyfile = o->keyfile;
		res->certfile = o->certfile;
	}
 out:
	explicit_bzero(pw, sizeof(pw));
	BIO_free(kbio);
	BIO_free(cbio);
	X509_free(x);
	EVP_PKEY_free(pk);
	return r;
}
