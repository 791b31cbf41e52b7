#!/usr/bin/env bash
# What localization costs on the ResNet-18-shaped model (bench/models, scripts/make_models.py):
# the target is the source with one middle Conv's 3x3 kernels transposed (a parameter fault).
# Prints, side by side in one run and on the same input set: the plain ref run (`concord run`),
# the tapped ref run (`concord run --taps`, every intermediate tensor kept), and `concord
# localize` (one tapped run per side, alignment, divergence per pair, classification), each the
# median of REPEATS whole-command wall times, plus the per-side run time localize reports.
#
#   bench/localize_cost.sh [REPEATS]
set -euo pipefail
cd "$(dirname "$0")/.."
repeats=${1:-5}
src=bench/models/resnet18_shaped.onnx
[ -f "$src" ] || .venv/bin/python scripts/make_models.py bench bench/models >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
.venv/bin/python - "$src" "$work" <<'PY'
import os, sys
import numpy as np
import onnx
from onnx import numpy_helper
src, work = sys.argv[1], sys.argv[2]
m = onnx.load(src)
convs = [n for n in m.graph.node if n.op_type == "Conv"]
n = convs[len(convs) // 2]
init = next(i for i in m.graph.initializer if i.name == n.input[1])
w = numpy_helper.to_array(init)
init.CopyFrom(numpy_helper.from_array(np.swapaxes(w, -1, -2).copy(), init.name))
onnx.save(m, os.path.join(work, "target.onnx"))
os.makedirs(os.path.join(work, "in"))
x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
with open(os.path.join(work, "in", "input_0.pb"), "wb") as f:
    f.write(numpy_helper.from_array(x, m.graph.input[0].name).SerializeToString())
print("fault: node", n.name, "weight", init.name, "transposed in the last two axes")
PY
concord=build/bin/concord
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
wall() {  # command... -> seconds
  local t0 t1
  t0=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }' 
}
plain=(); tapped=(); loc=(); src_ms=(); tgt_ms=()
for _ in $(seq "$repeats"); do
  plain+=("$(wall "$concord" run "$src" --inputs "$work/in")")
  tapped+=("$(wall "$concord" run "$src" --inputs "$work/in" --taps --out "$work/taps")")
  loc+=("$(wall "$concord" localize "$src" "$work/target.onnx" --inputs "$work/in" --json)")
  "$concord" localize "$src" "$work/target.onnx" --inputs "$work/in" --json >"$work/l.json" 2>/dev/null || true
  src_ms+=("$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["timings_ms"]["source_runs"])' "$work/l.json")")
  tgt_ms+=("$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["timings_ms"]["target_runs"])' "$work/l.json")")
done
first=$(.venv/bin/python -c 'import json,sys; print(json.load(open(sys.argv[1]))["first_divergent_node"])' "$work/l.json")
printf 'localize found: %s\n' "$first"
printf 'median of %d, wall time of the whole command (load, prepare, run, write):\n' "$repeats"
printf '  concord run            %.3f s\n' "$(printf '%s\n' "${plain[@]}" | median)"
printf '  concord run --taps     %.3f s\n' "$(printf '%s\n' "${tapped[@]}" | median)"
printf '  concord localize       %.3f s\n' "$(printf '%s\n' "${loc[@]}" | median)"
printf 'tapped run inside localize: source %.1f ms, target %.1f ms (median)\n' \
  "$(printf '%s\n' "${src_ms[@]}" | median)" "$(printf '%s\n' "${tgt_ms[@]}" | median)"
