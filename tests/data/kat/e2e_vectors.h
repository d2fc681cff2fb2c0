/*
 * Stored keys, ciphertexts and HMACs in every format real KES wrote, made
 * by an independent implementation: tests/data/kat/e2e_vectors.py (run it
 * to regenerate; it says how each value is computed, and prints the part
 * between the markers below). Used by the end-to-end tests of every key
 * store (tests/e2e/test_keystore.c for the filesystem, test_vault.c for
 * Vault): a store KES filled must serve these unchanged.
 */
#ifndef KEYWARD_TESTS_KAT_E2E_VECTORS_H
#define KEYWARD_TESTS_KAT_E2E_VECTORS_H

#include <stdbool.h>

struct kat_key {
	const char	*name;
	const char	*value;		/* the file's content */
	const char	*algorithm;	/* describe */
	const char	*created_at;	/* describe, Go's RFC 3339 */
	const char	*created_by;	/* describe; "" omitted */
	bool		 hmac;		/* has an HMAC key */
};

struct kat_ct {
	const char	*key;
	const char	*what;
	const char	*ciphertext;	/* b64 */
	const char	*context;	/* b64 */
	const char	*plaintext;	/* b64 */
};

struct kat_mac {
	const char	*key;
	const char	*message;	/* b64 */
	const char	*hmac;		/* b64 */
};

/*
 * Made by tests/data/kat/e2e_vectors.py (run it to regenerate; it says
 * how each value is computed): stored keys in the protobuf form of KES
 * >= 2024-02-29 (hand-encoded, AES256 and ChaCha20, with HMAC keys) and
 * the four legacy JSON shapes of spec 6.1 (v0.5.0 {"bytes"}; v0.19.2 with
 * algorithm AES256-GCM_SHA256; v0.22.3 with version v1 and
 * XCHACHA20-POLY1305; 2023-10 without algorithm (AES) and with
 * "ChaCha20"); ciphertexts sealed with python3-cryptography after the
 * spec 5.2 key derivation (HMAC-SHA256 for AES256, HChaCha20 written from
 * draft-irtf-cfrg-xchacha section 2.2 and checked against its test
 * vector): raw (spec 5.3) under every key (and two whose first byte is
 * the msgpack or JSON marker, which must fall back to raw), msgpack with
 * each of the four algorithm names (one with a bin16 field), JSON with
 * both aead names, with and without the key id, and one ChaCha20Poly1305
 * JSON ciphertext under a key stored without algorithm (opened with the
 * algorithm it names, spec 5.4's recommendation); HMACs with Python's
 * hmac module.
 */
/* --- e2e_vectors.py output (do not edit by hand) --- */
static const struct kat_key kat_keys[] = {
	{ "kat-pb-aes",
	    "CiQKIN4H6mf8Hy/Na4uSsUtcRVzC+/tz4f9lMley8/WfUAjMEAESJAog"
	    "bnE3utSJXA//ZLV6qxCacfHzVUmxMcRyX9w04oKvgnMQARoLCOz4gK8G"
	    "EICcnDkiQDQ2ZmExMzQzMjBlZGEyY2NkMDQ3ODlmZDYxNThkNzYyMmIz"
	    "MDQxMGRiZjQ1ZjZmY2IxNjAzZGI1Mzc1Nzc0ZGY=",
	    "AES256-GCM_SHA256", "2024-02-29T08:12:28.12Z",
	    "46fa134320eda2ccd04789fd6158d7622b30410dbf45f6fcb1603db5"
	    "375774df", true },
	{ "kat-pb-chacha",
	    "CiQKIE6hH1O9coB0EZkML4Oszoarb0uWQxzgoHGb0mz6bvCjEAISJAog"
	    "JY4G5JMqGy9j3yOVogIFiEarZKGhbIvZil+o1pcsQwUQARoMCIXs57IG"
	    "ELHR+dYDIkA0NmZhMTM0MzIwZWRhMmNjZDA0Nzg5ZmQ2MTU4ZDc2MjJi"
	    "MzA0MTBkYmY0NWY2ZmNiMTYwM2RiNTM3NTc3NGRm",
	    "XCHACHA20-POLY1305", "2024-05-31T16:08:37.987654321Z",
	    "46fa134320eda2ccd04789fd6158d7622b30410dbf45f6fcb1603db5"
	    "375774df", true },
	{ "kat-json-v050",
	    "{\"bytes\":\"uJQNTRjeAWEFrBFlo56gUXR8Qf/7bJm3OSgZmK7Kvrw=\"}",
	    "AES256-GCM_SHA256", "0001-01-01T00:00:00Z",
	    "", false },
	{ "kat-json-v0192",
	    "{\"bytes\":\"iAGQUTPDIlaRnyOe3mnGGvVfMyLyQIDyw0bf3P6Qa8s=\","
	    "\"algorithm\":\"AES256-GCM_SHA256\",\"created_at\":\"2022-03-01"
	    "T10:20:30.123456789Z\",\"created_by\":\"6695133185e78fa5b1bc"
	    "e13a99088cc65d275d32a6a7f67abe21d9233c6a03e5\"}",
	    "AES256-GCM_SHA256", "2022-03-01T10:20:30.123456789Z",
	    "6695133185e78fa5b1bce13a99088cc65d275d32a6a7f67abe21d923"
	    "3c6a03e5", false },
	{ "kat-json-v0223",
	    "{\"version\":\"v1\",\"bytes\":\"lpBRtorDzSaIxNjyU7/WziNsRVuv13b"
	    "sCtkhSkFODJ4=\",\"algorithm\":\"XCHACHA20-POLY1305\",\"created"
	    "_at\":\"2022-11-01T00:00:00.5Z\",\"created_by\":\"6695133185e7"
	    "8fa5b1bce13a99088cc65d275d32a6a7f67abe21d9233c6a03e5\"}",
	    "XCHACHA20-POLY1305", "2022-11-01T00:00:00.5Z",
	    "6695133185e78fa5b1bce13a99088cc65d275d32a6a7f67abe21d923"
	    "3c6a03e5", false },
	{ "kat-json-v2023-aes",
	    "{\"version\":\"v1\",\"bytes\":\"JpQZRJvKrBfovhbiaSHQPfioMzxS+md"
	    "2mgocDwSwej4=\",\"created_at\":\"2023-11-14T22:13:20Z\",\"crea"
	    "ted_by\":\"46fa134320eda2ccd04789fd6158d7622b30410dbf45f6f"
	    "cb1603db5375774df\"}",
	    "AES256-GCM_SHA256", "2023-11-14T22:13:20Z",
	    "46fa134320eda2ccd04789fd6158d7622b30410dbf45f6fcb1603db5"
	    "375774df", false },
	{ "kat-json-v2023-chacha",
	    "{\"version\":\"v1\",\"bytes\":\"Q1eN8oWwtCbqsTXGyJELFOICvUNXpO1"
	    "AigQrz8jG+pU=\",\"algorithm\":\"ChaCha20\",\"created_at\":\"2023"
	    "-12-31T23:59:59.999999999Z\",\"created_by\":\"46fa134320eda2"
	    "ccd04789fd6158d7622b30410dbf45f6fcb1603db5375774df\"}",
	    "XCHACHA20-POLY1305", "2023-12-31T23:59:59.999999999Z",
	    "46fa134320eda2ccd04789fd6158d7622b30410dbf45f6fcb1603db5"
	    "375774df", false },
};
static const struct kat_ct kat_cts[] = {
	{ "kat-pb-aes",
	    "raw AES256",
	    "CivLQ4JTZV2bK7/tqNyVKRRMBFpUJG7SW8DBFLBjQcxGKr8+sB5H+QgK"
	    "RwbmNeBW8z5Vk7qIyJFRjgmPZaI3UUeeNDruoPfAQDoM3w==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "nfYEF6QfUrvz7h0e2OxHw+ILMAu8ooDsvqDlQQD4A78=" },
	{ "kat-pb-chacha",
	    "raw ChaCha20",
	    "UHocG58nAVt/sjywB5p5ypKlVeutv2u0x874yqPnKwPhCKQO+fCZK98N"
	    "Exe6DIe7FNECGE4PL0vE5Q2jSwHFBsZz59h7spNAMPthCw==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "szEwGjvtT4Y7IdDik/6CNVJwUqwU3gOlSKlqonXp+WI=" },
	{ "kat-json-v050",
	    "raw AES256",
	    "ka0reLwdRNwZMqOxRBsrh9+eeePw6l5MFgmib3Dgawm27HPjRoY1hhEp"
	    "4ugL53lePDaWaDwKYHtmGZM1j6MVSBP0y1OLI7v286GStg==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "PZzIPDZ3uptzuTKsJnZMAm5YJHS0oqSYNNpMZFC+l5I=" },
	{ "kat-json-v0192",
	    "raw AES256",
	    "wg6trWiUlYoAbuxYba4c0NKYLN4SwiGhmImrz4JQW/3IF8ZNnArHP/Iq"
	    "0zp0/njmLmLou6Dq9tqLP18yzg2Rir9tbtgTRKCYwr/fAA==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "yCdRafjGphaJOf2X55Ak2ADp033Ioh8sO3lSJLetX8s=" },
	{ "kat-json-v0223",
	    "raw ChaCha20",
	    "Gk344tqY60XvDpFUr9+iZIkGI0KieakvnhLn8GtvY6Py+EoVGAmYUpTg"
	    "f7WcE6oAPuA9/jK+VmRN2moQXUYrp5bSldrbmdSUsMrrIg==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "knu93ScY7b3TYyxusx45dMR6jpJBJ/rcSBrmEtLPQ7Y=" },
	{ "kat-json-v2023-aes",
	    "raw AES256",
	    "6mVEx8t35aolxucFLNMcfSLhXkAnziTSdA0f+lJbElgB3teJ+cFKAeKR"
	    "hivChXb4GXpszsE4EnC0VkxiPRt33Hr4U7KXSxNE3vhtRw==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "lu0r75PgYeNAMcZ+1h+zjeYzNmu4XJQ9qcdITLdXtWY=" },
	{ "kat-json-v2023-chacha",
	    "raw ChaCha20",
	    "aIUdv4Ve6cP9lXrs9aafeAaZYfDmsxS7MTCQLLBYGTI5diVx8Iy1/aC+"
	    "C+iB52892LfldzbSb/ojxS9QKRogJ9+vAQhZ55HG8y6PmA==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "GmEM2mFu1QzZKF1oCTwOIcySdVR+yV3fzZ+Znr5K3p8=" },
	{ "kat-json-v0192",
	    "msgpack AES256-GCM_SHA256",
	    "lbFBRVMyNTYtR0NNX1NIQTI1NtkgZGI0M2VlZmFiNDUzNWM3NDdkZGI4"
	    "YjhmZDlkYTBlMGLEEGWTrzpaBjLlh5BcQJ7nE5PEDInQDaWdj4ONxwDV"
	    "b8Qw9APtErZ+0PYN1cKIN4Fr9iWPeiL3C9d2E60jq9jJtlpPC0S0drRZ"
	    "vY6keoYR9J/R",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "q+WK7zPTUCSFFntxYyH7qzPe+1X4lLw9LZxteZoP2E0=" },
	{ "kat-json-v0223",
	    "msgpack XCHACHA20-POLY1305",
	    "lbJYQ0hBQ0hBMjAtUE9MWTEzMDXZIGViZTMwMzAzOTdhZjI2OTI5OTY2"
	    "YWJlMDM1MzExNDAwxBAEchi9E55JpHdN3HC9+EhLxAxiJNZ8XasEcbIB"
	    "pb3EME5rv1wdWyhTSCJWSZANCD1lagjz7AYEqrAtmi7+lb1Z27VTjSE3"
	    "oIFB78tRgpyvHw==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "nd6Q1TpJ1zyz7g3YtBCJyZfAOtGg9WPYINjaf9OEFmk=" },
	{ "kat-json-v2023-aes",
	    "msgpack AES256",
	    "laZBRVMyNTbZIDY5MzE2MDQ0ZGJiOGQwMTk5ZTRmODI0NTAxZGFmYzgw"
	    "xBARrZS0SPHsYpY7KgodJUVlxAxygdkNCQNG/LDh4dDEMEEsQCFYrwZW"
	    "K51acjpqTcMcR2ocXKVI8Lzq5X+UXAwNF5E/S/1+cIhXgOUa1+oTJw==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "absoYYGPElImA4t72fSlReA1w/wBaRjOVbXaHfFeNsg=" },
	{ "kat-json-v2023-chacha",
	    "msgpack ChaCha20",
	    "lahDaGFDaGEyMNkgYmZmNzY5ODY4NTYyOTI4NTBhZWI2N2NkZDQ4ZGU4"
	    "NGbEEKkgUEADbcmwDyccER1U59LEDM6unnyhlGzidxBI7cQwnSokThUI"
	    "yOug9Gb48PZC9dQvBuAxhwcSh3Ik/bGaO0iXZzIjkwhPpwRiKY9ex1TT",
	    "",
	    "52N8SPPUYBL05ZDqjZeXEu/9DKmU7nUgmWyFE+Iezac=" },
	{ "kat-pb-aes",
	    "msgpack AES256",
	    "laZBRVMyNTbZIGFhZjEyZmI0ZTI0NzZlMzFiZWNiZGE2OGZjYzk1YzQ1"
	    "xBDcYez/uNL8tKXLQ43SGOP0xAw9EaiJLsRgswpxHBnFATzzGedZEO/E"
	    "NOw1WPgKhjKbvpcKLwKQRygx3ZTzu/K9gE7wmmd66qjQsQU1SfKGyCYy"
	    "qcTMiWgPt5dP2ysCRl+9B8M5GJa1Pwa3tCsglmzE7IpaIqV9DkWTNW3y"
	    "8uY9L6EsTKXmOyMW2aG66385Ecie7wMVEjkecE4z1h9I9vCki6MCRAAO"
	    "lR4VXNp97bUnwVF1VYOG2QZbD9RiNcJqy/69GTXEN0BiJMoK/+VkmnAc"
	    "Vg8SOTCzNwAFiHYRFabHgwe9wvtcJd4Z7HxeneIfPemQ2TyR+0h0FrvR"
	    "rJyWp78W8NfBxyKOEH8BsWVZ9Cb9jDfYoYOgoBMv2vE09SYR8XQuHL0u"
	    "pAOG/JpfXVxfcwzAh2Ms2B24LZUtLLBpW5CUdSzZdX0y9i2Iz67CM0QP"
	    "L+z9KVW025OVN+HhZsw0",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "HObsavIdRP73zYRFdm/LKcXIg+K5NK7sRqIKUc0A7sLiz5O/4ZDtdMuL"
	    "2SnwXdfl2L0AmYt52oywdtMmQg7Izp2zPY1XEYMWGxSkbOnV52w8ge3r"
	    "j13ge45ANG9hQ1B8oiGPPcRQZs+lgtYU/mlEORnyHMmRNcMd2IcW+9Oc"
	    "NUT64dacFnJSTWsXfJtGXo4rCxCCJDoajjRnc+7dPXDEhxqyNeZ7ER2W"
	    "KW9CXFiUf4kQtpnbV6nUFL6ePb68K7LGmTYqACd1FWpNqrEVlGam/+jF"
	    "2Ix5Ltu2KMvU3WUEzkuvITch2G7Dd3p+ejZnJmXsyTIXDJOxpw0DYKdu"
	    "ISX2a6CGgsSPxQvPgMTXd9pvCbwwoTlWdnkTmwC20115GQ7wak9m58Zg"
	    "Avy47mBt" },
	{ "kat-json-v050",
	    "json AES-256-GCM-HMAC-SHA-256",
	    "eyJhZWFkIjoiQUVTLTI1Ni1HQ00tSE1BQy1TSEEtMjU2IiwiaXYiOiJ6"
	    "ZDhtTXdHTnRMV1h1UjRudUltUkJnPT0iLCJub25jZSI6ImhMOExKR1cz"
	    "VjA3bVVtU1oiLCJieXRlcyI6IjUyT0gzRkRPa0prS0ZWK1k0UFYxd1ZD"
	    "RlZOdzh3TUZmZXlXa2FzOUxTWng4ODd3dDdKMjFRVW1wUHhiN1E4dmEi"
	    "fQ==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "G27b5vT1ylZ2bRIzfPy+jTUs8eXPOfMudXshIbPA9bg=" },
	{ "kat-json-v0192",
	    "json AES-256-GCM-HMAC-SHA-256 with id",
	    "eyJhZWFkIjoiQUVTLTI1Ni1HQ00tSE1BQy1TSEEtMjU2IiwiaWQiOiJk"
	    "YjQzZWVmYWI0NTM1Yzc0N2RkYjhiOGZkOWRhMGUwYiIsIml2IjoicjMy"
	    "QW9tZlc0MTZZbmQ2ZFRkMTNMUT09Iiwibm9uY2UiOiJlcXJvMFRKcE42"
	    "VHY5c3BNIiwiYnl0ZXMiOiI2VTV1QXVRa0NiZVpHWkZNUk9raFJ3a3hq"
	    "QVp0UG8xajNEc25sbzlPNHN6eUgwdVNsSVByUTNvVkFEQ1dsR0hBIn0=",
	    "",
	    "rfcCocwUs0+lutraK8FFty8KPkOvCpNY4us4RYEAMw0=" },
	{ "kat-json-v0223",
	    "json ChaCha20Poly1305 with id",
	    "eyJhZWFkIjoiQ2hhQ2hhMjBQb2x5MTMwNSIsImlkIjoiZWJlMzAzMDM5"
	    "N2FmMjY5Mjk5NjZhYmUwMzUzMTE0MDAiLCJpdiI6IlNLU1BYaDE2KzhE"
	    "Tnh6bHAzRCtKeFE9PSIsIm5vbmNlIjoia0RQT2gvQ2hybEpBSnEwdyIs"
	    "ImJ5dGVzIjoiVVVHa0hwNU5oenNQU1JCQ1YrMGxaNkgvbGkxeFM4MnZS"
	    "QjRMaWVpQU9IWTI5Z29WWGpBaVVmOFV1SCtPVDNVVyJ9",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "zYDrOXtm8KPr//mXyV44pZZY8uJp2dr2aR83QHQLg54=" },
	{ "kat-pb-chacha",
	    "json ChaCha20Poly1305",
	    "eyJhZWFkIjoiQ2hhQ2hhMjBQb2x5MTMwNSIsIml2IjoiemlJRVg3dUhD"
	    "UDN6MS9rQ2VKcmpOQT09Iiwibm9uY2UiOiIyb2tKZVZKaDJ5RzBPcmdY"
	    "IiwiYnl0ZXMiOiJjR1RPbUhWVnUvb0krRDc3UkdYT0VRVnhrZGw0OXZO"
	    "TUJyQXRzb3p0QjRwLzdWQXBKN050T1RRellKZkcrK3RzIn0=",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "9kgJQUvB4+rWH3F+fb8pPKlPTdL1mFYEOwY7Hh2B/yI=" },
	{ "kat-pb-aes",
	    "raw AES256 starting with 0x95",
	    "lcgwxCKlacZx94jmd/rPRtsNKMYwfUEq0BlhSahdfhNMMMjRgH8qJwgJ"
	    "2KdvZjSwtvR2os3eUKHdv7gQKGvBjZk1CPHTfOYmlrow0g==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "D+m7ZgdzlG115UsMJre4kuyZADbMfzDCATfPJZ1KPX8=" },
	{ "kat-pb-chacha",
	    "raw ChaCha20 starting with 0x7b",
	    "eyqTbZcDhdLRG656Fh0YzJ+NissoTaRZL1/dzXGFG8/ZueAfKh/9xUPC"
	    "Bv5Rps02gd9yoq5juV2aX9jyt8brpPH4EDvEb+wM4TJ3Vg==",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "GW1t+kXQufEuxJBnPk7zrcM40aFclyClSMBCqktCOxo=" },
	{ "kat-json-v050",
	    "json ChaCha20Poly1305 under an AES256 key (spec 5.4)",
	    "eyJhZWFkIjoiQ2hhQ2hhMjBQb2x5MTMwNSIsImlkIjoiMjY1YmNiNWM2"
	    "M2YwMzE2ZDI2ODE0ZmVjMTk1NmUzNjIiLCJpdiI6IkpVSlUxU1JsKzR1"
	    "MkpqSml5MGNqMnc9PSIsIm5vbmNlIjoiaUFZOFZjMlJvZ0tNc2tSbyIs"
	    "ImJ5dGVzIjoiQlpJTjc3UjRuOTVBaTZoL0lGWktHNTcydGRQNjVXemE2"
	    "bVFrWlNOVmYrOTk1V0hUbkg2ZmVKbnRXSDhOdVNSYiJ9",
	    "eyJidWNrZXQiOiJrYXQiLCJvYmplY3QiOiJlMmUvb2JqIn0=",
	    "kNKwo2Toi/6z6mjkQTouwuo7TEUK3BrWcdmh0Ufvmyc=" },
};
static const struct kat_mac kat_macs[] = {
	{ "kat-pb-aes",
	    "",
	    "HMterNA5tO1pxBcoBXSLwXDG5qfMeaDRuWX3nGa0Jnw=" },
	{ "kat-pb-aes",
	    "cm9vdCBhY2Nlc3Mga2V5",
	    "EcsNpyRfe9GaTqGim//ICAAIBWcIdRnEBexPg7C6UwU=" },
	{ "kat-pb-aes",
	    "RjaHhlkFOOmVAMTVANEDqWVRR4V8ldZLvmzd6d0bUxVzFxNSPVLxyOXT"
	    "HPUBaMOfJ6UfawZxW4aVGMDMbWMyyi6vJ8NaJ2NeHNMw3gStIXKv/ko9"
	    "pC4NMzPQJtDU2LDVzovyIQ==",
	    "Qwn81+On+CBuUrwO4prHHd2uIU0V3siEOSgzSwMyi9s=" },
	{ "kat-pb-chacha",
	    "",
	    "1OJNGIqK6iVPuTuFAg4CseTZgiRmgim+Jqcdai7U0vQ=" },
	{ "kat-pb-chacha",
	    "cm9vdCBhY2Nlc3Mga2V5",
	    "iLKOm4RSiPUTtZJcqdNWYGFSPWT0V3CNlMekEKMTsos=" },
	{ "kat-pb-chacha",
	    "Kyp38Q8ko5QbqFcHvdUPb8kCFhz4nscMmDUZvlBKv0n2IOokwdGbg3lL"
	    "8k55Job/5v3oRm3aYmMFwTQpBR86KKjHlctUjbYnbNB6Gw+5FPnINGFP"
	    "qi4FPotp1Fbi7n8O6QW9Fw==",
	    "F4z4RS4qMsiutXALRFI8lxAiI8qgY8gndazqYFpUJJE=" },
};
/* --- end of e2e_vectors.py output --- */

#endif
