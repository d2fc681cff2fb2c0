#!/usr/bin/env python3
"""A KES server of release 2023-02-15T14-54-37Z, as far as keyward's client
sees it: a test double that answers the bytes that release sent (recorded
in ../shared spec kes-client-generations.md and kes-compat.md §6, §10.3),
not a KES server. It lets the client's support of old servers (C1: NDJSON
listings, W6: nanosecond durations) be tested through the real client over
TLS.

Routes (GET only; anything else 404 as KES 2023-02 answered unknown paths):
  /version                      {"version":"2023-02-15T14-54-37Z","commit":...}
  /v1/status                    uptime 146000000000 (Go nanoseconds: 146 s)
  /v1/key/list/<pattern>        application/x-ndjson, {"name":...} per line
  /v1/policy/list/<pattern>     idem
  /v1/identity/list/<pattern>   application/x-ndjson, {"identity":...} lines
  /v1/log/audit                 one event whose response.time is 12000000
                                (12 ms in nanoseconds), then the stream ends

Usage: kes2023_double.py --cert C --key K --port-file F [--addr A]
The port file is written once the server listens. It has no control port
(pydouble_start may be given the port file for both).
"""
import argparse
import fnmatch
import http.server
import json
import os
import ssl
import sys
import threading
import urllib.parse

VERSION = "2023-02-15T14-54-37Z"
KEYS = ["minio-default", "my-key", "trail-"]
POLICIES = ["minio"]
IDENTITIES = ["3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22"]
AUDIT = {
    "time": "2023-02-16T10:11:12.5Z",
    "request": {"ip": "127.0.0.1", "path": "/v1/key/generate/my-key",
                "identity": IDENTITIES[0]},
    "response": {"code": 200, "time": 12000000},
}


def ndjson(field, names, pattern):
    out = b""
    for n in sorted(names):
        if fnmatch.fnmatchcase(n, pattern):
            out += json.dumps({field: n}, separators=(",", ":")).encode() + b"\n"
    return out


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def answer(self, code, ctype, body):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        # Go's r.URL.Path: the path without its query, percent-decoded.
        p = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path)
        if p == "/version":
            body = json.dumps({"version": VERSION,
                               "commit": "a8d4c0e1f0e3f2d1c0b9a8f7e6d5c4b3a2918171"})
            return self.answer(200, "application/json", body.encode())
        if p == "/v1/status":
            body = json.dumps({"version": VERSION, "os": "linux",
                               "arch": "amd64", "uptime": 146000000000,
                               "num_cpu": 2, "num_cpu_used": 2,
                               "mem_heap_used": 3145728,
                               "mem_stack_used": 524288},
                              separators=(",", ":"))
            return self.answer(200, "application/json", body.encode())
        for prefix, field, names in (("/v1/key/list/", "name", KEYS),
                                     ("/v1/policy/list/", "name", POLICIES),
                                     ("/v1/identity/list/", "identity",
                                      IDENTITIES)):
            if p.startswith(prefix):
                return self.answer(200, "application/x-ndjson",
                                   ndjson(field, names, p[len(prefix):] or "*"))
        if p == "/v1/log/audit":
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(json.dumps(AUDIT, separators=(",", ":")).encode()
                             + b"\n")
            self.wfile.flush()
            self.close_connection = True
            return None
        return self.answer(404, "text/plain", b"404 page not found\n")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--port-file", required=True)
    a = ap.parse_args(argv)
    host, port = a.addr.rsplit(":", 1)
    srv = http.server.ThreadingHTTPServer((host, int(port)), Handler)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    # No client certificate is asked for: KES 2023-02 hashed it into an
    # identity, and the double has no policies to check it against.
    ctx.verify_mode = ssl.CERT_NONE
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        t.join()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
