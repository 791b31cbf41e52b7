#include "backends/process_settings.h"

#include <cblas.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

namespace concord {

namespace {

// OpenBLAS (ref's GEMM) picks its kernels by CPU model once, when it loads; 0.3.21 (Debian 12)
// does not know CPUs newer than it (Sapphire/Emerald Rapids: model 0x8f, 0xcf) and falls back
// to its generic "Prescott" SSE3 kernels, 2.5x slower on ResNet-18-shaped. The OpenBLAS core
// for such a CPU, chosen by its features; "" when the detected core is right or the user chose.
std::string OpenBlasCoreFix() {
  if (std::getenv("OPENBLAS_CORETYPE")) return "";
  if (std::string(openblas_get_corename()) != "Prescott") return "";
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512bf16")) return "Cooperlake";
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")) {
    return "SkylakeX";
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
  return "";
}

}  // namespace

// Settings libraries read once, before main, which concord restarts itself once to give them:
//  - oneDNN's OpenMP threads (the dnnl env) busy-wait about 300,000 spins after each parallel
//    region by default: on a machine whose cores are shared (other processes, ref's OpenBLAS
//    threads), a spinning thread holds the core the next region waits for, and a 0.1 ms model
//    took 200 ms. Unless the user chose a policy: a short spin (enough to bridge consecutive
//    primitives).
//  - OpenBLAS's kernels on a CPU it does not know (OpenBlasCoreFix).
// After the restart the settings are taken out of the environment again, so that the runtimes
// concord starts (PyTorch workers use libgomp too; numpy has its own OpenBLAS) see the user's.
void RestartWithLibrarySettings(char** argv) {
  constexpr const char* kMarker = "CONCORD_LIBRARY_SETTINGS";
  if (const char* set = std::getenv(kMarker)) {
    std::string names = set;
    for (size_t b = 0, e; b < names.size(); b = e + 1) {
      e = names.find(',', b);
      if (e == std::string::npos) e = names.size();
      unsetenv(names.substr(b, e - b).c_str());
    }
    unsetenv(kMarker);
    return;
  }
  std::vector<std::pair<std::string, std::string>> settings;
  if (!std::getenv("OMP_WAIT_POLICY") && !std::getenv("GOMP_SPINCOUNT"))
    settings.emplace_back("GOMP_SPINCOUNT", "10000");
  if (std::string core = OpenBlasCoreFix(); !core.empty())
    settings.emplace_back("OPENBLAS_CORETYPE", core);
  if (settings.empty()) return;
  std::string names;
  for (const auto& [k, v] : settings) {
    setenv(k.c_str(), v.c_str(), 1);
    names += (names.empty() ? "" : ",") + k;
  }
  setenv(kMarker, names.c_str(), 1);
  execv("/proc/self/exe", argv);  // returns only on failure: then run with the defaults
  unsetenv(kMarker);
  for (const auto& [k, v] : settings) unsetenv(k.c_str());
}

}  // namespace concord
