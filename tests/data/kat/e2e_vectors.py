#!/usr/bin/python3
"""Stored keys and ciphertexts in every format real KES wrote, for the
end-to-end tests of the key stores (tests/e2e/test_keystore.c,
tests/e2e/test_vault.c).

Run with Debian's interpreter and package, not keyward's code:

    apt-get install -y python3-cryptography
    /usr/bin/python3 tests/data/kat/e2e_vectors.py

It prints C constants that are pasted into tests/data/kat/e2e_vectors.h
between the "e2e_vectors.py output" markers; the tests do not need Python. Every input
is fixed (bytes are SHA-256 of a label), so the output is the same on every
run. Who computes what, independently of keyward:

  * Stored keys (spec 6.1): the protobuf KeyVersion is encoded by hand
    below (tags, varints, length-delimited fields, in field order 1..4, as
    proto3 serialises it), then base64; the four legacy JSON shapes are
    written as Go's encoding/json wrote them (field order of the KES struct,
    compact, std base64 with padding, RFC 3339 times).
  * AES256 key derivation: Python's hmac module, k' = HMAC-SHA256(K, iv).
  * ChaCha20 key derivation: HChaCha20 written below from
    draft-irtf-cfrg-xchacha-03 section 2.2, checked against the draft's
    test vector of section 2.2.1 before anything is printed.
  * AES-256-GCM and ChaCha20-Poly1305 (RFC 8439, 12-byte nonce):
    python3-cryptography.
  * Ciphertext containers (spec 5.3/5.4): raw = sealed || iv || nonce;
    msgpack built byte by byte in the encoder forms of spec 5.4 (fixarray
    0x95, fixstr/str8, bin8/bin16); JSON with the field order KES used
    (aead, id, iv, nonce, bytes).
  * HMAC (spec 5.5): hmac.new(hmac_key, msg, sha256).
  * Describe output: algorithm per spec 5.1, created_at as Go's
    time.Time.MarshalJSON writes it (RFC 3339, UTC "Z", fraction without
    trailing zeros; 0001-01-01T00:00:00Z for a key without a time).
"""

import base64
import datetime
import hashlib
import hmac
import json
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM, \
    ChaCha20Poly1305

AES, CHACHA = 1, 2      # protobuf SecretKey.Type


def fixed(label, n=32):
    """n deterministic bytes for a label."""
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"keyward-e2e/%s/%d" % (label.encode(), i)
                              ).digest()
        i += 1
    return out[:n]


def b64(b):
    return base64.b64encode(b).decode()


# --- HChaCha20, draft-irtf-cfrg-xchacha-03 section 2.2 -------------------

def _rotl(v, n):
    return ((v << n) & 0xffffffff) | (v >> (32 - n))


def _qr(s, a, b, c, d):
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = _rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = _rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xffffffff; s[d] = _rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xffffffff; s[b] = _rotl(s[b] ^ s[c], 7)


def hchacha20(key, inp):
    """Words 0-3 and 12-15 of the ChaCha20 state after 20 rounds, without
    the final addition; constants, key, then the 16-byte input."""
    assert len(key) == 32 and len(inp) == 16
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + \
        list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", inp))
    for _ in range(10):
        _qr(s, 0, 4, 8, 12); _qr(s, 1, 5, 9, 13)
        _qr(s, 2, 6, 10, 14); _qr(s, 3, 7, 11, 15)
        _qr(s, 0, 5, 10, 15); _qr(s, 1, 6, 11, 12)
        _qr(s, 2, 7, 8, 13); _qr(s, 3, 4, 9, 14)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def check_hchacha20():
    """The test vector of draft-irtf-cfrg-xchacha-03 section 2.2.1."""
    key = bytes(range(32))
    inp = bytes.fromhex("000000090000004a0000000031415927")
    want = bytes.fromhex("82413b4227b27bfed30e42508a877d73"
                         "a0f9e4d58a74a853c12ec41326d3ecdc")
    got = hchacha20(key, inp)
    if got != want:
        sys.exit("HChaCha20 does not match the draft's test vector: " +
                 got.hex())


# --- sealing (spec 5.2) ----------------------------------------------------

def seal(kind, key, iv, nonce, pt, aad):
    """sealed = ciphertext || tag under the per-ciphertext key."""
    if kind == AES:
        kd = hmac.new(key, iv, hashlib.sha256).digest()
        return AESGCM(kd).encrypt(nonce, pt, aad)
    kd = hchacha20(key, iv)
    return ChaCha20Poly1305(kd).encrypt(nonce, pt, aad)


def key_id(key):
    """spec 5.6: hex of the first 16 bytes of SHA-256(K)."""
    return hashlib.sha256(key).digest()[:16].hex()


def mp_str(s):
    b = s.encode()
    if len(b) < 32:
        return bytes([0xa0 | len(b)]) + b
    assert len(b) < 256
    return bytes([0xd9, len(b)]) + b


def mp_bin(b):
    if len(b) < 256:
        return bytes([0xc4, len(b)]) + b
    assert len(b) < 65536
    return bytes([0xc5]) + struct.pack(">H", len(b)) + b


def ct_raw(kind, key, iv, nonce, pt, aad):
    return seal(kind, key, iv, nonce, pt, aad) + iv + nonce


def ct_msgpack(alg, kind, key, iv, nonce, pt, aad):
    sealed = seal(kind, key, iv, nonce, pt, aad)
    return (b"\x95" + mp_str(alg) + mp_str(key_id(key)) + mp_bin(iv) +
            mp_bin(nonce) + mp_bin(sealed))


def ct_json(aead, kind, key, iv, nonce, pt, aad, with_id):
    sealed = seal(kind, key, iv, nonce, pt, aad)
    # Go's encoding/json: struct field order, compact, std base64.
    parts = ['"aead":%s' % json.dumps(aead)]
    if with_id:
        parts.append('"id":%s' % json.dumps(key_id(key)))
    parts += ['"iv":"%s"' % b64(iv), '"nonce":"%s"' % b64(nonce),
              '"bytes":"%s"' % b64(sealed)]
    return ("{" + ",".join(parts) + "}").encode()


# --- stored keys (spec 6.1) ------------------------------------------------

def pb_varint(v):
    out = b""
    while True:
        b = v & 0x7f
        v >>= 7
        if v:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, wire, payload):
    """wire 0: payload is an int; wire 2: payload is bytes."""
    tag = pb_varint(num << 3 | wire)
    if wire == 0:
        return tag + pb_varint(payload)
    return tag + pb_varint(len(payload)) + payload


def pb_key_version(kind, key, hmac_key, sec, nanos, created_by):
    """KeyVersion{Key=SecretKey{Key,Type}, HMACKey=HMACKey{Key,Hash=1},
    CreatedAt=Timestamp{seconds,nanos}, CreatedBy}; zero scalars omitted."""
    secret = pb_field(1, 2, key) + pb_field(2, 0, kind)
    hkey = pb_field(1, 2, hmac_key) + pb_field(2, 0, 1)
    ts = b""
    if sec:
        ts += pb_field(1, 0, sec)
    if nanos:
        ts += pb_field(2, 0, nanos)
    out = pb_field(1, 2, secret) + pb_field(2, 2, hkey) + \
        pb_field(3, 2, ts)
    if created_by:
        out += pb_field(4, 2, created_by.encode())
    return out


def go_time(sec, nanos):
    """time.Time.MarshalJSON of a UTC time (RFC 3339 with nanoseconds)."""
    t = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=sec)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if nanos:
        s += ("." + "%09d" % nanos).rstrip("0")
    return s + "Z"


def legacy_json(fields):
    """Go's encoding/json, compact, in the given (struct) order."""
    return ("{" + ",".join('"%s":%s' % (k, json.dumps(v))
                           for k, v in fields) + "}").encode()


# --- the vectors -----------------------------------------------------------

IDENT = hashlib.sha256(b"keyward-e2e/creator").hexdigest()
IDENT_OLD = hashlib.sha256(b"keyward-e2e/old-creator").hexdigest()


def keys():
    """(name, kind, secret, hmac key or None, stored value, describe
    algorithm, created_at text, created_by)."""
    out = []

    def add(name, kind, value, hk, when, by):
        out.append((name, kind, fixed(name), hk, value, "AES256-GCM_SHA256"
                    if kind == AES else "XCHACHA20-POLY1305", when, by))

    # KES >= 2024-02-29: base64(protobuf).
    for name, kind, sec, nanos in (("kat-pb-aes", AES, 1709194348,
                                    120000000),
                                   ("kat-pb-chacha", CHACHA, 1717171717,
                                    987654321)):
        hk = fixed(name + "/hmac")
        v = b64(pb_key_version(kind, fixed(name), hk, sec, nanos,
                               IDENT)).encode()
        add(name, kind, v, hk, go_time(sec, nanos), IDENT)

    # v0.5.0 - v0.19.1: {"bytes"} only.
    name = "kat-json-v050"
    add(name, AES, legacy_json([("bytes", b64(fixed(name)))]), None,
        "0001-01-01T00:00:00Z", "")

    # v0.19.2 - v0.22.2: bytes, algorithm, created_at, created_by.
    name = "kat-json-v0192"
    add(name, AES, legacy_json([
        ("bytes", b64(fixed(name))),
        ("algorithm", "AES256-GCM_SHA256"),
        ("created_at", go_time(1646130030, 123456789)),
        ("created_by", IDENT_OLD)]), None,
        go_time(1646130030, 123456789), IDENT_OLD)

    # v0.22.3 - 2023-09-28: version v1, with algorithm (ChaCha20 here).
    name = "kat-json-v0223"
    add(name, CHACHA, legacy_json([
        ("version", "v1"),
        ("bytes", b64(fixed(name))),
        ("algorithm", "XCHACHA20-POLY1305"),
        ("created_at", go_time(1667260800, 500000000)),
        ("created_by", IDENT_OLD)]), None,
        go_time(1667260800, 500000000), IDENT_OLD)

    # 2023-10-03 - 2024-01-11: AES keys without algorithm, ChaCha20 keys
    # with "ChaCha20".
    name = "kat-json-v2023-aes"
    add(name, AES, legacy_json([
        ("version", "v1"),
        ("bytes", b64(fixed(name))),
        ("created_at", go_time(1700000000, 0)),
        ("created_by", IDENT)]), None, go_time(1700000000, 0), IDENT)
    name = "kat-json-v2023-chacha"
    add(name, CHACHA, legacy_json([
        ("version", "v1"),
        ("bytes", b64(fixed(name))),
        ("algorithm", "ChaCha20"),
        ("created_at", go_time(1704067199, 999999999)),
        ("created_by", IDENT)]), None,
        go_time(1704067199, 999999999), IDENT)
    return out


def ciphertexts(k):
    """(key name, what, ciphertext, context, plaintext)."""
    out = []
    n = [0]

    def inputs(label, ptlen=32):
        n[0] += 1
        lab = "%s/%d" % (label, n[0])
        return fixed(lab + "/iv", 16), fixed(lab + "/nonce", 12), \
            fixed(lab + "/pt", ptlen)

    ctx = b'{"bucket":"kat","object":"e2e/obj"}'
    for name, kind, key, _, _, _, _, _ in k:
        iv, nonce, pt = inputs(name)
        out.append((name, "raw %s" % ("AES256" if kind == AES else
                                     "ChaCha20"),
                    ct_raw(kind, key, iv, nonce, pt, ctx), ctx, pt))
    by = {x[0]: x for x in k}

    def mp(name, alg, kind, ptlen=32, aad=ctx):
        iv, nonce, pt = inputs(name, ptlen)
        out.append((name, "msgpack %s" % alg,
                    ct_msgpack(alg, kind, by[name][2], iv, nonce, pt, aad),
                    aad, pt))

    def js(name, aead, kind, with_id, aad=ctx, what=None):
        iv, nonce, pt = inputs(name)
        out.append((name, what or "json %s%s" % (aead, " with id" if
                                                  with_id else ""),
                    ct_json(aead, kind, by[name][2], iv, nonce, pt, aad,
                            with_id), aad, pt))

    # msgpack: each of the four algorithm names, under a key of that type.
    mp("kat-json-v0192", "AES256-GCM_SHA256", AES)
    mp("kat-json-v0223", "XCHACHA20-POLY1305", CHACHA)
    mp("kat-json-v2023-aes", "AES256", AES)
    mp("kat-json-v2023-chacha", "ChaCha20", CHACHA, aad=b"")
    # msgpack with a bin16 sealed field (a 300-byte plaintext).
    mp("kat-pb-aes", "AES256", AES, ptlen=300)
    # JSON: both aead names, with and without the id (added in v0.16.0).
    js("kat-json-v050", "AES-256-GCM-HMAC-SHA-256", AES, False)
    js("kat-json-v0192", "AES-256-GCM-HMAC-SHA-256", AES, True, aad=b"")
    js("kat-json-v0223", "ChaCha20Poly1305", CHACHA, True)
    js("kat-pb-chacha", "ChaCha20Poly1305", CHACHA, False)
    # Raw ciphertexts whose first byte is the msgpack (0x95) or JSON ('{')
    # marker: spec 5.4 tries them as that format, which fails, and then
    # opens them as raw. Found by trying iv/nonce labels in order.
    for name, kind, lead in (("kat-pb-aes", AES, 0x95),
                             ("kat-pb-chacha", CHACHA, 0x7b)):
        key = by[name][2]
        i = 0
        while True:
            lab = "%s/lead%02x/%d" % (name, lead, i)
            iv, nonce = fixed(lab + "/iv", 16), fixed(lab + "/nonce", 12)
            pt = fixed(lab + "/pt", 32)
            ct = ct_raw(kind, key, iv, nonce, pt, ctx)
            if ct[0] == lead:
                break
            i += 1
        out.append((name, "raw %s starting with 0x%02x" % (
            "AES256" if kind == AES else "ChaCha20", lead), ct, ctx, pt))
    # A ChaCha20Poly1305 JSON ciphertext under a key stored without an
    # algorithm (AES256): keyward follows spec 5.4's recommendation and
    # opens it with the algorithm it names (KES-HEAD would not).
    js("kat-json-v050", "ChaCha20Poly1305", CHACHA, True,
       what="json ChaCha20Poly1305 under an AES256 key (spec 5.4)")
    return out


def hmacs(k):
    """(key name, message, HMAC-SHA256(hmac key, message))."""
    out = []
    for name, _, _, hk, _, _, _, _ in k:
        if hk is None:
            continue
        for msg in (b"", b"root access key", fixed(name + "/msg", 100)):
            out.append((name, msg, hmac.new(hk, msg, hashlib.sha256
                                            ).digest()))
    return out


def cstr(s):
    """A C string literal, split to stay inside 80 columns."""
    if isinstance(s, bytes):
        s = s.decode()
    def esc(t):
        return t.replace("\\", "\\\\").replace('"', '\\"')
    if len(s) <= 56:
        return '"%s"' % esc(s)
    chunks = [s[i:i + 56] for i in range(0, len(s), 56)]
    return "\n\t    ".join('"%s"' % esc(c) for c in chunks)


def main():
    check_hchacha20()
    k = keys()
    print("/* --- e2e_vectors.py output (do not edit by hand) --- */")
    print("static const struct kat_key kat_keys[] = {")
    for name, kind, key, hk, value, alg, when, by in k:
        print("\t{ %s," % cstr(name))
        print("\t    %s," % cstr(value))
        print("\t    %s, %s," % (cstr(alg), cstr(when)))
        print("\t    %s, %s }," % (cstr(by), "true" if hk else "false"))
    print("};")
    print("static const struct kat_ct kat_cts[] = {")
    for name, what, ct, ctx, pt in ciphertexts(k):
        print("\t{ %s," % cstr(name))
        print("\t    %s," % cstr(what))
        print("\t    %s," % cstr(b64(ct)))
        print("\t    %s," % cstr(b64(ctx)))
        print("\t    %s }," % cstr(b64(pt)))
    print("};")
    print("static const struct kat_mac kat_macs[] = {")
    for name, msg, mac in hmacs(k):
        print("\t{ %s," % cstr(name))
        print("\t    %s," % cstr(b64(msg)))
        print("\t    %s }," % cstr(b64(mac)))
    print("};")
    print("/* --- end of e2e_vectors.py output --- */")


if __name__ == "__main__":
    main()
