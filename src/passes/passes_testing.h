// Test helpers for the passes: build small models in C++, run models on a backend, measure
// agreement. Test-only (included by the passes' tests).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "backends/backend.h"
#include "ir/random.h"
#include "ir/tensor_io.h"
#include "passes/pass.h"
#include "testing/graph_builder.h"

namespace concord::passes::testing {

using GraphBuilder = concord::test::GraphBuilder;

// Seeded tensor, uniform in [lo, hi) (drawn as float64, then cast to `dt`).
inline Tensor UniformTensor(DType dt, const Shape& shape, uint64_t seed, double lo = -1,
                            double hi = 1) {
  Rng rng(seed);
  return concord::RandomTensor(DType::kFloat64, shape, rng, lo, hi).CastTo(dt);
}

// Seeded inputs for every graph input (floats uniform in [-1, 1)).
inline ValueMap RandomInputs(const Model& m, uint64_t seed) {
  ValueMap v;
  for (const auto& in : m.Inputs()) {
    Shape s = in.shape;
    for (auto& d : s) d = d < 0 ? 1 : d;
    v[in.name] = UniformTensor(in.dtype, s, seed++);
  }
  return v;
}

inline std::vector<Value> RunOn(const Model& m, const ValueMap& inputs,
                                const std::string& env = "ref") {
  auto session = PrepareSession(m, EnvSpec::Parse(env));
  return session->Run(inputs);
}

// max |got - want| / max |want| (0 when both are all zero).
inline double RelErr(const Tensor& want, const Tensor& got) {
  EXPECT_EQ(want.shape(), got.shape());
  if (want.shape() != got.shape()) return INFINITY;
  double num = 0, den = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    double a = want.GetDouble(i), b = got.GetDouble(i);
    num = std::max(num, std::fabs(a - b));
    den = std::max(den, std::fabs(a));
  }
  return den == 0 ? num : num / den;
}

// NCHW -> NHWC for 4-D tensors (inputs of nhwc-converted models).
inline Tensor ToNhwc(const Tensor& x) {
  CONCORD_CHECK(x.rank() == 4, "ToNhwc needs a 4-D tensor");
  const int64_t n = x.dim(0), c = x.dim(1), h = x.dim(2), w = x.dim(3);
  Tensor f = x.CastTo(DType::kFloat64);
  Tensor y(DType::kFloat64, {n, h, w, c});
  for (int64_t a = 0; a < n; ++a)
    for (int64_t b = 0; b < c; ++b)
      for (int64_t i = 0; i < h; ++i)
        for (int64_t j = 0; j < w; ++j)
          y.data<double>()[((a * h + i) * w + j) * c + b] =
              f.data<double>()[((a * c + b) * h + i) * w + j];
  return y.CastTo(x.dtype());
}

// Runs `orig` and `conv` on ref (inputs adapted for nhwc) and returns the worst RelErr over
// the outputs.
inline double Agreement(const Model& orig, const Model& conv, const ValueMap& inputs,
                        bool nhwc_inputs = false, const std::string& env = "ref") {
  ValueMap in2 = inputs;
  if (nhwc_inputs) {
    for (auto& [k, v] : in2) {
      if (v.is_tensor() && v.tensor.rank() == 4) v = Value(ToNhwc(v.tensor));
    }
  }
  auto a = RunOn(orig, inputs);
  auto b = RunOn(conv, in2, env);
  EXPECT_EQ(a.size(), b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i)
    worst = std::max(worst, RelErr(a[i].tensor, b[i].tensor));
  return worst;
}

inline int CountOp(const Model& m, const std::string& op) {
  return static_cast<int>(
      std::count_if(m.graph().node().begin(), m.graph().node().end(),
                    [&](const onnx::NodeProto& n) { return n.op_type() == op; }));
}

// Every node of `conv` maps to names of nodes that exist in `orig`.
inline void ExpectTraceable(const Model& orig, const PassResult& r) {
  std::set<std::string> names;
  for (const auto& n : orig.graph().node()) names.insert(n.name());
  for (const auto& n : r.model.graph().node()) {
    auto it = r.names.nodes.find(n.name());
    ASSERT_NE(it, r.names.nodes.end()) << "node " << n.name() << " has no origin";
    EXPECT_FALSE(it->second.empty()) << "node " << n.name() << " maps to nothing";
    for (const auto& o : it->second)
      EXPECT_TRUE(names.count(o)) << n.name() << " -> " << o << " (not in the original)";
  }
}

}  // namespace concord::passes::testing
