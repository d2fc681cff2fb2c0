#!/usr/bin/env python3
"""Self-test of tests/doubles/entrust_double.py, the Entrust KeyControl TEST
DOUBLE.

KeyControl cannot run where keyward is tested and no official Entrust
client installs here (shared/spec/keystores-cloud-and-legacy-config.md
§6.7 lists none), so the double is pinned to the requests and answers
written in that spec instead: §5.3 (login, X-Vault-Auth, renewal), §5.4
(the operations KES sends, with the bodies byte for byte), §5.6 (the two
error texts KES compares) and the checklist of §6.6.  When keyward's
expectations change, this file and the spec must change too.

Run: python3 tests/doubles/test_entrust_double.py  (needs python3 and
openssl; binds 127.0.0.1 only; a few seconds).
"""

import base64
import http.client
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "entrust_double.py")
VAULT = "e30497c1-bff7-4e81-beb7-fb35c4b7410c"
USER, PASSWORD = "kes", "pw-" + base64.b16encode(os.urandom(8)).decode()
BOX = "tenant-1"
TMP = None


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def setUpModule():
    global TMP
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command line is needed to make the test certificates")
    TMP = tempfile.mkdtemp(prefix="en-double-test-")
    j = lambda n: os.path.join(TMP, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"), "-days", "2",
            "-subj", "/CN=en test CA")
    openssl("req", *ec, "-keyout", j("server.key"), "-out", j("server.csr"), "-subj", "/CN=127.0.0.1")
    with open(j("s.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", j("server.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"),
            "-CAcreateserial", "-days", "2", "-extfile", j("s.ext"), "-out", j("server.pem"))


def tearDownModule():
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


class R:
    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body
        try:
            self.json = json.loads(body.decode()) if body else None
        except ValueError:
            self.json = None


class Double:
    def __init__(self, extra=()):
        j = lambda n: os.path.join(TMP, n)  # noqa: E731
        for f in ("port", "cport"):
            if os.path.exists(j(f)):
                os.unlink(j(f))
        self.proc = subprocess.Popen(
            [sys.executable, DOUBLE, "--cert", j("server.pem"), "--key", j("server.key"),
             "--vault", VAULT, "--user", USER + ":" + PASSWORD, "--box", BOX,
             "--token-ttl", "2", "--port-file", j("port"),
             "--control-port-file", j("cport"), "--log", j("double.log")] + list(extra))
        for _ in range(200):
            if os.path.exists(j("port")) and os.path.exists(j("cport")):
                break
            time.sleep(0.05)
        with open(j("port")) as f:
            self.port = int(f.read())
        with open(j("cport")) as f:
            self.cport = int(f.read())
        self.ctx = ssl.create_default_context(cafile=j("ca.pem"))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def call(self, method, path, body=None, token=None, ctype=False):
        h = {}
        if token:
            h["X-Vault-Auth"] = token
        if body is not None:
            body = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
        if ctype:
            h["Content-Type"] = "application/json"
        c = http.client.HTTPSConnection("127.0.0.1", self.port, context=self.ctx, timeout=10)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        out = R(r.status, r.headers, r.read())
        c.close()
        return out

    def ctl(self, method, path, body=None):
        c = http.client.HTTPConnection("127.0.0.1", self.cport, timeout=10)
        c.request(method, path, body=json.dumps(body).encode() if body is not None else None)
        r = c.getresponse()
        out = json.loads(r.read().decode())
        c.close()
        return r.status, out


def login(d):
    # §5.3: the path, body and Content-Type KES (and Entrust's own action)
    # send.
    body = ('{"username":"%s","password":"%s"}' % (USER, PASSWORD)).encode()
    return d.call("POST", "/vault/1.0/Login/%s/" % VAULT, body, ctype=True)


def rfc3339(s):
    return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


class EntrustDouble(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Double()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def setUp(self):
        self.d.ctl("POST", "/faults/clear", {})
        self.d.ctl("POST", "/tokens", {"ttl": 600})
        r = login(self.d)
        self.assertEqual(r.status, 200, r.body)
        self.tok = r.json["access_token"]

    def post(self, op, body, tok=None):
        return self.d.call("POST", "/vault/1.0/%s/" % op, body.encode(), token=tok or self.tok)

    def test_login(self):
        r = login(self.d)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertTrue(r.json["access_token"])
        self.assertGreater(rfc3339(r.json["expires_at"]), time.time() + 500)
        bad = ('{"username":"%s","password":"nope"}' % USER).encode()
        r = self.d.call("POST", "/vault/1.0/Login/%s/" % VAULT, bad, ctype=True)
        self.assertEqual(r.status, 401)
        self.assertIsInstance(r.json["error"], str)
        r = self.d.call("POST", "/vault/1.0/Login/nosuchvault/", bad, ctype=True)
        self.assertEqual(r.status, 404)

    def test_token_required_and_renewed(self):
        # §6.6: X-Vault-Auth on every other call; Renew gives a fresh
        # token; an expired one renews no more.
        r = self.post("GetBox", '{"box_id":"%s"}' % BOX, tok="bogus")
        self.assertEqual(r.status, 401)
        r = self.d.call("POST", "/vault/1.0/GetBox/", ('{"box_id":"%s"}' % BOX).encode())
        self.assertEqual(r.status, 401)
        r = self.d.call("POST", "/vault/1.0/Renew/", token=self.tok)
        self.assertEqual(r.status, 200)
        new = r.json["access_token"]
        self.assertNotEqual(new, self.tok)
        self.assertTrue(r.json["expires_at"])
        self.assertEqual(self.post("GetBox", '{"box_id":"%s"}' % BOX, tok=new).status, 200)
        self.d.ctl("POST", "/tokens/expire", {})
        self.assertEqual(self.post("GetBox", '{"box_id":"%s"}' % BOX, tok=new).status, 401)
        self.assertEqual(self.d.call("POST", "/vault/1.0/Renew/", token=new).status, 401)

    def test_box(self):
        r = self.post("GetBox", '{"box_id":"%s"}' % BOX)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["name"], BOX)
        r = self.post("GetBox", '{"box_id":"%s"}' % r.json["box_id"])
        self.assertEqual(r.status, 200)
        r = self.post("GetBox", '{"box_id":"nobox"}')
        self.assertEqual(r.status, 404)

    def test_secrets(self):
        # §5.4 bodies as KES sends them; §5.6 the two exact texts.
        data = base64.b64encode(b"kes value").decode()
        r = self.post("CreateSecret", '{"box_id":"%s","name":"s1","secret_data":"%s"}' % (BOX, data))
        self.assertEqual(r.status, 200, r.body)
        r = self.post("CreateSecret", '{"box_id":"%s","name":"s1","secret_data":"%s"}' % (BOX, data))
        self.assertEqual((r.status, r.body), (409, b'{"error":"Secret already exists"}'))
        self.assertEqual(r.headers["Content-Type"], "application/json")
        r = self.post("CheckoutSecret", '{"box_id":"%s","secret_id":"s1"}' % BOX)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["secret_data"], data)
        r = self.post("CheckoutSecret", '{"box_id":"%s","secret_id":"nope"}' % BOX)
        self.assertEqual((r.status, r.body), (404, b'{"error":"Secret not found"}'))
        r = self.post("DeleteSecret", '{"box_id":"%s","secret_id":"s1"}' % BOX)
        self.assertEqual(r.status, 200)
        r = self.post("DeleteSecret", '{"box_id":"%s","secret_id":"s1"}' % BOX)
        self.assertEqual((r.status, r.body), (404, b'{"error":"Secret not found"}'))

    def test_list_paging(self):
        # §5.4: max_items, next_token = base64 {"box_id","next_ctx"},
        # expired flags; more than one page.
        for i in range(30):
            self.d.ctl("POST", "/secrets", {"box": BOX, "name": "l%02d" % i, "secret_data": "AA==",
                                            "expired": i == 3})
        names, tok, pages = [], None, 0
        while True:
            body = '{"box_id":"%s","max_items":%d' % (BOX, 12)
            if tok:
                body += ',"next_token":"%s"' % tok
            r = self.post("ListSecretIds", body + "}")
            self.assertEqual(r.status, 200, r.body)
            pages += 1
            names += [(s["name"], s["expired"]) for s in r.json["secrets"]]
            tok = r.json.get("next_token")
            if not tok:
                break
            ctx = json.loads(base64.b64decode(tok))
            self.assertEqual(ctx, {"box_id": BOX, "next_ctx": names[-1][0]})
        self.assertEqual(pages, 3)
        self.assertEqual([n for n, _ in names], ["l%02d" % i for i in range(30)])
        self.assertEqual([n for n, e in names if e], ["l03"])
        r = self.post("ListSecretIds", '{"box_id":"%s","max_items":12,"next_token":"!!"}' % BOX)
        self.assertEqual(r.status, 400)
        for i in range(30):
            self.d.ctl("POST", "/secrets", {"box": BOX, "name": "l%02d" % i, "remove": True})

    def test_faults_and_redaction(self):
        self.d.ctl("POST", "/fault", {"path": "/vault/1.0/GetBox/", "status": 503})
        self.assertEqual(self.post("GetBox", '{"box_id":"%s"}' % BOX).status, 503)
        self.assertEqual(self.post("GetBox", '{"box_id":"%s"}' % BOX).status, 200)
        _, log = self.d.ctl("GET", "/requests")
        text = json.dumps(log)
        self.assertNotIn(PASSWORD, text)
        self.assertNotIn(self.tok, text)


if __name__ == "__main__":
    unittest.main()
