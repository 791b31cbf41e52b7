#!/usr/bin/env python3
"""The conversion study: every installable direction on every source model, run on the target
frameworks' own envs, with the first divergent layer of every divergence.

    .venv/bin/python scripts/conversion_study.py [--models NAME,...] [--out DIR] [--bench DIR]

1. Source models (scripts/make_source_models.py, made once into build/sources/): torchvision's
   MobileNetV2, ResNet-50/101, InceptionV3, DenseNet-121, EfficientNet-Lite0 (ImageNet
   weights) and MTCNN's P/R/O-Nets (facenet-pytorch's trained weights) as torch.export programs; keras.applications' MobileNetV2, ResNet-50/101,
   InceptionV3, DenseNet-121 as .keras files, and those saved as TensorFlow SavedModels
   (keras.export) and converted to TFLite (TFLiteConverter), as DeltaNN's TF and TFLite sources
   were: DeltaNN's 12 directions between Keras, PyTorch, TF and TFLite, plus ONNX and OpenVINO.
2. One `concord matrix` run (DIR/study.json, store DIR/study.db, report DIR/report.html) on the
   packaged photos: each source runs on its own env (torch@cpu / keras@cpu); its ONNX twin
   (torch.onnx dynamo exporter / tf2onnx) on ONNX Runtime; its conversions on tflite@cpu,
   openvino@cpu, tf@cpu and torch@cpu. PyTorch sources: -> tflite (litert-torch), -> openvino,
   -> tf (onnx2tf), -> keras (no installed tool: recorded as failing). Keras sources: -> tflite
   (TFLiteConverter), -> tf (keras.export), -> torch (tf2onnx then onnx2torch, TorchScript),
   -> openvino (tf2onnx then OpenVINO). TF sources: -> tflite, -> torch, -> openvino, -> keras;
   TFLite sources: -> torch, -> tf (onnx2tf), -> openvino, -> keras (no tool: failing).
3. For every divergent direction (top-1 agreement below 100 % or a max abs difference above
   --atol on any photo), `concord localize` on the ONNX twins (the source's against the
   target's, both on ref) names the first divergent node and its kind.
4. BENCH/README.md (the table) and BENCH/study.json (every figure) are written.

Exit 0 when the study ran (divergences are results, not failures); 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from typing import Any

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONCORD = os.path.join(REPO, "build", "bin", "concord")
TORCH_MODELS = ["mobilenet_v2", "resnet50", "resnet101", "inception_v3", "densenet121",
                "efficientnet_lite0", "mtcnn_pnet", "mtcnn_rnet", "mtcnn_onet"]
SIDE = {"inception_v3": 299, "mtcnn_pnet": 48, "mtcnn_rnet": 24, "mtcnn_onet": 48}
KERAS_MODELS = ["mobilenet_v2", "resnet50", "resnet101", "inception_v3", "densenet121"]
# TensorFlow and TFLite sources are the Keras models saved as a SavedModel (keras.export) and
# converted to TFLite (TFLiteConverter, fp32), as DeltaNN's were.
TF_DIRECTIONS = [{"to": "tflite"}, {"to": "torch", "torchscript": True}, {"to": "openvino"},
                 {"to": "keras"}]
TFLITE_DIRECTIONS = [{"to": "torch", "torchscript": True}, {"to": "tf", "via": "onnx2tf"},
                     {"to": "openvino"}, {"to": "keras"}]
EXT = {"torch": ".pt2", "keras": ".keras", "tf": ".savedmodel", "tflite": ".tflite"}
LAYOUT = {"torch": "NCHW", "keras": "NHWC", "tf": "NHWC", "tflite": "NHWC"}
TORCH_DIRECTIONS = [{"to": "tflite"}, {"to": "openvino"}, {"to": "tf", "via": "onnx2tf"},
                    {"to": "keras"}]
# onnx2torch's modules often defeat torch.export (Squeeze with axes from an initializer is
# data-dependent to it): the PyTorch direction is saved as TorchScript.
KERAS_DIRECTIONS = [{"to": "tflite"}, {"to": "tf"}, {"to": "torch", "torchscript": True},
                    {"to": "openvino"}]
# Deployment settings (quantized conversions), reported apart from the fp32 directions: each runs
# on its own twin= env beside the fp32 file. Keras sources: TFLiteConverter dynamic-range, fp16
# and full int8 (calibrated on CALIBRATION_PHOTOS, none of them evaluated), OpenVINO
# compress_to_fp16; PyTorch sources: OpenVINO compress_to_fp16 (litert-torch does not quantize),
# through the dynamo exporter's ONNX as Keras sources go through tf2onnx's: OpenVINO's PyTorch
# frontend folds BatchNorms into unnamed constants, so the IR it writes straight from the program
# has no ONNX twin that could carry its float16 weights (localize compares through twins).
KERAS_QUANTIZED = [{"to": "tflite", "quantize": "dynamic"}, {"to": "tflite", "quantize": "fp16"},
                   {"to": "tflite", "quantize": "int8", "calibration": "CALIBRATION"},
                   {"to": "openvino", "quantize": "fp16"}]
TORCH_QUANTIZED = [{"to": "openvino", "quantize": "fp16", "via": "torch.onnx.dynamo"}]
CALIBRATION_PHOTOS = [
    "/usr/lib/python3/dist-packages/skimage/data/" + n for n in
    ("astronaut.png", "rocket.jpg", "motorcycle_left.png", "color.png", "ihc.png",
     "hubble_deep_field.jpg", "retina.jpg")] + [
    "/usr/share/doc/opencv-doc/examples/data/" + n for n in
    ("HappyFish.jpg", "aero1.jpg", "fruits.jpg", "home.jpg", "building.jpg")]
ENVS = ["torch@cpu,opt=0", "keras@cpu", "ort@cpu,opt=3", "tflite@cpu", "openvino@cpu", "tf@cpu",
        "tflite@cpu,twin=tflite-dynamic", "tflite@cpu,twin=tflite-fp16",
        "tflite@cpu,twin=tflite-int8", "openvino@cpu,twin=openvino-fp16",
        "openvino@cpu,twin=openvino-via-torch_onnx_dynamo-fp16"]


def log(msg: str) -> None:
    print("[conversion_study] " + msg, file=sys.stderr, flush=True)


def make_sources(framework: str, names: list[str], out: str) -> None:
    missing = [n for n in names if not os.path.exists(os.path.join(out, n + EXT[framework]))]
    if not missing:
        return
    log("making %s sources %s in %s" % (framework, ",".join(missing), out))
    if framework in ("tf", "tflite"):  # from the Keras sources, by the real converters
        keras_dir = os.path.join(os.path.dirname(out), "keras")
        make_sources("keras", missing, keras_dir)
        os.makedirs(out, exist_ok=True)
        for n in missing:
            subprocess.run([CONCORD, "convert", os.path.join(keras_dir, n + ".keras"), "--to",
                            framework, "-o", os.path.join(out, n + EXT[framework])],
                           check=True, stdout=subprocess.DEVNULL)
        return
    python = os.path.join(REPO, ".venv-torch" if framework == "torch" else ".venv-tf", "bin",
                          "python")
    env = dict(os.environ, PYTHONPATH=os.path.join(REPO, "build", "demo", "pydeps"),
               TF_CPP_MIN_LOG_LEVEL="3")
    subprocess.run([python, os.path.join(REPO, "scripts", "make_source_models.py"), framework,
                    out, "--only", ",".join(missing)], check=True, env=env,
                   stdout=subprocess.DEVNULL)


def preprocess(side: int, layout: str) -> dict[str, Any]:
    # make_source_models calibrated the models on photos scaled to [-1, 1]
    return {"resize": {"mode": "exact", "size": [side, side], "interpolation": "area"},
            "scale": 1.0, "mean": [127.5] * 3, "std": [127.5] * 3, "channel_order": "RGB",
            "layout": layout, "dtype": "float32"}


def calibration_folder(out: str) -> str:
    """CALIBRATION_PHOTOS copied into OUT/calibration (int8 conversions calibrate on them)."""
    folder = os.path.join(out, "calibration")
    os.makedirs(folder, exist_ok=True)
    for src in CALIBRATION_PHOTOS:
        dst = os.path.join(folder, os.path.basename(src))
        if not os.path.exists(dst):
            shutil.copy(src, dst)
    return folder


def study_config(selected: dict[str, list[str]], sources: str, photos: str,
                 calibration: str) -> dict[str, Any]:
    quantized = [dict(d, calibration=calibration) if "calibration" in d else d
                 for d in KERAS_QUANTIZED]
    directions = {"torch": TORCH_DIRECTIONS + TORCH_QUANTIZED,
                  "keras": KERAS_DIRECTIONS + quantized, "tf": TF_DIRECTIONS,
                  "tflite": TFLITE_DIRECTIONS}
    models = []
    for framework, names in selected.items():
        for n in names:
            side = SIDE.get(n, 224)
            m: dict[str, Any] = {
                "name": "%s (%s)" % (n, framework),
                "path": os.path.join(sources, framework, n + EXT[framework]),
                "preprocess": preprocess(side, LAYOUT[framework]),
                "label_space": {"num_classes": 1000, "offset": 0},
                "conversions": directions[framework]}
            if n == "efficientnet_lite0":  # its own training preprocessing (scripts/demo's)
                m["preprocess"].update(mean=[127.0] * 3, std=[128.0] * 3)
                m["class_names"] = os.path.join(REPO, "build", "demo", "imagenet_classes.txt")
            if n.startswith("mtcnn"):  # face detector stages: MTCNN's (x - 127.5) / 128
                m["preprocess"].update(mean=[127.5] * 3, std=[128.0] * 3)
                del m["label_space"]
            models.append(m)
    # A twin= env runs one deployment setting: kept only when some selected model has it (the
    # matrix refuses an env whose direction no model makes, e.g. TFLite int8 for torch sources).
    made = {label(d) for m in models for d in m["conversions"]}
    envs = [e for e in ENVS if "twin=" not in e or e.split("twin=")[1].split(",")[0] in made]
    return {"name": "Conversion study", "models": models, "envs": envs,
            "dataset": {"images": photos, "labels": os.path.join(photos, "labels.csv")},
            "repeats": 1, "top_k": 5, "isolate": True}


def write_example(path: str, selected: dict[str, list[str]], sources: str) -> None:
    """The study's config with every path relative to `path`'s folder (the sources and
    calibration photos are made by a run of this script into build/)."""
    here = os.path.dirname(os.path.abspath(path))
    build = os.path.join(REPO, "build", "conversion_study")
    config = study_config(selected, sources, os.path.join(REPO, "build", "demo", "photos"),
                          os.path.join(build, "calibration"))

    def rel(p: str) -> str:
        return os.path.relpath(p, here)

    for m in config["models"]:
        m["path"] = rel(m["path"])
        if "class_names" in m:
            m["class_names"] = rel(m["class_names"])
        m["conversions"] = [dict(d, calibration=rel(d["calibration"])) if "calibration" in d
                            else d for d in m["conversions"]]
    config["dataset"] = {k: rel(v) for k, v in config["dataset"].items()}
    with open(path, "w") as f:
        json.dump(config, f, indent=1)
        f.write("\n")


def twin_onnx(path: str) -> str:
    """The ONNX file of a direction's artefact: itself for ONNX, else convert's OUT.twin.onnx."""
    return path if path.endswith(".onnx") else path + ".twin.onnx"


def localize(source_onnx: str, target_onnx: str, atol: float) -> dict[str, Any]:
    if not os.path.exists(target_onnx):
        return {"error": "no ONNX twin (%s)" % os.path.basename(target_onnx)}
    p = subprocess.run([CONCORD, "localize", source_onnx, target_onnx, "--json", "--atol",
                        str(atol), "--rtol", "1e-3"], capture_output=True, text=True,
                       timeout=3600)
    try:
        doc = json.loads(p.stdout)
    except json.JSONDecodeError:
        return {"error": (p.stderr or p.stdout).strip()[-300:]}
    if "error" in doc:
        return {"error": doc["error"].get("message", "")[:300]}
    return {"first_divergent_node": doc.get("first_divergent_node"), "kind": doc.get("kind"),
            "counterpart": doc.get("counterpart"), "exit": p.returncode}


def label(direction: dict[str, Any]) -> str:
    """MatrixConversion::Label of a config direction."""
    text = "torchscript" if direction.get("torchscript") else direction["to"]
    via = direction.get("via", [])
    for v in [via] if isinstance(via, str) else via:
        text += "-via-" + v
    if direction.get("quantize", "none") != "none":
        text += "-" + direction["quantize"]
    return "".join(ch if ch.isalnum() or ch == "-" else "_" for ch in text)


def rows_of(analysis: dict[str, Any], atol: float,
            configured: dict[str, set[str]]) -> list[dict[str, Any]]:
    """One row per direction of each model (the store may keep directions an earlier config
    had: only those of `configured[model name]` are reported)."""
    rows = []
    for model in analysis["models"]:
        if model["name"] not in configured:
            continue
        directions = model.get("directions") or {}
        hub = next((r["file"] for r in directions.get("rows", []) if r["direction"] == "onnx"),
                   None)
        for r in directions.get("rows", []):
            if r["direction"] == "source" or (
                    r["direction"] not in configured[model["name"]] | {"onnx"}):
                continue
            row: dict[str, Any] = {"model": model["name"], "direction": r["direction"],
                                   "tools": r.get("tools", []), "status": r["status"],
                                   "file": r["file"], "quantize": r.get("quantize", "none")}
            if r["status"] != "ok":
                row["verdict"] = "fails"
                row["message"] = first_error_line(r.get("message") or "")
                rows.append(row)
                continue
            cells = [c for c in r["cells"] if not c.get("reference")]
            if not cells:
                row["verdict"] = "not run"
                rows.append(row)
                continue
            c = cells[0]
            row.update(env=c["env"], top1_agree=c["top1_agree"], kendall_tau=c["kendall_tau"],
                       topk_jaccard=c["topk_jaccard"], rank_distance=c.get("rank_distance"),
                       max_abs=c["max_abs"], max_rel=c["max_rel"])
            diverges = (c["top1_agree"] is not None and c["top1_agree"] < 1.0) or \
                (c["max_abs"] is not None and c["max_abs"] > atol) or c["max_abs"] is None
            if row["quantize"] != "none":  # a deployment setting: expected to differ
                row["verdict"] = "quantized"
                rows.append(row)
                continue
            row["verdict"] = "diverges" if diverges else "faithful"
            if diverges and hub and r["direction"] != "onnx":
                row["localize"] = localize(hub, twin_onnx(r["file"]), atol)
            rows.append(row)
    return rows


def first_error_line(message: str) -> str:
    """The line of a converter's output that names the error (Python's 'XError: ...', else the
    last line)."""
    lines = [ln.strip() for ln in message.strip().splitlines() if ln.strip()]
    for ln in lines:
        if ln.split(":", 1)[0].endswith(("Error", "Exception")) and ":" in ln:
            return ln[:240]
    for ln in lines:
        if ln.startswith("convert:") and not ln.endswith("failed:"):
            return ln[:240]
    return lines[-1][:240] if lines else ""


def fmt(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return "%.0f %%" % (100 * v) if pct else "%.3g" % v


def write_bench(rows: list[dict[str, Any]], bench: str, meta: dict[str, Any]) -> None:
    os.makedirs(bench, exist_ok=True)
    with open(os.path.join(bench, "study.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    lines = ["# Conversion study", "",
             "Produced by `%s` on %s (%s); this invocation %s (the conversions and cells of "
             "earlier invocations are reused from the store). Each direction's file ran on its own framework's "
             "env and is compared with the source on its own env (torch@cpu eager, keras@cpu, "
             "tf@cpu, tflite@cpu) over "
             "the packaged photos: top-1 agreement, Kendall tau of the top-5, rank distance (mean "
             "displacement of the source's top-5 labels in the target's ranking), max abs logit "
             "difference. A divergence is top-1 below 100 %% or max abs above %g; its first "
             "divergent node comes from `concord localize` on the ONNX twins." %
             (meta["command"], meta["date"], meta["machine"], meta["duration"], meta["atol"]),
             "", "| source | direction | tools | env | verdict | top-1 | Kendall tau | rank dist. |"
             " max abs | first divergent node (kind) |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in [r for r in rows if r["verdict"] != "quantized"]:
        loc = r.get("localize") or {}
        where = ("%s (%s)" % (loc.get("first_divergent_node"), loc.get("kind"))
                 if "first_divergent_node" in loc else loc.get("error", ""))
        if r["verdict"] == "fails":
            where = r.get("message", "")
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            r["model"], r["direction"], " -> ".join(r.get("tools", [])) or "-",
            r.get("env", "-"), r["verdict"], fmt(r.get("top1_agree"), True),
            fmt(r.get("kendall_tau")), fmt(r.get("rank_distance")), fmt(r.get("max_abs")),
            where.replace("|", "/")))
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines += ["", "Directions: " + ", ".join("%d %s" % (n, v) for v, n in sorted(counts.items())),
              ""]
    quantized = [r for r in rows if r["verdict"] == "quantized"]
    if quantized:
        lines += ["## Deployment settings (quantized conversions)", "",
                  "Not converter bugs: the figures measure what the setting costs against the "
                  "fp32 source (int8 calibrated on %d photos none of which is evaluated)." %
                  len(CALIBRATION_PHOTOS), "",
                  "| source | setting | tools | env | top-1 | Kendall tau | rank dist. | max abs |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in quantized:
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["model"], r["direction"], " -> ".join(r.get("tools", [])) or "-",
                r.get("env", "-"), fmt(r.get("top1_agree"), True), fmt(r.get("kendall_tau")),
                fmt(r.get("rank_distance")), fmt(r.get("max_abs"))))
        lines.append("")
    with open(os.path.join(bench, "README.md"), "w") as f:
        f.write("\n".join(lines))


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", default="", help="only these names (both frameworks)")
    ap.add_argument("--frameworks", default="torch,keras,tf,tflite",
                    help="source frameworks, comma-separated")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "conversion_study"))
    ap.add_argument("--bench", default=os.path.join(REPO, "bench", "conversion_study"))
    ap.add_argument("--atol", type=float, default=1e-3)
    ap.add_argument("--example", default="",
                    help="only write the study's matrix config to this file, with paths "
                         "relative to it (examples/conversions/study.json), and exit")
    a = ap.parse_args(argv)
    only = set(a.models.split(",")) if a.models else None
    selected: dict[str, list[str]] = {}
    for framework in a.frameworks.split(","):
        if framework not in EXT:
            print("unknown framework %s (known: %s)" % (framework, ", ".join(EXT)),
                  file=sys.stderr)
            return 2
        names = TORCH_MODELS if framework == "torch" else KERAS_MODELS
        selected[framework] = [n for n in names if only is None or n in only]
    if not any(selected.values()):
        print("no models selected", file=sys.stderr)
        return 2
    sources = os.path.join(REPO, "build", "sources")
    if a.example:
        write_example(a.example, selected, sources)
        return 0
    for framework, names in selected.items():
        make_sources(framework, names, os.path.join(sources, framework))
    a.out = os.path.abspath(a.out)  # the config's paths are read relative to its own folder
    os.makedirs(a.out, exist_ok=True)
    config = os.path.join(a.out, "study.json")
    with open(config, "w") as f:
        json.dump(study_config(selected, sources, os.path.join(REPO, "build", "demo", "photos"),
                               calibration_folder(a.out)), f, indent=1)
    t0 = time.time()
    db = os.path.join(a.out, "study.db")
    log("concord matrix %s --db %s" % (config, db))
    # --retry-failed: cells that failed before a direction existed (an env with nothing to run
    # then) run again now that it does.
    p = subprocess.run([CONCORD, "matrix", config, "--db", db, "--retry-failed", "--report",
                        os.path.join(a.out, "report.html")])
    if p.returncode not in (0, 1):
        return p.returncode
    analysis_path = os.path.join(a.out, "analysis.json")
    subprocess.run([CONCORD, "report", db, "--out", os.path.join(a.out, "report.html"),
                    "--analysis-json", analysis_path], check=True, capture_output=True)
    with open(analysis_path) as f:
        analysis = json.load(f)
    log("localizing divergences")
    with open(config) as f:
        configured = {m["name"]: {label(d) for d in m["conversions"]}
                      for m in json.load(f)["models"]}
    rows = rows_of(analysis, a.atol, configured)
    meta = {"command": "scripts/conversion_study.py " + " ".join(argv),
            "date": time.strftime("%Y-%m-%d"), "machine": "%d cores" % (os.cpu_count() or 1),
            "duration": "%.0f min" % ((time.time() - t0) / 60), "atol": a.atol,
            "store": db}
    write_bench(rows, a.bench, meta)
    log("wrote %s" % os.path.join(a.bench, "README.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
