// The e2e tests' names for the CLI runner, which lives in src/testing/cli_runner.h.
#pragma once

#include "testing/cli_runner.h"

namespace concord::e2e {

using test::CliResult;
using test::kTestData;
using test::Quote;
using test::RunCommand;
#ifdef CONCORD_BIN
using test::RunConcord;
#endif

}  // namespace concord::e2e
