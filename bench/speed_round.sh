#!/usr/bin/env bash
# The speed round: one `concord bench` run per model and thread count on the bench models and
# the demo classifier, ORT first (ratios are vs its in-worker time), then dnnl at opt 0..3, ref
# and tvm at opt 3 (the shipped MetaSchedule databases); prints a Markdown table with the
# per-call overhead (wall - run) of each env, and writes the JSON under OUT_DIR.
#   bench/speed_round.sh [OUT_DIR]      (default bench/results; needs scripts/setup first)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
mkdir -p "$out"
[ -f bench/models/resnet18_shaped.onnx ] || .venv/bin/python scripts/make_models.py bench bench/models
models=(bench/models/mobilenetv2_shaped.onnx bench/models/resnet18_shaped.onnx
        build/demo/efficientnet_lite0.onnx)
for model in "${models[@]}"; do
  name=$(basename "$model" .onnx)
  for t in 1 2; do
    envs="ort@cpu,opt=3,threads=$t;dnnl@cpu,opt=0,threads=$t;dnnl@cpu,opt=1,threads=$t"
    envs+=";dnnl@cpu,opt=2,threads=$t;dnnl@cpu,opt=3,threads=$t;ref,threads=$t"
    envs+=";tvm@cpu,opt=3,threads=$t"
    echo "== $name, $t thread(s)" >&2
    build/bin/concord bench "$model" --envs "$envs" --warmup 5 --repeat 30 --json \
      > "$out/${name}_dnnl_t$t.json"
  done
done
.venv/bin/python - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
print("| model | threads | env | median ms | first run ms | vs ORT's own time | overhead |")
print("|---|---|---|---|---|---|---|")
for f in sorted(out.glob("*_dnnl_t*.json")):
    j = json.loads(f.read_text())
    name, t = f.stem.rsplit("_dnnl_t", 1)
    base = None
    for r in j["envs"]:
        if not r["ok"]:
            print(f"| {name} | {t} | {r['env']} | failed: {r['error']} | | |")
            continue
        med = r["run_ms"]["median"]
        if base is None:  # ORT: its own in-worker time when it reports one
            base = r.get("runtime_own_ms", r["run_ms"])["median"]
            med = base
        over = f"{r['overhead_ms']['median']:.3f} ms ({r['overhead_pct']:.1f}%, {r['transport']})"
        print(f"| {name} | {t} | {r['env']} | {med:.2f} | {r['first_run']['run_ms']:.1f} | "
              f"{med / base:.2f}x | {over} |")
PY
