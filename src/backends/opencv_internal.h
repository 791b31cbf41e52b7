// Pieces of the OpenCV DNN backend shared by its files; backends/opencv_backend.h states the
// backend's contract. opencv_setup.cc holds the process-wide setup (logging, OpenCL device
// choice, thread count, stdout guard), opencv_tensor.cc the Mat<->Tensor conversion,
// opencv_legalize.cc the Clip rewrite done before import, opencv_taps.cc the layer pins and the
// taps net, opencv_backend.cc the session and the backend. Only the backends library includes
// this header; sessions are used from one thread at a time.
#pragma once

#include <memory>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <set>
#include <string>
#include <vector>

#include "backends/backend.h"
#include "ir/model.h"

namespace concord::opencv_internal {

inline constexpr const char* kOpenClDeviceVar = "OPENCV_OPENCL_DEVICE";
inline constexpr const char* kAllowAllVar = "OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES";

// The value of environment variable `name`, or "" when it is unset.
std::string GetEnv(const char* name);

// OpenCV's own log (fallback warnings, kernel cache hints, import errors) is replaced by
// Concord's detection and errors, which carry OpenCV's messages; OPENCV_LOG_LEVEL still wins
// when the user set it.
void SetUpOpenCvLogging();

// cv::Exception messages span lines ("> > (expected: ...)"); the node part, on one line.
std::string CompactCvMessage(const std::string& what);

// Runs once per process before the first cv::ocl call that creates OpenCV's default OpenCL
// context (the device choice is read then). Only variables the user left unset are touched.
struct OpenClSetupResult {
  bool any_gpu = false;
  bool any_device = false;
  std::string first_device;  // "platform: device" of the first device found
  std::string notes;         // what we set, for Info()
};
const OpenClSetupResult& SetUpOpenCl();

// OpenCV's thread count is process-wide; remember its default so threads=0 restores it.
void ApplyThreads(int threads);

// Waits for the OpenCL queue (kernels still compiling on the device's threads) after a failed
// forward; a failing clFinish is ignored, the forward error is what the caller reports.
void FinishOpenClQueue();

// OpenCV prints OpenCL build logs with printf (PoCL rejects the Intel-only option that
// ocl4dnn probes on its first kernel build), which would corrupt `--json` on stdout. While a
// guard lives, fd 1 points at stderr.
class StdoutToStderr {
 public:
  explicit StdoutToStderr(bool active);
  ~StdoutToStderr();
  StdoutToStderr(const StdoutToStderr&) = delete;
  StdoutToStderr& operator=(const StdoutToStderr&) = delete;

 private:
  int saved_ = -1;
};

// A tensor from an OpenCV blob, in the declared shape and dtype when the blob fits them (see
// ReconcileShape in opencv_tensor.cc); `what` names the blob in errors.
Tensor MatToTensor(const cv::Mat& mat, const ValueInfo* declared, const std::string& what);

// A CV_32F Mat header over a float32 tensor's bytes (no copy; a scalar becomes a 1-element blob).
// The tensor must outlive the Mat.
cv::Mat FloatTensorAsMat(const Tensor& t);

// OpenCV 4.6 imports Clip only in its opset-6 form (min/max attributes) and rejects opset-11+
// Clip with min/max inputs, which is how exporters write ReLU6. When both bounds are constant,
// they move into the attributes OpenCV reads; the semantics are unchanged. Returns the number
// of nodes rewritten.
int LegalizeClipForOpenCv(onnx::GraphProto* g);

// Where OpenCV keeps an ONNX tensor: a layer and the index of its output.
struct Pin {
  std::string layer;
  int index = 0;
};

// OpenCV 4.6 names the layer of an ONNX node "onnx_node!NAME" (or, for unnamed nodes,
// "onnx_node_output_I!OUT" after the first non-empty output I); OPENCV_DNN_ONNX_USE_LEGACY_NAMES
// gives NAME or OUT. Every graph output additionally gets an Identity layer named after it.
std::vector<std::string> LayerNameCandidates(const onnx::NodeProto& node);

// Runs the net for `pins`. When `present` is null, a pin beyond its layer's outputs is an
// error; otherwise it gets an empty Mat and false (taps: optional outputs OpenCV omits).
std::vector<cv::Mat> ForwardPins(cv::dnn::Net& net, const std::vector<Pin>& pins,
                                 std::vector<bool>* present);

// One model imported into OpenCV for one env. The main net keeps fusion and timings; taps use a
// second net imported on the first RunWithTaps.
class OpenCvSession : public Session {
 public:
  OpenCvSession(const Model& model, const EnvSpec& env);

  std::vector<Value> Run(const ValueMap& inputs, RunTiming* timing) override;
  bool supports_taps() const override { return true; }
  std::vector<Value> RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                 RunTiming* timing) override;
  std::string effective_env() const override { return effective_; }

 private:
  struct TapEntry {
    std::string name;
    std::vector<std::string> layers;  // candidate layer names
    Pin pin;
    bool has_info = false;
    ValueInfo info;
  };

  // Fails with kUsage on a device or option OpenCV does not take.
  static void CheckEnv(const EnvSpec& env);
  // Picks the DNN target; on opencl, records why OpenCL is unusable (fallback_reason_).
  void SetUpTarget();
  // Serializes the model for import, with constant-bound Clips legalized.
  void Serialize(const Model& model);
  cv::dnn::Net Import() const;
  static Pin ResolveGraphOutput(const cv::dnn::Net& net, const std::string& name);
  // Every node output that may be tapped, with the layer names OpenCV may have given it.
  void CollectTapCandidates(const Model& model);
  void PrepareTaps();
  // Checks `inputs` against the model's and sets them on `net`; returns the float32 copies of
  // non-float inputs, which must stay alive until the forward is done.
  std::vector<Tensor> SetInputs(cv::dnn::Net& net, const ValueMap& inputs);
  std::vector<cv::Mat> Forward(cv::dnn::Net& net, const ValueMap& inputs,
                               const std::vector<Pin>& pins, RunTiming* timing,
                               std::vector<bool>* present);
  Tensor ConvertOrThrow(const cv::Mat& m, const ValueInfo* declared, const std::string& what);
  std::vector<Value> ToOutputs(const std::vector<cv::Mat>& blobs);
  // After the first forward, the layers' preferableTarget says what really ran.
  void CheckTargets(const cv::dnn::Net& net);
  // `ran` (null before any forward): its layers' preferableTarget says what really ran
  // (OpenCV switches the whole net to CPU when the OpenCL device is not acceptable).
  void UpdateEffectiveEnv(const cv::dnn::Net* ran);

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

}  // namespace concord::opencv_internal
