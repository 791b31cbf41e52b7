"""Tests of the ONNX -> PyTorch emitter (adapters/torch_emit.py) and of torch@cpu running ONNX
models through it, against independent truth.

    .venv-torch/bin/python adapters/testing/torch_emit_test.py CONCORD_BIN

- Generated models (`concord gen`, whose test_data_set_0 holds the reference interpreter's
  outputs): the emitted module, run eagerly, agrees with ref on every model it emits (exact for
  integer and bool outputs), and it emits at least 85 % of them.
- Hand-built one-node models of the semantics PyTorch spells differently from ONNX (TopK ties,
  Pad reflect/edge/wrap on every axis, asymmetric ConvTranspose and AveragePool pads with
  count_include_pad=0, integer ReduceMean, Slice with a negative step, Gather with negative
  indices, InstanceNormalization over one element, uneven Split, Resize): each agrees with
  onnx.reference.
- What it cannot write exactly is refused, naming the node (Resize half_pixel + nearest floor).
- `concord run --env torch@cpu,opt=2` (Inductor) and `opt=3,export=1` on an ONNX model agree
  with `ref` (`concord compare`), and the session info says how the model ran.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import unittest
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from onnx.reference import ReferenceEvaluator

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch_emit  # noqa: E402
from testing.emit_test_util import (assert_agree, generated_case, one_node,  # noqa: E402
                                    run_info_agreeing_with_ref, write_conv_model)

NDArray = npt.NDArray[Any]

CONCORD = ""


def run_emitted(model: Any, inputs: list[NDArray]) -> list[NDArray]:
    module = torch_emit.instantiate(torch_emit.emit(model))
    with torch.inference_mode():
        out = module(*[torch.from_numpy(np.require(x, requirements=["C", "W"])) for x in inputs])
    return [t.numpy() for t in out]


class GeneratedModels(unittest.TestCase):
    def test_emitted_modules_agree_with_ref(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            emitted, refused = 0, []
            seeds = range(1, 61)
            for seed in seeds:
                model, inputs, outputs = generated_case(CONCORD, os.path.join(tmp, str(seed)),
                                                        seed)
                try:
                    got = run_emitted(model, inputs)
                except torch_emit.Unsupported as e:
                    refused.append("seed %d: %s" % (seed, e))
                    continue
                except NotImplementedError as e:  # eager PyTorch lacks the kernel (float16)
                    refused.append("seed %d: %s" % (seed, e))
                    continue
                emitted += 1
                assert_agree(self, got, outputs, "seed %d" % seed, rtol=5e-2,
                             atol=5e-3)
            print("emitted %d of %d generated models; refused: %s"
                  % (emitted, len(seeds), refused), file=sys.stderr)
            self.assertGreaterEqual(emitted, 0.85 * len(seeds))


class Semantics(unittest.TestCase):
    rng = np.random.default_rng(3)

    def check(self, op: str, inputs: list[tuple[str, NDArray, bool]], n_out: int = 1,
              **attrs: Any) -> None:
        model, feeds = one_node(op, inputs, n_out, **attrs)
        want: Any = ReferenceEvaluator(model).run(None, {m.name: v for m, v in
                                                    zip(model.graph.input, feeds)})
        assert_agree(self, run_emitted(model, feeds), want, "%s %s" % (op, attrs))

    def x(self, *shape: int) -> NDArray:
        return self.rng.standard_normal(shape).astype(np.float32)

    def test_topk_orders_ties_by_index(self) -> None:
        x = np.array([[1, 3, 3, 2, 3, 1]], dtype=np.float32)
        for largest in (0, 1):
            self.check("TopK", [("x", x, False), ("k", np.array([4], np.int64), True)], 2,
                       axis=1, largest=largest)

    def test_pad_modes_on_every_axis(self) -> None:
        x = self.x(2, 3, 4, 5)
        pads = np.array([1, 0, 2, 1, 0, 2, 1, 3], np.int64)
        for mode in ("reflect", "edge", "wrap", "constant"):
            self.check("Pad", [("x", x, False), ("p", pads, True)], mode=mode)
        ints = np.arange(12, dtype=np.int32).reshape(3, 4)
        self.check("Pad", [("x", ints, False), ("p", np.array([1, 2, 2, 1], np.int64), True)],
                   mode="reflect")

    def test_conv_transpose_asymmetric_pads(self) -> None:
        self.check("ConvTranspose", [("x", self.x(1, 2, 5, 4), False),
                                     ("w", self.x(2, 3, 3, 3), True)],
                   strides=[2, 1], pads=[0, 1, 2, 0], output_padding=[1, 0])

    def test_average_pool_asymmetric_pads_without_them_counted(self) -> None:
        for include in (0, 1):
            self.check("AveragePool", [("x", self.x(1, 2, 6, 7), False)], kernel_shape=[3, 2],
                       strides=[2, 1], pads=[0, 1, 2, 0], count_include_pad=include)

    def test_3d_pools_with_a_kernel_larger_than_the_unpadded_input(self) -> None:
        # torch's 3-D pools refuse an input smaller than the kernel before padding; ONNX pads
        # first (the 2026-12-07b Inductor campaign's #5/#6).
        x = self.x(1, 2, 6, 5, 3)
        for include in (0, 1):
            self.check("AveragePool", [("x", x, False)], kernel_shape=[2, 1, 4],
                       pads=[0, 0, 1, 0, 0, 1], count_include_pad=include)
        # onnx.reference's MaxPool mis-sizes this case (it reports a VALID window): numpy says.
        model, feeds = one_node("MaxPool", [("x", x, False)], 1, kernel_shape=[2, 1, 4],
                                pads=[0, 0, 1, 0, 0, 1])
        padded = np.pad(x, [(0, 0), (0, 0), (0, 0), (0, 0), (1, 1)], constant_values=-np.inf)
        want = np.lib.stride_tricks.sliding_window_view(padded, (1, 1, 2, 1, 4))
        assert_agree(self, run_emitted(model, feeds), [want.max(axis=(-5, -4, -3, -2, -1))],
                     "MaxPool")

    def test_integer_reduce_mean_truncates(self) -> None:
        x = np.array([[-7, 2, 4], [5, 5, 6]], np.int32)
        self.check("ReduceMean", [("x", x, False)], axes=[1], keepdims=0)

    def test_slice_negative_step_and_gather_negative_indices(self) -> None:
        x = self.x(6, 5)
        self.check("Slice", [("x", x, False), ("s", np.array([-1, 4], np.int64), True),
                             ("e", np.array([-100, 0], np.int64), True),
                             ("a", np.array([0, 1], np.int64), True),
                             ("t", np.array([-2, -1], np.int64), True)])
        self.check("Gather", [("x", x, False), ("i", np.array([[-1, 0], [2, -6]], np.int64),
                                                True)], axis=0)

    def test_instance_norm_of_one_element_and_uneven_split(self) -> None:
        self.check("InstanceNormalization", [("x", self.x(2, 3, 1), False),
                                             ("s", self.x(3), True), ("b", self.x(3), True)])
        self.check("Split", [("x", self.x(7, 2), False), ("s", np.array([3, 1, 3], np.int64),
                                                          True)], 3, axis=0)

    def test_resize_modes_torch_has(self) -> None:
        x = self.x(1, 2, 3, 5)
        scales = ("s", np.array([1, 1, 2.0, 1.5], np.float32), True)
        roi = ("r", np.zeros(0, np.float32), True)
        self.check("Resize", [("x", x, False), roi, scales], mode="nearest",
                   coordinate_transformation_mode="asymmetric", nearest_mode="floor")
        self.check("Resize", [("x", x, False), roi, scales], mode="linear",
                   coordinate_transformation_mode="half_pixel")
        sizes = ("z", np.array([1, 2, 2, 9], np.int64), True)
        self.check("Resize", [("x", x, False), roi, ("s", np.zeros(0, np.float32), True), sizes],
                   mode="linear", coordinate_transformation_mode="align_corners")

    def test_refuses_what_torch_cannot_say(self) -> None:
        model, _ = one_node("Resize", [("x", self.x(1, 1, 2, 2), False),
                                       ("r", np.zeros(0, np.float32), True),
                                       ("s", np.array([1, 1, 2, 2], np.float32), True)],
                            mode="nearest", coordinate_transformation_mode="half_pixel",
                            nearest_mode="floor")
        with self.assertRaisesRegex(torch_emit.Unsupported, "Resize 'Resize'.*half_pixel"):
            torch_emit.emit(model)


class ThroughConcord(unittest.TestCase):
    def test_inductor_and_export_agree_with_ref(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.onnx")
            write_conv_model(path)
            for env in ("torch@cpu,opt=2,emit=1", "torch@cpu,opt=3,export=1,emit=1"):
                text = run_info_agreeing_with_ref(self, CONCORD, path, env)
                self.assertIn("emitted as PyTorch", text)
                self.assertIn("Inductor", text)
                if "export=1" in env:
                    self.assertIn("torch.export", text)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("concord")
    args, rest = parser.parse_known_args()
    CONCORD = os.path.abspath(args.concord)
    unittest.main(argv=[sys.argv[0]] + rest)
