"""What the in-place patchers of repaired targets share (adapters/tflite_patch.py for .tflite
files, adapters/torch_patch.py for PyTorch state dicts): the repair's edits as new values of the
twin's old initializers, and the layouts a converter may have stored a weight in."""
from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import numpy as np


def layouts(a: Any) -> list[tuple[str, Any]]:
    out = [("as is", a)]
    if a.ndim == 4:
        out += [("OHWI", a.transpose(0, 2, 3, 1)), ("IHWO", a.transpose(1, 2, 3, 0)),
                ("HWIO", a.transpose(2, 3, 1, 0))]
    if a.ndim == 2:
        out.append(("transposed", a.T))
    return out


def value_edits(before: Any, after: Any) -> tuple[dict[str, Any], list[str]]:
    """The repair's edits as new values of the twin's old initializers: an initializer whose
    values changed, or a node input moved from an initializer to a new one of the same shape and
    dtype (repair writes restored weights as new initializers) when no other node reads the old
    one. Everything else is listed as an edit outside initializers."""
    import onnx
    from onnx import numpy_helper
    old = {t.name: t for t in before.graph.initializer}
    new = {t.name: t for t in after.graph.initializer}
    readers: dict[str, int] = {}
    for n in before.graph.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    values: dict[str, Any] = {}
    other: list[str] = []
    if len(before.graph.node) != len(after.graph.node):
        other.append("node count %d -> %d" % (len(before.graph.node), len(after.graph.node)))
    for what in ("input", "output"):  # e.g. a repaired input dimension: no buffer holds it
        b_io = [x.SerializeToString() for x in getattr(before.graph, what)]
        a_io = [x.SerializeToString() for x in getattr(after.graph, what)]
        if b_io != a_io:
            other.append("graph %ss changed" % what)
    for b, a in zip(before.graph.node, after.graph.node):
        if (b.op_type != a.op_type or list(b.output) != list(a.output) or
                [onnx.helper.printable_attribute(x) for x in b.attribute] !=
                [onnx.helper.printable_attribute(x) for x in a.attribute] or
                len(b.input) != len(a.input)):
            other.append("node %s (%s)" % (a.name or b.name, a.op_type))
            continue
        for bi, ai in zip(b.input, a.input):
            if bi == ai:
                continue
            ok = (bi in old and ai in new and readers.get(bi) == 1 and
                  list(old[bi].dims) == list(new[ai].dims) and
                  old[bi].data_type == new[ai].data_type)
            if ok:
                values[bi] = numpy_helper.to_array(new[ai])
            else:
                other.append("node %s (%s) reads %s instead of %s" % (a.name, a.op_type, ai, bi))
    for name, t in new.items():
        if name in old and name not in values:
            a_new, a_old = numpy_helper.to_array(t), numpy_helper.to_array(old[name])
            if a_new.shape != a_old.shape or a_new.dtype != a_old.dtype:
                other.append("initializer %s changed shape or dtype" % name)
            elif not np.array_equal(a_new, a_old):
                values[name] = a_new
    return values, other


def finish(report: dict[str, Any], out: str, save: Callable[[str], None]) -> int:
    """Writes the patched target (`save` to a temporary path, then renamed to `out`, an earlier
    file's stale sidecars removed) when every changed initializer was patched and nothing else
    changed; 0 then, 3 when the target cannot be patched that way (nothing is written)."""
    ok = not report["unpatched"] and not report["edits_outside_initializers"] and \
        bool(report["patched"])
    if ok:
        tmp = out + ".tmp" + os.path.splitext(out)[1]
        save(tmp)
        os.replace(tmp, out)
        for stale in (out + ".twin.onnx", out + ".concord.json"):  # an earlier file's sidecars
            if os.path.exists(stale):
                os.remove(stale)
    return 0 if ok else 3


def main(argv: list[str], patch: Callable[..., tuple[int, dict[str, Any]]], doc: str,
         errors: tuple[type[Exception], ...]) -> int:
    """A patcher's command line: TARGET TWIN FIXED_TWIN OUT; the report as one JSON line; bad
    input (`errors`) is {"error"} and exit 2."""
    if len(argv) != 5:
        print(doc, file=sys.stderr)
        return 2
    try:
        rc, report = patch(*argv[1:])
    except errors as e:
        print(json.dumps({"error": str(e)}))
        return 2
    print(json.dumps(report))
    return rc
