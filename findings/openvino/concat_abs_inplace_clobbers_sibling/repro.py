#!/usr/bin/env python3
"""Standalone reproducer (onnx + openvino + numpy only, no Concord): in OpenVINO's CPU plugin
a Concat output consumed by both Abs and Gather: Gather reads the values after Abs (0.12
instead of -0.12), as if Abs ran in place on the shared Concat buffer. Happens with a graph
input in the Concat, so not (only) constant folding.

    python repro.py      # prints the outputs and "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper, numpy_helper


def main() -> int:
    print("openvino", ov.__version__)
    w = np.array([-0.8, -0.15, -0.12, 0.67], np.float32)
    x = np.array([-0.6], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Concat", ["w", "x"], ["c"], axis=0),
         helper.make_node("Abs", ["c"], ["a"]),
         helper.make_node("Gather", ["c", "i"], ["g"], axis=0)],
        "concat_abs_gather", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [5]),
         helper.make_tensor_value_info("g", TensorProto.FLOAT, [1])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.array([2], np.int64), "i")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU",
                                  {"INFERENCE_PRECISION_HINT": "f32"})
    result = compiled({"x": x})
    got = result[compiled.output(1)]
    want = np.concatenate([w, x])[[2]]
    print("Gather(Concat(w, x), [2]): expected %s, got %s" % (want.tolist(), got.tolist()))
    if not np.array_equal(got, want):
        print("reproduces: Gather sees Abs's output through the shared Concat buffer")
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
