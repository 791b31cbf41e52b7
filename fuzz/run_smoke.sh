#!/usr/bin/env bash
# Bounded fuzz run used by the test suite: FUZZER RUNS. Seeds the corpus with real models and
# tensors from ONNX's test data (plus our example), then runs libFuzzer for RUNS executions.
# Exit code non-zero on any crash/leak/UB finding.
set -euo pipefail
fuzzer=$1; runs=$2
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
data=/usr/share/libonnx-testdata/data
name=$(basename "$fuzzer")
i=0
for f in "$data"/node/test_{add,conv_with_strides_padding,if,loop11,lstm_defaults,resize_upsample_scales_linear,gather_0,cast_FLOAT_to_STRING}/model.onnx \
         "$data"/node/test_{add,conv_with_strides_padding,cast_FLOAT_to_STRING}/test_data_set_0/input_0.pb; do
  [ -f "$f" ] || continue
  i=$((i+1))
  if [ "$name" = tensor_reader_fuzz ]; then
    { printf '\x00'; cat "$f"; } > "$corpus/seed$i"
  else
    cp "$f" "$corpus/seed$i"
  fi
done
if [ "$name" = tensor_reader_fuzz ]; then
  python3 - "$corpus" <<'PY'
import struct, sys
h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
open(sys.argv[1] + "/npy", "wb").write(b"\x01\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + b"\0" * 24)
PY
fi
"$fuzzer" -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus" 2>&1 | grep -E "ERROR|SUMMARY|runtime error|^    #[0-9] |Done|stat::(number_of_executed|average_exec)"
