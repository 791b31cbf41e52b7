// ai.onnx.ml ops other than the tree ensembles (ml_tree.cc): the preprocessing ops sklearn
// pipelines convert to (Binarizer, Scaler, Normalizer, OneHotEncoder, LabelEncoder,
// ArrayFeatureExtractor, Imputer, FeatureVectorizer), the linear models, and ZipMap, which ref
// refuses (see below).
//
// Semantics follow ONNX's reference (onnx/reference/ops/aionnxml) and, where it is silent or
// disagrees, ONNX Runtime, whose behaviour converted models are tested against: Normalizer MAX
// divides by the row's maximum as the spec's formula says (ONNX's reference uses the largest
// absolute value); LinearClassifier picks labels from the raw scores and writes a one-score
// binary model's scores as [1 - s, s], both as ONNX Runtime does.
#include <map>
#include <unordered_map>

#include "ref/ops/common.h"
#include "ref/ops/ml_util.h"
#include "ref/registry.h"

namespace concord::ref {
namespace {

// ---- element-wise ---------------------------------------------------------------------------

// Y = X > threshold ? 1 : 0, in X's type.
std::vector<Value> Binarizer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const double threshold = ctx.GetFloat("threshold", 0.0f);
  return Out(DispatchNumeric(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return MapUnary<T>(ctx, x, x.dtype(), [&](T v) {
      return static_cast<double>(Up(v)) > threshold ? Down<T>(1) : Down<T>(0);
    });
  }));
}

// The per-column list attribute `name` for a row length c: one value for every column, or c.
std::vector<double> PerColumn(const KernelContext& ctx, const std::string& name, int64_t c) {
  std::vector<float> v = ctx.GetFloats(name);
  if (v.size() != 1 && static_cast<int64_t>(v.size()) != c)
    ctx.Fail("attribute '{}' has {} values; expected 1 or {} (the last dimension)", name, v.size(),
             c);
  std::vector<double> out(static_cast<size_t>(c));
  for (int64_t j = 0; j < c; ++j) out[static_cast<size_t>(j)] = v[v.size() == 1 ? 0 : j];
  return out;
}

// Y = (X - offset) * scale per column, computed in double (as ONNX's reference), float out.
std::vector<Value> Scaler(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const int64_t c = x.rank() == 0 ? 1 : x.shape().back();
  std::vector<double> offset = PerColumn(ctx, "offset", c), scale = PerColumn(ctx, "scale", c);
  if (!IsFloating(x.dtype()) && !IsInteger(x.dtype()))
    ctx.Unsupported("element type {} (numeric types only)", DTypeName(x.dtype()));
  Tensor y(DType::kFloat32, x.shape());
  float* py = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) {
    size_t j = static_cast<size_t>(i % c);
    py[i] = static_cast<float>((x.GetDouble(i) - offset[j]) * scale[j]);
  }
  return Out(std::move(y));
}

// Each row divided by its maximum, its L1 norm or its L2 norm; a row whose divisor is zero
// stays as it is.
std::vector<Value> Normalizer(KernelContext& ctx) {
  const std::string norm = ctx.GetString("norm", "MAX");
  if (norm != "MAX" && norm != "L1" && norm != "L2")
    ctx.Fail("norm '{}' is not one of MAX, L1, L2", norm);
  Rows x = InputRows(ctx, 0);
  std::vector<double> out(x.values.size());
  for (int64_t r = 0; r < x.n; ++r) {
    const double* row = x.row(r);
    double d = 0;
    if (norm == "MAX") {
      d = -std::numeric_limits<double>::max();
      for (int64_t j = 0; j < x.c; ++j) d = std::max(d, row[j]);
    } else {
      for (int64_t j = 0; j < x.c; ++j) d += norm == "L1" ? std::fabs(row[j]) : row[j] * row[j];
      if (norm == "L2") d = std::sqrt(d);
    }
    for (int64_t j = 0; j < x.c; ++j)
      out[static_cast<size_t>(r * x.c + j)] = d != 0 ? row[j] / d : row[j];
  }
  Tensor y = FloatMatrix(x.n, x.c, out);
  return Out(y.Reshaped(ctx.input(0).shape()));
}

// Replaces `imputed_value_floats`/`_int64s` (one, or one per column) where X equals
// `replaced_value_float`/`_int64` (NaN matches NaN).
std::vector<Value> Imputer(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor y = x;
  const int64_t c = x.rank() == 0 ? 1 : x.shape().back();
  auto pick = [&](size_t n, int64_t i) -> size_t {
    if (n != 1 && static_cast<int64_t>(n) != c)
      ctx.Fail("{} imputed values for rows of {}; expected 1 or {}", n, c, c);
    return n == 1 ? 0 : static_cast<size_t>(i % c);
  };
  if (IsFloating(x.dtype())) {
    std::vector<float> imputed = ctx.GetFloats("imputed_value_floats");
    const float replaced = ctx.GetFloat("replaced_value_float", 0.0f);
    return Out(DispatchFloat(ctx, x.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* p = y.data<T>();
      for (int64_t i = 0; i < x.numel(); ++i) {
        float v = static_cast<float>(Up(p[i]));
        bool hit = std::isnan(replaced) ? std::isnan(v) : v == replaced;
        if (hit) p[i] = Down<T>(imputed[pick(imputed.size(), i)]);
      }
      return y;
    }));
  }
  if (x.dtype() != DType::kInt64 && x.dtype() != DType::kInt32)
    ctx.Unsupported("element type {} (float, double, int64, int32 only)", DTypeName(x.dtype()));
  std::vector<int64_t> imputed = ctx.GetInts("imputed_value_int64s");
  const int64_t replaced = ctx.GetInt("replaced_value_int64", 0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    if (x.dtype() == DType::kInt64 && y.data<int64_t>()[i] == replaced)
      y.data<int64_t>()[i] = imputed[pick(imputed.size(), i)];
    if (x.dtype() == DType::kInt32 && y.data<int32_t>()[i] == replaced)
      y.data<int32_t>()[i] = static_cast<int32_t>(imputed[pick(imputed.size(), i)]);
  }
  return Out(std::move(y));
}

// ---- gathering and encoding ------------------------------------------------------------------

// Columns `indices` (flattened) of the last axis; a 1-D input reads as one row, so the output is
// [1, k] then (ONNX Runtime's shape, which ONNX's reference follows).
std::vector<Value> ArrayFeatureExtractor(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<int64_t> idx = ToInt64Vector(ctx, ctx.input(1).Reshaped({ctx.input(1).numel()}));
  if (x.rank() == 0) ctx.Fail("input X must have at least one dimension");
  const int64_t c = x.shape().back(), k = static_cast<int64_t>(idx.size());
  for (int64_t i : idx) {
    if (i < 0 || i >= c) ctx.Fail("index {} is out of range for a last dimension of {}", i, c);
  }
  Shape out_shape = x.shape();
  out_shape.back() = k;
  if (x.rank() == 1) out_shape = {1, k};
  Tensor y(x.dtype(), out_shape);
  const int64_t rows = c == 0 ? 0 : x.numel() / c;
  DispatchAll(ctx, x.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data<T>();
    T* py = y.data<T>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < k; ++j) py[r * k + j] = px[r * c + idx[static_cast<size_t>(j)]];
    }
  });
  return Out(std::move(y));
}

// X's shape plus one axis of len(categories): 1 where the element is that category. Numbers are
// matched against cats_int64s after truncation to int64 (as ONNX Runtime does), strings against
// cats_strings. An element in no category is all zeros, or an error when zeros=0.
std::vector<Value> OneHotEncoder(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  const bool zeros = ctx.GetInt("zeros", 1) != 0;
  std::map<int64_t, int64_t> ints;
  std::map<std::string, int64_t> strings;
  std::vector<int64_t> ci = ctx.GetInts("cats_int64s");
  std::vector<std::string> cs = ctx.GetStrings("cats_strings");
  for (size_t i = 0; i < ci.size(); ++i) ints.emplace(ci[i], static_cast<int64_t>(i));
  for (size_t i = 0; i < cs.size(); ++i) strings.emplace(cs[i], static_cast<int64_t>(i));
  const bool is_string = x.dtype() == DType::kString;
  const int64_t n = static_cast<int64_t>(is_string ? cs.size() : ci.size());
  if (n == 0)
    ctx.Fail("no categories for {} input (cats_{} is empty)", DTypeName(x.dtype()),
             is_string ? "strings" : "int64s");
  Shape shape = x.shape();
  shape.push_back(n);
  Tensor y(DType::kFloat32, shape);
  float* py = y.data<float>();
  std::fill(py, py + y.numel(), 0.0f);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t cat = -1;
    if (is_string) {
      auto it = strings.find(x.data<std::string>()[i]);
      if (it != strings.end()) cat = it->second;
    } else {
      auto it = ints.find(static_cast<int64_t>(x.GetDouble(i)));
      if (it != ints.end()) cat = it->second;
    }
    if (cat >= 0) {
      py[i * n + cat] = 1;
    } else if (!zeros) {
      ctx.Fail("element {} is in no category and zeros=0", i);
    }
  }
  return Out(std::move(y));
}

// Concatenates every input's rows along the last axis: [N, C_i] (or [N]) inputs, float output.
// `inputdimensions` gives each input's width.
std::vector<Value> FeatureVectorizer(KernelContext& ctx) {
  std::vector<int64_t> dims = ctx.GetInts("inputdimensions");
  if (dims.size() != ctx.num_inputs())
    ctx.Fail("inputdimensions has {} entries for {} inputs", dims.size(), ctx.num_inputs());
  const int64_t n = ctx.input(0).rank() == 0 ? 1 : ctx.input(0).dim(0);
  int64_t total = 0;
  for (int64_t d : dims) total += d;
  std::vector<double> out(static_cast<size_t>(n * total), 0.0);
  int64_t offset = 0;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor& x = ctx.input(k);
    const int64_t rows = x.rank() == 0 ? 1 : x.dim(0);
    const int64_t c = rows == 0 ? 0 : x.numel() / rows;
    if (rows != n) ctx.Fail("input {} has {} rows, input 0 has {}", k, rows, n);
    // Narrower inputs are padded with zeros; wider ones are cut to inputdimensions.
    for (int64_t r = 0; r < n; ++r) {
      for (int64_t j = 0; j < std::min(c, dims[k]); ++j)
        out[static_cast<size_t>(r * total + offset + j)] = x.GetDouble(r * c + j);
    }
    offset += dims[k];
  }
  return Out(FloatMatrix(n, total, out));
}

// ---- LabelEncoder ----------------------------------------------------------------------------

// Keys and values of a LabelEncoder as 1-D tensors: from keys_/values_{strings,int64s,floats}
// or (opset 4) keys_tensor/values_tensor.
Tensor ListAttr(const KernelContext& ctx, const std::string& prefix) {
  if (auto t = ctx.GetTensor(prefix + "_tensor")) return t->Reshaped({t->numel()});
  if (const auto* a = ctx.attr(prefix + "_strings")) {
    std::vector<std::string> v(a->strings().begin(), a->strings().end());
    return Tensor::FromVector<std::string>({static_cast<int64_t>(v.size())}, v);
  }
  if (const auto* a = ctx.attr(prefix + "_int64s")) {
    std::vector<int64_t> v(a->ints().begin(), a->ints().end());
    return Tensor::FromVector<int64_t>({static_cast<int64_t>(v.size())}, v);
  }
  if (const auto* a = ctx.attr(prefix + "_floats")) {
    std::vector<float> v(a->floats().begin(), a->floats().end());
    return Tensor::FromVector<float>({static_cast<int64_t>(v.size())}, v);
  }
  ctx.Fail("no {}_strings, {}_int64s, {}_floats or {}_tensor attribute", prefix, prefix, prefix,
           prefix);
}

// The value for keys not in the map: default_tensor, else default_{string,int64,float} for
// values of that type, else the spec's defaults ("_Unused", -1, -0.0).
Tensor DefaultValue(const KernelContext& ctx, DType dt) {
  if (auto t = ctx.GetTensor("default_tensor")) {
    if (t->dtype() != dt || t->numel() != 1)
      ctx.Fail("default_tensor must be one {}, got {}", DTypeName(dt), t->Describe());
    return t->Reshaped({});
  }
  if (dt == DType::kString)
    return Tensor::Scalar<std::string>(ctx.GetString("default_string", "_Unused"));
  if (dt == DType::kInt64) return Tensor::Scalar<int64_t>(ctx.GetInt("default_int64", -1));
  if (dt == DType::kFloat32) return Tensor::Scalar<float>(ctx.GetFloat("default_float", -0.0f));
  Tensor t(dt, {});
  DispatchNumeric(ctx, dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    t.data<T>()[0] = Down<T>(IsFloating(dt) ? -0.0 : -1);
  });
  return t;
}

// Where each element of x sits in `keys` (-1 when absent; a repeated key's last position, as
// opset 4 specifies). Strings match exactly, numbers by value; a NaN key matches NaN elements
// from opset 4 on (before, NaN matches nothing, as in ONNX Runtime).
std::vector<int64_t> FindKeys(const KernelContext& ctx, const Tensor& x, const Tensor& keys) {
  const bool x_str = x.dtype() == DType::kString, k_str = keys.dtype() == DType::kString;
  if (x_str != k_str || (!x_str && IsFloating(x.dtype()) != IsFloating(keys.dtype())))
    ctx.Fail("input is {} but the keys are {}", DTypeName(x.dtype()), DTypeName(keys.dtype()));
  std::vector<int64_t> where(static_cast<size_t>(x.numel()), -1);
  if (x_str) {
    std::unordered_map<std::string, int64_t> map;
    for (int64_t i = 0; i < keys.numel(); ++i) map[keys.data<std::string>()[i]] = i;
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto it = map.find(x.data<std::string>()[i]);
      if (it != map.end()) where[static_cast<size_t>(i)] = it->second;
    }
    return where;
  }
  std::map<double, int64_t> map;  // NaN kept apart: it breaks the map's ordering
  int64_t nan_key = -1;
  for (int64_t i = 0; i < keys.numel(); ++i) {
    double k = keys.GetDouble(i);
    if (std::isnan(k)) {
      if (ctx.opset() >= 4) nan_key = i;
    } else {
      map[k] = i;
    }
  }
  for (int64_t i = 0; i < x.numel(); ++i) {
    double v = x.GetDouble(i);
    if (std::isnan(v)) {
      where[static_cast<size_t>(i)] = nan_key;
      continue;
    }
    auto it = map.find(v);
    if (it != map.end()) where[static_cast<size_t>(i)] = it->second;
  }
  return where;
}

// Maps each element through keys -> values (opsets 2 and 4).
std::vector<Value> LabelEncoder2(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  Tensor keys = ListAttr(ctx, "keys"), values = ListAttr(ctx, "values");
  if (keys.numel() != values.numel())
    ctx.Fail("{} keys but {} values", keys.numel(), values.numel());
  if (x.dtype() != DType::kString && !IsFloating(x.dtype()) && !IsInteger(x.dtype()))
    ctx.Unsupported("input element type {}", DTypeName(x.dtype()));
  Tensor def = DefaultValue(ctx, values.dtype());
  std::vector<int64_t> where = FindKeys(ctx, x, keys);
  Tensor y(values.dtype(), x.shape());
  DispatchAll(ctx, values.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* pv = values.data<T>();
    T* py = y.data<T>();
    for (int64_t i = 0; i < x.numel(); ++i) {
      int64_t w = where[static_cast<size_t>(i)];
      py[i] = w >= 0 ? pv[w] : def.data<T>()[0];
    }
  });
  return Out(std::move(y));
}

// Opset 1: strings to their index in classes_strings (default_int64 when absent), or int64
// indices to the string at that position (default_string when out of range).
std::vector<Value> LabelEncoder1(KernelContext& ctx) {
  const Tensor& x = ctx.input(0);
  std::vector<std::string> classes = ctx.GetStrings("classes_strings");
  if (x.dtype() == DType::kString) {
    std::unordered_map<std::string, int64_t> map;
    for (size_t i = 0; i < classes.size(); ++i) map.emplace(classes[i], static_cast<int64_t>(i));
    const int64_t def = ctx.GetInt("default_int64", -1);
    Tensor y(DType::kInt64, x.shape());
    for (int64_t i = 0; i < x.numel(); ++i) {
      auto it = map.find(x.data<std::string>()[i]);
      y.data<int64_t>()[i] = it != map.end() ? it->second : def;
    }
    return Out(std::move(y));
  }
  if (x.dtype() != DType::kInt64) ctx.Fail("input must be string or int64");
  const std::string def = ctx.GetString("default_string", "_Unused");
  Tensor y(DType::kString, x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t k = x.data<int64_t>()[i];
    bool in = k >= 0 && k < static_cast<int64_t>(classes.size());
    y.data<std::string>()[i] = in ? classes[static_cast<size_t>(k)] : def;
  }
  return Out(std::move(y));
}

// ---- linear models ---------------------------------------------------------------------------

// scores[N, targets] = X (cast to float, as ONNX Runtime computes) * coefficients^T + intercepts,
// accumulated in double.
std::vector<double> LinearScores(const KernelContext& ctx, const Rows& x, int64_t targets,
                                 const std::vector<float>& coef,
                                 const std::vector<float>& intercepts) {
  if (static_cast<int64_t>(coef.size()) != targets * x.c)
    ctx.Fail("{} coefficients for {} targets of {} features; expected {}", coef.size(), targets,
             x.c, targets * x.c);
  if (!intercepts.empty() && static_cast<int64_t>(intercepts.size()) != targets)
    ctx.Fail("{} intercepts for {} targets", intercepts.size(), targets);
  std::vector<double> s(static_cast<size_t>(x.n * targets));
  for (int64_t r = 0; r < x.n; ++r) {
    for (int64_t t = 0; t < targets; ++t) {
      double acc = intercepts.empty() ? 0.0 : intercepts[static_cast<size_t>(t)];
      for (int64_t j = 0; j < x.c; ++j) {
        acc += static_cast<double>(static_cast<float>(x.row(r)[j])) *
               coef[static_cast<size_t>(t * x.c + j)];
      }
      s[static_cast<size_t>(r * targets + t)] = static_cast<float>(acc);
    }
  }
  return s;
}

std::vector<Value> LinearRegressor(KernelContext& ctx) {
  Rows x = InputRows(ctx, 0);
  const int64_t targets = ctx.GetInt("targets", 1);
  const PostTransform post = PostTransformFromString(ctx, ctx.GetString("post_transform", "NONE"));
  std::vector<double> s =
      LinearScores(ctx, x, targets, ctx.GetFloats("coefficients"), ctx.GetFloats("intercepts"));
  // One target: only PROBIT applies (ONNX Runtime's batched score update).
  for (int64_t r = 0; r < x.n; ++r) {
    std::vector<double> row(s.begin() + r * targets, s.begin() + (r + 1) * targets);
    if (targets > 1 || post == PostTransform::kProbit) TransformRow(post, &row);
    std::copy(row.begin(), row.end(), s.begin() + r * targets);
  }
  return Out(FloatMatrix(x.n, targets, s));
}

// Labels (int64 or string) from the raw scores: the first maximum, or for one score s, the
// second label (or 1) when s > 0 and the first (or 0) otherwise. Scores [N, classes]; a
// one-score model with two labels writes [1 - s, s] (no transform but PROBIT, as ONNX Runtime).
std::vector<Value> LinearClassifier(KernelContext& ctx) {
  Rows x = InputRows(ctx, 0);
  std::vector<float> intercepts = ctx.GetFloats("intercepts");
  const int64_t classes = static_cast<int64_t>(intercepts.size());
  if (classes == 0) ctx.Fail("intercepts is empty: the class count comes from it");
  const PostTransform post = PostTransformFromString(ctx, ctx.GetString("post_transform", "NONE"));
  std::vector<int64_t> int_labels = ctx.GetInts("classlabels_ints");
  std::vector<std::string> str_labels = ctx.GetStrings("classlabels_strings");
  const bool strings = !str_labels.empty();
  const size_t n_labels = strings ? str_labels.size() : int_labels.size();
  if (classes > 1 && n_labels != static_cast<size_t>(classes))
    ctx.Fail("{} class labels for {} classes", n_labels, classes);
  std::vector<double> s = LinearScores(ctx, x, classes, ctx.GetFloats("coefficients"), intercepts);
  const bool second_class = classes == 1 && n_labels == 2;
  const int64_t out_classes = second_class ? 2 : classes;
  Tensor labels(strings ? DType::kString : DType::kInt64, {x.n});
  std::vector<double> z(static_cast<size_t>(x.n * out_classes));
  for (int64_t r = 0; r < x.n; ++r) {
    std::vector<double> row(s.begin() + r * classes, s.begin() + (r + 1) * classes);
    int64_t label = 0;
    if (classes == 1) {
      label = row[0] > 0 ? 1 : 0;
    } else {
      for (int64_t k = 1; k < classes; ++k)
        if (row[static_cast<size_t>(k)] > row[static_cast<size_t>(label)]) label = k;
    }
    if (strings) {
      labels.data<std::string>()[r] = classes == 1 && n_labels != 2
                                          ? std::to_string(label)
                                          : str_labels[static_cast<size_t>(label)];
    } else {
      labels.data<int64_t>()[r] =
          classes == 1 && n_labels != 2 ? label : int_labels[static_cast<size_t>(label)];
    }
    if (classes > 1 || post == PostTransform::kProbit) {
      TransformRow(post, &row);
    } else if (second_class) {
      row = {1 - row[0], row[0]};
    }
    std::copy(row.begin(), row.end(), z.begin() + r * out_classes);
  }
  std::vector<Value> out;
  out.emplace_back(std::move(labels));
  out.emplace_back(FloatMatrix(x.n, out_classes, z));
  return out;
}

// ZipMap turns scores into a sequence of maps (one {label: score} per row). Concord's Value holds
// tensors, sequences of tensors and "none" only, so ref cannot return it.
std::vector<Value> ZipMap(KernelContext& ctx) {
  ctx.Unsupported(
      "ZipMap returns a sequence of maps, which Concord's values (tensors, sequences of tensors, "
      "empty optionals) cannot hold; convert the model without it (skl2onnx: "
      "options={{'zipmap': False}}) and compare the probability tensor instead");
}

}  // namespace

void RegisterMlOps(Registry& r) {
  const std::string ml = "ai.onnx.ml";
  r.Add(ml, "ArrayFeatureExtractor", 1, ArrayFeatureExtractor);
  r.Add(ml, "Binarizer", 1, Binarizer);
  r.Add(ml, "FeatureVectorizer", 1, FeatureVectorizer);
  r.Add(ml, "Imputer", 1, Imputer);
  r.Add(ml, "LabelEncoder", 1, LabelEncoder1);
  r.Add(ml, "LabelEncoder", 2, LabelEncoder2);  // 4 added keys_tensor/values_tensor, more types
  r.Add(ml, "LinearClassifier", 1, LinearClassifier);
  r.Add(ml, "LinearRegressor", 1, LinearRegressor);
  r.Add(ml, "Normalizer", 1, Normalizer);
  r.Add(ml, "OneHotEncoder", 1, OneHotEncoder);
  r.Add(ml, "Scaler", 1, Scaler);
  r.Add(ml, "ZipMap", 1, ZipMap);
}

}  // namespace concord::ref
