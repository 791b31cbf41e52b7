"""End-to-end tests of the framework envs (torch, openvino, tflite, tf, keras) through the real
`concord` binary, against independent truth: each framework model has an ONNX twin written by
the framework's own exporter (make_framework_models.py), run on Concord's reference interpreter
(`ref`). Outputs must agree within 1e-4, and tapped intermediates at a corresponding layer too.

    .venv/bin/python adapters/testing/framework_envs_e2e.py CONCORD_BIN [unittest args]

The framework venvs (.venv-torch, .venv-tf, made by scripts/setup_venvs) are required: without
them every test fails, naming the command that creates them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import unittest
from typing import Any, Optional

import numpy as np
import onnx
from onnx import numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONCORD = ""
TOL = 1e-4
MODELS = ""


def venv_python(family: str) -> str:
    return os.path.join(REPO, ".venv-%s" % family, "bin", "python")


def load_pb(path: str) -> Any:
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


class Run:
    """One `concord run --json --out DIR` and what it wrote."""

    def __init__(self, model: str, env: str, inputs: str, taps: bool = False,
                 extra_env: Optional[dict[str, str]] = None) -> None:
        self.out = tempfile.mkdtemp(prefix="concord-fw-")
        cmd = [CONCORD, "run", model, "--env", env, "--inputs", inputs, "--out", self.out,
               "--json"] + (["--taps"] if taps else [])
        env_vars = dict(os.environ, **(extra_env or {}))
        p = subprocess.run(cmd, capture_output=True, text=True, env=env_vars, timeout=900)
        self.code, self.stdout, self.stderr = p.returncode, p.stdout, p.stderr
        self.record: dict[str, Any] = json.loads(p.stdout) if p.returncode == 0 else {}

    def output(self, k: int = 0) -> Any:
        return load_pb(os.path.join(self.out, "output_%d.pb" % k))

    def tap(self, name: str) -> Any:
        for t in self.record["taps"]:
            if t["name"] == name:
                return load_pb(os.path.join(self.out, t["file"]))
        raise AssertionError("no tap '%s' (taps: %s)" % (name, [t["name"]
                                                               for t in self.record["taps"]]))

    def tap_where(self, **match: Any) -> Any:
        for t in self.record["taps"]:
            if all(t.get(k) == v for k, v in match.items()):
                return load_pb(os.path.join(self.out, t["file"]))
        raise AssertionError("no tap with %s" % match)


def max_diff(a: Any, b: Any) -> float:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise AssertionError("shapes differ: %s vs %s" % (a.shape, b.shape))
    return float(np.abs(a - b).max())


class FrameworkEnvs(unittest.TestCase):
    torch_ref: Run
    tf_ref: Run

    @classmethod
    def setUpClass(cls) -> None:
        for family in ("torch", "tf"):
            if not os.access(venv_python(family), os.X_OK):
                raise AssertionError("the %s venv is missing (%s): run `scripts/setup_venvs %s`"
                                     % (family, venv_python(family), family))
        global MODELS
        MODELS = tempfile.mkdtemp(prefix="concord-fw-models-")
        for family in ("torch", "tf"):
            subprocess.run([venv_python(family), os.path.join(REPO, "adapters", "testing",
                                                              "make_framework_models.py"),
                            family, MODELS], check=True, capture_output=True, timeout=900)
        cls.torch_ref = Run(cls.m("torch_twin.onnx"), "ref", cls.m("x_nchw.npy"), taps=True)
        cls.tf_ref = Run(cls.m("tf_twin.onnx"), "ref", cls.m("x_nhwc.npy"), taps=True)
        assert cls.torch_ref.code == 0 and cls.tf_ref.code == 0, (cls.torch_ref.stderr,
                                                                  cls.tf_ref.stderr)

    @staticmethod
    def m(name: str) -> str:
        return os.path.join(MODELS, name)

    def run_ok(self, model: str, env: str, inputs: str, taps: bool = False) -> Run:
        r = Run(self.m(model), env, self.m(inputs), taps)
        self.assertEqual(r.code, 0, "concord run %s --env %s failed:\n%s" % (model, env, r.stderr))
        return r

    def agrees(self, r: Run, ref: Run) -> float:
        d = max_diff(r.output(), ref.output())
        print("  %-12s %-28s max |diff| vs ref on the ONNX twin: %.3g"
              % (os.path.basename(r.record["model"]), r.record["effective_env"], d))
        self.assertLess(d, TOL)
        return d

    # torch family: TorchScript, torch.export, OpenVINO IR (all from one torch net).
    def test_torchscript_eager_and_frozen(self) -> None:
        for env in ("torch@cpu", "torch@cpu,opt=2"):
            self.agrees(self.run_ok("net.pt", env, "x_nchw.npy"), self.torch_ref)

    def test_torch_export_eager_and_inductor(self) -> None:
        for env in ("torch@cpu,opt=0", "torch@cpu,opt=3"):
            r = self.run_ok("net.pt2", env, "x_nchw.npy")
            self.assertEqual(r.record["format"], "torch.export")
            self.agrees(r, self.torch_ref)

    def test_torch_taps_match_onnx_twin(self) -> None:
        # torch.onnx folds the eval-mode BatchNorm into the Conv: the twin's Conv is conv + bn.
        conv_bn = self.torch_ref.tap_where(op_type="Conv")
        relu = self.torch_ref.tap_where(op_type="Relu")
        for model in ("net.pt", "net.pt2"):
            r = self.run_ok(model, "torch@cpu", "x_nchw.npy", taps=True)
            self.assertEqual(sorted(t["name"] for t in r.record["taps"]),
                             ["act", "bn", "conv", "fc"])
            self.assertLess(max_diff(r.tap("bn"), conv_bn), TOL)
            self.assertLess(max_diff(r.tap("act"), relu), TOL)
            self.assertGreater(max_diff(r.tap("conv"), conv_bn), 0.1)  # taps differ by layer

    def test_openvino_ir_and_onnx(self) -> None:
        r = self.run_ok("net.xml", "openvino@cpu", "x_nchw.npy", taps=True)
        self.assertIn("f32", r.record["effective_env"])
        self.agrees(r, self.torch_ref)
        relu = [t["name"] for t in r.record["taps"] if t["name"].endswith("/Relu")]
        self.assertEqual(len(relu), 1, r.record["taps"])
        self.assertLess(max_diff(r.tap(relu[0]), self.torch_ref.tap_where(op_type="Relu")), TOL)
        self.agrees(self.run_ok("torch_twin.onnx", "openvino@cpu", "x_nchw.npy"), self.torch_ref)

    def test_tvm_compiles_framework_models_with_its_own_frontends(self) -> None:
        # tvm@cpu imports a torch.export program and a TFLite flatbuffer with TVM's PyTorch and
        # TFLite frontends (the tvmtorch venv), not through an ONNX twin, and says which.
        for model, ref, inputs, frontend in (
                ("net.pt2", self.torch_ref, "x_nchw.npy", "from_exported_program"),
                ("net.tflite", self.tf_ref, "x_nhwc.npy", "from_tflite")):
            with self.subTest(model=model):
                r = self.run_ok(model, "tvm@cpu,opt=3", inputs)
                self.assertIn(frontend, r.record["prepare_info"]["frontend"])
                self.agrees(r, ref)

    # tf family: Keras, SavedModel, TFLite (all from one Keras net).
    def test_keras_eager_function_xla(self) -> None:
        for env in ("keras@cpu,opt=0", "tf@cpu,opt=2", "keras@cpu,opt=3"):
            self.agrees(self.run_ok("net.keras", env, "x_nhwc.npy"), self.tf_ref)

    def test_savedmodel(self) -> None:
        self.agrees(self.run_ok("net_saved", "tf@cpu", "x_nhwc.npy"), self.tf_ref)

    def test_tflite_reference_and_xnnpack(self) -> None:
        for env in ("tflite@cpu,opt=0", "tflite@cpu,opt=3"):
            self.agrees(self.run_ok("net.tflite", env, "x_nhwc.npy"), self.tf_ref)

    def test_keras_and_tflite_taps_match_onnx_twin(self) -> None:
        # tf2onnx keeps the NHWC flatten order: its (1, 512) Reshape is Keras' "flat" layer.
        flat = self.tf_ref.tap_where(op_type="Reshape", shape=[1, 512])
        keras_run = self.run_ok("net.keras", "keras@cpu", "x_nhwc.npy", taps=True)
        self.assertLess(max_diff(keras_run.tap("flat"), flat), TOL)
        lite = self.run_ok("net.tflite", "tflite@cpu", "x_nhwc.npy", taps=True)
        lite_flat = [t["name"] for t in lite.record["taps"] if t["shape"] == [1, 512]]
        self.assertEqual(len(lite_flat), 1, lite.record["taps"])
        self.assertLess(max_diff(lite.tap(lite_flat[0]), flat), TOL)

    # Formats an env cannot run, and a missing venv: exit 2 with a message that says why.
    def test_format_refused_with_exit_2(self) -> None:
        cases = [("net.tflite", "ort@cpu", "tflite@cpu"), ("net.pt", "ref", "torch@cpu"),
                 ("torch_twin.onnx", "tflite@cpu", "runs tflite models")]
        for model, env, hint in cases:
            r = Run(self.m(model), env, self.m("x_nchw.npy"))
            self.assertEqual(r.code, 2, r.stderr)
            self.assertIn("cannot run", r.stderr)
            self.assertIn(hint, r.stderr)

    def test_missing_venv_names_setup_command(self) -> None:
        r = Run(self.m("net.pt"), "torch@cpu", self.m("x_nchw.npy"),
                extra_env={"CONCORD_PYTHON_TORCH": "/nonexistent/python"})
        self.assertEqual(r.code, 2, r.stderr)
        self.assertIn("scripts/setup_venvs torch", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    CONCORD = os.path.abspath(sys.argv[1])
    unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2)
