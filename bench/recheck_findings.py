#!/usr/bin/env python3
"""Re-checks every fuzzing finding bundle with a second, independent oracle.

For each OUT/<id>-<env>-<symptom>/ bundle (campaign/fuzz.h):
  inconsistent / undefined: ONNX's own Python reference implementation (onnx.reference, from
    the .venv's onnx package) runs the reduced model; the finding is "confirmed" when
    onnx.reference agrees with Concord's expected outputs (ref) within the campaign tolerance
    and disagrees with what the env returned (actual_K.pb);
  crash / error / timeout: the bundle's repro.sh is run again and must still fail;
  perf: a re-timing, never an output check: `concord bench` runs the model on ref and the env
    (>= 3 timed runs each) and the finding is "confirmed" when the ratio of their medians is
    still above the campaign's threshold (details.perf: factor x the env's median ratio).
    Bundles written before details.perf take the median ratio from their message and factor 10.
Writes a Markdown table to stdout.

    .venv/bin/python bench/recheck_findings.py OUT_DIR
"""
import glob
import json
import os
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import numpy_helper
from onnx.reference import ReferenceEvaluator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def close(a, b, rtol, atol):
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        same_nan = np.array_equal(np.isnan(a64), np.isnan(b64))
        ok = np.isnan(a64) | (np.abs(a64 - b64) <= atol + rtol * np.abs(a64))
        return bool(same_nan and ok.all())
    return bool(np.array_equal(a, b))


def concord_binary():
    return os.path.join(ROOT, "build", "bin", "concord")


def recheck_perf(bundle, f, runs=5):
    perf = f.get("details", {}).get("perf")
    if perf:
        threshold = perf["factor"] * perf["median_ratio"]
    else:
        # Bundles from before details.perf: the message names the median ratio; the campaign's
        # factor was the default, 10.
        m = re.search(r"median ratio is ([0-9.]+)x", f.get("message", ""))
        if not m:
            return "not re-checkable: the bundle records no perf threshold"
        threshold = 10 * float(m.group(1))
    cmd = [concord_binary(), "bench", os.path.join(bundle, "model.onnx"), "--envs",
           "ref;" + f["env"], "--repeat", str(max(3, runs)), "--json"]
    inputs = os.path.join(bundle, "test_data_set_0")
    if os.path.isdir(inputs):
        cmd += ["--inputs", inputs]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        rec = json.loads(p.stdout)
        ratio = rec["envs"][1]["ratio_vs_first"]
    except (ValueError, KeyError, IndexError, TypeError):
        return f"not re-timed: concord bench failed ({p.stderr.strip()[:80]})"
    if ratio is None:
        return "not re-timed: an env failed in concord bench"
    if ratio > threshold:
        return f"confirmed by re-timing: {ratio:.1f}x ref (threshold {threshold:.1f}x)"
    return f"not reproduced: {ratio:.1f}x ref, threshold {threshold:.1f}x"


def recheck(bundle):
    f = json.load(open(os.path.join(bundle, "finding.json")))
    sym = f["symptom"]
    tol = f.get("details", {}).get("tolerance", {"rtol": 1e-2, "atol": 1e-3})
    row = {"id": f["id"], "env": f["env"], "symptom": sym, "signature": f["signature"],
           "nodes": f"{f['original_nodes']}->{f['reduced_nodes']}"}
    if sym in ("inconsistent", "undefined"):
        m = onnx.load(os.path.join(bundle, "model.onnx"))
        feeds = {}
        for i, inp in enumerate(m.graph.input):
            p = os.path.join(bundle, "test_data_set_0", f"input_{i}.pb")
            if os.path.exists(p):
                feeds[inp.name] = load_pb(p)
        try:
            want = ReferenceEvaluator(m).run(None, feeds)
        except Exception as e:  # noqa: BLE001 - report what the second oracle said
            row["verdict"] = f"onnx.reference failed: {type(e).__name__}: {str(e)[:80]}"
            return row
        ref_ok, env_bad = True, False
        for k, w in enumerate(want):
            exp_p = os.path.join(bundle, "test_data_set_0", f"output_{k}.pb")
            act_p = os.path.join(bundle, f"actual_{k}.pb")
            w = np.asarray(w)
            if os.path.exists(exp_p):
                ref_ok &= close(w, load_pb(exp_p), tol["rtol"], tol["atol"])
            if os.path.exists(act_p):
                env_bad |= not close(w, load_pb(act_p), tol["rtol"], tol["atol"])
            else:
                env_bad = True
        if ref_ok and env_bad:
            row["verdict"] = "confirmed: onnx.reference = concord ref != env"
        elif not ref_ok:
            row["verdict"] = "DISPUTED: onnx.reference differs from concord ref"
        else:
            row["verdict"] = "not reproduced: env agrees with onnx.reference"
    elif sym == "perf":
        row["verdict"] = recheck_perf(bundle, f)
    else:
        p = subprocess.run(["sh", os.path.join(bundle, "repro.sh")], capture_output=True,
                           text=True, env=dict(os.environ, PATH=os.path.join(ROOT, "build", "bin")
                                                + ":" + os.environ["PATH"]), timeout=300)
        row["verdict"] = ("confirmed: repro.sh still fails" if p.returncode != 0
                          else "not reproduced: repro.sh passes")
    return row


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "fuzz_out"
    rows = [recheck(b) for b in sorted(glob.glob(os.path.join(out, "[0-9]*-*")))
            if os.path.isdir(b) and not b.endswith(".part")]
    print("| # | env | symptom | reduced op signature | nodes | re-check |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['id']} | {r['env']} | {r['symptom']} | {r['signature']} | {r['nodes']} | "
              f"{r['verdict']} |")


if __name__ == "__main__":
    main()
