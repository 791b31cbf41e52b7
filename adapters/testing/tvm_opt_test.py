"""Tests of tvm@cpu's opt levels and tune=N through the real `concord` binary.

    python adapters/testing/tvm_opt_test.py CONCORD_BIN

- opt=0 and opt=3 run different pass lists (the MODEL reply `concord run --json` shows as
  prepare_info), compile different code (fused kernels, LLVM opt-level 0 only at opt=0), and
  both agree with the reference interpreter (`ref`, the independent truth) on a small
  Conv+BatchNorm+Relu model.
- tune=N with a tiny N writes a MetaSchedule database that opt=3 applies; a second run finds
  every kernel there and tunes nothing.
- Bad tune values, and tune without opt=3 on the CPU, are usage errors (exit 2).
- `concord envs --json` shows the ladder (opt_mapping) and the tune options.

Every run uses its own compiled-model cache and tuning database (cache=, tune_db=), so no
earlier state is reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

CONCORD = ""


def concord(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CONCORD, *args], capture_output=True, text=True, timeout=timeout)


def conv_model(path: str, batch_norm: bool, size: int, channels: int) -> None:
    """Conv 3x3 (3 -> `channels`, pad 1) [+ BatchNormalization] + Relu on 1x3xSIZExSIZE."""
    rng = np.random.default_rng(7)
    inits = [numpy_helper.from_array(rng.standard_normal((channels, 3, 3, 3)).astype(np.float32),
                                     "w"),
             numpy_helper.from_array(rng.standard_normal(channels).astype(np.float32), "b")]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1])]
    last = "c"
    if batch_norm:
        for name, value in (("scale", rng.uniform(0.5, 1.5, channels)),
                            ("shift", rng.standard_normal(channels)),
                            ("mean", rng.standard_normal(channels)),
                            ("var", rng.uniform(0.5, 2.0, channels))):
            inits.append(numpy_helper.from_array(value.astype(np.float32), name))
        nodes.append(helper.make_node("BatchNormalization", ["c", "scale", "shift", "mean",
                                                             "var"], ["n"]))
        last = "n"
    nodes.append(helper.make_node("Relu", [last], ["y"]))
    graph = helper.make_graph(
        nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, size, size])],
        inits)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)


def load_pb(path: str) -> Any:
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


class TvmOpt(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.mkdtemp(prefix="concord-tvmopt-")
        self.cache = os.path.join(self.dir, "cache")
        self.db = os.path.join(self.dir, "db")

    def run_env(self, model: str, env: str, out: str) -> dict[str, Any]:
        """`concord run --json --out` on seeded inputs; the run record and output 0."""
        p = concord("run", model, "--env", env, "--seed", "3", "--json", "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        rec: dict[str, Any] = json.loads(p.stdout)
        rec["y"] = load_pb(os.path.join(out, "output_0.pb"))
        return rec

    def test_opt0_and_opt3_build_differently_and_agree_with_ref(self) -> None:
        model = os.path.join(self.dir, "conv_bn.onnx")
        conv_model(model, batch_norm=True, size=16, channels=8)
        ref = self.run_env(model, "ref", os.path.join(self.dir, "ref"))
        runs = {opt: self.run_env(model, "tvm@cpu,opt=%d,cache=%s,tune_db=%s"
                                  % (opt, self.cache, self.db), os.path.join(self.dir, str(opt)))
                for opt in (0, 3)}
        info0, info3 = runs[0]["prepare_info"], runs[3]["prepare_info"]
        # Different pass lists: fusion, BN folding and the tuning databases only at opt=3.
        self.assertNotIn("FuseOps", info0["passes"])
        for name in ("FuseOps", "FuseTIR", "FoldBatchnormToConv2D", "MetaScheduleApplyDatabase"):
            self.assertIn(name, info3["passes"])
        self.assertTrue(set(info0["passes"]) < set(info3["passes"]))
        # Different code: Conv, BatchNorm and Relu fuse into fewer kernels; LLVM -O0 only at 0.
        self.assertLess(info3["kernels"], info0["kernels"])
        self.assertIn('"opt-level":0', info0["target"])
        self.assertNotIn("opt-level", info3["target"])
        self.assertIn("mcpu", info3["target"])
        self.assertEqual(info3["schedules"]["from_database"], 0)  # a model no database knows
        scale = float(np.abs(ref["y"]).max())
        for opt in (0, 3):
            np.testing.assert_allclose(runs[opt]["y"], ref["y"], rtol=1e-4, atol=1e-5 * scale,
                                       err_msg="opt=%d vs ref" % opt)

    def test_tune_writes_a_database_the_second_run_reuses(self) -> None:
        model = os.path.join(self.dir, "conv.onnx")
        conv_model(model, batch_norm=False, size=8, channels=4)
        env = "tvm@cpu,opt=3,tune=2,threads=1,cache=%s,tune_db=%s" % (self.cache, self.db)
        ref = self.run_env(model, "ref", os.path.join(self.dir, "ref"))
        first = self.run_env(model, env, os.path.join(self.dir, "first"))
        tune = first["prepare_info"]["tune"]
        self.assertEqual(tune["database"], self.db)
        self.assertEqual(tune["trials_per_task"], 2)
        self.assertGreaterEqual(tune["tasks"], 1)
        self.assertEqual(tune["tuned"], tune["tasks"])
        self.assertGreaterEqual(tune["trials"], 1)
        records = os.path.join(self.db, "database_tuning_record.json")
        with open(records) as f:
            count = len(f.read().splitlines())
        self.assertEqual(count, tune["trials"])
        self.assertGreaterEqual(first["prepare_info"]["schedules"]["from_database"], 1)
        self.assertEqual(first["effective_env"], "tvm@cpu,opt=3,target=llvm,tune=2,threads=1")

        second = self.run_env(model, env, os.path.join(self.dir, "second"))
        again = second["prepare_info"]["tune"]
        self.assertEqual(again["tuned"], 0)
        self.assertEqual(again["trials"], 0)
        self.assertEqual(again["cached"], tune["tasks"])
        with open(records) as f:
            self.assertEqual(len(f.read().splitlines()), count)
        self.assertGreaterEqual(second["prepare_info"]["schedules"]["from_database"], 1)
        scale = float(np.abs(ref["y"]).max())
        for rec in (first, second):
            np.testing.assert_allclose(rec["y"], ref["y"], rtol=1e-4, atol=1e-5 * scale)

    def test_bad_tune_is_a_usage_error(self) -> None:
        model = os.path.join(self.dir, "conv.onnx")
        conv_model(model, batch_norm=False, size=8, channels=4)
        expected = "option tune of backend tvm must be an integer in 0..100000 (got '%s')"
        for value in ("-1", "many"):
            with self.subTest(tune=value):
                p = concord("run", model, "--env", "tvm@cpu,opt=3,tune=" + value)
                self.assertEqual(p.returncode, 2, p.stderr)
                self.assertIn(expected % value, p.stderr)
        p = concord("run", model, "--env", "tvm@cpu,opt=2,tune=4,cache=" + self.cache)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("tune=4 needs tvm@cpu with opt=3", p.stderr)
        self.assertFalse(os.path.exists(self.db))

    def test_envs_shows_the_ladder(self) -> None:
        p = concord("envs", "--json")
        self.assertEqual(p.returncode, 0, p.stderr)
        envs = json.loads(p.stdout)
        tvm = next(e for e in (envs if isinstance(envs, list) else envs["envs"])
                   if e["name"] == "tvm")
        for text in ("opt=0", "opt=1", "opt=2", "opt=3", "FuseOps", "MetaSchedule", "tune=N"):
            self.assertIn(text, tvm["opt_mapping"])
        options = {o["name"]: o for o in tvm["options"]}
        self.assertEqual(options["tune"]["allowed"], "0..100000")
        self.assertIn("tune_db", options)


def main() -> int:
    global CONCORD
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("concord")
    args, rest = ap.parse_known_args()
    CONCORD = os.path.abspath(args.concord)
    unittest.main(argv=[sys.argv[0], *rest], verbosity=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
