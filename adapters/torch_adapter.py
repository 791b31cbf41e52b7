"""PyTorch adapter for adapters/worker.py: TorchScript archives (.pt, torch.jit.save) and
torch.export programs (.pt2, torch.export.save), read from their files, on the CPU or GPU 0.

Env: torch@cpu|cuda plus OPTIONS (opt, threads). torch@cuda needs a torch build with CUDA and a
CUDA device (torch.cuda.is_available()); the model and inputs move to cuda:0, the run time is
measured up to torch.cuda.synchronize(), and STATS report the GPU memory the session peaked at
(torch.cuda.max_memory_allocated). What opt means depends on the format:
  torch.export  0 eager (ExportedProgram.module()); 1 torch.compile(backend="aot_eager"): graph
                capture and decompositions, no code generation; 2 torch.compile with Inductor;
                3 Inductor with freezing (weights folded as constants: Inductor's CPU inference
                setting).
  TorchScript   0 the loaded module as is; 1 torch.jit.freeze; 2 freeze, then
                torch.jit.optimize_for_inference (conv-bn folding, MKLDNN); 3 is refused:
                torch.compile cannot trace a ScriptModule (export the model with torch.export).
threads=N -> torch.set_num_threads(N).

ONNX models (with emit=1; the fuzzer's generated graphs) are emitted op by op as PyTorch source
(torch_emit.py, NNSmith's way: no converter between the graph and the compiler), then run with
the torch.export levels above; export=1 passes the module through torch.export.export first. A
run only the compiled module fails is reported as the compiler's error; one eager PyTorch
cannot run either (a dtype without a kernel) as "unsupported".

Signature: a torch.export program records names, dtypes and shapes (symbolic dims unknown). A
TorchScript archive records only names: its Tensor arguments are declared float32 with unknown
shapes (give --input-shapes or --inputs) and its outputs are output_0.. per returned tensor.
Outputs are the model's returned tensors flattened in pytree order.

Taps: the output of every leaf module, keyed by its module path ("features.0.conv"; a module
called again gets "#2", "#3"...), always from the unoptimized model: torch.export programs through
torch.export.unflatten and forward hooks; TorchScript (which refuses hooks) through its inlined
graph, where each node knows its module path (Node.getModuleHierarchy): the last tensor each leaf
module computes becomes an extra graph output.
"""

from __future__ import annotations

import platform
import re
import time
from typing import Any, Callable, Optional

import numpy as np

from adapter import (Adapter, AdapterError, ErrorKind, JsonDict, OptionSpec,
                     describe_capabilities, emitted_run_error, package_version, parse_options,
                     signature_entry)
from concord_protocol import NamedValues, NDArray, ValueMap
from gpu import no_cuda_reason

_HIERARCHY_PART = re.compile(r"([^.()]+)\([^()]*\)")


def _dtype_name(dtype: Any) -> str:
    return str(dtype).replace("torch.", "")


def _entry(name: str, val: Any) -> JsonDict:
    if val is None or not hasattr(val, "shape"):
        return signature_entry(name, "", None)
    dims = [d if isinstance(d, int) else None for d in val.shape]
    return signature_entry(name, _dtype_name(val.dtype), dims)


def load_export(torch: Any, path: str) -> tuple[Any, JsonDict]:
    """torch.export.load(path) and its signature: the user inputs and outputs, as
    signature_entry dicts from the graph's placeholder and output metadata (also TVM's PyTorch
    frontend's, tvm_frontends.py)."""
    try:
        program = torch.export.load(path)
    except Exception as e:
        raise AdapterError("input", "torch.export.load cannot read %s: %s" % (path, e)) from None
    sig = program.graph_signature
    metas: dict[str, Any] = {}
    outputs_meta: list[Any] = []
    for node in program.graph.nodes:
        if node.op == "placeholder":
            metas[node.name] = node.meta.get("val")
        elif node.op == "output":
            outputs_meta = [a.meta.get("val") if hasattr(a, "meta") else None
                            for a in node.args[0]]
    inputs = [_entry(name, metas.get(name)) for name in sig.user_inputs]
    user_out = list(sig.user_outputs)
    tail = outputs_meta[len(outputs_meta) - len(user_out):] if user_out else []
    outputs = [_entry(name, val) for name, val in zip(user_out, tail)]
    return program, {"inputs": inputs, "outputs": outputs}


def _leaf_paths(module: Any) -> set[str]:
    return {name for name, m in module.named_modules() if name and not any(True for _ in
                                                                             m.children())}


class TorchAdapter(Adapter):
    OPTIONS = (
        OptionSpec("opt", "torch.export: 0 eager, 1 torch.compile aot_eager, 2 Inductor, "
                   "3 Inductor with freezing; TorchScript: 0 as loaded, 1 torch.jit.freeze, "
                   "2 freeze + optimize_for_inference", "int", 0, 3, 0),
        OptionSpec("threads", "torch.set_num_threads(N) (0 = torch's default)", "int", 0, 4096, 0),
        OptionSpec("emit", "1 = run an ONNX model by emitting it op by op as PyTorch code "
                   "(torch_emit.py; how `concord fuzz` reaches the compiler without a converter); "
                   "0 refuses ONNX models", "int", 0, 1, 0),
        OptionSpec("export", "ONNX models (emitted as PyTorch): 1 = through torch.export.export "
                   "before opt's torch.compile", "int", 0, 1, 0),
        OptionSpec("precision", "torch@cuda: fp32 (default; TensorFloat-32 off for cuDNN "
                   "convolutions and matmuls), tf32 (on, torch's default for convolutions) or "
                   "fp16 (torch.autocast float16; outputs returned as float32)",
                   "str", default="fp32", choices=("fp32", "tf32", "fp16")),
    )
    OPT_MAPPING = ("torch.export (.pt2): opt=0 eager ExportedProgram.module(), 1 torch.compile("
                   "backend=aot_eager), 2 torch.compile(Inductor), 3 Inductor with freezing; "
                   "TorchScript (.pt): 0 as loaded, 1 torch.jit.freeze, 2 freeze + "
                   "torch.jit.optimize_for_inference, 3 refused (torch.compile cannot trace "
                   "TorchScript); ONNX with emit=1: emitted as PyTorch code (torch_emit.py), "
                   "then the torch.export levels (export=1: through torch.export.export); "
                   "threads=N -> torch.set_num_threads(N); taps from the unoptimized model; "
                   "cuda: the same levels on cuda:0 (Inductor emits Triton kernels), timed up "
                   "to torch.cuda.synchronize(), precision=fp32|tf32 -> cudnn/matmul "
                   "allow_tf32, fp16 -> torch.autocast(float16)")
    DEVICES = ("cpu", "cuda")
    FORMATS = ("torchscript", "torch.export", "onnx")
    supports_taps = True

    def __init__(self) -> None:
        self.torch: Any = None
        self.call: Optional[Callable[..., Any]] = None
        self.source: Any = None  # the loaded ScriptModule or ExportedProgram
        self.fmt = ""
        self.input_names: list[str] = []
        self.output_names: list[str] = []
        self.taps_call: Optional[Callable[[list[Any]], NamedValues]] = None
        self.device = "cpu"
        self.autocast = False  # precision=fp16: runs under torch.autocast(float16)
        self.precision = "fp32"
        self.eager: Any = None  # ONNX models: the emitted module before torch.compile
        self.emitted_source = ""

    @staticmethod
    def cuda_unavailable() -> str:
        """"" when torch can run on a CUDA device here, else why not (without importing torch
        where the driver already says there is no GPU)."""
        why = no_cuda_reason()
        if why:
            return why
        import torch
        if torch.version.cuda is None:
            return "no CUDA device: torch %s is a CPU-only build" % torch.__version__
        if not torch.cuda.is_available():
            return "no CUDA device: torch %s (CUDA %s) cannot use the GPU" % (
                torch.__version__, torch.version.cuda)
        return ""

    def capabilities(self) -> JsonDict:
        why = self.cuda_unavailable()
        missing = {"cuda": why} if why else {}
        available = [d for d in self.DEVICES if d not in missing]
        return describe_capabilities(self.OPTIONS, self.OPT_MAPPING, self.DEVICES, available,
                                     self.supports_taps, self.FORMATS, missing)

    def versions(self) -> dict[str, str]:
        return {"torch": package_version("torch"), "onnx": package_version("onnx"),
                "numpy": np.__version__, "python": platform.python_version()}

    def prepare(self, model: bytes, device: str, options: dict[str, str]) -> JsonDict:
        """An ONNX model, emitted op by op as PyTorch code (torch_emit.py), then run like a
        torch.export program: opt 0 eager, 1 aot_eager, 2 Inductor, 3 Inductor with freezing;
        export=1 passes it through torch.export.export first. Ops or attributes the emitter
        cannot write exactly are refused as "unsupported"."""
        import onnx
        import torch_emit
        opt, threads, export = self._setup(device, "onnx", options)
        if not parse_options("torch", self.OPTIONS, options).get_int("emit"):
            raise AdapterError("unsupported", "torch@%s runs TorchScript (.pt) and torch.export "
                               "(.pt2) models; emit=1 runs an ONNX model emitted as PyTorch code "
                               "(torch_emit.py)" % device)
        try:
            proto = onnx.load_from_string(model)
        except Exception as e:
            raise AdapterError("input", "torch: cannot parse the ONNX model: %s" % e) from None
        try:
            emitted = torch_emit.emit(proto)
            module = torch_emit.instantiate(emitted).to(self.device)
        except torch_emit.Unsupported as e:
            raise AdapterError("unsupported", "torch: %s" % e) from None
        self.emitted_source = emitted.source
        self.input_names, self.output_names = emitted.input_names, emitted.output_names
        self.eager = module
        how = "ONNX emitted as PyTorch (torch_emit.py)"
        if export:
            args = self._example_args(proto, emitted.input_names)
            try:
                module = self.torch.export.export(module, tuple(args)).module()
            except Exception as e:
                raise AdapterError("runtime", "torch.export.export failed on a module eager "
                                   "PyTorch runs: %s: %s" % (type(e).__name__, e)) from None
            how += " -> torch.export"
        self.call, compiled = self._compile(module, opt)
        self.source = None
        return self._info(device, opt, threads, "onnx", how + ", " + compiled,
                          {"emit": 1, "export": export})

    def _example_args(self, proto: Any, names: list[str]) -> list[Any]:
        torch = self.torch
        from torch_emit import TORCH_DTYPES
        by_name = {i.name: i for i in proto.graph.input}
        args = []
        for name in names:
            t = by_name[name].type.tensor_type
            dims = [d.dim_value if d.HasField("dim_value") else 1 for d in t.shape.dim]
            dtype = getattr(torch, TORCH_DTYPES.get(t.elem_type, "torch.float32").split(".", 1)[1])
            args.append(torch.zeros(dims, dtype=dtype, device=self.device))
        return args

    def _compile(self, module: Any, opt: int) -> tuple[Any, str]:
        torch = self.torch
        if opt == 0:
            return module, "eager"
        if opt == 1:
            return torch.compile(module, backend="aot_eager"), "torch.compile(backend=aot_eager)"
        import torch._inductor.config as inductor_config
        inductor_config.freezing = opt == 3
        how = "torch.compile(Inductor)" if opt == 2 else "torch.compile(Inductor, freezing)"
        return torch.compile(module, backend="inductor"), how

    def _setup(self, device: str, fmt: str, options: dict[str, str]) -> tuple[int, int, int]:
        """Checks device and format, applies threads and precision; (opt, threads, export)."""
        if device not in self.DEVICES:
            raise AdapterError("unsupported", "torch adapter knows devices cpu and cuda (got "
                               "'%s')" % device)
        if device == "cuda" and self.cuda_unavailable():
            raise AdapterError("unsupported", "torch@cuda: " + self.cuda_unavailable())
        if fmt not in self.FORMATS:
            raise AdapterError("unsupported", "torch@%s runs TorchScript (.pt), torch.export "
                               "(.pt2) and ONNX (emitted as PyTorch) models, not %s"
                               % (device, fmt))
        values = parse_options("torch", self.OPTIONS, options)
        opt, threads = values.get_int("opt"), values.get_int("threads")
        export = values.get_int("export")
        if export and fmt != "onnx":
            raise AdapterError("usage", "torch: export=1 applies to ONNX models (emitted as "
                               "PyTorch); a %s model is what it is" % fmt)
        import torch
        self.torch = torch
        if threads > 0:
            torch.set_num_threads(threads)
        self.fmt = fmt
        self.taps_call = None
        self.device = device
        precision = values.get_str("precision") or "fp32"
        self.autocast = precision == "fp16"
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
            torch.backends.cudnn.allow_tf32 = precision == "tf32"
            torch.backends.cuda.matmul.allow_tf32 = precision == "tf32"
        elif precision != "fp32":
            raise AdapterError("usage", "torch@cpu: precision=%s is a CUDA setting" % precision)
        self.precision = precision
        self.eager = None
        return opt, threads, export

    def prepare_file(self, path: str, fmt: str, device: str,
                     options: dict[str, str]) -> JsonDict:
        opt, threads, _ = self._setup(device, fmt, options)
        if fmt == "torchscript":
            signature, how = self._load_script(path, opt)
        else:
            signature, how = self._load_export(path, opt)
        info = self._info(device, opt, threads, fmt, how, {})
        info["signature"] = signature
        return info

    def _info(self, device: str, opt: int, threads: int, fmt: str, how: str,
              extra: dict[str, int]) -> JsonDict:
        torch = self.torch
        env = "torch@%s,opt=%d" % (device, opt) + (",threads=%d" % threads if threads else "")
        env += "".join(",%s=%d" % (k, v) for k, v in extra.items() if v)
        if self.precision != "fp32":
            env += ",precision=" + self.precision
        info: JsonDict = {"effective_env": env, "format": fmt, "execution": how,
                          "threads": torch.get_num_threads()}
        if device == "cuda":
            props = torch.cuda.get_device_properties(0)
            info["device"] = "cuda:0 %s (%d MiB)" % (props.name, props.total_memory >> 20)
        return info

    def _load_script(self, path: str, opt: int) -> tuple[JsonDict, str]:
        torch = self.torch
        if opt == 3:
            raise AdapterError("unsupported", "torch@cpu,opt=3 is torch.compile, which cannot "
                               "trace a TorchScript module; export the model with torch.export "
                               "(.pt2) or use opt=0..2")
        try:
            module = torch.jit.load(path, map_location=self.device).eval()
        except Exception as e:
            raise AdapterError("input", "torch.jit.load cannot read %s: %s" % (path, e)) from None
        self.source = module
        schema = module.forward.schema
        inputs = []
        for arg in schema.arguments[1:]:
            if arg.type.kind() != "TensorType":
                raise AdapterError("unsupported", "%s: forward argument '%s' is %s; torch@cpu "
                                   "feeds tensors only" % (path, arg.name, arg.type))
            inputs.append(signature_entry(arg.name, "float32", None))
        ret = schema.returns[0].type if schema.returns else None
        count = len(ret.elements()) if ret is not None and ret.kind() == "TupleType" else 1
        outputs = [signature_entry("output_%d" % i, "", None) for i in range(count)]
        how = "TorchScript interpreter"
        if opt >= 1:
            module = torch.jit.freeze(module)
            how = "torch.jit.freeze"
        if opt == 2:
            module = torch.jit.optimize_for_inference(module)
            how += " + torch.jit.optimize_for_inference"
        self.call = module
        self.input_names = [e["name"] for e in inputs]
        self.output_names = [e["name"] for e in outputs]
        return {"inputs": inputs, "outputs": outputs}, how

    def _load_export(self, path: str, opt: int) -> tuple[JsonDict, str]:
        torch = self.torch
        program, signature = load_export(torch, path)
        self.source = program
        inputs, outputs = signature["inputs"], signature["outputs"]
        module = program.module().to(self.device)
        how = ["eager ExportedProgram.module()", "torch.compile(backend=aot_eager)",
               "torch.compile(Inductor)", "torch.compile(Inductor, freezing)"][opt]
        if opt == 1:
            module = torch.compile(module, backend="aot_eager")
        elif opt >= 2:
            import torch._inductor.config as inductor_config
            inductor_config.freezing = opt == 3
            module = torch.compile(module, backend="inductor")
        self.call = module
        self.input_names = [e["name"] for e in inputs]
        self.output_names = [e["name"] for e in outputs]
        return {"inputs": inputs, "outputs": outputs}, how

    def _args(self, inputs: ValueMap) -> list[Any]:
        missing = [n for n in self.input_names if n not in inputs]
        if missing:
            raise AdapterError("input", "torch: missing input(s) %s" % ", ".join(missing))
        args = []
        for n in self.input_names:
            v = inputs[n]
            if not isinstance(v, np.ndarray):
                raise AdapterError("input", "torch: input '%s' must be a tensor" % n)
            array = np.require(v, requirements=["C", "W"])  # 0-d stays 0-d, writable for torch
            args.append(self.torch.from_numpy(array).to(self.device))
        return args

    def _numpy(self, value: Any) -> list[NDArray]:
        leaves = self.torch.utils._pytree.tree_leaves(value)
        return [self._float32(t.detach()).cpu().numpy() if isinstance(t, self.torch.Tensor)
                else np.asarray(t) for t in leaves]

    def _float32(self, t: Any) -> Any:
        """Autocast's float16 results as the float32 the model declares."""
        return t.float() if self.autocast and t.dtype == self.torch.float16 else t

    def run(self, inputs: ValueMap) -> tuple[NamedValues, float]:
        if self.call is None:
            raise AdapterError("usage", "torch: no model prepared")
        args = self._args(inputs)
        try:
            with self.torch.inference_mode(), self.torch.autocast(
                    device_type=self.device, dtype=self.torch.float16, enabled=self.autocast):
                start = time.perf_counter()
                out = self.call(*args)
                if self.device == "cuda":
                    self.torch.cuda.synchronize()
                run_ms = (time.perf_counter() - start) * 1000.0
        except Exception as e:
            raise self._run_error(e, args) from None
        values = self._numpy(out)
        if len(values) != len(self.output_names):
            raise AdapterError("runtime", "torch: the model returned %d tensors, its signature "
                               "declares %d" % (len(values), len(self.output_names)))
        return list(zip(self.output_names, values)), run_ms

    def _run_error(self, e: Exception, args: list[Any]) -> AdapterError:
        """A failed run, classified. An emitted ONNX model that eager PyTorch cannot run either
        (an op without a kernel for the dtype) is "unsupported"; one that only the compiled
        module fails on is the compiler's error, said so."""
        # The first lines carry the cause (BackendCompilerFailed names the inner error on its
        # second line); the rest is traceback and advice.
        lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()][:3]
        what = "%s: %s" % (type(e).__name__, " ".join(lines))
        if self.eager is None:
            return AdapterError("runtime", "torch run failed: " + what)
        unimplemented = isinstance(e, NotImplementedError) or "not implemented for" in str(e)
        eager_failed: Optional[ErrorKind] = None
        if self.eager is self.call:
            eager_failed = "unsupported" if unimplemented else "runtime"

        def rerun() -> object:
            with self.torch.inference_mode():
                return self.eager(*args)
        return emitted_run_error("PyTorch", what, eager_failed, rerun, "module")

    def runtime_stats(self) -> JsonDict:
        """The GPU memory the session peaked at (torch@cuda; torch's caching allocator)."""
        if self.device != "cuda" or self.torch is None:
            return {}
        return {"gpu_memory_mb": round(self.torch.cuda.max_memory_allocated() / 2**20, 1),
                "gpu_memory_source": "torch.cuda.max_memory_allocated"}

    def run_taps(self, inputs: ValueMap) -> NamedValues:
        if self.fmt == "onnx":
            raise AdapterError("unsupported", "torch: no taps for ONNX models emitted as "
                               "PyTorch (localize them on ort or ref)")
        if self.taps_call is None:
            self.taps_call = (self._script_taps() if self.fmt == "torchscript"
                              else self._export_taps())
        with self.torch.inference_mode():
            return self.taps_call(self._args(inputs))

    def _export_taps(self) -> Callable[[list[Any]], NamedValues]:
        module = self.torch.export.unflatten(self.source)
        leaves = _leaf_paths(module)
        recorded: NamedValues = []
        counts: dict[str, int] = {}

        def hook_for(path: str) -> Callable[..., None]:
            def hook(_m: Any, _inp: Any, out: Any) -> None:
                counts[path] = counts.get(path, 0) + 1
                key = path if counts[path] == 1 else "%s#%d" % (path, counts[path])
                values = self._numpy(out)
                for i, v in enumerate(values):
                    recorded.append((key if len(values) == 1 else "%s.%d" % (key, i), v))
            return hook

        for name, m in module.named_modules():
            if name in leaves:
                m.register_forward_hook(hook_for(name))

        def call(args: list[Any]) -> NamedValues:
            recorded.clear()
            counts.clear()
            module(*args)
            return list(recorded)
        return call

    def _script_taps(self) -> Callable[[list[Any]], NamedValues]:
        torch = self.torch
        module = self.source
        graph = module.inlined_graph
        leaves = _leaf_paths(module)
        last: dict[str, Any] = {}
        for node in graph.nodes():
            path = ".".join(_HIERARCHY_PART.findall(node.getModuleHierarchy() or ""))
            if path not in leaves or node.kind().startswith("prim::"):
                continue
            tensors = [o for o in node.outputs() if o.type().kind() == "TensorType"]
            if tensors:
                last[path] = tensors[-1]
        # A function graph returns one value: return (original outputs..., taps...) as a tuple.
        originals = list(graph.outputs())
        n_out = len(originals)
        values = originals + list(last.values())
        ret = graph.return_node()
        tup = graph.create("prim::TupleConstruct", values)
        tup.insertBefore(ret)
        tup.output().setType(torch._C.TupleType([v.type() for v in values]))
        for _ in range(n_out):
            graph.eraseOutput(0)
        graph.registerOutput(tup.output())
        fn = torch._C._create_function_from_graph("concord_taps", graph)
        names = list(last)

        def call(args: list[Any]) -> NamedValues:
            out = fn(module._c, *args)
            tapped = list(out)[n_out:]
            return [(n, t.detach().cpu().numpy()) for n, t in zip(names, tapped)]
        return call
