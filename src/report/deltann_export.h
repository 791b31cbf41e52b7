// Export of an analysis document (report/analysis.h) in DeltaNN's file layout, so DeltaNN's
// own evaluation scripts and users' notebooks can read Concord results:
//   OUT/<model>/<device>/<opt>/<library>/mutations/ts_0/<input>.txt   per-input top-5 + time
//   OUT/<model>/<device>/<opt>/library_evaluation.json, library_evaluation_time_percentages.json
//       (DeltaNN's code spells it plural; its README singular), library_evaluation_time_stats.json
//   OUT/<model>/<device>/<opt>/<library>/mutations/same_folder_evaluation.json
//   OUT/<model>/device_evaluation.json
//   OUT/<model>/concord_mapping.json   (Concord's own: env -> folder, input -> file, failures)
// Exact formats, name mapping and every deviation from DeltaNN: deltann_export.cc, which cites
// DeltaNN's sources. Writes into a temporary sibling folder and renames it into place, so a
// failure never leaves a half-written export. Error(kInput) when OUT exists and is not empty.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>

namespace concord::report {

void ExportDeltaNN(const nlohmann::json& analysis, const std::filesystem::path& out_dir);

}  // namespace concord::report
