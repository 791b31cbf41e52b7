#!/usr/bin/env bash
# Proves scripts/check_layers fails on violations: a scratch tree with the real layer table and
# three planted includes (ir -> campaign upward, campaign -> ref outside ref_backend, a folder
# missing from the table) must exit 1 naming each; the same tree without them must exit 0; then
# a file opening another folder's namespace must exit 1 naming it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/docs" "$tmp/src/ir" "$tmp/src/campaign" "$tmp/src/backends" "$tmp/src/newfolder"
cp "$repo/docs/ARCHITECTURE.md" "$tmp/docs/"
printf '#include "ir/tensor.h"\n' > "$tmp/src/ir/ok.cc"
printf '#include "ref/interpreter.h"\n' > "$tmp/src/backends/ref_backend.cc"
"$repo/scripts/check_layers" "$tmp" >/dev/null || { echo "clean tree rejected"; exit 1; }
printf '#include "campaign/matrix.h"\n' > "$tmp/src/ir/bad.cc"
printf '\n#include "ref/interpreter.h"\n' > "$tmp/src/campaign/fuzz.cc"
printf '#include "ir/tensor.h"\n' > "$tmp/src/newfolder/x.cc"
rc=0
out="$("$repo/scripts/check_layers" "$tmp")" || rc=$?
echo "$out"
[ "$rc" -eq 1 ] || { echo "expected exit 1, got $rc"; exit 1; }
grep -q 'src/ir/bad.cc:1: ir -> campaign (not allowed)' <<<"$out"
grep -q 'src/campaign/fuzz.cc:2: campaign -> ref (not allowed)' <<<"$out"
grep -q "folder 'newfolder' is not in the layer table" <<<"$out"
echo "check_layers rejects all three planted includes"
# The namespace rule: a campaign file in the interpreter's namespace is rejected by name.
rm "$tmp/src/ir/bad.cc" "$tmp/src/campaign/fuzz.cc" "$tmp/src/newfolder/x.cc"
rmdir "$tmp/src/newfolder"
printf 'namespace concord::report::detail {\n}\n' > "$tmp/src/campaign/ok_detail.cc"
printf 'namespace concord {\n}\n' > "$tmp/src/campaign/ok.cc"
"$repo/scripts/check_layers" "$tmp" >/dev/null && { echo "foreign detail namespace accepted"; exit 1; }
rm "$tmp/src/campaign/ok_detail.cc"
"$repo/scripts/check_layers" "$tmp" >/dev/null || { echo "clean namespaces rejected"; exit 1; }
printf '#include "ir/tensor.h"\nnamespace concord {\nnamespace ref {\n}\n}\n' > "$tmp/src/campaign/ns.cc"
rc=0
out="$("$repo/scripts/check_layers" "$tmp")" || rc=$?
echo "$out"
[ "$rc" -eq 1 ] || { echo "expected exit 1 for the namespace, got $rc"; exit 1; }
grep -q 'src/campaign/ns.cc:2: namespace concord::ref (folder campaign uses concord)' <<<"$out"
echo "check_layers rejects a file in another folder's namespace"
