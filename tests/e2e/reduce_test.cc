// `concord reduce` end to end: OpenCV 4.6 ignores Gemm's alpha (findings: Gemm alpha=0.5 gives
// the unscaled product). Planted in a 12-node chain, the divergence between `ref` and
// `opencv@cpu` must reduce to the Gemm (at most one neighbour kept), and the repro folder must
// be a runnable ONNX test case whose repro.sh still shows the divergence. Without the bug
// (alpha = 1) there is nothing to reduce (exit 1); a bad env list is a usage error (exit 2).
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "ir/model.h"
#include "tests/e2e/cli_runner.h"

namespace concord::e2e {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

fs::path TempDir(const std::string& name) {
  fs::path d = fs::temp_directory_path() / fmt::format("concord_reduce_e2e_{}_{}", getpid(), name);
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

onnx::NodeProto* AddNode(onnx::GraphProto* g, const std::string& op, std::vector<std::string> in,
                         const std::string& out) {
  onnx::NodeProto* n = g->add_node();
  n->set_op_type(op);
  n->set_name("n_" + out);
  for (auto& i : in) n->add_input(i);
  n->add_output(out);
  return n;
}

void AddFloat(google::protobuf::RepeatedPtrField<onnx::ValueInfoProto>* list,
              const std::string& name, std::vector<int64_t> dims) {
  auto* vi = list->Add();
  vi->set_name(name);
  auto* t = vi->mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  for (int64_t d : dims) t->mutable_shape()->add_dim()->set_dim_value(d);
}

// x[4,8] -> Relu, Abs, Sigmoid -> Gemm(W[6,8] transposed, alpha) -> Tanh, Relu, Sigmoid, Neg, Abs,
// Tanh, Sigmoid, Exp -> z[4,6]: 12 nodes.
fs::path WriteChain(const fs::path& dir, float alpha) {
  onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(17);
  onnx::GraphProto* g = m.mutable_graph();
  g->set_name("gemm_chain");
  AddFloat(g->mutable_input(), "x", {4, 8});
  auto* w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(6);  // [N, K] with transB = 1, the layout OpenCV's importer expects
  w->add_dims(8);
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1, 1);
  for (int i = 0; i < 48; ++i) w->add_float_data(u(rng));
  AddNode(g, "Relu", {"x"}, "a");
  AddNode(g, "Abs", {"a"}, "b");
  AddNode(g, "Sigmoid", {"b"}, "c");
  auto* gemm = AddNode(g, "Gemm", {"c", "W"}, "d");
  auto* attr = gemm->add_attribute();
  attr->set_name("alpha");
  attr->set_type(onnx::AttributeProto::FLOAT);
  attr->set_f(alpha);
  auto* trans_b = gemm->add_attribute();
  trans_b->set_name("transB");
  trans_b->set_type(onnx::AttributeProto::INT);
  trans_b->set_i(1);
  std::string prev = "d";
  int k = 0;
  for (const char* op : {"Tanh", "Relu", "Sigmoid", "Neg", "Abs", "Tanh", "Sigmoid", "Exp"}) {
    std::string out = ++k == 8 ? "z" : fmt::format("t{}", k);
    AddNode(g, op, {prev}, out);
    prev = out;
  }
  AddFloat(g->mutable_output(), "z", {4, 6});
  fs::path path = dir / fmt::format("chain_alpha{}.onnx", alpha);
  std::ofstream f(path, std::ios::binary);
  m.SerializeToOstream(&f);
  return path;
}

TEST(ReduceCli, KeepsTheGemmThatOpenCvGetsWrong) {
  fs::path dir = TempDir("gemm");
  fs::path model = WriteChain(dir, 0.5f);
  fs::path out = dir / "small";
  CliResult r = RunConcord("reduce " + Quote(model.string()) +
                           " --envs 'ref;opencv@cpu' --atol 1e-4 --rtol 1e-3 --out " +
                           Quote(out.string()) + " --json");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  json s = json::parse(r.out);
  EXPECT_EQ(s["symptom"], "diverges");
  EXPECT_EQ(s["original_nodes"], 12);
  EXPECT_LE(s["reduced_nodes"].get<int>(), 2) << s.dump(2);
  auto ops = s["reduced_ops"].get<std::vector<std::string>>();
  EXPECT_NE(std::find(ops.begin(), ops.end(), "Gemm"), ops.end()) << s.dump(2);
  EXPECT_EQ(s["expected_env"], "ref@cpu");
  EXPECT_TRUE(fs::exists(out / "model.onnx"));
  EXPECT_TRUE(fs::exists(out / "test_data_set_0" / "output_0.pb"));
  EXPECT_TRUE(fs::exists(out / "reduce.json"));
  ASSERT_TRUE(fs::exists(out / "repro.sh"));
  // The repro stands alone: ref passes its test case, and repro.sh still shows the divergence.
  CliResult ref = RunConcord("run " + Quote((out / "model.onnx").string()) +
                             " --env ref --inputs " + Quote((out / "test_data_set_0").string()));
  EXPECT_EQ(ref.code, 0) << ref.err;
  std::string sh = "sh " + Quote((out / "repro.sh").string()) + " >/dev/null 2>&1";
  int status = std::system(sh.c_str());
  EXPECT_EQ(WEXITSTATUS(status), 1) << "repro.sh should report the divergence";
  fs::remove_all(dir);
}

TEST(ReduceCli, NothingToReduceExitsOneAndBadEnvsExitTwo) {
  fs::path dir = TempDir("none");
  fs::path model = WriteChain(dir, 1.0f);
  CliResult r = RunConcord("reduce " + Quote(model.string()) +
                           " --envs 'ref;opencv@cpu' --atol 1e-4 --rtol 1e-3 --out " +
                           Quote((dir / "small").string()) + " --json");
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["reproduced"], false);
  EXPECT_FALSE(fs::exists(dir / "small" / "model.onnx"));
  r = RunConcord("reduce " + Quote(model.string()) + " --envs ref --out " +
                 Quote((dir / "x").string()));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("two envs"), std::string::npos) << r.err;
  r = RunConcord("reduce /no/such.onnx --envs 'ref;opencv@cpu' --out " +
                 Quote((dir / "x").string()));
  EXPECT_EQ(r.code, 2);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace concord::e2e
