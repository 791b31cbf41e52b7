#!/usr/bin/env python3
"""Standalone reproducer (tensorflow only, no Concord): TensorFlow 2.21's TFLite converter
rejects a vector-matrix product written the usual way, `squeeze(matmul(expand_dims(a, 0), b),
[-2])` with a: [5], b: [5, 2] — "'tfl.batch_matmul' op failed to verify that operand 0 is 2-D" —
although TensorFlow runs it and each part converts alone: without the squeeze, with reshape
instead of expand_dims, and the matrix-vector mirror image all convert.

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import tensorflow as tf


def vecmat(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.squeeze(tf.linalg.matmul(tf.expand_dims(a, 0), b), [-2])


def main() -> int:
    print("tensorflow", tf.__version__)
    specs = [tf.TensorSpec([5], tf.float32), tf.TensorSpec([5, 2], tf.float32)]
    fn = tf.function(vecmat, input_signature=specs)
    a = np.arange(5, dtype=np.float32)
    b = np.ones([5, 2], np.float32)
    print("eager:", vecmat(tf.constant(a), tf.constant(b)).numpy().tolist())
    try:
        flatbuffer = tf.lite.TFLiteConverter.from_concrete_functions(
            [fn.get_concrete_function()]).convert()
    except Exception as e:  # noqa: BLE001 - the converter's error is the symptom
        if "operand 0 is 2-D" in str(e):
            print("reproduces: the converter fails: 'tfl.batch_matmul' op failed to verify "
                  "that operand 0 is 2-D")
            return 0
        print("fixed? the converter fails differently: %s" % str(e)[:300])
        return 1
    interp = tf.lite.Interpreter(model_content=flatbuffer)
    interp.allocate_tensors()
    print("fixed: converted (%d bytes)" % len(flatbuffer))
    return 1


if __name__ == "__main__":
    sys.exit(main())
