// GraphBuilder: small ONNX models written in C++ for tests.
//
// One builder for every test that needs a hand-made graph: named inputs, outputs, initializers
// and nodes, attribute setters, and seeded random weights (std::mt19937 with a fixed seed, so a
// test builds the same model on every run of one build). Build() validates through
// Model::FromProto and throws Error(kInput) on a malformed graph. Not thread-safe.
#pragma once

#include <onnx/onnx_pb.h>

#include <random>
#include <string>
#include <vector>

#include "ir/dtype.h"
#include "ir/model.h"
#include "ir/tensor.h"

namespace concord::test {

class GraphBuilder {
 public:
  explicit GraphBuilder(int opset = 13) : GraphBuilder("test", opset) {}
  explicit GraphBuilder(const std::string& name, int opset = 13, unsigned seed = 7);

  void Input(const std::string& name, DType dt, const Shape& shape);
  void Input(const std::string& name, const Shape& shape) { Input(name, DType::kFloat32, shape); }
  void Output(const std::string& name, DType dt, const Shape& shape);
  void Output(const std::string& name, const Shape& shape) { Output(name, DType::kFloat32, shape); }
  void Init(const std::string& name, const Tensor& t);

  // A node with explicit name and outputs.
  onnx::NodeProto* Node(const std::string& op, const std::string& name,
                        const std::vector<std::string>& ins, const std::vector<std::string>& outs);
  // A node with one output, named `out` or a fresh name; the node is called "n_<output>".
  onnx::NodeProto* Node(const std::string& op, const std::vector<std::string>& ins,
                        const std::string& out = "");

  // Float32 initializer drawn from N(0, 1) * scale with the builder's seeded generator.
  std::string Weight(const Shape& shape, float scale);
  // Float32 scalar initializer.
  std::string Const(float v);
  // A name not used before in this builder: prefix followed by a counter.
  std::string FreshName(const std::string& prefix);

  static void Int(onnx::NodeProto* n, const std::string& name, int64_t v);
  static void Ints(onnx::NodeProto* n, const std::string& name, const std::vector<int64_t>& v);
  static void Float(onnx::NodeProto* n, const std::string& name, float v);
  static void Floats(onnx::NodeProto* n, const std::string& name, const std::vector<float>& v);
  static void String(onnx::NodeProto* n, const std::string& name, const std::string& v);

  Model Build() const;
  onnx::ModelProto& proto() { return m_; }
  onnx::GraphProto* graph() { return m_.mutable_graph(); }

 private:
  onnx::ModelProto m_;
  std::mt19937 rng_;
  int count_ = 0;
};

}  // namespace concord::test
