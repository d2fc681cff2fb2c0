#!/usr/bin/env python3
"""Self-test of tests/doubles/kmip_double.py, the FAKE KMIP server.

The fake imitates vendor behaviours a real PyKMIP server cannot show, so
it must first speak KMIP as PyKMIP does.  This suite feeds it the request
vectors of shared/spec/keystores-vault-ciphertrust-kmip-pkcs11.md §3.7
(recorded against PyKMIP 0.10.0) and compares its answers with PyKMIP's
recorded answers byte for byte (all but the Time Stamp's value), then
checks each knob of §5.5's fake against the spec's words: soft delete
(§3.9), unique Names (§3.5: 0x35 in 2.0, 0x18 in 1.x), header refusal
(§3.3: Invalid Message in a 1.0 header), Response Too Large (§3.4), and
that every malformed answer is refused by a strict TTLV decoder (§3.6).

Run: python3 tests/doubles/test_kmip_double.py  (no network, no TLS; the
fake's message handler is called directly; well under a second).
"""

import io
import os
import sys
import unittest

sys.dont_write_bytecode = True      # no __pycache__ in the tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kmip_double as kd  # noqa: E402

# §3.7, verbatim.
V1 = ("42007801000000d84200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000020000"
      "000042000d0200000004000000010000000042000f010000009042005c05000000040000001e0000000042007901000000784200690100"
      "00002042006a0200000004000000020000000042006b02000000040000000000000000420069010000002042006a020000000400000001"
      "0000000042006b02000000040000000400000000420069010000002042006a0200000004000000010000000042006b0200000004000000"
      "0200000000")
V2 = ("42007801000001404200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000"
      "000042000d0200000004000000010000000042000f01000000f842005c0500000004000000030000000042007901000000e04200570500"
      "00000400000007000000004200910100000080420008010000003042000a070000001843727970746f67726170686963205573616765"
      "204d61736b42000b02000000040000000000000000420008010000004042000a07000000044e616d650000000042000b010000002842"
      "0055070000000a6b6579776172642f6b310000000000004200540500000004000000010000000042008501000000404200860500000004"
      "0000000200000000420040010000002842004205000000040000000200000000420045010000001042004308000000084367494941513d"
      "3d")
V2_RESP = ("42007b010000009042007a0100000048420069010000002042006a0200000004000000010000000042006b02000000040000000400"
           "0000004200920900000008000000006b15200842000d0200000004000000010000000042000f010000003842005c05000000040000"
           "00030000000042007f0500000004000000000000000042007c010000001042009407000000013100000000000000")
V3 = ("42007801000001004200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000"
      "000042000d0200000004000000010000000042000f01000000b842005c0500000004000000030000000042007901000000a04200570500"
      "0000040000000700000000420125010000004042002c020000000400000000000000004200530100000028420055070000000a6b657977"
      "6172642f6b3100000000000042005405000000040000000100000000420085010000004042008605000000040000000200000000420040"
      "010000002842004205000000040000000200000000420045010000001042004308000000084367494941513d3d")
V4 = ("42007801000000d84200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000"
      "000042000d0200000004000000010000000042000f010000009042005c050000000400000008000000004200790100000078420008010"
      "000002842000a070000000b4f626a6563742054797065000000000042000b05000000040000000700000000420008010000004042000a"
      "07000000044e616d650000000042000b0100000028420055070000000a6b6579776172642f6b310000000000004200540500000004000"
      "0000100000000")
V5 = ("42007801000000a84200770100000038420069010000002042006a0200000004000000020000000042006b0200000004000000000000"
      "000042000d0200000004000000010000000042000f010000006042005c05000000040000000800000000420079010000004842012501"
      "00000040420057050000000400000007000000004200530100000028420055070000000a6b6579776172642f6b310000000000004200"
      "5405000000040000000100000000")
V6 = ("42007801000000704200770100000038420069010000002042006a0200000004000000010000000042006b0200000004000000040000"
      "000042000d0200000004000000010000000042000f010000002842005c05000000040000000a00000000420079010000001042009407"
      "000000013100000000000000")
V7_RESP = ("42007b01000000b042007a0100000048420069010000002042006a0200000004000000010000000042006b02000000040000000400"
           "0000004200920900000008000000006b151e3f42000d0200000004000000010000000042000f010000005842005c05000000040000"
           "000a0000000042007f0500000004000000010000000042007e0500000004000000010000000042007d070000001a436f756c64206e"
           "6f74206c6f63617465206f626a6563743a2031000000000000")
STAMP = bytes.fromhex("4200920900000008")


def h(s):
    return bytes.fromhex(s)


def unstamp(b):
    """The message with its Time Stamp's value zeroed."""
    i = b.find(STAMP)
    return b if i < 0 else b[:i + 8] + b"\0" * 8 + b[i + 16:]


def tree(b):
    (msg,) = kd.decode(b)
    return msg


class Vectors(unittest.TestCase):
    """§3.7: the fake answers PyKMIP's requests as PyKMIP did."""

    def setUp(self):
        self.f = kd.Fake(io.StringIO())

    def ask(self, hexreq):
        out, close = self.f.handle(h(hexreq), 1)
        self.assertFalse(close)
        return out

    def test_v1_discover_versions(self):
        m = tree(self.ask(V1))
        self.assertEqual(m.get("response_header").get("protocol_version").value("minor"), 2)
        got = [(v.value("major"), v.value("minor"))
               for v in m.get("batch_item").get("response_payload").all("protocol_version")]
        self.assertEqual(got, [(2, 0), (1, 4), (1, 2)])

    def test_v2_register_answer_is_pykmips(self):
        self.assertEqual(unstamp(self.ask(V2)), unstamp(h(V2_RESP)))

    def test_v3_v5_duplicates_and_2_0(self):
        self.ask(V2)
        m = tree(self.ask(V3))
        self.assertEqual(m.get("batch_item").value("result_status"), 0)
        uids = [u.val for u in tree(self.ask(V5)).get("batch_item").get("response_payload").all("uid")]
        self.assertEqual(uids, ["1", "2"])
        uids = [u.val for u in tree(self.ask(V4)).get("batch_item").get("response_payload").all("uid")]
        self.assertEqual(uids, ["1", "2"])

    def test_v6_get_and_v7_after_destroy(self):
        self.ask(V2)
        p = tree(self.ask(V6)).get("batch_item").get("response_payload")
        self.assertEqual(p.value("object_type"), 7)
        km = p.get("secret_data").get("key_block").get("key_value").value("key_material")
        self.assertEqual(km, b"CgIIAQ==")
        del self.f.objects["1"]
        self.assertEqual(unstamp(self.ask(V6)), unstamp(h(V7_RESP)))


class Knobs(unittest.TestCase):
    """§5.5's switches, each as the spec words it."""

    def setUp(self):
        self.f = kd.Fake(io.StringIO())

    def item(self, hexreq):
        out, _ = self.f.handle(h(hexreq), 1)
        return tree(out), tree(out).get("batch_item")

    def test_soft_delete(self):
        self.f.knobs["soft_delete"] = True
        self.item(V2)
        uid = "1"
        self.f.op_destroy(kd.Node(0, kd.T_STRUCT, [kd.Node(kd.TAG["uid"], kd.T_TEXT, uid)]), False, {})
        self.assertEqual(self.f.objects[uid]["state"], kd.ST_DESTROYED)
        _, it = self.item(V4)                       # Locate still finds it
        self.assertEqual([u.val for u in it.get("response_payload").all("uid")], ["1"])
        _, it = self.item(V6)                       # Get: Key Value Not Present
        self.assertEqual((it.value("result_status"), it.value("result_reason")), (1, 0x13))
        self.f.knobs["destroyed_get"] = "item_not_found"
        _, it = self.item(V6)
        self.assertEqual(it.value("result_reason"), 0x01)
        self.f.knobs["destroyed_get"] = "no_material"
        _, it = self.item(V6)
        self.assertEqual(it.value("result_status"), 0)
        self.assertIsNone(it.get("response_payload").get("secret_data").get("key_block").get("key_value"))

    def test_unique_names(self):
        self.f.knobs["unique_names"] = True
        self.item(V2)
        _, it = self.item(V2)                       # 1.4: Object Already Exists
        self.assertEqual((it.value("result_status"), it.value("result_reason")), (1, 0x18))
        _, it = self.item(V3)                       # 2.0: Non Unique Name Attribute
        self.assertEqual((it.value("result_status"), it.value("result_reason")), (1, 0x35))
        self.assertEqual(len(self.f.objects), 1)

    def test_reject_and_close_headers(self):
        self.f.knobs["reject_headers"] = ["1.2"]
        m, it = self.item(V1)
        self.assertEqual(m.get("response_header").get("protocol_version").value("minor"), 0)
        self.assertIsNone(it.get("operation"))
        self.assertEqual(it.value("result_reason"), 0x04)
        self.f.knobs["close_headers"] = ["1.2"]
        self.assertEqual(self.f.handle(h(V1), 1), (None, True))

    def test_response_too_large(self):
        self.item(V2)
        self.f.knobs["max_response"] = 100
        m, it = self.item(V6)
        self.assertEqual(len(m.all("batch_item")), 1)
        self.assertIsNone(it.get("operation"))
        self.assertEqual((it.value("result_status"), it.value("result_reason")), (1, 0x02))

    def test_malformed_answers_fail_a_strict_decoder(self):
        self.item(V2)
        for kind in ("length_beyond_parent", "status_type", "truncated"):
            self.f.knobs["malformed"] = [{"op": "get", "kind": kind, "count": 1}]
            out, close = self.f.handle(h(V6), 1)
            self.assertEqual(close, kind == "truncated")
            if kind == "status_type":
                # Decodes, but Result Status is an Integer (§3.6: Enumeration).
                self.assertEqual(tree(out).get("batch_item").get("result_status").typ, kd.T_INT)
                continue
            with self.assertRaises(kd.TTLVError, msg=kind):
                kd.decode(out)
        out, _ = self.f.handle(h(V6), 1)             # count 1: spent
        self.assertEqual(tree(out).get("batch_item").value("result_status"), 0)


if __name__ == "__main__":
    unittest.main(verbosity=1)
