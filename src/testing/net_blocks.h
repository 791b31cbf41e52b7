// Small bench-shaped networks for backend tests: MobileNetV2 and ResNet-18 building blocks
// (conv, ReLU6, BatchNorm, inverted residual, basic block), an MLP, and seeded random inputs.
// Weights come from GraphBuilder's seeded generator, so a test builds the same model each run.
#pragma once

#include <string>

#include "ir/model.h"
#include "ir/value.h"
#include "testing/graph_builder.h"

namespace concord::test {

// Conv with bias, "same" pads for odd k; returns its output.
std::string Conv(GraphBuilder& b, const std::string& x, int cin, int cout, int k, int stride,
                 int group = 1);
std::string Relu6(GraphBuilder& b, const std::string& x);  // Clip(0, 6)
std::string BatchNorm(GraphBuilder& b, const std::string& x, int c);
// MobileNetV2-shaped: stem conv, inverted residual (expand, depthwise, project, add), head.
Model MobileNetLike();
// ResNet-18-shaped: conv-bn-relu-maxpool stem, one basic block with identity shortcut.
Model ResNetLike();
// MLP; with_argmax adds a second output, the int64 argmax.
Model Mlp(bool with_argmax = true);
// Uniform [-1, 1) float32 values from a seeded generator.
Tensor RandomInput(const Shape& shape, unsigned seed);
// RandomInput for every graph input (seeds 1, 2, ...).
ValueMap RandomInputs(const Model& model);

}  // namespace concord::test
