#!/usr/bin/env bash
# Bounded fuzz run used by the test suite: FUZZER RUNS. Seeds the corpus with real models and
# tensors from ONNX's test data (plus our example), then runs libFuzzer for RUNS executions.
# Inputs that once crashed a harness (fuzz/regressions/HARNESS/) join its corpus, so every run
# replays them. New crash inputs are written next to the fuzzer binary, never into the checkout.
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
# Current-ONNX seeds (IR 10-13, opset 21-28, float8/4-bit/string tensors) from the node-1.23
# suite the build generates next to the fuzzers (build/onnx-node-1.23), when it is there.
new=$(dirname "$fuzzer")/../onnx-node-1.23
for c in attention_4d_with_past_and_present rms_normalization_2d_axis0 rotary_embedding \
         cast_FLOAT_to_FLOAT8E4M3FN cast_FLOAT_to_INT4 dequantizelinear_blocked \
         string_split_basic tensorscatter; do
  for f in "$new/test_$c/model.onnx" "$new/test_$c/test_data_set_0/input_0.pb"; do
    [ -f "$f" ] || continue
    i=$((i+1))
    if [ "$name" = tensor_reader_fuzz ] && [ "${f##*/}" = input_0.pb ]; then
      { printf '\x00'; cat "$f"; } > "$corpus/seed$i"
    elif [ "$name" = model_loader_fuzz ] && [ "${f##*/}" = model.onnx ]; then
      cp "$f" "$corpus/seed$i"
    fi
  done
done
here=$(cd "$(dirname "$0")" && pwd)
if [ -d "$here/regressions/$name" ]; then cp "$here/regressions/$name"/* "$corpus"/; fi
if [ "$name" = tensor_reader_fuzz ]; then
  python3 - "$corpus" <<'PY'
import struct, sys
h = b"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
open(sys.argv[1] + "/npy", "wb").write(b"\x01\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h + b"\0" * 24)
PY
fi
if [ "$name" = protocol_frame_fuzz ]; then
  # Valid frames (protocol/message.h layout): HELLO, STATS, ERROR, and DATA/OUTPUT frames that
  # carry real TensorProtos from ONNX's test data, a sequence and an empty optional.
  python3 - "$corpus" "$data"/node/test_{add,conv_with_strides_padding,cast_FLOAT_to_STRING}/test_data_set_0/input_0.pb <<'PY'
import json, os, struct, sys
out = sys.argv[1]
def frame(t, meta, blobs=()):
    m = json.dumps(meta).encode()
    body = b"".join(struct.pack("<Q", len(b)) + b for b in blobs)
    return b"CNC1" + bytes([t, 0, 0, 0]) + struct.pack("<IQ", len(m), len(body)) + m + body
# float tensor x[2] = {1.5, -2}: dims, data_type=FLOAT, name, raw_data
x = b"\x08\x02\x10\x01\x42\x01x\x4a\x08" + struct.pack("<2f", 1.5, -2.0)
seq = b"\x0a\x01s\x10\x01\x1a" + bytes([len(x)]) + x  # SequenceProto{name, elem_type, tensor_values}
seeds = {
    "hello": frame(1, {"version": 1, "token": "t", "client": "concord"}),
    "stats": frame(6, {"inference_ms": [0.5, 1.25], "count": 2, "rss_bytes": 1 << 20}),
    "error": frame(8, {"kind": "runtime", "message": "boom"}),
    "process": frame(4, {"taps": True, "repeat": 2}),
    "data": frame(3, {"names": ["x", "s", "n"], "kinds": ["tensor", "sequence", "none"]}, [x, seq, b""]),
    # Tensors in shared memory (the harness decodes against a 64 KiB region): one inside it,
    # one whose bytes run past its end.
    "shm": frame(4, {"taps": False, "names": ["a", "b"], "kinds": ["shm", "shm"],
                     "shm": [{"offset": 0, "dtype": 1, "shape": [2, 3]},
                             {"offset": 64, "dtype": 10, "shape": [4]}], "shm_size": 65536},
                 [b"", b""]),
    "shm_past_end": frame(5, {"names": ["y"], "kinds": ["shm"],
                              "shm": [{"offset": 65500, "dtype": 7, "shape": [8]}]}, [b""]),
}
for i, path in enumerate(sys.argv[2:]):
    if os.path.exists(path):
        seeds["data%d" % i] = frame(3, {"names": ["in"], "kinds": ["tensor"]}, [open(path, "rb").read()])
for k, v in seeds.items():
    open(os.path.join(out, "frame_" + k), "wb").write(v)
PY
fi
"$fuzzer" -artifact_prefix="$(cd "$(dirname "$fuzzer")" && pwd)/" -runs="$runs" -max_len=65536 -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 "$corpus" 2>&1 | grep -E "ERROR|SUMMARY|runtime error|^    #[0-9] |Done|stat::(number_of_executed|average_exec)"
