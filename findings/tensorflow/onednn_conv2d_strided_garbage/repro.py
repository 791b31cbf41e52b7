#!/usr/bin/env python3
"""Standalone reproducer (tensorflow + numpy only, no Concord): TensorFlow 2.21's CPU conv2d
with its oneDNN custom ops (on by default on x86) returns garbage (values ~1e17) for input
[3, 6, 4, 1], filter [3, 3, 1, 5], strides (1, 2), VALID padding; with
TF_ENABLE_ONEDNN_OPTS=0, under XLA, with batch 1, with 2 input channels or with width 5 or 8
it is right. Expected values by a numpy loop (the convolution's definition).

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import numpy as np
import tensorflow as tf


def conv_valid(x: np.ndarray, w: np.ndarray, strides: tuple[int, int]) -> np.ndarray:
    n, h, wd, _ = x.shape
    kh, kw, _, o = w.shape
    oh, ow = (h - kh) // strides[0] + 1, (wd - kw) // strides[1] + 1
    out = np.zeros((n, oh, ow, o))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, i * strides[0]:i * strides[0] + kh, j * strides[1]:j * strides[1] + kw]
            out[:, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [0, 1, 2]))
    return out


def main() -> int:
    print("tensorflow", tf.__version__)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 6, 4, 1)).astype(np.float32)
    w = rng.standard_normal((3, 3, 1, 5)).astype(np.float32)
    got = tf.nn.conv2d(x, w, strides=(1, 1, 2, 1), padding="VALID").numpy()
    diff = float(np.abs(got - conv_valid(x, w, (1, 2))).max())
    print("max |tf.nn.conv2d - definition| = %g" % diff)
    if not diff < 1e-4:
        print("reproduces: eager conv2d (oneDNN) returns wrong values, max |diff| %g" % diff)
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
