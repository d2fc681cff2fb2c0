#!/usr/bin/env python3
"""Self-test of tests/doubles/azure_double.py, the Azure Key Vault TEST
DOUBLE (with the identity platform's token endpoint and IMDS).

Key Vault cannot run where keyward is tested, so keyward's Azure store is
tested against a double.  This suite pins the double to the contract,
shared/spec/keystores-cloud-and-legacy-config.md §3.2-§3.4 and the checklist
of §6.5, and (§6.2 rule 6, §6.7) drives it with Microsoft's own client
libraries from Debian's python3-azure: azure.keyvault.secrets.SecretClient
with azure.identity's ClientSecretCredential and ManagedIdentityCredential
(IMDS through AZURE_POD_IDENTITY_AUTHORITY_HOST).  Those run with
/usr/bin/python3 and are skipped when the package is missing.

Run: python3 tests/doubles/test_azure_double.py  (needs python3 and openssl;
binds 127.0.0.1 only; about 10 s).
"""

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
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "azure_double.py")
SYS_PY = "/usr/bin/python3"
TENANT, CLIENT, SECRET, MI = "tenant-1", "client-1", "s3cr3t~.value", "mi-client-1"
TMP = PROC = None
PORT = CPORT = IPORT = None
Q = "?api-version=7.5"


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def j(n):
    return os.path.join(TMP, n)


def setUpModule():
    global TMP, PROC, PORT, CPORT, IPORT
    TMP = tempfile.mkdtemp(prefix="azure-double-test-")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"), "-days", "2", "-subj", "/CN=az CA")
    openssl("req", *ec, "-keyout", j("server.key"), "-out", j("server.csr"), "-subj", "/CN=127.0.0.1")
    with open(j("s.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", j("server.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", j("s.ext"), "-out", j("server.pem"))
    PROC = subprocess.Popen([sys.executable, DOUBLE, "--cert", j("server.pem"), "--key", j("server.key"),
                             "--client", "%s:%s:%s" % (TENANT, CLIENT, SECRET), "--managed-identity", MI,
                             "--page-size", "2", "--port-file", j("port"), "--control-port-file", j("cport"),
                             "--imds-port-file", j("iport"), "--log", j("double.log"), "--exit-with-parent"])
    for _ in range(150):
        if os.path.exists(j("port")):
            break
        time.sleep(0.1)
    ports = []
    for n in ("port", "cport", "iport"):
        with open(j(n)) as f:
            ports.append(int(f.read()))
    PORT, CPORT, IPORT = ports


def tearDownModule():
    if PROC:
        PROC.terminate()
        PROC.wait()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def call(method, path, body=None, headers=None, port=None, tls=True):
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port or PORT,
                                        context=ssl.create_default_context(cafile=j("ca.pem")), timeout=10)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if isinstance(body, dict):
        body = json.dumps(body)
        headers = dict(headers or {}, **{"Content-Type": "application/json"})
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    try:
        return r.status, json.loads(data), r
    except ValueError:
        return r.status, data.decode("utf-8", "replace"), r


def control(path, body=None):
    st, out, _ = call("POST" if body is not None else "GET", path, body, port=CPORT, tls=False)
    assert st == 200, (path, st, out)
    return out


def token(**kw):
    f = {"client_id": CLIENT, "scope": "https://vault.azure.net/.default", "client_secret": SECRET,
         "grant_type": "client_credentials"}
    f.update(kw)
    return call("POST", "/%s/oauth2/v2.0/token" % TENANT, urllib.parse.urlencode(f),
                {"Content-Type": "application/x-www-form-urlencoded"})


def bearer():
    st, out, _ = token()
    assert st == 200, out
    return {"Authorization": "Bearer " + out["access_token"]}


class Identity(unittest.TestCase):
    def test_client_credentials(self):
        st, out, _ = token()
        self.assertEqual((st, out["token_type"]), (200, "Bearer"))
        st, out, _ = token(client_secret="wrong")
        self.assertEqual((st, out["error"]), (401, "invalid_client"))
        st, out, _ = token(scope="https://management.azure.com/.default")
        self.assertEqual((st, out["error"]), (400, "invalid_scope"))

    def test_imds(self):
        p = "/metadata/identity/oauth2/token?api-version=2018-02-01&resource=https%3A%2F%2Fvault.azure.net"
        st, out, _ = call("GET", p, port=IPORT, tls=False)
        self.assertEqual(st, 400)
        st, out, _ = call("GET", p + "&client_id=" + MI, headers={"Metadata": "true"}, port=IPORT, tls=False)
        self.assertEqual(st, 200, out)
        self.assertIsInstance(out["expires_in"], str)
        st, out, _ = call("GET", p + "&client_id=nobody", headers={"Metadata": "true"}, port=IPORT, tls=False)
        self.assertEqual(st, 400)


class Vault(unittest.TestCase):
    def test_challenge(self):
        st, out, r = call("GET", "/secrets/x" + Q)
        self.assertEqual(st, 401)
        self.assertIn('resource="https://vault.azure.net"', r.getheader("WWW-Authenticate"))
        st, out, _ = call("GET", "/secrets/x", headers=bearer())
        self.assertEqual((st, out["error"]["code"]), (400, "BadParameter"))

    def test_versions_soft_delete_purge(self):
        h = bearer()
        st, out, _ = call("PUT", "/secrets/bad_name" + Q, {"value": "v"}, h)
        self.assertEqual((st, out["error"]["code"]), (400, "BadParameter"))
        st, out, _ = call("GET", "/secrets/life/" + Q, headers=h)
        self.assertEqual((st, out["error"]["code"]), (404, "SecretNotFound"))
        st, out, _ = call("GET", "/secrets/life/versions" + Q, headers=h)
        self.assertEqual((st, out["value"]), (200, []))
        for v in ("one", "two", "three"):
            st, out, _ = call("PUT", "/secrets/life" + Q, {"value": v}, h)
            self.assertEqual(st, 200, out)
        st, out, _ = call("GET", "/secrets/life/versions" + Q, headers=h)
        self.assertEqual(len(out["value"]), 2)
        self.assertTrue(out["nextLink"].startswith("https://127.0.0.1:%d/secrets/life/versions?" % PORT))
        nl = urllib.parse.urlsplit(out["nextLink"])
        st, out2, _ = call("GET", nl.path + "?" + nl.query, headers=h)
        self.assertEqual((len(out2["value"]), out2["nextLink"]), (1, None))
        st, out, _ = call("GET", "/secrets/life" + Q, headers=h)
        self.assertEqual(out["value"], "three")
        st, out, _ = call("DELETE", "/secrets/life" + Q, headers=h)
        self.assertEqual(st, 200)
        self.assertIn("recoveryId", out)
        st, out, _ = call("PUT", "/secrets/life" + Q, {"value": "x"}, h)
        self.assertEqual((st, out["error"]["innererror"]["code"]), (409, "ObjectIsDeletedButRecoverable"))
        st, out, _ = call("DELETE", "/deletedsecrets/life" + Q, headers=h)
        self.assertEqual(st, 204)
        st, out, _ = call("DELETE", "/deletedsecrets/life" + Q, headers=h)
        self.assertEqual(st, 404)
        control("/deletion", {"delete_ms": 1000})
        call("PUT", "/secrets/slow" + Q, {"value": "x"}, h)
        call("DELETE", "/secrets/slow" + Q, headers=h)
        st, out, _ = call("DELETE", "/deletedsecrets/slow" + Q, headers=h)
        self.assertEqual((st, out["error"]["innererror"]["code"]), (409, "ObjectIsBeingDeleted"))
        st, out, _ = call("PUT", "/secrets/slow" + Q, {"value": "x"}, h)
        self.assertEqual((st, out["error"]["innererror"]["code"]), (409, "ObjectIsBeingDeleted"))
        control("/deletion", {"delete_ms": 0})
        time.sleep(1.1)
        st, _, _ = call("DELETE", "/deletedsecrets/slow" + Q, headers=h)
        self.assertEqual(st, 204)


OFFICIAL = r'''
import os, sys
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.keyvault.secrets import SecretClient
port, iport, tenant, client, secret, mi = sys.argv[1:7]
vault = "https://127.0.0.1:%s" % port
cred = ClientSecretCredential(tenant, client, secret, authority="https://127.0.0.1:%s" % port,
                              instance_discovery=False)  # 1.13.0b2 spelling
sc = SecretClient(vault, cred, verify_challenge_resource=False)
s = sc.set_secret("official", "v1")
assert s.value == "v1" and s.properties.version, s
sc.set_secret("official", "v2")
assert sc.get_secret("official").value == "v2"
vs = list(sc.list_properties_of_secret_versions("official"))
assert len(vs) == 2, vs
names = [p.name for p in sc.list_properties_of_secrets()]
assert "official" in names, names
poller = sc.begin_delete_secret("official")
poller.wait()
sc.purge_deleted_secret("official")
os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = "http://127.0.0.1:%s" % iport
tok = ManagedIdentityCredential(client_id=mi).get_token("https://vault.azure.net/.default")
assert tok.token and tok.expires_on > 0
print("official clients OK")
'''


@unittest.skipUnless(os.path.exists(SYS_PY) and subprocess.run(
    [SYS_PY, "-c", "import azure.keyvault.secrets, azure.identity"], stderr=subprocess.DEVNULL).returncode == 0,
    "python3-azure is not installed")
class OfficialClients(unittest.TestCase):
    def test_sdk(self):
        env = dict(os.environ, REQUESTS_CA_BUNDLE=j("ca.pem"))
        r = subprocess.run([SYS_PY, "-c", OFFICIAL, str(PORT), str(IPORT), TENANT, CLIENT, SECRET, MI], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout.decode()[-3000:])
        self.assertIn("official clients OK", r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
