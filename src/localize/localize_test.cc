// Localization on the fault suite: every injected fault (input, parameter, hyperparameter,
// graph) on the suite's source net is localized to the injected node with the right kind, and
// the controls (identical; renamed; renamed + fused/split) give null. Faults inside a renamed
// or restructured target, the passes' name map, NHWC targets and int8 QDQ targets too. Ground truth comes from the
// injector's log, checked independently in fault_inject_test; the values from the reference
// interpreter.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "localize/localize.h"
#include "passes/fault_inject.h"
#include "passes/fault_suite_net.h"
#include "passes/pass.h"

namespace concord::localize {
namespace {

std::vector<ValueMap> Images(int n, int64_t hw = 32, uint64_t seed = 11) {
  std::vector<ValueMap> sets;
  for (int s = 0; s < n; ++s) {
    std::mt19937_64 rng(seed + static_cast<uint64_t>(s));
    std::uniform_real_distribution<float> d(0.0f, 1.0f);
    std::vector<float> v(static_cast<size_t>(3 * hw * hw));
    for (auto& x : v) x = d(rng);
    sets.push_back({{"image", Tensor::FromVector<float>({1, 3, hw, hw}, v)}});
  }
  return sets;
}

struct Case {
  std::string fault;
  std::string node;  // "" = the injector's default
};

std::vector<Case> Suite() {
  std::vector<Case> cases;
  for (const auto& f : passes::FaultNames()) cases.push_back({f, ""});
  // The same faults on other nodes.
  cases.push_back({"param.fp16", "conv3b"});
  cases.push_back({"param.int8", "fc1"});
  cases.push_back({"param.transpose", "conv2"});
  cases.push_back({"param.bias_drop", "fc1"});
  cases.push_back({"param.bias_scale", "conv3a"});
  cases.push_back({"hyper.pads", "conv3b"});
  cases.push_back({"hyper.strides", "conv2"});
  cases.push_back({"hyper.dilations", "conv2"});
  cases.push_back({"graph.insert_relu", "conv1"});
  cases.push_back({"graph.insert_mul", "fc1"});
  cases.push_back({"graph.remove_node", "relu4"});
  cases.push_back({"graph.replace_op", "leaky2"});
  return cases;
}

TEST(Localize, FaultSuiteNamesTheInjectedNodeAndKind) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  int faults = 0, controls = 0;
  for (const auto& c : Suite()) {
    SCOPED_TRACE(c.fault + (c.node.empty() ? "" : " @" + c.node));
    passes::FaultLog log;
    Model tgt = passes::InjectFault(src, {c.fault, c.node, 0}, &log);
    LocalizeResult r = Localize(src, tgt, sets, {});
    if (log.kind.empty()) {
      ++controls;
      EXPECT_TRUE(r.agree);
      EXPECT_EQ(r.first_divergent, "") << r.ToJson().dump(1);
      continue;
    }
    ++faults;
    EXPECT_FALSE(r.agree);
    EXPECT_EQ(r.first_divergent, log.injected_node) << log.description << "\n" << r.evidence.dump(1);
    EXPECT_EQ(r.kind, log.kind) << log.description << "\n" << r.evidence.dump(1);
  }
  EXPECT_GE(faults, 24);
  EXPECT_EQ(controls, 3);
}

TEST(Localize, SameModelSameEnvAgreesAndJsonHasTheContract) {
  Model src = passes::BuildFaultSuiteSourceNet();
  LocalizeResult r = Localize(src, src, Images(1), {});
  EXPECT_TRUE(r.agree);
  auto j = r.ToJson();
  EXPECT_TRUE(j["first_divergent_node"].is_null());
  EXPECT_TRUE(j["kind"].is_null());
  ASSERT_EQ(j["nodes"].size(), static_cast<size_t>(src.graph().node_size()));
  EXPECT_EQ(j["nodes"][0]["status"], "agree");
  EXPECT_EQ(j["nodes"][0]["alignment"], "name");
}

TEST(Localize, EvidenceShowsTheStaticDifference) {
  Model src = passes::BuildFaultSuiteSourceNet();
  Model tgt = passes::InjectFault(src, {"hyper.count_include_pad", "", 0});
  LocalizeResult r = Localize(src, tgt, Images(1), {});
  ASSERT_EQ(r.first_divergent, "avgpool2");
  auto d = r.evidence["attribute_diffs"];
  ASSERT_EQ(d.size(), 1u) << d.dump();
  EXPECT_EQ(d[0]["name"], "count_include_pad");
  EXPECT_EQ(d[0]["source"], "0");
  EXPECT_EQ(d[0]["target"], "1");
  tgt = passes::InjectFault(src, {"param.transpose_fc", "", 0});
  r = Localize(src, tgt, Images(1), {});
  ASSERT_EQ(r.first_divergent, "fc1");
  ASSERT_EQ(r.evidence["parameter_diffs"].size(), 1u);
  EXPECT_EQ(r.evidence["parameter_diffs"][0]["hint"], "transposed in the last two axes");
  tgt = passes::InjectFault(src, {"param.fp16", "", 0});
  r = Localize(src, tgt, Images(1), {});
  EXPECT_EQ(r.evidence["parameter_diffs"][0]["hint"], "float16 round trip of the source values");
}

std::vector<std::string> NonControlFaults() {
  std::vector<std::string> names;
  for (const auto& f : passes::FaultNames()) {
    if (!passes::FaultKind(f).empty()) names.push_back(f);
  }
  return names;
}

TEST(Localize, FaultInsideARenamedTargetIsNamedByItsNewName) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  for (const auto& f : NonControlFaults()) {
    SCOPED_TRACE(f);
    passes::FaultLog fault, rename;
    Model faulty = passes::InjectFault(src, {f, "", 0}, &fault);
    Model tgt = passes::InjectFault(faulty, {"control.rename", "", 0}, &rename);
    ASSERT_TRUE(rename.renamed_nodes.count(fault.injected_node));
    LocalizeResult r = Localize(src, tgt, sets, {});
    EXPECT_EQ(r.first_divergent, rename.renamed_nodes.at(fault.injected_node))
        << fault.description << "\n" << r.evidence.dump(1);
    EXPECT_EQ(r.kind, fault.kind) << fault.description << "\n" << r.evidence.dump(1);
  }
}

// Faults on nodes that survive control.restructure (BN folded into conv1, Conv biases and Gemms
// split, an Identity inserted, everything renamed).
std::vector<std::string> RestructureSurvivors() {
  return {"hyper.leaky_alpha", "hyper.count_include_pad", "hyper.softmax_axis",
          "hyper.pool_kernel", "graph.insert_relu",       "graph.replace_op"};
}

TEST(Localize, FaultInsideARestructuredTargetIsNamedByItsNewName) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  for (const auto& f : RestructureSurvivors()) {
    SCOPED_TRACE(f);
    passes::FaultLog fault, restructure;
    Model faulty = passes::InjectFault(src, {f, "", 0}, &fault);
    Model tgt = passes::InjectFault(faulty, {"control.restructure", "", 0}, &restructure);
    ASSERT_TRUE(restructure.renamed_nodes.count(fault.injected_node));
    LocalizeResult r = Localize(src, tgt, sets, {});
    EXPECT_EQ(r.first_divergent, restructure.renamed_nodes.at(fault.injected_node))
        << fault.description << "\n" << r.evidence.dump(1);
    EXPECT_EQ(r.kind, fault.kind) << fault.description << "\n" << r.evidence.dump(1);
  }
}

// Every intermediate tensor renamed to "<name>_renamed"; with_map stores the renames the way
// `concord convert` does (metadata concord.name_map).
Model RenameTensors(const Model& m, bool with_map) {
  onnx::ModelProto p = m.proto();
  auto* g = p.mutable_graph();
  std::set<std::string> keep;
  for (const auto& o : g->output()) keep.insert(o.name());
  passes::NameMap names;
  for (auto& n : *g->mutable_node()) {
    for (auto& o : *n.mutable_output()) {
      if (keep.count(o)) continue;
      names.tensors[o + "_renamed"] = o;
      ReplaceUses(g, o, o + "_renamed");
      o += "_renamed";
    }
  }
  g->clear_value_info();
  if (with_map) {
    auto* kv = p.add_metadata_props();
    kv->set_key(passes::kNameMapKey);
    kv->set_value(names.ToJson().dump());
  }
  return Model::FromProto(std::move(p), m.base_dir(), "renamed");
}

TEST(Localize, AlignmentFollowsTheTargetsNameMap) {
  Model src = passes::BuildFaultSuiteSourceNet();
  passes::FaultLog fault;
  Model faulty = passes::InjectFault(src, {"hyper.leaky_alpha", "", 0}, &fault);
  auto sets = Images(1);
  for (bool with_map : {true, false}) {
    SCOPED_TRACE(with_map ? "with name map" : "without");
    Model tgt = RenameTensors(faulty, with_map);
    std::vector<ValueMap> tsets = MapInputs(src, tgt, sets);
    SideValues sv = RunSide(src, EnvSpec::Parse("ref"), sets, true);
    SideValues tv = RunSide(tgt, EnvSpec::Parse("ref"), tsets, true);
    std::map<std::string, Alignment> align;
    LocalizeResult r = Analyze(src, sv, tgt, tv, Tolerance{1e-4, 1e-5}, &align);
    EXPECT_EQ(r.first_divergent, fault.injected_node);
    EXPECT_EQ(r.kind, "hyperparameter");
    // The divergent LeakyRelu output aligns to its original by the map (by value it has no
    // source twin: it diverges).
    ASSERT_TRUE(align.count("l2_renamed"));
    EXPECT_EQ(align["l2_renamed"].source, "l2");
    EXPECT_EQ(align["l2_renamed"].method == "name_map", with_map);
    ASSERT_TRUE(align.count("c1_renamed"));
    EXPECT_EQ(align["c1_renamed"].source, "c1");
  }
}

TEST(Localize, NhwcConversionIsComparedAcrossInputLayouts) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  passes::PassResult same = passes::RunPasses(src, {"nhwc"});
  ASSERT_EQ(same.model.Inputs()[0].shape, (Shape{1, 32, 32, 3}));
  LocalizeResult r = Localize(src, same.model, sets, {});
  EXPECT_TRUE(r.agree) << r.ToJson().dump(1).substr(0, 3000);
  EXPECT_EQ(r.first_divergent, "");
  passes::FaultLog fault;
  Model faulty = passes::InjectFault(src, {"hyper.leaky_alpha", "", 0}, &fault);
  passes::PassResult converted = passes::RunPasses(faulty, {"nhwc"});
  r = Localize(src, converted.model, sets, {});
  EXPECT_FALSE(r.agree);
  EXPECT_EQ(r.first_divergent, fault.injected_node) << r.evidence.dump(1);
  EXPECT_EQ(r.kind, "hyperparameter");
}

TEST(Localize, Int8QdqFromTheQuantizePassIsQuantization) {
  Model src = passes::BuildFaultSuiteSourceNet();
  auto sets = Images(2);
  passes::PassContext ctx;
  ctx.calibration = Images(2, 32, 99);
  passes::PassResult q = passes::RunPasses(src, {"quantize_int8"}, ctx);
  LocalizeResult r = Localize(src, q.model, sets, {});
  ASSERT_FALSE(r.agree);
  EXPECT_EQ(r.kind, "quantization") << r.evidence.dump(1).substr(0, 3000);
  const auto& layers = r.evidence["quantized_layers"];
  ASSERT_FALSE(layers.empty());
  bool conv1 = false;
  for (const auto& l : layers) {
    EXPECT_TRUE(l["max_abs_error"].is_number()) << l.dump();
    EXPECT_GT(l["max_abs_error"].get<double>(), 0.0) << l.dump();
    conv1 |= l["layer"] == "conv1";
  }
  EXPECT_TRUE(conv1) << layers.dump(1);
}

TEST(Localize, MismatchingInputsAreInputErrors) {
  Model src = passes::BuildFaultSuiteSourceNet(32);
  Model other = passes::BuildFaultSuiteSourceNet(16);
  try {
    Localize(src, other, Images(1), {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::kInput);
    EXPECT_NE(std::string(e.what()).find("different shapes"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace concord::localize
