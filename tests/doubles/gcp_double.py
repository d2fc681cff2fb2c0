#!/usr/bin/env python3
"""gcp_double.py -- a TEST DOUBLE of Google Cloud Secret Manager (REST v1),
Google's OAuth2 token endpoint and the GCE metadata server, for keyward's
tests.

This is NOT Google Cloud.  Secret Manager cannot run on the machines keyward
is tested on (no emulator exists, shared/spec/keystores-cloud-and-legacy-
config.md §6.1), so keyward's GCP store (KES's keystore.gcp.secretmanager) is
tested against this double.  It implements the service's documented
semantics (spec §2.3-§2.6 and the REST reference pages cited there), the
checklist of spec §6.4, and nothing keyward-specific.  Its self-test
tests/doubles/test_gcp_double.py pins it to those pages and drives it with
Google's own client library (python3-google-auth from Debian) so the double
cannot drift into agreeing with keyward's mistakes.  Python 3 standard
library only; it fetches nothing from the network.

Run
---
    python3 tests/doubles/gcp_double.py --cert server.pem --key server.key \\
        --service-account EMAIL=KEY.pem [--project my-project] \\
        [--project-number 123456789012] [--port-file F] \\
        [--control-port-file F2] [--metadata-port-file F3] [--log FILE] \\
        [--token-ttl 3599] [--page-size 25] [--exit-with-parent]

It writes its ports to the files once it listens: the TLS port serves the
API and the token endpoint (POST /token, so the token URL is
https://127.0.0.1:<port>/token); the metadata server is plain HTTP (as
GCE's is) on its own port; the control port is plain HTTP on 127.0.0.1.

What it implements
------------------
* POST /token (RFC 7523 JWT bearer grant, spec §2.3): form body,
  grant_type urn:ietf:params:oauth:grant-type:jwt-bearer; the assertion's
  RS256 signature is verified with the public half of the service
  account's key; iss must be a known service account, aud this endpoint's
  URL, scope must hold the cloud-platform scope, iat <= now + 60 s <= exp +
  120 s and exp - iat <= 3600.  200 {"access_token","expires_in",
  "token_type":"Bearer"}; errors 400 {"error":"invalid_grant" (or
  "unsupported_grant_type", "invalid_request"),"error_description":...}.
* Metadata server: GET /computeMetadata/v1/instance/service-accounts/
  default/token (or <email>/token) with Metadata-Flavor: Google -> the
  same token JSON, and .../service-accounts/default/?recursive=true -> {"aliases","email",
  "scopes"} (what Google's client libraries read first); without the
  header 403.
* Every /v1/ call needs Authorization: Bearer <a token it issued, not
  expired> -> else 401 UNAUTHENTICATED; another project -> 403
  PERMISSION_DENIED.  Errors are {"error":{"code","message","status"}}.
* POST /v1/projects/<p>/secrets?secretId=<id> {"replication":{...}}: id
  [A-Za-z0-9_-]{1,255} else 400 INVALID_ARGUMENT; no replication -> 400;
  taken -> 409 ALREADY_EXISTS; 200 Secret whose name carries the project
  NUMBER ("projects/123456789012/secrets/<id>").
* POST /v1/projects/<p>/secrets/<id>:addVersion {"payload":{"data":b64}}:
  unknown secret 404; payload of at most 64 KiB; versions 1, 2, ...;
  200 SecretVersion with state ENABLED.  (<p> may be the ID or the number.)
* GET .../secrets/<id>/versions/<n|latest>:access: 404 NOT_FOUND for a
  missing secret or version; disabled or destroyed -> 400
  FAILED_PRECONDITION; 200 {"name","payload":{"data","dataCrc32c"}}.
* DELETE .../secrets/<id> -> 200 {}; missing -> 404.
* GET .../secrets[?pageSize=&pageToken=]: sorted by creation, pageSize
  (default --page-size, at most 25000), opaque nextPageToken, totalSize;
  a token it did not issue -> 400 INVALID_ARGUMENT.
* GET / -> 404 (text/html), as Google's front end answers it.

Control port (plain HTTP, JSON): GET /requests, POST /requests/clear,
POST /fault {"path","method","status","count","body","action":"status"|
"drop"|"delay","delay_ms"} (path may end in '*'), POST /faults/clear,
POST /latency {"paths":{path:ms}}, POST /tokens {"ttl"}, POST
/tokens/expire, POST /switch {"addversion_fail":bool}, GET /secrets, POST
/secrets {"id","data"(base64)} (plant), POST /secrets/version {"id",
"version","state"}.  Secrets and tokens are kept in memory only.
"""

import argparse
import base64
import hashlib
import http.server
import json
import os
import re
import secrets as rnd
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time
import urllib.parse

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
CLOUD_PLATFORM = "https://www.googleapis.com/auth/cloud-platform"
METADATA_ACCOUNT = "/computeMetadata/v1/instance/service-accounts/default/"
METADATA_TOKEN = METADATA_ACCOUNT + "token"
ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,255}$")
MAX_BODY = 1 << 20
CODES = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
         404: "NOT_FOUND", 409: "ALREADY_EXISTS", 429: "RESOURCE_EXHAUSTED",
         500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

# --- RSA public keys and RS256 verification, standard library only ---


def _der(b, i):
    """One DER TLV at b[i:]: (tag, value, next index)."""
    tag = b[i]
    n = b[i + 1]
    i += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(b[i:i + k], "big")
        i += k
    return tag, b[i:i + n], i + n


def _seq(v):
    out, i = [], 0
    while i < len(v):
        t, x, i = _der(v, i)
        out.append((t, x))
    return out


def rsa_public_from_pem(pem):
    """(n, e) of an RSA private key in PEM (PKCS#8 or PKCS#1)."""
    lines = [ln for ln in pem.strip().splitlines() if not ln.startswith("-----")]
    der = base64.b64decode("".join(lines))
    _, top, _ = _der(der, 0)
    items = _seq(top)
    if len(items) >= 3 and items[1][0] == 0x30 and items[2][0] == 0x04:   # PKCS#8
        _, rsa, _ = _der(items[2][1], 0)
        items = _seq(rsa)
    return int.from_bytes(items[1][1], "big"), int.from_bytes(items[2][1], "big")


SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def rs256_verify(pub, signing_input, sig):
    n, e = pub
    k = (n.bit_length() + 7) // 8
    if len(sig) != k:
        return False
    m = pow(int.from_bytes(sig, "big"), e, n).to_bytes(k, "big")
    t = SHA256_PREFIX + hashlib.sha256(signing_input).digest()
    want = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
    return m == want


def b64url_decode(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


# --- CRC32C (Castagnoli), for dataCrc32c ---

_CRC = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    for x in data:
        c = _CRC[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class Resp:
    def __init__(self, status, obj=None, text=None, ctype="application/json; charset=UTF-8"):
        self.status, self.obj, self.text, self.ctype = status, obj, text, ctype

    def body(self):
        if self.text is not None:
            return self.text.encode()
        if self.obj is None:
            return b""
        return (json.dumps(self.obj, indent=2) + "\n").encode()


def gerr(status, msg, canon=None):
    return Resp(status, {"error": {"code": status, "message": msg, "status": canon or CODES.get(status, "UNKNOWN")}})


def oerr(err, desc, status=400):
    return Resp(status, {"error": err, "error_description": desc})


class Google:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.accounts = {}
        for spec in args.service_account:
            email, _, path = spec.partition("=")
            with open(path) as f:
                self.accounts[email] = rsa_public_from_pem(f.read())
        self.project, self.number = args.project, args.project_number
        self.token_ttl = args.token_ttl
        self.tokens = {}            # token -> {"expires", "who"}
        self.secrets = {}           # id -> {"created", "versions": [{"data","state","created"}]}
        self.seq = 0
        self.page_tokens = {}       # token -> offset
        self.requests, self.faults, self.latency = [], [], {}
        self.addversion_fail = False
        self.token_url = None
        self.logf = open(args.log, "a") if args.log else None

    def log(self, line):
        if self.logf:
            self.logf.write("%.3f %s\n" % (time.time(), line))
            self.logf.flush()

    # --- faults ---

    def take_fault(self, method, path):
        with self.lock:
            for r in self.faults:
                p = r.get("path", "*")
                if p.endswith("*") and not path.startswith(p[:-1]):
                    continue
                if not p.endswith("*") and p != path:
                    continue
                if r.get("method") and r["method"] != method:
                    continue
                if r["count"] == 0:
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                return dict(r)
        return None

    # --- OAuth2 ---

    def issue(self, who):
        tok = "ya29.double-" + rnd.token_hex(24)
        with self.lock:
            self.tokens[tok] = {"expires": time.time() + self.token_ttl, "who": who}
            ttl = self.token_ttl
        return Resp(200, {"access_token": tok, "expires_in": ttl, "token_type": "Bearer"})

    def token(self, headers, body):
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return oerr("invalid_request", "Content-Type must be application/x-www-form-urlencoded")
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
        if form.get("grant_type", [""])[0] != JWT_BEARER:
            return oerr("unsupported_grant_type", "Invalid grant_type: %s" % form.get("grant_type", [""])[0])
        jwt = form.get("assertion", [""])[0]
        parts = jwt.split(".")
        if len(parts) != 3:
            return oerr("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe")
        try:
            head = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            sig = b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            return oerr("invalid_grant", "Invalid JWT: not base64url JSON")
        if head.get("alg") != "RS256":
            return oerr("invalid_grant", "Invalid JWT: alg must be RS256")
        pub = self.accounts.get(claims.get("iss"))
        if pub is None:
            return oerr("invalid_grant", "Invalid grant: account not found")
        if not rs256_verify(pub, (parts[0] + "." + parts[1]).encode(), sig):
            return oerr("invalid_grant", "Invalid JWT Signature.")
        if claims.get("aud") != self.token_url:
            return oerr("invalid_grant", "Invalid JWT: Failed audience check. The right audience is %s" %
                        self.token_url)
        now = time.time()
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > 3600 or \
                exp - iat <= 0 or iat > now + 60 or exp < now - 120:
            return oerr("invalid_grant", "Invalid JWT: Token must be a short-lived token (60 minutes) and in "
                        "a reasonable timeframe. Check your iat and exp values in the JWT claim.")
        scopes = str(claims.get("scope", "")).split()
        if self.args.required_scope not in scopes:
            return oerr("invalid_scope", "Scope %s is required" % self.args.required_scope)
        return self.issue(claims["iss"])

    def metadata(self, method, path, headers):
        if headers.get("Metadata-Flavor") != "Google":
            return Resp(403, text="Missing Metadata-Flavor:Google header.\n", ctype="text/html")
        email = next(iter(self.accounts), "default@%s.iam.gserviceaccount.com" % self.project)
        m = re.match(r"^/computeMetadata/v1/instance/service-accounts/([^/]+)/(token)?$", path)
        if method != "GET" or m is None or m.group(1) not in ("default", email):
            return Resp(404, text="Not Found\n", ctype="text/html")
        if m.group(2) is None:
            # ?recursive=true: what client libraries read before the token
            return Resp(200, {"aliases": ["default"], "email": email, "scopes": [self.args.required_scope]},
                        ctype="application/json")
        r = self.issue("metadata")
        r.ctype = "application/json"     # the metadata server's, exactly
        return r

    def bearer(self, headers):
        a = headers.get("Authorization") or ""
        if not a.startswith("Bearer "):
            return False
        with self.lock:
            t = self.tokens.get(a[7:])
            return t is not None and t["expires"] > time.time()

    # --- Secret Manager ---

    def project_ok(self, p):
        return p in (self.project, self.number)

    def api(self, method, path, query, headers, body):
        if path == "/":
            return Resp(404, text="<!DOCTYPE html><title>Error 404 (Not Found)</title>\n", ctype="text/html")
        if not path.startswith("/v1/"):
            return gerr(404, "Method not found.")
        if not self.bearer(headers):
            return gerr(401, "Request had invalid authentication credentials. Expected OAuth 2 access token, "
                        "login cookie or other valid authentication credential.")
        m = re.match(r"^/v1/projects/([^/]+)/secrets(?:/([^/:]+)(?:(:addVersion)|/versions/([^/:]+)(:access))?)?$",
                     path)
        if m is None:
            return gerr(404, "Method not found.")
        proj, sid, add, ver, acc = m.groups()
        if not self.project_ok(proj):
            return gerr(403, "Permission 'secretmanager.secrets.list' denied for resource 'projects/%s' "
                        "(or it may not exist)." % proj)
        try:
            doc = json.loads(body.decode()) if body else {}
        except (ValueError, UnicodeDecodeError):
            return gerr(400, "Invalid JSON payload received.")
        if sid is None and method == "POST":
            return self.create(query, doc)
        if sid is None and method == "GET":
            return self.list(query)
        if add and method == "POST":
            return self.add_version(sid, doc)
        if acc and method == "GET":
            return self.access(sid, ver)
        if ver is None and not add and method == "DELETE":
            with self.lock:
                if self.secrets.pop(sid, None) is None:
                    return gerr(404, "Secret [projects/%s/secrets/%s] not found." % (self.number, sid))
            return Resp(200, {})
        if ver is None and not add and method == "GET":
            with self.lock:
                s = self.secrets.get(sid)
                if s is None:
                    return gerr(404, "Secret [projects/%s/secrets/%s] not found." % (self.number, sid))
                return Resp(200, self.secret_json(sid, s))
        return gerr(404, "Method not found.")

    def secret_json(self, sid, s):
        return {"name": "projects/%s/secrets/%s" % (self.number, sid), "replication": {"automatic": {}},
                "createTime": rfc3339(s["created"]), "etag": "\"%x\"" % int(s["created"] * 1e6)}

    def create(self, query, doc):
        sid = (query.get("secretId") or [""])[0]
        if not ID_RE.match(sid):
            return gerr(400, "The secret ID must be 1 to 255 characters of letters, numbers, '_' or '-'.")
        rep = doc.get("replication") if isinstance(doc, dict) else None
        if not isinstance(rep, dict) or not (isinstance(rep.get("automatic"), dict) or
                                             isinstance(rep.get("userManaged"), dict)):
            return gerr(400, "Secret.replication is required.")
        with self.lock:
            if sid in self.secrets:
                return gerr(409, "Secret [projects/%s/secrets/%s] already exists." % (self.number, sid))
            self.seq += 1
            s = {"created": time.time(), "seq": self.seq, "versions": []}
            self.secrets[sid] = s
            return Resp(200, self.secret_json(sid, s))

    def add_version(self, sid, doc):
        if self.addversion_fail:
            return gerr(500, "Internal error encountered.")
        data = doc.get("payload", {}).get("data") if isinstance(doc, dict) and isinstance(
            doc.get("payload"), dict) else None
        if not isinstance(data, str):
            return gerr(400, "Secret Payload cannot be empty.")
        try:
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            return gerr(400, "Invalid value at 'payload.data' (TYPE_BYTES), Base64 decoding failed")
        if len(raw) > 65536:
            return gerr(400, "Secret payload must be at most 65536 bytes.")
        with self.lock:
            s = self.secrets.get(sid)
            if s is None:
                return gerr(404, "Secret [projects/%s/secrets/%s] not found." % (self.number, sid))
            s["versions"].append({"data": raw, "state": "ENABLED", "created": time.time()})
            n = len(s["versions"])
        return Resp(200, {"name": "projects/%s/secrets/%s/versions/%d" % (self.number, sid, n),
                          "createTime": rfc3339(time.time()), "state": "ENABLED",
                          "replicationStatus": {"automatic": {}}, "etag": "\"%d\"" % n})

    def access(self, sid, ver):
        with self.lock:
            s = self.secrets.get(sid)
            if s is None:
                return gerr(404, "Secret [projects/%s/secrets/%s] not found or has no versions." % (
                    self.number, sid))
            vs = s["versions"]
            if ver == "latest":
                live = [i for i, v in enumerate(vs) if v["state"] == "ENABLED"]
                n = live[-1] + 1 if live else 0
            elif ver.isdigit() and ver[0] != "0":
                n = int(ver)
            else:
                return gerr(400, "Invalid secret version: %s." % ver)
            if n < 1 or n > len(vs):
                return gerr(404, "Secret Version [projects/%s/secrets/%s/versions/%s] not found." % (
                    self.number, sid, ver))
            v = vs[n - 1]
            if v["state"] != "ENABLED":
                return gerr(400, "Secret Version [projects/%s/secrets/%s/versions/%d] is in %s state." % (
                    self.number, sid, n, v["state"]), "FAILED_PRECONDITION")
            data = v["data"]
        return Resp(200, {"name": "projects/%s/secrets/%s/versions/%d" % (self.number, sid, n),
                          "payload": {"data": base64.b64encode(data).decode(),
                                      "dataCrc32c": str(crc32c(data))}})

    def list(self, query):
        try:
            size = int((query.get("pageSize") or ["0"])[0] or 0)
        except ValueError:
            return gerr(400, "Invalid value at 'page_size' (TYPE_INT32)")
        if size < 0:
            return gerr(400, "page_size must be positive")
        size = min(size or self.args.page_size, 25000)
        tok = (query.get("pageToken") or [""])[0]
        with self.lock:
            if tok:
                if tok not in self.page_tokens:
                    return gerr(400, "Invalid page token.")
                off = self.page_tokens[tok]
            else:
                off = 0
            ids = sorted(self.secrets, key=lambda k: self.secrets[k]["seq"])
            page = ids[off:off + size]
            out = {"secrets": [self.secret_json(i, self.secrets[i]) for i in page], "totalSize": len(ids)}
            if off + size < len(ids):
                nt = base64.urlsafe_b64encode(rnd.token_bytes(12) + struct.pack(">I", off + size)).decode()
                self.page_tokens[nt] = off + size
                out["nextPageToken"] = nt
        if not out["secrets"]:
            del out["secrets"]
        return Resp(200, out)


def redact(path, headers, body):
    h = {}
    for k, v in headers.items():
        h[k] = v.split(" ", 1)[0] + " <redacted>" if k.lower() == "authorization" else v
    b = None
    if body:
        text = body.decode("utf-8", "replace")
        if path == "/token":
            form = urllib.parse.parse_qs(text, keep_blank_values=True)
            if "assertion" in form:
                parts = form["assertion"][0].split(".")
                try:
                    claims = json.loads(b64url_decode(parts[1])) if len(parts) == 3 else None
                except (ValueError, UnicodeDecodeError):
                    claims = None
                form["assertion"] = ["<redacted>"]
                b = {"form": {k: v[0] for k, v in form.items()}, "claims": claims}
            else:
                b = text
        else:
            try:
                doc = json.loads(text)
                if isinstance(doc, dict) and isinstance(doc.get("payload"), dict):
                    doc["payload"]["data"] = "<redacted>"
                b = doc
            except ValueError:
                b = "<%d bytes, not JSON>" % len(body)
    return h, b


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def serve(self):
        g = self.server.g
        metadata = self.server.metadata
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
        h, b = redact(url.path, self.headers, body)
        entry = {"time": time.time(), "method": self.command, "path": url.path, "query": url.query,
                 "headers": h, "body": b, "metadata": metadata, "status": None}
        with g.lock:
            g.requests.append(entry)
        rule = g.take_fault(self.command, url.path)
        ms = g.latency.get(url.path, 0)
        if rule and rule.get("action") == "delay":
            ms += int(rule.get("delay_ms", 0))
        if ms:
            time.sleep(ms / 1000.0)
        if rule and rule.get("action") == "drop":
            entry["status"] = "dropped"
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
            except OSError:
                pass
            self.close_connection = True
            return
        if rule and rule.get("action", "status") == "status":
            st = int(rule["status"])
            rb = rule.get("body")
            if rb is None:
                resp = gerr(st, "injected fault")
            elif isinstance(rb, str):
                resp = Resp(st, text=rb, ctype=rule.get("content_type", "text/plain"))
            else:
                resp = Resp(st, rb)
        elif n > MAX_BODY:
            resp = gerr(413, "request too large")
        else:
            try:
                if metadata:
                    resp = g.metadata(self.command, url.path, self.headers)
                elif url.path == "/token" and self.command == "POST":
                    resp = g.token(self.headers, body)
                else:
                    resp = g.api(self.command, url.path, urllib.parse.parse_qs(url.query, keep_blank_values=True),
                                 self.headers, body)
            except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
                g.log("internal error: %r" % e)
                resp = gerr(500, "Internal error encountered.")
        entry["status"] = resp.status
        data = resp.body()
        try:
            self.send_response(resp.status)
            if resp.status == 401 and not metadata:
                self.send_header("WWW-Authenticate", 'Bearer realm="https://accounts.google.com/"')
            self.send_header("Content-Type", resp.ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        g.log("%s %s%s %s" % (self.command, url.path, "?" + url.query if url.query else "", resp.status))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, g, ctx, metadata=False):
        self.g, self.ctx, self.metadata = g, ctx, metadata
        super().__init__(addr, Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        if self.ctx is not None:
            request.settimeout(10)
            try:
                request = self.ctx.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError) as e:
                self.g.log("tls handshake failed: %s" % (getattr(e, "reason", None) or type(e).__name__))
                return
            request.settimeout(300)
        try:
            self.RequestHandlerClass(request, client_address, self)
        except (ssl.SSLError, OSError):
            pass
        finally:
            try:
                request.close()
            except OSError:
                pass


class Control(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        g = self.server.g
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        p = urllib.parse.urlsplit(self.path).path.rstrip("/")
        try:
            b = json.loads(raw.decode()) if raw.strip() else {}
            res, st = self.route(g, p, b), 200
        except (ValueError, KeyError, TypeError) as e:
            res, st = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}, 400
        data = (json.dumps(res) + "\n").encode()
        self.send_response(st)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, g, p, b):
        with g.lock:
            if p == "/requests":
                return {"ok": True, "requests": list(g.requests)}
            if p == "/requests/clear":
                g.requests = []
            elif p == "/fault":
                r = dict(b)
                r.setdefault("count", 1)
                r.setdefault("action", "status")
                g.faults.append(r)
            elif p == "/faults/clear":
                g.faults = []
                g.latency = {}
                g.addversion_fail = False
            elif p == "/latency":
                g.latency = {k: int(v) for k, v in b.get("paths", {}).items()}
            elif p == "/tokens":
                g.token_ttl = int(b["ttl"])
            elif p == "/tokens/expire":
                for t in g.tokens.values():
                    t["expires"] = 0
            elif p == "/switch":
                g.addversion_fail = bool(b.get("addversion_fail"))
            elif p == "/secrets" and self.command == "GET":
                return {"ok": True, "secrets": {k: [{"data": base64.b64encode(v["data"]).decode(),
                                                     "state": v["state"]} for v in s["versions"]]
                                                for k, s in g.secrets.items()}}
            elif p == "/secrets":
                g.seq += 1
                s = g.secrets.setdefault(b["id"], {"created": time.time(), "seq": g.seq, "versions": []})
                if "data" in b:
                    s["versions"].append({"data": base64.b64decode(b["data"]), "state": "ENABLED",
                                          "created": time.time()})
            elif p == "/secrets/version":
                g.secrets[b["id"]]["versions"][int(b["version"]) - 1]["state"] = b["state"]
            else:
                raise KeyError("unknown control path %s" % p)
        return {"ok": True}


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def main(argv=None):
    parent = os.getppid()
    ap = argparse.ArgumentParser(description="GCP Secret Manager test double (see module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--service-account", action="append", default=[], metavar="EMAIL=KEYPEM")
    ap.add_argument("--project", default="my-project")
    ap.add_argument("--project-number", default="123456789012")
    ap.add_argument("--required-scope", default=CLOUD_PLATFORM)
    ap.add_argument("--token-ttl", type=int, default=3599)
    ap.add_argument("--page-size", type=int, default=25)
    ap.add_argument("--port-file")
    ap.add_argument("--control-port-file")
    ap.add_argument("--metadata-port-file")
    ap.add_argument("--log")
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args(argv)

    g = Google(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    host, _, port = args.addr.rpartition(":")
    api = Server((host, int(port)), g, ctx)
    g.token_url = "https://%s:%d/token" % (host, api.server_address[1])
    md = Server(("127.0.0.1", 0), g, None, metadata=True)
    ctl = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Control)
    ctl.daemon_threads = True
    ctl.g = g
    for s in (api, md, ctl):
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.metadata_port_file:
        write_atomic(args.metadata_port_file, b"%d\n" % md.server_address[1])
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % ctl.server_address[1])
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % api.server_address[1])
    g.log("listening: api+token %d (TLS), metadata %d, control %d" % (
        api.server_address[1], md.server_address[1], ctl.server_address[1]))
    while not stop.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    g.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
