#!/usr/bin/env python3
"""fortanix_double.py -- a TEST DOUBLE of Fortanix DSM (formerly SDKMS) for
keyward's tests.

This is NOT Fortanix DSM.  DSM is a commercial service that cannot run on the
machines keyward is tested on, and no official Fortanix client installs here
(neither from Debian nor from npm; shared/spec/keystores-cloud-and-legacy-
config.md §6.1, §6.7), so keyward's Fortanix key store (KES's
`keystore.fortanix.sdkms`) is tested against this double.  It reproduces the
part of the DSM REST API that KES and keyward use, with the paths, status
codes and bodies written down in that spec's §4.3-§4.5 and the checklist of
§6.6 (which cite Fortanix's published API: ImportSobject PUT /crypto/v1/keys,
ExportSobject POST /crypto/v1/keys/export, DeleteSobject DELETE
/crypto/v1/keys/{kid} -> 204, ListSobjects GET /crypto/v1/keys, health,
session auth and terminate).  tests/doubles/test_fortanix_double.py checks it
against every request/response example quoted there, byte for byte where the
spec gives bytes (the two error texts "sobject already exists" and "sobject
does not exist", the create body's fields), so that the double cannot drift
with keyward.  Python 3 standard library only; it fetches nothing.

Run
---
    python3 tests/doubles/fortanix_double.py --addr 127.0.0.1:0 \\
        --cert server.pem --key server.key --api-key KEY [--api-key K2] \\
        [--group GID] [--port-file F] [--control-port-file F2] [--log FILE]

It writes its TLS port (and its control port) followed by a newline to
--port-file (--control-port-file) atomically once both listen.  SIGTERM or
SIGINT exit 0; --exit-with-parent makes it exit when its parent dies.

What it implements
------------------
* HTTP/1.1 over TLS >= 1.2 with its own CA (a client trusts only tls.ca).
* Every /sys/v1/session/auth and /crypto/v1/* call needs
  "Authorization: Basic <API key>" with a configured key, exactly (DSM API
  keys are already base64 of "<app uuid>:<secret>"): otherwise 401 text
  "authentication required" (the double's text).
  /sys/v1/session/terminate needs "Authorization: Bearer <session token>"
  of a live session: otherwise 401.
* GET /sys/v1/health -> 204, no auth.
* POST /sys/v1/session/auth -> 200 {"token_type":"Bearer","expires_in":
  <--token-ttl>,"access_token":<opaque>,"entity_id":<app uuid>}.
* POST /sys/v1/session/terminate -> 204.
* PUT /crypto/v1/keys {"obj_type","name","group_id"?,"key_ops"?,"value",
  "enabled"?}: obj_type must be a DSM object type, value padded standard
  base64, name non-empty; a taken name -> 409 text "sobject already exists";
  an unknown group_id -> 404 text "group does not exist" (the double's
  text); no group_id: the app's default group (the first --group).
  -> 201 with the Sobject {"kid","name","obj_type","key_ops","enabled",
  "group_id","acct_id","creator","created_at","lastused_at","value"?}.
* POST /crypto/v1/keys/export {"name"} or {"kid"}: unknown -> 404 text
  "sobject does not exist"; an object without EXPORT in key_ops -> 403 text
  "operation not allowed: EXPORT" (the double's text) -> 200 the Sobject
  with "value" (base64), "enabled", "kid".
* DELETE /crypto/v1/keys/<kid> -> 204; unknown -> 404 "sobject does not
  exist".
* GET /crypto/v1/keys?sort=name:asc|name:desc&limit=N&start=S&offset=O -> a
  JSON array of Sobjects without values, sorted by name (bytewise), from S
  on (S itself included: the double's reading of "start"), at most N
  (default 100, at most 1000).
* GET / (the bare endpoint, KES's Status) -> 200 text/html, no auth; any
  other path -> 404 text "not found".
* Error bodies are text/plain by default; with --json-errors (or POST
  /json-errors {"on":true}) they are application/json {"message":<text>}.

Knobs -- control port (plain HTTP, 127.0.0.1 only)
---------------------------------------------------
GET  /requests          request log: seq, time, method, path, query, headers
                        (Authorization "<scheme> <redacted>"), body (value
                        "<redacted>"), status
POST /requests/clear
POST /latency {"ms":N,"paths":{"PAT":MS}}
POST /api-keys {"key","remove"?}
POST /json-errors {"on":bool}
POST /objects {"name","value"(base64),"enabled"?,"key_ops"?,"group_id"?}
                        plant an object; {"name","remove":true} drops it
GET  /objects           every object with its value
POST /fault rule;  POST /faults/clear
POST /shutdown
Fault rule: {"path":PAT?, "method":M?, "skip":K, "count":N (default 1, -1 =
forever), "action": "status" (answer "status" with "body": a string sent as
text/plain, or a JSON value sent as application/json) | "drop" (close
without an answer) | "truncate" (half the body, then close) | "delay"
("delay_ms", then answer normally) | "list" (ignore start= and answer the
first page)}.  PAT matches the path without the query, exactly or as a
prefix when it ends in "*".
"""

import argparse
import base64
import binascii
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

MAX_BODY = 1 << 20
EXISTS = "sobject already exists"
MISSING = "sobject does not exist"
OBJ_TYPES = ("AES", "DES", "DES3", "RSA", "DSA", "EC", "KCDSA", "ECKCDSA", "BIP32", "BLS",
             "OPAQUE", "HMAC", "SECRET", "CERTIFICATE", "ARIA", "SEED", "LMS")
KEY_OPS = ("SIGN", "VERIFY", "ENCRYPT", "DECRYPT", "WRAPKEY", "UNWRAPKEY", "DERIVEKEY",
           "MACGENERATE", "MACVERIFY", "EXPORT", "APPMANAGEABLE", "HIGHVOLUME", "AGREEKEY")
ACCT = "5c3e5d84-0000-4000-8000-00000000acc7"


def path_match(pat, path):
    if not pat:
        return True
    if pat.endswith("*"):
        return path.startswith(pat[:-1])
    return path == pat


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def stamp(t):
    # DSM's timestamps: "20170705T184409Z".
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


class Resp:
    def __init__(self, status, obj=None, text=None, ctype=None):
        self.status, self.obj, self.text, self.ctype = status, obj, text, ctype

    def body(self):
        if self.text is not None:
            return self.text.encode() if isinstance(self.text, str) else self.text
        if self.obj is None:
            return b""
        return json.dumps(self.obj, separators=(",", ":")).encode()

    def content_type(self):
        if self.ctype:
            return self.ctype
        if self.text is not None:
            return "text/plain; charset=utf-8"
        return "application/json" if self.obj is not None else None


class DSM:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.api_keys = set(args.api_key)
        self.groups = list(args.group) or ["7a3d9b2e-0000-4000-8000-00000000a001"]
        self.app = str(uuid.uuid4())
        self.objects = {}      # kid -> sobject (with "value")
        self.sessions = {}     # token -> expiry
        self.json_errors = args.json_errors
        self.token_ttl = args.token_ttl
        self.latency_ms = 0
        self.path_latency = {}
        self.faults = []
        self.requests = []
        self.seq = 0
        self.logf = open(args.log, "a") if args.log else sys.stderr

    def log(self, line):
        try:
            self.logf.write("fortanix-double: %s\n" % line)
            self.logf.flush()
        except (OSError, ValueError):
            pass

    def err(self, status, text):
        if self.json_errors:
            return Resp(status, {"message": text})
        return Resp(status, text=text)

    # -- knobs -----------------------------------------------------------
    def take_fault(self, method, path):
        with self.lock:
            for rule in self.faults:
                if rule.get("method") and rule["method"].upper() != method:
                    continue
                if not path_match(rule.get("path"), path):
                    continue
                if rule.get("skip", 0) > 0:
                    rule["skip"] -= 1
                    continue
                if rule.get("count", 1) == 0:
                    continue
                if rule.get("count", 1) > 0:
                    rule["count"] = rule.get("count", 1) - 1
                hit = dict(rule)
                self.faults = [r for r in self.faults if r.get("count", 1) != 0]
                return hit
        return None

    def latency_for(self, path):
        with self.lock:
            return self.latency_ms + sum(v for p, v in self.path_latency.items() if path_match(p, path))

    # -- the API ---------------------------------------------------------
    def basic_ok(self, headers):
        a = headers.get("Authorization") or ""
        if not a.startswith("Basic "):
            return False
        given = a[6:].encode("utf-8", "surrogateescape")
        return any(hmac.compare_digest(given, k.encode()) for k in self.api_keys)

    def by_name(self, name):
        for o in self.objects.values():
            if o["name"] == name:
                return o
        return None

    @staticmethod
    def public(o, value):
        d = {k: v for k, v in o.items() if k != "value"}
        if value:
            d["value"] = o["value"]
        return d

    def new_object(self, name, obj_type, value, ops, enabled, group):
        now = time.time()
        return {"kid": str(uuid.uuid4()), "name": name, "obj_type": obj_type, "key_ops": list(ops),
                "enabled": bool(enabled), "group_id": group, "acct_id": ACCT, "creator": {"app": self.app},
                "created_at": stamp(now), "lastused_at": "19700101T000000Z", "state": "Active",
                "value": value, "key_size": len(base64.b64decode(value)) * 8}

    def handle(self, method, path, query, headers, body, info):
        if path == "/" and method in ("GET", "HEAD"):
            return Resp(200, text="<!doctype html><title>Fortanix DSM (test double)</title>\n",
                        ctype="text/html; charset=utf-8")
        if path == "/sys/v1/health":
            return Resp(204) if method == "GET" else self.err(405, "method not allowed")
        if path == "/sys/v1/session/terminate":
            if method != "POST":
                return self.err(405, "method not allowed")
            a = headers.get("Authorization") or ""
            with self.lock:
                exp = self.sessions.pop(a[7:], None) if a.startswith("Bearer ") else None
            if exp is None or exp < time.time():
                return self.err(401, "invalid session token")
            return Resp(204)
        if path == "/sys/v1/session/auth" or path.startswith("/crypto/v1/"):
            if not self.basic_ok(headers):
                return self.err(401, "authentication required")
        if path == "/sys/v1/session/auth":
            if method != "POST":
                return self.err(405, "method not allowed")
            tok = secrets.token_urlsafe(48)
            with self.lock:
                self.sessions[tok] = time.time() + self.token_ttl
            return Resp(200, {"token_type": "Bearer", "expires_in": self.token_ttl, "access_token": tok,
                              "entity_id": self.app})
        if path == "/crypto/v1/keys":
            if method == "PUT":
                return self.create(body)
            if method == "GET":
                return self.list(query, info)
            return self.err(405, "method not allowed")
        if path == "/crypto/v1/keys/export":
            return self.export(body) if method == "POST" else self.err(405, "method not allowed")
        if path.startswith("/crypto/v1/keys/"):
            kid = path[len("/crypto/v1/keys/"):]
            if method != "DELETE":
                return self.err(405, "method not allowed")
            with self.lock:
                if self.objects.pop(kid, None) is None:
                    return self.err(404, MISSING)
            return Resp(204)
        return self.err(404, "not found")

    def decode(self, body):
        try:
            d = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return None
        return d if isinstance(d, dict) else None

    def create(self, body):
        d = self.decode(body)
        if d is None:
            return self.err(400, "invalid JSON in request body")
        name, obj_type, value = d.get("name"), d.get("obj_type"), d.get("value")
        ops = d.get("key_ops", ["EXPORT", "APPMANAGEABLE"])
        if not isinstance(name, str) or not name:
            return self.err(400, "missing field `name`")
        if obj_type not in OBJ_TYPES:
            return self.err(400, "unknown variant `%s`" % obj_type)
        if not isinstance(value, str):
            return self.err(400, "missing field `value`")
        try:
            base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            return self.err(400, "invalid base64 in `value`")
        if not isinstance(ops, list) or any(o not in KEY_OPS for o in ops):
            return self.err(400, "invalid `key_ops`")
        enabled = d.get("enabled", True)
        if not isinstance(enabled, bool):
            return self.err(400, "invalid `enabled`")
        group = d.get("group_id")
        if group is None:
            group = self.groups[0]
        elif group not in self.groups:
            return self.err(404, "group does not exist")
        with self.lock:
            if self.by_name(name) is not None:
                return self.err(409, EXISTS)
            o = self.new_object(name, obj_type, value, ops, enabled, group)
            self.objects[o["kid"]] = o
            return Resp(201, self.public(o, False))

    def export(self, body):
        d = self.decode(body)
        if d is None:
            return self.err(400, "invalid JSON in request body")
        with self.lock:
            if isinstance(d.get("kid"), str):
                o = self.objects.get(d["kid"])
            elif isinstance(d.get("name"), str):
                o = self.by_name(d["name"])
            else:
                return self.err(400, "sobject descriptor needs a kid or a name")
            if o is None:
                return self.err(404, MISSING)
            if "EXPORT" not in o["key_ops"]:
                return self.err(403, "operation not allowed: EXPORT")
            o["lastused_at"] = stamp(time.time())
            return Resp(200, self.public(o, True))

    def list(self, query, info):
        sort = (query.get("sort") or ["name:asc"])[0]
        if sort not in ("name:asc", "name:desc"):
            return self.err(400, "unsupported sort `%s`" % sort)
        try:
            limit = int((query.get("limit") or ["100"])[0])
            offset = int((query.get("offset") or ["0"])[0])
        except ValueError:
            return self.err(400, "invalid limit or offset")
        if limit < 1 or limit > 1000 or offset < 0:
            return self.err(400, "limit must be 1 to 1000")
        start = (query.get("start") or [None])[0]
        if info.get("ignore_start"):
            start = None
        desc = sort == "name:desc"
        with self.lock:
            objs = sorted(self.objects.values(), key=lambda o: o["name"].encode(), reverse=desc)
        if start is not None:
            sb = start.encode()
            objs = [o for o in objs if (o["name"].encode() <= sb if desc else o["name"].encode() >= sb)]
        return Resp(200, [self.public(o, False) for o in objs[offset:offset + limit]])


def redact_body(body):
    if not body:
        return None
    try:
        obj = json.loads(body.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return "<%d bytes, not JSON>" % len(body)
    if isinstance(obj, dict) and "value" in obj:
        obj["value"] = "<redacted>"
    return json.dumps(obj, separators=(",", ":"))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fortanix-double"
    sys_version = ""

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        pass

    def abort(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass
        self.close_connection = True

    def send(self, resp, truncate=False):
        body = resp.body()
        self.send_response(resp.status)
        ct = resp.content_type()
        if resp.status != 204:
            if ct:
                self.send_header("Content-Type", ct)
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD" or resp.status == 204:
            return
        if truncate:
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.abort()
            return
        self.wfile.write(body)

    def serve(self):
        c = self.server.dsm
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
        hdrs = {}
        for k, v in self.headers.items():
            if k.lower() == "authorization":
                v = v.split(" ", 1)[0] + " <redacted>"
            hdrs[k] = v
        with c.lock:
            c.seq += 1
            entry = {"seq": c.seq, "time": time.time(), "method": self.command, "path": path,
                     "query": url.query, "headers": hdrs, "body": redact_body(body), "status": None}
            c.requests.append(entry)
        info = {}
        status = None
        try:
            rule = c.take_fault(self.command, path)
            ms = c.latency_for(path)
            if rule and rule.get("action") == "delay":
                ms += int(rule.get("delay_ms", 0))
            if ms:
                time.sleep(ms / 1000.0)
            action = rule.get("action", "status") if rule else None
            if action == "drop":
                status = "dropped"
                self.abort()
                return
            if action == "list":
                info["ignore_start"] = True
            if action == "status":
                st = int(rule.get("status", 500))
                b = rule.get("body")
                if b is None:
                    resp = Resp(st) if st == 204 else c.err(st, "injected fault")
                elif isinstance(b, str):
                    resp = Resp(st, text=b, ctype=rule.get("content_type"))
                else:
                    resp = Resp(st, b, ctype=rule.get("content_type"))
            elif n > MAX_BODY:
                resp = c.err(413, "request body too large")
                self.close_connection = True
            else:
                try:
                    resp = c.handle(self.command, path, query, self.headers, body, info)
                except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
                    c.log("internal error on %s %s: %s" % (self.command, path, type(e).__name__))
                    resp = c.err(500, "internal error")
            status = resp.status
            self.send(resp, action == "truncate")
        except (ConnectionError, ssl.SSLError, OSError) as e:
            status = status or "io-error:%s" % type(e).__name__
            self.close_connection = True
        finally:
            entry["status"] = status
            c.log("%s %s %s %dms" % (self.command, path + ("?" + url.query if url.query else ""),
                                     status, (time.monotonic() - t0) * 1000))


def _bind(server):
    socketserver.TCPServer.server_bind(server)
    server.server_name, server.server_port = server.server_address[:2]


class TLSServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, dsm, ctx):
        self.dsm = dsm
        self.ctx = ctx
        super().__init__(addr, Handler)

    def server_bind(self):
        _bind(self)

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.dsm.log("tls handshake failed: %s" % (getattr(e, "reason", None) or type(e).__name__))
            return
        tls.settimeout(300)
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                tls.close()
            except OSError:
                pass

    def handle_error(self, request, client_address):
        self.dsm.log("connection error: %s" % (sys.exc_info()[1],))


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
        c = self.server.dsm
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        p = urllib.parse.urlsplit(self.path).path.rstrip("/")
        try:
            b = json.loads(raw.decode()) if raw.strip() else {}
            res = self.route(c, p, b)
            self.reply(200, dict({"ok": True}, **(res or {})))
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            self.reply(400, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
        if p == "/shutdown":
            self.server.stopped.set()

    def route(self, c, p, b):
        with c.lock:
            if p == "/requests":
                return {"requests": list(c.requests)}
            if p == "/requests/clear":
                c.requests = []
                return None
            if p == "/latency":
                if "ms" in b:
                    c.latency_ms = int(b["ms"])
                if "paths" in b:
                    c.path_latency = {k: int(v) for k, v in b["paths"].items()}
                return None
            if p == "/api-keys":
                if b.get("remove"):
                    c.api_keys.discard(b["key"])
                else:
                    c.api_keys.add(str(b["key"]))
                return None
            if p == "/json-errors":
                c.json_errors = bool(b["on"])
                return None
            if p == "/objects":
                if self.command == "GET":
                    return {"objects": [dict(o) for o in c.objects.values()]}
                old = c.by_name(b["name"])
                if old is not None:
                    del c.objects[old["kid"]]
                if b.get("remove"):
                    return None
                base64.b64decode(b["value"], validate=True)
                o = c.new_object(str(b["name"]), b.get("obj_type", "OPAQUE"), b["value"],
                                 b.get("key_ops", ["EXPORT", "APPMANAGEABLE"]), b.get("enabled", True),
                                 b.get("group_id", c.groups[0]))
                c.objects[o["kid"]] = o
                return {"kid": o["kid"]}
            if p == "/fault":
                if b.get("action", "status") not in ("status", "drop", "truncate", "delay", "list"):
                    raise ValueError("unknown action")
                c.faults.append(dict(b))
                return None
            if p == "/faults/clear":
                c.faults = []
                return None
            if p == "/shutdown":
                return None
        raise KeyError("unknown control path %s" % p)


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        _bind(self)


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv=None):
    parent = os.getppid()
    ap = argparse.ArgumentParser(description="Fortanix DSM test double (see the module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--api-key", action="append", default=[])
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("--token-ttl", type=int, default=600)
    ap.add_argument("--json-errors", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--control-port-file")
    ap.add_argument("--exit-with-parent", action="store_true")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    if split_addr(args.control)[0] not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--control must be a loopback address")

    dsm = DSM(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = TLSServer(split_addr(args.addr), dsm, ctx)
    ctl = ControlServer(split_addr(args.control), ControlHandler)
    ctl.dsm = dsm
    ctl.stopped = threading.Event()
    threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    threading.Thread(target=ctl.serve_forever, daemon=True).start()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: ctl.stopped.set())
    port, cport = srv.server_address[1], ctl.server_address[1]
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % port)
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % cport)
    dsm.log("listening on port %d, control on 127.0.0.1:%d" % (port, cport))
    while not ctl.stopped.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    dsm.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
