// Sequence and optional ops. A sequence is Value::Sequence (tensors plus the element type, kept
// for empty sequences); an empty optional is Value::None and a present optional is its element.
#include "ref/ops/common.h"
#include "ref/ops/sequence_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

const Value& SeqInput(const KernelContext& ctx, size_t i) {
  const Value& v = ctx.value(i);
  if (!v.is_sequence()) ctx.Fail("input #{} must be a sequence, got {}", i, v.Describe());
  return v;
}

// Reads a scalar position and normalizes it against [-n, n-1] (or [-n, n] for insertion).
int64_t Position(const KernelContext& ctx, const Tensor& t, int64_t n, bool allow_end) {
  if (t.numel() != 1) ctx.Fail("position must be a scalar, got shape {}", ShapeToString(t.shape()));
  int64_t p = ToInt64Vector(ctx, t)[0];
  int64_t hi = allow_end ? n : n - 1;
  if (p < -n || p > hi) ctx.Fail("position {} is out of range for a sequence of length {}", p, n);
  return p < 0 ? p + n : p;
}

void CheckElemType(const KernelContext& ctx, const Value& seq, const Tensor& t) {
  if (seq.elem_type != DType::kUndefined && t.dtype() != seq.elem_type) {
    ctx.Fail("tensor of type {} does not match the sequence's element type {}",
             DTypeName(t.dtype()), DTypeName(seq.elem_type));
  }
}

std::vector<Value> SequenceEmpty(KernelContext& ctx) {
  auto dt = static_cast<int32_t>(ctx.GetInt("dtype", static_cast<int64_t>(DType::kFloat32)));
  if (!IsValidDType(dt)) ctx.Fail("invalid dtype {}", dt);
  return {Value::Sequence({}, static_cast<DType>(dt))};
}

std::vector<Value> SequenceConstruct(KernelContext& ctx) {
  if (ctx.num_inputs() == 0) ctx.Fail("needs at least one input");
  std::vector<Tensor> items;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    items.push_back(ctx.input(i));
    if (items.back().dtype() != items[0].dtype())
      ctx.Fail("all inputs must have the same element type");
  }
  DType dt = items[0].dtype();
  return {Value::Sequence(std::move(items), dt)};
}

std::vector<Value> SequenceInsert(KernelContext& ctx) {
  Value seq = SeqInput(ctx, 0);
  const Tensor& t = ctx.input(1);
  CheckElemType(ctx, seq, t);
  auto n = static_cast<int64_t>(seq.sequence.size());
  int64_t pos = n;
  if (const Tensor* p = ctx.optional_input(2)) pos = Position(ctx, *p, n, /*allow_end=*/true);
  seq.sequence.insert(seq.sequence.begin() + pos, t);
  seq.elem_type = t.dtype();
  return {std::move(seq)};
}

std::vector<Value> SequenceAt(KernelContext& ctx) {
  const Value& seq = SeqInput(ctx, 0);
  int64_t pos = Position(ctx, ctx.input(1), static_cast<int64_t>(seq.sequence.size()), false);
  return Out(seq.sequence[static_cast<size_t>(pos)]);
}

std::vector<Value> SequenceErase(KernelContext& ctx) {
  Value seq = SeqInput(ctx, 0);
  auto n = static_cast<int64_t>(seq.sequence.size());
  if (n == 0) ctx.Fail("cannot erase from an empty sequence");
  int64_t pos = n - 1;
  if (const Tensor* p = ctx.optional_input(1)) pos = Position(ctx, *p, n, false);
  seq.sequence.erase(seq.sequence.begin() + pos);
  return {std::move(seq)};
}

std::vector<Value> SequenceLength(KernelContext& ctx) {
  return Out(Tensor::Scalar<int64_t>(static_cast<int64_t>(SeqInput(ctx, 0).sequence.size())));
}

// split absent: pieces of size 1 (axis squeezed unless keepdims); scalar split: equal pieces of
// that size (the last may be smaller); 1-D split: explicit sizes summing to the axis length.
std::vector<Value> SplitToSequence(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.rank() == 0) ctx.Fail("input must have rank >= 1");
  const int64_t axis = NormalizeAxis(ctx, ctx.GetInt("axis", 0), x.rank());
  const int64_t len = x.dim(static_cast<int>(axis));
  std::vector<Tensor> items;
  const Tensor* split = ctx.optional_input(1);
  if (split == nullptr) {
    const bool keepdims = ctx.GetInt("keepdims", 1) != 0;
    for (int64_t i = 0; i < len; ++i)
      items.push_back(keepdims ? SliceAxis(ctx, x, axis, i, 1) : TakeAxis(ctx, x, axis, i));
    return {Value::Sequence(std::move(items), x.dtype())};
  }
  std::vector<int64_t> sizes = ToInt64Vector(ctx, *split);
  if (split->rank() == 0) {
    int64_t chunk = sizes[0];
    if (chunk <= 0) ctx.Fail("split size must be positive, got {}", chunk);
    sizes.clear();
    for (int64_t start = 0; start < len; start += chunk)
      sizes.push_back(std::min(chunk, len - start));
  } else if (split->rank() != 1) {
    ctx.Fail("split must be a scalar or 1-D tensor");
  }
  int64_t sum = 0;
  for (int64_t s : sizes) {
    if (s < 0) ctx.Fail("split sizes must be non-negative, got {}", s);
    sum += s;
  }
  if (sum != len) ctx.Fail("split sizes sum to {}, but the axis has length {}", sum, len);
  int64_t start = 0;
  for (int64_t s : sizes) {
    items.push_back(SliceAxis(ctx, x, axis, start, s));
    start += s;
  }
  return {Value::Sequence(std::move(items), x.dtype())};
}

std::vector<Value> ConcatFromSequence(KernelContext& ctx) {
  const Value& seq = SeqInput(ctx, 0);
  if (seq.sequence.empty()) ctx.Fail("cannot concatenate an empty sequence");
  const bool new_axis = ctx.GetInt("new_axis", 0) != 0;
  const int64_t rank = seq.sequence[0].rank() + (new_axis ? 1 : 0);
  const int64_t axis = NormalizeAxis(ctx, ctx.RequireInt("axis"), rank);
  return Out(ConcatAxis(ctx, seq.sequence, axis, new_axis));
}

// Runs the body once per position; sequence inputs contribute their element, tensors themselves.
std::vector<Value> SequenceMap(KernelContext& ctx) {
  const onnx::GraphProto* body = ctx.GetGraph("body");
  if (body == nullptr) ctx.Fail("required graph attribute 'body' is missing");
  const Value& first = SeqInput(ctx, 0);
  const size_t n = first.sequence.size();
  for (size_t i = 1; i < ctx.num_inputs(); ++i) {
    const Value& v = ctx.value(i);
    if (v.is_sequence() && v.sequence.size() != n)
      ctx.Fail("input sequences have different lengths ({} and {})", n, v.sequence.size());
  }
  if (body->output_size() != static_cast<int>(ctx.num_outputs())) {
    ctx.Fail("body has {} outputs, the node has {}", body->output_size(), ctx.num_outputs());
  }
  std::vector<std::vector<Tensor>> outs(ctx.num_outputs());
  for (size_t k = 0; k < n; ++k) {
    std::vector<Value> in;
    for (size_t i = 0; i < ctx.num_inputs(); ++i) {
      const Value& v = ctx.value(i);
      in.push_back(v.is_sequence() ? Value(v.sequence[k]) : v);
    }
    std::vector<Value> res = ctx.RunSubgraph(*body, in);
    for (size_t j = 0; j < outs.size(); ++j) {
      if (!res[j].is_tensor())
        ctx.Fail("body output #{} must be a tensor, got {}", j, res[j].Describe());
      outs[j].push_back(std::move(res[j].tensor));
    }
  }
  std::vector<Value> result;
  for (size_t j = 0; j < outs.size(); ++j) {
    DType dt = outs[j].empty() ? DType::kUndefined : outs[j][0].dtype();
    if (dt == DType::kUndefined) {  // empty input: element type from the body's declaration
      const auto& type = body->output(static_cast<int>(j)).type();
      if (type.has_tensor_type()) dt = static_cast<DType>(type.tensor_type().elem_type());
      if (type.has_sequence_type())
        dt = static_cast<DType>(type.sequence_type().elem_type().tensor_type().elem_type());
    }
    result.push_back(Value::Sequence(std::move(outs[j]), dt));
  }
  return result;
}

// ---- optionals
// -------------------------------------------------------------------------------------

std::vector<Value> Optional(KernelContext& ctx) {
  if (ctx.has_input(0)) return {ctx.value(0)};
  if (!ctx.has_attr("type")) ctx.Fail("an Optional without input needs the 'type' attribute");
  return {Value::None()};
}

std::vector<Value> OptionalHasElement(KernelContext& ctx) {
  bool has = ctx.has_input(0) && !ctx.value(0).is_none();
  return Out(Tensor::Scalar<bool>(has));
}

std::vector<Value> OptionalGetElement(KernelContext& ctx) {
  if (!ctx.has_input(0) || ctx.value(0).is_none()) ctx.Fail("the optional input is empty");
  return {ctx.value(0)};
}

}  // namespace

void RegisterSequenceOps(Registry& r) {
  r.Add("", "SequenceEmpty", 11, SequenceEmpty);
  r.Add("", "SequenceConstruct", 11, SequenceConstruct);
  r.Add("", "SequenceInsert", 11, SequenceInsert);
  r.Add("", "SequenceAt", 11, SequenceAt);
  r.Add("", "SequenceErase", 11, SequenceErase);
  r.Add("", "SequenceLength", 11, SequenceLength);
  r.Add("", "SplitToSequence", 11, SplitToSequence);
  r.Add("", "ConcatFromSequence", 11, ConcatFromSequence);
  r.Add("", "SequenceMap", 17, SequenceMap);
  r.Add("", "Optional", 15, Optional);
  // 18: the input may also be a plain tensor/sequence (or missing); the kernels accept that.
  r.Add("", "OptionalHasElement", 15, OptionalHasElement);
  r.Add("", "OptionalGetElement", 15, OptionalGetElement);
}

}  // namespace concord::ref
