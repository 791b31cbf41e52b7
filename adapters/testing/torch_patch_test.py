#!/usr/bin/env python3
"""adapters/torch_patch.py on real TorchScript and torch.export files: a twin initializer the
repair changed is found in the module's state dict (as is, or scaled per output channel as the
TorchScript exporter folds a BatchNormalization into its conv) and overwritten with the new
values in the tensor's own layout; the saved module computes with them; a value the state dict
does not hold is refused (exit 3) and nothing is written.

    torch_patch_test.py   (run with the torch venv's python)
"""
from __future__ import annotations

import os
import sys
import tempfile
import unittest
from typing import Any

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch_patch  # noqa: E402


class Net(torch.nn.Module):  # type: ignore[misc]
    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: Any) -> Any:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def twin(path: str, tensors: dict[str, Any]) -> None:
    """An ONNX file whose initializers are `tensors`, each read by an Identity node."""
    nodes = [helper.make_node("Identity", [n], [n + "_out"], name="read_" + n) for n in tensors]
    outs = [helper.make_tensor_value_info(n + "_out", onnx.TensorProto.FLOAT, None)
            for n in tensors]
    inits = [numpy_helper.from_array(np.ascontiguousarray(a), n) for n, a in tensors.items()]
    g = helper.make_graph(nodes, "twin", [], outs, inits)
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), path)


class TorchPatch(unittest.TestCase):
    def setUp(self) -> None:
        torch.manual_seed(0)
        self.dir = tempfile.mkdtemp()
        self.net = Net().eval()
        self.x = torch.rand(1, 3, 6, 6)
        self.w = self.net.conv.weight.detach().numpy().copy()
        self.fc = self.net.fc.weight.detach().numpy().copy()

    def save(self, kind: str) -> str:
        path = os.path.join(self.dir, "target." + kind)
        if kind == "pt":
            torch.jit.save(torch.jit.trace(self.net, (self.x,)), path)
        else:
            torch.export.save(torch.export.export(self.net, (self.x,)), path)
        return path

    def load(self, path: str) -> Any:
        return torch.jit.load(path) if path.endswith(".pt") else torch.export.load(path).module()

    def patch(self, target: str, before: dict[str, Any], after: dict[str, Any]) -> Any:
        t, f = os.path.join(self.dir, "twin.onnx"), os.path.join(self.dir, "fixed.onnx")
        twin(t, before)
        twin(f, after)
        out = os.path.join(self.dir, "out" + os.path.splitext(target)[1])
        rc, report = torch_patch.patch(target, t, f, out)
        return rc, report, out

    def test_values_as_stored_and_transposed(self) -> None:
        for kind in ("pt", "pt2"):
            target = self.save(kind)
            new_w = self.w[:, :, ::-1, :].copy()
            new_fc = np.full_like(self.fc, 0.25)
            # the twin holds the Linear weight transposed (a MatMul's operand)
            rc, report, out = self.patch(target, {"w": self.w, "fc": self.fc.T},
                                         {"w": new_w, "fc": new_fc.T})
            self.assertEqual(rc, 0, report)
            self.assertEqual({p["layout"] for p in report["patched"]}, {"as is", "transposed"})
            patched = self.load(out)
            np.testing.assert_array_equal(patched.conv.weight.detach().numpy()
                                          if kind == "pt" else
                                          patched.state_dict()["conv.weight"].numpy(), new_w)
            want = Net().eval()
            want.load_state_dict(self.net.state_dict())
            with torch.no_grad():
                want.conv.weight.copy_(torch.from_numpy(new_w))
                want.fc.weight.copy_(torch.from_numpy(new_fc))
                np.testing.assert_allclose(patched(self.x).numpy(), want(self.x).numpy(),
                                           rtol=1e-6, atol=1e-6)

    def test_weights_folded_with_a_batchnorm(self) -> None:
        target = self.save("pt")
        s = np.array([0.5, 2.0, 1.5, 0.8], np.float32).reshape(4, 1, 1, 1)
        new_folded = (self.w * 1.1 + 0.01) * s
        rc, report, out = self.patch(target, {"w": self.w * s}, {"w": new_folded})
        self.assertEqual(rc, 0, report)
        self.assertIn("per-channel", report["patched"][0]["layout"])
        got = self.load(out).conv.weight.detach().numpy()
        np.testing.assert_allclose(got, self.w * 1.1 + 0.01, rtol=1e-5, atol=1e-6)

    def test_a_value_the_state_dict_does_not_hold_is_refused(self) -> None:
        target = self.save("pt2")
        rc, report, out = self.patch(target, {"w": self.w + 1}, {"w": self.w})
        self.assertEqual(rc, 3)
        self.assertEqual(len(report["unpatched"]), 1)
        self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main()
