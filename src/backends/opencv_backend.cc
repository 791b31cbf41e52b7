// The OpenCV DNN backend and its session (contract in backends/opencv_backend.h). Helpers
// shared with the other opencv_*.cc files are declared in backends/opencv_internal.h.
#include "backends/opencv_backend.h"

#include <chrono>
#include <iostream>
#include <opencv2/core/ocl.hpp>

#include "backends/opencv_internal.h"
#include "ir/external_data.h"

namespace concord {
namespace opencv_internal {
namespace {

bool IsComplex(DType dt) { return dt == DType::kComplex64 || dt == DType::kComplex128; }

}  // namespace

OpenCvSession::OpenCvSession(const Model& model, const EnvSpec& env)
    : env_(env), model_name_(model.path().empty() ? model.graph().name() : model.path()) {
  CheckEnv(env);
  SetUpOpenCvLogging();
  inputs_ = model.Inputs();
  outputs_ = model.Outputs();
  for (const auto* list : {&inputs_, &outputs_}) {
    for (const ValueInfo& vi : *list) {
      if (!vi.is_tensor || vi.dtype == DType::kString || IsComplex(vi.dtype)) {
        Fail(ErrorKind::kUnsupported, "opencv: '{}' is {}; OpenCV DNN takes numeric tensors only",
             vi.name, TypeToString(vi.type));
      }
    }
  }
  SetUpTarget();
  Serialize(model);
  net_ = Import();
  CollectTapCandidates(model);
  for (const ValueInfo& o : outputs_) out_pins_.push_back(ResolveGraphOutput(net_, o.name));
  UpdateEffectiveEnv(nullptr);
}

void OpenCvSession::CheckEnv(const EnvSpec& env) {
  if (env.device != "cpu" && env.device != "opencl") {
    Fail(ErrorKind::kUsage, "opencv runs on devices 'cpu' and 'opencl' (got '{}' in '{}')",
         env.device, env.ToString());
  }
  for (const auto& [k, v] : env.options) {
    if (k != "opt" && k != "threads") {
      Fail(ErrorKind::kUsage, "opencv does not know option '{}' (known: opt, threads)", k);
    }
  }
  if (env.opt() < 0 || env.opt() > 3) {
    Fail(ErrorKind::kUsage, "opt must be 0..3 (got {} in '{}')", env.opt(), env.ToString());
  }
  if (env.threads() < 0) Fail(ErrorKind::kUsage, "threads must be >= 0 (got {})", env.threads());
}

void OpenCvSession::SetUpTarget() {
  target_ = cv::dnn::DNN_TARGET_CPU;
  if (env_.device == "opencl") {
    SetUpOpenCl();
    target_ = cv::dnn::DNN_TARGET_OPENCL;
    try {
      if (!cv::ocl::haveOpenCL()) {
        fallback_reason_ = "OpenCV found no OpenCL runtime";
      } else if (!cv::ocl::useOpenCL()) {
        fallback_reason_ = fmt::format("no usable OpenCL device ({}='{}')", kOpenClDeviceVar,
                                       GetEnv(kOpenClDeviceVar));
      } else {
        device_name_ = cv::ocl::Device::getDefault().name();
      }
    } catch (const std::exception& e) {
      fallback_reason_ = fmt::format("OpenCL initialization failed: {}", e.what());
    }
  }
}

void OpenCvSession::Serialize(const Model& model) {
  bool needs_legalizing = false;
  for (const auto& node : model.graph().node()) {
    needs_legalizing |= node.op_type() == "Clip" && node.input_size() > 1;
  }
  bool external = CountExternalTensors(model.proto()) > 0;
  bool serialized = false;
  if (needs_legalizing || external) {
    // OpenCV reads only the bytes given to it: external weights go inside the model.
    onnx::ModelProto copy = model.proto();
    if (external) InlineExternalData(&copy, model.base_dir(), model_name_);
    if (needs_legalizing) LegalizeClipForOpenCv(copy.mutable_graph());
    serialized = copy.SerializeToString(&bytes_);
  } else {
    serialized = model.proto().SerializeToString(&bytes_);
  }
  if (!serialized) {
    Fail(ErrorKind::kInternal, "opencv: could not serialize model '{}'", model_name_);
  }
}

std::vector<Value> OpenCvSession::Run(const ValueMap& inputs, RunTiming* timing) {
  std::vector<cv::Mat> blobs = Forward(net_, inputs, out_pins_, timing, nullptr);
  CheckTargets(net_);
  return ToOutputs(blobs);
}

cv::dnn::Net OpenCvSession::Import() const {
  cv::dnn::Net net;
  try {
    net = cv::dnn::readNetFromONNX(bytes_.data(), bytes_.size());
  } catch (const std::exception& e) {
    Fail(ErrorKind::kUnsupported, "opencv {} cannot import model '{}': {}", CV_VERSION, model_name_,
         CompactCvMessage(e.what()));
  }
  if (net.empty()) {
    Fail(ErrorKind::kUnsupported, "opencv imported model '{}' as an empty network", model_name_);
  }
  try {
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(target_);
    net.enableFusion(env_.opt() >= 1);
  } catch (const std::exception& e) {
    Fail(ErrorKind::kRuntime, "opencv: configuring the network failed: {}",
         CompactCvMessage(e.what()));
  }
  return net;
}

Pin OpenCvSession::ResolveGraphOutput(const cv::dnn::Net& net, const std::string& name) {
  if (net.getLayerId(name) >= 0) return Pin{name, 0};
  Fail(ErrorKind::kUnsupported,
       "opencv's import of the model has no layer for graph output '{}' (OpenCV folded it "
       "into a constant or dropped it)",
       name);
}

std::vector<Tensor> OpenCvSession::SetInputs(cv::dnn::Net& net, const ValueMap& inputs) {
  std::vector<Tensor> converted;  // keeps non-float inputs alive during forward
  converted.reserve(inputs_.size());
  for (const auto& [name, value] : inputs) {
    bool known = false;
    for (const ValueInfo& vi : inputs_) known |= vi.name == name;
    if (!known) {
      std::vector<std::string> names;
      for (const ValueInfo& vi : inputs_) names.push_back(vi.name);
      Fail(ErrorKind::kInput, "'{}' is not an input of the model (inputs: {})", name,
           fmt::join(names, ", "));
    }
  }
  for (const ValueInfo& vi : inputs_) {
    auto it = inputs.find(vi.name);
    if (it == inputs.end()) {
      Fail(ErrorKind::kInput, "missing model input '{}' ({})", vi.name, TypeToString(vi.type));
    }
    if (!it->second.is_tensor()) {
      Fail(ErrorKind::kInput, "input '{}': expected a tensor, got {}", vi.name,
           it->second.Describe());
    }
    const Tensor& t = it->second.tensor;
    if (t.dtype() == DType::kString || IsComplex(t.dtype())) {
      Fail(ErrorKind::kUnsupported, "opencv: input '{}' is {}; OpenCV DNN takes numeric tensors",
           vi.name, t.Describe());
    }
    // OpenCV DNN computes in float32: other numeric inputs are converted (exact for every
    // integer below 2^24).
    const Tensor* src = &t;
    if (t.dtype() != DType::kFloat32) {
      converted.push_back(t.CastTo(DType::kFloat32));
      src = &converted.back();
    }
    try {
      net.setInput(FloatTensorAsMat(*src), vi.name);
    } catch (const std::exception& e) {
      Fail(ErrorKind::kRuntime, "{}: setting input '{}' ({}) failed: {}", effective_, vi.name,
           t.Describe(), CompactCvMessage(e.what()));
    }
  }
  return converted;
}

std::vector<cv::Mat> OpenCvSession::Forward(cv::dnn::Net& net, const ValueMap& inputs,
                                            const std::vector<Pin>& pins, RunTiming* timing,
                                            std::vector<bool>* present) {
  ApplyThreads(env_.threads());
  std::vector<Tensor> converted = SetInputs(net, inputs);  // alive until forward is done
  std::vector<cv::Mat> blobs;
  auto start = std::chrono::steady_clock::now();
  try {
    // OpenCL kernels are compiled during a net's first forward.
    StdoutToStderr guard(target_ == cv::dnn::DNN_TARGET_OPENCL && compiled_.insert(&net).second);
    blobs = ForwardPins(net, pins, present);
  } catch (const Error&) {
    throw;
  } catch (const cv::Exception& e) {
    // Kernels already enqueued may still be compiling on the OpenCL device's threads (PoCL
    // builds them lazily with LLVM); a process that exits meanwhile crashes inside LLVM's
    // static destructors. Drain the queue before reporting.
    if (target_ == cv::dnn::DNN_TARGET_OPENCL) FinishOpenClQueue();
    // StsNotImplemented: a layer OpenCV cannot run on this target (e.g. no OpenCL kernel).
    ErrorKind kind =
        e.code == cv::Error::StsNotImplemented ? ErrorKind::kUnsupported : ErrorKind::kRuntime;
    Fail(kind, "{}: forward failed: {}", effective_, CompactCvMessage(e.what()));
  } catch (const std::exception& e) {
    if (target_ == cv::dnn::DNN_TARGET_OPENCL) FinishOpenClQueue();
    Fail(ErrorKind::kRuntime, "{}: forward failed: {}", effective_, CompactCvMessage(e.what()));
  }
  if (timing) {
    timing->run_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return blobs;
}

Tensor OpenCvSession::ConvertOrThrow(const cv::Mat& m, const ValueInfo* declared,
                                     const std::string& what) {
  try {
    return MatToTensor(m, declared, what);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    Fail(ErrorKind::kRuntime, "{}: converting {} failed: {}", effective_, what, e.what());
  }
}

std::vector<Value> OpenCvSession::ToOutputs(const std::vector<cv::Mat>& blobs) {
  std::vector<Value> out;
  for (size_t i = 0; i < outputs_.size(); ++i) {
    out.emplace_back(
        ConvertOrThrow(blobs[i], &outputs_[i], fmt::format("output '{}'", outputs_[i].name)));
  }
  return out;
}

void OpenCvSession::CheckTargets(const cv::dnn::Net& net) {
  if (checked_targets_) return;
  checked_targets_ = true;
  UpdateEffectiveEnv(&net);
}

void OpenCvSession::UpdateEffectiveEnv(const cv::dnn::Net* ran) {
  std::string full = env_.ToString();
  std::string head = env_.backend + "@" + env_.device;
  std::string options = full.substr(head.size());
  if (env_.device != "opencl") {
    effective_ = full;
    return;
  }
  int total = 0;
  int on_cpu = 0;
  if (ran != nullptr && fallback_reason_.empty()) {
    for (const std::string& name : ran->getLayerNames()) {
      int id = ran->getLayerId(name);
      if (id < 0) continue;
      ++total;
      int t = ran->getLayer(id)->preferableTarget;
      if (t != cv::dnn::DNN_TARGET_OPENCL && t != cv::dnn::DNN_TARGET_OPENCL_FP16) ++on_cpu;
    }
    if (total > 0 && on_cpu == total) {
      std::string allow = GetEnv(kAllowAllVar);
      bool gpu = cv::ocl::Device::getDefault().type() & cv::ocl::Device::TYPE_GPU;
      if (!gpu && allow != "1" && allow != "true" && allow != "TRUE") {
        fallback_reason_ = fmt::format("OpenCL device '{}' is not a GPU and {} is not 1",
                                       device_name_, kAllowAllVar);
      } else {
        fallback_reason_ =
            fmt::format("OpenCV moved every layer off OpenCL device '{}'", device_name_);
      }
    }
  }
  if (!fallback_reason_.empty()) {
    effective_ = fmt::format("opencv@opencl->cpu{} (fallback: {})", options, fallback_reason_);
    if (!warned_) {
      warned_ = true;
      std::cerr << fmt::format("concord: warning: {} requested OpenCL but runs on the CPU: {}\n",
                               full, fallback_reason_);
    }
  } else if (on_cpu > 0) {
    effective_ = fmt::format("opencv@opencl[device={}; {} of {} layers on cpu]{}", device_name_,
                             on_cpu, total, options);
  } else {
    effective_ = fmt::format("opencv@opencl[device={}]{}", device_name_, options);
  }
}

}  // namespace opencv_internal

namespace {

using opencv_internal::OpenClSetupResult;
using opencv_internal::OpenCvSession;

class OpenCvBackend : public Backend {
 public:
  std::string name() const override { return "opencv"; }
  BackendInfo Info() const override;
  std::unique_ptr<Session> Prepare(const Model& model, const EnvSpec& env) override {
    return std::make_unique<OpenCvSession>(model, env);
  }
};

BackendInfo OpenCvBackend::Info() const {
  BackendInfo info;
  info.name = "opencv";
  info.devices = {"cpu", "opencl"};
  info.options = {{"opt", "int", "0..3", "3", "optimization level (see opt mapping)"},
                  {"threads", "int", "0..4096", "0", "worker threads (0 = library default)"}};
  info.opt_mapping =
      "opt=0: layer fusion off (enableFusion(false)); opt=1, 2 and 3 are identical: fusion on "
      "(OpenCV 4.6 has no further graph-optimization switch and no Winograd toggle)";
  opencv_internal::SetUpOpenCvLogging();
  const OpenClSetupResult& ocl = opencv_internal::SetUpOpenCl();
  std::string opencl;
  try {
    if (!cv::ocl::haveOpenCL()) {
      opencl = "OpenCL: unavailable (no runtime; opencv@opencl falls back to cpu)";
    } else if (!ocl.any_device) {
      opencl = "OpenCL: no device (opencv@opencl falls back to cpu)";
    } else {
      opencl = fmt::format(
          "OpenCL: {}{} ({})",
          ocl.any_gpu ? "GPU present; first device " : "no GPU, using CPU device ",
          ocl.first_device,
          ocl.notes.empty() ? "environment as set by the user" : "Concord " + ocl.notes);
    }
  } catch (const std::exception& e) {
    opencl = fmt::format("OpenCL: error ({})", e.what());
  }
  info.description = fmt::format("OpenCV DNN, in process (DNN_BACKEND_OPENCV); {}", opencl);
  info.version = fmt::format("OpenCV {}", CV_VERSION);
  return info;
}

}  // namespace

std::unique_ptr<Backend> MakeOpenCvBackend() { return std::make_unique<OpenCvBackend>(); }

}  // namespace concord
