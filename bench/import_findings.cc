// Imports fuzzing finding bundles (OUT/<id>-<env>-<symptom>/, campaign/fuzz.h) into a results
// store and clusters them by root cause, for campaigns whose store was not kept. Each
// inconsistent finding is first re-judged by the boundary-effect oracle on its bundle (ref's taps
// of the reduced model on its inputs, the env's actual_K.pb): when it explains the difference the
// finding is imported as "boundary" (details.original_symptom keeps what the campaign said).
//
//   build/bin/import_findings BUNDLES_DIR STORE.db
// Prints one line per bundle and the counts: raw findings, root causes, labels.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backends/ref_backend.h"
#include "campaign/fuzz.h"
#include "campaign/fuzz_oracle.h"
#include "ir/error.h"
#include "ir/value_io.h"

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace concord;

int main(int argc, char** argv) {
  if (argc != 3) {
    std::cerr << "usage: import_findings BUNDLES_DIR STORE.db\n";
    return 2;
  }
  std::vector<fs::path> dirs;
  for (const auto& e : fs::directory_iterator(argv[1])) {
    if (fs::is_regular_file(e.path() / "finding.json")) dirs.push_back(e.path());
  }
  std::sort(dirs.begin(), dirs.end());
  Store store = Store::Open(argv[2]);
  for (const fs::path& dir : dirs) {
    json fj = json::parse(std::ifstream(dir / "finding.json"));
    json details = fj.value("details", json::object());
    std::string symptom = fj.value("symptom", "");
    std::string note;
    Model model = Model::Load((dir / "model.onnx").string());
    if (symptom == "inconsistent") {
      ValueMap inputs;
      std::vector<ValueInfo> ins = model.Inputs();
      for (size_t k = 0; k < ins.size(); ++k) {
        fs::path p = dir / "test_data_set_0" / fmt::format("input_{}.pb", k);
        if (fs::exists(p))
          inputs[ins[k].name] = ReadValuePb(p.string(), model.FindType(ins[k].name));
      }
      std::vector<Value> actual;
      std::vector<ValueInfo> outs = model.Outputs();
      for (size_t k = 0; k < outs.size(); ++k) {
        actual.push_back(ReadValuePb((dir / fmt::format("actual_{}.pb", k)).string(),
                                     model.FindType(outs[k].name)));
      }
      try {
        ValueMap taps;
        PrepareReference(model)->RunWithTaps(inputs, &taps);
        for (const auto& [k, v] : inputs) taps[k] = v;
        json tol = details.value("tolerance", json::object());
        Tolerance base{tol.value("rtol", 1e-2), tol.value("atol", 1e-3)};
        if (auto why = BoundaryEffect(model, inputs, taps, actual, base)) {
          details["original_symptom"] = symptom;
          symptom = "boundary";
          note = *why;
        }
      } catch (const Error& e) {
        note = std::string("not re-judged: ") + e.what();
      }
    }
    FindingRecord f;
    f.env = fj.value("env", "");
    f.symptom = symptom;
    f.signature = fj.value("signature", "");
    f.seed = fj.value("seed", int64_t{0});
    f.message = fj.value("message", "") + (symptom == "boundary" ? " — " + note : "");
    f.versions_json = fj.value("versions", json::object()).dump();
    f.original_nodes = fj.value("original_nodes", int64_t{0});
    f.reduced_nodes = fj.value("reduced_nodes", int64_t{0});
    std::string bytes;
    model.proto().SerializeToString(&bytes);
    f.model = std::vector<uint8_t>(bytes.begin(), bytes.end());
    f.bundle = dir.string();
    f.details_json = details.dump();
    f.first_seen = f.last_seen = details.value("campaign", "imported");
    store.RecordFinding(f);
    std::cout << fmt::format("{:<34} {:<12} {}\n", dir.filename().string(), symptom,
                             note.substr(0, 160));
  }
  ClusterUnassignedFindings(store);
  int64_t raw = 0, labels = 0;
  std::set<int64_t> causes, label_causes;
  for (const FindingRecord& f : store.Findings()) {
    if (IsLabelSymptom(f.symptom)) {
      ++labels;
      label_causes.insert(*f.root_cause);
    } else {
      ++raw;
      causes.insert(*f.root_cause);
    }
  }
  std::cout << fmt::format(
      "{} raw findings (bugs) from {} root causes; {} labelled findings (undefined/boundary) "
      "from {} root causes\n",
      raw, causes.size(), labels, label_causes.size());
  for (const RootCauseRecord& rc : store.RootCauses()) {
    std::vector<int64_t> ids;
    for (const FindingRecord& f : store.Findings()) {
      if (f.root_cause == rc.id) ids.push_back(f.id);
    }
    std::cout << fmt::format("  cause {:<3} {:<16} {:<60} {} finding(s): {}\n", rc.id, rc.env,
                             rc.symptom_class.substr(0, 60), ids.size(), fmt::join(ids, ","));
  }
  return 0;
}
