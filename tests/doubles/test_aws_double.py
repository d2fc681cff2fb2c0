#!/usr/bin/env python3
"""Self-test of tests/doubles/aws_double.py, the AWS Secrets Manager TEST
DOUBLE.

No AWS service runs where keyward is tested, so keyward's AWS store is
tested against a double.  This suite holds the double to the service as
the official AWS SDK for Python sees it: boto3 and botocore (Debian's
python3-boto3 / python3-botocore, scripts/deps.sh) talk to the double
unchanged but for endpoint_url and the CA, sign with their own SigV4 and
parse the answers with their own code.  What boto3 cannot show (a
signature botocore would never make wrong) is checked with hand-made
requests.  Section numbers are those of shared/spec/keystores-cloud-and-
legacy-config.md.

Run: python3 tests/doubles/test_aws_double.py (needs python3, openssl,
python3-boto3; binds 127.0.0.1 only; a few seconds).
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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DOUBLE = os.path.join(HERE, "aws_double.py")
AKID, SECRET = "AKIDKEYWARDTEST0001", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYKEYWARD"
AKID_T, SECRET_T, TOKEN_T = "ASIAKEYWARDTEST0002", "secret-two", "FQoGZXIvYXdzEXAMPLETOKEN"
REGION = "us-east-2"

try:
    import boto3
    import botocore
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from botocore.exceptions import ClientError
    HAVE_BOTO = True
except ImportError:  # the suite fails loudly below: deps.sh installs them
    HAVE_BOTO = False

TMP = PROC = None
PORT = CPORT = MPORT = 0
CA = None


def wait_file(p):
    for _ in range(150):
        if os.path.exists(p):
            with open(p) as f:
                v = f.read().strip()
            if v:
                return int(v)
        time.sleep(0.1)
    raise RuntimeError("the double did not start (%s)" % p)


def setUpModule():
    global TMP, PROC, PORT, CPORT, MPORT, CA
    if not HAVE_BOTO:
        raise RuntimeError("python3-boto3 / python3-botocore are not installed (scripts/deps.sh installs them); "
                           "the AWS double cannot be validated without the official client")
    TMP = tempfile.mkdtemp(prefix="aws-double-test-")
    j = lambda n: os.path.join(TMP, n)  # noqa: E731
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run = lambda *a: subprocess.run(["openssl"] + list(a), check=True, stdout=subprocess.DEVNULL,  # noqa: E731
                                    stderr=subprocess.DEVNULL)
    run("req", "-x509", *ec, "-keyout", j("ca.key"), "-out", j("ca.pem"), "-days", "2", "-subj", "/CN=aws test CA")
    run("req", *ec, "-keyout", j("server.key"), "-out", j("server.csr"), "-subj", "/CN=127.0.0.1")
    with open(j("s.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", j("server.csr"), "-CA", j("ca.pem"), "-CAkey", j("ca.key"), "-CAcreateserial",
        "-days", "2", "-extfile", j("s.ext"), "-out", j("server.pem"))
    CA = j("ca.pem")
    PROC = subprocess.Popen([sys.executable, DOUBLE, "--cert", j("server.pem"), "--key", j("server.key"),
                             "--region", REGION, "--identity", AKID + ":" + SECRET,
                             "--identity", "%s:%s:%s" % (AKID_T, SECRET_T, TOKEN_T),
                             "--port-file", j("p"), "--control-port-file", j("c"), "--meta-port-file", j("m"),
                             "--container-auth", "Bearer ctr-token", "--log", j("log"), "--exit-with-parent"])
    PORT, CPORT, MPORT = wait_file(j("p")), wait_file(j("c")), wait_file(j("m"))


def tearDownModule():
    if PROC:
        PROC.terminate()
        PROC.wait(10)
    if TMP:
        shutil.rmtree(TMP, ignore_errors=True)


def ctl(path, body=None):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (CPORT, path),
                                 data=json.dumps(body).encode() if body is not None else None, method="POST"
                                 if body is not None else "GET")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read().decode())


def client(akid=AKID, secret=SECRET, token=None, region=REGION):
    return boto3.client("secretsmanager", endpoint_url="https://127.0.0.1:%d" % PORT, region_name=region,
                        aws_access_key_id=akid, aws_secret_access_key=secret, aws_session_token=token,
                        verify=CA, config=botocore.config.Config(retries={"total_max_attempts": 1}))


def code(e):
    return e.exception.response["Error"]["Code"]


def raw(target, body, akid=AKID, secret=SECRET, token=None, date=None, tamper=None, ctype=None):
    """A request signed by botocore's SigV4Auth, then maybe changed."""
    data = json.dumps(body).encode()
    req = AWSRequest(method="POST", url="https://127.0.0.1:%d/" % PORT, data=data,
                     headers={"Content-Type": ctype or "application/x-amz-json-1.1",
                              "X-Amz-Target": "secretsmanager." + target})
    auth = SigV4Auth(Credentials(akid, secret, token), "secretsmanager", REGION)
    if date is None:
        auth.add_auth(req)
    else:
        req.context["timestamp"] = date
        auth._modify_request_before_signing(req)
        auth._inject_signature_to_request(req, auth.signature(auth.string_to_sign(req, auth.canonical_request(
            req)), req))
    hdrs = dict(req.headers.items())
    if tamper:
        data = tamper(hdrs, data)
    ctx = ssl.create_default_context(cafile=CA)
    c = http.client.HTTPSConnection("127.0.0.1", PORT, context=ctx, timeout=10)
    c.request("POST", "/", body=data, headers=hdrs)
    r = c.getresponse()
    out = r.read()
    c.close()
    return r.status, dict(r.getheaders()), json.loads(out.decode()) if out else None


class Boto3(unittest.TestCase):
    """§6.3 through boto3, the official client."""

    def test_create_get_delete(self):
        sm = client()
        r = sm.create_secret(Name="b3-key", SecretString='{"bytes":"AAAA"}', KmsKeyId="alias/kw")
        self.assertEqual(r["Name"], "b3-key")
        self.assertTrue(r["ARN"].startswith("arn:aws:secretsmanager:us-east-2:"))
        g = sm.get_secret_value(SecretId="b3-key")
        self.assertEqual(g["SecretString"], '{"bytes":"AAAA"}')
        self.assertEqual(g["VersionStages"], ["AWSCURRENT"])
        self.assertIsInstance(g["CreatedDate"].timestamp(), float)  # botocore parsed the number
        with self.assertRaises(ClientError) as e:
            sm.create_secret(Name="b3-key", SecretString="x")
        self.assertEqual(code(e), "ResourceExistsException")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        d = sm.delete_secret(SecretId="b3-key", ForceDeleteWithoutRecovery=True)
        self.assertEqual(d["Name"], "b3-key")
        self.assertIn("DeletionDate", d)
        with self.assertRaises(ClientError) as e:
            sm.get_secret_value(SecretId="b3-key")
        self.assertEqual(code(e), "ResourceNotFoundException")
        # forced delete of a missing name: 200 (§1.6)
        sm.delete_secret(SecretId="b3-key", ForceDeleteWithoutRecovery=True)
        with self.assertRaises(ClientError) as e:
            sm.delete_secret(SecretId="b3-key", ForceDeleteWithoutRecovery=True, RecoveryWindowInDays=7)
        self.assertEqual(code(e), "InvalidParameterException")
        kms = [s for s in ctl("/secrets")["secrets"] if s["name"] == "b3-key"]
        self.assertEqual(kms, [])

    def test_binary_and_idempotency(self):
        sm = client()
        sm.create_secret(Name="b3-bin", SecretBinary=b"\x00\x01binary")
        self.assertEqual(sm.get_secret_value(SecretId="b3-bin")["SecretBinary"], b"\x00\x01binary")
        tok = "6F2A1B3C-0D4E-4F5A-8B6C-7D8E9F0A1B2C"
        a = sm.create_secret(Name="b3-idem", SecretString="v", ClientRequestToken=tok)
        b = sm.create_secret(Name="b3-idem", SecretString="v", ClientRequestToken=tok)
        self.assertEqual(a["VersionId"], b["VersionId"])

    def test_list_pages(self):
        sm = client()
        for i in range(7):
            sm.create_secret(Name="b3-list-%d" % i, SecretString="v%d" % i)
        pages = list(sm.get_paginator("list_secrets").paginate(PaginationConfig={"PageSize": 3}))
        names = [s["Name"] for p in pages for s in p["SecretList"] if s["Name"].startswith("b3-list-")]
        self.assertEqual(sorted(names), ["b3-list-%d" % i for i in range(7)])
        self.assertGreater(len(pages), 2)
        self.assertIn("NextToken", pages[0])
        self.assertNotIn("NextToken", pages[-1])
        with self.assertRaises(ClientError) as e:
            sm.list_secrets(NextToken="bm90LWEtdG9rZW4=")
        self.assertEqual(code(e), "InvalidNextTokenException")
        # scheduled deletion hides a secret unless asked for (§6.3)
        sm.delete_secret(SecretId="b3-list-0", RecoveryWindowInDays=7)
        names = [s["Name"] for p in sm.get_paginator("list_secrets").paginate() for s in p["SecretList"]]
        self.assertNotIn("b3-list-0", names)
        names = [s["Name"] for p in sm.get_paginator("list_secrets").paginate(IncludePlannedDeletion=True)
                 for s in p["SecretList"]]
        self.assertIn("b3-list-0", names)
        with self.assertRaises(ClientError) as e:
            sm.get_secret_value(SecretId="b3-list-0")
        self.assertEqual(code(e), "InvalidRequestException")
        with self.assertRaises(ClientError) as e:
            sm.create_secret(Name="b3-list-0", SecretString="again")
        self.assertEqual(code(e), "InvalidRequestException")

    def test_session_token(self):
        sm = client(AKID_T, SECRET_T, TOKEN_T)
        sm.create_secret(Name="b3-tok", SecretString="t")
        with self.assertRaises(ClientError) as e:
            client(AKID_T, SECRET_T, None).get_secret_value(SecretId="b3-tok")
        self.assertEqual(code(e), "UnrecognizedClientException")
        with self.assertRaises(ClientError) as e:
            client(AKID_T, SECRET_T, "wrong").get_secret_value(SecretId="b3-tok")
        self.assertEqual(code(e), "UnrecognizedClientException")

    def test_refused_credentials(self):
        with self.assertRaises(ClientError) as e:
            client(AKID, "not-the-secret").get_secret_value(SecretId="x")
        self.assertEqual(code(e), "InvalidSignatureException")
        with self.assertRaises(ClientError) as e:
            client("AKIDUNKNOWN", SECRET).get_secret_value(SecretId="x")
        self.assertEqual(code(e), "UnrecognizedClientException")
        with self.assertRaises(ClientError) as e:
            client(region="eu-west-1").get_secret_value(SecretId="x")
        self.assertEqual(code(e), "InvalidSignatureException")

    def test_switches(self):
        sm = client()
        ctl("/knobs", {"bad_kms": True})
        try:
            with self.assertRaises(ClientError) as e:
                sm.create_secret(Name="b3-kms", SecretString="k", KmsKeyId="alias/broken")
            self.assertEqual(code(e), "EncryptionFailure")
        finally:
            ctl("/knobs", {"bad_kms": False})
        sm.create_secret(Name="b3-dec", SecretString="d")
        ctl("/knobs", {"decrypt_failure": True})
        try:
            with self.assertRaises(ClientError) as e:
                sm.get_secret_value(SecretId="b3-dec")
            self.assertEqual(code(e), "DecryptionFailure")
        finally:
            ctl("/knobs", {"decrypt_failure": False})
        ctl("/knobs", {"async_delete_ms": 1500})
        try:
            sm.delete_secret(SecretId="b3-dec", ForceDeleteWithoutRecovery=True)
            with self.assertRaises(ClientError) as e:
                sm.create_secret(Name="b3-dec", SecretString="d")
            self.assertEqual(code(e), "InvalidRequestException")
            time.sleep(1.6)
            sm.create_secret(Name="b3-dec", SecretString="d")
        finally:
            ctl("/knobs", {"async_delete_ms": 0})

    def test_faults_reach_the_client(self):
        ctl("/fault", {"target": "GetSecretValue", "status": 400, "type": "ThrottlingException"})
        with self.assertRaises(ClientError) as e:
            client().get_secret_value(SecretId="nothing")
        self.assertEqual(code(e), "ThrottlingException")
        ctl("/fault", {"target": "GetSecretValue", "status": 500, "type": "InternalServiceError"})
        with self.assertRaises(ClientError) as e:
            client().get_secret_value(SecretId="nothing")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 500)
        # boto3's own retries get through a single 500
        ctl("/fault", {"target": "GetSecretValue", "status": 500, "type": "InternalServiceError"})
        sm = boto3.client("secretsmanager", endpoint_url="https://127.0.0.1:%d" % PORT, region_name=REGION,
                          aws_access_key_id=AKID, aws_secret_access_key=SECRET, verify=CA)
        with self.assertRaises(ClientError) as e:
            sm.get_secret_value(SecretId="nothing")
        self.assertEqual(code(e), "ResourceNotFoundException")

    def test_namespaced_type_is_understood(self):
        ctl("/fault", {"target": "GetSecretValue", "status": 400,
                       "type": "com.amazonaws.secretsmanager#ResourceNotFoundException"})
        with self.assertRaises(ClientError) as e:
            client().get_secret_value(SecretId="nothing")
        self.assertEqual(code(e), "ResourceNotFoundException")


class Signature(unittest.TestCase):
    """§6.3: SigV4 is verified over the bytes received."""

    def test_good(self):
        st, h, b = raw("GetSecretValue", {"SecretId": "none"})
        self.assertEqual((st, b["__type"]), (400, "ResourceNotFoundException"))
        self.assertEqual(h["Content-Type"], "application/x-amz-json-1.1")
        self.assertIn("x-amzn-RequestId", h)

    def test_body_changed(self):
        st, _, b = raw("GetSecretValue", {"SecretId": "none"}, tamper=lambda h, d: d.replace(b"none", b"nonf"))
        self.assertEqual((st, b["__type"]), (400, "InvalidSignatureException"))

    def test_target_unsigned(self):
        def t(h, d):
            a = h["Authorization"].replace(";x-amz-target", "")
            h["Authorization"] = a
            return d
        st, _, b = raw("GetSecretValue", {"SecretId": "none"}, tamper=t)
        self.assertEqual((st, b["__type"]), (400, "InvalidSignatureException"))

    def test_expired_signature(self):
        old = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() - 600))
        st, _, b = raw("GetSecretValue", {"SecretId": "none"}, date=old)
        self.assertEqual((st, b["__type"]), (400, "InvalidSignatureException"))
        self.assertIn("Signature expired", b["message"])

    def test_unknown_target_and_type(self):
        st, _, b = raw("RotateEverything", {})
        self.assertEqual((st, b["__type"]), (400, "UnknownOperationException"))
        st, _, b = raw("GetSecretValue", {"SecretId": "x"}, ctype="application/json")
        self.assertEqual(st, 400)

    def test_status_probe(self):
        ctx = ssl.create_default_context(cafile=CA)
        c = http.client.HTTPSConnection("127.0.0.1", PORT, context=ctx, timeout=10)
        c.request("GET", "/")
        self.assertEqual(c.getresponse().status, 200)
        c.close()


class Credentials_(unittest.TestCase):
    """§1.3: the instance metadata and container endpoints, read by
    botocore's own fetchers, and the credentials they give accepted."""

    def test_imds_v2(self):
        from botocore.utils import InstanceMetadataFetcher
        f = InstanceMetadataFetcher(timeout=5, num_attempts=1, base_url="http://127.0.0.1:%d/" % MPORT)
        c = f.retrieve_iam_role_credentials()
        self.assertEqual(c["role_name"], "keyward-role")
        self.assertTrue(c["access_key"].startswith("ASIA"))
        sm = client(c["access_key"], c["secret_key"], c["token"])
        sm.create_secret(Name="b3-imds", SecretString="i")
        reqs = [r for r in ctl("/requests")["requests"] if r["path"].startswith("/latest/")]
        self.assertEqual(reqs[0]["method"], "PUT")       # IMDSv2: the session token first
        self.assertEqual(reqs[0]["path"], "/latest/api/token")
        self.assertTrue(all(r["headers"].get("x-aws-ec2-metadata-token") == "<redacted>" for r in reqs[1:]))

    def test_container(self):
        from botocore.utils import ContainerMetadataFetcher
        f = ContainerMetadataFetcher()
        c = f.retrieve_full_uri("http://127.0.0.1:%d/container/creds" % MPORT,
                                headers={"Authorization": "Bearer ctr-token"})
        sm = client(c["AccessKeyId"], c["SecretAccessKey"], c["Token"])
        sm.create_secret(Name="b3-ctr", SecretString="c")
        with self.assertRaises(Exception):
            f.retrieve_full_uri("http://127.0.0.1:%d/container/creds" % MPORT,
                                headers={"Authorization": "Bearer wrong"})

    def test_expiry(self):
        ctl("/knobs", {"creds_ttl": 1})
        try:
            from botocore.utils import ContainerMetadataFetcher
            c = ContainerMetadataFetcher().retrieve_full_uri(
                "http://127.0.0.1:%d/container/creds" % MPORT, headers={"Authorization": "Bearer ctr-token"})
        finally:
            ctl("/knobs", {"creds_ttl": 3600})
        time.sleep(1.2)
        with self.assertRaises(ClientError) as e:
            client(c["AccessKeyId"], c["SecretAccessKey"], c["Token"]).get_secret_value(SecretId="x")
        self.assertEqual(code(e), "ExpiredTokenException")


if __name__ == "__main__":
    unittest.main(verbosity=2)
