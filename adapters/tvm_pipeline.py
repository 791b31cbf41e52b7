"""What tvm@cpu's opt levels compile, and MetaSchedule tuning databases (tvm_adapter.py,
scripts/tune_tvm).

TVM 0.27's tvm.compile runs the same passes at every PassContext opt_level on the CPU (each
pass is registered at opt_level 0): LegalizeOps and VM lowering, so a convolution becomes
unscheduled loops. The levels here are explicit pass lists instead, each adding to the one
below (LEVELS names them; prepare() records the list that ran):

  0  TVM's default build (LegalizeOps, VM lowering), LLVM opt-level 0
  1  + AnnotateTIROpPattern, FoldConstant, FuseOps, FuseTIR after LegalizeOps; LLVM's own
     default opt-level (3)
  2  + FoldBatchnormToConv2D, DecomposeOpsForInference, CanonicalizeBindings,
     EliminateCommonSubexpr, DeadCodeElimination before legalizing; the target's mcpu is this
     host's CPU (tvm.target.codegen.llvm_get_system_cpu()) unless target= names one
  3  + MetaSchedule schedules from the tuning databases (MetaScheduleApplyDatabase) with the
     weights' layout rewritten at compile time (AttachAttrLayoutFreeBuffers before,
     SplitLayoutRewritePreproc + FoldConstant after: prepacked constants), then DLight's CPU
     rules (GEMV, Reduction) for the non-convolution kernels no database covers; the rest
     stay TVM's default loops

Databases (opt 3), searched in order, first record wins: the tuning database of the target
(tune_db=DIR, else $XDG_CACHE_HOME/concord/tvm_tuning/<target digest>/, filled by tune=N) and
the databases shipped in adapters/tvm_tuning/<name>/ (scripts/tune_tvm made them for the bench
and demo models). A kernel is found by the structural hash of its TIR (the workload), so any
model with the same fused kernel shapes reuses a record.

tune=N (opt 3) extracts the model's kernels (MetaSchedule tasks) and tunes, with N trials
each, only those no database holds yet; the records go to the target's tuning database. The
search samples schedules at random (replay-trace strategy, random cost model: no xgboost), and
each candidate is built in a worker process that skips TVM's tensor-intrinsic registry (its
import takes longer than the builder's timeout on a busy machine).
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import importlib
import importlib.util
import logging
import os
import platform
import shutil
import sys
import tempfile
import time
import types
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import tvm
from tvm import relax
from tvm.relax import transform as rt
from tvm.s_tir import dlight
from tvm.s_tir import meta_schedule as ms

SHIPPED_DB_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tvm_tuning")

# Pass names per stage; a level runs the stages LEVELS[opt] lists, in this order.
_DISPATCH = ["DispatchSampling", "DispatchSortScan"]
_SIMPLIFY = ["FoldBatchnormToConv2D", "DecomposeOpsForInference", "CanonicalizeBindings",
             "EliminateCommonSubexpr", "DeadCodeElimination"]
_LEGALIZE = ["LegalizeOps"]
_FUSE = ["AnnotateTIROpPattern", "FoldConstant", "FuseOps", "FuseTIR"]
_PREPACK = ["AttachAttrLayoutFreeBuffers"]
_SCHEDULE = ["MetaScheduleApplyDatabase", "SplitLayoutRewritePreproc", "FoldConstant",
             "DeadCodeElimination", "DLight(GEMV, Reduction)"]  # DLight: non-conv kernels
_LOWER = ["RewriteDataflowReshape", "ToNonDataflow", "RemovePurityChecking", "CallTIRRewrite",
          "StaticPlanBlockMemory", "RewriteCUDAGraph", "LowerAllocTensor", "KillAfterLastUse",
          "LowerRuntimeBuiltin", "ComputePrimValue", "VMShapeLower", "AttachGlobalSymbol"]

LEVELS: dict[int, list[str]] = {
    0: _DISPATCH + _LEGALIZE + _LOWER,
    1: _DISPATCH + _LEGALIZE + _FUSE + _LOWER,
    2: _DISPATCH + _SIMPLIFY + _LEGALIZE + _FUSE + _LOWER,
    3: _DISPATCH + _SIMPLIFY + _LEGALIZE + _FUSE + _PREPACK + _SCHEDULE + _LOWER,
}


def ladder_text() -> str:
    """The opt ladder in one line for the adapter's opt_mapping."""
    return ("opt=0: TVM's default build (LegalizeOps, VM lowering), LLVM opt-level 0; "
            "opt=1: + FoldConstant, FuseOps, FuseTIR, LLVM opt-level 3; "
            "opt=2: + FoldBatchnormToConv2D, DecomposeOpsForInference, CSE, DCE, host mcpu; "
            "opt=3: + MetaSchedule tuning databases (MetaScheduleApplyDatabase, weights "
            "prepacked) and DLight CPU rules for the rest; tune=N tunes missing kernels "
            "(N trials each) into the target's database (tune_db=DIR)")


def _pass_objects(name: str) -> Any:
    """The tvm Pass for one name of the stage lists above."""
    table: dict[str, Callable[[], Any]] = {
        "DispatchSampling": relax.backend.DispatchSampling,
        "DispatchSortScan": relax.backend.DispatchSortScan,
        "FoldBatchnormToConv2D": rt.FoldBatchnormToConv2D,
        "DecomposeOpsForInference": rt.DecomposeOpsForInference,
        "CanonicalizeBindings": rt.CanonicalizeBindings,
        "EliminateCommonSubexpr": rt.EliminateCommonSubexpr,
        "DeadCodeElimination": rt.DeadCodeElimination,
        "LegalizeOps": rt.LegalizeOps,
        "AnnotateTIROpPattern": rt.AnnotateTIROpPattern,
        "FoldConstant": rt.FoldConstant,
        "FuseOps": rt.FuseOps,
        "FuseTIR": rt.FuseTIR,
        "AttachAttrLayoutFreeBuffers": rt.AttachAttrLayoutFreeBuffers,
        "MetaScheduleApplyDatabase": rt.MetaScheduleApplyDatabase,
        "SplitLayoutRewritePreproc": rt.SplitLayoutRewritePreproc,
        "DLight(GEMV, Reduction)": lambda: dlight.ApplyDefaultSchedule(dlight.cpu.GEMV(),
                                                                       dlight.cpu.Reduction()),
        "RewriteDataflowReshape": rt.RewriteDataflowReshape,
        "ToNonDataflow": rt.ToNonDataflow,
        "RemovePurityChecking": rt.RemovePurityChecking,
        "CallTIRRewrite": rt.CallTIRRewrite,
        "StaticPlanBlockMemory": rt.StaticPlanBlockMemory,
        "RewriteCUDAGraph": rt.RewriteCUDAGraph,
        "LowerAllocTensor": rt.LowerAllocTensor,
        "KillAfterLastUse": rt.KillAfterLastUse,
        "LowerRuntimeBuiltin": rt.LowerRuntimeBuiltin,
        "ComputePrimValue": rt.ComputePrimValue,
        "VMShapeLower": rt.VMShapeLower,
        "AttachGlobalSymbol": rt.AttachGlobalSymbol,
    }
    return table[name]()


def cpu_target(opt: int, text: Optional[str], make: Callable[[str], Any]) -> Any:
    """The LLVM target an opt level compiles for: `text` (target=) as given, else plain llvm;
    opt 0 adds LLVM opt-level 0, opt >= 2 without target= adds the host's mcpu. `make` reads a
    target text (tvm_adapter.make_target)."""
    target = make(text or "llvm")
    if target.kind.name != "llvm":
        return target
    config = dict(target.export())
    if opt == 0 and "opt-level" not in config:
        config["opt-level"] = 0
    if opt >= 2 and not text:
        config["mcpu"] = tvm.target.codegen.llvm_get_system_cpu()
    return tvm.target.Target(config)


def _is_scheduled(func: Any) -> bool:
    attrs = func.attrs
    return bool(attrs is not None and (attrs.get("tirx.is_scheduled", False)
                                       or attrs.get("tir.is_scheduled", False)))


def _prim_funcs(mod: Any) -> list[Any]:
    return [f for _, f in mod.functions_items() if isinstance(f, tvm.tirx.PrimFunc)]


def kernel_module(mod: Any, opt: int, target: Any) -> Any:
    """The Relax module after the level's passes up to fusion: its PrimFuncs are the kernels
    (MetaSchedule's workloads at opt 3, which tuning and MetaScheduleApplyDatabase must see
    identically)."""
    names = _DISPATCH + (_SIMPLIFY if opt >= 2 else []) + _LEGALIZE + (
        _FUSE if opt >= 1 else []) + (_PREPACK if opt >= 3 else [])
    with target:
        return tvm.transform.Sequential([_pass_objects(n) for n in names])(mod)


@dataclass
class Compiled:
    """A compiled model and what its build did."""

    executable: Any
    passes: list[str]
    kernels: int = 0  # PrimFuncs compiled
    from_database: int = 0  # of them scheduled from a tuning database (opt 3)
    from_dlight: int = 0  # of them scheduled by DLight's CPU rules (opt 3)


def _dlight_non_conv(mod: Any) -> tuple[Any, int]:
    """DLight's CPU rules (GEMV, Reduction) on the unscheduled kernels that are not
    convolutions (FuseOps names a fused kernel after its ops: "fused_conv2d_add_relu"): the
    Reduction rule takes a convolution's window for a plain reduction, and MobileNetV2's
    convolutions ran 1.6x slower with it than unscheduled. Returns (module, kernels it
    scheduled)."""
    todo = {g: f for g, f in mod.functions_items() if isinstance(f, tvm.tirx.PrimFunc)
            and not _is_scheduled(f) and "conv" not in g.name_hint}
    if not todo:
        return mod, 0
    done = _pass_objects("DLight(GEMV, Reduction)")(tvm.IRModule(todo))
    count = 0
    for g, f in done.functions_items():
        if _is_scheduled(f):
            mod[g] = f
            count += 1
    return mod, count


def compile_cpu(mod: Any, opt: int, target: Any, databases: list[Any]) -> Compiled:
    """Runs LEVELS[opt] on the imported Relax module and builds it for `target`; opt 3 applies
    `databases` (first record wins)."""
    mod = kernel_module(mod, opt, target)
    from_db = from_dlight = 0
    if opt >= 3:
        with target:
            database = (ms.database.MemoryDatabase() if not databases else databases[0]
                        if len(databases) == 1 else ms.database.OrderedUnionDatabase(*databases))
            with database:
                mod = rt.MetaScheduleApplyDatabase()(mod)
            from_db = sum(1 for f in _prim_funcs(mod) if _is_scheduled(f))
            prepack = [n for n in _SCHEDULE if n not in ("MetaScheduleApplyDatabase",
                                                         "DLight(GEMV, Reduction)")]
            mod = tvm.transform.Sequential([_pass_objects(n) for n in prepack])(mod)
            mod, from_dlight = _dlight_non_conv(mod)
    with target:
        mod = tvm.transform.Sequential([_pass_objects(n) for n in _LOWER])(mod)
    kernels = len(_prim_funcs(mod))
    executable = tvm.compile(mod, target, relax_pipeline=None)
    return Compiled(executable, list(LEVELS[opt]), kernels, from_db, from_dlight)


# ---- tuning databases ------------------------------------------------------------------------


def default_tuning_root() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "concord", "tvm_tuning")


def target_digest(target: Any) -> str:
    """Names a target's tuning database: its JSON form without num-cores (which only tunes)."""
    config = {k: v for k, v in dict(target.export()).items() if k not in ("num-cores", "tag")}
    return hashlib.sha256(repr(sorted((k, str(v)) for k, v in config.items())).encode()
                          ).hexdigest()[:16]


def shipped_database_dirs() -> list[str]:
    """The databases shipped in adapters/tvm_tuning/<name>/ as JSONDatabase folders. Their
    workloads are gzipped there; each is expanded once into
    <tuning root>/shipped/<name>-<digest>/ (the adapter never writes into the repository)."""
    out = []
    for records in sorted(glob.glob(os.path.join(SHIPPED_DB_DIR, "*",
                                                  "database_tuning_record.json"))):
        src = os.path.dirname(records)
        workloads = os.path.join(src, "database_workload.json.gz")
        if not os.path.exists(workloads):
            continue
        with open(records, "rb") as f:
            record_bytes = f.read()
        with gzip.open(workloads, "rb") as f:
            workload_bytes = f.read()
        digest = hashlib.sha256(record_bytes + b"\0" + workload_bytes).hexdigest()[:16]
        dest = os.path.join(default_tuning_root(), "shipped",
                            "%s-%s" % (os.path.basename(src), digest))
        if not os.path.exists(os.path.join(dest, "database_workload.json")):
            tmp = "%s.tmp%d" % (dest, os.getpid())
            os.makedirs(tmp, exist_ok=True)
            with open(os.path.join(tmp, "database_tuning_record.json"), "wb") as f:
                f.write(record_bytes)
            with open(os.path.join(tmp, "database_workload.json"), "wb") as f:
                f.write(workload_bytes)
            try:
                os.rename(tmp, dest)
            except OSError:  # another process expanded it first
                shutil.rmtree(tmp, ignore_errors=True)
        out.append(dest)
    return out


def open_database(directory: str) -> Any:
    return ms.database.JSONDatabase(work_dir=directory, allow_missing=True)


def databases_digest(dirs: list[str]) -> str:
    """Digest of the databases' files, so a compiled model is rebuilt when they change."""
    h = hashlib.sha256()
    for d in dirs:
        for name in ("database_workload.json", "database_tuning_record.json"):
            path = os.path.join(d, name)
            h.update(path.encode() + b"\0")
            if os.path.exists(path):
                with open(path, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


def _make_build() -> Callable[[Any, Any, Any], Any]:
    """MetaSchedule's default_build without `import tvm.s_tir.tensor_intrin` (registers every
    target's tensor intrinsics: 30 s on a busy 2-core machine, past the builder's timeout; fp32
    CPU schedules use none). A closure, so cloudpickle sends it to the builder's workers by
    value."""

    def build(mod: Any, target: Any, _params: Any) -> Any:
        from tvm.driver import build as tvm_build
        from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock
        mod = RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(mod)
        return tvm_build(mod, target=target)

    return build


def _register_cpu_tensor_intrinsics() -> None:
    """Makes `import tvm.s_tir.tensor_intrin` (TuneContext runs it) register only the CPU
    intrinsics this host's schedule rules name (x86, or Arm on aarch64): the package's
    __init__ also parses every CUDA, ROCm and Hexagon intrinsic, which took 30-70 s on a busy
    2-core machine. The package is entered in sys.modules as its bare namespace first."""
    name = "tvm.s_tir.tensor_intrin"
    if name in sys.modules:
        return
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        return
    package = types.ModuleType(name)
    package.__path__ = list(spec.submodule_search_locations)
    package.__spec__ = spec
    sys.modules[name] = package
    setattr(sys.modules["tvm.s_tir"], "tensor_intrin", package)
    cpu = "arm_cpu" if platform.machine() in ("aarch64", "arm64") else "x86"
    importlib.import_module(name + "." + cpu)


@dataclass
class TuneResult:
    tasks: int = 0  # kernels of the model MetaSchedule can tune
    tuned: int = 0  # of them tuned now
    cached: int = 0  # of them some database already held
    trials: int = 0  # trials run now (records written)
    tune_ms: float = 0.0
    task_names: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"tasks": self.tasks, "tuned": self.tuned, "cached": self.cached,
                "trials": self.trials, "tune_ms": self.tune_ms}


def tune(mod: Any, target: Any, trials: int, db_dir: str, known: list[Any], threads: int,
         seed: int = 1) -> TuneResult:
    """Tunes the kernels of `mod` (the imported Relax module) that no database in `known`
    holds, `trials` trials each, into the JSONDatabase at db_dir."""
    start = time.perf_counter()
    _register_cpu_tensor_intrinsics()
    cores = threads if threads > 0 else (os.cpu_count() or 1)
    # Candidates build while others are measured: leave the measuring threads their cores.
    builders = max(1, (os.cpu_count() or 1) - cores)
    tune_target = tvm.target.Target(dict(target.export(), **{"num-cores": cores}))
    kernels = kernel_module(mod, 3, target)
    tasks = ms.relax_integration.extract_tasks(kernels, tune_target)
    tasks = [t for t in tasks if not t.mod.attrs.get("tirx.is_scheduled", False)]
    missing = [t for t in tasks if not any(d.has_workload(t.dispatched[0]) for d in known)]
    result = TuneResult(tasks=len(tasks), tuned=len(missing), cached=len(tasks) - len(missing),
                        task_names=[t.task_name for t in missing])
    if missing:
        os.makedirs(db_dir, exist_ok=True)
        database = open_database(db_dir)
        before = len(database)
        # MetaSchedule logs every trial; keep its log folder out of the database folder and
        # its console handler quiet.
        logging.getLogger("tvm.s_tir.meta_schedule").setLevel(logging.WARNING)
        with tempfile.TemporaryDirectory(prefix="concord-tvm-tune-") as work_dir:
            contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
                missing, work_dir=work_dir, strategy="replay-trace", seed=seed)
            ms.tune.tune_tasks(
                tasks=contexts, task_weights=weights, work_dir=work_dir,
                max_trials_global=trials * len(contexts), max_trials_per_task=trials,
                num_trials_per_iter=min(trials, 64), cost_model="random", database=database,
                builder=ms.builder.LocalBuilder(f_build=_make_build(), timeout_sec=120,
                                                max_workers=builders))
        result.trials = len(open_database(db_dir)) - before
    result.tune_ms = (time.perf_counter() - start) * 1000.0
    return result


def prune(source_dir: str, destination_dir: str) -> int:
    """Writes the best record of each workload of one JSONDatabase into another (the shipped
    form); returns the number of records written."""
    os.makedirs(destination_dir, exist_ok=True)
    for name in ("database_workload.json", "database_tuning_record.json"):
        path = os.path.join(destination_dir, name)
        if os.path.exists(path):
            os.remove(path)
    destination = open_database(destination_dir)
    open_database(source_dir).dump_pruned(destination)
    return len(open_database(destination_dir))
