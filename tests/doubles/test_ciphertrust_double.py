#!/usr/bin/env python3
"""Self-test of tests/doubles/ciphertrust_double.py, the Thales CipherTrust
Manager TEST DOUBLE.

CipherTrust Manager cannot run where keyward is tested (it is a commercial
appliance), so keyward's CipherTrust store is tested against a double.  This
suite pins the double to the contract, shared/spec/keystores-vault-
ciphertrust-kmip-pkcs11.md ("the spec"): every assertion names the section
whose request/response example it checks (§2.3 authentication, §2.4
operations, §2.5 response facts, §5.4 the double's checklist), so the double
cannot drift with keyward: when keyward's expectations change, this file and
the spec must change too.  Facts the spec marks [unverified] (the 401 bodies,
the refresh-token error) are checked as the double's documented choice.

Run: python3 tests/doubles/test_ciphertrust_double.py  (needs python3 and
openssl; binds 127.0.0.1 only; about 10 s).
"""

import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "ciphertrust_double.py")

TMP = None
CA = SRV_CERT = SRV_KEY = CLI_CERT = CLI_KEY = None
RT = "rt-" + uuid.uuid4().hex          # grep'd for in the logs
RT_B = "rtb-" + uuid.uuid4().hex       # a token of domain "teamb"
NOT_FOUND = {"code": 16, "codeDesc": "NCERRResourceNotFound: Resource not found"}


def slurp(path):
    with open(path) as f:
        return f.read()


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    global CA, SRV_CERT, SRV_KEY, CLI_CERT, CLI_KEY
    j = lambda n: os.path.join(d, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"), "-days", "2",
            "-subj", "/CN=ct test CA")
    for name, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
                          ("client", "keyward", "extendedKeyUsage=clientAuth\n")):
        openssl("req", *ec, "-keyout", j(name + ".key"), "-out", j(name + ".csr"), "-subj", "/CN=" + cn)
        with open(j(name + ".ext"), "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", j(name + ".csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"),
                "-CAcreateserial", "-days", "2", "-extfile", j(name + ".ext"), "-out", j(name + ".pem"))
    CA, SRV_CERT, SRV_KEY = j("ca.pem"), j("server.pem"), j("server.key")
    CLI_CERT, CLI_KEY = j("client.pem"), j("client.key")


def setUpModule():
    global TMP
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command line is needed to make the test certificates")
    TMP = tempfile.mkdtemp(prefix="ct-double-test-")
    make_pki(TMP)


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

    def __repr__(self):
        return "R(%s, %r)" % (self.status, self.body[:300])


class Double:
    """One ciphertrust_double.py subprocess."""

    def __init__(self, name, extra=(), mtls=False):
        self.name = name
        self.state = os.path.join(TMP, name + ".state.json")
        self.portf = os.path.join(TMP, name + ".port")
        self.cportf = os.path.join(TMP, name + ".cport")
        self.errf = os.path.join(TMP, name + ".stderr")
        self.mtls = mtls
        self.cmd = [sys.executable, DOUBLE, "--addr", "127.0.0.1:0", "--cert", SRV_CERT, "--key", SRV_KEY,
                    "--state", self.state, "--port-file", self.portf, "--control-port-file", self.cportf,
                    "--refresh-token", RT, "--refresh-token", RT_B + ":teamb", "--no-fsync"] + list(extra)
        if mtls:
            self.cmd += ["--client-ca", CA]
        self.start()

    def start(self, cmd=None):
        for f in (self.portf, self.cportf):
            if os.path.exists(f):
                os.unlink(f)
        err = open(self.errf, "a")
        self.proc = subprocess.Popen(cmd or self.cmd, stdout=subprocess.PIPE, stderr=err)
        err.close()
        deadline = time.time() + 15
        while not (os.path.exists(self.portf) and os.path.exists(self.cportf)):
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("double %s did not start: %s" % (self.name, slurp(self.errf)))
            time.sleep(0.02)
        self.port = int(slurp(self.portf))
        self.cport = int(slurp(self.cportf))
        self.banner = self.proc.stdout.readline().decode().strip()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        return self.proc.returncode

    def req(self, method, path, body=None, jwt=None, headers=None, cert=True, timeout=10):
        ctx = ssl.create_default_context(cafile=CA)
        if cert and self.mtls:
            ctx.load_cert_chain(CLI_CERT, CLI_KEY)
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout, context=ctx)
        h = {}
        if jwt:
            h["Authorization"] = "Bearer " + jwt
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body, separators=(",", ":"))
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return R(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def ctl(self, path, body=None, method=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.cport, timeout=20)
        method = method or ("GET" if body is None else "POST")
        conn.request(method, path, body=json.dumps(body) if body is not None else None)
        r = conn.getresponse()
        out = R(r.status, dict(r.getheaders()), r.read())
        conn.close()
        return out

    def login(self, rt=RT, domain=""):
        r = self.auth(rt, domain)
        assert r.status == 200, r
        return r.json["jwt"]

    def auth(self, rt=RT, domain=""):
        return self.req("POST", "/api/v1/auth/tokens",
                        {"grant_type": "refresh_token", "refresh_token": rt, "domain": domain})

    def reset(self):
        for p, b in (("/faults/clear", {}), ("/latency", {"ms": 0, "paths": {}}),
                     ("/tokens", {"ttl": 300}), ("/clock", {"offset": 0}), ("/deny", {"clear": True})):
            assert self.ctl(p, b).status == 200


def uniq(prefix="k"):
    return prefix + uuid.uuid4().hex[:10]


def create(d, jwt, name, material="v"):
    return d.req("POST", "/api/v1/vault/secrets", {"dataType": "seed", "material": material, "name": name},
                 jwt=jwt)


class CTCase(unittest.TestCase):
    extra = ()
    mtls = False
    name = "tls"

    @classmethod
    def setUpClass(cls):
        cls.d = Double(cls.name, cls.extra, mtls=cls.mtls)
        cls.jwt = cls.d.login()

    @classmethod
    def tearDownClass(cls):
        cls.d.stop()
        log = slurp(cls.d.errf)
        for secret in (RT, RT_B, cls.jwt):
            assert secret not in log, "a credential is in the double's log"

    def setUp(self):
        self.d.reset()

    def error_body(self, r, status, where):
        self.assertEqual(r.status, status, where + ": %r" % (r,))
        self.assertTrue(r.headers.get("content-type", "").startswith("application/json"), where)
        self.assertIsInstance(r.json.get("code"), int, where + ": {\"code\":<int>,...} (§2.5)")
        self.assertIsInstance(r.json.get("codeDesc"), str, where + ": {...,\"codeDesc\":<string>} (§2.5)")


class TestAuth(CTCase):
    def test_refresh_token_grant(self):
        r = self.d.auth()
        self.assertEqual(r.status, 200, "§2.3: a known refresh token gets 200")
        self.assertEqual(r.json["token_type"], "Bearer", "§2.3: token_type \"Bearer\"")
        self.assertEqual(r.json["duration"], 300, "§2.3 / §5.4: duration defaults to 300 s")
        self.assertTrue(r.json["jwt"], "§2.3: jwt non-empty")
        self.assertIn("refresh_token_id", r.json, "§5.4: refresh_token_id in the answer")
        self.assertEqual(r.headers["content-type"], "application/json")
        log = self.d.ctl("/requests").json["requests"]
        last = [e for e in log if e["path"] == "/api/v1/auth/tokens"][-1]
        self.assertEqual(last["body"], '{"grant_type":"refresh_token","refresh_token":"<redacted>",'
                                       '"domain":""}', "§5.4: the request log redacts the refresh token")

    def test_refusals(self):
        self.error_body(self.d.auth("nope"), 401, "§5.4: unknown refresh token -> 4xx JSON error")
        self.error_body(self.d.auth(RT, "teamb"), 401, "§5.4: a domain the token is not in -> 4xx")
        self.assertEqual(self.d.auth(RT_B, "teamb").status, 200, "§2.3: domain sent verbatim selects it")
        self.assertEqual(self.d.auth(RT, "root").status, 200, "root is the root domain")
        r = self.d.req("POST", "/api/v1/auth/tokens", {"grant_type": "password", "username": "u"})
        self.error_body(r, 400, "§5.4: only grant_type refresh_token")
        self.error_body(self.d.req("POST", "/api/v1/auth/tokens", b"{x"), 400, "bad JSON")

    def test_revocation_and_expiry(self):
        rt = "tmp-" + uuid.uuid4().hex
        self.d.ctl("/refresh-tokens", {"token": rt})
        jwt = self.d.login(rt)
        self.assertEqual(self.d.req("GET", "/api/v1/vault/secrets", jwt=jwt).status, 200)
        self.d.ctl("/refresh-tokens", {"token": rt, "remove": True})
        self.error_body(self.d.auth(rt), 401, "§5.4: refresh-token revocation hook")
        self.d.ctl("/tokens", {"ttl": 2})
        jwt = self.d.login()
        self.assertEqual(self.d.auth().json["duration"], 2, "§5.4: duration configurable")
        self.d.ctl("/clock", {"advance": 3})
        r = self.d.req("GET", "/api/v1/vault/secrets", jwt=jwt)
        self.assertEqual(r.status, 401, "§2.5 / §5.4: an expired JWT gets 401 (injectable clock)")
        self.assertIsNone(r.json, "the double answers 401 with a text body (§6: unverified)")
        jwt = self.d.login()
        self.d.ctl("/tokens/expire", {})
        self.assertEqual(self.d.req("GET", "/api/v1/vault/secrets", jwt=jwt).status, 401,
                         "/tokens/expire expires every JWT")

    def test_bearer_check(self):
        r = self.d.req("GET", "/api/v1/vault/secrets")
        self.assertEqual(r.status, 401, "§5.4: missing Authorization -> 401")
        self.assertIsNone(r.json, "§2.5: missing Authorization -> a non-JSON text body")
        self.assertTrue(r.headers["content-type"].startswith("text/plain"))
        self.assertEqual(self.d.req("GET", "/api/v1/vault/secrets", jwt="bogus").status, 401,
                         "§5.4: unknown JWT -> 401")

    def test_status_endpoint(self):
        r = self.d.req("GET", "/")
        self.assertEqual(r.status, 200, "§5.4: GET / answers without auth (KES's Status)")
        self.assertEqual(self.d.req("GET", "/nothing").status, 404)


class TestSecrets(CTCase):
    def test_create_export_delete(self):
        n = uniq()
        r = create(self.d, self.jwt, n, "bWF0ZXJpYWw=")
        self.assertEqual(r.status, 201, "§2.4 Create / §2.5: name free -> 201")
        for f in ("id", "name", "dataType", "uri", "createdAt"):
            self.assertIn(f, r.json, "§5.4: 201 with a resource body (%s)" % f)
        self.assertNotIn("material", r.json, "the resource does not echo the material")
        r = create(self.d, self.jwt, n)
        self.error_body(r, 409, "§2.5: name already used -> 409")
        self.assertTrue(r.json["codeDesc"].startswith("NCERRConflict"), "§2.5: codeDesc NCERRConflict: ...")
        r = self.d.req("POST", "/api/v1/vault/secrets/%s/export?type=name" % n, jwt=self.jwt)
        self.assertEqual(r.status, 200, "§2.4 Get: export 200")
        self.assertEqual(r.json["material"], "bWF0ZXJpYWw=", "§2.5: export {\"material\":\"<text>\"}")
        self.assertEqual(sorted(r.json), ["dataType", "id", "material", "name"], "§5.4 export fields")
        r = self.d.req("DELETE", "/api/v1/vault/secrets/%s?type=name" % n, jwt=self.jwt)
        self.assertEqual((r.status, r.body), (204, b""), "§2.5: delete, exists -> 204, empty")
        for m, p in (("POST", "/api/v1/vault/secrets/%s/export?type=name"),
                     ("DELETE", "/api/v1/vault/secrets/%s?type=name")):
            r = self.d.req(m, p % n, jwt=self.jwt)
            self.assertEqual((r.status, r.json), (404, NOT_FOUND),
                             "§2.5: %s absent -> 404 {code:16, NCERRResourceNotFound}" % m)

    def test_create_validation(self):
        r = self.d.req("POST", "/api/v1/vault/secrets", {"dataType": "seed", "name": uniq()}, jwt=self.jwt)
        self.error_body(r, 400, "§5.4: missing fields -> 400 JSON error")
        r = create(self.d, self.jwt, uniq(), "")
        self.error_body(r, 400, "empty material -> 400")

    def test_domains(self):
        n = uniq()
        self.assertEqual(create(self.d, self.jwt, n).status, 201)
        jb = self.d.login(RT_B, "teamb")
        r = self.d.req("POST", "/api/v1/vault/secrets/%s/export?type=name" % n, jwt=jb)
        self.assertEqual((r.status, r.json), (404, NOT_FOUND), "§5.3 CT11: invisible in another domain")
        self.assertEqual(create(self.d, jb, n).status, 201, "the same name is free in another domain")
        names = [x["name"] for x in self.d.req("GET", "/api/v1/vault/secrets?limit=1000&skip=0",
                                                jwt=jb).json["resources"]]
        self.assertEqual(names, [n], "a domain lists its own secrets only")

    def test_permission_hook(self):
        n = uniq()
        self.assertEqual(create(self.d, self.jwt, n).status, 201)
        self.d.ctl("/deny", {"op": "delete", "status": 404})
        r = self.d.req("DELETE", "/api/v1/vault/secrets/%s?type=name" % n, jwt=self.jwt)
        self.assertEqual((r.status, r.json), (404, NOT_FOUND), "§2.5: delete not permitted -> 404")
        r = self.d.req("POST", "/api/v1/vault/secrets/%s/export?type=name" % n, jwt=self.jwt)
        self.assertEqual(r.status, 200, "the secret is still there and readable")
        self.d.ctl("/deny", {"clear": True})
        self.d.ctl("/deny", {"op": "export", "status": 403, "text": True, "refresh_token": RT})
        r = self.d.req("POST", "/api/v1/vault/secrets/%s/export?type=name" % n, jwt=self.jwt)
        self.assertEqual(r.status, 403, "§5.4: per-token 403")
        self.assertIsNone(r.json, "§5.3 CT6: a 403 with a text body")

    def test_strict_hex_off_by_default(self):
        self.assertEqual(create(self.d, self.jwt, uniq(), "not hex!").status, 201,
                         "§2.5: KES's base64/JSON material is accepted unless --strict-hex")


class TestList(CTCase):
    name = "list"

    def test_pages(self):
        rt = "pages-" + uuid.uuid4().hex
        self.d.ctl("/refresh-tokens", {"token": rt, "domain": "pages"})
        jwt = self.d.login(rt, "pages")
        self.assertEqual(self.d.req("GET", "/api/v1/vault/secrets?limit=200&skip=0", jwt=jwt).json,
                         {"skip": 0, "limit": 200, "total": 0, "resources": []},
                         "§2.5: list shape {skip,limit,total,resources}; empty store")
        names = ["p%03d" % i for i in range(450)]
        for n in names:
            self.d.ctl("/secrets", {"name": n, "material": "m", "domain": "pages"})
        got, skip, requests = [], 0, 0
        while True:
            r = self.d.req("GET", "/api/v1/vault/secrets?limit=200&skip=%d" % skip, jwt=jwt)
            requests += 1
            self.assertEqual((r.json["skip"], r.json["limit"], r.json["total"]), (skip, 200, 450),
                             "§5.4: skip and limit echoed, total counted")
            got += [x["name"] for x in r.json["resources"]]
            skip += len(r.json["resources"])
            if r.json["skip"] >= r.json["total"]:
                break
        self.assertEqual(got, names, "§5.4: stable order, every name once")
        self.assertEqual(requests, 4, "§2.4: 450 secrets = 3 pages + 1 empty request in KES's loop")

    def test_list_faults(self):
        self.d.ctl("/secrets", {"name": uniq(), "material": "m"})
        self.d.ctl("/fault", {"action": "list", "skip_delta": 1, "path": "/api/v1/vault/secrets"})
        r = self.d.req("GET", "/api/v1/vault/secrets?limit=200&skip=0", jwt=self.jwt)
        self.assertEqual(r.json["skip"], 1, "§5.4: injectable wrong skip")
        self.d.ctl("/fault", {"action": "list", "empty": True, "path": "/api/v1/vault/secrets"})
        r = self.d.req("GET", "/api/v1/vault/secrets?limit=200&skip=0", jwt=self.jwt)
        self.assertEqual(r.json["resources"], [], "§5.4: injectable empty page")
        self.assertGreater(r.json["total"], 0, "while skip < total")


class TestFaults(CTCase):
    name = "faults"

    def test_status_latency_drop_truncate_tls(self):
        self.d.ctl("/fault", {"path": "/api/v1/vault/secrets", "status": 503, "count": 2})
        for _ in range(2):
            self.error_body(self.d.req("GET", "/api/v1/vault/secrets", jwt=self.jwt), 503, "§5.4: 5xx")
        self.assertEqual(self.d.req("GET", "/api/v1/vault/secrets", jwt=self.jwt).status, 200, "count")
        self.d.ctl("/fault", {"path": "/api/v1/vault/secrets", "status": 400,
                              "body": {"code": 7, "codeDesc": "NCERRBad: x"}})
        r = self.d.req("GET", "/api/v1/vault/secrets", jwt=self.jwt)
        self.assertEqual((r.status, r.json), (400, {"code": 7, "codeDesc": "NCERRBad: x"}), "raw body")
        self.d.ctl("/latency", {"paths": {"/": 300}})
        t = time.monotonic()
        self.d.req("GET", "/")
        self.assertGreaterEqual(time.monotonic() - t, 0.3, "§5.4: latency per path")
        self.d.ctl("/fault", {"path": "/", "action": "drop"})
        with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
            self.d.req("GET", "/")
        self.d.ctl("/fault", {"path": "/", "action": "truncate"})
        with self.assertRaises((http.client.IncompleteRead, http.client.HTTPException, OSError)):
            self.d.req("GET", "/")
        self.d.ctl("/fault", {"action": "tls_fail"})
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.d.req("GET", "/")
        self.assertEqual(self.d.req("GET", "/").status, 200, "one failure only")
        log = self.d.ctl("/requests").json["requests"]
        self.assertIn("dropped", [e["status"] for e in log], "§5.4: request log")
        auth = [e for e in log if e["headers"].get("Authorization")]
        self.assertTrue(auth and all(e["headers"]["Authorization"] == "Bearer <redacted>" for e in auth),
                        "the request log redacts the JWT")


class TestMutualTLS(CTCase):
    name = "mtls"
    mtls = True

    def test_client_certificate(self):
        self.assertEqual(self.d.req("GET", "/").status, 200, "with a client certificate")
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError)):
            self.d.req("GET", "/", cert=False)


class TestRestart(unittest.TestCase):
    def test_restart_and_kill9(self):
        d = Double("restart")
        try:
            jwt = d.login()
            n = uniq()
            self.assertEqual(create(d, jwt, n, "durable").status, 201)
            d.ctl("/restart", {"down_ms": 500, "async": True})
            time.sleep(0.2)
            with self.assertRaises(OSError, msg="§5.4 restart: refused while down"):
                socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
            deadline = time.time() + 10
            while True:
                try:
                    r = d.req("POST", "/api/v1/vault/secrets/%s/export?type=name" % n, jwt=jwt)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            self.assertEqual(r.json["material"], "durable", "a restart keeps secrets and JWTs")
            port = d.port
            d.stop(signal.SIGKILL)
            state = slurp(d.state)
            self.assertNotIn(jwt, state, "the state keeps a hash, never the JWT")
            self.assertNotIn(RT, state, "nor the refresh token")
            cmd = list(d.cmd)
            cmd[cmd.index("--addr") + 1] = "127.0.0.1:%d" % port
            d.start(cmd)
            r = d.req("POST", "/api/v1/vault/secrets/%s/export?type=name" % n, jwt=jwt)
            self.assertEqual(r.json["material"], "durable", "an acknowledged create survives kill -9")
            self.assertEqual(d.stop(), 0, "SIGTERM exits 0")
        finally:
            if d.proc.poll() is None:
                d.stop()
        log = slurp(d.errf)
        self.assertRegex(log, r"POST /api/v1/auth/tokens 200", "request log: method, path, status")
        for secret in (jwt, RT, "durable"):
            self.assertNotIn(secret, log, "logs never show tokens or materials")


if __name__ == "__main__":
    unittest.main(verbosity=2)
