#!/usr/bin/env python3
"""Standalone reproducer (onnx + onnxruntime + numpy only, no Concord): ONNX Runtime's
ai.onnx.ml TreeEnsemble (opset 5) applies LOGISTIC for post_transform=1 and SOFTMAX for
post_transform=2; the ONNX spec's enum is 0 NONE, 1 SOFTMAX, 2 LOGISTIC, 3 SOFTMAX_ZERO,
4 PROBIT.

    python repro.py      # prints the outputs and "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def model(post_transform: int) -> bytes:
    # One tree, one split on feature 0 at 0.5: x <= 0.5 reaches a leaf adding 1.0 to target 0,
    # x > 0.5 a leaf adding 2.0 to target 1.
    node = helper.make_node(
        "TreeEnsemble", ["X"], ["Y"], domain="ai.onnx.ml", aggregate_function=1, n_targets=2,
        post_transform=post_transform, tree_roots=[0],
        nodes_modes=numpy_helper.from_array(np.array([0], np.uint8), "nodes_modes"),
        nodes_featureids=[0],
        nodes_splits=numpy_helper.from_array(np.array([0.5], np.float32), "nodes_splits"),
        nodes_truenodeids=[0], nodes_trueleafs=[1], nodes_falsenodeids=[1], nodes_falseleafs=[1],
        leaf_targetids=[0, 1],
        leaf_weights=numpy_helper.from_array(np.array([1.0, 2.0], np.float32), "leaf_weights"))
    graph = helper.make_graph([node], "tree", [helper.make_tensor_value_info(
        "X", TensorProto.FLOAT, [2, 1])], [helper.make_tensor_value_info("Y", TensorProto.FLOAT,
                                                                         [2, 2])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21),
                                                helper.make_opsetid("ai.onnx.ml", 5)])
    m.ir_version = 10
    onnx.checker.check_model(m)
    return m.SerializeToString()


def main() -> int:
    x = np.array([[0.0], [1.0]], np.float32)
    scores = np.array([[1.0, 0.0], [0.0, 2.0]])  # the raw tree scores, by hand
    softmax = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    logistic = 1.0 / (1.0 + np.exp(-scores))
    print("onnxruntime", ort.__version__, "onnx", onnx.__version__)
    got = {}
    for pt, name, want in ((1, "SOFTMAX", softmax), (2, "LOGISTIC", logistic)):
        sess = ort.InferenceSession(model(pt), providers=["CPUExecutionProvider"])
        got[pt] = sess.run(None, {"X": x})[0]
        print("post_transform=%d (%s): expected %s, got %s" % (
            pt, name, np.round(want, 6).tolist(), np.round(got[pt], 6).tolist()))
    swapped = np.allclose(got[1], logistic, atol=1e-6) and np.allclose(got[2], softmax, atol=1e-6)
    correct = np.allclose(got[1], softmax, atol=1e-6) and np.allclose(got[2], logistic, atol=1e-6)
    if swapped:
        print("reproduces: post_transform 1 and 2 are swapped")
        return 0
    print("fixed" if correct else "changed: neither the documented nor the swapped outputs")
    return 1


if __name__ == "__main__":
    sys.exit(main())
