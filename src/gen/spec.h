// OpSpec: what the model generator knows about one ONNX op — the dtypes and ranks it accepts,
// its symbolic shape transfer over z3 integer expressions, the constraints that make an
// instance valid, and the legal attribute values.
//
// A spec is a Build function that, given a BuildContext, picks its inputs from the pool of
// symbolic tensors (or asks for fresh placeholders/weights), declares z3 constraints, and emits
// one node (plus, for domain-limited ops, guard nodes such as Abs+Add that keep inputs in a safe
// range). Structural choices (ranks, axes, permutations, strides, groups) are made concretely
// with the seeded RNG; sizes (dims, kernel sizes, pads, slice bounds, reshape targets) stay
// symbolic and are fixed later by one z3 model. Build returns false when the op cannot be
// placed now (e.g. no dtype left after filtering); the generator then rolls back everything the
// attempt added. Specs never throw on a bad pick: unsatisfiable picks are rejected by the solver.
// Owned by the generator (src/gen); one file per op family under specs/, listed in registry.cc.
#pragma once

#include <z3++.h>

#include <cstdint>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ir/dtype.h"
#include "ir/random.h"

namespace concord::gen {

// Deterministic randomness: Rng, RandInt, RandUnit, Coin, RandPick from ir/random.h (raw
// mt19937_64 draws and our own mappings, the same on every standard library).
uint64_t Mix(uint64_t x);  // splitmix64 finalizer, for derived seeds

// Largest size of any dim of a tensor of the given rank (keeps element counts small without
// nonlinear product constraints): rank<=2: 32, 3: 16, 4: 10, 5: 6.
int64_t DimBound(int rank);
inline constexpr int kMaxRank = 5;

enum class TensorKind {
  kInput,     // graph input (placeholder)
  kWeight,    // float/int initializer with random values in [lo, hi]
  kIntConst,  // int64 1-D initializer whose values are z3 expressions (shape, axes, pads, ...)
  kIndex,     // int64 initializer of random indices in [0, index_bound) (Gather)
  kNode,      // produced by a node
};

struct TensorInfo {
  DType dtype = DType::kFloat32;
  std::vector<z3::expr> dims;
  TensorKind kind = TensorKind::kNode;
  double lo = -1, hi = 1;             // kInput/kWeight value range
  std::vector<z3::expr> values;       // kIntConst
  std::vector<z3::expr> index_bound;  // kIndex (one element)
  int rank() const { return static_cast<int>(dims.size()); }
};

struct AttrSpec {
  enum class Kind { kInt, kInts, kFloat, kString };
  std::string name;
  Kind kind = Kind::kInt;
  std::vector<z3::expr> ints;  // kInt: one; kInts: many (concrete ones are numerals)
  float f = 0;
  std::string s;
};

struct NodeSpec {
  std::string op_type;
  std::vector<int> inputs;  // tensor ids; -1 = omitted optional input
  std::vector<int> outputs;
  std::vector<AttrSpec> attrs;
};

class BuildContext {
 public:
  virtual ~BuildContext() = default;
  virtual Rng& rng() = 0;
  virtual z3::context& z3ctx() = 0;
  // `candidates` narrowed to the dtypes the options allow for `op_type`.
  virtual std::vector<DType> Allowed(const std::string& op_type,
                                     const std::vector<DType>& candidates) = 0;
  // An existing graph-input or node-output tensor of `dtype` with rank in [rmin, rmax], or a new
  // graph input with fresh symbolic dims when none fits (or by chance).
  virtual int Pick(DType dtype, int rmin, int rmax) = 0;
  virtual int NewInput(DType dtype, int rank) = 0;
  virtual int NewWeight(DType dtype, std::vector<z3::expr> dims, double lo, double hi) = 0;
  virtual int NewIntConst(std::vector<z3::expr> values) = 0;
  virtual int NewIndex(std::vector<z3::expr> dims, z3::expr bound) = 0;
  // Fresh integer variable with lo <= v <= hi.
  virtual z3::expr Var(int64_t lo, int64_t hi) = 0;
  virtual void Require(const z3::expr& constraint) = 0;
  // Partial concretization (keeps the constraint set linear where an op needs products of
  // dims, e.g. Reshape/Flatten): fixes `dims` to values of a model of the constraints so far
  // (random values when they fit) and returns them; false when the constraints are unsat.
  virtual bool Fix(const std::vector<z3::expr>& dims, std::vector<int64_t>* values) = 0;
  // Emits a node; outputs get the given dtypes/dims (dims bounded by DimBound) and their ids.
  virtual std::vector<int> Emit(const std::string& op_type, std::vector<int> inputs,
                                std::vector<std::pair<DType, std::vector<z3::expr>>> outputs,
                                std::vector<AttrSpec> attrs = {}) = 0;
  virtual const TensorInfo& tensor(int id) const = 0;
  // Makes tensor `id` safe for an op needing values in [lo, hi]: narrows the range of a graph
  // input/weight when possible, otherwise emits guard nodes (Abs+Add / Tanh / Clip). Returns
  // the id to feed the op.
  virtual int Guard(int id, double lo, double hi) = 0;

  z3::expr Int(int64_t v) { return z3ctx().int_val(static_cast<int64_t>(v)); }
};

// Attribute helpers.
AttrSpec IntAttr(const std::string& name, z3::expr v);
AttrSpec IntsAttr(const std::string& name, std::vector<z3::expr> v);
AttrSpec FloatAttr(const std::string& name, float v);
AttrSpec StringAttr(const std::string& name, const std::string& v);

// Numpy-style broadcast of two symbolic shapes; adds the compatibility constraints.
std::vector<z3::expr> Broadcast(BuildContext& ctx, const std::vector<z3::expr>& a,
                                const std::vector<z3::expr>& b);

struct OpSpec {
  std::string op_type;
  std::vector<DType> dtypes;  // dtypes the op may be generated with
  int min_rank = 0, max_rank = kMaxRank;
  std::function<bool(BuildContext&)> build;
};

// All specs, sorted by op type (one per op type).
const std::vector<OpSpec>& AllSpecs();

// Families (specs/*.cc).
void AddElementwiseSpecs(std::vector<OpSpec>& out);
void AddNnSpecs(std::vector<OpSpec>& out);
void AddShapeSpecs(std::vector<OpSpec>& out);
void AddReduceSpecs(std::vector<OpSpec>& out);

inline const std::vector<DType> kFloatTypes = {DType::kFloat32, DType::kFloat16};
inline const std::vector<DType> kNumTypes = {DType::kFloat32, DType::kFloat16, DType::kInt32,
                                             DType::kInt64};
inline const std::vector<DType> kAllTypes = {DType::kFloat32, DType::kFloat16, DType::kInt32,
                                             DType::kInt64, DType::kBool};

}  // namespace concord::gen
