#include "localize/quantization.h"

#include <algorithm>
#include <cmath>

#include "ir/json_number.h"
#include "ir/tensor_io.h"

namespace concord::localize {

namespace {

std::string Label(const onnx::NodeProto& n) {
  if (!n.name().empty()) return n.name();
  return n.output_size() > 0 ? n.output(0) : n.op_type();
}

const onnx::TensorProto* Initializer(const Model& m, const std::string& name) {
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

bool IntegerInitializer(const Model& m, const std::string& name) {
  const onnx::TensorProto* t = Initializer(m, name);
  if (t == nullptr) return false;
  using T = onnx::TensorProto;
  return t->data_type() == T::INT8 || t->data_type() == T::UINT8 || t->data_type() == T::INT32;
}

std::vector<std::string> Consumers(const ModelIndex& gi, const std::string& tensor) {
  std::vector<std::string> r;
  auto c = gi.consumers.find(tensor);
  if (c == gi.consumers.end()) return r;
  for (int j : c->second) r.push_back(Label(gi.node(j)));
  return r;
}

// Worst |a - b| and max |a| over two tensors of the same element count.
void Worst(const Tensor& a, const Tensor& b, double* max_abs, double* max_ref) {
  if (a.numel() != b.numel()) {
    *max_abs = INFINITY;
    return;
  }
  for (int64_t i = 0; i < a.numel(); ++i) {
    double x = a.GetDouble(i), y = b.GetDouble(i);
    *max_abs = std::max(*max_abs, std::fabs(x - y));
    *max_ref = std::max(*max_ref, std::fabs(x));
  }
}

// The source's float weight for a dequantized initializer: by name ("W_quantized" -> "W"), else
// the source node of the same name reading it at the same input position.
bool SourceWeight(const Model& source, const Model& target, const QuantizedTensor& q,
                  const std::string& int_name, Tensor* out, std::string* source_name) {
  const std::string suffix = "_quantized";
  std::string name = int_name;
  if (name.size() > suffix.size() &&
      name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
    name.resize(name.size() - suffix.size());
  }
  const onnx::TensorProto* t = Initializer(source, name);
  if (t == nullptr) {
    for (const auto& tn : target.graph().node()) {
      for (int p = 0; p < tn.input_size() && t == nullptr; ++p) {
        if (tn.input(p) != q.dequantized) continue;
        for (const auto& sn : source.graph().node()) {
          if (Label(sn) == Label(tn) && p < sn.input_size()) t = Initializer(source, sn.input(p));
        }
      }
    }
  }
  if (t == nullptr) return false;
  *out = TensorFromProto(*t, source.base_dir(), "initializer '" + t->name() + "'");
  *source_name = t->name();
  return true;
}

}  // namespace

std::vector<QuantizedTensor> FindQuantizedTensors(const Model& target) {
  ModelIndex gi(target);
  std::vector<QuantizedTensor> r;
  const auto& g = target.graph();
  for (int i = 0; i < g.node_size(); ++i) {
    const auto& n = g.node(i);
    if (n.op_type() != "DequantizeLinear" || n.input_size() < 1 || n.output_size() < 1) continue;
    QuantizedTensor q;
    q.dequantize = Label(n);
    q.dequantized = n.output(0);
    q.consumers = Consumers(gi, q.dequantized);
    auto p = gi.producer.find(n.input(0));
    if (p != gi.producer.end() && gi.node(p->second).op_type() == "QuantizeLinear") {
      const auto& qn = gi.node(p->second);
      q.kind = "activation";
      q.quantize = Label(qn);
      q.tensor = qn.input(0);
    } else if (IntegerInitializer(target, n.input(0))) {
      q.kind = "weight";
      q.tensor = n.input(0);
    } else {
      continue;
    }
    r.push_back(std::move(q));
  }
  return r;
}

bool IsQuantizationNode(const Model& target, const std::vector<QuantizedTensor>& q, int index) {
  const auto& n = target.graph().node(index);
  const std::string label = Label(n);
  for (const auto& t : q) {
    if (label == t.quantize || label == t.dequantize) return true;
    for (const auto& in : n.input()) {
      if (in == t.dequantized) return true;
    }
  }
  return false;
}

void MeasureQuantization(const Model& source, const Model& target, const SideValues& tv,
                         std::vector<QuantizedTensor>* q) {
  for (auto& t : *q) {
    double max_abs = 0, max_ref = 0;
    bool any = false;
    if (t.kind == "weight") {
      Tensor w;
      const Value* dq = tv.Find(0, t.dequantized);
      if (dq != nullptr && dq->is_tensor() &&
          SourceWeight(source, target, t, t.tensor, &w, &t.source_tensor)) {
        Worst(w, dq->tensor, &max_abs, &max_ref);
        any = true;
      }
    } else {
      for (size_t s = 0; s < tv.sets.size(); ++s) {
        const Value* f = tv.Find(s, t.tensor);
        const Value* dq = tv.Find(s, t.dequantized);
        if (f == nullptr || dq == nullptr || !f->is_tensor() || !dq->is_tensor()) continue;
        Worst(f->tensor, dq->tensor, &max_abs, &max_ref);
        any = true;
      }
    }
    t.measured = any;
    t.max_abs = max_abs;
    t.rel_error = max_ref > 0 ? max_abs / max_ref : (max_abs > 0 ? INFINITY : 0);
  }
}

nlohmann::json QuantizationJson(const std::vector<QuantizedTensor>& q) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& t : q) {
    nlohmann::json j = {{"tensor", t.tensor},
                        {"kind", t.kind},
                        {"dequantize_node", t.dequantize},
                        {"dequantized", t.dequantized},
                        {"consumers", t.consumers}};
    if (!t.quantize.empty()) j["quantize_node"] = t.quantize;
    if (!t.source_tensor.empty()) j["source_tensor"] = t.source_tensor;
    j["max_abs"] = t.measured ? JsonNumber(t.max_abs) : nlohmann::json(nullptr);
    j["rel_error"] = t.measured ? JsonNumber(t.rel_error) : nlohmann::json(nullptr);
    a.push_back(std::move(j));
  }
  return a;
}

}  // namespace concord::localize
