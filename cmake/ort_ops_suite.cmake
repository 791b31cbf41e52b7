# The suite of ops ONNX's node tests leave out (ai.onnx.ml, com.microsoft contrib ops), with
# expected outputs from the pinned onnxruntime in .venv (scripts/make_ort_ops_suite.py), written
# into build/ort-ops/. `concord conformance --suite ort-ops` finds it there; ctest
# ort_ops_conformance_ref holds ref to it. Regenerated when the script or requirements.txt
# changes; needs .venv (scripts/setup).

file(STRINGS "${PROJECT_SOURCE_DIR}/requirements.txt" _ort_pin REGEX "^onnxruntime==")
string(REGEX REPLACE "^onnxruntime==([^ #]+).*" "\\1" CONCORD_ORT_VERSION "${_ort_pin}")
set(CONCORD_ORT_OPS_SUITE_DIR "${CMAKE_BINARY_DIR}/ort-ops")

add_custom_command(
  OUTPUT "${CONCORD_ORT_OPS_SUITE_DIR}/SUITE.json"
  COMMAND "${PROJECT_SOURCE_DIR}/.venv/bin/python" "${PROJECT_SOURCE_DIR}/scripts/make_ort_ops_suite.py"
          "${CONCORD_ORT_OPS_SUITE_DIR}" --expect-ort ${CONCORD_ORT_VERSION}
  DEPENDS "${PROJECT_SOURCE_DIR}/scripts/make_ort_ops_suite.py" "${PROJECT_SOURCE_DIR}/requirements.txt"
  COMMENT "Generating the ONNX Runtime ${CONCORD_ORT_VERSION} op suite (${CONCORD_ORT_OPS_SUITE_DIR})"
  VERBATIM)
add_custom_target(ort_ops_suite ALL DEPENDS "${CONCORD_ORT_OPS_SUITE_DIR}/SUITE.json")
