// The one rewrite applied before OpenCV imports a model: opset-11+ Clip with constant bounds
// becomes the opset-6 form OpenCV 4.6 reads. Nothing else in the model changes.
#include "backends/opencv_internal.h"
#include "ir/tensor_io.h"

namespace concord::opencv_internal {

namespace {

// Scalar value of a constant tensor (initializer or Constant node output), if `name` is one.
bool ConstantScalar(const onnx::GraphProto& g, const std::string& name, float* value) {
  auto read = [&](const onnx::TensorProto& t) {
    try {
      Tensor tensor = TensorFromProto(t, ".", name);
      if (tensor.numel() != 1 || tensor.dtype() == DType::kString) return false;
      *value = static_cast<float>(tensor.GetDouble(0));
      return true;
    } catch (const Error&) {
      return false;  // e.g. external data: leave the node to OpenCV
    }
  };
  for (const auto& init : g.initializer()) {
    if (init.name() == name) return read(init);
  }
  for (const auto& node : g.node()) {
    if (node.op_type() != "Constant" || node.output_size() != 1 || node.output(0) != name) continue;
    for (const auto& a : node.attribute()) {
      if (a.name() == "value" && a.has_t()) return read(a.t());
      if (a.name() == "value_float") {
        *value = a.f();
        return true;
      }
    }
  }
  return false;
}

}  // namespace

int LegalizeClipForOpenCv(onnx::GraphProto* g) {
  int rewritten = 0;
  for (auto& node : *g->mutable_node()) {
    if (node.op_type() != "Clip" || !(node.domain().empty() || node.domain() == "ai.onnx"))
      continue;
    if (node.input_size() <= 1) continue;
    float bounds[2] = {0, 0};
    bool present[2] = {false, false};
    bool constant = true;
    for (int i = 1; i < node.input_size() && i <= 2; ++i) {
      if (node.input(i).empty()) continue;
      present[i - 1] = true;
      constant &= ConstantScalar(*g, node.input(i), &bounds[i - 1]);
    }
    if (!constant) continue;
    std::string x = node.input(0);
    node.clear_input();
    node.add_input(x);
    const char* names[2] = {"min", "max"};
    for (int i = 0; i < 2; ++i) {
      if (!present[i]) continue;
      auto* a = node.add_attribute();
      a->set_name(names[i]);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(bounds[i]);
    }
    ++rewritten;
  }
  return rewritten;
}

}  // namespace concord::opencv_internal
