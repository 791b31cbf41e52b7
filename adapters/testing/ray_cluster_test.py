"""`concord matrix|fuzz --ray` on a Ray cluster of this machine, against one process.

    .venv/bin/python adapters/testing/ray_cluster_test.py CONCORD_BIN

The cluster (ray.cluster_utils.Cluster): a head with no CPU (it only coordinates) and two worker
nodes with one CPU each, one with {"opencl": 1}, the other with {"board:127.0.0.1": 1}. The
truth is the same campaign run by one `concord` process without Ray:
- a matrix (ref, ort@cpu, opencv@opencl on the tiny CNN, random inputs) gives the same cells and
  output digests (runs and outputs tables), the OpenCL session runs on the OpenCL node, and the
  same command run again runs nothing;
- a fuzz campaign (opencv@cpu and a remote env on an unreachable board) has the same findings
  with the same counts and the same op coverage, every chunk on the board's node, and the same
  command run again runs nothing;
- a matrix whose worker node is killed while it runs a session still has every cell exactly
  once, and the driver's log shows the node lost and the session's second attempt;
- a matrix whose `concord` (and so its driver) is killed after its first session was merged,
  run again, skips what the store holds and ends with the one-process cells.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from ray.cluster_utils import Cluster

CONCORD = ""
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_CNN = os.path.join(REPO, "examples", "tiny_cnn", "model.onnx")

Row = tuple[str, str, str, str, int, str, str]


def concord(*args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([CONCORD, *args], capture_output=True, text=True, timeout=timeout)


def rows(db: str) -> list[Row]:
    """Every run as (model sha256, env, machine, input digest, repeat, status, output digests)."""
    con = sqlite3.connect(db)
    try:
        got = con.execute(
            "SELECT m.sha256, e.env, e.machine, i.digest, r.repeat, r.status, "
            "(SELECT group_concat(o.idx || ':' || o.digest, ';') FROM "
            "(SELECT idx, digest FROM outputs WHERE run_id=r.id ORDER BY idx) o) "
            "FROM runs r JOIN models m ON m.id=r.model_id JOIN environments e ON e.id=r.env_id "
            "JOIN inputs i ON i.id=r.input_id"
        ).fetchall()
    finally:
        con.close()
    return sorted((a, b, c, d, int(e), f, g or "") for a, b, c, d, e, f, g in got)


def findings(db: str) -> dict[tuple[str, str, str], int]:
    con = sqlite3.connect(db)
    try:
        got = con.execute("SELECT env, symptom, signature, count FROM findings").fetchall()
        return {(a, b, c): int(n) for a, b, c, n in got}
    finally:
        con.close()


def coverage(db: str) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        return {op: int(n) for op, n in con.execute("SELECT op, models FROM op_coverage")}
    finally:
        con.close()


def conv_model(path: str) -> None:
    """Three 64-channel 3x3 convolutions at 96x96 (about 1.4 GFLOP a run): a session of 16 cells
    takes seconds on every env, long enough to kill its node while it runs."""
    rng = np.random.default_rng(0)
    nodes, inits, prev = [], [], "x"
    for i in range(3):
        w = (rng.standard_normal((64, 64, 3, 3)) * 0.05).astype(np.float32)
        inits.append(numpy_helper.from_array(w, "w%d" % i))
        nodes.append(
            helper.make_node(
                "Conv", [prev, "w%d" % i], ["c%d" % i], pads=[1, 1, 1, 1], kernel_shape=[3, 3]
            )
        )
        nodes.append(helper.make_node("Relu", ["c%d" % i], ["r%d" % i]))
        prev = "r%d" % i
    nodes.append(helper.make_node("GlobalAveragePool", [prev], ["y"]))
    graph = helper.make_graph(
        nodes,
        "convs",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64, 96, 96])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64, 1, 1])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


class RayCluster(unittest.TestCase):
    cluster: Any
    cpu_node: Any  # the node with {"board:127.0.0.1": 1}
    opencl_node: Any
    tmp: tempfile.TemporaryDirectory[str]

    @classmethod
    def setUpClass(cls) -> None:
        # One machine label for every process, so one-process and Ray stores name the same
        # machine; a lost node is noticed after 3 missed health checks 0.5 s apart.
        os.environ["CONCORD_MACHINE_LABEL"] = "test-node"
        os.environ["RAY_health_check_period_ms"] = "500"
        os.environ["RAY_health_check_failure_threshold"] = "3"
        cls.tmp = tempfile.TemporaryDirectory(prefix="concord_ray_test_")
        cls.cluster = Cluster(
            initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False}
        )
        cls.cpu_node = cls.cluster.add_node(
            num_cpus=1, resources={"board:127.0.0.1": 1, "concord_node": 1})
        cls.opencl_node = cls.cluster.add_node(num_cpus=1,
                                               resources={"opencl": 1, "concord_node": 1})
        cls.cluster.wait_for_nodes()

    @classmethod
    def tearDownClass(cls) -> None:
        cls.cluster.shutdown()
        cls.tmp.cleanup()

    def path(self, name: str) -> str:
        return os.path.join(self.tmp.name, name)

    def config(self, name: str, model: str, envs: list[str], inputs: int, repeats: int) -> str:
        cfg = {
            "name": name,
            "models": [{"path": model}],
            "envs": envs,
            "dataset": {"random": inputs, "seed": 7},
            "repeats": repeats,
        }
        path = self.path(name + ".json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        return path

    def test_0_usage_errors_exit_two_and_leave_no_store(self) -> None:
        cfg = self.config("u", TINY_CNN, ["ref"], 1, 1)
        db = self.path("u.db")
        address = self.cluster.address
        for args, says in [
            (["--shard", "0/2", "--ray", address], "drop --shard"),
            (["--retry-failed", "--ray", address], "--retry-failed cannot be combined"),
            (["--ray", "127.0.0.1:1"], "no Ray cluster answers at 127.0.0.1:1"),
        ]:
            r = concord("matrix", cfg, "--db", db, *args)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(says, r.stderr)
            self.assertFalse(os.path.exists(db))
        fuzz = ["fuzz", "--envs", "opencv@cpu", "--out", self.path("fu"), "--ray", address]
        r = concord(*fuzz, "--time", "5")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--ray needs --iterations", r.stderr)
        r = concord(*fuzz, "--iterations", "4", "--infer-support")
        self.assertEqual(r.returncode, 2, r.stderr)
        # A session that needs more CPUs than any node has (threads=2, 1-CPU nodes): refused
        # before anything is submitted.
        cfg = self.config("g", TINY_CNN, ["ref", "ort@cpu,threads=2"], 1, 1)
        r = concord("matrix", cfg, "--db", db, "--ray", address)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn('no node of the cluster has what task session 1/2', r.stderr)
        self.assertIn('"CPU": 2.0', r.stderr)
        self.assertFalse(os.path.exists(db))

    def test_1_matrix_equals_one_process(self) -> None:
        cfg = self.config("m", TINY_CNN, ["ref", "ort@cpu", "opencv@opencl"], 3, 2)
        one = concord("matrix", cfg, "--no-report", "--db", self.path("one.db"))
        self.assertEqual(one.returncode, 0, one.stderr)
        db = self.path("ray.db")
        r = concord("matrix", cfg, "--db", db, "--ray", self.cluster.address, "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = json.loads(r.stdout)
        self.assertEqual((summary["cells"], summary["ran"], summary["sessions"]), (18, 18, 3))
        self.assertEqual(summary["ray"]["merged"], 3)
        self.assertEqual(summary["ray"]["failed"], [])
        self.assertTrue(os.path.isfile(summary["report"]))
        single = rows(self.path("one.db"))
        self.assertEqual(len(single), 18)
        self.assertEqual(rows(db), single)
        # The same analysis: campaign, environments, pairs compared and cell counts.
        docs = []
        for store in (self.path("one.db"), db):
            a = self.path("analysis.json")
            rep = concord("report", store, "--out", self.path("r.html"), "--analysis-json", a)
            self.assertEqual(rep.returncode, 0, rep.stderr)
            with open(a) as f:
                docs.append(json.load(f))
        self.assertEqual(docs[0]["campaign"], docs[1]["campaign"])
        self.assertEqual([e["env"] for e in docs[0]["envs"]], [e["env"] for e in docs[1]["envs"]])
        for key in ("pairs", "cells", "disagreements"):
            self.assertEqual(docs[0]["models"][0][key], docs[1]["models"][0][key], key)
        # Each session ran where its resources are: OpenCL on the OpenCL node only.
        nodes = {n: v["tasks"] for n, v in summary["ray"]["nodes"].items()}
        self.assertEqual(sum(nodes.values()), 3)
        self.assertNotIn(self.cluster.head_node.node_id, nodes)
        placements = summary["ray"]["placements"]
        self.assertEqual(placements["session 2/3"], self.opencl_node.node_id)  # opencv@opencl

        again = concord("matrix", cfg, "--db", db, "--ray", self.cluster.address, "--json")
        self.assertEqual(again.returncode, 0, again.stderr)
        s2 = json.loads(again.stdout)
        self.assertEqual((s2["existing"], s2["ran"], s2["ray"]["skipped"]), (18, 0, 3))
        self.assertEqual(rows(db), single)

    def test_1b_large_sessions_split_into_input_chunks(self) -> None:
        # 6 cells a session, chunks of about 2 cells: 3 input chunks per session, each a task.
        cfg = self.config("c", TINY_CNN, ["ref", "ort@cpu"], 3, 2)
        one = concord("matrix", cfg, "--no-report", "--db", self.path("c_one.db"))
        self.assertEqual(one.returncode, 0, one.stderr)
        db = self.path("c_ray.db")
        r = concord("matrix", cfg, "--db", db, "--no-report", "--ray", self.cluster.address,
                    "--ray-chunk-cells", "2", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = json.loads(r.stdout)
        self.assertEqual(summary["ray"]["merged"], 6)
        self.assertIn("session 1/2 chunk 2/3", summary["ray"]["placements"])
        self.assertEqual(rows(db), rows(self.path("c_one.db")))
        again = concord("matrix", cfg, "--db", db, "--no-report", "--ray", self.cluster.address,
                        "--ray-chunk-cells", "2", "--json")
        self.assertEqual(json.loads(again.stdout)["ray"]["skipped"], 6)

    def test_2_fuzz_equals_one_process(self) -> None:
        # Every model is an error finding on the unreachable board, and op types repeat: counts
        # above 1 must add up across chunks.
        fuzz = [
            "fuzz",
            "--envs",
            "opencv@cpu;ref,host=127.0.0.1:9",
            "--iterations",
            "24",
            "--seed",
            "11",
            "--max-nodes",
            "1",
            "--no-reduce",
            "--quiet",
        ]
        one = concord(*fuzz, "--out", self.path("f1"))
        self.assertLessEqual(one.returncode, 1, one.stderr)
        r = concord(*fuzz, "--out", self.path("fr"), "--ray", self.cluster.address,
                    "--ray-chunk", "8", "--json")
        self.assertLessEqual(r.returncode, 1, r.stderr)
        summary = json.loads(r.stdout)
        self.assertEqual(summary["models"], 24)
        self.assertEqual(summary["ray"]["merged"], 3)
        # The remote env needs {"board:127.0.0.1": 1}: every chunk ran on that node.
        self.assertEqual(list(summary["ray"]["nodes"]), [self.cpu_node.node_id])
        single = findings(self.path("f1/fuzz.db"))
        self.assertGreaterEqual(sum(single.values()), 24)
        self.assertTrue(any(n > 1 for n in single.values()))
        self.assertEqual(findings(self.path("fr/fuzz.db")), single)
        self.assertEqual(coverage(self.path("fr/fuzz.db")), coverage(self.path("f1/fuzz.db")))
        for f in summary["findings"]:  # each bundle is on this machine, under its chunk
            self.assertTrue(os.path.isfile(os.path.join(f["bundle"], "model.onnx")), f["bundle"])
        # Run again: every chunk's tick series is in the store, so nothing runs and no count
        # is added twice.
        again = concord(*fuzz, "--out", self.path("fr"), "--ray", self.cluster.address,
                        "--ray-chunk", "8", "--json")
        self.assertLessEqual(again.returncode, 1, again.stderr)
        self.assertEqual(json.loads(again.stdout)["ray"]["skipped"], 3)
        self.assertEqual(findings(self.path("fr/fuzz.db")), single)

    def test_3_node_killed_mid_run(self) -> None:
        model = self.path("convs.onnx")
        conv_model(model)
        cfg = self.config("k", model, ["ref", "ort@cpu", "opencv@cpu"], 8, 2)
        one = concord("matrix", cfg, "--no-report", "--db", self.path("k1.db"))
        self.assertEqual(one.returncode, 0, one.stderr)
        db = self.path("kr.db")
        proc = subprocess.Popen(
            [CONCORD, "matrix", cfg, "--no-report", "--db", db, "--ray", self.cluster.address],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None and proc.stdout is not None
        victim = self.cpu_node.node_id[:8]
        log: list[str] = []
        killed_task = ""
        for line in proc.stderr:
            log.append(line)
            if not killed_task and "started on node " + victim in line:
                killed_task = line.split("] ", 1)[1].split(" (", 1)[0]
                self.cluster.remove_node(self.cpu_node, allow_graceful=False)
        out = proc.stdout.read()
        proc.wait(timeout=300)
        proc.stdout.close()
        proc.stderr.close()
        text = "".join(log)
        print("\n--- driver log ---\n" + text, file=sys.stderr)
        self.assertEqual(proc.returncode, 0, text + out)
        self.assertTrue(killed_task, text)
        self.assertIn("node %s" % victim, text)
        self.assertRegex(text, r"node %s \S+ lost; Ray runs its 1 unfinished task" % victim)
        self.assertIn("retry: %s" % killed_task, text)
        self.assertRegex(text, r"retry: %s .* attempt 2 started on node %s" % (
            killed_task, self.opencl_node.node_id[:8]))
        single = rows(self.path("k1.db"))
        self.assertEqual(len(single), 48)
        self.assertEqual(rows(db), single)  # every cell once, with the one-process digests

    def test_4_driver_killed_then_resumed(self) -> None:
        cfg = self.config("m", TINY_CNN, ["ref", "ort@cpu", "opencv@opencl"], 3, 2)
        single = rows(self.path("one.db"))  # test 1's one-process store
        self.assertEqual(len(single), 18)
        db = self.path("resumed.db")
        proc = subprocess.Popen(
            [CONCORD, "matrix", cfg, "--no-report", "--db", db, "--ray", self.cluster.address],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        for line in proc.stderr:
            if "tasks merged" in line:
                proc.kill()
                break
        proc.wait(timeout=60)
        proc.stderr.close()
        self.assertEqual(proc.returncode, -9)
        done = len({(r[1]) for r in rows(db)})  # sessions merged before the kill
        self.assertGreaterEqual(done, 1)
        r = concord("matrix", cfg, "--no-report", "--db", db, "--ray", self.cluster.address,
                    "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        summary = json.loads(r.stdout)
        self.assertEqual(summary["ray"]["skipped"], done)
        self.assertEqual(summary["ray"]["merged"], 3 - done)
        self.assertEqual(rows(db), single)


class WholeNodes(unittest.TestCase):
    """Timed matrix sessions ask for a whole node where the nodes advertise concord_node."""

    def plan(self, kind: str) -> Any:
        task = {"key": "session 1/1", "label": "m | ref", "args": [], "out_dir": "", "done": False,
                "resources": {"num_cpus": 1, "num_gpus": 0, "resources": {}}}
        return {"address": "local", "kind": kind, "store": "", "concord": "", "progress": False,
                "quiet": True, "tasks": [task]}

    def test_matrix_tasks_reserve_a_node_only_where_nodes_offer_one(self) -> None:
        sys.path.insert(0, os.path.join(REPO, "adapters"))
        import ray_driver
        with_units = [{"Resources": {"CPU": 4.0, "concord_node": 1.0}}]
        plan = self.plan("matrix")
        self.assertEqual(ray_driver.reserve_whole_nodes(plan, plan["tasks"], with_units), "")
        self.assertEqual(plan["tasks"][0]["resources"]["resources"], {"concord_node": 1.0})
        plan = self.plan("matrix")
        warning = ray_driver.reserve_whole_nodes(plan, plan["tasks"], [{"Resources": {"CPU": 4.0}}])
        self.assertIn("timed sessions may share a node", warning)
        self.assertEqual(plan["tasks"][0]["resources"]["resources"], {})
        plan = self.plan("fuzz")  # fuzz chunks are not timed: they pack
        self.assertEqual(ray_driver.reserve_whole_nodes(plan, plan["tasks"], with_units), "")
        self.assertEqual(plan["tasks"][0]["resources"]["resources"], {})


if __name__ == "__main__":
    CONCORD = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
