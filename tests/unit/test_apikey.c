/*
 * common/apikey: the "kes:v1:" text form (round trips, known answers,
 * rejects and mutations), the identity, and the client certificate.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/apikey.h"
#include "common/identity.h"
#include "common/xmalloc.h"

/*
 * Known answer computed without keyward, with the openssl command line:
 *
 *   seed=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
 *   printf '302e020100300506032b657004220420%s' $seed | xxd -r -p |
 *       openssl pkey -inform DER -pubout -outform DER | sha256sum
 *   printf '00%s' $seed | xxd -r -p | base64
 *
 * The first pipe wraps the seed in the PKCS#8 DER of an Ed25519 private
 * key, lets openssl derive the SubjectPublicKeyInfo and hashes it; the
 * second gives the text form without its "kes:v1:" prefix.
 */
static const uint8_t kat_seed[APIKEY_SEED_LEN] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const char kat_text[] =
    "kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f";
static const char kat_identity[] =
    "a050837d85070582ccf7394b0988847cc312cb88259b894899f6f239cf1791a5";

/* Vectors of kms-go kes/apikey_test.go (ExampleAPIKey_Identity et al.). */
static const struct {
	const char *key, *identity;
} kmsgo[] = {
	{ "kes:v1:AGaV6VXHasF0FnaB60WdCOeTZ8eTIDikL4zlN16c8NAs",
	  "ea9826089311fe44d7590408ede9150f7c637b6cab0a91ee6fe1aa5d9fb366f6" },
	{ "kes:v1:ACQpoGqx3rHHjT938Hfu5hVVQJHZWSqVI2Xp1KlYxFVw",
	  "0426fa9a04bc2756b92fbe8a97e1a1e07b53ecf04ed33da22c33e5c9faeb8cbb" },
	{ "kes:v1:AMxvd2uV1l5dDSRwuKZxSjuM5BDemlr+685+JAHA1TuJ",
	  "ab785e3b95d80d72cc9c27cb9fde886a0bf9068a69d40e3bd08a54e68c3f2bf7" },
};

Test(apikey, known_answer)
{
	struct apikey	 k;
	char		 id[IDENTITY_LEN + 1], *s;

	memcpy(k.seed, kat_seed, sizeof(k.seed));
	cr_assert_eq(apikey_identity(&k, id), 0);
	cr_assert_str_eq(id, kat_identity);
	s = apikey_format(&k);
	cr_assert_str_eq(s, kat_text);
	freezero_str(s);

	memset(&k, 0xa5, sizeof(k));
	cr_assert_eq(apikey_parse(kat_text, &k), 0);
	cr_assert_arr_eq(k.seed, kat_seed, sizeof(kat_seed));
}

Test(apikey, kmsgo_vectors)
{
	struct apikey	 k;
	char		 id[IDENTITY_LEN + 1], *s;
	size_t		 i;

	for (i = 0; i < sizeof(kmsgo) / sizeof(kmsgo[0]); i++) {
		cr_assert_eq(apikey_parse(kmsgo[i].key, &k), 0, "%zu", i);
		cr_assert_eq(apikey_identity(&k, id), 0);
		cr_assert_str_eq(id, kmsgo[i].identity, "%zu", i);
		s = apikey_format(&k);
		cr_assert_str_eq(s, kmsgo[i].key, "%zu", i);
		freezero_str(s);
	}
}

/* Our branch-free encoder against OpenSSL's, over many random seeds. */
Test(apikey, round_trip)
{
	struct apikey	 k, k2;
	unsigned char	 raw[1 + APIKEY_SEED_LEN], b64[64];
	char		*s;
	int		 i;

	for (i = 0; i < 2000; i++) {
		cr_assert_eq(apikey_generate(&k), 0);
		s = apikey_format(&k);
		cr_assert_eq(strlen(s), APIKEY_TEXT_LEN);
		cr_assert_eq(strncmp(s, "kes:v1:", 7), 0);
		raw[0] = 0;
		memcpy(raw + 1, k.seed, sizeof(k.seed));
		cr_assert_eq(EVP_EncodeBlock(b64, raw, sizeof(raw)), 44);
		cr_assert_str_eq(s + 7, (char *)b64);
		memset(&k2, 0, sizeof(k2));
		cr_assert_eq(apikey_parse(s, &k2), 0, "%s", s);
		cr_assert_arr_eq(k2.seed, k.seed, sizeof(k.seed));
		/* The prefix is optional, as with Go's strings.TrimPrefix. */
		memset(&k2, 0, sizeof(k2));
		cr_assert_eq(apikey_parse(s + 7, &k2), 0);
		cr_assert_arr_eq(k2.seed, k.seed, sizeof(k.seed));
		freezero_str(s);
	}
}

Test(apikey, generate_differs)
{
	struct apikey a, b;

	cr_assert_eq(apikey_generate(&a), 0);
	cr_assert_eq(apikey_generate(&b), 0);
	cr_assert_arr_neq(a.seed, b.seed, sizeof(a.seed));
}

/* Go's base64.StdEncoding skips CR and LF, e.g. a key file's newline. */
Test(apikey, newlines_ignored)
{
	struct apikey k;

	cr_assert_eq(apikey_parse(
	    "kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f\n", &k), 0);
	cr_assert_arr_eq(k.seed, kat_seed, sizeof(kat_seed));
	cr_assert_eq(apikey_parse(
	    "kes:v1:AAABAgMEBQYHCAkKCwwNDg8Q\r\nERITFBUWFxgZGhscHR4f", &k), 0);
	cr_assert_arr_eq(k.seed, kat_seed, sizeof(kat_seed));
}

Test(apikey, rejects)
{
	static const char *const bad[] = {
		"",
		"kes:v1:",
		/* kms-go's failing cases: a mangled prefix, type byte 0xb1 */
		"v1:AM0F5TP43FYEShMzA42f2drFYGnBOiNx7UH4DK0nm08E",
		"kes:AM0F5TP43FYEShMzA42f2drFYGnBOiNx7UH4DK0nm08E",
		"kes:v1:sbDvZFqUPFFwxRS4EkuoEb2nyyInkdKSUEYHXFHeTouW",
		/* type byte 0x01 */
		"kes:v1:AQABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
		/* 43 and 45 characters */
		"kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4",
		"kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fA",
		/* 32 and 34 bytes, padded */
		"kes:v1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
		"kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4fIA==",
		/* URL alphabet, space, prefix twice, upper-case prefix */
		"kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4_",
		"kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4-",
		"kes:v1: AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
		"kes:v1:kes:v1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
		"KES:V1:AAABAgMEBQYHCAkKCwwNDg8QERITFBUWFxgZGhscHR4f",
	};
	struct apikey	k;
	size_t		i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(apikey_parse(bad[i], &k), -1, "accepted '%s'",
		    bad[i]);
	cr_assert_eq(apikey_parse(NULL, &k), -1);
}

/* Every byte value at every position: only the alphabet passes. */
Test(apikey, mutations)
{
	static const char alphabet[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	struct apikey	 k;
	char		 s[sizeof(kat_text)];
	size_t		 pos, want;
	int		 c, r;

	for (pos = 7; pos < sizeof(kat_text) - 1; pos++) {
		for (c = 1; c < 256; c++) {
			memcpy(s, kat_text, sizeof(s));
			s[pos] = (char)c;
			r = apikey_parse(s, &k);
			if (c == '\r' || c == '\n')
				cr_assert_eq(r, -1);	/* now 43 chars */
			else if (strchr(alphabet, c) == NULL)
				cr_assert_eq(r, -1, "pos %zu char %d", pos, c);
			else if (pos <= 8) {
				/* Type byte: 6 + 2 bits. */
				want = (pos == 7 ? c == 'A' :
				    strchr("ABCDEFGHIJKLMNOP", c) != NULL);
				cr_assert_eq(r, want ? 0 : -1,
				    "pos %zu char %c", pos, c);
			} else
				cr_assert_eq(r, 0, "pos %zu char %c", pos, c);
		}
	}
	/* Every truncation. */
	for (pos = 0; pos < sizeof(kat_text) - 1; pos++) {
		memcpy(s, kat_text, pos);
		s[pos] = '\0';
		cr_assert_eq(apikey_parse(s, &k), -1, "length %zu", pos);
	}
}

Test(apikey, certificate)
{
	struct apikey		 k;
	EVP_PKEY		*pk;
	X509			*x, *x2;
	X509_NAME		*subj;
	BASIC_CONSTRAINTS	*bc;
	const ASN1_INTEGER	*serial;
	char			 id[IDENTITY_LEN + 1], cid[IDENTITY_LEN + 1];
	char			 cn[IDENTITY_LEN + 2];
	int			 days, secs, crit;

	cr_assert_eq(apikey_generate(&k), 0);
	cr_assert_eq(apikey_identity(&k, id), 0);
	cr_assert_not_null(pk = apikey_pkey(&k));
	cr_assert_not_null(x = apikey_certificate(&k, pk));

	/* Self-signed with the API key's Ed25519 key. */
	cr_assert_eq(X509_get_signature_nid(x), NID_ED25519);
	cr_assert_eq(X509_verify(x, pk), 1);
	cr_assert_eq(X509_verify(x, X509_get0_pubkey(x)), 1);
	/* It names itself as issuer but may not sign certificates. */
	cr_assert_eq(X509_check_issued(x, x), X509_V_ERR_KEYUSAGE_NO_CERTSIGN);
	cr_assert_eq(X509_get_version(x), X509_VERSION_3);

	/* CN = identity = identity of the certificate, issuer the same. */
	subj = X509_get_subject_name(x);
	cr_assert_eq(X509_NAME_entry_count(subj), 1);
	cr_assert_eq(X509_NAME_get_text_by_NID(subj, NID_commonName, cn,
	    sizeof(cn)), IDENTITY_LEN);
	cr_assert_str_eq(cn, id);
	cr_assert_eq(X509_NAME_cmp(subj, X509_get_issuer_name(x)), 0);
	cr_assert_eq(identity_of_cert(x, cid), 0);
	cr_assert_str_eq(cid, id);

	/* Extensions: digitalSignature, clientAuth, CA:FALSE present. */
	cr_assert_eq(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	cr_assert(X509_get_extension_flags(x) & EXFLAG_XKUSAGE);
	cr_assert_eq(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	cr_assert_eq(X509_check_ca(x), 0);
	cr_assert_not_null(bc = X509_get_ext_d2i(x, NID_basic_constraints,
	    &crit, NULL));
	cr_assert_eq(bc->ca, 0);
	cr_assert_eq(crit, 1);
	BASIC_CONSTRAINTS_free(bc);
	cr_assert_eq(X509_check_purpose(x, X509_PURPOSE_SSL_CLIENT, 0), 1);

	/* From now for 90 days. */
	cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x),
	    X509_get0_notAfter(x)), 1);
	cr_assert_eq(days, 90);
	cr_assert_leq(secs, 1);
	cr_assert_leq(X509_cmp_current_time(X509_get0_notBefore(x)), 0);
	cr_assert_geq(X509_cmp_current_time(X509_get0_notAfter(x)), 0);

	/* A non-negative serial below 2^128, fresh each time. */
	serial = X509_get0_serialNumber(x);
	cr_assert_neq(ASN1_STRING_type(serial), V_ASN1_NEG_INTEGER);
	cr_assert_leq(ASN1_STRING_length(serial), 16);
	cr_assert_not_null(x2 = apikey_certificate(&k, NULL));
	cr_assert_neq(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(x2)), 0);
	cr_assert_eq(X509_verify(x2, pk), 1);

	X509_free(x2);
	X509_free(x);
	EVP_PKEY_free(pk);
}

/* A key that is not the API key's would carry a CN that lies. */
Test(apikey, certificate_wrong_key)
{
	struct apikey	 a, b;
	EVP_PKEY	*pkb;

	cr_assert_eq(apikey_generate(&a), 0);
	cr_assert_eq(apikey_generate(&b), 0);
	cr_assert_not_null(pkb = apikey_pkey(&b));
	cr_assert_null(apikey_certificate(&a, pkb));
	EVP_PKEY_free(pkb);
}

/* The DER of the Ed25519 SPKI is the 44 bytes spec §4.4 spells out. */
Test(apikey, spki_layout)
{
	static const uint8_t prefix[] = {
		0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03,
		0x21, 0x00,
	};
	struct apikey	 k;
	EVP_PKEY	*pk;
	unsigned char	*der = NULL, pub[32];
	size_t		 publen = sizeof(pub);

	memcpy(k.seed, kat_seed, sizeof(k.seed));
	cr_assert_not_null(pk = apikey_pkey(&k));
	cr_assert_eq(i2d_PUBKEY(pk, &der), 44);
	cr_assert_arr_eq(der, prefix, sizeof(prefix));
	cr_assert_eq(EVP_PKEY_get_raw_public_key(pk, pub, &publen), 1);
	cr_assert_arr_eq(der + sizeof(prefix), pub, sizeof(pub));
	OPENSSL_free(der);
	EVP_PKEY_free(pk);
}
