"""A converted model presented in its source's terms (adapters/worker.py applies it on MODEL).

`concord convert --to` writes OUT.concord.json next to OUT (adapters/convert_plan.py): by
position, each input's and output's source name and shape, OUT's own name and shape, and the
axis permutation a converter applied (OUT = SRC.transpose(perm); NCHW -> NHWC is [0, 2, 3, 1]).
With that sidecar present, the signature shows the source's names and shapes; an input given
under its source name is transposed by perm and fed under OUT's name (an input under OUT's own
name passes unchanged), and outputs come back transposed by the inverse perm under the source's
names. Taps stay in OUT's own terms. A sidecar that does not parse is an input error.
"""

from __future__ import annotations

import json
import os
from typing import Any, Optional

import numpy as np

from adapter import AdapterError, JsonDict
from concord_protocol import NamedValues, ValueMap


def sidecar_path(model_path: str) -> str:
    return model_path.rstrip("/") + ".concord.json"


def _inverse(perm: list[int]) -> list[int]:
    inv = [0] * len(perm)
    for i, p in enumerate(perm):
        inv[p] = i
    return inv


class Layout:
    def __init__(self, record: JsonDict) -> None:
        self.inputs: list[JsonDict] = list(record["inputs"])
        self.outputs: list[JsonDict] = list(record["outputs"])
        self.record = record

    def summary(self) -> JsonDict:
        moved = [{"side": side, "source_name": e["source_name"], "name": e["name"],
                  "perm": e["perm"]} for side in ("inputs", "outputs")
                 for e in getattr(self, side) if e["perm"] != sorted(e["perm"])]
        return {"source": self.record.get("source"), "renamed_or_moved": moved,
                "chain": [h["tool"] for h in self.record.get("chain", [])]}

    def signature(self, sig: JsonDict) -> JsonDict:
        """The model's signature with the source's names and shapes, by position."""
        out = dict(sig)
        for side, entries in (("inputs", self.inputs), ("outputs", self.outputs)):
            rows = list(sig.get(side, []))
            if len(rows) != len(entries):
                raise AdapterError("input", "%s lists %d %s, the model has %d"
                                   % (self.record.get("_path", "sidecar"), len(entries), side,
                                      len(rows)))
            out[side] = [dict(r, name=e["source_name"], shape=[
                None if d is None or d < 0 else int(d) for d in e["source_shape"]])
                for r, e in zip(rows, entries)]
        return out

    def feed(self, values: ValueMap) -> ValueMap:
        fed: ValueMap = {}
        by_source = {e["source_name"]: e for e in self.inputs}
        for name, v in values.items():
            e = by_source.get(name)
            if e is None or not isinstance(v, np.ndarray):
                fed[name] = v
                continue
            fed[e["name"]] = np.ascontiguousarray(np.transpose(v, e["perm"]))
        return fed

    def results(self, outputs: NamedValues) -> NamedValues:
        if len(outputs) != len(self.outputs):
            return outputs
        back: NamedValues = []
        for (_, v), e in zip(outputs, self.outputs):
            if isinstance(v, np.ndarray) and v.ndim == len(e["perm"]):
                v = np.ascontiguousarray(np.transpose(v, _inverse(e["perm"])))
            back.append((e["source_name"], v))
        return back


def load(model_path: str) -> Optional[Layout]:
    path = sidecar_path(model_path)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            record: Any = json.load(f)
        record["_path"] = path
        return Layout(record)
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise AdapterError("input", "%s: not a conversion sidecar (%s)" % (path, e)) from None
