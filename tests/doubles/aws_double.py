#!/usr/bin/env python3
"""aws_double.py -- a TEST DOUBLE of AWS Secrets Manager (and of the AWS
credential endpoints: EC2 instance metadata and the ECS/EKS container
endpoint) for keyward's tests.

This is NOT AWS.  No AWS service can run on the machines keyward is tested
on, and no emulator installs here (spec keystores-cloud-and-legacy-config.md
§6.1), so keyward's AWS store (KES's keystore.aws.secretsmanager) is tested
against this double.  It implements the service's documented behaviour as
written down in that spec (§1.4-§1.6 and the checklist §6.3), not keyward's
expectations, and tests/doubles/test_aws_double.py checks it with boto3 and
botocore, the official AWS SDK for Python, talking to it unchanged but for
the endpoint and the CA.  Python 3 standard library only.

Run
---
    python3 tests/doubles/aws_double.py --cert server.crt --key server.key \\
        --port-file P --control-port-file C --meta-port-file M \\
        [--region us-east-2] [--identity AKID:SECRET[:TOKEN]] ...

It writes the ports (TLS API, plain-HTTP control, plain-HTTP metadata) to
the files, the metadata one first, and exits on SIGTERM or, with
--exit-with-parent, when its parent dies.

What it implements
------------------
* POST / only, dispatched on X-Amz-Target (secretsmanager.<Op>); another
  target -> 400 UnknownOperationException; Content-Type must be
  application/x-amz-json-1.1; answers carry that type and x-amzn-RequestId.
* SigV4 on every call (§1.4), verified over the bytes received: the
  Authorization header's form, a known access key id (else 400
  UnrecognizedClientException), the scope (date = X-Amz-Date's, region =
  --region, service secretsmanager), SignedHeaders including host,
  x-amz-date, x-amz-target and x-amz-security-token when sent, the
  identity's session token when it has one (else 400
  UnrecognizedClientException), X-Amz-Date within 5 minutes of the
  double's clock (else 400 InvalidSignatureException "Signature
  expired"), the signature recomputed (else 400 InvalidSignatureException),
  temporary credentials past their Expiration -> 400 ExpiredTokenException.
* CreateSecret: Name 1-512 of [A-Za-z0-9/_+=.@-]; duplicate -> 400
  ResourceExistsException; a name pending deletion -> 400
  InvalidRequestException; SecretString xor SecretBinary; KmsKeyId kept; a
  bad-KMS switch -> 400 EncryptionFailure; ClientRequestToken (32-64
  characters) idempotent: the same token and value again -> the same 200.
* GetSecretValue: missing -> 400 ResourceNotFoundException; pending
  deletion -> 400 InvalidRequestException; a DecryptionFailure switch;
  answers SecretString or base64 SecretBinary, CreatedDate (float),
  VersionId, VersionStages ["AWSCURRENT"].
* DeleteSecret: ForceDeleteWithoutRecovery with RecoveryWindowInDays -> 400
  InvalidParameterException; forced: gone (200 with DeletionDate, also for
  a missing name; with an async-delete time the name stays reserved that
  long); not forced: scheduled for deletion (missing -> 400
  ResourceNotFoundException).
* ListSecrets: MaxResults 1-100 (default --page-size), an opaque
  NextToken (unknown -> 400 InvalidNextTokenException), secrets pending
  deletion hidden unless IncludePlannedDeletion.
* Errors {"__type":"<Code>","message":"..."}; a namespaced __type
  ("com.amazonaws.secretsmanager#Code") with --namespaced-errors.
* GET / -> 200 "healthy" (what KES's status probe needs: any answer).
* Metadata port (plain HTTP): IMDSv2 PUT /latest/api/token (needs
  x-aws-ec2-metadata-token-ttl-seconds), GET
  /latest/meta-data/iam/security-credentials/[ROLE] (needs the token unless
  IMDSv1 is allowed); GET /container/creds (the container endpoint; with
  --container-auth it needs that Authorization).  Both issue temporary
  credentials ({"Code":"Success", AccessKeyId, SecretAccessKey, Token,
  Expiration}) valid for the creds-ttl knob, registered as identities.

Control port (plain HTTP, 127.0.0.1)
------------------------------------
GET  /requests, POST /requests/clear   request log (Authorization, tokens
                                       and secret values redacted)
GET  /secrets                          every secret with its value
POST /secrets {"name","value"|"remove"} plant or remove one
POST /fault {"target":Op?,"path":P?,"count":N,"skip":K,"action":
       "status"|"drop"|"delay","status":S,"type":Code,"body":text,
       "delay_ms":MS}                 -> {"id"}; POST /faults/clear
POST /knobs {"page_size","creds_ttl","bad_kms","decrypt_failure",
       "async_delete_ms","clock_offset","imds_v1"}
POST /identities {"akid","secret","token"?,"remove"?}
POST /identities/expire {}             every issued credential expires now
GET  /state                            counters and knobs
"""
import argparse
import base64
import datetime
import hashlib
import hmac
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
import uuid

JSON11 = "application/x-amz-json-1.1"
MAX_BODY = 4 << 20
NAME_RE = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
AUTH_RE = re.compile(r"^AWS4-HMAC-SHA256 Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request,\s*"
                     r"SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})$")
IGNORED = ("authorization", "user-agent", "x-amzn-trace-id")


class AwsError(Exception):
    def __init__(self, code, msg, status=400):
        super().__init__(msg)
        self.code, self.msg, self.status = code, msg, status


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.rename(tmp, path)


def sigv4(method, path, query, headers, signed, body, secret, date, region, service):
    """The signature over what was received (spec §1.4)."""
    lines = []
    for name in signed:
        lines.append("%s:%s" % (name, ",".join(" ".join(v.strip().split()) for v in headers[name])))
    q = "&".join(sorted(query.split("&"))) if query else ""
    creq = "\n".join([method, path, q, "\n".join(lines) + "\n", ";".join(signed),
                      hashlib.sha256(body).hexdigest()])
    scope = "%s/%s/%s/aws4_request" % (date[:8], region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date[:8], region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()


class SM:
    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.secrets = {}        # name -> dict
        self.pending = {}        # name -> reserved until (time)
        self.tokens = {}         # ClientRequestToken -> (name, value, response)
        self.next_tokens = {}    # NextToken -> offset
        self.identities = {}     # akid -> {"secret","token","expires"}
        self.requests = []
        self.faults = []
        self.fault_id = 0
        self.counters = {"requests": 0, "issued": 0}
        self.knobs = {"page_size": args.page_size, "creds_ttl": args.creds_ttl, "bad_kms": False,
                      "decrypt_failure": False, "async_delete_ms": 0, "clock_offset": 0.0,
                      "imds_v1": args.imds_v1}
        self.imds_tokens = {}
        self.log_f = open(args.log, "a") if args.log else sys.stderr
        for ident in args.identity:
            parts = ident.split(":")
            self.identities[parts[0]] = {"secret": parts[1], "token": parts[2] if len(parts) > 2 else "",
                                         "expires": None}

    def now(self):
        return time.time() + self.knobs["clock_offset"]

    def log(self, line):
        try:
            self.log_f.write("%s aws-double: %s\n" % (time.strftime("%H:%M:%S"), line))
            self.log_f.flush()
        except (OSError, ValueError):
            pass

    def arn(self, name):
        return "arn:aws:secretsmanager:%s:123456789012:secret:%s-%s" % (
            self.args.region, name, hashlib.sha256(name.encode()).hexdigest()[:6])

    # --- faults ---
    def take_fault(self, where, target):
        with self.lock:
            for f in list(self.faults):
                if f.get("where", "api") != where:
                    continue
                if f.get("target") and f["target"] != target:
                    continue
                if f.get("skip", 0) > 0:
                    f["skip"] -= 1
                    continue
                if f["count"] == 0:
                    continue
                if f["count"] > 0:
                    f["count"] -= 1
                return dict(f)
        return None

    # --- SigV4 ---
    def verify(self, method, path, query, headers, body):
        auth = headers.get("authorization", [None])[0]
        if auth is None:
            raise AwsError("MissingAuthenticationTokenException", "Missing Authentication Token")
        m = AUTH_RE.match(auth)
        if not m:
            raise AwsError("IncompleteSignatureException", "Authorization header requires 'Credential', "
                           "'Signature' and 'SignedHeaders' parameters.")
        akid, d8, region, service, signed, sig = m.groups()
        signed = signed.split(";")
        date = headers.get("x-amz-date", [""])[0]
        with self.lock:
            ident = self.identities.get(akid)
        if ident is None:
            raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        if not re.match(r"^\d{8}T\d{6}Z$", date) or date[:8] != d8:
            raise AwsError("IncompleteSignatureException", "Date in Credential scope does not match X-Amz-Date")
        if region != self.args.region or service != "secretsmanager":
            raise AwsError("InvalidSignatureException", "Credential should be scoped to a valid region and "
                           "service 'secretsmanager'.")
        need = ["host", "x-amz-date", "x-amz-target"]
        if "x-amz-security-token" in headers:
            need.append("x-amz-security-token")
        for n in need:
            if n not in signed:
                raise AwsError("InvalidSignatureException", "'%s' must be a signed header." % n)
        if signed != sorted(signed) or any(n not in headers for n in signed):
            raise AwsError("InvalidSignatureException", "SignedHeaders are not sorted or name absent headers.")
        t = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc).timestamp()
        if abs(t - self.now()) > 300:
            raise AwsError("InvalidSignatureException", "Signature expired: %s is now earlier than %s" % (
                date, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.now() - 300))))
        want = sigv4(method, path, query, headers, signed, body, ident["secret"], date, region, service)
        if not hmac.compare_digest(want, sig):
            raise AwsError("InvalidSignatureException", "The request signature we calculated does not match "
                           "the signature you provided.")
        tok = headers.get("x-amz-security-token", [""])[0]
        if ident["token"] and not hmac.compare_digest(tok, ident["token"]):
            raise AwsError("UnrecognizedClientException", "The security token included in the request is invalid.")
        if ident["expires"] is not None and self.now() >= ident["expires"]:
            raise AwsError("ExpiredTokenException", "The security token included in the request is expired")
        return akid

    # --- operations ---
    def reserved(self, name):
        until = self.pending.get(name)
        if until is not None and until <= self.now():
            del self.pending[name]
            return False
        return until is not None

    def create(self, q):
        name = q.get("Name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise AwsError("InvalidParameterException", "Invalid name. Must be a valid name containing "
                           "alphanumeric characters, or any of the following: -/_+=.@!")
        has_s, has_b = "SecretString" in q, "SecretBinary" in q
        if has_s and has_b:
            raise AwsError("InvalidParameterException", "You can't specify both a binary secret value and "
                           "a string secret value in the same secret.")
        crt = q.get("ClientRequestToken")
        if crt is not None and (not isinstance(crt, str) or not 32 <= len(crt) <= 64):
            raise AwsError("InvalidParameterException", "ClientRequestToken must be 32-64 characters.")
        value = q.get("SecretString") if has_s else None
        binary = base64.b64decode(q["SecretBinary"]) if has_b else None
        with self.lock:
            if crt is not None and crt in self.tokens:
                n, v, resp = self.tokens[crt]
                if n == name and v == (value, binary):
                    return resp
                raise AwsError("ResourceExistsException", "The operation failed because the secret %s "
                               "already exists." % name)
            if self.knobs["bad_kms"]:
                raise AwsError("EncryptionFailure", "Secrets Manager can't encrypt the protected secret text "
                               "using the provided KMS key.")
            if self.reserved(name):
                raise AwsError("InvalidRequestException", "You can't create this secret because a secret "
                               "with this name is already scheduled for deletion.")
            if name in self.secrets:
                s = self.secrets[name]
                if s["deleted"] is not None:
                    raise AwsError("InvalidRequestException", "You can't create this secret because a secret "
                                   "with this name is already scheduled for deletion.")
                raise AwsError("ResourceExistsException", "The operation failed because the secret %s "
                               "already exists." % name)
            vid = crt or str(uuid.uuid4())
            self.secrets[name] = {"name": name, "string": value, "binary": binary, "kms": q.get("KmsKeyId"),
                                  "created": self.now(), "version": vid, "deleted": None}
            resp = {"ARN": self.arn(name), "Name": name, "VersionId": vid}
            if crt is not None:
                self.tokens[crt] = (name, (value, binary), resp)
            return resp

    def get(self, q):
        name = q.get("SecretId")
        if not isinstance(name, str):
            raise AwsError("InvalidParameterException", "SecretId is required.")
        with self.lock:
            s = self.secrets.get(name)
            if s is None:
                raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
            if s["deleted"] is not None:
                raise AwsError("InvalidRequestException", "You can't perform this operation on the secret "
                               "because it was marked for deletion.")
            if self.knobs["decrypt_failure"]:
                raise AwsError("DecryptionFailure", "Secrets Manager can't decrypt the protected secret text "
                               "using the provided KMS key.")
            r = {"ARN": self.arn(name), "CreatedDate": s["created"], "Name": name, "VersionId": s["version"],
                 "VersionStages": ["AWSCURRENT"]}
            if s["string"] is not None:
                r["SecretString"] = s["string"]
            elif s["binary"] is not None:
                r["SecretBinary"] = base64.b64encode(s["binary"]).decode()
            return r

    def delete(self, q):
        name = q.get("SecretId")
        force = q.get("ForceDeleteWithoutRecovery")
        if not isinstance(name, str):
            raise AwsError("InvalidParameterException", "SecretId is required.")
        if force and "RecoveryWindowInDays" in q:
            raise AwsError("InvalidParameterException", "You can't use ForceDeleteWithoutRecovery in "
                           "conjunction with RecoveryWindowInDays.")
        with self.lock:
            s = self.secrets.get(name)
            now = self.now()
            if force:
                if s is not None:
                    del self.secrets[name]
                    ms = self.knobs["async_delete_ms"]
                    if ms:
                        self.pending[name] = now + ms / 1000.0
                return {"ARN": self.arn(name), "DeletionDate": now, "Name": name}
            if s is None:
                raise AwsError("ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
            days = q.get("RecoveryWindowInDays", 30)
            s["deleted"] = now + days * 86400
            return {"ARN": self.arn(name), "DeletionDate": s["deleted"], "Name": name}

    def list(self, q):
        size = q.get("MaxResults", self.knobs["page_size"])
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise AwsError("InvalidParameterException", "MaxResults must be between 1 and 100.")
        with self.lock:
            tok = q.get("NextToken")
            start = 0
            if tok is not None:
                if tok not in self.next_tokens:
                    raise AwsError("InvalidNextTokenException", "The NextToken value is invalid.")
                start = self.next_tokens[tok]
            names = sorted(n for n, s in self.secrets.items()
                           if s["deleted"] is None or q.get("IncludePlannedDeletion"))
            page = names[start:start + size]
            r = {"SecretList": [{"ARN": self.arn(n), "Name": n, "CreatedDate": self.secrets[n]["created"],
                                 "SecretVersionsToStages": {self.secrets[n]["version"]: ["AWSCURRENT"]}}
                                for n in page]}
            if start + size < len(names):
                nt = base64.b64encode(rnd.token_bytes(24)).decode()
                self.next_tokens[nt] = start + size
                r["NextToken"] = nt
            return r

    def handle(self, method, path, query, headers, body):
        if method == "GET" and path == "/":
            return 200, "text/plain", b"healthy: secretsmanager.%s.amazonaws.com\n" % self.args.region.encode()
        if method != "POST" or path != "/":
            return 404, "text/plain", b"404 Not Found\n"
        target = headers.get("x-amz-target", [""])[0]
        try:
            ctype = headers.get("content-type", [""])[0]
            if ctype.split(";")[0].strip() != JSON11:
                raise AwsError("UnknownOperationException", "Content-Type must be %s" % JSON11)
            self.verify(method, path, query, headers, body)
            ops = {"secretsmanager.CreateSecret": self.create, "secretsmanager.GetSecretValue": self.get,
                   "secretsmanager.DeleteSecret": self.delete, "secretsmanager.ListSecrets": self.list}
            if target not in ops:
                raise AwsError("UnknownOperationException", "")
            try:
                q = json.loads(body.decode()) if body else {}
            except ValueError:
                raise AwsError("SerializationException", "Start of structure or map found where not expected.")
            if not isinstance(q, dict):
                raise AwsError("SerializationException", "Start of structure or map found where not expected.")
            return 200, JSON11, json.dumps(ops[target](q)).encode()
        except AwsError as e:
            code = e.code
            if self.args.namespaced_errors:
                code = "com.amazonaws.secretsmanager#" + code
            return e.status, JSON11, json.dumps({"__type": code, "message": e.msg}).encode()

    # --- credential endpoints ---
    def issue(self):
        akid = "ASIA" + rnd.token_hex(8).upper()
        secret = base64.b64encode(rnd.token_bytes(30)).decode()
        token = "IQoJb3JpZ2luX2Vj" + base64.b64encode(rnd.token_bytes(48)).decode()
        exp = self.now() + self.knobs["creds_ttl"]
        with self.lock:
            self.identities[akid] = {"secret": secret, "token": token, "expires": exp}
            self.counters["issued"] += 1
        return {"Code": "Success", "LastUpdated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.now())),
                "Type": "AWS-HMAC", "AccessKeyId": akid, "SecretAccessKey": secret, "Token": token,
                "Expiration": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(exp))}

    def meta(self, method, path, headers):
        role = self.args.role
        base = "/latest/meta-data/iam/security-credentials/"
        if path == "/latest/api/token":
            if method != "PUT":
                return 405, "text/plain", b""
            ttl = headers.get("x-aws-ec2-metadata-token-ttl-seconds", [None])[0]
            if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return 400, "text/plain", b""
            tok = base64.b64encode(rnd.token_bytes(36)).decode()
            with self.lock:
                self.imds_tokens[tok] = self.now() + int(ttl)
            return 200, "text/plain", tok.encode()
        if path.startswith(base) and method == "GET":
            tok = headers.get("x-aws-ec2-metadata-token", [None])[0]
            with self.lock:
                ok = tok is not None and self.imds_tokens.get(tok, 0) > self.now()
                v1 = self.knobs["imds_v1"]
            if tok is not None and not ok:
                return 401, "text/plain", b""
            if tok is None and not v1:
                return 401, "text/plain", b""
            if path == base:
                return 200, "text/plain", role.encode()
            if path == base + role:
                return 200, "text/plain", json.dumps(self.issue(), indent=2).encode()
            return 404, "text/plain", b""
        if path == "/container/creds" and method == "GET":
            want = self.args.container_auth
            if want and headers.get("authorization", [""])[0] != want:
                return 403, "application/json", b'{"message":"invalid authorization token"}'
            c = self.issue()
            del c["Code"], c["LastUpdated"], c["Type"]
            c["RoleArn"] = "arn:aws:iam::123456789012:role/" + role
            return 200, "application/json", json.dumps(c).encode()
        return 404, "text/plain", b""


def redact(headers, body):
    h = {}
    for k, v in headers.items():
        lk = k.lower()
        if lk == "authorization":
            v = re.sub(r"Signature=[0-9a-f]+", "Signature=<redacted>", v)
        elif lk in ("x-amz-security-token", "x-aws-ec2-metadata-token"):
            v = "<redacted>"
        h[k] = v
    b = None
    if body:
        try:
            q = json.loads(body.decode())
            if isinstance(q, dict):
                for k in ("SecretString", "SecretBinary"):
                    if k in q:
                        q[k] = "<redacted>"
            b = q
        except ValueError:
            b = "<%d bytes>" % len(body)
    return h, b


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aws-double"
    sys_version = ""

    def __getattr__(self, name):
        if name.startswith("do_"):
            return self.handle_any
        raise AttributeError(name)

    def log_message(self, fmt, *args):
        pass

    def abort(self):
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def handle_any(self):
        sm = self.server.sm
        meta = self.server.is_meta
        url = urllib.parse.urlsplit(self.path)
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if 0 < n <= MAX_BODY else b""
        headers = {}
        for k, v in self.headers.items():
            headers.setdefault(k.lower(), []).append(v)
        target = headers.get("x-amz-target", [""])[0].replace("secretsmanager.", "")
        h, b = redact(dict(self.headers.items()), body)
        entry = {"method": self.command, "path": url.path, "query": url.query, "headers": h, "body": b,
                 "target": target, "where": "meta" if meta else "api", "status": None}
        with sm.lock:
            sm.counters["requests"] += 1
            sm.requests.append(entry)
        rule = sm.take_fault(entry["where"], target or None)
        if rule and rule.get("action") == "delay":
            time.sleep(rule.get("delay_ms", 0) / 1000.0)
            rule = None
        if rule and rule.get("action") == "drop":
            entry["status"] = "dropped"
            self.abort()
            return
        if rule:
            st = int(rule.get("status", 500))
            if "body" in rule:
                ctype, out = rule.get("content_type", "text/plain"), rule["body"].encode()
            else:
                ctype, out = JSON11, json.dumps({"__type": rule.get("type", "InternalServiceError"),
                                                 "message": "injected fault"}).encode()
        elif meta:
            st, ctype, out = sm.meta(self.command, url.path, headers)
        else:
            st, ctype, out = sm.handle(self.command, url.path, url.query, headers, body)
        entry["status"] = st
        sm.log("%s %s %s %s" % (entry["where"], self.command, target or url.path, st))
        self.send_response(st)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(out)))
        if not meta:
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(out)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, sm, ctx, is_meta):
        self.sm, self.ctx, self.is_meta = sm, ctx, is_meta
        super().__init__(addr, Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = super().get_request()
        if self.ctx is not None:
            sock.settimeout(10)
            sock = self.ctx.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def finish_request(self, request, client_address):
        try:
            if self.ctx is not None:
                request.do_handshake()
                request.settimeout(300)
            self.RequestHandlerClass(request, client_address, self)
        except (ssl.SSLError, OSError):
            pass

    def handle_error(self, request, client_address):
        pass


class Control(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        b = (json.dumps(obj) + "\n").encode()
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
        sm = self.server.sm
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        p = urllib.parse.urlsplit(self.path).path.rstrip("/")
        try:
            b = json.loads(raw.decode()) if raw.strip() else {}
            self.reply(200, dict({"ok": True}, **(self.route(sm, p, b) or {})))
        except (ValueError, KeyError, TypeError) as e:
            self.reply(400, {"ok": False, "error": "%s: %s" % (type(e).__name__, e)})

    def route(self, sm, p, b):
        with sm.lock:
            if p == "/requests":
                return {"requests": list(sm.requests)}
            if p == "/requests/clear":
                sm.requests = []
                return None
            if p == "/secrets" and self.command == "GET":
                return {"secrets": [{"name": s["name"], "value": s["string"], "kms": s["kms"],
                                     "deleted": s["deleted"] is not None} for s in sm.secrets.values()]}
            if p == "/secrets":
                if b.get("remove"):
                    sm.secrets.pop(b["name"], None)
                else:
                    sm.secrets[b["name"]] = {"name": b["name"], "string": b["value"], "binary": None,
                                             "kms": None, "created": sm.now(), "version": str(uuid.uuid4()),
                                             "deleted": None}
                return None
            if p == "/fault":
                sm.fault_id += 1
                f = {"id": sm.fault_id, "count": int(b.get("count", 1)), "skip": int(b.get("skip", 0))}
                for k in ("target", "action", "status", "type", "body", "delay_ms", "where", "content_type"):
                    if k in b:
                        f[k] = b[k]
                f.setdefault("action", "status")
                sm.faults.append(f)
                return {"id": f["id"]}
            if p == "/faults/clear":
                sm.faults = []
                return None
            if p == "/knobs":
                for k, v in b.items():
                    if k not in sm.knobs:
                        raise KeyError(k)
                    sm.knobs[k] = v
                return None
            if p == "/identities/expire":
                n = 0
                for ident in sm.identities.values():
                    if ident["expires"] is not None:
                        ident["expires"] = sm.now() - 1
                        n += 1
                return {"expired": n}
            if p == "/identities":
                if b.get("remove"):
                    sm.identities.pop(b["akid"], None)
                else:
                    sm.identities[b["akid"]] = {"secret": b["secret"], "token": b.get("token", ""),
                                                "expires": b.get("expires")}
                return None
            if p == "/state":
                return {"counters": dict(sm.counters), "knobs": dict(sm.knobs), "secrets": len(sm.secrets),
                        "faults": list(sm.faults)}
        raise KeyError("unknown control path %s" % p)


def main(argv=None):
    parent = os.getppid()
    ap = argparse.ArgumentParser(description="AWS Secrets Manager test double (see the module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--region", default="us-east-2")
    ap.add_argument("--identity", action="append", default=[], metavar="AKID:SECRET[:TOKEN]")
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--creds-ttl", type=int, default=3600)
    ap.add_argument("--role", default="keyward-role")
    ap.add_argument("--container-auth", default="")
    ap.add_argument("--imds-v1", action="store_true")
    ap.add_argument("--namespaced-errors", action="store_true")
    ap.add_argument("--port-file")
    ap.add_argument("--control-port-file")
    ap.add_argument("--meta-port-file")
    ap.add_argument("--log")
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args(argv)

    sm = SM(args)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["http/1.1"])
    host, _, port = args.addr.rpartition(":")
    api = Server((host or "127.0.0.1", int(port)), sm, ctx, False)
    meta = Server(("127.0.0.1", 0), sm, None, True)
    ctl = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Control)
    ctl.daemon_threads = True
    ctl.sm = sm
    for s in (api, meta, ctl):
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    if args.meta_port_file:
        write_atomic(args.meta_port_file, b"%d\n" % meta.server_address[1])
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % ctl.server_address[1])
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % api.server_address[1])
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    sm.log("listening on %s:%d (TLS), metadata on 127.0.0.1:%d, control on 127.0.0.1:%d" % (
        host, api.server_address[1], meta.server_address[1], ctl.server_address[1]))
    while not stop.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    sm.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
