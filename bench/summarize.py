#!/usr/bin/env python3
"""Prints the tables of bench/run_backends.sh results (Markdown)."""
import glob
import json
import os
import sys


def main(out):
    print("| model | threads | env | median ms | p90 ms | 95% CI of median | vs ORT |")
    print("|---|---|---|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(out, "*_t[12].json"))):
        name = os.path.basename(path)[:-5]
        model, t = name.rsplit("_t", 1)
        rec = json.load(open(path))
        for e in rec["envs"]:
            if not e["ok"]:
                print(f"| {model} | {t} | {e['env']} | failed: {e['error'][:60]} | | | |")
                continue
            r = e["run_ms"]
            ratio = e.get("ratio_vs_first")
            lo, hi = r["median_ci"]
            env = e["env"].split(",target=")[0]
            print(f"| {model} | {t} | {env} | {r['median']:.2f} | {r['p90']:.2f} | "
                  f"[{lo:.2f}, {hi:.2f}] | {ratio:.2f}x |")
    print()
    print("| model | Concord-reported median (ms) | ORT profiler median (ms) | harness overhead |")
    print("|---|---|---|---|")
    for path in sorted(glob.glob(os.path.join(out, "*_ort_profile.json"))):
        model = os.path.basename(path)[: -len("_ort_profile.json")]
        e = json.load(open(path))["envs"][0]
        if not e["ok"] or "runtime_own_ms" not in e:
            print(f"| {model} | failed | | |")
            continue
        print(f"| {model} | {e['run_ms']['median']:.3f} | {e['runtime_own_ms']['median']:.3f} | "
              f"{e['harness_vs_runtime_pct']:+.2f}% |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results")
