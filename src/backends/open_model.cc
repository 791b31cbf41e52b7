// OpenModel: ONNX files through Model::Load; framework files through their env's worker, which
// reports the signature.
#include "backends/backend.h"
#include "backends/protocol_session.h"
#include "backends/worker_backend.h"

namespace concord {

OpenedModel OpenModel(const std::string& path, const std::vector<EnvSpec>& envs) {
  ModelFormatInfo info = DetectModelFormat(path);
  ModelFormat format = info.format == ModelFormat::kUnknown ? ModelFormat::kOnnx : info.format;
  for (const EnvSpec& env : envs) CheckEnvRunsFormat(env, format, path);
  if (format == ModelFormat::kOnnx) return {Model::Load(path), nullptr};
  if (envs.empty()) Fail(ErrorKind::kUsage, "{}: a {} model needs an env", path, info.evidence);
  if (format == ModelFormat::kOpenVino && info.files.size() < 2) {
    Fail(ErrorKind::kInput, "{}: an OpenVINO IR needs its weights beside it (no .bin file found)",
         path);
  }
  // The stub has no signature yet: the worker reports it in its MODEL reply.
  Model stub = Model::Framework(path, format, {}, {});
  std::unique_ptr<Session> session = PrepareSession(stub, envs.front());
  auto* worker = dynamic_cast<WorkerSession*>(session.get());
  CONCORD_CHECK(worker != nullptr, "framework models run on worker sessions");
  const nlohmann::json& reply = worker->prepare_info();
  std::string peer = envs.front().ToString();
  Model model = Model::Framework(path, format, SignatureFromWire(reply, "inputs", peer),
                                 SignatureFromWire(reply, "outputs", peer));
  return {std::move(model), std::move(session)};
}

}  // namespace concord
