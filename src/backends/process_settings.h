// Process-wide settings of the libraries the backends run on, which those libraries read once,
// before main: concord (tools/concord/main.cc) and the test mains (testing/test_main.cc) call
// RestartWithLibrarySettings first thing, so that every process computes alike (a test that
// compares its in-process ref with a `concord serve` child's ref gets the same OpenBLAS kernels).
#pragma once

namespace concord {

// Restarts the process once (execv of /proc/self/exe with argv) with the settings it needs that
// the user did not choose: libgomp's short spin (the dnnl env) and, on a CPU OpenBLAS does not
// know, OPENBLAS_CORETYPE; then takes them out of the environment again so that the runtimes it
// starts see the user's. Returns without restarting when nothing is needed or execv fails.
void RestartWithLibrarySettings(char** argv);

}  // namespace concord
