#!/usr/bin/env bash
# Side-by-side latency of ref, ONNX Runtime, TVM and OpenCV DNN on the MobileNetV2- and
# ResNet-18-shaped models, at 1 and 2 threads, as ratios vs ORT (the first env), plus the
# harness overhead check (ORT's own profiler timing vs the latency Concord reports).
#   bench/run_backends.sh [OUT_DIR]      (default bench/results; needs scripts/setup first)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/results}
mkdir -p "$out"
[ -f bench/models/resnet18_shaped.onnx ] || .venv/bin/python scripts/make_models.py bench bench/models
target="llvm -mcpu=skylake-avx512"
for model in mobilenetv2_shaped resnet18_shaped; do
  for t in 1 2; do
    envs="ort@cpu,opt=3,threads=$t;ref,threads=$t;tvm@cpu,opt=3,threads=$t,target=$target;opencv@cpu,threads=$t"
    echo "== $model, $t thread(s)" >&2
    build/bin/concord bench "bench/models/$model.onnx" --envs "$envs" --warmup 5 --repeat 30 --json \
      > "$out/${model}_t$t.json" || true
  done
  build/bin/concord bench "bench/models/$model.onnx" --envs "ort@cpu,opt=3,threads=1,profile=1" \
    --warmup 5 --repeat 50 --json > "$out/${model}_ort_profile.json" || true
done
.venv/bin/python bench/summarize.py "$out"
