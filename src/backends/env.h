// Environment strings: BACKEND[@DEVICE][,KEY=VALUE]...
//
// Parsed once here and shared by every subcommand, e.g. "ref", "ort@cpu,opt=3,threads=1",
// "tvm@cpu,opt=3,target=llvm -mcpu=core-avx2". Keys are lower-case identifiers; values run to
// the next comma (values may contain spaces and '='). `opt` is 0..3 on every backend. A
// malformed string is Error(kUsage) that shows the expected form.
#pragma once

#include <map>
#include <string>

namespace concord {

struct EnvSpec {
  std::string backend;                        // "ref", "ort", "tvm", "opencv", ...
  std::string device = "cpu";                 // "cpu", "gpu0", "opencl", ...
  std::map<std::string, std::string> options;  // opt, threads, target, host, ...

  static EnvSpec Parse(const std::string& text);
  // Canonical text form: backend@device followed by sorted options; a token= value is shown
  // as "***" (read it with Get("token")).
  std::string ToString() const;
  int opt() const;      // default 3
  int threads() const;  // default 0 = backend's default
  std::string Get(const std::string& key, const std::string& def = "") const;
};

}  // namespace concord
