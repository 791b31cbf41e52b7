#!/usr/bin/env python3
"""Standalone reproducer: TVM 0.27's relax.transform.SplitLayoutRewritePreproc crashes
(InternalError "There should be a compute block if there is only one subtree under the root")
on the PrimFunc that relax.backend.DispatchSortScan + LegalizeOps make for a TopK, any shape
or dtype. Found by Concord's fuzzer on tvm@cpu,opt=3, whose pipeline dispatches sort/scan (as
TVM's default build pipeline does) before the CPU weight-prepack passes of TVM's static-shape
tuning pipeline (SplitLayoutRewritePreproc runs after MetaScheduleApplyDatabase there).

Needs only apache-tvm (with onnx for its frontend), numpy. Beside it: model.onnx (TopK over a
float16 2x2x2x2x2 tensor, k = 1), inputs.npz, expected.npz (Concord's reference; onnx.reference
agrees).

    python repro.py   # "reproduces" (exit 0) while the bug shows, "fixed" (exit 1) when not
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def run():
    import onnx
    import tvm
    from tvm import relax
    from tvm.relax.frontend.onnx import from_onnx
    print("tvm", tvm.__version__)
    mod = from_onnx(onnx.load(os.path.join(HERE, "model.onnx")), keep_params_in_input=False)
    with tvm.target.Target("llvm"):
        mod = relax.backend.DispatchSortScan()(mod)
        mod = relax.transform.LegalizeOps()(mod)
        # Without the pass above, LegalizeOps makes TopK's topi kernel and this pass is a no-op.
        relax.transform.SplitLayoutRewritePreproc()(mod)


def main():
    if "--child" not in sys.argv:  # a crash kills the child, not the verdict
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"])
        if proc.returncode < 0:
            print("reproduces: the target crashed (signal %d)" % -proc.returncode)
            return 0
        return proc.returncode
    try:
        run()
    except Exception as e:  # tvm.error.InternalError
        text = "%s: %s" % (type(e).__name__, e)
        last = [line for line in text.splitlines() if line.strip()][-1]
        print("reproduces: " + last.strip()[:500])
        return 0
    print("fixed: SplitLayoutRewritePreproc accepts the dispatched TopK")
    return 1


if __name__ == "__main__":
    sys.exit(main())
