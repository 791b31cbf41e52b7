#include "campaign/fuzz_runner.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "backends/worker_backend.h"
#include "ir/clock.h"
#include "ir/error.h"

namespace concord {
namespace {

// Classifies an exception from a session (prepare, reload or run).
Outcome Classify(const Error& e, Session* session) {
  Outcome o;
  o.message = e.what();
  auto* w = dynamic_cast<WorkerSession*>(session);
  std::string failure = w ? w->failure() : "";
  if (!failure.empty() || o.message.find("the worker ") != std::string::npos) {
    std::string text = failure.empty() ? o.message : failure;
    o.symptom = text.find("hung") != std::string::npos ? "timeout" : "crash";
  } else if (e.kind() == ErrorKind::kUnsupported) {
    o.symptom = "unsupported";
  } else {
    o.symptom = "error";
  }
  return o;
}

bool IsWordChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// float16, int64, uint8, bfloat16: a dtype is part of a bug's identity, not a varying name.
bool IsDtypeName(const std::string& w) {
  for (const char* prefix : {"float", "bfloat", "int", "uint"}) {
    std::string p = prefix;
    if (w.size() > p.size() && w.compare(0, p.size(), p) == 0 &&
        std::all_of(w.begin() + static_cast<long>(p.size()), w.end(),
                    [](char d) { return std::isdigit(static_cast<unsigned char>(d)); })) {
      return true;
    }
  }
  return false;
}

}  // namespace

EnvSpec WorkerEnv(const std::string& env, double timeout_s) {
  EnvSpec spec = EnvSpec::Parse(env);
  if ((spec.backend == "ref" || spec.backend == "opencv") && spec.Get("host").empty()) {
    spec.options["isolate"] = "1";
  }
  if (!spec.options.count("timeout") && spec.Get("host").empty()) {
    spec.options["timeout"] = fmt::format("{}", timeout_s);
  }
  return spec;
}

EnvRunner::EnvRunner(std::string env, double timeout_s)
    : env_(std::move(env)), spec_(WorkerEnv(env_, timeout_s)) {}
EnvRunner::~EnvRunner() = default;
EnvRunner::EnvRunner(EnvRunner&&) = default;
EnvRunner& EnvRunner::operator=(EnvRunner&&) = default;

Outcome EnvRunner::Run(const Model& model, const ValueMap& inputs) {
  try {
    return DoRun(model, inputs);
  } catch (const nlohmann::json::exception& e) {
    // A malformed reply's metadata: the worker cannot be trusted any more.
    Outcome o;
    o.symptom = "crash";
    o.message = fmt::format("{}: malformed reply metadata from the worker: {}", env_, e.what());
    session_.reset();
    return o;
  }
}

Outcome EnvRunner::DoRun(const Model& model, const ValueMap& inputs) {
  // A dead worker cannot serve the next model; an ERROR answer leaves it usable but with no
  // model loaded, which the next Reload fixes.
  auto retire = [&](const Outcome& o) {
    if (o.symptom == "crash" || o.symptom == "timeout") session_.reset();
  };
  Outcome o;
  try {
    if (session_ && session_->supports_reload()) {
      session_->Reload(model);
    } else {
      session_.reset();
      session_ = PrepareSession(model, spec_);
    }
  } catch (const Error& e) {
    o = Classify(e, session_.get());
    retire(o);
    return o;
  }
  try {
    RunTiming timing;
    auto t0 = Clock::now();
    o.outputs = session_->Run(inputs, &timing);
    o.ms = timing.run_ms > 0 ? timing.run_ms : SecondsSince(t0) * 1000;
  } catch (const Error& e) {
    o = Classify(e, session_.get());
    retire(o);
  }
  return o;
}

bool HasFloat16(const Model& model) {
  for (const auto& vi : model.graph().input()) {
    if (vi.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT16) return true;
  }
  for (const auto& vi : model.graph().output()) {
    if (vi.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT16) return true;
  }
  for (const auto& n : model.graph().node()) {
    for (const auto& a : n.attribute()) {
      if (a.name() == "to" && a.i() == onnx::TensorProto::FLOAT16) return true;
    }
  }
  for (const auto& init : model.graph().initializer()) {
    if (init.data_type() == onnx::TensorProto::FLOAT16) return true;
  }
  return false;
}

std::string RerunMessage(const std::string& symptom, const Outcome& rerun,
                         const std::vector<Value>& expected, const Tolerance& tol,
                         const std::string& found_message) {
  return RerunMessage(symptom, rerun, expected, std::vector<Tolerance>{tol}, found_message);
}

std::string RerunMessage(const std::string& symptom, const Outcome& rerun,
                         const std::vector<Value>& expected, const std::vector<Tolerance>& tol,
                         const std::string& found_message) {
  if (symptom == "crash" || symptom == "error") {
    return rerun.symptom == symptom ? rerun.message : std::string();
  }
  if ((symptom != "inconsistent" && symptom != "undefined") || !rerun.symptom.empty()) return "";
  std::string message = Disagreement(expected, rerun.outputs, tol);
  if (symptom == "undefined" && !message.empty()) {
    size_t dash = found_message.find(" — ");
    if (dash != std::string::npos) message += found_message.substr(dash);
  }
  return message;
}

std::string Disagreement(const std::vector<Value>& want, const std::vector<Value>& got,
                         const Tolerance& tol, bool scale_atol) {
  if (!scale_atol) {
    if (want.size() != got.size()) {
      return fmt::format("{} outputs instead of {}", got.size(), want.size());
    }
    for (size_t i = 0; i < want.size(); ++i) {
      if (!want[i].is_tensor() || !got[i].is_tensor()) {
        if (want[i].kind != got[i].kind) return fmt::format("output {}: value kinds differ", i);
        continue;
      }
      TensorDiff d = CompareTensors(want[i].tensor, got[i].tensor, tol);
      if (!d.ok) return fmt::format("output {}: {}", i, d.message);
    }
    return "";
  }
  return Disagreement(want, got, std::vector<Tolerance>{tol});
}

namespace {

// want vs got with atol scaled by the largest finite |want| (at least 1), as Disagreement does.
TensorDiff ScaledDiff(const Tensor& w, const Tensor& got, const Tolerance& tol) {
  double scale = 1;
  VisitDType(w.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (kIsFloatLike<T>) {
      for (int64_t k = 0; k < w.numel(); ++k) {
        double x = std::fabs(ToDouble(w.data<T>()[k]));
        if (std::isfinite(x)) scale = std::max(scale, x);
      }
    }
  });
  return CompareTensors(w, got, Tolerance{tol.rtol, tol.atol * scale});
}

const Tolerance& ToleranceOf(const std::vector<Tolerance>& tols, size_t i) {
  static const Tolerance kDefault{};
  return tols.empty() ? kDefault : tols[std::min(i, tols.size() - 1)];
}

}  // namespace

std::string Disagreement(const std::vector<Value>& want, const std::vector<Value>& got,
                         const std::vector<Tolerance>& tols) {
  if (want.size() != got.size()) {
    return fmt::format("{} outputs instead of {}", got.size(), want.size());
  }
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].is_tensor() || !got[i].is_tensor()) {
      if (want[i].kind != got[i].kind) return fmt::format("output {}: value kinds differ", i);
      continue;
    }
    TensorDiff d = ScaledDiff(want[i].tensor, got[i].tensor, ToleranceOf(tols, i));
    if (!d.ok) return fmt::format("output {}: {}", i, d.message);
  }
  return "";
}

int64_t MismatchCount(const std::vector<Value>& want, const std::vector<Value>& got,
                      const std::vector<Tolerance>& tols) {
  constexpr int64_t kAll = std::numeric_limits<int64_t>::max();
  if (want.size() != got.size()) return kAll;
  int64_t n = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    if (!want[i].is_tensor() || !got[i].is_tensor()) {
      if (want[i].kind != got[i].kind) return kAll;
      continue;
    }
    TensorDiff d = ScaledDiff(want[i].tensor, got[i].tensor, ToleranceOf(tols, i));
    if (d.dtype_mismatch || d.shape_mismatch) return kAll;
    n += d.mismatches;
  }
  return n;
}

std::string NormalizeMessage(const std::string& message) {
  std::string out;
  size_t i = 0;
  const size_t n = message.size();
  while (i < n) {
    char c = message[i];
    if (c == '\'' || c == '"' || c == '`') {
      size_t end = message.find(c, i + 1);
      if (end != std::string::npos && end - i <= 80) {
        out += "_";
        i = end + 1;
        continue;
      }
    }
    if (IsWordChar(c)) {
      size_t j = i;
      while (j < n && (IsWordChar(message[j]) || message[j] == '.')) ++j;
      std::string word = message.substr(i, j - i);
      // file.cpp:170 names the failing check: keep it whole.
      bool source = false;
      for (const std::string ext : {".cpp", ".hpp", ".cc", ".h", ".py", ".c"}) {
        source |= word.size() > ext.size() &&
                  word.compare(word.size() - ext.size(), ext.size(), ext) == 0;
      }
      if (source && j < n && message[j] == ':') {
        size_t k = j + 1;
        while (k < n && std::isdigit(static_cast<unsigned char>(message[k]))) ++k;
        out += message.substr(i, k - i);
        i = k;
        continue;
      }
      while (!word.empty() && word.back() == '.') {
        word.pop_back();
        --j;
      }
      bool digits = std::any_of(word.begin(), word.end(),
                                [](char d) { return std::isdigit(static_cast<unsigned char>(d)); });
      bool number = !word.empty() && (std::isdigit(static_cast<unsigned char>(word[0])) ||
                                      (word.size() > 1 && word[0] == '.'));
      if (number) {
        // An exponent's sign and digits belong to the number (1.2e-05).
        char last = word.back();
        if ((last == 'e' || last == 'E') && j + 1 < n && (message[j] == '-' || message[j] == '+') &&
            std::isdigit(static_cast<unsigned char>(message[j + 1]))) {
          j += 1;
          while (j < n && std::isdigit(static_cast<unsigned char>(message[j]))) ++j;
        }
        out += "N";
      } else if (digits && !IsDtypeName(word)) {
        out += "_";  // a generated name (v12, n_Relu_3)
      } else {
        out += word;
      }
      i = j;
      continue;
    }
    if (c == '-' && i + 1 < n && std::isdigit(static_cast<unsigned char>(message[i + 1])) &&
        (out.empty() || !IsWordChar(out.back()))) {
      ++i;  // the sign of a number
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) {
      if (!out.empty() && out.back() != ' ') out += ' ';
      ++i;
      continue;
    }
    out += c;
    ++i;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

std::string OpSignature(const Model& model) {
  std::set<std::string> ops;
  for (const auto& n : model.graph().node()) ops.insert(n.op_type());
  std::string s;
  for (const auto& op : ops) s += (s.empty() ? "" : ",") + op;
  return s;
}

std::vector<std::string> FirstInputDTypes(const Model& model) {
  std::map<std::string, int32_t> init_types;
  for (const auto& init : model.graph().initializer()) init_types[init.name()] = init.data_type();
  std::vector<std::string> out;
  for (const auto& n : model.graph().node()) {
    int32_t elem = 0;
    if (n.input_size() > 0 && !n.input(0).empty()) {
      if (const onnx::TypeProto* t = model.FindType(n.input(0))) {
        elem = t->tensor_type().elem_type();
      } else if (auto it = init_types.find(n.input(0)); it != init_types.end()) {
        elem = it->second;
      }
    }
    out.push_back(elem != 0 ? DTypeName(static_cast<DType>(elem)) : "?");
  }
  return out;
}

std::vector<std::string> NodeSignatures(const Model& model) {
  std::vector<std::string> dtypes = FirstInputDTypes(model);
  std::set<std::string> out;
  for (int i = 0; i < model.graph().node_size(); ++i) {
    const auto& n = model.graph().node(i);
    const std::string& dtype = dtypes[static_cast<size_t>(i)];
    std::vector<std::string> attrs;
    for (const auto& a : n.attribute()) attrs.push_back(a.name());
    std::sort(attrs.begin(), attrs.end());
    out.insert(fmt::format("{}({}):{}", n.op_type(), fmt::join(attrs, ","), dtype));
  }
  return {out.begin(), out.end()};
}

}  // namespace concord
