// TODO(opencv): OpenCV DNN backend.
#include "backends/opencv_backend.h"

namespace concord {

namespace {
class Unavailable : public Backend {
 public:
  BackendInfo Info() const override {
    BackendInfo i;
    i.name = "opencv";
    i.available = false;
    i.unavailable_reason = "not implemented yet";
    return i;
  }
  std::unique_ptr<Session> Prepare(const Model&, const EnvSpec&) override {
    Fail(ErrorKind::kUsage, "opencv backend not implemented yet");
  }
};
}  // namespace

std::unique_ptr<Backend> MakeOpenCvBackend() { return std::make_unique<Unavailable>(); }

}  // namespace concord
