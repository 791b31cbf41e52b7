"""Unit tests of adapters/concord_protocol.py and of worker.py's handling of bad frames.

Run: .venv/bin/python -m unittest discover -s adapters/testing -p 'test_*.py'
(CTest: adapters_protocol_test, label "python").
"""

import os
import struct
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ADAPTERS = os.path.dirname(HERE)
sys.path.insert(0, ADAPTERS)

import numpy as np  # noqa: E402

import concord_protocol as cp  # noqa: E402


def header(type_=cp.OK, pad=b"\0\0\0", meta_len=0, body_len=0, magic=b"CNC1"):
    return struct.pack("<4sB3sIQ", magic, type_, pad, meta_len, body_len)


class FramingTest(unittest.TestCase):
    def test_round_trip(self):
        m = cp.Message(cp.MODEL, {"env": "ort@cpu,opt=3"}, [b"abc", b"", b"\0" * 10])
        frame = cp.encode_frame(m)
        self.assertEqual(frame[:4], b"CNC1")
        self.assertEqual(frame[4], cp.MODEL)
        back = cp.decode_frame(frame)
        self.assertEqual(back.type, cp.MODEL)
        self.assertEqual(back.meta, m.meta)
        self.assertEqual(back.blobs, m.blobs)

    def test_layout_matches_message_h(self):
        frame = cp.encode_frame(cp.Message(cp.BYE, {}, [b"xy"]))
        self.assertEqual(frame, b"CNC1\x0a\0\0\0" + struct.pack("<IQ", 2, 10) + b"{}"
                         + struct.pack("<Q", 2) + b"xy")

    def test_strict_decoding(self):
        bad = {
            "magic": header(magic=b"CNC2"),
            "type 0": header(type_=0),
            "type 11": header(type_=11),
            "padding": header(pad=b"\0\1\0"),
            "meta over limit": header(meta_len=cp.MAX_META_BYTES + 1),
            "frame over limit": header(body_len=cp.MAX_FRAME_BYTES),
            "length mismatch": header(meta_len=2) + b"{}x",
            "meta not object": header(meta_len=2) + b"[]",
            "meta not json": header(meta_len=2) + b"{x",
            "truncated blob length": header(body_len=4) + b"\0\0\0\0",
            "blob past frame": header(body_len=9) + struct.pack("<Q", 2) + b"a",
            "short": b"CNC1",
        }
        for what, frame in bad.items():
            with self.subTest(what):
                with self.assertRaises(cp.ProtocolError):
                    cp.decode_frame(frame)

    def test_values(self):
        m = cp.Message(cp.DATA)
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        seq = [np.array([1, 2], dtype=np.int64), np.array([3], dtype=np.int64)]
        cp.put_values(m, ["x", "s", "n"], [x, seq, None])
        self.assertEqual(m.meta["kinds"], ["tensor", "sequence", "none"])
        back = dict(cp.get_values(cp.decode_frame(cp.encode_frame(m))))
        np.testing.assert_array_equal(back["x"], x)
        self.assertEqual(back["x"].dtype, np.float32)
        self.assertEqual([a.tolist() for a in back["s"]], [[1, 2], [3]])
        self.assertIsNone(back["n"])

    def test_bfloat16_keeps_its_bits(self):
        import onnx
        t = onnx.TensorProto()
        t.name = "b"
        t.data_type = onnx.TensorProto.BFLOAT16
        t.dims.extend([2])
        t.raw_data = struct.pack("<2H", 0x3F80, 0xC000)  # 1.0, -2.0
        m = cp.Message(cp.DATA, {"names": ["b"], "kinds": ["tensor"]}, [t.SerializeToString()])
        (name, v), = cp.get_values(m)
        self.assertIsInstance(v, cp.OnnxBitsArray)
        self.assertEqual(v.bits.tolist(), [0x3F80, 0xC000])
        out = cp.Message(cp.OUTPUT)
        cp.put_values(out, ["b"], [v])
        back = onnx.TensorProto()
        back.ParseFromString(out.blobs[0])
        self.assertEqual((back.data_type, list(back.dims), back.raw_data),
                         (t.data_type, [2], t.raw_data))

    def test_bad_values(self):
        for meta, blobs in [({"names": ["a"], "kinds": ["tensor"]}, [b"\xff\xff\xff"]),
                            ({"names": ["a"], "kinds": ["map"]}, [b""]),
                            ({"names": ["a", "b"], "kinds": ["none"]}, [b""])]:
            with self.subTest(meta=meta):
                with self.assertRaises(cp.ProtocolError):
                    cp.get_values(cp.Message(cp.DATA, meta, blobs))

    def test_parse_env(self):
        self.assertEqual(cp.parse_env("tvm@cpu,opt=2,target=llvm -mcpu=core-avx2"),
                         ("tvm", "cpu", {"opt": "2", "target": "llvm -mcpu=core-avx2"}))
        self.assertEqual(cp.parse_env("ort"), ("ort", "cpu", {}))


class WorkerStreamTest(unittest.TestCase):
    def run_worker(self, stdin_bytes):
        argv = [sys.executable, os.path.join(ADAPTERS, "worker.py"), "--backend", "ort"]
        p = subprocess.run(argv,
                           input=stdin_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        return p.returncode, p.stdout

    def test_malformed_frame_gets_error_then_exit(self):
        rc, out = self.run_worker(b"GARBAGE!" * 4)
        self.assertEqual(rc, 2)
        reply = cp.decode_frame(out)
        self.assertEqual(reply.type, cp.ERROR)
        self.assertEqual(reply.meta["kind"], "input")
        self.assertIn("bad magic", reply.meta["message"])

    def test_error_keeps_serving_and_bye_exits_zero(self):
        frames = [cp.Message(cp.HELLO, {"version": 1}),
                  cp.Message(cp.PROCESS, {}),  # before MODEL: an ERROR, not the end
                  cp.Message(cp.STATS, {}),
                  cp.Message(cp.BYE, {})]
        rc, out = self.run_worker(b"".join(cp.encode_frame(f) for f in frames))
        self.assertEqual(rc, 0)
        replies = []
        while out:
            t, ml, bl = cp.decode_header(out[:cp.HEADER_SIZE])
            n = cp.HEADER_SIZE + ml + bl
            replies.append(cp.decode_frame(out[:n]))
            out = out[n:]
        self.assertEqual([r.type for r in replies], [cp.HELLO, cp.ERROR, cp.STATS])
        self.assertEqual(replies[0].meta["server"], "concord-worker")
        self.assertEqual(replies[1].meta["kind"], "usage")
        self.assertEqual(replies[2].meta["count"], 0)

    def test_eof_exits_zero(self):
        rc, out = self.run_worker(b"")
        self.assertEqual((rc, out), (0, b""))


class TvmTargetTest(unittest.TestCase):
    def test_classic_target_strings_are_translated(self):
        import tvm_adapter
        t = tvm_adapter.make_target("llvm -mcpu=core-avx2 -mattr=+avx2,+fma -num-cores=4")
        self.assertEqual(t.kind.name, "llvm")
        self.assertEqual(str(t.attrs["mcpu"]), "core-avx2")
        self.assertEqual([str(a) for a in t.attrs["mattr"]], ["+avx2", "+fma"])
        self.assertEqual(tvm_adapter.make_target("llvm").kind.name, "llvm")
        with self.assertRaises(Exception):
            tvm_adapter.make_target("nosuchkind")


if __name__ == "__main__":
    unittest.main()
