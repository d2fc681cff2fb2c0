#!/usr/bin/env python3
"""Signs one request with botocore's SigV4Auth, the official AWS Python
signer, for tests/unit/test_sigv4.c to compare with common/sigv4.c.

Input (stdin, JSON): method, url, headers [[name, value], ...], body
(text), akid, secret, token (or ""), region, service, date
(X-Amz-Date). Output: the Authorization header, one line. Exit 3 when
botocore is not installed.
"""
import json
import sys

try:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
except ImportError:
    sys.exit(3)


def main():
    q = json.load(sys.stdin)
    creds = Credentials(q["akid"], q["secret"], q["token"] or None)
    req = AWSRequest(method=q["method"], url=q["url"],
                     data=q["body"].encode())
    for name, value in q["headers"]:
        req.headers[name] = value
    auth = SigV4Auth(creds, q["service"], q["region"])
    # add_auth() reads the clock; its steps, with our X-Amz-Date instead.
    req.context["timestamp"] = q["date"]
    auth._modify_request_before_signing(req)
    cr = auth.canonical_request(req)
    sts = auth.string_to_sign(req, cr)
    sig = auth.signature(sts, req)
    auth._inject_signature_to_request(req, sig)
    print(req.headers["Authorization"])


main()
