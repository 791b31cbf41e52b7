#include "ref/registry.h"

#include <algorithm>

#include "ir/model.h"

namespace concord::ref {

void Registry::Add(const std::string& domain, const std::string& op_type, int since_version,
                   KernelFn fn) {
  std::string d = CanonicalDomain(domain);
  auto& list = kernels_[{d, op_type}];
  for (const auto& k : list) {
    CONCORD_CHECK(k.since_version != since_version, "duplicate kernel {}::{}-{}", d, op_type,
                  since_version);
  }
  list.push_back({d, op_type, since_version, std::move(fn)});
  std::sort(list.begin(), list.end(), [](const KernelDef& a, const KernelDef& b) {
    return a.since_version < b.since_version;
  });
}

const KernelDef* Registry::Find(const std::string& domain, const std::string& op_type,
                                int64_t opset) const {
  auto it = kernels_.find({CanonicalDomain(domain), op_type});
  if (it == kernels_.end()) return nullptr;
  const KernelDef* best = nullptr;
  for (const auto& k : it->second) {
    if (k.since_version <= opset) best = &k;
  }
  return best;
}

std::vector<int> Registry::Versions(const std::string& domain, const std::string& op_type) const {
  std::vector<int> v;
  auto it = kernels_.find({CanonicalDomain(domain), op_type});
  if (it != kernels_.end()) {
    for (const auto& k : it->second) v.push_back(k.since_version);
  }
  return v;
}

std::vector<std::pair<std::string, std::string>> Registry::Ops() const {
  std::vector<std::pair<std::string, std::string>> ops;
  for (const auto& [key, list] : kernels_) ops.push_back(key);
  return ops;
}

const Registry& DefaultRegistry() {
  static const Registry* registry = [] {
    auto* r = new Registry();
    RegisterElementwiseOps(*r);
    RegisterActivationOps(*r);
    RegisterCastOps(*r);
    RegisterConvOps(*r);
    RegisterCol2ImOps(*r);
    RegisterDeformConvOps(*r);
    RegisterPoolOps(*r);
    RegisterNormalizationOps(*r);
    RegisterReductionOps(*r);
    RegisterSoftmaxOps(*r);
    RegisterReshapeOps(*r);
    RegisterTransposeOps(*r);
    RegisterConcatSplitOps(*r);
    RegisterSlicePadOps(*r);
    RegisterGeneratorOps(*r);
    RegisterSelectOps(*r);
    RegisterGatherScatterOps(*r);
    RegisterResizeOps(*r);
    RegisterGridSampleOps(*r);
    RegisterMatMulOps(*r);
    RegisterQuantizationOps(*r);
    RegisterRnnOps(*r);
    RegisterControlFlowOps(*r);
    RegisterSequenceOps(*r);
    RegisterSignalOps(*r);
    RegisterTextOps(*r);
    RegisterStringOps(*r);
    RegisterImageOps(*r);
    RegisterObjectDetectionOps(*r);
    RegisterRandomOps(*r);
    RegisterTrainingOps(*r);
    RegisterMiscOps(*r);
    RegisterMlOps(*r);
    RegisterTreeEnsembleOps(*r);
    RegisterContribOps(*r);
    RegisterContribQLinearOps(*r);
    return r;
  }();
  return *registry;
}

}  // namespace concord::ref
