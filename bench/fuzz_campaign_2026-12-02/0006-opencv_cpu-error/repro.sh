#!/bin/sh
# opencv@cpu: error — see finding.json
# Expected outputs (test_data_set_0/output_*.pb) come from Concord's reference interpreter;
# actual_*.pb is what opencv@cpu returned.
concord conformance --suite "$(dirname "$0")/.." --filter '^0006-opencv_cpu-error$' --env 'opencv@cpu' --verbose
