// The fuzz loop on a generator we control: even seeds give a model that hides a real OpenCV 4.6
// bug (MatMul followed by Mul(scalar) loses the scale when fused; findings/opencv/matmul_scale_
// fusion) inside 9 nodes, odd seeds a model every runtime gets right. The loop must report one
// distinct finding for OpenCV (hit on every even seed), reduced to the 2-node core, none for
// ONNX Runtime, and write a repro bundle that `concord conformance` confirms.
#include "campaign/fuzz.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "campaign/fuzz_recheck.h"
#include "campaign/fuzz_runner.h"
#include "ir/tensor_io.h"

namespace concord {
namespace {

namespace fs = std::filesystem;

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                         const std::string& out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("n_" + out);
  for (auto& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

void AddValue(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
              const std::string& name, std::vector<int64_t> dims,
              int32_t elem_type = onnx::TensorProto::FLOAT) {
  auto* vi = list->Add();
  vi->set_name(name);
  auto* t = vi->mutable_type()->mutable_tensor_type();
  t->set_elem_type(elem_type);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

FuzzCase MakeCase(uint64_t seed, const OpWeights& /*weights*/ = {}) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("case");
  AddValue(g->mutable_input(), "x", {4, 8});
  AddValue(g->mutable_input(), "y", {8, 8});
  FuzzCase c;
  if (seed % 2 == 0) {
    auto* scale = g->add_initializer();
    scale->set_name("scale");
    scale->set_data_type(onnx::TensorProto::FLOAT);
    scale->add_float_data(0.25f);
    AddNode(g, "Relu", {"x"}, "a");
    AddNode(g, "Tanh", {"y"}, "b");
    AddNode(g, "Abs", {"a"}, "c");
    AddNode(g, "Sigmoid", {"b"}, "d");
    AddNode(g, "MatMul", {"c", "d"}, "e");
    AddNode(g, "Mul", {"e", "scale"}, "f");
    AddNode(g, "Neg", {"f"}, "h");
    AddNode(g, "Exp", {"h"}, "i");
    AddNode(g, "Sqrt", {"i"}, "z");
    AddValue(g->mutable_output(), "z", {4, 8});
  } else {
    // Plain chains: this loop found OpenCV 4.6 also mishandles MatMul(x, y)+Sigmoid (the
    // activation is dropped) and Add(Relu(x), x) (an assertion in getMemoryShapes).
    AddNode(g, "Relu", {"x"}, "a");
    AddNode(g, "Tanh", {"a"}, "b");
    AddNode(g, "Sigmoid", {"b"}, "z");
    AddNode(g, "Abs", {"y"}, "w");
    AddValue(g->mutable_output(), "z", {4, 8});
    AddValue(g->mutable_output(), "w", {8, 8});
  }
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  Tensor x(DType::kFloat32, {4, 8}), y(DType::kFloat32, {8, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  for (int64_t i = 0; i < y.numel(); ++i) y.data<float>()[i] = u(rng);
  c.model = Model::FromProto(m, "", fmt::format("case {}", seed));
  c.inputs["x"] = x;
  c.inputs["y"] = y;
  for (const auto& n : g->node()) c.op_types.push_back(n.op_type());
  c.seed = seed;
  return c;
}

std::string Shell(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  return fmt::format("{}\nexit={}", out, WEXITSTATUS(status));
}

TEST(RunFuzz, FindsReducesAndDeduplicatesARealOpenCvBug) {
  ::setenv("CONCORD_WORKER_BIN", CONCORD_BIN, 1);  // isolate=1 workers are the concord binary
  fs::path dir = fs::temp_directory_path() / fmt::format("concord_fuzz_test_{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  Store store = Store::Open((dir / "f.db").string());
  FuzzOptions o;
  o.envs = {"opencv@cpu,opt=3", "ort@cpu"};
  o.iterations = 6;
  o.out_dir = dir / "findings";
  FuzzSummary s = RunFuzz(o, MakeCase, store);
  EXPECT_EQ(s.models, 6);
  EXPECT_EQ(s.tests, 12);
  EXPECT_EQ(s.envs["ort@cpu"].ok, 6);
  EXPECT_EQ(s.envs["opencv@cpu,opt=3"].ok, 3);
  EXPECT_EQ(s.envs["opencv@cpu,opt=3"].symptoms["inconsistent"], 3);
  EXPECT_EQ(s.distinct, 1);
  std::vector<FindingRecord> f = store.Findings();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].env, "opencv@cpu,opt=3");
  EXPECT_EQ(f[0].symptom, "inconsistent");
  EXPECT_EQ(f[0].signature, "MatMul,Mul");
  EXPECT_EQ(f[0].original_nodes, 9);
  EXPECT_EQ(f[0].reduced_nodes, 2);
  EXPECT_EQ(f[0].count, 3);
  // Triage: the message describes the 2-node repro; the root-cause key names its nodes; ORT got
  // the model right, so this is not a possible ref bug.
  nlohmann::json details = nlohmann::json::parse(f[0].details_json);
  EXPECT_EQ(details["root_cause"]["nodes"],
            (std::vector<std::string>{"MatMul():float", "Mul():float"}));
  EXPECT_NE(f[0].message.find("output 0:"), std::string::npos) << f[0].message;
  EXPECT_FALSE(details.contains("possible_ref_bug")) << details.dump();
  ASSERT_TRUE(f[0].model.has_value() && f[0].inputs.has_value());  // both in the store too
  ASSERT_FALSE(f[0].bundle.empty());
  fs::path bundle = f[0].bundle;
  EXPECT_TRUE(fs::exists(bundle / "model.onnx"));
  EXPECT_TRUE(fs::exists(bundle / "test_data_set_0" / "input_0.pb"));
  EXPECT_TRUE(fs::exists(bundle / "test_data_set_0" / "output_0.pb"));
  EXPECT_TRUE(fs::exists(bundle / "actual_0.pb"));
  EXPECT_TRUE(fs::exists(bundle / "repro.sh"));
  // The message is the reduced repro's own disagreement: ref's output vs the env's on the
  // bundle's (reduced) model, not the 9-node model's numbers.
  std::vector<Value> want{
      Value(ReadTensorPb((bundle / "test_data_set_0" / "output_0.pb").string()).tensor)};
  std::vector<Value> got{Value(ReadTensorPb((bundle / "actual_0.pb").string()).tensor)};
  EXPECT_EQ(f[0].message, Disagreement(want, got, o.tol)) << f[0].message;
  EXPECT_FALSE(details.contains("reduction_discarded")) << details.dump();
  // The bundle is an ONNX test case: ref passes it, OpenCV (fusion on) still fails it.
  std::string suite = bundle.parent_path().string();  // OUT/findings/<env>/<id>
  std::string name = bundle.filename().string();
  EXPECT_EQ(bundle.parent_path().parent_path(), fs::absolute(o.out_dir / "findings"));
  std::string ref = Shell(
      fmt::format("{} conformance --suite {} --filter '^{}$' --env ref", CONCORD_BIN, suite, name));
  EXPECT_NE(ref.find("exit=0"), std::string::npos) << ref;
  std::string cv =
      Shell(fmt::format("{} conformance --suite {} --filter '^{}$' --env opencv@cpu,opt=3",
                        CONCORD_BIN, suite, name));
  EXPECT_NE(cv.find("exit=1"), std::string::npos) << cv;
  // Coverage and throughput were recorded.
  EXPECT_EQ(store.OpCoverage()["MatMul"], 3);  // even seeds only
  EXPECT_EQ(store.OpCoverage()["Sigmoid"], 6);
  EXPECT_FALSE(store.FuzzTicks().empty());
  fs::remove_all(dir);
}

// Gemm alpha=0.5 after Relu: OpenCV 4.6 ignores alpha with fusion on and off, so both OpenCV envs
// agree with each other against ref. That is flagged as a possible ref bug, and ONNX's own
// reference implementation clears ref.
FuzzCase GemmAlphaCase(uint64_t seed, const OpWeights& /*weights*/ = {}) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("gemm_alpha");
  AddValue(g->mutable_input(), "x", {4, 8});
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(3);  // [N, K] with transB = 1, the layout OpenCV's importer expects
  w->add_dims(8);
  for (int i = 0; i < 24; ++i) w->add_float_data(0.1f * static_cast<float>(i % 7) - 0.3f);
  AddNode(g, "Relu", {"x"}, "a");
  auto* gemm = AddNode(g, "Gemm", {"a", "W"}, "z");
  auto* alpha = gemm->add_attribute();
  alpha->set_name("alpha");
  alpha->set_type(onnx::AttributeProto::FLOAT);
  alpha->set_f(0.5f);
  auto* trans_b = gemm->add_attribute();
  trans_b->set_name("transB");
  trans_b->set_type(onnx::AttributeProto::INT);
  trans_b->set_i(1);
  AddValue(g->mutable_output(), "z", {4, 3});
  FuzzCase c;
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(0.5f, 1);
  Tensor x(DType::kFloat32, {4, 8});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  c.model = Model::FromProto(m, "", "gemm alpha");
  c.inputs["x"] = x;
  c.op_types = {"Relu", "Gemm"};
  c.seed = seed;
  return c;
}

TEST(RunFuzz, EnvsThatAgreeAgainstRefAreCheckedWithOnnxReference) {
  ::setenv("CONCORD_WORKER_BIN", CONCORD_BIN, 1);
  fs::path dir = fs::temp_directory_path() / fmt::format("concord_fuzz_refbug_{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  Store store = Store::Open((dir / "f.db").string());
  FuzzOptions o;
  o.envs = {"opencv@cpu", "opencv@cpu,opt=3"};
  o.iterations = 1;
  o.out_dir = dir / "findings";
  FuzzSummary s = RunFuzz(o, GemmAlphaCase, store);
  EXPECT_EQ(s.envs["opencv@cpu"].symptoms["inconsistent"], 1);
  std::vector<FindingRecord> f = store.Findings();
  ASSERT_EQ(f.size(), 2u);
  for (const auto& finding : f) {
    nlohmann::json details = nlohmann::json::parse(finding.details_json);
    ASSERT_TRUE(details.contains("possible_ref_bug")) << details.dump();
    EXPECT_EQ(details["onnx_reference"].value("verdict", ""),
              "not a ref bug: onnx.reference agrees with ref")
        << details.dump();
    EXPECT_EQ(finding.signature, "Gemm");  // reduced: Relu is not needed
  }
  fs::remove_all(dir);
}

// Finding #28 of the 2026-12-02 campaign, Exp -> Floor on ONNX Runtime: one Floor input sits on an
// integer on ref, and ORT's vectorized exp lands an ULP below it. The loop labels it a boundary
// effect, records it as such and counts no bug.
TEST(RunFuzz, FloorFedAnIntegerThatOrtRoundsBelowIsABoundaryEffect) {
  fs::path bundle = fs::path(CONCORD_SOURCE_DIR) /
                    "bench/fuzz_campaign_2026-12-02/0028-ort_cpu_opt_3-inconsistent";
  Model model = Model::Load((bundle / "model.onnx").string());
  FuzzCase c{model, {}, {"Exp", "Floor"}, 0};
  c.inputs[model.Inputs()[0].name] =
      ReadTensorPb((bundle / "test_data_set_0/input_0.pb").string()).tensor;
  fs::path dir = fs::temp_directory_path() / fmt::format("concord_fuzz_boundary_{}", getpid());
  fs::remove_all(dir);
  FuzzOptions o;
  o.envs = {"ort@cpu,opt=3"};
  o.iterations = 1;
  o.out_dir = dir;
  o.check_ref = false;
  Store store = Store::Open((dir.string() + ".db"));
  FuzzSummary s = RunFuzz(
      o, [&](uint64_t, const OpWeights&) { return c; }, store);
  EXPECT_EQ(s.envs["ort@cpu,opt=3"].symptoms["boundary"], 1);
  EXPECT_EQ(s.labels["boundary"], 1);
  EXPECT_TRUE(s.raw_findings.empty());
  std::vector<FindingRecord> f = store.Findings();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].symptom, "boundary");
  EXPECT_NE(f[0].message.find("Floor"), std::string::npos) << f[0].message;
  fs::remove_all(dir);
  fs::remove(dir.string() + ".db");
}

// Coverage feedback: the generator gets no weights for the first model, then 1/(1+tried/mean)
// over the models so far (MakeCase: MatMul on even seeds only, Sigmoid on every seed), so the
// op drawn less often weighs more; without the option it never gets weights.
TEST(RunFuzz, CoverageFeedbackWeightsTheGeneratorByOpsTried) {
  for (bool feedback : {true, false}) {
    fs::path dir =
        fs::temp_directory_path() / fmt::format("concord_fuzz_feedback_{}_{}", getpid(), feedback);
    fs::remove_all(dir);
    FuzzOptions o;
    o.envs = {"ort@cpu,opt=3"};
    o.iterations = 4;
    o.out_dir = dir;
    o.coverage_feedback = feedback;
    Store store = Store::Open(dir.string() + ".db");
    std::vector<OpWeights> seen;
    RunFuzz(
        o,
        [&](uint64_t seed, const OpWeights& w) {
          seen.push_back(w);
          return MakeCase(seed);
        },
        store);
    ASSERT_EQ(seen.size(), 4u);
    EXPECT_TRUE(seen[0].empty());
    if (!feedback) {
      for (const auto& w : seen) EXPECT_TRUE(w.empty());
    } else {
      ASSERT_TRUE(seen[3].count("MatMul") && seen[3].count("Sigmoid"));
      EXPECT_GT(seen[3].at("MatMul"), seen[3].at("Sigmoid"));
    }
    fs::remove_all(dir);
    fs::remove(dir.string() + ".db");
  }
}

// The store of an older campaign whose oracle called two things wrong values: ORT's Exp -> Floor
// boundary case above, and the OpenCV MatMul-scale fusion bug behind an Abs. The recheck reruns
// both: the first becomes a boundary effect, the second stays wrong with its Abs incidental
// (replaced by Neg over its own value, OpenCV still drops the scale) and its Mul too (swapped
// for Add, the scalar is dropped as well); 2 bug root causes -> 1.
TEST(RecheckFindings, RelabelsBoundaryEffectsAndGeneralisesWrongValues) {
  fs::path dir = fs::temp_directory_path() / fmt::format("concord_recheck_{}", getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  ::setenv("CONCORD_WORKER_BIN", CONCORD_BIN, 1);  // isolate=1 workers are the concord binary
  Store store = Store::Open((dir / "fuzz.db").string());
  auto record = [&](const std::string& env, const Model& m, const ValueMap& in) {
    FindingRecord f;
    f.env = env;
    f.symptom = "inconsistent";
    f.signature = OpSignature(m);
    f.message = "output 0 differs";
    std::string bytes;
    m.proto().SerializeToString(&bytes);
    f.model = std::vector<uint8_t>(bytes.begin(), bytes.end());
    std::vector<NamedTensor> arrays;
    for (const auto& [name, v] : in) arrays.push_back({name, v.tensor});
    WriteNpz((dir / "in.npz").string(), arrays);
    std::string npz = ReadFileBytes((dir / "in.npz").string(), 1u << 26);
    f.inputs = std::vector<uint8_t>(npz.begin(), npz.end());
    f.details_json = R"({"tolerance": {"rtol": 0.01, "atol": 0.001}})";
    f.first_seen = f.last_seen = "2026-12-01T00:00:00Z";
    store.RecordFinding(f);
  };
  fs::path bundle = fs::path(CONCORD_SOURCE_DIR) /
                    "bench/fuzz_campaign_2026-12-02/0028-ort_cpu_opt_3-inconsistent";
  Model floor = Model::Load((bundle / "model.onnx").string());
  ValueMap floor_in{{floor.Inputs()[0].name,
                     ReadTensorPb((bundle / "test_data_set_0/input_0.pb").string()).tensor}};
  record("ort@cpu,opt=3", floor, floor_in);
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("abs_matmul_scale");
  AddValue(g->mutable_input(), "x", {4, 8});
  AddValue(g->mutable_input(), "y", {8, 8});
  auto* scale = g->add_initializer();
  scale->set_name("scale");
  scale->set_data_type(onnx::TensorProto::FLOAT);
  scale->add_float_data(0.25f);
  AddNode(g, "Abs", {"x"}, "a");
  AddNode(g, "MatMul", {"a", "y"}, "e");
  AddNode(g, "Mul", {"e", "scale"}, "z");
  AddValue(g->mutable_output(), "z", {4, 8});
  FuzzCase c = MakeCase(0);
  record("opencv@cpu", Model::FromProto(m, "", "abs matmul scale"), c.inputs);
  ClusterUnassignedFindings(store);
  RecheckSummary r = RecheckFindings(store, {});
  EXPECT_EQ(r.findings, 2);
  EXPECT_EQ(r.boundary, 1);
  EXPECT_EQ(r.still_wrong, 1);
  EXPECT_EQ(r.generalised, 1);
  EXPECT_EQ(r.bug_root_causes_before, 2);
  EXPECT_EQ(r.bug_root_causes_after, 1);
  std::vector<FindingRecord> f = store.Findings();
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[0].symptom, "boundary");
  EXPECT_EQ(f[1].symptom, "inconsistent");
  auto details = nlohmann::json::parse(f[1].details_json);
  // Mul produces the graph output, so it is only swapped for other ops: MatMul + Add (Sub, Max)
  // of the scalar loses it the same way, the defect is the fusion of any scalar op.
  EXPECT_EQ(details["incidental"], nlohmann::json::array({0, 2})) << f[1].details_json;
  ASSERT_EQ(store.RootCauses().size(), 2u);
  EXPECT_EQ(store.RootCauses()[1].nodes_json, R"(["*:float","MatMul[]:float"])");
  fs::remove_all(dir);
}

TEST(SpecUndefinedReason, TiesIntoArgMaxAndOutOfRangeCasts) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  AddValue(g->mutable_input(), "x", {4});
  AddNode(g, "ArgMax", {"x"}, "i");
  auto* cast = AddNode(g, "Cast", {"x"}, "c");
  auto* to = cast->add_attribute();
  to->set_name("to");
  to->set_type(onnx::AttributeProto::INT);
  to->set_i(onnx::TensorProto::INT32);
  Model model = Model::FromProto(m, "", "undefined", {false, false});
  Tensor distinct(DType::kFloat32, {4}), tied(DType::kFloat32, {4}), huge(DType::kFloat32, {4});
  for (int i = 0; i < 4; ++i) {
    distinct.data<float>()[i] = static_cast<float>(i);
    tied.data<float>()[i] = 1;
    huge.data<float>()[i] = 3e10f + static_cast<float>(i) * 1e9f;
  }
  EXPECT_FALSE(SpecUndefinedReason(model, {{"x", distinct}}).has_value());
  auto r = SpecUndefinedReason(model, {{"x", tied}});
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("ArgMax"), std::string::npos);
  r = SpecUndefinedReason(model, {{"x", huge}});
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("Cast"), std::string::npos);
}

// 2026-12-07 campaign: ORT and OpenVINO "disagreed" with ref on an int32 ReduceProd whose
// product is ~4e11: ref wraps, ORT saturates to INT32_MAX. Overflow is undefined, not a bug.
TEST(SpecUndefinedReason, IntegerOverflowInReductionsAndProducts) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  AddValue(g->mutable_input(), "x", {3}, onnx::TensorProto::INT32);
  AddNode(g, "ReduceProd", {"x"}, "p");
  AddNode(g, "Mul", {"x", "x"}, "q");
  Model model = Model::FromProto(m, "", "overflow", {false, false});
  Tensor small(DType::kInt32, {3}), big(DType::kInt32, {3}), square(DType::kInt32, {3});
  for (int i = 0; i < 3; ++i) {
    small.data<int32_t>()[i] = -7 + i * 5;           // product -7 * -2 * 3: fine
    big.data<int32_t>()[i] = 2000 - i;               // product ~8e9: overflows int32
    square.data<int32_t>()[i] = i == 2 ? 50000 : 1;  // 50000^2 = 2.5e9 in Mul only
  }
  EXPECT_FALSE(SpecUndefinedReason(model, {{"x", small}}).has_value());
  auto r = SpecUndefinedReason(model, {{"x", big}});
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("ReduceProd"), std::string::npos) << *r;
  EXPECT_NE(r->find("overflows"), std::string::npos) << *r;
  r = SpecUndefinedReason(model, {{"x", square}});
  ASSERT_TRUE(r.has_value());
  EXPECT_NE(r->find("Mul"), std::string::npos) << *r;
}

}  // namespace
}  // namespace concord
