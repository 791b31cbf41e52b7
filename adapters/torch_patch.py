#!/usr/bin/env python3
"""Writes repaired weights back into a PyTorch target's state dict (Concord's repair of a
TorchScript .pt or torch.export .pt2 target): every initializer of the twin the repair gave new
values is looked up among the module's state-dict tensors (parameters and buffers; a
torch.export program's constants too) by its old values, in the layouts of patch_common.layouts
(as is, conv layouts, 2-D transposed) or scaled per output channel (the TorchScript exporter
folds a BatchNormalization into the conv before it: twin = weight x s[c]), and that tensor is
overwritten with the new values brought back to its own layout (divided by s[c] for a folded
one). The module's code, and every tensor the repair did not touch, stay as they were.

    torch_patch.py TARGET.pt|TARGET.pt2 TWIN.onnx FIXED_TWIN.onnx OUT.pt|OUT.pt2

Prints one JSON object, as adapters/tflite_patch.py does: {"path", "patched": [{"initializer",
"tensor", "layout"}], "unpatched": [{"initializer", "why"}], "edits_outside_initializers"}, and
exits 0 when every changed initializer was patched and the repair changed nothing else, 3 when
the target cannot be patched that way (the caller re-converts instead), 2 on bad input. A value
found in no tensor or in several is reported, not guessed.
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from patch_common import finish, layouts, value_edits
from patch_common import main as patch_main


def _channel_scale(old: Any, t: Any) -> Any:
    """s with old == t * s[c] per output channel (axis 0) to float32 rounding, else None."""
    if old.shape != t.shape or old.ndim < 2:
        return None
    o = old.reshape(old.shape[0], -1).astype(np.float64)
    w = t.reshape(t.shape[0], -1).astype(np.float64)
    norm = (w * w).sum(axis=1)
    if np.any(norm == 0):
        return None
    s = (o * w).sum(axis=1) / norm
    if not np.allclose(o, w * s[:, None], rtol=1e-5, atol=1e-7):
        return None
    return s


def _find(old: Any, tensors: dict[str, Any]) -> list[tuple[str, str, Any]]:
    """(tensor name, layout, scale or None) of every tensor holding `old` in some layout."""
    found = []
    for name, t in tensors.items():
        a = t.detach().cpu().numpy()
        if a.dtype != old.dtype:
            continue
        for layout, arr in layouts(old):
            if arr.shape == a.shape and np.array_equal(arr, a):
                found.append((name, layout, None))
                break
        else:
            if old.dtype.kind == "f" and a.ndim == 4:
                s = _channel_scale(old, a)
                if s is not None and not np.allclose(s, 1.0):
                    found.append((name, "per-channel scaled (a folded BatchNormalization)", s))
    return found


def _load(target: str) -> tuple[Any, dict[str, Any], Any]:
    """The module, its patchable tensors by name, and a function saving it to a path."""
    import torch
    if target.endswith(".pt2"):
        program = torch.export.load(target)
        tensors = dict(program.state_dict)
        tensors.update({k: v for k, v in program.constants.items() if isinstance(v, torch.Tensor)})
        return program, tensors, lambda path: torch.export.save(program, path)
    module = torch.jit.load(target)
    return module, dict(module.state_dict()), lambda path: torch.jit.save(module, path)


def patch(target: str, twin: str, fixed_twin: str, out: str) -> tuple[int, dict[str, Any]]:
    import onnx
    import torch
    from onnx import numpy_helper
    before, after = onnx.load(twin), onnx.load(fixed_twin)
    old = {t.name: numpy_helper.to_array(t) for t in before.graph.initializer}
    values, other = value_edits(before, after)
    report: dict[str, Any] = {"path": out, "patched": [], "unpatched": [],
                              "edits_outside_initializers": other}
    _, tensors, save = _load(target)
    with torch.no_grad():
        for name, new in sorted(values.items()):
            found = _find(old[name], tensors)
            if len(found) != 1:
                report["unpatched"].append({"initializer": name, "why": "its old values are in "
                                            "%d state-dict tensors, not exactly one" % len(found)})
                continue
            tensor, layout, scale = found[0]
            fresh = (new / scale.reshape((-1,) + (1,) * (new.ndim - 1))).astype(new.dtype) \
                if scale is not None else dict(layouts(new))[layout]
            tensors[tensor].copy_(torch.from_numpy(np.array(fresh)))  # a writable copy
            report["patched"].append({"initializer": name, "tensor": tensor, "layout": layout})
    return finish(report, out, save), report


def main(argv: list[str]) -> int:
    return patch_main(argv, patch, __doc__ or "", (OSError, ValueError, RuntimeError))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
