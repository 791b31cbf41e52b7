"""TensorFlow / Keras 3 (CPU) adapter for adapters/worker.py, serving the backends "tf" and
"keras" alike: Keras archives (.keras, keras.saving.load_model) and SavedModel folders
(tf.saved_model.load, signature "serving_default"), read from their files.

Env: tf@cpu or keras@cpu plus OPTIONS:
  opt      0 eager (Keras: model(x, training=False); a SavedModel's signature is a graph function
           already, so 0 calls it as loaded); 1 tf.function with Grappler off
           (disable_meta_optimizer); 2 tf.function with Grappler (TensorFlow's default); 3
           tf.function(jit_compile=True): XLA.
  threads  intra_op_parallelism_threads=N, inter_op=1 (0 = TensorFlow's default); applies to the
           worker's first model (TensorFlow fixes it at start-up).

ONNX models (tf@cpu with emit=1; the fuzzer's generated graphs) are emitted op by op as TensorFlow
source (tf_emit.py: no converter between the graph and the compiler) and run at the levels
above, opt=3 being XLA; lite=1 converts the emitted tf.function with TensorFlow's TFLite
converter and runs it on LiteRT 2.3's interpreter (ai_edge_litert, the runtime apps ship;
litert=0: the copy bundled in TensorFlow, tf.lite.Interpreter), XNNPACK on (xnnpack=1,
default) or off. A run
only the compiled function (tf.function, XLA, LiteRT) fails is reported as its error; one eager
TensorFlow cannot run either as "unsupported".

Signature: Keras: model.inputs / model.outputs (names, dtypes, shapes; None dims unknown), fed
by position; SavedModel: the serving signature's TensorSpecs by name (outputs in name order).

Taps (.keras only): the output of every layer except InputLayers, keyed by layer name (".K" for
output K of a multi-output layer), from an eager intermediate-output model
keras.Model(model.inputs, [layer.output ...]); layers called more than once have no single
output and are left out. A SavedModel keeps no layers: taps on it are refused.
"""

from __future__ import annotations

import platform
import time
from typing import Any, Callable, Optional

import numpy as np

from adapter import (Adapter, AdapterError, JsonDict, OptionSpec, describe_capabilities,
                     emitted_run_error, package_version, parse_options, signature_entry)
from concord_protocol import NamedValues, ValueMap

_HOW = ["eager", "tf.function (Grappler off)", "tf.function (Grappler on)",
        "tf.function(jit_compile=True) (XLA)"]


def _shape(shape: Any) -> Optional[list[Optional[int]]]:
    if shape is None:
        return None
    dims = list(shape)
    return [None if d is None else int(d) for d in dims]


class TfAdapter(Adapter):
    OPTIONS = (
        OptionSpec("opt", "0 eager, 1 tf.function without Grappler, 2 tf.function, 3 XLA "
                   "(jit_compile)", "int", 0, 3, 2),
        OptionSpec("emit", "1 = run an ONNX model by emitting it op by op as TensorFlow code "
                   "(tf_emit.py; how `concord fuzz` reaches the compiler without a converter); "
                   "0 refuses ONNX models", "int", 0, 1, 0),
        OptionSpec("lite", "ONNX models (emitted as TensorFlow): 1 = converted by TensorFlow's "
                   "TFLite converter and run on a LiteRT interpreter (see litert)",
                   "int", 0, 1, 0),
        OptionSpec("litert", "lite=1: 1 = LiteRT 2.3's interpreter (ai_edge_litert."
                   "interpreter, PyPI ai-edge-litert), 0 = the interpreter bundled in "
                   "TensorFlow (tf.lite.Interpreter)", "int", 0, 1, 1),
        OptionSpec("xnnpack", "lite=1: 1 = the interpreter's default XNNPACK delegate, 0 = "
                   "builtin kernels only", "int", 0, 1, 1),
        OptionSpec("threads", "intra_op_parallelism_threads=N, inter_op=1 (0 = TensorFlow's "
                   "default)", "int", 0, 4096, 0),
    )
    OPT_MAPPING = ("opt=0 eager (SavedModel: its signature function as loaded), 1 tf.function "
                   "with Grappler off, 2 tf.function (Grappler on), 3 tf.function(jit_compile="
                   "True) (XLA); ONNX models: emitted as TensorFlow code (tf_emit.py), same "
                   "levels, lite=1 -> TFLite converter + LiteRT 2.3 interpreter (litert=0: "
                   "tf.lite.Interpreter; xnnpack=0|1); "
                   "threads=N -> intra_op_parallelism_threads=N, inter_op=1; taps "
                   "by layer name (.keras only), eager")
    DEVICES = ("cpu",)
    # In order of preference: where a matrix model has twins in both formats, tf@cpu runs the
    # SavedModel (TensorFlow's own format) and keras@cpu the .keras file.
    FORMATS = ("keras", "savedmodel", "onnx")
    supports_taps = True

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.tf: Any = None
        self.keras_model: Any = None
        self.call: Optional[Callable[[list[Any]], list[Any]]] = None
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.taps_model: Any = None
        self.taps_names: list[str] = []
        self.eager_call: Optional[Callable[[list[Any]], list[Any]]] = None  # emitted ONNX
        self.emitted_source = ""
        self._lite: Any = None

    def capabilities(self) -> JsonDict:
        formats = self.FORMATS if self.backend == "keras" else ("savedmodel", "keras", "onnx")
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES,
                                     list(self.DEVICES), self.supports_taps, formats)

    def versions(self) -> dict[str, str]:
        return {"tensorflow": package_version("tensorflow-cpu"), "keras": package_version("keras"),
                "ai-edge-litert": package_version("ai-edge-litert"),
                "onnx": package_version("onnx"), "numpy": np.__version__,
                "python": platform.python_version()}

    def _start_tf(self, opt: int, threads: int) -> None:
        import tensorflow as tf
        self.tf = tf
        try:
            tf.config.set_visible_devices([], "GPU")
            if threads > 0:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # already initialized by an earlier MODEL: the first settings stay
        tf.config.optimizer.set_experimental_options({"disable_meta_optimizer": opt == 1})

    def prepare_file(self, path: str, fmt: str, device: str,
                     options: dict[str, str]) -> JsonDict:
        if device != "cpu":
            raise AdapterError("unsupported", "%s adapter runs on the CPU only (got '%s')"
                               % (self.backend, device))
        if fmt not in ("keras", "savedmodel"):
            raise AdapterError("unsupported", "%s@cpu runs .keras files, SavedModel folders and "
                               "ONNX models (emitted as TensorFlow), not %s files"
                               % (self.backend, fmt))
        values = parse_options(self.backend, self.OPTIONS, options)
        opt, threads = values.get_int("opt"), values.get_int("threads")
        self._start_tf(opt, threads)
        self.taps_model = None
        self.eager_call = None
        if values.get_int("lite"):
            raise AdapterError("usage", "%s: lite=1 applies to ONNX models (emitted as "
                               "TensorFlow)" % self.backend)
        if fmt == "keras":
            signature, eager = self._load_keras(path)
        else:
            signature, eager = self._load_saved_model(path)
        self.call = eager
        if opt >= 1:
            fn = self.tf.function(lambda *xs: eager(list(xs)), jit_compile=opt == 3)
            self.call = lambda xs: list(fn(*xs))
        env = "%s@cpu,opt=%d" % (self.backend, opt) + (",threads=%d" % threads if threads else "")
        return {"effective_env": env, "execution": _HOW[opt], "format": fmt,
                "signature": signature}

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        """An ONNX model, emitted op by op as TensorFlow code (tf_emit.py): opt 0 eager, 1
        tf.function without Grappler, 2 tf.function, 3 XLA; lite=1 converts the tf.function
        with TensorFlow's TFLite converter and runs it on LiteRT (litert=1) or TensorFlow's
        bundled interpreter (litert=0), xnnpack=0|1.
        Ops or attributes the emitter cannot write exactly are refused as "unsupported"."""
        import onnx
        import tf_emit
        if self.backend != "tf":
            raise AdapterError("unsupported", "keras@cpu runs .keras files; ONNX models run on "
                               "tf@cpu (emitted as TensorFlow)")
        if device != "cpu":
            raise AdapterError("unsupported", "tf adapter runs on the CPU only (got '%s')" % device)
        values = parse_options(self.backend, self.OPTIONS, options)
        opt, threads = values.get_int("opt"), values.get_int("threads")
        lite, xnnpack = values.get_int("lite"), values.get_int("xnnpack")
        litert = values.get_int("litert")
        if not values.get_int("emit"):
            raise AdapterError("unsupported", "tf@cpu runs SavedModel folders and .keras files; "
                               "emit=1 runs an ONNX model emitted as TensorFlow code (tf_emit.py)")
        self._start_tf(opt, threads)
        self.taps_model = self.keras_model = None
        try:
            proto = onnx.load_from_string(model)
            emitted = tf_emit.emit(proto)
        except tf_emit.Unsupported as e:
            raise AdapterError("unsupported", "tf: %s" % e) from None
        except Exception as e:
            raise AdapterError("input", "tf: cannot read the ONNX model: %s" % e) from None
        module = tf_emit.instantiate(emitted)
        self.emitted_source = emitted.source
        self.input_names, self.output_names = emitted.input_names, emitted.output_names
        self.eager_call = lambda xs: list(module(*xs))
        specs = self._input_specs(proto, emitted.input_names)
        if lite:
            self.call = self._tflite(module, specs, bool(xnnpack), bool(litert))
            how = "TFLite converter -> %s (XNNPACK %s)" % (
                "LiteRT %s interpreter" % package_version("ai-edge-litert") if litert
                else "tf.lite.Interpreter", "on" if xnnpack else "off")
        elif opt == 0:
            self.call, how = self.eager_call, _HOW[0]
        else:
            fn = self.tf.function(lambda *xs: module(*xs), jit_compile=opt == 3,
                                  input_signature=specs)
            self.call, how = (lambda xs: list(fn(*xs))), _HOW[opt]
        env = "tf@cpu,emit=1,opt=%d" % opt + (",threads=%d" % threads if threads else "")
        if lite:
            env += ",lite=1,litert=%d,xnnpack=%d" % (litert, xnnpack)
        return {"effective_env": env, "execution": "ONNX emitted as TensorFlow (tf_emit.py), "
                + how, "format": "onnx"}

    def _input_specs(self, proto: Any, names: list[str]) -> list[Any]:
        tf = self.tf
        from tf_emit import TF_DTYPES
        by_name = {i.name: i for i in proto.graph.input}
        specs = []
        for name in names:
            t = by_name[name].type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else None for d in t.shape.dim]
            dtype = getattr(tf, TF_DTYPES.get(t.elem_type, "tf.float32").split(".", 1)[1])
            specs.append(tf.TensorSpec(dims, dtype))
        return specs

    def _tflite(self, module: Any, specs: list[Any], xnnpack: bool,
                litert: bool) -> Callable[[list[Any]], list[Any]]:
        tf = self.tf
        fn = tf.function(lambda *xs: module(*xs), input_signature=specs)
        try:
            converter = tf.lite.TFLiteConverter.from_concrete_functions(
                [fn.get_concrete_function()], module)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            flatbuffer = converter.convert()
        except Exception as e:
            import re
            missing = sorted(set(re.findall(r"'(tf\.\w+)' op is neither a custom op nor a flex "
                                            r"op", str(e))))
            if missing:  # ops (at these dtypes) outside TFLite's builtin set: a limit, no bug
                raise AdapterError("unsupported", "TFLite has no builtin op for %s here (the "
                                   "converter needs Select TF ops)" % ", ".join(missing)) from None
            typed = re.search(r"'(tfl\.\w+)' op (?:operand|result) #\d+ must be .*? but got "
                              r"'(tensor<[^']*>)'", str(e))
            if typed:  # a builtin op whose kernel lacks this element type (f16 broadcast_to)
                raise AdapterError("unsupported", "TFLite's %s has no kernel for %s" %
                                   typed.groups()) from None
            raise AdapterError("runtime", "the TFLite converter failed on a function eager "
                               "TensorFlow runs: %s: %s" % (type(e).__name__,
                                                            str(e).strip()[:2000])) from None
        if litert:
            from ai_edge_litert import interpreter as lite_api
            kinds = lite_api.OpResolverType
            make = lite_api.Interpreter
        else:
            kinds, make = tf.lite.experimental.OpResolverType, tf.lite.Interpreter
        resolver = kinds.AUTO if xnnpack else kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        interp = make(model_content=flatbuffer, experimental_op_resolver_type=resolver)
        interp.allocate_tensors()
        runner = interp.get_signature_runner()
        in_keys = sorted(runner.get_input_details(), key=lambda k: int(k.split("_")[-1])
                         if k.split("_")[-1].isdigit() else 0)
        out_keys = sorted(runner.get_output_details(), key=lambda k: int(k.split("_")[-1])
                          if k.split("_")[-1].isdigit() else 0)
        self._lite = interp

        def call(xs: list[Any]) -> list[Any]:
            out = runner(**{k: np.asarray(x) for k, x in zip(in_keys, xs)})
            return [out[k] for k in out_keys]
        return call

    def _load_keras(self, path: str) -> tuple[JsonDict, Callable[[list[Any]], list[Any]]]:
        import keras
        try:
            model = keras.saving.load_model(path, compile=False)
        except Exception as e:
            raise AdapterError("input", "keras cannot load %s: %s" % (path, e)) from None
        self.keras_model = model
        inputs = [signature_entry(t.name, str(t.dtype), _shape(t.shape)) for t in model.inputs]
        outputs = [signature_entry(name, str(t.dtype), _shape(t.shape))
                   for name, t in zip(self._output_names(model), model.outputs)]
        self.input_names = [e["name"] for e in inputs]
        self.output_names = [e["name"] for e in outputs]

        def eager(xs: list[Any]) -> list[Any]:
            out = model(xs if len(xs) > 1 else xs[0], training=False)
            return list(out) if isinstance(out, (list, tuple)) else [out]
        return {"inputs": inputs, "outputs": outputs}, eager

    @staticmethod
    def _output_names(model: Any) -> list[str]:
        names = []
        for i, t in enumerate(model.outputs):
            history = getattr(t, "_keras_history", None)
            layer = getattr(history, "operation", None) if history is not None else None
            names.append(layer.name if layer is not None else "output_%d" % i)
        return names if len(set(names)) == len(names) else ["output_%d" % i
                                                             for i in range(len(names))]

    def _load_saved_model(self, path: str) -> tuple[JsonDict, Callable[[list[Any]], list[Any]]]:
        tf = self.tf
        try:
            loaded = tf.saved_model.load(path)
        except Exception as e:
            raise AdapterError("input", "tf.saved_model.load cannot read %s: %s"
                               % (path, e)) from None
        if "serving_default" not in loaded.signatures:
            raise AdapterError("unsupported", "%s has no serving_default signature (has: %s)"
                               % (path, ", ".join(loaded.signatures) or "none"))
        self.keras_model = None
        sig = loaded.signatures["serving_default"]
        in_specs = sig.structured_input_signature[1]
        out_specs = sig.structured_outputs
        in_names = sorted(in_specs)
        out_names = sorted(out_specs)
        inputs = [signature_entry(n, in_specs[n].dtype.name, _shape(in_specs[n].shape.as_list()
                                                                    if in_specs[n].shape.rank
                                                                    is not None else None))
                  for n in in_names]
        outputs = [signature_entry(n, out_specs[n].dtype.name, _shape(out_specs[n].shape.as_list()
                                                                      if out_specs[n].shape.rank
                                                                      is not None else None))
                   for n in out_names]
        self.input_names, self.output_names = in_names, out_names
        self._saved = loaded  # keeps the signature's variables alive

        def call(xs: list[Any]) -> list[Any]:
            out = sig(**dict(zip(in_names, xs)))
            return [out[n] for n in out_names]
        return {"inputs": inputs, "outputs": outputs}, call

    def _args(self, inputs: ValueMap) -> list[Any]:
        args = []
        for n in self.input_names:
            v = inputs.get(n)
            if not isinstance(v, np.ndarray):
                raise AdapterError("input", "%s: missing tensor input '%s'" % (self.backend, n))
            args.append(self.tf.constant(v))
        return args

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        if self.call is None:
            raise AdapterError("usage", "%s: no model prepared" % self.backend)
        args = self._args(inputs)
        try:
            start = time.perf_counter()
            out = self.call(args)
            values = [np.array(t) for t in out]  # waits for the result
            run_ms = (time.perf_counter() - start) * 1000.0
        except Exception as e:
            raise self._run_error(e, args) from None
        return list(zip(self.output_names, values)), run_ms

    def _run_error(self, e: Exception, args: list[Any]) -> AdapterError:
        """An emitted ONNX model eager TensorFlow cannot run either (a dtype without a CPU
        kernel) is "unsupported"; one only XLA / LiteRT / tf.function fails is theirs."""
        what = "%s: %s" % (type(e).__name__, " ".join(str(e).strip().split())[:1500])
        eager = self.eager_call
        if eager is None:
            return AdapterError("runtime", "%s run failed: %s" % (self.backend, what))
        return emitted_run_error("TensorFlow", what,
                                 "unsupported" if eager is self.call else None,
                                 lambda: eager(args), "function", eager_limit=500)

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        if self.keras_model is None:
            raise AdapterError("unsupported", "%s: taps need a .keras model; a SavedModel keeps "
                               "no layers" % self.backend)
        if self.taps_model is None:
            self._make_taps_model()
        args = self._args(inputs)
        out = self.taps_model(args if len(args) > 1 else args[0], training=False)
        values = [np.array(t) for t in (out if isinstance(out, (list, tuple)) else [out])]
        return list(zip(self.taps_names, values))

    def _make_taps_model(self) -> None:
        import keras
        model = self.keras_model
        tensors: list[Any] = []
        names: list[str] = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            try:
                out = layer.output
            except (AttributeError, ValueError):
                continue  # a layer called more than once has no single output
            outs = list(out) if isinstance(out, (list, tuple)) else [out]
            for k, t in enumerate(outs):
                tensors.append(t)
                names.append(layer.name if len(outs) == 1 else "%s.%d" % (layer.name, k))
        self.taps_model = keras.Model(model.inputs, tensors)
        self.taps_names = names
