// The oneDNN backend's Backend and Session (dnnl_backend.h); the planner is dnnl_plan.cc.
#include "backends/dnnl_backend.h"

#include <omp.h>

#include <chrono>

#include "backends/dnnl_internal.h"
#include "ir/error.h"

namespace concord {
namespace {

using dnnl_internal::Plan;
using dnnl_internal::ReplanNeeded;

constexpr size_t kMaxPlans = 8;  // input signatures kept per session

std::string IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse4.1";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "other";
  }
}

std::string DnnlVersion() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("oneDNN {}.{}.{} (CPU runtime OpenMP, ISA {})", v->major, v->minor, v->patch,
                     IsaName(dnnl::get_effective_cpu_isa()));
}

int DefaultThreads() {
  static const int kDefault = omp_get_max_threads();
  return kDefault;
}

std::string Signature(const ValueMap& inputs, bool taps) {
  std::string key = taps ? "taps;" : ";";
  for (const auto& [name, v] : inputs) {
    key += name + ":" + v.Describe() + ";";
  }
  return key;
}

class DnnlSession : public Session {
 public:
  DnnlSession(const Model& model, const EnvSpec& env)
      : model_(model), env_(env), engine_(dnnl::engine::kind::cpu, 0) {
    DefaultThreads();
    rw_ = dnnl_internal::Rewrite(model_, env.opt());
    PlanAhead();
  }

  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override {
    return RunWithTaps(inputs, nullptr, timing);
  }
  bool supports_taps() const override { return true; }

  std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                 RunTiming* timing) override {
    CheckInputs(inputs);
    // OpenMP's thread count is per process: set it on every run, as ref does for OpenBLAS.
    omp_set_num_threads(env_.threads() > 0 ? env_.threads() : DefaultThreads());
    auto start = std::chrono::steady_clock::now();
    std::vector<Value> out;
    try {
      out = RunPlan(inputs, taps);
    } catch (const dnnl::error& e) {
      Fail(ErrorKind::kRuntime, "dnnl: {} (status {})", e.what(), static_cast<int>(e.status));
    }
    if (timing) {
      timing->run_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
    }
    return out;
  }

  std::string effective_env() const override { return env_.ToString(); }

  nlohmann::json Stats() override {
    nlohmann::json j;
    j["passes"] = rw_.passes;
    j["folded_nodes"] = rw_.folded_nodes;
    j["groups"] = rw_.groups.size();
    if (last_) {
      j["primitives"] = last_->primitives();
      j["fallback_nodes"] = last_->fallback_nodes();
    }
    j["plans"] = plans_.size();
    return j;
  }

 private:
  void CheckInputs(const ValueMap& inputs) const {
    for (const auto& in : model_.Inputs()) {
      auto it = inputs.find(in.name);
      if (it == inputs.end()) Fail(ErrorKind::kInput, "dnnl: missing input '{}'", in.name);
    }
    for (const auto& [name, v] : inputs) {
      bool known = false;
      for (const auto& in : model_.Inputs()) known = known || in.name == name;
      if (!known) Fail(ErrorKind::kInput, "dnnl: the model has no input '{}'", name);
    }
  }

  std::vector<Value> RunPlan(const ValueMap& inputs, ValueMap* taps) {
    std::string key = Signature(inputs, taps != nullptr);
    auto it = plans_.find(key);
    if (it != plans_.end()) {
      try {
        last_ = it->second.get();
        return it->second->Run(inputs, taps);
      } catch (const ReplanNeeded&) {
        plans_.erase(it);  // a reference-run node changed a shape: trace again below
      }
    }
    if (plans_.size() >= kMaxPlans) plans_.erase(plans_.begin());
    auto plan = std::make_unique<Plan>(rw_, engine_, inputs, taps != nullptr);
    auto out = plan->TakeTraceOutputs(taps);
    last_ = plan.get();
    plans_[key] = std::move(plan);
    return out;
  }

  // Traces the plan for the model's declared input shapes now (on zeros), so that creating
  // and JIT-compiling primitives is part of prepare, as in compiled runtimes, not of the first
  // inference. Models with dynamic or non-tensor inputs, or whose trace fails on zeros (a
  // data-dependent op), are traced on their first run instead.
  void PlanAhead() {
    ValueMap zeros;
    for (const auto& in : model_.Inputs()) {
      if (!in.is_tensor || !in.has_shape || in.dtype == DType::kString) return;
      for (int64_t d : in.shape)
        if (d < 0) return;
      zeros[in.name] = Tensor(in.dtype, in.shape);
    }
    omp_set_num_threads(env_.threads() > 0 ? env_.threads() : DefaultThreads());
    try {
      RunPlan(zeros, nullptr);
    } catch (const std::exception&) {
      plans_.clear();
      last_ = nullptr;
    }
  }

  const Model& model_;
  EnvSpec env_;
  dnnl::engine engine_;
  dnnl_internal::Rewritten rw_;
  std::map<std::string, std::unique_ptr<Plan>> plans_;
  Plan* last_ = nullptr;
};

class DnnlBackend : public Backend {
 public:
  std::string name() const override { return "dnnl"; }
  BackendInfo Info() const override {
    BackendInfo info;
    info.name = "dnnl";
    info.description =
        "oneDNN primitives in process (Conv, Gemm/MatMul, pooling, BatchNorm, element-wise, "
        "Concat, Softmax, Resize); other ops on the reference interpreter";
    info.version = DnnlVersion();
    info.devices = {"cpu"};
    info.options = {{"opt", "int", "0..3", "3", "graph transformations (see opt mapping)"},
                    {"threads", "int", "0..4096", "0", "OpenMP threads (0 = library default)"}};
    info.opt_mapping =
        "0 = one primitive per node, plain layouts (nchw/oihw), no folding or fusion; "
        "1 = + constant folding, BatchNorm folded into Conv, weights reordered once into "
        "oneDNN's layout; 2 = + post-op fusion (activation, residual sum into Conv; activation "
        "into Gemm/MatMul) with channels-last (nhwc) activations; 3 = + oneDNN's blocked "
        "activation layouts end to end, 1x1 + depthwise Conv fusion";
    return info;
  }
  std::unique_ptr<Session> Prepare(const Model& model, const EnvSpec& env) override {
    CheckEnvAgainst(env, Info());
    return std::make_unique<DnnlSession>(model, env);
  }
};

}  // namespace

std::unique_ptr<Backend> MakeDnnlBackend() { return std::make_unique<DnnlBackend>(); }

}  // namespace concord
