#!/usr/bin/env python3
"""Self-test of tests/doubles/fortanix_double.py, the Fortanix DSM TEST DOUBLE.

Fortanix DSM cannot run where keyward is tested and no official Fortanix
client installs here (shared/spec/keystores-cloud-and-legacy-config.md §6.7
lists none), so the double is pinned to the requests and answers written in
that spec instead: §4.3 (health, session auth and terminate), §4.4 (the
operations KES sends, with the bodies byte for byte), §4.5 (the two error
texts KES compares) and the checklist of §6.6.  When keyward's expectations
change, this file and the spec must change too.

Run: python3 tests/doubles/test_fortanix_double.py  (needs python3 and
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
DOUBLE = os.path.join(HERE, "fortanix_double.py")
API_KEY = base64.b64encode(b"3f1a0c62-0000-4000-8000-00000000a99:s3cr3t-app-secret").decode()
GROUP = "0b4a5f6e-0000-4000-8000-00000000b001"
TMP = None


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def setUpModule():
    global TMP
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command line is needed to make the test certificates")
    TMP = tempfile.mkdtemp(prefix="fx-double-test-")
    j = lambda n: os.path.join(TMP, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"), "-days", "2",
            "-subj", "/CN=fx test CA")
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
             "--api-key", API_KEY, "--group", GROUP, "--port-file", j("port"),
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

    def call(self, method, path, body=None, auth="basic", headers=None):
        h = dict(headers or {})
        if auth == "basic":
            h["Authorization"] = "Basic " + API_KEY
        elif auth:
            h["Authorization"] = auth
        if body is not None:
            body = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
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


def create_body(name, value, gid=None):
    # §4.4: KES's body, field order and all, as Go's json.Marshal writes it.
    s = '{"obj_type":"OPAQUE","name":"%s",' % name
    if gid:
        s += '"group_id":"%s",' % gid
    s += '"key_ops":["EXPORT","APPMANAGEABLE"],"value":"%s","enabled":true}' % (
        base64.b64encode(value).decode())
    return s.encode()


class FortanixDouble(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Double()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()

    def setUp(self):
        self.d.ctl("POST", "/faults/clear", {})
        self.d.ctl("POST", "/json-errors", {"on": False})

    def test_handshake(self):
        # §4.3: health 204 without auth; session auth 200 with a token;
        # terminate with that bearer 204, and the token is gone after.
        r = self.d.call("GET", "/sys/v1/health", auth=None)
        self.assertEqual(r.status, 204)
        self.assertEqual(r.body, b"")
        r = self.d.call("POST", "/sys/v1/session/auth")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.json["token_type"], "Bearer")
        self.assertGreater(r.json["expires_in"], 0)
        tok = r.json["access_token"]
        self.assertTrue(tok)
        r = self.d.call("POST", "/sys/v1/session/terminate", auth="Bearer " + tok)
        self.assertEqual(r.status, 204)
        r = self.d.call("POST", "/sys/v1/session/terminate", auth="Bearer " + tok)
        self.assertEqual(r.status, 401)

    def test_basic_auth_exact(self):
        # §6.6: Basic <exact API key> on every call, 401 otherwise.
        for a in (None, "Basic " + API_KEY + "x", "Bearer " + API_KEY, "basic " + API_KEY):
            r = self.d.call("POST", "/sys/v1/session/auth", auth=a)
            self.assertEqual(r.status, 401, a)
            r = self.d.call("POST", "/crypto/v1/keys/export", {"name": "x"}, auth=a)
            self.assertEqual(r.status, 401, a)

    def test_create_export_delete(self):
        # §4.4 and §4.5, with the exact texts KES compares.
        r = self.d.call("PUT", "/crypto/v1/keys", create_body("cx1", b"value-1"))
        self.assertEqual(r.status, 201, r.body)
        self.assertEqual(r.json["name"], "cx1")
        self.assertEqual(r.json["group_id"], GROUP)
        self.assertEqual(r.json["key_ops"], ["EXPORT", "APPMANAGEABLE"])
        self.assertTrue(r.json["enabled"])
        self.assertNotIn("value", r.json)
        kid = r.json["kid"]
        r = self.d.call("PUT", "/crypto/v1/keys", create_body("cx1", b"other", GROUP))
        self.assertEqual((r.status, r.body), (409, b"sobject already exists"))
        self.assertTrue(r.headers["Content-Type"].startswith("text/plain"))
        r = self.d.call("PUT", "/crypto/v1/keys", create_body("cx2", b"v", "no-such-group"))
        self.assertEqual(r.status, 404)
        r = self.d.call("PUT", "/crypto/v1/keys", b'{"obj_type":"WHAT","name":"cx3","value":"AA=="}')
        self.assertEqual(r.status, 400)
        r = self.d.call("PUT", "/crypto/v1/keys", b'{"obj_type":"OPAQUE","name":"cx3","value":"!!"}')
        self.assertEqual(r.status, 400)
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"cx1"}')
        self.assertEqual(r.status, 200)
        self.assertEqual(base64.b64decode(r.json["value"]), b"value-1")
        self.assertEqual(r.json["kid"], kid)
        self.assertIs(r.json["enabled"], True)
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"nope"}')
        self.assertEqual((r.status, r.body), (404, b"sobject does not exist"))
        r = self.d.call("DELETE", "/crypto/v1/keys/" + kid)
        self.assertEqual((r.status, r.body), (204, b""))
        r = self.d.call("DELETE", "/crypto/v1/keys/" + kid)
        self.assertEqual((r.status, r.body), (404, b"sobject does not exist"))
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"cx1"}')
        self.assertEqual(r.status, 404)

    def test_export_needs_export_op(self):
        self.d.ctl("POST", "/objects", {"name": "noexp", "value": "AAAA", "key_ops": ["APPMANAGEABLE"]})
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"noexp"}')
        self.assertEqual(r.status, 403)
        self.d.ctl("POST", "/objects", {"name": "off", "value": "AAAA", "enabled": False})
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"off"}')
        self.assertEqual(r.status, 200)
        self.assertIs(r.json["enabled"], False)

    def test_json_errors(self):
        # §6.6: one JSON {"message": ...} variant of the error bodies.
        self.d.ctl("POST", "/json-errors", {"on": True})
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"nope"}')
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertEqual(r.json, {"message": "sobject does not exist"})

    def test_list_paging(self):
        # §4.4 / §6.6: sort=name:asc, limit honoured, start= pages on
        # (from that name on); more than one page.
        for i in range(250):
            self.d.ctl("POST", "/objects", {"name": "lp%03d" % i, "value": "AAAA"})
        r = self.d.call("GET", "/crypto/v1/keys?sort=name:asc&limit=100")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        names = [o["name"] for o in r.json]
        self.assertEqual(len(names), 100)
        self.assertEqual(names, sorted(names))
        self.assertTrue(all("value" not in o for o in r.json))
        r = self.d.call("GET", "/crypto/v1/keys?sort=name:asc&limit=100&start=lp100")
        names = [o["name"] for o in r.json]
        self.assertEqual(names[0], "lp100")
        r = self.d.call("GET", "/crypto/v1/keys?sort=name:asc&limit=100&start=lp249")
        self.assertEqual([o["name"] for o in r.json if o["name"].startswith("lp")], ["lp249"])
        r = self.d.call("GET", "/crypto/v1/keys?sort=name:asc&limit=0")
        self.assertEqual(r.status, 400)
        for i in range(250):
            self.d.ctl("POST", "/objects", {"name": "lp%03d" % i, "remove": True})

    def test_status_and_faults(self):
        # §4.4 Status: GET <endpoint> answers without auth.
        r = self.d.call("GET", "/", auth=None)
        self.assertEqual(r.status, 200)
        self.d.ctl("POST", "/fault", {"path": "/crypto/v1/keys/export", "status": 503, "count": 1})
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"x"}')
        self.assertEqual(r.status, 503)
        r = self.d.call("POST", "/crypto/v1/keys/export", b'{"name":"x"}')
        self.assertEqual(r.status, 404)
        _, log = self.d.ctl("GET", "/requests")
        for e in log["requests"]:
            a = e["headers"].get("Authorization")
            self.assertNotIn(API_KEY, json.dumps(e))
            if a:
                self.assertTrue(a.endswith("<redacted>"))


if __name__ == "__main__":
    unittest.main()
