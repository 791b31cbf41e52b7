"""`concord convert SRC --to FORMAT[,FORMAT...] -o OUT` through real converters: plans the chain
of hops, runs each hop (adapters/convert_hops.py) in the venv that holds its tool, and writes
OUT, its sidecar OUT.concord.json and, where OUT is not ONNX, an ONNX twin OUT.twin.onnx.

    .venv/bin/python adapters/convert_plan.py SRC --to FMT[,FMT...] -o OUT [--via TOOL]...
        [--quantize none|dynamic|fp16|int8] [--calibration DIR] [--inputs FILE.npy]...
        [--python FAMILY=PATH]... [--json]

Formats: onnx, torch (OUT .pt: TorchScript, .pt2: torch.export), tf (SavedModel folder), keras,
tflite, openvino (.xml + .bin). A list in --to names every format the chain goes through
(torch -> onnx,tf,tflite); one format lets the planner pick the shortest chain of installed
tools, using every --via tool named. torch -> onnx takes the dynamo exporter unless the next hop
is onnx2torch (which cannot read opset 18): then the TorchScript exporter, opset 17.

The sidecar records the chain (tool, versions, options of each hop), and by position the source's
input/output names and shapes against OUT's, with the axis permutation a converter applied
(OUT = SRC.transpose(perm), e.g. NCHW -> NHWC = [0, 2, 3, 1]). adapters/io_layout.py applies it
when a worker loads OUT, so OUT takes the source's inputs and gives the source's outputs. ONNX
outputs carry the same record in metadata_props "concord.conversion".

Exit: 0 written; 2 usage (unknown format, no installed tool for a direction, a missing venv);
3 a converter failed (its message on stderr). Nothing is left at OUT unless it succeeded.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import Any, NamedTuple, Optional

JsonDict = dict[str, Any]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOPS_SCRIPT = os.path.join(REPO, "adapters", "convert_hops.py")
FORMATS = ("onnx", "torch", "tf", "keras", "tflite", "openvino")


class Edge(NamedTuple):
    src: str
    dst: str
    tool: str
    family: str


# Order matters: the first edge of a direction is its default tool.
EDGES = (
    Edge("torch", "onnx", "torch.onnx.dynamo", "torch"),
    Edge("torch", "onnx", "torch.onnx.torchscript", "torch"),
    # the dynamo exporter without its graph optimizer: one ONNX node per aten op, BatchNorm kept,
    # every node's module scope intact (the ONNX twin localize compares a torch.export source by)
    Edge("torch", "onnx", "torch.onnx.dynamo.unoptimized", "torch"),
    Edge("torch", "tflite", "litert-torch", "torch"),
    Edge("torch", "openvino", "openvino", "torch"),
    Edge("onnx", "torch", "onnx2torch", "torch"),
    Edge("onnx", "openvino", "openvino", "torch"),
    Edge("onnx", "tf", "onnx2tf", "onnx2tf"),
    Edge("onnx", "tflite", "onnx2tf", "onnx2tf"),
    Edge("keras", "onnx", "tf2onnx", "tf"),
    Edge("tf", "onnx", "tf2onnx", "tf"),
    Edge("tflite", "onnx", "tf2onnx", "tf"),
    Edge("keras", "tflite", "tflite-converter", "tf"),
    Edge("tf", "tflite", "tflite-converter", "tf"),
    Edge("keras", "tf", "keras.export", "tf"),
    Edge("tflite", "openvino", "openvino", "torch"),
)
TOOLS = sorted({e.tool for e in EDGES})
QUANTIZING = {"tflite-converter": ("none", "dynamic", "fp16", "int8"),
              "onnx2tf": ("none", "fp16"), "openvino": ("none", "fp16")}


class ConvertError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def kind_of(path: str) -> str:
    """The file kind of a model path (convert_hops.py's src_kind)."""
    if os.path.isdir(path):
        if os.path.exists(os.path.join(path, "saved_model.pb")):
            return "savedmodel"
        raise ConvertError(2, "%s is a folder without saved_model.pb" % path)
    ext = os.path.splitext(path)[1].lower()
    kinds = {".onnx": "onnx", ".pt": "torchscript", ".pt2": "export", ".keras": "keras",
             ".tflite": "tflite", ".xml": "openvino"}
    if ext not in kinds:
        raise ConvertError(2, "%s: unknown model format '%s' (known: %s, a SavedModel folder)"
                           % (path, ext, " ".join(kinds)))
    return kinds[ext]


def node_of(kind: str) -> str:
    return {"torchscript": "torch", "export": "torch", "savedmodel": "tf"}.get(kind, kind)


def plan_segment(src: str, dst: str, via: list[str]) -> list[Edge]:
    """The shortest chain src -> dst using every tool in `via` that fits (edges in default
    order); ConvertError(2) when none exists."""
    best: Optional[list[Edge]] = None
    for length in range(1, 5):
        for chain in itertools.product(EDGES, repeat=length):
            if chain[0].src != src or chain[-1].dst != dst:
                continue
            if any(a.dst != b.src for a, b in zip(chain, chain[1:])):
                continue
            nodes = [chain[0].src] + [e.dst for e in chain]
            if len(set(nodes)) != len(nodes):
                continue
            used = {e.tool for e in chain}
            wanted = [t for t in via if any(e.tool == t for e in EDGES if e.src in nodes)]
            if all(t in used for t in wanted):
                best = list(chain)
                break
        if best is not None:
            break
    if best is None:
        raise ConvertError(2, "no installed converter goes from %s to %s (tools: %s)"
                           % (src, dst, "; ".join("%s %s->%s" % (e.tool, e.src, e.dst)
                                                 for e in EDGES)))
    for i, e in enumerate(best[:-1]):
        if (e.tool == "torch.onnx.dynamo" and best[i + 1].tool == "onnx2torch"
                and "torch.onnx.dynamo" not in via):
            best[i] = Edge(e.src, e.dst, "torch.onnx.torchscript", e.family)
    return best


def plan(src_kind: str, targets: list[str], via: list[str]) -> list[Edge]:
    for t in targets:
        if t not in FORMATS:
            raise ConvertError(2, "unknown --to format '%s' (known: %s)" % (t, ", ".join(FORMATS)))
    for t in via:
        if t not in TOOLS:
            raise ConvertError(2, "unknown --via tool '%s' (known: %s)" % (t, ", ".join(TOOLS)))
    chain: list[Edge] = []
    here = node_of(src_kind)
    for t in targets:
        if t == here:
            raise ConvertError(2, "--to %s: the model is already %s" % (t, t))
        chain += plan_segment(here, t, via)
        here = t
    return chain


def perm_between(src: list[int], dst: list[int]) -> Optional[list[int]]:
    """perm with dst == [src[p] for p in perm]: identity when equal, else the channel-last move
    (NCHW -> NHWC), its inverse, then any unique permutation; None when shapes do not match."""
    n = len(src)
    if len(dst) != n:
        return None
    src = [d if d > 0 else -1 for d in src]  # a dynamic dim matches any size
    dst = [d if d > 0 else -1 for d in dst]
    if -1 in src or -1 in dst:
        same = all(a == b or a < 0 or b < 0 for a, b in zip(src, dst))
        if same:
            return list(range(n))
    ident = list(range(n))
    if src == dst:
        return ident
    tries = [[0] + list(range(2, n)) + [1], [0, n - 1] + list(range(1, n - 1))] if n > 2 else []
    tries += [list(p) for p in itertools.permutations(ident)]
    for p in tries:
        if [src[i] for i in p] == dst:
            return p
    return None


def compose(first: list[int], second: list[int]) -> list[int]:
    return [first[j] for j in second]


def layout(chain_records: list[JsonDict], side: str) -> list[JsonDict]:
    """By position: the source's name/shape, OUT's, and the total permutation."""
    first = chain_records[0]["src_" + side]
    entries = [{"source_name": s["name"], "source_shape": s["shape"],
                "perm": list(range(len(s["shape"])))} for s in first]
    for rec in chain_records:
        before, after = rec["src_" + side], rec[side]
        if len(before) != len(after) or len(after) != len(entries):
            raise ConvertError(3, "%s: %d %s in, %d out; cannot map them by position"
                               % (rec["tool"], len(before), side, len(after)))
        for e, b, a in zip(entries, before, after):
            p = perm_between(b["shape"], a["shape"])
            if p is None:
                raise ConvertError(3, "%s changed %s '%s' from shape %s to %s (not a transpose)"
                                   % (rec["tool"], side, b["name"], b["shape"], a["shape"]))
            e["perm"] = compose(e["perm"], p)
            e["name"], e["shape"] = a["name"], a["shape"]
    return entries


def python_for(family: str, pythons: dict[str, str]) -> str:
    path = (pythons.get(family) or os.environ.get("CONCORD_PYTHON_%s" % family.upper())
            or os.path.join(REPO, ".venv-%s" % family, "bin", "python"))
    if not os.access(path, os.X_OK):
        raise ConvertError(2, "no Python at %s: the %s venv is missing (run `scripts/setup_venvs "
                           "%s`)" % (path, family, family))
    return path


def run_hop(edge: Edge, req: JsonDict, pythons: dict[str, str]) -> JsonDict:
    req = dict(req, tool=edge.tool)
    p = subprocess.run([python_for(edge.family, pythons), HOPS_SCRIPT, json.dumps(req)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        tail = "\n".join(p.stderr.strip().splitlines()[-25:])
        raise ConvertError(3 if p.returncode != 2 else 2, "%s (%s -> %s) failed:\n%s"
                           % (edge.tool, edge.src, edge.dst, tail))
    record: JsonDict = json.loads(p.stdout.strip().splitlines()[-1])
    record.update(src_kind=req["src_kind"], dst_kind=req["dst_kind"])
    return record


def file_name(kind: str, stem: str) -> str:
    ext = {"onnx": ".onnx", "torchscript": ".pt", "export": ".pt2", "keras": ".keras",
           "savedmodel": "", "tflite": ".tflite", "openvino": ".xml"}[kind]
    return stem + ext


def dst_kind(node: str, out: str, last: bool) -> str:
    if node == "torch":
        return "export" if last and out.endswith(".pt2") else "torchscript"
    return {"tf": "savedmodel"}.get(node, node)


def twin_edge(kind: str) -> Optional[Edge]:
    """The ONNX-side tool that turns an artefact of `kind` into its ONNX twin."""
    return {"tflite": Edge("tflite", "onnx", "tf2onnx", "tf"),
            "savedmodel": Edge("tf", "onnx", "tf2onnx", "tf"),
            "keras": Edge("keras", "onnx", "tf2onnx", "tf"),
            "torchscript": Edge("torch", "onnx", "torch.onnx.torchscript", "torch"),
            # an ExportedProgram cannot be traced again (its module refuses train())
            "export": Edge("torch", "onnx", "torch.onnx.dynamo", "torch")}.get(kind)


def write_examples(entries: list[JsonDict], work: str, key: str, name_key: str) -> list[str]:
    import numpy as np
    paths = []
    for i, e in enumerate(entries):
        shape = [d if d > 0 else 1 for d in e[key]]
        path = os.path.join(work, "example_%s_%d.npy" % (name_key, i))
        np.save(path, np.random.RandomState(i).uniform(-1, 1, shape).astype(np.float32))
        paths.append(path)
    return paths


def make_twin(kind: str, artefact: str, work: str, inputs: list[JsonDict],
              onnx_steps: list[str], pythons: dict[str, str],
              compressed: bool = False) -> tuple[Optional[str], str]:
    """(path of the twin in `work` or None, how it was made). compressed: the artefact is an
    OpenVINO IR saved with compress_to_fp16."""
    edge = twin_edge(kind)
    twin = os.path.join(work, "twin.onnx")
    if edge is not None:
        req = {"src": artefact, "src_kind": kind, "dst": twin, "dst_kind": "onnx",
               "quantize": "none", "calibration": [],
               "examples": write_examples(inputs, work, "shape", "twin")}
        rec = run_hop(edge, req, pythons)
        return twin, "%s %s" % (rec["tool"], json.dumps(rec["versions"], sort_keys=True))
    if onnx_steps:
        shutil.copy(onnx_steps[-1], twin)
        how = "the chain's last ONNX step (no tool converts %s to ONNX)" % kind
        if kind == "openvino" and compressed:
            # compress_to_fp16 happens after that step: the IR's own float16 weights go in.
            req = {"src": artefact, "src_kind": kind, "dst": twin, "dst_kind": "onnx",
                   "onnx": twin}
            rec = run_hop(Edge("openvino", "onnx", "openvino.constants", "torch"), req, pythons)
            opts = rec["options"]
            how += (", with the IR's compressed weights: %d of %d float initializers take the "
                    "IR's float16 values" % (opts["initializers_from_ir"],
                                             opts["float_initializers"]))
        return twin, how
    return None, "none: no tool converts %s to ONNX and the chain has no ONNX step" % kind


def tag_onnx(path: str, record: JsonDict) -> None:
    import onnx
    m = onnx.load(path)
    kept = [p for p in m.metadata_props if p.key != "concord.conversion"]
    del m.metadata_props[:]
    m.metadata_props.extend(kept)
    m.metadata_props.add(key="concord.conversion", value=json.dumps(record, sort_keys=True))
    onnx.save(m, path)


def replace_path(tmp: str, final: str) -> None:
    if os.path.isdir(final) and not os.path.islink(final):
        shutil.rmtree(final)
    os.replace(tmp, final)


def publish(work: str, artefact: str, kind: str, out: str) -> None:
    """Moves the artefact (and an OpenVINO .bin) from `work` to `out`, file by file, each by
    rename on the same file system."""
    if kind == "openvino":
        replace_path(artefact[:-4] + ".bin", out[:-4] + ".bin")
    replace_path(artefact, out)


def convert(a: argparse.Namespace) -> JsonDict:
    src = a.src
    if not os.path.exists(src):
        raise ConvertError(2, "%s: no such model" % src)
    src_kind = kind_of(src)
    targets = [t for t in a.to.split(",") if t]
    chain = plan(src_kind, targets, a.via)
    last = dst_kind(chain[-1].dst, a.out, True)
    if a.quantize != "none" and a.quantize not in QUANTIZING.get(chain[-1].tool, ("none",)):
        raise ConvertError(2, "--quantize %s: the last hop (%s) cannot quantize that way (it "
                           "takes: %s)" % (a.quantize, chain[-1].tool,
                                           ", ".join(QUANTIZING.get(chain[-1].tool, ("none",)))))
    expected = {"openvino": ".xml", "onnx": ".onnx", "tflite": ".tflite", "keras": ".keras"}
    if last in expected and not a.out.endswith(expected[last]):
        raise ConvertError(2, "-o %s: a %s model is written as *%s" % (a.out, last, expected[last]))
    if last in ("torchscript", "export") and not a.out.endswith((".pt", ".pt2")):
        raise ConvertError(2, "-o %s: a torch model is written as *.pt (TorchScript) or *.pt2 "
                           "(torch.export)" % a.out)
    calibration = sorted(os.path.join(a.calibration, f) for f in os.listdir(a.calibration)
                         if f.endswith(".npy")) if a.calibration else []
    pythons = dict(p.split("=", 1) for p in a.python)
    out_dir = os.path.dirname(os.path.abspath(a.out))
    os.makedirs(out_dir, exist_ok=True)
    work = tempfile.mkdtemp(prefix=".concord-convert-", dir=out_dir)
    try:
        here, here_kind, records = src, src_kind, []
        onnx_steps = [src] if src_kind == "onnx" else []
        for i, edge in enumerate(chain):
            is_last = i == len(chain) - 1
            kind = dst_kind(edge.dst, a.out, is_last)
            dst = os.path.join(work, file_name(kind, "step%d" % i))
            req = {"src": os.path.abspath(here), "src_kind": here_kind, "dst": dst,
                   "dst_kind": kind, "quantize": a.quantize if is_last else "none",
                   "calibration": calibration, "examples": a.inputs if i == 0 else []}
            records.append(run_hop(edge, req, pythons))
            if kind == "onnx":
                onnx_steps.append(dst)
            here, here_kind = dst, kind
        inputs, outputs = layout(records, "inputs"), layout(records, "outputs")
        sidecar: JsonDict = {
            "format": "concord.conversion/1", "source": os.path.abspath(src),
            "source_kind": src_kind, "kind": last,
            "chain": [{k: r[k] for k in ("tool", "src_kind", "dst_kind", "versions", "options")}
                      for r in records],
            "quantize": a.quantize, "inputs": inputs, "outputs": outputs}
        twin = None
        if last == "onnx":
            tag_onnx(here, sidecar)
        else:
            compressed = any(r.get("options", {}).get("compress_to_fp16") for r in records)
            twin, how = make_twin(last, here, work, inputs, onnx_steps, pythons, compressed)
            sidecar["twin"] = {"path": os.path.abspath(a.out) + ".twin.onnx" if twin else None,
                               "how": how}
            if twin:
                tag_onnx(twin, dict(sidecar, twin_of=os.path.abspath(a.out)))
        side_tmp = os.path.join(work, "sidecar.json")
        with open(side_tmp, "w") as f:
            json.dump(sidecar, f, indent=2, sort_keys=True)
        publish(work, here, last, a.out)
        if twin:
            replace_path(twin, a.out + ".twin.onnx")
        replace_path(side_tmp, a.out + ".concord.json")
        return sidecar
    finally:
        shutil.rmtree(work, ignore_errors=True)


def describe(rec: JsonDict, out: str) -> str:
    lines = ["chain   %s" % " -> ".join([rec["source_kind"]] + [
        "%s (%s)" % (h["dst_kind"], h["tool"]) for h in rec["chain"]])]
    for h in rec["chain"]:
        lines.append("  %-22s %s  %s" % (h["tool"], json.dumps(h["versions"], sort_keys=True),
                                         json.dumps(h["options"], sort_keys=True)))
    for side in ("inputs", "outputs"):
        for e in rec[side]:
            moved = e["perm"] != sorted(e["perm"])
            lines.append("%-7s %s %s -> %s %s%s" % (
                side[:-1], e["source_name"], e["source_shape"], e["name"], e["shape"],
                "  (layout perm %s, undone when run)" % e["perm"] if moved else ""))
    lines.append("output  %s  (+ %s.concord.json%s)" % (
        out, out, ", %s.twin.onnx: %s" % (out, rec["twin"]["how"])
        if rec.get("twin", {}).get("path") else ""))
    if rec.get("twin") and not rec["twin"]["path"]:
        lines.append("twin    %s" % rec["twin"]["how"])
    return "\n".join(lines)


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="concord convert --to")
    ap.add_argument("src")
    ap.add_argument("--to", required=True)
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--via", action="append", default=[])
    ap.add_argument("--quantize", default="none", choices=("none", "dynamic", "fp16", "int8"))
    ap.add_argument("--calibration", default="")
    ap.add_argument("--inputs", action="append", default=[])
    ap.add_argument("--python", action="append", default=[], help="FAMILY=PATH")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    if a.quantize == "int8" and not a.calibration:
        print("convert: --quantize int8 needs --calibration DIR (.npy input sets)",
              file=sys.stderr)
        return 2
    try:
        rec = convert(a)
    except ConvertError as e:
        print("convert: %s" % e, file=sys.stderr)
        return e.code
    print(json.dumps(rec, indent=2, sort_keys=True) if a.json else describe(rec, a.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
