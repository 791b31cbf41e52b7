#!/usr/bin/env python3
"""Writes model.tflite with TensorFlow's own TFLite converter (run in .venv-tf): one
LOGICAL_OR of a constant bool[6,3,4,6,6] and an input bool[6,6] (broadcast over 5 dims)."""
import numpy as np
import tensorflow as tf


class Model(tf.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a = tf.constant(np.random.default_rng(0).integers(0, 2, (6, 3, 4, 6, 6)).astype(bool))

    @tf.function(input_signature=[tf.TensorSpec((6, 6), tf.bool)])
    def __call__(self, b: tf.Tensor) -> tf.Tensor:
        return tf.math.logical_or(self.a, b)


m = Model()
converter = tf.lite.TFLiteConverter.from_concrete_functions([m.__call__.get_concrete_function()], m)
with open("model.tflite", "wb") as f:
    f.write(converter.convert())
print("wrote model.tflite with tensorflow", tf.__version__)
