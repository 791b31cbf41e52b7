"""TVM's own frontends for framework models (tvm_adapter.TvmAdapter.prepare_file): a torch.export
program through relax.frontend.torch.from_exported_program, a TFLite flatbuffer through
relax.frontend.tflite.from_tflite. Each reads the model's signature (signature_entry dicts in the
order the compiled main takes and returns them) and returns it with the import itself, to run
only where the compiled model is not cached.

They need torch and the `tflite` schema package in the worker's Python: Concord starts the tvm
worker for these formats with the tvmtorch overlay venv (scripts/setup_venvs tvmtorch: TVM plus
`tflite`, over the torch venv's site-packages).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from adapter import AdapterError, JsonDict, signature_entry


def _needs(module: str, what: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise AdapterError("unsupported", "tvm: %s go through TVM's own frontend, which needs "
                           "`%s` in the worker's Python: run scripts/setup_venvs tvmtorch"
                           % (what, module)) from None


def import_exported_program(path: str) -> tuple[Callable[[], Any], JsonDict]:
    torch = _needs("torch", "torch.export programs")
    from tvm.relax.frontend.torch import from_exported_program

    from torch_adapter import load_export  # the torch env's reading of the signature
    program, signature = load_export(torch, path)

    def relax_module() -> Any:
        try:
            return from_exported_program(program, keep_params_as_input=False,
                                         unwrap_unit_return_tuple=True)
        except Exception as e:
            raise AdapterError("unsupported", "TVM's PyTorch frontend cannot import %s: %s: %s"
                               % (path, type(e).__name__, e)) from None
    return relax_module, signature


def import_tflite(data: bytes) -> tuple[Callable[[], Any], JsonDict]:
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

    def relax_module() -> Any:
        try:
            return from_tflite(model)
        except Exception as e:
            raise AdapterError("unsupported", "TVM's TFLite frontend cannot import the model: "
                               "%s: %s" % (type(e).__name__, e)) from None
    return relax_module, signature
