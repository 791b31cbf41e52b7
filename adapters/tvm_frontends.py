"""TVM's own frontends for framework models (tvm_adapter.TvmAdapter.prepare_file): a torch.export
program through relax.frontend.torch.from_exported_program, a TFLite flatbuffer through
relax.frontend.tflite.from_tflite. Each returns the Relax module and the model's signature
(signature_entry dicts in the order the compiled main takes and returns them).

They need torch and the `tflite` schema package in the worker's Python: Concord starts the tvm
worker for these formats with the tvmtorch overlay venv (scripts/setup_venvs tvmtorch: TVM plus
`tflite`, over the torch venv's site-packages).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adapter import AdapterError, JsonDict, signature_entry


def _needs(module: str, what: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise AdapterError("unsupported", "tvm: %s go through TVM's own frontend, which needs "
                           "`%s` in the worker's Python: run scripts/setup_venvs tvmtorch"
                           % (what, module)) from None


def _entry(name: str, val: Any) -> JsonDict:
    if val is None or not hasattr(val, "shape"):
        return signature_entry(name, "", None)
    dims = [d if isinstance(d, int) else None for d in val.shape]
    return signature_entry(name, str(val.dtype).replace("torch.", ""), dims)


def import_exported_program(path: str) -> tuple[Any, JsonDict]:
    torch = _needs("torch", "torch.export programs")
    from tvm.relax.frontend.torch import from_exported_program
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
    try:
        mod = from_exported_program(program, keep_params_as_input=False,
                                    unwrap_unit_return_tuple=True)
    except Exception as e:
        raise AdapterError("unsupported", "TVM's PyTorch frontend cannot import %s: %s: %s"
                           % (path, type(e).__name__, e)) from None
    return mod, {"inputs": inputs, "outputs": outputs}


def import_tflite(data: bytes) -> tuple[Any, JsonDict]:
    tflite = _needs("tflite", "TFLite models")
    from tvm.relax.frontend.tflite import from_tflite
    from tvm.relax.frontend.tflite.tflite_frontend import get_tensor_name
    try:
        model = tflite.Model.GetRootAsModel(data, 0)
        graph = model.Subgraphs(0)
    except Exception as e:
        raise AdapterError("input", "not a TFLite flatbuffer: %s" % e) from None
    names = {v: k for k, v in vars(tflite.TensorType).items() if not k.startswith("_")}

    def entries(indices: Any) -> list[JsonDict]:
        out = []
        for i in indices:
            t = graph.Tensors(int(i))
            kind = names.get(t.Type(), "").lower()
            dtype = {"float32": "float32", "float16": "float16", "int8": "int8", "uint8": "uint8",
                     "int32": "int32", "int64": "int64", "bool": "bool"}.get(kind, "")
            out.append(signature_entry(get_tensor_name(graph, int(i)), dtype,
                                       [int(d) for d in np.asarray(t.ShapeAsNumpy()).ravel()]))
        return out

    signature = {"inputs": entries(graph.InputsAsNumpy()),
                 "outputs": entries(graph.OutputsAsNumpy())}
    try:
        mod = from_tflite(model)
    except Exception as e:
        raise AdapterError("unsupported", "TVM's TFLite frontend cannot import the model: %s: %s"
                           % (type(e).__name__, e)) from None
    return mod, signature
