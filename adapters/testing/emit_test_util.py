"""Helpers the emitter tests share (torch_emit_test.py, tf_emit_test.py): one-node models,
generated cases with ref's outputs, and output agreement."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import unittest
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

NDArray = npt.NDArray[Any]


def generated_case(concord: str, folder: str, seed: int) -> tuple[Any, list[NDArray],
                                                                 list[NDArray]]:
    """`concord gen` model SEED with its inputs and ref's outputs."""
    subprocess.run([concord, "gen", "--seed", str(seed), "--max-nodes", "10",
                    "--out", os.path.join(folder, "model.onnx"), "--inputs-out", folder],
                   check=True, capture_output=True, timeout=120)

    def tensors(kind: str) -> list[NDArray]:
        files = glob.glob(os.path.join(folder, "test_data_set_0", kind + "_*.pb"))
        files.sort(key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
        return [numpy_helper.to_array(onnx.load_tensor(f)) for f in files]
    return onnx.load(os.path.join(folder, "model.onnx")), tensors("input"), tensors("output")


def assert_agree(case: unittest.TestCase, got: list[NDArray], want: list[NDArray],
                 what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    case.assertEqual(len(got), len(want), what)
    for i, (g, w) in enumerate(zip(got, want)):
        w = np.asarray(w)
        case.assertEqual((g.shape, g.dtype), (w.shape, w.dtype), "%s output %d" % (what, i))
        if w.dtype.kind == "f":
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg="%s output %d"
                                       % (what, i))
        else:
            np.testing.assert_array_equal(g, w, err_msg="%s output %d" % (what, i))


def one_node(op: str, inputs: list[tuple[str, NDArray, bool]], n_out: int = 1,
             **attrs: Any) -> tuple[Any, list[NDArray]]:
    """A model of one `op` node; inputs (name, value, is_initializer); returns (model, feeds)."""
    graph_inputs, inits, feeds = [], [], []
    for name, value, const in inputs:
        if const:
            inits.append(numpy_helper.from_array(value, name))
        else:
            graph_inputs.append(helper.make_tensor_value_info(
                name, helper.np_dtype_to_tensor_dtype(value.dtype), list(value.shape)))
            feeds.append(value)
    outs = ["y%d" % i for i in range(n_out)]
    node = helper.make_node(op, [i[0] for i in inputs], outs, **attrs)
    graph = helper.make_graph([node], op.lower(), graph_inputs,
                              [helper.make_tensor_value_info(o, TensorProto.UNDEFINED, None)
                               for o in outs], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    # Shape inference fills in the outputs' types and shapes (declared UNDEFINED above).
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    return model, feeds


def write_conv_model(path: str) -> None:
    """Conv (asymmetric pads) -> Relu -> GlobalAveragePool on float32 [1, 3, 8, 8]."""
    rng = np.random.default_rng(5)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 0, 1, 2]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["y"])]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 1, 1])], [w])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def run_info_agreeing_with_ref(case: unittest.TestCase, concord: str, path: str,
                               env: str) -> str:
    """Asserts `concord compare` of ref and `env` agrees on the model at `path`, then returns
    `concord run --env ENV --json`'s document as text (how the env ran it)."""
    r = subprocess.run([concord, "compare", path, "--envs", "ref;" + env],
                       capture_output=True, text=True, timeout=600)
    case.assertEqual(r.returncode, 0, r.stdout + r.stderr)
    r = subprocess.run([concord, "run", path, "--env", env, "--json"],
                       capture_output=True, text=True, timeout=600)
    case.assertEqual(r.returncode, 0, r.stdout + r.stderr)
    return json.dumps(json.loads(r.stdout))
