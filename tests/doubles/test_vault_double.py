#!/usr/bin/env python3
"""Self-test of tests/doubles/vault_double.py, the HashiCorp Vault TEST DOUBLE.

No Vault server can be installed where keyward is tested (Vault is not a
Debian package), so keyward's Vault key store is tested against a double.  This
suite pins the double to the contract, shared/spec/keystores-vault-ciphertrust-
kmip-pkcs11.md ("the spec"): every assertion names the section whose
request/response example it checks (§1.4 storage layout, §1.5 requests KES
makes, §1.6 login/renewal/health, §1.7 transit, §1.8 namespaces, §1.9 response
statuses, §1.11 Vault API facts, §5.2 the double's checklist), so the double
cannot drift with keyward: when keyward's expectations change, this file and
the spec must change too.

Where the spec is silent, the facts used come from Vault's own documentation
and sources, cited at the assertion:
  VDOC:system/health  https://developer.hashicorp.com/vault/api-docs/system/health
      (HEAD and GET; default codes 200/429/472/473/474/501/503/530; standbyok
      "will not apply if the node is a performance standby")
  VKV backend.go/path_data.go  hashicorp/vault-plugin-secrets-kv (pathInvalid
      warning per operation: 'vault kv get|put|list|delete'; "no data provided";
      CAS texts; 404 with data:null + metadata for deleted/destroyed versions;
      DELETE data/ soft-deletes the latest version)
  VAPPROLE path_login.go  hashicorp/vault builtin/credential/approle (role_id and
      secret_id are strings.TrimSpace'd; "missing role_id", "invalid role or
      secret ID", "missing secret_id")
  VK8S path_login.go  hashicorp/vault-plugin-auth-kubernetes ("missing role",
      "missing jwt", 'invalid role name "<r>"', 403 for a JWT that fails)
  VEXP  hashicorp/vault vault/expiration_test.go: renewing a non-renewable token
      answers 400 "lease is not renewable"
  VDOC:auth/token renew-self takes "increment" as seconds or a duration string
      ("30m"), lookup-self returns data.{ttl, expire_time, renewable, ...}
  NIST GCM test case 14 (McGrew & Viega, "The Galois/Counter Mode of
      Operation", AES-256, K=0, IV=0, P=0^128) for the transit cipher.

Run: python3 tests/doubles/test_vault_double.py  (needs python3 and openssl;
binds 127.0.0.1 only; about 25 s on two cores).
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "vault_double.py")
sys.path.insert(0, HERE)
import vault_double  # noqa: E402  (for the cipher vector and constants)

TMP = None
CA = CA_KEY = SRV_CERT = SRV_KEY = CLI_CERT = CLI_KEY = ROGUE_CERT = ROGUE_KEY = None

ROLE_ID = "role-" + uuid.uuid4().hex[:8]
SECRET_ID = "sid-" + uuid.uuid4().hex          # grep'd for in the logs
JWT = "eyJhbGciOiJSUzI1NiJ9." + uuid.uuid4().hex + ".sig"  # grep'd for in the logs
V2_WARN = ("Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate "
           "API endpoints to use. If using the Vault CLI, use 'vault kv %s' for this operation.")
ENVELOPE_KEYS = ["request_id", "lease_id", "renewable", "lease_duration", "data", "wrap_info",
                 "warnings", "auth"]
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
RFC3339_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
KES_HEALTH_QUERY = ("drsecondarycode=299&performancestandbycode=299&sealedcode=299&"
                    "standbycode=299&uninitcode=299")


def slurp(path):
    with open(path) as f:
        return f.read()


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    """EC P-256 CA, server cert (SAN IP:127.0.0.1, serverAuth), client cert
    (CN=keyward, clientAuth) and a client cert from an unrelated CA."""
    global CA, CA_KEY, SRV_CERT, SRV_KEY, CLI_CERT, CLI_KEY, ROGUE_CERT, ROGUE_KEY
    j = lambda n: os.path.join(d, n)  # noqa: E731

    def key(n):
        openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", j(n))

    def ca(name, cn):
        key(name + ".key")
        openssl("req", "-x509", "-new", "-key", j(name + ".key"), "-subj", "/CN=" + cn,
                "-days", "2", "-out", j(name + ".pem"))

    def leaf(name, cn, ext, caname):
        key(name + ".key")
        openssl("req", "-new", "-key", j(name + ".key"), "-subj", "/CN=" + cn, "-out", j(name + ".csr"))
        with open(j(name + ".ext"), "w") as f:
            f.write(ext)
        openssl("x509", "-req", "-in", j(name + ".csr"), "-CA", j(caname + ".pem"), "-CAkey",
                j(caname + ".key"), "-CAcreateserial", "-days", "2", "-extfile", j(name + ".ext"),
                "-out", j(name + ".pem"))

    ca("ca", "keyward test CA")
    ca("rogue", "someone else's CA")
    leaf("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "ca")
    leaf("client", "keyward", "extendedKeyUsage=clientAuth\n", "ca")
    leaf("rclient", "keyward", "extendedKeyUsage=clientAuth\n", "rogue")
    CA, CA_KEY = j("ca.pem"), j("ca.key")
    SRV_CERT, SRV_KEY = j("server.pem"), j("server.key")
    CLI_CERT, CLI_KEY = j("client.pem"), j("client.key")
    ROGUE_CERT, ROGUE_KEY = j("rclient.pem"), j("rclient.key")


def setUpModule():
    global TMP
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command line is needed to make the test certificates "
                           "(scripts/deps.sh installs it)")
    TMP = tempfile.mkdtemp(prefix="vault-double-test-")
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
    """One vault_double.py subprocess."""

    def __init__(self, name, extra=(), mtls=False, state=None, addr="127.0.0.1:0"):
        self.name = name
        self.state = state or os.path.join(TMP, name + ".state.json")
        self.portf = os.path.join(TMP, name + ".port")
        self.cportf = os.path.join(TMP, name + ".cport")
        self.errf = os.path.join(TMP, name + ".stderr")
        self.mtls = mtls
        self.cmd = [sys.executable, DOUBLE, "--addr", addr, "--cert", SRV_CERT, "--key", SRV_KEY,
                    "--state", self.state, "--port-file", self.portf,
                    "--control-port-file", self.cportf,
                    "--approle", ROLE_ID + ":" + SECRET_ID,
                    "--kubernetes", "keyward:" + JWT] + list(extra)
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

    def context(self, cert=True, rogue=False):
        ctx = ssl.create_default_context(cafile=CA)
        if rogue:
            ctx.load_cert_chain(ROGUE_CERT, ROGUE_KEY)
        elif cert and self.mtls:
            ctx.load_cert_chain(CLI_CERT, CLI_KEY)
        return ctx

    def req(self, method, path, body=None, token=None, ns=None, headers=None, cert=True,
            rogue=False, timeout=10):
        conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=timeout,
                                           context=self.context(cert, rogue))
        h = {"X-Vault-Request": "true"}
        if token:
            h["X-Vault-Token"] = token
        if ns is not None:
            h["X-Vault-Namespace"] = ns
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return R(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
        finally:
            conn.close()

    def ctl(self, path, body=None, method=None, token=None):
        conn = http.client.HTTPConnection("127.0.0.1", self.cport, timeout=20)
        method = method or ("GET" if body is None else "POST")
        h = {"X-Control-Token": token} if token else {}
        conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=h)
        r = conn.getresponse()
        out = R(r.status, dict(r.getheaders()), r.read())
        conn.close()
        return out

    def login(self, ns=None):
        r = self.req("PUT", "/v1/auth/approle/login", {"role_id": ROLE_ID, "secret_id": SECRET_ID}, ns=ns)
        assert r.status == 200, r
        return r.json["auth"]["client_token"]

    def reset(self):
        for p, b in (("/faults/clear", {}), ("/latency", {"ms": 0, "paths": {}}),
                     ("/tokens", {"ttl": 3600, "max_ttl": 0, "renewable": True}),
                     ("/clock", {"offset": 0}),
                     ("/node", {"initialized": True, "sealed": False, "standby": False,
                                "performance_standby": False, "dr_secondary": False,
                                "ha_unhealthy": False, "removed": False})):
            assert self.ctl(p, b).status == 200


def uniq(prefix="k"):
    return prefix + uuid.uuid4().hex[:10]


class VaultCase(unittest.TestCase):
    extra = ("--namespace", "team1", "--namespace", "team1/sub", "--namespace", "team2",
             "--mount", "kvcas=kv-v2,cas_required")
    mtls = False
    name = "tls"

    @classmethod
    def setUpClass(cls):
        cls.d = Double(cls.name, cls.extra, mtls=cls.mtls)
        cls.tok = cls.d.login()

    @classmethod
    def tearDownClass(cls):
        rc = cls.d.stop()
        cls.rc = rc
        # §5.2 / issue 12: the request log never shows a token, secret_id or JWT.
        log = slurp(cls.d.errf)
        for secret in (SECRET_ID, JWT, cls.tok):
            assert secret not in log, "secret found in the double's log"

    def setUp(self):
        self.d.reset()

    # helpers
    def envelope(self, r, where):
        self.assertIsInstance(r.json, dict, where + ": body is JSON")
        self.assertEqual(list(r.json)[:8], ENVELOPE_KEYS, where + ": envelope fields in order (§1.11)")
        # Not in §1.11's list, but current Vault appends it (captured output ends
        # ...,"auth":null,"mount_type":"kv"}); keyward must ignore unknown fields.
        self.assertEqual(list(r.json)[8:], ["mount_type"], where + ": mount_type last, as Vault >= 1.13")
        self.assertRegex(r.json["request_id"], UUID_RE, where + ": request_id is a uuid (§1.11)")
        self.assertEqual(r.json["lease_id"], "", where + ": lease_id \"\" (§1.11)")
        self.assertIs(r.json["renewable"], False, where + ": renewable false (§1.11)")
        self.assertIsInstance(r.json["lease_duration"], int, where + ": lease_duration int (§1.11)")
        self.assertIsNone(r.json["wrap_info"], where + ": wrap_info null (§1.11)")
        self.assertEqual(r.headers.get("content-type"), "application/json", where + ": JSON content type")

    def errors(self, r, status, msgs, where):
        self.assertEqual(r.status, status, where + ": status %r" % (r,))
        self.assertEqual(r.json, {"errors": msgs}, where + ": error body {\"errors\":[...]} (§1.11)")


class TestKV(VaultCase):
    # -- §1.4 storage layout and §1.5 Create/Get/Delete/List, KV v1 -----------
    def test_kv1_create_probe_write_read(self):
        n = uniq()
        loc = "/v1/kv/keyward/" + n
        r = self.d.req("GET", loc, token=self.tok)
        self.errors(r, 404, [], "§1.5 Create step 1 / §1.11 KV v1 read: absent key is 404 {\"errors\":[]}")
        r = self.d.req("PUT", loc, {n: "value-1"}, token=self.tok)
        self.assertEqual(r.status, 204, "§1.5 Create step 4 / §1.11: KV v1 write answers 204")
        self.assertEqual(r.body, b"", "§1.11: 204 has an empty body")
        r = self.d.req("GET", loc, token=self.tok)
        self.assertEqual(r.status, 200, "§1.11 KV v1 read 200")
        self.envelope(r, "§1.11 KV v1 read")
        self.assertEqual(r.json["data"], {n: "value-1"},
                         "§1.4: v1 stored document is {\"<n>\":\"<value>\"}, the key name is the field name")
        self.assertEqual(r.json["lease_duration"], 2764800, "§1.11: KV v1 lease_duration 2764800")
        self.assertIsNone(r.json["auth"], "§1.11 envelope: auth null on a KV read")

    def test_kv1_post_equals_put_and_flat_object(self):
        n = uniq()
        doc = {n: "v", "other": {"nested": [1, 2]}}
        r = self.d.req("POST", "/v1/kv/" + n, doc, token=self.tok)
        self.assertEqual(r.status, 204, "§1.11 / §5.2: PUT ≡ POST on write paths")
        r = self.d.req("GET", "/v1/kv/" + n, token=self.tok)
        self.assertEqual(r.json["data"], doc, "§5.2: KV v1 PUT stores the flat JSON object verbatim")
        r = self.d.req("PUT", "/v1/kv/" + n, {}, token=self.tok)
        self.errors(r, 400, ["missing data fields"], "§1.11 KV v1 write: 400 missing data fields")
        r = self.d.req("PUT", "/v1/kv/" + n, "{not json", token=self.tok)
        self.assertEqual(r.status, 400, "Vault answers 400 to a body that is not JSON")
        self.assertTrue(r.json["errors"][0].startswith("failed to parse JSON input"), r)

    def test_kv1_delete(self):
        n = uniq()
        self.d.req("PUT", "/v1/kv/p/" + n, {n: "x"}, token=self.tok)
        r = self.d.req("DELETE", "/v1/kv/p/" + n, token=self.tok)
        self.assertEqual(r.status, 204, "§1.5 Delete / §1.11: KV v1 DELETE 204")
        r = self.d.req("DELETE", "/v1/kv/p/" + n, token=self.tok)
        self.assertEqual(r.status, 204, "§1.5 Delete: 204 even when nothing existed (NOT_FOUND never produced)")
        r = self.d.req("GET", "/v1/kv/p/" + n, token=self.tok)
        self.errors(r, 404, [], "§1.11: deleted key reads 404 {\"errors\":[]}")

    def test_kv1_list(self):
        pre = uniq("dir")
        for k in ("b", "a", "sub/c", "sub/deeper/d"):
            self.assertEqual(self.d.req("PUT", "/v1/kv/%s/%s" % (pre, k), {"x": "y"}, token=self.tok).status, 204)
        r = self.d.req("GET", "/v1/kv/%s?list=true" % pre, token=self.tok)
        self.assertEqual(r.status, 200, "§1.5 List: GET ?list=true 200")
        self.envelope(r, "§1.11 KV v1 list")
        self.assertEqual(r.json["data"], {"keys": ["a", "b", "sub/"]},
                         "§1.11 KV v1 list: data.keys with \"sub/\" directory entries")
        r2 = self.d.req("LIST", "/v1/kv/%s" % pre, token=self.tok)
        self.assertEqual((r2.status, r2.json["data"]), (200, r.json["data"]),
                         "§1.11 / §5.2: LIST ≡ GET ?list=true (≤ K@2302 used LIST)")
        r3 = self.d.req("GET", "/v1/kv/%s/?list=true" % pre, token=self.tok)
        self.assertEqual(r3.json["data"], r.json["data"], "§1.11: list paths are directory-like, trailing / optional")
        r4 = self.d.req("GET", "/v1/kv/%s/sub?list=1" % pre, token=self.tok)
        self.assertEqual(r4.json["data"], {"keys": ["c", "deeper/"]}, "list=1 is a true value (Go ParseBool)")
        r = self.d.req("GET", "/v1/kv/%s?list=true" % uniq("empty"), token=self.tok)
        self.errors(r, 404, [], "§1.5 List / §1.9 / §1.11: empty folder is 404 {\"errors\":[]}")

    # -- KV v2 -------------------------------------------------------------------
    def test_kv2_create_cas0_and_read(self):
        n = uniq()
        data_loc = "/v1/kv2/data/keyward/" + n
        r = self.d.req("GET", data_loc, token=self.tok)
        self.errors(r, 404, [], "§1.5 Create step 1 (v2 probe, latest): 404 {\"errors\":[]}")
        body = {"data": {n: "value-1"}, "options": {"cas": 0}}
        r = self.d.req("PUT", data_loc, body, token=self.tok)
        self.assertEqual(r.status, 200, "§1.5 Create step 4: KV v2 write answers 200")
        self.envelope(r, "§1.11 KV v2 write")
        d = r.json["data"]
        self.assertEqual(sorted(d), ["created_time", "custom_metadata", "deletion_time", "destroyed", "version"],
                         "§1.11 KV v2 write: data:{created_time, custom_metadata, deletion_time, destroyed, version}")
        self.assertEqual((d["version"], d["deletion_time"], d["destroyed"], d["custom_metadata"]),
                         (1, "", False, None), "§1.4: KES writes version 1 with cas 0")
        self.assertRegex(d["created_time"], RFC3339_RE, "§1.11: created_time is RFC 3339")
        r = self.d.req("PUT", data_loc, body, token=self.tok)
        self.errors(r, 400, ["check-and-set parameter did not match the current version"],
                    "§1.5 Create step 4 / §1.11 / VT13: CAS conflict 400")
        r = self.d.req("GET", data_loc + "?version=1", token=self.tok)
        self.assertEqual(r.status, 200, "§1.5 Get: v2 reads ?version=1")
        self.envelope(r, "§1.11 KV v2 read")
        self.assertEqual(r.json["data"]["data"], {n: "value-1"}, "§1.4: v2 version data {\"<n>\":\"<value>\"}")
        md = r.json["data"]["metadata"]
        self.assertEqual(sorted(md), ["created_time", "custom_metadata", "deletion_time", "destroyed", "version"],
                         "§1.11 KV v2 read metadata fields")
        self.assertEqual((md["version"], md["destroyed"], md["deletion_time"]), (1, False, ""), "§1.11")

    def test_kv2_concurrent_create_one_winner(self):
        n = uniq()
        results = []

        def create(i):
            r = self.d.req("PUT", "/v1/kv2/data/race/" + n, {"data": {n: "v%d" % i}, "options": {"cas": 0}},
                           token=self.tok)
            results.append((r.status, r.json))

        threads = [threading.Thread(target=create, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wins = [r for r in results if r[0] == 200]
        self.assertEqual(len(wins), 1, "§1.5 Create / issue 12: concurrent cas:0 creates, exactly one 200")
        for st, body in results:
            if st != 200:
                self.assertEqual((st, body), (400, {"errors": ["check-and-set parameter did not match the current "
                                                               "version"]}), "the others lose the CAS race")
        r = self.d.req("GET", "/v1/kv2/metadata/race/" + n, token=self.tok)
        self.assertEqual(r.json["data"]["current_version"], 1, "one value in Vault")

    def test_request_log_query_and_headers(self):
        n = uniq()
        self.d.ctl("/requests/clear", {})
        self.d.req("GET", "/v1/kv2/data/%s?version=1" % n, token=self.tok)
        self.d.req("PUT", "/v1/kv/" + n, {n: "v"}, token=self.tok)
        get, put = self.d.ctl("/requests").json["requests"][-2:]
        self.assertEqual((get["method"], get["path"], get["query"]), ("GET", "/v1/kv2/data/" + n, "version=1"),
                         "§5.2 request log keeps the query (VT16 asserts ?version=1)")
        self.assertNotIn("Content-Type", put["headers"], "§5.2 / VT28: the log shows which headers came (none here)")
        self.assertEqual(json.loads(put["body"]), {n: "v"}, "§5.2 request log keeps the body (VT11)")

    def test_kv2_get_reads_version_1_when_2_exists(self):
        n = uniq()
        loc = "/v1/kv2/data/" + n
        self.assertEqual(self.d.req("POST", loc, {"data": {n: "one"}, "options": {"cas": 0}}, token=self.tok).status, 200)
        r = self.d.req("POST", loc, {"data": {n: "two"}, "options": {"cas": 1}}, token=self.tok)
        self.assertEqual(r.json["data"]["version"], 2, "§1.11: cas = current version allows a new version")
        self.assertEqual(self.d.req("GET", loc, token=self.tok).json["data"]["data"], {n: "two"},
                         "§1.5 Create probe reads the latest version")
        self.assertEqual(self.d.req("GET", loc + "?version=1", token=self.tok).json["data"]["data"], {n: "one"},
                         "§1.10 V4 / VT16: ?version=1 reads version 1 even when version 2 exists")
        self.errors(self.d.req("GET", loc + "?version=7", token=self.tok), 404, [],
                    "§1.11 KV v2 read: no such version 404 {\"errors\":[]}")
        r = self.d.req("PUT", loc, {"data": {n: "three"}}, token=self.tok)
        self.assertEqual(r.json["data"]["version"], 3, "VKV: without options.cas the write is allowed")

    def test_kv2_soft_delete_and_destroy(self):
        n = uniq()
        loc = "/v1/kv2/data/" + n
        self.d.req("PUT", loc, {"data": {n: "v"}, "options": {"cas": 0}}, token=self.tok)
        r = self.d.req("DELETE", loc, token=self.tok)
        self.assertEqual(r.status, 204, "VKV: DELETE data/ soft-deletes the latest version, 204")
        r = self.d.req("GET", loc, token=self.tok)
        self.assertEqual(r.status, 404, "§1.5 / §1.11: soft-deleted latest version reads 404 ...")
        self.envelope(r, "§1.11 deleted version")
        self.assertIsNone(r.json["data"]["data"], "§1.11 / VT14: ... with data.data:null")
        self.assertRegex(r.json["data"]["metadata"]["deletion_time"], RFC3339_RE,
                         "§1.11: deletion_time \"<ts>\" for a deleted version")
        self.errors(self.d.req("PUT", loc, {"data": {n: "w"}, "options": {"cas": 0}}, token=self.tok), 400,
                    ["check-and-set parameter did not match the current version"],
                    "§1.10 V3: a soft-deleted key still blocks cas 0")
        self.assertEqual(self.d.req("POST", "/v1/kv2/undelete/" + n, {"versions": [1]}, token=self.tok).status, 204,
                         "§5.2 undelete/ endpoint")
        self.assertEqual(self.d.req("GET", loc, token=self.tok).status, 200, "undeleted version reads again")
        self.assertEqual(self.d.req("POST", "/v1/kv2/destroy/" + n, {"versions": [1]}, token=self.tok).status, 204,
                         "§5.2 destroy/ endpoint")
        r = self.d.req("GET", loc + "?version=1", token=self.tok)
        self.assertEqual(r.status, 404, "§1.11 destroyed version: 404")
        self.assertEqual((r.json["data"]["data"], r.json["data"]["metadata"]["destroyed"]), (None, True),
                         "§1.11: destroyed version 404 with data.data:null, destroyed:true")
        self.assertEqual(self.d.req("POST", "/v1/kv2/delete/" + n, {"versions": [1]}, token=self.tok).status, 204,
                         "§5.2 delete/ endpoint")
        self.errors(self.d.req("POST", "/v1/kv2/delete/" + n, {}, token=self.tok), 400,
                    ["no version number provided"], "VKV delete/ without versions")

    def test_kv2_metadata_delete_list_read(self):
        pre = uniq("d")
        for k in ("x", "y", "sub/z"):
            self.d.req("PUT", "/v1/kv2/data/%s/%s" % (pre, k), {"data": {k: "v"}, "options": {"cas": 0}}, token=self.tok)
        r = self.d.req("GET", "/v1/kv2/metadata/%s?list=true" % pre, token=self.tok)
        self.assertEqual((r.status, r.json["data"]), (200, {"keys": ["sub/", "x", "y"]}),
                         "§1.5 List / §1.11 KV v2 list on metadata/")
        r = self.d.req("LIST", "/v1/kv2/metadata/%s/" % pre, token=self.tok)
        self.assertEqual(r.json["data"], {"keys": ["sub/", "x", "y"]}, "§1.11: LIST ≡ GET ?list=true on v2")
        r = self.d.req("GET", "/v1/kv2/metadata/%s/x" % pre, token=self.tok)
        self.assertEqual(r.status, 200, "§5.2 metadata/ GET")
        for f in ("cas_required", "created_time", "current_version", "custom_metadata",
                  "delete_version_after", "max_versions", "oldest_version", "updated_time", "versions"):
            self.assertIn(f, r.json["data"], "metadata read field %s" % f)
        self.assertEqual(list(r.json["data"]["versions"]), ["1"], "metadata versions map")
        r = self.d.req("DELETE", "/v1/kv2/metadata/%s/x" % pre, token=self.tok)
        self.assertEqual(r.status, 204, "§1.5 Delete v2 / §1.11: DELETE metadata/ 204")
        r = self.d.req("DELETE", "/v1/kv2/metadata/%s/never" % pre, token=self.tok)
        self.assertEqual(r.status, 204, "§1.11: DELETE metadata/ 204 also if absent")
        self.errors(self.d.req("GET", "/v1/kv2/data/%s/x" % pre, token=self.tok), 404, [],
                    "after metadata delete every version is gone")
        self.errors(self.d.req("GET", "/v1/kv2/metadata/%s?list=true" % uniq("e"), token=self.tok), 404, [],
                    "§1.11: KV v2 list 404 when empty")

    def test_kv2_wrong_paths(self):
        n = uniq()
        self.d.req("PUT", "/v1/kv2/data/" + n, {"data": {n: "v"}, "options": {"cas": 0}}, token=self.tok)
        for method, op in (("GET", "get"), ("PUT", "put"), ("DELETE", "delete"), ("LIST", "list")):
            r = self.d.req(method, "/v1/kv2/" + n, {n: "v"} if method == "PUT" else None, token=self.tok)
            self.assertEqual(r.status, 404, "§1.11 KV-path mismatch: v1-style path on a v2 mount is 404")
            self.envelope(r, "§1.11 KV-path mismatch")
            self.assertIsNone(r.json["data"], "§1.5: 404 + warnings only, data null")
            self.assertEqual(r.json["warnings"], [V2_WARN % op],
                             "§1.11 / VKV backend.go pathInvalid warning for %s" % op)
        for root in ("data", "metadata"):
            r = self.d.req("GET", "/v1/kv2/" + root, token=self.tok)
            self.assertEqual((r.status, r.json["warnings"]),
                             (404, ["Non-listing operations on the root of a K/V v2 mount are not supported."]),
                             "§1.11: root paths data/metadata answer the root warning")

    def test_kv2_cas_required_and_no_data(self):
        n = uniq()
        r = self.d.req("PUT", "/v1/kvcas/data/" + n, {"data": {n: "v"}}, token=self.tok)
        self.errors(r, 400, ["check-and-set parameter required for this call"],
                    "§1.11 / §5.2: cas_required mount option")
        self.assertEqual(self.d.req("PUT", "/v1/kvcas/data/" + n, {"data": {n: "v"}, "options": {"cas": 0}},
                                    token=self.tok).status, 200, "cas given on a cas_required mount")
        self.errors(self.d.req("PUT", "/v1/kv2/data/" + n, {"options": {"cas": 0}}, token=self.tok), 400,
                    ["no data provided"], "§1.11 KV v2 write: 400 no data provided")
        r = self.d.req("POST", "/v1/kv2/config", {"cas_required": True}, token=self.tok)
        self.assertEqual(r.status, 204, "config POST")
        try:
            self.errors(self.d.req("PUT", "/v1/kv2/data/" + uniq(), {"data": {"a": "b"}}, token=self.tok), 400,
                        ["check-and-set parameter required for this call"], "§5.2 cas_required via config")
        finally:
            self.d.req("POST", "/v1/kv2/config", {"cas_required": False}, token=self.tok)

    def test_unmounted_and_methods(self):
        r = self.d.req("GET", "/v1/nomount/x", token=self.tok)
        self.errors(r, 404, ['no handler for route "nomount/x". route entry not found.'],
                    "§5.2: unmounted path 404 no handler for route (format recalled, §6)")
        r = self.d.req("DELETE", "/v1/nomount/x", token=self.tok)
        self.assertEqual(r.status, 404, "§1.5 Delete: 404 for an unmounted path (→ OTHER)")
        r = self.d.req("PATCH", "/v1/kv/x", {"a": "b"}, token=self.tok)
        self.assertEqual(r.status, 405, "§1.9: 405 for an unsupported method")
        self.assertIn("errors", r.json, "§1.11: every status ≥ 400 carries errors")

    def test_body_limit(self):
        conn = http.client.HTTPSConnection("127.0.0.1", self.d.port, timeout=10, context=self.d.context())
        conn.putrequest("PUT", "/v1/kv/big")
        conn.putheader("X-Vault-Token", self.tok)
        conn.putheader("Content-Length", str(32 * 1024 * 1024 + 1))
        conn.endheaders()
        r = conn.getresponse()
        self.assertEqual(r.status, 413, "§1.11: max request size 32 MiB (VDOC:index Limits)")
        conn.close()


class TestAuth(VaultCase):
    AUTH_FIELDS = ["accessor", "client_token", "entity_id", "lease_duration", "metadata", "orphan",
                   "policies", "renewable", "token_policies", "token_type"]

    def test_approle_login(self):
        for method in ("PUT", "POST"):
            r = self.d.req(method, "/v1/auth/approle/login", {"role_id": ROLE_ID, "secret_id": SECRET_ID})
            self.assertEqual(r.status, 200, "§1.6.1 / §1.11 AppRole login 200 with %s (PUT ≡ POST)" % method)
            self.envelope(r, "§1.11 AppRole login")
            self.assertIsNone(r.json["data"], "§1.11 AppRole login: data:null")
            a = r.json["auth"]
            for f in self.AUTH_FIELDS:
                self.assertIn(f, a, "§1.11 / §5.2: auth.%s" % f)
            self.assertTrue(a["client_token"], "§1.6.1 token = auth.client_token")
            self.assertEqual((a["lease_duration"], a["renewable"], a["token_type"]), (3600, True, "service"),
                             "§1.6.1: TTL = auth.lease_duration, renewable = auth.renewable")
            self.assertEqual(a["policies"], a["token_policies"], "policies")
        bad = (({"secret_id": SECRET_ID}, "missing role_id"),
               ({"role_id": "nobody", "secret_id": SECRET_ID}, "invalid role or secret ID"),
               ({"role_id": ROLE_ID}, "missing secret_id"),
               ({"role_id": ROLE_ID, "secret_id": "wrong"}, "invalid role or secret ID"))
        for body, msg in bad:
            self.errors(self.d.req("PUT", "/v1/auth/approle/login", body), 400, [msg],
                        "§1.6.1 / §1.11 / VAPPROLE: 400 %s" % msg)
        r = self.d.req("PUT", "/v1/auth/approle/login", {"role_id": " %s\n" % ROLE_ID, "secret_id": SECRET_ID + "\n"})
        self.assertEqual(r.status, 200, "VAPPROLE: role_id and secret_id are TrimSpace'd")

    def test_token_used_in_header_and_denied(self):
        n = uniq()
        r = self.d.req("GET", "/v1/kv/" + n)
        self.errors(r, 403, ["permission denied"], "§5.2: missing token → 403 permission denied")
        r = self.d.req("GET", "/v1/kv/" + n, token="hvs.not-a-token")
        self.errors(r, 403, ["permission denied"], "§1.11: bad token → 403 {\"errors\":[\"permission denied\"]}")
        tok = self.d.login()
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=tok), 404, [], "VT2: token from login is accepted")
        log = self.d.ctl("/requests").json["requests"]
        last = log[-1]
        self.assertEqual(last["headers"].get("X-Vault-Token"), "<redacted>",
                         "§5.2 request log: token header recorded, value redacted")
        self.assertTrue(last["token_accessor"], "request log names the token by accessor")
        self.assertEqual(last["headers"].get("X-Vault-Request"), "true", "§1.3 / VT28 header visible in the log")
        logins = [e for e in log if e["path"] == "/v1/auth/approle/login" and e["body"]]
        self.assertTrue(logins)
        self.assertEqual(json.loads(logins[-1]["body"]), {"role_id": ROLE_ID, "secret_id": "<redacted>"},
                         "§1.6.1 login body {role_id, secret_id} recorded with secret_id redacted")

    def test_kubernetes_login(self):
        r = self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "keyward", "jwt": JWT})
        self.assertEqual(r.status, 200, "§1.6.1 / §1.11 Kubernetes login 200")
        self.envelope(r, "§1.11 Kubernetes login")
        a = r.json["auth"]
        for f in ("client_token", "accessor", "policies", "metadata", "lease_duration", "renewable"):
            self.assertIn(f, a, "§1.11 Kubernetes auth.%s" % f)
        self.assertEqual((a["metadata"]["role"], a["metadata"]["service_account_name"]), ("keyward", "keyward"),
                         "§1.11: metadata:{role, service_account_name, …}")
        self.errors(self.d.req("PUT", "/v1/auth/kubernetes/login", {"jwt": JWT}), 400, ["missing role"], "VK8S")
        self.errors(self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "keyward"}), 400, ["missing jwt"], "VK8S")
        self.errors(self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "nope", "jwt": JWT}), 400,
                    ['invalid role name "nope"'], "VK8S")
        self.errors(self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "keyward", "jwt": "other"}), 403,
                    ["permission denied"], "§5.2: JWT not accepted → 403")
        self.assertEqual(self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "keyward", "jwt": JWT + "\n"}).status,
                         403, "§1.10 V11: a trailing newline makes the JWT invalid (KES sends it verbatim)")
        new = JWT + "-rotated"
        self.assertEqual(self.d.ctl("/kubernetes", {"role": "keyward", "jwt": new}).status, 200)
        self.d.ctl("/kubernetes", {"role": "keyward", "jwt": JWT, "remove": True})
        try:
            self.assertEqual(self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "keyward", "jwt": new}).status,
                             200, "VT5: rotated JWT accepted (control knob)")
            self.assertEqual(self.d.req("PUT", "/v1/auth/kubernetes/login", {"role": "keyward", "jwt": JWT}).status,
                             403, "VT5: the old JWT is refused after rotation")
        finally:
            self.d.ctl("/kubernetes", {"role": "keyward", "jwt": JWT})

    def test_renew_self_and_lookup_self(self):
        tok = self.d.login()
        r = self.d.req("PUT", "/v1/auth/token/renew-self", {"increment": 0}, token=tok)
        self.assertEqual(r.status, 200, "§1.6.2 step 5 / §1.11: renew-self {\"increment\":0} 200")
        self.envelope(r, "§1.11 renew-self")
        a = r.json["auth"]
        self.assertEqual(a["client_token"], tok, "§1.11 renew-self: client_token (same)")
        self.assertEqual((a["lease_duration"], a["renewable"]), (3600, True), "§1.6.2: TTL refreshed")
        r = self.d.req("POST", "/v1/auth/token/renew-self", {"increment": "2h"}, token=tok)
        self.assertEqual(r.json["auth"]["lease_duration"], 7200, "VDOC:auth/token increment as a duration string")
        r = self.d.req("GET", "/v1/auth/token/lookup-self", token=tok)
        self.assertEqual(r.status, 200, "§1.11 lookup-self 200")
        d = r.json["data"]
        for f in ("accessor", "creation_time", "creation_ttl", "display_name", "entity_id", "expire_time",
                  "explicit_max_ttl", "id", "issue_time", "meta", "num_uses", "orphan", "path", "policies",
                  "renewable", "ttl"):
            self.assertIn(f, d, "§1.11 lookup-self data.%s" % f)
        self.assertTrue(7190 <= d["ttl"] <= 7200, "§5.2 lookup-self data.ttl after renewal")
        self.assertRegex(d["expire_time"], RFC3339_RE, "§5.2 lookup-self expire_time")
        self.assertEqual(d["id"], tok, "lookup-self id is the token")
        # max TTL cap (§5.2: result TTL capped by max TTL)
        self.d.ctl("/tokens", {"ttl": 60, "max_ttl": 100})
        tok2 = self.d.login()
        r = self.d.req("PUT", "/v1/auth/token/renew-self", {"increment": 3600}, token=tok2)
        self.assertEqual(r.status, 200)
        self.assertTrue(95 <= r.json["auth"]["lease_duration"] <= 100,
                        "§1.11 renew-self: lease_duration may be capped by max TTL")
        self.assertTrue(r.json["warnings"] and "max_ttl" in r.json["warnings"][0], "Vault warns about the cap")

    def test_non_renewable_expired_ttl0(self):
        self.d.ctl("/tokens", {"renewable": False})
        tok = self.d.login()
        self.errors(self.d.req("PUT", "/v1/auth/token/renew-self", {"increment": 0}, token=tok), 400,
                    ["lease is not renewable"], "§5.2 / VEXP: non-renewable → 400")
        self.d.ctl("/tokens", {"renewable": True, "ttl": 30})
        tok = self.d.login()
        n = uniq()
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=tok), 404, [], "fresh token works")
        self.d.ctl("/clock", {"advance": 31})
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=tok), 403, ["permission denied"],
                    "§5.2: expired token (injectable clock) → 403 permission denied")
        self.errors(self.d.req("PUT", "/v1/auth/token/renew-self", {"increment": 0}, token=tok), 403,
                    ["permission denied"], "§1.11 renew-self: 403 expired")
        self.d.ctl("/clock", {"offset": 0})
        self.d.ctl("/tokens", {"ttl": 0})
        r = self.d.req("PUT", "/v1/auth/approle/login", {"role_id": ROLE_ID, "secret_id": SECRET_ID})
        self.assertEqual(r.json["auth"]["lease_duration"], 0, "VT9: token TTL knob 0 → lease_duration 0")
        tok0 = r.json["auth"]["client_token"]
        self.d.ctl("/clock", {"advance": 10 ** 7})
        self.assertEqual(self.d.req("GET", "/v1/kv/" + n, token=tok0).status, 404, "TTL 0 never expires")

    def test_expire_and_revoke_knobs(self):
        tok = self.d.login()
        acc = self.d.req("GET", "/v1/auth/token/lookup-self", token=tok).json["data"]["accessor"]
        r = self.d.ctl("/tokens/expire", {"accessor": acc})
        self.assertEqual(r.json["tokens"], 1)
        self.assertEqual(self.d.req("GET", "/v1/kv/x", token=tok).status, 403, "§5.2 expire knob → 403")
        tok = self.d.login()
        acc = self.d.req("GET", "/v1/auth/token/lookup-self", token=tok).json["data"]["accessor"]
        self.d.ctl("/tokens/revoke", {"accessor": acc})
        self.assertEqual(self.d.req("GET", "/v1/kv/x", token=tok).status, 403, "§5.2 revoke → 403")
        tok = self.d.login()
        self.assertEqual(self.d.req("PUT", "/v1/auth/token/revoke-self", token=tok).status, 204, "revoke-self 204")
        self.assertEqual(self.d.req("GET", "/v1/kv/x", token=tok).status, 403, "revoked token → 403")


class TestHealth(VaultCase):
    def health(self, q="", method="GET", ns=None):
        return self.d.req(method, "/v1/sys/health" + ("?" + q if q else ""), ns=ns)

    def test_default_codes_and_fields(self):
        r = self.health()
        self.assertEqual(r.status, 200, "§1.11 health: 200 active")
        for f in ("initialized", "sealed", "standby", "performance_standby", "replication_performance_mode",
                  "replication_dr_mode", "server_time_utc", "version", "cluster_name", "cluster_id"):
            self.assertIn(f, r.json, "§1.11 / §5.2 health JSON field %s" % f)
        self.assertEqual((r.json["initialized"], r.json["sealed"], r.json["standby"]), (True, False, False))
        cases = (({"standby": True}, 429, "standby"), ({"performance_standby": True}, 473, "perf standby"),
                 ({"dr_secondary": True}, 472, "DR secondary"), ({"initialized": False}, 501, "not initialised"),
                 ({"sealed": True}, 503, "sealed"), ({"standby": True, "ha_unhealthy": True}, 474,
                                                     "standby not connected (VDOC newer)"),
                 ({"removed": True}, 530, "removed (VDOC newer)"))
        for node, code, what in cases:
            self.d.reset()
            self.d.ctl("/node", node)
            r = self.health()
            self.assertEqual(r.status, code, "§1.11 health default code %d for %s" % (code, what))
            self.assertIsInstance(r.json, dict, "health answers JSON whatever the code")
        self.d.reset()
        self.d.ctl("/seal", {})
        r = self.health()
        self.assertEqual((r.status, r.json["sealed"]), (503, True), "§1.9: 503 + sealed:true")

    def test_kes_status_query(self):
        """§1.5 Status: KES's exact query answers 299 in every non-active state, JSON decides."""
        for node, field in (({"sealed": True}, ("sealed", True)), ({"initialized": False}, ("initialized", False)),
                            ({"standby": True}, ("standby", True)),
                            ({"performance_standby": True}, ("performance_standby", True)),
                            ({"dr_secondary": True}, ("replication_dr_mode", "secondary"))):
            self.d.reset()
            self.d.ctl("/node", node)
            r = self.health(KES_HEALTH_QUERY)
            self.assertEqual(r.status, 299, "§1.5 Status / §1.9: 299 health override for %s" % (node,))
            self.assertEqual(r.json[field[0]], field[1], "§1.5 Status: decided by the JSON")
        self.d.reset()
        self.assertEqual(self.health(KES_HEALTH_QUERY).status, 200, "active node ignores the overrides: 200")

    def test_overrides(self):
        self.d.ctl("/node", {"standby": True})
        self.assertEqual(self.health("standbyok=true").status, 200, "§1.11: standbyok=true → active code")
        self.assertEqual(self.health("standbycode=200").status, 200, "§1.11: standbycode override")
        self.assertEqual(self.health("standbyok=true&activecode=204").status, 204, "activecode override")
        self.d.ctl("/node", {"performance_standby": True})
        self.assertEqual(self.health("perfstandbyok=true").status, 200, "§1.11: perfstandbyok=true → active code")
        self.assertEqual(self.health("standbyok=true").status, 473,
                         "VDOC:system/health: standbyok does not apply to a performance standby")
        self.assertEqual(self.health("performancestandbycode=299").status, 299, "§1.11 override")
        self.d.reset()
        self.d.ctl("/node", {"sealed": True})
        self.assertEqual(self.health("sealedcode=200").status, 200, "§1.11: sealedcode override")
        self.d.ctl("/node", {"initialized": False})
        self.assertEqual(self.health("uninitcode=299").status, 299, "§1.11: uninitcode override")
        self.d.reset()
        self.d.ctl("/node", {"dr_secondary": True})
        self.assertEqual(self.health("drsecondarycode=299").status, 299, "§1.11: drsecondarycode override")
        self.d.reset()
        self.assertEqual(self.health("activecode=abc").status, 400, "bad code value → 400")

    def test_head_and_namespace(self):
        r = self.health(method="HEAD")
        self.assertEqual((r.status, r.body), (200, b""), "§1.11 / VDOC:system/health: HEAD, no body")
        self.d.ctl("/node", {"sealed": True})
        self.assertEqual(self.health(method="HEAD").status, 503, "HEAD carries the status code")
        self.d.reset()
        for ns in ("team1", "team1/sub"):
            self.errors(self.health(ns=ns), 404, ["unsupported path"],
                        "§1.8 / §1.11 / VT25: sys/health with X-Vault-Namespace → 404 unsupported path")
        self.errors(self.d.req("GET", "/v1/team1/sys/health"), 404, ["unsupported path"],
                    "§1.8: namespace as path prefix on a root-only path")
        self.assertEqual(self.health(ns="").status, 200, "empty header = root namespace")

    def test_sealed_every_other_path(self):
        tok = self.d.login()
        self.d.ctl("/seal", {})
        for method, path, body in (("GET", "/v1/kv/x", None), ("PUT", "/v1/kv2/data/x", {"data": {}}),
                                   ("PUT", "/v1/auth/approle/login", {"role_id": ROLE_ID, "secret_id": SECRET_ID}),
                                   ("PUT", "/v1/auth/token/renew-self", {"increment": 0}),
                                   ("POST", "/v1/transit/encrypt/k", {"plaintext": "AA=="})):
            self.errors(self.d.req(method, path, body, token=tok), 503, ["Vault is sealed"],
                        "§1.9 / §1.11 / §5.2: sealed Vault → 503 Vault is sealed on %s" % path)
        self.d.ctl("/unseal", {})
        self.assertEqual(self.d.req("GET", "/v1/kv/x", token=tok).status, 404, "unseal knob: serving again")

    def test_seal_status(self):
        r = self.d.req("GET", "/v1/sys/seal-status")
        self.assertEqual((r.status, r.json["sealed"], r.json["initialized"]), (200, False, True), "sys/seal-status")


class TestTransit(VaultCase):
    def test_cipher_is_real_aes_gcm(self):
        ct = vault_double.CIPHER.seal(bytes(32), bytes(12), bytes(16))
        self.assertEqual(ct.hex(), "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
                         "§5.2 'real AEAD underneath': NIST GCM test case 14 (AES-256)")
        self.assertTrue(self.d.ctl("/state").json["transit_cipher"].startswith("aes256-gcm96"),
                        "the double reports AES-256-GCM as its transit cipher")

    def test_encrypt_decrypt(self):
        key = uniq("tk")
        value = b'{"bytes":"c2VjcmV0LWtleS1tYXRlcmlhbA=="}'
        r = self.d.req("POST", "/v1/transit/encrypt/" + key, {"plaintext": base64.b64encode(value).decode()},
                       token=self.tok)
        self.assertEqual(r.status, 200, "§1.5 Create step 3 / §1.11 transit encrypt 200")
        self.envelope(r, "§1.11 transit encrypt")
        ct = r.json["data"]["ciphertext"]
        self.assertTrue(ct.startswith("vault:v1:"), "§1.7: ciphertext vault:v1:<b64>")
        self.assertEqual(r.json["data"]["key_version"], 1, "§1.11: key_version 1")
        raw = base64.b64decode(ct[len("vault:v1:"):])
        self.assertEqual(len(raw), 12 + len(value) + 16, "aes256-gcm96 layout nonce(12)||ct||tag(16)")
        r = self.d.req("PUT", "/v1/transit/decrypt/" + key, {"ciphertext": ct}, token=self.tok)
        self.assertEqual(r.status, 200, "§1.5 Get step 3 / §1.11 transit decrypt 200 (PUT ≡ POST)")
        self.assertEqual(base64.b64decode(r.json["data"]["plaintext"]), value, "§1.11: data.plaintext (b64)")
        tampered = "vault:v1:" + base64.b64encode(raw[:-1] + bytes([raw[-1] ^ 1])).decode()
        self.assertEqual(self.d.req("POST", "/v1/transit/decrypt/" + key, {"ciphertext": tampered},
                                    token=self.tok).status, 400, "§1.11: 400 on bad ciphertext (AEAD tag)")
        for bad in ("notvault", "vault:vX:AAAA", "vault:v1:!!!", "vault:v9:" + ct[9:]):
            self.assertEqual(self.d.req("POST", "/v1/transit/decrypt/" + key, {"ciphertext": bad},
                                        token=self.tok).status, 400, "§1.11: 400 on bad ciphertext %s" % bad[:12])
        self.errors(self.d.req("POST", "/v1/transit/encrypt/" + key, {"plaintext": "%%%"}, token=self.tok), 400,
                    ["failed to base64-decode plaintext"], "§5.2: 400 for bad input")
        self.errors(self.d.req("POST", "/v1/transit/decrypt/" + uniq("none"), {"ciphertext": ct}, token=self.tok),
                    400, ["encryption key not found"], "decrypt with an unknown key")

    def test_rotation(self):
        key = uniq("tk")
        p = base64.b64encode(b"v").decode()
        ct1 = self.d.req("POST", "/v1/transit/encrypt/" + key, {"plaintext": p}, token=self.tok).json["data"]["ciphertext"]
        r = self.d.ctl("/transit/rotate", {"key": key})
        self.assertEqual(r.json["latest_version"], 2, "§5.2 key rotation hook")
        r = self.d.req("POST", "/v1/transit/encrypt/" + key, {"plaintext": p}, token=self.tok)
        self.assertTrue(r.json["data"]["ciphertext"].startswith("vault:v2:"), "§1.7 / VT17: rotated key writes vault:v2:")
        self.assertEqual(r.json["data"]["key_version"], 2, "key_version 2")
        r = self.d.req("POST", "/v1/transit/decrypt/" + key, {"ciphertext": ct1}, token=self.tok)
        self.assertEqual(base64.b64decode(r.json["data"]["plaintext"]), b"v", "old vault:v1: still decrypts")
        r = self.d.req("POST", "/v1/transit/keys/%s/rotate" % key, {}, token=self.tok)
        self.assertEqual(r.json["data"]["latest_version"], 3, "Vault's own rotate endpoint")

    def test_derived_key_needs_context(self):
        key = uniq("dk")
        self.assertEqual(self.d.req("POST", "/v1/transit/keys/" + key, {"derived": True}, token=self.tok).status, 200)
        r = self.d.req("POST", "/v1/transit/encrypt/" + key, {"plaintext": "AA=="}, token=self.tok)
        self.assertEqual(r.status, 400, "§1.11: 400 missing context for derived keys")
        self.assertIn("missing 'context'", r.json["errors"][0])
        ctx = base64.b64encode(b"ctx").decode()
        r = self.d.req("POST", "/v1/transit/encrypt/" + key, {"plaintext": "AA==", "context": ctx}, token=self.tok)
        ct = r.json["data"]["ciphertext"]
        r = self.d.req("POST", "/v1/transit/decrypt/" + key, {"ciphertext": ct, "context": ctx}, token=self.tok)
        self.assertEqual(r.json["data"]["plaintext"], "AA==", "derived key round trip")


class TestNamespaces(VaultCase):
    def test_scoped_mounts_and_tokens(self):
        t1 = self.d.login(ns="team1")
        n = uniq()
        r = self.d.req("PUT", "/v1/kv/" + n, {n: "in-team1"}, token=t1, ns="team1")
        self.assertEqual(r.status, 204, "§1.8: write under X-Vault-Namespace team1")
        r = self.d.req("GET", "/v1/team1/kv/" + n, token=t1)
        self.assertEqual(r.json["data"], {n: "in-team1"}, "§1.8: namespace as path prefix ≡ header (VDOC:index)")
        r = self.d.req("GET", "/v1/kv/" + n, token=t1, ns="team1/")
        self.assertEqual(r.status, 200, "trailing slash in the header is the same namespace")
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=self.tok), 404, [],
                    "§1.8: mounts are per namespace (root kv does not see team1's key)")
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=t1, ns="team2"), 403, ["permission denied"],
                    "§5.2: a token from namespace A is invalid in B")
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=t1), 403, ["permission denied"],
                    "§5.2: a team1 token is invalid in the root namespace")
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=t1, ns="team1/sub"), 404, [],
                    "a namespace's token is valid in its child namespace")
        self.assertEqual(self.d.req("GET", "/v1/kv/" + n, token=self.tok, ns="team1").status, 200,
                         "a root-namespace token reaches child namespaces")
        r = self.d.req("PUT", "/v1/auth/token/renew-self", {"increment": 0}, token=t1, ns="team1")
        self.assertEqual(r.status, 200, "§1.6.2: renew-self under the token's namespace")
        r = self.d.req("GET", "/v1/kv/x", token=self.tok, ns="nosuchns")
        self.assertEqual(r.status, 404, "undeclared namespace → 404")

    def test_request_log_namespace(self):
        self.d.ctl("/requests/clear", {})
        self.d.req("GET", "/v1/kv/x", token=self.tok, ns="team2")
        e = self.d.ctl("/requests").json["requests"][-1]
        self.assertEqual((e["namespace"], e["method"], e["path"], e["status"]), ("team2", "GET", "/v1/kv/x", 404),
                         "§5.2 request log: method, path, namespace header, status")


class TestKnobs(VaultCase):
    def test_forced_errors_next_n(self):
        for st, text in ((429, 'request path "kv/%s": rate limit quota exceeded'),
                         (412, "required index state not present"), (500, "internal error"),
                         (502, "bad gateway"), (503, "service unavailable"), (501, "not implemented")):
            n = uniq()
            self.d.ctl("/fault", {"status": st, "count": 2, "path": "kv/" + n})
            for i in range(2):
                r = self.d.req("GET", "/v1/kv/" + n, token=self.tok)
                self.errors(r, st, [text % n if "%s" in text else text],
                            "§5.2 / §1.9: forced %d for the next 2 requests (attempt %d)" % (st, i + 1))
            self.errors(self.d.req("GET", "/v1/kv/" + n, token=self.tok), 404, [], "third attempt is served")

    def test_fault_per_attempt_retry_after_and_bodies(self):
        n = uniq()
        self.d.ctl("/fault", {"status": 429, "skip": 1, "count": 1, "path": "kv/" + n, "retry_after": "2"})
        self.assertEqual(self.d.req("GET", "/v1/kv/" + n, token=self.tok).status, 404, "skip: attempt 1 passes")
        r = self.d.req("GET", "/v1/kv/" + n, token=self.tok)
        self.assertEqual((r.status, r.headers.get("retry-after")), (429, "2"), "§5.2: 429 with Retry-After")
        self.d.ctl("/fault", {"status": 404, "path": "kv/" + n,
                              "body": {"data": None, "warnings": ["w"]}, "method": "GET"})
        r = self.d.req("GET", "/v1/kv/" + n, token=self.tok)
        self.assertEqual((r.status, r.json), (404, {"data": None, "warnings": ["w"]}),
                         "§1.9: 404 + warnings answer injectable verbatim")
        self.d.ctl("/fault", {"status": 204, "path": "kv/" + n})
        r = self.d.req("GET", "/v1/kv/" + n, token=self.tok)
        self.assertEqual((r.status, r.body), (204, b""), "§1.9 row 204 (empty)")
        self.d.ctl("/fault", {"status": 403, "path": "kv/*", "method": "DELETE"})
        self.errors(self.d.req("DELETE", "/v1/kv/" + n, token=self.tok), 403, ["permission denied"],
                    "VT19: delete 403 via fault")
        self.d.ctl("/fault", {"status": 200, "body": "not json at all", "path": "sys/health"})
        r = self.d.req("GET", "/v1/sys/health")
        self.assertEqual((r.status, r.body), (200, b"not json at all"), "raw body fault (JSON EOF cases)")

    def test_latency_global_and_per_path(self):
        slow, fast = uniq("slow"), uniq("fast")
        self.d.ctl("/latency", {"ms": 0, "paths": {"kv/%s*" % slow: 400}})
        t = time.monotonic()
        self.d.req("GET", "/v1/kv/%s/x" % slow, token=self.tok)
        self.assertGreaterEqual(time.monotonic() - t, 0.4, "§5.2: per-path latency")
        t = time.monotonic()
        self.d.req("GET", "/v1/kv/" + fast, token=self.tok)
        self.assertLess(time.monotonic() - t, 0.3, "other paths are not delayed")
        self.d.ctl("/latency", {"ms": 250, "paths": {}})
        t = time.monotonic()
        self.d.req("GET", "/v1/kv/" + fast, token=self.tok)
        self.assertGreaterEqual(time.monotonic() - t, 0.25, "§5.2: global latency")
        self.d.ctl("/latency", {"ms": 0})
        self.d.ctl("/fault", {"action": "delay", "delay_ms": 300, "path": "kv/" + fast})
        t = time.monotonic()
        self.d.req("GET", "/v1/kv/" + fast, token=self.tok)
        self.assertGreaterEqual(time.monotonic() - t, 0.3, "§5.2: delay fault for one request")

    def test_drop_reset_truncate(self):
        n = uniq()
        self.d.ctl("/fault", {"action": "drop", "path": "kv/" + n})
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError, OSError),
                               msg="§5.2: drop the connection without answering"):
            self.d.req("GET", "/v1/kv/" + n, token=self.tok)
        self.errors(self.d.req("GET", "/v1/kv/" + n, token=self.tok), 404, [], "only one connection dropped")
        self.d.ctl("/fault", {"action": "reset_after_headers", "status": 200, "path": "sys/health"})
        with self.assertRaises((ConnectionError, http.client.HTTPException, ssl.SSLError, OSError),
                               msg="§5.2: connection reset after headers"):
            r = self.d.req("GET", "/v1/sys/health")
            raise AssertionError("got a whole answer: %r" % r) if r.json else ConnectionError()
        self.d.ctl("/fault", {"action": "truncate", "status": 500, "path": "sys/health"})
        with self.assertRaises(http.client.IncompleteRead, msg="§5.2: truncated body"):
            self.d.req("GET", "/v1/sys/health")
        self.assertEqual(self.d.req("GET", "/v1/sys/health").status, 200, "served again")

    def test_redirect_and_tls_fail(self):
        self.d.ctl("/fault", {"action": "redirect", "path": "kv/r"})
        r = self.d.req("GET", "/v1/kv/r", token=self.tok)
        self.assertEqual(r.status, 307, "§5.2 / VT26: 307 redirect")
        self.assertEqual(r.headers["location"], "https://127.0.0.1:%d/v1/kv/r" % self.d.port, "Location")
        self.d.ctl("/fault", {"action": "redirect", "location": "http://127.0.0.1:1/v1/kv/r", "path": "kv/r"})
        self.assertEqual(self.d.req("GET", "/v1/kv/r", token=self.tok).headers["location"],
                         "http://127.0.0.1:1/v1/kv/r", "VT26: https→http redirect target injectable")
        self.d.ctl("/fault", {"action": "tls_fail"})
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError), msg="§5.2: TLS handshake failure"):
            self.d.req("GET", "/v1/sys/health")
        self.assertEqual(self.d.req("GET", "/v1/sys/health").status, 200, "next handshake succeeds")

    def test_state_and_control_errors(self):
        s = self.d.ctl("/state").json
        for k in ("node", "latency_ms", "token_ttl", "faults", "counters", "transit_cipher", "port"):
            self.assertIn(k, s, "control /state field %s" % k)
        self.assertEqual(s["port"], self.d.port)
        self.assertEqual(self.d.ctl("/nonsense", {}).status, 400, "unknown control path → 400")
        self.assertEqual(self.d.ctl("/fault", {"action": "explode"}).status, 400, "bad rule → 400")
        self.assertRegex(self.d.banner, r"^vault-double port=%d control=%d$" % (self.d.port, self.d.cport),
                         "the double prints its ports on stdout")


class TestMutualTLS(VaultCase):
    mtls = True
    name = "mtls"
    extra = ()

    def test_client_certificate_required(self):
        r = self.d.req("GET", "/v1/sys/health")
        self.assertEqual(r.status, 200, "§5.2: mutual TLS with a client certificate from the CA")
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError), msg="mTLS refuses a client without a cert"):
            self.d.req("GET", "/v1/sys/health", cert=False)
        with self.assertRaises((ssl.SSLError, ConnectionError, OSError), msg="mTLS refuses another CA's cert"):
            self.d.req("GET", "/v1/sys/health", rogue=True)
        self.assertEqual(self.d.req("GET", "/v1/sys/health").status, 200, "still serving")
        n = uniq()
        self.assertEqual(self.d.req("PUT", "/v1/kv/" + n, {n: "v"}, token=self.tok).status, 204, "KV over mTLS")
        e = self.d.ctl("/requests").json["requests"][-1]
        self.assertTrue(e["client_cert"], "request log records the client certificate")

    def test_tls_versions(self):
        ctx = self.d.context()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_1
            ctx.minimum_version = ssl.TLSVersion.TLSv1
        with self.assertRaises((ssl.SSLError, OSError), msg="TLS < 1.2 refused (§1.3 TLS ≥ 1.2)"):
            c = http.client.HTTPSConnection("127.0.0.1", self.d.port, timeout=5, context=ctx)
            c.request("GET", "/v1/sys/health")
            c.getresponse()


class TestRestartAndLogs(unittest.TestCase):
    def test_control_restart_keeps_keys_and_tokens(self):
        d = Double("restart1", ("--control-token", "ctl-secret"))
        try:
            self.assertEqual(d.ctl("/state").status, 403, "control token required when set")
            tok = d.login()
            n = uniq()
            self.assertEqual(d.req("PUT", "/v1/kv/" + n, {n: "v1"}, token=tok).status, 204)
            self.assertEqual(d.req("PUT", "/v1/kv2/data/" + n, {"data": {n: "v2"}, "options": {"cas": 0}},
                                   token=tok).status, 200)
            ct = d.req("POST", "/v1/transit/encrypt/t", {"plaintext": "aGk="}, token=tok).json["data"]["ciphertext"]
            r = d.ctl("/restart", {"down_ms": 600, "async": True}, token="ctl-secret")
            self.assertEqual(r.status, 200)
            time.sleep(0.2)
            with self.assertRaises(OSError, msg="§5.2 restart: refused while down"):
                socket.create_connection(("127.0.0.1", d.port), timeout=2).close()
            deadline = time.time() + 10
            while True:
                try:
                    r = d.req("GET", "/v1/kv/" + n, token=tok)
                    break
                except OSError:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.05)
            self.assertEqual(r.json["data"], {n: "v1"}, "§5.2 / issue 12: restart keeps KV v1 keys (and the token)")
            r = d.req("GET", "/v1/kv2/data/%s?version=1" % n, token=tok)
            self.assertEqual(r.json["data"]["data"], {n: "v2"}, "restart keeps KV v2 keys")
            r = d.req("POST", "/v1/transit/decrypt/t", {"ciphertext": ct}, token=tok)
            self.assertEqual(r.json["data"]["plaintext"], "aGk=", "restart keeps transit keys")
            d.ctl("/restart", {"sealed": True}, token="ctl-secret")
            self.assertEqual(d.req("GET", "/v1/sys/health").status, 503, "restart can come back sealed")
        finally:
            d.stop()

    def test_process_restart_after_kill9(self):
        d = Double("restart2", ("--journal-max", "3000"))
        try:
            tok = d.login()
            many = [uniq("m") for _ in range(24)]
            for i, k in enumerate(many):
                self.assertEqual(d.req("PUT", "/v1/kv2/data/" + k, {"data": {k: "v"}, "options": {"cas": 0}},
                                       token=tok).status, 200)
                if i % 4 == 0:
                    self.assertEqual(d.req("DELETE", "/v1/kv2/metadata/" + k, token=tok).status, 204)
            n = uniq()
            self.assertEqual(d.req("PUT", "/v1/kv/" + n, {n: "durable"}, token=tok).status, 204)
            port = d.port
            d.stop(signal.SIGKILL)
            journal = slurp(d.state + ".journal")
            self.assertIn(n, journal, "the acknowledged write is in the journal (replayed below)")
            for f in (d.state, d.state + ".journal"):
                self.assertNotIn(tok, slurp(f), "the state keeps a hash, never the token")
                self.assertNotIn(SECRET_ID, slurp(f), "command-line secret_id is not persisted")
            self.assertEqual([f for f in os.listdir(TMP) if ".tmp." in f], [],
                             "atomic writes leave no temp file")
            cmd = list(d.cmd)
            cmd[cmd.index("--addr") + 1] = "127.0.0.1:%d" % port
            d.start(cmd)
            self.assertEqual(d.port, port, "restarted on the same port")
            r = d.req("GET", "/v1/kv/" + n, token=tok)
            self.assertEqual(r.json["data"], {n: "durable"},
                             "§5.2 / issue 12: an acknowledged write survives kill -9 and a restart")
            for i, k in enumerate(many):
                r = d.req("GET", "/v1/kv2/data/%s?version=1" % k, token=tok)
                self.assertEqual(r.status, 404 if i % 4 == 0 else 200,
                                 "snapshot + journal (folded several times) give back every write and delete")
            self.assertEqual(d.stop(), 0, "SIGTERM exits 0")
        finally:
            if d.proc.poll() is None:
                d.stop()

    def test_cli_knobs_and_log_file(self):
        log = os.path.join(TMP, "cli.log")
        d = Double("cli", ("--sealed", "--standby", "--token-ttl", "2", "--non-renewable",
                           "--denied-style", "multi", "--fail", "500:1:kv/f*", "--drop", "1:kv/dropme",
                           "--path-latency", "kv/slow=300", "--log", log, "--root-token", "root-tok-xyz"))
        try:
            self.assertEqual(d.req("GET", "/v1/sys/health").status, 503, "--sealed: sealed wins over standby")
            d.ctl("/unseal", {})
            self.assertEqual(d.req("GET", "/v1/sys/health").status, 429, "--standby → 429")
            r = d.req("PUT", "/v1/auth/approle/login", {"role_id": ROLE_ID, "secret_id": SECRET_ID})
            a = r.json["auth"]
            self.assertEqual((a["lease_duration"], a["renewable"]), (2, False), "--token-ttl / --non-renewable")
            tok = a["client_token"]
            self.assertEqual(d.req("GET", "/v1/kv/fx", token=tok).status, 500, "--fail 500:1:kv/f*")
            self.assertEqual(d.req("GET", "/v1/kv/fx", token=tok).status, 404, "only once")
            with self.assertRaises((ConnectionError, http.client.HTTPException, OSError)):
                d.req("GET", "/v1/kv/dropme", token=tok)
            t = time.monotonic()
            d.req("GET", "/v1/kv/slow", token=tok)
            self.assertGreaterEqual(time.monotonic() - t, 0.3, "--path-latency")
            self.errors_multi(d.req("GET", "/v1/kv/x", token="bogus"),
                              "1 error occurred:\n\t* permission denied\n\n",
                              "§1.11: multi-error permission denied text (--denied-style multi)")
            d.ctl("/clock", {"advance": 5})
            self.errors_multi(d.req("GET", "/v1/kv/x", token=tok),
                              "2 errors occurred:\n\t* permission denied\n\t* invalid token\n\n",
                              "§1.11 / §5.2: expired token multi-error text (kes PR 504)")
            self.assertEqual(d.req("GET", "/v1/kv/x", token="root-tok-xyz").status, 404,
                             "--root-token never expires")
        finally:
            d.stop()
        text = slurp(log)
        self.assertRegex(text, r"PUT /v1/auth/approle/login 200", "request log: method, path, status")
        self.assertRegex(text, r"GET /v1/kv/dropme dropped", "dropped connections are logged")
        for secret in (tok, SECRET_ID, JWT, "root-tok-xyz"):
            self.assertNotIn(secret, text, "issue 12: logs never show tokens or secret_ids")
        self.assertNotIn(SECRET_ID, slurp(d.errf), "nor does stderr")

    def test_exit_with_parent(self):
        pf = os.path.join(TMP, "orphan.port")
        # sh starts the double and waits on its stdin; it exits when we close it
        sh = subprocess.Popen(["sh", "-c", '"$@" </dev/null & echo $!; read x', "sh", sys.executable, DOUBLE,
                               "--cert", SRV_CERT, "--key", SRV_KEY, "--port-file", pf,
                               "--exit-with-parent"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
        pid = int(sh.stdout.readline())
        deadline = time.time() + 15
        while not os.path.exists(pf) and time.time() < deadline:
            time.sleep(0.02)
        self.assertTrue(os.path.exists(pf), "the double started")
        sh.stdin.close()
        sh.wait()
        sh.stdout.close()
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                with open("/proc/%d/stat" % pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break  # exited; its new parent has not reaped it yet
            except (FileNotFoundError, ProcessLookupError):
                break
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            self.fail("--exit-with-parent: the double outlived its parent")

    def errors_multi(self, r, text, where):
        self.assertEqual((r.status, r.json), (403, {"errors": [text]}), where)


if __name__ == "__main__":
    unittest.main(verbosity=2)
