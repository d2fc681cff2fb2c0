#!/usr/bin/env python3
"""Self-test of tests/doubles/gcp_double.py, the GCP Secret Manager TEST
DOUBLE (with Google's OAuth2 token endpoint and the GCE metadata server).

Secret Manager cannot run where keyward is tested, so keyward's GCP store is
tested against a double.  This suite pins the double to the contract,
shared/spec/keystores-cloud-and-legacy-config.md §2.3-§2.6 and the checklist
of §6.4, and (§6.2 rule 6, §6.7) drives it with Google's own client library,
python3-google-auth from Debian (service-account JWT grant, metadata-server
credentials, AuthorizedSession), plus python3-jwt for the assertion: the
official client must get what it expects from the double unchanged, except
for the endpoint and the CA.  Those two checks run with /usr/bin/python3 (the
Debian packages live there) and are skipped when the packages are missing.

Run: python3 tests/doubles/test_gcp_double.py  (needs python3 and openssl;
binds 127.0.0.1 only; about 10 s).
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
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "gcp_double.py")
SYS_PY = "/usr/bin/python3"
EMAIL = "kes@my-project.iam.gserviceaccount.com"
TMP = PROC = None
PORT = CPORT = MPORT = None


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def j(n):
    return os.path.join(TMP, n)


def setUpModule():
    global TMP, PROC, PORT, CPORT, MPORT
    if shutil.which("openssl") is None:
        raise RuntimeError("the openssl command line is needed to make the test certificates")
    TMP = tempfile.mkdtemp(prefix="gcp-double-test-")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"), "-days", "2", "-subj", "/CN=gcp test CA")
    openssl("req", *ec, "-keyout", j("server.key"), "-out", j("server.csr"), "-subj", "/CN=127.0.0.1")
    with open(j("s.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", j("server.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"), "-CAcreateserial",
            "-days", "2", "-extfile", j("s.ext"), "-out", j("server.pem"))
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", j("sa.pem"))
    openssl("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", j("other.pem"))
    PROC = subprocess.Popen([sys.executable, DOUBLE, "--cert", j("server.pem"), "--key", j("server.key"),
                             "--service-account", EMAIL + "=" + j("sa.pem"), "--page-size", "2",
                             "--port-file", j("port"), "--control-port-file", j("cport"),
                             "--metadata-port-file", j("mport"), "--log", j("double.log"), "--exit-with-parent"])
    for _ in range(150):
        if os.path.exists(j("port")):
            break
        time.sleep(0.1)
    PORT = int(open(j("port")).read())
    CPORT = int(open(j("cport")).read())
    MPORT = int(open(j("mport")).read())


def tearDownModule():
    if PROC:
        PROC.terminate()
        PROC.wait()
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def ctx():
    c = ssl.create_default_context(cafile=j("ca.pem"))
    return c


def call(method, path, body=None, headers=None, port=None, tls=True):
    if tls:
        c = http.client.HTTPSConnection("127.0.0.1", port or PORT, context=ctx(), timeout=10)
    else:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    if isinstance(body, (dict, list)):
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


def b64url(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def sign_jwt(claims, key="sa.pem"):
    """An RS256 JWT signed with the openssl command line."""
    head = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    body = b64url(json.dumps(claims).encode())
    msg = (head + "." + body).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", j(key)], input=msg, check=True,
                         stdout=subprocess.PIPE).stdout
    return head + "." + body + "." + b64url(sig)


def token_url():
    return "https://127.0.0.1:%d/token" % PORT


def claims(**kw):
    now = int(time.time())
    c = {"iss": EMAIL, "scope": "https://www.googleapis.com/auth/cloud-platform", "aud": token_url(),
         "iat": now, "exp": now + 3600}
    c.update(kw)
    return c


def grant(jwt, grant_type="urn:ietf:params:oauth:grant-type:jwt-bearer"):
    body = urllib.parse.urlencode({"grant_type": grant_type, "assertion": jwt})
    return call("POST", "/token", body, {"Content-Type": "application/x-www-form-urlencoded"})


def bearer():
    st, out, _ = grant(sign_jwt(claims()))
    assert st == 200, out
    return {"Authorization": "Bearer " + out["access_token"]}


P = "/v1/projects/my-project"


class TokenEndpoint(unittest.TestCase):
    """§2.3 and §6.4: the JWT bearer grant."""

    def test_good_assertion(self):
        st, out, r = grant(sign_jwt(claims()))
        self.assertEqual(st, 200, out)
        self.assertEqual(out["token_type"], "Bearer")
        self.assertEqual(out["expires_in"], 3599)
        self.assertTrue(out["access_token"])

    def test_refusals(self):
        cases = [
            (sign_jwt(claims(), key="other.pem"), "invalid_grant"),
            (sign_jwt(claims(aud="https://oauth2.googleapis.com/token")), "invalid_grant"),
            (sign_jwt(claims(iss="nobody@x.iam.gserviceaccount.com")), "invalid_grant"),
            (sign_jwt(claims(exp=int(time.time()) + 7200)), "invalid_grant"),
            (sign_jwt(claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)), "invalid_grant"),
            (sign_jwt(claims(scope="https://www.googleapis.com/auth/devstorage.read_only")), "invalid_scope"),
            ("not-a-jwt", "invalid_grant"),
        ]
        for jwt, err in cases:
            st, out, _ = grant(jwt)
            self.assertEqual(st, 400, out)
            self.assertEqual(out["error"], err, out)
        st, out, _ = grant(sign_jwt(claims()), grant_type="client_credentials")
        self.assertEqual((st, out["error"]), (400, "unsupported_grant_type"))

    def test_metadata_server(self):
        st, out, _ = call("GET", "/computeMetadata/v1/instance/service-accounts/default/token", port=MPORT,
                          tls=False)
        self.assertEqual(st, 403)
        st, out, _ = call("GET", "/computeMetadata/v1/instance/service-accounts/default/token",
                          headers={"Metadata-Flavor": "Google"}, port=MPORT, tls=False)
        self.assertEqual(st, 200, out)
        self.assertEqual(out["token_type"], "Bearer")


class SecretManager(unittest.TestCase):
    """§2.4, §2.6 and §6.4: the REST v1 surface."""

    def test_auth_required(self):
        st, out, r = call("GET", P + "/secrets")
        self.assertEqual((st, out["error"]["status"]), (401, "UNAUTHENTICATED"))
        self.assertIn("Bearer", r.getheader("WWW-Authenticate"))
        st, out, _ = call("GET", "/v1/projects/other-project/secrets", headers=bearer())
        self.assertEqual((st, out["error"]["status"]), (403, "PERMISSION_DENIED"))

    def test_lifecycle(self):
        h = bearer()
        st, out, _ = call("POST", P + "/secrets?secretId=life", {"replication": {"automatic": {}}}, h)
        self.assertEqual(st, 200, out)
        self.assertEqual(out["name"], "projects/123456789012/secrets/life")
        st, out, _ = call("POST", P + "/secrets?secretId=life", {"replication": {"automatic": {}}}, h)
        self.assertEqual((st, out["error"]["status"], out["error"]["code"]), (409, "ALREADY_EXISTS", 409))
        st, out, _ = call("POST", P + "/secrets?secretId=bad.name", {"replication": {"automatic": {}}}, h)
        self.assertEqual((st, out["error"]["status"]), (400, "INVALID_ARGUMENT"))
        st, out, _ = call("POST", P + "/secrets?secretId=norep", {}, h)
        self.assertEqual(st, 400)
        st, out, _ = call("GET", P + "/secrets/life/versions/1:access", headers=h)
        self.assertEqual((st, out["error"]["status"]), (404, "NOT_FOUND"))
        st, out, _ = call("POST", "/v1/projects/123456789012/secrets/life:addVersion",
                          {"payload": {"data": base64.b64encode(b"value-1").decode()}}, h)
        self.assertEqual((st, out["state"]), (200, "ENABLED"), out)
        self.assertTrue(out["name"].endswith("/versions/1"))
        call("POST", P + "/secrets/life:addVersion", {"payload": {"data": base64.b64encode(b"v2").decode()}}, h)
        st, out, _ = call("GET", P + "/secrets/life/versions/1:access", headers=h)
        self.assertEqual(base64.b64decode(out["payload"]["data"]), b"value-1")
        self.assertIn("dataCrc32c", out["payload"])
        st, out, _ = call("GET", P + "/secrets/life/versions/latest:access", headers=h)
        self.assertEqual(base64.b64decode(out["payload"]["data"]), b"v2")
        control("/secrets/version", {"id": "life", "version": 1, "state": "DISABLED"})
        st, out, _ = call("GET", P + "/secrets/life/versions/1:access", headers=h)
        self.assertEqual((st, out["error"]["status"]), (400, "FAILED_PRECONDITION"))
        st, out, _ = call("POST", P + "/secrets/absent:addVersion", {"payload": {"data": "eA=="}}, h)
        self.assertEqual(st, 404)
        st, out, _ = call("DELETE", P + "/secrets/life", headers=h)
        self.assertEqual((st, out), (200, {}))
        st, out, _ = call("DELETE", P + "/secrets/life", headers=h)
        self.assertEqual((st, out["error"]["status"]), (404, "NOT_FOUND"))

    def test_paging(self):
        h = bearer()
        for i in range(5):
            call("POST", P + "/secrets?secretId=page%d" % i, {"replication": {"automatic": {}}}, h)
        names, tok, pages = [], "", 0
        while True:
            st, out, _ = call("GET", P + "/secrets" + ("?pageToken=" + urllib.parse.quote(tok) if tok else ""),
                              headers=h)
            self.assertEqual(st, 200, out)
            pages += 1
            names += [s["name"].rsplit("/", 1)[1] for s in out.get("secrets", [])]
            tok = out.get("nextPageToken", "")
            if not tok:
                break
        for i in range(5):
            self.assertIn("page%d" % i, names)
        self.assertGreaterEqual(pages, 3)
        st, out, _ = call("GET", P + "/secrets?pageToken=bogus", headers=h)
        self.assertEqual((st, out["error"]["status"]), (400, "INVALID_ARGUMENT"))
        for i in range(5):
            call("DELETE", P + "/secrets/page%d" % i, headers=h)

    def test_status_probe_and_faults(self):
        st, _, _ = call("GET", "/")
        self.assertEqual(st, 404)
        control("/fault", {"path": P + "/secrets", "status": 503, "count": 1})
        h = bearer()
        st, out, _ = call("GET", P + "/secrets", headers=h)
        self.assertEqual((st, out["error"]["status"]), (503, "UNAVAILABLE"))
        st, out, _ = call("GET", P + "/secrets", headers=h)
        self.assertEqual(st, 200)
        control("/tokens/expire", {})
        st, out, _ = call("GET", P + "/secrets", headers=h)
        self.assertEqual(st, 401)


OFFICIAL = r'''
import json, os, sys, time, base64
import google.auth.transport.requests as tr
import google.oauth2.service_account as sa
import google.auth.compute_engine as ce
import jwt
port, tmp, email = int(sys.argv[1]), sys.argv[2], sys.argv[3]
base = "https://127.0.0.1:%d" % port
info = {"type": "service_account", "project_id": "my-project", "private_key_id": "abcd",
        "private_key": open(os.path.join(tmp, "sa.pem")).read(), "client_email": email,
        "client_id": "1234", "token_uri": base + "/token"}
creds = sa.Credentials.from_service_account_info(
    info, scopes=["https://www.googleapis.com/auth/cloud-platform"])
req = tr.Request()
creds.refresh(req)
assert creds.token and creds.valid, "no token"
s = tr.AuthorizedSession(creds)
p = base + "/v1/projects/my-project/secrets"
r = s.post(p + "?secretId=official", json={"replication": {"automatic": {}}})
assert r.status_code == 200, r.text
name = r.json()["name"]
r = s.post(base + "/v1/" + name + ":addVersion", json={"payload": {"data": base64.b64encode(b"hi").decode()}})
assert r.status_code == 200, r.text
r = s.get(p + "/official/versions/1:access")
assert base64.b64decode(r.json()["payload"]["data"]) == b"hi", r.text
r = s.delete(p + "/official")
assert r.status_code == 200, r.text
# python3-jwt's RS256 assertion is accepted as well
now = int(time.time())
a = jwt.encode({"iss": email, "scope": "https://www.googleapis.com/auth/cloud-platform",
                "aud": base + "/token", "iat": now, "exp": now + 3600},
               info["private_key"], algorithm="RS256", headers={"kid": "abcd"})
r = req.session.post(base + "/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                                            "assertion": a})
assert r.status_code == 200, r.text
# Compute Engine credentials from the metadata server double
os.environ["GCE_METADATA_ROOT"] = "127.0.0.1:%s" % sys.argv[4]
import importlib, google.auth.compute_engine._metadata as md
importlib.reload(md)
import google.auth.compute_engine.credentials as cec
importlib.reload(cec)
c = cec.Credentials()
c.refresh(req)
assert c.token, "no metadata token"
print("official clients OK")
'''


@unittest.skipUnless(os.path.exists(SYS_PY) and subprocess.run(
    [SYS_PY, "-c", "import google.oauth2.service_account, google.auth.transport.requests, jwt"],
    stderr=subprocess.DEVNULL).returncode == 0, "python3-google-auth / python3-jwt not installed")
class OfficialClients(unittest.TestCase):
    """§6.7: Google's client library and python3-jwt against the double."""

    def test_google_auth(self):
        env = dict(os.environ, REQUESTS_CA_BUNDLE=j("ca.pem"))
        r = subprocess.run([SYS_PY, "-c", OFFICIAL, str(PORT), TMP, EMAIL, str(MPORT)], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout.decode())
        self.assertIn("official clients OK", r.stdout.decode())


if __name__ == "__main__":
    unittest.main()
