"""Tests of adapters/upstream_report.py, the step that turns a fuzz finding bundle into a
standalone reproducer and an upstream bug report.

    .venv/bin/python adapters/testing/upstream_report_test.py TORCH_PYTHON TF_PYTHON

Bundles are built in `concord fuzz`'s layout, with expected outputs computed by hand:
- ONNX Runtime's TreeEnsemble post_transform mix-up (findings/ort/tree_ensemble_post_transform,
  a real bug in the installed ORT): repro.py reproduces, report.md follows ORT's template and
  names the version repro.py ran with.
- A correct model (Relu) on ORT, on torch@cpu,opt=2 (the model emitted as PyTorch code and
  compiled by Inductor) and on tf@cpu,opt=3 / lite=1 (emitted as TensorFlow, under XLA / through
  the TFLite converter): repro.py says "fixed" (exit 1) — the verdict can fail.
- repro.py is standalone: it imports neither Concord nor the emitter, and runs from a copy of
  the bundle in another folder.
- An error bundle whose model the target rejects reproduces as an error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
TOOL = os.path.join(HERE, "..", "upstream_report.py")
TORCH_PYTHON = ""
TF_PYTHON = ""


def bundle(folder: str, model: Any, inputs: list[Any], expected: list[Any], env: str,
           symptom: str) -> str:
    os.makedirs(os.path.join(folder, "test_data_set_0"))
    onnx.save(model, os.path.join(folder, "model.onnx"))
    for i, (value, vi) in enumerate(zip(inputs, model.graph.input)):
        onnx.save_tensor(numpy_helper.from_array(value, vi.name),
                         os.path.join(folder, "test_data_set_0", "input_%d.pb" % i))
    for i, (value, vi) in enumerate(zip(expected, model.graph.output)):
        onnx.save_tensor(numpy_helper.from_array(value, vi.name),
                         os.path.join(folder, "test_data_set_0", "output_%d.pb" % i))
    finding = {"id": 7, "env": env, "symptom": symptom, "message": "hand-made bundle",
               "versions": {"version": "x 0 (hand)"},
               "details": {"tolerance": {"rtol": 1e-4, "atol": 1e-5}}}
    with open(os.path.join(folder, "finding.json"), "w") as f:
        json.dump(finding, f)
    return folder


def file_upstream(folder: str) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, TOOL, folder, "--python-for", "torch=" + TORCH_PYTHON,
                           "--python-for", "tf=" + TF_PYTHON], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def ort_case() -> tuple[Any, Any, Any]:
    """findings/ort/tree_ensemble_post_transform (scripts/make_findings.py): the TreeEnsemble
    model with post_transform=1 (SOFTMAX), its input and the output computed by hand."""
    case = os.path.join(HERE, "..", "..", "findings", "ort", "tree_ensemble_post_transform")

    def tensor(name: str) -> Any:
        return numpy_helper.to_array(onnx.load_tensor(os.path.join(case, "test_data_set_0",
                                                                    name)))
    return onnx.load(os.path.join(case, "model.onnx")), tensor("input_0.pb"), tensor("output_0.pb")


def relu_model() -> Any:
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


class UpstreamReport(unittest.TestCase):
    def setUp(self) -> None:
        self.tmp = tempfile.mkdtemp()

    def tearDown(self) -> None:
        shutil.rmtree(self.tmp)

    def test_real_ort_bug_reproduces_with_a_report_in_orts_template(self) -> None:
        model, x, softmax = ort_case()
        b = bundle(os.path.join(self.tmp, "ort"), model, [x], [softmax], "ort@cpu,opt=3",
                   "inconsistent")
        verdict = file_upstream(b)
        self.assertEqual(verdict["repro"], "reproduces", verdict)
        with open(os.path.join(b, "report.md")) as f:
            md = f.read()
        for heading in ("### Describe the issue", "### To reproduce",
                        "### ONNX Runtime Version or Commit ID", "### Execution Provider"):
            self.assertIn(heading, md)
        import onnxruntime
        self.assertIn("onnxruntime " + onnxruntime.__version__, md)
        # Standalone: a copy elsewhere reproduces on its own, and imports nothing of Concord.
        copy = shutil.copytree(b, os.path.join(self.tmp, "elsewhere"))
        with open(os.path.join(copy, "repro.py")) as f:
            source = f.read()
        self.assertNotIn("concord", source.split('"""', 2)[2].lower())
        proc = subprocess.run([sys.executable, "repro.py"], cwd=copy, capture_output=True,
                              text=True, timeout=300)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)
        self.assertIn("reproduces", proc.stdout)

    def test_a_correct_target_says_fixed(self) -> None:
        x = np.array([[-1.0, 0.5, 2.0], [3.0, -0.25, 0.0]], np.float32)
        for env in ("ort@cpu,opt=3", "torch@cpu,opt=2,emit=1", "tf@cpu,emit=1,opt=3",
                    "tf@cpu,emit=1,lite=1"):
            b = bundle(os.path.join(self.tmp, env.replace("@", "_").replace(",", "_")
                                    .replace("=", "")), relu_model(), [x],
                       [np.maximum(x, 0)], env, "inconsistent")
            verdict = file_upstream(b)
            self.assertEqual(verdict["repro"], "fixed", (env, verdict))
        with open(os.path.join(self.tmp, "torch_cpu_opt2_emit1", "repro.py")) as f:
            source = f.read()
        self.assertIn("class Model(torch.nn.Module)", source)  # the emitted module, inline
        self.assertNotIn("import torch_emit", source)
        with open(os.path.join(self.tmp, "torch_cpu_opt2_emit1", "report.md")) as f:
            self.assertIn("### 🐛 Describe the bug", f.read())
        with open(os.path.join(self.tmp, "tf_cpu_emit1_lite1", "report.md")) as f:
            self.assertIn("### TensorFlow version", f.read())

    def test_wrong_expected_values_reproduce(self) -> None:
        x = np.array([[-1.0, 0.5, 2.0], [3.0, -0.25, 0.0]], np.float32)
        b = bundle(os.path.join(self.tmp, "wrong"), relu_model(), [x], [np.abs(x)],
                   "torch@cpu,opt=2", "inconsistent")
        verdict = file_upstream(b)
        self.assertEqual(verdict["repro"], "reproduces", verdict)
        self.assertIn("2 of 6 elements differ", verdict["detail"])

    def test_an_error_reproduces_while_the_target_raises(self) -> None:
        model, x, _ = ort_case()
        ml = next(o for o in model.opset_import if o.domain == "ai.onnx.ml")
        ml.version = 99  # an ai.onnx.ml opset ORT does not know
        b = bundle(os.path.join(self.tmp, "err"), model, [x], [np.zeros((2, 2), np.float32)],
                   "ort@cpu,opt=3", "error")
        verdict = file_upstream(b)
        self.assertEqual(verdict["repro"], "reproduces", verdict)


if __name__ == "__main__":
    TORCH_PYTHON = os.path.abspath(sys.argv.pop(1))
    TF_PYTHON = os.path.abspath(sys.argv.pop(1))
    unittest.main()
