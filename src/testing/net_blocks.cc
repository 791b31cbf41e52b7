#include "testing/net_blocks.h"

#include <cmath>
#include <random>

namespace concord::test {

std::string Conv(GraphBuilder& b, const std::string& x, int cin, int cout, int k, int stride,
                 int group) {
  std::string w = b.Weight({cout, cin / group, k, k},
                           std::sqrt(2.0f / static_cast<float>(cin / group * k * k)));
  std::string bias = b.Weight({cout}, 0.01f);
  auto* n = b.Node("Conv", {x, w, bias});
  GraphBuilder::Ints(n, "kernel_shape", {k, k});
  GraphBuilder::Ints(n, "strides", {stride, stride});
  GraphBuilder::Ints(n, "pads", {k / 2, k / 2, k / 2, k / 2});
  GraphBuilder::Int(n, "group", group);
  return n->output(0);
}

std::string Relu6(GraphBuilder& b, const std::string& x) {
  return b.Node("Clip", {x, b.Const(0), b.Const(6)})->output(0);
}

std::string BatchNorm(GraphBuilder& b, const std::string& x, int c) {
  std::string scale = b.Weight({c}, 0.1f), bias = b.Weight({c}, 0.1f), mean = b.Weight({c}, 0.1f);
  std::vector<float> v(static_cast<size_t>(c));
  for (int i = 0; i < c; ++i) v[static_cast<size_t>(i)] = 1.0f + 0.05f * static_cast<float>(i % 5);
  std::string var = b.FreshName("var");
  b.Init(var, Tensor::FromVector<float>({c}, v));
  return b.Node("BatchNormalization", {x, scale, bias, mean, var})->output(0);
}

// MobileNetV2-shaped: stem conv, inverted residual (expand, depthwise, project, add), head.
Model MobileNetLike() {
  GraphBuilder b("mobilenet_like");
  b.Input("input", {1, 3, 32, 32});
  std::string x = Relu6(b, Conv(b, "input", 3, 16, 3, 2));
  std::string e = Relu6(b, Conv(b, x, 16, 64, 1, 1));
  std::string d = Relu6(b, Conv(b, e, 64, 64, 3, 1, 64));
  std::string p = Conv(b, d, 64, 16, 1, 1);
  std::string r = b.Node("Add", {x, p})->output(0);
  std::string g = b.Node("GlobalAveragePool", {r})->output(0);
  std::string f = b.Node("Flatten", {g})->output(0);
  auto* fc = b.Node("Gemm", {f, b.Weight({10, 16}, 0.25f), b.Weight({10}, 0.01f)}, "logits");
  GraphBuilder::Int(fc, "transB", 1);
  b.Output("logits", {1, 10});
  return b.Build();
}

// ResNet-18-shaped: conv-bn-relu-maxpool stem, one basic block with identity shortcut.
Model ResNetLike() {
  GraphBuilder b("resnet_like");
  b.Input("input", {2, 3, 32, 32});
  std::string x = b.Node("Relu", {BatchNorm(b, Conv(b, "input", 3, 16, 7, 2), 16)})->output(0);
  auto* mp = b.Node("MaxPool", {x});
  GraphBuilder::Ints(mp, "kernel_shape", {3, 3});
  GraphBuilder::Ints(mp, "strides", {2, 2});
  GraphBuilder::Ints(mp, "pads", {1, 1, 1, 1});
  std::string m = mp->output(0);
  std::string y = b.Node("Relu", {BatchNorm(b, Conv(b, m, 16, 16, 3, 1), 16)})->output(0);
  y = BatchNorm(b, Conv(b, y, 16, 16, 3, 1), 16);
  std::string s = b.Node("Relu", {b.Node("Add", {y, m})->output(0)})->output(0);
  std::string g = b.Node("GlobalAveragePool", {s})->output(0);
  std::string f = b.Node("Flatten", {g})->output(0);
  auto* fc = b.Node("Gemm", {f, b.Weight({10, 16}, 0.25f), b.Weight({10}, 0.01f)}, "logits");
  GraphBuilder::Int(fc, "transB", 1);
  b.Output("logits", {2, 10});
  return b.Build();
}

// MLP; with_argmax adds a second output, the int64 argmax (OpenCV computes it in float and
// has no OpenCL kernel for it).
Model Mlp(bool with_argmax) {
  GraphBuilder b(with_argmax ? "mlp_argmax" : "mlp");
  b.Input("x", {4, 32});
  std::string h = b.Node("MatMul", {"x", b.Weight({32, 64}, 0.18f)})->output(0);
  h = b.Node("Relu", {b.Node("Add", {h, b.Weight({64}, 0.01f)})->output(0)})->output(0);
  h = b.Node("MatMul", {h, b.Weight({64, 10}, 0.12f)})->output(0);
  h = b.Node("Add", {h, b.Weight({10}, 0.01f)})->output(0);
  auto* sm = b.Node("Softmax", {h}, "probs");
  GraphBuilder::Int(sm, "axis", 1);
  b.Output("probs", {4, 10});
  if (with_argmax) {
    auto* am = b.Node("ArgMax", {h}, "label");
    GraphBuilder::Int(am, "axis", 1);
    GraphBuilder::Int(am, "keepdims", 0);
    b.Output("label", DType::kInt64, {4});
  }
  return b.Build();
}

Tensor RandomInput(const Shape& shape, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(NumElements(shape)));
  for (float& x : v) x = dist(rng);
  return Tensor::FromVector<float>(shape, v);
}

ValueMap RandomInputs(const Model& model) {
  ValueMap in;
  unsigned seed = 1;
  for (const ValueInfo& vi : model.Inputs()) in[vi.name] = RandomInput(vi.shape, seed++);
  return in;
}

}  // namespace concord::test
