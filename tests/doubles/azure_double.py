#!/usr/bin/env python3
"""azure_double.py -- a TEST DOUBLE of Azure Key Vault (secrets), the
Microsoft identity platform's token endpoint and the Azure Instance
Metadata Service (IMDS), for keyward's tests.

This is NOT Azure.  Key Vault cannot run on the machines keyward is tested on
(no emulator exists, shared/spec/keystores-cloud-and-legacy-config.md §6.1),
so keyward's Azure store (KES's keystore.azure.keyvault) is tested against
this double.  It implements the service's documented semantics (spec §3.2,
§3.3 and the REST reference pages cited there) and the checklist of §6.5,
nothing keyward-specific.  Its self-test tests/doubles/test_azure_double.py
drives it with Microsoft's own client libraries (Debian's python3-azure:
azure.keyvault.secrets and azure.identity) so the double cannot drift into
agreeing with keyward's mistakes.  Python 3 standard library only.

Run
---
    python3 tests/doubles/azure_double.py --cert server.pem --key server.key \\
        --client TENANT:CLIENT_ID:SECRET [--managed-identity CLIENT_ID] \\
        [--port-file F] [--control-port-file F2] [--imds-port-file F3] \\
        [--log FILE] [--token-ttl 3599] [--page-size 25] [--exit-with-parent]

The TLS port serves the vault (https://127.0.0.1:<port>) and the authority
(https://127.0.0.1:<port>/<tenant>/oauth2/v2.0/token); IMDS is plain HTTP on
its own port, as on Azure VMs; the control port is plain HTTP.

What it implements
------------------
* POST /<tenant>/oauth2/v2.0/token (client credentials): form;
  grant_type=client_credentials, a known client_id + client_secret of that
  tenant (else 401 {"error":"invalid_client"}), scope must be
  https://vault.azure.net/.default (else 400 invalid_scope) -> 200
  {"token_type":"Bearer","expires_in","ext_expires_in","access_token"}.
  POST /<tenant>/oauth2/token (v1): the same with resource=
  https://vault.azure.net; GET /<tenant>/v2.0/.well-known/openid-configuration
  for MSAL.
* IMDS GET /metadata/identity/oauth2/token?api-version=&resource=
  [&client_id=]: needs Metadata: true (else 400), api-version, resource
  https://vault.azure.net, and a known managed identity client_id when one
  is given -> {"access_token","expires_in","expires_on","resource",
  "token_type"} with the numbers as strings, as IMDS sends them.
* Vault: every call needs ?api-version= (else 400 BadParameter); no or an
  unknown bearer -> 401 with WWW-Authenticate: Bearer
  authorization="<authority>/<tenant>", resource="https://vault.azure.net"
  and {"error":{"code":"Unauthorized","message":"AKV10000: ..."}}.
* Names ^[0-9A-Za-z-]{1,127}$ else 400 BadParameter.  PUT /secrets/<n>
  {"value"} adds a version (32 hex id, created/updated Unix seconds,
  enabled, recoveryLevel); GET /secrets/<n>[/] (latest) and
  /secrets/<n>/<version>; GET /secrets/<n>/versions (page size
  --page-size, nextLink; an unknown name: 200 with an empty value);
  GET /secrets (nextLink absolute, with api-version and $skiptoken).
* Soft delete: DELETE /secrets/<n> -> 200 deleted bundle; the name is
  "being deleted" for --delete-ms, then "deleted"; PUT on a deleted name ->
  409 ObjectIsDeletedButRecoverable, while being deleted or purged -> 409
  ObjectIsBeingDeleted; DELETE /deletedsecrets/<n> -> 204 (the name is free
  after --purge-ms), while being deleted -> 409 ObjectIsBeingDeleted,
  unknown -> 404; GET /deletedsecrets/<n> -> 200 once deleted (what the
  SDK's delete poller waits for), else 404; GET/DELETE of an unknown secret -> 404 SecretNotFound.
* Errors {"error":{"code","message","innererror":{"code"}}}.

Control port (JSON): GET /requests, POST /requests/clear, POST /fault
{"path","method","status","count","body","action":"status"|"drop"|
"delay","delay_ms"}, POST /faults/clear, POST /latency {"paths":{p:ms}},
POST /tokens {"ttl"}, POST /tokens/expire, POST /deletion {"delete_ms",
"purge_ms"}, GET /secrets, POST /secrets {"name","value","created"}
(a version), POST /secrets/attributes {"name","index","enabled","nbf",
"exp"}, POST /secrets/state {"name","state","ms"} (soft-delete state).
"""

import argparse
import base64
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

SCOPE = "https://vault.azure.net/.default"
RESOURCE = "https://vault.azure.net"
NAME_RE = re.compile(r"^[0-9A-Za-z-]{1,127}$")
MAX_BODY = 1 << 20


class Resp:
    def __init__(self, status, obj=None, text=None, ctype="application/json; charset=utf-8", headers=None):
        self.status, self.obj, self.text, self.ctype = status, obj, text, ctype
        self.headers = headers or {}

    def body(self):
        if self.text is not None:
            return self.text.encode()
        if self.obj is None:
            return b""
        return json.dumps(self.obj).encode()


def kverr(status, code, msg, inner=None):
    e = {"code": code, "message": msg}
    if inner:
        e["innererror"] = {"code": inner}
    return Resp(status, {"error": e})


def aaderr(status, err, desc):
    return Resp(status, {"error": err, "error_description": desc, "error_codes": [7000215],
                         "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())})


class Azure:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.clients = {}
        for c in args.client:
            tenant, cid, secret = c.split(":", 2)
            self.clients[(tenant, cid)] = secret
        self.tenants = {t for t, _ in self.clients} or {"common"}
        self.identities = set(args.managed_identity)
        self.token_ttl = args.token_ttl
        self.tokens = {}
        self.secrets = {}       # name -> {"state","versions","until"}
        self.requests, self.faults, self.latency = [], [], {}
        self.delete_ms, self.purge_ms = args.delete_ms, args.purge_ms
        self.base = None
        self.logf = open(args.log, "a") if args.log else None

    def log(self, line):
        if self.logf:
            self.logf.write("%.3f %s\n" % (time.time(), line))
            self.logf.flush()

    def take_fault(self, method, path):
        with self.lock:
            for r in self.faults:
                p = r.get("path", "*")
                if (p.endswith("*") and not path.startswith(p[:-1])) or (not p.endswith("*") and p != path):
                    continue
                if r.get("method") and r["method"] != method:
                    continue
                if r["count"] == 0:
                    continue
                if r["count"] > 0:
                    r["count"] -= 1
                return dict(r)
        return None

    # --- identity ---

    def issue(self, who, strings=False):
        tok = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.double." + rnd.token_hex(24)
        with self.lock:
            ttl = self.token_ttl
            self.tokens[tok] = {"expires": time.time() + ttl, "who": who}
        out = {"token_type": "Bearer", "expires_in": ttl, "ext_expires_in": ttl, "access_token": tok}
        if strings:
            out = {"access_token": tok, "expires_in": str(ttl), "expires_on": str(int(time.time()) + ttl),
                   "ext_expires_in": str(ttl), "not_before": str(int(time.time())), "resource": RESOURCE,
                   "token_type": "Bearer", "client_id": who}
        return Resp(200, out)

    def token(self, tenant, v2, headers, body):
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return aaderr(400, "invalid_request", "AADSTS900144: The request body must contain the following "
                          "parameter: 'grant_type'.")
        f = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode("utf-8", "replace"),
                                                         keep_blank_values=True).items()}
        if f.get("grant_type") != "client_credentials":
            return aaderr(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type.")
        secret = self.clients.get((tenant, f.get("client_id", "")))
        if secret is None:
            return aaderr(400, "unauthorized_client", "AADSTS700016: Application with identifier '%s' was not "
                          "found in the directory '%s'." % (f.get("client_id", ""), tenant))
        if f.get("client_secret") != secret:
            return aaderr(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if v2 and f.get("scope") != SCOPE:
            return aaderr(400, "invalid_scope", "AADSTS70011: The provided value for the input parameter "
                          "'scope' is not valid.")
        if not v2 and f.get("resource") != RESOURCE:
            return aaderr(400, "invalid_resource", "AADSTS500011: The resource principal was not found.")
        return self.issue(f["client_id"], strings=not v2)

    def openid(self, tenant):
        a = "https://%s/%s" % (self.host, tenant)
        return Resp(200, {"token_endpoint": a + "/oauth2/v2.0/token", "issuer": a + "/v2.0",
                          "authorization_endpoint": a + "/oauth2/v2.0/authorize",
                          "jwks_uri": a + "/discovery/v2.0/keys", "device_authorization_endpoint":
                          a + "/oauth2/v2.0/devicecode", "response_types_supported": ["code", "token"],
                          "tenant_region_scope": None})

    def imds(self, method, path, query, headers):
        if headers.get("Metadata") != "true":
            return Resp(400, {"error": "invalid_request", "error_description": "Required metadata header not "
                                                                                 "specified"})
        if method != "GET" or path != "/metadata/identity/oauth2/token":
            return Resp(404, text="Not Found", ctype="text/plain")
        q = {k: v[0] for k, v in query.items()}
        if not q.get("api-version"):
            return Resp(400, {"error": "invalid_request", "error_description": "Required query variable "
                                                                                 "'api-version' is missing"})
        if q.get("resource", "").rstrip("/") != RESOURCE:
            return Resp(400, {"error": "invalid_resource", "error_description": "AADSTS500011: The resource "
                                                                                  "principal was not found."})
        cid = q.get("client_id")
        if cid is not None and cid not in self.identities:
            return Resp(400, {"error": "invalid_request", "error_description": "Identity not found"})
        if cid is None and len(self.identities) != 1:
            return Resp(400, {"error": "invalid_request", "error_description": "Multiple user assigned "
                                                                                 "identities exist"})
        r = self.issue(cid or next(iter(self.identities)), strings=True)
        r.ctype = "application/json; charset=utf-8"
        return r

    def bearer_ok(self, headers):
        a = headers.get("Authorization") or ""
        if not a.startswith("Bearer "):
            return False
        with self.lock:
            t = self.tokens.get(a[7:])
            return t is not None and t["expires"] > time.time()

    # --- vault ---

    def tick(self, name):
        """Advance a name's soft-delete state."""
        s = self.secrets.get(name)
        if s is None:
            return None
        now = time.time()
        if s["state"] == "deleting" and now >= s["until"]:
            s["state"] = "deleted"
        if s["state"] == "purging" and now >= s["until"]:
            del self.secrets[name]
            return None
        return s

    def bundle(self, name, v, with_value=True):
        a = {"enabled": v["enabled"], "created": v["created"], "updated": v["created"],
             "recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}
        for k in ("nbf", "exp"):
            if v.get(k) is not None:
                a[k] = v[k]
        out = {"id": "%s/secrets/%s/%s" % (self.base, name, v["id"]), "attributes": a}
        if with_value:
            out["value"] = v["value"]
        return out

    def vault(self, method, path, query, headers, body):
        if path in ("/", ""):
            return kverr(401 if not self.bearer_ok(headers) else 404, "Unauthorized",
                         "AKV10000: Request is missing a Bearer or PoP token.")
        if not query.get("api-version"):
            return kverr(400, "BadParameter", "The request URI contains an invalid api-version.")
        if not self.bearer_ok(headers):
            t = next(iter(sorted(self.tenants)))
            return Resp(401, {"error": {"code": "Unauthorized", "message": "AKV10000: Request is missing a "
                                                                             "Bearer or PoP token."}},
                        headers={"WWW-Authenticate": 'Bearer authorization="https://%s/%s", resource="%s"' %
                                 (self.host, t, RESOURCE)})
        parts = [p for p in path.split("/") if p != ""]
        trailing = path.endswith("/")
        with self.lock:
            if parts == ["secrets"] and method == "GET":
                return self.list_secrets(query)
            if len(parts) >= 2 and parts[0] in ("secrets", "deletedsecrets") and not NAME_RE.match(parts[1]):
                return kverr(400, "BadParameter", "The request URI contains an invalid name: %s" % parts[1])
            if len(parts) == 2 and parts[0] == "secrets":
                name = parts[1]
                if method == "PUT":
                    return self.put(name, body)
                if method == "GET":
                    return self.get(name, None)
                if method == "DELETE":
                    return self.delete(name)
            if len(parts) == 3 and parts[0] == "secrets" and parts[2] == "versions" and method == "GET" \
                    and not trailing:
                return self.versions(parts[1], query)
            if len(parts) == 3 and parts[0] == "secrets" and method == "GET":
                return self.get(parts[1], parts[2])
            if len(parts) == 2 and parts[0] == "deletedsecrets" and method == "DELETE":
                return self.purge(parts[1])
            if len(parts) == 2 and parts[0] == "deletedsecrets" and method == "GET":
                return self.get_deleted(parts[1])
        return kverr(404, "NotFound", "The requested resource was not found.")

    def not_found(self, name, ver=None):
        return kverr(404, "SecretNotFound", "A secret with (name/id) %s%s was not found in this key vault. If "
                     "you recently deleted this secret you may be able to recover it using the correct recovery "
                     "command." % (name, "/" + ver if ver else ""))

    def put(self, name, body):
        try:
            doc = json.loads(body.decode())
        except (ValueError, UnicodeDecodeError):
            return kverr(400, "BadParameter", "The request body is not valid JSON.")
        if not isinstance(doc, dict) or not isinstance(doc.get("value"), str):
            return kverr(400, "BadParameter", "Property value is required.")
        s = self.tick(name)
        if s is not None and s["state"] == "deleted":
            return kverr(409, "Conflict", "Secret %s is currently in a deleted but recoverable state, and its "
                         "name cannot be reused; in this state, the secret can only be recovered or purged." % name,
                         "ObjectIsDeletedButRecoverable")
        if s is not None and s["state"] in ("deleting", "purging"):
            return kverr(409, "Conflict", "Secret %s is currently being deleted." % name, "ObjectIsBeingDeleted")
        if s is None:
            s = self.secrets[name] = {"state": "active", "versions": [], "until": 0}
        v = {"id": rnd.token_hex(16), "value": doc["value"], "created": int(time.time()), "enabled": True}
        attrs = doc.get("attributes") or {}
        if isinstance(attrs, dict) and attrs.get("enabled") is False:
            v["enabled"] = False
        s["versions"].append(v)
        return Resp(200, self.bundle(name, v))

    def get(self, name, ver):
        s = self.tick(name)
        if s is None or s["state"] != "active" or not s["versions"]:
            return self.not_found(name, ver)
        if ver in (None, ""):
            v = s["versions"][-1]
        else:
            v = next((x for x in s["versions"] if x["id"] == ver), None)
            if v is None:
                return self.not_found(name, ver)
        if not v["enabled"]:
            return kverr(403, "Forbidden", "Operation get is not allowed on a disabled secret.", "SecretDisabled")
        return Resp(200, self.bundle(name, v))

    def page(self, items, query, link_path):
        size = self.args.page_size
        mr = query.get("maxresults")
        if mr:
            size = min(int(mr[0]), 25)
        skip = 0
        st = (query.get("$skiptoken") or [""])[0]
        if st:
            try:
                skip = int(base64.urlsafe_b64decode(st + "=" * (-len(st) % 4)).decode())
            except ValueError:
                return None, None
        page = items[skip:skip + size]
        nxt = None
        if skip + size < len(items):
            tok = base64.urlsafe_b64encode(str(skip + size).encode()).decode().rstrip("=")
            nxt = "%s%s?api-version=%s&$skiptoken=%s&maxresults=%d" % (
                self.base, link_path, query["api-version"][0], tok, size)
        return page, nxt

    def versions(self, name, query):
        s = self.tick(name)
        vs = s["versions"] if s is not None and s["state"] == "active" else []
        page, nxt = self.page(vs, query, "/secrets/%s/versions" % name)
        if page is None:
            return kverr(400, "BadParameter", "Invalid skip token.")
        return Resp(200, {"value": [self.bundle(name, v, False) for v in page], "nextLink": nxt})

    def list_secrets(self, query):
        names = sorted(n for n in list(self.secrets) if self.tick(n) is not None and
                       self.secrets[n]["state"] == "active")
        page, nxt = self.page(names, query, "/secrets")
        if page is None:
            return kverr(400, "BadParameter", "Invalid skip token.")
        out = []
        for n in page:
            v = self.secrets[n]["versions"][-1]
            b = self.bundle(n, v, False)
            b["id"] = "%s/secrets/%s" % (self.base, n)
            out.append(b)
        return Resp(200, {"value": out, "nextLink": nxt})

    def delete(self, name):
        s = self.tick(name)
        if s is None or s["state"] != "active":
            return self.not_found(name)
        s["state"] = "deleting" if self.delete_ms > 0 else "deleted"
        s["until"] = time.time() + self.delete_ms / 1000.0
        s["deleted"] = int(time.time())
        return Resp(200, self.deleted_bundle(name, s))

    def deleted_bundle(self, name, s):
        v = s["versions"][-1] if s["versions"] else {"id": "", "created": 0, "enabled": True, "value": ""}
        b = self.bundle(name, v, False)
        b.update({"recoveryId": "%s/deletedsecrets/%s" % (self.base, name), "deletedDate": s["deleted"],
                  "scheduledPurgeDate": s["deleted"] + 90 * 86400})
        return b

    def get_deleted(self, name):
        """GET /deletedsecrets/<n>: what the SDK's delete poller waits for."""
        s = self.tick(name)
        if s is None or s["state"] != "deleted":
            return kverr(404, "SecretNotFound", "Deleted Secret not found: %s" % name)
        return Resp(200, self.deleted_bundle(name, s))

    def purge(self, name):
        s = self.tick(name)
        if s is None or s["state"] in ("active", "purging"):
            return kverr(404, "SecretNotFound", "Deleted Secret not found: %s" % name)
        if s["state"] == "deleting":
            return kverr(409, "Conflict", "Secret %s is currently being deleted." % name, "ObjectIsBeingDeleted")
        if self.purge_ms > 0:
            s["state"] = "purging"
            s["until"] = time.time() + self.purge_ms / 1000.0
        else:
            del self.secrets[name]
        return Resp(204)


def redact(headers, body):
    h = {}
    for k, v in headers.items():
        h[k] = v.split(" ", 1)[0] + " <redacted>" if k.lower() == "authorization" else v
    b = None
    if body:
        t = body.decode("utf-8", "replace")
        try:
            doc = json.loads(t)
            if isinstance(doc, dict) and "value" in doc:
                doc["value"] = "<redacted>"
            b = doc
        except ValueError:
            f = urllib.parse.parse_qs(t, keep_blank_values=True)
            b = {k: ("<redacted>" if k == "client_secret" else v[0]) for k, v in f.items()} if f else t
    return h, b


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-IIS/10.0"
    sys_version = ""

    def log_message(self, fmt, *args):
        pass

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.serve
        raise AttributeError(name)

    def serve(self):
        az = self.server.az
        imds = self.server.imds
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
        query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        h, b = redact(self.headers, body)
        entry = {"time": time.time(), "method": self.command, "path": url.path, "query": url.query,
                 "headers": h, "body": b, "imds": imds, "status": None}
        with az.lock:
            az.requests.append(entry)
        rule = az.take_fault(self.command, url.path)
        ms = az.latency.get(url.path, 0)
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
                resp = kverr(st, "InjectedFault", "injected fault")
            elif isinstance(rb, str):
                resp = Resp(st, text=rb, ctype=rule.get("content_type", "text/plain"))
            else:
                resp = Resp(st, rb)
        else:
            try:
                m = re.match(r"^/([^/]+)/(oauth2/v2\.0/token|oauth2/token|v2\.0/\.well-known/openid-configuration)$",
                             url.path)
                if imds:
                    resp = az.imds(self.command, url.path, query, self.headers)
                elif m and m.group(2).startswith("oauth2") and self.command == "POST":
                    resp = az.token(m.group(1), "v2.0" in m.group(2), self.headers, body)
                elif m and self.command == "GET":
                    resp = az.openid(m.group(1))
                else:
                    resp = az.vault(self.command, url.path, query, self.headers, body)
            except Exception as e:  # noqa: BLE001 - a bug in the double is a 500, not a hang
                az.log("internal error: %r" % e)
                resp = kverr(500, "InternalServerError", "internal error")
        entry["status"] = resp.status
        data = resp.body()
        try:
            self.send_response(resp.status)
            for k, v in resp.headers.items():
                self.send_header(k, v)
            if resp.status != 204:
                self.send_header("Content-Type", resp.ctype)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-ms-request-id", rnd.token_hex(16))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True
        az.log("%s %s%s %s" % (self.command, url.path, "?" + url.query if url.query else "", resp.status))


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, az, ctx, imds=False):
        self.az, self.ctx, self.imds = az, ctx, imds
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
                self.az.log("tls handshake failed: %s" % (getattr(e, "reason", None) or type(e).__name__))
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
        az = self.server.az
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        p = urllib.parse.urlsplit(self.path).path.rstrip("/")
        try:
            b = json.loads(raw.decode()) if raw.strip() else {}
            res, st = self.route(az, p, b), 200
        except (ValueError, KeyError, TypeError, IndexError) as e:
            res, st = {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}, 400
        data = (json.dumps(res) + "\n").encode()
        self.send_response(st)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def route(self, az, p, b):
        with az.lock:
            if p == "/requests":
                return {"ok": True, "requests": list(az.requests)}
            if p == "/requests/clear":
                az.requests = []
            elif p == "/fault":
                r = dict(b)
                r.setdefault("count", 1)
                r.setdefault("action", "status")
                az.faults.append(r)
            elif p == "/faults/clear":
                az.faults = []
                az.latency = {}
            elif p == "/latency":
                az.latency = {k: int(v) for k, v in b.get("paths", {}).items()}
            elif p == "/tokens":
                az.token_ttl = int(b["ttl"])
            elif p == "/tokens/expire":
                for t in az.tokens.values():
                    t["expires"] = 0
            elif p == "/deletion":
                az.delete_ms = int(b.get("delete_ms", az.delete_ms))
                az.purge_ms = int(b.get("purge_ms", az.purge_ms))
            elif p == "/secrets" and self.command == "GET":
                return {"ok": True, "secrets": {n: {"state": s["state"], "versions": [
                    {"id": v["id"], "value": v["value"], "created": v["created"], "enabled": v["enabled"]}
                    for v in s["versions"]]} for n, s in az.secrets.items()}}
            elif p == "/secrets":
                s = az.secrets.setdefault(b["name"], {"state": "active", "versions": [], "until": 0})
                s["versions"].append({"id": rnd.token_hex(16), "value": b["value"],
                                      "created": int(b.get("created", time.time())), "enabled": True})
            elif p == "/secrets/state":
                sec = az.secrets[b["name"]]
                sec["state"] = b["state"]
                sec["until"] = time.time() + int(b.get("ms", 0)) / 1000.0
                sec["deleted"] = int(time.time())
            elif p == "/secrets/attributes":
                v = az.secrets[b["name"]]["versions"][int(b.get("index", 0))]
                for k in ("enabled", "nbf", "exp"):
                    if k in b:
                        v[k] = b[k]
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
    ap = argparse.ArgumentParser(description="Azure Key Vault test double (see module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client", action="append", default=[], metavar="TENANT:CLIENT_ID:SECRET")
    ap.add_argument("--managed-identity", action="append", default=[], metavar="CLIENT_ID")
    ap.add_argument("--token-ttl", type=int, default=3599)
    ap.add_argument("--page-size", type=int, default=25)
    ap.add_argument("--delete-ms", type=int, default=0)
    ap.add_argument("--purge-ms", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--control-port-file")
    ap.add_argument("--imds-port-file")
    ap.add_argument("--log")
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args(argv)

    az = Azure(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    host, _, port = args.addr.rpartition(":")
    api = Server((host, int(port)), az, ctx)
    az.host = "%s:%d" % (host, api.server_address[1])
    az.base = "https://" + az.host
    imds = Server(("127.0.0.1", 0), az, None, imds=True)
    ctl = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Control)
    ctl.daemon_threads = True
    ctl.az = az
    for s in (api, imds, ctl):
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if args.imds_port_file:
        write_atomic(args.imds_port_file, b"%d\n" % imds.server_address[1])
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % ctl.server_address[1])
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % api.server_address[1])
    az.log("listening: vault+authority %d (TLS), IMDS %d, control %d" % (
        api.server_address[1], imds.server_address[1], ctl.server_address[1]))
    while not stop.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    az.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
