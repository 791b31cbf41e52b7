#!/usr/bin/env python3
"""Standalone reproducer (torch only, no Concord): torch.compile (Inductor, CPU) fails with a
C++ compile error on `pad(logical_and(x, x), (0, 0, 2, 1), value=0)` for a bool `x`; eager
runs it, and padding the bool tensor alone compiles.

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import torch


def f(t: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.pad(torch.logical_and(t, t), (0, 0, 2, 1), value=0)


def main() -> int:
    print("torch", torch.__version__)
    x = torch.tensor([[True, False, True, True], [False, True, False, False],
                      [True, True, False, True]])
    eager = f(x)
    try:
        compiled = torch.compile(f)(x)
    except Exception as e:
        lines = [ln for ln in str(e).splitlines() if ln.strip()]
        print("reproduces: %s: %s" % (type(e).__name__, lines[0][:200] if lines else ""))
        return 0
    if torch.equal(compiled, eager):
        print("fixed")
        return 1
    print("reproduces: wrong values")
    return 0


if __name__ == "__main__":
    sys.exit(main())
