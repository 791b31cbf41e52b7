// The explicit list of reference kernels.
//
// Every op family lives in one file under ref/ops/ and exposes one Register*Ops function;
// registry.cc calls them all (no static-initialization self-registration: linkers drop it from
// static libraries). An op may have several kernels keyed by since-version; Find() picks the
// highest since-version <= the model's opset for the node's domain, as ONNX does.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "ref/kernel.h"

namespace concord::ref {

struct KernelDef {
  std::string domain;  // canonical: "ai.onnx", "ai.onnx.ml", "ai.onnx.preview.training", ...
  std::string op_type;
  int since_version = 1;
  KernelFn fn;
};

class Registry {
 public:
  // domain "" means ai.onnx.
  void Add(const std::string& domain, const std::string& op_type, int since_version, KernelFn fn);
  // Kernel for an opset, or nullptr when the op is unknown or every version is newer.
  const KernelDef* Find(const std::string& domain, const std::string& op_type, int64_t opset) const;
  // Since-versions registered for an op (ascending); empty when unknown.
  std::vector<int> Versions(const std::string& domain, const std::string& op_type) const;
  // All (domain, op_type) pairs, sorted.
  std::vector<std::pair<std::string, std::string>> Ops() const;

 private:
  std::map<std::pair<std::string, std::string>, std::vector<KernelDef>> kernels_;
};

// The registry with every built-in kernel (built once, immutable afterwards, thread-safe).
const Registry& DefaultRegistry();

// One per op family (ref/ops/*.cc).
void RegisterElementwiseOps(Registry& r);
void RegisterActivationOps(Registry& r);
void RegisterCastOps(Registry& r);
void RegisterConvOps(Registry& r);
void RegisterCol2ImOps(Registry& r);
void RegisterDeformConvOps(Registry& r);
void RegisterPoolOps(Registry& r);
void RegisterNormalizationOps(Registry& r);
void RegisterReductionOps(Registry& r);
void RegisterSoftmaxOps(Registry& r);
void RegisterReshapeOps(Registry& r);
void RegisterTransposeOps(Registry& r);
void RegisterConcatSplitOps(Registry& r);
void RegisterSlicePadOps(Registry& r);
void RegisterGeneratorOps(Registry& r);
void RegisterSelectOps(Registry& r);
void RegisterGatherScatterOps(Registry& r);
void RegisterResizeOps(Registry& r);
void RegisterGridSampleOps(Registry& r);
void RegisterMatMulOps(Registry& r);
void RegisterQuantizationOps(Registry& r);
void RegisterRnnOps(Registry& r);
void RegisterControlFlowOps(Registry& r);
void RegisterSequenceOps(Registry& r);
void RegisterSignalOps(Registry& r);
void RegisterTextOps(Registry& r);
void RegisterStringOps(Registry& r);
void RegisterImageOps(Registry& r);
void RegisterObjectDetectionOps(Registry& r);
void RegisterRandomOps(Registry& r);
void RegisterTrainingOps(Registry& r);
void RegisterMiscOps(Registry& r);
void RegisterMlOps(Registry& r);              // ai.onnx.ml (ml.cc)
void RegisterTreeEnsembleOps(Registry& r);    // ai.onnx.ml tree ensembles (ml_tree.cc)
void RegisterContribOps(Registry& r);         // com.microsoft (contrib.cc)
void RegisterContribQLinearOps(Registry& r);  // com.microsoft QLinear* (contrib_qlinear.cc)

}  // namespace concord::ref
