#!/usr/bin/env python3
"""ciphertrust_double.py -- a TEST DOUBLE of Thales CipherTrust Manager for
keyward's tests.

This is NOT CipherTrust Manager (nor Gemalto KeySecure).  CipherTrust Manager
is a commercial appliance that cannot run on the machines keyward is tested on
(only Debian packages and npm are reachable), so keyward's CipherTrust key
store (KES's `keystore.gemalto.keysecure`) is tested against this double.  It
reproduces the part of CipherTrust's REST API that KES and keyward use, with
the paths, status codes and JSON shapes written down in
shared/spec/keystores-vault-ciphertrust-kmip-pkcs11.md §2.3-§2.5 and the
checklist of §5.4; tests/doubles/test_ciphertrust_double.py checks it against
every request/response example quoted there so that the double cannot drift
with keyward.  Where the spec marks a fact [unverified] (the status and body
for a missing or expired JWT, the error for a bad refresh token, the exact 409
text), the double's choice is said below.  Python 3 standard library only; it
fetches nothing from the network.

Run
---
    python3 tests/doubles/ciphertrust_double.py --addr 127.0.0.1:0 \\
        --cert server.pem --key server.key [--client-ca ca.pem] \\
        --state /tmp/ct.json [--port-file F] [--control 127.0.0.1:0] \\
        [--control-port-file F2] [--log FILE] \\
        [--refresh-token TOKEN[:DOMAIN]] [--token-ttl 300] ...

It prints one line "ciphertrust-double port=<P> control=<C>" on stdout once
both listeners are up and writes <P> (and <C>) followed by a newline to
--port-file (--control-port-file), atomically, so a test can poll for the
files.  --client-ca turns on mutual TLS.  SIGTERM/SIGINT flush the state and
exit 0; --exit-with-parent makes it exit when its parent dies.

What it implements (section numbers are the spec's)
---------------------------------------------------
* HTTP/1.1 over TLS >= 1.2, its own CA (a client trusts only tls.ca), optional
  client certificates.
* POST /api/v1/auth/tokens (§2.3): JSON {"grant_type":"refresh_token",
  "refresh_token":..., "domain":...}.  A known refresh token whose domain
  matches ("" and "root" are the root domain) answers 200 {"jwt":<opaque>,
  "duration":<--token-ttl, default 300>,"token_type":"Bearer",
  "refresh_token_id":<id>}.  grant_type other than refresh_token, a missing
  or non-string field, or a body that is not JSON: 400 {"code":15,
  "codeDesc":"NCERRInvalidParamValue: ..."}.  Unknown or revoked refresh
  token, or a domain it does not belong to: 401 {"code":6,"codeDesc":
  "NCERRAuthFailed: Invalid refresh token"} (the double's choice; the spec's
  §6 lists the real code as unverified).
* Bearer check on /api/v1/vault/*: no Authorization header -> 401 text/plain
  "Token is missing" (non-JSON, as KES's parseServerError comment says);
  unknown or expired JWT -> 401 text/plain "Token is expired or invalid"
  (status and text unverified, spec §6).
* POST /api/v1/vault/secrets {"name","dataType","material"}: 201 with a
  resource {"id","uri","account","application","devAccount","name",
  "dataType","createdAt","updatedAt"}; the name taken in the domain -> 409
  {"code":14,"codeDesc":"NCERRConflict: Secret with that name already
  exists"}; a field missing or not a string -> 400 JSON error; with
  --strict-hex, "seed" material that is not hex -> 400 (models newer CM,
  §2.5 caveat).
* POST /api/v1/vault/secrets/<name>/export?type=name -> 200 {"id","name",
  "dataType","material"}; absent or forbidden -> 404 {"code":16,"codeDesc":
  "NCERRResourceNotFound: Resource not found"}.  Without type=name <name> is
  the secret's id.
* DELETE /api/v1/vault/secrets/<name>?type=name -> 204; absent or forbidden ->
  404 (same body).
* GET /api/v1/vault/secrets?limit=&skip= -> 200 {"skip":<echo>,"limit":
  <echo>,"total":N,"resources":[{"name",...}]} in creation order (stable);
  limit defaults to 10 as CM's, at most 1000.
* GET / (the bare endpoint, KES's Status) -> 200 text/html without auth; any
  other path -> 404 text/plain "404 page not found".
* Domains: every secret belongs to the domain of the token that made it;
  another domain's token sees nothing of it (404, not listed).
* Permissions: POST /deny on the control port: {"op":"create"|"export"|
  "delete"|"list", "status":404|403|..., "refresh_token":RT?, "name":PAT?}
  makes matching requests answer that status (404 with the not-found body,
  403 with {"code":12,"codeDesc":"NCERRForbidden: ..."} or, with "text":
  true, a text body); {"clear":true} drops every rule.
* Persistence: secrets, refresh tokens added at run time and issued JWTs (as
  SHA-256 hashes, never the token) live in --state, a JSON file replaced
  atomically (temp file + fsync + rename) before a change is acknowledged.
* Logging: one line per request to stderr (or --log FILE): time, method,
  path (with query), status, milliseconds.  Never a header value, a body, a
  token or a material.

Knobs -- command line
---------------------
--refresh-token RT[:DOMAIN]  a refresh token the double accepts (repeatable;
                       DOMAIN default root)
--token-ttl S          duration of issued JWTs, default 300
--latency-ms N         added to every request
--path-latency PAT=MS  added to requests whose path matches PAT
--fail STATUS:COUNT[:PAT]  answer STATUS to the next COUNT requests
--drop COUNT[:PAT]     drop the next COUNT connections without an answer
--strict-hex           refuse non-hex seed material
--control-token T      require X-Control-Token: T on the control port
Path patterns (PAT) match the request path without the query, exactly or
as a prefix when they end in "*" (e.g. "/api/v1/vault/secrets*").

Knobs -- control port (plain HTTP, 127.0.0.1 only)
---------------------------------------------------
GET  /state                 knobs, counters, number of secrets and tokens
GET  /requests              request log: seq, time, method, path, query,
                            headers (Authorization "Bearer <redacted>"),
                            body (refresh_token and material "<redacted>"),
                            status, domain, client_cert
POST /requests/clear
POST /latency {"ms":N,"paths":{"PAT":MS}}
POST /tokens {"ttl":S}      duration of JWTs issued later
POST /tokens/expire {}      every JWT issued so far expires now
POST /refresh-tokens {"token","domain"?,"remove"?}
POST /clock {"advance":S} or {"offset":S}
POST /deny rule (above)
POST /fault rule -> {"id":N};  POST /faults/clear
POST /secrets {"name","material","domain"?,"dataType"?}   plant a secret
GET  /secrets?domain=D      every secret of D with its material
POST /restart {"down_ms":N,"async":b}  close the TLS listener and every
                            connection, reload from --state, listen again
POST /shutdown
Fault rule: {"path":PAT?, "method":M?, "skip":K, "count":N (default 1, -1 =
forever), "action": one of
   "status"   answer "status" with "body" (a string sent as text/plain, or a
              JSON value sent as application/json) or a default JSON error
   "drop"     close the connection without answering (TCP RST)
   "truncate" send the headers and half of the body, then close (EOF)
   "delay"    sleep "delay_ms", then answer normally
   "tls_fail" the next connection's TLS handshake fails
   "list"     a listing page with "skip_delta" added to its skip, "empty":
              true for no resources, "total_delta" added to its total}
"""

import argparse
import hashlib
import hmac
import http.server
import json
import os
import re
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

MAX_BODY = 1 << 20
NOT_FOUND = {"code": 16, "codeDesc": "NCERRResourceNotFound: Resource not found"}
CONFLICT = {"code": 14, "codeDesc": "NCERRConflict: Secret with that name already exists"}
FORBIDDEN = {"code": 12, "codeDesc": "NCERRForbidden: Not authorized to perform this operation"}
AUTH_FAILED = {"code": 6, "codeDesc": "NCERRAuthFailed: Invalid refresh token"}
TOKEN_MISSING = "Token is missing"
TOKEN_INVALID = "Token is expired or invalid"
FAULT_JSON = {400: {"code": 15, "codeDesc": "NCERRInvalidParamValue: bad request"},
              500: {"code": 1, "codeDesc": "NCERRInternal: internal error"},
              503: {"code": 1, "codeDesc": "NCERRUnavailable: service unavailable"}}
SECRET_FIELDS = ("refresh_token", "material")
HEX_RE = re.compile(r"^[0-9a-fA-F]*$")


def root_domain(d):
    return "" if d in (None, "", "root") else d


def path_match(pat, path):
    if not pat:
        return True
    if pat.endswith("*"):
        return path.startswith(pat[:-1])
    return path == pat


def token_hash(tok):
    return hashlib.sha256(tok.encode("utf-8", "surrogateescape")).hexdigest()


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


def write_atomic(path, data, do_fsync=True):
    tmp = "%s.tmp.%d.%d" % (path, os.getpid(), threading.get_ident())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if do_fsync:
            os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, path)
    if do_fsync:
        dfd = os.open(os.path.dirname(os.path.abspath(path)), os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


class Resp:
    def __init__(self, status, obj=None, text=None, ctype=None, headers=None):
        self.status = status
        self.obj = obj
        self.text = text
        self.ctype = ctype
        self.headers = headers or {}

    def body(self):
        if self.text is not None:
            return self.text if isinstance(self.text, bytes) else self.text.encode()
        if self.obj is None:
            return b""
        return json.dumps(self.obj, separators=(",", ":")).encode()

    def content_type(self):
        if self.ctype:
            return self.ctype
        if self.text is not None:
            return "text/plain; charset=utf-8"
        return "application/json" if self.obj is not None else None


def jerr(status, obj):
    return Resp(status, dict(obj))


class Store:
    """What a restart keeps: secrets per domain, refresh tokens added at run
    time, and issued JWTs (by hash)."""

    def __init__(self):
        self.lock = threading.RLock()
        self.secrets = {}    # domain -> {name: secret}
        self.refresh = {}    # refresh token hash -> {"domain","id","revoked"}
        self.jwts = {}       # jwt hash -> {"domain","expires","rt"}

    def snapshot(self):
        return {"format": "keyward-ciphertrust-double/1", "secrets": self.secrets,
                "refresh": self.refresh, "jwts": self.jwts}

    def load(self, path):
        with open(path, "rb") as f:
            d = json.loads(f.read().decode())
        with self.lock:
            self.secrets = d.get("secrets", {})
            self.refresh = d.get("refresh", {})
            self.jwts = d.get("jwts", {})


class CipherTrust:
    def __init__(self, args):
        self.args = args
        self.store = Store()
        self.knob_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.logf = open(args.log, "a") if args.log else sys.stderr
        self.token_ttl = args.token_ttl
        self.latency_ms = args.latency_ms
        self.path_latency = {}
        for spec in args.path_latency:
            pat, ms = spec.rsplit("=", 1)
            self.path_latency[pat] = int(ms)
        self.clock_offset = 0.0
        self.faults = []
        self.fault_seq = 0
        self.tls_fail = 0
        self.denies = []
        self.requests = []
        self.req_seq = 0
        self.counters = {"requests": 0, "faults": 0, "handshake_failures": 0, "auth": 0}
        self.persist_error = None
        if args.state and os.path.exists(args.state):
            self.store.load(args.state)
        # Command-line refresh tokens are not persisted (the state never
        # holds a refresh token given on the command line twice over).
        self.cli_refresh = {}
        for spec in args.refresh_token:
            tok, _, dom = spec.partition(":")
            self.cli_refresh[token_hash(tok)] = {"domain": root_domain(dom), "revoked": False,
                                                 "id": "rt-" + token_hash(tok)[:12]}
        for spec in args.fail:
            parts = spec.split(":", 2)
            self.add_fault({"action": "status", "status": int(parts[0]), "count": int(parts[1]),
                            "path": parts[2] if len(parts) > 2 else None})
        for spec in args.drop:
            parts = spec.split(":", 1)
            self.add_fault({"action": "drop", "count": int(parts[0]),
                            "path": parts[1] if len(parts) > 1 else None})
        self.save()

    def now(self):
        return time.time() + self.clock_offset

    def log(self, line):
        with self.log_lock:
            try:
                self.logf.write("ciphertrust-double: %s %s\n" % (rfc3339(time.time()), line))
                self.logf.flush()
            except (OSError, ValueError):
                pass

    def save(self):
        if not self.args.state:
            return
        try:
            with self.store.lock:
                text = json.dumps(self.store.snapshot(), separators=(",", ":")).encode()
            write_atomic(self.args.state, text, not self.args.no_fsync)
        except OSError as e:
            self.persist_error = "%s: %s" % (type(e).__name__, e)

    # -- knobs -----------------------------------------------------------
    def add_fault(self, rule):
        rule = dict(rule)
        if "action" not in rule:
            rule["action"] = "status" if "status" in rule else "delay" if "delay_ms" in rule else "drop"
        if rule["action"] not in ("status", "drop", "truncate", "delay", "tls_fail", "list"):
            raise ValueError("unknown action")
        if rule["action"] in ("status", "truncate") and "status" not in rule:
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

    def take_fault(self, method, path):
        with self.knob_lock:
            for rule in self.faults:
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if not path_match(rule.get("path"), path):
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

    def latency_for(self, path):
        with self.knob_lock:
            return self.latency_ms + sum(v for p, v in self.path_latency.items() if path_match(p, path))

    def denied(self, op, name, rt_hash):
        with self.knob_lock:
            for r in self.denies:
                if r["op"] != op:
                    continue
                if r.get("rt_hash") and r["rt_hash"] != rt_hash:
                    continue
                if name is not None and not path_match(r.get("name"), name):
                    continue
                st = int(r.get("status", 404))
                if st == 404:
                    return jerr(404, NOT_FOUND)
                if r.get("text"):
                    return Resp(st, text="Forbidden")
                return jerr(st, FORBIDDEN)
        return None

    # -- auth ------------------------------------------------------------
    def refresh_record(self, tok):
        h = token_hash(tok)
        with self.store.lock:
            rec = self.store.refresh.get(h) or self.cli_refresh.get(h)
        return h, rec

    def auth(self, body, info):
        self.counters["auth"] += 1
        try:
            req = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: invalid JSON body"})
        if not isinstance(req, dict) or req.get("grant_type") != "refresh_token":
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: unsupported "
                                                      "grant_type"})
        rt, dom = req.get("refresh_token"), req.get("domain", "")
        if not isinstance(rt, str) or not rt or not isinstance(dom, str):
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: refresh_token "
                                                      "is required"})
        h, rec = self.refresh_record(rt)
        info["domain"] = dom
        if rec is None or rec.get("revoked") or rec["domain"] != root_domain(dom):
            return jerr(401, AUTH_FAILED)
        jwt = "eyJhbGciOiJSUzI1NiJ9." + secrets.token_urlsafe(24) + "." + secrets.token_urlsafe(16)
        with self.knob_lock:
            ttl = self.token_ttl
        with self.store.lock:
            self.store.jwts[token_hash(jwt)] = {"domain": rec["domain"], "rt": h,
                                                "expires": self.now() + ttl}
        self.save()
        return Resp(200, {"jwt": jwt, "duration": ttl, "token_type": "Bearer",
                          "refresh_token_id": rec["id"]})

    def bearer(self, headers):
        """-> (record, None) or (None, Resp)."""
        h = headers.get("Authorization")
        if not h:
            return None, Resp(401, text=TOKEN_MISSING)
        kind, _, tok = h.partition(" ")
        with self.store.lock:
            rec = self.store.jwts.get(token_hash(tok)) if kind == "Bearer" else None
            if rec is None or self.now() >= rec["expires"]:
                return None, Resp(401, text=TOKEN_INVALID)
            return dict(rec), None

    # -- secrets ---------------------------------------------------------
    def find(self, dom, key, by_name):
        space = self.store.secrets.get(dom, {})
        if by_name:
            return space.get(key)
        for s in space.values():
            if s["id"] == key:
                return s
        return None

    def new_secret(self, dom, name, dtype, material):
        t = rfc3339(time.time())
        sid = uuid.uuid4().hex + uuid.uuid4().hex
        return {"id": sid, "uri": "kylo:kylo:vault:secrets:%s-%s" % (name, sid[:8]),
                "account": "kylo:kylo:admin:accounts:kylo", "application": "ncryptify:gemalto:admin:apps:kylo",
                "devAccount": "ncryptify:gemalto:admin:accounts:gemalto", "name": name,
                "dataType": dtype, "createdAt": t, "updatedAt": t, "material": material,
                "domain": dom}

    @staticmethod
    def public(s):
        return {k: v for k, v in s.items() if k not in ("material", "domain")}

    def vault(self, method, path, query, headers, body, info):
        rec, bad = self.bearer(headers)
        if bad:
            return bad
        dom = rec["domain"]
        info["domain"] = dom
        rest = path[len("/api/v1/vault/secrets"):]
        if rest == "" and method == "POST":
            return self.create(dom, body, rec)
        if rest == "" and method == "GET":
            return self.list(dom, query, rec, info)
        m = re.match(r"^/([^/]+)(/export)?$", rest)
        if not m:
            return Resp(404, text="404 page not found")
        key = urllib.parse.unquote(m.group(1))
        by_name = query.get("type", [""])[0] == "name"
        if m.group(2) and method == "POST":
            d = self.denied("export", key, rec["rt"])
            if d:
                return d
            with self.store.lock:
                s = self.find(dom, key, by_name)
                if s is None:
                    return jerr(404, NOT_FOUND)
                return Resp(200, {"id": s["id"], "name": s["name"], "dataType": s["dataType"],
                                  "material": s["material"]})
        if not m.group(2) and method == "DELETE":
            d = self.denied("delete", key, rec["rt"])
            if d:
                return d
            with self.store.lock:
                s = self.find(dom, key, by_name)
                if s is None:
                    return jerr(404, NOT_FOUND)
                del self.store.secrets[dom][s["name"]]
            self.save()
            return Resp(204)
        if not m.group(2) and method == "GET":
            with self.store.lock:
                s = self.find(dom, key, by_name)
                return jerr(404, NOT_FOUND) if s is None else Resp(200, self.public(s))
        return Resp(405, text="method not allowed")

    def create(self, dom, body, rec):
        try:
            req = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: invalid JSON body"})
        if not isinstance(req, dict):
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: invalid JSON body"})
        for f in ("name", "dataType", "material"):
            if not isinstance(req.get(f), str) or not req[f]:
                return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: %s is required" % f})
        if self.args.strict_hex and req["dataType"] == "seed" and not HEX_RE.match(req["material"]):
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: material must be "
                                                      "hex-encoded for dataType seed"})
        d = self.denied("create", req["name"], rec["rt"])
        if d:
            return d
        with self.store.lock:
            space = self.store.secrets.setdefault(dom, {})
            if req["name"] in space:
                return jerr(409, CONFLICT)
            s = self.new_secret(dom, req["name"], req["dataType"], req["material"])
            space[req["name"]] = s
        self.save()
        return Resp(201, self.public(s))

    def list(self, dom, query, rec, info):
        d = self.denied("list", None, rec["rt"])
        if d:
            return d
        try:
            limit = int(query.get("limit", ["10"])[0])
            skip = int(query.get("skip", ["0"])[0])
        except ValueError:
            return jerr(400, {"code": 15, "codeDesc": "NCERRInvalidParamValue: limit and skip are "
                                                      "integers"})
        limit = max(0, min(limit, 1000))
        with self.store.lock:
            items = list(self.store.secrets.get(dom, {}).values())
        page = [self.public(s) for s in items[skip:skip + limit]]
        out = {"skip": skip, "limit": limit, "total": len(items), "resources": page}
        rule = info.get("list_rule")
        if rule:
            out["skip"] += int(rule.get("skip_delta", 0))
            out["total"] += int(rule.get("total_delta", 0))
            if rule.get("empty"):
                out["resources"] = []
        return Resp(200, out)

    def handle(self, method, path, query, headers, body, info):
        if path == "/" and method in ("GET", "HEAD"):
            return Resp(200, text="<!doctype html><title>CipherTrust Manager (test double)</title>\n",
                        ctype="text/html; charset=utf-8")
        if path == "/api/v1/auth/tokens":
            if method != "POST":
                return Resp(405, text="method not allowed")
            return self.auth(body, info)
        if path == "/api/v1/vault/secrets" or path.startswith("/api/v1/vault/secrets/"):
            return self.vault(method, path, query, headers, body, info)
        return Resp(404, text="404 page not found")


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


class _Sink:
    closed = False

    def write(self, b):
        return len(b)

    def flush(self):
        pass

    def close(self):
        pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ciphertrust-double"
    sys_version = ""

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_ct
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        pass

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            return None
        return self.rfile.read(n) if n else b""

    def abort(self, rst=True):
        try:
            if rst:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass
        self.wfile = _Sink()

    def send(self, resp, truncate=False):
        body = resp.body()
        self.send_response(resp.status)
        ct = resp.content_type()
        if ct and resp.status != 204:
            self.send_header("Content-Type", ct)
        if resp.status != 204:
            self.send_header("Content-Length", str(len(body)))
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        if truncate:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.abort(rst=False)
            return
        if body:
            self.wfile.write(body)

    def handle_ct(self):
        c = self.server.ct
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        body = self.read_body()
        info = {"client_cert": bool(self.connection.getpeercert())}
        with c.knob_lock:
            c.req_seq += 1
            c.counters["requests"] += 1
            hdrs = {}
            for k, v in self.headers.items():
                if k.lower() == "authorization":
                    v = v.split(" ", 1)[0] + " <redacted>"
                hdrs[k] = v
            entry = {"seq": c.req_seq, "time": time.time(), "method": self.command, "path": path,
                     "query": url.query, "headers": hdrs, "body": redact_body(body) if body else None,
                     "status": None, "domain": None, "client_cert": info["client_cert"]}
            c.requests.append(entry)
            if len(c.requests) > 20000:
                del c.requests[:5000]
        status = None
        try:
            rule = c.take_fault(self.command, path)
            ms = c.latency_for(path)
            if rule and rule["action"] == "delay":
                ms += int(rule.get("delay_ms", 0))
            if ms:
                time.sleep(ms / 1000.0)
            if rule and rule["action"] == "drop":
                status = "dropped"
                self.abort()
                return
            if rule and rule["action"] == "list":
                info["list_rule"] = rule
            if rule and (rule["action"] == "status" or
                         (rule["action"] == "truncate" and "body" in rule)):
                st = int(rule["status"])
                b = rule.get("body")
                if b is None:
                    resp = Resp(st) if st == 204 else jerr(st, FAULT_JSON.get(
                        st, {"code": 1, "codeDesc": "NCERRInternal: injected fault"}))
                elif isinstance(b, str):
                    resp = Resp(st, text=b, ctype=rule.get("content_type"))
                else:
                    resp = Resp(st, b, ctype=rule.get("content_type"))
            elif body is None:
                resp = Resp(413, text="request body too large")
                self.close_connection = True
            else:
                try:
                    resp = c.handle(self.command, path, query, self.headers, body, info)
                except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
                    c.log("internal error on %s %s: %s" % (self.command, path, type(e).__name__))
                    resp = jerr(500, FAULT_JSON[500])
            status = resp.status
            entry["domain"] = info.get("domain")
            trunc = bool(rule and rule["action"] == "truncate")
            self.send(resp, trunc)
            if trunc:
                status = "truncate(%s)" % status
        except (ConnectionError, ssl.SSLError, OSError) as e:
            status = status or "io-error:%s" % type(e).__name__
            self.close_connection = True
        finally:
            entry["status"] = status
            c.log("%s %s %s %dms" % (self.command, path + ("?" + url.query if url.query else ""),
                                     status, (time.monotonic() - t0) * 1000))


def _bind_no_fqdn(server):
    socketserver.TCPServer.server_bind(server)
    server.server_name, server.server_port = server.server_address[:2]


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, ct, ctx):
        self.ct = ct
        self.ctx = ctx
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, Handler)

    def server_bind(self):
        _bind_no_fqdn(self)

    def finish_request(self, request, client_address):
        c = self.ct
        with self.conns_lock:
            self.conns.add(request)
        try:
            if c.take_tls_fail():
                try:
                    request.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    request.recv(1)
                except OSError:
                    pass
                c.log("tls handshake failed (injected) from %s" % client_address[0])
                return
            request.settimeout(10)
            try:
                tls = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                c.log("tls handshake failed from %s: %s" % (
                    client_address[0], getattr(e, "reason", None) or type(e).__name__))
                return
            with self.conns_lock:
                self.conns.add(tls)
            tls.settimeout(300)
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
        self.ct.log("connection error from %s: %s" % (client_address[0], sys.exc_info()[1]))

    def drop_all(self):
        with self.conns_lock:
            conns = list(self.conns)
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


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

    def dispatch(self):
        d = self.server.double
        c = d.ct
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        want = d.args.control_token
        if want and not hmac.compare_digest((self.headers.get("X-Control-Token") or "").encode(),
                                            want.encode()):
            self.reply(403, {"ok": False, "error": "control token required"})
            return
        url = urllib.parse.urlsplit(self.path)
        try:
            body = json.loads(raw.decode()) if raw.strip() else {}
            res = self.route(d, c, url.path.rstrip("/"), urllib.parse.parse_qs(url.query), body)
            self.reply(200, dict({"ok": True}, **(res or {})))
            c.log("control %s %s 200" % (self.command, url.path))
        except (ValueError, KeyError, TypeError) as e:
            self.reply(400, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
            c.log("control %s %s 400" % (self.command, url.path))
        if url.path.startswith("/shutdown"):
            threading.Thread(target=d.shutdown, daemon=True).start()

    def route(self, d, c, p, q, b):
        if p == "/state":
            with c.knob_lock:
                return {"latency_ms": c.latency_ms, "path_latency": dict(c.path_latency),
                        "token_ttl": c.token_ttl, "clock_offset": c.clock_offset,
                        "faults": list(c.faults), "tls_fail": c.tls_fail, "denies": list(c.denies),
                        "counters": dict(c.counters), "port": d.port, "control_port": d.control_port,
                        "persist_error": c.persist_error, "jwts": len(c.store.jwts),
                        "secrets": sum(len(v) for v in c.store.secrets.values())}
        if p == "/requests":
            with c.knob_lock:
                return {"requests": list(c.requests)}
        if p == "/requests/clear":
            with c.knob_lock:
                c.requests = []
            return None
        if p == "/latency":
            with c.knob_lock:
                if "ms" in b:
                    c.latency_ms = int(b["ms"])
                if "paths" in b:
                    c.path_latency = {k: int(x) for k, x in b["paths"].items()}
            return None
        if p == "/tokens":
            with c.knob_lock:
                c.token_ttl = int(b["ttl"])
            return None
        if p == "/tokens/expire":
            with c.store.lock:
                for rec in c.store.jwts.values():
                    rec["expires"] = c.now() - 1
                n = len(c.store.jwts)
            c.save()
            return {"jwts": n}
        if p == "/refresh-tokens":
            h = token_hash(str(b["token"]))
            with c.store.lock:
                if b.get("remove"):
                    for table in (c.store.refresh, c.cli_refresh):
                        if h in table:
                            table[h]["revoked"] = True
                    c.store.refresh.setdefault(h, {"domain": "", "id": "rt-" + h[:12]})["revoked"] = True
                else:
                    c.store.refresh[h] = {"domain": root_domain(b.get("domain")), "id": "rt-" + h[:12],
                                          "revoked": False}
            c.save()
            return None
        if p == "/clock":
            with c.knob_lock:
                if "offset" in b:
                    c.clock_offset = float(b["offset"])
                c.clock_offset += float(b.get("advance", 0))
                return {"offset": c.clock_offset}
        if p == "/deny":
            with c.knob_lock:
                if b.get("clear"):
                    c.denies = []
                    return None
                if b["op"] not in ("create", "export", "delete", "list"):
                    raise ValueError("unknown op")
                r = {"op": b["op"], "status": int(b.get("status", 404)), "name": b.get("name"),
                     "text": bool(b.get("text"))}
                if b.get("refresh_token"):
                    r["rt_hash"] = token_hash(b["refresh_token"])
                c.denies.append(r)
            return None
        if p == "/fault":
            return {"id": c.add_fault(b)}
        if p == "/faults/clear":
            with c.knob_lock:
                c.faults = []
                c.tls_fail = 0
            return None
        if p == "/secrets":
            dom = root_domain((q.get("domain") or [b.get("domain")])[0])
            if self.command == "GET":
                with c.store.lock:
                    return {"secrets": [dict(s) for s in c.store.secrets.get(dom, {}).values()]}
            with c.store.lock:
                space = c.store.secrets.setdefault(dom, {})
                if b.get("remove"):
                    space.pop(b["name"], None)
                else:
                    space[b["name"]] = c.new_secret(dom, str(b["name"]), b.get("dataType", "seed"),
                                                    str(b["material"]))
            c.save()
            return None
        if p == "/restart":
            if b.get("async"):
                threading.Thread(target=d.restart, args=(int(b.get("down_ms", 0)),), daemon=True).start()
            else:
                d.restart(int(b.get("down_ms", 0)))
            return None
        if p == "/shutdown":
            return None
        raise KeyError("unknown control path %s" % p)


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        _bind_no_fqdn(self)


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


class Double:
    def __init__(self, args):
        self.args = args
        self.ct = CipherTrust(args)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(args.cert, args.key)
        ctx.set_alpn_protocols(["http/1.1"])
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        self.ctx = ctx
        self.host, self.port = split_addr(args.addr)
        self.restart_lock = threading.Lock()
        self.stopped = threading.Event()
        self.start_tls()
        ch, cp = split_addr(args.control)
        self.control = ControlServer((ch, cp), ControlHandler)
        self.control.double = self
        self.control_port = self.control.server_address[1]
        threading.Thread(target=self.control.serve_forever, daemon=True, name="control").start()

    def start_tls(self):
        self.server = TLSServer((self.host, self.port), self.ct, self.ctx)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True, name="tls").start()

    def restart(self, down_ms=0):
        with self.restart_lock:
            c = self.ct
            c.log("restart: going down for %d ms" % down_ms)
            self.server.shutdown()
            self.server.server_close()
            self.server.drop_all()
            c.save()
            if self.args.state and os.path.exists(self.args.state):
                c.store.load(self.args.state)
            with c.knob_lock:
                c.faults = []
                c.tls_fail = 0
            time.sleep(down_ms / 1000.0)
            for _ in range(100):
                try:
                    self.start_tls()
                    break
                except OSError:
                    time.sleep(0.05)
            c.log("restart: listening again on port %d" % self.port)

    def shutdown(self):
        self.ct.save()
        self.stopped.set()


def main(argv=None):
    parent = os.getppid()
    ap = argparse.ArgumentParser(description="CipherTrust Manager test double (see module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca")
    ap.add_argument("--state")
    ap.add_argument("--no-fsync", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--control-port-file")
    ap.add_argument("--control-token")
    ap.add_argument("--exit-with-parent", action="store_true")
    ap.add_argument("--log")
    ap.add_argument("--refresh-token", action="append", default=[], metavar="RT[:DOMAIN]")
    ap.add_argument("--token-ttl", type=int, default=300)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--path-latency", action="append", default=[], metavar="PAT=MS")
    ap.add_argument("--fail", action="append", default=[], metavar="STATUS:COUNT[:PAT]")
    ap.add_argument("--drop", action="append", default=[], metavar="COUNT[:PAT]")
    ap.add_argument("--strict-hex", action="store_true")
    args = ap.parse_args(argv)
    if split_addr(args.control)[0] not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--control must be a loopback address")

    d = Double(args)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: d.stopped.set())
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % d.port, False)
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % d.control_port, False)
    try:
        print("ciphertrust-double port=%d control=%d" % (d.port, d.control_port), flush=True)
    except OSError:
        pass
    d.ct.log("listening on %s:%d (%s), control on 127.0.0.1:%d" % (
        d.host, d.port, "mutual TLS" if args.client_ca else "TLS", d.control_port))
    while not d.stopped.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            d.ct.log("parent %d went away" % parent)
            break
    d.ct.save()
    d.ct.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
