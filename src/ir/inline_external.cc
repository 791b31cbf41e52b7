// CountExternalTensors / InlineExternalData (external_data.h).
#include <onnx/onnx_pb.h>

#include <functional>

#include "ir/dtype.h"
#include "ir/error.h"
#include "ir/external_data.h"
#include "ir/model.h"

namespace concord {

namespace {

using TensorFn = std::function<void(onnx::TensorProto*)>;

void ForEachTensor(onnx::GraphProto* g, const TensorFn& fn);

void ForEachTensor(onnx::AttributeProto* a, const TensorFn& fn) {
  if (a->has_t()) fn(a->mutable_t());
  for (auto& t : *a->mutable_tensors()) fn(&t);
  if (a->has_g()) ForEachTensor(a->mutable_g(), fn);
  for (auto& g : *a->mutable_graphs()) ForEachTensor(&g, fn);
}

void ForEachTensor(onnx::GraphProto* g, const TensorFn& fn) {
  for (auto& t : *g->mutable_initializer()) fn(&t);
  for (auto& node : *g->mutable_node()) {
    for (auto& a : *node.mutable_attribute()) ForEachTensor(&a, fn);
  }
}

bool IsExternal(const onnx::TensorProto& t) {
  return t.data_location() == onnx::TensorProto::EXTERNAL;
}

int CountIn(const onnx::GraphProto& g);

int CountIn(const onnx::AttributeProto& a) {
  int n = a.has_t() && IsExternal(a.t());
  for (const auto& t : a.tensors()) n += IsExternal(t);
  if (a.has_g()) n += CountIn(a.g());
  for (const auto& g : a.graphs()) n += CountIn(g);
  return n;
}

int CountIn(const onnx::GraphProto& g) {
  int n = 0;
  for (const auto& t : g.initializer()) n += IsExternal(t);
  for (const auto& node : g.node()) {
    for (const auto& a : node.attribute()) n += CountIn(a);
  }
  return n;
}

// Bytes of `t`'s payload; Error(kInput) for types or shapes external data cannot hold.
uint64_t PayloadBytes(const onnx::TensorProto& t, const std::string& what) {
  if (!IsValidDType(t.data_type()) || static_cast<DType>(t.data_type()) == DType::kString) {
    Fail(ErrorKind::kInput, "{}: tensor '{}' cannot be external data (type {})", what, t.name(),
         t.data_type());
  }
  const DType dt = static_cast<DType>(t.data_type());
  uint64_t n = DTypeSize(dt);
  for (int64_t d : t.dims()) {
    if (d < 0 || (d > 0 && n > (uint64_t{1} << 62) / static_cast<uint64_t>(d))) {
      Fail(ErrorKind::kInput, "{}: tensor '{}' has an impossible shape", what, t.name());
    }
    n *= static_cast<uint64_t>(d);
  }
  return StoredBytes(dt, n / DTypeSize(dt));
}

}  // namespace

int CountExternalTensors(const onnx::ModelProto& proto) {
  return proto.has_graph() ? CountIn(proto.graph()) : 0;
}

int InlineExternalData(onnx::ModelProto* proto, const std::string& base_dir,
                       const std::string& what) {
  if (!proto->has_graph()) return 0;
  uint64_t total = proto->ByteSizeLong();
  ForEachTensor(proto->mutable_graph(), [&](onnx::TensorProto* t) {
    if (IsExternal(*t)) total += PayloadBytes(*t, what) + 16;
  });
  if (total > kMaxModelBytes) {
    Fail(ErrorKind::kUnsupported,
         "{}: with its external data inlined the model would be {:.2f} GiB, over protobuf's 2 GiB "
         "limit; this environment needs the model as one message",
         what, static_cast<double>(total) / (1ull << 30));
  }
  int n = 0;
  ForEachTensor(proto->mutable_graph(), [&](onnx::TensorProto* t) {
    if (!IsExternal(*t)) return;
    std::string tensor_what = fmt::format("{}: tensor '{}'", what, t->name());
    std::string bytes = ReadExternalData(*t, base_dir, tensor_what, PayloadBytes(*t, what));
    t->clear_external_data();
    t->set_data_location(onnx::TensorProto::DEFAULT);
    t->set_raw_data(std::move(bytes));
    ++n;
  });
  return n;
}

}  // namespace concord
