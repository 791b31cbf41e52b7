#!/usr/bin/env python3
"""Turns a fuzz finding bundle into what an upstream maintainer asks for: a standalone
reproducer using only the target's own Python API, the inputs and expected outputs as numpy
files, and a bug report in the form the project's issue template asks for.

    python adapters/upstream_report.py BUNDLE [--python-for ENV_FAMILY=PYTHON ...]

BUNDLE is a `concord fuzz` finding folder: model.onnx, test_data_set_0/{input,output}_K.pb
(Concord's reference interpreter computed the outputs), actual_K.pb (the env's) and
finding.json. Written beside them:

  inputs.npz            the model's inputs by name
  expected.npz          ref's outputs by output name
  onnx_reference.npz    onnx.reference's outputs (absent when it cannot run the model)
  repro.py              the standalone reproducer: ONNX Runtime / TVM / OpenVINO / PyTorch /
                        TensorFlow only (PyTorch, TensorFlow: the model emitted as framework
                        code, weights.npz beside it).
                        Exit 0 and "reproduces" while the bug shows, exit 1 and "fixed" when
                        the target agrees with expected.npz (errors: runs without raising),
                        2 when it cannot run at all. A crash is caught by running itself in a
                        child process.
  report.md             the upstream issue template filled in (title, versions, steps,
                        expected vs actual)

Then repro.py is run once with the target's Python (--python-for, else this interpreter) and
the verdict is printed as one JSON object, {"repro": "reproduces"|"fixed"|"failed", ...}, which
`concord fuzz` keeps in finding.json ("standalone_repro"). Targets without a Python API here
(OpenCV's in-process C++ env, dnnl) get no repro.py: the verdict says so.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import subprocess
import sys
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))

_RUNNER = r'''

def main():
    if "--child" not in sys.argv:  # a crash kills the child, not the verdict
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"])
        if proc.returncode < 0:
            print("reproduces: the target crashed (signal %d)" % -proc.returncode)
            return 0
        return proc.returncode
    inputs = dict(np.load(os.path.join(HERE, "inputs.npz")))
    expected = np.load(os.path.join(HERE, "expected.npz"))
    try:
        got = run(inputs)
    except Exception as e:
        text = "%s: %s" % (type(e).__name__, e)
        if SYMPTOM in ("error", "crash"):
            print("reproduces: " + text.splitlines()[0][:500])
            return 0
        print("cannot run: " + text[:500])
        return 2
    if SYMPTOM in ("error", "crash"):
        print("fixed: the model runs now")
        return 1
    bad = []
    for name, value in zip(OUTPUT_NAMES, got):
        want = expected[name]
        value = np.asarray(value)
        if value.shape != want.shape or value.dtype != want.dtype:
            bad.append("%s: expected %s %s, got %s %s" % (name, want.dtype, list(want.shape),
                                                        value.dtype, list(value.shape)))
        elif not close(value, want):
            diff = np.abs(value.astype(np.float64) - want.astype(np.float64))
            bad.append("%s: %d of %d elements differ, max |diff| %g" % (
                name, int((diff > ATOL + RTOL * np.abs(want.astype(np.float64))).sum()),
                want.size, float(np.nanmax(diff)) if diff.size else 0.0))
    if bad:
        print("reproduces: " + "; ".join(bad))
        return 0
    print("fixed: every output agrees with the expected one")
    return 1


def close(a, b):
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if a.dtype.kind not in "fc":
        return bool(np.array_equal(a, b))
    if not np.array_equal(np.isnan(a64), np.isnan(b64)):
        return False
    ok = np.isnan(b64) | (a64 == b64) | (np.abs(a64 - b64) <= ATOL + RTOL * np.abs(b64))
    return bool(ok.all())


if __name__ == "__main__":
    sys.exit(main())
'''

_RUN_ORT = '''
import onnxruntime as ort

OPT = {opt}


def run(inputs):
    so = ort.SessionOptions()
    so.graph_optimization_level = [ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
                                   ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                   ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                   ort.GraphOptimizationLevel.ORT_ENABLE_ALL][OPT]
    sess = ort.InferenceSession(os.path.join(HERE, "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    print("onnxruntime", ort.__version__, "graph_optimization_level", so.graph_optimization_level)
    return sess.run(OUTPUT_NAMES, inputs)
'''

_RUN_TVM = '''
import onnx
import tvm
from tvm import relax
from tvm.relax.frontend.onnx import from_onnx


def run(inputs):
    print("tvm", tvm.__version__)
    model = onnx.load(os.path.join(HERE, "model.onnx"))
    mod = from_onnx(model, keep_params_in_input=False)
    executable = tvm.compile(mod, target="llvm")
    vm = relax.VirtualMachine(executable, tvm.cpu())
    names = [i.name for i in model.graph.input
             if i.name not in {t.name for t in model.graph.initializer}]
    out = vm["main"](*[tvm.runtime.tensor(inputs[n]) for n in names])
    out = out if isinstance(out, (list, tuple)) or hasattr(out, "__len__") and not \\
        hasattr(out, "numpy") else [out]
    return [o.numpy() for o in out]
'''

_RUN_OPENVINO = '''
import openvino as ov


def run(inputs):
    core = ov.Core()
    print("openvino", ov.__version__)
    compiled = core.compile_model(core.read_model(os.path.join(HERE, "model.onnx")), "CPU",
                                  {{"INFERENCE_PRECISION_HINT": "{precision}"}})
    result = compiled(inputs)
    return [result[compiled.output(name)] for name in OUTPUT_NAMES]
'''

_RUN_TORCH = '''
import torch

# The ONNX model emitted as PyTorch by Concord (adapters/torch_emit.py); weights in weights.npz.
{source}

OPT = {opt}  # 0 eager, 1 aot_eager, 2 Inductor, 3 Inductor with freezing
EXPORT = {export}
INPUT_NAMES = {input_names!r}


def run(inputs):
    print("torch", torch.__version__)
    params = dict(np.load(os.path.join(HERE, "weights.npz")))
    module = Model(params)
    args = [torch.from_numpy(np.array(inputs[n])) for n in INPUT_NAMES]
    with torch.inference_mode():
        eager = module(*args)
    if EXPORT:
        module = torch.export.export(module, tuple(args)).module()
    if OPT == 1:
        module = torch.compile(module, backend="aot_eager")
    elif OPT >= 2:
        import torch._inductor.config as inductor_config
        inductor_config.freezing = OPT == 3
        module = torch.compile(module, backend="inductor")
    with torch.inference_mode():
        out = module(*args)
    for name, e, o in zip(OUTPUT_NAMES, eager, out):
        same = e.shape == o.shape and bool(torch.allclose(e.double(), o.double(), RTOL, ATOL,
                                                          equal_nan=True))
        print("%s: eager and compiled %s" % (name, "agree" if same else "DIFFER"))
    return [t.numpy() for t in out]
'''


_RUN_TF = '''
import tensorflow as tf

# The ONNX model emitted as TensorFlow by Concord (adapters/tf_emit.py); weights in weights.npz.
{source}

OPT = {opt}  # 0 eager, 1 tf.function without Grappler, 2 tf.function, 3 XLA (jit_compile)
LITE, XNNPACK = {lite}, {xnnpack}  # LITE: TFLite converter + a LiteRT interpreter
LITERT = {litert}  # 1: LiteRT's own interpreter (PyPI ai-edge-litert), 0: tf.lite.Interpreter
INPUT_NAMES = {input_names!r}


def run(inputs):
    print("tensorflow", tf.__version__)
    module = Model(dict(np.load(os.path.join(HERE, "weights.npz"))))
    args = [tf.constant(inputs[n]) for n in INPUT_NAMES]
    eager = module(*args)
    specs = [tf.TensorSpec(a.shape, a.dtype) for a in args]
    fn = tf.function(lambda *xs: module(*xs), input_signature=specs, jit_compile=OPT == 3)
    if LITE:
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [fn.get_concrete_function()], module)
        if LITERT:
            from importlib.metadata import version
            from ai_edge_litert import interpreter as lite
            print("ai-edge-litert", version("ai-edge-litert"))
        else:
            lite = tf.lite
        kinds = lite.OpResolverType if LITERT else lite.experimental.OpResolverType
        resolver = kinds.AUTO if XNNPACK else kinds.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        interp = lite.Interpreter(model_content=converter.convert(),
                                  experimental_op_resolver_type=resolver)
        runner = interp.get_signature_runner()
        keys = sorted(runner.get_input_details(), key=lambda k: int(k.rsplit("_", 1)[-1])
                      if k.rsplit("_", 1)[-1].isdigit() else 0)
        result = runner(**{{k: np.asarray(a) for k, a in zip(keys, args)}})
        okeys = sorted(result, key=lambda k: int(k.rsplit("_", 1)[-1])
                       if k.rsplit("_", 1)[-1].isdigit() else 0)
        out = [result[k] for k in okeys]
    else:
        out = [np.asarray(t) for t in (fn(*args) if OPT else eager)]
    for name, e, o in zip(OUTPUT_NAMES, eager, out):
        e = np.asarray(e)
        same = e.shape == o.shape and close(o, e)
        print("%s: eager and compiled %s" % (name, "agree" if same else "DIFFER"))
    return out
'''


def load_pb(path: str) -> Any:
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def numbered(bundle: str, pattern: str) -> list[str]:
    files = glob.glob(os.path.join(bundle, pattern))
    return sorted(files, key=lambda p: int(p.rsplit("_", 1)[1].split(".")[0]))


def parse_env(env: str) -> tuple[str, dict[str, str]]:
    """"tvm@cpu,opt=3" -> ("tvm", {"opt": "3"})."""
    head, _, opts = env.partition(",")
    options = dict(o.split("=", 1) for o in opts.split(",") if "=" in o)
    return head.split("@")[0], options


def _agree(a: Any, b: Any) -> bool:
    """Two reference computations agree: same shape, equal up to rounding in b's dtype (two
    float16 roundings may differ by an ULP)."""
    if a.shape != b.shape:
        return False
    rtol, atol = (2e-3, 1e-3) if b.dtype == np.float16 else (1e-5, 1e-6)
    return bool(np.allclose(a.astype(np.float64), b.astype(np.float64), rtol=rtol, atol=atol,
                            equal_nan=True))


def write_arrays(bundle: str, model: Any) -> tuple[dict[str, Any], list[str], str]:
    inits = {t.name for t in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    inputs = {}
    for i, path in enumerate(numbered(bundle, "test_data_set_0/input_*.pb")):
        inputs[names[i]] = load_pb(path)
    outs = [o.name for o in model.graph.output]
    expected = {outs[i]: load_pb(p) for i, p in enumerate(numbered(bundle,
                                                                    "test_data_set_0/output_*.pb"))}
    np.savez(os.path.join(bundle, "inputs.npz"), **inputs)
    np.savez(os.path.join(bundle, "expected.npz"), **expected)
    verdict = "onnx.reference was not run"
    try:
        from onnx.reference import ReferenceEvaluator
        got = ReferenceEvaluator(model).run(None, inputs)
        np.savez(os.path.join(bundle, "onnx_reference.npz"), **dict(zip(outs, got)))
        agree = all(_agree(np.asarray(g), np.asarray(expected[o]))
                    for o, g in zip(outs, got) if o in expected)
        verdict = ("onnx.reference agrees with expected.npz" if agree else
                   "onnx.reference DISAGREES with expected.npz: check by hand")
    except Exception as e:  # noqa: BLE001 - reported in the report
        verdict = "onnx.reference cannot run the model (%s)" % type(e).__name__
    return inputs, outs, verdict


def _emitted_code(emitter: str, model: Any, bundle: str,
                  import_line: str) -> tuple[str, list[str]]:
    """The model emitted as framework code by `emitter` (torch_emit, tf_emit) without its import
    line (repro.py imports the framework itself), its weights written to weights.npz; and the
    input names in call order."""
    import importlib
    sys.path.insert(0, HERE)
    emitted = importlib.import_module(emitter).emit(model)
    np.savez(os.path.join(bundle, "weights.npz"), **emitted.params)
    return emitted.source.replace(import_line, "", 1), list(emitted.input_names)


def repro_source(family: str, options: dict[str, str], finding: dict[str, Any], outs: list[str],
                 bundle: str, model: Any) -> tuple[str, str]:
    """(repro.py text, the packages it needs)."""
    opt = int(options.get("opt", "3"))
    if family == "ort":
        body, needs = _RUN_ORT.format(opt=opt), "onnxruntime, numpy"
    elif family == "tvm":
        body, needs = _RUN_TVM, "apache-tvm (with onnx for its frontend), numpy"
    elif family == "openvino":
        body = _RUN_OPENVINO.format(precision=options.get("precision", "f32"))
        needs = "openvino, numpy"
    elif family == "torch":
        source, input_names = _emitted_code("torch_emit", model, bundle, "import torch\n")
        body = _RUN_TORCH.format(source=source, opt=opt, export=int(options.get("export", "0")),
                                 input_names=input_names)
        needs = "torch, numpy"
    elif family == "tf":
        source, input_names = _emitted_code("tf_emit", model, bundle,
                                            "import tensorflow as tf\n")
        lite, litert = int(options.get("lite", "0")), int(options.get("litert", "1"))
        body = _RUN_TF.format(source=source, opt=opt, lite=lite, litert=litert,
                              xnnpack=int(options.get("xnnpack", "1")), input_names=input_names)
        needs = "tensorflow, numpy" + (", ai-edge-litert" if lite and litert else "")
    else:
        raise KeyError(family)
    tol = finding.get("details", {}).get("tolerance", {})
    head = '''#!/usr/bin/env python3
"""Standalone reproducer of finding {id} of a Concord fuzz campaign on {env} ({symptom}):
{message}

Needs only {needs}. Beside it: model.onnx, inputs.npz, expected.npz (expected outputs, from
Concord's reference interpreter; see report.md for onnx.reference's verdict).

    python repro.py   # "reproduces" (exit 0) while the bug shows, "fixed" (exit 1) when not
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SYMPTOM = {symptom!r}
OUTPUT_NAMES = {outs!r}
RTOL, ATOL = {rtol!r}, {atol!r}
'''.format(id=finding.get("id"), env=finding.get("env"), symptom=finding.get("symptom"),
           message=" ".join(str(finding.get("message", "")).split())[:300], needs=needs,
           outs=outs, rtol=float(tol.get("rtol", 0.01)), atol=float(tol.get("atol", 0.001)))
    return head + body + _RUNNER, needs


_TEMPLATES = {
    "ort": ("### Describe the issue\n\n{summary}\n\n### To reproduce\n\n{steps}\n\n"
            "### Urgency\n\nNone; found by differential fuzzing.\n\n### Platform\n\nLinux\n\n"
            "### OS Version\n\n{os}\n\n### ONNX Runtime Installation\n\nReleased Package\n\n"
            "### ONNX Runtime Version or Commit ID\n\n{version}\n\n### ONNX Runtime API\n\n"
            "Python\n\n### Architecture\n\nX64\n\n### Execution Provider\n\nDefault CPU\n"),
    "tvm": ("### Expected behavior\n\n{expected}\n\n### Actual behavior\n\n{actual}\n\n"
            "### Environment\n\n{version}, {os}, target llvm (CPU)\n\n### Steps to reproduce\n\n"
            "{steps}\n\n### Triage\n\n* needs-triage\n* frontend:onnx\n"),
    "openvino": ("### OpenVINO Version\n\n{version}\n\n### Operating System\n\n{os}\n\n"
                 "### Device used for inference\n\nCPU\n\n### Framework\n\nONNX\n\n"
                 "### Model used\n\nThe attached model.onnx ({nodes})\n\n### Issue description\n\n"
                 "{summary}\n\n### Step-by-step reproduction\n\n{steps}\n\n"
                 "### Relevant log output\n\n```\n{actual_raw}\n```\n"),
    "tf": ("### Issue type\n\nBug\n\n### Have you reproduced the bug with TensorFlow Nightly?"
           "\n\nNo\n\n### Source\n\nbinary\n\n### TensorFlow version\n\n{version}\n\n"
           "### Custom code\n\nYes\n\n### OS platform and distribution\n\n{os}\n\n"
           "### Python version\n\n3.11\n\n### Current behavior?\n\n{summary}\n\n"
           "### Standalone code to reproduce the issue\n\n{steps}\n\n"
           "### Relevant log output\n\n```\n{actual_raw}\n```\n"),
    "torch": ("### 🐛 Describe the bug\n\n{summary}\n\n{steps}\n\n### Versions\n\n{version}, "
              "{os}, CPU\n\ncc @ezyang @chauhang @penguinwu (torch.compile)\n"),
}


def report(family: str, finding: dict[str, Any], model: Any, verdict: str, needs: str,
           repro_output: str) -> str:
    nodes = ", ".join(n.op_type for n in model.graph.node) or "no nodes"
    env, symptom = finding.get("env", ""), finding.get("symptom", "")
    message = str(finding.get("message", "")).strip()
    version = str(finding.get("versions", {}).get("version", "")).split(" (")[0]
    first = (repro_output.splitlines() or [""])[0]
    if first.startswith(("onnxruntime ", "tvm ", "openvino ", "torch ", "tensorflow ")):
        version = " ".join(first.split()[:2])  # what repro.py ran with
    what = {"inconsistent": "returns wrong values", "error": "rejects a valid model",
            "crash": "crashes", "timeout": "hangs"}.get(symptom, symptom)
    title = "%s %s on a %d-node model (%s)" % (version, what, len(model.graph.node), nodes)
    summary = ("%s %s: `%s` (Concord env `%s`). The model passes onnx.checker; the expected "
               "outputs come from an independent reference interpreter, and %s."
               % (version, what, nodes, env, verdict))
    steps = ("`model.onnx`, `inputs.npz` and `expected.npz` are attached; `repro.py` needs only "
             "%s:\n\n```\npython repro.py\n```\n\nIt prints `reproduces: ...` while the bug "
             "shows. Here it printed:\n\n```\n%s\n```" % (needs, repro_output[:3000]))
    fields = {"summary": summary, "steps": steps, "version": version or "unknown",
              "os": "%s %s" % (platform.system(), platform.release()),
              "expected": "The outputs in expected.npz (%s)." % verdict,
              "actual": "`python repro.py` prints:\n\n```\n%s\n```" % repro_output[:3000],
              "actual_raw": repro_output[:3000] or message[:2000],
              "nodes": nodes}
    body = _TEMPLATES[family].format(**fields)
    return "# %s\n\n%s" % (title, body)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bundle")
    ap.add_argument("--python-for", action="append", default=[],
                    help="FAMILY=PYTHON: the interpreter that runs repro.py for that env family")
    ap.add_argument("--timeout", type=float, default=300)
    args = ap.parse_args()
    bundle = args.bundle
    with open(os.path.join(bundle, "finding.json")) as f:
        finding = json.load(f)
    family, options = parse_env(str(finding.get("env", "")))
    model = onnx.load(os.path.join(bundle, "model.onnx"))
    _, outs, verdict = write_arrays(bundle, model)
    if family not in _TEMPLATES:
        print(json.dumps({"repro": "none", "onnx_reference": verdict,
                          "detail": "no standalone reproducer for %s: it has no Python API "
                                    "here" % family}))
        return 0
    try:
        text, needs = repro_source(family, options, finding, outs, bundle, model)
    except Exception as e:  # noqa: BLE001 - the verdict says what went wrong
        print(json.dumps({"repro": "failed", "onnx_reference": verdict,
                          "detail": "cannot write repro.py: %s: %s" % (type(e).__name__, e)}))
        return 0
    with open(os.path.join(bundle, "repro.py"), "w") as f:
        f.write(text)
    pythons = dict(p.split("=", 1) for p in args.python_for)
    python = pythons.get(family, sys.executable)
    output = ""
    try:
        proc = subprocess.run([python, "repro.py"], cwd=bundle, capture_output=True, text=True,
                              timeout=args.timeout)
        output = proc.stdout.strip()
        lines = (proc.stdout + proc.stderr).strip().splitlines()
        verdicts = [ln for ln in lines if ln.startswith(("reproduces", "fixed", "cannot run"))]
        last = (verdicts or lines or [""])[-1]
        repro = {0: "reproduces", 1: "fixed"}.get(proc.returncode, "failed")
    except subprocess.TimeoutExpired:
        repro, last = "failed", "repro.py ran past %g s" % args.timeout
    with open(os.path.join(bundle, "report.md"), "w") as f:
        f.write(report(family, finding, model, verdict, needs, output or last))
    print(json.dumps({"repro": repro, "onnx_reference": verdict, "detail": last[:500]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
