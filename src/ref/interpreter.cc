#include "ref/interpreter.h"

#include <onnx/defs/function.h>
#include <onnx/defs/schema.h>

#include <chrono>
#include <limits>
#include <set>
#include <unordered_set>

#include "ir/tensor_io.h"
#include "ir/value_io.h"
#include "ref/ops/gemm.h"

namespace concord::ref {

namespace {

// Values visible while a graph runs. `owned` holds what this graph's nodes produced;
// `borrowed` points at initializers and inputs owned by the caller. Lookups fall through to the
// enclosing scope (subgraphs see the values of the graph that contains them).
struct Scope {
  const Scope* parent = nullptr;
  std::unordered_map<std::string, Value> owned;
  std::unordered_map<std::string, const Value*> borrowed;

  const Value* Find(const std::string& name) const {
    for (const Scope* s = this; s != nullptr; s = s->parent) {
      auto it = s->owned.find(name);
      if (it != s->owned.end()) return &it->second;
      auto jt = s->borrowed.find(name);
      if (jt != s->borrowed.end()) return jt->second;
    }
    return nullptr;
  }
};

// Names a node reads, including names its subgraphs read from enclosing scopes.
void CollectReads(const onnx::NodeProto& node, std::unordered_set<std::string>* reads) {
  for (const auto& in : node.input()) {
    if (!in.empty()) reads->insert(in);
  }
  for (const auto& attr : node.attribute()) {
    auto visit = [&](const onnx::GraphProto& g) {
      for (const auto& n : g.node()) CollectReads(n, reads);
      for (const auto& o : g.output()) reads->insert(o.name());
    };
    if (attr.has_g()) visit(attr.g());
    for (const auto& g : attr.graphs()) visit(g);
  }
}

using Clock = std::chrono::steady_clock;

}  // namespace

void CheckValueAgainstType(const Value& v, const onnx::TypeProto& type, const std::string& what) {
  if (type.has_tensor_type()) {
    if (!v.is_tensor())
      Fail(ErrorKind::kInput, "{}: expected a tensor, got {}", what, v.Describe());
    const auto& tt = type.tensor_type();
    if (tt.elem_type() != 0 && static_cast<DType>(tt.elem_type()) != v.tensor.dtype()) {
      Fail(ErrorKind::kInput, "{}: expected element type {}, got {}", what,
           DTypeName(static_cast<DType>(tt.elem_type())), DTypeName(v.tensor.dtype()));
    }
    if (tt.has_shape()) {
      const auto& dims = tt.shape().dim();
      if (dims.size() != v.tensor.rank()) {
        Fail(ErrorKind::kInput, "{}: expected shape {} (rank {}), got {} (rank {})", what,
             TypeToString(type), dims.size(), ShapeToString(v.tensor.shape()), v.tensor.rank());
      }
      for (int i = 0; i < dims.size(); ++i) {
        if (dims[i].has_dim_value() && dims[i].dim_value() != v.tensor.dim(i)) {
          Fail(ErrorKind::kInput, "{}: expected shape {}, got {} (dimension {} differs)", what,
               TypeToString(type), ShapeToString(v.tensor.shape()), i);
        }
      }
    }
  } else if (type.has_sequence_type() && type.sequence_type().elem_type().has_map_type()) {
    if (!v.is_map_sequence())
      Fail(ErrorKind::kInput, "{}: expected a sequence of maps, got {}", what, v.Describe());
  } else if (type.has_sequence_type()) {
    if (!v.is_sequence())
      Fail(ErrorKind::kInput, "{}: expected a sequence, got {}", what, v.Describe());
  }
}

struct Interpreter::Impl {
  const Model& model;
  const Registry& registry;
  std::map<std::string, int64_t> opsets;  // canonical domain -> version
  std::unordered_map<std::string, Value> initializers;
  std::map<std::pair<std::string, std::string>, const onnx::FunctionProto*> local_functions;
  // Decoded initializers of subgraphs, keyed by TensorProto address (stable: model is const).
  std::unordered_map<const onnx::TensorProto*, Value> subgraph_initializers;
  // Expanded schema function bodies, keyed by node address and input type signature.
  std::map<std::pair<const onnx::NodeProto*, std::string>, onnx::FunctionProto> function_cache;
  // Per graph: for each node index, the names whose last read is that node.
  std::unordered_map<const onnx::GraphProto*, std::vector<std::vector<std::string>>> last_reads;
  // Function-body nodes with the caller's attributes filled in, per (body, caller). They live as
  // long as the interpreter: subgraphs in their attributes (If/Loop/Scan bodies) are keyed by
  // address in last_reads and subgraph_initializers, so they must never be temporaries.
  std::map<std::pair<const onnx::FunctionProto*, const onnx::NodeProto*>,
           std::vector<onnx::NodeProto>>
      resolved_bodies;
  std::vector<NodeTiming>* timings = nullptr;
  ThreadPool pool;
  // Main graph: fusable[i] when node i is a Conv whose output only node i + 1 reads, a Relu or a
  // Clip (fused_activation.h; the checks of the values wait for the run).
  std::vector<char> fusable;

  Impl(const Model& m, const Registry& r, int threads) : model(m), registry(r), pool(threads) {
    SingleThreadedBlas();  // the pool splits GEMMs (ops/gemm.h): no second set of threads
    for (const auto& op : m.proto().opset_import())
      opsets[CanonicalDomain(op.domain())] = op.version();
    for (const auto& t : m.graph().initializer()) {
      initializers[t.name()] =
          Value(TensorFromProto(t, m.base_dir(), m.path() + ": initializer '" + t.name() + "'"));
    }
    for (const auto& f : m.proto().functions()) {
      local_functions[{CanonicalDomain(f.domain()), f.name()}] = &f;
    }
    fusable = FusablePairs(m.graph());
  }

  std::vector<char> FusablePairs(const onnx::GraphProto& g) const {
    std::unordered_map<std::string, int> readers;
    for (const auto& n : g.node()) {
      std::unordered_set<std::string> reads;
      CollectReads(n, &reads);
      for (const auto& name : reads) ++readers[name];
    }
    std::unordered_set<std::string> outputs;
    for (const auto& o : g.output()) outputs.insert(o.name());
    std::vector<char> r(static_cast<size_t>(g.node_size()), 0);
    for (int i = 0; i + 1 < g.node_size(); ++i) {
      const auto& conv = g.node(i);
      const auto& act = g.node(i + 1);
      if (conv.op_type() != "Conv" || CanonicalDomain(conv.domain()) != "ai.onnx" ||
          conv.output_size() != 1 || CanonicalDomain(act.domain()) != "ai.onnx" ||
          (act.op_type() != "Relu" && act.op_type() != "Clip") || act.input_size() < 1) {
        continue;
      }
      const std::string& y = conv.output(0);
      // Clip's bounds are written before the Conv runs (the graph is in order, and not by it).
      bool ok = act.input(0) == y && readers[y] == 1 && !outputs.count(y);
      for (int k = 1; k < act.input_size(); ++k) ok = ok && act.input(k) != y;
      r[static_cast<size_t>(i)] = ok;
    }
    return r;
  }

  // The activation to fuse into Conv node `conv` of the main graph (fusable), given the values
  // it will read: its X must be float32 and Clip's bounds float32 scalars. kNone otherwise (the
  // two kernels then run, and report any bad input themselves).
  FusedActivation ActivationToFuse(const onnx::NodeProto& conv, const onnx::NodeProto& act,
                                   const Scope& scope, int64_t opset) const {
    const Value* x = scope.Find(conv.input(0));
    if (x == nullptr || !x->is_tensor() || x->tensor.dtype() != DType::kFloat32) return {};
    if (act.op_type() == "Relu") return {FusedActivation::Kind::kRelu};
    FusedActivation r{FusedActivation::Kind::kClip, std::numeric_limits<float>::lowest(),
                      std::numeric_limits<float>::max()};
    if (opset < 11) {  // Clip-1/6: bounds are attributes
      for (const auto& a : act.attribute()) {
        if (a.name() == "min") r.lo = a.f();
        if (a.name() == "max") r.hi = a.f();
      }
      return r;
    }
    for (int k = 1; k < act.input_size() && k < 3; ++k) {
      if (act.input(k).empty()) continue;
      const Value* b = scope.Find(act.input(k));
      if (b == nullptr || !b->is_tensor() || b->tensor.dtype() != DType::kFloat32 ||
          b->tensor.numel() != 1) {
        return {};
      }
      (k == 1 ? r.lo : r.hi) = b->tensor.data<float>()[0];
    }
    return r;
  }

  const std::vector<std::vector<std::string>>& LastReads(const onnx::GraphProto& g) {
    auto it = last_reads.find(&g);
    if (it != last_reads.end()) return it->second;
    std::unordered_map<std::string, int> last;
    for (int i = 0; i < g.node_size(); ++i) {
      std::unordered_set<std::string> reads;
      CollectReads(g.node(i), &reads);
      for (const auto& name : reads) last[name] = i;
    }
    std::unordered_set<std::string> outputs;
    for (const auto& o : g.output()) outputs.insert(o.name());
    std::vector<std::vector<std::string>> per_node(static_cast<size_t>(g.node_size()));
    for (const auto& [name, idx] : last) {
      if (!outputs.count(name)) per_node[static_cast<size_t>(idx)].push_back(name);
    }
    return last_reads.emplace(&g, std::move(per_node)).first->second;
  }

  // Runs `g` with graph inputs bound to `inputs` (by position) inside `parent`.
  std::vector<Value> ExecGraph(const onnx::GraphProto& g, const Scope* parent,
                               const std::vector<const Value*>& inputs,
                               const std::map<std::string, int64_t>& graph_opsets,
                               std::map<std::string, Value>* taps, bool is_main) {
    Scope scope;
    scope.parent = parent;
    if (is_main) {
      for (const auto& [name, v] : initializers) scope.borrowed[name] = &v;
    } else {
      for (const auto& t : g.initializer()) {
        auto it = subgraph_initializers.find(&t);
        if (it == subgraph_initializers.end()) {
          it = subgraph_initializers
                   .emplace(&t, Value(TensorFromProto(t, model.base_dir(),
                                                      "subgraph initializer '" + t.name() + "'")))
                   .first;
        }
        scope.borrowed[t.name()] = &it->second;
      }
    }
    for (int i = 0; i < g.input_size() && i < static_cast<int>(inputs.size()); ++i) {
      if (inputs[static_cast<size_t>(i)] != nullptr)
        scope.borrowed[g.input(i).name()] = inputs[static_cast<size_t>(i)];
    }
    const auto& last = LastReads(g);
    const bool fuse = is_main && taps == nullptr;
    bool hand_on = false;  // node i is an activation fused into the Conv before it
    for (int i = 0; i < g.node_size(); ++i) {
      const onnx::NodeProto& node = g.node(i);
      auto start = Clock::now();
      std::vector<Value> outs;
      const bool fused = hand_on;
      if (hand_on) {
        outs.push_back(std::move(scope.owned.at(node.input(0))));
        hand_on = false;
      } else {
        FusedActivation act;
        if (fuse && fusable[static_cast<size_t>(i)]) {
          auto o = graph_opsets.find("ai.onnx");
          act =
              ActivationToFuse(node, g.node(i + 1), scope, o != graph_opsets.end() ? o->second : 1);
        }
        outs = ExecNode(node, scope, graph_opsets, &g, act);
        hand_on = act.kind != FusedActivation::Kind::kNone;
      }
      if (is_main && timings != nullptr) {
        timings->push_back({node.name(), node.op_type(),
                            std::chrono::duration<double, std::milli>(Clock::now() - start).count(),
                            fused});
      }
      for (int k = 0; k < node.output_size(); ++k) {
        const std::string& name = node.output(k);
        if (name.empty()) continue;
        if (static_cast<size_t>(k) >= outs.size()) {
          Fail(ErrorKind::kInternal,
               "node '{}' ({}): kernel produced {} outputs, output '{}' missing", node.name(),
               node.op_type(), outs.size(), name);
        }
        if (taps != nullptr) (*taps)[name] = outs[static_cast<size_t>(k)];
        scope.owned[name] = std::move(outs[static_cast<size_t>(k)]);
      }
      if (taps == nullptr) {
        for (const auto& name : last[static_cast<size_t>(i)]) scope.owned.erase(name);
      }
    }
    std::vector<Value> result;
    for (const auto& o : g.output()) {
      const Value* v = scope.Find(o.name());
      if (v == nullptr) Fail(ErrorKind::kInput, "graph output '{}' is never produced", o.name());
      result.push_back(*v);
    }
    return result;
  }

  class Runner : public SubgraphRunner {
   public:
    Runner(Impl* impl, const Scope* scope, const std::map<std::string, int64_t>& opsets)
        : impl_(impl), scope_(scope), opsets_(opsets) {}
    std::vector<Value> RunSubgraph(const onnx::GraphProto& g,
                                   const std::vector<Value>& inputs) override {
      std::vector<const Value*> ptrs;
      for (const auto& v : inputs) ptrs.push_back(&v);
      return impl_->ExecGraph(g, scope_, ptrs, opsets_, nullptr, false);
    }

   private:
    Impl* impl_;
    const Scope* scope_;
    const std::map<std::string, int64_t>& opsets_;
  };

  std::vector<Value> ExecNode(const onnx::NodeProto& node, const Scope& scope,
                              const std::map<std::string, int64_t>& graph_opsets,
                              const onnx::GraphProto* graph, const FusedActivation& act = {}) {
    std::vector<const Value*> ins;
    for (const auto& name : node.input()) {
      if (name.empty()) {
        ins.push_back(nullptr);
        continue;
      }
      const Value* v = scope.Find(name);
      if (v == nullptr) {
        Fail(ErrorKind::kInput,
             "node '{}' ({}): input '{}' is not produced by any earlier node, input or initializer",
             node.name(), node.op_type(), name);
      }
      ins.push_back(v);
    }
    std::string domain = CanonicalDomain(node.domain());
    auto oit = graph_opsets.find(domain);
    int64_t opset = oit != graph_opsets.end() ? oit->second : 1;
    if (const KernelDef* k = registry.Find(domain, node.op_type(), opset)) {
      Runner runner(this, &scope, graph_opsets);
      KernelContext ctx(node, ins, opset, &runner, graph, &pool);
      ctx.set_fused_activation(act);
      try {
        return k->fn(ctx);
      } catch (const Error&) {
        throw;
      } catch (const std::exception& e) {
        Fail(ErrorKind::kRuntime, "{}: {}", ctx.Where(), e.what());
      }
    }
    const onnx::OpSchema* schema = nullptr;
    if (const onnx::FunctionProto* f = FindFunction(node, domain, opset, ins, &schema)) {
      try {
        return ExecFunction(*f, schema, node, ins, graph_opsets);
      } catch (const Error& e) {
        throw Error(e.kind(), fmt::format("in the function body of node '{}' ({}): {}", node.name(),
                                          node.op_type(), e.what()));
      }
    }
    std::vector<int> versions = registry.Versions(domain, node.op_type());
    Fail(ErrorKind::kUnsupported,
         "node '{}': no reference kernel for {}::{} at opset {} (kernels exist for since-versions: "
         "{})",
         node.name(), domain, node.op_type(), opset,
         versions.empty() ? std::string("none") : fmt::format("{}", fmt::join(versions, ", ")));
  }

  // The function that defines `node`: a model-local one, or the body of its schema (then
  // *schema_out is that schema, for attribute defaults).
  const onnx::FunctionProto* FindFunction(const onnx::NodeProto& node, const std::string& domain,
                                          int64_t opset, const std::vector<const Value*>& ins,
                                          const onnx::OpSchema** schema_out) {
    auto lf = local_functions.find({domain, node.op_type()});
    if (lf != local_functions.end()) return lf->second;
    const onnx::OpSchema* schema = onnx::OpSchemaRegistry::Schema(
        node.op_type(), static_cast<int>(opset), domain == "ai.onnx" ? "" : domain);
    if (schema == nullptr) return nullptr;
    *schema_out = schema;
    if (schema->HasFunction()) return schema->GetFunction();
    if (!schema->HasContextDependentFunction()) return nullptr;
    std::vector<onnx::TypeProto> types;
    std::string sig;
    for (const Value* v : ins) {
      types.push_back(v ? TypeOfValue(*v, TypeDetail::kFullShape) : onnx::TypeProto());
      sig += v ? v->Describe() : "-";
      sig += ";";
    }
    auto key = std::make_pair(&node, sig);
    auto it = function_cache.find(key);
    if (it != function_cache.end()) return &it->second;
    onnx::FunctionBodyBuildContextImpl ctx(node, types);
    onnx::FunctionProto body;
    if (!schema->BuildContextDependentFunction(ctx, body)) return nullptr;
    return &function_cache.emplace(key, std::move(body)).first->second;
  }

  // The body of `f` with attribute references (ref_attr_name) replaced by the caller's values.
  // An attribute the caller does not set takes the function's default (FunctionProto
  // attribute_proto for a model-local function, the schema's default for an op's body); a
  // reference with neither is dropped, so the inner op's own default applies.
  const std::vector<onnx::NodeProto>& ResolvedBody(const onnx::FunctionProto& f,
                                                   const onnx::OpSchema* schema,
                                                   const onnx::NodeProto& caller) {
    auto key = std::make_pair(&f, &caller);
    auto it = resolved_bodies.find(key);
    if (it != resolved_bodies.end()) return it->second;
    std::map<std::string, const onnx::AttributeProto*> attr_values;
    if (schema != nullptr) {
      for (const auto& [name, attr] : schema->attributes()) {
        if (attr.default_value.type() != onnx::AttributeProto::UNDEFINED)
          attr_values[name] = &attr.default_value;
      }
    }
    for (const auto& a : f.attribute_proto()) attr_values[a.name()] = &a;
    for (const auto& a : caller.attribute()) attr_values[a.name()] = &a;
    std::vector<onnx::NodeProto> body;
    for (const auto& fnode : f.node()) {
      onnx::NodeProto& resolved = body.emplace_back(fnode);
      resolved.clear_attribute();
      for (const auto& a : fnode.attribute()) {
        if (a.ref_attr_name().empty()) {
          *resolved.add_attribute() = a;
          continue;
        }
        auto ca = attr_values.find(a.ref_attr_name());
        if (ca == attr_values.end()) continue;
        onnx::AttributeProto copy = *ca->second;
        copy.set_name(a.name());
        *resolved.add_attribute() = copy;
      }
    }
    return resolved_bodies.emplace(key, std::move(body)).first->second;
  }

  std::vector<Value> ExecFunction(const onnx::FunctionProto& f, const onnx::OpSchema* schema,
                                  const onnx::NodeProto& caller,
                                  const std::vector<const Value*>& ins,
                                  const std::map<std::string, int64_t>& caller_opsets) {
    std::map<std::string, int64_t> fopsets = caller_opsets;
    for (const auto& op : f.opset_import()) fopsets[CanonicalDomain(op.domain())] = op.version();
    Scope scope;
    for (int i = 0; i < f.input_size() && i < static_cast<int>(ins.size()); ++i) {
      if (ins[static_cast<size_t>(i)] != nullptr)
        scope.borrowed[f.input(i)] = ins[static_cast<size_t>(i)];
    }
    for (const onnx::NodeProto& resolved : ResolvedBody(f, schema, caller)) {
      std::vector<Value> outs = ExecNode(resolved, scope, fopsets, nullptr);
      for (int k = 0; k < resolved.output_size(); ++k) {
        if (resolved.output(k).empty() || static_cast<size_t>(k) >= outs.size()) continue;
        scope.owned[resolved.output(k)] = std::move(outs[static_cast<size_t>(k)]);
      }
    }
    std::vector<Value> result;
    for (int i = 0; i < f.output_size(); ++i) {
      if (i < caller.output_size() && caller.output(i).empty()) {
        result.emplace_back();
        continue;
      }
      const Value* v = scope.Find(f.output(i));
      if (v == nullptr) {
        if (i >= caller.output_size()) break;
        Fail(ErrorKind::kInternal, "function {} did not produce output '{}'", f.name(),
             f.output(i));
      }
      result.push_back(*v);
    }
    return result;
  }
};

Interpreter::Interpreter(const Model& model, const Registry& registry, int threads)
    : impl_(std::make_unique<Impl>(model, registry, threads)) {}

Interpreter::~Interpreter() = default;

std::vector<Value> Interpreter::Run(const std::map<std::string, Value>& inputs,
                                    std::map<std::string, Value>* taps) {
  const onnx::GraphProto& g = impl_->model.graph();
  std::set<std::string> known;
  std::vector<const Value*> bound;
  for (const auto& vi : g.input()) {
    known.insert(vi.name());
    auto it = inputs.find(vi.name());
    if (it != inputs.end()) {
      CheckValueAgainstType(it->second, vi.type(), fmt::format("input '{}'", vi.name()));
      bound.push_back(&it->second);
    } else if (impl_->initializers.count(vi.name())) {
      bound.push_back(&impl_->initializers.at(vi.name()));
    } else if (vi.type().has_optional_type()) {
      bound.push_back(nullptr);
    } else {
      Fail(ErrorKind::kInput, "missing model input '{}' ({})", vi.name(), TypeToString(vi.type()));
    }
  }
  for (const auto& [name, v] : inputs) {
    if (!known.count(name)) {
      std::vector<std::string> names;
      for (const auto& vi : g.input()) {
        if (!impl_->initializers.count(vi.name())) names.push_back(vi.name());
      }
      Fail(ErrorKind::kInput, "'{}' is not an input of the model (inputs: {})", name,
           fmt::join(names, ", "));
    }
  }
  timings_.clear();
  impl_->timings = &timings_;
  // Graph inputs that are optional and absent resolve to "none".
  Value none;
  for (auto& p : bound) {
    if (p == nullptr) p = &none;
  }
  return impl_->ExecGraph(g, nullptr, bound, impl_->opsets, taps, true);
}

}  // namespace concord::ref
