#!/usr/bin/env python3
"""Standalone reproducer (torch + onnx, no Concord): torch.onnx.export(..., dynamo=True,
optimize=False) names an op's output after the aten op ("mean" for torch.mean) even when a module
buffer already gave that name to an initializer, so the exported graph is not in SSA form and
onnx.checker rejects it. With optimize=True (the default) the optimizer renames the value
("mean_1") and the model is valid. Found by Concord's cross-framework localization, which
exports torch.export sources unoptimized so that BatchNorm stays a node.

    python repro.py     # "reproduces" (exit 0) while the unoptimized export is invalid
"""
import sys

import onnx
import torch


class M(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor([0.5]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.mean(x - self.mean, dim=(2, 3))


def export_error(optimize: bool) -> str:
    """'' when the export passes onnx.checker (full check), else the checker's message."""
    x = torch.rand(1, 3, 4, 4)
    program = torch.onnx.export(torch.export.export(M(), (x,)), (x,), dynamo=True,
                                optimize=optimize, verbose=False)
    try:
        onnx.checker.check_model(program.model_proto, full_check=True)
        return ""
    except onnx.checker.ValidationError as e:
        return str(e).splitlines()[0]


def main() -> int:
    unoptimized, optimized = export_error(False), export_error(True)
    versions = "torch %s, onnxscript %s, onnx %s" % (
        torch.__version__, __import__("onnxscript").__version__, onnx.__version__)
    if unoptimized and not optimized:
        print("reproduces: %s; optimize=False: %s; optimize=True: valid" % (versions, unoptimized))
        return 0
    print("does not reproduce: %s; optimize=False: %s; optimize=True: %s"
          % (versions, unoptimized or "valid", optimized or "valid"))
    return 1


if __name__ == "__main__":
    sys.exit(main())
