#!/usr/bin/env python3
"""kmip_double.py -- a FAKE KMIP server (a test double) for keyward's tests.

This is NOT a real KMIP server.  keyward's KMIP store is tested against a
real one, PyKMIP (tests/kmip/pykmip-server.sh); this fake imitates what
PyKMIP cannot show: the vendor behaviours of
shared/spec/keystores-vault-ciphertrust-kmip-pkcs11.md §3.9 and the rows
of its test matrix §5.5 marked "fake" (KT3, KT9, KT10, KT13, KT15):

* CipherTrust Manager's soft delete (kmip_enable_hard_delete = 0): Destroy
  keeps the object in State Destroyed (5) without its material, Locate by
  Name still finds it, Get answers Key Value Not Present (0x13), Item Not
  Found (1) or a success without Key Material, as chosen;
* servers that enforce unique Names: Register of a name taken answers
  Non Unique Name Attribute (0x35) under KMIP 2.0, Object Already Exists
  (0x18) under 1.x;
* servers that refuse a request header version (Invalid Message, 4, in a
  response header saying 1.0, as PyKMIP answers a parse failure) or close
  the connection on it;
* Response Too Large (2) when an answer exceeds a size (the knob, or the
  request's Maximum Response Size), as a message-level error like PyKMIP's;
* malformed answers: a length beyond its parent, a Result Status of the
  wrong type, a message cut short.

It speaks TTLV (§3.6) over mutual TLS (TLS >= 1.2, client certificate
required and verified against --client-ca), one request at a time per
connection, with the operations keyward sends: Discover Versions, Query,
Register, Locate (Object Type, Name, Object Group, Maximum Items, Offset
Items), Get, Get Attributes (State, Initial Date, Name), Activate, Revoke,
Destroy, in 1.x and 2.0 encodings, batches with Unique Batch Item IDs and
the Continue/Stop options.  Objects are Secret Data in memory; nothing is
persisted.  Python 3 standard library only.

Run
---
    python3 tests/doubles/kmip_double.py --cert server.crt --key server.key \\
        --client-ca ca.crt [--addr 127.0.0.1:0] [--port-file F] \\
        [--control 127.0.0.1:0] [--control-port-file F2] [--log FILE] \\
        [--exit-with-parent]

It writes its ports to --port-file and --control-port-file once it
listens.  SIGTERM ends it.

Control port (plain HTTP, 127.0.0.1 only, JSON)
-----------------------------------------------
GET  /state            knobs and counters (connections, requests)
POST /knobs {...}      merge knobs:
       versions          ["2.0","1.4",...] the versions it speaks
       reject_headers    ["1.2"]: requests with such a header version
                         answer Invalid Message in a 1.0 header
       close_headers     ["1.2"]: ... are answered by closing the connection
       soft_delete       true: Destroy keeps the object, State Destroyed
       destroyed_get     "key_value_not_present" (default), "item_not_found"
                         or "no_material": Get of a soft-destroyed object
       unique_names      true: Register of a Name held by a live object fails
       unique_destroyed  true: ... or by a soft-destroyed one
       max_response      bytes; 0: only the request's Maximum Response Size
       malformed         [{"op":"locate"|...|null,"kind":"length_beyond_parent"
                         |"status_type"|"truncated","count":N}]
GET  /requests         every request: connection, header version, Maximum
                       Response Size, and per item the operation and its
                       fields (UIDs, name, Maximum/Offset Items)
POST /requests/clear
POST /objects {"name","value","group"?,"state"?,"initial_date"?}  plant one
GET  /objects          every object (uid, name, group, state, initial_date,
                       whether it has material; never the material)
"""

import argparse
import http.server
import json
import os
import signal
import socket
import socketserver
import ssl
import struct
import sys
import threading
import time

MSG_MAX = 1 << 20

T_STRUCT, T_INT, T_LONG, T_BIGINT, T_ENUM, T_BOOL, T_TEXT, T_BYTES, T_DATE, T_INTERVAL = range(1, 11)

TAG = {
    "attribute": 0x420008, "attribute_index": 0x420009, "attribute_name": 0x42000A,
    "attribute_value": 0x42000B, "batch_count": 0x42000D, "batch_error_cont": 0x42000E,
    "batch_item": 0x42000F, "usage_mask": 0x42002C, "initial_date": 0x420039,
    "key_block": 0x420040, "key_format_type": 0x420042, "key_material": 0x420043,
    "key_value": 0x420045, "maximum_items": 0x42004F, "max_response_size": 0x420050,
    "name": 0x420053, "name_type": 0x420054, "name_value": 0x420055, "object_group": 0x420056,
    "object_type": 0x420057, "operation": 0x42005C, "protocol_version": 0x420069,
    "major": 0x42006A, "minor": 0x42006B, "query_function": 0x420074,
    "request_header": 0x420077, "request_message": 0x420078, "request_payload": 0x420079,
    "response_header": 0x42007A, "response_message": 0x42007B, "response_payload": 0x42007C,
    "result_message": 0x42007D, "result_reason": 0x42007E, "result_status": 0x42007F,
    "revocation_reason": 0x420081, "secret_data": 0x420085, "secret_data_type": 0x420086,
    "state": 0x42008D, "template_attribute": 0x420091, "time_stamp": 0x420092,
    "batch_item_id": 0x420093, "uid": 0x420094, "vendor_id": 0x42009D,
    "offset_items": 0x4200D4, "located_items": 0x4200D5, "attributes": 0x420125,
    "attribute_reference": 0x42013B,
}

OP = {"create": 0x01, "register": 0x03, "locate": 0x08, "get": 0x0A, "get_attributes": 0x0B,
      "activate": 0x12, "revoke": 0x13, "destroy": 0x14, "query": 0x18, "discover_versions": 0x1E}
OP_NAME = {v: k for k, v in OP.items()}

R_ITEM_NOT_FOUND, R_TOO_LARGE, R_INVALID_MESSAGE, R_OP_NOT_SUPPORTED = 0x01, 0x02, 0x04, 0x05
R_PERMISSION_DENIED, R_KEY_VALUE_NOT_PRESENT, R_OBJECT_EXISTS = 0x0C, 0x13, 0x18
R_NON_UNIQUE_NAME, R_OBJECT_DESTROYED, R_INVALID_FIELD = 0x35, 0x36, 0x07

SECRET_DATA = 7
ST_PRE_ACTIVE, ST_ACTIVE, ST_DEACTIVATED, ST_DESTROYED = 1, 2, 3, 5
CONTINUE, STOP = 1, 2


class TTLVError(Exception):
    pass


class Node:
    __slots__ = ("tag", "typ", "val")

    def __init__(self, tag, typ, val):
        self.tag, self.typ, self.val = tag, typ, val

    def get(self, name, typ=None):
        for c in self.val if self.typ == T_STRUCT else ():
            if c.tag == TAG[name] and (typ is None or c.typ == typ):
                return c
        return None

    def all(self, name):
        return [c for c in self.val if c.tag == TAG[name]] if self.typ == T_STRUCT else []

    def value(self, name, default=None):
        c = self.get(name)
        return default if c is None else c.val


def decode(b, off=0, end=None):
    """Every item in b[off:end], strictly: lengths within the parent."""
    end = len(b) if end is None else end
    out = []
    while off < end:
        if end - off < 8:
            raise TTLVError("a truncated item header")
        tag = int.from_bytes(b[off:off + 3], "big")
        typ, ln = b[off + 3], struct.unpack(">I", b[off + 4:off + 8])[0]
        off += 8
        padded = ln if typ == T_STRUCT else (ln + 7) // 8 * 8
        if padded > end - off:
            raise TTLVError("a length beyond its parent")
        v = b[off:off + ln]
        if typ == T_STRUCT:
            val = decode(b, off, off + ln)
        elif typ in (T_INT, T_ENUM, T_INTERVAL):
            if ln != 4:
                raise TTLVError("integer length %d" % ln)
            val = struct.unpack(">i" if typ == T_INT else ">I", v)[0]
        elif typ in (T_LONG, T_DATE, T_BOOL):
            if ln != 8:
                raise TTLVError("long length %d" % ln)
            val = struct.unpack(">q", v)[0]
        elif typ == T_TEXT:
            val = v.decode("utf-8")
        elif typ in (T_BYTES, T_BIGINT):
            val = bytes(v)
        else:
            raise TTLVError("type %d" % typ)
        out.append(Node(tag, typ, val))
        off += padded
    return out


def enc(name_or_tag, typ, val):
    tag = TAG[name_or_tag] if isinstance(name_or_tag, str) else name_or_tag
    if typ == T_STRUCT:
        v = b"".join(val)
        return tag.to_bytes(3, "big") + bytes([typ]) + struct.pack(">I", len(v)) + v
    if typ in (T_INT, T_ENUM, T_INTERVAL):
        v, ln = struct.pack(">i" if typ == T_INT else ">I", val), 4
    elif typ in (T_LONG, T_DATE, T_BOOL):
        v, ln = struct.pack(">q", val), 8
    elif typ == T_TEXT:
        v = val.encode("utf-8")
        ln = len(v)
    else:
        v, ln = bytes(val), len(val)
    pad = (8 - ln % 8) % 8
    return tag.to_bytes(3, "big") + bytes([typ]) + struct.pack(">I", ln) + v + b"\0" * pad


def version_str(major, minor):
    return "%d.%d" % (major, minor)


def enc_version(major, minor):
    return enc("protocol_version", T_STRUCT, [enc("major", T_INT, major), enc("minor", T_INT, minor)])


class Failure(Exception):
    def __init__(self, reason, msg):
        super().__init__(msg)
        self.reason, self.msg = reason, msg


class Fake:
    def __init__(self, logf):
        self.lock = threading.Lock()
        self.logf = logf
        self.objects = {}       # uid -> dict
        self.next_uid = 1
        self.connections = 0
        self.nrequests = 0
        self.requests = []
        self.knobs = {
            "versions": ["2.0", "1.4", "1.3", "1.2", "1.1", "1.0"],
            "reject_headers": [], "close_headers": [],
            "soft_delete": False, "destroyed_get": "key_value_not_present",
            "unique_names": False, "unique_destroyed": False,
            "max_response": 0, "malformed": [],
        }

    def log(self, line):
        self.logf.write("%s kmip-fake: %s\n" % (time.strftime("%H:%M:%S"), line))
        self.logf.flush()

    # --- attributes in either encoding --------------------------------------

    @staticmethod
    def attrs_of(payload, v2):
        """Object Type, Name, Object Group, Usage Mask of a Register or
        Locate payload."""
        out = {}
        if v2:
            a = payload.get("attributes")
            if a is not None:
                for c in a.val:
                    if c.tag == TAG["object_type"]:
                        out["object_type"] = c.val
                    elif c.tag == TAG["name"]:
                        out["name"] = c.value("name_value")
                    elif c.tag == TAG["object_group"]:
                        out["group"] = c.val
                    elif c.tag == TAG["usage_mask"]:
                        out["usage_mask"] = c.val
            return out
        holder = payload.get("template_attribute") or payload
        for a in holder.all("attribute"):
            n, val = a.value("attribute_name"), a.get("attribute_value")
            if val is None:
                continue
            if n == "Object Type":
                out["object_type"] = val.val
            elif n == "Name":
                out["name"] = val.value("name_value")
            elif n == "Object Group":
                out["group"] = val.val
            elif n == "Cryptographic Usage Mask":
                out["usage_mask"] = val.val
        return out

    def obj(self, payload):
        uid = payload.value("uid") if payload is not None else None
        if uid is None or uid not in self.objects:
            raise Failure(R_ITEM_NOT_FOUND, "Could not locate object: %s" % uid)
        return self.objects[uid]

    # --- operations ----------------------------------------------------------

    def op_discover_versions(self, p, v2, rec):
        have = [tuple(int(x) for x in s.split(".")) for s in self.knobs["versions"]]
        asked = [(x.value("major"), x.value("minor")) for x in (p.all("protocol_version") if p else [])]
        rec["offered"] = [version_str(*a) for a in asked]
        out = have if not asked else [h for h in have if h in asked]
        return [enc_version(*h) for h in out]

    def op_query(self, p, v2, rec):
        return [enc("operation", T_ENUM, o) for o in sorted(OP.values()) if o != OP["create"]]

    def op_register(self, p, v2, rec):
        if p is None or p.value("object_type") != SECRET_DATA:
            raise Failure(R_INVALID_FIELD, "only Secret Data")
        a = self.attrs_of(p, v2)
        sd = p.get("secret_data")
        km = sd and sd.get("key_block") and sd.get("key_block").get("key_value")
        km = km and km.value("key_material")
        if km is None or "name" not in a:
            raise Failure(R_INVALID_FIELD, "Secret Data without material or Name")
        rec["name"] = a["name"]
        if self.knobs["unique_names"]:
            for o in self.objects.values():
                if o["name"] == a["name"] and (o["state"] != ST_DESTROYED or self.knobs["unique_destroyed"]):
                    raise Failure(R_NON_UNIQUE_NAME if v2 else R_OBJECT_EXISTS,
                                  "An object with the Name %s already exists" % a["name"])
        uid = self.plant(a["name"], km, a.get("group"), ST_PRE_ACTIVE, int(time.time()))
        rec["uid"] = uid
        return [enc("uid", T_TEXT, uid)]

    def plant(self, name, value, group, state, idate):
        uid = str(self.next_uid)
        self.next_uid += 1
        self.objects[uid] = {"uid": uid, "name": name, "value": value, "group": group,
                             "state": state, "initial_date": idate}
        return uid

    def op_locate(self, p, v2, rec):
        a = self.attrs_of(p, v2) if p is not None else {}
        mx = p.value("maximum_items") if p is not None else None
        off = p.value("offset_items", 0) if p is not None else 0
        rec.update({"name": a.get("name"), "group": a.get("group"), "maximum_items": mx, "offset_items": off})
        found = [o["uid"] for o in sorted(self.objects.values(), key=lambda o: int(o["uid"]))
                 if a.get("object_type", SECRET_DATA) == SECRET_DATA
                 and ("name" not in a or o["name"] == a["name"])
                 and ("group" not in a or o["group"] == a["group"])]
        found = found[off:]
        if mx is not None:
            found = found[:mx]
        rec["found"] = len(found)
        return [enc("uid", T_TEXT, u) for u in found]

    def op_get(self, p, v2, rec):
        o = self.obj(p)
        rec["uid"] = o["uid"]
        kb = [enc("key_format_type", T_ENUM, 2)]
        if o["state"] == ST_DESTROYED:
            how = self.knobs["destroyed_get"]
            if how == "item_not_found":
                raise Failure(R_ITEM_NOT_FOUND, "Could not locate object: %s" % o["uid"])
            if how != "no_material":
                raise Failure(R_KEY_VALUE_NOT_PRESENT, "The object's key material was destroyed")
        else:
            kb.append(enc("key_value", T_STRUCT, [enc("key_material", T_BYTES, o["value"])]))
        return [enc("object_type", T_ENUM, SECRET_DATA), enc("uid", T_TEXT, o["uid"]),
                enc("secret_data", T_STRUCT, [enc("secret_data_type", T_ENUM, 2),
                                              enc("key_block", T_STRUCT, kb)])]

    def op_get_attributes(self, p, v2, rec):
        o = self.obj(p)
        rec["uid"] = o["uid"]
        name = enc("name", T_STRUCT, [enc("name_value", T_TEXT, o["name"]), enc("name_type", T_ENUM, 1)])
        if v2:
            want = {c.val for c in p.all("attribute_reference")}
            got = []
            if TAG["state"] in want:
                got.append(enc("state", T_ENUM, o["state"]))
            if TAG["initial_date"] in want:
                got.append(enc("initial_date", T_DATE, o["initial_date"]))
            if TAG["name"] in want:
                got.append(name)
            return [enc("uid", T_TEXT, o["uid"]), enc("attributes", T_STRUCT, got)]
        want = {c.val for c in p.all("attribute_name")}
        out = [enc("uid", T_TEXT, o["uid"])]

        def attr(n, v, index=False):
            parts = [enc("attribute_name", T_TEXT, n)]
            if index:
                parts.append(enc("attribute_index", T_INT, 0))
            out.append(enc("attribute", T_STRUCT, parts + [v]))
        if "State" in want:
            attr("State", enc("attribute_value", T_ENUM, o["state"]))
        if "Initial Date" in want:
            attr("Initial Date", enc("attribute_value", T_DATE, o["initial_date"]))
        if "Name" in want:
            attr("Name", enc("attribute_value", T_STRUCT, [enc("name_value", T_TEXT, o["name"]),
                                                            enc("name_type", T_ENUM, 1)]), True)
        return out

    def op_activate(self, p, v2, rec):
        o = self.obj(p)
        if o["state"] != ST_PRE_ACTIVE:
            raise Failure(0x0B, "Object is not Pre-Active")
        o["state"] = ST_ACTIVE
        return [enc("uid", T_TEXT, o["uid"])]

    def op_revoke(self, p, v2, rec):
        o = self.obj(p)
        if o["state"] == ST_ACTIVE:
            o["state"] = ST_DEACTIVATED
        return [enc("uid", T_TEXT, o["uid"])]

    def op_destroy(self, p, v2, rec):
        o = self.obj(p)
        rec["uid"] = o["uid"]
        if o["state"] == ST_ACTIVE:
            raise Failure(R_PERMISSION_DENIED, "Object is active and cannot be destroyed.")
        if o["state"] == ST_DESTROYED:
            raise Failure(R_OBJECT_DESTROYED, "Object %s is destroyed" % o["uid"])
        if self.knobs["soft_delete"]:
            o["state"] = ST_DESTROYED
            o["value"] = None
        else:
            del self.objects[o["uid"]]
        return [enc("uid", T_TEXT, o["uid"])]

    # --- messages ------------------------------------------------------------

    @staticmethod
    def item(op, bid, status, reason=None, msg=None, payload=None):
        parts = []
        if op is not None:
            parts.append(enc("operation", T_ENUM, op))
        if bid is not None:
            parts.append(enc("batch_item_id", T_BYTES, bid))
        parts.append(enc("result_status", T_ENUM, status))
        if reason is not None:
            parts.append(enc("result_reason", T_ENUM, reason))
        if msg is not None:
            parts.append(enc("result_message", T_TEXT, msg))
        if payload is not None:
            parts.append(enc("response_payload", T_STRUCT, payload))
        return enc("batch_item", T_STRUCT, parts)

    @staticmethod
    def message(major, minor, items):
        hdr = enc("response_header", T_STRUCT, [enc_version(major, minor),
                                                enc("time_stamp", T_DATE, int(time.time())),
                                                enc("batch_count", T_INT, len(items))])
        return enc("response_message", T_STRUCT, [hdr] + items)

    def error_message(self, reason, msg):
        # PyKMIP's build_error_response: header 1.0, one item, no Operation.
        return self.message(1, 0, [self.item(None, None, 1, reason, msg)])

    def take_malformed(self, ops):
        for rule in self.knobs["malformed"]:
            if rule.get("count", 1) != 0 and rule.get("op") in (None,) + tuple(ops):
                if rule.get("count", 1) > 0:
                    rule["count"] = rule.get("count", 1) - 1
                return rule["kind"]
        return None

    @staticmethod
    def spoil(out, kind):
        if kind == "truncated":
            # The outer length promises more than is sent.
            return out[:8] + out[8:len(out) // 2]
        if kind == "length_beyond_parent":
            # The Response Header says it is longer than the message.
            h = 8
            ln = struct.unpack(">I", out[h + 4:h + 8])[0]
            return out[:h + 4] + struct.pack(">I", ln + len(out)) + out[h + 8:]
        if kind == "status_type":
            # Result Status as an Integer instead of an Enumeration.
            i = out.find(TAG["result_status"].to_bytes(3, "big") + bytes([T_ENUM]))
            return out[:i + 3] + bytes([T_INT]) + out[i + 4:]
        return out

    def handle(self, req, conn_no):
        """The answer to one request message (bytes or None), and whether
        to close the connection after it."""
        with self.lock:
            self.nrequests += 1
            rec = {"conn": conn_no, "items": []}
            self.requests.append(rec)
            try:
                msg = decode(req)
                if len(msg) != 1 or msg[0].tag != TAG["request_message"]:
                    raise TTLVError("not a Request Message")
                msg = msg[0]
                hdr = msg.get("request_header")
                pv = hdr.get("protocol_version")
                major, minor = pv.value("major"), pv.value("minor")
            except (TTLVError, AttributeError, UnicodeDecodeError) as e:
                self.log("conn %d: cannot parse a request: %s" % (conn_no, e))
                return self.error_message(R_INVALID_MESSAGE, "Error parsing request message."), False
            hv = version_str(major, minor)
            rec["version"] = hv
            rec["max_response"] = hdr.value("max_response_size")
            if hv in self.knobs["close_headers"]:
                self.log("conn %d: header %s: closing (knob)" % (conn_no, hv))
                rec["closed"] = True
                return None, True
            if hv in self.knobs["reject_headers"]:
                self.log("conn %d: header %s: Invalid Message (knob)" % (conn_no, hv))
                return self.error_message(R_INVALID_MESSAGE, "Error parsing request message. "
                                          "See server logs for more information."), False
            v2 = major >= 2
            items = msg.all("batch_item")
            cont = hdr.value("batch_error_cont", STOP)
            if len(items) > 1 and any(i.get("batch_item_id") is None for i in items):
                return self.error_message(R_INVALID_MESSAGE, "Batch item ID is undefined."), False
            out, ops = [], []
            for it in items:
                op, bid = it.value("operation"), it.value("batch_item_id")
                r = {"op": OP_NAME.get(op, op)}
                rec["items"].append(r)
                ops.append(r["op"])
                fn = getattr(self, "op_" + str(OP_NAME.get(op)), None)
                try:
                    if fn is None:
                        raise Failure(R_OP_NOT_SUPPORTED, "Operation not supported")
                    payload = fn(it.get("request_payload"), v2, r)
                    out.append(self.item(op, bid, 0, payload=payload))
                    r["result"] = "success"
                except Failure as f:
                    out.append(self.item(op, bid, 1, f.reason, f.msg))
                    r["result"] = "reason 0x%02x" % f.reason
                    if cont != CONTINUE:
                        break
            answer = self.message(major, minor, out)
            limit = min(x for x in (self.knobs["max_response"], rec["max_response"] or 0, MSG_MAX) if x > 0)
            if len(answer) > limit:
                rec["too_large"] = len(answer)
                self.log("conn %d: %s: answer of %d bytes > %d: Response Too Large" %
                         (conn_no, ",".join(map(str, ops)), len(answer), limit))
                return self.message(major, minor, [self.item(None, None, 1, R_TOO_LARGE,
                                    "Response message length too large: %d > %d" % (len(answer), limit))]), False
            kind = self.take_malformed(ops)
            if kind is not None:
                rec["malformed"] = kind
                self.log("conn %d: %s: a malformed answer (%s)" % (conn_no, ",".join(map(str, ops)), kind))
                # A message cut short ends with the connection.
                return self.spoil(answer, kind), kind == "truncated"
            self.log("conn %d: %s %s: %s" % (conn_no, hv, ",".join(map(str, ops)),
                                             ",".join(r.get("result", "?") for r in rec["items"])))
            return answer, False


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            return None
        b += c
    return b


class KmipServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, fake, ctx):
        self.fake, self.ctx = fake, ctx
        super().__init__(addr, KmipHandler)


class KmipHandler(socketserver.BaseRequestHandler):
    def handle(self):
        f = self.server.fake
        self.request.settimeout(60)
        try:
            tls = self.server.ctx.wrap_socket(self.request, server_side=True)
        except (ssl.SSLError, OSError) as e:
            f.log("TLS handshake failed: %s" % (getattr(e, "reason", None) or e))
            return
        with f.lock:
            f.connections += 1
            n = f.connections
        cn = dict(x[0] for x in tls.getpeercert().get("subject", ())).get("commonName")
        f.log("conn %d: %s from %s" % (n, tls.version(), cn))
        try:
            while True:
                h = recv_exact(tls, 8)
                if h is None:
                    break
                ln = struct.unpack(">I", h[4:8])[0]
                if h[3] != T_STRUCT or ln > MSG_MAX:
                    f.log("conn %d: not a TTLV structure; closing" % n)
                    break
                body = recv_exact(tls, ln)
                if body is None:
                    break
                out, close = f.handle(h + body, n)
                if out is not None:
                    tls.sendall(out)
                if close:
                    break
        except (ssl.SSLError, OSError) as e:
            f.log("conn %d: %s" % (n, e))
        finally:
            try:
                tls.close()
            except OSError:
                pass
            f.log("conn %d: closed" % n)


class ControlHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def reply(self, status, obj):
        b = (json.dumps(obj, separators=(",", ":")) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def dispatch(self):
        f = self.server.fake
        n = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(n) or b"{}")
        except ValueError:
            return self.reply(400, {"error": "not JSON"})
        p = self.path.split("?")[0]
        with f.lock:
            if p == "/state":
                return self.reply(200, {"knobs": f.knobs, "connections": f.connections,
                                        "requests": f.nrequests, "objects": len(f.objects)})
            if p == "/knobs" and self.command == "POST":
                unknown = [k for k in body if k not in f.knobs]
                if unknown:
                    return self.reply(400, {"error": "unknown knobs %s" % unknown})
                f.knobs.update(body)
                f.log("knobs: %s" % json.dumps(body))
                return self.reply(200, f.knobs)
            if p == "/requests":
                return self.reply(200, f.requests)
            if p == "/requests/clear" and self.command == "POST":
                f.requests = []
                return self.reply(200, {})
            if p == "/objects" and self.command == "POST":
                uid = f.plant(body["name"], body["value"].encode(), body.get("group"),
                              body.get("state", ST_PRE_ACTIVE), body.get("initial_date", int(time.time())))
                if f.objects[uid]["state"] == ST_DESTROYED:
                    f.objects[uid]["value"] = None
                return self.reply(200, {"uid": uid})
            if p == "/objects":
                return self.reply(200, [{k: v for k, v in o.items() if k != "value"} |
                                        {"has_value": o["value"] is not None} for o in f.objects.values()])
        return self.reply(404, {"error": "no such path"})


def write_atomic(path, data):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.rename(tmp, path)


def split_addr(s):
    host, _, port = s.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


def main(argv=None):
    parent = os.getppid()
    ap = argparse.ArgumentParser(description="fake KMIP server for keyward's tests (see module docstring)")
    ap.add_argument("--addr", default="127.0.0.1:0")
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--client-ca", required=True)
    ap.add_argument("--port-file")
    ap.add_argument("--control", default="127.0.0.1:0")
    ap.add_argument("--control-port-file")
    ap.add_argument("--log")
    ap.add_argument("--exit-with-parent", action="store_true")
    args = ap.parse_args(argv)
    if split_addr(args.control)[0] not in ("127.0.0.1", "::1", "localhost"):
        ap.error("--control must be a loopback address")

    fake = Fake(open(args.log, "a") if args.log else sys.stderr)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(args.cert, args.key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(args.client_ca)
    srv = KmipServer(split_addr(args.addr), fake, ctx)
    ctl = http.server.ThreadingHTTPServer(split_addr(args.control), ControlHandler)
    ctl.daemon_threads = True
    ctl.fake = fake
    for s in (srv, ctl):
        threading.Thread(target=s.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    port, cport = srv.server_address[1], ctl.server_address[1]
    if args.port_file:
        write_atomic(args.port_file, b"%d\n" % port)
    if args.control_port_file:
        write_atomic(args.control_port_file, b"%d\n" % cport)
    fake.log("listening on %s:%d (mutual TLS), control on 127.0.0.1:%d" % (srv.server_address[0], port, cport))
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.2):
        if args.exit_with_parent and os.getppid() != parent:
            break
    fake.log("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
