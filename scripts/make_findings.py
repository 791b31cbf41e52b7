#!/usr/bin/env python3
"""Writes minimal repros of third-party runtime bugs found by Concord, in ONNX's test layout
(findings/<name>/model.onnx + test_data_set_0 with a numpy-computed expected output):

  make_findings.py findings/

Check one with: concord conformance --suite findings --env opencv@cpu   (ref passes them all)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(out_dir, nodes, inputs, outputs, inits, feeds, expected, opset=13):
    graph = helper.make_graph(nodes, os.path.basename(out_dir), inputs, outputs, inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                          producer_name="concord-make_findings")
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(os.path.join(out_dir, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(out_dir, "model.onnx"))
    for prefix, items in (("input", feeds), ("output", expected)):
        for k, (name, arr) in enumerate(items):
            with open(os.path.join(out_dir, "test_data_set_0", "%s_%d.pb" % (prefix, k)), "wb") as f:
                f.write(numpy_helper.from_array(arr, name).SerializeToString())


def opencv_matmul_scale_fusion(out):
    """OpenCV 4.6, opt>=1 (fusion on): MatMul of two variable inputs followed by Mul with a
    scalar constant; the fused layer drops the scale (result 1/scale too large)."""
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (1, 2, 4, 8)).astype(np.float32)
    b = rng.uniform(-1, 1, (1, 2, 8, 4)).astype(np.float32)
    y = (a.astype(np.float64) @ b.astype(np.float64) * 0.25).astype(np.float32)
    save(out, [helper.make_node("MatMul", ["a", "b"], ["ab"]),
               helper.make_node("Mul", ["ab", "scale"], ["y"])],
         [helper.make_tensor_value_info("a", TensorProto.FLOAT, a.shape),
          helper.make_tensor_value_info("b", TensorProto.FLOAT, b.shape)],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, y.shape)],
         [numpy_helper.from_array(np.array(0.25, np.float32), "scale")],
         [("a", a), ("b", b)], [("y", y)])


def opencv_layernorm_mul_assert(out):
    """OpenCV 4.6: x / std (a [1,16,64] by [1,16,1] Div) followed by Mul with a [64] constant
    aborts the forward pass with an assertion in shape_utils.hpp ('total')."""
    rng = np.random.default_rng(6)
    x = rng.uniform(-1, 1, (1, 16, 64)).astype(np.float32)
    s = rng.uniform(0.5, 2, (1, 16, 1)).astype(np.float32)
    g = rng.uniform(0.5, 1.5, (64,)).astype(np.float32)
    y = (x.astype(np.float64) / s * g).astype(np.float32)
    save(out, [helper.make_node("Div", ["x", "s"], ["n"]), helper.make_node("Mul", ["n", "g"], ["y"])],
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape),
          helper.make_tensor_value_info("s", TensorProto.FLOAT, s.shape)],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, y.shape)],
         [numpy_helper.from_array(g, "g")], [("x", x), ("s", s)], [("y", y)])


def dnnl_log_of_one(out):
    """oneDNN 2.6 eltwise_log (the dnnl env's Log primitive): log(1) comes out as -1.43e-6, not
    0; ONNX's own test_log_example ([1, 10]) fails at the suite's tolerance."""
    x = np.array([1.0, 10.0, 2.0, 0.5, 1.0, 1e-3, 1e3, 3.0], np.float32)
    y = np.log(x.astype(np.float64)).astype(np.float32)
    save(out, [helper.make_node("Log", ["x"], ["y"])],
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, x.shape)],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, y.shape)],
         [], [("x", x)], [("y", y)])


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    for fn in (opencv_matmul_scale_fusion, opencv_layernorm_mul_assert, dnnl_log_of_one):
        fn(os.path.join(sys.argv[1], fn.__name__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
