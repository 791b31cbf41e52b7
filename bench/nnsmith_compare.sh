#!/usr/bin/env bash
# Concord vs NNSmith, like for like, in one run: the same target (ONNX Runtime, CPU), the same
# node budget (10 operator nodes per model), both validating every model, one process each
# (Concord: `concord fuzz` with ORT in its worker; NNSmith: `nnsmith.fuzz`, crash-safe, each
# test in a subprocess). Generation alone and end to end, rates per wall second and per CPU
# second (user + system of the whole process tree: "per core", robust to other load on the
# machine). Raw logs, /usr/bin/time records and the table go to OUT (default
# bench/nnsmith_compare/<date>).
#
#   bench/nnsmith_compare.sh [SECONDS] [NNSMITH_VENV] [OUT]
#
# NNSMITH_VENV (default /tmp/nnsmith-venv) is a venv that is never the project's:
#   /usr/bin/python3 -m venv --system-site-packages /tmp/nnsmith-venv   # Debian's python3-torch
#   /tmp/nnsmith-venv/bin/pip install nnsmith==0.1.0 z3-solver hydra-core hydra-colorlog \
#     multipledispatch appdirs onnx==1.14.1 onnxruntime==1.16.3
# Generation alone: Concord's gen_bench (z3 solving, concretization, ONNX checker + shape
# inference, a validation run on `ref` without NaN/Inf) and bench/nnsmith_bench.py (NNSmith's
# symbolic generation; "complete" adds materialization, its torch oracle and ONNX export).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
venv=${2:-/tmp/nnsmith-venv}
out=${3:-bench/nnsmith_compare/$(date +%F)}
mkdir -p "$out"
out=$(cd "$out" && pwd)
concord=$PWD/build/bin/concord
timed() {  # NAME CMD...: runs CMD with /usr/bin/time, log to OUT/NAME.log, time to OUT/NAME.time
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$out/$name.time" "$@" >"$out/$name.log" 2>&1 || true
}
cpu() { tail -1 "$out/$1.time" | awk '{ printf "%.1f", $2 + $3 }'; }
wall() { tail -1 "$out/$1.time" | awk '{ printf "%.1f", $1 }'; }

if [ "${TABLE_ONLY:-}" != 1 ]; then  # TABLE_ONLY=1: only rebuild table.md from OUT's logs
[ -x "$venv/bin/nnsmith.fuzz" ] || { echo "no $venv/bin/nnsmith.fuzz: see the header" >&2; exit 2; }
cut -d' ' -f1 /proc/loadavg >"$out/load_before"

# 1. Generation alone.
timed gen_concord build/bin/gen_bench --benchmark_filter='BM_Generate/10/' --benchmark_format=json
timed gen_nnsmith "$venv/bin/python" bench/nnsmith_bench.py 50

# 2. End to end against ONNX Runtime.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
timed fuzz_concord "$concord" fuzz --envs 'ort@cpu,opt=3' --time "$secs" --no-reduce --seed 1 \
  --max-nodes 10 --out "$work/concord_fuzz" --json -q
cp "$work/concord_fuzz/fuzz_report.html" "$out/concord_fuzz_report.html" || true
(cd "$work" && timed fuzz_nnsmith "$venv/bin/nnsmith.fuzz" fuzz.time="${secs}s" \
   fuzz.root="$work/nn" model.type=onnx backend.type=onnxruntime mgen.max_nodes=10 fuzz.seed=1 \
   fuzz.crash_safe=true hydra.run.dir="$work/nnhydra")
cat "$work"/nnhydra/*.log >>"$out/fuzz_nnsmith.log" 2>/dev/null || true
cut -d' ' -f1 /proc/loadavg >"$out/load_after"
fi
load_before=$(cat "$out/load_before" 2>/dev/null || echo "?")
load_after=$(cat "$out/load_after" 2>/dev/null || echo "?")

c_gen=$(.venv/bin/python -c 'import json,sys
d = json.load(open(sys.argv[1]))
b = [x for x in d["benchmarks"] if x["name"].startswith("BM_Generate/10")][0]
print("%.1f" % (1e9 / b["real_time"] if b["time_unit"] == "ns" else 1e3 / b["real_time"]))' \
  <(sed -n '/^{/,$p' "$out/gen_concord.log"))
n_gen=$(grep -o 'max_nodes=10: .*' "$out/gen_nnsmith.log" | sed -E 's/.*generation only ([0-9.]+).*/\1/')
n_all=$(grep -o 'max_nodes=10: .*' "$out/gen_nnsmith.log" | sed -E 's/.* ([0-9.]+) models\/s$/\1/')
c_tests=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["tests"])' \
  <(sed -n '/^{/,$p' "$out/fuzz_concord.log"))
n_tests=$(grep -ho 'Total [0-9]* testcases generated' "$out/fuzz_nnsmith.log" | head -1 |
          awk '{print $2}')
n_tests=${n_tests:-0}
{
  echo "Concord vs NNSmith 0.1.0, $(date -u +%FT%TZ), $(nproc) cores, load ${load_before} -> ${load_after}"
  echo
  echo "| stage | Concord | NNSmith | Concord / NNSmith |"
  echo "|---|---|---|---|"
  awk -v c="$c_gen" -v n="$n_gen" -v a="$n_all" 'BEGIN {
    printf "| generation, 10 nodes, models/s (wall, one thread) | %.1f (validated on ref) | %.1f (generation only); %.1f (with materialize + oracle + export) | %.1fx; %.1fx |\n", c, n, a, c / n, c / a }'
  awk -v ct="$c_tests" -v cw="$(wall fuzz_concord)" -v cc="$(cpu fuzz_concord)" \
      -v nt="$n_tests" -v nw="$(wall fuzz_nnsmith)" -v nc="$(cpu fuzz_nnsmith)" 'BEGIN {
    printf "| fuzzing ORT end to end, tests | %d in %.1f s wall, %.1f CPU s | %d in %.1f s wall, %.1f CPU s | |\n", ct, cw, cc, nt, nw, nc
    printf "| tests per wall second | %.2f | %.2f | %.2fx |\n", ct / cw, nt / nw, (ct / cw) / (nt / nw)
    printf "| tests per CPU second (per core) | %.2f | %.2f | %.2fx |\n", ct / cc, nt / nc, (ct / cc) / (nt / nc) }'
} | tee "$out/table.md"
