#!/usr/bin/env bash
# tvm@cpu's opt ladder against ONNX Runtime on the bench models and the demo classifier: opt
# 0..3 at one thread, opt 3 also at two, each row's passes in tvm_pipeline.LEVELS.
#   bench/tvm_ladder.sh [OUT_DIR]      (default bench/results; needs scripts/setup first)
# opt=3 uses the databases shipped in adapters/tvm_tuning/ (scripts/tune_tvm); the first run of
# each level compiles (minutes for opt 0-2 on ResNet-18), later runs load the cached library.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
mkdir -p "$out"
[ -f bench/models/resnet18_shaped.onnx ] || .venv/bin/python scripts/make_models.py bench bench/models
envs="ort@cpu,opt=3,threads=1;tvm@cpu,opt=0,threads=1;tvm@cpu,opt=1,threads=1;tvm@cpu,opt=2,threads=1"
envs="$envs;tvm@cpu,opt=3,threads=1;ort@cpu,opt=3,threads=2;tvm@cpu,opt=3,threads=2"
for model in bench/models/resnet18_shaped.onnx bench/models/mobilenetv2_shaped.onnx \
             build/demo/efficientnet_lite0.onnx; do
  name=$(basename "$model" .onnx)
  echo "== $name" >&2
  build/bin/concord bench "$model" --envs "$envs" --warmup 3 --repeat 10 --json \
    > "$out/tvm_ladder_$name.json" || true
done
.venv/bin/python - "$out" <<'PY'
import json, sys
print("| model | env | median ms | p90 ms | vs ORT (same threads) |")
print("|---|---|---|---|---|")
for name in ("resnet18_shaped", "mobilenetv2_shaped", "efficientnet_lite0"):
    with open("%s/tvm_ladder_%s.json" % (sys.argv[1], name)) as f:
        envs = json.load(f)["envs"]
    ort = {e["env"].split("threads=")[1]: e["run_ms"]["median"] for e in envs
           if e["ok"] and e["env"].startswith("ort")}
    for e in envs:
        if not e["ok"]:
            print("| %s | %s | failed: %s | | |" % (name, e["env"], e["error"]))
            continue
        med = e["run_ms"]["median"]
        print("| %s | %s | %.2f | %.2f | %.2fx |" % (name, e["env"], med, e["run_ms"]["p90"],
                                                   med / ort[e["env"].split("threads=")[1]]))
PY
