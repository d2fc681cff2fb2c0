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
The common ones of tests/doubles/vendor_double_http.py (the request log, with
Authorization "<scheme> <redacted>" and the body's value "<redacted>";
latency; faults; shutdown), and:
POST /api-keys {"key","remove"?}
POST /json-errors {"on":bool}
POST /objects {"name","value"(base64),"enabled"?,"key_ops"?,"group_id"?}
                        plant an object; {"name","remove":true} drops it
GET  /objects           every object with its value
Fault actions: those of vendor_double_http.py, and "list" (ignore start=
and answer the first page).
"""

import argparse
import base64
import binascii
import hmac
import json
import secrets
import sys
import time
import uuid

from vendor_double_http import App, Resp, add_common_args, run

EXISTS = "sobject already exists"
MISSING = "sobject does not exist"
OBJ_TYPES = ("AES", "DES", "DES3", "RSA", "DSA", "EC", "KCDSA", "ECKCDSA", "BIP32", "BLS",
             "OPAQUE", "HMAC", "SECRET", "CERTIFICATE", "ARIA", "SEED", "LMS")
KEY_OPS = ("SIGN", "VERIFY", "ENCRYPT", "DECRYPT", "WRAPKEY", "UNWRAPKEY", "DERIVEKEY",
           "MACGENERATE", "MACVERIFY", "EXPORT", "APPMANAGEABLE", "HIGHVOLUME", "AGREEKEY")
ACCT = "5c3e5d84-0000-4000-8000-00000000acc7"


def stamp(t):
    # DSM's timestamps: "20170705T184409Z".
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


class DSM(App):
    name = "fortanix-double"
    redacted_headers = ("authorization",)
    redacted_fields = ("value",)
    extra_actions = ("list",)

    def __init__(self, args):
        super().__init__(args)
        self.api_keys = set(args.api_key)
        self.groups = list(args.group) or ["7a3d9b2e-0000-4000-8000-00000000a001"]
        self.app = str(uuid.uuid4())
        self.objects = {}      # kid -> sobject (with "value")
        self.sessions = {}     # token -> expiry
        self.json_errors = args.json_errors
        self.token_ttl = args.token_ttl

    def err(self, status, text):
        if self.json_errors:
            return Resp(status, {"message": text})
        return Resp(status, text=text)

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
        if info.get("rule"):
            start = None
        desc = sort == "name:desc"
        with self.lock:
            objs = sorted(self.objects.values(), key=lambda o: o["name"].encode(), reverse=desc)
        if start is not None:
            sb = start.encode()
            objs = [o for o in objs if (o["name"].encode() <= sb if desc else o["name"].encode() >= sb)]
        return Resp(200, [self.public(o, False) for o in objs[offset:offset + limit]])

    def control(self, command, p, b, q):
        if p == "/api-keys":
            if b.get("remove"):
                self.api_keys.discard(b["key"])
            else:
                self.api_keys.add(str(b["key"]))
            return None
        if p == "/json-errors":
            self.json_errors = bool(b["on"])
            return None
        if p == "/objects":
            if command == "GET":
                return {"objects": [dict(o) for o in self.objects.values()]}
            old = self.by_name(b["name"])
            if old is not None:
                del self.objects[old["kid"]]
            if b.get("remove"):
                return None
            base64.b64decode(b["value"], validate=True)
            o = self.new_object(str(b["name"]), b.get("obj_type", "OPAQUE"), b["value"],
                                b.get("key_ops", ["EXPORT", "APPMANAGEABLE"]), b.get("enabled", True),
                                b.get("group_id", self.groups[0]))
            self.objects[o["kid"]] = o
            return {"kid": o["kid"]}
        raise KeyError("unknown control path %s" % p)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Fortanix DSM test double (see the module docstring)")
    add_common_args(ap)
    ap.add_argument("--api-key", action="append", default=[])
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("--token-ttl", type=int, default=600)
    ap.add_argument("--json-errors", action="store_true")
    args = ap.parse_args(argv)
    return run(ap, args, DSM(args))


if __name__ == "__main__":
    sys.exit(main())
