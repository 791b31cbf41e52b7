"""Tests of the GPU envs (ort@cuda, ort@tensorrt, torch@cuda, tvm@cuda, opencv@opencl) through the
real `concord` binary.

    python adapters/testing/gpu_envs_test.py CONCORD_BIN              (any machine; CI)
    python adapters/testing/gpu_envs_test.py CONCORD_BIN --gpu --models DIR [--json OUT]
                                                                      (the GPU machine)

Without --gpu (CI, no GPU): every GPU env is refused before anything runs, with exit 2 and a
message naming why ("unsupported on this machine: no CUDA device: ..."), by `run`, `compare` and
`matrix` (which writes no store), and `concord envs` lists the reason per device.

With --gpu (scripts/gpu_run on the GPU machine; DIR holds the demo classifier and the bench
models as .onnx and their onnx2torch .pt2 twins): each GPU env must report the GPU that ran
(no silent CPU fallback) and agree with the reference interpreter (`ref`, the independent
truth) on the same seeded inputs: fp32 envs within rtol 1e-3 / atol 1e-4 per element, with
the deviation of the TF32 settings measured and reported, not gated. --json writes every
check's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONCORD = ""
MODELS = ""
RESULTS: dict[str, Any] = {}
RTOL, ATOL = 1e-3, 1e-4
GPU_ENVS = ["ort@cuda", "ort@tensorrt", "torch@cuda", "tvm@cuda"]


def concord(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CONCORD, *args], capture_output=True, text=True, timeout=timeout)


def tiny_model(path: str) -> None:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu", [x], [y])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def load_pb(path: str) -> Any:
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


class NoGpuErrors(unittest.TestCase):
    """On a machine without a GPU every GPU env is a clear usage error (exit 2)."""

    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="concord-gpu-")
        self.model = os.path.join(self.dir, "relu.onnx")
        tiny_model(self.model)

    def test_run_refuses_each_gpu_env(self) -> None:
        for env in GPU_ENVS:
            with self.subTest(env=env):
                p = concord("run", self.model, "--env", env)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn("unsupported on this machine: no CUDA device", p.stderr)
                self.assertIn(env, p.stderr)

    def test_compare_refuses_before_running(self) -> None:
        p = concord("compare", self.model, "--envs", "ref;ort@cuda,opt=3", "--json")
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("ort@cuda,opt=3: unsupported on this machine: no CUDA device", p.stderr)

    def test_matrix_refuses_and_writes_no_store(self) -> None:
        config = os.path.join(self.dir, "m.json")
        with open(config, "w") as f:
            json.dump({"models": [{"path": self.model}], "envs": ["ref", "tvm@cuda,opt=3"],
                       "dataset": {"random": 1}}, f)
        db = os.path.join(self.dir, "m.db")
        p = concord("matrix", config, "--db", db)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("tvm@cuda,opt=3: unsupported on this machine: no CUDA device", p.stderr)
        self.assertFalse(os.path.exists(db), "a refused matrix must not leave a store")

    def test_envs_lists_why_each_gpu_device_is_missing(self) -> None:
        p = concord("envs", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        envs = {e["name"]: e for e in json.loads(p.stdout)["envs"]}
        for name, device in (("ort", "cuda"), ("ort", "tensorrt"), ("torch", "cuda"),
                             ("tvm", "cuda")):
            with self.subTest(env=name + "@" + device):
                self.assertNotIn(device, envs[name]["devices"])
                self.assertIn("no CUDA device", envs[name]["unavailable_devices"][device])


def compare(model: str, envs: list[str], inputs_dir: str) -> dict[str, Any]:
    p = concord("compare", model, "--envs", ";".join(envs), "--rtol", str(RTOL), "--atol",
                str(ATOL), "--save-inputs", inputs_dir, "--json")
    if p.returncode == 2:
        raise AssertionError("compare refused: " + p.stderr)
    record: dict[str, Any] = json.loads(p.stdout)
    return record


class GpuMachine(unittest.TestCase):
    """On the GPU machine: each GPU env reports its GPU and agrees with ref."""

    models = ("efficientnet_lite0", "mobilenetv2_shaped")  # the study adds resnet18_shaped

    def test_envs_report_cuda_devices(self) -> None:
        p = concord("envs", "--json")
        envs = {e["name"]: e for e in json.loads(p.stdout)["envs"]}
        RESULTS["unavailable_devices"] = {n: e.get("unavailable_devices", {})
                                          for n, e in envs.items()}
        for name in ("ort", "torch", "tvm"):
            with self.subTest(env=name):
                self.assertIn("cuda", envs[name]["devices"],
                              envs[name].get("unavailable_devices"))

    def test_onnx_gpu_envs_agree_with_ref(self) -> None:
        envs = ["ref", "ort@cuda,opt=0", "ort@cuda,opt=3", "tvm@cuda,opt=3", "opencv@opencl",
                "ort@cuda,opt=3,precision=tf32"]
        gated = envs[1:5]
        for name in self.models:
            with self.subTest(model=name):
                inputs = tempfile.mkdtemp(prefix="concord-gpu-in-")
                rec = compare(os.path.join(MODELS, name + ".onnx"), envs, inputs)
                by_env = {e["env"]: e for e in rec["envs"]}
                figures = RESULTS.setdefault("vs_ref", {}).setdefault(name, {})
                for pair in rec["pairs"]:
                    if not pair["a_env"].startswith("ref"):
                        continue
                    worst = max((o["max_abs"] for o in pair["outputs"]), default=None)
                    figures[pair["b_env"]] = {
                        "ok": pair["ok"], "max_abs": worst,
                        "device": by_env[pair["b_env"]].get("device"),
                        "effective_env": by_env[pair["b_env"]]["effective_env"],
                        "error": by_env[pair["b_env"]].get("error")}
                for env in gated:
                    self.assertTrue(by_env[env]["ok"], "%s failed: %s" % (env, by_env[env]))
                    self.assertTrue(figures[env]["ok"], "%s vs ref: %s" % (env, figures[env]))
                for env in ("ort@cuda,opt=0", "ort@cuda,opt=3", "tvm@cuda,opt=3"):
                    self.assertIn("NVIDIA", by_env[env]["device"] or "", by_env[env])
                self.assertIn("opencv@opencl[device=", by_env["opencv@opencl"]["effective_env"])
                self.assertNotIn("->cpu", by_env["opencv@opencl"]["effective_env"])

    def test_torch_cuda_agrees_with_ref(self) -> None:
        for name in self.models:
            twin = os.path.join(MODELS, name + ".pt2")  # else the TorchScript fallback
            if not os.path.exists(twin):
                twin = os.path.join(MODELS, name + ".pt")
            onnx_path = os.path.join(MODELS, name + ".onnx")
            with self.subTest(model=name):
                self.assertTrue(os.path.exists(twin), "no torch twin %s (scripts/gpu_run makes "
                                "it with onnx2torch)" % twin)
                inputs = tempfile.mkdtemp(prefix="concord-gpu-in-")
                ref_out = tempfile.mkdtemp(prefix="concord-gpu-ref-")
                p = concord("run", onnx_path, "--env", "ref", "--save-inputs", inputs, "--out",
                            ref_out, "--json")
                self.assertEqual(p.returncode, 0, p.stderr)
                ref = load_pb(os.path.join(ref_out, "output_0.pb"))
                for env, gated in (("torch@cuda,opt=0", True), ("torch@cuda,opt=2", True),
                                   ("torch@cuda,opt=0,precision=tf32", False),
                                   ("torch@cuda,opt=0,precision=fp16", False)):
                    out = tempfile.mkdtemp(prefix="concord-gpu-torch-")
                    p = concord("run", twin, "--env", env, "--inputs", inputs, "--out", out,
                                "--json")
                    self.assertEqual(p.returncode, 0, p.stderr)
                    rec = json.loads(p.stdout)
                    got = load_pb(os.path.join(out, "output_0.pb"))
                    diff = float(np.max(np.abs(got.astype(np.float64) - ref)))
                    ok = bool(np.all(np.abs(got - ref) <= ATOL + RTOL * np.abs(ref)))
                    RESULTS.setdefault("vs_ref", {}).setdefault(name, {})[env] = {
                        "ok": ok, "max_abs": diff, "device": rec.get("device"),
                        "effective_env": rec["effective_env"]}
                    self.assertIn("NVIDIA", rec.get("device") or "", rec)
                    if gated:
                        self.assertTrue(ok, "%s on %s: max abs %g" % (env, name, diff))

    def test_tensorrt_is_run_or_refused_with_its_reason(self) -> None:
        model = os.path.join(MODELS, "mobilenetv2_shaped.onnx")
        p = concord("run", model, "--env", "ort@tensorrt,opt=3,precision=fp16", "--json")
        RESULTS["tensorrt"] = {"exit": p.returncode, "stderr": p.stderr.strip()[-400:]}
        if p.returncode == 2:
            self.assertIn("TensorRT", p.stderr)
        else:
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("NVIDIA", json.loads(p.stdout).get("device") or "")


def main() -> int:
    global CONCORD, MODELS
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("concord")
    ap.add_argument("--gpu", action="store_true", help="run the GPU machine's tests")
    ap.add_argument("--models", default="", help="folder of .onnx models and .pt2 twins")
    ap.add_argument("--json", default="", help="write every check's figures here")
    args, rest = ap.parse_known_args()
    CONCORD, MODELS = os.path.abspath(args.concord), args.models
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(
        GpuMachine if args.gpu else NoGpuErrors)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    if args.json:
        RESULTS["passed"] = result.wasSuccessful()
        RESULTS["failures"] = [str(t) + ": " + tb[-600:] for t, tb in
                               result.failures + result.errors]
        with open(args.json, "w") as f:
            json.dump(RESULTS, f, indent=1, default=str)
    del rest
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
