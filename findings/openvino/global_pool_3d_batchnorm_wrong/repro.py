#!/usr/bin/env python3
"""Standalone reproducer (onnx + openvino + numpy only, no Concord): OpenVINO's CPU plugin gives
wrong values for GlobalAveragePool (or GlobalMaxPool) of a 3-D input [N, C, L] followed by
BatchNormalization when N > 1 (max |diff| ~3.8 here). N = 1, a 4-D input, and either op alone
are right. Expected values computed with numpy (ONNX's formulas).

    python repro.py      # prints the difference and "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper, numpy_helper


def main() -> int:
    print("openvino", ov.__version__)
    rng = np.random.default_rng(0)
    n, c, length, eps = 4, 9, 5, 1e-3
    x = rng.standard_normal((n, c, length)).astype(np.float32)
    scale = rng.uniform(0.5, 1.5, c).astype(np.float32)
    bias = rng.standard_normal(c).astype(np.float32)
    mean = rng.standard_normal(c).astype(np.float32)
    var = rng.uniform(0.5, 2, c).astype(np.float32)
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
         helper.make_node("BatchNormalization", ["p", "s", "b", "m", "v"], ["y"], epsilon=eps)],
        "pool_bn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n, c, length])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n, c, 1])],
        [numpy_helper.from_array(a, k) for a, k in ((scale, "s"), (bias, "b"), (mean, "m"),
                                                    (var, "v"))])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled({"x": x})[compiled.output(0)]
    pooled = x.mean(axis=2, keepdims=True)
    want = (pooled - mean[:, None]) / np.sqrt(var[:, None] + eps) * scale[:, None] + bias[:, None]
    diff = float(np.abs(got - want).max())
    print("max |openvino - numpy| = %g" % diff)
    if diff > 1e-4:
        print("reproduces: GlobalAveragePool(3-D) -> BatchNormalization is wrong for N = %d" % n)
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
