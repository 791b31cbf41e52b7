// OpenCV DNN as a native in-process backend: opencv@cpu and opencv@opencl.
//
// Prepare() serializes the (already validated) Model and imports it with
// cv::dnn::readNetFromONNX on DNN_BACKEND_OPENCV with DNN_TARGET_CPU or DNN_TARGET_OPENCL.
// Inputs are set by graph input name (converted to float32, the only element type OpenCV's
// DNN computes in); outputs are fetched by graph output name and returned in graph order with
// the dtype and shape the model declares (OpenCV has no rank-0/1 blobs and computes in float,
// so a float blob for an int64 output is cast back with ONNX Cast semantics).
//
// Env options: opt=0 -> fusion off; opt=1..3 -> fusion on (identical: OpenCV 4.6 has no other
// graph-optimization switch, e.g. no enableWinograd). threads=N -> cv::setNumThreads(N); note
// that OpenCV's thread count is process-wide, and threads=0 restores OpenCV's default.
//
// OpenCL: OpenCV's OpenCL target only takes GPUs. When no OpenCL GPU exists, the backend
// sets OPENCV_OPENCL_DEVICE=":CPU:" and OPENCV_DNN_OPENCL_ALLOW_ALL_DEVICES=1 (unless the
// user set them) before the first cv::ocl call, so opencl runs on e.g. PoCL's CPU device.
// OpenCV silently falls back to the CPU target when OpenCL is unusable; the session detects
// which target each layer really ran on and reports it in effective_env() ("opencv@opencl->cpu
// (fallback: ...)") and with a warning on stderr.
//
// Taps: RunWithTaps requests every layer's output from a second, lazily imported net (so the
// main net keeps its fusion and its timings). OpenCV names layers after ONNX nodes
// ("onnx_node!NAME"); tensors that map to no layer (Constant nodes, subgraphs OpenCV folded
// into constants, e.g. Shape->Gather chains) are absent from the taps, and a layer blob whose
// size contradicts the tensor's declared shape is dropped rather than returned as that tensor.
// OpenCV 4.6 never fuses away a layer whose output is requested, so the taps net is in effect
// unfused at every opt level: all mappable intermediates are returned, and the taps run's
// outputs may differ from Run() at opt>=1 by fusion rounding. opt=0 makes the two identical.
//
// Legalization: OpenCV 4.6 rejects opset-11+ Clip (min/max as inputs, how exporters write
// ReLU6); when both bounds are constants they are moved into the min/max attributes OpenCV
// reads before import. Nothing else in the model is changed.
//
// Failure contract: cv::Exception and std::exception never leave the backend: an import
// failure (unknown op, unsupported attribute) is Error(kUnsupported) with OpenCV's message
// naming the node; a layer with no implementation for the target at forward time (OpenCV's
// StsNotImplemented, e.g. ArgMax on OpenCL: 4.6 does not fall back per layer) is
// Error(kUnsupported); any other failure during setInput/forward is Error(kRuntime); sequence,
// string or complex inputs/outputs are Error(kUnsupported); an unknown device or option is
// Error(kUsage); a missing or unknown input name is Error(kInput).
// Sessions are used from one thread at a time.
#pragma once

#include <memory>

#include "backends/backend.h"

namespace concord {

std::unique_ptr<Backend> MakeOpenCvBackend();

}  // namespace concord
