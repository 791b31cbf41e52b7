// Control flow: If, Loop, Scan. Bodies run through ctx.RunSubgraph, which scopes them inside
// the calling node (they may read outer-scope values). Values flowing through bodies may be
// tensors, sequences or empty optionals; scan outputs are tensors stacked along an axis.
#include "ref/ops/common.h"
#include "ref/ops/sequence_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

const onnx::GraphProto& RequireGraph(const KernelContext& ctx, const char* name) {
  const onnx::GraphProto* g = ctx.GetGraph(name);
  if (g == nullptr) ctx.Fail("required graph attribute '{}' is missing", name);
  return *g;
}

bool ScalarBool(const KernelContext& ctx, const Value& v, const char* what) {
  if (!v.is_tensor()) ctx.Fail("{} must be a tensor, got {}", what, v.Describe());
  const Tensor& t = v.tensor;
  if (t.numel() != 1)
    ctx.Fail("{} must have exactly one element, got shape {}", what, ShapeToString(t.shape()));
  if (t.dtype() != DType::kBool) ctx.Fail("{} must be bool, got {}", what, DTypeName(t.dtype()));
  return t.data<bool>()[0];
}

const Tensor& AsTensor(const KernelContext& ctx, const Value& v, const char* what) {
  if (!v.is_tensor()) ctx.Fail("{} must be a tensor, got {}", what, v.Describe());
  return v.tensor;
}

// Stacks per-iteration scan values along `axis` (normalized against the stacked rank). With no
// iterations, the shape comes from the body output's declared type: [0] + its dims.
Tensor StackScan(const KernelContext& ctx, const std::vector<Tensor>& items, int64_t axis,
                 const onnx::ValueInfoProto& decl) {
  if (!items.empty()) return ConcatAxis(ctx, items, axis, /*new_axis=*/true);
  const auto& tt = decl.type().tensor_type();
  if (tt.elem_type() == 0)
    ctx.Unsupported("zero iterations and body output '{}' has no declared element type",
                    decl.name());
  Shape shape;
  for (const auto& d : tt.shape().dim()) {
    if (!d.has_dim_value())
      ctx.Unsupported("zero iterations and body output '{}' has a symbolic shape", decl.name());
    shape.push_back(d.dim_value());
  }
  if (axis < 0 || axis > static_cast<int64_t>(shape.size())) axis = 0;
  shape.insert(shape.begin() + axis, 0);
  return Tensor(static_cast<DType>(tt.elem_type()), shape);
}

// ---- If
// ------------------------------------------------------------------------------------------

std::vector<Value> If(KernelContext& ctx) {
  bool cond = ScalarBool(ctx, ctx.value(0), "cond");
  const onnx::GraphProto& g = RequireGraph(ctx, cond ? "then_branch" : "else_branch");
  std::vector<Value> outs = ctx.RunSubgraph(g, {});
  if (outs.size() != ctx.num_outputs()) {
    ctx.Fail("branch '{}' produced {} outputs, the node has {}", g.name(), outs.size(),
             ctx.num_outputs());
  }
  return outs;
}

// ---- Loop
// ---------------------------------------------------------------------------------------- Body:
// (iteration_num, cond, v_1..v_N) -> (cond, v_1..v_N, scan_1..scan_K).

std::vector<Value> Loop(KernelContext& ctx) {
  const onnx::GraphProto& body = RequireGraph(ctx, "body");
  const size_t n_carried = ctx.num_inputs() < 2 ? 0 : ctx.num_inputs() - 2;
  if (body.input_size() != static_cast<int>(n_carried) + 2) {
    ctx.Fail("body has {} inputs, expected {} (iteration, cond, {} loop-carried)",
             body.input_size(), n_carried + 2, n_carried);
  }
  if (body.output_size() < static_cast<int>(n_carried) + 1) {
    ctx.Fail("body has {} outputs, expected at least {}", body.output_size(), n_carried + 1);
  }
  const size_t n_scan = static_cast<size_t>(body.output_size()) - 1 - n_carried;
  if (ctx.num_outputs() > n_carried + n_scan)
    ctx.Fail("node has more outputs than the body provides");

  const Tensor* m_t = ctx.optional_input(0);
  int64_t max_trips = -1;  // -1: unbounded
  if (m_t != nullptr) {
    if (m_t->numel() != 1) ctx.Fail("M must have exactly one element");
    max_trips = std::max<int64_t>(ToInt64Vector(ctx, *m_t)[0], 0);
  }
  const bool has_cond = ctx.has_input(1) && !ctx.value(1).is_none();
  bool cond = has_cond ? ScalarBool(ctx, ctx.value(1), "cond") : true;
  if (m_t == nullptr && !has_cond) ctx.Unsupported("Loop with neither M nor cond never terminates");

  std::vector<Value> carried;
  for (size_t i = 0; i < n_carried; ++i)
    carried.push_back(ctx.has_input(i + 2) ? ctx.value(i + 2) : Value::None());
  std::vector<std::vector<Tensor>> scans(n_scan);

  for (int64_t it = 0; (max_trips < 0 || it < max_trips) && cond; ++it) {
    std::vector<Value> in;
    in.reserve(n_carried + 2);
    in.emplace_back(Tensor::Scalar<int64_t>(it));
    in.emplace_back(Tensor::Scalar<bool>(cond));
    for (auto& v : carried) in.push_back(std::move(v));
    std::vector<Value> out = ctx.RunSubgraph(body, in);
    if (has_cond) cond = ScalarBool(ctx, out[0], "body output cond");
    for (size_t i = 0; i < n_carried; ++i) carried[i] = std::move(out[i + 1]);
    for (size_t k = 0; k < n_scan; ++k) {
      scans[k].push_back(AsTensor(ctx, out[1 + n_carried + k], "scan output"));
    }
  }

  std::vector<Value> result;
  for (size_t i = 0; i < n_carried; ++i) result.push_back(std::move(carried[i]));
  for (size_t k = 0; k < n_scan; ++k) {
    result.emplace_back(
        StackScan(ctx, scans[k], 0, body.output(static_cast<int>(1 + n_carried + k))));
  }
  result.resize(ctx.num_outputs());
  return result;
}

// ---- Scan
// ---------------------------------------------------------------------------------------- Body:
// (state_1..state_N, scan_in_1..scan_in_M) -> (state_1..state_N, scan_out_1..scan_out_K).

struct ScanSetup {
  size_t n_state = 0, n_scan_in = 0, n_scan_out = 0;
};

ScanSetup CheckScanBody(const KernelContext& ctx, const onnx::GraphProto& body, size_t n_inputs) {
  ScanSetup s;
  const int64_t m = ctx.RequireInt("num_scan_inputs");
  if (m < 1 || static_cast<size_t>(m) > n_inputs)
    ctx.Fail("num_scan_inputs {} is invalid for {} inputs", m, n_inputs);
  s.n_scan_in = static_cast<size_t>(m);
  s.n_state = n_inputs - s.n_scan_in;
  if (body.input_size() != static_cast<int>(n_inputs))
    ctx.Fail("body has {} inputs, expected {}", body.input_size(), n_inputs);
  if (body.output_size() < static_cast<int>(s.n_state))
    ctx.Fail("body has fewer outputs than state variables");
  s.n_scan_out = static_cast<size_t>(body.output_size()) - s.n_state;
  return s;
}

// Runs the scan loop over `len` iterations. states: in/out. scan_in: tensors whose `axes[i]`
// is the scan axis. Returns per-output lists of per-iteration tensors (in iteration order).
std::vector<std::vector<Tensor>> RunScanLoop(KernelContext& ctx, const onnx::GraphProto& body,
                                             std::vector<Value>* states,
                                             const std::vector<Tensor>& scan_in,
                                             const std::vector<int64_t>& axes,
                                             const std::vector<int64_t>& in_dirs, int64_t len,
                                             size_t n_scan_out) {
  std::vector<std::vector<Tensor>> outs(n_scan_out);
  for (int64_t it = 0; it < len; ++it) {
    std::vector<Value> in = *states;
    for (size_t i = 0; i < scan_in.size(); ++i) {
      int64_t idx = in_dirs[i] == 1 ? len - 1 - it : it;
      in.emplace_back(TakeAxis(ctx, scan_in[i], axes[i], idx));
    }
    std::vector<Value> out = ctx.RunSubgraph(body, in);
    for (size_t i = 0; i < states->size(); ++i) (*states)[i] = std::move(out[i]);
    for (size_t k = 0; k < n_scan_out; ++k)
      outs[k].push_back(AsTensor(ctx, out[states->size() + k], "scan output"));
  }
  return outs;
}

std::vector<int64_t> DirectionList(const KernelContext& ctx, const char* name, size_t n) {
  std::vector<int64_t> v = ctx.GetInts(name, std::vector<int64_t>(n, 0));
  if (v.size() != n) ctx.Fail("attribute '{}' must have {} entries, got {}", name, n, v.size());
  for (int64_t d : v) {
    if (d != 0 && d != 1) ctx.Fail("attribute '{}' entries must be 0 or 1, got {}", name, d);
  }
  return v;
}

std::vector<Value> Scan9(KernelContext& ctx) {
  const onnx::GraphProto& body = RequireGraph(ctx, "body");
  ScanSetup s = CheckScanBody(ctx, body, ctx.num_inputs());
  std::vector<Value> states;
  for (size_t i = 0; i < s.n_state; ++i) states.push_back(ctx.value(i));
  std::vector<Tensor> scan_in;
  for (size_t i = 0; i < s.n_scan_in; ++i) scan_in.push_back(ctx.input(s.n_state + i));
  std::vector<int64_t> in_axes =
      ctx.GetInts("scan_input_axes", std::vector<int64_t>(s.n_scan_in, 0));
  if (in_axes.size() != s.n_scan_in) ctx.Fail("scan_input_axes must have {} entries", s.n_scan_in);
  std::vector<int64_t> in_dirs = DirectionList(ctx, "scan_input_directions", s.n_scan_in);
  std::vector<int64_t> out_axes =
      ctx.GetInts("scan_output_axes", std::vector<int64_t>(s.n_scan_out, 0));
  if (out_axes.size() != s.n_scan_out)
    ctx.Fail("scan_output_axes must have {} entries", s.n_scan_out);
  std::vector<int64_t> out_dirs = DirectionList(ctx, "scan_output_directions", s.n_scan_out);

  int64_t len = -1;
  for (size_t i = 0; i < s.n_scan_in; ++i) {
    in_axes[i] = NormalizeAxis(ctx, in_axes[i], scan_in[i].rank());
    int64_t l = scan_in[i].dim(static_cast<int>(in_axes[i]));
    if (len >= 0 && l != len)
      ctx.Fail("scan inputs have different sequence lengths ({} and {})", len, l);
    len = l;
  }
  auto per_iter = RunScanLoop(ctx, body, &states, scan_in, in_axes, in_dirs, len, s.n_scan_out);

  std::vector<Value> result = std::move(states);
  for (size_t k = 0; k < s.n_scan_out; ++k) {
    auto& items = per_iter[k];
    if (out_dirs[k] == 1) std::reverse(items.begin(), items.end());
    int64_t out_rank = (items.empty() ? 0 : items[0].rank()) + 1;
    if (items.empty()) {
      out_rank =
          body.output(static_cast<int>(s.n_state + k)).type().tensor_type().shape().dim_size() + 1;
    }
    int64_t axis = NormalizeAxis(ctx, out_axes[k], out_rank);
    result.emplace_back(StackScan(ctx, items, axis, body.output(static_cast<int>(s.n_state + k))));
  }
  result.resize(ctx.num_outputs());
  return result;
}

// Scan-8: input 0 is the optional sequence_lens; every other input has a leading batch axis and
// scan inputs are scanned along axis 1. Rows shorter than the longest are zero-padded.
std::vector<Value> Scan8(KernelContext& ctx) {
  const onnx::GraphProto& body = RequireGraph(ctx, "body");
  if (ctx.num_inputs() < 2) ctx.Fail("Scan-8 needs sequence_lens and at least one scan input");
  ScanSetup s = CheckScanBody(ctx, body, ctx.num_inputs() - 1);
  std::vector<int64_t> in_dirs = DirectionList(ctx, "directions", s.n_scan_in);
  const Tensor& first_scan = ctx.input(1 + s.n_state);
  if (first_scan.rank() < 2) ctx.Fail("scan inputs need [batch, sequence, ...] shape");
  const int64_t batch = first_scan.dim(0);
  const int64_t max_len = first_scan.dim(1);
  for (size_t i = 0; i < s.n_state + s.n_scan_in; ++i) {
    const Tensor& t = ctx.input(1 + i);
    if (t.rank() < 1 || t.dim(0) != batch)
      ctx.Fail("input #{} must have batch size {}", i + 1, batch);
    if (i >= s.n_state && (t.rank() < 2 || t.dim(1) != max_len))
      ctx.Fail("scan input #{} must have sequence length {}", i + 1, max_len);
  }
  std::vector<int64_t> lens(static_cast<size_t>(batch), max_len);
  if (const Tensor* sl = ctx.optional_input(0)) {
    lens = ToInt64Vector(ctx, *sl);
    if (static_cast<int64_t>(lens.size()) != batch)
      ctx.Fail("sequence_lens must have {} entries", batch);
    for (int64_t l : lens) {
      if (l < 0 || l > max_len) ctx.Fail("sequence_lens value {} is outside [0, {}]", l, max_len);
    }
  }
  std::vector<std::vector<Tensor>> state_rows(s.n_state), scan_rows(s.n_scan_out);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<Value> states;
    for (size_t i = 0; i < s.n_state; ++i)
      states.emplace_back(TakeAxis(ctx, ctx.input(1 + i), 0, b));
    std::vector<Tensor> scan_in;
    for (size_t i = 0; i < s.n_scan_in; ++i) {
      // Only the first len steps of this row take part (a reverse scan starts at len-1).
      Tensor row = TakeAxis(ctx, ctx.input(1 + s.n_state + i), 0, b);
      scan_in.push_back(SliceAxis(ctx, row, 0, 0, lens[static_cast<size_t>(b)]));
    }
    auto per_iter = RunScanLoop(ctx, body, &states, scan_in, std::vector<int64_t>(s.n_scan_in, 0),
                                in_dirs, lens[static_cast<size_t>(b)], s.n_scan_out);
    for (size_t i = 0; i < s.n_state; ++i)
      state_rows[i].push_back(AsTensor(ctx, states[i], "state"));
    for (size_t k = 0; k < s.n_scan_out; ++k) {
      auto& items = per_iter[k];
      if (items.empty()) ctx.Unsupported("Scan-8 rows of length 0");
      while (static_cast<int64_t>(items.size()) < max_len)
        items.emplace_back(items[0].dtype(), items[0].shape());
      scan_rows[k].push_back(ConcatAxis(ctx, items, 0, true));
    }
  }
  std::vector<Value> result;
  for (auto& rows : state_rows) result.emplace_back(ConcatAxis(ctx, rows, 0, true));
  for (auto& rows : scan_rows) result.emplace_back(ConcatAxis(ctx, rows, 0, true));
  result.resize(ctx.num_outputs());
  return result;
}

}  // namespace

void RegisterControlFlowOps(Registry& r) {
  // If/Loop: later versions widened the allowed types (sequences in 13, optionals in 16);
  // the kernels handle every Value kind, so one kernel serves every version.
  for (int v : {1, 11, 13, 16}) r.Add("", "If", v, If);
  for (int v : {1, 11, 13, 16}) r.Add("", "Loop", v, Loop);
  r.Add("", "Scan", 8, Scan8);
  for (int v : {9, 11, 16}) r.Add("", "Scan", v, Scan9);
}

}  // namespace concord::ref
