// How concord reports a failure at the CLI boundary: one exit code per error kind, a readable
// line on stderr, and with --json one document on stdout:
//   {"error": {"kind": "usage|input|unsupported|runtime|internal", "message": "..."},
//    "exit_code": N}
// Exit codes: 0 ran and agreed, 1 ran and found a divergence/failure/findings (kRuntime,
// kUnsupported), 2 usage or input error, and kInternal (a bug caught before it crashed).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

#include "ir/error.h"

namespace concord::cli {

int ExitCodeFor(ErrorKind kind);

// Prints the error (stderr, plus the JSON document on stdout when `json`) and returns its code.
int ReportError(ErrorKind kind, const std::string& message, bool json);

// Levenshtein distance between a and b.
size_t EditDistance(const std::string& a, const std::string& b);

// The candidate closest to `word` by edit distance, or "" when none is close enough (distance
// at most 1 + size/4, and smaller than the word itself).
std::string NearestName(const std::string& word, const std::vector<std::string>& candidates);

// Whether the command line asks for JSON output (a "--json" token before any "--").
bool JsonRequested(int argc, char** argv);

// CLI11's parse error rewritten for people: an unknown subcommand or option gets the nearest
// known spelling ("unknown command 'compre'; did you mean 'compare'?").
std::string ExplainParseError(CLI::App& root, const CLI::ParseError& e, int argc, char** argv);

}  // namespace concord::cli
