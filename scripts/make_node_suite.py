#!/usr/bin/env python3
"""Writes ONNX's node test suite from the installed `onnx` package's case generators.

  make_node_suite.py OUT_DIR [--expect-onnx VERSION]

The `onnx` wheel no longer ships the node test data, only the generators
(onnx.backend.test.case.node): each one builds a one-node model, its inputs and the expected
outputs computed by ONNX's own numpy code. This script writes every case in ONNX's backend-test
layout, the layout `concord conformance` reads:

  OUT_DIR/test_<case>/model.onnx
  OUT_DIR/test_<case>/test_data_set_<N>/input_<K>.pb, output_<K>.pb

plus OUT_DIR/SUITE.json (onnx version, case count, the command that made it). The generators draw
from numpy's global random state; it is seeded, so two runs write the same files. OUT_DIR is
replaced as a whole (written beside it, then renamed), so a half-written suite never stays.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import warnings
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, TypeProto, numpy_helper


def to_proto(value: Any, name: str, type_proto: TypeProto) -> Any:
    """One input or output value as the proto message the test layout stores for its type."""
    kind = type_proto.WhichOneof("value")
    if kind == "map_type":
        return numpy_helper.from_dict(value, name)
    if kind == "sequence_type":
        return numpy_helper.from_list(value, name)
    if kind == "optional_type":
        return numpy_helper.from_optional(value, name)
    if kind != "tensor_type":
        raise ValueError(f"{name}: unsupported value type {kind!r}")
    if isinstance(value, TensorProto):
        return value
    return numpy_helper.from_array(value, name)


def write_case(case: Any, out_dir: str) -> None:
    case_dir = os.path.join(out_dir, case.name)
    os.makedirs(case_dir)
    model = case.model
    with open(os.path.join(case_dir, "model.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    for i, (inputs, outputs) in enumerate(case.data_sets):
        set_dir = os.path.join(case_dir, f"test_data_set_{i}")
        os.makedirs(set_dir)
        for prefix, values, infos in (
            ("input", inputs, model.graph.input),
            ("output", outputs, model.graph.output),
        ):
            for k, value in enumerate(values):
                proto = to_proto(value, infos[k].name, infos[k].type)
                with open(os.path.join(set_dir, f"{prefix}_{k}.pb"), "wb") as f:
                    f.write(proto.SerializeToString())


def collect() -> list[Any]:
    np.random.seed(0)
    # The generators compute expected outputs with numpy, which warns about the overflows and
    # divisions by zero some cases exercise on purpose.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.node import collect_testcases

        cases = collect_testcases()
    return sorted((c for c in cases if c.kind == "node"), key=lambda c: c.name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir")
    parser.add_argument(
        "--expect-onnx", help="refuse to run unless the installed onnx is this version"
    )
    args = parser.parse_args()
    if args.expect_onnx and onnx.__version__ != args.expect_onnx:
        print(
            f"make_node_suite.py: the installed onnx is {onnx.__version__}, expected "
            f"{args.expect_onnx} (run scripts/setup to update .venv)",
            file=sys.stderr,
        )
        return 2
    out_dir = os.path.abspath(args.out_dir)
    tmp_dir = out_dir + ".tmp"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    os.makedirs(tmp_dir)
    cases = collect()
    names = [c.name for c in cases]
    if len(set(names)) != len(names):
        print("make_node_suite.py: duplicate case names", file=sys.stderr)
        return 1
    for case in cases:
        write_case(case, tmp_dir)
    info = {
        "onnx": onnx.__version__,
        "cases": len(cases),
        "command": "scripts/make_node_suite.py " + " ".join(sys.argv[1:]),
    }
    with open(os.path.join(tmp_dir, "SUITE.json"), "w") as f:
        json.dump(info, f, indent=2)
        f.write("\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.rename(tmp_dir, out_dir)
    print(f"{out_dir}: {len(cases)} node cases from onnx {onnx.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
