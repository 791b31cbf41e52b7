#include "campaign/env_list.h"

#include "ir/error.h"

namespace concord {

std::vector<EnvSpec> ParseEnvList(const std::vector<std::string>& lists) {
  std::vector<EnvSpec> envs;
  for (const std::string& list : lists) {
    size_t start = 0;
    while (start <= list.size()) {
      size_t end = list.find(';', start);
      if (end == std::string::npos) {
        end = list.size();
      }
      std::string item = list.substr(start, end - start);
      start = end + 1;
      if (item.find_first_not_of(" \t") == std::string::npos) {
        continue;
      }
      try {
        envs.push_back(EnvSpec::Parse(item));
      } catch (const Error& e) {
        Fail(ErrorKind::kUsage, "--envs item {} ('{}'): {}", envs.size() + 1, item, e.what());
      }
    }
  }
  if (envs.empty()) {
    Fail(ErrorKind::kUsage, "--envs is empty; give environments like \"ref;ref,threads=1\"");
  }
  return envs;
}

}  // namespace concord
