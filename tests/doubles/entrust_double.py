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
The common ones of tests/doubles/vendor_double_http.py (the request log, with
X-Vault-Auth "<redacted>" and the body's password and secret_data
"<redacted>"; latency; faults; shutdown), and:
POST /tokens {"ttl":S}  lifetime of tokens issued later
POST /tokens/expire {}  every token issued so far expires now
POST /users {"user","password","remove"?}
POST /secrets {"box","name","secret_data","expired"?}; {"box","name",
                        "remove":true} drops it
GET  /secrets?box=B     every secret of B with its data
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

EXISTS = "Secret already exists"
MISSING = "Secret not found"


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class KeyControl(App):
    name = "entrust-double"
    redacted_headers = ("x-vault-auth",)
    redacted_fields = ("password", "secret_data")

    def __init__(self, args):
        super().__init__(args)
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

    def err(self, status, text):
        return Resp(status, {"error": text})

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
            return self.err(405, "Method not allowed")
        if path.startswith("/vault/1.0/Login/"):
            vid = path[len("/vault/1.0/Login/"):].rstrip("/")
            if vid != self.vault:
                return self.err(404, "Vault not found")
            d = self.decode(body)
            if d is None or not isinstance(d.get("username"), str) or not isinstance(d.get("password"), str):
                return self.err(400, "username and password are required")
            pw = self.users.get(d["username"])
            if pw is None or not hmac.compare_digest(pw.encode(), d["password"].encode()):
                return self.err(401, "Invalid credentials")
            with self.lock:
                t = self.issue()
            t["user"] = d["username"]
            return Resp(200, t)
        tok = self.token_ok(headers)
        if tok is None:
            return self.err(401, "Invalid or expired token")
        if path == "/vault/1.0/Renew/":
            with self.lock:
                self.tokens.pop(tok, None)
                return Resp(200, self.issue())
        ops = {"/vault/1.0/GetBox/": self.get_box, "/vault/1.0/CreateSecret/": self.create,
               "/vault/1.0/CheckoutSecret/": self.checkout, "/vault/1.0/DeleteSecret/": self.delete,
               "/vault/1.0/ListSecretIds/": self.list}
        if path not in ops:
            return self.err(404, "Not found")
        d = self.decode(body)
        if d is None or not isinstance(d.get("box_id"), str):
            return self.err(400, "box_id is required")
        with self.lock:
            bid, b = self.box(d["box_id"])
            if b is None:
                return self.err(404, "Box not found")
            return ops[path](bid, b, d)

    def get_box(self, bid, b, d):
        return Resp(200, {"box_id": bid, "name": b["name"], "description": "test double box",
                          "secret_count": len(b["secrets"])})

    def create(self, bid, b, d):
        name, data = d.get("name"), d.get("secret_data")
        if not isinstance(name, str) or not name or not isinstance(data, str):
            return self.err(400, "name and secret_data are required")
        if name in b["secrets"]:
            return self.err(409, EXISTS)
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
            return self.err(404, MISSING)
        return Resp(200, {"secret_id": s["secret_id"], "name": s["name"], "secret_data": s["secret_data"]})

    def delete(self, bid, b, d):
        s = self.find(b, d.get("secret_id"))
        if s is None:
            return self.err(404, MISSING)
        del b["secrets"][s["name"]]
        return Resp(200, {})

    def list(self, bid, b, d):
        n = d.get("max_items", 100)
        if not isinstance(n, int) or n < 1 or n > 1000:
            return self.err(400, "max_items must be 1 to 1000")
        after = None
        if d.get("next_token") is not None:
            try:
                ctx = json.loads(base64.b64decode(d["next_token"], validate=True).decode())
                after = ctx["next_ctx"]
                if ctx.get("box_id") != d["box_id"] or not isinstance(after, str):
                    raise ValueError
            except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError):
                return self.err(400, "Invalid next_token")
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

    def control(self, command, p, b, q):
        if p == "/tokens":
            self.token_ttl = int(b["ttl"])
            return None
        if p == "/tokens/expire":
            for t in self.tokens:
                self.tokens[t] = time.time() - 1
            return {"tokens": len(self.tokens)}
        if p == "/users":
            if b.get("remove"):
                self.users.pop(b["user"], None)
            else:
                self.users[str(b["user"])] = str(b["password"])
            return None
        if p == "/secrets":
            if command == "GET":
                box = (q.get("box") or [None])[0]
                _, bx = self.box(box)
                if bx is None:
                    raise KeyError("no box %s" % box)
                return {"secrets": [dict(s) for s in bx["secrets"].values()]}
            _, bx = self.box(b["box"])
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
        raise KeyError("unknown control path %s" % p)


def main(argv=None):
    ap = argparse.ArgumentParser(description="Entrust KeyControl test double (see the module docstring)")
    add_common_args(ap)
    ap.add_argument("--vault", required=True)
    ap.add_argument("--user", action="append", default=[], metavar="NAME:PASSWORD")
    ap.add_argument("--box", action="append", default=[])
    ap.add_argument("--token-ttl", type=int, default=600)
    args = ap.parse_args(argv)
    return run(ap, args, KeyControl(args))


if __name__ == "__main__":
    sys.exit(main())
