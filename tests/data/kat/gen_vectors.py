#!/usr/bin/python3
"""Known-answer vectors for the KES formats keyward reads and writes.

Run with Debian's interpreter and packages, not keyward's code:

    apt-get install -y python3-cryptography python3-protobuf openssl
    /usr/bin/python3 tests/data/kat/gen_vectors.py > tests/data/kat/vectors.h

It prints a C header of constants that the unit tests include
(tests/unit/test_ciphertext.c, test_kes_key.c, test_gotime.c). The inputs
are fixed, so the output is the same on every run. With --corpus it also
writes the same ciphertexts and stored keys as the libFuzzer seeds:

    /usr/bin/python3 tests/data/kat/gen_vectors.py --corpus tests/fuzz/corpus

Who computes what:

  * HMAC-SHA256 (the AES256 key derivation and kes_hmac): Python's hmac
    module, cross-checked with `openssl mac` when the openssl command is
    installed.
  * HChaCha20 (the ChaCha20 key derivation): written below from
    draft-irtf-cfrg-xchacha-03 section 2.2, checked against the draft's
    test vector (2.2.1) and against OpenSSL's ChaCha20 keystream (through
    python3-cryptography: one block minus the input state).
  * AES-256-GCM and ChaCha20-Poly1305 (RFC 8439): python3-cryptography
    (OpenSSL underneath, but not keyward's calls into it).
  * msgpack and JSON ciphertext containers: built byte by byte / with
    Python's json module in the layout KES wrote (spec 5.4).
  * Stored keys: protobuf KeyVersion serialised by python3-protobuf from a
    descriptor of KES's crypto.proto built here; legacy JSON with the json
    module; creation times converted with calendar.timegm.
  * Go times: calendar.timegm / datetime, fraction handled as text.
"""

import base64
import calendar
import datetime
import hashlib
import hmac
import json
import os
import shutil
import struct
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, \
    ChaCha20Poly1305
from google.protobuf import descriptor_pb2, descriptor_pool, \
    message_factory, timestamp_pb2

# --- fixed inputs -------------------------------------------------------

KEY = bytes(range(0x00, 0x20))          # master key (both types)
HMAC_KEY = bytes(range(0x40, 0x60))     # a key version's HMAC key
KEY_B = bytes(range(0x80, 0xa0))        # legacy JSON keys
IV = bytes(range(0xf0, 0x100))          # 16
NONCE = bytes(range(0xc0, 0xcc))        # 12
PT = bytes(range(0xa0, 0xc0))           # a 32-byte DEK
AAD = b'{"bucket":"photos","object":"cat.jpg"}'
IDENTITY = hashlib.sha256(b"keyward kat identity").hexdigest()
HMAC_MSG = b"keyward hmac known answer"


# --- HChaCha20, from the draft -----------------------------------------

def _rotl(v, n):
    return ((v << n) | (v >> (32 - n))) & 0xffffffff


def _qr(x, a, b, c, d):
    x[a] = (x[a] + x[b]) & 0xffffffff
    x[d] = _rotl(x[d] ^ x[a], 16)
    x[c] = (x[c] + x[d]) & 0xffffffff
    x[b] = _rotl(x[b] ^ x[c], 12)
    x[a] = (x[a] + x[b]) & 0xffffffff
    x[d] = _rotl(x[d] ^ x[a], 8)
    x[c] = (x[c] + x[d]) & 0xffffffff
    x[b] = _rotl(x[b] ^ x[c], 7)


CONST = [0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]


def hchacha20(key, inp):
    x = CONST + list(struct.unpack("<8I", key)) + \
        list(struct.unpack("<4I", inp))
    for _ in range(10):
        _qr(x, 0, 4, 8, 12)
        _qr(x, 1, 5, 9, 13)
        _qr(x, 2, 6, 10, 14)
        _qr(x, 3, 7, 11, 15)
        _qr(x, 0, 5, 10, 15)
        _qr(x, 1, 6, 11, 12)
        _qr(x, 2, 7, 8, 13)
        _qr(x, 3, 4, 9, 14)
    return struct.pack("<8I", *(x[0:4] + x[12:16]))


def hchacha20_via_openssl(key, inp):
    """The first ChaCha20 block with counter||nonce = inp is the permuted
    state plus the input state; subtract the input words back out."""
    ks = Cipher(algorithms.ChaCha20(key, inp), None).encryptor() \
        .update(bytes(64))
    w = struct.unpack("<16I", ks)
    init = CONST + list(struct.unpack("<8I", key)) + \
        list(struct.unpack("<4I", inp))
    out = [(w[i] - init[i]) & 0xffffffff for i in list(range(4)) +
           list(range(12, 16))]
    return struct.pack("<8I", *out)


# draft-irtf-cfrg-xchacha-03, 2.2.1
_dk = bytes(range(0x20))
_dn = bytes.fromhex("000000090000004a0000000031415927")
_dw = bytes.fromhex("82413b4227b27bfed30e42508a877d73"
                    "a0f9e4d58a74a853c12ec41326d3ecdc")
assert hchacha20(_dk, _dn) == _dw
assert hchacha20_via_openssl(_dk, _dn) == _dw
assert hchacha20(KEY, IV) == hchacha20_via_openssl(KEY, IV)


def hmac_sha256(key, msg):
    mac = hmac.new(key, msg, hashlib.sha256).digest()
    if shutil.which("openssl"):
        out = subprocess.run(
            ["openssl", "mac", "-digest", "SHA256", "-macopt",
             "hexkey:" + key.hex(), "HMAC"],
            input=msg, capture_output=True, check=True).stdout
        assert out.decode().strip().lower() == mac.hex(), "openssl mac"
    return mac


# --- KES ciphertexts ----------------------------------------------------

def seal(alg, key, iv, nonce, pt, aad):
    """sealed = ciphertext || tag, spec 5.2."""
    if alg == "AES256":
        return AESGCM(hmac_sha256(key, iv)).encrypt(nonce, pt, aad)
    return ChaCha20Poly1305(hchacha20(key, iv)).encrypt(nonce, pt, aad)


def key_id(key):
    return hashlib.sha256(key).digest()[:16].hex()


def mp_str(s, width=None):
    b = s.encode()
    if width is None:
        width = "fix" if len(b) < 32 else "8"
    return {"fix": bytes([0xa0 | len(b)]),
            "8": bytes([0xd9, len(b)]),
            "16": b"\xda" + struct.pack(">H", len(b)),
            "32": b"\xdb" + struct.pack(">I", len(b))}[width] + b


def mp_bin(b, width="8"):
    return {"8": bytes([0xc4, len(b)]),
            "16": b"\xc5" + struct.pack(">H", len(b)),
            "32": b"\xc6" + struct.pack(">I", len(b))}[width] + b


def msgpack_ct(name, sealed, id_="", sw=None, idw=None, bw=("8",) * 3):
    return (b"\x95" + mp_str(name, sw) + mp_str(id_, idw) +
            mp_bin(IV, bw[0]) + mp_bin(NONCE, bw[1]) + mp_bin(sealed, bw[2]))


def json_ct(aead, sealed, id_=None):
    v = {"aead": aead}
    if id_ is not None:
        v["id"] = id_
    v["iv"] = base64.b64encode(IV).decode()
    v["nonce"] = base64.b64encode(NONCE).decode()
    v["bytes"] = base64.b64encode(sealed).decode()
    return json.dumps(v, separators=(",", ":")).encode()


# --- stored keys --------------------------------------------------------

def keyversion_class():
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(
        name="kat/crypto.proto", package="miniohq.kms", syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"])
    for name, second in (("SecretKey", "Type"), ("HMACKey", "Hash")):
        m = fdp.message_type.add(name=name)
        m.field.add(name="Key", number=1, type=F.TYPE_BYTES,
                    label=F.LABEL_OPTIONAL)
        m.field.add(name=second, number=2, type=F.TYPE_UINT32,
                    label=F.LABEL_OPTIONAL)
    m = fdp.message_type.add(name="KeyVersion")
    for n, (name, tn) in enumerate((("Key", ".miniohq.kms.SecretKey"),
                                    ("HMACKey", ".miniohq.kms.HMACKey"),
                                    ("CreatedAt",
                                     ".google.protobuf.Timestamp")), 1):
        m.field.add(name=name, number=n, type=F.TYPE_MESSAGE,
                    type_name=tn, label=F.LABEL_OPTIONAL)
    m.field.add(name="CreatedBy", number=4, type=F.TYPE_STRING,
                label=F.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(fdp)
    desc = pool.FindMessageTypeByName("miniohq.kms.KeyVersion")
    return message_factory.MessageFactory(pool).GetPrototype(desc)


KeyVersion = keyversion_class()


def go_time(s):
    """(unix seconds, nanoseconds) of an RFC 3339 time with up to nine
    fraction digits."""
    body, frac = s, ""
    zone = 0
    if body.endswith("Z"):
        body = body[:-1]
    else:
        sign = 1 if body[-6] == "+" else -1
        zone = sign * (int(body[-5:-3]) * 3600 + int(body[-2:]) * 60)
        body = body[:-6]
    if "." in body:
        body, frac = body.split(".")
    t = datetime.datetime.strptime(body, "%Y-%m-%dT%H:%M:%S")
    sec = calendar.timegm(t.timetuple()) - zone
    return sec, int((frac + "000000000")[:9])


def pb_key(type_, created=None, by="", seconds=None, nanos=0):
    kv = KeyVersion()
    kv.Key.Key = KEY
    kv.Key.Type = type_
    kv.HMACKey.Key = HMAC_KEY
    kv.HMACKey.Hash = 1
    if created is not None:
        kv.CreatedAt.seconds, kv.CreatedAt.nanos = go_time(created)
    elif seconds is not None:
        kv.CreatedAt.seconds, kv.CreatedAt.nanos = seconds, nanos
    if by:
        kv.CreatedBy = by
    return base64.b64encode(kv.SerializeToString(deterministic=True))


def legacy(fields):
    return json.dumps(fields, separators=(",", ":")).encode()


# --- output -------------------------------------------------------------

def c_bytes(name, b):
    lines = ["static const uint8_t %s[%d] = {" % (name, len(b))]
    for i in range(0, len(b), 12):
        lines.append("\t" + ", ".join("0x%02x" % c for c in b[i:i + 12]) +
                     ",")
    lines.append("};")
    return "\n".join(lines)


def c_str(name, s):
    if isinstance(s, bytes):
        s = s.decode()
    parts = [s[i:i + 56] for i in range(0, len(s), 56)] or [""]
    parts = [p.replace("\\", "\\\\").replace('"', '\\"') for p in parts]
    return "static const char %s[] =\n%s;" % (
        name, "\n".join('\t"%s"' % p for p in parts))


SEEDS = {"ciphertext": {}, "kes_key": {}}


def seed(corpus, name, data):
    """Keep data as a fuzz seed named after its C constant."""
    SEEDS[corpus][name[len("KAT_"):].lower()] = \
        data if isinstance(data, bytes) else data.encode()


def write_corpus(top):
    for corpus, files in SEEDS.items():
        d = os.path.join(top, corpus)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


def main():
    out = []
    emit = out.append

    def ct_bytes(name, data):
        seed("ciphertext", name, data)
        emit(c_bytes(name, data))

    def ct_str(name, data):
        seed("ciphertext", name, data)
        emit(c_str(name, data))

    def key_str(name, data):
        seed("kes_key", name, data)
        emit(c_str(name, data))

    emit("/* Generated by tests/data/kat/gen_vectors.py; do not edit. */")
    emit("#ifndef KEYWARD_KAT_VECTORS_H\n#define KEYWARD_KAT_VECTORS_H\n")
    emit("#include <stdint.h>")
    emit(c_bytes("KAT_KEY", KEY))
    emit(c_bytes("KAT_HMAC_KEY", HMAC_KEY))
    emit(c_bytes("KAT_KEY_B", KEY_B))
    emit(c_bytes("KAT_IV", IV))
    emit(c_bytes("KAT_NONCE", NONCE))
    emit(c_bytes("KAT_PT", PT))
    emit(c_str("KAT_AAD", AAD))
    emit(c_str("KAT_IDENTITY", IDENTITY))
    emit(c_str("KAT_HMAC_MSG", HMAC_MSG))
    emit(c_bytes("KAT_HMAC_OUT", hmac_sha256(HMAC_KEY, HMAC_MSG)))
    emit(c_bytes("KAT_HCHACHA_OUT", hchacha20(KEY, IV)))

    s_aes = seal("AES256", KEY, IV, NONCE, PT, AAD)
    s_cc = seal("ChaCha20", KEY, IV, NONCE, PT, AAD)
    ct_bytes("KAT_RAW_AES", s_aes + IV + NONCE)
    ct_bytes("KAT_RAW_CHACHA", s_cc + IV + NONCE)
    # Empty context and a short plaintext.
    short = b"hello"
    ct_bytes("KAT_RAW_AES_NOAAD",
             seal("AES256", KEY, IV, NONCE, short, b"") + IV + NONCE)
    ct_bytes("KAT_RAW_CHACHA_NOAAD",
             seal("ChaCha20", KEY, IV, NONCE, short, b"") + IV + NONCE)

    kid = key_id(KEY)
    emit(c_str("KAT_KEY_ID", kid))
    ct_bytes("KAT_MP_AES256", msgpack_ct("AES256", s_aes, kid))
    ct_bytes("KAT_MP_AES256_GCM",
             msgpack_ct("AES256-GCM_SHA256", s_aes, kid))
    ct_bytes("KAT_MP_CHACHA20", msgpack_ct("ChaCha20", s_cc, kid))
    ct_bytes("KAT_MP_XCHACHA", msgpack_ct("XCHACHA20-POLY1305", s_cc, kid))
    # Same content, other widths: algorithm as str8 instead of fixstr,
    # empty id as str16, sealed bytes as bin16.
    ct_bytes("KAT_MP_CHACHA20_STR8",
             msgpack_ct("ChaCha20", s_cc, "", sw="8", idw="16",
                        bw=("8", "8", "16")))
    # The widest forms: str32 algorithm, bin16 iv, bin32 nonce and bytes.
    ct_bytes("KAT_MP_AES256_WIDE",
             msgpack_ct("AES256", s_aes, kid, sw="32", idw="8",
                        bw=("16", "32", "32")))

    ct_str("KAT_JSON_AES", json_ct("AES-256-GCM-HMAC-SHA-256", s_aes))
    ct_str("KAT_JSON_AES_ID",
           json_ct("AES-256-GCM-HMAC-SHA-256", s_aes, kid))
    ct_str("KAT_JSON_CHACHA", json_ct("ChaCha20Poly1305", s_cc))
    ct_str("KAT_JSON_CHACHA_ID", json_ct("ChaCha20Poly1305", s_cc, kid))

    # Stored keys.
    created = "2024-02-29T08:12:28.5Z"
    key_str("KAT_PB_CHACHA", pb_key(2, created, IDENTITY))
    emit("#define KAT_PB_CHACHA_SEC\t%dLL\n#define KAT_PB_CHACHA_NSEC\t%d"
         % go_time(created))
    # Go's zero time, no creator: what encoding a bare AES key gives.
    key_str("KAT_PB_AES_ZERO", pb_key(1, seconds=-62135596800))
    # No CreatedAt at all: time.Unix(0, 0).
    key_str("KAT_PB_NO_TIME", pb_key(1))

    b64b = base64.b64encode(KEY_B).decode()
    t1 = "2022-03-28T10:14:41.462634593Z"
    t2 = "2023-06-01T12:00:00Z"
    t3 = "2023-11-20T09:30:15.25+01:00"
    key_str("KAT_LEGACY_V050", legacy({"bytes": b64b}))
    # KEY stored without "algorithm": an AES256 key, under which the
    # ChaCha20Poly1305 JSON ciphertexts above must still open (spec 5.4).
    key_str("KAT_LEGACY_KEY",
            legacy({"bytes": base64.b64encode(KEY).decode()}))
    key_str("KAT_LEGACY_V0192_AES", legacy(
        {"bytes": b64b, "algorithm": "AES256-GCM_SHA256",
         "created_at": t1, "created_by": IDENTITY}))
    key_str("KAT_LEGACY_V0192_CHACHA", legacy(
        {"bytes": b64b, "algorithm": "XCHACHA20-POLY1305",
         "created_at": t1, "created_by": IDENTITY}))
    key_str("KAT_LEGACY_V0223", legacy(
        {"version": "v1", "bytes": b64b, "algorithm": "AES256-GCM_SHA256",
         "created_at": t2, "created_by": IDENTITY}))
    key_str("KAT_LEGACY_2023_AES", legacy(
        {"version": "v1", "bytes": b64b, "created_at": t3,
         "created_by": IDENTITY}))
    key_str("KAT_LEGACY_2023_CHACHA", legacy(
        {"version": "v1", "bytes": b64b, "algorithm": "ChaCha20",
         "created_at": t3, "created_by": IDENTITY}))
    for name, t in (("T1", t1), ("T2", t2), ("T3", t3)):
        emit("#define KAT_%s_SEC\t%dLL\n#define KAT_%s_NSEC\t%d"
             % (name, go_time(t)[0], name, go_time(t)[1]))

    # Go times: text -> (sec, nsec), and (sec, nsec) -> RFC3339Nano.
    emit("static const struct { const char *s; int64_t sec; int32_t nsec; }"
         " KAT_TIMES[] = {")
    for s in ("0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
              "1969-12-31T23:59:59.999999999Z", "2000-02-29T12:34:56.7Z",
              "2024-02-29T08:12:28.5Z", "2100-03-01T00:00:00.000000001Z",
              "9999-12-31T23:59:59.123456789Z", "1600-02-29T00:00:00Z",
              t1, t2):
        sec, ns = go_time(s)
        emit('\t{ "%s", %dLL, %d },' % (s, sec, ns))
    emit("};")
    emit("static const struct { int64_t sec; int32_t nsec; const char *s; }"
         " KAT_FORMATS[] = {")
    for sec, ns in ((-62135596800, 0), (0, 0), (-1, 999999999),
                    (951827696, 700000000), (1709194348, 500000000),
                    (1709194348, 120), (253402300799, 123456789),
                    (1, 100000000), (-11676096000, 0)):
        d = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=sec)
        s = d.strftime("%Y-%m-%dT%H:%M:%S")
        s = "%04d%s" % (d.year, s[s.index("-"):])
        if ns:
            s += "." + ("%09d" % ns).rstrip("0")
        emit('\t{ %dLL, %d, "%sZ" },' % (sec, ns, s))
    emit("};")
    emit("\n#endif")
    print("\n".join(out))
    if len(sys.argv) == 3 and sys.argv[1] == "--corpus":
        write_corpus(sys.argv[2])


if __name__ == "__main__":
    sys.exit(main())
