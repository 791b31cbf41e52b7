// Parameter faults: weights and biases changed, dropped or reordered.
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "ir/half.h"
#include "passes/faults/fault_util.h"

namespace concord::passes::faults {

Applied ApplyParam(onnx::GraphProto* g, const FaultSpec& f) {
  const std::string& n = f.name;
  if (n == "param.bias_drop") {
    int i = PickNode(*g, f, {"Conv", "Gemm"});
    onnx::NodeProto* node = g->mutable_node(i);
    if (node->input_size() < 3) Cannot(f, fmt::format("node '{}' has no bias", node->name()));
    std::string b = node->input(2);
    node->mutable_input()->RemoveLast();
    return {node->name(), fmt::format("bias '{}' dropped", b)};
  }
  if (n == "param.bn_mean") {
    int i = PickNode(*g, f, {"BatchNormalization"});
    std::string c = g->node(i).input(3);
    Tensor t = ReadInit(g, c, f);
    std::vector<float> v = Floats(t);
    for (auto& x : v) x += 0.5f;
    WriteInit(g, c, FloatTensor(t.shape(), v));
    return {g->node(i).name(), fmt::format("running mean '{}' shifted by +0.5", c)};
  }
  int i =
      PickNode(*g, f,
               n == "param.bias_scale"     ? std::vector<std::string>{"Conv", "Gemm"}
               : n == "param.transpose_fc" ? std::vector<std::string>{"Gemm", "MatMul"}
                                           : std::vector<std::string>{"Conv", "Gemm", "MatMul"});
  onnx::NodeProto* node = g->mutable_node(i);
  int input = n == "param.bias_scale" ? 2 : 1;
  if (node->input_size() <= input)
    Cannot(f, fmt::format("node '{}' has no input {}", node->name(), input));
  std::string c = node->input(input);
  Tensor t = ReadInit(g, c, f);
  if (t.dtype() != DType::kFloat32) Cannot(f, fmt::format("'{}' is not float32", c));
  std::vector<float> v = Floats(t);
  std::string what;
  if (n == "param.fp16") {
    for (auto& x : v) x = static_cast<float>(Float16(x));
    what = "float16 round trip";
  } else if (n == "param.int8") {
    float m = 0;
    for (float x : v) m = std::max(m, std::fabs(x));
    float scale = m / 127.0f;
    for (auto& x : v) x = scale > 0 ? std::round(x / scale) * scale : x;
    what = fmt::format("int8 round trip (symmetric, scale {:.3g})", scale);
  } else if (n == "param.bias_scale") {
    for (auto& x : v) x *= 2.0f;
    what = "bias scaled by 2";
  } else if (n == "param.transpose" || n == "param.transpose_fc") {
    if (t.rank() < 2 || t.dim(t.rank() - 1) != t.dim(t.rank() - 2)) {
      Cannot(f, fmt::format("'{}' {} has non-square trailing axes: a transpose would not run", c,
                            t.Describe()));
    }
    WriteInit(g, c, SwapLastAxes(t));
    return {node->name(),
            fmt::format("weight '{}' {} transposed in its last two axes", c, t.Describe())};
  } else if (n == "param.permute_out") {
    // Output channels (axis 0) permuted: a layout mix-up in a converter.
    int64_t oc = t.dim(0), per = t.numel() / oc;
    std::vector<int64_t> perm(static_cast<size_t>(oc));
    for (int64_t k = 0; k < oc; ++k) perm[static_cast<size_t>(k)] = (k + 1) % oc;
    std::vector<float> w(v.size());
    for (int64_t k = 0; k < oc; ++k) {
      std::copy_n(v.begin() + perm[static_cast<size_t>(k)] * per, per, w.begin() + k * per);
    }
    v = w;
    what = "output channels rotated by one";
  } else {
    Cannot(f, "unknown parameter fault");
  }
  WriteInit(g, c, FloatTensor(t.shape(), v));
  return {node->name(), fmt::format("'{}' {}: {}", c, t.Describe(), what)};
}

}  // namespace concord::passes::faults
