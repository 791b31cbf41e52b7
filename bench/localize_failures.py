#!/usr/bin/env python3
"""Localizes every wrong-result ONNX backend-suite case of the third-party envs against ref.

For each env and suite: `concord conformance --json` lists the cases that fail; those of class
"wrong_result" (the env ran and its numbers or shapes differ; --classes picks others) are localized: `concord localize MODEL MODEL --source-env ref --env ENV --inputs
CASE/test_data_set_0 --json` names the first divergent node. Writes a JSON file and a Markdown
table (bench/results/localize_failures.{json,md}).

    python3 bench/localize_failures.py [--envs 'ort@cpu;tvm@cpu;opencv@cpu,isolate=1'] [--suites node,pytorch-converted]
"""
import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONCORD = os.path.join(ROOT, "build", "bin", "concord")
DATA = "/usr/share/libonnx-testdata/data"


def run(args, timeout=600):
    p = subprocess.run([CONCORD] + args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--envs", default="ort@cpu;tvm@cpu;opencv@cpu,isolate=1")
    ap.add_argument("--suites", default="pytorch-converted,pytorch-operator,simple,node")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "results"))
    ap.add_argument("--limit", type=int, default=0, help="at most N failing cases per env/suite")
    ap.add_argument("--classes", default="wrong_result",
                    help="failure classes to localize (wrong_result,crash,timeout,error,unsupported); an env "
                         "that cannot run a model has no divergent node to find")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    rows = []
    for env in [e for e in a.envs.split(";") if e]:
        for suite in a.suites.split(","):
            # The conformance record is kept next to the results and reused on a rerun.
            cache = os.path.join(a.out, "conformance_%s_%s.json" % (
                "".join(ch if ch.isalnum() else "_" for ch in env), suite))
            if os.path.exists(cache):
                out, err = open(cache).read(), ""
            else:
                rc, out, err = run(["conformance", "--suite", os.path.join(DATA, suite), "--env",
                                    env, "--json"], timeout=3600)
                if out.strip().startswith("{"):
                    with open(cache, "w") as f:
                        f.write(out)
            try:
                cases = json.loads(out)["cases"]
            except (ValueError, KeyError):
                print("conformance failed for", env, suite, err[-500:], file=sys.stderr)
                continue
            classes = a.classes.split(",")
            failing = [c for c in cases
                       if c["status"] in ("fail", "error") and c.get("class") in classes]
            if a.limit:
                failing = failing[:a.limit]
            print(f"{env} {suite}: {len(failing)} failing cases", file=sys.stderr)
            for c in failing:
                case_dir = os.path.join(DATA, suite, c["name"])
                model = os.path.join(case_dir, "model.onnx")
                inputs = os.path.join(case_dir, "test_data_set_0")
                t0 = time.time()
                rc, out, err = run(["localize", model, model, "--source-env", "ref", "--env", env,
                                    "--inputs", inputs, "--rtol", "1e-3", "--atol", "1e-5",
                                    "--json"], timeout=600)
                dt = time.time() - t0
                row = {"env": env, "suite": suite, "case": c["name"], "status": c["status"],
                       "conformance_reason": c.get("reason", "")[:200], "localize_rc": rc,
                       "seconds": round(dt, 2)}
                try:
                    j = json.loads(out)
                    row["first_divergent_node"] = j.get("first_divergent_node")
                    row["kind"] = j.get("kind")
                    fd = next((n for n in j.get("nodes", []) if n.get("node") == j.get(
                        "first_divergent_node")), None)
                    row["op_type"] = fd.get("op_type") if fd else None
                    row["note"] = j.get("note") or j.get("message") or ""
                except ValueError:
                    row["error"] = (err or out)[-300:]
                rows.append(row)
            write(rows, a.out)
    write(rows, a.out)
    print(f"{len(rows)} cases -> {a.out}/localize_failures.md", file=sys.stderr)


def write(rows, out):
    with open(os.path.join(out, "localize_failures.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(out, "localize_failures.md"), "w") as f:
        f.write("| env | suite | case | conformance | first divergent node (op) | kind | s |\n")
        f.write("|---|---|---|---|---|---|---|\n")
        for r in rows:
            node = r.get("first_divergent_node")
            node = f"{node} ({r.get('op_type')})" if node else ("-" if "error" not in r else
                                                                  "localize error")
            f.write(f"| {r['env']} | {r['suite']} | {r['case']} | {r['status']} | {node} | "
                    f"{r.get('kind') or '-'} | {r['seconds']} |\n")


if __name__ == "__main__":
    main()
