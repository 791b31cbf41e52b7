#!/bin/sh
# tvm@cpu,opt=3: undefined — see finding.json
# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference interpreter;
# actual_*.pb is what tvm@cpu,opt=3 returned.
concord conformance --suite "$(dirname "$0")/.." --filter '^0053-tvm_cpu_opt_3-undefined$' --env 'tvm@cpu,opt=3' --verbose
