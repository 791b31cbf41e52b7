#!/usr/bin/env python3
"""Standalone reproducer (tensorflow + numpy only, no Concord): TensorFlow 2.21's TFLite
interpreter (`tf.lite.Interpreter`) aborts the process (SIGABRT) running LOGICAL_OR of
bool[6,3,4,6,6] and bool[6,6] (broadcast over five dims). model.tflite beside it was written by
TensorFlow 2.21's own TFLite converter from `tf.math.logical_or` (make_model.py); LOGICAL_AND
aborts the same way, while the 4-D broadcast, the 5-D OR without broadcasting and a 5-D
broadcast ADD on float32 run. The standalone LiteRT package (ai-edge-litert 2.3) runs the same
file: the defect is in the interpreter TensorFlow 2.21 ships. The interpreter runs in a child
process so the abort is observed.

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import os
import subprocess
import sys

CHILD = r'''
import sys
import numpy as np
import tensorflow as tf
interp = tf.lite.Interpreter(model_path=sys.argv[1])
interp.allocate_tensors()
inp = interp.get_input_details()[0]
interp.set_tensor(inp["index"], np.random.default_rng(1).integers(0, 2, (6, 6)).astype(bool))
interp.invoke()
out = interp.get_tensor(interp.get_output_details()[0]["index"])
print("ran: output", out.shape, out.dtype)
'''


def main() -> int:
    import tensorflow as tf
    print("tensorflow", tf.__version__)
    model = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.tflite")
    proc = subprocess.run([sys.executable, "-c", CHILD, model], capture_output=True, text=True)
    if proc.returncode < 0:
        print("reproduces: the interpreter died of signal %d (SIGABRT is 6)" % -proc.returncode)
        return 0
    print(proc.stdout.strip())
    print("fixed" if proc.returncode == 0 else "cannot run: " + proc.stderr[-300:])
    return 1 if proc.returncode == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
