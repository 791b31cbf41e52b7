"""Runs the tasks of a Concord campaign on a Ray cluster (`concord matrix|fuzz --ray ADDRESS`).

    .venv/bin/python adapters/ray_driver.py PLAN.json RESULT.json

`concord` plans the tasks (src/campaign/ray_plan.h) and runs this script. Each task is a
`concord` command line (a matrix session or a fuzz seed chunk, with --shard I/N) that runs on a
node holding the resources its envs need (CPUs, a GPU, {"opencl": 1}, {"board:NAME": 1}), into a
store of its own, and returns that store's bytes (for fuzz, with its repro bundles). The driver
is the campaign store's only writer: it adds each returned store with `concord merge --into`,
which keeps a cell once, so no task, retried or not, adds a row twice.

Node death: Ray runs a task again elsewhere when its node dies (max_retries, for system failures
only: retry_exceptions stays off). A command that fails is a failed task, not retried; a cell
that crashes is a result its store records. Driver death: the same command run again skips the
tasks the store already holds (the plan marks them done).

Progress goes to stderr: one line per event when stderr is not a terminal, else a bar with the
tasks per node. RESULT.json gets the tasks' own --json summaries, failed and retried tasks,
tasks per node and the node each merged task ran on; "error" when the cluster cannot run the
plan.
Exit: 0 every task merged; 1 some task failed (listed); 2 the cluster cannot run the plan
(unreachable, or no node has a task's resources).
"""

from __future__ import annotations

import ctypes
import io
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
from typing import Any, TypedDict

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

MAX_RETRIES = 3  # Ray's default for tasks, written out: a task survives three node deaths
NODE_POLL_S = 1.0


class Resources(TypedDict):
    num_cpus: float
    num_gpus: float
    resources: dict[str, float]


class Task(TypedDict):
    key: str
    label: str
    args: list[str]
    out_dir: str
    resources: Resources
    done: bool


class Plan(TypedDict):
    address: str
    kind: str
    store: str
    concord: str
    progress: bool
    quiet: bool
    tasks: list[Task]


class TaskResult(TypedDict):
    key: str
    node: str
    host: str
    rc: int
    seconds: float
    stdout: str
    stderr: str
    store: bytes | None
    out_dir: bytes | None


class UsageError(Exception):
    """The cluster cannot run the plan (exit 2)."""


@ray.remote(num_cpus=0)
class Tracker:
    """Where each task attempt started: (key, node id, host) in start order. Lives on the
    driver's node, so it outlives any worker node."""

    def __init__(self) -> None:
        self.starts: list[tuple[str, str, str]] = []

    def started(self, key: str, node: str, host: str) -> None:
        self.starts.append((key, node, host))

    def since(self, n: int) -> list[tuple[str, str, str]]:
        return self.starts[n:]


def _die_with_parent() -> None:
    # The command dies with the Ray worker that runs it (a killed node leaves nothing behind).
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _pack(folder: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(folder, arcname=".")
    return buf.getvalue()


def run_task(concord: str, args: list[str], out_dir: str, key: str, tracker: Any) -> TaskResult:
    """One attempt of a task on the node Ray picked: the command into a fresh store."""
    node = ray.get_runtime_context().get_node_id()
    host = socket.gethostname()
    # Not waited for: a task blocked in ray.get lends its CPU to another task meanwhile.
    tracker.started.remote(key, node, host)
    work = tempfile.mkdtemp(prefix="concord-task-")
    try:
        db = os.path.join(work, "shard.db")
        if out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)  # a lost attempt's leftovers
        t0 = time.monotonic()
        proc = subprocess.run(
            [concord, *args, "--db", db],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            preexec_fn=_die_with_parent,
            check=False,
        )
        seconds = time.monotonic() - t0
        store: bytes | None = None
        if os.path.isfile(db) and not os.path.exists(db + "-wal"):
            with open(db, "rb") as f:
                store = f.read()
        packed: bytes | None = None
        if out_dir and os.path.isdir(out_dir):
            packed = _pack(out_dir)
            shutil.rmtree(out_dir, ignore_errors=True)  # the driver writes it back
        return TaskResult(
            key=key,
            node=node,
            host=host,
            rc=proc.returncode,
            seconds=seconds,
            stdout=proc.stdout.decode(errors="replace"),
            stderr=proc.stderr.decode(errors="replace")[-2000:],
            store=store,
            out_dir=packed,
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _demand(r: Resources) -> dict[str, float]:
    d = {"CPU": r["num_cpus"], "GPU": r["num_gpus"]}
    d.update(r["resources"])
    return {k: v for k, v in d.items() if v > 0}


def _feasible(demand: dict[str, float], nodes: list[dict[str, Any]]) -> bool:
    for n in nodes:
        have: dict[str, float] = n.get("Resources", {})
        if all(have.get(k, 0.0) >= v for k, v in demand.items()):
            return True
    return False


def _nodes() -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
    return got


def _alive_nodes() -> list[dict[str, Any]]:
    return [n for n in _nodes() if n.get("Alive")]


def _check_reachable(address: str) -> None:
    """HOST:PORT must accept a connection: ray.init retries an unreachable head for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # ray://, auto: Ray reports what is wrong
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as e:
        raise UsageError(
            "no Ray cluster answers at %s (%s); start its head with `ray start --head "
            "--port=%s` there, or use --ray local" % (address, e, port)
        ) from e


# Timed matrix sessions take a whole node: each asks for one unit of this resource, which every
# node of a Concord cluster advertises once (ray start ... --resources '{"concord_node": 1}').
WHOLE_NODE = "concord_node"


def reserve_whole_nodes(plan: Plan, pending: list[Task], nodes: list[dict[str, Any]]) -> str:
    """Makes every timed (matrix) task ask for a whole node where the cluster's nodes advertise
    WHOLE_NODE; returns a warning when none does (then sessions may share a node and disturb
    each other's timings), else ""."""
    if plan["kind"] != "matrix":
        return ""
    if not any(n.get("Resources", {}).get(WHOLE_NODE, 0) >= 1 for n in nodes):
        return ("no node advertises {\"%s\": 1}: timed sessions may share a node and disturb "
                "each other's latencies (start each node with --resources "
                "'{\"%s\": 1}', docs/cluster.md)" % (WHOLE_NODE, WHOLE_NODE))
    for t in pending:
        t["resources"]["resources"][WHOLE_NODE] = 1.0
    return ""


def connect(plan: Plan, pending: list[Task]) -> str:
    """Connects (or starts a local cluster) and checks every task can be placed; returns a
    warning for the log ("" when none)."""
    address = plan["address"]
    try:
        if address == "local":
            # A throwaway cluster on this machine, which runs every env of the campaign: one
            # unit of each custom resource (devices, boards) the tasks ask for, and one whole
            # node for timed sessions.
            custom: dict[str, float] = {WHOLE_NODE: 1.0}
            for t in pending:
                for k in t["resources"]["resources"]:
                    custom[k] = 1.0
            ray.init(
                resources=custom,
                include_dashboard=False,
                log_to_driver=False,
                logging_level=logging.WARNING,
            )
        else:
            _check_reachable(address)
            # A cluster with token authentication needs RAY_AUTH_MODE=token here, as on its
            # worker nodes (docs/cluster.md).
            ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
    except UsageError:
        raise
    except Exception as e:  # ray raises ConnectionError, RuntimeError, ValueError...
        raise UsageError("cannot connect to the Ray cluster at %s: %s" % (address, e)) from e
    nodes = _alive_nodes()
    warning = reserve_whole_nodes(plan, pending, nodes)
    for t in pending:
        demand = _demand(t["resources"])
        if not _feasible(demand, nodes):
            raise UsageError(
                "no node of the cluster has what task %s (%s) needs: %s; start a node with it "
                "(ray start --address HEAD:PORT --num-cpus N --num-gpus N --resources '{...}', "
                "docs/cluster.md)" % (t["key"], t["label"], json.dumps(demand))
            )
    return warning


class Driver:
    """Submits the pending tasks, follows their attempts and nodes, merges what they return."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tty = sys.stderr.isatty()
        self.tasks = {t["key"]: t for t in plan["tasks"]}
        self.pending = [t for t in plan["tasks"] if not t["done"]]
        self.skipped = len(plan["tasks"]) - len(self.pending)
        self.attempts: dict[str, list[str]] = {}  # key -> nodes of its attempts, in order
        self.hosts: dict[str, str] = {}
        self.done_on: dict[str, int] = {}  # node -> tasks merged
        self.finished: set[str] = set()
        self.summaries: list[dict[str, Any]] = []
        self.failed: list[dict[str, str]] = []
        self.retried: list[str] = []
        self.alive: set[str] = set()
        self.lost: set[str] = set()
        self.starts_seen = 0
        self.t0 = time.monotonic()
        self.work = ""  # run(): where returned stores are written before their merge

    # --- output -------------------------------------------------------------------------
    def event(self, line: str) -> None:
        if self.plan["quiet"]:
            return
        if self.tty and self.plan["progress"]:
            sys.stderr.write("\r\033[K")
        sys.stderr.write("[%.0fs] %s\n" % (time.monotonic() - self.t0, line))
        self.bar()

    def lines(self) -> bool:
        """Progress as one line per started and merged task (stderr is not a terminal)."""
        return self.plan["progress"] and not self.tty

    def bar(self) -> None:
        if not (self.tty and self.plan["progress"]) or self.plan["quiet"]:
            return
        total = len(self.pending)
        n = len(self.finished)
        width = 24
        filled = int(width * n / total) if total else width
        per_node = []
        for node in sorted(set(self.done_on) | set(self.running_on())):
            per_node.append(
                "%s %d done %d running"
                % (node[:8], self.done_on.get(node, 0), self.running_on().get(node, 0))
            )
        sys.stderr.write(
            "\r\033[K[%s] %d/%d tasks in %.0fs%s | %s"
            % (
                "#" * filled + "." * (width - filled),
                n,
                total,
                time.monotonic() - self.t0,
                " (%d failed)" % len(self.failed) if self.failed else "",
                "; ".join(per_node),
            )
        )
        sys.stderr.flush()

    def running_on(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for key, nodes in self.attempts.items():
            if key not in self.finished and nodes and nodes[-1] not in self.lost:
                out[nodes[-1]] = out.get(nodes[-1], 0) + 1
        return out

    def name(self, node: str) -> str:
        return "%s (%s)" % (node[:8], self.hosts.get(node, "?"))

    def describe(self, key: str) -> str:
        return "%s (%s)" % (key, self.tasks[key]["label"])

    # --- following attempts and nodes -------------------------------------------------------
    def poll_starts(self, tracker: Any) -> None:
        starts: list[tuple[str, str, str]] = ray.get(tracker.since.remote(self.starts_seen))
        self.starts_seen += len(starts)
        for key, node, host in starts:
            self.hosts[node] = host
            before = self.attempts.setdefault(key, [])
            before.append(node)
            if len(before) == 1:
                if self.lines():
                    self.event("%s started on node %s" % (self.describe(key), self.name(node)))
            else:
                if key not in self.retried:
                    self.retried.append(key)
                self.event(
                    "retry: %s attempt %d started on node %s (attempt %d ran on node %s, lost)"
                    % (
                        self.describe(key),
                        len(before),
                        self.name(node),
                        len(before) - 1,
                        self.name(before[-2]),
                    )
                )

    def poll_nodes(self) -> None:
        alive = {n["NodeID"] for n in _alive_nodes()}
        for node in sorted(self.alive - alive):
            self.lost.add(node)
            running = [k for k, n in self.attempts.items() if n and n[-1] == node]
            running = [k for k in running if k not in self.finished]
            self.event(
                "node %s lost; Ray runs its %d unfinished task(s) again on other nodes: %s"
                % (self.name(node), len(running), ", ".join(running) or "none")
            )
        self.alive = alive

    # --- results -----------------------------------------------------------------------------
    def merge(self, task: Task, res: TaskResult) -> None:
        if res["out_dir"] is not None and task["out_dir"]:
            shutil.rmtree(task["out_dir"], ignore_errors=True)
            os.makedirs(task["out_dir"], exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(res["out_dir"]), mode="r:gz") as tar:
                tar.extractall(task["out_dir"], filter="data")
        assert res["store"] is not None
        shard = os.path.join(self.work, "shard.db")
        with open(shard, "wb") as f:
            f.write(res["store"])
        proc = subprocess.run(
            [self.plan["concord"], "merge", shard, "--into", self.plan["store"], "--json"],
            capture_output=True,
            check=False,
        )
        os.remove(shard)
        if proc.returncode != 0:
            raise RuntimeError("concord merge failed: " + proc.stderr.decode(errors="replace"))

    def finish(self, key: str, res: TaskResult | None, error: str) -> None:
        task = self.tasks[key]
        self.finished.add(key)
        if res is not None and error == "":
            self.hosts[res["node"]] = res["host"]
            if res["rc"] not in (0, 1) or res["store"] is None:
                error = "concord exited with status %d on node %s: %s" % (
                    res["rc"],
                    self.name(res["node"]),
                    res["stderr"].strip()[-800:],
                )
            else:
                try:
                    self.merge(task, res)
                except (OSError, RuntimeError, tarfile.TarError) as e:
                    error = str(e)
        if error:
            self.failed.append({"key": key, "label": task["label"], "error": error})
            self.event("FAILED %s: %s" % (self.describe(key), error))
            return
        assert res is not None
        self.done_on[res["node"]] = self.done_on.get(res["node"], 0) + 1
        try:
            summary: dict[str, Any] = json.loads(res["stdout"])
        except json.JSONDecodeError:
            summary = {}
        summary["task"] = key
        summary["node"] = res["node"]
        self.summaries.append(summary)
        if self.lines():
            self.event(
                "%s done on node %s in %.1fs; %d/%d tasks merged"
                % (
                    self.describe(key),
                    self.name(res["node"]),
                    res["seconds"],
                    len(self.finished) - len(self.failed),
                    len(self.pending),
                )
            )
        else:
            self.bar()

    def run(self) -> None:
        self.work = tempfile.mkdtemp(prefix="concord-driver-")
        try:
            self.run_tasks()
        finally:
            shutil.rmtree(self.work, ignore_errors=True)

    def run_tasks(self) -> None:
        driver_node = ray.get_runtime_context().get_node_id()
        tracker = Tracker.options(  # type: ignore[attr-defined]
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=driver_node, soft=False)
        ).remote()
        self.alive = {n["NodeID"] for n in _alive_nodes()}
        for n in _nodes():
            self.hosts[n["NodeID"]] = n.get("NodeManagerHostname", "?")
        remote = ray.remote(run_task)
        refs: dict[Any, str] = {}
        for t in self.pending:
            r = t["resources"]
            ref = remote.options(
                num_cpus=r["num_cpus"],
                num_gpus=r["num_gpus"],
                resources=r["resources"],
                max_retries=MAX_RETRIES,
                retry_exceptions=False,
                name=t["key"],
            ).remote(self.plan["concord"], t["args"], t["out_dir"], t["key"], tracker)
            refs[ref] = t["key"]
        if self.skipped and not self.plan["quiet"]:
            self.event("%d task(s) already in the store, skipped" % self.skipped)
        last_node_poll = 0.0
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=0.25)
            self.poll_starts(tracker)
            if time.monotonic() - last_node_poll > NODE_POLL_S:
                self.poll_nodes()
                last_node_poll = time.monotonic()
            for ref in ready:
                key = refs.pop(ref)
                try:
                    res: TaskResult = ray.get(ref)
                    self.finish(key, res, "")
                except ray.exceptions.RayError as e:
                    self.finish(key, None, "%s: %s" % (type(e).__name__, str(e).splitlines()[0]))
            self.bar()
        self.poll_starts(tracker)
        if self.tty and self.plan["progress"] and not self.plan["quiet"]:
            sys.stderr.write("\r\033[K")

    def result(self) -> dict[str, Any]:
        nodes: dict[str, dict[str, Any]] = {}
        for node, n in self.done_on.items():
            nodes[node] = {"host": self.hosts.get(node, "?"), "tasks": n}
        return {
            "address": self.plan["address"],
            "tasks": len(self.plan["tasks"]),
            "skipped": self.skipped,
            "merged": len(self.pending) - len(self.failed),
            "failed": self.failed,
            "retried": self.retried,
            "nodes": nodes,
            "placements": {s["task"]: s["node"] for s in self.summaries},
            "seconds": time.monotonic() - self.t0,
            "summaries": self.summaries,
        }


def _terminate(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: ray_driver.py PLAN.json RESULT.json", file=sys.stderr)
        return 2
    with open(argv[1]) as f:
        plan: Plan = json.load(f)
    result: dict[str, Any]
    code = 0
    pending = [t for t in plan["tasks"] if not t["done"]]
    try:
        warning = ""
        if pending:
            warning = connect(plan, pending)
            if warning and not plan["quiet"]:
                print("concord: warning: " + warning, file=sys.stderr, flush=True)
            # After ray.init, which installs its own: SIGTERM (concord was stopped) unwinds
            # through the ray.shutdown below, which stops a local cluster's processes.
            signal.signal(signal.SIGTERM, _terminate)
        driver = Driver(plan)
        if pending:
            driver.run()
        result = driver.result()
        code = 1 if driver.failed else 0
    except UsageError as e:
        result = {"error": str(e)}
        code = 2
    finally:
        if ray.is_initialized():
            ray.shutdown()
    with open(argv[2], "w") as f:
        json.dump(result, f)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv))
