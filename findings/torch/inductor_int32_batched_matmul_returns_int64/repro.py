#!/usr/bin/env python3
"""Standalone reproducer (torch only, no Concord): torch.compile (Inductor, CPU) returns int64
for a batched int32 matmul that eager PyTorch returns as int32 (the values agree). A 2-D int32
matmul keeps int32.

    python repro.py      # "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import torch


def main() -> int:
    print("torch", torch.__version__)
    a = torch.arange(-12, 12, dtype=torch.int32).reshape(1, 6, 1, 4)
    b = torch.arange(-72, 72, dtype=torch.int32).reshape(1, 6, 4, 6)
    eager = torch.matmul(a, b)
    compiled = torch.compile(lambda x, y: torch.matmul(x, y))(a, b)
    print("eager %s, compiled %s, values equal: %s" % (eager.dtype, compiled.dtype,
                                                       torch.equal(eager.long(), compiled.long())))
    if compiled.dtype != eager.dtype:
        print("reproduces: Inductor returns %s for int32 @ int32" % compiled.dtype)
        return 0
    print("fixed")
    return 1


if __name__ == "__main__":
    sys.exit(main())
