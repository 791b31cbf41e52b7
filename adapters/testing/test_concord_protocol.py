"""Unit tests of adapters/concord_protocol.py and of worker.py's handling of bad frames.

Run: .venv/bin/python -m unittest discover -s adapters/testing -p 'test_*.py'
(CTest: adapters_protocol_test, label "python").
"""

from __future__ import annotations

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
from adapter import AdapterError, OptionSpec, parse_options  # noqa: E402


def header(type_: int = cp.OK, pad: bytes = b"\0\0\0", meta_len: int = 0, body_len: int = 0,
           magic: bytes = b"CNC1") -> bytes:
    return struct.pack("<4sB3sIQ", magic, type_, pad, meta_len, body_len)


class FramingTest(unittest.TestCase):
    def test_round_trip(self) -> None:
        m = cp.Message(cp.MODEL, {"env": {"backend": "ort", "device": "cpu",
                                          "options": {"opt": "3"}}},
                       [b"abc", b"", b"\0" * 10])
        frame = cp.encode_frame(m)
        self.assertEqual(frame[:4], b"CNC1")
        self.assertEqual(frame[4], cp.MODEL)
        back = cp.decode_frame(frame)
        self.assertEqual(back.type, cp.MODEL)
        self.assertEqual(back.meta, m.meta)
        self.assertEqual(back.blobs, m.blobs)

    def test_layout_matches_message_h(self) -> None:
        frame = cp.encode_frame(cp.Message(cp.BYE, {}, [b"xy"]))
        self.assertEqual(frame, b"CNC1\x0a\0\0\0" + struct.pack("<IQ", 2, 10) + b"{}"
                         + struct.pack("<Q", 2) + b"xy")

    def test_golden_frame_shared_with_message_test_cc(self) -> None:
        path = os.path.join(os.path.dirname(ADAPTERS), "src", "protocol", "testdata",
                            "model_frame.bin")
        with open(path, "rb") as f:
            golden = f.read()
        env = {"backend": "ort", "device": "cpu", "options": {"opt": "3"}}
        m = cp.Message(cp.MODEL, {"env": env, "name": "m.onnx"}, [b"xy", b""])
        self.assertEqual(cp.encode_frame(m), golden)
        back = cp.decode_frame(golden)
        self.assertEqual((back.type, back.meta, back.blobs), (cp.MODEL, m.meta, m.blobs))

    def test_strict_decoding(self) -> None:
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

    def test_values(self) -> None:
        m = cp.Message(cp.DATA)
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        seq = [np.array([1, 2], dtype=np.int64), np.array([3], dtype=np.int64)]
        cp.put_values(m, ["x", "s", "n"], [x, seq, None])
        self.assertEqual(m.meta["kinds"], ["tensor", "sequence", "none"])
        back = dict(cp.get_values(cp.decode_frame(cp.encode_frame(m))))
        bx, bs = back["x"], back["s"]
        assert isinstance(bx, np.ndarray) and isinstance(bs, list)
        self.assertNotIsInstance(bs, cp.MapSequence)
        np.testing.assert_array_equal(bx, x)
        self.assertEqual(bx.dtype, np.float32)
        self.assertEqual([np.asarray(a).tolist() for a in bs], [[1, 2], [3]])
        self.assertIsNone(back["n"])

    def test_map_sequences(self) -> None:
        import onnx
        from onnx import numpy_helper
        labels = [{"cat": np.float32(0.25), "dog": np.float32(0.75)},
                  {"cat": np.float32(1.0), "dog": np.float32(-0.5)}]
        ids = cp.MapSequence([{7: np.float32(0.5), -1: np.float32(0.125)}])
        plain = [{"a": 1.5}]  # a list of dicts of Python floats, as onnxruntime returns it
        m = cp.Message(cp.OUTPUT)
        cp.put_values(m, ["labels", "ids", "empty", "plain"],
                      [cp.MapSequence(labels), ids, cp.MapSequence(), plain])
        self.assertEqual(m.meta["kinds"], ["sequence"] * 4)
        # On the wire: SequenceProto of MapProtos, as ONNX's own numpy_helper reads them.
        wire = onnx.SequenceProto()
        wire.ParseFromString(m.blobs[0])
        self.assertEqual(wire.elem_type, onnx.SequenceProto.MAP)
        self.assertEqual(wire.map_values[0].key_type, onnx.TensorProto.STRING)
        self.assertEqual(numpy_helper.to_list(wire), [{b"cat": 0.25, b"dog": 0.75},
                                                      {b"cat": 1.0, b"dog": -0.5}])
        back = dict(cp.get_values(cp.decode_frame(cp.encode_frame(m))))
        for name in ("labels", "ids", "empty", "plain"):
            self.assertIsInstance(back[name], cp.MapSequence, name)
        self.assertEqual(back["labels"], labels)
        self.assertEqual(back["ids"], ids)
        self.assertEqual(back["empty"], [])
        got = back["labels"]
        assert isinstance(got, cp.MapSequence)
        self.assertEqual(got[0]["dog"].dtype, np.float32)
        plain_back = back["plain"]
        assert isinstance(plain_back, cp.MapSequence)
        self.assertEqual(plain_back[0]["a"].dtype, np.float64)
        ids_wire = onnx.SequenceProto()
        ids_wire.ParseFromString(m.blobs[1])
        self.assertEqual(ids_wire.map_values[0].key_type, onnx.TensorProto.INT64)
        self.assertEqual(list(ids_wire.map_values[0].keys), [7, -1])

    def test_bad_map_is_a_protocol_error(self) -> None:
        import onnx
        seq = onnx.SequenceProto()
        seq.elem_type = onnx.SequenceProto.MAP
        bad = seq.map_values.add()
        bad.key_type = onnx.TensorProto.INT64
        bad.keys.extend([1, 2])  # two keys, no values
        m = cp.Message(cp.OUTPUT, {"names": ["z"], "kinds": ["sequence"]},
                       [seq.SerializeToString()])
        with self.assertRaises(cp.ProtocolError):
            cp.get_values(m)

    def test_bfloat16_keeps_its_bits(self) -> None:
        import onnx
        t = onnx.TensorProto()
        t.name = "b"
        t.data_type = onnx.TensorProto.BFLOAT16
        t.dims.extend([2])
        t.raw_data = struct.pack("<2H", 0x3F80, 0xC000)  # 1.0, -2.0
        m = cp.Message(cp.DATA, {"names": ["b"], "kinds": ["tensor"]}, [t.SerializeToString()])
        (name, v), = cp.get_values(m)
        assert isinstance(v, cp.OnnxBitsArray)
        self.assertEqual(v.bits.tolist(), [0x3F80, 0xC000])
        out = cp.Message(cp.OUTPUT)
        cp.put_values(out, ["b"], [v])
        back = onnx.TensorProto()
        back.ParseFromString(out.blobs[0])
        self.assertEqual((back.data_type, list(back.dims), back.raw_data),
                         (t.data_type, [2], t.raw_data))

    def test_float6_travels_packed_from_either_encoding(self) -> None:
        # float6e2m3 codes 8, 9, 0x24, 0x1F (1, 1.125, -0.5, 7.5) pack LSB-first into three
        # bytes: 8 | (9 & 3) << 6, 9 >> 2 | (0x24 & 15) << 4, 0x24 >> 4 | 0x1F << 2.
        import onnx
        packed = bytes([0x48, 0x42, 0x7E])
        raw = onnx.TensorProto()
        raw.name, raw.data_type = "w", onnx.TensorProto.FLOAT6E2M3
        raw.dims.extend([2, 2])
        raw.raw_data = packed
        ints = onnx.TensorProto()
        ints.CopyFrom(raw)
        ints.ClearField("raw_data")
        ints.int32_data.extend([0x08, 0x09, 0x24, 0x1F])  # one code per entry, not packed
        for t in (raw, ints):
            m = cp.Message(cp.DATA, {"names": ["w"], "kinds": ["tensor"]}, [t.SerializeToString()])
            (_, v), = cp.get_values(m)
            assert isinstance(v, cp.OnnxBitsArray)
            self.assertTrue(v.packed)
            self.assertEqual((v.bits.tobytes(), v.shape), (packed, (2, 2)))
            out = cp.Message(cp.OUTPUT)
            cp.put_values(out, ["w"], [v])
            back = onnx.TensorProto()
            back.ParseFromString(out.blobs[0])
            self.assertEqual((back.data_type, list(back.dims), back.raw_data),
                             (raw.data_type, [2, 2], packed))
        ints.int32_data.append(0)  # five codes for four elements
        with self.assertRaises(cp.ProtocolError):
            cp.get_values(cp.Message(cp.DATA, {"names": ["w"], "kinds": ["tensor"]},
                                     [ints.SerializeToString()]))

    def test_bad_values(self) -> None:
        for meta, blobs in [({"names": ["a"], "kinds": ["tensor"]}, [b"\xff\xff\xff"]),
                            ({"names": ["a"], "kinds": ["map"]}, [b""]),
                            ({"names": ["a", "b"], "kinds": ["none"]}, [b""])]:
            with self.subTest(meta=meta):
                with self.assertRaises(cp.ProtocolError):
                    cp.get_values(cp.Message(cp.DATA, meta, blobs))



class SharedMemoryTest(unittest.TestCase):
    """concord_protocol.SharedRegion against a memory file made here as Concord makes it
    (memfd, sealed against shrinking); the worker's end of src/protocol/shared_region.h."""

    def region(self, size: int = 4096) -> cp.SharedRegion:
        import fcntl
        fd = os.memfd_create("concord-test", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        self.addCleanup(os.close, fd)
        os.ftruncate(fd, size)
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SHRINK)
        return cp.SharedRegion(fd, size)

    def test_every_shared_dtype_round_trips_and_strings_stay_blobs(self) -> None:
        r = self.region()
        values: list[cp.Value] = []
        names = []
        for code, dtype in sorted(cp.SHARED_DTYPES.items()):
            raw = (np.arange(6 * dtype.itemsize, dtype=np.uint8) * 7 + code).astype(np.uint8)
            arr = raw.view(dtype).reshape(2, 3) if dtype != np.bool_ else (
                np.arange(6).reshape(2, 3) % 2 == 0)
            values.append(cp.OnnxBitsArray(arr, code) if code >= 16 else arr)
            names.append("t%d" % code)
        values.append(np.array([b"a", b"bc"], dtype=object))
        names.append("text")
        m = cp.Message(cp.OUTPUT)
        end = cp.put_values(m, names, values, r, 100)
        self.assertEqual(m.meta["kinds"], ["shm"] * (len(names) - 1) + ["tensor"])
        self.assertEqual(m.meta["shm_size"], r.size)
        self.assertEqual(cp.shared_end(m), end)
        for d in m.meta["shm"][:-1]:
            self.assertEqual(d["offset"] % cp.SHARED_ALIGNMENT, 0)
            self.assertGreaterEqual(d["offset"], 100)
        back = dict(cp.get_values(cp.decode_frame(cp.encode_frame(m)), r))
        for name, want in zip(names[:-1], values[:-1]):
            got = back[name]
            if isinstance(want, cp.OnnxBitsArray):
                assert isinstance(got, cp.OnnxBitsArray)
                self.assertEqual(got.onnx_elem_type, want.onnx_elem_type)
                self.assertEqual(got.bits.tobytes(), want.bits.tobytes())
            else:
                assert isinstance(got, np.ndarray) and isinstance(want, np.ndarray)
                self.assertEqual((got.dtype, got.shape), (want.dtype, want.shape))
                self.assertEqual(got.tobytes(), want.tobytes())
        self.assertEqual(list(back["text"]), ["a", "bc"])  # type: ignore[arg-type]

    def test_a_large_tensor_grows_the_region_for_both_sides(self) -> None:
        r = self.region()
        peer = cp.SharedRegion(os.dup(r.fd), r.size)  # the other side's mapping
        big = np.arange(3 << 20, dtype=np.float32)
        m = cp.Message(cp.OUTPUT)
        cp.put_values(m, ["big"], [big], r)
        self.assertGreaterEqual(r.size, big.nbytes)
        self.assertEqual(os.fstat(r.fd).st_size, r.size)
        (_, got), = cp.get_values(m, peer)
        self.assertEqual(peer.size, r.size)
        np.testing.assert_array_equal(got, big)  # type: ignore[arg-type]
        os.close(peer.fd)

    def test_placement_is_reused_for_values_of_the_same_form(self) -> None:
        r = self.region()
        placement = cp.Placement()
        first, second = cp.Message(cp.OUTPUT), cp.Message(cp.OUTPUT)
        a = np.arange(6, dtype=np.float32).reshape(2, 3)
        cp.put_values(first, ["y"], [a], r, 64, placement)
        cp.put_values(second, ["y"], [a * 10], r, 64, placement)  # same form: same place
        self.assertEqual(second.meta, first.meta)
        (_, got), = cp.get_values(second, r)
        np.testing.assert_array_equal(got, a * 10)  # type: ignore[arg-type]
        third = cp.Message(cp.OUTPUT)
        cp.put_values(third, ["y"], [np.ones((4, 4), np.float64)], r, 64, placement)
        self.assertEqual(third.meta["shm"][0]["shape"], [4, 4])  # another form: placed afresh
        self.assertEqual(third.meta["shm"][0]["dtype"], 11)
        (_, got), = cp.get_values(third, r)
        np.testing.assert_array_equal(got, np.ones((4, 4)))  # type: ignore[arg-type]

    def test_corrupt_descriptors_are_protocol_errors(self) -> None:
        r = self.region()
        good = cp.Message(cp.PROCESS)
        cp.put_values(good, ["x"], [np.ones(4, np.float32)], r)

        def bad(**change: object) -> cp.Message:
            meta = dict(good.meta)
            meta["shm"] = [dict(good.meta["shm"][0], **change)]
            return cp.Message(cp.PROCESS, meta, [b""])
        for what, msg in [("past the end", bad(offset=r.size - 8)),
                          ("huge offset", bad(offset=1 << 62)),
                          ("negative offset", bad(offset=-64)),
                          ("string dtype", bad(dtype=8)),
                          ("negative dim", bad(shape=[-1])),
                          ("claims a larger file", cp.Message(
                              cp.PROCESS, dict(good.meta, shm_size=r.size * 4), [b""])),
                          ("no shm list", cp.Message(
                              cp.PROCESS, {"names": ["x"], "kinds": ["shm"]}, [b""]))]:
            with self.subTest(what):
                with self.assertRaises(cp.ProtocolError):
                    cp.get_values(msg, r)
        with self.assertRaises(cp.ProtocolError):
            cp.get_values(good, None)


class OptionDeclarationTest(unittest.TestCase):
    SPECS = (OptionSpec("opt", "level", "int", 0, 3, 3), OptionSpec("profile", "on", "int", 0, 1),
             OptionSpec("target", "a target"))

    def test_values_and_defaults(self) -> None:
        values = parse_options("x", self.SPECS, {"opt": "1", "target": "llvm -mcpu=core-avx2"})
        self.assertEqual(values.get_int("opt"), 1)
        self.assertEqual(values.get_str("target"), "llvm -mcpu=core-avx2")
        self.assertEqual(parse_options("x", self.SPECS, {}).get_int("opt"), 3)
        self.assertIsNone(parse_options("x", self.SPECS, {}).get_str("target"))

    def test_unknown_option_names_it_and_the_known_ones(self) -> None:
        with self.assertRaises(AdapterError) as cm:
            parse_options("x", self.SPECS, {"bogus": "1"})
        self.assertEqual(cm.exception.kind, "usage")
        self.assertIn("'bogus'", cm.exception.message)
        self.assertIn("opt, profile, target", cm.exception.message)

    def test_bad_values_are_usage_errors(self) -> None:
        for options in ({"opt": "4"}, {"opt": "-1"}, {"opt": "fast"}, {"profile": "2"}):
            with self.subTest(options=options):
                with self.assertRaises(AdapterError) as cm:
                    parse_options("x", self.SPECS, options)
                self.assertEqual(cm.exception.kind, "usage")

    def test_declaration_as_sent_in_hello(self) -> None:
        self.assertEqual([s.to_json() for s in self.SPECS], [
            {"name": "opt", "type": "int", "allowed": "0..3", "default": "3", "help": "level",
             "min": 0, "max": 3},
            {"name": "profile", "type": "int", "allowed": "0|1", "default": "", "help": "on",
             "min": 0, "max": 1},
            {"name": "target", "type": "str", "allowed": "", "default": "", "help": "a target"}])


class WorkerStreamTest(unittest.TestCase):
    def run_worker(self, stdin_bytes: bytes) -> tuple[int, bytes]:
        argv = [sys.executable, os.path.join(ADAPTERS, "worker.py"), "--backend", "ort"]
        p = subprocess.run(argv,
                           input=stdin_bytes, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=120)
        return p.returncode, p.stdout

    def test_malformed_frame_gets_error_then_exit(self) -> None:
        rc, out = self.run_worker(b"GARBAGE!" * 4)
        self.assertEqual(rc, 2)
        reply = cp.decode_frame(out)
        self.assertEqual(reply.type, cp.ERROR)
        self.assertEqual(reply.meta["kind"], "input")
        self.assertIn("bad magic", reply.meta["message"])

    def test_error_keeps_serving_and_bye_exits_zero(self) -> None:
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

    def test_hello_declares_options_and_model_takes_a_structured_env(self) -> None:
        def model(env: object) -> cp.Message:
            return cp.Message(cp.MODEL, {"env": env}, [b"not a model"])
        frames = [cp.Message(cp.HELLO, {"version": 1}),
                  model({"backend": "ort", "device": "cpu", "options": {"bogus": "1"}}),
                  model({"backend": "ort", "device": "cpu", "options": {"opt": "9"}}),
                  model("ort@cpu,opt=3"),
                  model({"backend": "ort", "device": "cpu", "options": {"opt": 3}}),
                  cp.Message(cp.BYE, {})]
        rc, out = self.run_worker(b"".join(cp.encode_frame(f) for f in frames))
        self.assertEqual(rc, 0)
        replies = []
        while out:
            _, ml, bl = cp.decode_header(out[:cp.HEADER_SIZE])
            n = cp.HEADER_SIZE + ml + bl
            replies.append(cp.decode_frame(out[:n]))
            out = out[n:]
        self.assertEqual([r.type for r in replies], [cp.HELLO] + [cp.ERROR] * 4)
        caps = replies[0].meta["capabilities"]
        self.assertEqual([o["name"] for o in caps["options"]],
                         ["opt", "threads", "profile", "precision", "fallback"])
        self.assertEqual(caps["options"][0]["allowed"], "0..3")
        self.assertEqual(caps["options"][3]["allowed"], "fp32|tf32|fp16|int8")
        self.assertIn("ORT_ENABLE_ALL", caps["opt_mapping"])
        self.assertEqual(caps["devices"], ["cpu", "cuda", "tensorrt"])
        if caps["available_devices"] == ["cpu"]:  # no GPU here: each GPU device says why
            self.assertIn("cuda", caps["unavailable_devices"])
        self.assertTrue(caps["taps"])
        self.assertIn("python", replies[0].meta["versions"])
        self.assertEqual(replies[1].meta["kind"], "usage")
        self.assertIn("'bogus' (known: opt, threads, profile, precision, fallback)",
                      replies[1].meta["message"])
        self.assertEqual(replies[2].meta["kind"], "usage")
        self.assertIn("opt must be an integer in 0..3", replies[2].meta["message"])
        self.assertEqual([r.meta["kind"] for r in replies[3:]], ["input", "input"])

    def test_eof_exits_zero(self) -> None:
        rc, out = self.run_worker(b"")
        self.assertEqual((rc, out), (0, b""))


class TvmTargetTest(unittest.TestCase):
    def test_classic_target_strings_are_translated(self) -> None:
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
