"""OpenVINO runtime (CPU plugin) adapter for adapters/worker.py: OpenVINO IR (.xml beside its
.bin, read from its file) and ONNX models (sent as bytes, read through OpenVINO's ONNX frontend).

Env: openvino@cpu plus OPTIONS:
  precision  INFERENCE_PRECISION_HINT: f32 (default), bf16 or f16. The CPU plugin's own default
             is bf16 on CPUs with AMX/AVX512-BF16 (errors ~1000x larger than f32), so Concord
             pins f32 unless the env says otherwise; the MODEL reply records what the compiled
             model reports.
  hint       PERFORMANCE_HINT: latency (default) or throughput.
  threads    INFERENCE_NUM_THREADS (0 = the plugin's default).
  opt        accepted for uniformity and ignored: the CPU plugin has no optimization levels (its
             graph transformations always run).
The MODEL reply also counts f16 weight constants (an IR saved with compress_to_fp16, the default
of openvino.save_model, computes with f16-rounded weights even at f32 precision).

Taps: every output of every operation except Parameter, Constant and Result, keyed by the
operation's friendly name (":K" for output K > 0), from a second compiled model with those
outputs added (Model.add_outputs) and the same configuration.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from typing import Any, Optional

import numpy as np

from adapter import (Adapter, AdapterError, JsonDict, OptionSpec, describe_capabilities,
                     package_version, parse_options, signature_entry)
from concord_protocol import NamedValues, ValueMap

_PRECISIONS = {"f32": "f32", "bf16": "bf16", "f16": "f16"}
_HINTS = {"latency": "LATENCY", "throughput": "THROUGHPUT"}
_NOT_TAPPED = ("Parameter", "Constant", "Result")


class OpenVinoAdapter(Adapter):
    OPTIONS = (
        OptionSpec("precision", "INFERENCE_PRECISION_HINT: f32 (default), bf16 or f16", "str",
                   default="f32"),
        OptionSpec("hint", "PERFORMANCE_HINT: latency (default) or throughput", "str",
                   default="latency"),
        OptionSpec("threads", "INFERENCE_NUM_THREADS (0 = the plugin's default)", "int", 0, 4096,
                   0),
        OptionSpec("opt", "accepted and ignored: the CPU plugin has no optimization levels",
                   "int", 0, 3, 3),
    )
    OPT_MAPPING = ("opt accepted and ignored (the CPU plugin always runs its transformations); "
                   "precision=f32|bf16|f16 -> INFERENCE_PRECISION_HINT (f32 unless given: the "
                   "plugin would pick bf16 on this CPU); hint=latency|throughput -> "
                   "PERFORMANCE_HINT; threads=N -> INFERENCE_NUM_THREADS")
    DEVICES = ("cpu",)
    FORMATS = ("openvino", "onnx")
    supports_taps = True

    def __init__(self) -> None:
        self.ov: Any = None
        self.core: Any = None
        self.model: Any = None
        self.config: dict[str, Any] = {}
        self.request: Any = None
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.taps_request: Any = None
        self.taps_names: list[str] = []
        self.taps_indices: list[int] = []

    def capabilities(self) -> JsonDict:
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES,
                                     list(self.DEVICES), self.supports_taps, self.FORMATS)

    def versions(self) -> dict[str, str]:
        return {"openvino": package_version("openvino"), "onnx": package_version("onnx"),
                "numpy": np.__version__, "python": platform.python_version()}

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        fd, path = tempfile.mkstemp(suffix=".onnx")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(model)
            return self.prepare_file(path, "onnx", device, options, keep_signature=False)
        finally:
            os.unlink(path)

    def prepare_file(self, path: str, fmt: str, device: str, options: dict[str, str],
                     keep_signature: bool = True) -> JsonDict:
        if device != "cpu":
            raise AdapterError("unsupported", "openvino adapter runs the CPU plugin only (got "
                               "'%s')" % device)
        if fmt not in self.FORMATS:
            raise AdapterError("unsupported", "openvino@cpu runs OpenVINO IR and ONNX models, "
                               "not %s" % fmt)
        values = parse_options("openvino", self.OPTIONS, options)
        precision = self._pick("precision", values.get_str("precision") or "f32", _PRECISIONS)
        hint = self._pick("hint", values.get_str("hint") or "latency", _HINTS)
        threads = values.get_int("threads")
        import openvino as ov
        self.ov = ov
        self.core = ov.Core()
        try:
            self.model = self.core.read_model(path)
        except Exception as e:
            raise AdapterError("input", "OpenVINO cannot read %s: %s" % (path, e)) from None
        self.config = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": hint}
        if threads > 0:
            self.config["INFERENCE_NUM_THREADS"] = threads
        compiled = self._compile(self.model)
        self.request = compiled.create_infer_request()
        self.taps_request = None
        self.input_names = [self._name(p, "input_%d" % i) for i, p in enumerate(self.model.inputs)]
        self.output_names = [self._name(p, "output_%d" % i)
                             for i, p in enumerate(self.model.outputs)]
        env = "openvino@cpu,precision=%s,hint=%s" % (values.get_str("precision"),
                                                    values.get_str("hint"))
        env += ",threads=%d" % threads if threads else ""
        reply: JsonDict = {
            "effective_env": env,
            "inference_precision": str(compiled.get_property("INFERENCE_PRECISION_HINT")),
            "performance_hint": str(compiled.get_property("PERFORMANCE_HINT")),
            "f16_weight_constants": sum(1 for op in self.model.get_ops()
                                        if op.get_type_name() == "Constant"
                                        and op.get_element_type() == ov.Type.f16)}
        if keep_signature:
            reply["signature"] = {
                "inputs": [self._entry(n, p) for n, p in zip(self.input_names, self.model.inputs)],
                "outputs": [self._entry(n, p)
                            for n, p in zip(self.output_names, self.model.outputs)]}
        return reply

    @staticmethod
    def _pick(option: str, value: str, allowed: dict[str, str]) -> str:
        if value not in allowed:
            raise AdapterError("usage", "openvino: %s must be one of %s (got '%s')"
                               % (option, "|".join(allowed), value))
        return allowed[value]

    def _compile(self, model: Any) -> Any:
        try:
            return self.core.compile_model(model, "CPU", self.config)
        except Exception as e:
            raise AdapterError("unsupported", "OpenVINO CPU plugin cannot compile the model: %s"
                               % e) from None

    @staticmethod
    def _name(port: Any, fallback: str) -> str:
        names = sorted(port.get_names())
        return str(port.get_any_name()) if names else fallback

    def _entry(self, name: str, port: Any) -> JsonDict:
        shape = port.get_partial_shape()
        dims: Optional[list[Optional[int]]] = None
        if shape.rank.is_static:
            dims = [d.get_length() if d.is_static else None for d in shape]
        return signature_entry(name, np.dtype(port.get_element_type().to_dtype()).name, dims)

    def _infer(self, request: Any, inputs: ValueMap) -> float:
        feed = {}
        for i, name in enumerate(self.input_names):
            v = inputs.get(name)
            if not isinstance(v, np.ndarray):
                raise AdapterError("input", "openvino: missing tensor input '%s'" % name)
            feed[i] = np.require(v, requirements="C")
        try:
            start = time.perf_counter()
            request.infer(feed)
            return (time.perf_counter() - start) * 1000.0
        except Exception as e:
            raise AdapterError("runtime", "OpenVINO run failed: %s" % e) from None

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        if self.request is None:
            raise AdapterError("usage", "openvino: no model prepared")
        run_ms = self._infer(self.request, inputs)
        return [(n, np.array(self.request.get_output_tensor(i).data))
                for i, n in enumerate(self.output_names)], run_ms

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        if self.taps_request is None:
            self._make_taps_request()
        self._infer(self.taps_request, inputs)
        return [(n, np.array(self.taps_request.get_output_tensor(i).data))
                for n, i in zip(self.taps_names, self.taps_indices)]

    def _make_taps_request(self) -> None:
        model = self.model.clone()
        ports = []
        names = []
        for op in model.get_ordered_ops():
            if op.get_type_name() in _NOT_TAPPED:
                continue
            for k in range(op.get_output_size()):
                ports.append(op.output(k))
                name = op.get_friendly_name()
                names.append(name if k == 0 else "%s:%d" % (name, k))
        # add_outputs returns the Result of each port; a port that already was a model output
        # keeps its Result, so outputs are found by their Result, not by position.
        added = model.add_outputs(ports)
        position = {out.get_node().get_friendly_name(): i for i, out in enumerate(model.outputs)}
        self.taps_names = names
        self.taps_indices = [position[a.get_node().get_friendly_name()] for a in added]
        self.taps_request = self._compile(model).create_infer_request()
