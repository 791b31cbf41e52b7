#!/usr/bin/env python3
"""Standalone reproducer (torch only, no Concord): torch.compile (Inductor, CPU) kills the
process with SIGFPE on `pad(div(a, b, rounding_mode="trunc"), ...)` for int32 `a`, `b` with no
zero in `b`: the fused kernel divides at the padded positions too, by the masked load's 0.
Eager PyTorch runs it. The compiled call runs in a child process so the crash is observed.

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import subprocess
import sys

CHILD = r'''
import torch
a = torch.tensor([[7, -9, 5], [3, 8, -6]], dtype=torch.int32)
b = torch.tensor([[2, 3, -4], [5, -2, 7]], dtype=torch.int32)
def f(a, b):
    return torch.nn.functional.pad(torch.div(a, b, rounding_mode="trunc"), (1, 0, 0, 1), value=0)
eager = f(a, b)
compiled = torch.compile(f)(a, b)
print("values equal:", torch.equal(eager, compiled))
'''


def main() -> int:
    import torch
    print("torch", torch.__version__)
    proc = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True)
    if proc.returncode < 0:
        print("reproduces: the compiled call died of signal %d (SIGFPE is 8)" % -proc.returncode)
        return 0
    print(proc.stdout.strip())
    print("fixed" if proc.returncode == 0 else "cannot run: " + proc.stderr[-300:])
    return 1 if proc.returncode == 0 else 2


if __name__ == "__main__":
    sys.exit(main())
