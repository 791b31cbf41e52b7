"""LiteRT (TFLite) interpreter adapter for adapters/worker.py: .tflite flatbuffers through
ai_edge_litert.interpreter (PyPI ai-edge-litert; no TensorFlow needed).

Env: tflite@cpu plus OPTIONS:
  opt      0 reference kernels (OpResolverType.BUILTIN_REF); 1 and 2 the optimized builtin
           kernels without delegates (BUILTIN_WITHOUT_DEFAULT_DELEGATES; LiteRT has no level
           between); 3 the optimized kernels with the default XNNPACK delegate (AUTO).
  xnnpack  0|1 overrides whether the XNNPACK delegate is applied at opt 1..3 (opt 0 has no
           delegate).
  threads  num_threads of the interpreter (0 = LiteRT's default).
Dynamic input dims (shape_signature -1) are resized to each input's shape before the run.

Signature: the interpreter's input and output details (tensor names such as
"serving_default_x:0", NumPy dtypes, shape_signature). Quantized models keep their dtypes: an
int8 input is fed as int8.

Taps: every tensor an op writes, by tensor name, from a second interpreter with
experimental_preserve_all_tensors=True and the same kernels without the XNNPACK delegate
(tensors inside a delegated subgraph are not visible). Quantized tensors are dequantized to
float32 ((q - zero_point) * scale, per channel where quantized per channel); the MODEL reply
records each quantized tensor's dtype, scales, zero points and quantized dimension.
"""

from __future__ import annotations

import platform
import time
from typing import Any, Optional

import numpy as np

from adapter import (Adapter, AdapterError, JsonDict, OptionSpec, describe_capabilities,
                     package_version, parse_options, signature_entry)
from concord_protocol import NamedValues, NDArray, ValueMap


def _dequantize(value: NDArray, q: JsonDict) -> NDArray:
    scales = np.asarray(q["scales"], dtype=np.float32)
    zeros = np.asarray(q["zero_points"], dtype=np.float32)
    if scales.size > 1:
        shape = [1] * value.ndim
        shape[int(q["quantized_dimension"])] = scales.size
        scales, zeros = scales.reshape(shape), zeros.reshape(shape)
    result: NDArray = ((value.astype(np.float32) - zeros) * scales).astype(np.float32)
    return result


class TfliteAdapter(Adapter):
    OPTIONS = (
        OptionSpec("opt", "0 reference kernels, 1-2 optimized builtin kernels, 3 optimized + "
                   "XNNPACK delegate", "int", 0, 3, 3),
        OptionSpec("xnnpack", "1 = XNNPACK delegate on, 0 = off (default: on at opt=3 only)",
                   "int", 0, 1, None),
        OptionSpec("threads", "num_threads of the interpreter (0 = LiteRT's default)", "int", 0,
                   4096, 0),
    )
    OPT_MAPPING = ("opt=0 OpResolverType.BUILTIN_REF (reference kernels), 1 and 2 "
                   "BUILTIN_WITHOUT_DEFAULT_DELEGATES (optimized kernels), 3 AUTO (optimized "
                   "kernels + XNNPACK delegate); xnnpack=0|1 overrides the delegate at opt 1..3; "
                   "threads=N -> num_threads; taps without the delegate")
    DEVICES = ("cpu",)
    FORMATS = ("tflite",)
    supports_taps = True

    def __init__(self) -> None:
        self.litert: Any = None
        self.path = ""
        self.interpreter: Any = None
        self.taps_interpreter: Any = None
        self.resolver: Any = None
        self.threads: Optional[int] = None
        self.quantized: dict[str, JsonDict] = {}

    def capabilities(self) -> JsonDict:
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES,
                                     list(self.DEVICES), self.supports_taps, self.FORMATS)

    def versions(self) -> dict[str, str]:
        return {"ai-edge-litert": package_version("ai-edge-litert"),
                "onnx": package_version("onnx"), "numpy": np.__version__,
                "python": platform.python_version()}

    def _make(self, resolver: Any, preserve: bool) -> Any:
        try:
            interp = self.litert.Interpreter(model_path=self.path, num_threads=self.threads,
                                             experimental_op_resolver_type=resolver,
                                             experimental_preserve_all_tensors=preserve)
            interp.allocate_tensors()
        except ValueError as e:
            raise AdapterError("input", "LiteRT cannot load %s: %s" % (self.path, e)) from None
        except RuntimeError as e:
            raise AdapterError("unsupported", "LiteRT cannot prepare %s: %s"
                               % (self.path, e)) from None
        return interp

    def prepare_file(self, path: str, fmt: str, device: str,
                     options: dict[str, str]) -> JsonDict:
        if device != "cpu":
            raise AdapterError("unsupported", "tflite adapter runs on the CPU only (got '%s')"
                               % device)
        if fmt != "tflite":
            raise AdapterError("unsupported", "tflite@cpu runs .tflite models, not %s" % fmt)
        values = parse_options("tflite", self.OPTIONS, options)
        opt, threads = values.get_int("opt"), values.get_int("threads")
        xnn_text = values.get_str("xnnpack")
        xnnpack = (opt == 3) if xnn_text is None else xnn_text == "1"
        if opt == 0 and xnnpack:
            raise AdapterError("usage", "tflite: opt=0 runs the reference kernels, which take "
                               "no XNNPACK delegate (drop xnnpack=1 or use opt>=1)")
        from ai_edge_litert import interpreter as litert
        self.litert = litert
        kinds = litert.OpResolverType
        self.resolver = (kinds.BUILTIN_REF if opt == 0 else
                         kinds.AUTO if xnnpack else kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
        self.path = path
        self.threads = threads if threads > 0 else None
        self.taps_interpreter = None
        self.interpreter = self._make(self.resolver, preserve=False)
        self.quantized = self._quantized(self.interpreter)
        env = "tflite@cpu,opt=%d" % opt + (",xnnpack=%d" % int(xnnpack) if opt else "")
        env += ",threads=%d" % threads if threads else ""
        return {"effective_env": env, "op_resolver": self.resolver.name, "xnnpack": xnnpack,
                "quantized_tensors": self.quantized,
                "signature": {"inputs": self._entries(self.interpreter.get_input_details()),
                              "outputs": self._entries(self.interpreter.get_output_details())}}

    @staticmethod
    def _entries(details: list[JsonDict]) -> list[JsonDict]:
        entries = []
        for d in details:
            dims: Any = d.get("shape_signature")
            dims = d["shape"] if dims is None else dims
            entries.append(signature_entry(d["name"], np.dtype(d["dtype"]).name,
                                           [int(x) for x in dims]))
        return entries

    @staticmethod
    def _quantized(interp: Any) -> dict[str, JsonDict]:
        out: dict[str, JsonDict] = {}
        for d in interp.get_tensor_details():
            q = d.get("quantization_parameters", {})
            scales = q.get("scales")
            if scales is None or len(scales) == 0:
                continue
            out[d["name"]] = {"dtype": np.dtype(d["dtype"]).name,
                              "scales": [float(s) for s in scales],
                              "zero_points": [int(z) for z in q.get("zero_points", [])],
                              "quantized_dimension": int(q.get("quantized_dimension", 0))}
        return out

    def _feed(self, interp: Any, inputs: ValueMap) -> None:
        resized = False
        details = interp.get_input_details()
        for d in details:
            v = inputs.get(d["name"])
            if not isinstance(v, np.ndarray):
                raise AdapterError("input", "tflite: missing tensor input '%s'" % d["name"])
            if list(v.shape) != [int(x) for x in d["shape"]]:
                interp.resize_tensor_input(d["index"], list(v.shape))
                resized = True
        if resized:
            interp.allocate_tensors()
        for d in interp.get_input_details():
            interp.set_tensor(d["index"], np.require(inputs[d["name"]], requirements="C"))

    def _invoke(self, interp: Any, inputs: ValueMap) -> float:
        try:
            self._feed(interp, inputs)
            start = time.perf_counter()
            interp.invoke()
            return (time.perf_counter() - start) * 1000.0
        except (ValueError, RuntimeError) as e:
            raise AdapterError("runtime", "LiteRT run failed: %s" % e) from None

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        if self.interpreter is None:
            raise AdapterError("usage", "tflite: no model prepared")
        run_ms = self._invoke(self.interpreter, inputs)
        return [(d["name"], np.array(self.interpreter.get_tensor(d["index"])))
                for d in self.interpreter.get_output_details()], run_ms

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        if self.taps_interpreter is None:
            resolver = self.resolver
            if resolver == self.litert.OpResolverType.AUTO:
                resolver = self.litert.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            self.taps_interpreter = self._make(resolver, preserve=True)
        interp = self.taps_interpreter
        self._invoke(interp, inputs)
        written = {i for op in interp._get_ops_details() for i in op["outputs"]}
        taps: NamedValues = []
        for d in interp.get_tensor_details():
            if d["index"] not in written:
                continue
            value = np.array(interp.get_tensor(d["index"]))
            q = self.quantized.get(d["name"])
            taps.append((d["name"], _dequantize(value, q) if q is not None else value))
        return taps
