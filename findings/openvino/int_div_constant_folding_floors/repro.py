#!/usr/bin/env python3
"""Standalone reproducer (onnx + openvino + numpy only, no Concord): OpenVINO's ONNX Div on
int32 truncates toward zero at run time (-7 / 2 = -3, like ONNX Runtime and onnx.reference)
but floors when the operands are constants and the division is constant-folded (-7 / 2 = -4):
the same model gives different results depending on whether its inputs are initializers.

    python repro.py      # prints the outputs and "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import openvino as ov
from onnx import TensorProto, helper, numpy_helper

A = np.array([-7, 7, -1, 5], np.int32)
B = np.array([2, -2, 3, 3], np.int32)


def run(constant: bool) -> np.ndarray:
    node = helper.make_node("Div", ["a", "b"], ["y"])
    out = [helper.make_tensor_value_info("y", TensorProto.INT32, [4])]
    if constant:
        graph = helper.make_graph([node], "div", [], out, [numpy_helper.from_array(A, "a"),
                                                           numpy_helper.from_array(B, "b")])
    else:
        graph = helper.make_graph([node], "div", [
            helper.make_tensor_value_info("a", TensorProto.INT32, [4]),
            helper.make_tensor_value_info("b", TensorProto.INT32, [4])], out)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    core = ov.Core()
    compiled = core.compile_model(core.read_model(model.SerializeToString(), b""), "CPU")
    return compiled({} if constant else {"a": A, "b": B})[compiled.output(0)]


def main() -> int:
    print("openvino", ov.__version__)
    want = np.trunc(A / B).astype(np.int32)  # what ONNX Runtime and onnx.reference compute
    runtime, folded = run(False), run(True)
    print("inputs:    %s (expected %s)" % (runtime.tolist(), want.tolist()))
    print("constants: %s (expected %s)" % (folded.tolist(), want.tolist()))
    if not np.array_equal(folded, runtime):
        print("reproduces: constant folding floors where the runtime truncates")
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
