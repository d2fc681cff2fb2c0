"""vendor_double_http.py -- the HTTP plumbing of two TEST DOUBLES of keyward's
tests, tests/doubles/fortanix_double.py (Fortanix DSM) and
tests/doubles/entrust_double.py (Entrust KeyControl): a TLS listener that
records every request, injects faults and latency, and a plain-HTTP control
port on 127.0.0.1.  What a service answers is each double's own (its
handle()); nothing here is a real service.  Python 3 standard library only.

A double is an App: it answers handle(method, path, query, headers, body,
info) with a Resp, err(status, text) with its error shape, control(command,
path, body, query) for its own control paths, and names the headers and
body fields its request log must not show.

Common control paths: GET /requests (seq, time, method, path, query,
headers, body, status), POST /requests/clear, POST /latency {"ms":N,
"paths":{"PAT":MS}}, POST /fault rule, POST /faults/clear, POST /shutdown.
Fault rule: {"path":PAT?, "method":M?, "skip":K, "count":N (default 1, -1 =
forever), "action": "status" (answer "status" with "body": a string sent as
text/plain, or a JSON value sent as application/json; none: the double's
own error) | "drop" (close without an answer) | "truncate" (half the body,
then close) | "delay" ("delay_ms", then answer normally) | one the App
lists in extra_actions (passed to handle() in info["rule"])}.  PAT matches
the path without the query, exactly or as a prefix when it ends in "*".
"""

import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

MAX_BODY = 1 << 20


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


class App:
    """The knobs every double has; a double subclasses it."""

    name = "double"
    redacted_headers = ()        # lower-case names: value "<scheme> <redacted>"
    redacted_fields = ()         # top-level JSON body fields
    extra_actions = ()

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.latency_ms = 0
        self.path_latency = {}
        self.faults = []
        self.requests = []
        self.seq = 0
        self.logf = open(args.log, "a") if args.log else sys.stderr

    def log(self, line):
        try:
            self.logf.write("%s: %s\n" % (self.name, line))
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

    def redact_header(self, name, value):
        if name.lower() in self.redacted_headers:
            parts = value.split(" ", 1)
            return parts[0] + " <redacted>" if len(parts) == 2 else "<redacted>"
        return value

    def redact_body(self, body):
        if not body:
            return None
        try:
            obj = json.loads(body.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            return "<%d bytes, not JSON>" % len(body)
        if isinstance(obj, dict):
            for k in self.redacted_fields:
                if k in obj:
                    obj[k] = "<redacted>"
        return json.dumps(obj, separators=(",", ":"))

    def err(self, status, text):
        raise NotImplementedError

    def handle(self, method, path, query, headers, body, info):
        raise NotImplementedError

    def control(self, command, p, b, q):
        raise KeyError("unknown control path %s" % p)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    sys_version = ""

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def version_string(self):
        return self.server.app.name

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

    def answer(self, c, rule, n, path, query, body, info):
        action = rule.get("action", "status") if rule else None
        if action == "status":
            st = int(rule.get("status", 500))
            b = rule.get("body")
            if b is None:
                return c.err(st, "injected fault")
            if isinstance(b, str):
                return Resp(st, text=b, ctype=rule.get("content_type"))
            return Resp(st, b, ctype=rule.get("content_type"))
        if n > MAX_BODY:
            self.close_connection = True
            return c.err(413, "request body too large")
        if action in c.extra_actions:
            info["rule"] = rule
        try:
            return c.handle(self.command, path, query, self.headers, body, info)
        except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
            c.log("internal error on %s %s: %s" % (self.command, path, type(e).__name__))
            return c.err(500, "internal error")

    def serve(self):
        c = self.server.app
        t0 = time.monotonic()
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
        hdrs = {k: c.redact_header(k, v) for k, v in self.headers.items()}
        with c.lock:
            c.seq += 1
            entry = {"seq": c.seq, "time": time.time(), "method": self.command, "path": path,
                     "query": url.query, "headers": hdrs, "body": c.redact_body(body), "status": None}
            c.requests.append(entry)
            if len(c.requests) > 20000:
                del c.requests[:5000]
        status = None
        try:
            rule = c.take_fault(self.command, path)
            ms = c.latency_for(path)
            if rule and rule.get("action") == "delay":
                ms += int(rule.get("delay_ms", 0))
            if ms:
                time.sleep(ms / 1000.0)
            if rule and rule.get("action") == "drop":
                status = "dropped"
                self.abort()
                return
            resp = self.answer(c, rule, n, path, query, body, {})
            status = resp.status
            self.send(resp, bool(rule and rule.get("action") == "truncate"))
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

    def __init__(self, addr, app, ctx):
        self.app = app
        self.ctx = ctx
        super().__init__(addr, Handler)

    def server_bind(self):
        _bind(self)

    def finish_request(self, request, client_address):
        request.settimeout(10)
        try:
            tls = self.ctx.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.app.log("tls handshake failed: %s" % (getattr(e, "reason", None) or type(e).__name__))
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
        self.app.log("connection error: %s" % (sys.exc_info()[1],))


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
        c = self.server.app
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        url = urllib.parse.urlsplit(self.path)
        p = url.path.rstrip("/")
        try:
            b = json.loads(raw.decode()) if raw.strip() else {}
            with c.lock:
                res = self.route(c, p, b, urllib.parse.parse_qs(url.query))
            self.reply(200, dict({"ok": True}, **(res or {})))
        except (ValueError, KeyError, TypeError) as e:
            self.reply(400, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)})
        if p == "/shutdown":
            self.server.stopped.set()

    def route(self, c, p, b, q):
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
        if p == "/fault":
            if b.get("action", "status") not in ("status", "drop", "truncate", "delay") + tuple(c.extra_actions):
                raise ValueError("unknown action")
            c.faults.append(dict(b))
            return None
        if p == "/faults/clear":
            c.faults = []
            return None
        if p == "/shutdown":
            return None
        return c.control(self.command, p, b, q)


class ControlServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        _bind(self)


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def add_common_args(ap):
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--control-port-file")
    ap.add_argument("--exit-with-parent", action="store_true")
    ap.add_argument("--log")


def run(ap, args, app):
    """Serve app until SIGTERM/SIGINT, POST /shutdown or (with
    --exit-with-parent) the parent's end."""
    parent = os.getppid()
    if split_addr(args.control)[0] not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--control must be a loopback address")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    srv = TLSServer(split_addr(args.addr), app, ctx)
    ctl = ControlServer(split_addr(args.control), ControlHandler)
    ctl.app = app
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
    app.log("listening on port %d, control on 127.0.0.1:%d" % (port, cport))
    while not ctl.stopped.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    app.log("exit")
    return 0
