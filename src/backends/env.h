// Environment strings: BACKEND[@DEVICE][,KEY=VALUE]...
//
// Parsed once here and shared by every subcommand, e.g. "ref", "ort@cpu,opt=3,threads=1",
// "tvm@cpu,opt=3,target=llvm -mcpu=core-avx2". Keys are lower-case identifiers; values run to
// the next comma (values may contain spaces and '='). `opt` is 0..3 on every backend. A
// malformed string is Error(kUsage) that shows the expected form.
//
// Env lists ("E1;E2;...", for commands that run one model on several envs) and sweeps
// ("ort@cpu,opt=0..3", "opencv@cpu|opencl", for matrix configs) are parsed here too.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace concord {

struct EnvSpec {
  std::string backend;                         // "ref", "ort", "tvm", "opencv", ...
  std::string device = "cpu";                  // "cpu", "gpu0", "opencl", ...
  std::map<std::string, std::string> options;  // opt, threads, target, host, ...

  static EnvSpec Parse(const std::string& text);
  // Canonical text form: backend@device followed by sorted options; a token= value is shown
  // as "***" (read it with Get("token")).
  std::string ToString() const;
  int opt() const;      // default 3
  int threads() const;  // default 0 = backend's default
  std::string Get(const std::string& key, const std::string& def = "") const;
};

// Parses every ';'-separated item of every string in `lists` (an option given several times
// concatenates); ';' separates items because env strings use ',' and may contain spaces (TVM
// targets). Empty items (a trailing ';') are ignored; duplicates are kept (an env against
// itself checks determinism). Error(kUsage) names the offending item, or an empty list.
std::vector<EnvSpec> ParseEnvList(const std::vector<std::string>& lists);

// Expands the sweeps of one env string: a range "opt=0..3" (at most 65 values), alternatives
// "threads=1|2" or "@cpu|opencl"; target/host/token values are never sweeps (TVM targets hold
// spaces and '-'). Expansions come in order, each a valid env. Error(kUsage) when malformed.
std::vector<std::string> ExpandEnvSweep(const std::string& env);

}  // namespace concord
