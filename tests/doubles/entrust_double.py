#!/usr/bin/env python3
"""entrust_double.py -- a TEST DOUBLE of Entrust KeyControl (its secrets
vault) for keyward's tests.

This is NOT Entrust KeyControl.  KeyControl is a commercial appliance that
cannot run on the machines keyward is tested on, and no official Entrust
client installs here (shared/spec/keystores-cloud-and-legacy-config.md §6.1,
§6.7), so keyward's Entrust key store (KES's `keystore.entrust.keycontrol`)
is tested against this double.  It reproduces the part of the KeyControl
vault API that KES and keyward use, with the paths, headers, bodies and
status codes written down in that spec's §5.3-§5.6 and the checklist of
§6.6 (corroborated there by Entrust's own client, EntrustCorporation/
Secrets-Vault-Action: the Login path and body, the X-Vault-Auth header,
CheckoutSecret's {box_id, secret_id} and secret_data).
tests/doubles/test_entrust_double.py checks it against every request and
answer example quoted there, byte for byte where the spec gives bytes (the
two error texts "Secret already exists" and "Secret not found", the
request bodies KES sends), so that the double cannot drift with keyward.
Python 3 standard library only; it fetches nothing.

Run
---
    python3 tests/doubles/entrust_double.py --addr 127.0.0.1:0 \\
        --cert server.pem --key server.key --vault VAULT_ID \\
        --user NAME:PASSWORD --box BOX [--token-ttl S] [--port-file F] \\
        [--control-port-file F2] [--log FILE]

It writes its TLS port (and its control port) followed by a newline to
--port-file (--control-port-file) atomically once both listen.  SIGTERM or
SIGINT exit 0; --exit-with-parent makes it exit when its parent dies.

What it implements
------------------
* HTTP/1.1 over TLS >= 1.2 with its own CA.  Every answer is
  application/json.
* POST /vault/1.0/Login/<vault_id>/ {"username","password"}: a known user
  of that vault -> 200 {"access_token":<opaque>,"expires_at":<RFC 3339,
  now + --token-ttl>,"user":...}; otherwise 401 {"error":"Invalid
  credentials"} (the double's text); an unknown vault 404 {"error":"Vault
  not found"}.
* Every other call needs X-Vault-Auth: <a live token>: otherwise 401
  {"error":"Invalid or expired token"} (the double's text).
* POST /vault/1.0/Renew/ (no body) -> 200 a fresh token, the old one
  revoked; an expired token -> 401 (a renewal cannot revive it).
* POST /vault/1.0/GetBox/ {"box_id"}: the box by name or id -> 200
  {"box_id","name","description","secret_count"}; unknown 404 {"error":
  "Box not found"}.
* POST /vault/1.0/CreateSecret/ {"box_id","name","secret_data"}: a taken
  name -> 409 {"error":"Secret already exists"} -> 200 {"secret_id",
  "name","box_id"}.  secret_data is stored as the text given.
* POST /vault/1.0/CheckoutSecret/ {"box_id","secret_id"} (name or id):
  missing -> 404 {"error":"Secret not found"} -> 200 {"secret_id","name",
  "secret_data"}.
* POST /vault/1.0/DeleteSecret/ {"box_id","secret_id"}: -> 200 {}, missing
  -> 404 {"error":"Secret not found"}.
* POST /vault/1.0/ListSecretIds/ {"box_id","max_items","next_token"?}: at
  most max_items (1-1000) secrets by name, {"secrets":[{"secret_id","name",
  "expired":bool}],"next_token":...}; next_token is base64 of
  {"box_id":...,"next_ctx":<the last name given>}, and absent after the
  last page; a next_token that does not decode -> 400 {"error":"Invalid
  next_token"}.
* A body that is not a JSON object, or a missing field -> 400 {"error":...}.

Knobs -- control port (plain HTTP, 127.0.0.1 only)
---------------------------------------------------
GET  /requests          request log: seq, time, method, path, query, headers
                        (X-Vault-Auth "<redacted>"), body (password and
                        secret_data "<redacted>"), status
POST /requests/clear
POST /latency {"ms":N,"paths":{"PAT":MS}}
POST /tokens {"ttl":S}  lifetime of tokens issued later
POST /tokens/expire {}  every token issued so far expires now
POST /users {"user","password","remove"?}
POST /secrets {"box","name","secret_data","expired"?}; {"box","name",
                        "remove":true} drops it
GET  /secrets?box=B     every secret of B with its data
POST /fault rule;  POST /faults/clear
POST /shutdown
Fault rule: {"path":PAT?, "skip":K, "count":N (default 1, -1 = forever),
"action": "status" (answer "status" with "body": a string sent as
text/plain, or a JSON value sent as application/json) | "drop" | "truncate"
| "delay" ("delay_ms")}.  PAT matches the path exactly or as a prefix when
it ends in "*".
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
EXISTS = "Secret already exists"
MISSING = "Secret not found"
SECRET_FIELDS = ("password", "secret_data")


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


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


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
        return "application/json"


def err(status, text):
    return Resp(status, {"error": text})


class KeyControl:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.vault = args.vault
        self.users = {}
        for u in args.user:
            name, _, pw = u.partition(":")
            self.users[name] = pw
        self.boxes = {}      # box id -> {"name", "secrets": {name: secret}}
        for b in args.box or ["tenant-1"]:
            self.boxes[str(uuid.uuid4())] = {"name": b, "secrets": {}}
        self.tokens = {}     # token -> expiry (wall clock)
        self.token_ttl = args.token_ttl
        self.latency_ms = 0
        self.path_latency = {}
        self.faults = []
        self.requests = []
        self.seq = 0
        self.logf = open(args.log, "a") if args.log else sys.stderr

    def log(self, line):
        try:
            self.logf.write("entrust-double: %s\n" % line)
            self.logf.flush()
        except (OSError, ValueError):
            pass

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

    def box(self, key):
        for bid, b in self.boxes.items():
            if key in (bid, b["name"]):
                return bid, b
        return None, None

    def issue(self):
        tok = secrets.token_urlsafe(40)
        exp = time.time() + self.token_ttl
        self.tokens[tok] = exp
        return {"access_token": tok, "expires_at": rfc3339(exp)}

    def token_ok(self, headers):
        tok = headers.get("X-Vault-Auth")
        with self.lock:
            exp = self.tokens.get(tok) if tok else None
        return tok if exp is not None and exp > time.time() else None

    @staticmethod
    def decode(body):
        try:
            d = json.loads(body.decode("utf-8")) if body else None
        except (ValueError, UnicodeDecodeError):
            return None
        return d if isinstance(d, dict) else None

    def handle(self, method, path, query, headers, body, info):
        if method != "POST":
            return err(405, "Method not allowed")
        if path.startswith("/vault/1.0/Login/"):
            vid = path[len("/vault/1.0/Login/"):].rstrip("/")
            if vid != self.vault:
                return err(404, "Vault not found")
            d = self.decode(body)
            if d is None or not isinstance(d.get("username"), str) or not isinstance(d.get("password"), str):
                return err(400, "username and password are required")
            pw = self.users.get(d["username"])
            if pw is None or not hmac.compare_digest(pw.encode(), d["password"].encode()):
                return err(401, "Invalid credentials")
            with self.lock:
                t = self.issue()
            t["user"] = d["username"]
            return Resp(200, t)
        tok = self.token_ok(headers)
        if tok is None:
            return err(401, "Invalid or expired token")
        if path == "/vault/1.0/Renew/":
            with self.lock:
                self.tokens.pop(tok, None)
                return Resp(200, self.issue())
        ops = {"/vault/1.0/GetBox/": self.get_box, "/vault/1.0/CreateSecret/": self.create,
               "/vault/1.0/CheckoutSecret/": self.checkout, "/vault/1.0/DeleteSecret/": self.delete,
               "/vault/1.0/ListSecretIds/": self.list}
        if path not in ops:
            return err(404, "Not found")
        d = self.decode(body)
        if d is None or not isinstance(d.get("box_id"), str):
            return err(400, "box_id is required")
        with self.lock:
            bid, b = self.box(d["box_id"])
            if b is None:
                return err(404, "Box not found")
            return ops[path](bid, b, d)

    def get_box(self, bid, b, d):
        return Resp(200, {"box_id": bid, "name": b["name"], "description": "test double box",
                          "secret_count": len(b["secrets"])})

    def create(self, bid, b, d):
        name, data = d.get("name"), d.get("secret_data")
        if not isinstance(name, str) or not name or not isinstance(data, str):
            return err(400, "name and secret_data are required")
        if name in b["secrets"]:
            return err(409, EXISTS)
        s = {"secret_id": str(uuid.uuid4()), "name": name, "secret_data": data, "expired": False}
        b["secrets"][name] = s
        return Resp(200, {"secret_id": s["secret_id"], "name": name, "box_id": bid})

    def find(self, b, sid):
        if sid in b["secrets"]:
            return b["secrets"][sid]
        for s in b["secrets"].values():
            if s["secret_id"] == sid:
                return s
        return None

    def checkout(self, bid, b, d):
        s = self.find(b, d.get("secret_id"))
        if s is None:
            return err(404, MISSING)
        return Resp(200, {"secret_id": s["secret_id"], "name": s["name"], "secret_data": s["secret_data"]})

    def delete(self, bid, b, d):
        s = self.find(b, d.get("secret_id"))
        if s is None:
            return err(404, MISSING)
        del b["secrets"][s["name"]]
        return Resp(200, {})

    def list(self, bid, b, d):
        n = d.get("max_items", 100)
        if not isinstance(n, int) or n < 1 or n > 1000:
            return err(400, "max_items must be 1 to 1000")
        after = None
        if d.get("next_token") is not None:
            try:
                ctx = json.loads(base64.b64decode(d["next_token"], validate=True).decode())
                after = ctx["next_ctx"]
                if ctx.get("box_id") != d["box_id"] or not isinstance(after, str):
                    raise ValueError
            except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
                return err(400, "Invalid next_token")
        names = sorted(b["secrets"])
        if after is not None:
            names = [x for x in names if x > after]
        page = names[:n]
        out = {"secrets": [{"secret_id": b["secrets"][x]["secret_id"], "name": x,
                            "expired": b["secrets"][x]["expired"]} for x in page]}
        if len(names) > n:
            out["next_token"] = base64.b64encode(json.dumps(
                {"box_id": d["box_id"], "next_ctx": page[-1]}, separators=(",", ":")).encode()).decode()
        return Resp(200, out)


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


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "entrust-double"
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
        c = self.server.kc
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
        hdrs = {}
        for k, v in self.headers.items():
            if k.lower() == "x-vault-auth":
                v = "<redacted>"
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
            if action == "status":
                st = int(rule.get("status", 500))
                b = rule.get("body")
                if b is None:
                    resp = err(st, "injected fault")
                elif isinstance(b, str):
                    resp = Resp(st, text=b, ctype=rule.get("content_type"))
                else:
                    resp = Resp(st, b, ctype=rule.get("content_type"))
            elif n > MAX_BODY:
                resp = err(413, "request body too large")
                self.close_connection = True
            else:
                try:
                    resp = c.handle(self.command, path, query, self.headers, body, info)
                except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
                    c.log("internal error on %s %s: %s" % (self.command, path, type(e).__name__))
                    resp = err(500, "internal error")
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

    def __init__(self, addr, kc, ctx):
        self.kc = kc
        self.ctx = ctx
        super().__init__(addr, Handler)

    def server_bind(self):
        _bind(self)

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.kc.log("tls handshake failed: %s" % (getattr(e, "reason", None) or type(e).__name__))
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
        self.kc.log("connection error: %s" % (sys.exc_info()[1],))


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
        c = self.server.kc
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        p = url.path.rstrip("/")
        try:
            b = json.loads(raw.decode()) if raw.strip() else {}
            res = self.route(c, p, b, urllib.parse.parse_qs(url.query))
            self.reply(200, dict({"ok": True}, **(res or {})))
        except (ValueError, KeyError, TypeError, binascii.Error) as e:
            self.reply(400, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
        if p == "/shutdown":
            self.server.stopped.set()

    def route(self, c, p, b, q):
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
            if p == "/tokens":
                c.token_ttl = int(b["ttl"])
                return None
            if p == "/tokens/expire":
                for t in c.tokens:
                    c.tokens[t] = time.time() - 1
                return {"tokens": len(c.tokens)}
            if p == "/users":
                if b.get("remove"):
                    c.users.pop(b["user"], None)
                else:
                    c.users[str(b["user"])] = str(b["password"])
                return None
            if p == "/secrets":
                if self.command == "GET":
                    box = (q.get("box") or [None])[0]
                    _, bx = c.box(box)
                    if bx is None:
                        raise KeyError("no box %s" % box)
                    return {"secrets": [dict(s) for s in bx["secrets"].values()]}
                _, bx = c.box(b["box"])
                if bx is None:
                    raise KeyError("no box %s" % b["box"])
                if b.get("remove"):
                    bx["secrets"].pop(b["name"], None)
                    return None
                old = bx["secrets"].get(b["name"])
                bx["secrets"][b["name"]] = {"secret_id": old["secret_id"] if old else str(uuid.uuid4()),
                                            "name": b["name"], "secret_data": str(b["secret_data"]),
                                            "expired": bool(b.get("expired", False))}
                return None
            if p == "/fault":
                if b.get("action", "status") not in ("status", "drop", "truncate", "delay"):
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
    ap = argparse.ArgumentParser(description="Entrust KeyControl test double (see the module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--vault", required=True)
    ap.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD")
    ap.add_argument("--box", action="append", default=[])
    ap.add_argument("--token-ttl", type=int, default=600)
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--control-port-file")
    ap.add_argument("--exit-with-parent", action="store_true")
    ap.add_argument("--log")
    args = ap.parse_args(argv)
    if split_addr(args.control)[0] not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--control must be a loopback address")

    kc = KeyControl(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = TLSServer(split_addr(args.addr), kc, ctx)
    ctl = ControlServer(split_addr(args.control), ControlHandler)
    ctl.kc = kc
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
    kc.log("listening on port %d, control on 127.0.0.1:%d" % (port, cport))
    while not ctl.stopped.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    kc.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
