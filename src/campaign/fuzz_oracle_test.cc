// The fuzzer's verdict rules on hand-made cases: boundary effects of discontinuous ops, the
// per-output tolerance rule, the perf re-timing rule and root-cause clustering in the store.
#include "campaign/fuzz_oracle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>

#include "backends/ref_backend.h"
#include "campaign/fuzz.h"
#include "ir/tensor_io.h"
#include "store/store.h"

namespace concord {
namespace {

// A chain of one-input ops on x: float[n] (each node's output feeds the next); the last is y.
Model Chain(const std::vector<std::string>& ops, int64_t n) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("chain");
  auto add_vi = [&](onnx::ValueInfoProto* vi, const std::string& name) {
    vi->set_name(name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_value(n);
  };
  add_vi(g->add_input(), "x");
  std::string prev = "x";
  for (size_t i = 0; i < ops.size(); ++i) {
    auto* node = g->add_node();
    node->set_op_type(ops[i]);
    node->set_name(fmt::format("n{}", i));
    node->add_input(prev);
    if (ops[i] == "Add" || ops[i] == "Pow" || ops[i] == "Less") node->add_input(prev);
    prev = i + 1 == ops.size() ? "y" : fmt::format("t{}", i);
    node->add_output(prev);
  }
  add_vi(g->add_output(), "y");
  return Model::FromProto(m, ".");
}

ValueMap Taps(const Model& model, const ValueMap& inputs) {
  ValueMap taps;
  PrepareReference(model)->RunWithTaps(inputs, &taps);
  for (const auto& [k, v] : inputs) taps[k] = v;
  return taps;
}

std::optional<std::string> FloorCase(float x, float env_y) {
  Model m = Chain({"Floor"}, 1);
  ValueMap in{{"x", Tensor::FromVector<float>({1}, {x})}};
  std::vector<Value> env{Tensor::FromVector<float>({1}, {env_y})};
  return BoundaryEffect(m, in, Taps(m, in), env, Tolerance{1e-2, 1e-3});
}

TEST(BoundaryEffect, FloorFedWithinAnUlpOfAnIntegerIsABoundaryEffect) {
  // ref: floor(2.9999999f) = 2 (the float is 2.99999976); an env whose upstream rounding gave
  // 3.0 returns 3.
  auto below = FloorCase(2.9999999f, 3);
  ASSERT_TRUE(below.has_value());
  EXPECT_NE(below->find("Floor"), std::string::npos) << *below;
  EXPECT_NE(below->find("ULP from 3"), std::string::npos) << *below;
  // ref: floor(3.0000002f) = 3; the env saw 2.9999998 and returns 2.
  EXPECT_TRUE(FloorCase(3.0000002f, 2).has_value());
}

TEST(BoundaryEffect, FloorFedAwayFromTheBoundaryIsARealFinding) {
  // 2.5 is far from any integer: an env that returns 2.5 (0.5 off) is wrong.
  EXPECT_FALSE(FloorCase(2.5f, 2.5f).has_value());
  // Near a boundary, but the env's value is not what either side gives: still wrong.
  EXPECT_FALSE(FloorCase(2.9999999f, 7).has_value());
  // 2.9999 is hundreds of ULPs from 3.
  EXPECT_FALSE(FloorCase(2.9999f, 3).has_value());
}

TEST(BoundaryEffect, ComparisonOfNearlyEqualValues) {
  // Less(a, b) with a one ULP below b: true on ref; an env that computed a == b says false.
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  auto* g = m.mutable_graph();
  g->set_name("less");
  for (const char* name : {"a", "b"}) {
    auto* vi = g->add_input();
    vi->set_name(name);
    auto* t = vi->mutable_type()->mutable_tensor_type();
    t->set_elem_type(onnx::TensorProto::FLOAT);
    t->mutable_shape()->add_dim()->set_dim_value(2);
  }
  auto* n = g->add_node();
  n->set_op_type("Less");
  n->add_input("a");
  n->add_input("b");
  n->add_output("y");
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(2);
  Model model = Model::FromProto(m, ".");
  float b = 10.0f, a = std::nextafter(b, 0.0f);
  ValueMap in{{"a", Tensor::FromVector<float>({2}, {a, 1.0f})},
              {"b", Tensor::FromVector<float>({2}, {b, 5.0f})}};
  std::vector<Value> flipped{Tensor::FromVector<bool>({2}, {false, true})};
  EXPECT_TRUE(BoundaryEffect(model, in, Taps(model, in), flipped, {}).has_value());
  // The second element (1 < 5) is far from equality: flipping it is a real finding.
  std::vector<Value> wrong{Tensor::FromVector<bool>({2}, {true, false})};
  EXPECT_FALSE(BoundaryEffect(model, in, Taps(model, in), wrong, {}).has_value());
}

// Floor of nine values that are exactly 1 on ref (a Softmax over a size-1 axis) where the env
// rounded eight of them to 1 - ulp: no single side fits all nine, no single element explains
// the output, the greedy mix does (the LiteRT 2.3 Softmax -> Floor finding of 2026-12-07).
TEST(BoundaryEffect, SomeElementsFlippedOthersNot) {
  Model m = Chain({"Floor"}, 9);
  ValueMap in{{"x", Tensor::FromVector<float>({9}, std::vector<float>(9, 1.0f))}};
  std::vector<float> flipped(9, 0.0f);
  flipped[4] = 1.0f;
  std::vector<Value> env{Tensor::FromVector<float>({9}, flipped)};
  auto why = BoundaryEffect(m, in, Taps(m, in), env, Tolerance{1e-2, 1e-3});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("8 of them moved"), std::string::npos) << *why;
  // A value no move can give (0.5 out of Floor) stays a finding.
  flipped[4] = 0.5f;
  std::vector<Value> wrong{Tensor::FromVector<float>({9}, flipped)};
  EXPECT_FALSE(BoundaryEffect(m, in, Taps(m, in), wrong, Tolerance{1e-2, 1e-3}).has_value());
}

// Ceil of 100 values that are exact integers on ref (a float16 ConvTranspose of small integers):
// too many near elements to try one by one, so the search narrows to the positions where the
// Ceil output differs (the OpenVINO/ORT Ceil(ConvTranspose) finding of 2026-12-07, where ref
// rounded one accumulation to 2 and both runtimes to 2 + 1 ULP).
TEST(BoundaryEffect, ManyExactIntegersOneFlipped) {
  Model m = Chain({"Ceil"}, 100);
  std::vector<float> x(100);
  for (int i = 0; i < 100; ++i) x[static_cast<size_t>(i)] = static_cast<float>(i % 7);
  ValueMap in{{"x", Tensor::FromVector<float>({100}, x)}};
  std::vector<float> flipped = x;
  flipped[37] += 1;
  std::vector<Value> env{Tensor::FromVector<float>({100}, flipped)};
  auto why = BoundaryEffect(m, in, Taps(m, in), env, Tolerance{1e-2, 1e-3});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("moved across agrees"), std::string::npos) << *why;
  // Two more than the boundary can give: a finding.
  flipped[37] += 1;
  std::vector<Value> wrong{Tensor::FromVector<float>({100}, flipped)};
  EXPECT_FALSE(BoundaryEffect(m, in, Taps(m, in), wrong, Tolerance{1e-2, 1e-3}).has_value());
}

// Greater(w, Cos(x)) with w an initializer holding cos(x) itself: ref says false everywhere the
// two are equal; a runtime whose Cos is one ULP low says true. The near element is in the
// initializer, which ref's taps do not hold (the OpenVINO/ORT float16 Cos -> Greater finding).
TEST(BoundaryEffect, ComparisonWithAnInitializer) {
  onnx::ModelProto p;
  p.set_ir_version(8);
  p.add_opset_import()->set_version(17);
  auto* g = p.mutable_graph();
  g->set_name("greater");
  auto* x = g->add_input();
  x->set_name("x");
  x->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::FLOAT);
  x->mutable_type()->mutable_tensor_type()->mutable_shape();
  const float c = std::cos(0.5f);
  TensorToProto(Tensor::FromVector<float>({3}, {c, 0.1f, 2.0f}), "w", g->add_initializer());
  auto* cos = g->add_node();
  cos->set_op_type("Cos");
  cos->add_input("x");
  cos->add_output("c");
  auto* gt = g->add_node();
  gt->set_op_type("Greater");
  gt->add_input("w");
  gt->add_input("c");
  gt->add_output("y");
  auto* out = g->add_output();
  out->set_name("y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(onnx::TensorProto::BOOL);
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(3);
  Model model = Model::FromProto(p, ".");
  ValueMap in{{"x", Tensor::Scalar<float>(0.5f)}};
  ValueMap taps = Taps(model, in);
  ASSERT_EQ(taps.at("c").tensor.data<float>()[0], c);  // ref's cos is the float we stored
  std::vector<Value> flipped{Tensor::FromVector<bool>({3}, {true, false, true})};
  auto why = BoundaryEffect(model, in, taps, flipped, {});
  ASSERT_TRUE(why.has_value());
  EXPECT_NE(why->find("Greater"), std::string::npos) << *why;
  // 0.1 > cos(0.5) flipped to true: far from equal, a finding.
  std::vector<Value> wrong{Tensor::FromVector<bool>({3}, {false, true, true})};
  EXPECT_FALSE(BoundaryEffect(model, in, taps, wrong, {}).has_value());
}

TEST(OutputTolerances, FollowTheOpsOnThePath) {
  Tolerance base{1e-2, 1e-3};
  auto exact = OutputTolerances(Chain({"Transpose", "Abs", "Floor"}, 4), base);
  ASSERT_EQ(exact.size(), 1u);
  EXPECT_EQ(exact[0].rtol, 0);
  EXPECT_EQ(exact[0].atol, 0);
  auto add = OutputTolerances(Chain({"Relu", "Add"}, 4), base);
  EXPECT_DOUBLE_EQ(add[0].rtol, 1e-2 / 16);
  EXPECT_DOUBLE_EQ(add[0].atol, 1e-3 / 16);
  // Exp (2) + Pow (8) + Softmax (4) + Exp (2) = 16: the campaign tolerance.
  auto mid = OutputTolerances(Chain({"Exp", "Pow", "Softmax", "Exp"}, 4), base);
  EXPECT_DOUBLE_EQ(mid[0].rtol, 1e-2);
  // A long exp/pow chain: capped at 4x.
  auto loose = OutputTolerances(
      Chain({"Exp", "Pow", "Pow", "Pow", "Pow", "Pow", "Pow", "Pow", "Pow", "Pow"}, 4), base);
  EXPECT_DOUBLE_EQ(loose[0].rtol, 4e-2);
}

TEST(JudgePerf, NeedsThreeRunsAndSeparatedIntervals) {
  // ref 1 ms x threshold 10 = 10 ms; the env takes ~100 ms with little spread: confirmed.
  PerfVerdict v = JudgePerf({100, 101, 99}, {1.0, 1.1, 0.9}, 10);
  EXPECT_TRUE(v.confirmed);
  // mean 100, sd 1, t(2) = 4.303: half-width 4.303 / sqrt(3).
  EXPECT_NEAR(v.env.lo, 100 - 4.303 / std::sqrt(3.0), 1e-9);
  EXPECT_GT(v.env.lo, v.scaled_ref.hi);
  // Noisy env times: the interval reaches below the threshold.
  EXPECT_FALSE(JudgePerf({12, 200, 15}, {1.0, 1.0, 1.0}, 10).confirmed);
  // Two runs are not enough, however clear.
  EXPECT_FALSE(JudgePerf({100, 100}, {1.0, 1.0}, 10).confirmed);
}

class RootCauseStore : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = std::filesystem::temp_directory_path() /
            fmt::format("concord_rc_{}_{}.db", getpid(),
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove(path_);
  }
  void TearDown() override { std::filesystem::remove(path_); }
  int64_t Finding(Store& s, const std::string& symptom, const std::string& sig) {
    FindingRecord f;
    f.env = "ort@cpu";
    f.symptom = symptom;
    f.signature = sig;
    f.first_seen = f.last_seen = "2026-12-06T00:00:00Z";
    int64_t id = 0;
    s.RecordFinding(f, &id);
    return id;
  }
  std::filesystem::path path_;
};

TEST_F(RootCauseStore, SameSignatureClustersAndContainmentMerges) {
  Store s = Store::Open(path_.string());
  RootCauseSignature floor_add{"ort@cpu", "wrong value", {"Add[]:float", "Floor[]:float"}};
  int64_t a = AssignRootCause(s, Finding(s, "inconsistent", "Add,Floor"), floor_add, "c1", "t1");
  // Another raw finding (another op signature row) whose reduced repro has the same signature.
  int64_t b =
      AssignRootCause(s, Finding(s, "inconsistent", "Add,Floor,Relu"), floor_add, "c1", "t2");
  EXPECT_EQ(a, b);
  // A smaller repro contained in it narrows the same cause.
  RootCauseSignature floor{"ort@cpu", "wrong value", {"Floor[]:float"}};
  EXPECT_EQ(AssignRootCause(s, Finding(s, "inconsistent", "Floor"), floor, "c1", "t3"), a);
  ASSERT_EQ(s.RootCauses().size(), 1u);
  EXPECT_EQ(s.RootCauses()[0].nodes_json, "[\"Floor[]:float\"]");
  for (const auto& f : s.Findings()) EXPECT_EQ(f.root_cause, a);
  // Another dtype is another signature.
  RootCauseSignature f16{"ort@cpu", "wrong value", {"Floor[]:float16"}};
  EXPECT_NE(AssignRootCause(s, Finding(s, "inconsistent", "Floor16"), f16, "c1", "t4"), a);
}

TEST_F(RootCauseStore, CrashAndWrongValueWithTheSameOpsStayApart) {
  Store s = Store::Open(path_.string());
  std::set<std::string> nodes = {"Gather[axis=0]:float"};
  int64_t wrong = AssignRootCause(s, Finding(s, "inconsistent", "Gather"),
                                  {"ort@cpu", SymptomClass("inconsistent", "x"), nodes}, "c", "t");
  int64_t crash = AssignRootCause(
      s, Finding(s, "crash", "Gather"),
      {"ort@cpu", SymptomClass("crash", "worker died: SIGSEGV\nstack 0x1234"), nodes}, "c", "t");
  EXPECT_NE(wrong, crash);
  // Error messages that differ only in numbers and names are one class; other checks are not.
  EXPECT_EQ(SymptomClass("error", "Split 'n_3' got [3,5]"),
            SymptomClass("error", "Split 'n_9' got [2,1]"));
  EXPECT_NE(SymptomClass("error", "Split 'n_3' got [3,5]"),
            SymptomClass("error", "Concat axis out of range"));
}

TEST_F(RootCauseStore, ErrorsOfOneClassSharingANodeKindCluster) {
  Store s = Store::Open(path_.string());
  std::string cls = SymptomClass(
      "error",
      "tvm worker (pid 12): Binary operators must have the same datatype (R.add(x, 1)). "
      "Location: block[3]");
  EXPECT_EQ(cls, SymptomClass("error",
                              "tvm worker (pid 99): Binary operators must have the same datatype "
                              "(R.maximum(y, 0)). Location: block[7]"));
  int64_t a = AssignRootCause(s, Finding(s, "error", "BN,Softplus"),
                              {"tvm", cls, {"BatchNormalization[]:float16", "Softplus[]:float16"}},
                              "c", "t");
  int64_t b = AssignRootCause(s, Finding(s, "error", "BN,Softsign"),
                              {"tvm", cls, {"BatchNormalization[]:float16", "Softsign[]:float16"}},
                              "c", "t");
  EXPECT_EQ(a, b);
  // The same ops with another error class stay apart.
  EXPECT_NE(AssignRootCause(s, Finding(s, "error", "BN"),
                            {"tvm",
                             SymptomClass("error", "LLVM module verification failed"),
                             {"BatchNormalization[]:float16"}},
                            "c", "t"),
            a);
}

// OpenVINO's Abs over a constant-folded producer, found as Abs(Sub) and Abs(LeakyRelu): each
// repro generalised to {Abs, *} (the producer replaced and still failing) is one cause; an Abs
// whose Concat was needed is another; a raw (ungeneralised) repro containing Abs is explained by
// the pattern, one without Abs is not; a pattern of wildcards only explains only its equal.
TEST_F(RootCauseStore, GeneralisedPatternsMergeWhenEqual) {
  Store s = Store::Open(path_.string());
  const std::string ov = "openvino@cpu,threads=1";
  int64_t sub = AssignRootCause(s, Finding(s, "inconsistent", "Abs,Sub"),
                                {ov, "wrong value", {"Abs[]:int64", "*:int64"}}, "c", "t");
  EXPECT_EQ(AssignRootCause(s, Finding(s, "inconsistent", "Abs,LeakyRelu"),
                            {ov, "wrong value", {"Abs[]:int64", "*:int64"}}, "c", "t"),
            sub);
  EXPECT_NE(
      AssignRootCause(s, Finding(s, "inconsistent", "Abs,Concat,Gather"),
                      {ov, "wrong value", {"Abs[]:int64", "Concat[]:int64", "*:int64"}}, "c", "t"),
      sub);
  EXPECT_EQ(AssignRootCause(s, Finding(s, "inconsistent", "Abs,Round"),
                            {ov, "wrong value", {"Abs[]:int64", "Round[]:int64"}}, "c", "t"),
            sub);
  EXPECT_NE(AssignRootCause(s, Finding(s, "inconsistent", "Round"),
                            {ov, "wrong value", {"Round[]:int64"}}, "c", "t"),
            sub);
  int64_t any = AssignRootCause(s, Finding(s, "inconsistent", "ReduceProd"),
                                {ov, "wrong value", {"*:int64"}}, "c", "t");
  EXPECT_NE(any, sub);
  EXPECT_EQ(AssignRootCause(s, Finding(s, "inconsistent", "MatMul"),
                            {ov, "wrong value", {"*:int64"}}, "c", "t"),
            any);
  EXPECT_NE(AssignRootCause(s, Finding(s, "inconsistent", "MatMul16"),
                            {ov, "wrong value", {"*:float16"}}, "c", "t"),
            any);
  EXPECT_EQ(s.RootCauses().size(), 5u);
}

// ORT at opt 0 and opt 3 failing on the same node kinds is one defect of ORT; the same kinds on
// another runtime, or a different set on another opt level, are not merged.
TEST_F(RootCauseStore, ConfigurationsOfOneRuntimeShareACause) {
  EXPECT_EQ(RuntimeOf("ort@cpu,opt=3,threads=1"), "ort@cpu");
  EXPECT_EQ(RuntimeOf("tf@cpu,emit=1,lite=1,xnnpack=0,threads=1"), "tf@cpu,emit=1,lite=1");
  Store s = Store::Open(path_.string());
  std::set<std::string> nodes = {"Conv[]:float", "InstanceNormalization[]:float"};
  int64_t a = AssignRootCause(s, Finding(s, "inconsistent", "Conv,IN"),
                              {"ort@cpu,opt=0,threads=1", "wrong value", nodes}, "c", "t");
  EXPECT_EQ(AssignRootCause(s, Finding(s, "inconsistent", "Conv,IN"),
                            {"ort@cpu,opt=3,threads=1", "wrong value", nodes}, "c", "t"),
            a);
  EXPECT_NE(AssignRootCause(s, Finding(s, "inconsistent", "Conv,IN"),
                            {"openvino@cpu,threads=1", "wrong value", nodes}, "c", "t"),
            a);
  EXPECT_NE(AssignRootCause(s, Finding(s, "inconsistent", "Conv"),
                            {"ort@cpu,opt=3,threads=1", "wrong value", {"Conv[]:float"}}, "c", "t"),
            a);
}

TEST_F(RootCauseStore, KnownAcrossCampaignsThroughTheStore) {
  RootCauseSignature sig{"tvm@cpu", "error: expected float16", {"Elu[alpha]:float16"}};
  int64_t first = 0;
  {
    Store s = Store::Open(path_.string());
    first = AssignRootCause(s, Finding(s, "error", "Elu"), sig, "campaign1", "t1");
  }
  Store s = Store::Open(path_.string());
  RootCauseSignature bigger = sig;
  bigger.nodes.insert("Add[]:float16");
  EXPECT_EQ(AssignRootCause(s, Finding(s, "error", "Add,Elu"), bigger, "campaign2", "t2"), first);
  ASSERT_EQ(s.RootCauses().size(), 1u);
  EXPECT_EQ(s.RootCauses()[0].campaign, "campaign1");
}

TEST_F(RootCauseStore, UnassignedFindingsAreClusteredFromTheirOpSignature) {
  Store s = Store::Open(path_.string());
  Finding(s, "inconsistent", "Exp,Floor");
  Finding(s, "inconsistent", "Floor");
  Finding(s, "crash", "Floor");
  EXPECT_EQ(ClusterUnassignedFindings(s), 3);
  EXPECT_EQ(s.RootCauses().size(), 2u);  // {Floor} explains {Exp, Floor}; the crash is apart
  EXPECT_EQ(ClusterUnassignedFindings(s), 0);
}

}  // namespace
}  // namespace concord
