#!/usr/bin/env python3
"""Standalone reproducer (tensorflow + numpy only, no Concord): TensorFlow 2.21's TFLite
converter folds `reduce_sum(broadcast_to(c, [9, 5, 8, 4]), axis=[0, -3], keepdims=True)` of an
int64 constant `c` of shape [5, 1, 1] to the sum over the constant's own axis only (13 instead
of 9 x 13 = 117): the broadcast factor along axis 0 is lost. int32, float32, or axis [0, 1]
instead of [0, -3] convert right, and the interpreter's SUM kernel is right on inputs.

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import tensorflow as tf


class Model(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.c = tf.constant(np.array([6, -5, 4, 2, 6], np.int64).reshape(5, 1, 1))

    @tf.function(input_signature=[])
    def __call__(self) -> tf.Tensor:
        return tf.math.reduce_sum(tf.broadcast_to(self.c, [9, 5, 8, 4]), axis=[0, -3],
                                  keepdims=True)


def main() -> int:
    print("tensorflow", tf.__version__)
    m = Model()
    flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions(
        [m.__call__.get_concrete_function()], m).convert()
    interp = tf.lite.Interpreter(model_content=flatbuffer)
    interp.allocate_tensors()
    got = list(interp.get_signature_runner()().values())[0]
    want = m().numpy()
    print("TFLite %s, TensorFlow %s (expected 9 x 13 = 117)" % (got.ravel()[:3].tolist(),
                                                                want.ravel()[:3].tolist()))
    if not np.array_equal(got, want):
        print("reproduces: the converted model sums without the broadcast factor")
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
