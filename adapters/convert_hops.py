"""One conversion hop through a real converter, run inside the venv that holds the tool
(adapters/convert_plan.py picks the venv and chains hops):

    <venv>/bin/python adapters/convert_hops.py REQUEST_JSON

REQUEST_JSON: {"tool", "src", "src_kind", "dst", "dst_kind", "quantize", "calibration",
"examples"} where kinds are onnx|torchscript|export|keras|savedmodel|tflite|openvino, quantize
is none|dynamic|fp16|int8, calibration a list of .npy files (one array per file, in the source's
input order, one set per file group) and examples .npy example inputs in src's own layout (used
where the source has no static shapes, e.g. TorchScript).

Prints one JSON line on stdout: {"tool", "versions", "options", "inputs", "outputs"} where
inputs/outputs list, by position, {"name", "shape"} of the written model (dst), and
"src_inputs"/"src_outputs" the same for src. Exit 0 on success; 3 when the tool fails (its
message on stderr); 2 for a request this module cannot serve.

Tools: torch.onnx.dynamo (.unoptimized: constants folded but no fusion, BatchNorm kept),
torch.onnx.torchscript (opset 17), litert-torch, onnx2torch (with an
initializer pre-pass: Constant/Identity-of-initializer nodes folded into initializers, which
onnx2torch otherwise misses), openvino (convert_model + save_model; compress_to_fp16 only with
quantize fp16), tf2onnx (Keras, SavedModel, TFLite; opset 17), tflite-converter
(TFLiteConverter; dynamic = Optimize.DEFAULT, fp16 = float16 supported type, int8 = full integer
with a representative dataset), keras.export (Keras -> SavedModel), onnx2tf (SavedModel and
.tflite; its calibration sample is copied from the venv's share/concord/ into the work folder).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from importlib import metadata
from typing import Any, Callable

import numpy as np

JsonDict = dict[str, Any]
IoList = list[JsonDict]


class HopError(Exception):
    pass


def version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "not installed"


def tf_version() -> str:
    import tensorflow as tf
    return str(tf.__version__)


def io(names: list[str], shapes: list[list[int]]) -> IoList:
    return [{"name": n, "shape": [int(d) for d in s]} for n, s in zip(names, shapes)]


# --- signatures of the formats (names and static shapes, by position) ---

def onnx_io(path: str) -> tuple[IoList, IoList]:
    import onnx
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}

    def dims(v: Any) -> list[int]:
        return [d.dim_value if d.HasField("dim_value") else -1
                for d in v.type.tensor_type.shape.dim]
    ins = [v for v in m.graph.input if v.name not in inits]
    return (io([v.name for v in ins], [dims(v) for v in ins]),
            io([v.name for v in m.graph.output], [dims(v) for v in m.graph.output]))


def tflite_io(path: str) -> tuple[IoList, IoList]:
    from ai_edge_litert import interpreter as litert
    it = litert.Interpreter(model_path=path)
    ins, outs = it.get_input_details(), it.get_output_details()
    return (io([d["name"] for d in ins], [list(d["shape"]) for d in ins]),
            io([d["name"] for d in outs], [list(d["shape"]) for d in outs]))


def examples_from(req: JsonDict, src_inputs: IoList) -> list[Any]:
    if req.get("examples"):
        return [np.load(p) for p in req["examples"]]
    arrays = []
    for i, spec in enumerate(src_inputs):
        shape = list(spec["shape"])
        if shape and shape[0] < 0:
            shape[0] = 1  # a dynamic batch: one example
        if any(d < 0 for d in shape):
            raise HopError("input '%s' has a dynamic shape %s; give example inputs (--inputs "
                           "FILE.npy, one per input)" % (spec["name"], spec["shape"]))
        arrays.append(np.random.RandomState(i).uniform(-1, 1, shape).astype(np.float32))
    return arrays


# --- torch side ---

def load_torch(req: JsonDict) -> tuple[Any, list[Any], IoList]:
    """(module or ExportedProgram, example tensors, src inputs)."""
    import torch
    if req["src_kind"] == "export":
        program = torch.export.load(req["src"])
        specs = [s for s in program.graph_signature.input_specs if s.kind.name == "USER_INPUT"]
        nodes = {n.name: n for n in program.graph.nodes if n.op == "placeholder"}
        names = [s.arg.name for s in specs]
        shapes = [list(nodes[n].meta["val"].shape) for n in names]
        src_in = io(names, shapes)
        return program, [torch.from_numpy(a) for a in examples_from(req, src_in)], src_in
    module = torch.jit.load(req["src"], map_location="cpu").eval()
    names = [a.name for a in module.forward.schema.arguments[1:]]
    if not req.get("examples"):
        raise HopError("a TorchScript model records no input shapes; give example inputs "
                       "(--inputs FILE.npy, one per input: %s)" % ", ".join(names))
    arrays = [np.load(p) for p in req["examples"]]
    return module, [torch.from_numpy(a) for a in arrays], io(names, [list(a.shape) for a in arrays])


def as_module(model: Any) -> Any:
    return model.module() if hasattr(model, "module") and hasattr(model, "graph_signature") \
        else model


def torch_outputs(model: Any, examples: list[Any]) -> IoList:
    import torch
    with torch.no_grad():
        out = as_module(model)(*examples)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    return io(["output_%d" % i for i in range(len(outs))], [list(o.shape) for o in outs])


def hop_torch_onnx(req: JsonDict, dynamo: bool, optimize: bool = True) -> JsonDict:
    import torch
    model, examples, src_in = load_torch(req)
    src_out = torch_outputs(model, examples)
    names = [s["name"] for s in src_in]
    options: JsonDict = {"dynamo": dynamo}
    if dynamo:
        program = model if req["src_kind"] == "export" else None
        if program is None:
            raise HopError("the dynamo exporter needs a torch.export program (.pt2) or module; "
                           "a TorchScript .pt goes through --via torch.onnx.torchscript")
        options["optimize"] = optimize
        onnx_program = torch.onnx.export(program, tuple(examples), dynamo=True,
                                         input_names=names, optimize=optimize)
        if not optimize:  # constants folded (the translation's Shape/Expand/CastLike), no fusion
            import onnxscript.optimizer
            onnxscript.optimizer.fold_constants(onnx_program.model)
            onnxscript.optimizer.remove_unused_nodes(onnx_program.model)
            options["fold_constants"] = True
        onnx_program.save(req["dst"])
    else:
        options["opset_version"] = 17
        torch.onnx.export(as_module(model), tuple(examples), req["dst"], input_names=names,
                          opset_version=17, dynamo=False)
    ins, outs = onnx_io(req["dst"])
    return {"versions": {"torch": torch.__version__, "onnx": version("onnx"),
                         "onnxscript": version("onnxscript")},
            "options": options, "inputs": ins, "outputs": outs,
            "src_inputs": src_in, "src_outputs": src_out}


def hop_litert_torch(req: JsonDict) -> JsonDict:
    import litert_torch
    model, examples, src_in = load_torch(req)
    src_out = torch_outputs(model, examples)
    if req["quantize"] != "none":
        raise HopError("litert-torch here converts fp32 only (quantize with --to tflite via "
                       "tflite-converter)")
    litert_torch.convert(as_module(model), tuple(examples)).export(req["dst"])
    ins, outs = tflite_io(req["dst"])
    return {"versions": {"litert-torch": version("litert-torch"), "torch": version("torch")},
            "options": {}, "inputs": ins, "outputs": outs,
            "src_inputs": src_in, "src_outputs": src_out}


def fold_for_onnx2torch(src: str) -> Any:
    """Constant nodes and Identity nodes over initializers become initializers (onnx2torch
    reads weights only from initializers; pytorch/pytorch #95867, onnx2torch #156)."""
    import onnx
    from onnx import numpy_helper
    m = onnx.load(src)
    inits = {i.name: i for i in m.graph.initializer}
    keep = []
    for n in m.graph.node:
        if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
            t = onnx.TensorProto()
            t.CopyFrom(n.attribute[0].t)
            t.name = n.output[0]
            m.graph.initializer.append(t)
            inits[t.name] = t
        elif n.op_type == "Identity" and n.input[0] in inits:
            t = numpy_helper.from_array(numpy_helper.to_array(inits[n.input[0]]), n.output[0])
            m.graph.initializer.append(t)
            inits[t.name] = t
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m


def hop_onnx2torch(req: JsonDict) -> JsonDict:
    import torch
    from onnx2torch import convert
    src_in, src_out = onnx_io(req["src"])
    module = convert(fold_for_onnx2torch(req["src"])).eval()
    examples = [torch.from_numpy(a) for a in examples_from(req, src_in)]
    with torch.no_grad():
        if req["dst"].endswith(".pt2"):
            program = torch.export.export(module, tuple(examples))
            torch.export.save(program, req["dst"])
            # export names the arguments itself ("input" becomes "input_1": a builtin's name)
            names = list(program.graph_signature.user_inputs)
        else:
            torch.jit.save(torch.jit.trace(module, tuple(examples)), req["dst"])
            names = [a.name for a in torch.jit.load(req["dst"]).forward.schema.arguments[1:]]
    outs = torch_outputs(module, examples)
    return {"versions": {"onnx2torch": version("onnx2torch"), "torch": version("torch")},
            "options": {"pre_pass": "Constant/Identity-of-initializer folded to initializers",
                        "saved_as": "torch.export" if req["dst"].endswith(".pt2")
                        else "torch.jit.trace"},
            "inputs": io(names, [s["shape"] for s in src_in]),
            "outputs": outs, "src_inputs": src_in, "src_outputs": src_out}


def hop_openvino(req: JsonDict) -> JsonDict:
    import openvino as ov
    kind = req["src_kind"]
    if kind in ("onnx", "tflite"):
        src_in, src_out = (onnx_io if kind == "onnx" else tflite_io)(req["src"])
        ir = ov.convert_model(req["src"])
    elif kind == "export":
        model, examples, src_in = load_torch(req)
        src_out = torch_outputs(model, examples)
        ir = ov.convert_model(model)
    else:
        raise HopError("openvino hop here reads ONNX, TFLite and torch.export, not %s" % kind)
    if req["quantize"] not in ("none", "fp16"):
        raise HopError("openvino save_model compresses to fp16 only (--quantize fp16)")
    compress = req["quantize"] == "fp16"
    ov.save_model(ir, req["dst"], compress_to_fp16=compress)
    core = ov.Core().read_model(req["dst"])
    def dims(port: Any) -> list[int]:  # a dynamic (or interval) dim is -1, not its lower bound
        return [d.get_length() if d.is_static else -1 for d in port.get_partial_shape()]
    ins = io([p.get_any_name() for p in core.inputs], [dims(p) for p in core.inputs])
    outs = io([p.get_any_name() if p.get_names() else "output_%d" % i
               for i, p in enumerate(core.outputs)], [dims(p) for p in core.outputs])
    return {"versions": {"openvino": version("openvino")},
            "options": {"compress_to_fp16": compress}, "inputs": ins, "outputs": outs,
            "src_inputs": src_in, "src_outputs": src_out}


def hop_openvino_constants(req: JsonDict) -> JsonDict:
    """The weights an OpenVINO IR holds, written into its ONNX twin (req["onnx"], the ONNX the IR
    was made from; written to req["dst"]): every initializer whose name and shape an IR constant
    has, and whose values that constant holds up to the IR's precision (compress_to_fp16 stores
    float16), takes the IR's values. So localize compares the weights the IR really runs with."""
    import numpy as np
    import onnx
    import openvino as ov
    from onnx import numpy_helper
    ir = ov.Core().read_model(req["src"])
    consts: dict[str, Any] = {}
    for op in ir.get_ops():
        if op.get_type_name() != "Constant":
            continue
        for name in [op.get_friendly_name()] + sorted(op.output(0).get_names()):
            consts.setdefault(name, op)
    model = onnx.load(req["onnx"])
    taken = same = 0
    floats = 0
    for init in model.graph.initializer:
        if init.data_type != onnx.TensorProto.FLOAT:
            continue
        floats += 1
        op = consts.get(init.name)
        if op is None:
            continue
        value = numpy_helper.to_array(init)
        ir_value = np.asarray(op.get_data())
        if ir_value.shape != value.shape or ir_value.dtype == value.dtype:
            same += int(ir_value.shape == value.shape)
            continue
        rounded = value.astype(ir_value.dtype)
        if not np.array_equal(rounded, ir_value, equal_nan=True):
            continue  # the IR changed this constant (a fusion): the twin keeps the ONNX values
        init.CopyFrom(numpy_helper.from_array(ir_value.astype(np.float32), init.name))
        taken += 1
    onnx.save(model, req["dst"])
    return {"versions": {"openvino": version("openvino"), "onnx": version("onnx")},
            "options": {"initializers_from_ir": taken, "float_initializers": floats,
                        "same_precision": same},
            "inputs": [], "outputs": []}


# --- TF side ---

def keras_io(model: Any) -> tuple[IoList, IoList]:
    return (io([t.name for t in model.inputs], [[d or -1 for d in t.shape] for t in model.inputs]),
            io([t.name for t in model.outputs],
               [[d or -1 for d in t.shape] for t in model.outputs]))


def savedmodel_io(path: str) -> tuple[Any, IoList, IoList]:
    import tensorflow as tf
    fn = tf.saved_model.load(path).signatures["serving_default"]
    args = fn.structured_input_signature[1]
    names = sorted(args)
    outs = fn.structured_outputs
    onames = sorted(outs)
    return (fn, io(names, [[d or -1 for d in args[n].shape] for n in names]),
            io(onames, [[d or -1 for d in outs[n].shape] for n in onames]))


def hop_tf2onnx(req: JsonDict) -> JsonDict:
    kind, dst = req["src_kind"], req["dst"]
    if kind == "keras":
        import keras
        model = keras.saving.load_model(req["src"])
        src_in, src_out = keras_io(model)
        with tempfile.TemporaryDirectory() as d:
            model.export(os.path.join(d, "sm"), verbose=False)
            run_tf2onnx(["--saved-model", os.path.join(d, "sm")], dst)
    elif kind == "savedmodel":
        _, src_in, src_out = savedmodel_io(req["src"])
        run_tf2onnx(["--saved-model", req["src"]], dst)
    elif kind == "tflite":
        src_in, src_out = tflite_io(req["src"])
        run_tf2onnx(["--tflite", req["src"]], dst)
    else:
        raise HopError("tf2onnx reads Keras, SavedModel and TFLite, not %s" % kind)
    ins, outs = onnx_io(dst)
    return {"versions": {"tf2onnx": version("tf2onnx"), "tensorflow": tf_version(),
                         "keras": version("keras")},
            "options": {"opset": 17, "how": "python -m tf2onnx.convert"}, "inputs": ins,
            "outputs": outs, "src_inputs": src_in, "src_outputs": src_out}


def run_tf2onnx(args: list[str], dst: str) -> None:
    cmd = [sys.executable, "-m", "tf2onnx.convert"] + args + ["--opset", "17", "--output", dst]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0 or not os.path.exists(dst):
        raise HopError("tf2onnx failed (exit %d):\n%s" % (p.returncode, p.stderr[-3000:]))


def calibration_sets(files: list[str], count: int) -> list[list[Any]]:
    arrays = [np.load(f).astype(np.float32) for f in files]
    if not arrays or len(arrays) % count:
        raise HopError("int8 calibration needs .npy files, %d per set (one per input); got %d"
                       % (count, len(arrays)))
    return [arrays[i:i + count] for i in range(0, len(arrays), count)]


def hop_tflite_converter(req: JsonDict) -> JsonDict:
    import tensorflow as tf
    kind = req["src_kind"]
    if kind == "keras":
        import keras
        model = keras.saving.load_model(req["src"])
        src_in, src_out = keras_io(model)
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
    elif kind == "savedmodel":
        _, src_in, src_out = savedmodel_io(req["src"])
        conv = tf.lite.TFLiteConverter.from_saved_model(req["src"])
    else:
        raise HopError("TFLiteConverter reads Keras and SavedModel, not %s" % kind)
    q = req["quantize"]
    options: JsonDict = {"quantize": q}
    if q != "none":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        options["optimizations"] = ["Optimize.DEFAULT"]
    if q == "fp16":
        conv.target_spec.supported_types = [tf.float16]
    if q == "int8":
        sets = calibration_sets(req.get("calibration") or [], len(src_in))
        conv.representative_dataset = lambda: iter(sets)
        options["calibration_sets"] = len(sets)
    with open(req["dst"], "wb") as f:
        f.write(conv.convert())
    ins, outs = tflite_io(req["dst"])
    return {"versions": {"tensorflow": tf_version()}, "options": options,
            "inputs": ins, "outputs": outs, "src_inputs": src_in, "src_outputs": src_out}


def hop_keras_export(req: JsonDict) -> JsonDict:
    import keras
    model = keras.saving.load_model(req["src"])
    src_in, src_out = keras_io(model)
    model.export(req["dst"], verbose=False)
    _, ins, outs = savedmodel_io(req["dst"])
    return {"versions": {"keras": version("keras"), "tensorflow": tf_version()},
            "options": {"how": "Model.export (SavedModel, serving_default)"}, "inputs": ins,
            "outputs": outs, "src_inputs": src_in, "src_outputs": src_out}


def hop_onnx2tf(req: JsonDict) -> JsonDict:
    src_in, src_out = onnx_io(req["src"])
    share = os.path.join(sys.prefix, "share", "concord")
    with tempfile.TemporaryDirectory() as work:
        for f in glob.glob(os.path.join(share, "*.npy")):
            shutil.copy(f, work)
        out = os.path.join(work, "out")
        cmd = [os.path.join(os.path.dirname(sys.executable), "onnx2tf"), "-i",
               os.path.abspath(req["src"]), "-o", out, "-n"]
        p = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
        if p.returncode != 0:
            raise HopError("onnx2tf failed (exit %d):\n%s" % (p.returncode,
                                                               (p.stdout + p.stderr)[-3000:]))
        if req["dst_kind"] == "savedmodel":
            shutil.copytree(out, req["dst"], ignore=shutil.ignore_patterns("*.tflite"))
            _, ins, outs = savedmodel_io(req["dst"])
        else:
            want = "float16" if req["quantize"] == "fp16" else "float32"
            found = glob.glob(os.path.join(out, "*_%s.tflite" % want))
            if not found:
                raise HopError("onnx2tf wrote no *_%s.tflite in %s" % (want, os.listdir(out)))
            shutil.copy(found[0], req["dst"])
            ins, outs = tflite_io(req["dst"])
    return {"versions": {"onnx2tf": version("onnx2tf"), "tensorflow": tf_version()},
            "options": {"flags": "-n (no onnxsim)", "tflite": req["quantize"]},
            "inputs": ins, "outputs": outs, "src_inputs": src_in, "src_outputs": src_out}


HOPS: dict[str, Callable[[JsonDict], JsonDict]] = {
    "torch.onnx.dynamo": lambda r: hop_torch_onnx(r, True),
    "torch.onnx.torchscript": lambda r: hop_torch_onnx(r, False),
    "torch.onnx.dynamo.unoptimized": lambda r: hop_torch_onnx(r, True, optimize=False),
    "litert-torch": hop_litert_torch,
    "onnx2torch": hop_onnx2torch,
    "openvino": hop_openvino,
    "openvino.constants": hop_openvino_constants,
    "tf2onnx": hop_tf2onnx,
    "tflite-converter": hop_tflite_converter,
    "keras.export": hop_keras_export,
    "onnx2tf": hop_onnx2tf,
}


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: convert_hops.py REQUEST_JSON", file=sys.stderr)
        return 2
    req = json.loads(argv[1])
    hop = HOPS.get(req.get("tool", ""))
    if hop is None:
        print("unknown tool '%s' (known: %s)" % (req.get("tool"), ", ".join(HOPS)),
              file=sys.stderr)
        return 2
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore")
    real_stdout = sys.stdout
    sys.stdout = sys.stderr  # the tools' chatter goes to stderr; stdout carries the record
    try:
        record = hop(req)
    except HopError as e:
        print("%s: %s" % (req["tool"], e), file=sys.stderr)
        return 3
    except Exception as e:  # the converter itself failed: its message, exit 3
        print("%s failed: %s: %s" % (req["tool"], type(e).__name__, e), file=sys.stderr)
        return 3
    finally:
        sys.stdout = real_stdout
    record["tool"] = req["tool"]
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
