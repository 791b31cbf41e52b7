// ai.onnx.ml ZipMap-1: scores to a sequence of maps, one {label: score} per row of X.
//
// onnx.reference has no ZipMap; the semantics are the ONNX-ML spec's and onnxruntime's
// (ml/zipmap.cc): X is float, rank 1 (one row) or 2 ([N, C]); exactly one of
// classlabels_strings / classlabels_int64s is given, with one label per column. A label given
// twice is one key holding its last column's score (onnxruntime fills a map column by column),
// kept at its first position. The scores are copied exactly.
#include <map>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// The distinct labels (first-seen order) as a 1-D key tensor, and for each column the index of
// its label among them.
template <typename K>
Tensor DistinctKeys(const std::vector<K>& labels, std::vector<int64_t>* slot_of_column) {
  std::map<K, int64_t> slot;
  std::vector<K> keys;
  for (const K& label : labels) {
    auto [it, inserted] = slot.emplace(label, static_cast<int64_t>(keys.size()));
    if (inserted) keys.push_back(label);
    slot_of_column->push_back(it->second);
  }
  return Tensor::FromVector<K>({static_cast<int64_t>(keys.size())}, keys);
}

std::vector<Value> ZipMap(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  if (x.dtype() != DType::kFloat32) ctx.Fail("X must be float, got {}", DTypeName(x.dtype()));
  if (x.rank() != 1 && x.rank() != 2) ctx.Fail("X must be 1-D or 2-D, got {}", x.Describe());
  std::vector<std::string> strings = ctx.GetStrings("classlabels_strings");
  std::vector<int64_t> ints = ctx.GetInts("classlabels_int64s");
  if (strings.empty() == ints.empty())
    ctx.Fail("exactly one of classlabels_strings and classlabels_int64s must be given");
  std::vector<int64_t> slot_of_column;
  Tensor keys = strings.empty() ? DistinctKeys(ints, &slot_of_column)
                                : DistinctKeys(strings, &slot_of_column);
  const int64_t columns = x.dim(x.rank() - 1);
  const int64_t rows = x.rank() == 2 ? x.dim(0) : 1;
  if (columns != static_cast<int64_t>(slot_of_column.size()))
    ctx.Fail("X has {} columns but {} class labels are given", columns, slot_of_column.size());
  std::vector<MapValue> maps;
  maps.reserve(static_cast<size_t>(rows));
  const float* px = x.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    Tensor values(DType::kFloat32, {keys.numel()});
    float* pv = values.data<float>();
    for (int64_t c = 0; c < columns; ++c) pv[slot_of_column[c]] = px[r * columns + c];
    maps.push_back({keys, std::move(values)});
  }
  std::vector<Value> out;
  out.push_back(Value::MapSequence(std::move(maps), keys.dtype(), DType::kFloat32));
  return out;
}

}  // namespace

void RegisterZipMapOps(Registry& r) { r.Add("ai.onnx.ml", "ZipMap", 1, ZipMap); }

}  // namespace concord::ref
