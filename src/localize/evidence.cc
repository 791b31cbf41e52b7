// Evidence helpers of the analysis (analysis.h): attribute texts with schema defaults, static
// values, and what a parameter difference looks like.
#include <onnx/defs/schema.h>

#include <algorithm>
#include <cmath>

#include "ir/half.h"
#include "ir/tensor_io.h"
#include "localize/analysis.h"

namespace concord::localize::detail {

std::string NodeLabel(const onnx::NodeProto& n) {
  if (!n.name().empty()) return n.name();
  return n.output_size() > 0 ? n.output(0) : n.op_type();
}

std::map<std::string, std::string> Attrs(const onnx::NodeProto& n, int64_t opset) {
  std::map<std::string, std::string> r;
  for (const auto& a : n.attribute()) r[a.name()] = AttrText(a);
  const onnx::OpSchema* schema =
      onnx::OpSchemaRegistry::Schema(n.op_type(), static_cast<int>(opset), n.domain());
  if (schema) {
    for (const auto& [name, attr] : schema->attributes()) {
      if (!r.count(name) && attr.default_value.type() != onnx::AttributeProto::UNDEFINED) {
        r[name] = AttrText(attr.default_value);
      }
    }
  }
  return r;
}

std::string ImpliedDefault(const std::string& name, const std::string& other) {
  size_t commas = static_cast<size_t>(std::count(other.begin(), other.end(), ','));
  if (other.empty() || other[0] != '[') return "";
  std::vector<int64_t> v(commas + 1, name == "pads" ? 0 : 1);
  if (name == "pads" || name == "strides" || name == "dilations") return fmt::format("{}", v);
  return "";
}

namespace {

bool InitTensor(const Model& m, const std::string& name, Tensor* out) {
  for (const auto& t : m.graph().initializer()) {
    if (t.name() == name) {
      *out = TensorFromProto(t, m.base_dir(), "initializer '" + name + "'");
      return true;
    }
  }
  return false;
}

}  // namespace

bool StaticValue(const Model& m, const SideValues& v, const std::string& name, Tensor* out) {
  if (InitTensor(m, name, out)) return true;
  const Value* val = v.Find(0, name);
  if (val && val->is_tensor()) {
    *out = val->tensor;
    return true;
  }
  return false;
}

namespace {

std::vector<double> Doubles(const Tensor& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t.GetDouble(i);
  return v;
}

}  // namespace

std::string ParamHint(const Tensor& s, const Tensor& t) {
  if (s.shape() != t.shape()) {
    if (s.numel() == t.numel()) return "same values count, different shape (layout)";
    return "different shape";
  }
  std::vector<double> a = Doubles(s), b = Doubles(t);
  size_t n = a.size();
  bool fp16 = true, scaled = true;
  double k = 0;
  for (size_t i = 0; i < n; ++i) {
    if (static_cast<double>(static_cast<float>(Float16(static_cast<float>(a[i])))) != b[i])
      fp16 = false;
    if (a[i] != 0 && k == 0) k = b[i] / a[i];
    if (std::fabs(b[i] - k * a[i]) > 1e-6 * std::fabs(b[i]) + 1e-12) scaled = false;
  }
  if (fp16) return "float16 round trip of the source values";
  if (scaled && k != 0) return fmt::format("source values scaled by {:.4g}", k);
  if (s.rank() >= 2) {
    int r = s.rank();
    int64_t x = s.dim(r - 2), y = s.dim(r - 1);
    if (x == y) {
      bool tr = true;
      int64_t outer = s.numel() / (x * y);
      for (int64_t o = 0; o < outer && tr; ++o) {
        for (int64_t i = 0; i < x && tr; ++i) {
          for (int64_t j = 0; j < y && tr; ++j) {
            tr = a[static_cast<size_t>(o * x * y + i * y + j)] ==
                 b[static_cast<size_t>(o * x * y + j * x + i)];
          }
        }
      }
      if (tr) return "transposed in the last two axes";
    }
  }
  std::vector<double> sa = a, sb = b;
  std::sort(sa.begin(), sa.end());
  std::sort(sb.begin(), sb.end());
  if (sa == sb) return "same values, permuted (layout / channel order)";
  // Quantization: every value on the grid max|t| / 127 (symmetric int8 round trip).
  double mx = 0;
  for (double x : b) mx = std::max(mx, std::fabs(x));
  bool grid = mx > 0;
  for (size_t i = 0; i < n && grid; ++i) {
    double q = b[i] / (mx / 127);
    grid = std::fabs(q - std::round(q)) < 1e-3;
  }
  if (grid) return "int8 round trip (values on a 255-level grid)";
  return "values differ";
}

}  // namespace concord::localize::detail
