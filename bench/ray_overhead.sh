#!/usr/bin/env bash
# What running a matrix through Ray costs on one machine: a 200-cell matrix (the tiny CNN x
# ref and ort@cpu x 20 random inputs x 5 repeats), each run into a fresh store, RUNS times:
#   single  one `concord matrix` process;
#   local   `concord matrix --ray local`: a throwaway Ray cluster on this machine (start, one
#           task per (model, env) session, each task's store merged, shutdown);
#   warm    `--ray ADDRESS` against a cluster already running on this machine (a head with 2
#           CPUs, ray.cluster_utils.Cluster), so without the cluster's start and stop.
# single and local alternate; the warm runs follow. Prints every wall time, the medians and
# their ratios to single, and checks that all three stores hold the same 200 cells with the
# same output digests.
#
#   bench/ray_overhead.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
concord=$PWD/build/bin/concord
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/matrix.json" <<JSON
{"name": "ray-overhead", "models": [{"path": "$PWD/examples/tiny_cnn/model.onnx"}],
 "envs": ["ref", "ort@cpu"], "dataset": {"random": 20, "seed": 1}, "repeats": 5}
JSON
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
wall() {  # store, extra args... -> seconds
  local db=$1 t0 t1
  shift
  rm -f "$db"*
  t0=$(date +%s.%N)
  "$concord" matrix "$work/matrix.json" --db "$db" --no-report --quiet "$@" >/dev/null
  t1=$(date +%s.%N)
  echo "$t1 - $t0" | bc -l
}
single=() ray=()
for i in $(seq "$runs"); do
  single+=("$(wall "$work/single.db")")
  ray+=("$(wall "$work/ray.db" --ray local)")
  printf 'run %d: single process %.2f s, --ray local %.2f s\n' "$i" "${single[-1]}" "${ray[-1]}"
done
mapfile -t warm < <(.venv/bin/python - "$concord" "$work" "$runs" <<'PY'
import os, subprocess, sys, time
from ray.cluster_utils import Cluster
concord, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
cluster = Cluster(initialize_head=True, head_node_args={
    "num_cpus": 2, "include_dashboard": False, "resources": {"concord_node": 1}})
try:
    for _ in range(runs):
        db = os.path.join(work, "warm.db")
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.remove(db + suffix)
        t0 = time.monotonic()
        subprocess.run([concord, "matrix", os.path.join(work, "matrix.json"), "--db", db,
                        "--no-report", "--quiet", "--ray", cluster.address],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print("%.3f" % (time.monotonic() - t0))
finally:
    cluster.shutdown()
PY
)
for i in $(seq "$runs"); do printf 'run %d: --ray to a running cluster %.2f s\n' "$i" "${warm[$((i - 1))]}"; done
ms=$(printf '%s\n' "${single[@]}" | median)
mr=$(printf '%s\n' "${ray[@]}" | median)
mw=$(printf '%s\n' "${warm[@]}" | median)
printf 'median of %d: single process %.2f s; --ray local %.2f s (%.2fx, +%.2f s); --ray to a running cluster %.2f s (%.2fx, +%.2f s)\n' \
  "$runs" "$ms" "$mr" "$(echo "$mr / $ms" | bc -l)" "$(echo "$mr - $ms" | bc -l)" \
  "$mw" "$(echo "$mw / $ms" | bc -l)" "$(echo "$mw - $ms" | bc -l)"
q="SELECT m.sha256, e.env, i.digest, r.repeat, r.status, group_concat(o.digest) FROM runs r
   JOIN models m ON m.id=r.model_id JOIN environments e ON e.id=r.env_id
   JOIN inputs i ON i.id=r.input_id LEFT JOIN outputs o ON o.run_id=r.id GROUP BY r.id ORDER BY 1,2,3,4"
n=$(sqlite3 "$work/single.db" "SELECT count(*) FROM runs")
one=$(sqlite3 "$work/single.db" "$q")
if [ "$one" = "$(sqlite3 "$work/ray.db" "$q")" ] && [ "$one" = "$(sqlite3 "$work/warm.db" "$q")" ]; then
  echo "stores: $n cells each, same cells and output digests"
else
  echo "stores differ" >&2
  exit 1
fi
