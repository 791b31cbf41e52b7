// Layer pins and taps for the OpenCV session: which OpenCV layer holds an ONNX tensor, running
// a net for a set of pins, and RunWithTaps over a second, lazily imported net.
#include <map>

#include "backends/opencv_internal.h"

namespace concord::opencv_internal {

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

std::vector<Value> OpenCvSession::RunWithTaps(const ValueMap& inputs, ValueMap* taps,
                                              RunTiming* timing) {
  if (taps == nullptr) return Run(inputs, timing);
  if (!taps_net_) PrepareTaps();
  std::vector<Pin> pins = out_pins_taps_;
  for (const auto& t : tap_list_) pins.push_back(t.pin);
  std::vector<bool> present;
  std::vector<cv::Mat> blobs = Forward(*taps_net_, inputs, pins, timing, &present);
  CheckTargets(*taps_net_);
  for (size_t i = 0; i < outputs_.size(); ++i) {
    if (!present[i])
      Fail(ErrorKind::kRuntime, "{}: no blob for graph output '{}'", effective_, outputs_[i].name);
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

void OpenCvSession::CollectTapCandidates(const Model& model) {
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

void OpenCvSession::PrepareTaps() {
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

}  // namespace concord::opencv_internal
