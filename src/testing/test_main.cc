// main() of the test binaries: the library settings concord runs with (an in-process ref and a
// `concord` child then use the same OpenBLAS kernels), then every test.
#include <gtest/gtest.h>

#include "backends/process_settings.h"

int main(int argc, char** argv) {
  concord::RestartWithLibrarySettings(argv);
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
