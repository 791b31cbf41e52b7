#include "campaign/fuzz_oracle.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include "backends/ref_backend.h"
#include "campaign/fuzz_runner.h"
#include "ir/error.h"
#include "ir/tensor_io.h"

namespace concord {
namespace {

int MantissaBits(DType t) {
  switch (t) {
    case DType::kFloat16:
      return 10;
    case DType::kBFloat16:
      return 7;
    case DType::kFloat64:
      return 52;
    default:
      return 23;
  }
}

// The spacing of dtype `t`'s values around |v| (normal range).
double Ulp(double v, DType t) {
  double a = std::max(std::fabs(v), t == DType::kFloat16 ? 6.1e-5 : 1.2e-38);
  return std::ldexp(1.0, std::ilogb(a) - MantissaBits(t));
}

bool IsFloat(DType t) {
  return t == DType::kFloat32 || t == DType::kFloat16 || t == DType::kBFloat16 ||
         t == DType::kFloat64;
}

std::vector<double> AsDoubles(const Tensor& t) {
  std::vector<double> v;
  VisitDType(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNumeric<T>) {
      v.reserve(static_cast<size_t>(t.numel()));
      for (int64_t i = 0; i < t.numel(); ++i) v.push_back(ToDouble(t.data<T>()[i]));
    }
  });
  return v;
}

void SetElement(Tensor* t, int64_t i, double value) {
  VisitDType(t->dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsNumeric<T>) t->data<T>()[i] = FromDouble<T>(value);
  });
}

// Flat offset into a tensor of `shape` broadcast to `out` for output index `flat`.
int64_t BroadcastOffset(const Shape& shape, const Shape& out, int64_t flat) {
  int64_t offset = 0, stride = 1;
  for (size_t k = 0; k < out.size(); ++k) {
    size_t od = out.size() - 1 - k;
    int64_t idx = flat % out[od];
    flat /= out[od];
    if (k < shape.size()) {
      int64_t dim = shape[shape.size() - 1 - k];
      if (dim != 1) offset += idx * stride;
      stride *= dim;
    }
  }
  return offset;
}

Shape BroadcastShape(const Shape& a, const Shape& b) {
  Shape out(std::max(a.size(), b.size()), 1);
  for (size_t k = 0; k < out.size(); ++k) {
    int64_t da = k < a.size() ? a[a.size() - 1 - k] : 1;
    int64_t db = k < b.size() ? b[b.size() - 1 - k] : 1;
    out[out.size() - 1 - k] = std::max(da, db);
  }
  return out;
}

bool CastsToInteger(const onnx::NodeProto& n) {
  for (const auto& a : n.attribute()) {
    if (a.name() != "to") continue;
    auto to = static_cast<DType>(a.i());
    return to == DType::kInt8 || to == DType::kUInt8 || to == DType::kInt16 ||
           to == DType::kUInt16 || to == DType::kInt32 || to == DType::kUInt32 ||
           to == DType::kInt64 || to == DType::kUInt64 || to == DType::kBool;
  }
  return false;
}

// One element of a discontinuous op's input near its discontinuity.
struct NearElement {
  int node = 0, input = 0;
  int64_t index = 0;
  double value = 0, boundary = 0, ulps = 0;
};

const std::set<std::string> kComparisons = {"Less", "Greater", "Equal", "LessOrEqual",
                                            "GreaterOrEqual"};

std::vector<NearElement> NearBoundary(const Model& model, const ValueMap& taps, int ulps) {
  std::vector<NearElement> out;
  auto tensor = [&](const std::string& name) -> const Tensor* {
    auto it = taps.find(name);
    if (name.empty() || it == taps.end() || !it->second.is_tensor()) return nullptr;
    return &it->second.tensor;
  };
  const auto& nodes = model.graph().node();
  for (int ni = 0; ni < nodes.size(); ++ni) {
    const onnx::NodeProto& n = nodes[ni];
    const std::string& op = n.op_type();
    if (n.input_size() == 0) continue;
    const Tensor* x = tensor(n.input(0));
    if (x == nullptr || !IsFloat(x->dtype())) continue;
    std::vector<double> xv = AsDoubles(*x);
    DType dt = x->dtype();
    auto add = [&](int64_t i, double boundary, double scale_of) {
      double d = std::fabs(xv[static_cast<size_t>(i)] - boundary) / Ulp(scale_of, dt);
      if (d <= ulps) out.push_back({ni, 0, i, xv[static_cast<size_t>(i)], boundary, d});
    };
    if (op == "Floor" || op == "Ceil" || (op == "Cast" && CastsToInteger(n))) {
      for (size_t i = 0; i < xv.size(); ++i) {
        double b = std::nearbyint(xv[i]);
        if (op == "Cast" && b == 0) continue;  // truncation is continuous through zero
        add(static_cast<int64_t>(i), b, b);
      }
    } else if (op == "Round") {
      for (size_t i = 0; i < xv.size(); ++i) {
        double b = std::floor(xv[i]) + 0.5;
        if (std::fabs(xv[i] - (b - 1)) < std::fabs(xv[i] - b)) b -= 1;
        add(static_cast<int64_t>(i), b, b);
      }
    } else if (op == "Sign") {
      for (size_t i = 0; i < xv.size(); ++i) add(static_cast<int64_t>(i), 0, 1);
    } else if ((kComparisons.count(op) || op == "Mod") && n.input_size() > 1) {
      const Tensor* y = tensor(n.input(1));
      if (y == nullptr) continue;
      std::vector<double> yv = AsDoubles(*y);
      Shape shape = BroadcastShape(x->shape(), y->shape());
      int64_t total = NumElements(shape);
      std::set<int64_t> seen;
      for (int64_t f = 0; f < total; ++f) {
        int64_t xi = BroadcastOffset(x->shape(), shape, f);
        double a = xv[static_cast<size_t>(xi)],
               b = yv[static_cast<size_t>(BroadcastOffset(y->shape(), shape, f))];
        double boundary = b;
        if (op == "Mod") {
          if (b == 0) continue;
          boundary = b * std::nearbyint(a / b);
          if (boundary == 0) continue;  // fmod is continuous through zero
        }
        double scale = std::max(std::fabs(a), std::fabs(boundary));
        double d = std::fabs(a - boundary) / Ulp(scale, dt);
        if (d <= ulps && seen.insert(xi).second) out.push_back({ni, 0, xi, a, boundary, d});
      }
    } else if (op == "ArgMax" || op == "ArgMin" || op == "TopK") {
      std::vector<std::pair<double, int64_t>> sorted;
      for (size_t i = 0; i < xv.size(); ++i) sorted.push_back({xv[i], static_cast<int64_t>(i)});
      std::sort(sorted.begin(), sorted.end());
      for (size_t i = 0; i + 1 < sorted.size(); ++i) {
        double a = sorted[i].first, b = sorted[i + 1].first;
        double d = std::fabs(b - a) / Ulp(std::max(std::fabs(a), std::fabs(b)), dt);
        if (d <= ulps) {
          out.push_back({ni, 0, sorted[i].second, a, b, d});
          out.push_back({ni, 0, sorted[i + 1].second, b, a, d});
        }
      }
    }
  }
  return out;
}

// A value just across (or on) the boundary: side -1 below, 0 on, +1 above, in x's dtype.
double Across(const NearElement& e, int side, DType dt) {
  if (side == 0) return e.boundary;
  double step = Ulp(e.boundary == 0 ? 1 : e.boundary, dt);
  return e.boundary + side * step;
}

// Every value ref saw: its taps, the graph inputs and the initializers (a comparison of a
// constant with a computed value has its near element in the constant).
ValueMap KnownValues(const Model& model, const ValueMap& inputs, const ValueMap& ref_taps) {
  ValueMap known = ref_taps;
  for (const auto& [name, v] : inputs) known.emplace(name, v);
  for (const auto& init : model.graph().initializer()) {
    if (known.count(init.name())) continue;
    try {
      known.emplace(init.name(), Value(TensorFromProto(init, model.base_dir(), "initializer")));
    } catch (const Error&) {
    }
  }
  return known;
}

// Flat positions where ref's and the env's values of one output differ at all (a superset of
// those beyond tolerance).
std::set<int64_t> DifferingPositions(const Value& want, const Value& got) {
  std::set<int64_t> out;
  if (!want.is_tensor() || !got.is_tensor() || want.tensor.shape() != got.tensor.shape()) {
    return out;
  }
  std::vector<double> a = AsDoubles(want.tensor), b = AsDoubles(got.tensor);
  if (a.size() != b.size()) return out;
  for (size_t i = 0; i < a.size(); ++i) {
    bool same = a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i]));
    if (!same) out.insert(static_cast<int64_t>(i));
  }
  return out;
}

// When more elements are near a boundary than can be tried one by one (a float16 conv of small
// integers puts every output on an integer), keeps those of an element-wise discontinuous op
// whose own output is a graph output differing at that element's position, plus all elements of
// other nodes. Without a graph-output node to narrow by, returns `near` unchanged.
std::vector<NearElement> AtDifferingPositions(const Model& model, const ValueMap& known,
                                              const std::vector<NearElement>& near,
                                              const std::vector<Value>& ref_outputs,
                                              const std::vector<Value>& env_outputs) {
  std::map<std::string, size_t> output_index;
  for (int i = 0; i < model.graph().output_size(); ++i) {
    output_index[model.graph().output(i).name()] = static_cast<size_t>(i);
  }
  std::map<int, std::set<int64_t>> differing;  // node -> differing positions of its output
  std::vector<NearElement> kept;
  for (const NearElement& e : near) {
    const onnx::NodeProto& n = model.graph().node(e.node);
    const std::string& op = n.op_type();
    bool elementwise = op == "Floor" || op == "Ceil" || op == "Round" || op == "Sign" ||
                       op == "Cast" || kComparisons.count(op) > 0 || op == "Mod";
    auto out = n.output_size() > 0 ? output_index.find(n.output(0)) : output_index.end();
    auto x = known.find(n.input(e.input));
    if (!elementwise || out == output_index.end() || out->second >= ref_outputs.size() ||
        out->second >= env_outputs.size() || !ref_outputs[out->second].is_tensor() ||
        x == known.end() || !x->second.is_tensor()) {
      kept.push_back(e);
      continue;
    }
    if (!differing.count(e.node)) {
      differing[e.node] = DifferingPositions(ref_outputs[out->second], env_outputs[out->second]);
    }
    const Shape& out_shape = ref_outputs[out->second].tensor.shape();
    for (int64_t f : differing[e.node]) {
      if (BroadcastOffset(x->second.tensor.shape(), out_shape, f) == e.index) {
        kept.push_back(e);
        break;
      }
    }
  }
  return kept;
}

}  // namespace

std::optional<std::string> BoundaryEffect(const Model& model, const ValueMap& inputs,
                                          const ValueMap& ref_taps,
                                          const std::vector<Value>& env_outputs,
                                          const Tolerance& base_tol, int ulps) {
  const ValueMap known = KnownValues(model, inputs, ref_taps);
  std::vector<NearElement> near = NearBoundary(model, known, ulps);
  if (near.empty()) return std::nullopt;
  // The model with every near-boundary (node, input) fed from a new graph input.
  onnx::ModelProto proto = model.proto();
  std::map<std::pair<int, int>, std::string> fed;
  ValueMap base = inputs;
  for (const NearElement& e : near) {
    auto key = std::make_pair(e.node, e.input);
    if (fed.count(key)) continue;
    onnx::NodeProto* n = proto.mutable_graph()->mutable_node(e.node);
    const std::string original = n->input(e.input);
    std::string name = fmt::format("concord_boundary_{}_{}", e.node, e.input);
    const Tensor& t = known.at(original).tensor;
    auto* vi = proto.mutable_graph()->add_input();
    vi->set_name(name);
    auto* tt = vi->mutable_type()->mutable_tensor_type();
    tt->set_elem_type(static_cast<int32_t>(t.dtype()));
    auto* shape = tt->mutable_shape();
    for (int64_t d : t.shape()) shape->add_dim()->set_dim_value(d);
    n->set_input(e.input, name);
    fed[key] = name;
    base[name] = t;
  }
  std::optional<Model> cut;
  try {
    cut = Model::FromProto(proto, model.base_dir(), "boundary probe");
  } catch (const Error&) {
    return std::nullopt;
  }
  std::vector<Tolerance> tols = OutputTolerances(model, base_tol);
  using Move = std::pair<const NearElement*, int>;  // an element and the side it moves to
  constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  // Output elements of ref, with these elements moved, that still differ from the env's.
  auto mismatches = [&](const std::vector<Move>& moves) -> int64_t {
    ValueMap in = base;
    for (const auto& [e, side] : moves) {
      Tensor& t = in[fed[{e->node, e->input}]].tensor;
      double v = Across(*e, side, t.dtype());
      if (v == e->value) return kNever;  // not moved
      SetElement(&t, e->index, v);
    }
    try {
      auto oracle = PrepareReference(*cut);
      return MismatchCount(oracle->RunWithTaps(in, nullptr), env_outputs, tols);
    } catch (const Error&) {
      return kNever;
    }
  };
  auto describe = [&](const NearElement& e) {
    const onnx::NodeProto& n = model.graph().node(e.node);
    return fmt::format("{} '{}' input[{}] = {:.9g} is {:.2g} ULP from {:.9g}", n.op_type(),
                       n.name(), e.index, e.value, e.ulps, e.boundary);
  };
  auto verdict = [&](size_t moved) {
    return fmt::format("boundary effect: {}{}; ref with {} moved across agrees with the env",
                       describe(near[0]),
                       near.size() > 1 ? fmt::format(" (and {} more)", near.size() - 1) : "",
                       moved == 1 ? "it" : fmt::format("{} of them", moved));
  };
  // All at once, to one side.
  for (int side : {-1, 0, 1}) {
    std::vector<Move> all;
    for (const auto& e : near) all.emplace_back(&e, side);
    if (mismatches(all) == 0) return verdict(all.size());
  }
  // Greedy: elements moved one at a time, each to the side that leaves the fewest differing
  // output elements, kept while that count drops (some near-boundary values flip on the env,
  // others do not: a Softmax over a size-1 axis rounding 1 to 1 - ulp at most positions).
  std::vector<NearElement> few = near;
  if (few.size() > 64) {
    std::vector<Value> ref_outputs;
    for (const auto& o : model.graph().output()) {
      auto it = known.find(o.name());
      ref_outputs.push_back(it == known.end() ? Value{} : it->second);
    }
    few = AtDifferingPositions(model, known, near, ref_outputs, env_outputs);
  }
  if (few.size() <= 64) {
    std::vector<Move> kept;
    int64_t best = mismatches(kept);
    for (const auto& e : few) {
      std::optional<Move> step;
      for (int side : {-1, 0, 1}) {
        std::vector<Move> trial = kept;
        trial.emplace_back(&e, side);
        int64_t n = mismatches(trial);
        if (n < best) {
          best = n;
          step = Move{&e, side};
        }
      }
      if (step) kept.push_back(*step);
      if (best == 0) return verdict(kept.size());
    }
  }
  return std::nullopt;
}

namespace {

int OpWeight(const std::string& op) {
  static const std::set<std::string> zero = {"Identity",
                                             "Reshape",
                                             "Flatten",
                                             "Squeeze",
                                             "Unsqueeze",
                                             "Transpose",
                                             "Concat",
                                             "Split",
                                             "Slice",
                                             "Gather",
                                             "GatherND",
                                             "GatherElements",
                                             "Expand",
                                             "Tile",
                                             "Pad",
                                             "Cast",
                                             "CastLike",
                                             "Shape",
                                             "Size",
                                             "ConstantOfShape",
                                             "Constant",
                                             "DepthToSpace",
                                             "SpaceToDepth",
                                             "Compress",
                                             "ScatterND",
                                             "ScatterElements",
                                             "Where",
                                             "Relu",
                                             "Max",
                                             "Min",
                                             "Abs",
                                             "Neg",
                                             "MaxPool",
                                             "GlobalMaxPool",
                                             "Floor",
                                             "Ceil",
                                             "Round",
                                             "Sign",
                                             "Less",
                                             "Greater",
                                             "Equal",
                                             "LessOrEqual",
                                             "GreaterOrEqual",
                                             "Not",
                                             "And",
                                             "Or",
                                             "Xor",
                                             "ArgMax",
                                             "ArgMin",
                                             "TopK",
                                             "Clip",
                                             "ReduceMax",
                                             "ReduceMin",
                                             "Dropout",
                                             "Trilu",
                                             "OneHot",
                                             "IsNaN",
                                             "IsInf",
                                             "NonZero",
                                             "ReverseSequence"};
  static const std::set<std::string> one = {
      "Add", "Sub", "Mul", "LeakyRelu", "PRelu", "Sum", "ThresholdedRelu", "Shrink"};
  static const std::set<std::string> four = {"MatMul",
                                             "Gemm",
                                             "Conv",
                                             "ConvTranspose",
                                             "ReduceSum",
                                             "ReduceMean",
                                             "ReduceProd",
                                             "ReduceL1",
                                             "ReduceL2",
                                             "ReduceLogSum",
                                             "ReduceLogSumExp",
                                             "ReduceSumSquare",
                                             "AveragePool",
                                             "GlobalAveragePool",
                                             "LpPool",
                                             "BatchNormalization",
                                             "InstanceNormalization",
                                             "LayerNormalization",
                                             "Softmax",
                                             "LogSoftmax",
                                             "CumSum",
                                             "Einsum",
                                             "Mean",
                                             "LpNormalization",
                                             "GroupNormalization"};
  if (zero.count(op)) return 0;
  if (one.count(op)) return 1;
  if (four.count(op)) return 4;
  if (op == "Pow") return 8;
  return 2;  // division, square root, transcendental functions, anything else
}

}  // namespace

std::vector<int> OutputPathWeights(const Model& model) {
  std::map<std::string, int> producer;
  const auto& nodes = model.graph().node();
  for (int i = 0; i < nodes.size(); ++i) {
    for (const auto& o : nodes[i].output()) producer[o] = i;
  }
  std::vector<int> weights;
  for (const auto& out : model.graph().output()) {
    std::set<int> seen;
    std::vector<std::string> stack = {out.name()};
    int w = 0;
    while (!stack.empty()) {
      std::string t = stack.back();
      stack.pop_back();
      auto it = producer.find(t);
      if (it == producer.end() || !seen.insert(it->second).second) continue;
      w += OpWeight(nodes[it->second].op_type());
      for (const auto& in : nodes[it->second].input()) stack.push_back(in);
    }
    weights.push_back(w);
  }
  return weights;
}

std::vector<Tolerance> OutputTolerances(const Model& model, const Tolerance& base) {
  std::vector<Tolerance> out;
  for (int w : OutputPathWeights(model)) {
    if (w == 0) {
      out.push_back(Tolerance{0, 0});
      continue;
    }
    double f = std::clamp(w / 16.0, 1.0 / 16, 4.0);
    out.push_back(Tolerance{base.rtol * f, base.atol * f});
  }
  return out;
}

MeanCI ConfidenceInterval95(const std::vector<double>& s) {
  MeanCI ci;
  if (s.empty()) return ci;
  double sum = 0;
  for (double x : s) sum += x;
  ci.mean = sum / static_cast<double>(s.size());
  ci.lo = ci.hi = ci.mean;
  if (s.size() < 2) return ci;
  double ss = 0;
  for (double x : s) ss += (x - ci.mean) * (x - ci.mean);
  double sd = std::sqrt(ss / static_cast<double>(s.size() - 1));
  // Two-sided 97.5% quantiles of Student's t for 1..10 degrees of freedom, then ~normal.
  static const double t[] = {12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228};
  size_t df = s.size() - 1;
  double q = df <= 10 ? t[df - 1] : (df <= 30 ? 2.1 : 1.96);
  double half = q * sd / std::sqrt(static_cast<double>(s.size()));
  ci.lo = ci.mean - half;
  ci.hi = ci.mean + half;
  return ci;
}

PerfVerdict JudgePerf(const std::vector<double>& env_ms, const std::vector<double>& ref_ms,
                      double threshold) {
  PerfVerdict v;
  std::vector<double> scaled;
  for (double r : ref_ms) scaled.push_back(r * threshold);
  v.env = ConfidenceInterval95(env_ms);
  v.scaled_ref = ConfidenceInterval95(scaled);
  v.confirmed = env_ms.size() >= 3 && ref_ms.size() >= 3 && v.env.lo > v.scaled_ref.hi;
  return v;
}

std::vector<std::string> RootCauseNodes(const Model& model) {
  std::vector<std::string> kinds = NodeKinds(model);
  std::set<std::string> out(kinds.begin(), kinds.end());
  return {out.begin(), out.end()};
}

std::vector<std::string> NodeKinds(const Model& model) {
  std::vector<std::string> dtypes = FirstInputDTypes(model);
  std::vector<std::string> out;
  for (int i = 0; i < model.graph().node_size(); ++i) {
    const auto& n = model.graph().node(i);
    const std::string& dtype = dtypes[static_cast<size_t>(i)];
    std::vector<std::string> attrs;
    for (const auto& a : n.attribute()) {
      // Modes and flags pick a code path; float hyperparameters (alpha, epsilon) and shape-like
      // lists (axes, perm, pads) vary from one generated model to the next.
      if (a.type() == onnx::AttributeProto::STRING) {
        attrs.push_back(a.name() + "=" + a.s());
      } else if (a.name() == "to") {
        attrs.push_back(std::string("to=") + DTypeName(static_cast<DType>(a.i())));
      } else if (a.type() == onnx::AttributeProto::INT && a.i() >= 0 && a.i() <= 1 &&
                 a.name() != "axis") {
        attrs.push_back(fmt::format("{}={}", a.name(), a.i()));
      }
    }
    std::sort(attrs.begin(), attrs.end());
    out.push_back(fmt::format("{}[{}]:{}", n.op_type(), fmt::join(attrs, ","), dtype));
  }
  return out;
}

std::set<std::string> GeneralisedNodes(const Model& model, const std::vector<int>& incidental) {
  std::vector<std::string> kinds = NodeKinds(model);
  std::set<std::string> out;
  for (size_t i = 0; i < kinds.size(); ++i) {
    bool any =
        std::find(incidental.begin(), incidental.end(), static_cast<int>(i)) != incidental.end();
    // The wildcard keeps the node's element type: a repro whose every node is incidental (a
    // runtime that gets Neg of an int64 constant wrong) is still told apart by dtype.
    out.insert(any ? std::string(kAnyNode) + kinds[i].substr(kinds[i].rfind(':')) : kinds[i]);
  }
  return out;
}

bool IsGeneralised(const std::set<std::string>& nodes) {
  return std::any_of(nodes.begin(), nodes.end(),
                     [](const std::string& n) { return n.rfind(kAnyNode, 0) == 0; });
}

std::string RuntimeOf(const std::string& env) {
  size_t comma = env.find(',');
  std::string out = env.substr(0, comma);
  while (comma != std::string::npos) {
    size_t next = env.find(',', comma + 1);
    std::string opt = env.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
    std::string key = opt.substr(0, opt.find('='));
    if (key != "opt" && key != "tune" && key != "threads" && key != "xnnpack") out += "," + opt;
    comma = next;
  }
  return out;
}

namespace {

// The class of an error message: normalised, the env's worker prefix and every parenthesised
// or bracketed part (shapes, types, paths) taken out, cut at the end of its first sentence.
std::string MessageClass(const std::string& message) {
  std::string text = NormalizeMessage(message.substr(0, 2000));
  for (const char* prefix : {"worker (pid N): ", "worker (pid N) "}) {
    size_t p = text.find(prefix);
    if (p != std::string::npos) text = text.substr(p + std::string(prefix).size());
  }
  std::string out;
  int depth = 0;
  for (char c : text) {
    if (c == '(' || c == '[' || c == '{') {
      if (depth++ == 0) out += "()";
      continue;
    }
    if ((c == ')' || c == ']' || c == '}') && depth > 0) {
      --depth;
      continue;
    }
    if (depth == 0) out += c;
  }
  size_t stop = out.find(". ");
  if (stop != std::string::npos) out = out.substr(0, stop);
  return out.substr(0, 200);
}

}  // namespace

std::string SymptomClass(const std::string& symptom, const std::string& message) {
  if (symptom == "inconsistent") return "wrong value";
  if (symptom == "crash") {
    // The signal and the phase (prepare / run) it died in.
    std::string first = message.substr(0, message.find('\n'));
    std::string signal = "died";
    size_t sig = first.find("SIG");
    if (sig != std::string::npos) {
      size_t end = sig;
      while (end < first.size() && std::isalnum(static_cast<unsigned char>(first[end]))) ++end;
      signal = first.substr(sig, end - sig);
    } else if (first.find("exit") != std::string::npos) {
      signal = "exit";
    }
    std::string phase = first.find("during prepare") != std::string::npos ? "prepare"
                        : first.find("during run") != std::string::npos   ? "run"
                                                                          : "";
    return "crash: " + signal + (phase.empty() ? "" : " during " + phase);
  }
  if (symptom == "error") return "error: " + MessageClass(message);
  return symptom;  // timeout, perf, and the labels
}

namespace {

std::set<std::string> Concrete(const std::set<std::string>& nodes) {
  std::set<std::string> out;
  for (const auto& n : nodes) {
    if (n.rfind(kAnyNode, 0) != 0) out.insert(n);
  }
  return out;
}

}  // namespace

bool Explains(const RootCauseSignature& a, const RootCauseSignature& b) {
  if (a.symptom_class != b.symptom_class) return false;
  // Another configuration of the same runtime (opt level, tuning, threads, delegate): the same
  // node kinds failing the same way are the runtime's one defect.
  if (a.env != b.env) return RuntimeOf(a.env) == RuntimeOf(b.env) && a.nodes == b.nodes;
  const std::set<std::string> ac = Concrete(a.nodes);
  if (ac.empty()) return a.nodes == b.nodes;  // only wildcards: nothing to contain
  // A generalised repro's remaining kinds are each needed (replacing one made the env agree):
  // only a cause needing exactly those kinds explains it.
  if (IsGeneralised(b.nodes)) return ac == Concrete(b.nodes);
  if (std::includes(b.nodes.begin(), b.nodes.end(), ac.begin(), ac.end())) return true;
  // A failure whose message class already names the failing check: one shared node kind is
  // enough (a dtype leak fails on whichever op follows it).
  if (a.symptom_class.rfind("error:", 0) != 0 && a.symptom_class.rfind("crash:", 0) != 0) {
    return false;
  }
  return std::any_of(ac.begin(), ac.end(),
                     [&](const std::string& n) { return b.nodes.count(n) > 0; });
}

bool IsLabelSymptom(const std::string& symptom) {
  return symptom == "undefined" || symptom == "boundary" || symptom == "perf_unconfirmed";
}

}  // namespace concord
