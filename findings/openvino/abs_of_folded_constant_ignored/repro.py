#!/usr/bin/env python3
"""Standalone reproducer (onnx + openvino + numpy only, no Concord): OpenVINO's CPU plugin
returns Abs's input unchanged when that input is a constant another op computed (constant
folding): Abs(Log(0.95)) comes out as -0.0513, Abs(Neg(0.95)) as -0.95. Abs of an initializer,
and Abs(Log(x)) of a graph input, are right.

    python repro.py      # prints the outputs and "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper, numpy_helper


def run(first_op: str, x: np.ndarray) -> np.ndarray:
    graph = helper.make_graph(
        [helper.make_node(first_op, ["w"], ["t"]), helper.make_node("Abs", ["t"], ["y"])],
        "abs_of_folded", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(x, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    return compiled({})[compiled.output(0)]


def main() -> int:
    print("openvino", ov.__version__)
    x = np.array([0.95], np.float32)
    bad = 0
    for op, fn in (("Log", np.log), ("Neg", np.negative)):
        got, want = run(op, x), np.abs(fn(x))
        print("Abs(%s(0.95)): expected %s, got %s" % (op, want.tolist(), got.tolist()))
        bad += not np.allclose(got, want, rtol=1e-6)
    print("reproduces: Abs is not applied to a constant-folded input" if bad else "fixed")
    return 0 if bad else 1


if __name__ == "__main__":
    sys.exit(main())
