# The node test suite of the pinned ONNX version, generated from the `onnx` package in .venv
# (scripts/make_node_suite.py; the wheel ships the case generators, not the data) into
# build/onnx-node-<major.minor>/. `concord conformance --suite node-<major.minor>` finds it there.
# Regenerated when the script or requirements.txt changes; needs .venv (scripts/setup).

string(REGEX MATCH "^[0-9]+\\.[0-9]+" _onnx_minor "${CONCORD_ONNX_VERSION}")
set(CONCORD_NODE_SUITE_NAME "node-${_onnx_minor}")
set(CONCORD_NODE_SUITE_DIR "${CMAKE_BINARY_DIR}/onnx-node-${_onnx_minor}")
set(_venv_python "${PROJECT_SOURCE_DIR}/.venv/bin/python")

add_custom_command(
  OUTPUT "${CONCORD_NODE_SUITE_DIR}/SUITE.json"
  COMMAND "${_venv_python}" "${PROJECT_SOURCE_DIR}/scripts/make_node_suite.py"
          "${CONCORD_NODE_SUITE_DIR}" --expect-onnx ${CONCORD_ONNX_VERSION}
  DEPENDS "${PROJECT_SOURCE_DIR}/scripts/make_node_suite.py" "${PROJECT_SOURCE_DIR}/requirements.txt"
  COMMENT "Generating ONNX ${CONCORD_ONNX_VERSION}'s node test suite (${CONCORD_NODE_SUITE_DIR})"
  VERBATIM)
add_custom_target(node_suite ALL DEPENDS "${CONCORD_NODE_SUITE_DIR}/SUITE.json")
