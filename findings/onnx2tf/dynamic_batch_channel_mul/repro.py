#!/usr/bin/env python3
"""Standalone reproducer (onnx + onnx2tf, no Concord): onnx2tf cannot convert MaxPool followed
by Mul with a per-channel [1, C, 1, 1] constant when the batch dim is dynamic ("Dimensions must
be equal, but are 56 and 64": the activation is made NHWC, the constant becomes [1, 1, C, 1]).
With a static batch the same graph converts. Found on DenseNet-121 (TFLite -> tf2onnx ->
onnx2tf): every BatchNorm after a pool is such a Mul.

    python repro.py     # "reproduces" (exit 0) while onnx2tf fails only with the dynamic batch
"""
import os
import sys
import tempfile

import numpy as np
import onnx
import onnx2tf
from onnx import TensorProto, helper, numpy_helper


def model(batch) -> onnx.ModelProto:
    s = np.random.default_rng(0).uniform(0.5, 1.5, (1, 64, 1, 1)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[3, 3], strides=[2, 2]),
         helper.make_node("Mul", ["p", "s"], ["y"])], "pool_mul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 64, 114, 114])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 64, 56, 56])],
        [numpy_helper.from_array(s, "s")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def converts(batch) -> str:
    """'' when onnx2tf converts the model, else its error."""
    work = tempfile.mkdtemp(prefix="onnx2tf_repro_")
    path = os.path.join(work, "model.onnx")
    onnx.save(model(batch), path)
    try:
        onnx2tf.convert(input_onnx_file_path=path, output_folder_path=os.path.join(work, "tf"),
                        not_use_onnxsim=True, non_verbose=True)
        return ""
    except BaseException as e:  # onnx2tf may sys.exit(1) after printing the TF error
        return "%s: %s" % (type(e).__name__, str(e).strip().splitlines()[0] if str(e) else "")


def main() -> int:
    print("onnx2tf", onnx2tf.__version__)
    dynamic, static = converts("N"), converts(1)
    print("dynamic batch:", dynamic or "converts")
    print("static batch: ", static or "converts")
    if dynamic and not static:
        print("reproduces: the dynamic-batch pool + per-channel Mul does not convert")
        return 0
    print("fixed" if not dynamic else "changed: the static-batch model fails too")
    return 1


if __name__ == "__main__":
    sys.exit(main())
