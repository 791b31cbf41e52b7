#!/usr/bin/env python3
"""Standalone reproducer of finding 4 of a Concord fuzz campaign on tvm@cpu,opt=3 (inconsistent):
output 4: dtype differs: expected float16, got float

Needs only apache-tvm (with onnx for its frontend), numpy. Beside it: model.onnx, inputs.npz, expected.npz (expected outputs, from
Concord's reference interpreter; see report.md for onnx.reference's verdict).

    python repro.py   # "reproduces" (exit 0) while the bug shows, "fixed" (exit 1) when not
"""
import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SYMPTOM = 'inconsistent'
OUTPUT_NAMES = ['t_13']
RTOL, ATOL = 0.05, 0.01

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
    out = out if isinstance(out, (list, tuple)) or hasattr(out, "__len__") and not \
        hasattr(out, "numpy") else [out]
    return [o.numpy() for o in out]


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
