#!/usr/bin/env python3
"""vault_double.py -- a TEST DOUBLE of HashiCorp Vault for keyward's tests.

This is NOT HashiCorp Vault.  No Vault server can be installed on the machines
keyward is tested on (only Debian packages and npm are reachable, and Vault is
not in Debian), so keyward's Vault key store is tested against this double.  It
reproduces the parts of Vault's HTTP API that KES and keyward use, with the
paths, status codes and JSON shapes written down in
shared/spec/keystores-vault-ciphertrust-kmip-pkcs11.md §1.11 and §5.2, and
tests/doubles/test_vault_double.py checks it against every request/response
example quoted in that document so that the double cannot drift with keyward.
Python 3 standard library only; it fetches nothing from the network.

Run
---
    python3 tests/doubles/vault_double.py --addr 127.0.0.1:0 \\
        --cert server.pem --key server.key [--client-ca ca.pem] \\
        --state /tmp/vault.json [--port-file F] [--control 127.0.0.1:0] \\
        [--control-port-file F2] [--log FILE] [--approle ROLE_ID:SECRET_ID] \\
        [--kubernetes ROLE:JWT] [--root-token T] [--token-ttl 3600] ...

It prints one line "vault-double port=<P> control=<C>" on stdout once both
listeners are up, and writes <P> (and <C>) followed by a newline to
--port-file (--control-port-file), atomically, so a test can poll for the file.
--client-ca turns on mutual TLS: a client without a certificate signed by that
CA fails the handshake.  SIGTERM/SIGINT flush the state file and exit 0.

What it implements (section numbers are the spec's)
---------------------------------------------------
* HTTP/1.1 over TLS >= 1.2 (ALPN http/1.1), optional client certificates.
  PUT == POST on write paths; LIST == GET ?list=true (any strconv.ParseBool
  true value); list paths are directory-like (trailing "/" optional, as
  Vault's HTTP layer appends it for list operations).  Unsupported methods
  answer 405.  Bodies over 32 MiB answer 413.  Bad JSON answers 400
  "failed to parse JSON input: ...".
* Envelope for every non-204 answer (§1.11): request_id, lease_id, renewable,
  lease_duration, data, wrap_info, warnings, auth, then mount_type ("kv",
  "transit", "token", ...), which the spec's list omits but current Vault
  sends (captured Vault 1.1x output: ...,"auth":null,"mount_type":"kv"}), so
  a client must ignore fields it does not know; errors are {"errors":[...]}
  for every status >= 400.
* KV v1 mounts: GET (lease_duration 2764800), PUT/POST (204, stores the flat
  object verbatim, 400 "missing data fields" for {}), DELETE (204 even if
  absent), LIST (keys incl. "dir/", 404 {"errors":[]} when empty).
* KV v2 mounts: data/ GET [?version=N] (404 {"errors":[]} for none / no such
  version, 404 with data.data:null + metadata for a deleted or destroyed
  version), data/ PUT/POST with options.cas (0 = only if absent; mismatch 400
  "check-and-set parameter did not match the current version"; cas_required 400
  "check-and-set parameter required for this call"; 400 "no data provided"),
  data/ DELETE (soft-delete latest), delete/ undelete/ destroy/ (versions),
  metadata/ GET/POST/DELETE/LIST, config GET/POST, max_versions pruning, and
  the wrong-path answers (404 + warning "Invalid path for a versioned K/V
  secrets engine ... 'vault kv <get|put|list|delete>' ..." and "Non-listing
  operations on the root of a K/V v2 mount are not supported.").
* Unmounted path: 404 "no handler for route \"<path>\". route entry not found."
  (wording recalled, see spec §6).  Unknown sys/ path: 404 "unsupported path".
* Tokens: issued with TTL, renewable flag and max TTL; expiry on the double's
  clock (which the control port can move); revoke.  Unknown, missing, expired
  or revoked token -> 403 {"errors":["permission denied"]}; with
  --denied-style multi the texts are Vault's multierror ones
  ("1 error occurred:\\n\\t* permission denied\\n\\n", and for an expired token
  "2 errors occurred:\\n\\t* permission denied\\n\\t* invalid token\\n\\n").
  auth/token/lookup-self, renew-self (increment as seconds or a Go duration,
  capped by the max TTL with Vault's warning; 400 "lease is not renewable"),
  revoke-self, create.
* AppRole login (auth/<mount>/login): 400 "missing role_id", 400 "invalid
  role or secret ID", 400 "missing secret_id"; role_id/secret_id are
  whitespace-trimmed as Vault does.  Kubernetes login: 400 "missing role",
  400 "missing jwt", 400 'invalid role name "<r>"', 403 "permission denied"
  for a JWT the double was not told to accept (compared byte for byte, so a
  trailing newline is refused).  Success bodies carry auth.{client_token,
  accessor, policies, token_policies, metadata, lease_duration, renewable,
  entity_id, token_type, orphan, mfa_requirement, num_uses} and data:null.
* Namespaces: X-Vault-Namespace and/or leading path segments select a
  declared namespace (--namespace NS, nested "a/b" allowed); mounts and tokens
  are per namespace: a token is valid in its namespace and its children,
  never in a sibling or parent (root tokens everywhere).  sys/health (and
  sys/seal-status) with any namespace -> 404 {"errors":["unsupported path"]}.
  An undeclared namespace answers like an unmounted path.
* sys/health: GET and HEAD (no body); 200 active, 429 standby, 472 DR
  secondary, 473 performance standby, 474 standby without active, 501 not
  initialised, 503 sealed, 530 removed; query overrides activecode,
  standbycode, drsecondarycode, performancestandbycode, sealedcode,
  uninitcode, haunhealthycode, removedcode, standbyok, perfstandbyok (bad
  value -> 400).  JSON: initialized, sealed, standby, performance_standby,
  replication_performance_mode, replication_dr_mode, server_time_utc,
  version, enterprise, cluster_name, cluster_id (omitted while sealed), ...
  Also sys/seal-status.
* Sealed (or uninitialised): every other path -> 503 {"errors":["Vault is
  sealed"]} (text recalled, spec §6).
* Transit mounts: encrypt/<key> (plaintext base64 -> "vault:v<N>:<b64>",
  key_version; keys are created on first encrypt like Vault's upsert),
  decrypt/<key>, keys/<key> GET/POST, keys/<key>/rotate (new writes use
  vault:v2:), derived keys need "context" (HKDF-SHA256).  Errors are 400 with
  Vault's keysutil wording.  The cipher is REAL AES-256-GCM (96-bit nonce,
  128-bit tag, base64(nonce||ciphertext||tag) as Vault's aes256-gcm96),
  reached through ctypes in the libcrypto that Python's ssl module already
  uses.  If libcrypto cannot be loaded the double falls back to an
  encrypt-then-MAC construction built from hashlib/hmac (HMAC-SHA256 counter
  keystream + 128-bit HMAC tag): still authenticated, but a ciphertext that
  only this double can reverse.  GET /state on the control port says which
  ("transit_cipher").
* Persistence: KV data, tokens (stored as SHA-256 of the token, never the
  token), transit keys and credentials added at run time live in --state
  (a JSON snapshot, always replaced atomically: temp file + fsync + rename +
  fsync of the directory) and --state.journal (whole changed entries
  appended, one JSON line each, fsync'd).  Every change is on disk before its
  request is answered (group commit), so kill -9 loses nothing that was
  acknowledged; start, restart and exit fold the journal into a new snapshot,
  and so does a journal larger than the snapshot (and than
  --journal-max bytes, default 1 MiB), so a write costs the same
  with 10 keys or 100 000.  --no-fsync skips the fsyncs (benchmarks).
* Logging: one line per request to stderr (or --log FILE): time, method,
  path (with query), status, milliseconds.  Never a header value, body, token,
  secret_id or JWT.

Starting it from a C test (tests/e2e)
-------------------------------------
    python3 tests/doubles/vault_double.py --addr 127.0.0.1:0 \
        --cert $DIR/server.pem --key $DIR/server.key --client-ca $DIR/ca.pem \
        --state $DIR/vault.json --port-file $DIR/vault.port \
        --control-port-file $DIR/vault.cport --log $DIR/vault.log \
        --approle keyward-role:$SECRET_ID --exit-with-parent
fork/exec it, poll until both port files exist (each appears whole, after
both listeners are up), read them with fscanf("%d"), and give keyward
endpoint https://127.0.0.1:<port> with tls.ca $DIR/ca.pem (and a client
certificate from that CA when --client-ca is on).  Knobs are plain HTTP/1.1
to 127.0.0.1:<cport>; a raw-socket client sends e.g.
    POST /seal HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n
    Content-Length: 2\r\n\r\n{}
and reads until EOF (answer 200 {"ok":true}).  SIGTERM stops it (exit 0,
state flushed); --exit-with-parent makes it exit when its parent dies.

What it does not implement
--------------------------
ACL policies (any valid token may do anything; use a fault rule to get a
403), leases of dynamic secrets, response wrapping, sys/ management APIs
(mounts, policies, namespaces are given on the command line), HTTP/2,
performance replication and request forwarding (standby state only changes
sys/health; a standby keeps serving data as if it forwarded), X-Vault-Index
consistency (412 only by fault injection), rate-limit quotas (429 only by fault
injection), convergent transit keys, batch tokens, token num_uses.

Mounts
------
Default mounts in every namespace: kv (KV v1), kv2 (KV v2), secret (KV v2),
transit (transit), auth/approle, auth/kubernetes, plus auth/token.
--mount [NS:]PATH=TYPE[,cas_required][,max_versions=N] adds one (TYPE:
kv-v1|kv-v2|transit|approle|kubernetes); --no-default-mounts drops the
defaults.

Knobs -- command line
---------------------
--latency-ms N         added to every request
--path-latency PAT=MS  added to requests whose path matches PAT (repeatable)
--token-ttl S          TTL of issued tokens (0 = never expires), default 3600
--token-max-ttl S      max TTL (0 = Vault's system max 768h), default 0
--non-renewable        issue non-renewable tokens
--sealed / --uninitialized / --standby / --perf-standby / --dr-secondary
--denied-style simple|multi
--fail STATUS:COUNT[:PAT]  answer STATUS to the next COUNT requests (matching
                       PAT); e.g. --fail 503:2 --fail 429:1:kv/*
--drop COUNT[:PAT]     drop the next COUNT connections without an answer
--control-token T      require header X-Control-Token: T on the control port
--exit-with-parent     exit when the parent process goes away
Path patterns (PAT) match the request path after "/v1/" without the query,
exactly, or as a prefix when they end in "*".

Knobs -- control port (plain HTTP, 127.0.0.1 only, separate port)
------------------------------------------------------------------
All bodies are JSON; every call answers 200 {"ok":true,...} or 400.
GET  /state                  node state, knobs, counters, transit_cipher
GET  /requests               request log: seq, method, path, query, headers
                             (X-Vault-Token replaced by "<redacted>"), body
                             (secret_id/jwt/token fields redacted), status,
                             namespace, token_accessor, client_cert
POST /requests/clear
POST /seal   POST /unseal
POST /node   {"initialized","sealed","standby","performance_standby",
              "dr_secondary","ha_unhealthy","removed"}  (any subset)
POST /latency {"ms":N, "paths":{"PAT":MS,...}}   (paths replaces the map)
POST /tokens {"ttl":S, "max_ttl":S, "renewable":b}  for tokens issued later
POST /tokens/expire  {} all tokens, or {"accessor":A}: expire now
POST /tokens/revoke  {} all tokens, or {"accessor":A}
POST /clock  {"advance":S} or {"offset":S}      the double's clock (TTLs)
POST /fault  rule (below)  -> {"id":N}
POST /faults/clear
POST /restart {"down_ms":N, "sealed":b, "async":b}  close the TLS listener
             and every connection, flush, reload everything from --state,
             stay down down_ms, listen again on the same port
POST /approle {"role_id","secret_id","role_name"?,"policies"?,"ttl"?,
               "max_ttl"?,"renewable"?,"remove"?}
POST /kubernetes {"role","jwt","service_account_name"?,
                  "service_account_namespace"?,"remove"?}
POST /transit/rotate {"key","mount"?,"namespace"?}
POST /shutdown
Fault rule: {"path":PAT?, "method":M?, "namespace":NS?, "skip":K (let K
matching requests through first), "count":N (default 1, -1 = forever),
"action": one of
   "status"   answer "status" with {"errors": "errors"?} or raw "body"
              (string sent verbatim, or JSON value), extra "headers",
              "retry_after" (Retry-After header)
   "drop"     close the connection without answering (TCP RST)
   "reset_after_headers"  send status line + headers, then RST
   "truncate" send headers and half of the body, then close
   "redirect" 307 to "location" (default: the same URL on this double)
   "delay"    sleep "delay_ms" then answer normally
   "tls_fail" the next connection's TLS handshake fails (path ignored)}
Example: curl -s -XPOST 127.0.0.1:$C/fault \\
         -d '{"path":"kv/*","status":429,"count":2,"retry_after":"1"}'
"""

import argparse
import base64
import copy
import ctypes
import ctypes.util
import datetime
import hashlib
import hmac
import http.server
import json
import os
import secrets
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse
import uuid

VERSION = "1.15.6"
MAX_BODY = 32 << 20
KV1_LEASE = 2764800
SYSTEM_MAX_TTL = 768 * 3600

SEALED_TEXT = "Vault is sealed"
DENIED_SIMPLE = "permission denied"
DENIED_MULTI = "1 error occurred:\n\t* permission denied\n\n"
EXPIRED_MULTI = "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n"
V2_ROOT_WARNING = "Non-listing operations on the root of a K/V v2 mount are not supported."
V2_INVALID_WARNING = ("Invalid path for a versioned K/V secrets engine. See the API docs for the "
                      "appropriate API endpoints to use. If using the Vault CLI, use 'vault kv %s' "
                      "for this operation.")
CAS_MISMATCH = "check-and-set parameter did not match the current version"
CAS_REQUIRED = "check-and-set parameter required for this call"
DERIVED_NEEDS_CONTEXT = ("missing 'context' for key derivation; the key was created using a derived "
                         "key, which means additional, per-request information must be included in "
                         "order to perform operations with the key")

# Default bodies of injected statuses (the double's choice where Vault has no
# single text; 412/429 follow Vault's consts/quotas wording as recalled).
FAULT_TEXT = {
    400: ["bad request"], 403: [DENIED_SIMPLE], 404: [], 405: [],
    412: ["required index state not present"],
    429: ["request path \"%s\": rate limit quota exceeded"],
    500: ["internal error"], 501: ["not implemented"], 502: ["bad gateway"],
    503: ["service unavailable"], 504: ["gateway timeout"],
}

TRUE_WORDS = {"1", "t", "T", "TRUE", "true", "True"}
FALSE_WORDS = {"0", "f", "F", "FALSE", "false", "False"}


def parse_bool(s):
    """Go strconv.ParseBool; None if not a boolean."""
    if s in TRUE_WORDS:
        return True
    if s in FALSE_WORDS:
        return False
    return None


def parse_duration(v):
    """Seconds from an int, a numeric string or a Go duration such as "1h30m"."""
    if isinstance(v, bool):
        raise ValueError("bad duration")
    if isinstance(v, (int, float)):
        return int(v)
    s = str(v).strip()
    if s == "":
        return 0
    try:
        return int(s)
    except ValueError:
        pass
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    total, num, i = 0.0, "", 0
    while i < len(s):
        c = s[i]
        if c.isdigit() or c == ".":
            num += c
            i += 1
            continue
        u = s[i:i + 2] if s[i:i + 2] == "ms" else c
        if u not in units or num == "":
            raise ValueError("bad duration")
        total += float(num) * units[u]
        num = ""
        i += len(u)
    if num:
        raise ValueError("bad duration")
    return int(total)


def rfc3339(t):
    """Go time.RFC3339Nano in UTC (trailing zeros of the fraction trimmed)."""
    d = datetime.datetime.fromtimestamp(t, tz=datetime.timezone.utc)
    frac = ("%06d" % d.microsecond).rstrip("0")
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ("." + frac if frac else "") + "Z"


def path_match(pat, path):
    if pat is None or pat == "":
        return True
    pat = pat[4:] if pat.startswith("/v1/") else pat.lstrip("/")
    if pat.endswith("*"):
        return path.startswith(pat[:-1])
    return path == pat


def b64(b):
    return base64.b64encode(b).decode()


def b64_strict(s):
    if not isinstance(s, str):
        raise ValueError("not a string")
    return base64.b64decode(s.encode(), validate=True)


# ---------------------------------------------------------------------------
# Transit cipher: AES-256-GCM through libcrypto (ctypes), else EtM fallback.

class _LibcryptoGcm:
    name = "aes256-gcm96 (OpenSSL libcrypto via ctypes)"

    def __init__(self):
        lib = None
        for cand in (ctypes.util.find_library("crypto"), "libcrypto.so.3", "libcrypto.so"):
            if not cand:
                continue
            try:
                lib = ctypes.CDLL(cand)
                break
            except OSError:
                continue
        if lib is None:
            raise OSError("libcrypto not found")
        vp, cp, ip = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
        lib.EVP_CIPHER_CTX_new.restype = vp
        lib.EVP_CIPHER_CTX_free.argtypes = [vp]
        lib.EVP_aes_256_gcm.restype = vp
        for f in ("EVP_EncryptInit_ex", "EVP_DecryptInit_ex"):
            getattr(lib, f).argtypes = [vp, vp, vp, cp, cp]
        for f in ("EVP_EncryptUpdate", "EVP_DecryptUpdate"):
            getattr(lib, f).argtypes = [vp, vp, ctypes.POINTER(ip), cp, ip]
        for f in ("EVP_EncryptFinal_ex", "EVP_DecryptFinal_ex"):
            getattr(lib, f).argtypes = [vp, vp, ctypes.POINTER(ip)]
        lib.EVP_CIPHER_CTX_ctrl.argtypes = [vp, ip, ip, vp]
        self.lib = lib

    def _run(self, enc, key, nonce, data, tag=None):
        lib = self.lib
        ctx = lib.EVP_CIPHER_CTX_new()
        if not ctx:
            raise MemoryError()
        try:
            init = lib.EVP_EncryptInit_ex if enc else lib.EVP_DecryptInit_ex
            upd = lib.EVP_EncryptUpdate if enc else lib.EVP_DecryptUpdate
            fin = lib.EVP_EncryptFinal_ex if enc else lib.EVP_DecryptFinal_ex
            if init(ctx, lib.EVP_aes_256_gcm(), None, None, None) != 1:
                raise ValueError("init")
            if lib.EVP_CIPHER_CTX_ctrl(ctx, 0x9, len(nonce), None) != 1:  # SET_IVLEN
                raise ValueError("ivlen")
            if init(ctx, None, None, key, nonce) != 1:
                raise ValueError("key")
            out = ctypes.create_string_buffer(len(data) + 16)
            outl = ctypes.c_int(0)
            if data and upd(ctx, out, ctypes.byref(outl), data, len(data)) != 1:
                raise ValueError("update")
            n = outl.value
            if not enc:
                tbuf = ctypes.create_string_buffer(tag, 16)
                if lib.EVP_CIPHER_CTX_ctrl(ctx, 0x11, 16, tbuf) != 1:  # SET_TAG
                    raise ValueError("tag")
            fbuf = ctypes.create_string_buffer(16)
            if fin(ctx, fbuf, ctypes.byref(outl)) != 1:
                raise ValueError("cipher: message authentication failed")
            res = out.raw[:n]
            if enc:
                tbuf = ctypes.create_string_buffer(16)
                if lib.EVP_CIPHER_CTX_ctrl(ctx, 0x10, 16, tbuf) != 1:  # GET_TAG
                    raise ValueError("tag")
                return res + tbuf.raw
            return res
        finally:
            lib.EVP_CIPHER_CTX_free(ctx)

    def seal(self, key, nonce, pt):
        return self._run(True, key, nonce, pt)

    def open(self, key, nonce, ct):
        if len(ct) < 16:
            raise ValueError("cipher: message authentication failed")
        return self._run(False, key, nonce, ct[:-16], ct[-16:])


class _HmacEtm:
    name = "hmac-sha256 encrypt-then-MAC (double-only fallback, NOT Vault's cipher)"

    @staticmethod
    def _stream(key, nonce, n):
        out, ctr = b"", 0
        while len(out) < n:
            out += hmac.new(key, b"enc" + nonce + struct.pack(">Q", ctr), hashlib.sha256).digest()
            ctr += 1
        return out[:n]

    def seal(self, key, nonce, pt):
        ct = bytes(a ^ b for a, b in zip(pt, self._stream(key, nonce, len(pt))))
        return ct + hmac.new(key, b"mac" + nonce + ct, hashlib.sha256).digest()[:16]

    def open(self, key, nonce, ct):
        body, tag = ct[:-16], ct[-16:]
        want = hmac.new(key, b"mac" + nonce + body, hashlib.sha256).digest()[:16]
        if len(ct) < 16 or not hmac.compare_digest(tag, want):
            raise ValueError("cipher: message authentication failed")
        return bytes(a ^ b for a, b in zip(body, self._stream(key, nonce, len(body))))


def _pick_cipher():
    try:
        c = _LibcryptoGcm()
        k, n = bytes(32), bytes(12)
        # NIST GCM test case 14 (McGrew & Viega): K=0^256, IV=0^96, P=0^128.
        ct = c.seal(k, n, bytes(16))
        if ct.hex() != "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919":
            raise ValueError("self-test")
        if c.open(k, n, ct) != bytes(16):
            raise ValueError("self-test")
        return c
    except Exception:  # noqa: BLE001 - any failure means: use the fallback
        return _HmacEtm()


CIPHER = _pick_cipher()


def hkdf_sha256(key, info, n=32):
    prk = hmac.new(b"\0" * 32, key, hashlib.sha256).digest()
    out, t, i = b"", b"", 1
    while len(out) < n:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        out += t
        i += 1
    return out[:n]


# ---------------------------------------------------------------------------
# Responses

class Resp:
    def __init__(self, status, obj=None, raw=None, headers=None):
        self.status = status
        self.obj = obj
        self.raw = raw
        self.headers = headers or {}

    def body(self):
        if self.raw is not None:
            return self.raw if isinstance(self.raw, bytes) else self.raw.encode()
        if self.obj is None:
            return b""
        return (json.dumps(self.obj, separators=(",", ":")) + "\n").encode()


def envelope(data=None, auth=None, warnings=None, lease_duration=0, mount_type=""):
    """Vault's logical response envelope, fields in Vault's order (§1.11)."""
    return {
        "request_id": str(uuid.uuid4()),
        "lease_id": "",
        "renewable": False,
        "lease_duration": lease_duration,
        "data": data,
        "wrap_info": None,
        "warnings": warnings,
        "auth": auth,
        "mount_type": mount_type,
    }


def ok(data=None, **kw):
    return Resp(200, envelope(data, **kw))


def err(status, *msgs):
    return Resp(status, {"errors": list(msgs)})


def no_content():
    return Resp(204)


def sorted_obj(d):
    return {k: d[k] for k in sorted(d)} if isinstance(d, dict) else d


# ---------------------------------------------------------------------------
# State (persisted) and its writer

class Persister:
    """Durable state: a snapshot (--state, replaced atomically: temp file +
    fsync + rename + fsync of the directory) and a journal (--state.journal)
    of whole entries appended since the snapshot.  Group commit: a request
    that changed something waits until its entries are on disk.  The journal
    is folded into a new snapshot once it outgrows the snapshot, so a write
    costs O(1) however many keys the double holds."""

    def __init__(self, path, store, do_fsync=True, journal_max=1 << 20):
        self.path = path
        self.journal_max = journal_max
        self.jpath = path + ".journal" if path else None
        self.store = store
        self.do_fsync = do_fsync
        self.cv = threading.Condition()
        self.want = 0
        self.done = 0
        self.force_snapshot = True
        self.snap_bytes = 0
        self.journal_bytes = 0
        self.error = None
        self.jfd = None
        if path:
            self.jfd = os.open(self.jpath, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self.journal_bytes = os.fstat(self.jfd).st_size
            threading.Thread(target=self._loop, daemon=True, name="persist").start()

    def request(self, snapshot=False):
        with self.cv:
            if snapshot:
                self.force_snapshot = True
            self.want += 1
            self.cv.notify_all()
            return self.want

    def wait(self, gen):
        if not self.path:
            return
        with self.cv:
            while self.done < gen:
                self.cv.wait()

    def commit(self, snapshot=False):
        self.wait(self.request(snapshot))

    def _loop(self):
        while True:
            with self.cv:
                while self.want == self.done:
                    self.cv.wait()
                target = self.want
                snap = self.force_snapshot
                self.force_snapshot = False
            try:
                with self.store.lock:
                    entries = self.store.dirty
                    self.store.dirty = set()
                    snap = snap or self.journal_bytes > max(self.journal_max, self.snap_bytes)
                    if snap:
                        text = json.dumps(self.store.snapshot(), separators=(",", ":")).encode()
                    else:
                        text = b"".join(
                            json.dumps({"t": e[0], "k": list(e[1:]), "v": self.store.entry(e)},
                                       separators=(",", ":")).encode() + b"\n"
                            for e in sorted(entries))
                if snap:
                    write_atomic(self.path, text, self.do_fsync)
                    os.ftruncate(self.jfd, 0)
                    if self.do_fsync:
                        os.fsync(self.jfd)
                    self.snap_bytes, self.journal_bytes = len(text), 0
                elif text:
                    view = memoryview(text)
                    while view:
                        view = view[os.write(self.jfd, view):]
                    if self.do_fsync:
                        os.fsync(self.jfd)
                    self.journal_bytes += len(text)
            except Exception as e:  # noqa: BLE001 - never leave committers waiting
                self.error = "%s: %s" % (type(e).__name__, e)
            with self.cv:
                self.done = target
                self.cv.notify_all()


def write_atomic(path, data, do_fsync=True):
    d = os.path.dirname(os.path.abspath(path))
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        if do_fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    if do_fsync:
        dfd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


def token_hash(tok):
    return hashlib.sha256(tok.encode("utf-8", "surrogateescape")).hexdigest()


TABLES = ("kv1", "kv2", "kv2conf", "transit", "tokens", "approles", "k8s")


class Store:
    """Everything a Vault restart keeps.  Guarded by self.lock.  Code that
    changes an entry names it with mark() so that the journal gets it."""

    def __init__(self):
        self.lock = threading.RLock()
        self.kv1 = {}        # "ns|mount" -> {path: obj}
        self.kv2 = {}        # "ns|mount" -> {path: meta}
        self.kv2conf = {}    # "ns|mount" -> {cas_required, max_versions}
        self.transit = {}    # "ns|mount" -> {key: {...}}
        self.tokens = {}     # sha256(token) -> record (never the token itself)
        self.approles = {}   # role_id -> {...}
        self.k8s = {}        # role -> {"jwts": [...], ...}
        self.dirty = set()

    def mark(self, *entry):
        with self.lock:
            self.dirty.add(entry)

    def entry(self, e):
        cur = getattr(self, e[0])
        for k in e[1:]:
            if not isinstance(cur, dict) or k not in cur:
                return None
            cur = cur[k]
        return cur

    def snapshot(self):
        d = {k: getattr(self, k) for k in TABLES}
        d["format"] = "keyward-vault-double/1"
        return d

    def load(self, path):
        """Snapshot, then the journal's entries in order (a torn last line is
        ignored: its request was never answered)."""
        with open(path, "rb") as f:
            d = json.loads(f.read().decode())
        with self.lock:
            for k in TABLES:
                setattr(self, k, d.get(k, {}))
            self.dirty = set()
            try:
                with open(path + ".journal", "rb") as f:
                    lines = f.read().split(b"\n")
            except FileNotFoundError:
                lines = []
            for line in lines:
                try:
                    j = json.loads(line.decode())
                except ValueError:
                    break
                cur = getattr(self, j["t"])
                keys = j["k"]
                for k in keys[:-1]:
                    cur = cur.setdefault(k, {})
                if j["v"] is None:
                    cur.pop(keys[-1], None)
                else:
                    cur[keys[-1]] = j["v"]


# ---------------------------------------------------------------------------
# The Vault logic

class Mount:
    def __init__(self, ns, path, typ, opts=None):
        self.ns, self.path, self.type = ns, path, typ
        self.opts = opts or {}

    @property
    def key(self):
        return self.ns + "|" + self.path

    @property
    def mount_type(self):
        return {"kv-v1": "kv", "kv-v2": "kv"}.get(self.type, self.type)


DEFAULT_MOUNTS = [("kv", "kv-v1"), ("kv2", "kv-v2"), ("secret", "kv-v2"), ("transit", "transit"),
                  ("auth/approle", "approle"), ("auth/kubernetes", "kubernetes")]


class Vault:
    def __init__(self, args):
        self.args = args
        self.store = Store()
        if args.state and os.path.exists(args.state):
            self.store.load(args.state)
        self.persist = Persister(args.state, self.store, not args.no_fsync, args.journal_max)
        self.knob_lock = threading.Lock()
        self.node = {"initialized": not args.uninitialized, "sealed": args.sealed,
                     "standby": args.standby or args.perf_standby,
                     "performance_standby": args.perf_standby, "dr_secondary": args.dr_secondary,
                     "ha_unhealthy": False, "removed": False}
        self.latency_ms = args.latency_ms
        self.path_latency = {}
        for spec in args.path_latency:
            pat, ms = spec.rsplit("=", 1)
            self.path_latency[pat] = int(ms)
        self.token_ttl = args.token_ttl
        self.token_max_ttl = args.token_max_ttl
        self.renewable = not args.non_renewable
        self.denied_style = args.denied_style
        self.clock_offset = 0.0
        self.faults = []
        self.fault_seq = 0
        self.tls_fail = 0
        self.requests = []
        self.req_seq = 0
        self.counters = {"requests": 0, "faults": 0, "logins": 0, "handshake_failures": 0}
        self.cluster_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "keyward-vault-double"))
        self.log_lock = threading.Lock()
        self.logf = open(args.log, "a", buffering=1) if args.log else sys.stderr
        # namespaces and mounts
        self.namespaces = {""}
        for ns in args.namespace:
            ns = ns.strip("/")
            parts = ns.split("/")
            for i in range(1, len(parts) + 1):
                self.namespaces.add("/".join(parts[:i]))
        self.mounts = {}
        for ns in sorted(self.namespaces):
            if not args.no_default_mounts:
                for p, t in DEFAULT_MOUNTS:
                    self.add_mount(ns, p, t, {})
        for spec in args.mount:
            self.add_mount_spec(spec)
        for ns in self.namespaces:
            self.add_mount(ns, "auth/token", "token", {})
        # credentials from the command line (not persisted: given again at start)
        self.cli_approles = {}
        for spec in args.approle:
            rid, sid = spec.split(":", 1)
            self.cli_approles[rid] = {"secret_id": sid, "role_name": "keyward"}
        self.cli_k8s = {}
        for spec in args.kubernetes:
            role, jwt = spec.split(":", 1)
            self.cli_k8s.setdefault(role, {"jwts": []})["jwts"].append(jwt)
        if args.root_token:
            self.install_root_token(args.root_token)
        for spec in args.fail:
            parts = spec.split(":", 2)
            self.add_fault({"status": int(parts[0]), "count": int(parts[1]),
                            "path": parts[2] if len(parts) > 2 else None})
        for spec in args.drop:
            parts = spec.split(":", 1)
            self.add_fault({"action": "drop", "count": int(parts[0]),
                            "path": parts[1] if len(parts) > 1 else None})

    # -- helpers ----------------------------------------------------------
    def now(self):
        return time.time() + self.clock_offset

    def log(self, line):
        with self.log_lock:
            try:
                self.logf.write("vault-double: %s %s\n" % (rfc3339(time.time()), line))
                self.logf.flush()
            except (OSError, ValueError):
                pass

    def add_mount(self, ns, path, typ, opts):
        if typ == "kv":
            typ = "kv-v1"
        if typ not in ("kv-v1", "kv-v2", "transit", "approle", "kubernetes", "token"):
            raise ValueError("unknown mount type %r" % typ)
        path = path.strip("/")
        if typ in ("approle", "kubernetes") and not path.startswith("auth/"):
            path = "auth/" + path
        self.namespaces.add(ns)
        self.mounts[(ns, path)] = Mount(ns, path, typ, opts)

    def add_mount_spec(self, spec):
        ns = ""
        if ":" in spec.split("=", 1)[0]:
            ns, spec = spec.split(":", 1)
            ns = ns.strip("/")
        path, rest = spec.split("=", 1)
        fields = rest.split(",")
        opts = {}
        for f in fields[1:]:
            if "=" in f:
                k, v = f.split("=", 1)
                opts[k] = int(v) if v.isdigit() else v
            else:
                opts[f] = True
        self.add_mount(ns, path, fields[0], opts)

    def install_root_token(self, tok):
        with self.store.lock:
            self.store.tokens[token_hash(tok)] = {
                "accessor": "root-" + token_hash(tok)[:20], "namespace": "", "root": True,
                "policies": ["root"], "ttl": 0, "creation_ttl": 0, "explicit_max_ttl": 0,
                "creation_time": int(self.now()), "expire_time": 0, "max_expire": 0,
                "renewable": False, "path": "auth/token/root", "display_name": "root",
                "meta": None, "orphan": True}
            self.store.mark("tokens", token_hash(tok))
        self.persist.commit()

    def add_fault(self, rule):
        rule = dict(rule)
        if "action" not in rule:
            rule["action"] = ("status" if "status" in rule else "delay" if "delay_ms" in rule
                              else "redirect" if "location" in rule else "drop")
        if rule["action"] not in ("status", "drop", "reset_after_headers", "truncate",
                                  "redirect", "delay", "tls_fail"):
            raise ValueError("unknown action")
        if rule["action"] in ("status", "reset_after_headers", "truncate") and "status" not in rule:
            rule["status"] = 500
        rule.setdefault("count", 1)
        rule.setdefault("skip", 0)
        with self.knob_lock:
            if rule["action"] == "tls_fail":
                self.tls_fail += max(0, int(rule["count"]))
                return 0
            self.fault_seq += 1
            rule["id"] = self.fault_seq
            self.faults.append(rule)
            return rule["id"]

    def take_fault(self, method, relpath, ns_hdr):
        with self.knob_lock:
            for rule in self.faults:
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if not path_match(rule.get("path"), relpath):
                    continue
                if "namespace" in rule and (rule["namespace"] or "") != (ns_hdr or ""):
                    continue
                if rule["skip"] > 0:
                    rule["skip"] -= 1
                    continue
                if rule["count"] == 0:
                    continue
                if rule["count"] > 0:
                    rule["count"] -= 1
                self.counters["faults"] += 1
                hit = dict(rule)
                self.faults = [r for r in self.faults if r["count"] != 0]
                return hit
        return None

    def take_tls_fail(self):
        with self.knob_lock:
            if self.tls_fail > 0:
                self.tls_fail -= 1
                self.counters["handshake_failures"] += 1
                return True
        return False

    def latency_for(self, relpath):
        with self.knob_lock:
            ms = self.latency_ms
            for pat, v in self.path_latency.items():
                if path_match(pat, relpath):
                    ms += v
        return ms

    def denied(self, expired=False):
        if self.denied_style == "multi":
            return err(403, EXPIRED_MULTI if expired else DENIED_MULTI)
        return err(403, DENIED_SIMPLE)

    # -- namespace / routing ---------------------------------------------
    def resolve(self, ns_hdr, relpath):
        """-> (namespace, path inside it) or None for an unknown namespace."""
        ns = (ns_hdr or "").strip("/")
        if ns not in self.namespaces:
            return None
        parts = [p for p in relpath.split("/")]
        i = 0
        while i < len(parts) - 1:
            cand = (ns + "/" + parts[i]).strip("/")
            if parts[i] and cand in self.namespaces:
                ns = cand
                i += 1
            else:
                break
        return ns, "/".join(parts[i:])

    def find_mount(self, ns, path):
        parts = path.split("/")
        for i in range(len(parts), 0, -1):
            m = self.mounts.get((ns, "/".join(parts[:i])))
            if m:
                return m, "/".join(parts[i:])
        return None, None

    def lookup_token(self, tok, ns):
        """-> (record, None) or (None, Resp)."""
        if not tok:
            return None, self.denied()
        with self.store.lock:
            rec = self.store.tokens.get(token_hash(tok))
            if rec is None:
                return None, self.denied()
            if rec["expire_time"] and self.now() >= rec["expire_time"]:
                return None, self.denied(expired=True)
            tns = rec["namespace"]
            if not rec.get("root") and not (ns == tns or (tns == "" or ns.startswith(tns + "/"))):
                return None, self.denied()
            return rec, None

    # -- main entry --------------------------------------------------------
    def handle(self, method, relpath, query, headers, body, info):
        """relpath: path after /v1/ (no query).  Returns Resp."""
        ns_hdr = headers.get("X-Vault-Namespace") or ""
        op_list = method == "LIST" or (method == "GET" and parse_bool(query.get("list", [""])[-1]) is True)
        if method in ("PUT", "POST"):
            op = "update"
        elif op_list:
            op = "list"
        elif method in ("GET", "HEAD"):
            op = "read"
        elif method == "DELETE":
            op = "delete"
        else:
            return err(405)
        # root-only system paths
        bare = relpath.strip("/")
        for rootonly in ("sys/health", "sys/seal-status"):
            if bare == rootonly or bare.endswith("/" + rootonly):
                if ns_hdr.strip("/") or bare != rootonly:
                    return err(404, "unsupported path")
                if rootonly == "sys/health":
                    if method not in ("GET", "HEAD"):
                        return err(405)
                    return self.health(query, method == "HEAD")
                return self.seal_status()
        with self.knob_lock:
            node = dict(self.node)
        if not node["initialized"] or node["sealed"]:
            return err(503, SEALED_TEXT)
        r = self.resolve(ns_hdr, relpath)
        route_err = err(404, 'no handler for route "%s". route entry not found.' % relpath)
        if r is None:
            return route_err
        ns, path = r
        if op == "list" and not path.endswith("/"):
            path += "/"
        data = {}
        if op == "update" and body:
            try:
                data = json.loads(body.decode("utf-8"))
            except (ValueError, UnicodeDecodeError) as e:
                return err(400, "failed to parse JSON input: %s" % e)
        elif op != "update" and op != "list":
            # GET query parameters reach the backend as data (e.g. version)
            data = {k: v[-1] for k, v in query.items()}
        m, rest = self.find_mount(ns, path)
        # login endpoints are unauthenticated
        if m and m.type in ("approle", "kubernetes") and rest == "login":
            if op != "update":
                return err(405, "unsupported operation")
            if not isinstance(data, dict):
                return err(400, "failed to parse JSON input: not an object")
            return self.login(m, data, info)
        tok, deny = self.lookup_token(headers.get("X-Vault-Token"), ns)
        if deny:
            return deny
        info["token_accessor"] = tok["accessor"]
        if path.startswith("sys/"):
            return err(404, "unsupported path")
        if m is None:
            return route_err
        if op == "update" and not isinstance(data, dict):
            return err(400, "failed to parse JSON input: not an object")
        if m.type == "token":
            return self.token_api(m, rest, op, data, tok, headers.get("X-Vault-Token"))
        if m.type == "kv-v1":
            return self.kv1(m, rest, op, data)
        if m.type == "kv-v2":
            return self.kv2(m, rest, op, data)
        if m.type == "transit":
            return self.transit(m, rest, op, data)
        return route_err

    # -- sys ---------------------------------------------------------------
    def health(self, query, head):
        codes = {"activecode": 200, "standbycode": 429, "drsecondarycode": 472,
                 "performancestandbycode": 473, "haunhealthycode": 474, "sealedcode": 503,
                 "uninitcode": 501, "removedcode": 530}
        for k in codes:
            if k in query:
                try:
                    v = int(query[k][-1])
                    if not 100 <= v <= 999:
                        raise ValueError()
                    codes[k] = v
                except ValueError:
                    return err(400, "bad code value")
        oks = {}
        for k in ("standbyok", "perfstandbyok"):
            oks[k] = False
            if k in query:
                b = parse_bool(query[k][-1])
                if b is None:
                    return err(400, "bad value for %s parameter" % k)
                oks[k] = b
        with self.knob_lock:
            n = dict(self.node)
        code = codes["activecode"]
        if not n["initialized"]:
            code = codes["uninitcode"]
        elif n["sealed"]:
            code = codes["sealedcode"]
        elif n["removed"]:
            code = codes["removedcode"]
        elif n["dr_secondary"]:
            code = codes["drsecondarycode"]
        elif n["performance_standby"]:
            if not oks["perfstandbyok"]:
                code = codes["performancestandbycode"]
        elif n["standby"]:
            if n["ha_unhealthy"]:
                code = codes["haunhealthycode"]
            elif not oks["standbyok"]:
                code = codes["standbycode"]
        sealed = n["sealed"] or not n["initialized"]
        body = {
            "initialized": n["initialized"],
            "sealed": sealed,
            "standby": n["standby"] or n["performance_standby"],
            "performance_standby": n["performance_standby"],
            "replication_performance_mode": "disabled",
            "replication_dr_mode": "secondary" if n["dr_secondary"] else "disabled",
            "server_time_utc": int(self.now()),
            "version": VERSION,
            "enterprise": len(self.namespaces) > 1,
        }
        if not sealed:
            body["cluster_name"] = "vault-cluster-double"
            body["cluster_id"] = self.cluster_id
        body.update({"echo_duration_ms": 0, "clock_skew_ms": 0,
                     "replication_primary_canary_age_ms": 0})
        if n["removed"]:
            body["removed_from_cluster"] = True
        if head:
            return Resp(code, raw=b"")
        return Resp(code, body)

    def seal_status(self):
        with self.knob_lock:
            n = dict(self.node)
        return Resp(200, {"type": "shamir", "initialized": n["initialized"],
                          "sealed": n["sealed"] or not n["initialized"], "t": 1, "n": 1,
                          "progress": 0, "nonce": "", "version": VERSION,
                          "build_date": "2024-01-01T00:00:00Z", "migration": False,
                          "recovery_seal": False, "storage_type": "file"})

    # -- tokens --------------------------------------------------------------
    def issue_token(self, ns, path, policies, meta, display, ttl=None, max_ttl=None,
                    renewable=None):
        with self.knob_lock:
            ttl = self.token_ttl if ttl is None else ttl
            max_ttl = self.token_max_ttl if max_ttl is None else max_ttl
            renewable = self.renewable if renewable is None else renewable
        tok = "hvs." + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
                               for _ in range(24))
        if ns:
            tok += "." + hashlib.sha256(ns.encode()).hexdigest()[:5]
        accessor = secrets.token_hex(12)
        now = self.now()
        cap = max_ttl if max_ttl else SYSTEM_MAX_TTL
        warnings = None
        if ttl and ttl > cap:
            warnings = ['TTL of "%ds" exceeded the effective max_ttl of "%ds"; TTL value is capped '
                        'accordingly' % (ttl, cap)]
            ttl = cap
        rec = {"accessor": accessor, "namespace": ns, "policies": policies, "ttl": ttl,
               "creation_ttl": ttl, "explicit_max_ttl": max_ttl, "creation_time": int(now),
               "expire_time": now + ttl if ttl else 0, "max_expire": now + cap if ttl else 0,
               "renewable": bool(renewable) and ttl > 0, "path": path, "display_name": display,
               "meta": meta, "orphan": True}
        with self.store.lock:
            self.store.tokens[token_hash(tok)] = rec
            self.store.mark("tokens", token_hash(tok))
        self.persist.commit()
        return tok, rec, warnings

    def auth_block(self, tok, rec, lease):
        return {"client_token": tok, "accessor": rec["accessor"], "policies": rec["policies"],
                "token_policies": rec["policies"], "metadata": rec["meta"],
                "lease_duration": lease, "renewable": rec["renewable"], "entity_id": "",
                "token_type": "service", "orphan": rec["orphan"], "mfa_requirement": None,
                "num_uses": 0}

    def login(self, m, data, info):
        info["login"] = True
        if m.type == "approle":
            rid = str(data.get("role_id") or "").strip()
            if not rid:
                return err(400, "missing role_id")
            with self.store.lock:
                role = self.store.approles.get(rid) or self.cli_approles.get(rid)
                role = dict(role) if role else None
            if role is None:
                return err(400, "invalid role or secret ID")
            sid = str(data.get("secret_id") or "").strip()
            if not sid:
                return err(400, "missing secret_id")
            if not hmac.compare_digest(sid.encode(), role["secret_id"].encode()):
                return err(400, "invalid role or secret ID")
            meta = {"role_name": role.get("role_name", "keyward")}
            tok, rec, warn = self.issue_token(
                m.ns, m.path + "/login", role.get("policies", ["default", "keyward"]), meta,
                m.path.split("/", 1)[1], role.get("ttl"), role.get("max_ttl"),
                role.get("renewable"))
        else:
            rname = data.get("role") or ""
            if not rname:
                return err(400, "missing role")
            jwt = data.get("jwt") or ""
            if not jwt:
                return err(400, "missing jwt")
            with self.store.lock:
                role = self.store.k8s.get(rname) or self.cli_k8s.get(rname)
                role = copy.deepcopy(role) if role else None
            if role is None:
                return err(400, 'invalid role name "%s"' % rname)
            if not any(hmac.compare_digest(jwt.encode(), j.encode()) for j in role["jwts"]):
                return err(403, DENIED_SIMPLE)
            meta = {"role": rname,
                    "service_account_name": role.get("service_account_name", "keyward"),
                    "service_account_namespace": role.get("service_account_namespace", "default"),
                    "service_account_secret_name": "",
                    "service_account_uid": str(uuid.uuid5(uuid.NAMESPACE_OID, rname))}
            tok, rec, warn = self.issue_token(m.ns, m.path + "/login", ["default", "keyward"],
                                              meta, m.path.split("/", 1)[1])
        with self.knob_lock:
            self.counters["logins"] += 1
        info["token_accessor"] = rec["accessor"]
        return Resp(200, envelope(None, auth=self.auth_block(tok, rec, rec["ttl"]),
                                  warnings=warn, mount_type=m.mount_type))

    def token_api(self, m, rest, op, data, rec, tok):
        if rest == "lookup-self" and op in ("read", "update"):
            with self.store.lock:
                now = self.now()
                ttl = int(max(0, rec["expire_time"] - now)) if rec["expire_time"] else 0
                d = {"accessor": rec["accessor"], "creation_time": rec["creation_time"],
                     "creation_ttl": rec["creation_ttl"], "display_name": rec["display_name"],
                     "entity_id": "", "expire_time": rfc3339(rec["expire_time"]) if rec["expire_time"] else None,
                     "explicit_max_ttl": rec["explicit_max_ttl"], "id": tok,
                     "issue_time": rfc3339(rec["creation_time"]), "meta": rec["meta"],
                     "num_uses": 0, "orphan": rec["orphan"], "path": rec["path"],
                     "policies": rec["policies"], "renewable": rec["renewable"], "ttl": ttl,
                     "type": "service"}
            if rec["namespace"]:
                d["namespace_path"] = rec["namespace"] + "/"
            return ok(d, mount_type="token")
        if rest == "renew-self" and op == "update":
            try:
                inc = parse_duration(data.get("increment", 0))
            except ValueError:
                return err(400, "invalid increment")
            warnings = None
            with self.store.lock:
                if not rec["renewable"]:
                    return err(400, "lease is not renewable")
                now = self.now()
                ttl = inc if inc > 0 else rec["creation_ttl"]
                left = int(rec["max_expire"] - now)
                if ttl > left:
                    warnings = ['TTL of "%ds" exceeded the effective max_ttl of "%ds"; TTL value '
                                'is capped accordingly' % (ttl, max(left, 0))]
                    ttl = max(left, 0)
                rec["ttl"] = ttl
                rec["expire_time"] = now + ttl
                self.store.mark("tokens", token_hash(tok))
            self.persist.commit()
            return Resp(200, envelope(None, auth=self.auth_block(tok, rec, ttl), warnings=warnings,
                                      mount_type="token"))
        if rest == "revoke-self" and op == "update":
            with self.store.lock:
                self.store.tokens.pop(token_hash(tok), None)
                self.store.mark("tokens", token_hash(tok))
            self.persist.commit()
            return no_content()
        if rest in ("create", "create-orphan") and op == "update":
            try:
                ttl = parse_duration(data["ttl"]) if "ttl" in data else None
                mx = parse_duration(data["explicit_max_ttl"]) if "explicit_max_ttl" in data else None
            except ValueError:
                return err(400, "invalid ttl")
            ren = data.get("renewable")
            pol = data.get("policies") or ["default"]
            t2, r2, warn = self.issue_token(rec["namespace"], "auth/token/create", pol,
                                            data.get("meta"), "token", ttl, mx, ren)
            return Resp(200, envelope(None, auth=self.auth_block(t2, r2, r2["ttl"]), warnings=warn,
                                      mount_type="token"))
        if rest in ("lookup-self", "renew-self", "revoke-self", "create"):
            return err(405, "unsupported operation")
        return err(404, "unsupported path")

    # -- KV v1 ---------------------------------------------------------------
    @staticmethod
    def list_children(keys, prefix):
        out = set()
        for k in keys:
            if k.startswith(prefix):
                tail = k[len(prefix):]
                if not tail:
                    continue
                out.add(tail.split("/", 1)[0] + "/" if "/" in tail else tail)
        return sorted(out)

    def kv1(self, m, rest, op, data):
        with self.store.lock:
            space = self.store.kv1.setdefault(m.key, {})
            if op == "list":
                prefix = rest if rest in ("", "/") else rest
                prefix = "" if prefix == "/" else prefix
                keys = self.list_children(space.keys(), prefix)
                if not keys:
                    return err(404)
                return ok({"keys": keys}, mount_type="kv")
            if rest == "" and op != "list":
                return err(405, "unsupported operation") if op != "read" else err(404)
            if op == "read":
                obj = space.get(rest)
                if obj is None:
                    return err(404)
                return ok(sorted_obj(obj), lease_duration=KV1_LEASE, mount_type="kv")
            if op == "update":
                if not data:
                    return err(400, "missing data fields")
                space[rest] = data
            elif op == "delete":
                space.pop(rest, None)
            self.store.mark("kv1", m.key, rest)
        self.persist.commit()
        return no_content()

    # -- KV v2 ---------------------------------------------------------------
    def v2conf(self, m):
        c = self.store.kv2conf.get(m.key)
        if c is None:
            c = {"cas_required": bool(m.opts.get("cas_required", False)),
                 "max_versions": int(m.opts.get("max_versions", 0)),
                 "delete_version_after": "0s"}
            self.store.kv2conf[m.key] = c
            self.store.mark("kv2conf", m.key)
        return c

    @staticmethod
    def vmeta(vm, ver, meta):
        return {"created_time": vm["created_time"], "custom_metadata": meta.get("custom_metadata"),
                "deletion_time": vm["deletion_time"], "destroyed": vm["destroyed"], "version": ver}

    def kv2(self, m, rest, op, data):
        sub, _, p = rest.partition("/")
        invalid_op = {"update": "put", "read": "get", "list": "list", "delete": "delete"}[op]
        if rest.rstrip("/") in ("data", "metadata", "delete", "undelete", "destroy") and op != "list":
            return Resp(404, envelope(None, warnings=[V2_ROOT_WARNING], mount_type="kv"))
        with self.store.lock:
            space = self.store.kv2.setdefault(m.key, {})
            conf = self.v2conf(m)
            if sub == "config" and p == "":
                if op == "read":
                    return ok(dict(conf), mount_type="kv")
                if op == "update":
                    if "cas_required" in data:
                        conf["cas_required"] = bool(data["cas_required"])
                    if "max_versions" in data:
                        conf["max_versions"] = int(data["max_versions"])
                    resp = no_content()
                else:
                    return err(405, "unsupported operation")
            elif sub == "data" and p and not p.endswith("/") and op != "list":
                resp = self.kv2_data(m, space, conf, p, op, data)
                if resp.status != 0:
                    return resp
                resp = resp.obj
            elif sub == "metadata":
                if op == "list":
                    keys = self.list_children(space.keys(), p if p != "/" else "")
                    if not keys:
                        return err(404)
                    return ok({"keys": keys}, mount_type="kv")
                if not p or p.endswith("/"):
                    return Resp(404, envelope(None, warnings=[V2_INVALID_WARNING % invalid_op],
                                              mount_type="kv"))
                meta = space.get(p)
                if op == "read":
                    if meta is None:
                        return err(404)
                    d = {k: meta[k] for k in ("cas_required", "created_time", "current_version",
                                              "custom_metadata", "delete_version_after",
                                              "max_versions", "oldest_version", "updated_time")}
                    d["versions"] = {v: {"created_time": vm["created_time"],
                                         "deletion_time": vm["deletion_time"],
                                         "destroyed": vm["destroyed"]}
                                     for v, vm in sorted(meta["versions"].items(), key=lambda x: int(x[0]))}
                    return ok(d, mount_type="kv")
                if op == "delete":
                    space.pop(p, None)
                    resp = no_content()
                else:  # update
                    if meta is None:
                        meta = self.new_meta()
                        space[p] = meta
                    for k in ("cas_required", "max_versions", "custom_metadata"):
                        if k in data:
                            meta[k] = data[k]
                    meta["updated_time"] = rfc3339(self.now())
                    resp = no_content()
            elif sub in ("delete", "undelete", "destroy") and p and op == "update":
                vers = data.get("versions")
                if sub == "delete" and not vers:
                    return err(400, "no version number provided")
                if not vers:
                    return err(400, "no version number provided")
                meta = space.get(p)
                for v in vers:
                    vm = meta["versions"].get(str(v)) if meta else None
                    if vm is None:
                        continue
                    if sub == "delete" and not vm["destroyed"] and not vm["deletion_time"]:
                        vm["deletion_time"] = rfc3339(self.now())
                    elif sub == "undelete" and not vm["destroyed"]:
                        vm["deletion_time"] = ""
                    elif sub == "destroy":
                        vm["destroyed"] = True
                        vm["data"] = None
                resp = no_content()
            else:
                return Resp(404, envelope(None, warnings=[V2_INVALID_WARNING % invalid_op],
                                          mount_type="kv"))
            self.store.mark("kv2conf", m.key)
            if p and not p.endswith("/"):
                self.store.mark("kv2", m.key, p)
        self.persist.commit()
        return resp

    def new_meta(self):
        t = rfc3339(self.now())
        return {"cas_required": False, "created_time": t, "current_version": 0,
                "custom_metadata": None, "delete_version_after": "0s", "max_versions": 0,
                "oldest_version": 0, "updated_time": t, "versions": {}}

    def kv2_data(self, m, space, conf, p, op, data):
        """Returns Resp (final) or Resp(status 0, obj=final Resp) when state changed."""
        meta = space.get(p)
        if op == "read":
            if meta is None:
                return err(404)
            ver = meta["current_version"]
            if "version" in data and str(data["version"]) not in ("", "0"):
                try:
                    ver = int(data["version"])
                except ValueError:
                    return err(400, 'error converting input %s for field "version"' % data["version"])
            vm = meta["versions"].get(str(ver))
            if vm is None:
                return err(404)
            d = {"data": None, "metadata": self.vmeta(vm, ver, meta)}
            if vm["destroyed"] or vm["deletion_time"]:
                return Resp(404, envelope(d, mount_type="kv"))
            d["data"] = sorted_obj(vm["data"])
            return ok(d, mount_type="kv")
        if op == "delete":
            if meta and str(meta["current_version"]) in meta["versions"]:
                vm = meta["versions"][str(meta["current_version"])]
                if not vm["deletion_time"] and not vm["destroyed"]:
                    vm["deletion_time"] = rfc3339(self.now())
            return Resp(0, no_content())
        # update
        if "data" not in data or data["data"] is None:
            return err(400, "no data provided")
        if not isinstance(data["data"], dict):
            return err(400, "no data provided")
        opts = data.get("options") or {}
        cur = meta["current_version"] if meta else 0
        if isinstance(opts, dict) and "cas" in opts:
            try:
                cas = int(opts["cas"])
            except (TypeError, ValueError):
                return err(400, "error parsing check-and-set parameter")
            if cas != cur:
                return err(400, CAS_MISMATCH)
        elif conf["cas_required"] or (meta and meta.get("cas_required")):
            return err(400, CAS_REQUIRED)
        if meta is None:
            meta = self.new_meta()
            space[p] = meta
        ver = cur + 1
        t = rfc3339(self.now())
        meta["versions"][str(ver)] = {"created_time": t, "deletion_time": "", "destroyed": False,
                                      "data": data["data"]}
        meta["current_version"] = ver
        meta["updated_time"] = t
        if ver == 1:
            meta["created_time"] = t
        maxv = meta.get("max_versions") or conf.get("max_versions") or 10
        while len(meta["versions"]) > maxv:
            oldest = min(int(v) for v in meta["versions"])
            del meta["versions"][str(oldest)]
        meta["oldest_version"] = min(int(v) for v in meta["versions"]) if maxv < ver else 0
        vm = meta["versions"][str(ver)]
        return Resp(0, ok(self.vmeta(vm, ver, meta), mount_type="kv"))

    # -- transit -------------------------------------------------------------
    def transit_key(self, m, name, create, derived=False):
        keys = self.store.transit.setdefault(m.key, {})
        k = keys.get(name)
        if k is None and create:
            k = {"versions": {"1": b64(secrets.token_bytes(32))}, "latest": 1, "derived": derived,
                 "created": {"1": int(self.now())}}
            keys[name] = k
            self.store.mark("transit", m.key, name)
        return k

    def transit_rotate(self, m, name):
        with self.store.lock:
            k = self.transit_key(m, name, True)
            k["latest"] += 1
            k["versions"][str(k["latest"])] = b64(secrets.token_bytes(32))
            k["created"][str(k["latest"])] = int(self.now())
            self.store.mark("transit", m.key, name)
            v = k["latest"]
        self.persist.commit()
        return v

    def transit_info(self, name, k):
        return {"name": name, "type": "aes256-gcm96", "latest_version": k["latest"],
                "min_decryption_version": 1, "min_encryption_version": 0,
                "min_available_version": 0, "deletion_allowed": False, "derived": k["derived"],
                "exportable": False, "allow_plaintext_backup": False,
                "supports_encryption": True, "supports_decryption": True,
                "supports_derivation": True, "supports_signing": False,
                "auto_rotate_period": 0, "imported_key": False,
                "keys": {v: t for v, t in k["created"].items()}}

    def transit(self, m, rest, op, data):
        sub, _, name = rest.partition("/")
        if sub == "keys" and name:
            name, _, action = name.partition("/")
            if action == "rotate" and op == "update":
                self.transit_rotate(m, name)
                with self.store.lock:
                    return ok(self.transit_info(name, self.transit_key(m, name, False)),
                              mount_type="transit")
            if action == "" and op == "update":
                with self.store.lock:
                    k = self.transit_key(m, name, False)
                    if k is None:
                        self.transit_key(m, name, True, bool(data.get("derived")))
                    info = self.transit_info(name, self.transit_key(m, name, False))
                self.persist.commit()
                return ok(info, mount_type="transit")
            if action == "" and op == "read":
                with self.store.lock:
                    k = self.transit_key(m, name, False)
                    if k is None:
                        return err(404)
                    return ok(self.transit_info(name, k), mount_type="transit")
            return err(405, "unsupported operation")
        if sub not in ("encrypt", "decrypt") or not name or "/" in name:
            return err(404, 'no handler for route "%s/%s". route entry not found.' % (m.path, rest))
        if op != "update":
            return err(405, "unsupported operation")
        created = False
        with self.store.lock:
            k = self.transit_key(m, name, False)
            if k is None and sub == "encrypt":
                k = self.transit_key(m, name, True)
                created = True
            if k is None:
                return err(400, "encryption key not found")
            k = copy.deepcopy(k)
        if created:
            self.persist.commit()
        ctx = b""
        if k["derived"]:
            c = data.get("context")
            if not c:
                return err(400, DERIVED_NEEDS_CONTEXT)
            try:
                ctx = b64_strict(c)
            except ValueError:
                return err(400, "failed to base64-decode context")
        if sub == "encrypt":
            if "plaintext" not in data:
                return err(400, "missing plaintext to encrypt")
            try:
                pt = b64_strict(data["plaintext"])
            except ValueError:
                return err(400, "failed to base64-decode plaintext")
            ver = k["latest"]
            if "key_version" in data and data["key_version"]:
                try:
                    ver = int(data["key_version"])
                except (TypeError, ValueError):
                    return err(400, "invalid key version")
                if str(ver) not in k["versions"]:
                    return err(400, "invalid key version")
            key = base64.b64decode(k["versions"][str(ver)])
            if ctx:
                key = hkdf_sha256(key, ctx)
            nonce = secrets.token_bytes(12)
            ct = "vault:v%d:%s" % (ver, b64(nonce + CIPHER.seal(key, nonce, pt)))
            return ok({"ciphertext": ct, "key_version": ver}, mount_type="transit")
        if "ciphertext" not in data or not data["ciphertext"]:
            return err(400, "missing ciphertext to decrypt")
        ct = data["ciphertext"]
        if not isinstance(ct, str) or not ct.startswith("vault:v"):
            return err(400, "invalid ciphertext: no prefix")
        parts = ct[len("vault:v"):].split(":", 1)
        if len(parts) != 2:
            return err(400, "invalid ciphertext: wrong number of fields")
        try:
            ver = int(parts[0])
        except ValueError:
            return err(400, "invalid ciphertext: version number could not be decoded")
        if str(ver) not in k["versions"]:
            return err(400, "invalid key version")
        try:
            raw = b64_strict(parts[1])
        except ValueError:
            return err(400, "invalid ciphertext: could not decode base64")
        key = base64.b64decode(k["versions"][str(ver)])
        if ctx:
            key = hkdf_sha256(key, ctx)
        try:
            pt = CIPHER.open(key, raw[:12], raw[12:])
        except ValueError:
            return err(400, "cipher: message authentication failed")
        return ok({"plaintext": b64(pt)}, mount_type="transit")


# ---------------------------------------------------------------------------
# HTTP plumbing

SECRET_FIELDS = ("secret_id", "jwt", "token", "client_token", "password")


def redact_body(body):
    if not body:
        return None
    try:
        obj = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return "<%d bytes, not JSON>" % len(body)
    if isinstance(obj, dict):
        for k in SECRET_FIELDS:
            if k in obj:
                obj[k] = "<redacted>"
        return json.dumps(obj, separators=(",", ":"))
    return body.decode("utf-8")


class VaultHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "vault-double"
    sys_version = ""

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_vault
        raise AttributeError(name)

    def log_message(self, fmt, *args):  # the default one prints request lines
        pass

    def log_error(self, fmt, *args):
        self.server.vault.log("error %s" % (fmt % args if args else fmt)[:200])

    def read_body(self):
        te = (self.headers.get("Transfer-Encoding") or "").lower()
        if "chunked" in te:
            out = b""
            while True:
                line = self.rfile.readline(1024)
                n = int(line.split(b";")[0].strip() or b"0", 16)
                if n == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return out
                out += self.rfile.read(n)
                self.rfile.readline(8)
                if len(out) > MAX_BODY:
                    return None
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def abort(self, rst=True):
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                           struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass
        self.wfile = _Sink()

    def send(self, resp, mode=None):
        body = b"" if self.command == "HEAD" else resp.body()
        self.send_response(resp.status)
        if resp.status != 204:
            if resp.status != 307:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(resp.body()) if self.command != "HEAD" else 0))
        self.send_header("Cache-Control", "no-store")
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if mode == "reset_after_headers":
            self.wfile.flush()
            self.abort()
            return
        if mode == "truncate":
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.abort(rst=False)
            return
        if body:
            self.wfile.write(body)

    def handle_vault(self):
        v = self.server.vault
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body = self.read_body()
        relpath = path[4:] if path.startswith("/v1/") else None
        info = {"client_cert": bool(getattr(self.connection, "getpeercert", lambda: None)())}
        with v.knob_lock:
            v.req_seq += 1
            v.counters["requests"] += 1
            entry = {"seq": v.req_seq, "time": time.time(), "method": self.command, "path": path,
                     "query": url.query,
                     "headers": {k: ("<redacted>" if k.lower() == "x-vault-token" else val)
                                 for k, val in self.headers.items()},
                     "body": redact_body(body) if body else None,
                     "namespace": self.headers.get("X-Vault-Namespace"), "status": None}
            v.requests.append(entry)
            if len(v.requests) > 20000:
                del v.requests[:5000]
        status = None
        try:
            rule = v.take_fault(self.command, relpath or path, self.headers.get("X-Vault-Namespace"))
            ms = v.latency_for(relpath or path)
            if rule and rule["action"] == "delay":
                ms += int(rule.get("delay_ms", 0))
            if ms:
                time.sleep(ms / 1000.0)
            mode = None
            if rule and rule["action"] == "drop":
                status = "dropped"
                self.abort()
                return
            if rule and rule["action"] == "redirect":
                loc = rule.get("location") or "https://%s:%d%s" % (
                    self.server.server_address[0], self.server.server_address[1], self.path)
                resp = Resp(307, raw=b"", headers={"Location": loc})
            elif rule and rule["action"] in ("status", "reset_after_headers", "truncate"):
                st = int(rule["status"])
                if "body" in rule:
                    b = rule["body"]
                    resp = Resp(st, raw=b if isinstance(b, str) else
                                json.dumps(b, separators=(",", ":")) + "\n")
                elif st == 204:
                    resp = Resp(204)
                else:
                    errs = rule.get("errors")
                    if errs is None:
                        errs = [e % (relpath or path) if "%s" in e else e
                                for e in FAULT_TEXT.get(st, ["injected fault"])]
                    resp = Resp(st, {"errors": errs})
                if rule.get("retry_after") is not None:
                    resp.headers["Retry-After"] = str(rule["retry_after"])
                for hk, hv in (rule.get("headers") or {}).items():
                    resp.headers[hk] = hv
                if rule["action"] != "status":
                    mode = rule["action"]
            elif body is None:
                resp = err(413, "http: request body too large")
                self.close_connection = True
            elif relpath is None:
                resp = err(404)
            else:
                try:
                    resp = v.handle(self.command, relpath, query, self.headers, body, info)
                except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
                    v.log("internal error on %s %s: %s" % (self.command, path, type(e).__name__))
                    resp = err(500, "internal error")
            status = resp.status
            entry["token_accessor"] = info.get("token_accessor")
            entry["client_cert"] = info["client_cert"]
            self.send(resp, mode)
            if mode:
                status = "%s(%s)" % (mode, status)
        except (ConnectionError, ssl.SSLError, OSError) as e:
            status = status or "io-error:%s" % type(e).__name__
            self.close_connection = True
        finally:
            entry["status"] = status
            v.log("%s %s %s %dms" % (self.command, path + ("?" + url.query if url.query else ""),
                                      status, (time.monotonic() - t0) * 1000))


class _Sink:
    closed = False

    def write(self, b):
        return len(b)

    def flush(self):
        pass

    def close(self):
        pass


def _bind_no_fqdn(server):
    # HTTPServer.server_bind would resolve the host name (getfqdn); skip it.
    socketserver.TCPServer.server_bind(server)
    server.server_name, server.server_port = server.server_address[:2]


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, vault, ctx):
        self.vault = vault
        self.ctx = ctx
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, VaultHandler)

    def server_bind(self):
        _bind_no_fqdn(self)

    def finish_request(self, request, client_address):
        v = self.vault
        with self.conns_lock:
            self.conns.add(request)
        try:
            if v.take_tls_fail():
                request.settimeout(2)
                try:
                    request.recv(4096)
                    # TLS alert: fatal handshake_failure
                    request.sendall(b"\x15\x03\x03\x00\x02\x02\x28")
                except OSError:
                    pass
                v.log("tls handshake failed (injected) from %s" % client_address[0])
                return
            request.settimeout(10)
            try:
                tls = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                v.log("tls handshake failed from %s: %s" % (client_address[0],
                                                             getattr(e, "reason", None) or type(e).__name__))
                return
            with self.conns_lock:
                self.conns.add(tls)
            tls.settimeout(300)  # Vault's http_idle_timeout default is 5m
            try:
                self.RequestHandlerClass(tls, client_address, self)
            except (ssl.SSLError, OSError):
                pass
            finally:
                with self.conns_lock:
                    self.conns.discard(tls)
                try:
                    tls.close()
                except OSError:
                    pass
        finally:
            with self.conns_lock:
                self.conns.discard(request)

    def handle_error(self, request, client_address):
        self.vault.log("connection error from %s: %s" % (client_address[0], sys.exc_info()[1]))

    def drop_all(self):
        with self.conns_lock:
            conns = list(self.conns)
        for c in conns:
            try:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


# ---------------------------------------------------------------------------
# Control port

class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        b = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def dispatch(self):
        d = self.server.double
        v = d.vault
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        want = d.args.control_token
        if want and not hmac.compare_digest((self.headers.get("X-Control-Token") or "").encode(),
                                            want.encode()):
            self.reply(403, {"ok": False, "error": "control token required"})
            return
        try:
            body = json.loads(raw.decode()) if raw.strip() else {}
            res = self.route(d, v, self.path.split("?")[0].rstrip("/"), body)
            self.reply(200, dict({"ok": True}, **(res or {})))
            v.log("control %s %s 200" % (self.command, self.path))
        except (ValueError, KeyError, TypeError) as e:
            self.reply(400, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
            v.log("control %s %s 400" % (self.command, self.path))
        if self.path.startswith("/shutdown"):
            threading.Thread(target=d.shutdown, daemon=True).start()

    def route(self, d, v, p, b):
        if p == "/state":
            with v.knob_lock:
                return {"node": dict(v.node), "latency_ms": v.latency_ms,
                        "path_latency": dict(v.path_latency), "token_ttl": v.token_ttl,
                        "token_max_ttl": v.token_max_ttl, "renewable": v.renewable,
                        "clock_offset": v.clock_offset, "faults": list(v.faults),
                        "tls_fail": v.tls_fail, "counters": dict(v.counters),
                        "transit_cipher": CIPHER.name, "port": d.port,
                        "control_port": d.control_port, "persist_error": v.persist.error,
                        "tokens": len(v.store.tokens), "namespaces": sorted(v.namespaces)}
        if p == "/requests":
            with v.knob_lock:
                return {"requests": list(v.requests)}
        if p == "/requests/clear":
            with v.knob_lock:
                v.requests = []
            return None
        if p in ("/seal", "/unseal"):
            with v.knob_lock:
                v.node["sealed"] = p == "/seal"
            return None
        if p == "/node":
            with v.knob_lock:
                for k in v.node:
                    if k in b:
                        v.node[k] = bool(b[k])
                if b.get("performance_standby"):
                    v.node["standby"] = True
                return {"node": dict(v.node)}
        if p == "/latency":
            with v.knob_lock:
                if "ms" in b:
                    v.latency_ms = int(b["ms"])
                if "paths" in b:
                    v.path_latency = {k: int(x) for k, x in b["paths"].items()}
            return None
        if p == "/tokens":
            with v.knob_lock:
                if "ttl" in b:
                    v.token_ttl = parse_duration(b["ttl"])
                if "max_ttl" in b:
                    v.token_max_ttl = parse_duration(b["max_ttl"])
                if "renewable" in b:
                    v.renewable = bool(b["renewable"])
            return None
        if p in ("/tokens/expire", "/tokens/revoke"):
            count = 0
            with v.store.lock:
                for h, rec in list(v.store.tokens.items()):
                    if rec.get("root"):
                        continue
                    if b.get("accessor") and rec["accessor"] != b["accessor"]:
                        continue
                    count += 1
                    v.store.mark("tokens", h)
                    if p.endswith("revoke"):
                        del v.store.tokens[h]
                    else:
                        rec["expire_time"] = v.now() - 1
            v.persist.commit()
            return {"tokens": count}
        if p == "/clock":
            with v.knob_lock:
                if "offset" in b:
                    v.clock_offset = float(b["offset"])
                v.clock_offset += float(b.get("advance", 0))
                return {"offset": v.clock_offset}
        if p == "/fault":
            return {"id": v.add_fault(b)}
        if p == "/faults/clear":
            with v.knob_lock:
                v.faults = []
                v.tls_fail = 0
            return None
        if p == "/restart":
            if b.get("async"):
                threading.Thread(target=d.restart, args=(int(b.get("down_ms", 0)), b.get("sealed")),
                                 daemon=True).start()
            else:
                d.restart(int(b.get("down_ms", 0)), b.get("sealed"))
            return None
        if p == "/approle":
            with v.store.lock:
                if b.get("remove"):
                    v.store.approles.pop(b["role_id"], None)
                    v.store.mark("approles", b["role_id"])
                    v.cli_approles.pop(b["role_id"], None)
                else:
                    r = {"secret_id": str(b["secret_id"]), "role_name": b.get("role_name", "keyward")}
                    for k in ("policies", "renewable"):
                        if k in b:
                            r[k] = b[k]
                    for k in ("ttl", "max_ttl"):
                        if k in b:
                            r[k] = parse_duration(b[k])
                    v.store.approles[str(b["role_id"])] = r
                    v.store.mark("approles", str(b["role_id"]))
            v.persist.commit()
            return None
        if p == "/kubernetes":
            with v.store.lock:
                role = v.store.k8s.setdefault(b["role"], copy.deepcopy(v.cli_k8s.get(b["role"]))
                                              or {"jwts": []})
                if b.get("remove"):
                    role["jwts"] = [j for j in role["jwts"] if j != b.get("jwt")]
                else:
                    role["jwts"].append(b["jwt"])
                for k in ("service_account_name", "service_account_namespace"):
                    if k in b:
                        role[k] = b[k]
                v.store.mark("k8s", b["role"])
            v.persist.commit()
            return None
        if p == "/transit/rotate":
            m = v.mounts.get(((b.get("namespace") or "").strip("/"), b.get("mount", "transit")))
            if m is None or m.type != "transit":
                raise ValueError("no such transit mount")
            return {"latest_version": v.transit_rotate(m, b["key"])}
        if p == "/shutdown":
            return None
        raise KeyError("unknown control path %s" % p)


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        _bind_no_fqdn(self)


# ---------------------------------------------------------------------------

def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class Double:
    def __init__(self, args):
        self.args = args
        self.vault = Vault(args)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        self.ctx = ctx
        self.host, self.port = split_addr(args.addr)
        self.server = None
        self.thread = None
        self.restart_lock = threading.Lock()
        self.stopped = threading.Event()
        self.start_tls()
        ch, cp = split_addr(args.control)
        self.control = ControlServer((ch, cp), ControlHandler)
        self.control.double = self
        self.control_port = self.control.server_address[1]
        threading.Thread(target=self.control.serve_forever, daemon=True, name="control").start()

    def start_tls(self):
        self.server = TLSServer((self.host, self.port), self.vault, self.ctx)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True, name="tls")
        self.thread.start()

    def stop_tls(self):
        self.server.shutdown()
        self.server.server_close()
        self.server.drop_all()

    def restart(self, down_ms=0, sealed=None):
        with self.restart_lock:
            v = self.vault
            v.log("restart: going down for %d ms" % down_ms)
            self.stop_tls()
            v.persist.commit(snapshot=True)
            if self.args.state and os.path.exists(self.args.state):
                v.store.load(self.args.state)
                v.persist.commit(snapshot=True)
            if self.args.root_token:
                v.install_root_token(self.args.root_token)
            with v.knob_lock:
                v.faults = []
                v.tls_fail = 0
                v.node["sealed"] = bool(sealed)
            time.sleep(down_ms / 1000.0)
            for _ in range(100):
                try:
                    self.start_tls()
                    break
                except OSError:
                    time.sleep(0.05)
            v.log("restart: listening again on port %d" % self.port)

    def shutdown(self):
        self.vault.persist.commit(snapshot=True)
        self.stopped.set()


def main(argv=None):
    parent = os.getppid()  # first, before the parent has a chance to go away
    ap = argparse.ArgumentParser(description="HashiCorp Vault test double (see module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--state")
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--journal-max", type=int, default=1 << 20, help=argparse.SUPPRESS)
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--control-port-file")
    ap.add_argument("--control-token")
    ap.add_argument("--exit-with-parent", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("--namespace", action="append", default=[])
    ap.add_argument("--mount", action="append", default=[])
    ap.add_argument("--no-default-mounts", action="store_true")
    ap.add_argument("--approle", action="append", default=[], metavar="ROLE_ID:SECRET_ID")
    ap.add_argument("--kubernetes", action="append", default=[], metavar="ROLE:JWT")
    ap.add_argument("--root-token")
    ap.add_argument("--token-ttl", type=parse_duration, default=3600)
    ap.add_argument("--token-max-ttl", type=parse_duration, default=0)
    ap.add_argument("--non-renewable", action="store_true")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--path-latency", action="append", default=[], metavar="PAT=MS")
    ap.add_argument("--sealed", action="store_true")
    ap.add_argument("--uninitialized", action="store_true")
    ap.add_argument("--standby", action="store_true")
    ap.add_argument("--perf-standby", action="store_true")
    ap.add_argument("--dr-secondary", action="store_true")
    ap.add_argument("--denied-style", choices=("simple", "multi"), default="simple")
    ap.add_argument("--fail", action="append", default=[], metavar="STATUS:COUNT[:PAT]")
    ap.add_argument("--drop", action="append", default=[], metavar="COUNT[:PAT]")
    args = ap.parse_args(argv)
    if split_addr(args.control)[0] not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--control must be a loopback address")

    d = Double(args)
    if args.state:
        d.vault.persist.commit(snapshot=True)  # fold any journal in; create the file
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: d.stopped.set())
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % d.port, False)
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % d.control_port, False)
    try:
        print("vault-double port=%d control=%d" % (d.port, d.control_port), flush=True)
    except OSError:
        pass
    d.vault.log("listening on %s:%d (%s), control on 127.0.0.1:%d, transit cipher: %s" % (
        d.host, d.port, "mutual TLS" if args.client_ca else "TLS", d.control_port, CIPHER.name))
    while not d.stopped.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            d.vault.log("parent %d went away" % parent)
            break
    d.vault.persist.commit(snapshot=True)
    d.vault.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
