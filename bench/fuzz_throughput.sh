#!/usr/bin/env bash
# End-to-end fuzzing throughput, Concord vs NNSmith, measured one after the other in one run on
# this machine, same node budget (10 operator nodes per model), same time per campaign:
#   1. concord fuzz against ONNX Runtime alone (no reduction, as NNSmith does not reduce);
#   2. nnsmith.fuzz (NNSmith 0.1.0) against ONNX Runtime: NNSmith's own loop (generate,
#      materialize with torch, export ONNX, run onnxruntime, compare with the torch oracle),
#      with fuzz.crash_safe=true (each test in a subprocess: without it an ORT crash aborts it);
#   3. concord fuzz against ONNX Runtime, TVM and OpenCV (tests = (model, env) executions).
# NNSmith 0.1.0's TVM backend needs Relay, which TVM 0.27 no longer has, so it has no row 3.
#
#   bench/fuzz_throughput.sh [SECONDS] [NNSMITH_VENV]
# NNSMITH_VENV (default /tmp/nnsmith-venv) is a venv that is never the project's:
#   /usr/bin/python3 -m venv --system-site-packages /tmp/nnsmith-venv   # Debian's python3-torch
#   /tmp/nnsmith-venv/bin/pip install nnsmith==0.1.0 z3-solver hydra-core hydra-colorlog \
#     multipledispatch appdirs onnx==1.14.1 onnxruntime==1.16.3
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
venv=${2:-/tmp/nnsmith-venv}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
concord=build/bin/concord

field() {  # FILE KEY: one number from a `concord fuzz --json` record
  .venv/bin/python -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
rate() {  # label tests seconds
  awk -v l="$1" -v n="$2" -v s="$3" 'BEGIN { printf "%-44s %6d tests in %6.1f s = %6.2f tests/s\n", l, n, s, n / s }'
}

"$concord" fuzz --envs 'ort@cpu,opt=3' --time "$secs" --no-reduce --seed 1 --max-nodes 10 \
  --out "$work/c1" --json -q >"$work/c1.json" || true
c1_tests=$(field "$work/c1.json" tests); c1_s=$(field "$work/c1.json" seconds)

nn_tests=NA; nn_s=$secs
if [ -x "$venv/bin/nnsmith.fuzz" ]; then
  (cd "$work" && "$venv/bin/nnsmith.fuzz" fuzz.time="${secs}s" fuzz.root="$work/nn" model.type=onnx \
     backend.type=onnxruntime mgen.max_nodes=10 fuzz.seed=1 fuzz.crash_safe=true hydra.run.dir="$work/nnhydra" \
     >"$work/nn.log" 2>&1) || true
  nn_tests=$(grep -ho 'Total [0-9]* testcases generated' "$work/nn.log" "$work"/nnhydra/*.log 2>/dev/null |
             head -1 | awk '{print $2}' || true)
  nn_tests=${nn_tests:-NA}
fi

"$concord" fuzz --envs 'ort@cpu,opt=3;tvm@cpu,opt=3;opencv@cpu' --time "$secs" --seed 1 \
  --max-nodes 10 --out "$work/c3" --json -q >"$work/c3.json" || true
c3_tests=$(field "$work/c3.json" tests); c3_s=$(field "$work/c3.json" seconds)
c3_models=$(field "$work/c3.json" models)

echo "fuzzing throughput, $secs s per campaign, 10 nodes per model, $(nproc) cores"
rate "concord fuzz, ort (no reduction)" "$c1_tests" "$c1_s"
if [ "$nn_tests" != NA ]; then
  rate "nnsmith.fuzz 0.1.0, onnxruntime" "$nn_tests" "$nn_s"
  awk -v a="$c1_tests" -v b="$nn_tests" -v s1="$c1_s" -v s2="$nn_s" \
    'BEGIN { printf "ratio concord / nnsmith on ort: %.2fx\n", (a / s1) / (b / s2) }'
else
  echo "nnsmith.fuzz: not run (no $venv/bin/nnsmith.fuzz, or it printed no total; log: $work/nn.log)"
fi
rate "concord fuzz, ort+tvm+opencv ($c3_models models)" "$c3_tests" "$c3_s"
