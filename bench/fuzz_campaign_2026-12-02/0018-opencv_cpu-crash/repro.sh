#!/bin/sh
# opencv@cpu: crash — see finding.json
# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference interpreter;
# actual_*.pb is what opencv@cpu returned.
concord conformance --suite "$(dirname "$0")/.." --filter '^0018-opencv_cpu-crash$' --env 'opencv@cpu,isolate=1,timeout=20' --verbose
