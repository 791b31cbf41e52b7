#!/usr/bin/env python3
"""Standalone reproducer (tensorflow for the converter, ai-edge-litert, numpy; no Concord):
LiteRT 2.3's XNNPACK delegate computes BATCH_MATMUL(t, t) wrong when t (both operands the same
tensor) comes out of TRANSPOSE -> MAX_POOL_2D (1x1 window, stride 2) -> TRANSPOSE. The same
flatbuffer on the builtin kernels (XNNPACK off) is right, as are TensorFlow eager, the same graph
without the transposes, and BATCH_MATMUL(t, ones) or (t, 1.0001 t).

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys
from importlib.metadata import version

import numpy as np
import tensorflow as tf
from ai_edge_litert import interpreter as litert


def model(x: tf.Tensor) -> tf.Tensor:
    t = tf.transpose(x, (0, 2, 3, 1))                        # NCHW -> NHWC
    t = tf.nn.max_pool(t, (1, 1), (1, 2), "VALID")           # keep every other column
    t = tf.transpose(t, (0, 3, 1, 2))                        # back to NCHW: [1, 6, 2, 2]
    return tf.linalg.matmul(t, t)


def run(flatbuffer: bytes, x: np.ndarray, xnnpack: bool) -> np.ndarray:
    kinds = litert.OpResolverType
    interp = litert.Interpreter(
        model_content=flatbuffer,
        experimental_op_resolver_type=kinds.AUTO if xnnpack
        else kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    interp.set_tensor(interp.get_input_details()[0]["index"], x)
    interp.invoke()
    return interp.get_tensor(interp.get_output_details()[0]["index"])


def main() -> int:
    print("tensorflow", tf.__version__, "ai-edge-litert", version("ai-edge-litert"))
    x = np.random.default_rng(0).standard_normal([1, 6, 2, 4]).astype(np.float32)
    fn = tf.function(model, input_signature=[tf.TensorSpec(x.shape, tf.float32)])
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions(
        [fn.get_concrete_function()]).convert()
    want = model(tf.constant(x)).numpy()
    builtin, xnnpack = run(flatbuffer, x, False), run(flatbuffer, x, True)
    print("max |builtin - eager| %.3g, max |XNNPACK - eager| %.3g"
          % (np.abs(builtin - want).max(), np.abs(xnnpack - want).max()))
    if np.allclose(builtin, want, rtol=1e-5, atol=1e-5) and \
            not np.allclose(xnnpack, want, rtol=1e-2, atol=1e-3):
        print("reproduces: XNNPACK's BATCH_MATMUL(t, t) after the transposed pool is wrong")
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
