#include "tools/concord/common.h"

#include <filesystem>

#include "ir/json_number.h"

namespace concord::cli {

namespace fs = std::filesystem;

void AddInputShapesOption(CLI::App* app, InputShapes* shapes) {
  app->add_option_function<std::vector<std::string>>(
         "--input-shapes",
         [shapes](const std::vector<std::string>& args) {
           try {
             *shapes = ParseInputShapes(args);
           } catch (const Error& e) {
             throw CLI::ValidationError("--input-shapes", e.what());
           }
         },
         "Shapes of generated inputs with dynamic dims: NAME:1x3x224x224 or NAME:[1,3,224,224], "
         "entries separated by spaces or commas; loaded inputs must agree with them")
      ->type_name("NAME:DIMS ...");
}

void AddInputOptions(CLI::App* app, InputRequest* request, const std::string& seed_help) {
  app->add_option("--inputs,-i", request->paths,
                  "Input files (.pb/.npy/.npz; together one set), a test_data_set_N folder, or a "
                  "folder of test_data_set_* folders (one set each). Default: one random set");
  app->add_option("--seed", request->seed, seed_help)->capture_default_str();
  AddInputShapesOption(app, &request->shapes);
}

void AddSaveInputsOption(CLI::App* app, std::string* dir) {
  app->add_option("--save-inputs", *dir,
                  "Write the inputs used (loaded or generated) as DIR/test_data_set_K/input_*.pb; "
                  "without DIR, under --out")
      ->expected(0, 1)
      ->default_str(kSaveToOut)
      ->type_name("[DIR]");
}

void SaveInputSets(const Model& model, const std::vector<InputSet>& sets, const std::string& dir) {
  for (size_t k = 0; k < sets.size(); ++k) {
    SaveInputSet(model, sets[k], (fs::path(dir) / fmt::format("test_data_set_{}", k)).string());
  }
}

std::vector<ValueMap> InputMaps(std::vector<InputSet> sets) {
  std::vector<ValueMap> maps;
  for (auto& s : sets) maps.push_back(std::move(s.inputs));
  return maps;
}

nlohmann::json InputSetsJson(const std::vector<InputSet>& sets) {
  nlohmann::json all = nlohmann::json::array();
  for (const auto& s : sets) {
    all.push_back({{"origin", s.origin},
                   {"generated", s.generated},
                   {"defaulted_dims", s.defaulted},
                   {"has_expected_outputs", !s.expected.empty()}});
  }
  return all;
}

ExpectedCheck CheckExpectedOutputs(const Model& model, const InputSet& set,
                                   const std::vector<Value>& outputs, const Tolerance& tol) {
  ExpectedCheck c;
  if (set.expected.empty()) return c;
  c.checked = true;
  c.json = {{"set", set.origin}, {"outputs", nlohmann::json::array()}};
  auto infos = model.Outputs();
  for (size_t i = 0; i < infos.size() && i < outputs.size(); ++i) {
    auto it = set.expected.find(infos[i].name);
    if (it == set.expected.end()) continue;
    if (!it->second.is_tensor() || !outputs[i].is_tensor()) {
      c.lines.push_back(fmt::format("{:<20} not a tensor: not compared", infos[i].name));
      continue;
    }
    TensorDiff d = CompareTensors(it->second.tensor, outputs[i].tensor, tol);
    c.ok &= d.ok;
    c.json["outputs"].push_back({{"name", infos[i].name},
                                 {"ok", d.ok},
                                 {"max_abs", JsonNumber(d.max_abs)},
                                 {"max_rel", JsonNumber(d.max_rel)},
                                 {"cosine", JsonNumber(d.cosine)},
                                 {"mismatches", d.mismatches},
                                 {"count", d.count},
                                 {"message", d.message}});
    c.lines.push_back(fmt::format("{:<20} {:<5} max abs {:.3g}  max rel {:.3g}  cosine {:.7f}{}",
                                  infos[i].name, d.ok ? "PASS" : "FAIL", d.max_abs, d.max_rel,
                                  d.cosine, d.ok ? "" : "  " + d.message));
  }
  c.json["ok"] = c.ok;
  return c;
}

nlohmann::json ValueSummaryJson(const Value& v) {
  nlohmann::json j;
  if (v.is_tensor()) {
    j["dtype"] = DTypeName(v.tensor.dtype());
    j["shape"] = v.tensor.shape();
  } else if (v.is_sequence()) {
    j["sequence_length"] = v.sequence.size();
    j["dtype"] = DTypeName(v.elem_type);
  } else if (v.is_map_sequence()) {
    j["sequence_length"] = v.maps.size();
    j["key_dtype"] = DTypeName(v.key_type);
    j["dtype"] = DTypeName(v.elem_type);
  } else {
    j["none"] = true;
  }
  return j;
}

std::string FormatMs(double ms) {
  if (ms < 1) return fmt::format("{:.3f} ms", ms);
  if (ms < 1000) return fmt::format("{:.2f} ms", ms);
  return fmt::format("{:.2f} s", ms / 1000);
}

}  // namespace concord::cli
