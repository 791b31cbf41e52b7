#!/usr/bin/env python3
"""The generator's value search, measured: for seeds 1..N, `concord gen --json` with the value
search (default, 8 steps) and without (--value-search 0), same options otherwise. Prints, per
setting, how many graphs were discarded because their values overflowed to NaN/Inf, how many
graphs the value search kept (rescued), and the mean attempts per model.

    bench/value_search.py build/bin/concord --seeds 300 [-- more gen options, e.g. --dtypes float16]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from typing import Any


def gen(concord: str, seed: int, steps: int, extra: list[str], out: str) -> dict[str, Any]:
    r = subprocess.run([concord, "gen", "--seed", str(seed), "--value-search", str(steps),
                        "--out", out, "--json"] + extra, capture_output=True, text=True)
    if r.returncode != 0:
        return {"failed": True, "rejected": [r.stderr.strip()], "attempts": 24}
    return json.loads(r.stdout)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("concord")
    ap.add_argument("--seeds", type=int, default=300)
    args, extra = ap.parse_known_args()
    args.extra = [a for a in extra if a != "--"]  # more `concord gen` options
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for steps in (8, 0):
            nan_discards = rescued = attempts = failed = 0
            for seed in range(1, args.seeds + 1):
                rec = gen(args.concord, seed, steps, args.extra, tmp + "/m.onnx")
                failed += 1 if rec.get("failed") else 0
                attempts += int(rec.get("attempts", 1))
                nan_discards += sum("NaN/Inf" in r for r in rec.get("rejected", []))
                rescued += 1 if rec.get("rescued_by_value_search") else 0
            rows.append((steps, nan_discards, rescued, attempts / args.seeds, failed))
    print("gen options: %s; seeds 1..%d" % (" ".join(args.extra) or "(defaults)", args.seeds))
    print("| value search | graphs discarded for NaN/Inf | graphs kept by the search | "
          "attempts/model | no model |")
    print("|---|---|---|---|---|")
    for steps, nan, res, att, failed in rows:
        print("| %s | %d | %d | %.3f | %d |" % ("%d steps" % steps if steps else "off", nan, res,
                                                att, failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
