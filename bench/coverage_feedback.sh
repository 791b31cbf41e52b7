#!/usr/bin/env bash
# Coverage feedback, measured: the same fuzz campaign (seeds, env, model count) with and
# without --coverage-feedback, then from each store: the node kinds (op x key attributes x
# dtype) the env was tested on, the op types reached, and how evenly the ops were drawn (the
# least-drawn op's model count, the coefficient of variation over ops).
#
#   bench/coverage_feedback.sh build/bin/concord [MODELS] [ENV]
set -euo pipefail
concord=$(realpath "$1")
models=${2:-400}
env=${3:-ort@cpu,opt=3,threads=1}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for mode in off on; do
  flag=()
  [[ $mode == on ]] && flag=(--coverage-feedback)
  start=$(date +%s.%N)
  "$concord" fuzz --envs "$env" --iterations "$models" --seed 1 --no-reduce --quiet \
    "${flag[@]}" --out "$tmp/$mode" >/dev/null || [[ $? == 1 ]]  # 1: new findings
  end=$(date +%s.%N)
  "$concord" fuzz-report "$tmp/$mode/fuzz.db" --json > "$tmp/$mode.json" || [[ $? == 1 ]]
  python3 - "$tmp/$mode.json" "$mode" "$models" "$start" "$end" <<'PY'
import json, statistics, sys
doc = json.load(open(sys.argv[1]))["document"]
cov = doc["coverage"]
counts = sorted(cov.values())
kc = doc["kind_coverage"]
env = kc["envs"][0]
kinds = kc["totals"][env]["kinds"]
cv = statistics.pstdev(counts) / statistics.mean(counts)
print("| %s | %s | %d | %d | %d | %.2f | %.1f |" % (
    sys.argv[2], sys.argv[3], kinds, len(counts), counts[0], cv,
    float(sys.argv[5]) - float(sys.argv[4])))
PY
done | { echo "| coverage feedback | models | node kinds tested | op types | least-drawn op (models) | CV of op counts | wall s |"; echo "|---|---|---|---|---|---|---|"; cat; }
