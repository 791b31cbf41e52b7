"""End-to-end tests of `concord convert SRC --to FORMAT -o OUT` through the real converters,
against independent truth: the source model run natively (torch, keras, ONNX Runtime) on one
input in the source's layout, and the converted model run natively on its own env with that
same input (the sidecar's layout map transposes it where onnx2tf went NHWC). fp32 paths must
agree within 1e-4; Optimize.DEFAULT (dynamic-range int8) within 5e-2, a deployment setting.
Each case also checks the sidecar records the chain of tools.

    .venv/bin/python adapters/testing/convert_e2e.py CONCORD_BIN [unittest args]

Source models come from make_framework_models.py (seeded, made by the frameworks at test
time). Needs the framework venvs (scripts/setup_venvs torch tf onnx2tf).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import testing.framework_envs_e2e as fw_e2e
from testing.framework_envs_e2e import Run, max_diff, venv_python

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONCORD = ""
MODELS = ""
FP32_TOL = 1e-4
QUANT_TOL = 5e-2


def native_env(path: str) -> str:
    if os.path.isdir(path):
        return "tf@cpu"
    ext = os.path.splitext(path)[1]
    return {".pt": "torch@cpu", ".pt2": "torch@cpu", ".onnx": "ort@cpu", ".tflite": "tflite@cpu",
            ".xml": "openvino@cpu", ".keras": "keras@cpu"}[ext]


class Convert(unittest.TestCase):
    @classmethod
    def setUpClass(cls) -> None:
        global MODELS
        MODELS = tempfile.mkdtemp(prefix="concord-conv-models-")
        for family in ("torch", "tf"):
            subprocess.run([venv_python(family), os.path.join(REPO, "adapters", "testing",
                            "make_framework_models.py"), family, MODELS], check=True,
                           capture_output=True, timeout=900)

    @staticmethod
    def m(name: str) -> str:
        return os.path.join(MODELS, name)

    def convert(self, src: str, out: str, *extra: str, code: int = 0) -> dict[str, object]:
        p = subprocess.run([CONCORD, "convert", self.m(src), "-o", self.m(out)] + list(extra),
                           capture_output=True, text=True, timeout=900)
        self.assertEqual(p.returncode, code, p.stdout + p.stderr)
        if code != 0:
            self.assertFalse(os.path.exists(self.m(out)), "a failed convert left OUT behind")
            return {"stderr": p.stderr}
        with open(self.m(out) + ".concord.json") as f:
            sidecar: dict[str, object] = json.load(f)
        return sidecar

    def agree(self, src: str, out: str, inputs: str, tol: float) -> float:
        a = Run(self.m(src), native_env(self.m(src)), self.m(inputs))
        b = Run(self.m(out), native_env(self.m(out)), self.m(inputs))
        self.assertEqual(a.code, 0, a.stderr)
        self.assertEqual(b.code, 0, b.stderr)
        d: float = max_diff(a.output(), b.output())
        print("  %s -> %s: max |diff| %.3g" % (src, out, d), file=sys.stderr)
        self.assertLess(d, tol)
        self.assertGreater(float(np.abs(a.output()).max()), 0.1)  # not a near-zero output
        return d

    def chain(self, sidecar: dict[str, object]) -> list[str]:
        return [str(h["tool"]) for h in sidecar["chain"]]  # type: ignore[attr-defined]

    def test_torch_to_onnx_dynamo(self) -> None:
        s = self.convert("net.pt2", "dyn.onnx", "--to", "onnx")
        self.assertEqual(self.chain(s), ["torch.onnx.dynamo"])
        self.agree("net.pt2", "dyn.onnx", "x_nchw.npy", FP32_TOL)

    def test_torchscript_to_onnx_legacy(self) -> None:
        s = self.convert("net.pt", "ts.onnx", "--to", "onnx", "--via", "torch.onnx.torchscript",
                         "--example", self.m("x_nchw.npy"))
        self.assertEqual(self.chain(s), ["torch.onnx.torchscript"])
        self.agree("net.pt", "ts.onnx", "x_nchw.npy", FP32_TOL)

    def test_torch_to_tflite_litert_torch(self) -> None:
        s = self.convert("net.pt2", "lt.tflite", "--to", "tflite")
        self.assertEqual(self.chain(s), ["litert-torch"])
        self.agree("net.pt2", "lt.tflite", "x_nchw.npy", FP32_TOL)

    def test_localize_takes_framework_models_through_their_onnx_twins(self) -> None:
        """localize of a PyTorch program against its TFLite conversion: the source is exported
        to ONNX on the spot, the target compared through the twin convert wrote beside it; the
        faithful conversion agrees (exit 0, no divergent node)."""
        self.convert("net.pt2", "loc.tflite", "--to", "tflite")
        p = subprocess.run([CONCORD, "localize", self.m("net.pt2"), self.m("loc.tflite"),
                            "--inputs", self.m("x_nchw.npy"), "--json"], capture_output=True,
                           text=True, timeout=900)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        doc = json.loads(p.stdout)
        self.assertIsNone(doc["first_divergent_node"])
        self.assertIn("exported to ONNX now", doc["source_onnx"]["how"])
        self.assertEqual(doc["target_onnx"]["path"], self.m("loc.tflite") + ".twin.onnx")

    def test_keras_to_onnx_tf2onnx(self) -> None:
        s = self.convert("net.keras", "k.onnx", "--to", "onnx")
        self.assertEqual(self.chain(s), ["tf2onnx"])
        self.agree("net.keras", "k.onnx", "x_nhwc.npy", FP32_TOL)

    def test_keras_to_tflite_fp32_and_dynamic(self) -> None:
        self.convert("net.keras", "k.tflite", "--to", "tflite")
        self.agree("net.keras", "k.tflite", "x_nhwc.npy", FP32_TOL)
        s = self.convert("net.keras", "kd.tflite", "--to", "tflite", "--quantize", "dynamic")
        self.assertEqual(s["chain"][0]["options"]["optimizations"],  # type: ignore[index]
                         ["Optimize.DEFAULT"])
        self.agree("net.keras", "kd.tflite", "x_nhwc.npy", QUANT_TOL)
        self.assertTrue(os.path.exists(self.m("kd.tflite.twin.onnx")))

    def test_onnx_to_torch_onnx2torch(self) -> None:
        s = self.convert("torch_twin.onnx", "o2t.pt", "--to", "torch")
        self.assertEqual(self.chain(s), ["onnx2torch"])
        self.agree("torch_twin.onnx", "o2t.pt", "x_nchw.npy", FP32_TOL)

    def test_onnx_to_openvino(self) -> None:
        s = self.convert("torch_twin.onnx", "ov.xml", "--to", "openvino")
        self.assertFalse(s["chain"][0]["options"]["compress_to_fp16"])  # type: ignore[index]
        self.agree("torch_twin.onnx", "ov.xml", "x_nchw.npy", FP32_TOL)

    def test_openvino_fp16_twin_holds_the_irs_weights_and_is_repaired(self) -> None:
        """compress_to_fp16 happens after the ONNX step: the twin takes the IR's own float16
        weights (equal to NumPy's float16 rounding of the source's), so localize sees the
        divergence and repair undoes the precision (one edit for every conv and gemm)."""
        import onnx
        from onnx import numpy_helper
        s = self.convert("torch_twin.onnx", "ovh.xml", "--to", "openvino", "--quantize", "fp16")
        how = str(s["twin"]["how"])  # type: ignore[index]
        self.assertIn("IR's compressed weights", how)
        src = {i.name: numpy_helper.to_array(i)
               for i in onnx.load(self.m("torch_twin.onnx")).graph.initializer}
        twin = {i.name: numpy_helper.to_array(i)
                for i in onnx.load(self.m("ovh.xml.twin.onnx")).graph.initializer}
        rounded = [n for n, v in twin.items() if n in src and v.dtype == np.float32
                   and src[n].size > 1 and not np.array_equal(v, src[n])]
        self.assertTrue(rounded, how)
        for n in rounded:
            np.testing.assert_array_equal(twin[n], src[n].astype(np.float16).astype(np.float32))
        p = subprocess.run([CONCORD, "repair", self.m("torch_twin.onnx"), self.m("ovh.xml"),
                            "--inputs", self.m("x_nchw.npy"), "-o", self.m("ovh_fixed.onnx"),
                            "--no-reconvert", "--json"], capture_output=True, text=True,
                           timeout=900)
        doc = json.loads(p.stdout)
        self.assertEqual(doc["initial"]["kind"], "parameter", p.stdout[-3000:])
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr)
        self.assertEqual(doc["status"], "repaired")
        self.assertIn("restore the float32 weights of every layer the conversion rounded",
                      [x["change"] for x in doc["patches"]])

    def test_onnx_to_tf_onnx2tf_layout_undone(self) -> None:
        s = self.convert("torch_twin.onnx", "o2tf", "--to", "tf")
        self.assertEqual(self.chain(s), ["onnx2tf"])
        self.assertEqual(s["inputs"][0]["perm"], [0, 2, 3, 1])  # type: ignore[index]
        self.agree("torch_twin.onnx", "o2tf", "x_nchw.npy", FP32_TOL)  # NCHW input, as the source

    def test_chain_keras_onnx_torch(self) -> None:
        s = self.convert("net.keras", "k2t.pt", "--to", "onnx,torch")
        self.assertEqual(self.chain(s), ["tf2onnx", "onnx2torch"])
        self.agree("net.keras", "k2t.pt", "x_nhwc.npy", FP32_TOL)

    def test_bad_requests_exit_2_and_leave_nothing(self) -> None:
        e = self.convert("net.pt2", "x.keras", "--to", "keras", code=2)
        self.assertIn("no installed converter", str(e["stderr"]))
        e = self.convert("net.pt2", "x.onnx", "--to", "banana", code=2)
        self.assertIn("unknown --to format", str(e["stderr"]))
        left = [f for f in os.listdir(MODELS) if f.startswith(".concord-convert-")]
        self.assertEqual(left, [])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print("usage: convert_e2e.py CONCORD_BIN [unittest args]", file=sys.stderr)
        sys.exit(2)
    CONCORD = os.path.abspath(sys.argv[1])
    fw_e2e.CONCORD = CONCORD  # Run() drives the binary through that module's global
    try:
        unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
    finally:
        shutil.rmtree(MODELS, ignore_errors=True)
