#!/bin/sh
# tvm@cpu,opt=3: error — see finding.json
# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference interpreter;
# actual_*.pb is what tvm@cpu,opt=3 returned.
concord conformance --suite "$(dirname "$0")/.." --filter '^0047-tvm_cpu_opt_3-error$' --env 'tvm@cpu,opt=3' --verbose
