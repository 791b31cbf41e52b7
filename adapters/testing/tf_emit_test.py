"""Tests of the ONNX -> TensorFlow emitter (adapters/tf_emit.py) and of tf@cpu running ONNX
models through it (emit=1), against independent truth.

    .venv-tf/bin/python adapters/testing/tf_emit_test.py CONCORD_BIN

- Generated models (`concord gen`, with ref's outputs): every model it emits agrees with ref,
  run eagerly (exact for integer and bool outputs), and it emits at least 65 % of them.
- Hand-built one-node models of the semantics TensorFlow spells differently from ONNX
  (channels-last Conv with asymmetric pads and groups, ConvTranspose pads, AveragePool with
  count_include_pad=0, Pad edge/wrap, TopK ties, Slice with a negative step, Gather with
  negative indices, integer Div, float16 InstanceNormalization): each agrees with
  onnx.reference.
- `concord compare` of ref with tf@cpu,emit=1 under XLA (opt=3) and through the TFLite
  converter on LiteRT 2.3's interpreter (lite=1, XNNPACK on and off) and on TensorFlow's
  bundled one (litert=0) agrees, and `concord run`
  says how; without emit=1 an ONNX model is refused as unsupported.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import unittest
from typing import Any

import numpy as np
import tensorflow as tf
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import tf_emit  # noqa: E402
from testing.emit_test_util import (NDArray, assert_agree, generated_case,  # noqa: E402
                                    one_node, run_info_agreeing_with_ref, write_conv_model)

CONCORD = ""


def run_emitted(model: Any, inputs: list[NDArray]) -> list[NDArray]:
    module = tf_emit.instantiate(tf_emit.emit(model))
    return [np.asarray(t) for t in module(*[tf.constant(x) for x in inputs])]


class GeneratedModels(unittest.TestCase):
    def test_emitted_functions_agree_with_ref(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            emitted, refused = 0, []
            seeds = range(1, 61)
            for seed in seeds:
                model, inputs, outputs = generated_case(CONCORD, os.path.join(tmp, str(seed)),
                                                        seed)
                try:
                    got = run_emitted(model, inputs)
                except tf_emit.Unsupported as e:
                    refused.append("seed %d: %s" % (seed, e))
                    continue
                except (tf.errors.NotFoundError, tf.errors.InvalidArgumentError) as e:
                    refused.append("seed %d: no CPU kernel: %s" % (seed, str(e)[:120]))
                    continue
                emitted += 1
                assert_agree(self, got, outputs, "seed %d" % seed, rtol=5e-2, atol=5e-3)
            print("emitted %d of %d generated models; refused: %s"
                  % (emitted, len(seeds), refused), file=sys.stderr)
            self.assertGreaterEqual(emitted, 0.65 * len(seeds))


class Semantics(unittest.TestCase):
    rng = np.random.default_rng(4)

    def check(self, op: str, inputs: list[tuple[str, NDArray, bool]], n_out: int = 1,
              **attrs: Any) -> None:
        model, feeds = one_node(op, inputs, n_out, **attrs)
        want: Any = ReferenceEvaluator(model).run(None, {m.name: v for m, v in
                                                         zip(model.graph.input, feeds)})
        assert_agree(self, run_emitted(model, feeds), want, "%s %s" % (op, attrs), rtol=2e-3,
                     atol=2e-3)

    def x(self, *shape: int) -> NDArray:
        return self.rng.standard_normal(shape).astype(np.float32)

    def test_conv_channels_last_with_groups_and_asymmetric_pads(self) -> None:
        self.check("Conv", [("x", self.x(1, 4, 6, 5), False), ("w", self.x(6, 2, 3, 2), True),
                            ("b", self.x(6), True)], group=2, pads=[1, 0, 0, 1],
                   strides=[2, 1])
        self.check("Conv", [("x", self.x(2, 3, 9), False), ("w", self.x(4, 3, 3), True)],
                   dilations=[2], pads=[2, 1])

    def test_conv_transpose_and_pools(self) -> None:
        self.check("ConvTranspose", [("x", self.x(1, 2, 4, 3), False),
                                     ("w", self.x(2, 3, 3, 3), True)], strides=[2, 1],
                   pads=[0, 1, 1, 0])
        for include in (0, 1):
            self.check("AveragePool", [("x", self.x(1, 2, 6, 7), False)], kernel_shape=[3, 2],
                       strides=[2, 1], pads=[0, 1, 2, 0], count_include_pad=include)
        self.check("MaxPool", [("x", self.x(1, 2, 6, 7), False)], kernel_shape=[3, 3],
                   pads=[1, 1, 1, 1])

    def test_pad_topk_slice_gather_div(self) -> None:
        x = self.x(3, 4, 5)
        for mode in ("edge", "wrap", "reflect"):
            self.check("Pad", [("x", x, False), ("p", np.array([1, 0, 2, 0, 3, 1], np.int64),
                                                 True)], mode=mode)
        self.check("TopK", [("x", np.array([[1, 3, 3, 2, 3, 1]], np.float32), False),
                            ("k", np.array([4], np.int64), True)], 2, axis=1)
        self.check("Slice", [("x", x, False), ("s", np.array([-1, 4], np.int64), True),
                             ("e", np.array([-100, 0], np.int64), True),
                             ("a", np.array([0, 2], np.int64), True),
                             ("t", np.array([-2, -1], np.int64), True)])
        self.check("Gather", [("x", x, False), ("i", np.array([[-1, 0], [2, -3]], np.int64),
                                                True)], axis=1)
        self.check("Div", [("a", np.array([-7, 7, -1, 5], np.int32), False),
                           ("b", np.array([2, -2, 3, 3], np.int32), False)])

    def test_float16_instance_norm_over_one_element(self) -> None:
        self.check("InstanceNormalization", [("x", self.x(2, 3, 1, 1).astype(np.float16), False),
                                             ("s", self.x(3).astype(np.float16), True),
                                             ("b", self.x(3).astype(np.float16), True)])


class ThroughConcord(unittest.TestCase):
    def test_xla_and_litert_agree_with_ref(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.onnx")
            write_conv_model(path)
            for env, how in (("tf@cpu,emit=1,opt=3", "XLA"),
                             ("tf@cpu,emit=1,lite=1", "LiteRT 2.3.0 interpreter (XNNPACK on"),
                             ("tf@cpu,emit=1,lite=1,xnnpack=0", "XNNPACK off"),
                             ("tf@cpu,emit=1,lite=1,litert=0", "tf.lite.Interpreter")):
                text = run_info_agreeing_with_ref(self, CONCORD, path, env)
                self.assertIn("emitted as TensorFlow", text)
                self.assertIn(how, text)
            r = subprocess.run([CONCORD, "run", path, "--env", "tf@cpu"], capture_output=True,
                               text=True, timeout=600)
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("emit=1", r.stdout + r.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("concord")
    args, rest = parser.parse_known_args()
    CONCORD = os.path.abspath(args.concord)
    unittest.main(argv=[sys.argv[0]] + rest)
