#!/usr/bin/env python3
"""Smoke test for one framework venv made by scripts/setup_venvs.

Run it with the venv's own interpreter, e.g. `.venv-torch/bin/python scripts/check_venvs.py`.
The family (torch, tf, onnx2tf or tvmtorch) is taken from --family, else from the venv's folder name
(<family>-<hash>). It prints the framework versions, then one line per smoke check with its
figure (max abs error against the framework's own eager run), and exits 1 if any check fails
or exceeds its tolerance. Every model is tiny, seeded and built in memory: nothing is
downloaded, and the onnx2tf check blocks outgoing network connections to prove it.

  torch:   3-layer CNN eager vs torch.onnx.export(dynamo=True) in onnxruntime, torch.compile
           (CPU inductor), litert-torch -> .tflite run by ai-edge-litert, OpenVINO convert_model
           with INFERENCE_PRECISION_HINT=f32 (and the CPU's default precision, for the record),
           onnx2torch on the TorchScript export, and the weights shipped in facenet-pytorch and
           silero-vad wheels.
  tf:      Keras CNN vs tf2onnx (from_keras) in onnxruntime and TFLiteConverter -> LiteRT
           (fp32, and Optimize.DEFAULT for the record).
  onnx2tf: tiny ONNX CNN -> onnx2tf (with -cotof, which reads the pre-seeded calibration file)
           -> float32 .tflite run by LiteRT vs onnxruntime.

--json PATH also writes the versions and figures as JSON.
"""

import argparse
import contextlib
import importlib.metadata
import io
import json
import os
import pathlib
import shutil
import socket
import sys
import tempfile
import time
import traceback

import numpy as np

CALIBRATION_NPY = "calibration_image_sample_data_20x128x128x3_float32.npy"

VERSIONS = {
    "torch": ["torch", "torchvision", "onnx", "onnxscript", "onnxruntime", "onnx2torch",
              "openvino", "litert-torch", "ai-edge-litert", "numpy", "facenet-pytorch",
              "silero-vad"],
    "tf": ["tensorflow-cpu", "keras", "tf2onnx", "onnx", "onnxruntime", "ai-edge-litert",
           "numpy", "protobuf"],
    "onnx2tf": ["onnx2tf", "tensorflow", "tf-keras", "onnx", "onnxruntime", "ai-edge-litert",
                "numpy", "protobuf"],
    "tvmtorch": ["apache-tvm", "apache-tvm-ffi", "tflite", "torch", "numpy", "typing-extensions"],
}


class Checks:
    """Collects one result per smoke check: a figure, its tolerance and whether it passed."""

    def __init__(self):
        self.results = []

    def run(self, name, fn, tol=None):
        start = time.monotonic()
        try:
            value, note = fn()
            ok = tol is None or (value is not None and value <= tol)
            err = None
        except Exception as e:  # a smoke check reports any failure, whatever its type
            value, note, ok, err = None, "", False, f"{type(e).__name__}: {e}"
            traceback.print_exc(file=sys.stderr)
        secs = time.monotonic() - start
        fig = "" if value is None else f"{value:.3g}"
        lim = "" if tol is None else f" (tol {tol:g})"
        print(f"  {'ok  ' if ok else 'FAIL'} {name:<34} {fig:>9}{lim} {secs:6.1f}s"
              f"{'  ' + note if note else ''}{'  ' + err if err else ''}", flush=True)
        self.results.append({"check": name, "value": value, "tol": tol, "ok": ok,
                             "seconds": round(secs, 2), "note": note, "error": err})


def max_abs(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shape {a.shape} vs {b.shape}")
    return float(np.max(np.abs(a - b)))


def run_tflite(path, x):
    """Runs a single-input, single-output .tflite file with the LiteRT interpreter."""
    from ai_edge_litert.interpreter import Interpreter
    interp = Interpreter(model_path=str(path))
    interp.allocate_tensors()
    inp, out = interp.get_input_details()[0], interp.get_output_details()[0]
    interp.set_tensor(inp["index"], x.astype(inp["dtype"]))
    interp.invoke()
    return interp.get_tensor(out["index"])


def ort_run(path, feeds):
    import onnxruntime as ort
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def check_torch(checks, work):
    import torch
    from torch import nn

    torch.manual_seed(0)

    class Cnn(nn.Module):
        def __init__(self):
            super().__init__()
            self.c1, self.b1 = nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8)
            self.c2, self.b2 = nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16)
            self.c3 = nn.Conv2d(16, 16, 3, padding=1)
            self.fc = nn.Linear(16, 10)

        def forward(self, x):
            x = torch.relu(self.b1(self.c1(x)))
            x = torch.relu(self.b2(self.c2(x)))
            x = torch.relu(self.c3(x))
            return self.fc(x.mean(dim=(2, 3)))

    model = Cnn().eval()
    # Randomised BatchNorm statistics: default ones make the layer the identity.
    for bn in (model.b1, model.b2):
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
        bn.weight.data.uniform_(0.5, 1.5)
        bn.bias.data.uniform_(-0.2, 0.2)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = model(x).numpy()
    xs = x.numpy()
    print(f"  eager output |max| = {np.abs(ref).max():.3g}")

    def onnx_dynamo():
        path = work / "cnn_dynamo.onnx"
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints its progress
            torch.onnx.export(model, (x,), str(path), dynamo=True)
        import onnx
        opsets = onnx.load(str(path)).opset_import
        opset = next(o.version for o in opsets if o.domain in ("", "ai.onnx"))
        (out,) = ort_run(path, {"x": xs})
        return max_abs(ref, out), f"opset {opset}"
    checks.run("torch.onnx dynamo -> onnxruntime", onnx_dynamo, 1e-5)

    def compiled():
        fn = torch.compile(model)
        with torch.no_grad():
            out = fn(x).numpy()
        return max_abs(ref, out), "inductor, CPU"
    checks.run("torch.compile (CPU)", compiled, 1e-5)

    def litert():
        import litert_torch
        path = work / "cnn.tflite"
        with contextlib.redirect_stdout(io.StringIO()):  # it prints a progress tree
            litert_torch.convert(model, (x,)).export(str(path))
        return max_abs(ref, run_tflite(path, xs)), f"{path.stat().st_size} B, NCHW input"
    checks.run("litert-torch -> ai-edge-litert", litert, 1e-5)

    import openvino as ov
    ov_model = ov.convert_model(model, example_input=x)
    core = ov.Core()

    def openvino_f32():
        compiled_model = core.compile_model(ov_model, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        out = compiled_model(xs)[0]
        return max_abs(ref, out), "INFERENCE_PRECISION_HINT=f32"
    checks.run("openvino convert_model (f32)", openvino_f32, 1e-5)

    def openvino_default():
        compiled_model = core.compile_model(ov_model, "CPU")
        out = compiled_model(xs)[0]
        hint = compiled_model.get_property("INFERENCE_PRECISION_HINT")
        name = hint.to_string() if hasattr(hint, "to_string") else str(hint)
        return max_abs(ref, out), f"CPU default precision {name}"
    checks.run("openvino convert_model (default)", openvino_default)

    def onnx2torch_legacy():
        import onnx2torch
        path = work / "cnn_legacy.onnx"
        torch.onnx.export(model, (x,), str(path), dynamo=False, opset_version=17,
                          input_names=["x"])
        back = onnx2torch.convert(str(path)).eval()
        with torch.no_grad():
            out = back(x).numpy()
        return max_abs(ref, out), "TorchScript exporter, opset 17"
    checks.run("onnx2torch (legacy export)", onnx2torch_legacy, 1e-5)

    def facenet_weights():
        import facenet_pytorch
        data = pathlib.Path(facenet_pytorch.__file__).parent / "data"
        counts = []
        for name in ("pnet", "rnet", "onet"):
            state = torch.load(data / f"{name}.pt", weights_only=True)
            counts.append(f"{name} {sum(v.numel() for v in state.values())}")
        return None, "params: " + ", ".join(counts)
    checks.run("facenet-pytorch MTCNN weights", facenet_weights)

    def silero():
        import silero_vad
        data = pathlib.Path(silero_vad.__file__).parent / "data"
        jit = torch.jit.load(str(data / "silero_vad.jit"), map_location="cpu").eval()
        rng = np.random.default_rng(0)
        chunk = (0.1 * rng.standard_normal((1, 512))).astype(np.float32)
        with torch.no_grad():
            p_jit = jit(torch.from_numpy(chunk), 16000).numpy()
        # The jit model prepends 64 samples of context (zeros at first); the ONNX one takes
        # them as part of its input, as silero_vad's OnnxWrapper does.
        context = np.zeros((1, 64), np.float32)
        feeds = {"input": np.concatenate([context, chunk], axis=1),
                 "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000, np.int64)}
        p_onnx = ort_run(data / "silero_vad.onnx", feeds)[0]
        files = sorted(p.name for p in data.iterdir() if p.suffix in (".jit", ".onnx"))
        return max_abs(p_jit, p_onnx), f"jit vs onnx speech prob; {len(files)} model files"
    checks.run("silero-vad jit vs onnx", silero, 1e-4)


def check_tf(checks, work):
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((32, 32, 3), batch_size=1, name="x"),
        keras.layers.Conv2D(8, 3, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Conv2D(16, 3, strides=2, padding="same"), keras.layers.BatchNormalization(),
        keras.layers.ReLU(),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(10),
    ])
    rng = np.random.default_rng(0)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape),
                               rng.uniform(-0.2, 0.2, beta.shape),
                               rng.uniform(-0.5, 0.5, mean.shape),
                               rng.uniform(0.5, 2.0, var.shape)])
    x = rng.standard_normal((1, 32, 32, 3)).astype(np.float32)
    ref = model(x, training=False).numpy()
    print(f"  eager output |max| = {np.abs(ref).max():.3g}")

    def tf2onnx_ort():
        import tf2onnx
        path = work / "cnn_tf.onnx"
        spec = [tf.TensorSpec((1, 32, 32, 3), tf.float32, name="x")]
        # A Keras 3 Sequential has no output_names; without it from_keras fails with
        # KeyError: 'keras_tensor_<n>'.
        model.output_names = ["y"]
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17,
                                              output_path=str(path))
        (out,) = ort_run(path, {proto.graph.input[0].name: x})
        return max_abs(ref, out), "from_keras, opset 17"
    checks.run("tf2onnx -> onnxruntime", tf2onnx_ort, 1e-5)

    def tflite():
        path = work / "cnn_tf.tflite"
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints the exported signature
            path.write_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert())
        return max_abs(ref, run_tflite(path, x)), f"{path.stat().st_size} B, fp32"
    checks.run("TFLiteConverter -> ai-edge-litert", tflite, 1e-5)

    def tflite_default_optimized():
        path = work / "cnn_tf_dynamic_range.tflite"
        conv = tf.lite.TFLiteConverter.from_keras_model(model)
        conv.optimizations = [tf.lite.Optimize.DEFAULT]  # int8 dynamic-range weights
        with contextlib.redirect_stdout(io.StringIO()):
            path.write_bytes(conv.convert())
        return max_abs(ref, run_tflite(path, x)), f"{path.stat().st_size} B, Optimize.DEFAULT"
    checks.run("TFLiteConverter Optimize.DEFAULT", tflite_default_optimized)


def write_calibration_npy(path):
    """Writes the calibration file onnx2tf would otherwise download, deterministically.

    onnx2tf reads calibration_image_sample_data_20x128x128x3_float32.npy from the current
    directory (else fetches it from GitHub); only int8 quantization uses its values. These are
    20 seeded 128x128 RGB images in [0, 1], enough for a converter smoke or a calibration run.
    """
    rng = np.random.default_rng(20128128)
    np.save(path, rng.random((20, 128, 128, 3), dtype=np.float32))


def block_network():
    """Makes every outgoing TCP/UDP connection fail, so a hidden download is an error."""
    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise OSError(f"network blocked by check_venvs: connect to {address}")
        return real_connect(self, address)
    socket.socket.connect = connect


def check_tvmtorch(checks, work):
    """TVM's PyTorch frontend on a small torch.export program, compiled and run against eager."""
    import torch
    import tvm
    from tvm import relax
    from tvm.relax.frontend.torch import from_exported_program

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Flatten(), torch.nn.Linear(8 * 8 * 8, 10)).eval()
    x = torch.rand(1, 3, 8, 8)

    def frontend():
        program = torch.export.export(net, (x,))
        mod = from_exported_program(program, unwrap_unit_return_tuple=True)
        vm = relax.VirtualMachine(relax.build(mod, target="llvm"), tvm.cpu())
        out = vm["main"](tvm.runtime.tensor(x.numpy())).numpy()
        return max_abs(out, net(x).detach().numpy()), "relax.frontend.torch vs eager"
    checks.run("tvm from_exported_program", frontend, 1e-5)


def check_onnx2tf(checks, work):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3
    w2 = rng.standard_normal((16, 8, 3, 3)).astype(np.float32) * 0.2
    fc = rng.standard_normal((16, 10)).astype(np.float32) * 0.3
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (w2, "w2"), (fc, "fc"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["g"]),
        helper.make_node("Flatten", ["g"], ["f"]),
        helper.make_node("MatMul", ["f", "fc"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 32, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], inits)
    # onnx 1.19 writes IR version 12 by default, which onnxruntime 1.23 refuses.
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    path = work / "tiny.onnx"
    onnx.save(model, str(path))
    x = rng.standard_normal((1, 3, 32, 32)).astype(np.float32)
    (ref,) = ort_run(path, {"x": x})

    def convert():
        import onnx2tf
        seeded = pathlib.Path(sys.prefix) / "share" / "concord" / CALIBRATION_NPY
        if seeded.exists():
            shutil.copy(seeded, work / CALIBRATION_NPY)
        else:
            write_calibration_npy(work / CALIBRATION_NPY)
        block_network()
        import onnx2tf.onnx2tf as entry  # count the reads of the pre-seeded file
        reads, real_read = [], entry.download_test_image_data
        entry.download_test_image_data = lambda: reads.append(1) or real_read()
        cwd = os.getcwd()
        os.chdir(work)  # onnx2tf looks for the calibration file in the cwd
        try:
            # -cotof compares every ONNX output with TF's on the calibration images, so the
            # pre-seeded file is read (a download would hit the blocked network).
            with contextlib.redirect_stdout(io.StringIO()):
                onnx2tf.convert(input_onnx_file_path=str(path),
                                output_folder_path=str(work / "tf"), non_verbose=True,
                                check_onnx_tf_outputs_elementwise_close_full=True)
        finally:
            os.chdir(cwd)
        tfl = work / "tf" / "tiny_float32.tflite"
        out = run_tflite(tfl, np.transpose(x, (0, 2, 3, 1)))  # onnx2tf makes the input NHWC
        if not reads:
            raise RuntimeError("onnx2tf never read the calibration file")
        return max_abs(ref, out), (f"{tfl.stat().st_size} B, NHWC input, calibration file read "
                                   f"{len(reads)}x, network blocked")
    checks.run("onnx2tf -> float32 .tflite -> LiteRT", convert, 1e-5)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--family", choices=sorted(VERSIONS))
    ap.add_argument("--json", help="also write the versions and figures here")
    ap.add_argument("--write-calibration", metavar="PATH",
                    help=f"only write onnx2tf's {CALIBRATION_NPY} to PATH and exit")
    args = ap.parse_args()
    if args.write_calibration:
        write_calibration_npy(args.write_calibration)
        return 0
    family = args.family or pathlib.Path(sys.prefix).resolve().name.split("-")[0]
    if family not in VERSIONS:
        ap.error(f"cannot tell the family from {sys.prefix}; pass --family")

    versions = {}
    for dist in VERSIONS[family]:
        try:
            versions[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            versions[dist] = None
    print(f"{family}: python {sys.version.split()[0]} in {pathlib.Path(sys.prefix).resolve()}")
    print("  " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))

    checks = Checks()
    with tempfile.TemporaryDirectory(prefix=f"check_venvs_{family}_") as tmp:
        {"torch": check_torch, "tf": check_tf, "onnx2tf": check_onnx2tf,
         "tvmtorch": check_tvmtorch}[family](
            checks, pathlib.Path(tmp))
    failed = [r["check"] for r in checks.results if not r["ok"]]
    print(f"{family}: {len(checks.results) - len(failed)} passed, {len(failed)} failed")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(
            {"family": family, "python": sys.version.split()[0], "versions": versions,
             "checks": checks.results}, indent=1) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
