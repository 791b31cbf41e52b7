// Export of an analysis document (report/analysis.h) in DeltaNN's file layout, so DeltaNN's
// own evaluation scripts and users' notebooks can read Concord results:
//   OUT/<model>/<device>/<opt>/<library>/...   per-input top-5 files
//   OUT/<model>/library_evaluation.json, device_evaluation.json, same_folder_evaluation.json,
//   library_evaluation_time_percentage.json
// (exact file formats: see deltann_export.cc, which cites DeltaNN's sources).
// Writes into a temporary sibling folder and renames it into place, so a failure never leaves a
// half-written export. Error(kInput) when OUT exists and is not empty.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

namespace concord::report {

void ExportDeltaNN(const nlohmann::json& analysis, const std::filesystem::path& out_dir);

}  // namespace concord::report
