// Tree ensembles of ai.onnx.ml: TreeEnsembleRegressor and TreeEnsembleClassifier (opsets 1 and 3,
// nodes keyed by (tree id, node id), leaves among them) and TreeEnsemble (opset 5: split nodes
// and leaves in separate arrays, set-membership splits, integer enums).
//
// Both forms are read into one Forest: split nodes and leaves in one array, children by index.
// A row walks every tree to a leaf (x <op> threshold, or a NaN feature on a node whose missing
// values track true) and adds the leaf's weights to its targets; the ensemble's aggregate,
// base values and post_transform finish the row. Sums are kept in double and rounded once.
//
// Where ONNX's reference and ONNX Runtime differ, ref follows ONNX Runtime (converted models are
// written against it): a target no leaf reached is 0 under MIN/MAX (not +-FLT_MAX), TreeEnsemble
// applies its post_transform (the reference ignores it), and the classifier's two-class rules
// below (ONNX Runtime's tree_ensemble_aggregator.h) decide labels and scores.
#include <map>
#include <set>

#include "ref/ops/common.h"
#include "ref/ops/ml_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

enum class Mode { kLeq, kLt, kGte, kGt, kEq, kNeq, kMember, kLeaf };
enum class Aggregate { kAverage, kSum, kMin, kMax };

struct TreeNode {
  Mode mode = Mode::kLeaf;
  int64_t feature = 0;
  double threshold = 0;
  std::set<double> members;  // kMember
  bool missing_true = false;
  int64_t next_true = -1;
  int64_t next_false = -1;
  std::vector<std::pair<int64_t, double>> weights;  // a leaf's (target or class, weight)
};

struct Forest {
  std::vector<TreeNode> nodes;
  std::vector<int64_t> roots;
};

bool GoesTrue(const TreeNode& n, double x) {
  bool r = false;
  switch (n.mode) {
    case Mode::kLeq:
      r = x <= n.threshold;
      break;
    case Mode::kLt:
      r = x < n.threshold;
      break;
    case Mode::kGte:
      r = x >= n.threshold;
      break;
    case Mode::kGt:
      r = x > n.threshold;
      break;
    case Mode::kEq:
      r = x == n.threshold;
      break;
    case Mode::kNeq:
      r = x != n.threshold;
      break;
    case Mode::kMember:
      r = !std::isnan(x) && n.members.count(x) > 0;  // NaN is no member (and breaks std::set)
      break;
    case Mode::kLeaf:
      break;
  }
  return r || (n.missing_true && std::isnan(x));
}

// The leaf a row reaches from `root`. Validate() has checked features and children, and that
// every walk ends (no cycles), so this cannot fail.
const TreeNode& WalkToLeaf(const Forest& f, int64_t root, const double* x) {
  const TreeNode* n = &f.nodes[static_cast<size_t>(root)];
  while (n->mode != Mode::kLeaf) {
    int64_t next = GoesTrue(*n, x[n->feature]) ? n->next_true : n->next_false;
    n = &f.nodes[static_cast<size_t>(next)];
  }
  return *n;
}

// Checks children and feature indices, and that each tree is acyclic (every path from a root
// reaches a leaf in fewer steps than there are nodes).
void Validate(const KernelContext& ctx, const Forest& f, int64_t n_features, int64_t n_targets) {
  const int64_t n = static_cast<int64_t>(f.nodes.size());
  for (int64_t i = 0; i < n; ++i) {
    const TreeNode& t = f.nodes[static_cast<size_t>(i)];
    if (t.mode == Mode::kLeaf) {
      for (const auto& [target, w] : t.weights) {
        if (target < 0 || target >= n_targets)
          ctx.Fail("a leaf weight names target/class {}, but there are {}", target, n_targets);
      }
      continue;
    }
    if (t.feature < 0 || t.feature >= n_features)
      ctx.Fail("node {} splits on feature {}, but X has {} features", i, t.feature, n_features);
    if (t.next_true < 0 || t.next_true >= n || t.next_false < 0 || t.next_false >= n)
      ctx.Fail("node {} has a child out of range", i);
  }
  // Depth of every node by iterating from the roots; a node seen deeper than n is on a cycle.
  for (int64_t root : f.roots) {
    std::vector<std::pair<int64_t, int64_t>> stack = {{root, 0}};
    while (!stack.empty()) {
      auto [i, depth] = stack.back();
      stack.pop_back();
      if (depth > n) ctx.Fail("the tree at node {} has a cycle", root);
      const TreeNode& t = f.nodes[static_cast<size_t>(i)];
      if (t.mode == Mode::kLeaf) continue;
      stack.push_back({t.next_true, depth + 1});
      stack.push_back({t.next_false, depth + 1});
    }
  }
}

Mode ModeFromString(const KernelContext& ctx, const std::string& s) {
  static const std::map<std::string, Mode> kModes = {
      {"BRANCH_LEQ", Mode::kLeq}, {"BRANCH_LT", Mode::kLt}, {"BRANCH_GTE", Mode::kGte},
      {"BRANCH_GT", Mode::kGt},   {"BRANCH_EQ", Mode::kEq}, {"BRANCH_NEQ", Mode::kNeq},
      {"LEAF", Mode::kLeaf}};
  auto it = kModes.find(s);
  if (it == kModes.end()) ctx.Fail("node mode '{}' is not a BRANCH_* mode or LEAF", s);
  return it->second;
}

void CheckSize(const KernelContext& ctx, const std::string& name, size_t got, size_t want) {
  if (got != want) ctx.Fail("attribute '{}' has {} entries, expected {}", name, got, want);
}

// Opsets 1 and 3: nodes_* lists keyed by (tree id, node id); leaf weights from
// <prefix>_ids/_nodeids/_treeids/_weights (prefix "target" or "class").
Forest ForestFromLists(const KernelContext& ctx, const std::string& prefix) {
  std::vector<int64_t> tree_ids = ctx.GetInts("nodes_treeids");
  std::vector<int64_t> node_ids = ctx.GetInts("nodes_nodeids");
  std::vector<int64_t> features = ctx.GetInts("nodes_featureids");
  std::vector<std::string> modes = ctx.GetStrings("nodes_modes");
  std::vector<double> values = DoublesAttr(ctx, "nodes_values");
  std::vector<int64_t> trues = ctx.GetInts("nodes_truenodeids");
  std::vector<int64_t> falses = ctx.GetInts("nodes_falsenodeids");
  std::vector<int64_t> missing = ctx.GetInts("nodes_missing_value_tracks_true");
  const size_t n = tree_ids.size();
  CheckSize(ctx, "nodes_nodeids", node_ids.size(), n);
  CheckSize(ctx, "nodes_featureids", features.size(), n);
  CheckSize(ctx, "nodes_modes", modes.size(), n);
  CheckSize(ctx, "nodes_values", values.size(), n);
  CheckSize(ctx, "nodes_truenodeids", trues.size(), n);
  CheckSize(ctx, "nodes_falsenodeids", falses.size(), n);
  if (!missing.empty()) CheckSize(ctx, "nodes_missing_value_tracks_true", missing.size(), n);
  Forest f;
  f.nodes.resize(n);
  std::map<std::pair<int64_t, int64_t>, int64_t> index;
  std::set<int64_t> seen_trees;
  for (size_t i = 0; i < n; ++i) {
    if (!index.emplace(std::make_pair(tree_ids[i], node_ids[i]), i).second)
      ctx.Fail("node {} of tree {} is listed twice", node_ids[i], tree_ids[i]);
    if (seen_trees.insert(tree_ids[i]).second) f.roots.push_back(static_cast<int64_t>(i));
    TreeNode& t = f.nodes[i];
    t.mode = ModeFromString(ctx, modes[i]);
    t.feature = features[i];
    t.threshold = values[i];
    t.missing_true = !missing.empty() && missing[i] == 1;
  }
  auto find = [&](int64_t tree, int64_t node, const char* what) {
    auto it = index.find({tree, node});
    if (it == index.end())
      ctx.Fail("{} names node {} of tree {}, which is not listed", what, node, tree);
    return it->second;
  };
  for (size_t i = 0; i < n; ++i) {
    if (f.nodes[i].mode == Mode::kLeaf) continue;
    f.nodes[i].next_true = find(tree_ids[i], trues[i], "nodes_truenodeids");
    f.nodes[i].next_false = find(tree_ids[i], falses[i], "nodes_falsenodeids");
  }
  std::vector<int64_t> w_ids = ctx.GetInts(prefix + "_ids");
  std::vector<int64_t> w_nodes = ctx.GetInts(prefix + "_nodeids");
  std::vector<int64_t> w_trees = ctx.GetInts(prefix + "_treeids");
  std::vector<double> w = DoublesAttr(ctx, prefix + "_weights");
  CheckSize(ctx, prefix + "_nodeids", w_nodes.size(), w_ids.size());
  CheckSize(ctx, prefix + "_treeids", w_trees.size(), w_ids.size());
  CheckSize(ctx, prefix + "_weights", w.size(), w_ids.size());
  for (size_t i = 0; i < w_ids.size(); ++i) {
    int64_t at = find(w_trees[i], w_nodes[i], (prefix + "_nodeids").c_str());
    f.nodes[static_cast<size_t>(at)].weights.push_back({w_ids[i], w[i]});
  }
  return f;
}

// A tensor attribute of TreeEnsemble-5 as doubles (empty when absent).
std::vector<double> TensorDoubles(const KernelContext& ctx, const std::string& name) {
  std::vector<double> out;
  if (auto t = ctx.GetTensor(name)) {
    for (int64_t i = 0; i < t->numel(); ++i) out.push_back(t->GetDouble(i));
  }
  return out;
}

// Opset 5: split nodes [0, n), leaves [n, n + leaves). Set-membership nodes take their sets from
// membership_values in node order, each set ended by a NaN.
Forest ForestFromArrays(const KernelContext& ctx) {
  std::vector<int64_t> features = ctx.GetInts("nodes_featureids");
  std::vector<double> splits = TensorDoubles(ctx, "nodes_splits");
  std::vector<double> modes = TensorDoubles(ctx, "nodes_modes");
  std::vector<int64_t> trues = ctx.GetInts("nodes_truenodeids");
  std::vector<int64_t> falses = ctx.GetInts("nodes_falsenodeids");
  std::vector<int64_t> true_leafs = ctx.GetInts("nodes_trueleafs");
  std::vector<int64_t> false_leafs = ctx.GetInts("nodes_falseleafs");
  std::vector<int64_t> missing = ctx.GetInts("nodes_missing_value_tracks_true");
  std::vector<int64_t> targets = ctx.GetInts("leaf_targetids");
  std::vector<double> weights = TensorDoubles(ctx, "leaf_weights");
  std::vector<double> members = TensorDoubles(ctx, "membership_values");
  const size_t n = features.size(), leaves = targets.size();
  CheckSize(ctx, "nodes_splits", splits.size(), n);
  CheckSize(ctx, "nodes_modes", modes.size(), n);
  CheckSize(ctx, "nodes_truenodeids", trues.size(), n);
  CheckSize(ctx, "nodes_falsenodeids", falses.size(), n);
  CheckSize(ctx, "nodes_trueleafs", true_leafs.size(), n);
  CheckSize(ctx, "nodes_falseleafs", false_leafs.size(), n);
  if (!missing.empty()) CheckSize(ctx, "nodes_missing_value_tracks_true", missing.size(), n);
  CheckSize(ctx, "leaf_weights", weights.size(), leaves);
  Forest f;
  f.nodes.resize(n + leaves);
  auto child = [&](int64_t id, bool leaf) -> int64_t {
    int64_t limit = static_cast<int64_t>(leaf ? leaves : n);
    if (id < 0 || id >= limit)
      ctx.Fail("child {} is out of range ({} {})", id, limit, leaf ? "leaves" : "nodes");
    return leaf ? static_cast<int64_t>(n) + id : id;
  };
  size_t next_member = 0;
  for (size_t i = 0; i < n; ++i) {
    TreeNode& t = f.nodes[i];
    int64_t m = static_cast<int64_t>(modes[i]);
    if (m < 0 || m > 6) ctx.Fail("node {} has mode {}, not in 0..6", i, m);
    t.mode = static_cast<Mode>(m);
    t.feature = features[i];
    t.threshold = splits[i];
    t.missing_true = !missing.empty() && missing[i] == 1;
    t.next_true = child(trues[i], true_leafs[i] != 0);
    t.next_false = child(falses[i], false_leafs[i] != 0);
    if (t.mode != Mode::kMember) continue;
    for (;; ++next_member) {
      if (next_member >= members.size())
        ctx.Fail("membership_values has no set for set-membership node {}", i);
      if (std::isnan(members[next_member])) break;
      t.members.insert(members[next_member]);
    }
    ++next_member;
  }
  for (size_t j = 0; j < leaves; ++j) f.nodes[n + j].weights.push_back({targets[j], weights[j]});
  for (int64_t r : ctx.GetInts("tree_roots")) {
    if (r < 0 || r >= static_cast<int64_t>(n)) ctx.Fail("tree root {} is out of range", r);
    size_t ru = static_cast<size_t>(r);
    // A tree that is a single leaf: a root whose both branches are that same leaf.
    bool is_leaf = true_leafs[ru] && false_leafs[ru] && trues[ru] == falses[ru];
    f.roots.push_back(is_leaf ? f.nodes[ru].next_true : r);
  }
  return f;
}

// Running per-target scores of one row; `has` marks targets some leaf reached.
struct Scores {
  std::vector<double> v;
  std::vector<char> has;
};

Scores Accumulate(const Forest& f, const double* x, int64_t n_targets, Aggregate agg) {
  Scores s{std::vector<double>(static_cast<size_t>(n_targets), 0.0),
           std::vector<char>(static_cast<size_t>(n_targets), 0)};
  for (int64_t root : f.roots) {
    for (const auto& [target, w] : WalkToLeaf(f, root, x).weights) {
      size_t t = static_cast<size_t>(target);
      double& v = s.v[t];
      if (agg == Aggregate::kMin) {
        v = !s.has[t] || w < v ? w : v;
      } else if (agg == Aggregate::kMax) {
        v = !s.has[t] || w > v ? w : v;
      } else {
        v += w;
      }
      s.has[t] = 1;
    }
  }
  return s;
}

// A regression row: aggregate, then base values (one per target, or with one target a single
// one), then post_transform (with one target only PROBIT applies, as in ONNX Runtime).
std::vector<double> FinishRegression(const Scores& s, Aggregate agg,
                                     const std::vector<double>& base, PostTransform post,
                                     size_t n_trees) {
  const size_t n = s.v.size();
  const bool use_base = base.size() == n;
  std::vector<double> row(n);
  for (size_t j = 0; j < n; ++j) {
    double b = use_base ? base[j] : 0.0;
    if (agg == Aggregate::kAverage) {
      row[j] = s.v[j] / static_cast<double>(n_trees) + b;
    } else {
      row[j] = (s.has[j] || agg == Aggregate::kSum ? s.v[j] : 0.0) + b;
    }
  }
  if (n > 1 || post == PostTransform::kProbit) TransformRow(post, &row);
  return row;
}

struct Classified {
  int64_t label;  // position in the class labels
  std::vector<double> scores;
};

// A classification row (ONNX Runtime's TreeAggregatorClassifier): with more than two classes,
// base values, then the first class with the largest score among classes some leaf (or a base
// value) reached. With two, a model whose leaves all name one class ("binary case") decides on
// that class's score: above 0.5 when all weights are positive, above 0 otherwise; a model that
// scores only class 0 gets two scores made from one: [1 - s, s] (positive weights), [-s, s] or
// logistic(-s), logistic(s) (mixed weights).
Classified FinishClassification(Scores s, const std::vector<double>& base, PostTransform post,
                                bool binary_case, bool all_positive) {
  const size_t n = s.v.size();
  if (n > 2) {
    for (size_t k = 0; k < std::min(n, base.size()); ++k) {
      s.v[k] = s.has[k] ? s.v[k] + base[k] : base[k];
      s.has[k] = 1;
    }
    int64_t best = -1;
    for (size_t k = 0; k < n; ++k) {
      if (s.has[k] && (best < 0 || s.v[k] > s.v[static_cast<size_t>(best)]))
        best = static_cast<int64_t>(k);
    }
    TransformRow(post, &s.v);
    return {std::max<int64_t>(best, 0), s.v};
  }
  int add_second = -1;
  bool one_score = false;
  if (base.size() == 2) {
    if (s.has[1]) {
      s.v[1] = base[1] + s.v[0];
      s.v[0] = -s.v[1];
    } else {
      s.v[1] += base[1];
      s.v[0] += base[0];
    }
  } else if (base.size() == 1) {
    s.v[0] += base[0];
    one_score = !s.has[1];
  } else if (base.empty()) {
    add_second = 3;
    one_score = !s.has[1];
  }
  const double pos = !one_score && s.has[1] ? s.v[1] : (s.has[0] ? s.v[0] : 0.0);
  int64_t label = pos > 0 ? 1 : 0;
  if (binary_case) {
    label = pos > (all_positive ? 0.5 : 0.0) ? 1 : 0;
    add_second = (all_positive ? 0 : 2) + (label == 1 ? 0 : 1);
  }
  if (!one_score) {
    TransformRow(post, &s.v);
    return {label, s.v};
  }
  const double v = s.v[0];
  if (post == PostTransform::kProbit) return {label, {Probit(v), 0.0}};
  if (add_second == 0 || add_second == 1) return {label, {1 - v, v}};
  if (add_second == 2 || add_second == 3) {
    if (post == PostTransform::kLogistic) return {label, {Logistic(-v), Logistic(v)}};
    return {label, {-v, v}};
  }
  return {label, {v, 0.0}};
}

Aggregate AggregateFromString(const KernelContext& ctx, const std::string& s) {
  if (s == "SUM") return Aggregate::kSum;
  if (s == "AVERAGE") return Aggregate::kAverage;
  if (s == "MIN") return Aggregate::kMin;
  if (s == "MAX") return Aggregate::kMax;
  ctx.Fail("aggregate_function '{}' is not one of SUM, AVERAGE, MIN, MAX", s);
}

// Rows of X with the forest checked against them; Y[N, n_targets] from finish(scores) per row.
template <typename Finish>
std::vector<std::vector<double>> RunForest(const KernelContext& ctx, const Forest& f, const Rows& x,
                                           int64_t n_targets, Aggregate agg, Finish&& finish) {
  Validate(ctx, f, x.c, n_targets);
  std::vector<std::vector<double>> rows(static_cast<size_t>(x.n));
  ctx.ParallelFor(x.n, 16, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r)
      rows[static_cast<size_t>(r)] = finish(Accumulate(f, x.row(r), n_targets, agg));
  });
  return rows;
}

std::vector<double> Flatten(const std::vector<std::vector<double>>& rows) {
  std::vector<double> out;
  for (const auto& r : rows) out.insert(out.end(), r.begin(), r.end());
  return out;
}

std::vector<Value> TreeEnsembleRegressor(KernelContext& ctx) {
  Rows x = InputRows(ctx, 0);
  Forest f = ForestFromLists(ctx, "target");
  const int64_t n_targets = ctx.GetInt("n_targets", 1);
  if (n_targets < 1) ctx.Fail("n_targets must be at least 1, got {}", n_targets);
  const Aggregate agg = AggregateFromString(ctx, ctx.GetString("aggregate_function", "SUM"));
  const PostTransform post = PostTransformFromString(ctx, ctx.GetString("post_transform", "NONE"));
  const std::vector<double> base = DoublesAttr(ctx, "base_values");
  auto rows = RunForest(ctx, f, x, n_targets, agg, [&](const Scores& s) {
    return FinishRegression(s, agg, base, post, f.roots.size());
  });
  return Out(FloatMatrix(x.n, n_targets, Flatten(rows)));
}

std::vector<Value> TreeEnsembleClassifier(KernelContext& ctx) {
  Rows x = InputRows(ctx, 0);
  Forest f = ForestFromLists(ctx, "class");
  std::vector<int64_t> int_labels = ctx.GetInts("classlabels_int64s");
  std::vector<std::string> str_labels = ctx.GetStrings("classlabels_strings");
  const bool strings = !str_labels.empty();
  const int64_t n_classes = static_cast<int64_t>(strings ? str_labels.size() : int_labels.size());
  if (n_classes < 2) ctx.Unsupported("{} class labels; ref handles two or more", n_classes);
  const PostTransform post = PostTransformFromString(ctx, ctx.GetString("post_transform", "NONE"));
  const std::vector<double> base = DoublesAttr(ctx, "base_values");
  std::set<int64_t> classes_hit;
  bool all_positive = true;
  std::vector<int64_t> ids = ctx.GetInts("class_ids");
  std::vector<double> weights = DoublesAttr(ctx, "class_weights");
  for (size_t i = 0; i < ids.size(); ++i) {
    classes_hit.insert(ids[i]);
    if (weights[i] < 0) all_positive = false;
  }
  const bool binary_case = n_classes == 2 && classes_hit.size() == 1;
  std::vector<int64_t> labels(static_cast<size_t>(x.n));
  auto rows = RunForest(ctx, f, x, n_classes, Aggregate::kSum, [&](const Scores& s) {
    Classified c = FinishClassification(s, base, post, binary_case, all_positive);
    c.scores.push_back(static_cast<double>(c.label));  // carried out of the parallel loop
    return c.scores;
  });
  Tensor y(strings ? DType::kString : DType::kInt64, {x.n});
  for (int64_t r = 0; r < x.n; ++r) {
    auto& row = rows[static_cast<size_t>(r)];
    size_t label = static_cast<size_t>(row.back());
    row.pop_back();
    if (strings) {
      y.data<std::string>()[r] = str_labels[label];
    } else {
      y.data<int64_t>()[r] = int_labels[label];
    }
  }
  std::vector<Value> out;
  out.emplace_back(std::move(y));
  out.emplace_back(FloatMatrix(x.n, n_classes, Flatten(rows)));
  return out;
}

// TreeEnsemble-5: Y has X's element type.
std::vector<Value> TreeEnsemble5(KernelContext& ctx) {
  const DType dt = ctx.input(0).dtype();
  if (!IsFloating(dt)) ctx.Unsupported("element type {} (float types only)", DTypeName(dt));
  Rows x = InputRows(ctx, 0);
  Forest f = ForestFromArrays(ctx);
  const int64_t n_targets = ctx.RequireInt("n_targets");
  if (n_targets < 1) ctx.Fail("n_targets must be at least 1, got {}", n_targets);
  const int64_t agg_code = ctx.GetInt("aggregate_function", 1);
  if (agg_code < 0 || agg_code > 3) ctx.Fail("aggregate_function {} is not in 0..3", agg_code);
  const Aggregate agg = static_cast<Aggregate>(agg_code);
  const PostTransform post = PostTransformFromInt(ctx, ctx.GetInt("post_transform", 0));
  auto rows = RunForest(ctx, f, x, n_targets, agg, [&](const Scores& s) {
    return FinishRegression(s, agg, {}, post, f.roots.size());
  });
  return Out(Matrix(dt, x.n, n_targets, Flatten(rows)));
}

}  // namespace

void RegisterTreeEnsembleOps(Registry& r) {
  const std::string ml = "ai.onnx.ml";
  // 3 added the *_as_tensor attributes (double thresholds and weights); DoublesAttr reads both.
  r.Add(ml, "TreeEnsembleClassifier", 1, TreeEnsembleClassifier);
  r.Add(ml, "TreeEnsembleRegressor", 1, TreeEnsembleRegressor);
  r.Add(ml, "TreeEnsemble", 5, TreeEnsemble5);
}

}  // namespace concord::ref
