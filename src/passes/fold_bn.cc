// fold_bn: Conv(X, W[, B]) -> BatchNormalization(scale, bias, mean, var, epsilon) becomes
// Conv(X, W', B') with s = scale / sqrt(var + epsilon), W'[m] = W[m] * s[m],
// B'[m] = (B[m] - mean[m]) * s[m] + bias[m]. Conditions: BN in inference mode (one output,
// training_mode 0), the Conv output used only by the BN, W/B and the BN parameters constant
// initializers of one float dtype (float32 or float64). Arithmetic is done in double. The
// fused Conv keeps the Conv's name and maps to both originals; it writes the BN's output.
#include <cmath>
#include <set>

#include "passes/pass_util.h"

namespace concord::passes {

namespace {

std::vector<double> ToDoubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.GetDouble(i);
  return v;
}

Tensor FromDoubles(DType dtype, const Shape& shape, const std::vector<double>& v) {
  if (dtype == DType::kFloat64) return Tensor::FromVector<double>(shape, v);
  std::vector<float> f(v.begin(), v.end());
  return Tensor::FromVector<float>(shape, f);
}

bool IsDefaultDomain(const onnx::NodeProto& n) {
  return n.domain().empty() || n.domain() == "ai.onnx";
}

}  // namespace

void RunFoldBnPass(PassRun& run) {
  onnx::GraphProto* g = run.graph();
  const GraphIndex idx(*g);
  Namer namer(*g);
  const std::string& base_dir = run.input.base_dir();
  std::set<int> removed;
  for (int bi = 0; bi < g->node_size(); ++bi) {
    const onnx::NodeProto bn = g->node(bi);
    if (bn.op_type() != "BatchNormalization" || !IsDefaultDomain(bn)) continue;
    auto skip = [&](const std::string& why) {
      run.Detail(fmt::format("{} kept: {}", bn.name(), why));
    };
    bool extra_outputs = false;
    for (int k = 1; k < bn.output_size(); ++k) extra_outputs |= !bn.output(k).empty();
    if (extra_outputs || IntAttr(bn, "training_mode", 0) != 0) {
      skip("training mode");
      continue;
    }
    auto pit = idx.producer.find(bn.input(0));
    if (pit == idx.producer.end()) continue;
    const int ci = pit->second;
    onnx::NodeProto* conv = g->mutable_node(ci);
    if (conv->op_type() != "Conv" || !IsDefaultDomain(*conv) || removed.count(ci)) continue;
    if (idx.NumConsumers(bn.input(0)) != 1) {
      skip(fmt::format("the output of {} has other uses", conv->name()));
      continue;
    }
    bool has_bias = conv->input_size() > 2 && !conv->input(2).empty();
    std::vector<std::string> params = {conv->input(1)};
    if (has_bias) params.push_back(conv->input(2));
    for (int k = 1; k < 5; ++k) params.push_back(bn.input(k));
    bool constant = true;
    for (const auto& p : params) constant &= idx.IsConstant(p);
    if (!constant) {
      skip("weights or BN parameters are not constant initializers");
      continue;
    }
    auto read = [&](const std::string& name) {
      return ReadInitializer(g->initializer(idx.initializer.at(name)), base_dir);
    };
    Tensor w = read(conv->input(1));
    if (w.dtype() != DType::kFloat32 && w.dtype() != DType::kFloat64) {
      skip(fmt::format("weights are {}", DTypeName(w.dtype())));
      continue;
    }
    if (w.rank() < 3) {
      skip("weight rank < 3");
      continue;
    }
    const int64_t m = w.dim(0);
    std::vector<Tensor> p;
    for (int k = 1; k < 5; ++k) p.push_back(read(bn.input(k)));
    bool shapes_ok = true;
    for (const auto& t : p) shapes_ok &= t.numel() == m && t.dtype() == w.dtype();
    Tensor b = has_bias ? read(conv->input(2)) : Tensor();
    if (has_bias) shapes_ok &= b.numel() == m && b.dtype() == w.dtype();
    if (!shapes_ok) {
      skip("parameter shapes/dtypes do not match the Conv's output channels");
      continue;
    }
    const double eps = FloatAttr(bn, "epsilon", 1e-5f);
    std::vector<double> wv = ToDoubles(w), scale = ToDoubles(p[0]), beta = ToDoubles(p[1]),
                        mean = ToDoubles(p[2]), var = ToDoubles(p[3]);
    std::vector<double> bv =
        has_bias ? ToDoubles(b) : std::vector<double>(static_cast<size_t>(m), 0.0);
    const size_t per = wv.size() / static_cast<size_t>(m);
    std::vector<double> nb(static_cast<size_t>(m));
    for (size_t c = 0; c < static_cast<size_t>(m); ++c) {
      double s = scale[c] / std::sqrt(var[c] + eps);
      for (size_t j = 0; j < per; ++j) wv[c * per + j] *= s;
      nb[c] = (bv[c] - mean[c]) * s + beta[c];
    }
    std::string wname = namer.Fresh(conv->input(1) + "_bnfold");
    std::string bname =
        namer.Fresh((has_bias ? conv->input(2) : conv->name() + "_bias") + "_bnfold");
    AddInitializer(g, FromDoubles(w.dtype(), w.shape(), wv), wname);
    AddInitializer(g, FromDoubles(w.dtype(), {m}, nb), bname);
    run.tensor_origin[wname] = conv->input(1);
    if (has_bias) run.tensor_origin[bname] = conv->input(2);
    conv->set_input(1, wname);
    if (has_bias) {
      conv->set_input(2, bname);
    } else {
      while (conv->input_size() < 3) conv->add_input("");
      conv->set_input(2, bname);
    }
    conv->set_output(0, bn.output(0));
    run.Origin(conv->name(), {conv->name(), bn.name()});
    removed.insert(bi);
    run.Count("batchnorms_folded");
    run.Detail(fmt::format("{} folded into {} ({} channels)", bn.name(), conv->name(), m));
  }
  if (removed.empty()) return;
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (int i = 0; i < g->node_size(); ++i) {
    if (!removed.count(i)) *kept.Add() = g->node(i);
  }
  g->mutable_node()->Swap(&kept);
  TopoSort(g);  // the fused Conv now writes what the BN wrote: order stays valid, but be safe
  int r = RemoveUnusedInitializers(g);
  if (r) run.Count("initializers_removed", r);
}

}  // namespace concord::passes
