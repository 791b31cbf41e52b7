"""ONNX Runtime adapter for adapters/worker.py: the CPU, CUDA and TensorRT execution providers.

Env: ort@cpu|cuda|tensorrt plus the options declared in OrtAdapter.OPTIONS (opt, threads,
profile; precision and fallback on the GPU devices). ort@cuda runs CUDAExecutionProvider and
ort@tensorrt TensorrtExecutionProvider (CUDA behind it), both on GPU 0 and only where the
onnxruntime-gpu package has the provider AND the driver reports a CUDA device (adapters/gpu.py);
otherwise the device is declared unavailable with the reason, and Concord refuses the env. No
silent fallback: a session whose first provider is not the one asked for is refused, and with
fallback=0 ORT itself refuses a model any of whose nodes would run on the CPU provider (with
fallback=1, the default, such nodes run on the CPU and the MODEL reply says so).
With profile=1, STATS carries ORT's own duration of every run ("runtime_ms", from the
profiler's model_run events), so the harness's latency can be checked against the runtime's
own timing of the same session.
Taps: every node output of the main graph is marked as a graph output (like Polygraphy's
`--onnx-outputs mark all`) in a second session, created on the first taps request with the
same options; the timed session is never altered. Session creation failing on an op ORT lacks
is reported as kind "unsupported" with ORT's own message.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import os
import platform
import time
from typing import Any, Optional

import numpy as np
import onnx
import onnxruntime as ort

from adapter import (Adapter, AdapterError, ErrorKind, JsonDict, OptionSpec, describe_capabilities,
                     parse_options)
from concord_protocol import PACKED_BITS, MapSequence, NamedValues, OnnxBitsArray, ValueMap
from gpu import GpuMemoryMeter, first_cuda_device, no_cuda_reason

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider",
             "tensorrt": "TensorrtExecutionProvider"}

LEVELS = [
    ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
]
LEVEL_NAMES = ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"]

# "not currently registered or supported": an element type ORT has no MLDataType for (float6 in
# ORT 1.32), which it reports as FAIL when a graph input or output has that type.
_UNSUPPORTED_MARKS = ("No Op registered", "is not a registered function/op",
                      "Could not find an implementation", "NOT_IMPLEMENTED",
                      "not supported", "Unsupported", "unsupported",
                      "not currently registered or supported")


def _classify_creation_error(e: Exception) -> ErrorKind:
    text = str(e)
    if type(e).__name__ == "NotImplemented" or any(m in text for m in _UNSUPPORTED_MARKS):
        return "unsupported"
    return "runtime"


# Element types NumPy lacks (ORT's type string -> ONNX data type). onnxruntime's Python API
# neither takes nor returns them as arrays, so their tensors cross as raw bytes: inputs are
# written into an OrtValue of the type, outputs read out of one (OnnxBitsArray both ways).
_RAW_TYPES = {"tensor(%s)" % n.lower(): int(getattr(onnx.TensorProto, n))
              for n in ("BFLOAT16", "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                        "FLOAT8E5M2FNUZ", "FLOAT8E8M0", "UINT4", "INT4", "FLOAT4E2M1", "UINT2",
                        "INT2", "FLOAT6E2M3", "FLOAT6E3M2")
              if hasattr(onnx.TensorProto, n)}


def _raw_input(v: OnnxBitsArray) -> Any:
    """An OrtValue of v's ONNX type holding v's bytes."""
    if not v.packed:  # one byte or one uint16 per element: ORT reinterprets the array
        return ort.OrtValue.ortvalue_from_numpy_with_onnx_type(v.bits, v.onnx_elem_type)
    out = ort.OrtValue.ortvalue_from_shape_and_type(list(v.shape), v.onnx_elem_type)
    data = np.ascontiguousarray(v.bits, dtype=np.uint8)
    if out.tensor_size_in_bytes() != data.nbytes:
        raise AdapterError("input", "ort: packed tensor of shape %s has %d bytes, needs %d"
                           % (v.shape, data.nbytes, out.tensor_size_in_bytes()))
    if data.nbytes:
        ctypes.memmove(out.data_ptr(), data.ctypes.data, data.nbytes)
    return out


def _raw_output(v: Any, code: int) -> OnnxBitsArray:
    """The bytes of an OrtValue of a NumPy-less type, typed."""
    shape = tuple(v.shape())
    n = v.tensor_size_in_bytes()
    raw = ctypes.string_at(v.data_ptr(), n) if n else b""
    bits = np.frombuffer(raw, dtype=np.uint16 if code == onnx.TensorProto.BFLOAT16 else np.uint8)
    if code in PACKED_BITS:
        return OnnxBitsArray(bits.copy(), code, shape)
    return OnnxBitsArray(bits.reshape(shape).copy(), code)


def _bits_output(v: Any, code: Optional[int]) -> Any:
    """A NumPy output of session.run, typed when it holds a NumPy-less type's bit patterns."""
    if code is None or not isinstance(v, np.ndarray) or v.dtype not in (np.uint8, np.uint16):
        return v
    return OnnxBitsArray(v, code)


def _map_output(v: Any, ort_type: str) -> Any:
    """A seq(map(K, tensor(V))) output (ZipMap's) comes back from session.run as a list of dicts of
    Python numbers: their values typed as V (float32, not Python's double) and the list marked as
    a sequence of maps, which it stays when empty."""
    if not isinstance(v, list) or not ort_type.startswith("seq(map("):
        return v
    value = ort_type.split("tensor(")[-1].split(")")[0]
    numeric = {"float": np.float32, "double": np.float64, "int64": np.int64, "int32": np.int32}
    kind = numeric.get(value)
    if kind is None:
        return MapSequence(v)
    return MapSequence({k: kind(x) for k, x in d.items()} for d in v)


def _plain_output(v: Any, name: str) -> Any:
    if not v.is_tensor():
        raise AdapterError("unsupported", "ort: output '%s' is not a tensor; a model with "
                           "4-bit, 2-bit or float8 outputs returns only tensors here" % name)
    return v.numpy()


def _loadable(soname: str) -> bool:
    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        return False


class OrtAdapter(Adapter):
    OPTIONS = (
        OptionSpec("opt", "graph optimization level: 0 ORT_DISABLE_ALL, 1 ORT_ENABLE_BASIC, "
                   "2 ORT_ENABLE_EXTENDED, 3 ORT_ENABLE_ALL", "int", 0, 3, 3),
        OptionSpec("threads", "intra_op_num_threads=N and inter_op_num_threads=1 "
                   "(0 = ORT's default)", "int", 0, 4096, 0),
        OptionSpec("profile", "1 = ORT's own profiler on: STATS and `concord bench` report its "
                   "per-run timing", "int", 0, 1, 0),
        OptionSpec("precision", "GPU devices: fp32 (default; CUDA use_tf32=0), tf32 (ort@cuda: "
                   "use_tf32=1, TensorFloat-32 convolutions and matmuls), fp16 or int8 "
                   "(ort@tensorrt: trt_fp16_enable / trt_int8_enable, int8 needs a Q/DQ model)",
                   "str", default="fp32", choices=("fp32", "tf32", "fp16", "int8")),
        OptionSpec("fallback", "GPU devices: 1 = nodes the GPU provider lacks run on the CPU "
                   "provider (reported), 0 = refuse such models (session.disable_cpu_ep_fallback)",
                   "int", 0, 1, 1),
    )
    OPT_MAPPING = ("opt=0 ORT_DISABLE_ALL, 1 ORT_ENABLE_BASIC, 2 ORT_ENABLE_EXTENDED, "
                   "3 ORT_ENABLE_ALL; threads=N -> intra_op_num_threads=N, "
                   "inter_op_num_threads=1; profile=1 -> ORT's profiler (its own per-run "
                   "timing is reported in STATS and by `concord bench`); the same levels on "
                   "cuda and tensorrt, whose providers run first with CPU behind them "
                   "(fallback=1) or alone (fallback=0); precision=fp32 -> use_tf32=0, tf32 -> "
                   "use_tf32=1 (cuda), fp16|int8 -> trt_fp16_enable|trt_int8_enable")
    DEVICES = ("cpu", "cuda", "tensorrt")
    supports_taps = True

    def __init__(self) -> None:
        self.session: Any = None
        self.taps_session: Any = None
        self.model_bytes = b""
        self.session_options: Any = None
        self.profile = False
        self.profiled_runs: Optional[list[float]] = None
        self.providers: list[Any] = ["CPUExecutionProvider"]
        self.meter: Optional[GpuMemoryMeter] = None
        # id(session) -> (session, input names, output names, output types): see _io().
        self.session_io: dict[int, tuple[Any, list[str], list[str], list[str]]] = {}
        self.session_raw: dict[int, tuple[Any, list[Optional[int]]]] = {}

    @staticmethod
    def unavailable_devices() -> dict[str, str]:
        """Why each GPU device cannot run here ({} on a GPU machine with onnxruntime-gpu)."""
        have = ort.get_available_providers()
        out: dict[str, str] = {}
        for device in ("cuda", "tensorrt"):
            provider = PROVIDERS[device]
            if no_cuda_reason():
                out[device] = no_cuda_reason()
            elif provider not in have:
                out[device] = ("onnxruntime %s has no %s (the onnxruntime-gpu package has it)"
                               % (ort.__version__, provider))
            elif device == "tensorrt" and not _loadable("libnvinfer.so.10"):
                out[device] = ("TensorRT 10 is not installed (libnvinfer.so.10 not found), "
                               "which ORT's TensorRT provider loads")
        return out

    def capabilities(self) -> JsonDict:
        missing = self.unavailable_devices()
        available = [d for d in self.DEVICES if d not in missing]
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES, available,
                                     self.supports_taps, unavailable=missing)

    def versions(self) -> dict[str, str]:
        return {"onnxruntime": ort.__version__, "onnx": importlib.metadata.version("onnx"),
                "numpy": np.__version__, "python": platform.python_version()}

    def _make_session(self, model_bytes: bytes) -> Any:
        try:
            session = ort.InferenceSession(model_bytes, self.session_options,
                                           providers=self.providers)
        except Exception as e:
            raise AdapterError(_classify_creation_error(e), "onnxruntime %s cannot load the "
                               "model: %s" % (ort.__version__, e)) from None
        wanted = self.providers[0] if isinstance(self.providers[0], str) else self.providers[0][0]
        if session.get_providers()[0] != wanted:
            raise AdapterError("unsupported", "onnxruntime created the session on %s, not %s "
                               "(the provider failed to load; see the worker's log)"
                               % (session.get_providers()[0], wanted))
        return session

    def _gpu_providers(self, device: str, precision: str, fallback: int) -> list[Any]:
        # onnxruntime-gpu finds CUDA, cuBLAS and cuDNN in the nvidia-* wheels (where torch got
        # them) only when asked to: without this the CUDA provider fails to load.
        if hasattr(ort, "preload_dlls"):
            try:
                ort.preload_dlls()
            except Exception as e:
                print("concord-worker: onnxruntime.preload_dlls failed: %s" % e, flush=True)
        missing = self.unavailable_devices()
        if device in missing:
            raise AdapterError("unsupported", "ort@%s: %s" % (device, missing[device]))
        if precision in ("fp16", "int8") and device != "tensorrt":
            raise AdapterError("usage", "ort@%s: precision=%s is a TensorRT setting (use "
                               "ort@tensorrt)" % (device, precision))
        if precision == "tf32" and device != "cuda":
            raise AdapterError("usage", "ort@%s: precision=tf32 is a CUDA provider setting "
                               "(use ort@cuda)" % device)
        if fallback == 0:
            self.session_options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
        cuda = ("CUDAExecutionProvider", {"device_id": 0, "use_tf32": int(precision == "tf32")})
        if device == "cuda":
            return [cuda, "CPUExecutionProvider"]
        trt = {"device_id": 0, "trt_fp16_enable": precision == "fp16",
               "trt_int8_enable": precision == "int8"}
        return [("TensorrtExecutionProvider", trt), cuda, "CPUExecutionProvider"]

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        if device not in PROVIDERS:
            raise AdapterError("unsupported", "ort adapter knows devices %s (got '%s')"
                               % (", ".join(self.DEVICES), device))
        values = parse_options("ort", self.OPTIONS, options)
        opt = values.get_int("opt")
        threads = values.get_int("threads")
        so = ort.SessionOptions()
        so.graph_optimization_level = LEVELS[opt]
        so.log_severity_level = 3  # errors only; they reach us as exceptions anyway
        if threads > 0:
            so.intra_op_num_threads = threads
            so.inter_op_num_threads = 1
        self.profile = values.get_int("profile") == 1
        self.profiled_runs = None
        if self.profile:
            so.enable_profiling = True
            so.profile_file_prefix = "/tmp/concord-ort-profile-%d" % os.getpid()
        self.session_options = so
        precision = values.get_str("precision") or "fp32"
        fallback = values.get_int("fallback")
        self.providers = ["CPUExecutionProvider"]
        self.meter = None
        if device != "cpu":
            self.providers = self._gpu_providers(device, precision, fallback)
            self.meter = GpuMemoryMeter()
        self.taps_session = None
        self.session_io = {}
        self.session_raw = {}
        self.model_bytes = model
        self.session = self._make_session(model)
        env = "ort@%s,opt=%d" % (device, opt) + (",threads=%d" % threads if threads else "")
        if device != "cpu" and precision != "fp32":
            env += ",precision=" + precision
        info: JsonDict = {"effective_env": env, "graph_optimization_level": LEVEL_NAMES[opt],
                          "providers": self.session.get_providers()}
        gpu = first_cuda_device()
        if device != "cpu" and gpu is not None:
            info["device"] = gpu.describe()
        return info

    def _io(self, session: Any) -> tuple[list[str], list[str], list[str]]:
        """(input names, output names, output types) of a session, read from ORT once: each
        get_inputs()/get_outputs() call builds new Python objects, which every run would pay."""
        io = self.session_io.get(id(session))
        if io is None or io[0] is not session:
            io = (session, [i.name for i in session.get_inputs()],
                  [o.name for o in session.get_outputs()], [o.type for o in session.get_outputs()])
            self.session_io[id(session)] = io
        return io[1], io[2], io[3]

    def _raw_codes(self, session: Any, types: list[str]) -> list[Optional[int]]:
        """The NumPy-less ONNX type code of each output (None for the others), once a session."""
        cached = self.session_raw.get(id(session))
        if cached is None or cached[0] is not session:
            cached = (session, [_RAW_TYPES.get(t) for t in types])
            self.session_raw[id(session)] = cached
        return cached[1]

    def _feed(self, session: Any, inputs: ValueMap) -> dict[str, Any]:
        names = self._io(session)[0]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise AdapterError("input", "ort: missing input(s) %s" % ", ".join(missing))
        feed: dict[str, Any] = {}
        for n in names:
            v = inputs[n]
            feed[n] = _raw_input(v) if isinstance(v, OnnxBitsArray) else v
        return feed

    def _run(self, session: Any, inputs: ValueMap) -> tuple[NamedValues, float]:
        feed = self._feed(session, inputs)
        _, names, types = self._io(session)
        raw = self._raw_codes(session, types)
        # session.run returns only float8e4m3fn of the NumPy-less types (as uint8 bit patterns);
        # the others need OrtValues in and out, which strings cannot be: models with string
        # inputs take session.run and get ORT's own "no NumPy type" error for such outputs.
        strings = any(isinstance(v, np.ndarray) and v.dtype == object for v in feed.values())
        by_value = not strings and any(c is not None for c in raw)
        try:
            start = time.perf_counter()
            if by_value:
                feed = {k: ort.OrtValue.ortvalue_from_numpy(np.require(v, requirements="C"))
                        if isinstance(v, np.ndarray) else v for k, v in feed.items()}
                values = session.run_with_ort_values(names, feed)
            else:
                values = session.run(names, feed)
            run_ms = (time.perf_counter() - start) * 1000.0
        except Exception as e:
            kind: ErrorKind = "input" if type(e).__name__ == "InvalidArgument" else "runtime"
            raise AdapterError(kind, "onnxruntime run failed: %s" % e) from None
        if by_value:
            return [(n, _raw_output(v, c) if c is not None else _plain_output(v, n))
                    for n, v, c in zip(names, values, raw)], run_ms
        return [(n, _map_output(_bits_output(v, c), t))
                for n, v, c, t in zip(names, values, raw, types)], run_ms

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        return self._run(self.session, inputs)

    def runtime_stats(self) -> JsonDict:
        """GPU memory (GPU devices) and ORT's own timing of every run so far (profile=1 only).
        ORT's profile can be read once (end_profiling): later STATS return the runs read then."""
        stats: JsonDict = self.meter.stats() if self.meter is not None else {}
        if not self.profile or self.session is None:
            return stats
        if self.profiled_runs is None:
            path = self.session.end_profiling()
            try:
                with open(path) as f:
                    events = json.load(f)
            finally:
                os.unlink(path)
            self.profiled_runs = [e["dur"] / 1000.0 for e in events
                                  if e.get("name") == "model_run" and e.get("cat") == "Session"]
        stats.update({"runtime_ms": self.profiled_runs,
                      "runtime_timer": "onnxruntime profiler model_run"})
        return stats

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        if self.taps_session is None:
            self.taps_session = self._make_session(self._mark_all_outputs(self.model_bytes))
        values, _ = self._run(self.taps_session, inputs)
        return values

    @staticmethod
    def _mark_all_outputs(model_bytes: bytes) -> bytes:
        model = onnx.load_from_string(model_bytes)
        try:
            inferred = onnx.shape_inference.infer_shapes(model)
        except Exception:
            inferred = model
        typed = {vi.name: vi
                 for vi in list(inferred.graph.value_info) + list(inferred.graph.output)}
        existing = {o.name for o in model.graph.output}
        for node in model.graph.node:
            for name in node.output:
                if not name or name in existing:
                    continue
                existing.add(name)
                vi = onnx.ValueInfoProto()
                if name in typed:
                    vi.CopyFrom(typed[name])
                else:
                    vi.name = name
                model.graph.output.append(vi)
        serialized: bytes = model.SerializeToString()
        return serialized
