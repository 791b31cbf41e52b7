"""ONNX Runtime (CPU execution provider) adapter for adapters/worker.py.

Env: ort@cpu plus the options declared in OrtAdapter.OPTIONS (opt, threads, profile).
With profile=1, STATS carries ORT's own duration of every run ("runtime_ms", from the
profiler's model_run events), so the harness's latency can be checked against the runtime's
own timing of the same session.
Taps: every node output of the main graph is marked as a graph output (like Polygraphy's
`--onnx-outputs mark all`) in a second session, created on the first taps request with the
same options; the timed session is never altered. Session creation failing on an op ORT lacks
is reported as kind "unsupported" with ORT's own message.
"""

from __future__ import annotations

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
from concord_protocol import NamedValues, OnnxBitsArray, ValueMap

LEVELS = [
    ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
]
LEVEL_NAMES = ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_ALL"]

_UNSUPPORTED_MARKS = ("No Op registered", "is not a registered function/op",
                      "Could not find an implementation", "NOT_IMPLEMENTED",
                      "not supported", "Unsupported", "unsupported")


def _classify_creation_error(e: Exception) -> ErrorKind:
    text = str(e)
    if type(e).__name__ == "NotImplemented" or any(m in text for m in _UNSUPPORTED_MARKS):
        return "unsupported"
    return "runtime"


class OrtAdapter(Adapter):
    OPTIONS = (
        OptionSpec("opt", "graph optimization level: 0 ORT_DISABLE_ALL, 1 ORT_ENABLE_BASIC, "
                   "2 ORT_ENABLE_EXTENDED, 3 ORT_ENABLE_ALL", "int", 0, 3, 3),
        OptionSpec("threads", "intra_op_num_threads=N and inter_op_num_threads=1 "
                   "(0 = ORT's default)", "int", 0, 4096, 0),
        OptionSpec("profile", "1 = ORT's own profiler on: STATS and `concord bench` report its "
                   "per-run timing", "int", 0, 1, 0),
    )
    OPT_MAPPING = ("opt=0 ORT_DISABLE_ALL, 1 ORT_ENABLE_BASIC, 2 ORT_ENABLE_EXTENDED, "
                   "3 ORT_ENABLE_ALL; threads=N -> intra_op_num_threads=N, "
                   "inter_op_num_threads=1; profile=1 -> ORT's profiler (its own per-run "
                   "timing is reported in STATS and by `concord bench`)")
    DEVICES = ("cpu",)
    supports_taps = True

    def __init__(self) -> None:
        self.session: Any = None
        self.taps_session: Any = None
        self.model_bytes = b""
        self.session_options: Any = None
        self.profile = False
        self.profiled_runs: Optional[list[float]] = None

    def capabilities(self) -> JsonDict:
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES,
                                     list(self.DEVICES), self.supports_taps)

    def versions(self) -> dict[str, str]:
        return {"onnxruntime": ort.__version__, "onnx": importlib.metadata.version("onnx"),
                "numpy": np.__version__, "python": platform.python_version()}

    def _make_session(self, model_bytes: bytes) -> Any:
        try:
            return ort.InferenceSession(model_bytes, self.session_options,
                                        providers=["CPUExecutionProvider"])
        except Exception as e:
            raise AdapterError(_classify_creation_error(e), "onnxruntime %s cannot load the "
                               "model: %s" % (ort.__version__, e)) from None

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        if device != "cpu":
            raise AdapterError("unsupported", "ort adapter runs ONNX Runtime's CPU execution "
                               "provider only (got device '%s')" % device)
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
        self.taps_session = None
        self.model_bytes = model
        self.session = self._make_session(model)
        env = "ort@cpu,opt=%d" % opt + (",threads=%d" % threads if threads else "")
        return {"effective_env": env, "graph_optimization_level": LEVEL_NAMES[opt],
                "providers": self.session.get_providers()}

    def _feed(self, session: Any, inputs: ValueMap) -> dict[str, Any]:
        names = [i.name for i in session.get_inputs()]
        missing = [n for n in names if n not in inputs]
        if missing:
            raise AdapterError("input", "ort: missing input(s) %s" % ", ".join(missing))
        feed: dict[str, Any] = {}
        for n in names:
            v = inputs[n]
            if isinstance(v, OnnxBitsArray):  # bfloat16/float8: NumPy has no such dtype
                v = ort.OrtValue.ortvalue_from_numpy_with_onnx_type(v.bits, v.onnx_elem_type)
            feed[n] = v
        return feed

    def _run(self, session: Any, inputs: ValueMap) -> tuple[NamedValues, float]:
        feed = self._feed(session, inputs)
        names = [o.name for o in session.get_outputs()]
        try:
            start = time.perf_counter()
            values = session.run(names, feed)
            run_ms = (time.perf_counter() - start) * 1000.0
        except Exception as e:
            kind: ErrorKind = "input" if type(e).__name__ == "InvalidArgument" else "runtime"
            raise AdapterError(kind, "onnxruntime run failed: %s" % e) from None
        return list(zip(names, values)), run_ms

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        return self._run(self.session, inputs)

    def runtime_stats(self) -> JsonDict:
        """ORT's own timing of every run so far (profile=1 only). ORT's profile can be read
        once (end_profiling): later STATS return the runs read then."""
        if not self.profile or self.session is None:
            return {}
        if self.profiled_runs is None:
            path = self.session.end_profiling()
            try:
                with open(path) as f:
                    events = json.load(f)
            finally:
                os.unlink(path)
            self.profiled_runs = [e["dur"] / 1000.0 for e in events
                                  if e.get("name") == "model_run" and e.get("cat") == "Session"]
        runs = self.profiled_runs
        return {"runtime_ms": runs, "runtime_timer": "onnxruntime profiler model_run"}

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
