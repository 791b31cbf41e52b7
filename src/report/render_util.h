// Helpers shared by the report renderers (html.cc, markdown.cc); internal to src/report.
//
// Tolerant accessors over the analysis document: a missing key, a null or a value of the wrong
// type reads as "absent" (empty string / nullopt / empty array), so a renderer never throws on a
// document that is incomplete; only the schema check (CheckSchema) rejects a document.
// Number formatting follows the reports' conventions: 3 significant digits, fixed notation for
// 0.001 <= |x| < 1000, integers above, scientific below; "—" for a value that is absent.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "ir/error.h"

namespace concord::report::detail {

using nlohmann::json;

inline constexpr const char* kSchema = "concord.analysis/1";
inline constexpr const char* kAbsent = "\u2014";  // em dash

// Error(kInput) unless `doc` is an object whose "schema" is concord.analysis/1.
inline void CheckSchema(const json& doc, const char* renderer) {
  if (!doc.is_object()) {
    Fail(ErrorKind::kInput,
         "{}: the analysis document is not a JSON object (got {}); pass the "
         "output of `concord report --json` / Analyze()",
         renderer, doc.type_name());
  }
  auto it = doc.find("schema");
  std::string schema = it != doc.end() && it->is_string() ? it->get<std::string>() : "(none)";
  if (schema != kSchema) {
    Fail(ErrorKind::kInput,
         "{}: the analysis document has schema '{}', this build renders '{}'; "
         "re-run the analysis with this version of concord",
         renderer, schema, kSchema);
  }
}

inline const json& Null() {
  static const json null;
  return null;
}
inline const json& EmptyArray() {
  static const json a = json::array();
  return a;
}
inline const json& EmptyObject() {
  static const json o = json::object();
  return o;
}

inline const json& Field(const json& j, const char* key) {
  if (!j.is_object()) return Null();
  auto it = j.find(key);
  return it == j.end() ? Null() : *it;
}
inline const json& Arr(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_array() ? v : EmptyArray();
}
inline const json& Obj(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_object() ? v : EmptyObject();
}
// Strings as they are, numbers and booleans as JSON writes them, anything else "".
inline std::string Str(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number() || v.is_boolean()) return v.dump();
  return "";
}
inline std::string Str(const json& j, const char* key) { return Str(Field(j, key)); }
inline std::optional<double> Num(const json& v) {
  if (!v.is_number()) return std::nullopt;
  double d = v.get<double>();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}
inline std::optional<double> Num(const json& j, const char* key) { return Num(Field(j, key)); }
inline long long Int(const json& j, const char* key, long long fallback = 0) {
  auto v = Num(j, key);
  return v ? static_cast<long long>(*v) : fallback;
}

// 3 significant digits (see the file comment).
inline std::string Sig3(double x) {
  if (!std::isfinite(x)) return kAbsent;
  double a = std::fabs(x);
  if (a == 0) return "0";
  if (a >= 1000) return fmt::format("{:.0f}", x);
  if (a < 0.001) return fmt::format("{:.2e}", x);
  int decimals = std::max(0, 2 - static_cast<int>(std::floor(std::log10(a))));
  std::string s = fmt::format("{:.{}f}", x, decimals);
  // rounding can add a digit (9.996 -> "10.00"): redo with one decimal less
  if (decimals > 0 && std::fabs(std::stod(s)) >= std::pow(10.0, 3 - decimals)) {
    s = fmt::format("{:.{}f}", x, decimals - 1);
  }
  return s;
}
inline std::string Sig3(const std::optional<double>& x) { return x ? Sig3(*x) : kAbsent; }
inline std::string Ms(const std::optional<double>& x) { return x ? Sig3(*x) + " ms" : kAbsent; }
// A fraction in [0, 1] as a percentage with one decimal: 0.75 -> "75.0 %".
inline std::string Pct(const std::optional<double>& fraction) {
  return fraction ? fmt::format("{:.1f} %", *fraction * 100.0) : kAbsent;
}
// A signed percentage change: 3.14 -> "+3.1 %".
inline std::string Change(const std::optional<double>& pct) {
  return pct ? fmt::format("{:+.1f} %", *pct) : kAbsent;
}

// A performance entry's per-call overhead: "0.05 ms (1.0 %, shared memory)".
inline std::string OverheadText(const json& perf) {
  auto ms = Num(perf, "overhead_ms");
  if (!ms) return kAbsent;
  auto pct = Num(perf, "overhead_pct");
  const json& transport = Field(perf, "transport");
  std::string how = transport.is_string() ? ", " + transport.get<std::string>() : "";
  return pct ? fmt::format("{} ms ({:.1f} %{})", Sig3(*ms), *pct, how)
             : fmt::format("{} ms{}", Sig3(*ms), how.empty() ? "" : " (" + how.substr(2) + ")");
}

// Class name for a canonical id: class_names[id] when present, else "#id".
inline std::string ClassName(const json& model, const json& cls) {
  auto id = Num(cls);
  if (!id) return kAbsent;
  const json& names = Arr(model, "class_names");
  long long i = static_cast<long long>(*id);
  if (i >= 0 && i < static_cast<long long>(names.size()) && names[i].is_string()) {
    return names[i].get<std::string>();
  }
  return fmt::format("#{}", i);
}

}  // namespace concord::report::detail
