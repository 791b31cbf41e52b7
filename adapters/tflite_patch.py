#!/usr/bin/env python3
"""Writes repaired weights back into a .tflite file in place (Concord's repair of a TFLite
target): every initializer of the twin the repair gave new values (changed in place, or a node
input moved to a new initializer of the same shape) is looked up in the .tflite file by the
bytes of its old values, in the layouts tf2onnx undoes when it makes the twin (as is, OIHW ->
OHWI for Conv/ConvTranspose weights, OIHW -> IHWO for depthwise ones, 2-D transposed for
FullyConnected), and replaced by the new values in the same layout and byte size. Nothing else
of the file changes: the converter's graph, op options and the other buffers stay as they were.

    tflite_patch.py TARGET.tflite TWIN.onnx FIXED_TWIN.onnx OUT.tflite

Prints one JSON object: {"path", "patched": [{"initializer", "layout", "offset", "bytes"}],
"unpatched": [{"initializer", "why"}], "edits_outside_initializers": [...]} and exits 0 when
every changed initializer was patched and the repair changed nothing but initializer values, 3
when the file could not be patched that way (the caller re-converts instead), 2 on bad input.
The old values must occur at exactly one place in the file, in any of those layouts (float32
weights are unique in practice; a tensor found twice or nowhere is reported, not guessed).
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np

from patch_common import finish, layouts, value_edits
from patch_common import main as patch_main


def patch(target: str, twin: str, fixed_twin: str, out: str) -> tuple[int, dict[str, Any]]:
    import onnx
    from onnx import numpy_helper
    with open(target, "rb") as f:
        data = bytearray(f.read())
    before, after = onnx.load(twin), onnx.load(fixed_twin)
    old = {t.name: numpy_helper.to_array(t) for t in before.graph.initializer}
    values, other = value_edits(before, after)
    report: dict[str, Any] = {"path": out, "patched": [], "unpatched": [],
                              "edits_outside_initializers": other}
    for name, new in sorted(values.items()):
        was = old[name]
        found: dict[int, tuple[str, int]] = {}  # offset -> (layout, size); layouts of a
        for layout, arr in layouts(was):       # [1,C,1,1] constant share their bytes
            pattern = np.ascontiguousarray(arr).tobytes()
            at = data.find(pattern)
            while at >= 0:
                found.setdefault(at, (layout, len(pattern)))
                at = data.find(pattern, at + 1)
        if len(found) != 1:
            report["unpatched"].append({"initializer": name, "why": "its old values occur at %d "
                                        "places in the file, not exactly one" % len(found)})
            continue
        at, (layout, size) = next(iter(found.items()))
        fresh = dict(layouts(new))[layout]
        data[at:at + size] = np.ascontiguousarray(fresh).tobytes()
        report["patched"].append({"initializer": name, "layout": layout, "offset": at,
                                  "bytes": size})
    def save(path: str) -> None:
        with open(path, "wb") as f:
            f.write(data)

    return finish(report, out, save), report


def main(argv: list[str]) -> int:
    return patch_main(argv, patch, __doc__ or "", (OSError, ValueError))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
