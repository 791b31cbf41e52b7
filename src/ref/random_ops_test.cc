// The ONNX Bernoulli cases are skipped in conformance because their values come from NumPy's
// RNG stream; here we check what can be checked against ONNX's data: dtype, shape, value
// domain, and determinism under a seed.
#include <gtest/gtest.h>

#include "ir/test_data.h"
#include "ref/interpreter.h"

namespace concord::ref {
namespace {

const std::string kNode = "/usr/share/libonnx-testdata/data/node/";

void CheckBernoulliCase(const std::string& name) {
  Model model = Model::Load(kNode + name + "/model.onnx");
  auto inputs = LoadInputSet(model, kNode + name + "/test_data_set_0");
  auto expected = LoadExpectedOutputs(model, kNode + name + "/test_data_set_0");
  Interpreter interp(model);
  auto a = interp.Run(inputs);
  auto b = interp.Run(inputs);
  ASSERT_EQ(a.size(), 1u);
  const Tensor& got = a[0].tensor;
  EXPECT_EQ(got.dtype(), expected[0].tensor.dtype()) << name;
  EXPECT_EQ(got.shape(), expected[0].tensor.shape()) << name;
  for (int64_t i = 0; i < got.numel(); ++i) {
    double v = got.GetDouble(i);
    EXPECT_TRUE(v == 0.0 || v == 1.0) << name << " element " << i << " = " << v;
  }
  if (name.find("seed") != std::string::npos) {
    EXPECT_TRUE(got.BitwiseEqual(b[0].tensor)) << name;
  }
}

TEST(RandomOps, BernoulliMatchesOnnxDtypeShapeAndDomain) {
  for (const char* c : {"test_bernoulli", "test_bernoulli_double", "test_bernoulli_seed"})
    CheckBernoulliCase(c);
}

}  // namespace
}  // namespace concord::ref
