"""Apache TVM (Relax) adapter for adapters/worker.py: LLVM on the CPU, CUDA and OpenCL GPUs.

Env: tvm@cpu|cuda|opencl plus the options declared in TvmAdapter.OPTIONS (opt, tune, tune_db,
threads, target, cache). On the CPU, opt=0..3 are the pass lists of tvm_pipeline.py (opt 3
applies MetaSchedule tuning databases; tune=N tunes the kernels none holds); the MODEL reply
records the passes that ran ("passes"), the LLVM target, and at opt 3 how many kernels a
database scheduled ("schedules") and what tune=N did ("tune"). On cuda (default target
"cuda", GPU 0) and opencl every level runs tvm.compile's GPU pipeline, whose DLight rules give
every TIR function GPU thread bindings and schedules (matmul, GEMV, reductions, fallback);
CUDA code is compiled by nvcc, which must be on PATH. A target is any TVM target: a kind or
tag, a JSON dict, or the classic "llvm -mcpu=core-avx2" form (translated to the dict form TVM
0.27 requires).
Framework models (torch.export .pt2, .tflite) are imported by TVM's own frontends
(tvm_frontends.py; the MODEL reply's "frontend" names the one used) in a worker Concord starts
with the tvmtorch overlay venv's Python (scripts/setup_venvs tvmtorch), then compiled alike.
Pipeline: tvm.relax.frontend.onnx.from_onnx -> the level's passes and build -> export_library
into the cache (keyed by sha256 of model bytes + target + opt + TVM version, and at opt 3 the
databases' contents) -> relax.VirtualMachine(executable, device). A cache hit loads the
library and skips compilation (compile_ms = 0, cache_hit = true; the build's record comes
from a JSON file beside the library). Taps are not supported.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import time
from typing import Any, Callable, Optional

import numpy as np
import onnx
import tvm
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx

import tvm_frontends as frontends
import tvm_pipeline
from adapter import (Adapter, AdapterError, ErrorKind, JsonDict, OptionSpec, describe_capabilities,
                     package_version, parse_options)
from concord_protocol import NamedValues, ValueMap
from gpu import GpuMemoryMeter, first_cuda_device, no_cuda_reason


# Changes whenever tvm_pipeline.py compiles differently, so cached libraries are rebuilt.
PIPELINE_VERSION = "ladder-1"


def default_cache_dir() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "concord", "tvm")


_LIST_ATTRS = ("mattr", "keys", "libs", "cl-opt")


def make_target(text: str) -> Any:
    """tvm.target.Target from a tag/kind ("llvm"), a JSON dict, or the classic CLI form
    ("llvm -mcpu=core-avx2 -mattr=+avx2"), which TVM 0.27 no longer parses itself and which
    is translated here into its JSON-dict form."""
    try:
        return tvm.target.Target(text)
    except Exception:
        if text.lstrip().startswith("{") or " " not in text.strip():
            raise
    tokens = text.split()
    config: dict[str, Any] = {"kind": tokens[0]}
    for tok in tokens[1:]:
        if not tok.startswith("-"):
            raise ValueError("cannot read '%s' in target '%s' (expected -key=value)" % (tok, text))
        key, eq, value = tok.lstrip("-").partition("=")
        if not eq:
            config[key] = True
        elif key in _LIST_ATTRS:
            config[key] = value.split(",")
        elif value.lstrip("-").isdigit():
            config[key] = int(value)
        elif value in ("true", "false"):
            config[key] = value == "true"
        else:
            config[key] = value
    return tvm.target.Target(config)


def _to_python(value: Any) -> Any:
    """VM results (Tensor, ShapeTuple, scalar, or nested Arrays/tuples) -> numpy arrays / lists."""
    name = type(value).__name__
    if "Shape" in name:  # a shape computed at run time (e.g. by Shape): int64 like ONNX's
        return np.array(list(value), dtype=np.int64)
    if isinstance(value, bool):
        return np.array(value)
    if isinstance(value, int):
        return np.array(value, dtype=np.int64)
    if isinstance(value, float):
        return np.array(value, dtype=np.float32)
    if isinstance(value, (list, tuple)) or name == "Array":
        return [_to_python(v) for v in value]
    if hasattr(value, "numpy"):
        return value.numpy()
    raise AdapterError("unsupported", "tvm returned a %s, which Concord cannot carry"
                       % type(value).__name__)


def _opencl_exists() -> bool:
    try:
        return bool(tvm.runtime.enabled("opencl") and tvm.opencl().exist)
    except Exception:
        return False


def _cuda_unavailable() -> str:
    """"" when this TVM build can run on a CUDA device here, else why not."""
    why = no_cuda_reason()
    if why:
        return why
    try:
        if not tvm.runtime.enabled("cuda"):
            return "no CUDA device: this TVM build has no CUDA runtime"
        if not tvm.cuda(0).exist:
            return "no CUDA device: TVM's CUDA runtime sees no GPU (tvm.cuda(0).exist is false)"
    except Exception as e:
        return "no CUDA device: TVM's CUDA runtime failed: %s" % e
    return ""


class TvmAdapter(Adapter):
    OPTIONS = (
        OptionSpec("opt", "the pass list tvm@cpu compiles with (opt_mapping; tvm_pipeline.py); "
                   "on cuda/opencl TVM's GPU pipeline at every level", "int", 0, 3, 3),
        OptionSpec("tune", "opt=3 on cpu: MetaSchedule trials for each kernel no tuning "
                   "database holds yet, stored in the target's database (0 = use the "
                   "databases only; long tuning needs timeout=SECONDS)", "int", 0, 100000, 0),
        OptionSpec("tune_db", "tuning database folder tune=N writes and opt=3 reads first "
                   "(default $XDG_CACHE_HOME/concord/tvm_tuning/<target digest> or "
                   "~/.cache/...; the databases in adapters/tvm_tuning/ are read after it)"),
        OptionSpec("threads", "TVM's runtime thread pool size (runtime.config_threadpool, "
                   "TVM_NUM_THREADS; 0 = TVM's default)", "int", 0, 4096, 0),
        OptionSpec("target", "any TVM target: a kind or tag, a JSON dict, or the classic "
                   "\"llvm -mcpu=core-avx2\" form (default llvm on cpu, opencl on opencl)"),
        OptionSpec("cache", "compiled-model folder (default --cache, else "
                   "$XDG_CACHE_HOME/concord/tvm or ~/.cache/concord/tvm)"),
    )
    OPT_MAPPING = (tvm_pipeline.ladder_text() + "; cuda/opencl: TVM's GPU pipeline (DLight) at "
                   "every level; target=TVM target (default llvm); threads=N -> TVM runtime "
                   "thread pool; cache=DIR for compiled models")
    DEVICES = ("cpu", "cuda", "opencl")
    # torch.export and TFLite go through TVM's own frontends (tvm_frontends.py); Concord starts
    # their worker with the tvmtorch overlay's Python, which sees torch and `tflite`.
    FORMATS = ("onnx", "torch.export", "tflite")
    supports_taps = False

    def __init__(self, cache_dir: Optional[str] = None) -> None:
        self.cache_dir = cache_dir
        self.vm: Any = None
        self.dev: Any = None
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.meter: Optional[GpuMemoryMeter] = None

    def capabilities(self) -> JsonDict:
        missing: dict[str, str] = {}
        if _cuda_unavailable():
            missing["cuda"] = _cuda_unavailable()
        if not _opencl_exists():
            missing["opencl"] = "no OpenCL device is available to this TVM build"
        available = [d for d in self.DEVICES if d not in missing]
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES, available,
                                     self.supports_taps, self.FORMATS, unavailable=missing)

    def versions(self) -> dict[str, str]:
        return {"tvm": tvm.__version__, "tvm_ffi": package_version("apache-tvm-ffi"),
                "onnx": importlib.metadata.version("onnx"), "numpy": np.__version__,
                "python": platform.python_version()}

    def _device_and_target(self, device: str, opt: int, target_option: Optional[str]
                           ) -> tuple[Any, Any, str]:
        """(TVM device, target, the target's text) for the env's device."""
        self.meter = None
        if device == "cpu":
            try:
                target = tvm_pipeline.cpu_target(opt, target_option, make_target)
            except Exception as e:
                raise AdapterError("usage", "tvm: bad target '%s': %s"
                                   % (target_option, e)) from None
            return tvm.cpu(), target, target_option or "llvm"
        if device == "cuda":
            if _cuda_unavailable():
                raise AdapterError("unsupported", "tvm@cuda: " + _cuda_unavailable())
            self.meter = GpuMemoryMeter()
            dev, text = tvm.cuda(0), target_option or "cuda"
        elif device == "opencl":
            if not _opencl_exists():
                raise AdapterError("unsupported", "tvm@opencl: no OpenCL device is available to "
                                   "this TVM build (tvm.opencl().exist is false)")
            dev, text = tvm.opencl(), target_option or "opencl"
        else:
            raise AdapterError("unsupported", "tvm adapter knows devices cpu, cuda and opencl "
                               "(got '%s')" % device)
        try:
            return dev, make_target(text), text
        except Exception as e:
            raise AdapterError("usage", "tvm: bad target '%s': %s" % (text, e)) from None

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        try:
            onnx_model = onnx.load_from_string(model)
        except Exception as e:
            raise AdapterError("input", "tvm: cannot parse the model: %s" % e) from None
        initializers = {t.name for t in onnx_model.graph.initializer}
        self.input_names = [i.name for i in onnx_model.graph.input if i.name not in initializers]
        self.output_names = [o.name for o in onnx_model.graph.output]
        info: JsonDict = {"frontend": "relax.frontend.onnx.from_onnx"}
        return self._prepare(lambda: self._import(onnx_model), model, device, options, info)

    def prepare_file(self, path: str, fmt: str, device: str,
                     options: dict[str, str]) -> JsonDict:
        """A framework model through TVM's own frontend: torch.export programs with
        relax.frontend.torch.from_exported_program, TFLite flatbuffers with
        relax.frontend.tflite.from_tflite (the MODEL reply's "frontend" says which)."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            raise AdapterError("input", "tvm: cannot read %s: %s" % (path, e)) from None
        if fmt == "torch.export":
            relax_module, signature = frontends.import_exported_program(path)
            frontend = "relax.frontend.torch.from_exported_program"
        elif fmt == "tflite":
            relax_module, signature = frontends.import_tflite(data)
            frontend = "relax.frontend.tflite.from_tflite"
        else:
            raise AdapterError("unsupported", "tvm runs ONNX, torch.export and TFLite models, "
                               "not %s" % fmt)
        self.input_names = [e["name"] for e in signature["inputs"]]
        self.output_names = [e["name"] for e in signature["outputs"]]
        info: JsonDict = {"frontend": frontend, "signature": signature}

        def importer() -> tuple[Any, float]:  # run on a cache miss (and by tune=N) only
            start = time.perf_counter()
            return relax_module(), (time.perf_counter() - start) * 1000.0
        return self._prepare(importer, data, device, options, info)

    def _prepare(self, importer: Callable[[], tuple[Any, float]], digest: bytes, device: str,
                 options: dict[str, str], info: JsonDict) -> JsonDict:
        """Compiles the Relax module `importer` gives (or loads it from the cache, keyed by
        `digest`, the model file's bytes) for the env; returns the MODEL reply's details."""
        values = parse_options("tvm", self.OPTIONS, options)
        opt = values.get_int("opt")
        threads = values.get_int("threads")
        trials = values.get_int("tune")
        if trials > 0 and (device != "cpu" or opt != 3):
            raise AdapterError("usage", "tvm: tune=%d needs tvm@cpu with opt=3 (got tvm@%s, "
                               "opt=%d): only opt=3 applies tuning databases" % (trials, device,
                                                                                 opt))
        dev, target, target_text = self._device_and_target(device, opt, values.get_str("target"))
        if threads > 0:
            os.environ["TVM_NUM_THREADS"] = str(threads)
            config = tvm.get_global_func("runtime.config_threadpool", allow_missing=True)
            if config is not None:
                config(0, threads)

        info["target"] = str(target)
        databases: list[str] = []
        if device == "cpu" and opt == 3:
            user_db = values.get_str("tune_db") or os.path.join(
                tvm_pipeline.default_tuning_root(), tvm_pipeline.target_digest(target))
            databases = [user_db] + tvm_pipeline.shipped_database_dirs()
            if trials > 0:
                info["tune"] = self._tune(importer, target, trials, databases, threads)
            info["tuning_databases"] = [d for d in databases if os.path.isdir(d)]

        cache_dir = values.get_str("cache") or self.cache_dir or default_cache_dir()
        key = hashlib.sha256()
        key.update(digest)
        key.update(b"\0" + str(target).encode() + b"\0" + str(opt).encode())
        key.update(b"\0" + tvm.__version__.encode() + b"\0" + PIPELINE_VERSION.encode())
        if databases:
            key.update(b"\0" + tvm_pipeline.databases_digest(databases).encode())
        lib_path = os.path.join(cache_dir, key.hexdigest() + ".so")
        info["cache_path"] = lib_path
        executable = self._load_cached(lib_path, info)
        if executable is None:
            executable = self._compile(importer, device, opt, target, target_text, databases,
                                       info)
            self._store(executable, lib_path, info)

        self.dev = dev
        try:
            self.vm = relax.VirtualMachine(executable, dev)
        except Exception as e:
            raise AdapterError("runtime", "tvm cannot create a VirtualMachine: %s" % e) from None
        env = "tvm@%s,opt=%d,target=%s" % (device, opt, target_text)
        if trials:
            env += ",tune=%d" % trials
        if threads:
            env += ",threads=%d" % threads
        info["effective_env"] = env
        gpu = first_cuda_device()
        if device == "cuda" and gpu is not None:
            info["device"] = gpu.describe()
        return info

    def _import(self, onnx_model: Any) -> tuple[Any, float]:
        start = time.perf_counter()
        try:
            return from_onnx(onnx_model), (time.perf_counter() - start) * 1000.0
        except Exception as e:
            raise AdapterError(self._classify(e), "tvm %s cannot import the model: %s: %s"
                               % (tvm.__version__, type(e).__name__, e)) from None

    def _tune(self, importer: Callable[[], tuple[Any, float]], target: Any, trials: int,
              databases: list[str], threads: int) -> JsonDict:
        """tune=N: tunes the kernels no database holds into databases[0]."""
        mod, _ = importer()
        known = [tvm_pipeline.open_database(d) for d in databases if os.path.isdir(d)]
        try:
            result = tvm_pipeline.tune(mod, target, trials, databases[0], known, threads)
        except Exception as e:
            raise AdapterError(self._classify(e), "tvm %s cannot tune the model (MetaSchedule, "
                               "database %s): %s: %s" % (tvm.__version__, databases[0],
                                                         type(e).__name__, e)) from None
        out = result.to_json()
        out["trials_per_task"] = trials
        out["database"] = databases[0]
        return out

    def _load_cached(self, lib_path: str, info: JsonDict) -> Any:
        """The cached library at lib_path (and its build record) or None."""
        if not os.path.exists(lib_path):
            return None
        start = time.perf_counter()
        try:
            executable = tvm.runtime.load_module(lib_path)
        except Exception as e:
            print("concord-worker: ignoring unreadable cache entry %s: %s" % (lib_path, e),
                  flush=True)
            return None
        info["load_ms"] = (time.perf_counter() - start) * 1000.0
        info["cache_hit"] = True
        info["compile_ms"] = 0.0
        try:
            with open(lib_path[:-3] + ".json") as f:
                info.update(json.load(f))
        except (OSError, ValueError):
            pass  # an entry cached before build records existed
        return executable

    def _compile(self, importer: Callable[[], tuple[Any, float]], device: str, opt: int,
                 target: Any, target_text: str, databases: list[str], info: JsonDict) -> Any:
        mod, info["import_ms"] = importer()
        start = time.perf_counter()
        try:
            if device == "cpu":
                dbs = [tvm_pipeline.open_database(d) for d in databases if os.path.isdir(d)]
                built = tvm_pipeline.compile_cpu(mod, opt, target, dbs)
                executable = built.executable
                info["passes"] = built.passes
                info["kernels"] = built.kernels
                if opt == 3:
                    info["schedules"] = {"from_database": built.from_database,
                                         "from_dlight": built.from_dlight}
            else:
                with tvm.transform.PassContext(opt_level=opt):
                    executable = tvm.compile(mod, target)
                info["passes"] = ["tvm.compile default pipeline for %s (DLight)" % device]
        except Exception as e:
            raise AdapterError(self._classify(e), "tvm %s cannot compile the model for %s: "
                               "%s: %s" % (tvm.__version__, target_text, type(e).__name__,
                                           e)) from None
        info["compile_ms"] = (time.perf_counter() - start) * 1000.0
        info["cache_hit"] = False
        return executable

    def runtime_stats(self) -> JsonDict:
        return self.meter.stats() if self.meter is not None else {}

    @staticmethod
    def _classify(e: Exception) -> ErrorKind:
        text = str(e)
        name = type(e).__name__
        if (isinstance(e, NotImplementedError) or "NotImplemented" in name
                or "UnImplemented" in name or "not supported" in text
                or "not implemented" in text.lower() or "unsupported" in text.lower()
                or "unknown dtype `object`" in text):  # string tensors: TVM has no such dtype
            return "unsupported"
        return "runtime"

    @staticmethod
    def _store(executable: Any, lib_path: str, info: JsonDict) -> None:
        """export_library into the cache atomically, the build's record (passes, schedules)
        beside it; a failure only costs the next compile."""
        try:
            os.makedirs(os.path.dirname(lib_path), exist_ok=True)
            record = {k: info[k] for k in ("passes", "kernels", "schedules") if k in info}
            tmp = "%s.tmp%d" % (lib_path[:-3], os.getpid())
            with open(tmp + ".json", "w") as f:
                json.dump(record, f)
            os.replace(tmp + ".json", lib_path[:-3] + ".json")
            executable.export_library(tmp + ".so")
            os.replace(tmp + ".so", lib_path)
        except Exception as e:
            print("concord-worker: cannot cache the compiled model at %s: %s" % (lib_path, e),
                  flush=True)

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise AdapterError("input", "tvm: missing input(s) %s" % ", ".join(missing))
        for n in self.input_names:
            if not isinstance(inputs[n], np.ndarray):
                raise AdapterError("unsupported", "tvm adapter passes NumPy tensors only; input "
                                   "'%s' is a %s" % (n, type(inputs[n]).__name__))
        try:
            # np.require keeps 0-d tensors 0-d (np.ascontiguousarray would make them 1-d).
            args = [tvm.runtime.tensor(np.require(inputs[n], requirements="C"), self.dev)
                    for n in self.input_names]
        except Exception as e:
            raise AdapterError("input", "tvm: cannot convert an input: %s" % e) from None
        try:
            start = time.perf_counter()
            result = self.vm["main"](*args)
            self.dev.sync()
            run_ms = (time.perf_counter() - start) * 1000.0
        except Exception as e:
            raise AdapterError("runtime", "tvm run failed: %s: %s"
                               % (type(e).__name__, e)) from None
        values = _to_python(result)
        if len(self.output_names) == 1:
            values = [values]
        if not isinstance(values, list) or len(values) != len(self.output_names):
            raise AdapterError("runtime", "tvm returned %d values for %d graph outputs"
                               % (len(values) if isinstance(values, list) else 1,
                                  len(self.output_names)))
        return list(zip(self.output_names, values)), run_ms

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        raise AdapterError("unsupported", "tvm cannot return intermediate tensors (taps)")
