// The real converters (torch.onnx, tf2onnx, TFLiteConverter, onnx2torch, onnx2tf, OpenVINO...)
// behind `concord convert --to` and the matrix's `conversions`: adapters/convert_plan.py plans
// the chain of tools and runs each in the venv that holds it, writing OUT, its sidecar
// OUT.concord.json and an ONNX twin OUT.twin.onnx.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace concord {

struct ConvertRequest {
  std::string src;
  std::string to;  // onnx|torch|tf|keras|tflite|openvino, or a chain "onnx,tf,tflite"
  std::string out;
  std::vector<std::string> via;   // tools the chain must use
  std::string quantize = "none";  // none|dynamic|fp16|int8
  std::vector<std::string> examples;
  std::string calibration;  // a folder of .npy input sets (int8)
  bool json = false;
};

// Runs the converters: 0 written, 2 usage (no tool for a direction, a missing venv), 3 a
// converter failed. With `output` null their stdout and stderr pass through; otherwise both are
// captured into *output (the matrix records a failed direction's message).
int RunConvertTools(const ConvertRequest& request, std::string* output = nullptr);

// The ONNX file that stands for model `path` where a command works on ONNX graphs (localize,
// as FetaFix compares everything through ONNX twins): `path` itself for ONNX; for a framework
// model the twin `concord convert` wrote beside it (PATH.twin.onnx), else one exported now into
// `scratch_dir` (a torch.export program by torch.onnx dynamo without its optimizer, so that
// nodes keep their module scopes and BatchNorm stays a node; others by the direction's default
// tool: torch.onnx TorchScript, tf2onnx). *how says which.
// Error(kInput) naming the converter's message when the export fails.
std::string OnnxTwinFor(const std::string& path, const std::string& scratch_dir, std::string* how);

// `s` single-quoted for a POSIX shell.
std::string ShellQuote(const std::string& s);

// Runs `cmd` (a shell command line running one of the adapters' Python helpers) and parses the
// JSON object on the last line of its output; {key: "not checked", "detail": ...} when it cannot
// run or prints no JSON.
nlohmann::json RunPythonJson(const std::string& cmd, const std::string& key);

}  // namespace concord
