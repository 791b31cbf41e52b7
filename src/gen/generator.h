// NNSmith-style random model generation: grow a DAG of ONNX ops whose shape/attribute
// constraints (gen/specs, z3) stay satisfiable, then concretize one z3 model into an ONNX
// ModelProto with inputs and weights chosen so outputs avoid NaN/Inf (value ranges from the
// specs, then a value search on the kept graph when a node output still overflows).
//
// Determinism: the same GenOptions (seed included) give the same model, byte for byte, on every
// run and machine (no unordered iteration, no time, z3 with fixed random_seed).
// Validity: every returned model passes the ONNX checker and shape inference and runs on `ref`
// without error (Generate retries internally with derived seeds; Error(kRuntime) when it cannot
// produce one, naming the seed).
// Domain-limited ops (Sqrt/Log/Reciprocal/Div/Pow/Acos/Asin) get safe inputs: a graph input or
// weight has its value range narrowed; a node output is fed through guard nodes (Abs, Add of a
// positive constant, Tanh, Clip), which appear in op_types, count towards max_nodes and obey
// dtypes/exclude but not `ops`.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ir/model.h"
#include "ir/value.h"

namespace concord::gen {

struct GenOptions {
  uint64_t seed = 0;
  int max_nodes = 10;               // operator nodes (excluding Constant/initializers)
  std::vector<std::string> ops;     // allowed op types; empty = all specs
  std::vector<std::string> dtypes;  // allowed tensor dtypes (KnownDtypes()); empty = all
  // (op type, dtype) pairs to avoid, e.g. from operator support inference of an env.
  std::set<std::pair<std::string, std::string>> exclude;
  // "random": one op at a time, operands drawn from the graph so far; "patterns": chains that
  // compilers fuse and rewrite (PatternChains), each op fed the previous one's output;
  // "opencv": shaped like what OpenCV's ONNX importer takes (float32 unless --dtypes says
  // otherwise, one graph input, mostly NCHW, rank <= 4, every op's data operand computed from
  // the input, every other operand a constant weight, its shape rules; half the steps grow
  // PatternChains).
  std::string mode = "random";
  // Value search (validate.h): re-concretizations tried on a candidate whose values, not its
  // graph, put NaN/Inf into a node output, before the graph is discarded; 0 = discard at once.
  int value_search_steps = 8;
  // Relative weight of each op type in single-op picks (coverage feedback: `concord fuzz
  // --coverage-feedback` favours the ops its targets have tested least); an op not listed
  // weighs 1; empty = uniform. Pattern chains are drawn uniformly either way.
  std::map<std::string, double> op_weights;
};

// The op chains of mode "patterns": conv+bn+activation, residual adds, transposes around
// matmuls, reshape/transpose sandwiches, attention (MatMul-scale-Softmax-MatMul), norm +
// activation, classifier heads, broadcasting chains, dtype round trips.
const std::vector<std::vector<std::string>>& PatternChains();

struct GeneratedModel {
  Model model;                                        // validated
  std::vector<std::pair<std::string, Value>> inputs;  // graph inputs, declaration order
  std::vector<std::string> op_types;                  // op type of every node, graph order
  uint64_t attempts = 1;                              // internal retries used
  std::vector<std::string> rejected;                  // why each discarded attempt was discarded
  int value_steps = 0;                                // value-search steps over all attempts
  bool rescued = false;  // the returned graph first had NaN/Inf and the value search cured it
};

GeneratedModel Generate(const GenOptions& options);

// Op types the generator knows (one per spec), sorted.
std::vector<std::string> KnownOps();

// Tensor dtypes the generator can make, in GenOptions' spelling: float32, float16, int32, int64,
// bool.
const std::vector<std::string>& KnownDtypes();

}  // namespace concord::gen
