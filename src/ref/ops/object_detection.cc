// Object-detection ops: NonMaxSuppression (10).
//
// Follows ONNX's reference (onnx/reference/ops/op_non_max_suppression.py, itself a port of
// onnxruntime): per batch and class, candidates above score_threshold (when given) are visited
// by decreasing score (ties: lower box index first) and kept unless their IoU with an already
// kept box of the same class exceeds iou_threshold. Output rows are [batch, class, box] in
// that visiting order, batches then classes ascending.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ref/ops/common.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

struct Box {
  float x_min, y_min, x_max, y_max;
};

// Box corners from the input encoding: [y1, x1, y2, x2] (any diagonal) or center form
// [x_center, y_center, width, height].
Box ReadBox(const float* b, bool center_point_box) {
  if (center_point_box) {
    float hw = b[2] / 2, hh = b[3] / 2;
    return {b[0] - hw, b[1] - hh, b[0] + hw, b[1] + hh};
  }
  return {std::min(b[1], b[3]), std::min(b[0], b[2]), std::max(b[1], b[3]), std::max(b[0], b[2])};
}

bool SuppressByIou(const Box& a, const Box& b, float iou_threshold) {
  float ix_min = std::max(a.x_min, b.x_min), ix_max = std::min(a.x_max, b.x_max);
  if (ix_max <= ix_min) return false;
  float iy_min = std::max(a.y_min, b.y_min), iy_max = std::min(a.y_max, b.y_max);
  if (iy_max <= iy_min) return false;
  float inter = (ix_max - ix_min) * (iy_max - iy_min);
  if (inter <= 0) return false;
  float area_a = (a.x_max - a.x_min) * (a.y_max - a.y_min);
  float area_b = (b.x_max - b.x_min) * (b.y_max - b.y_min);
  float uni = area_a + area_b - inter;
  if (area_a <= 0 || area_b <= 0 || uni <= 0) return false;
  return inter / uni > iou_threshold;
}

// A scalar (or one-element) optional input as float / int64.
std::optional<double> OptionalScalar(const KernelContext& ctx, size_t i) {
  const Tensor* t = ctx.optional_input(i);
  if (!t || t->numel() == 0) return std::nullopt;
  if (t->numel() != 1) ctx.Fail("input {} must be a scalar, got {}", i, t->Describe());
  return t->GetDouble(0);
}

std::vector<Value> NonMaxSuppression(KernelContext& ctx) {
  const Tensor& boxes_in = ctx.input(0);
  const Tensor& scores_in = ctx.input(1);
  if (boxes_in.rank() != 3 || boxes_in.dim(2) != 4) {
    ctx.Fail("boxes must be [num_batches, spatial_dimension, 4], got {}", boxes_in.Describe());
  }
  if (scores_in.rank() != 3 || scores_in.dim(0) != boxes_in.dim(0) ||
      scores_in.dim(2) != boxes_in.dim(1)) {
    ctx.Fail(
        "scores must be [num_batches, num_classes, spatial_dimension] matching boxes {}, got {}",
        boxes_in.Describe(), scores_in.Describe());
  }
  if (!IsFloating(boxes_in.dtype()) || !IsFloating(scores_in.dtype())) {
    ctx.Fail("boxes and scores must be float tensors");
  }
  bool center = ctx.GetInt("center_point_box", 0) != 0;
  const Tensor* max_t = ctx.optional_input(2);
  int64_t max_per_class = 0;
  if (max_t && max_t->numel() > 0) {
    if (max_t->numel() != 1) ctx.Fail("max_output_boxes_per_class must be a scalar");
    max_per_class = std::max<int64_t>(ToInt64Vector(ctx, *max_t)[0], 0);
  }
  float iou_threshold = static_cast<float>(OptionalScalar(ctx, 3).value_or(0.0));
  std::optional<double> score_threshold_d = OptionalScalar(ctx, 4);
  float score_threshold = static_cast<float>(score_threshold_d.value_or(0.0));

  // Compute in float32 as the reference does for float inputs.
  Tensor boxes_f =
      boxes_in.dtype() == DType::kFloat32 ? boxes_in : boxes_in.CastTo(DType::kFloat32);
  Tensor scores_f =
      scores_in.dtype() == DType::kFloat32 ? scores_in : scores_in.CastTo(DType::kFloat32);
  const float* boxes = boxes_f.data<float>();
  const float* scores = scores_f.data<float>();
  const int64_t num_batches = boxes_in.dim(0), num_boxes = boxes_in.dim(1),
                num_classes = scores_in.dim(1);

  std::vector<int64_t> selected;  // flattened rows of 3
  for (int64_t b = 0; b < num_batches; ++b) {
    std::vector<Box> batch_boxes;
    for (int64_t i = 0; i < num_boxes; ++i)
      batch_boxes.push_back(ReadBox(boxes + (b * num_boxes + i) * 4, center));
    for (int64_t c = 0; c < num_classes; ++c) {
      const float* cs = scores + (b * num_classes + c) * num_boxes;
      std::vector<int64_t> candidates;
      for (int64_t i = 0; i < num_boxes; ++i) {
        if (!score_threshold_d || cs[i] > score_threshold) candidates.push_back(i);
      }
      // Highest score first; equal scores: lower index first (NaN scores sort last).
      auto key = [&](int64_t i) {
        return std::isnan(cs[i]) ? -std::numeric_limits<float>::infinity() : cs[i];
      };
      std::stable_sort(candidates.begin(), candidates.end(),
                       [&](int64_t l, int64_t r) { return key(l) > key(r); });
      std::vector<int64_t> kept;
      for (int64_t i : candidates) {
        if (static_cast<int64_t>(kept.size()) >= max_per_class) break;
        bool keep = true;
        for (int64_t k : kept) {
          if (SuppressByIou(batch_boxes[static_cast<size_t>(i)],
                            batch_boxes[static_cast<size_t>(k)], iou_threshold)) {
            keep = false;
            break;
          }
        }
        if (!keep) continue;
        kept.push_back(i);
        selected.insert(selected.end(), {b, c, i});
      }
    }
  }
  int64_t rows = static_cast<int64_t>(selected.size() / 3);
  return Out(Tensor::FromVector<int64_t>({rows, 3}, selected));
}

}  // namespace

void RegisterObjectDetectionOps(Registry& r) {
  r.Add("", "NonMaxSuppression", 10, NonMaxSuppression);  // 11 only clarified flipped corners
}

}  // namespace concord::ref
