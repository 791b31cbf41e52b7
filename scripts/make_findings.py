#!/usr/bin/env python3
"""Writes minimal repros of third-party runtime bugs found by Concord, in ONNX's test layout
(findings/<target>/<name>/model.onnx + test_data_set_0 with a numpy-computed expected output):

  make_findings.py findings/

Check one with: concord conformance --suite findings --env opencv@cpu   (ref passes them all)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(out_dir, nodes, inputs, outputs, inits, feeds, expected, opset=13, ml_opset=None,
         ir_version=8):
    graph = helper.make_graph(nodes, os.path.basename(out_dir), inputs, outputs, inits)
    opsets = [helper.make_opsetid("", opset)]
    if ml_opset:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    m = helper.make_model(graph, opset_imports=opsets, producer_name="concord-make_findings")
    m.ir_version = ir_version
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


def ort_tree_ensemble_post_transform(out):
    """ONNX Runtime (1.23 .. 1.32 at least): ai.onnx.ml TreeEnsemble-5 reads post_transform 1 as
    LOGISTIC and 2 as SOFTMAX; the spec's enum is 0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO,
    4 PROBIT (as TreeEnsembleRegressor's strings). One tree, one split, two targets; the leaf
    reached for x <= 0.5 adds 1.0 to target 0, the other 2.0 to target 1; post_transform=1."""
    x = np.array([[0.0], [1.0]], np.float32)
    scores = np.array([[1.0, 0.0], [0.0, 2.0]])
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    y = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)  # SOFTMAX, by hand
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", aggregate_function=1, n_targets=2,
        post_transform=1, tree_roots=[0],
        nodes_modes=numpy_helper.from_array(np.array([0], np.uint8), "nodes_modes"),
        nodes_featureids=[0],
        nodes_splits=numpy_helper.from_array(np.array([0.5], np.float32), "nodes_splits"),
        nodes_truenodeids=[0], nodes_trueleafs=[1], nodes_falsenodeids=[1], nodes_falseleafs=[1],
        leaf_targetids=[0, 1],
        leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "leaf_weights"))
    save(out, [node], [helper.make_tensor_value_info("X", TensorProto.FLOAT, x.shape)],
         [helper.make_tensor_value_info("Y", TensorProto.FLOAT, y.shape)], [], [("X", x)],
         [("Y", y)], opset=21, ml_opset=5, ir_version=10)


def onnx2tf_dynamic_batch_channel_mul(out):
    """onnx2tf 1.29.24 (TF 2.19): MaxPool followed by Mul with a per-channel [1, C, 1, 1]
    constant fails to convert when the batch dim is dynamic ("Dimensions must be equal, but are
    56 and 64": the activation goes NHWC, the constant stays [1, 1, C, 1]); with a static batch
    it converts. Found converting DenseNet-121 (TFLite -> tf2onnx -> onnx2tf): every BatchNorm
    after a pool is such a Mul. The model itself is valid ONNX; the expected output is numpy's.
    The test data feeds batch 1 (the model declares the batch dim symbolic)."""
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (1, 64, 114, 114)).astype(np.float32)
    s = rng.uniform(0.5, 1.5, (1, 64, 1, 1)).astype(np.float32)
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    y = (win.max(axis=(-2, -1)) * s).astype(np.float32)
    save(out, [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2]),
               helper.make_node("Mul", ["p", "s"], ["y"])],
         [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 64, 114, 114])],
         [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 64, 56, 56])],
         [numpy_helper.from_array(s, "s")], [("x", x)], [("y", y)], opset=17)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    for fn in (opencv_matmul_scale_fusion, opencv_layernorm_mul_assert, dnnl_log_of_one,
               ort_tree_ensemble_post_transform, onnx2tf_dynamic_batch_channel_mul):
        target, name = fn.__name__.split("_", 1)  # findings/<target>/<name>
        fn(os.path.join(sys.argv[1], target, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
