// The oneDNN plan: traced once per input signature, replayed on later runs (dnnl_plan.h).
#include "backends/dnnl_plan.h"

#include <algorithm>
#include <set>

#include "backends/backend.h"
#include "backends/ref_backend.h"
#include "ir/error.h"
#include "ir/tensor_io.h"
#include "ir/value_io.h"

namespace concord::dnnl_internal {

memory::desc PlainMd(const Shape& dims) {
  static const memory::format_tag kTags[] = {memory::format_tag::a,     memory::format_tag::ab,
                                             memory::format_tag::abc,   memory::format_tag::abcd,
                                             memory::format_tag::abcde, memory::format_tag::abcdef};
  if (dims.empty() || dims.size() > 6)
    Fail(ErrorKind::kUnsupported, "oneDNN: rank {} has no plain layout here", dims.size());
  return memory::desc(dims, memory::data_type::f32, kTags[dims.size() - 1]);
}
memory::desc AnyMd(const Shape& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
}

// ---- the reference interpreter for nodes oneDNN does not run ---------------------------------

namespace {

// Shape inference may leave -1 (unknown) dims in subgraphs' declared types; a segment's model
// is validated again, so those become unknown dims.
void ClearNegativeDims(onnx::GraphProto* g) {
  auto fix = [](onnx::ValueInfoProto* vi) {
    if (!vi->type().has_tensor_type() || !vi->type().tensor_type().has_shape()) return;
    for (auto& d : *vi->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim())
      if (d.has_dim_value() && d.dim_value() < 0) d.clear_dim_value();
  };
  for (auto& vi : *g->mutable_input()) fix(&vi);
  for (auto& vi : *g->mutable_output()) fix(&vi);
  for (auto& vi : *g->mutable_value_info()) fix(&vi);
  for (auto& n : *g->mutable_node()) {
    for (auto& a : *n.mutable_attribute()) {
      if (a.has_g()) ClearNegativeDims(a.mutable_g());
      for (auto& sg : *a.mutable_graphs()) ClearNegativeDims(&sg);
    }
  }
}

struct SegmentState {
  std::unique_ptr<Model> model;
  std::unique_ptr<Session> session;
};

}  // namespace

RefSegment::RefSegment(const Model& model, const std::vector<int>& nodes,
                       const std::map<std::string, Tensor>& constants,
                       const std::map<std::string, Value>& external_inputs) {
  onnx::ModelProto sub;
  sub.set_ir_version(model.proto().ir_version());
  *sub.mutable_opset_import() = model.proto().opset_import();
  *sub.mutable_functions() = model.proto().functions();
  auto* g = sub.mutable_graph();
  g->set_name("onednn_fallback");
  std::set<std::string> produced, added;
  for (int i : nodes) {
    const auto& n = model.graph().node(i);
    for (const auto& r : NodeReads(n)) {
      if (produced.count(r) || added.count(r)) continue;
      if (auto c = constants.find(r); c != constants.end()) {
        TensorToProto(c->second, r, g->add_initializer());
      } else if (auto e = external_inputs.find(r); e != external_inputs.end()) {
        auto* in = g->add_input();
        in->set_name(r);
        *in->mutable_type() = TypeOfValue(e->second, TypeDetail::kRankOnly);  // shapes may change
        inputs_.push_back(r);
      } else {
        continue;  // produced inside a subgraph of the node itself
      }
      added.insert(r);
    }
    *g->add_node() = n;
    for (const auto& o : n.output()) {
      if (o.empty()) continue;
      produced.insert(o);
      auto* out = g->add_output();
      out->set_name(o);
      // element type only: declared shapes of inner values may be partial or stale
      const auto* t = model.FindType(o);
      if (t && t->has_tensor_type())
        out->mutable_type()->mutable_tensor_type()->set_elem_type(t->tensor_type().elem_type());
      outputs_.push_back(o);
    }
  }
  ClearNegativeDims(g);
  auto state = std::make_shared<SegmentState>();
  LoadOptions opts;
  opts.run_checker = false;
  opts.infer_shapes = false;
  state->model = std::make_unique<Model>(
      Model::FromProto(std::move(sub), model.base_dir(), "oneDNN fallback segment", opts));
  state->session = PrepareReference(*state->model);
  session_ = state;
}

std::vector<Value> RefSegment::Run(const std::map<std::string, Value>& inputs) {
  return static_cast<SegmentState*>(session_.get())->session->Run(inputs);
}

// ---- slots ------------------------------------------------------------------------------------

Plan::Impl::Impl(const Rewritten& r, const dnnl::engine& e, bool keep)
    : rw(r), engine(e), stream(e), keep_all(keep), remaining_uses(r.uses) {}

int Plan::Impl::Id(const std::string& name) {
  auto it = ids.find(name);
  if (it != ids.end()) return it->second;
  int id = static_cast<int>(slots.size());
  slots.emplace_back();
  slots.back().name = name;
  ids[name] = id;
  return id;
}

bool Plan::Impl::Known(const std::string& name) const {
  return ids.count(name) > 0 || IsConstant(name);
}

const Tensor* Plan::Impl::Constant(const std::string& name) const {
  auto it = rw.constants.find(name);
  return it == rw.constants.end() ? nullptr : &it->second;
}

bool Plan::Impl::F32(const std::string& name) const {
  if (const Tensor* c = Constant(name)) return c->dtype() == DType::kFloat32;
  auto it = ids.find(name);
  if (it == ids.end()) return false;
  const Slot& s = slots[static_cast<size_t>(it->second)];
  if (s.in_dnnl) return true;
  return s.plain_valid && s.plain.is_tensor() && s.plain.tensor.dtype() == DType::kFloat32;
}

Shape Plan::Impl::Dims(const std::string& name) const {
  if (const Tensor* c = Constant(name)) return c->shape();
  const Slot& s = slots[static_cast<size_t>(ids.at(name))];
  if (s.in_dnnl) return s.mem.get_desc().dims();
  return s.plain.tensor.shape();
}

void Plan::Impl::Step(std::function<void()> fn) {
  fn();
  steps.push_back(std::move(fn));
}

void Plan::Impl::Exec(dnnl::primitive prim, std::unordered_map<int, memory> args) {
  ++primitives;
  Step([this, prim = std::move(prim), args = std::move(args)] { prim.execute(stream, args); });
}

memory Plan::Impl::ConstMem(const Tensor& t, const memory::desc& want, const Shape& dims) {
  memory src(PlainMd(dims), engine, const_cast<void*>(t.raw()));
  if (src.get_desc() == want) return src;
  memory dst(want, engine);
  dnnl::reorder(src, dst).execute(stream, src, dst);
  stream.wait();
  return dst;
}

memory Plan::Impl::Need(const std::string& name, const memory::desc& want) {
  Slot& s = slots[static_cast<size_t>(Id(name))];
  for (const auto& [md, buf] : s.converted)
    if (md == want) return buf;
  memory src;
  if (const Tensor* c = Constant(name); c && !s.in_dnnl) {
    memory m = ConstMem(*c, want, c->shape());
    s.converted.emplace_back(want, m);
    return m;
  }
  if (s.in_dnnl) {
    if (s.mem.get_desc() == want) return s.mem;
    src = s.mem;
  } else {
    if (!s.view) {
      int id = ids.at(name);
      Shape dims = s.plain.tensor.shape();
      s.view = memory(PlainMd(dims), engine, s.plain.tensor.raw());
      Step([this, id, dims] {
        Slot& v = slots[static_cast<size_t>(id)];
        if (!v.plain.is_tensor() || v.plain.tensor.dtype() != DType::kFloat32 ||
            v.plain.tensor.shape() != dims)
          throw ReplanNeeded{};
        v.view.set_data_handle(v.plain.tensor.raw());
      });
    }
    if (s.view.get_desc() == want) return s.view;
    src = s.view;
  }
  memory buf(want, engine);
  dnnl::reorder prim(src, buf);
  Step([this, prim, src, buf]() mutable { prim.execute(stream, src, buf); });
  slots[static_cast<size_t>(ids.at(name))].converted.emplace_back(want, buf);
  return buf;
}

memory::desc Plan::Impl::LayoutOf(const std::string& name) {
  int id = Id(name);
  const Slot& s = slots[static_cast<size_t>(id)];
  if (s.in_dnnl) return s.mem.get_desc();
  return PlainMd(Dims(name));
}

memory Plan::Impl::Output(const std::string& name, const memory::desc& md) {
  Slot& s = slots[static_cast<size_t>(Id(name))];
  s.in_dnnl = true;
  s.produced = true;
  s.mem = memory(md, engine);
  return s.mem;
}

void Plan::Impl::Alias(const std::string& name, const memory& src, const Shape& dims) {
  Slot& s = slots[static_cast<size_t>(Id(name))];
  s.in_dnnl = true;
  s.produced = true;
  s.mem = memory(PlainMd(dims), engine, src.get_data_handle());
  aliased.push_back(src.get_data_handle());
}

const Value& Plan::Impl::Plain(const std::string& name) {
  Slot& s = slots[static_cast<size_t>(Id(name))];
  if (const Tensor* c = Constant(name); c && !s.in_dnnl && !s.plain_valid) {
    s.plain = *c;
    s.plain_valid = true;
  }
  if (s.plain_valid || !s.in_dnnl) return s.plain;
  Shape dims = s.mem.get_desc().dims();
  Tensor t(DType::kFloat32, dims);
  memory dst(PlainMd(dims), engine, t.raw());
  dnnl::reorder(s.mem, dst).execute(stream, s.mem, dst);
  stream.wait();
  s.plain = std::move(t);
  s.plain_valid = true;
  return s.plain;
}

bool Plan::Impl::DeadAfter(const std::string& name) const {
  if (keep_all) return false;
  auto it = remaining_uses.find(name);
  if (it == remaining_uses.end() || it->second != 0) return false;
  auto id = ids.find(name);
  if (id == ids.end() || !slots[static_cast<size_t>(id->second)].in_dnnl) return false;
  void* h = slots[static_cast<size_t>(id->second)].mem.get_data_handle();
  return std::find(aliased.begin(), aliased.end(), h) == aliased.end();
}

// ---- tracing and replay -----------------------------------------------------------------------

namespace {

// Ops a group can be built as on oneDNN (BuildDnnl decides on shapes and attributes).
bool MaybeDnnl(const onnx::NodeProto& n) {
  static const std::set<std::string> kOps = {"Conv",          "Gemm",
                                             "MatMul",        "MaxPool",
                                             "AveragePool",   "GlobalAveragePool",
                                             "GlobalMaxPool", "BatchNormalization",
                                             "Add",           "Sub",
                                             "Mul",           "Div",
                                             "Max",           "Min",
                                             "Concat",        "Softmax",
                                             "LogSoftmax",    "Relu",
                                             "LeakyRelu",     "Clip",
                                             "Sigmoid",       "Tanh",
                                             "Exp",           "Log",
                                             "Abs",           "Sqrt",
                                             "Neg",           "Elu",
                                             "HardSwish",     "Mish",
                                             "Gelu",          "Resize",
                                             "Reshape",       "Flatten",
                                             "Squeeze",       "Unsqueeze",
                                             "Identity"};
  return (n.domain().empty() || n.domain() == "ai.onnx") && kOps.count(n.op_type()) > 0;
}

std::vector<std::string> GroupReadsOf(const Rewritten& rw, const Group& grp) {
  std::set<std::string> reads;
  auto add = [&](int i) {
    for (const auto& r : NodeReads(rw.model->graph().node(i))) reads.insert(r);
  };
  add(grp.node);
  for (int f : grp.fused) add(f);
  return {reads.begin(), reads.end()};
}

}  // namespace

Plan::Plan(const Rewritten& rw, const dnnl::engine& engine, const ValueMap& inputs, bool keep_all)
    : impl_(std::make_unique<Impl>(rw, engine, keep_all)) {
  Impl& p = *impl_;
  for (const auto& [name, v] : inputs) {
    Impl::Slot& s = p.slots[static_cast<size_t>(p.Id(name))];
    s.plain = v;
    s.plain_valid = true;
  }
  std::vector<int> pending;  // nodes waiting for the reference interpreter, in order
  auto flush = [&] {
    if (pending.empty()) return;
    std::sort(pending.begin(), pending.end());
    std::map<std::string, Value> external;
    for (int i : pending)
      for (const auto& r : NodeReads(p.node(i)))
        if (p.ids.count(r) && !p.IsConstant(r)) external[r] = p.Plain(r);
    auto seg = std::make_shared<RefSegment>(*rw.model, pending, rw.constants, external);
    std::vector<int> out_ids;
    for (const auto& o : seg->outputs()) out_ids.push_back(p.Id(o));
    p.fallback_nodes += static_cast<int>(pending.size());
    p.Step([&p, seg, out_ids] {
      std::map<std::string, Value> ins;
      for (const auto& name : seg->inputs()) ins[name] = p.Plain(name);
      auto outs = seg->Run(ins);
      for (size_t k = 0; k < outs.size(); ++k) {
        Impl::Slot& s = p.slots[static_cast<size_t>(out_ids[k])];
        s.in_dnnl = false;
        s.produced = true;
        s.plain = std::move(outs[k]);
        s.plain_valid = true;
      }
    });
    pending.clear();
  };
  for (const auto& grp : rw.groups) {
    for (const auto& r : GroupReadsOf(rw, grp)) --p.remaining_uses[r];
    bool built = false;
    if (!rw.whole_graph_on_ref && MaybeDnnl(p.node(grp.node))) {
      flush();
      built = BuildDnnl(p, grp);
    }
    if (!built) {
      pending.push_back(grp.node);
      pending.insert(pending.end(), grp.fused.begin(), grp.fused.end());
    }
  }
  flush();
  p.stream.wait();
}

Plan::~Plan() = default;

int Plan::primitives() const { return impl_->primitives; }
int Plan::fallback_nodes() const { return impl_->fallback_nodes; }

std::vector<Value> Plan::TakeTraceOutputs(ValueMap* taps) {
  Impl& p = *impl_;
  std::vector<Value> outs;
  for (const auto& o : p.rw.model->graph().output()) outs.push_back(p.Plain(o.name()));
  if (taps) {
    for (const auto& s : p.slots)
      if (s.produced) (*taps)[s.name] = p.Plain(s.name);
  }
  return outs;
}

std::vector<Value> Plan::Run(const ValueMap& inputs, ValueMap* taps) {
  Impl& p = *impl_;
  for (auto& s : p.slots) {
    if (s.in_dnnl || s.produced) s.plain_valid = false;
  }
  for (const auto& [name, v] : inputs) {
    auto it = p.ids.find(name);
    if (it == p.ids.end()) continue;
    Impl::Slot& s = p.slots[static_cast<size_t>(it->second)];
    s.plain = v;
    s.plain_valid = true;
  }
  for (auto& step : p.steps) step();
  p.stream.wait();
  return TakeTraceOutputs(taps);
}

}  // namespace concord::dnnl_internal
