#!/bin/sh
# ort@cpu,opt=3: inconsistent — see finding.json
# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference interpreter;
# actual_*.pb is what ort@cpu,opt=3 returned.
concord conformance --suite "$(dirname "$0")/.." --filter '^0050-ort_cpu_opt_3-inconsistent$' --env 'ort@cpu,opt=3' --verbose
