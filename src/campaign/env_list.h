// Environment lists for commands that run one model on several environments (compare, bench,
// and later matrix): "E1;E2;..." with each item an env string (backend.h, env.h).
//
// ';' separates items because env strings themselves use ',' and may contain spaces (TVM
// targets). Every item is parsed up front so a typo is a usage error before anything runs;
// duplicates are kept (comparing an env with itself checks determinism). Error(kUsage) names
// the offending item; an empty list is Error(kUsage) too.
#pragma once

#include <string>
#include <vector>

#include "backends/env.h"

namespace concord {

// Parses every ';'-separated item of every string in `lists` (an option given several times
// concatenates). Empty items (a trailing ';') are ignored.
std::vector<EnvSpec> ParseEnvList(const std::vector<std::string>& lists);

}  // namespace concord
