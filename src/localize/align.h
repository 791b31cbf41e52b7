// Tensor alignment between a source model and a target model (a conversion of it, or the same
// model on another env), and the divergence metrics of each aligned pair.
//
// Alignment uses the values of tapped runs of both models on the same input sets. A target
// tensor is aligned to a source tensor, in this order:
//   input     graph input K <-> graph input K (position);
//   name      same tensor name, shapes equal or equal up to NCHW<->NHWC — unless that pair
//             diverges and another source tensor holds the target's values, which wins (a
//             fault that moved a name onto a different tensor);
//   map       the target's concord.name_map (passes/pass.h): a renamed tensor <-> its original;
//             else output K of a target node <-> output K of the source node it came from (of
//             the last of its originals for a fused node; an inserted Transpose/Cast/QDQ, whose
//             map entry names the node it serves, pairs with nothing). A pair that diverges
//             stands (the fault is there) when it is specific: a tensor rename, or the only
//             target node listing that original (or the only one of its op type) — unless
//             another source tensor holds the target's values, which wins as for names;
//   layer     the node's framework layer (layer_names.h: torch module path, Keras layer) and op
//             type name exactly one node on each side (another exporter of the same source:
//             TorchScript scopes vs the dynamo exporter's name scopes): output K <-> output K,
//             standing when it diverges unless another source tensor holds the target's values;
//   weights   the weight fingerprint of a Conv/ConvTranspose/Gemm/MatMul: the one source node
//             whose weight (input 1) equals the target's within float16 rounding, or up to
//             layout (OIHW/OHWI/HWIO, kh/kw or a 2-D transpose) or a BatchNorm folded in, each
//             side unique: output K <-> output K, standing when it diverges unless another
//             source tensor holds the values (a folded BatchNorm's output): stripped names,
//             Convs reading the same tensor;
//   output    graph output K <-> graph output K (position) when names differ;
//   structure the producing nodes have the same op type and their activation inputs are
//             aligned to each other, input by input (a zero Pad before a Conv looked through
//             on either side: converters fold it into the Conv's pads or put it before one,
//             TFLite as an NHWC Pad and a Transpose; such padded tensors are not paired with a
//             same-named source tensor of another shape);
//   value     some source tensor of the same element count holds the same values within
//             tolerance on every input set (fused/split nodes, Identity, renamed graphs);
//   folded    (a Conv/ConvTranspose/Gemm/MatMul whose pair by map, layer, weights or structure
//             diverges, with no source tensor holding its values) the end of the source node's
//             per-channel affine tail (BatchNormalization, Mul/Add/Sub/Div by a static tensor)
//             when that is nearer than the node's own output: a BatchNorm the target folded in,
//             under float16 or quantized weights where nothing agrees within tolerance;
//   order     FetaFix's anchor order, last: the i-th target node of an anchor op type (Conv,
//             Gemm, MatMul, pooling, BatchNormalization, Softmax, Concat, Resize) <-> the i-th
//             of the source when both have as many.
// Static tensors (initializers, Constant outputs and anything computed only from them) are
// parameters, not activations: they are not aligned here; localize compares them per node.
// Nothing here throws on mismatching tensors: dtype/shape mismatches are divergences.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "compare/compare.h"
#include "ir/graph_edit.h"

namespace concord::localize {

// The main-graph index of a model (producers, consumers, inputs, outputs: ir/graph_edit.h)
// plus which of its tensors are static. `model` must outlive the index.
struct ModelIndex : GraphIndex {
  explicit ModelIndex(const Model& model);
  const Model* model;
  std::set<std::string> statics;  // initializers, Constant outputs, nodes of static inputs only
  const onnx::NodeProto& node(int i) const { return model->graph().node(i); }
  bool IsStatic(const std::string& name) const { return statics.count(name) > 0; }
  // Non-empty, non-static inputs of node i, with their input positions.
  std::vector<std::pair<int, std::string>> ActivationInputs(int i) const;
};

// The values one side produced: per input set, graph inputs and every tapped tensor.
struct SideValues {
  std::vector<ValueMap> sets;
  std::vector<std::vector<Value>> outputs;  // per set, in graph output order
  bool has_taps = false;
  const Value* Find(size_t set, const std::string& name) const;
};

struct Divergence {
  bool compared = false;  // false: values missing on a side
  bool agree = false;
  bool shape_mismatch = false;
  bool dtype_mismatch = false;
  std::string layout;  // "" or "target NHWC" / "target NCHW" when a permutation was applied
  double max_abs = 0;
  double max_rel = 0;
  double cosine = 1;
  double mismatch_fraction = 0;  // elements beyond tolerance / elements
  double rel_l2 = 0;             // ||target - source|| / ||source|| (0 when both are zero)
  std::string message;
};

// A rank-4 tensor permuted NHWC -> NCHW (to_nchw) or NCHW -> NHWC, dtype kept (not strings).
Tensor PermuteLayout(const Tensor& t, bool to_nchw);

// Source value vs target value (target permuted NHWC<->NCHW when that makes shapes equal; float
// dtypes compared in double). Sequences compare element-wise; none vs none agrees.
Divergence Measure(const Value& source, const Value& target, const Tolerance& tol);
// Worst case over input sets: max of the error figures, min cosine, agree only if all agree.
void Accumulate(Divergence* acc, const Divergence& d);

struct Alignment {
  std::string source;  // source tensor name
  std::string method;  // input, name, map, layer, weights, output, structure, value, folded,
                       // order
  Divergence div;      // aggregated over input sets
};

// Conv, ConvTranspose, Gemm, MatMul: the ops whose input 1 is a weight (fingerprinted here,
// restored by repair).
bool IsWeightOp(const std::string& op_type);

// Whether source node i is one step of a per-channel affine tail reading activation `in`: a
// BatchNormalization of it, or a Mul/Add/Sub/Div of it and a static tensor.
bool AffineStep(const ModelIndex& m, int i, const std::string& in);
// The head of the affine tail that ends at tensor t: the producer of the first tensor before
// any AffineStep nodes (t's own producer when none); -1 when t has no producer.
int AffineHead(const ModelIndex& m, const std::string& t);

// A static tensor's value: the initializer of that name, else its tapped value on set 0 (a
// Constant output, or a tensor computed from statics only); false when neither exists.
bool StaticValue(const Model& m, const SideValues& v, const std::string& name, Tensor* out);

// Target tensor name -> its alignment; unaligned target tensors are absent.
std::map<std::string, Alignment> AlignTensors(const ModelIndex& src, const SideValues& sv,
                                              const ModelIndex& tgt, const SideValues& tv,
                                              const Tolerance& tol);

}  // namespace concord::localize
