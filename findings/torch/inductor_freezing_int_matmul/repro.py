#!/usr/bin/env python3
"""Standalone reproducer (torch only, no Concord): torch.compile (Inductor) with freezing on
the CPU fails on a matmul of an int32 activation with an int32 constant weight: the freezing
pass packs the weight for MKL (`mkl._mkl_reorder_linear_weight`), which takes floats only
("reorder_linear_weight: weight's dtype should be float"). Eager PyTorch and Inductor without
freezing run it.

    python repro.py      # prints what happened and "reproduces" (exit 0) or "fixed" (exit 1)
"""
import sys

import torch
import torch._inductor.config as inductor_config


class Model(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("w", torch.tensor([[-3], [-7], [-1], [-1], [7], [-2], [-7], [-5],
                                                [-6]], dtype=torch.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.matmul(x, self.w)


def main() -> int:
    print("torch", torch.__version__)
    x = torch.arange(-31, 32, dtype=torch.int32).reshape(1, 7, 9)
    model = Model().eval()
    with torch.inference_mode():
        want = model(x)
        inductor_config.freezing = True
        try:
            got = torch.compile(model)(x)
        except Exception as e:
            lines = [ln for ln in str(e).splitlines() if ln.strip()]
            print("reproduces: %s: %s" % (type(e).__name__, " ".join(lines[:2])))
            return 0
    if torch.equal(got, want):
        print("fixed: Inductor with freezing agrees with eager")
        return 1
    print("reproduces: wrong values %s vs eager %s" % (got.flatten().tolist(),
                                                     want.flatten().tolist()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
