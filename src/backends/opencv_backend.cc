#include "backends/opencv_backend.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <opencv2/core.hpp>
#include <opencv2/core/ocl.hpp>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/dnn.hpp>
#include <set>

#include "ir/tensor_io.h"

namespace concord {

namespace {

constexpr const char* kOpenClDeviceVar = "OPENCV_OPENCL_DEVICE";
constexpr const char* kAllowAllVar = "OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES";

std::string GetEnv(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// OpenCV's own log (fallback warnings, kernel cache hints, import errors) is replaced by
// Concord's detection and errors, which carry OpenCV's messages; OPENCV_LOG_LEVEL still wins
// when the user set it.
void SetUpOpenCvLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (GetEnv("OPENCV_LOG_LEVEL").empty()) {
      cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
    }
  });
}

// cv::Exception messages span lines ("> > (expected: ...)"); the node part, on one line.
std::string CompactCvMessage(const std::string& what) {
  size_t node = what.find("Node [");
  std::string s = node == std::string::npos ? what : what.substr(node);
  std::string out;
  bool space = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\n') {
      while (i + 1 < s.size() && (s[i + 1] == '>' || s[i + 1] == ' ')) ++i;
      c = ' ';
    }
    if (c == ' ') {
      space = true;
      continue;
    }
    if (space && !out.empty()) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

// Runs once per process before the first cv::ocl call that creates OpenCV's default OpenCL
// context (the device choice is read then). Only variables the user left unset are touched.
struct OpenClSetupResult {
  bool any_gpu = false;
  bool any_device = false;
  std::string first_device;  // "platform: device" of the first device found
  std::string notes;         // what we set, for Info()
};

const OpenClSetupResult& SetUpOpenCl() {
  static OpenClSetupResult result;
  static std::once_flag once;
  std::call_once(once, [] {
    try {
      if (!cv::ocl::haveOpenCL()) return;
      std::vector<cv::ocl::PlatformInfo> platforms;
      cv::ocl::getPlatfomsInfo(platforms);
      for (const auto& p : platforms) {
        for (int i = 0; i < p.deviceNumber(); ++i) {
          cv::ocl::Device d;
          p.getDevice(d, i);
          if (!result.any_device) result.first_device = p.name() + ": " + d.name();
          result.any_device = true;
          if (d.type() & cv::ocl::Device::TYPE_GPU) result.any_gpu = true;
        }
      }
    } catch (const std::exception&) {
      return;  // no usable OpenCL: sessions report the fallback
    }
    std::vector<std::string> set;
    if (!result.any_gpu && result.any_device && GetEnv(kOpenClDeviceVar).empty()) {
      setenv(kOpenClDeviceVar, ":CPU:", 0);
      set.push_back(fmt::format("{}=:CPU:", kOpenClDeviceVar));
    }
    if (GetEnv(kAllowAllVar).empty()) {
      setenv(kAllowAllVar, "1", 0);
      set.push_back(fmt::format("{}=1", kAllowAllVar));
    }
    if (!set.empty()) result.notes = fmt::format("set {}", fmt::join(set, " "));
  });
  return result;
}

// OpenCV's thread count is process-wide; remember its default so threads=0 restores it.
void ApplyThreads(int threads) {
  static const int default_threads = cv::getNumThreads();
  int want = threads > 0 ? threads : default_threads;
  if (cv::getNumThreads() != want) cv::setNumThreads(want);
}

DType DTypeOfDepth(int depth) {
  switch (depth) {
    case CV_8U:
      return DType::kUInt8;
    case CV_8S:
      return DType::kInt8;
    case CV_16U:
      return DType::kUInt16;
    case CV_16S:
      return DType::kInt16;
    case CV_32S:
      return DType::kInt32;
    case CV_32F:
      return DType::kFloat32;
    case CV_64F:
      return DType::kFloat64;
    case CV_16F:
      return DType::kFloat16;
    default:
      return DType::kUndefined;
  }
}

// OpenCV blobs have rank >= 2 (a 1-D tensor is N x 1, a scalar 1 x 1) and may drop or add
// unit dims; the model's declared shape (after shape inference) decides what we return. A
// blob that fits no reading of the declared shape keeps OpenCV's shape, so the comparison
// reports the mismatch instead of us hiding it.
Shape ReconcileShape(const Shape& got, const ValueInfo* declared) {
  if (declared == nullptr || !declared->has_shape) return got;
  const Shape& want = declared->shape;
  int64_t n = 1;
  for (int64_t d : got) n *= d;
  int64_t known = 1;
  int unknown = 0;
  for (int64_t d : want) {
    if (d < 0) {
      ++unknown;
    } else {
      known *= d;
    }
  }
  if (unknown == 0) return known == n ? want : got;
  if (got.size() == want.size()) return got;
  if (unknown == 1 && known > 0 && n % known == 0) {
    Shape s = want;
    for (int64_t& d : s) {
      if (d < 0) d = n / known;
    }
    return s;
  }
  Shape s = got;
  while (s.size() > want.size() && !s.empty() && s.front() == 1) s.erase(s.begin());
  while (s.size() > want.size() && !s.empty() && s.back() == 1) s.pop_back();
  return s.size() == want.size() ? s : got;
}

Tensor MatToTensor(const cv::Mat& mat, const ValueInfo* declared, const std::string& what) {
  DType dt = DTypeOfDepth(mat.depth());
  if (dt == DType::kUndefined) {
    Fail(ErrorKind::kRuntime, "opencv returned {} with OpenCV depth {}, which Concord cannot read",
         what, mat.depth());
  }
  Shape shape;
  for (int i = 0; i < mat.dims; ++i) shape.push_back(mat.size[i]);
  if (mat.empty()) shape.assign(1, 0);
  Tensor t(dt, ReconcileShape(shape, declared));
  if (t.numel() > 0) {
    cv::Mat cont = mat.isContinuous() ? mat : mat.clone();
    std::memcpy(t.raw(), cont.data, t.nbytes());
  }
  if (declared != nullptr && declared->dtype != DType::kUndefined && declared->dtype != dt) {
    return t.CastTo(declared->dtype);
  }
  return t;
}

// Scalar value of a constant tensor (initializer or Constant node output), if `name` is one.
bool ConstantScalar(const onnx::GraphProto& g, const std::string& name, float* value) {
  auto read = [&](const onnx::TensorProto& t) {
    try {
      Tensor tensor = TensorFromProto(t, ".", name);
      if (tensor.numel() != 1 || tensor.dtype() == DType::kString) return false;
      *value = static_cast<float>(tensor.GetDouble(0));
      return true;
    } catch (const Error&) {
      return false;  // e.g. external data: leave the node to OpenCV
    }
  };
  for (const auto& init : g.initializer()) {
    if (init.name() == name) return read(init);
  }
  for (const auto& node : g.node()) {
    if (node.op_type() != "Constant" || node.output_size() != 1 || node.output(0) != name) continue;
    for (const auto& a : node.attribute()) {
      if (a.name() == "value" && a.has_t()) return read(a.t());
      if (a.name() == "value_float") {
        *value = a.f();
        return true;
      }
    }
  }
  return false;
}

// OpenCV 4.6 imports Clip only in its opset-6 form (min/max attributes) and rejects opset-11+
// Clip with min/max inputs, which is how exporters write ReLU6. When both bounds are constant,
// they move into the attributes OpenCV reads; the semantics are unchanged. Returns the number
// of nodes rewritten.
int LegalizeClipForOpenCv(onnx::GraphProto* g) {
  int rewritten = 0;
  for (auto& node : *g->mutable_node()) {
    if (node.op_type() != "Clip" || !(node.domain().empty() || node.domain() == "ai.onnx"))
      continue;
    if (node.input_size() <= 1) continue;
    float bounds[2] = {0, 0};
    bool present[2] = {false, false};
    bool constant = true;
    for (int i = 1; i < node.input_size() && i <= 2; ++i) {
      if (node.input(i).empty()) continue;
      present[i - 1] = true;
      constant &= ConstantScalar(*g, node.input(i), &bounds[i - 1]);
    }
    if (!constant) continue;
    std::string x = node.input(0);
    node.clear_input();
    node.add_input(x);
    const char* names[2] = {"min", "max"};
    for (int i = 0; i < 2; ++i) {
      if (!present[i]) continue;
      auto* a = node.add_attribute();
      a->set_name(names[i]);
      a->set_type(onnx::AttributeProto::FLOAT);
      a->set_f(bounds[i]);
    }
    ++rewritten;
  }
  return rewritten;
}

// OpenCV prints OpenCL build logs with printf (PoCL rejects the Intel-only option that
// ocl4dnn probes on its first kernel build), which would corrupt `--json` on stdout. While a
// guard lives, fd 1 points at stderr.
class StdoutToStderr {
 public:
  explicit StdoutToStderr(bool active) {
    if (!active) return;
    std::fflush(stdout);
    std::cout.flush();
    saved_ = dup(STDOUT_FILENO);
    if (saved_ >= 0 && dup2(STDERR_FILENO, STDOUT_FILENO) < 0) {
      close(saved_);
      saved_ = -1;
    }
  }
  ~StdoutToStderr() {
    if (saved_ < 0) return;
    std::fflush(stdout);
    dup2(saved_, STDOUT_FILENO);
    close(saved_);
  }
  StdoutToStderr(const StdoutToStderr&) = delete;
  StdoutToStderr& operator=(const StdoutToStderr&) = delete;

 private:
  int saved_ = -1;
};

// Where OpenCV keeps an ONNX tensor: a layer and the index of its output.
struct Pin {
  std::string layer;
  int index = 0;
};

// OpenCV 4.6 names the layer of an ONNX node "onnx_node!NAME" (or, for unnamed nodes,
// "onnx_node_output_I!OUT" after the first non-empty output I); OPENCV_DNN_ONNX_USE_LEGACY_NAMES
// gives NAME or OUT. Every graph output additionally gets an Identity layer named after it.
std::vector<std::string> LayerNameCandidates(const onnx::NodeProto& node) {
  std::vector<std::string> names;
  if (!node.name().empty()) {
    names.push_back("onnx_node!" + node.name());
    names.push_back(node.name());
  } else {
    for (int i = 0; i < node.output_size(); ++i) {
      if (node.output(i).empty()) continue;
      names.push_back(fmt::format("onnx_node_output_{}!{}", i, node.output(i)));
      names.push_back(node.output(i));
      break;
    }
  }
  return names;
}

// Runs the net for `pins`. When `present` is null, a pin beyond its layer's outputs is an
// error; otherwise it gets an empty Mat and false (taps: optional outputs OpenCV omits).
std::vector<cv::Mat> ForwardPins(cv::dnn::Net& net, const std::vector<Pin>& pins,
                                 std::vector<bool>* present) {
  std::vector<cv::String> layers;
  std::map<std::string, size_t> slot;
  for (const Pin& p : pins) {
    if (slot.emplace(p.layer, layers.size()).second) layers.push_back(p.layer);
  }
  std::vector<std::vector<cv::Mat>> blobs;
  net.forward(blobs, layers);
  std::vector<cv::Mat> out;
  if (present != nullptr) present->clear();
  for (const Pin& p : pins) {
    const auto& b = blobs.at(slot.at(p.layer));
    bool have = p.index < static_cast<int>(b.size());
    if (!have && present == nullptr) {
      Fail(ErrorKind::kRuntime, "opencv layer '{}' has {} outputs, output {} requested", p.layer,
           b.size(), p.index);
    }
    out.push_back(have ? b[static_cast<size_t>(p.index)] : cv::Mat());
    if (present != nullptr) present->push_back(have);
  }
  return out;
}

class OpenCvSession : public Session {
 public:
  OpenCvSession(const Model& model, const EnvSpec& env)
      : env_(env), model_name_(model.path().empty() ? model.graph().name() : model.path()) {
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
    target_ = cv::dnn::DNN_TARGET_CPU;
    if (env.device == "opencl") {
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
    bool needs_legalizing = false;
    for (const auto& node : model.graph().node()) {
      needs_legalizing |= node.op_type() == "Clip" && node.input_size() > 1;
    }
    bool serialized = false;
    if (needs_legalizing) {
      onnx::ModelProto copy = model.proto();
      LegalizeClipForOpenCv(copy.mutable_graph());
      serialized = copy.SerializeToString(&bytes_);
    } else {
      serialized = model.proto().SerializeToString(&bytes_);
    }
    if (!serialized) {
      Fail(ErrorKind::kInternal, "opencv: could not serialize model '{}'", model_name_);
    }
    net_ = Import();
    CollectTapCandidates(model);
    for (const ValueInfo& o : outputs_) out_pins_.push_back(ResolveGraphOutput(net_, o.name));
    UpdateEffectiveEnv(nullptr);
  }

  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override {
    std::vector<cv::Mat> blobs = Forward(net_, inputs, out_pins_, timing, nullptr);
    CheckTargets(net_);
    return ToOutputs(blobs);
  }

  bool supports_taps() const override { return true; }

  std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                      RunTiming* timing) override {
    if (taps == nullptr) return Run(inputs, timing);
    if (!taps_net_) PrepareTaps();
    std::vector<Pin> pins = out_pins_taps_;
    for (const auto& t : tap_list_) pins.push_back(t.pin);
    std::vector<bool> present;
    std::vector<cv::Mat> blobs = Forward(*taps_net_, inputs, pins, timing, &present);
    CheckTargets(*taps_net_);
    for (size_t i = 0; i < outputs_.size(); ++i) {
      if (!present[i])
        Fail(ErrorKind::kRuntime, "{}: no blob for graph output '{}'", effective_,
             outputs_[i].name);
    }
    std::vector<cv::Mat> outs(blobs.begin(), blobs.begin() + static_cast<long>(outputs_.size()));
    for (size_t i = 0; i < tap_list_.size(); ++i) {
      const TapEntry& t = tap_list_[i];
      if (!present[outputs_.size() + i]) continue;
      const cv::Mat& m = blobs[outputs_.size() + i];
      const ValueInfo* declared = t.has_info ? &t.info : nullptr;
      Tensor tensor = ConvertOrThrow(m, declared, fmt::format("tap '{}'", t.name));
      // A layer whose blob does not have the tensor's declared size is not that tensor.
      if (declared != nullptr && declared->has_shape && tensor.shape() != declared->shape) {
        bool all_known = true;
        for (int64_t d : declared->shape) all_known &= d >= 0;
        if (all_known) continue;
      }
      (*taps)[t.name] = std::move(tensor);
    }
    return ToOutputs(outs);
  }

  std::string effective_env() const override { return effective_; }

 private:
  struct TapEntry {
    std::string name;
    std::vector<std::string> layers;  // candidate layer names
    Pin pin;
    bool has_info = false;
    ValueInfo info;
  };

  cv::dnn::Net Import() const {
    cv::dnn::Net net;
    try {
      net = cv::dnn::readNetFromONNX(bytes_.data(), bytes_.size());
    } catch (const std::exception& e) {
      Fail(ErrorKind::kUnsupported, "opencv {} cannot import model '{}': {}", CV_VERSION,
           model_name_, Trim(e.what()));
    }
    if (net.empty()) {
      Fail(ErrorKind::kUnsupported, "opencv imported model '{}' as an empty network", model_name_);
    }
    try {
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net.setPreferableTarget(target_);
      net.enableFusion(env_.opt() >= 1);
    } catch (const std::exception& e) {
      Fail(ErrorKind::kRuntime, "opencv: configuring the network failed: {}", Trim(e.what()));
    }
    return net;
  }

  static std::string Trim(const std::string& s) { return CompactCvMessage(s); }

  static Pin ResolveGraphOutput(const cv::dnn::Net& net, const std::string& name) {
    if (net.getLayerId(name) >= 0) return Pin{name, 0};
    Fail(ErrorKind::kUnsupported,
         "opencv's import of the model has no layer for graph output '{}' (OpenCV folded it "
         "into a constant or dropped it)",
         name);
  }

  // Every node output that may be tapped, with the layer names OpenCV may have given it.
  void CollectTapCandidates(const Model& model) {
    std::set<std::string> seen;
    for (const onnx::NodeProto& node : model.graph().node()) {
      std::vector<std::string> layers = LayerNameCandidates(node);
      for (int k = 0; k < node.output_size(); ++k) {
        const std::string& name = node.output(k);
        if (name.empty() || !seen.insert(name).second) continue;
        TapEntry t;
        t.name = name;
        t.layers = layers;
        t.pin.index = k;
        if (const onnx::TypeProto* type = model.FindType(name)) {
          onnx::ValueInfoProto vip;
          vip.set_name(name);
          *vip.mutable_type() = *type;
          t.info = ValueInfoFromProto(vip);
          t.has_info = t.info.is_tensor;
        }
        tap_candidates_.push_back(std::move(t));
      }
    }
  }

  void PrepareTaps() {
    taps_net_ = std::make_unique<cv::dnn::Net>(Import());
    for (const ValueInfo& o : outputs_) {
      out_pins_taps_.push_back(ResolveGraphOutput(*taps_net_, o.name));
    }
    for (const TapEntry& cand : tap_candidates_) {
      for (const std::string& layer : cand.layers) {
        if (taps_net_->getLayerId(layer) < 0) continue;
        TapEntry t = cand;
        t.pin.layer = layer;
        tap_list_.push_back(std::move(t));
        break;
      }
    }
  }

  std::vector<cv::Mat> Forward(cv::dnn::Net& net, const ValueMap& inputs,
                               const std::vector<Pin>& pins, RunTiming* timing,
                               std::vector<bool>* present) {
    ApplyThreads(env_.threads());
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
      std::vector<int> dims;
      for (int64_t d : src->shape()) dims.push_back(static_cast<int>(d));
      if (dims.empty()) dims.push_back(1);
      cv::Mat mat(static_cast<int>(dims.size()), dims.data(), CV_32F,
                  const_cast<void*>(src->raw()));
      try {
        net.setInput(mat, vi.name);
      } catch (const std::exception& e) {
        Fail(ErrorKind::kRuntime, "{}: setting input '{}' ({}) failed: {}", effective_, vi.name,
             t.Describe(), Trim(e.what()));
      }
    }
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
      Fail(kind, "{}: forward failed: {}", effective_, Trim(e.what()));
    } catch (const std::exception& e) {
      if (target_ == cv::dnn::DNN_TARGET_OPENCL) FinishOpenClQueue();
      Fail(ErrorKind::kRuntime, "{}: forward failed: {}", effective_, Trim(e.what()));
    }
    if (timing) {
      timing->run_ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
              .count();
    }
    return blobs;
  }

  static void FinishOpenClQueue() {
    try {
      cv::ocl::finish();
    } catch (const std::exception&) {
      // The forward error is what the caller reports; a failing clFinish adds nothing.
    }
  }

  Tensor ConvertOrThrow(const cv::Mat& m, const ValueInfo* declared, const std::string& what) {
    try {
      return MatToTensor(m, declared, what);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      Fail(ErrorKind::kRuntime, "{}: converting {} failed: {}", effective_, what, e.what());
    }
  }

  std::vector<Value> ToOutputs(const std::vector<cv::Mat>& blobs) {
    std::vector<Value> out;
    for (size_t i = 0; i < outputs_.size(); ++i) {
      out.emplace_back(
          ConvertOrThrow(blobs[i], &outputs_[i], fmt::format("output '{}'", outputs_[i].name)));
    }
    return out;
  }

  // After the first forward, the layers' preferableTarget says what really ran.
  void CheckTargets(const cv::dnn::Net& net) {
    if (checked_targets_) return;
    checked_targets_ = true;
    UpdateEffectiveEnv(&net);
  }

  // `ran` (null before any forward): its layers' preferableTarget says what really ran
  // (OpenCV switches the whole net to CPU when the OpenCL device is not acceptable).
  void UpdateEffectiveEnv(const cv::dnn::Net* ran) {
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

  static bool IsComplex(DType dt) { return dt == DType::kComplex64 || dt == DType::kComplex128; }

  EnvSpec env_;
  std::string model_name_;
  std::string bytes_;
  std::vector<ValueInfo> inputs_;
  std::vector<ValueInfo> outputs_;
  int target_ = 0;
  cv::dnn::Net net_;
  std::vector<Pin> out_pins_;
  std::unique_ptr<cv::dnn::Net> taps_net_;
  std::vector<Pin> out_pins_taps_;
  std::vector<TapEntry> tap_candidates_;
  std::vector<TapEntry> tap_list_;
  std::string device_name_;
  std::string fallback_reason_;
  std::string effective_;
  std::set<const cv::dnn::Net*> compiled_;  // nets whose first forward has run
  bool checked_targets_ = false;
  bool warned_ = false;
};

class OpenCvBackend : public Backend {
 public:
  std::string name() const override { return "opencv"; }
  BackendInfo Info() const override {
    BackendInfo info;
    info.name = "opencv";
    info.devices = {"cpu", "opencl"};
    info.opt_mapping =
        "opt=0: layer fusion off (enableFusion(false)); opt=1, 2 and 3 are identical: fusion on "
        "(OpenCV 4.6 has no further graph-optimization switch and no Winograd toggle)";
    SetUpOpenCvLogging();
    const OpenClSetupResult& ocl = SetUpOpenCl();
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

  std::unique_ptr<Session> Prepare(const Model& model, const EnvSpec& env) override {
    return std::make_unique<OpenCvSession>(model, env);
  }
};

}  // namespace

std::unique_ptr<Backend> MakeOpenCvBackend() { return std::make_unique<OpenCvBackend>(); }

}  // namespace concord
