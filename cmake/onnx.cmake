# ONNX's C++ library (parser, checker, shape inference, function expansion, version converter),
# built from its PyPI sdist inside this build, static, at one pinned version.
#
# scripts/setup downloads the sdist once into ${CONCORD_CACHE:-~/.cache/concord}/src/; this file
# only reads that local file (hash-checked), so configuring and building need no network.
# ONNX's own CMake needs CMake >= 3.26: when the top-level CMake is older (Debian 12 has 3.25),
# the external build runs with the `cmake` from PyPI in .venv (requirements.txt).
# The library links Debian's shared protobuf (the same one the rest of the tree uses), so there is
# one protobuf runtime in every binary.
#
# Defines `concord_onnx`: link it instead of onnx/onnx_proto/protobuf. Its consumers build after
# the external project and compile with ONNX_NAMESPACE=onnx, ONNX_ML=1.

set(CONCORD_ONNX_VERSION 1.23.2)
set(CONCORD_ONNX_SHA256 008cb0467b2bbee41448acc7da8b6f4e704624cb0d327a2d5adafc7ce19bc5b8)

if(DEFINED ENV{CONCORD_CACHE})
  set(_concord_cache "$ENV{CONCORD_CACHE}")
else()
  set(_concord_cache "$ENV{HOME}/.cache/concord")
endif()
set(CONCORD_ONNX_SDIST "${_concord_cache}/src/onnx-${CONCORD_ONNX_VERSION}.tar.gz"
    CACHE FILEPATH "The onnx ${CONCORD_ONNX_VERSION} sdist (scripts/setup downloads it)")
if(NOT EXISTS "${CONCORD_ONNX_SDIST}")
  message(FATAL_ERROR
    "ONNX ${CONCORD_ONNX_VERSION} source not found at ${CONCORD_ONNX_SDIST}: run scripts/setup "
    "(it downloads the sdist once), or pass -DCONCORD_ONNX_SDIST=<path to onnx-${CONCORD_ONNX_VERSION}.tar.gz>")
endif()

if(CMAKE_VERSION VERSION_GREATER_EQUAL 3.26)
  set(_onnx_cmake_default "${CMAKE_COMMAND}")
else()
  set(_onnx_cmake_default "${PROJECT_SOURCE_DIR}/.venv/bin/cmake")
endif()
set(CONCORD_ONNX_CMAKE "${_onnx_cmake_default}"
    CACHE FILEPATH "CMake >= 3.26 that builds ONNX (PyPI cmake in .venv when the system one is older)")
execute_process(COMMAND "${CONCORD_ONNX_CMAKE}" --version
                OUTPUT_VARIABLE _onnx_cmake_out RESULT_VARIABLE _onnx_cmake_rc ERROR_QUIET)
string(REGEX MATCH "version ([0-9.]+)" _ "${_onnx_cmake_out}")
if(NOT _onnx_cmake_rc EQUAL 0 OR CMAKE_MATCH_1 VERSION_LESS 3.26)
  message(FATAL_ERROR
    "ONNX ${CONCORD_ONNX_VERSION} needs CMake >= 3.26 to build; '${CONCORD_ONNX_CMAKE}' is "
    "'${CMAKE_MATCH_1}'. Run scripts/setup (it installs PyPI cmake into .venv) or pass "
    "-DCONCORD_ONNX_CMAKE=<cmake >= 3.26>")
endif()

set(CONCORD_ONNX_PREFIX "${CMAKE_BINARY_DIR}/onnx-${CONCORD_ONNX_VERSION}")
set(_onnx_lib "${CONCORD_ONNX_PREFIX}/lib/${CMAKE_STATIC_LIBRARY_PREFIX}onnx${CMAKE_STATIC_LIBRARY_SUFFIX}")
set(_onnx_proto_lib
    "${CONCORD_ONNX_PREFIX}/lib/${CMAKE_STATIC_LIBRARY_PREFIX}onnx_proto${CMAKE_STATIC_LIBRARY_SUFFIX}")
set(_onnx_launcher "")
if(CCACHE_PROGRAM)
  set(_onnx_launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE_PROGRAM}
                     -DCMAKE_C_COMPILER_LAUNCHER=${CCACHE_PROGRAM})
endif()

include(ExternalProject)
ExternalProject_Add(onnx_external
  URL "file://${CONCORD_ONNX_SDIST}"
  URL_HASH SHA256=${CONCORD_ONNX_SHA256}
  DOWNLOAD_EXTRACT_TIMESTAMP ON
  PREFIX "${CMAKE_BINARY_DIR}/_onnx"
  INSTALL_DIR "${CONCORD_ONNX_PREFIX}"
  CMAKE_COMMAND "${CONCORD_ONNX_CMAKE}"
  CMAKE_ARGS
    -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_INSTALL_PREFIX=<INSTALL_DIR>
    -DCMAKE_INSTALL_LIBDIR=lib
    -DCMAKE_C_COMPILER=${CMAKE_C_COMPILER}
    -DCMAKE_CXX_COMPILER=${CMAKE_CXX_COMPILER}
    -DCMAKE_POSITION_INDEPENDENT_CODE=ON
    ${_onnx_launcher}
    -DBUILD_SHARED_LIBS=OFF
    -DONNX_NAMESPACE=onnx
    -DONNX_ML=ON
    -DONNX_USE_PROTOBUF_SHARED_LIBS=ON
    -DONNX_BUILD_CUSTOM_PROTOBUF=OFF
    -DONNX_BUILD_PYTHON=OFF
    -DONNX_BUILD_TESTS=OFF
    -DONNX_GEN_PB_TYPE_STUBS=OFF
    -DONNX_WERROR=OFF
    -DProtobuf_PROTOC_EXECUTABLE=${Protobuf_PROTOC_EXECUTABLE}
  BUILD_BYPRODUCTS "${_onnx_lib}" "${_onnx_proto_lib}"
  LOG_CONFIGURE ON
  LOG_OUTPUT_ON_FAILURE ON)

# The headers land at install time; the folder must exist when consumers are configured.
file(MAKE_DIRECTORY "${CONCORD_ONNX_PREFIX}/include")

add_library(concord_onnx_proto STATIC IMPORTED GLOBAL)
set_target_properties(concord_onnx_proto PROPERTIES
  IMPORTED_LOCATION "${_onnx_proto_lib}"
  INTERFACE_INCLUDE_DIRECTORIES "${CONCORD_ONNX_PREFIX}/include"
  INTERFACE_COMPILE_DEFINITIONS "ONNX_NAMESPACE=onnx;ONNX_ML=1"
  INTERFACE_LINK_LIBRARIES protobuf::libprotobuf)
add_library(concord_onnx_lib STATIC IMPORTED GLOBAL)
set_target_properties(concord_onnx_lib PROPERTIES
  IMPORTED_LOCATION "${_onnx_lib}"
  INTERFACE_LINK_LIBRARIES concord_onnx_proto)

add_library(concord_onnx INTERFACE)
target_link_libraries(concord_onnx INTERFACE concord_onnx_lib concord_onnx_proto)
# Followed transitively by everything that links concord_onnx: they build after ONNX.
add_dependencies(concord_onnx onnx_external)
