// The NNSmith-style generator (symbolic mode): a pool of tensors with z3 dims, op specs inserted
// while the constraint set stays satisfiable, random value hints for variety, one z3 model,
// concretization, validation (ONNX checker + shape inference agreeing with our shapes, a ref
// run with no error and no NaN/Inf in any value; a NaN/Inf first gets a value search that keeps
// the graph, validate.h) and retries with derived seeds.
#include "gen/generator.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "gen/concretize.h"
#include "gen/spec.h"
#include "gen/validate.h"

namespace concord::gen {
namespace {

constexpr double kInf = INFINITY;
constexpr int kMaxAttempts = 24;
constexpr unsigned kRlimit = 2000000;  // z3 resource limit per check (deterministic, unlike time)

class Builder : public BuildContext {
 public:
  Builder(const GenOptions& opt, uint64_t seed) : opt_(opt), rng_(seed), solver_(ctx_) {
    z3::params p(ctx_);
    p.set("random_seed", 0u);
    p.set("rlimit", kRlimit);
    solver_.set(p);
  }

  Rng& rng() override { return rng_; }
  z3::context& z3ctx() override { return ctx_; }

  bool DTypeOk(const std::string& op, DType dt) const {
    std::string name = GenDTypeName(dt);
    if (opt_.mode == "opencv" && opt_.dtypes.empty() && name != "float32") return false;
    if (!opt_.dtypes.empty() &&
        std::find(opt_.dtypes.begin(), opt_.dtypes.end(), name) == opt_.dtypes.end()) {
      return false;
    }
    return !opt_.exclude.count({op, name}) && !opt_.exclude.count({op, DTypeName(dt)});
  }

  std::vector<DType> Allowed(const std::string& op, const std::vector<DType>& cands) override {
    std::vector<DType> out;
    for (DType d : cands) {
      if (DTypeOk(op, d)) out.push_back(d);
    }
    return out;
  }

  int Pick(DType dtype, int rmin, int rmax) override {
    if (preferred_ >= 0) {  // patterns: the first operand that fits is the previous op's output
      const TensorInfo& p = g_.tensors[static_cast<size_t>(preferred_)];
      if (p.dtype == dtype && p.rank() >= rmin && p.rank() <= rmax) {
        ++op_picks_;
        return std::exchange(preferred_, -1);
      }
    }
    if (opt_.mode == "opencv") {
      if (rmin <= 4) return PickForOpenCv(dtype, rmin, rmax);
      rejected_ = true;  // OpenCV's blobs have rank <= 4
    }
    std::vector<int> nodes, inputs;
    for (size_t i = 0; i < g_.tensors.size(); ++i) {
      const TensorInfo& t = g_.tensors[i];
      if (t.dtype != dtype || t.rank() < rmin || t.rank() > rmax) continue;
      if (t.kind == TensorKind::kNode) nodes.push_back(static_cast<int>(i));
      if (t.kind == TensorKind::kInput) inputs.push_back(static_cast<int>(i));
    }
    if (!nodes.empty() && Coin(rng_, 0.75)) return RandPick(rng_, nodes);
    if (!inputs.empty() && Coin(rng_, 0.5)) return RandPick(rng_, inputs);
    int rank = static_cast<int>(RandInt(rng_, rmin, rmax));
    if (Coin(rng_, 0.7)) return NewInput(dtype, rank);
    std::vector<z3::expr> dims;
    for (int i = 0; i < rank; ++i) dims.push_back(Var(1, DimBound(rank)));
    auto [lo, hi] = DefaultRange(dtype);
    return NewWeight(dtype, dims, lo, hi);
  }

  bool HasInput() const {
    return std::any_of(g_.tensors.begin(), g_.tensors.end(),
                       [](const TensorInfo& t) { return t.kind == TensorKind::kInput; });
  }

  // Whether tensor `id` depends on the graph input (OpenCV's importer gives a layer whose data
  // operand is a constant no input blob: "inputs.size()" fails in getMemoryShapes).
  bool IsDynamic(int id) const {
    const TensorInfo& t = g_.tensors[static_cast<size_t>(id)];
    if (t.kind == TensorKind::kInput) return true;
    if (t.kind != TensorKind::kNode) return false;
    for (const NodeSpec& n : g_.nodes) {
      if (std::find(n.outputs.begin(), n.outputs.end(), id) == n.outputs.end()) continue;
      return std::any_of(n.inputs.begin(), n.inputs.end(),
                         [&](int in) { return in >= 0 && IsDynamic(in); });
    }
    return false;
  }

  // Mode "opencv", shaped like what OpenCV's ONNX importer takes: one graph input, rank <= 4,
  // the network grows from it (node outputs first), every other operand a constant weight. An
  // op's first operand (its data) is always the input or a node output computed from it; when
  // none fits, the op is not placed.
  int PickForOpenCv(DType dtype, int rmin, int rmax) {
    rmax = std::min(rmax, 4);
    rmin = std::min(std::max(rmin, 1), rmax);  // its blobs have at least one dim
    if (op_picks_++ == 0) {
      std::vector<int> dynamic;
      bool has_input = false;
      for (size_t i = 0; i < g_.tensors.size(); ++i) {
        const TensorInfo& t = g_.tensors[i];
        has_input |= t.kind == TensorKind::kInput;
        if (t.dtype != dtype || t.rank() < rmin || t.rank() > rmax) continue;
        if (IsDynamic(static_cast<int>(i))) dynamic.push_back(static_cast<int>(i));
      }
      if (!dynamic.empty()) return RandPick(rng_, dynamic);
      if (!has_input) {
        int lo = std::min(std::max(rmin, 2), rmax);
        return NewInput(dtype, static_cast<int>(RandInt(rng_, lo, rmax)));
      }
      rejected_ = true;  // no data operand of this dtype and rank: the op does not fit
    }
    std::vector<int> nodes, inputs;
    for (size_t i = 0; i < g_.tensors.size(); ++i) {
      const TensorInfo& t = g_.tensors[i];
      if (t.kind == TensorKind::kInput) inputs.push_back(static_cast<int>(i));
      if (t.dtype != dtype || t.rank() < rmin || t.rank() > rmax) continue;
      if (t.kind == TensorKind::kNode) nodes.push_back(static_cast<int>(i));
    }
    if (!nodes.empty() && Coin(rng_, 0.85)) return RandPick(rng_, nodes);
    int rank = static_cast<int>(RandInt(rng_, std::max(rmin, 2), std::max(rmax, 2)));
    if (inputs.empty()) return NewInput(dtype, std::min(rank, rmax));
    for (int i : inputs) {  // the one input, where it fits
      const TensorInfo& t = g_.tensors[static_cast<size_t>(i)];
      if (t.dtype == dtype && t.rank() >= rmin && t.rank() <= rmax && Coin(rng_, 0.5)) return i;
    }
    std::vector<z3::expr> dims;
    rank = std::min(rank, rmax);
    for (int i = 0; i < rank; ++i) dims.push_back(Var(1, DimBound(rank)));
    auto [lo, hi] = DefaultRange(dtype);
    return NewWeight(dtype, dims, lo, hi);
  }

  static std::pair<double, double> DefaultRange(DType dt) {
    if (IsFloating(dt)) return {-1, 1};
    if (dt == DType::kBool) return {0, 1};
    return {-8, 8};
  }

  int Add(TensorInfo t) {
    g_.tensors.push_back(std::move(t));
    return static_cast<int>(g_.tensors.size()) - 1;
  }

  int NewInput(DType dtype, int rank) override {
    if (opt_.mode == "opencv" && HasInput()) {  // one graph input; the rest are weights
      std::vector<z3::expr> dims;
      for (int i = 0; i < rank; ++i) dims.push_back(Var(1, DimBound(rank)));
      auto [lo, hi] = DefaultRange(dtype);
      return NewWeight(dtype, dims, lo, hi);
    }
    TensorInfo t;
    t.dtype = dtype;
    t.kind = TensorKind::kInput;
    for (int i = 0; i < rank; ++i) t.dims.push_back(Var(1, DimBound(rank)));
    std::tie(t.lo, t.hi) = DefaultRange(dtype);
    return Add(std::move(t));
  }

  int NewWeight(DType dtype, std::vector<z3::expr> dims, double lo, double hi) override {
    Bound(dims);
    TensorInfo t;
    t.dtype = dtype;
    t.kind = TensorKind::kWeight;
    t.dims = std::move(dims);
    t.lo = lo;
    t.hi = hi;
    return Add(std::move(t));
  }

  int NewIntConst(std::vector<z3::expr> values) override {
    TensorInfo t;
    t.dtype = DType::kInt64;
    t.kind = TensorKind::kIntConst;
    t.dims = {Int(static_cast<int64_t>(values.size()))};
    t.values = std::move(values);
    return Add(std::move(t));
  }

  int NewIndex(std::vector<z3::expr> dims, z3::expr bound) override {
    TensorInfo t;
    t.dtype = DType::kInt64;
    t.kind = TensorKind::kIndex;
    t.dims = std::move(dims);
    t.index_bound = {bound};
    return Add(std::move(t));
  }

  z3::expr Var(int64_t lo, int64_t hi) override {
    z3::expr v = ctx_.int_const(fmt::format("v{}", var_counter_++).c_str());
    solver_.add(v >= Int(lo) && v <= Int(hi));
    vars_.push_back({v, lo, hi});
    return v;
  }

  void Require(const z3::expr& c) override { solver_.add(c); }

  bool Fix(const std::vector<z3::expr>& dims, std::vector<int64_t>* values) override {
    values->clear();
    if (dims.empty()) return true;
    solver_.push();  // try random values first, else any model
    for (const auto& d : dims) solver_.add(d == Int(RandInt(rng_, 1, 8)));
    bool hinted = solver_.check() == z3::sat;
    if (!hinted) {
      solver_.pop();
      if (solver_.check() != z3::sat) return false;
    }
    z3::model m = solver_.get_model();
    for (const auto& d : dims) values->push_back(m.eval(d, true).get_numeral_int64());
    if (hinted) solver_.pop();
    for (size_t i = 0; i < dims.size(); ++i) solver_.add(dims[i] == Int((*values)[i]));
    return true;
  }

  void Bound(const std::vector<z3::expr>& dims) {
    int64_t b = DimBound(static_cast<int>(dims.size()));
    for (const auto& d : dims) solver_.add(d >= 1 && d <= Int(b));
  }

  std::vector<int> Emit(const std::string& op, std::vector<int> inputs,
                        std::vector<std::pair<DType, std::vector<z3::expr>>> outputs,
                        std::vector<AttrSpec> attrs) override {
    NodeSpec n;
    n.op_type = op;
    for (int in : inputs) {
      if (in < 0) continue;
      const TensorInfo& t = g_.tensors[static_cast<size_t>(in)];
      if (t.kind != TensorKind::kIntConst && t.kind != TensorKind::kIndex &&
          !DTypeOk(op, t.dtype)) {
        rejected_dtype_ = true;
      }
    }
    if (opt_.mode == "opencv") FitForOpenCv(op, inputs, outputs, &attrs);
    n.inputs = std::move(inputs);
    n.attrs = std::move(attrs);
    for (auto& [dt, dims] : outputs) {
      if (!DTypeOk(op, dt)) rejected_dtype_ = true;
      Bound(dims);
      TensorInfo t;
      t.dtype = dt;
      t.dims = std::move(dims);
      n.outputs.push_back(Add(std::move(t)));
    }
    g_.nodes.push_back(std::move(n));
    return g_.nodes.back().outputs;
  }

  // What OpenCV 4.6's importer asks beyond the ONNX spec: axes spelled non-negative (its
  // normalize_axis rejects some negative ones) and Flatten's axis below the rank, element-wise
  // operands of one shape (a constant one may instead be all ones), a constant MatMul operand
  // 2-D, Split into equal parts, InstanceNormalization with an explicit epsilon. A node that
  // cannot meet them is not placed.
  void FitForOpenCv(const std::string& op, const std::vector<int>& inputs,
                    const std::vector<std::pair<DType, std::vector<z3::expr>>>& outputs,
                    std::vector<AttrSpec>* attrs) {
    int64_t rank = 0;
    if (op == "Unsqueeze" && !outputs.empty()) {
      rank = static_cast<int64_t>(outputs[0].second.size());
    } else if (!inputs.empty() && inputs[0] >= 0) {
      rank = tensor(inputs[0]).rank();
    }
    for (AttrSpec& a : *attrs) {
      if (a.name != "axis" && a.name != "axes") continue;
      for (z3::expr& v : a.ints) {
        if (v.is_numeral() && v.get_numeral_int64() < 0) v = Int(v.get_numeral_int64() + rank);
      }
    }
    if (op == "Flatten") {  // normalize_axis wants axis < rank
      for (const AttrSpec& a : *attrs) {
        if (a.name == "axis" && a.ints.size() == 1 && a.ints[0].is_numeral() &&
            a.ints[0].get_numeral_int64() >= rank) {
          rejected_ = true;
        }
      }
    }
    static const std::set<std::string> eltwise = {"Add", "Sub", "Mul", "Div",
                                                  "Pow", "Max", "Min", "Sum"};
    if (eltwise.count(op) && inputs.size() >= 2 && inputs[0] >= 0) {
      // Its eltwise layer takes operands of one shape, or a constant scalar-like operand.
      const TensorInfo& a = tensor(inputs[0]);
      for (size_t k = 1; k < inputs.size(); ++k) {
        const TensorInfo& b = tensor(inputs[k]);
        z3::expr ones = Int(1) == Int(1), same = Int(1) == Int(1);
        for (const auto& d : b.dims) ones = ones && d == Int(1);
        if (b.rank() == a.rank()) {
          for (size_t i = 0; i < b.dims.size(); ++i) same = same && b.dims[i] == a.dims[i];
        } else {
          same = Int(0) == Int(1);
        }
        Require(IsDynamic(inputs[k]) ? same : (same || ones));
      }
    }
    if (op == "MatMul" && inputs.size() > 1 && !IsDynamic(inputs[1]) &&
        tensor(inputs[1]).rank() != 2) {
      rejected_ = true;  // a constant right operand is transposed as a 2-D matrix
    }
    if (op == "Split" && inputs.size() > 1 && inputs[1] >= 0) {
      const auto& parts = tensor(inputs[1]).values;
      for (size_t i = 1; i < parts.size(); ++i) Require(parts[i] == parts[0]);
    }
    if (op == "InstanceNormalization" &&
        std::none_of(attrs->begin(), attrs->end(),
                     [](const AttrSpec& a) { return a.name == "epsilon"; })) {
      AttrSpec eps;
      eps.name = "epsilon";
      eps.kind = AttrSpec::Kind::kFloat;
      eps.f = 1e-5f;
      attrs->push_back(eps);
    }
  }

  const TensorInfo& tensor(int id) const override { return g_.tensors.at(static_cast<size_t>(id)); }

  int Guard(int id, double lo, double hi) override {
    TensorInfo& t = g_.tensors.at(static_cast<size_t>(id));
    if (t.kind == TensorKind::kInput || t.kind == TensorKind::kWeight) {
      double nlo = std::max(t.lo, lo), nhi = std::min(t.hi, hi);
      if (nlo <= nhi) {
        t.lo = nlo;
        t.hi = nhi;
        return id;
      }
    }
    DType dt = t.dtype;
    auto dims = t.dims;
    if (hi == kInf && lo >= 0) {
      int a = Emit("Abs", {id}, {{dt, dims}}, {})[0];
      if (lo == 0) return a;
      int c = NewWeight(dt, {}, lo, lo);
      return Emit("Add", {a, c}, {{dt, dims}}, {})[0];
    }
    if (lo >= -1 && hi <= 1 && IsFloating(dt)) {
      int a = Emit("Tanh", {id}, {{dt, dims}}, {})[0];
      if (lo > -1 || hi < 1) {
        int mn = NewWeight(dt, {}, lo, lo), mx = NewWeight(dt, {}, hi, hi);
        a = Emit("Clip", {a, mn, mx}, {{dt, dims}}, {})[0];
      }
      return a;
    }
    return id;
  }

  // Grows the graph; false when not a single node could be placed. Mode "patterns" places
  // whole chains that compilers rewrite (PatternChains), each op fed the previous one's output
  // where its operand fits; "random" one op at a time.
  bool Grow() {
    std::vector<const OpSpec*> specs;
    for (const OpSpec& s : AllSpecs()) {
      // OpenCV 4.6 imports ReduceSum only up to opset 12 (axes became an input in 13).
      if (opt_.mode == "opencv" && s.op_type == "ReduceSum") continue;
      if (opt_.ops.empty() ||
          std::find(opt_.ops.begin(), opt_.ops.end(), s.op_type) != opt_.ops.end()) {
        specs.push_back(&s);
      }
    }
    if (specs.empty()) {
      Fail(ErrorKind::kUsage, "gen: none of the requested ops ({}) is known; known ops: {}",
           fmt::join(opt_.ops, ","), fmt::join(KnownOps(), ","));
    }
    // OpenCV models are mostly image networks: an NCHW input, unless --dtypes rules float out.
    if (opt_.mode == "opencv" && DTypeOk("", DType::kFloat32) && Coin(rng_, 0.75)) {
      NewInput(DType::kFloat32, 4);
    }
    int budget = std::max(8, opt_.max_nodes * 10);
    // Patterns mode mixes in single ops (a quarter of the steps, and whenever --ops leaves
    // nothing of the chain drawn), so every allowed op still appears; opencv mode grows the
    // chains OpenCV fuses (conv+bn+activation, ...) half of the time.
    double single = opt_.mode == "patterns" ? 0.25 : opt_.mode == "opencv" ? 0.5 : 1.0;
    while (static_cast<int>(g_.nodes.size()) < opt_.max_nodes && budget-- > 0) {
      if (single >= 1.0 || Coin(rng_, single) ||
          !GrowChain(specs, RandPick(rng_, PatternChains()))) {
        TryPlace(PickSpec(specs));
      }
    }
    return !g_.nodes.empty();
  }

  // A uniform pick, or one weighted by GenOptions::op_weights (coverage feedback).
  const OpSpec& PickSpec(const std::vector<const OpSpec*>& specs) {
    if (opt_.op_weights.empty()) return *RandPick(rng_, specs);
    std::vector<double> w;
    double total = 0;
    for (const OpSpec* s : specs) {
      auto it = opt_.op_weights.find(s->op_type);
      w.push_back(it == opt_.op_weights.end() ? 1.0 : std::max(it->second, 0.0));
      total += w.back();
    }
    if (total <= 0) return *RandPick(rng_, specs);
    double r = RandUnit(rng_) * total;
    for (size_t i = 0; i < specs.size(); ++i) {
      if (r < w[i]) return *specs[i];
      r -= w[i];
    }
    return *specs.back();
  }

  // Places `spec` (all or nothing); the output of its last node, or -1.
  int TryPlace(const OpSpec& spec) {
    SymGraph saved = g_;
    size_t nvars = vars_.size();
    rejected_dtype_ = false;
    rejected_ = false;
    op_picks_ = 0;
    solver_.push();
    bool ok = spec.build(*this) && !rejected_dtype_ && !rejected_ &&
              static_cast<int>(g_.nodes.size()) <= opt_.max_nodes && solver_.check() == z3::sat;
    if (!ok) {
      solver_.pop();
      g_ = std::move(saved);
      vars_.erase(vars_.begin() + static_cast<std::ptrdiff_t>(nvars), vars_.end());
      return -1;
    }
    const NodeSpec& last = g_.nodes.back();
    return last.outputs.empty() ? -1 : last.outputs.front();
  }

  // One chain: each op (skipped when --ops leaves it out or it cannot be placed) gets the
  // previous op's output as its first fitting operand. False when none of its ops is allowed.
  bool GrowChain(const std::vector<const OpSpec*>& specs, const std::vector<std::string>& chain) {
    int last = -1;
    bool any = false;
    for (const std::string& op : chain) {
      if (static_cast<int>(g_.nodes.size()) >= opt_.max_nodes) break;
      auto it = std::find_if(specs.begin(), specs.end(),
                             [&](const OpSpec* s) { return s->op_type == op; });
      if (it == specs.end()) continue;
      any = true;
      preferred_ = last;
      int out = TryPlace(**it);
      preferred_ = -1;
      if (out >= 0) last = out;
    }
    return any;
  }

  // Random value hints (in small batches) so that shapes are not all minimal, then the model.
  z3::model Solve() {
    std::vector<size_t> order(vars_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    for (size_t i = order.size(); i > 1; --i) {
      std::swap(order[i - 1],
                order[static_cast<size_t>(RandInt(rng_, 0, static_cast<int64_t>(i) - 1))]);
    }
    const size_t kBatch = 4;
    for (size_t b = 0; b < order.size(); b += kBatch) {
      solver_.push();
      for (size_t i = b; i < std::min(order.size(), b + kBatch); ++i) {
        const VarInfo& v = vars_[order[i]];
        int64_t hi = std::min<int64_t>(v.hi, v.lo + 8);
        solver_.add(v.var == Int(RandInt(rng_, v.lo, hi)));
      }
      if (solver_.check() != z3::sat) solver_.pop();
    }
    if (solver_.check() != z3::sat) {
      Fail(ErrorKind::kInternal, "gen: constraints became unsatisfiable after they were sat");
    }
    return solver_.get_model();
  }

  const SymGraph& graph() const { return g_; }

 private:
  struct VarInfo {
    z3::expr var;
    int64_t lo, hi;
  };
  const GenOptions& opt_;
  Rng rng_;
  z3::context ctx_;
  z3::solver solver_;
  SymGraph g_;
  std::vector<VarInfo> vars_;
  uint64_t var_counter_ = 0;
  bool rejected_dtype_ = false;
  bool rejected_ = false;  // opencv: no data operand fits
  int op_picks_ = 0;       // operands picked for the op being placed
  int preferred_ = -1;     // patterns: the tensor Pick hands out first
};

}  // namespace

GeneratedModel Generate(const GenOptions& options) {
  if (options.max_nodes < 1) Fail(ErrorKind::kUsage, "gen: --max-nodes must be >= 1");
  GeneratedModel result;
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    uint64_t seed = attempt == 0 ? options.seed : Mix(options.seed * 1000003ull + attempt);
    std::string reason;
    try {
      Builder b(options, seed);
      if (!b.Grow()) {
        reason = "no op could be placed";
      } else {
        z3::model m = b.Solve();
        uint64_t value_seed = Mix(seed ^ 0x5eedull);
        std::string name = fmt::format("concord_gen_{}", options.seed);
        Concrete c = Concretize(b.graph(), m, value_seed, name);
        Model model;
        Verdict v = Validate(c, &model);
        int steps = 0;
        if (!v.nonfinite_tensor.empty() && options.value_search_steps > 0) {
          SearchResult s =
              SearchValues(b.graph(), m, value_seed, name, v, options.value_search_steps);
          steps = s.steps;
          if (s.found) {
            c = std::move(s.concrete);
            model = std::move(s.model);
            v = Verdict{};
          } else {
            v.reason += fmt::format(" (value search: {} step{}, last: {})", s.steps,
                                    s.steps == 1 ? "" : "s", s.last.reason);
          }
        }
        result.value_steps += steps;
        reason = v.reason;
        if (v.ok()) {
          result.model = std::move(model);
          result.inputs = std::move(c.inputs);
          result.op_types = std::move(c.op_types);
          result.attempts = static_cast<uint64_t>(attempt) + 1;
          result.rescued = steps > 0;
          return result;
        }
      }
    } catch (const z3::exception& e) {
      reason = std::string("z3: ") + e.msg();
    }
    result.rejected.push_back(fmt::format("attempt {}: {}", attempt, reason));
  }
  Fail(ErrorKind::kRuntime, "gen: no valid model for seed {} after {} attempts; last: {}",
       options.seed, kMaxAttempts, result.rejected.back());
}

const std::vector<std::vector<std::string>>& PatternChains() {
  static const std::vector<std::vector<std::string>> kChains = {
      {"Conv", "BatchNormalization", "Relu"},
      {"Conv", "BatchNormalization", "HardSwish"},
      {"Conv", "Add", "Relu"},  // residual: Add's second operand is earlier
      {"Conv", "BatchNormalization", "LeakyRelu", "Add"},
      {"Transpose", "MatMul", "Transpose"},
      {"Reshape", "Transpose", "Reshape"},
      {"MatMul", "Mul", "Softmax", "MatMul"},  // attention: Q.K^T, scale, softmax, .V
      {"LayerNormalization", "MatMul", "Add"},
      {"InstanceNormalization", "Relu", "Conv"},
      {"Conv", "MaxPool", "GlobalAveragePool", "Flatten", "Gemm"},
      {"Add", "Mul", "Sub", "Where"},  // broadcasting chains
      {"Cast", "Add", "Cast"},         // dtype round trips
      {"Gemm", "Relu", "Gemm", "Sigmoid"},
      {"ConvTranspose", "BatchNormalization", "Relu"},
      {"ReduceMean", "Sub", "Mul", "ReduceMean"},  // hand-written normalisation
      {"Concat", "Split", "Add"},
  };
  return kChains;
}

std::vector<std::string> KnownOps() {
  std::vector<std::string> out;
  for (const OpSpec& s : AllSpecs()) out.push_back(s.op_type);
  return out;
}

const std::vector<std::string>& KnownDtypes() {
  static const std::vector<std::string> dtypes = {"float32", "float16", "int32", "int64", "bool"};
  return dtypes;
}

}  // namespace concord::gen
