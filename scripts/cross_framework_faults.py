#!/usr/bin/env python3
"""Cross-framework localization and repair on injected faults (FetaFix's fault types).

    .venv-torch/bin/python scripts/cross_framework_faults.py [--out DIR] [--bench DIR]
        [--side 224] [--sets 6]

The source is a PyTorch program (torch.export, .pt2): a ResNet-18-shaped torchvision network
(seeded weights, BatchNorm statistics randomized so that every BatchNorm matters) behind an input
normalization (x - mean) / std. The target is its conversion by the other torch.onnx exporter
(TorchScript, BatchNorm kept: `do_constant_folding=False`), with one fault written into it the
way a faulty converter would, with the onnx library:

    weights   one 3x3 convolution's kernel transposed (kh <-> kw: an HWIO/OIHW mix-up)
    epsilon   one BatchNorm's epsilon changed (1e-5 -> 1e-1)
    padding   one convolution's symmetric pads [1,1,1,1] made asymmetric [0,0,2,2] (TF SAME)
    normalize the input normalization's std changed to 0.5 (a preprocessing mismatch)
    inputdims the graph input fixed at 200x200 instead of 224x224 (FetaFix's input dimensions)
    control   no fault (a faithful conversion)

and each again with every node, tensor and initializer name stripped (n0, t0, w0: as converters
that drop scope names do). A second target family is the source's TFLite conversion (litert-torch)
through its ONNX twin (tf2onnx), where the structure changed: BatchNorm and ReLU fused into the
convolutions, NHWC transposes around them, the normalization's Div turned into a Mul. Its faults
are written into that twin (what FetaFix repairs): a fused kernel transposed, a BatchNorm folded
with epsilon 1e-1 instead of 1e-5 (a converter's folding bug: it lands in the weights), a fused
convolution's pads made asymmetric, the normalization's scale changed. A third family is an
OpenVINO IR made from each faulty TFLite twin (`concord convert --to openvino`): a target file in
another framework's format, localized through its twin and repaired end to end — the repaired
twin is converted back to IR and checked on openvino@cpu against the source. A fourth family,
`tflitefile`, has the twin's value faults (weights, epsilon, normalize) written into a copy of
the .tflite file itself (adapters/tflite_patch.py): repair localizes through the file's own
twin and writes the repaired weights back into the file in place (no re-conversion), checked
on tflite@cpu (LiteRT) against the source. A fifth family, `torchfile`, is a PyTorch target: a
copy of the source's torch.export .pt2 whose state dict holds the fault (a conv weight's kernel
transposed, the normalization's std 0.5); repair localizes through the .pt2's own twin
(torch.onnx.dynamo) and writes the repaired tensors back into the state dict
(adapters/torch_patch.py), checked on torch@cpu against the source.

For each case `concord localize SRC.pt2 TARGET --json` (the source compared through its ONNX
twin, exported by torch.onnx dynamo without its optimizer) and `concord repair` (held out: the
later half of the input sets) run. The expected answer is the injected node, its module path
and FetaFix's fault type; repair must make the target agree on the held-out sets, give the
source's top-1 label on each (FetaFix's label metric, with Kendall tau of the top-5), and for a
target file in another format, its re-converted file must agree on its own env. Writes
BENCH/README.md and BENCH/results.json. Exit 0 when every case meets that, 1 when one does not
(the table says which), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONCORD = os.path.join(REPO, "build", "bin", "concord")
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# case -> (node the fault is written into, module path it belongs to, FetaFix fault type)
CASES: dict[str, tuple[str, str, str]] = {
    "weights": ("/net/layer2/layer2.1/conv1/Conv", "net.layer2.1.conv1", "weights & biases"),
    "epsilon": ("/net/layer3/layer3.0/bn2/BatchNormalization", "net.layer3.0.bn2",
                "layer hyperparameters"),
    "padding": ("/net/layer1/layer1.1/conv1/Conv", "net.layer1.1.conv1", "layer hyperparameters"),
    "normalize": ("/Div", "forward:div", "preprocessing"),
    "inputdims": ("/Sub", "forward:sub", "input dimensions"),
    "control": ("", "", ""),
}


# Faults the tflitefile family writes into the .tflite file (weight/constant values only).
TFLITE_FILE_CASES = ("weights", "epsilon", "normalize", "control")

# The torchfile family: the fault written into the state dict of a copy of source.pt2 (the
# tensor and how it is changed); epsilon and padding live in the program's code, not its state.
TORCH_FILE_CASES: dict[str, str] = {"weights": "net.layer2.1.conv1.weight",
                                    "normalize": "pixel_std", "control": ""}

# The TFLite twin's faults: case -> (the module path of the fused conv the fault goes into, or
# "" for the normalization; the source module localize must name; FetaFix fault type)
TFLITE_CASES: dict[str, tuple[str, str, str]] = {
    "weights": ("Sequential_layer2/torchvision.models.resnet.BasicBlock_1/"
                "torch.nn.modules.conv.Conv2d_conv1;", "net.layer2.1.conv1", "weights & biases"),
    "epsilon": ("Sequential_layer3/torchvision.models.resnet.BasicBlock_0/"
                "torch.nn.modules.conv.Conv2d_conv2;", "net.layer3.0.conv2", "weights & biases"),
    "padding": ("Sequential_layer1/torchvision.models.resnet.BasicBlock_1/"
                "torch.nn.modules.conv.Conv2d_conv1;", "net.layer1.1.conv1", "layer hyperparameters"),
    "normalize": ("", "forward:div", "preprocessing"),
    "control": ("", "", ""),
}


def log(msg: str) -> None:
    print("[cross_framework_faults] " + msg, file=sys.stderr, flush=True)


def make_source(out: str, side: int, sets: int) -> tuple[str, str]:
    """OUT/source.pt2, OUT/target.onnx (the faithful TorchScript-exporter conversion) and
    OUT/inputs/test_data_set_K (images in [0, 1])."""
    import torch
    import torchvision  # type: ignore[import-not-found]
    from onnx import numpy_helper

    torch.manual_seed(0)

    class Normalized(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.net = torchvision.models.resnet18(num_classes=10)
            self.register_buffer("pixel_mean", torch.tensor(MEAN).reshape(1, 3, 1, 1))
            self.register_buffer("pixel_std", torch.tensor(STD).reshape(1, 3, 1, 1))

        def forward(self, x: Any) -> Any:
            return self.net((x - self.pixel_mean) / self.pixel_std)

    model = Normalized().eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    x = torch.rand(1, 3, side, side)
    source = os.path.join(out, "source.pt2")
    torch.export.save(torch.export.export(model, (x,)), source)
    target = os.path.join(out, "target.onnx")
    torch.onnx.export(model, (x,), target, input_names=["x"], output_names=["logits"],
                      opset_version=17, dynamo=False, do_constant_folding=False)
    rng = np.random.RandomState(1)
    for k in range(sets):
        folder = os.path.join(out, "inputs", "test_data_set_%d" % k)
        os.makedirs(folder, exist_ok=True)
        t = numpy_helper.from_array(rng.uniform(0, 1, (1, 3, side, side)).astype(np.float32), "x")
        with open(os.path.join(folder, "input_0.pb"), "wb") as f:
            f.write(t.SerializeToString())
    return source, target


def initializer(model: Any, name: str) -> Any:
    return next(i for i in model.graph.initializer if i.name == name)


def node(model: Any, name: str) -> Any:
    return next(n for n in model.graph.node if n.name == name)


def constant_value(model: Any, tensor: str) -> Any:
    """The initializer or Constant node holding `tensor` (a TensorProto to edit in place)."""
    for i in model.graph.initializer:
        if i.name == tensor:
            return i
    for n in model.graph.node:
        if n.op_type == "Constant" and n.output[0] == tensor:
            return n.attribute[0].t
    raise KeyError(tensor)


def inject(base: Any, case: str) -> Any:
    from onnx import helper, numpy_helper
    m = copy.deepcopy(base)
    if case == "weights":
        w = constant_value(m, node(m, CASES[case][0]).input[1])
        a = numpy_helper.to_array(w)
        w.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(a.transpose(0, 1, 3, 2)), w.name))
    elif case == "epsilon":
        n = node(m, CASES[case][0])
        for att in n.attribute:
            if att.name == "epsilon":
                n.attribute.remove(att)
                break
        n.attribute.append(helper.make_attribute("epsilon", 0.1))
    elif case == "padding":
        n = node(m, CASES[case][0])
        pads = next(a for a in n.attribute if a.name == "pads")
        assert list(pads.ints) == [1, 1, 1, 1], list(pads.ints)
        del pads.ints[:]
        pads.ints.extend([0, 0, 2, 2])
    elif case == "inputdims":  # the converter fixed another input size: 200x200
        dims = m.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value = dims[3].dim_value = 200
    elif case == "normalize":
        d = node(m, CASES[case][0])
        t = constant_value(m, d.input[1])
        a = numpy_helper.to_array(t)
        t.CopyFrom(numpy_helper.from_array(np.full_like(a, 0.5), t.name))
    return m


def tflite_node(m: Any, case: str) -> Any:
    if case == "normalize":
        return next(n for n in m.graph.node if n.op_type == "Mul")
    return next(n for n in m.graph.node
                if n.op_type == "Conv" and TFLITE_CASES[case][0] in n.name)


def inject_tflite(base: Any, case: str, source_twin: Any) -> Any:
    from onnx import numpy_helper
    m = copy.deepcopy(base)
    if case == "control":
        return m
    n = tflite_node(m, case)
    if case == "weights":
        w = constant_value(m, n.input[1])
        a = numpy_helper.to_array(w)
        w.CopyFrom(numpy_helper.from_array(np.ascontiguousarray(a.transpose(0, 1, 3, 2)), w.name))
    elif case == "epsilon":  # the BatchNorm folded with epsilon 1e-1: W, b scaled per channel
        bn = "net.layer3.0.bn2."
        stats = {i.name: numpy_helper.to_array(i) for i in source_twin.graph.initializer
                 if i.name.startswith(bn)}
        var, beta = stats[bn + "running_var"], stats[bn + "bias"]
        ratio = np.sqrt((var + 1e-5) / (var + 1e-1)).astype(np.float32)
        w, b = constant_value(m, n.input[1]), constant_value(m, n.input[2])
        wa, ba = numpy_helper.to_array(w), numpy_helper.to_array(b)
        w.CopyFrom(numpy_helper.from_array(wa * ratio.reshape(-1, 1, 1, 1), w.name))
        b.CopyFrom(numpy_helper.from_array((ba - beta) * ratio + beta, b.name))
    elif case == "padding":
        pads = next(a for a in n.attribute if a.name == "pads")
        assert list(pads.ints) == [1, 1, 1, 1], list(pads.ints)
        del pads.ints[:]
        pads.ints.extend([0, 0, 2, 2])
    elif case == "normalize":  # x * (1 / std) with 1 / 0.5
        t = constant_value(m, next(x for x in n.input if x not in
                                   {o for k in m.graph.node for o in k.output
                                    if k.op_type != "Constant"}))
        t.CopyFrom(numpy_helper.from_array(np.full_like(numpy_helper.to_array(t), 2.0), t.name))
    return m


def strip_names(base: Any) -> Any:
    """Every node named n<i>, every non-I/O tensor t<i>, every initializer w<i>."""
    m = copy.deepcopy(base)
    keep = {v.name for v in m.graph.input} | {v.name for v in m.graph.output}
    rename: dict[str, str] = {}
    for i, init in enumerate(m.graph.initializer):
        rename[init.name] = "w%d" % i
        init.name = rename[init.name]
    count = 0
    for i, n in enumerate(m.graph.node):
        n.name = "n%d" % i
        del n.metadata_props[:]
        for j, o in enumerate(n.output):
            if o and o not in keep:
                rename[o] = "t%d" % count
                count += 1
                n.output[j] = rename[o]
    for n in m.graph.node:
        for j, x in enumerate(n.input):
            if x in rename:
                n.input[j] = rename[x]
    del m.graph.value_info[:]
    return m


def concord(args: list[str]) -> tuple[int, dict[str, Any], float]:
    t0 = time.time()
    p = subprocess.run([CONCORD] + args + ["--json"], capture_output=True, text=True,
                       timeout=3600)
    seconds = time.time() - t0
    try:
        doc: dict[str, Any] = json.loads(p.stdout)
    except json.JSONDecodeError:
        doc = {"error": {"message": (p.stderr or p.stdout)[-400:]}}
    return p.returncode, doc, seconds


def run_case(out: str, source: str, target: str, case: str, stripped: bool,
             injected_index: int, family: str) -> dict[str, Any]:
    inputs = os.path.join(out, "inputs")
    rc, loc, secs = concord(["localize", source, target, "-i", inputs])
    injected, module, fault_type = CASES[case]
    if family == "torchfile":  # the node of the target's own twin that reads the changed tensor
        readers = changed_readers(source + ".twin.onnx", twin_of(target, out))
        injected = readers[0] if len(readers) == 1 else "(%d readers)" % len(readers)
    if family in ("tflite", "openvino", "tflitefile"):
        injected = ""
        module, fault_type = TFLITE_CASES[case][1:]
    row: dict[str, Any] = {"target": family, "case": case,
                           "names": "stripped" if stripped else "kept",
                           "expected_module": module, "expected_fault_type": fault_type,
                           "localize_exit": rc, "localize_s": round(secs, 2)}
    if "error" in loc:
        row["error"] = loc["error"].get("message", "")
        return row
    first = loc.get("first_divergent_node")
    layer = loc.get("source_layer") or {}
    row.update(first_divergent_node=first, kind=loc.get("kind"), fault_type=loc.get("fault_type"),
               source_layer=layer.get("name"), target_layer=(loc.get("target_layer") or {})
               .get("name"), input_sets=loc.get("input_sets"),
               tapped_runs_per_side=loc.get("input_sets"),
               source_runs_ms=loc.get("timings_ms", {}).get("source_runs"),
               target_runs_ms=loc.get("timings_ms", {}).get("target_runs"))
    if case == "control":
        row["correct"] = first is None and loc.get("agree") is True
        return row
    # stripped names: the injected node is n<its index>
    node_ok = first == ("n%d" % injected_index if stripped else injected) or (
        family not in ("torchscript", "torchfile") and not stripped and
        first == injected_name(twin_of(target, out), injected_index))
    module_ok = layer.get("name") == module
    row["correct"] = bool(node_ok and module_ok and loc.get("fault_type") == fault_type)
    fixed = os.path.join(out, "%s-%s-%s.fixed.onnx" % (family, case, row["names"]))
    rc, rep, secs = concord(["repair", source, target, "-i", inputs, "-o", fixed])
    fixed_target = rep.get("fixed_target") or {}
    keys = ("path", "how", "env", "agree", "max_abs", "error")
    row["fixed_target"] = {k: fixed_target.get(k) for k in keys if k in fixed_target}
    row.update(repair_exit=rc, repair_s=round(secs, 2), repair_status=rep.get("status"),
               repair_patches=[p.get("change") for p in rep.get("patches", [])],
               holdout=rep.get("holdout"))
    def worst(result: dict[str, Any]) -> Any:
        return max([o.get("max_abs") or 0 for o in result.get("outputs", [])], default=None)

    labels = rep.get("holdout_labels") or {}
    row["labels_before"], row["labels_after"] = labels.get("before"), labels.get("after")
    row["before_max_abs"] = worst(loc)  # the injected fault's effect on the logits
    row["holdout_max_abs"] = (rep.get("holdout_result") or {}).get("output_max_abs")
    return row


def twin_of(target: str, out: str) -> str:
    if target.endswith(".tflite"):  # a faulty copy of target.tflite: the same converter's names
        return os.path.join(out, "target.tflite.twin.onnx")
    return target if target.endswith(".onnx") else target + ".twin.onnx"


def write_tflite_fault(out: str, faulty_twin: Any, path: str) -> None:
    """The twin's fault written into a copy of target.tflite (adapters/tflite_patch.py: the
    changed initializers' bytes replaced in place), so the target is a real .tflite file."""
    import onnx
    twin = os.path.join(out, "target.tflite.twin.onnx")
    changed = path + ".faulty-twin.onnx"
    onnx.save(faulty_twin, changed)
    p = subprocess.run([os.path.join(REPO, ".venv", "bin", "python"),
                        os.path.join(REPO, "adapters", "tflite_patch.py"),
                        os.path.join(out, "target.tflite"), twin, changed, path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("tflite_patch.py: %s %s" % (p.stdout[-400:], p.stderr[-400:]))


def write_torch_fault(source: str, case: str, path: str) -> None:
    """A copy of source.pt2 whose state dict holds the case's fault: a conv weight with its
    kernel's height and width swapped, or the normalization's std set to 0.5."""
    import torch
    program = torch.export.load(source)
    name = TORCH_FILE_CASES[case]
    if name:
        t = program.state_dict[name]
        with torch.no_grad():
            fault = t.transpose(2, 3).contiguous() if case == "weights" else torch.full_like(t, 0.5)
            t.copy_(fault)
    torch.export.save(program, path)


def changed_readers(source_twin: str, target_twin: str) -> list[str]:
    """Nodes of the target's twin reading an initializer whose values differ from the source
    twin's initializer of the same name: where the fault is, by construction."""
    import onnx
    from onnx import numpy_helper
    src = {t.name: numpy_helper.to_array(t) for t in onnx.load(source_twin).graph.initializer}
    tgt = onnx.load(target_twin)
    changed = {t.name for t in tgt.graph.initializer if t.name in src and not np.array_equal(
        numpy_helper.to_array(t), src[t.name])}
    return [n.name for n in tgt.graph.node if changed & set(n.input)]


def injected_name(target: str, index: int) -> str:
    import onnx
    return str(onnx.load(target, load_external_data=False).graph.node[index].name)


def write_bench(rows: list[dict[str, Any]], bench: str, meta: dict[str, Any]) -> None:
    os.makedirs(bench, exist_ok=True)
    with open(os.path.join(bench, "results.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    lines = ["# Cross-framework localization and repair on injected faults", "",
             "Produced by `%s` on %s (%s). Source: a ResNet-18-shaped torch.export program "
             "(%dx%d input, normalization inside) compared through its ONNX twin (torch.onnx "
             "dynamo, unoptimized). Targets, each with one fault injected and node names kept or "
             "stripped: `torchscript` its TorchScript-exporter conversion (BatchNorm kept); "
             "`tflite` its litert-torch TFLite conversion through the tf2onnx twin (Conv+BN+ReLU "
             "fused, NHWC transposes, Div as Mul; faults written into the twin); `openvino` an IR "
             "converted from each faulty TFLite twin (a target file: repair converts the repaired "
             "twin back to IR and runs it on openvino@cpu); `tflitefile` the TFLite file itself "
             "with the fault written into its buffers (repair writes the repaired weights back "
             "into the file in place and runs it on tflite@cpu); `torchfile` a copy of the "
             "source's .pt2 with the fault in its state dict (repair writes the repaired tensors "
             "back into the state dict and runs it on torch@cpu). %d input sets: localize runs "
             "each side once per set with taps; repair searches on the first half and verifies on "
             "the rest." %
             (meta["command"], meta["date"], meta["machine"], meta["side"], meta["side"],
              meta["sets"]), "",
             "| target | fault | names | first divergent node (target) | source module | "
             "fault type | right? | localize s | max abs before | repair | held-out max abs "
             "after | repaired target file |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def num(v: Any) -> str:
            return "%.2g" % v if v is not None else "-"
        node = r.get("first_divergent_node") or "none"
        if len(node) > 60:  # litert-torch names list every fused module
            node = node[:28] + "..." + node[-28:]
        ft = r.get("fixed_target") or {}
        fixed = ("-" if not ft else ft["error"][:60] if "error" in ft else
                 "%s (%s) on %s: %s, max abs %s" % (
                     os.path.basename(ft["path"]),
                     "patched in place" if "in place" in (ft.get("how") or "") else
                     "state dict patched" if "state dict" in (ft.get("how") or "") else
                     "re-converted",
                     ft["env"], "agrees" if ft["agree"] else "DIVERGES", num(ft["max_abs"])))
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r.get("target", "torchscript"), r["case"], r["names"], node.replace("|", "/"),
            r.get("source_layer") or "-", r.get("fault_type") or "-",
            "yes" if r.get("correct") else "**no**", r.get("localize_s"),
            num(r.get("before_max_abs")), r.get("repair_status", "-"),
            num(r.get("holdout_max_abs")), fixed))
    right = sum(1 for r in rows if r.get("correct"))
    repaired = sum(1 for r in rows if r.get("repair_status") == "repaired")
    faults = sum(1 for r in rows if r["case"] != "control")
    lines += ["", "Localized right: %d of %d cases; repaired (agreeing on held-out inputs): %d "
              "of %d faults." % (right, len(rows), repaired, faults), "",
              "Cost: one tapped run per side and input set (%d each here, on ref); `localize s` "
              "is the wall time of the whole command (both models loaded, %d tapped runs a "
              "side, alignment, report); the source's ONNX twin was exported once beforehand "
              "(%.1f s, torch.onnx dynamo unoptimized)." % (
                  meta["sets"], meta["sets"], meta["source_twin_export_s"]), ""]
    with open(os.path.join(bench, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main(argv: list[str]) -> int:
    import onnx
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "build", "cross_framework_faults"))
    ap.add_argument("--bench", default=os.path.join(REPO, "bench", "cross_framework_faults"))
    ap.add_argument("--side", type=int, default=224)
    ap.add_argument("--sets", type=int, default=6)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--targets", default="torchscript,tflite,openvino,tflitefile,torchfile",
                    help="target families: torchscript (the TorchScript exporter's ONNX), tflite "
                         "(litert-torch's TFLite through its tf2onnx twin), openvino (an IR "
                         "converted from each faulty TFLite twin), tflitefile (the fault written "
                         "into the .tflite file itself; repair patches the file in place), "
                         "torchfile (the fault written into the state dict of a copy of the "
                         "source's .pt2; repair patches the state dict)")
    a = ap.parse_args(argv)
    cases = a.cases.split(",")
    if any(c not in CASES for c in cases):
        print("unknown case (known: %s)" % ", ".join(CASES), file=sys.stderr)
        return 2
    os.makedirs(a.out, exist_ok=True)
    # nothing from an earlier run (another --side or --sets) may be reused
    shutil.rmtree(os.path.join(a.out, "inputs"), ignore_errors=True)
    for stale in glob.glob(os.path.join(a.out, "target.tflite*")):
        os.remove(stale)
    log("making the source and its conversion in %s" % a.out)
    source, faithful = make_source(a.out, a.side, a.sets)
    # The source's ONNX twin, once, beside it (where localize and repair look first).
    t0 = time.time()
    subprocess.run([CONCORD, "convert", source, "--to", "onnx", "--via",
                    "torch.onnx.dynamo.unoptimized", "-o", source + ".twin.onnx"], check=True,
                   stdout=subprocess.DEVNULL)
    twin_s = time.time() - t0
    base = onnx.load(faithful)
    families = a.targets.split(",")
    rows = []
    for family in families:
        if family in ("tflite", "openvino", "tflitefile"):
            tfl = os.path.join(a.out, "target.tflite")
            if not os.path.exists(tfl + ".twin.onnx"):
                subprocess.run([CONCORD, "convert", source, "--to", "tflite", "-o", tfl],
                               check=True, stdout=subprocess.DEVNULL)
            base = onnx.load(tfl + ".twin.onnx")
        for case in cases:
            if family == "torchfile":
                if case not in TORCH_FILE_CASES:
                    continue  # only state-dict values can be written into the .pt2
                target = os.path.join(a.out, "torchfile-%s-kept.pt2" % case)
                write_torch_fault(source, case, target)
                subprocess.run([CONCORD, "convert", target, "--to", "onnx", "--via",
                                "torch.onnx.dynamo.unoptimized", "-o", target + ".twin.onnx"],
                               check=True, stdout=subprocess.DEVNULL)  # like the source's twin
                log("torchfile target, %s" % case)
                rows.append(run_case(a.out, source, target, case, False, -1, family))
                log("  -> %s" % json.dumps({k: rows[-1].get(k) for k in (
                    "first_divergent_node", "source_layer", "fault_type", "correct",
                    "repair_status", "fixed_target")})[:500])
                continue
            if family != "torchscript" and case not in TFLITE_CASES:
                continue  # inputdims: the torchscript family only
            if family == "tflitefile" and case not in TFLITE_FILE_CASES:
                continue  # padding is an op option, not a buffer: tflite_patch cannot write it
            for stripped in ((False,) if family == "tflitefile" else (False, True)):
                if family in ("tflite", "openvino", "tflitefile"):
                    m = inject_tflite(base, case, onnx.load(source + ".twin.onnx"))
                    injected = tflite_node(base, case) if case != "control" else None
                    index = next(i for i, n in enumerate(base.graph.node)
                                 if n is injected) if injected is not None else -1
                else:
                    m = inject(base, case)
                    index = next((i for i, n in enumerate(base.graph.node)
                                  if n.name == CASES[case][0]), -1)
                if stripped:
                    m = strip_names(m)
                names = "stripped" if stripped else "kept"
                target = os.path.join(a.out, "%s-%s-%s.onnx" % (family, case, names))
                onnx.save(m, target)
                if family == "tflitefile":  # the fault written into a .tflite file
                    target = target[:-len(".onnx")] + ".tflite"
                    if case == "control":
                        shutil.copyfile(tfl, target)
                    else:
                        write_tflite_fault(a.out, m, target)
                if family == "openvino":  # the IR made from the faulty twin is the target
                    ir = target[:-len(".onnx")] + ".xml"
                    subprocess.run([CONCORD, "convert", target, "--to", "openvino", "-o", ir],
                                   check=True, stdout=subprocess.DEVNULL)
                    target = ir
                log("%s target, %s (names %s)" % (family, case, names))
                rows.append(run_case(a.out, source, target, case, stripped, index, family))
                log("  -> %s" % json.dumps({k: rows[-1].get(k) for k in (
                    "first_divergent_node", "source_layer", "fault_type", "correct",
                    "repair_status")})[:400])
    meta = {"command": "scripts/cross_framework_faults.py " + " ".join(argv),
            "date": time.strftime("%Y-%m-%d"), "machine": "%d cores" % (os.cpu_count() or 1),
            "side": a.side, "sets": a.sets, "source_twin_export_s": round(twin_s, 1)}
    write_bench(rows, a.bench, meta)
    log("wrote %s" % os.path.join(a.bench, "README.md"))
    # every case localized right; every fault repaired, its file too where there is one, with
    # the source's top-1 label on every held-out set (FetaFix's label metric)
    ok = all(r.get("correct") for r in rows) and all(
        r.get("repair_status") == "repaired" and (r.get("labels_after") or {}).get("top1_agree") == 1
        and (r.get("fixed_target") or {}).get("agree", True) is True
        for r in rows if r["case"] != "control")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
